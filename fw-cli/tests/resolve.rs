//! `resolve_all` against an in-process DNS server (hickory-server, with the workspace's mock
//! DNS handler from fw-testkit) on 127.0.0.1, UDP and TCP, serving a zone that answers each test
//! name in its own way: several addresses, a CNAME chain,
//! NXDOMAIN, SERVFAIL, a name slower than the per-name budget, a name with only AAAA, a name
//! whose AAAA query fails, and an answer too big for UDP (so the resolver must retry over TCP).
//! Nothing leaves loopback.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fw_cli::system::resolve::{ResolveOptions, ResolverSource, resolve_all, resolve_one};
use fw_core::inputs::Resolution;
use fw_core::validate::Domain;
use fw_testkit::dns::{Answer, Answers, Handler, QueryLog, Transport};
use hickory_server::Server;
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_server::proto::rr::{Name, RData, RecordType};

/// How the mock answers one name.
#[derive(Debug, Clone)]
enum Behaviour {
    Addrs(Vec<Ipv4Addr>, Vec<Ipv6Addr>),
    Cname(&'static str),
    NxDomain,
    ServFail,
    /// Answers A after sleeping this long (AAAA: no records, also late).
    Slow(Duration, Ipv4Addr),
    /// A records; the AAAA query gets SERVFAIL.
    AaaaServFail(Vec<Ipv4Addr>),
}

/// The mock's names (keyed without trailing dot, lower case), changeable while it runs. A
/// CNAME is answered one hop per query, so the resolver must follow each hop itself.
#[derive(Clone, Default)]
struct TestZone(Arc<Mutex<HashMap<String, Behaviour>>>);

impl Answers for TestZone {
    fn answer(&self, name: &str, qtype: RecordType) -> Answer {
        let behaviour = self.0.lock().unwrap().get(name).cloned();
        let mut answer = Answer {
            code: ResponseCode::NoError,
            records: Vec::new(),
            delay: Duration::ZERO,
        };
        let rec = |data: RData| (name.to_owned(), data);
        match behaviour {
            None | Some(Behaviour::NxDomain) => answer.code = ResponseCode::NXDomain,
            Some(Behaviour::ServFail) => answer.code = ResponseCode::ServFail,
            Some(Behaviour::Cname(target)) => answer.records.push(rec(RData::CNAME(CNAME(
                Name::from_ascii(format!("{target}.")).unwrap(),
            )))),
            Some(Behaviour::Slow(delay, ip)) => {
                answer.delay = delay;
                if qtype == RecordType::A {
                    answer.records.push(rec(RData::A(A(ip))));
                }
            }
            Some(Behaviour::AaaaServFail(v4)) => match qtype {
                RecordType::AAAA => answer.code = ResponseCode::ServFail,
                RecordType::A => answer
                    .records
                    .extend(v4.into_iter().map(|a| rec(RData::A(A(a))))),
                _ => {}
            },
            Some(Behaviour::Addrs(v4, v6)) => match qtype {
                RecordType::A => answer
                    .records
                    .extend(v4.into_iter().map(|a| rec(RData::A(A(a))))),
                RecordType::AAAA => answer
                    .records
                    .extend(v6.into_iter().map(|a| rec(RData::AAAA(AAAA(a))))),
                _ => {}
            },
        }
        answer
    }
}

/// A running mock: the server (dropping it stops it), where it listens, what it saw.
struct MockDns {
    _server: Server<Handler<TestZone>>,
    addr: SocketAddr,
    zone: TestZone,
    log: QueryLog,
}

impl MockDns {
    /// Binds UDP and TCP on the same random loopback port (retrying if the TCP side of the
    /// port the kernel chose for UDP is taken).
    async fn start(zone: HashMap<String, Behaviour>) -> MockDns {
        let (udp, tcp) = 'bind: {
            for _ in 0..20 {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let addr = udp.local_addr().unwrap();
                if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                    break 'bind (udp, tcp);
                }
            }
            panic!("no loopback port free for both UDP and TCP");
        };
        let addr = udp.local_addr().unwrap();
        let zone = TestZone(Arc::new(Mutex::new(zone)));
        let log: QueryLog = Arc::default();
        let mut server = Server::new(Handler::new(zone.clone(), log.clone(), 60));
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        MockDns {
            _server: server,
            addr,
            zone,
            log,
        }
    }

    fn opts(&self, per_name: Duration) -> ResolveOptions {
        ResolveOptions {
            per_name,
            source: ResolverSource::Servers(vec![self.addr]),
        }
    }

    fn queries_for(&self, name: &str) -> Vec<(RecordType, Transport)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.name == name)
            .map(|q| (q.qtype, q.transport))
            .collect()
    }
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn domain(s: &str) -> Domain {
    s.parse().unwrap()
}

