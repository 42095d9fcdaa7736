//! The `fw-cli init` sequence. See README.md ("The init sequence") for the reasons of each step.
//!
//! The lock is taken by the caller; from there on every failure leads to the safe closed
//! ruleset (unless `--fail-open` was given), one error naming the step and its cause, a
//! non-zero exit, and no marker.
//!
//! The network-facing steps (resolv.conf, netlink, DNS, the meta fetch, the proofs) go through
//! fw-core's [`World`] trait and the firewall tools through its [`Tools`], so every failure
//! point can be scripted in unit tests (with fw-testkit's fakes).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde::Serialize;

use fw_core::apply::{self, ApplyError, Backend};
use fw_core::config::Config;
use fw_core::conntrack;
use fw_core::exec::{ExecError, Tools};
use fw_core::marker::{self, Marker, MarkerError};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::{self, Ruleset};
use fw_core::resolv::Resolvers;
pub use fw_core::world::World;

use crate::gather::{Gatherer, Purpose};
use crate::{exit, system};

/// Options of one init run.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// On failure, leave the rules as they are instead of applying the safe closed ruleset.
    pub fail_open: bool,
    pub backend: Backend,
    pub version: String,
}

/// The step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Preflight,
    StaleMarker,
    Gather,
    Apply,
    Verify,
    Marker,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Preflight => "preflight",
            Step::StaleMarker => "removing the stale marker",
            Step::Gather => "gathering inputs",
            Step::Apply => "applying the firewall",
            Step::Verify => "verification",
            Step::Marker => "writing the marker",
        })
    }
}

/// Why init failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{tool} is missing: install the Debian package {package}")]
    MissingTool { tool: String, package: &'static str },
    #[error("removing the stale marker: {0}")]
    StaleMarker(#[source] MarkerError),
    #[error("gathering {what}: {cause:#}")]
    Gather {
        what: &'static str,
        cause: anyhow::Error,
    },
    #[error("{0}")]
    Apply(#[source] ApplyError),
    #[error("verification failed: {0:#}")]
    Verify(anyhow::Error),
    #[error("writing the marker: {0}")]
    Marker(#[source] MarkerError),
}

impl InitError {
    pub fn step(&self) -> Step {
        match self {
            InitError::MissingTool { .. } => Step::Preflight,
            InitError::StaleMarker(_) => Step::StaleMarker,
            InitError::Gather { .. } => Step::Gather,
            InitError::Apply(_) => Step::Apply,
            InitError::Verify(_) => Step::Verify,
            InitError::Marker(_) => Step::Marker,
        }
    }

    /// The documented exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::MissingTool { .. } => exit::USAGE,
            InitError::Verify(_) => exit::VERIFY,
            _ => exit::FIREWALL,
        }
    }
}

/// What happened to the firewall after a failure.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "errors")]
pub enum AfterFailure {
    /// The safe closed ruleset is in place.
    SafeClosed,
    /// `--fail-open`: the rules were left as they were.
    LeftAsIs,
    /// Closing failed too; the errors say why.
    CloseFailed(Vec<String>),
}

/// A failed run.
#[derive(Debug)]
pub struct Failure {
    pub error: InitError,
    pub after: AfterFailure,
    pub warnings: Vec<String>,
}

/// A successful run.
#[derive(Debug, Serialize)]
pub struct Success {
    pub plan: Plan,
    pub marker: Marker,
    pub proof: String,
    pub warnings: Vec<String>,
    /// Wall time of each step, for reports (INF-01).
    pub timings: Vec<(String, Duration)>,
}

/// The Debian package of each tool init needs.
pub const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("iptables-restore", "iptables"),
    ("ip6tables-restore", "iptables"),
    ("ipset", "ipset"),
];

/// One run: the gathering (and what it learnt, which the safe closed ruleset needs after a
/// failure) and the options.
struct Run<'a, W> {
    g: Gatherer<'a, W>,
    opts: &'a InitOptions,
}

