//! Judging the MUST policy and allowlist again after a re-run (SEQ-04) or concurrent runs
//! (SEQ-10), with the catalog's own checks.
//!
//! "Re-running is safe" means the firewall a re-run leaves is as good as the first: every MUST
//! POL and ALW case that is judged in the default world is run again in the re-run's sandbox,
//! check for check, so a re-run that loses any one entry, rule or port is caught by the case
//! that owns it, and its failure reason names that case ("ALW-05: 76.76.21.10:443: ...").
//! A handful of probes picked for the purpose would only ever see what was picked.

use anyhow::{Context, Result};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::{alw, pol};
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;
use crate::world::iut::IutRun;
use crate::world::record::RunRecord;

/// The POL and ALW cases, in the catalog's order.
fn policy_and_allowlist() -> Vec<Case> {
    let mut all = pol::cases();
    all.extend(alw::cases());
    all
}

/// The IDs of the cases judged again: MUST, POL or ALW, judged in the `default` scenario.
pub fn must_case_ids() -> Vec<&'static str> {
    let mut cases: Vec<_> = policy_and_allowlist()
        .into_iter()
        .filter(|c| c.level == Level::Must)
        .filter(|c| c.id.starts_with("POL-") || c.id.starts_with("ALW-"))
        .filter(|c| (c.scenarios)().iter().any(|s| s.name == "default"))
        .collect();
    // Checks that change the sandbox (POL-03 turns on forwarding) go last.
    cases.sort_by_key(|c| c.mutates);
    cases.iter().map(|c| c.id).collect()
}

/// Runs every case of [`must_case_ids`] in `ctx`'s sandbox and returns their failures, each
/// prefixed with its case's ID. `run`: the run to judge them against (SEQ-10: the one of the
/// two that succeeded); `None` for `ctx`'s own. The sub-checks' evidence and probes go to
/// `ctx`, prefixed with their ID too.
pub fn must_cases_again(ctx: &Ctx, run: Option<&IutRun>) -> Result<Vec<String>> {
    let record = run.map(|r| RunRecord::of(r.clone()));
    let sub = match &record {
        Some(r) => Ctx::new(ctx.sb, r),
        None => Ctx::new(ctx.sb, ctx.run),
    };
    let all = policy_and_allowlist();
    let mut bad = Vec::new();
    for id in must_case_ids() {
        let Some(case) = all.iter().find(|c| c.id == id) else {
            continue;
        };
        let outcome = (case.check)(&sub).with_context(|| format!("{id} (judged again)"))?;
        for n in sub.notes.take() {
            ctx.note(format!("{id}: {n}"));
        }
        match outcome {
            Outcome::Fail(why) => bad.push(format!("{id}: {why}")),
            Outcome::Skip(why) => ctx.note(format!("{id}: not judged: {why}")),
            Outcome::Pass | Outcome::Info(_) => {}
        }
    }
    ctx.probes.borrow_mut().extend(sub.probes.take());
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_must_policy_and_allowlist_case_of_the_default_world_is_judged_again() {
        let ids = must_case_ids();
        for want in [
            "POL-01", "POL-02", "POL-04", "POL-05", "ALW-01", "ALW-02", "ALW-03", "ALW-04",
            "ALW-05", "ALW-06", "ALW-07", "ALW-08", "ALW-09",
        ] {
            assert!(ids.contains(&want), "{want} missing from {ids:?}");
        }
        // SHOULD rows are not, nor the SEQ cases themselves; POL-03 (it mutates) comes last.
        assert!(
            !ids.contains(&"ALW-10") && !ids.contains(&"SEQ-04"),
            "{ids:?}"
        );
        assert_eq!(ids.last(), Some(&"POL-03"), "{ids:?}");
    }
}
