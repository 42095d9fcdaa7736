//! Docker's embedded-DNS rules in a container's nat table, as `iptables-save -t nat` shows them.
//!
//! Inside a container on a user-defined network, Docker's resolver listens on 127.0.0.11 at two
//! random ports (one udp, one tcp) and installs nat rules that send `127.0.0.11:53` there and
//! rewrite the replies back to port 53:
//!
//! ```text
//! :DOCKER_OUTPUT - [0:0]
//! :DOCKER_POSTROUTING - [0:0]
//! -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
//! -A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
//! -A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41234
//! -A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:53211
//! -A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 41234 -j SNAT --to-source :53
//! -A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 53211 -j SNAT --to-source :53
//! ```
//!
//! Nothing re-creates these rules if they are lost: a firewall that rewrites the nat table must
//! carry them over, or name resolution in the container stops. [`parse_nat_save`] extracts them
//! from `iptables-save` output so that the renderer can write them back verbatim, and so that a
//! conformance check can compare the DNAT/SNAT targets before and after.
//!
//! The parser is strict only where a mistake would change what gets carried over (the nat table
//! region, Docker's chains and the jumps to them) and tolerant of everything else: other tables,
//! other chains, counters (`-c`), comments, and the warnings iptables-nft prints.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::names::{DOCKER_OUTPUT, DOCKER_POSTROUTING};
use crate::restore::{SaveLine, save_lines, split_args, strip_counters};
use crate::validate::shown;

/// One rule of Docker's, as `-A <chain> <spec>` (counters stripped, everything else verbatim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRule {
    pub chain: String,
    pub spec: String,
}

impl NatRule {
    /// The rule as an `iptables-restore` line: `-A <chain> <spec>`.
    pub fn to_restore_line(&self) -> String {
        if self.spec.is_empty() {
            format!("-A {}", self.chain)
        } else {
            format!("-A {} {}", self.chain, self.spec)
        }
    }

    /// The rule's arguments, unquoted the way `iptables-restore` splits them.
    ///
    /// A parsed rule always splits; a hand-made one with an unterminated quote gives nothing,
    /// which makes every query below answer "none" rather than guess.
    fn args(&self) -> Vec<String> {
        split_args(&self.spec).unwrap_or_default()
    }

    /// The chain or target the rule jumps to (`-j`/`--jump`, `-g`/`--goto`), if any.
    pub fn target(&self) -> Option<String> {
        jump_target(&self.args()).map(str::to_owned)
    }

    /// The value of option `name` (such as `--to-destination`), if the rule has it.
    pub fn option(&self, name: &str) -> Option<String> {
        option_value(&self.args(), name).map(str::to_owned)
    }
}

/// Docker's DNS chains and rules, in their original order: the jumps from OUTPUT and
/// POSTROUTING, then the DNAT/SNAT rules of DOCKER_OUTPUT and DOCKER_POSTROUTING.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerDnsRules {
    /// Docker's user chains that exist (DOCKER_OUTPUT, DOCKER_POSTROUTING).
    pub chains: Vec<String>,
    pub rules: Vec<NatRule>,
    /// iptables-nft said `# Warning: iptables-legacy tables present`: some rules (perhaps
    /// Docker's own, if the host's dockerd uses iptables-legacy) live in the legacy tables, which
    /// this listing does not show. Finding no Docker rules then proves nothing.
    #[serde(default)]
    pub legacy_tables_present: bool,
    /// iptables-nft said ``# Table `nat' is incompatible``: the nat table holds rules made with
    /// native nft that iptables cannot show, and it printed none of the table's rules.
    #[serde(default)]
    pub nat_incompatible: bool,
    /// The warning comments seen, verbatim, for the log.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl DockerDnsRules {
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty() && self.rules.is_empty()
    }

    /// The `--to-destination` values of the DNAT rules, in order (`127.0.0.11:41234`, ...).
    ///
    /// They name the ports Docker's resolver listens on; a conformance check compares them
    /// before and after the firewall is applied.
    pub fn dnat_targets(&self) -> Vec<String> {
        self.targets("DNAT", "--to-destination")
    }

    /// The `--to-source` values of the SNAT rules, in order (`:53`, ...).
    pub fn snat_targets(&self) -> Vec<String> {
        self.targets("SNAT", "--to-source")
    }

    fn targets(&self, target: &str, option: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|r| {
                let args = r.args();
                (jump_target(&args) == Some(target))
                    .then(|| option_value(&args, option).map(str::to_owned))
                    .flatten()
            })
            .collect()
    }

    /// The lines to put inside a `*nat ... COMMIT` block of an `iptables-restore` input to
    /// re-create Docker's rules: the chain declarations first, then the jumps from the built-in
    /// chains, then the rules of Docker's chains, each group in its original order.
    ///
    /// Declarations come first because `iptables-restore` refuses a jump to a chain it has not
    /// seen yet. Built-in chains are not declared here: the block they go into declares them.
    pub fn render_nat_lines(&self) -> Vec<String> {
        let declarations = self.chains.iter().map(|c| format!(":{c} - [0:0]"));
        let (docker, jumps): (Vec<&NatRule>, Vec<&NatRule>) = self
            .rules
            .iter()
            .partition(|r| self.chains.contains(&r.chain));
        declarations
            .chain(jumps.into_iter().map(NatRule::to_restore_line))
            .chain(docker.into_iter().map(NatRule::to_restore_line))
            .collect()
    }
}

