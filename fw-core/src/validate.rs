//! Validation of the two kinds of untrusted value the firewall takes in: host names and CIDRs.
//!
//! Every domain and every CIDR, wherever it comes from (defaults, `.cspace.json`, the
//! environment, the command line, the GitHub meta API, DNS answers), passes through here before
//! it can reach a rendered ruleset. Errors carry the reason only; the caller adds where the value
//! came from.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// The longest host name DNS can carry (RFC 1035, without the trailing dot).
pub const MAX_DOMAIN_LEN: usize = 253;
/// The longest label DNS can carry.
pub const MAX_LABEL_LEN: usize = 63;

/// How many characters of an offending input an error message shows: inputs come from files,
/// the environment and the network, and one of megabytes must not become a log line of megabytes.
pub const MAX_SHOWN_CHARS: usize = 120;

/// An offending input as an error message shows it: at most [`MAX_SHOWN_CHARS`] characters,
/// then `...` when it was cut.
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}...", &s[..cut]),
    }
}

/// Why a value is not a valid host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("empty name")]
    Empty,
    #[error("name is {0} characters long, the limit is {MAX_DOMAIN_LEN}")]
    TooLong(usize),
    #[error("label {label:?} is {len} characters long, the limit is {MAX_LABEL_LEN}")]
    LabelTooLong { label: String, len: usize },
    #[error("empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("character {0:?} is not allowed in a host name (letters, digits, '-' and '.' only)")]
    BadChar(char),
    #[error("label {0:?} starts or ends with '-'")]
    HyphenEdge(String),
    #[error("the top-level label {0:?} is all digits")]
    NumericTld(String),
    #[error("a single label is not a public host name; give the full name")]
    SingleLabel,
}

/// A validated DNS host name: ASCII letters, digits and hyphens in dot-separated labels, stored
/// lower case without a trailing dot. It can never hold whitespace or shell metacharacters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    /// The name as text, lower case, no trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.strip_suffix('.').unwrap_or(s);
        if name.is_empty() {
            return Err(DomainError::Empty);
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(DomainError::BadChar(c));
        }
        if name.len() > MAX_DOMAIN_LEN {
            return Err(DomainError::TooLong(name.len()));
        }
        let labels: Vec<&str> = name.split('.').collect();
        for label in &labels {
            if label.is_empty() {
                return Err(DomainError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(DomainError::LabelTooLong {
                    label: (*label).to_owned(),
                    len: label.len(),
                });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DomainError::HyphenEdge((*label).to_owned()));
            }
        }
        if labels.len() < 2 {
            return Err(DomainError::SingleLabel);
        }
        let tld = labels[labels.len() - 1];
        if tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(DomainError::NumericTld(tld.to_owned()));
        }
        Ok(Domain(name.to_ascii_lowercase()))
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a value is not an acceptable CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("empty value")]
    Empty,
    #[error("not an IPv4 or IPv6 address or network")]
    Syntax,
    #[error("prefix length /{prefix} is out of range for {family} (0 to {max})")]
    PrefixRange {
        prefix: String,
        family: &'static str,
        max: u8,
    },
    #[error("a /0 network would allow every address")]
    AllAddresses,
}

/// Parses a CIDR (`192.0.2.0/24`, `2001:db8::/32`) or a bare address (taken as /32 or /128).
///
/// Host bits are cleared (`192.0.2.7/24` becomes `192.0.2.0/24`), which is what `ipset` does too.
/// A /0 network is refused: no allowlist entry may open everything, and `hash:net` sets reject it.
pub fn parse_cidr(s: &str) -> Result<IpNet, CidrError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(CidrError::Empty);
    }
    let net = match s.split_once('/') {
        None => IpNet::from(s.parse::<IpAddr>().map_err(|_| CidrError::Syntax)?),
        Some((addr, prefix)) => {
            let addr: IpAddr = addr.parse().map_err(|_| CidrError::Syntax)?;
            let (family, max) = match addr {
                IpAddr::V4(_) => ("IPv4", 32u8),
                IpAddr::V6(_) => ("IPv6", 128u8),
            };
            let range_err = || CidrError::PrefixRange {
                prefix: shown(prefix),
                family,
                max,
            };
            if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) {
                return Err(range_err());
            }
            let len: u8 = prefix.parse().map_err(|_| range_err())?;
            if len > max {
                return Err(range_err());
            }
            IpNet::new(addr, len).map_err(|_| range_err())?
        }
    };
    if net.prefix_len() == 0 {
        return Err(CidrError::AllAddresses);
    }
    Ok(net.trunc())
}

