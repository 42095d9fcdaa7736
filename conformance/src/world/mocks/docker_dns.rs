//! Docker's embedded DNS, emulated inside the container namespace.
//!
//! Docker runs its resolver in the container's namespace on 127.0.0.11 at two random ports (UDP
//! and TCP) and writes nat rules that send 127.0.0.11:53 there and make answers come back from
//! port 53 (moby `daemon/libnetwork/resolver_unix.go`, `setupIptablesNAT` and
//! `setupNftablesNAT`). The resolver answers by forwarding each query to its upstream, from
//! inside the container's namespace for an upstream given with `--dns`. The emulation does
//! exactly that with a [`Forwarder`] to the world's resolver, so an implementation sees what it
//! would see in a real container: the same chains, the same rule text in `iptables-save`, the
//! same dependency of DNS on those rules (flush the nat table and DNS over TCP is refused), and
//! the same dependency on its own OUTPUT rules letting the forwarded query reach the upstream
//! (the container's resolv.conf names it: `# ExtServers: [198.51.100.2]`). SEQ-01/02 then check
//! that DNS through 127.0.0.11 and the rules survive the implementation's init.
//!
//! The backends are those Docker uses: iptables-nft (Debian's default `iptables`),
//! iptables-legacy (a host whose dockerd uses legacy; `iptables-nft-save` in the container
//! then only warns that legacy tables exist), and Docker 29's native nftables table
//! `ip docker-dns`. `None` is a network without embedded DNS (Podman, a plain network).

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use fw_core::restore::{SaveLine, save_lines};

use super::forwarder::{Forwarder, start_forwarder};
use crate::world::netns::Netns;

// The address of Docker's embedded resolver in every container.
use fw_testkit::plan::DOCKER_DNS as RESOLVER_IP;

/// Docker's chains in the nat table (iptables backends).
pub const OUTPUT_CHAIN: &str = "DOCKER_OUTPUT";
pub const POSTROUTING_CHAIN: &str = "DOCKER_POSTROUTING";

/// Docker's native nftables table and chains.
pub const NFT_TABLE: &str = "docker-dns";
pub const NFT_DNAT_CHAIN: &str = "dns-dnat";
pub const NFT_SNAT_CHAIN: &str = "dns-snat";

/// Which firewall backend wrote Docker's embedded-DNS rules, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DockerDnsVariant {
    /// `iptables-nft`, as Debian's `iptables` is.
    IptablesNft,
    /// `iptables-legacy`.
    IptablesLegacy,
    /// Docker's nftables backend: `table ip docker-dns`.
    NftNative,
    /// No embedded DNS: resolv.conf names a world resolver.
    None,
}

impl DockerDnsVariant {
    pub const ALL: [DockerDnsVariant; 4] = [
        DockerDnsVariant::IptablesNft,
        DockerDnsVariant::IptablesLegacy,
        DockerDnsVariant::NftNative,
        DockerDnsVariant::None,
    ];

    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DockerDnsVariant::IptablesNft => "iptables-nft",
            DockerDnsVariant::IptablesLegacy => "iptables-legacy",
            DockerDnsVariant::NftNative => "nft-native",
            DockerDnsVariant::None => "none",
        }
    }

    /// The iptables binary and its save tool, for the iptables variants.
    fn iptables(self) -> Option<(&'static str, &'static str)> {
        match self {
            DockerDnsVariant::IptablesNft => Some(("iptables-nft", "iptables-nft-save")),
            DockerDnsVariant::IptablesLegacy => Some(("iptables-legacy", "iptables-legacy-save")),
            DockerDnsVariant::NftNative | DockerDnsVariant::None => None,
        }
    }
}

/// DNAT (to the resolver's port) or SNAT (back to :53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NatKind {
    Dnat,
    Snat,
}

/// One of Docker's four translations, in a form common to both rule languages: the protocol,
/// the port it matches (`dport 53` for DNAT, `sport PORT` for SNAT) and where it translates to
/// (`127.0.0.11:PORT` or `:53`, as Docker writes them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatTarget {
    pub kind: NatKind,
    pub proto: String,
    pub port: u16,
    pub to: String,
}

