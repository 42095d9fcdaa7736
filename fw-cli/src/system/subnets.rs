//! The container's connected subnets, from netlink (ALW-07).
//!
//! Every address on a non-loopback interface names a network the container is attached to (a
//! Docker network, its gateway and its peers), which the firewall must never cut off. They are
//! returned as the kernel reports them, host bits and IPv6 link-local included: the plan
//! truncates and filters, so that what was seen and what was decided stay apart.

use std::collections::HashMap;
use std::net::IpAddr;

use futures::TryStreamExt;
use fw_core::inputs::Subnet;
use fw_core::validate::{CidrError, parse_cidr};
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags};

/// The longest interface name Linux accepts (`IFNAMSIZ` 16, less the NUL).
pub const MAX_IFNAME_LEN: usize = 15;

/// Why the connected subnets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SubnetError {
    #[error("cannot open a netlink route socket")]
    Connect(#[source] std::io::Error),
    #[error("netlink link dump (RTM_GETLINK) failed")]
    ListLinks(#[source] rtnetlink::Error),
    #[error("netlink address dump (RTM_GETADDR) failed")]
    ListAddresses(#[source] rtnetlink::Error),
    #[error("interface {interface}: address {addr} has an impossible prefix length /{prefix}")]
    BadPrefix {
        interface: String,
        addr: IpAddr,
        prefix: u8,
    },
}

/// Lists the addresses of every non-loopback interface, each with its prefix, as
/// `interface + address/prefix` (host bits kept), sorted and deduplicated.
///
/// Runs in the network namespace of the calling thread: the netlink socket is opened here,
/// synchronously, before anything is awaited, and a socket stays in the namespace it was created
/// in whichever thread later drives it. Loopback is recognised by its `IFF_LOOPBACK` flag, not by
/// its name (a renamed `lo` is still loopback; an interface called `lo9` is not).
///
/// Addresses on interfaces that are down are returned too: the subnet is still the container's.
pub async fn connected_subnets() -> Result<Vec<Subnet>, SubnetError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(SubnetError::Connect)?;
    let conn_task = tokio::spawn(connection);
    let result = dump(&handle).await;
    // The connection task would end once every handle is gone; ending it now keeps no task or
    // socket behind on the caller's runtime.
    drop(handle);
    conn_task.abort();
    result
}

async fn dump(handle: &rtnetlink::Handle) -> Result<Vec<Subnet>, SubnetError> {
    // index -> (name, is loopback)
    let mut links: HashMap<u32, (String, bool)> = HashMap::new();
    let mut stream = handle.link().get().execute();
    while let Some(msg) = stream.try_next().await.map_err(SubnetError::ListLinks)? {
        let name = msg.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        });
        let loopback = msg.header.flags.contains(LinkFlags::Loopback);
        links.insert(
            msg.header.index,
            (
                name.unwrap_or_else(|| format!("if{}", msg.header.index)),
                loopback,
            ),
        );
    }

    let mut subnets = Vec::new();
    let mut stream = handle.address().get().execute();
    while let Some(msg) = stream
        .try_next()
        .await
        .map_err(SubnetError::ListAddresses)?
    {
        let Some((name, loopback)) = links.get(&msg.header.index) else {
            // The interface appeared after the link dump; the next run will see it.
            tracing::debug!(
                index = msg.header.index,
                "address on an unknown link skipped"
            );
            continue;
        };
        if *loopback {
            continue;
        }
        let Some(addr) = local_address(&msg) else {
            continue;
        };
        let net = IpNet::new(addr, msg.header.prefix_len).map_err(|_| SubnetError::BadPrefix {
            interface: name.clone(),
            addr,
            prefix: msg.header.prefix_len,
        })?;
        subnets.push(Subnet {
            interface: name.clone(),
            net,
        });
    }
    subnets.sort();
    subnets.dedup();
    Ok(subnets)
}

/// The interface's own address in an address message. On a point-to-point IPv4 link
/// `IFA_ADDRESS` is the peer and `IFA_LOCAL` ours; elsewhere they are equal, and IPv6 sends only
/// `IFA_ADDRESS`. So: `IFA_LOCAL` when present, as iproute2 does.
fn local_address(msg: &AddressMessage) -> Option<IpAddr> {
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

/// Why a `--subnets` value is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetsArgError {
    #[error("empty --subnets value")]
    Empty,
    #[error("--subnets entry {0:?} is not INTERFACE=CIDR")]
    NotAPair(String),
    #[error(
        "--subnets entry {entry:?}: interface name {name:?} is not a Linux interface name \
         (1 to {MAX_IFNAME_LEN} of letters, digits, '-', '_', '.' and '@'; not '.' or '..')"
    )]
    BadInterface { entry: String, name: String },
    #[error("--subnets entry {entry:?}: {source}")]
    BadCidr {
        entry: String,
        #[source]
        source: CidrError,
    },
}

