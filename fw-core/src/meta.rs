//! GitHub meta API responses (`https://api.github.com/meta`): parsing and validation.
//! STUB: being written by a helper; the public types below are the agreed interface.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The validated ranges under the configured keys (by default `web`, `api`, `git`), per key,
/// in the order the response gave them. Other keys of the response are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRanges {
    pub ranges: BTreeMap<String, Vec<IpNet>>,
}

impl MetaRanges {
    /// Every network under every kept key.
    pub fn nets(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.ranges.values().flatten().copied()
    }
}
