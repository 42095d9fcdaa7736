//! Probes: what the suite sends from inside the container's namespace, and the honest verdicts
//! it reads from the kernel's answers.
//!
//! A probe reports [`Verdict::Connected`], [`Verdict::Rejected`] (with errno and elapsed time)
//! or [`Verdict::TimedOut`]; a probe that could not run at all is an `Err` (a harness error),
//! never a verdict. Every probe here is async and must run on a thread inside the container's
//! namespace ([`crate::world::netns::Netns::block_on`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The probe's own limit: a DROP shows as a timeout here.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// "Rejected fast" for IPv4 (see the catalog's terms: one SYN retransmit may precede an
/// icmp-admin-prohibited reject because the kernel rate-limits ICMP errors).
pub const FAST_V4: Duration = Duration::from_secs(2);
/// "Rejected fast" for IPv6 (Linux ignores the ICMPv6 error to a first SYN: about 1 s).
pub const FAST_V6: Duration = Duration::from_millis(3500);

/// "Rejected fast" for `target`'s family.
pub fn fast_limit(target: &SocketAddr) -> Duration {
    if target.is_ipv4() { FAST_V4 } else { FAST_V6 }
}

/// How long a probe that must be rejected fast waits: past the fast limit (and a margin, so a
/// rejection at the limit is still seen as one) the verdict is decided whatever comes later.
pub fn rejection_wait(target: &SocketAddr) -> Duration {
    fast_limit(target) + Duration::from_millis(250)
}

/// What the kernel said to a connection attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Connected { elapsed_ms: u64 },
    Rejected { errno: String, elapsed_ms: u64 },
    TimedOut { elapsed_ms: u64 },
}

impl Verdict {
    pub fn is_connected(&self) -> bool {
        matches!(self, Verdict::Connected { .. })
    }

    /// Rejected with one of the catalog's errnos, within the family's "fast" limit.
    pub fn is_rejected_fast(&self, target: &SocketAddr) -> bool {
        let limit = fast_limit(target);
        match self {
            Verdict::Rejected { errno, elapsed_ms } => {
                REJECTION_ERRNOS.contains(&errno.as_str())
                    && Duration::from_millis(*elapsed_ms) <= limit
            }
            _ => false,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Connected { elapsed_ms } => write!(f, "connected in {elapsed_ms} ms"),
            Verdict::Rejected { errno, elapsed_ms } => write!(f, "{errno} after {elapsed_ms} ms"),
            Verdict::TimedOut { elapsed_ms } => write!(f, "timed out after {elapsed_ms} ms"),
        }
    }
}

/// The errnos that prove a rejection (the catalog's terms).
pub const REJECTION_ERRNOS: &[&str] = &[
    "ECONNREFUSED",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "EACCES",
    "EPERM",
];

/// The symbolic name of an errno.
pub fn errno_name(code: i32) -> String {
    match code {
        libc::ECONNREFUSED => "ECONNREFUSED".into(),
        libc::EHOSTUNREACH => "EHOSTUNREACH".into(),
        libc::ENETUNREACH => "ENETUNREACH".into(),
        libc::EACCES => "EACCES".into(),
        libc::EPERM => "EPERM".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::ECONNRESET => "ECONNRESET".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL".into(),
        other => format!("errno {other}"),
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One TCP connect with the probe timeout.
pub async fn tcp_connect(target: SocketAddr, timeout: Duration) -> Result<Verdict> {
    Ok(tcp_open(target, timeout).await?.0)
}

/// A TCP connect that keeps the stream when it connected.
pub async fn tcp_open(
    target: SocketAddr,
    timeout: Duration,
) -> Result<(Verdict, Option<TcpStream>)> {
    let start = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
        Err(_) => Ok((
            Verdict::TimedOut {
                elapsed_ms: ms(start.elapsed()),
            },
            None,
        )),
        Ok(Ok(s)) => Ok((
            Verdict::Connected {
                elapsed_ms: ms(start.elapsed()),
            },
            Some(s),
        )),
        Ok(Err(e)) => match e.raw_os_error() {
            Some(code) => Ok((
                Verdict::Rejected {
                    errno: errno_name(code),
                    elapsed_ms: ms(start.elapsed()),
                },
                None,
            )),
            None => Err(e).with_context(|| format!("connect to {target} failed without an errno")),
        },
    }
}

/// Sends one datagram from a connected UDP socket (which sees an ICMP error at once). The
/// arrival is checked on the world side; the local result says whether the kernel refused it.
pub async fn udp_send(target: SocketAddr, payload: &[u8]) -> Result<Option<String>> {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind)
        .await
        .context("cannot bind a UDP socket")?;
    if let Err(e) = sock.connect(target).await {
        return Ok(Some(
            e.raw_os_error().map_or_else(|| e.to_string(), errno_name),
        ));
    }
    match sock.send(payload).await {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(
            e.raw_os_error().map_or_else(|| e.to_string(), errno_name),
        )),
    }
}

