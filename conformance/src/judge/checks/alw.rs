//! ALW: what must stay allowed (DNS, SSH to git, loopback, the required and extra domains, GitHub and Vercel ranges, the Docker networks).

use std::net::SocketAddr;

use anyhow::Result;
use fw_testkit::plan::{
    ACTIONS_HOST, API_HOST, BLOCKED, CNAME_FINAL_ADDRS, CONTAINER_A, CONTAINER_B, EXTRA_OK,
    GATEWAYS, GIT_HOST, HOOKS_HOST, NET_A_GATEWAY, NET_B_GATEWAY, PEER_PORT, REQUIRED, SVC,
    UNCONFIGURED_RESOLVER, VERCEL_HOSTS, WEB_HOST, sa,
};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{after_success, first_fail};
use crate::judge::checks::scenarios::{default, default_and_none};
use crate::judge::ctx::{Ctx, Expect};
use crate::judge::verdict::Level;
use crate::world::scenario::{EXTRA_NXDOMAIN, EXTRA_SERVFAIL};

/// The ALW cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
    use Level::{Must, Should};
    let c = Case::new;
    vec![
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
    ]
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
    let mut targets: Vec<(String, std::net::Ipv4Addr)> =
        ctx.npm_addrs().iter().map(|a| (npm.clone(), *a)).collect();
    for (d, addrs) in REQUIRED {
        targets.extend(addrs.iter().map(|a| ((*d).to_owned(), *a)));
    }
    for (host, addr) in targets {
        if let Some(why) = ctx.expect_https(&host, sa(addr, 443))? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}

fn alw05(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let targets: Vec<SocketAddr> = VERCEL_HOSTS.iter().map(|h| sa(*h, 443)).collect();
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
        .chain(GATEWAYS)
        .map(|t| sa(t, PEER_PORT))
        .collect();
    let mut bad = ctx.expect_all(Expect::Connects, &targets)?;
    for (peer, to) in [
        (SVC, CONTAINER_B),
        (NET_A_GATEWAY, CONTAINER_A),
        (NET_B_GATEWAY, CONTAINER_B),
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
            if let Some(why) = ctx.expect_https(d, sa(*a, 443))? {
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
        if let Some(why) = ctx.expect_https(crate::world::scenario::CNAME_FINAL, sa(*a, 443))? {
            bad.push(why);
        }
    }
    Ok(first_fail(bad))
}
