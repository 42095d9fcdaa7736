//! The mock DNS: a [`Zone`] of per-name answers and behaviours, served over UDP and TCP by
//! hickory-server inside a namespace, with a log of every query.
//!
//! It answers the way the recursive resolver a container normally sees would: a CNAME comes
//! with the rest of its chain and the final records, NXDOMAIN and SERVFAIL only for names a
//! scenario chose. Any other name gets a stable address of its own in [`CATCH_ALL_V4`] (and no
//! AAAA), so an implementation that resolves names the scenario did not think of (editor
//! marketplaces, its own registry) is not derailed by failures that have nothing to do with its
//! firewall. The same zone serves as the world's resolver and behind Docker's embedded-DNS
//! emulation ([`super::docker_dns`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fw_testkit::dns::{Answers, Handler};
use hickory_server::Server;
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_server::proto::rr::{Name, RData, RecordType};

use crate::world::netns::{Netns, Service};

/// The query log and the answers are those of the workspace's one DNS request handler.
pub use fw_testkit::dns::{Answer, QueryLog, QueryRecord, Transport, key};

// Where names nobody configured land: the upper half of the domain-host range of the address
// plan (the lower half is left to the names a scenario configures).
use fw_testkit::plan::CATCH_ALL_V4;

/// TTL of every record: short, as a CDN's, so nothing relies on long caching.
const TTL: u32 = 30;

/// Longest CNAME chain followed; a longer one (or a loop) answers SERVFAIL, as a resolver does.
const MAX_CHAIN: usize = 8;

/// How long an idle TCP DNS connection is kept open.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// How the mock treats a configured name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Answers its records at once.
    #[default]
    Normal,
    /// NXDOMAIN for every type.
    NxDomain,
    /// SERVFAIL for every type.
    ServFail,
    /// Answers its records after this delay (a budget-per-name check).
    Slow(Duration),
}

/// What one name holds. A name with a CNAME answers only the CNAME and what its target holds
/// (its own A/AAAA are ignored, as DNS forbids data beside a CNAME). A configured name with no
/// A, no AAAA and no CNAME gets the catch-all A, so `slow(name, d)` alone is a slow address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameSpec {
    pub a: Vec<Ipv4Addr>,
    pub aaaa: Vec<Ipv6Addr>,
    pub cname: Option<String>,
    pub behaviour: Behaviour,
}

/// The names a scenario configured; anything else gets the catch-all.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    names: HashMap<String, NameSpec>,
}

/// Builds a [`Zone`]; names are case-insensitive and may end with a dot.
#[derive(Debug, Clone, Default)]
pub struct ZoneBuilder {
    names: HashMap<String, NameSpec>,
}

/// The stable catch-all address of `name`: FNV-1a of its key onto 203.0.113.129..=254 (the
/// /25's first and last addresses are left out so no answer looks like a network or broadcast
/// address).
pub fn catch_all_v4(name: &str) -> Ipv4Addr {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key(name).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let [a, b, c, first] = CATCH_ALL_V4.network().octets();
    Ipv4Addr::new(a, b, c, first + 1 + (h % 126) as u8)
}

impl ZoneBuilder {
    fn spec(&mut self, name: &str) -> &mut NameSpec {
        self.names.entry(key(name)).or_default()
    }

    /// Adds A records to `name`.
    pub fn a(mut self, name: &str, addrs: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.spec(name).a.extend(addrs);
        self
    }

    /// Adds AAAA records to `name`.
    pub fn aaaa(mut self, name: &str, addrs: impl IntoIterator<Item = Ipv6Addr>) -> Self {
        self.spec(name).aaaa.extend(addrs);
        self
    }

    /// Makes `name` a CNAME to `target`.
    pub fn cname(mut self, name: &str, target: &str) -> Self {
        self.spec(name).cname = Some(key(target));
        self
    }

    /// Sets how `name` behaves.
    pub fn behaviour(mut self, name: &str, behaviour: Behaviour) -> Self {
        self.spec(name).behaviour = behaviour;
        self
    }

    pub fn nxdomain(self, name: &str) -> Self {
        self.behaviour(name, Behaviour::NxDomain)
    }

    pub fn servfail(self, name: &str) -> Self {
        self.behaviour(name, Behaviour::ServFail)
    }

