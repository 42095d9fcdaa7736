//! A reader of the two restore formats: `iptables-save` / `iptables-restore` text and
//! `ipset save` / `ipset restore` text.
//!
//! It reads back what we render (property tests check that every rendering parses and carries
//! the plan), and what the tools print (`fw-cli status`, the conformance suite's comparisons of
//! kernel state). Counters (`[12:345]`) and `#` comments are tolerated and dropped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::validate::shown;

/// Why a text is not in the restore format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("line {line}: {what}: {text:?}")]
    Syntax {
        line: usize,
        what: &'static str,
        text: String,
    },
    #[error("table {table:?} has no COMMIT")]
    Unterminated { table: String },
}

fn syntax(line: usize, what: &'static str, text: &str) -> RestoreError {
    RestoreError::Syntax {
        line,
        what,
        text: shown(text),
    }
}

/// A chain declaration: `:NAME POLICY [packets:bytes]`; user chains have policy `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub name: String,
    /// `ACCEPT`, `DROP`, ... for built-in chains; `None` for user chains (`-`).
    pub policy: Option<String>,
}

/// One `-A CHAIN args...` line, its arguments split as a shell would (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub chain: String,
    pub args: Vec<String>,
}

impl Rule {
    /// The value after `flag`, if the rule has it (`-j`, `--comment`, `--match-set`, ...).
    pub fn value_of(&self, flag: &str) -> Option<&str> {
        self.args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.args.get(i + 1))
            .map(String::as_str)
    }

    /// The rule's target (`-j`).
    pub fn target(&self) -> Option<&str> {
        self.value_of("-j")
    }

    /// The rule's comment, if it has one.
    pub fn comment(&self) -> Option<&str> {
        self.value_of("--comment")
    }
}

/// One `*table` ... `COMMIT` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: String,
    pub chains: Vec<Chain>,
    pub rules: Vec<Rule>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn policy(&self, chain: &str) -> Option<&str> {
        self.chain(chain).and_then(|c| c.policy.as_deref())
    }

    /// The rules of one chain, in order.
    pub fn rules_of<'a>(&'a self, chain: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.chain == chain)
    }
}

/// A whole `iptables-save` / `iptables-restore` text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IptablesText {
    pub tables: Vec<Table>,
}

impl IptablesText {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Writes the text back in `iptables-save` form (zero counters), quoting arguments that
    /// hold whitespace or quotes as `iptables-save` does.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            out.push('*');
            out.push_str(&t.name);
            out.push('\n');
            for c in &t.chains {
                let policy = c.policy.as_deref().unwrap_or("-");
                out.push_str(&format!(":{} {policy} [0:0]\n", c.name));
            }
            for r in &t.rules {
                out.push_str("-A ");
                out.push_str(&quote_arg(&r.chain));
                for a in &r.args {
                    out.push(' ');
                    out.push_str(&quote_arg(a));
                }
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

/// Quotes one argument the way `iptables-save` does, when it needs quoting.
pub fn quote_arg(a: &str) -> String {
    if !a.is_empty() && !a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return a.to_owned();
    }
    let mut q = String::with_capacity(a.len() + 2);
    q.push('"');
    for c in a.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Splits a rule line into arguments: whitespace separated, double-quoted strings kept whole
/// (with `\"` and `\\` escapes), as `iptables-restore` does.
pub fn split_args(line: &str) -> Result<Vec<String>, &'static str> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err("backslash at end of line"),
            },
            '"' => {
                quoted = !quoted;
                in_arg = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            c => {
                cur.push(c);
                in_arg = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote");
    }
    if in_arg {
        args.push(cur);
    }
    Ok(args)
}

/// What one line of `iptables-save` / `iptables-restore` text is. The one reading of the
/// format's lines: [`parse_iptables`] builds tables from them, and
/// [`crate::docker_dns::parse_nat_save`] reads Docker's rules of the nat table from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveLine<'a> {
    /// `# ...`: a comment (iptables-nft prints its warnings this way).
    Comment,
    /// `*NAME`: a table starts; what follows the star.
    Table(&'a str),
    /// `COMMIT`: the table ends.
    Commit,
    /// `:NAME POLICY [packets:bytes]`: a chain declaration; what follows the colon.
    Chain(&'a str),
    /// Anything else: a rule (`-A CHAIN args...`, perhaps after `[packets:bytes]` counters).
    Rule,
}

/// The non-blank lines of `iptables-save` text, each with its 1-based number, trimmed, and
/// what it is. CRLF line ends and leading or trailing spaces are tolerated.
pub fn save_lines(text: &str) -> impl Iterator<Item = (usize, &str, SaveLine<'_>)> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.trim();
        let kind = if line.is_empty() {
            return None;
        } else if line.starts_with('#') {
            SaveLine::Comment
        } else if let Some(name) = line.strip_prefix('*') {
            SaveLine::Table(name)
        } else if line == "COMMIT" {
            SaveLine::Commit
        } else if let Some(decl) = line.strip_prefix(':') {
            SaveLine::Chain(decl)
        } else {
            SaveLine::Rule
        };
        Some((i + 1, line, kind))
    })
}

