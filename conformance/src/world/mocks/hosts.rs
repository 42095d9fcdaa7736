//! The world's test hosts: TCP listeners that send a banner and then echo, and a UDP echo,
//! answering on every address of the world (its local routes) and recording what reached them.
//!
//! A closed port answers with the host's own RST, which would pass for a firewall's REJECT, so
//! every port a case probes must listen here. The records are what lets a case tell "blocked"
//! from "never sent": a datagram to a blocked host must never appear in [`Hosts::udp_arrivals`],
//! whatever the container's socket said. The banner names the port and the address reached,
//! and the echo lets a case check that a long-lived connection still carries data (SEQ-08/09).
//!
//! On port 53 they are the rest of the internet's resolvers: a query (UDP or TCP) to any address
//! gets a DNS answer ([`dns_answer`]), so DNS to an unconfigured resolver is an answered query,
//! not a timeout. The world's own resolvers, on their addresses, take precedence (the more
//! specific bind).
//!
//! Every port is shared (`SO_REUSEPORT`): with the world's resolvers on port 53, and with the
//! probes that send from a chosen address and port (a source-port trick from 8.8.8.8:53, or
//! from the container's own port 443 while its inbound listener holds it).
//!
//! UDP listens on the wildcard address and learns each datagram's destination from
//! `IP_PKTINFO` / `IPV6_PKTINFO`, then answers from that same address, so a connected client
//! socket accepts the echo; one socket per port serves the whole world.

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, SockaddrLike,
    SockaddrStorage, recvmsg, sendmsg, setsockopt, sockopt,
};
use socket2::Type;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::world::netns::{Netns, Service};

/// Largest datagram echoed.
const MAX_DATAGRAM: usize = 65_536;

/// What the world's hosts listen on.
#[derive(Debug, Clone, Default)]
pub struct HostsOptions {
    /// TCP ports with a banner-and-echo listener (22, 80, 8080, a high port...).
    pub tcp_ports: Vec<u16>,
    /// UDP ports with an echo.
    pub udp_ports: Vec<u16>,
    /// Listen on IPv6 ([::]) as well as IPv4 (0.0.0.0).
    pub dual_stack: bool,
    /// Listen on these addresses instead of the wildcard ones (the container's inbound
    /// listeners: an implementation that binds a port on loopback or on the wildcard address
    /// must not find it taken by the harness).
    pub addrs: Vec<IpAddr>,
}

/// One TCP connection accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpAccept {
    pub peer: SocketAddr,
    /// The address and port the client reached.
    pub local: SocketAddr,
    pub at: Instant,
}

impl TcpAccept {
    pub fn port(&self) -> u16 {
        self.local.port()
    }
}

/// One datagram received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpArrival {
    pub peer: SocketAddr,
    /// The datagram's destination address and port (from the packet itself, not the socket).
    pub local: SocketAddr,
    pub bytes: Vec<u8>,
    pub at: Instant,
}

impl UdpArrival {
    pub fn port(&self) -> u16 {
        self.local.port()
    }
}

#[derive(Debug, Default)]
struct Logs {
    tcp: Mutex<Vec<TcpAccept>>,
    udp: Mutex<Vec<UdpArrival>>,
}

/// The running test hosts; dropping them stops every listener and open connection.
#[derive(Debug)]
pub struct Hosts {
    tcp: Vec<SocketAddr>,
    udp: Vec<SocketAddr>,
    logs: Arc<Logs>,
    _service: Service,
}

