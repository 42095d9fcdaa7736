//! Spreads: the many destinations, ports, protocols and sources a block is probed with, drawn per
//! run from a seed (issue 16).
//!
//! One blocked address proves little: a firewall that opens everything but that /24, opens
//! `0.0.0.0/1`, or widens every allowed range to a /16 passes a probe of 198.51.100.10. A
//! spread holds, in every run, fixed must-have targets (the neighbours just outside every
//! allowed range: the address before and after it, the next and previous /24 and /16 of the
//! GitHub ranges and of the resolved domain addresses, the next /16 of each Vercel range and of
//! the Docker networks, both halves of the address space, a private /8), and seeded random
//! ones across the whole unicast space. The world answers every one of them (see
//! [`crate::world::topology`]), so a leak is a connection or an arrival, never a timeout; and
//! [`control`] proves that before the implementation runs, from the container itself, for
//! every kind of probe at every address, so a broken world cannot pass a firewall.
//!
//! The seed is printed in every report (`--seed N` reproduces a run) and every failing reason
//! names the concrete addresses. The spread is small (tens of targets per kind, probed
//! concurrently), so a case stays within a few seconds.
//!
//! - [`send`]: the probes (TCP from a chosen source, tagged UDP datagrams, raw ICMP echo, SCTP
//!   and GRE packets) and what the world or the container observed of them;
//! - [`control`]: the positive controls, run in [`crate::world::sandbox::Sandbox::build`];
//! - [`bypass`]: the destinations of the BYP rows (known ways around an egress firewall).
//!
//! The judging of what the probes met is the judge's (`judge::spread`, `judge::checks`).

pub mod bypass;
pub mod control;
pub mod send;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::world::scenario::CNAME_FINAL;
use crate::world::seed::Rng;

use fw_testkit::plan::{
    API_HOST, BLOCKED, BLOCKED_NET_V4, BLOCKED_V6, CNAME_FINAL_ADDRS, CONTAINER_A, CONTAINER_B,
    DOMAINS_V4, EXTRA_OK, GITHUB_GIT_V4, GITHUB_GIT_V6, GITHUB_WEB_V4, GITHUB_WEB_V6, HIGH_PORT,
    INBOUND_TCP_PORTS, INBOUND_UDP_PORTS, NET_A, NET_A_V6, NET_B, NPM_ADDRS, PEER_PORT, REQUIRED,
    REQUIRED_AAAA, UDP_ECHO_PORT, VERCEL_HOSTS, VERCEL_V4,
};

/// An IPv4 address of a spread's tables.
pub(crate) const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// An IPv6 address of a spread's tables.
pub(crate) const fn v6(s: [u16; 8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ))
}

/// A destination of a spread, and why it is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub addr: IpAddr,
    pub why: String,
}

/// One probe: where to, (for inbound probes and source-port tricks) from where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub to: SocketAddr,
    /// The local address and port to send from; `None`: the kernel's choice.
    pub from: Option<SocketAddr>,
    pub why: String,
}

impl Probe {
    fn new(to: SocketAddr, why: &str) -> Probe {
        Probe {
            to,
            from: None,
            why: why.to_owned(),
        }
    }

    /// `192.0.3.10:443 (next /24 after GitHub's ranges)`, or with a source,
    /// `8.8.8.8:53 -> 172.18.0.2:443 (...)`.
    pub fn label(&self) -> String {
        match self.from {
            Some(f) if f.port() == 0 => format!("{} -> {} ({})", f.ip(), self.to, self.why),
            Some(f) => format!("{f} -> {} ({})", self.to, self.why),
            None => format!("{} ({})", self.to, self.why),
        }
    }
}

/// TCP ports a blocked destination is probed on (22 and 53 are BYP-04's: the seed opens them).
pub const TCP_PORTS: [u16; 4] = [443, 80, 8080, HIGH_PORT];
/// UDP ports a blocked destination is probed on (53 is BYP-01's: the seed opens it): the echo,
/// QUIC, a high port.
pub const UDP_PORTS: [u16; 3] = [UDP_ECHO_PORT, 443, HIGH_PORT];

