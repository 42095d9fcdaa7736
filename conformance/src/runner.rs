//! The runner: builds each scenario's sandbox once, runs the implementation in it, evaluates
//! every selected case that names the scenario, and merges the per-scenario outcomes into one
//! verdict per case.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::{Case, Outcome};
use crate::ctx::Ctx;
use crate::report::{CaseResult, IutEvidence, Level, ProbeRecord, Report, ScenarioRun, Verdict};
use crate::sandbox::{Sandbox, SuiteOptions};
use crate::scenario::{Scenario, Tier};

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
}

/// Runs every case of `cases`; `progress` is called as each case finishes.
pub fn run(cases: &[Case], opts: &SuiteOptions, progress: &(dyn Fn(&CaseResult) + Sync)) -> Report {
    let start = Instant::now();
    let all_cases = cases;
    // Files under /tmp are invisible to the IUT (private /tmp): stage them elsewhere first.
    let staged = match crate::iut::StagedArgv::new(&opts.argv) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("harness error: {e:#}");
            let results = cases
                .iter()
                .map(|c| CaseResult {
                    id: c.id.to_owned(),
                    level: c.level,
                    title: c.title.to_owned(),
                    verdict: Verdict::Error,
                    elapsed_ms: 0,
                    reason: why.clone(),
                    evidence: Vec::new(),
                    iut: None,
                    probes: Vec::new(),
                    runs: Vec::new(),
                })
                .collect();
            return Report::new(&opts.implementation, results, 0);
        }
    };
    let staged_opts = SuiteOptions {
        argv: staged.argv.clone(),
        ..opts.clone()
    };
    let opts = &staged_opts;
    // The sandboxes to build, in first-use order: each scenario once, its cases sharing it; or,
    // with `isolate`, one per case and scenario.
    // Cases none of whose scenarios can be built in this tier are reported as such.
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
                });
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    for r in &results_na {
        progress(r);
    }
    let cases = &runnable[..];
    let mut scenarios: Vec<(Scenario, Option<&'static str>)> = Vec::new();
    for c in cases {
        for s in applicable(c, opts) {
            if opts.isolate {
                scenarios.push((s, Some(c.id)));
            } else if !scenarios.iter().any(|(o, _)| o.name == s.name) {
                scenarios.push((s, None));
            }
        }
    }
    let partials: Arc<Mutex<BTreeMap<&'static str, Vec<Partial>>>> = Arc::default();
    let queue = Arc::new(Mutex::new(scenarios));
    let remaining: Arc<Mutex<BTreeMap<&'static str, usize>>> = Arc::new(Mutex::new(
        cases
            .iter()
            .map(|c| (c.id, applicable(c, opts).len()))
            .collect(),
    ));
    let results: Arc<Mutex<Vec<CaseResult>>> = Arc::default();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let queue = Arc::clone(&queue);
            let partials = Arc::clone(&partials);
            let remaining = Arc::clone(&remaining);
            let results = Arc::clone(&results);
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
                    let done = run_scenario(&scenario, only, cases, opts);
                    for (id, p) in done {
                        let finished = {
                            let mut parts = partials.lock().unwrap_or_else(|e| e.into_inner());
                            parts.entry(id).or_default().push(p);
                            let mut rem = remaining.lock().unwrap_or_else(|e| e.into_inner());
                            let left = rem.entry(id).or_insert(1);
                            *left = left.saturating_sub(1);
                            (*left == 0).then(|| parts.remove(id).unwrap_or_default())
                        };
                        if let Some(all) = finished
                            && let Some(case) = cases.iter().find(|c| c.id == id)
                        {
                            let r = merge(case, all);
                            progress(&r);
                            results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                        }
                    }
                }
            });
        }
    });
    let mut results = Arc::try_unwrap(results)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default();
    results.extend(results_na);
    let order: Vec<&str> = all_cases.iter().map(|c| c.id).collect();
    results.sort_by_key(|r| order.iter().position(|id| *id == r.id));
    let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut report = Report::new(&opts.implementation, results, elapsed);
    report.isolation = isolation(opts);
    report
}

/// What the implementation could reach of the machine, in the options' tier.
pub fn isolation(opts: &SuiteOptions) -> String {
    match opts.tier {
        Tier::Netns => crate::confine::ISOLATION.to_owned(),
        Tier::Docker => format!(
            "docker tier: the implementation ran in a Docker container of image {} with Docker's \
             default capabilities plus NET_ADMIN, on internal Docker networks with the world \
             attached by a veth; every process it left was stopped with the container",
            opts.image
        ),
    }
}

/// Builds one scenario, runs the implementation, evaluates its cases (or only `only`).
fn run_scenario(
    scenario: &Scenario,
    only: Option<&str>,
    cases: &[Case],
    opts: &SuiteOptions,
) -> Vec<(&'static str, Partial)> {
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
            return mine
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
                        },
                    )
                })
                .collect();
        }
    };
    let iut = IutEvidence {
        status: record.iut.status,
        signal: record.iut.signal,
        timed_out: record.iut.timed_out,
        stopped: record.iut.locked_out.clone(),
        elapsed_ms: u64::try_from(record.iut.elapsed.as_millis()).unwrap_or(u64::MAX),
        stdout: tail(&record.iut.stdout),
        stderr: tail(&record.iut.stderr),
    };
    let mut out = Vec::new();
    for c in mine {
        let t = Instant::now();
        let ctx = Ctx::new(&sb, &record);
        let outcome = (c.check)(&ctx).map_err(|e| format!("harness error: {e:#}"));
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
            },
        ));
    }
    out
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
    let mut skips = 0;
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
                skips += 1;
                evidence.push(format!("[{}] skipped: {why}", p.scenario));
            }
            Ok(Outcome::Info(m)) => reasons.push(format!("[{}] {m}", p.scenario)),
            Ok(Outcome::Pass) => {}
        }
    }
    if verdict == Verdict::Pass && skips == parts.len() {
        verdict = Verdict::Skip;
        reasons.push("not applicable in any scenario".into());
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
    }
}

/// The scenarios of a case that can be built in the options' tier.
fn applicable(case: &Case, opts: &SuiteOptions) -> Vec<Scenario> {
    (case.scenarios)()
        .into_iter()
        .filter(|s| s.not_in(opts.tier).is_none())
        .collect()
}
