//! Unit tests of the configuration that need no fake environment: the built-in values, the
//! table of keys against [`Config`], URLs. Loading through a fake environment is tested in
//! `fw-core/tests/config.rs` (fw-testkit's `FakeEnv` cannot be used from inside fw-core).

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use rstest::rstest;

use super::keys::{self, DefaultValue, Item, Kind, check_item};
use super::layer::{Setting, list_setting};
use super::load::{Seen, apply};
use super::*;
use crate::validate::Domain;

fn d(s: &str) -> Domain {
    match s.parse() {
        Ok(d) => d,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// A key's default as the setting the parsers would give.
fn default_setting(spec: &keys::Spec) -> Setting {
    let items: Vec<(Item, Origin)> = match spec.default {
        DefaultValue::Bool(b) => vec![(Item::Bool(b), Origin::Default)],
        DefaultValue::Duration(t) => vec![(Item::Millis(t), Origin::Default)],
        DefaultValue::Text(t) => vec![(
            check_item(spec.kind, t).expect("valid default"),
            Origin::Default,
        )],
        DefaultValue::List(l) => l
            .iter()
            .map(|t| {
                (
                    check_item(spec.kind, t).expect("valid default"),
                    Origin::Default,
                )
            })
            .collect(),
    };
    if spec.kind.is_list() {
        list_setting(spec.kind, items).unwrap_or(Setting::Keys(Vec::new()))
    } else {
        Setting::Scalar(items.into_iter().next().expect("one default").0)
    }
}

#[test]
fn every_key_is_its_row() {
    for (i, spec) in KEYS.iter().enumerate() {
        assert_eq!(spec.key as usize, i, "{} is not row {i}", spec.name);
        assert_eq!(spec.key.spec(), spec);
    }
    for (i, a) in KEYS.iter().enumerate() {
        for b in &KEYS[i + 1..] {
            assert_ne!(a.name, b.name);
            assert_ne!(a.flag.long, b.flag.long);
            assert!(a.env.is_none() || a.env != b.env);
        }
        assert!(a.flag.long.starts_with("--"), "{}", a.flag.long);
        assert_eq!(a.flag.off.is_some(), a.kind == Kind::Bool, "{}", a.name);
        assert!(
            !a.flag.cli || !a.flag.help.is_empty(),
            "{} lacks help",
            a.name
        );
        assert!(!a.doc.is_empty(), "{} lacks doc", a.name);
    }
    assert_eq!(
        Key::DnsTimeout.spec().pointer(),
        "/firewall/timeouts/dns_ms"
    );
}

/// Each key's default in the table is what [`Config::defaults`] holds: every scalar field set
/// to something else, then every key's default applied, gives the defaults back (so a key
/// without its line in `apply` fails here).
#[test]
fn the_tables_defaults_are_the_configs() {
    let want = Config::defaults_without_npm();
    let mut config = want.clone();
    config.enabled = false;
    config.profile = Profile::Compat;
    config.marker_path = "/elsewhere".into();
    config.meta = MetaSource {
        url: String::new(),
        keys: Vec::new(),
    };
    config.verify = VerifyTargets {
        blocked: String::new(),
        allowed: String::new(),
    };
    config.timeouts = Timeouts {
        meta_connect: Duration::ZERO,
        meta_total: Duration::ZERO,
        dns_per_name: Duration::ZERO,
        verify: Duration::ZERO,
        lock: Duration::ZERO,
    };
    let mut seen = Seen::default();
    for spec in &KEYS {
        apply(&mut config, &mut seen, spec.key, default_setting(spec));
    }
    assert_eq!(config, want);
}

/// The documentation's sample file loads without a warning and sets every key.
#[test]
fn the_sample_file_is_valid() {
    let text = docs::sample_file();
    let mut warnings = Vec::new();
    let layer = file::parse_cspace_json(Path::new("/ws/.cspace.json"), &text, &mut warnings)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    for spec in &KEYS {
        assert!(
            layer.iter().any(|(k, _)| *k == spec.key),
            "the sample lacks {}",
            spec.name
        );
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
        assert!(url::check_url(u).is_ok(), "{u}");
    }
    for k in DEFAULT_META_KEYS {
        assert!(keys::check_meta_key(k).is_ok(), "{k}");
    }
    assert!(keys::check_marker(Path::new(DEFAULT_MARKER)).is_ok());
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
