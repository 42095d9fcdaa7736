//! The runner: builds each scenario's sandbox once, runs the implementation in it, evaluates
//! every selected case that names the scenario, and merges the per-scenario outcomes into one
//! verdict per case.
//!
//! Broken implementations get verdicts, not harness errors. Whatever the implementation does
//! (any exit status, a hang past the time limit, a crash), every case ends `fail` or `skip`
//! with a reason that says what it did: a failure on a failed run names the run's ending ("init
//! exited 6; ..."), and a case that cannot be observed without a successful run is skipped with
//! the reason ("the first run (before the re-run) exited 6: the re-run was not attempted, so the
//! probers never started"). A pass that rests on the implementation failing (FAIL-01: "failure,
//! no marker") is credited only when the failure answers the scenario's fault: when the
//! implementation also fails where nothing is wrong (a scenario that
//! [`Scenario::expects_plain_success`], or the first run of a re-run), such passes become skips
//! ("not judged"). `Error` stays for the suite's own faults: a sandbox that could not be built,
//! a mock or probe that could not run, an implementation that could not be started at all.
//!
//! Commands the implementation called that the sandbox lacks are parsed from each run's output
//! ([`crate::world::environment::missing_commands`], the scenario's deliberately hidden tools left
//! out); a failed case whose every failing scenario had such commands is marked "environment
//! incomplete" ([`CaseResult::missing_commands`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::judge::catalog::{Case, Outcome};
use crate::judge::ctx::Ctx;
use crate::judge::verdict::{
    CaseResult, IutEvidence, Level, ProbeRecord, Report, ScenarioRun, Verdict,
};
use crate::world::environment::{check_startable, command_base, missing_commands};
use crate::world::options::SuiteOptions;
use crate::world::record::RunRecord;
use crate::world::sandbox::Sandbox;
use crate::world::scenario::{Meta, Prior, Scenario, Tier};

/// One case's outcome on one scenario.
#[derive(Debug, Clone)]
struct Partial {
    scenario: &'static str,
    outcome: Result<Outcome, String>,
    evidence: Vec<String>,
    probes: Vec<ProbeRecord>,
    elapsed: Duration,
    /// The checks' own time (without the implementation's run).
    check: Duration,
    iut: Option<IutEvidence>,
    /// How the implementation's run(s) here failed (`None`: it succeeded, or the sandbox could
    /// not be built).
    failed_run: Option<String>,
    /// Commands the run(s) here called that the sandbox does not have.
    missing: Vec<String>,
}

/// What one scenario says about the implementation where nothing is wrong: `None` for a
/// scenario with a fault; `Err` with how it failed.
type ControlObservation = Option<Result<(), String>>;

/// What the runs so far say about the implementation where nothing is wrong.
#[derive(Debug, Default)]
struct Control {
    /// A scenario that must simply succeed ran.
    seen: bool,
    /// The first such run that failed: "[default] init exited 6".
    failure: Option<String>,
}

