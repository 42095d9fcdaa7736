//! MRK: the marker of success.

use anyhow::Result;

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::after_success;
use crate::judge::checks::scenarios::{default, failures_fresh};
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;

/// The MRK cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::Must;
    let c = Case::new;
    vec![
        c(
            "MRK-01",
            Must,
            "Marker on success",
            "/tmp/.firewall-init-done exists after success",
            default,
            mrk01,
        ),
        c(
            "MRK-02",
            Must,
            "No marker on failure",
            "after each failure on a fresh container, no marker",
            failures_fresh,
            mrk02,
        ),
    ]
}

fn mrk01(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(if ctx.marker_present() {
        Outcome::Pass
    } else {
        Outcome::Fail("no /tmp/.firewall-init-done after success".into())
    })
}

fn mrk02(ctx: &Ctx) -> Result<Outcome> {
    // A success is not judged here: whether the scenario's fault had to fail the run is its
    // own case's question (FAIL-01..03 and VER-01/02 must fail; a bad CIDR may be skipped, a
    // hidden tool may be one the implementation does not use, an unresolvable required
    // domain is FAIL-07's).
    Ok(if ctx.init_failed().is_none() {
        Outcome::Skip("the run succeeded (judged by its own case)".into())
    } else if ctx.marker_present() {
        Outcome::Fail("the marker exists after a failure".into())
    } else {
        Outcome::Pass
    })
}
