//! Hostile configuration and DNS answers (issue 7): `.cspace.json` and
//! `CSPACE_FIREWALL_DOMAINS` with shell metacharacters, newlines, very long names, unicode,
//! wildcards and tens of thousands of entries; answers pointing at loopback, "any" and the
//! Docker networks. Each gets a clear error naming the input, or a documented safe result.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::PathBuf;

use fw_core::config::{ConfigError, DOMAINS_VAR, LoadOptions, load};
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::plan::Plan;
use fw_core::render::render;
use fw_testkit::env::FakeEnv;

const CSPACE: &str = "/w/.cspace.json";

fn env() -> FakeEnv {
    FakeEnv::new().with_npm_registry("https://registry.example.test/\n")
}

fn from_file(json: &str) -> Result<fw_core::config::Loaded, ConfigError> {
    let opts = LoadOptions {
        cspace_json: Some(PathBuf::from(CSPACE)),
        ..LoadOptions::default()
    };
    load(&env().with_file(CSPACE, json), &opts)
}

fn from_var(value: &str) -> Result<fw_core::config::Loaded, ConfigError> {
    load(&env().with_var(DOMAINS_VAR, value), &LoadOptions::default())
}

fn domains_json(entries: &[String]) -> String {
    serde_json::json!({ "firewall": { "domains": entries } }).to_string()
}

/// Entries no source may accept, each with a word the error must contain.
fn hostile_names() -> Vec<(String, &'static str)> {
    vec![
        ("a.com;rm -rf /".into(), "';'"),
        ("$(id).example.com".into(), "'$'"),
        ("`id`.example.com".into(), "'`'"),
        ("a.com|nc".into(), "'|'"),
        ("a.com&&x".into(), "'&'"),
        ("a.com>x".into(), "'>'"),
        ("*.example.com".into(), "'*'"),
        ("bücher.example".into(), "'ü'"),
        ("\u{202e}moc.example".into(), "'\\u{202e}'"),
        ("exa\u{0}mple.com".into(), "'\\0'"),
        ("a.com\nb.com".into(), "'\\n'"),
        (format!("{}.com", "a".repeat(64)), "63"),
        (format!("{}.com", "a.".repeat(200)), "253"),
        ("-a.example.com".into(), "'-'"),
        ("localhost".into(), "single label"),
        ("1.2.3.4".into(), "all digits"),
    ]
}

#[test]
fn hostile_names_in_the_file_are_refused_naming_the_entry() {
    for (i, (name, why)) in hostile_names().into_iter().enumerate() {
        let err = from_file(&domains_json(&["ok.example.com".to_owned(), name.clone()]))
            .expect_err(&name)
            .to_string();
        assert!(
            err.starts_with(&format!("{CSPACE}: /firewall/domains/1: invalid value ")),
            "{i}: {err}"
        );
        assert!(err.contains(why), "{i} {name:?}: {err}");
        assert!(err.len() < 1_000, "{i}: {} bytes", err.len());
    }
}

#[test]
fn hostile_names_in_the_variable_are_refused_naming_the_entry() {
    for (i, (name, why)) in hostile_names().into_iter().enumerate() {
        // A newline separates entries in the variable: the two halves are judged alone.
        if name.contains('\n') {
            continue;
        }
        let err = from_var(&format!("ok.example.com {name}"))
            .expect_err(&name)
            .to_string();
        assert!(
            err.starts_with("environment variable CSPACE_FIREWALL_DOMAINS: invalid entry "),
            "{i}: {err}"
        );
        assert!(err.contains(why), "{i} {name:?}: {err}");
    }
}

#[test]
fn newlines_tabs_and_returns_separate_entries_in_the_variable() {
    let loaded = from_var("\n a.example.com\r\n\tb.example.com\n\n").unwrap();
    let names: Vec<&str> = loaded
        .config
        .domains
        .iter()
        .map(|d| d.domain.as_str())
        .collect();
    assert!(
        names.ends_with(&["a.example.com", "b.example.com"]),
        "{names:?}"
    );
}

