//! The declared kills: what each mutant of the bash reference must fail, and for which reason.
//!
//! A mutant is `netns-tests/mutants/[should/]NAME.patch`, a unified diff of
//! `scripts/init-firewall.sh` with a header that `patch` ignores:
//!
//! ```text
//! # mutant: <one line: what it breaks>
//! # kills: POL-01: 198.51.100.10:443
//! # kills: SEQ-04: [POL-01]
//! # timeout: 240
//! ```
//!
//! Each `# kills:` line is one check the mutant must fail: the case's verdict must be `fail`
//! and its reason (or the reason of one of its scenarios) must contain the evidence text after
//! the second colon. A kill that lands on another check, or on the right check for another
//! reason, is not a kill. The unpatched reference's own SHOULD failures are declared the same
//! way in `netns-tests/expected/init-firewall.sh.txt` (`ID | evidence | why`).
//!
//! From these declarations, and nothing else, [`matrix_markdown`] writes the kill matrix
//! (`docs/mutants.md`) and [`uncovered`] names every MUST or SHOULD case that nothing kills.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance::judge::catalog::{Case, catalog};
use conformance::report::{CaseResult, Level, Verdict};

use crate::{mutants_dir, repo_root};

/// One declared kill: `case` must fail with `evidence` in its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    pub case: String,
    pub evidence: String,
}

impl Kill {
    /// Whether `r` (the case's result) is this kill: a failure whose reason, or one of its
    /// scenarios' reasons, names the evidence.
    pub fn seen_in(&self, r: &CaseResult) -> bool {
        r.id == self.case
            && r.verdict == Verdict::Fail
            && (r.reason.contains(&self.evidence)
                || r.runs.iter().any(|s| s.reason.contains(&self.evidence)))
    }
}

/// A mutant, as its patch file declares it.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub name: String,
    pub path: PathBuf,
    pub what: String,
    pub kills: Vec<Kill>,
    /// `# timeout: SECONDS`: the suite's limit for one run of this mutant (default 180 s).
    pub timeout: Duration,
}

/// The directories of catalog mutants: MUST-level bugs, then hardening (SHOULD) bugs.
pub fn mutant_dirs() -> [PathBuf; 2] {
    [mutants_dir(), mutants_dir().join("should")]
}

/// The patch files of a directory, in name order.
pub fn patch_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for e in entries {
        let p = e
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if p.extension().is_some_and(|x| x == "patch") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Parses `ID: evidence` (a `# kills:` value or an expected-failure line's first two fields).
fn parse_kill(value: &str, judged: &[Case], whose: &str) -> Result<Kill, String> {
    let (id, evidence) = value
        .split_once(':')
        .ok_or_else(|| format!("{whose}: `{value}` is not `ID: evidence`"))?;
    let (id, evidence) = (id.trim(), evidence.trim());
    if evidence.is_empty() {
        return Err(format!(
            "{whose}: {id} has no evidence text (what its failure reason must name)"
        ));
    }
    match judged.iter().find(|c| c.id == id) {
        None => Err(format!("{whose}: {id} is not a case of the catalog")),
        Some(c) if c.level == Level::Info => Err(format!(
            "{whose}: {id} is an INFO row: it has no verdict to kill"
        )),
        Some(_) => Ok(Kill {
            case: id.to_owned(),
            evidence: evidence.to_owned(),
        }),
    }
}

/// Reads a patch file's header.
pub fn parse_mutant(path: &Path) -> Result<Mutant, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_header(&name, path, &text)
}

fn parse_header(name: &str, path: &Path, text: &str) -> Result<Mutant, String> {
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let values = |key: &str| -> Vec<String> {
        header
            .iter()
            .filter_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
            .collect()
    };
    let what = values("# mutant:")
        .into_iter()
        .next()
        .ok_or_else(|| format!("{name}: no `# mutant:` line"))?;
    let cases = catalog();
    let kills = values("# kills:")
        .iter()
        .map(|v| parse_kill(v, &cases, name))
        .collect::<Result<Vec<_>, _>>()?;
    if kills.is_empty() {
        return Err(format!("{name}: no `# kills: ID: evidence` line"));
    }
    if let Some(k) = kills.iter().find(|k| {
        let obs = conformance::judge::observations::of(&k.case);
        !obs.is_empty() && !obs.iter().any(|o| k.evidence.contains(o.marker))
    }) {
        return Err(format!(
            "{name}: the evidence {:?} names none of {}'s checks (conformance/src/judge/observations.rs)",
            k.evidence, k.case
        ));
    }
    let expected = expected_failures()?;
    if let Some(k) = kills.iter().find(|k| {
        expected
            .iter()
            .any(|e| e.kill.case == k.case && same_check(&k.case, &k.evidence, &e.kill.evidence))
    }) {
        return Err(format!(
            "{name}: {} already fails that check against the unpatched reference \
             (netns-tests/expected/init-firewall.sh.txt): a mutant cannot show it",
            k.case
        ));
    }
    let timeout = match values("# timeout:").into_iter().next() {
        None => Duration::from_secs(180),
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| format!("{name}: `# timeout:` {t:?} is not a number of seconds"))?,
        ),
    };
    Ok(Mutant {
        name: name.to_owned(),
        path: path.to_path_buf(),
        what,
        kills,
        timeout,
    })
}

