//! The spread's probes: TCP connects from a chosen source, tagged UDP datagrams and raw packets
//! (ICMP echo, SCTP, GRE), each sent from inside one namespace, concurrently or in a burst, and
//! the helpers that read what arrived.
//!
//! Every datagram and raw packet carries a tag of its own, so an arrival is matched to exactly
//! one probe; the positive controls ([`super::control`]) and the checks use disjoint source
//! ports and ICMP identifiers, so no flow of a control can be mistaken by the container's
//! connection tracking for the check's (an ESTABLISHED entry would let a check's packet
//! through a firewall that accepts established flows).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::Probe;
use crate::world::mocks::raw::{GRE, ICMP, ICMPV6, SCTP};
use crate::world::netns::Netns;
use crate::world::probe::{Verdict, errno_name};

/// How long to wait for datagrams and raw packets to arrive after the last was sent.
pub const ARRIVAL_WAIT: Duration = Duration::from_millis(300);

/// A TCP connect from `from` (when given) to `to`, waiting at most `wait`. A connection that
/// was made is closed with a reset (`SO_LINGER` 0), so it leaves no `TIME_WAIT` behind that a
/// later probe of the same addresses and ports would collide with.
pub async fn tcp_from(from: Option<SocketAddr>, to: SocketAddr, wait: Duration) -> Result<Verdict> {
    let sock = if to.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .context("cannot make a TCP socket")?;
    sock.set_reuseaddr(true)?;
    if let Some(f) = from {
        // A listener of the world or the container may hold the port (shared, see
        // `mocks::hosts`): a connecting socket may bind it beside the listener.
        sock.set_reuseport(true)?;
        sock.bind(f)
            .with_context(|| format!("cannot bind a probe to {f}"))?;
    }
    let start = Instant::now();
    let ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match tokio::time::timeout(wait, sock.connect(to)).await {
        Err(_) => Ok(Verdict::TimedOut { elapsed_ms: ms() }),
        Ok(Ok(stream)) => {
            let elapsed_ms = ms();
            let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            Ok(Verdict::Connected { elapsed_ms })
        }
        Ok(Err(e)) => match e.raw_os_error() {
            Some(code) => Ok(Verdict::Rejected {
                errno: errno_name(code),
                elapsed_ms: ms(),
            }),
            None => Err(e).with_context(|| format!("connect to {to} failed without an errno")),
        },
    }
}

/// Every probe's TCP connect at once, from inside `ns`.
pub fn tcp_all(ns: &Netns, probes: &[Probe], wait: Duration) -> Result<Vec<Verdict>> {
    let ends: Vec<(Option<SocketAddr>, SocketAddr)> =
        probes.iter().map(|p| (p.from, p.to)).collect();
    ns.block_on(move || async move {
        futures::future::join_all(ends.iter().map(|(f, t)| tcp_from(*f, *t, wait))).await
    })?
    .into_iter()
    .collect()
}

/// A UDP socket for sending to `to` from `from` (or the kernel's choice), with address reuse so
/// that several probes may share a fixed source port; an IPv6 one also sends to IPv4-mapped
/// destinations.
fn udp_socket(from: Option<SocketAddr>, to: SocketAddr) -> Result<Socket> {
    let v6 = to.is_ipv6();
    let s = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .context("cannot make a UDP socket")?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if v6 {
        s.set_only_v6(false)?;
    }
    let bind = from.unwrap_or_else(|| {
        if v6 {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
        }
    });
    s.bind(&bind.into())
        .with_context(|| format!("cannot bind a UDP probe to {bind}"))?;
    Ok(s)
}

/// Sends each `(probe, payload)` from inside `ns`; the local result of each (`None`: sent, or
/// the errno the kernel answered with).
pub fn udp_all(ns: &Netns, sends: Vec<(Probe, Vec<u8>)>) -> Result<Vec<Option<String>>> {
    ns.run(move || -> Result<Vec<Option<String>>> {
        sends
            .iter()
            .map(|(p, payload)| {
                let s = udp_socket(p.from, p.to)?;
                Ok(match s.send_to(payload, &SockAddr::from(p.to)) {
                    Ok(_) => None,
                    Err(e) => Some(e.raw_os_error().map_or_else(|| e.to_string(), errno_name)),
                })
            })
            .collect()
    })?
}

/// A payload no other probe carries: `fwt-<what>-<seed>-<index>`.
pub fn tag(what: &str, seed: u64, i: usize) -> Vec<u8> {
    format!("fwt-{what}-{seed:016x}-{i}").into_bytes()
}

/// A raw protocol a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// An ICMP (or ICMPv6) echo request.
    IcmpEcho,
    /// An SCTP INIT.
    Sctp,
    /// A GRE packet carrying an IPv4 payload.
    Gre,
}

impl RawKind {
    pub fn protocol(self, v6: bool) -> u8 {
        match (self, v6) {
            (RawKind::IcmpEcho, false) => ICMP,
            (RawKind::IcmpEcho, true) => ICMPV6,
            (RawKind::Sctp, _) => SCTP,
            (RawKind::Gre, _) => GRE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RawKind::IcmpEcho => "icmp-echo",
            RawKind::Sctp => "sctp",
            RawKind::Gre => "gre",
        }
    }
}

