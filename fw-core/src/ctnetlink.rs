//! The conntrack table over netlink (ctnetlink), as bytes: the dump request, the flows in the
//! kernel's replies, the delete of one flow and its acknowledgement.
//!
//! Why not the `conntrack` tool: every `conntrack -L` and `-D` is a process start plus a walk
//! of the kernel's whole conntrack table (one table for every namespace of the machine), and
//! cutting the flows a new policy forbids (SEQ-09) took two listings and one deletion per flow:
//! 17 to 30 ms of `fw-cli init` (docs/benchmarks.md). Over netlink it is one dump of both
//! families and one exact-tuple delete per flow, a hash lookup in the kernel, in the same
//! process; and the `conntrack` package is no longer needed.
//!
//! This module is pure: fw-cli owns the socket. A delete sends back the original-direction
//! tuple exactly as the kernel gave it, with the flow's id, so the kernel deletes that flow
//! and no other (a new flow that reused the tuple has another id: the kernel answers ENOENT).
//! A delete request always carries a tuple: ctnetlink treats a delete without one as a flush
//! of the whole table.
//!
//! Layout (linux/netlink.h, linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h): each message
//! is a 16-byte `nlmsghdr` (length, type, flags, sequence, port id; host byte order), a
//! 4-byte `nfgenmsg` (address family, version, resource id), then attributes: a 4-byte header
//! (length, type) and the payload, padded to 4 bytes. Ports and ids are big-endian.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::{Flow, FlowKey};

const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLA_HDRLEN: usize = 4;
/// The nested and byte-order flags of an attribute's type.
const NLA_TYPE_MASK: u16 = 0x3fff;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// A message of the kernel's replies that this client cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// One tracked flow of the dump.
    Flow(Flow, FlowKey),
    /// The end of a dump.
    Done,
    /// An acknowledgement (`error` 0) or an error (a negative errno) for request `seq`.
    Ack { seq: u32, error: i32 },
    /// The kernel dropped messages: the dump is incomplete.
    Overrun,
}

/// Why a datagram could not be read. Each names the offset and what was wrong, so a report
/// of a kernel we do not understand is actionable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CtnetlinkError {
    #[error("netlink message at byte {offset}: {what}")]
    Message { offset: usize, what: &'static str },
    #[error("conntrack flow at byte {offset}: {what}")]
    Flow { offset: usize, what: &'static str },
}

fn push_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

fn push_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The netlink header (`nlmsghdr`) of a message of `len` bytes in all, port id 0.
fn header(buf: &mut Vec<u8>, len: usize, kind: u16, flags: u16, seq: u32) {
    push_u32(buf, u32::try_from(len).unwrap_or(u32::MAX));
    push_u16(buf, kind);
    push_u16(buf, flags);
    push_u32(buf, seq);
    push_u32(buf, 0);
}

/// A message: header, `nfgenmsg`, then `body` (attributes, already padded).
fn message(kind: u16, flags: u16, seq: u32, family: u8, body: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + NFGENMSG_LEN + body.len();
    let mut buf = Vec::with_capacity(len);
    header(
        &mut buf,
        len,
        (NFNL_SUBSYS_CTNETLINK << 8) | kind,
        flags,
        seq,
    );
    // nfgenmsg: family, NFNETLINK_V0, resource id 0 (big-endian).
    buf.extend_from_slice(&[family, 0, 0, 0]);
    buf.extend_from_slice(body);
    buf
}

/// An attribute with its payload, padded to 4 bytes.
fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = NLA_HDRLEN + payload.len();
    push_u16(buf, u16::try_from(len).unwrap_or(u16::MAX));
    push_u16(buf, kind);
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

/// The request for a dump of every tracked flow of the socket's namespace, both families
/// (`AF_UNSPEC`).
pub fn dump_request(seq: u32) -> Vec<u8> {
    message(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, 0, &[])
}

/// The request deleting the flow `key` names, acknowledged either way.
pub fn delete_request(seq: u32, key: &FlowKey) -> Vec<u8> {
    let mut body = Vec::with_capacity(align4(key.tuple.len()) + 16);
    body.extend_from_slice(&key.tuple);
    body.resize(align4(body.len()), 0);
    if let Some(zone) = key.zone {
        attr(&mut body, CTA_ZONE, &zone);
    }
    if let Some(id) = key.id {
        attr(&mut body, CTA_ID, &id);
    }
    message(
        IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        key.family,
        &body,
    )
}

/// The attributes of `buf`: (type without flags, payload, the whole attribute's bytes).
fn attrs(buf: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8], &[u8]), usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + NLA_HDRLEN > buf.len() {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([buf[at], buf[at + 1]]));
        let kind = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || at + len > buf.len() {
            let bad = at;
            at = buf.len();
            return Some(Err(bad));
        }
        let item = (kind, &buf[at + NLA_HDRLEN..at + len], &buf[at..at + len]);
        at += align4(len);
        Some(Ok(item))
    })
}

