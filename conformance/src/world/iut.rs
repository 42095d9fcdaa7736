//! Running the implementation under test (IUT) as root in the container's namespaces.
//!
//! The IUT is any command, run unmodified, confined as [`crate::world::confine`] describes: the
//! container's network namespace, its own mount, PID, UTS, IPC and cgroup namespaces, a
//! filesystem whose writes land in a per-case layer, Docker's capabilities. The harness's files
//! cover the machine's:
//!
//! | Path | Holds |
//! |---|---|
//! | `/etc/resolv.conf` | [`ContainerFiles::resolv_conf`] |
//! | `/etc/ssl/certs/ca-certificates.crt` | [`ContainerFiles::ca_bundle_pem`] (the test CA) |
//! | `/root` | a private home holding `.npmrc` |
//! | `/tmp` | a private directory (the init marker lands here: [`ContainerFs::tmp`]) |
//! | `/run` | a private directory with `lock/`, as a container's own `/run` (see below) |
//! | each `PATH` directory holding a hidden tool | an overlay in which the tool does not exist |
//!
//! A hidden tool is removed with an overlay whiteout rather than covered by an empty file: bash's
//! `command -v` still reports a non-executable file (so a script's own "is ipset installed?" check
//! would pass), and a bind mount onto a symlink such as `ip6tables-restore →
//! xtables-nft-multi` lands on the shared target and would hide `iptables` as well.
//!
//! The private `/run` matters: iptables-legacy takes `/run/xtables.lock`, and with the machine's
//! `/run` parallel cases (and the harness's own rule writes) would contend for one lock, so that
//! a script calling `iptables` without `-w` fails for reasons that have nothing to do with it.
//!
//! The IUT runs in its own process group and PID namespace. On timeout the group is killed (its
//! init with it, which takes the whole namespace down); when the IUT exits, init kills whatever
//! it left running (daemons that called `setsid` included). As a second line the harness kills
//! anything still in the run's mount namespace, so nothing of a run outlives it.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use crate::world::confine::{CA_BUNDLE_PATH, ContainerFiles, ContainerFs};
use crate::world::confine::{Fds, RunPlan, received_fds, spawn_with_steps};
use crate::world::iut_watch::{self, Waited, Watch};
use crate::world::netns::Netns;

/// The `PATH` the IUT gets (Debian's root default).
pub const IUT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long, after the IUT's process group is gone, the harness waits for its output pipes to
/// close (a process that escaped the group may still hold them).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

// Capability numbers (linux/capability.h).
pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_MKNOD: u32 = 27;
pub const CAP_AUDIT_WRITE: u32 = 29;
pub const CAP_SETFCAP: u32 = 31;

/// Docker's default capability set (what a container gets without `--cap-add`).
pub const DOCKER_DEFAULT_CAPS: &[u32] = &[
    CAP_CHOWN,
    CAP_DAC_OVERRIDE,
    CAP_FSETID,
    CAP_FOWNER,
    CAP_MKNOD,
    CAP_NET_RAW,
    CAP_SETGID,
    CAP_SETUID,
    CAP_SETFCAP,
    CAP_SETPCAP,
    CAP_NET_BIND_SERVICE,
    CAP_SYS_CHROOT,
    CAP_KILL,
    CAP_AUDIT_WRITE,
];

/// What a devcontainer with a firewall runs with (CAP-01): Docker's defaults plus NET_ADMIN
/// (NET_RAW is already a default).
pub fn docker_caps_with_net_admin() -> Vec<u32> {
    let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
    caps.push(CAP_NET_ADMIN);
    caps.sort_unstable();
    caps
}

