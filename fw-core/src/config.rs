//! Configuration: built-in defaults, `.cspace.json`, `CSPACE_FIREWALL_DOMAINS`, flags.
//! STUB: being written by a helper; the public types below are the agreed interface.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::validate::Domain;

/// How strict the firewall is. Both are full default-deny firewalls for IPv4 and IPv6.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The hardened default: DNS only to the configured resolvers, SSH only to allowlisted
    /// destinations, forbidden established flows cut.
    #[default]
    Strict,
    /// The seed's documented allowlist exactly: DNS (port 53) and SSH (port 22) to anywhere.
    Compat,
}

/// Where a configured value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A built-in default of the seed.
    Default,
    /// The container's npm configuration (the source named inside).
    Npm(String),
    /// `.cspace.json`: file path and JSON path.
    File { path: PathBuf, pointer: String },
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEntry {
    pub domain: Domain,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidrEntry {
    pub net: IpNet,
    pub origin: Origin,
}

/// The GitHub meta API to fetch and the keys whose ranges are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaSource {
    pub url: String,
    pub keys: Vec<String>,
}

/// The verification targets: one that must be blocked, one that must be reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyTargets {
    pub blocked: String,
    pub allowed: String,
}

/// Time limits of the gathering and verification steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub meta_connect: Duration,
    pub meta_total: Duration,
    pub dns_per_name: Duration,
    pub verify: Duration,
    pub lock: Duration,
}

/// The effective configuration after every source has been applied and validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub enabled: bool,
    pub profile: Profile,
    /// Required domains (the npm registry host first, then the seed's list), then extra
    /// domains; deduplicated, first occurrence kept.
    pub domains: Vec<DomainEntry>,
    /// The Vercel CDN ranges, then extra CIDRs; deduplicated.
    pub cidrs: Vec<CidrEntry>,
    pub meta: MetaSource,
    pub verify: VerifyTargets,
    pub marker_path: PathBuf,
    pub timeouts: Timeouts,
}