/// An attribute found: its payload and its whole bytes (header included).
type Found<'a> = Option<(&'a [u8], &'a [u8])>;

/// The first attribute of type `want` in `buf`; `Err(offset)` where an attribute overruns.
fn find(buf: &[u8], want: u16) -> Result<Found<'_>, usize> {
    for a in attrs(buf) {
        let (kind, payload, whole) = a?;
        if kind == want {
            return Ok(Some((payload, whole)));
        }
    }
    Ok(None)
}

/// An address of the flow's family: 4 bytes for IPv4, 16 for IPv6, nothing else.
fn addr(payload: &[u8], v6: bool) -> Option<IpAddr> {
    if v6 {
        <[u8; 16]>::try_from(payload)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
    } else {
        <[u8; 4]>::try_from(payload)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
    }
}

fn port(payload: Option<(&[u8], &[u8])>) -> Option<u16> {
    payload.and_then(|(p, _)| <[u8; 2]>::try_from(p).ok().map(u16::from_be_bytes))
}

/// The protocol's name as `conntrack -L` prints it.
fn proto_name(num: u8) -> String {
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == num)
        .map_or("unknown", |(_, name)| name)
        .to_owned()
}

/// The protocols `conntrack -L` names, by number.
const PROTOCOLS: [(u8, &str); 8] = [
    (1, "icmp"),
    (6, "tcp"),
    (17, "udp"),
    (33, "dccp"),
    (47, "gre"),
    (58, "icmpv6"),
    (132, "sctp"),
    (136, "udplite"),
];

/// One `IPCTNL_MSG_CT_NEW` message's payload (after the header): the flow and its key.
fn parse_flow(payload: &[u8], offset: usize) -> Result<(Flow, FlowKey), CtnetlinkError> {
    let bad = |what| CtnetlinkError::Flow { offset, what };
    let family = *payload.first().ok_or(bad("no nfgenmsg header"))?;
    let body = payload
        .get(NFGENMSG_LEN..)
        .ok_or(bad("no nfgenmsg header"))?;
    let malformed = |_| bad("an attribute overruns the message");
    let (tuple, tuple_bytes) = find(body, CTA_TUPLE_ORIG)
        .map_err(malformed)?
        .ok_or(bad("no original-direction tuple"))?;
    let (ip, _) = find(tuple, CTA_TUPLE_IP)
        .map_err(malformed)?
        .ok_or(bad("no addresses in the tuple"))?;
    let v6 = match family {
        AF_INET => false,
        AF_INET6 => true,
        _ => return Err(bad("an address family other than IPv4 and IPv6")),
    };
    let (src_attr, dst_attr) = if v6 {
        (CTA_IP_V6_SRC, CTA_IP_V6_DST)
    } else {
        (CTA_IP_V4_SRC, CTA_IP_V4_DST)
    };
    let get_addr = |kind| -> Result<IpAddr, CtnetlinkError> {
        let (p, _) = find(ip, kind)
            .map_err(malformed)?
            .ok_or(bad("an address is missing from the tuple"))?;
        addr(p, v6).ok_or(bad("an address has the wrong length for its family"))
    };
    let (src, dst) = (get_addr(src_attr)?, get_addr(dst_attr)?);
    let (proto, _) = find(tuple, CTA_TUPLE_PROTO)
        .map_err(malformed)?
        .ok_or(bad("no protocol in the tuple"))?;
    let num = find(proto, CTA_PROTO_NUM)
        .map_err(malformed)?
        .and_then(|(p, _)| p.first().copied())
        .ok_or(bad("no protocol number in the tuple"))?;
    let (sport, dport) = if matches!(num, 6 | 17 | 33 | 132 | 136) {
        (
            port(find(proto, CTA_PROTO_SRC_PORT).map_err(malformed)?),
            port(find(proto, CTA_PROTO_DST_PORT).map_err(malformed)?),
        )
    } else {
        (None, None)
    };
    let id = find(body, CTA_ID)
        .map_err(malformed)?
        .and_then(|(p, _)| <[u8; 4]>::try_from(p).ok());
    let zone = find(body, CTA_ZONE)
        .map_err(malformed)?
        .and_then(|(p, _)| <[u8; 2]>::try_from(p).ok());
    let flow = Flow {
        proto: proto_name(num),
        src,
        dst,
        sport,
        dport,
    };
    let key = FlowKey {
        family,
        tuple: tuple_bytes.to_vec(),
        id,
        zone,
    };
    Ok((flow, key))
}

