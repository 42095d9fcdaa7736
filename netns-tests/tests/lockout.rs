//! A script that locks itself out on a re-run is stopped as soon as that is proven, and judged.
//!
//! `netns-tests/overrides/lockout-on-rerun.patch` breaks the bash reference the way public
//! scripts are broken: no policy reset or filter flush before the fetch, `curl` without time
//! limits, DROP instead of REJECT. Its first run works; on the re-run its own rules drop its
//! fetch of GitHub's meta, and `curl` would wait out the kernel's SYN retries (over two minutes)
//! before failing. The suite must stop it once the connection has stayed unanswered for its
//! stall limit, name the lockout in the case's reason and evidence, and fail the case.
//! Both tiers. Without root or namespaces (or Docker) a test prints why and passes, except under
//! CI=true.

#![allow(clippy::unwrap_used)]

use conformance::judge::catalog::{Case, catalog};
use conformance::report::Verdict;
use conformance::world::options::SuiteOptions;
use conformance::world::scenario::Tier;
use netns_tests::{docker_may_run, patched_script, privileged_may_run, repo_root};

/// Runs SEQ-04 ("a second init succeeds") against the broken script in `tier` and checks the
/// lockout was stopped and named.
fn judged_as_locked_out(tier: Tier) {
    let script =
        patched_script(&repo_root().join("netns-tests/overrides/lockout-on-rerun.patch")).unwrap();
    let argv = vec![
        "bash".to_owned(),
        script.script.to_string_lossy().into_owned(),
    ];
    let mut opts = SuiteOptions::new("lockout-on-rerun", argv);
    opts.tier = tier;
    let cases: Vec<Case> = catalog().into_iter().filter(|c| c.id == "SEQ-04").collect();
    let report = conformance::judge::runner::run(&cases, &opts, &|_| {});
    let r = &report.cases[0];
    assert_eq!(r.verdict, Verdict::Fail, "{}: {}", r.id, r.reason);
    assert!(r.reason.contains("locked out"), "{}", r.reason);
    let stopped = r
        .runs
        .iter()
        .filter_map(|run| run.iut.as_ref()?.stopped.clone())
        .collect::<Vec<_>>();
    assert!(
        stopped
            .iter()
            .any(|s| s.contains("SYN_SENT") && s.contains("192.0.2.70:443")),
        "no run stopped as locked out on its fetch of GitHub's meta: {stopped:?}; {}",
        r.reason
    );
}

#[test]
fn a_lockout_on_rerun_is_stopped_and_named() {
    if !privileged_may_run("lockout").unwrap_or_else(|e| panic!("{e}")) {
        return;
    }
    judged_as_locked_out(Tier::Netns);
}

#[test]
fn a_lockout_on_rerun_is_stopped_and_named_in_the_docker_tier() {
    if !docker_may_run("lockout (Docker tier)").unwrap_or_else(|e| panic!("{e}")) {
        return;
    }
    judged_as_locked_out(Tier::Docker);
}
