//! The case catalog: one entry per row of REQUIREMENTS.md, as data. The runner, `--list`, the
//! generated `docs/requirements.md` and the reports all read this one list.
//!
//! A case names the scenarios it is judged on and a check. The check runs in the scenario's
//! sandbox after the implementation ran, observes the network and the kernel from outside, and
//! returns a verdict with its evidence; when a case has several scenarios, it passes only if
//! it passes on every one.

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::judge::ctx::{Ctx, Expect};
use crate::judge::spread;
use crate::report::Level;
use crate::world::scenario::{
    CNAME_FINAL_ADDRS, DnsVariant, EXTRA_NXDOMAIN, EXTRA_OK, EXTRA_SERVFAIL, ExampleCom, Meta,
    Prior, REQUIRED, REQUIRED_UNRESOLVABLE, Scenario, ip,
};

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// Not applicable here, with the reason.
    Skip(String),
    /// A measurement (INFO rows).
    Info(String),
}

pub type Check = fn(&Ctx) -> Result<Outcome>;

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    /// How the case observes the requirement (REQUIREMENTS.md's last column, abridged).
    pub observation: &'static str,
    pub scenarios: fn() -> Vec<Scenario>,
    pub check: Check,
    /// The check changes the sandbox (routes, sysctls): it runs after the others.
    pub mutates: bool,
    /// Why the row exists and has its level, when neither is obvious (the BYP rows); empty
    /// otherwise.
    pub rationale: &'static str,
}

impl Case {
    /// A row with no rationale that does not change the sandbox.
    pub(crate) fn new(
        id: &'static str,
        level: Level,
        title: &'static str,
        observation: &'static str,
        scenarios: fn() -> Vec<Scenario>,
        check: Check,
    ) -> Case {
        Case {
            id,
            level,
            title,
            observation,
            scenarios,
            check,
            mutates: false,
            rationale: "",
        }
    }
}

// ---- Addresses the checks use (SANDBOX.md's plan) ----

pub const BLOCKED: &str = "198.51.100.10";
pub const BLOCKED_V6: &str = "2001:db8:bad::10";
/// A high port with a listener in the world, so a closed port's own RST cannot pass for a
/// REJECT.
pub const HIGH_PORT: u16 = 41_234;
pub const UDP_ECHO_PORT: u16 = 9_999;
pub const WEB_HOST: &str = "192.0.2.10";
pub const API_HOST: &str = "192.0.2.70";
pub const GIT_HOST: &str = "192.0.2.130";
pub const HOOKS_HOST: &str = "192.0.2.200";
pub const ACTIONS_HOST: &str = "198.18.0.10";
pub const VERCEL_HOSTS: &[&str] = &["76.76.21.10", "64.29.17.10", "216.198.79.10"];
pub const UNCONFIGURED_RESOLVER: &str = "198.51.100.53";
/// The world resolver resolv.conf names in the `none` DNS variant.
pub const WORLD_RESOLVER: &str = "198.51.100.2";
pub const SVC: &str = "172.19.0.5";
pub const GATEWAYS: &[&str] = &["172.18.0.1", "172.19.0.1"];
pub const CONTAINER_A: &str = "172.18.0.2";
pub const CONTAINER_B: &str = "172.19.0.2";
/// The port of the test listeners the harness opens in the container, the sidecar and the host.
pub const PEER_PORT: u16 = 7_777;

pub fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

// ---- Scenarios ----

pub(crate) fn default() -> Vec<Scenario> {
    vec![Scenario::base("default")]
}

pub(crate) fn default_and_none() -> Vec<Scenario> {
    let mut none = Scenario::base("dns-none");
    none.dns = DnsVariant::None;
    vec![Scenario::base("default"), none]
}

fn dual() -> Vec<Scenario> {
    let mut s = Scenario::base("dual-stack");
    s.dual_stack = true;
    vec![s]
}

pub(crate) fn default_and_dual() -> Vec<Scenario> {
    let mut v = default();
    v.extend(dual());
    v
}

fn other_backends() -> Vec<Scenario> {
    let mut legacy = Scenario::base("dns-legacy");
    legacy.dns = DnsVariant::IptablesLegacy;
    let mut nft = Scenario::base("dns-nft-native");
    nft.dns = DnsVariant::NftNative;
    vec![legacy, nft]
}

fn stale() -> Vec<Scenario> {
    let mut s = Scenario::base("stale-rules");
    s.prior = Prior::StaleRules;
    vec![s]
}

fn rerun() -> Vec<Scenario> {
    let mut s = Scenario::base("rerun");
    s.prior = Prior::Firewalled;
    vec![s]
}

fn probed() -> Vec<Scenario> {
    let mut fresh = Scenario::base("probed-fresh");
    fresh.probers = true;
    let mut again = Scenario::base("probed-rerun");
    again.probers = true;
    again.prior = Prior::Firewalled;
    vec![fresh, again]
}

fn probed_rerun() -> Vec<Scenario> {
    probed()
        .into_iter()
        .filter(|s| s.prior == Prior::Firewalled)
        .collect()
}

fn long_lived() -> Vec<Scenario> {
    let mut s = Scenario::base("long-lived");
    s.long_lived = true;
    vec![s]
}

fn concurrent() -> Vec<Scenario> {
    let mut s = Scenario::base("concurrent");
    s.concurrent = true;
    vec![s]
}

fn with_meta(name: &'static str, meta: Meta) -> Scenario {
    let mut s = Scenario::base(name);
    s.meta = meta;
    s
}