/// Splits the `[packets:bytes]` counters `iptables-save -c` writes before a rule from the rule:
/// the rule (the line itself when it has no counters), or `None` when the line starts with `[`
/// but the counters are malformed.
pub fn strip_counters(line: &str) -> Option<&str> {
    let Some(rest) = line.strip_prefix('[') else {
        return Some(line);
    };
    let (counters, rule) = rest.split_once(']')?;
    let (packets, bytes) = counters.split_once(':')?;
    (is_digits(packets) && is_digits(bytes)).then(|| rule.trim_start())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses `iptables-save` or `iptables-restore` text.
pub fn parse_iptables(text: &str) -> Result<IptablesText, RestoreError> {
    let mut out = IptablesText::default();
    let mut current: Option<Table> = None;
    for (n, line, kind) in save_lines(text) {
        match kind {
            SaveLine::Comment => continue,
            SaveLine::Table(name) => {
                if let Some(t) = &current {
                    return Err(RestoreError::Unterminated {
                        table: shown(&t.name),
                    });
                }
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(syntax(n, "bad table name", line));
                }
                current = Some(Table {
                    name: name.to_owned(),
                    chains: Vec::new(),
                    rules: Vec::new(),
                });
                continue;
            }
            _ => {}
        }
        let Some(table) = current.as_mut() else {
            return Err(syntax(n, "outside any table", line));
        };
        match kind {
            SaveLine::Commit => out.tables.extend(current.take()),
            SaveLine::Chain(decl) => table.chains.push(chain_of(n, line, decl)?),
            _ => table.rules.push(rule_of(n, line)?),
        }
    }
    if let Some(t) = current {
        return Err(RestoreError::Unterminated {
            table: shown(&t.name),
        });
    }
    Ok(out)
}

/// A chain declaration, from what follows its colon.
fn chain_of(n: usize, line: &str, decl: &str) -> Result<Chain, RestoreError> {
    let mut parts = decl.split_whitespace();
    let (Some(name), Some(policy)) = (parts.next(), parts.next()) else {
        return Err(syntax(n, "chain declaration without a policy", line));
    };
    Ok(Chain {
        name: name.to_owned(),
        policy: (policy != "-").then(|| policy.to_owned()),
    })
}

/// A `-A CHAIN args...` line (counters tolerated).
fn rule_of(n: usize, line: &str) -> Result<Rule, RestoreError> {
    let line = strip_counters(line).unwrap_or(line);
    let args = split_args(line).map_err(|what| syntax(n, what, line))?;
    match args.as_slice() {
        [flag, chain, rest @ ..] if flag == "-A" || flag == "--append" => Ok(Rule {
            chain: chain.clone(),
            args: rest.to_vec(),
        }),
        _ => Err(syntax(
            n,
            "expected -A CHAIN, a chain declaration or COMMIT",
            line,
        )),
    }
}

/// A set declaration: `create NAME TYPE options...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetDecl {
    pub name: String,
    pub kind: String,
    pub options: Vec<String>,
}

impl SetDecl {
    /// The value of an option such as `family` or `maxelem`.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .position(|o| o == key)
            .and_then(|i| self.options.get(i + 1))
            .map(String::as_str)
    }
}

/// A whole `ipset save` / `ipset restore` text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpsetText {
    pub sets: Vec<SetDecl>,
    /// Entries per set, in order (`add NAME ENTRY`).
    pub members: BTreeMap<String, Vec<String>>,
    /// Sets flushed (`flush NAME`), in order.
    pub flushed: Vec<String>,
}

impl IpsetText {
    pub fn set(&self, name: &str) -> Option<&SetDecl> {
        self.sets.iter().find(|s| s.name == name)
    }

