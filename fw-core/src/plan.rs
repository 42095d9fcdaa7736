//! The plan: pure data built from configuration and inputs, before any text is rendered.
//!
//! A plan is deterministic: every list is sorted and deduplicated, CIDRs are aggregated with
//! `ipnet`, and IPv4 and IPv6 are kept apart, so that the same configuration and inputs always
//! give the same plan whatever order they arrived in. `fw-cli plan --json` prints it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::clean_slate::CleanSlate;
use crate::config::{Config, Profile};
use crate::docker_dns::DockerDnsRules;
use crate::inputs::{Inputs, Subnet};
use crate::resolv::Resolvers;
use crate::validate::split_families;

/// What the firewall will allow, and why, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub profile: Profile,
    /// The IPv4 allowlist loaded into the `fw-allow-v4` set: GitHub meta ranges, the addresses
    /// of every resolved domain and the configured CIDRs, aggregated.
    pub allow_v4: Vec<Ipv4Net>,
    /// The IPv6 allowlist loaded into the `fw-allow-v6` set.
    pub allow_v6: Vec<Ipv6Net>,
    /// Local networks: subnets connected to the container (Docker networks), allowed both
    /// ways, aggregated.
    pub local: LocalNets,
    /// Resolvers DNS is allowed to in the strict profile (the compat profile allows port 53 to
    /// any address). Loopback resolvers such as Docker's 127.0.0.11 need no entry.
    pub dns_v4: Vec<Ipv4Addr>,
    pub dns_v6: Vec<Ipv6Addr>,
    /// Docker's embedded-DNS nat rules, written back verbatim.
    pub docker_dns: DockerDnsRules,
    /// Which tables besides filter the rendering rewrites (SEQ-03).
    pub clean_slate: CleanSlate,
    /// Things the operator should know: failed names, dropped answers.
    pub warnings: Vec<String>,
    /// Counts for reports (INF-02).
    pub stats: PlanStats,
}

/// The container's own networks, which the firewall never cuts off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalNets {
    pub v4: Vec<Ipv4Net>,
    pub v6: Vec<Ipv6Net>,
}

impl LocalNets {
    /// The connected subnets, minus what needs no rule or must not get one: loopback (always
    /// open) and IPv6 link-local (every link has it; neighbour discovery is allowed by its own
    /// ICMPv6 rules instead, so fe80::/64 never opens a link to arbitrary peers).
    pub fn from_subnets(subnets: &[Subnet]) -> Self {
        let nets = subnets.iter().map(|s| s.net.trunc()).filter(|n| match n {
            IpNet::V4(n) => !n.addr().is_loopback(),
            IpNet::V6(n) => !n.addr().is_loopback() && !is_link_local_v6(&n.addr()),
        });
        let (v4, v6) = split_families(nets);
        LocalNets {
            v4: Ipv4Net::aggregate(&v4),
            v6: Ipv6Net::aggregate(&v6),
        }
    }
}

/// Counts of what went into the allowlist, before aggregation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanStats {
    pub meta_ranges: usize,
    pub domains_resolved: usize,
    pub domains_failed: usize,
    pub resolved_addresses: usize,
    pub configured_cidrs: usize,
    /// Entries of the two sets after aggregation.
    pub set_entries_v4: usize,
    pub set_entries_v6: usize,
}

fn is_link_local_v6(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// Why a resolved address is not put in the allowlist, if it must not be. A name is an
/// untrusted input: an answer pointing at "any address", multicast or broadcast would open
/// nothing useful and could open too much. Loopback needs no entry (always open).
fn unusable_answer(a: &IpAddr) -> Option<&'static str> {
    match a {
        IpAddr::V4(v4) if v4.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        IpAddr::V4(v4) if v4.is_multicast() => Some("a multicast address"),
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address (always allowed)"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address (always allowed)"),
        _ => None,
    }
}

/// The warning when the allowlist's entries add up to every address of a family.
const ALL_ADDRESSES: &str = "the allowlist's entries add up to every {} address: refused, \
                             none of them is allowed";

