//! CAP-01: the capabilities the implementation really ran with, read from `/proc` while it ran,
//! rather than taken on trust from the run's specification.
//!
//! In the netns tier the harness samples every process of the run (the descendants of the PID
//! namespace's init, once they have exec'd: before that they are copies of the harness) every
//! few milliseconds and records each distinct (`CapBnd`, `CapEff`) pair with a command that had
//! it, and the run's main process (init's child) on its own. In the Docker tier the run is a
//! `docker exec`, which gets the container's set: the container's own first process is read.
//!
//! What was seen is CAP-01's precondition, not the implementation's verdict: the main process's
//! bounding set must be exactly Docker's default capabilities plus NET_ADMIN and NET_RAW
//! ([`crate::world::iut::docker_caps_with_net_admin`]) and no process may hold more (CAP_SYS_ADMIN
//! above all). An implementation cannot raise its bounding set, so anything else is the
//! harness's doing and the case cannot be judged; a process that dropped some of its own is
//! fine. The implementation's verdict is whether it then works.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;

/// Capability names, by number (linux/capability.h).
const NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The sets seen during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapsSeen {
    /// The run's main process: its command, `CapBnd` and `CapEff` (first reading).
    pub main: Option<(String, u64, u64)>,
    /// Each distinct (`CapBnd`, `CapEff`) pair, with the first command seen holding it.
    pub sets: BTreeMap<(u64, u64), String>,
    /// Every command read.
    pub commands: BTreeSet<String>,
    /// How many process readings were made.
    pub samples: usize,
}

impl CapsSeen {
    pub fn add(&mut self, command: &str, bnd: u64, eff: u64) {
        self.samples += 1;
        self.commands.insert(command.to_owned());
        self.sets
            .entry((bnd, eff))
            .or_insert_with(|| command.to_owned());
    }
}

/// A capability set as a mask.
pub fn mask(caps: &[u32]) -> u64 {
    caps.iter()
        .filter(|c| **c < 64)
        .fold(0, |m, c| m | (1u64 << c))
}

/// The names of the capabilities of `mask` (`CAP_SYS_ADMIN, CAP_NET_ADMIN`), or `none`.
pub fn names(mask: u64) -> String {
    let v: Vec<String> = (0..64u32)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| match NAMES.get(b as usize) {
            Some(n) => format!("CAP_{n}"),
            None => format!("cap {b}"),
        })
        .collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// `Name`, `CapBnd` and `CapEff` of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Option<(String, u64, u64)> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let hex = |key: &str| field(key).and_then(|v| u64::from_str_radix(v, 16).ok());
    Some((field("Name:")?.to_owned(), hex("CapBnd:")?, hex("CapEff:")?))
}

/// Reads one process into `seen` (gone already: nothing); `main`: it is the run's main
/// process.
pub fn sample_pid(pid: u32, main: bool, seen: &mut CapsSeen) {
    if let Some((name, bnd, eff)) = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .as_deref()
        .and_then(parse_status)
    {
        if main && seen.main.is_none() {
            seen.main = Some((name.clone(), bnd, eff));
        }
        seen.add(&name, bnd, eff);
    }
}

/// The children of every thread of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Reads every descendant of `init` that runs a program other than the harness's own binary
/// (`harness`: its metadata; a process between fork and exec is still the harness).
pub fn sample_tree(init: u32, harness: Option<&std::fs::Metadata>, seen: &mut CapsSeen) {
    let mut todo: Vec<(u32, bool)> = children(init).into_iter().map(|p| (p, true)).collect();
    let mut visited = 0;
    while let Some((pid, main)) = todo.pop() {
        visited += 1;
        if visited > 4096 {
            return;
        }
        let exe = std::fs::metadata(format!("/proc/{pid}/exe")).ok();
        let is_harness = matches!((&exe, harness), (Some(e), Some(h)) if (e.dev(), e.ino()) == (h.dev(), h.ino()));
        if exe.is_some() && !is_harness {
            sample_pid(pid, main, seen);
        }
        todo.extend(children(pid).into_iter().map(|p| (p, false)));
    }
}

