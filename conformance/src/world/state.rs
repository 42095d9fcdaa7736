//! The container's whole packet-filter state, read from outside and compared object by object.
//!
//! SEQ-05 (idempotence) and the stress campaign compare the state after a run with the state
//! a single clean run leaves. Looking for leftovers by name ("-next", "-tmp") finds only the
//! names one implementation happens to use; here every object any tool made is listed: each
//! ipset, each iptables chain of each table in both backends (nft-backed and legacy, IPv4 and
//! IPv6), and each nft-native table, set, map, chain and stateful object. Whatever a run leaves
//! that the reference does not have is named, whoever made it and whatever it is called.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{Context, Result, bail};
use fw_core::restore::{SaveLine, save_lines};

use crate::world::netns::Netns;

/// The programs read, in order: the section names of a [`Snapshot`].
const SOURCES: [(&str, &[&str]); 6] = [
    ("iptables-nft-save", &[]),
    ("ip6tables-nft-save", &[]),
    ("iptables-legacy-save", &[]),
    ("ip6tables-legacy-save", &[]),
    ("ipset", &["save"]),
    ("nft", &["list", "ruleset"]),
];

/// Tables iptables-nft keeps in nftables: their chains are listed from iptables-nft-save
/// already, so only the table itself is named from `nft list ruleset`.
const XTABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// The normalised state: one section per program of [`SOURCES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub sections: Vec<Section>,
}

/// One program's view, normalised: counters zeroed, comments, random `initval`s and expiry
/// times dropped, ipset's lines sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub source: &'static str,
    pub text: String,
}

/// How two snapshots differ.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Difference {
    /// Objects only in the later snapshot ("ipset allowed-domains-new", "nft table inet x").
    pub extra: Vec<String>,
    /// Objects only in the reference.
    pub missing: Vec<String>,
    /// Sections whose text differs, with up to three lines only in each.
    pub changed: Vec<(&'static str, Vec<String>, Vec<String>)>,
}

