//! The npm registry's host, read from the container's npm configuration.
//!
//! The seed allowlists "the npm registry" without naming it, and a container may point npm at a
//! mirror or a private registry. Hard-coding one host would allow a registry nobody uses and
//! block the one that is used, so the host is taken from the same places npm reads, in npm's own
//! order of precedence. Every read goes through [`Env`], so this module is pure and testable
//! (running `npm config get registry`, the last resort, is [`Env::npm_config_get_registry`]).
//!
//! # Sources, first match wins
//!
//! | # | Source | Description in messages |
//! |---|---|---|
//! | 1 | `NPM_CONFIG_REGISTRY`, then `npm_config_registry` | `environment variable NAME` |
//! | 2 | project config `<workspace>/.npmrc` (only with [`npm_registry_host_in`] and a workspace) | the file path |
//! | 3 | user config: `NPM_CONFIG_USERCONFIG` / `npm_config_userconfig` if set, else the invoking user's `~/.npmrc` (`$SUDO_USER`'s home from `/etc/passwd`, else `$HOME`) | the file path |
//! | 4 | root's `/root/.npmrc` (unless it is the user config already) | the file path |
//! | 5 | global config: `NPM_CONFIG_GLOBALCONFIG` / `npm_config_globalconfig` if set, else the first of `$npm_config_prefix/etc/npmrc`, `$PREFIX/etc/npmrc`, `/usr/local/etc/npmrc`, `/usr/etc/npmrc`, `/etc/npmrc` that sets `registry` | the file path |
//! | 6 | `npm config get registry` (only when `npm` is on `PATH`) | `npm config get registry` |
//!
//! This is npm's order (environment, project, user, global, then npm's built-in default, which
//! step 6 yields). Root's file sits between user and global because the firewall runs as root:
//! when it is started through `sudo`, the invoking user's file is the one the agent's npm reads,
//! and root's own file is what npm reads when root runs it.
//! npm reads exactly one global file, chosen by where node is installed; without running node
//! we cannot know which, so the candidates are tried in turn.
//!
//! An empty value (`NPM_CONFIG_REGISTRY=`, `registry=`) counts as not set. A source with an
//! invalid value is an error naming the source and the value; the search does not fall through
//! to a later source, because a firewall that allows some other registry than the one npm uses
//! hides the mistake until the first `npm install` fails.
//!
//! # `.npmrc` syntax (npm's `ini` dialect)
//!
//! `key = value` lines split at the first `=`, spaces around either side; lines starting with `;`
//! or `#` are comments, and an unquoted value ends at the first `;` or `#`; a value in double
//! quotes is a JSON string, in single quotes taken literally; the last `registry` line wins;
//! scoped keys (`@scope:registry`) and per-host keys (`//host/:_authToken`) are other keys and
//! ignored; keys after a `[section]` header belong to that section and are ignored.
//! `${NAME}` is replaced by the variable's value (through [`Env::var`]) and `${NAME?}` by the
//! value or nothing. An unset `${NAME}` is an error here, where npm would keep the text
//! literally and then fail on it later. Backslash escapes of `${` are not supported.

use std::path::{Path, PathBuf};

use super::env::Env;
pub use super::error::{NpmError, RegistryError};
pub use super::url::redact;
use super::url::{UrlHost, parse_http_url};
use crate::validate::Domain;

/// The environment variables npm reads the registry from, in the order they are tried.
pub const REGISTRY_VARS: [&str; 2] = ["NPM_CONFIG_REGISTRY", "npm_config_registry"];
/// Variables that replace the user config file's path.
pub const USERCONFIG_VARS: [&str; 2] = ["NPM_CONFIG_USERCONFIG", "npm_config_userconfig"];
/// Variables that replace the global config file's path.
pub const GLOBALCONFIG_VARS: [&str; 2] = ["NPM_CONFIG_GLOBALCONFIG", "npm_config_globalconfig"];
/// Variables holding npm's `prefix` setting (the global file is `<prefix>/etc/npmrc`).
pub const PREFIX_CONFIG_VARS: [&str; 2] = ["NPM_CONFIG_PREFIX", "npm_config_prefix"];
/// Root's user config file.
pub const ROOT_NPMRC: &str = "/root/.npmrc";
/// Global config files tried when no variable names one, after the prefixes from variables.
pub const GLOBAL_NPMRC_CANDIDATES: [&str; 3] =
    ["/usr/local/etc/npmrc", "/usr/etc/npmrc", "/etc/npmrc"];
