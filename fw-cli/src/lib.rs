//! fw-cli's library: gathering inputs from the system, the `init` sequence and the other
//! subcommands. `main.rs` is a thin wrapper over it.

pub mod cli;
pub mod commands;
pub mod docker;
pub mod exit;
pub mod fetch;
pub mod gather;
pub mod http;
pub mod init;
pub mod lock;
pub mod resolve;
pub mod subnets;
pub mod system;
pub mod verify;
