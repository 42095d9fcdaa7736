//! The sandbox's mock services (docs/sandbox.md, "Mock services"), each running on a thread inside
//! the namespace it serves, so its sockets live there and nothing it binds touches the machine:
//!
//! - [`dns`]: the mock DNS (a zone with per-name behaviours and a stable catch-all), used both as
//!   the world's resolver and behind Docker's embedded-DNS emulation.
//! - [`docker_dns`]: Docker's embedded DNS at 127.0.0.11 inside the container namespace: a
//!   [`forwarder`] to the world's resolver on two random ports plus Docker's own nat rules, in
//!   each firewall backend Docker uses.
//! - [`forwarder`]: a DNS forwarder whose upstream queries leave from the namespace it runs in.
//! - [`https`]: the per-run test CA, certificates issued on demand for any name, the mock GitHub
//!   meta (every fault of FAIL-01..05 and VER-04) and the world's HTTPS responder.
//! - [`hosts`]: the world's test hosts: TCP banner-and-echo listeners and a UDP echo, each
//!   recording what reached it, so a case can assert that a blocked packet never arrived; on
//!   port 53 they answer DNS, as any resolver on the internet would.
//! - [`inbound`]: the container's own listeners, for the inbound probes.
//! - [`raw`]: raw-socket observers that record every ICMP echo, SCTP and GRE packet reaching a
//!   namespace (the world, or the container for inbound probes).
//!
//! Every service reports its bound addresses once it listens, and stops when its handle drops.

pub mod dns;
pub mod docker_dns;
pub mod forwarder;
pub mod hosts;
pub mod https;
pub mod inbound;
pub mod raw;

use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use anyhow::{Context, Result};
use socket2::{Domain, Socket, Type};

/// How long a service may take to bind its sockets and report them.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Waits for a service thread to report its bound addresses (or why it could not bind).
fn wait_ready<T>(rx: &Receiver<Result<T>>, what: &str) -> Result<T> {
    rx.recv_timeout(READY_WITHIN)
        .with_context(|| format!("the {what} service did not report ready"))?
        .with_context(|| format!("cannot start the {what} service"))
}

/// A socket for `addr`, bound. An IPv6 one is v6-only, so 0.0.0.0 and [::] bind the same port
/// side by side, and may send from an address it does not own (the world's addresses come
/// from local routes, which IPv6 does not count as its own); address reuse lets a service
/// restart on a port its last connections still hold.
fn bound_socket(addr: SocketAddr, ty: Type) -> Result<Socket> {
    bind_socket(addr, ty, false)
}

/// [`bound_socket`] that shares its port with sockets of the same kind bound to other
/// addresses (`SO_REUSEPORT`, which every socket on the port must set): the world's catch-all
/// DNS on `0.0.0.0:53` and the resolvers on their own addresses live side by side, and the
/// kernel hands each packet to the most specific bind.
fn shared_socket(addr: SocketAddr, ty: Type) -> Result<Socket> {
    bind_socket(addr, ty, true)
}

fn bind_socket(addr: SocketAddr, ty: Type, share: bool) -> Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, None)
        .with_context(|| format!("cannot make a socket for {addr}"))?;
    s.set_reuse_address(true)?;
    if share {
        s.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
        s.set_freebind_v6(true)?;
    }
    // A restarted service's old listener can outlive its close by a few milliseconds: every
    // child the harness forks (an implementation's run, a container's holder) holds a copy of
    // the harness's descriptors until its exec. Only a listener conflicts with address reuse,
    // so EADDRINUSE is retried for a moment before it is an error.
    let deadline = std::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match s.bind(&addr.into()) {
            Ok(()) => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot bind {addr}")),
        }
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// How long a bind that finds its port taken is retried (see [`bound_socket`]).
const BIND_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// A TCP listener on `addr` (see [`bound_socket`]); call inside the service's runtime.
fn tcp_listen(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    listen_on(bound_socket(addr, Type::STREAM)?, addr)
}

/// A TCP listener on `addr` sharing its port ([`shared_socket`]).
fn tcp_listen_shared(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    listen_on(shared_socket(addr, Type::STREAM)?, addr)
}

fn listen_on(s: Socket, addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    s.listen(1024)
        .with_context(|| format!("cannot listen on {addr}"))?;
    tokio::net::TcpListener::from_std(s.into()).with_context(|| format!("cannot register {addr}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the mocks' privileged tests.

    #![allow(clippy::unwrap_used)]

    use crate::world::netns::Netns;

    pub(crate) use crate::testing::privileged;

    /// A namespace whose loopback answers for the given prefixes (the world's trick: a local
    /// route makes every address of a range local), with IPv6 duplicate address detection off.
    pub(crate) fn world_like(role: &str, prefixes: &[&str]) -> Netns {
        let ns = Netns::create(role).unwrap();
        ns.sysctl("net.ipv6.conf.all.accept_dad", "0").unwrap();
        for p in prefixes {
            let family = if p.contains(':') { "-6" } else { "-4" };
            ns.ip(&[family, "route", "add", "local", p, "dev", "lo"])
                .unwrap();
        }
        ns
    }

    /// Runs a program in `ns` and returns (status code, stdout, stderr), whatever the status.
    pub(crate) fn run(ns: &Netns, program: &str, args: &[&str]) -> (i32, String, String) {
        let out = ns.exec_unchecked(program, args).unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
