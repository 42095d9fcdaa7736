#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use ipnet::IpNet;

use super::*;
use fw_testkit::plan::{REQUIRED_AAAA, resolved_v4};

/// Everything any scenario allowlists or routes specially: no spread destination may be in it.
fn allowed() -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = [
        "192.0.2.0/26",
        "192.0.2.64/26",
        "192.0.2.128/26",
        "76.76.21.0/24",
        "64.29.17.0/24",
        "216.198.79.0/24",
        "172.18.0.0/16",
        "172.19.0.0/16",
        "100.64.255.0/30",
        "127.0.0.0/8",
        // The configured world resolver (dns-none) and Docker's upstream.
        "198.51.100.2/32",
        // api.github.com outside the meta ranges (VER-02).
        "198.51.100.70/32",
        // Where the mock DNS puts names nobody configured.
        "203.0.113.128/25",
        "2001:db8:1::/48",
        "2001:db8:2::/48",
        "2001:db8:3::/48",
        "fd00:18::/64",
        "fd00:ff::/64",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    let hosts = resolved_v4()
        .into_iter()
        .map(IpAddr::from)
        .chain(REQUIRED_AAAA.iter().map(|(_, a)| IpAddr::from(*a)));
    nets.extend(hosts.map(IpNet::from));
    nets
}

fn canonical(a: IpAddr) -> IpAddr {
    a.to_canonical()
}

#[test]
fn the_same_seed_gives_the_same_spread_and_another_seed_another() {
    let a = Spread::new(42);
    let b = Spread::new(42);
    assert_eq!(a.v4, b.v4);
    assert_eq!(a.v6, b.v6);
    assert_eq!(a.tcp_v4(), b.tcp_v4());
    assert_eq!(a.inbound_tcp(), b.inbound_tcp());
    let c = Spread::new(43);
    assert_ne!(a.drawn_v4(), c.drawn_v4());
}

#[test]
fn no_destination_or_source_is_allowed_anywhere() {
    let allowed = allowed();
    for seed in [0, 1, 42, u64::MAX, 0xdead_beef] {
        let sp = Spread::new(seed);
        let mut all: Vec<IpAddr> = sp.v4.iter().chain(&sp.v6).map(|d| d.addr).collect();
        all.extend(sp.mapped_tcp().iter().map(|p| canonical(p.to.ip())));
        all.extend(bypass::resolvers(&sp).iter().map(|d| d.addr));
        all.extend(bypass::doh_tcp().iter().map(|p| p.to.ip()));
        all.extend(bypass::metadata_tcp().iter().map(|p| p.to.ip()));
        all.extend(bypass::allowed_ports_tcp(&sp).iter().map(|p| p.to.ip()));
        for a in all {
            assert!(
                !allowed.iter().any(|n| n.contains(&a)),
                "seed {seed}: {a} is allowed somewhere"
            );
        }
        // Inbound sources may be allowlisted destinations, never the Docker side.
        for s in sp.inbound_sources() {
            assert!(
                !["172.16.0.0/12", "100.64.255.0/30", "127.0.0.0/8"]
                    .iter()
                    .any(|n| n.parse::<IpNet>().unwrap().contains(&s.addr)),
                "{}",
                s.addr
            );
        }
    }
}

#[test]
fn every_spread_has_its_must_have_targets() {
    let sp = Spread::new(7);
    let tcp: Vec<String> = sp.tcp_v4().iter().map(|p| p.to.to_string()).collect();
    for must in [
        "198.51.100.10:443",
        "198.51.100.10:80",
        "198.51.100.10:8080",
        "198.51.100.10:41234",
        "192.0.3.10:443",
        "192.1.0.10:443",
        "203.0.114.10:443",
        "203.0.113.21:443",
        "76.77.0.10:443",
        "172.20.0.10:443",
        "8.8.8.8:443",
        "151.101.1.10:443",
    ] {
        assert!(tcp.iter().any(|t| t == must), "{must} missing");
    }
    // Both halves of the address space among the drawn ones, each in a /8 of its own half.
    let drawn = sp.drawn_v4();
    assert_eq!(drawn.len(), RANDOM_V4);
    let high = |d: &&&Dest| matches!(d.addr, IpAddr::V4(a) if a.octets()[0] >= 128);
    assert_eq!(drawn.iter().filter(high).count(), RANDOM_V4 / 2);
    let udp: Vec<String> = sp.udp_v4().iter().map(|p| p.to.to_string()).collect();
    for must in [
        "198.51.100.10:9999",
        "198.51.100.10:443",
        "198.51.100.10:41234",
    ] {
        assert!(udp.iter().any(|t| t == must), "{must} missing");
    }
    let v6: Vec<String> = sp.tcp_v6().iter().map(|p| p.to.to_string()).collect();
    for must in [
        "[2001:db8:bad::10]:443",
        "[2001:db8:4::10]:443",
        "[fd00:19::10]:443",
        "[64:ff9b::c633:640a]:443",
    ] {
        assert!(v6.iter().any(|t| t == must), "{must} missing");
    }
    let mapped: Vec<String> = sp.mapped_tcp().iter().map(|p| p.to.to_string()).collect();
    assert!(
        mapped.contains(&"[::ffff:198.51.100.10]:443".to_owned()),
        "{mapped:?}"
    );
    // TCP 22 and 53 are BYP-04's, UDP 53 BYP-01's: the seed opens them, POL-01/02 must not.
    assert!(sp.tcp_v4().iter().all(|p| ![22, 53].contains(&p.to.port())));
    assert!(sp.udp_v4().iter().all(|p| p.to.port() != 53));
}

#[test]
fn inbound_probes_come_from_world_sources_to_the_container() {
    let sp = Spread::new(9);
    let a = IpAddr::from(CONTAINER_A);
    for p in sp.inbound_tcp().iter().chain(&sp.inbound_udp()) {
        assert!(p.from.is_some());
        assert!(p.to.ip() == a || p.to.ip() == IpAddr::from(CONTAINER_B));
    }
    assert!(
        sp.inbound_tcp()
            .iter()
            .any(|p| p.to.port() == PEER_PORT && p.from.unwrap().ip() == IpAddr::from(API_HOST))
    );
    for p in bypass::inbound_sport_tcp() {
        assert!(super::bypass::INBOUND_TRICK_PORTS_TCP.contains(&p.from.unwrap().port()));
    }
}

#[test]
fn seeds_differ_between_runs() {
    assert_ne!(fresh_seed(), fresh_seed());
}
