//! Results and reports: JSON, JUnit XML and Markdown, the runner's exit status, and the
//! comparison of two runs (the HTML report is in [`crate::report::html`]).

pub mod html;

use std::fmt::Write as _;

pub use crate::judge::verdict::{
    CaseResult, IutEvidence, Level, ProbeRecord, Report, ScenarioRun, Summary, Verdict,
    verdict_name,
};
use crate::report::html::esc;

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// JUnit XML: one testcase per case, failures and errors with their reason.
    pub fn to_junit(&self) -> String {
        let failures = self
            .cases
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count();
        let errors = self.summary.errors;
        let skipped = self
            .cases
            .iter()
            .filter(|c| c.verdict == Verdict::Skip)
            .count();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            esc(&self.implementation),
            self.cases.len(),
            self.summary.elapsed_ms as f64 / 1000.0
        );
        if let Some(seed) = self.seed {
            let _ = writeln!(
                x,
                "  <properties><property name=\"spread-seed\" value=\"{seed}\"/></properties>"
            );
        }
        for c in &self.cases {
            let _ = write!(
                x,
                "  <testcase classname=\"{}\" name=\"{} {}\" time=\"{:.3}\"",
                c.level,
                esc(&c.id),
                esc(&c.title),
                c.elapsed_ms as f64 / 1000.0
            );
            match c.verdict {
                Verdict::Pass => x.push_str("/>\n"),
                Verdict::Fail => {
                    let message = if c.incomplete() {
                        format!(
                            "environment incomplete (missing: {}): {}",
                            c.missing_commands.join(", "),
                            c.reason
                        )
                    } else {
                        c.reason.clone()
                    };
                    let _ = writeln!(
                        x,
                        ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                        esc(&message),
                        esc(&c.evidence.join("\n"))
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(
                        x,
                        ">\n    <error message=\"{}\"/>\n  </testcase>",
                        esc(&c.reason)
                    );
                }
                Verdict::Skip => {
                    let _ = writeln!(
                        x,
                        ">\n    <skipped message=\"{}\"/>\n  </testcase>",
                        esc(&c.reason)
                    );
                }
            }
        }
        x.push_str("</testsuite>\n");
        x
    }

    /// A Markdown report: the summary, then a table of every case.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut m = format!(
            "# Conformance report: `{}`\n\n",
            self.implementation.replace('`', "'")
        );
        if let Some(note) = self.incomplete_note() {
            let _ = write!(m, "> **{}**\n\n", md(&note));
        }
        let _ = write!(
            m,
            "MUST: {}/{} passed. SHOULD: {}/{} passed. Harness errors: {}.{} Wall time: {:.1} s.\n\n{}| ID | Level | Verdict | Time | Title | Reason |\n|---|---|---|---|---|---|\n",
            s.must_passed,
            s.must_total,
            s.should_passed,
            s.should_total,
            s.errors,
            if s.incomplete > 0 {
                format!(" Environment incomplete: {}.", s.incomplete)
            } else {
                String::new()
            },
            s.elapsed_ms as f64 / 1000.0,
            {
                let mut head = String::new();
                if let Some(seed) = self.seed {
                    let _ = write!(
                        head,
                        "Spread seed: {seed} (`fw-conformance run --seed {seed}` probes the same addresses).\n\n"
                    );
                }
                if !self.isolation.is_empty() {
                    let _ = write!(head, "Isolation: {}.\n\n", md(&self.isolation));
                }
                head
            }
        );
        for c in &self.cases {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {:.1} s | {} | {} |",
                c.id,
                c.level,
                if c.incomplete() {
                    "**INCOMPLETE**"
                } else {
                    verdict_word(c.verdict)
                },
                c.elapsed_ms as f64 / 1000.0,
                md(&c.title),
                md(&c.reason)
            );
        }
        m
    }
}

/// A case whose verdict differs between two reports (`None`: the case is not in that report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub level: Level,
    pub title: String,
    pub before: Option<Verdict>,
    pub after: Option<Verdict>,
}

impl Change {
    /// A MUST case that passed before and fails (or errs) now.
    pub fn is_must_regression(&self) -> bool {
        self.level == Level::Must
            && self.before == Some(Verdict::Pass)
            && matches!(self.after, Some(Verdict::Fail | Verdict::Error))
    }
}

/// The cases whose verdict changed from `a` to `b`, in `a`'s order then `b`'s new cases.
pub fn compare(a: &Report, b: &Report) -> Vec<Change> {
    let mut out = Vec::new();
    for ca in &a.cases {
        let after = b.cases.iter().find(|c| c.id == ca.id).map(|c| c.verdict);
        if after != Some(ca.verdict) {
            out.push(Change {
                id: ca.id.clone(),
                level: ca.level,
                title: ca.title.clone(),
                before: Some(ca.verdict),
                after,
            });
        }
    }
    for cb in &b.cases {
        if !a.cases.iter().any(|c| c.id == cb.id) {
            out.push(Change {
                id: cb.id.clone(),
                level: cb.level,
                title: cb.title.clone(),
                before: None,
                after: Some(cb.verdict),
            });
        }
    }
    out
}

