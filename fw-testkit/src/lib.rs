//! Test support for the workspace, kept out of fw-core's public API.
//!
//! - [`ci`]: the one rule of privileged tests: skip with a printed reason on a developer's
//!   machine, fail under `CI=true`.
//! - [`dns`]: the one hickory-server request handler of the mock DNS servers (conformance's
//!   world, fw-cli's resolver tests).
//! - [`mod@env`]: `FakeEnv`, the fake of fw-core's configuration seam.
//! - [`plan`]: the conformance sandbox's address plan, every address, prefix and port once.

pub mod ci;
pub mod dns;
pub mod env;
pub mod plan;
