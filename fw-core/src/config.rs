//! Configuration: built-in defaults, `.cspace.json`, `CSPACE_FIREWALL_DOMAINS`, flags.
//!
//! Sources apply in this order, later ones overriding earlier ones for scalar settings and
//! adding to the lists (domains, CIDRs):
//!
//! 1. the built-in defaults, exactly the seed's (see [`DEFAULT_DOMAINS`], [`VERCEL_CIDRS`]),
//!    with the npm registry's host from the container's npm configuration ([`crate::npm`]);
//! 2. `.cspace.json` (the `firewall` object; see [`load`] for every key);
//! 3. `CSPACE_FIREWALL_DOMAINS`: space-separated extra domains, as the seed says;
//! 4. command-line flags.
//!
//! Every domain and CIDR is validated; an invalid one is an error naming its source (the file
//! and JSON pointer, or the variable), the value and the reason. Nothing here reads the process
//! environment or the file system directly: that goes through [`Env`], so tests use [`FakeEnv`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::npm::{NpmError, npm_registry_host};
use crate::validate::{Domain, parse_cidr};

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

/// The seed's required domains, after the npm registry's host (which comes from npm's config).
pub const DEFAULT_DOMAINS: &[&str] = &[
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
pub const VERCEL_CIDRS: &[&str] = &["76.76.21.0/24", "64.29.17.0/24", "216.198.79.0/24"];

pub const DEFAULT_META_URL: &str = "https://api.github.com/meta";
pub const DEFAULT_META_KEYS: &[&str] = &["web", "api", "git"];
pub const DEFAULT_BLOCKED: &str = "https://example.com";
pub const DEFAULT_ALLOWED: &str = "https://api.github.com/zen";
pub const DEFAULT_MARKER: &str = "/tmp/.firewall-init-done";
/// The environment variable with extra domains, space separated (the seed's).
pub const DOMAINS_VAR: &str = "CSPACE_FIREWALL_DOMAINS";
/// The longest time any timeout may be set to.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

impl Timeouts {
    /// Connect 5 s and 20 s in all for the meta fetch (retries included: FAIL-04 wants a
    /// failure well within 60 s); 5 s per name; 10 s per verification probe; 60 s for the lock.
    pub fn defaults() -> Timeouts {
        Timeouts {
            meta_connect: Duration::from_secs(5),
            meta_total: Duration::from_secs(20),
            dns_per_name: Duration::from_secs(5),
            verify: Duration::from_secs(10),
            lock: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// The defaults without the npm registry (which needs the environment).
    pub fn defaults_without_npm() -> Config {
        let domain = |d: &str| DomainEntry {
            domain: Domain::new_static(d),
            origin: Origin::Default,
        };
        let cidr = |c: &str| CidrEntry {
            net: IpNet::new_static(c),
            origin: Origin::Default,
        };
        Config {
            enabled: true,
            profile: Profile::Strict,
            domains: DEFAULT_DOMAINS.iter().map(|d| domain(d)).collect(),
            cidrs: VERCEL_CIDRS.iter().map(|c| cidr(c)).collect(),
            meta: MetaSource {
                url: DEFAULT_META_URL.to_owned(),
                keys: DEFAULT_META_KEYS.iter().map(|k| (*k).to_owned()).collect(),
            },
            verify: VerifyTargets {
                blocked: DEFAULT_BLOCKED.to_owned(),
                allowed: DEFAULT_ALLOWED.to_owned(),
            },
            marker_path: PathBuf::from(DEFAULT_MARKER),
            timeouts: Timeouts::defaults(),
        }
    }

    /// The domains to resolve, in order.
    pub fn domain_list(&self) -> Vec<Domain> {
        self.domains.iter().map(|d| d.domain.clone()).collect()
    }

    fn add_domain(&mut self, domain: Domain, origin: Origin) {
        if !self.domains.iter().any(|d| d.domain == domain) {
            self.domains.push(DomainEntry { domain, origin });
        }
    }

    fn add_cidr(&mut self, net: IpNet, origin: Origin) {
        if !self.cidrs.iter().any(|c| c.net == net) {
            self.cidrs.push(CidrEntry { net, origin });
        }
    }
}

/// Constants of this module that are known to be valid.
trait Static {
    fn new_static(s: &str) -> Self;
}

impl Static for Domain {
    fn new_static(s: &str) -> Self {
        match s.parse() {
            Ok(d) => d,
            Err(e) => unreachable!("built-in domain {s:?} is invalid: {e}"),
        }
    }
}

impl Static for IpNet {
    fn new_static(s: &str) -> Self {
        match parse_cidr(s) {
            Ok(n) => n,
            Err(e) => unreachable!("built-in CIDR {s:?} is invalid: {e}"),
        }
    }
}

/// The process's environment and files, as configuration loading sees them.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
    /// A file's text; `Ok(None)` when it does not exist.
    fn read_file(&self, path: &Path) -> std::io::Result<Option<String>>;
    /// `npm config get registry`, when npm is installed.
    fn npm_config_get_registry(&self) -> Option<String>;
}

/// The real environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnv;

impl Env for SystemEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn npm_config_get_registry(&self) -> Option<String> {
        let out = std::process::Command::new("npm")
            .args(["config", "get", "registry"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// A scripted environment for tests: variables, files and npm's answer.
#[derive(Debug, Clone, Default)]
pub struct FakeEnv {
    pub vars: BTreeMap<String, String>,
    pub files: BTreeMap<PathBuf, String>,
    pub npm: Option<String>,
}

impl FakeEnv {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn file(mut self, path: &str, text: &str) -> Self {
        self.files.insert(PathBuf::from(path), text.to_owned());
        self
    }

    pub fn npm(mut self, answer: &str) -> Self {
        self.npm = Some(answer.to_owned());
        self
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<Option<String>> {
        Ok(self.files.get(path).cloned())
    }

    fn npm_config_get_registry(&self) -> Option<String> {
        self.npm.clone()
    }
}

/// Command-line overrides, filled by fw-cli.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub profile: Option<Profile>,
    pub domains: Vec<String>,
    pub cidrs: Vec<String>,
    pub marker: Option<PathBuf>,
    pub meta_url: Option<String>,
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The `.cspace.json` to read. `None`: `.cspace.json` in the current directory when it
    /// exists (a devcontainer's `postStartCommand` runs in the workspace).
    pub file: Option<PathBuf>,
    pub flags: Flags,
}

/// The configuration and what the operator should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Why the configuration is unusable. Each names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: invalid JSON at line {line}, column {column}: {reason}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{path}: {pointer}: expected {expected}, found {found}")]
    Type {
        path: PathBuf,
        pointer: String,
        expected: &'static str,
        found: String,
    },
    #[error("{source_name}: {value:?} is not valid: {reason}")]
    Invalid {
        /// `path#/json/pointer`, a variable's name or a flag.
        source_name: String,
        value: String,
        reason: String,
    },
    #[error(transparent)]
    Npm(#[from] NpmError),
}

fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Typed access to the `firewall` object of one file, with errors naming the pointer.
struct FileCtx<'a> {
    path: &'a Path,
}

impl FileCtx<'_> {
    fn type_err(&self, pointer: &str, expected: &'static str, v: &Value) -> ConfigError {
        ConfigError::Type {
            path: self.path.to_owned(),
            pointer: pointer.to_owned(),
            expected,
            found: json_type(v),
        }
    }

    fn invalid(&self, pointer: &str, value: &str, reason: impl ToString) -> ConfigError {
        ConfigError::Invalid {
            source_name: format!("{}#{pointer}", self.path.display()),
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }

    fn str<'v>(&self, v: &'v Value, pointer: &str) -> Result<&'v str, ConfigError> {
        v.as_str()
            .ok_or_else(|| self.type_err(pointer, "a string", v))
    }

    fn strings<'v>(
        &self,
        v: &'v Value,
        pointer: &str,
    ) -> Result<Vec<(String, &'v str)>, ConfigError> {
        let arr = v
            .as_array()
            .ok_or_else(|| self.type_err(pointer, "an array of strings", v))?;
        arr.iter()
            .enumerate()
            .map(|(i, e)| {
                let p = format!("{pointer}/{i}");
                self.str(e, &p).map(|s| (p, s))
            })
            .collect()
    }

    fn millis(&self, v: &Value, pointer: &str) -> Result<Duration, ConfigError> {
        let ms = v
            .as_u64()
            .ok_or_else(|| self.type_err(pointer, "a whole number of milliseconds", v))?;
        let d = Duration::from_millis(ms);
        if d.is_zero() || d > MAX_TIMEOUT {
            return Err(self.invalid(
                pointer,
                &ms.to_string(),
                "must be between 1 ms and 10 minutes",
            ));
        }
        Ok(d)
    }
}

/// Checks a URL enough to trust it: http or https, a host, no whitespace.
fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with https:// (or http://)")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("has no host");
    }
    Ok(())
}