fn fail01() -> Vec<Scenario> {
    vec![with_meta("meta-refused", Meta::Refused)]
}

fn fail02() -> Vec<Scenario> {
    vec![
        with_meta("meta-invalid-json", Meta::InvalidJson),
        with_meta("meta-missing-key", Meta::MissingKey),
        with_meta("meta-empty-body", Meta::EmptyBody),
    ]
}

fn fail03() -> Vec<Scenario> {
    vec![
        with_meta("meta-500", Meta::Status500),
        with_meta("meta-403-rate-limit", Meta::RateLimited403),
    ]
}

fn s_fail04() -> Vec<Scenario> {
    vec![with_meta("meta-hang", Meta::AcceptAndHang)]
}

fn s_fail05() -> Vec<Scenario> {
    ["not-a-cidr", "300.1.1.1/24", "1.2.3.4/40"]
        .iter()
        .map(|bad| {
            let name = match *bad {
                "not-a-cidr" => "meta-bad-cidr-text",
                "300.1.1.1/24" => "meta-bad-cidr-octet",
                _ => "meta-bad-cidr-prefix",
            };
            with_meta(name, Meta::BadCidr((*bad).to_owned()))
        })
        .collect()
}

fn ver01() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-example-allowlisted");
    s.example_com = ExampleCom::Allowlisted;
    vec![s]
}

fn ver02() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-github-outside");
    s.api_github_outside = true;
    vec![s]
}

fn ver03() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-example-bad-cert");
    s.example_com = ExampleCom::AllowlistedBadCert;
    vec![s]
}

fn s_ver04() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-zen-rate-limited");
    s.zen_rate_limited = true;
    vec![s]
}

fn required_unresolvable() -> Vec<Scenario> {
    let mut s = Scenario::base("required-unresolvable");
    s.required_unresolvable = true;
    vec![s]
}

/// Every scenario of the catalog whose fault fails init, or may (a bad CIDR may be skipped, a
/// hidden tool may be one the implementation does not use), on a fresh container: the meta
/// faults, the blocked-check failures, the missing tools, the unresolvable required domain.
/// The names are those of the FAIL, VER and FAIL-09 cases, so the runner builds each once
/// when cases share sandboxes.
fn failures_fresh() -> Vec<Scenario> {
    let mut v = fail01();
    v.extend(fail02());
    v.extend(fail03());
    v.extend(s_fail04());
    v.extend(s_fail05());
    v.extend(hidden_tools());
    v.extend(ver01());
    v.extend(ver02());
    v.extend(required_unresolvable());
    v
}

/// The re-run variant of each fresh failure scenario: the same fault met by a run on the
/// harness's planted firewall and marker ([`Prior::Planted`]), so that it exists whether or
/// not the implementation's own first run could succeed there. The hanging meta has none: its
/// run takes FAIL-04's 61 s, and it is judged once, fresh.
const PLANTED_NAMES: &[(&str, &str)] = &[
    ("meta-refused", "planted-meta-refused"),
    ("meta-invalid-json", "planted-meta-invalid-json"),
    ("meta-missing-key", "planted-meta-missing-key"),
    ("meta-empty-body", "planted-meta-empty-body"),
    ("meta-500", "planted-meta-500"),
    ("meta-403-rate-limit", "planted-meta-403-rate-limit"),
    ("meta-bad-cidr-text", "planted-meta-bad-cidr-text"),
    ("meta-bad-cidr-octet", "planted-meta-bad-cidr-octet"),
    ("meta-bad-cidr-prefix", "planted-meta-bad-cidr-prefix"),
    ("hidden-ipset", "planted-hidden-ipset"),
    (
        "hidden-ip6tables-restore",
        "planted-hidden-ip6tables-restore",
    ),
    ("ver-example-allowlisted", "planted-ver-example-allowlisted"),
    ("ver-github-outside", "planted-ver-github-outside"),
    ("required-unresolvable", "planted-required-unresolvable"),
];

fn failures_planted() -> Vec<Scenario> {
    failures_fresh()
        .into_iter()
        .filter_map(|s| {
            let (_, name) = PLANTED_NAMES.iter().find(|(fresh, _)| *fresh == s.name)?;
            let mut p = s;
            p.name = name;
            p.prior = Prior::Planted;
            Some(p)
        })
        .collect()
}

fn failures_all() -> Vec<Scenario> {
    let mut v = failures_fresh();
    v.extend(failures_planted());
    v
}

fn hidden_tools() -> Vec<Scenario> {
    let mut a = Scenario::base("hidden-ipset");
    a.hidden_tools = vec!["ipset"];
    let mut b = Scenario::base("hidden-ip6tables-restore");
    b.hidden_tools = vec!["ip6tables-restore"];
    vec![a, b]
}

fn after_failed_run() -> Vec<Scenario> {
    let mut s = Scenario::base("after-failed-run");
    s.prior = Prior::FailedRun;
    vec![s]
}

fn docker_caps() -> Vec<Scenario> {
    let mut s = Scenario::base("docker-caps");
    s.docker_caps = true;
    vec![s]
}

// ---- Checks ----

/// Judged after success only: a container left open by a failed init must not pass.
macro_rules! after_success {
    ($ctx:expr) => {
        if let Some(why) = $ctx.init_failed() {
            return Ok(Outcome::Fail(why));
        }
    };
}

fn first_fail(reasons: Vec<String>) -> Outcome {
    if reasons.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(reasons.join("; "))
    }
}

fn blocked_hosts_rejected(ctx: &Ctx) -> Result<Vec<String>> {
    ctx.expect_all(
        Expect::RejectedFast,
        &[80, 443, 8080, HIGH_PORT].map(|port| sa(BLOCKED, port)),
    )
}

