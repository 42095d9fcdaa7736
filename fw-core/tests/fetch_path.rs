//! Tests of fw_core::fetch_path, with fw-testkit's samples and fake kernel (an integration test:
//! fw-core's own unit tests cannot use fw-testkit, which depends on fw-core).

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use fw_core::apply::Backend;
use fw_core::fetch_path::*;
use fw_core::plan::SafeClosed;
use fw_core::render::render_safe_closed;
use fw_core::restore::{Rule, parse_iptables};
use fw_testkit::kernel::FakeKernel;
use fw_testkit::sample::sample_inputs;

fn addrs(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

/// A kernel holding the safe closed ruleset a failed run leaves.
fn closed() -> FakeKernel {
    let inputs = sample_inputs();
    let r = render_safe_closed(&SafeClosed::new(&inputs.subnets, &inputs.resolvers));
    let k = FakeKernel::new();
    k.preload("nft", false, &r.iptables).unwrap();
    k.preload("nft", true, &r.ip6tables).unwrap();
    k
}

fn restores(k: &FakeKernel) -> usize {
    k.calls()
        .iter()
        .filter(|c| c.program.ends_with("-restore"))
        .count()
}

#[test]
fn the_closed_state_gets_the_path_first_in_its_chains_and_gets_it_back_exactly() {
    let k = closed();
    let (v4_before, v6_before) = (k.save("nft", false), k.save("nft", true));
    let (path, warnings) = open(
        &k,
        Backend::Default,
        &addrs(&["192.0.2.70", "2001:db8:2::70"]),
        443,
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(path.is_open());
    let v4 = parse_iptables(&k.save("nft", false)).unwrap();
    let filter = v4.table("filter").unwrap();
    let first = |chain| filter.rules_of(chain).next().unwrap().args.join(" ");
    assert_eq!(
        first("OUTPUT"),
        "-d 192.0.2.70/32 -p tcp -m tcp --dport 443 -m comment --comment fw: meta fetch (temporary) -j ACCEPT"
    );
    assert_eq!(
        first("INPUT"),
        "-s 192.0.2.70/32 -p tcp -m tcp --sport 443 -m conntrack --ctstate ESTABLISHED -m comment --comment fw: meta fetch (temporary) -j ACCEPT"
    );
    // Nothing else changed: the closed state's rules and policies follow unchanged.
    let without: Vec<&Rule> = filter
        .rules
        .iter()
        .filter(|r| r.comment() != Some(FETCH_PATH_COMMENT))
        .collect();
    let before = parse_iptables(&v4_before).unwrap();
    assert_eq!(
        without,
        before
            .table("filter")
            .unwrap()
            .rules
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(filter.chains, before.table("filter").unwrap().chains);
    // Only the family's own address, in each family.
    let v6 = k.save("nft", true);
    assert!(v6.contains("-d 2001:db8:2::70/128 -p tcp"), "{v6}");
    assert!(!v6.contains("192.0.2.70") && !k.save("nft", false).contains("2001:db8"));

    assert!(path.close(&k, Backend::Default).is_empty());
    assert_eq!(k.save("nft", false), v4_before);
    assert_eq!(k.save("nft", true), v6_before);
    assert!(!k.save("nft", false).contains(FETCH_PATH_COMMENT));
}

#[test]
fn nothing_is_restored_where_nothing_could_block() {
    // A fresh container: no filter table at all.
    let k = FakeKernel::new();
    let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
    assert!(!path.is_open() && warnings.is_empty());
    assert_eq!(k.call_lines(), ["iptables-save -t filter"]);
    // Accepting chains and no rule: listed, left alone.
    k.preload(
        "nft",
        false,
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    )
    .unwrap();
    let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
    assert!(!path.is_open());
    assert_eq!(restores(&k), 0);
    assert!(path.close(&k, Backend::Default).is_empty());
    assert_eq!(restores(&k), 0);
    // No address of a family: that family is not even listed.
    let k = closed();
    let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
    assert!(path.is_open());
    assert!(!k.call_lines().iter().any(|l| l.starts_with("ip6tables")));
    // A legacy backend without a filter table: nothing run (listing would create it).
    let k = FakeKernel::new();
    let (path, _) = open(&k, Backend::Legacy, &addrs(&["192.0.2.70"]), 443);
    assert!(!path.is_open() && k.calls().is_empty());
}

#[test]
fn the_comment_is_ours() {
    assert!(FETCH_PATH_COMMENT.starts_with(fw_core::names::COMMENT_PREFIX));
}

#[test]
fn any_rule_or_a_dropping_policy_may_block() {
    let table = |text: &str| {
        parse_iptables(text)
            .unwrap()
            .table("filter")
            .unwrap()
            .clone()
    };
    assert!(!may_block(&table(
        "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    )));
    assert!(may_block(&table(
        "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"
    )));
    assert!(may_block(&table(
        "*filter\n:INPUT DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    )));
    assert!(may_block(&table(
        "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j REJECT\nCOMMIT\n"
    )));
    // FORWARD does not carry the fetch.
    assert!(!may_block(&table(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n"
    )));
}

#[test]
fn failures_are_warnings_and_change_nothing() {
    let k = closed();
    let before = k.save("nft", false);
    k.fail_once(
        "iptables-restore",
        &["-w"],
        2,
        "iptables-restore: line 3 failed",
    );
    let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
    assert!(!path.is_open());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("IPv4") && warnings[0].contains("line 3 failed"));
    assert_eq!(k.save("nft", false), before);

    // A path that cannot be closed says which rules stay.
    let k = closed();
    let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 8443);
    assert!(k.save("nft", false).contains("--dport 8443"));
    k.fail_once("iptables-restore", &["-w"], 4, "resource problem");
    let warnings = path.close(&k, Backend::Default);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(FETCH_PATH_COMMENT), "{warnings:?}");

    // A listing that cannot be read is a warning too.
    let k = closed();
    k.fail_once("iptables-save", &["-t"], 1, "permission denied");
    let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
    assert!(!path.is_open());
    assert!(warnings[0].contains("permission denied"), "{warnings:?}");
}
