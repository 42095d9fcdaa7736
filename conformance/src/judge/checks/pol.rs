//! POL: the policy (default deny, forwarding, inbound, replies, IPv6, the reject type).

use anyhow::Result;
use fw_testkit::plan::{
    API_HOST, API_HOST_V6, BLOCKED, CONTAINER_B, NET_A_V6_GATEWAY, PEER_PORT, REQUIRED_AAAA, SVC,
    sa,
};

use crate::judge::case::{Case, Outcome};
use crate::judge::checks::common::{after_success, first_fail};
use crate::judge::checks::scenarios::{default, dual};
use crate::judge::ctx::Ctx;
use crate::judge::spread;
use crate::judge::verdict::Level;

/// The POL cases, in docs/requirements.md's order.
pub fn cases() -> Vec<Case> {
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
    vec![
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
    ]
}

fn pol01(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(spread::pol01(ctx)?))
}

fn pol02(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    Ok(first_fail(spread::pol02(ctx)?))
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
    bad.extend(spread::pol04(ctx)?);
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
    let mut bad = spread::pol06(ctx)?;
    for (host, addr) in [
        ("api.github.com", API_HOST_V6),
        ("api.anthropic.com", REQUIRED_AAAA[0].1),
    ] {
        if let Some(why) = ctx.expect_https(host, sa(addr, 443))? {
            bad.push(why);
        }
    }
    if let Some(why) = ctx.expect_connects(sa(NET_A_V6_GATEWAY, PEER_PORT))? {
        bad.push(format!("the Docker IPv6 gateway: {why}"));
    }
    Ok(first_fail(bad))
}

fn pol07(ctx: &Ctx) -> Result<Outcome> {
    after_success!(ctx);
    let v = ctx.probe_tcp(sa(BLOCKED, 443))?;
    Ok(Outcome::Info(format!("a blocked TCP connect gets: {v}")))
}
