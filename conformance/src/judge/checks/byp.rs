//! The BYP rows: the ways around an egress firewall that the best-tested agent firewalls are
//! tried with. Each is probed at several addresses (fixed ones and the run's drawn ones, listed
//! in [`crate::world::spread::bypass`]), and the world answers every one of them (its positive
//! controls prove it before the run), so a way around is a connection or an arrival:
//!
//! - BYP-01: DNS to any other resolver, over UDP and TCP (a tunnel out);
//! - BYP-02: DNS-over-HTTPS (and HTTP/3) to well-known resolvers that are not allowlisted;
//! - BYP-03: the cloud metadata addresses (169.254.169.254 and kin);
//! - BYP-04: a blocked host on a port the seed opens for one purpose (22 for git, 53 for DNS);
//! - BYP-05: source-port tricks (from port 53, 20, 67, 123, 443 out; from 53, 80, 20, 123 in),
//!   which a stateless "let DNS replies in" rule lets through;
//! - BYP-06: IPv4-mapped IPv6 destinations (`::ffff:198.51.100.10`) from an IPv6 socket;
//! - BYP-07: raw protocols (ICMP echo, SCTP, GRE) to blocked hosts.

use anyhow::Result;

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::scenarios;
use crate::judge::ctx::Ctx;
use crate::judge::spread::{
    collect, inbound_tcp_refused, inbound_udp_not_arriving, raw_not_arriving, reason, record,
    spread, tcp_rejected, udp_not_arriving,
};
use crate::judge::verdict::Level;
use crate::world::spread::Probe;
use crate::world::spread::bypass::{
    allowed_ports_tcp, dns_tcp, doh_tcp, doh_udp, inbound_sport_tcp, inbound_sport_udp,
    metadata_tcp, on, resolvers, sport_tcp, sport_udp,
};
use crate::world::spread::send::{ARRIVAL_WAIT, RawKind, dns_query, udp_all};

/// A DNS query name no other probe uses.
fn leak_name(salt: u64, i: usize) -> String {
    format!("fwt-{salt:x}-{i}.leak.test")
}

/// DNS queries over UDP that must not reach any resolver: neither the world's catch-all DNS
/// (which records the datagram) nor a world resolver (which logs the name).
fn dns_udp_not_arriving(ctx: &Ctx, what: &str, probes: &[Probe]) -> Result<Option<String>> {
    let salt = crate::world::probe::rand_tag() ^ ctx.sb.seed;
    let sends: Vec<(Probe, Vec<u8>)> = probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = u16::try_from(i & 0xffff).unwrap_or(0);
            (p.clone(), dns_query(id, &leak_name(salt, i)))
        })
        .collect();
    let local = udp_all(&ctx.sb.topo.container, sends.clone())?;
    std::thread::sleep(ARRIVAL_WAIT);
    let mut bad = Vec::new();
    for (i, ((p, payload), local)) in sends.iter().zip(local).enumerate() {
        let arrived = ctx.sb.udp_arrived(payload)
            || !ctx.sb.world_dns.queries_for(&leak_name(salt, i)).is_empty();
        ctx.note(format!(
            "dns over udp to {}: {}, arrived: {arrived}",
            p.label(),
            local.as_deref().unwrap_or("sent")
        ));
        record(
            ctx,
            "dns-udp",
            "container",
            p.to,
            if arrived { "arrived" } else { "lost" },
            leak_name(salt, i),
        );
        if arrived {
            bad.push(format!("dns over udp {}: arrived", p.label()));
        }
    }
    Ok(reason(what, &bad, probes.len(), ctx.sb.seed))
}

/// BYP-01: DNS to any other resolver, over UDP and TCP.
pub fn byp01(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([
        dns_udp_not_arriving(
            ctx,
            "DNS over UDP to other resolvers",
            &on(&resolvers(&sp), 53),
        )?,
        tcp_rejected(ctx, "DNS over TCP to other resolvers", &dns_tcp(&sp))?,
    ]))
}

/// BYP-02: DNS over HTTPS (TCP 443) and HTTP/3 (UDP 443) to resolvers not allowlisted.
pub fn byp02(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(collect([
        tcp_rejected(ctx, "DNS over HTTPS", &doh_tcp())?,
        udp_not_arriving(ctx, "DNS over HTTP/3 (QUIC)", &doh_udp())?,
    ]))
}

/// BYP-03: the cloud metadata addresses.
pub fn byp03(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(collect([tcp_rejected(
        ctx,
        "cloud metadata",
        &metadata_tcp(),
    )?]))
}

/// BYP-04: blocked hosts on the ports the seed opens (22, 53).
pub fn byp04(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([tcp_rejected(
        ctx,
        "blocked hosts on ports 22 and 53",
        &allowed_ports_tcp(&sp),
    )?]))
}

/// BYP-05: source-port tricks, out and in.
pub fn byp05(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(collect([
        tcp_rejected(ctx, "TCP from a trusted source port", &sport_tcp())?,
        udp_not_arriving(ctx, "UDP from a trusted source port", &sport_udp())?,
        inbound_tcp_refused(
            ctx,
            "inbound TCP from a trusted source port",
            &inbound_sport_tcp(),
        )?,
        inbound_udp_not_arriving(
            ctx,
            "inbound UDP from a trusted source port",
            &inbound_sport_udp(),
        )?,
    ]))
}

