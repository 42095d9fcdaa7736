//! The one seam to the system: running the firewall tools.
//!
//! Every command the firewall runs (`iptables-save`, `iptables-restore`, `ip6tables-restore`,
//! `ipset restore` / `swap` / `destroy`, `conntrack`) goes through [`Tools`], as an argument
//! vector (never a shell string) with its input on stdin. fw-core only declares the seam and
//! builds the commands: fw-cli's `system::tools::SystemTools` runs the real programs, and
//! fw-testkit's `kernel::FakeKernel` is a recording fake that behaves like the tools (it
//! rejects what they reject) and can be scripted to fail, for tests of every failure point.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::flow::{Tracked, parse_flows};

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

    /// Where `program` is installed, found without running it (a process start costs
    /// milliseconds; `fw-cli init` checks its tools before it changes anything).
    fn locate(&self, program: &str) -> Option<PathBuf>;

    fn installed(&self, program: &str) -> bool {
        self.locate(program).is_some()
    }

    /// The tables the legacy (x_tables) backend holds in this network namespace, as the kernel
    /// lists them, or `None` when that cannot be told without running its tools. Asking costs
    /// no process and, unlike `iptables-legacy-save -t nat`, does not create the table asked
    /// about.
    fn legacy_tables(&self, _v6: bool) -> Option<Vec<String>> {
        None
    }

    /// The tracked flows of this network namespace, both families. By default from
    /// `conntrack -L` ([`list_with_conntrack_tool`]).
    fn tracked_flows(&self) -> Result<Vec<Tracked>, ExecError> {
        list_with_conntrack_tool(self)
    }

    /// Deletes these flows and returns the deletions that failed; a flow that ended meanwhile
    /// is gone already, which is not a failure. By default with `conntrack -D`
    /// ([`delete_with_conntrack_tool`]).
    fn delete_flows(&self, flows: &[&Tracked]) -> Vec<ExecError> {
        delete_with_conntrack_tool(self, flows)
    }
}

/// The tracked flows as the `conntrack` tool lists them: `conntrack -L`, once per family.
pub fn list_with_conntrack_tool(tools: &(impl Tools + ?Sized)) -> Result<Vec<Tracked>, ExecError> {
    let mut out = Vec::new();
    for family in ["ipv4", "ipv6"] {
        let listed = tools.run(&Command::new("conntrack", ["-L", "-f", family]))?;
        out.extend(
            parse_flows(&listed.stdout)
                .into_iter()
                .map(|flow| Tracked { flow, key: None }),
        );
    }
    Ok(out)
}

/// Deletes flows with `conntrack -D`, one run each; the deletions that failed (a flow that
/// ended meanwhile is not a failure).
pub fn delete_with_conntrack_tool(
    tools: &(impl Tools + ?Sized),
    flows: &[&Tracked],
) -> Vec<ExecError> {
    flows
        .iter()
        .filter_map(|t| {
            tools
                .run(&Command::new("conntrack", t.flow.delete_args()))
                .err()
        })
        .filter(
            |e| !matches!(e, ExecError::Failed { stderr, .. } if stderr.contains("0 flow entries")),
        )
        .collect()
}

impl<T: Tools + ?Sized> Tools for &T {
    fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }

    fn locate(&self, program: &str) -> Option<PathBuf> {
        (**self).locate(program)
    }

    fn legacy_tables(&self, v6: bool) -> Option<Vec<String>> {
        (**self).legacy_tables(v6)
    }

    fn tracked_flows(&self) -> Result<Vec<Tracked>, ExecError> {
        (**self).tracked_flows()
    }

    fn delete_flows(&self, flows: &[&Tracked]) -> Vec<ExecError> {
        (**self).delete_flows(flows)
    }
}
