//! Test support for the workspace, kept out of fw-core's public API.
//!
//! - [`ci`]: the one rule of privileged tests: skip with a printed reason on a developer's
//!   machine, fail under `CI=true`.
//! - [`plan`]: the conformance sandbox's address plan, every address, prefix and port once.
//! - [`fixtures`]: seeded, deterministic GitHub meta responses on that plan.
//! - [`sample`]: a sample configuration and inputs on the sandbox's address plan.
//! - [`kernel`]: [`kernel::FakeKernel`], an in-memory kernel answering the firewall tools
//!   through fw-core's [`fw_core::exec::Tools`] seam, scriptable to fail.
//! - [`mod@env`]: `FakeEnv`, the fake of fw-core's configuration seam.
//! - [`world`]: [`world::FakeWorld`], a scripted fake of fw-core's [`fw_core::world::World`].
//! - [`dns`]: the one hickory-server request handler of the mock DNS servers (conformance's
//!   world, fw-cli's resolver tests).
//! - [`ipset`]: `ipset save` output made comparable between runs.
//! - [`fuzzing`]: the properties the cargo-fuzz targets check, replayed on stable by
//!   fw-core's corpus test.
//! - [`path`]: finding a program of the workspace on `PATH`, for the suite's tools.

pub mod ci;
pub mod dns;
pub mod env;
pub mod fixtures;
pub mod fuzzing;
pub mod ipset;
pub mod kernel;
pub mod path;
pub mod plan;
pub mod sample;
pub mod world;
