//! Files written into the container from the machine's side, resolved beneath the container's
//! root: a symlink in the image, or one the implementation planted, never leads to a file of
//! the machine.

use std::ffi::CString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result, bail};

/// `openat2(2)` of `path` relative to `dir`, resolved as if `dir` were the root
/// (`RESOLVE_IN_ROOT`: absolute symlinks and `..` stay beneath it) and without following magic
/// links (`/proc/.../root` and the like).
#[allow(unsafe_code)]
fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: i32,
    mode: u32,
) -> std::io::Result<OwnedFd> {
    let c = CString::new(path)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL in a path"))?;
    // SAFETY: `open_how` is a plain C struct of integers; openat2(2) wants it zero-filled
    // before the fields it uses are set.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::from((flags | libc::O_CLOEXEC).cast_unsigned());
    how.mode = u64::from(mode);
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: the path is a NUL-terminated string and `how` a valid `open_how` of the size
    // passed, both alive for the call; `dir` is an open descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &raw const how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("openat2 returned no fd"))?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(2)` or `unlinkat(2)` of one name in `dir`.
#[allow(unsafe_code)]
fn at_call(dir: BorrowedFd<'_>, name: &str, mkdir: bool) -> std::io::Result<()> {
    let c = CString::new(name)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL in a path"))?;
    // SAFETY: `dir` is an open descriptor and `c` a NUL-terminated name alive for the call.
    let rc = unsafe {
        if mkdir {
            libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755)
        } else {
            libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0)
        }
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes `bytes` to `inside` (an absolute path of the container) with `mode`, the way the
/// container would see it: every component resolved beneath `root` ([`open_beneath`]), missing
/// directories created, and a symlink in the last place replaced by the file. A symlink in the
/// image or one the implementation planted (`/tmp -> /etc`, `/tmp/.firewall-init-done ->
/// /etc/passwd`) thus never makes the harness write a file of the machine.
pub fn write_beneath(root: BorrowedFd<'_>, inside: &str, bytes: &[u8], mode: u32) -> Result<()> {
    let comps: Vec<&str> = inside.split('/').filter(|c| !c.is_empty()).collect();
    let Some((name, dirs)) = comps.split_last() else {
        bail!("{inside:?} names no file");
    };
    if comps.iter().any(|c| *c == "." || *c == "..") {
        bail!("{inside:?} is not a plain absolute path");
    }
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
    let mut parent = open_beneath(root, ".", dir_flags, 0).context("cannot open the root")?;
    for (i, comp) in dirs.iter().enumerate() {
        let so_far = dirs[..=i].join("/");
        parent = match open_beneath(root, &so_far, dir_flags, 0) {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match at_call(parent.as_fd(), comp, true) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => return Err(e).with_context(|| format!("cannot create /{so_far}")),
                }
                open_beneath(root, &so_far, dir_flags, 0)
                    .with_context(|| format!("cannot open /{so_far}"))?
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open /{so_far}")),
        };
    }
    let file_flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW;
    let fd = match open_beneath(parent.as_fd(), name, file_flags, mode) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            at_call(parent.as_fd(), name, false)
                .with_context(|| format!("cannot remove the symlink at {inside}"))?;
            open_beneath(parent.as_fd(), name, file_flags, mode)
        }
        other => other,
    }
    .with_context(|| format!("cannot open {inside} for writing"))?;
    let mut file = File::from(fd);
    file.write_all(bytes)
        .with_context(|| format!("cannot write {inside}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {inside}"))?;
    }
    Ok(())
}