/// How to run the IUT.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The command; `argv[0]` is looked up in the IUT's `PATH` inside its mount namespace.
    pub argv: Vec<String>,
    /// Added to (or overriding) the scrubbed environment: `PATH`, `HOME=/root`, `LANG=C.UTF-8`.
    pub env: Vec<(String, String)>,
    /// Past this the IUT's process group is killed and the run is `timed_out` ("hung").
    pub timeout: Duration,
    /// Tool names (`ipset`, `ip6tables-restore`) made absent from every `PATH` directory.
    pub hidden_tools: Vec<String>,
    /// Capabilities (CAP_* numbers) to keep in the bounding set; every other is dropped, so the
    /// IUT, root as it is, gets only these (default: [`docker_caps_with_net_admin`]).
    pub bounding_caps: Vec<u32>,
    /// The working directory, inside the container's view (normally `/`).
    pub cwd: PathBuf,
    /// Read the main process's `VmHWM` every few milliseconds while it runs (benchmarks).
    pub watch_peak_rss: bool,
    /// Read the capabilities of every process of the run every few milliseconds (CAP-01).
    pub watch_caps: bool,
    /// Stop the run when one of the container's connections stays unanswered this long (see
    /// [`crate::world::iut_watch`]); `None` waits for the time limit whatever happens.
    pub stall_limit: Option<Duration>,
}

impl RunSpec {
    /// A spec with the sandbox's defaults: 180 s, `/`, nothing hidden, Docker's capabilities
    /// plus NET_ADMIN.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> RunSpec {
        RunSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            timeout: Duration::from_secs(180),
            hidden_tools: Vec::new(),
            bounding_caps: docker_caps_with_net_admin(),
            cwd: PathBuf::from("/"),
            watch_peak_rss: false,
            watch_caps: false,
            stall_limit: Some(crate::world::iut_watch::STALL_LIMIT),
        }
    }
}

/// How a run ended and what it printed.
#[derive(Debug, Clone)]
pub struct IutRun {
    /// Exit status, when it exited.
    pub status: Option<i32>,
    /// Terminating signal, when killed (SIGKILL after a timeout).
    pub signal: Option<i32>,
    /// It ran past [`RunSpec::timeout`] and was killed.
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// From start to the end of its main process.
    pub elapsed: Duration,
    /// Peak resident set size of the main process in KiB (`VmHWM`), with
    /// [`RunSpec::watch_peak_rss`]. Not `wait4`'s `ru_maxrss`: the child is forked from the
    /// harness, and `ru_maxrss` keeps the harness's resident size from before the exec.
    pub max_rss_kib: Option<u64>,
    /// The capabilities its processes were seen with, with [`RunSpec::watch_caps`].
    pub caps: Option<crate::world::caps::CapsSeen>,
    /// CPU time (user + system) of the main process and the descendants it waited for.
    pub cpu: Duration,
    /// It was stopped before its time limit because it had locked itself out (the evidence;
    /// `timed_out` is set too): see [`crate::world::iut_watch`].
    pub locked_out: Option<String>,
}

impl IutRun {
    /// How the run ended when it did not succeed, without its subject ("exited 6", "was
    /// stopped after 15 s, locked out: ...").
    pub fn how_ended(&self) -> Option<String> {
        match &self.locked_out {
            Some(why) => Some(format!(
                "was stopped after {:.0} s, {why}",
                self.elapsed.as_secs_f64()
            )),
            None => crate::world::environment::ending(
                self.status,
                self.signal,
                self.timed_out,
                self.elapsed,
            ),
        }
    }

    /// Exit status 0 (REQUIREMENTS' "success").
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }
}