impl Hosts {
    /// The TCP listening sockets (wildcard addresses).
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// The UDP sockets (wildcard addresses).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// Every TCP connection accepted so far.
    pub fn tcp_accepts(&self) -> Vec<TcpAccept> {
        self.logs.tcp.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every datagram received so far.
    pub fn udp_arrivals(&self) -> Vec<UdpArrival> {
        self.logs.udp.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The datagrams that satisfy `filter`, e.g. `|a| a.local == target`.
    pub fn arrivals_udp(&self, filter: impl Fn(&UdpArrival) -> bool) -> Vec<UdpArrival> {
        self.udp_arrivals()
            .into_iter()
            .filter(|a| filter(a))
            .collect()
    }

    /// Forgets what arrived so far (after a baseline probe, say).
    pub fn clear(&self) {
        if let Ok(mut l) = self.logs.tcp.lock() {
            l.clear();
        }
        if let Ok(mut l) = self.logs.udp.lock() {
            l.clear();
        }
    }
}

/// Starts the test hosts in `world`.
pub fn start_hosts(world: &Netns, opts: HostsOptions) -> Result<Hosts> {
    let logs = Arc::new(Logs::default());
    let service_logs = logs.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let service = world.spawn_service("hosts", move |stop| async move {
        let mut families = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
        if opts.dual_stack {
            families.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        }
        if !opts.addrs.is_empty() {
            families.clone_from(&opts.addrs);
        }
        let bound = (|| {
            let mut tcp = Vec::new();
            let mut udp = Vec::new();
            for ip in &families {
                for port in &opts.tcp_ports {
                    tcp.push(super::tcp_listen_shared(SocketAddr::new(*ip, *port))?);
                }
                for port in &opts.udp_ports {
                    udp.push(udp_bind(SocketAddr::new(*ip, *port))?);
                }
            }
            anyhow::Ok((tcp, udp))
        })();
        let (tcp, udp) = match bound {
            Ok(b) => b,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let addrs = (
            tcp.iter().filter_map(|l| l.local_addr().ok()).collect(),
            udp.iter().filter_map(|s| s.local_addr().ok()).collect(),
        );
        let _ = tx.send(Ok(addrs));
        let mut tasks = tokio::task::JoinSet::new();
        for l in tcp {
            tasks.spawn(accept_loop(l, service_logs.clone()));
        }
        for s in udp {
            tasks.spawn(echo_loop(s, service_logs.clone()));
        }
        let _ = stop.await;
    })?;
    let (tcp, udp) = super::wait_ready(&rx, "hosts")?;
    Ok(Hosts {
        tcp,
        udp,
        logs,
        _service: service,
    })
}

async fn accept_loop(listener: TcpListener, logs: Arc<Logs>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        if let Ok(mut l) = logs.tcp.lock() {
            l.push(TcpAccept {
                peer,
                local: canonical(local),
                at: Instant::now(),
            });
        }
        if local.port() == DNS_PORT {
            tokio::spawn(dns_over_tcp(stream));
        } else {
            tokio::spawn(banner_and_echo(stream, canonical(local)));
        }
    }
}

/// The port on which the hosts answer DNS instead of echoing.
const DNS_PORT: u16 = 53;

// What the hosts' DNS answers to every A query: any address would do (the answer only shows
// that a query reached a resolver).
use fw_testkit::plan::HOSTS_DNS_ANSWER as DNS_ANSWER;

/// A DNS answer to `query` as any resolver on the internet would give it: NOERROR, and for an A
/// question one record, [`DNS_ANSWER`]. `None` when `query` is not a query.
pub fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    // Header (12 bytes): QR clear, one question.
    if query.len() < 12 || query[2] & 0x80 != 0 || query[4..6] != [0, 1] {
        return None;
    }
    let mut i = 12;
    while *query.get(i)? != 0 {
        i += 1 + usize::from(query[i]);
    }
    let end = i + 5;
    let qtype = query.get(i + 1..i + 3)?;
    let is_a = qtype == [0, 1];
    let mut r = query.get(..end)?.to_vec();
    r[2] = 0x80 | (query[2] & 0x01); // QR, RD as asked
    r[3] = 0x80; // RA, NOERROR
    r[6..12].copy_from_slice(&[0, u8::from(is_a), 0, 0, 0, 0]);
    if is_a {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
        r.extend_from_slice(&DNS_ANSWER.octets());
    }
    Some(r)
}

/// DNS over TCP: each length-prefixed query gets [`dns_answer`]; anything else ends the
/// connection.
async fn dns_over_tcp(mut stream: TcpStream) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut q).await.is_err() {
            return;
        }
        let Some(a) = dns_answer(&q) else { return };
        let Ok(alen) = u16::try_from(a.len()) else {
            return;
        };
        let mut framed = alen.to_be_bytes().to_vec();
        framed.extend_from_slice(&a);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// `fwt <port> <address reached>\n`, then everything received, back.
