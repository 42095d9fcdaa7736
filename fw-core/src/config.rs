//! Configuration: built-in defaults, `.cspace.json`, `CSPACE_FIREWALL_DOMAINS`, flags.
//!
//! [`load`] merges the sources into one validated, deterministic [`Config`]. Nothing here
//! touches the process environment or the file system directly: every read goes through the
//! [`Env`] trait, with [`SystemEnv`] for the real system and [`FakeEnv`] for tests (of this
//! crate and of others, which is why it is a plain public type and not behind `cfg(test)`).
//!
//! The full reference of the sources and keys is `docs/configuration.md`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::npm::{self, NpmError, redact};
use crate::validate::{CidrError, Domain, DomainError, parse_cidr, shown};

/// The seed's required domains after the npm registry's host, in the seed's order.
pub const DEFAULT_DOMAINS: [&str; 10] = [
    "api.anthropic.com",
    "auth.anthropic.com",
    "claude.ai",
    "context7.com",
    "sentry.io",
    "us.sentry.io",
    "mcp.sentry.dev",
    "statsig.anthropic.com",
    "statsig.com",
    "playwright.dev",
];
/// The seed's Vercel CDN ranges.
pub const VERCEL_CIDRS: [&str; 3] = ["76.76.21.0/24", "64.29.17.0/24", "216.198.79.0/24"];
/// The GitHub meta API the seed fetches.
pub const DEFAULT_META_URL: &str = "https://api.github.com/meta";
/// The meta keys whose ranges the seed allows.
pub const DEFAULT_META_KEYS: [&str; 3] = ["web", "api", "git"];
/// The seed's "must be blocked" verification target.
pub const DEFAULT_VERIFY_BLOCKED: &str = "https://example.com";
/// The seed's "must be reachable" verification target.
pub const DEFAULT_VERIFY_ALLOWED: &str = "https://api.github.com/zen";
/// The seed's success marker.
pub const DEFAULT_MARKER: &str = "/tmp/.firewall-init-done";
/// The file name looked for in the workspace directory.
pub const CSPACE_JSON: &str = ".cspace.json";
/// The seed's variable of extra domains.
pub const DOMAINS_VAR: &str = "CSPACE_FIREWALL_DOMAINS";

/// Connecting to the meta API: a reachable host answers in well under a second; 5 s covers a
/// slow network without letting a refusing or black-holed host stall init.
pub const DEFAULT_META_CONNECT: Duration = Duration::from_secs(5);
/// The whole meta request, body included. A meta host that accepts and never answers must fail
/// init well within 60 s (FAIL-04); the real response is a few hundred kB.
pub const DEFAULT_META_TOTAL: Duration = Duration::from_secs(20);
/// Resolving one allowlisted name (A and AAAA, CNAMEs followed). A slow name then only costs
/// its own warning (ALW-09), not the whole init.
pub const DEFAULT_DNS_PER_NAME: Duration = Duration::from_secs(5);
/// Each verification probe. Long enough for a TLS handshake on a slow link, short enough that a
/// DROP somewhere shows as a failure rather than a hang.
pub const DEFAULT_VERIFY: Duration = Duration::from_secs(10);
/// Waiting for another init that holds the lock (SEQ-10): longer than a normal init, so that
/// concurrent starts serialise instead of failing.
pub const DEFAULT_LOCK: Duration = Duration::from_secs(60);
/// The upper bound of every configurable timeout: a container start must not hang for longer.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The command-line flag names that [`Overrides`] fields stand for. They appear in messages and
/// in [`Origin::Flag`]; fw-cli should name its flags the same.
pub mod flag {
    pub const ENABLED: &str = "--enabled";
    pub const DISABLE: &str = "--disable";
    pub const PROFILE: &str = "--profile";
    pub const DOMAIN: &str = "--domain";
    pub const CIDR: &str = "--cidr";
    pub const MARKER: &str = "--marker";
    pub const META_URL: &str = "--meta-url";
    pub const META_KEY: &str = "--meta-key";
    pub const VERIFY_BLOCKED: &str = "--verify-blocked";
    pub const VERIFY_ALLOWED: &str = "--verify-allowed";
    pub const META_CONNECT_TIMEOUT_MS: &str = "--meta-connect-timeout-ms";
    pub const META_TOTAL_TIMEOUT_MS: &str = "--meta-total-timeout-ms";
    pub const DNS_TIMEOUT_MS: &str = "--dns-timeout-ms";
    pub const VERIFY_TIMEOUT_MS: &str = "--verify-timeout-ms";
    pub const LOCK_TIMEOUT_MS: &str = "--lock-timeout-ms";
}

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
    pub fn as_str(self) -> &'static str {
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
        match s {
            "strict" => Ok(Profile::Strict),
            "compat" => Ok(Profile::Compat),
            _ => Err(ValueError::Profile),
        }
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
            if let Ok(domain) = name.parse::<Domain>() {
                push_domain(&mut domains, domain, Origin::Default);
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

// ---------------------------------------------------------------------------------------------
// The seam to the system.

/// The few facts about the system that loading the configuration needs.
pub trait Env {
    /// An environment variable; `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
    /// A file's text; `Ok(None)` when it does not exist.
    fn read_file(&self, path: &Path) -> io::Result<Option<String>>;
    /// The output of `npm config get registry`, or `None` when npm is absent or fails.
    fn npm_config_get_registry(&self) -> Option<String>;
}

/// How long `npm config get registry` may take before it is abandoned (npm starts node and
/// reads its config files: normally well under a second).
pub const NPM_CONFIG_GET_TIMEOUT: Duration = Duration::from_secs(10);

/// The real system: the process environment, the file system, and the `npm` on `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnv;

impl Env for SystemEnv {
    /// A variable that is not valid UTF-8 is read lossily, so that it fails validation loudly
    /// (with U+FFFD in the message) instead of silently counting as unset.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `npm config get registry` (an argument vector, no shell) only when an executable
    /// `npm` is on `PATH`. The child gets no stdin, its stderr is discarded, `NODE_OPTIONS` is
    /// removed (the firewall runs as root; an inherited `--require` must not run code) and the
    /// update notifier is off. It is killed after [`NPM_CONFIG_GET_TIMEOUT`] (the child only:
    /// `npm` is a node script that runs in that process, so nothing else is left behind, but a
    /// wrapper script's own children would be). Any failure is `None`: this is the last resort
    /// after every file and variable.
    fn npm_config_get_registry(&self) -> Option<String> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        use std::sync::mpsc;
        use std::time::Instant;

        // Stopgap until this moves to fw-cli beside `system::tools::find_on_path`: the first
        // executable `npm` in an absolute `PATH` entry.
        let npm = std::env::split_paths(&std::env::var_os("PATH")?)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join("npm"))
            .find(|p| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })?;
        let mut child = Command::new(npm)
            .args(["config", "get", "registry"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("NODE_OPTIONS")
            .env("NO_UPDATE_NOTIFIER", "1")
            .env("npm_config_update_notifier", "false")
            .spawn()
            .ok()?;
        let deadline = Instant::now() + NPM_CONFIG_GET_TIMEOUT;
        let Some(mut stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        // Read on a thread so that a child that never closes its stdout cannot block us.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            let res = stdout.read_to_string(&mut out).map(|_| out);
            let _ = tx.send(res);
        });
        let out = rx.recv_timeout(NPM_CONFIG_GET_TIMEOUT);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return match out {
                        Ok(Ok(text)) if status.success() => Some(text),
                        _ => None,
                    };
                }
                Ok(None) if Instant::now() < deadline && out.is_ok() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

/// An [`Env`] made of maps, for tests. Files not in `files` do not exist; files in `unreadable`
/// fail with the given error kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeEnv {
    pub vars: HashMap<String, String>,
    pub files: HashMap<PathBuf, String>,
    pub unreadable: HashMap<PathBuf, io::ErrorKind>,
    /// What `npm config get registry` prints; `None` when npm is absent.
    pub npm_registry: Option<String>,
}

