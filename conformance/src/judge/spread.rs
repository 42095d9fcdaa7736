//! Judging spreads: the generic judges (TCP must be rejected fast, a datagram or raw packet must
//! not arrive, an inbound connection must not be made) and the spread parts of POL-01, POL-02,
//! POL-04 and POL-06.
//!
//! Each judge returns the failing reason for its part (`None`: it held): what kind of probe,
//! how many of how many were not blocked, the run's seed, and the concrete addresses with what
//! happened to each. The spreads themselves, the probes' senders and the positive controls
//! are the world's ([`crate::world::spread`]).

use std::net::{IpAddr, SocketAddr};

use anyhow::Result;

use crate::judge::ctx::{Ctx, Expect};
use crate::judge::verdict::ProbeRecord;
use crate::world::probe::{Verdict, rejection_wait};
use crate::world::spread::send::{
    ARRIVAL_WAIT, RawKind, RawSend, raw_all, raw_packet, tag, tcp_all, udp_all,
};
use crate::world::spread::{Dest, Probe, Spread};

/// The spread of this run.
pub fn spread(ctx: &Ctx) -> Spread {
    Spread::new(ctx.sb.seed)
}

/// A per-check value that differs from run to run (tags, ICMP identifiers), derived from the
/// seed and the check so that no two checks of one sandbox share one.
fn salt(ctx: &Ctx, what: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (ctx.sb.seed, what, ctx.probes.borrow().len()).hash(&mut h);
    h.finish() ^ crate::world::probe::rand_tag()
}

/// TCP connects from the container that must be rejected fast (each one failing is probed once
/// more, to confirm). With a source (a source-port trick) the connect is bound to it first.
pub fn tcp_rejected(ctx: &Ctx, what: &str, probes: &[Probe]) -> Result<Option<String>> {
    let mut bad = Vec::new();
    let (plain, bound): (Vec<&Probe>, Vec<&Probe>) = probes.iter().partition(|p| p.from.is_none());
    let mut targets: Vec<SocketAddr> = plain.iter().map(|p| p.to).collect();
    targets.dedup();
    for why in ctx.expect_all(Expect::RejectedFast, &targets)? {
        let label = plain
            .iter()
            .find(|p| why.starts_with(&format!("{}: ", p.to)))
            .map(|p| p.label());
        bad.push(match label {
            Some(l) => format!("{l}: {}", why.split_once(": ").map_or("", |x| x.1)),
            None => why,
        });
    }
    let bound: Vec<Probe> = bound.into_iter().cloned().collect();
    bad.extend(bound_not_rejected(ctx, &bound)?);
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// Bound TCP probes from the container: the labels of those that connected, or were not
/// rejected fast twice. A connect is final (a leak is a leak, whatever a second try gets);
/// only an unclear miss (a time-out, a late rejection) is tried again.
fn bound_not_rejected(ctx: &Ctx, probes: &[Probe]) -> Result<Vec<String>> {
    let wait = |ps: &[Probe]| {
        ps.iter()
            .map(|p| rejection_wait(&p.to))
            .max()
            .unwrap_or_default()
    };
    let first = tcp_all(&ctx.sb.topo.container, probes, wait(probes))?;
    let leaks: Vec<String> = probes
        .iter()
        .zip(&first)
        .filter(|(_, v)| v.is_connected())
        .map(|(p, v)| format!("{}: {v} (expected a fast rejection)", p.label()))
        .collect();
    let again: Vec<Probe> = probes
        .iter()
        .zip(&first)
        .filter(|(p, v)| !v.is_connected() && !v.is_rejected_fast(&p.to))
        .map(|(p, _)| p.clone())
        .collect();
    let second = tcp_all(&ctx.sb.topo.container, &again, wait(&again))?;
    for (p, v) in probes.iter().zip(&first) {
        ctx.note(format!("tcp {}: {v}", p.label()));
        let from = p.from.map(|f| f.to_string()).unwrap_or_default();
        record(
            ctx,
            "tcp",
            "container",
            p.to,
            verdict_word(v),
            format!("from {from}"),
        );
    }
    Ok(leaks
        .into_iter()
        .chain(
            again
                .iter()
                .zip(second)
                .filter(|(p, v)| !v.is_rejected_fast(&p.to))
                .map(|(p, v)| format!("{}: {v} (expected a fast rejection)", p.label())),
        )
        .collect())
}

/// Datagrams from the container that must not arrive in the world.
pub fn udp_not_arriving(ctx: &Ctx, what: &str, probes: &[Probe]) -> Result<Option<String>> {
    let salt = salt(ctx, what);
    let sends: Vec<(Probe, Vec<u8>)> = probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), tag("udp", salt, i)))
        .collect();
    let local = udp_all(&ctx.sb.topo.container, sends.clone())?;
    std::thread::sleep(ARRIVAL_WAIT);
    let notes: Vec<String> = sends
        .iter()
        .zip(local)
        .map(|((p, _), local)| {
            let said = local.as_deref().unwrap_or("sent");
            format!("udp {}: {said}", p.label())
        })
        .collect();
    let bad = judge_arrivals(ctx, "container", &sends, &notes, |payload| {
        ctx.sb.udp_arrived(payload)
    });
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// Notes and records whether each tagged datagram arrived (`arrived` asks the listener that
/// should never see it); the ones that did are the failures.
fn judge_arrivals(
    ctx: &Ctx,
    from: &str,
    sends: &[(Probe, Vec<u8>)],
    notes: &[String],
    arrived: impl Fn(&[u8]) -> bool,
) -> Vec<String> {
    let mut bad = Vec::new();
    for ((p, payload), note) in sends.iter().zip(notes) {
        let arrived = arrived(payload);
        ctx.note(format!("{note}, arrived: {arrived}"));
        record(
            ctx,
            "udp",
            from,
            p.to,
            if arrived { "arrived" } else { "lost" },
            p.from.map(|f| format!("from {f}")).unwrap_or_default(),
        );
        if arrived {
            bad.push(format!("udp {}: arrived", p.label()));
        }
    }
    bad
}

