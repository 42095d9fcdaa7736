//! The namespaces, links and routes of one sandbox, built from the address plan
//! ([`fw_testkit::plan`]).
//!
//! ```text
//!  world ── eth0 ═══ wan0 ── host ── br-a ═══ eth0 ── container ── eth1 ═══ br-b ── host
//!                                                                             br-b ═══ eth0 ── svc
//! ```
//!
//! - **world** ("the internet") answers for every address, IPv4 and IPv6, through a *local
//!   default route* on its loopback (AnyIP; this kernel has no dummy links): a socket bound to
//!   `0.0.0.0:PORT` or `[::]:PORT` there answers for any destination at once, so a probe of an
//!   arbitrary address (another /8, the next /24 of an allowed range, the metadata address)
//!   that the container's firewall lets through is a connection, never a timeout. Only the
//!   Docker networks themselves, and host's end of the transfer link, are routed back through
//!   host ([`world_answers_everywhere`]).
//! - **host** ("the Docker host") forwards, and is the gateway of net A and net B, each a bridge
//!   (as Docker's are), so a case can attach more peers to either.
//! - **container** is where the IUT runs; **svc** is a sidecar on net B.
//!
//! There is no NAT on host: world reaches the container's addresses directly, so an inbound check
//! (POL-04) observes the container's own firewall and nothing else.
//!
//! Every command names one of the sandbox's own namespaces: veth pairs are created inside a
//! namespace with their peer placed directly in another, never in the machine's namespace.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fw_testkit::plan::{
    BRIDGE_A, BRIDGE_B, CLOSED_PORT, CONTAINER_A, CONTAINER_A_IF, CONTAINER_A_V6, CONTAINER_B,
    CONTAINER_B_IF, DOCKER_NETS_V4, DOCKER_WAN_IF, HOST_PORT_A_CTR, HOST_PORT_B_CTR,
    HOST_PORT_B_SVC, HOST_WAN_IF, NET_A, NET_A_GATEWAY, NET_A_V6, NET_A_V6_GATEWAY, NET_B,
    NET_B_GATEWAY, SVC, SVC_IF, TRANSFER_HOST, TRANSFER_HOST_V6, TRANSFER_V4, TRANSFER_V6,
    TRANSFER_WORLD, TRANSFER_WORLD_V6, WORLD_IF, WORLD_PROBE_V4, WORLD_PROBE_V6,
};

use crate::world::netns::Netns;

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// What to build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopologyOptions {
    /// Also give net A and the world link global IPv6 (the dual-stack scenarios).
    pub dual_stack: bool,
}

/// One sandbox's namespaces. Dropping it deletes them all (and with them every link, bridge
/// and route), host and container last so that peers never outlive their links needlessly.
#[derive(Debug)]
pub struct Topology {
    pub world: Netns,
    pub host: Netns,
    pub container: Netns,
    pub svc: Netns,
    pub dual_stack: bool,
}

impl Topology {
    /// Builds the four namespaces, their links, addresses and routes, then checks every path a
    /// case relies on once (which also warms the neighbour caches, so first probes do not pay
    /// for address resolution).
    pub fn build(opts: &TopologyOptions) -> Result<Topology> {
        let world = Netns::create("world")?;
        let host = Netns::create("host")?;
        let container = Netns::create("ctr")?;
        let svc = Netns::create("svc")?;
        let t = Topology {
            world,
            host,
            container,
            svc,
            dual_stack: opts.dual_stack,
        };
        t.configure().context("cannot build the sandbox topology")?;
        t.warm().context("the sandbox topology does not route")?;
        Ok(t)
    }

    /// The Docker tier: world is created here; container and svc are the namespaces of real
    /// Docker containers (already on their networks, see [`crate::world::docker`]); host is the
    /// machine's own namespace, where Docker's bridges hold the gateways (sockets only).
    ///
    /// World is linked straight into the container by a veth ([`DOCKER_WAN_IF`], no address on
    /// the container's side, so no firewall takes it for a Docker network) and the container's
    /// default route moves onto it, source 172.18.0.2: every world address is reached there,
    /// and Docker's embedded resolver, which forwards from inside the container's namespace,
    /// reaches the world's resolver the same way.
    pub fn docker(container_pid: u32, svc_pid: u32) -> Result<Topology> {
        let world = Netns::create("world")?;
        let container = Netns::attach("dctr", container_pid)?;
        let svc = Netns::attach("dsvc", svc_pid)?;
        let host = Netns::machine()?;
        let t = Topology {
            world,
            host,
            container,
            svc,
            dual_stack: false,
        };
        t.configure_docker()
            .context("cannot attach the world to the Docker container")?;
        t.warm_docker()
            .context("the Docker sandbox does not route")?;
        Ok(t)
    }

