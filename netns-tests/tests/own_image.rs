//! `--tier docker --image IMAGE`: a script judged in its own image (issue 15, point 5).
//!
//! The image is built on top of the suite's test image with extra Debian packages
//! (`scripts/build-test-image.sh --extra-packages aggregate,dnsmasq`, reused when present), the
//! way a devcontainer's Dockerfile adds what its firewall script needs. The script is the bash
//! reference passing its GitHub ranges through `aggregate -q`, as the public claude-code family
//! does (`overrides/aggregate-github-ranges.patch`):
//!
//! - in its own image (Docker tier) every MUST case passes, and the report names the image;
//! - in the netns tier, on a machine without `aggregate`, the cases that need the GitHub ranges
//!   fail, with the implementation's stderr naming the missing command;
//! - the harness needs nothing of the image for its time limit: with the image's `timeout`
//!   deleted, a run past the limit is still stopped, with everything under it.
//!
//! And, in both tiers: the marker the harness plants before a re-run scenario does not follow a
//! symlink in its place to a file of the machine.
//!
//! Needs root, network namespaces, a Docker engine, the test image and debootstrap's mirror (for
//! the extra packages, once); without them the tests print why and pass, except under CI=true.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use conformance::judge::catalog::{Case, select};
use conformance::report::{Level, Report, Verdict};
use conformance::world::options::SuiteOptions;
use conformance::world::sandbox::Sandbox;
use conformance::world::scenario::{Scenario, Tier};
use netns_tests::{
    PatchedScript, docker_may_run, docker_skip_allowed, explain, patched_script,
    privileged_may_run, repo_root,
};

/// The image's name; its tag is the recipe's hash, printed by the build script.
const REPO: &str = "fw-conformance-own-test";
const EXTRA_PACKAGES: &str = "aggregate,dnsmasq";

/// The cases that need the GitHub meta ranges in the allowlist (or init's success, which the
/// script's verification of api.github.com decides): without `aggregate` they cannot pass.
const NEED_GITHUB_RANGES: &[&str] = &["POL-05", "ALW-02", "ALW-06", "MRK-01", "SEQ-04"];

/// One Docker or netns run of this file at a time: they would share the machine's 2 cores and
/// the Docker tier's fixed subnets.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Why the tests cannot run here; a failure under CI=true.
fn skip(may_run: Result<bool, String>) -> bool {
    !may_run.unwrap_or_else(|e| panic!("{e}"))
}

/// Builds (or reuses) the image with the extra packages; its `repository:tag`.
fn own_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let started = Instant::now();
        let out = Command::new(repo_root().join("scripts/build-test-image.sh"))
            .args(["--extra-packages", EXTRA_PACKAGES, "--repo", REPO])
            .output()
            .expect("cannot run scripts/build-test-image.sh");
        assert!(
            out.status.success(),
            "scripts/build-test-image.sh --extra-packages {EXTRA_PACKAGES} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tag = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            tag.starts_with(&format!("{REPO}:")),
            "the build script printed {tag:?}, not a tag of {REPO}"
        );
        eprintln!(
            "image {tag} ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        tag
    })
}

/// The bash reference through `aggregate -q`.
fn script() -> PatchedScript {
    patched_script(&repo_root().join("netns-tests/overrides/aggregate-github-ranges.patch"))
        .unwrap()
}

fn must_cases() -> Vec<Case> {
    select(&[], &[Level::Must])
}

fn run(script: &PatchedScript, tier: Tier, image: &str) -> Report {
    let mut opts = SuiteOptions::new(
        "bash init-firewall.sh | aggregate -q",
        vec![
            "bash".to_owned(),
            script.script.to_string_lossy().into_owned(),
        ],
    );
    opts.tier = tier;
    opts.image = image.to_owned();
    // One sandbox per scenario, shared by its cases: the MUST cases in about a minute.
    opts.isolate = false;
    opts.jobs = 1;
    conformance::judge::runner::run(&must_cases(), &opts, &|r| {
        eprintln!("  {} {:?} ({} ms)", r.id, r.verdict, r.elapsed_ms);
    })
}

#[test]
fn a_script_that_needs_aggregate_passes_in_its_own_image() {
    if skip(docker_may_run("own_image")) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let image = own_image();
    let script = script();
    let started = Instant::now();
    let report = run(&script, Tier::Docker, image);
    eprintln!(
        "Docker tier, image {image}: {} cases in {:.1} s",
        report.cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.isolation.contains(image),
        "the report does not name the image {image}: {}",
        report.isolation
    );
    assert_eq!(report.cases.len(), must_cases().len());
    let bad: Vec<String> = report
        .cases
        .iter()
        .filter(|r| match r.verdict {
            Verdict::Pass => false,
            Verdict::Skip => !docker_skip_allowed(&r.id),
            Verdict::Fail | Verdict::Error => true,
        })
        .map(explain)
        .collect();
    assert!(
        bad.is_empty(),
        "in its own image {image}:\n{}",
        bad.join("\n\n")
    );
}