/// Why a text cannot be `iptables-save` output, in the part that matters (the nat table).
/// Each names the 1-based line number and the offending line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerDnsError {
    #[error("line {line}: not iptables-save output outside a table: {text:?}")]
    OutsideTable { line: usize, text: String },
    #[error("line {line}: not a chain declaration, counter or rule in the nat table: {text:?}")]
    UnexpectedLine { line: usize, text: String },
    #[error("line {line}: rule names no chain: {text:?}")]
    RuleWithoutChain { line: usize, text: String },
    #[error("line {line}: chain declaration names no chain: {text:?}")]
    BadChainDeclaration { line: usize, text: String },
    #[error("line {line}: chain {chain} is declared twice: {text:?}")]
    DuplicateChain {
        line: usize,
        chain: String,
        text: String,
    },
    #[error("line {line}: counters are not [packets:bytes]: {text:?}")]
    BadCounters { line: usize, text: String },
    #[error("line {line}: unterminated quote: {text:?}")]
    UnterminatedQuote { line: usize, text: String },
    #[error("line {line}: rule in chain {chain}, which the nat table never declares: {text:?}")]
    UndeclaredChain {
        line: usize,
        chain: String,
        text: String,
    },
    #[error("line {line}: jump to chain {chain}, which the nat table never declares: {text:?}")]
    UndeclaredTarget {
        line: usize,
        chain: String,
        text: String,
    },
    #[error("line {line}: a second nat table: {text:?}")]
    SecondNatTable { line: usize, text: String },
    #[error("line {line}: a new table starts before the nat table's COMMIT: {text:?}")]
    UncommittedNat { line: usize, text: String },
    #[error("line {line}: the nat table starting here has no COMMIT (truncated output?)")]
    MissingCommit { line: usize },
}

/// Docker's chain names; every other chain is somebody else's.
const DOCKER_CHAINS: [&str; 2] = [DOCKER_OUTPUT, DOCKER_POSTROUTING];

/// The built-in chains Docker jumps from.
const JUMP_SOURCES: [&str; 2] = ["OUTPUT", "POSTROUTING"];

/// Where the parser is in the text.
#[derive(Debug, PartialEq, Eq)]
enum Region {
    /// Before the first table, or after a COMMIT.
    Outside,
    /// Inside a table other than nat: ignored up to its COMMIT.
    OtherTable,
    /// Inside the nat table, which started on this line.
    Nat(usize),
}

