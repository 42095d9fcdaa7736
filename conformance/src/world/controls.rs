//! Positive controls: what the sandbox proves works before the implementation runs, so that a
//! check that later sees something not work can blame the implementation and nothing else.
//!
//! - [`prove_forwarding`] (POL-03): with forwarding on in the container and nothing filtering
//!   yet, a sidecar routing a world host through the container gets through. Reverse-path
//!   filtering is pinned off first in every namespace on that path: in the netns tier the
//!   world's replies reach the sidecar through the host directly, so the host sees the
//!   forwarded SYN arrive from net A with a source on net B, which a strict `rp_filter`
//!   (inherited from the machine's defaults by a new namespace) would drop, and "nothing got
//!   through" would then prove nothing about the implementation's FORWARD rules. In the Docker
//!   tier the sidecar reaches the container over a Docker bridge in the machine's namespace,
//!   where Docker's own rules for internal networks (bridged traffic goes through the machine's
//!   FORWARD chain) drop what is addressed outside the network: the control fails there (seen
//!   with Docker 20.10), and POL-03 is reported as not observable instead of passing.
//! - [`loopback_v6_present`] (ALW-03): whether the container has IPv6 loopback at all.
//! - [`open_long_lived`] (SEQ-08, SEQ-09): the connections opened before the run, each proven
//!   to carry an echo ([`echo_fails`]) before it.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use fw_testkit::plan::{BLOCKED, CONTAINER_B, FORWARD_PORT, FORWARD_TARGET, PEER_PORT, SVC, sa};

use crate::world::netns::Netns;
use crate::world::probe;
use crate::world::record::LongLived;
use crate::world::topology::Topology;

/// Sets `rp_filter` to 0 (no reverse-path filtering) for `all`, `default` and every interface
/// that exists, inside `ns` only; namespaces that are not the sandbox's own (the machine's, in
/// the Docker tier) are left alone. The effective value of an interface is the larger of its
/// own and `all`'s, so every one is written.
pub fn pin_rp_filter_off(ns: &Netns) -> Result<()> {
    if ns.ensure_ours().is_err() {
        return Ok(());
    }
    ns.run(|| -> Result<()> {
        // Read from this thread, which is in the namespace: /proc/sys/net is per namespace.
        let mut names: Vec<String> = std::fs::read_dir("/proc/sys/net/ipv4/conf")
            .context("cannot list /proc/sys/net/ipv4/conf")?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let key = format!("/proc/sys/net/ipv4/conf/{name}/rp_filter");
            std::fs::write(&key, "0").with_context(|| format!("cannot set {key}=0"))?;
        }
        Ok(())
    })?
    .with_context(|| format!("rp_filter in {}", ns.name()))
}

