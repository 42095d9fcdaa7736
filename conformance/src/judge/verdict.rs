//! The judge's output: a case's level and verdict, its result with the evidence and the
//! probes, and a whole run's report. The reports ([`crate::report`]) render these; the judge
//! knows nothing of them.

use serde::{Deserialize, Serialize};

/// A requirement's level (docs/requirements.md).
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
/// did not start), never the implementation's; `Skip` says why the case did not apply (or could
/// not be judged: the implementation failed before what the case observes). A failure where the
/// implementation called commands the sandbox lacks is a `Fail` with
/// [`CaseResult::missing_commands`] set: "environment incomplete".
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
    #[serde(default)]
    pub title: String,
    pub verdict: Verdict,
    pub elapsed_ms: u64,
    /// One line: why it failed (with the probe evidence), or what was measured (INFO).
    pub reason: String,
    /// Every observation the case made, for the reader who wants to check the verdict.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The implementation's exit status, stdout and stderr, when it ran (its run in the case's
    /// first scenario; every scenario's run is in `runs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iut: Option<IutEvidence>,
    /// Every probe the case sent, structured: what, to where, and what the kernel answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeRecord>,
    /// The case's outcome in each scenario it ran in, with that scenario's implementation run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<ScenarioRun>,
    /// Set on a failed case whose every failing scenario's run called commands the sandbox
    /// does not have: "environment incomplete" (still a failure for the exit status).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_commands: Vec<String>,
}

impl CaseResult {
    /// A failure where the implementation called commands the sandbox does not have.
    pub fn incomplete(&self) -> bool {
        self.verdict == Verdict::Fail && !self.missing_commands.is_empty()
    }

    /// The verdict in one word for people: `pass`, `fail`, `incomplete`, `error`, `skip`.
    pub fn verdict_word(&self) -> &'static str {
        if self.incomplete() {
            "incomplete"
        } else {
            verdict_name(self.verdict)
        }
    }
}

/// The implementation's run: how it ended and the tails (last 40 lines) of its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IutEvidence {
    pub status: Option<i32>,
    /// The signal that ended it (SIGKILL after a timeout), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Why it was stopped before its time limit (it had locked itself out), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub elapsed_ms: u64,
    pub stdout: String,
    pub stderr: String,
    /// Commands the run called that the sandbox does not have (parsed from its whole output;
    /// the tools the scenario hides on purpose are left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_commands: Vec<String>,
}

/// One probe: its kind (`tcp`, `https`, `dns-udp`, `dns-tcp`, `udp`), where it was sent from
/// (`container`, `world`, `svc`, `host`), its target, and the kernel's answer: `verdict` is
/// `connected`, `rejected` (with `errno`), `timed_out`, `answered`, `failed`, `tls_failed`,
/// `no_answer`, `arrived`, `lost` or `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRecord {
    #[serde(default)]
    pub scenario: String,
    pub kind: String,
    pub from: String,
    pub address: String,
    pub port: u16,
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// The rest, in words (an HTTP status, DNS answers, a TLS error).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A case's outcome in one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRun {
    pub scenario: String,
    /// `pass`, `fail`, `skip`, `info` or `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The checks' own time in this scenario (without the implementation's run).
    pub check_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iut: Option<IutEvidence>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub must_passed: usize,
    pub must_total: usize,
    pub should_passed: usize,
    pub should_total: usize,
    #[serde(default)]
    pub errors: usize,
    #[serde(default)]
    pub elapsed_ms: u64,
    /// Failed cases marked "environment incomplete".
    #[serde(default)]
    pub incomplete: usize,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub implementation: String,
    /// Every command any run called that the sandbox does not have, sorted: the report says
    /// it once at the top ("environment incomplete").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_commands: Vec<String>,
    pub cases: Vec<CaseResult>,
    pub summary: Summary,
    /// How the implementation was confined (what it could reach of the machine that ran it).
    #[serde(default)]
    pub isolation: String,
    /// The seed of the run's spreads (`fw-conformance run --seed` repeats them); absent in
    /// reports of versions without spreads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
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
            s.incomplete += usize::from(c.incomplete());
        }
        let mut missing: Vec<String> = cases
            .iter()
            .flat_map(|c| {
                c.runs
                    .iter()
                    .filter_map(|r| r.iut.as_ref())
                    .chain(c.iut.as_ref())
                    .flat_map(|i| i.missing_commands.iter().cloned())
                    .chain(c.missing_commands.iter().cloned())
            })
            .collect();
        missing.sort();
        missing.dedup();
        Report {
            implementation: implementation.to_owned(),
            missing_commands: missing,
            cases,
            summary: s,
            isolation: String::new(),
            seed: None,
        }
    }

    /// The "environment incomplete" note, when commands were missing.
    pub fn incomplete_note(&self) -> Option<String> {
        (!self.missing_commands.is_empty()).then(|| {
            crate::world::environment::incomplete_note(
                &self.missing_commands,
                self.summary.incomplete,
            )
        })
    }

    /// The runner's exit status: 2 for a harness error, 0 when every MUST case passes (and
    /// every SHOULD case with `should`), 1 otherwise (a case marked "environment incomplete"
    /// is a failure: 1).
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
}

/// A verdict's plain name (`pass`, `fail`, `error`, `skip`).
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skip => "skip",
    }
}
