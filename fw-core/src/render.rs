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
    let mut t =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n");
    input_chain(&mut t, spec);
    // ---- FORWARD: nothing. Seed: "Forwarding is disabled entirely" (policy DROP). ----
    output_chain(&mut t, spec);
    t.push_str("COMMIT\n");
    t
}

/// INPUT: loopback, neighbour discovery, replies, Docker networks; nothing else.
fn input_chain(t: &mut String, spec: &FilterSpec) {
    let f = spec.family;
    // -A INPUT -i lo ... -j ACCEPT
    // Seed: "Loopback interface (internal communication)"; Docker's DNS lives on loopback too.
    rule(t, "INPUT", "-i lo", "loopback", "ACCEPT");
    if f == Family::V6 {
        ndp(t, "INPUT");
    }
    // -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED ... -j ACCEPT
    // Seed: "Inbound traffic is restricted to established connections and Docker network traffic".
    rule(
        t,
        "INPUT",
        "-m conntrack --ctstate RELATED,ESTABLISHED",
        "replies to allowed connections",
        "ACCEPT",
    );
    // -A INPUT -s 172.18.0.0/16 ... -j ACCEPT
    // Seed: services, the host gateway and browser sidecars on the Docker networks reach us.
    for net in &spec.local {
        rule(t, "INPUT", &format!("-s {net}"), "docker network", "ACCEPT");
    }
    reject_rest(t, "INPUT", f);
}

/// OUTPUT: loopback, neighbour discovery, what the mode allows, Docker networks, the
/// allowlist; nothing else.
fn output_chain(t: &mut String, spec: &FilterSpec) {
    let f = spec.family;
    // -A OUTPUT -o lo ... -j ACCEPT  (loopback is never filtered, ALW-03)
    rule(t, "OUTPUT", "-o lo", "loopback", "ACCEPT");
    if f == Family::V6 {
        ndp(t, "OUTPUT");
    }
    output_by_mode(t, spec);
    // -A OUTPUT -d 172.18.0.0/16 ... -j ACCEPT  (Docker networks, ALW-07, SEQ-08)
    for net in &spec.local {
        rule(
            t,
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
            t,
            "OUTPUT",
            &format!("-m set --match-set {} dst", f.set()),
            "allowlist",
            "ACCEPT",
        );
    }
    reject_rest(t, "OUTPUT", f);
}

/// The OUTPUT rules that differ between the profiles and the safe closed ruleset.
fn output_by_mode(t: &mut String, spec: &FilterSpec) {
    let f = spec.family;
    match spec.mode {
        Mode::Firewall(Profile::Compat) => {
            // -A OUTPUT -p udp -m udp --dport 53 ... -j ACCEPT
            // The seed's table as written: "DNS: UDP port 53 (all DNS resolution)", to any
            // address; TCP 53 too, for answers that do not fit a datagram.
            rule(
                t,
                "OUTPUT",
                "-p udp -m udp --dport 53",
                "dns to any resolver (compat)",
                "ACCEPT",
            );
            rule(
                t,
                "OUTPUT",
                "-p tcp -m tcp --dport 53",
                "dns to any resolver (compat)",
                "ACCEPT",
            );
            // -A OUTPUT -p tcp -m tcp --dport 22 ... -j ACCEPT
            // Seed: "SSH: TCP port 22 (git operations over SSH)", to any address.
            rule(
                t,
                "OUTPUT",
                "-p tcp -m tcp --dport 22",
                "ssh to any host (compat)",
                "ACCEPT",
            );
            // -A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED ... -j ACCEPT
            // The public scripts keep every established flow; compat does the same.
            rule(
                t,
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
            dns_rules(t, &spec.dns, f, "dns to configured resolver");
        }
        Mode::SafeClosed => {
            // After a failure the controlling connection and other live flows keep working
            // (never locked out), but nothing new goes out except DNS and local networks.
            rule(
                t,
                "OUTPUT",
                "-m conntrack --ctstate RELATED,ESTABLISHED",
                "established flows (safe closed)",
                "ACCEPT",
            );
            dns_rules(t, &spec.dns, f, "dns to configured resolver (safe closed)");
        }
    }
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
pub fn nat_table(docker: &DockerDnsRules) -> String {
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
    use super::*;

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
}