async fn banner_and_echo(mut stream: TcpStream, local: SocketAddr) {
    let banner = format!("fwt {} {}\n", local.port(), local.ip());
    if stream.write_all(banner.as_bytes()).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// An IPv4-mapped address as the IPv4 address it is.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// A UDP socket on `addr` that reports each datagram's destination.
fn udp_bind(addr: SocketAddr) -> Result<UdpSocket> {
    let s = super::shared_socket(addr, Type::DGRAM)?;
    if addr.is_ipv6() {
        setsockopt(&s.as_fd(), sockopt::Ipv6RecvPacketInfo, &true)
    } else {
        setsockopt(&s.as_fd(), sockopt::Ipv4PacketInfo, &true)
    }
    .with_context(|| format!("cannot ask for packet info on {addr}"))?;
    UdpSocket::from_std(s.into()).with_context(|| format!("cannot register UDP {addr}"))
}

async fn echo_loop(sock: UdpSocket, logs: Arc<Logs>) {
    let Ok(bound) = sock.local_addr() else {
        return;
    };
    let fd = sock.as_raw_fd();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let got = sock
            .async_io(Interest::READABLE, || recv_with_dst(fd, &mut buf))
            .await;
        let (n, peer, dst) = match got {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!("udp echo on {bound}: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(peer) = peer else { continue };
        let dst = dst.unwrap_or(bound.ip());
        if let Ok(mut l) = logs.udp.lock() {
            l.push(UdpArrival {
                peer,
                local: SocketAddr::new(dst, bound.port()),
                bytes: buf[..n].to_vec(),
                at: Instant::now(),
            });
        }
        let answer = (bound.port() == DNS_PORT)
            .then(|| dns_answer(&buf[..n]))
            .flatten();
        let data = answer.as_deref().unwrap_or(&buf[..n]);
        let sent = sock
            .async_io(Interest::WRITABLE, || send_from(fd, data, peer, dst))
            .await;
        if let Err(e) = sent {
            tracing::debug!("udp echo from {dst} to {peer}: {e}");
        }
    }
}

/// One datagram: its length, its source and its destination address (also for raw IPv6
/// sockets, [`super::raw`]).
pub(super) fn recv_with_dst(
    fd: RawFd,
    buf: &mut [u8],
) -> std::io::Result<(usize, Option<SocketAddr>, Option<IpAddr>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::in_pktinfo);
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
        .map_err(std::io::Error::from)?;
    let mut dst = None;
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv4PacketInfo(pi) => {
                dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr))));
            }
            ControlMessageOwned::Ipv6PacketInfo(pi) => {
                dst = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)).to_canonical());
            }
            _ => {}
        }
    }
    let peer = msg.address.and_then(|a| {
        a.as_sockaddr_in()
            .map(|s| SocketAddr::from(std::net::SocketAddrV4::from(*s)))
            .or_else(|| {
                a.as_sockaddr_in6()
                    .map(|s| canonical(SocketAddr::from(std::net::SocketAddrV6::from(*s))))
            })
    });
    Ok((msg.bytes, peer, dst))
}

/// Sends `data` to `peer` from the address `src` (`IP_PKTINFO` / `IPV6_PKTINFO`), the
/// address the datagram being answered was sent to.
fn send_from(fd: RawFd, data: &[u8], peer: SocketAddr, src: IpAddr) -> std::io::Result<usize> {
    let iov = [IoSlice::new(data)];
    let sent = match (peer, src) {
        (SocketAddr::V4(p), IpAddr::V4(s)) => {
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(s).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            send(
                fd,
                &iov,
                &[ControlMessage::Ipv4PacketInfo(&info)],
                &SockaddrIn::from(p),
            )
        }
        (SocketAddr::V6(p), IpAddr::V6(s)) => {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: s.octets(),
                },
                ipi6_ifindex: 0,
            };
            send(
                fd,
                &iov,
                &[ControlMessage::Ipv6PacketInfo(&info)],
                &SockaddrIn6::from(p),
            )
        }
        // Mismatched families cannot happen with v6-only sockets; answer without a source.
        (p, _) => send(fd, &iov, &[], &SockaddrStorage::from(p)),
    };
    sent.map_err(std::io::Error::from)
}

