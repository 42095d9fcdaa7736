//! The `fw-cli init` sequence. See README.md ("The init sequence") for the reasons of each step.
//!
//! The lock is taken by the caller; from there on every failure leads to the safe closed
//! ruleset (unless `--fail-open` was given), one error naming the step and its cause, a
//! non-zero exit, and no marker.
//!
//! The network-facing steps (resolv.conf, netlink, DNS, the meta fetch, the proofs) go through
//! the [`World`] trait and the firewall tools through [`Tools`], so every failure point can be
//! scripted in unit tests.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use fw_core::apply::{self, ApplyError, Backend};
use fw_core::config::{Config, MetaSource, Profile, VerifyTargets};
use fw_core::conntrack;
use fw_core::exec::{Command, ExecError, Tools};
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::marker::{self, Marker, MarkerError, Place};
use fw_core::meta::MetaRanges;
use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::{self, Ruleset};
use fw_core::resolv::Resolvers;
use fw_core::validate::Domain;

use crate::docker::{self, DockerDnsFound};
use crate::exit;

/// What init needs from the world besides the firewall tools.
pub trait World {
    /// The configured resolvers (`/etc/resolv.conf`).
    fn resolvers(&self) -> Result<Resolvers>;
    /// The connected subnets (netlink).
    fn subnets(&self) -> impl Future<Output = Result<Vec<Subnet>>>;
    /// Resolves every name; failures are warnings inside the results.
    fn resolve(&self, domains: &[Domain]) -> impl Future<Output = Vec<Resolution>>;
    /// Fetches and validates the GitHub meta ranges.
    fn fetch_meta(&self, meta: &MetaSource) -> impl Future<Output = Result<MetaRanges>>;
    /// Runs both verification proofs; `Ok` carries a one-line summary of the evidence.
    fn verify(&self, targets: &VerifyTargets) -> impl Future<Output = Result<String>>;
    /// The boot and network namespace we run in.
    fn place(&self) -> Result<Place>;
}

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

/// The host of an `https://host[:port]/path` URL.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

struct Run<'a, W> {
    config: &'a Config,
    world: &'a W,
    tools: &'a dyn Tools,
    opts: &'a InitOptions,
    warnings: Vec<String>,
    timings: Vec<(String, Duration)>,
    subnets: Vec<Subnet>,
    resolvers: Resolvers,
}

