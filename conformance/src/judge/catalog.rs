//! The case catalog: one entry per row of docs/requirements.md, as data. The runner, `--list`,
//! the generated `docs/requirements.md` and the reports all read this one list.
//!
//! A case names the scenarios it is judged on and a check. The check runs in the scenario's
//! sandbox after the implementation ran, observes the network and the kernel from outside, and
//! returns a verdict with its evidence; when a case has several scenarios, it passes only if
//! it passes on every one. The cases are written one file per family ([`crate::judge::checks`]);
//! this file lists them in order.

pub use crate::judge::case::{Case, Check, Outcome};
use crate::judge::checks::{alw, byp, cap, fail, inf, mrk, pol, seq, ver};
use crate::judge::verdict::Level;

/// The whole catalog, in docs/requirements.md's order.
pub fn catalog() -> Vec<Case> {
    let mut all = Vec::new();
    for family in [
        pol::cases,
        alw::cases,
        seq::cases,
        fail::cases,
        ver::cases,
        mrk::cases,
        cap::cases,
        inf::cases,
        byp::rows,
    ] {
        all.extend(family());
    }
    // They end with the MUST POL cases, POL-03 among them, which changes the sandbox.
    for case in &mut all {
        if matches!(case.id, "SEQ-04" | "SEQ-10" | "FAIL-10") {
            case.mutates = true;
        }
    }
    all
}

/// Cases whose ID starts with one of `prefixes` (all when empty), at `level` or stricter.
pub fn select(prefixes: &[String], levels: &[Level]) -> Vec<Case> {
    catalog()
        .into_iter()
        .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| c.id.starts_with(p.as_str())))
        .filter(|c| levels.is_empty() || levels.contains(&c.level))
        .collect()
}

/// `docs/requirements.md`, generated from the catalog.
pub fn requirements_markdown() -> String {
    let mut m = String::from(
        "# Requirements and their cases\n\nGenerated from the conformance catalog (`conformance/src/judge/checks/`) by\n`fw-conformance list --markdown`; a test checks that this file is current.\n\n| ID | Level | Requirement | How the suite observes it | Scenarios |\n|---|---|---|---|---|\n",
    );
    for c in catalog() {
        let scenarios: Vec<&str> = (c.scenarios)().iter().map(|s| s.name).collect();
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.id,
            c.level,
            c.title,
            c.observation,
            scenarios.join(", ")
        ));
    }
    let explained: Vec<Case> = catalog()
        .into_iter()
        .filter(|c| !c.rationale.is_empty())
        .collect();
    if !explained.is_empty() {
        m.push_str("\n## Why these rows, at these levels\n\n| ID | Level | Why |\n|---|---|---|\n");
        for c in explained {
            m.push_str(&format!("| {} | {} | {} |\n", c.id, c.level, c.rationale));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::checks::scenarios::{failures_fresh, failures_planted};
    use crate::world::scenario::{Meta, Prior, Scenario};

    /// The catalog against the hand-maintained list of the requirements (ID and level, in
    /// order): its independent reference (see [`crate::judge::requirements_list`]).
    #[test]
    fn every_requirement_has_exactly_one_case() {
        let spec = include_str!("../../../docs/requirements-ids.txt");
        let want = crate::judge::requirements_list::parse(spec).unwrap_or_else(|e| panic!("{e}"));
        let have: Vec<(&str, Level)> = catalog().iter().map(|c| (c.id, c.level)).collect();
        let diff = crate::judge::requirements_list::differences(&want, &have);
        assert!(
            diff.is_empty(),
            "the catalog and docs/requirements-ids.txt differ:\n{}",
            diff.join("\n")
        );
    }

    /// The checked-in doc is the catalog's rendering (regenerated after a catalog change); what
    /// the catalog holds is checked against the independent list above.
    #[test]
    fn the_generated_requirements_doc_is_current() {
        let checked_in = include_str!("../../../docs/requirements.md");
        assert_eq!(
            checked_in,
            requirements_markdown(),
            "docs/requirements.md is stale: run `fw-conformance list --markdown > docs/requirements.md`"
        );
    }

    #[test]
    fn selection_by_prefix_and_level() {
        let ids: Vec<&str> = select(&["SEQ-0".into()], &[Level::Must])
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["SEQ-01", "SEQ-03", "SEQ-04", "SEQ-08"]);
    }

    #[test]
    fn every_failure_scenario_has_a_planted_re_run_but_the_hanging_meta() {
        let fresh = failures_fresh();
        let planted = failures_planted();
        for s in &fresh {
            let twin = planted.iter().find(|p| {
                let mut w = (*p).clone();
                w.name = s.name;
                w.prior = Prior::Fresh;
                &w == s
            });
            assert_eq!(
                twin.is_some(),
                s.meta != Meta::AcceptAndHang,
                "{}: a planted variant in PLANTED_NAMES",
                s.name
            );
        }
        assert!(planted.iter().all(|p| p.prior == Prior::Planted));
        assert!(fresh.iter().all(|s| s.prior == Prior::Fresh));
    }

    #[test]
    fn scenario_names_identify_scenarios() {
        // The runner shares a sandbox between cases naming the same scenario: one name, one
        // definition.
        let mut seen: Vec<Scenario> = Vec::new();
        for c in catalog() {
            for s in (c.scenarios)() {
                if let Some(other) = seen.iter().find(|o| o.name == s.name) {
                    assert_eq!(
                        other, &s,
                        "scenario {} is defined twice differently",
                        s.name
                    );
                } else {
                    seen.push(s);
                }
            }
        }
    }
}
