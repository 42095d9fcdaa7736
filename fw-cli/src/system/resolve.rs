//! Resolving the allowlisted domains with hickory-resolver.
//!
//! Every name is resolved concurrently through one shared resolver, A and AAAA at once, each
//! under its own deadline, so that one dead or slow name costs at most `per_name` and never
//! holds up the others. CNAME chains are followed to their final addresses (ALW-12). A name
//! that does not resolve is a [`Resolution::failed`] with a short reason, never an error of the
//! whole call (ALW-09): the firewall goes on without it and the plan turns the reason into a
//! warning.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fw_core::inputs::Resolution;
use fw_core::validate::Domain;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// The per-name budget fw-cli uses unless told otherwise.
pub const DEFAULT_PER_NAME: Duration = Duration::from_secs(5);

/// How many times hickory retries a query that failed (timeout, SERVFAIL, I/O error) after the
/// first try. hickory counts retries, not tries: one retry means two tries, each given half of
/// the per-name budget, so that a single lost UDP packet does not fail a name.
const RETRIES: usize = 1;

/// Where the resolver finds its DNS servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverSource {
    /// `/etc/resolv.conf`, as the rest of the container resolves: in a Docker container on a
    /// user-defined network this is the embedded DNS at 127.0.0.11, so the firewall allows
    /// exactly the addresses the workload will be given.
    System,
    /// Explicit servers, each reached over UDP and TCP at the given address and port (tests,
    /// and `fw-cli plan` against a chosen resolver).
    Servers(Vec<SocketAddr>),
}

/// How names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// The most one name may take, A and AAAA together; past it the name fails with "timed out".
    pub per_name: Duration,
    pub source: ResolverSource,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            per_name: DEFAULT_PER_NAME,
            source: ResolverSource::System,
        }
    }
}

/// Why no resolver could be built. Every name then fails with this reason.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("cannot read the system resolver configuration (/etc/resolv.conf)")]
    SystemConfig(#[source] NetError),
    #[error("no DNS server given")]
    NoServers,
    #[error("cannot build the DNS resolver")]
    Build(#[source] NetError),
}

/// Builds the one resolver shared by all names of a run.
///
/// The cache is off (`cache_size` 0): every run, in particular `refresh`, must see what DNS
/// answers now, not what an earlier lookup remembered. `/etc/hosts` is not consulted: the
/// allowlist is about what DNS gives, like the `dig` of the reference script. Options read from
/// resolv.conf (ndots, search) are kept, but names are looked up fully qualified, so search
/// domains never apply to them.
pub fn build_resolver(opts: &ResolveOptions) -> Result<TokioResolver, ResolverError> {
    let mut builder = match &opts.source {
        ResolverSource::System => {
            TokioResolver::builder_tokio().map_err(ResolverError::SystemConfig)?
        }
        ResolverSource::Servers(servers) => {
            if servers.is_empty() {
                return Err(ResolverError::NoServers);
            }
            let name_servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], name_servers),
                TokioRuntimeProvider::default(),
            )
        }
    };
    let o: &mut ResolverOpts = builder.options_mut();
    o.cache_size = 0;
    o.attempts = RETRIES;
    o.timeout = opts.per_name / (RETRIES as u32 + 1);
    o.use_hosts_file = ResolveHosts::Never;
    builder.build().map_err(ResolverError::Build)
}

/// Resolves every name concurrently; the result keeps the input order, one entry per input.
///
/// Never fails as a whole: a name that does not resolve, and every name when no resolver can be
/// built, comes back as [`Resolution::failed`] with the reason.
pub async fn resolve_all(domains: &[Domain], opts: &ResolveOptions) -> Vec<Resolution> {
    let resolver = match build_resolver(opts) {
        Ok(r) => r,
        Err(e) => {
            let why = error_chain(&e);
            return domains
                .iter()
                .map(|d| Resolution::failed(d.clone(), why.clone()))
                .collect();
        }
    };
    futures::future::join_all(
        domains
            .iter()
            .map(|d| resolve_with(&resolver, d, opts.per_name)),
    )
    .await
}