fn check_meta_key(k: &str) -> Result<(), &'static str> {
    if k.is_empty()
        || k.len() > 64
        || !k
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err("a meta key is a lower-case identifier (letters, digits, '_')");
    }
    Ok(())
}

fn check_marker(p: &Path) -> Result<(), &'static str> {
    if !p.is_absolute() {
        return Err("the marker path must be absolute");
    }
    if p.file_name().is_none() {
        return Err("the marker path must name a file");
    }
    Ok(())
}

/// The keys of the `firewall` object we know.
const FIREWALL_KEYS: &[&str] = &[
    "enabled", "domains", "cidrs", "profile", "verify", "marker", "timeouts", "meta",
];

/// Applies `.cspace.json`'s `firewall` object.
fn apply_file(
    config: &mut Config,
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        reason: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    let ctx = FileCtx { path };
    let Some(obj) = root.as_object() else {
        return Err(ctx.type_err("", "an object", &root));
    };
    // Other top-level keys belong to the wider tool that owns .cspace.json: not ours to judge.
    let Some(fw) = obj.get("firewall") else {
        return Ok(());
    };
    let fw = fw
        .as_object()
        .ok_or_else(|| ctx.type_err("/firewall", "an object", fw))?;
    for key in fw.keys() {
        if !FIREWALL_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "{}: unknown key /firewall/{key} ignored",
                path.display()
            ));
        }
    }
    let origin = |pointer: &str| Origin::File {
        path: path.to_owned(),
        pointer: pointer.to_owned(),
    };
    if let Some(v) = fw.get("enabled") {
        config.enabled = v
            .as_bool()
            .ok_or_else(|| ctx.type_err("/firewall/enabled", "a boolean", v))?;
    }
    if let Some(v) = fw.get("domains") {
        for (p, s) in ctx.strings(v, "/firewall/domains")? {
            let d: Domain = s.parse().map_err(|e| ctx.invalid(&p, s, e))?;
            config.add_domain(d, origin(&p));
        }
    }
    if let Some(v) = fw.get("cidrs") {
        for (p, s) in ctx.strings(v, "/firewall/cidrs")? {
            let n = parse_cidr(s).map_err(|e| ctx.invalid(&p, s, e))?;
            config.add_cidr(n, origin(&p));
        }
    }
    if let Some(v) = fw.get("profile") {
        config.profile = match ctx.str(v, "/firewall/profile")? {
            "strict" => Profile::Strict,
            "compat" => Profile::Compat,
            other => {
                return Err(ctx.invalid(
                    "/firewall/profile",
                    other,
                    "must be \"strict\" or \"compat\"",
                ));
            }
        };
    }
    if let Some(v) = fw.get("marker") {
        let s = ctx.str(v, "/firewall/marker")?;
        let p = PathBuf::from(s);
        check_marker(&p).map_err(|e| ctx.invalid("/firewall/marker", s, e))?;
        config.marker_path = p;
    }
    if let Some(v) = fw.get("verify") {
        let o = v
            .as_object()
            .ok_or_else(|| ctx.type_err("/firewall/verify", "an object", v))?;
        for (key, slot) in [
            ("blocked", &mut config.verify.blocked),
            ("allowed", &mut config.verify.allowed),
        ] {
            if let Some(v) = o.get(key) {
                let p = format!("/firewall/verify/{key}");
                let s = ctx.str(v, &p)?;
                check_url(s).map_err(|e| ctx.invalid(&p, s, e))?;
                *slot = s.to_owned();
            }
        }
        for key in o
            .keys()
            .filter(|k| !["blocked", "allowed"].contains(&k.as_str()))
        {
            warnings.push(format!(
                "{}: unknown key /firewall/verify/{key} ignored",
                path.display()
            ));
        }
    }
    if let Some(v) = fw.get("meta") {
        let o = v
            .as_object()
            .ok_or_else(|| ctx.type_err("/firewall/meta", "an object", v))?;
        if let Some(v) = o.get("url") {
            let s = ctx.str(v, "/firewall/meta/url")?;
            check_url(s).map_err(|e| ctx.invalid("/firewall/meta/url", s, e))?;
            config.meta.url = s.to_owned();
        }
        if let Some(v) = o.get("keys") {
            let keys = ctx.strings(v, "/firewall/meta/keys")?;
            if keys.is_empty() {
                return Err(ctx.invalid("/firewall/meta/keys", "[]", "at least one key is needed"));
            }
            let mut out = Vec::new();
            for (p, k) in keys {
                check_meta_key(k).map_err(|e| ctx.invalid(&p, k, e))?;
                if !out.iter().any(|o: &String| o == k) {
                    out.push(k.to_owned());
                }
            }
            config.meta.keys = out;
        }
        for key in o.keys().filter(|k| !["url", "keys"].contains(&k.as_str())) {
            warnings.push(format!(
                "{}: unknown key /firewall/meta/{key} ignored",
                path.display()
            ));
        }
    }
    if let Some(v) = fw.get("timeouts") {
        let o = v
            .as_object()
            .ok_or_else(|| ctx.type_err("/firewall/timeouts", "an object", v))?;
        let t = &mut config.timeouts;
        for (key, value) in o {
            let p = format!("/firewall/timeouts/{key}");
            let slot = match key.as_str() {
                "meta_connect_ms" => &mut t.meta_connect,
                "meta_total_ms" => &mut t.meta_total,
                "dns_ms" => &mut t.dns_per_name,
                "verify_ms" => &mut t.verify,
                "lock_ms" => &mut t.lock,
                _ => {
                    warnings.push(format!("{}: unknown key {p} ignored", path.display()));
                    continue;
                }
            };
            *slot = ctx.millis(value, &p)?;
        }
    }
    Ok(())
}

