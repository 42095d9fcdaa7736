//! The container's inbound listeners: what a connection or a datagram from the world reaches
//! when the container's firewall lets it in.

use anyhow::{Context, Result};
use fw_testkit::plan::{CONTAINER_A, CONTAINER_B, INBOUND_TCP_PORTS, INBOUND_UDP_PORTS};

use crate::world::mocks::hosts::{Hosts, HostsOptions, start_hosts};
use crate::world::mocks::raw::{RawObserver, start_raw_observer};
use crate::world::netns::Netns;

/// The container's inbound listeners (POL-04, BYP-05): TCP and UDP hosts on its own addresses
/// (never the wildcard, which an implementation may want), and a raw observer for echo
/// requests.
#[derive(Debug)]
pub struct Inbound {
    pub hosts: Hosts,
    pub raw: RawObserver,
}

impl Inbound {
    /// Whether a datagram with this payload reached the container.
    pub fn udp_arrived(&self, payload: &[u8]) -> bool {
        self.hosts.udp_arrivals().iter().any(|a| a.bytes == payload)
    }
}

/// Starts the container's inbound listeners.
pub fn start_inbound(container: &Netns) -> Result<Inbound> {
    let hosts = start_hosts(
        container,
        HostsOptions {
            tcp_ports: INBOUND_TCP_PORTS.to_vec(),
            udp_ports: INBOUND_UDP_PORTS.to_vec(),
            dual_stack: false,
            addrs: vec![CONTAINER_A.into(), CONTAINER_B.into()],
        },
    )
    .context("starting the container's inbound listeners")?;
    let raw = start_raw_observer(container, false).context("starting the container's observer")?;
    Ok(Inbound { hosts, raw })
}