/// Extracts Docker's embedded-DNS chains and rules from `iptables-save` output.
///
/// Accepts `iptables-save -t nat` or a full save, from iptables-nft or iptables-legacy, with or
/// without counters (`-c`), with stderr merged in or not. Only the `*nat` table is read; an input
/// with no nat table (or an empty one) gives empty rules. Warnings that iptables-nft prints as
/// comments are reported in [`DockerDnsRules::legacy_tables_present`],
/// [`DockerDnsRules::nat_incompatible`] and [`DockerDnsRules::warnings`]: both mean Docker's
/// rules may exist where this listing cannot show them.
///
/// The lines are read by [`crate::restore::save_lines`], the one reader of the format; this
/// parser is stricter than [`crate::restore::parse_iptables`] where a mistake would change what
/// gets carried over, and ignores what other tables hold.
pub fn parse_nat_save(text: &str) -> Result<DockerDnsRules, DockerDnsError> {
    let mut reader = NatReader::default();
    for (line_no, line, kind) in save_lines(text) {
        match kind {
            SaveLine::Comment => note_comment(&mut reader.out, line),
            SaveLine::Table(table) => reader.table(line_no, line, table)?,
            _ => match reader.region {
                Region::Outside => {
                    return Err(DockerDnsError::OutsideTable {
                        line: line_no,
                        text: shown(line),
                    });
                }
                Region::OtherTable if kind == SaveLine::Commit => reader.region = Region::Outside,
                Region::OtherTable => {}
                Region::Nat(_) => match kind {
                    SaveLine::Commit => reader.region = Region::Outside,
                    SaveLine::Chain(decl) => reader.declaration(line_no, line, decl)?,
                    _ => reader.rule(line_no, line)?,
                },
            },
        }
    }
    if let Region::Nat(start) = reader.region {
        return Err(DockerDnsError::MissingCommit { line: start });
    }
    Ok(reader.out)
}

/// What [`parse_nat_save`] has read so far.
#[derive(Debug)]
struct NatReader {
    out: DockerDnsRules,
    region: Region,
    nat_seen: bool,
    /// Every chain the nat table declares, built-in and user-defined.
    declared: HashSet<String>,
}

impl Default for NatReader {
    fn default() -> Self {
        NatReader {
            out: DockerDnsRules::default(),
            region: Region::Outside,
            nat_seen: false,
            declared: HashSet::new(),
        }
    }
}

impl NatReader {
    /// `*TABLE`: the nat table, or another one to skip up to its COMMIT.
    fn table(&mut self, line_no: usize, line: &str, table: &str) -> Result<(), DockerDnsError> {
        if let Region::Nat(_) = self.region {
            return Err(DockerDnsError::UncommittedNat {
                line: line_no,
                text: shown(line),
            });
        }
        // A table header without the previous table's COMMIT is not ours to judge.
        self.region = if table.trim() == "nat" {
            if self.nat_seen {
                return Err(DockerDnsError::SecondNatTable {
                    line: line_no,
                    text: shown(line),
                });
            }
            self.nat_seen = true;
            Region::Nat(line_no)
        } else {
            Region::OtherTable
        };
        Ok(())
    }

    /// `:NAME POLICY [packets:bytes]` in the nat table, the name right after the colon.
    fn declaration(
        &mut self,
        line_no: usize,
        line: &str,
        decl: &str,
    ) -> Result<(), DockerDnsError> {
        let name = decl.split_whitespace().next().unwrap_or_default();
        if name.is_empty() || name.starts_with('-') || !decl.starts_with(name) {
            return Err(DockerDnsError::BadChainDeclaration {
                line: line_no,
                text: shown(line),
            });
        }
        if !self.declared.insert(name.to_owned()) {
            return Err(DockerDnsError::DuplicateChain {
                line: line_no,
                chain: shown(name),
                text: shown(line),
            });
        }
        if DOCKER_CHAINS.contains(&name) {
            self.out.chains.push(name.to_owned());
        }
        Ok(())
    }

