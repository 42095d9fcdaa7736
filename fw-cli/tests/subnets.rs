//! `connected_subnets()` inside a throwaway network namespace (needs root).
//!
//! The namespace gets a renamed loopback (`lback`: skipped by its flag, not its name) and a veth
//! pair `veth0` / `lo9` (`lo9` is not loopback, whatever its name suggests) with IPv4 and IPv6
//! addresses. The function runs on a dedicated OS thread that entered the namespace with
//! `setns`, with a current-thread runtime built there, exactly as fw-cli's callers must run it.
//! Every `ip` command names the namespace (`ip -n` / `ip netns`): nothing in the machine's own
//! namespace is touched. The namespace is deleted by a guard, on panic too.
//!
//! Without root (or without `ip netns`), the test says why and passes, except under `CI=true`,
//! where it fails: CI runs as root and must exercise it.

#![allow(clippy::unwrap_used)]

mod common;

use fw_cli::system::subnets::connected_subnets;
use fw_core::inputs::Subnet;
use ipnet::IpNet;

/// Runs `connected_subnets()` inside namespace `ns`, on a thread of its own.
fn subnets_in(ns: &str) -> Vec<Subnet> {
    common::in_netns(ns, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(connected_subnets()).unwrap()
    })
}

fn sub(i: &str, n: &str) -> Subnet {
    Subnet {
        interface: i.to_owned(),
        net: n.parse().unwrap(),
    }
}

fn is_link_local(net: &IpNet) -> bool {
    match net {
        IpNet::V6(n) => (n.addr().segments()[0] & 0xffc0) == 0xfe80,
        IpNet::V4(_) => false,
    }
}

#[test]
fn lists_non_loopback_addresses_of_the_threads_namespace() {
    let Some(ns) = common::netns_for("sub") else {
        return;
    };

    ns.ip(&["link", "set", "lo", "name", "lback"]);
    ns.ip(&["link", "set", "lback", "up"]);
    ns.ip(&[
        "link", "add", "veth0", "type", "veth", "peer", "name", "lo9",
    ]);
    ns.ip(&["addr", "add", "172.30.0.2/16", "dev", "veth0"]);
    ns.ip(&["addr", "add", "fd00:30::2/64", "dev", "veth0", "nodad"]);
    ns.ip(&["addr", "add", "172.31.0.9/24", "dev", "lo9"]);
    ns.ip(&["link", "set", "veth0", "up"]);
    ns.ip(&["link", "set", "lo9", "up"]);

    let got = subnets_in(&ns.name);

    let (link_local, rest): (Vec<Subnet>, Vec<Subnet>) =
        got.iter().cloned().partition(|s| is_link_local(&s.net));
    // Host bits kept, prefixes as configured, sorted; loopback (127.0.0.1/8, ::1/128 on
    // `lback`) absent; `lo9` present.
    assert_eq!(
        rest,
        [
            sub("lo9", "172.31.0.9/24"),
            sub("veth0", "172.30.0.2/16"),
            sub("veth0", "fd00:30::2/64"),
        ],
        "all: {got:?}"
    );
    // Link-local addresses are returned as they are (the plan drops them), and only on veth.
    assert!(
        link_local
            .iter()
            .all(|s| s.interface == "veth0" || s.interface == "lo9"),
        "{link_local:?}"
    );
}
