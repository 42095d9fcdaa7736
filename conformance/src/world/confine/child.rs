//! The child's side of the confinement: the steps it runs between `fork` and `exec`, as raw
//! system calls on data prepared before the fork (async-signal-safe: no allocation, no locks),
//! and the PID namespace's init.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result, bail};

/// Writes step index `i` on the step pipe (saturating at 255). Async-signal-safe.
pub(crate) fn tag(fd: i32, i: usize) {
    let t = [u8::try_from(i).unwrap_or(u8::MAX)];
    // SAFETY: write(2) of one byte from the stack.
    #[allow(unsafe_code)]
    unsafe {
        libc::write(fd, t.as_ptr().cast(), 1);
    }
}

/// Spawns `cmd` with `steps` run in the forked child before its exec. Each step's index is
/// written on a pipe before it runs, so a step that fails is named in the error ("mounting
/// proc on /proc: Operation not permitted"); `exec` names the exec itself. The descriptors of
/// `fds` must stay open until this returns.
pub(crate) fn spawn_with_steps(
    cmd: &mut std::process::Command,
    steps: Vec<Step>,
    fds: Fds,
    exec: &str,
) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    // Index `steps.len()` stands for the exec itself.
    let mut described: Vec<String> = steps.iter().map(Step::describe).collect();
    described.push(exec.to_owned());
    let (step_rx, step_tx) = step_pipe()?;
    let step_fd = step_tx.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec. It only makes async-signal-safe
    // system calls (write, umask, setns, unshare, mount, umount2, pivot_root, chdir, prctl,
    // capset, fork, waitpid, open, sendmsg, close) on data prepared before the fork or on its
    // own stack (`steps` owns every CString; the caller keeps the descriptors open until
    // `spawn` returns); it neither allocates nor takes locks. Errors are returned as raw OS
    // errors, which std reports to the parent without allocating. Only one process returns
    // from a `ForkInit` step; the processes it forks from never return (see `fork_init`).
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            let mut fds = fds;
            for (i, step) in steps.iter().enumerate() {
                tag(step_fd, i);
                if run_step(step, &mut fds) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            tag(step_fd, steps.len());
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(step_tx);
    spawned.map_err(|e| {
        let what = last_step(&step_rx)
            .and_then(|i| described.get(usize::from(i)))
            .map_or_else(|| exec.to_owned(), Clone::clone);
        anyhow::anyhow!("{what}: {e}")
    })
}

/// A mount(2) call.
#[derive(Debug)]
pub(crate) struct Mount {
    pub src: Option<CString>,
    pub dst: CString,
    pub fstype: Option<CString>,
    pub flags: libc::c_ulong,
    pub data: Option<CString>,
}

/// One step of a child's setup between `fork` and `exec`.
#[derive(Debug)]
pub(crate) enum Step {
    /// Set the file mode creation mask (the holder's directories get exactly their modes).
    Umask(libc::mode_t),
    EnterNetns,
    EnterMountNs,
    Unshare(i32),
    MakePrivate,
    SetHostname(CString),
    Mount(Mount),
    Bind {
        src: CString,
        dst: CString,
    },
    /// Bind `dst` onto itself and make it read-only (nosuid, nodev, noexec).
    ReadOnly(CString),
    Remount {
        dst: CString,
        flags: libc::c_ulong,
    },
    /// An overlay over `src` (writes in the layer); where overlayfs refuses the filesystem, a
    /// read-only bind of it.
    OverlayOrReadOnly {
        src: CString,
        dst: CString,
        data: Option<CString>,
    },
    Mkdir {
        path: CString,
        mode: u32,
    },
    /// A directory that may exist already.
    MkdirAny {
        path: CString,
    },
    /// An empty file (a bind target) that may exist already.
    Touch {
        path: CString,
    },
    Symlink {
        target: CString,
        path: CString,
    },
    PivotRoot(CString),
    /// Send this process's mount namespace and the directory `0` (the layer's root) on the
    /// socket (the holder's last step).
    SendMountNsAndDir(CString),
    /// Open the run's mount namespace (while the machine's /proc is still in view), to send it
    /// to the harness in [`Step::ForkInit`].
    OpenMountNs,
    /// Become the PID namespace's init (see [`fork_init`]); only the IUT's process goes on.
    ForkInit,
    Chdir(CString),
    DropCaps(Vec<u32>),
    /// Empty the inheritable and ambient capability sets.
    ClearInheritable,
    /// A step whose failure is ignored (a `/proc` file this kernel lacks).
    Optional(Box<Step>),
}

