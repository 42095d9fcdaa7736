//! GitHub meta API responses (`https://api.github.com/meta`): parsing and validation.
//!
//! The response is untrusted input that ends up in an allowlist, so it is checked strictly and
//! fails closed (FAIL-02, FAIL-05): a body that is too big, empty, not UTF-8, not JSON or not a
//! JSON object is refused; every requested key (by default `web`, `api`, `git`, ALW-06) must be a
//! non-empty array of strings, and every string must be a CIDR that [`parse_cidr`] accepts.
//!
//! A malformed entry refuses the whole response rather than being skipped with a warning, which
//! FAIL-05 would also allow. Skipping would make the allowlist depend silently on which entries
//! happened to parse, and a response with a bad entry is a sign that something (a proxy, a
//! captive portal, an API change) is wrong with the whole body; failing leaves the previous
//! firewall or none, never a half-understood one.
//!
//! Every other key is skipped without being validated or kept: `actions` alone has thousands of
//! entries that the firewall never uses. They are skipped by a streaming visitor with
//! [`IgnoredAny`], so they cost a scan of their bytes and no allocation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ipnet::IpNet;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validate::{CidrError, parse_cidr};

/// The largest meta response accepted, in bytes: 16 MiB.
///
/// GitHub's real response is about 200 to 400 KB, almost all of it the `actions` key, which
/// grows as GitHub adds runner ranges. 16 MiB leaves some forty times that for growth, so the
/// limit will not break a working setup for years, while still bounding what a misbehaving or
/// hostile server (or a proxy answering with something else) can make the firewall hold in
/// memory. The fetcher should stop reading past this bound as well, not only hand the body here.
pub const MAX_META_BODY: usize = 16 * 1024 * 1024;

/// How many characters of a refused entry an error message shows. The entry comes from the
/// network: a multi-megabyte string must not become a multi-megabyte error message.
const MAX_SHOWN_VALUE: usize = 80;

/// Why a meta response was refused. Every variant names what was wrong and where, so that the
/// single line the firewall prints on failure is enough to diagnose it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("meta response is {size} bytes, the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("meta response is empty")]
    Empty,
    #[error("meta response is not UTF-8 at line {line} column {column}")]
    NotUtf8 { line: usize, column: usize },
    #[error("meta response is not valid JSON at line {line} column {column}: {reason}")]
    Json {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("meta response is {found}, not a JSON object")]
    NotObject { found: &'static str },
    /// JSON leaves the meaning of a repeated key open; which copy to use is not guessed.
    #[error("meta response has the key {key:?} more than once")]
    DuplicateKey { key: String },
    #[error("meta response has no {key:?} key")]
    MissingKey { key: String },
    #[error("meta key {key:?} is {found}, not an array of CIDR strings")]
    NotArray { key: String, found: &'static str },
    #[error("meta key {key:?} is an empty array")]
    EmptyArray { key: String },
    #[error("meta key {key:?} entry {index} is {found}, not a string")]
    NotString {
        key: String,
        index: usize,
        found: &'static str,
    },
    /// `index` counts from 0, as in `jq '.git[3]'`. `value` is the entry as received, cut to
    /// 80 characters. The reason is part of the message (not a `source`) so that the one line
    /// printed says everything.
    #[error("meta key {key:?} entry {index} {value:?} is not a valid CIDR: {reason}")]
    BadCidr {
        key: String,
        index: usize,
        value: String,
        reason: CidrError,
    },
}

/// The validated ranges under the configured keys (by default `web`, `api`, `git`), per key,
/// in the order the response gave them. Other keys of the response are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRanges {
    pub ranges: BTreeMap<String, Vec<IpNet>>,
}

impl MetaRanges {
    /// Every network under every kept key.
    pub fn nets(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.ranges.values().flatten().copied()
    }

    /// How many networks there are under all kept keys together (duplicates counted).
    pub fn len(&self) -> usize {
        self.ranges.values().map(Vec::len).sum()
    }

    /// Whether no key holds a network.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each kept key with its number of networks, in key order: what the firewall reports.
    pub fn key_counts(&self) -> Vec<(String, usize)> {
        self.ranges
            .iter()
            .map(|(key, nets)| (key.clone(), nets.len()))
            .collect()
    }
}

