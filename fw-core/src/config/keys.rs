//! The configuration keys, each declared once: its name (which is its JSON path in the
//! `firewall` object of `.cspace.json`), its environment variable, its flag, its kind, its
//! default and its documentation. The file parser, the environment parser, the flag parser,
//! fw-cli's clap arguments, the error messages and `docs/configuration.md` read this table;
//! adding a key means adding a row here and a line where [`super::Config`] stores it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::Profile;
use super::url::{UrlError, check_url, redact};
use crate::validate::{CidrError, Domain, DomainError, parse_cidr};

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

/// A configuration key. The discriminant is the row in [`KEYS`] (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Enabled,
    Profile,
    Domains,
    Cidrs,
    VerifyBlocked,
    VerifyAllowed,
    Marker,
    MetaConnectTimeout,
    MetaTotalTimeout,
    DnsTimeout,
    VerifyTimeout,
    LockTimeout,
    MetaUrl,
    MetaKeys,
}

impl Key {
    /// The key's row in [`KEYS`].
    pub fn spec(self) -> &'static Spec {
        &KEYS[self as usize]
    }
}

/// What values a key takes; decides how each source's text is parsed and checked, and how the
/// sources combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// `strict` or `compat`.
    Profile,
    /// Host names, added to the built-in list.
    Domains,
    /// IPv4 or IPv6 networks, added to the built-in list.
    Cidrs,
    /// An absolute path naming a file.
    FilePath,
    /// An `http`/`https` URL without credentials.
    Url,
    /// GitHub meta keys; the list replaces the built-in one.
    MetaKeys,
    /// A timeout in whole milliseconds.
    Millis,
}

impl Kind {
    /// Whether the key takes a list of values.
    pub fn is_list(self) -> bool {
        matches!(self, Kind::Domains | Kind::Cidrs | Kind::MetaKeys)
    }

    /// Whether the sources' values are added to each other (else the last source's replaces).
    pub fn adds_up(self) -> bool {
        matches!(self, Kind::Domains | Kind::Cidrs)
    }

    /// The JSON type expected in `.cspace.json`, as `expected ...` messages say it.
    pub fn json_type(self) -> &'static str {
        match self {
            Kind::Bool => "true or false",
            Kind::Millis => "a whole number of milliseconds",
            _ if self.is_list() => "an array of strings",
            _ => "a string",
        }
    }

    /// The type, for the documentation.
    pub fn doc_type(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Profile => "`\"strict\"` / `\"compat\"`",
            Kind::Domains | Kind::Cidrs | Kind::MetaKeys => "array of strings",
            Kind::FilePath => "absolute path",
            Kind::Url => "url",
            Kind::Millis => "integer ms",
        }
    }

    /// What a value must look like, for the documentation.
    pub fn doc_rules(self) -> String {
        match self {
            Kind::Bool => "`true` or `false`".to_owned(),
            Kind::Profile => "`strict` or `compat`".to_owned(),
            Kind::Domains => {
                "host names: ASCII letters, digits, `-` and `.`; at least two labels; \
                              no wildcards, no IP addresses"
                    .to_owned()
            }
            Kind::Cidrs => "IPv4 or IPv6 networks or bare addresses; host bits are cleared; `/0` \
                            is refused"
                .to_owned(),
            Kind::FilePath => "an absolute path naming a file".to_owned(),
            Kind::Url => "`http://` or `https://` URL with a host name or IP literal, optional \
                          port; no credentials, no whitespace"
                .to_owned(),
            Kind::MetaKeys => "non-empty; each a lowercase identifier (`[a-z][a-z0-9_]*`); \
                               duplicates dropped"
                .to_owned(),
            Kind::Millis => format!("milliseconds, 1 to {MAX_TIMEOUT_MS}"),
        }
    }

    /// A value as messages show it: URLs without their credentials.
    pub fn shown(self, raw: &str) -> String {
        match self {
            Kind::Url => redact(raw),
            _ => raw.to_owned(),
        }
    }
}

/// A key's built-in value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    Bool(bool),
    Text(&'static str),
    List(&'static [&'static str]),
    Duration(Duration),
}

impl DefaultValue {
    /// The default as JSON text (what `.cspace.json` would say).
    pub fn json(self) -> String {
        match self {
            DefaultValue::Bool(b) => b.to_string(),
            DefaultValue::Text(t) => format!("{t:?}"),
            DefaultValue::List(items) => {
                let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
                format!("[{}]", quoted.join(","))
            }
            DefaultValue::Duration(d) => d.as_millis().to_string(),
        }
    }
}

