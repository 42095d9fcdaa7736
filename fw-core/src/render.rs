//! Rendering a plan to the exact text that is applied: `iptables-restore` input for filter, nat
//! and mangle, `ip6tables-restore` input for filter, and `ipset restore` input for the two
//! allowlist sets.
//!
//! Rules are written in the canonical form `iptables-save` prints them in (`-d 1.2.3.4/32`,
//! `-p udp -m udp --dport 53`, `RELATED,ESTABLISHED`), so that what was applied can be compared
//! with what the kernel holds, line for line. Every rule we own carries
//! `-m comment --comment "fw: <why>"`, so that `iptables-save` explains itself.
//!
//! Blocked traffic is REJECTed, never DROPped: TCP gets a reset (fails at once on both
//! families), everything else icmp-admin-prohibited / icmp6-adm-prohibited. The policies are
//! DROP as a backstop behind the final REJECT rules.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::clean_slate;
use crate::config::Profile;
use crate::docker_dns::DockerDnsRules;
use crate::names::{COMMENT_PREFIX, SET_ALLOW_V4, SET_ALLOW_V6, temp_set};
use crate::plan::{LocalNets, Plan, SafeClosed};

/// The three texts that make up a whole firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ruleset {
    /// Input for `iptables-restore`: filter, nat and mangle, each a clean slate.
    pub iptables: String,
    /// Input for `ip6tables-restore`: filter.
    pub ip6tables: String,
    /// Input for `ipset restore`: the allowlist sets under their temporary names, to be swapped
    /// in with `ipset swap`. Empty for the safe closed ruleset, which uses no set.
    pub ipset: String,
}

/// The smallest `maxelem` we give a set; ipset's own default.
const MIN_MAXELEM: usize = 65_536;
/// The smallest `hashsize` we give a set; ipset's own default.
const MIN_HASHSIZE: usize = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn set(self) -> &'static str {
        match self {
            Family::V4 => SET_ALLOW_V4,
            Family::V6 => SET_ALLOW_V6,
        }
    }

    fn reject_with(self) -> &'static str {
        match self {
            Family::V4 => "icmp-admin-prohibited",
            Family::V6 => "icmp6-adm-prohibited",
        }
    }

    fn host_prefix(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// What a filter table is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Firewall(Profile),
    SafeClosed,
}

/// The parts of a plan one family's filter table needs.
struct FilterSpec {
    family: Family,
    mode: Mode,
    local: Vec<IpNet>,
    dns: Vec<IpAddr>,
}

/// One `-A` line, assembled in `iptables-save` order: addresses and interfaces, protocol,
/// matches, our comment, target.
fn rule(out: &mut String, chain: &str, matches: &str, why: &str, target: &str) {
    let sep = if matches.is_empty() { "" } else { " " };
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "-A {chain}{sep}{matches} -m comment --comment \"{COMMENT_PREFIX}{why}\" -j {target}"
    );
}

fn local_nets(local: &LocalNets, family: Family) -> Vec<IpNet> {
    match family {
        Family::V4 => local.v4.iter().map(|n| IpNet::V4(*n)).collect(),
        Family::V6 => local.v6.iter().map(|n| IpNet::V6(*n)).collect(),
    }
}

fn host(a: &IpAddr, family: Family) -> String {
    format!("{a}/{}", family.host_prefix())
}

