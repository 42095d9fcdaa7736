//! What the harness watches while the implementation runs: its peak memory (benchmarks) and
//! whether it has locked itself out.
//!
//! **Lockouts.** Every address of the sandbox answers a TCP SYN at once: a listener accepts,
//! anything else is refused by a reset or an ICMP error, and nothing in the world drops
//! (FAIL-04's hanging server accepts, then stays silent). So a connection of the container that
//! stays in `SYN_SENT` is held there by the container's own rules: the implementation is waiting
//! on traffic its own firewall drops. Tools without a connect timeout wait for the kernel's SYN
//! retries (over two minutes) and often retry after that. Past [`STALL_LIMIT`] the run's outcome
//! is decided; the harness stops it and says why, instead of waiting out the time limit.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a connection of the container may stay unanswered (`SYN_SENT`) before the run is
/// stopped as locked out. Longer than any connect timeout a firewall script gives its own probes
/// (the bash reference uses 5 and 10 s); far shorter than the kernel's SYN retries (~127 s).
pub const STALL_LIMIT: Duration = Duration::from_secs(15);

/// How the wait for the implementation ended.
#[derive(Debug)]
pub(crate) enum Waited<T> {
    /// The waiter's word: the main process ended.
    Done(T),
    /// The time limit passed.
    TimedOut,
    /// Stopped early: it locked itself out (the evidence).
    LockedOut(String),
}

/// What to watch.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Read the IUT's `VmHWM`.
    pub peak_rss: bool,
    /// Read the capabilities of every process of the run ([`crate::world::caps`]).
    pub caps: bool,
    /// Stop when a connection stays in `SYN_SENT` this long.
    pub stall_limit: Option<Duration>,
}

/// Waits for the waiter's word until `deadline`, watching meanwhile the IUT's process (the child
/// of the PID namespace's init `init`) and the container's sockets (seen through init's
/// `/proc/<pid>/net`).
pub(crate) fn wait<T>(
    watch: &Watch,
    init: Option<i32>,
    done: &mpsc::Receiver<T>,
    deadline: Instant,
    peak_kib: &mut Option<u64>,
    caps: &mut Option<crate::world::caps::CapsSeen>,
) -> Waited<T> {
    let tick = if watch.peak_rss || watch.caps {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(100)
    };
    let harness = std::fs::metadata("/proc/self/exe").ok();
    let mut iut: Option<i32> = None;
    let mut stalls = Stalls::default();
    loop {
        if watch.peak_rss {
            if iut.is_none() {
                iut = init.and_then(first_child);
            }
            if let Some(kib) = iut.and_then(|p| peak_rss(p, harness.as_ref())) {
                *peak_kib = Some(peak_kib.map_or(kib, |p| p.max(kib)));
            }
        }
        if watch.caps
            && let Some(init) = init.and_then(|p| u32::try_from(p).ok())
        {
            crate::world::caps::sample_tree(
                init,
                harness.as_ref(),
                caps.get_or_insert_with(Default::default),
            );
        }
        if let (Some(limit), Some(init)) = (watch.stall_limit, init)
            && let Some(why) = stalls.check(init, limit, Instant::now())
        {
            return Waited::LockedOut(why);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Waited::TimedOut;
        }
        match done.recv_timeout(left.min(tick)) {
            Ok(r) => return Waited::Done(r),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Waited::TimedOut,
        }
    }
}

