//! Test support for the workspace, kept out of fw-core's public API.
//!
//! - [`ci`]: the one rule of privileged tests: skip with a printed reason on a developer's
//!   machine, fail under `CI=true`.
//! - [`plan`]: the conformance sandbox's address plan, every address, prefix and port once.

pub mod ci;
pub mod plan;
