//! Positive controls: before the implementation runs, the container reaches every address of
//! the run's spread with every kind of probe a check will send there, and the world reaches the
//! container from every source a check will use. A control that fails stops the scenario with a
//! harness error naming what did not answer, so a broken world (a missing listener, a route
//! that does not come back) can never pass for a firewall that blocks.
//!
//! The controls run from the container itself, before anything is applied: the same path and
//! source as the checks', and no namespace of the machine's involved (in the Docker tier the
//! "host" is the machine's own namespace, which must never send test traffic). They use source
//! ports 20000 and up (below the ephemeral range the checks' sockets get) and ICMP identifiers
//! and SCTP ports below 0x8000 (the checks use 0x8000 and up), so that none of their flows is
//! one of the checks' in the container's connection tracking.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::time::Instant;

use anyhow::{Result, bail};

use super::bypass;
use super::send::{
    ARRIVAL_WAIT, RawKind, RawSend, dns_query, raw_all, raw_packet, tag, tcp_all, udp_all,
};
use super::{Probe, Spread};
use crate::world::mocks::raw::ICMP;
use crate::world::probe::PROBE_TIMEOUT;
use crate::world::sandbox::Sandbox;
use fw_testkit::plan::CONTAINER_A;

/// The first source port of the controls.
const CONTROL_PORTS: u16 = 20_000;

/// How long the controls' datagrams and raw packets may take to arrive.
const ARRIVALS_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// Every outbound TCP target a check of this spread probes (without the checks' sources).
fn outbound_tcp(sp: &Spread, dual: bool) -> Vec<Probe> {
    let mut all = sp.tcp_v4();
    all.extend(sp.mapped_tcp());
    all.extend(bypass::dns_tcp(sp));
    all.extend(bypass::doh_tcp());
    all.extend(bypass::metadata_tcp());
    all.extend(bypass::allowed_ports_tcp(sp));
    all.extend(bypass::sport_tcp());
    if dual {
        all.extend(sp.tcp_v6());
    }
    unique(all)
}

/// Every outbound UDP target a check of this spread probes (DNS queries aside).
fn outbound_udp(sp: &Spread, dual: bool) -> Vec<Probe> {
    let mut all = sp.udp_v4();
    all.extend(sp.mapped_udp());
    all.extend(bypass::doh_udp());
    all.extend(bypass::sport_udp());
    if dual {
        all.extend(sp.udp_v6());
    }
    unique(all)
}

/// The probes without their sources, each destination once.
fn unique(all: Vec<Probe>) -> Vec<Probe> {
    let mut out: Vec<Probe> = Vec::new();
    for p in all {
        if !out.iter().any(|o| o.to == p.to) {
            out.push(Probe { from: None, ..p });
        }
    }
    out
}

/// The same probes, each from its own control port (on the address the check sends from, or
/// the wildcard of the destination's family).
fn from_control_ports(probes: Vec<Probe>, first: &mut u16) -> Vec<Probe> {
    probes
        .into_iter()
        .map(|p| {
            let addr = p.from.map(|f| f.ip()).unwrap_or(if p.to.is_ipv6() {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            });
            *first += 1;
            Probe {
                from: Some(SocketAddr::new(addr, *first)),
                ..p
            }
        })
        .collect()
}

/// Runs every control of the sandbox's spread; `Err` names each that failed.
pub fn prove(sb: &Sandbox) -> Result<()> {
    let sp = Spread::new(sb.seed);
    let mut port = CONTROL_PORTS;
    let mut bad = tcp_controls(sb, &sp, &mut port)?;
    let sent = Sent::send(sb, &sp, &mut port)?;
    // Everything sent must arrive: looked for until it has, or for at most ARRIVALS_WITHIN (a
    // loaded machine may take longer than a check's wait; a control only needs the arrivals).
    let deadline = Instant::now() + ARRIVALS_WITHIN;
    let missing = loop {
        std::thread::sleep(ARRIVAL_WAIT / 3);
        let missing = sent.missing(sb);
        if missing.is_empty() || Instant::now() >= deadline {
            break missing;
        }
    };
    bad.extend(missing);
    if bad.is_empty() {
        return Ok(());
    }
    bail!(
        "{} of the spread's positive controls failed before the implementation ran (spread seed {}): {}",
        bad.len(),
        sb.seed,
        bad.join("; ")
    )
}