/// `a`'s network of `len` bits (1 to 32), as a number.
fn base4(a: Ipv4Addr, len: u32) -> u32 {
    u32::from(a) & (u32::MAX << (32 - len))
}

/// The address `off` away from `n`.
fn at4(n: u32, off: i32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n.wrapping_add_signed(off)))
}

/// `a`'s network of `len` bits (1 to 128), as a number.
fn base6(a: Ipv6Addr, len: u32) -> u128 {
    u128::from(a) & (u128::MAX << (128 - len))
}

/// The address `off` away from `n`.
fn at6(n: u128, off: i128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(n.wrapping_add_signed(off)))
}

const NEXT_24: i32 = 1 << 8;
const NEXT_16: i32 = 1 << 16;
const NEXT_64: i128 = 1 << 64;
const NEXT_48: i128 = 1 << 80;
const NEXT_32: i128 = 1 << 96;

/// The /24 after GitHub's IPv4 ranges.
fn github_next_24() -> IpAddr {
    at4(base4(GITHUB_GIT_V4.network(), 24), NEXT_24 + 10)
}

/// The /16 after a Vercel range.
fn vercel_next_16(net: Ipv4Net) -> IpAddr {
    at4(base4(net.network(), 16), NEXT_16 + 10)
}

/// The /48 after GitHub's IPv6 `git` range.
fn github_v6_next_48() -> IpAddr {
    at6(u128::from(GITHUB_GIT_V6.network()), NEXT_48 + 0x10)
}