/// Where user names map to home directories.
pub const PASSWD: &str = "/etc/passwd";
/// The description of the last-resort source.
pub const NPM_COMMAND_SOURCE: &str = "npm config get registry";

/// The npm registry's host and a description of where it was found, or `None` when no source
/// sets one (the caller warns: the firewall then allows no npm registry).
pub fn npm_registry_host(env: &dyn Env) -> Result<Option<(Domain, String)>, NpmError> {
    npm_registry_host_in(env, None)
}

/// Like [`npm_registry_host`], with the project config `<project_dir>/.npmrc` as well, which npm
/// reads when it runs in that directory (the workspace root, where agents run `npm install`).
pub fn npm_registry_host_in(
    env: &dyn Env,
    project_dir: Option<&Path>,
) -> Result<Option<(Domain, String)>, NpmError> {
    for var in REGISTRY_VARS {
        if let Some(value) = env.var(var).filter(|v| !v.trim().is_empty()) {
            let origin = format!("environment variable {var}");
            return resolve(env, &origin, &value, true).map(Some);
        }
    }

    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(dir) = project_dir {
        files.push(dir.join(".npmrc"));
    }
    if let Some(user) = user_npmrc(env)? {
        files.push(user);
    }
    files.push(PathBuf::from(ROOT_NPMRC));
    for path in dedup(files) {
        if let Some(found) = from_file(env, &path)? {
            return Ok(Some(found));
        }
    }

    for path in dedup(global_npmrc_candidates(env)) {
        if let Some(found) = from_file(env, &path)? {
            return Ok(Some(found));
        }
    }

    if let Some(output) = env.npm_config_get_registry() {
        // The value is the last line; anything before it is noise a wrapper may have printed.
        let value = output.lines().rev().map(str::trim).find(|l| !l.is_empty());
        let value = value.unwrap_or_default();
        // npm prints `undefined` for a key it has no value for.
        if !value.is_empty() && value != "undefined" && value != "null" {
            // npm has expanded `${...}` already; expanding again would be wrong.
            return resolve(env, NPM_COMMAND_SOURCE, value, false).map(Some);
        }
    }
    Ok(None)
}