/// Renders one family's filter table.
fn filter_table(spec: &FilterSpec) -> String {
    let f = spec.family;
    let mut t =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n");

    // ---- INPUT: loopback, neighbour discovery, replies, Docker networks; nothing else. ----

    // -A INPUT -i lo ... -j ACCEPT
    // Seed: "Loopback interface (internal communication)"; Docker's DNS lives on loopback too.
    rule(&mut t, "INPUT", "-i lo", "loopback", "ACCEPT");
    if f == Family::V6 {
        ndp(&mut t, "INPUT");
    }
    // -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED ... -j ACCEPT
    // Seed: "Inbound traffic is restricted to established connections and Docker network traffic".
    rule(
        &mut t,
        "INPUT",
        "-m conntrack --ctstate RELATED,ESTABLISHED",
        "replies to allowed connections",
        "ACCEPT",
    );
    // -A INPUT -s 172.18.0.0/16 ... -j ACCEPT
    // Seed: services, the host gateway and browser sidecars on the Docker networks reach us.
    for net in &spec.local {
        rule(
            &mut t,
            "INPUT",
            &format!("-s {net}"),
            "docker network",
            "ACCEPT",
        );
    }
    reject_rest(&mut t, "INPUT", f);

    // ---- FORWARD: nothing. Seed: "Forwarding is disabled entirely" (policy DROP). ----

    // ---- OUTPUT ----
    // -A OUTPUT -o lo ... -j ACCEPT  (loopback is never filtered, ALW-03)
    rule(&mut t, "OUTPUT", "-o lo", "loopback", "ACCEPT");
    if f == Family::V6 {
        ndp(&mut t, "OUTPUT");
    }
    match spec.mode {
        Mode::Firewall(Profile::Compat) => {
            // -A OUTPUT -p udp -m udp --dport 53 ... -j ACCEPT
            // The seed's table as written: "DNS: UDP port 53 (all DNS resolution)", to any
            // address; TCP 53 too, for answers that do not fit a datagram.
            rule(
                &mut t,
                "OUTPUT",
                "-p udp -m udp --dport 53",
                "dns to any resolver (compat)",
                "ACCEPT",
            );
            rule(
                &mut t,
                "OUTPUT",
                "-p tcp -m tcp --dport 53",
                "dns to any resolver (compat)",
                "ACCEPT",
            );
            // -A OUTPUT -p tcp -m tcp --dport 22 ... -j ACCEPT
            // Seed: "SSH: TCP port 22 (git operations over SSH)", to any address.
            rule(
                &mut t,
                "OUTPUT",
                "-p tcp -m tcp --dport 22",
                "ssh to any host (compat)",
                "ACCEPT",
            );
            // -A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED ... -j ACCEPT
            // The public scripts keep every established flow; compat does the same.
            rule(
                &mut t,
                "OUTPUT",
                "-m conntrack --ctstate RELATED,ESTABLISHED",
                "established flows (compat)",
                "ACCEPT",
            );
        }
        Mode::Firewall(Profile::Strict) => {
            // -A OUTPUT -d 198.51.100.2/32 -p udp -m udp --dport 53 ... -j ACCEPT
            // DNS only to the resolvers the container is configured with, and to the upstreams
            // Docker's embedded resolver forwards to from inside our namespace (ALW-10): port 53
            // to anywhere else is a tunnel out. There is deliberately no blanket ESTABLISHED
            // accept here: every packet out must go to an allowed destination, so a flow the
            // policy forbids stops carrying data the moment the rules are in (SEQ-09).
            dns_rules(&mut t, &spec.dns, f, "dns to configured resolver");
        }
        Mode::SafeClosed => {
            // After a failure the controlling connection and other live flows keep working
            // (never locked out), but nothing new goes out except DNS and local networks.
            rule(
                &mut t,
                "OUTPUT",
                "-m conntrack --ctstate RELATED,ESTABLISHED",
                "established flows (safe closed)",
                "ACCEPT",
            );
            dns_rules(
                &mut t,
                &spec.dns,
                f,
                "dns to configured resolver (safe closed)",
            );
        }
    }
    // -A OUTPUT -d 172.18.0.0/16 ... -j ACCEPT  (Docker networks, ALW-07, SEQ-08)
    for net in &spec.local {
        rule(
            &mut t,
            "OUTPUT",
            &format!("-d {net}"),
            "docker network",
            "ACCEPT",
        );
    }
    if let Mode::Firewall(_) = spec.mode {
        // -A OUTPUT -m set --match-set fw-allow-v4 dst ... -j ACCEPT
        // The allowlist: GitHub meta web/api/git, the required and extra domains, the CDN ranges.
        rule(
            &mut t,
            "OUTPUT",
            &format!("-m set --match-set {} dst", f.set()),
            "allowlist",
            "ACCEPT",
        );
    }
    reject_rest(&mut t, "OUTPUT", f);
    t.push_str("COMMIT\n");
    t
}

fn dns_rules(t: &mut String, dns: &[IpAddr], f: Family, why: &str) {
    for a in dns {
        let d = host(a, f);
        rule(
            t,
            "OUTPUT",
            &format!("-d {d} -p udp -m udp --dport 53"),
            why,
            "ACCEPT",
        );
        rule(
            t,
            "OUTPUT",
            &format!("-d {d} -p tcp -m tcp --dport 53"),
            why,
            "ACCEPT",
        );
    }
}