/// The runner's shared state.
#[derive(Debug, Default)]
struct Judged {
    partials: BTreeMap<&'static str, Vec<Partial>>,
    remaining: BTreeMap<&'static str, usize>,
    control: Control,
    /// Finished cases with a pass that rests on a failed run, waiting for the control.
    held: Vec<(&'static str, Vec<Partial>)>,
    results: Vec<CaseResult>,
}

impl Judged {
    /// Takes one sandbox's partial results (and its control run's outcome, if it had one):
    /// returns the cases now finished. A case is finished when every scenario it applies to
    /// has been judged; one whose pass rests on a failed run is held until the control is
    /// known to have failed.
    fn take(
        &mut self,
        cases: &[Case],
        done: Vec<(&'static str, Partial)>,
        control: ControlObservation,
    ) -> Vec<CaseResult> {
        let case_of = |id: &str| cases.iter().find(|c| c.id == id);
        let mut ready = Vec::new();
        if let Some(outcome) = control {
            self.control.seen = true;
            if let Err(why) = outcome
                && self.control.failure.is_none()
            {
                // Now known: release the held cases.
                self.control.failure = Some(why);
                for (id, parts) in std::mem::take(&mut self.held) {
                    if let Some(case) = case_of(id) {
                        ready.push(finish(case, parts, &self.control));
                    }
                }
            }
        }
        for (id, p) in done {
            self.partials.entry(id).or_default().push(p);
            let left = self.remaining.entry(id).or_insert(1);
            *left = left.saturating_sub(1);
            if *left > 0 {
                continue;
            }
            let parts = self.partials.remove(id).unwrap_or_default();
            let Some(case) = case_of(id) else { continue };
            if rests_on_failure(&parts) && self.control.failure.is_none() {
                self.held.push((id, parts));
            } else {
                ready.push(finish(case, parts, &self.control));
            }
        }
        ready
    }
}

/// Splits `cases` into those with a scenario that can be built in the options' tier and the
/// results of the others ("not applicable in the ... tier").
fn split_not_applicable(cases: &[Case], opts: &SuiteOptions) -> (Vec<Case>, Vec<CaseResult>) {
    let mut results_na = Vec::new();
    let runnable: Vec<Case> = cases
        .iter()
        .filter(|c| {
            let why = (c.scenarios)().iter().find_map(|s| s.not_in(opts.tier));
            if let (Some(why), true) = (why, applicable(c, opts).is_empty()) {
                results_na.push(CaseResult {
                    id: c.id.to_owned(),
                    level: c.level,
                    title: c.title.to_owned(),
                    verdict: Verdict::Skip,
                    elapsed_ms: 0,
                    reason: format!("not applicable in the {} tier: {why}", opts.tier.name()),
                    evidence: Vec::new(),
                    iut: None,
                    probes: Vec::new(),
                    runs: Vec::new(),
                    missing_commands: Vec::new(),
                });
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    (runnable, results_na)
}

/// The sandboxes to build, in first-use order: each scenario once, its cases sharing it; or,
/// with `isolate`, one per case and scenario (the case's id beside it).
fn sandboxes(cases: &[Case], opts: &SuiteOptions) -> Vec<(Scenario, Option<&'static str>)> {
    let mut scenarios: Vec<(Scenario, Option<&'static str>)> = Vec::new();
    for c in cases {
        for s in applicable(c, opts) {
            // A scenario that hangs by design is built once even with `isolate`: its run is up
            // to FAIL-04's 61 s of waiting, and the cases judging it (FAIL-04, FAIL-06,
            // FAIL-07, MRK-02) only look.
            if opts.isolate && s.meta != Meta::AcceptAndHang {
                scenarios.push((s, Some(c.id)));
            } else if !scenarios.iter().any(|(o, _)| o.name == s.name) {
                scenarios.push((s, None));
            }
        }
    }
    // The scenario whose run may take FAIL-04's whole 60 s goes first, so that it overlaps the
    // rest instead of ending the run alone.
    scenarios.sort_by_key(|(s, _)| s.meta != Meta::AcceptAndHang);
    scenarios
}

/// Every case as a harness error with `why` (nothing was judged).
fn all_errors(cases: &[Case], opts: &SuiteOptions, why: &str) -> Report {
    let results = cases
        .iter()
        .map(|c| CaseResult {
            id: c.id.to_owned(),
            level: c.level,
            title: c.title.to_owned(),
            verdict: Verdict::Error,
            elapsed_ms: 0,
            reason: why.to_owned(),
            evidence: Vec::new(),
            iut: None,
            probes: Vec::new(),
            runs: Vec::new(),
            missing_commands: Vec::new(),
        })
        .collect();
    Report::new(&opts.implementation, results, 0)
}

/// Runs every case of `cases`; `progress` is called as each case finishes.
pub fn run(cases: &[Case], opts: &SuiteOptions, progress: &(dyn Fn(&CaseResult) + Sync)) -> Report {
    let start = Instant::now();
    let all_cases = cases;
    // An implementation that cannot be started at all is bad usage, not a broken script: no
    // sandbox is built and nothing is judged (`fw-conformance run` checks this first too).
    if opts.tier == Tier::Netns
        && let Err(e) = check_startable(&opts.argv, crate::world::iut::IUT_PATH)
    {
        return all_errors(
            cases,
            opts,
            &format!("the implementation cannot be started, nothing was judged: {e}"),
        );
    }
    // Files under /tmp are invisible to the IUT (private /tmp): stage them elsewhere first.
    let staged = match crate::world::iut::StagedArgv::new(&opts.argv) {
        Ok(s) => s,
        Err(e) => return all_errors(cases, opts, &format!("harness error: {e:#}")),
    };
    let staged_opts = SuiteOptions {
        argv: staged.argv.clone(),
        ..opts.clone()
    };
    let opts = &staged_opts;
    // Cases none of whose scenarios can be built in this tier are reported as such.
    let (runnable, results_na) = split_not_applicable(cases, opts);
    for r in &results_na {
        progress(r);
    }
    let cases = &runnable[..];
    let queue = Arc::new(Mutex::new(sandboxes(cases, opts)));
    let judged = Arc::new(Mutex::new(Judged {
        remaining: cases
            .iter()
            .map(|c| (c.id, applicable(c, opts).len()))
            .collect(),
        ..Judged::default()
    }));
    let case_of = |id: &str| cases.iter().find(|c| c.id == id);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let queue = Arc::clone(&queue);
            let judged = Arc::clone(&judged);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| {
                        if q.is_empty() {
                            None
                        } else {
                            Some(q.remove(0))
                        }
                    });
                    let Ok(Some((scenario, only))) = next else {
                        break;
                    };
                    let (done, control) = run_scenario(&scenario, only, cases, opts);
                    let mut j = judged.lock().unwrap_or_else(|e| e.into_inner());
                    let ready = j.take(cases, done, control);
                    for r in &ready {
                        progress(r);
                    }
                    j.results.extend(ready);
                }
            });
        }
    });
    let mut j = Arc::try_unwrap(judged)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default();
    for (id, parts) in std::mem::take(&mut j.held) {
        if let Some(case) = case_of(id) {
            let r = finish(case, parts, &j.control);
            progress(&r);
            j.results.push(r);
        }
    }
    let mut results = j.results;
    results.extend(results_na);
    let order: Vec<&str> = all_cases.iter().map(|c| c.id).collect();
    results.sort_by_key(|r| order.iter().position(|id| *id == r.id));
    let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut report = Report::new(&opts.implementation, results, elapsed);
    report.isolation = isolation(opts);
    report.seed = Some(opts.seed);
    report
}

