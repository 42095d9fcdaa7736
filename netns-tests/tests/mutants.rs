//! The suite must have teeth: mutants of `scripts/init-firewall.sh` that it must catch.
//!
//! Each `netns-tests/mutants/NN-name.patch` is a small unified diff against the bash reference,
//! with a header that `patch` ignores:
//!
//! ```text
//! # mutant: <what it breaks>
//! # kills: ID[,ID...]        (MUST cases; at least one of them must fail)
//! ```
//!
//! One trial per mutant: the script is copied to a temporary directory, patched (a patch that
//! does not apply fails the trial), checked with `bash -n`, and run through the conformance
//! runner restricted to the listed cases. The mutant is killed when at least one listed case
//! fails; a surviving mutant, or a harness error, fails the trial. The `coverage` trial checks
//! that every MUST case of the catalog is listed by some mutant. Mutants run one after another.
//!
//! `netns-tests/mutants/should/*.patch` are the same for SHOULD cases: mutants that keep every
//! MUST case but break one hardening row, so that each SHOULD case is seen to fail against an
//! implementation that breaks it (the bash reference itself fails the other SHOULD rows).
//!
//! Without root or network namespaces the mutant trials print why and pass, except under
//! CI=true, where they fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use conformance::catalog::{catalog, select};
use conformance::report::{Level, Verdict};
use conformance::sandbox::SuiteOptions;
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{
    BASH_REFERENCE as SCRIPT, explain, mutants_dir, patched_script, privileged_may_run,
};

/// A mutant, as its patch file describes it.
#[derive(Debug, Clone)]
struct Mutant {
    name: String,
    /// The level of the cases it must kill: MUST in `mutants/`, SHOULD in `mutants/should/`.
    level: Level,
    /// `# timeout: SECONDS`: the suite's limit for one run of this mutant (default 180 s), for
    /// a mutant that hangs by design.
    timeout: Duration,
    path: PathBuf,
    what: String,
    kills: Vec<String>,
}

/// The patch files of a directory, in name order.
fn patch_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
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

/// Reads a patch file's header; its `# kills:` cases must be of `level`.
fn parse(path: &Path, level: Level) -> Result<Mutant, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = |key: &str| {
        text.lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    let what = header("# mutant:").ok_or_else(|| format!("{name}: no `# mutant:` line"))?;
    let kills: Vec<String> = header("# kills:")
        .ok_or_else(|| format!("{name}: no `# kills:` line"))?
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if kills.is_empty() {
        return Err(format!("{name}: `# kills:` lists no case"));
    }
    let of_level: Vec<&str> = catalog()
        .iter()
        .filter(|c| c.level == level)
        .map(|c| c.id)
        .collect();
    if let Some(bad) = kills.iter().find(|k| !of_level.contains(&k.as_str())) {
        return Err(format!(
            "{name}: {bad} is not a {level} case of the catalog"
        ));
    }
    let timeout = match header("# timeout:") {
        None => Duration::from_secs(180),
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| format!("{name}: `# timeout:` {t:?} is not a number of seconds"))?,
        ),
    };
    Ok(Mutant {
        name,
        level,
        timeout,
        path: path.to_path_buf(),
        what,
        kills,
    })
}

fn judge(m: &Mutant) -> Result<(), Failed> {
    // The patch must apply and give valid bash, with or without the privileged suite.
    let patched = patched_script(&m.path).map_err(|e| Failed::from(format!("{e:#}")))?;
    let script = &patched.script;

    if !privileged_may_run(&m.name)? {
        return Ok(());
    }
    let cases: Vec<_> = select(&m.kills, &[m.level])
        .into_iter()
        .filter(|c| m.kills.iter().any(|k| k == c.id))
        .collect();
    let opts = SuiteOptions {
        implementation: format!("bash {SCRIPT} + {}", m.name),
        argv: vec!["bash".to_owned(), script.to_string_lossy().into_owned()],
        npm_host: conformance::scenario::NPM_HOST_DEFAULT.to_owned(),
        timeout: m.timeout,
        jobs: 2,
        isolate: false,
        tier: conformance::scenario::Tier::Netns,
        image: conformance::docker::DEFAULT_IMAGE.to_owned(),
        seed: conformance::spread::fresh_seed(),
    };
    let start = Instant::now();
    let report = conformance::runner::run(&cases, &opts, &|_| {});
    let secs = start.elapsed().as_secs_f64();
    if let Some(r) = report.cases.iter().find(|r| r.verdict == Verdict::Error) {
        return Err(format!(
            "{}: harness error, the mutant is not judged:\n{}",
            m.name,
            explain(r)
        )
        .into());
    }
    let killers: Vec<&str> = report
        .cases
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.id.as_str())
        .collect();
    if killers.is_empty() {
        let why: Vec<String> = report.cases.iter().map(explain).collect();
        return Err(format!(
            "mutant {} survived ({}): none of {} fails\n{}",
            m.name,
            m.what,
            m.kills.join(", "),
            why.join("\n")
        )
        .into());
    }
    println!(
        "mutant {:<36} killed by {} ({secs:.1} s)",
        m.name,
        killers.join(", ")
    );
    Ok(())
}

/// Every MUST case kills at least one mutant.
fn coverage(mutants: &[Mutant]) -> Result<(), Failed> {
    let missing: Vec<&str> = catalog()
        .iter()
        .filter(|c| c.level == Level::Must)
        .map(|c| c.id)
        .filter(|id| !mutants.iter().any(|m| m.kills.iter().any(|k| k == id)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "MUST cases no mutant lists in `# kills:`: {}",
            missing.join(", ")
        )
        .into())
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // One mutant at a time (each runs its scenarios two at a time): parallel runs would
    // overload a 2-core machine and blur the timing-based verdicts ("rejected fast").
    args.test_threads.get_or_insert(1);
    let mut trials = Vec::new();
    let mut mutants = Vec::new();
    for (dir, level, prefix) in [
        (mutants_dir(), Level::Must, "mutant"),
        (mutants_dir().join("should"), Level::Should, "should-mutant"),
    ] {
        match patch_files(&dir) {
            Ok(files) if files.is_empty() => {
                let shown = dir.display().to_string();
                trials.push(Trial::test(format!("{prefix}::none"), move || {
                    Err(format!("no *.patch in {shown}").into())
                }));
            }
            Ok(files) => {
                for f in files {
                    match parse(&f, level) {
                        Ok(m) => {
                            if level == Level::Must {
                                mutants.push(m.clone());
                            }
                            trials.push(Trial::test(format!("{prefix}::{}", m.name), move || {
                                judge(&m)
                            }));
                        }
                        Err(e) => {
                            let name = f
                                .file_stem()
                                .map(|s| s.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            trials.push(Trial::test(format!("{prefix}::{name}"), move || {
                                Err(e.into())
                            }));
                        }
                    }
                }
            }
            Err(e) => trials.push(Trial::test(
                format!("{prefix}::list"),
                move || Err(e.into()),
            )),
        }
    }
    trials.push(Trial::test("mutants::coverage", move || coverage(&mutants)));
    libtest_mimic::run(&args, trials).exit();
}
