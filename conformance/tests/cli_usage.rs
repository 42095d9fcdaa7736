//! `fw-conformance run` with an implementation that cannot be started is bad usage: exit 2
//! with a message naming the missing file, before any sandbox is built (so no root is needed).

use std::process::Command;

#[test]
fn an_impl_that_cannot_be_started_is_bad_usage() {
    let missing = std::env::temp_dir().join("fwt-no-such-dir/init-firewall.sh");
    let missing = missing.to_string_lossy().into_owned();
    for argv in [missing.clone(), format!("bash {missing}")] {
        let out = Command::new(env!("CARGO_BIN_EXE_fw-conformance"))
            .args(["run", "--filter", "POL-01", "--impl", &argv])
            .output()
            .expect("fw-conformance runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--impl {argv}: {stderr}");
        assert!(
            stderr.contains("does not exist") && stderr.contains(&missing),
            "--impl {argv}: {stderr}"
        );
    }
}
