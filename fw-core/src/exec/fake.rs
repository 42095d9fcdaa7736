//! A recording fake of the firewall tools that behaves like them.
//!
//! [`FakeKernel`] keeps iptables tables (per backend and family) and ipsets in memory and
//! answers `iptables-restore`, `iptables-save`, `ip6tables-*`, `ipset restore / swap / destroy /
//! save / list`, and `conntrack`. It rejects what the real tools reject (unknown chains and
//! targets, a missing set, a set in use, a family mismatch, a restore that does not parse) and
//! leaves its state untouched when it does, as the real atomic restores do. Tests script
//! failures (`fail`) and missing tools (`remove_tool`) and read back every call (`calls`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use ipnet::IpNet;

use super::{Command, ExecError, Output, Tools};
use crate::restore::{IptablesText, Table, parse_ipset, parse_iptables};

const TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "REJECT",
    "RETURN",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "LOG",
    "MARK",
    "CONNMARK",
    "NOTRACK",
    "CT",
];

fn builtin_chains(table: &str) -> &'static [&'static str] {
    match table {
        "filter" => &["INPUT", "FORWARD", "OUTPUT"],
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        "security" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &[],
    }
}

/// Which `iptables` a program name is: backend (`nft` or `legacy`) and family.
fn iptables_kind(program: &str) -> Option<(&'static str, bool, bool)> {
    let base = program.rsplit('/').next().unwrap_or(program);
    let v6 = base.starts_with("ip6tables");
    if !(v6 || base.starts_with("iptables")) {
        return None;
    }
    let backend = if base.contains("-legacy") {
        "legacy"
    } else {
        "nft"
    };
    let is_restore = base.ends_with("-restore");
    let is_save = base.ends_with("-save");
    if !(is_restore || is_save) {
        return None;
    }
    Some((backend, v6, is_restore))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSet {
    pub kind: String,
    pub family: String,
    pub options: Vec<String>,
    pub members: BTreeSet<String>,
}

/// A scripted failure: the next calls of `program` whose arguments contain `args` fail.
#[derive(Debug, Clone)]
struct Failure {
    program: String,
    args: Vec<String>,
    status: i32,
    stderr: String,
    times: Option<usize>,
}

#[derive(Debug, Default)]
struct State {
    /// (backend, v6) -> tables, in the order they were first restored.
    tables: BTreeMap<(String, bool), Vec<Table>>,
    sets: BTreeMap<String, FakeSet>,
    calls: Vec<Command>,
    failures: Vec<Failure>,
    missing: BTreeSet<String>,
    /// What `conntrack -L` prints (the tracked flows).
    flows: String,
}

/// An in-memory kernel answering the firewall tools. See the module documentation.
#[derive(Debug, Default)]
pub struct FakeKernel {
    state: Mutex<State>,
}

fn failed(cmd: &Command, status: i32, stderr: impl Into<String>) -> ExecError {
    ExecError::Failed {
        command: cmd.to_string(),
        status,
        stderr: stderr.into(),
    }
}

impl FakeKernel {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed; keep its state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the tracked flows `conntrack -L` lists (its output format).
    pub fn set_flows(&self, listing: &str) {
        self.lock().flows = listing.to_owned();
    }

    /// Makes every call of `program` whose arguments contain all of `args` fail.
    pub fn fail(&self, program: &str, args: &[&str], status: i32, stderr: &str) {
        self.push_failure(program, args, status, stderr, None);
    }

    /// Like [`fail`](Self::fail), for the next call only.
    pub fn fail_once(&self, program: &str, args: &[&str], status: i32, stderr: &str) {
        self.push_failure(program, args, status, stderr, Some(1));
    }

    fn push_failure(
        &self,
        program: &str,
        args: &[&str],
        status: i32,
        stderr: &str,
        times: Option<usize>,
    ) {
        self.lock().failures.push(Failure {
            program: program.to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            status,
            stderr: stderr.to_owned(),
            times,
        });
    }

    /// Makes `program` missing, as if its package were not installed.
    pub fn remove_tool(&self, program: &str) {
        self.lock().missing.insert(program.to_owned());
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Command> {
        self.lock().calls.clone()
    }

    /// The command lines so far, for assertions and failure messages.
    pub fn call_lines(&self) -> Vec<String> {
        self.calls().iter().map(ToString::to_string).collect()
    }

    /// The current sets.
    pub fn sets(&self) -> BTreeMap<String, FakeSet> {
        self.lock().sets.clone()
    }

    /// The current tables of one backend and family, as `iptables-save` would print them.
    pub fn save(&self, backend: &str, v6: bool) -> String {
        let st = self.lock();
        save_text(st.tables.get(&(backend.to_owned(), v6)), None)
    }

    /// Loads a table directly (for a starting state such as Docker's nat rules), bypassing
    /// the failure script.
    pub fn preload(&self, backend: &str, v6: bool, text: &str) -> Result<(), ExecError> {
        let program = match (backend, v6) {
            ("legacy", false) => "iptables-legacy-restore",
            ("legacy", true) => "ip6tables-legacy-restore",
            (_, false) => "iptables-restore",
            (_, true) => "ip6tables-restore",
        };
        let cmd = Command::new(program, Vec::<String>::new()).stdin(text);
        let mut st = self.lock();
        restore_tables(&mut st, &cmd, backend, v6)
    }
}

fn save_text(tables: Option<&Vec<Table>>, only: Option<&str>) -> String {
    let mut out = String::new();
    let Some(tables) = tables else { return out };
    for t in tables {
        if only.is_some_and(|o| o != t.name) {
            continue;
        }
        out.push_str(
            &IptablesText {
                tables: vec![t.clone()],
            }
            .to_text(),
        );
    }
    out
}

/// Checks a parsed restore the way the kernel and the tool would.
fn validate_tables(st: &State, text: &IptablesText) -> Result<(), String> {
    for t in &text.tables {
        let builtins = builtin_chains(&t.name);
        if builtins.is_empty() {
            return Err(format!(
                "can't initialize iptables table `{}': Table does not exist",
                t.name
            ));
        }
        for c in &t.chains {
            let builtin = builtins.contains(&c.name.as_str());
            if builtin == c.policy.is_none() {
                return Err(format!("bad policy for chain {}", c.name));
            }
        }
        let declared = |c: &str| t.chains.iter().any(|d| d.name == c) || builtins.contains(&c);
        for r in &t.rules {
            if !declared(&r.chain) {
                return Err(format!("Chain '{}' does not exist", r.chain));
            }
            if let Some(target) = r.target()
                && !TARGETS.contains(&target)
                && !declared(target)
            {
                return Err(format!("Couldn't load target `{target}'"));
            }
            if let Some(set) = r.value_of("--match-set")
                && !st.sets.contains_key(set)
            {
                return Err(format!("Set {set} doesn't exist."));
            }
            if r.value_of("--reject-with") == Some("tcp-reset") && r.value_of("-p") != Some("tcp") {
                return Err("TCP RST can only be used with tcp protocol".to_owned());
            }
        }
    }
    Ok(())
}

fn restore_tables(st: &mut State, cmd: &Command, backend: &str, v6: bool) -> Result<(), ExecError> {
    let input = cmd.stdin.clone().unwrap_or_default();
    let parsed =
        parse_iptables(&input).map_err(|e| failed(cmd, 1, format!("iptables-restore: {e}")))?;
    validate_tables(st, &parsed).map_err(|e| failed(cmd, 1, e))?;
    let noflush = cmd.args.iter().any(|a| a == "--noflush" || a == "-n");
    let tables = st.tables.entry((backend.to_owned(), v6)).or_default();
    for t in parsed.tables {
        match tables.iter_mut().find(|o| o.name == t.name) {
            Some(old) if noflush => {
                for c in t.chains {
                    if old.chain(&c.name).is_none() {
                        old.chains.push(c);
                    }
                }
                old.rules.extend(t.rules);
            }
            Some(old) => *old = t,
            None => tables.push(t),
        }
    }
    Ok(())
}

fn set_in_use(st: &State, name: &str) -> bool {
    st.tables.values().flatten().any(|t| {
        t.rules
            .iter()
            .any(|r| r.value_of("--match-set") == Some(name))
    })
}

fn check_family(set: &FakeSet, entry: &str) -> Result<(), String> {
    let net: IpNet = match entry.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match entry.parse::<std::net::IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => {
                return Err(format!(
                    "Syntax error: cannot parse {entry}: resolving to IPv4 address failed"
                ));
            }
        },
    };
    let want_v6 = set.family == "inet6";
    if matches!(net, IpNet::V6(_)) != want_v6 {
        return Err(format!("Syntax error: cannot parse {entry}: wrong family"));
    }
    if net.prefix_len() == 0 {
        return Err("The value of the CIDR parameter of the IP address is invalid".to_owned());
    }
    Ok(())
}