/// Runs the IUT in `container`'s network namespace and a private mount namespace over `fs`,
/// and waits for it (or for the time limit). `Err` is a harness fault: the IUT could not be
/// started as specified; everything the IUT itself does ends in an [`IutRun`].
pub fn run_iut(container: &Netns, fs: &ContainerFs, spec: &RunSpec) -> Result<IutRun> {
    container.ensure_ours()?;
    let Some((program, args)) = spec.argv.split_first() else {
        bail!("the IUT's argv is empty");
    };

    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), IUT_PATH.into()),
        ("HOME".into(), "/root".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    for (k, v) in &spec.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(IUT_PATH, |(_, v)| v.as_str())
        .to_owned();

    let steps = fs.run_steps(&RunPlan {
        path_var: &path_var,
        hidden_tools: &spec.hidden_tools,
        cwd: &spec.cwd,
        caps: &spec.bounding_caps,
    })?;
    let netns = File::open(container.path())
        .with_context(|| format!("cannot open {}", container.path().display()))?;
    // The child sends the run's mount namespace and its init's pid through this (see below).
    let (ns_rx, ns_tx) =
        std::os::unix::net::UnixStream::pair().context("cannot create a socket pair")?;

    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills its init and children too.
        .process_group(0);
    let fds = Fds {
        netns: netns.as_raw_fd(),
        mnt_ns: fs.mnt_ns_fd(),
        sock: ns_tx.as_raw_fd(),
        own_mnt_ns: -1,
    };
    let start = Instant::now();
    let spawned = spawn_with_steps(&mut cmd, steps, fds, &format!("executing {program}"));
    drop(ns_tx);
    let mut child =
        spawned.with_context(|| format!("cannot start the IUT ({})", spec.argv.join(" ")))?;
    drop(netns);
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    // Held open, the run's mount namespace cannot be freed and its inode number reused while
    // leftovers are looked for by it. The child sent it, with its init's pid, before it forked
    // the IUT's process.
    let (mut sent, init_pid) = received_fds(&ns_rx);
    let mnt_ns = sent.pop().map(File::from);
    let init_pid = init_pid.and_then(|p| i32::try_from(p).ok());

    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());

    // Wait for the main process without reaping it: as long as it is a zombie its pid, which is
    // the group id, cannot be reused, so killing the group cannot hit anyone else.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("iut-wait".into())
        .spawn(move || {
            let _ = done_tx.send(wait_exited(pid).map(|()| Instant::now()));
        })
        .context("cannot spawn the IUT waiter")?;
    let mut peak_rss_kib = None;
    let mut caps = None;
    let watch = Watch {
        peak_rss: spec.watch_peak_rss,
        caps: spec.watch_caps,
        stall_limit: spec.stall_limit,
    };
    let received = iut_watch::wait(
        &watch,
        init_pid,
        &done_rx,
        start + spec.timeout,
        &mut peak_rss_kib,
        &mut caps,
    );
    let mut locked_out = None;
    let (timed_out, waited) = match received {
        Waited::Done(r) => (false, r),
        stopped => {
            if let Waited::LockedOut(why) = stopped {
                locked_out = Some(why);
            }
            kill_group(pid);
            let r = done_rx
                .recv()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the IUT waiter vanished")));
            (true, r)
        }
    };
    // Whatever happened above, nothing of the run is left running (and the main process is
    // reaped: `wait` blocks until the SIGKILL has taken effect).
    kill_group(pid);
    if let Some(ns) = &mnt_ns {
        kill_namespace_members(ns);
    }
    let (status, cpu) = reap(pid)?;
    drop(child);
    let ended = waited.context("waiting for the IUT")?;

    let stdout = out.finish(Instant::now() + DRAIN_GRACE);
    let stderr = err.finish(Instant::now() + DRAIN_GRACE);
    Ok(IutRun {
        status: status.code(),
        signal: status.signal(),
        timed_out,
        stdout,
        stderr,
        elapsed: ended.duration_since(start),
        max_rss_kib: peak_rss_kib,
        caps,
        cpu,
        locked_out,
    })
}

/// Blocks until process `pid` has exited, leaving it unreaped (WNOWAIT).
#[allow(unsafe_code)]
fn wait_exited(pid: i32) -> Result<()> {
    loop {
        // SAFETY: waitid fills the zeroed siginfo_t it is given.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let id = libc::id_t::try_from(pid).context("pid out of range")?;
        // SAFETY: as above; `info` outlives the call.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            bail!("waitid({pid}): {e}");
        }
    }
}

/// SIGKILL to process group `pgid` (gone already is fine).
#[allow(unsafe_code)]
fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Kills every process still in the IUT's mount namespace (daemons that left its group).
/// Only that namespace, which the harness created and holds open, is matched.
#[allow(unsafe_code)]
fn kill_namespace_members(ns: &File) {
    let Ok(meta) = ns.metadata() else { return };
    let me = std::process::id();
    // A few scans even when one finds nothing: a process that was between fork and exec, or
    // not yet visible in /proc, during one scan is caught by the next.
    for round in 0..25 {
        let mut found = false;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/mnt")) else {
                continue;
            };
            if m.ino() == meta.ino() && m.dev() == meta.dev() {
                if let Ok(p) = i32::try_from(pid) {
                    // SAFETY: kill(2) on a process of the IUT's own mount namespace.
                    unsafe {
                        libc::kill(p, libc::SIGKILL);
                    }
                }
                found = true;
            }
        }
        if !found && round >= 3 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `timeval` as a duration (negative fields, which the kernel never reports, as zero).