fn pol01(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(spread::checks::pol01(ctx)?))
}

fn pol02(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(spread::checks::pol02(ctx)?))
}

fn pol03(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    if let Some(why) = ctx.forwarding_unobservable()? {
        return Ok(Outcome::Skip(why));
    }
    Ok(match ctx.forwarded_through_container()? {
        Some(evidence) => Outcome::Fail(format!(
            "traffic was forwarded through the container: {evidence}"
        )),
        None => Outcome::Pass,
    })
}

fn pol04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = Vec::new();
    if let Some(v) = ctx.world_connects_to_container()? {
        bad.push(format!(
            "a new connection from the world reached the container ({v})"
        ));
    }
    if let Some(why) = ctx.peer_connects_to_container(SVC, CONTAINER_B)? {
        bad.push(why);
    }
    bad.extend(spread::checks::pol04(ctx)?);
    Ok(first_fail(bad))
}

fn pol05(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(
        match ctx.expect_https("api.github.com", sa(API_HOST, 443))? {
            Some(why) => Outcome::Fail(why),
            None => Outcome::Pass,
        },
    )
}

fn pol06(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = spread::checks::pol06(ctx)?;
    for (host, addr) in [
        ("api.github.com", "2001:db8:2::70"),
        ("api.anthropic.com", "2001:db8:10::10"),
    ] {
        if let Some(why) = ctx.expect_https(host, sa(addr, 443))? {
            bad.push(why);
        }
    }
    if let Some(why) = ctx.expect_connects(sa("fd00:18::1", PEER_PORT))? {
        bad.push(format!("the Docker IPv6 gateway: {why}"));
    }
    Ok(first_fail(bad))
}

fn pol07(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let v = ctx.probe_tcp(sa(BLOCKED, 443))?;
    Ok(Outcome::Info(format!("a blocked TCP connect gets: {v}")))
}

fn alw01(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let server = ctx.configured_resolver();
    let udp = ctx.dns(server, "api.anthropic.com", false)?;
    if !udp.resolved() {
        return Ok(Outcome::Fail(format!("DNS over UDP to {server}: {udp:?}")));
    }
    let tcp = ctx.dns(server, "api.anthropic.com", true)?;
    ctx.note(format!("DNS over TCP to {server} (SHOULD): {tcp:?}"));
    Ok(Outcome::Pass)
}

fn alw02(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.expect_connects(sa(GIT_HOST, 22))? {
        Some(why) => Outcome::Fail(why),
        None => Outcome::Pass,
    })
}

fn alw03(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(ctx.loopback_problems()?))
}

fn alw04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = Vec::new();
    let npm = ctx.npm_host().to_owned();
    let mut targets: Vec<(String, String)> = ctx
        .npm_addrs()
        .iter()
        .map(|a| (npm.clone(), (*a).to_owned()))
        .collect();
    for (d, addrs) in REQUIRED {
        targets.extend(addrs.iter().map(|a| ((*d).to_owned(), (*a).to_owned())));
    }
    for (host, addr) in targets {
        if let Some(why) = ctx.expect_https(&host, sa(&addr, 443))? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}

fn alw05(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let targets: Vec<SocketAddr> = VERCEL_HOSTS.iter().map(|h| sa(h, 443)).collect();
    let bad = ctx.expect_all(Expect::Connects, &targets)?;
    Ok(first_fail(bad))
}

fn alw06(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = ctx.expect_all(
        Expect::Connects,
        &[WEB_HOST, API_HOST, GIT_HOST].map(|h| sa(h, 443)),
    )?;
    for why in ctx.expect_all(
        Expect::RejectedFast,
        &[HOOKS_HOST, ACTIONS_HOST].map(|h| sa(h, 443)),
    )? {
        bad.push(format!("a range under another meta key: {why}"));
    }
    Ok(first_fail(bad))
}

fn alw07(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let targets: Vec<SocketAddr> = std::iter::once(SVC)
        .chain(GATEWAYS.iter().copied())
        .map(|t| sa(t, PEER_PORT))
        .collect();
    let mut bad = ctx.expect_all(Expect::Connects, &targets)?;
    for (peer, to) in [
        (SVC, CONTAINER_B),
        ("172.18.0.1", CONTAINER_A),
        ("172.19.0.1", CONTAINER_B),
    ] {
        if let Some(why) = ctx.peer_connects_to_container(peer, to)? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}

fn alw08(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = Vec::new();
    for (d, addrs) in EXTRA_OK {
        for a in *addrs {
            if let Some(why) = ctx.expect_https(d, sa(a, 443))? {
                bad.push(why);
            }
        }
    }
    Ok(first_fail(bad))
}

/// The warnings are lines about each unresolvable domain, not a substring of the output (see
/// [`crate::judge::output_evidence`]): a line naming a domain that resolved too is not one.
fn alw09(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut resolved: Vec<&str> = EXTRA_OK.iter().map(|(d, _)| *d).collect();
    resolved.extend(REQUIRED.iter().map(|(d, _)| *d));
    resolved.extend([crate::world::scenario::EXTRA_CNAME, ctx.npm_host()]);
    let mut bad = crate::judge::output_evidence::unresolvable_domains_named(
        ctx,
        &[EXTRA_NXDOMAIN, EXTRA_SERVFAIL],
        &resolved,
    );
    for (d, addrs) in EXTRA_OK {
        if let Some(why) = ctx.expect_https(d, sa(addrs[0], 443))? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}

fn alw10(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = Vec::new();
    let server = sa(UNCONFIGURED_RESOLVER, 53);
    for tcp in [false, true] {
        let got = ctx.dns(server, "api.anthropic.com", tcp)?;
        if got.resolved() {
            bad.push(format!(
                "an unconfigured resolver {server} answered over {}",
                if tcp { "TCP" } else { "UDP" }
            ));
        }
    }
    Ok(first_fail(bad))
}

fn alw11(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.expect_rejected_fast(sa(BLOCKED, 22))? {
        Some(why) => Outcome::Fail(why),
        None => Outcome::Pass,
    })
}

fn alw12(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = Vec::new();
    for a in CNAME_FINAL_ADDRS {
        if let Some(why) = ctx.expect_https(crate::world::scenario::CNAME_FINAL, sa(a, 443))? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}

fn docker_dns_survives(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(ctx.docker_dns_problems()?))
}

fn seq03(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let mut bad = blocked_hosts_rejected(ctx)?;
    bad.extend(ctx.stale_rules_left()?);
    Ok(first_fail(bad))
}

fn seq04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(crate::judge::recheck::must_cases_again(
        ctx, None,
    )?))
}