    pub fn slow(self, name: &str, delay: Duration) -> Self {
        self.behaviour(name, Behaviour::Slow(delay))
    }

    pub fn build(self) -> Zone {
        Zone { names: self.names }
    }
}

impl Zone {
    pub fn builder() -> ZoneBuilder {
        ZoneBuilder::default()
    }

    /// The configuration of `name`, if a scenario gave it one.
    pub fn get(&self, name: &str) -> Option<&NameSpec> {
        self.names.get(&key(name))
    }

    /// The configured names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// The A records a name that holds data (no CNAME) answers.
    fn v4_of(name: &str, spec: Option<&NameSpec>) -> Vec<Ipv4Addr> {
        match spec {
            Some(s) if !s.a.is_empty() => s.a.clone(),
            Some(s) if !s.aaaa.is_empty() => Vec::new(),
            _ => vec![catch_all_v4(name)],
        }
    }

    /// What the zone answers to `qtype` for `name`, following CNAMEs as a recursive resolver
    /// does: the chain, then the final records; NXDOMAIN or SERVFAIL anywhere on the chain
    /// becomes the answer's code (with the chain so far for NXDOMAIN, as resolvers send it).
    pub fn answer(&self, name: &str, qtype: RecordType) -> Answer {
        let mut name = key(name);
        let mut records = Vec::new();
        let mut delay = Duration::ZERO;
        for _ in 0..MAX_CHAIN {
            let spec = self.names.get(&name);
            match spec.map(|s| s.behaviour) {
                Some(Behaviour::NxDomain) => {
                    return Answer {
                        code: ResponseCode::NXDomain,
                        records,
                        delay,
                    };
                }
                Some(Behaviour::ServFail) => {
                    return Answer {
                        code: ResponseCode::ServFail,
                        records: Vec::new(),
                        delay,
                    };
                }
                Some(Behaviour::Slow(d)) => delay += d,
                Some(Behaviour::Normal) | None => {}
            }
            if let Some(target) = spec.and_then(|s| s.cname.clone()) {
                match Name::from_ascii(format!("{target}.")) {
                    Ok(t) => records.push((name.clone(), RData::CNAME(CNAME(t)))),
                    Err(_) => break,
                }
                if qtype == RecordType::CNAME {
                    break;
                }
                name = target;
                continue;
            }
            match qtype {
                RecordType::A => records.extend(
                    Self::v4_of(&name, spec)
                        .into_iter()
                        .map(|a| (name.clone(), RData::A(A(a)))),
                ),
                RecordType::AAAA => records.extend(
                    spec.map(|s| s.aaaa.clone())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| (name.clone(), RData::AAAA(AAAA(a)))),
                ),
                _ => {}
            }
            return Answer {
                code: ResponseCode::NoError,
                records,
                delay,
            };
        }
        if qtype == RecordType::CNAME && !records.is_empty() {
            return Answer {
                code: ResponseCode::NoError,
                records,
                delay,
            };
        }
        Answer {
            code: ResponseCode::ServFail,
            records: Vec::new(),
            delay,
        }
    }

    /// Every address `name` finally resolves to (A then AAAA, through CNAMEs): what a case
    /// probes to check the name is reachable. Empty for NXDOMAIN and SERVFAIL.
    pub fn addresses(&self, name: &str) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for qtype in [RecordType::A, RecordType::AAAA] {
            let answer = self.answer(name, qtype);
            if answer.code != ResponseCode::NoError {
                return Vec::new();
            }
            out.extend(answer.records.into_iter().filter_map(|(_, r)| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            }));
        }
        out
    }
}

impl Answers for Zone {
    fn answer(&self, name: &str, qtype: RecordType) -> Answer {
        Zone::answer(self, name, qtype)
    }
}

/// A running mock DNS; dropping it stops it.
#[derive(Debug)]
pub struct DnsServer {
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    log: QueryLog,
    zone: Arc<Zone>,
    _service: Service,
}

impl DnsServer {
    /// The UDP addresses it listens on (ports as bound, when port 0 was asked).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The TCP addresses it listens on.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    pub fn zone(&self) -> &Arc<Zone> {
        &self.zone
    }

    /// The live query log (shared with the server).
    pub fn log(&self) -> QueryLog {
        self.log.clone()
    }

    /// A copy of every query so far.
    pub fn queries(&self) -> Vec<QueryRecord> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The queries for one name (any spelling).
    pub fn queries_for(&self, name: &str) -> Vec<QueryRecord> {
        let name = key(name);
        self.queries()
            .into_iter()
            .filter(|q| q.name == name)
            .collect()
    }
}

