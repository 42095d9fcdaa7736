//! The npm registry's host from npm's own configuration, through the public API with
//! fw-testkit's fake environment: every source, their order, the `.npmrc` dialect, and the
//! messages that name a refused value.

use std::path::Path;

use fw_core::config::npm::{
    NPM_COMMAND_SOURCE, PASSWD, npm_registry_host, npm_registry_host_in, npmrc_registry,
};
use fw_testkit::env::FakeEnv;
use rstest::rstest;

fn host(env: &FakeEnv) -> Option<(String, String)> {
    match npm_registry_host(env) {
        Ok(v) => v.map(|(d, s)| (d.to_string(), s)),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(env: &FakeEnv) -> String {
    match npm_registry_host(env) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

const PASSWD_TEXT: &str = "root:x:0:0:root:/root:/bin/bash\n\
    dev:x:1000:1000:Dev,,,:/home/dev:/bin/bash\n";

/// Every source on its own yields its host and names itself.
#[rstest]
#[case::env_upper(
    FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", "https://registry.npm.test/"),
    "registry.npm.test", "environment variable NPM_CONFIG_REGISTRY"
)]
#[case::env_lower(
    FakeEnv::new().with_var("npm_config_registry", "http://npm.internal.example:4873"),
    "npm.internal.example", "environment variable npm_config_registry"
)]
#[case::sudo_user(
    FakeEnv::new()
        .with_var("SUDO_USER", "dev")
        .with_var("HOME", "/root")
        .with_file(PASSWD, PASSWD_TEXT)
        .with_file("/home/dev/.npmrc", "registry=https://user.npm.test/\n"),
    "user.npm.test", "/home/dev/.npmrc"
)]
#[case::home(
    FakeEnv::new()
        .with_var("HOME", "/home/agent")
        .with_file("/home/agent/.npmrc", "registry = https://home.npm.test/\n"),
    "home.npm.test", "/home/agent/.npmrc"
)]
#[case::userconfig_var(
    FakeEnv::new()
        .with_var("NPM_CONFIG_USERCONFIG", "/cfg/npmrc")
        .with_var("HOME", "/home/agent")
        .with_file("/cfg/npmrc", "registry=https://uc.npm.test/\n")
        .with_file("/home/agent/.npmrc", "registry=https://home.npm.test/\n"),
    "uc.npm.test", "/cfg/npmrc"
)]
#[case::root(
    FakeEnv::new().with_file("/root/.npmrc", "registry=https://root.npm.test/\n"),
    "root.npm.test", "/root/.npmrc"
)]
#[case::prefix(
    FakeEnv::new()
        .with_var("PREFIX", "/opt/node")
        .with_file("/opt/node/etc/npmrc", "registry=https://prefix.npm.test/\n")
        .with_file("/etc/npmrc", "registry=https://etc.npm.test/\n"),
    "prefix.npm.test", "/opt/node/etc/npmrc"
)]
#[case::usr_local(
    FakeEnv::new().with_file("/usr/local/etc/npmrc", "registry=https://local.npm.test/\n"),
    "local.npm.test", "/usr/local/etc/npmrc"
)]
#[case::usr(
    FakeEnv::new().with_file("/usr/etc/npmrc", "registry=https://usr.npm.test/\n"),
    "usr.npm.test", "/usr/etc/npmrc"
)]
#[case::etc(
    FakeEnv::new().with_file("/etc/npmrc", "registry=https://etc.npm.test/\n"),
    "etc.npm.test", "/etc/npmrc"
)]
#[case::global_without_registry_falls_through(
    FakeEnv::new()
        .with_file("/usr/local/etc/npmrc", "color=false\n")
        .with_file("/etc/npmrc", "registry=https://etc.npm.test/\n"),
    "etc.npm.test", "/etc/npmrc"
)]
#[case::globalconfig_var(
    FakeEnv::new()
        .with_var("npm_config_globalconfig", "/g/npmrc")
        .with_file("/g/npmrc", "registry=https://g.npm.test/\n")
        .with_file("/etc/npmrc", "registry=https://etc.npm.test/\n"),
    "g.npm.test", "/g/npmrc"
)]
#[case::command(
    FakeEnv::new().with_npm_registry("https://cmd.npm.test/\n"),
    "cmd.npm.test", NPM_COMMAND_SOURCE
)]
#[case::command_last_line(
    FakeEnv::new().with_npm_registry("npm notice something\nhttps://cmd.npm.test/\n\n"),
    "cmd.npm.test", NPM_COMMAND_SOURCE
)]
fn each_source(#[case] env: FakeEnv, #[case] want: &str, #[case] source: &str) {
    assert_eq!(host(&env), Some((want.to_owned(), source.to_owned())));
}

