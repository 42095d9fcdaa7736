//! Cutting flows the new policy forbids (SEQ-09), keeping the container's own (SEQ-08).
//!
//! Rules only see new packets of a flow if nothing accepts the flow as ESTABLISHED first. The
//! strict ruleset accepts outbound packets by destination only, so a forbidden flow stops at its
//! next packet; deleting its conntrack entry as well makes the cut visible at once to both ends
//! and leaves no state behind. This module decides which entries to delete; the entries come
//! through the [`crate::exec::Tools`] seam: over netlink in fw-cli ([`crate::ctnetlink`]), from
//! `conntrack -L` output ([`crate::flow::parse_flows`]) otherwise.

use std::net::IpAddr;

use crate::config::Profile;
use crate::flow::{Flow, Tracked};
use crate::plan::Plan;

fn in_nets(a: &IpAddr, v4: &[ipnet::Ipv4Net], v6: &[ipnet::Ipv6Net]) -> bool {
    match a {
        IpAddr::V4(a) => v4.iter().any(|n| n.contains(a)),
        IpAddr::V6(a) => v6.iter().any(|n| n.contains(a)),
    }
}

/// Whether the policy of `plan` allows this flow to go on: both ends local (loopback,
/// the Docker networks: the container's own addresses lie in them too), a destination in the
/// allowlist, or DNS to a configured resolver. A flow between the container and any other
/// address, whichever side opened it, is forbidden.
pub fn allowed(plan: &Plan, flow: &Flow) -> bool {
    let local = |a: &IpAddr| a.is_loopback() || in_nets(a, &plan.local.v4, &plan.local.v6);
    if local(&flow.src) && local(&flow.dst) {
        return true;
    }
    if in_nets(&flow.dst, &plan.allow_v4, &plan.allow_v6) {
        return true;
    }
    if plan.profile == Profile::Compat {
        // The seed's table: DNS and SSH to any address.
        return matches!(flow.dport, Some(53) | Some(22));
    }
    let dns = match flow.dst {
        IpAddr::V4(a) => plan.dns_v4.contains(&a),
        IpAddr::V6(a) => plan.dns_v6.contains(&a),
    };
    dns && flow.dport == Some(53)
}

/// The flows to delete: every flow the plan does not allow.
pub fn forbidden<'a>(plan: &Plan, flows: &'a [Tracked]) -> Vec<&'a Tracked> {
    flows.iter().filter(|t| !allowed(plan, &t.flow)).collect()
}

/// The DNS upstreams Docker's embedded resolver was seen forwarding to: the destinations of
/// tracked DNS flows (port 53, UDP or TCP) that left one of the container's own subnets for a
/// non-loopback address. Engines before 25.0 do not list their upstreams in resolv.conf, and
/// they forward from inside the container's namespace, so after a lookup through 127.0.0.11
/// the connection tracking table is where they show. Sorted, deduplicated.
pub fn dns_upstreams(flows: &[Flow], subnets: &[ipnet::IpNet]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = flows
        .iter()
        .filter(|f| matches!(f.proto.as_str(), "udp" | "tcp"))
        .filter(|f| f.dport == Some(53))
        .filter(|f| !f.dst.is_loopback() && !f.dst.is_unspecified())
        .filter(|f| subnets.iter().any(|n| n.contains(&f.src)))
        .map(|f| f.dst)
        .collect();
    out.sort();
    out.dedup();
    out
}