/// The per-name budget of the tests: short, but far above a loopback round trip.
const PER_NAME: Duration = Duration::from_millis(1500);

fn zone() -> HashMap<String, Behaviour> {
    let mut z = HashMap::new();
    let mut put = |n: &str, a: Behaviour| z.insert(n.to_owned(), a);
    put(
        "multi.fw.test",
        Behaviour::Addrs(
            vec![v4("192.0.2.1"), v4("192.0.2.2"), v4("192.0.2.3")],
            vec![v6("2001:db8::1"), v6("2001:db8::2")],
        ),
    );
    put("chain-a.fw.test", Behaviour::Cname("chain-b.fw.test"));
    put("chain-b.fw.test", Behaviour::Cname("chain-c.fw.test"));
    put(
        "chain-c.fw.test",
        Behaviour::Addrs(vec![v4("198.51.100.7"), v4("198.51.100.8")], vec![]),
    );
    put("nx.fw.test", Behaviour::NxDomain);
    put("servfail.fw.test", Behaviour::ServFail);
    for slow in [
        "slow.fw.test",
        "slow-2.fw.test",
        "slow-3.fw.test",
        "slow-4.fw.test",
    ] {
        put(
            slow,
            Behaviour::Slow(Duration::from_secs(5), v4("192.0.2.99")),
        );
    }
    put(
        "v6only.fw.test",
        Behaviour::Addrs(vec![], vec![v6("2001:db8:6::6")]),
    );
    put(
        "v4-aaaa-fails.fw.test",
        Behaviour::AaaaServFail(vec![v4("203.0.113.4")]),
    );
    put(
        "big.fw.test",
        Behaviour::Addrs(
            (1..=80).map(|i| Ipv4Addr::new(10, 99, 0, i)).collect(),
            vec![],
        ),
    );
    z
}

fn warning(r: &Resolution) -> Option<&str> {
    r.warning.as_deref()
}

#[tokio::test]
async fn resolves_each_name_its_own_way_concurrently_and_in_order() {
    let dns = MockDns::start(zone()).await;
    let names: Vec<Domain> = [
        "multi.fw.test",
        "chain-a.fw.test",
        "nx.fw.test",
        "servfail.fw.test",
        "slow.fw.test",
        "v6only.fw.test",
        "v4-aaaa-fails.fw.test",
        "big.fw.test",
        "MULTI.fw.test.",
        "slow-2.fw.test",
        "slow-3.fw.test",
        "slow-4.fw.test",
    ]
    .iter()
    .map(|s| domain(s))
    .collect();

    let start = Instant::now();
    let got = resolve_all(&names, &dns.opts(PER_NAME)).await;
    let took = start.elapsed();

    // Four slow names cost one budget, not four (one after another would be 4 × 1.5s), and do
    // not hold up the others.
    assert!(
        took < PER_NAME * 3,
        "took {took:?} for a per-name budget of {PER_NAME:?}"
    );
    assert!(took >= PER_NAME - Duration::from_millis(100), "{took:?}");

    let domains: Vec<&str> = got.iter().map(|r| r.domain.as_str()).collect();
    assert_eq!(
        domains,
        [
            "multi.fw.test",
            "chain-a.fw.test",
            "nx.fw.test",
            "servfail.fw.test",
            "slow.fw.test",
            "v6only.fw.test",
            "v4-aaaa-fails.fw.test",
            "big.fw.test",
            "multi.fw.test",
            "slow-2.fw.test",
            "slow-3.fw.test",
            "slow-4.fw.test",
        ]
    );

    let multi = [
        ip("192.0.2.1"),
        ip("192.0.2.2"),
        ip("192.0.2.3"),
        ip("2001:db8::1"),
        ip("2001:db8::2"),
    ];
    assert_eq!(got[0].addrs, multi);
    assert_eq!(warning(&got[0]), None);

    // a -> b -> c, answered one hop per query: the final A records, nothing from the CNAMEs.
    assert_eq!(got[1].addrs, [ip("198.51.100.7"), ip("198.51.100.8")]);
    assert_eq!(warning(&got[1]), None);
    let followed: Vec<_> = ["chain-a.fw.test", "chain-b.fw.test", "chain-c.fw.test"]
        .iter()
        .map(|n| dns.queries_for(n).iter().any(|(t, _)| *t == RecordType::A))
        .collect();
    assert_eq!(followed, [true, true, true], "each hop was queried");

    assert!(got[2].addrs.is_empty(), "{:?}", got[2]);
    assert_eq!(warning(&got[2]), Some("NXDOMAIN"));

    assert!(got[3].addrs.is_empty(), "{:?}", got[3]);
    assert_eq!(warning(&got[3]), Some("SERVFAIL"));

    for r in [&got[4], &got[9], &got[10], &got[11]] {
        assert!(r.addrs.is_empty(), "{r:?}");
        assert_eq!(warning(r), Some("timed out after 1s 500ms"));
    }

    assert_eq!(got[5].addrs, [ip("2001:db8:6::6")]);
    assert_eq!(warning(&got[5]), None);

    // The failed AAAA query does not lose the A records.
    assert_eq!(got[6].addrs, [ip("203.0.113.4")]);
    assert_eq!(warning(&got[6]), None);

    // 80 A records do not fit a 512-byte UDP answer: truncated, then asked again over TCP.
    let big: Vec<IpAddr> = (1..=80)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 99, 0, i)))
        .collect();
    assert_eq!(got[7].addrs, big);
    assert!(
        dns.queries_for("big.fw.test")
            .contains(&(RecordType::A, Transport::Tcp)),
        "{:?}",
        dns.queries_for("big.fw.test")
    );

    // The same name twice (in another spelling) resolves twice, to the same answer.
    assert_eq!(got[8].addrs, multi);
}