/// `net.ipv4.ip_forward` in `ns`, read from a thread inside it.
fn ip_forward(ns: &Netns) -> Result<String> {
    ns.run(|| std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward"))?
        .context("cannot read net.ipv4.ip_forward")
        .map(|s| s.trim().to_owned())
}

/// One connect from the sidecar to [`FORWARD_TARGET`] with its route through the container
/// (forwarding on in the container): the verdict. Leaves forwarding on and the route in place.
pub fn connect_routed_through_container(topo: &Topology) -> Result<probe::Verdict> {
    topo.container.sysctl("net.ipv4.ip_forward", "1")?;
    topo.svc.ip(&[
        "route",
        "replace",
        &format!("{FORWARD_TARGET}/32"),
        "via",
        &CONTAINER_B.to_string(),
    ])?;
    let target = sa(FORWARD_TARGET, FORWARD_PORT);
    topo.svc
        .block_on(move || async move { probe::tcp_connect(target, Duration::from_secs(1)).await })?
}

/// Whether POL-03 is judged in `scenario`: its own (the default one), and those whose cases
/// judge it again after a re-run, concurrent runs or a recovery (the judge's recheck: SEQ-04,
/// SEQ-10, FAIL-10). The Docker tier makes the forwarding control only there, since it waits
/// out a connect time-out in that tier.
pub fn judges_forwarding(scenario: &crate::world::scenario::Scenario) -> bool {
    use crate::world::scenario::Prior;
    let rechecked =
        matches!(scenario.prior, Prior::Firewalled | Prior::FailedRun) || scenario.concurrent;
    (scenario.expects_plain_success() || rechecked) && !scenario.long_lived && !scenario.probers
}

/// POL-03's positive control, before the implementation runs: reverse-path filtering off on
/// the path, then a sidecar's connection routed through the container must get through. The
/// route and the container's `ip_forward` are put back as they were. `Ok(evidence)`; `Err` when
/// the sandbox cannot forward (a harness fault, never the implementation's).
pub fn prove_forwarding(topo: &Topology) -> Result<String> {
    for ns in [&topo.host, &topo.svc, &topo.world, &topo.container] {
        pin_rp_filter_off(ns)?;
    }
    let before = ip_forward(&topo.container)?;
    let got = connect_routed_through_container(topo);
    topo.svc
        .ip(&["route", "del", &format!("{FORWARD_TARGET}/32")])
        .context("removing the control route")?;
    topo.container.sysctl("net.ipv4.ip_forward", &before)?;
    let v = got?;
    if !v.is_connected() {
        bail!(
            "a sidecar routing {FORWARD_TARGET}:{FORWARD_PORT} through the container does not get \
             through with forwarding on and no firewall yet ({v}): POL-03 could not tell a \
             firewall's block from the sandbox's"
        );
    }
    Ok(format!(
        "before the run, with forwarding on, rp_filter 0 on the path and no firewall, the \
         sidecar's connection to {FORWARD_TARGET}:{FORWARD_PORT} through the container: {v}"
    ))
}

/// Whether the container has IPv6 loopback: a TCP socket binds `[::1]` there. Not having it is
/// `Ok(false)` (EADDRNOTAVAIL: no ::1 on lo; EAFNOSUPPORT: no IPv6 at all).
pub fn loopback_v6_present(ns: &Netns) -> Result<bool> {
    let bound = ns.run(|| std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)))?;
    match bound {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).context("cannot bind [::1]:0 in the container"),
    }
}

/// The connections SEQ-08 and SEQ-09 watch, opened from `container` before the run: to the
/// sidecar's echo listener and to a blocked host's banner-and-echo listener (banner read). Each
/// must carry an echo now (the positive control), so that one that does not after the run was
/// cut by the run; `Err` otherwise (a harness fault: the sandbox fails to build).
pub fn open_long_lived(container: &Netns) -> Result<LongLived> {
    let open =
        |target: SocketAddr| -> Result<TcpStream> {
            Ok(container
                .run(move || TcpStream::connect_timeout(&target, Duration::from_secs(3)))??)
        };
    let mut to_peer = open(sa(SVC, PEER_PORT)).context("opening the connection to the sidecar")?;
    let mut to_blocked =
        open(sa(BLOCKED, 8080)).context("opening the connection to a blocked host")?;
    // The world's test hosts greet with a banner first: read it so later reads see echoes.
    let _ = to_blocked.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 256];
    let _ = to_blocked.read(&mut banner);
    let mut proof = Vec::new();
    for (what, s) in [
        (format!("the sidecar {SVC}:{PEER_PORT}"), &mut to_peer),
        (format!("the blocked host {BLOCKED}:8080"), &mut to_blocked),
    ] {
        if let Some(why) = echo_fails(s, b"fwt-before-the-run\n") {
            bail!("the connection to {what} does not carry data even before the run: {why}");
        }
        proof.push(format!(
            "before the run, the connection to {what} carried an echo"
        ));
    }
    Ok(LongLived {
        to_peer: Some(to_peer),
        to_blocked: Some(to_blocked),
        proof,
    })
}

