//! FAIL-10's prior state: a failed run of the implementation, then the cause of the failure
//! removed.
//!
//! An implementation that fails closed keeps loopback, DNS and the Docker networks after a
//! failure, and rightly nothing else. If its next run fetches the GitHub meta ranges without
//! first opening a path for that fetch, the closed state blocks the fetch, the run fails and
//! closes again: the container stays locked out until it is recreated, however often the
//! operator re-runs init. The scenario makes a first run fail (the meta API answers HTTP 500),
//! records what that run left (can the meta API be reached, is a blocked host rejected), then
//! lets the meta API answer normally and runs the implementation again: that second run is
//! the measured one.

use anyhow::Result;

use crate::world::options::SuiteOptions;
use crate::world::probe;
use crate::world::record::PriorRun;
use crate::world::sandbox::Sandbox;
use crate::world::scenario::Meta;
use fw_testkit::plan::{API_HOST, BLOCKED, sa};

/// What the meta API answers during the first run: a failure every implementation must
/// answer with a failure (FAIL-03), and one that ends by itself once the API answers again.
pub const FIRST_META: Meta = Meta::Status500;

/// Runs the implementation once with the meta API failing ([`FIRST_META`], which the sandbox
/// starts with), looks at what the run left, and makes the meta API answer as the scenario
/// says for the measured run.
pub(crate) fn fail_first(sb: &Sandbox, opts: &SuiteOptions) -> Result<PriorRun> {
    let first = sb.run_in_container(&sb.run_spec(opts, false))?;
    let probe = |target| {
        sb.topo
            .container
            .block_on(move || async move { probe::tcp_connect(target, probe::PROBE_TIMEOUT).await })
    };
    let meta_api = probe(sa(API_HOST, 443))??;
    let blocked = probe(sa(BLOCKED, 443))??;
    sb.restart_https(&sb.scenario.meta)?;
    Ok(PriorRun {
        failed: (!first.success()).then(|| {
            first
                .how_ended()
                .unwrap_or_else(|| "did not succeed".to_owned())
        }),
        meta_api,
        blocked,
    })
}
