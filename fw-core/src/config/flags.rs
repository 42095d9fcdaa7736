//! Command-line values: [`Overrides`] holds them raw, by key; they are checked here like every
//! other source's, and a refusal names the key's flag from [`KEYS`].

use std::ffi::OsString;

use super::Origin;
use super::error::ConfigError;
use super::keys::{KEYS, Key, check_os_item};
use super::layer::{Layer, Setting, list_setting};
use crate::validate::shown;

/// Command-line overrides, filled by fw-cli from its flags (built from [`KEYS`]). Values are
/// kept raw and checked in [`super::load`], so that every source gets the same checks and
/// messages (naming the key's flag). Scalars replace what the file says; domains and CIDRs are
/// added; meta keys replace the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    values: Vec<(Key, Vec<OsString>)>,
}

impl Overrides {
    /// Sets `key` to `values`: a list key takes them all (an empty list is a value too, which
    /// meta keys refuse), a scalar the last. Setting a key again adds to a list that adds up
    /// (domains, CIDRs) and replaces anything else. A [`super::keys::Kind::Bool`] key takes
    /// `"true"` (its flag) or `"false"` (its `off` flag).
    pub fn set<I, S>(&mut self, key: Key, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let values: Vec<OsString> = values.into_iter().map(Into::into).collect();
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) if key.spec().kind.adds_up() => old.extend(values),
            Some((_, old)) => *old = values,
            None => self.values.push((key, values)),
        }
    }

    /// [`Overrides::set`], by value.
    #[must_use]
    pub fn with<I, S>(mut self, key: Key, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.set(key, values);
        self
    }

    /// The raw values set for `key`, if any.
    pub fn get(&self, key: Key) -> Option<&[OsString]> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// What the flags set, checked, in the table's order.
pub(super) fn flag_layer(o: &Overrides) -> Result<Layer, ConfigError> {
    let mut layer = Layer::new();
    for spec in &KEYS {
        let Some(values) = o.get(spec.key) else {
            continue;
        };
        let kind = spec.kind;
        let bad = |value: &str, reason| ConfigError::Flag {
            flag: spec.flag.long.to_owned(),
            value: shown(&kind.shown(value)),
            reason,
        };
        let mut items = Vec::with_capacity(values.len());
        for v in values {
            let item = check_os_item(kind, v).map_err(|r| bad(&v.to_string_lossy(), r))?;
            items.push((item, Origin::Flag(spec.flag.long.to_owned())));
        }
        let setting = if kind.is_list() {
            list_setting(kind, items).map_err(|r| bad("", r))?
        } else {
            match items.pop() {
                Some((item, _)) => Setting::Scalar(item),
                None => continue,
            }
        };
        layer.push((spec.key, setting));
    }
    Ok(layer)
}
