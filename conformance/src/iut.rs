//! Running the implementation under test (IUT) as root in the container's namespaces.
//!
//! The IUT is any command, run unmodified. It gets the container's network namespace and a
//! private mount namespace in which the harness's files cover the machine's:
//!
//! | Path | Covered by |
//! |---|---|
//! | `/etc/resolv.conf` | [`ContainerFiles::resolv_conf`] |
//! | `/etc/ssl/certs/ca-certificates.crt` | [`ContainerFiles::ca_bundle_pem`] (the test CA) |
//! | `/root` | a private home holding `.npmrc` |
//! | `/tmp` | a private directory (the init marker lands here: [`ContainerFs::tmp`]) |
//! | `/run` | a private directory with `lock/`, as a container's own `/run` (see below) |
//! | `/sys` | a fresh sysfs of the container's namespace (as `ip netns exec` does) |
//! | each `PATH` directory holding a hidden tool | an overlay in which the tool does not exist |
//!
//! Nothing is created or changed on the machine: the mounts exist only in the IUT's mount
//! namespace, which disappears with its last process.
//!
//! A hidden tool is removed with an overlay whiteout rather than covered by an empty file: bash's
//! `command -v` still reports a non-executable file (so a script's own "is ipset installed?" check
//! would pass), and a bind mount onto a symlink such as `ip6tables-restore →
//! xtables-nft-multi` lands on the shared target and would hide `iptables` as well.
//!
//! The private `/run` matters: iptables-legacy takes `/run/xtables.lock`, and with the machine's
//! `/run` parallel cases (and the harness's own rule writes) would contend for one lock, so that
//! a script calling `iptables` without `-w` fails for reasons that have nothing to do with it.
//! When `/etc/resolv.conf` (or the CA bundle) is a symlink into `/run` (systemd-resolved), the
//! file is written at that place in the private `/run` instead of bind-mounted.
//!
//! The IUT runs in its own process group. On timeout the group is killed; after the IUT exits,
//! whatever it left running (its group, and anything else in its mount namespace, which catches
//! daemons that called `setsid`) is killed too, so nothing of a run outlives it.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::netns::Netns;

/// The `PATH` the IUT gets (Debian's root default).
pub const IUT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the system CA bundle lives on Debian (what curl and rustls-native-certs read).
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

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

/// The contents of the files the container sees in place of the machine's.
#[derive(Debug, Clone, Default)]
pub struct ContainerFiles {
    /// `/etc/resolv.conf` (e.g. `nameserver 127.0.0.11`).
    pub resolv_conf: String,
    /// `/etc/ssl/certs/ca-certificates.crt`: a bundle holding the test CA.
    pub ca_bundle_pem: String,
    /// `/root/.npmrc` (names the sandbox's npm registry).
    pub npmrc: String,
}

/// The container's private files, in a temporary directory the harness owns; removed on drop.
#[derive(Debug)]
pub struct ContainerFs {
    dir: tempfile::TempDir,
    tmp: PathBuf,
    home: PathBuf,
    run: PathBuf,
    resolv_conf: PathBuf,
    ca_bundle: PathBuf,
    /// Numbers the per-run overlay directories.
    runs: AtomicUsize,
}

impl ContainerFs {
    /// Writes the files into a fresh temporary directory: `resolv.conf`, `ca-certificates.crt`,
    /// `home/.npmrc`, an empty world-writable, sticky `tmp/` (like `/tmp`) and `run/lock/`.
    pub fn new(files: &ContainerFiles) -> Result<ContainerFs> {
        let dir = tempfile::Builder::new()
            .prefix("fwt-fs-")
            .tempdir()
            .context("cannot create the container's file tree")?;
        let at = |name: &str| dir.path().join(name);
        let fs = ContainerFs {
            tmp: at("tmp"),
            home: at("home"),
            run: at("run"),
            resolv_conf: at("resolv.conf"),
            ca_bundle: at("ca-certificates.crt"),
            dir,
            runs: AtomicUsize::new(0),
        };
        write_file(&fs.resolv_conf, &files.resolv_conf, 0o644)?;
        write_file(&fs.ca_bundle, &files.ca_bundle_pem, 0o644)?;
        make_dir(&fs.home, 0o700)?;
        write_file(&fs.home.join(".npmrc"), &files.npmrc, 0o600)?;
        make_dir(&fs.tmp, 0o1777)?;
        make_dir(&fs.run, 0o755)?;
        make_dir(&fs.run.join("lock"), 0o1777)?;
        Ok(fs)
    }