/// What a DNS query got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DnsOutcome {
    /// An answer (possibly with no A records) with its response code.
    Answered { rcode: u8, addrs: Vec<IpAddr> },
    /// No answer: the reason (rejected with an errno, timed out).
    Failed { reason: String },
}

impl DnsOutcome {
    pub fn resolved(&self) -> bool {
        matches!(self, DnsOutcome::Answered { rcode: 0, addrs } if !addrs.is_empty())
    }
}

/// A minimal DNS query for one A record, as bytes (RD set).
fn dns_query_bytes(id: u16, name: &str) -> Result<Vec<u8>> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len()).context("label too long")?;
        if len == 0 || len > 63 {
            bail!("bad label in {name:?}");
        }
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Ok(q)
}

/// Skips a possibly compressed name in a DNS message.
fn skip_name(msg: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *msg.get(i)?;
        if len & 0xc0 == 0xc0 {
            return Some(i + 2);
        }
        if len == 0 {
            return Some(i + 1);
        }
        i += 1 + usize::from(len);
    }
}

/// Reads the rcode and the A records of a DNS response.
fn parse_dns_answer(id: u16, msg: &[u8]) -> Result<(u8, Vec<IpAddr>)> {
    if msg.len() < 12 || msg[..2] != id.to_be_bytes() {
        bail!("not an answer to our query");
    }
    let rcode = msg[3] & 0x0f;
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(msg, i).context("truncated question")? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..an {
        i = skip_name(msg, i).context("truncated answer")?;
        let head = msg.get(i..i + 10).context("truncated record")?;
        let rtype = u16::from_be_bytes([head[0], head[1]]);
        let rdlen = usize::from(u16::from_be_bytes([head[8], head[9]]));
        let data = msg.get(i + 10..i + 10 + rdlen).context("truncated rdata")?;
        if rtype == 1 && rdlen == 4 {
            addrs.push(IpAddr::from([data[0], data[1], data[2], data[3]]));
        }
        i += 10 + rdlen;
    }
    Ok((rcode, addrs))
}

/// One A query to `server`, over UDP (a connected socket, so an ICMP rejection shows at once)
/// or TCP.
pub async fn dns_query(
    server: SocketAddr,
    name: &str,
    tcp: bool,
    timeout: Duration,
) -> Result<DnsOutcome> {
    let id: u16 = rand_id();
    let query = dns_query_bytes(id, name)?;
    let fail = |reason: String| Ok(DnsOutcome::Failed { reason });
    let work = async {
        if tcp {
            let mut s = match TcpStream::connect(server).await {
                Ok(s) => s,
                Err(e) => return fail(e.raw_os_error().map_or_else(|| e.to_string(), errno_name)),
            };
            let mut framed = u16::try_from(query.len())?.to_be_bytes().to_vec();
            framed.extend_from_slice(&query);
            if let Err(e) = s.write_all(&framed).await {
                return fail(format!("write: {e}"));
            }
            let mut len = [0u8; 2];
            if let Err(e) = s.read_exact(&mut len).await {
                return fail(format!("read: {e}"));
            }
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if let Err(e) = s.read_exact(&mut msg).await {
                return fail(format!("read: {e}"));
            }
            let (rcode, addrs) = parse_dns_answer(id, &msg)?;
            Ok(DnsOutcome::Answered { rcode, addrs })
        } else {
            let bind: SocketAddr = if server.is_ipv4() {
                "0.0.0.0:0".parse()?
            } else {
                "[::]:0".parse()?
            };
            let sock = UdpSocket::bind(bind).await?;
            if let Err(e) = sock.connect(server).await {
                return fail(e.raw_os_error().map_or_else(|| e.to_string(), errno_name));
            }
            if let Err(e) = sock.send(&query).await {
                return fail(e.raw_os_error().map_or_else(|| e.to_string(), errno_name));
            }
            let mut buf = vec![0u8; 4096];
            loop {
                match sock.recv(&mut buf).await {
                    Ok(n) => {
                        if let Ok((rcode, addrs)) = parse_dns_answer(id, &buf[..n]) {
                            return Ok(DnsOutcome::Answered { rcode, addrs });
                        }
                    }
                    Err(e) => {
                        return fail(e.raw_os_error().map_or_else(|| e.to_string(), errno_name));
                    }
                }
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => fail(format!("timed out after {} ms", timeout.as_millis())),
    }
}

fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() & 0xffff) as u16
}