/// Writes `msg` on `stream` and reads until it comes back: `None` when it did, else why not
/// (each read and write waits at most 2 s).
pub fn echo_fails(stream: &mut TcpStream, msg: &[u8]) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if let Err(e) = stream.write_all(msg) {
        return Some(format!("write failed: {e}"));
    }
    let mut buf = [0u8; 256];
    let mut got = Vec::new();
    while !got.windows(msg.len()).any(|w| w == msg) {
        match stream.read(&mut buf) {
            Ok(0) => return Some("closed by the peer or reset".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Some(format!("read failed: {e}")),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::privileged;
    use crate::world::topology::TopologyOptions;

    /// The control sees what POL-03 needs it to see: forwarding gets through where nothing
    /// filters, and a FORWARD DROP in the container stops it.
    #[test]
    fn forwarding_is_proven_and_a_forward_drop_stops_it() {
        if !privileged() {
            return;
        }
        let t = Topology::build(&TopologyOptions { dual_stack: false }).unwrap();
        let _hosts = crate::world::mocks::hosts::start_hosts(
            &t.world,
            crate::world::mocks::hosts::HostsOptions {
                tcp_ports: vec![FORWARD_PORT],
                udp_ports: vec![],
                dual_stack: false,
                addrs: vec![],
            },
        )
        .unwrap();
        // A strict rp_filter on the host, as some machines' defaults give it, drops the
        // forwarded SYN (the replies take the other way): why the control pins it off.
        let before = ip_forward(&t.container).unwrap();
        t.host.sysctl("net.ipv4.conf.all.rp_filter", "1").unwrap();
        let v = connect_routed_through_container(&t).unwrap();
        assert!(!v.is_connected(), "strict rp_filter on the host: {v}");
        t.svc
            .ip(&["route", "del", &format!("{FORWARD_TARGET}/32")])
            .unwrap();
        t.container.sysctl("net.ipv4.ip_forward", &before).unwrap();
        let why = prove_forwarding(&t).unwrap();
        assert!(why.contains("connected"), "{why}");
        assert_eq!(ip_forward(&t.container).unwrap(), before, "put back");
        t.container
            .exec("iptables", &["-P", "FORWARD", "DROP"])
            .unwrap();
        let v = connect_routed_through_container(&t).unwrap();
        assert!(!v.is_connected(), "{v}");
        assert!(prove_forwarding(&t).is_err());
    }

    /// The long-lived connections' control tells a flow that echoes from one that does not
    /// (a peer that accepts and stays silent, one that closes).
    #[test]
    fn an_echo_is_seen_only_when_it_comes_back() {
        use std::net::TcpListener;
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let closing = TcpListener::bind("127.0.0.1:0").unwrap();
        let (ea, sa_, ca) = (
            echo.local_addr().unwrap(),
            silent.local_addr().unwrap(),
            closing.local_addr().unwrap(),
        );
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || drop(closing.accept().unwrap()));
        let mut e = TcpStream::connect(ea).unwrap();
        assert_eq!(echo_fails(&mut e, b"fwt-x\n"), None);
        let mut s = TcpStream::connect(sa_).unwrap();
        let why = echo_fails(&mut s, b"fwt-x\n").unwrap();
        assert!(why.starts_with("read failed"), "{why}");
        let _keep = silent;
        let mut c = TcpStream::connect(ca).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(echo_fails(&mut c, b"fwt-x\n").is_some());
    }

    #[test]
    fn a_netns_container_has_ipv6_loopback_until_it_is_removed() {
        if !privileged() {
            return;
        }
        let ns = Netns::create("lo6").unwrap();
        ns.ip(&["link", "set", "lo", "up"]).unwrap();
        assert!(loopback_v6_present(&ns).unwrap());
        ns.ip(&["-6", "addr", "del", "::1/128", "dev", "lo"])
            .unwrap();
        assert!(!loopback_v6_present(&ns).unwrap());
    }
}
