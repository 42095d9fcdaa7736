//! Test support for the workspace, kept out of fw-core's public API.
//!
//! - [`ci`]: the one rule of privileged tests: skip with a printed reason on a developer's
//!   machine, fail under `CI=true`.
//! - [`kernel`]: [`kernel::FakeKernel`], an in-memory kernel answering the firewall tools
//!   through fw-core's [`fw_core::exec::Tools`] seam, scriptable to fail.
//! - [`fixtures`]: seeded, deterministic GitHub meta responses.
//! - [`sample`]: a sample configuration and inputs on the sandbox's address plan.
//! - [`fuzzing`]: the properties the cargo-fuzz targets check, replayed on stable by
//!   fw-core's corpus test.
//! - [`world`]: [`world::FakeWorld`], a scripted fake of fw-core's [`fw_core::world::World`].
//! - [`path`]: finding a program of the workspace on `PATH`, for the suite's tools.

pub mod ci;
pub mod fixtures;
pub mod fuzzing;
pub mod kernel;
pub mod path;
pub mod sample;
pub mod world;