/// Whether two evidences of `case` are about the same check: always for a case with a single
/// check, else when one observation's marker is in both.
fn same_check(case: &str, a: &str, b: &str) -> bool {
    let obs = conformance::judge::observations::of(case);
    obs.is_empty()
        || obs
            .iter()
            .any(|o| a.contains(o.marker) && b.contains(o.marker))
}

/// Every catalog mutant, in directory then name order; the errors of unreadable ones.
pub fn all_mutants() -> (Vec<Mutant>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for dir in mutant_dirs() {
        match patch_files(&dir) {
            Ok(files) if files.is_empty() => {
                bad.push((dir.display().to_string(), "no *.patch here".to_owned()))
            }
            Ok(files) => {
                for f in files {
                    match parse_mutant(&f) {
                        Ok(m) => ok.push(m),
                        Err(e) => bad.push((f.display().to_string(), e)),
                    }
                }
            }
            Err(e) => bad.push((dir.display().to_string(), e)),
        }
    }
    (ok, bad)
}

/// A SHOULD case the unpatched bash reference is expected to fail, with the evidence its
/// failure must name and why the seed's script fails it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub kill: Kill,
    pub why: String,
}

/// `netns-tests/expected/init-firewall.sh.txt`: `ID | evidence | why` per line.
pub fn expected_failures() -> Result<Vec<Expected>, String> {
    parse_expected(include_str!("../expected/init-firewall.sh.txt"))
}

fn parse_expected(text: &str) -> Result<Vec<Expected>, String> {
    let cases = catalog();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let whose = format!("init-firewall.sh.txt line {}", n + 1);
        let fields: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        let [id, evidence, why] = fields[..] else {
            return Err(format!("{whose}: `{line}` is not `ID | evidence | why`"));
        };
        let kill = parse_kill(&format!("{id}: {evidence}"), &cases, &whose)?;
        if !cases
            .iter()
            .any(|c| c.id == kill.case && c.level == Level::Should)
        {
            return Err(format!(
                "{whose}: {id} is not a SHOULD case: a MUST case cannot be excused"
            ));
        }
        out.push(Expected {
            kill,
            why: why.to_owned(),
        });
    }
    Ok(out)
}

/// Who kills a case: a mutant's name, or the unpatched reference.
type Killers = BTreeMap<String, Vec<(String, String)>>;

fn killers(mutants: &[Mutant], expected: &[Expected]) -> Killers {
    let mut by_case: Killers = BTreeMap::new();
    for m in mutants {
        for k in &m.kills {
            by_case
                .entry(k.case.clone())
                .or_default()
                .push((format!("`{}`", m.name), k.evidence.clone()));
        }
    }
    for e in expected {
        by_case.entry(e.kill.case.clone()).or_default().push((
            "the unpatched reference".to_owned(),
            e.kill.evidence.clone(),
        ));
    }
    by_case
}

/// One check to kill: a case, or one observation of a case (`conformance::judge::observations`).
struct Target {
    case: &'static str,
    level: Level,
    /// The observation's words and marker; `None` for a case with a single check.
    observation: Option<(&'static str, &'static str)>,
}