/// A name's first label (`extra-two` of `extra-two.example.test`).
fn label(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Fixed IPv4 destinations of every spread: the neighbours of every allowed range of the plan,
/// both halves of the address space, and a few blocked hosts.
fn fixed_v4() -> Vec<Dest> {
    let d = |addr: IpAddr, why: String| Dest { addr, why };
    let (web, git) = (GITHUB_WEB_V4, GITHUB_GIT_V4);
    let (first, last) = (REQUIRED[0], REQUIRED[REQUIRED.len() - 1]);
    let extra = EXTRA_OK[EXTRA_OK.len() - 1];
    let extra_last = extra.1[extra.1.len() - 1];
    let npm_last = NPM_ADDRS[NPM_ADDRS.len() - 1];
    let mut v = vec![
        d(BLOCKED.into(), "a blocked host, example.com".into()),
        d(
            at4(u32::from(BLOCKED_NET_V4.network()), 200),
            "the blocked /24".into(),
        ),
        // Both halves of the address space and a private /8 early: when much is open, a reason
        // spells out its first failures, and these say at once how much.
        d(v4(8, 8, 8, 8), "0.0.0.0/1, a public resolver".into()),
        d(v4(151, 101, 1, 10), "128.0.0.0/1".into()),
        d(v4(10, 20, 30, 40), "private 10.0.0.0/8".into()),
        d(
            at4(u32::from(web.network()), -1),
            format!("just below GitHub web {web}"),
        ),
        d(
            at4(u32::from(git.broadcast()), 1),
            format!("just above GitHub git {git}"),
        ),
        d(github_next_24(), "the /24 after GitHub's ranges".into()),
        d(
            at4(base4(web.network(), 24), 10 - NEXT_24),
            "the /24 before GitHub's ranges".into(),
        ),
        d(
            at4(base4(git.network(), 16), NEXT_16 + 10),
            "the /16 after GitHub's ranges".into(),
        ),
        d(
            at4(base4(web.network(), 16), 10 - NEXT_16),
            "the /16 before GitHub's ranges".into(),
        ),
        d(
            at4(u32::from(first.1[0]), -1),
            format!("just below {} {}", first.0, first.1[0]),
        ),
        d(
            at4(u32::from(last.1[last.1.len() - 1]), 1),
            format!("just above {} {}", last.0, last.1[last.1.len() - 1]),
        ),
        d(
            at4(u32::from(NPM_ADDRS[0]), -1),
            format!("just below the npm registry {}", NPM_ADDRS[0]),
        ),
        d(
            at4(u32::from(npm_last), 1),
            format!("just above the npm registry {npm_last}"),
        ),
        d(
            at4(u32::from(extra_last), 1),
            format!("just above {} {extra_last}", label(extra.0)),
        ),
        d(
            at4(u32::from(CNAME_FINAL_ADDRS[0]), 1),
            format!("just above {} {}", label(CNAME_FINAL), CNAME_FINAL_ADDRS[0]),
        ),
        d(
            at4(base4(DOMAINS_V4.network(), 24), NEXT_24 + 10),
            "the /24 after the resolved domains' addresses".into(),
        ),
        d(
            at4(base4(DOMAINS_V4.network(), 16), NEXT_16 + 10),
            "the /16 after the resolved domains' addresses".into(),
        ),
    ];
    for net in VERCEL_V4 {
        v.push(d(
            at4(u32::from(net.network()), -1),
            format!("just below Vercel {net}"),
        ));
        v.push(d(
            at4(u32::from(net.broadcast()), 1),
            format!("just above Vercel {net}"),
        ));
        v.push(d(
            vercel_next_16(net),
            format!("the /16 after Vercel {net}"),
        ));
    }
    v.extend([
        d(
            at4(base4(NET_A.network(), 24), 10 - NEXT_24),
            format!("the /16 below Docker net A {NET_A}"),
        ),
        d(
            at4(base4(NET_B.network(), 16), NEXT_16 + 10),
            format!("the /16 after Docker net B {NET_B}"),
        ),
        d(
            v4(172, 16, 0, 10),
            "172.16.0.0/12 outside the Docker networks".into(),
        ),
        d(
            v4(172, 31, 255, 10),
            "172.16.0.0/12 outside the Docker networks".into(),
        ),
    ]);
    v
}

/// Fixed IPv6 destinations of every spread (dual stack).
fn fixed_v6() -> Vec<Dest> {
    let d = |addr: IpAddr, why: String| Dest { addr, why };
    let (web, git) = (GITHUB_WEB_V6, GITHUB_GIT_V6);
    let (name, aaaa) = REQUIRED_AAAA[0];
    let nat64 = u128::from(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0));
    vec![
        d(BLOCKED_V6.into(), "a blocked IPv6 host".into()),
        d(
            at6(u128::from(web.network()), 0x10 - NEXT_48),
            format!("the /48 before GitHub web {web}"),
        ),
        d(
            github_v6_next_48(),
            format!("the /48 after GitHub git {git}"),
        ),
        d(
            at6(base6(web.network(), 32), NEXT_32 + 0x10),
            "the /32 after GitHub's IPv6 ranges".into(),
        ),
        d(
            at6(base6(web.network(), 32), 0x10 - NEXT_48),
            "the /32 before GitHub's IPv6 ranges".into(),
        ),
        d(
            at6(u128::from(aaaa), -1),
            format!("just below {name} {aaaa}"),
        ),
        d(
            at6(u128::from(aaaa), 1),
            format!("just above {name} {aaaa}"),
        ),
        d(
            at6(base6(aaaa, 64), NEXT_64 + 0x10),
            format!("the /64 after {name}'s AAAA"),
        ),
        d(
            at6(base6(aaaa, 48), NEXT_48 + 0x10),
            format!("the /48 after {name}'s AAAA"),
        ),
        d(
            at6(u128::from(NET_A_V6.network()), NEXT_64 + 0x10),
            format!("the /64 after Docker net A {NET_A_V6}"),
        ),
        d(
            // The next and the previous fd00:XX:: as written before the plan computed them.
            at6(base6(NET_A_V6.network(), 32), NEXT_32 + 0x10),
            format!("the /48 after Docker net A {NET_A_V6}"),
        ),
        d(
            at6(base6(NET_A_V6.network(), 32), 0x10 - NEXT_32),
            format!("the /48 before Docker net A {NET_A_V6}"),
        ),
        d(
            v6([0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111]),
            "a public resolver".into(),
        ),
        d(
            v6([0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888]),
            "a public resolver".into(),
        ),
        d(
            at6(nat64, i128::from(u32::from(BLOCKED))),
            format!("the NAT64 form of {BLOCKED}"),
        ),
    ]
}

