//! Seeded, deterministic generators of GitHub meta responses for tests and benchmarks.
//!
//! The same seed gives the same bytes on every machine and every version, forever: the PRNG is
//! a self-contained splitmix64 (no `rand`, whose streams may change between releases), and
//! objects are built in sorted key order, so the output does not depend on whether serde_json's
//! `preserve_order` feature happens to be on in a build.
//!
//! Every range comes from the sandbox's address plan ([`crate::plan`], docs/sandbox.md):
//!
//! | keys | IPv4 | IPv6 |
//! |---|---|---|
//! | `web` / `api` / `git` (allowed) | [`plan::GITHUB_WEB_V4`], [`plan::GITHUB_API_V4`], [`plan::GITHUB_GIT_V4`] | [`plan::GITHUB_WEB_V6`], [`plan::GITHUB_API_V6`], [`plan::GITHUB_GIT_V6`] |
//! | `hooks`, `pages` (stay blocked) | [`HOOKS_V4`] | [`OTHER_V6`] |
//! | `actions` and the rest (stay blocked) | [`OTHER_V4`] | [`OTHER_V6`] |
//! | [`scaled_meta`]'s `web` / `api` / `git` | [`SCALED_V4`] | [`SCALED_V6`] |
//!
//! None of them touches the plan's blocked hosts, Docker networks or domain hosts (a test here
//! holds them against those ranges, written out independently).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{Map, Value};

use crate::plan;

/// The `web`, `api` and `git` blocks of the address plan, in that order.
pub const ALLOWED_BLOCKS: [(&str, Ipv4Net, Ipv6Net); 3] = [
    ("web", plan::GITHUB_WEB_V4, plan::GITHUB_WEB_V6),
    ("api", plan::GITHUB_API_V4, plan::GITHUB_API_V6),
    ("git", plan::GITHUB_GIT_V4, plan::GITHUB_GIT_V6),
];
/// IPv4 block of `hooks` and `pages`: under other keys only, so it must stay blocked.
pub const HOOKS_V4: Ipv4Net = plan::OTHER_KEY_V4[0];
/// IPv4 block of `actions` and the other non-allowed keys: must stay blocked.
pub const OTHER_V4: Ipv4Net = plan::OTHER_KEY_V4[1];
/// IPv6 block of every non-allowed key: must stay blocked.
pub const OTHER_V6: Ipv6Net = plan::OTHER_KEY_V6;
/// IPv4 block of [`scaled_meta`] ([`plan::SCALED_V4`]).
pub const SCALED_V4: Ipv4Net = plan::SCALED_V4;
/// IPv6 block of [`scaled_meta`] ([`plan::SCALED_V6`]).
pub const SCALED_V6: Ipv6Net = plan::SCALED_V6;

/// How many networks `actions` has in [`realistic_meta`], about as many as GitHub's.
pub const REALISTIC_ACTIONS: usize = 5_000;

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and fully defined by its seed, so a
/// fixture made from a seed never changes.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), by multiply-shift: unbiased enough for fixtures.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// One of `from`, which must not be empty; repeat an item to weight it.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    fn next_u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }
}

/// A constant of this module as a network; the constants are known good.
fn v4(s: &str) -> Ipv4Net {
    s.parse().expect("a valid IPv4 constant")
}

/// A random network of length `len` inside `block` (`len` >= the block's length).
fn piece_v4(rng: &mut SplitMix64, block: Ipv4Net, len: u8) -> Ipv4Net {
    let addr = u32::from(block.network()) | (rng.next_u64() as u32 & u32::from(block.hostmask()));
    Ipv4Net::new(Ipv4Addr::from(addr), len)
        .expect("length within 0..=32")
        .trunc()
}

fn piece_v6(rng: &mut SplitMix64, block: Ipv6Net, len: u8) -> Ipv6Net {
    let addr = u128::from(block.network()) | (rng.next_u128() & u128::from(block.hostmask()));
    Ipv6Net::new(Ipv6Addr::from(addr), len)
        .expect("length within 0..=128")
        .trunc()
}

