//! The real firewall tools: fw-core's [`Tools`] seam, implemented for this system.
//!
//! [`SystemTools`] runs each command as a child process, an argument vector (never a shell
//! string) with its input on stdin, with a time limit; answers what it can without a process
//! (where a program is installed, which legacy tables the kernel holds); and lists and cuts
//! tracked flows over netlink ([`super::ctnetlink`]). fw-testkit's `FakeKernel` is its fake.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as ProcessCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fw_core::exec::{Command, ExecError, Output, Tools};
use fw_core::flow::Tracked;

use super::ctnetlink;

/// The first executable file called `name` in a `PATH` value (relative entries are skipped:
/// the firewall runs as root and must not run a program from the working directory).
pub fn find_on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The real tools, run as child processes with a time limit.
#[derive(Debug, Clone)]
pub struct SystemTools {
    pub timeout: Duration,
}

impl Default for SystemTools {
    fn default() -> Self {
        SystemTools {
            timeout: Duration::from_secs(60),
        }
    }
}

/// Standard streams are drained on their own threads so a large output (an `ipset save` of
/// 100,000 entries) can never block the child on a full pipe. Each thread says on `closed` when
/// its stream has ended.
fn drain<R: Read + Send + 'static>(
    r: Option<R>,
    closed: mpsc::Sender<()>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        let _ = closed.send(());
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The longest sleep between two looks at a child that closed its streams but has not exited.
const MAX_POLL: Duration = Duration::from_millis(5);

impl Tools for SystemTools {
    fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
        let shown = cmd.to_string();
        let mut child = ProcessCommand::new(&cmd.program)
            .args(&cmd.args)
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    ExecError::NotFound {
                        program: cmd.program.clone(),
                    }
                } else {
                    ExecError::Spawn {
                        command: shown.clone(),
                        reason: e.to_string(),
                    }
                }
            })?;
        let writer = match (child.stdin.take(), cmd.stdin.clone()) {
            (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
                // A tool that exits early closes the pipe; its exit status tells why.
                let _ = pipe.write_all(input.as_bytes());
            })),
            _ => None,
        };
        let start = Instant::now();
        let deadline = start + self.timeout;
        let (closed_tx, closed_rx) = mpsc::channel();
        let out = drain(child.stdout.take(), closed_tx.clone());
        let err = drain(child.stderr.take(), closed_tx);
        let timed_out = |mut child: std::process::Child| {
            let _ = child.kill();
            let _ = child.wait();
            ExecError::Timeout {
                command: shown.clone(),
                timeout: self.timeout,
            }
        };
        // The child's streams close when it exits: waiting for them costs no polling delay,
        // which matters for tools that finish in a millisecond or two.
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match closed_rx.recv_timeout(left) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(timed_out(child)),
            }
        }
        // A child that closed its streams but is still running gets the rest of its time.
        let mut pause = Duration::from_micros(50);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => return Err(timed_out(child)),
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_POLL);
                }
                Err(e) => {
                    return Err(ExecError::Spawn {
                        command: shown,
                        reason: e.to_string(),
                    });
                }
            }
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if status.success() {
            Ok(Output { stdout, stderr })
        } else {
            Err(ExecError::Failed {
                command: shown,
                status: status.code().unwrap_or(-1),
                stderr: stderr.trim().to_owned(),
            })
        }
    }

    fn locate(&self, program: &str) -> Option<PathBuf> {
        if program.contains('/') {
            let path = Path::new(program);
            return is_executable(path).then(|| path.to_owned());
        }
        find_on_path(&std::env::var_os("PATH")?, program)
    }

    /// `/proc/net/ip_tables_names` (`ip6_tables_names`): missing when the kernel has no legacy
    /// iptables loaded, so no namespace holds a legacy table.
    fn legacy_tables(&self, v6: bool) -> Option<Vec<String>> {
        let path = if v6 {
            "/proc/net/ip6_tables_names"
        } else {
            "/proc/net/ip_tables_names"
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text.lines().map(|l| l.trim().to_owned()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Vec::new()),
            Err(_) => None,
        }
    }

    /// Over netlink: one dump of both families, no `conntrack` process.
    fn tracked_flows(&self) -> Result<Vec<Tracked>, ExecError> {
        ctnetlink::tracked_flows()
    }

    /// Over netlink, each flow by the kernel's own tuple and id.
    fn delete_flows(&self, flows: &[&Tracked]) -> Vec<ExecError> {
        ctnetlink::delete_flows(self, flows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn runs_with_an_argument_vector_and_stdin() {
        let tools = SystemTools::default();
        let out = tools
            .run(&Command::new("cat", ["-"]).stdin("a b; $(c)\n"))
            .unwrap();
        assert_eq!(out.stdout, "a b; $(c)\n");
        // The argument is one argument, not a shell string.
        let out = tools
            .run(&Command::new("printf", ["%s|", "a b", "$(id)"]))
            .unwrap();
        assert_eq!(out.stdout, "a b|$(id)|");
    }

    #[test]
    fn carries_status_and_stderr_into_the_error() {
        let err = SystemTools::default()
            .run(&Command::new("sh", ["-c", "echo boom >&2; exit 3"]))
            .unwrap_err();
        assert_eq!(
            err,
            ExecError::Failed {
                command: "sh -c \"echo boom >&2; exit 3\"".into(),
                status: 3,
                stderr: "boom".into()
            }
        );
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = SystemTools::default()
            .run(&Command::new("fw-no-such-tool", Vec::<String>::new()))
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            "fw-no-such-tool is not installed (not found on PATH)"
        );
    }

    #[test]
    fn installed_looks_on_path_without_running_anything() {
        let tools = SystemTools::default();
        assert!(tools.installed("sh"));
        assert!(tools.installed("/bin/sh"));
        assert!(!tools.installed("fw-no-such-tool"));
        assert!(!tools.installed("/nonexistent/sh"));
        // A directory on PATH is not a program, and relative PATH entries are never searched.
        let dir = std::env::temp_dir();
        assert!(find_on_path(dir.as_os_str(), "").is_none());
        assert!(find_on_path(OsStr::new("bin:usr/bin"), "sh").is_none());
        assert!(find_on_path(OsStr::new("/nonexistent:/bin:/usr/bin"), "sh").is_some());
    }

    #[test]
    fn legacy_tables_are_read_without_running_a_tool() {
        // Whatever this machine has loaded, the answer is a list (possibly empty), and
        // every name in it is a table name.
        let tables = SystemTools::default().legacy_tables(false).unwrap();
        assert!(
            tables
                .iter()
                .all(|t| ["filter", "nat", "mangle", "raw", "security"].contains(&t.as_str())),
            "{tables:?}"
        );
    }

    #[test]
    fn a_child_that_keeps_running_after_closing_its_streams_is_still_timed_out() {
        let tools = SystemTools {
            timeout: Duration::from_millis(300),
        };
        let err = tools
            .run(&Command::new(
                "sh",
                ["-c", "exec >/dev/null 2>&1 </dev/null; sleep 10"],
            ))
            .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
    }

    #[test]
    fn a_hung_tool_is_killed() {
        let tools = SystemTools {
            timeout: Duration::from_millis(200),
        };
        let err = tools.run(&Command::new("sleep", ["10"])).unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
    }

    #[test]
    fn a_large_input_and_output_do_not_block() {
        let big = "x".repeat(4 << 20);
        let out = SystemTools::default()
            .run(&Command::new("cat", Vec::<String>::new()).stdin(big.clone()))
            .unwrap();
        assert_eq!(out.stdout.len(), big.len());
    }
}