impl FakeEnv {
    pub fn new() -> Self {
        FakeEnv::default()
    }

    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: &str) -> Self {
        self.files.insert(path.into(), text.to_owned());
        self
    }

    pub fn with_unreadable(mut self, path: impl Into<PathBuf>, kind: io::ErrorKind) -> Self {
        self.unreadable.insert(path.into(), kind);
        self
    }

    pub fn with_npm_registry(mut self, output: &str) -> Self {
        self.npm_registry = Some(output.to_owned());
        self
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<String>> {
        if let Some(kind) = self.unreadable.get(path) {
            return Err(io::Error::from(*kind));
        }
        Ok(self.files.get(path).cloned())
    }

    fn npm_config_get_registry(&self) -> Option<String> {
        self.npm_registry.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// URLs.

/// The parts of an `http`/`https` URL that the firewall cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    pub host: UrlHost,
    pub port: Option<u16>,
    /// Whether the URL carries `user[:password]@` before the host.
    pub has_userinfo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    Domain(Domain),
    Ip(IpAddr),
}

/// Why a value is not an acceptable `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("empty url")]
    Empty,
    #[error("character {0:?} is not allowed in a url")]
    BadChar(char),
    #[error("no http:// or https:// scheme")]
    NoScheme,
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("no host")]
    NoHost,
    #[error("port {0:?} is not a number from 1 to 65535")]
    Port(String),
    #[error("{0:?} is not an IPv6 address")]
    Ipv6(String),
    /// The host is neither an IP literal nor a valid host name (the value names the host).
    #[error("bad host: {0}")]
    Host(DomainError),
    #[error("user:password@ credentials are not allowed in this url")]
    Userinfo,
}

/// Parses `http[s]://[userinfo@]host[:port][/path][?query][#fragment]` without a URL crate: the
/// firewall only needs the host, and a strict, small parser is easy to audit. The host is a
/// validated [`Domain`] or an IP literal (`[v6]` in brackets). Whitespace, control characters,
/// non-ASCII and the characters URLs never carry unencoded (`"<>\^`{|}`) are refused anywhere.
pub fn parse_http_url(s: &str) -> Result<HttpUrl, UrlError> {
    if s.is_empty() {
        return Err(UrlError::Empty);
    }
    if let Some(c) = s.chars().find(|c| {
        !c.is_ascii_graphic() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    }) {
        return Err(UrlError::BadChar(c));
    }
    let (scheme, rest) = s.split_once("://").ok_or(UrlError::NoScheme)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        "" => return Err(UrlError::NoScheme),
        _ => return Err(UrlError::Scheme(shown(scheme))),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (has_userinfo, hostport) = match authority.rsplit_once('@') {
        Some((_, hp)) => (true, hp),
        None => (false, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::Ipv6(shown(hostport)))?;
        let ip: Ipv6Addr = addr.parse().map_err(|_| UrlError::Ipv6(shown(addr)))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::Port(shown(p)))?,
            ),
        };
        (UrlHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match hostport.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (hostport, None),
        };
        if name.is_empty() {
            return Err(UrlError::NoHost);
        }
        let host = match name.parse::<Ipv4Addr>() {
            Ok(ip) => UrlHost::Ip(IpAddr::V4(ip)),
            Err(_) => UrlHost::Domain(name.parse().map_err(UrlError::Host)?),
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UrlError::Port(shown(p)))?,
        ),
    };
    Ok(HttpUrl {
        https,
        host,
        port,
        has_userinfo,
    })
}

// ---------------------------------------------------------------------------------------------
// Errors and warnings.

/// Why one configured value is invalid (the caller adds where it came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Cidr(#[from] CidrError),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("expected {0}")]
    Type(&'static str),
    #[error("unknown profile; expected \"strict\" or \"compat\"")]
    Profile,
    #[error("the marker path must be absolute")]
    RelativePath,
    #[error("the marker path must name a file")]
    NoFileName,
    #[error("character {0:?} is not allowed in a path")]
    PathChar(char),
    #[error("a meta key must be a lowercase identifier (a-z, 0-9 and '_', starting with a letter)")]
    MetaKey,
    #[error("at least one meta key is required: a firewall without GitHub's ranges is not useful")]
    NoMetaKeys,
    #[error("a timeout must be at least 1 ms")]
    ZeroTimeout,
    #[error("{0} ms is more than the limit of {MAX_TIMEOUT_MS} ms")]
    TimeoutTooLong(u64),
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {err}")]
    Read {
        path: PathBuf,
        #[source]
        err: io::Error,
    },
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}:{line}:{column}: invalid json: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: the top level must be a json object")]
    TopLevel { path: PathBuf },
    #[error("{path}: {pointer}: invalid value {value}: {reason}")]
    File {
        path: PathBuf,
        /// JSON pointer of the value, e.g. `/firewall/domains/3`.
        pointer: String,
        /// The value as JSON text (shortened when long).
        value: String,
        reason: ValueError,
    },
    #[error("environment variable {var}: invalid entry {entry:?}: {reason}")]
    Env {
        var: String,
        entry: String,
        reason: ValueError,
    },
    #[error("flag {flag}: invalid value {value:?}: {reason}")]
    Flag {
        flag: String,
        value: String,
        reason: ValueError,
    },
    #[error(transparent)]
    Npm(#[from] NpmError),
}

/// Something odd in the configuration that does not stop the firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Where: a file and JSON pointer, a variable, the npm configuration.
    pub source: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// The result of [`load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

// ---------------------------------------------------------------------------------------------
// Options.

/// What fw-cli passes in: where `.cspace.json` is, and the command-line overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// An explicit `.cspace.json`; it must exist. Takes precedence over `workspace_dir`.
    pub cspace_json: Option<PathBuf>,
    /// The workspace: `<workspace_dir>/.cspace.json` is read when it exists (a missing file is
    /// normal), and `<workspace_dir>/.npmrc` is npm's project config. With neither this nor
    /// `cspace_json`, no file is read.
    pub workspace_dir: Option<PathBuf>,
    pub overrides: Overrides,
}

/// Command-line overrides, filled by fw-cli from clap. Values are raw strings, validated here so
/// that every source gets the same checks and messages (naming the [`flag`]).
/// Scalars replace what the file says; `domains` and `cidrs` are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `Some(false)` for `--disable`, `Some(true)` for `--enabled`.
    pub enabled: Option<bool>,
    pub profile: Option<Profile>,
    pub domains: Vec<String>,
    pub cidrs: Vec<String>,
    pub marker_path: Option<PathBuf>,
    pub meta_url: Option<String>,
    /// Replaces the whole list of meta keys.
    pub meta_keys: Option<Vec<String>>,
    pub verify_blocked: Option<String>,
    pub verify_allowed: Option<String>,
    pub timeouts: TimeoutOverrides,
}

/// Timeouts in milliseconds, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutOverrides {
    pub meta_connect_ms: Option<u64>,
    pub meta_total_ms: Option<u64>,
    pub dns_ms: Option<u64>,
    pub verify_ms: Option<u64>,
    pub lock_ms: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// One source's contribution: `None` and empty mean "says nothing".
#[derive(Debug, Default)]
struct Layer {
    enabled: Option<bool>,
    profile: Option<Profile>,
    domains: Vec<DomainEntry>,
    cidrs: Vec<CidrEntry>,
    marker: Option<PathBuf>,
    meta_url: Option<String>,
    meta_keys: Option<Vec<String>>,
    verify_blocked: Option<String>,
    verify_allowed: Option<String>,
    meta_connect: Option<Duration>,
    meta_total: Option<Duration>,
    dns: Option<Duration>,
    verify_timeout: Option<Duration>,
    lock: Option<Duration>,
}

