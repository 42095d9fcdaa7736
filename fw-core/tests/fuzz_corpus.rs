//! Replays the checked-in cargo-fuzz corpus (`fuzz/corpus/<target>/`) on stable Rust, with the
//! same checks the fuzz targets run ([`fw_testkit::fuzzing`]), so that CI re-checks every input the
//! fuzzer found interesting without libFuzzer or a nightly toolchain.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    files.sort();
    assert!(
        files.len() >= 5,
        "{}: {} inputs; the checked-in corpus should hold the minimised corpus of a real run",
        dir.display(),
        files.len()
    );
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    for path in corpus(target) {
        let data =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        // Name the input if a check panics.
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
    }
}

#[test]
fn meta_corpus() {
    replay("meta", fw_testkit::fuzzing::meta);
}

#[test]
fn config_file_corpus() {
    replay("config_file", fw_testkit::fuzzing::config_file);
}

#[test]
fn config_env_corpus() {
    replay("config_env", fw_testkit::fuzzing::config_env);
}

#[test]
fn ctnetlink_corpus() {
    replay("ctnetlink", fw_testkit::fuzzing::ctnetlink);
}

#[test]
fn nat_save_corpus() {
    replay("nat_save", fw_testkit::fuzzing::nat_save);
}

#[test]
fn restore_corpus() {
    replay("restore", fw_testkit::fuzzing::restore);
}
