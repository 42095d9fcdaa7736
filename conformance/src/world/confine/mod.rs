//! How the implementation under test (IUT) is confined in the netns tier: the container's
//! filesystem, and the namespaces and privileges of each run.
//!
//! The IUT is untrusted root code. It gets what a Docker container started with
//! `--cap-add NET_ADMIN` gives a script, and nothing of the machine that runs the suite:
//!
//! | What | How |
//! |---|---|
//! | Filesystem | an overlay over the machine's `/` (and over each of its real submounts) whose writable layer is a per-case tmpfs of [`LAYER_SIZE`]; every write lands there and is thrown away with the case |
//! | `/tmp`, `/run`, `/root` | empty private directories in that layer (`/root` holds `.npmrc`) |
//! | `/etc/resolv.conf`, the CA bundle | written into the layer (the harness's files) |
//! | `/dev` | a tmpfs with `null`, `zero`, `full`, `random`, `urandom`, `tty`, its own `pts` and `shm`; every other mount is `nodev`, so a device node the IUT makes cannot be opened |
//! | `/proc` | its own (its PID namespace's); `/proc/sys` read-only but for `/proc/sys/net` (per network namespace); `sysrq-trigger`, `kcore`, `keys`, … masked, as Docker does |
//! | `/sys` | the network namespace's own sysfs, read-only |
//! | Namespaces | the container's network namespace; a new mount, PID, UTS, IPC and cgroup namespace per run; the machine's root is detached (`pivot_root`) |
//! | Processes | the IUT is pid 2 under a minimal init (pid 1) that reaps orphans; when the IUT exits, init kills everything left in the namespace and the kernel guarantees none survives init |
//! | Capabilities | Docker's defaults plus NET_ADMIN in the bounding, effective and permitted sets; the inheritable and ambient sets empty |
//!
//! The container's mount namespace is built once per case by a short-lived holder process and
//! kept alive by a descriptor the harness holds: the IUT's runs of one case share its layer (a
//! re-run sees the marker of the first), and nothing is ever mounted in the machine's own mount
//! namespace. The harness reaches the layer through that descriptor (`/proc/self/fd/N/...`).
//!
//! Everything between `fork` and `exec` is a list of [`Step`]s prepared beforehand, so the
//! child makes only system calls (no allocation, no locks).

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

mod child;

use child::Mount;
pub(crate) use child::{Fds, Step, cstring, received_fds, spawn_with_steps};

/// The writable layer's size (tmpfs `size=`): what the IUT can write in all, `/tmp` included.
pub const LAYER_SIZE: &str = "256m";

/// The hostname the IUT sees (its own UTS namespace).
pub const HOSTNAME: &str = "fwt-container";

/// Where the system CA bundle lives on Debian (what curl and rustls-native-certs read).
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One line for reports: the isolation every run of the netns tier gets.
pub const ISOLATION: &str = "netns tier: the implementation ran as root in the container's \
network namespace and its own mount, PID, UTS, IPC and cgroup namespaces; filesystem: an \
overlay over the machine's with a per-case 256 MiB tmpfs layer (private /tmp, /run, /root, \
minimal /dev, read-only /sys and /proc/sys except /proc/sys/net); capabilities: Docker's \
defaults plus NET_ADMIN; every process it left was killed when it exited";

/// Filesystems of the machine that are not carried into the container's view (the container
/// gets its own `/proc`, `/sys`, `/dev`).
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "hugetlbfs",
    "configfs",
    "fusectl",
    "binfmt_misc",
    "autofs",
    "nsfs",
    "rpc_pipefs",
    "efivarfs",
    "selinuxfs",
];

/// Mount points whose subtree the container replaces with its own.
const REPLACED: &[&str] = &["/proc", "/sys", "/dev", "/run", "/tmp", "/root"];

/// Device nodes of the machine the container's `/dev` gets (as Docker's).
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `/proc` files masked with `/dev/null` (Docker's list; absent ones are skipped).
const PROC_MASKED_FILES: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/sysrq-trigger",
];

/// `/proc` directories masked with an empty read-only tmpfs.
const PROC_MASKED_DIRS: &[&str] = &["/proc/acpi", "/proc/scsi", "/proc/asound"];

/// `/proc` subtrees made read-only.
const PROC_READ_ONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"];

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