/// Parses and validates a meta response body, keeping the ranges under `keys` only.
///
/// Checks, in order: the size bound ([`MAX_META_BODY`]), an empty (or all-whitespace) body,
/// UTF-8, JSON syntax, a top-level object, no repeated key, then for each requested key in the
/// order given: present, an array, not empty, every entry a string and a CIDR. The first
/// problem found is returned. Entries keep the response's order, duplicates included (the plan
/// aggregates). A key requested twice is kept once.
pub fn parse_meta(body: &[u8], keys: &[String]) -> Result<MetaRanges, MetaError> {
    if body.len() > MAX_META_BODY {
        return Err(MetaError::TooLarge {
            size: body.len(),
            limit: MAX_META_BODY,
        });
    }
    if body.trim_ascii().is_empty() {
        return Err(MetaError::Empty);
    }
    // serde_json skips ignored strings without checking their UTF-8, and JSON must be UTF-8
    // (RFC 8259): check the whole body first. This is fast next to the JSON parse.
    let text = std::str::from_utf8(body).map_err(|e| {
        let (line, column) = line_column(body, e.valid_up_to());
        MetaError::NotUtf8 { line, column }
    })?;

    let wanted: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let mut de = serde_json::Deserializer::from_str(text);
    let top = TopSeed { wanted: &wanted }
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top))
        .map_err(json_error)?;

    let mut found = match top {
        Top::NotObject(found) => return Err(MetaError::NotObject { found }),
        Top::Object {
            duplicate: Some(key),
            ..
        } => return Err(MetaError::DuplicateKey { key: shown(&key) }),
        Top::Object {
            kept,
            duplicate: None,
        } => kept,
    };

    let mut ranges = BTreeMap::new();
    for key in keys {
        if ranges.contains_key(key) {
            continue;
        }
        let value = found
            .remove(key)
            .ok_or_else(|| MetaError::MissingKey { key: key.clone() })?;
        let entries = match value {
            Value::Array(entries) => entries,
            other => {
                return Err(MetaError::NotArray {
                    key: key.clone(),
                    found: kind(&other),
                });
            }
        };
        if entries.is_empty() {
            return Err(MetaError::EmptyArray { key: key.clone() });
        }
        let nets = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| parse_entry(key, index, entry))
            .collect::<Result<Vec<_>, _>>()?;
        ranges.insert(key.clone(), nets);
    }
    Ok(MetaRanges { ranges })
}

fn parse_entry(key: &str, index: usize, entry: &Value) -> Result<IpNet, MetaError> {
    let Value::String(s) = entry else {
        return Err(MetaError::NotString {
            key: key.to_owned(),
            index,
            found: kind(entry),
        });
    };
    parse_cidr(s).map_err(|reason| MetaError::BadCidr {
        key: key.to_owned(),
        index,
        value: shown(s),
        reason,
    })
}

/// The entry as an error shows it: at most [`MAX_SHOWN_VALUE`] characters, then `...`.
fn shown(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN_VALUE) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}...", &s[..cut]),
    }
}

/// What kind of JSON value this is, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's error, with the position as fields and the " at line L column C" it appends
/// to its own message taken off (the variant's message puts the position first).
fn json_error(e: serde_json::Error) -> MetaError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    MetaError::Json {
        line: e.line(),
        column: e.column(),
        reason,
    }
}

/// 1-based line and column (in bytes, as serde_json counts) of a byte offset.
fn line_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset.min(body.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, before.len() - line_start + 1)
}

