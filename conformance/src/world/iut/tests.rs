#![allow(clippy::unwrap_used)]

use super::*;
use crate::testing::privileged;

fn files() -> ContainerFiles {
    ContainerFiles {
        resolv_conf: "nameserver 127.0.0.11\noptions ndots:0\n".into(),
        ca_bundle_pem: "-----BEGIN CERTIFICATE-----\nTESTCA\n-----END CERTIFICATE-----\n".into(),
        npmrc: "registry=https://registry.npm.test/\n".into(),
    }
}

fn sh(script: &str) -> RunSpec {
    let mut s = RunSpec::new(["sh", "-c", script]);
    s.timeout = Duration::from_secs(20);
    s
}

#[test]
fn docker_caps() {
    let caps = docker_caps_with_net_admin();
    assert_eq!(caps.len(), 15);
    assert!(caps.contains(&CAP_NET_ADMIN) && caps.contains(&CAP_NET_RAW));
    assert!(!caps.contains(&CAP_SYS_ADMIN));
}

/// What the machine shows of something the IUT may try to change, read before and after.
fn machine_view() -> Vec<(String, Option<Vec<u8>>)> {
    [
        "/etc/fwt-escape",
        "/usr/local/bin/fwt-escape",
        "/root/fwt-escape",
        "/var/fwt-escape",
        "/tmp/fwt-escape",
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/net/ipv4/ip_forward",
    ]
    .iter()
    .map(|p| ((*p).to_owned(), std::fs::read(p).ok()))
    .collect()
}

#[test]
fn the_iut_is_confined_and_nothing_reaches_the_machine() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let before = machine_view();
    // Each attempt prints a word only when it had the effect the test looks for.
    let spec = sh("echo pid=$$; hostname; stat -c tmpmode=%a /tmp; \
             ls /proc | grep -c '^[0-9]' | sed 's/^/procs=/'; \
             for f in /etc /usr/local/bin /root /var /tmp; do echo x > $f/fwt-escape && echo wrote-$f; done; \
             echo evil > /proc/sys/kernel/hostname 2>/dev/null && echo sysctl-kernel-written; \
             echo '|/bin/false' > /proc/sys/kernel/core_pattern 2>/dev/null && echo core-pattern-written; \
             echo 1 > /proc/sys/net/ipv4/ip_forward && echo net-sysctl-written; \
             hostname evil 2>/dev/null && echo hostname-changed; \
             mount -t tmpfs none /mnt 2>/dev/null && echo mounted; \
             nsenter --mount=/proc/1/ns/mnt true 2>/dev/null && echo setns-worked; \
             mknod /tmp/disk b 7 0 && echo mknod-ok; head -c1 /tmp/disk >/dev/null 2>&1 && echo block-read; \
             head -c 300M /dev/zero > /tmp/fill 2>/dev/null || echo layer-full; \
             kill -9 1; echo after-kill-1; for f in /proc/sysrq-trigger /proc/keys /proc/timer_list; do [ -e $f ] && stat -c masked=%n=%t:%T $f; done; \
             ls /dev | tr '\n' ' '; echo");
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert_eq!(run.status, Some(0), "{run:?}");
    let out = &run.stdout;
    let has = |w: &str| out.lines().any(|l| l == w);
    // Its own PID namespace (pid 2 under init), its own UTS namespace.
    assert!(has("pid=2"), "{out}");
    // Its /tmp is a /tmp: world-writable and sticky.
    assert!(has("tmpmode=1777"), "{out}");
    assert!(has(crate::world::confine::HOSTNAME), "{out}");
    let procs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(procs <= 5, "{procs} processes visible: {out}");
    // Writes land in the layer...
    for f in ["/etc", "/usr/local/bin", "/root", "/var", "/tmp"] {
        assert!(has(&format!("wrote-{f}")), "{f}: {out}");
    }
    assert!(has("net-sysctl-written") && has("mknod-ok"), "{out}");
    assert!(has("layer-full") && has("after-kill-1"), "{out}");
    // Docker's masked /proc files (those this kernel has) are /dev/null (1:3).
    for f in ["/proc/sysrq-trigger", "/proc/keys", "/proc/timer_list"] {
        if Path::new(f).exists() {
            assert!(has(&format!("masked={f}=1:3")), "{f}: {out}");
        }
    }
    // ... and nothing else works.
    for w in [
        "sysctl-kernel-written",
        "core-pattern-written",
        "hostname-changed",
        "mounted",
        "setns-worked",
        "block-read",
    ] {
        assert!(!has(w), "{w}: {out}");
    }
    assert!(!out.contains("sda") && out.contains("null"), "{out}");
    // The machine saw none of it.
    assert_eq!(machine_view(), before);
    assert_eq!(
        std::fs::read_to_string(fs.merged("/etc/fwt-escape")).unwrap(),
        "x\n"
    );
}

