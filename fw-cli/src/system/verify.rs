//! The two proofs init must pass before it reports success (VER-01 to VER-04).
//!
//! A firewall that merely looks right is not enough: the blocked target must be shown to be
//! rejected, and the allowed target must be shown to answer. Each proof is strict about what
//! counts (docs/requirements.md, VER-01 to VER-04):
//!
//! - **A block** is proven only when a TCP connect to *every* address of the target is rejected
//!   fast: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES or EPERM, the errors a REJECT rule
//!   (or a prohibit route) gives. A connection that succeeds disproves it. A timeout proves
//!   nothing: it is what a DROP gives, but also a dead network or a slow peer, so it fails the
//!   proof rather than being taken as good news. A name that does not resolve fails it too:
//!   nothing was tested. A TLS error is never considered: the probe is plain TCP.
//! - **Reachability** is proven by an HTTPS request that completes a TLS handshake with a
//!   certificate the system CA bundle validates, then gets an HTTP answer, of any status: a
//!   403 from a rate-limited GitHub still proves that the path is open (VER-04). A connect
//!   error, a TLS error or a timeout fails it, with the whole cause chain in the message, so
//!   that "invalid peer certificate: UnknownIssuer" is visible.
//!
//! [`verify`] runs both at once and, when both fail, reports both.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Url;
use serde::Serialize;
use tokio::net::TcpStream;

use fw_core::config::VerifyTargets;

use super::http::cause_chain;

/// The most a probe's TCP connect may take: a reject arrives within about 1 s even for IPv6
/// (the kernel acts on the ICMPv6 error only at the first SYN retransmit), so past 5 s it is a
/// DROP or a dead path.
pub const DEFAULT_CONNECT: Duration = Duration::from_secs(5);
/// The most resolving the blocked target may take.
pub const DEFAULT_DNS: Duration = Duration::from_secs(5);
/// How much of the allowed target's body is read: the answer is the proof, not its content.
const MAX_PROOF_BODY: usize = 4096;

/// Time limits of the proof of a block. The proof of reachability uses the client's timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The most each TCP connect may take.
    pub connect: Duration,
    /// The most resolving the blocked target may take.
    pub dns: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            connect: DEFAULT_CONNECT,
            dns: DEFAULT_DNS,
        }
    }
}

/// What one TCP connect did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The connection was made: the address is reachable.
    Connected,
    /// ECONNREFUSED: a TCP reset (REJECT with tcp-reset or icmp-port-unreachable).
    Refused,
    /// EHOSTUNREACH or ENETUNREACH: an ICMP unreachable, or no route.
    Unreachable,
    /// EACCES or EPERM: an ICMP administratively prohibited, or a local rule.
    Prohibited,
    /// No answer within the connect timeout (or ETIMEDOUT): a DROP or a dead path.
    TimedOut,
    /// Any other error.
    Other,
}

impl Outcome {
    /// Whether this outcome is a fast rejection, the only proof of a block.
    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            Outcome::Refused | Outcome::Unreachable | Outcome::Prohibited
        )
    }
}

/// Sorts a connect's errno.
pub fn classify_errno(errno: i32) -> Outcome {
    match errno {
        libc::ECONNREFUSED => Outcome::Refused,
        libc::EHOSTUNREACH | libc::ENETUNREACH => Outcome::Unreachable,
        libc::EACCES | libc::EPERM => Outcome::Prohibited,
        libc::ETIMEDOUT => Outcome::TimedOut,
        _ => Outcome::Other,
    }
}

/// The symbolic name of the errnos a connect commonly gives, else `errno N`.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EINVAL => "EINVAL",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