#[test]
fn json_that_is_not_a_list_of_strings_is_refused() {
    for (json, pointer) in [
        (
            r#"{"firewall": {"domains": "a.example.com; rm -rf /"}}"#,
            "/firewall/domains",
        ),
        (
            r#"{"firewall": {"domains": [["a.example.com"]]}}"#,
            "/firewall/domains/0",
        ),
        (
            r#"{"firewall": {"domains": [null]}}"#,
            "/firewall/domains/0",
        ),
        (
            r#"{"firewall": {"cidrs": ["0.0.0.0/0"]}}"#,
            "/firewall/cidrs/0",
        ),
        (r#"{"firewall": {"cidrs": ["::/0"]}}"#, "/firewall/cidrs/0"),
        (
            r#"{"firewall": {"marker": "relative/path"}}"#,
            "/firewall/marker",
        ),
        (
            r#"{"firewall": {"meta": {"url": "file:///etc/passwd"}}}"#,
            "/firewall/meta/url",
        ),
    ] {
        let err = from_file(json).expect_err(json).to_string();
        assert!(err.contains(&format!(": {pointer}: ")), "{json}: {err}");
    }
}

/// Tens of thousands of valid entries load, each kept once. How the cost grows with the entries
/// (a linear scan per entry made it quadratic once) is measured by the `config_load` group of
/// `cargo bench -p fw-core --bench pipeline`, not asserted here.
#[test]
fn tens_of_thousands_of_entries_load() {
    let n = 30_000;
    let names: Vec<String> = (0..n).map(|i| format!("h{i}.example.com")).collect();
    let mut with_dups = names.clone();
    with_dups.extend(names.iter().take(1000).map(|s| s.to_uppercase()));
    let file = from_file(&domains_json(&with_dups)).unwrap();
    let var = from_var(&names.join("\n")).unwrap();
    let defaults = fw_core::config::Config::defaults_without_npm()
        .domains
        .len()
        + 1;
    assert_eq!(file.config.domains.len(), defaults + n);
    assert_eq!(var.config.domains.len(), defaults + n);

    let cidrs: Vec<String> = (0..n)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let json = serde_json::json!({ "firewall": { "cidrs": cidrs } }).to_string();
    let loaded = from_file(&json).unwrap();
    assert_eq!(
        loaded.config.cidrs.len(),
        fw_core::config::VERCEL_CIDRS.len() + n
    );
}

fn plan_with_answers(addrs: &[&str], config_cidrs: &[&str]) -> Plan {
    let mut config = fw_testkit::sample::base_config();
    config.cidrs.clear();
    for c in config_cidrs {
        config.cidrs.push(fw_core::config::CidrEntry {
            net: c.parse().unwrap(),
            origin: fw_core::config::Origin::Default,
        });
    }
    let inputs = Inputs {
        resolved: vec![Resolution::ok(
            "hostile.example.test".parse().unwrap(),
            addrs.iter().map(|a| a.parse::<IpAddr>().unwrap()).collect(),
        )],
        subnets: vec![Subnet {
            interface: "eth0".into(),
            net: "172.18.0.2/16".parse().unwrap(),
        }],
        ..Inputs::default()
    };
    Plan::build(&config, &inputs)
}

/// Answers at loopback and "any" are skipped with a warning naming the name and the address;
/// nothing of them reaches the allowlist.
#[test]
fn answers_at_loopback_and_any_are_skipped() {
    let plan = plan_with_answers(
        &["127.0.0.1", "127.255.255.254", "0.0.0.0", "::1", "::"],
        &[],
    );
    assert!(
        plan.allow_v4.is_empty() && plan.allow_v6.is_empty(),
        "{plan:?}"
    );
    assert_eq!(plan.warnings.len(), 5, "{:?}", plan.warnings);
    for w in &plan.warnings {
        assert!(w.starts_with("domain hostile.example.test answer "), "{w}");
    }
}

/// An answer inside a Docker network adds that one address (a /32) to the allowlist: the
/// Docker networks are open anyway (LOC rows), so this opens nothing new, and never the
/// whole network.
#[test]
fn an_answer_inside_a_docker_network_adds_one_address_only() {
    let plan = plan_with_answers(&["172.18.0.5", "172.18.255.255"], &[]);
    let allowed: Vec<String> = plan.allow_v4.iter().map(ToString::to_string).collect();
    assert_eq!(allowed, ["172.18.0.5/32", "172.18.255.255/32"]);
    assert_eq!(
        plan.local
            .v4
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["172.18.0.0/16"]
    );
}

/// Configured ranges that together cover every address never become an allow-all rule: they
/// are left out with a warning (whatever they held is then blocked, and verification fails
/// closed). Before the fix the plan aggregated them into 0.0.0.0/0.
#[test]
fn ranges_that_add_up_to_everything_do_not_open_everything() {
    let plan = plan_with_answers(
        &["203.0.113.7"],
        &["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"],
    );
    assert!(
        plan.allow_v4.is_empty() && plan.allow_v6.is_empty(),
        "{plan:?}"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("add up to every IPv4 (0.0.0.0/0) address")),
        "{:?}",
        plan.warnings
    );
    assert!(plan.warnings.iter().any(|w| w.contains("IPv6 (::/0)")));
    let text = render(&plan);
    let all = format!("{text:?}");
    assert!(!all.contains("0.0.0.0/0") && !all.contains("::/0"), "{all}");
}
