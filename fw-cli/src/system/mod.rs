//! fw-cli's side of the seam: the real implementations of the traits fw-core declares.
//!
//! - [`tools`]: [`tools::SystemTools`], fw-core's `exec::Tools`: the firewall tools run as
//!   child processes, and [`tools::find_on_path`].
//! - [`ctnetlink`]: the conntrack table over netlink, which `SystemTools` lists and cuts flows
//!   with.
//! - [`world`]: [`world::RealWorld`], what init needs from the system besides the tools
//!   (resolv.conf, netlink, DNS, the meta fetch, the proofs).
//! - [`marker`]: the marker file on disk, and the boot and network namespace we run in.

pub mod ctnetlink;
pub mod marker;
pub mod tools;
pub mod world;
