//! One scenario's live sandbox: the topology, the mocks, the container's files, and the
//! implementation's run(s) in it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use fw_testkit::plan::{
    API_HOST, API_HOST_OUTSIDE, API_HOST_REFUSING, API_HOST_V6, BLOCKED, CNAME_FINAL_ADDRS,
    DOCKER_DNS, EXAMPLE_ALLOWLISTED, EXTRA_OK, GATEWAYS, HIGH_PORT, NPM_ADDRS, PEER_PORT, REQUIRED,
    REQUIRED_AAAA, STALE_NAT_TARGET, SVC, UDP_ECHO_PORT, UNCONFIGURED_RESOLVER, WEB_HOST,
    WORLD_RESOLVER, WORLD_TCP_PORTS, WORLD_UDP_PORTS, sa,
};

use crate::world::docker::{DockerBox, DockerFiles, DockerOptions};
use crate::world::iut::{ContainerFiles, ContainerFs, IutRun, RunSpec, run_iut};
use crate::world::mocks::dns::{Zone, start_dns_shared};
use crate::world::mocks::docker_dns::{self, DockerDns, DockerDnsVariant};
use crate::world::mocks::hosts::{Hosts, HostsOptions, start_hosts};
use crate::world::mocks::https::{HttpsOptions, HttpsServer, MetaBehaviour, TestCa, start_https};
use crate::world::mocks::raw::{RawObserver, start_raw_observer};
use crate::world::netns::{Netns, Service};
use crate::world::probe;
use crate::world::record::{LongLived, ProberResults, RunRecord};
use crate::world::scenario::{
    CNAME_FINAL, CNAME_MID, DnsVariant, EXTRA_CNAME, EXTRA_NXDOMAIN, EXTRA_SERVFAIL, ExampleCom,
    Meta, Prior, REQUIRED_UNRESOLVABLE, Scenario, Tier, extra_domains_env,
};
use crate::world::spread::control::{Inbound, start_inbound};
use crate::world::topology::{Topology, TopologyOptions};

/// What the whole run needs to know.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The implementation as the user gave it, for reports.
    pub implementation: String,
    /// The command to run, resolved.
    pub argv: Vec<String>,
    /// The npm registry host the container is configured with.
    pub npm_host: String,
    /// Time limit of one run.
    pub timeout: Duration,
    /// Scenarios in parallel.
    pub jobs: usize,
    /// Give every case its own sandbox (and implementation run) for each of its scenarios,
    /// instead of sharing one per scenario among the cases that name it. Slower; for when a
    /// case's verdict is suspected to depend on another's. The hanging meta's scenario is
    /// shared all the same (61 s of waiting per run; its cases only look).
    pub isolate: bool,
    /// Network namespaces, or real Docker containers.
    pub tier: Tier,
    /// The Docker tier's image (`repository:tag`).
    pub image: String,
    /// The seed of the run's spreads ([`crate::world::spread`]): `--seed` reproduces a run.
    pub seed: u64,
}

impl SuiteOptions {
    /// Options for `argv` with the defaults of `fw-conformance run`.
    pub fn new(implementation: &str, argv: Vec<String>) -> SuiteOptions {
        SuiteOptions {
            implementation: implementation.to_owned(),
            argv,
            npm_host: crate::world::scenario::NPM_HOST_DEFAULT.to_owned(),
            timeout: Duration::from_secs(180),
            jobs: default_jobs(),
            isolate: true,
            tier: Tier::Netns,
            image: crate::world::docker::DEFAULT_IMAGE.to_owned(),
            seed: crate::world::spread::fresh_seed(),
        }
    }
}

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
/// Scenarios run in parallel by default: twice the CPUs, 2 to 8. A sandbox mostly waits (on
/// the implementation, on probes); measured on 2 cores, fw-cli's catalog took 41.7 s with 2 and
/// 24.5 s with 4, a script that drops took 315 s with 2 and 156 s with 4 (docs/benchmarks.md).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8)
}

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
    docker_nat_before: Option<docker_dns::NatState>,
    pub ca_pem: String,
    pub npm_host: String,
    ca: Arc<TestCa>,
    pub(crate) world_dns: crate::world::mocks::dns::DnsServer,
    docker: Option<DockerDns>,
    https: Mutex<Option<HttpsServer>>,
    hosts: Hosts,
    _peers: Vec<Service>,
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

