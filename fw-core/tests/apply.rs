//! Tests of fw_core::apply, with fw-testkit's samples and fake kernel (an integration test:
//! fw-core's own unit tests cannot use fw-testkit, which depends on fw-core).

#![allow(clippy::unwrap_used)]

use fw_core::apply::*;
use fw_core::exec::{Command, Tools};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::{Ruleset, render, render_safe_closed};
use fw_testkit::kernel::FakeKernel;
use fw_testkit::sample::{base_config, sample_inputs};

fn ruleset() -> Ruleset {
    render(&Plan::build(&base_config(), &sample_inputs()))
}

#[test]
fn applies_sets_then_rules_and_the_kernel_holds_the_rendering() {
    let k = FakeKernel::new();
    let r = ruleset();
    apply(&k, Backend::Default, &r).unwrap();
    assert_eq!(k.save("nft", false), r.iptables);
    assert_eq!(k.save("nft", true), r.ip6tables);
    let sets = k.sets();
    assert_eq!(
        sets.keys().collect::<Vec<_>>(),
        ["fw-allow-v4", "fw-allow-v6"]
    );
    assert!(sets["fw-allow-v4"].members.contains("192.0.2.128/26"));
    let lines = k.call_lines();
    let pos = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap();
    assert!(pos("ipset -exist restore") < pos("iptables-restore"));
    assert!(pos("iptables-restore") < pos("ip6tables-restore"));
}

#[test]
fn a_second_apply_gives_identical_state_and_leaves_no_temporary_set() {
    let k = FakeKernel::new();
    let r = ruleset();
    apply(&k, Backend::Default, &r).unwrap();
    let (v4, v6, sets) = (k.save("nft", false), k.save("nft", true), k.sets());
    apply(&k, Backend::Default, &r).unwrap();
    assert_eq!(
        (k.save("nft", false), k.save("nft", true), k.sets()),
        (v4, v6, sets)
    );
}

#[test]
fn a_leftover_temporary_set_is_replaced() {
    let k = FakeKernel::new();
    k.run(&Command::new("ipset", ["restore"]).stdin(
        "create fw-allow-v4-next hash:net family inet maxelem 1024\nadd fw-allow-v4-next 198.51.100.10\n",
    ))
    .unwrap();
    apply(&k, Backend::Default, &ruleset()).unwrap();
    assert!(!k.sets()["fw-allow-v4"].members.contains("198.51.100.10/32"));
    assert!(!k.sets().contains_key("fw-allow-v4-next"));
}

/// A failure scripted at the first line of `text` starting with `prefix`, in ipset's words.
fn fail_at_line(k: &FakeKernel, script: &SetScript, prefix: &str) {
    let n = script
        .text
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap()
        + 1;
    k.fail(
        "ipset",
        &["restore"],
        1,
        &format!("ipset v7.17: Error in line {n}: boom"),
    );
}

#[test]
fn the_set_steps_are_one_ipset_process_in_order() {
    let k = FakeKernel::new();
    let r = ruleset();
    apply_sets(&k, &r).unwrap();
    let calls = k.calls();
    assert_eq!(calls.len(), 1, "{:?}", k.call_lines());
    let text = calls[0].stdin.clone().unwrap();
    let first = |prefix: &str| text.lines().position(|l| l.starts_with(prefix)).unwrap();
    assert!(first("create fw-allow-v4 ") < first("destroy fw-allow-v4-next"));
    assert!(first("destroy fw-allow-v4-next") < first("create fw-allow-v4-next"));
    assert!(first("add fw-allow-v4-next") < first("swap fw-allow-v4-next fw-allow-v4"));
    assert!(first("swap fw-allow-v6-next fw-allow-v6") < text.lines().count() - 2);
    assert_eq!(
        text.lines().rev().take(2).collect::<Vec<_>>(),
        ["destroy fw-allow-v6-next", "destroy fw-allow-v4-next"]
    );
}

