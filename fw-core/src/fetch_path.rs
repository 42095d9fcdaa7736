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
