//! The suite must have teeth: mutants of `scripts/init-firewall.sh`, each declaring the checks
//! it must fail and the evidence each failure must name (`netns_tests::kills`).
//!
//! One trial per mutant: the script is copied under `target/`, patched (a patch that does not
//! apply fails the trial), checked with `bash -n`, and run through the conformance runner
//! restricted to the cases it declares. Every declared kill must happen: the case fails and
//! its reason names the evidence. A kill that moved (the case passed, or failed for another
//! reason) fails the trial and shows what failed instead; a harness error fails it too.
//!
//! Two trials need no privileges and always run: `kill_matrix::coverage` (every MUST and
//! SHOULD case has a killer: a mutant, or the unpatched reference for the SHOULD cases it is
//! expected to fail) and `kill_matrix::current` (`docs/mutants.md` is the matrix the
//! declarations give; `FW_WRITE_KILL_MATRIX=1` rewrites it).
//!
//! Without root or network namespaces the mutant trials print why and pass, except under
//! CI=true, where they fail.

use std::time::Instant;

use conformance::judge::catalog::catalog;
use conformance::report::{Level, Verdict};
use conformance::world::options::SuiteOptions;
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::kills::{
    Mutant, all_mutants, expected_failures, matrix_markdown, matrix_path, uncovered,
};
use netns_tests::{BASH_REFERENCE as SCRIPT, explain, patched_script, privileged_may_run};

fn judge(m: &Mutant) -> Result<(), Failed> {
    // The patch must apply and give valid bash, with or without the privileged suite.
    let patched = patched_script(&m.path).map_err(|e| Failed::from(format!("{e:#}")))?;
    let script = &patched.script;

    if !privileged_may_run(&m.name)? {
        return Ok(());
    }
    let cases: Vec<_> = catalog()
        .into_iter()
        .filter(|c| m.kills.iter().any(|k| k.case == c.id))
        .collect();
    let opts = SuiteOptions {
        implementation: format!("bash {SCRIPT} + {}", m.name),
        argv: vec!["bash".to_owned(), script.to_string_lossy().into_owned()],
        npm_host: conformance::world::scenario::NPM_HOST_DEFAULT.to_owned(),
        timeout: m.timeout,
        jobs: 2,
        isolate: false,
        tier: conformance::world::scenario::Tier::Netns,
        image: conformance::world::docker::DEFAULT_IMAGE.to_owned(),
        seed: conformance::world::seed::fresh_seed(),
    };
    let start = Instant::now();
    let report = conformance::judge::runner::run(&cases, &opts, &|_| {});
    let secs = start.elapsed().as_secs_f64();
    if let Some(r) = report.cases.iter().find(|r| r.verdict == Verdict::Error) {
        return Err(format!(
            "{}: harness error, the mutant is not judged:\n{}",
            m.name,
            explain(r)
        )
        .into());
    }
    let mut missed = Vec::new();
    for k in &m.kills {
        let seen = report.cases.iter().find(|r| r.id == k.case);
        if !seen.is_some_and(|r| k.seen_in(r)) {
            missed.push(format!(
                "{} was to fail naming {:?}; it gave: {}",
                k.case,
                k.evidence,
                seen.map_or_else(|| "no result".to_owned(), explain)
            ));
        }
    }
    if !missed.is_empty() {
        let others: Vec<&str> = report
            .cases
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.id.as_str())
            .collect();
        return Err(format!(
            "mutant {} ({}): a declared kill did not happen (failing instead: {})\n{}",
            m.name,
            m.what,
            if others.is_empty() {
                "nothing".to_owned()
            } else {
                others.join(", ")
            },
            missed.join("\n")
        )
        .into());
    }
    let ids: Vec<&str> = m.kills.iter().map(|k| k.case.as_str()).collect();
    println!(
        "mutant {:<36} killed by {} ({secs:.1} s)",
        m.name,
        ids.join(", ")
    );
    Ok(())
}

/// Every MUST and SHOULD case is killed by some declaration.
fn coverage(mutants: &[Mutant]) -> Result<(), Failed> {
    let expected = expected_failures()?;
    let missing = uncovered(mutants, &expected);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "checks nothing kills (add a mutant with `# kills: ID: evidence`): {}",
            missing.join(", ")
        )
        .into())
    }
}

/// `docs/mutants.md` is what the declarations give.
fn matrix_current(mutants: &[Mutant]) -> Result<(), Failed> {
    let want = matrix_markdown(mutants, &expected_failures()?);
    let path = matrix_path();
    if std::env::var_os("FW_WRITE_KILL_MATRIX").is_some() {
        std::fs::write(&path, &want)
            .map_err(|e| Failed::from(format!("cannot write {}: {e}", path.display())))?;
        return Ok(());
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        Ok(())
    } else {
        Err(format!(
            "{} is not the matrix the declarations give: run \
             `FW_WRITE_KILL_MATRIX=1 cargo test -p netns-tests --test mutants -- kill_matrix`",
            path.display()
        )
        .into())
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // One mutant at a time (each runs its scenarios two at a time): parallel runs would
    // overload a 2-core machine and blur the timing-based verdicts ("rejected fast").
    args.test_threads.get_or_insert(1);
    let (mutants, bad) = all_mutants();
    let mut trials: Vec<Trial> = bad
        .into_iter()
        .map(|(what, e)| Trial::test(format!("mutant::unreadable {what}"), move || Err(e.into())))
        .collect();
    for m in mutants.clone() {
        let is_should = m.kills.iter().all(|k| {
            catalog()
                .iter()
                .any(|c| c.id == k.case && c.level == Level::Should)
        });
        let prefix = if is_should { "should-mutant" } else { "mutant" };
        trials.push(Trial::test(format!("{prefix}::{}", m.name), move || {
            judge(&m)
        }));
    }
    let for_matrix = mutants.clone();
    trials.push(Trial::test("kill_matrix::coverage", move || {
        coverage(&mutants)
    }));
    trials.push(Trial::test("kill_matrix::current", move || {
        matrix_current(&for_matrix)
    }));
    libtest_mimic::run(&args, trials).exit();
}