pub fn timeval(t: libc::timeval) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u64::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Reaps the main process with `wait4`, for its status and CPU time.
#[allow(unsafe_code)]
fn reap(pid: i32) -> Result<(std::process::ExitStatus, Duration)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: wait4 fills the zeroed rusage and the status it is given; both outlive it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
            return Ok((std::process::ExitStatus::from_raw(status), cpu));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            bail!("cannot reap the IUT (wait4({pid})): {e}");
        }
    }
}

/// Output collected on a thread; readable at any time, so a pipe held open by an escaped
/// process cannot hang the harness.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

fn drain<R: Read + Send + 'static>(src: Option<R>) -> Drain {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = mpsc::channel();
    if let Some(mut src) = src {
        let b = Arc::clone(&buf);
        let spawned = std::thread::Builder::new()
            .name("iut-drain".into())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match src.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Ok(mut v) = b.lock() {
                                v.extend_from_slice(&chunk[..n]);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            });
        if spawned.is_err() {
            tracing::warn!("cannot spawn an output drain; the IUT's output is lost");
        }
    }
    Drain { buf, done }
}

impl Drain {
    fn finish(self, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        if self.done.recv_timeout(left).is_err() {
            tracing::warn!("the IUT's output is still open (an escaped process?); truncated");
        }
        let bytes = self.buf.lock().map(|v| v.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::privileged;

    fn files() -> ContainerFiles {
        ContainerFiles {
            resolv_conf: "nameserver 127.0.0.11\noptions ndots:0\n".into(),
            ca_bundle_pem: "-----BEGIN CERTIFICATE-----\nTESTCA\n-----END CERTIFICATE-----\n"
                .into(),
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
        assert!(
            !Path::new("/tmp/m").exists() || std::fs::read_to_string("/tmp/m").unwrap() != "x\n"
        );
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
            String::from_utf8_lossy(&n.exec("iptables", &["-S", "OUTPUT"]).unwrap().stdout)
                .into_owned()
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
}

/// The implementation's files, copied where the IUT can see them.
///
/// The IUT runs with a private `/tmp`, which hides anything under the real `/tmp`: a script or
/// binary there (a checkout under `/tmp`, a build directory inside it) could not even be
/// started. [`StagedArgv::new`] copies every argument that names an existing file under `/tmp`
/// into a directory under `/var/tmp` (kept for the life of the value) and points the argument
/// there. Files elsewhere are used in place.
#[derive(Debug)]
pub struct StagedArgv {
    pub argv: Vec<String>,
    _dir: Option<tempfile::TempDir>,
}

impl StagedArgv {
    pub fn new(argv: &[String]) -> Result<StagedArgv> {
        let mut dir: Option<tempfile::TempDir> = None;
        let mut out = Vec::with_capacity(argv.len());
        for (i, a) in argv.iter().enumerate() {
            let p = Path::new(a);
            let hidden = p.is_absolute()
                && p.is_file()
                && std::fs::canonicalize(p).is_ok_and(|c| c.starts_with("/tmp"));
            if !hidden {
                out.push(a.clone());
                continue;
            }
            if dir.is_none() {
                dir = Some(
                    tempfile::Builder::new()
                        .prefix("fwt-iut-")
                        .tempdir_in("/var/tmp")
                        .context("cannot stage the implementation under /var/tmp")?,
                );
            }
            let Some(d) = dir.as_ref() else { continue };
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("arg{i}"));
            let to = d.path().join(format!("{i}-{name}"));
            std::fs::copy(p, &to)
                .with_context(|| format!("cannot stage {} as {}", p.display(), to.display()))?;
            out.push(to.to_string_lossy().into_owned());
        }
        Ok(StagedArgv {
            argv: out,
            _dir: dir,
        })
    }
}
