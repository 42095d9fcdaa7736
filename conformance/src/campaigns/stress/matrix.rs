//! The fault matrix: every world of the FAIL and VER cases, on a fresh container and as a
//! re-run, in each profile, judged by the cases that name the world plus the marker, FAIL-06
//! and FAIL-07.
//!
//! The re-run cells meet the fault on the harness's planted firewall and marker
//! ([`Prior::Planted`]): a re-run cell whose prior state depended on the implementation's own
//! first run would judge nothing whenever that run fails under the same fault (every VER world),
//! and the stale-marker case (FAIL-08) would never be reached there.

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{StressOptions, StressReport};
use crate::judge::catalog::{self, Outcome};
use crate::judge::ctx::Ctx;
use crate::world::options::SuiteOptions;
use crate::world::sandbox::Sandbox;
use crate::world::scenario::{Prior, Scenario};

/// One cell of the fault matrix.
#[derive(Debug, Clone, Serialize)]
pub struct CellRecord {
    pub scenario: String,
    pub prior: String,
    pub profile: String,
    pub cases: Vec<String>,
    pub exit: Option<i32>,
    pub marker: bool,
    pub passed: bool,
    pub violations: Vec<String>,
}

impl CellRecord {
    /// "pass", or the violations.
    pub(super) fn result(&self) -> String {
        if self.passed {
            "pass".to_owned()
        } else {
            self.violations.join("; ")
        }
    }
}

/// The cases of the fault matrix, by id prefix.
const MATRIX_PREFIXES: [&str; 2] = ["FAIL-", "VER-"];

/// A scenario's world: the scenario without its name and prior state.
fn world(s: &Scenario) -> Scenario {
    let mut w = s.clone();
    w.name = "";
    w.prior = Prior::Fresh;
    w
}