/// What the implementation could reach of the machine, in the options' tier.
pub fn isolation(opts: &SuiteOptions) -> String {
    match opts.tier {
        Tier::Netns => crate::world::confine::ISOLATION.to_owned(),
        Tier::Docker => format!(
            "docker tier: the implementation ran in a Docker container of image {} with Docker's \
             default capabilities plus NET_ADMIN, on internal Docker networks with the world \
             attached by a veth; every process it left was stopped with the container",
            opts.image
        ),
    }
}

/// Whether a case passed somewhere only on a failed run (its pass then depends on the control).
fn rests_on_failure(parts: &[Partial]) -> bool {
    parts
        .iter()
        .any(|p| p.failed_run.is_some() && matches!(p.outcome, Ok(Outcome::Pass)))
}

/// A case's verdict, once the control is known: passes on failed runs are credited only when
/// the implementation does not fail where nothing is wrong.
fn finish(case: &Case, mut parts: Vec<Partial>, control: &Control) -> CaseResult {
    for p in &mut parts {
        if p.failed_run.is_none() || !matches!(p.outcome, Ok(Outcome::Pass)) {
            continue;
        }
        match &control.failure {
            Some(why) => {
                p.outcome = Ok(Outcome::Skip(format!(
                    "not judged: init fails where nothing is wrong too ({why}), so its failure \
                     here is no answer to this scenario"
                )));
            }
            None if !control.seen => p.evidence.push(
                "no scenario of this selection shows init succeeding where nothing is wrong: \
                 this failure is credited as an answer to the scenario's fault unchecked"
                    .to_owned(),
            ),
            None => {}
        }
    }
    merge(case, parts)
}

