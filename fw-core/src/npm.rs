//! The npm registry's host, read from the container's npm configuration.
//!
//! The seed allows "the npm registry" without saying which: the one the container's npm is
//! configured to use is the one that must work. No registry host is written into this code; it
//! comes, in npm's own order of precedence, from:
//!
//! 1. the environment: `NPM_CONFIG_REGISTRY`, then `npm_config_registry`;
//! 2. the `registry=` line of the user configuration: the invoking user's `~/.npmrc` (the
//!    `SUDO_USER` when init runs under sudo, else `$HOME`), then root's `/root/.npmrc`;
//! 3. the global configuration: `$PREFIX/etc/npmrc` (`NPM_CONFIG_PREFIX` or `PREFIX`), then
//!    `/usr/local/etc/npmrc`, `/usr/etc/npmrc`, `/etc/npmrc`;
//! 4. `npm config get registry`, when npm is installed (which answers npm's built-in default).
//!
//! Scoped registries (`@scope:registry=`) are not the registry and are ignored.

use std::path::{Path, PathBuf};

use crate::config::Env;
use crate::validate::{Domain, DomainError};

/// The registry host and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmRegistry {
    pub host: Domain,
    /// The source, for messages: a variable name, a file path or the npm command.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpmError {
    #[error("npm registry {value:?} from {source_name} is not an http or https URL")]
    NotUrl { source_name: String, value: String },
    #[error("npm registry {value:?} from {source_name} has no host")]
    NoHost { source_name: String, value: String },
    #[error(
        "npm registry {value:?} from {source_name} is an IP address: allow it with firewall.cidrs instead"
    )]
    IpHost { source_name: String, value: String },
    #[error("npm registry {value:?} from {source_name} has an invalid host: {reason}")]
    BadHost {
        source_name: String,
        value: String,
        reason: DomainError,
    },
    #[error("npm registry in {source_name} uses ${{{var}}}, which is not set")]
    UnsetVar { source_name: String, var: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
}

/// Expands `${VAR}` the way npm does in .npmrc values.
fn expand(value: &str, env: &dyn Env, source_name: &str) -> Result<String, NpmError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let var = &after[..end];
        match env.var(var) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(NpmError::UnsetVar {
                    source_name: source_name.to_owned(),
                    var: var.to_owned(),
                });
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The host of a registry URL, validated.
pub fn registry_host(value: &str, source_name: &str) -> Result<Domain, NpmError> {
    let v = value.trim().trim_matches('"').trim_matches('\'');
    let Some(rest) = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
    else {
        return Err(NpmError::NotUrl {
            source_name: source_name.to_owned(),
            value: value.to_owned(),
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(h) = host_port.strip_prefix('[') {
        h.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(NpmError::NoHost {
            source_name: source_name.to_owned(),
            value: value.to_owned(),
        });
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Err(NpmError::IpHost {
            source_name: source_name.to_owned(),
            value: value.to_owned(),
        });
    }
    host.parse().map_err(|reason| NpmError::BadHost {
        source_name: source_name.to_owned(),
        value: value.to_owned(),
        reason,
    })
}

/// The `registry=` value of an .npmrc text, if it has one (the last one wins, as in npm).
pub fn npmrc_registry(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "registry" {
            found = Some(value.trim().to_owned());
        }
    }
    found
}

/// The home directory of a user, from /etc/passwd.
fn home_of(env: &dyn Env, user: &str) -> Option<PathBuf> {
    let passwd = env.read_file(Path::new("/etc/passwd")).ok().flatten()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[0] == user).then(|| PathBuf::from(f[5]))
    })
}

/// The .npmrc files to read, in order of precedence.
fn npmrc_paths(env: &dyn Env) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let user_home = env
        .var("SUDO_USER")
        .filter(|u| !u.is_empty() && u != "root")
        .and_then(|u| home_of(env, &u))
        .or_else(|| env.var("HOME").map(PathBuf::from));
    if let Some(h) = user_home {
        paths.push(h.join(".npmrc"));
    }
    paths.push(PathBuf::from("/root/.npmrc"));
    for var in ["NPM_CONFIG_PREFIX", "npm_config_prefix", "PREFIX"] {
        if let Some(p) = env.var(var).filter(|p| !p.is_empty()) {
            paths.push(Path::new(&p).join("etc/npmrc"));
        }
    }
    for p in ["/usr/local/etc/npmrc", "/usr/etc/npmrc", "/etc/npmrc"] {
        paths.push(PathBuf::from(p));
    }
    let mut seen = Vec::new();
    paths.retain(|p| {
        let new = !seen.contains(p);
        seen.push(p.clone());
        new
    });
    paths
}