/// Never drawn at random: the plan's own networks (their neighbours are fixed targets), the
/// Docker side, loopback, link-local, multicast and reserved space.
const NOT_DRAWN_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.99.99.0/24",
    "100.64.255.0/24",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "76.76.21.0/24",
    "64.29.17.0/24",
    "216.198.79.0/24",
    "224.0.0.0/3",
];

/// How many random destinations a spread draws: IPv4 (half in each half of the space) and IPv6.
const RANDOM_V4: usize = 8;
const RANDOM_V6: usize = 5;

/// One run's spread.
#[derive(Debug, Clone)]
pub struct Spread {
    pub seed: u64,
    /// IPv4 destinations: the fixed ones, then the drawn ones.
    pub v4: Vec<Dest>,
    /// IPv6 destinations (probed in dual stack).
    pub v6: Vec<Dest>,
    /// The second TCP port and the UDP port of each destination, drawn.
    tcp_extra: Vec<u16>,
    udp_port: Vec<u16>,
    tcp_extra_v6: Vec<u16>,
    udp_port_v6: Vec<u16>,
}

fn dests(fixed: &[(IpAddr, &str)]) -> Vec<Dest> {
    fixed
        .iter()
        .map(|(a, why)| Dest {
            addr: *a,
            why: (*why).to_owned(),
        })
        .collect()
}

fn random_v4(rng: &mut Rng, half: u32) -> Ipv4Addr {
    let not: Vec<Ipv4Net> = NOT_DRAWN_V4.iter().filter_map(|n| n.parse().ok()).collect();
    loop {
        // The low 31 bits random, the top bit the half asked for.
        let bits = ((rng.next_u64() as u32) & 0x7fff_ffff) | (half << 31);
        let a = Ipv4Addr::from(bits);
        let o = a.octets();
        if o[3] != 0 && o[3] != 255 && !not.iter().any(|n| n.contains(&a)) {
            return a;
        }
    }
}

fn random_v6(rng: &mut Rng, within: Ipv6Net, not: &[Ipv6Net]) -> Ipv6Addr {
    loop {
        let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        let host_mask = u128::MAX >> within.prefix_len();
        let a = Ipv6Addr::from((u128::from(within.network()) & !host_mask) | (bits & host_mask));
        if !not.iter().any(|n| n.contains(&a)) {
            return a;
        }
    }
}

impl Spread {
    /// The spread of `seed`: the same seed always gives the same spread.
    pub fn new(seed: u64) -> Spread {
        let mut rng = Rng::new(seed);
        let mut v4 = fixed_v4();
        for i in 0..RANDOM_V4 {
            let half = u32::try_from(i % 2).unwrap_or(0);
            let a = random_v4(&mut rng, half);
            v4.push(Dest {
                addr: a.into(),
                why: format!("drawn, in {}.0.0.0/8", a.octets()[0]),
            });
        }
        let mut v6 = fixed_v6();
        let not_v6: Vec<Ipv6Net> = ["2001:db8::/32", "fd00:18::/48", "fd00:ff::/48"]
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        let global = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
        let ula = Ipv6Net::new_assert(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7);
        for i in 0..=RANDOM_V6 {
            let (within, what) = if i < RANDOM_V6 {
                (global, "drawn, in 2000::/3")
            } else {
                (ula, "drawn, in fc00::/7")
            };
            v6.push(Dest {
                addr: random_v6(&mut rng, within, &not_v6).into(),
                why: what.to_owned(),
            });
        }
        let extra = [80, 8080, HIGH_PORT];
        let tcp_extra = v4.iter().map(|_| rng.pick(&extra)).collect();
        let udp_port = v4.iter().map(|_| rng.pick(&UDP_PORTS)).collect();
        let tcp_extra_v6 = v6.iter().map(|_| rng.pick(&extra)).collect();
        let udp_port_v6 = v6.iter().map(|_| rng.pick(&UDP_PORTS)).collect();
        Spread {
            seed,
            v4,
            v6,
            tcp_extra,
            udp_port,
            tcp_extra_v6,
            udp_port_v6,
        }
    }

