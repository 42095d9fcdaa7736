//! What the families of checks share: judging after success only, the first failures, the
//! blocked host's ports, a failure without a marker.

use anyhow::Result;
use fw_testkit::plan::{BLOCKED, HIGH_PORT, sa};

use crate::judge::case::Outcome;
use crate::judge::ctx::{Ctx, Expect};

/// Judged after success only: a container left open by a failed init must not pass.
macro_rules! after_success {
    ($ctx:expr) => {
        if let Some(why) = $ctx.init_failed() {
            return Ok(Outcome::Fail(why));
        }
    };
}
pub(crate) use after_success;

pub(crate) fn first_fail(reasons: Vec<String>) -> Outcome {
    if reasons.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(reasons.join("; "))
    }
}

pub(crate) fn blocked_hosts_rejected(ctx: &Ctx) -> Result<Vec<String>> {
    ctx.expect_all(
        Expect::RejectedFast,
        &[80, 443, 8080, HIGH_PORT].map(|port| sa(BLOCKED, port)),
    )
}

pub(crate) fn failed_without_marker(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if ctx.init_failed().is_none() {
        bad.push("init reported success".to_owned());
    }
    if ctx.marker_present() {
        bad.push("the marker exists".to_owned());
    }
    Ok(first_fail(bad))
}