    fn configure_docker(&self) -> Result<()> {
        let world = &self.world;
        let ctr = &self.container;
        veth(world, WORLD_IF, ctr, DOCKER_WAN_IF)?;
        addr(
            world,
            WORLD_IF,
            &format!("{TRANSFER_WORLD}/{}", TRANSFER_V4.prefix_len()),
        )?;
        up(world, WORLD_IF)?;
        up(ctr, DOCKER_WAN_IF)?;
        // Replies from world arrive on the unnumbered link: no reverse-path filtering there.
        write_sysctls(
            ctr,
            &[
                ("net/ipv4/conf/all/rp_filter", "0"),
                (&format!("net/ipv4/conf/{DOCKER_WAN_IF}/rp_filter"), "0"),
            ],
        )?;
        ctr.ip(&[
            "route",
            "replace",
            "default",
            "via",
            &TRANSFER_WORLD.to_string(),
            "dev",
            DOCKER_WAN_IF,
            "onlink",
            "src",
            &CONTAINER_A.to_string(),
        ])?;
        // The metadata address (BYP-03) is probed like any other world address: make sure no
        // route Docker might have written sends link-local traffic onto its bridge, towards
        // the machine (and a real metadata service), instead of into the world.
        ctr.ip(&[
            "route",
            "replace",
            "169.254.0.0/16",
            "via",
            &TRANSFER_WORLD.to_string(),
            "dev",
            DOCKER_WAN_IF,
            "onlink",
            "src",
            &CONTAINER_A.to_string(),
        ])?;
        world_answers_everywhere(world, &ReturnPath::Direct)
    }

    fn warm_docker(&self) -> Result<()> {
        let world_v4 = SocketAddr::new(IpAddr::V4(WORLD_PROBE_V4), CLOSED_PORT);
        let paths: Vec<(&Netns, SocketAddr)> = vec![
            (&self.container, world_v4),
            (
                &self.world,
                SocketAddr::new(CONTAINER_A.into(), CLOSED_PORT),
            ),
            (&self.container, SocketAddr::new(SVC.into(), CLOSED_PORT)),
            (&self.svc, SocketAddr::new(CONTAINER_B.into(), CLOSED_PORT)),
            (
                &self.container,
                SocketAddr::new(NET_A_GATEWAY.into(), CLOSED_PORT),
            ),
            (
                &self.container,
                SocketAddr::new(NET_B_GATEWAY.into(), CLOSED_PORT),
            ),
        ];
        prove_paths(paths)
    }

    /// The four namespaces.
    pub fn namespaces(&self) -> [&Netns; 4] {
        [&self.world, &self.host, &self.container, &self.svc]
    }

    fn configure(&self) -> Result<()> {
        let dual = self.dual_stack;
        // Duplicate address detection delays every new IPv6 address by about a second and
        // makes first contacts flake; `default` covers links created afterwards.
        for ns in self.namespaces() {
            write_sysctls(
                ns,
                &[
                    ("net/ipv6/conf/all/accept_dad", "0"),
                    ("net/ipv6/conf/default/accept_dad", "0"),
                ],
            )?;
        }
        let mut host_sysctls = vec![("net/ipv4/ip_forward", "1")];
        if dual {
            host_sysctls.push(("net/ipv6/conf/all/forwarding", "1"));
        }
        write_sysctls(&self.host, &host_sysctls)?;

        self.link_world_and_host()?;
        self.bridges()?;
        self.attach_container_and_sidecar()?;
        let world = &self.world;
        let host = &self.host;

        // host: everything beyond its own networks is "the internet".
        host.ip(&[
            "route",
            "add",
            "default",
            "via",
            &TRANSFER_WORLD.to_string(),
        ])?;
        if dual {
            host.ip(&[
                "-6",
                "route",
                "add",
                "default",
                "via",
                &TRANSFER_WORLD_V6.to_string(),
            ])?;
        }

        // world answers everything and routes the Docker side back.
        world_answers_everywhere(world, &ReturnPath::ViaHost { dual })
    }

