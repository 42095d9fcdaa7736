//! Evidence read from the implementation's output, line by line, for the requirements that ask
//! for a message (ALW-09: a warning naming each unresolvable domain; FAIL-09: a failure naming
//! the missing tool).
//!
//! A substring of the whole output is no such evidence: a script that echoes its domain list
//! or its list of required tools names every domain and tool without warning about any. So a
//! message counts only as a line, and only when the line is about the thing:
//!
//! - ALW-09: a line that names the unresolvable domain as a whole name and names none of the
//!   domains that resolved (a line listing them all is about none of them). Two unresolvable
//!   domains in one line still count for both.
//! - FAIL-09: a line of the failed run that names the hidden tool as a whole word and is not
//!   also printed by a successful run of the same implementation (the control run: a fresh
//!   sandbox of the same scenario with nothing hidden), digits aside. What the implementation
//!   prints whether or not the tool is there (a banner, a list of what it checks) says nothing
//!   about the tool missing.
//!
//! Each evidence names the line that matched.

use crate::judge::ctx::Ctx;

/// Whether `c` continues a name (so `name` followed or preceded by it is part of a longer one).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `line` names `name` as a whole: not as part of a longer name or word (a `.` joins a
/// longer domain name when a name character follows it, or when it precedes `name`).
pub fn names(line: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    line.match_indices(name).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let mut after = line[i + name.len()..].chars();
        let next = after.next();
        let before_ok = before.is_none_or(|c| !name_char(c) && c != '.');
        let after_ok = match next {
            None => true,
            Some('.') => after.next().is_none_or(|c| !name_char(c)),
            Some(c) => !name_char(c),
        };
        before_ok && after_ok
    })
}

/// The first line of `output` that names `name` and none of `others`; with how many lines
/// named it together with one of `others`.
pub fn line_naming_only<'a>(
    output: &'a str,
    name: &str,
    others: &[&str],
) -> (Option<&'a str>, usize) {
    let mut crowded = 0;
    for line in output.lines().filter(|l| names(l, name)) {
        if others.iter().any(|o| names(line, o)) {
            crowded += 1;
        } else {
            return (Some(line.trim()), crowded);
        }
    }
    (None, crowded)
}

/// ALW-09's warnings: for each of `unresolvable`, the evidence line (noted) or the failure.
pub fn unresolvable_domains_named(
    ctx: &Ctx,
    unresolvable: &[&str],
    resolved: &[&str],
) -> Vec<String> {
    let out = ctx.output();
    let mut bad = Vec::new();
    for name in unresolvable {
        match line_naming_only(&out, name, resolved) {
            (Some(line), _) => ctx.note(format!("{name} is named by the line: {line}")),
            (None, 0) => bad.push(format!("no line of the output names {name}")),
            (None, n) => bad.push(format!(
                "no line names {name} apart from the domains that resolved ({n} line(s) name it \
                 among them, which is no warning about it)"
            )),
        }
    }
    bad
}

/// Digits replaced, so that counts and times do not make an ordinary line look new.
fn shape(line: &str) -> String {
    line.trim()
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// The lines of `failed` that name `tool` and that `control` (a successful run's output) does
/// not print too, digits aside.
pub fn lines_naming_tool<'a>(failed: &'a str, control: &str, tool: &str) -> Vec<&'a str> {
    let usual: Vec<String> = control.lines().map(shape).collect();
    failed
        .lines()
        .filter(|l| names(l, tool))
        .filter(|l| !usual.contains(&shape(l)))
        .map(str::trim)
        .collect()
}

/// What FAIL-09 found of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMessage {
    /// A line names the tool and a successful run does not print it (noted).
    Named,
    /// No such line: why.
    NotNamed(String),
    /// The implementation fails with nothing hidden too (the control run): its failure here
    /// answers nothing, and its message cannot be told from its usual output.
    Unjudged(String),
}

/// FAIL-09's message. The control run is made only when some line names the tool.
pub fn missing_tool_named(ctx: &Ctx, tool: &str) -> anyhow::Result<ToolMessage> {
    let failed = ctx.output();
    let candidates: Vec<&str> = failed.lines().filter(|l| names(l, tool)).collect();
    if candidates.is_empty() {
        return Ok(ToolMessage::NotNamed(format!(
            "no line of the output names {tool}"
        )));
    }
    let control = match ctx.control_run_output()? {
        Ok(out) => out,
        Err(why) => {
            return Ok(ToolMessage::Unjudged(format!(
                "not judged: {why}, so the failure with {tool} hidden is no answer to it"
            )));
        }
    };
    let lines = lines_naming_tool(&failed, &control, tool);
    Ok(match lines.first() {
        Some(line) => {
            ctx.note(format!(
                "{tool} is named by a line a successful run does not print: {line}"
            ));
            ToolMessage::Named
        }
        None => ToolMessage::NotNamed(format!(
            "no line names {tool} but those a successful run prints too ({} line(s), such as \
             {:?}): they do not say it is missing",
            candidates.len(),
            candidates[0].trim()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whole_names_only() {
        assert!(names(
            "WARN domain nx.example.test not allowed",
            "nx.example.test"
        ));
        assert!(names(
            "could not resolve nx.example.test.",
            "nx.example.test"
        ));
        assert!(names("'nx.example.test'", "nx.example.test"));
        assert!(!names("a.nx.example.test", "nx.example.test"));
        assert!(!names("nx.example.test.org", "nx.example.test"));
        assert!(!names("nx.example.testing", "nx.example.test"));
        assert!(names("ERROR: ipset is missing", "ipset"));
        assert!(names("/usr/sbin/ipset: not found", "ipset"));
        assert!(!names("ipset-restore missing", "ipset"));
        assert!(!names("ip6tables-restore missing", "iptables-restore"));
        assert!(!names("anything", ""));
    }

    #[test]
    fn a_line_listing_every_domain_is_no_warning() {
        let others = ["extra-one.example.test", "extra-two.example.test"];
        let listed = "resolving: extra-one.example.test extra-two.example.test nx.example.test\n";
        assert_eq!(
            line_naming_only(listed, "nx.example.test", &others),
            (None, 1)
        );
        let warned = format!("{listed}WARNING: could not resolve nx.example.test\n");
        assert_eq!(
            line_naming_only(&warned, "nx.example.test", &others),
            (Some("WARNING: could not resolve nx.example.test"), 1)
        );
        let both = "cannot resolve nx.example.test, servfail.example.test";
        assert_eq!(
            line_naming_only(both, "servfail.example.test", &others).0,
            Some(both)
        );
    }

    #[test]
    fn a_tool_named_as_usual_does_not_count() {
        let control = "checking tools: iptables ipset dig (3 ms)\nok\n";
        let failed =
            "checking tools: iptables ipset dig (4 ms)\nERROR: a required tool is missing\n";
        assert!(lines_naming_tool(failed, control, "ipset").is_empty());
        let failed = "checking tools: iptables ipset dig (4 ms)\nERROR: ipset not found\n";
        assert_eq!(
            lines_naming_tool(failed, control, "ipset"),
            ["ERROR: ipset not found"]
        );
    }
}
