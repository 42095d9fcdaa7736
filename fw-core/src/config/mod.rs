//! Configuration: built-in defaults, `.cspace.json`, `CSPACE_FIREWALL_DOMAINS`, flags.
//!
//! [`load`] merges the sources into one validated, deterministic [`Config`]. Every key is
//! declared once, in [`keys::KEYS`] (name and JSON path, environment variable, flag, type,
//! default, doc): the file parser, the environment parser, the flags (fw-cli builds its clap
//! arguments from the table), the error messages and `docs/configuration.md` all read it.
//!
//! Nothing here touches the process environment or the file system directly: every read goes
//! through the [`Env`] trait. The real one (`SystemEnv`) lives in fw-cli, the fake one
//! (`FakeEnv`) in fw-testkit.
//!
//! | Module | Concern |
//! |---|---|
//! | [`keys`] | the table of keys, their kinds and defaults, and the check of one value ([`ValueError`]) |
//! | `env` | the [`Env`] seam and the keys read from environment variables |
//! | `url` | the strict `http`/`https` URL parser |
//! | `file` | `.cspace.json` |
//! | `flags` | [`Overrides`], the command-line values |
//! | `layer` | what one source says, checked, before merging |
//! | `load` | merging the sources |
//! | `error` | [`ConfigError`] (with the npm errors), [`Warning`] |
//! | [`npm`] | the npm registry's host from npm's own configuration |
//! | [`docs`] | `docs/configuration.md`, generated from the table |

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::validate::{Domain, parse_cidr};

pub mod docs;
mod env;
mod error;
mod file;
mod flags;
pub mod keys;
mod layer;
mod load;
pub mod npm;
mod url;

#[cfg(test)]
mod tests;

pub use env::{Env, NPM_CONFIG_GET_TIMEOUT, parse_domains_var};
pub use error::{ConfigError, Warning};
pub use flags::Overrides;
pub use keys::{
    CSPACE_JSON, DEFAULT_DNS_PER_NAME, DEFAULT_DOMAINS, DEFAULT_LOCK, DEFAULT_MARKER,
    DEFAULT_META_CONNECT, DEFAULT_META_KEYS, DEFAULT_META_TOTAL, DEFAULT_META_URL, DEFAULT_VERIFY,
    DEFAULT_VERIFY_ALLOWED, DEFAULT_VERIFY_BLOCKED, DOMAINS_VAR, KEYS, Key, MAX_TIMEOUT_MS,
    VERCEL_CIDRS, ValueError,
};
pub use load::{LoadOptions, Loaded, load};
pub use url::{HttpUrl, UrlError, UrlHost, parse_http_url};

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

impl Profile {
    /// Every profile, in the order messages and help list them.
    pub const ALL: [Profile; 2] = [Profile::Strict, Profile::Compat];

    pub const fn as_str(self) -> &'static str {
        match self {
            Profile::Strict => "strict",
            Profile::Compat => "compat",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(ValueError::Profile)
    }
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

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::Npm(source) => write!(f, "npm configuration ({source})"),
            Origin::File { path, pointer } => write!(f, "{} {pointer}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
        }
    }
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

impl Default for MetaSource {
    fn default() -> Self {
        MetaSource {
            url: DEFAULT_META_URL.to_owned(),
            keys: DEFAULT_META_KEYS.iter().map(|k| (*k).to_owned()).collect(),
        }
    }
}

/// The verification targets: one that must be blocked, one that must be reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyTargets {
    pub blocked: String,
    pub allowed: String,
}

impl Default for VerifyTargets {
    fn default() -> Self {
        VerifyTargets {
            blocked: DEFAULT_VERIFY_BLOCKED.to_owned(),
            allowed: DEFAULT_VERIFY_ALLOWED.to_owned(),
        }
    }
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

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            meta_connect: DEFAULT_META_CONNECT,
            meta_total: DEFAULT_META_TOTAL,
            dns_per_name: DEFAULT_DNS_PER_NAME,
            verify: DEFAULT_VERIFY,
            lock: DEFAULT_LOCK,
        }
    }
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

impl Config {
    /// The seed's defaults, with the npm registry's host (and the source it came from) first
    /// when there is one.
    pub fn defaults(npm_registry: Option<(Domain, String)>) -> Config {
        let mut domains: Vec<DomainEntry> = npm_registry
            .into_iter()
            .map(|(domain, source)| DomainEntry {
                domain,
                origin: Origin::Npm(source),
            })
            .collect();
        for name in DEFAULT_DOMAINS {
            // The built-in names are valid; a test checks every one of them.
            if let Ok(domain) = name.parse::<Domain>()
                && !domains.iter().any(|e| e.domain == domain)
            {
                domains.push(DomainEntry {
                    domain,
                    origin: Origin::Default,
                });
            }
        }
        let cidrs = VERCEL_CIDRS
            .iter()
            .filter_map(|c| parse_cidr(c).ok())
            .map(|net| CidrEntry {
                net,
                origin: Origin::Default,
            })
            .collect();
        Config {
            enabled: true,
            profile: Profile::default(),
            domains,
            cidrs,
            meta: MetaSource::default(),
            verify: VerifyTargets::default(),
            marker_path: PathBuf::from(DEFAULT_MARKER),
            timeouts: Timeouts::default(),
        }
    }

    /// The seed's defaults without an npm registry host: for tests and tools that build a
    /// configuration without reading the system.
    pub fn defaults_without_npm() -> Config {
        Config::defaults(None)
    }

    /// Every configured domain, in order.
    pub fn domain_list(&self) -> Vec<Domain> {
        self.domains.iter().map(|e| e.domain.clone()).collect()
    }

    /// Every configured CIDR, in order.
    pub fn cidr_list(&self) -> Vec<IpNet> {
        self.cidrs.iter().map(|e| e.net).collect()
    }

    /// The domains the seed requires: its built-in list and the npm registry's host. Unlike an
    /// extra domain, whose failure is a warning (the seed: "If a domain fails to resolve, a
    /// warning is logged but the firewall continues"), a required domain that does not resolve
    /// fails init, closed: the seed lists them as "required for Claude Code and core tooling
    /// to function", and a firewall without one is as useless as one without GitHub's ranges,
    /// whose failure the seed makes an error.
    pub fn required_domains(&self) -> impl Iterator<Item = &Domain> {
        self.domains
            .iter()
            .filter(|e| matches!(e.origin, Origin::Default | Origin::Npm(_)))
            .map(|e| &e.domain)
    }

    /// The required domains (see [`Config::required_domains`]) that `resolved` has no address
    /// for, each with why ("statsig.com (NXDOMAIN)").
    pub fn required_unresolved(&self, resolved: &[crate::inputs::Resolution]) -> Vec<String> {
        self.required_domains()
            .filter_map(|d| match resolved.iter().find(|r| &r.domain == d) {
                Some(r) if !r.addrs.is_empty() => None,
                Some(r) => Some(format!(
                    "{d} ({})",
                    r.warning.as_deref().unwrap_or("no addresses")
                )),
                None => Some(format!("{d} (not resolved)")),
            })
            .collect()
    }
}