/// The container's filesystem: a mount namespace holding the per-case layer and the merged
/// view, alive as long as this value. Dropping it frees everything the IUT wrote.
#[derive(Debug)]
pub struct ContainerFs {
    /// A directory of the machine: only the (empty) mount point `c` of the layer.
    dir: tempfile::TempDir,
    /// `dir/c`: where the layer is mounted inside the container's mount namespace.
    mount_point: PathBuf,
    /// The container's mount namespace (keeps it, and so the layer, alive).
    mnt_ns: OwnedFd,
    /// The layer's root (an `O_PATH` descriptor), through which the harness reads and writes
    /// (`layer_path`); held, not read.
    _layer: OwnedFd,
    /// `/proc/self/fd/<layer>`: the layer as a path of the harness.
    layer_path: PathBuf,
    tmp: PathBuf,
    home: PathBuf,
    run: PathBuf,
    /// Numbers the per-run directories of the hidden-tool overlays.
    runs: AtomicUsize,
}

impl ContainerFs {
    /// Builds the container's filesystem (see the module's table) and writes `files` into it.
    /// Needs root (CAP_SYS_ADMIN); mounts nothing in the machine's own mount namespace.
    pub fn new(files: &ContainerFiles) -> Result<ContainerFs> {
        let dir = tempfile::Builder::new()
            .prefix("fwt-fs-")
            .tempdir()
            .context("cannot create the container's mount point")?;
        let mount_point = dir.path().join("c");
        std::fs::create_dir(&mount_point)
            .with_context(|| format!("cannot create {}", mount_point.display()))?;
        let submounts = machine_mounts(
            &std::fs::read_to_string("/proc/self/mountinfo")
                .context("cannot read /proc/self/mountinfo")?,
            dir.path(),
        );
        let steps = holder_steps(&mount_point, &submounts)?;
        let (mnt_ns, layer) = run_holder(steps, cstring(&mount_point)?)
            .context("building the container's filesystem")?;
        let layer_path = PathBuf::from(format!("/proc/self/fd/{}", layer.as_raw_fd()));
        let fs = ContainerFs {
            tmp: layer_path.join("tmp"),
            home: layer_path.join("home"),
            run: layer_path.join("run"),
            layer_path,
            mount_point,
            mnt_ns,
            _layer: layer,
            dir,
            runs: AtomicUsize::new(0),
        };
        fs.write_file(&fs.merged("/etc/resolv.conf"), &files.resolv_conf, 0o644)?;
        fs.write_file(&fs.merged(CA_BUNDLE_PATH), &files.ca_bundle_pem, 0o644)?;
        fs.write_file(&fs.home.join(".npmrc"), &files.npmrc, 0o600)?;
        Ok(fs)
    }

    /// The machine's temporary directory of this value (the layer's mount point only).
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

    /// What the IUT sees at `path` (absolute, in the container's view), as a path of the
    /// harness. `/tmp`, `/run` and `/root` are not under it: use [`ContainerFs::tmp`] and the
    /// others for those.
    pub fn merged(&self, path: &str) -> PathBuf {
        self.layer_path
            .join("merged")
            .join(path.trim_start_matches('/'))
    }