#[tokio::test]
async fn a_name_with_no_address_records_says_so() {
    let mut z = HashMap::new();
    z.insert("empty.fw.test".to_owned(), Behaviour::Addrs(vec![], vec![]));
    let dns = MockDns::start(z).await;
    let got = resolve_one(&domain("empty.fw.test"), &dns.opts(PER_NAME)).await;
    assert!(got.addrs.is_empty(), "{:?}", got);
    assert_eq!(warning(&got), Some("no A or AAAA records"));
}

#[tokio::test]
async fn a_cname_to_a_missing_name_fails_with_nxdomain() {
    let mut z = HashMap::new();
    z.insert(
        "dangling.fw.test".to_owned(),
        Behaviour::Cname("gone.fw.test"),
    );
    let dns = MockDns::start(z).await;
    let got = resolve_one(&domain("dangling.fw.test"), &dns.opts(PER_NAME)).await;
    assert!(got.addrs.is_empty(), "{:?}", got);
    assert_eq!(warning(&got), Some("NXDOMAIN"));
}

#[tokio::test]
async fn every_run_asks_again() {
    let mut z = HashMap::new();
    z.insert(
        "moving.fw.test".to_owned(),
        Behaviour::Addrs(vec![v4("192.0.2.10")], vec![]),
    );
    let dns = MockDns::start(z).await;
    let name = [domain("moving.fw.test")];
    let first = resolve_all(&name, &dns.opts(PER_NAME)).await;
    assert_eq!(first[0].addrs, [ip("192.0.2.10")]);

    dns.zone.0.lock().unwrap().insert(
        "moving.fw.test".to_owned(),
        Behaviour::Addrs(vec![v4("192.0.2.20")], vec![]),
    );
    let second = resolve_all(&name, &dns.opts(PER_NAME)).await;
    assert_eq!(second[0].addrs, [ip("192.0.2.20")]);
}

#[tokio::test]
async fn a_dead_server_fails_names_without_failing_the_call() {
    // Bind and drop: nothing listens on this port any more, UDP gets port-unreachable.
    let addr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let opts = ResolveOptions {
        per_name: Duration::from_millis(800),
        source: ResolverSource::Servers(vec![addr]),
    };
    let names = [domain("one.fw.test"), domain("two.fw.test")];
    let start = Instant::now();
    let got = resolve_all(&names, &opts).await;
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(got.len(), 2);
    for r in &got {
        assert!(r.addrs.is_empty());
        assert!(r.warning.as_deref().is_some_and(|w| !w.is_empty()), "{r:?}");
    }
}