/// One raw probe: what, from where, to which destination.
#[derive(Debug, Clone)]
pub struct RawProbe {
    pub kind: RawKind,
    pub from: Option<IpAddr>,
    pub to: Dest,
}

/// Raw packets (ICMP echo, SCTP, GRE) sent from `ns` that must not arrive where `observer`
/// watches (the world for outbound probes, the container for inbound ones).
fn raw_not_seen(
    ctx: &Ctx,
    what: &str,
    ns: &crate::world::netns::Netns,
    observer: &crate::world::mocks::raw::RawObserver,
    probes: &[RawProbe],
) -> Result<Option<String>> {
    let salt = salt(ctx, what);
    let mut sends = Vec::new();
    let mut tags = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let t = tag(p.kind.name(), salt, i);
        // Identifiers and SCTP ports of checks: 0x8000 and up (the controls use less).
        let id = 0x8000 | u16::try_from((salt as usize).wrapping_add(i) & 0x7fff).unwrap_or(0);
        sends.push(RawSend {
            kind: p.kind,
            from: p.from,
            to: p.to.addr,
            packet: raw_packet(p.kind, p.to.addr.is_ipv6(), id, &t),
        });
        tags.push(t);
    }
    let local = raw_all(ns, sends)?;
    std::thread::sleep(ARRIVAL_WAIT);
    let mut bad = Vec::new();
    for ((p, t), local) in probes.iter().zip(&tags).zip(local) {
        let proto = p.kind.protocol(p.to.addr.is_ipv6());
        let seen = !observer.seen(proto, p.to.addr, t).is_empty();
        let from = p.from.map(|f| format!(" from {f}")).unwrap_or_default();
        let label = format!("{}{from} to {} ({})", p.kind.name(), p.to.addr, p.to.why);
        let said = local.as_deref().unwrap_or("sent");
        ctx.note(format!("{label}: {said}, arrived: {seen}"));
        record(
            ctx,
            p.kind.name(),
            if p.from.is_some() {
                "world"
            } else {
                "container"
            },
            SocketAddr::new(p.to.addr, 0),
            if seen { "arrived" } else { "lost" },
            from,
        );
        if seen {
            bad.push(format!("{label}: arrived"));
        }
    }
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// Raw packets of each kind to each destination, from the container, that must not arrive in
/// the world.
pub fn raw_not_arriving(
    ctx: &Ctx,
    what: &str,
    kinds: &[RawKind],
    dests: &[Dest],
) -> Result<Option<String>> {
    let probes: Vec<RawProbe> = kinds
        .iter()
        .flat_map(|k| {
            dests.iter().map(move |d| RawProbe {
                kind: *k,
                from: None,
                to: d.clone(),
            })
        })
        .collect();
    raw_not_seen(
        ctx,
        what,
        &ctx.sb.topo.container,
        &ctx.sb.world_raw,
        &probes,
    )
}