#[test]
fn each_failure_names_its_step_and_keeps_the_previous_tables() {
    let script = SetScript::new(&ruleset());
    type Arrange<'a> = Box<dyn Fn(&FakeKernel) + 'a>;
    let cases: Vec<(&str, Arrange, ApplyStep)> = vec![
        (
            "live set create",
            Box::new(|k| fail_at_line(k, &script, "create fw-allow-v4 ")),
            ApplyStep::CreateSets,
        ),
        (
            "leftover destroy",
            Box::new(|k| fail_at_line(k, &script, "destroy fw-allow-v6-next")),
            ApplyStep::LoadSets,
        ),
        (
            "load",
            Box::new(|k| fail_at_line(k, &script, "add fw-allow-v6-next")),
            ApplyStep::LoadSets,
        ),
        (
            "swap",
            Box::new(|k| fail_at_line(k, &script, "swap fw-allow-v6-next")),
            ApplyStep::SwapSets,
        ),
        (
            "ipset cannot start",
            Box::new(|k| k.fail("ipset", &["restore"], 2, "boom")),
            ApplyStep::CreateSets,
        ),
        (
            "iptables-restore",
            Box::new(|k| k.fail("iptables-restore", &[], 2, "boom")),
            ApplyStep::RestoreIpv4,
        ),
        (
            "ip6tables-restore",
            Box::new(|k| k.fail("ip6tables-restore", &[], 2, "boom")),
            ApplyStep::RestoreIpv6,
        ),
    ];
    for (name, arrange, step) in cases {
        let k = FakeKernel::new();
        arrange(&k);
        let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
        assert_eq!(err.step, step, "{name}");
        assert!(err.to_string().contains("boom"), "{name}: {err}");
        if step != ApplyStep::RestoreIpv6 {
            assert_eq!(
                k.save("nft", false),
                "",
                "{name}: the IPv4 tables changed after {step}"
            );
        }
    }
}

#[test]
fn a_real_failure_is_placed_by_its_line() {
    // A live set of another type is there: its create line fails, in the fake as in ipset.
    let k = FakeKernel::new();
    k.run(&Command::new("ipset", ["restore"]).stdin("create fw-allow-v4 hash:ip family inet\n"))
        .unwrap();
    let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
    assert_eq!(err.step, ApplyStep::CreateSets, "{err}");
    assert!(err.to_string().contains("Error in line 1"), "{err}");
}

#[test]
fn an_ipset_that_does_not_forgive_a_missing_leftover_gets_the_line_skipped() {
    let k = FakeKernel::new();
    let script = SetScript::new(&ruleset());
    for prefix in ["destroy fw-allow-v4-next", "destroy fw-allow-v6-next"] {
        let n = script.text.lines().position(|l| l == prefix).unwrap() + 1;
        k.fail_once(
            "ipset",
            &["restore"],
            1,
            &format!("ipset v6.38: Error in line {n}: The set with the given name does not exist"),
        );
    }
    apply_sets(&k, &ruleset()).unwrap();
    let calls = k.calls();
    assert_eq!(calls.len(), 3, "{:?}", k.call_lines());
    let last = calls[2].stdin.clone().unwrap();
    assert!(last.contains("# no leftover: destroy fw-allow-v4-next\n"));
    assert!(last.contains("# no leftover: destroy fw-allow-v6-next\n"));
    assert!(k.sets()["fw-allow-v4"].members.contains("192.0.2.128/26"));
    // The same message at any other line is a failure, not a retry.
    let k = FakeKernel::new();
    k.fail(
        "ipset",
        &["restore"],
        1,
        "ipset v6.38: Error in line 1: The set with the given name does not exist",
    );
    assert_eq!(
        apply_sets(&k, &ruleset()).unwrap_err().step,
        ApplyStep::CreateSets
    );
    assert_eq!(k.calls().len(), 1);
}

#[test]
fn error_lines_are_read_from_ipset_messages() {
    assert_eq!(
        ipset_error_line("ipset v7.17: Error in line 12: Syntax error"),
        Some(12)
    );
    assert_eq!(ipset_error_line("ipset v7.17: Error in line : x"), None);
    assert_eq!(ipset_error_line("Kernel error received"), None);
}

#[test]
fn a_missing_ipset_is_named() {
    let k = FakeKernel::new();
    k.remove_tool("ipset");
    let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
    assert_eq!(err.step, ApplyStep::CreateSets);
    assert!(err.source.is_not_found());
}

#[test]
fn safe_closed_needs_no_ipset_and_leaves_nat_alone() {
    let k = FakeKernel::new();
    k.preload("nft", false, "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\nCOMMIT\n").unwrap();
    k.remove_tool("ipset");
    let inputs = sample_inputs();
    let r = render_safe_closed(&SafeClosed::new(&inputs.subnets, &inputs.resolvers));
    apply_safe_closed(&k, Backend::Default, &r).unwrap();
    let saved = k.save("nft", false);
    assert!(saved.contains("-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT"));
    assert!(saved.contains(":OUTPUT DROP"));
}

#[test]
fn backends_name_their_programs() {
    assert_eq!(
        Backend::Default.program(false, "restore"),
        "iptables-restore"
    );
    assert_eq!(
        Backend::Legacy.program(true, "save"),
        "ip6tables-legacy-save"
    );
    assert_eq!(Backend::Nft.program(false, "save"), "iptables-nft-save");
}
