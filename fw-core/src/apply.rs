//! Applying a rendered ruleset atomically, through the [`Tools`] seam.
//!
//! The order, and why:
//! 1. `ipset -exist restore` of the live sets' `create` lines: the rules reference the sets, so
//!    they must exist before the first `iptables-restore` (a no-op on a re-run).
//! 2. Destroy leftover temporary sets of an interrupted run (missing ones are fine).
//! 3. `ipset -exist restore` of the new allowlist into the temporary sets.
//! 4. `ipset swap` each temporary set with its live set: the kernel switches the content in one
//!    step, so a re-run never has a moment with an empty or half-loaded allowlist.
//! 5. Destroy the temporary sets (now holding the old content).
//! 6. One `iptables-restore` of filter, nat and mangle: one kernel transaction, so the old
//!    firewall is replaced by the new one with no open window and no DNS gap (SEQ-06, SEQ-07).
//!    If it fails the kernel keeps the old tables.
//! 7. One `ip6tables-restore` of filter.
//!
//! A failure at any step is an [`ApplyError`] naming the step and carrying the tool's command,
//! exit status and stderr; the caller then applies the safe closed ruleset.

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

/// Destroys a set if it exists; a set that does not exist is not an error.
fn destroy_if_present(tools: &dyn Tools, name: &str) -> Result<(), ExecError> {
    match tools.run(&Command::new("ipset", ["destroy", name])) {
        Ok(_) => Ok(()),
        Err(ExecError::Failed { stderr, .. }) if stderr.contains("does not exist") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes temporary sets left by an interrupted run. Errors are returned for the caller to
/// report; they never make a run fail on their own.
pub fn remove_temp_sets(tools: &dyn Tools) -> Vec<ExecError> {
    [SET_ALLOW_V4, SET_ALLOW_V6]
        .iter()
        .filter_map(|s| destroy_if_present(tools, &temp_set(s)).err())
        .collect()
}

fn restore(tools: &dyn Tools, backend: Backend, v6: bool, text: &str) -> Result<(), ExecError> {
    let cmd = Command::new(&backend.program(v6, "restore"), ["-w", XTABLES_WAIT_SECS]).stdin(text);
    tools.run(&cmd).map(|_| ())
}

/// Loads the allowlist into temporary sets and swaps them in (steps 1 to 5). On its own, this
/// is `fw-cli refresh`: the rules are untouched, the set contents change atomically.
pub fn apply_sets(tools: &dyn Tools, ruleset: &Ruleset) -> Result<(), ApplyError> {
    tools
        .run(&Command::new("ipset", ["-exist", "restore"]).stdin(ipset_live_sets()))
        .map_err(at(ApplyStep::CreateSets))?;
    // A leftover temporary set of another size would make the load fail: remove it first.
    if let Some(e) = remove_temp_sets(tools).into_iter().next() {
        return Err(at(ApplyStep::LoadSets)(e));
    }
    tools
        .run(&Command::new("ipset", ["-exist", "restore"]).stdin(ruleset.ipset.clone()))
        .map_err(at(ApplyStep::LoadSets))?;
    for live in [SET_ALLOW_V4, SET_ALLOW_V6] {
        let tmp = temp_set(live);
        tools
            .run(&Command::new("ipset", ["swap", tmp.as_str(), live]))
            .map_err(at(ApplyStep::SwapSets))?;
        destroy_if_present(tools, &tmp).map_err(at(ApplyStep::SwapSets))?;
    }
    Ok(())
}

/// Applies a whole firewall: sets first (swapped in atomically), then one restore per family.
pub fn apply(tools: &dyn Tools, backend: Backend, ruleset: &Ruleset) -> Result<(), ApplyError> {
    apply_sets(tools, ruleset)?;
    restore(tools, backend, false, &ruleset.iptables).map_err(at(ApplyStep::RestoreIpv4))?;
    restore(tools, backend, true, &ruleset.ip6tables).map_err(at(ApplyStep::RestoreIpv6))?;
    Ok(())
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
        assert!(pos("ipset swap") < pos("iptables-restore"));
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

    #[test]
    fn each_failure_names_its_step_and_keeps_the_previous_tables() {
        for (program, args, step) in [
            ("ipset", vec!["-exist", "restore"], ApplyStep::CreateSets),
            ("ipset", vec!["swap"], ApplyStep::SwapSets),
            ("iptables-restore", vec![], ApplyStep::RestoreIpv4),
            ("ip6tables-restore", vec![], ApplyStep::RestoreIpv6),
        ] {
            let k = FakeKernel::new();
            k.fail(program, &args, 2, "boom");
            let err = apply(&k, Backend::Default, &ruleset()).unwrap_err();
            assert_eq!(err.step, step, "{program} {args:?}");
            assert!(err.to_string().contains("exit status 2: boom"), "{err}");
            if step != ApplyStep::RestoreIpv6 {
                assert_eq!(
                    k.save("nft", false),
                    "",
                    "the IPv4 tables changed after {step}"
                );
            }
        }
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
