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

    let env = iut_env(spec);
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

    let Watched {
        timed_out,
        waited,
        locked_out,
        peak_rss_kib,
        caps,
    } = watch_until_end(pid, init_pid, spec, start + spec.timeout)?;
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

/// The IUT's environment: a fixed PATH, HOME and LANG, then the spec's variables (which
/// replace those of the same name).
fn iut_env(spec: &RunSpec) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), IUT_PATH.into()),
        ("HOME".into(), "/root".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    for (k, v) in &spec.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// How the IUT's main process ended, as [`watch_until_end`] saw it.
struct Watched {
    /// It was killed: at the time limit, or locked out.
    timed_out: bool,
    /// When the main process exited.
    waited: Result<Instant>,
    locked_out: Option<String>,
    peak_rss_kib: Option<u64>,
    caps: Option<crate::world::caps::CapsSeen>,
}

/// Waits for the IUT's main process `pid` until `deadline`, watching it as the spec asks
/// ([`iut_watch::wait`]); at the limit, or when it locked itself out, kills its group and waits
/// for the main process to die.
fn watch_until_end(
    pid: i32,
    init_pid: Option<i32>,
    spec: &RunSpec,
    deadline: Instant,
) -> Result<Watched> {
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
        deadline,
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
    Ok(Watched {
        timed_out,
        waited,
        locked_out,
        peak_rss_kib,
        caps,
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

#[cfg(test)]
mod tests;