/// Loads the effective configuration.
///
/// Sources, later ones overriding earlier ones:
///
/// 1. the seed's defaults, with the npm registry's host first ([`crate::npm`]);
/// 2. `.cspace.json` (`opts.cspace_json`, else `<opts.workspace_dir>/.cspace.json` if present);
/// 3. `CSPACE_FIREWALL_DOMAINS`: extra domains separated by spaces, tabs or newlines;
/// 4. command-line flags ([`Overrides`]).
///
/// Domains and CIDRs add up across sources (deduplicated, first occurrence and its [`Origin`]
/// kept); scalars are replaced by the last source that sets them. Scalar overrides from the
/// environment, if fw-cli offers them, come through clap's `env` attributes as flags.
///
/// The `firewall` object of `.cspace.json` (other top-level keys belong to the wider cspace
/// tool and are ignored silently; unknown keys inside `firewall` are warnings):
///
/// | Key | Type | Default | Notes |
/// |---|---|---|---|
/// | `enabled` | bool | `true` | seed; `false` still loads, with `enabled: false` |
/// | `domains` | array of strings | `[]` | seed; host names, added to the required list |
/// | `cidrs` | array of strings | `[]` | added to the Vercel ranges; `/0` refused |
/// | `profile` | `"strict"` / `"compat"` | `"strict"` | |
/// | `verify.blocked` | url | `https://example.com` | http or https, no credentials |
/// | `verify.allowed` | url | `https://api.github.com/zen` | http or https, no credentials |
/// | `marker` | absolute path | `/tmp/.firewall-init-done` | |
/// | `timeouts.meta_connect_ms` | integer ms | 5000 | 1 to 600000 |
/// | `timeouts.meta_total_ms` | integer ms | 20000 | 1 to 600000 |
/// | `timeouts.dns_ms` | integer ms | 5000 | per name, 1 to 600000 |
/// | `timeouts.verify_ms` | integer ms | 10000 | per probe, 1 to 600000 |
/// | `timeouts.lock_ms` | integer ms | 60000 | 1 to 600000 |
/// | `meta.url` | url | `https://api.github.com/meta` | http or https, no credentials |
/// | `meta.keys` | array of strings | `["web","api","git"]` | non-empty, lowercase identifiers |
///
/// When the firewall ends up disabled, an unusable npm configuration is a warning instead of
/// an error: nothing will be enforced, so nothing should stop the container.
pub fn load(env: &dyn Env, opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();

    let file = match cspace_json_text(env, opts)? {
        Some((path, text)) => parse_cspace_json(&path, &text, &mut warnings)?,
        None => Layer::default(),
    };
    let env_domains = parse_domains_var(env.var(DOMAINS_VAR).as_deref())?;
    let flags = flag_layer(&opts.overrides)?;
    let enabled = flags.enabled.or(file.enabled).unwrap_or(true);

    let npm = match npm::npm_registry_host_in(env, opts.workspace_dir.as_deref()) {
        Ok(Some(found)) => Some(found),
        Ok(None) => {
            warnings.push(Warning {
                source: "npm configuration".to_owned(),
                message: "no npm registry is configured (no NPM_CONFIG_REGISTRY, no registry= \
                          in any .npmrc, no npm on PATH); no npm registry host is allowed"
                    .to_owned(),
            });
            None
        }
        Err(e) if !enabled => {
            warnings.push(Warning {
                source: "npm configuration".to_owned(),
                message: format!("{e} (ignored: the firewall is disabled)"),
            });
            None
        }
        Err(e) => return Err(e.into()),
    };

    let mut config = Config::defaults(npm);
    config.enabled = enabled;
    for layer in [&file, &flags] {
        apply_scalars(&mut config, layer);
    }
    let extra = file
        .domains
        .into_iter()
        .chain(env_domains)
        .chain(flags.domains);
    // Sets of what is in already: tens of thousands of entries must not cost a scan each.
    let mut seen: HashSet<Domain> = config.domains.iter().map(|e| e.domain.clone()).collect();
    for entry in extra {
        if seen.insert(entry.domain.clone()) {
            config.domains.push(entry);
        }
    }
    let mut seen: HashSet<IpNet> = config.cidrs.iter().map(|c| c.net).collect();
    for entry in file.cidrs.into_iter().chain(flags.cidrs) {
        if seen.insert(entry.net) {
            config.cidrs.push(entry);
        }
    }
    if config.timeouts.meta_connect > config.timeouts.meta_total {
        warnings.push(Warning {
            source: "timeouts".to_owned(),
            message: format!(
                "the meta connect timeout ({} ms) is longer than the meta total timeout ({} ms), \
                 which limits it",
                config.timeouts.meta_connect.as_millis(),
                config.timeouts.meta_total.as_millis()
            ),
        });
    }
    Ok(Loaded { config, warnings })
}

fn apply_scalars(config: &mut Config, layer: &Layer) {
    if let Some(p) = layer.profile {
        config.profile = p;
    }
    if let Some(m) = &layer.marker {
        config.marker_path = m.clone();
    }
    if let Some(u) = &layer.meta_url {
        config.meta.url = u.clone();
    }
    if let Some(k) = &layer.meta_keys {
        config.meta.keys = k.clone();
    }
    if let Some(b) = &layer.verify_blocked {
        config.verify.blocked = b.clone();
    }
    if let Some(a) = &layer.verify_allowed {
        config.verify.allowed = a.clone();
    }
    let t = &mut config.timeouts;
    for (slot, value) in [
        (&mut t.meta_connect, layer.meta_connect),
        (&mut t.meta_total, layer.meta_total),
        (&mut t.dns_per_name, layer.dns),
        (&mut t.verify, layer.verify_timeout),
        (&mut t.lock, layer.lock),
    ] {
        if let Some(v) = value {
            *slot = v;
        }
    }
}

fn push_domain(list: &mut Vec<DomainEntry>, domain: Domain, origin: Origin) {
    if !list.iter().any(|e| e.domain == domain) {
        list.push(DomainEntry { domain, origin });
    }
}

/// The `.cspace.json` to read and its text, if any.
fn cspace_json_text(
    env: &dyn Env,
    opts: &LoadOptions,
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let (path, required) = match (&opts.cspace_json, &opts.workspace_dir) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(dir)) => (dir.join(CSPACE_JSON), false),
        (None, None) => return Ok(None),
    };
    match env.read_file(&path) {
        Ok(Some(text)) => Ok(Some((path, text))),
        Ok(None) if required => Err(ConfigError::NotFound { path }),
        Ok(None) => Ok(None),
        Err(err) => Err(ConfigError::Read { path, err }),
    }
}

/// Splits `CSPACE_FIREWALL_DOMAINS` on whitespace and validates every entry. A shell
/// metacharacter can never pass [`Domain`] validation, so `a.com;rm -rf /` or `$(id).com` is an
/// error naming the variable and the entry, before any of it reaches a command line.
pub fn parse_domains_var(value: Option<&str>) -> Result<Vec<DomainEntry>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split([' ', '\t', '\n', '\r'])
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<Domain>()
                .map(|domain| DomainEntry {
                    domain,
                    origin: Origin::Env(DOMAINS_VAR.to_owned()),
                })
                .map_err(|reason| ConfigError::Env {
                    var: DOMAINS_VAR.to_owned(),
                    entry: shown(entry),
                    reason: reason.into(),
                })
        })
        .collect()
}