/// The raw value of the last top-level `registry` key of an `.npmrc` text (unexpanded), or
/// `None` when the file does not set it (or sets it empty).
pub fn npmrc_registry(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            // Everything after a section header is inside that section, never top-level.
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if ini_unsafe(key) == "registry" {
            found = Some(ini_unsafe(value));
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Replaces `${NAME}` with the variable's value and `${NAME?}` with the value or nothing.
pub fn expand_vars(value: &str, env: &dyn Env) -> Result<String, RegistryError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(RegistryError::Unterminated)?;
        let inner = &after[..end];
        let (name, optional) = match inner.strip_suffix('?') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        match env.var(name) {
            Some(v) => out.push_str(&v),
            None if optional => {}
            None => return Err(RegistryError::UnsetVariable(name.to_owned())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The host of a registry URL, which must be a host name (not an IP address).
pub fn registry_host(value: &str) -> Result<Domain, RegistryError> {
    let url = parse_http_url(value.trim())?;
    match url.host {
        UrlHost::Domain(d) => Ok(d),
        UrlHost::Ip(ip) => Err(RegistryError::IpLiteral(ip)),
    }
}

fn resolve(
    env: &dyn Env,
    origin: &str,
    raw: &str,
    expand: bool,
) -> Result<(Domain, String), NpmError> {
    let invalid = |reason: RegistryError| NpmError::Invalid {
        origin: origin.to_owned(),
        value: redact(raw.trim()),
        reason,
    };
    let value = if expand {
        expand_vars(raw, env).map_err(invalid)?
    } else {
        raw.to_owned()
    };
    let host = registry_host(&value).map_err(invalid)?;
    Ok((host, origin.to_owned()))
}

fn from_file(env: &dyn Env, path: &Path) -> Result<Option<(Domain, String)>, NpmError> {
    let text = env.read_file(path).map_err(|err| NpmError::Read {
        path: path.to_owned(),
        err,
    })?;
    match text.as_deref().and_then(npmrc_registry) {
        Some(raw) => resolve(env, &path.display().to_string(), &raw, true).map(Some),
        None => Ok(None),
    }
}

/// The user config file: a variable naming it, else the invoking user's `~/.npmrc`.
fn user_npmrc(env: &dyn Env) -> Result<Option<PathBuf>, NpmError> {
    if let Some(path) = first_var(env, &USERCONFIG_VARS) {
        return Ok(Some(PathBuf::from(path)));
    }
    // Under sudo, HOME is usually root's; the invoking user's npm is the one agents run.
    if let Some(user) = env.var("SUDO_USER").filter(|u| !u.is_empty()) {
        let passwd = env
            .read_file(Path::new(PASSWD))
            .map_err(|err| NpmError::Read {
                path: PathBuf::from(PASSWD),
                err,
            })?;
        if let Some(home) = passwd.as_deref().and_then(|p| passwd_home(p, &user)) {
            return Ok(Some(home.join(".npmrc")));
        }
    }
    Ok(env
        .var("HOME")
        .filter(|h| Path::new(h).is_absolute())
        .map(|h| PathBuf::from(h).join(".npmrc")))
}

/// The home directory of `user` in an `/etc/passwd` text (`name:pw:uid:gid:gecos:home:shell`).
fn passwd_home(passwd: &str, user: &str) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, _, _, _, home, ..] if *name == user && home.starts_with('/') => {
                Some(PathBuf::from(home))
            }
            _ => None,
        }
    })
}

fn global_npmrc_candidates(env: &dyn Env) -> Vec<PathBuf> {
    if let Some(path) = first_var(env, &GLOBALCONFIG_VARS) {
        return vec![PathBuf::from(path)];
    }
    let mut out = Vec::new();
    if let Some(prefix) = first_var(env, &PREFIX_CONFIG_VARS) {
        out.push(Path::new(&prefix).join("etc/npmrc"));
    }
    if let Some(prefix) = env.var("PREFIX").filter(|p| !p.is_empty()) {
        out.push(Path::new(&prefix).join("etc/npmrc"));
    }
    out.extend(GLOBAL_NPMRC_CANDIDATES.iter().map(PathBuf::from));
    out
}

fn first_var(env: &dyn Env, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| env.var(n).filter(|v| !v.trim().is_empty()))
}

fn dedup(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::with_capacity(paths.len());
    for p in paths {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// npm's `ini` unquoting: trims; a double-quoted value is a JSON string, a single-quoted one is
/// literal; otherwise the value ends at the first unescaped `;` or `#`.
fn ini_unsafe(raw: &str) -> String {
    let v = raw.trim();
    let quoted = |q: char| v.len() >= 2 && v.starts_with(q) && v.ends_with(q);
    if quoted('"') {
        return serde_json::from_str::<String>(v).unwrap_or_else(|_| v[1..v.len() - 1].to_owned());
    }
    if quoted('\'') {
        return v[1..v.len() - 1].to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut escaped = false;
    for c in v.chars() {
        if escaped {
            if !matches!(c, '\\' | ';' | '#') {
                out.push('\\');
            }
            out.push(c);
            escaped = false;
        } else if c == ';' || c == '#' {
            break;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    if escaped {
        out.push('\\');
    }
    out.trim().to_owned()
}
