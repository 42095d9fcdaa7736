//! The marker file (`/tmp/.firewall-init-done` by default): written only after a verified
//! success, removed at the start of every run, so that its presence means "the firewall in
//! this namespace, since this boot, was applied and proven".
//!
//! It holds JSON: when, the boot id, the network namespace's inode, the hash of the applied
//! ruleset and the fw-cli version. `fw-cli status` trusts a marker only when its boot id and
//! namespace match the current ones: a marker that survived a restart of the container (kernel
//! state is gone) or that was copied from elsewhere proves nothing.
//!
//! This module holds the marker's data; fw-cli's `system::marker` reads and writes the file and
//! reads the current [`Place`].

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::render::Ruleset;

/// The marker's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// When the firewall was proven, RFC 3339, UTC.
    pub time: String,
    /// `/proc/sys/kernel/random/boot_id` at that time.
    pub boot_id: String,
    /// The inode of the network namespace the firewall was applied in.
    pub netns_inode: u64,
    /// SHA-256 of the applied ruleset (iptables, ip6tables and ipset texts).
    pub ruleset_hash: String,
    /// The version of fw-cli that applied it.
    pub version: String,
}

/// Errors of the marker file, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("cannot write the marker {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the marker {path}: {source}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the marker {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the marker {path} is not a marker of ours: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The identity of the place a firewall lives in: boot and network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub boot_id: String,
    pub netns_inode: u64,
}

/// SHA-256 of a ruleset, hex.
pub fn ruleset_hash(r: &Ruleset) -> String {
    let mut h = Sha256::new();
    for part in [&r.iptables, &r.ip6tables, &r.ipset] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Marker {
    /// A marker for the ruleset whose [`ruleset_hash`] is given (init computes it while the
    /// restores run), proven at `time`.
    pub fn with_hash(
        place: &Place,
        ruleset_hash: String,
        version: &str,
        time: SystemTime,
    ) -> Marker {
        Marker {
            time: humantime::format_rfc3339_seconds(time).to_string(),
            boot_id: place.boot_id.clone(),
            netns_inode: place.netns_inode,
            ruleset_hash,
            version: version.to_owned(),
        }
    }

    /// Whether the marker was written in this boot and this network namespace.
    pub fn is_for(&self, place: &Place) -> bool {
        self.boot_id == place.boot_id && self.netns_inode == place.netns_inode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruleset(x: &str) -> Ruleset {
        Ruleset {
            iptables: x.to_owned(),
            ip6tables: String::new(),
            ipset: String::new(),
        }
    }

    #[test]
    fn the_hash_changes_with_the_ruleset_and_not_otherwise() {
        assert_eq!(ruleset_hash(&ruleset("a")), ruleset_hash(&ruleset("a")));
        assert_ne!(ruleset_hash(&ruleset("a")), ruleset_hash(&ruleset("b")));
        assert_eq!(ruleset_hash(&ruleset("a")).len(), 64);
    }

    #[test]
    fn a_marker_is_for_its_place_only() {
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
        assert!(m.is_for(&place));
        assert!(!m.is_for(&Place {
            boot_id: "b".into(),
            netns_inode: 8
        }));
    }
}
