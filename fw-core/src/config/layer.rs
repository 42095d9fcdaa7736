//! What one source says: its checked values by key, before the sources are merged.

use super::keys::{Item, Key, Kind, ValueError};
use super::{CidrEntry, DomainEntry, Origin};

/// One source's checked value of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    Scalar(Item),
    Domains(Vec<DomainEntry>),
    Cidrs(Vec<CidrEntry>),
    /// Meta keys: deduplicated, never empty.
    Keys(Vec<String>),
}

/// One source's contribution, in its order: a key it does not set is absent.
pub(crate) type Layer = Vec<(Key, Setting)>;

/// A list key's setting from its checked items, each with its origin. The items come from
/// [`super::keys::check_item`] for this kind, so each is of the kind's variant.
pub(crate) fn list_setting(kind: Kind, items: Vec<(Item, Origin)>) -> Result<Setting, ValueError> {
    let entries = items.into_iter();
    Ok(match kind {
        Kind::Domains => Setting::Domains(
            entries
                .filter_map(|(item, origin)| match item {
                    Item::Domain(domain) => Some(DomainEntry { domain, origin }),
                    _ => None,
                })
                .collect(),
        ),
        Kind::Cidrs => Setting::Cidrs(
            entries
                .filter_map(|(item, origin)| match item {
                    Item::Cidr(net) => Some(CidrEntry { net, origin }),
                    _ => None,
                })
                .collect(),
        ),
        _ => {
            let mut keys: Vec<String> = Vec::new();
            for (item, _) in entries {
                if let Item::Text(k) = item
                    && !keys.contains(&k)
                {
                    keys.push(k);
                }
            }
            if keys.is_empty() {
                return Err(ValueError::NoMetaKeys);
            }
            Setting::Keys(keys)
        }
    })
}