/// The zone every scenario serves, adjusted for the scenario.
fn zone(s: &Scenario, npm_host: &str) -> Zone {
    let mut z = Zone::builder().a(npm_host, NPM_ADDRS.iter().copied());
    for (d, addrs) in REQUIRED {
        if s.required_unresolvable && *d == REQUIRED_UNRESOLVABLE {
            z = z.nxdomain(d);
            continue;
        }
        z = z.a(d, addrs.iter().copied());
    }
    for (d, a) in REQUIRED_AAAA {
        z = z.aaaa(d, [*a]);
    }
    for (d, addrs) in EXTRA_OK {
        z = z.a(d, addrs.iter().copied());
    }
    z = z
        .nxdomain(EXTRA_NXDOMAIN)
        .servfail(EXTRA_SERVFAIL)
        .cname(EXTRA_CNAME, CNAME_MID)
        .cname(CNAME_MID, CNAME_FINAL)
        .a(CNAME_FINAL, CNAME_FINAL_ADDRS.iter().copied());
    let api = if s.api_github_outside {
        API_HOST_OUTSIDE
    } else if s.meta == Meta::Refused {
        API_HOST_REFUSING
    } else {
        API_HOST
    };
    z = z.a("api.github.com", [api]);
    if !s.api_github_outside {
        z = z.aaaa("api.github.com", [API_HOST_V6]);
    }
    z = z.a("github.com", [WEB_HOST]);
    if let Some(b) = &s.bench_domains {
        let delay = Duration::from_millis(b.delay_ms);
        for name in b.names() {
            z = z.slow(&name, delay);
        }
    }
    let example = match s.example_com {
        ExampleCom::Blocked => BLOCKED,
        ExampleCom::Allowlisted | ExampleCom::AllowlistedBadCert => EXAMPLE_ALLOWLISTED,
    };
    z.a("example.com", [example]).build()
}

fn meta_behaviour(m: &Meta) -> MetaBehaviour {
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

/// A TCP echo listener on `PEER_PORT` in a namespace (the container, the sidecar, the host),
/// on every address of it.
fn peer_listener(ns: &Netns, dual: bool) -> Result<Service> {
    let mut binds = vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, PEER_PORT))];
    if dual {
        binds.push(SocketAddr::from((Ipv6Addr::UNSPECIFIED, PEER_PORT)));
    }
    peer_listener_on(ns, binds)
}

/// A TCP echo listener on `PEER_PORT` on the given addresses.
fn peer_listener_on(ns: &Netns, binds: Vec<SocketAddr>) -> Result<Service> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<()>>();
    let svc = ns.spawn_service("peer", move |stop| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut listeners = Vec::new();
        for b in binds {
            // The IPv6 socket is v6-only, so 0.0.0.0 and [::] share the port.
            let l = (|| -> std::io::Result<tokio::net::TcpListener> {
                let s = socket2::Socket::new(
                    socket2::Domain::for_address(b),
                    socket2::Type::STREAM,
                    None,
                )?;
                s.set_reuse_address(true)?;
                if b.is_ipv6() {
                    s.set_only_v6(true)?;
                }
                s.bind(&b.into())?;
                s.listen(128)?;
                s.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(s.into())
            })();
            match l {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    let _ = tx.send(Err(anyhow::anyhow!("cannot listen on {b}: {e}")));
                    return;
                }
            }
        }
        let _ = tx.send(Ok(()));
        let serve = futures::future::join_all(listeners.into_iter().map(|l| async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }));
        tokio::select! {
            _ = stop => {}
            _ = serve => {}
        }
    })?;
    rx.recv_timeout(Duration::from_secs(10))
        .context("the peer listener did not start")??;
    Ok(svc)
}

