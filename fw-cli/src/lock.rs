//! The init lock: one `init` (or `refresh`) at a time in a container (SEQ-10).
//!
//! An exclusive `flock` on a file under `/run`. The kernel drops it when the holder exits, even
//! when killed, so a crashed run never leaves the next one locked out. A second run waits,
//! bounded by the configured lock timeout, then gives up with its own exit code.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the lock file lives by default.
pub const DEFAULT_LOCK_PATH: &str = "/run/fw-cli.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another fw-cli run holds {path}; gave up after waiting {waited:?}")]
    Timeout { path: PathBuf, waited: Duration },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct InitLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock, waiting at most `timeout`.
pub fn acquire(path: &Path, timeout: Duration) -> Result<InitLock, LockError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_owned(),
            source,
        })?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(InitLock {
                    _file: file,
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Timeout {
                    path: path.to_owned(),
                    waited: start.elapsed(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Lock {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

/// The lock path: `/run/fw-cli.lock` where `/run` exists, else the temporary directory.
pub fn default_path() -> PathBuf {
    if Path::new("/run").is_dir() {
        PathBuf::from(DEFAULT_LOCK_PATH)
    } else {
        std::env::temp_dir().join("fw-cli.lock")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("fw-lock-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_second_holder_waits_then_times_out() {
        let p = path("timeout");
        let held = acquire(&p, Duration::from_secs(1)).unwrap();
        let err = acquire(&p, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
        drop(held);
        acquire(&p, Duration::from_millis(100)).unwrap();
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn a_waiter_gets_the_lock_when_it_is_released() {
        let p = path("release");
        let held = acquire(&p, Duration::from_secs(1)).unwrap();
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || acquire(&p2, Duration::from_secs(5)).map(|_| ()));
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap().unwrap();
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn an_unwritable_place_is_named() {
        let err = acquire(Path::new("/nonexistent-fw-dir/lock"), Duration::ZERO).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-fw-dir/lock"),
            "{err}"
        );
    }
}
