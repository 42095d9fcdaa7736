//! Results and reports: JSON, JUnit XML and Markdown, and the runner's exit status.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A requirement's level (REQUIREMENTS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    Info,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Info => "INFO",
        })
    }
}

/// A case's verdict. `Error` is the harness's fault (a probe that could not run, a mock that
/// did not start), never the implementation's; `Skip` says why the case did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Skip,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub level: Level,
    pub title: String,
    pub verdict: Verdict,
    pub elapsed_ms: u64,
    /// One line: why it failed (with the probe evidence), or what was measured (INFO).
    pub reason: String,
    /// Every observation the case made, for the reader who wants to check the verdict.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The implementation's exit status, stdout and stderr, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iut: Option<IutEvidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IutEvidence {
    pub status: Option<i32>,
    pub timed_out: bool,
    pub elapsed_ms: u64,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub must_passed: usize,
    pub must_total: usize,
    pub should_passed: usize,
    pub should_total: usize,
    pub errors: usize,
    pub elapsed_ms: u64,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub implementation: String,
    pub cases: Vec<CaseResult>,
    pub summary: Summary,
}

impl Report {
    pub fn new(implementation: &str, cases: Vec<CaseResult>, elapsed_ms: u64) -> Report {
        let mut s = Summary {
            elapsed_ms,
            ..Summary::default()
        };
        for c in &cases {
            let pass = c.verdict == Verdict::Pass;
            match c.level {
                Level::Must => {
                    s.must_total += 1;
                    s.must_passed += usize::from(pass);
                }
                Level::Should => {
                    s.should_total += 1;
                    s.should_passed += usize::from(pass);
                }
                Level::Info => {}
            }
            s.errors += usize::from(c.verdict == Verdict::Error);
        }
        Report {
            implementation: implementation.to_owned(),
            cases,
            summary: s,
        }
    }

    /// The runner's exit status: 2 for a harness error, 0 when every MUST case passes (and
    /// every SHOULD case with `should`), 1 otherwise.
    pub fn exit_status(&self, should: bool) -> i32 {
        if self.summary.errors > 0 {
            return 2;
        }
        let failed = |l: Level| {
            self.cases
                .iter()
                .any(|c| c.level == l && c.verdict == Verdict::Fail)
        };
        if failed(Level::Must) || (should && failed(Level::Should)) {
            1
        } else {
            0
        }
    }

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
            xml(&self.implementation),
            self.cases.len(),
            self.summary.elapsed_ms as f64 / 1000.0
        );
        for c in &self.cases {
            let _ = write!(
                x,
                "  <testcase classname=\"{}\" name=\"{} {}\" time=\"{:.3}\"",
                c.level,
                xml(&c.id),
                xml(&c.title),
                c.elapsed_ms as f64 / 1000.0
            );
            match c.verdict {
                Verdict::Pass => x.push_str("/>\n"),
                Verdict::Fail => {
                    let _ = writeln!(
                        x,
                        ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                        xml(&c.reason),
                        xml(&c.evidence.join("\n"))
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(
                        x,
                        ">\n    <error message=\"{}\"/>\n  </testcase>",
                        xml(&c.reason)
                    );
                }
                Verdict::Skip => {
                    let _ = writeln!(
                        x,
                        ">\n    <skipped message=\"{}\"/>\n  </testcase>",
                        xml(&c.reason)
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
            "# Conformance report: `{}`\n\nMUST: {}/{} passed. SHOULD: {}/{} passed. Harness errors: {}. Wall time: {:.1} s.\n\n| ID | Level | Verdict | Time | Title | Reason |\n|---|---|---|---|---|---|\n",
            self.implementation.replace('`', "'"),
            s.must_passed,
            s.must_total,
            s.should_passed,
            s.should_total,
            s.errors,
            s.elapsed_ms as f64 / 1000.0
        );
        for c in &self.cases {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {:.1} s | {} | {} |",
                c.id,
                c.level,
                verdict_word(c.verdict),
                c.elapsed_ms as f64 / 1000.0,
                md(&c.title),
                md(&c.reason)
            );
        }
        m
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "**FAIL**",
        Verdict::Error => "**ERROR**",
        Verdict::Skip => "skip",
    }
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
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
}
