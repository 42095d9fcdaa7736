//! The `fw-cli init` sequence. See README.md ("The init sequence") for the reasons of each step.
//!
//! The lock is taken by the caller; from there on every failure leads to the safe closed
//! ruleset (unless `--fail-open` was given), one error naming the step and its cause, a
//! non-zero exit, and no marker.
//!
//! The network-facing steps (resolv.conf, netlink, DNS, the meta fetch, the proofs) go through
//! the [`World`] trait and the firewall tools through [`Tools`], so every failure point can be
//! scripted in unit tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use fw_core::apply::{self, ApplyError, Backend};
use fw_core::config::{Config, MetaSource, VerifyTargets};
use fw_core::conntrack;
use fw_core::exec::{Command, ExecError, Tools};
use fw_core::fetch_path::{self, FetchPath};
use fw_core::flow::Flow;
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::marker::{self, Marker, MarkerError, Place};
use fw_core::meta::MetaRanges;
use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::{self, Ruleset};
use fw_core::resolv::Resolvers;
use fw_core::validate::Domain;

use crate::docker::{self, DockerDnsFound};
use crate::{exit, system};

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
            if !self.tools.installed(tool) {
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
        // Docker before 25.0 does not list its upstreams: the DNS flows that appear while we
        // resolve through 127.0.0.11 show them (flows tracked before are someone else's).
        let unknown = self.resolvers.upstreams_unknown();
        let flows_before = if unknown {
            self.tracked_flows().ok()
        } else {
            None
        };
        let mut resolved = self.world.resolve(&names).await;
        self.timed("resolve names", t, ());
        if unknown {
            self.learn_dns_upstreams(flows_before.as_deref());
        }

        // On a re-run, open the meta host's fresh addresses before the fetch, so that a GitHub
        // address that changed since the last run cannot fail it; and where the rules in place
        // could block the fetch (the safe closed ruleset of a failed run, FAIL-10), a narrow
        // temporary path to those addresses, closed right after the fetch. Nothing else is
        // opened.
        let mut path = FetchPath::default();
        if let Some(h) = &meta_host {
            let t = Instant::now();
            self.open_meta_host(h, &resolved);
            path = self.open_fetch_path(h, &resolved);
            self.timed("open the meta host", t, ());
        }
        resolved.retain(|r| domains.contains(&r.domain));
        // Fail closed: a required domain that does not resolve is an error, an extra one a
        // warning (the plan's).
        let unresolved = self.config.required_unresolved(&resolved);
        if !unresolved.is_empty() {
            return Err(InitError::Gather {
                what: "the required domains",
                cause: anyhow::anyhow!(
                    "{} did not resolve: a firewall without a domain the seed requires is not \
                     applied",
                    unresolved.join(", ")
                ),
            });
        }

        let t = Instant::now();
        let meta = self.world.fetch_meta(&self.config.meta).await;
        let closed = path.close(self.tools, self.opts.backend);
        self.warnings.extend(closed);
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
            clean_slate: docker.clean_slate.clone(),
        };
        Ok((inputs, docker))
    }

    /// Adds the meta host's addresses to the live sets, in one `ipset -exist restore` that
    /// also creates the live sets when they are missing (empty; the apply step would create
    /// them anyway, and no rule of ours refers to them yet).
    fn open_meta_host(&mut self, host: &Domain, resolved: &[Resolution]) {
        let Some(r) = resolved.iter().find(|r| &r.domain == host) else {
            return;
        };
        if r.addrs.is_empty() {
            return;
        }
        let mut script = render::ipset_live_sets();
        for a in &r.addrs {
            let set = if a.is_ipv4() {
                SET_ALLOW_V4
            } else {
                SET_ALLOW_V6
            };
            script.push_str(&format!("add {set} {a}\n"));
        }
        let cmd = Command::new("ipset", ["-exist", "restore"]).stdin(script);
        if let Err(e) = self.tools.run(&cmd) {
            let shown: Vec<String> = r.addrs.iter().map(ToString::to_string).collect();
            self.warnings.push(format!(
                "cannot open {host} ({}) for the meta fetch: {e}",
                shown.join(", ")
            ));
        }
    }

    /// Opens a temporary path to the meta host's addresses through rules that could block the
    /// fetch ([`fetch_path`]); failures are warnings (the fetch then meets the rules as they
    /// are).
    fn open_fetch_path(&mut self, host: &Domain, resolved: &[Resolution]) -> FetchPath {
        let addrs = resolved
            .iter()
            .find(|r| &r.domain == host)
            .map(|r| r.addrs.clone())
            .unwrap_or_default();
        let port = reqwest::Url::parse(&self.config.meta.url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(443);
        let (path, warnings) = fetch_path::open(self.tools, self.opts.backend, &addrs, port);
        self.warnings.extend(warnings);
        path
    }

    /// The tracked flows ([`conntrack::dns_upstreams`] picks the DNS ones).
    fn tracked_flows(&self) -> Result<Vec<Flow>, ExecError> {
        Ok(self
            .tools
            .tracked_flows()?
            .into_iter()
            .map(|t| t.flow)
            .collect())
    }

    /// resolv.conf names only Docker's 127.0.0.11 and does not list its upstreams (engines
    /// before 25.0). Those engines forward from inside this namespace, so the lookups just made
    /// through 127.0.0.11 left tracked flows to the upstreams: DNS is allowed to exactly those.
    /// `before`: the flows tracked before our lookups, left out (a flow some process of the
    /// container opened to another resolver is not an upstream of Docker's).
    fn learn_dns_upstreams(&mut self, before: Option<&[Flow]>) {
        let subnets: Vec<ipnet::IpNet> = self.subnets.iter().map(|s| s.net).collect();
        let flows = match self.tracked_flows() {
            Ok(f) => f,
            Err(e) => {
                self.warnings.push(format!(
                    "resolv.conf does not list Docker's DNS upstreams and the tracked flows cannot be read ({e}): external names may not resolve through 127.0.0.11"
                ));
                return;
            }
        };
        let new: Vec<Flow> = flows
            .into_iter()
            .filter(|f| before.is_none_or(|b| !b.contains(f)))
            .collect();
        let learned = conntrack::dns_upstreams(&new, &subnets);
        if learned.is_empty() {
            self.warnings.push(
                "resolv.conf does not list Docker's DNS upstreams (no ExtServers comment) and none was seen in the tracked flows: external names may not resolve through 127.0.0.11".to_owned(),
            );
            return;
        }
        let shown: Vec<String> = learned.iter().map(ToString::to_string).collect();
        self.warnings.push(format!(
            "resolv.conf does not list Docker's DNS upstreams (no ExtServers comment, Docker before 25.0); DNS is allowed to the ones seen in the tracked flows: {}",
            shown.join(", ")
        ));
        for a in learned {
            if !self.resolvers.ext_servers.contains(&a) {
                self.resolvers.ext_servers.push(a);
            }
        }
    }

    /// Deletes the conntrack entries of flows the new policy forbids (SEQ-09): one listing of
    /// both families, then one deletion per forbidden flow, over netlink in production
    /// ([`crate::system::ctnetlink`]; a `conntrack -L` walks the kernel's whole table, for every namespace
    /// of the machine, and a process start costs milliseconds: docs/benchmarks.md).
    fn cut_forbidden_flows(&mut self, plan: &Plan) {
        let tracked = match self.tools.tracked_flows() {
            Ok(t) => t,
            Err(ExecError::NotFound { .. }) => {
                self.warnings.push(
                    "conntrack is missing (Debian package conntrack): flows opened before init are cut by the rules only".to_owned(),
                );
                return;
            }
            Err(e) => {
                self.warnings.push(format!(
                    "cannot list tracked flows ({e}): flows opened before init are cut by the rules only"
                ));
                return;
            }
        };
        for e in self
            .tools
            .delete_flows(&conntrack::forbidden(plan, &tracked))
        {
            self.warnings
                .push(format!("cannot cut a flow the new policy forbids: {e}"));
        }
    }

    async fn run(&mut self) -> Result<Success, InitError> {
        let t = Instant::now();
        let missing = self.tool_missing();
        self.timed("check the tools", t, ());
        if let Some(e) = missing {
            return Err(e);
        }
        system::marker::remove(&self.config.marker_path).map_err(InitError::StaleMarker)?;
        let (inputs, _docker) = self.gather().await?;

        let t = Instant::now();
        let plan = Plan::build(self.config, &inputs);
        self.warnings.extend(plan.warnings.iter().cloned());
        let ruleset = Arc::new(render::render(&plan));
        self.timed("plan and render", t, ());
        // The marker's hash of the ruleset (milliseconds at 100,000 entries) is computed while
        // the restores run.
        let hashing = {
            let r = Arc::clone(&ruleset);
            std::thread::spawn(move || marker::ruleset_hash(&r))
        };
        let t = Instant::now();
        let applied = apply::apply_sets(self.tools, &ruleset);
        self.timed("apply: sets", t, applied)
            .map_err(InitError::Apply)?;
        for (v6, what) in [(false, "apply: IPv4 rules"), (true, "apply: IPv6 rules")] {
            let t = Instant::now();
            let applied = apply::apply_rules(self.tools, self.opts.backend, &ruleset, v6);
            self.timed(what, t, applied).map_err(InitError::Apply)?;
        }
        // Both profiles: a flow the new policy forbids must not live on through conntrack.
        let t = Instant::now();
        self.cut_forbidden_flows(&plan);
        self.timed("cut forbidden flows", t, ());

        let t = Instant::now();
        let proof = self.world.verify(&self.config.verify).await;
        let proof = self.timed("verify", t, proof).map_err(InitError::Verify)?;

        let place = self.world.place().map_err(|cause| InitError::Gather {
            what: "the boot id and network namespace",
            cause,
        })?;
        let t = Instant::now();
        let hash = hashing
            .join()
            .unwrap_or_else(|_| marker::ruleset_hash(&ruleset));
        let marker = Marker::with_hash(&place, hash, &self.opts.version);
        let written = system::marker::write(&self.config.marker_path, &marker);
        self.timed("write the marker", t, written)
            .map_err(InitError::Marker)?;
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
            let _ = system::marker::remove(&config.marker_path);
            let after = run.close();
            Err(Failure {
                error,
                after,
                warnings: run.warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests;
