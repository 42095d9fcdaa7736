//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the corpus replay test
//! (`fw-core/tests/fuzz_corpus.rs`), so that the checked-in corpus is replayed on stable Rust by
//! `cargo test` with exactly the checks the fuzzer ran.
//!
//! Each function takes arbitrary bytes, feeds them to one parser and panics when a property that
//! must hold for every input is broken. Beyond "does not crash", the properties are:
//!
//! - every error message is bounded ([`MAX_MESSAGE`]): parsers echo the offending input, and an
//!   input of megabytes must not become a log line of megabytes;
//! - whatever is accepted is safe: domains are lower-case `[a-z0-9.-]` only (no shell
//!   metacharacter, no wildcard, no whitespace), no network is a /0;
//! - what is written back out parses back to the same thing (the restore reader and writer, and
//!   Docker's DNS rules re-rendered into an `iptables-restore` block, and conntrack flows read
//!   from netlink encoded again).

use std::path::PathBuf;

use fw_core::config::{self, DOMAINS_VAR, LoadOptions};
use fw_core::ctnetlink::{self, Reply};
use fw_core::docker_dns::parse_nat_save;
use fw_core::meta::parse_meta;
use fw_core::restore::{parse_ipset, parse_iptables, quote_arg, split_args};

use crate::env::FakeEnv;

/// The longest error message any parser may produce, in bytes, whatever the input's size.
/// Parsers show at most [`fw_core::validate::MAX_SHOWN_CHARS`] characters of each offending value,
/// which `{:?}` may escape to ten bytes each; two such values and the text around them fit.
pub const MAX_MESSAGE: usize = 4096;

/// Where the fuzzed `.cspace.json` lives in the fake file system.
const CSPACE_PATH: &str = "/workspace/.cspace.json";

fn check_message(what: &str, message: &str) {
    assert!(
        message.len() <= MAX_MESSAGE,
        "{what}: error message of {} bytes (limit {MAX_MESSAGE}): {:?}...",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
}

/// The GitHub meta parser with the default keys (`web`, `api`, `git`).
pub fn meta(data: &[u8]) {
    let keys = config::MetaSource::default().keys;
    match parse_meta(data, &keys) {
        Ok(ranges) => {
            for key in &keys {
                let nets = ranges.ranges.get(key);
                assert!(
                    nets.is_some_and(|n| !n.is_empty()),
                    "accepted meta without a non-empty {key:?}"
                );
            }
            assert!(
                ranges.nets().all(|n| n.prefix_len() > 0),
                "accepted a /0 from meta"
            );
        }
        Err(e) => check_message("meta", &e.to_string()),
    }
}

/// Checks a loaded configuration: every domain safe to put on a command line, no /0.
fn check_loaded(result: Result<config::Loaded, config::ConfigError>) {
    match result {
        Ok(loaded) => {
            let config = loaded.config;
            for entry in &config.domains {
                let name = entry.domain.as_str();
                assert!(
                    !name.is_empty()
                        && name.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                        }),
                    "accepted an unsafe domain {name:?}"
                );
            }
            let mut names: Vec<&str> = config.domains.iter().map(|e| e.domain.as_str()).collect();
            let total = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), total, "duplicate domains in the configuration");
            assert!(
                config.cidr_list().iter().all(|n| n.prefix_len() > 0),
                "accepted a /0 in the configuration"
            );
            assert!(
                config.marker_path.is_absolute(),
                "accepted a relative marker path"
            );
            assert!(!config.meta.keys.is_empty(), "accepted no meta keys");
            for w in &loaded.warnings {
                check_message("config warning", &w.to_string());
            }
        }
        Err(e) => check_message("config", &e.to_string()),
    }
}

/// The `.cspace.json` parser, through [`config::load`] with a fake file system.
pub fn config_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = FakeEnv::new()
        .with_file(CSPACE_PATH, &text)
        .with_npm_registry("https://registry.example.test/\n");
    let opts = LoadOptions {
        cspace_json: Some(PathBuf::from(CSPACE_PATH)),
        ..LoadOptions::default()
    };
    check_loaded(config::load(&env, &opts));
}