    /// The temporary directory holding everything.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// What the IUT sees as `/tmp`: the marker is `fs.tmp().join(".firewall-init-done")`.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// What the IUT sees as `/root`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// What the IUT sees as `/run`.
    pub fn run_dir(&self) -> &Path {
        &self.run
    }

    /// What the IUT sees as `/etc/resolv.conf`.
    pub fn resolv_conf(&self) -> &Path {
        &self.resolv_conf
    }

    /// What the IUT sees as [`CA_BUNDLE_PATH`].
    pub fn ca_bundle(&self) -> &Path {
        &self.ca_bundle
    }
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

fn make_dir(path: &Path, mode: u32) -> Result<()> {
    std::fs::create_dir(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
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
    /// IUT, root as it is, gets only these. `None` keeps the harness's full set.
    pub bounding_caps: Option<Vec<u32>>,
    /// The working directory, inside the container's view (normally `/`).
    pub cwd: PathBuf,
    /// Read the main process's `VmHWM` every few milliseconds while it runs (benchmarks).
    pub watch_peak_rss: bool,
}

impl RunSpec {
    /// A spec with the defaults of SANDBOX.md: 180 s, `/`, nothing hidden, full capabilities.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> RunSpec {
        RunSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            timeout: Duration::from_secs(180),
            hidden_tools: Vec::new(),
            bounding_caps: None,
            cwd: PathBuf::from("/"),
            watch_peak_rss: false,
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
    /// CPU time (user + system) of the main process and the descendants it waited for.
    pub cpu: Duration,
}

impl IutRun {
    /// Exit status 0 (REQUIREMENTS' "success").
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }
}

/// One step of the child's setup between `fork` and `exec`, prepared before forking so that the
/// child only makes system calls.
#[derive(Debug)]
enum Step {
    EnterNetns,
    NewMountNs,
    MakePrivate,
    RemountSys,
    Bind { src: CString, dst: CString },
    Overlay { dst: CString, data: CString },
    Chdir(CString),
    DropCaps(Vec<u32>),
}

impl Step {
    fn describe(&self) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Step::EnterNetns => "entering the container's network namespace".into(),
            Step::NewMountNs => "creating a private mount namespace".into(),
            Step::MakePrivate => "making / private (MS_REC|MS_PRIVATE)".into(),
            Step::RemountSys => "mounting the namespace's own /sys".into(),
            Step::Bind { src, dst } => format!("bind-mounting {} over {}", s(src), s(dst)),
            Step::Overlay { dst, data } => {
                format!("mounting an overlay ({}) on {}", s(data), s(dst))
            }
            Step::Chdir(d) => format!("changing directory to {}", s(d)),
            Step::DropCaps(_) => "dropping capabilities from the bounding set".into(),
        }
    }
}