/// What a scenario's runs say about the implementation where nothing is wrong: `None` when
/// nothing (a scenario with a fault), else whether it succeeded (`Err`: how it failed).
fn control_of(scenario: &Scenario, record: &RunRecord, missing: &[String]) -> ControlObservation {
    let plain = record.prior_failed
        || scenario.prior == Prior::Firewalled
        || scenario.expects_plain_success();
    if !plain {
        return None;
    }
    // A re-run scenario whose first run succeeded: that run was plain and succeeded.
    if scenario.prior == Prior::Firewalled && !record.prior_failed {
        return Some(Ok(()));
    }
    match record.init_failed() {
        None => Some(Ok(())),
        Some(why) if missing.is_empty() => Some(Err(format!("[{}] {why}", scenario.name))),
        Some(why) => Some(Err(format!(
            "[{}] {why}, missing: {}",
            scenario.name,
            missing.join(", ")
        ))),
    }
}

/// The commands a run called that the sandbox does not have, without the tools the scenario
/// hides on purpose from its measured run (FAIL-09: their absence is what is judged).
fn missing_in(run: &crate::world::iut::IutRun, hidden: &[&str]) -> Vec<String> {
    let mut m = missing_commands(&format!("{}\n{}", run.stdout, run.stderr));
    m.retain(|c| !hidden.contains(&command_base(c)));
    m
}

/// Builds one scenario, runs the implementation, evaluates its cases (or only `only`); with
/// what the scenario says about the implementation where nothing is wrong ([`control_of`]).
fn run_scenario(
    scenario: &Scenario,
    only: Option<&str>,
    cases: &[Case],
    opts: &SuiteOptions,
) -> (Vec<(&'static str, Partial)>, ControlObservation) {
    let mine: Vec<&Case> = {
        let mut v: Vec<&Case> = cases
            .iter()
            .filter(|c| only.is_none_or(|id| c.id == id))
            .filter(|c| applicable(c, opts).iter().any(|s| s.name == scenario.name))
            .collect();
        // Checks that change the sandbox run last.
        v.sort_by_key(|c| c.mutates);
        v
    };
    let start = Instant::now();
    let prepared = Sandbox::build(scenario, opts).and_then(|sb| {
        let record = sb.execute(opts)?;
        Ok((sb, record))
    });
    let (sb, record) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let why = format!("harness error in scenario {}: {e:#}", scenario.name);
            let out = mine
                .iter()
                .map(|c| {
                    (
                        c.id,
                        Partial {
                            scenario: scenario.name,
                            outcome: Err(why.clone()),
                            evidence: Vec::new(),
                            probes: Vec::new(),
                            elapsed: start.elapsed(),
                            check: Duration::ZERO,
                            iut: None,
                            failed_run: None,
                            missing: Vec::new(),
                        },
                    )
                })
                .collect();
            return (out, None);
        }
    };
    // The measured run hides the scenario's tools; a failed first run of a re-run hid nothing.
    let hidden: Vec<&str> = if record.prior_failed {
        Vec::new()
    } else {
        scenario.hidden_tools.clone()
    };
    let iut_missing = missing_in(&record.iut, &hidden);
    let mut missing = iut_missing.clone();
    if let Some(second) = &record.second {
        missing.extend(missing_in(second, &hidden));
        missing.sort();
        missing.dedup();
    }
    let failed_run = if record.failed() {
        record.init_failed()
    } else {
        None
    };
    // How the run ended, without its subject ("exited 6"): a reason that says it already needs
    // no prefix.
    let how = record.how_ended().unwrap_or_default();
    let iut = IutEvidence {
        status: record.iut.status,
        signal: record.iut.signal,
        timed_out: record.iut.timed_out,
        stopped: record.iut.locked_out.clone(),
        elapsed_ms: u64::try_from(record.iut.elapsed.as_millis()).unwrap_or(u64::MAX),
        stdout: tail(&record.iut.stdout),
        stderr: tail(&record.iut.stderr),
        missing_commands: iut_missing,
    };
    let mut out = Vec::new();
    for c in mine {
        let t = Instant::now();
        let ctx = Ctx::new(&sb, &record);
        let outcome = match (c.check)(&ctx) {
            Err(e) => Err(format!("harness error: {e:#}")),
            // A failure on a failed run says how the run ended.
            Ok(Outcome::Fail(why)) => Ok(Outcome::Fail(match &failed_run {
                Some(ended) if !why.contains(how.as_str()) => format!("{ended}; {why}"),
                _ => why,
            })),
            Ok(o) => Ok(o),
        };
        out.push((
            c.id,
            Partial {
                scenario: scenario.name,
                outcome,
                evidence: ctx.notes.take(),
                probes: ctx.probes.take(),
                check: t.elapsed(),
                elapsed: t.elapsed() + record.iut.elapsed,
                iut: Some(iut.clone()),
                failed_run: failed_run.clone(),
                missing: missing.clone(),
            },
        ));
    }
    (out, control_of(scenario, &record, &missing))
}