fn seq05(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.state_difference()? {
        Some(diff) => Outcome::Fail(diff),
        None => Outcome::Pass,
    })
}

/// The probers watch the measured run; when the first run of a re-run failed there is none.
fn probers_never_started(ctx: &Ctx) -> Option<Outcome> {
    ctx.not_measured()
        .map(|why| Outcome::Skip(format!("{why}, so the probers never started")))
}

fn seq06(ctx: &Ctx) -> Result<Outcome> {
    if let Some(skip) = probers_never_started(ctx) {
        return Ok(skip);
    }
    let p = ctx.prober_results()?;
    let fresh = ctx.scenario().prior == Prior::Fresh;
    let o = crate::judge::probers::judge_dns(&p, ctx.configured_resolver(), fresh)?;
    if o == Outcome::Pass {
        ctx.note(format!(
            "{} DNS queries during the run, none failed (the control query before it answered)",
            p.dns_queries
        ));
    }
    Ok(o)
}

fn seq07(ctx: &Ctx) -> Result<Outcome> {
    if let Some(skip) = probers_never_started(ctx) {
        return Ok(skip);
    }
    let p = ctx.prober_results()?;
    let fresh = ctx.scenario().prior == Prior::Fresh;
    let o = crate::judge::probers::judge_blocked(&p, fresh)?;
    if o == Outcome::Pass {
        ctx.note(format!(
            "{} connects to a blocked host during the re-run, none connected (the control \
             connect to the Docker peer before it connected)",
            p.blocked_attempts
        ));
    }
    Ok(o)
}

fn seq08(ctx: &Ctx) -> Result<Outcome> {
    Ok(match ctx.long_lived_to_peer_works()? {
        None => Outcome::Pass,
        Some(why) => Outcome::Fail(format!(
            "the connection to the Docker-network peer opened before init: {why}"
        )),
    })
}

fn seq09(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(match ctx.long_lived_to_blocked_works()? {
        None => Outcome::Pass,
        Some(evidence) => Outcome::Fail(format!(
            "a connection to {BLOCKED} opened before init still carries data: {evidence}"
        )),
    })
}

fn seq10(ctx: &Ctx) -> Result<Outcome> {
    let (a, b) = ctx.concurrent_statuses()?;
    let (ea, eb) = ctx.concurrent_endings()?;
    if a.is_none() || b.is_none() {
        return Ok(Outcome::Fail(format!(
            "a run did not end normally: the first {}, the second {}",
            ea.as_deref().unwrap_or("succeeded"),
            eb.as_deref().unwrap_or("succeeded")
        )));
    }
    if a != Some(0) && b != Some(0) {
        return Ok(Outcome::Fail(format!(
            "neither run succeeded: the first {}, the second {}",
            ea.as_deref().unwrap_or("succeeded"),
            eb.as_deref().unwrap_or("succeeded")
        )));
    }
    // The MUST cases are judged with the run that succeeded as the run (its output, for
    // ALW-09's warnings).
    let ok = if a == Some(0) {
        &ctx.run.iut
    } else {
        ctx.run
            .second
            .as_ref()
            .context("no second run in this scenario")?
    };
    Ok(first_fail(crate::judge::recheck::must_cases_again(
        ctx,
        Some(ok),
    )?))
}

fn failed_without_marker(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if ctx.init_failed().is_none() {
        bad.push("init reported success".to_owned());
    }
    if ctx.marker_present() {
        bad.push("the marker exists".to_owned());
    }
    Ok(first_fail(bad))
}

fn fail04(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if ctx.iut_elapsed().as_secs() >= 60 || ctx.iut_timed_out() {
        bad.push(format!(
            "init took {:.1} s (the limit is 60 s)",
            ctx.iut_elapsed().as_secs_f64()
        ));
    }
    if let Outcome::Fail(why) = failed_without_marker(ctx)? {
        bad.push(why);
    }
    Ok(first_fail(bad))
}

fn fail05(ctx: &Ctx) -> Result<Outcome> {
    // Failure, or success with the entry skipped and a warning: never open.
    let mut bad = blocked_hosts_rejected(ctx)?;
    if ctx.init_failed().is_some() && ctx.marker_present() {
        bad.push("failed but left a marker".to_owned());
    }
    Ok(first_fail(bad))
}

