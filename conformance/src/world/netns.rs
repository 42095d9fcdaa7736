//! Network namespaces the sandbox creates, owns and deletes.
//!
//! A namespace belongs to a thread, so code never `setns`es inside an async task: [`Netns::run`]
//! and [`Netns::block_on`] run a closure on a dedicated OS thread that entered the namespace
//! (and, for async code, builds its own single-threaded runtime there); sockets created there
//! stay in the namespace. Long-lived services use [`Netns::spawn_service`].
//!
//! Names are `fwt-<pid>-<counter>-<role>`, so parallel runs never collide and [`sweep`] can
//! remove the leftovers of dead runs. Nothing here acts on a namespace it did not create: every
//! operation goes through a [`Netns`] value, whose inode is checked against the machine's own.

use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};
use tokio::sync::oneshot;

/// Prefix of every namespace the suite creates.
pub const PREFIX: &str = "fwt-";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The inode of a network namespace file.
fn inode(path: &str) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot stat {path}"))?
        .ino())
}

/// The inode of the machine's own network namespace: PID 1's when readable (it is not without
/// CAP_SYS_PTRACE), else the harness's own main thread's, which never leaves the namespace it
/// was started in.
pub fn root_inode() -> Result<u64> {
    inode("/proc/1/ns/net").or_else(|_| inode("/proc/self/ns/net"))
}

/// What a [`Netns`] value stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Created by the sandbox (`ip netns add`), deleted on drop.
    Owned,
    /// A Docker container's namespace the sandbox started, named with `ip netns attach`; drop
    /// removes the name only (the namespace lives as long as the container).
    Attached,
    /// The machine's own namespace, where Docker's bridges (the networks' gateways) live: only
    /// sockets (listeners and probes of the Docker networks' gateways), never a command or a
    /// rule.
    Machine,
}

/// A fresh `fwt-<pid>-<n>-<role>` name.
fn next_name(role: &str) -> Result<String> {
    let name = format!(
        "{PREFIX}{}-{}-{role}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    if name.len() > 200 || !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("bad namespace role {role:?}");
    }
    Ok(name)
}

/// A network namespace that exists for the life of the value (`ip netns add` / `del`), or a
/// handle on a test container's (see [`Netns::attach`]).
#[derive(Debug)]
pub struct Netns {
    name: String,
    inode: u64,
    kind: Kind,
}

fn run_checked(cmd: &mut Command) -> Result<Output> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

