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

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use fw_cli::subnets::connected_subnets;
use fw_core::inputs::Subnet;
use ipnet::IpNet;

/// A network namespace that exists for the life of the value.
struct Netns {
    name: String,
}

impl Netns {
    fn create(name: String) -> Result<Netns, String> {
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run `ip netns add`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`ip netns add {name}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Netns { name })
    }

    /// Runs `ip -n NAME ARGS...`, which acts inside the namespace only.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        match Command::new("ip")
            .args(["netns", "del", &self.name])
            .status()
        {
            Ok(s) if s.success() => {}
            other => eprintln!("cannot delete netns {}: {other:?}", self.name),
        }
    }
}

/// Moves the calling thread (only it) into the network namespace bound at `path`.
#[allow(unsafe_code)]
fn enter_netns(path: &str) -> io::Result<()> {
    let ns = File::open(path)?;
    // SAFETY: setns(2) only reads the descriptor, which `ns` keeps open for the duration of the
    // call, and touches no memory of ours. It switches the network namespace of the calling
    // thread alone; the only caller is a thread this test spawns for the purpose and lets end.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `connected_subnets()` inside namespace `ns`, on a thread of its own.
fn subnets_in(ns: &str) -> Vec<Subnet> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        enter_netns(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(connected_subnets()).unwrap()
    })
    .join()
    .unwrap()
}

/// Not being able to run is fine on a developer's machine, not in CI.
fn cannot_run(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}; CI=true, so this test must run");
    }
    eprintln!("skipping connected_subnets netns test: {why}");
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
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid());
    if euid.as_ref().ok() != Some(&0) {
        cannot_run(&format!("not root (euid {euid:?})"));
        return;
    }
    let ns = match Netns::create(format!("fwt-sub-{}", std::process::id())) {
        Ok(ns) => ns,
        Err(why) => {
            cannot_run(&why);
            return;
        }
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