/// The messages of one datagram the kernel sent on a ctnetlink socket.
pub fn parse_datagram(buf: &[u8]) -> Result<Vec<Reply>, CtnetlinkError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let bad = |what| CtnetlinkError::Message { offset: at, what };
        let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let len = usize::try_from(word(at)).map_err(|_| bad("its length does not fit"))?;
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        let seq = word(at + 8);
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(bad("its length overruns the datagram"));
        }
        let payload = &buf[at + NLMSG_HDRLEN..at + len];
        match kind {
            NLMSG_NOOP => {}
            NLMSG_DONE => out.push(Reply::Done),
            NLMSG_OVERRUN => out.push(Reply::Overrun),
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(i32::from_ne_bytes)
                    .ok_or(bad("an error message without its code"))?;
                out.push(Reply::Ack { seq, error: code });
            }
            k if k == (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW => {
                let (flow, key) = parse_flow(payload, at)?;
                out.push(Reply::Flow(flow, key));
            }
            // Anything else (another subsystem's message) is not ours to read.
            _ => {}
        }
        at += align4(len);
    }
    if at < buf.len() {
        return Err(CtnetlinkError::Message {
            offset: at,
            what: "a truncated header at the end of the datagram",
        });
    }
    Ok(out)
}

/// Test and fuzzing support: the datagram the kernel would send for these flows.
pub mod encode {
    use super::*;

