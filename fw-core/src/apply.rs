//! Applying a rendered ruleset atomically, through the [`Tools`] seam.
//!
//! The order, and why. Steps 1 to 5 are the lines of one `ipset -exist restore` script
//! ([`SetScript`]): one process where there were nine (a process start costs milliseconds, and
//! init's latency is mostly process starts: docs/benchmarks.md). `ipset restore` runs its lines
//! in order and stops at the first that fails, naming it; the line tells which step failed.
//! 1. The live sets' `create` lines: the rules reference the sets, so they must exist before
//!    the first `iptables-restore` (a no-op on a re-run, thanks to `-exist`).
//! 2. Destroy leftover temporary sets of an interrupted run (`-exist`: missing ones are fine).
//! 3. The new allowlist into the temporary sets.
//! 4. `swap` each temporary set with its live set: the kernel switches the content in one
//!    step, so a re-run never has a moment with an empty or half-loaded allowlist.
//! 5. Destroy the temporary sets (now holding the old content).
//! 6. One `iptables-restore` of filter, nat and mangle: one kernel transaction, so the old
//!    firewall is replaced by the new one with no open window and no DNS gap (SEQ-06, SEQ-07).
//!    If it fails the kernel keeps the old tables.
//! 7. One `ip6tables-restore` of filter.
//!
//! A failure at any step is an [`ApplyError`] naming the step and carrying the tool's command,
//! exit status and stderr; the caller then applies the safe closed ruleset.

use std::fmt::Write as _;

use serde::Serialize;

use crate::exec::{Command, ExecError, Tools};
use crate::names::{SET_ALLOW_V4, SET_ALLOW_V6, temp_set};
use crate::render::{Ruleset, ipset_live_sets};

/// Which iptables binaries to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `iptables-restore` as installed (Debian: the nf_tables variant).
    #[default]
    Default,
    /// `iptables-nft-restore` explicitly.
    Nft,
    /// `iptables-legacy-restore`.
    Legacy,
}

impl Backend {
    fn suffix(self) -> &'static str {
        match self {
            Backend::Default => "",
            Backend::Nft => "-nft",
            Backend::Legacy => "-legacy",
        }
    }

    /// The program for a tool (`restore` or `save`) of a family.
    pub fn program(self, v6: bool, tool: &str) -> String {
        let base = if v6 { "ip6tables" } else { "iptables" };
        format!("{base}{}-{tool}", self.suffix())
    }
}

/// Seconds `iptables-restore` waits for the xtables lock held by another process.
const XTABLES_WAIT_SECS: &str = "10";

/// The step of an apply that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyStep {
    CreateSets,
    LoadSets,
    SwapSets,
    RestoreIpv4,
    RestoreIpv6,
}

impl std::fmt::Display for ApplyStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApplyStep::CreateSets => "creating the allowlist sets",
            ApplyStep::LoadSets => "loading the allowlist sets",
            ApplyStep::SwapSets => "swapping in the allowlist sets",
            ApplyStep::RestoreIpv4 => "applying the IPv4 ruleset",
            ApplyStep::RestoreIpv6 => "applying the IPv6 ruleset",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {source}")]
pub struct ApplyError {
    pub step: ApplyStep,
    #[source]
    pub source: ExecError,
}

fn at(step: ApplyStep) -> impl FnOnce(ExecError) -> ApplyError {
    move |source| ApplyError { step, source }
}

fn restore(tools: &dyn Tools, backend: Backend, v6: bool, text: &str) -> Result<(), ExecError> {
    let cmd = Command::new(&backend.program(v6, "restore"), ["-w", XTABLES_WAIT_SECS]).stdin(text);
    tools.run(&cmd).map(|_| ())
}

/// The `ipset -exist restore` script of steps 1 to 5, with the lines where each step starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetScript {
    pub text: String,
    /// First line (1-based) of the leftover destroys (step 2).
    leftovers: usize,
    /// First line of the swaps (step 4).
    swaps: usize,
}

/// The temporary sets, in the order the script destroys them.
fn temp_sets() -> [String; 2] {
    [temp_set(SET_ALLOW_V4), temp_set(SET_ALLOW_V6)]
}