    /// A rule of the nat table: kept when it is in Docker's chains, or jumps to them from
    /// OUTPUT or POSTROUTING.
    fn rule(&mut self, line_no: usize, line: &str) -> Result<(), DockerDnsError> {
        let text_of = || shown(line);
        let rule_text = strip_counters(line).ok_or_else(|| DockerDnsError::BadCounters {
            line: line_no,
            text: text_of(),
        })?;
        let Some(after_a) = rule_text
            .strip_prefix("-A")
            .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        else {
            return Err(DockerDnsError::UnexpectedLine {
                line: line_no,
                text: text_of(),
            });
        };
        let after_a = after_a.trim_start();
        let (chain, spec) = after_a
            .split_once(char::is_whitespace)
            .map_or((after_a, ""), |(c, s)| (c, s.trim()));
        // iptables refuses chain names that start with '-': this is an option, not a chain.
        if chain.is_empty() || chain.starts_with('-') {
            return Err(DockerDnsError::RuleWithoutChain {
                line: line_no,
                text: text_of(),
            });
        }
        let args = split_args(spec).map_err(|_| DockerDnsError::UnterminatedQuote {
            line: line_no,
            text: text_of(),
        })?;
        let target = jump_target(&args);
        let in_docker_chain = DOCKER_CHAINS.contains(&chain);
        if !(in_docker_chain || target.is_some_and(|t| DOCKER_CHAINS.contains(&t))) {
            // Somebody else's rule: not carried over, so not checked any further.
            return Ok(());
        }
        if !self.declared.contains(chain) {
            return Err(DockerDnsError::UndeclaredChain {
                line: line_no,
                chain: chain.to_owned(),
                text: text_of(),
            });
        }
        if let Some(t) = target.filter(|t| DOCKER_CHAINS.contains(t))
            && !self.declared.contains(t)
        {
            return Err(DockerDnsError::UndeclaredTarget {
                line: line_no,
                chain: t.to_owned(),
                text: text_of(),
            });
        }
        // Jumps to Docker's chains from chains other than OUTPUT/POSTROUTING are not Docker's;
        // carrying them over would need their chain too.
        if in_docker_chain || JUMP_SOURCES.contains(&chain) {
            self.out.rules.push(NatRule {
                chain: chain.to_owned(),
                spec: spec.to_owned(),
            });
        }
        Ok(())
    }
}

/// Records the warnings iptables-nft prints as comments (on stdout or stderr, depending on the
/// version, so they may come anywhere in a merged capture).
fn note_comment(out: &mut DockerDnsRules, line: &str) {
    let body = line.trim_start_matches('#').trim();
    if body.contains("iptables-legacy tables present") {
        out.legacy_tables_present = true;
        out.warnings.push(line.to_owned());
    } else if let Some(rest) = body.strip_prefix("Table `")
        && body.contains("incompatible")
    {
        if rest.split('\'').next() == Some("nat") {
            out.nat_incompatible = true;
        }
        out.warnings.push(line.to_owned());
    } else if body.starts_with("Warning:") {
        out.warnings.push(line.to_owned());
    }
}

/// The value after the last `-j`/`--jump`/`-g`/`--goto` (iptables keeps the last one).
fn jump_target(args: &[String]) -> Option<&str> {
    args.windows(2)
        .rev()
        .find(|w| matches!(w[0].as_str(), "-j" | "--jump" | "-g" | "--goto"))
        .map(|w| w[1].as_str())
}

