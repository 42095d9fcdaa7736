//! Judging, and nothing of reports: the catalog of checks ([`catalog`]), what a check can ask of
//! a run ([`ctx`]), the positive controls ([`controls`]), the seeded spreads and bypass rows
//! ([`spread`]), the evidence read from output and probers, the checks inside a case
//! ([`observations`]) and the runner that builds each scenario's world once and judges every
//! case on it ([`runner`]).

pub mod catalog;
pub mod controls;
pub mod ctx;
pub mod observations;
pub mod output_evidence;
pub mod probers;
pub mod recheck;
pub mod requirements_list;
pub mod runner;
pub mod spread;
