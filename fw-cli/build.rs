//! Build script: exposes the git revision as `FW_GIT_REV` for `--version` ("unknown" outside a
//! git checkout or without git; a packager may set `FW_GIT_REV` itself). Never fails the build.
//! `conformance` builds with this same file (`build = "../fw-cli/build.rs"`).

use std::path::PathBuf;
use std::process::Command;

/// `git <args>` in the crate's directory: its trimmed stdout when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    // This file, from either package's directory (both are in the workspace root).
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    if let Some(d) = &dir {
        println!(
            "cargo:rerun-if-changed={}",
            d.join("../fw-cli/build.rs").display()
        );
    }
    println!("cargo:rerun-if-env-changed=FW_GIT_REV");
    let rev = std::env::var("FW_GIT_REV")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // Rebuild when HEAD moves: HEAD itself (a branch switch) and the branch's ref (a commit).
    // Only existing files: cargo reruns a script whose watched file is missing every time.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for p in watched.into_iter().flatten() {
        let path = match &dir {
            Some(d) => d.join(&p),
            None => PathBuf::from(&p),
        };
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rustc-env=FW_GIT_REV={rev}");
}