impl Step {
    pub(crate) fn describe(&self) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Step::Umask(m) => format!("setting the umask {m:o}"),
            Step::EnterNetns => "entering the container's network namespace".into(),
            Step::EnterMountNs => "entering the container's mount namespace".into(),
            Step::Unshare(_) => "creating the run's namespaces".into(),
            Step::MakePrivate => "making / private (MS_REC|MS_PRIVATE)".into(),
            Step::SetHostname(h) => format!("setting the hostname {}", s(h)),
            Step::Mount(m) => format!(
                "mounting {} on {}",
                m.fstype.as_ref().map_or_else(String::new, s),
                s(&m.dst)
            ),
            Step::Bind { src, dst } => format!("bind-mounting {} over {}", s(src), s(dst)),
            Step::ReadOnly(d) => format!("making {} read-only", s(d)),
            Step::Remount { dst, .. } => format!("remounting {}", s(dst)),
            Step::OverlayOrReadOnly { src, dst, .. } => {
                format!("carrying {} into the container at {}", s(src), s(dst))
            }
            Step::Mkdir { path, .. } | Step::MkdirAny { path } => {
                format!("creating {}", s(path))
            }
            Step::Touch { path } => format!("creating {}", s(path)),
            Step::Symlink { path, .. } => format!("creating the symlink {}", s(path)),
            Step::PivotRoot(r) => format!("changing the root to {}", s(r)),
            Step::OpenMountNs => "opening the run's mount namespace".into(),
            Step::SendMountNsAndDir(d) => {
                format!("sending the mount namespace and {}", s(d))
            }
            Step::ForkInit => "starting the PID namespace's init".into(),
            Step::Chdir(d) => format!("changing directory to {}", s(d)),
            Step::DropCaps(_) => "dropping capabilities from the bounding set".into(),
            Step::ClearInheritable => "emptying the inheritable capabilities".into(),
            Step::Optional(inner) => inner.describe(),
        }
    }
}

/// Descriptors the steps use.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fds {
    pub netns: i32,
    pub mnt_ns: i32,
    /// The socket on which the run's mount namespace and init's pid are sent.
    pub sock: i32,
    /// The run's own mount namespace, opened by [`Step::OpenMountNs`] (-1 before).
    pub own_mnt_ns: i32,
}

pub(crate) fn cstring(p: impl AsRef<OsStr>) -> Result<CString> {
    CString::new(p.as_ref().as_bytes()).context("a path holds a NUL byte")
}

