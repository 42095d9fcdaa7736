//! Raw-socket observers: every packet of the watched IP protocols (ICMP, SCTP, GRE) that reaches
//! a namespace, with its destination address and payload.
//!
//! A firewall that lets ICMP echo, SCTP or GRE out to a blocked host leaks whatever the kernel
//! at the other end does with the packet: the leak is the packet's arrival, so that is what is
//! recorded. A raw socket receives a copy of every incoming packet of its protocol before the
//! protocol's own handler runs (if the kernel has one at all: SCTP and GRE need modules this
//! machine may not have, and nothing here loads one), so the observer sees the packets whatever
//! the kernel then does with them. In the container it observes inbound probes: a raw socket
//! sees a packet only after the `INPUT` hook, so one the firewall rejects is never recorded.
//!
//! IPv4 raw sockets deliver the IP header (the destination is read from it); IPv6 ones do not,
//! so the destination comes from `IPV6_PKTINFO`.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::world::netns::{Netns, Service};

/// ICMP (IPv4).
pub const ICMP: u8 = 1;
/// GRE.
pub const GRE: u8 = 47;
/// SCTP.
pub const SCTP: u8 = 132;
/// ICMPv6.
pub const ICMPV6: u8 = 58;

/// One packet seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArrival {
    /// The IP protocol (for IPv6, the next header of the packet as the socket got it).
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The packet after the IP header.
    pub payload: Vec<u8>,
    pub at: Instant,
}

impl RawArrival {
    /// Whether the payload carries `tag` anywhere.
    pub fn carries(&self, tag: &[u8]) -> bool {
        !tag.is_empty() && self.payload.windows(tag.len()).any(|w| w == tag)
    }
}

type Log = Arc<Mutex<Vec<RawArrival>>>;

/// A running observer; dropping it closes its sockets.
#[derive(Debug)]
pub struct RawObserver {
    log: Log,
    _service: Service,
}

impl RawObserver {
    /// Every packet seen so far.
    pub fn arrivals(&self) -> Vec<RawArrival> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The packets of `protocol` to `dst` that carry `tag` (for ICMP and ICMPv6, echo requests
    /// only: the kernel's echo replies carry the same payload).
    pub fn seen(&self, protocol: u8, dst: IpAddr, tag: &[u8]) -> Vec<RawArrival> {
        self.arrivals()
            .into_iter()
            .filter(|a| a.protocol == protocol && a.dst == dst.to_canonical() && a.carries(tag))
            .filter(|a| match protocol {
                ICMP => a.payload.first() == Some(&8),
                ICMPV6 => a.payload.first() == Some(&128),
                _ => true,
            })
            .collect()
    }
}

/// Starts an observer in `ns` for ICMP, GRE and SCTP over IPv4 and, with `v6`, for ICMPv6,
/// GRE and SCTP over IPv6.
///
/// The sockets are opened on the service's thread, inside `ns` (a socket belongs to the
/// namespace it was made in), then each is read by a plain thread with a short timeout, so
/// that the observer stops promptly when dropped.
pub fn start_raw_observer(ns: &Netns, v6: bool) -> Result<RawObserver> {
    let log: Log = Arc::default();
    let service_log = log.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let service = ns.spawn_service("raw", move |stop| async move {
        let mut wanted = vec![(false, ICMP), (false, GRE), (false, SCTP)];
        if v6 {
            wanted.extend([(true, ICMPV6), (true, GRE), (true, SCTP)]);
        }
        let opened: Result<Vec<(bool, u8, Socket)>> = wanted
            .into_iter()
            .map(|(is_v6, proto)| Ok((is_v6, proto, raw_socket(is_v6, proto)?)))
            .collect();
        let sockets = match opened {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = sockets
            .into_iter()
            .map(|(is_v6, proto, sock)| {
                let (log, done) = (service_log.clone(), done.clone());
                std::thread::spawn(move || observe(&sock, is_v6, proto, &log, &done))
            })
            .collect();
        let _ = tx.send(Ok(()));
        let _ = stop.await;
        done.store(true, Ordering::SeqCst);
        for r in readers {
            let _ = r.join();
        }
    })?;
    super::wait_ready(&rx, "raw observer")?;
    Ok(RawObserver {
        log,
        _service: service,
    })
}

/// How long a reader waits for a packet before it looks whether it must stop.
const READ_TICK: Duration = Duration::from_millis(100);

fn raw_socket(v6: bool, proto: u8) -> Result<Socket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(proto))))
        .with_context(|| format!("cannot open a raw socket for protocol {proto}"))?;
    if v6 {
        setsockopt(&s.as_fd(), sockopt::Ipv6RecvPacketInfo, &true)
            .with_context(|| format!("cannot ask for packet info on raw protocol {proto}"))?;
    }
    s.set_read_timeout(Some(READ_TICK))?;
    Ok(s)
}

