//! Judging what the background probers saw while the implementation ran (SEQ-06, SEQ-07).
//!
//! A prober that took no sample observed nothing, so a run with too few samples does not pass;
//! and each prober first proves, before the implementation starts, that its probes work: a DNS
//! query that answers, a connect to the Docker peer that connects. A control that fails on a
//! fresh container is the harness's fault (`Err`); on a re-run, the first run's doing (a
//! failure that says so).

use std::net::SocketAddr;

use anyhow::{Result, bail};

use fw_testkit::plan::{BLOCKED, PEER_PORT, SVC};

use crate::judge::case::Outcome;
use crate::world::record::ProberResults;

/// The fewest samples a prober must take while init runs for a gap or a window to be ruled
/// out.
pub const MIN_SAMPLES: usize = 3;

/// The positive control's verdict: `Ok(None)` when it succeeded.
fn control(control: &Option<Option<String>>, what: &str, fresh: bool) -> Result<Option<Outcome>> {
    match control {
        None => bail!("the prober's control ({what}) did not run"),
        Some(None) => Ok(None),
        Some(Some(why)) if fresh => bail!(
            "the prober's control failed on the fresh container, before init started: {what}: {why}"
        ),
        Some(Some(why)) => Ok(Some(Outcome::Fail(format!(
            "the prober's control before the re-run failed ({what}: {why}): the first run left \
             the container where the prober cannot observe"
        )))),
    }
}

/// SEQ-06: every DNS query through the configured resolver `server` answered, and there were
/// enough of them.
pub fn judge_dns(p: &ProberResults, server: SocketAddr, fresh: bool) -> Result<Outcome> {
    let what = format!("a DNS query through {server}");
    if let Some(o) = control(&p.control_dns, &what, fresh)? {
        return Ok(o);
    }
    Ok(if p.dns_queries < MIN_SAMPLES {
        Outcome::Fail(format!(
            "only {} DNS queries through {server} were made while init ran (at least \
             {MIN_SAMPLES} are needed): no gap can be ruled out",
            p.dns_queries
        ))
    } else if p.dns_failures > 0 {
        Outcome::Fail(format!(
            "{} of {} DNS queries through the configured resolver failed during the run (first: {})",
            p.dns_failures, p.dns_queries, p.first_dns_failure
        ))
    } else {
        Outcome::Pass
    })
}

/// SEQ-07: no connect to the blocked host succeeded, and there were enough of them.
pub fn judge_blocked(p: &ProberResults, fresh: bool) -> Result<Outcome> {
    let what = format!("a connect to the Docker peer {SVC}:{PEER_PORT}");
    if let Some(o) = control(&p.control_connect, &what, fresh)? {
        return Ok(o);
    }
    Ok(if p.blocked_attempts < MIN_SAMPLES {
        Outcome::Fail(format!(
            "only {} connects to {BLOCKED}:443 were tried while the re-run ran (at least \
             {MIN_SAMPLES} are needed): no open window can be ruled out",
            p.blocked_attempts
        ))
    } else if p.blocked_connected > 0 {
        Outcome::Fail(format!(
            "{} of {} connects to {BLOCKED} succeeded during the re-run",
            p.blocked_connected, p.blocked_attempts
        ))
    } else {
        Outcome::Pass
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use fw_testkit::plan::sa;

    fn results(samples: usize) -> ProberResults {
        ProberResults {
            control_dns: Some(None),
            control_connect: Some(None),
            dns_queries: samples,
            blocked_attempts: samples,
            ..ProberResults::default()
        }
    }

    fn failed(o: Outcome) -> String {
        match o {
            Outcome::Fail(why) => why,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn no_samples_is_no_pass() {
        let server = sa(fw_testkit::plan::DOCKER_DNS, 53);
        for n in 0..MIN_SAMPLES {
            let why = failed(judge_dns(&results(n), server, true).unwrap());
            assert!(why.starts_with(&format!("only {n} DNS queries")), "{why}");
            let why = failed(judge_blocked(&results(n), false).unwrap());
            assert!(why.starts_with(&format!("only {n} connects")), "{why}");
        }
        assert_eq!(
            judge_dns(&results(MIN_SAMPLES), server, true).unwrap(),
            Outcome::Pass
        );
        assert_eq!(
            judge_blocked(&results(MIN_SAMPLES), false).unwrap(),
            Outcome::Pass
        );
    }

    #[test]
    fn a_failed_control_is_the_harness_on_a_fresh_container_and_the_first_run_on_a_re_run() {
        let server = sa(fw_testkit::plan::DOCKER_DNS, 53);
        let mut p = results(50);
        p.control_dns = Some(Some("Failed { reason: \"ECONNREFUSED\" }".into()));
        let e = judge_dns(&p, server, true).unwrap_err().to_string();
        assert!(e.contains("before init started"), "{e}");
        let why = failed(judge_dns(&p, server, false).unwrap());
        assert!(
            why.contains("the prober's control before the re-run failed"),
            "{why}"
        );
        p.control_connect = Some(Some("172.19.0.5:7777: ECONNREFUSED".into()));
        let why = failed(judge_blocked(&p, false).unwrap());
        assert!(
            why.contains("a connect to the Docker peer 172.19.0.5:7777"),
            "{why}"
        );
        // A prober that never ran its control is the harness's fault.
        let never = ProberResults::default();
        assert!(judge_blocked(&never, false).is_err());
        // Failures during the run.
        let mut p = results(10);
        p.dns_failures = 2;
        p.first_dns_failure = "timeout".into();
        p.blocked_connected = 1;
        assert!(failed(judge_dns(&p, server, false).unwrap()).starts_with("2 of 10 DNS queries"));
        assert!(failed(judge_blocked(&p, false).unwrap()).starts_with("1 of 10 connects"));
    }
}
