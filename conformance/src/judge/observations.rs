//! The checks inside a case: a case that observes several things (IPv4 and IPv6, UDP and TCP,
//! the network and the marker) fails for any of them, and each must be shown failing on its
//! own. This table names them, each with the text its failure reason always contains, so the
//! kill matrix (netns-tests' `kills`) can require a mutant per check, not only per case.
//!
//! A case not listed here has one check: the case itself. The marker is the stable part of the
//! check's failure wording (an address, a phrase), chosen so that no other check of the same
//! case produces it.

/// One check of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub case: &'static str,
    /// What the check observes, in a few words.
    pub what: &'static str,
    /// Text the failure reason contains whenever this check fails.
    pub marker: &'static str,
}

const fn o(case: &'static str, what: &'static str, marker: &'static str) -> Observation {
    Observation { case, what, marker }
}

/// Every case with more than one check, and its checks.
pub const OBSERVATIONS: &[Observation] = &[
    o(
        "POL-06",
        "a blocked IPv6 host is rejected",
        "(a blocked IPv6 host)",
    ),
    o(
        "POL-06",
        "IPv6 neighbours of the allowed ranges are rejected",
        "(the /48 after",
    ),
    o(
        "POL-06",
        "GitHub's IPv6 addresses stay reachable",
        "https api.github.com at [2001",
    ),
    o(
        "POL-06",
        "the Docker IPv6 network stays reachable",
        "the Docker IPv6 gateway",
    ),
    o(
        "ALW-04",
        "the npm registry host read from npm's configuration",
        "https registry.npm.test at",
    ),
    o(
        "ALW-04",
        "the required domains, every A record",
        "https api.anthropic.com at",
    ),
    o(
        "ALW-07",
        "outbound to the Docker-network peers and gateways",
        "172.19.0.5:7777",
    ),
    o(
        "ALW-07",
        "inbound from the Docker-network peers",
        "172.19.0.5 to 172.19.0.2:7777",
    ),
    o(
        "ALW-10",
        "no other resolver answers over UDP",
        "answered over UDP",
    ),
    o(
        "ALW-10",
        "no other resolver answers over TCP",
        "answered over TCP",
    ),
    o(
        "SEQ-01",
        "resolution through 127.0.0.11 over UDP",
        "127.0.0.11 over UDP fails",
    ),
    o(
        "SEQ-01",
        "resolution through 127.0.0.11 over TCP",
        "127.0.0.11 over TCP fails",
    ),
    o(
        "SEQ-01",
        "Docker's DNAT/SNAT rules left as the daemon wrote them",
        "are not all in place",
    ),
    o(
        "SEQ-03",
        "the blocked host is rejected over stale rules",
        "198.51.100.10:",
    ),
    o(
        "SEQ-03",
        "the planted stale rules are gone",
        "stale rule still present",
    ),
    o("FAIL-04", "init ends within 60 s", "the limit is 60 s"),
    o(
        "FAIL-04",
        "init fails without a marker",
        "init reported success",
    ),
    o(
        "FAIL-05",
        "the container is not left open",
        "198.51.100.10:",
    ),
    o(
        "FAIL-05",
        "a failure leaves no marker",
        "failed but left a marker",
    ),
    o(
        "FAIL-06",
        "loopback stays open after a failure",
        "loopback 127.0.0.1",
    ),
    o(
        "FAIL-06",
        "DNS keeps working after a failure",
        "DNS through",
    ),
    o(
        "FAIL-06",
        "the Docker peers stay reachable after a failure",
        "172.19.0.5:7777",
    ),
    o(
        "FAIL-07",
        "a required domain that does not resolve fails the run",
        "does not resolve (NXDOMAIN)",
    ),
    o(
        "FAIL-07",
        "the container is closed after a failure",
        "198.51.100.10:",
    ),
    o(
        "FAIL-09",
        "a missing tool fails the run",
        "init reported success",
    ),
    o("FAIL-09", "a line names the missing tool", "no line names"),
    o(
        "FAIL-09",
        "the container is not left open",
        "198.51.100.10:",
    ),
    o(
        "VER-04",
        "a rate-limited GitHub does not fail a correct firewall",
        "init exited",
    ),
    o("VER-04", "the firewall works after it", "198.51.100.10:443"),
    o(
        "CAP-01",
        "the run succeeds with Docker's capabilities",
        "init exited",
    ),
    o("CAP-01", "the firewall works after it", "198.51.100.10:443"),
];

/// The checks of `case`: its listed observations, or the case itself when none is listed.
pub fn of(case: &str) -> Vec<Observation> {
    OBSERVATIONS
        .iter()
        .filter(|o| o.case == case)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::catalog::catalog;

    #[test]
    fn every_observation_belongs_to_a_case_with_distinct_markers() {
        let ids: Vec<&str> = catalog().iter().map(|c| c.id).collect();
        for o in OBSERVATIONS {
            assert!(ids.contains(&o.case), "{} is not a case", o.case);
            let same_case = of(o.case);
            assert!(
                same_case.len() > 1,
                "{}: a single check needs no entry",
                o.case
            );
            for other in same_case.iter().filter(|x| x.what != o.what) {
                assert!(
                    !other.marker.contains(o.marker) && !o.marker.contains(other.marker),
                    "{}: the markers of {:?} and {:?} overlap",
                    o.case,
                    o.what,
                    other.what
                );
            }
        }
    }
}
