//! The conntrack table read and cut over netlink: how the system's tools (`tools.rs`) list and
//! delete tracked flows.
//!
//! A ctnetlink socket in this process ([`fw_core::ctnetlink`] encodes and decodes the
//! messages): one dump lists both families; each deletion names one flow by the kernel's own
//! tuple and id. No `conntrack` process, so no process start and no walk of the kernel's table
//! per deletion; and the `conntrack` package is not needed.

use std::io;
use std::time::Duration;

use fw_core::ctnetlink::{self, Reply};
use fw_core::exec::{self, ExecError};
use fw_core::flow::{FlowKey, Tracked};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

/// How long a reply may take before the exchange is abandoned (a kernel that never answers
/// must not hang `fw-cli init`).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Receive buffer: the kernel packs dump messages into datagrams of up to a page or so; 64 KiB
/// holds any of them.
const RECV_BUFFER: usize = 64 * 1024;

fn netlink_error(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Spawn {
        command: format!("ctnetlink {what}"),
        reason: e.to_string(),
    }
}

/// A ctnetlink socket of this network namespace.
struct Ctnetlink {
    socket: Socket,
    seq: u32,
}

impl Ctnetlink {
    fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket2::SockRef::from(&socket).set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Ctnetlink { socket, seq: 1 })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let sent = self.socket.send(msg, 0)?;
        if sent != msg.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of {} bytes",
                msg.len()
            )));
        }
        Ok(())
    }

    /// The next datagram's messages.
    fn recv(&self) -> Result<Vec<Reply>, ExecError> {
        let mut buf: Vec<u8> = Vec::with_capacity(RECV_BUFFER);
        // MSG_TRUNC: the datagram's real length, so a truncation is seen, not parsed.
        let n = self
            .socket
            .recv(&mut buf, libc::MSG_TRUNC)
            .map_err(|e| netlink_error("receive", e))?;
        if n > buf.len() {
            return Err(netlink_error(
                "receive",
                format!("a datagram of {n} bytes did not fit in {RECV_BUFFER}"),
            ));
        }
        ctnetlink::parse_datagram(&buf).map_err(|e| netlink_error("reply", e))
    }

    /// Every tracked flow of this namespace, both families.
    fn dump(&mut self) -> Result<Vec<Tracked>, ExecError> {
        let seq = self.next_seq();
        self.send(&ctnetlink::dump_request(seq))
            .map_err(|e| netlink_error("dump request", e))?;
        let mut out = Vec::new();
        loop {
            for reply in self.recv()? {
                match reply {
                    Reply::Flow(flow, key) => out.push(Tracked {
                        flow,
                        key: Some(key),
                    }),
                    Reply::Done => return Ok(out),
                    Reply::Ack { error, .. } if error < 0 => {
                        return Err(netlink_error("dump", io::Error::from_raw_os_error(-error)));
                    }
                    Reply::Ack { .. } => {}
                    Reply::Overrun => {
                        return Err(netlink_error(
                            "dump",
                            "the kernel dropped messages (overrun): the listing is incomplete",
                        ));
                    }
                }
            }
        }
    }

    /// Deletes one flow; `Ok` also when it has ended meanwhile (ENOENT).
    fn delete(&mut self, key: &FlowKey) -> Result<(), ExecError> {
        let seq = self.next_seq();
        self.send(&ctnetlink::delete_request(seq, key))
            .map_err(|e| netlink_error("delete request", e))?;
        loop {
            for reply in self.recv()? {
                match reply {
                    Reply::Ack { seq: s, error } if s == seq => {
                        return match error {
                            0 => Ok(()),
                            e if e == -libc::ENOENT => Ok(()),
                            e => Err(netlink_error("delete", io::Error::from_raw_os_error(-e))),
                        };
                    }
                    // An answer to an earlier request (none is outstanding) is not ours.
                    _ => {}
                }
            }
        }
    }
}

/// Every tracked flow of this namespace, both families, in one dump.
pub fn tracked_flows() -> Result<Vec<Tracked>, ExecError> {
    Ctnetlink::open()
        .map_err(|e| netlink_error("socket", e))?
        .dump()
}

/// Deletes these flows, each by its key; a flow listed by the `conntrack` tool (no key) is
/// deleted by the tool, through `tools`. The deletions that failed.
pub fn delete_flows(tools: &dyn exec::Tools, flows: &[&Tracked]) -> Vec<ExecError> {
    if flows.is_empty() {
        return Vec::new();
    }
    let mut nl = match Ctnetlink::open() {
        Ok(nl) => nl,
        Err(e) => return vec![netlink_error("socket", e)],
    };
    let mut failed = Vec::new();
    for t in flows {
        let result = match &t.key {
            Some(key) => nl.delete(key),
            // Listed by the tool: deleted by it.
            None => {
                failed.extend(exec::delete_with_conntrack_tool(tools, &[*t]));
                continue;
            }
        };
        if let Err(e) = result {
            failed.push(ExecError::Failed {
                command: format!("delete the tracked flow {}", describe(t)),
                status: -1,
                stderr: e.to_string(),
            });
        }
    }
    failed
}

fn describe(t: &Tracked) -> String {
    let f = &t.flow;
    let port = |p: Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{} {}{} -> {}{}",
        f.proto,
        f.src,
        port(f.sport),
        f.dst,
        port(f.dport)
    )
}