#[test]
fn the_peak_memory_is_the_iuts_not_the_harnesss() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let mut spec = sh("sleep 0.2");
    spec.watch_peak_rss = true;
    let run = run_iut(&ns, &fs, &spec).unwrap();
    let kib = run.max_rss_kib.expect("a peak was read");
    let harness: u64 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    // sh is a few MiB; the copy of the harness before the exec is not counted.
    assert!(
        kib > 0 && kib < harness,
        "{kib} KiB (harness {harness} KiB)"
    );
}

#[test]
fn a_run_held_by_its_own_drop_rule_is_stopped_as_locked_out() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    ns.exec("ip", &["link", "set", "lo", "up"]).unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let connect = "exec 3<>/dev/tcp/127.0.0.1/9";
    // Positive control: nothing listens, the connection is refused at once.
    let mut spec = RunSpec::new(["bash", "-c", connect]);
    spec.stall_limit = Some(Duration::from_secs(1));
    spec.timeout = Duration::from_secs(20);
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert!(run.locked_out.is_none() && !run.timed_out, "{run:?}");
    assert_ne!(run.status, Some(0));
    // Its own DROP rule holds the SYN: stopped after about the limit, not the 20 s.
    spec.argv = vec![
        "bash".into(),
        "-c".into(),
        format!("iptables -A OUTPUT -p tcp --dport 9 -j DROP && {connect}"),
    ];
    let run = run_iut(&ns, &fs, &spec).unwrap();
    let why = run.locked_out.clone().expect("stopped as locked out");
    assert!(run.timed_out, "{run:?}");
    assert!(why.contains("127.0.0.1:9"), "{why}");
    assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
}

#[test]
fn private_views_and_namespace() {
    if !privileged() {
        return;
    }
    let before = std::fs::read("/etc/resolv.conf").unwrap();
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let mut spec = sh(
        "cat /etc/resolv.conf; cat /etc/ssl/certs/ca-certificates.crt; \
             echo x > /tmp/m; cat /root/.npmrc; env; pwd; readlink /proc/self/ns/net; \
             ls /sys/class/net; ls -A /run; echo err >&2; exit 3",
    );
    spec.env.push((
        "NPM_CONFIG_REGISTRY".into(),
        "https://registry.npm.test/".into(),
    ));
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert_eq!(run.status, Some(3), "{run:?}");
    assert!(!run.timed_out && run.signal.is_none());
    assert_eq!(run.stderr, "err\n");
    let out = &run.stdout;
    assert!(
        out.contains("nameserver 127.0.0.11\noptions ndots:0\n"),
        "{out}"
    );
    assert!(out.contains("TESTCA"), "{out}");
    assert!(out.contains("registry=https://registry.npm.test/"), "{out}");
    // Scrubbed environment: only what the harness gives.
    let env: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
        })
        .collect();
    for want in [
        format!("PATH={IUT_PATH}"),
        "HOME=/root".into(),
        "LANG=C.UTF-8".into(),
        "NPM_CONFIG_REGISTRY=https://registry.npm.test/".into(),
    ] {
        assert!(env.contains(&want.as_str()), "{want} missing: {env:?}");
    }
    // sh adds PWD (and perhaps SHLVL); nothing of the harness's own environment leaks.
    for l in &env {
        let k = l.split('=').next().unwrap();
        assert!(
            [
                "PATH",
                "HOME",
                "LANG",
                "NPM_CONFIG_REGISTRY",
                "PWD",
                "SHLVL",
                "OLDPWD"
            ]
            .contains(&k),
            "unexpected {l}"
        );
    }
    assert!(out.lines().any(|l| l == "/"), "cwd: {out}");
    assert!(out.contains(&format!("net:[{}]", ns.inode())), "{out}");
    // /sys is the namespace's: lo only (no links were added).
    assert!(out.lines().any(|l| l == "lo"), "{out}");
    assert!(!out.lines().any(|l| l == "eth0"), "{out}");
    // A private /run: nothing of the machine's (its netns mounts, its xtables lock).
    assert!(out.lines().any(|l| l == "lock"), "{out}");
    assert!(!out.lines().any(|l| l == "netns"), "{out}");
    // The marker landed in the private /tmp, not in the machine's.
    assert_eq!(std::fs::read_to_string(fs.tmp().join("m")).unwrap(), "x\n");
    assert!(!Path::new("/tmp/m").exists() || std::fs::read_to_string("/tmp/m").unwrap() != "x\n");
    assert_eq!(std::fs::read("/etc/resolv.conf").unwrap(), before);
    let root = fs.root().to_path_buf();
    drop(fs);
    assert!(!root.exists());
}