/// Resolves one name with a resolver of its own.
pub async fn resolve_one(domain: &Domain, opts: &ResolveOptions) -> Resolution {
    match build_resolver(opts) {
        Ok(resolver) => resolve_with(&resolver, domain, opts.per_name).await,
        Err(e) => Resolution::failed(domain.clone(), error_chain(&e)),
    }
}

/// Resolves one name through `resolver`: A and AAAA concurrently, each under `per_name`, so a
/// family that answers is kept even when the other fails or hangs.
pub async fn resolve_with(
    resolver: &TokioResolver,
    domain: &Domain,
    per_name: Duration,
) -> Resolution {
    // Fully qualified (trailing dot): an allowlisted name is a full name, and search domains
    // from resolv.conf must not turn `api.github.com` into `api.github.com.corp.example`.
    let name = match Name::from_ascii(format!("{}.", domain.as_str())) {
        Ok(n) => n,
        Err(e) => return Resolution::failed(domain.clone(), format!("not a DNS name: {e}")),
    };
    let (v4, v6) = futures::join!(
        query(resolver, name.clone(), RecordType::A, per_name),
        query(resolver, name, RecordType::AAAA, per_name),
    );
    match (v4, v6) {
        (Ok(mut a), Ok(aaaa)) => {
            a.extend(aaaa);
            Resolution::ok(domain.clone(), a)
        }
        (Ok(addrs), Err(f)) | (Err(f), Ok(addrs)) => {
            tracing::debug!(%domain, reason = %f.describe(per_name), "one address family failed");
            Resolution::ok(domain.clone(), addrs)
        }
        (Err(a), Err(aaaa)) => Resolution::failed(domain.clone(), reason(&a, &aaaa, per_name)),
    }
}

/// Why one query (one name, one record type) gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The name does not exist (it has no records of any type).
    NxDomain,
    /// The name exists but has no record of the type asked (NOERROR, no answer).
    NoRecords,
    /// The server answered with an error code (SERVFAIL, REFUSED...).
    Rcode(ResponseCode),
    /// No answer within the per-name budget.
    TimedOut,
    /// Anything else (I/O errors, malformed answers), as hickory words it.
    Other(String),
}

impl Failure {
    fn from_net(e: &NetError) -> Failure {
        match e {
            NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
                ResponseCode::NXDomain => Failure::NxDomain,
                ResponseCode::NoError => Failure::NoRecords,
                code => Failure::Rcode(code),
            },
            NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => Failure::NxDomain,
            NetError::Dns(DnsError::ResponseCode(code)) => Failure::Rcode(*code),
            NetError::Timeout => Failure::TimedOut,
            other => Failure::Other(other.to_string()),
        }
    }

    fn describe(&self, per_name: Duration) -> String {
        match self {
            Failure::NxDomain => "NXDOMAIN".to_owned(),
            Failure::NoRecords => "no records".to_owned(),
            Failure::Rcode(code) => rcode_name(*code),
            Failure::TimedOut => {
                format!("timed out after {}", humantime::format_duration(per_name))
            }
            Failure::Other(s) => s.clone(),
        }
    }
}

/// The short reason for a name whose A and AAAA queries both failed.
fn reason(a: &Failure, aaaa: &Failure, per_name: Duration) -> String {
    match (a, aaaa) {
        // NXDOMAIN is about the name, not a type: it settles the matter whatever the other
        // query did.
        (Failure::NxDomain, _) | (_, Failure::NxDomain) => "NXDOMAIN".to_owned(),
        (Failure::NoRecords, Failure::NoRecords) => "no A or AAAA records".to_owned(),
        (x, y) if x == y => x.describe(per_name),
        (x, y) => format!(
            "A: {}; AAAA: {}",
            x.describe(per_name),
            y.describe(per_name)
        ),
    }
}

/// The mnemonic of a response code, as `dig` prints it.
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => format!("response code {}", u16::from(other)),
    }
}

