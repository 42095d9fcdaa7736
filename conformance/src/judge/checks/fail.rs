//! FAIL: failing closed (bad meta answers, time limits, bad entries, what a failure leaves, missing tools, recovery).

use anyhow::Result;
use fw_testkit::plan::{GATEWAYS, PEER_PORT, SVC, sa};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{blocked_hosts_rejected, failed_without_marker, first_fail};
use crate::judge::checks::scenarios::{
    after_failed_run, fail01, fail02, fail03, failures_all, failures_planted, hidden_tools,
    s_fail04, s_fail05,
};
use crate::judge::ctx::{Ctx, Expect};
use crate::judge::verdict::Level;
use crate::world::scenario::{Prior, REQUIRED_UNRESOLVABLE};

/// The FAIL cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::{Must, Should};
    let c = Case::new;
    vec![
        c(
            "FAIL-01",
            Must,
            "GitHub meta unreachable",
            "the meta host refuses connections: failure, no marker",
            fail01,
            failed_without_marker,
        ),
        c(
            "FAIL-02",
            Must,
            "GitHub meta response invalid",
            "invalid JSON, a missing key, an empty body: failure, no marker",
            fail02,
            failed_without_marker,
        ),
        c(
            "FAIL-03",
            Must,
            "GitHub meta HTTP error",
            "500, and 403 rate limited: failure, no marker",
            fail03,
            failed_without_marker,
        ),
        c(
            "FAIL-04",
            Should,
            "GitHub meta hangs",
            "the server accepts and never answers: failure within 60 s, no marker",
            s_fail04,
            fail04,
        ),
        c(
            "FAIL-05",
            Should,
            "Malformed ranges are refused",
            "a bad CIDR entry: failure or the entry skipped; never open",
            s_fail05,
            fail05,
        ),
        c(
            "FAIL-06",
            Must,
            "Never locked out after a failure",
            "after each failure (every meta fault, bad CIDR, missing tool, blocked-check failure, unresolvable required domain), fresh and on a planted firewall and marker: loopback, the configured resolver and the Docker peers work",
            failures_all,
            fail06,
        ),
        c(
            "FAIL-07",
            Should,
            "Fail closed",
            "after each failure, fresh and on a planted firewall and marker: blocked hosts rejected; an unresolvable required domain must fail init",
            failures_all,
            fail07,
        ),
        c(
            "FAIL-08",
            Should,
            "A stale marker does not survive a failed run",
            "each failure on a planted firewall with the marker of a previous success: no marker after it",
            failures_planted,
            fail08,
        ),
        c(
            "FAIL-09",
            Should,
            "Missing tools fail cleanly",
            "ipset, then ip6tables-restore hidden: failure, a line naming the tool that a successful run does not print, no marker, not open",
            hidden_tools,
            fail09,
        ),
        c(
            "FAIL-10",
            Should,
            "A run after a failed run succeeds once the cause is gone",
            "a first run with the meta API answering 500 fails; the API fixed, a second run succeeds, every MUST allowlist case holds again (as SEQ-04 judges them) and the marker is there",
            after_failed_run,
            fail10,
        ),
    ]
}

fn fail04(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if ctx.iut_elapsed().as_secs() >= 60 || ctx.iut_timed_out() {
        bad.push(format!(
            "init took {:.1} s (the limit is 60 s)",
            ctx.iut_elapsed().as_secs_f64()
        ));
    }
    if let Outcome::Fail(why) = failed_without_marker(ctx)? {
        bad.push(why);
    }
    Ok(first_fail(bad))
}

fn fail05(ctx: &Ctx) -> Result<Outcome> {
    // Failure, or success with the entry skipped and a warning: never open.
    let mut bad = blocked_hosts_rejected(ctx)?;
    if ctx.init_failed().is_some() && ctx.marker_present() {
        bad.push("failed but left a marker".to_owned());
    }
    Ok(first_fail(bad))
}

fn fail06(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = ctx.loopback_problems()?;
    let server = ctx.configured_resolver();
    let got = ctx.dns(server, "api.anthropic.com", false)?;
    if !got.resolved() {
        bad.push(format!("DNS through {server}: {got:?}"));
    }
    bad.extend(ctx.expect_all(
        Expect::Connects,
        &[SVC, GATEWAYS[0]].map(|t| sa(t, PEER_PORT)),
    )?);
    Ok(first_fail(bad))
}

fn fail07(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    // Fail closed: a firewall that comes up without a domain the seed requires is not the one
    // asked for ("required for Claude Code and core tooling to function"), just as one without
    // GitHub's ranges is not; init must fail (closed) instead of warning.
    if ctx.scenario().required_unresolvable && ctx.init_failed().is_none() {
        bad.push(format!(
            "init reported success although the required domain {REQUIRED_UNRESOLVABLE} does \
             not resolve (NXDOMAIN)"
        ));
    }
    bad.extend(blocked_hosts_rejected(ctx)?);
    Ok(first_fail(bad))
}

fn fail08(ctx: &Ctx) -> Result<Outcome> {
    if ctx.scenario().prior != Prior::Planted {
        anyhow::bail!("FAIL-08 is judged on a planted prior state only");
    }
    Ok(if ctx.init_failed().is_none() {
        Outcome::Skip("the run succeeded: the marker is its own (judged by MRK-01)".into())
    } else if ctx.marker_present() {
        Outcome::Fail("the marker of the previous success survived the failed run".into())
    } else {
        Outcome::Pass
    })
}

/// The message is a line of the failed run naming the tool that a successful run does not
/// print (see [`crate::judge::output_evidence`]); on a failed run only, since it needs a control run.
fn fail09(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if let Outcome::Fail(why) = failed_without_marker(ctx)? {
        bad.push(why);
    }
    let tool = ctx
        .scenario()
        .hidden_tools
        .first()
        .copied()
        .unwrap_or_default();
    bad.extend(blocked_hosts_rejected(ctx)?);
    if ctx.init_failed().is_some() {
        use crate::judge::output_evidence::{ToolMessage, missing_tool_named};
        match missing_tool_named(ctx, tool)? {
            ToolMessage::Named => {}
            ToolMessage::NotNamed(why) => bad.push(why),
            ToolMessage::Unjudged(why) if bad.is_empty() => return Ok(Outcome::Skip(why)),
            ToolMessage::Unjudged(why) => ctx.note(why),
        }
    }
    Ok(first_fail(bad))
}

/// The measured run follows a run that failed because the meta API answered HTTP 500, and the
/// API answers again ([`crate::world::recovery`]): it must succeed and leave a working firewall. A
/// first run that succeeded despite the fault left nothing to recover from: not judged. An
/// implementation that fails open passes trivially (the evidence says so).
fn fail10(ctx: &Ctx) -> Result<Outcome> {
    let Some(first) = &ctx.run.prior_run else {
        anyhow::bail!(
            "the failed first run of scenario {} was not recorded",
            ctx.scenario().name
        );
    };
    let Some(how) = &first.failed else {
        return Ok(Outcome::Skip(
            "the failure condition did not make it fail: the first run, with the meta API answering HTTP 500, succeeded".into(),
        ));
    };
    ctx.note(format!("the first run {how}; after it, {}", first.left()));
    if let Some(again) = ctx.run.how_ended() {
        return Ok(Outcome::Fail(format!(
            "the run after a failed run {again}, with the meta API answering again (after the failed run, {})",
            first.left()
        )));
    }
    let mut bad = crate::judge::recheck::must_cases_again(ctx, None)?;
    if !ctx.marker_present() {
        bad.push("succeeded without a marker".to_owned());
    }
    Ok(first_fail(bad))
}
