//! Finding Docker's embedded-DNS rules in whichever iptables backend holds them.
//!
//! Docker writes its `DOCKER_OUTPUT` / `DOCKER_POSTROUTING` nat rules with the backend its
//! daemon uses, which need not be the one `iptables` points to in the container. We look in
//! both. Rules that live in the backend fw-cli writes with are written back verbatim in our nat
//! clean slate; rules that live in the other backend are left where they are (our restore never
//! touches that backend's tables), with a warning. Docker's native nftables table
//! (`table ip docker-dns`) is never touched by iptables-restore at all (SEQ-02).

use anyhow::{Context, Result, bail};

use fw_core::DockerDnsRules;
use fw_core::apply::Backend;
use fw_core::clean_slate::{self, CleanSlate};
use fw_core::docker_dns::parse_nat_save;
use fw_core::exec::{Command, ExecError, Tools};

/// What was found.
#[derive(Debug, Clone, Default)]
pub struct DockerDnsFound {
    /// Rules in the backend we write with: to be written back by our nat table.
    pub ours: DockerDnsRules,
    /// The backend we write with (`nft` or `legacy`).
    pub our_backend: &'static str,
    /// Which tables of our backend besides filter hold something a clean slate would not.
    pub clean_slate: CleanSlate,
    /// Things to tell the operator.
    pub warnings: Vec<String>,
}

/// The backend a multi-call binary's name says (`xtables-nft-multi`, `xtables-legacy-multi`,
/// or a backend's own program such as `iptables-legacy-restore`).
fn backend_named(program: &std::path::Path) -> Option<&'static str> {
    let name = program.file_name()?.to_str()?;
    if name.contains("legacy") {
        Some("legacy")
    } else if name.contains("nft") {
        Some("nft")
    } else {
        None
    }
}

/// Which backend the default `iptables-restore` is: where its link points (Debian's
/// alternatives, Alpine's and Fedora's links all end at `xtables-<backend>-multi`), else what
/// `iptables-restore --version` says.
pub fn default_backend(tools: &(impl Tools + ?Sized)) -> Result<&'static str> {
    if let Some(found) = tools
        .locate("iptables-restore")
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| backend_named(&p))
    {
        return Ok(found);
    }
    let out = tools
        .run(&Command::new("iptables-restore", ["--version"]))
        .context("cannot tell which iptables backend is installed")?;
    let text = format!("{}{}", out.stdout, out.stderr);
    if text.contains("legacy") {
        Ok("legacy")
    } else if text.contains("nf_tables") {
        Ok("nft")
    } else {
        bail!("unrecognised iptables-restore version: {}", text.trim())
    }
}

