//! Sample configuration and inputs on the sandbox's address plan (docs/sandbox.md), shared by
//! fw-core's and fw-cli's tests, the golden tests and the benchmarks. Not used by the
//! production path.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use fw_core::config::{
    CidrEntry, Config, DomainEntry, MetaSource, Origin, Profile, Timeouts, VerifyTargets,
};
use fw_core::docker_dns::{DockerDnsRules, NatRule};
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::meta::MetaRanges;
use fw_core::resolv::Resolvers;
use fw_core::validate::Domain;

fn domain(s: &str) -> Domain {
    match s.parse() {
        Ok(d) => d,
        Err(e) => panic!("sample domain {s:?} is invalid: {e}"),
    }
}

fn net(s: &str) -> IpNet {
    match s.parse() {
        Ok(n) => n,
        Err(e) => panic!("sample network {s:?} is invalid: {e}"),
    }
}

fn addr(s: &str) -> IpAddr {
    match s.parse() {
        Ok(a) => a,
        Err(e) => panic!("sample address {s:?} is invalid: {e}"),
    }
}

/// A configuration with the seed's Vercel CIDRs, two sample required domains and an
/// unresolvable extra one (from `CSPACE_FIREWALL_DOMAINS`: a warning, not a failure).
pub fn base_config() -> Config {
    Config {
        enabled: true,
        profile: Profile::Strict,
        domains: [
            ("registry.npm.test", Origin::Default),
            ("api.anthropic.com", Origin::Default),
            (
                "nx.example.test",
                Origin::Env("CSPACE_FIREWALL_DOMAINS".to_owned()),
            ),
        ]
        .into_iter()
        .map(|(d, origin)| DomainEntry {
            domain: domain(d),
            origin,
        })
        .collect(),
        cidrs: ["76.76.21.0/24", "64.29.17.0/24", "216.198.79.0/24"]
            .iter()
            .map(|c| CidrEntry {
                net: net(c),
                origin: Origin::Default,
            })
            .collect(),
        meta: MetaSource {
            url: "https://api.github.com/meta".to_owned(),
            keys: vec!["web".to_owned(), "api".to_owned(), "git".to_owned()],
        },
        verify: VerifyTargets {
            blocked: "https://example.com".to_owned(),
            allowed: "https://api.github.com/zen".to_owned(),
        },
        marker_path: PathBuf::from("/tmp/.firewall-init-done"),
        timeouts: Timeouts {
            meta_connect: Duration::from_secs(5),
            meta_total: Duration::from_secs(20),
            dns_per_name: Duration::from_secs(5),
            verify: Duration::from_secs(10),
            lock: Duration::from_secs(60),
        },
    }
}

/// Docker's embedded-DNS rules as Docker writes them (ports 41234/tcp, 53211/udp).
pub fn docker_dns() -> DockerDnsRules {
    let rule = |chain: &str, spec: &str| NatRule {
        chain: chain.to_owned(),
        spec: spec.to_owned(),
    };
    DockerDnsRules {
        chains: vec!["DOCKER_OUTPUT".to_owned(), "DOCKER_POSTROUTING".to_owned()],
        rules: vec![
            rule("OUTPUT", "-d 127.0.0.11/32 -j DOCKER_OUTPUT"),
            rule("POSTROUTING", "-d 127.0.0.11/32 -j DOCKER_POSTROUTING"),
            rule(
                "DOCKER_OUTPUT",
                "-d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41234",
            ),
            rule(
                "DOCKER_OUTPUT",
                "-d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:53211",
            ),
            rule(
                "DOCKER_POSTROUTING",
                "-s 127.0.0.11/32 -p tcp -m tcp --sport 41234 -j SNAT --to-source :53",
            ),
            rule(
                "DOCKER_POSTROUTING",
                "-s 127.0.0.11/32 -p udp -m udp --sport 53211 -j SNAT --to-source :53",
            ),
        ],
        ..DockerDnsRules::default()
    }
}

/// Inputs for a dual-stack container on two Docker networks, with Docker DNS.
pub fn sample_inputs() -> Inputs {
    Inputs {
        meta: MetaRanges {
            ranges: [
                ("web", vec!["192.0.2.0/26", "2001:db8:1::/48"]),
                ("api", vec!["192.0.2.64/26"]),
                ("git", vec!["192.0.2.128/26", "2001:db8:1:2::/64"]),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(net).collect()))
            .collect(),
        },
        resolved: vec![
            Resolution::ok(
                domain("registry.npm.test"),
                vec![
                    addr("203.0.113.10"),
                    addr("203.0.113.11"),
                    addr("2001:db8:10::10"),
                ],
            ),
            Resolution::ok(domain("api.anthropic.com"), vec![addr("203.0.113.20")]),
            Resolution::failed(domain("nx.example.test"), "NXDOMAIN"),
        ],
        subnets: vec![
            Subnet {
                interface: "eth0".to_owned(),
                net: net("172.18.0.2/16"),
            },
            Subnet {
                interface: "eth1".to_owned(),
                net: net("172.19.0.2/16"),
            },
            Subnet {
                interface: "eth0".to_owned(),
                net: net("fd00:18::2/64"),
            },
            Subnet {
                interface: "eth0".to_owned(),
                net: net("fe80::1/64"),
            },
        ],
        docker_dns: docker_dns(),
        resolvers: Resolvers {
            nameservers: vec![addr("127.0.0.11")],
            ..Resolvers::default()
        },
        // Not known: nat and mangle are rewritten, as before anything was read.
        clean_slate: Default::default(),
    }
}
