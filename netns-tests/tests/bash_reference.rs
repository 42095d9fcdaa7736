//! `scripts/init-firewall.sh` against the whole catalog, one test per case: every MUST case
//! must pass; a SHOULD case must pass unless it is on the checked-in expected-failures list
//! (`netns-tests/expected/init-firewall.sh.txt`), and a listed case must still fail, so the
//! list can only shrink honestly.
//!
//! Without root or network namespaces the trials print why and pass, except under CI=true.

use std::sync::OnceLock;

use conformance::judge::catalog::catalog;
use conformance::report::{Level, Report, Verdict};
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{
    case_result, explain, kills::expected_failures, privileged_may_run, repo_root, run_once,
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
    // A case may be listed once per check it fails; every listed reason must be seen.
    let expected: Vec<_> = expected_failures()?
        .into_iter()
        .filter(|e| e.kill.case == id)
        .collect();
    let listed = expected.first();
    let unseen: Vec<&str> = expected
        .iter()
        .filter(|e| !e.kill.seen_in(r))
        .map(|e| e.kill.evidence.as_str())
        .collect();
    match (r.verdict, listed) {
        (Verdict::Error, _) => Err(explain(r).into()),
        (Verdict::Fail, Some(_)) if unseen.is_empty() => Ok(()),
        (Verdict::Fail, Some(_)) => Err(format!(
            "{id} fails, but not for every listed reason (its failure must name {unseen:?}):\n{}",
            explain(r)
        )
        .into()),
        (Verdict::Pass | Verdict::Skip, Some(_)) => Err(format!(
            "{id} now passes: remove it from netns-tests/expected/init-firewall.sh.txt"
        )
        .into()),
        (Verdict::Fail, None) if level == Level::Must => Err(explain(r).into()),
        (Verdict::Fail, None) => Err(format!(
            "{id} fails but is not on the expected-failures list:\n{}",
            explain(r)
        )
        .into()),
        (Verdict::Pass | Verdict::Skip, None) => Ok(()),
    }
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let mut trials: Vec<Trial> = catalog()
        .into_iter()
        .map(|c| {
            let (id, level) = (c.id, c.level);
            Trial::test(format!("bash::{id}"), move || judge(id, level))
        })
        .collect();
    // The list parses: every line is `ID | evidence | why` of a SHOULD case (a MUST case
    // cannot be excused).
    trials.push(Trial::test("bash::expected_list_is_valid", || {
        expected_failures().map(|_| ()).map_err(Failed::from)
    }));
    libtest_mimic::run(&args, trials).exit();
}
