//! Broken implementations get verdicts, not harness errors.
//!
//! Scripts that exit 6 at once, hang past the time limit, or kill themselves with SIGSEGV are
//! run through the whole catalog: every case must be `fail` or `skip` (never a harness error),
//! the run must exit 1, and every case's reason must say what the script did. A script that
//! calls a command the sandbox does not have (`aggregate`) must get the command named once at
//! the top of the report and its failures marked "environment incomplete", while the tool
//! FAIL-09 hides on purpose (`ipset`) is not reported as missing. An implementation that cannot
//! be started at all is bad usage: every case is a harness error and `fw-conformance run` exits
//! 2 before building anything (that trial needs no privileges).
//!
//! Without root or network namespaces the privileged trials print why and pass, except under
//! CI=true, where they fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance::judge::catalog::{catalog, select};
use conformance::report::{Report, Verdict};
use conformance::world::options::SuiteOptions;
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{explain, privileged_may_run, target_dir};

/// A script in a directory under `target/` (the IUT's `/tmp` is private), deleted with it.
fn script(name: &str, body: &str) -> Result<(tempfile::TempDir, PathBuf), Failed> {
    let target = target_dir().map_err(|e| Failed::from(format!("{e:#}")))?;
    let dir = tempfile::Builder::new()
        .prefix("broken-")
        .tempdir_in(&target)
        .map_err(|e| format!("cannot create a directory in {}: {e}", target.display()))?;
    let path = dir.path().join(name);
    std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((dir, path))
}

fn options(name: &str, script: &Path, timeout: Duration) -> SuiteOptions {
    let mut opts = SuiteOptions::new(
        &format!("bash {name}"),
        vec!["bash".to_owned(), script.to_string_lossy().into_owned()],
    );
    opts.timeout = timeout;
    // One sandbox per scenario: every scenario is still judged, in a fraction of the time.
    opts.isolate = false;
    opts
}

/// `Some(Ok(()))` to skip (printed), `Some(Err)` under CI, `None` when the suite can run.
fn privileged_or_skip(name: &str) -> Option<Result<(), Failed>> {
    match privileged_may_run(name) {
        Ok(true) => None,
        Ok(false) => Some(Ok(())),
        Err(e) => Some(Err(e.into())),
    }
}