/// With every source set, each one beats all those after it.
#[rstest]
#[case(0, "env-upper.test")]
#[case(1, "env-lower.test")]
#[case(2, "user.test")]
#[case(3, "root.test")]
#[case(4, "usr-local.test")]
#[case(5, "etc.test")]
#[case(6, "cmd.test")]
fn earlier_sources_win(#[case] skip: usize, #[case] want: &str) {
    let sources: [(&str, &str); 7] = [
        ("var", "NPM_CONFIG_REGISTRY"),
        ("var", "npm_config_registry"),
        ("file", "/home/dev/.npmrc"),
        ("file", "/root/.npmrc"),
        ("file", "/usr/local/etc/npmrc"),
        ("file", "/etc/npmrc"),
        ("cmd", ""),
    ];
    let hosts = [
        "env-upper.test",
        "env-lower.test",
        "user.test",
        "root.test",
        "usr-local.test",
        "etc.test",
        "cmd.test",
    ];
    let mut env = FakeEnv::new().with_var("HOME", "/home/dev");
    for ((kind, name), h) in sources.iter().zip(hosts).skip(skip) {
        let url = format!("https://{h}/");
        env = match *kind {
            "var" => env.with_var(name, &url),
            "file" => env.with_file(*name, &format!("registry={url}\n")),
            _ => env.with_npm_registry(&url),
        };
    }
    assert_eq!(host(&env).map(|(h, _)| h), Some(want.to_owned()));
}

#[test]
fn project_config_beats_user_config() {
    let env = FakeEnv::new()
        .with_var("HOME", "/home/dev")
        .with_file("/ws/.npmrc", "registry=https://project.npm.test/\n")
        .with_file("/home/dev/.npmrc", "registry=https://user.npm.test/\n");
    let got = npm_registry_host_in(&env, Some(Path::new("/ws")));
    assert_eq!(
        got.ok().flatten().map(|(d, s)| (d.to_string(), s)),
        Some(("project.npm.test".to_owned(), "/ws/.npmrc".to_owned()))
    );
    // Without a project directory the user's file is used.
    assert_eq!(host(&env).map(|(h, _)| h), Some("user.npm.test".to_owned()));
}

#[test]
fn nothing_configured_is_none() {
    assert_eq!(host(&FakeEnv::new()), None);
    let env = FakeEnv::new()
        .with_var("NPM_CONFIG_REGISTRY", "  ")
        .with_file("/root/.npmrc", "registry=\n; nothing\n")
        .with_npm_registry("undefined\n");
    assert_eq!(host(&env), None);
}

#[test]
fn sudo_user_missing_from_passwd_falls_back_to_home() {
    let env = FakeEnv::new()
        .with_var("SUDO_USER", "ghost")
        .with_var("HOME", "/home/agent")
        .with_file(PASSWD, PASSWD_TEXT)
        .with_file("/home/agent/.npmrc", "registry=https://home.npm.test/\n");
    assert_eq!(host(&env).map(|(h, _)| h), Some("home.npm.test".to_owned()));
}

#[rstest]
#[case::plain("registry=https://a.npm.test/", Some("https://a.npm.test/"))]
#[case::spaces("  registry   =   https://a.npm.test/  ", Some("https://a.npm.test/"))]
#[case::comment_semicolon(
    "; registry=https://no.test/\nregistry=https://a.npm.test",
    Some("https://a.npm.test")
)]
#[case::comment_hash("# registry=https://no.test/", None)]
#[case::inline_comment("registry=https://a.npm.test/ ; mirror", Some("https://a.npm.test/"))]
#[case::double_quoted("registry=\"https://a.npm.test/\"", Some("https://a.npm.test/"))]
#[case::single_quoted("registry='https://a.npm.test/'", Some("https://a.npm.test/"))]
#[case::scoped_ignored("@corp:registry=https://corp.npm.test/", None)]
#[case::scoped_and_plain(
    "@corp:registry=https://corp.npm.test/\nregistry=https://a.npm.test/\n//a.npm.test/:_authToken=x",
    Some("https://a.npm.test/")
)]
#[case::last_wins(
    "registry=https://first.test/\nregistry=https://a.npm.test/",
    Some("https://a.npm.test/")
)]
#[case::section_ignored("[corp]\nregistry=https://no.test/", None)]
#[case::crlf_bom(
    "\u{feff}registry=https://a.npm.test/\r\n",
    Some("https://a.npm.test/")
)]
#[case::empty("registry=", None)]
#[case::flag_only("registry", None)]
#[case::other_keys("save-exact=true\nregistry-mirror=https://no.test/", None)]
fn parses_npmrc(#[case] text: &str, #[case] want: Option<&str>) {
    assert_eq!(npmrc_registry(text).as_deref(), want);
}

