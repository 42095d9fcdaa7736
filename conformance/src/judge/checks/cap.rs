//! CAP: the capabilities the implementation needs.

use anyhow::Result;
use fw_testkit::plan::{API_HOST, sa};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{after_success, blocked_hosts_rejected, first_fail};
use crate::judge::checks::scenarios::docker_caps;
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;

/// The CAP cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::Should;
    let c = Case::new;
    vec![c(
        "CAP-01",
        Should,
        "Works with the seed's capabilities",
        "the run's processes, read while it runs, have Docker's default capabilities plus NET_ADMIN and NET_RAW only: success, a blocked host rejected, api.github.com reachable",
        docker_caps,
        cap01,
    )]
}

/// The capabilities the run really had are read while it runs ([`crate::world::caps`]): not the
/// seed's set, or not observed, and the case cannot be judged (a harness error). Then the run
/// must succeed and the firewall work: a blocked host rejected, api.github.com reachable.
fn cap01(ctx: &Ctx) -> Result<Outcome> {
    let want = crate::world::caps::mask(&crate::world::iut::docker_caps_with_net_admin());
    match crate::world::caps::judge(ctx.run.iut.caps.as_ref(), want) {
        Ok(seen) => ctx.note(seen),
        // A run too short to be read failed anyway: that is its verdict.
        Err(why) if ctx.run.iut.caps.as_ref().is_none_or(|c| c.main.is_none()) => {
            if let Some(failed) = ctx.init_failed() {
                ctx.note(why);
                return Ok(Outcome::Fail(failed));
            }
            anyhow::bail!(why)
        }
        Err(why) => anyhow::bail!(why),
    }
    after_success!(ctx);
    let mut bad = blocked_hosts_rejected(ctx)?;
    bad.extend(ctx.expect_https("api.github.com", sa(API_HOST, 443))?);
    Ok(first_fail(bad))
}
