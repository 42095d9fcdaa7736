//! The scenarios the cases are judged on: the default world and its variants, named so that the
//! runner builds each once when cases share sandboxes.

use crate::world::scenario::{DnsVariant, ExampleCom, Meta, Prior, Scenario};

pub(crate) fn default() -> Vec<Scenario> {
    vec![Scenario::base("default")]
}

pub(crate) fn default_and_none() -> Vec<Scenario> {
    let mut none = Scenario::base("dns-none");
    none.dns = DnsVariant::None;
    vec![Scenario::base("default"), none]
}

pub(crate) fn dual() -> Vec<Scenario> {
    let mut s = Scenario::base("dual-stack");
    s.dual_stack = true;
    vec![s]
}

pub(crate) fn default_and_dual() -> Vec<Scenario> {
    let mut v = default();
    v.extend(dual());
    v
}

pub(crate) fn other_backends() -> Vec<Scenario> {
    let mut legacy = Scenario::base("dns-legacy");
    legacy.dns = DnsVariant::IptablesLegacy;
    let mut nft = Scenario::base("dns-nft-native");
    nft.dns = DnsVariant::NftNative;
    vec![legacy, nft]
}

pub(crate) fn stale() -> Vec<Scenario> {
    let mut s = Scenario::base("stale-rules");
    s.prior = Prior::StaleRules;
    vec![s]
}

pub(crate) fn rerun() -> Vec<Scenario> {
    let mut s = Scenario::base("rerun");
    s.prior = Prior::Firewalled;
    vec![s]
}

pub(crate) fn probed() -> Vec<Scenario> {
    let mut fresh = Scenario::base("probed-fresh");
    fresh.probers = true;
    let mut again = Scenario::base("probed-rerun");
    again.probers = true;
    again.prior = Prior::Firewalled;
    vec![fresh, again]
}

pub(crate) fn probed_rerun() -> Vec<Scenario> {
    probed()
        .into_iter()
        .filter(|s| s.prior == Prior::Firewalled)
        .collect()
}

pub(crate) fn long_lived() -> Vec<Scenario> {
    let mut s = Scenario::base("long-lived");
    s.long_lived = true;
    vec![s]
}

pub(crate) fn concurrent() -> Vec<Scenario> {
    let mut s = Scenario::base("concurrent");
    s.concurrent = true;
    vec![s]
}

pub(crate) fn with_meta(name: &'static str, meta: Meta) -> Scenario {
    let mut s = Scenario::base(name);
    s.meta = meta;
    s
}

pub(crate) fn fail01() -> Vec<Scenario> {
    vec![with_meta("meta-refused", Meta::Refused)]
}

pub(crate) fn fail02() -> Vec<Scenario> {
    vec![
        with_meta("meta-invalid-json", Meta::InvalidJson),
        with_meta("meta-missing-key", Meta::MissingKey),
        with_meta("meta-empty-body", Meta::EmptyBody),
    ]
}

pub(crate) fn fail03() -> Vec<Scenario> {
    vec![
        with_meta("meta-500", Meta::Status500),
        with_meta("meta-403-rate-limit", Meta::RateLimited403),
    ]
}

pub(crate) fn s_fail04() -> Vec<Scenario> {
    vec![with_meta("meta-hang", Meta::AcceptAndHang)]
}

pub(crate) fn s_fail05() -> Vec<Scenario> {
    ["not-a-cidr", "300.1.1.1/24", "1.2.3.4/40"]
        .iter()
        .map(|bad| {
            let name = match *bad {
                "not-a-cidr" => "meta-bad-cidr-text",
                "300.1.1.1/24" => "meta-bad-cidr-octet",
                _ => "meta-bad-cidr-prefix",
            };
            with_meta(name, Meta::BadCidr((*bad).to_owned()))
        })
        .collect()
}

pub(crate) fn ver01() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-example-allowlisted");
    s.example_com = ExampleCom::Allowlisted;
    vec![s]
}