    /// world ⟷ host, a routed link on the transfer network.
    fn link_world_and_host(&self) -> Result<()> {
        let dual = self.dual_stack;
        let world = &self.world;
        let host = &self.host;
        veth(world, WORLD_IF, host, HOST_WAN_IF)?;
        addr(
            world,
            WORLD_IF,
            &format!("{TRANSFER_WORLD}/{}", TRANSFER_V4.prefix_len()),
        )?;
        addr(
            host,
            HOST_WAN_IF,
            &format!("{TRANSFER_HOST}/{}", TRANSFER_V4.prefix_len()),
        )?;
        if dual {
            addr6(
                world,
                WORLD_IF,
                &format!("{TRANSFER_WORLD_V6}/{}", TRANSFER_V6.prefix_len()),
            )?;
            addr6(
                host,
                HOST_WAN_IF,
                &format!("{TRANSFER_HOST_V6}/{}", TRANSFER_V6.prefix_len()),
            )?;
        }
        up(world, WORLD_IF)?;
        up(host, HOST_WAN_IF)?;

        Ok(())
    }

    /// host's bridges: net A and net B, each holding its gateway.
    fn bridges(&self) -> Result<()> {
        let dual = self.dual_stack;
        let host = &self.host;
        for (br, gw, net) in [
            (BRIDGE_A, NET_A_GATEWAY, NET_A),
            (BRIDGE_B, NET_B_GATEWAY, NET_B),
        ] {
            // No STP (ports forward at once) and no multicast snooping (which can swallow the
            // neighbour solicitations of IPv6 until a querier shows up).
            host.ip(&[
                "link",
                "add",
                br,
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ])?;
            addr(host, br, &format!("{gw}/{}", net.prefix_len()))?;
            up(host, br)?;
        }
        if dual {
            addr6(
                host,
                BRIDGE_A,
                &format!("{NET_A_V6_GATEWAY}/{}", NET_A_V6.prefix_len()),
            )?;
        }

        Ok(())
    }

    /// The container (eth0 on net A, eth1 on net B) and the sidecar (eth0 on net B), their
    /// addresses and default routes.
    fn attach_container_and_sidecar(&self) -> Result<()> {
        let dual = self.dual_stack;
        let host = &self.host;
        let ctr = &self.container;
        let svc = &self.svc;
        veth(ctr, CONTAINER_A_IF, host, HOST_PORT_A_CTR)?;
        veth(ctr, CONTAINER_B_IF, host, HOST_PORT_B_CTR)?;
        // svc: eth0 on net B.
        veth(svc, SVC_IF, host, HOST_PORT_B_SVC)?;
        for (port, br) in [
            (HOST_PORT_A_CTR, BRIDGE_A),
            (HOST_PORT_B_CTR, BRIDGE_B),
            (HOST_PORT_B_SVC, BRIDGE_B),
        ] {
            host.ip(&["link", "set", port, "master", br, "up"])?;
        }

        addr(
            ctr,
            CONTAINER_A_IF,
            &format!("{CONTAINER_A}/{}", NET_A.prefix_len()),
        )?;
        addr(
            ctr,
            CONTAINER_B_IF,
            &format!("{CONTAINER_B}/{}", NET_B.prefix_len()),
        )?;
        if dual {
            addr6(
                ctr,
                CONTAINER_A_IF,
                &format!("{CONTAINER_A_V6}/{}", NET_A_V6.prefix_len()),
            )?;
        }
        up(ctr, CONTAINER_A_IF)?;
        up(ctr, CONTAINER_B_IF)?;
        ctr.ip(&["route", "add", "default", "via", &NET_A_GATEWAY.to_string()])?;
        if dual {
            ctr.ip(&[
                "-6",
                "route",
                "add",
                "default",
                "via",
                &NET_A_V6_GATEWAY.to_string(),
            ])?;
        }

        addr(svc, SVC_IF, &format!("{SVC}/{}", NET_B.prefix_len()))?;
        up(svc, SVC_IF)?;
        svc.ip(&["route", "add", "default", "via", &NET_B_GATEWAY.to_string()])?;

        Ok(())
    }