/// -A CHAIN -p ipv6-icmp -m icmp6 --icmpv6-type 135 ... -j ACCEPT
/// Neighbour discovery (router solicitation and advertisement 133/134, neighbour solicitation
/// and advertisement 135/136): without it IPv6 stops working on the link, Docker networks
/// included.
fn ndp(t: &mut String, chain: &str) {
    for ty in 133..=136 {
        rule(
            t,
            chain,
            &format!("-p ipv6-icmp -m icmp6 --icmpv6-type {ty}"),
            "neighbour discovery",
            "ACCEPT",
        );
    }
}

/// -A CHAIN -p tcp ... -j REJECT --reject-with tcp-reset
/// -A CHAIN ... -j REJECT --reject-with icmp-admin-prohibited
/// Seed: "Blocked connections get an immediate REJECT (not a silent DROP)".
fn reject_rest(t: &mut String, chain: &str, f: Family) {
    rule(
        t,
        chain,
        "-p tcp",
        "default deny",
        "REJECT --reject-with tcp-reset",
    );
    rule(
        t,
        chain,
        "",
        "default deny",
        &format!("REJECT --reject-with {}", f.reject_with()),
    );
}

/// The nat table: a clean slate with Docker's embedded-DNS chains and rules written back
/// verbatim (SEQ-01, SEQ-03). The chains are declared before any rule jumps to them.
pub(crate) fn nat_table(docker: &DockerDnsRules) -> String {
    let mut t = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
    );
    for line in docker.render_nat_lines() {
        t.push_str(&line);
        t.push('\n');
    }
    t.push_str("COMMIT\n");
    t
}

/// A table other than filter and nat as a clean slate (SEQ-03): its built-in chains, ACCEPT,
/// no rule, nothing of ours.
fn empty_table(name: &str) -> String {
    let chains: &[&str] = match name {
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        "security" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &[],
    };
    let mut t = format!("*{name}\n");
    for c in chains {
        let _ = writeln!(t, ":{c} ACCEPT [0:0]");
    }
    t.push_str("COMMIT\n");
    t
}

/// `maxelem` for a set of `n` entries: room to grow, never below ipset's default.
fn maxelem(n: usize) -> usize {
    n.saturating_mul(2).next_power_of_two().max(MIN_MAXELEM)
}

/// `hashsize` for a set of `n` entries: a bucket per entry or more, so that loading the set
/// never makes the kernel grow and rehash its table. From ipset's default of 1,024 buckets it
/// would, again and again: 90,000 entries then load about twice as slowly (docs/benchmarks.md).
fn hashsize(n: usize) -> usize {
    n.checked_next_power_of_two()
        .unwrap_or(usize::MAX)
        .max(MIN_HASHSIZE)
}

/// The `create` line of one allowlist set.
fn create_line(name: &str, family: Family, n: usize) -> String {
    let fam = match family {
        Family::V4 => "inet",
        Family::V6 => "inet6",
    };
    format!(
        "create {name} hash:net family {fam} hashsize {} maxelem {}\n",
        hashsize(n),
        maxelem(n)
    )
}

/// `ipset restore` input that creates the live sets when they do not exist yet (to be run with
/// `-exist`), so that the ruleset referencing them can be restored before the first swap.
pub fn ipset_live_sets() -> String {
    let mut s = create_line(SET_ALLOW_V4, Family::V4, 0);
    s.push_str(&create_line(SET_ALLOW_V6, Family::V6, 0));
    s
}

/// `ipset restore` input loading the allowlist into the temporary sets, flushed first so a
/// leftover of an interrupted run cannot leak into the new allowlist. Entries are written
/// straight into one buffer sized up front (no string per entry): at 100,000 entries this is
/// most of rendering's cost (`cargo bench -p fw-core`).
fn ipset_text(plan: &Plan) -> String {
    fn set<N: std::fmt::Display>(s: &mut String, family: Family, entries: &[N]) {
        let tmp = temp_set(family.set());
        s.push_str(&create_line(&tmp, family, entries.len()));
        let _ = writeln!(s, "flush {tmp}");
        for e in entries {
            let _ = writeln!(s, "add {tmp} {e}");
        }
    }
    // "add fw-allow-v6-next " and the longest IPv6 network (43 characters) and a newline.
    let mut s = String::with_capacity(512 + (plan.allow_v4.len() + plan.allow_v6.len()) * 64);
    set(&mut s, Family::V4, &plan.allow_v4);
    set(&mut s, Family::V6, &plan.allow_v6);
    s
}