impl Target {
    fn killed_by(&self, evidence: &str) -> bool {
        self.observation
            .is_none_or(|(_, marker)| evidence.contains(marker))
    }

    fn name(&self) -> String {
        match self.observation {
            None => self.case.to_owned(),
            Some((what, _)) => format!("{} ({what})", self.case),
        }
    }
}

/// Every check of the catalog's MUST and SHOULD cases.
fn targets() -> Vec<Target> {
    let mut out = Vec::new();
    for c in catalog().iter().filter(|c| c.level != Level::Info) {
        let obs = conformance::judge::observations::of(c.id);
        if obs.is_empty() {
            out.push(Target {
                case: c.id,
                level: c.level,
                observation: None,
            });
        }
        out.extend(obs.into_iter().map(|o| Target {
            case: c.id,
            level: c.level,
            observation: Some((o.what, o.marker)),
        }));
    }
    out
}

/// The checks (cases, or observations of a case) that no declaration kills: a kill of the
/// case counts for an observation when its evidence contains the observation's marker.
pub fn uncovered(mutants: &[Mutant], expected: &[Expected]) -> Vec<String> {
    let by_case = killers(mutants, expected);
    targets()
        .iter()
        .filter(|t| {
            !by_case
                .get(t.case)
                .is_some_and(|ks| ks.iter().any(|(_, ev)| t.killed_by(ev)))
        })
        .map(Target::name)
        .collect()
}

/// The kill matrix, `docs/mutants.md`, from the declarations alone.
pub fn matrix_markdown(mutants: &[Mutant], expected: &[Expected]) -> String {
    let by_case = killers(mutants, expected);
    let cell = |s: &str| s.replace('|', "\\|");
    let mut s = String::from(
        "# Kill matrix\n\n\
         Generated from the mutants' declarations (`netns-tests/mutants/**/*.patch`, their \
         `# kills: ID: evidence` lines) and from the bash reference's expected failures \
         (`netns-tests/expected/init-firewall.sh.txt`) by \
         `FW_WRITE_KILL_MATRIX=1 cargo test -p netns-tests --test mutants -- kill_matrix`; \
         do not edit by hand.\n\n\
         A kill counts only when the named case fails and its reason contains the evidence: \
         `cargo test -p netns-tests --test mutants` runs every mutant and fails when a \
         declared kill does not happen, and when a check of a MUST or SHOULD case has no \
         killer. A case that observes several things has a row per check \
         (`conformance/src/judge/observations.rs`); a kill counts for the check whose marker its \
         evidence contains.\n\n\
         | Check | Level | Killed by | Evidence the failure names |\n|---|---|---|---|\n",
    );
    for t in targets() {
        let ks: Vec<&(String, String)> = by_case
            .get(t.case)
            .map(|ks| ks.iter().filter(|(_, ev)| t.killed_by(ev)).collect())
            .unwrap_or_default();
        if ks.is_empty() {
            s.push_str(&format!("| {} | {} | **nothing** | |\n", t.name(), t.level));
        }
        for (i, (who, evidence)) in ks.iter().enumerate() {
            let (name, level) = if i == 0 {
                (t.name(), t.level.to_string())
            } else {
                (String::new(), String::new())
            };
            s.push_str(&format!(
                "| {name} | {level} | {who} | `{}` |\n",
                cell(evidence)
            ));
        }
    }
    s.push_str("\n## Mutants\n\n| Mutant | What it breaks |\n|---|---|\n");
    for m in mutants {
        s.push_str(&format!("| `{}` | {} |\n", m.name, cell(&m.what)));
    }
    s
}