fn flag_layer(o: &Overrides) -> Result<Layer, ConfigError> {
    let bad = |flag: &str, value: &str, reason: ValueError| ConfigError::Flag {
        flag: flag.to_owned(),
        value: shown(value),
        reason,
    };
    let mut layer = Layer {
        enabled: o.enabled,
        profile: o.profile,
        ..Layer::default()
    };
    for d in &o.domains {
        let domain = d
            .parse::<Domain>()
            .map_err(|e| bad(flag::DOMAIN, d, e.into()))?;
        layer.domains.push(DomainEntry {
            domain,
            origin: Origin::Flag(flag::DOMAIN.to_owned()),
        });
    }
    for c in &o.cidrs {
        let net = parse_cidr(c).map_err(|e| bad(flag::CIDR, c, e.into()))?;
        layer.cidrs.push(CidrEntry {
            net,
            origin: Origin::Flag(flag::CIDR.to_owned()),
        });
    }
    if let Some(m) = &o.marker_path {
        let shown = m.display().to_string();
        layer.marker = Some(check_marker(m).map_err(|e| bad(flag::MARKER, &shown, e))?);
    }
    if let Some(u) = &o.meta_url {
        layer.meta_url = Some(check_url(u).map_err(|e| bad(flag::META_URL, &redact(u), e))?);
    }
    if let Some(keys) = &o.meta_keys {
        let mut out = Vec::new();
        for k in keys {
            let k = check_meta_key(k).map_err(|e| bad(flag::META_KEY, k, e))?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(bad(flag::META_KEY, "", ValueError::NoMetaKeys));
        }
        layer.meta_keys = Some(out);
    }
    if let Some(u) = &o.verify_blocked {
        layer.verify_blocked =
            Some(check_url(u).map_err(|e| bad(flag::VERIFY_BLOCKED, &redact(u), e))?);
    }
    if let Some(u) = &o.verify_allowed {
        layer.verify_allowed =
            Some(check_url(u).map_err(|e| bad(flag::VERIFY_ALLOWED, &redact(u), e))?);
    }
    let t = &o.timeouts;
    for (slot, value, name) in [
        (
            &mut layer.meta_connect,
            t.meta_connect_ms,
            flag::META_CONNECT_TIMEOUT_MS,
        ),
        (
            &mut layer.meta_total,
            t.meta_total_ms,
            flag::META_TOTAL_TIMEOUT_MS,
        ),
        (&mut layer.dns, t.dns_ms, flag::DNS_TIMEOUT_MS),
        (
            &mut layer.verify_timeout,
            t.verify_ms,
            flag::VERIFY_TIMEOUT_MS,
        ),
        (&mut layer.lock, t.lock_ms, flag::LOCK_TIMEOUT_MS),
    ] {
        if let Some(ms) = value {
            *slot = Some(check_timeout_ms(ms).map_err(|e| bad(name, &ms.to_string(), e))?);
        }
    }
    Ok(layer)
}

/// An `http`/`https` URL with a valid host and no credentials: these URLs are printed in plans
/// and logs, and none of the firewall's own requests needs a password.
fn check_url(s: &str) -> Result<String, ValueError> {
    if parse_http_url(s)?.has_userinfo {
        return Err(UrlError::Userinfo.into());
    }
    Ok(s.to_owned())
}

fn check_marker(p: &Path) -> Result<PathBuf, ValueError> {
    if let Some(c) = p.to_string_lossy().chars().find(|c| c.is_control()) {
        return Err(ValueError::PathChar(c));
    }
    if !p.is_absolute() {
        return Err(ValueError::RelativePath);
    }
    if p.file_name().is_none() || p.to_string_lossy().ends_with('/') {
        return Err(ValueError::NoFileName);
    }
    Ok(p.to_owned())
}

fn check_meta_key(k: &str) -> Result<String, ValueError> {
    let mut chars = k.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && k.len() <= 64;
    if ok {
        Ok(k.to_owned())
    } else {
        Err(ValueError::MetaKey)
    }
}

fn check_timeout_ms(ms: u64) -> Result<Duration, ValueError> {
    match ms {
        0 => Err(ValueError::ZeroTimeout),
        ms if ms > MAX_TIMEOUT_MS => Err(ValueError::TimeoutTooLong(ms)),
        ms => Ok(Duration::from_millis(ms)),
    }
}

// ---------------------------------------------------------------------------------------------
// .cspace.json

/// A JSON pointer with one more reference token (RFC 6901 escaping).
fn ptr(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// A JSON value for a message: compact, and cut after 120 characters.
fn show(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// Walks a parsed `.cspace.json`, keeping the JSON pointer of every value for messages.
struct FileReader<'a> {
    path: &'a Path,
    warnings: &'a mut Vec<Warning>,
}

impl FileReader<'_> {
    fn bad(&self, pointer: &str, value: &Value, reason: ValueError) -> ConfigError {
        ConfigError::File {
            path: self.path.to_owned(),
            pointer: pointer.to_owned(),
            value: show(value),
            reason,
        }
    }

    fn unknown(&mut self, pointer: &str) {
        self.warnings.push(Warning {
            source: format!("{} {pointer}", self.path.display()),
            message: "unknown key, ignored".to_owned(),
        });
    }

    fn object<'v>(&self, p: &str, v: &'v Value) -> Result<&'v Map<String, Value>, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.bad(p, v, ValueError::Type("an object")))
    }

    fn array<'v>(&self, p: &str, v: &'v Value) -> Result<&'v [Value], ConfigError> {
        v.as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.bad(p, v, ValueError::Type("an array of strings")))
    }

    fn string<'v>(&self, p: &str, v: &'v Value) -> Result<&'v str, ConfigError> {
        v.as_str()
            .ok_or_else(|| self.bad(p, v, ValueError::Type("a string")))
    }

    fn url(&self, p: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(p, v)?;
        check_url(s).map_err(|e| self.bad(p, &Value::String(redact(s)), e))
    }

    fn timeout(&self, p: &str, v: &Value) -> Result<Duration, ConfigError> {
        let ms = v
            .as_u64()
            .ok_or_else(|| self.bad(p, v, ValueError::Type("a whole number of milliseconds")))?;
        check_timeout_ms(ms).map_err(|e| self.bad(p, v, e))
    }

    fn firewall(&mut self, fw: &Map<String, Value>) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        for (key, v) in fw {
            let p = ptr("/firewall", key);
            match key.as_str() {
                "enabled" => {
                    layer.enabled = Some(
                        v.as_bool()
                            .ok_or_else(|| self.bad(&p, v, ValueError::Type("true or false")))?,
                    );
                }
                "domains" => {
                    for (i, item) in self.array(&p, v)?.iter().enumerate() {
                        let ip = ptr(&p, &i.to_string());
                        let domain = self
                            .string(&ip, item)?
                            .parse::<Domain>()
                            .map_err(|e| self.bad(&ip, item, e.into()))?;
                        layer.domains.push(DomainEntry {
                            domain,
                            origin: Origin::File {
                                path: self.path.to_owned(),
                                pointer: ip,
                            },
                        });
                    }
                }
                "cidrs" => {
                    for (i, item) in self.array(&p, v)?.iter().enumerate() {
                        let ip = ptr(&p, &i.to_string());
                        let net = parse_cidr(self.string(&ip, item)?)
                            .map_err(|e| self.bad(&ip, item, e.into()))?;
                        layer.cidrs.push(CidrEntry {
                            net,
                            origin: Origin::File {
                                path: self.path.to_owned(),
                                pointer: ip,
                            },
                        });
                    }
                }
                "profile" => {
                    layer.profile = Some(
                        self.string(&p, v)?
                            .parse()
                            .map_err(|e| self.bad(&p, v, e))?,
                    );
                }
                "marker" => {
                    let s = self.string(&p, v)?;
                    layer.marker =
                        Some(check_marker(Path::new(s)).map_err(|e| self.bad(&p, v, e))?);
                }
                "verify" => {
                    for (k, item) in self.object(&p, v)? {
                        let kp = ptr(&p, k);
                        match k.as_str() {
                            "blocked" => layer.verify_blocked = Some(self.url(&kp, item)?),
                            "allowed" => layer.verify_allowed = Some(self.url(&kp, item)?),
                            _ => self.unknown(&kp),
                        }
                    }
                }
                "timeouts" => {
                    for (k, item) in self.object(&p, v)? {
                        let kp = ptr(&p, k);
                        let slot = match k.as_str() {
                            "meta_connect_ms" => &mut layer.meta_connect,
                            "meta_total_ms" => &mut layer.meta_total,
                            "dns_ms" => &mut layer.dns,
                            "verify_ms" => &mut layer.verify_timeout,
                            "lock_ms" => &mut layer.lock,
                            _ => {
                                self.unknown(&kp);
                                continue;
                            }
                        };
                        *slot = Some(self.timeout(&kp, item)?);
                    }
                }
                "meta" => {
                    for (k, item) in self.object(&p, v)? {
                        let kp = ptr(&p, k);
                        match k.as_str() {
                            "url" => layer.meta_url = Some(self.url(&kp, item)?),
                            "keys" => {
                                let mut keys = Vec::new();
                                for (i, key) in self.array(&kp, item)?.iter().enumerate() {
                                    let ip = ptr(&kp, &i.to_string());
                                    let key = check_meta_key(self.string(&ip, key)?)
                                        .map_err(|e| self.bad(&ip, key, e))?;
                                    if !keys.contains(&key) {
                                        keys.push(key);
                                    }
                                }
                                if keys.is_empty() {
                                    return Err(self.bad(&kp, item, ValueError::NoMetaKeys));
                                }
                                layer.meta_keys = Some(keys);
                            }
                            _ => self.unknown(&kp),
                        }
                    }
                }
                _ => self.unknown(&p),
            }
        }
        Ok(layer)
    }
}

