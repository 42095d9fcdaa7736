//! VER: verification (the firewall checks itself before it reports success).

use anyhow::Result;
use fw_testkit::plan::{API_HOST, sa};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{
    after_success, blocked_hosts_rejected, failed_without_marker, first_fail,
};
use crate::judge::checks::scenarios::{s_ver04, ver01, ver02, ver03};
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;

/// The VER cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::{Must, Should};
    let c = Case::new;
    vec![
        c(
            "VER-01",
            Must,
            "Init refuses to report success when the block does not hold",
            "example.com inside an allowlisted range: failure, no marker",
            ver01,
            failed_without_marker,
        ),
        c(
            "VER-02",
            Must,
            "Init refuses to report success when GitHub is unreachable",
            "api.github.com outside the meta ranges: failure, no marker",
            ver02,
            failed_without_marker,
        ),
        c(
            "VER-03",
            Should,
            "Blocked must be proven, not assumed",
            "example.com reachable with a certificate that does not validate: failure",
            ver03,
            failed_without_marker,
        ),
        c(
            "VER-04",
            Should,
            "A rate-limited GitHub does not fail a correct firewall",
            "/zen answers 403 rate limited: the implementation got the 403, succeeded with a marker, and a blocked host is rejected, api.github.com reachable",
            s_ver04,
            ver04,
        ),
    ]
}

/// The implementation must have met the rate limit (its allowed-destination check got the 403
/// of `/zen`, which the harness's own probes never ask for), succeeded with a marker, and left
/// a firewall that works. One that never asked `/zen` was not tested: not applicable.
fn ver04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    if let Some(skip) = ctx.rate_limit_met() {
        return Ok(Outcome::Skip(skip));
    }
    let mut bad = Vec::new();
    if !ctx.marker_present() {
        bad.push("succeeded without a marker".to_owned());
    }
    bad.extend(blocked_hosts_rejected(ctx)?);
    bad.extend(ctx.expect_https("api.github.com", sa(API_HOST, 443))?);
    Ok(first_fail(bad))
}