/// The last lines of an output, for reports.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let from = lines.len().saturating_sub(40);
    lines[from..].join("\n")
}

/// One verdict for a case from its outcomes on every scenario.
fn merge(case: &Case, parts: Vec<Partial>) -> CaseResult {
    let elapsed = parts.iter().map(|p| p.elapsed).sum::<Duration>();
    let mut verdict = Verdict::Pass;
    let mut reasons = Vec::new();
    let mut evidence = Vec::new();
    let mut skips: Vec<(String, &str)> = Vec::new();
    let mut runs = Vec::new();
    for p in &parts {
        let (outcome, why) = match &p.outcome {
            Err(e) => ("error", e.clone()),
            Ok(Outcome::Fail(why)) => ("fail", why.clone()),
            Ok(Outcome::Skip(why)) => ("skip", why.clone()),
            Ok(Outcome::Info(m)) => ("info", m.clone()),
            Ok(Outcome::Pass) => ("pass", String::new()),
        };
        runs.push(ScenarioRun {
            scenario: p.scenario.to_owned(),
            outcome: outcome.to_owned(),
            reason: why,
            check_ms: u64::try_from(p.check.as_millis()).unwrap_or(u64::MAX),
            iut: p.iut.clone(),
        });
        evidence.extend(p.evidence.iter().map(|e| format!("[{}] {e}", p.scenario)));
        match &p.outcome {
            Err(e) => {
                verdict = Verdict::Error;
                reasons.push(format!("[{}] {e}", p.scenario));
            }
            Ok(Outcome::Fail(why)) => {
                if verdict != Verdict::Error {
                    verdict = Verdict::Fail;
                }
                reasons.push(format!("[{}] {why}", p.scenario));
            }
            Ok(Outcome::Skip(why)) => {
                skips.push((why.clone(), p.scenario));
                evidence.push(format!("[{}] skipped: {why}", p.scenario));
            }
            Ok(Outcome::Info(m)) => reasons.push(format!("[{}] {m}", p.scenario)),
            Ok(Outcome::Pass) => {}
        }
    }
    if verdict == Verdict::Pass && skips.len() == parts.len() {
        verdict = Verdict::Skip;
        // Why, once per distinct reason, with the scenarios it holds for.
        let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
        for (why, scenario) in skips {
            match grouped.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) => names.push(scenario),
                None => grouped.push((why, vec![scenario])),
            }
        }
        reasons.extend(
            grouped
                .into_iter()
                .map(|(why, names)| format!("[{}] {why}", names.join(", "))),
        );
    }
    // Environment incomplete: every failing scenario's run called missing commands.
    let failing: Vec<&Partial> = parts
        .iter()
        .filter(|p| matches!(p.outcome, Ok(Outcome::Fail(_))))
        .collect();
    let mut missing_commands = Vec::new();
    if verdict == Verdict::Fail
        && case.level != Level::Info
        && failing.iter().all(|p| !p.missing.is_empty())
    {
        missing_commands = failing
            .iter()
            .flat_map(|p| p.missing.iter().cloned())
            .collect();
        missing_commands.sort();
        missing_commands.dedup();
    }
    if case.level == Level::Info && verdict == Verdict::Fail {
        // INFO rows are measured, never pass/fail; a failed precondition is reported as such.
        verdict = Verdict::Skip;
    }
    CaseResult {
        id: case.id.to_owned(),
        level: case.level,
        title: case.title.to_owned(),
        verdict,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        reason: reasons.join("; "),
        evidence,
        iut: parts.iter().find_map(|p| p.iut.clone()),
        probes: parts
            .iter()
            .flat_map(|p| p.probes.iter().cloned())
            .collect(),
        runs,
        missing_commands,
    }
}

