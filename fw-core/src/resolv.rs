//! `/etc/resolv.conf`: the configured resolvers, and the upstreams Docker's embedded resolver
//! forwards to (the `# ExtServers: [...]` comment Docker writes).
//! STUB: being written by a helper; the public types below are the agreed interface.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolvers {
    /// `nameserver` lines, in order.
    pub nameservers: Vec<IpAddr>,
    /// Upstreams Docker's embedded resolver queries from inside the container's namespace
    /// (plain addresses in `# ExtServers:`); their DNS traffic crosses the container's firewall.
    pub ext_servers: Vec<IpAddr>,
}

impl Resolvers {
    /// The non-loopback addresses DNS must be allowed to: nameservers, then ExtServers,
    /// deduplicated. Loopback resolvers (Docker's 127.0.0.11) need no rule: loopback is open.
    pub fn dns_destinations(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for a in self.nameservers.iter().chain(&self.ext_servers) {
            if !a.is_loopback() && !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }
}