/// Parses the text of a `.cspace.json`. Only the `firewall` object is ours.
fn parse_cspace_json(
    path: &Path,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Layer, ConfigError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        ConfigError::Syntax {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: full.strip_suffix(&position).unwrap_or(&full).to_owned(),
        }
    })?;
    let Value::Object(top) = doc else {
        return Err(ConfigError::TopLevel {
            path: path.to_owned(),
        });
    };
    let mut reader = FileReader { path, warnings };
    match top.get("firewall") {
        None => Ok(Layer::default()),
        Some(fw) => {
            let fw = reader.object("/firewall", fw)?;
            reader.firewall(fw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const WS: &str = "/ws";
    const FILE: &str = "/ws/.cspace.json";
    const NPM_HOST: &str = "registry.npm.test";

    fn base_env() -> FakeEnv {
        FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", &format!("https://{NPM_HOST}/"))
    }

    fn ws_opts() -> LoadOptions {
        LoadOptions {
            workspace_dir: Some(PathBuf::from(WS)),
            ..LoadOptions::default()
        }
    }

    fn with_file(text: &str) -> FakeEnv {
        base_env().with_file(FILE, text)
    }

    fn ok(env: &FakeEnv, opts: &LoadOptions) -> Loaded {
        match load(env, opts) {
            Ok(l) => l,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(env: &FakeEnv, opts: &LoadOptions) -> String {
        match load(env, opts) {
            Ok(l) => panic!("expected an error, got {l:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn names(c: &Config) -> Vec<String> {
        c.domains.iter().map(|e| e.domain.to_string()).collect()
    }

    fn d(s: &str) -> Domain {
        match s.parse() {
            Ok(d) => d,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn required_domains_are_the_seeds_and_npms_and_their_failures_are_named() {
        use crate::inputs::Resolution;
        let mut c = Config::defaults(Some((d("registry.npm.test"), "npmrc".to_owned())));
        c.domains.push(DomainEntry {
            domain: d("extra.example.test"),
            origin: Origin::Env(DOMAINS_VAR.to_owned()),
        });
        let required: Vec<&str> = c.required_domains().map(Domain::as_str).collect();
        assert_eq!(required.len(), 11);
        assert_eq!(required[0], "registry.npm.test");
        assert!(!required.contains(&"extra.example.test"));
        let ip = std::net::IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
        let mut resolved: Vec<Resolution> = c
            .domain_list()
            .into_iter()
            .map(|dom| Resolution::ok(dom, vec![ip]))
            .collect();
        assert!(c.required_unresolved(&resolved).is_empty());
        for r in &mut resolved {
            if ["statsig.com", "extra.example.test"].contains(&r.domain.as_str()) {
                *r = Resolution::failed(r.domain.clone(), "NXDOMAIN");
            }
        }
        resolved.retain(|r| r.domain.as_str() != "claude.ai");
        assert_eq!(
            c.required_unresolved(&resolved),
            ["claude.ai (not resolved)", "statsig.com (NXDOMAIN)"]
        );
    }

    #[test]
    fn built_in_values_are_valid() {
        for name in DEFAULT_DOMAINS {
            assert!(name.parse::<Domain>().is_ok(), "{name}");
        }
        for c in VERCEL_CIDRS {
            assert!(parse_cidr(c).is_ok(), "{c}");
        }
        for u in [
            DEFAULT_META_URL,
            DEFAULT_VERIFY_ALLOWED,
            DEFAULT_VERIFY_BLOCKED,
        ] {
            assert!(check_url(u).is_ok(), "{u}");
        }
        for k in DEFAULT_META_KEYS {
            assert!(check_meta_key(k).is_ok(), "{k}");
        }
        assert!(check_marker(Path::new(DEFAULT_MARKER)).is_ok());
    }

    #[test]
    fn defaults_are_the_seeds_in_order() {
        let loaded = ok(&base_env(), &LoadOptions::default());
        let c = &loaded.config;
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let mut want = vec![NPM_HOST.to_owned()];
        want.extend(DEFAULT_DOMAINS.iter().map(|s| (*s).to_owned()));
        assert_eq!(names(c), want);
        assert_eq!(
            c.domains[0].origin,
            Origin::Npm("environment variable NPM_CONFIG_REGISTRY".to_owned())
        );
        assert!(c.domains[1..].iter().all(|e| e.origin == Origin::Default));
        assert_eq!(
            c.cidr_list()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["76.76.21.0/24", "64.29.17.0/24", "216.198.79.0/24"]
        );
        assert_eq!(c.meta.url, "https://api.github.com/meta");
        assert_eq!(c.meta.keys, ["web", "api", "git"]);
        assert_eq!(c.verify.blocked, "https://example.com");
        assert_eq!(c.verify.allowed, "https://api.github.com/zen");
        assert_eq!(c.marker_path, Path::new("/tmp/.firewall-init-done"));
        assert_eq!(c.profile, Profile::Strict);
        assert!(c.enabled);
        assert_eq!(
            c.timeouts,
            Timeouts {
                meta_connect: Duration::from_secs(5),
                meta_total: Duration::from_secs(20),
                dns_per_name: Duration::from_secs(5),
                verify: Duration::from_secs(10),
                lock: Duration::from_secs(60),
            }
        );
        // Without npm, the same minus the first entry.
        let bare = Config::defaults_without_npm();
        assert_eq!(names(&bare), DEFAULT_DOMAINS);
        assert_eq!(bare.domain_list()[0], d("api.anthropic.com"));
        assert_eq!(
            Config {
                domains: c.domains[1..].to_vec(),
                ..c.clone()
            },
            bare
        );
    }

    #[test]
    fn no_npm_registry_is_a_warning() {
        let loaded = ok(&FakeEnv::new(), &LoadOptions::default());
        assert_eq!(loaded.config, Config::defaults_without_npm());
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .to_string()
                .starts_with("npm configuration: no npm registry is configured")
        );
    }

    #[test]
    fn bad_npm_registry_is_an_error() {
        let env = FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", "https://bad_host.test/");
        let msg = err(&env, &LoadOptions::default());
        assert!(msg.contains("NPM_CONFIG_REGISTRY"), "{msg}");
        assert!(msg.contains("https://bad_host.test/"), "{msg}");
    }

    #[test]
    fn full_file() {
        let env = with_file(include_str!("../testdata/config/full.json"));
        let loaded = ok(&env, &ws_opts());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = loaded.config;
        let mut want = vec![NPM_HOST.to_owned()];
        want.extend(DEFAULT_DOMAINS.iter().map(|s| (*s).to_owned()));
        want.extend(["api.example.com".to_owned(), "cdn.example.com".to_owned()]);
        assert_eq!(names(&c), want);
        assert_eq!(
            c.domains[11].origin,
            Origin::File {
                path: PathBuf::from(FILE),
                pointer: "/firewall/domains/0".to_owned()
            }
        );
        assert_eq!(
            c.cidr_list()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "76.76.21.0/24",
                "64.29.17.0/24",
                "216.198.79.0/24",
                "192.0.2.0/24",
                "2001:db8::/32"
            ]
        );
        assert!(c.enabled);
        assert_eq!(c.profile, Profile::Compat);
        assert_eq!(c.verify.blocked, "https://blocked.example.test/");
        assert_eq!(c.verify.allowed, "https://allowed.example.test/zen");
        assert_eq!(c.marker_path, Path::new("/run/fw/done"));
        assert_eq!(c.meta.url, "https://meta.example.test:8443/meta");
        assert_eq!(c.meta.keys, ["web", "api", "git", "hooks"]);
        assert_eq!(
            c.timeouts,
            Timeouts {
                meta_connect: Duration::from_millis(1500),
                meta_total: Duration::from_millis(30000),
                dns_per_name: Duration::from_millis(2000),
                verify: Duration::from_millis(8000),
                lock: Duration::from_millis(90000),
            }
        );
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let env = with_file(include_str!("../testdata/config/syntax-error.json"));
        let msg = err(&env, &ws_opts());
        assert!(
            msg.starts_with("/ws/.cspace.json:4:3: invalid json: "),
            "{msg}"
        );
        assert!(!msg.contains(" at line "), "{msg}");
    }

    #[test]
    fn bad_domain_entry_names_file_pointer_value_and_reason() {
        let env = with_file(include_str!("../testdata/config/bad-domain.json"));
        let msg = err(&env, &ws_opts());
        assert_eq!(
            msg,
            "/ws/.cspace.json: /firewall/domains/1: invalid value \"bad_name.example.com\": \
             character '_' is not allowed in a host name (letters, digits, '-' and '.' only)"
        );
    }

    #[rstest]
    #[case::enabled_type(
        r#"{"firewall":{"enabled":"no"}}"#,
        "/firewall/enabled",
        "\"no\"",
        "expected true or false"
    )]
    #[case::firewall_type(r#"{"firewall":[]}"#, "/firewall", "[]", "expected an object")]
    #[case::domains_type(
        r#"{"firewall":{"domains":"a.example.com"}}"#,
        "/firewall/domains",
        "\"a.example.com\"",
        "expected an array of strings"
    )]
    #[case::domain_item_type(
        r#"{"firewall":{"domains":["a.example.com",7]}}"#,
        "/firewall/domains/1",
        "7",
        "expected a string"
    )]
    #[case::domain_meta(
        r#"{"firewall":{"domains":["$(id).com"]}}"#,
        "/firewall/domains/0",
        "\"$(id).com\"",
        "'$'"
    )]
    #[case::cidr(
        r#"{"firewall":{"cidrs":["10.0.0.0/8","0.0.0.0/0"]}}"#,
        "/firewall/cidrs/1",
        "\"0.0.0.0/0\"",
        "every address"
    )]
    #[case::cidr_syntax(
        r#"{"firewall":{"cidrs":["not-a-cidr"]}}"#,
        "/firewall/cidrs/0",
        "\"not-a-cidr\"",
        "not an IPv4 or IPv6"
    )]
    #[case::profile(
        r#"{"firewall":{"profile":"lax"}}"#,
        "/firewall/profile",
        "\"lax\"",
        "unknown profile"
    )]
    #[case::marker_relative(
        r#"{"firewall":{"marker":"tmp/done"}}"#,
        "/firewall/marker",
        "\"tmp/done\"",
        "must be absolute"
    )]
    #[case::marker_dir(
        r#"{"firewall":{"marker":"/tmp/"}}"#,
        "/firewall/marker",
        "\"/tmp/\"",
        "must name a file"
    )]
    #[case::verify_scheme(
        r#"{"firewall":{"verify":{"blocked":"ftp://example.com"}}}"#,
        "/firewall/verify/blocked",
        "\"ftp://example.com\"",
        "scheme \"ftp\""
    )]
    #[case::verify_space(
        r#"{"firewall":{"verify":{"allowed":"https://a.test/ x"}}}"#,
        "/firewall/verify/allowed",
        "",
        "character ' '"
    )]
    #[case::meta_url_host(
        r#"{"firewall":{"meta":{"url":"https:///meta"}}}"#,
        "/firewall/meta/url",
        "",
        "no host"
    )]
    #[case::verify_creds(
        r#"{"firewall":{"verify":{"allowed":"https://u:p@api.github.com/zen"}}}"#,
        "/firewall/verify/allowed",
        "\"https://***@api.github.com/zen\"",
        "credentials"
    )]
    #[case::meta_url_creds(
        r#"{"firewall":{"meta":{"url":"https://u:p@api.github.com/meta"}}}"#,
        "/firewall/meta/url",
        "\"https://***@api.github.com/meta\"",
        "credentials"
    )]
    #[case::meta_key(
        r#"{"firewall":{"meta":{"keys":["web","Git"]}}}"#,
        "/firewall/meta/keys/1",
        "\"Git\"",
        "lowercase identifier"
    )]
    #[case::meta_keys_empty(
        r#"{"firewall":{"meta":{"keys":[]}}}"#,
        "/firewall/meta/keys",
        "[]",
        "at least one meta key"
    )]
    #[case::timeout_zero(
        r#"{"firewall":{"timeouts":{"dns_ms":0}}}"#,
        "/firewall/timeouts/dns_ms",
        "0",
        "at least 1 ms"
    )]
    #[case::timeout_big(
        r#"{"firewall":{"timeouts":{"lock_ms":600001}}}"#,
        "/firewall/timeouts/lock_ms",
        "600001",
        "limit of 600000 ms"
    )]
    #[case::timeout_float(
        r#"{"firewall":{"timeouts":{"verify_ms":1.5}}}"#,
        "/firewall/timeouts/verify_ms",
        "1.5",
        "whole number"
    )]
    #[case::timeout_negative(
        r#"{"firewall":{"timeouts":{"meta_total_ms":-1}}}"#,
        "/firewall/timeouts/meta_total_ms",
        "-1",
        "whole number"
    )]
    #[case::verify_type(
        r#"{"firewall":{"verify":{"blocked":1}}}"#,
        "/firewall/verify/blocked",
        "1",
        "expected a string"
    )]
    fn invalid_file_values(
        #[case] text: &str,
        #[case] pointer: &str,
        #[case] value: &str,
        #[case] reason: &str,
    ) {
        let msg = err(&with_file(text), &ws_opts());
        let head = format!("/ws/.cspace.json: {pointer}: invalid value {value}");
        assert!(
            msg.starts_with(&head),
            "{msg:?} does not start with {head:?}"
        );
        assert!(msg.contains(reason), "{msg:?} lacks {reason:?}");
    }

    #[test]
    fn top_level_must_be_an_object() {
        assert_eq!(
            err(&with_file("[1]"), &ws_opts()),
            "/ws/.cspace.json: the top level must be a json object"
        );
    }

    #[test]
    fn unknown_firewall_keys_warn_with_their_pointer() {
        let env = with_file(include_str!("../testdata/config/unknown-keys.json"));
        let loaded = ok(&env, &ws_opts());
        let got: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "/ws/.cspace.json /firewall/allow_all: unknown key, ignored",
                "/ws/.cspace.json /firewall/meta/token: unknown key, ignored",
                "/ws/.cspace.json /firewall/timeouts/connect_ms: unknown key, ignored",
                "/ws/.cspace.json /firewall/verify/a~1b: unknown key, ignored",
            ]
        );
        assert_eq!(
            names(&loaded.config).last().map(String::as_str),
            Some("api.example.com")
        );
    }

    #[test]
    fn other_top_level_keys_are_ignored_silently() {
        let env = with_file(include_str!("../testdata/config/foreign-keys.json"));
        let loaded = ok(&env, &ws_opts());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(
            names(&loaded.config).last().map(String::as_str),
            Some("api.example.com")
        );
        // A file without a firewall object at all is the defaults.
        let loaded = ok(&with_file(r#"{"name":"proj","services":{}}"#), &ws_opts());
        assert!(loaded.warnings.is_empty());
        assert_eq!(
            loaded.config,
            ok(&base_env(), &LoadOptions::default()).config
        );
    }

    #[test]
    fn enabled_false_still_loads() {
        let env = with_file(include_str!("../testdata/config/disabled.json"));
        let loaded = ok(&env, &ws_opts());
        assert!(!loaded.config.enabled);
        assert_eq!(loaded.config.domains.len(), 11);
        // A broken npm configuration does not stop a disabled firewall.
        let env = FakeEnv::new()
            .with_var("NPM_CONFIG_REGISTRY", "https://bad_host.test/")
            .with_file(FILE, include_str!("../testdata/config/disabled.json"));
        let loaded = ok(&env, &ws_opts());
        assert!(!loaded.config.enabled);
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .message
                .contains("ignored: the firewall is disabled")
        );
        // A flag turns it back on.
        let opts = LoadOptions {
            overrides: Overrides {
                enabled: Some(true),
                ..Overrides::default()
            },
            ..ws_opts()
        };
        assert!(
            ok(
                &with_file(include_str!("../testdata/config/disabled.json")),
                &opts
            )
            .config
            .enabled
        );
    }

    #[rstest]
    #[case("a.com;rm -rf /", "a.com;rm", "';'")]
    #[case("$(id).com", "$(id).com", "'$'")]
    #[case("ok.example.com `id`.com", "`id`.com", "'`'")]
    #[case("ok.example.com a.com|nc", "a.com|nc", "'|'")]
    #[case("a.com&&b.com", "a.com&&b.com", "'&'")]
    #[case("x.com>y", "x.com>y", "'>'")]
    #[case("*.example.com", "*.example.com", "'*'")]
    fn env_metacharacters_are_rejected(
        #[case] value: &str,
        #[case] entry: &str,
        #[case] reason: &str,
    ) {
        let env = base_env().with_var(DOMAINS_VAR, value);
        let msg = err(&env, &LoadOptions::default());
        let head =
            format!("environment variable CSPACE_FIREWALL_DOMAINS: invalid entry {entry:?}: ");
        assert!(
            msg.starts_with(&head),
            "{msg:?} does not start with {head:?}"
        );
        assert!(msg.contains(reason), "{msg:?} lacks {reason:?}");
    }

    #[rstest]
    #[case("", &[])]
    #[case("  \t\n ", &[])]
    #[case("a.example.com", &["a.example.com"])]
    #[case("a.example.com b.example.com", &["a.example.com", "b.example.com"])]
    #[case(" a.example.com\tb.example.com\nc.example.com\r\n", &["a.example.com", "b.example.com", "c.example.com"])]
    #[case("A.Example.COM. a.example.com", &["a.example.com"])]
    fn env_separators(#[case] value: &str, #[case] want: &[&str]) {
        let env = base_env().with_var(DOMAINS_VAR, value);
        let c = ok(&env, &LoadOptions::default()).config;
        let extra: Vec<String> = names(&c).into_iter().skip(11).collect();
        assert_eq!(extra, want);
        assert!(
            c.domains[11..]
                .iter()
                .all(|e| e.origin == Origin::Env(DOMAINS_VAR.to_owned()))
        );
    }

    /// Scalars: a flag beats the file, the file beats the default.
    #[rstest]
    #[case::default(None, None, Profile::Strict, DEFAULT_MARKER)]
    #[case::file(
        Some(r#"{"firewall":{"profile":"compat","marker":"/f/m"}}"#),
        None,
        Profile::Compat,
        "/f/m"
    )]
    #[case::flag(None, Some((Profile::Compat, "/x/m")), Profile::Compat, "/x/m")]
    #[case::flag_beats_file(Some(r#"{"firewall":{"profile":"compat","marker":"/f/m"}}"#), Some((Profile::Strict, "/x/m")), Profile::Strict, "/x/m")]
    fn scalar_override_order(
        #[case] file: Option<&str>,
        #[case] flags: Option<(Profile, &str)>,
        #[case] profile: Profile,
        #[case] marker: &str,
    ) {
        let env = match file {
            Some(text) => with_file(text),
            None => base_env(),
        };
        let mut opts = ws_opts();
        if let Some((p, m)) = flags {
            opts.overrides.profile = Some(p);
            opts.overrides.marker_path = Some(PathBuf::from(m));
        }
        let c = ok(&env, &opts).config;
        assert_eq!(c.profile, profile);
        assert_eq!(c.marker_path, Path::new(marker));
    }

    #[test]
    fn timeouts_and_urls_from_flags_beat_the_file() {
        let env = with_file(include_str!("../testdata/config/full.json"));
        let mut opts = ws_opts();
        opts.overrides.timeouts.dns_ms = Some(750);
        opts.overrides.meta_url = Some("http://127.0.0.1:8080/meta".to_owned());
        opts.overrides.meta_keys = Some(vec!["git".to_owned(), "git".to_owned()]);
        opts.overrides.verify_allowed = Some("https://[2001:db8::1]/zen".to_owned());
        let c = ok(&env, &opts).config;
        assert_eq!(c.timeouts.dns_per_name, Duration::from_millis(750));
        assert_eq!(c.timeouts.lock, Duration::from_millis(90000));
        assert_eq!(c.meta.url, "http://127.0.0.1:8080/meta");
        assert_eq!(c.meta.keys, ["git"]);
        assert_eq!(c.verify.allowed, "https://[2001:db8::1]/zen");
        assert_eq!(c.verify.blocked, "https://blocked.example.test/");
    }

    /// Domains and CIDRs add up: file, then env, then flags; the first occurrence is kept.
    #[test]
    fn lists_are_additive_and_deduplicated() {
        let env = with_file(
            r#"{"firewall":{"domains":["file.example.com","shared.example.com","claude.ai"],
                "cidrs":["192.0.2.0/24","76.76.21.7/24"]}}"#,
        )
        .with_var(
            DOMAINS_VAR,
            "shared.example.com env.example.com REGISTRY.npm.test",
        );
        let mut opts = ws_opts();
        opts.overrides.domains = vec!["flag.example.com".to_owned(), "env.example.com".to_owned()];
        opts.overrides.cidrs = vec!["192.0.2.9/24".to_owned(), "198.51.100.0/24".to_owned()];
        let c = ok(&env, &opts).config;
        let mut want = vec![NPM_HOST.to_owned()];
        want.extend(DEFAULT_DOMAINS.iter().map(|s| (*s).to_owned()));
        want.extend(
            [
                "file.example.com",
                "shared.example.com",
                "env.example.com",
                "flag.example.com",
            ]
            .map(str::to_owned),
        );
        assert_eq!(names(&c), want);
        let origin = |name: &str| {
            c.domains
                .iter()
                .find(|e| e.domain == d(name))
                .map(|e| e.origin.clone())
        };
        assert!(matches!(origin(NPM_HOST), Some(Origin::Npm(_))));
        assert_eq!(origin("claude.ai"), Some(Origin::Default));
        assert_eq!(
            origin("shared.example.com"),
            Some(Origin::File {
                path: PathBuf::from(FILE),
                pointer: "/firewall/domains/1".to_owned()
            })
        );
        assert_eq!(
            origin("env.example.com"),
            Some(Origin::Env(DOMAINS_VAR.to_owned()))
        );
        assert_eq!(
            origin("flag.example.com"),
            Some(Origin::Flag("--domain".to_owned()))
        );
        assert_eq!(
            c.cidr_list()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "76.76.21.0/24",
                "64.29.17.0/24",
                "216.198.79.0/24",
                "192.0.2.0/24",
                "198.51.100.0/24"
            ]
        );
        assert_eq!(c.cidrs[4].origin, Origin::Flag("--cidr".to_owned()));
    }

    #[rstest]
    #[case::domain(Overrides { domains: vec!["a.com;id".into()], ..Overrides::default() }, "flag --domain: invalid value \"a.com;id\": character ';'")]
    #[case::cidr(Overrides { cidrs: vec!["::/0".into()], ..Overrides::default() }, "flag --cidr: invalid value \"::/0\": a /0 network")]
    #[case::marker(Overrides { marker_path: Some("done".into()), ..Overrides::default() }, "flag --marker: invalid value \"done\": the marker path must be absolute")]
    #[case::meta_url(Overrides { meta_url: Some("api.github.com/meta".into()), ..Overrides::default() }, "flag --meta-url: invalid value \"api.github.com/meta\": no http:// or https:// scheme")]
    #[case::meta_keys(Overrides { meta_keys: Some(vec![]), ..Overrides::default() }, "flag --meta-key: invalid value \"\": at least one meta key")]
    #[case::verify(Overrides { verify_blocked: Some("https://example.com:99999/".into()), ..Overrides::default() }, "flag --verify-blocked: invalid value \"https://example.com:99999/\": port \"99999\"")]
    #[case::timeout(Overrides { timeouts: TimeoutOverrides { lock_ms: Some(0), ..TimeoutOverrides::default() }, ..Overrides::default() }, "flag --lock-timeout-ms: invalid value \"0\": a timeout must be at least 1 ms")]
    fn invalid_flags_name_the_flag(#[case] overrides: Overrides, #[case] want: &str) {
        let opts = LoadOptions {
            overrides,
            ..LoadOptions::default()
        };
        let msg = err(&base_env(), &opts);
        assert!(
            msg.starts_with(want),
            "{msg:?} does not start with {want:?}"
        );
    }

    #[test]
    fn explicit_file_must_exist_workspace_file_may_not() {
        let opts = LoadOptions {
            cspace_json: Some(PathBuf::from("/elsewhere/cspace.json")),
            ..ws_opts()
        };
        assert_eq!(
            err(&base_env(), &opts),
            "/elsewhere/cspace.json: no such file"
        );
        assert!(ok(&base_env(), &ws_opts()).warnings.is_empty());
        // The explicit file wins over the workspace one.
        let env = with_file(r#"{"firewall":{"profile":"compat"}}"#).with_file(
            "/elsewhere/cspace.json",
            r#"{"firewall":{"enabled":false}}"#,
        );
        let c = ok(&env, &opts).config;
        assert!(!c.enabled);
        assert_eq!(c.profile, Profile::Strict);
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let env = base_env().with_unreadable(FILE, io::ErrorKind::PermissionDenied);
        let msg = err(&env, &ws_opts());
        assert!(msg.starts_with("cannot read /ws/.cspace.json: "), "{msg}");
    }

    #[test]
    fn project_npmrc_in_the_workspace_is_used() {
        let env =
            FakeEnv::new().with_file("/ws/.npmrc", "registry=https://npm.internal.example/\n");
        let c = ok(&env, &ws_opts()).config;
        assert_eq!(c.domains[0].domain, d("npm.internal.example"));
        assert_eq!(c.domains[0].origin, Origin::Npm("/ws/.npmrc".to_owned()));
    }

    #[test]
    fn connect_longer_than_total_warns() {
        let env =
            with_file(r#"{"firewall":{"timeouts":{"meta_connect_ms":9000,"meta_total_ms":4000}}}"#);
        let loaded = ok(&env, &ws_opts());
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .to_string()
                .starts_with("timeouts: the meta connect timeout")
        );
    }

    #[test]
    fn loading_is_deterministic() {
        let env = with_file(include_str!("../testdata/config/full.json"))
            .with_var(DOMAINS_VAR, "z.example.com a.example.com");
        let a = ok(&env, &ws_opts());
        let b = ok(&env.clone(), &ws_opts());
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a.config).ok(),
            serde_json::to_string(&b.config).ok()
        );
    }

    #[rstest]
    #[case("https://example.com", true, "example.com", None)]
    #[case("http://Example.COM:8080/x?y#z", false, "example.com", Some(8080))]
    #[case("https://u:p@example.com", true, "example.com", None)]
    #[case("https://192.0.2.1:443/", true, "192.0.2.1", Some(443))]
    #[case("https://[2001:db8::1]:8443", true, "2001:db8::1", Some(8443))]
    fn parses_urls(
        #[case] s: &str,
        #[case] https: bool,
        #[case] host: &str,
        #[case] port: Option<u16>,
    ) {
        let url = match parse_http_url(s) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        };
        assert_eq!(url.https, https);
        let got = match url.host {
            UrlHost::Domain(d) => d.to_string(),
            UrlHost::Ip(ip) => ip.to_string(),
        };
        assert_eq!(got, host);
        assert_eq!(url.port, port);
    }

    #[rstest]
    #[case("", UrlError::Empty)]
    #[case("example.com", UrlError::NoScheme)]
    #[case("://example.com", UrlError::NoScheme)]
    #[case("file:///etc/passwd", UrlError::Scheme("file".into()))]
    #[case("https://", UrlError::NoHost)]
    #[case("https://:443/", UrlError::NoHost)]
    #[case("https://example.com:/", UrlError::Port("".into()))]
    #[case("https://example.com:0", UrlError::Port("0".into()))]
    #[case("https://example.com:+80", UrlError::Port("+80".into()))]
    #[case("https://[::1", UrlError::Ipv6("[::1".into()))]
    #[case("https://[zz]/", UrlError::Ipv6("zz".into()))]
    #[case("https://exa mple.com", UrlError::BadChar(' '))]
    #[case("https://example.com/$(id)`", UrlError::BadChar('`'))]
    #[case("https://bücher.de", UrlError::BadChar('ü'))]
    fn refuses_bad_urls(#[case] s: &str, #[case] want: UrlError) {
        assert_eq!(parse_http_url(s), Err(want));
    }

    #[test]
    fn profile_round_trips() {
        for p in [Profile::Strict, Profile::Compat] {
            assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
        }
        assert_eq!("STRICT".parse::<Profile>(), Err(ValueError::Profile));
    }

    /// Found by the `config_env` fuzz target: a huge entry of CSPACE_FIREWALL_DOMAINS was echoed
    /// whole in the error.
    #[test]
    fn a_huge_env_entry_is_named_but_cut() {
        let entry = format!("api.{}.com", "\u{13}".repeat(100_000));
        let env = FakeEnv::new().with_var(DOMAINS_VAR, &entry);
        let msg = load(&env, &LoadOptions::default())
            .expect_err("bad entry")
            .to_string();
        assert!(
            msg.starts_with("environment variable CSPACE_FIREWALL_DOMAINS: invalid entry \"api."),
            "{msg}"
        );
        assert!(msg.len() < 2_000, "{} bytes", msg.len());
    }

    #[test]
    fn huge_url_parts_are_shown_cut() {
        let long = "9".repeat(100_000);
        for url in [
            format!("https://example.com:{long}/"),
            format!("{}://example.com/", "x".repeat(100_000)),
            format!("https://[{long}]/"),
        ] {
            let msg = parse_http_url(&url).expect_err("bad url").to_string();
            assert!(msg.len() < 300, "{} bytes", msg.len());
        }
    }
}
