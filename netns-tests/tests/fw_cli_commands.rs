//! fw-cli's other subcommands in a real sandbox (needs root): `status` before and after `init`,
//! `verify`, `refresh` (GitHub's ranges changed under it: the new block connects and the old one
//! is rejected after it, the rules untouched, no object left over), `plan --rules` (what init applies), and
//! `init` with `firewall.enabled: false`. Without root or namespaces each test prints why and
//! passes, except under CI=true.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use conformance::world::iut::StagedArgv;
use conformance::world::mocks::https::{META_SEED, MetaBehaviour};
use conformance::world::options::SuiteOptions;
use conformance::world::sandbox::Sandbox;
use conformance::world::scenario::{NPM_HOST_DEFAULT, Scenario};
use conformance::world::topology::{ConnectKind, connect_from};
use fw_testkit::plan::{GIT_HOST, sa};
use netns_tests::{privileged_may_run, workspace_bin};

/// The sandbox and the fw-cli binary, staged where the IUT can see it (a checkout under /tmp
/// is hidden by the IUT's private /tmp); the stage lives as long as the test.
fn sandbox(name: &'static str) -> Option<(Sandbox, String, StagedArgv)> {
    if !privileged_may_run(name).unwrap_or_else(|e| panic!("{e}")) {
        return None;
    }
    let bin = workspace_bin("fw-cli")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let staged = StagedArgv::new(&[bin]).unwrap();
    let bin = staged.argv[0].clone();
    let opts = SuiteOptions {
        implementation: "fw-cli".into(),
        argv: vec![bin.clone()],
        npm_host: NPM_HOST_DEFAULT.into(),
        timeout: std::time::Duration::from_secs(60),
        jobs: 1,
        isolate: false,
        tier: conformance::world::scenario::Tier::Netns,
        image: conformance::world::docker::DEFAULT_IMAGE.into(),
        seed: conformance::world::seed::fresh_seed(),
    };
    Some((
        Sandbox::build(&Scenario::base(name), &opts).unwrap(),
        bin,
        staged,
    ))
}

/// How a TCP connect from the container to `to` ends.
fn connect(sb: &Sandbox, to: SocketAddr) -> ConnectKind {
    connect_from(&sb.topo.container, to, Duration::from_secs(2))
        .unwrap()
        .kind
}

/// The sandbox's meta with the `git` key's IPv4 block replaced by 198.18.200.0/24 (a block
/// under `actions` only until now).
fn moved_git_block() -> Vec<u8> {
    let mut meta = fw_testkit::fixtures::realistic_meta(META_SEED);
    let git = meta["git"].as_array_mut().unwrap();
    let before = git.len();
    git.retain(|v| !v.as_str().unwrap().starts_with("192.0.2."));
    assert!(
        git.len() < before,
        "the fixture's git key has no 192.0.2.x entry"
    );
    git.push(serde_json::Value::from("198.18.200.0/24"));
    fw_testkit::fixtures::body(&meta)
}

