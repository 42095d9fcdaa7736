//! The configuration loader through its public API with fw-testkit's fake environment:
//! defaults, sources and their precedence, and the messages that name each refused value.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fw_core::config::{
    Config, DEFAULT_DOMAINS, DEFAULT_MARKER, DOMAINS_VAR, Key, LoadOptions, Loaded, Origin,
    Overrides, Profile, Timeouts, load,
};
use fw_core::validate::Domain;
use fw_testkit::env::FakeEnv;
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
        overrides: Overrides::default().with(Key::Enabled, ["true"]),
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
fn env_metacharacters_are_rejected(#[case] value: &str, #[case] entry: &str, #[case] reason: &str) {
    let env = base_env().with_var(DOMAINS_VAR, value);
    let msg = err(&env, &LoadOptions::default());
    let head = format!("environment variable CSPACE_FIREWALL_DOMAINS: invalid entry {entry:?}: ");
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
        opts.overrides.set(Key::Profile, [p.as_str()]);
        opts.overrides.set(Key::Marker, [m]);
    }
    let c = ok(&env, &opts).config;
    assert_eq!(c.profile, profile);
    assert_eq!(c.marker_path, Path::new(marker));
}

#[test]
fn timeouts_and_urls_from_flags_beat_the_file() {
    let env = with_file(include_str!("../testdata/config/full.json"));
    let mut opts = ws_opts();
    opts.overrides.set(Key::DnsTimeout, ["750"]);
    opts.overrides
        .set(Key::MetaUrl, ["http://127.0.0.1:8080/meta"]);
    opts.overrides.set(Key::MetaKeys, ["git", "git"]);
    opts.overrides
        .set(Key::VerifyAllowed, ["https://[2001:db8::1]/zen"]);
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
    opts.overrides
        .set(Key::Domains, ["flag.example.com", "env.example.com"]);
    opts.overrides
        .set(Key::Cidrs, ["192.0.2.9/24", "198.51.100.0/24"]);
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
#[case::domain(Overrides::default().with(Key::Domains, ["a.com;id"]), "flag --domain: invalid value \"a.com;id\": character ';'")]
#[case::cidr(Overrides::default().with(Key::Cidrs, ["::/0"]), "flag --cidr: invalid value \"::/0\": a /0 network")]
#[case::marker(Overrides::default().with(Key::Marker, ["done"]), "flag --marker: invalid value \"done\": the marker path must be absolute")]
#[case::meta_url(Overrides::default().with(Key::MetaUrl, ["api.github.com/meta"]), "flag --meta-url: invalid value \"api.github.com/meta\": no http:// or https:// scheme")]
#[case::meta_keys(Overrides::default().with(Key::MetaKeys, Vec::<&str>::new()), "flag --meta-key: invalid value \"\": at least one meta key")]
#[case::verify(Overrides::default().with(Key::VerifyBlocked, ["https://example.com:99999/"]), "flag --verify-blocked: invalid value \"https://example.com:99999/\": port \"99999\"")]
#[case::timeout(Overrides::default().with(Key::LockTimeout, ["0"]), "flag --lock-timeout-ms: invalid value \"0\": a timeout must be at least 1 ms")]
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
    let env = FakeEnv::new().with_file("/ws/.npmrc", "registry=https://npm.internal.example/\n");
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