pub(crate) fn ver02() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-github-outside");
    s.api_github_outside = true;
    vec![s]
}

pub(crate) fn ver03() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-example-bad-cert");
    s.example_com = ExampleCom::AllowlistedBadCert;
    vec![s]
}

pub(crate) fn s_ver04() -> Vec<Scenario> {
    let mut s = Scenario::base("ver-zen-rate-limited");
    s.zen_rate_limited = true;
    vec![s]
}

pub(crate) fn required_unresolvable() -> Vec<Scenario> {
    let mut s = Scenario::base("required-unresolvable");
    s.required_unresolvable = true;
    vec![s]
}

/// Every scenario of the catalog whose fault fails init, or may (a bad CIDR may be skipped, a
/// hidden tool may be one the implementation does not use), on a fresh container: the meta
/// faults, the blocked-check failures, the missing tools, the unresolvable required domain.
/// The names are those of the FAIL, VER and FAIL-09 cases, so the runner builds each once
/// when cases share sandboxes.
pub(crate) fn failures_fresh() -> Vec<Scenario> {
    let mut v = fail01();
    v.extend(fail02());
    v.extend(fail03());
    v.extend(s_fail04());
    v.extend(s_fail05());
    v.extend(hidden_tools());
    v.extend(ver01());
    v.extend(ver02());
    v.extend(required_unresolvable());
    v
}

/// The re-run variant of each fresh failure scenario: the same fault met by a run on the
/// harness's planted firewall and marker ([`Prior::Planted`]), so that it exists whether or
/// not the implementation's own first run could succeed there. The hanging meta has none: its
/// run takes FAIL-04's 61 s, and it is judged once, fresh.
const PLANTED_NAMES: &[(&str, &str)] = &[
    ("meta-refused", "planted-meta-refused"),
    ("meta-invalid-json", "planted-meta-invalid-json"),
    ("meta-missing-key", "planted-meta-missing-key"),
    ("meta-empty-body", "planted-meta-empty-body"),
    ("meta-500", "planted-meta-500"),
    ("meta-403-rate-limit", "planted-meta-403-rate-limit"),
    ("meta-bad-cidr-text", "planted-meta-bad-cidr-text"),
    ("meta-bad-cidr-octet", "planted-meta-bad-cidr-octet"),
    ("meta-bad-cidr-prefix", "planted-meta-bad-cidr-prefix"),
    ("hidden-ipset", "planted-hidden-ipset"),
    (
        "hidden-ip6tables-restore",
        "planted-hidden-ip6tables-restore",
    ),
    ("ver-example-allowlisted", "planted-ver-example-allowlisted"),
    ("ver-github-outside", "planted-ver-github-outside"),
    ("required-unresolvable", "planted-required-unresolvable"),
];

pub(crate) fn failures_planted() -> Vec<Scenario> {
    failures_fresh()
        .into_iter()
        .filter_map(|s| {
            let (_, name) = PLANTED_NAMES.iter().find(|(fresh, _)| *fresh == s.name)?;
            let mut p = s;
            p.name = name;
            p.prior = Prior::Planted;
            Some(p)
        })
        .collect()
}

pub(crate) fn failures_all() -> Vec<Scenario> {
    let mut v = failures_fresh();
    v.extend(failures_planted());
    v
}

pub(crate) fn hidden_tools() -> Vec<Scenario> {
    let mut a = Scenario::base("hidden-ipset");
    a.hidden_tools = vec!["ipset"];
    let mut b = Scenario::base("hidden-ip6tables-restore");
    b.hidden_tools = vec!["ip6tables-restore"];
    vec![a, b]
}

pub(crate) fn after_failed_run() -> Vec<Scenario> {
    let mut s = Scenario::base("after-failed-run");
    s.prior = Prior::FailedRun;
    vec![s]
}

pub(crate) fn docker_caps() -> Vec<Scenario> {
    let mut s = Scenario::base("docker-caps");
    s.docker_caps = true;
    vec![s]
}