fn fail06(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = ctx.loopback_problems()?;
    let server = ctx.configured_resolver();
    let got = ctx.dns(server, "api.anthropic.com", false)?;
    if !got.resolved() {
        bad.push(format!("DNS through {server}: {got:?}"));
    }
    bad.extend(ctx.expect_all(
        Expect::Connects,
        &[SVC, GATEWAYS[0]].map(|t| sa(t, PEER_PORT)),
    )?);
    Ok(first_fail(bad))
}

fn fail07(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    // Fail closed: a firewall that comes up without a domain the seed requires is not the one
    // asked for ("required for Claude Code and core tooling to function"), just as one without
    // GitHub's ranges is not; init must fail (closed) instead of warning.
    if ctx.scenario().required_unresolvable && ctx.init_failed().is_none() {
        bad.push(format!(
            "init reported success although the required domain {REQUIRED_UNRESOLVABLE} does \
             not resolve (NXDOMAIN)"
        ));
    }
    bad.extend(blocked_hosts_rejected(ctx)?);
    Ok(first_fail(bad))
}

fn fail08(ctx: &Ctx) -> Result<Outcome> {
    if ctx.scenario().prior != Prior::Planted {
        anyhow::bail!("FAIL-08 is judged on a planted prior state only");
    }
    Ok(if ctx.init_failed().is_none() {
        Outcome::Skip("the run succeeded: the marker is its own (judged by MRK-01)".into())
    } else if ctx.marker_present() {
        Outcome::Fail("the marker of the previous success survived the failed run".into())
    } else {
        Outcome::Pass
    })
}

/// The message is a line of the failed run naming the tool that a successful run does not
/// print (see [`crate::judge::output_evidence`]); on a failed run only, since it needs a control run.
fn fail09(ctx: &Ctx) -> Result<Outcome> {
    let mut bad = Vec::new();
    if let Outcome::Fail(why) = failed_without_marker(ctx)? {
        bad.push(why);
    }
    let tool = ctx
        .scenario()
        .hidden_tools
        .first()
        .copied()
        .unwrap_or_default();
    bad.extend(blocked_hosts_rejected(ctx)?);
    if ctx.init_failed().is_some() {
        use crate::judge::output_evidence::{ToolMessage, missing_tool_named};
        match missing_tool_named(ctx, tool)? {
            ToolMessage::Named => {}
            ToolMessage::NotNamed(why) => bad.push(why),
            ToolMessage::Unjudged(why) if bad.is_empty() => return Ok(Outcome::Skip(why)),
            ToolMessage::Unjudged(why) => ctx.note(why),
        }
    }
    Ok(first_fail(bad))
}

/// The measured run follows a run that failed because the meta API answered HTTP 500, and the
/// API answers again ([`crate::world::recovery`]): it must succeed and leave a working firewall. A
/// first run that succeeded despite the fault left nothing to recover from: not judged. An
/// implementation that fails open passes trivially (the evidence says so).
fn fail10(ctx: &Ctx) -> Result<Outcome> {
    let Some(first) = &ctx.run.prior_run else {
        anyhow::bail!(
            "the failed first run of scenario {} was not recorded",
            ctx.scenario().name
        );
    };
    let Some(how) = &first.failed else {
        return Ok(Outcome::Skip(
            "the failure condition did not make it fail: the first run, with the meta API answering HTTP 500, succeeded".into(),
        ));
    };
    ctx.note(format!("the first run {how}; after it, {}", first.left()));
    if let Some(again) = ctx.run.how_ended() {
        return Ok(Outcome::Fail(format!(
            "the run after a failed run {again}, with the meta API answering again (after the failed run, {})",
            first.left()
        )));
    }
    let mut bad = crate::judge::recheck::must_cases_again(ctx, None)?;
    if !ctx.marker_present() {
        bad.push("succeeded without a marker".to_owned());
    }
    Ok(first_fail(bad))
}

/// The implementation must have met the rate limit (its allowed-destination check got the 403
/// of `/zen`, which the harness's own probes never ask for), succeeded with a marker, and left
/// a firewall that works. One that never asked `/zen` was not tested: not applicable.
fn ver04(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    if let Some(skip) = ctx.rate_limit_met() {
        return Ok(Outcome::Skip(skip));
    }
    let mut bad = Vec::new();
    if !ctx.marker_present() {
        bad.push("succeeded without a marker".to_owned());
    }
    bad.extend(blocked_hosts_rejected(ctx)?);
    bad.extend(ctx.expect_https("api.github.com", sa(API_HOST, 443))?);
    Ok(first_fail(bad))
}

fn mrk01(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(if ctx.marker_present() {
        Outcome::Pass
    } else {
        Outcome::Fail("no /tmp/.firewall-init-done after success".into())
    })
}

fn mrk02(ctx: &Ctx) -> Result<Outcome> {
    // A success is not judged here: whether the scenario's fault had to fail the run is its
    // own case's question (FAIL-01..03 and VER-01/02 must fail; a bad CIDR may be skipped, a
    // hidden tool may be one the implementation does not use, an unresolvable required
    // domain is FAIL-07's).
    Ok(if ctx.init_failed().is_none() {
        Outcome::Skip("the run succeeded (judged by its own case)".into())
    } else if ctx.marker_present() {
        Outcome::Fail("the marker exists after a failure".into())
    } else {
        Outcome::Pass
    })
}