/// What the top level of the body turned out to be.
enum Top {
    /// The requested keys' values (other keys skipped), and the first repeated key, if any.
    Object {
        kept: BTreeMap<String, Value>,
        duplicate: Option<String>,
    },
    /// Any other JSON value, named for the error message.
    NotObject(&'static str),
}

/// Streams the top-level object, building a [`Value`] only for the requested keys.
struct TopSeed<'a> {
    wanted: &'a BTreeSet<&'a str>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut kept = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut duplicate = None;
        while let Some(key) = map.next_key::<String>()? {
            // Every key is tracked (a few dozen at most), so a repeat is caught wherever it is.
            // The rest of the body is still read, so that a syntax error later on wins.
            if !seen.insert(key.clone()) && duplicate.is_none() {
                duplicate = Some(key.clone());
            }
            if self.wanted.contains(key.as_str()) {
                let value = map.next_value::<Value>()?;
                kept.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Top::Object { kept, duplicate })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject("a JSON array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::NotObject("a JSON string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::NotObject("a JSON boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::NotObject("a JSON number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::NotObject("a JSON number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::NotObject("a JSON number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::NotObject("JSON null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    const REALISTIC: &[u8] = include_bytes!("../testdata/meta/realistic.json");

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn default_keys() -> Vec<String> {
        keys(&["web", "api", "git"])
    }

    fn net(s: &str) -> IpNet {
        s.parse().expect("test network")
    }

    /// A body with good `web`, `api`, `git` keys, with `patch` applied on top.
    fn body_with(patch: Value) -> Vec<u8> {
        let mut v = json!({
            "verifiable_password_authentication": false,
            "web": ["192.0.2.0/26"],
            "api": ["192.0.2.64/26"],
            "git": ["192.0.2.128/26", "2001:db8:3::/48"],
            "actions": ["198.18.0.0/16"],
        });
        if let (Value::Object(base), Value::Object(patch)) = (&mut v, patch) {
            base.extend(patch);
        }
        serde_json::to_vec(&v).expect("serializes")
    }

    #[test]
    fn parses_the_realistic_fixture() {
        let meta = parse_meta(REALISTIC, &default_keys()).expect("realistic fixture parses");
        let counts = meta.key_counts();
        assert_eq!(
            counts.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["api", "git", "web"]
        );
        assert!(
            counts.iter().all(|(_, n)| (24..=60).contains(n)),
            "{counts:?}"
        );
        assert_eq!(meta.len(), counts.iter().map(|(_, n)| n).sum::<usize>());
        assert!(!meta.is_empty());
        assert_eq!(meta.ranges["web"][0], net("192.0.2.0/26"));
        assert_eq!(meta.ranges["api"][0], net("192.0.2.64/26"));
        assert_eq!(meta.ranges["git"][0], net("192.0.2.128/26"));
        let blocks = [
            ("web", "192.0.2.0/26", "2001:db8:1::/48"),
            ("api", "192.0.2.64/26", "2001:db8:2::/48"),
            ("git", "192.0.2.128/26", "2001:db8:3::/48"),
        ];
        for (key, v4, v6) in blocks {
            let (v4, v6) = (net(v4), net(v6));
            for n in &meta.ranges[key] {
                assert!(
                    v4.contains(n) || v6.contains(n),
                    "{key}: {n} outside its block"
                );
            }
            assert!(
                meta.ranges[key].iter().any(|n| v6.contains(n)),
                "{key} has no IPv6"
            );
        }
    }

    #[test]
    fn other_keys_are_not_kept() {
        let meta = parse_meta(REALISTIC, &keys(&["git"])).expect("parses");
        assert_eq!(meta.ranges.keys().collect::<Vec<_>>(), ["git"]);
    }

    #[test]
    fn other_keys_are_not_validated() {
        let body = body_with(json!({
            "actions": ["not-a-cidr", 7, null, {"x": []}, "0.0.0.0/0"],
            "hooks": "nonsense",
            "domains": {"website": ["*.github.com"]},
        }));
        let meta = parse_meta(&body, &default_keys()).expect("other keys ignored");
        assert_eq!(meta.len(), 4);
    }

    #[test]
    fn keeps_response_order_and_duplicates() {
        let body = body_with(json!({
            "web": ["192.0.2.32/27", "192.0.2.0/27", "192.0.2.32/27", "2001:db8:1::/48"],
        }));
        let meta = parse_meta(&body, &default_keys()).expect("parses");
        assert_eq!(
            meta.ranges["web"],
            [
                net("192.0.2.32/27"),
                net("192.0.2.0/27"),
                net("192.0.2.32/27"),
                net("2001:db8:1::/48")
            ]
        );
        assert_eq!(
            meta.key_counts(),
            [("api".into(), 1), ("git".into(), 2), ("web".into(), 4)]
        );
    }

    #[test]
    fn a_key_requested_twice_is_kept_once() {
        let meta =
            parse_meta(&body_with(json!({})), &keys(&["web", "web", "git"])).expect("parses");
        assert_eq!(meta.key_counts(), [("git".into(), 2), ("web".into(), 1)]);
    }

    #[test]
    fn no_keys_requested_keeps_nothing() {
        let meta = parse_meta(&body_with(json!({})), &[]).expect("parses");
        assert!(meta.is_empty());
        assert_eq!(meta.len(), 0);
        assert_eq!(meta.key_counts(), []);
    }

    #[rstest]
    #[case("192.0.2.5", "192.0.2.5/32")]
    #[case("2001:db8:1::7", "2001:db8:1::7/128")]
    #[case("192.0.2.7/26", "192.0.2.0/26")]
    #[case(" 192.0.2.8/29 ", "192.0.2.8/29")]
    fn accepts_bare_addresses_and_normalises(#[case] entry: &str, #[case] want: &str) {
        let body = body_with(json!({ "web": [entry] }));
        let meta = parse_meta(&body, &default_keys()).expect("parses");
        assert_eq!(meta.ranges["web"], [net(want)]);
    }

    #[rstest]
    #[case::not_a_cidr(json!({"git": ["192.0.2.128/26", "2001:db8:3::/48", "192.0.2.129", "not-a-cidr"]}), MetaError::BadCidr { key: "git".into(), index: 3, value: "not-a-cidr".into(), reason: CidrError::Syntax })]
    #[case::bad_octet(json!({"git": ["300.1.1.1/24"]}), MetaError::BadCidr { key: "git".into(), index: 0, value: "300.1.1.1/24".into(), reason: CidrError::Syntax })]
    #[case::bad_prefix(json!({"web": ["192.0.2.0/26", "1.2.3.4/40"]}), MetaError::BadCidr { key: "web".into(), index: 1, value: "1.2.3.4/40".into(), reason: CidrError::PrefixRange { prefix: "40".into(), family: "IPv4", max: 32 } })]
    #[case::all_v4(json!({"api": ["0.0.0.0/0"]}), MetaError::BadCidr { key: "api".into(), index: 0, value: "0.0.0.0/0".into(), reason: CidrError::AllAddresses })]
    #[case::all_v6(json!({"api": ["::/0"]}), MetaError::BadCidr { key: "api".into(), index: 0, value: "::/0".into(), reason: CidrError::AllAddresses })]
    #[case::empty_string(json!({"api": [""]}), MetaError::BadCidr { key: "api".into(), index: 0, value: "".into(), reason: CidrError::Empty })]
    #[case::missing(json!({"api": null}), MetaError::NotArray { key: "api".into(), found: "null" })]
    #[case::object(json!({"git": {"a": "192.0.2.0/24"}}), MetaError::NotArray { key: "git".into(), found: "an object" })]
    #[case::string(json!({"web": "192.0.2.0/26"}), MetaError::NotArray { key: "web".into(), found: "a string" })]
    #[case::empty(json!({"web": []}), MetaError::EmptyArray { key: "web".into() })]
    #[case::number_entry(json!({"web": ["192.0.2.0/26", 3232235520u64]}), MetaError::NotString { key: "web".into(), index: 1, found: "a number" })]
    #[case::null_entry(json!({"api": [null]}), MetaError::NotString { key: "api".into(), index: 0, found: "null" })]
    #[case::array_entry(json!({"api": [["192.0.2.64/26"]]}), MetaError::NotString { key: "api".into(), index: 0, found: "an array" })]
    fn refuses_bad_requested_keys(#[case] patch: Value, #[case] want: MetaError) {
        assert_eq!(parse_meta(&body_with(patch), &default_keys()), Err(want));
    }

    #[test]
    fn refuses_a_missing_key() {
        let body = br#"{"web": ["192.0.2.0/26"], "git": ["192.0.2.128/26"]}"#;
        assert_eq!(
            parse_meta(body, &default_keys()),
            Err(MetaError::MissingKey { key: "api".into() })
        );
    }

    #[test]
    fn the_first_bad_key_in_request_order_is_reported() {
        let body = br#"{"web": [], "api": "x"}"#;
        assert_eq!(
            parse_meta(body, &keys(&["api", "web"])),
            Err(MetaError::NotArray {
                key: "api".into(),
                found: "a string"
            })
        );
    }

    #[rstest]
    #[case::empty(b"", MetaError::Empty)]
    #[case::whitespace(b" \r\n\t\n", MetaError::Empty)]
    #[case::array(b"[1, 2, {\"web\": []}]", MetaError::NotObject { found: "a JSON array" })]
    #[case::string(b"\"web\"", MetaError::NotObject { found: "a JSON string" })]
    #[case::number(b"42", MetaError::NotObject { found: "a JSON number" })]
    #[case::negative(b"-1.5", MetaError::NotObject { found: "a JSON number" })]
    #[case::boolean(b"true", MetaError::NotObject { found: "a JSON boolean" })]
    #[case::null(b"null", MetaError::NotObject { found: "JSON null" })]
    #[case::duplicate(b"{\"web\": [\"192.0.2.0/26\"], \"api\": [\"192.0.2.64/26\"], \"git\": [\"192.0.2.128/26\"], \"web\": [\"198.51.100.0/24\"]}", MetaError::DuplicateKey { key: "web".into() })]
    #[case::duplicate_other(b"{\"web\": [\"192.0.2.0/26\"], \"api\": [\"192.0.2.64/26\"], \"git\": [\"192.0.2.128/26\"], \"x\": 1, \"x\": 2}", MetaError::DuplicateKey { key: "x".into() })]
    #[case::not_utf8(b"{\"web\": [\"192.0.2.0/26\"],\n \"actions\": [\"\xff\"]}", MetaError::NotUtf8 { line: 2, column: 15 })]
    #[case::truncated(b"{\"web\": [\"192.0.2.0/26\"", MetaError::Json { line: 1, column: 23, reason: "EOF while parsing a list".into() })]
    #[case::html(b"<html>rate limited</html>", MetaError::Json { line: 1, column: 1, reason: "expected value".into() })]
    #[case::trailing(b"{\"web\": []} x", MetaError::Json { line: 1, column: 13, reason: "trailing characters".into() })]
    #[case::bad_in_ignored(b"{\"actions\": [1,,2]}", MetaError::Json { line: 1, column: 16, reason: "expected value".into() })]
    fn refuses_bad_bodies(#[case] body: &[u8], #[case] want: MetaError) {
        assert_eq!(parse_meta(body, &default_keys()), Err(want));
    }

    #[test]
    fn refuses_an_oversized_body_before_reading_it() {
        // Not even valid JSON: the size is checked first.
        let body = vec![b'{'; MAX_META_BODY + 1];
        assert_eq!(
            parse_meta(&body, &default_keys()),
            Err(MetaError::TooLarge {
                size: MAX_META_BODY + 1,
                limit: MAX_META_BODY
            })
        );
    }

    #[test]
    fn accepts_a_body_of_exactly_the_limit() {
        let mut body = body_with(json!({}));
        body.resize(MAX_META_BODY, b' ');
        assert!(parse_meta(&body, &default_keys()).is_ok());
    }

    #[test]
    fn a_huge_ignored_key_is_skipped() {
        let actions: Vec<String> = (0..200_000)
            .map(|i| format!("198.18.{}.{}/32", i / 256 % 256, i % 256))
            .collect();
        let body = body_with(json!({ "actions": actions }));
        assert!(body.len() > 3_000_000);
        let meta = parse_meta(&body, &default_keys()).expect("parses");
        assert_eq!(meta.len(), 4);
    }

    #[test]
    fn deep_nesting_in_an_ignored_key_does_not_overflow() {
        let depth = 100_000;
        let body = format!(
            r#"{{"web": ["192.0.2.0/26"], "api": ["192.0.2.64/26"], "git": ["192.0.2.128/26"], "actions": {}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(parse_meta(body.as_bytes(), &default_keys()).is_ok());
    }

    #[test]
    fn deep_nesting_in_a_requested_key_is_refused() {
        let depth = 100_000;
        let body = format!(r#"{{"web": {}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(
            parse_meta(body.as_bytes(), &default_keys()),
            Err(MetaError::Json { reason, .. }) if reason == "recursion limit exceeded"
        ));
    }

    #[rstest]
    #[case(MetaError::TooLarge { size: 16_777_217, limit: MAX_META_BODY }, "meta response is 16777217 bytes, the limit is 16777216")]
    #[case(MetaError::Empty, "meta response is empty")]
    #[case(MetaError::NotUtf8 { line: 2, column: 15 }, "meta response is not UTF-8 at line 2 column 15")]
    #[case(MetaError::Json { line: 1, column: 23, reason: "EOF while parsing a list".into() }, "meta response is not valid JSON at line 1 column 23: EOF while parsing a list")]
    #[case(MetaError::NotObject { found: "a JSON array" }, "meta response is a JSON array, not a JSON object")]
    #[case(MetaError::DuplicateKey { key: "web".into() }, r#"meta response has the key "web" more than once"#)]
    #[case(MetaError::MissingKey { key: "api".into() }, r#"meta response has no "api" key"#)]
    #[case(MetaError::NotArray { key: "git".into(), found: "an object" }, r#"meta key "git" is an object, not an array of CIDR strings"#)]
    #[case(MetaError::EmptyArray { key: "web".into() }, r#"meta key "web" is an empty array"#)]
    #[case(MetaError::NotString { key: "web".into(), index: 1, found: "a number" }, r#"meta key "web" entry 1 is a number, not a string"#)]
    #[case(MetaError::BadCidr { key: "git".into(), index: 3, value: "300.1.1.1/24".into(), reason: CidrError::Syntax }, r#"meta key "git" entry 3 "300.1.1.1/24" is not a valid CIDR: not an IPv4 or IPv6 address or network"#)]
    #[case(MetaError::BadCidr { key: "web".into(), index: 0, value: "1.2.3.4/40".into(), reason: CidrError::PrefixRange { prefix: "40".into(), family: "IPv4", max: 32 } }, r#"meta key "web" entry 0 "1.2.3.4/40" is not a valid CIDR: prefix length /40 is out of range for IPv4 (0 to 32)"#)]
    #[case(MetaError::BadCidr { key: "api".into(), index: 0, value: "0.0.0.0/0".into(), reason: CidrError::AllAddresses }, r#"meta key "api" entry 0 "0.0.0.0/0" is not a valid CIDR: a /0 network would allow every address"#)]
    fn error_messages(#[case] err: MetaError, #[case] want: &str) {
        assert_eq!(err.to_string(), want);
    }

    #[test]
    fn messages_escape_and_cut_hostile_entries() {
        let hostile = format!("1.2.3.4\n\u{1b}[2J\"{}", "x".repeat(10_000));
        let body = body_with(json!({ "web": [hostile] }));
        let err = parse_meta(&body, &default_keys()).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.starts_with(r#"meta key "web" entry 0 "1.2.3.4\n\u{1b}[2J\"xxx"#),
            "{msg}"
        );
        assert!(msg.contains(r#"xxx..." is not a valid CIDR"#), "{msg}");
        assert!(!msg.contains('\n') && !msg.contains('\u{1b}'));
        assert!(msg.len() < 200, "{}", msg.len());
    }

    #[test]
    fn the_message_of_a_real_parse_error() {
        let err =
            parse_meta(br#"{"git": ["300.1.1.1/24"]}"#, &keys(&["git"])).expect_err("refused");
        assert_eq!(
            err.to_string(),
            r#"meta key "git" entry 0 "300.1.1.1/24" is not a valid CIDR: not an IPv4 or IPv6 address or network"#
        );
        let err = parse_meta(
            b"{\n  \"git\": [\n    \"192.0.2.0/24\",\n  ]\n}",
            &keys(&["git"]),
        )
        .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "meta response is not valid JSON at line 4 column 3: trailing comma"
        );
    }

    #[test]
    fn escaped_keys_match() {
        let body = br#"{"w\u0065b": ["192.0.2.0/26"]}"#;
        let meta = parse_meta(body, &keys(&["web"])).expect("parses");
        assert_eq!(meta.ranges["web"], [net("192.0.2.0/26")]);
    }

    fn entry_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9a-fA-F.:/ ]{0,24}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,3})?",
            "[0-9a-f:]{2,20}(/[0-9]{1,3})?",
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_entries_parse_or_are_refused(entry in entry_strategy()) {
            let body = body_with(json!({ "web": ["192.0.2.0/26", entry.clone()] }));
            match parse_meta(&body, &default_keys()) {
                Ok(meta) => {
                    let want = parse_cidr(&entry).expect("accepted by parse_meta, so by parse_cidr");
                    prop_assert_ne!(want.prefix_len(), 0);
                    prop_assert_eq!(&meta.ranges["web"], &vec![net("192.0.2.0/26"), want]);
                    prop_assert!(meta.nets().all(|n| n.prefix_len() > 0));
                }
                Err(MetaError::BadCidr { key, index, reason, .. }) => {
                    prop_assert_eq!(key, "web");
                    prop_assert_eq!(index, 1);
                    prop_assert_eq!(Err(reason), parse_cidr(&entry));
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_meta(&body, &default_keys());
        }
    }

    /// A repeated key from the network was echoed whole in the error.
    #[test]
    fn a_huge_duplicate_key_is_shown_cut() {
        let key = "k".repeat(100_000);
        let body = format!("{{\"{key}\": 1, \"{key}\": 2}}");
        let err = parse_meta(body.as_bytes(), &default_keys()).expect_err("duplicate");
        let msg = err.to_string();
        assert!(msg.starts_with("meta response has the key \"kkk"), "{msg}");
        assert!(msg.len() < 200, "{} bytes", msg.len());
    }
}