/// The receive buffer of the mock's UDP sockets. The default (`net.core.rmem_default`, 208 KiB
/// here) holds about 270 queries: an implementation that sends a thousand names' A and AAAA
/// queries at once lost some while the harness was busy, and its resolver retransmitted them
/// a quarter of a second later (seen in `fw-conformance bench`, domains-1000: 252 of 2,024
/// queries sent twice in a slow round, none in the others). A real resolver is not that
/// easy to overflow, so the mock is given room: the time measured is the IUT's.
const DNS_RECEIVE_BUFFER: usize = 8 << 20;

/// Sets [`DNS_RECEIVE_BUFFER`] with `SO_RCVBUFFORCE` (the harness is root), past
/// `net.core.rmem_max`, which is the machine's and is not changed.
fn deepen_receive_buffer(s: &tokio::net::UdpSocket) -> std::io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    setsockopt(s, sockopt::RcvBufForce, &DNS_RECEIVE_BUFFER).map_err(std::io::Error::from)
}

/// Starts the mock DNS for `zone` in `ns`, on every UDP and TCP address given (port 0 takes a
/// free port; the bound addresses are reported by the returned handle).
pub fn start_dns(
    ns: &Netns,
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    zone: Arc<Zone>,
) -> Result<DnsServer> {
    serve_dns(ns, udp, tcp, zone, false)
}

/// [`start_dns`] on sockets that share their port with other binds of it (`SO_REUSEPORT`):
/// the world's resolvers on their own addresses, beside the catch-all DNS that the world's
/// test hosts run on `0.0.0.0:53` (the kernel hands a query to the most specific bind).
pub fn start_dns_shared(
    ns: &Netns,
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    zone: Arc<Zone>,
) -> Result<DnsServer> {
    serve_dns(ns, udp, tcp, zone, true)
}