    pub fn members_of(&self, name: &str) -> &[String] {
        self.members
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Parses `ipset save` or `ipset restore` text (`create`, `add`, `flush`; `COMMIT` and `#`
/// comments tolerated). An `add` to a set that was never created is an error.
pub fn parse_ipset(text: &str) -> Result<IpsetText, RestoreError> {
    let mut out = IpsetText::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line == "COMMIT" {
            continue;
        }
        let args = split_args(line).map_err(|what| syntax(n, what, line))?;
        match args.as_slice() {
            [cmd, name, kind, options @ ..] if cmd == "create" || cmd == "-N" => {
                out.sets.push(SetDecl {
                    name: name.clone(),
                    kind: kind.clone(),
                    options: options.to_vec(),
                });
                out.members.entry(name.clone()).or_default();
            }
            [cmd, name, entry, ..] if cmd == "add" || cmd == "-A" => {
                let Some(members) = out.members.get_mut(name) else {
                    return Err(syntax(n, "add to a set that was not created", line));
                };
                members.push(entry.clone());
            }
            [cmd, name] if cmd == "flush" || cmd == "-F" => out.flushed.push(name.clone()),
            _ => return Err(syntax(n, "expected create, add or flush", line)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn splits_quoted_arguments() {
        assert_eq!(
            split_args(r#"-d 1.2.3.4/32 -m comment --comment "fw: a \"b\" c" -j ACCEPT"#).unwrap(),
            [
                "-d",
                "1.2.3.4/32",
                "-m",
                "comment",
                "--comment",
                r#"fw: a "b" c"#,
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(split_args(r#"--comment """#).unwrap(), ["--comment", ""]);
        assert_eq!(split_args(r#"--comment "x"#), Err("unterminated quote"));
    }

    #[test]
    fn reads_iptables_save_with_counters_and_comments() {
        let text = "# Generated by iptables-save v1.8.9 (nf_tables)\n*nat\n:PREROUTING ACCEPT [3:180]\n:DOCKER_OUTPUT - [0:0]\n[5:300] -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\nCOMMIT\n# Completed\n*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -o lo -m comment --comment \"fw: loopback\" -j ACCEPT\nCOMMIT\n";
        let parsed = parse_iptables(text).unwrap();
        let nat = parsed.table("nat").unwrap();
        assert_eq!(nat.policy("PREROUTING"), Some("ACCEPT"));
        assert_eq!(nat.chain("DOCKER_OUTPUT").unwrap().policy, None);
        assert_eq!(
            nat.rules[0].args,
            ["-d", "127.0.0.11/32", "-j", "DOCKER_OUTPUT"]
        );
        let filter = parsed.table("filter").unwrap();
        assert_eq!(filter.policy("OUTPUT"), Some("DROP"));
        let r = filter.rules_of("OUTPUT").next().unwrap();
        assert_eq!(
            (r.comment(), r.target()),
            (Some("fw: loopback"), Some("ACCEPT"))
        );
    }

    #[test]
    fn refuses_broken_iptables_text() {
        assert!(matches!(
            parse_iptables("-A OUTPUT -j ACCEPT\n"),
            Err(RestoreError::Syntax {
                line: 1,
                what: "outside any table",
                ..
            })
        ));
        assert_eq!(
            parse_iptables("*filter\n:OUTPUT DROP [0:0]\n"),
            Err(RestoreError::Unterminated {
                table: "filter".into()
            })
        );
        assert!(matches!(
            parse_iptables("*filter\n-I OUTPUT -j ACCEPT\nCOMMIT\n"),
            Err(RestoreError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            parse_iptables("*filter\n:OUTPUT\nCOMMIT\n"),
            Err(RestoreError::Syntax { line: 2, .. })
        ));
    }

    #[test]
    fn reads_ipset_save() {
        let text = "create fw-allow-v4 hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1d5e5d4b\nadd fw-allow-v4 192.0.2.0/26\nflush x\n";
        let parsed = parse_ipset(text).unwrap();
        let set = parsed.set("fw-allow-v4").unwrap();
        assert_eq!(
            (set.kind.as_str(), set.option("family")),
            ("hash:net", Some("inet"))
        );
        assert_eq!(parsed.members_of("fw-allow-v4"), ["192.0.2.0/26"]);
        assert_eq!(parsed.flushed, ["x"]);
        assert!(parse_ipset("add nope 1.2.3.4\n").is_err());
        assert!(parse_ipset("destroy x\n").is_err());
    }

    /// Found by the `restore` fuzz target: an offending line was echoed whole, so a line of
    /// megabytes made an error message of megabytes.
    #[test]
    fn errors_show_a_bounded_part_of_a_huge_line() {
        let huge = format!("-A POSTROUTING {}\n", "\0".repeat(100_000));
        let msg = parse_iptables(&huge)
            .expect_err("outside any table")
            .to_string();
        assert!(
            msg.starts_with("line 1: outside any table: \"-A POSTROUTING"),
            "{msg}"
        );
        assert!(
            msg.len() < 2_000 && msg.ends_with("...\""),
            "{} bytes",
            msg.len()
        );
        let unterminated = format!("*{}\n", "t".repeat(100_000));
        let msg = parse_iptables(&unterminated)
            .expect_err("no COMMIT")
            .to_string();
        assert!(msg.len() < 200, "{} bytes", msg.len());
        let msg = parse_ipset(&format!("add {} x\n", "s".repeat(100_000)))
            .expect_err("no such set")
            .to_string();
        assert!(msg.len() < 200, "{} bytes", msg.len());
    }

    /// Found by the `restore` fuzz target: a quoted chain name holding spaces or quotes was
    /// written back unquoted, so the text read back had another chain and other arguments.
    #[test]
    fn a_quoted_chain_name_survives_a_round_trip() {
        let text = "*nat\n-A \"OUTPUT say \\\"hi\\\"\" -j MASQUERADE\n-A \"\" -j X\nCOMMIT\n";
        let parsed = parse_iptables(text).expect("parses");
        assert_eq!(parsed.tables[0].rules[0].chain, "OUTPUT say \"hi\"");
        assert_eq!(parsed.tables[0].rules[1].chain, "");
        let again = parse_iptables(&parsed.to_text()).expect("written text parses");
        assert_eq!(again, parsed);
    }
}