/// Where the generated matrix lives.
pub fn matrix_path() -> PathBuf {
    repo_root().join("docs/mutants.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_declares_kills_with_evidence() {
        let m = parse_header(
            "x",
            Path::new("x.patch"),
            "# mutant: opens things\n# kills: POL-01: 198.51.100.10:443\n# kills: SEQ-04: POL-01\n# timeout: 90\n@@ -1 +1 @@\n",
        )
        .expect("a valid header");
        assert_eq!(m.kills.len(), 2);
        assert_eq!(m.kills[0].case, "POL-01");
        assert_eq!(m.kills[0].evidence, "198.51.100.10:443");
        assert_eq!(m.kills[1].evidence, "POL-01");
        assert_eq!(m.timeout, Duration::from_secs(90));
    }

    #[test]
    fn bad_headers_are_named() {
        for (text, wanted) in [
            ("# mutant: a\n# kills: POL-01\n", "is not `ID: evidence`"),
            ("# mutant: a\n# kills: POL-01:   \n", "has no evidence text"),
            (
                "# mutant: a\n# kills: NOPE-1: x\n",
                "not a case of the catalog",
            ),
            ("# mutant: a\n# kills: INF-01: ms\n", "INFO row"),
            ("# mutant: a\n", "no `# kills: ID: evidence` line"),
            (
                "# mutant: a\n# kills: SEQ-03: init exited 1\n",
                "names none of SEQ-03's checks",
            ),
            ("# kills: POL-01: x\n", "no `# mutant:` line"),
            (
                "# mutant: a\n# kills: POL-01: x\n# timeout: soon\n",
                "is not a number of seconds",
            ),
        ] {
            let err = parse_header("m", Path::new("m.patch"), text).expect_err(text);
            assert!(err.contains(wanted), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_kill_needs_the_failure_and_the_evidence() {
        let kill = Kill {
            case: "POL-01".into(),
            evidence: "198.51.100.10:443".into(),
        };
        let mut r = CaseResult {
            id: "POL-01".into(),
            level: Level::Must,
            title: String::new(),
            verdict: Verdict::Fail,
            elapsed_ms: 0,
            reason: "198.51.100.10:443 connected".into(),
            evidence: vec![],
            iut: None,
            probes: vec![],
            runs: vec![],
            missing_commands: vec![],
        };
        assert!(kill.seen_in(&r));
        r.reason = "198.51.100.10:80 connected".into();
        assert!(!kill.seen_in(&r), "another reason is not this kill");
        r.reason = "198.51.100.10:443 connected".into();
        r.verdict = Verdict::Pass;
        assert!(!kill.seen_in(&r), "a pass is not a kill");
        r.verdict = Verdict::Fail;
        r.id = "POL-02".into();
        assert!(!kill.seen_in(&r), "another case is not this kill");
    }

    #[test]
    fn expected_failures_need_should_cases_and_evidence() {
        assert!(parse_expected("ALW-10 | resolver | the seed allows DNS anywhere\n").is_ok());
        let err = parse_expected("POL-01 | x | y\n").expect_err("a MUST case");
        assert!(err.contains("cannot be excused"), "{err}");
        let err = parse_expected("ALW-10  the seed allows DNS\n").expect_err("old format");
        assert!(err.contains("ID | evidence | why"), "{err}");
    }

    #[test]
    fn an_uncovered_case_is_named_and_shown() {
        let uncovered = uncovered(&[], &[]);
        assert!(uncovered.contains(&"POL-01".to_owned()));
        assert!(
            !uncovered.iter().any(|u| u.starts_with("INF-")),
            "INFO rows have no verdict"
        );
        assert!(matrix_markdown(&[], &[]).contains("| POL-01 | MUST | **nothing** |"));
    }

    #[test]
    fn each_observation_of_a_case_needs_its_own_kill() {
        let Some(obs) = conformance::judge::observations::OBSERVATIONS.first() else {
            return;
        };
        let others: Vec<_> = conformance::judge::observations::of(obs.case)
            .into_iter()
            .filter(|o| o.what != obs.what)
            .collect();
        let m = Mutant {
            name: "m".into(),
            path: PathBuf::from("m.patch"),
            what: "breaks one check".into(),
            kills: vec![Kill {
                case: obs.case.into(),
                evidence: format!("[default] {} and more", obs.marker),
            }],
            timeout: Duration::from_secs(1),
        };
        let left = uncovered(&[m], &[]);
        assert!(!left.iter().any(|u| u.contains(obs.what)), "{left:?}");
        for o in others {
            assert!(
                left.iter().any(|u| u.contains(o.what)),
                "{} is not killed by a kill naming {:?}: {left:?}",
                o.what,
                obs.marker
            );
        }
    }
}
