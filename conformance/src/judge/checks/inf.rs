//! INF: measurements (no verdict).

use anyhow::Result;

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::after_success;
use crate::judge::checks::scenarios::default;
use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;

/// The INF cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::Info;
    let c = Case::new;
    vec![
        c(
            "INF-01",
            Info,
            "Init time",
            "wall time of a successful init",
            default,
            inf01,
        ),
        c(
            "INF-02",
            Info,
            "Allowlist size",
            "entries loaded, from ipset save",
            default,
            inf02,
        ),
    ]
}

fn inf01(ctx: &Ctx) -> Result<Outcome> {
    // A failed init has no init time to report (an INFO row's failure is shown as n/a).
    after_success!(ctx);
    Ok(Outcome::Info(format!(
        "init took {} ms (exit {:?})",
        ctx.iut_elapsed().as_millis(),
        ctx.iut_status()
    )))
}

fn inf02(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(Outcome::Info(ctx.allowlist_size()?))
}