/// One TCP connect of the proof of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub addr: SocketAddr,
    pub outcome: Outcome,
    /// The errno's name (`ECONNREFUSED`), or the error's text when it carried no errno; `None`
    /// when the connect succeeded or timed out.
    pub errno: Option<String>,
    pub elapsed_ms: u64,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.outcome, &self.errno) {
            (Outcome::Connected, _) => write!(f, "{} connected", self.addr)?,
            (Outcome::TimedOut, None) => write!(f, "{} timed out", self.addr)?,
            (_, Some(e)) => write!(f, "{} {e}", self.addr)?,
            (_, None) => write!(f, "{} failed", self.addr)?,
        }
        write!(f, " in {} ms", self.elapsed_ms)
    }
}

/// Evidence that every address of the blocked target was rejected fast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockProof {
    pub host: String,
    pub probes: Vec<Probe>,
}

impl fmt::Display for BlockProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rejected:", self.host)?;
        for (i, p) in self.probes.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{p}")?;
        }
        Ok(())
    }
}

/// Evidence that the allowed target answered over validated TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachProof {
    pub url: String,
    pub status: u16,
    /// The address that answered, when the client knows it.
    pub addr: Option<SocketAddr>,
    pub elapsed_ms: u64,
}

impl fmt::Display for ReachProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered HTTP {} over validated TLS",
            self.url, self.status
        )?;
        if let Some(a) = self.addr {
            write!(f, " from {a}")?;
        }
        write!(f, " in {} ms", self.elapsed_ms)
    }
}

/// Why a proof failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{target:?} is not a usable verification target: {reason}")]
    BadTarget { target: String, reason: String },
    #[error("cannot prove a block of {host}: its name does not resolve ({cause})")]
    NoResolve { host: String, cause: String },
    /// At least one address was not rejected fast; `probes` holds every address's result.
    #[error("{}", not_blocked(host, probes))]
    NotBlocked { host: String, probes: Vec<Probe> },
    #[error("cannot prove that {url} is reachable: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("{blocked}; and {reachable}")]
    Both {
        blocked: Box<VerifyError>,
        reachable: Box<VerifyError>,
    },
}

/// The message of [`VerifyError::NotBlocked`]: each address that failed the proof, and why.
fn not_blocked(host: &str, probes: &[Probe]) -> String {
    let lines: Vec<String> = probes
        .iter()
        .filter(|p| !p.outcome.is_rejection())
        .map(|p| {
            let addr = p.addr;
            match p.outcome {
                Outcome::Connected => {
                    format!("{host} ({addr}) is reachable: the block does not hold")
                }
                Outcome::TimedOut => format!(
                    "{host} ({addr}) timed out after {} ms: a DROP or an unreachable network proves nothing",
                    p.elapsed_ms
                ),
                _ => format!(
                    "{host} ({addr}) failed with {}, which is not a rejection: the block is not proven",
                    p.errno.as_deref().unwrap_or("an unknown error")
                ),
            }
        })
        .collect();
    lines.join("; ")
}

/// The URL a target names; a bare `host[:port]` is taken as `https://host[:port]`.
fn target_url(target: &str) -> Result<Url, VerifyError> {
    let parsed = if target.contains("://") {
        Url::parse(target)
    } else {
        Url::parse(&format!("https://{target}"))
    };
    parsed.map_err(|e| VerifyError::BadTarget {
        target: target.to_owned(),
        reason: e.to_string(),
    })
}

