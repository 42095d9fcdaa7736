//! The stress campaign's records and its report: what each part saw, and the figures as
//! Markdown.

use serde::Serialize;

use super::{CellRecord, Part};
use crate::world::record::ProberResults;

/// The state of a container after a killed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterKill {
    /// The rules are as before the run (leftover sets aside, counted apart).
    Untouched,
    /// Blocked hosts rejected, allowlisted hosts reachable, DNS and peers working.
    Firewalled,
    /// Blocked hosts rejected, allowlisted hosts not reachable, DNS and peers working.
    SafeClosed,
    /// Anything else: a violation.
    Other,
}

/// One kill.
#[derive(Debug, Clone, Serialize)]
pub struct KillRecord {
    pub fresh: bool,
    /// When the kill was due, from the start of the run.
    pub at_ms: u64,
    /// The run was still going and was SIGKILLed (otherwise it had ended first).
    pub killed: bool,
    pub exit: Option<i32>,
    pub after: AfterKill,
    /// Objects (sets, chains, tables: [`crate::world::state`]) the killed run left that a single clean
    /// run does not (before the next init cleans up).
    pub leftover_objects: usize,
    pub next_init_ok: bool,
    pub probes: ProbeCounts,
    pub violations: Vec<String>,
}

impl KillRecord {
    /// The progress line of this kill.
    pub(super) fn line(&self) -> String {
        format!(
            "kill ({}) at {} ms: {} {:?}{}",
            if self.fresh { "fresh" } else { "re-run" },
            self.at_ms,
            if self.killed { "killed" } else { "ended first" },
            self.after,
            if self.violations.is_empty() {
                String::new()
            } else {
                format!(": {}", self.violations.join("; "))
            }
        )
    }
}

/// What the background probers counted.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProbeCounts {
    pub dns_queries: usize,
    pub dns_failures: usize,
    pub blocked_attempts: usize,
    pub blocked_connected: usize,
}

impl From<&ProberResults> for ProbeCounts {
    fn from(r: &ProberResults) -> Self {
        ProbeCounts {
            dns_queries: r.dns_queries,
            dns_failures: r.dns_failures,
            blocked_attempts: r.blocked_attempts,
            blocked_connected: r.blocked_connected,
        }
    }
}

impl std::ops::AddAssign for ProbeCounts {
    fn add_assign(&mut self, o: Self) {
        self.dns_queries += o.dns_queries;
        self.dns_failures += o.dns_failures;
        self.blocked_attempts += o.blocked_attempts;
        self.blocked_connected += o.blocked_connected;
    }
}

/// One group of simultaneous inits.
#[derive(Debug, Clone, Serialize)]
pub struct ConcurrentRecord {
    pub runs: usize,
    pub exits: Vec<Option<i32>>,
    pub succeeded: usize,
    pub violations: Vec<String>,
}

/// The consecutive re-runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RerunRecord {
    pub runs: usize,
    pub succeeded: usize,
    pub identical: usize,
    /// Rules, sets and set entries after the first run.
    pub rules: usize,
    pub sets: usize,
    pub set_entries: usize,
    pub violations: Vec<String>,
}

/// The whole campaign.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StressReport {
    pub implementation: String,
    pub seed: u64,
    /// The parts that ran.
    pub parts: Vec<Part>,
    pub elapsed_s: u64,
    /// Duration of an uninterrupted run, measured before the kills (re-run, fresh).
    pub rerun_ms: u64,
    pub fresh_ms: u64,
    pub kills: Vec<KillRecord>,
    pub concurrent: Vec<ConcurrentRecord>,
    pub reruns: RerunRecord,
    pub matrix: Vec<CellRecord>,
}

