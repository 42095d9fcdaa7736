//! The planted prior state ([`Prior::Planted`](crate::world::scenario::Prior::Planted)): a re-run
//! whose first run the harness does itself.
//!
//! Judging a failed re-run (FAIL-06, FAIL-07, FAIL-08, the stress campaign's fault matrix)
//! needs a container that is firewalled and carries the marker of a previous success. Asking
//! the implementation for that state makes the judgement depend on it: an implementation whose
//! first run fails (every run fails in the VER worlds) leaves nothing to judge. So the harness
//! applies a default-deny firewall of its own, rendered from the address plan and loaded with
//! the machine's `ipset restore`, `iptables-restore` and `ip6tables-restore` in the container's
//! namespace (the filter tables only: Docker's nat rules stay as the sandbox installed them),
//! writes the marker, and proves the state holds before the implementation runs.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use fw_testkit::plan::{
    BLOCKED, DOCKER_DNS, GITHUB_API_V4, GITHUB_API_V6, GITHUB_GIT_V4, GITHUB_GIT_V6, GITHUB_WEB_V4,
    GITHUB_WEB_V6, NET_A, NET_A_V6, NET_B, PEER_PORT, SVC, VERCEL_V4, WEB_HOST, WORLD_RESOLVER,
    resolved_v4, sa,
};

use crate::world::probe;
use crate::world::sandbox::Sandbox;
use crate::world::scenario::{DnsVariant, Scenario};

/// The set of the planted allowlist: a name no implementation of the seed uses, so that
/// nothing the implementation does to its own sets touches it by accident.
pub const PLANTED_SET: &str = "fwt-planted-allow";
/// What the planted marker holds (an implementation may read it; none may trust it).
pub const PLANTED_MARKER: &[u8] = b"marker of a previous success, planted by the harness\n";

/// `ipset restore` input: the allowlist of the plan (GitHub's web, api and git ranges, the
/// Vercel ranges, every address of the required, npm and extra domains).
pub fn ipset_script() -> String {
    let mut s = format!("create {PLANTED_SET} hash:net family inet\nflush {PLANTED_SET}\n");
    let mut nets: Vec<String> = [GITHUB_WEB_V4, GITHUB_API_V4, GITHUB_GIT_V4]
        .iter()
        .chain(VERCEL_V4.iter())
        .map(ToString::to_string)
        .collect();
    nets.extend(resolved_v4().iter().map(ToString::to_string));
    for n in nets {
        s.push_str(&format!("add {PLANTED_SET} {n}\n"));
    }
    s
}

/// The start of a planted filter table: every chain's policy DROP.
const FILTER_HEAD: &str = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n";

/// `chain`'s first rules in both families: loopback (`-i lo` in, `-o lo` out) and the flows
/// already established.
fn accept_loopback_and_established(r: &mut String, chain: &str) {
    let dir = if chain == "INPUT" { "-i" } else { "-o" };
    r.push_str(&format!("-A {chain} {dir} lo -j ACCEPT\n"));
    r.push_str(&format!(
        "-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
    ));
}

/// `chain`'s last rules: REJECT, with a TCP reset for TCP and `icmp_reject` for the rest.
fn reject(r: &mut String, chain: &str, icmp_reject: &str) {
    r.push_str(&format!(
        "-A {chain} -p tcp -j REJECT --reject-with tcp-reset\n"
    ));
    r.push_str(&format!(
        "-A {chain} -j REJECT --reject-with {icmp_reject}\n"
    ));
}

/// `iptables-restore` input: default deny with REJECT; loopback, established flows, the Docker
/// networks both ways, DNS to the world resolver and the allowlist set allowed.
pub fn iptables_script() -> String {
    let mut r = String::from(FILTER_HEAD);
    accept_loopback_and_established(&mut r, "INPUT");
    for net in [NET_A, NET_B] {
        r.push_str(&format!("-A INPUT -s {net} -j ACCEPT\n"));
    }
    reject(&mut r, "INPUT", "icmp-admin-prohibited");
    accept_loopback_and_established(&mut r, "OUTPUT");
    for net in [NET_A, NET_B] {
        r.push_str(&format!("-A OUTPUT -d {net} -j ACCEPT\n"));
    }
    // DNS to the world resolver: the configured resolver in the `none` variant, and the
    // upstream that Docker's embedded DNS forwards to from inside the container otherwise
    // (ExtServers), so a firewall that keeps 127.0.0.11 working must allow it too.
    for proto in ["udp", "tcp"] {
        r.push_str(&format!(
            "-A OUTPUT -d {WORLD_RESOLVER}/32 -p {proto} --dport 53 -j ACCEPT\n"
        ));
    }
    r.push_str(&format!(
        "-A OUTPUT -m set --match-set {PLANTED_SET} dst -j ACCEPT\n"
    ));
    reject(&mut r, "OUTPUT", "icmp-admin-prohibited");
    r.push_str("COMMIT\n");
    r
}