/// The capabilities the run really had are read while it runs ([`crate::world::caps`]): not the
/// seed's set, or not observed, and the case cannot be judged (a harness error). Then the run
/// must succeed and the firewall work: a blocked host rejected, api.github.com reachable.
fn cap01(ctx: &Ctx) -> Result<Outcome> {
    let want = crate::world::caps::mask(&crate::world::iut::docker_caps_with_net_admin());
    match crate::world::caps::judge(ctx.run.iut.caps.as_ref(), want) {
        Ok(seen) => ctx.note(seen),
        // A run too short to be read failed anyway: that is its verdict.
        Err(why) if ctx.run.iut.caps.as_ref().is_none_or(|c| c.main.is_none()) => {
            if let Some(failed) = ctx.init_failed() {
                ctx.note(why);
                return Ok(Outcome::Fail(failed));
            }
            anyhow::bail!(why)
        }
        Err(why) => anyhow::bail!(why),
    }
    after_success!(ctx);
    let mut bad = blocked_hosts_rejected(ctx)?;
    bad.extend(ctx.expect_https("api.github.com", sa(API_HOST, 443))?);
    Ok(first_fail(bad))
}

fn inf01(ctx: &Ctx) -> Result<Outcome> {
    // A failed init has no init time to report (an INFO row's failure is shown as n/a).
    after_success!(ctx);
    Ok(Outcome::Info(format!(
        "init took {} ms (exit {:?})",
        ctx.iut_elapsed().as_millis(),
        ctx.iut_status()
    )))
}

fn inf02(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(Outcome::Info(ctx.allowlist_size()?))
}