    /// Writes a file of the container from the harness. A symlink at `path` (the machine's
    /// `/etc/resolv.conf` may be one into `/run`) is replaced, never followed: its target would
    /// be resolved in the machine's view.
    pub fn write_file(&self, path: &Path, contents: &str, mode: u32) -> Result<()> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the symlink {}", path.display()))?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        f.write_all(contents.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))
    }

    /// The steps of one run, in the forked child (see [`run_steps`]).
    pub(crate) fn run_steps(&self, spec: &RunPlan<'_>) -> Result<Vec<Step>> {
        let c = &self.mount_point;
        let merged = c.join("merged");
        let mut steps = vec![
            Step::EnterNetns,
            Step::EnterMountNs,
            Step::Unshare(
                libc::CLONE_NEWNS
                    | libc::CLONE_NEWPID
                    | libc::CLONE_NEWUTS
                    | libc::CLONE_NEWIPC
                    | libc::CLONE_NEWCGROUP,
            ),
            Step::SetHostname(cstring(HOSTNAME)?),
            mount(
                "sysfs",
                "sysfs",
                cstring(merged.join("sys"))?,
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                "",
            )?,
        ];
        for (dir, tools) in hiding_plan(spec.path_var, spec.hidden_tools)? {
            let n = self.runs.fetch_add(1, Ordering::SeqCst);
            let base = format!("hide-{n}");
            let upper = self.layer_path.join(&base).join("upper");
            let work = self.layer_path.join(&base).join("work");
            for d in [&upper, &work] {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
            }
            for tool in &tools {
                whiteout(&upper.join(tool))?;
            }
            // The lower layer is the machine's directory; writes land in the case's layer.
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                overlay_path(&dir)?,
                overlay_path(&c.join(&base).join("upper"))?,
                overlay_path(&c.join(&base).join("work"))?
            );
            let rel = dir.strip_prefix("/").unwrap_or(&dir);
            steps.push(mount(
                "overlay",
                "overlay",
                cstring(merged.join(rel))?,
                libc::MS_NODEV,
                &data,
            )?);
        }
        steps.push(Step::OpenMountNs);
        steps.push(Step::PivotRoot(cstring(&merged)?));
        steps.push(Step::ForkInit);
        // From here on: the IUT's own process (pid 2), in the new root.
        steps.push(mount(
            "proc",
            "proc",
            cstring("/proc")?,
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            "",
        )?);
        // The same kernel shows the same /proc files: each one that exists here is masked, and
        // a mask that fails stops the run (an unmasked sysrq-trigger reboots the machine).
        let exists = |p: &&&str| Path::new(p).exists();
        for f in PROC_MASKED_FILES.iter().filter(exists) {
            steps.push(Step::Bind {
                src: cstring("/dev/null")?,
                dst: cstring(f)?,
            });
        }
        for d in PROC_MASKED_DIRS.iter().filter(exists) {
            steps.push(mount(
                "tmpfs",
                "tmpfs",
                cstring(d)?,
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                "",
            )?);
        }
        for d in PROC_READ_ONLY.iter().filter(exists) {
            steps.push(Step::ReadOnly(cstring(d)?));
        }
        // Network sysctls are per network namespace: writable, as in a container that may
        // set them.
        steps.push(Step::Bind {
            src: cstring("/proc/sys/net")?,
            dst: cstring("/proc/sys/net")?,
        });
        steps.push(Step::Remount {
            dst: cstring("/proc/sys/net")?,
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        });
        steps.push(Step::Chdir(cstring(spec.cwd)?));
        let last = last_cap()?;
        if let Some(bad) = spec.caps.iter().find(|c| **c > last) {
            bail!("capability {bad} is beyond this kernel's last ({last})");
        }
        steps.push(Step::DropCaps(
            (0..=last).filter(|c| !spec.caps.contains(c)).collect(),
        ));
        steps.push(Step::ClearInheritable);
        Ok(steps)
    }

    pub(crate) fn mnt_ns_fd(&self) -> i32 {
        self.mnt_ns.as_raw_fd()
    }
}

/// What a run asks of the confinement.
#[derive(Debug)]
pub(crate) struct RunPlan<'a> {
    pub path_var: &'a str,
    pub hidden_tools: &'a [String],
    pub cwd: &'a Path,
    pub caps: &'a [u32],
}

/// A real filesystem of the machine below `/` to carry into the container's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Submount {
    pub path: PathBuf,
    pub is_dir: bool,
}