/// Proves that every address of `url`'s host rejects a TCP connect fast (module docs).
///
/// The port is the URL's, else its scheme's, else 443. The addresses are probed concurrently,
/// each under `opts.connect`.
pub async fn prove_blocked(url: &str, opts: &VerifyOptions) -> Result<BlockProof, VerifyError> {
    let parsed = target_url(url)?;
    let bad = |reason: &str| VerifyError::BadTarget {
        target: url.to_owned(),
        reason: reason.to_owned(),
    };
    let host = parsed.host_str().ok_or_else(|| bad("it has no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => resolve(host, port, opts.dns).await?,
    };
    let probes = join_all(addrs.into_iter().map(|a| probe(a, opts.connect))).await;
    if probes.iter().all(|p| p.outcome.is_rejection()) {
        Ok(BlockProof {
            host: host.to_owned(),
            probes,
        })
    } else {
        Err(VerifyError::NotBlocked {
            host: host.to_owned(),
            probes,
        })
    }
}

/// Every address of `host` (getaddrinfo, as the workload resolves), deduplicated, in order.
async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, VerifyError> {
    let no = |cause: String| VerifyError::NoResolve {
        host: host.to_owned(),
        cause,
    };
    let found = tokio::time::timeout(limit, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            no(format!(
                "no answer within {}",
                humantime::format_duration(limit)
            ))
        })?
        .map_err(|e| no(e.to_string()))?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    if addrs.is_empty() {
        return Err(no("no address".to_owned()));
    }
    Ok(addrs)
}

/// One TCP connect under `limit`. A connection made is closed at once.
async fn probe(addr: SocketAddr, limit: Duration) -> Probe {
    let start = Instant::now();
    let result = tokio::time::timeout(limit, TcpStream::connect(addr)).await;
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (outcome, errno) = match result {
        Ok(Ok(_stream)) => (Outcome::Connected, None),
        Err(_elapsed) => (Outcome::TimedOut, None),
        Ok(Err(e)) => match e.raw_os_error() {
            Some(n) => (classify_errno(n), Some(errno_name(n))),
            None => (Outcome::Other, Some(e.to_string())),
        },
    };
    Probe {
        addr,
        outcome,
        errno,
        elapsed_ms,
    }
}