/// A network as GitHub writes it; a host network sometimes as a bare address, to exercise that
/// path of the parser.
fn show_v4(rng: &mut SplitMix64, n: Ipv4Net) -> Value {
    if n.prefix_len() == 32 && rng.coin() {
        Value::String(n.addr().to_string())
    } else {
        Value::String(n.to_string())
    }
}

fn show_v6(rng: &mut SplitMix64, n: Ipv6Net) -> Value {
    if n.prefix_len() == 128 && rng.coin() {
        Value::String(n.addr().to_string())
    } else {
        Value::String(n.to_string())
    }
}

/// The `first` entries, then `n4` distinct IPv4 and `n6` distinct IPv6 pieces of the blocks,
/// with prefix lengths picked from the given lists (which must allow that many distinct
/// pieces). GitHub lists IPv4 first too, and repeats no entry within a key.
fn range_list(
    rng: &mut SplitMix64,
    first: &[&str],
    (block4, lens4, n4): (Ipv4Net, &[u8], usize),
    (block6, lens6, n6): (Ipv6Net, &[u8], usize),
) -> Vec<Value> {
    let mut out: Vec<Value> = first.iter().map(|s| Value::String((*s).into())).collect();
    let mut seen4 = BTreeSet::new();
    while seen4.len() < n4 {
        let len = rng.pick(lens4);
        let n = piece_v4(rng, block4, len);
        if seen4.insert(n) {
            out.push(show_v4(rng, n));
        }
    }
    let mut seen6 = BTreeSet::new();
    while seen6.len() < n6 {
        let len = rng.pick(lens6);
        let n = piece_v6(rng, block6, len);
        if seen6.insert(n) {
            out.push(show_v6(rng, n));
        }
    }
    out
}

/// [`range_list`] as a JSON array.
fn ranges(
    rng: &mut SplitMix64,
    first: &[&str],
    v4s: (Ipv4Net, &[u8], usize),
    v6s: (Ipv6Net, &[u8], usize),
) -> Value {
    Value::Array(range_list(rng, first, v4s, v6s))
}

/// Random base64 text, for the fake SSH keys and fingerprints (random bytes, not keys).
fn base64ish(rng: &mut SplitMix64, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.below(64) as usize]))
        .collect()
}

fn object(entries: BTreeMap<&str, Value>) -> Value {
    // Sorted insertion: the same text with or without serde_json's preserve_order.
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<_, _>>(),
    )
}

fn names(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|s| Value::String((*s).into())).collect())
}

/// The keys of a meta response that are not ranges, in GitHub's shape.
fn non_range_keys(rng: &mut SplitMix64, m: &mut BTreeMap<&'static str, Value>) {
    m.insert("verifiable_password_authentication", Value::Bool(false));
    let fingerprints = BTreeMap::from([
        ("SHA256_ECDSA", Value::String(base64ish(rng, 43))),
        ("SHA256_ED25519", Value::String(base64ish(rng, 43))),
        ("SHA256_RSA", Value::String(base64ish(rng, 43))),
    ]);
    m.insert("ssh_key_fingerprints", object(fingerprints));
    let keys = vec![
        Value::String(format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{}",
            base64ish(rng, 43)
        )),
        Value::String(format!(
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB{}=",
            base64ish(rng, 87)
        )),
        Value::String(format!(
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{}=",
            base64ish(rng, 507)
        )),
    ];
    m.insert("ssh_keys", Value::Array(keys));
    let domains = BTreeMap::from([
        (
            "actions",
            names(&[
                "github.com",
                "*.actions.githubusercontent.com",
                "codeload.github.com",
                "pkg.actions.githubusercontent.com",
                "ghcr.io",
                "results-receiver.actions.githubusercontent.com",
                "*.blob.core.windows.net",
            ]),
        ),
        (
            "codespaces",
            names(&[
                "github.com",
                "api.github.com",
                "*.github.com",
                "*.githubusercontent.com",
                "*.githubassets.com",
            ]),
        ),
        (
            "copilot",
            names(&[
                "*.githubcopilot.com",
                "*.individual.githubcopilot.com",
                "*.business.githubcopilot.com",
                "*.enterprise.githubcopilot.com",
            ]),
        ),
        (
            "packages",
            names(&[
                "mavenregistryv2prod.blob.core.windows.net",
                "npmregistryv2prod.blob.core.windows.net",
                "nugetregistryv2prod.blob.core.windows.net",
                "rubygemsregistryv2prod.blob.core.windows.net",
                "npm.pkg.github.com",
                "npm-proxy.pkg.github.com",
                "ghcr.io",
            ]),
        ),
        (
            "website",
            names(&[
                "*.github.com",
                "*.github.dev",
                "*.github.io",
                "*.githubassets.com",
                "*.githubusercontent.com",
            ]),
        ),
    ]);
    m.insert("domains", object(domains));
}