impl Plan {
    /// Builds the plan for a successful gathering.
    pub fn build(config: &Config, inputs: &Inputs) -> Plan {
        let mut warnings = Vec::new();
        let mut stats = PlanStats::default();
        let mut nets: Vec<IpNet> = Vec::new();

        nets.extend(inputs.meta.nets());
        stats.meta_ranges = nets.len();

        let mut resolved = inputs.resolved.clone();
        resolved.sort_by(|a, b| a.domain.cmp(&b.domain));
        for r in &resolved {
            if r.addrs.is_empty() {
                stats.domains_failed += 1;
                let why = r.warning.as_deref().unwrap_or("no addresses");
                warnings.push(format!("domain {} not allowed: {why}", r.domain));
                continue;
            }
            stats.domains_resolved += 1;
            let mut addrs = r.addrs.clone();
            addrs.sort();
            addrs.dedup();
            for a in addrs {
                if let Some(why) = unusable_answer(&a) {
                    warnings.push(format!("domain {} answer {a} skipped: {why}", r.domain));
                    continue;
                }
                stats.resolved_addresses += 1;
                nets.push(IpNet::from(a));
            }
        }

        stats.configured_cidrs = config.cidrs.len();
        nets.extend(config.cidrs.iter().map(|c| c.net));

        let (v4, v6) = split_families(nets);
        let mut allow_v4 = Ipv4Net::aggregate(&v4);
        let mut allow_v6 = Ipv6Net::aggregate(&v6);
        // Entries that add up to every address (0.0.0.0/1 and 128.0.0.0/1, say) would make an
        // allow-all rule: that is no firewall, whoever asked for it. They are left out with a
        // warning, so whatever they held is blocked and verification fails closed.
        if allow_v4.iter().any(|n| n.prefix_len() == 0) {
            warnings.push(ALL_ADDRESSES.replace("{}", "IPv4 (0.0.0.0/0)"));
            allow_v4.retain(|n| n.prefix_len() > 0);
        }
        if allow_v6.iter().any(|n| n.prefix_len() == 0) {
            warnings.push(ALL_ADDRESSES.replace("{}", "IPv6 (::/0)"));
            allow_v6.retain(|n| n.prefix_len() > 0);
        }
        stats.set_entries_v4 = allow_v4.len();
        stats.set_entries_v6 = allow_v6.len();

        let (dns_v4, dns_v6) = dns_servers(&inputs.resolvers);
        Plan {
            profile: config.profile,
            allow_v4,
            allow_v6,
            local: LocalNets::from_subnets(&inputs.subnets),
            dns_v4,
            dns_v6,
            docker_dns: inputs.docker_dns.clone(),
            clean_slate: inputs.clean_slate.clone(),
            warnings,
            stats,
        }
    }
}

/// The resolvers DNS must reach, split by family, sorted and deduplicated.
pub fn dns_servers(resolvers: &Resolvers) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for a in resolvers.dns_destinations() {
        match a {
            IpAddr::V4(a) => v4.push(a),
            IpAddr::V6(a) => v6.push(a),
        }
    }
    v4.sort();
    v4.dedup();
    v6.sort();
    v6.dedup();
    (v4, v6)
}

/// What the safe closed ruleset keeps open after a failure: loopback, established flows, DNS
/// to the configured resolvers and the container's own networks. Nothing else, and no ipset
/// (the failure may be that `ipset` is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SafeClosed {
    pub local: LocalNets,
    pub dns_v4: Vec<Ipv4Addr>,
    pub dns_v6: Vec<Ipv6Addr>,
}

impl SafeClosed {
    pub fn new(subnets: &[Subnet], resolvers: &Resolvers) -> Self {
        let (dns_v4, dns_v6) = dns_servers(resolvers);
        SafeClosed {
            local: LocalNets::from_subnets(subnets),
            dns_v4,
            dns_v6,
        }
    }
}
