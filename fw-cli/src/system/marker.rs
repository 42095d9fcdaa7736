//! The marker file on disk (its content is fw-core's [`Marker`]): written atomically, removed,
//! read back; and the [`Place`] (boot and network namespace) this process runs in.

use std::fs;
use std::io::Write;
use std::path::Path;

use fw_core::marker::{Marker, MarkerError, Place};

/// Reads the boot id and the calling thread's network namespace inode.
pub fn current_place() -> std::io::Result<Place> {
    use std::os::unix::fs::MetadataExt;
    let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned();
    // thread-self: the namespace of this thread, which is what the rules were applied in.
    let netns_inode = fs::metadata("/proc/thread-self/ns/net")?.ino();
    Ok(Place {
        boot_id,
        netns_inode,
    })
}

/// Writes the marker atomically: a temporary file in the same directory, renamed over the
/// marker, so a reader never sees a half-written marker. Not flushed to disk (`fsync` cost
/// 3 ms of a 70 ms init in docs/benchmarks.md) because nothing needs it to outlive a crash:
/// the marker holds only for this boot and this network namespace ([`Marker::is_for`]), and a
/// machine that lost power comes back with another boot id. A marker that a crash left
/// truncated fails to parse ([`MarkerError::Invalid`]), which no reader takes for a firewall.
pub fn write(path: &Path, marker: &Marker) -> Result<(), MarkerError> {
    let err = |source| MarkerError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let body = serde_json::to_vec_pretty(marker).map_err(|e| err(std::io::Error::other(e)))?;
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.write_all(b"\n")?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Removes the marker; a marker that is not there is fine.
pub fn remove(path: &Path) -> Result<(), MarkerError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(MarkerError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads the marker: `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Marker>, MarkerError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MarkerError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| MarkerError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use fw_core::marker::ruleset_hash;
    use fw_core::render::Ruleset;

    use super::*;

    fn ruleset(x: &str) -> Ruleset {
        Ruleset {
            iptables: x.to_owned(),
            ip6tables: String::new(),
            ipset: String::new(),
        }
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fw-marker-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_reads_and_removes_atomically() {
        let dir = tempdir();
        let path = dir.join(".firewall-init-done");
        let place = Place {
            boot_id: "b".into(),
            netns_inode: 7,
        };
        let m = Marker::with_hash(
            &place,
            ruleset_hash(&ruleset("a")),
            "0.1.0",
            std::time::SystemTime::now(),
        );
        write(&path, &m).unwrap();
        assert_eq!(read(&path).unwrap(), Some(m.clone()));
        // Only the marker: no temporary file left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert!(m.is_for(&place));
        assert!(!m.is_for(&Place {
            boot_id: "b".into(),
            netns_inode: 8
        }));
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert_eq!(read(&path).unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_foreign_file_is_not_a_marker() {
        let dir = tempdir();
        let path = dir.join("m");
        fs::write(&path, "ok\n").unwrap();
        assert!(matches!(read(&path), Err(MarkerError::Invalid { .. })));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_write_into_a_missing_directory_names_the_path() {
        let err = write(
            Path::new("/nonexistent-fw-dir/marker"),
            &Marker::with_hash(
                &Place {
                    boot_id: "b".into(),
                    netns_inode: 1,
                },
                ruleset_hash(&ruleset("a")),
                "v",
                std::time::SystemTime::now(),
            ),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-fw-dir/marker"),
            "{err}"
        );
    }

    #[test]
    fn the_current_place_is_readable() {
        let p = current_place().unwrap();
        assert!(!p.boot_id.is_empty() && p.netns_inode > 0);
    }
}