/// A key's command-line flag. Every key has one in [`super::Overrides`] (a library caller may
/// set any key); `cli` says whether fw-cli offers it on its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The flag, `--` included, as messages and [`super::Origin::Flag`] name it.
    pub long: &'static str,
    /// For a [`Kind::Bool`] key: the flag that sets it to `false`.
    pub off: Option<&'static str>,
    /// The placeholder of the value in `--help`.
    pub value_name: &'static str,
    /// The one-line help in `--help` (fw-cli's style: no final period).
    pub help: &'static str,
    /// Whether fw-cli offers the flag.
    pub cli: bool,
}

/// One row of [`KEYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub key: Key,
    /// The key's name: its path in the `firewall` object of `.cspace.json`, `.`-separated.
    pub name: &'static str,
    /// The environment variable that sets it, if any.
    pub env: Option<&'static str>,
    pub flag: Flag,
    pub kind: Kind,
    pub default: DefaultValue,
    /// An example value as JSON text for the documentation's sample file; empty: the default.
    pub example: &'static str,
    /// What the key means, for the documentation.
    pub doc: &'static str,
}

impl Spec {
    /// The path in the `firewall` object, one segment per level.
    pub fn path(&self) -> impl Iterator<Item = &'static str> {
        self.name.split('.')
    }

    /// The JSON pointer in `.cspace.json`, e.g. `/firewall/timeouts/dns_ms`.
    pub fn pointer(&self) -> String {
        format!("/firewall/{}", self.name.replace('.', "/"))
    }
}

const fn flag(long: &'static str, value_name: &'static str, help: &'static str, cli: bool) -> Flag {
    Flag {
        long,
        off: None,
        value_name,
        help,
        cli,
    }
}

/// A timeout key: all five are alike but for their name, flag, default and reason.
const fn timeout(
    key: Key,
    name: &'static str,
    long: &'static str,
    default: Duration,
    doc: &'static str,
) -> Spec {
    Spec {
        key,
        name,
        env: None,
        flag: flag(long, "MS", "", false),
        kind: Kind::Millis,
        default: DefaultValue::Duration(default),
        example: "",
        doc,
    }
}

/// Every configuration key, in the order of [`Key`] and of the documentation.
pub static KEYS: [Spec; 14] = [
    Spec {
        key: Key::Enabled,
        name: "enabled",
        env: None,
        flag: Flag {
            long: "--enabled",
            off: Some("--disable"),
            value_name: "",
            help: "",
            cli: false,
        },
        kind: Kind::Bool,
        default: DefaultValue::Bool(true),
        example: "true",
        doc: "the seed's. `false` loads fine and yields `enabled: false`; an unusable npm \
              configuration is then only a warning",
    },
    Spec {
        key: Key::Profile,
        name: "profile",
        env: None,
        flag: flag(
            "--profile",
            "PROFILE",
            "strict (default) or compat (the seed's table exactly: DNS and SSH to anywhere)",
            true,
        ),
        kind: Kind::Profile,
        default: DefaultValue::Text(Profile::Strict.as_str()),
        example: "",
        doc: "`strict` (DNS only to the configured resolvers, SSH only to allowlisted hosts) or \
              `compat` (the seed's DNS and SSH to anywhere)",
    },
    Spec {
        key: Key::Domains,
        name: "domains",
        env: Some(DOMAINS_VAR),
        flag: flag(
            "--domain",
            "NAME",
            "An extra domain to allow (repeatable)",
            true,
        ),
        kind: Kind::Domains,
        default: DefaultValue::List(&[]),
        example: r#"["api.example.com", "cdn.example.com"]"#,
        doc: "the seed's. Extra domains, added to the required list (the npm registry's host \
              and the built-in domains)",
    },
    Spec {
        key: Key::Cidrs,
        name: "cidrs",
        env: None,
        flag: flag(
            "--cidr",
            "CIDR",
            "An extra CIDR to allow (repeatable)",
            true,
        ),
        kind: Kind::Cidrs,
        default: DefaultValue::List(&[]),
        example: r#"["192.0.2.0/24", "2001:db8::/32"]"#,
        doc: "extra networks, added to the Vercel ranges",
    },
    Spec {
        key: Key::VerifyBlocked,
        name: "verify.blocked",
        env: None,
        flag: flag("--verify-blocked", "URL", "", false),
        kind: Kind::Url,
        default: DefaultValue::Text(DEFAULT_VERIFY_BLOCKED),
        example: "",
        doc: "a URL that must be unreachable once the firewall is up",
    },
    Spec {
        key: Key::VerifyAllowed,
        name: "verify.allowed",
        env: None,
        flag: flag("--verify-allowed", "URL", "", false),
        kind: Kind::Url,
        default: DefaultValue::Text(DEFAULT_VERIFY_ALLOWED),
        example: "",
        doc: "a URL that must be reachable once the firewall is up",
    },
    Spec {
        key: Key::Marker,
        name: "marker",
        env: None,
        flag: flag(
            "--marker",
            "PATH",
            "Where to write the marker (default /tmp/.firewall-init-done)",
            true,
        ),
        kind: Kind::FilePath,
        default: DefaultValue::Text(DEFAULT_MARKER),
        example: "",
        doc: "the file written when the firewall is up and verified",
    },
    timeout(
        Key::MetaConnectTimeout,
        "timeouts.meta_connect_ms",
        "--meta-connect-timeout-ms",
        DEFAULT_META_CONNECT,
        "connecting to the meta API: a reachable host answers well within a second; a refusing \
         or black-holed host must not stall init. Longer than `meta_total_ms` is a warning",
    ),
    timeout(
        Key::MetaTotalTimeout,
        "timeouts.meta_total_ms",
        "--meta-total-timeout-ms",
        DEFAULT_META_TOTAL,
        "the whole meta request: covers a slow download of the response; a meta host that \
         accepts and never answers fails init well within 60 s",
    ),
    timeout(
        Key::DnsTimeout,
        "timeouts.dns_ms",
        "--dns-timeout-ms",
        DEFAULT_DNS_PER_NAME,
        "resolving one name: a slow extra name costs only its own warning, not the whole init; \
         a required name (the built-in list, the npm registry's host) that fails fails init, \
         closed",
    ),
    timeout(
        Key::VerifyTimeout,
        "timeouts.verify_ms",
        "--verify-timeout-ms",
        DEFAULT_VERIFY,
        "each verification probe: enough for a TLS handshake on a slow link; a DROP shows as a \
         failure, not a hang",
    ),
    timeout(
        Key::LockTimeout,
        "timeouts.lock_ms",
        "--lock-timeout-ms",
        DEFAULT_LOCK,
        "waiting for another run that holds the lock: longer than a normal init, so concurrent \
         starts wait for each other instead of failing",
    ),
    Spec {
        key: Key::MetaUrl,
        name: "meta.url",
        env: None,
        flag: flag(
            "--meta-url",
            "URL",
            "The GitHub meta URL (default https://api.github.com/meta)",
            true,
        ),
        kind: Kind::Url,
        default: DefaultValue::Text(DEFAULT_META_URL),
        example: "",
        doc: "the GitHub meta API whose ranges are allowed",
    },
    Spec {
        key: Key::MetaKeys,
        name: "meta.keys",
        env: None,
        flag: flag("--meta-key", "KEY", "", false),
        kind: Kind::MetaKeys,
        default: DefaultValue::List(&DEFAULT_META_KEYS),
        example: "",
        doc: "the keys of the meta response whose ranges are allowed; replaces the whole list",
    },
];

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