/// TCP out (every target connects) and in (every source reaches every listener it will be
/// tried on): what did not connect.
fn tcp_controls(sb: &Sandbox, sp: &Spread, port: &mut u16) -> Result<Vec<String>> {
    let mut bad = Vec::new();
    let tcp = outbound_tcp(sp, sb.scenario.dual_stack);
    for (p, v) in tcp
        .iter()
        .zip(tcp_all(&sb.topo.container, &tcp, PROBE_TIMEOUT)?)
    {
        if !v.is_connected() {
            bad.push(format!("tcp {}: {v}", p.label()));
        }
    }
    let mut inbound = sp.inbound_tcp();
    inbound.extend(bypass::inbound_sport_tcp());
    let inbound = from_control_ports(inbound, port);
    for (p, v) in inbound
        .iter()
        .zip(tcp_all(&sb.topo.world, &inbound, PROBE_TIMEOUT)?)
    {
        if !v.is_connected() {
            bad.push(format!("tcp from the world {}: {v}", p.label()));
        }
    }
    Ok(bad)
}

/// The datagrams and raw packets of the controls, sent, with what identifies each.
struct Sent {
    /// UDP out, each with its payload.
    udp: Vec<(Probe, Vec<u8>)>,
    /// DNS queries out, each with its payload and the name it asks.
    dns: Vec<(Probe, Vec<u8>, String)>,
    /// UDP in, from the world.
    inbound: Vec<(Probe, Vec<u8>)>,
    /// Raw packets out, each with its tag.
    raw: Vec<(RawSend, Vec<u8>)>,
    /// Echo requests in, from the world.
    echo: Vec<(RawSend, Vec<u8>)>,
}

impl Sent {
    fn send(sb: &Sandbox, sp: &Spread, port: &mut u16) -> Result<Sent> {
        let (ctr, world) = (&sb.topo.container, &sb.topo.world);
        let dual = sb.scenario.dual_stack;
        // Tags of this round only: what an earlier round left in the logs must not count.
        let round = crate::world::probe::rand_tag();
        let tagged = |probes: Vec<Probe>, what: &str| -> Vec<(Probe, Vec<u8>)> {
            probes
                .into_iter()
                .enumerate()
                .map(|(i, p)| (p, tag(what, round, i)))
                .collect()
        };
        let udp = tagged(
            from_control_ports(outbound_udp(sp, dual), port),
            "control-udp",
        );
        udp_all(ctr, udp.clone())?;
        let resolvers = bypass::dns_tcp(sp)
            .into_iter()
            .map(|p| Probe { from: None, ..p })
            .collect();
        let dns: Vec<(Probe, Vec<u8>, String)> = from_control_ports(resolvers, port)
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let name = format!("fwt-control-{round:x}-{i}.leak.test");
                (p, dns_query(u16::try_from(i).unwrap_or(0), &name), name)
            })
            .collect();
        udp_all(
            ctr,
            dns.iter().map(|(p, q, _)| (p.clone(), q.clone())).collect(),
        )?;
        let mut in_udp = sp.inbound_udp();
        in_udp.extend(bypass::inbound_sport_udp());
        let inbound = tagged(from_control_ports(in_udp, port), "control-in-udp");
        udp_all(world, inbound.clone())?;
        let raw = raw_sends(sp, dual, round);
        raw_all(ctr, raw.iter().map(|(s, _)| s.clone()).collect())?;
        let echo = echo_sends(sp, round);
        raw_all(world, echo.iter().map(|(s, _)| s.clone()).collect())?;
        Ok(Sent {
            udp,
            dns,
            inbound,
            raw,
            echo,
        })
    }

    /// What has not arrived (yet).
    fn missing(&self, sb: &Sandbox) -> Vec<String> {
        let mut missing = Vec::new();
        for (p, payload) in &self.udp {
            if !sb.udp_arrived(payload) {
                missing.push(format!("udp {}: did not arrive", p.label()));
            }
        }
        for (p, payload, name) in &self.dns {
            if !sb.udp_arrived(payload) && sb.world_dns.queries_for(name).is_empty() {
                missing.push(format!("dns over udp {}: did not arrive", p.label()));
            }
        }
        for (p, payload) in &self.inbound {
            if !sb.inbound.udp_arrived(payload) {
                missing.push(format!("udp from the world {}: did not arrive", p.label()));
            }
        }
        for (s, t) in &self.raw {
            let proto = s.kind.protocol(s.to.is_ipv6());
            if sb.world_raw.seen(proto, s.to, t).is_empty() {
                missing.push(format!("{} to {}: did not arrive", s.kind.name(), s.to));
            }
        }
        for (s, t) in &self.echo {
            if sb.inbound.raw.seen(ICMP, s.to, t).is_empty() {
                let from = s.from.map(|f| f.to_string()).unwrap_or_default();
                missing.push(format!("icmp-echo from {from} to {}: did not arrive", s.to));
            }
        }
        missing
    }
}