/// What an HTTPS request got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HttpsOutcome {
    /// TLS validated and an HTTP status came back: the proof of reachability.
    Status { status: u16, elapsed_ms: u64 },
    /// The TCP connection failed.
    Connect { verdict: Verdict },
    /// TCP connected but TLS failed (for example the certificate did not validate).
    Tls { reason: String },
    /// TLS worked but no HTTP answer came.
    NoAnswer { reason: String },
}

impl HttpsOutcome {
    pub fn proves_reachable(&self) -> bool {
        matches!(self, HttpsOutcome::Status { .. })
    }
}

/// An HTTPS GET of `path` on `host` at `addr`, trusting only `ca_pem`.
pub async fn https_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    ca_pem: &str,
    timeout: Duration,
) -> Result<HttpsOutcome> {
    use rustls::pki_types::ServerName;
    use rustls_pki_types::pem::PemObject;
    let start = Instant::now();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("bad test CA")?)
            .context("bad test CA")?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("rustls protocol versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let (verdict, stream) = tcp_open(addr, timeout).await?;
    let Some(stream) = stream else {
        return Ok(HttpsOutcome::Connect { verdict });
    };
    let name = ServerName::try_from(host.to_owned()).context("bad server name")?;
    let left = timeout.saturating_sub(start.elapsed());
    let tls = match tokio::time::timeout(left, connector.connect(name, stream)).await {
        Err(_) => {
            return Ok(HttpsOutcome::Tls {
                reason: "TLS handshake timed out".into(),
            });
        }
        Ok(Err(e)) => {
            return Ok(HttpsOutcome::Tls {
                reason: e.to_string(),
            });
        }
        Ok(Ok(t)) => t,
    };
    let mut tls = tls;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fw-conformance\r\nConnection: close\r\n\r\n"
    );
    let left = timeout.saturating_sub(start.elapsed());
    let exchange = async {
        tls.write_all(req.as_bytes()).await?;
        let mut buf = vec![0u8; 1024];
        let mut got = Vec::new();
        while !got.windows(2).any(|w| w == b"\r\n") && got.len() < 4096 {
            let n = tls.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(got)
    };
    let head = match tokio::time::timeout(left, exchange).await {
        Err(_) => {
            return Ok(HttpsOutcome::NoAnswer {
                reason: "no HTTP answer in time".into(),
            });
        }
        Ok(Err(e)) => {
            return Ok(HttpsOutcome::NoAnswer {
                reason: e.to_string(),
            });
        }
        Ok(Ok(h)) => h,
    };
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    Ok(match status {
        Some(status) if line.starts_with("HTTP/") => HttpsOutcome::Status {
            status,
            elapsed_ms: ms(start.elapsed()),
        },
        _ => HttpsOutcome::NoAnswer {
            reason: format!(
                "not an HTTP answer: {:?}",
                line.lines().next().unwrap_or_default()
            ),
        },
    })
}

/// A tag unique enough to tell one probe's datagram from another's.
pub fn rand_tag() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn dns_messages_round_trip() {
        let q = dns_query_bytes(7, "api.github.com").unwrap();
        // A response: the query with QR set, one answer pointing back at the question name.
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 70]);
        assert_eq!(
            parse_dns_answer(7, &r).unwrap(),
            (0, vec!["192.0.2.70".parse().unwrap()])
        );
        assert!(parse_dns_answer(8, &r).is_err());
        assert!(dns_query_bytes(1, "a..b").is_err());
    }

    #[test]
    fn rejected_fast_depends_on_errno_and_time() {
        let v4: SocketAddr = "198.51.100.10:80".parse().unwrap();
        let v6: SocketAddr = "[2001:db8:bad::1]:80".parse().unwrap();
        let r = |e: &str, t| Verdict::Rejected {
            errno: e.into(),
            elapsed_ms: t,
        };
        assert!(r("ECONNREFUSED", 1).is_rejected_fast(&v4));
        assert!(r("EHOSTUNREACH", 1500).is_rejected_fast(&v4));
        assert!(!r("EHOSTUNREACH", 2500).is_rejected_fast(&v4));
        assert!(r("EACCES", 1100).is_rejected_fast(&v6));
        assert!(!r("EINVAL", 1).is_rejected_fast(&v4));
        assert!(!Verdict::TimedOut { elapsed_ms: 5000 }.is_rejected_fast(&v4));
        assert!(!Verdict::Connected { elapsed_ms: 1 }.is_rejected_fast(&v4));
    }

    #[tokio::test]
    async fn a_closed_port_on_loopback_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let v = tcp_connect(addr, PROBE_TIMEOUT).await.unwrap();
        assert!(
            matches!(&v, Verdict::Rejected { errno, .. } if errno == "ECONNREFUSED"),
            "{v}"
        );
    }
}
