//! Judging, and nothing of reports: what a case is ([`case`]), the checks one file per family
//! ([`checks`]) and the catalog that assembles them ([`catalog`]), what a check can ask of a run
//! ([`ctx`]), the judging of the seeded spreads ([`spread`]), the evidence read from output and
//! probers, the checks inside a case ([`observations`]), the runner that builds each scenario's
//! world once and judges every case on it ([`runner`]) and its results ([`verdict`]).

pub mod case;
pub mod catalog;
pub mod checks;
pub mod ctx;
pub mod observations;
pub mod output_evidence;
pub mod probers;
pub mod recheck;
pub mod requirements_list;
pub mod runner;
pub mod spread;
pub mod verdict;
