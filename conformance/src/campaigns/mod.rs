//! Campaigns built on the world and the judge: the stress campaign ([`stress`]: kills,
//! concurrency, re-runs, the failure matrix) and the benchmarks ([`bench`]).

pub mod bench;
pub mod stress;