/// A meta response in GitHub's real shape, small enough to read and big enough to matter.
///
/// `web`, `api` and `git` each hold their /26 first (so the sandbox's github.com, api.github.com
/// and git hosts are inside), then 23 distinct IPv4 pieces of it (/27 to /32, some hosts as bare
/// addresses), then their IPv6 /48 and 11 distinct pieces of it (/56 to /128): 36 entries each. `hooks` and `pages`
/// start with [`HOOKS_V4`] and `actions` with [`OTHER_V4`] itself, so any sandbox host in those
/// blocks is certainly under another key only (ALW-06); `actions` has [`REALISTIC_ACTIONS`]
/// entries in all. No range under another key overlaps an allowed block.
pub fn realistic_meta(seed: u64) -> Value {
    let mut rng = SplitMix64::new(seed);
    let mut m: BTreeMap<&'static str, Value> = BTreeMap::new();
    non_range_keys(&mut rng, &mut m);

    for (key, b4, b6) in ALLOWED_BLOCKS {
        let mut entries = range_list(
            &mut rng,
            &[&b4.to_string()],
            (b4, &[27, 28, 29, 30, 31, 32, 32], 23),
            (b6, &[], 0),
        );
        entries.extend(range_list(
            &mut rng,
            &[&b6.to_string()],
            (b4, &[], 0),
            (b6, &[56, 60, 64, 96, 112, 128, 128], 11),
        ));
        m.insert(key, Value::Array(entries));
    }

    let (low, high) = (v4("192.0.2.192/27"), v4("192.0.2.224/27"));
    let (actions4, rest4) = (v4("198.18.0.0/17"), v4("198.18.128.0/17"));
    let other6 = OTHER_V6;
    m.insert(
        "hooks",
        ranges(
            &mut rng,
            &[&HOOKS_V4.to_string()],
            (low, &[28, 29, 30, 32], 4),
            (other6, &[56, 64], 2),
        ),
    );
    m.insert(
        "pages",
        ranges(
            &mut rng,
            &["192.0.2.224/27"],
            (high, &[28, 29, 30, 32], 4),
            (other6, &[56, 64], 2),
        ),
    );
    let n6 = REALISTIC_ACTIONS / 5;
    let n4 = REALISTIC_ACTIONS - n6 - 1;
    m.insert(
        "actions",
        ranges(
            &mut rng,
            &[&OTHER_V4.to_string()],
            (
                actions4,
                &[22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 32, 32],
                n4,
            ),
            (other6, &[64, 96, 112, 128, 128], n6),
        ),
    );
    let rest: [(&'static str, usize, usize); 7] = [
        ("actions_macos", 10, 0),
        ("codespaces", 12, 2),
        ("copilot", 4, 2),
        ("dependabot", 4, 0),
        ("github_enterprise_importer", 6, 2),
        ("importer", 3, 0),
        ("packages", 8, 2),
    ];
    for (key, n4, n6) in rest {
        m.insert(
            key,
            ranges(
                &mut rng,
                &[],
                (rest4, &[22, 23, 24, 26, 28, 32], n4),
                (other6, &[56, 64], n6),
            ),
        );
    }
    object(m)
}

/// A meta response whose `web`, `api` and `git` together hold exactly `total_cidrs` networks
/// that no aggregation can merge or drop, for benchmarks and the large-fixture case.
///
/// A tenth (rounded down) are IPv6, the rest IPv4, dealt round-robin to `web`, `api`, `git`
/// (IPv4 first in each). Each network owns a slot of its own: an IPv4 slot is 8 addresses of
/// [`SCALED_V4`] holding either the /30 at its start or the host at start + 1, and an IPv6 slot
/// is two /64s of [`SCALED_V6`] holding the first /64 or its `::1`. A network's buddy half is
/// always empty and slots never touch, so aggregation keeps every one. Slots are spread by an
/// odd multiplier (a bijection modulo the slot count), so they are distinct without a set.
/// Below 3 networks, some key is an empty array (which [`fw_core::meta::parse_meta`] refuses).
///
/// # Panics
///
/// If the IPv4 part exceeds the 2^19 slots of [`SCALED_V4`] (`total_cidrs` above ~580,000).
pub fn scaled_meta(seed: u64, total_cidrs: usize) -> Value {
    const V4_SLOTS: u64 = 1 << 19;
    const V6_SLOTS: u64 = 1 << 23;
    let n6 = total_cidrs / 10;
    let n4 = total_cidrs - n6;
    assert!(
        n4 as u64 <= V4_SLOTS,
        "scaled_meta: {n4} IPv4 networks do not fit in {SCALED_V4}"
    );
    let mut rng = SplitMix64::new(seed);
    let (mul4, add4) = (rng.next_u64() | 1, rng.next_u64());
    let (mul6, add6) = (rng.next_u64() | 1, rng.next_u64());
    let base4 = u32::from(SCALED_V4.network());
    let base6 = u128::from(SCALED_V6.network());

    let mut keys: [Vec<Value>; 3] = Default::default();
    for i in 0..n4 {
        let slot = (i as u64).wrapping_mul(mul4).wrapping_add(add4) % V4_SLOTS;
        let start = base4 + (slot as u32) * 8;
        let net = if rng.coin() {
            Ipv4Net::new(Ipv4Addr::from(start), 30).expect("/30")
        } else {
            Ipv4Net::new(Ipv4Addr::from(start + 1), 32).expect("/32")
        };
        let shown = show_v4(&mut rng, net);
        keys[i % 3].push(shown);
    }
    for i in 0..n6 {
        let slot = (i as u64).wrapping_mul(mul6).wrapping_add(add6) % V6_SLOTS;
        let start = base6 + (u128::from(slot) << 65);
        let net = if rng.coin() {
            Ipv6Net::new(Ipv6Addr::from(start), 64).expect("/64")
        } else {
            Ipv6Net::new(Ipv6Addr::from(start + 1), 128).expect("/128")
        };
        let shown = show_v6(&mut rng, net);
        keys[i % 3].push(shown);
    }

    let [web, api, git] = keys;
    let mut m: BTreeMap<&'static str, Value> = BTreeMap::new();
    non_range_keys(&mut rng, &mut m);
    m.insert("web", Value::Array(web));
    m.insert("api", Value::Array(api));
    m.insert("git", Value::Array(git));
    m.insert("hooks", names(&[&HOOKS_V4.to_string()]));
    m.insert(
        "actions",
        ranges(
            &mut rng,
            &[&OTHER_V4.to_string()],
            (OTHER_V4, &[24, 28, 32], 99),
            (OTHER_V6, &[64, 128], 20),
        ),
    );
    object(m)
}

/// The response body for a generated value: pretty printed with two-space indents, as GitHub
/// sends it, with a final newline.
pub fn body(v: &Value) -> Vec<u8> {
    format!("{v:#}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fw_core::meta::{MetaRanges, parse_meta};
    use ipnet::IpNet;
    use rstest::rstest;
    use std::path::PathBuf;

    const ALLOWED_KEYS: [&str; 3] = ["web", "api", "git"];
    const OTHER_KEYS: [&str; 10] = [
        "actions",
        "actions_macos",
        "codespaces",
        "copilot",
        "dependabot",
        "github_enterprise_importer",
        "hooks",
        "importer",
        "packages",
        "pages",
    ];
    /// What no allowed fixture range may touch: the sandbox's blocked hosts, Docker networks,
    /// domain hosts, Vercel hosts, and the blocks of the other keys.
    const FORBIDDEN: [&str; 13] = [
        "198.51.100.0/24",
        "2001:db8:bad::/48",
        "172.16.0.0/12",
        "fd00:18::/64",
        "203.0.113.0/24",
        "2001:db8:10::/48",
        "76.76.21.0/24",
        "64.29.17.0/24",
        "216.198.79.0/24",
        "127.0.0.0/8",
        "192.0.2.192/26",
        "198.18.0.0/16",
        "2001:db8:a::/48",
    ];

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn net(s: impl std::fmt::Display) -> IpNet {
        s.to_string().parse().expect("test network")
    }

    fn overlaps(a: &IpNet, b: &IpNet) -> bool {
        a.contains(b) || b.contains(a)
    }

    fn parse(v: &Value, keys: &[&str]) -> MetaRanges {
        parse_meta(&body(v), &strings(keys)).expect("generated meta parses")
    }

    fn fixture_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fw-core/testdata/meta/realistic.json")
    }

    #[test]
    fn checked_in_realistic_fixture_matches_the_generator() {
        let want = body(&realistic_meta(1));
        let path = fixture_path();
        if std::env::var_os("FW_REGENERATE").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write the fixture");
        }
        let have = std::fs::read(&path).expect("read the fixture");
        assert!(
            have == want,
            "{} differs from fixtures::realistic_meta(1); if the generator changed on purpose, \
             regenerate it with: FW_REGENERATE=1 cargo test -p fw-testkit fixtures",
            path.display()
        );
    }

    #[rstest]
    #[case(0)]
    #[case(1)]
    #[case(42)]
    fn realistic_is_deterministic(#[case] seed: u64) {
        assert_eq!(body(&realistic_meta(seed)), body(&realistic_meta(seed)));
        assert_ne!(body(&realistic_meta(seed)), body(&realistic_meta(seed + 1)));
    }

    #[rstest]
    #[case(0, 1_000)]
    #[case(7, 10_000)]
    fn scaled_is_deterministic(#[case] seed: u64, #[case] total: usize) {
        assert_eq!(
            body(&scaled_meta(seed, total)),
            body(&scaled_meta(seed, total))
        );
        assert_ne!(
            body(&scaled_meta(seed, total)),
            body(&scaled_meta(seed + 1, total))
        );
    }

    #[test]
    fn the_prng_is_splitmix64() {
        // Reference values of splitmix64 seeded with 1234567 (Vigna's C implementation).
        let mut rng = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[rstest]
    #[case(1)]
    #[case(2)]
    #[case(99)]
    fn realistic_has_the_real_shape(#[case] seed: u64) {
        let v = realistic_meta(seed);
        let Value::Object(m) = &v else {
            panic!("not an object")
        };
        for key in [
            "verifiable_password_authentication",
            "ssh_key_fingerprints",
            "ssh_keys",
            "domains",
        ] {
            assert!(m.contains_key(key), "{key} missing");
        }
        assert!(m["ssh_key_fingerprints"].is_object());
        assert!(m["domains"]["website"].is_array());
        let allowed = parse(&v, &ALLOWED_KEYS);
        assert_eq!(
            allowed.key_counts(),
            [("api".into(), 36), ("git".into(), 36), ("web".into(), 36)]
        );
        let others = parse(&v, &OTHER_KEYS);
        assert_eq!(others.ranges["actions"].len(), REALISTIC_ACTIONS);
        assert_eq!(others.ranges["hooks"][0], net(HOOKS_V4));
        assert_eq!(others.ranges["actions"][0], net(OTHER_V4));
        let v6_actions = others.ranges["actions"]
            .iter()
            .filter(|n| matches!(n, IpNet::V6(_)))
            .count();
        assert_eq!(v6_actions, REALISTIC_ACTIONS / 5);
        for (key, nets) in allowed.ranges.iter().chain(&others.ranges) {
            let distinct: std::collections::BTreeSet<_> = nets.iter().collect();
            assert_eq!(distinct.len(), nets.len(), "{key} repeats an entry");
        }
    }

    #[rstest]
    #[case(1)]
    #[case(3)]
    fn realistic_keeps_allowed_and_other_ranges_apart(#[case] seed: u64) {
        let v = realistic_meta(seed);
        let allowed = parse(&v, &ALLOWED_KEYS);
        for (key, b4, b6) in ALLOWED_BLOCKS {
            let (b4, b6) = (net(b4), net(b6));
            let nets = &allowed.ranges[key];
            assert_eq!(nets[0], b4);
            assert!(nets.contains(&b6));
            assert!(
                nets.iter().all(|n| b4.contains(n) || b6.contains(n)),
                "{key}"
            );
            // Bare addresses and host networks are both exercised.
            assert!(
                nets.iter().any(|n| n.prefix_len() == 32),
                "{key} has no /32"
            );
        }
        let text = String::from_utf8(body(&v)).expect("utf-8");
        assert!(
            text.lines().any(|l| {
                let t = l.trim().trim_end_matches(',');
                t.starts_with("\"192.0.2.") && !t.contains('/')
            }),
            "no bare address"
        );
        let others = parse(&v, &OTHER_KEYS);
        let other_blocks = [net(HOOKS_V4), net(OTHER_V4), net(OTHER_V6)];
        for n in others.nets() {
            assert!(other_blocks.iter().any(|b| b.contains(&n)), "{n} outside");
            for a in allowed.nets() {
                assert!(!overlaps(&a, &n), "allowed {a} overlaps other {n}");
            }
        }
        for a in allowed.nets() {
            for f in FORBIDDEN {
                assert!(!overlaps(&a, &net(f)), "{a} overlaps {f}");
            }
        }
    }

    #[rstest]
    #[case(1, 1_000)]
    #[case(2, 10_000)]
    #[case(3, 100_000)]
    #[case(4, 3)]
    #[case(5, 31)]
    fn scaled_has_exactly_the_networks_asked_for(#[case] seed: u64, #[case] total: usize) {
        let v = scaled_meta(seed, total);
        let meta = parse(&v, &ALLOWED_KEYS);
        assert_eq!(meta.len(), total);
        let nets: Vec<IpNet> = meta.nets().collect();
        assert_eq!(IpNet::aggregate(&nets).len(), total, "some networks merged");
        let counts = meta.key_counts();
        let (min, max) = counts
            .iter()
            .fold((usize::MAX, 0), |(lo, hi), (_, n)| (lo.min(*n), hi.max(*n)));
        assert!(max - min <= 2, "{counts:?}");
        let n6 = nets.iter().filter(|n| matches!(n, IpNet::V6(_))).count();
        assert_eq!(n6, total / 10);
        let (s4, s6) = (net(SCALED_V4), net(SCALED_V6));
        assert!(nets.iter().all(|n| s4.contains(n) || s6.contains(n)));
        // The scaled blocks clear every forbidden range, so every network inside does too.
        let allowed = ALLOWED_BLOCKS
            .iter()
            .flat_map(|(_, a, b)| [IpNet::V4(*a), IpNet::V6(*b)]);
        for f in FORBIDDEN.iter().map(net).chain(allowed) {
            assert!(!overlaps(&s4, &net(f)) && !overlaps(&s6, &net(f)), "{f}");
        }
        let others = parse(&v, &["hooks", "actions"]);
        assert_eq!(others.len(), 121);
    }

    #[test]
    fn scaled_below_three_leaves_a_key_empty() {
        let v = scaled_meta(1, 2);
        assert!(matches!(
            parse_meta(&body(&v), &strings(&ALLOWED_KEYS)),
            Err(fw_core::meta::MetaError::EmptyArray { .. })
        ));
    }

    #[test]
    fn body_is_pretty_json_with_a_final_newline() {
        let b = body(&scaled_meta(1, 3));
        assert!(b.starts_with(b"{\n  \""));
        assert!(b.ends_with(b"}\n"));
    }
}
