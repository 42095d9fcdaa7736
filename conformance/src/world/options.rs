//! What the whole run needs to know: the implementation, its time limit, the tier, the seed.

use std::time::Duration;

use crate::world::scenario::Tier;

/// What the whole run needs to know.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The implementation as the user gave it, for reports.
    pub implementation: String,
    /// The command to run, resolved.
    pub argv: Vec<String>,
    /// The npm registry host the container is configured with.
    pub npm_host: String,
    /// Time limit of one run.
    pub timeout: Duration,
    /// Scenarios in parallel.
    pub jobs: usize,
    /// Give every case its own sandbox (and implementation run) for each of its scenarios,
    /// instead of sharing one per scenario among the cases that name it. Slower; for when a
    /// case's verdict is suspected to depend on another's. The hanging meta's scenario is
    /// shared all the same (61 s of waiting per run; its cases only look).
    pub isolate: bool,
    /// Network namespaces, or real Docker containers.
    pub tier: Tier,
    /// The Docker tier's image (`repository:tag`).
    pub image: String,
    /// The seed of the run's spreads ([`crate::world::seed`]): `--seed` reproduces a run.
    pub seed: u64,
}

impl SuiteOptions {
    /// Options for `argv` with the defaults of `fw-conformance run`.
    pub fn new(implementation: &str, argv: Vec<String>) -> SuiteOptions {
        SuiteOptions {
            implementation: implementation.to_owned(),
            argv,
            npm_host: crate::world::scenario::NPM_HOST_DEFAULT.to_owned(),
            timeout: Duration::from_secs(180),
            jobs: default_jobs(),
            isolate: true,
            tier: Tier::Netns,
            image: crate::world::docker::DEFAULT_IMAGE.to_owned(),
            seed: crate::world::seed::fresh_seed(),
        }
    }
}

/// Scenarios run in parallel by default: twice the CPUs, 2 to 8. A sandbox mostly waits (on
/// the implementation, on probes); measured on 2 cores, fw-cli's catalog took 41.7 s with 2 and
/// 24.5 s with 4, a script that drops took 315 s with 2 and 156 s with 4 (docs/benchmarks.md).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8)
}