/// One step in the forked child. Returns 0 or -1 (errno set). Async-signal-safe.
#[allow(unsafe_code)]
pub(crate) fn run_step(step: &Step, fds: &mut Fds) -> i32 {
    const NONE: *const libc::c_char = std::ptr::null();
    let opt = |c: &Option<CString>| c.as_ref().map_or(NONE, |c| c.as_ptr());
    // SAFETY (all below): raw system calls on NUL-terminated strings owned by `step`, which
    // outlives the call; null pointers where the calls expect optional arguments.
    unsafe {
        match step {
            Step::Umask(m) => {
                libc::umask(*m);
                0
            }
            Step::EnterNetns => libc::setns(fds.netns, libc::CLONE_NEWNET),
            Step::EnterMountNs => libc::setns(fds.mnt_ns, libc::CLONE_NEWNS),
            Step::Unshare(flags) => libc::unshare(*flags),
            Step::MakePrivate => libc::mount(
                NONE,
                c"/".as_ptr(),
                NONE,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            Step::SetHostname(h) => libc::sethostname(h.as_ptr(), h.as_bytes().len()),
            Step::Mount(m) => libc::mount(
                opt(&m.src),
                m.dst.as_ptr(),
                opt(&m.fstype),
                m.flags,
                opt(&m.data).cast(),
            ),
            Step::Bind { src, dst } => libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                NONE,
                libc::MS_BIND,
                std::ptr::null(),
            ),
            Step::ReadOnly(d) => read_only(d),
            Step::Remount { dst, flags } => libc::mount(
                NONE,
                dst.as_ptr(),
                NONE,
                libc::MS_BIND | libc::MS_REMOUNT | flags,
                std::ptr::null(),
            ),
            Step::OverlayOrReadOnly { src, dst, data } => overlay_or_read_only(src, dst, data),
            Step::Mkdir { path, mode } => libc::mkdir(path.as_ptr(), *mode),
            Step::MkdirAny { path } => mkdir_any(path),
            Step::Touch { path } => touch(path),
            Step::Symlink { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()),
            Step::PivotRoot(root) => pivot_root(root),
            Step::OpenMountNs => {
                fds.own_mnt_ns = libc::open(
                    c"/proc/self/ns/mnt".as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                );
                if fds.own_mnt_ns < 0 { -1 } else { 0 }
            }
            Step::SendMountNsAndDir(dir) => send_mount_ns_and_dir(fds.sock, dir),
            Step::ForkInit => fork_init(fds.sock, fds.own_mnt_ns),
            Step::Chdir(d) => libc::chdir(d.as_ptr()),
            Step::DropCaps(caps) => drop_caps(caps),
            Step::ClearInheritable => clear_inheritable(),
            Step::Optional(inner) => {
                run_step(inner, fds);
                0
            }
        }
    }
}

/// Mounts an overlay on `dst` when `data` is given and the kernel takes it; otherwise binds
/// `src` read-only on `dst`. Async-signal-safe.
#[allow(unsafe_code)]
fn overlay_or_read_only(src: &CString, dst: &CString, data: &Option<CString>) -> i32 {
    const NONE: *const libc::c_char = std::ptr::null();
    // SAFETY: mount(2) on NUL-terminated strings owned by the caller.
    unsafe {
        if let Some(data) = data
            && libc::mount(
                c"overlay".as_ptr(),
                dst.as_ptr(),
                c"overlay".as_ptr(),
                libc::MS_NODEV,
                data.as_ptr().cast(),
            ) == 0
        {
            return 0;
        }
        let rc = libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            NONE,
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        );
        if rc != 0 {
            return rc;
        }
    }
    read_only(dst)
}

/// mkdir(2) that takes an existing entry as success. Async-signal-safe.
#[allow(unsafe_code)]
fn mkdir_any(path: &CString) -> i32 {
    // SAFETY: mkdir(2) on a NUL-terminated path owned by the caller; errno is thread-local.
    unsafe {
        let rc = libc::mkdir(path.as_ptr(), 0o755);
        if rc != 0 && *libc::__errno_location() == libc::EEXIST {
            0
        } else {
            rc
        }
    }
}

/// Creates an empty file (not through a symlink) if there is none. Async-signal-safe.
#[allow(unsafe_code)]
fn touch(path: &CString) -> i32 {
    // SAFETY: open(2) on a NUL-terminated path owned by the caller, close(2) on its result.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644,
        );
        if fd < 0 {
            return -1;
        }
        libc::close(fd)
    }
}

/// Makes `root` the root. pivot_root(".", "."): the old root is stacked under the new one and
/// then detached, so nothing of the machine's tree stays reachable. Async-signal-safe.
#[allow(unsafe_code)]
fn pivot_root(root: &CString) -> i32 {
    // SAFETY: raw system calls on NUL-terminated strings (`root`, owned by the caller, and
    // literals).
    unsafe {
        if libc::chdir(root.as_ptr()) != 0 {
            return -1;
        }
        let dot = c".".as_ptr();
        if libc::syscall(libc::SYS_pivot_root, dot, dot) != 0 {
            return -1;
        }
        if libc::umount2(dot, libc::MNT_DETACH) != 0 {
            return -1;
        }
        libc::chdir(c"/".as_ptr())
    }
}

