//! Which IPv4 tables besides filter init rewrites to a clean slate (SEQ-03).
//!
//! A stale rule must not survive init in any table: filter is always rewritten (it is the
//! firewall); nat, mangle, raw and security are rewritten when they hold something to remove.
//! A table that is absent, or that holds nothing but what a clean slate would hold (built-in
//! chains with ACCEPT policies; for nat, Docker's DNS rules besides), is left alone: rewriting
//! it would change nothing, yet creating or replacing a table costs the restore real time (an
//! empty mangle and a nat table added about 18 ms to every `iptables-restore` in a fresh
//! namespace, a quarter of init: docs/benchmarks.md), and creating an empty table hooks its
//! chains into every packet's path for nothing.
//!
//! What the tables held is read from one `iptables-save` of our backend, taken while gathering;
//! a rule another process adds between that listing and the restore (tens of milliseconds) to
//! a table judged clean survives. Such a rule cannot open what filter closes: filter sees every
//! packet after nat and mangle, and its policy is DROP behind REJECT rules.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::docker_dns::DockerDnsRules;
use crate::restore::{Table, parse_iptables};

/// The tables besides filter that init may rewrite, in the order it renders them.
pub const TABLES: [&str; 4] = ["nat", "mangle", "raw", "security"];

/// Which of [`TABLES`] to rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanSlate {
    /// What the tables hold is not known (an offline plan, or a listing that did not parse):
    /// nat and mangle are rewritten, whatever they hold.
    #[default]
    Unknown,
    /// These tables hold something a clean slate would not.
    Dirty(BTreeSet<String>),
}

impl CleanSlate {
    /// Whether init rewrites `table`.
    pub fn rewrites(&self, table: &str) -> bool {
        match self {
            CleanSlate::Unknown => table == "nat" || table == "mangle",
            CleanSlate::Dirty(tables) => tables.contains(table),
        }
    }

    /// Reads `iptables-save` output of every table of our backend. `docker` are Docker's DNS
    /// rules found in it: the nat table may hold those and still be clean. A listing that does
    /// not parse gives [`CleanSlate::Unknown`].
    pub fn from_save(save: &str, docker: &DockerDnsRules) -> CleanSlate {
        let Ok(parsed) = parse_iptables(save) else {
            return CleanSlate::Unknown;
        };
        CleanSlate::Dirty(
            parsed
                .tables
                .iter()
                .filter(|t| TABLES.contains(&t.name.as_str()) && !is_clean(t, docker))
                .map(|t| t.name.clone())
                .collect(),
        )
    }
}

/// Built-in chains with ACCEPT policies and nothing else; in nat, Docker's chains and rules too.
fn is_clean(table: &Table, docker: &DockerDnsRules) -> bool {
    let nat = table.name == "nat";
    let chains_ok = table.chains.iter().all(|c| match &c.policy {
        Some(policy) => policy == "ACCEPT",
        None => nat && docker.chains.contains(&c.name),
    });
    let rules_ok = if nat {
        // Docker's rules were read from this very table: any rule beyond them is someone
        // else's.
        table.rules.len() == docker.rules.len()
    } else {
        table.rules.is_empty()
    };
    chains_ok && rules_ok
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::docker_dns::parse_nat_save;

    const DOCKER_NAT: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n:DOCKER_POSTROUTING - [0:0]\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\n-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING\n-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:41234\n-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 41234 -j SNAT --to-source :53\nCOMMIT\n";
    const FILTER: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j ACCEPT\nCOMMIT\n";

    fn slate(save: &str) -> CleanSlate {
        CleanSlate::from_save(save, &parse_nat_save(save).unwrap())
    }

    fn dirty(names: &[&str]) -> CleanSlate {
        CleanSlate::Dirty(names.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn docker_s_nat_alone_and_absent_tables_are_left_alone() {
        let s = slate(&format!("{FILTER}{DOCKER_NAT}"));
        assert_eq!(s, dirty(&[]));
        assert!(!s.rewrites("nat") && !s.rewrites("mangle"));
        // Filter is not this module's business: it is always rewritten.
        assert!(!s.rewrites("filter"));
    }

    #[test]
    fn leftovers_make_their_table_dirty() {
        let extra_nat = DOCKER_NAT.replace(
            "COMMIT\n",
            "-A OUTPUT -d 192.0.2.1/32 -j DNAT --to-destination 198.51.100.10\nCOMMIT\n",
        );
        let user_chain = DOCKER_NAT.replace(":DOCKER_OUTPUT", ":MINE - [0:0]\n:DOCKER_OUTPUT");
        let nat_policy = DOCKER_NAT.replace(":INPUT ACCEPT", ":INPUT DROP");
        for (what, nat) in [
            ("a non-Docker nat rule", extra_nat),
            ("a user chain", user_chain),
            ("a nat policy", nat_policy),
        ] {
            assert_eq!(slate(&nat), dirty(&["nat"]), "{what}");
        }
        let mangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n";
        let raw = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n";
        let security = "*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\nCOMMIT\n";
        let s = slate(&format!("{FILTER}{DOCKER_NAT}{mangle}{raw}{security}"));
        assert_eq!(s, dirty(&["mangle", "raw", "security"]));
        // An empty mangle table is clean: nothing to remove.
        let empty_mangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        assert_eq!(slate(&format!("{DOCKER_NAT}{empty_mangle}")), dirty(&[]));
    }

    #[test]
    fn a_nat_table_without_docker_is_clean_only_when_empty() {
        let empty = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        assert_eq!(slate(empty), dirty(&[]));
        let docker_chain_without_docker =
            "*nat\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\nCOMMIT\n";
        // parse_nat_save finds Docker's chain, so it is Docker's: clean.
        assert_eq!(slate(docker_chain_without_docker), dirty(&[]));
    }

    #[test]
    fn an_unreadable_listing_rewrites_nat_and_mangle() {
        let s = CleanSlate::from_save("*nat\n-A OUTPUT -j ACCEPT\n", &DockerDnsRules::default());
        assert_eq!(s, CleanSlate::Unknown);
        assert!(s.rewrites("nat") && s.rewrites("mangle") && !s.rewrites("raw"));
    }
}
