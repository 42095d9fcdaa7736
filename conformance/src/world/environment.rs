//! What the implementation's run says about the machine rather than about the firewall: the
//! commands it called that the sandbox does not have ("environment incomplete"), how a run
//! ended, in words, and whether the implementation can be started at all.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The commands a run's output says were missing, sorted, each once.
///
/// Recognised, on any line of stdout or stderr:
/// - bash, sudo: `[PROG: ][line N: ]NAME: command not found`;
/// - zsh: `zsh: command not found: NAME`;
/// - dash (`sh`): `PROG: N: NAME: not found`;
/// - env, nohup, timeout, nice, stdbuf, setsid, xargs...: `/usr/bin/env: 'NAME': No such file
///   or directory` (straight or curly quotes), `nohup: failed to run command 'NAME': No such
///   file or directory`;
/// - a script's missing interpreter: `PROG: ./x.sh: /bin/zsh: bad interpreter: No such file or
///   directory`.
///
/// A bare `line N: PATH: No such file or directory` is not taken: bash prints the same for a
/// redirection to a missing directory, which is no missing command.
pub fn missing_commands(output: &str) -> Vec<String> {
    let mut found = BTreeSet::new();
    for line in output.lines() {
        if let Some(name) = missing_on_line(line.trim_end_matches('\r').trim()) {
            found.insert(name);
        }
    }
    found.into_iter().collect()
}

/// Programs that run another command by name and report a missing one as `'NAME': No such
/// file or directory`.
const RUNNERS: &[&str] = &[
    "env", "nohup", "timeout", "nice", "stdbuf", "setsid", "xargs", "chrt", "ionice", "taskset",
    "flock", "runuser", "unshare", "nsenter", "chroot",
];

fn missing_on_line(line: &str) -> Option<String> {
    let parts: Vec<&str> = line.split(": ").collect();
    let n = parts.len();
    if let Some(rest) = line.strip_prefix("zsh: command not found: ") {
        return valid(rest);
    }
    if n >= 2 && parts[n - 1] == "command not found" {
        return valid(parts[n - 2]);
    }
    // dash's `PROG: N: NAME: not found`, and bash's `exec: NAME: not found`.
    if n >= 3
        && parts[n - 1] == "not found"
        && (parts[n - 3] == "exec"
            || (n >= 4
                && !parts[n - 3].is_empty()
                && parts[n - 3].chars().all(|c| c.is_ascii_digit())))
    {
        return valid(parts[n - 2]);
    }
    if n >= 3 && parts[n - 1] == "No such file or directory" {
        if parts[n - 2] == "bad interpreter" && n >= 4 {
            return valid(parts[n - 3]);
        }
        let runner = Path::new(parts[0].trim())
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n == 3 && RUNNERS.contains(&runner.as_str()) {
            let what = parts[1]
                .strip_prefix("failed to run command ")
                .unwrap_or(parts[1]);
            return unquote(what)
                .or_else(|| (runner == "xargs").then_some(what))
                .and_then(valid);
        }
    }
    None
}

/// `'x'`, `‘x’` or `"x"` without its quotes.
fn unquote(s: &str) -> Option<&str> {
    for (open, close) in [('\'', '\''), ('‘', '’'), ('"', '"')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return Some(inner);
        }
    }
    None
}

/// A plausible command name: printable, no white space, not too long.
fn valid(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        && name != "."
        && name != "..";
    ok.then(|| name.to_owned())
}

/// The file name of a command, for comparing with the tools a scenario hides.
pub fn command_base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The text shown once at the top of the reports when commands were missing.
pub fn incomplete_note(missing: &[String], incomplete_cases: usize) -> String {
    let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
    format!(
        "Environment incomplete: the implementation called {} that the sandbox does not have: {}. \
         The {incomplete_cases} case(s) that failed where a command was missing are marked \
         \"environment incomplete\": they fail, but say nothing yet about the firewall. Install \
         the missing commands where the implementation runs (for the netns tier: on this \
         machine, whose tools it uses), or judge it in your own image that has them with the \
         Docker tier: `fw-conformance run --tier docker --image IMAGE --impl ...`.",
        if missing.len() == 1 {
            "a command"
        } else {
            "commands"
        },
        names.join(", ")
    )
}

/// A signal's name (`SIGSEGV`), or its number in words when unknown.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    format!("signal {sig} ({name})")
}

