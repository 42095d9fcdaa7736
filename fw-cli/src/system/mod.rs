//! fw-cli's side of the seam: the real implementations of the traits fw-core declares.
//!
//! - [`tools`]: [`tools::SystemTools`], the firewall tools run as child processes (fw-core's
//!   `exec::Tools`), and [`tools::find_on_path`].
//! - [`flows`]: [`flows::HostTools`], the same tools with the conntrack table over netlink.
//! - [`marker`]: the marker file on disk, and the boot and network namespace we run in.

pub mod flows;
pub mod marker;
pub mod tools;