/// One query, following CNAMEs (hickory's caching client chases the chain with further queries
/// when a server answers only the CNAME), keeping only addresses of the asked type.
async fn query(
    resolver: &TokioResolver,
    name: Name,
    rtype: RecordType,
    per_name: Duration,
) -> Result<Vec<IpAddr>, Failure> {
    let lookup = match tokio::time::timeout(per_name, resolver.lookup(name, rtype)).await {
        Err(_) => return Err(Failure::TimedOut),
        Ok(Err(e)) => return Err(Failure::from_net(&e)),
        Ok(Ok(lookup)) => lookup,
    };
    let mut addrs: Vec<IpAddr> = Vec::new();
    for record in lookup.answers() {
        let addr = match (&record.data, rtype) {
            (RData::A(a), RecordType::A) => IpAddr::V4(a.0),
            (RData::AAAA(a), RecordType::AAAA) => IpAddr::V6(a.0),
            _ => continue,
        };
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        Err(Failure::NoRecords)
    } else {
        Ok(addrs)
    }
}

/// An error and its sources on one line, for a warning.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        s.push_str(": ");
        s.push_str(&src.to_string());
        cur = src.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use hickory_resolver::system_conf::parse_resolv_conf;

    /// What Docker Engine writes into a container on a user-defined network (moby
    /// `libnetwork/internal/resolvconf`), with the options glibc knows and hickory may not.
    const DOCKER_RESOLV_CONF: &str = "\
# Generated by Docker Engine.
# This file can be edited; Docker Engine will not make further changes once it
# has been modified.

nameserver 127.0.0.11
search corp.example.test
options ndots:0 edns0 trust-ad rotate single-request-reopen use-vc no-aaaa timeout:3 attempts:4 fancy-unknown-option

# Based on host file: '/etc/resolv.conf' (internal resolver)
# ExtServers: [host(127.0.0.53)]
# Overrides: []
# Option ndots from: internal
";

    #[test]
    fn dockers_resolv_conf_parses() {
        let (config, options) = parse_resolv_conf(DOCKER_RESOLV_CONF).unwrap();
        let servers: Vec<IpAddr> = config.name_servers().iter().map(|s| s.ip).collect();
        assert_eq!(servers, ["127.0.0.11".parse::<IpAddr>().unwrap()]);
        assert_eq!(options.ndots, 0);
        assert_eq!(options.timeout, Duration::from_secs(3));
        assert_eq!(
            config.search(),
            [Name::from_ascii("corp.example.test").unwrap()]
        );
    }

    #[test]
    fn a_resolv_conf_without_nameservers_is_an_error_not_a_panic() {
        assert!(parse_resolv_conf("options ndots:0\n").is_err());
    }

    #[test]
    fn reasons_are_short_and_precise() {
        let s = Duration::from_secs(5);
        let servfail = Failure::Rcode(ResponseCode::ServFail);
        assert_eq!(
            reason(&Failure::NxDomain, &Failure::NxDomain, s),
            "NXDOMAIN"
        );
        assert_eq!(
            reason(&Failure::NoRecords, &Failure::NxDomain, s),
            "NXDOMAIN"
        );
        assert_eq!(reason(&servfail, &servfail, s), "SERVFAIL");
        assert_eq!(
            reason(&Failure::TimedOut, &Failure::TimedOut, s),
            "timed out after 5s"
        );
        assert_eq!(
            reason(&Failure::NoRecords, &Failure::NoRecords, s),
            "no A or AAAA records"
        );
        assert_eq!(
            reason(&Failure::NoRecords, &servfail, s),
            "A: no records; AAAA: SERVFAIL"
        );
        assert_eq!(
            reason(
                &Failure::Rcode(ResponseCode::Refused),
                &Failure::TimedOut,
                Duration::from_millis(1500)
            ),
            "A: REFUSED; AAAA: timed out after 1s 500ms"
        );
    }

    #[tokio::test]
    async fn no_servers_fails_every_name_not_the_call() {
        let opts = ResolveOptions {
            per_name: Duration::from_secs(1),
            source: ResolverSource::Servers(vec![]),
        };
        let names: Vec<Domain> = vec![
            "a.example.test".parse().unwrap(),
            "b.example.test".parse().unwrap(),
        ];
        let got = resolve_all(&names, &opts).await;
        assert_eq!(got.len(), 2);
        for (r, d) in got.iter().zip(&names) {
            assert_eq!(&r.domain, d);
            assert_eq!(r.warning.as_deref(), Some("no DNS server given"));
        }
    }
}