impl Netns {
    /// Creates `fwt-<pid>-<n>-<role>` with loopback up.
    pub fn create(role: &str) -> Result<Netns> {
        let name = next_name(role)?;
        run_checked(Command::new("ip").args(["netns", "add", &name]))
            .context("cannot create a network namespace (root and iproute2 are needed)")?;
        let ns = Netns {
            inode: inode(&format!("/run/netns/{name}"))?,
            name,
            kind: Kind::Owned,
        };
        if ns.inode == root_inode()? {
            bail!(
                "namespace {} is the machine's own: refusing to use it",
                ns.name
            );
        }
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Names the network namespace of a test container's process (`ip netns attach`), so that
    /// the sandbox can act in it like in its own. Refuses the machine's namespace.
    pub fn attach(role: &str, pid: u32) -> Result<Netns> {
        let name = next_name(role)?;
        let theirs = inode(&format!("/proc/{pid}/ns/net"))?;
        if theirs == root_inode()? {
            bail!("process {pid} runs in the machine's own namespace: refusing to use it");
        }
        run_checked(Command::new("ip").args(["netns", "attach", &name, &pid.to_string()]))
            .with_context(|| format!("cannot name the namespace of process {pid}"))?;
        let ns = Netns {
            inode: inode(&format!("/run/netns/{name}"))?,
            name,
            kind: Kind::Attached,
        };
        if ns.inode != theirs {
            bail!("namespace {} is not process {pid}'s", ns.name);
        }
        Ok(ns)
    }

    /// The machine's own namespace, for sockets only: Docker's bridges (the gateways of the
    /// test networks) live there. Every command and rule is refused in it.
    pub fn machine() -> Result<Netns> {
        Ok(Netns {
            name: "machine".to_owned(),
            inode: root_inode()?,
            kind: Kind::Machine,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// Checks, before anything is applied, that the bound namespace is still ours and is not
    /// the machine's own.
    pub fn ensure_ours(&self) -> Result<()> {
        if self.kind == Kind::Machine {
            bail!("refusing to act in the machine's own network namespace");
        }
        let now = inode(&self.path().to_string_lossy())?;
        if now != self.inode || now == root_inode()? {
            bail!(
                "namespace {} is not the one the sandbox created: refusing",
                self.name
            );
        }
        Ok(())
    }

    /// `ip -n NAME ARGS...`: acts inside the namespace only.
    pub fn ip(&self, args: &[&str]) -> Result<()> {
        self.ensure_ours()?;
        run_checked(Command::new("ip").arg("-n").arg(&self.name).args(args)).map(|_| ())
    }

    /// Runs a program inside the namespace (`ip netns exec`), checked, with optional stdin.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        self.ensure_ours()?;
        run_checked(
            Command::new("ip")
                .args(["netns", "exec", &self.name, program])
                .args(args),
        )
    }

    /// Runs a program inside the namespace with `input` on its stdin (`iptables-restore`,
    /// `ipset restore`), checked.
    pub fn exec_with_input(&self, program: &str, args: &[&str], input: &str) -> Result<Output> {
        use std::io::Write;
        self.ensure_ours()?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {program} in {}", self.name))?;
        // Written from a thread: a program that answers before reading all of its input must
        // not deadlock on a full pipe.
        let mut stdin = child.stdin.take().context("no stdin")?;
        let text = input.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
        let out = child
            .wait_with_output()
            .with_context(|| format!("cannot wait for {program} in {}", self.name))?;
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer of {program}'s input panicked"))?;
        if !out.status.success() {
            bail!(
                "{program} {args:?} in {} failed ({}): {}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        written.with_context(|| format!("cannot feed {program}"))?;
        Ok(out)
    }

    /// Runs a program inside the namespace and returns its output whatever its status.
    pub fn exec_unchecked(&self, program: &str, args: &[&str]) -> Result<Output> {
        self.ensure_ours()?;
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {program} in {}", self.name))
    }

    /// Sets a sysctl inside the namespace (`net.*` keys are per namespace).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")])
            .map(|_| ())
    }

    /// The path a thread enters to run in this namespace; `None` for the machine's own, where
    /// threads already are (only sockets run there: see [`Netns::machine`]).
    fn enterable(&self) -> Result<Option<PathBuf>> {
        if self.kind == Kind::Machine {
            return Ok(None);
        }
        self.ensure_ours()?;
        Ok(Some(self.path()))
    }

    /// Runs `f` on a fresh OS thread that entered this namespace.
    pub fn run<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let path = self.enterable()?;
        let handle = std::thread::Builder::new()
            .name(format!("ns-{}", self.name))
            .spawn(move || -> Result<R> {
                if let Some(path) = path {
                    enter_path(&path)?;
                }
                Ok(f())
            })
            .context("cannot spawn a namespace thread")?;
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("a thread in namespace {} panicked", self.name))?
    }

    /// Runs an async closure to completion on a thread in this namespace, with its own
    /// single-threaded runtime built after entering the namespace.
    pub fn block_on<R, F, Fut>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
    {
        self.run(move || -> Result<R> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a runtime")?;
            Ok(rt.block_on(f()))
        })?
    }

    /// Starts a long-lived service on a thread in this namespace. `f` gets a shutdown signal
    /// and should return when it fires; dropping the handle fires it and joins the thread.
    pub fn spawn_service<F, Fut>(&self, what: &str, f: F) -> Result<Service>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let path = self.enterable()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            .name(format!("svc-{what}"))
            .spawn(move || {
                let entered = match &path {
                    Some(p) => enter_path(p),
                    None => Ok(()),
                };
                let rt = match entered.and_then(|()| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("cannot build a runtime")
                }) {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(()));
                        rt
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(f(stop_rx));
            })
            .context("cannot spawn a service thread")?;
        ready_rx
            .recv()
            .context("the service thread died before starting")??;
        Ok(Service {
            what: what.to_owned(),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

/// Moves the calling thread (only it) into the network namespace bound at `path`. Only for
/// threads the caller owns and dedicates to that namespace.
#[allow(unsafe_code)]
pub fn enter_path(path: &std::path::Path) -> Result<()> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: setns(2) only reads the descriptor, which `f` keeps open for the call, and
    // touches no memory of ours; it switches the network namespace of the calling thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!(
            "cannot enter {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.kind == Kind::Machine {
            return;
        }
        // Owned: deletes the namespace; attached: removes the name only.
        match Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "cannot delete namespace {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("cannot delete namespace {}: {e}", self.name),
        }
    }
}

