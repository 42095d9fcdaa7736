//! `scripts/init-firewall.sh` against the whole catalog, one test per case: every MUST case
//! must pass; a SHOULD case must pass unless it is on the checked-in expected-failures list
//! (`netns-tests/expected/init-firewall.sh.txt`), and a listed case must still fail, so the
//! list can only shrink honestly.
//!
//! Without root or network namespaces the trials print why and pass, except under CI=true.

use std::sync::OnceLock;

use conformance::catalog::catalog;
use conformance::report::{Level, Report, Verdict};
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{
    case_result, expected_bash_failures, explain, privileged_may_run, repo_root, run_once,
};

static REPORT: OnceLock<Result<Report, String>> = OnceLock::new();

fn judge(id: &'static str, level: Level) -> Result<(), Failed> {
    if !privileged_may_run(id)? {
        return Ok(());
    }
    let script = repo_root().join("scripts/init-firewall.sh");
    let argv = vec!["bash".to_owned(), script.to_string_lossy().into_owned()];
    let report = run_once(&REPORT, "bash scripts/init-firewall.sh", argv, false)
        .as_ref()
        .map_err(|e| Failed::from(e.clone()))?;
    let r = case_result(report, id)
        .ok_or_else(|| Failed::from(format!("{id} is not in the report")))?;
    let listed = expected_bash_failures().iter().any(|e| e == id);
    match (r.verdict, listed) {
        (Verdict::Error, _) => Err(explain(r).into()),
        (Verdict::Fail, true) => Ok(()),
        (Verdict::Pass | Verdict::Skip, true) => Err(format!(
            "{id} now passes: remove it from netns-tests/expected/init-firewall.sh.txt"
        )
        .into()),
        (Verdict::Fail, false) if level == Level::Must => Err(explain(r).into()),
        (Verdict::Fail, false) => Err(format!(
            "{id} fails but is not on the expected-failures list:\n{}",
            explain(r)
        )
        .into()),
        (Verdict::Pass | Verdict::Skip, false) => Ok(()),
    }
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let listed = expected_bash_failures();
    let ids: Vec<&str> = catalog().iter().map(|c| c.id).collect();
    let mut trials: Vec<Trial> = catalog()
        .into_iter()
        .map(|c| {
            let (id, level) = (c.id, c.level);
            Trial::test(format!("bash::{id}"), move || judge(id, level))
        })
        .collect();
    // Every listed ID must be a SHOULD case of the catalog: a MUST case cannot be excused.
    let bad: Vec<String> = listed
        .iter()
        .filter(|l| {
            !catalog()
                .iter()
                .any(|c| c.id == l.as_str() && c.level == Level::Should)
        })
        .cloned()
        .collect();
    trials.push(Trial::test(
        "bash::expected_list_names_should_cases_only",
        move || {
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!("not SHOULD cases of the catalog: {bad:?} (catalog: {ids:?})").into())
            }
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
