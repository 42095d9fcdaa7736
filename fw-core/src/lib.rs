//! fw-core: the pure heart of the devcontainer egress firewall.
//!
//! The pipeline is `Config → Inputs (meta, resolved names, subnets, Docker DNS, resolvers) →
//! Plan → rendered text (iptables-restore, ip6tables-restore, ipset restore)`. Everything here is
//! plain data and pure functions: nothing in this crate runs a command, reads a file or needs
//! privileges. The steps that touch the system (running the firewall tools, reading the
//! environment, the network) go through the traits of the seam declared here ([`exec::Tools`],
//! [`config::Env`], [`world::World`]); fw-cli implements them for the real system (its `system` module) and
//! fw-testkit fakes them for tests.

pub mod apply;
pub mod clean_slate;
pub mod config;
pub mod conntrack;
pub mod ctnetlink;
pub mod docker_dns;
pub mod exec;
pub mod fetch_path;
pub mod flow;
pub mod inputs;
pub mod marker;
pub mod meta;
pub mod names;
pub mod plan;
pub mod render;
pub mod resolv;
pub mod restore;
pub mod validate;
pub mod world;

pub use config::{Config, Profile};
pub use docker_dns::DockerDnsRules;
pub use inputs::Inputs;
pub use meta::MetaRanges;
pub use plan::Plan;
pub use validate::{Domain, parse_cidr};
