//! The harness's time limit in the Docker tier: the run's process and every process under it,
//! found in the machine's `/proc` and killed by pid from the machine's side.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Process ids and parent ids of every live process in the machine's /proc (zombies left out).
fn process_table() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
        let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
        let state = rest.next()?;
        let ppid: u32 = rest.next()?.parse().ok()?;
        (state != "Z" && state != "X").then_some((pid, ppid))
    })
    .collect()
}

/// The pid namespace of a process (the inode of /proc/PID/ns/pid).
fn pid_ns(pid: u32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// `pid` and every process under it, in parent-before-child order.
pub(super) fn tree(table: &[(u32, u32)], pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while let Some(&p) = out.get(i) {
        let children: Vec<u32> = table
            .iter()
            .filter(|(c, pp)| *pp == p && !out.contains(c))
            .map(|(c, _)| *c)
            .collect();
        out.extend(children);
        i += 1;
    }
    out.retain(|p| table.iter().any(|(q, _)| q == p));
    out
}

/// SIGKILLs `pid` (the run's process, a machine pid) and every process under it, from the
/// machine's side, until none is left: the time limit, as coreutils' `timeout -s KILL` gave it
/// in the container before, without needing anything of the image. Only processes of the
/// container's pid namespace (that of `container_init`, which is spared) are touched;
/// processes that left the tree (daemons re-parented to the container's init) are not, as
/// `timeout` left them.
#[allow(unsafe_code)]
pub fn kill_tree(pid: u32, container_init: u32) -> Result<usize> {
    let ns = pid_ns(container_init).context("the container's init is gone")?;
    let mut killed = 0;
    for _ in 0..50 {
        let table = process_table();
        let victims: Vec<u32> = tree(&table, pid)
            .into_iter()
            .filter(|p| *p > 1 && *p != container_init && *p != std::process::id())
            .filter(|p| pid_ns(*p) == Some(ns))
            .collect();
        if victims.is_empty() {
            return Ok(killed);
        }
        for p in victims {
            let Ok(raw) = i32::try_from(p) else { continue };
            // SAFETY: kill(2) has no memory effects; `raw` is a positive pid of the container's
            // pid namespace, checked just above.
            if unsafe { libc::kill(raw, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("processes under {pid} survive SIGKILL")
}