/// `CSPACE_FIREWALL_DOMAINS`, through [`config::load`] with a fake environment.
pub fn config_env(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = FakeEnv::new()
        .with_var(DOMAINS_VAR, &text)
        .with_npm_registry("https://registry.example.test/\n");
    let loaded = config::load(&env, &LoadOptions::default());
    if let Ok(l) = &loaded {
        // Every entry of the variable is in the list (lower case, no trailing dot).
        for token in text
            .split([' ', '\t', '\n', '\r'])
            .filter(|s| !s.is_empty())
        {
            let want = token
                .strip_suffix('.')
                .unwrap_or(token)
                .to_ascii_lowercase();
            assert!(
                l.config.domains.iter().any(|e| e.domain.as_str() == want),
                "entry {token:?} of {DOMAINS_VAR} was accepted but is not in the list"
            );
        }
    }
    check_loaded(loaded);
}

/// Docker's DNS rules from `iptables-save` output. What is found is re-rendered into an
/// `iptables-restore` block, which must parse (restore reader) and give the same rules back.
pub fn nat_save(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = match parse_nat_save(text) {
        Ok(rules) => rules,
        Err(e) => return check_message("nat save", &e.to_string()),
    };
    let _ = (rules.dnat_targets(), rules.snat_targets());
    // The block init would restore: the fuzzer checks the text that is applied.
    let block = fw_core::render::nat_table(&rules);
    let parsed = parse_iptables(&block)
        .unwrap_or_else(|e| panic!("rendered Docker DNS rules do not parse: {e}\n{block}"));
    let nat = parsed.table("nat").expect("the block has a nat table");
    assert_eq!(
        nat.rules.len(),
        rules.rules.len(),
        "rendered Docker DNS rules lost or gained rules\n{block}"
    );
    let again = parse_nat_save(&block)
        .unwrap_or_else(|e| panic!("rendered Docker DNS rules are refused: {e}\n{block}"));
    let mut want = rules.rules.clone();
    let mut got = again.rules;
    want.sort_by(|a, b| (&a.chain, &a.spec).cmp(&(&b.chain, &b.spec)));
    got.sort_by(|a, b| (&a.chain, &a.spec).cmp(&(&b.chain, &b.spec)));
    assert_eq!(got, want, "re-rendered Docker DNS rules differ\n{block}");
}

/// The restore reader (`iptables-save` and `ipset save` text) and writer: what parses is written
/// back and parses to the same thing; every argument survives quoting.
pub fn restore(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_iptables(text) {
        Ok(parsed) => {
            let written = parsed.to_text();
            let again = parse_iptables(&written)
                .unwrap_or_else(|e| panic!("written iptables text does not parse: {e}\n{written}"));
            assert_eq!(
                again, parsed,
                "iptables text changed on a round trip\n{written}"
            );
            for rule in parsed.tables.iter().flat_map(|t| &t.rules) {
                for arg in &rule.args {
                    assert_eq!(
                        split_args(&quote_arg(arg)).as_deref(),
                        Ok(std::slice::from_ref(arg)),
                        "argument {arg:?} does not survive quoting"
                    );
                }
            }
        }
        Err(e) => check_message("iptables", &e.to_string()),
    }
    if let Err(e) = parse_ipset(text) {
        check_message("ipset", &e.to_string());
    }
}

/// The ctnetlink reader (what the kernel sends on a conntrack dump or delete): whatever it reads
/// as a flow encodes again to a message that reads back as the same flow, and the delete built
/// from its key is one well-formed message that carries the kernel's tuple unchanged.
pub fn ctnetlink(data: &[u8]) {
    let replies = match ctnetlink::parse_datagram(data) {
        Ok(r) => r,
        Err(e) => return check_message("ctnetlink", &e.to_string()),
    };
    for reply in replies {
        let Reply::Flow(flow, key) = reply else {
            continue;
        };
        let again = ctnetlink::encode::flow_message(1, &flow, 1, None);
        match ctnetlink::parse_datagram(&again).as_deref() {
            Ok([Reply::Flow(f, _)]) if f.src == flow.src && f.dst == flow.dst => {}
            other => panic!("flow {flow:?} does not survive encoding: {other:?}"),
        }
        let del = ctnetlink::delete_request(7, &key);
        let len = u32::from_ne_bytes([del[0], del[1], del[2], del[3]]) as usize;
        assert_eq!(len, del.len(), "delete request length field");
        assert_eq!(len % 4, 0, "delete request not padded");
        assert_eq!(
            &del[20..20 + key.tuple.len()],
            key.tuple.as_slice(),
            "the delete does not carry the tuple unchanged"
        );
    }
}
