//! One scenario's live sandbox: the topology, the mocks, the container's files, and what a
//! check or a campaign can do with it. It is built in [`crate::world::sandbox_build`], and the
//! implementation runs in it through [`crate::world::sandbox_run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;

use crate::world::docker::DockerBox;
use crate::world::iut::{ContainerFs, IutRun, RunSpec, run_iut};
use crate::world::mocks::docker_dns::{self, DockerDns, DockerDnsVariant};
use crate::world::mocks::hosts::Hosts;
use crate::world::mocks::https::{HttpsOptions, HttpsServer, MetaBehaviour, TestCa, start_https};
use crate::world::mocks::inbound::Inbound;
use crate::world::mocks::raw::RawObserver;
use crate::world::netns::Service;
use crate::world::scenario::{ExampleCom, Meta, Scenario, extra_domains_env};
use crate::world::topology::Topology;

use crate::world::options::SuiteOptions;

/// Where the implementation runs, and how.
#[derive(Debug)]
pub enum Container {
    /// In the container namespace, under a private mount namespace over these files.
    Netns(ContainerFs),
    /// In a real Docker container.
    Docker(DockerBox),
}

/// Tag of the stale rules SEQ-03 plants.
pub const STALE_TAG: &str = "fwt-stale";

/// FAIL-04 requires a failure within 60 s: its scenario's run is stopped just past that.
pub const FAIL04_LIMIT: Duration = Duration::from_secs(61);
pub const STALE_CHAIN: &str = "FWT_STALE";

/// A live sandbox.
#[derive(Debug)]
pub struct Sandbox {
    pub scenario: Scenario,
    pub topo: Topology,
    pub container: Container,
    /// Docker's own embedded-DNS nat rules as the daemon wrote them (Docker tier).
    pub(crate) docker_nat_before: Option<docker_dns::NatState>,
    pub ca_pem: String,
    pub npm_host: String,
    pub(crate) ca: Arc<TestCa>,
    pub(crate) world_dns: crate::world::mocks::dns::DnsServer,
    pub(crate) docker: Option<DockerDns>,
    pub(crate) https: Mutex<Option<HttpsServer>>,
    pub(crate) hosts: Hosts,
    pub(crate) _peers: Vec<Service>,
    /// The container had IPv6 loopback (`[::1]`) before the implementation ran (ALW-03).
    pub loopback_v6: bool,
    /// POL-03's positive control, before the implementation ran
    /// ([`crate::world::controls::prove_forwarding`]): `Ok(evidence)`, `Err(why not)` (the Docker
    /// tier only: in the netns tier the sandbox fails to build), `None` when not made.
    pub forwarding: Option<Result<String, String>>,
    /// The seed of the spreads probed here (the run's).
    pub seed: u64,
    /// What reaches the world over raw protocols (ICMP echo, SCTP, GRE).
    pub(crate) world_raw: RawObserver,
    /// The container's inbound listeners.
    pub(crate) inbound: Inbound,
}

pub(crate) fn meta_behaviour(m: &Meta) -> MetaBehaviour {
    match m {
        Meta::Realistic | Meta::Refused => MetaBehaviour::Realistic,
        Meta::InvalidJson => MetaBehaviour::InvalidJson,
        Meta::MissingKey => MetaBehaviour::MissingKey,
        Meta::EmptyBody => MetaBehaviour::EmptyBody,
        Meta::Status500 => MetaBehaviour::Status500,
        Meta::RateLimited403 => MetaBehaviour::RateLimited403,
        Meta::AcceptAndHang => MetaBehaviour::AcceptAndHang,
        Meta::BadCidr(s) => MetaBehaviour::BadCidr(s.clone()),
        Meta::Scaled(n) => MetaBehaviour::Scaled(*n),
    }
}

impl Sandbox {
    /// Whether the container has a marker: an entry at the marker's path, looked at without
    /// following it (a symlink the implementation planted there would otherwise lead to the
    /// machine's files).
    pub fn marker_present(&self) -> bool {
        std::fs::symlink_metadata(self.marker_path()).is_ok()
    }

    pub fn marker_path(&self) -> PathBuf {
        self.container_tmp().join(".firewall-init-done")
    }

    /// The container's `/tmp`, as the harness sees it.
    pub fn container_tmp(&self) -> PathBuf {
        match &self.container {
            Container::Netns(fs) => fs.tmp().to_path_buf(),
            Container::Docker(d) => d.host_path("/tmp"),
        }
    }

    /// Runs a spec in the container, whichever tier.
    pub fn run_in_container(&self, spec: &RunSpec) -> Result<IutRun> {
        match &self.container {
            Container::Netns(fs) => run_iut(&self.topo.container, fs, spec),
            Container::Docker(d) => d.run(spec),
        }
    }