fn run(sb: &Sandbox, bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut argv = vec![bin.to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let r = sb.run_command(&argv).unwrap();
    (r.status, r.stdout, r.stderr)
}

#[test]
fn status_verify_and_refresh_around_init() {
    let Some((sb, bin, _staged)) = sandbox("cmds") else {
        return;
    };
    let (code, out, _) = run(&sb, &bin, &["status", "--json"]);
    assert_eq!(code, Some(1), "status before init: {out}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["in_effect"], false);

    let (code, out, err) = run(&sb, &bin, &["init"]);
    assert_eq!(code, Some(0), "init: {out}\n{err}");
    let (code, out, err) = run(&sb, &bin, &["status", "--json"]);
    assert_eq!(code, Some(0), "status after init: {out}\n{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["in_effect"], true, "{st}");
    assert_eq!(st["marker_valid"], true, "{st}");

    let (code, out, err) = run(&sb, &bin, &["verify"]);
    assert_eq!(code, Some(0), "verify: {out}\n{err}");
    assert!(out.contains("pass"), "{out}");
    let objects_after_init = sb.snapshot().unwrap().objects();

    // GitHub's ranges change before the refresh: the git block goes, a block that was under
    // `actions` only comes under `git`. Positive control first: as init left it, the old block
    // connects and the new one is rejected, so a refresh that did nothing cannot pass below.
    let (old, new) = (
        sa(GIT_HOST, 443),
        sa(std::net::Ipv4Addr::new(198, 18, 200, 10), 443),
    );
    assert_eq!(connect(&sb, old), ConnectKind::Connected, "{old} before");
    assert_ne!(connect(&sb, new), ConnectKind::Connected, "{new} before");
    sb.serve_meta(MetaBehaviour::Custom(moved_git_block()))
        .unwrap();

    let rules_before = sb.iptables_save("iptables-save").unwrap();
    let (code, out, err) = run(&sb, &bin, &["refresh", "--json"]);
    assert_eq!(code, Some(0), "refresh: {out}\n{err}");
    // The sets follow the new meta: the new block connects, the old one is rejected.
    assert_eq!(connect(&sb, new), ConnectKind::Connected, "{new} after");
    assert_ne!(connect(&sb, old), ConnectKind::Connected, "{old} after");
    let after = sb.iptables_save("iptables-save").unwrap();
    // Comments and the chains' packet counters aside.
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match l.rfind(" [") {
                Some(i) if l.starts_with(':') => &l[..i],
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&rules_before),
        strip(&after),
        "refresh changed the rules"
    );
    // Nothing left over by the swap, whatever it is called: the same objects as after init.
    let objects_after_refresh = sb.snapshot().unwrap().objects();
    assert_eq!(
        objects_after_refresh, objects_after_init,
        "the refresh left or removed objects"
    );
    // Still in effect after the refresh.
    let (code, _, _) = run(&sb, &bin, &["status"]);
    assert_eq!(code, Some(0));
}

#[test]
fn verify_fails_without_a_firewall() {
    let Some((sb, bin, _staged)) = sandbox("cmds-open") else {
        return;
    };
    // Nothing applied: example.com connects, so the block cannot be proven.
    let (code, out, err) = run(&sb, &bin, &["verify"]);
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(
        err.contains("reachable") || err.contains("does not hold"),
        "{err}"
    );
}

#[test]
fn plan_rules_are_what_init_applies() {
    let Some((sb, bin, _staged)) = sandbox("cmds-plan") else {
        return;
    };
    let (code, out, err) = run(&sb, &bin, &["plan", "--rules"]);
    assert_eq!(code, Some(0), "plan: {out}\n{err}");
    let (code, _, err) = run(&sb, &bin, &["init"]);
    assert_eq!(code, Some(0), "init: {err}");
    let planned = out.split("### ip6tables-restore").next().unwrap();
    let filter = planned
        .split("*filter")
        .nth(1)
        .unwrap()
        .split("COMMIT")
        .next()
        .unwrap();
    let saved = sb.iptables_save("iptables-save").unwrap();
    for line in filter.lines().filter(|l| l.starts_with("-A ")) {
        assert!(saved.contains(line), "planned but not applied: {line}");
    }
}

#[test]
fn a_disabled_firewall_applies_nothing() {
    let Some((sb, bin, _staged)) = sandbox("cmds-off") else {
        return;
    };
    let cfg = sb.container_tmp().join("cspace.json");
    std::fs::write(&cfg, r#"{"firewall": {"enabled": false}}"#).unwrap();
    let (code, out, err) = run(&sb, &bin, &["init", "--config", "/tmp/cspace.json"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("disabled"), "{err}");
    let saved = sb.iptables_save("iptables-save").unwrap();
    assert!(!saved.contains("fw: "), "rules were applied: {saved}");
    assert!(!sb.marker_present());
}