/// `VmHWM` of `pid` in KiB (the high-water mark since its exec); `None` while `pid` still runs
/// the harness's own binary (a copy of the harness before its exec, whose size is not the IUT's).
fn peak_rss(pid: i32, harness: Option<&std::fs::Metadata>) -> Option<u64> {
    let exe = std::fs::metadata(format!("/proc/{pid}/exe")).ok();
    if let (Some(e), Some(h)) = (exe, harness)
        && (e.dev(), e.ino()) == (h.dev(), h.ino())
    {
        return None;
    }
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The first child of process `pid` (`/proc/<pid>/task/<pid>/children`).
fn first_child(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The container's connections in `SYN_SENT`, with when each was first seen.
#[derive(Debug, Default)]
pub(crate) struct Stalls {
    since: HashMap<(SocketAddr, SocketAddr), Instant>,
}

impl Stalls {
    /// Reads the sockets of the network namespace of process `init` (any process of the
    /// container); the evidence when one has been in
    /// `SYN_SENT` for `limit`.
    pub(crate) fn check(&mut self, init: i32, limit: Duration, now: Instant) -> Option<String> {
        let mut seen = Vec::new();
        for file in ["tcp", "tcp6"] {
            if let Ok(table) = std::fs::read_to_string(format!("/proc/{init}/net/{file}")) {
                seen.extend(syn_sent(&table));
            }
        }
        self.update(&seen, now, limit)
    }

    fn update(
        &mut self,
        seen: &[(SocketAddr, SocketAddr)],
        now: Instant,
        limit: Duration,
    ) -> Option<String> {
        self.since.retain(|k, _| seen.contains(k));
        for k in seen {
            self.since.entry(*k).or_insert(now);
        }
        self.since
            .iter()
            .filter(|(_, t)| now.duration_since(**t) >= limit)
            .min_by_key(|(_, t)| **t)
            .map(|((local, remote), t)| {
                format!(
                    "locked out: its connection from {local} to {remote} stayed unanswered \
                     (SYN_SENT) for {:.0} s; every address of the sandbox answers at once, so \
                     the container's own rules drop it; stopped then instead of at the time limit",
                    now.duration_since(*t).as_secs_f64()
                )
            })
    }
}

/// The (local, remote) addresses of the `SYN_SENT` entries of a `/proc/net/tcp` or `tcp6` table.
fn syn_sent(table: &str) -> Vec<(SocketAddr, SocketAddr)> {
    const SYN_SENT: &str = "02";
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3) != Some(&SYN_SENT) {
                return None;
            }
            Some((proc_addr(f.get(1)?)?, proc_addr(f.get(2)?)?))
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6) and a port: the address's 32-bit words are
/// printed in the machine's byte order, the port in hex.
fn proc_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..addr.len()).step_by(8) {
        let word = u32::from_str_radix(addr.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[cfg(target_endian = "little")]
    #[test]
    fn proc_net_tcp_is_read() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0200000A:A1B2 0A6433C6:01BB 02 00000001:00000000 01:00000213 00000002     0        0 2 1 0000000000000000 200 0 0 1 7
";
        let got = syn_sent(table);
        assert_eq!(
            got,
            [(
                "10.0.0.2:41394".parse().unwrap(),
                "198.51.100.10:443".parse().unwrap()
            )]
        );
        let v6 =
            "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:1F90 B80D0120000000000000000010000000:0050 02 0
";
        assert_eq!(
            syn_sent(v6),
            [(
                "[::1]:8080".parse().unwrap(),
                "[2001:db8::10]:80".parse().unwrap()
            )]
        );
        assert!(syn_sent("header\n   0: garbage\n").is_empty());
        assert!(proc_addr("0100007F").is_none() && proc_addr("01:zz").is_none());
    }

    #[test]
    fn a_connection_unanswered_for_the_limit_is_a_lockout() {
        let a: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let b: SocketAddr = "198.51.100.10:443".parse().unwrap();
        let c: SocketAddr = "10.0.0.2:5001".parse().unwrap();
        let limit = Duration::from_secs(15);
        let t0 = Instant::now();
        let mut s = Stalls::default();
        assert!(s.update(&[(a, b)], t0, limit).is_none());
        assert!(
            s.update(&[(a, b)], t0 + Duration::from_secs(14), limit)
                .is_none()
        );
        // Gone for one look (answered), then a new attempt: the clock starts again.
        assert!(s.update(&[], t0 + Duration::from_secs(14), limit).is_none());
        assert!(
            s.update(&[(c, b)], t0 + Duration::from_secs(20), limit)
                .is_none()
        );
        let why = s
            .update(&[(c, b)], t0 + Duration::from_secs(35), limit)
            .unwrap();
        assert!(
            why.contains("198.51.100.10:443") && why.contains("15 s"),
            "{why}"
        );
    }
}