/// BYP-06: IPv4-mapped IPv6 destinations.
pub fn byp06(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([
        tcp_rejected(ctx, "IPv4-mapped TCP", &sp.mapped_tcp())?,
        udp_not_arriving(ctx, "IPv4-mapped UDP", &sp.mapped_udp())?,
    ]))
}

/// BYP-07: ICMP echo, SCTP and GRE to blocked hosts.
pub fn byp07(ctx: &Ctx) -> Result<Vec<String>> {
    let sp = spread(ctx);
    Ok(collect([raw_not_arriving(
        ctx,
        "raw protocols",
        &[RawKind::IcmpEcho, RawKind::Sctp, RawKind::Gre],
        &sp.raw_v4(),
    )?]))
}

/// A bypass check's verdict: judged after success only (a container left open by a failed init
/// must not pass), failing with every part that did not hold.
fn judged(ctx: &Ctx, check: fn(&Ctx) -> Result<Vec<String>>) -> Result<Outcome> {
    if let Some(why) = ctx.init_failed() {
        return Ok(Outcome::Fail(why));
    }
    let bad = check(ctx)?;
    Ok(if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(bad.join("; "))
    })
}

/// A case with its rationale.
fn why(mut case: Case, rationale: &'static str) -> Case {
    case.rationale = rationale;
    case
}

/// The bypass rows (issue 16): ways around an egress firewall, each probed at a spread of
/// addresses ([`crate::world::spread::bypass`]).
pub fn rows() -> Vec<Case> {
    let c = Case::new;
    use Level::{Must, Should};
    vec![
        why(
            c(
                "BYP-01",
                Should,
                "No DNS to other resolvers",
                "A queries over UDP to public resolvers, an unconfigured world resolver and drawn addresses never arrive; TCP 53 to them is rejected fast",
                scenarios::default_and_none,
                |ctx| judged(ctx, byp01),
            ),
            "a resolver the firewall does not control is a tunnel out (data in the names asked, answers in the records); SHOULD: the seed allows DNS (UDP 53) to any address",
        ),
        why(
            c(
                "BYP-02",
                Must,
                "No DNS over HTTPS to resolvers not allowlisted",
                "HTTPS (TCP 443) to well-known DoH resolvers rejected fast; HTTP/3 (UDP 443) to them never arrives",
                scenarios::default,
                |ctx| judged(ctx, byp02),
            ),
            "DoH hides lookups, and tunnels, in ordinary HTTPS; MUST: the seed's default deny already blocks 443 to an address that is not allowlisted",
        ),
        why(
            c(
                "BYP-03",
                Must,
                "No cloud metadata service",
                "TCP to 169.254.169.254 (80, 443), 169.254.170.2 and 100.100.100.200 rejected fast",
                scenarios::default,
                |ctx| judged(ctx, byp03),
            ),
            "the metadata service hands out the machine's cloud credentials; MUST: it is not allowlisted, so the seed's default deny covers it",
        ),
        why(
            c(
                "BYP-04",
                Should,
                "Ports opened for one purpose lead nowhere else",
                "TCP 22 and TCP 53 to blocked hosts, GitHub's and the domains' neighbours and drawn addresses rejected fast",
                scenarios::default,
                |ctx| judged(ctx, byp04),
            ),
            "port 22 opened for git and 53 for DNS are tunnels to every host (ssh -D, DNS over TCP to anyone); SHOULD: the seed opens TCP 22 and 53 to any address",
        ),
        why(
            c(
                "BYP-05",
                Must,
                "Source-port tricks get nowhere",
                "from the container's ports 53, 20, 67, 123, 443 to blocked hosts: rejected fast, no datagram arrives; from the world's ports 53, 80, 20, 123 (UDP: 53, 123, 443) to the container's listeners: no connection, no datagram",
                scenarios::default,
                |ctx| judged(ctx, byp05),
            ),
            "a stateless rule that lets DNS replies in by source port lets in anyone who sends from port 53 (and likewise out); MUST: the seed filters by destination port and connection state only",
        ),
        why(
            c(
                "BYP-06",
                Must,
                "IPv4-mapped IPv6 destinations are blocked as the IPv4 host",
                "TCP from an IPv6 socket to ::ffff:198.51.100.10 (443, 80, 8080, a high port) and other ::ffff: forms rejected fast; UDP to them never arrives; v4 only and dual stack",
                scenarios::default_and_dual,
                |ctx| judged(ctx, byp06),
            ),
            "::ffff:a.b.c.d is the IPv4 host: an allowlist that compares the text of addresses, or filters one family only, misses it; MUST: it leaves as IPv4, which the seed's default deny covers",
        ),
        why(
            c(
                "BYP-07",
                Must,
                "Raw protocols to blocked hosts do not leave",
                "ICMP echo, SCTP and GRE packets to blocked hosts, a GitHub neighbour and drawn addresses never arrive at the world side",
                scenarios::default,
                |ctx| judged(ctx, byp07),
            ),
            "ICMP echo, SCTP and GRE carry tunnels as well as TCP and UDP do (ping tunnels, GRE tunnels); MUST: the seed's default deny covers every protocol",
        ),
    ]
}