    /// The drawn IPv4 destinations.
    pub fn drawn_v4(&self) -> Vec<&Dest> {
        self.v4[fixed_v4().len()..].iter().collect()
    }

    /// TCP to every IPv4 destination: on 443 and one drawn port of [`TCP_PORTS`], and to the
    /// blocked host on every one of them (POL-01).
    pub fn tcp_v4(&self) -> Vec<Probe> {
        tcp_of(&self.v4, &self.tcp_extra)
    }

    /// UDP to every IPv4 destination on one drawn port of [`UDP_PORTS`], and to the blocked host
    /// on every one of them (POL-02).
    pub fn udp_v4(&self) -> Vec<Probe> {
        udp_of(&self.v4, &self.udp_port)
    }

    /// TCP to every IPv6 destination (POL-06).
    pub fn tcp_v6(&self) -> Vec<Probe> {
        tcp_of(&self.v6, &self.tcp_extra_v6)
    }

    /// UDP to every IPv6 destination (POL-06).
    pub fn udp_v6(&self) -> Vec<Probe> {
        udp_of(&self.v6, &self.udp_port_v6)
    }

    /// Destinations of the raw-protocol probes (ICMP echo, SCTP, GRE; BYP-07): the blocked
    /// host, a GitHub neighbour, a public address and two drawn ones.
    pub fn raw_v4(&self) -> Vec<Dest> {
        let mut v: Vec<Dest> = self
            .v4
            .iter()
            .filter(|d| {
                [
                    IpAddr::V4(BLOCKED),
                    github_next_24(),
                    v4(8, 8, 8, 8),
                    vercel_next_16(VERCEL_V4[2]),
                ]
                .contains(&d.addr)
            })
            .cloned()
            .collect();
        v.extend(self.drawn_v4().into_iter().take(2).cloned());
        v
    }

    /// Destinations of the ICMPv6 echo probes (POL-06): the blocked host, a GitHub neighbour,
    /// a public resolver and two drawn ones.
    pub fn icmp_v6(&self) -> Vec<Dest> {
        let mut v: Vec<Dest> = self
            .v6
            .iter()
            .filter(|d| {
                [
                    IpAddr::V6(BLOCKED_V6),
                    github_v6_next_48(),
                    v6([0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111]),
                ]
                .contains(&d.addr)
            })
            .cloned()
            .collect();
        v.extend(self.v6[fixed_v6().len()..].iter().take(2).cloned());
        v
    }

    /// IPv4-mapped IPv6 forms (`::ffff:a.b.c.d`) of blocked IPv4 destinations, over TCP, from an
    /// IPv6 socket (POL-06, BYP-06).
    pub fn mapped_tcp(&self) -> Vec<Probe> {
        let mapped = |a: IpAddr| IpAddr::V6(v4_of(a).to_ipv6_mapped());
        let mut v: Vec<Probe> = TCP_PORTS
            .iter()
            .map(|p| {
                Probe::new(
                    SocketAddr::new(mapped(BLOCKED.into()), *p),
                    "::ffff: form of the blocked host",
                )
            })
            .collect();
        for (a, why) in [
            (v4(8, 8, 8, 8), "::ffff: form of 8.8.8.8"),
            (
                v4(192, 0, 3, 10),
                "::ffff: form of the /24 after GitHub's ranges",
            ),
        ] {
            v.push(Probe::new(SocketAddr::new(mapped(a), 443), why));
        }
        if let Some(d) = self.drawn_v4().first() {
            let m = match d.addr {
                IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
                other => other,
            };
            v.push(Probe::new(
                SocketAddr::new(m, 443),
                "::ffff: form of a drawn address",
            ));
        }
        v
    }