impl Difference {
    pub fn is_empty(&self) -> bool {
        self.extra.is_empty() && self.missing.is_empty() && self.changed.is_empty()
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.extra.is_empty() {
            parts.push(format!("extra: {}", self.extra.join(", ")));
        }
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        for (source, a, b) in &self.changed {
            parts.push(format!(
                "{source} changed: reference only {a:?}, now only {b:?}"
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Reads the state of `ns`. A program that is missing or fails leaves its failure in its
/// section (the same failure both times compares equal; a different one does not).
pub fn take(ns: &Netns) -> Result<Snapshot> {
    let mut sections = Vec::new();
    for (program, args) in SOURCES {
        let out = ns.exec_unchecked(program, args)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let text = if out.status.success() {
            normalise(program, &stdout)
        } else {
            format!(
                "(failed: {}: {})",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        };
        sections.push(Section {
            source: program,
            text,
        });
    }
    Ok(Snapshot { sections })
}

fn normalise(program: &str, text: &str) -> String {
    match program {
        "ipset" => fw_testkit::ipset::comparable_save(text),
        "nft" => text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| strip_nft_volatile(l.trim_end()))
            .collect::<Vec<_>>()
            .join("\n"),
        // The iptables-save family.
        _ => text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match l.rfind(" [") {
                Some(i) if l.starts_with(':') => format!("{} [0:0]", &l[..i]),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// `counter packets 12 bytes 3400` -> `counter`; `expires 3m2s` dropped.
fn strip_nft_volatile(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "packets" | "bytes" | "expires" if i + 1 < words.len() => i += 2,
            w => {
                out.push(w);
                i += 1;
            }
        }
    }
    out.join(" ")
}

impl Snapshot {
    /// Every object, named with where it lives.
    pub fn objects(&self) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for s in &self.sections {
            match s.source {
                "ipset" => all.extend(
                    s.text
                        .lines()
                        .filter_map(|l| l.strip_prefix("create "))
                        .filter_map(|l| l.split_whitespace().next())
                        .map(|name| format!("ipset {name}")),
                ),
                "nft" => all.extend(nft_objects(&s.text)),
                save => {
                    let tool = save.trim_end_matches("-save");
                    let mut table = "";
                    for (_, _, kind) in save_lines(&s.text) {
                        match kind {
                            SaveLine::Table(t) => table = t,
                            SaveLine::Chain(c) => {
                                let chain = c.split_whitespace().next().unwrap_or_default();
                                all.insert(format!("{tool} {table} chain {chain}"));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        all
    }

    /// The section of `source`.
    pub fn section(&self, source: &str) -> &str {
        self.sections
            .iter()
            .find(|s| s.source == source)
            .map_or("", |s| s.text.as_str())
    }

    /// Rules (iptables, both backends and families), sets (ipset) and set entries (ipset).
    pub fn counts(&self) -> (usize, usize, usize) {
        let rules = self
            .sections
            .iter()
            .filter(|s| s.source.contains("tables"))
            .flat_map(|s| s.text.lines())
            .filter(|l| l.starts_with("-A "))
            .count();
        let sets = self.section("ipset");
        (
            rules,
            sets.lines().filter(|l| l.starts_with("create ")).count(),
            sets.lines().filter(|l| l.starts_with("add ")).count(),
        )
    }

    /// The iptables sections only (both backends, both families).
    pub fn rules_only(&self) -> Vec<&Section> {
        self.sections
            .iter()
            .filter(|s| s.source.contains("tables"))
            .collect()
    }

    /// How `self` differs from `reference`.
    pub fn compare(&self, reference: &Snapshot) -> Difference {
        let (mine, theirs) = (self.objects(), reference.objects());
        let mut d = Difference {
            extra: mine.difference(&theirs).cloned().collect(),
            missing: theirs.difference(&mine).cloned().collect(),
            changed: Vec::new(),
        };
        for (a, b) in reference.sections.iter().zip(&self.sections) {
            if a.text == b.text {
                continue;
            }
            let only = |x: &str, y: &str| -> Vec<String> {
                let other: BTreeSet<&str> = y.lines().collect();
                x.lines()
                    .filter(|l| !other.contains(l))
                    .take(3)
                    .map(str::to_owned)
                    .collect()
            };
            d.changed
                .push((b.source, only(&a.text, &b.text), only(&b.text, &a.text)));
        }
        d
    }

    /// The objects of `self` that `reference` does not have.
    pub fn extra_objects(&self, reference: &Snapshot) -> Vec<String> {
        let theirs = reference.objects();
        self.objects()
            .into_iter()
            .filter(|o| !theirs.contains(o))
            .collect()
    }
}

/// The objects of an `nft list ruleset` listing: each table, and each set, map, chain,
/// flowtable or stateful object declared in it (the chains of iptables-nft's tables aside:
/// iptables-nft-save names them).
fn nft_objects(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut table: Option<(String, String)> = None;
    for line in text.lines() {
        let l = line.trim();
        let words: Vec<&str> = l.split_whitespace().collect();
        if l.ends_with('{') && words.len() >= 3 {
            if depth == 0 && words[0] == "table" {
                let (family, name) = (words[1].to_owned(), words[2].to_owned());
                out.push(format!("nft table {family} {name}"));
                table = Some((family, name));
            } else if depth == 1
                && let Some((family, tname)) = &table
            {
                let kind = words[..words.len() - 2].join(" ");
                let name = words[words.len() - 2];
                let xtables_chain = kind == "chain"
                    && matches!(family.as_str(), "ip" | "ip6")
                    && XTABLES.contains(&tname.as_str());
                if !xtables_chain {
                    out.push(format!("nft {kind} {family} {tname} {name}"));
                }
            }
        }
        depth += l.matches('{').count();
        depth = depth.saturating_sub(l.matches('}').count());
        if depth == 0 {
            table = None;
        }
    }
    out
}

/// The observer's positive control: objects the harness makes itself in `ns` (an ipset and an
/// nft-native table with a set, under names no implementation uses) must show up in a
/// comparison as extra, each by name, and be gone again once removed. Run on a container
/// before the implementation does anything there; `Err` when the observer cannot see them
/// (a harness fault).
pub fn observer_control(ns: &Netns) -> Result<()> {
    const SET: &str = "fwt-observer-control";
    const TABLE: &str = "fwt_observer_control";
    let before = take(ns).context("reading the state before the control objects")?;
    ns.exec("ipset", &["create", SET, "hash:ip"])?;
    let made = (|| -> Result<Snapshot> {
        ns.exec("nft", &["add", "table", "inet", TABLE])?;
        ns.exec(
            "nft",
            &["add", "set", "inet", TABLE, "s", "{ type ipv4_addr; }"],
        )?;
        take(ns)
    })();
    let _ = ns.exec_unchecked("nft", &["delete", "table", "inet", TABLE]);
    let _ = ns.exec_unchecked("ipset", &["destroy", SET]);
    let with = made.context("making the control objects")?;
    let mut want = vec![
        format!("ipset {SET}"),
        format!("nft table inet {TABLE}"),
        format!("nft set inet {TABLE} s"),
    ];
    want.sort();
    let seen = with.extra_objects(&before);
    if seen != want {
        bail!(
            "the state observer's control failed: the harness's own objects {want:?} showed \
             up as {seen:?}"
        );
    }
    let after = take(ns).context("reading the state after the control objects")?;
    let left = after.compare(&before);
    if !left.is_empty() {
        bail!("the state observer's control objects were not removed: {left}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(sections: &[(&'static str, &str)]) -> Snapshot {
        Snapshot {
            sections: sections
                .iter()
                .map(|(source, raw)| Section {
                    source,
                    text: normalise(source, raw),
                })
                .collect(),
        }
    }

    const NFT: &str = "table ip filter {
\tchain OUTPUT {
\t\ttype filter hook output priority filter; policy drop;
\t\txt match set counter packets 12 bytes 345 accept
\t}
}
table inet fw {
\tset allow4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 1.2.3.4, 10.0.0.0/8,
\t\t\t     192.0.2.0/24 }
\t}

\tchain out {
\t\ttype filter hook output priority filter; policy accept;
\t\tip daddr { 5.5.5.5, 6.6.6.6 } counter packets 1 bytes 60 accept
\t}
\tcounter hits {
\t\tpackets 3 bytes 4
\t}
}";

    #[test]
    fn every_kind_of_object_is_named() {
        let s = snap(&[
            (
                "iptables-nft-save",
                "# Generated by x\n*filter\n:INPUT DROP [3:4]\n:FWT - [0:0]\n-A INPUT -j FWT\nCOMMIT\n",
            ),
            (
                "ip6tables-legacy-save",
                "*mangle\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
            ),
            (
                "ipset",
                "create b hash:net family inet hashsize 1024 maxelem 65536 initval 0x1\nadd b 1.2.3.0/24\ncreate a hash:ip initval 0x2",
            ),
            ("nft", NFT),
        ]);
        let objects: Vec<String> = s.objects().into_iter().collect();
        assert_eq!(
            objects,
            [
                "ip6tables-legacy mangle chain PREROUTING",
                "ipset a",
                "ipset b",
                "iptables-nft filter chain FWT",
                "iptables-nft filter chain INPUT",
                "nft chain inet fw out",
                "nft counter inet fw hits",
                "nft set inet fw allow4",
                "nft table inet fw",
                "nft table ip filter",
            ]
        );
        // Counters, initvals and comments do not count.
        assert!(s.section("nft").contains("xt match set counter accept"));
        assert!(!s.section("ipset").contains("initval"));
        assert_eq!(s.counts(), (1, 2, 1));
    }

    #[test]
    fn differences_name_the_objects() {
        let a = snap(&[("ipset", "create live hash:net initval 0x1"), ("nft", "")]);
        let b = snap(&[
            (
                "ipset",
                "create live hash:net initval 0x2\ncreate live-9 hash:net",
            ),
            ("nft", "table inet scratch_7 {\n}"),
        ]);
        assert!(a.compare(&a.clone()).is_empty());
        let d = b.compare(&a);
        assert_eq!(d.extra, ["ipset live-9", "nft table inet scratch_7"]);
        assert!(d.missing.is_empty());
        assert_eq!(d.changed.len(), 2);
        assert_eq!(
            d.to_string().split("; ").next(),
            Some("extra: ipset live-9, nft table inet scratch_7")
        );
        assert_eq!(a.compare(&b).missing, d.extra);
        // Only the counters changed: equal.
        let c1 = snap(&[("nft", NFT)]);
        let c2 = snap(&[(
            "nft",
            &NFT.replace("packets 12 bytes 345", "packets 99 bytes 1"),
        )]);
        assert_eq!(c1, c2);
    }
}
