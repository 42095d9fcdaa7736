//! A hostile override judged by the suite (netns tier): `netns-tests/overrides/hostile-override.sh`
//! writes under /etc, /usr/local/bin, /root, /tmp and beside itself, kills by name and pid 1,
//! leaves daemons, calls nsenter towards pid 1's namespaces, flushes the firewall and fills its
//! disk. This test proves from the machine's side that none of it had an effect outside the
//! sandbox (a sentinel process survives, no file appears, the machine's rulesets are unchanged,
//! nothing of the script is left running) and that the suite still reports as usual.
//!
//! Before the script runs at all, a canary run checks that the sandbox is there (its own PID and
//! UTS namespaces): a confinement that regressed fails this test instead of harming the machine.
//! Without root or namespaces the test prints why and passes, except under CI=true.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use conformance::judge::catalog::{Case, catalog};
use conformance::report::Verdict;
use conformance::world::iut::{ContainerFiles, ContainerFs, RunSpec, run_iut};
use conformance::world::netns::Netns;
use conformance::world::options::SuiteOptions;
use netns_tests::{privileged_may_run, repo_root, target_dir};

/// Cases over different kinds of scenario: plain, re-run with probers, the failure scenarios.
const CASES: &[&str] = &["POL-01", "SEQ-07", "FAIL-06", "MRK-01", "INF-01"];

/// Files the script writes (in the container); none may appear on the machine.
const FILES: &[&str] = &[
    "/etc/fwt-hostile",
    "/etc/cron.d/fwt-hostile",
    "/usr/local/bin/fwt-hostile",
    "/root/fwt-hostile",
    "/tmp/fwt-hostile",
    "/var/tmp/fwt-hostile",
    "/var/fwt-hostile",
    "/fwt-hostile-nsenter",
    "/fwt-hostile-setns",
    "/tmp/fwt-hostile-loop",
    "/tmp/fwt-hostile-cron-ran",
];

/// What the machine shows that the script may try to change.
#[derive(Debug, PartialEq, Eq)]
struct MachineState {
    rulesets: Vec<(String, String)>,
    hostname: String,
    files: Vec<String>,
}

/// A tool's output without what changes by itself: comment lines (iptables-save stamps them
/// with the time) and the legacy chains' packet counters (`[2171:58416857]`).
fn saved(tool: &str, args: &[&str]) -> String {
    match Command::new(tool).args(args).output() {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match (l.starts_with(':'), l.rfind(" [")) {
                (true, Some(i)) => &l[..i],
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("{tool} did not run: {e}"),
    }
}

fn machine_state() -> MachineState {
    MachineState {
        rulesets: [
            ("iptables-save", &[][..]),
            ("ip6tables-save", &[][..]),
            ("iptables-legacy-save", &[][..]),
            ("nft", &["--stateless", "list", "ruleset"][..]),
        ]
        .iter()
        .map(|(t, a)| ((*t).to_owned(), saved(t, a)))
        .collect(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        files: FILES
            .iter()
            .filter(|f| Path::new(f).exists())
            .map(|f| (*f).to_owned())
            .collect(),
    }
}

/// Processes of the machine whose command line names the script's processes.
fn hostile_processes() -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("fwt-hostile") && !cmd.contains("fwt-hostile-sentinel") {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// A process of the machine the script tries to kill by name.
struct Sentinel(Child);

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Proves the sandbox is there before anything hostile runs.
fn canary() {
    let ns = Netns::create("canary").unwrap();
    let fs = ContainerFs::new(&ContainerFiles {
        resolv_conf: "nameserver 127.0.0.11\n".into(),
        ..ContainerFiles::default()
    })
    .unwrap();
    let run = run_iut(
        &ns,
        &fs,
        &RunSpec::new(["sh", "-c", "echo $$; cat /proc/sys/kernel/hostname"]),
    )
    .unwrap();
    assert_eq!(
        run.stdout,
        format!("2\n{}\n", conformance::world::confine::HOSTNAME),
        "the sandbox is not there: the hostile script is not run ({run:?})"
    );
}

/// The script, copied under target/ so that its attempts on its own file hit a copy.
fn staged_script() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::Builder::new()
        .prefix("hostile-")
        .tempdir_in(target_dir().unwrap())
        .unwrap();
    let script = dir.path().join("hostile-override.sh");
    std::fs::copy(
        repo_root().join("netns-tests/overrides/hostile-override.sh"),
        &script,
    )
    .unwrap();
    let bytes = std::fs::read(&script).unwrap();
    (dir, script, bytes)
}

#[test]
fn a_hostile_override_reaches_nothing_and_is_judged() {
    if !privileged_may_run("hostile").unwrap_or_else(|e| panic!("{e}")) {
        return;
    }
    canary();
    let (dir, script, original) = staged_script();
    let sentinel = Sentinel(
        Command::new("bash")
            .args(["-c", "exec -a fwt-hostile-sentinel sleep 600"])
            .spawn()
            .unwrap(),
    );
    let before = machine_state();
    assert!(before.files.is_empty(), "leftovers: {:?}", before.files);

    let argv = vec!["bash".to_owned(), script.to_string_lossy().into_owned()];
    let mut opts = SuiteOptions::new("hostile-override.sh", argv);
    opts.timeout = std::time::Duration::from_secs(60);
    let cases: Vec<Case> = catalog()
        .into_iter()
        .filter(|c| CASES.contains(&c.id))
        .collect();
    let report = conformance::judge::runner::run(&cases, &opts, &|r| {
        eprintln!("  {} {:?}", r.id, r.verdict);
    });

    // Nothing reached the machine.
    let mut sentinel = sentinel;
    assert!(
        sentinel.0.try_wait().unwrap().is_none(),
        "the sentinel process was killed"
    );
    let after = machine_state();
    assert_eq!(after, before, "the machine changed");
    assert_eq!(hostile_processes(), Vec::<String>::new(), "left running");
    assert_eq!(
        std::fs::read(&script).unwrap(),
        original,
        "the script changed"
    );
    assert!(!dir.path().join("fwt-hostile-beside").exists());

    // The attempts ran (positive controls, from the script's own output), without effect.
    let r = report.cases.iter().find(|c| c.id == "POL-01").unwrap();
    let out = &r.iut.as_ref().unwrap().stdout;
    for want in [
        "hostile: wrote /etc/fwt-hostile",
        "hostile: wrote /usr/local/bin/fwt-hostile",
        "hostile: wrote /root/fwt-hostile",
        "hostile: flushed",
        "hostile: disk full",
        "hostile: survived kill -KILL -1",
    ] {
        assert!(out.lines().any(|l| l.contains(want)), "{want}: {out}");
    }
    for never in [
        "pkill -f matched the sentinel",
        "nsenter -t 1 worked",
        "setns(mnt) worked",
        "mount worked",
        "hostname changed",
        "kernel.hostname written",
    ] {
        assert!(!out.contains(never), "{never}: {out}");
    }

    // The suite reported as usual: every case judged, no harness error, MUST failures → 1.
    assert_eq!(report.cases.len(), CASES.len());
    for c in &report.cases {
        assert_ne!(c.verdict, Verdict::Error, "{}: {}", c.id, c.reason);
    }
    assert!(
        report
            .cases
            .iter()
            .any(|c| c.id == "POL-01" && c.verdict == Verdict::Fail)
    );
    assert_eq!(report.exit_status(false), 1);
    assert!(report.isolation.contains("PID"), "{}", report.isolation);
    drop(sentinel);
}