/// Renders the whole firewall for a plan.
pub fn render(plan: &Plan) -> Ruleset {
    let spec = |family: Family| FilterSpec {
        family,
        mode: Mode::Firewall(plan.profile),
        local: local_nets(&plan.local, family),
        dns: match family {
            Family::V4 => plan.dns_v4.iter().map(|a| IpAddr::V4(*a)).collect(),
            Family::V6 => plan.dns_v6.iter().map(|a| IpAddr::V6(*a)).collect(),
        },
    };
    let mut iptables = filter_table(&spec(Family::V4));
    for table in clean_slate::TABLES {
        if plan.clean_slate.rewrites(table) {
            iptables.push_str(&match table {
                "nat" => nat_table(&plan.docker_dns),
                other => empty_table(other),
            });
        }
    }
    Ruleset {
        iptables,
        ip6tables: filter_table(&spec(Family::V6)),
        ipset: ipset_text(plan),
    }
}

/// Renders the safe closed ruleset applied after a failure: filter tables only (nat, and
/// Docker's DNS rules in it, stay as they are), default deny with REJECT, loopback, established
/// flows, DNS to the configured resolvers, the Docker networks. It uses no ipset.
pub fn render_safe_closed(sc: &SafeClosed) -> Ruleset {
    let spec = |family: Family| FilterSpec {
        family,
        mode: Mode::SafeClosed,
        local: local_nets(&sc.local, family),
        dns: match family {
            Family::V4 => sc.dns_v4.iter().map(|a| IpAddr::V4(*a)).collect(),
            Family::V6 => sc.dns_v6.iter().map(|a| IpAddr::V6(*a)).collect(),
        },
    };
    Ruleset {
        iptables: filter_table(&spec(Family::V4)),
        ip6tables: filter_table(&spec(Family::V6)),
        ipset: String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use ipnet::{Ipv4Net, Ipv6Net};
    use proptest::prelude::*;

    use super::*;
    use crate::clean_slate::CleanSlate;
    use crate::config::Config;
    use crate::docker_dns::DockerDnsRules;
    use crate::inputs::{Inputs, Resolution, Subnet};
    use crate::meta::MetaRanges;
    use crate::restore::{parse_ipset, parse_iptables};
    use crate::sample::{base_config, sample_inputs};

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
        inputs.meta = crate::meta::parse_meta(&crate::fixtures::body(meta), &keys).unwrap();
        inputs
    }

    #[test]
    fn golden_realistic_meta() {
        // The realistic fixture: dozens of web/api/git entries aggregate to their blocks, and
        // none of the ~5,000 `actions` entries reaches the sets.
        let inputs = meta_inputs(&crate::fixtures::realistic_meta(1));
        let r = render(&Plan::build(&base_config(), &inputs));
        insta::assert_snapshot!("realistic_meta", r.ipset);
        assert!(!r.ipset.contains("198.18."));
    }

    #[test]
    fn golden_large_meta() {
        // 1,000 distinct, non-adjacent ranges: one set entry each, maxelem stays at the floor.
        let inputs = meta_inputs(&crate::fixtures::scaled_meta(1, 1_000));
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
        let want = crate::sample::docker_dns();
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

    #[test]
    fn maxelem_grows_with_the_set() {
        assert_eq!(maxelem(0), 65_536);
        assert_eq!(maxelem(40_000), 131_072);
        assert_eq!(maxelem(100_000), 262_144);
    }

    #[test]
    fn hashsize_has_a_bucket_per_entry() {
        assert_eq!(hashsize(0), 1_024);
        assert_eq!(hashsize(1_024), 1_024);
        assert_eq!(hashsize(1_025), 2_048);
        assert_eq!(hashsize(90_000), 131_072);
        assert!(hashsize(100_000) <= maxelem(100_000));
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
            .map(|n| crate::config::CidrEntry {
                net: *n,
                origin: crate::config::Origin::Default,
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
}