/// Sends the current mount namespace and `dir` (as an `O_PATH` descriptor) on `sock`.
/// Async-signal-safe.
#[allow(unsafe_code)]
fn send_mount_ns_and_dir(sock: i32, dir: &CString) -> i32 {
    // SAFETY: open(2) on NUL-terminated paths (a literal, and `dir`, owned by the caller).
    let (ns, layer) = unsafe {
        (
            libc::open(
                c"/proc/self/ns/mnt".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            ),
            libc::open(
                dir.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            ),
        )
    };
    if ns < 0 || layer < 0 {
        return -1;
    }
    send_fds(sock, &[ns, layer], 0)
}

/// Drops `caps` from the bounding set. Async-signal-safe.
#[allow(unsafe_code)]
fn drop_caps(caps: &[u32]) -> i32 {
    for &c in caps {
        // SAFETY: prctl(2) with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAPBSET_DROP,
                libc::c_ulong::from(c),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            return rc;
        }
    }
    0
}

/// Binds `d` onto itself and remounts it read-only. Async-signal-safe.
#[allow(unsafe_code)]
fn read_only(d: &CString) -> i32 {
    const NONE: *const libc::c_char = std::ptr::null();
    // SAFETY: mount(2) on a NUL-terminated path owned by the caller.
    unsafe {
        if libc::mount(
            d.as_ptr(),
            d.as_ptr(),
            NONE,
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ) != 0
        {
            return -1;
        }
        libc::mount(
            NONE,
            d.as_ptr(),
            NONE,
            libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    }
}

/// Empties the inheritable set (capset(2), keeping effective and permitted) and the ambient
/// set, so that nothing beyond the bounding set survives the exec. Async-signal-safe.
#[allow(unsafe_code)]
fn clear_inheritable() -> i32 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget/capset with a version-3 header and two data structs, as the ABI asks.
    unsafe {
        if libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) != 0 {
            return -1;
        }
        for d in &mut data {
            d.inheritable = 0;
        }
        if libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) != 0 {
            return -1;
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
    0
}

/// Closes every descriptor but `keep`. Async-signal-safe.
#[allow(unsafe_code)]
fn close_all_but(keep: i32) {
    let keep = u32::try_from(keep).unwrap_or(0);
    // SAFETY: close_range(2) and close(2) on descriptor numbers; nothing is borrowed.
    unsafe {
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0u32);
        }
        if libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32) != 0 {
            for fd in (keep + 1)..4096 {
                libc::close(fd as i32);
            }
        }
    }
}

