//! The one seam to the system: running the firewall tools.
//!
//! Every command fw-core runs (`iptables-save`, `iptables-restore`, `ip6tables-restore`,
//! `ipset restore` / `swap` / `destroy`, `conntrack`) goes through [`Tools`], as an argument
//! vector (never a shell string) with its input on stdin. [`SystemTools`] runs the real
//! programs; [`fake::FakeKernel`] is a recording fake that behaves like the tools (it rejects
//! what they reject) and can be scripted to fail, for tests of every failure point.

use std::fmt;
use std::io::{Read, Write};
use std::process::{Command as ProcessCommand, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod fake;

/// A command to run: program, argument vector, optional stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    #[serde(skip)]
    pub stdin: Option<String>,
}

impl Command {
    pub fn new<I, S>(program: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// Feeds `input` on stdin.
    pub fn stdin(mut self, input: impl Into<String>) -> Self {
        self.stdin = Some(input.into());
        self
    }
}

impl fmt::Display for Command {
    /// The command line as a person would type it, for messages only (never executed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for a in &self.args {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                write!(f, " {a:?}")?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

/// What a successful command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Why a command did not succeed. Every variant names the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("{program} is not installed (not found on PATH)")]
    NotFound { program: String },
    #[error("could not run {command}: {reason}")]
    Spawn { command: String, reason: String },
    #[error("{command} failed with exit status {status}: {stderr}")]
    Failed {
        command: String,
        /// The exit status, or -1 when killed by a signal.
        status: i32,
        stderr: String,
    },
    #[error("{command} did not finish within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
}

impl ExecError {
    /// The program is missing: the caller names its Debian package.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ExecError::NotFound { .. })
    }
}

/// Runs the firewall tools. Implementations return `Ok` only for exit status 0.
pub trait Tools: Send + Sync {
    fn run(&self, cmd: &Command) -> Result<Output, ExecError>;
}

impl<T: Tools + ?Sized> Tools for &T {
    fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }
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
/// 100,000 entries) can never block the child on a full pipe.
fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

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
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ExecError::Timeout {
                        command: shown,
                        timeout: self.timeout,
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
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