/// The value after option `name`.
fn option_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/iptables-save");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{DIR}/{name}"))
            .unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    fn rule(chain: &str, spec: &str) -> NatRule {
        NatRule {
            chain: chain.into(),
            spec: spec.into(),
        }
    }

    /// What Docker wrote in every capture (TCPPORT 41234, UDPPORT 53211), in save order: the
    /// same rules as fw-testkit's sample inputs.
    fn docker_rules() -> Vec<NatRule> {
        vec![
            rule("OUTPUT", "-d 127.0.0.11/32 -j DOCKER_OUTPUT"),
            rule("POSTROUTING", "-d 127.0.0.11/32 -j DOCKER_POSTROUTING"),
            rule(
                "DOCKER_OUTPUT",
                "-d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41234",
            ),
            rule(
                "DOCKER_OUTPUT",
                "-d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:53211",
            ),
            rule(
                "DOCKER_POSTROUTING",
                "-s 127.0.0.11/32 -p tcp -m tcp --sport 41234 -j SNAT --to-source :53",
            ),
            rule(
                "DOCKER_POSTROUTING",
                "-s 127.0.0.11/32 -p udp -m udp --sport 53211 -j SNAT --to-source :53",
            ),
        ]
    }

    fn docker_chains() -> Vec<String> {
        vec!["DOCKER_OUTPUT".into(), "DOCKER_POSTROUTING".into()]
    }

    /// The captures that hold exactly Docker's rules (noise or not), and whether the legacy
    /// warning is in them.
    #[rstest]
    #[case("nft-nat.txt", false)]
    #[case("nft-nat-counters.txt", false)]
    #[case("nft-full.txt", false)]
    #[case("nft-full-counters.txt", false)]
    #[case("legacy-nat.txt", false)]
    #[case("legacy-nat-counters.txt", false)]
    #[case("legacy-full.txt", false)]
    #[case("nft-noise-nat.txt", false)]
    #[case("nft-noise-full-counters.txt", false)]
    #[case("legacy-noise-full.txt", false)]
    #[case("nft-with-legacy-warning-merged.txt", true)]
    fn captures_with_docker_rules(#[case] file: &str, #[case] legacy: bool) {
        let got = parse_nat_save(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.chains, docker_chains(), "{file}");
        assert_eq!(got.rules, docker_rules(), "{file}");
        assert_eq!(got.legacy_tables_present, legacy, "{file}");
        assert!(!got.nat_incompatible, "{file}");
        assert_eq!(
            got.dnat_targets(),
            vec!["127.0.0.11:41234", "127.0.0.11:53211"],
            "{file}"
        );
        assert_eq!(got.snat_targets(), vec![":53", ":53"], "{file}");
    }

    /// The captures that show no Docker rules, and what they say about why.
    #[rstest]
    #[case("nft-no-docker.txt", false, false)]
    #[case("legacy-present-nft-save-nat.txt", false, false)]
    #[case("legacy-present-nft-save-full.txt", false, false)]
    #[case("legacy-present-nft-save-nat-merged.txt", true, false)]
    #[case("legacy-present-nft-save-full-merged.txt", true, false)]
    #[case("nft-incompatible.txt", false, true)]
    fn captures_without_docker_rules(
        #[case] file: &str,
        #[case] legacy: bool,
        #[case] incompatible: bool,
    ) {
        let got = parse_nat_save(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(got.is_empty(), "{file}: {got:?}");
        assert_eq!(got.legacy_tables_present, legacy, "{file}");
        assert_eq!(got.nat_incompatible, incompatible, "{file}");
        assert_eq!(
            got.warnings.len(),
            usize::from(legacy || incompatible),
            "{file}"
        );
        assert!(got.dnat_targets().is_empty());
    }

    #[test]
    fn warnings_are_kept_verbatim() {
        let got =
            parse_nat_save(&fixture("legacy-present-nft-save-nat-merged.txt")).expect("parses");
        assert_eq!(
            got.warnings,
            vec!["# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"]
        );
        let got = parse_nat_save(&fixture("nft-incompatible.txt")).expect("parses");
        assert_eq!(
            got.warnings,
            vec!["# Table `nat' is incompatible, use 'nft' tool."]
        );
    }

    #[test]
    fn every_capture_is_covered() {
        let mut files: Vec<String> = std::fs::read_dir(DIR)
            .expect("testdata dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".txt"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 17, "new capture? add it to a test: {files:?}");
        for f in files {
            parse_nat_save(&fixture(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn renders_declarations_then_jumps_then_chain_rules() {
        let got = parse_nat_save(&fixture("nft-noise-full-counters.txt")).expect("parses");
        assert_eq!(
            got.render_nat_lines(),
            vec![
                ":DOCKER_OUTPUT - [0:0]",
                ":DOCKER_POSTROUTING - [0:0]",
                "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT",
                "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING",
                "-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41234",
                "-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:53211",
                "-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 41234 -j SNAT --to-source :53",
                "-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 53211 -j SNAT --to-source :53",
            ]
        );
    }

    #[test]
    fn render_puts_jumps_first_whatever_the_stored_order() {
        let rules = DockerDnsRules {
            chains: vec!["DOCKER_OUTPUT".into()],
            rules: vec![
                rule("DOCKER_OUTPUT", "-j RETURN"),
                rule("OUTPUT", "-d 127.0.0.11/32 -j DOCKER_OUTPUT"),
            ],
            ..Default::default()
        };
        assert_eq!(
            rules.render_nat_lines(),
            vec![
                ":DOCKER_OUTPUT - [0:0]",
                "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT",
                "-A DOCKER_OUTPUT -j RETURN",
            ]
        );
        assert!(DockerDnsRules::default().render_nat_lines().is_empty());
    }

    #[test]
    fn comments_with_quotes_and_docker_names_are_not_jumps() {
        let text = "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n\
            -A OUTPUT -m comment --comment \"-j DOCKER_OUTPUT \\\"x\\\"\" -j ACCEPT\n\
            -A OUTPUT -d 127.0.0.11/32 -m comment --comment \"docker dns\" -j DOCKER_OUTPUT\n\
            COMMIT\n";
        let got = parse_nat_save(text).expect("parses");
        assert_eq!(
            got.rules,
            vec![rule(
                "OUTPUT",
                "-d 127.0.0.11/32 -m comment --comment \"docker dns\" -j DOCKER_OUTPUT"
            )]
        );
    }

    #[test]
    fn tolerates_crlf_blank_lines_and_leading_space() {
        let text = "# Generated by hand\r\n\r\n*nat\r\n  :OUTPUT ACCEPT [5:300]\r\n\
            :DOCKER_OUTPUT - [0:0]\r\n[12:345] -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT  \r\n\
            COMMIT\r\n";
        let got = parse_nat_save(text).expect("parses");
        assert_eq!(got.chains, vec!["DOCKER_OUTPUT"]);
        assert_eq!(
            got.rules,
            vec![rule("OUTPUT", "-d 127.0.0.11/32 -j DOCKER_OUTPUT")]
        );
    }

    #[test]
    fn empty_input_and_other_tables_only_give_nothing() {
        assert_eq!(parse_nat_save(""), Ok(DockerDnsRules::default()));
        let filter = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j DOCKER_OUTPUT\ngarbage\nCOMMIT\n";
        assert_eq!(parse_nat_save(filter), Ok(DockerDnsRules::default()));
    }

    #[test]
    fn jumps_from_other_chains_are_not_carried_over() {
        let text = "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n:MINE - [0:0]\n\
            -A MINE -j DOCKER_OUTPUT\nCOMMIT\n";
        let got = parse_nat_save(text).expect("parses");
        assert_eq!(got.chains, vec!["DOCKER_OUTPUT"]);
        assert!(got.rules.is_empty());
    }

    #[test]
    fn rule_accessors() {
        let r = rule(
            "DOCKER_OUTPUT",
            "-p udp -m comment --comment \"a b\" -j DNAT --to-destination 127.0.0.11:1",
        );
        assert_eq!(r.target().as_deref(), Some("DNAT"));
        assert_eq!(r.option("--comment").as_deref(), Some("a b"));
        assert_eq!(
            r.option("--to-destination").as_deref(),
            Some("127.0.0.11:1")
        );
        assert_eq!(r.option("--to-source"), None);
        assert_eq!(rule("OUTPUT", "").to_restore_line(), "-A OUTPUT");
        assert_eq!(rule("OUTPUT", "--goto X").target().as_deref(), Some("X"));
    }

    #[rstest]
    #[case("a b  c", Some(vec!["a", "b", "c"]))]
    #[case("--comment \"has spaces\" -j X", Some(vec!["--comment", "has spaces", "-j", "X"]))]
    #[case("\"say \\\"hi\\\"\"", Some(vec!["say \"hi\""]))]
    #[case("\"back\\\\slash\"", Some(vec!["back\\slash"]))]
    #[case("\"\"", Some(vec![""]))]
    #[case("", Some(vec![]))]
    #[case("\"open", None)]
    #[case("\"ends in escape\\", None)]
    fn splits_like_iptables_restore(#[case] spec: &str, #[case] want: Option<Vec<&str>>) {
        let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(split_args(spec).ok(), want);
    }

    const HEAD: &str =
        "*nat\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n";

    #[rstest]
    #[case("-A\n", DockerDnsError::RuleWithoutChain { line: 5, text: "-A".into() })]
    #[case("-A   -j DNAT\n", DockerDnsError::RuleWithoutChain { line: 5, text: "-A   -j DNAT".into() })]
    #[case(
        "-A OUTPUT -m comment --comment \"open -j DOCKER_OUTPUT\n",
        DockerDnsError::UnterminatedQuote { line: 5, text: "-A OUTPUT -m comment --comment \"open -j DOCKER_OUTPUT".into() }
    )]
    #[case(
        "-A FOO -d 127.0.0.11/32 -j DOCKER_OUTPUT\n",
        DockerDnsError::UndeclaredChain { line: 5, chain: "FOO".into(), text: "-A FOO -d 127.0.0.11/32 -j DOCKER_OUTPUT".into() }
    )]
    #[case(
        "-A DOCKER_POSTROUTING -j SNAT --to-source :53\n",
        DockerDnsError::UndeclaredChain { line: 5, chain: "DOCKER_POSTROUTING".into(), text: "-A DOCKER_POSTROUTING -j SNAT --to-source :53".into() }
    )]
    #[case(
        "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING\n",
        DockerDnsError::UndeclaredTarget { line: 5, chain: "DOCKER_POSTROUTING".into(), text: "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING".into() }
    )]
    #[case("[1:x] -A OUTPUT -j ACCEPT\n", DockerDnsError::BadCounters { line: 5, text: "[1:x] -A OUTPUT -j ACCEPT".into() })]
    #[case("[1:2 -A OUTPUT -j ACCEPT\n", DockerDnsError::BadCounters { line: 5, text: "[1:2 -A OUTPUT -j ACCEPT".into() })]
    #[case("-I OUTPUT -j ACCEPT\n", DockerDnsError::UnexpectedLine { line: 5, text: "-I OUTPUT -j ACCEPT".into() })]
    #[case("-AOUTPUT -j ACCEPT\n", DockerDnsError::UnexpectedLine { line: 5, text: "-AOUTPUT -j ACCEPT".into() })]
    #[case(": - [0:0]\n", DockerDnsError::BadChainDeclaration { line: 5, text: ": - [0:0]".into() })]
    #[case(
        ":DOCKER_OUTPUT - [0:0]\n",
        DockerDnsError::DuplicateChain { line: 5, chain: "DOCKER_OUTPUT".into(), text: ":DOCKER_OUTPUT - [0:0]".into() }
    )]
    #[case("*filter\n", DockerDnsError::UncommittedNat { line: 5, text: "*filter".into() })]
    #[case("", DockerDnsError::MissingCommit { line: 1 })]
    #[case("COMMIT\n*nat\nCOMMIT\n", DockerDnsError::SecondNatTable { line: 6, text: "*nat".into() })]
    fn refuses_what_iptables_save_cannot_print(#[case] tail: &str, #[case] want: DockerDnsError) {
        assert_eq!(parse_nat_save(&format!("{HEAD}{tail}")), Err(want));
    }

    #[test]
    fn refuses_rules_outside_any_table() {
        // `iptables -S` output is not iptables-save output: reading it as "no Docker rules"
        // would silently drop Docker's DNS.
        let text =
            "-P OUTPUT ACCEPT\n-N DOCKER_OUTPUT\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\n";
        assert_eq!(
            parse_nat_save(text),
            Err(DockerDnsError::OutsideTable {
                line: 1,
                text: "-P OUTPUT ACCEPT".into()
            })
        );
    }

    #[test]
    fn error_messages_name_line_and_text() {
        let err = parse_nat_save("*nat\n-A\nCOMMIT\n").expect_err("no chain");
        assert_eq!(err.to_string(), "line 2: rule names no chain: \"-A\"");
        let err = parse_nat_save("*nat\n").expect_err("no commit");
        assert_eq!(
            err.to_string(),
            "line 1: the nat table starting here has no COMMIT (truncated output?)"
        );
    }

    #[test]
    fn serde_defaults_the_new_fields() {
        let got: DockerDnsRules =
            serde_json::from_str(r#"{"chains":["DOCKER_OUTPUT"],"rules":[]}"#).expect("json");
        assert_eq!(got.chains, vec!["DOCKER_OUTPUT"]);
        assert!(!got.legacy_tables_present && !got.nat_incompatible && got.warnings.is_empty());
    }

    /// Found by the `nat_save` fuzz target: the offending line was echoed whole.
    #[test]
    fn errors_show_a_bounded_part_of_a_huge_line() {
        let long = "x".repeat(100_000);
        let text = format!("*nat\n-A DOCKER_OUTPUT -d 127.0.0.11/32 -m {long}\nCOMMIT\n");
        let msg = parse_nat_save(&text).expect_err("undeclared").to_string();
        assert!(
            msg.starts_with(
                "line 2: rule in chain DOCKER_OUTPUT, which the nat table never declares"
            ),
            "{msg}"
        );
        assert!(
            msg.len() < 300 && msg.ends_with("...\""),
            "{} bytes",
            msg.len()
        );
        let text = format!("*nat\n:{long} - [0:0]\n:{long} - [0:0]\nCOMMIT\n");
        let msg = parse_nat_save(&text)
            .expect_err("declared twice")
            .to_string();
        assert!(msg.len() < 400, "{} bytes", msg.len());
    }
}