/// The whole catalog, in REQUIREMENTS.md's order.
pub fn catalog() -> Vec<Case> {
    use Level::{Info, Must, Should};
    let c = Case::new;
    let mut pol03 = c(
        "POL-03",
        Must,
        "Forwarding disabled",
        "a peer routing through the container gets through before the run (rp_filter off on the path); after it, with ip_forward on in the container, nothing gets through",
        default,
        pol03,
    );
    pol03.mutates = true;
    let mut all = vec![
        c(
            "POL-01",
            Must,
            "Default deny: blocked IPv4 destinations are unreachable on any TCP port",
            "TCP to a seeded spread of blocked destinations (just outside every allowed range, the next and previous /24 and /16 of GitHub's, the domains' and Vercel's, the Docker networks' neighbours, both halves of the address space, drawn /8s) on 443 and 80, 8080 or a high port: rejected fast",
            default,
            pol01,
        ),
        c(
            "POL-02",
            Must,
            "Blocked UDP does not leave the container",
            "datagrams to the same spread (UDP echo, QUIC 443, a high port) never arrive at the world side",
            default,
            pol02,
        ),
        pol03,
        c(
            "POL-04",
            Must,
            "Inbound restricted to established traffic and Docker networks",
            "new TCP connections, datagrams and ICMP echo requests from a spread of world sources (blocked, allowlisted, drawn) to the container's listeners on several ports fail; from the sidecar a connection succeeds",
            default,
            pol04,
        ),
        c(
            "POL-05",
            Must,
            "Replies to allowed outbound connections come back",
            "an HTTPS exchange with api.github.com completes",
            default,
            pol05,
        ),
        c(
            "POL-06",
            Should,
            "IPv6 default deny with REJECT",
            "dual stack: TCP to a spread of blocked IPv6 destinations (the neighbours of GitHub's, the AAAA records' and the Docker network's prefixes, NAT64, drawn ones) and to ::ffff: forms rejected fast, UDP and ICMPv6 echo to them never arrive; GitHub v6, AAAA records and the Docker v6 gateway stay reachable",
            dual,
            pol06,
        ),
        c(
            "POL-07",
            Info,
            "Which reject type the IUT uses",
            "errno of a blocked TCP connect",
            default,
            pol07,
        ),
        c(
            "ALW-01",
            Must,
            "DNS through the container's configured resolver works",
            "an A query to the resolver of resolv.conf over UDP (TCP recorded), with Docker DNS and with a world resolver",
            default_and_none,
            alw01,
        ),
        c(
            "ALW-02",
            Must,
            "SSH to GitHub's git ranges",
            "TCP 22 to a host in a git range connects",
            default,
            alw02,
        ),
        c(
            "ALW-03",
            Must,
            "Loopback is never filtered",
            "TCP and UDP on 127.0.0.1 and [::1] on arbitrary ports",
            default,
            alw03,
        ),
        c(
            "ALW-04",
            Must,
            "Every required domain is reachable",
            "HTTPS to every address of the npm registry host and of each required domain",
            default,
            alw04,
        ),
        c(
            "ALW-05",
            Must,
            "Vercel CDN ranges",
            "a host in each Vercel range connects",
            default,
            alw05,
        ),
        c(
            "ALW-06",
            Must,
            "GitHub meta web, api, git ranges, and only those",
            "hosts in web, api and git connect; hosts under hooks and actions only are rejected",
            default,
            alw06,
        ),
        c(
            "ALW-07",
            Must,
            "All connected Docker subnets, both ways",
            "container to the sidecar and both gateways, and back, new TCP connections",
            default,
            alw07,
        ),
        c(
            "ALW-08",
            Must,
            "Extra domains from CSPACE_FIREWALL_DOMAINS",
            "each extra domain's addresses reachable over HTTPS",
            default,
            alw08,
        ),
        c(
            "ALW-09",
            Must,
            "An unresolvable domain warns and init continues",
            "NXDOMAIN and SERVFAIL extra domains: success, for each a line naming it and no domain that resolved, the others reachable",
            default,
            alw09,
        ),
        c(
            "ALW-10",
            Should,
            "DNS only to the configured resolvers",
            "a query to an unconfigured world resolver fails, over UDP and TCP",
            default_and_none,
            alw10,
        ),
        c(
            "ALW-11",
            Should,
            "SSH only to allowlisted destinations",
            "TCP 22 to a blocked host is rejected fast",
            default,
            alw11,
        ),
        c(
            "ALW-12",
            Should,
            "CNAME chains resolve to their final addresses",
            "an extra domain that is a CNAME chain: its final address reachable",
            default,
            alw12,
        ),
        c(
            "SEQ-01",
            Must,
            "Docker's embedded DNS survives init",
            "resolution through 127.0.0.11 over UDP and TCP after init; Docker's DNAT/SNAT targets unchanged",
            default,
            docker_dns_survives,
        ),
        c(
            "SEQ-02",
            Should,
            "Docker DNS in the other backends",
            "the same with Docker's rules written by iptables-legacy and as the native nft table",
            other_backends,
            docker_dns_survives,
        ),
        c(
            "SEQ-03",
            Must,
            "Clean slate: stale rules do not survive",
            "stale ACCEPT-all, user chain, mangle and nat rules: none in effect or present after success",
            stale,
            seq03,
        ),
        c(
            "SEQ-04",
            Must,
            "Re-running is safe",
            "a second init succeeds, then every MUST POL and ALW case of the default world is judged again (each failure named by its case)",
            rerun,
            seq04,
        ),
        c(
            "SEQ-05",
            Should,
            "Idempotent",
            "the state after a re-run equals the state after a single clean run, object by object: every ipset, iptables chain (nft and legacy, IPv4 and IPv6), nft table, set and chain; the observer is proven on objects of its own first",
            rerun,
            seq05,
        ),
        c(
            "SEQ-06",
            Should,
            "No DNS gap",
            "a prober queries the configured resolver every 10 ms during a fresh init and a re-run: at least 3 queries, none failing; its first query, before init, must answer",
            probed,
            seq06,
        ),
        c(
            "SEQ-07",
            Should,
            "No open window",
            "during a re-run, a prober connects to a blocked host every 10 ms: at least 3 attempts, none connects; its first connect, to the Docker peer before the re-run, must connect",
            probed_rerun,
            seq07,
        ),
        c(
            "SEQ-08",
            Must,
            "Lockout safety: the controlling connection survives",
            "a connection to the sidecar opened before init still carries data",
            long_lived,
            seq08,
        ),
        c(
            "SEQ-09",
            Should,
            "Flows the new policy forbids are cut",
            "a connection to a blocked host opened before init, proven to carry data then, no longer carries data",
            long_lived,
            seq09,
        ),
        c(
            "SEQ-10",
            Should,
            "Concurrent runs are serialised",
            "two inits at once: both end, one succeeds, then every MUST POL and ALW case of the default world is judged",
            concurrent,
            seq10,
        ),
        c(
            "FAIL-01",
            Must,
            "GitHub meta unreachable",
            "the meta host refuses connections: failure, no marker",
            fail01,
            failed_without_marker,
        ),
        c(
            "FAIL-02",
            Must,
            "GitHub meta response invalid",
            "invalid JSON, a missing key, an empty body: failure, no marker",
            fail02,
            failed_without_marker,
        ),
        c(
            "FAIL-03",
            Must,
            "GitHub meta HTTP error",
            "500, and 403 rate limited: failure, no marker",
            fail03,
            failed_without_marker,
        ),
        c(
            "FAIL-04",
            Should,
            "GitHub meta hangs",
            "the server accepts and never answers: failure within 60 s, no marker",
            s_fail04,
            fail04,
        ),
        c(
            "FAIL-05",
            Should,
            "Malformed ranges are refused",
            "a bad CIDR entry: failure or the entry skipped; never open",
            s_fail05,
            fail05,
        ),
        c(
            "FAIL-06",
            Must,
            "Never locked out after a failure",
            "after each failure (every meta fault, bad CIDR, missing tool, blocked-check failure, unresolvable required domain), fresh and on a planted firewall and marker: loopback, the configured resolver and the Docker peers work",
            failures_all,
            fail06,
        ),
        c(
            "FAIL-07",
            Should,
            "Fail closed",
            "after each failure, fresh and on a planted firewall and marker: blocked hosts rejected; an unresolvable required domain must fail init",
            failures_all,
            fail07,
        ),
        c(
            "FAIL-08",
            Should,
            "A stale marker does not survive a failed run",
            "each failure on a planted firewall with the marker of a previous success: no marker after it",
            failures_planted,
            fail08,
        ),
        c(
            "FAIL-09",
            Should,
            "Missing tools fail cleanly",
            "ipset, then ip6tables-restore hidden: failure, a line naming the tool that a successful run does not print, no marker, not open",
            hidden_tools,
            fail09,
        ),
        c(
            "FAIL-10",
            Should,
            "A run after a failed run succeeds once the cause is gone",
            "a first run with the meta API answering 500 fails; the API fixed, a second run succeeds, every MUST allowlist case holds again (as SEQ-04 judges them) and the marker is there",
            after_failed_run,
            fail10,
        ),
        c(
            "VER-01",
            Must,
            "Init refuses to report success when the block does not hold",
            "example.com inside an allowlisted range: failure, no marker",
            ver01,
            failed_without_marker,
        ),
        c(
            "VER-02",
            Must,
            "Init refuses to report success when GitHub is unreachable",
            "api.github.com outside the meta ranges: failure, no marker",
            ver02,
            failed_without_marker,
        ),
        c(
            "VER-03",
            Should,
            "Blocked must be proven, not assumed",
            "example.com reachable with a certificate that does not validate: failure",
            ver03,
            failed_without_marker,
        ),
        c(
            "VER-04",
            Should,
            "A rate-limited GitHub does not fail a correct firewall",
            "/zen answers 403 rate limited: the implementation got the 403, succeeded with a marker, and a blocked host is rejected, api.github.com reachable",
            s_ver04,
            ver04,
        ),
        c(
            "MRK-01",
            Must,
            "Marker on success",
            "/tmp/.firewall-init-done exists after success",
            default,
            mrk01,
        ),
        c(
            "MRK-02",
            Must,
            "No marker on failure",
            "after each failure on a fresh container, no marker",
            failures_fresh,
            mrk02,
        ),
        c(
            "CAP-01",
            Should,
            "Works with the seed's capabilities",
            "the run's processes, read while it runs, have Docker's default capabilities plus NET_ADMIN and NET_RAW only: success, a blocked host rejected, api.github.com reachable",
            docker_caps,
            cap01,
        ),
        c(
            "INF-01",
            Info,
            "Init time",
            "wall time of a successful init",
            default,
            inf01,
        ),
        c(
            "INF-02",
            Info,
            "Allowlist size",
            "entries loaded, from ipset save",
            default,
            inf02,
        ),
    ];
    all.extend(spread::bypass::rows());
    // They end with the MUST POL cases, POL-03 among them, which changes the sandbox.
    for case in &mut all {
        if matches!(case.id, "SEQ-04" | "SEQ-10" | "FAIL-10") {
            case.mutates = true;
        }
    }
    all
}

