#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;

use super::kill::tree;
use super::*;

fn root_fd(dir: &Path) -> File {
    File::open(dir).unwrap()
}

#[test]
fn files_are_written_beneath_the_root_whatever_the_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("passwd");
    std::fs::write(&victim, "machine's own\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // The image's /tmp is an absolute symlink; the marker a symlink to a machine's file;
    // /etc/ssl a relative symlink climbing out.
    std::fs::create_dir(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("var/tmp")).unwrap();
    std::os::unix::fs::symlink("/var/tmp", r.join("tmp")).unwrap();
    std::os::unix::fs::symlink(&victim, r.join("marker")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", r.join("etc/ssl")).unwrap();
    let fd = root_fd(r);
    write_beneath(fd.as_fd(), "/tmp/.firewall-init-done", b"stale\n", 0o644).unwrap();
    write_beneath(fd.as_fd(), "/marker", b"stale\n", 0o644).unwrap();
    write_beneath(fd.as_fd(), "/etc/ssl/certs/ca.crt", b"ca\n", 0o600).unwrap();
    write_beneath(
        fd.as_fd(),
        "/opt/fw-conformance/0-x.sh",
        b"#!/bin/sh\n",
        0o755,
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "machine's own\n");
    // Resolved as the container would: /tmp -> /var/tmp inside, ../.. stops at the root.
    assert_eq!(
        std::fs::read_to_string(r.join("var/tmp/.firewall-init-done")).unwrap(),
        "stale\n"
    );
    assert!(!r.join("marker").is_symlink());
    assert_eq!(
        std::fs::read_to_string(r.join("marker")).unwrap(),
        "stale\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("certs/ca.crt")).unwrap(),
        "ca\n"
    );
    let mode = std::fs::metadata(r.join("opt/fw-conformance/0-x.sh"))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(write_beneath(fd.as_fd(), "/a/../b", b"", 0o644).is_err());
    assert!(write_beneath(fd.as_fd(), "/", b"", 0o644).is_err());
}

#[test]
fn a_tree_is_the_process_and_its_descendants() {
    let table = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 13), (15, 12)];
    assert_eq!(tree(&table, 10), [10, 11, 12, 15]);
    assert_eq!(tree(&table, 13), [13, 14]);
    assert!(tree(&table, 99).is_empty());
}

#[test]
fn a_missing_image_is_named_with_how_to_get_one() {
    let hint = missing_image_hint("my-devcontainer:1");
    assert!(hint.contains("my-devcontainer:1"));
    assert!(hint.contains("scripts/setup-docker.sh"));
    assert!(hint.contains("--image"));
}