/// Proves that `url` answers over HTTPS with a certificate the client's roots validate (module
/// docs). Any HTTP status is an answer; at most a few KB of the body are read.
///
/// The client should not follow redirects ([`super::http::HttpOptions::redirects`] 0): the
/// first answer is the proof, and a redirect elsewhere would test another host.
pub async fn prove_reachable(
    client: &reqwest::Client,
    url: &str,
) -> Result<ReachProof, VerifyError> {
    let parsed = target_url(url)?;
    if parsed.scheme() != "https" {
        return Err(VerifyError::BadTarget {
            target: url.to_owned(),
            reason: "the proof of reachability needs an https URL".to_owned(),
        });
    }
    let unreachable = |cause: String| VerifyError::Unreachable {
        url: url.to_owned(),
        cause,
    };
    let start = Instant::now();
    let mut response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| unreachable(cause_chain(&e.without_url())))?;
    if response.url().scheme() != "https" {
        return Err(unreachable(format!(
            "the answer came from {} over plain http",
            response.url()
        )));
    }
    let status = response.status().as_u16();
    let addr = response.remote_addr();
    // The status line was the proof; the body is read only a little, and a failure in it
    // changes nothing.
    let mut read = 0;
    while read < MAX_PROOF_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(ReachProof {
        url: url.to_owned(),
        status,
        addr,
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Runs both proofs concurrently; `Ok` is a one-line summary of the evidence. When both fail,
/// the error reports both.
pub async fn verify(
    client: &reqwest::Client,
    targets: &VerifyTargets,
    opts: &VerifyOptions,
) -> Result<String, VerifyError> {
    let (blocked, reachable) = tokio::join!(
        prove_blocked(&targets.blocked, opts),
        prove_reachable(client, &targets.allowed)
    );
    match (blocked, reachable) {
        (Ok(b), Ok(r)) => Ok(format!("blocked: {b}; reachable: {r}")),
        (Err(b), Ok(_)) => Err(b),
        (Ok(_), Err(r)) => Err(r),
        (Err(b), Err(r)) => Err(VerifyError::Both {
            blocked: Box::new(b),
            reachable: Box::new(r),
        }),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(libc::ECONNREFUSED, Outcome::Refused)]
    #[case(libc::EHOSTUNREACH, Outcome::Unreachable)]
    #[case(libc::ENETUNREACH, Outcome::Unreachable)]
    #[case(libc::EACCES, Outcome::Prohibited)]
    #[case(libc::EPERM, Outcome::Prohibited)]
    fn rejections_are_proof(#[case] errno: i32, #[case] want: Outcome) {
        assert_eq!(classify_errno(errno), want);
        assert!(want.is_rejection());
    }

    #[rstest]
    #[case(libc::ETIMEDOUT, Outcome::TimedOut)]
    #[case(libc::EINVAL, Outcome::Other)]
    #[case(libc::EADDRNOTAVAIL, Outcome::Other)]
    #[case(libc::ECONNRESET, Outcome::Other)]
    #[case(libc::ENOBUFS, Outcome::Other)]
    fn other_errors_are_not_proof(#[case] errno: i32, #[case] want: Outcome) {
        assert_eq!(classify_errno(errno), want);
        assert!(!want.is_rejection());
    }

    #[test]
    fn connected_and_timed_out_are_not_proof() {
        assert!(!Outcome::Connected.is_rejection());
        assert!(!Outcome::TimedOut.is_rejection());
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ECONNREFUSED), "ECONNREFUSED");
        assert_eq!(errno_name(libc::EACCES), "EACCES");
        assert_eq!(errno_name(9999), "errno 9999");
    }

    fn probe(addr: &str, outcome: Outcome, errno: Option<&str>) -> Probe {
        Probe {
            addr: addr.parse().expect("test address"),
            outcome,
            errno: errno.map(str::to_owned),
            elapsed_ms: 5000,
        }
    }

    #[test]
    fn not_blocked_messages_name_each_failing_address() {
        let e = VerifyError::NotBlocked {
            host: "example.com".into(),
            probes: vec![
                probe("198.51.100.10:443", Outcome::Connected, None),
                probe("198.51.100.11:443", Outcome::Refused, Some("ECONNREFUSED")),
                probe("[2001:db8:bad::10]:443", Outcome::TimedOut, None),
                probe("198.51.100.12:443", Outcome::Other, Some("EINVAL")),
            ],
        };
        assert_eq!(
            e.to_string(),
            "example.com (198.51.100.10:443) is reachable: the block does not hold; \
             example.com ([2001:db8:bad::10]:443) timed out after 5000 ms: a DROP or an unreachable network proves nothing; \
             example.com (198.51.100.12:443) failed with EINVAL, which is not a rejection: the block is not proven"
        );
    }

    #[test]
    fn proof_summaries() {
        let b = BlockProof {
            host: "example.com".into(),
            probes: vec![
                probe("198.51.100.10:443", Outcome::Refused, Some("ECONNREFUSED")),
                probe(
                    "[2001:db8:bad::10]:443",
                    Outcome::Prohibited,
                    Some("EACCES"),
                ),
            ],
        };
        assert_eq!(
            b.to_string(),
            "example.com rejected: 198.51.100.10:443 ECONNREFUSED in 5000 ms, [2001:db8:bad::10]:443 EACCES in 5000 ms"
        );
        let r = ReachProof {
            url: "https://api.github.com/zen".into(),
            status: 403,
            addr: Some("192.0.2.70:443".parse().expect("addr")),
            elapsed_ms: 12,
        };
        assert_eq!(
            r.to_string(),
            "https://api.github.com/zen answered HTTP 403 over validated TLS from 192.0.2.70:443 in 12 ms"
        );
    }

    #[test]
    fn targets_may_be_bare_hosts() {
        assert_eq!(
            target_url("example.com").expect("parses").as_str(),
            "https://example.com/"
        );
        assert_eq!(
            target_url("127.0.0.1:8443")
                .expect("parses")
                .port_or_known_default(),
            Some(8443)
        );
        assert_eq!(
            target_url("localhost:8443").expect("parses").host_str(),
            Some("localhost")
        );
        assert!(target_url("https://").is_err());
    }
}
