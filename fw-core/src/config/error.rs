//! Why a configuration is refused (the npm configuration's refusals included), and what is odd
//! in it without stopping it. Every message names where the value came from: the file and JSON
//! pointer, the environment variable or the flag of the key (from [`super::keys::KEYS`]), or
//! the npm source. Why one value is invalid is [`super::keys::ValueError`].

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::keys::ValueError;
use super::url::UrlError;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {err}")]
    Read {
        path: PathBuf,
        #[source]
        err: io::Error,
    },
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}:{line}:{column}: invalid json: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: the top level must be a json object")]
    TopLevel { path: PathBuf },
    #[error("{path}: {pointer}: invalid value {value}: {reason}")]
    File {
        path: PathBuf,
        /// JSON pointer of the value, e.g. `/firewall/domains/3`.
        pointer: String,
        /// The value as JSON text (shortened when long).
        value: String,
        reason: ValueError,
    },
    #[error("environment variable {var}: invalid entry {entry:?}: {reason}")]
    Env {
        var: String,
        entry: String,
        reason: ValueError,
    },
    #[error("flag {flag}: invalid value {value:?}: {reason}")]
    Flag {
        flag: String,
        value: String,
        reason: ValueError,
    },
    #[error(transparent)]
    Npm(#[from] NpmError),
}

/// Something odd in the configuration that does not stop the firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Where: a file and JSON pointer, a variable, the npm configuration.
    pub source: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Why the registry host could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum NpmError {
    #[error("cannot read npm config file {path}: {err}")]
    Read {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("npm registry from {origin} is {value:?}, which is not usable: {reason}")]
    Invalid {
        /// Where the value came from: a variable or a file path.
        origin: String,
        /// The value as found, with any `user:password@` replaced by `***@`.
        value: String,
        reason: RegistryError,
    },
}

/// Why a registry value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(
        "the host is the IP address {0}; IP-address registries are not supported yet, use a host name"
    )]
    IpLiteral(IpAddr),
    #[error("${{{0}}} refers to an environment variable that is not set")]
    UnsetVariable(String),
    #[error("unterminated ${{ in the value")]
    Unterminated,
}