/// Parses the offline `--subnets eth0=172.18.0.2/16,eth1=172.19.0.2/16` flag, for `plan` on a
/// machine that is not the container.
///
/// Each CIDR is validated by [`parse_cidr`] (syntax, prefix range, no /0); the address is kept
/// with its host bits, as netlink reports it, so that both sources give the same shape. A bare
/// address is taken as /32 or /128. Whitespace around entries is ignored; an empty entry (a
/// doubled or trailing comma) is refused rather than guessed at.
pub fn parse_subnets_arg(s: &str) -> Result<Vec<Subnet>, SubnetsArgError> {
    if s.trim().is_empty() {
        return Err(SubnetsArgError::Empty);
    }
    s.split(',')
        .map(|entry| {
            let entry = entry.trim();
            let Some((name, cidr)) = entry.split_once('=') else {
                return Err(SubnetsArgError::NotAPair(entry.to_owned()));
            };
            let (name, cidr) = (name.trim(), cidr.trim());
            if !valid_ifname(name) {
                return Err(SubnetsArgError::BadInterface {
                    entry: entry.to_owned(),
                    name: name.to_owned(),
                });
            }
            let bad = |source| SubnetsArgError::BadCidr {
                entry: entry.to_owned(),
                source,
            };
            let checked = parse_cidr(cidr).map_err(bad)?;
            // parse_cidr has accepted the text, so its address part parses; keep its host bits.
            let addr: IpAddr = cidr
                .split('/')
                .next()
                .unwrap_or(cidr)
                .parse()
                .map_err(|_| bad(CidrError::Syntax))?;
            let net = IpNet::new(addr, checked.prefix_len()).map_err(|_| bad(CidrError::Syntax))?;
            Ok(Subnet {
                interface: name.to_owned(),
                net,
            })
        })
        .collect()
}

/// A subset of what the kernel's `dev_valid_name` accepts: the characters real interface names
/// use (`eth0`, `br-1a2b`, `veth1@if7`), so that a name from the command line can be printed in a
/// warning or a rule comment without quoting.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IFNAME_LEN
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sub(i: &str, n: &str) -> Subnet {
        Subnet {
            interface: i.to_owned(),
            net: n.parse().unwrap(),
        }
    }

    #[test]
    fn parses_the_flag_keeping_host_bits() {
        assert_eq!(
            parse_subnets_arg("eth0=172.18.0.2/16, eth1 = 172.19.0.2/16,eth2=fd00:18::2/64")
                .unwrap(),
            [
                sub("eth0", "172.18.0.2/16"),
                sub("eth1", "172.19.0.2/16"),
                sub("eth2", "fd00:18::2/64"),
            ]
        );
        assert_eq!(
            parse_subnets_arg("eth0=192.0.2.7").unwrap(),
            [sub("eth0", "192.0.2.7/32")]
        );
    }

    #[test]
    fn refuses_bad_entries() {
        use SubnetsArgError as E;
        assert_eq!(parse_subnets_arg(" "), Err(E::Empty));
        assert_eq!(
            parse_subnets_arg("172.18.0.2/16"),
            Err(E::NotAPair("172.18.0.2/16".into()))
        );
        assert_eq!(
            parse_subnets_arg("eth0=172.18.0.2/16,"),
            Err(E::NotAPair(String::new()))
        );
        assert!(matches!(
            parse_subnets_arg("=172.18.0.2/16"),
            Err(E::BadInterface { .. })
        ));
        assert!(matches!(
            parse_subnets_arg("averyveryverylongname=172.18.0.2/16"),
            Err(E::BadInterface { .. })
        ));
        assert!(matches!(
            parse_subnets_arg("eth0;rm=172.18.0.2/16"),
            Err(E::BadInterface { .. })
        ));
        assert_eq!(
            parse_subnets_arg("br-1a2b3c4d5e6f=172.20.0.1/16").unwrap(),
            [sub("br-1a2b3c4d5e6f", "172.20.0.1/16")]
        );
        assert!(matches!(
            parse_subnets_arg("a/b=172.18.0.2/16"),
            Err(E::BadInterface { .. })
        ));
        assert_eq!(
            parse_subnets_arg("eth0=0.0.0.0/0"),
            Err(E::BadCidr {
                entry: "eth0=0.0.0.0/0".into(),
                source: CidrError::AllAddresses
            })
        );
        assert!(matches!(
            parse_subnets_arg("eth0=172.18.0.2/33"),
            Err(E::BadCidr {
                source: CidrError::PrefixRange { .. },
                ..
            })
        ));
        assert!(matches!(
            parse_subnets_arg("eth0=not-an-ip"),
            Err(E::BadCidr {
                source: CidrError::Syntax,
                ..
            })
        ));
    }

    #[test]
    fn error_messages_name_the_entry() {
        let e = parse_subnets_arg("eth0=1.2.3.4/40").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--subnets entry \"eth0=1.2.3.4/40\": prefix length /40 is out of range for IPv4 (0 to 32)"
        );
    }
}
