//! A narrow, temporary path through the filter table in place, for the meta fetch only.
//!
//! Init fetches the GitHub meta ranges before it applies anything, under whatever rules the
//! container holds. After a failed run those are the safe closed ruleset (loopback, established
//! flows, DNS, the Docker networks): it rightly blocks a new connection to api.github.com, so
//! without help every later run would fail at the fetch and close again, and the container
//! would stay locked out until it is recreated (FAIL-10). Any other ruleset that rejects by
//! default (another script's, one left by hand) does the same.
//!
//! So, when a family's filter table could stop the fetch or its replies, [`open`] puts two
//! rules at the head of its chains, for exactly the meta host's resolved addresses and port:
//! TCP out to them, and what comes back on those flows in. It does so by restoring the whole
//! table as it was plus those rules, in one `iptables-restore` (one kernel transaction, so no
//! moment without the rules in force, SEQ-06/07). [`FetchPath::close`] restores the table as it
//! was, right after the fetch. The rules carry [`FETCH_PATH_COMMENT`], so a path that could not
//! be closed is recognisable in `iptables-save`; either way the ruleset init applies next (the
//! firewall, or the safe closed ruleset on failure) replaces the whole table.

use std::net::IpAddr;

use crate::apply::Backend;
use crate::exec::{Command, ExecError, Tools};
#[cfg(doc)]
use crate::names::COMMENT_PREFIX;
use crate::restore::{IptablesText, Rule, Table, parse_iptables};

/// The comment of the temporary rules (ours: it starts with [`COMMENT_PREFIX`]).
pub const FETCH_PATH_COMMENT: &str = "fw: meta fetch (temporary)";

/// Seconds `iptables-restore` waits for the xtables lock (as [`crate::apply`] does).
const XTABLES_WAIT_SECS: &str = "10";

/// The tables [`open`] changed: each family's filter table as it was before, to restore.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FetchPath {
    v4: Option<String>,
    v6: Option<String>,
}

impl FetchPath {
    /// Whether any family got the temporary rules.
    pub fn is_open(&self) -> bool {
        self.v4.is_some() || self.v6.is_some()
    }

    /// Restores each changed table as it was; the warnings of the restores that failed (the
    /// next ruleset applied replaces those tables anyway).
    pub fn close(self, tools: &dyn Tools, backend: Backend) -> Vec<String> {
        let mut warnings = Vec::new();
        for (v6, before) in [(false, self.v4), (true, self.v6)] {
            let Some(text) = before else { continue };
            if let Err(e) = restore(tools, backend, v6, &text) {
                warnings.push(format!(
                    "cannot remove the temporary path for the meta fetch ({e}): the rules commented {FETCH_PATH_COMMENT:?} stay until the next ruleset replaces them"
                ));
            }
        }
        warnings
    }
}

fn restore(tools: &dyn Tools, backend: Backend, v6: bool, text: &str) -> Result<(), ExecError> {
    let cmd = Command::new(&backend.program(v6, "restore"), ["-w", XTABLES_WAIT_SECS]).stdin(text);
    tools.run(&cmd).map(|_| ())
}

/// Whether a filter table could stop a new outbound TCP connection or its replies: a rule in
/// OUTPUT or INPUT, or a policy other than ACCEPT there. Telling which rule would match is
/// iptables' job; any rule at all is enough to open the path, which costs two restores.
pub fn may_block(filter: &Table) -> bool {
    ["OUTPUT", "INPUT"].iter().any(|chain| {
        filter.policy(chain).is_some_and(|p| p != "ACCEPT")
            || filter.rules_of(chain).next().is_some()
    })
}

fn rule(chain: &str, matches: &[&str]) -> Rule {
    let tail = [
        "-m",
        "comment",
        "--comment",
        FETCH_PATH_COMMENT,
        "-j",
        "ACCEPT",
    ];
    Rule {
        chain: chain.to_owned(),
        args: matches
            .iter()
            .chain(&tail)
            .map(|a| (*a).to_owned())
            .collect(),
    }
}