fn cstring(p: impl AsRef<OsStr>) -> Result<CString> {
    CString::new(p.as_ref().as_bytes()).context("a path holds a NUL byte")
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

    let steps = plan_steps(fs, spec, &path_var)?;
    // Index `steps.len()` stands for the exec itself.
    let mut described: Vec<String> = steps.iter().map(Step::describe).collect();
    described.push(format!("executing {program}"));
    let netns = File::open(container.path())
        .with_context(|| format!("cannot open {}", container.path().display()))?;
    let (step_rx, step_tx) = step_pipe()?;
    // The child sends its new mount namespace through this before its exec (see below).
    let (ns_rx, ns_tx) =
        std::os::unix::net::UnixStream::pair().context("cannot create a socket pair")?;

    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills its children too.
        .process_group(0);
    let netns_fd = netns.as_raw_fd();
    let step_fd = step_tx.as_raw_fd();
    let ns_fd = ns_tx.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec. It only makes async-signal-safe
    // system calls (write, setns, unshare, mount, umount2, chdir, prctl, open, sendmsg, close)
    // on data prepared before the fork or on its own stack (`steps` owns every CString, the descriptors stay open in the parent until
    // `spawn` returns); it neither allocates nor takes locks. Errors are returned as raw OS
    // errors, which std reports to the parent without allocating.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            for (i, step) in steps.iter().enumerate() {
                let tag = [u8::try_from(i).unwrap_or(u8::MAX)];
                libc::write(step_fd, tag.as_ptr().cast(), 1);
                let rc = run_step(step, netns_fd);
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            send_own_mount_ns(ns_fd);
            let tag = [u8::try_from(steps.len()).unwrap_or(u8::MAX)];
            libc::write(step_fd, tag.as_ptr().cast(), 1);
            Ok(())
        });
    }

    let start = Instant::now();
    let spawned = cmd.spawn();
    drop(step_tx);
    drop(ns_tx);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let what = last_step(&step_rx)
                .and_then(|i| described.get(usize::from(i)))
                .map_or_else(|| format!("starting {program}"), Clone::clone);
            bail!(
                "cannot start the IUT ({}): {what}: {e}",
                spec.argv.join(" ")
            );
        }
    };
    drop(netns);
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    // Held open, the IUT's mount namespace cannot be freed and its inode number reused while
    // leftovers are looked for by it. The child sent it before its exec: opened here through
    // /proc instead, it would be lost whenever the IUT exits first (a zombie has no
    // namespaces), and a daemon it left behind with setsid would then survive the run.
    let mnt_ns = received_fd(&ns_rx)
        .map(File::from)
        .or_else(|| File::open(format!("/proc/{pid}/ns/mnt")).ok());

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
    let received = if spec.watch_peak_rss {
        watch_peak_rss(pid, &done_rx, start + spec.timeout, &mut peak_rss_kib)
    } else {
        done_rx.recv_timeout(spec.timeout).ok()
    };
    let (timed_out, waited) = match received {
        Some(r) => (false, r),
        None => {
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
        cpu,
    })
}

/// Everything the child does, in order. Checks on the machine's side (targets exist, tools
/// found) happen here, before any fork.
fn plan_steps(fs: &ContainerFs, spec: &RunSpec, path_var: &str) -> Result<Vec<Step>> {
    let mut steps = vec![
        Step::EnterNetns,
        Step::NewMountNs,
        Step::MakePrivate,
        Step::RemountSys,
    ];
    for dir in ["/root", "/tmp", "/sys", "/run"] {
        if !Path::new(dir).is_dir() {
            bail!("{dir} does not exist on this machine: it is needed as a mount point");
        }
    }
    steps.push(Step::Bind {
        src: cstring(fs.run_dir())?,
        dst: cstring("/run")?,
    });
    // Bind-mount targets must exist: the harness creates nothing on the machine.
    let targets: [(&Path, &str); 2] = [
        (fs.resolv_conf(), "/etc/resolv.conf"),
        (fs.ca_bundle(), CA_BUNDLE_PATH),
    ];
    for (src, dst) in &targets {
        let real = std::fs::canonicalize(dst).with_context(|| {
            format!("{dst} does not exist on this machine: it is needed as a mount point")
        })?;
        if !real.is_file() {
            bail!("{dst} ({}) is not a file", real.display());
        }
        if let Ok(rest) = real.strip_prefix("/run") {
            // Under the private /run: the file is simply put there.
            let at = fs.run_dir().join(rest);
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::copy(src, &at).with_context(|| format!("cannot write {}", at.display()))?;
            continue;
        }
        steps.push(Step::Bind {
            src: cstring(src)?,
            dst: cstring(&real)?,
        });
    }
    steps.push(Step::Bind {
        src: cstring(fs.home())?,
        dst: cstring("/root")?,
    });
    for (dir, tools) in hiding_plan(path_var, &spec.hidden_tools)? {
        let n = fs.runs.fetch_add(1, Ordering::SeqCst);
        let base = fs.root().join(format!("overlay-{n}"));
        let upper = base.join("upper");
        let work = base.join("work");
        for d in [&base, &upper, &work] {
            std::fs::create_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        for tool in &tools {
            whiteout(&upper.join(tool))?;
        }
        // The lower layer is the directory itself (resolved at mount time, before the overlay
        // covers it); writes land in the harness's directory.
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            overlay_path(&dir)?,
            overlay_path(&upper)?,
            overlay_path(&work)?
        );
        steps.push(Step::Overlay {
            dst: cstring(&dir)?,
            data: cstring(data)?,
        });
    }
    // /tmp last: the sources above may live under the machine's /tmp.
    steps.push(Step::Bind {
        src: cstring(fs.tmp())?,
        dst: cstring("/tmp")?,
    });
    steps.push(Step::Chdir(cstring(&spec.cwd)?));
    if let Some(keep) = &spec.bounding_caps {
        let last = last_cap()?;
        if let Some(bad) = keep.iter().find(|c| **c > last) {
            bail!("capability {bad} is beyond this kernel's last ({last})");
        }
        steps.push(Step::DropCaps(
            (0..=last).filter(|c| !keep.contains(c)).collect(),
        ));
    }
    Ok(steps)
}