/// The PID namespace's init, made of the child that runs the steps (created after
/// `unshare(CLONE_NEWPID)`, so its first child is pid 1 of the new namespace):
///
/// - the outer process (the harness's child, in the harness's PID namespace) sends the run's
///   mount namespace (`mnt_ns`) and init's pid on `sock`, closes every descriptor (so the IUT's output
///   pipes close when the IUT's side does), waits for init and then ends exactly as the IUT
///   did (same exit status or same signal);
/// - init (pid 1) dies with the outer process, forks the IUT's process, reaps every orphan,
///   and when the IUT's process has ended kills everything left in the namespace, reaps it,
///   reports the IUT's wait status to the outer process and exits;
/// - the IUT's process (pid 2) returns 0 and goes on with the steps and the exec.
///
/// Returns -1 (errno set) when a fork fails. Async-signal-safe.
#[allow(unsafe_code)]
fn fork_init(sock: i32, mnt_ns: i32) -> i32 {
    // SAFETY: raw system calls on descriptors and stack buffers of this frame.
    unsafe {
        let mut st = [0i32; 2];
        if libc::pipe2(st.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return -1;
        }
        let init = libc::fork();
        if init < 0 {
            return -1;
        }
        if init > 0 {
            // The outer process.
            send_fds(sock, &[mnt_ns], u32::try_from(init).unwrap_or(0));
            close_all_but(st[0]);
            // No core dump of this copy of the harness when it re-raises a signal.
            libc::prctl(
                libc::PR_SET_DUMPABLE,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            );
            let mut status = 0;
            while libc::waitpid(init, &mut status, 0) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            let mut raw = [0u8; 4];
            let n = libc::read(st[0], raw.as_mut_ptr().cast(), 4);
            if n == 4 {
                status = i32::from_ne_bytes(raw);
            }
            mirror(status)
        }
        // Init (pid 1).
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
        let iut = libc::fork();
        if iut == 0 {
            return 0;
        }
        close_all_but(st[1]);
        if iut < 0 {
            libc::_exit(126);
        }
        let mut saved: Option<i32> = None;
        loop {
            let mut s = 0;
            let p = libc::waitpid(-1, &mut s, 0);
            if p == iut {
                saved = Some(s);
                // kill(-1) from init: every other process of the namespace.
                libc::kill(-1, libc::SIGKILL);
            } else if p < 0 && *libc::__errno_location() != libc::EINTR {
                break;
            }
        }
        if let Some(s) = saved {
            let raw = s.to_ne_bytes();
            libc::write(st[1], raw.as_ptr().cast(), 4);
        }
        libc::_exit(0)
    }
}

/// Ends this process as a wait status says: the same exit code, or the same signal.
#[allow(unsafe_code)]
fn mirror(status: i32) -> ! {
    // SAFETY: signal disposition, mask and kill(2) of this process; then _exit.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig)
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Sends `fds` and a 4-byte `word` over `sock` (SCM_RIGHTS). Returns 0 or -1.
/// Async-signal-safe: sendmsg on stack data.
#[allow(unsafe_code)]
pub(crate) fn send_fds(sock: i32, fds: &[i32], word: u32) -> i32 {
    const MAX: usize = 4;
    if fds.len() > MAX {
        return -1;
    }
    // SAFETY: the control buffer is 8-byte aligned and larger than CMSG_SPACE of four
    // descriptors, so CMSG_FIRSTHDR is non-null and CMSG_DATA points inside it.
    unsafe {
        let mut bytes = word.to_ne_bytes();
        let mut iov = libc::iovec {
            iov_base: bytes.as_mut_ptr().cast(),
            iov_len: bytes.len(),
        };
        let mut control = [0u64; 8];
        let len = size_of_val(fds) as u32;
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(len) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        if cmsg.is_null() {
            return -1;
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(len) as _;
        let data = libc::CMSG_DATA(cmsg).cast::<i32>();
        for (i, fd) in fds.iter().enumerate() {
            std::ptr::write_unaligned(data.add(i), *fd);
        }
        if libc::sendmsg(sock, &raw const msg, libc::MSG_NOSIGNAL) < 0 {
            return -1;
        }
        for fd in fds {
            libc::close(*fd);
        }
    }
    0
}

/// The descriptors and the word waiting on `sock`, if something was sent (never blocks).
pub(crate) fn received_fds(sock: &std::os::unix::net::UnixStream) -> (Vec<OwnedFd>, Option<u32>) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut word = [0u8; 4];
    let mut iov = [std::io::IoSliceMut::new(&mut word)];
    let mut control = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let Ok(msg) = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    ) else {
        return (Vec::new(), None);
    };
    let n = msg.bytes;
    let mut got = Vec::new();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    // SAFETY: the kernel installed this descriptor for us; nothing else owns it.
                    #[allow(unsafe_code)]
                    got.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
    }
    (got, (n == 4).then(|| u32::from_ne_bytes(word)))
}

/// A close-on-exec pipe on which the child writes the index of each setup step before running
/// it: when `spawn` fails, the last index says which step failed.
#[allow(unsafe_code)]
pub(crate) fn step_pipe() -> Result<(File, OwnedFd)> {
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
pub(crate) fn last_step(mut r: &File) -> Option<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf.last().copied()
}
