//! Tests of fw_core::plan, with fw-testkit's samples and fake kernel (an integration test:
//! fw-core's own unit tests cannot use fw-testkit, which depends on fw-core).

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use fw_core::config::{CidrEntry, Origin};
use fw_core::inputs::Inputs;
use fw_core::inputs::Resolution;
use fw_core::meta::MetaRanges;
use fw_core::plan::*;
use fw_core::resolv::Resolvers;
use fw_testkit::sample::{base_config, sample_inputs};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn allowlist_takes_meta_names_and_cidrs_and_aggregates() {
    let plan = Plan::build(&base_config(), &sample_inputs());
    let v4: Vec<String> = plan.allow_v4.iter().map(|n| n.to_string()).collect();
    // 192.0.2.0/26 + .64/26 + .128/26 from meta; the two /26 halves of 192.0.2.0/25 merge.
    assert_eq!(
        v4,
        [
            "64.29.17.0/24",
            "76.76.21.0/24",
            "192.0.2.0/25",
            "192.0.2.128/26",
            "203.0.113.10/31",
            "203.0.113.20/32",
            "216.198.79.0/24",
        ]
    );
    let v6: Vec<String> = plan.allow_v6.iter().map(|n| n.to_string()).collect();
    assert_eq!(v6, ["2001:db8:1::/48", "2001:db8:10::10/128"]);
    assert_eq!(plan.stats.domains_failed, 1);
    assert!(plan.warnings.iter().any(|w| w.contains("nx.example.test")));
}

#[test]
fn docker_networks_are_local_and_link_local_is_not() {
    let plan = Plan::build(&base_config(), &sample_inputs());
    let v4: Vec<String> = plan.local.v4.iter().map(|n| n.to_string()).collect();
    // Adjacent networks merge: 172.18.0.0/16 and 172.19.0.0/16 are 172.18.0.0/15.
    assert_eq!(v4, ["172.18.0.0/15"]);
    let v6: Vec<String> = plan.local.v6.iter().map(|n| n.to_string()).collect();
    assert_eq!(v6, ["fd00:18::/64"]);
}

#[test]
fn dns_goes_to_non_loopback_resolvers_only() {
    let mut inputs = sample_inputs();
    inputs.resolvers = Resolvers {
        nameservers: vec![
            "127.0.0.11".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        ],
        ext_servers: vec![
            "198.51.100.2".parse().unwrap(),
            "2001:db8::53".parse().unwrap(),
        ],
        ..Resolvers::default()
    };
    let plan = Plan::build(&base_config(), &inputs);
    assert_eq!(plan.dns_v4, ["198.51.100.2".parse::<Ipv4Addr>().unwrap()]);
    assert_eq!(plan.dns_v6, ["2001:db8::53".parse::<Ipv6Addr>().unwrap()]);
}

#[test]
fn hostile_answers_are_skipped_with_a_warning() {
    let mut inputs = Inputs::default();
    inputs.resolved.push(Resolution::ok(
        "evil.example.test".parse().unwrap(),
        [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "ff02::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect(),
    ));
    let mut config = base_config();
    config.cidrs.clear();
    let plan = Plan::build(&config, &inputs);
    assert!(plan.allow_v4.is_empty() && plan.allow_v6.is_empty());
    assert_eq!(plan.warnings.len(), 6, "{:?}", plan.warnings);
}

#[test]
fn plan_does_not_depend_on_input_order() {
    let a = sample_inputs();
    let mut b = a.clone();
    b.resolved.reverse();
    b.subnets.reverse();
    for r in &mut b.resolved {
        r.addrs.reverse();
    }
    for v in b.meta.ranges.values_mut() {
        v.reverse();
    }
    let mut config = base_config();
    let pa = Plan::build(&config, &a);
    config.cidrs.reverse();
    assert_eq!(pa, Plan::build(&config, &b));
}

#[test]
fn meta_keys_outside_the_plan_never_enter_it() {
    let inputs = Inputs {
        meta: MetaRanges {
            ranges: [("web".to_owned(), vec![net("192.0.2.0/26")])].into(),
        },
        ..Inputs::default()
    };
    let mut config = base_config();
    config.cidrs = vec![CidrEntry {
        net: net("2001:db8:2::/48"),
        origin: Origin::Default,
    }];
    let plan = Plan::build(&config, &inputs);
    assert_eq!(
        plan.allow_v4,
        [net("192.0.2.0/26").to_string().parse().unwrap()]
    );
    assert_eq!(plan.allow_v6.len(), 1);
}