impl std::fmt::Display for NatTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            NatKind::Dnat => write!(f, "{} dport {} DNAT to {}", self.proto, self.port, self.to),
            NatKind::Snat => write!(f, "{} sport {} SNAT to {}", self.proto, self.port, self.to),
        }
    }
}

/// What a backend holds of Docker's rules right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatState {
    /// The hooks into Docker's chains are in place: `OUTPUT`/`POSTROUTING -d 127.0.0.11 -j
    /// DOCKER_*` (iptables), or both base chains with their nat hooks (nftables).
    pub hooked: bool,
    /// The translations found in Docker's chains.
    pub targets: BTreeSet<NatTarget>,
}

impl NatState {
    /// Whether these rules are all in place: hooked, and every translation of `wanted` there.
    pub fn holds(&self, wanted: &BTreeSet<NatTarget>) -> bool {
        self.hooked && wanted.is_subset(&self.targets)
    }
}

/// The emulated embedded DNS of one container; dropping it stops the resolver (the rules stay
/// in the namespace, which goes with the sandbox).
#[derive(Debug)]
pub struct DockerDns {
    variant: DockerDnsVariant,
    udp_port: u16,
    tcp_port: u16,
    forwarder: Forwarder,
}

/// Starts Docker's embedded DNS in `container` for `variant`: a forwarder to `upstream` on
/// 127.0.0.11 at two random ports, its queries leaving from `container`, then Docker's nat
/// rules in that backend, in Docker's order. `None` installs nothing and returns `Ok(None)`.
pub fn install(
    container: &Netns,
    variant: DockerDnsVariant,
    upstream: SocketAddr,
) -> Result<Option<DockerDns>> {
    if variant == DockerDnsVariant::None {
        return Ok(None);
    }
    container.ensure_ours()?;
    let forwarder = start_forwarder(container, SocketAddr::from((RESOLVER_IP, 0)), upstream)?;
    let dns = DockerDns {
        variant,
        udp_port: forwarder.udp_addr().port(),
        tcp_port: forwarder.tcp_addr().port(),
        forwarder,
    };
    match variant.iptables() {
        Some((bin, _)) => {
            for rule in dns.iptables_commands() {
                let args: Vec<&str> = rule.iter().map(String::as_str).collect();
                container.exec(bin, &args).with_context(|| {
                    format!(
                        "cannot write Docker's DNS rule with {bin} {}",
                        args.join(" ")
                    )
                })?;
            }
        }
        None => nft_apply(container, &dns.nft_ruleset())
            .context("cannot write Docker's nftables DNS table")?,
    }
    Ok(Some(dns))
}

