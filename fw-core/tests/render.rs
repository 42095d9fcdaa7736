//! Tests of fw_core::render, with fw-testkit's samples and fake kernel (an integration test:
//! fw-core's own unit tests cannot use fw-testkit, which depends on fw-core).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;

use std::net::IpAddr;

use ipnet::IpNet;

use fw_core::clean_slate::CleanSlate;
use fw_core::config::Config;
use fw_core::config::Profile;
use fw_core::docker_dns::DockerDnsRules;
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::meta::MetaRanges;
use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6, temp_set};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::*;
use fw_core::restore::{parse_ipset, parse_iptables};
use fw_testkit::sample::{base_config, sample_inputs};

/// The three texts of a ruleset in one snapshot, each under a heading.
fn golden(r: &Ruleset) -> String {
    format!(
        "### iptables-restore\n{}### ip6tables-restore\n{}### ipset restore\n{}",
        r.iptables, r.ip6tables, r.ipset
    )
}

fn v4_only(mut inputs: Inputs) -> Inputs {
    inputs.subnets.retain(|s| matches!(s.net, IpNet::V4(_)));
    for r in &mut inputs.resolved {
        r.addrs.retain(IpAddr::is_ipv4);
    }
    for v in inputs.meta.ranges.values_mut() {
        v.retain(|n| matches!(n, IpNet::V4(_)));
    }
    inputs
}