    /// The requests the world's HTTPS responder read for `host` so far (by Host header, else
    /// SNI), the harness's own probes included (they ask for `/`).
    pub fn https_requests_to(&self, host: &str) -> Vec<crate::world::mocks::https::HttpsRequest> {
        self.https
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|h| h.requests_to(host)))
            .unwrap_or_default()
    }

    /// Whether a datagram with this payload reached the world.
    pub fn udp_arrived(&self, payload: &[u8]) -> bool {
        self.hosts.udp_arrivals().iter().any(|a| a.bytes == payload)
    }

    /// Problems with Docker's DNS rules after the run (SEQ-01, SEQ-02).
    pub fn docker_rules_problems(&self) -> Result<Vec<String>> {
        if let Some(before) = &self.docker_nat_before {
            let now =
                docker_dns::current_state(&self.topo.container, DockerDnsVariant::IptablesNft)?;
            return Ok(if now.holds(&before.targets) {
                Vec::new()
            } else {
                vec![format!(
                    "the rules Docker's daemon wrote are not all in place: want {:?} hooked, found {:?} (hooked: {})",
                    before.targets, now.targets, now.hooked
                )]
            });
        }
        let Some(d) = &self.docker else {
            return Ok(Vec::new());
        };
        Ok(if d.rules_present(&self.topo.container)? {
            Vec::new()
        } else {
            vec![format!(
                "Docker's DNS rules ({}) are not all in place: want {:?}",
                d.variant().name(),
                d.installed_targets()
            )]
        })
    }

    /// `iptables-save` (or another save program) in the container.
    pub fn iptables_save(&self, program: &str) -> Result<String> {
        let out = self.topo.container.exec_unchecked(program, &[])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The container's whole packet-filter state ([`crate::world::state`]).
    pub fn snapshot(&self) -> Result<crate::world::state::Snapshot> {
        crate::world::state::take(&self.topo.container)
    }

    /// Serves `meta` at api.github.com/meta from now on (the refresh test changes GitHub's
    /// ranges between two runs).
    pub fn serve_meta(&self, meta: MetaBehaviour) -> Result<()> {
        let mut guard = self
            .https
            .lock()
            .map_err(|_| anyhow::anyhow!("the HTTPS lock is poisoned"))?;
        // Stop the old one first: the new one binds the same port.
        guard.take();
        let mut o = https_options(&self.scenario, &self.ca, &self.scenario.meta);
        o.meta = meta;
        *guard = Some(start_https(&self.topo.world, o)?);
        Ok(())
    }

    /// Writes the marker into the container, as a previous success would have left it.
    /// Resolved beneath the container's /tmp (the netns tier) or root (Docker): a symlink in
    /// the marker's place (from the image, or left by an earlier run) must not lead the harness
    /// to a file of the machine.
    pub fn write_marker(&self, bytes: &[u8]) -> Result<()> {
        match &self.container {
            Container::Netns(fs) => std::fs::File::open(fs.tmp())
                .map_err(anyhow::Error::from)
                .and_then(|tmp| {
                    crate::world::docker::write_beneath(
                        std::os::fd::AsFd::as_fd(&tmp),
                        "/.firewall-init-done",
                        bytes,
                        0o644,
                    )
                }),
            Container::Docker(d) => d.write_file("/tmp/.firewall-init-done", bytes, 0o644),
        }
    }

    pub(crate) fn restart_https(&self, meta: &Meta) -> Result<()> {
        self.serve_meta(meta_behaviour(meta))
    }

    /// The implementation's run with `opts`' argv and time limit (FAIL-04's scenario: at most
    /// [`FAIL04_LIMIT`]); `measured`: under the
    /// scenario's hidden tools and capability bounds too.
    pub(crate) fn run_spec(&self, opts: &SuiteOptions, measured: bool) -> RunSpec {
        let mut spec = self.base_spec(opts.argv.clone());
        spec.timeout = opts.timeout;
        if self.scenario.meta == Meta::AcceptAndHang {
            // FAIL-04's own limit is 60 s: past it the outcome is decided.
            spec.timeout = spec.timeout.min(FAIL04_LIMIT);
        }
        // CAP-01 observes the capabilities the measured run really had.
        spec.watch_caps = measured && self.scenario.docker_caps;
        if measured {
            spec.hidden_tools = self
                .scenario
                .hidden_tools
                .iter()
                .map(|t| (*t).to_owned())
                .collect();
        }
        spec
    }

    /// Runs any command in the container the way the implementation runs (same environment,
    /// namespaces and files), for tests of other subcommands.
    pub fn run_command(&self, argv: &[String]) -> Result<crate::world::iut::IutRun> {
        self.run_in_container(&self.base_spec(argv.to_vec()))
    }

    /// [`Sandbox::run_command`] with a time limit, also watching the command's peak resident
    /// memory (benchmarks).
    pub fn run_command_watched(
        &self,
        argv: &[String],
        timeout: Duration,
    ) -> Result<crate::world::iut::IutRun> {
        let mut spec = self.base_spec(argv.to_vec());
        spec.watch_peak_rss = true;
        spec.timeout = timeout;
        self.run_in_container(&spec)
    }

    /// A run in this sandbox's environment: the npm registry and the extra domains.
    pub fn base_spec(&self, argv: Vec<String>) -> RunSpec {
        let mut spec = RunSpec::new(argv);
        spec.env = vec![
            (
                "NPM_CONFIG_REGISTRY".to_owned(),
                format!("https://{}/", self.npm_host),
            ),
            (
                "CSPACE_FIREWALL_DOMAINS".to_owned(),
                match &self.scenario.bench_domains {
                    Some(b) => b.names().join(" "),
                    None => extra_domains_env(),
                },
            ),
        ];
        spec
    }
}

pub(crate) fn https_options(s: &Scenario, ca: &Arc<TestCa>, meta: &Meta) -> HttpsOptions {
    let mut o = HttpsOptions::new(Arc::clone(ca));
    o.meta = meta_behaviour(meta);
    o.zen_rate_limited = s.zen_rate_limited;
    if s.example_com == ExampleCom::AllowlistedBadCert {
        o.untrusted_names = vec!["example.com".to_owned()];
    }
    if !s.dual_stack {
        o.bind.retain(SocketAddr::is_ipv4);
    }
    o
}