/// Splits networks by family, keeping their order.
pub fn split_families(nets: impl IntoIterator<Item = IpNet>) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for net in nets {
        match net {
            IpNet::V4(n) => v4.push(n),
            IpNet::V6(n) => v6.push(n),
        }
    }
    (v4, v6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("api.anthropic.com", "api.anthropic.com")]
    #[case("API.Anthropic.COM.", "api.anthropic.com")]
    #[case("a-b.example.test", "a-b.example.test")]
    #[case("xn--bcher-kva.example", "xn--bcher-kva.example")]
    #[case("1password.com", "1password.com")]
    fn accepts_host_names(#[case] input: &str, #[case] want: &str) {
        assert_eq!(input.parse::<Domain>().map(|d| d.0), Ok(want.to_owned()));
    }

    #[rstest]
    #[case("", DomainError::Empty)]
    #[case(".", DomainError::Empty)]
    #[case("a..b", DomainError::EmptyLabel)]
    #[case(".a.b", DomainError::EmptyLabel)]
    #[case("a b.com", DomainError::BadChar(' '))]
    #[case("a.com;rm", DomainError::BadChar(';'))]
    #[case("$(id).com", DomainError::BadChar('$'))]
    #[case("a.com\n", DomainError::BadChar('\n'))]
    #[case("*.example.com", DomainError::BadChar('*'))]
    #[case("bücher.de", DomainError::BadChar('ü'))]
    #[case("under_score.com", DomainError::BadChar('_'))]
    #[case("-a.com", DomainError::HyphenEdge("-a".into()))]
    #[case("a-.com", DomainError::HyphenEdge("a-".into()))]
    #[case("1.2.3.4", DomainError::NumericTld("4".into()))]
    #[case("localhost", DomainError::SingleLabel)]
    fn refuses_bad_names(#[case] input: &str, #[case] want: DomainError) {
        assert_eq!(input.parse::<Domain>(), Err(want));
    }

    #[test]
    fn refuses_overlong_names_and_labels() {
        let label = "a".repeat(64);
        assert!(matches!(
            format!("{label}.com").parse::<Domain>(),
            Err(DomainError::LabelTooLong { len: 64, .. })
        ));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(long.len(), 259);
        assert_eq!(long.parse::<Domain>(), Err(DomainError::TooLong(259)));
        let just = format!("{}.com", vec!["a".repeat(49); 5].join("."));
        assert_eq!(just.len(), 253);
        assert!(just.parse::<Domain>().is_ok());
    }

    #[rstest]
    #[case("192.0.2.0/26", "192.0.2.0/26")]
    #[case("192.0.2.7/24", "192.0.2.0/24")]
    #[case("203.0.113.5", "203.0.113.5/32")]
    #[case(" 10.0.0.0/8 ", "10.0.0.0/8")]
    #[case("2001:db8:1::/48", "2001:db8:1::/48")]
    #[case("2001:db8::1", "2001:db8::1/128")]
    #[case("2001:db8::1/64", "2001:db8::/64")]
    fn accepts_cidrs(#[case] input: &str, #[case] want: &str) {
        assert_eq!(
            parse_cidr(input).map(|n| n.to_string()),
            Ok(want.to_owned())
        );
    }

    #[rstest]
    #[case("", CidrError::Empty)]
    #[case("not-a-cidr", CidrError::Syntax)]
    #[case("300.1.1.1/24", CidrError::Syntax)]
    #[case("1.2.3.4/40", CidrError::PrefixRange { prefix: "40".into(), family: "IPv4", max: 32 })]
    #[case("1.2.3.4/", CidrError::PrefixRange { prefix: "".into(), family: "IPv4", max: 32 })]
    #[case("1.2.3.4/+8", CidrError::PrefixRange { prefix: "+8".into(), family: "IPv4", max: 32 })]
    #[case("::/129", CidrError::PrefixRange { prefix: "129".into(), family: "IPv6", max: 128 })]
    #[case("0.0.0.0/0", CidrError::AllAddresses)]
    #[case("1.2.3.4/0", CidrError::AllAddresses)]
    #[case("::/0", CidrError::AllAddresses)]
    #[case("1.2.3.4/24; rm -rf /", CidrError::PrefixRange { prefix: "24; rm -rf /".into(), family: "IPv4", max: 32 })]
    fn refuses_bad_cidrs(#[case] input: &str, #[case] want: CidrError) {
        assert_eq!(parse_cidr(input), Err(want));
    }

    /// A prefix of thousands of digits was echoed whole in the error.
    #[test]
    fn a_huge_prefix_is_shown_cut() {
        let s = format!("192.0.2.0/{}", "9".repeat(100_000));
        let msg = parse_cidr(&s).expect_err("out of range").to_string();
        assert!(msg.starts_with("prefix length /999"), "{msg}");
        assert!(msg.len() < 300, "{} bytes", msg.len());
    }

    #[test]
    fn shown_cuts_on_a_character_boundary() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(MAX_SHOWN_CHARS + 1);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), MAX_SHOWN_CHARS + 3);
        assert!(cut.ends_with("..."));
    }
}