/// The temporary rules for `addrs` (one family) on `port`: TCP out to each address, and the
/// replies of those flows in, in the canonical form `iptables-save` prints.
pub fn path_rules(addrs: &[IpAddr], port: u16) -> Vec<Rule> {
    let port = port.to_string();
    let host = |a: &IpAddr| format!("{a}/{}", if a.is_ipv4() { 32 } else { 128 });
    let out = addrs.iter().map(|a| {
        rule(
            "OUTPUT",
            &["-d", &host(a), "-p", "tcp", "-m", "tcp", "--dport", &port],
        )
    });
    let back = addrs.iter().map(|a| {
        rule(
            "INPUT",
            &[
                "-s",
                &host(a),
                "-p",
                "tcp",
                "-m",
                "tcp",
                "--sport",
                &port,
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED",
            ],
        )
    });
    out.chain(back).collect()
}

/// The filter table with the temporary rules first in their chains, as restore input.
pub fn with_path(filter: &Table, addrs: &[IpAddr], port: u16) -> String {
    let mut t = filter.clone();
    let mut rules = path_rules(addrs, port);
    rules.append(&mut t.rules);
    t.rules = rules;
    IptablesText { tables: vec![t] }.to_text()
}

/// Opens the path for one family; `Ok(Some(before))` when it did, with the table to restore.
fn open_family(
    tools: &dyn Tools,
    backend: Backend,
    v6: bool,
    addrs: &[IpAddr],
    port: u16,
) -> Result<Option<String>, String> {
    // Listing a legacy table that does not exist would create it: the kernel says first.
    if backend == Backend::Legacy
        && tools
            .legacy_tables(v6)
            .is_some_and(|tables| !tables.iter().any(|t| t == "filter"))
    {
        return Ok(None);
    }
    let save = backend.program(v6, "save");
    let listed = tools
        .run(&Command::new(&save, ["-t", "filter"]))
        .map_err(|e| e.to_string())?;
    let parsed = parse_iptables(&listed.stdout)
        .map_err(|e| format!("cannot read what {save} -t filter printed: {e}"))?;
    let Some(filter) = parsed.table("filter").filter(|t| may_block(t)) else {
        return Ok(None);
    };
    restore(tools, backend, v6, &with_path(filter, addrs, port)).map_err(|e| e.to_string())?;
    Ok(Some(
        IptablesText {
            tables: vec![filter.clone()],
        }
        .to_text(),
    ))
}

