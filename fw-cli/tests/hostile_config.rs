//! Hostile configuration through the real binary (issue 7): `fw-cli plan` (which applies
//! nothing) refuses each with exit status 2 and one message naming the source and the entry,
//! and nothing in the input is ever run by a shell.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `fw-cli plan` in `dir` with a clean environment plus `env`.
fn plan(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fw-cli"));
    cmd.arg("plan")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("NPM_CONFIG_REGISTRY", "https://registry.example.test/");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn refused(out: &Output, wants: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for w in wants {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
    assert!(stderr.len() < 4_000, "{} bytes of stderr", stderr.len());
}

fn nothing_ran(dir: &Path) {
    assert!(!dir.join("pwned").exists(), "a shell ran part of the input");
}

#[test]
fn shell_metacharacters_in_the_variable_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for value in [
        "a.example.com;touch pwned",
        "$(touch pwned).example.com",
        "`touch pwned`.example.com",
        "a.example.com|touch pwned",
        "a.example.com\n*.example.com",
    ] {
        let out = plan(dir.path(), &[], &[("CSPACE_FIREWALL_DOMAINS", value)]);
        refused(
            &out,
            &[
                "environment variable CSPACE_FIREWALL_DOMAINS: invalid entry",
                "is not allowed in a host name",
            ],
        );
    }
    nothing_ran(dir.path());
}

#[test]
fn hostile_file_entries_are_refused_naming_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!({"firewall": {"domains": ["ok.example.com", "$(touch pwned).com"]}}),
            "/firewall/domains/1",
        ),
        (
            serde_json::json!({"firewall": {"domains": ["a.example.com\nb.example.com"]}}),
            "/firewall/domains/0",
        ),
        (
            serde_json::json!({"firewall": {"domains": [format!("{}.example.com", "x".repeat(100_000))]}}),
            "/firewall/domains/0",
        ),
        (
            serde_json::json!({"firewall": {"domains": ["пример.example.com"]}}),
            "/firewall/domains/0",
        ),
        (
            serde_json::json!({"firewall": {"cidrs": ["0.0.0.0/0"]}}),
            "/firewall/cidrs/0",
        ),
    ];
    for (json, pointer) in cases {
        std::fs::write(dir.path().join(".cspace.json"), json.to_string()).unwrap();
        let out = plan(dir.path(), &[], &[]);
        refused(&out, &[".cspace.json: ", pointer, ": invalid value "]);
    }
    nothing_ran(dir.path());
}

#[test]
fn one_bad_entry_among_tens_of_thousands_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut domains: Vec<String> = (0..20_000).map(|i| format!("h{i}.example.com")).collect();
    domains.push("*.example.com".to_owned());
    let json = serde_json::json!({"firewall": {"domains": domains}});
    std::fs::write(dir.path().join(".cspace.json"), json.to_string()).unwrap();
    let out = plan(dir.path(), &[], &[]);
    refused(&out, &["/firewall/domains/20000", "'*'"]);
}

#[test]
fn hostile_flags_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan(dir.path(), &["--domain", "*.example.com"], &[]);
    refused(&out, &["flag --domain: invalid value"]);
    let out = plan(dir.path(), &["--cidr", "::/0"], &[]);
    refused(&out, &["flag --cidr: invalid value", "/0"]);
}
