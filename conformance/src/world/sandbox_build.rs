//! Building a scenario's sandbox: the topology, the zone the mocks serve, the mocks, the peers,
//! the container's files, then the baseline and the positive controls that prove the world
//! before the implementation runs.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use fw_testkit::plan::{
    API_HOST, API_HOST_OUTSIDE, API_HOST_REFUSING, API_HOST_V6, BLOCKED, CNAME_FINAL_ADDRS,
    DOCKER_DNS, EXAMPLE_ALLOWLISTED, EXTRA_OK, GATEWAYS, HIGH_PORT, NPM_ADDRS, PEER_PORT, REQUIRED,
    REQUIRED_AAAA, SVC, UDP_ECHO_PORT, UNCONFIGURED_RESOLVER, WEB_HOST, WORLD_RESOLVER,
    WORLD_TCP_PORTS, WORLD_UDP_PORTS, sa,
};

use crate::world::docker::{DockerBox, DockerFiles, DockerOptions};
use crate::world::iut::{ContainerFiles, ContainerFs};
use crate::world::mocks::dns::{Zone, start_dns_shared};
use crate::world::mocks::docker_dns::{self, DockerDnsVariant};
use crate::world::mocks::hosts::{HostsOptions, start_hosts};
use crate::world::mocks::https::{TestCa, start_https};
use crate::world::mocks::inbound::start_inbound;
use crate::world::mocks::raw::start_raw_observer;
use crate::world::netns::{Netns, Service};
use crate::world::options::SuiteOptions;
use crate::world::probe;
use crate::world::sandbox::{Container, Sandbox, https_options};
use crate::world::scenario::{
    CNAME_FINAL, CNAME_MID, DnsVariant, EXTRA_CNAME, EXTRA_NXDOMAIN, EXTRA_SERVFAIL, ExampleCom,
    Meta, Prior, REQUIRED_UNRESOLVABLE, Scenario, Tier,
};
use crate::world::topology::{Topology, TopologyOptions};

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

/// The namespaces and the container of the tier: in the netns tier a built topology and the
/// container's files under a private mount namespace; in the Docker tier real Docker containers
/// with the world attached.
fn topology_and_container(
    scenario: &Scenario,
    opts: &SuiteOptions,
    ca: &TestCa,
) -> Result<(Topology, Container)> {
    let npmrc = format!("registry=https://{}/\n", opts.npm_host);
    Ok(match opts.tier {
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
    })
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
        let (topo, container) = topology_and_container(scenario, opts, &ca)?;
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
}
