//! Tests of fw_core::conntrack, with fw-testkit's samples and fake kernel (an integration test:
//! fw-core's own unit tests cannot use fw-testkit, which depends on fw-core).

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use fw_core::config::Profile;
use fw_core::conntrack::*;
use fw_core::flow::{Tracked, parse_flows};
use fw_core::plan::Plan;
use fw_testkit::sample::{base_config, sample_inputs};

const LISTING: &str = "\
tcp      6 431999 ESTABLISHED src=172.18.0.2 dst=198.51.100.10 sport=40000 dport=8080 src=198.51.100.10 dst=172.18.0.2 sport=8080 dport=40000 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=172.18.0.2 dst=172.19.0.5 sport=40001 dport=22 src=172.19.0.5 dst=172.18.0.2 sport=22 dport=40001 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=172.19.0.5 dst=172.19.0.2 sport=50000 dport=9000 src=172.19.0.2 dst=172.19.0.5 sport=9000 dport=50000 [ASSURED] mark=0 use=1
tcp      6 117 TIME_WAIT src=172.18.0.2 dst=192.0.2.70 sport=40002 dport=443 src=192.0.2.70 dst=172.18.0.2 sport=443 dport=40002 [ASSURED] mark=0 use=1
udp      17 29 src=127.0.0.1 dst=127.0.0.11 sport=5000 dport=53 src=127.0.0.11 dst=127.0.0.1 sport=53211 dport=5000 mark=0 use=1
ipv6     10 tcp      6 299 ESTABLISHED src=fd00:18::2 dst=2001:db8:bad::1 sport=40003 dport=443 src=2001:db8:bad::1 dst=fd00:18::2 sport=443 dport=40003 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=198.51.100.99 dst=172.18.0.2 sport=5555 dport=22 src=172.18.0.2 dst=198.51.100.99 sport=22 dport=5555 [ASSURED] mark=0 use=1
icmp     1 29 src=172.18.0.2 dst=198.51.100.10 type=8 code=0 id=7 src=198.51.100.10 dst=172.18.0.2 type=0 code=0 id=7 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 7 flow entries have been shown.
";

/// The flows of a `conntrack -L` listing, as the tool path of the seam gives them.
fn tracked(listing: &str) -> Vec<Tracked> {
    parse_flows(listing)
        .into_iter()
        .map(|flow| Tracked { flow, key: None })
        .collect()
}

#[test]
fn parses_the_original_direction() {
    let flows = parse_flows(LISTING);
    assert_eq!(flows.len(), 8);
    assert_eq!(flows[0].dst, "198.51.100.10".parse::<IpAddr>().unwrap());
    assert_eq!((flows[0].sport, flows[0].dport), (Some(40000), Some(8080)));
    assert_eq!(flows[5].proto, "tcp");
    assert_eq!(flows[7].dport, None);
}

#[test]
fn cuts_blocked_flows_and_keeps_local_allowed_and_dns() {
    let plan = Plan::build(&base_config(), &sample_inputs());
    let flows = tracked(LISTING);
    let cut: Vec<String> = forbidden(&plan, &flows)
        .iter()
        .map(|t| format!("{} {}", t.flow.proto, t.flow.dst))
        .collect();
    assert_eq!(
        cut,
        [
            "tcp 198.51.100.10",
            "tcp 2001:db8:bad::1",
            // Inbound from the world, opened before init: forbidden too.
            "tcp 172.18.0.2",
            "icmp 198.51.100.10"
        ]
    );
}

#[test]
fn compat_keeps_dns_and_ssh_to_anywhere() {
    let mut config = base_config();
    config.profile = Profile::Compat;
    let plan = Plan::build(&config, &sample_inputs());
    let flows = tracked(
        "tcp 6 1 ESTABLISHED src=172.18.0.2 dst=198.51.100.10 sport=1 dport=22 [ASSURED]\n\
         udp 17 1 src=172.18.0.2 dst=198.51.100.53 sport=2 dport=53\n\
         tcp 6 1 ESTABLISHED src=172.18.0.2 dst=198.51.100.10 sport=3 dport=8080 [ASSURED]\n",
    );
    let cut: Vec<Option<u16>> = forbidden(&plan, &flows)
        .iter()
        .map(|t| t.flow.dport)
        .collect();
    assert_eq!(cut, [Some(8080)]);
}

#[test]
fn delete_arguments_name_the_flow() {
    let flows = parse_flows(LISTING);
    assert_eq!(
        flows[0].delete_args().join(" "),
        "-D -p tcp -s 172.18.0.2 -d 198.51.100.10 --sport 40000 --dport 8080"
    );
}

#[test]
fn dns_upstreams_are_the_forwarded_destinations_from_our_subnets() {
    let listing = "\
udp      17 29 src=172.18.0.2 dst=198.51.100.2 sport=41000 dport=53 src=198.51.100.2 dst=172.18.0.2 sport=53 dport=41000 mark=0 use=1
udp      17 29 src=172.18.0.2 dst=198.51.100.2 sport=41001 dport=53 src=198.51.100.2 dst=172.18.0.2 sport=53 dport=41001 mark=0 use=1
tcp      6 117 TIME_WAIT src=172.18.0.2 dst=198.51.100.3 sport=41002 dport=53 src=198.51.100.3 dst=172.18.0.2 sport=53 dport=41002 [ASSURED] mark=0 use=1
udp      17 29 src=127.0.0.1 dst=127.0.0.11 sport=5000 dport=53 src=127.0.0.11 dst=127.0.0.1 sport=53211 dport=5000 mark=0 use=1
udp      17 29 src=10.9.9.9 dst=198.51.100.53 sport=5001 dport=53 src=198.51.100.53 dst=10.9.9.9 sport=53 dport=5001 mark=0 use=1
udp      17 29 src=172.18.0.2 dst=198.51.100.10 sport=5002 dport=9999 src=198.51.100.10 dst=172.18.0.2 sport=9999 dport=5002 mark=0 use=1
";
    let flows = parse_flows(listing);
    let subnets: Vec<ipnet::IpNet> = vec!["172.18.0.0/16".parse().unwrap()];
    let got = dns_upstreams(&flows, &subnets);
    let want: Vec<IpAddr> = vec![
        "198.51.100.2".parse().unwrap(),
        "198.51.100.3".parse().unwrap(),
    ];
    assert_eq!(got, want);
    assert!(
        dns_upstreams(&flows, &[]).is_empty(),
        "a flow from outside our subnets is not ours"
    );
}
