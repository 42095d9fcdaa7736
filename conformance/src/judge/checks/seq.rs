//! SEQ: sequencing (Docker's DNS rules kept, stale rules replaced, re-runs, no window open during the run, connections across it, concurrent runs).

use anyhow::{Context, Result};
use fw_testkit::plan::BLOCKED;

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{after_success, blocked_hosts_rejected, first_fail};
use crate::judge::checks::scenarios::{
    concurrent, default, long_lived, other_backends, probed, probed_rerun, rerun, stale,
};
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;
use crate::world::scenario::Prior;

/// The SEQ cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::{Must, Should};
    let c = Case::new;
    vec![
        c(
            "SEQ-01",
            Must,
            "Docker's embedded DNS survives init",
            "resolution through 127.0.0.11 over UDP and TCP after init; Docker's DNAT/SNAT targets unchanged",
            default,
            docker_dns_survives,
        ),
        c(
            "SEQ-02",
            Should,
            "Docker DNS in the other backends",
            "the same with Docker's rules written by iptables-legacy and as the native nft table",
            other_backends,
            docker_dns_survives,
        ),
        c(
            "SEQ-03",
            Must,
            "Clean slate: stale rules do not survive",
            "stale ACCEPT-all, user chain, mangle and nat rules: none in effect or present after success",
            stale,
            seq03,
        ),
        c(
            "SEQ-04",
            Must,
            "Re-running is safe",
            "a second init succeeds, then every MUST POL and ALW case of the default world is judged again (each failure named by its case)",
            rerun,
            seq04,
        ),
        c(
            "SEQ-05",
            Should,
            "Idempotent",
            "the state after a re-run equals the state after a single clean run, object by object: every ipset, iptables chain (nft and legacy, IPv4 and IPv6), nft table, set and chain; the observer is proven on objects of its own first",
            rerun,
            seq05,
        ),
        c(
            "SEQ-06",
            Should,
            "No DNS gap",
            "a prober queries the configured resolver every 10 ms during a fresh init and a re-run: at least 3 queries, none failing; its first query, before init, must answer",
            probed,
            seq06,
        ),
        c(
            "SEQ-07",
            Should,
            "No open window",
            "during a re-run, a prober connects to a blocked host every 10 ms: at least 3 attempts, none connects; its first connect, to the Docker peer before the re-run, must connect",
            probed_rerun,
            seq07,
        ),
        c(
            "SEQ-08",
            Must,
            "Lockout safety: the controlling connection survives",
            "a connection to the sidecar opened before init still carries data",
            long_lived,
            seq08,
        ),
        c(
            "SEQ-09",
            Should,
            "Flows the new policy forbids are cut",
            "a connection to a blocked host opened before init, proven to carry data then, no longer carries data",
            long_lived,
            seq09,
        ),
        c(
            "SEQ-10",
            Should,
            "Concurrent runs are serialised",
            "two inits at once: both end, one succeeds, then every MUST POL and ALW case of the default world is judged",
            concurrent,
            seq10,
        ),
    ]
}

fn docker_dns_survives(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(ctx.docker_dns_problems()?))
}

fn seq03(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = blocked_hosts_rejected(ctx)?;
    bad.extend(ctx.stale_rules_left()?);
    Ok(first_fail(bad))
}

fn seq04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(crate::judge::recheck::must_cases_again(
        ctx, None,
    )?))
}

fn seq05(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.state_difference()? {
        Some(diff) => Outcome::Fail(diff),
        None => Outcome::Pass,
    })
}

/// The probers watch the measured run; when the first run of a re-run failed there is none.
fn probers_never_started(ctx: &Ctx) -> Option<Outcome> {
    ctx.not_measured()
        .map(|why| Outcome::Skip(format!("{why}, so the probers never started")))
}

fn seq06(ctx: &Ctx) -> Result<Outcome> {
    if let Some(skip) = probers_never_started(ctx) {
        return Ok(skip);
    }
    let p = ctx.prober_results()?;
    let fresh = ctx.scenario().prior == Prior::Fresh;
    let o = crate::judge::probers::judge_dns(&p, ctx.configured_resolver(), fresh)?;
    if o == Outcome::Pass {
        ctx.note(format!(
            "{} DNS queries during the run, none failed (the control query before it answered)",
            p.dns_queries
        ));
    }
    Ok(o)
}

fn seq07(ctx: &Ctx) -> Result<Outcome> {
    if let Some(skip) = probers_never_started(ctx) {
        return Ok(skip);
    }
    let p = ctx.prober_results()?;
    let fresh = ctx.scenario().prior == Prior::Fresh;
    let o = crate::judge::probers::judge_blocked(&p, fresh)?;
    if o == Outcome::Pass {
        ctx.note(format!(
            "{} connects to a blocked host during the re-run, none connected (the control \
             connect to the Docker peer before it connected)",
            p.blocked_attempts
        ));
    }
    Ok(o)
}

fn seq08(ctx: &Ctx) -> Result<Outcome> {
    Ok(match ctx.long_lived_to_peer_works()? {
        None => Outcome::Pass,
        Some(why) => Outcome::Fail(format!(
            "the connection to the Docker-network peer opened before init: {why}"
        )),
    })
}

fn seq09(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.long_lived_to_blocked_works()? {
        None => Outcome::Pass,
        Some(evidence) => Outcome::Fail(format!(
            "a connection to {BLOCKED} opened before init still carries data: {evidence}"
        )),
    })
}

fn seq10(ctx: &Ctx) -> Result<Outcome> {
    let (a, b) = ctx.concurrent_statuses()?;
    let (ea, eb) = ctx.concurrent_endings()?;
    if a.is_none() || b.is_none() {
        return Ok(Outcome::Fail(format!(
            "a run did not end normally: the first {}, the second {}",
            ea.as_deref().unwrap_or("succeeded"),
            eb.as_deref().unwrap_or("succeeded")
        )));
    }
    if a != Some(0) && b != Some(0) {
        return Ok(Outcome::Fail(format!(
            "neither run succeeded: the first {}, the second {}",
            ea.as_deref().unwrap_or("succeeded"),
            eb.as_deref().unwrap_or("succeeded")
        )));
    }
    // The MUST cases are judged with the run that succeeded as the run (its output, for
    // ALW-09's warnings).
    let ok = if a == Some(0) {
        &ctx.run.iut
    } else {
        ctx.run
            .second
            .as_ref()
            .context("no second run in this scenario")?
    };
    Ok(first_fail(crate::judge::recheck::must_cases_again(
        ctx,
        Some(ok),
    )?))
}
