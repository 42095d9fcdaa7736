//! Merging the sources into one [`Config`]: each source gives a [`Layer`] of checked values by
//! key, and the layers apply in order.

use std::collections::HashSet;
use std::path::PathBuf;

use ipnet::IpNet;

use super::Config;
use super::env::{Env, env_layer};
use super::error::{ConfigError, Warning};
use super::file::{cspace_json_text, parse_cspace_json};
use super::flags::{Overrides, flag_layer};
use super::keys::{Item, Key};
use super::layer::{Layer, Setting};
use super::npm;
use crate::validate::Domain;

/// What fw-cli passes in: where `.cspace.json` is, and the command-line overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// An explicit `.cspace.json`; it must exist. Takes precedence over `workspace_dir`.
    pub cspace_json: Option<PathBuf>,
    /// The workspace: `<workspace_dir>/.cspace.json` is read when it exists (a missing file is
    /// normal), and `<workspace_dir>/.npmrc` is npm's project config. With neither this nor
    /// `cspace_json`, no file is read.
    pub workspace_dir: Option<PathBuf>,
    pub overrides: Overrides,
}

/// The result of [`load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Loads the effective configuration.
///
/// Sources, later ones overriding earlier ones:
///
/// 1. the seed's defaults, with the npm registry's host first ([`npm`]);
/// 2. `.cspace.json` (`opts.cspace_json`, else `<opts.workspace_dir>/.cspace.json` if present);
/// 3. environment variables (`CSPACE_FIREWALL_DOMAINS`: extra domains separated by spaces,
///    tabs or newlines);
/// 4. command-line flags ([`Overrides`]).
///
/// Domains and CIDRs add up across sources (deduplicated, first occurrence and its [`super::Origin`]
/// kept); scalars are replaced by the last source that sets them. The keys, with their JSON
/// paths, variables and flags, are the table [`super::keys::KEYS`]; `docs/configuration.md`
/// is generated from it.
///
/// When the firewall ends up disabled, an unusable npm configuration is a warning instead of
/// an error: nothing will be enforced, so nothing should stop the container.
pub fn load(env: &dyn Env, opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let file = match cspace_json_text(
        env,
        opts.cspace_json.as_deref(),
        opts.workspace_dir.as_deref(),
    )? {
        Some((path, text)) => parse_cspace_json(&path, &text, &mut warnings)?,
        None => Layer::new(),
    };
    let layers = [file, env_layer(env)?, flag_layer(&opts.overrides)?];
    let enabled = layers
        .iter()
        .flatten()
        .filter_map(|(key, setting)| match (key, setting) {
            (Key::Enabled, Setting::Scalar(Item::Bool(b))) => Some(*b),
            _ => None,
        })
        .next_back()
        .unwrap_or(true);
    let npm = npm_host(env, opts, enabled, &mut warnings)?;

    let mut config = Config::defaults(npm);
    // Sets of what is in already: tens of thousands of entries must not cost a scan each.
    let mut seen = Seen {
        domains: config.domains.iter().map(|e| e.domain.clone()).collect(),
        cidrs: config.cidrs.iter().map(|c| c.net).collect(),
    };
    for (key, setting) in layers.into_iter().flatten() {
        apply(&mut config, &mut seen, key, setting);
    }
    if config.timeouts.meta_connect > config.timeouts.meta_total {
        warnings.push(Warning {
            source: "timeouts".to_owned(),
            message: format!(
                "the meta connect timeout ({} ms) is longer than the meta total timeout ({} ms), \
                 which limits it",
                config.timeouts.meta_connect.as_millis(),
                config.timeouts.meta_total.as_millis()
            ),
        });
    }
    Ok(Loaded { config, warnings })
}

/// The npm registry's host, or a warning when there is none (or, with the firewall disabled,
/// when the npm configuration is unusable).
fn npm_host(
    env: &dyn Env,
    opts: &LoadOptions,
    enabled: bool,
    warnings: &mut Vec<Warning>,
) -> Result<Option<(Domain, String)>, ConfigError> {
    match npm::npm_registry_host_in(env, opts.workspace_dir.as_deref()) {
        Ok(Some(found)) => Ok(Some(found)),
        Ok(None) => {
            warnings.push(Warning {
                source: "npm configuration".to_owned(),
                message: "no npm registry is configured (no NPM_CONFIG_REGISTRY, no registry= \
                          in any .npmrc, no npm on PATH); no npm registry host is allowed"
                    .to_owned(),
            });
            Ok(None)
        }
        Err(e) if !enabled => {
            warnings.push(Warning {
                source: "npm configuration".to_owned(),
                message: format!("{e} (ignored: the firewall is disabled)"),
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// What the lists hold already.
#[derive(Default)]
pub(crate) struct Seen {
    domains: HashSet<Domain>,
    cidrs: HashSet<IpNet>,
}

/// Applies one key's setting: lists add up (first occurrence kept), anything else is replaced.
/// This is where each key meets its field of [`Config`].
pub(crate) fn apply(config: &mut Config, seen: &mut Seen, key: Key, setting: Setting) {
    match setting {
        Setting::Domains(entries) => {
            for entry in entries {
                if seen.domains.insert(entry.domain.clone()) {
                    config.domains.push(entry);
                }
            }
        }
        Setting::Cidrs(entries) => {
            for entry in entries {
                if seen.cidrs.insert(entry.net) {
                    config.cidrs.push(entry);
                }
            }
        }
        Setting::Keys(keys) => config.meta.keys = keys,
        Setting::Scalar(item) => {
            let t = &mut config.timeouts;
            match (key, item) {
                (Key::Enabled, Item::Bool(b)) => config.enabled = b,
                (Key::Profile, Item::Profile(p)) => config.profile = p,
                (Key::Marker, Item::Path(p)) => config.marker_path = p,
                (Key::VerifyBlocked, Item::Text(u)) => config.verify.blocked = u,
                (Key::VerifyAllowed, Item::Text(u)) => config.verify.allowed = u,
                (Key::MetaUrl, Item::Text(u)) => config.meta.url = u,
                (Key::MetaConnectTimeout, Item::Millis(d)) => t.meta_connect = d,
                (Key::MetaTotalTimeout, Item::Millis(d)) => t.meta_total = d,
                (Key::DnsTimeout, Item::Millis(d)) => t.dns_per_name = d,
                (Key::VerifyTimeout, Item::Millis(d)) => t.verify = d,
                (Key::LockTimeout, Item::Millis(d)) => t.lock = d,
                // The parsers give each key only the items of its kind.
                _ => {}
            }
        }
    }
}