/// How a run ended, as the end of a sentence whose subject is the run ("init exited 6", "init
/// was killed by signal 11 (SIGSEGV)", "init did not finish within the time limit (killed after
/// 5 s)"); `None` for success.
pub fn ending(
    status: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
) -> Option<String> {
    if timed_out {
        return Some(format!(
            "did not finish within the time limit (killed after {:.0} s)",
            elapsed.as_secs_f64()
        ));
    }
    match (status, signal) {
        (Some(0), _) => None,
        (Some(code), _) => Some(format!("exited {code}")),
        (None, Some(sig)) => Some(format!("was killed by {}", signal_name(sig))),
        (None, None) => Some("ended without an exit status".to_owned()),
    }
}

/// Why an implementation cannot be started at all: bad usage, found before any sandbox is
/// built; nothing is judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStartable {
    #[error("the implementation's command line is empty")]
    Empty,
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is not a file")]
    NotAFile(PathBuf),
    #[error("{0} is not executable (chmod +x it, or name its interpreter: --impl 'bash {0}')")]
    NotExecutable(PathBuf),
    #[error("{program} is not on the implementation's PATH ({path})")]
    NotOnPath { program: String, path: String },
    #[error(
        "the interpreter of {script}, {interpreter}, does not exist on this machine (install it, \
         or judge the script in an image that has it: --tier docker --image IMAGE)"
    )]
    NoInterpreter {
        script: PathBuf,
        interpreter: PathBuf,
    },
    #[error("the script {script} that {shell} is asked to run does not exist")]
    NoScript { shell: String, script: PathBuf },
}

/// Shells whose first operand is a script file.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"];

/// Checks, on this machine, that `argv` can be started the way the netns tier starts it:
/// `argv[0]` an executable file (found on `path` when it is a bare name), its `#!` interpreter
/// present, and, for a shell (`bash x.sh`), the script file present.
///
/// The decision (README, "Exit codes"): an implementation that cannot be started at all is bad
/// usage (`fw-conformance run` exits 2 before building any sandbox), not a broken script to
/// judge: a typo in `--impl` should not read as 47 failed requirements. One that starts and
/// then fails, for whatever reason, is judged.
pub fn check_startable(argv: &[String], path: &str) -> Result<(), NotStartable> {
    let Some(program) = argv.first() else {
        return Err(NotStartable::Empty);
    };
    let file = if program.contains('/') {
        PathBuf::from(program)
    } else {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(program))
            .find(|c| c.is_file())
            .ok_or_else(|| NotStartable::NotOnPath {
                program: program.clone(),
                path: path.to_owned(),
            })?
    };
    executable(&file)?;
    if let Some(interpreter) = shebang(&file)
        && executable(&interpreter).is_err()
    {
        return Err(NotStartable::NoInterpreter {
            script: file,
            interpreter,
        });
    }
    let base = command_base(program);
    if SHELLS.contains(&base)
        && let Some(script) = argv.get(1)
        && !script.starts_with('-')
        && !script.starts_with('+')
        && !Path::new(script).exists()
    {
        return Err(NotStartable::NoScript {
            shell: program.clone(),
            script: PathBuf::from(script),
        });
    }
    Ok(())
}

