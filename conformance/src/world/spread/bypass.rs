//! The destinations of the BYP rows (the known ways around an egress firewall): other
//! resolvers, DNS-over-HTTPS, the cloud metadata addresses, blocked hosts on the ports the seed
//! opens for one purpose, source-port tricks both ways. The rows' judging is the judge's
//! (`judge::checks::byp`); the world answers every one of these, and [`super::control`] proves
//! it before the run.

use std::net::{IpAddr, SocketAddr};

use fw_testkit::plan::{BLOCKED, CONTAINER_A, PEER_PORT, UDP_ECHO_PORT, UNCONFIGURED_RESOLVER};

use super::{Dest, Probe, Spread, v4};

/// Resolvers a container must not reach (BYP-01): public ones, and a world resolver it is not
/// configured with. The configured resolvers (and Docker's upstream) are never among them.
const RESOLVERS: &[(IpAddr, &str)] = &[
    (v4(8, 8, 8, 8), "Google Public DNS"),
    (v4(1, 1, 1, 1), "Cloudflare DNS"),
    (v4(9, 9, 9, 9), "Quad9"),
    (v4(208, 67, 222, 222), "OpenDNS"),
    (
        IpAddr::V4(UNCONFIGURED_RESOLVER),
        "an unconfigured world resolver",
    ),
];

/// DNS-over-HTTPS resolvers (BYP-02).
const DOH: &[(IpAddr, &str)] = &[
    (v4(1, 1, 1, 1), "Cloudflare DoH"),
    (v4(1, 0, 0, 1), "Cloudflare DoH"),
    (v4(8, 8, 8, 8), "Google DoH"),
    (v4(8, 8, 4, 4), "Google DoH"),
    (v4(9, 9, 9, 9), "Quad9 DoH"),
    (v4(149, 112, 112, 112), "Quad9 DoH"),
    (v4(94, 140, 14, 14), "AdGuard DoH"),
    (v4(208, 67, 222, 222), "OpenDNS DoH"),
];

/// Cloud metadata services (BYP-03).
const METADATA: &[(IpAddr, u16, &str)] = &[
    (v4(169, 254, 169, 254), 80, "the cloud metadata service"),
    (v4(169, 254, 169, 254), 443, "the cloud metadata service"),
    (v4(169, 254, 170, 2), 80, "ECS task metadata"),
    (v4(100, 100, 100, 200), 80, "Alibaba Cloud metadata"),
];

/// Source ports of the outbound tricks (BYP-05): DNS, FTP data, DHCP, NTP, HTTPS.
pub const TRICK_PORTS_TCP: [u16; 5] = [53, 20, 67, 123, 443];
/// Source ports of the outbound UDP tricks.
pub const TRICK_PORTS_UDP: [u16; 3] = [53, 67, 123];
/// Source ports of the inbound TCP tricks: replies of DNS, HTTP, FTP data, NTP. (Not 443: the
/// world's HTTPS responder holds that port unshared, and a restarted responder must not share
/// it with its predecessor; HTTPS replies are tried over UDP, QUIC's.)
pub const INBOUND_TRICK_PORTS_TCP: [u16; 4] = [53, 80, 20, 123];
/// Source ports of the inbound UDP tricks: DNS, NTP, QUIC.
pub const INBOUND_TRICK_PORTS_UDP: [u16; 3] = [53, 123, 443];

fn dests(list: &[(IpAddr, &str)]) -> Vec<Dest> {
    list.iter()
        .map(|(a, why)| Dest {
            addr: *a,
            why: (*why).to_owned(),
        })
        .collect()
}

/// Each destination on `port`.
pub fn on(dests: &[Dest], port: u16) -> Vec<Probe> {
    dests
        .iter()
        .map(|d| Probe {
            to: SocketAddr::new(d.addr, port),
            from: None,
            why: d.why.clone(),
        })
        .collect()
}

/// BYP-01's resolvers: the fixed ones and two drawn addresses.
pub fn resolvers(sp: &Spread) -> Vec<Dest> {
    let mut v = dests(RESOLVERS);
    v.extend(sp.drawn_v4().into_iter().skip(2).take(2).cloned());
    v
}