/// Feeds a ruleset to `nft -f -` inside the namespace.
fn nft_apply(ns: &Netns, ruleset: &str) -> Result<()> {
    ns.ensure_ours()?;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run nft")?;
    child
        .stdin
        .take()
        .context("no stdin for nft")?
        .write_all(ruleset.as_bytes())
        .context("cannot feed nft")?;
    let out = child.wait_with_output().context("cannot wait for nft")?;
    if !out.status.success() {
        bail!(
            "nft -f - failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl DockerDns {
    pub fn variant(&self) -> DockerDnsVariant {
        self.variant
    }

    /// The resolver's UDP port (the DNAT target of udp/53).
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// The resolver's TCP port (the DNAT target of tcp/53).
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// The forwarder behind 127.0.0.11 (its log shows what it forwarded and how it went).
    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }

    /// The four translations installed, for SEQ-01's before/after comparison.
    pub fn installed_targets(&self) -> BTreeSet<NatTarget> {
        let mut out = BTreeSet::new();
        for (proto, port) in [("udp", self.udp_port), ("tcp", self.tcp_port)] {
            out.insert(NatTarget {
                kind: NatKind::Dnat,
                proto: proto.to_owned(),
                port: 53,
                to: format!("{RESOLVER_IP}:{port}"),
            });
            out.insert(NatTarget {
                kind: NatKind::Snat,
                proto: proto.to_owned(),
                port,
                to: ":53".to_owned(),
            });
        }
        out
    }

    /// Docker's commands, in Docker's order (chains and jumps first, then for udp and then tcp
    /// a DNAT and an SNAT, each inserted at the top, so tcp lists before udp).
    fn iptables_commands(&self) -> Vec<Vec<String>> {
        let ip = RESOLVER_IP.to_string();
        let (u, t) = (self.udp_port.to_string(), self.tcp_port.to_string());
        let to_udp = format!("{ip}:{u}");
        let to_tcp = format!("{ip}:{t}");
        let rules: [&[&str]; 8] = [
            &["-t", "nat", "-N", OUTPUT_CHAIN],
            &["-t", "nat", "-I", "OUTPUT", "-d", &ip, "-j", OUTPUT_CHAIN],
            &["-t", "nat", "-N", POSTROUTING_CHAIN],
            &[
                "-t",
                "nat",
                "-I",
                "POSTROUTING",
                "-d",
                &ip,
                "-j",
                POSTROUTING_CHAIN,
            ],
            &[
                "-t",
                "nat",
                "-I",
                OUTPUT_CHAIN,
                "-d",
                &ip,
                "-p",
                "udp",
                "--dport",
                "53",
                "-j",
                "DNAT",
                "--to-destination",
                &to_udp,
            ],
            &[
                "-t",
                "nat",
                "-I",
                POSTROUTING_CHAIN,
                "-s",
                &ip,
                "-p",
                "udp",
                "--sport",
                &u,
                "-j",
                "SNAT",
                "--to-source",
                ":53",
            ],
            &[
                "-t",
                "nat",
                "-I",
                OUTPUT_CHAIN,
                "-d",
                &ip,
                "-p",
                "tcp",
                "--dport",
                "53",
                "-j",
                "DNAT",
                "--to-destination",
                &to_tcp,
            ],
            &[
                "-t",
                "nat",
                "-I",
                POSTROUTING_CHAIN,
                "-s",
                &ip,
                "-p",
                "tcp",
                "--sport",
                &t,
                "-j",
                "SNAT",
                "--to-source",
                ":53",
            ],
        ];
        rules
            .iter()
            .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    }

    /// The rule lines as `iptables-save -t nat` shows them after Docker's setup (for the
    /// iptables variants; the nftables table shows nothing there).
    pub fn expected_save_lines(&self) -> Vec<String> {
        let (u, t) = (self.udp_port, self.tcp_port);
        vec![
            format!("-A OUTPUT -d {RESOLVER_IP}/32 -j {OUTPUT_CHAIN}"),
            format!("-A POSTROUTING -d {RESOLVER_IP}/32 -j {POSTROUTING_CHAIN}"),
            format!(
                "-A {OUTPUT_CHAIN} -d {RESOLVER_IP}/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination {RESOLVER_IP}:{t}"
            ),
            format!(
                "-A {OUTPUT_CHAIN} -d {RESOLVER_IP}/32 -p udp -m udp --dport 53 -j DNAT --to-destination {RESOLVER_IP}:{u}"
            ),
            format!(
                "-A {POSTROUTING_CHAIN} -s {RESOLVER_IP}/32 -p tcp -m tcp --sport {t} -j SNAT --to-source :53"
            ),
            format!(
                "-A {POSTROUTING_CHAIN} -s {RESOLVER_IP}/32 -p udp -m udp --sport {u} -j SNAT --to-source :53"
            ),
        ]
    }

    /// Docker's native table, as `nft -f` input (priority -100 for dstnat: nft 1.0.6 refuses
    /// the symbolic `dstnat` in an output chain).
    pub fn nft_ruleset(&self) -> String {
        let (u, t) = (self.udp_port, self.tcp_port);
        format!(
            "table ip {NFT_TABLE} {{\n\
             \tchain {NFT_DNAT_CHAIN} {{\n\
             \t\ttype nat hook output priority -100; policy accept;\n\
             \t\tip daddr {RESOLVER_IP} udp dport 53 counter dnat to {RESOLVER_IP}:{u}\n\
             \t\tip daddr {RESOLVER_IP} tcp dport 53 counter dnat to {RESOLVER_IP}:{t}\n\
             \t}}\n\
             \tchain {NFT_SNAT_CHAIN} {{\n\
             \t\ttype nat hook postrouting priority 100; policy accept;\n\
             \t\tip saddr {RESOLVER_IP} udp sport {u} counter snat to :53\n\
             \t\tip saddr {RESOLVER_IP} tcp sport {t} counter snat to :53\n\
             \t}}\n\
             }}\n"
        )
    }

    /// What the backend that holds Docker's rules shows now.
    pub fn current_state(&self, container: &Netns) -> Result<NatState> {
        current_state(container, self.variant)
    }

    /// Whether Docker's rules are all still in place in their backend: hooked, and every
    /// translation installed still there.
    pub fn rules_present(&self, container: &Netns) -> Result<bool> {
        let now = self.current_state(container)?;
        Ok(now.holds(&self.installed_targets()))
    }
}

/// What `container` holds of Docker's embedded-DNS rules in `variant`'s backend.
pub fn current_state(container: &Netns, variant: DockerDnsVariant) -> Result<NatState> {
    match variant {
        DockerDnsVariant::None => Ok(NatState::default()),
        DockerDnsVariant::NftNative => {
            let out = container.exec_unchecked("nft", &["list", "table", "ip", NFT_TABLE])?;
            if !out.status.success() {
                // No such table: nothing of Docker's is left.
                return Ok(NatState::default());
            }
            Ok(parse_nft(&String::from_utf8_lossy(&out.stdout)))
        }
        _ => {
            let Some((_, save)) = variant.iptables() else {
                bail!("no iptables backend for {}", variant.name());
            };
            let out = container.exec(save, &["-t", "nat"])?;
            Ok(parse_iptables_save(&String::from_utf8_lossy(&out.stdout)))
        }
    }
}

/// Reads Docker's jumps and translations out of `iptables-save -t nat`.
pub fn parse_iptables_save(save: &str) -> NatState {
    let jump_out = format!("-A OUTPUT -d {RESOLVER_IP}/32 -j {OUTPUT_CHAIN}");
    let jump_post = format!("-A POSTROUTING -d {RESOLVER_IP}/32 -j {POSTROUTING_CHAIN}");
    // The rules, as fw-core's reader of the format gives the lines.
    let lines: Vec<&str> = save_lines(save)
        .filter(|(_, _, kind)| *kind == SaveLine::Rule)
        .map(|(_, line, _)| line)
        .collect();
    let hooked = lines.contains(&jump_out.as_str()) && lines.contains(&jump_post.as_str());
    let mut targets = BTreeSet::new();
    for line in lines {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let chain = match tokens.as_slice() {
            ["-A", chain, ..] if *chain == OUTPUT_CHAIN || *chain == POSTROUTING_CHAIN => *chain,
            _ => continue,
        };
        let after = |flag: &str| {
            tokens
                .iter()
                .position(|t| *t == flag)
                .and_then(|i| tokens.get(i + 1))
                .copied()
        };
        let (kind, port_flag, to_flag) = if chain == OUTPUT_CHAIN {
            (NatKind::Dnat, "--dport", "--to-destination")
        } else {
            (NatKind::Snat, "--sport", "--to-source")
        };
        if let (Some(proto), Some(port), Some(to)) = (
            after("-p"),
            after(port_flag).and_then(|p| p.parse().ok()),
            after(to_flag),
        ) {
            targets.insert(NatTarget {
                kind,
                proto: proto.to_owned(),
                port,
                to: to.to_owned(),
            });
        }
    }
    NatState { hooked, targets }
}

/// Reads Docker's chains and translations out of `nft list table ip docker-dns`.
pub fn parse_nft(listing: &str) -> NatState {
    let mut chain = "";
    let mut hooks = (false, false);
    let mut targets = BTreeSet::new();
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            chain = if rest.starts_with(NFT_DNAT_CHAIN) {
                NFT_DNAT_CHAIN
            } else if rest.starts_with(NFT_SNAT_CHAIN) {
                NFT_SNAT_CHAIN
            } else {
                ""
            };
            continue;
        }
        if line.starts_with("type nat hook output") && chain == NFT_DNAT_CHAIN {
            hooks.0 = true;
        }
        if line.starts_with("type nat hook postrouting") && chain == NFT_SNAT_CHAIN {
            hooks.1 = true;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (kind, port_word, nat_word) = match chain {
            c if c == NFT_DNAT_CHAIN => (NatKind::Dnat, "dport", "dnat"),
            c if c == NFT_SNAT_CHAIN => (NatKind::Snat, "sport", "snat"),
            _ => continue,
        };
        let Some(i) = tokens.iter().position(|t| *t == port_word) else {
            continue;
        };
        let proto = tokens.get(i.wrapping_sub(1)).copied();
        let port = tokens.get(i + 1).and_then(|p| p.parse().ok());
        let to = tokens
            .iter()
            .position(|t| *t == nat_word)
            .and_then(|j| match tokens.get(j + 1) {
                // `dnat to ADDR` or `dnat ip to ADDR`.
                Some(&"to") => tokens.get(j + 2),
                Some(&"ip") => tokens.get(j + 3),
                _ => None,
            });
        if let (Some(proto), Some(port), Some(to)) = (proto, port, to) {
            targets.insert(NatTarget {
                kind,
                proto: proto.to_owned(),
                port,
                to: (*to).to_owned(),
            });
        }
    }
    NatState {
        hooked: hooks.0 && hooks.1,
        targets,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;
    use crate::world::mocks::dns::{DnsServer, Zone, catch_all_v4, start_dns};
    use crate::world::mocks::testing::{privileged, run};

    /// The upstream the tests' embedded DNS forwards to: the mock DNS on 127.0.0.53 of the same
    /// namespace (a query to it leaves through the namespace's OUTPUT chain all the same).
    const UPSTREAM: &str = "127.0.0.53:53";

    fn upstream(ns: &Netns) -> DnsServer {
        let zone = Arc::new(
            Zone::builder()
                .a("api.github.com", ["192.0.2.70".parse().unwrap()])
                .build(),
        );
        let a: SocketAddr = UPSTREAM.parse().unwrap();
        start_dns(ns, vec![a], vec![a], zone).unwrap()
    }

    /// `dig @127.0.0.11 NAME` over UDP or TCP in the container: the answer, or None.
    fn dig(ns: &Netns, tcp: bool, name: &str) -> Option<String> {
        let mut args = vec!["@127.0.0.11", "+short", "+time=2", "+tries=1"];
        if tcp {
            args.push("+tcp");
        }
        args.push(name);
        let (code, out, _) = run(ns, "dig", &args);
        (code == 0 && !out.trim().is_empty()).then(|| out.trim().to_owned())
    }

    #[test]
    fn parses_both_rule_languages_alike() {
        let save = "\
*nat
:OUTPUT ACCEPT [0:0]
:DOCKER_OUTPUT - [0:0]
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:40001
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 40000 -j SNAT --to-source :53
COMMIT
";
        let nft = "\
table ip docker-dns {
	chain dns-dnat {
		type nat hook output priority -100; policy accept;
		ip daddr 127.0.0.11 tcp dport 53 counter packets 0 bytes 0 dnat to 127.0.0.11:40001
	}

	chain dns-snat {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 127.0.0.11 udp sport 40000 counter packets 3 bytes 9 snat to :53
	}
}
";
        let a = parse_iptables_save(save);
        let b = parse_nft(nft);
        assert!(a.hooked && b.hooked);
        assert_eq!(a.targets, b.targets);
        let shown: Vec<String> = a.targets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "tcp dport 53 DNAT to 127.0.0.11:40001",
                "udp sport 40000 SNAT to :53"
            ]
        );
        assert!(!parse_iptables_save(&save.replace("-A OUTPUT ", "-A XOUTPUT ")).hooked);
    }

    #[test]
    fn none_installs_nothing() {
        if !privileged() {
            return;
        }
        let ns = Netns::create("ddns-none").unwrap();
        let _up = upstream(&ns);
        assert!(
            install(&ns, DockerDnsVariant::None, UPSTREAM.parse().unwrap())
                .unwrap()
                .is_none()
        );
        assert!(dig(&ns, false, "api.github.com").is_none());
    }

    /// For each backend: DNS through 127.0.0.11:53 answers over UDP and TCP, the rules read
    /// back as installed, and it all depends on the rules (a flush of that backend breaks TCP
    /// DNS, a flush of another backend does not).
    #[rstest::rstest]
    #[case::nft(DockerDnsVariant::IptablesNft)]
    #[case::legacy(DockerDnsVariant::IptablesLegacy)]
    #[case::native(DockerDnsVariant::NftNative)]
    fn answers_on_127_0_0_11_through_docker_rules(#[case] variant: DockerDnsVariant) {
        if !privileged() {
            return;
        }
        let ns = Netns::create("ddns").unwrap();
        let up = upstream(&ns);
        let dns = install(&ns, variant, UPSTREAM.parse().unwrap())
            .unwrap()
            .unwrap();
        assert_ne!(dns.udp_port(), 53);
        assert_ne!(dns.tcp_port(), 53);

        assert_eq!(
            dig(&ns, false, "api.github.com").as_deref(),
            Some("192.0.2.70")
        );
        assert_eq!(
            dig(&ns, true, "api.github.com").as_deref(),
            Some("192.0.2.70")
        );
        let other = catch_all_v4("other.example.test").to_string();
        assert_eq!(dig(&ns, true, "other.example.test"), Some(other));
        // Answered by the upstream, through the forwarder.
        assert_eq!(up.queries_for("api.github.com").len(), 2);
        let sent = dns.forwarder().forwarded();
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent.iter().all(|f| f.outcome.is_ok()), "{sent:?}");

        // The forwarded queries leave through the namespace's own OUTPUT chain: a firewall
        // that lets 127.0.0.11 through but not the upstream breaks DNS, over both transports.
        let block = |op: &str| {
            for proto in ["udp", "tcp"] {
                ns.exec(
                    "iptables",
                    &[
                        op,
                        "OUTPUT",
                        "-d",
                        "127.0.0.53",
                        "-p",
                        proto,
                        "--dport",
                        "53",
                        "-j",
                        "REJECT",
                    ],
                )
                .unwrap();
            }
        };
        block("-A");
        assert_eq!(dig(&ns, false, "api.github.com"), None);
        assert_eq!(dig(&ns, true, "api.github.com"), None);
        let sent = dns.forwarder().forwarded();
        assert!(
            sent[3..].iter().all(|f| f.outcome.is_err()) && sent.len() >= 5,
            "{sent:?}"
        );
        block("-D");
        assert_eq!(
            dig(&ns, false, "api.github.com").as_deref(),
            Some("192.0.2.70")
        );

        let state = dns.current_state(&ns).unwrap();
        assert!(state.hooked, "{state:?}");
        assert_eq!(state.targets, dns.installed_targets());
        assert!(dns.rules_present(&ns).unwrap());

        match variant {
            DockerDnsVariant::IptablesNft | DockerDnsVariant::IptablesLegacy => {
                let save = if variant == DockerDnsVariant::IptablesNft {
                    "iptables-nft-save"
                } else {
                    "iptables-legacy-save"
                };
                let (_, out, _) = run(&ns, save, &["-t", "nat"]);
                let rules: Vec<&str> = out.lines().filter(|l| l.starts_with("-A")).collect();
                assert_eq!(rules, dns.expected_save_lines(), "{out}");
                if variant == DockerDnsVariant::IptablesLegacy {
                    // The backend-mismatch trap: Debian's iptables sees only a warning.
                    let (_, out, err) = run(&ns, "iptables-nft-save", &["-t", "nat"]);
                    assert!(!out.contains("DOCKER_OUTPUT"), "{out}");
                    assert!(format!("{out}{err}").contains("iptables-legacy tables present"));
                }
                let bin = if variant == DockerDnsVariant::IptablesNft {
                    "iptables-nft"
                } else {
                    "iptables-legacy"
                };
                ns.exec(bin, &["-t", "nat", "-F"]).unwrap();
                assert!(!dns.rules_present(&ns).unwrap());
                assert_eq!(dig(&ns, true, "api.github.com"), None);
            }
            DockerDnsVariant::NftNative => {
                let (_, out, _) = run(&ns, "iptables-nft-save", &["-t", "nat"]);
                assert!(!out.contains("127.0.0.11"), "{out}");
                ns.exec("iptables-nft", &["-t", "nat", "-F"]).unwrap();
                ns.exec("iptables-nft", &["-t", "nat", "-X"]).unwrap();
                assert!(dns.rules_present(&ns).unwrap());
                assert_eq!(
                    dig(&ns, true, "api.github.com").as_deref(),
                    Some("192.0.2.70")
                );
                ns.exec("nft", &["flush", "ruleset"]).unwrap();
                assert!(!dns.rules_present(&ns).unwrap());
                assert_eq!(dig(&ns, true, "api.github.com"), None);
            }
            DockerDnsVariant::None => unreachable!(),
        }
    }
}
