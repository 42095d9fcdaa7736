//! `fw-cli init` against the whole catalog, one test per case and profile: every MUST and
//! SHOULD case must pass in the strict profile; in the compat profile (the seed's table: DNS
//! and SSH to anywhere) every case but ALW-10, ALW-11, BYP-01 and BYP-04 must pass, and those
//! must fail, since allowing DNS and SSH (and TCP 53) to any address is what compat means.
//!
//! The catalog runs once per profile (scenarios shared between cases, two at a time); each
//! trial reports its case. Without root or network namespaces the trials print why and pass,
//! except under CI=true, where they fail.

use std::sync::OnceLock;

use conformance::judge::catalog::catalog;
use conformance::report::{Report, Verdict};
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{case_result, explain, privileged_may_run, run_once, workspace_bin};

static STRICT: OnceLock<Result<Report, String>> = OnceLock::new();
static COMPAT: OnceLock<Result<Report, String>> = OnceLock::new();

/// In compat, these cases fail by design.
const COMPAT_FAILS: &[&str] = &["ALW-10", "ALW-11", "BYP-01", "BYP-04"];

fn judge(profile: &'static str, id: &'static str) -> Result<(), Failed> {
    if !privileged_may_run(&format!("{profile}::{id}"))? {
        return Ok(());
    }
    let bin = workspace_bin("fw-cli").map_err(|e| Failed::from(format!("{e:#}")))?;
    let bin = bin.to_string_lossy().into_owned();
    let (cell, argv, name) = match profile {
        "compat" => (
            &COMPAT,
            vec![bin, "init".into(), "--profile".into(), "compat".into()],
            "fw-cli init --profile compat",
        ),
        _ => (&STRICT, vec![bin, "init".into()], "fw-cli init"),
    };
    // Strict runs every case in its own sandbox (the CLI's default); compat shares a sandbox
    // per scenario, so both modes of the runner are exercised.
    let report = run_once(cell, name, argv, profile != "compat")
        .as_ref()
        .map_err(|e| Failed::from(e.clone()))?;
    let r = case_result(report, id)
        .ok_or_else(|| Failed::from(format!("{id} is not in the report")))?;
    let must_fail = profile == "compat" && COMPAT_FAILS.contains(&id);
    match (r.verdict, must_fail) {
        (Verdict::Pass | Verdict::Skip, false) => Ok(()),
        (Verdict::Fail, true) => Ok(()),
        (Verdict::Pass, true) => Err(format!("{id} passes in compat, which allows DNS and SSH to anywhere: the test's expectation is stale").into()),
        _ => Err(explain(r).into()),
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // One trial at a time: the first of each profile runs the catalog (two scenarios at once);
    // running both profiles' catalogs together would overload a 2-core machine and blur the
    // timing-based verdicts ("rejected fast").
    args.test_threads.get_or_insert(1);
    let mut trials = Vec::new();
    for profile in ["strict", "compat"] {
        for case in catalog() {
            let id = case.id;
            trials.push(
                Trial::test(format!("{profile}::{id}"), move || judge(profile, id))
                    .with_kind(profile),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