#[test]
fn expands_variables() {
    let env = FakeEnv::new()
        .with_var("REG_HOST", "mirror.npm.test")
        .with_file(
            "/root/.npmrc",
            "registry=https://${REG_HOST}${REG_PORT?}/npm/\n",
        );
    assert_eq!(
        host(&env),
        Some(("mirror.npm.test".to_owned(), "/root/.npmrc".to_owned()))
    );
    let env = FakeEnv::new()
        .with_var("REG_HOST", "env.npm.test")
        .with_var("NPM_CONFIG_REGISTRY", "https://${REG_HOST}/");
    assert_eq!(host(&env).map(|(h, _)| h), Some("env.npm.test".to_owned()));
}

#[rstest]
#[case::unset_var(
    FakeEnv::new().with_file("/root/.npmrc", "registry=https://${NOPE}/\n"),
    &["/root/.npmrc", "https://${NOPE}/", "${NOPE}", "not set"]
)]
#[case::bad_scheme(
    FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", "ftp://registry.npm.test/"),
    &["environment variable NPM_CONFIG_REGISTRY", "ftp://registry.npm.test/", "scheme \"ftp\""]
)]
#[case::bad_host(
    FakeEnv::new().with_file("/etc/npmrc", "registry=https://bad_host.test/\n"),
    &["/etc/npmrc", "https://bad_host.test/", "'_'"]
)]
#[case::no_scheme(
    FakeEnv::new().with_var("npm_config_registry", "registry.npm.test"),
    &["npm_config_registry", "registry.npm.test", "scheme"]
)]
#[case::metachar(
    FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", "https://a.test;id/"),
    &["NPM_CONFIG_REGISTRY", "https://a.test;id/", "';'"]
)]
#[case::ip_literal(
    FakeEnv::new().with_file("/root/.npmrc", "registry=http://10.1.2.3:4873/\n"),
    &["/root/.npmrc", "http://10.1.2.3:4873/", "IP address 10.1.2.3", "not supported"]
)]
#[case::ipv6_literal(
    FakeEnv::new().with_npm_registry("http://[fd00::5]:4873/"),
    &["npm config get registry", "IP address fd00::5"]
)]
#[case::credentials_redacted(
    FakeEnv::new().with_var("NPM_CONFIG_REGISTRY", "https://user:s3cret@bad_host.test/"),
    &["https://***@bad_host.test/"]
)]
fn invalid_values_name_source_and_value(#[case] env: FakeEnv, #[case] parts: &[&str]) {
    let msg = err(&env);
    for part in parts {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn an_invalid_earlier_source_does_not_fall_through() {
    let env = FakeEnv::new()
        .with_file("/root/.npmrc", "registry=https://bad_host.test/\n")
        .with_file("/etc/npmrc", "registry=https://etc.npm.test/\n");
    assert!(err(&env).contains("/root/.npmrc"));
}

#[test]
fn unreadable_file_is_an_error() {
    let env = FakeEnv::new().with_unreadable("/root/.npmrc", std::io::ErrorKind::PermissionDenied);
    let msg = err(&env);
    assert!(
        msg.starts_with("cannot read npm config file /root/.npmrc: "),
        "{msg}"
    );
}

#[test]
fn userinfo_and_port_are_not_part_of_the_host() {
    let env = FakeEnv::new().with_var(
        "NPM_CONFIG_REGISTRY",
        "HTTPS://u:p@Registry.NPM.test:8443/path?x=1",
    );
    assert_eq!(
        host(&env).map(|(h, _)| h),
        Some("registry.npm.test".to_owned())
    );
}
