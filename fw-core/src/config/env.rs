//! The seam to the system ([`Env`]) and the keys read from environment variables (the rows of
//! [`KEYS`] with an `env`).

use std::io;
use std::path::Path;
use std::time::Duration;

use super::error::ConfigError;
use super::keys::{KEYS, Key, Spec, check_item};
use super::layer::{Layer, Setting, list_setting};
use super::{DomainEntry, Origin};
use crate::validate::shown;

/// The few facts about the system that loading the configuration needs. fw-cli implements it
/// on the real system (`SystemEnv`), fw-testkit with maps (`FakeEnv`).
pub trait Env {
    /// An environment variable; `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
    /// A file's text; `Ok(None)` when it does not exist.
    fn read_file(&self, path: &Path) -> io::Result<Option<String>>;
    /// The output of `npm config get registry`, or `None` when npm is absent or fails. Running
    /// it needs a process and a `PATH` search, which is why it is behind this seam.
    fn npm_config_get_registry(&self) -> Option<String>;
}

/// How long `npm config get registry` may take before it is abandoned (npm starts node and
/// reads its config files: normally well under a second).
pub const NPM_CONFIG_GET_TIMEOUT: Duration = Duration::from_secs(10);

/// The separators of a list in a variable.
const SEPARATORS: [char; 4] = [' ', '\t', '\n', '\r'];

/// What the environment variables of the table set, in the table's order.
pub(super) fn env_layer(env: &dyn Env) -> Result<Layer, ConfigError> {
    let mut layer = Layer::new();
    for spec in &KEYS {
        if let Some(var) = spec.env
            && let Some(setting) = parse_var(spec, var, env.var(var).as_deref())?
        {
            layer.push((spec.key, setting));
        }
    }
    Ok(layer)
}

/// One variable's value: a list is split on spaces, tabs and newlines (an empty one says
/// nothing); a scalar is the trimmed value (an empty one says nothing). Every entry is checked,
/// so a shell metacharacter can never pass: `a.com;rm -rf /` or `$(id).com` is an error naming
/// the variable and the entry, before any of it reaches a command line.
fn parse_var(spec: &Spec, var: &str, value: Option<&str>) -> Result<Option<Setting>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let kind = spec.kind;
    let entries: Vec<&str> = if kind.is_list() {
        value.split(SEPARATORS).filter(|s| !s.is_empty()).collect()
    } else {
        Some(value.trim_matches(SEPARATORS))
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect()
    };
    let bad = |entry: &str, reason| ConfigError::Env {
        var: var.to_owned(),
        entry: shown(&kind.shown(entry)),
        reason,
    };
    let mut items = Vec::with_capacity(entries.len());
    for entry in &entries {
        let item = check_item(kind, entry).map_err(|reason| bad(entry, reason))?;
        items.push((item, Origin::Env(var.to_owned())));
    }
    if items.is_empty() {
        return Ok(None);
    }
    if !kind.is_list() {
        return Ok(items.pop().map(|(item, _)| Setting::Scalar(item)));
    }
    list_setting(kind, items)
        .map(Some)
        .map_err(|reason| bad(value, reason))
}

/// Splits `CSPACE_FIREWALL_DOMAINS` on whitespace and validates every entry (see `parse_var`).
pub fn parse_domains_var(value: Option<&str>) -> Result<Vec<DomainEntry>, ConfigError> {
    let spec = Key::Domains.spec();
    let var = spec.env.unwrap_or_default();
    match parse_var(spec, var, value)? {
        Some(Setting::Domains(entries)) => Ok(entries),
        _ => Ok(Vec::new()),
    }
}