/// Cases whose ID starts with one of `prefixes` (all when empty), at `level` or stricter.
pub fn select(prefixes: &[String], levels: &[Level]) -> Vec<Case> {
    catalog()
        .into_iter()
        .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| c.id.starts_with(p.as_str())))
        .filter(|c| levels.is_empty() || levels.contains(&c.level))
        .collect()
}

/// `docs/requirements.md`, generated from the catalog.
pub fn requirements_markdown() -> String {
    let mut m = String::from(
        "# Requirements and their cases\n\nGenerated from the conformance catalog (`conformance/src/judge/catalog.rs`) by\n`fw-conformance list --markdown`; a test checks that this file is current.\n\n| ID | Level | Requirement | How the suite observes it | Scenarios |\n|---|---|---|---|---|\n",
    );
    for c in catalog() {
        let scenarios: Vec<&str> = (c.scenarios)().iter().map(|s| s.name).collect();
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.id,
            c.level,
            c.title,
            c.observation,
            scenarios.join(", ")
        ));
    }
    let explained: Vec<Case> = catalog()
        .into_iter()
        .filter(|c| !c.rationale.is_empty())
        .collect();
    if !explained.is_empty() {
        m.push_str("\n## Why these rows, at these levels\n\n| ID | Level | Why |\n|---|---|---|\n");
        for c in explained {
            m.push_str(&format!("| {} | {} | {} |\n", c.id, c.level, c.rationale));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog against the hand-maintained list of REQUIREMENTS.md's rows (ID and level, in
    /// order): its independent reference (see [`crate::judge::requirements_list`]).
    #[test]
    fn every_requirement_has_exactly_one_case() {
        let spec = include_str!("../../../docs/requirements-ids.txt");
        let want = crate::judge::requirements_list::parse(spec).unwrap_or_else(|e| panic!("{e}"));
        let have: Vec<(&str, Level)> = catalog().iter().map(|c| (c.id, c.level)).collect();
        let diff = crate::judge::requirements_list::differences(&want, &have);
        assert!(
            diff.is_empty(),
            "the catalog and docs/requirements-ids.txt differ:\n{}",
            diff.join("\n")
        );
    }

    /// The checked-in doc is the catalog's rendering (regenerated after a catalog change); what
    /// the catalog holds is checked against the independent list above.
    #[test]
    fn the_generated_requirements_doc_is_current() {
        let checked_in = include_str!("../../../docs/requirements.md");
        assert_eq!(
            checked_in,
            requirements_markdown(),
            "docs/requirements.md is stale: run `fw-conformance list --markdown > docs/requirements.md`"
        );
    }

    #[test]
    fn selection_by_prefix_and_level() {
        let ids: Vec<&str> = select(&["SEQ-0".into()], &[Level::Must])
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["SEQ-01", "SEQ-03", "SEQ-04", "SEQ-08"]);
    }

    #[test]
    fn every_failure_scenario_has_a_planted_re_run_but_the_hanging_meta() {
        let fresh = failures_fresh();
        let planted = failures_planted();
        for s in &fresh {
            let twin = planted.iter().find(|p| {
                let mut w = (*p).clone();
                w.name = s.name;
                w.prior = Prior::Fresh;
                &w == s
            });
            assert_eq!(
                twin.is_some(),
                s.meta != Meta::AcceptAndHang,
                "{}: a planted variant in PLANTED_NAMES",
                s.name
            );
        }
        assert!(planted.iter().all(|p| p.prior == Prior::Planted));
        assert!(fresh.iter().all(|s| s.prior == Prior::Fresh));
    }

    #[test]
    fn scenario_names_identify_scenarios() {
        // The runner shares a sandbox between cases naming the same scenario: one name, one
        // definition.
        let mut seen: Vec<Scenario> = Vec::new();
        for c in catalog() {
            for s in (c.scenarios)() {
                if let Some(other) = seen.iter().find(|o| o.name == s.name) {
                    assert_eq!(
                        other, &s,
                        "scenario {} is defined twice differently",
                        s.name
                    );
                } else {
                    seen.push(s);
                }
            }
        }
    }
}