/// `compare`'s output as text: the summaries, then one line per changed case.
pub fn compare_text(a: &Report, b: &Report, changes: &[Change]) -> String {
    let word = |v: Option<Verdict>| v.map_or("absent", verdict_name);
    let mut t = String::new();
    for (name, r) in [("before", a), ("after", b)] {
        let s = &r.summary;
        let _ = writeln!(
            t,
            "{name:<6}  {}: MUST {}/{}, SHOULD {}/{}, harness errors {}",
            r.implementation,
            s.must_passed,
            s.must_total,
            s.should_passed,
            s.should_total,
            s.errors
        );
    }
    if changes.is_empty() {
        t.push_str("no case changed verdict\n");
        return t;
    }
    let _ = writeln!(
        t,
        "{} {} changed verdict:",
        changes.len(),
        if changes.len() == 1 { "case" } else { "cases" }
    );
    for c in changes {
        let _ = writeln!(
            t,
            "  {:<8} {:<6} {:>6} -> {:<6} {}{}",
            c.id,
            c.level.to_string(),
            word(c.before),
            word(c.after),
            c.title,
            if c.is_must_regression() {
                "  [MUST regression]"
            } else {
                ""
            }
        );
    }
    let n = changes.iter().filter(|c| c.is_must_regression()).count();
    let _ = writeln!(t, "MUST regressions: {n}");
    t
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "**FAIL**",
        Verdict::Error => "**ERROR**",
        Verdict::Skip => "skip",
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, level: Level, verdict: Verdict) -> CaseResult {
        CaseResult {
            id: id.into(),
            level,
            title: "t <&>".into(),
            verdict,
            elapsed_ms: 1500,
            reason: "r | \"q\"".into(),
            evidence: vec!["e1".into()],
            iut: None,
            probes: Vec::new(),
            runs: Vec::new(),
            missing_commands: Vec::new(),
        }
    }

    #[test]
    fn summary_and_exit_status() {
        let r = Report::new(
            "fw-cli init",
            vec![
                case("POL-01", Level::Must, Verdict::Pass),
                case("POL-06", Level::Should, Verdict::Fail),
                case("INF-01", Level::Info, Verdict::Pass),
            ],
            100,
        );
        assert_eq!((r.summary.must_passed, r.summary.must_total), (1, 1));
        assert_eq!((r.summary.should_passed, r.summary.should_total), (0, 1));
        assert_eq!(r.exit_status(false), 0);
        assert_eq!(r.exit_status(true), 1);
        let mut e = r.clone();
        e.cases.push(case("ALW-01", Level::Must, Verdict::Error));
        let e = Report::new("x", e.cases, 1);
        assert_eq!(e.exit_status(false), 2);
    }

    #[test]
    fn reports_are_well_formed() {
        let r = Report::new(
            "bash 'x'",
            vec![case("POL-01", Level::Must, Verdict::Fail)],
            1,
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap_or_default();
        assert_eq!(json["cases"][0]["verdict"], "fail");
        assert_eq!(json["cases"][0]["level"], "MUST");
        assert_eq!(json["summary"]["must_total"], 1);
        let x = r.to_junit();
        assert!(
            x.contains("failures=\"1\"")
                && x.contains("t &lt;&amp;&gt;")
                && x.contains("&quot;q&quot;"),
            "{x}"
        );
        let m = r.to_markdown();
        assert!(
            m.contains("| POL-01 | MUST | **FAIL** | 1.5 s | t <&> | r \\| \"q\" |"),
            "{m}"
        );
    }

    #[test]
    fn compare_lists_changes_and_must_regressions() {
        let a = Report::new(
            "a",
            vec![
                case("POL-01", Level::Must, Verdict::Pass),
                case("POL-02", Level::Must, Verdict::Fail),
                case("POL-06", Level::Should, Verdict::Pass),
                case("SEQ-01", Level::Must, Verdict::Pass),
                case("INF-01", Level::Info, Verdict::Pass),
            ],
            1,
        );
        let same = compare(&a, &a);
        assert!(same.is_empty());
        assert!(compare_text(&a, &a, &same).contains("no case changed verdict"));

        let b = Report::new(
            "b",
            vec![
                case("POL-01", Level::Must, Verdict::Fail),
                case("POL-02", Level::Must, Verdict::Pass),
                case("POL-06", Level::Should, Verdict::Fail),
                case("INF-01", Level::Info, Verdict::Pass),
                case("ALW-01", Level::Must, Verdict::Fail),
            ],
            1,
        );
        let ch = compare(&a, &b);
        let summary: Vec<(&str, Option<Verdict>, Option<Verdict>, bool)> = ch
            .iter()
            .map(|c| (c.id.as_str(), c.before, c.after, c.is_must_regression()))
            .collect();
        assert_eq!(
            summary,
            [
                ("POL-01", Some(Verdict::Pass), Some(Verdict::Fail), true),
                ("POL-02", Some(Verdict::Fail), Some(Verdict::Pass), false),
                ("POL-06", Some(Verdict::Pass), Some(Verdict::Fail), false),
                ("SEQ-01", Some(Verdict::Pass), None, false),
                ("ALW-01", None, Some(Verdict::Fail), false),
            ]
        );
        let t = compare_text(&a, &b, &ch);
        assert!(t.contains("5 cases changed verdict"), "{t}");
        assert!(
            t.contains("POL-01   MUST     pass -> fail   t <&>  [MUST regression]"),
            "{t}"
        );
        assert!(t.contains("SEQ-01   MUST     pass -> absent"), "{t}");
        assert!(t.ends_with("MUST regressions: 1\n"), "{t}");
        // A MUST case that passed and now errs counts too; SHOULD never does.
        let e = Report::new("e", vec![case("SEQ-01", Level::Must, Verdict::Error)], 1);
        assert!(compare(&a, &e).iter().any(Change::is_must_regression));
    }

    #[test]
    fn incomplete_cases_are_failures_named_once_at_the_top() {
        let mut a = case("POL-01", Level::Must, Verdict::Fail);
        a.missing_commands = vec!["aggregate".into()];
        a.runs = vec![ScenarioRun {
            scenario: "default".into(),
            outcome: "fail".into(),
            reason: "init exited 127".into(),
            check_ms: 1,
            iut: Some(IutEvidence {
                status: Some(127),
                signal: None,
                timed_out: false,
                stopped: None,
                elapsed_ms: 5,
                stdout: String::new(),
                stderr: "x.sh: line 3: aggregate: command not found".into(),
                missing_commands: vec!["aggregate".into(), "dnsmasq".into()],
            }),
        }];
        let b = case("POL-06", Level::Should, Verdict::Fail);
        let r = Report::new("bash x.sh", vec![a, b], 1);
        assert_eq!(r.missing_commands, ["aggregate", "dnsmasq"]);
        assert_eq!(r.summary.incomplete, 1);
        // Still a failure: a MUST case marked incomplete makes the run exit 1, not 0 or 2.
        assert_eq!(r.exit_status(false), 1);
        assert_eq!(r.cases[0].verdict_word(), "incomplete");
        assert_eq!(r.cases[1].verdict_word(), "fail");
        let m = r.to_markdown();
        assert_eq!(m.matches("`aggregate`, `dnsmasq`").count(), 1, "{m}");
        let note_at = m.find("Environment incomplete: the implementation");
        assert!(
            note_at.is_some_and(|n| m.find("MUST: 0/1 passed").is_some_and(|s| n < s)),
            "{m}"
        );
        assert!(m.contains("Environment incomplete: 1."), "{m}");
        assert!(m.contains("| POL-01 | MUST | **INCOMPLETE** |"), "{m}");
        assert!(m.contains("| POL-06 | SHOULD | **FAIL** |"), "{m}");
        assert!(m.contains("--tier docker --image IMAGE"), "{m}");
        let x = r.to_junit();
        assert!(
            x.contains("failure message=\"environment incomplete (missing: aggregate): r"),
            "{x}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap_or_default();
        assert_eq!(json["missing_commands"][0], "aggregate");
        assert_eq!(json["cases"][0]["missing_commands"][0], "aggregate");
        assert_eq!(json["cases"][0]["verdict"], "fail");
        assert_eq!(json["summary"]["incomplete"], 1);
        let back: Report = serde_json::from_str(&r.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
        // Without missing commands, no note and no new JSON field.
        let plain = Report::new("x", vec![case("POL-01", Level::Must, Verdict::Fail)], 1);
        assert!(plain.incomplete_note().is_none());
        assert!(!plain.to_json().contains("missing_commands"));
        assert!(!plain.to_markdown().contains("incomplete:"));
    }

    #[test]
    fn old_reports_without_the_new_fields_still_parse() {
        let old = r#"{"implementation":"x","cases":[{"id":"POL-01","level":"MUST","verdict":"pass","elapsed_ms":5,"reason":""}],"summary":{"must_passed":1,"must_total":1,"should_passed":0,"should_total":0}}"#;
        let r: Report = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.cases[0].verdict, Verdict::Pass);
        assert!(r.cases[0].probes.is_empty() && r.cases[0].runs.is_empty());
        assert!(r.missing_commands.is_empty() && r.cases[0].missing_commands.is_empty());
        assert_eq!(r.summary.incomplete, 0);
        assert_eq!(r.seed, None);
    }

    #[test]
    fn the_spread_seed_is_in_every_report() {
        let mut r = Report::new("x", vec![case("POL-01", Level::Must, Verdict::Pass)], 1);
        assert!(!r.to_markdown().contains("Spread seed"));
        assert!(!r.to_json().contains("\"seed\""));
        r.seed = Some(12_345);
        assert!(
            r.to_markdown().contains(
                "Spread seed: 12345 (`fw-conformance run --seed 12345` probes the same addresses)."
            ),
            "{}",
            r.to_markdown()
        );
        assert!(
            r.to_junit()
                .contains("<property name=\"spread-seed\" value=\"12345\"/>")
        );
        let back: Report = serde_json::from_str(&r.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.seed, Some(12_345));
    }
}