/// One world of the FAIL and VER cases, with the cases that name it fresh and re-run.
struct Row {
    world: Scenario,
    fresh: Option<(Scenario, Vec<&'static str>)>,
    planted: Option<(Scenario, Vec<&'static str>)>,
}

fn push_id(slot: &mut Option<(Scenario, Vec<&'static str>)>, s: Scenario, id: &'static str) {
    match slot {
        Some((_, ids)) if !ids.contains(&id) => ids.push(id),
        Some(_) => {}
        None => *slot = Some((s, vec![id])),
    }
}

/// The cells' scenarios with the cases judged in each: for every world, the fresh cell with
/// the cases naming it fresh, then the re-run cell (the catalog's planted variant, or one made
/// from the fresh scenario) with those cases too, the ones naming the planted variant, and
/// FAIL-08.
pub(super) fn matrix_scenarios() -> Vec<(Scenario, Vec<&'static str>)> {
    let mut rows: Vec<Row> = Vec::new();
    for case in catalog::select(&MATRIX_PREFIXES.map(String::from), &[]) {
        // FAIL-10's scenario is already a failed run followed by a recovery: it is no world
        // to pair fresh and planted.
        for s in (case.scenarios)()
            .into_iter()
            .filter(|s| s.prior != Prior::FailedRun)
        {
            let w = world(&s);
            let i = match rows.iter().position(|r| r.world == w) {
                Some(i) => i,
                None => {
                    rows.push(Row {
                        world: w,
                        fresh: None,
                        planted: None,
                    });
                    rows.len() - 1
                }
            };
            let row = &mut rows[i];
            if s.prior == Prior::Planted {
                push_id(&mut row.planted, s, case.id);
            } else {
                push_id(&mut row.fresh, s, case.id);
            }
        }
    }
    let mut out = Vec::new();
    for row in rows {
        let fresh_ids = row
            .fresh
            .as_ref()
            .map(|(_, ids)| ids.clone())
            .unwrap_or_default();
        let planted = match row.planted {
            Some((s, mut ids)) => {
                for id in &fresh_ids {
                    if !ids.contains(id) {
                        ids.push(id);
                    }
                }
                (s, ids)
            }
            None => {
                let Some((fresh, _)) = &row.fresh else {
                    continue;
                };
                let mut s = fresh.clone();
                s.prior = Prior::Planted;
                (s, fresh_ids.clone())
            }
        };
        if let Some(f) = row.fresh {
            out.push(f);
        }
        let (s, mut ids) = planted;
        if !ids.contains(&"FAIL-08") {
            ids.push("FAIL-08");
        }
        out.push((s, ids));
    }
    out
}

fn outcome_problem(id: &str, o: Result<Outcome>) -> Option<String> {
    match o {
        Ok(Outcome::Pass | Outcome::Skip(_) | Outcome::Info(_)) => None,
        Ok(Outcome::Fail(why)) => Some(format!("{id}: {why}")),
        Err(e) => Some(format!("{id}: harness error: {e:#}")),
    }
}

/// One cell: build the world, run the implementation, judge.
fn cell(
    scenario: &Scenario,
    cases: &[&'static str],
    profile: &str,
    suite: &SuiteOptions,
) -> Result<CellRecord> {
    let sb = Sandbox::build(scenario, suite)?;
    let record = sb.execute(suite)?;
    let ctx = Ctx::new(&sb, &record);
    let all = catalog::catalog();
    let check = |id: &str| all.iter().find(|c| c.id == id).map(|c| c.check);
    let mut violations = Vec::new();
    let mut judged: Vec<&str> = cases.to_vec();
    // The marker: none after a failure (MRK-02), present after a success (MRK-01; VER-04 and
    // FAIL-05 may succeed).
    let marker_case = if ctx.init_failed().is_some() {
        "MRK-02"
    } else {
        "MRK-01"
    };
    for extra in [marker_case, "FAIL-06", "FAIL-07"] {
        if !judged.contains(&extra) {
            judged.push(extra);
        }
    }
    for id in &judged {
        let Some(f) = check(id) else {
            bail!("{id} is not in the catalog");
        };
        if let Some(p) = outcome_problem(id, f(&ctx)) {
            violations.push(p);
        }
    }
    Ok(CellRecord {
        scenario: scenario.name.to_owned(),
        prior: match scenario.prior {
            Prior::Planted => "re-run (planted)".into(),
            _ => "fresh".into(),
        },
        profile: profile.to_owned(),
        cases: cases.iter().map(|s| (*s).to_owned()).collect(),
        exit: record.iut.status,
        marker: ctx.marker_present(),
        passed: violations.is_empty(),
        violations,
    })
}

pub(super) fn matrix(
    opts: &StressOptions,
    report: &mut StressReport,
    progress: &dyn Fn(&str),
) -> Result<()> {
    let compat = opts.compat_argv.as_ref().map(|argv| SuiteOptions {
        argv: argv.clone(),
        implementation: format!("{} (compat)", opts.strict.implementation),
        ..opts.strict.clone()
    });
    let mut profiles = Vec::new();
    match &compat {
        Some(c) => {
            profiles.push(("strict", &opts.strict));
            profiles.push(("compat", c));
        }
        None => profiles.push(("as given", &opts.strict)),
    }
    let mut cells: Vec<(Scenario, Vec<&'static str>, &str, &SuiteOptions)> = Vec::new();
    let mut scenarios = matrix_scenarios();
    if let Some(only) = &opts.matrix_world {
        let fresh_named = |s: &Scenario| {
            scenarios
                .iter()
                .any(|(f, _)| f.name == only && world(f) == world(s))
        };
        let keep: Vec<bool> = scenarios.iter().map(|(s, _)| fresh_named(s)).collect();
        let mut k = keep.into_iter();
        scenarios.retain(|_| k.next().unwrap_or(false));
        if scenarios.is_empty() {
            bail!("no world of the fault matrix is named {only}");
        }
    }
    for (s, ids) in scenarios {
        for &(name, suite) in &profiles {
            cells.push((s.clone(), ids.clone(), name, suite));
        }
    }
    if let Some(limit) = opts.matrix_limit {
        // The CI form: the first cells (the first world, fresh and re-run, in each profile).
        cells.truncate(limit);
    }
    for (s, ids, profile, suite) in cells {
        let c = cell(&s, &ids, profile, suite)
            .with_context(|| format!("fault matrix cell {} {profile}", s.name))?;
        progress(&format!(
            "matrix {} {} {}: exit {:?} marker {} {}",
            c.scenario,
            c.prior,
            c.profile,
            c.exit,
            c.marker,
            c.result()
        ));
        report.matrix.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_covers_every_fail_and_ver_case_fresh_and_planted() {
        let scenarios = matrix_scenarios();
        let mut named: Vec<&str> = scenarios.iter().flat_map(|(_, ids)| ids.clone()).collect();
        named.sort_unstable();
        named.dedup();
        let mut want: Vec<&str> = catalog::catalog()
            .iter()
            .filter(|c| (c.scenarios)().iter().any(|s| s.prior != Prior::FailedRun))
            .map(|c| c.id)
            .filter(|id| id.starts_with("FAIL-") || id.starts_with("VER-"))
            .collect();
        want.sort_unstable();
        assert_eq!(named, want);
        // Every world once fresh and once on a planted prior state, in that order; FAIL-08
        // only on the planted ones.
        for pair in scenarios.chunks(2) {
            let [(f, fids), (p, pids)] = pair else {
                panic!("an odd cell: {pair:?}");
            };
            assert_eq!((f.prior, p.prior), (Prior::Fresh, Prior::Planted), "{f:?}");
            assert_eq!(world(f), world(p));
            assert!(!fids.contains(&"FAIL-08") && pids.contains(&"FAIL-08"));
            assert!(fids.iter().all(|id| pids.contains(id)), "{fids:?} {pids:?}");
        }
        let first = &scenarios[0].0;
        assert_eq!(first.name, "meta-refused");
    }
}