/// CAP-01's precondition: `Ok(evidence)` when the run's main process had exactly `want` as its
/// bounding set and no process seen held more than `want`; `Err(why)` otherwise, or when
/// nothing was read (the case cannot be judged: the harness's fault, never the
/// implementation's).
pub fn judge(seen: Option<&CapsSeen>, want: u64) -> Result<String, String> {
    let Some(seen) = seen.filter(|s| s.samples > 0) else {
        return Err(
            "no process of the run was read after its exec: the capabilities it ran \
                    with were not observed"
                .to_owned(),
        );
    };
    let Some((main, bnd, _)) = &seen.main else {
        return Err("the run's main process was not read after its exec".to_owned());
    };
    let mut bad = Vec::new();
    if *bnd != want {
        bad.push(format!(
            "the run's main process ({main}) had the bounding set {} instead of {}",
            names(*bnd),
            names(want)
        ));
    }
    for ((bnd, eff), command) in &seen.sets {
        let extra = (bnd | eff) & !want;
        if extra != 0 {
            bad.push(format!("{command} held {}", names(extra)));
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "the run did not have the seed's capabilities: {}",
            bad.join("; ")
        ));
    }
    let commands: Vec<&str> = seen.commands.iter().map(String::as_str).collect();
    Ok(format!(
        "the run's main process ({main}) had the bounding set {}; {} readings of its processes \
         ({}) found none beyond it",
        names(want),
        seen.samples,
        commands.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::world::iut::{CAP_NET_ADMIN, CAP_SYS_ADMIN, docker_caps_with_net_admin};

    #[test]
    fn reads_proc_status() {
        let text = "Name:\tiptables\nState:\tR\nCapPrm:\t00000000a80435fb\nCapEff:\t00000000a80435fb\nCapBnd:\t00000000a80435fb\n";
        assert_eq!(
            parse_status(text),
            Some(("iptables".to_owned(), 0xa804_35fb, 0xa804_35fb))
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    /// Docker 20.10's observed CapEff (docs/docker-tier.md) is the set CAP-01 wants.
    #[test]
    fn docker_defaults_plus_net_admin_is_a80435fb() {
        assert_eq!(mask(&docker_caps_with_net_admin()), 0xa804_35fb);
    }

    /// The watcher reads what the run really had: the seed's set, and CAP_SYS_ADMIN when the
    /// harness (wrongly) grants it, which CAP-01 then refuses to judge.
    #[test]
    fn a_run_is_seen_with_the_capabilities_it_was_given() {
        if !crate::testing::privileged() {
            return;
        }
        use crate::world::confine::{ContainerFiles, ContainerFs};
        let ns = crate::world::netns::Netns::create("caps").unwrap();
        let fs = ContainerFs::new(&ContainerFiles {
            resolv_conf: "nameserver 127.0.0.11\n".into(),
            ca_bundle_pem: String::new(),
            npmrc: String::new(),
        })
        .unwrap();
        let want = mask(&docker_caps_with_net_admin());
        let mut spec = crate::world::iut::RunSpec::new(["sh", "-c", "sleep 0.1; true"]);
        spec.watch_caps = true;
        let run = crate::world::iut::run_iut(&ns, &fs, &spec).unwrap();
        let seen = run.caps.clone().unwrap();
        assert_eq!(seen.main.as_ref().unwrap().1, want, "{seen:?}");
        assert!(seen.commands.contains("sleep"), "{seen:?}");
        assert!(judge(Some(&seen), want).is_ok());

        spec.bounding_caps.push(CAP_SYS_ADMIN);
        let run = crate::world::iut::run_iut(&ns, &fs, &spec).unwrap();
        let why = judge(run.caps.as_ref(), want).unwrap_err();
        assert!(why.contains("CAP_SYS_ADMIN"), "{why}");
    }

    #[test]
    fn only_the_seeds_set_is_observed_and_no_reading_is_not_a_pass() {
        let want = mask(&docker_caps_with_net_admin());
        let mut ok = CapsSeen {
            main: Some(("bash".to_owned(), want, want)),
            ..CapsSeen::default()
        };
        ok.add("bash", want, want);
        ok.add("iptables", want, want);
        // A helper that dropped capabilities of its own is fine.
        ok.add("dig", want, 0);
        let why = judge(Some(&ok), want).unwrap();
        assert!(why.contains("3 readings"), "{why}");

        let mut admin = ok.clone();
        let more = want | (1 << CAP_SYS_ADMIN);
        admin.add("mount", more, more);
        let why = judge(Some(&admin), want).unwrap_err();
        assert!(why.contains("mount held CAP_SYS_ADMIN"), "{why}");

        let mut less = ok.clone();
        less.main = Some(("bash".to_owned(), want & !(1 << CAP_NET_ADMIN), 0));
        let why = judge(Some(&less), want).unwrap_err();
        assert!(why.contains("(bash) had the bounding set"), "{why}");

        assert!(judge(None, want).is_err());
        assert!(judge(Some(&CapsSeen::default()), want).is_err());
    }
}