/// For each real directory of `PATH` (symlinks such as `/sbin → usr/sbin` resolved, duplicates
/// merged), the hidden tools that exist there under that name (file or symlink).
fn hiding_plan(path_var: &str, tools: &[String]) -> Result<Vec<(PathBuf, Vec<String>)>> {
    let mut plan: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for tool in tools {
        if tool.is_empty() || tool.contains('/') || tool == "." || tool == ".." {
            bail!("cannot hide {tool:?}: a tool is a plain file name");
        }
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let Ok(real) = std::fs::canonicalize(dir) else {
            continue;
        };
        for tool in tools {
            if std::fs::symlink_metadata(real.join(tool)).is_err() {
                continue;
            }
            match plan.iter_mut().find(|(d, _)| *d == real) {
                Some((_, ts)) if ts.contains(tool) => {}
                Some((_, ts)) => ts.push(tool.clone()),
                None => plan.push((real.clone(), vec![tool.clone()])),
            }
        }
    }
    Ok(plan)
}

/// Overlay options separate with `,` and `:`; such paths cannot be passed.
fn overlay_path(p: &Path) -> Result<String> {
    let s = p
        .to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))?;
    if s.contains([',', ':', '\\']) {
        bail!("{s} cannot be used in overlay options");
    }
    Ok(s.to_owned())
}

/// An overlay whiteout (a 0:0 character device): the name does not exist in the merged view.
#[allow(unsafe_code)]
fn whiteout(path: &Path) -> Result<()> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, 0) };
    if rc != 0 {
        bail!(
            "cannot create a whiteout at {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn last_cap() -> Result<u32> {
    let s = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .context("cannot read /proc/sys/kernel/cap_last_cap")?;
    s.trim()
        .parse()
        .with_context(|| format!("bad cap_last_cap {s:?}"))
}

/// One step in the forked child. Returns 0 or -1 (errno set). Async-signal-safe.
#[allow(unsafe_code)]
fn run_step(step: &Step, netns_fd: i32) -> i32 {
    const NONE: *const libc::c_char = std::ptr::null();
    // SAFETY (all below): raw system calls on NUL-terminated strings owned by `step`, which
    // outlives the call; null pointers are what mount(2) expects for unused arguments.
    unsafe {
        match step {
            Step::EnterNetns => libc::setns(netns_fd, libc::CLONE_NEWNET),
            Step::NewMountNs => libc::unshare(libc::CLONE_NEWNS),
            Step::MakePrivate => libc::mount(
                NONE,
                c"/".as_ptr(),
                NONE,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            Step::RemountSys => {
                // The machine's /sys shows the machine's links; `ip netns exec` does the same.
                let rc = libc::umount2(c"/sys".as_ptr(), libc::MNT_DETACH);
                if rc != 0 {
                    return rc;
                }
                libc::mount(
                    c"sysfs".as_ptr(),
                    c"/sys".as_ptr(),
                    c"sysfs".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            }
            Step::Bind { src, dst } => libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                NONE,
                libc::MS_BIND,
                std::ptr::null(),
            ),
            Step::Overlay { dst, data } => libc::mount(
                c"overlay".as_ptr(),
                dst.as_ptr(),
                c"overlay".as_ptr(),
                0,
                data.as_ptr().cast(),
            ),
            Step::Chdir(d) => libc::chdir(d.as_ptr()),
            Step::DropCaps(caps) => {
                for &c in caps {
                    let rc = libc::prctl(
                        libc::PR_CAPBSET_DROP,
                        libc::c_ulong::from(c),
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                    );
                    if rc != 0 {
                        return rc;
                    }
                }
                0
            }
        }
    }
}

/// In the forked child, after its steps: sends a descriptor of its own mount namespace over
/// `sock` (SCM_RIGHTS). Async-signal-safe: open, sendmsg and close on stack data; a failure
/// leaves the parent to open the namespace through /proc.
fn send_own_mount_ns(sock: i32) {
    // SAFETY: raw system calls on a NUL-terminated literal and on buffers of this frame; the
    // control buffer is 8-byte aligned and larger than CMSG_SPACE of one descriptor, so
    // CMSG_FIRSTHDR is non-null and CMSG_DATA points inside it.
    #[allow(unsafe_code)]
    unsafe {
        let fd = libc::open(
            c"/proc/self/ns/mnt".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<i32>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        if !cmsg.is_null() {
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
            libc::sendmsg(sock, &raw const msg, libc::MSG_NOSIGNAL);
        }
        libc::close(fd);
    }
}

/// The descriptor waiting on `sock`, if one was sent (never blocks).
fn received_fd(sock: &std::os::unix::net::UnixStream) -> Option<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut control = nix::cmsg_space!(std::os::fd::RawFd);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let mut got = None;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel installed this descriptor for us; nothing else owns it.
                #[allow(unsafe_code)]
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                got.get_or_insert(owned);
            }
        }
    }
    got
}