/// BYP-01 over TCP.
pub fn dns_tcp(sp: &Spread) -> Vec<Probe> {
    on(&resolvers(sp), 53)
}

/// BYP-02 over TCP (HTTPS).
pub fn doh_tcp() -> Vec<Probe> {
    on(&dests(DOH), 443)
}

/// BYP-02 over UDP (HTTP/3).
pub fn doh_udp() -> Vec<Probe> {
    on(&dests(&DOH[..3]), 443)
}

/// BYP-03.
pub fn metadata_tcp() -> Vec<Probe> {
    METADATA
        .iter()
        .map(|(a, port, why)| Probe {
            to: SocketAddr::new(*a, *port),
            from: None,
            why: (*why).to_owned(),
        })
        .collect()
}

/// BYP-04: blocked destinations on 22 and 53.
pub fn allowed_ports_tcp(sp: &Spread) -> Vec<Probe> {
    let mut d: Vec<Dest> = sp
        .v4
        .iter()
        .filter(|d| {
            [
                IpAddr::V4(BLOCKED),
                v4(8, 8, 8, 8),
                v4(192, 0, 3, 10),
                v4(203, 0, 113, 21),
                v4(172, 20, 0, 10),
            ]
            .contains(&d.addr)
        })
        .cloned()
        .collect();
    d.extend(sp.drawn_v4().into_iter().take(2).cloned());
    let mut v = on(&d, 22);
    v.extend(on(&d, 53));
    v
}

/// The destinations of BYP-05's outbound tricks.
fn trick_targets(udp: bool) -> Vec<Probe> {
    let blocked_port = if udp { UDP_ECHO_PORT } else { 443 };
    let public_port = if udp { 443 } else { 8080 };
    vec![
        Probe {
            to: SocketAddr::new(BLOCKED.into(), blocked_port),
            from: None,
            why: "a blocked host".to_owned(),
        },
        Probe {
            to: SocketAddr::new(v4(8, 8, 8, 8), public_port),
            from: None,
            why: "a public address".to_owned(),
        },
    ]
}

fn from_ports(targets: &[Probe], local: IpAddr, ports: &[u16]) -> Vec<Probe> {
    ports
        .iter()
        .flat_map(|port| {
            targets.iter().map(move |t| Probe {
                from: Some(SocketAddr::new(local, *port)),
                why: format!("{}, from port {port}", t.why),
                ..t.clone()
            })
        })
        .collect()
}

/// BYP-05's outbound TCP: from the container's source ports 53, 20, 67, 123, 443.
pub fn sport_tcp() -> Vec<Probe> {
    from_ports(&trick_targets(false), CONTAINER_A.into(), &TRICK_PORTS_TCP)
}

/// BYP-05's outbound UDP.
pub fn sport_udp() -> Vec<Probe> {
    from_ports(&trick_targets(true), CONTAINER_A.into(), &TRICK_PORTS_UDP)
}

/// BYP-05's inbound probes: from the world's `sources` and source `ports` to `to`.
fn inbound_tricks(ports: &[u16], to: &[u16]) -> Vec<Probe> {
    let mut v = Vec::new();
    for (src, what) in [
        (v4(8, 8, 8, 8), "a public address"),
        (IpAddr::V4(BLOCKED), "a blocked host"),
    ] {
        for sport in ports {
            for dport in to {
                v.push(Probe {
                    to: SocketAddr::new(CONTAINER_A.into(), *dport),
                    from: Some(SocketAddr::new(src, *sport)),
                    why: format!("from {what}'s port {sport}"),
                });
            }
        }
    }
    v
}

/// BYP-05's inbound TCP: from the world's ports 53, 80, 20, 123 to the container's listeners.
pub fn inbound_sport_tcp() -> Vec<Probe> {
    inbound_tricks(&INBOUND_TRICK_PORTS_TCP, &[PEER_PORT, 443])
}

/// BYP-05's inbound UDP: from the world's ports 53, 123 and 443.
pub fn inbound_sport_udp() -> Vec<Probe> {
    inbound_tricks(&INBOUND_TRICK_PORTS_UDP, &[UDP_ECHO_PORT])
}