impl<W: World> Run<'_, W> {
    fn timed<R>(&mut self, what: &str, start: Instant, r: R) -> R {
        self.timings.push((what.to_owned(), start.elapsed()));
        r
    }

    fn tool_missing(&self) -> Option<InitError> {
        for (tool, package) in REQUIRED_TOOLS {
            let probe = Command::new(tool, ["--version"]);
            if let Err(ExecError::NotFound { .. }) = self.tools.run(&probe) {
                return Some(InitError::MissingTool {
                    tool: (*tool).to_owned(),
                    package,
                });
            }
        }
        None
    }

    async fn gather(&mut self) -> Result<(Inputs, DockerDnsFound), InitError> {
        let t = Instant::now();
        match self.world.resolvers() {
            Ok(r) => self.resolvers = r,
            Err(e) => self
                .warnings
                .push(format!("cannot read the configured resolvers: {e:#}")),
        }
        self.subnets = self
            .world
            .subnets()
            .await
            .map_err(|cause| InitError::Gather {
                what: "the connected subnets",
                cause,
            })?;
        let docker = docker::gather(self.tools).map_err(|cause| InitError::Gather {
            what: "Docker's DNS rules",
            cause,
        })?;
        self.warnings.extend(docker.warnings.iter().cloned());
        self.timed("gather local state", t, ());

        // Names first: DNS is allowed under any ruleset of ours, so this works on a re-run.
        let t = Instant::now();
        let domains: Vec<Domain> = self
            .config
            .domains
            .iter()
            .map(|d| d.domain.clone())
            .collect();
        let meta_host: Option<Domain> =
            url_host(&self.config.meta.url).and_then(|h| h.parse().ok());
        let mut names = domains.clone();
        if let Some(h) = &meta_host
            && !names.contains(h)
        {
            names.push(h.clone());
        }
        let mut resolved = self.world.resolve(&names).await;
        self.timed("resolve names", t, ());

        // On a re-run, open the meta host's fresh addresses before the fetch, so that a GitHub
        // address that changed since the last run cannot fail it. Nothing else is opened.
        if let Some(h) = &meta_host {
            self.open_meta_host(h, &resolved);
        }
        resolved.retain(|r| domains.contains(&r.domain));

        let t = Instant::now();
        let meta = self.world.fetch_meta(&self.config.meta).await;
        let meta = self
            .timed("fetch meta", t, meta)
            .map_err(|cause| InitError::Gather {
                what: "the GitHub meta ranges",
                cause,
            })?;
        let inputs = Inputs {
            meta,
            resolved,
            subnets: self.subnets.clone(),
            docker_dns: docker.ours.clone(),
            resolvers: self.resolvers.clone(),
        };
        Ok((inputs, docker))
    }

    /// Adds the meta host's addresses to the live sets, when our sets are live.
    fn open_meta_host(&mut self, host: &Domain, resolved: &[Resolution]) {
        let Ok(list) = self.tools.run(&Command::new("ipset", ["list", "-n"])) else {
            return;
        };
        let live: Vec<&str> = list.stdout.lines().map(str::trim).collect();
        let Some(r) = resolved.iter().find(|r| &r.domain == host) else {
            return;
        };
        for a in &r.addrs {
            let set = if a.is_ipv4() {
                SET_ALLOW_V4
            } else {
                SET_ALLOW_V6
            };
            if !live.contains(&set) {
                continue;
            }
            let cmd = Command::new("ipset", ["-exist", "add", set, &a.to_string()]);
            if let Err(e) = self.tools.run(&cmd) {
                self.warnings
                    .push(format!("cannot open {host} ({a}) for the meta fetch: {e}"));
            }
        }
    }

    /// Deletes the conntrack entries of flows the strict policy forbids (SEQ-09).
    fn cut_forbidden_flows(&mut self, plan: &Plan) {
        for family in ["ipv4", "ipv6"] {
            let list = match self
                .tools
                .run(&Command::new("conntrack", ["-L", "-f", family]))
            {
                Ok(out) => out.stdout,
                Err(ExecError::NotFound { .. }) => {
                    self.warnings.push(
                        "conntrack is missing (Debian package conntrack): flows opened before init are cut by the rules only".to_owned(),
                    );
                    return;
                }
                Err(e) => {
                    self.warnings
                        .push(format!("cannot list tracked flows: {e}"));
                    continue;
                }
            };
            let flows = conntrack::parse_flows(&list);
            for flow in conntrack::forbidden(plan, &flows) {
                // A flow that ended meanwhile is gone already: not worth a warning.
                let _ = self
                    .tools
                    .run(&Command::new("conntrack", flow.delete_args()));
            }
        }
    }

    async fn run(&mut self) -> Result<Success, InitError> {
        if let Some(e) = self.tool_missing() {
            return Err(e);
        }
        marker::remove(&self.config.marker_path).map_err(InitError::StaleMarker)?;
        let (inputs, _docker) = self.gather().await?;

        let t = Instant::now();
        let plan = Plan::build(self.config, &inputs);
        self.warnings.extend(plan.warnings.iter().cloned());
        let ruleset = render::render(&plan);
        let applied = apply::apply(self.tools, self.opts.backend, &ruleset);
        self.timed("apply", t, applied).map_err(InitError::Apply)?;
        for e in apply::remove_temp_sets(self.tools) {
            self.warnings.push(format!("leftover temporary set: {e}"));
        }
        if plan.profile == Profile::Strict {
            let t = Instant::now();
            self.cut_forbidden_flows(&plan);
            self.timed("cut forbidden flows", t, ());
        }

        let t = Instant::now();
        let proof = self.world.verify(&self.config.verify).await;
        let proof = self.timed("verify", t, proof).map_err(InitError::Verify)?;

        let place = self.world.place().map_err(|cause| InitError::Gather {
            what: "the boot id and network namespace",
            cause,
        })?;
        let marker = Marker::new(&place, &ruleset, &self.opts.version);
        marker::write(&self.config.marker_path, &marker).map_err(InitError::Marker)?;
        Ok(Success {
            plan,
            marker,
            proof,
            warnings: std::mem::take(&mut self.warnings),
            timings: std::mem::take(&mut self.timings),
        })
    }

    fn close(&mut self) -> AfterFailure {
        if self.opts.fail_open {
            return AfterFailure::LeftAsIs;
        }
        let sc = SafeClosed::new(&self.subnets, &self.resolvers);
        let ruleset: Ruleset = render::render_safe_closed(&sc);
        match apply::apply_safe_closed(self.tools, self.opts.backend, &ruleset) {
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
        config,
        world,
        tools,
        opts,
        warnings: Vec::new(),
        timings: Vec::new(),
        subnets: Vec::new(),
        resolvers: Resolvers::default(),
    };
    match run.run().await {
        Ok(s) => Ok(s),
        Err(error) => {
            // The subnets and resolvers may not have been gathered yet (a missing tool fails
            // before gathering): gather what the safe closed ruleset needs, best effort, so the
            // Docker networks and DNS keep working.
            if run.subnets.is_empty()
                && let Ok(s) = world.subnets().await
            {
                run.subnets = s;
            }
            if run.resolvers == Resolvers::default()
                && let Ok(r) = world.resolvers()
            {
                run.resolvers = r;
            }
            // A failure after the marker was removed must not leave a marker behind.
            let _ = marker::remove(&config.marker_path);
            let after = run.close();
            Err(Failure {
                error,
                after,
                warnings: run.warnings,
            })
        }
    }
}