impl<W: World> Run<'_, W> {
    fn tool_missing(&self) -> Option<InitError> {
        for (tool, package) in REQUIRED_TOOLS {
            if !self.g.tools.installed(tool) {
                return Some(InitError::MissingTool {
                    tool: (*tool).to_owned(),
                    package,
                });
            }
        }
        None
    }

    /// The sequence: check the tools, remove the marker, gather, plan and render, apply (sets,
    /// then each family's rules), cut the flows the new policy forbids, verify, write the
    /// marker.
    async fn run(&mut self) -> Result<Success, InitError> {
        let t = Instant::now();
        let missing = self.tool_missing();
        self.g.timed("check the tools", t, ());
        if let Some(e) = missing {
            return Err(e);
        }
        let config = self.g.config;
        system::marker::remove(&config.marker_path).map_err(InitError::StaleMarker)?;
        let inputs = self.g.gather().await.map_err(|e| InitError::Gather {
            what: e.what,
            cause: e.cause,
        })?;

        let t = Instant::now();
        let plan = Plan::build(config, &inputs);
        self.g.warnings.extend(plan.warnings.iter().cloned());
        let ruleset = Arc::new(render::render(&plan));
        self.g.timed("plan and render", t, ());
        // The marker's hash of the ruleset (milliseconds at 100,000 entries) is computed while
        // the restores run.
        let hashing = {
            let r = Arc::clone(&ruleset);
            std::thread::spawn(move || marker::ruleset_hash(&r))
        };
        self.apply(&ruleset)?;
        // Both profiles: a flow the new policy forbids must not live on through conntrack.
        let t = Instant::now();
        self.cut_forbidden_flows(&plan);
        self.g.timed("cut forbidden flows", t, ());

        let t = Instant::now();
        let proof = self
            .g
            .world
            .verify(&config.verify)
            .await
            .map_err(anyhow::Error::from_boxed);
        let proof = self
            .g
            .timed("verify", t, proof)
            .map_err(InitError::Verify)?;

        let place = self.g.world.place().map_err(|cause| InitError::Gather {
            what: "the boot id and network namespace",
            cause: anyhow::Error::from_boxed(cause),
        })?;
        let t = Instant::now();
        let hash = hashing
            .join()
            .unwrap_or_else(|_| marker::ruleset_hash(&ruleset));
        let marker = Marker::with_hash(&place, hash, &self.opts.version, SystemTime::now());
        let written = system::marker::write(&config.marker_path, &marker);
        self.g
            .timed("write the marker", t, written)
            .map_err(InitError::Marker)?;
        Ok(Success {
            plan,
            marker,
            proof,
            warnings: std::mem::take(&mut self.g.warnings),
            timings: std::mem::take(&mut self.g.timings),
        })
    }

    /// The sets swapped in, then one restore per family ([`apply`]).
    fn apply(&mut self, ruleset: &Ruleset) -> Result<(), InitError> {
        let t = Instant::now();
        let applied = apply::apply_sets(self.g.tools, ruleset);
        self.g
            .timed("apply: sets", t, applied)
            .map_err(InitError::Apply)?;
        for (v6, what) in [(false, "apply: IPv4 rules"), (true, "apply: IPv6 rules")] {
            let t = Instant::now();
            let applied = apply::apply_rules(self.g.tools, self.opts.backend, ruleset, v6);
            self.g.timed(what, t, applied).map_err(InitError::Apply)?;
        }
        Ok(())
    }

    /// Deletes the conntrack entries of flows the new policy forbids (SEQ-09): one listing of
    /// both families, then one deletion per forbidden flow, over netlink in production
    /// ([`crate::system::ctnetlink`]; a `conntrack -L` walks the kernel's whole table, for every
    /// namespace of the machine, and a process start costs milliseconds: docs/benchmarks.md).
    fn cut_forbidden_flows(&mut self, plan: &Plan) {
        let tracked = match self.g.tools.tracked_flows() {
            Ok(t) => t,
            Err(ExecError::NotFound { .. }) => {
                self.g.warnings.push(
                    "conntrack is missing (Debian package conntrack): flows opened before init are cut by the rules only".to_owned(),
                );
                return;
            }
            Err(e) => {
                self.g.warnings.push(format!(
                    "cannot list tracked flows ({e}): flows opened before init are cut by the rules only"
                ));
                return;
            }
        };
        for e in self
            .g
            .tools
            .delete_flows(&conntrack::forbidden(plan, &tracked))
        {
            self.g
                .warnings
                .push(format!("cannot cut a flow the new policy forbids: {e}"));
        }
    }

    /// After a failure: the safe closed ruleset, unless `--fail-open`.
    fn close(&mut self) -> AfterFailure {
        if self.opts.fail_open {
            return AfterFailure::LeftAsIs;
        }
        let sc = SafeClosed::new(&self.g.subnets, &self.g.resolvers);
        let ruleset: Ruleset = render::render_safe_closed(&sc);
        match apply::apply_safe_closed(self.g.tools, self.opts.backend, &ruleset) {
            Ok(()) => AfterFailure::SafeClosed,
            Err(errors) => {
                AfterFailure::CloseFailed(errors.iter().map(ToString::to_string).collect())
            }
        }
    }
}

/// Runs the init sequence (the caller holds the lock).
pub async fn init<W: World>(
    config: &Config,
    world: &W,
    tools: &dyn Tools,
    opts: &InitOptions,
) -> Result<Success, Failure> {
    let mut run = Run {
        g: Gatherer::new(config, world, tools, opts.backend, Purpose::Init),
        opts,
    };
    match run.run().await {
        Ok(s) => Ok(s),
        Err(error) => {
            // The subnets and resolvers may not have been gathered yet (a missing tool fails
            // before gathering): gather what the safe closed ruleset needs, best effort, so the
            // Docker networks and DNS keep working.
            if run.g.subnets.is_empty()
                && let Ok(s) = world.subnets().await
            {
                run.g.subnets = s;
            }
            if run.g.resolvers == Resolvers::default()
                && let Ok(r) = world.resolvers()
            {
                run.g.resolvers = r;
            }
            // A failure after the marker was removed must not leave a marker behind.
            let _ = system::marker::remove(&config.marker_path);
            let after = run.close();
            Err(Failure {
                error,
                after,
                warnings: run.g.warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests;