    /// Proves each hop both ways with a connect to a closed port (a RST answers at once), which
    /// also leaves resolved neighbour entries on every link a probe will use.
    fn warm(&self) -> Result<()> {
        let world_v4 = SocketAddr::new(IpAddr::V4(WORLD_PROBE_V4), CLOSED_PORT);
        let mut paths: Vec<(&Netns, SocketAddr)> = vec![
            (&self.container, world_v4),
            (
                &self.container,
                SocketAddr::new(NET_B_GATEWAY.into(), CLOSED_PORT),
            ),
            (&self.container, SocketAddr::new(SVC.into(), CLOSED_PORT)),
            (
                &self.svc,
                SocketAddr::new(NET_B_GATEWAY.into(), CLOSED_PORT),
            ),
            (&self.svc, SocketAddr::new(CONTAINER_B.into(), CLOSED_PORT)),
            (&self.svc, world_v4),
            (
                &self.world,
                SocketAddr::new(CONTAINER_A.into(), CLOSED_PORT),
            ),
            (
                &self.world,
                SocketAddr::new(CONTAINER_B.into(), CLOSED_PORT),
            ),
        ];
        if self.dual_stack {
            let world_v6 = SocketAddr::new(IpAddr::V6(WORLD_PROBE_V6), CLOSED_PORT);
            paths.push((&self.container, world_v6));
            paths.push((
                &self.world,
                SocketAddr::new(CONTAINER_A_V6.into(), CLOSED_PORT),
            ));
        }
        prove_paths(paths)
    }

    /// A quick check that the container reaches world: a temporary listener in world on
    /// 203.0.113.1 and one TCP connect from the container (and over IPv6 in dual stack).
    pub fn inet_check(&self) -> Result<()> {
        let mut targets = vec![SocketAddr::new(WORLD_PROBE_V4.into(), 0)];
        if self.dual_stack {
            targets.push(SocketAddr::new(WORLD_PROBE_V6.into(), 0));
        }
        for target in targets {
            let bind = SocketAddr::new(target.ip(), 0);
            let listener = self
                .world
                .run(move || std::net::TcpListener::bind(bind))?
                .with_context(|| format!("cannot listen on {bind} in world"))?;
            let port = listener.local_addr().context("listener address")?.port();
            let to = SocketAddr::new(target.ip(), port);
            let out = connect_from(&self.container, to, Duration::from_secs(3))?;
            if out.kind != ConnectKind::Connected {
                bail!("container → {to}: {out}");
            }
        }
        Ok(())
    }
}

/// How world reaches the Docker side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReturnPath {
    /// Through host, at the other end of the transfer link (the netns tier).
    ViaHost { dual: bool },
    /// Straight over the veth into the container (the Docker tier).
    Direct,
}

/// World answers for every address (IPv4 and IPv6) except the Docker side's, which it routes
/// back.
///
/// A `local` default route does it, and it must be in the `local` table: the kernel accepts a
/// reply's source address (a SYN-ACK from 8.8.8.8, a UDP answer sent from the address reached)
/// only when the `local` table says it is ours, whatever the other tables say. That table is
/// consulted before every other, so the return routes go there too, where they win by being
/// more specific: the Docker networks, host's end of the transfer link, and the IPv6 link-local
/// prefix (neighbour discovery). Binding any single address is allowed by non-local binds
/// (IPv6 does not count route-local addresses as its own).
fn world_answers_everywhere(world: &Netns, back: &ReturnPath) -> Result<()> {
    write_sysctls(
        world,
        &[
            ("net/ipv4/ip_nonlocal_bind", "1"),
            ("net/ipv6/ip_nonlocal_bind", "1"),
        ],
    )?;
    let in_local = |family: &str, route: &[&str]| -> Result<()> {
        let mut args = vec![family, "route", "add"];
        args.extend_from_slice(route);
        args.extend_from_slice(&["table", "local"]);
        world.ip(&args)
    };
    match back {
        ReturnPath::ViaHost { dual } => {
            let host = TRANSFER_HOST.to_string();
            in_local("-4", &[&format!("{host}/32"), "dev", WORLD_IF])?;
            for net in DOCKER_NETS_V4 {
                in_local("-4", &[&net.to_string(), "via", &host, "dev", WORLD_IF])?;
            }
            if *dual {
                let host6 = TRANSFER_HOST_V6.to_string();
                in_local("-6", &[&format!("{host6}/128"), "dev", WORLD_IF])?;
                in_local(
                    "-6",
                    &[&NET_A_V6.to_string(), "via", &host6, "dev", WORLD_IF],
                )?;
            }
        }
        ReturnPath::Direct => {
            for net in DOCKER_NETS_V4 {
                in_local("-4", &[&net.to_string(), "dev", WORLD_IF])?;
            }
        }
    }
    in_local("-6", &["fe80::/64", "dev", WORLD_IF])?;
    in_local("-4", &["local", "0.0.0.0/0", "dev", "lo"])?;
    in_local("-6", &["local", "::/0", "dev", "lo"])
}