#[test]
fn only_the_tables_the_clean_slate_names_are_rendered_besides_filter() {
    let mut inputs = sample_inputs();
    let tables = |r: &Ruleset| -> Vec<String> {
        parse_iptables(&r.iptables)
            .unwrap()
            .tables
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let render_with = |inputs: &Inputs| render(&Plan::build(&base_config(), inputs));
    // Not known: nat (Docker's rules written back) and mangle, as always.
    assert_eq!(tables(&render_with(&inputs)), ["filter", "nat", "mangle"]);
    inputs.clean_slate = CleanSlate::Dirty(Default::default());
    assert_eq!(tables(&render_with(&inputs)), ["filter"]);
    inputs.clean_slate = CleanSlate::Dirty(["security", "raw", "nat"].map(String::from).into());
    let r = render_with(&inputs);
    assert_eq!(tables(&r), ["filter", "nat", "raw", "security"]);
    let parsed = parse_iptables(&r.iptables).unwrap();
    assert_eq!(
        parsed.table("raw").unwrap().chains.len(),
        2,
        "raw has PREROUTING and OUTPUT"
    );
    assert!(
        parsed
            .tables
            .iter()
            .filter(|t| t.name != "filter" && t.name != "nat")
            .all(|t| t.rules.is_empty()
                && t.chains
                    .iter()
                    .all(|c| c.policy.as_deref() == Some("ACCEPT")))
    );
}

#[test]
fn golden_fresh_container() {
    // A plain network (no Docker DNS): resolv.conf names a world resolver.
    let mut inputs = v4_only(sample_inputs());
    inputs.docker_dns = DockerDnsRules::default();
    inputs.resolvers.nameservers = vec!["198.51.100.2".parse().unwrap()];
    let plan = Plan::build(&base_config(), &inputs);
    insta::assert_snapshot!("fresh_container", golden(&render(&plan)));
}

#[test]
fn golden_docker_dns() {
    let plan = Plan::build(&base_config(), &v4_only(sample_inputs()));
    insta::assert_snapshot!("docker_dns", golden(&render(&plan)));
}

#[test]
fn golden_dual_stack() {
    let mut inputs = sample_inputs();
    inputs.resolvers.ext_servers = vec!["2001:db8:53::53".parse().unwrap()];
    let plan = Plan::build(&base_config(), &inputs);
    insta::assert_snapshot!("dual_stack", golden(&render(&plan)));
}

#[test]
fn golden_compat() {
    let mut config = base_config();
    config.profile = Profile::Compat;
    let plan = Plan::build(&config, &sample_inputs());
    insta::assert_snapshot!("compat", golden(&render(&plan)));
}

#[test]
fn golden_safe_closed() {
    let inputs = sample_inputs();
    let mut resolvers = inputs.resolvers.clone();
    resolvers.ext_servers = vec!["198.51.100.2".parse().unwrap()];
    let sc = SafeClosed::new(&inputs.subnets, &resolvers);
    insta::assert_snapshot!("safe_closed", golden(&render_safe_closed(&sc)));
}

fn meta_inputs(meta: &serde_json::Value) -> Inputs {
    let keys: Vec<String> = ["web", "api", "git"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    let mut inputs = sample_inputs();
    inputs.meta = fw_core::meta::parse_meta(&fw_testkit::fixtures::body(meta), &keys).unwrap();
    inputs
}

#[test]
fn golden_realistic_meta() {
    // The realistic fixture: dozens of web/api/git entries aggregate to their blocks, and
    // none of the ~5,000 `actions` entries reaches the sets.
    let inputs = meta_inputs(&fw_testkit::fixtures::realistic_meta(1));
    let r = render(&Plan::build(&base_config(), &inputs));
    insta::assert_snapshot!("realistic_meta", r.ipset);
    assert!(!r.ipset.contains("198.18."));
}

#[test]
fn golden_large_meta() {
    // 1,000 distinct, non-adjacent ranges: one set entry each, maxelem stays at the floor.
    let inputs = meta_inputs(&fw_testkit::fixtures::scaled_meta(1, 1_000));
    let plan = Plan::build(&base_config(), &inputs);
    let r = render(&plan);
    assert_eq!(plan.stats.meta_ranges, 1_000);
    insta::assert_snapshot!("large_meta", golden(&r));
}

#[test]
fn strict_has_no_blanket_rules_but_compat_does() {
    let strict = render(&Plan::build(&base_config(), &sample_inputs()));
    let mut config = base_config();
    config.profile = Profile::Compat;
    let compat = render(&Plan::build(&config, &sample_inputs()));
    for text in [&strict.iptables, &strict.ip6tables] {
        let t = parse_iptables(text).unwrap();
        let filter = t.table("filter").unwrap();
        for r in filter.rules_of("OUTPUT") {
            let has_dest = r.value_of("-d").is_some()
                || r.value_of("-o") == Some("lo")
                || r.value_of("--match-set").is_some()
                || r.value_of("--icmpv6-type").is_some();
            assert!(
                has_dest || r.target() == Some("REJECT"),
                "strict OUTPUT accepts without a destination: {r:?}"
            );
        }
    }
    let t = parse_iptables(&compat.iptables).unwrap();
    assert!(
        t.table("filter")
            .unwrap()
            .rules_of("OUTPUT")
            .any(|r| r.value_of("--dport") == Some("22") && r.value_of("-d").is_none())
    );
}

#[test]
fn every_rule_we_own_is_commented_and_ends_in_reject() {
    let r = render(&Plan::build(&base_config(), &sample_inputs()));
    for text in [&r.iptables, &r.ip6tables] {
        let t = parse_iptables(text).unwrap();
        let filter = t.table("filter").unwrap();
        for chain in ["INPUT", "FORWARD", "OUTPUT"] {
            assert_eq!(filter.policy(chain), Some("DROP"));
        }
        assert_eq!(filter.rules_of("FORWARD").count(), 0);
        for rule in &filter.rules {
            assert!(
                rule.comment().is_some_and(|c| c.starts_with("fw: ")),
                "{rule:?}"
            );
            assert_ne!(rule.target(), Some("DROP"), "{rule:?}");
        }
        for chain in ["INPUT", "OUTPUT"] {
            let last: Vec<_> = filter.rules_of(chain).collect();
            let n = last.len();
            assert_eq!(last[n - 2].value_of("--reject-with"), Some("tcp-reset"));
            assert_eq!(last[n - 2].value_of("-p"), Some("tcp"));
            assert_eq!(last[n - 1].target(), Some("REJECT"));
            assert_eq!(last[n - 1].value_of("-p"), None);
        }
    }
}

#[test]
fn nat_keeps_docker_rules_verbatim_and_in_order() {
    let r = render(&Plan::build(&base_config(), &sample_inputs()));
    let t = parse_iptables(&r.iptables).unwrap();
    let nat = t.table("nat").unwrap();
    let want = fw_testkit::sample::docker_dns();
    let got: Vec<(String, String)> = nat
        .rules
        .iter()
        .map(|r| (r.chain.clone(), r.args.join(" ")))
        .collect();
    let want: Vec<(String, String)> = want
        .rules
        .iter()
        .map(|r| (r.chain.clone(), r.spec.clone()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(nat.chain("DOCKER_OUTPUT").unwrap().policy, None);
    assert!(t.table("mangle").unwrap().rules.is_empty());
}

#[test]
fn safe_closed_uses_no_set() {
    let inputs = sample_inputs();
    let r = render_safe_closed(&SafeClosed::new(&inputs.subnets, &inputs.resolvers));
    assert!(r.ipset.is_empty());
    assert!(!r.iptables.contains("match-set") && !r.ip6tables.contains("match-set"));
    assert!(
        !r.iptables.contains("*nat"),
        "safe closed must leave nat (Docker DNS) alone"
    );
}

// ---- properties ----

fn arb_v4() -> impl Strategy<Value = Ipv4Net> {
    // Inside 10.0.0.0/8 so that /0 never appears and ranges overlap often.
    (any::<u32>(), 8u8..=32).prop_map(|(a, len)| {
        Ipv4Net::new(
            std::net::Ipv4Addr::from(0x0a00_0000 | (a & 0x00ff_ffff)),
            len,
        )
        .unwrap()
        .trunc()
    })
}

fn arb_v6() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 32u8..=128).prop_map(|(a, len)| {
        let base = (0x2001_0db8u128 << 96) | (a & ((1u128 << 96) - 1));
        Ipv6Net::new(std::net::Ipv6Addr::from(base), len)
            .unwrap()
            .trunc()
    })
}

fn config_with(cidrs: &[IpNet]) -> Config {
    let mut c = base_config();
    c.cidrs = cidrs
        .iter()
        .map(|n| fw_core::config::CidrEntry {
            net: *n,
            origin: fw_core::config::Origin::Default,
        })
        .collect();
    c
}

/// Every /24-or-smaller address block sampled from a network: its first and last address.
fn edges(n: &IpNet) -> [IpAddr; 2] {
    [n.network(), n.broadcast()]
}

fn covered(set: &[IpNet], a: IpAddr) -> bool {
    set.iter().any(|n| n.contains(&a))
}

proptest! {
    /// Aggregation covers exactly the addresses of its input: every input network lies
    /// inside the output, and every output network's edges lie inside some input network,
    /// and the output has no overlaps.
    #[test]
    fn aggregation_covers_exactly_the_input(
        v4 in prop::collection::vec(arb_v4(), 0..40),
        v6 in prop::collection::vec(arb_v6(), 0..40),
    ) {
        let input: Vec<IpNet> = v4.iter().map(|n| IpNet::V4(*n))
            .chain(v6.iter().map(|n| IpNet::V6(*n))).collect();
        let plan = Plan::build(&config_with(&input), &Inputs::default());
        let output: Vec<IpNet> = plan.allow_v4.iter().map(|n| IpNet::V4(*n))
            .chain(plan.allow_v6.iter().map(|n| IpNet::V6(*n))).collect();
        for n in &input {
            prop_assert!(output.iter().any(|o| o.contains(n)), "{n} lost");
        }
        for o in &output {
            for a in edges(o) {
                prop_assert!(covered(&input, a), "{o} adds {a}");
            }
            // Each output network is a union of input networks: the halves of an output
            // network bigger than every input are themselves covered (no gap inside).
            if let Ok(halves) = o.subnets(o.prefix_len().saturating_add(1).min(o.max_prefix_len())) {
                for h in halves {
                    for a in edges(&h) {
                        prop_assert!(covered(&input, a), "{o} has a gap at {a}");
                    }
                }
            }
        }
        for (i, a) in output.iter().enumerate() {
            for b in &output[i + 1..] {
                prop_assert!(!a.contains(b) && !b.contains(a), "{a} overlaps {b}");
            }
        }
    }

    /// Rendering is deterministic and independent of input order, and our reader parses
    /// every rendering back to the plan's allowlist and Docker rules.
    #[test]
    fn rendering_is_deterministic_and_parses_back(
        v4 in prop::collection::vec(arb_v4(), 0..30),
        v6 in prop::collection::vec(arb_v6(), 0..30),
        addrs in prop::collection::vec(any::<u32>(), 0..10),
        compat in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut cidrs: Vec<IpNet> = v4.iter().map(|n| IpNet::V4(*n))
            .chain(v6.iter().map(|n| IpNet::V6(*n))).collect();
        let mut config = config_with(&cidrs);
        if compat { config.profile = Profile::Compat; }
        let mut inputs = sample_inputs();
        inputs.resolved.push(Resolution::ok(
            "many.example.test".parse().unwrap(),
            addrs.iter().map(|a| IpAddr::V4(std::net::Ipv4Addr::from(0xcb00_7100 | (a & 0xff)))).collect(),
        ));
        let a = render(&Plan::build(&config, &inputs));

        // Shuffle every list deterministically from the seed and render again.
        let rot = |len: usize| if len == 0 { 0 } else { (seed as usize) % len };
        let r = rot(cidrs.len());
        cidrs.rotate_left(r);
        cidrs.reverse();
        let mut config_b = config_with(&cidrs);
        config_b.profile = config.profile;
        let mut inputs_b = inputs.clone();
        inputs_b.resolved.reverse();
        for res in &mut inputs_b.resolved { let r = rot(res.addrs.len()); res.addrs.rotate_left(r); }
        inputs_b.subnets.reverse();
        let b = render(&Plan::build(&config_b, &inputs_b));
        prop_assert_eq!(&a, &b);

        let plan = Plan::build(&config, &inputs);
        let sets = parse_ipset(&a.ipset).unwrap();
        let got4: BTreeSet<String> = sets.members_of(&temp_set(SET_ALLOW_V4)).iter().cloned().collect();
        let want4: BTreeSet<String> = plan.allow_v4.iter().map(|n| n.to_string()).collect();
        prop_assert_eq!(got4, want4);
        let got6: BTreeSet<String> = sets.members_of(&temp_set(SET_ALLOW_V6)).iter().cloned().collect();
        let want6: BTreeSet<String> = plan.allow_v6.iter().map(|n| n.to_string()).collect();
        prop_assert_eq!(got6, want6);
        let t = parse_iptables(&a.iptables).unwrap();
        prop_assert_eq!(t.table("nat").unwrap().rules.len(), plan.docker_dns.rules.len());
        // Read back and written again, the text is unchanged: the reader loses nothing.
        prop_assert_eq!(t.to_text(), a.iptables.clone());
        prop_assert_eq!(parse_iptables(&a.ip6tables).unwrap().to_text(), a.ip6tables.clone());
    }
}

#[test]
fn subnets_and_meta_feed_the_plan_through_render() {
    let mut inputs = Inputs::default();
    inputs.subnets.push(Subnet {
        interface: "eth0".into(),
        net: "172.30.0.9/24".parse().unwrap(),
    });
    inputs.meta = MetaRanges {
        ranges: [("git".to_owned(), vec!["192.0.2.128/26".parse().unwrap()])].into(),
    };
    let r = render(&Plan::build(&base_config(), &inputs));
    assert!(r.iptables.contains(
        "-A OUTPUT -d 172.30.0.0/24 -m comment --comment \"fw: docker network\" -j ACCEPT"
    ));
    assert!(r.iptables.contains(
        "-A INPUT -s 172.30.0.0/24 -m comment --comment \"fw: docker network\" -j ACCEPT"
    ));
    assert!(r.ipset.contains("add fw-allow-v4-next 192.0.2.128/26\n"));
}
