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
    use crate::world::seed::fresh_seed;
    assert_ne!(fresh_seed(), fresh_seed());
}

/// The fixed destinations as they were written out before the plan computed them: the plan's
/// neighbours must come out exactly so.
const OLD_FIXED_V4: &[(IpAddr, &str)] = &[
    (v4(198, 51, 100, 10), "a blocked host, example.com"),
    (v4(198, 51, 100, 200), "the blocked /24"),
    // Both halves of the address space and a private /8 early: when much is open, a reason
    // spells out its first failures, and these say at once how much.
    (v4(8, 8, 8, 8), "0.0.0.0/1, a public resolver"),
    (v4(151, 101, 1, 10), "128.0.0.0/1"),
    (v4(10, 20, 30, 40), "private 10.0.0.0/8"),
    (v4(192, 0, 1, 255), "just below GitHub web 192.0.2.0/26"),
    (v4(192, 0, 2, 192), "just above GitHub git 192.0.2.128/26"),
    (v4(192, 0, 3, 10), "the /24 after GitHub's ranges"),
    (v4(192, 0, 1, 10), "the /24 before GitHub's ranges"),
    (v4(192, 1, 0, 10), "the /16 after GitHub's ranges"),
    (v4(191, 255, 0, 10), "the /16 before GitHub's ranges"),
    (
        v4(203, 0, 113, 9),
        "just below api.anthropic.com 203.0.113.10",
    ),
    (
        v4(203, 0, 113, 21),
        "just above playwright.dev 203.0.113.20",
    ),
    (
        v4(203, 0, 113, 29),
        "just below the npm registry 203.0.113.30",
    ),
    (
        v4(203, 0, 113, 32),
        "just above the npm registry 203.0.113.31",
    ),
    (v4(203, 0, 113, 43), "just above extra-two 203.0.113.42"),
    (v4(203, 0, 113, 51), "just above cname-final 203.0.113.50"),
    (
        v4(203, 0, 114, 10),
        "the /24 after the resolved domains' addresses",
    ),
    (
        v4(203, 1, 0, 10),
        "the /16 after the resolved domains' addresses",
    ),
    (v4(76, 76, 20, 255), "just below Vercel 76.76.21.0/24"),
    (v4(76, 76, 22, 0), "just above Vercel 76.76.21.0/24"),
    (v4(76, 77, 0, 10), "the /16 after Vercel 76.76.21.0/24"),
    (v4(64, 29, 16, 255), "just below Vercel 64.29.17.0/24"),
    (v4(64, 29, 18, 0), "just above Vercel 64.29.17.0/24"),
    (v4(64, 30, 0, 10), "the /16 after Vercel 64.29.17.0/24"),
    (v4(216, 198, 78, 255), "just below Vercel 216.198.79.0/24"),
    (v4(216, 198, 80, 0), "just above Vercel 216.198.79.0/24"),
    (v4(216, 199, 0, 10), "the /16 after Vercel 216.198.79.0/24"),
    (
        v4(172, 17, 255, 10),
        "the /16 below Docker net A 172.18.0.0/16",
    ),
    (
        v4(172, 20, 0, 10),
        "the /16 after Docker net B 172.19.0.0/16",
    ),
    (
        v4(172, 16, 0, 10),
        "172.16.0.0/12 outside the Docker networks",
    ),
    (
        v4(172, 31, 255, 10),
        "172.16.0.0/12 outside the Docker networks",
    ),
];

const OLD_FIXED_V6: &[(IpAddr, &str)] = &[
    (
        v6([0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0x10]),
        "a blocked IPv6 host",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10]),
        "the /48 before GitHub web 2001:db8:1::/48",
    ),
    (
        v6([0x2001, 0xdb8, 0x4, 0, 0, 0, 0, 0x10]),
        "the /48 after GitHub git 2001:db8:3::/48",
    ),
    (
        v6([0x2001, 0xdb9, 0, 0, 0, 0, 0, 0x10]),
        "the /32 after GitHub's IPv6 ranges",
    ),
    (
        v6([0x2001, 0xdb7, 0xffff, 0, 0, 0, 0, 0x10]),
        "the /32 before GitHub's IPv6 ranges",
    ),
    (
        v6([0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0xf]),
        "just below api.anthropic.com 2001:db8:10::10",
    ),
    (
        v6([0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0x11]),
        "just above api.anthropic.com 2001:db8:10::10",
    ),
    (
        v6([0x2001, 0xdb8, 0x10, 0x1, 0, 0, 0, 0x10]),
        "the /64 after api.anthropic.com's AAAA",
    ),
    (
        v6([0x2001, 0xdb8, 0x11, 0, 0, 0, 0, 0x10]),
        "the /48 after api.anthropic.com's AAAA",
    ),
    (
        v6([0xfd00, 0x18, 0, 0x1, 0, 0, 0, 0x10]),
        "the /64 after Docker net A fd00:18::/64",
    ),
    (
        v6([0xfd00, 0x19, 0, 0, 0, 0, 0, 0x10]),
        "the /48 after Docker net A fd00:18::/64",
    ),
    (
        v6([0xfd00, 0x17, 0, 0, 0, 0, 0, 0x10]),
        "the /48 before Docker net A fd00:18::/64",
    ),
    (
        v6([0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111]),
        "a public resolver",
    ),
    (
        v6([0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888]),
        "a public resolver",
    ),
    (
        v6([0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x640a]),
        "the NAT64 form of 198.51.100.10",
    ),
];

#[test]
fn the_fixed_destinations_are_the_plan_s_neighbours_as_written_before() {
    let want = |t: &[(IpAddr, &str)]| -> Vec<(IpAddr, String)> {
        t.iter().map(|(a, w)| (*a, (*w).to_owned())).collect()
    };
    let have = |d: Vec<Dest>| -> Vec<(IpAddr, String)> {
        d.into_iter().map(|d| (d.addr, d.why)).collect()
    };
    assert_eq!(have(fixed_v4()), want(OLD_FIXED_V4));
    assert_eq!(have(fixed_v6()), want(OLD_FIXED_V6));
}