/// Proves each hop with a connect to a closed port (a RST, or a listener, answers at once),
/// which also leaves resolved neighbour entries on every link a probe will use.
fn prove_paths(paths: Vec<(&Netns, SocketAddr)>) -> Result<()> {
    for (ns, to) in paths {
        let out = connect_from(ns, to, Duration::from_secs(3))?;
        match out.kind {
            ConnectKind::Connected => {}
            ConnectKind::Error(e) if e == libc::ECONNREFUSED => {}
            _ => bail!("{} → {to}: {out}", ns.name()),
        }
    }
    Ok(())
}

/// Writes sysctls from a thread inside the namespace (`net.*` is per namespace, and per the
/// writing thread's namespace), which is much cheaper than one `sysctl` process per key.
fn write_sysctls(ns: &Netns, kv: &[(&str, &str)]) -> Result<()> {
    let kv: Vec<(String, String)> = kv
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ns.run(move || -> Result<()> {
        for (k, v) in kv {
            std::fs::write(format!("/proc/sys/{k}"), &v)
                .with_context(|| format!("cannot set {k}={v}"))?;
        }
        Ok(())
    })?
    .with_context(|| format!("sysctls in {}", ns.name()))
}

/// A veth pair created inside `a` with its peer placed directly in `b`: it never appears in
/// the machine's own namespace.
fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])
}

fn addr(ns: &Netns, dev: &str, cidr: &str) -> Result<()> {
    ns.ip(&["addr", "add", cidr, "dev", dev])
}

fn addr6(ns: &Netns, dev: &str, cidr: &str) -> Result<()> {
    ns.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"])
}

fn up(ns: &Netns, dev: &str) -> Result<()> {
    ns.ip(&["link", "set", dev, "up"])
}

// ---------------------------------------------------------------------------------------------
// Probing
// ---------------------------------------------------------------------------------------------

/// How a TCP connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectKind {
    /// The handshake completed.
    Connected,
    /// The connect failed with this errno (ECONNREFUSED, EHOSTUNREACH, EPERM, ...).
    Error(i32),
    /// Nothing answered within the time limit (a DROP, or a dead path).
    TimedOut,
}

/// One TCP connect's result and how long it took: a reject and a drop differ in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOutcome {
    pub kind: ConnectKind,
    pub elapsed: Duration,
}

impl std::fmt::Display for ConnectOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ConnectKind::Connected => write!(f, "connected")?,
            ConnectKind::Error(e) => write!(f, "{}", std::io::Error::from_raw_os_error(e))?,
            ConnectKind::TimedOut => write!(f, "timed out")?,
        }
        write!(f, " after {} ms", self.elapsed.as_millis())
    }
}