    /// The same over UDP.
    pub fn mapped_udp(&self) -> Vec<Probe> {
        let mapped = |a: IpAddr| IpAddr::V6(v4_of(a).to_ipv6_mapped());
        vec![
            Probe::new(
                SocketAddr::new(mapped(BLOCKED.into()), UDP_ECHO_PORT),
                "::ffff: form of the blocked host",
            ),
            Probe::new(
                SocketAddr::new(mapped(v4(8, 8, 8, 8)), 443),
                "::ffff: form of 8.8.8.8",
            ),
        ]
    }

    /// World sources of inbound probes: blocked hosts, allowlisted ones (an allowed destination
    /// may not open connections in), and drawn ones.
    pub fn inbound_sources(&self) -> Vec<Dest> {
        let mut v = dests(&[
            (IpAddr::V4(BLOCKED), "a blocked host"),
            (v4(8, 8, 8, 8), "a public address"),
            (IpAddr::V4(API_HOST), "api.github.com, allowlisted"),
            (v4(203, 0, 113, 10), "api.anthropic.com, allowlisted"),
            (IpAddr::V4(VERCEL_HOSTS[0]), "a Vercel host, allowlisted"),
        ]);
        v.extend(self.drawn_v4().into_iter().take(3).cloned());
        v
    }

    /// New TCP connections from the world's sources to the container's listeners: each source
    /// to the peer port and to one drawn port of [`INBOUND_TCP_PORTS`] on net A, the first two
    /// to net B too (POL-04).
    pub fn inbound_tcp(&self) -> Vec<Probe> {
        let a = IpAddr::V4(CONTAINER_A);
        let b = IpAddr::V4(CONTAINER_B);
        let mut rng = Rng::new(self.seed ^ 0x1b0u64);
        let mut v = Vec::new();
        for (i, s) in self.inbound_sources().into_iter().enumerate() {
            let from = Some(SocketAddr::new(s.addr, 0));
            let mut to = vec![
                SocketAddr::new(a, PEER_PORT),
                SocketAddr::new(a, rng.pick(&INBOUND_TCP_PORTS)),
            ];
            if i < 2 {
                to.push(SocketAddr::new(b, rng.pick(&INBOUND_TCP_PORTS)));
            }
            v.extend(to.into_iter().map(|to| Probe {
                to,
                from,
                why: format!("from {}", s.why),
            }));
        }
        v
    }

    /// Datagrams from the world's sources to the container's UDP listeners (POL-04).
    pub fn inbound_udp(&self) -> Vec<Probe> {
        let a = IpAddr::V4(CONTAINER_A);
        let mut rng = Rng::new(self.seed ^ 0x0d9u64);
        self.inbound_sources()
            .into_iter()
            .map(|s| Probe {
                to: SocketAddr::new(a, rng.pick(&INBOUND_UDP_PORTS)),
                from: Some(SocketAddr::new(s.addr, 0)),
                why: format!("from {}", s.why),
            })
            .collect()
    }
}

/// An IPv4 address of the tables.
fn v4_of(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(v) => v,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

fn is_blocked_host(a: IpAddr) -> bool {
    a == IpAddr::V4(BLOCKED) || a == IpAddr::V6(BLOCKED_V6)
}

fn tcp_of(dests: &[Dest], extra: &[u16]) -> Vec<Probe> {
    let mut v = Vec::new();
    for (d, x) in dests.iter().zip(extra) {
        let ports: Vec<u16> = if is_blocked_host(d.addr) {
            TCP_PORTS.to_vec()
        } else {
            vec![443, *x]
        };
        v.extend(
            ports
                .into_iter()
                .map(|p| Probe::new(SocketAddr::new(d.addr, p), &d.why)),
        );
    }
    v
}

fn udp_of(dests: &[Dest], port: &[u16]) -> Vec<Probe> {
    let mut v = Vec::new();
    for (d, p) in dests.iter().zip(port) {
        let ports: Vec<u16> = if is_blocked_host(d.addr) {
            UDP_PORTS.to_vec()
        } else {
            vec![*p]
        };
        v.extend(
            ports
                .into_iter()
                .map(|p| Probe::new(SocketAddr::new(d.addr, p), &d.why)),
        );
    }
    v
}

#[cfg(test)]
mod tests;
