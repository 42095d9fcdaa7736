//! Docker's embedded-DNS rules in a container's nat table, as `iptables-save -t nat` shows them.
//! STUB: being written by a helper; the public types below are the agreed interface.

use serde::{Deserialize, Serialize};

/// One rule of Docker's, as `-A <chain> <spec>` (counters stripped, everything else verbatim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRule {
    pub chain: String,
    pub spec: String,
}

/// Docker's DNS chains and rules, in their original order: the jumps from OUTPUT and
/// POSTROUTING, then the DNAT/SNAT rules of DOCKER_OUTPUT and DOCKER_POSTROUTING.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerDnsRules {
    /// Docker's user chains that exist (DOCKER_OUTPUT, DOCKER_POSTROUTING).
    pub chains: Vec<String>,
    pub rules: Vec<NatRule>,
}

impl DockerDnsRules {
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty() && self.rules.is_empty()
    }
}
