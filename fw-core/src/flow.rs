//! A tracked flow of the conntrack table: what it is (its original direction), what deletes
//! exactly it again, and the reader of the `conntrack -L` listing. The data both the policy
//! ([`crate::conntrack`]) and the netlink codec ([`crate::ctnetlink`]) work on, and that the
//! [`crate::exec::Tools`] seam lists and deletes.

use std::net::IpAddr;

use serde::Serialize;

/// A tracked flow and, when it was listed over netlink, what deletes exactly it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub flow: Flow,
    /// `None`: listed by the `conntrack` tool, deleted by it (`conntrack -D` with
    /// [`Flow::delete_args`]).
    pub key: Option<FlowKey>,
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

/// What the kernel needs to delete exactly one flow again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowKey {
    /// The flow's address family (`AF_INET`, `AF_INET6`).
    pub family: u8,
    /// The `CTA_TUPLE_ORIG` attribute as the kernel sent it, header included.
    pub tuple: Vec<u8>,
    /// The flow's id (`CTA_ID`, big-endian as sent).
    pub id: Option<[u8; 4]>,
    /// The flow's zone (`CTA_ZONE`, big-endian as sent), when not the default.
    pub zone: Option<[u8; 2]>,
}
