//! [`SystemEnv`]: fw-core's configuration seam ([`Env`]) on the real system.

use std::io;
use std::path::Path;
use std::time::Duration;

use super::tools::find_on_path;
use fw_core::config::{Env, NPM_CONFIG_GET_TIMEOUT};

/// The real system: the process environment, the file system, and the `npm` on `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnv;

impl Env for SystemEnv {
    /// A variable that is not valid UTF-8 is read lossily, so that it fails validation loudly
    /// (with U+FFFD in the message) instead of silently counting as unset.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `npm config get registry` (an argument vector, no shell) only when an executable
    /// `npm` is on `PATH`. The child gets no stdin, its stderr is discarded, `NODE_OPTIONS` is
    /// removed (the firewall runs as root; an inherited `--require` must not run code) and the
    /// update notifier is off. It is killed after [`NPM_CONFIG_GET_TIMEOUT`] (the child only:
    /// `npm` is a node script that runs in that process, so nothing else is left behind, but a
    /// wrapper script's own children would be). Any failure is `None`: this is the last resort
    /// after every file and variable.
    fn npm_config_get_registry(&self) -> Option<String> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        use std::sync::mpsc;
        use std::time::Instant;

        let npm = find_on_path(&std::env::var_os("PATH")?, "npm")?;
        let mut child = Command::new(npm)
            .args(["config", "get", "registry"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("NODE_OPTIONS")
            .env("NO_UPDATE_NOTIFIER", "1")
            .env("npm_config_update_notifier", "false")
            .spawn()
            .ok()?;
        let deadline = Instant::now() + NPM_CONFIG_GET_TIMEOUT;
        let Some(mut stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        // Read on a thread so that a child that never closes its stdout cannot block us.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            let res = stdout.read_to_string(&mut out).map(|_| out);
            let _ = tx.send(res);
        });
        let out = rx.recv_timeout(NPM_CONFIG_GET_TIMEOUT);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return match out {
                        Ok(Ok(text)) if status.success() => Some(text),
                        _ => None,
                    };
                }
                Ok(None) if Instant::now() < deadline && out.is_ok() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_none_and_present_ones_are_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("f");
        std::fs::write(&file, "text").unwrap_or_else(|e| panic!("{e}"));
        let env = SystemEnv;
        assert_eq!(env.read_file(&file).ok().flatten().as_deref(), Some("text"));
        assert!(matches!(env.read_file(&dir.path().join("none")), Ok(None)));
        // A path through a file is "not a directory": absent too, not an error.
        assert!(matches!(env.read_file(&file.join("below")), Ok(None)));
        assert!(
            env.read_file(dir.path()).is_err(),
            "a directory is not a file"
        );
    }

    #[test]
    fn an_unset_variable_is_none() {
        assert_eq!(SystemEnv.var("FW_CLI_SURELY_UNSET_VARIABLE_0123"), None);
        assert!(SystemEnv.var("PATH").is_some());
    }
}
