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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::exec::fake::FakeKernel;
    use crate::plan::{Plan, SafeClosed};
    use crate::render::{render, render_safe_closed};
    use crate::sample::{base_config, sample_inputs};

    fn ruleset() -> Ruleset {
        render(&Plan::build(&base_config(), &sample_inputs()))
    }

    #[test]
    fn applies_sets_then_rules_and_the_kernel_holds_the_rendering() {
        let k = FakeKernel::new();
        let r = ruleset();
        apply(&k, Backend::Default, &r).unwrap();
        assert_eq!(k.save("nft", false), r.iptables);
        assert_eq!(k.save("nft", true), r.ip6tables);
        let sets = k.sets();
        assert_eq!(
            sets.keys().collect::<Vec<_>>(),
            ["fw-allow-v4", "fw-allow-v6"]
        );
        assert!(sets["fw-allow-v4"].members.contains("192.0.2.128/26"));
        let lines = k.call_lines();
        let pos = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap();
        assert!(pos("ipset -exist restore") < pos("iptables-restore"));
        assert!(pos("iptables-restore") < pos("ip6tables-restore"));
    }

    #[test]
    fn a_second_apply_gives_identical_state_and_leaves_no_temporary_set() {
        let k = FakeKernel::new();
        let r = ruleset();
        apply(&k, Backend::Default, &r).unwrap();
        let (v4, v6, sets) = (k.save("nft", false), k.save("nft", true), k.sets());
        apply(&k, Backend::Default, &r).unwrap();
        assert_eq!(
            (k.save("nft", false), k.save("nft", true), k.sets()),
            (v4, v6, sets)
        );
    }

    #[test]
    fn a_leftover_temporary_set_is_replaced() {
        let k = FakeKernel::new();
        k.run(&Command::new("ipset", ["restore"]).stdin(
            "create fw-allow-v4-next hash:net family inet maxelem 1024\nadd fw-allow-v4-next 198.51.100.10\n",
        ))
        .unwrap();
        apply(&k, Backend::Default, &ruleset()).unwrap();
        assert!(!k.sets()["fw-allow-v4"].members.contains("198.51.100.10/32"));
        assert!(!k.sets().contains_key("fw-allow-v4-next"));
    }

    /// A failure scripted at the first line of `text` starting with `prefix`, in ipset's words.
    fn fail_at_line(k: &FakeKernel, script: &SetScript, prefix: &str) {
        let n = script
            .text
            .lines()
            .position(|l| l.starts_with(prefix))
            .unwrap()
            + 1;
        k.fail(
            "ipset",
            &["restore"],
            1,
            &format!("ipset v7.17: Error in line {n}: boom"),
        );
    }

    #[test]
    fn the_set_steps_are_one_ipset_process_in_order() {
        let k = FakeKernel::new();
        let r = ruleset();
        apply_sets(&k, &r).unwrap();
        let calls = k.calls();
        assert_eq!(calls.len(), 1, "{:?}", k.call_lines());
        let text = calls[0].stdin.clone().unwrap();
        let first = |prefix: &str| text.lines().position(|l| l.starts_with(prefix)).unwrap();
        assert!(first("create fw-allow-v4 ") < first("destroy fw-allow-v4-next"));
        assert!(first("destroy fw-allow-v4-next") < first("create fw-allow-v4-next"));
        assert!(first("add fw-allow-v4-next") < first("swap fw-allow-v4-next fw-allow-v4"));
        assert!(first("swap fw-allow-v6-next fw-allow-v6") < text.lines().count() - 2);
        assert_eq!(
            text.lines().rev().take(2).collect::<Vec<_>>(),
            ["destroy fw-allow-v6-next", "destroy fw-allow-v4-next"]
        );
    }

    #[test]
    fn each_failure_names_its_step_and_keeps_the_previous_tables() {
        let script = SetScript::new(&ruleset());
        type Arrange<'a> = Box<dyn Fn(&FakeKernel) + 'a>;
        let cases: Vec<(&str, Arrange, ApplyStep)> = vec![
            (
                "live set create",
                Box::new(|k| fail_at_line(k, &script, "create fw-allow-v4 ")),
                ApplyStep::CreateSets,
            ),
            (
                "leftover destroy",
                Box::new(|k| fail_at_line(k, &script, "destroy fw-allow-v6-next")),
                ApplyStep::LoadSets,
            ),
            (
                "load",
                Box::new(|k| fail_at_line(k, &script, "add fw-allow-v6-next")),
                ApplyStep::LoadSets,
            ),
            (
                "swap",
                Box::new(|k| fail_at_line(k, &script, "swap fw-allow-v6-next")),
                ApplyStep::SwapSets,
            ),
            (
                "ipset cannot start",
                Box::new(|k| k.fail("ipset", &["restore"], 2, "boom")),
                ApplyStep::CreateSets,
            ),
            (
                "iptables-restore",
                Box::new(|k| k.fail("iptables-restore", &[], 2, "boom")),
                ApplyStep::RestoreIpv4,
            ),
            (
                "ip6tables-restore",
                Box::new(|k| k.fail("ip6tables-restore", &[], 2, "boom")),
                ApplyStep::RestoreIpv6,
            ),
        ];
        for (name, arrange, step) in cases {
            let k = FakeKernel::new();
            arrange(&k);
            let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
            assert_eq!(err.step, step, "{name}");
            assert!(err.to_string().contains("boom"), "{name}: {err}");
            if step != ApplyStep::RestoreIpv6 {
                assert_eq!(
                    k.save("nft", false),
                    "",
                    "{name}: the IPv4 tables changed after {step}"
                );
            }
        }
    }

    #[test]
    fn a_real_failure_is_placed_by_its_line() {
        // A live set of another type is there: its create line fails, in the fake as in ipset.
        let k = FakeKernel::new();
        k.run(
            &Command::new("ipset", ["restore"]).stdin("create fw-allow-v4 hash:ip family inet\n"),
        )
        .unwrap();
        let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
        assert_eq!(err.step, ApplyStep::CreateSets, "{err}");
        assert!(err.to_string().contains("Error in line 1"), "{err}");
    }

    #[test]
    fn an_ipset_that_does_not_forgive_a_missing_leftover_gets_the_line_skipped() {
        let k = FakeKernel::new();
        let script = SetScript::new(&ruleset());
        for prefix in ["destroy fw-allow-v4-next", "destroy fw-allow-v6-next"] {
            let n = script.text.lines().position(|l| l == prefix).unwrap() + 1;
            k.fail_once(
                "ipset",
                &["restore"],
                1,
                &format!(
                    "ipset v6.38: Error in line {n}: The set with the given name does not exist"
                ),
            );
        }
        apply_sets(&k, &ruleset()).unwrap();
        let calls = k.calls();
        assert_eq!(calls.len(), 3, "{:?}", k.call_lines());
        let last = calls[2].stdin.clone().unwrap();
        assert!(last.contains("# no leftover: destroy fw-allow-v4-next\n"));
        assert!(last.contains("# no leftover: destroy fw-allow-v6-next\n"));
        assert!(k.sets()["fw-allow-v4"].members.contains("192.0.2.128/26"));
        // The same message at any other line is a failure, not a retry.
        let k = FakeKernel::new();
        k.fail(
            "ipset",
            &["restore"],
            1,
            "ipset v6.38: Error in line 1: The set with the given name does not exist",
        );
        assert_eq!(
            apply_sets(&k, &ruleset()).unwrap_err().step,
            ApplyStep::CreateSets
        );
        assert_eq!(k.calls().len(), 1);
    }

    #[test]
    fn error_lines_are_read_from_ipset_messages() {
        assert_eq!(
            ipset_error_line("ipset v7.17: Error in line 12: Syntax error"),
            Some(12)
        );
        assert_eq!(ipset_error_line("ipset v7.17: Error in line : x"), None);
        assert_eq!(ipset_error_line("Kernel error received"), None);
    }

    #[test]
    fn a_missing_ipset_is_named() {
        let k = FakeKernel::new();
        k.remove_tool("ipset");
        let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
        assert_eq!(err.step, ApplyStep::CreateSets);
        assert!(err.source.is_not_found());
    }

    #[test]
    fn safe_closed_needs_no_ipset_and_leaves_nat_alone() {
        let k = FakeKernel::new();
        k.preload("nft", false, "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\nCOMMIT\n").unwrap();
        k.remove_tool("ipset");
        let inputs = sample_inputs();
        let r = render_safe_closed(&SafeClosed::new(&inputs.subnets, &inputs.resolvers));
        apply_safe_closed(&k, Backend::Default, &r).unwrap();
        let saved = k.save("nft", false);
        assert!(saved.contains("-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT"));
        assert!(saved.contains(":OUTPUT DROP"));
    }

    #[test]
    fn backends_name_their_programs() {
        assert_eq!(
            Backend::Default.program(false, "restore"),
            "iptables-restore"
        );
        assert_eq!(
            Backend::Legacy.program(true, "save"),
            "ip6tables-legacy-save"
        );
        assert_eq!(Backend::Nft.program(false, "save"), "iptables-nft-save");
    }
}