#[test]
fn in_the_netns_tier_the_missing_aggregate_is_named() {
    if skip(privileged_may_run("own_image")) {
        return;
    }
    // The point is a machine without the tool: if this one has it, the netns tier would pass.
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("aggregate").is_file()))
        .unwrap_or(false);
    assert!(
        !on_path,
        "this machine has `aggregate` on its PATH: the netns tier cannot show it missing"
    );
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let script = script();
    let started = Instant::now();
    let report = run(
        &script,
        Tier::Netns,
        conformance::world::docker::DEFAULT_IMAGE,
    );
    eprintln!(
        "netns tier: {} cases in {:.1} s",
        report.cases.len(),
        started.elapsed().as_secs_f64()
    );
    // The report names the missing command once, and marks every failure "environment
    // incomplete"; every case that fails, fails for the missing tool.
    assert_eq!(report.missing_commands, ["aggregate"]);
    for r in report.cases.iter().filter(|r| r.verdict == Verdict::Fail) {
        assert!(r.incomplete(), "{} is not marked incomplete", r.id);
    }
    for r in report.cases.iter().filter(|r| r.verdict == Verdict::Fail) {
        let stderr = r.iut.as_ref().map(|i| i.stderr.as_str()).unwrap_or("");
        assert!(
            stderr.contains("aggregate: command not found"),
            "{}: fails, but the implementation's stderr does not name aggregate:\n{}",
            r.id,
            explain(r)
        );
    }
    for id in NEED_GITHUB_RANGES {
        let r = report
            .cases
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("{id} is not in the report"));
        assert_eq!(
            r.verdict,
            Verdict::Fail,
            "{id} should fail without aggregate:\n{}",
            explain(r)
        );
        let stderr = r.iut.as_ref().map(|i| i.stderr.as_str()).unwrap_or("");
        assert!(
            stderr.contains("aggregate: command not found"),
            "{id}: the implementation's stderr does not name the missing aggregate:\n{}",
            explain(r)
        );
    }
}

#[test]
fn the_time_limit_needs_nothing_of_the_image() {
    if skip(docker_may_run("own_image")) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let image = own_image();
    let mut opts = SuiteOptions::new("time limit", vec!["true".to_owned()]);
    opts.tier = Tier::Docker;
    opts.image = image.to_owned();
    let sb = Sandbox::build(&Scenario::base("own-image-time-limit"), &opts).unwrap();
    let argv = |words: &[&str]| -> Vec<String> { words.iter().map(|w| (*w).to_owned()).collect() };
    // No coreutils `timeout` in the container from here on. (Through bash: a word naming a
    // file of the machine would be copied into the container and the copy removed.)
    let rm = sb
        .run_command(&argv(&["bash", "-c", "rm -f /usr/bin/timeout"]))
        .unwrap();
    assert_eq!(rm.status, Some(0), "rm failed: {}", rm.stderr);
    let gone = sb
        .run_command(&argv(&["bash", "-c", "command -v timeout"]))
        .unwrap();
    assert_eq!(
        gone.status,
        Some(1),
        "timeout is still there: {}",
        gone.stdout
    );

    let limit = Duration::from_secs(3);
    let run = sb
        .run_command_watched(&argv(&["bash", "-c", "sleep 300 & sleep 301"]), limit)
        .unwrap();
    assert!(run.timed_out, "not stopped at the limit: {run:?}");
    assert_eq!(run.status, None);
    assert_eq!(run.signal, Some(9));
    assert!(
        run.elapsed >= limit && run.elapsed < limit + Duration::from_secs(10),
        "stopped after {:?} for a {limit:?} limit",
        run.elapsed
    );
    // Neither the run's process nor the one it put in the background is left.
    let left = sb
        .run_command(&argv(&["pgrep", "-f", "^sleep 30[01]$"]))
        .unwrap();
    assert_eq!(
        left.status,
        Some(1),
        "processes of the run survive the time limit: {}",
        left.stdout
    );
    // A run within its limit is not affected: its own exit status.
    let quick = sb
        .run_command_watched(&argv(&["bash", "-c", "exit 7"]), limit)
        .unwrap();
    assert_eq!((quick.status, quick.timed_out), (Some(7), false));
}

/// The marker the harness plants before a re-run scenario (FAIL-08's planted prior state) lands
/// in the container, even when a symlink to a file of the machine is in the marker's place (an
/// image can ship one; an earlier run can leave one): both tiers. (Before, both followed it and
/// overwrote the machine's file.)
#[test]
fn a_planted_marker_symlink_does_not_lead_the_harness_out() {
    if skip(docker_may_run("own_image")) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let target = netns_tests::target_dir().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("marker-symlink-")
        .tempdir_in(&target)
        .unwrap();
    let sentinel = dir.path().join("sentinel");
    for tier in [Tier::Netns, Tier::Docker] {
        std::fs::write(&sentinel, "the machine's own\n").unwrap();
        let mut opts = SuiteOptions::new("marker symlink", vec!["true".to_owned()]);
        opts.tier = tier;
        let sb = Sandbox::build(&Scenario::base("marker-symlink"), &opts).unwrap();
        std::os::unix::fs::symlink(&sentinel, sb.marker_path()).unwrap();
        sb.write_marker(conformance::world::planted::PLANTED_MARKER)
            .unwrap_or_else(|e| panic!("{tier:?}: {e:#}"));
        assert_eq!(
            std::fs::read_to_string(&sentinel).unwrap(),
            "the machine's own\n",
            "{tier:?}: the harness wrote through the planted symlink"
        );
        // The marker is now a file in the container, in the symlink's place.
        assert!(
            std::fs::symlink_metadata(sb.marker_path())
                .unwrap()
                .file_type()
                .is_file(),
            "{tier:?}"
        );
    }
}
