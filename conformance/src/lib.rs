//! The conformance suite: it builds the simulated world of SANDBOX.md in network namespaces,
//! runs an implementation under test (IUT) unmodified inside it, and judges it from outside,
//! through the network and the kernel's state, per requirement of REQUIREMENTS.md.
//!
//! Layout:
//! - [`netns`]: network namespace guards, running code and commands inside a namespace.
//! - [`topology`]: the address plan and the namespaces, links and routes of one sandbox.
//! - [`mocks`]: mock DNS (and Docker's embedded-DNS emulation), mock GitHub meta over HTTPS,
//!   the world's test hosts.
//! - [`iut`]: running the implementation under test in the container's namespaces.
//! - [`spread`]: the seeded spreads of destinations, ports, protocols and sources that the
//!   block checks and the bypass rows probe, with their positive controls.

pub mod bench;
pub mod caps;
pub mod catalog;
pub mod confine;
pub mod controls;
pub mod ctx;
pub mod docker;
pub mod environment;
pub mod html;
pub mod iut;
pub mod iut_watch;
pub mod mocks;
pub mod netns;
pub mod observations;
pub mod output_evidence;
pub mod planted;
pub mod probe;
pub mod probers;
pub mod recheck;
pub mod recovery;
pub mod report;
pub mod requirements_list;
pub mod runner;
pub mod sandbox;
pub mod scenario;
pub mod spread;
pub mod state;
pub mod stress;
pub mod testing;
pub mod topology;