/// Finds the npm registry's host (see the module documentation for the order). `Ok(None)`
/// when npm is not configured at all: the caller warns that npm will not be reachable.
pub fn npm_registry_host(env: &dyn Env) -> Result<Option<NpmRegistry>, NpmError> {
    for var in ["NPM_CONFIG_REGISTRY", "npm_config_registry"] {
        if let Some(v) = env.var(var).filter(|v| !v.trim().is_empty()) {
            return Ok(Some(NpmRegistry {
                host: registry_host(&v, var)?,
                source: var.to_owned(),
            }));
        }
    }
    for path in npmrc_paths(env) {
        let text = env.read_file(&path).map_err(|e| NpmError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let source_name = path.display().to_string();
        if let Some(raw) = text.as_deref().and_then(npmrc_registry) {
            let value = expand(&raw, env, &source_name)?;
            return Ok(Some(NpmRegistry {
                host: registry_host(&value, &source_name)?,
                source: source_name,
            }));
        }
    }
    if let Some(v) = env.npm_config_get_registry() {
        let v = v.trim();
        if !v.is_empty() && v != "undefined" {
            let source_name = "npm config get registry";
            return Ok(Some(NpmRegistry {
                host: registry_host(v, source_name)?,
                source: source_name.to_owned(),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::FakeEnv;
    use rstest::rstest;

    fn host(r: Result<Option<NpmRegistry>, NpmError>) -> (String, String) {
        let r = r.unwrap().unwrap();
        (r.host.to_string(), r.source)
    }

    #[test]
    fn the_environment_comes_first() {
        let env = FakeEnv::default()
            .var("NPM_CONFIG_REGISTRY", "https://registry.npm.test/")
            .var("npm_config_registry", "https://other.npm.test/")
            .file("/root/.npmrc", "registry=https://file.npm.test/\n");
        assert_eq!(
            host(npm_registry_host(&env)),
            ("registry.npm.test".into(), "NPM_CONFIG_REGISTRY".into())
        );
        let env = FakeEnv::default().var("npm_config_registry", "https://lower.npm.test");
        assert_eq!(host(npm_registry_host(&env)).0, "lower.npm.test");
    }

    #[test]
    fn user_config_beats_root_and_global() {
        let env = FakeEnv::default()
            .var("SUDO_USER", "dev")
            .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n")
            .file("/home/dev/.npmrc", "; comment\n@corp:registry=https://scoped.npm.test/\nregistry = https://user.npm.test/\n")
            .file("/root/.npmrc", "registry=https://root.npm.test/\n")
            .file("/etc/npmrc", "registry=https://global.npm.test/\n");
        assert_eq!(
            host(npm_registry_host(&env)),
            ("user.npm.test".into(), "/home/dev/.npmrc".into())
        );
        let env = FakeEnv::default().file("/root/.npmrc", "# nothing\n").file(
            "/usr/local/etc/npmrc",
            "registry=https://global.npm.test:8443/path/\n",
        );
        assert_eq!(host(npm_registry_host(&env)).0, "global.npm.test");
    }

    #[test]
    fn variables_expand_and_an_unset_one_is_named() {
        let env = FakeEnv::default()
            .var("REG", "mirror.npm.test")
            .file("/root/.npmrc", "registry=https://${REG}/\n");
        assert_eq!(host(npm_registry_host(&env)).0, "mirror.npm.test");
        let env = FakeEnv::default().file("/root/.npmrc", "registry=https://${NOPE}/\n");
        assert_eq!(
            npm_registry_host(&env).unwrap_err().to_string(),
            "npm registry in /root/.npmrc uses ${NOPE}, which is not set"
        );
    }

    #[test]
    fn npm_itself_is_the_last_resort_and_nothing_is_none() {
        let env = FakeEnv::default().npm("https://builtin.npm.test/\n");
        assert_eq!(
            host(npm_registry_host(&env)),
            ("builtin.npm.test".into(), "npm config get registry".into())
        );
        assert_eq!(npm_registry_host(&FakeEnv::default()), Ok(None));
    }

    #[rstest]
    #[case("registry.npm.test", "is not an http or https URL")]
    #[case("ftp://registry.npm.test", "is not an http or https URL")]
    #[case("https:///x", "has no host")]
    #[case("https://10.0.0.5:4873/", "is an IP address")]
    #[case("https://bad_host.test/", "has an invalid host")]
    #[case("https://a.test;rm -rf/", "has an invalid host")]
    fn invalid_registries_are_named(#[case] value: &str, #[case] why: &str) {
        let env = FakeEnv::default().var("NPM_CONFIG_REGISTRY", value);
        let err = npm_registry_host(&env).unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("NPM_CONFIG_REGISTRY"),
            "{err}"
        );
    }
}