fn send<S: SockaddrLike>(
    fd: RawFd,
    iov: &[IoSlice<'_>],
    cmsgs: &[ControlMessage<'_>],
    to: &S,
) -> nix::Result<usize> {
    sendmsg(fd, iov, cmsgs, MsgFlags::empty(), Some(to))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::world::mocks::testing::{privileged, world_like};

    const PREFIXES: [&str; 4] = [
        "203.0.113.0/24",
        "198.51.100.0/24",
        "2001:db8:10::/48",
        "2001:db8:bad::/48",
    ];

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Connects, reads the banner, sends a line and reads it back.
    async fn banner_and_echo_of(target: SocketAddr) -> (String, String) {
        let mut s = TcpStream::connect(target).await.unwrap();
        let mut banner = Vec::new();
        let mut byte = [0u8; 1];
        while !banner.ends_with(b"\n") {
            s.read_exact(&mut byte).await.unwrap();
            banner.push(byte[0]);
        }
        s.write_all(b"still here\n").await.unwrap();
        let mut echo = [0u8; 11];
        s.read_exact(&mut echo).await.unwrap();
        (
            String::from_utf8(banner).unwrap(),
            String::from_utf8(echo.to_vec()).unwrap(),
        )
    }

    #[test]
    fn tcp_hosts_send_a_banner_echo_and_record_accepts() {
        if !privileged() {
            return;
        }
        let ns = world_like("hosts-tcp", &PREFIXES);
        let hosts = start_hosts(
            &ns,
            HostsOptions {
                tcp_ports: vec![22, 80, 8080, 47_123],
                udp_ports: vec![],
                dual_stack: true,
                addrs: Vec::new(),
            },
        )
        .unwrap();
        assert_eq!(hosts.tcp_addrs().len(), 8);
        let got = ns
            .block_on(|| async {
                let mut out = Vec::new();
                for t in [
                    "203.0.113.77:8080",
                    "198.51.100.10:22",
                    "203.0.113.5:47123",
                    "[2001:db8:bad::10]:80",
                ] {
                    out.push(banner_and_echo_of(sa(t)).await);
                }
                // A port nothing listens on is refused by the host itself.
                let closed = TcpStream::connect(sa("198.51.100.10:9")).await.unwrap_err();
                (out, closed.kind())
            })
            .unwrap();
        let (echoes, closed) = got;
        assert_eq!(
            echoes,
            [
                (
                    "fwt 8080 203.0.113.77\n".to_owned(),
                    "still here\n".to_owned()
                ),
                (
                    "fwt 22 198.51.100.10\n".to_owned(),
                    "still here\n".to_owned()
                ),
                (
                    "fwt 47123 203.0.113.5\n".to_owned(),
                    "still here\n".to_owned()
                ),
                (
                    "fwt 80 2001:db8:bad::10\n".to_owned(),
                    "still here\n".to_owned()
                ),
            ]
        );
        assert_eq!(closed, std::io::ErrorKind::ConnectionRefused);
        let locals: Vec<SocketAddr> = hosts.tcp_accepts().iter().map(|a| a.local).collect();
        assert_eq!(
            locals,
            [
                sa("203.0.113.77:8080"),
                sa("198.51.100.10:22"),
                sa("203.0.113.5:47123"),
                sa("[2001:db8:bad::10]:80")
            ]
        );
        assert_eq!(hosts.tcp_accepts()[1].port(), 22);
        hosts.clear();
        assert!(hosts.tcp_accepts().is_empty());
    }

    #[test]
    fn udp_echo_answers_from_the_address_reached_and_records_it() {
        if !privileged() {
            return;
        }
        let ns = world_like("hosts-udp", &PREFIXES);
        let hosts = start_hosts(
            &ns,
            HostsOptions {
                tcp_ports: vec![],
                udp_ports: vec![5353, 9999],
                dual_stack: true,
                addrs: Vec::new(),
            },
        )
        .unwrap();
        let echoes = ns
            .block_on(|| async {
                let mut out = Vec::new();
                for (bind, target) in [
                    ("127.0.0.1:0", "203.0.113.77:9999"),
                    ("127.0.0.1:0", "198.51.100.10:5353"),
                    ("[::1]:0", "[2001:db8:bad::10]:9999"),
                ] {
                    // Connected, from an address whose own route would pick another source
                    // for the answer (as the container's is): only an answer sent from the
                    // address reached gets through.
                    let s = UdpSocket::bind(sa(bind)).await.unwrap();
                    s.connect(sa(target)).await.unwrap();
                    s.send(target.as_bytes()).await.unwrap();
                    let mut buf = [0u8; 64];
                    let n = tokio::time::timeout(Duration::from_secs(2), s.recv(&mut buf))
                        .await
                        .expect("an echo")
                        .unwrap();
                    out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
                }
                out
            })
            .unwrap();
        assert_eq!(
            echoes,
            [
                "203.0.113.77:9999",
                "198.51.100.10:5353",
                "[2001:db8:bad::10]:9999"
            ]
        );
        let arrivals = hosts.udp_arrivals();
        let seen: Vec<(SocketAddr, Vec<u8>)> = arrivals
            .iter()
            .map(|a| (a.local, a.bytes.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                (sa("203.0.113.77:9999"), b"203.0.113.77:9999".to_vec()),
                (sa("198.51.100.10:5353"), b"198.51.100.10:5353".to_vec()),
                (
                    sa("[2001:db8:bad::10]:9999"),
                    b"[2001:db8:bad::10]:9999".to_vec()
                ),
            ]
        );
        let to_blocked = hosts.arrivals_udp(|a| a.local.ip() == sa("198.51.100.10:1").ip());
        assert_eq!(to_blocked.len(), 1);
        assert_eq!(to_blocked[0].port(), 5353);
        assert!(hosts.arrivals_udp(|a| a.port() == 7).is_empty());
    }

    #[test]
    fn a_dns_answer_echoes_the_question_and_answers_a_queries_only() {
        // Query for "a.test" A, id 0x1234, RD.
        let q = [
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 4, b't', b'e', b's', b't', 0,
            0, 1, 0, 1,
        ];
        let r = dns_answer(&q).unwrap();
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!((r[2], r[3]), (0x81, 0x80));
        assert_eq!(&r[4..8], &[0, 1, 0, 1]);
        assert_eq!(&r[12..24], &q[12..24]);
        assert_eq!(&r[r.len() - 4..], &DNS_ANSWER.octets());
        let mut aaaa = q;
        aaaa[21] = 28;
        assert_eq!(dns_answer(&aaaa).unwrap()[7], 0);
        // A response, a truncated question, no question: not answered.
        let mut resp = q;
        resp[2] = 0x81;
        assert!(dns_answer(&resp).is_none());
        assert!(dns_answer(&q[..16]).is_none());
        assert!(dns_answer(&q[..11]).is_none());
    }

    #[test]
    fn port_53_answers_dns_everywhere_beside_a_resolver_on_its_own_address() {
        if !privileged() {
            return;
        }
        let ns = world_like("hosts-dns", &PREFIXES);
        let _hosts = start_hosts(
            &ns,
            HostsOptions {
                tcp_ports: vec![53],
                udp_ports: vec![53],
                dual_stack: true,
                addrs: Vec::new(),
            },
        )
        .unwrap();
        let zone = crate::world::mocks::dns::Zone::builder()
            .a("x.test", [Ipv4Addr::new(203, 0, 113, 7)])
            .build();
        let resolver = sa("198.51.100.53:53");
        let _dns = crate::world::mocks::dns::start_dns_shared(
            &ns,
            vec![resolver],
            vec![resolver],
            Arc::new(zone),
        )
        .unwrap();
        let got = ns
            .block_on(|| async {
                let mut out = Vec::new();
                for (server, tcp) in [
                    ("203.0.113.77:53", false),
                    ("203.0.113.77:53", true),
                    ("[2001:db8:bad::10]:53", false),
                    ("198.51.100.53:53", false),
                    ("198.51.100.53:53", true),
                ] {
                    let got = crate::world::probe::dns_query(
                        sa(server),
                        "x.test",
                        tcp,
                        Duration::from_secs(2),
                    )
                    .await
                    .unwrap();
                    out.push(got);
                }
                out
            })
            .unwrap();
        let any = crate::world::probe::DnsOutcome::Answered {
            rcode: 0,
            addrs: vec![IpAddr::V4(DNS_ANSWER)],
        };
        let real = crate::world::probe::DnsOutcome::Answered {
            rcode: 0,
            addrs: vec!["203.0.113.7".parse().unwrap()],
        };
        assert_eq!(got, [any.clone(), any.clone(), any, real.clone(), real]);
    }

    #[test]
    fn v4_only_hosts_do_not_listen_on_v6() {
        if !privileged() {
            return;
        }
        let ns = world_like("hosts-v4", &PREFIXES);
        let hosts = start_hosts(
            &ns,
            HostsOptions {
                tcp_ports: vec![80],
                udp_ports: vec![9999],
                dual_stack: false,
                addrs: Vec::new(),
            },
        )
        .unwrap();
        assert_eq!(hosts.tcp_addrs(), [sa("0.0.0.0:80")]);
        assert_eq!(hosts.udp_addrs(), [sa("0.0.0.0:9999")]);
        let refused = ns
            .block_on(|| async { TcpStream::connect(sa("[2001:db8:10::1]:80")).await.is_err() })
            .unwrap();
        assert!(refused);
    }
}