/// Members are kept as networks with their prefix (`192.0.2.70/32`), however they were given.
fn member_key(entry: &str) -> String {
    entry
        .parse::<IpNet>()
        .map(|n| n.trunc().to_string())
        .or_else(|_| {
            entry
                .parse::<std::net::IpAddr>()
                .map(|a| IpNet::from(a).to_string())
        })
        .unwrap_or_else(|_| entry.to_owned())
}

fn ipset(st: &mut State, cmd: &Command) -> Result<Output, ExecError> {
    let exist = cmd.args.iter().any(|a| a == "-exist" || a == "-!");
    let args: Vec<&str> = cmd
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "-exist" && *a != "-!")
        .collect();
    match args.as_slice() {
        ["restore"] => {
            let input = cmd.stdin.clone().unwrap_or_default();
            let parsed =
                parse_ipset(&input).map_err(|e| failed(cmd, 1, format!("ipset v7.17: {e}")))?;
            // ipset restore is not atomic as a whole; the fake applies line by line too, but
            // checks everything first so that a broken script changes nothing (fw-core always
            // restores into temporary sets, so partial loads never reach a live set anyway).
            let mut next = st.sets.clone();
            for decl in &parsed.sets {
                let family = decl.option("family").unwrap_or("inet").to_owned();
                let new = FakeSet {
                    kind: decl.kind.clone(),
                    family,
                    options: decl.options.clone(),
                    members: BTreeSet::new(),
                };
                match next.get(&decl.name) {
                    Some(old) if exist && old.kind == new.kind && old.options == new.options => {}
                    Some(_) => {
                        return Err(failed(
                            cmd,
                            1,
                            format!(
                                "ipset v7.17: Error in line 1: Set cannot be created: set with the same name already exists ({})",
                                decl.name
                            ),
                        ));
                    }
                    None => {
                        next.insert(decl.name.clone(), new);
                    }
                }
            }
            for name in &parsed.flushed {
                match next.get_mut(name) {
                    Some(s) => s.members.clear(),
                    None => {
                        return Err(failed(
                            cmd,
                            1,
                            format!(
                                "ipset v7.17: The set with the given name does not exist ({name})"
                            ),
                        ));
                    }
                }
            }
            for (name, members) in &parsed.members {
                let Some(set) = next.get_mut(name) else {
                    continue;
                };
                for m in members {
                    check_family(set, m)
                        .map_err(|e| failed(cmd, 1, format!("ipset v7.17: {e}")))?;
                    if !set.members.insert(member_key(m)) && !exist {
                        return Err(failed(
                            cmd,
                            1,
                            "ipset v7.17: Element cannot be added to the set: it's already added",
                        ));
                    }
                }
            }
            st.sets = next;
            Ok(Output::default())
        }
        ["swap", a, b] => {
            let (Some(sa), Some(sb)) = (st.sets.get(*a).cloned(), st.sets.get(*b).cloned()) else {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: The set with the given name does not exist",
                ));
            };
            if sa.kind != sb.kind || sa.family != sb.family {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: The sets cannot be swapped: their type does not match",
                ));
            }
            st.sets.insert((*a).to_owned(), sb);
            st.sets.insert((*b).to_owned(), sa);
            Ok(Output::default())
        }
        ["destroy", name] => {
            if !st.sets.contains_key(*name) {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: The set with the given name does not exist",
                ));
            }
            if set_in_use(st, name) {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: Set cannot be destroyed: it is in use by a kernel component",
                ));
            }
            st.sets.remove(*name);
            Ok(Output::default())
        }
        ["add", name, entry] => {
            let Some(set) = st.sets.get_mut(*name) else {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: The set with the given name does not exist",
                ));
            };
            check_family(set, entry).map_err(|e| failed(cmd, 1, format!("ipset v7.17: {e}")))?;
            if !set.members.insert(member_key(entry)) && !exist {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: Element cannot be added to the set: it's already added",
                ));
            }
            Ok(Output::default())
        }
        ["list", "-n"] | ["list", "-name"] => Ok(Output {
            stdout: st.sets.keys().map(|k| format!("{k}\n")).collect(),
            stderr: String::new(),
        }),
        ["save"] | ["save", _] => {
            let only = args.get(1).copied();
            let mut out = String::new();
            for (name, s) in &st.sets {
                if only.is_some_and(|o| o != name) {
                    continue;
                }
                out.push_str(&format!(
                    "create {name} {} {}\n",
                    s.kind,
                    s.options.join(" ")
                ));
                for m in &s.members {
                    out.push_str(&format!("add {name} {m}\n"));
                }
            }
            if let Some(o) = only
                && !st.sets.contains_key(o)
            {
                return Err(failed(
                    cmd,
                    1,
                    "ipset v7.17: The set with the given name does not exist",
                ));
            }
            Ok(Output {
                stdout: out,
                stderr: String::new(),
            })
        }
        _ => Err(failed(
            cmd,
            1,
            format!("ipset v7.17: the fake does not know {cmd}"),
        )),
    }
}

