//! `docs/configuration.md`, generated from the table of keys ([`KEYS`]) and the built-in
//! values. A test fails when the checked-in file is stale; `FW_WRITE_CONFIG_DOC=1 cargo test
//! -p fw-core --lib config_doc` rewrites it.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::file::parse_cspace_json;
use super::keys::{
    DEFAULT_DOMAINS, DEFAULT_MARKER, DEFAULT_META_KEYS, DEFAULT_META_URL, DEFAULT_VERIFY_ALLOWED,
    DEFAULT_VERIFY_BLOCKED, DOMAINS_VAR, DefaultValue, KEYS, Kind, MAX_TIMEOUT_MS, Spec,
    VERCEL_CIDRS,
};
use super::npm::{GLOBAL_NPMRC_CANDIDATES, ROOT_NPMRC};
use super::{NPM_CONFIG_GET_TIMEOUT, Profile, parse_domains_var};

/// The variable that makes the staleness test rewrite the file instead of failing.
pub const WRITE_VAR: &str = "FW_WRITE_CONFIG_DOC";

fn code_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    quoted.join(", ")
}

/// A key's default, for the tables.
fn default_text(spec: &Spec) -> String {
    match (spec.kind, spec.default) {
        (Kind::Domains | Kind::Cidrs, _) => "none (added to the built-in list)".to_owned(),
        (_, DefaultValue::Duration(d)) => format!("{} ms", d.as_millis()),
        (_, DefaultValue::List(items)) => code_list(items),
        (_, DefaultValue::Text(t)) => format!("`{t}`"),
        (_, DefaultValue::Bool(b)) => format!("`{b}`"),
    }
}

/// The flags, for the tables: `--domain NAME`, `--enabled` / `--disable`.
fn flag_text(spec: &Spec) -> String {
    let f = &spec.flag;
    let mut text = match (f.off, f.value_name) {
        (Some(off), _) => format!("`{}` / `{off}`", f.long),
        (None, "") => format!("`{}`", f.long),
        (None, v) => format!("`{} {v}`", f.long),
    };
    if spec.kind.is_list() {
        text.push_str(" (repeatable)");
    }
    text
}

/// The sample `.cspace.json`: every key with its example, or its default.
pub fn sample_file() -> String {
    let mut firewall = Map::new();
    for spec in &KEYS {
        let text = if spec.example.is_empty() {
            spec.default.json()
        } else {
            spec.example.to_owned()
        };
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let mut at = &mut firewall;
        let mut path = spec.path().peekable();
        while let Some(part) = path.next() {
            if path.peek().is_none() {
                at.insert(part.to_owned(), value.clone());
                break;
            }
            let next = at
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match next {
                Value::Object(m) => at = m,
                _ => break,
            }
        }
    }
    let mut doc = Map::new();
    doc.insert("firewall".to_owned(), Value::Object(firewall));
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default()
}

fn intro(out: &mut String) {
    out.push_str(
        "# Configuration reference\n\n\
         <!-- Generated from fw-core/src/config/keys.rs by fw-core/src/config/docs.rs: do not \
         edit; run `FW_WRITE_CONFIG_DOC=1 cargo test -p fw-core --lib config_doc`. -->\n\n\
         The firewall's configuration comes from four sources. `fw_core::config::load` merges \
         them into\none validated `Config`; `fw-cli plan` prints the result. Nothing is read \
         from the system except\nthrough the `Env` trait (fw-cli's `SystemEnv` in production, \
         fw-testkit's `FakeEnv` in tests).\n\n\
         | Order | Source | What it can set |\n|---|---|---|\n\
         | 1 | built-in defaults (the seed), with the npm registry's host | everything |\n\
         | 2 | `.cspace.json`, the `firewall` object | every key |\n",
    );
    let vars: Vec<String> = KEYS
        .iter()
        .filter_map(|s| s.env.map(|v| format!("`{v}` ({})", s.name)))
        .collect();
    let _ = writeln!(out, "| 3 | environment variables | {} |", vars.join(", "));
    out.push_str(
        "| 4 | command-line flags | every key |\n\n\
         - **Lists add up.** Domains and CIDRs from the file, the variable and the flags are \
         appended to\n  the defaults, in that order. Duplicates are dropped; the first \
         occurrence and its origin are\n  kept (so a default domain repeated in the file still \
         shows as a default). Domains compare\n  case-insensitively and without a trailing dot; \
         CIDRs compare after host bits are cleared.\n\
         - **Scalars are replaced.** Every other key takes the value of the last source that \
         sets it:\n  flag over file over default. Meta keys are a list that replaces the \
         built-in one.\n\
         - **Errors stop the load; oddities warn.** Every error names where the value came \
         from (file\n  and JSON pointer, variable, flag, npm source), the value, and why it \
         was refused.\n\n",
    );
}