/// The Internet checksum (ICMPv4).
fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(u16::try_from(sum).unwrap_or(0xffff))
}

/// CRC-32C (Castagnoli), SCTP's checksum.
fn crc32c(b: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in b {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The packet (after the IP header, which the kernel writes) of a raw probe: `id` is the ICMP
/// identifier or the SCTP source port, `tag` the bytes the observer matches.
pub fn raw_packet(kind: RawKind, v6: bool, id: u16, tag: &[u8]) -> Vec<u8> {
    match kind {
        RawKind::IcmpEcho => {
            let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&[0, 1]);
            p.extend_from_slice(tag);
            // The kernel computes ICMPv6's checksum (it covers a pseudo-header).
            if !v6 {
                let c = inet_checksum(&p);
                p[2..4].copy_from_slice(&c.to_be_bytes());
            }
            p
        }
        RawKind::Sctp => {
            // Common header: ports, verification tag 0 (an INIT), checksum.
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&[0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
            // INIT: initiate tag, a_rwnd, streams, initial TSN, then the tag as an optional
            // parameter of a type a receiver skips (0x8000 bit set).
            let len = u16::try_from(20 + 4 + tag.len()).unwrap_or(u16::MAX);
            p.extend_from_slice(&[1, 0]);
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[0x66, 0x77, 0x74, 0x01, 0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1]);
            p.extend_from_slice(&0x8fe7u16.to_be_bytes());
            p.extend_from_slice(
                &u16::try_from(4 + tag.len())
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            );
            p.extend_from_slice(tag);
            while !p.len().is_multiple_of(4) {
                p.push(0);
            }
            let c = crc32c(&p);
            p[8..12].copy_from_slice(&c.to_le_bytes());
            p
        }
        RawKind::Gre => {
            // No flags, version 0, protocol IPv4; the tag as the payload.
            let mut p = vec![0, 0, 0x08, 0x00];
            p.extend_from_slice(tag);
            p
        }
    }
}

/// One raw packet to send: what, from where (`None`: the kernel's choice), to where, the bytes.
#[derive(Debug, Clone)]
pub struct RawSend {
    pub kind: RawKind,
    pub from: Option<IpAddr>,
    pub to: IpAddr,
    pub packet: Vec<u8>,
}

/// Sends each packet from a raw socket inside `ns`; the local result of each (`None`: sent).
pub fn raw_all(ns: &Netns, sends: Vec<RawSend>) -> Result<Vec<Option<String>>> {
    ns.run(move || -> Result<Vec<Option<String>>> {
        sends
            .iter()
            .map(
                |RawSend {
                     kind,
                     from,
                     to: dst,
                     packet,
                 }| {
                    let v6 = dst.is_ipv6();
                    let s = Socket::new(
                        if v6 { Domain::IPV6 } else { Domain::IPV4 },
                        Type::RAW,
                        Some(Protocol::from(i32::from(kind.protocol(v6)))),
                    )
                    .with_context(|| format!("cannot open a raw {} socket", kind.name()))?;
                    if let Some(f) = from {
                        s.bind(&SocketAddr::new(*f, 0).into())
                            .with_context(|| format!("cannot send raw packets from {f}"))?;
                    }
                    Ok(match s.send_to(packet, &SocketAddr::new(*dst, 0).into()) {
                        Ok(_) => None,
                        Err(e) => Some(e.raw_os_error().map_or_else(|| e.to_string(), errno_name)),
                    })
                },
            )
            .collect()
    })?
}

/// A DNS query for an A record of `name` (RD set).
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(u8::try_from(label.len()).unwrap_or(63).min(63));
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn checksums_are_right() {
        // RFC 1071's example sums to 0xddf2; its checksum is the complement.
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(inet_checksum(&b), !0xddf2);
        // A packet carrying its own checksum sums to zero.
        let p = raw_packet(RawKind::IcmpEcho, false, 7, b"tag");
        assert_eq!(inet_checksum(&p), 0);
        // CRC-32C's check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn raw_packets_carry_their_tag() {
        for kind in [RawKind::IcmpEcho, RawKind::Sctp, RawKind::Gre] {
            for v6 in [false, true] {
                let p = raw_packet(kind, v6, 0x1234, b"fwt-tag-1");
                assert!(p.windows(9).any(|w| w == b"fwt-tag-1"), "{kind:?}");
            }
        }
        let sctp = raw_packet(RawKind::Sctp, false, 5000, b"12345678");
        assert_eq!(sctp.len() % 4, 0);
        assert_eq!(&sctp[..2], &5000u16.to_be_bytes());
        assert_eq!(sctp[12], 1, "an INIT chunk");
        let echo6 = raw_packet(RawKind::IcmpEcho, true, 1, b"x");
        assert_eq!(echo6[0], 128);
    }

    #[test]
    fn dns_queries_are_well_formed() {
        let q = dns_query(0x4242, "fwt-1.leak.test");
        assert_eq!(&q[..2], &[0x42, 0x42]);
        assert_eq!(q[12], 5);
        assert!(crate::world::mocks::hosts::dns_answer(&q).is_some());
    }
}
