//! The inputs fw-cli gathers from the system before planning, as plain data.
//!
//! Gathering (HTTP, DNS, netlink, `iptables-save`) happens in fw-cli; this module only defines
//! what the gathered facts look like, so that a plan can be built from fixtures as well.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::clean_slate::CleanSlate;
use crate::docker_dns::DockerDnsRules;
use crate::meta::MetaRanges;
use crate::resolv::Resolvers;
use crate::validate::Domain;

/// What resolving one allowlisted domain gave: its addresses (A and AAAA, after following
/// CNAME chains), or a warning saying why there are none. A failed name is never an error
/// (ALW-09): the firewall goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub domain: Domain,
    /// Addresses the name resolved to; empty when it failed.
    #[serde(default)]
    pub addrs: Vec<IpAddr>,
    /// Why the name has no addresses (NXDOMAIN, SERVFAIL, timeout), when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Resolution {
    pub fn ok(domain: Domain, addrs: Vec<IpAddr>) -> Self {
        Resolution {
            domain,
            addrs,
            warning: None,
        }
    }

    pub fn failed(domain: Domain, why: impl Into<String>) -> Self {
        Resolution {
            domain,
            addrs: Vec::new(),
            warning: Some(why.into()),
        }
    }
}

/// A subnet connected to one of the container's interfaces (a Docker network, ALW-07).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subnet {
    pub interface: String,
    pub net: IpNet,
}

/// Everything a plan is built from, besides the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// GitHub meta ranges under the configured keys (web, api, git).
    pub meta: MetaRanges,
    /// Every configured domain, resolved or with a warning.
    pub resolved: Vec<Resolution>,
    /// The container's connected subnets (loopback excluded).
    pub subnets: Vec<Subnet>,
    /// Docker's embedded-DNS nat rules as found before init, to be written back verbatim.
    pub docker_dns: DockerDnsRules,
    /// The resolvers the container uses, from `/etc/resolv.conf`.
    pub resolvers: Resolvers,
    /// Which tables besides filter hold something a clean slate would not.
    #[serde(default)]
    pub clean_slate: CleanSlate,
}
