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
use fw_core::docker_dns::parse_nat_save;
use fw_core::exec::{Command, ExecError, Tools};

/// What was found.
#[derive(Debug, Clone, Default)]
pub struct DockerDnsFound {
    /// Rules in the backend we write with: to be written back by our nat table.
    pub ours: DockerDnsRules,
    /// The backend we write with (`nft` or `legacy`).
    pub our_backend: &'static str,
    /// Things to tell the operator.
    pub warnings: Vec<String>,
}

/// Which backend the default `iptables-restore` is.
pub fn default_backend(tools: &(impl Tools + ?Sized)) -> Result<&'static str> {
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

/// The nat table of one backend, or `None` when that backend is not installed.
fn nat_of(tools: &(impl Tools + ?Sized), backend: Backend) -> Result<Option<DockerDnsRules>> {
    let program = backend.program(false, "save");
    match tools.run(&Command::new(&program, ["-t", "nat"])) {
        Ok(out) => parse_nat_save(&out.stdout)
            .map(Some)
            .with_context(|| format!("cannot read Docker's DNS rules from {program} -t nat")),
        Err(ExecError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot list the nat table with {program}")),
    }
}

/// Looks for Docker's DNS rules in both backends.
pub fn gather(tools: &(impl Tools + ?Sized)) -> Result<DockerDnsFound> {
    let ours = default_backend(tools)?;
    let nft = nat_of(tools, Backend::Nft)?;
    let legacy = nat_of(tools, Backend::Legacy)?;
    let (mine, other, other_name) = match ours {
        "legacy" => (legacy, nft, "iptables-nft"),
        _ => (nft, legacy, "iptables-legacy"),
    };
    let mine = mine.unwrap_or_default();
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
        warnings,
    })
}
