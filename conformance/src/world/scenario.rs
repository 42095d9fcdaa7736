//! Scenarios: the parameters of the simulated world one implementation run happens in.
//!
//! Cases name the scenarios they are judged on; the runner builds each scenario's sandbox once,
//! runs the implementation in it, and evaluates every case that asked for it. A scenario is
//! plain data, so the catalog, the docs and the reports can all print it.

use serde::Serialize;

/// How Docker's embedded DNS is set up in the container (docs/sandbox.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsVariant {
    /// Docker's rules written with iptables-nft (Debian's default).
    IptablesNft,
    /// Docker's rules written with iptables-legacy.
    IptablesLegacy,
    /// Docker's native nftables table `ip docker-dns`.
    NftNative,
    /// No embedded DNS: resolv.conf names a world resolver, so DNS crosses the firewall.
    None,
}

/// What the mock GitHub meta API does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Meta {
    Realistic,
    /// The meta host refuses connections (TCP reset).
    Refused,
    InvalidJson,
    MissingKey,
    EmptyBody,
    Status500,
    RateLimited403,
    AcceptAndHang,
    BadCidr(String),
    /// Exactly this many networks under web/api/git, api.github.com's block among them
    /// (`MetaBehaviour::Scaled`, for benchmarks).
    Scaled(usize),
}

/// The state of the container before the implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prior {
    /// Nothing applied yet.
    Fresh,
    /// Stale rules of every kind (SEQ-03): an ACCEPT-all in filter OUTPUT, a user chain, a
    /// mangle rule, a non-Docker nat rule.
    StaleRules,
    /// The implementation already ran once successfully (a re-run).
    Firewalled,
    /// A re-run whose prior state the harness builds itself, without the implementation: a
    /// default-deny firewall of its own rendered from the address plan (iptables-restore,
    /// ip6tables-restore, ipset restore) and the marker of a previous success
    /// ([`crate::world::planted`]). The measured run then meets the scenario's fault on a firewalled
    /// container with a stale marker, whether or not the implementation could have built that
    /// state itself (in the VER worlds it cannot: its own first run would fail).
    Planted,
    /// The implementation already ran once and failed: the meta API answered HTTP 500 then,
    /// and answers as `meta` says for the measured run (FAIL-10, [`crate::world::recovery`]).
    FailedRun,
}

/// Where example.com points (VER-01, VER-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExampleCom {
    /// 198.51.100.10: a blocked host, as in the real world.
    Blocked,
    /// Inside GitHub's `web` range: the firewall allows it, so the block cannot hold.
    Allowlisted,
    /// Inside GitHub's `web` range and served with a certificate from an untrusted CA.
    AllowlistedBadCert,
}

/// One scenario.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Scenario {
    /// A short stable name, for reports.
    pub name: &'static str,
    pub dns: DnsVariant,
    pub dual_stack: bool,
    /// The meta behaviour during the measured run (a `Firewalled` prior run always succeeds, a
    /// `FailedRun` prior run always gets HTTP 500).
    pub meta: Meta,
    /// [`REQUIRED_UNRESOLVABLE`], a required domain, answers NXDOMAIN (fail closed: a
    /// firewall without a domain the seed requires is a failure, not a warning).
    pub required_unresolvable: bool,
    /// `/zen` answers 403 rate limited (VER-04).
    pub zen_rate_limited: bool,
    pub prior: Prior,
    pub example_com: ExampleCom,
    /// api.github.com resolves outside every meta range (VER-02).
    pub api_github_outside: bool,
    /// Tools hidden from the implementation (FAIL-09).
    pub hidden_tools: Vec<&'static str>,
    /// Run with Docker's default capabilities plus NET_ADMIN and NET_RAW only (CAP-01).
    pub docker_caps: bool,
    /// Probe DNS and a blocked host continuously while the implementation runs (SEQ-06/07).
    pub probers: bool,
    /// Open long-lived connections before the run (SEQ-08, SEQ-09).
    pub long_lived: bool,
    /// Start two runs at once (SEQ-10).
    pub concurrent: bool,
    /// Benchmarks: allowlist these generated names instead of the usual extra domains.
    pub bench_domains: Option<BenchDomains>,
}

/// Generated domains for the benchmarks: `count` names, each answered after `delay_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct BenchDomains {
    pub count: usize,
    pub delay_ms: u64,
}

impl BenchDomains {
    /// The names: `d0.bench.test`, `d1.bench.test`, ...
    pub fn names(&self) -> Vec<String> {
        (0..self.count)
            .map(|i| format!("d{i}.bench.test"))
            .collect()
    }
}