/// Raw packets out: ICMP echo, SCTP and GRE to BYP-07's destinations, ICMPv6 echo to POL-06's.
fn raw_sends(sp: &Spread, dual: bool, round: u64) -> Vec<(RawSend, Vec<u8>)> {
    let mut items: Vec<(RawKind, IpAddr)> = Vec::new();
    for kind in [RawKind::IcmpEcho, RawKind::Sctp, RawKind::Gre] {
        items.extend(sp.raw_v4().iter().map(|d| (kind, d.addr)));
    }
    if dual {
        items.extend(sp.icmp_v6().iter().map(|d| (RawKind::IcmpEcho, d.addr)));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, (kind, to))| {
            let t = tag("control-raw", round, i);
            let id = 0x0100 + u16::try_from(i).unwrap_or(0);
            let packet = raw_packet(kind, to.is_ipv6(), id, &t);
            (
                RawSend {
                    kind,
                    from: None,
                    to,
                    packet,
                },
                t,
            )
        })
        .collect()
}

/// Echo requests in: from each inbound source to the container.
fn echo_sends(sp: &Spread, round: u64) -> Vec<(RawSend, Vec<u8>)> {
    sp.inbound_sources()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let t = tag("control-echo", round, i);
            let id = 0x0200 + u16::try_from(i).unwrap_or(0);
            (
                RawSend {
                    kind: RawKind::IcmpEcho,
                    from: Some(s.addr),
                    to: CONTAINER_A.into(),
                    packet: raw_packet(RawKind::IcmpEcho, false, id, &t),
                },
                t,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::privileged;
    use crate::world::options::SuiteOptions;
    use crate::world::scenario::Scenario;

    #[test]
    fn a_world_that_stops_answering_fails_the_controls() {
        if !privileged() {
            return;
        }
        let opts = SuiteOptions::new("controls", vec!["true".to_owned()]);
        // Built, so every control passed once already.
        let sb = Sandbox::build(&Scenario::base("default"), &opts).unwrap();
        prove(&sb).unwrap();
        // World answers only its own addresses now: a probe of 8.8.8.8 is refused by world's
        // routing at once, which a check would take for a firewall's rejection.
        sb.topo
            .world
            .ip(&[
                "-4",
                "route",
                "del",
                "local",
                "0.0.0.0/0",
                "dev",
                "lo",
                "table",
                "local",
            ])
            .unwrap();
        let e = format!("{:#}", prove(&sb).unwrap_err());
        let items: Vec<&str> = e.split("; ").collect();
        for (kind, what) in [
            (
                "tcp ",
                "8.8.8.8:443 (0.0.0.0/1, a public resolver): timed out",
            ),
            (
                "tcp ",
                "169.254.169.254:80 (the cloud metadata service): timed out",
            ),
            ("udp ", "-> 8.8.8.8:"),
            (
                "dns over udp ",
                "-> 1.1.1.1:53 (Cloudflare DNS): did not arrive",
            ),
            ("icmp-echo to ", "8.8.8.8: did not arrive"),
            ("gre to ", "8.8.8.8: did not arrive"),
            ("tcp from the world ", "8.8.8.8:"),
        ] {
            assert!(
                items
                    .iter()
                    .any(|i| i.starts_with(kind) && i.contains(what)),
                "{kind}... {what} not in: {e}"
            );
        }
        assert!(e.contains(&format!("(spread seed {})", opts.seed)), "{e}");
    }
}