/// Opens a TCP connection from inside `ns` to `addr` and closes it at once. `Err` means the
/// probe could not run at all (a harness fault), never that the destination is blocked.
pub fn connect_from(ns: &Netns, addr: SocketAddr, timeout: Duration) -> Result<ConnectOutcome> {
    ns.run(move || {
        let start = Instant::now();
        let res = TcpStream::connect_timeout(&addr, timeout);
        let elapsed = start.elapsed();
        let kind = match res {
            Ok(_) => ConnectKind::Connected,
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIMEDOUT) => ConnectKind::TimedOut,
                Some(errno) => ConnectKind::Error(errno),
                // std's own poll deadline carries no errno.
                None if e.kind() == std::io::ErrorKind::TimedOut => ConnectKind::TimedOut,
                None => return Err(anyhow::anyhow!("connect to {addr}: {e}")),
            },
        };
        Ok(ConnectOutcome { kind, elapsed })
    })?
    .with_context(|| format!("probe from {}", ns.name()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::privileged;
    use std::net::TcpListener;

    fn listen(ns: &Netns, addr: &str) -> TcpListener {
        let addr: SocketAddr = addr.parse().unwrap();
        ns.run(move || TcpListener::bind(addr)).unwrap().unwrap()
    }

    fn assert_connects(ns: &Netns, to: &str) {
        let to: SocketAddr = to.parse().unwrap();
        let out = connect_from(ns, to, Duration::from_secs(3)).unwrap();
        assert_eq!(
            out.kind,
            ConnectKind::Connected,
            "{} → {to}: {out}",
            ns.name()
        );
        // Neighbours are warm: no second lost to address resolution or DAD.
        assert!(out.elapsed < Duration::from_millis(500), "{to}: {out}");
    }

    fn names_of_ours() -> Vec<String> {
        let out = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        let prefix = format!("{}{}-", crate::world::netns::PREFIX, std::process::id());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }

    fn common_paths(t: &Topology) {
        // One listener on [::] in world answers for every address of the plan.
        let _w8080 = listen(&t.world, "[::]:8080");
        let _w443 = listen(&t.world, "[::]:443");
        assert_connects(&t.container, "203.0.113.77:8080");
        assert_connects(&t.container, "192.0.2.70:443");
        assert_connects(&t.container, "198.18.3.4:443");
        assert_connects(&t.container, "76.76.21.21:443");
        // Net B both ways, and its gateway.
        let _s = listen(&t.svc, "0.0.0.0:7000");
        let _c = listen(&t.container, "0.0.0.0:7001");
        assert_connects(&t.container, "172.19.0.5:7000");
        assert_connects(&t.svc, "172.19.0.2:7001");
        assert_connects(&t.svc, "172.18.0.2:7001");
        // No NAT: world reaches the container's own addresses (POL-04's inbound probe).
        assert_connects(&t.world, "172.18.0.2:7001");
        // A host gateway answers (closed port: RST, fast).
        let out = connect_from(
            &t.container,
            "172.18.0.1:9".parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(out.kind, ConnectKind::Error(libc::ECONNREFUSED), "{out}");
        // World answers for any address, the Docker networks' neighbours and the metadata
        // address included: a listener there accepts, a closed port is refused at once.
        for far in [
            "8.8.8.8:8080",
            "151.101.1.10:8080",
            "169.254.169.254:8080",
            "172.17.255.10:8080",
            "172.20.0.10:8080",
            "192.0.3.10:443",
        ] {
            assert_connects(&t.container, far);
        }
        let out = connect_from(
            &t.container,
            "10.1.2.3:80".parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(out.kind, ConnectKind::Error(libc::ECONNREFUSED), "{out}");
        // World can speak from any address: a connection from 8.8.8.8:53 reaches the container.
        let from_far = t
            .world
            .run(|| {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
                s.bind(&"8.8.8.8:53".parse::<SocketAddr>().unwrap().into())?;
                s.connect_timeout(
                    &"172.18.0.2:7001".parse::<SocketAddr>().unwrap().into(),
                    Duration::from_secs(2),
                )
            })
            .unwrap();
        assert!(from_far.is_ok(), "{from_far:?}");
        t.inet_check().unwrap();
    }

    #[test]
    fn v4_only_topology_routes_and_is_deleted() {
        if !privileged() {
            return;
        }
        let t = Topology::build(&TopologyOptions { dual_stack: false }).unwrap();
        let names: Vec<String> = t.namespaces().iter().map(|n| n.name().to_owned()).collect();
        common_paths(&t);
        // No global IPv6 in the container; link-local stays.
        let out = t
            .container
            .exec("ip", &["-6", "addr", "show", "dev", "eth0"])
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("fe80::"), "{text}");
        assert!(!text.contains("scope global"), "{text}");
        let out = connect_from(
            &t.container,
            "[2001:db8:bad::1]:80".parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(out.kind, ConnectKind::Error(libc::ENETUNREACH), "{out}");
        drop(t);
        let left = names_of_ours();
        for n in names {
            assert!(!left.contains(&n), "{n} left behind");
        }
    }

    #[test]
    fn dual_stack_topology_routes_and_is_deleted() {
        if !privileged() {
            return;
        }
        let t = Topology::build(&TopologyOptions { dual_stack: true }).unwrap();
        let names: Vec<String> = t.namespaces().iter().map(|n| n.name().to_owned()).collect();
        common_paths(&t);
        let _w80 = listen(&t.world, "[::]:80");
        assert_connects(&t.container, "[2001:db8:bad::1]:80");
        assert_connects(&t.container, "[2001:db8:1::5]:80");
        assert_connects(&t.container, "[2001:db8:10::99]:80");
        assert_connects(&t.container, "198.51.100.10:80");
        for far in [
            "[2606:4700:4700::1111]:80",
            "[2001:db8:4::10]:80",
            "[fd00:19::10]:80",
            "[fd00:18:0:1::10]:80",
        ] {
            assert_connects(&t.container, far);
        }
        let _c = listen(&t.container, "[::]:7002");
        assert_connects(&t.world, "[fd00:18::2]:7002");
        assert_connects(&t.host, "[fd00:18::2]:7002");
        drop(t);
        let left = names_of_ours();
        for n in names {
            assert!(!left.contains(&n), "{n} left behind");
        }
    }
}