/// The scenarios of a case that can be built in the options' tier.
fn applicable(case: &Case, opts: &SuiteOptions) -> Vec<Scenario> {
    (case.scenarios)()
        .into_iter()
        .filter(|s| s.not_in(opts.tier).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::iut::IutRun;

    fn run(status: Option<i32>, signal: Option<i32>, timed_out: bool, stderr: &str) -> IutRun {
        IutRun {
            status,
            signal,
            timed_out,
            stdout: String::new(),
            stderr: stderr.to_owned(),
            elapsed: Duration::from_millis(2000),
            max_rss_kib: None,
            caps: None,
            cpu: Duration::ZERO,
            locked_out: None,
        }
    }

    fn part(scenario: &'static str, outcome: Outcome, failed: Option<&str>) -> Partial {
        Partial {
            scenario,
            outcome: Ok(outcome),
            evidence: Vec::new(),
            probes: Vec::new(),
            elapsed: Duration::ZERO,
            check: Duration::ZERO,
            iut: None,
            failed_run: failed.map(str::to_owned),
            missing: Vec::new(),
        }
    }

    fn case(id: &str) -> Case {
        crate::judge::catalog::catalog()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    #[test]
    fn a_pass_on_a_failed_run_is_credited_only_when_init_succeeds_where_nothing_is_wrong() {
        let parts = || {
            vec![
                part("meta-refused", Outcome::Pass, Some("init exited 6")),
                part("meta-500", Outcome::Pass, Some("init exited 6")),
            ]
        };
        assert!(rests_on_failure(&parts()));
        let good = Control {
            seen: true,
            failure: None,
        };
        assert_eq!(
            finish(&case("FAIL-01"), parts(), &good).verdict,
            Verdict::Pass
        );
        let broken = Control {
            seen: true,
            failure: Some("[default] init exited 6".into()),
        };
        let r = finish(&case("FAIL-01"), parts(), &broken);
        assert_eq!(r.verdict, Verdict::Skip);
        // One reason for both scenarios, naming what init did where nothing was wrong.
        assert_eq!(
            r.reason,
            "[meta-refused, meta-500] not judged: init fails where nothing is wrong too ([default] init exited 6), so its failure here is no answer to this scenario"
        );
        // Unchecked (no plain scenario in the selection): credited, with a note.
        let unknown = Control::default();
        let r = finish(&case("FAIL-01"), parts(), &unknown);
        assert_eq!(r.verdict, Verdict::Pass);
        assert!(r.evidence.iter().any(|e| e.contains("unchecked")), "{r:?}");
        // A pass on a successful run is never touched; a failure stays a failure.
        let ok = vec![part("default", Outcome::Pass, None)];
        assert!(!rests_on_failure(&ok));
        assert_eq!(finish(&case("POL-01"), ok, &broken).verdict, Verdict::Pass);
        let failed = vec![
            part("meta-refused", Outcome::Pass, Some("init exited 6")),
            part(
                "rerun-meta-500",
                Outcome::Fail("init exited 6; x".into()),
                Some("init exited 6"),
            ),
        ];
        assert_eq!(
            finish(&case("FAIL-07"), failed, &broken).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn failures_where_commands_were_missing_are_marked_incomplete() {
        let mut a = part(
            "default",
            Outcome::Fail("init exited 127".into()),
            Some("init exited 127"),
        );
        a.missing = vec!["aggregate".into()];
        let r = merge(&case("POL-01"), vec![a.clone()]);
        assert_eq!(
            (r.verdict, r.missing_commands.clone()),
            (Verdict::Fail, vec!["aggregate".to_owned()])
        );
        assert!(r.incomplete());
        // A failure elsewhere without missing commands is an ordinary failure.
        let b = part("dns-none", Outcome::Fail("x".into()), None);
        let r = merge(&case("ALW-01"), vec![a.clone(), b]);
        assert!(r.missing_commands.is_empty() && r.verdict == Verdict::Fail);
        // A pass is a pass; an INFO row is never marked.
        let mut p = part("default", Outcome::Pass, None);
        p.missing = vec!["aggregate".into()];
        assert!(merge(&case("POL-02"), vec![p]).missing_commands.is_empty());
        let r = merge(&case("INF-02"), vec![a]);
        assert_eq!(r.verdict, Verdict::Skip);
        assert!(r.missing_commands.is_empty());
    }

    #[test]
    fn plain_scenarios_tell_whether_init_fails_where_nothing_is_wrong() {
        let s = |id: &str, name: &str| {
            (case(id).scenarios)()
                .into_iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let default = s("POL-01", "default");
        let failed = RunRecord::of(run(Some(6), None, false, ""));
        assert_eq!(
            control_of(&default, &failed, &[]),
            Some(Err("[default] init exited 6".into()))
        );
        assert_eq!(
            control_of(&default, &failed, &["aggregate".into()]),
            Some(Err("[default] init exited 6, missing: aggregate".into()))
        );
        let ok = RunRecord::of(run(Some(0), None, false, ""));
        assert_eq!(control_of(&default, &ok, &[]), Some(Ok(())));
        // A scenario with a fault says nothing; the first run of a re-run does.
        assert_eq!(
            control_of(&s("FAIL-01", "meta-refused"), &failed, &[]),
            None
        );
        assert_eq!(
            control_of(&s("FAIL-09", "hidden-ipset"), &failed, &[]),
            None
        );
        let rerun = s("SEQ-04", "rerun");
        assert_eq!(control_of(&rerun, &failed, &[]), Some(Ok(())));
        let first_failed = RunRecord {
            prior_failed: true,
            ..RunRecord::of(run(None, Some(11), false, ""))
        };
        assert_eq!(
            control_of(&rerun, &first_failed, &[]),
            Some(Err(
                "[rerun] the first run (before the re-run) was killed by signal 11 (SIGSEGV): the re-run was not attempted".into()
            ))
        );
        let hung = RunRecord::of(run(None, Some(9), true, ""));
        assert_eq!(
            hung.init_failed().as_deref(),
            Some("init did not finish within the time limit (killed after 2 s)")
        );
    }

    #[test]
    fn hidden_tools_are_not_missing_commands() {
        let r = run(
            Some(1),
            None,
            false,
            "x.sh: line 3: ipset: command not found\nx.sh: line 4: aggregate: command not found\n",
        );
        assert_eq!(missing_in(&r, &["ipset"]), ["aggregate"]);
        assert_eq!(missing_in(&r, &[]), ["aggregate", "ipset"]);
    }
}
