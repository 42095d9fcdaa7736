//! fw-cli's side of the seam: the real implementations of the traits fw-core declares.
//!
//! - [`tools`]: [`tools::SystemTools`], fw-core's `exec::Tools`: the firewall tools run as
//!   child processes, and [`tools::find_on_path`].
//! - [`ctnetlink`]: the conntrack table over netlink, which `SystemTools` lists and cuts flows
//!   with.
//! - [`world`]: [`world::RealWorld`], what init needs from the system besides the tools
//!   (resolv.conf, netlink, DNS, the meta fetch, the proofs).
//! - [`subnets`] (netlink), [`resolve`] (DNS), [`fetch`] (the meta fetch), [`verify`] (the
//!   proofs) and [`http`] (their HTTPS client): what the world is made of.
//! - [`marker`]: the marker file on disk, and the boot and network namespace we run in.
//! - [`mod@env`]: [`env::SystemEnv`], fw-core's configuration seam `config::Env`: the
//!   environment, files, and the npm configuration.

pub mod ctnetlink;
pub mod env;
pub mod fetch;
pub mod http;
pub mod marker;
pub mod resolve;
pub mod subnets;
pub mod tools;
pub mod verify;
pub mod world;