/// A close-on-exec pipe on which the child writes the index of each setup step before running
/// it: when `spawn` fails, the last index says which step failed.
#[allow(unsafe_code)]
fn step_pipe() -> Result<(File, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r, w))
}

/// The last step index the child wrote (all writes happened before `spawn` returned).
fn last_step(mut r: &File) -> Option<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf.last().copied()
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

/// Waits for the waiter's word until `deadline`, reading `pid`'s `VmHWM` (the high-water mark
/// of its memory since its exec) every 2 ms meanwhile. The mark only grows, so the last read
/// holds the peak unless the peak came in the last 2 ms of the process's life.
fn watch_peak_rss<T>(
    pid: i32,
    done: &mpsc::Receiver<T>,
    deadline: Instant,
    peak_kib: &mut Option<u64>,
) -> Option<T> {
    let status = format!("/proc/{pid}/status");
    loop {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            *peak_kib = Some(peak_kib.map_or(kib, |p| p.max(kib)));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match done.recv_timeout(left.min(Duration::from_millis(2))) {
            Ok(r) => return Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
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

    #[test]
    fn hiding_plan_merges_symlinked_dirs() {
        let plan = hiding_plan(IUT_PATH, &["sh".into(), "no-such-tool-xyz".into()]).unwrap();
        // /bin → usr/bin on merged-/usr systems: one directory, not two.
        let dirs: Vec<_> = plan.iter().map(|(d, _)| d.clone()).collect();
        let mut dedup = dirs.clone();
        dedup.dedup();
        assert_eq!(dirs, dedup);
        assert!(plan.iter().all(|(_, t)| t == &["sh".to_owned()]));
        assert!(hiding_plan(IUT_PATH, &["../x".into()]).is_err());
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
    fn a_mount_namespace_sent_over_the_socket_is_received() {
        let (rx, tx) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(received_fd(&rx).is_none(), "nothing sent yet");
        send_own_mount_ns(tx.as_raw_fd());
        let got = File::from(received_fd(&rx).expect("the descriptor arrives"));
        let mine = std::fs::metadata("/proc/self/ns/mnt").unwrap();
        let theirs = got.metadata().unwrap();
        assert_eq!((theirs.dev(), theirs.ino()), (mine.dev(), mine.ino()));
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
        spec.bounding_caps = Some(keep.clone());
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
        let mut spec = sh("set -e; iptables -A OUTPUT -d 198.51.100.10 -j REJECT; \
             if command -v iptables-legacy >/dev/null; then \
               iptables-legacy -A OUTPUT -d 198.51.100.11 -j REJECT; fi; \
             ipset create fwt-test hash:net; ipset add fwt-test 192.0.2.0/26; echo done");
        spec.bounding_caps = Some(docker_caps_with_net_admin());
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