fn keys_table(out: &mut String) {
    out.push_str(
        "## Keys\n\n\
         Every key, declared once in `fw_core::config::keys::KEYS`. The name is the key's \
         path in the\n`firewall` object of `.cspace.json`. Flags marked *library* are \
         accepted by `fw_core::config::Overrides`\n(and named in its messages) but not offered \
         by fw-cli.\n\n\
         | Key | Type | Default | Variable | Flag | Meaning |\n|---|---|---|---|---|---|\n",
    );
    for spec in &KEYS {
        let var = spec.env.map(|v| format!("`{v}`")).unwrap_or_default();
        let mut flag = flag_text(spec);
        if !spec.flag.cli {
            flag.push_str(" *library*");
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {var} | {flag} | {} |",
            spec.name,
            spec.kind.doc_type(),
            default_text(spec),
            spec.doc
        );
    }
    out.push('\n');
}

fn defaults(out: &mut String) {
    let _ = write!(
        out,
        "## Built-in defaults\n\n\
         | Setting | Default |\n|---|---|\n\
         | domains | the npm registry's host (see below), {} |\n\
         | CIDRs | {} (Vercel CDN) |\n\
         | meta | `{DEFAULT_META_URL}`, keys {} |\n\
         | verify | blocked `{DEFAULT_VERIFY_BLOCKED}`, allowed `{DEFAULT_VERIFY_ALLOWED}` |\n\
         | marker | `{DEFAULT_MARKER}` |\n\
         | profile | `{}` |\n\
         | enabled | `true` |\n\n\
         Every timeout is configurable from 1 ms to {MAX_TIMEOUT_MS} ms ({} minutes). A meta \
         connect timeout longer\nthan the meta total timeout is a warning.\n\n",
        code_list(&DEFAULT_DOMAINS),
        code_list(&VERCEL_CIDRS),
        code_list(&DEFAULT_META_KEYS),
        Profile::default(),
        MAX_TIMEOUT_MS / 60_000,
    );
}

fn file_section(out: &mut String) {
    let _ = write!(
        out,
        "## `.cspace.json`\n\n\
         Which file: an explicit path (`LoadOptions::cspace_json`, which fw-cli fills from \
         `--config`) if given, and then it must\nexist; otherwise `<workspace>/.cspace.json` \
         (`LoadOptions::workspace_dir`) if it exists; otherwise\nnone. The file belongs to the \
         wider cspace tool: top-level keys other than `firewall` are ignored\nwithout a word. \
         Unknown keys inside `firewall` (and inside its groups) are warnings naming the JSON \
         pointer, for example\n`/ws/.cspace.json /firewall/allow_all: unknown key, ignored`.\n\n\
         ```json\n{}\n```\n\n\
         | Keys | Rules |\n|---|---|\n",
        sample_file()
    );
    let mut kinds: Vec<Kind> = Vec::new();
    for spec in &KEYS {
        if !kinds.contains(&spec.kind) {
            kinds.push(spec.kind);
            let names: Vec<String> = KEYS
                .iter()
                .filter(|s| s.kind == spec.kind)
                .map(|s| format!("`{}`", s.name))
                .collect();
            let _ = writeln!(out, "| {} | {} |", names.join(", "), spec.kind.doc_rules());
        }
    }
    out.push_str(
        "\nErrors look like (produced by the parser as this page is generated):\n\n```text\n",
    );
    for text in [
        "{\"firewall\": {\n  \"enabled\": true,\n  \"domains\": [\"a.example.com\"]\n  \"cidrs\": []\n}}",
        r#"{"firewall": {"domains": ["ok.example.com", "bad_name.example.com"]}}"#,
        r#"{"firewall": {"timeouts": {"lock_ms": 600001}}}"#,
    ] {
        let _ = writeln!(out, "{}", file_error(text));
    }
    out.push_str("```\n\n");
}