/// `ip6tables-restore` input: the same policy for IPv6 (neighbour discovery allowed; in dual
/// stack the Docker network's and GitHub's IPv6 ranges too).
pub fn ip6tables_script(s: &Scenario) -> String {
    let mut r = String::from(FILTER_HEAD);
    for chain in ["INPUT", "OUTPUT"] {
        accept_loopback_and_established(&mut r, chain);
        r.push_str(&format!("-A {chain} -p ipv6-icmp -j ACCEPT\n"));
    }
    if s.dual_stack {
        r.push_str(&format!("-A INPUT -s {NET_A_V6} -j ACCEPT\n"));
        r.push_str(&format!("-A OUTPUT -d {NET_A_V6} -j ACCEPT\n"));
        for net in [GITHUB_WEB_V6, GITHUB_API_V6, GITHUB_GIT_V6] {
            r.push_str(&format!("-A OUTPUT -d {net} -j ACCEPT\n"));
        }
    }
    for chain in ["INPUT", "OUTPUT"] {
        reject(&mut r, chain, "icmp6-adm-prohibited");
    }
    r.push_str("COMMIT\n");
    r
}

/// Applies the planted firewall and marker in the sandbox's container and proves them: a
/// blocked host is rejected fast, an allowlisted one and the Docker peer connect, DNS through
/// the configured resolver answers, the marker is there. `Err` is a harness fault.
pub fn plant(sb: &Sandbox) -> Result<()> {
    let c = &sb.topo.container;
    c.exec_with_input("ipset", &["-exist", "restore"], &ipset_script())
        .context("loading the planted allowlist set")?;
    c.exec_with_input("iptables-restore", &[], &iptables_script())
        .context("loading the planted IPv4 rules")?;
    c.exec_with_input("ip6tables-restore", &[], &ip6tables_script(&sb.scenario))
        .context("loading the planted IPv6 rules")?;
    sb.write_marker(PLANTED_MARKER)
        .context("writing the planted marker")?;
    let problems = control(sb)?;
    if !problems.is_empty() {
        bail!(
            "the planted prior state does not hold before the implementation ran: {}",
            problems.join("; ")
        );
    }
    Ok(())
}

/// What is wrong with the planted state (nothing, normally).
fn control(sb: &Sandbox) -> Result<Vec<String>> {
    let mut bad = Vec::new();
    let blocked = sa(BLOCKED, 443);
    let c = &sb.topo.container;
    let v = c.block_on(move || async move {
        probe::tcp_connect(blocked, probe::rejection_wait(&blocked)).await
    })??;
    if !v.is_rejected_fast(&blocked) {
        bad.push(format!("{blocked}: {v} (expected a fast rejection)"));
    }
    for target in [sa(WEB_HOST, 443), sa(SVC, PEER_PORT)] {
        let v =
            c.block_on(
                move || async move { probe::tcp_connect(target, probe::PROBE_TIMEOUT).await },
            )??;
        if !v.is_connected() {
            bad.push(format!("{target}: {v} (expected to connect)"));
        }
    }
    let server = match sb.scenario.dns {
        DnsVariant::None => sa(WORLD_RESOLVER, 53),
        _ => sa(DOCKER_DNS, 53),
    };
    let got = c.block_on(move || async move {
        probe::dns_query(server, "api.anthropic.com", false, Duration::from_secs(3)).await
    })??;
    if !got.resolved() {
        bad.push(format!("DNS through {server}: {got:?}"));
    }
    if !sb.marker_present() {
        bad.push("no marker".to_owned());
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planted_firewall_is_rendered_from_the_plan() {
        let s = Scenario::base("x");
        let v4 = iptables_script();
        assert!(v4.starts_with("*filter\n:INPUT DROP"), "{v4}");
        assert!(v4.ends_with("COMMIT\n"), "{v4}");
        assert!(v4.contains("-A OUTPUT -d 172.19.0.0/16 -j ACCEPT"), "{v4}");
        assert!(v4.contains("--match-set fwt-planted-allow dst"), "{v4}");
        assert!(v4.contains("-d 198.51.100.2/32 -p udp --dport 53"), "{v4}");
        let sets = ipset_script();
        for want in [
            "192.0.2.0/26",
            "192.0.2.128/26",
            "76.76.21.0/24",
            "203.0.113.10",
        ] {
            assert!(
                sets.contains(&format!("add {PLANTED_SET} {want}\n")),
                "{want}"
            );
        }
        // Blocked hosts and other meta keys stay out.
        assert!(!sets.contains("198.51.100."), "{sets}");
        assert!(!sets.contains("192.0.2.192"), "{sets}");
        assert!(ip6tables_script(&s).contains("icmp6-adm-prohibited"));
    }
}