/// One checked value of a key (one element of a list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Bool(bool),
    Profile(Profile),
    Domain(Domain),
    Cidr(IpNet),
    Path(PathBuf),
    Text(String),
    Millis(Duration),
}

/// Checks one value (one element of a list) of a key of this kind given as an `OsStr` (a
/// flag's value): a path is taken as it is, anything else must be text (lossily converted, so
/// that invalid UTF-8 fails the check, showing U+FFFD, instead of vanishing).
pub(crate) fn check_os_item(kind: Kind, s: &std::ffi::OsStr) -> Result<Item, ValueError> {
    match kind {
        Kind::FilePath => Ok(Item::Path(check_marker(Path::new(s))?)),
        _ => check_item(kind, &s.to_string_lossy()),
    }
}

/// Checks one value (one element of a list) of a key of this kind given as text.
pub(crate) fn check_item(kind: Kind, s: &str) -> Result<Item, ValueError> {
    Ok(match kind {
        Kind::Bool => match s {
            "true" => Item::Bool(true),
            "false" => Item::Bool(false),
            _ => return Err(ValueError::Type(kind.json_type())),
        },
        Kind::Profile => Item::Profile(s.parse()?),
        Kind::Domains => Item::Domain(s.parse()?),
        Kind::Cidrs => Item::Cidr(parse_cidr(s)?),
        Kind::FilePath => Item::Path(check_marker(Path::new(s))?),
        Kind::Url => Item::Text(check_url(s)?),
        Kind::MetaKeys => Item::Text(check_meta_key(s)?),
        Kind::Millis => {
            let ms = s
                .parse::<u64>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(ValueError::Type(kind.json_type()))?;
            Item::Millis(check_timeout_ms(ms)?)
        }
    })
}

pub(crate) fn check_marker(p: &Path) -> Result<PathBuf, ValueError> {
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

pub(crate) fn check_meta_key(k: &str) -> Result<String, ValueError> {
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

pub(crate) fn check_timeout_ms(ms: u64) -> Result<Duration, ValueError> {
    match ms {
        0 => Err(ValueError::ZeroTimeout),
        ms if ms > MAX_TIMEOUT_MS => Err(ValueError::TimeoutTooLong(ms)),
        ms => Ok(Duration::from_millis(ms)),
    }
}