/// A running service; dropping it stops it and waits for its thread.
#[derive(Debug)]
pub struct Service {
    what: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            eprintln!("service {} panicked", self.what);
        }
    }
}

/// Deletes the namespaces of dead runs (`fwt-<pid>-...` whose pid no longer exists).
/// Returns the names removed.
pub fn sweep() -> Result<Vec<String>> {
    let out = run_checked(Command::new("ip").args(["netns", "list"]))?;
    let mut removed = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !run_is_dead(pid) {
            continue;
        }
        if Command::new("ip")
            .args(["netns", "del", name])
            .status()
            .is_ok_and(|s| s.success())
        {
            removed.push(name.to_owned());
        }
    }
    Ok(removed)
}

/// Whether the harness run with process id `pid` is over (not this process, not alive): what
/// it left behind may be removed.
pub(crate) fn run_is_dead(pid: u32) -> bool {
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether this process can create namespaces; `Err` says why not.
pub fn available() -> Result<()> {
    let ns = Netns::create("probe")?;
    drop(ns);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    use crate::testing::privileged;

    #[test]
    fn a_namespace_is_isolated_and_deleted_on_drop() {
        if !privileged() {
            return;
        }
        let ns = Netns::create("t").unwrap();
        let name = ns.name().to_owned();
        assert!(name.starts_with(&format!("fwt-{}-", std::process::id())));
        // A thread inside sees only loopback; the machine has more.
        let links = ns
            .run(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
            .unwrap();
        assert_eq!(links.lines().count(), 3, "{links}");
        let inode_inside = ns
            .run(|| std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino())
            .unwrap();
        assert_eq!(inode_inside, ns.inode());
        assert_ne!(inode_inside, root_inode().unwrap());
        drop(ns);
        assert!(!std::path::Path::new(&format!("/run/netns/{name}")).exists());
    }

    #[test]
    fn a_service_runs_in_its_namespace_until_dropped() {
        if !privileged() {
            return;
        }
        let ns = Netns::create("svc").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let svc = ns
            .spawn_service("echo", move |stop| async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                tokio::select! {
                    _ = stop => {}
                    _ = async { loop { let _ = l.accept().await; } } => {}
                }
            })
            .unwrap();
        let addr = rx.recv().unwrap();
        // Reachable from a thread inside the namespace.
        let inside = ns
            .block_on(move || async move { tokio::net::TcpStream::connect(addr).await.is_ok() })
            .unwrap();
        assert!(inside);
        drop(svc);
    }

    #[test]
    fn sweep_leaves_live_runs_alone() {
        if !privileged() {
            return;
        }
        let ns = Netns::create("keep").unwrap();
        let removed = sweep().unwrap();
        assert!(!removed.contains(&ns.name().to_owned()));
        assert!(ns.path().exists());
    }
}
