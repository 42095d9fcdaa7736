//! The resolver behind Docker's embedded DNS emulation: a forwarder, as Docker's is.
//!
//! Docker's embedded resolver answers a container's queries to 127.0.0.11 by forwarding them to
//! its upstream resolvers, and for the upstreams given with `--dns` (the Docker tier's case, and
//! what the netns tier's resolv.conf says: `# ExtServers: [198.51.100.2]`) it does so from inside
//! the container's network namespace (moby's resolver dials through the sandbox's `ExecFunc`),
//! from the container's own address: the container's OUTPUT rules apply to the forwarded
//! query. A forwarder running on a thread inside the container's namespace does exactly that,
//! so a firewall that lets the container reach 127.0.0.11 but not the upstream is seen breaking
//! DNS, as it would in a real container. Each query goes out over the transport it came in on
//! (UDP over UDP, TCP over TCP, as Docker's does); a query the upstream does not answer gets
//! SERVFAIL, as Docker answers when every upstream failed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::world::netns::{Netns, Service};

/// How long a forwarded query waits for the upstream (within a client's usual few seconds).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// One forwarded query: its transport and what the upstream did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub tcp: bool,
    /// `Ok(answer length)`, or why the upstream gave no answer (SERVFAIL was sent back).
    pub outcome: Result<usize, String>,
}

type Log = Arc<Mutex<Vec<Forwarded>>>;

/// A running forwarder; dropping it stops it.
#[derive(Debug)]
pub struct Forwarder {
    udp: SocketAddr,
    tcp: SocketAddr,
    upstream: SocketAddr,
    log: Log,
    _service: Service,
}

impl Forwarder {
    /// The UDP address it listens on.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    /// The TCP address it listens on.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Every query forwarded so far.
    pub fn forwarded(&self) -> Vec<Forwarded> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The end of the question section of a DNS message (after the first question), if whole.
fn question_end(msg: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = usize::from(*msg.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        i += 1 + len;
    }
    (i + 4 <= msg.len()).then_some(i + 4)
}

/// A SERVFAIL answer to `query`: its header with QR and RA set, its question, nothing else.
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let end = question_end(query)?;
    let mut r = query[..end].to_vec();
    r[2] |= 0x80;
    r[3] = 0x80 | 2;
    r[4..6].copy_from_slice(&[0, 1]);
    r[6..12].fill(0);
    Some(r)
}

/// One query over UDP from this namespace (a connected socket: an ICMP rejection shows at once).
async fn ask_udp(upstream: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let work = async {
        let s = UdpSocket::bind(bind).await?;
        s.connect(upstream).await?;
        s.send(query).await?;
        let mut buf = vec![0u8; 65_535];
        loop {
            let n = s.recv(&mut buf).await?;
            // Only the answer to this query (same id).
            if n >= 12 && buf[..2] == query[..2] {
                buf.truncate(n);
                return Ok::<_, std::io::Error>(buf);
            }
        }
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, work).await {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(format!("udp to {upstream}: {e}")),
        Err(_) => Err(format!("udp to {upstream}: no answer in time")),
    }
}

/// One query over TCP from this namespace (length-framed).
async fn ask_tcp(upstream: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let work = async {
        let mut s = TcpStream::connect(upstream).await?;
        let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        s.write_all(&framed).await?;
        let mut l = [0u8; 2];
        s.read_exact(&mut l).await?;
        let mut a = vec![0u8; usize::from(u16::from_be_bytes(l))];
        s.read_exact(&mut a).await?;
        Ok::<_, std::io::Error>(a)
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, work).await {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(format!("tcp to {upstream}: {e}")),
        Err(_) => Err(format!("tcp to {upstream}: no answer in time")),
    }
}

/// The upstream's answer to `query`, or SERVFAIL; logged.
async fn forward(upstream: SocketAddr, query: &[u8], tcp: bool, log: &Log) -> Option<Vec<u8>> {
    let got = if tcp {
        ask_tcp(upstream, query).await
    } else {
        ask_udp(upstream, query).await
    };
    if let Ok(mut l) = log.lock() {
        l.push(Forwarded {
            tcp,
            outcome: got.as_ref().map(Vec::len).map_err(Clone::clone),
        });
    }
    match got {
        Ok(a) => Some(a),
        Err(_) => servfail(query),
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, upstream: SocketAddr, log: Log) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if n < 12 {
            continue;
        }
        let query = buf[..n].to_vec();
        let (sock, log) = (Arc::clone(&sock), Arc::clone(&log));
        tokio::spawn(async move {
            if let Some(answer) = forward(upstream, &query, false, &log).await {
                let _ = sock.send_to(&answer, from).await;
            }
        });
    }
}

async fn serve_tcp_conn(mut s: TcpStream, upstream: SocketAddr, log: Log) {
    loop {
        let mut l = [0u8; 2];
        if s.read_exact(&mut l).await.is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(l))];
        if query.len() < 12 || s.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(answer) = forward(upstream, &query, true, &log).await else {
            return;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&answer);
        if s.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// Starts a forwarder in `ns` on `bind` (UDP and TCP; port 0 takes a free port each) to
/// `upstream`; its sockets, and the ones it forwards from, are in `ns`.
pub fn start_forwarder(ns: &Netns, bind: SocketAddr, upstream: SocketAddr) -> Result<Forwarder> {
    let log: Log = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let served = Arc::clone(&log);
    let service = ns.spawn_service("dns-forwarder", move |stop| async move {
        let bound = (|| -> Result<(UdpSocket, tokio::net::TcpListener)> {
            let u = super::bound_socket(bind, socket2::Type::DGRAM)?;
            let u = UdpSocket::from_std(u.into()).context("cannot register the UDP socket")?;
            Ok((u, super::tcp_listen(bind)?))
        })();
        let (udp, tcp) = match bound.and_then(|(u, t)| {
            let addrs = (u.local_addr()?, t.local_addr()?);
            let _ = tx.send(Ok(addrs));
            Ok((u, t))
        }) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let udp_log = Arc::clone(&served);
        let tcp_serve = async move {
            loop {
                if let Ok((s, _)) = tcp.accept().await {
                    tokio::spawn(serve_tcp_conn(s, upstream, Arc::clone(&served)));
                }
            }
        };
        tokio::select! {
            _ = stop => {}
            () = serve_udp(Arc::new(udp), upstream, udp_log) => {}
            () = tcp_serve => {}
        }
    })?;
    let (udp, tcp) = super::wait_ready(&rx, "dns forwarder")?;
    Ok(Forwarder {
        udp,
        tcp,
        upstream,
        log,
        _service: service,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn servfail_keeps_the_id_and_the_question_only() {
        // id 0x1234, RD, one question "a.b" A IN, one OPT record after it.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(&[1, b'a', 1, b'b', 0, 0, 1, 0, 1]);
        q.extend_from_slice(&[0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0]);
        let r = servfail(&q).unwrap();
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80, "QR");
        assert_eq!(r[3] & 0x0f, 2, "SERVFAIL");
        assert_eq!(&r[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.len(), 12 + 9);
        assert_eq!(servfail(&q[..14]), None);
    }
}
