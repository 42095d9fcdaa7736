//! `examples/devcontainer/`: the Dockerfile builds (FROM the suite's local test image), its
//! sudoers line lets the developer run `fw-cli init` and nothing else, and `sudo fw-cli init`
//! run the way the devcontainer's `postStartCommand` runs it (as the developer, from the
//! workspace, with the project's `.cspace.json`) passes the Docker tier's cases.
//!
//! Needs root, network namespaces, a Docker engine and the test image; without them the test
//! prints why and passes, except under CI=true.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use conformance::judge::catalog::catalog;
use conformance::report::Verdict;
use conformance::world::options::SuiteOptions;
use conformance::world::sandbox::Sandbox;
use conformance::world::scenario::{Scenario, Tier};
use netns_tests::{docker_may_run, explain, repo_root, workspace_bin};

const IMAGE: &str = "fw-devcontainer-example:test";

/// How the devcontainer starts the firewall: as the developer, through sudo, from the
/// workspace folder (where `.cspace.json` lives).
const AS_DEVELOPER: &[&str] = &[
    "env",
    "-C",
    "/workspace",
    "runuser",
    "-u",
    "vscode",
    "--",
    "sudo",
    "-n",
    "fw-cli",
    "init",
];

fn build_image() -> Result<(), String> {
    let ctx = tempfile::tempdir().map_err(|e| format!("a build context: {e}"))?;
    let example = repo_root().join("examples/devcontainer");
    for f in ["Dockerfile", "sudoers-fw-cli", "cspace.json"] {
        std::fs::copy(example.join(f), ctx.path().join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    let bin = workspace_bin("fw-cli").map_err(|e| format!("{e:#}"))?;
    std::fs::copy(&bin, ctx.path().join("fw-cli")).map_err(|e| format!("fw-cli: {e}"))?;
    let out = Command::new("docker")
        .args(["build", "--quiet", "--build-arg"])
        .arg(format!(
            "BASE={}",
            conformance::world::docker::DEFAULT_IMAGE
        ))
        .args(["-t", IMAGE])
        .arg(ctx.path())
        .output()
        .map_err(|e| format!("cannot run docker build: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker build of examples/devcontainer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn options(argv: &[&str]) -> SuiteOptions {
    let mut opts = SuiteOptions::new(
        "examples/devcontainer: sudo fw-cli init",
        argv.iter().map(|s| (*s).to_owned()).collect(),
    );
    opts.tier = Tier::Docker;
    opts.image = IMAGE.to_owned();
    opts.isolate = false;
    opts.jobs = 1;
    opts
}

#[test]
fn the_devcontainer_example_builds_and_its_firewall_conforms() {
    if !docker_may_run("devcontainer").unwrap_or_else(|e| panic!("{e}")) {
        return;
    }
    build_image().unwrap();
    assert!(Path::new(&repo_root().join("examples/devcontainer/devcontainer.json")).is_file());

    // The sudoers line: `fw-cli init` and nothing else.
    let sb = Sandbox::build(&Scenario::base("devcontainer-sudo"), &options(AS_DEVELOPER)).unwrap();
    for denied in [
        &[
            "runuser", "-u", "vscode", "--", "sudo", "-n", "iptables", "-S",
        ][..],
        &[
            "runuser", "-u", "vscode", "--", "sudo", "-n", "fw-cli", "status",
        ][..],
        &[
            "runuser", "-u", "vscode", "--", "sudo", "-n", "bash", "-c", "id",
        ][..],
    ] {
        let argv: Vec<String> = denied.iter().map(|s| (*s).to_owned()).collect();
        let run = sb.run_command(&argv).unwrap();
        // Refused by sudo itself (not a command that ran and failed, not a missing runuser).
        assert!(
            run.status != Some(0) && run.stderr.contains("a password is required"),
            "{denied:?} was not refused by sudo: status {:?}, stdout {}, stderr {}",
            run.status,
            run.stdout,
            run.stderr
        );
    }
    let whoami = sb
        .run_command(&[
            "runuser".into(),
            "-u".into(),
            "vscode".into(),
            "--".into(),
            "id".into(),
            "-u".into(),
        ])
        .unwrap();
    assert_eq!(whoami.status, Some(0), "runuser failed: {}", whoami.stderr);
    let uid: u32 = whoami.stdout.trim().parse().unwrap();
    assert_ne!(uid, 0, "the developer must not be root");
    drop(sb);

    // The firewall as the devcontainer starts it, judged by the Docker tier.
    let ids = [
        "POL-01", "POL-04", "ALW-04", "ALW-08", "ALW-10", "SEQ-01", "SEQ-04", "FAIL-01", "MRK-01",
        "MRK-02", "CAP-01",
    ];
    let cases: Vec<_> = catalog()
        .into_iter()
        .filter(|c| ids.contains(&c.id))
        .collect();
    assert_eq!(cases.len(), ids.len());
    let report = conformance::judge::runner::run(&cases, &options(AS_DEVELOPER), &|r| {
        eprintln!("  {} {:?} ({} ms)", r.id, r.verdict, r.elapsed_ms);
    });
    let bad: Vec<String> = report
        .cases
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(explain)
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}