/// Where the implementation runs (`fw-conformance run --tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Tier {
    /// Network namespaces and a private mount namespace, Docker emulated (docs/sandbox.md).
    #[default]
    Netns,
    /// A real Docker container on real Docker networks (see [`crate::world::docker`]).
    Docker,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Netns => "netns",
            Tier::Docker => "docker",
        }
    }
}

impl Scenario {
    /// Why the scenario cannot be built in `tier`, or `None` when it can.
    pub fn not_in(&self, tier: Tier) -> Option<&'static str> {
        if tier == Tier::Netns {
            return None;
        }
        if self.dns != DnsVariant::IptablesNft {
            return Some(
                "Docker's daemon writes its own embedded-DNS rules (the other backends and `none` are emulated in the netns tier)",
            );
        }
        if self.dual_stack {
            return Some("the Docker tier's networks are IPv4 only");
        }
        if !self.hidden_tools.is_empty() {
            return Some("tools cannot be hidden in the image without changing it");
        }
        None
    }

    /// Whether the implementation's measured run in this scenario must simply succeed: a fresh
    /// container, Docker's DNS in the default backend (or none), IPv4, a working meta and
    /// nothing hidden, restricted or injected. A failure here is a failure "where nothing is
    /// wrong": the runner then credits no implementation's failure elsewhere as a response to
    /// a fault (see `runner`). The first run of a re-run scenario is such a run too.
    pub fn expects_plain_success(&self) -> bool {
        self.prior == Prior::Fresh
            && self.meta == Meta::Realistic
            && matches!(self.dns, DnsVariant::IptablesNft | DnsVariant::None)
            && !self.dual_stack
            && !self.zen_rate_limited
            && !self.required_unresolvable
            && self.example_com == ExampleCom::Blocked
            && !self.api_github_outside
            && self.hidden_tools.is_empty()
            && !self.docker_caps
            && !self.concurrent
            && self.bench_domains.is_none()
    }

    /// The default world: Docker DNS with iptables-nft, IPv4 only, the realistic meta, a fresh
    /// container.
    pub const fn base(name: &'static str) -> Scenario {
        Scenario {
            name,
            dns: DnsVariant::IptablesNft,
            dual_stack: false,
            meta: Meta::Realistic,
            required_unresolvable: false,
            zen_rate_limited: false,
            prior: Prior::Fresh,
            example_com: ExampleCom::Blocked,
            api_github_outside: false,
            hidden_tools: Vec::new(),
            docker_caps: false,
            probers: false,
            long_lived: false,
            concurrent: false,
            bench_domains: None,
        }
    }
}

/// The extra domains every scenario passes in `CSPACE_FIREWALL_DOMAINS` besides those that
/// resolve ([`fw_testkit::plan::EXTRA_OK`]; ALW-08, ALW-09, ALW-12): one that does not exist,
/// one whose resolver fails, and a CNAME chain.
pub const EXTRA_NXDOMAIN: &str = "nx.example.test";
pub const EXTRA_SERVFAIL: &str = "servfail.example.test";
/// A CNAME chain: `cname.example.test` -> `cname-mid.example.test` -> `cname-final.example.test`.
pub const EXTRA_CNAME: &str = "cname.example.test";
pub const CNAME_MID: &str = "cname-mid.example.test";
pub const CNAME_FINAL: &str = "cname-final.example.test";

/// The value of `CSPACE_FIREWALL_DOMAINS` in every scenario.
pub fn extra_domains_env() -> String {
    let mut v: Vec<&str> = fw_testkit::plan::EXTRA_OK.iter().map(|(d, _)| *d).collect();
    v.extend([EXTRA_NXDOMAIN, EXTRA_SERVFAIL, EXTRA_CNAME]);
    v.join(" ")
}

/// The required domain that answers NXDOMAIN in the scenarios with `required_unresolvable`.
pub const REQUIRED_UNRESOLVABLE: &str = "statsig.com";

/// The sandbox's npm registry host (the suite's `--npm-registry-host` default).
pub const NPM_HOST_DEFAULT: &str = "registry.npm.test";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unresolvable_domain_is_required_and_the_extra_domains_are_passed() {
        assert!(
            fw_testkit::plan::REQUIRED
                .iter()
                .any(|(d, _)| *d == REQUIRED_UNRESOLVABLE)
        );
        assert_eq!(
            extra_domains_env(),
            "extra-one.example.test extra-two.example.test nx.example.test servfail.example.test cname.example.test"
        );
    }
}