impl StressReport {
    /// Every violation, prefixed with where it happened.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (i, k) in self.kills.iter().enumerate() {
            let kind = if k.fresh { "fresh" } else { "re-run" };
            v.extend(
                k.violations
                    .iter()
                    .map(|x| format!("kill {i} ({kind}, {} ms): {x}", k.at_ms)),
            );
        }
        for c in &self.concurrent {
            v.extend(
                c.violations
                    .iter()
                    .map(|x| format!("{} at once: {x}", c.runs)),
            );
        }
        v.extend(
            self.reruns
                .violations
                .iter()
                .map(|x| format!("re-runs: {x}")),
        );
        for c in &self.matrix {
            v.extend(
                c.violations
                    .iter()
                    .map(|x| format!("matrix {} {} {}: {x}", c.scenario, c.prior, c.profile)),
            );
        }
        v
    }

    fn kill_stats(&self, fresh: bool) -> (usize, usize, usize, ProbeCounts) {
        let ks: Vec<&KillRecord> = self.kills.iter().filter(|k| k.fresh == fresh).collect();
        let mut probes = ProbeCounts::default();
        for k in &ks {
            probes += k.probes;
        }
        let killed = ks.iter().filter(|k| k.killed).count();
        let next_ok = ks.iter().filter(|k| k.next_init_ok).count();
        (ks.len(), killed, next_ok, probes)
    }

    /// The title and the line under it: seed, time, the uninterrupted runs' times, the parts
    /// not run.
    fn header_markdown(&self) -> String {
        let mut s = String::new();
        let ran = |p: Part| self.parts.contains(&p);
        s.push_str(&format!(
            "# Stress: {}\n\nseed {}, {} s",
            self.implementation, self.seed, self.elapsed_s
        ));
        if ran(Part::KillsFirewalled) {
            s.push_str(&format!(
                "; an uninterrupted re-run took {} ms",
                self.rerun_ms
            ));
        }
        if ran(Part::KillsFresh) {
            s.push_str(&format!(
                "; an uninterrupted fresh init took {} ms",
                self.fresh_ms
            ));
        }
        let others: Vec<String> = Part::all()
            .iter()
            .filter(|p| !ran(**p))
            .map(|p| p.name())
            .collect();
        if !others.is_empty() {
            s.push_str(&format!("; not run: {}", others.join(", ")));
        }
        s.push_str("\n\n");
        s
    }

    /// The tables of the kill parts that ran: the probes during the runs, the state after a
    /// kill.
    fn kills_markdown(&self) -> String {
        let mut s = String::new();
        let ran = |p: Part| self.parts.contains(&p);
        let kill_parts: Vec<(bool, &str, &str)> = [
            (
                Part::KillsFirewalled,
                false,
                "kills, firewalled",
                "firewalled",
            ),
            (Part::KillsFresh, true, "kills, fresh", "fresh"),
        ]
        .into_iter()
        .filter(|(p, ..)| ran(*p))
        .map(|(_, fresh, part, container)| (fresh, part, container))
        .collect();
        if !kill_parts.is_empty() {
            s.push_str("| part | runs | killed | probes (DNS / blocked) | DNS failures | blocked connected | next init ok | violations |\n|---|---|---|---|---|---|---|---|\n");
        }
        for &(fresh, name, _) in &kill_parts {
            let (n, killed, next_ok, p) = self.kill_stats(fresh);
            let viol: usize = self
                .kills
                .iter()
                .filter(|k| k.fresh == fresh)
                .map(|k| k.violations.len())
                .sum();
            s.push_str(&format!(
                "| {name} | {n} | {killed} | {} / {} | {} | {} | {next_ok}/{n} | {viol} |\n",
                p.dns_queries,
                p.blocked_attempts,
                p.dns_failures,
                if fresh {
                    "n/a (open before init)".to_owned()
                } else {
                    p.blocked_connected.to_string()
                },
            ));
        }
        let count = |fresh: bool, a: AfterKill| {
            self.kills
                .iter()
                .filter(|k| k.fresh == fresh && k.killed && k.after == a)
                .count()
        };
        if !kill_parts.is_empty() {
            s.push_str("\nState after a kill (killed runs only):\n\n| container | untouched | firewalled | safe closed | other | with leftover objects |\n|---|---|---|---|---|---|\n");
        }
        for &(fresh, _, name) in &kill_parts {
            let left = self
                .kills
                .iter()
                .filter(|k| k.fresh == fresh && k.killed && k.leftover_objects > 0)
                .count();
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {left} |\n",
                count(fresh, AfterKill::Untouched),
                count(fresh, AfterKill::Firewalled),
                count(fresh, AfterKill::SafeClosed),
                count(fresh, AfterKill::Other),
            ));
        }
        s
    }

    /// The figures, as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = self.header_markdown();
        s.push_str(&self.kills_markdown());
        let ran = |p: Part| self.parts.contains(&p);
        if ran(Part::Concurrency) {
            s.push_str("\nConcurrency:\n\n| inits at once | exits | succeeded | violations |\n|---|---|---|---|\n");
        }
        for c in &self.concurrent {
            s.push_str(&format!(
                "| {} | {:?} | {} | {} |\n",
                c.runs,
                c.exits,
                c.succeeded,
                c.violations.len()
            ));
        }
        let r = &self.reruns;
        if ran(Part::Reruns) {
            s.push_str(&format!(
                "\nRe-runs: {} runs, {} succeeded, {} left the identical state ({} rules, {} sets, {} set entries each time), {} violations\n",
                r.runs, r.succeeded, r.identical, r.rules, r.sets, r.set_entries, r.violations.len()
            ));
        }
        let passed = self.matrix.iter().filter(|c| c.passed).count();
        if ran(Part::Matrix) {
            s.push_str(&format!(
                "\nFault matrix: {passed}/{} cells passed (re-run cells on the harness's planted firewall and marker)\n\n| scenario | prior | profile | cases | exit | marker | result |\n|---|---|---|---|---|---|---|\n",
                self.matrix.len()
            ));
        }
        for c in &self.matrix {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:?} | {} | {} |\n",
                c.scenario,
                c.prior,
                c.profile,
                c.cases.join(" "),
                c.exit,
                if c.marker { "yes" } else { "no" },
                c.result()
            ));
        }
        let v = self.violations();
        s.push_str(&format!("\nViolations: {}\n", v.len()));
        for x in v {
            s.push_str(&format!("- {x}\n"));
        }
        s
    }
}