/// Opens the temporary path to `addrs` on `port` in each family's filter table that could stop
/// it (a family without addresses is left alone); the warnings of the families where that
/// failed (the fetch then runs under the rules as they are, and fails if they block it).
pub fn open(
    tools: &dyn Tools,
    backend: Backend,
    addrs: &[IpAddr],
    port: u16,
) -> (FetchPath, Vec<String>) {
    let mut path = FetchPath::default();
    let mut warnings = Vec::new();
    for v6 in [false, true] {
        let mine: Vec<IpAddr> = addrs
            .iter()
            .copied()
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        if mine.is_empty() {
            continue;
        }
        match open_family(tools, backend, v6, &mine, port) {
            Ok(before) if v6 => path.v6 = before,
            Ok(before) => path.v4 = before,
            Err(e) => warnings.push(format!(
                "cannot open a temporary path for the meta fetch through the {} rules: {e}",
                if v6 { "IPv6" } else { "IPv4" }
            )),
        }
    }
    (path, warnings)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::exec::fake::FakeKernel;
    use crate::plan::SafeClosed;
    use crate::render::render_safe_closed;
    use crate::sample::sample_inputs;

    fn addrs(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    /// A kernel holding the safe closed ruleset a failed run leaves.
    fn closed() -> FakeKernel {
        let inputs = sample_inputs();
        let r = render_safe_closed(&SafeClosed::new(&inputs.subnets, &inputs.resolvers));
        let k = FakeKernel::new();
        k.preload("nft", false, &r.iptables).unwrap();
        k.preload("nft", true, &r.ip6tables).unwrap();
        k
    }

    fn restores(k: &FakeKernel) -> usize {
        k.calls()
            .iter()
            .filter(|c| c.program.ends_with("-restore"))
            .count()
    }

    #[test]
    fn the_closed_state_gets_the_path_first_in_its_chains_and_gets_it_back_exactly() {
        let k = closed();
        let (v4_before, v6_before) = (k.save("nft", false), k.save("nft", true));
        let (path, warnings) = open(
            &k,
            Backend::Default,
            &addrs(&["192.0.2.70", "2001:db8:2::70"]),
            443,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(path.is_open());
        let v4 = parse_iptables(&k.save("nft", false)).unwrap();
        let filter = v4.table("filter").unwrap();
        let first = |chain| filter.rules_of(chain).next().unwrap().args.join(" ");
        assert_eq!(
            first("OUTPUT"),
            "-d 192.0.2.70/32 -p tcp -m tcp --dport 443 -m comment --comment fw: meta fetch (temporary) -j ACCEPT"
        );
        assert_eq!(
            first("INPUT"),
            "-s 192.0.2.70/32 -p tcp -m tcp --sport 443 -m conntrack --ctstate ESTABLISHED -m comment --comment fw: meta fetch (temporary) -j ACCEPT"
        );
        // Nothing else changed: the closed state's rules and policies follow unchanged.
        let without: Vec<&Rule> = filter
            .rules
            .iter()
            .filter(|r| r.comment() != Some(FETCH_PATH_COMMENT))
            .collect();
        let before = parse_iptables(&v4_before).unwrap();
        assert_eq!(
            without,
            before
                .table("filter")
                .unwrap()
                .rules
                .iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(filter.chains, before.table("filter").unwrap().chains);
        // Only the family's own address, in each family.
        let v6 = k.save("nft", true);
        assert!(v6.contains("-d 2001:db8:2::70/128 -p tcp"), "{v6}");
        assert!(!v6.contains("192.0.2.70") && !k.save("nft", false).contains("2001:db8"));

        assert!(path.close(&k, Backend::Default).is_empty());
        assert_eq!(k.save("nft", false), v4_before);
        assert_eq!(k.save("nft", true), v6_before);
        assert!(!k.save("nft", false).contains(FETCH_PATH_COMMENT));
    }

    #[test]
    fn nothing_is_restored_where_nothing_could_block() {
        // A fresh container: no filter table at all.
        let k = FakeKernel::new();
        let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
        assert!(!path.is_open() && warnings.is_empty());
        assert_eq!(k.call_lines(), ["iptables-save -t filter"]);
        // Accepting chains and no rule: listed, left alone.
        k.preload(
            "nft",
            false,
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
        )
        .unwrap();
        let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
        assert!(!path.is_open());
        assert_eq!(restores(&k), 0);
        assert!(path.close(&k, Backend::Default).is_empty());
        assert_eq!(restores(&k), 0);
        // No address of a family: that family is not even listed.
        let k = closed();
        let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
        assert!(path.is_open());
        assert!(!k.call_lines().iter().any(|l| l.starts_with("ip6tables")));
        // A legacy backend without a filter table: nothing run (listing would create it).
        let k = FakeKernel::new();
        let (path, _) = open(&k, Backend::Legacy, &addrs(&["192.0.2.70"]), 443);
        assert!(!path.is_open() && k.calls().is_empty());
    }

    #[test]
    fn the_comment_is_ours() {
        assert!(FETCH_PATH_COMMENT.starts_with(crate::names::COMMENT_PREFIX));
    }

    #[test]
    fn any_rule_or_a_dropping_policy_may_block() {
        let table = |text: &str| {
            parse_iptables(text)
                .unwrap()
                .table("filter")
                .unwrap()
                .clone()
        };
        assert!(!may_block(&table(
            "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        )));
        assert!(may_block(&table(
            "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"
        )));
        assert!(may_block(&table(
            "*filter\n:INPUT DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        )));
        assert!(may_block(&table(
            "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j REJECT\nCOMMIT\n"
        )));
        // FORWARD does not carry the fetch.
        assert!(!may_block(&table(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n"
        )));
    }

    #[test]
    fn failures_are_warnings_and_change_nothing() {
        let k = closed();
        let before = k.save("nft", false);
        k.fail_once(
            "iptables-restore",
            &["-w"],
            2,
            "iptables-restore: line 3 failed",
        );
        let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
        assert!(!path.is_open());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("IPv4") && warnings[0].contains("line 3 failed"));
        assert_eq!(k.save("nft", false), before);

        // A path that cannot be closed says which rules stay.
        let k = closed();
        let (path, _) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 8443);
        assert!(k.save("nft", false).contains("--dport 8443"));
        k.fail_once("iptables-restore", &["-w"], 4, "resource problem");
        let warnings = path.close(&k, Backend::Default);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(FETCH_PATH_COMMENT), "{warnings:?}");

        // A listing that cannot be read is a warning too.
        let k = closed();
        k.fail_once("iptables-save", &["-t"], 1, "permission denied");
        let (path, warnings) = open(&k, Backend::Default, &addrs(&["192.0.2.70"]), 443);
        assert!(!path.is_open());
        assert!(warnings[0].contains("permission denied"), "{warnings:?}");
    }
}