    /// A `IPCTNL_MSG_CT_NEW` message as the kernel dumps it (nested attributes flagged).
    pub fn flow_message(seq: u32, flow: &Flow, id: u32, zone: Option<u16>) -> Vec<u8> {
        const NESTED: u16 = 0x8000;
        let num: u8 = PROTOCOLS
            .iter()
            .find(|(_, name)| *name == flow.proto)
            .map_or(255, |(n, _)| *n);
        let (family, src_attr, dst_attr, src, dst) = match (flow.src, flow.dst) {
            (IpAddr::V6(s), IpAddr::V6(d)) => (
                AF_INET6,
                CTA_IP_V6_SRC,
                CTA_IP_V6_DST,
                s.octets().to_vec(),
                d.octets().to_vec(),
            ),
            (s, d) => {
                let v4 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets()[12..].to_vec(),
                };
                (AF_INET, CTA_IP_V4_SRC, CTA_IP_V4_DST, v4(s), v4(d))
            }
        };
        let mut ip = Vec::new();
        attr(&mut ip, src_attr, &src);
        attr(&mut ip, dst_attr, &dst);
        let mut proto = Vec::new();
        attr(&mut proto, CTA_PROTO_NUM, &[num]);
        if let Some(p) = flow.sport {
            attr(&mut proto, CTA_PROTO_SRC_PORT, &p.to_be_bytes());
        }
        if let Some(p) = flow.dport {
            attr(&mut proto, CTA_PROTO_DST_PORT, &p.to_be_bytes());
        }
        let mut tuple = Vec::new();
        attr(&mut tuple, CTA_TUPLE_IP | NESTED, &ip);
        attr(&mut tuple, CTA_TUPLE_PROTO | NESTED, &proto);
        let mut body = Vec::new();
        attr(&mut body, CTA_TUPLE_ORIG | NESTED, &tuple);
        if let Some(z) = zone {
            attr(&mut body, CTA_ZONE, &z.to_be_bytes());
        }
        attr(&mut body, CTA_ID, &id.to_be_bytes());
        message(IPCTNL_MSG_CT_NEW, 0x2, seq, family, &body)
    }

    /// `NLMSG_DONE`.
    pub fn done(seq: u32) -> Vec<u8> {
        let mut buf = Vec::new();
        // The payload: an int, 0.
        header(&mut buf, NLMSG_HDRLEN + 4, NLMSG_DONE, 0x2, seq);
        push_u32(&mut buf, 0);
        buf
    }

    /// `NLMSG_ERROR` with `error` (0: an acknowledgement).
    pub fn ack(seq: u32, error: i32) -> Vec<u8> {
        let mut buf = Vec::new();
        // The payload: the error, then the header of the request it answers (zeroed here).
        header(
            &mut buf,
            NLMSG_HDRLEN + 4 + NLMSG_HDRLEN,
            NLMSG_ERROR,
            0,
            seq,
        );
        buf.extend_from_slice(&error.to_ne_bytes());
        buf.extend_from_slice(&[0; NLMSG_HDRLEN]);
        buf
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::encode::{ack, done, flow_message};
    use super::*;

    fn flow(proto: &str, src: &str, dst: &str, ports: Option<(u16, u16)>) -> Flow {
        Flow {
            proto: proto.to_owned(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
        }
    }

    #[test]
    fn a_dump_reads_back_flows_of_both_families_and_the_end() {
        let a = flow("tcp", "172.18.0.2", "198.51.100.10", Some((40000, 8080)));
        let b = flow("udp", "fd00:18::2", "2001:db8::53", Some((41000, 53)));
        let c = flow("icmp", "172.18.0.2", "198.51.100.10", None);
        let mut dgram = flow_message(7, &a, 0x0102_0304, None);
        dgram.extend(flow_message(7, &b, 5, Some(3)));
        dgram.extend(flow_message(7, &c, 6, None));
        dgram.extend(done(7));
        let replies = parse_datagram(&dgram).unwrap();
        assert_eq!(replies.len(), 4);
        let Reply::Flow(fa, ka) = &replies[0] else {
            panic!("{replies:?}")
        };
        assert_eq!(fa, &a);
        assert_eq!(ka.family, AF_INET);
        assert_eq!(ka.id, Some([1, 2, 3, 4]));
        assert_eq!(ka.zone, None);
        let Reply::Flow(fb, kb) = &replies[1] else {
            panic!("{replies:?}")
        };
        assert_eq!(fb, &b);
        assert_eq!((kb.family, kb.zone), (AF_INET6, Some([0, 3])));
        assert!(matches!(&replies[2], Reply::Flow(f, _) if f == &c));
        assert_eq!(replies[3], Reply::Done);
    }

    #[test]
    fn a_delete_sends_back_the_tuple_the_id_and_the_zone() {
        let a = flow("tcp", "172.18.0.2", "198.51.100.10", Some((40000, 8080)));
        let dgram = flow_message(1, &a, 77, Some(9));
        let Reply::Flow(_, key) = parse_datagram(&dgram).unwrap().remove(0) else {
            panic!()
        };
        let req = delete_request(42, &key);
        // Header: length, CTNETLINK << 8 | DELETE, REQUEST | ACK, sequence.
        assert_eq!(
            u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize,
            req.len()
        );
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), (1 << 8) | 2);
        assert_eq!(u16::from_ne_bytes([req[6], req[7]]), 0x1 | 0x4);
        assert_eq!(u32::from_ne_bytes(req[8..12].try_into().unwrap()), 42);
        assert_eq!(req[16], AF_INET);
        let body = &req[20..];
        assert_eq!(&body[..key.tuple.len()], key.tuple.as_slice());
        assert_eq!(find(body, CTA_ID).unwrap().unwrap().0, 77u32.to_be_bytes());
        assert_eq!(find(body, CTA_ZONE).unwrap().unwrap().0, 9u16.to_be_bytes());
        assert!(find(body, CTA_TUPLE_ORIG).unwrap().is_some());
    }

    #[test]
    fn the_dump_request_asks_for_every_family() {
        let req = dump_request(3);
        assert_eq!(req.len(), 20);
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), 1 << 8 | 1);
        assert_eq!(u16::from_ne_bytes([req[6], req[7]]), 0x1 | 0x300);
        assert_eq!(req[16], 0, "AF_UNSPEC: both families");
    }

    #[test]
    fn acks_and_errors_carry_their_sequence() {
        let mut dgram = ack(5, 0);
        dgram.extend(ack(6, -2));
        assert_eq!(
            parse_datagram(&dgram).unwrap(),
            [
                Reply::Ack { seq: 5, error: 0 },
                Reply::Ack { seq: 6, error: -2 }
            ]
        );
    }

    #[test]
    fn malformed_datagrams_are_errors_that_say_where() {
        let a = flow("tcp", "172.18.0.2", "198.51.100.10", Some((1, 2)));
        let good = flow_message(1, &a, 1, None);
        // A message length beyond the datagram.
        let mut long = good.clone();
        long[0..4].copy_from_slice(&(good.len() as u32 + 8).to_ne_bytes());
        assert_eq!(
            parse_datagram(&long).unwrap_err().to_string(),
            "netlink message at byte 0: its length overruns the datagram"
        );
        // An attribute beyond its message: the first attribute (the tuple) claims 200 bytes.
        let mut attr_long = good.clone();
        attr_long[20..22].copy_from_slice(&200u16.to_ne_bytes());
        assert!(
            parse_datagram(&attr_long)
                .unwrap_err()
                .to_string()
                .contains("overruns the message")
        );
        // A flow without a tuple.
        let mut no_tuple = message(IPCTNL_MSG_CT_NEW, 0, 1, AF_INET, &[]);
        attr(&mut no_tuple, CTA_ID, &[0, 0, 0, 1]);
        let len = no_tuple.len() as u32;
        no_tuple[0..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(
            parse_datagram(&no_tuple).unwrap_err().to_string(),
            "conntrack flow at byte 0: no original-direction tuple"
        );
    }

    #[test]
    fn an_address_of_the_other_family_is_refused() {
        // Found by the fuzzer: an IPv4 message whose source attribute held 16 bytes was read
        // as an IPv6 source with an IPv4 destination.
        let a = flow("udp", "172.18.0.2", "198.51.100.2", Some((1, 53)));
        let mut ip = Vec::new();
        attr(&mut ip, CTA_IP_V4_SRC, &[0xfd; 16]);
        attr(&mut ip, CTA_IP_V4_DST, &[198, 51, 100, 2]);
        let mut proto = Vec::new();
        attr(&mut proto, CTA_PROTO_NUM, &[17]);
        let mut tuple = Vec::new();
        attr(&mut tuple, CTA_TUPLE_IP, &ip);
        attr(&mut tuple, CTA_TUPLE_PROTO, &proto);
        let mut body = Vec::new();
        attr(&mut body, CTA_TUPLE_ORIG, &tuple);
        let msg = message(IPCTNL_MSG_CT_NEW, 0, 1, AF_INET, &body);
        assert_eq!(
            parse_datagram(&msg).unwrap_err().to_string(),
            "conntrack flow at byte 0: an address has the wrong length for its family"
        );
        // And a family conntrack does not track.
        let mut other = flow_message(1, &a, 1, None);
        other[16] = 7;
        assert!(
            parse_datagram(&other)
                .unwrap_err()
                .to_string()
                .contains("other than IPv4 and IPv6")
        );
    }

    proptest! {
        /// Whatever the kernel (or a fuzzer) sends, reading it never panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_datagram(&bytes);
        }

        /// Truncating a valid dump anywhere gives an error or fewer messages, never a panic
        /// or a made-up flow.
        #[test]
        fn truncations_lose_messages_but_invent_none(cut in 0usize..200) {
            let a = flow("udp", "172.18.0.2", "198.51.100.2", Some((41000, 53)));
            let mut dgram = flow_message(1, &a, 1, None);
            dgram.extend(done(1));
            let cut = cut.min(dgram.len());
            if let Ok(replies) = parse_datagram(&dgram[..cut]) {
                for r in replies {
                    if let Reply::Flow(f, _) = r {
                        prop_assert_eq!(f, a.clone());
                    }
                }
            }
        }
    }
}
