//! Test support for the workspace, kept out of fw-core's public API.
//!
//! - [`ci`]: the one rule of privileged tests: skip with a printed reason on a developer's
//!   machine, fail under `CI=true`.
//! - [`mod@env`]: `FakeEnv`, the fake of fw-core's configuration seam.

pub mod ci;
pub mod env;
