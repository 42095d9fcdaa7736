//! Cutting flows the new policy forbids (SEQ-09), keeping the container's own (SEQ-08).
//!
//! Rules only see new packets of a flow if nothing accepts the flow as ESTABLISHED first. The
//! strict ruleset accepts outbound packets by destination only, so a forbidden flow stops at its
//! next packet; deleting its conntrack entry as well makes the cut visible at once to both ends
//! and leaves no state behind. This module decides which entries to delete; the entries come
//! through the [`crate::exec::Tools`] seam: over netlink in fw-cli ([`crate::ctnetlink`]), from
//! `conntrack -L` output ([`parse_flows`]) otherwise.

use std::net::IpAddr;

use serde::Serialize;

use crate::config::Profile;
use crate::plan::Plan;

/// A tracked flow and, when it was listed over netlink, what deletes exactly it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub flow: Flow,
    /// `None`: listed by the `conntrack` tool, deleted by it (`conntrack -D` with
    /// [`Flow::delete_args`]).
    pub key: Option<crate::ctnetlink::FlowKey>,
}

/// One tracked flow, by its original direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub proto: String,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl Flow {
    /// The `conntrack -D` arguments that delete exactly this flow.
    pub fn delete_args(&self) -> Vec<String> {
        let mut a = vec![
            "-D".to_owned(),
            "-p".to_owned(),
            self.proto.clone(),
            "-s".to_owned(),
            self.src.to_string(),
            "-d".to_owned(),
            self.dst.to_string(),
        ];
        if let Some(p) = self.sport {
            a.extend(["--sport".to_owned(), p.to_string()]);
        }
        if let Some(p) = self.dport {
            a.extend(["--dport".to_owned(), p.to_string()]);
        }
        a
    }
}

/// Parses `conntrack -L` output (one flow a line; the first `src=`/`dst=`/`sport=`/`dport=`
/// fields are the original direction). Lines that are not flows are skipped.
pub fn parse_flows(text: &str) -> Vec<Flow> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        // "ipv4 2 tcp 6 ..." (conntrack -o extended) or "tcp 6 ...".
        let Some(mut proto) = fields.next() else {
            continue;
        };
        if proto == "ipv4" || proto == "ipv6" {
            let _ = fields.next();
            match fields.next() {
                Some(p) => proto = p,
                None => continue,
            }
        }
        let (mut src, mut dst, mut sport, mut dport) = (None, None, None, None);
        for f in fields {
            let Some((k, v)) = f.split_once('=') else {
                continue;
            };
            match k {
                "src" if src.is_none() => src = v.parse().ok(),
                "dst" if dst.is_none() => dst = v.parse().ok(),
                "sport" if sport.is_none() => sport = v.parse().ok(),
                "dport" if dport.is_none() => dport = v.parse().ok(),
                _ => {}
            }
        }
        if let (Some(src), Some(dst)) = (src, dst) {
            out.push(Flow {
                proto: proto.to_owned(),
                src,
                dst,
                sport,
                dport,
            });
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::sample::{base_config, sample_inputs};

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
}
