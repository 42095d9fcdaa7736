//! [`SystemTools`]' conntrack over netlink, against the kernel, in a throwaway namespace (root).
//!
//! The namespace gets an iptables and an ip6tables rule that use conntrack (a namespace tracks flows only once
//! something needs them), then UDP flows over IPv4 and IPv6 loopback and a TCP connection.
//! The netlink dump must list exactly what `conntrack -L` lists (the reference tool, run in the
//! same namespace with `ip netns exec`); deleting one flow must remove that flow and no other;
//! deleting it again (it is gone) is not a failure.
//!
//! Without root, the test says why and passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;

use fw_cli::system::tools::SystemTools;
use fw_core::exec::Tools;
use fw_core::flow::{Flow, Tracked};

fn key(f: &Flow) -> String {
    format!(
        "{} {} {:?} {} {:?}",
        f.proto, f.src, f.sport, f.dst, f.dport
    )
}

/// What the `conntrack` tool lists in the namespace: the seam's default (`conntrack -L` per
/// family, run from a thread inside the namespace).
fn reference_listing(ns: &str) -> Result<BTreeSet<String>, String> {
    common::in_netns(ns, || {
        fw_core::exec::list_with_conntrack_tool(&SystemTools::default())
    })
    .map(|flows| flows.iter().map(|t| key(&t.flow)).collect())
    .map_err(|e| e.to_string())
}

fn listing(ns: &str) -> Vec<Tracked> {
    common::in_netns(ns, || SystemTools::default().tracked_flows().unwrap())
}

#[test]
fn lists_and_cuts_flows_as_the_conntrack_tool_sees_them() {
    let Some(ns) = common::netns_for("flows") else {
        return;
    };
    ns.ip(&["link", "set", "lo", "up"]);
    for tool in ["iptables", "ip6tables"] {
        let rule = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                tool,
                "-A",
                "OUTPUT",
                "-m",
                "conntrack",
                "--ctstate",
                "NEW,ESTABLISHED",
                "-j",
                "ACCEPT",
            ])
            .status()
            .unwrap();
        assert!(rule.success(), "cannot add the conntrack rule with {tool}");
    }

    // Flows: UDP over both families, one TCP connection kept open while we look.
    let tcp = common::in_netns(&ns.name, || {
        for (bind, to) in [("127.0.0.1:0", "127.0.0.1"), ("[::1]:0", "::1")] {
            let rx = UdpSocket::bind(bind).unwrap();
            let port = rx.local_addr().unwrap().port();
            let tx = UdpSocket::bind(bind).unwrap();
            tx.send_to(b"x", (to, port)).unwrap();
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (l, c, s)
    });

    let flows = listing(&ns.name);
    let got: BTreeSet<String> = flows.iter().map(|t| key(&t.flow)).collect();
    assert!(
        flows.iter().all(|t| t.key.is_some()),
        "every flow comes with its netlink key"
    );
    let udp4 = flows
        .iter()
        .find(|t| t.flow.proto == "udp" && t.flow.src.is_ipv4())
        .unwrap_or_else(|| panic!("no IPv4 UDP flow in {got:?}"));
    assert!(
        flows
            .iter()
            .any(|t| t.flow.proto == "udp" && t.flow.src.is_ipv6()),
        "no IPv6 UDP flow in {got:?}"
    );
    assert!(
        flows.iter().any(|t| t.flow.proto == "tcp"),
        "no TCP flow in {got:?}"
    );
    match reference_listing(&ns.name) {
        Ok(reference) => assert_eq!(got, reference, "netlink vs conntrack -L"),
        // The reference tool is part of the test setup (scripts/setup-system.sh installs it).
        Err(e) => common::cannot_run(&format!(
            "conntrack -L does not run here ({e}): nothing to compare with"
        )),
    }

    // Cut the IPv4 UDP flow: it alone goes.
    let victim = key(&udp4.flow);
    let failures = common::in_netns(&ns.name, {
        let udp4 = udp4.clone();
        move || SystemTools::default().delete_flows(&[&udp4])
    });
    assert!(failures.is_empty(), "{failures:?}");
    let after: BTreeSet<String> = listing(&ns.name).iter().map(|t| key(&t.flow)).collect();
    let mut want = got.clone();
    want.remove(&victim);
    assert_eq!(after, want);

    // Gone already: not a failure.
    let again = common::in_netns(&ns.name, {
        let udp4 = udp4.clone();
        move || SystemTools::default().delete_flows(&[&udp4])
    });
    assert!(again.is_empty(), "{again:?}");
    drop(tcp);
}