/// Every case fails or is skipped, none errs, the run exits 1, and every case's reason names
/// what the script did (`signature`).
fn judged_broken(report: &Report, signature: &str) -> Result<(), Failed> {
    let mut bad = Vec::new();
    for r in &report.cases {
        match r.verdict {
            Verdict::Fail | Verdict::Skip if r.reason.contains(signature) => {}
            Verdict::Fail | Verdict::Skip => bad.push(format!(
                "the reason does not say {signature:?}: {}",
                explain(r)
            )),
            Verdict::Pass | Verdict::Error => bad.push(explain(r)),
        }
    }
    if report.cases.len() != catalog().len() {
        bad.push(format!(
            "{} cases in the report, {} in the catalog",
            report.cases.len(),
            catalog().len()
        ));
    }
    if report.exit_status(false) != 1 {
        bad.push(format!(
            "exit status {} instead of 1",
            report.exit_status(false)
        ));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

fn broken(name: &str, body: &str, timeout: Duration, signature: &str) -> Result<(), Failed> {
    if let Some(r) = privileged_or_skip(name) {
        return r;
    }
    let (_dir, path) = script(name, body)?;
    let report =
        conformance::judge::runner::run(&catalog(), &options(name, &path, timeout), &|r| {
            eprintln!("  {} {} ({} ms)", r.id, r.verdict_word(), r.elapsed_ms);
        });
    judged_broken(&report, signature)
}

/// A script that needs a command the sandbox lacks, and calls `ipset` first (hidden by FAIL-09
/// on purpose: that one is not "missing").
const NEEDS_AGGREGATE: &str = "#!/bin/bash
set -euo pipefail
ipset version >/dev/null
echo 192.0.2.0/24 | aggregate -q
echo unreachable
";

fn missing_command() -> Result<(), Failed> {
    let name = "needs-aggregate.sh";
    if let Some(r) = privileged_or_skip(name) {
        return r;
    }
    let (_dir, path) = script(name, NEEDS_AGGREGATE)?;
    let ids = ["POL-01", "MRK-01", "FAIL-01", "FAIL-09"];
    let cases = select(&ids.map(str::to_owned), &[]);
    let report = conformance::judge::runner::run(
        &cases,
        &options(name, &path, Duration::from_secs(30)),
        &|_| {},
    );
    let mut bad = Vec::new();
    if report.missing_commands != ["aggregate"] {
        bad.push(format!(
            "missing commands {:?}, expected [\"aggregate\"] (ipset is hidden on purpose)",
            report.missing_commands
        ));
    }
    let case = |id: &str| report.cases.iter().find(|c| c.id == id);
    for id in ["POL-01", "MRK-01"] {
        match case(id) {
            Some(c) if c.incomplete() && c.missing_commands == ["aggregate"] => {}
            Some(c) => bad.push(format!("{id} is not marked incomplete: {}", explain(c))),
            None => bad.push(format!("{id} is not in the report")),
        }
    }
    // Its failure is no answer to the refused meta: the script fails where nothing is wrong.
    match case("FAIL-01") {
        Some(c) if c.verdict == Verdict::Skip && c.reason.contains("missing: aggregate") => {}
        Some(c) => bad.push(format!("FAIL-01 should be skipped: {}", explain(c))),
        None => bad.push("FAIL-01 is not in the report".into()),
    }
    // With ipset hidden the script stops at ipset: an ordinary failure, not an incomplete one.
    match case("FAIL-09") {
        Some(c) if c.verdict == Verdict::Fail && !c.incomplete() => {}
        Some(c) => bad.push(format!(
            "FAIL-09 should be an ordinary failure: {}",
            explain(c)
        )),
        None => bad.push("FAIL-09 is not in the report".into()),
    }
    if report.exit_status(false) != 1 {
        bad.push(format!(
            "exit status {} instead of 1",
            report.exit_status(false)
        ));
    }
    let md = report.to_markdown();
    let top = md.split("| ID |").next().unwrap_or_default();
    if !(top.contains("`aggregate`")
        && top.contains("--tier docker --image IMAGE")
        && !top.contains("ipset"))
    {
        bad.push(format!("no note naming aggregate at the top:\n{md}"));
    }
    if md
        .matches("Environment incomplete: the implementation")
        .count()
        != 1
    {
        bad.push(format!("the note is not there exactly once:\n{md}"));
    }
    if !md.contains("| POL-01 | MUST | **INCOMPLETE** |") {
        bad.push(format!("POL-01 is not shown as incomplete:\n{md}"));
    }
    let json: serde_json::Value =
        serde_json::from_str(&report.to_json()).map_err(|e| format!("bad JSON: {e}"))?;
    if json["missing_commands"] != serde_json::json!(["aggregate"]) {
        bad.push(format!(
            "JSON missing_commands: {}",
            json["missing_commands"]
        ));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

/// An `--impl` that names no file: nothing is judged, every case is a harness error (exit 2),
/// and the CLI says so before building anything.
fn cannot_start() -> Result<(), Failed> {
    let target = target_dir().map_err(|e| Failed::from(format!("{e:#}")))?;
    let missing = target.join("no-such-dir-fwt/init-firewall.sh");
    let opts = SuiteOptions::new("missing", vec![missing.to_string_lossy().into_owned()]);
    let report = conformance::judge::runner::run(&catalog(), &opts, &|_| {});
    let mut bad: Vec<String> = report
        .cases
        .iter()
        .filter(|c| {
            c.verdict != Verdict::Error
                || !c.reason.contains("cannot be started")
                || !c.reason.contains("does not exist")
        })
        .map(explain)
        .collect();
    if report.exit_status(false) != 2 {
        bad.push(format!(
            "exit status {} instead of 2",
            report.exit_status(false)
        ));
    }
    // The CLI's side (exit 2, the message) is conformance/tests/cli_usage.rs: only a test of
    // that package can count on the binary being built.
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // One at a time: each runs its scenarios two at a time.
    args.test_threads.get_or_insert(1);
    let trials = vec![
        Trial::test("broken::cannot_start", cannot_start),
        Trial::test("broken::exits_6", || {
            broken(
                "exit-6.sh",
                "#!/bin/bash\necho 'giving up' >&2\nexit 6\n",
                Duration::from_secs(30),
                "exited 6",
            )
        }),
        Trial::test("broken::hangs", || {
            broken(
                "hang.sh",
                "#!/bin/bash\necho 'waiting forever' >&2\nsleep 600\n",
                Duration::from_secs(3),
                "did not finish within the time limit",
            )
        }),
        Trial::test("broken::segfaults", || {
            // No core file: the IUT's working directory is the machine's own `/`.
            broken(
                "segv.sh",
                "#!/bin/bash\nulimit -c 0\nkill -SEGV $$\n",
                Duration::from_secs(30),
                "SIGSEGV",
            )
        }),
        Trial::test("broken::missing_command", missing_command),
    ];
    libtest_mimic::run(&args, trials).exit();
}
