//! fw-cli's library: the `init` sequence and the other subcommands, over fw-core's seams.
//! `main.rs` is a thin wrapper over it.
//!
//! - [`init`]: the init sequence, top to bottom (check, gather, plan, apply, cut flows, verify,
//!   marker); [`gather`]: the one path that gathers the inputs, for `init`, `plan` and
//!   `refresh`; [`commands`]: the subcommands.
//! - [`system`]: the real implementations of fw-core's seams (the tools, the world, the marker
//!   file) and what they are made of (netlink, DNS, HTTPS, the proofs); [`docker`]: Docker's
//!   DNS rules, read through the tools.

pub mod cli;
pub mod commands;
pub mod docker;
pub mod exit;
pub mod gather;
pub mod init;
pub mod lock;
pub mod system;
