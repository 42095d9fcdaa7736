//! A fake of fw-core's configuration seam ([`Env`]): variables, files and the output of
//! `npm config get registry`, all from maps.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use fw_core::config::Env;

/// An [`Env`] made of maps. Files not in `files` do not exist; files in `unreadable` fail with
/// the given error kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeEnv {
    pub vars: HashMap<String, String>,
    pub files: HashMap<PathBuf, String>,
    pub unreadable: HashMap<PathBuf, io::ErrorKind>,
    /// What `npm config get registry` prints; `None` when npm is absent.
    pub npm_registry: Option<String>,
}

impl FakeEnv {
    pub fn new() -> Self {
        FakeEnv::default()
    }

    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: &str) -> Self {
        self.files.insert(path.into(), text.to_owned());
        self
    }

    pub fn with_unreadable(mut self, path: impl Into<PathBuf>, kind: io::ErrorKind) -> Self {
        self.unreadable.insert(path.into(), kind);
        self
    }

    pub fn with_npm_registry(mut self, output: &str) -> Self {
        self.npm_registry = Some(output.to_owned());
        self
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<String>> {
        if let Some(kind) = self.unreadable.get(path) {
            return Err(io::Error::from(*kind));
        }
        Ok(self.files.get(path).cloned())
    }

    fn npm_config_get_registry(&self) -> Option<String> {
        self.npm_registry.clone()
    }
}