fn serve_dns(
    ns: &Netns,
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    zone: Arc<Zone>,
    share: bool,
) -> Result<DnsServer> {
    let log: QueryLog = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let handler = Handler::new(zone.clone(), log.clone(), TTL);
    let service = ns.spawn_service("dns", move |stop| async move {
        let bound = async {
            let mut server = Server::new(handler);
            let mut addrs = (Vec::new(), Vec::new());
            for a in udp {
                let s = if share {
                    super::shared_socket(a, socket2::Type::DGRAM)
                        .and_then(|s| Ok(tokio::net::UdpSocket::from_std(s.into())?))
                } else {
                    tokio::net::UdpSocket::bind(a).await.map_err(Into::into)
                }
                .with_context(|| format!("cannot bind UDP {a}"))?;
                deepen_receive_buffer(&s)
                    .with_context(|| format!("cannot enlarge the receive buffer of UDP {a}"))?;
                addrs.0.push(s.local_addr()?);
                server.register_socket(s);
            }
            for a in tcp {
                let l = if share {
                    super::tcp_listen_shared(a)
                } else {
                    tokio::net::TcpListener::bind(a).await.map_err(Into::into)
                }
                .with_context(|| format!("cannot bind TCP {a}"))?;
                addrs.1.push(l.local_addr()?);
                server.register_listener(l, TCP_IDLE, 64);
            }
            anyhow::Ok((server, addrs))
        }
        .await;
        let mut server = match bound {
            Ok((server, addrs)) => {
                let _ = tx.send(Ok(addrs));
                server
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let _ = stop.await;
        let _ = tokio::time::timeout(Duration::from_secs(2), server.shutdown_gracefully()).await;
    })?;
    let (udp, tcp) = super::wait_ready(&rx, "dns")?;
    Ok(DnsServer {
        udp,
        tcp,
        log,
        zone,
        _service: service,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use super::*;
    use crate::world::mocks::testing::{privileged, run, world_like};

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn zone() -> Zone {
        Zone::builder()
            .a("multi.fw.test", [v4("203.0.113.10"), v4("203.0.113.11")])
            .aaaa("multi.fw.test", [v6("2001:db8:10::10")])
            .aaaa("v6only.fw.test", [v6("2001:db8:10::6")])
            .cname("chain-a.fw.test", "chain-b.fw.test.")
            .cname("Chain-B.fw.test", "final.fw.test")
            .a("final.fw.test", [v4("203.0.113.20")])
            .cname("to-nx.fw.test", "nx.fw.test")
            .nxdomain("nx.fw.test")
            .servfail("sf.fw.test")
            .slow("slow.fw.test", Duration::from_millis(700))
            .cname("loop-a.fw.test", "loop-b.fw.test")
            .cname("loop-b.fw.test", "loop-a.fw.test")
            .build()
    }

    fn addrs(a: &Answer) -> Vec<String> {
        a.records.iter().map(|(n, r)| format!("{n} {r}")).collect()
    }

    #[test]
    fn configured_names_answer_their_records() {
        let z = zone();
        let a = z.answer("MULTI.fw.test.", RecordType::A);
        assert_eq!(a.code, ResponseCode::NoError);
        assert_eq!(
            addrs(&a),
            ["multi.fw.test 203.0.113.10", "multi.fw.test 203.0.113.11"]
        );
        assert_eq!(
            addrs(&z.answer("multi.fw.test", RecordType::AAAA)),
            ["multi.fw.test 2001:db8:10::10"]
        );
        // A name with only AAAA has no A (and no catch-all): NODATA.
        let a = z.answer("v6only.fw.test", RecordType::A);
        assert_eq!((a.code, a.records.len()), (ResponseCode::NoError, 0));
    }

    #[test]
    fn a_cname_answers_its_chain_and_the_final_records() {
        let z = zone();
        let a = z.answer("chain-a.fw.test", RecordType::A);
        assert_eq!(a.code, ResponseCode::NoError);
        assert_eq!(
            addrs(&a),
            [
                "chain-a.fw.test chain-b.fw.test.",
                "chain-b.fw.test final.fw.test.",
                "final.fw.test 203.0.113.20"
            ]
        );
        assert_eq!(
            addrs(&z.answer("chain-a.fw.test", RecordType::CNAME)),
            ["chain-a.fw.test chain-b.fw.test."]
        );
        assert_eq!(
            z.addresses("chain-a.fw.test"),
            [IpAddr::V4(v4("203.0.113.20"))]
        );
        let nx = z.answer("to-nx.fw.test", RecordType::A);
        assert_eq!(nx.code, ResponseCode::NXDomain);
        assert_eq!(addrs(&nx), ["to-nx.fw.test nx.fw.test."]);
        assert_eq!(
            z.answer("loop-a.fw.test", RecordType::A).code,
            ResponseCode::ServFail
        );
    }

    #[test]
    fn failures_only_for_names_configured_so() {
        let z = zone();
        for t in [RecordType::A, RecordType::AAAA] {
            assert_eq!(z.answer("nx.fw.test", t).code, ResponseCode::NXDomain);
            assert_eq!(z.answer("sf.fw.test", t).code, ResponseCode::ServFail);
        }
        assert!(z.addresses("nx.fw.test").is_empty());
        let slow = z.answer("slow.fw.test", RecordType::A);
        assert_eq!(slow.delay, Duration::from_millis(700));
        assert_eq!(
            addrs(&slow),
            [format!("slow.fw.test {}", catch_all_v4("slow.fw.test"))]
        );
    }

    #[test]
    fn unknown_names_get_a_stable_catch_all_address_and_no_aaaa() {
        let z = zone();
        let net = CATCH_ALL_V4;
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let name = format!("host-{i}.marketplace.test");
            let ip = catch_all_v4(&name);
            assert!(net.contains(&ip), "{ip}");
            assert!(ip.octets()[3] != 128 && ip.octets()[3] != 255, "{ip}");
            assert_eq!(catch_all_v4(&name.to_uppercase()), ip);
            assert_eq!(z.addresses(&name), [IpAddr::V4(ip)]);
            seen.insert(ip);
        }
        assert!(seen.len() > 60, "spread: {}", seen.len());
        // Fixed forever: cases and reports may name it.
        assert_eq!(
            catch_all_v4("registry.npmjs.org"),
            catch_all_v4("registry.npmjs.org.")
        );
        let aaaa = z.answer("unknown.fw.test", RecordType::AAAA);
        assert_eq!((aaaa.code, aaaa.records.len()), (ResponseCode::NoError, 0));
        let mx = z.answer("unknown.fw.test", RecordType::MX);
        assert_eq!((mx.code, mx.records.len()), (ResponseCode::NoError, 0));
    }

    fn dig(ns: &Netns, server: SocketAddr, args: &[&str]) -> (i32, String) {
        let at = format!("@{}", server.ip());
        let port = server.port().to_string();
        let mut all = vec![at.as_str(), "-p", port.as_str(), "+time=3", "+tries=1"];
        all.extend_from_slice(args);
        let (code, out, err) = run(ns, "dig", &all);
        (code, format!("{out}{err}"))
    }

    #[test]
    fn serves_the_zone_over_udp_and_tcp_and_logs_queries() {
        if !privileged() {
            return;
        }
        let ns = world_like("dns", &["198.51.100.0/24"]);
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        // A world resolver address inside a local route binds like an assigned one.
        let world = SocketAddr::from(([198, 51, 100, 2], 53));
        let dns = start_dns(&ns, vec![any, world], vec![any, world], Arc::new(zone())).unwrap();
        let (udp, tcp) = (dns.udp_addrs()[0], dns.tcp_addrs()[0]);
        assert_ne!(udp.port(), 0);
        assert_eq!(dns.udp_addrs()[1], world);

        let (code, out) = dig(&ns, udp, &["+short", "multi.fw.test"]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["203.0.113.10", "203.0.113.11"]
        );
        let (_, out) = dig(&ns, tcp, &["+tcp", "+short", "chain-a.fw.test"]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["chain-b.fw.test.", "final.fw.test.", "203.0.113.20"]
        );
        let (_, out) = dig(&ns, world, &["+short", "AAAA", "multi.fw.test"]);
        assert_eq!(out.trim(), "2001:db8:10::10");
        let (_, out) = dig(&ns, world, &["+tcp", "+short", "whatever.example.test"]);
        assert_eq!(
            out.trim(),
            catch_all_v4("whatever.example.test").to_string()
        );
        let (_, out) = dig(&ns, udp, &["nx.fw.test"]);
        assert!(out.contains("status: NXDOMAIN"), "{out}");
        let (_, out) = dig(&ns, udp, &["sf.fw.test"]);
        assert!(out.contains("status: SERVFAIL"), "{out}");

        let start = Instant::now();
        let (_, out) = dig(&ns, udp, &["+short", "slow.fw.test"]);
        assert!(start.elapsed() >= Duration::from_millis(700), "{out}");
        assert_eq!(out.trim(), catch_all_v4("slow.fw.test").to_string());

        let q = dns.queries_for("MULTI.fw.test");
        let seen: Vec<_> = q.iter().map(|q| (q.qtype, q.transport)).collect();
        assert_eq!(
            seen,
            [
                (RecordType::A, Transport::Udp),
                (RecordType::AAAA, Transport::Udp)
            ]
        );
        assert_eq!(
            dns.queries_for("chain-a.fw.test")[0].transport,
            Transport::Tcp
        );
        assert_eq!(dns.queries().len(), 7);
        drop(dns);
        // Stopped: nothing answers any more.
        let (code, _) = dig(&ns, world, &["+short", "multi.fw.test"]);
        assert_ne!(code, 0);
    }

    #[test]
    fn a_port_taken_is_an_error() {
        if !privileged() {
            return;
        }
        let ns = world_like("dns-busy", &[]);
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let first = start_dns(&ns, vec![any], vec![], Arc::new(Zone::default())).unwrap();
        let taken = first.udp_addrs()[0];
        let e = start_dns(&ns, vec![taken], vec![], Arc::new(Zone::default())).unwrap_err();
        assert!(
            format!("{e:#}").contains(&format!("cannot bind UDP {taken}")),
            "{e:#}"
        );
    }

    #[test]
    fn the_udp_receive_buffer_holds_a_burst_of_queries() {
        if !privileged() {
            return;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let size = rt.block_on(async {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            deepen_receive_buffer(&s).unwrap();
            socket2::SockRef::from(&s).recv_buffer_size().unwrap()
        });
        // The kernel reports twice what was set (its bookkeeping overhead included).
        assert!(size >= DNS_RECEIVE_BUFFER, "{size}");
    }
}
