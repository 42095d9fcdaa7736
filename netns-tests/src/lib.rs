//! The conformance suite run against implementations by `cargo test`: shared helpers of the
//! test binaries in `tests/` (finding the binaries to test, the privileged-test rule, running
//! the whole catalog once and handing each case's result to its own test).

pub mod kills;

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use conformance::judge::catalog::{Case, catalog};
use conformance::report::{CaseResult, Report, Verdict};
use conformance::world::options::SuiteOptions;
use conformance::world::scenario::Tier;

/// The workspace's target directory of this build (`target/debug`), found from the test
/// binary's own path (`target/debug/deps/<test>`).
pub fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the test binary")?;
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .context("the test binary is not under target/<profile>/deps")
}

/// A binary of this workspace, built by `cargo test --workspace`.
pub fn workspace_bin(name: &str) -> Result<PathBuf> {
    let p = target_dir()?.join(name);
    if !p.is_file() {
        bail!(
            "{} is not built: run `cargo build -p {name}` (or `cargo test --workspace`)",
            p.display()
        );
    }
    Ok(p)
}

/// The repository root (this crate's parent directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Why the privileged suite cannot run here, if it cannot. Under `CI=true` this is a failure,
/// elsewhere a skip with the reason printed.
pub fn unavailable() -> Option<String> {
    conformance::world::netns::available()
        .err()
        .map(|e| format!("{e:#}"))
}

/// Why the Docker tier cannot run here (no namespaces, no engine, no test image), if it cannot.
pub fn docker_unavailable() -> Option<String> {
    if let Some(why) = unavailable() {
        return Some(why);
    }
    conformance::world::docker::available(conformance::world::docker::DEFAULT_IMAGE)
        .err()
        .map(|e| format!("{e:#}"))
}

/// The IDs on the bash reference's expected-failures list
/// (`netns-tests/expected/init-firewall.sh.txt`); an unreadable list is an error that names
/// the line.
pub fn expected_bash_failures() -> Result<Vec<String>, String> {
    Ok(kills::expected_failures()?
        .into_iter()
        .map(|e| e.kill.case)
        .collect())
}

pub use fw_testkit::ci::{in_ci, may_run};

/// [`may_run`] for a test that needs root and network namespaces.
pub fn privileged_may_run(name: &str) -> Result<bool, String> {
    may_run(unavailable(), "the privileged suite", name)
}

/// [`may_run`] for a test that needs the Docker tier (and so root and namespaces too).
pub fn docker_may_run(name: &str) -> Result<bool, String> {
    may_run(docker_unavailable(), "the Docker tier", name)
}

/// Runs the whole catalog once against `argv` (shared by every trial of a test binary), with a
/// sandbox per case (`isolate`, the CLI's default) or one per scenario shared by its cases.
pub fn run_once(
    cell: &'static OnceLock<Result<Report, String>>,
    name: &str,
    argv: Vec<String>,
    isolate: bool,
) -> &'static Result<Report, String> {
    run_once_in(cell, name, argv, isolate, Tier::Netns)
}

/// [`run_once`] in a chosen tier.
pub fn run_once_in(
    cell: &'static OnceLock<Result<Report, String>>,
    name: &str,
    argv: Vec<String>,
    isolate: bool,
    tier: Tier,
) -> &'static Result<Report, String> {
    cell.get_or_init(|| {
        let mut opts = SuiteOptions::new(name, argv);
        opts.isolate = isolate;
        opts.tier = tier;
        let cases: Vec<Case> = catalog();
        Ok(conformance::judge::runner::run(&cases, &opts, &|r| {
            eprintln!("  {} {:?} ({} ms)", r.id, r.verdict, r.elapsed_ms);
        }))
    })
}

/// The result of one case in a report.
pub fn case_result<'a>(report: &'a Report, id: &str) -> Option<&'a CaseResult> {
    report.cases.iter().find(|c| c.id == id)
}

/// A one-paragraph explanation of a case result, for a failing test.
pub fn explain(r: &CaseResult) -> String {
    let mut s = format!("{} {} {:?}: {}", r.id, r.level, r.verdict, r.reason);
    for e in r.evidence.iter().take(20) {
        s.push_str("\n    ");
        s.push_str(e);
    }
    if let Some(iut) = &r.iut
        && r.verdict != Verdict::Pass
    {
        s.push_str(&format!(
            "\n  iut exit {:?}, stderr:\n{}",
            iut.status, iut.stderr
        ));
    }
    s
}

/// Docker-tier cases none of whose scenarios can be built in a container (IPv6, the emulated
/// DNS backends, hidden tools): reported as not applicable there.
pub const DOCKER_NOT_APPLICABLE: &[&str] = &["POL-06", "SEQ-02", "FAIL-09"];

/// Docker-tier cases built in a container but not observable there, reported as skipped with
/// the reason: POL-03's positive control (a sidecar routing through the container, before the
/// run) does not get through, since Docker's rules for internal networks in the machine's
/// FORWARD chain drop bridged traffic addressed outside the network (`conformance::world::controls`).
pub const DOCKER_UNOBSERVABLE: &[&str] = &["POL-03"];

/// Whether a Docker-tier skip of case `id` is one of the two kinds above, and nothing else.
pub fn docker_skip_allowed(id: &str) -> bool {
    DOCKER_NOT_APPLICABLE.contains(&id) || DOCKER_UNOBSERVABLE.contains(&id)
}

/// The bash reference, relative to the repository root.
pub const BASH_REFERENCE: &str = "scripts/init-firewall.sh";

/// The mutants' directory (`netns-tests/mutants`).
pub fn mutants_dir() -> PathBuf {
    repo_root().join("netns-tests/mutants")
}

/// A patched copy of the bash reference. It lives under `target/`, not `/tmp`: the
/// implementation under test gets a private `/tmp` and would not see it there. The copy is
/// deleted with the returned directory.
#[derive(Debug)]
pub struct PatchedScript {
    pub dir: tempfile::TempDir,
    pub script: PathBuf,
}

/// Copies the bash reference, applies `patch` (`patch -p1 --fuzz=0`: a patch that does not
/// apply exactly is an error) and checks the result with `bash -n`.
pub fn patched_script(patch: &std::path::Path) -> Result<PatchedScript> {
    let target = target_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("mutant-")
        .tempdir_in(&target)
        .with_context(|| format!("cannot create a directory in {}", target.display()))?;
    let script = dir.path().join(BASH_REFERENCE);
    if let Some(parent) = script.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(repo_root().join(BASH_REFERENCE), &script)
        .with_context(|| format!("cannot copy {BASH_REFERENCE}"))?;
    run_tool(
        std::process::Command::new("patch")
            .args(["-p1", "--batch", "--forward", "--fuzz=0", "-i"])
            .arg(patch)
            .current_dir(dir.path()),
        &format!("patch -p1 < {}", patch.display()),
    )?;
    run_tool(
        std::process::Command::new("bash").arg("-n").arg(&script),
        &format!("bash -n on {}", script.display()),
    )?;
    Ok(PatchedScript { dir, script })
}

/// Runs a command to completion; an error with its output when it fails.
fn run_tool(cmd: &mut std::process::Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
