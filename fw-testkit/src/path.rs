//! Finding a program on `PATH`, for the suite's tools (fw-cli's own search, which the firewall
//! uses, lives in its `system` module: the product does not depend on test support).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The first executable file called `name` in a `PATH` value (relative entries are skipped).
pub fn find_on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