/// The machine's mounts below `/` that the container's view needs: real filesystems (not
/// pseudo ones), outside the subtrees the container replaces and outside `own` (the harness's
/// mount point), parents before children.
pub(crate) fn machine_mounts(mountinfo: &str, own: &Path) -> Vec<Submount> {
    let mut out: Vec<Submount> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let Some(fstype) = right.split(' ').next() else {
            continue;
        };
        let path = PathBuf::from(unescape_mountinfo(point));
        if path == Path::new("/")
            || PSEUDO_FS.contains(&fstype)
            || REPLACED.iter().any(|r| path.starts_with(r))
            || path.starts_with(own)
        {
            continue;
        }
        // Only what the machine's view shows: a mount hidden under a later one is skipped.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        out.retain(|s| s.path != path);
        out.push(Submount {
            path,
            is_dir: meta.is_dir(),
        });
    }
    out.sort_by_key(|s| s.path.components().count());
    out
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\NNN` (octal).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A mount(2) step: `src` and `fstype` by name, `dst`, the flags, and the filesystem's options
/// (`data`, none when empty).
fn mount(src: &str, fstype: &str, dst: CString, flags: libc::c_ulong, data: &str) -> Result<Step> {
    Ok(Step::Mount(Mount {
        src: Some(cstring(src)?),
        dst,
        fstype: Some(cstring(fstype)?),
        flags,
        data: (!data.is_empty()).then(|| cstring(data)).transpose()?,
    }))
}

/// The holder's steps: the layer (tmpfs) at `c`, the overlay at `c/merged` with the
/// container's own `/tmp`, `/run`, `/root` and `/dev`.
fn holder_steps(c: &Path, submounts: &[Submount]) -> Result<Vec<Step>> {
    let merged = c.join("merged");
    let at = |p: &str| cstring(c.join(p));
    let m = |p: &str| cstring(merged.join(p.trim_start_matches('/')));
    let mut steps = vec![
        Step::Umask(0),
        Step::Unshare(libc::CLONE_NEWNS),
        Step::MakePrivate,
        mount(
            "tmpfs",
            "tmpfs",
            cstring(c)?,
            libc::MS_NODEV | libc::MS_NOSUID,
            &format!("mode=0755,size={LAYER_SIZE},nr_inodes=65536"),
        )?,
    ];
    for (d, mode) in [
        ("upper", 0o755),
        ("work", 0o700),
        ("merged", 0o755),
        ("tmp", 0o1777),
        ("run", 0o755),
        ("run/lock", 0o1777),
        ("home", 0o700),
    ] {
        steps.push(Step::Mkdir { path: at(d)?, mode });
    }
    let data = format!(
        "lowerdir=/,upperdir={},workdir={}",
        overlay_path(&c.join("upper"))?,
        overlay_path(&c.join("work"))?
    );
    steps.push(mount(
        "overlay",
        "overlay",
        cstring(&merged)?,
        libc::MS_NODEV,
        &data,
    )?);
    for (k, s) in submounts.iter().enumerate() {
        steps.extend(submount_steps(c, &merged, k, s)?);
    }
    for (from, to) in [("tmp", "/tmp"), ("run", "/run"), ("home", "/root")] {
        steps.push(Step::MkdirAny { path: m(to)? });
        steps.push(Step::Bind {
            src: at(from)?,
            dst: m(to)?,
        });
    }
    steps.extend(dev_steps(&merged)?);
    Ok(steps)
}

/// The steps of one of the container's submounts (`k`-th, under `merged`): a file is bound
/// read-only; a directory gets its own overlay (layers in `c/sub-k`), or is bound read-only
/// when the kernel refuses the overlay. Its mounts are optional: one that fails leaves the
/// path as the root overlay shows it.
fn submount_steps(c: &Path, merged: &Path, k: usize, s: &Submount) -> Result<Vec<Step>> {
    let at = |p: &str| cstring(c.join(p));
    let mut steps = Vec::new();
    let rel = s.path.strip_prefix("/").unwrap_or(&s.path);
    let dst = cstring(merged.join(rel))?;
    let src = cstring(&s.path)?;
    if !s.is_dir {
        steps.push(Step::Optional(Box::new(Step::Bind {
            src,
            dst: dst.clone(),
        })));
        steps.push(Step::Optional(Box::new(Step::ReadOnly(dst))));
        return Ok(steps);
    }
    let upper = c.join(format!("sub-{k}/upper"));
    let work = c.join(format!("sub-{k}/work"));
    steps.push(Step::Mkdir {
        path: at(&format!("sub-{k}"))?,
        mode: 0o755,
    });
    steps.push(Step::Mkdir {
        path: cstring(&upper)?,
        mode: 0o755,
    });
    steps.push(Step::Mkdir {
        path: cstring(&work)?,
        mode: 0o700,
    });
    let data = match (
        overlay_path(&s.path),
        overlay_path(&upper),
        overlay_path(&work),
    ) {
        (Ok(l), Ok(u), Ok(w)) => Some(cstring(format!("lowerdir={l},upperdir={u},workdir={w}"))?),
        _ => None,
    };
    steps.push(Step::Optional(Box::new(Step::OverlayOrReadOnly {
        src,
        dst,
        data,
    })));
    Ok(steps)
}

/// The steps of the container's `/dev` under `merged`: a small tmpfs with the harmless devices
/// of the machine bound in, its own `pts` and `shm`, and the usual symlinks.
fn dev_steps(merged: &Path) -> Result<Vec<Step>> {
    let m = |p: &str| cstring(merged.join(p.trim_start_matches('/')));
    let mut steps = Vec::new();
    steps.push(mount(
        "tmpfs",
        "tmpfs",
        m("/dev")?,
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "mode=0755,size=1m",
    )?);
    for dev in DEVICES {
        let dst = m(&format!("/dev/{dev}"))?;
        steps.push(Step::Touch { path: dst.clone() });
        steps.push(Step::Bind {
            src: cstring(format!("/dev/{dev}"))?,
            dst,
        });
    }
    for (d, mode) in [("/dev/pts", 0o755), ("/dev/shm", 0o1777)] {
        steps.push(Step::Mkdir { path: m(d)?, mode });
    }
    steps.push(Step::Optional(Box::new(mount(
        "devpts",
        "devpts",
        m("/dev/pts")?,
        libc::MS_NOSUID | libc::MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )?)));
    steps.push(mount(
        "shm",
        "tmpfs",
        m("/dev/shm")?,
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "mode=1777,size=64m",
    )?);
    for (target, name) in [
        ("pts/ptmx", "/dev/ptmx"),
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ] {
        steps.push(Step::Symlink {
            target: cstring(target)?,
            path: m(name)?,
        });
    }
    Ok(steps)
}

/// Runs the holder (a child that builds the container's mount namespace, sends it and the
/// layer's root over a socket, and exits) and receives both descriptors.
fn run_holder(mut steps: Vec<Step>, layer_dir: CString) -> Result<(OwnedFd, OwnedFd)> {
    let (rx, tx) = std::os::unix::net::UnixStream::pair().context("cannot create a socket pair")?;
    steps.push(Step::SendMountNsAndDir(layer_dir));
    let mut cmd = Command::new("true");
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let fds = Fds {
        sock: tx.as_raw_fd(),
        ..Fds::default()
    };
    let spawned = spawn_with_steps(&mut cmd, steps, fds, "executing true");
    drop(tx);
    let mut child = spawned?;
    let status = child.wait().context("waiting for the holder")?;
    if !status.success() {
        bail!("the holder exited with {status}");
    }
    let (fds, _) = received_fds(&rx);
    let mut fds = fds.into_iter();
    match (fds.next(), fds.next()) {
        (Some(ns), Some(layer)) => Ok((ns, layer)),
        _ => bail!("the holder did not send its mount namespace and layer"),
    }
}

/// For each real directory of `PATH` (symlinks such as `/sbin → usr/sbin` resolved, duplicates
/// merged), the hidden tools that exist there under that name (file or symlink).
pub(crate) fn hiding_plan(path_var: &str, tools: &[String]) -> Result<Vec<(PathBuf, Vec<String>)>> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use child::send_fds;
    use std::fs::File;

    #[test]
    fn mountinfo_keeps_real_filesystems_parents_first() {
        let info = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
23 22 0:5 / /proc rw - proc proc rw
24 22 0:6 / /sys rw - sysfs sysfs rw
25 22 8:2 / /var/lib/docker rw - ext4 /dev/sda2 rw
26 22 0:7 / /dev rw - devtmpfs udev rw
27 22 0:30 / /tmp/fwt-fs-x/c rw - tmpfs tmpfs rw
28 22 0:31 / /run rw - tmpfs tmpfs rw
29 22 8:1 / /etc rw - ext4 /dev/sda1 rw
30 22 0:32 / /no\\040such rw - tmpfs tmpfs rw
";
        let got = machine_mounts(info, Path::new("/tmp/fwt-fs-x"));
        let paths: Vec<&Path> = got.iter().map(|s| s.path.as_path()).collect();
        assert_eq!(paths, [Path::new("/etc"), Path::new("/var/lib/docker")]);
        assert!(got.iter().all(|s| s.is_dir));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo("/x\\"), "/x\\");
        assert_eq!(unescape_mountinfo("/x\\09"), "/x\\09");
    }

    #[test]
    fn hiding_plan_merges_symlinked_dirs() {
        let plan = hiding_plan(
            crate::world::iut::IUT_PATH,
            &["sh".into(), "no-such-tool-xyz".into()],
        )
        .unwrap();
        // /bin → usr/bin on merged-/usr systems: one directory, not two.
        let dirs: Vec<_> = plan.iter().map(|(d, _)| d.clone()).collect();
        let mut dedup = dirs.clone();
        dedup.dedup();
        assert_eq!(dirs, dedup);
        assert!(plan.iter().all(|(_, t)| t == &["sh".to_owned()]));
        assert!(hiding_plan(crate::world::iut::IUT_PATH, &["../x".into()]).is_err());
    }

    #[test]
    fn descriptors_and_a_word_sent_over_the_socket_are_received() {
        let (rx, tx) = std::os::unix::net::UnixStream::pair().unwrap();
        let (fds, word) = received_fds(&rx);
        assert!(fds.is_empty() && word.is_none(), "nothing sent yet");
        let a = File::open("/proc/self/ns/mnt").unwrap();
        let b = File::open("/").unwrap();
        use std::os::fd::IntoRawFd;
        assert_eq!(
            send_fds(tx.as_raw_fd(), &[a.into_raw_fd(), b.into_raw_fd()], 4242),
            0
        );
        let (fds, word) = received_fds(&rx);
        assert_eq!(word, Some(4242));
        assert_eq!(fds.len(), 2);
        use std::os::unix::fs::MetadataExt;
        let mine = std::fs::metadata("/proc/self/ns/mnt").unwrap();
        let theirs = File::from(fds.into_iter().next().unwrap())
            .metadata()
            .unwrap();
        assert_eq!((theirs.dev(), theirs.ino()), (mine.dev(), mine.ino()));
    }
}