#[test]
fn hidden_tools_are_absent_and_others_work() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let mut spec = sh("command -v ipset || echo hidden-ipset; \
             command -v ip6tables-restore || echo hidden-ip6r; \
             ipset --version >/dev/null 2>&1 || echo exec-fails; \
             /usr/sbin/ipset --version >/dev/null 2>&1 || echo abs-fails; \
             command -v iptables >/dev/null && iptables --version >/dev/null && echo iptables-ok; \
             bash -c 'command -v ipset || echo bash-hidden'");
    spec.hidden_tools = vec!["ipset".into(), "ip6tables-restore".into()];
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert_eq!(run.status, Some(0), "{run:?}");
    for want in [
        "hidden-ipset",
        "hidden-ip6r",
        "exec-fails",
        "abs-fails",
        "bash-hidden",
    ] {
        assert!(run.stdout.lines().any(|l| l == want), "{want}: {run:?}");
    }
    if Path::new("/usr/sbin/iptables").exists() {
        assert!(run.stdout.contains("iptables-ok"), "{run:?}");
    }
    // The machine still has it.
    if Path::new("/usr/sbin/ipset").exists() {
        assert!(Path::new("/usr/sbin/ipset").metadata().unwrap().len() > 0);
    }
}

#[test]
fn a_hung_iut_is_killed_with_its_group() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    // A child of the shell in the same group, and one that escapes it with setsid.
    let mut spec = sh("sleep 31 & setsid sleep 32 & sleep 30");
    spec.timeout = Duration::from_millis(300);
    let start = Instant::now();
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert!(run.timed_out, "{run:?}");
    assert_eq!(run.status, None);
    assert_eq!(run.signal, Some(libc::SIGKILL));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    for n in ["30", "31", "32"] {
        let leftover = std::process::Command::new("pgrep")
            .args(["-f", &format!("^sleep {n}$")])
            .output()
            .unwrap();
        assert!(leftover.stdout.is_empty(), "sleep {n} left running");
    }
}

#[test]
fn leftovers_are_killed_after_a_normal_exit() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let run = run_iut(&ns, &fs, &sh("setsid sleep 33 >/dev/null 2>&1 & echo ok")).unwrap();
    assert_eq!(run.status, Some(0));
    assert_eq!(run.stdout, "ok\n");
    // SIGKILL is delivered asynchronously: allow the process a moment to die.
    let mut leftover = Vec::new();
    for _ in 0..50 {
        leftover = std::process::Command::new("pgrep")
            .args(["-f", "^sleep 33$"])
            .output()
            .unwrap()
            .stdout;
        if leftover.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        leftover.is_empty(),
        "sleep 33 left running: {}",
        String::from_utf8_lossy(&leftover)
    );
}

#[test]
fn bounding_set_keeps_only_the_given_caps() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let mut spec = sh("grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status");
    let keep = docker_caps_with_net_admin();
    spec.bounding_caps = keep.clone();
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert_eq!(run.status, Some(0), "{run:?}");
    let want: u64 = keep.iter().map(|c| 1u64 << c).sum();
    for field in ["CapBnd", "CapPrm", "CapEff"] {
        let line = run.stdout.lines().find(|l| l.starts_with(field)).unwrap();
        let hex = line.split_whitespace().nth(1).unwrap();
        assert_eq!(u64::from_str_radix(hex, 16).unwrap(), want, "{line}");
    }
}

#[test]
fn firewall_tools_act_on_the_container_namespace_only() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let other = Netns::create("iut-other").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let spec = sh("set -e; iptables -A OUTPUT -d 198.51.100.10 -j REJECT; \
             if command -v iptables-legacy >/dev/null; then \
               iptables-legacy -A OUTPUT -d 198.51.100.11 -j REJECT; fi; \
             ipset create fwt-test hash:net; ipset add fwt-test 192.0.2.0/26; echo done");
    let run = run_iut(&ns, &fs, &spec).unwrap();
    assert_eq!(run.status, Some(0), "{run:?}");
    let rules = |n: &Netns| {
        String::from_utf8_lossy(&n.exec("iptables", &["-S", "OUTPUT"]).unwrap().stdout).into_owned()
    };
    assert!(rules(&ns).contains("198.51.100.10"));
    assert!(!rules(&other).contains("198.51.100.10"));
    let sets = |n: &Netns| {
        String::from_utf8_lossy(&n.exec_unchecked("ipset", &["list", "-n"]).unwrap().stdout)
            .into_owned()
    };
    assert!(sets(&ns).contains("fwt-test"));
    assert!(!sets(&other).contains("fwt-test"));
}

#[test]
fn a_failing_setup_step_is_named() {
    if !privileged() {
        return;
    }
    let ns = Netns::create("iut").unwrap();
    let fs = ContainerFs::new(&files()).unwrap();
    let mut spec = sh("true");
    spec.cwd = PathBuf::from("/no/such/dir");
    let err = run_iut(&ns, &fs, &spec).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("changing directory to /no/such/dir"), "{msg}");
    let spec = RunSpec::new(["no-such-program-xyz"]);
    let err = run_iut(&ns, &fs, &spec).unwrap_err();
    assert!(
        format!("{err:#}").contains("no-such-program-xyz"),
        "{err:#}"
    );
}