fn executable(file: &Path) -> Result<(), NotStartable> {
    let meta = std::fs::metadata(file).map_err(|_| NotStartable::Missing(file.to_path_buf()))?;
    if !meta.is_file() {
        return Err(NotStartable::NotAFile(file.to_path_buf()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(NotStartable::NotExecutable(file.to_path_buf()));
    }
    Ok(())
}

/// The interpreter a `#!` line names, if the file starts with one.
fn shebang(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).ok()?.read(&mut head).ok()?;
    let text = head.get(..n)?.strip_prefix(b"#!")?;
    let line = text.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let interpreter = line.split_whitespace().next()?;
    Some(PathBuf::from(interpreter))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bash_command_not_found_in_every_form() {
        let out = "\
[init] starting
/var/tmp/fwt-iut-x/1-init.sh: line 12: aggregate: command not found
dnsmasq: command not found
bash: line 1: ipcalc: command not found
sudo: nft-monitor: command not found
/usr/bin/env: 'foo': No such file or directory
env: ‘bar’: No such file or directory
nohup: failed to run command 'baz': No such file or directory
timeout: failed to run command ‘qux’: No such file or directory
sh: 1: grepcidr: not found
/opt/x.sh: 30: prips: not found
zsh: command not found: whois
/x.sh: line 7: exec: fw-helper: not found
bash: ./init.sh: /usr/bin/fish: bad interpreter: No such file or directory
";
        assert_eq!(
            missing_commands(out),
            [
                "/usr/bin/fish",
                "aggregate",
                "bar",
                "baz",
                "dnsmasq",
                "foo",
                "fw-helper",
                "grepcidr",
                "ipcalc",
                "nft-monitor",
                "prips",
                "qux",
                "whois"
            ]
        );
    }

    #[test]
    fn ordinary_errors_are_not_missing_commands() {
        let out = "\
/x.sh: line 4: /etc/dnsmasq.d/fw.conf: No such file or directory
cat: /nonexistent: No such file or directory
ipset v7.19: The set with the given name does not exist
curl: (7) Failed to connect to api.github.com port 443: Connection refused
ERROR: aggregate not found, please install it
iptables: No chain/target/match by that name.
grep: warning: command not found is only a phrase here
error: route not found
/x.sh: line 9: cd: /opt/x: No such file or directory
line 3: : command not found
env: 'bash\r': No such file or directory
";
        assert_eq!(missing_commands(out), Vec::<String>::new());
    }

    #[test]
    fn each_command_is_named_once_and_crlf_lines_parse() {
        let out = "x.sh: line 1: aggregate: command not found\r\nx.sh: line 2: aggregate: command not found\r\n";
        assert_eq!(missing_commands(out), ["aggregate"]);
        assert_eq!(command_base("/usr/sbin/ipset"), "ipset");
        assert_eq!(command_base("ipset"), "ipset");
    }

    #[test]
    fn endings_are_worded() {
        let s = Duration::from_millis(3100);
        assert_eq!(ending(Some(0), None, false, s), None);
        assert_eq!(ending(Some(6), None, false, s).unwrap(), "exited 6");
        assert_eq!(
            ending(None, Some(11), false, s).unwrap(),
            "was killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            ending(None, Some(9), true, s).unwrap(),
            "did not finish within the time limit (killed after 3 s)"
        );
        assert!(ending(Some(0), None, true, s).is_some());
        assert_eq!(signal_name(40), "signal 40");
    }

    #[test]
    fn the_note_names_the_commands_and_the_docker_tier() {
        let n = incomplete_note(&["aggregate".into(), "dnsmasq".into()], 3);
        assert!(n.contains("`aggregate`, `dnsmasq`"), "{n}");
        assert!(n.contains("--tier docker --image IMAGE"), "{n}");
        assert!(n.contains("3 case(s)"), "{n}");
    }

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn what_cannot_be_started_is_found_before_any_sandbox() {
        let d = tempfile::tempdir().unwrap();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let good = write(d.path(), "good.sh", "#!/bin/sh\nexit 0\n", 0o755);
        let plain = write(d.path(), "plain.sh", "exit 0\n", 0o644);
        let zsh = write(d.path(), "zsh.sh", "#!/nonexistent/zsh -e\n", 0o755);
        let path = "/usr/bin:/bin";
        assert_eq!(check_startable(&[s(&good)], path), Ok(()));
        assert_eq!(check_startable(&["bash".into(), s(&plain)], path), Ok(()));
        assert_eq!(
            check_startable(&["bash".into(), "-c".into(), "exit 6".into()], path),
            Ok(())
        );
        assert_eq!(check_startable(&[], path), Err(NotStartable::Empty));
        let missing = d.path().join("missing.sh");
        assert_eq!(
            check_startable(&[s(&missing)], path),
            Err(NotStartable::Missing(missing.clone()))
        );
        assert_eq!(
            check_startable(&[s(&plain)], path),
            Err(NotStartable::NotExecutable(plain.clone()))
        );
        assert_eq!(
            check_startable(&[s(d.path())], path),
            Err(NotStartable::NotAFile(d.path().to_path_buf()))
        );
        assert_eq!(
            check_startable(&[s(&zsh)], path),
            Err(NotStartable::NoInterpreter {
                script: zsh.clone(),
                interpreter: PathBuf::from("/nonexistent/zsh"),
            })
        );
        assert_eq!(
            check_startable(&["bash".into(), s(&missing)], path),
            Err(NotStartable::NoScript {
                shell: "bash".into(),
                script: missing.clone(),
            })
        );
        assert!(matches!(
            check_startable(&["no-such-program-fwt".into()], path),
            Err(NotStartable::NotOnPath { .. })
        ));
        let e = check_startable(&[s(&missing)], path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.sh does not exist"), "{e}");
    }
}
