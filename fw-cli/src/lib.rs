//! fw-cli's library: gathering inputs from the system, the `init` sequence and the other
//! subcommands. `main.rs` is a thin wrapper over it.

pub mod resolve;
pub mod subnets;