fn observe(sock: &Socket, v6: bool, proto: u8, log: &Log, done: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !done.load(Ordering::SeqCst) {
        let got = if v6 {
            super::hosts::recv_with_dst(sock.as_raw_fd(), &mut buf)
                .map(|(n, src, dst)| src.zip(dst).map(|(s, d)| (s.ip(), d, buf[..n].to_vec())))
        } else {
            let mut reader: &Socket = sock;
            reader.read(&mut buf).map(|n| parse_v4(&buf[..n]))
        };
        // A timeout (or any error) just goes round again until the observer stops.
        let Ok(Some((src, dst, payload))) = got else {
            continue;
        };
        if let Ok(mut l) = log.lock() {
            l.push(RawArrival {
                protocol: proto,
                src,
                dst,
                payload,
                at: Instant::now(),
            });
        }
    }
}

/// Source, destination and payload of an IPv4 packet.
fn parse_v4(p: &[u8]) -> Option<(IpAddr, IpAddr, Vec<u8>)> {
    let ihl = usize::from(*p.first()? & 0x0f) * 4;
    if ihl < 20 || p.len() < ihl {
        return None;
    }
    let addr = |at: usize| IpAddr::V4(Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]));
    Some((addr(12), addr(16), p[ihl..].to_vec()))
}

/// Where a raw probe's packet is sent: a destination with port 0 (raw sockets take no port).
pub fn raw_target(dst: IpAddr) -> SocketAddr {
    SocketAddr::new(dst, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::world::mocks::testing::{privileged, world_like};

    #[test]
    fn the_ipv4_header_is_read() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 47, 0, 0, 10, 0, 0, 1, 8, 8, 8, 8,
        ];
        p.extend_from_slice(b"payload!");
        let (src, dst, payload) = parse_v4(&p).unwrap();
        assert_eq!(src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(dst, "8.8.8.8".parse::<IpAddr>().unwrap());
        assert_eq!(payload, b"payload!");
        assert!(parse_v4(&p[..10]).is_none());
    }

    #[test]
    fn every_watched_protocol_is_recorded_with_its_destination() {
        if !privileged() {
            return;
        }
        let ns = world_like("raw-obs", &["198.51.100.0/24", "2001:db8:bad::/48"]);
        let obs = start_raw_observer(&ns, true).unwrap();
        ns.run(|| {
            for (dst, proto) in [
                ("198.51.100.10", ICMP),
                ("198.51.100.11", GRE),
                ("198.51.100.12", SCTP),
                ("2001:db8:bad::10", ICMPV6),
                ("2001:db8:bad::11", GRE),
            ] {
                let dst: IpAddr = dst.parse().unwrap();
                let domain = if dst.is_ipv6() {
                    Domain::IPV6
                } else {
                    Domain::IPV4
                };
                let s =
                    Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(proto)))).unwrap();
                // An ICMP echo request header (type 8 or 128), then the tag.
                let ty = if proto == ICMPV6 { 128 } else { 8 };
                let mut p = vec![ty, 0, 0, 0, 0, 1, 0, 1];
                p.extend_from_slice(b"fwt-raw-tag");
                s.send_to(&p, &raw_target(dst).into()).unwrap();
            }
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(obs.seen(ICMP, ip("198.51.100.10"), b"fwt-raw-tag").len(), 1);
        assert_eq!(obs.seen(GRE, ip("198.51.100.11"), b"fwt-raw-tag").len(), 1);
        assert_eq!(obs.seen(SCTP, ip("198.51.100.12"), b"fwt-raw-tag").len(), 1);
        assert_eq!(
            obs.seen(ICMPV6, ip("2001:db8:bad::10"), b"fwt-raw-tag")
                .len(),
            1
        );
        assert_eq!(
            obs.seen(GRE, ip("2001:db8:bad::11"), b"fwt-raw-tag").len(),
            1
        );
        assert!(
            obs.seen(GRE, ip("198.51.100.10"), b"fwt-raw-tag")
                .is_empty()
        );
        assert!(obs.seen(ICMP, ip("198.51.100.10"), b"other").is_empty());
    }
}