/// What `iptables-<backend>-save` lists of `table`, or of every table; `None` when the backend
/// is not installed. The kernel lists the legacy tables of this namespace: when none of those
/// asked about is there, nothing is run and the listing is empty (`iptables-legacy-save -t nat`
/// would also create the table it lists).
fn listing(
    tools: &(impl Tools + ?Sized),
    backend: Backend,
    table: Option<&str>,
) -> Result<Option<String>> {
    let asked: &[&str] = match &table {
        Some(t) => std::slice::from_ref(t),
        None => &clean_slate::TABLES,
    };
    if backend == Backend::Legacy
        && tools
            .legacy_tables(false)
            .is_some_and(|tables| !tables.iter().any(|t| asked.contains(&t.as_str())))
    {
        return Ok(Some(String::new()));
    }
    let program = backend.program(false, "save");
    let args: Vec<&str> = table.map(|t| vec!["-t", t]).unwrap_or_default();
    match tools.run(&Command::new(&program, args)) {
        Ok(out) => Ok(Some(out.stdout)),
        Err(ExecError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot list the tables with {program}")),
    }
}

/// The nat table of one backend, or `None` when that backend is not installed.
fn nat_of(tools: &(impl Tools + ?Sized), backend: Backend) -> Result<Option<DockerDnsRules>> {
    let Some(text) = listing(tools, backend, Some("nat"))? else {
        return Ok(None);
    };
    parse_nat_save(&text).map(Some).with_context(|| {
        format!(
            "cannot read Docker's DNS rules from {} -t nat",
            backend.program(false, "save")
        )
    })
}

/// Our backend's tables, in one listing of all of them: Docker's DNS rules in its nat table,
/// and which tables besides filter need a clean slate. Without the backend's tools: nothing
/// found, and the clean slate is not known.
fn ours_of(
    tools: &(impl Tools + ?Sized),
    backend: Backend,
) -> Result<(DockerDnsRules, CleanSlate)> {
    let Some(text) = listing(tools, backend, None)? else {
        return Ok((DockerDnsRules::default(), CleanSlate::Unknown));
    };
    let rules = parse_nat_save(&text).with_context(|| {
        format!(
            "cannot read Docker's DNS rules from {}",
            backend.program(false, "save")
        )
    })?;
    let slate = CleanSlate::from_save(&text, &rules);
    Ok((rules, slate))
}

/// Looks for Docker's DNS rules in both backends, and at what our backend's tables hold.
pub fn gather(tools: &(impl Tools + ?Sized)) -> Result<DockerDnsFound> {
    let ours = default_backend(tools)?;
    let (our_backend, other_backend, other_name) = match ours {
        "legacy" => (Backend::Legacy, Backend::Nft, "iptables-nft"),
        _ => (Backend::Nft, Backend::Legacy, "iptables-legacy"),
    };
    let (mine, clean_slate) = ours_of(tools, our_backend)?;
    let other = nat_of(tools, other_backend)?;
    if mine.nat_incompatible {
        // The nat table holds rules iptables cannot represent; a restore of *nat would
        // replace them blindly, Docker's DNS possibly among them. Refuse instead.
        bail!(
            "the nat table holds rules iptables-{ours} cannot read (\"table `nat' is incompatible\"); refusing to replace it"
        );
    }
    let mut warnings = Vec::new();
    if let Some(other) = other
        && !other.rules.is_empty()
    {
        warnings.push(format!(
            "Docker's DNS rules live in {other_name} while fw-cli writes with iptables-{ours}: they are left where they are"
        ));
    }
    Ok(DockerDnsFound {
        ours: mine,
        our_backend: ours,
        clean_slate,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use fw_testkit::kernel::FakeKernel;

    use super::*;

    #[test]
    fn backends_are_read_from_the_program_a_link_ends_at() {
        for (path, want) in [
            ("/usr/sbin/xtables-nft-multi", Some("nft")),
            ("/sbin/xtables-legacy-multi", Some("legacy")),
            ("/usr/sbin/iptables-legacy-restore", Some("legacy")),
            ("/usr/sbin/iptables-restore", None),
            ("/", None),
        ] {
            assert_eq!(backend_named(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn the_default_backend_falls_back_to_asking_the_tool() {
        // The fake's programs are not links on this machine: the answer comes from --version.
        let k = FakeKernel::new();
        assert_eq!(default_backend(&k).unwrap(), "nft");
        assert!(
            k.call_lines()
                .iter()
                .any(|l| l == "iptables-restore --version")
        );
    }

    #[test]
    fn an_empty_legacy_backend_is_not_asked_and_a_populated_one_is() {
        let k = FakeKernel::new();
        let found = gather(&k).unwrap();
        assert!(found.warnings.is_empty());
        let lines = k.call_lines();
        assert!(
            !lines.iter().any(|l| l.starts_with("iptables-legacy-save")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l == "iptables-nft-save"), "{lines:?}");

        k.preload(
            "legacy",
            false,
            "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\nCOMMIT\n",
        )
        .unwrap();
        let found = gather(&k).unwrap();
        assert!(
            k.call_lines()
                .iter()
                .any(|l| l == "iptables-legacy-save -t nat")
        );
        assert!(
            found.warnings.iter().any(|w| w.contains("iptables-legacy")),
            "{:?}",
            found.warnings
        );
    }
}
