//! A throwaway network namespace for fw-cli's privileged tests: created with `ip netns add`,
//! acted on with `ip -n` or from a thread that entered it with `setns`, deleted by a guard (on
//! panic too). Nothing in the machine's own namespace is touched.

#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// A network namespace that exists for the life of the value.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: String) -> Result<Netns, String> {
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run `ip netns add`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`ip netns add {name}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Netns { name })
    }

    /// Runs `ip -n NAME ARGS...`, which acts inside the namespace only.
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        match Command::new("ip")
            .args(["netns", "del", &self.name])
            .status()
        {
            Ok(s) if s.success() => {}
            other => eprintln!("cannot delete netns {}: {other:?}", self.name),
        }
    }
}

/// Moves the calling thread (only it) into the network namespace bound at `path`.
#[allow(unsafe_code)]
pub fn enter_netns(path: &str) -> io::Result<()> {
    let ns = File::open(path)?;
    // SAFETY: setns(2) only reads the descriptor, which `ns` keeps open for the duration of the
    // call, and touches no memory of ours. It switches the network namespace of the calling
    // thread alone; the only caller is a thread this test spawns for the purpose and lets end.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Not being able to run is fine on a developer's machine, not in CI.
pub fn cannot_run(why: &str) {
    fw_testkit::ci::may_run_or_panic(Some(why.to_owned()), "this test", "this test");
}

/// Runs `f` on a thread of its own that entered namespace `ns`.
pub fn in_netns<R: Send + 'static>(ns: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        enter_netns(&path).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// A namespace named after `role` and this process, or `None` (and why, through
/// [`cannot_run`]) when this is not root or namespaces cannot be made.
pub fn netns_for(role: &str) -> Option<Netns> {
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid());
    if euid.as_ref().ok() != Some(&0) {
        cannot_run(&format!("not root (euid {euid:?})"));
        return None;
    }
    match Netns::create(format!("fwt-{role}-{}", std::process::id())) {
        Ok(ns) => Some(ns),
        Err(why) => {
            cannot_run(&why);
            None
        }
    }
}