impl Tools for FakeKernel {
    fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
        let mut st = self.lock();
        st.calls.push(cmd.clone());
        if st.missing.contains(&cmd.program) {
            return Err(ExecError::NotFound {
                program: cmd.program.clone(),
            });
        }
        let hit = st.failures.iter().position(|f| {
            f.program == cmd.program
                && f.args.iter().all(|a| cmd.args.contains(a))
                && f.times != Some(0)
        });
        if let Some(i) = hit {
            let f = &mut st.failures[i];
            if let Some(n) = f.times.as_mut() {
                *n -= 1;
            }
            return Err(failed(cmd, f.status, f.stderr.clone()));
        }
        if cmd.args.iter().any(|a| a == "--version" || a == "-V") {
            let variant = if cmd.program.contains("legacy") {
                "legacy"
            } else {
                "nf_tables"
            };
            return Ok(Output {
                stdout: format!("{} v1.8.9 ({variant})\n", cmd.program),
                stderr: String::new(),
            });
        }
        if let Some((backend, v6, is_restore)) = iptables_kind(&cmd.program) {
            if is_restore {
                restore_tables(&mut st, cmd, backend, v6)?;
                return Ok(Output::default());
            }
            let only = cmd
                .args
                .iter()
                .position(|a| a == "-t" || a == "--table")
                .and_then(|i| cmd.args.get(i + 1))
                .map(String::as_str);
            return Ok(Output {
                stdout: save_text(st.tables.get(&(backend.to_owned(), v6)), only),
                stderr: String::new(),
            });
        }
        match cmd.program.as_str() {
            "ipset" => ipset(&mut st, cmd),
            "conntrack" if cmd.args.first().is_some_and(|a| a == "-L") => Ok(Output {
                stdout: st.flows.clone(),
                stderr: String::new(),
            }),
            "conntrack" => Ok(Output::default()),
            other => Err(ExecError::NotFound {
                program: other.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn restore(k: &FakeKernel, text: &str) -> Result<Output, ExecError> {
        k.run(&Command::new("iptables-restore", Vec::<String>::new()).stdin(text))
    }

    #[test]
    fn rejects_what_iptables_restore_rejects_and_keeps_state() {
        let k = FakeKernel::new();
        restore(
            &k,
            "*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n",
        )
        .unwrap();
        let before = k.save("nft", false);
        for bad in [
            "*filter\n:OUTPUT ACCEPT [0:0]\n-A NOPE -j ACCEPT\nCOMMIT\n",
            "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j NOPE\nCOMMIT\n",
            "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m set --match-set nope dst -j ACCEPT\nCOMMIT\n",
            "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n",
            "*filter\n:OUTPUT ACCEPT [0:0]\n",
            "*bogus\nCOMMIT\n",
        ] {
            assert!(restore(&k, bad).is_err(), "accepted {bad:?}");
            assert_eq!(k.save("nft", false), before);
        }
    }

    #[test]
    fn ipset_swap_destroy_and_in_use() {
        let k = FakeKernel::new();
        let run = |args: &[&str], stdin: Option<&str>| {
            let mut c = Command::new("ipset", args.iter().copied());
            c.stdin = stdin.map(str::to_owned);
            k.run(&c)
        };
        run(&["-exist", "restore"], Some("create a hash:net family inet\ncreate b hash:net family inet\nadd b 192.0.2.0/24\n")).unwrap();
        run(&["swap", "a", "b"], None).unwrap();
        assert!(k.sets()["a"].members.contains("192.0.2.0/24"));
        assert!(run(&["restore"], Some("add a 2001:db8::/32\n")).is_err());
        restore(
            &k,
            "*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -m set --match-set a dst -j ACCEPT\nCOMMIT\n",
        )
        .unwrap();
        assert!(
            run(&["destroy", "a"], None)
                .unwrap_err()
                .to_string()
                .contains("in use")
        );
        run(&["destroy", "b"], None).unwrap();
        assert!(run(&["destroy", "b"], None).is_err());
    }

    #[test]
    fn scripted_failures_and_missing_tools() {
        let k = FakeKernel::new();
        k.fail_once("iptables-restore", &[], 4, "boom");
        assert!(restore(&k, "*filter\n:OUTPUT DROP [0:0]\nCOMMIT\n").is_err());
        assert!(restore(&k, "*filter\n:OUTPUT DROP [0:0]\nCOMMIT\n").is_ok());
        k.remove_tool("ipset");
        assert!(
            k.run(&Command::new("ipset", ["list", "-n"]))
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(k.calls().len(), 3);
    }
}