impl SetScript {
    pub fn new(ruleset: &Ruleset) -> Self {
        let mut text = String::with_capacity(ruleset.ipset.len() + 512);
        text.push_str(&ipset_live_sets());
        let leftovers = text.lines().count() + 1;
        for tmp in temp_sets() {
            let _ = writeln!(text, "destroy {tmp}");
        }
        text.push_str(&ruleset.ipset);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let swaps = text.lines().count() + 1;
        for live in [SET_ALLOW_V4, SET_ALLOW_V6] {
            let _ = writeln!(text, "swap {} {live}", temp_set(live));
        }
        for tmp in temp_sets() {
            let _ = writeln!(text, "destroy {tmp}");
        }
        SetScript {
            text,
            leftovers,
            swaps,
        }
    }

    /// The step a failing line belongs to; without a line number, the first step (the tool
    /// could not start, or failed before reading its input).
    pub fn step_of(&self, line: Option<usize>) -> ApplyStep {
        match line {
            Some(n) if n >= self.swaps => ApplyStep::SwapSets,
            Some(n) if n >= self.leftovers => ApplyStep::LoadSets,
            _ => ApplyStep::CreateSets,
        }
    }

    /// The leftover `destroy` at `line`, turned into a comment (keeping the numbering): for an
    /// ipset whose `-exist` does not cover a missing set. `false` if `line` is not one of them
    /// or is a comment already, so a script is retried at most twice.
    fn skip_leftover(&mut self, line: usize) -> bool {
        if !(self.leftovers..self.leftovers + 2).contains(&line)
            || self
                .text
                .lines()
                .nth(line - 1)
                .is_none_or(|l| l.starts_with('#'))
        {
            return false;
        }
        let mut out = String::with_capacity(self.text.len());
        for (i, l) in self.text.lines().enumerate() {
            if i + 1 == line {
                out.push_str("# no leftover: ");
            }
            out.push_str(l);
            out.push('\n');
        }
        self.text = out;
        true
    }
}

/// The line number in ipset's "Error in line N: ..." message.
pub fn ipset_error_line(stderr: &str) -> Option<usize> {
    let rest = &stderr[stderr.find("Error in line ")? + "Error in line ".len()..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// Loads the allowlist into temporary sets and swaps them in (steps 1 to 5), in one process.
/// On its own, this is `fw-cli refresh`: the rules are untouched, the set contents change
/// atomically.
pub fn apply_sets(tools: &dyn Tools, ruleset: &Ruleset) -> Result<(), ApplyError> {
    let mut script = SetScript::new(ruleset);
    loop {
        let cmd = Command::new("ipset", ["-exist", "restore"]).stdin(script.text.clone());
        let err = match tools.run(&cmd) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let line = match &err {
            ExecError::Failed { stderr, .. } => ipset_error_line(stderr),
            _ => None,
        };
        // Nothing after the failing line ran and every line before it is idempotent.
        let missing_leftover =
            matches!(&err, ExecError::Failed { stderr, .. } if stderr.contains("does not exist"));
        if let Some(n) = line
            && missing_leftover
            && script.skip_leftover(n)
        {
            continue;
        }
        return Err(ApplyError {
            step: script.step_of(line),
            source: err,
        });
    }
}

/// Step 6 or 7: one family's `iptables-restore` of the rendered tables.
pub fn apply_rules(
    tools: &dyn Tools,
    backend: Backend,
    ruleset: &Ruleset,
    v6: bool,
) -> Result<(), ApplyError> {
    if v6 {
        restore(tools, backend, true, &ruleset.ip6tables).map_err(at(ApplyStep::RestoreIpv6))
    } else {
        restore(tools, backend, false, &ruleset.iptables).map_err(at(ApplyStep::RestoreIpv4))
    }
}

/// Applies a whole firewall: sets first (swapped in atomically), then one restore per family.
pub fn apply(tools: &dyn Tools, backend: Backend, ruleset: &Ruleset) -> Result<(), ApplyError> {
    apply_sets(tools, ruleset)?;
    apply_rules(tools, backend, ruleset, false)?;
    apply_rules(tools, backend, ruleset, true)
}

/// Applies the safe closed ruleset (filter tables only; no sets involved). Both families are
/// attempted even when the first fails, so that one broken tool closes as much as it can.
pub fn apply_safe_closed(
    tools: &dyn Tools,
    backend: Backend,
    ruleset: &Ruleset,
) -> Result<(), Vec<ApplyError>> {
    let mut errors = Vec::new();
    if let Err(e) = restore(tools, backend, false, &ruleset.iptables) {
        errors.push(at(ApplyStep::RestoreIpv4)(e));
    }
    if let Err(e) = restore(tools, backend, true, &ruleset.ip6tables) {
        errors.push(at(ApplyStep::RestoreIpv6)(e));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
