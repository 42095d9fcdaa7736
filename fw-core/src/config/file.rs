//! `.cspace.json`: which file, and its `firewall` object read by the table ([`KEYS`]): a key's
//! name is its path in the object, the groups (`verify`, `timeouts`, `meta`) are the names'
//! first parts, and anything else is an unknown key (a warning naming its JSON pointer).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Origin;
use super::env::Env;
use super::error::{ConfigError, Warning};
use super::keys::{CSPACE_JSON, Item, KEYS, Kind, Spec, ValueError, check_item, check_timeout_ms};
use super::layer::{Layer, Setting, list_setting};
use super::url::redact;

/// The `.cspace.json` to read and its text, if any: the explicit file, which must exist, else
/// the workspace's, if it exists.
pub(super) fn cspace_json_text(
    env: &dyn Env,
    cspace_json: Option<&Path>,
    workspace_dir: Option<&Path>,
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let (path, required) = match (cspace_json, workspace_dir) {
        (Some(p), _) => (p.to_owned(), true),
        (None, Some(dir)) => (dir.join(CSPACE_JSON), false),
        (None, None) => return Ok(None),
    };
    match env.read_file(&path) {
        Ok(Some(text)) => Ok(Some((path, text))),
        Ok(None) if required => Err(ConfigError::NotFound { path }),
        Ok(None) => Ok(None),
        Err(err) => Err(ConfigError::Read { path, err }),
    }
}

/// Parses the text of a `.cspace.json`. Only the `firewall` object is ours.
pub(super) fn parse_cspace_json(
    path: &Path,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Layer, ConfigError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        ConfigError::Syntax {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: full.strip_suffix(&position).unwrap_or(&full).to_owned(),
        }
    })?;
    let Value::Object(top) = doc else {
        return Err(ConfigError::TopLevel {
            path: path.to_owned(),
        });
    };
    let mut reader = FileReader { path, warnings };
    let mut layer = Layer::new();
    if let Some(fw) = top.get("firewall") {
        let fw = reader.object("/firewall", fw)?;
        reader.walk(&mut layer, "/firewall", &[], fw)?;
    }
    Ok(layer)
}

/// A JSON pointer with one more reference token (RFC 6901 escaping).
fn ptr(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// A JSON value for a message: compact, and cut after 120 characters.
fn show(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// Walks a parsed `.cspace.json`, keeping the JSON pointer of every value for messages.
struct FileReader<'a> {
    path: &'a Path,
    warnings: &'a mut Vec<Warning>,
}

impl FileReader<'_> {
    fn bad(&self, pointer: &str, value: &Value, reason: ValueError) -> ConfigError {
        ConfigError::File {
            path: self.path.to_owned(),
            pointer: pointer.to_owned(),
            value: show(value),
            reason,
        }
    }

    fn unknown(&mut self, pointer: &str) {
        self.warnings.push(Warning {
            source: format!("{} {pointer}", self.path.display()),
            message: "unknown key, ignored".to_owned(),
        });
    }

    fn object<'v>(&self, p: &str, v: &'v Value) -> Result<&'v Map<String, Value>, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.bad(p, v, ValueError::Type("an object")))
    }

    /// The members of the object at `pointer`, which is the table's path `at` (empty for the
    /// `firewall` object itself), in the file's order.
    fn walk(
        &mut self,
        layer: &mut Layer,
        pointer: &str,
        at: &[&str],
        object: &Map<String, Value>,
    ) -> Result<(), ConfigError> {
        for (name, v) in object {
            let p = ptr(pointer, name);
            let path: Vec<&str> = at.iter().copied().chain([name.as_str()]).collect();
            if let Some(spec) = KEYS.iter().find(|s| s.path().eq(path.iter().copied())) {
                layer.push((spec.key, self.value(spec, &p, v)?));
            } else if KEYS
                .iter()
                .any(|s| s.path().count() > path.len() && s.path().zip(&path).all(|(a, b)| a == *b))
            {
                let inner = self.object(&p, v)?;
                self.walk(layer, &p, &path, inner)?;
            } else {
                self.unknown(&p);
            }
        }
        Ok(())
    }

    /// A key's value: one item, or an array of them.
    fn value(&self, spec: &Spec, p: &str, v: &Value) -> Result<Setting, ConfigError> {
        let kind = spec.kind;
        if !kind.is_list() {
            return Ok(Setting::Scalar(self.item(kind, p, v)?));
        }
        let array = v
            .as_array()
            .ok_or_else(|| self.bad(p, v, ValueError::Type(kind.json_type())))?;
        let mut items = Vec::with_capacity(array.len());
        for (i, element) in array.iter().enumerate() {
            let ip = ptr(p, &i.to_string());
            let item = self.item(kind, &ip, element)?;
            let origin = Origin::File {
                path: self.path.to_owned(),
                pointer: ip,
            };
            items.push((item, origin));
        }
        list_setting(kind, items).map_err(|e| self.bad(p, v, e))
    }

    /// One value (or one element of a list): JSON booleans and numbers as such, anything else
    /// a string checked as every source's text is.
    fn item(&self, kind: Kind, p: &str, v: &Value) -> Result<Item, ConfigError> {
        let wrong_type = |expected| self.bad(p, v, ValueError::Type(expected));
        match kind {
            Kind::Bool => v
                .as_bool()
                .map(Item::Bool)
                .ok_or_else(|| wrong_type(kind.json_type())),
            Kind::Millis => {
                let ms = v.as_u64().ok_or_else(|| wrong_type(kind.json_type()))?;
                check_timeout_ms(ms)
                    .map(Item::Millis)
                    .map_err(|e| self.bad(p, v, e))
            }
            _ => {
                let s = v.as_str().ok_or_else(|| wrong_type("a string"))?;
                check_item(kind, s).map_err(|e| match kind {
                    Kind::Url => self.bad(p, &Value::String(redact(s)), e),
                    _ => self.bad(p, v, e),
                })
            }
        }
    }
}