impl Sandbox {
    /// Builds the world of a scenario and checks that every target answers before the
    /// implementation runs (so that any later "blocked" is the firewall's doing).
    pub fn build(scenario: &Scenario, opts: &SuiteOptions) -> Result<Sandbox> {
        if let Some(why) = scenario.not_in(opts.tier) {
            bail!(
                "scenario {} cannot run in the {} tier: {why}",
                scenario.name,
                opts.tier.name()
            );
        }
        let ca = Arc::new(TestCa::new("sandbox")?);
        let npmrc = format!("registry=https://{}/\n", opts.npm_host);
        let (topo, container) = match opts.tier {
            Tier::Netns => {
                let topo = Topology::build(&TopologyOptions {
                    dual_stack: scenario.dual_stack,
                })
                .context("building the topology")?;
                let resolv_conf = match scenario.dns {
                    DnsVariant::None => format!("nameserver {WORLD_RESOLVER}\n"),
                    // As Docker 25+ writes it for `--dns` with the world resolver (the Docker
                    // tier's option): an upstream given so is queried from inside the container
                    // (a plain ExtServers entry), which the embedded DNS emulation does.
                    _ => format!(
                        "# Generated by Docker Engine.\nnameserver {DOCKER_DNS}\noptions ndots:0\n\n# Based on host file: '/etc/resolv.conf' (internal resolver)\n# ExtServers: [{WORLD_RESOLVER}]\n# Overrides: [nameservers]\n"
                    ),
                };
                let fs = ContainerFs::new(&ContainerFiles {
                    resolv_conf,
                    ca_bundle_pem: ca.ca_pem().to_owned(),
                    npmrc,
                })?;
                (topo, Container::Netns(fs))
            }
            Tier::Docker => {
                let dbox = DockerBox::start(
                    &DockerOptions {
                        image: opts.image.clone(),
                        dns: WORLD_RESOLVER.to_string(),
                    },
                    &DockerFiles {
                        ca_bundle_pem: ca.ca_pem().to_owned(),
                        npmrc,
                    },
                )
                .context("starting the Docker containers")?;
                let topo = Topology::docker(dbox.pid, dbox.sidecar_pid)
                    .context("attaching the world to the Docker container")?;
                (topo, Container::Docker(dbox))
            }
        };
        let zone = Arc::new(zone(scenario, &opts.npm_host));
        let resolvers = [sa(WORLD_RESOLVER, 53), sa(UNCONFIGURED_RESOLVER, 53)];
        // Shared: the world's test hosts answer DNS on port 53 of every other address.
        let world_dns = start_dns_shared(
            &topo.world,
            resolvers.to_vec(),
            resolvers.to_vec(),
            zone.clone(),
        )
        .context("starting the world resolvers")?;
        let variant = match scenario.dns {
            DnsVariant::IptablesNft => DockerDnsVariant::IptablesNft,
            DnsVariant::IptablesLegacy => DockerDnsVariant::IptablesLegacy,
            DnsVariant::NftNative => DockerDnsVariant::NftNative,
            DnsVariant::None => DockerDnsVariant::None,
        };
        let docker = match opts.tier {
            Tier::Netns => docker_dns::install(&topo.container, variant, resolvers[0])
                .context("installing Docker's embedded DNS")?,
            Tier::Docker => None,
        };
        // A prior run sees a working meta (a failing one before FAIL-10's); the measured run
        // gets the scenario's behaviour.
        let first_meta = match scenario.prior {
            Prior::Firewalled => Meta::Realistic,
            Prior::FailedRun => crate::world::recovery::FIRST_META,
            Prior::Fresh | Prior::StaleRules | Prior::Planted => scenario.meta.clone(),
        };
        let https = start_https(&topo.world, https_options(scenario, &ca, &first_meta))
            .context("starting the HTTPS responder")?;
        let hosts = start_hosts(
            &topo.world,
            HostsOptions {
                tcp_ports: WORLD_TCP_PORTS.to_vec(),
                udp_ports: WORLD_UDP_PORTS.to_vec(),
                dual_stack: scenario.dual_stack,
                addrs: Vec::new(),
            },
        )
        .context("starting the world's test hosts")?;
        let world_raw = start_raw_observer(&topo.world, scenario.dual_stack)
            .context("starting the world's raw-packet observer")?;
        let inbound = start_inbound(&topo.container)?;
        // In the Docker tier the gateways are Docker's bridges in the machine's namespace: the
        // listener there binds the gateway addresses only, never the machine's others.
        let host_peer = match opts.tier {
            Tier::Netns => peer_listener(&topo.host, scenario.dual_stack)?,
            Tier::Docker => peer_listener_on(
                &topo.host,
                GATEWAYS.iter().map(|g| sa(*g, PEER_PORT)).collect(),
            )?,
        };
        let peers = vec![
            peer_listener(&topo.container, scenario.dual_stack)?,
            peer_listener(&topo.svc, false)?,
            host_peer,
        ];
        let docker_nat_before = match &container {
            Container::Docker(_) => {
                let state =
                    docker_dns::current_state(&topo.container, DockerDnsVariant::IptablesNft)?;
                if !state.hooked || state.targets.is_empty() {
                    bail!("the Docker daemon wrote no embedded-DNS rules in the container");
                }
                Some(state)
            }
            Container::Netns(_) => None,
        };
        let mut sb = Sandbox {
            scenario: scenario.clone(),
            ca_pem: ca.ca_pem().to_owned(),
            npm_host: opts.npm_host.clone(),
            topo,
            container,
            docker_nat_before,
            ca,
            world_dns,
            docker,
            https: Mutex::new(Some(https)),
            hosts,
            _peers: peers,
            loopback_v6: false,
            forwarding: None,
            seed: opts.seed,
            world_raw,
            inbound,
        };
        sb.baseline()
            .context("baseline (before the implementation ran)")?;
        crate::world::spread::control::prove(&sb)
            .context("baseline of the spreads (before the implementation ran)")?;
        Ok(sb)
    }

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