/// Splits `CSPACE_FIREWALL_DOMAINS` (space separated; tabs and newlines also separate).
fn apply_env_domains(config: &mut Config, value: &str) -> Result<(), ConfigError> {
    for entry in value.split_whitespace() {
        let d: Domain =
            entry
                .parse()
                .map_err(|e: crate::validate::DomainError| ConfigError::Invalid {
                    source_name: DOMAINS_VAR.to_owned(),
                    value: entry.to_owned(),
                    reason: e.to_string(),
                })?;
        config.add_domain(d, Origin::Env(DOMAINS_VAR.to_owned()));
    }
    Ok(())
}

fn flag_invalid(flag: &str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        source_name: flag.to_owned(),
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// Loads the effective configuration.
///
/// `.cspace.json` keys (all optional) under `firewall`:
///
/// | key | type | meaning |
/// |---|---|---|
/// | `enabled` | bool | `false`: init applies nothing (the seed's) |
/// | `domains` | [string] | extra domains to allow (the seed's) |
/// | `cidrs` | [string] | extra CIDRs to allow |
/// | `profile` | `"strict"` or `"compat"` | hardened default, or the seed's table exactly |
/// | `verify.blocked`, `verify.allowed` | URL | the verification targets |
/// | `marker` | absolute path | where the marker is written |
/// | `meta.url`, `meta.keys` | URL, [string] | the GitHub meta API and the keys allowed |
/// | `timeouts.{meta_connect_ms, meta_total_ms, dns_ms, verify_ms, lock_ms}` | ms | time limits |
pub fn load(env: &dyn Env, opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let mut config = Config::defaults_without_npm();
    match npm_registry_host(env)? {
        Some(reg) => config.domains.insert(
            0,
            DomainEntry {
                domain: reg.host,
                origin: Origin::Npm(reg.source),
            },
        ),
        None => warnings.push(
            "no npm registry is configured (NPM_CONFIG_REGISTRY, .npmrc, npm): npm will not be reachable".to_owned(),
        ),
    }
    // Keep the npm host first even when it is also a seed domain.
    let mut seen = Vec::new();
    config.domains.retain(|d| {
        let new = !seen.contains(&d.domain);
        seen.push(d.domain.clone());
        new
    });

    let (path, required) = match &opts.file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(".cspace.json"), false),
    };
    match env.read_file(&path) {
        Ok(Some(text)) => apply_file(&mut config, &path, &text, &mut warnings)?,
        Ok(None) if required => {
            return Err(ConfigError::Read {
                path,
                reason: "no such file".to_owned(),
            });
        }
        Ok(None) => {}
        Err(e) => {
            return Err(ConfigError::Read {
                path,
                reason: e.to_string(),
            });
        }
    }

    if let Some(v) = env.var(DOMAINS_VAR) {
        apply_env_domains(&mut config, &v)?;
    }

    let f = &opts.flags;
    if let Some(p) = f.profile {
        config.profile = p;
    }
    for d in &f.domains {
        let domain: Domain = d.parse().map_err(|e| flag_invalid("--domain", d, e))?;
        config.add_domain(domain, Origin::Flag("--domain".to_owned()));
    }
    for c in &f.cidrs {
        let net = parse_cidr(c).map_err(|e| flag_invalid("--cidr", c, e))?;
        config.add_cidr(net, Origin::Flag("--cidr".to_owned()));
    }
    if let Some(m) = &f.marker {
        check_marker(m).map_err(|e| flag_invalid("--marker", &m.display().to_string(), e))?;
        config.marker_path = m.clone();
    }
    if let Some(u) = &f.meta_url {
        check_url(u).map_err(|e| flag_invalid("--meta-url", u, e))?;
        config.meta.url = u.clone();
    }
    Ok(Loaded { config, warnings })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rstest::rstest;

    fn npm_env() -> FakeEnv {
        FakeEnv::default().var("NPM_CONFIG_REGISTRY", "https://registry.npm.test/")
    }

    fn with_file(text: &str) -> (FakeEnv, LoadOptions) {
        let env = npm_env().file("/w/.cspace.json", text);
        let opts = LoadOptions {
            file: Some(PathBuf::from("/w/.cspace.json")),
            ..LoadOptions::default()
        };
        (env, opts)
    }

    fn names(c: &Config) -> Vec<String> {
        c.domains.iter().map(|d| d.domain.to_string()).collect()
    }

    #[test]
    fn defaults_are_the_seeds() {
        let l = load(&npm_env(), &LoadOptions::default()).unwrap();
        let c = &l.config;
        let mut want = vec!["registry.npm.test".to_owned()];
        want.extend(DEFAULT_DOMAINS.iter().map(|d| (*d).to_owned()));
        assert_eq!(names(c), want);
        assert_eq!(
            c.domains[0].origin,
            Origin::Npm("NPM_CONFIG_REGISTRY".into())
        );
        let cidrs: Vec<String> = c.cidrs.iter().map(|c| c.net.to_string()).collect();
        assert_eq!(cidrs, VERCEL_CIDRS);
        assert_eq!(c.meta.url, "https://api.github.com/meta");
        assert_eq!(c.meta.keys, ["web", "api", "git"]);
        assert_eq!(c.verify.blocked, "https://example.com");
        assert_eq!(c.verify.allowed, "https://api.github.com/zen");
        assert_eq!(c.marker_path, PathBuf::from("/tmp/.firewall-init-done"));
        assert_eq!(c.profile, Profile::Strict);
        assert!(c.enabled);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn without_npm_configuration_a_warning_says_so() {
        let l = load(&FakeEnv::default(), &LoadOptions::default()).unwrap();
        assert_eq!(names(&l.config)[0], "api.anthropic.com");
        assert!(
            l.warnings[0].contains("no npm registry"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn a_full_file_applies_every_key() {
        let (env, opts) = with_file(
            r#"{"name": "other tool's key", "firewall": {
                "enabled": true, "domains": ["api.stripe.com", "API.anthropic.com"],
                "cidrs": ["198.51.100.0/28"], "profile": "compat",
                "verify": {"blocked": "https://blocked.test", "allowed": "https://ok.test/zen"},
                "marker": "/run/fw-marker", "meta": {"url": "https://meta.test/meta", "keys": ["web", "git"]},
                "timeouts": {"meta_total_ms": 1500, "dns_ms": 200, "lock_ms": 1000}}}"#,
        );
        let l = load(&env, &opts).unwrap();
        let c = &l.config;
        assert_eq!(names(c).last().unwrap(), "api.stripe.com");
        assert_eq!(
            names(c)
                .iter()
                .filter(|n| *n == "api.anthropic.com")
                .count(),
            1
        );
        assert_eq!(c.cidrs.last().unwrap().net.to_string(), "198.51.100.0/28");
        assert_eq!(c.profile, Profile::Compat);
        assert_eq!(c.verify.blocked, "https://blocked.test");
        assert_eq!(c.marker_path, PathBuf::from("/run/fw-marker"));
        assert_eq!(c.meta.keys, ["web", "git"]);
        assert_eq!(c.timeouts.meta_total, Duration::from_millis(1500));
        assert_eq!(c.timeouts.dns_per_name, Duration::from_millis(200));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn a_syntax_error_gives_line_and_column() {
        let (env, opts) =
            with_file("{\n  \"firewall\": {\n    \"domains\": [\"a.com\",]\n  }\n}\n");
        let err = load(&env, &opts).unwrap_err().to_string();
        assert!(
            err.starts_with("/w/.cspace.json: invalid JSON at line 3, column"),
            "{err}"
        );
    }

    #[rstest]
    #[case(
        r#"{"firewall": {"domains": ["ok.com", "bad domain.com"]}}"#,
        "/w/.cspace.json#/firewall/domains/1: \"bad domain.com\" is not valid: character ' ' is not allowed"
    )]
    #[case(
        r#"{"firewall": {"domains": ["ok.com", "$(id).com"]}}"#,
        "#/firewall/domains/1: \"$(id).com\" is not valid: character '$'"
    )]
    #[case(
        r#"{"firewall": {"cidrs": ["1.2.3.4/40"]}}"#,
        "#/firewall/cidrs/0: \"1.2.3.4/40\" is not valid: prefix length /40"
    )]
    #[case(
        r#"{"firewall": {"cidrs": ["0.0.0.0/0"]}}"#,
        "would allow every address"
    )]
    #[case(
        r#"{"firewall": {"domains": "a.com"}}"#,
        "/firewall/domains: expected an array of strings, found string \"a.com\""
    )]
    #[case(
        r#"{"firewall": {"domains": [1]}}"#,
        "/firewall/domains/0: expected a string, found number 1"
    )]
    #[case(
        r#"{"firewall": {"enabled": "no"}}"#,
        "/firewall/enabled: expected a boolean"
    )]
    #[case(
        r#"{"firewall": {"profile": "lax"}}"#,
        "must be \"strict\" or \"compat\""
    )]
    #[case(r#"{"firewall": {"marker": "relative/marker"}}"#, "must be absolute")]
    #[case(
        r#"{"firewall": {"timeouts": {"dns_ms": 0}}}"#,
        "between 1 ms and 10 minutes"
    )]
    #[case(
        r#"{"firewall": {"meta": {"url": "ftp://x"}}}"#,
        "must start with https://"
    )]
    #[case(
        r#"{"firewall": {"meta": {"keys": ["Web"]}}}"#,
        "lower-case identifier"
    )]
    #[case(r#"[1]"#, "expected an object")]
    fn invalid_entries_name_file_pointer_value_and_reason(#[case] text: &str, #[case] want: &str) {
        let (env, opts) = with_file(text);
        let err = load(&env, &opts).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains("/w/.cspace.json"), "{err}");
    }

    #[test]
    fn unknown_firewall_keys_warn_and_foreign_keys_do_not() {
        let (env, opts) =
            with_file(r#"{"other": 1, "firewall": {"domians": [], "verify": {"x": 1}}}"#);
        let l = load(&env, &opts).unwrap();
        assert_eq!(
            l.warnings,
            [
                "/w/.cspace.json: unknown key /firewall/domians ignored",
                "/w/.cspace.json: unknown key /firewall/verify/x ignored"
            ]
        );
    }

    #[test]
    fn a_missing_explicit_file_is_an_error_and_a_missing_default_is_not() {
        let opts = LoadOptions {
            file: Some(PathBuf::from("/nope/.cspace.json")),
            ..LoadOptions::default()
        };
        assert!(
            load(&npm_env(), &opts)
                .unwrap_err()
                .to_string()
                .contains("/nope/.cspace.json")
        );
        assert!(load(&npm_env(), &LoadOptions::default()).is_ok());
    }

    #[rstest]
    #[case("a.com;rm -rf /")]
    #[case("$(id).com")]
    #[case("a.com`x`")]
    #[case("*.example.com")]
    fn env_entries_with_metacharacters_are_refused(#[case] entry: &str) {
        let env = npm_env().var(DOMAINS_VAR, &format!("ok.example.com {entry}"));
        let err = load(&env, &LoadOptions::default()).unwrap_err().to_string();
        assert!(err.starts_with("CSPACE_FIREWALL_DOMAINS: "), "{err}");
    }

    #[test]
    fn env_domains_split_on_any_whitespace_and_add() {
        let env = npm_env().var(
            DOMAINS_VAR,
            " one.example.com\ttwo.example.com\nthree.example.com ",
        );
        let c = load(&env, &LoadOptions::default()).unwrap().config;
        let n = names(&c);
        assert_eq!(
            &n[n.len() - 3..],
            ["one.example.com", "two.example.com", "three.example.com"]
        );
        assert_eq!(
            c.domains.last().unwrap().origin,
            Origin::Env(DOMAINS_VAR.into())
        );
    }

    #[test]
    fn later_sources_override_scalars_and_add_to_lists() {
        let (env, mut opts) = with_file(
            r#"{"firewall": {"profile": "compat", "domains": ["file.example.com"], "marker": "/run/a"}}"#,
        );
        let env = env.var(DOMAINS_VAR, "env.example.com file.example.com");
        opts.flags = Flags {
            profile: Some(Profile::Strict),
            domains: vec!["flag.example.com".into()],
            cidrs: vec!["192.0.2.0/24".into()],
            marker: Some(PathBuf::from("/run/b")),
            meta_url: None,
        };
        let c = load(&env, &opts).unwrap().config;
        assert_eq!(c.profile, Profile::Strict);
        assert_eq!(c.marker_path, PathBuf::from("/run/b"));
        let n = names(&c);
        assert_eq!(
            &n[n.len() - 3..],
            ["file.example.com", "env.example.com", "flag.example.com"]
        );
        let bad = LoadOptions {
            flags: Flags {
                cidrs: vec!["nope".into()],
                ..Flags::default()
            },
            ..LoadOptions::default()
        };
        assert!(
            load(&npm_env(), &bad)
                .unwrap_err()
                .to_string()
                .starts_with("--cidr: \"nope\"")
        );
    }

    #[test]
    fn disabled_loads_and_says_so() {
        let (env, opts) = with_file(r#"{"firewall": {"enabled": false}}"#);
        assert!(!load(&env, &opts).unwrap().config.enabled);
    }
}