/// New TCP connections from the world (each from its probe's source) to the container that must
/// not be made.
pub fn inbound_tcp_refused(ctx: &Ctx, what: &str, probes: &[Probe]) -> Result<Option<String>> {
    let got = tcp_all(&ctx.sb.topo.world, probes, INBOUND_WAIT)?;
    let mut bad = Vec::new();
    for (p, v) in probes.iter().zip(got) {
        ctx.note(format!("from the world, tcp {}: {v}", p.label()));
        let from = p.from.map(|f| f.to_string()).unwrap_or_default();
        record(
            ctx,
            "tcp",
            "world",
            p.to,
            verdict_word(&v),
            format!("from {from}"),
        );
        if v.is_connected() {
            bad.push(format!("tcp {}: {v}", p.label()));
        }
    }
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// How long an inbound connect waits: a firewall that drops (or whose reset it rejects) shows
/// as a timeout, which passes; only a connection fails.
const INBOUND_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Datagrams from the world (each from its probe's source) that must not reach the container's
/// listeners.
pub fn inbound_udp_not_arriving(ctx: &Ctx, what: &str, probes: &[Probe]) -> Result<Option<String>> {
    let salt = salt(ctx, what);
    let sends: Vec<(Probe, Vec<u8>)> = probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), tag("in-udp", salt, i)))
        .collect();
    udp_all(&ctx.sb.topo.world, sends.clone())?;
    std::thread::sleep(ARRIVAL_WAIT);
    let notes: Vec<String> = sends
        .iter()
        .map(|(p, _)| format!("from the world, udp {}", p.label()))
        .collect();
    let bad = judge_arrivals(ctx, "world", &sends, &notes, |payload| {
        ctx.sb.inbound.udp_arrived(payload)
    });
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// ICMP echo requests from the world's sources that must not reach the container at `to`.
pub fn inbound_echo_not_arriving(
    ctx: &Ctx,
    what: &str,
    sources: &[Dest],
    to: IpAddr,
) -> Result<Option<String>> {
    let probes: Vec<RawProbe> = sources
        .iter()
        .map(|s| RawProbe {
            kind: RawKind::IcmpEcho,
            from: Some(s.addr),
            to: Dest {
                addr: to,
                why: format!("the container, from {}", s.why),
            },
        })
        .collect();
    raw_not_seen(ctx, what, &ctx.sb.topo.world, &ctx.sb.inbound.raw, &probes)
}

/// The reasons that are not `None`.
pub fn collect(parts: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    parts.into_iter().flatten().collect()
}

/// POL-01: TCP to every IPv4 destination of the spread is rejected fast.
pub fn pol01(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([tcp_rejected(ctx, "TCP spread", &sp.tcp_v4())?]))
}

/// POL-02: no datagram to an IPv4 destination of the spread arrives.
pub fn pol02(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([udp_not_arriving(
        ctx,
        "UDP spread",
        &sp.udp_v4(),
    )?]))
}

/// POL-04: no new connection, datagram or echo request from the world's sources reaches the
/// container.
pub fn pol04(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([
        inbound_tcp_refused(ctx, "inbound TCP spread", &sp.inbound_tcp())?,
        inbound_udp_not_arriving(ctx, "inbound UDP spread", &sp.inbound_udp())?,
        inbound_echo_not_arriving(
            ctx,
            "inbound ICMP echo spread",
            &sp.inbound_sources(),
            fw_testkit::plan::CONTAINER_A.into(),
        )?,
    ]))
}

/// POL-06: TCP to every IPv6 destination and to the IPv4-mapped forms is rejected fast; no
/// datagram or echo request to an IPv6 destination arrives.
pub fn pol06(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([
        tcp_rejected(ctx, "IPv6 TCP spread", &sp.tcp_v6())?,
        tcp_rejected(ctx, "IPv4-mapped TCP", &sp.mapped_tcp())?,
        udp_not_arriving(ctx, "IPv6 UDP spread", &sp.udp_v6())?,
        raw_not_arriving(
            ctx,
            "ICMPv6 echo spread",
            &[RawKind::IcmpEcho],
            &sp.icmp_v6(),
        )?,
    ]))
}

/// At most this many failures are spelled out in a reason (all are in the evidence).
const LISTED: usize = 24;

/// A failing reason for `what`: how many of how many, the seed, and the failures.
pub fn reason(what: &str, failures: &[String], total: usize, seed: u64) -> Option<String> {
    if failures.is_empty() {
        return None;
    }
    let mut r = format!(
        "{what}: {} of {total} not blocked (spread seed {seed}): {}",
        failures.len(),
        failures
            .iter()
            .take(LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    if failures.len() > LISTED {
        r.push_str(&format!(
            "; and {} more (see the evidence)",
            failures.len() - LISTED
        ));
    }
    Some(r)
}

/// Records one probe for the reports.
pub fn record(
    ctx: &Ctx,
    kind: &str,
    from: &str,
    target: SocketAddr,
    verdict: &str,
    detail: String,
) {
    ctx.probes.borrow_mut().push(ProbeRecord {
        scenario: ctx.scenario().name.to_owned(),
        kind: kind.to_owned(),
        from: from.to_owned(),
        address: target.ip().to_string(),
        port: target.port(),
        verdict: verdict.to_owned(),
        errno: None,
        elapsed_ms: None,
        detail,
    });
}

/// A verdict's word for the reports.
pub fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Connected { .. } => "connected",
        Verdict::Rejected { .. } => "rejected",
        Verdict::TimedOut { .. } => "timed_out",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_reason_names_the_seed_and_caps_its_list() {
        assert_eq!(reason("x", &[], 3, 1), None);
        let r = reason("TCP spread", &["a".into(), "b".into()], 10, 77).unwrap();
        assert_eq!(r, "TCP spread: 2 of 10 not blocked (spread seed 77): a; b");
        let many: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let r = reason("x", &many, 30, 1).unwrap();
        assert!(r.ends_with("; and 6 more (see the evidence)"), "{r}");
    }
}