    /// Every kind of target answers before anything is applied; the positive controls of
    /// [`crate::world::controls`] hold.
    fn baseline(&mut self) -> Result<()> {
        self.loopback_v6 = crate::world::controls::loopback_v6_present(&self.topo.container)?;
        if !self.loopback_v6 && matches!(self.container, Container::Netns(_)) {
            bail!(
                "the container has no IPv6 loopback ([::1]), which a network namespace always has"
            );
        }
        self.forwarding = match &self.container {
            Container::Netns(_) => Some(Ok(crate::world::controls::prove_forwarding(&self.topo)?)),
            // Costs a connect time-out there (see `controls`): made where POL-03 is judged.
            Container::Docker(_) if crate::world::controls::judges_forwarding(&self.scenario) => {
                Some(
                    crate::world::controls::prove_forwarding(&self.topo)
                        .map_err(|e| format!("{e:#}")),
                )
            }
            Container::Docker(_) => None,
        };
        for target in [
            sa(BLOCKED, 80),
            sa(BLOCKED, HIGH_PORT),
            sa(WEB_HOST, 443),
            sa(SVC, PEER_PORT),
        ] {
            let v = self.topo.container.block_on(move || async move {
                probe::tcp_connect(target, probe::PROBE_TIMEOUT).await
            })??;
            if !v.is_connected() {
                bail!("{target} is unreachable before the implementation ran: {v}");
            }
        }
        let server = match self.scenario.dns {
            DnsVariant::None => sa(WORLD_RESOLVER, 53),
            _ => sa(DOCKER_DNS, 53),
        };
        let got = self.topo.container.block_on(move || async move {
            probe::dns_query(server, "api.anthropic.com", false, Duration::from_secs(3)).await
        })??;
        if !got.resolved() {
            bail!("DNS through {server} fails before the implementation ran: {got:?}");
        }
        let tag = format!("fwt-baseline-{}", crate::world::probe::rand_tag());
        let t = tag.clone();
        let target = sa(BLOCKED, UDP_ECHO_PORT);
        self.topo
            .container
            .block_on(move || async move { probe::udp_send(target, t.as_bytes()).await })??;
        std::thread::sleep(Duration::from_millis(200));
        if !self.udp_arrived(tag.as_bytes()) {
            bail!("a datagram to {target} did not arrive before the implementation ran");
        }
        Ok(())
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

    fn plant_stale_rules(&self) -> Result<()> {
        let c = &self.topo.container;
        c.exec(
            "iptables",
            &[
                "-I",
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "ACCEPT",
            ],
        )?;
        c.exec("iptables", &["-N", STALE_CHAIN])?;
        c.exec(
            "iptables",
            &[
                "-A",
                STALE_CHAIN,
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "ACCEPT",
            ],
        )?;
        c.exec(
            "iptables",
            &[
                "-t",
                "mangle",
                "-A",
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "MARK",
                "--set-mark",
                "7",
            ],
        )?;
        c.exec(
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "OUTPUT",
                "-d",
                &format!("{STALE_NAT_TARGET}/32"),
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "DNAT",
                "--to-destination",
                &BLOCKED.to_string(),
            ],
        )?;
        Ok(())
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

    /// Prepares the prior state, runs the implementation (with the scenario's probers and
    /// long-lived connections), and records what happened.
    pub fn execute(&self, opts: &SuiteOptions) -> Result<RunRecord> {
        let mut state_before = None;
        let mut observer_control = None;
        let mut prior_run = None;
        match self.scenario.prior {
            Prior::Fresh => {}
            Prior::FailedRun => prior_run = Some(crate::world::recovery::fail_first(self, opts)?),
            Prior::StaleRules => self.plant_stale_rules().context("planting stale rules")?,
            Prior::Planted => {
                crate::world::planted::plant(self).context("planting the prior state")?
            }
            Prior::Firewalled => {
                // SEQ-05's observer, proved on the fresh container before anything runs.
                observer_control = Some(
                    crate::world::state::observer_control(&self.topo.container)
                        .map_err(|e| format!("{e:#}")),
                );
                let first = self.run_in_container(&self.run_spec(opts, false))?;
                if !first.success() {
                    // The implementation failed where it must succeed: that run is the record.
                    return Ok(RunRecord {
                        prior_failed: true,
                        observer_control,
                        ..RunRecord::of(first)
                    });
                }
                state_before = Some(self.snapshot()?);
                if self.scenario.meta != Meta::Realistic {
                    self.restart_https(&self.scenario.meta)?;
                }
            }
        }
        if self.scenario.meta == Meta::Refused {
            self.topo.world.exec(
                "iptables",
                &[
                    "-I",
                    "INPUT",
                    "-d",
                    &API_HOST_REFUSING.to_string(),
                    "-p",
                    "tcp",
                    "--dport",
                    "443",
                    "-j",
                    "REJECT",
                    "--reject-with",
                    "tcp-reset",
                ],
            )?;
        }
        let long_lived = if self.scenario.long_lived {
            crate::world::controls::open_long_lived(&self.topo.container)?
        } else {
            LongLived::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let probers = self
            .scenario
            .probers
            .then(|| self.start_probers(Arc::clone(&stop)));
        let spec = self.run_spec(opts, true);
        let (iut, second) = if self.scenario.concurrent {
            std::thread::scope(|s| {
                let a = s.spawn(|| self.run_in_container(&spec));
                let b = s.spawn(|| self.run_in_container(&spec));
                let a = a
                    .join()
                    .map_err(|_| anyhow::anyhow!("a run thread panicked"))?;
                let b = b
                    .join()
                    .map_err(|_| anyhow::anyhow!("a run thread panicked"))?;
                Ok::<_, anyhow::Error>((a?, Some(b?)))
            })?
        } else {
            (self.run_in_container(&spec)?, None)
        };
        stop.store(true, Ordering::SeqCst);
        let probers = match probers {
            Some(h) => Some(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a prober panicked"))??,
            ),
            None => None,
        };
        let state_after = if self.scenario.prior == Prior::Firewalled {
            Some(self.snapshot()?)
        } else {
            None
        };
        Ok(RunRecord {
            iut,
            second,
            probers,
            state_before,
            state_after,
            observer_control,
            long_lived: std::cell::RefCell::new(long_lived),
            prior_failed: false,
            prior_run,
            opts: Some(opts.clone()),
        })
    }

    /// Probers on a thread in the container: a DNS query to the configured resolver and a
    /// connect to a blocked host, every 10 ms, until `stop`.
    ///
    /// First, before this returns (so before the implementation starts), the positive
    /// control: one DNS query and one connect to the Docker peer, which must both succeed
    /// (a prober that cannot resolve or connect would count nothing worth counting). Its
    /// result is in [`ProberResults::control_dns`] and [`ProberResults::control_connect`].
    pub fn start_probers(
        &self,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Result<ProberResults>> {
        let server = match self.scenario.dns {
            DnsVariant::None => sa(WORLD_RESOLVER, 53),
            _ => sa(DOCKER_DNS, 53),
        };
        let path = self.topo.container.path();
        let name = self.topo.container.name().to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || -> Result<ProberResults> {
            crate::world::netns::enter_path(&path).with_context(|| format!("entering {name}"))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut r = ProberResults::default();
                let got =
                    probe::dns_query(server, "api.anthropic.com", false, Duration::from_secs(2))
                        .await?;
                r.control_dns = Some((!got.resolved()).then(|| format!("{got:?}")));
                let peer = sa(SVC, PEER_PORT);
                let v = probe::tcp_connect(peer, Duration::from_secs(2)).await?;
                r.control_connect = Some((!v.is_connected()).then(|| v.to_string()));
                let _ = ready_tx.send(());
                while !stop.load(Ordering::SeqCst) {
                    let got = probe::dns_query(
                        server,
                        "api.anthropic.com",
                        false,
                        Duration::from_millis(500),
                    )
                    .await?;
                    r.dns_queries += 1;
                    if !got.resolved() {
                        r.dns_failures += 1;
                        if r.first_dns_failure.is_empty() {
                            r.first_dns_failure = format!("{got:?}");
                        }
                    }
                    let v =
                        probe::tcp_connect(sa(BLOCKED, 443), Duration::from_millis(200)).await?;
                    r.blocked_attempts += 1;
                    if v.is_connected() {
                        r.blocked_connected += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(r)
            })
        });
        // The control's two probes take milliseconds; a prober that failed before them has
        // dropped the sender, and its error comes out of the join.
        let _ = ready_rx.recv_timeout(Duration::from_secs(10));
        handle
    }
}

fn https_options(s: &Scenario, ca: &Arc<TestCa>, meta: &Meta) -> HttpsOptions {
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