/// The message a `.cspace.json` of this text is refused with.
fn file_error(text: &str) -> String {
    match parse_cspace_json(Path::new("/ws/.cspace.json"), text, &mut Vec::new()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn env_and_flags(out: &mut String) {
    let _ = write!(
        out,
        "## `{DOMAINS_VAR}`\n\n\
         Extra domains separated by spaces (tabs, newlines and carriage returns are tolerated \
         too). Each\nentry must be a host name as above, so an entry with a shell \
         metacharacter can never get through:\n\n```text\n{}\n```\n\n\
         The cspace tool sets this variable from `firewall.domains`; when both are present the \
         entries\nare simply deduplicated.\n\n\
         ## Flags\n\n\
         fw-cli builds its configuration flags from the table; `fw_core::config::Overrides` \
         holds their raw\nvalues by key, and messages name the flag (`flag --domain: invalid \
         value ...`). Besides the keys,\n`--config PATH` names the `.cspace.json` to read.\n\n\
         | Flag | Key | Effect | fw-cli |\n|---|---|---|---|\n",
        parse_domains_var(Some("ok.example.com a.com;rm"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    );
    for spec in &KEYS {
        let effect = match spec.kind {
            k if k.adds_up() => "add",
            Kind::MetaKeys => "replace the whole list",
            _ => "replace",
        };
        let cli = if spec.flag.cli { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "| {} | `{}` | {effect} | {cli} |",
            flag_text(spec),
            spec.name
        );
    }
    out.push('\n');
}

fn npm_section(out: &mut String) {
    let _ = write!(
        out,
        "## The npm registry's host\n\n\
         The seed allows \"npm\" without naming a host; the firewall allows the host npm is \
         actually\nconfigured to use. The first source that sets `registry` wins (npm's own \
         precedence):\n\n\
         1. `NPM_CONFIG_REGISTRY`, then `npm_config_registry`;\n\
         2. the project config `<workspace>/.npmrc`, when a workspace directory is given;\n\
         3. the user config: the file named by `NPM_CONFIG_USERCONFIG` / \
         `npm_config_userconfig`, else\n   the invoking user's `~/.npmrc` (under `sudo`, \
         `$SUDO_USER`'s home from `/etc/passwd`;\n   otherwise `$HOME`);\n\
         4. root's `{ROOT_NPMRC}`;\n\
         5. the global config: the file named by `NPM_CONFIG_GLOBALCONFIG` / \
         `npm_config_globalconfig`,\n   else the first of `$npm_config_prefix/etc/npmrc`, \
         `$PREFIX/etc/npmrc`,\n   {} that sets `registry`;\n\
         6. the output of `npm config get registry`, if `npm` is on `PATH` (killed after {} \
         s).\n\n\
         `.npmrc` lines are `key = value`; `;` and `#` start comments (also after a value); \
         values may be\nquoted; `@scope:registry`, `//host/:_authToken` and keys inside \
         `[sections]` are ignored; the last\n`registry` line of a file wins; `${{NAME}}` \
         expands to the variable's value and `${{NAME?}}` to the\nvalue or nothing. An empty \
         value counts as unset.\n\n\
         The value must be an `http://` or `https://` URL; its host (without user, password, \
         port or\npath) becomes the first required domain, with the source as its origin. An \
         invalid value, an\nunset `${{NAME}}`, or an IP-address host (not supported yet: use \
         a host name) is an error naming\nthe source and the value, with any \
         `user:password@` shown as `***@`. It does not fall through to\nlater sources. When no \
         source sets a registry, loading succeeds with a warning and no npm host is\n\
         allowed.\n",
        code_list(&GLOBAL_NPMRC_CANDIDATES),
        NPM_CONFIG_GET_TIMEOUT.as_secs(),
    );
}

/// The whole of `docs/configuration.md`.
pub fn configuration_markdown() -> String {
    let mut out = String::new();
    intro(&mut out);
    keys_table(&mut out);
    defaults(&mut out);
    file_section(&mut out);
    env_and_flags(&mut out);
    npm_section(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in doc is the table's rendering.
    #[test]
    fn config_doc_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
        let want = configuration_markdown();
        if std::env::var_os(WRITE_VAR).is_some() {
            std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/configuration.md is stale: run `{WRITE_VAR}=1 cargo test -p fw-core --lib config_doc`"
        );
    }
}
