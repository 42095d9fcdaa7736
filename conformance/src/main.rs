//! fw-conformance: runs the conformance suite against an implementation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use conformance::judge::catalog::{self, requirements_markdown};
use conformance::judge::runner;
use conformance::report::html::{self, Column};
use conformance::report::{self, CaseResult, Report};
use conformance::world::netns;
use conformance::world::options::SuiteOptions;
use conformance::world::scenario::Tier;

/// The version with the git revision it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("FW_GIT_REV"), ")");

/// Judges a devcontainer egress firewall against the requirement catalog, from outside, in
/// network namespaces it builds and deletes.
#[derive(Debug, Parser)]
#[command(
    name = "fw-conformance",
    version = VERSION,
    after_help = "Examples:
  sudo fw-conformance run --impl 'fw-cli init' --markdown report.md
  sudo fw-conformance run --impl 'bash ./my-init-firewall.sh' --json mine.json --html mine.html
  sudo fw-conformance run --impl 'fw-cli init' --filter SEQ- --filter FAIL-01
  fw-conformance html --out matrix.html fw-cli.json mine.json
  fw-conformance compare before.json after.json
  fw-conformance list

Exit status (run): 0 every MUST case passed (and every SHOULD case with --level should); 1 a
case failed (a broken implementation, one that hangs or crashes, or a case marked environment
incomplete included); 2 a harness error or bad usage (an --impl that cannot be started). (compare): 0 no MUST case regressed; 1 a MUST case
that passed before fails or errs now; 2 bad usage or an unreadable report."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LevelArg {
    Must,
    Should,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the suite against an implementation.
    Run {
        /// The implementation: a command line, split into words (quotes respected, no shell).
        #[arg(long = "impl", value_name = "COMMAND")]
        implementation: String,
        /// Only cases whose ID starts with this prefix (repeatable).
        #[arg(long)]
        filter: Vec<String>,
        /// Scenarios run in parallel, each in its own sandbox (default: twice the CPUs, 2 to 8:
        /// a sandbox mostly waits on the implementation and the network).
        #[arg(long)]
        jobs: Option<usize>,
        /// Let the cases naming a scenario share one sandbox and implementation run (faster; by
        /// default every case gets its own).
        #[arg(long)]
        share: bool,
        /// must: the exit status counts MUST cases only; should: MUST and SHOULD.
        #[arg(long, value_enum, default_value_t = LevelArg::Must)]
        level: LevelArg,
        /// The npm registry host the container is configured with.
        #[arg(long, default_value = conformance::world::scenario::NPM_HOST_DEFAULT)]
        npm_registry_host: String,
        /// Time limit of one implementation run, in seconds.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        /// Where the implementation runs: network namespaces, or real Docker containers (one
        /// at a time: the Docker networks use the plan's fixed subnets).
        #[arg(long, value_enum, default_value_t = Tier::Netns)]
        tier: Tier,
        /// The Docker tier's image: the suite's test image (scripts/build-test-image.sh) or your
        /// own devcontainer image, so that the script runs with the tools it has (a local
        /// Debian or Ubuntu image with iptables and ipset; docs/docker-tier.md).
        #[arg(long, default_value = conformance::world::docker::DEFAULT_IMAGE)]
        image: String,
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        markdown: Option<PathBuf>,
        /// A self-contained HTML page: every case, each expandable to its evidence.
        #[arg(long, value_name = "PATH")]
        html: Option<PathBuf>,
        /// The seed of the spreads (the destinations, ports and sources the block checks and
        /// the bypass rows probe beyond their fixed ones). Every report prints the run's seed;
        /// give it here to probe exactly the same spread again. Default: a fresh one.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// Render one HTML matrix (cases by implementations) from JSON reports of `run --json`.
    Html {
        /// Where to write the page.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// The JSON reports, one column each, in this order.
        #[arg(required = true, value_name = "REPORT.json")]
        reports: Vec<PathBuf>,
    },
    /// Print the cases whose verdict changed from one JSON report to another. Exit status 1
    /// when a MUST case that passed in BEFORE fails or errs in AFTER.
    Compare {
        #[arg(value_name = "BEFORE.json")]
        before: PathBuf,
        #[arg(value_name = "AFTER.json")]
        after: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or with --dir write one page per subcommand.
    Man {
        /// Write fw-conformance.1 and a page per subcommand into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// List the cases (with --markdown: docs/requirements.md).
    List {
        #[arg(long)]
        markdown: bool,
    },
    /// Delete the sandboxes of dead runs.
    Sweep,
    /// The reliability campaign: kills, concurrency, fault matrix (docs/reliability.md).
    Stress(conformance::campaigns::stress::StressArgs),
    /// Time fw-cli init against the bash reference and the kernel's floor (docs/benchmarks.md).
    Bench(conformance::campaigns::bench::BenchArgs),
}

/// Splits a command line into words: whitespace separates, single and double quotes group,
/// backslash escapes outside single quotes. No expansion of any kind.
fn split_words(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => match chars.next() {
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => bail!("a trailing backslash in {s:?}"),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("an unterminated quote in {s:?}");
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        bail!("--impl is empty");
    }
    Ok(words)
}

/// Makes the command runnable from `/`: the program found on the caller's PATH, and arguments
/// naming existing files (not directories) relative to the caller's directory made absolute.
fn resolve_argv(words: Vec<String>, tier: Tier) -> Result<Vec<String>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.into_iter().enumerate() {
        let p = Path::new(&w);
        if i == 0 && !w.contains('/') && tier == Tier::Docker {
            // A bare program name is the container's own (its PATH).
            out.push(w);
        } else if i == 0 && !w.contains('/') {
            let found = std::env::var_os("PATH")
                .map(|paths| {
                    std::env::split_paths(&paths)
                        .map(|d| d.join(&w))
                        .find(|c| c.is_file())
                })
                .unwrap_or_default();
            match found {
                Some(f) => out.push(f.to_string_lossy().into_owned()),
                None => bail!("{w} is not on PATH"),
            }
        } else if p.is_relative() && cwd.join(p).is_file() {
            out.push(cwd.join(p).to_string_lossy().into_owned());
        } else {
            out.push(w);
        }
    }
    Ok(out)
}

fn read_report(p: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON report of fw-conformance", p.display()))
}

/// Column labels: the implementation, with the file name when two reports share one.
fn labels(reports: &[(PathBuf, Report)]) -> Vec<String> {
    reports
        .iter()
        .map(|(p, r)| {
            let shared = reports
                .iter()
                .filter(|(_, o)| o.implementation == r.implementation)
                .count()
                > 1;
            if shared {
                format!("{} ({})", r.implementation, p.display())
            } else {
                r.implementation.clone()
            }
        })
        .collect()
}

fn write_html(out: &Path, reports: &[(PathBuf, Report)]) -> Result<()> {
    let labels = labels(reports);
    let columns: Vec<Column<'_>> = reports
        .iter()
        .zip(labels)
        .map(|((_, r), label)| Column { label, report: r })
        .collect();
    let page = html::render(&columns, &format!("fw-conformance {VERSION}"));
    std::fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))
}

/// Before a run: an implementation that cannot be started is bad usage, not a broken script
/// (nothing can be judged: README, "Exit codes"); the machine must have what the tier needs;
/// the leftovers of dead runs are removed.
fn preflight(implementation: &str, argv: &[String], tier: Tier, image: &str) -> Result<()> {
    if tier == Tier::Netns {
        conformance::world::environment::check_startable(argv, conformance::world::iut::IUT_PATH)
            .with_context(|| format!("--impl {implementation:?} cannot be started"))?;
    }
    netns::available().context("the suite needs root and network namespaces")?;
    let mut removed = netns::sweep()?;
    if tier == Tier::Docker {
        let id = conformance::world::docker::available(image)
            .context("the Docker tier needs a Docker engine and a local image")?;
        eprintln!("Docker tier: image {image} ({id})");
        removed.extend(conformance::world::docker::sweep()?);
    }
    if !removed.is_empty() {
        eprintln!("removed {} sandbox leftovers of dead runs", removed.len());
    }
    Ok(())
}

/// The line printed as each case finishes.
fn progress_line(r: &CaseResult) {
    eprintln!(
        "{:<8} {:<6} {:<5} {:>6.1} s  {}",
        r.id,
        r.level.to_string(),
        r.verdict_word(),
        r.elapsed_ms as f64 / 1000.0,
        if r.reason.is_empty() {
            r.title.as_str()
        } else {
            r.reason.as_str()
        }
    );
}

/// Writes the report in each format asked for.
fn write_reports(
    report: Report,
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
    markdown: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<()> {
    if let Some(p) = json {
        std::fs::write(&p, report.to_json())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = junit {
        std::fs::write(&p, report.to_junit())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = markdown {
        std::fs::write(&p, report.to_markdown())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = html {
        write_html(&p, &[(p.clone(), report)])?;
    }
    Ok(())
}

fn run_cmd(cli: Cli) -> Result<i32> {
    match cli.command {
        Cmd::Html { out, reports } => {
            let loaded = reports
                .into_iter()
                .map(|p| read_report(&p).map(|r| (p, r)))
                .collect::<Result<Vec<_>>>()?;
            write_html(&out, &loaded)?;
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
        Cmd::Compare { before, after } => {
            let a = read_report(&before)?;
            let b = read_report(&after)?;
            let changes = report::compare(&a, &b);
            print!("{}", report::compare_text(&a, &b, &changes));
            Ok(i32::from(
                changes.iter().any(report::Change::is_must_regression),
            ))
        }
        Cmd::Completions { shell } => {
            // Generated in memory: clap_complete panics on a failed write (a closed pipe).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fw-conformance", &mut buf);
            use std::io::Write;
            match std::io::stdout().write_all(&buf) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("cannot write the completions")?
                }
                _ => Ok(0),
            }
        }
        Cmd::Man { dir } => {
            match dir {
                Some(d) => clap_mangen::generate_to(Cli::command(), &d)
                    .with_context(|| format!("cannot write the man pages to {}", d.display()))?,
                None => clap_mangen::Man::new(Cli::command())
                    .render(&mut std::io::stdout())
                    .context("cannot write the man page")?,
            }
            Ok(0)
        }
        Cmd::List { markdown } => {
            if markdown {
                print!("{}", requirements_markdown());
            } else {
                for c in catalog::catalog() {
                    println!("{:<8} {:<6} {}", c.id, c.level.to_string(), c.title);
                }
            }
            Ok(0)
        }
        Cmd::Stress(args) => conformance::campaigns::stress::cli(&args, &|c| {
            resolve_argv(split_words(c)?, Tier::Netns)
        }),
        Cmd::Bench(args) => conformance::campaigns::bench::main(&args),
        Cmd::Sweep => {
            for n in netns::sweep()? {
                println!("removed {n}");
            }
            for n in conformance::world::docker::sweep()? {
                println!("removed {n}");
            }
            Ok(0)
        }
        Cmd::Run {
            implementation,
            filter,
            jobs,
            share,
            level,
            npm_registry_host,
            timeout,
            tier,
            image,
            json,
            junit,
            markdown,
            html,
            seed,
        } => {
            let argv = resolve_argv(split_words(&implementation)?, tier)?;
            preflight(&implementation, &argv, tier, &image)?;
            let opts = SuiteOptions {
                implementation: match tier {
                    Tier::Netns => implementation.clone(),
                    Tier::Docker => format!("{implementation} (Docker tier, image {image})"),
                },
                argv,
                npm_host: npm_registry_host,
                timeout: Duration::from_secs(timeout),
                jobs: jobs.unwrap_or_else(conformance::world::options::default_jobs),
                isolate: !share,
                tier,
                image,
                seed: seed.unwrap_or_else(conformance::world::seed::fresh_seed),
            };
            let cases = catalog::select(&filter, &[]);
            if cases.is_empty() {
                bail!("no case matches {filter:?}");
            }
            eprintln!(
                "running {} cases against {implementation} (spread seed {}: --seed {} repeats it)",
                cases.len(),
                opts.seed,
                opts.seed
            );
            let report = runner::run(&cases, &opts, &progress_line);
            println!("{}", report.to_markdown());
            let code = report.exit_status(level == LevelArg::Should);
            write_reports(report, json, junit, markdown, html)?;
            Ok(code)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_cmd(cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
        Err(e) => {
            eprintln!("fw-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn columns_are_labelled_by_implementation_then_file() {
        let r = |i: &str| Report::new(i, Vec::new(), 0);
        let l = labels(&[
            ("a.json".into(), r("fw-cli init")),
            ("b.json".into(), r("bash x.sh")),
            ("c.json".into(), r("fw-cli init")),
        ]);
        assert_eq!(
            l,
            ["fw-cli init (a.json)", "bash x.sh", "fw-cli init (c.json)"]
        );
    }

    #[test]
    fn words_split_without_a_shell() {
        assert_eq!(split_words("fw-cli init").unwrap(), ["fw-cli", "init"]);
        assert_eq!(
            split_words(r#"bash "./my script.sh" 'a $(b)' c\ d"#).unwrap(),
            ["bash", "./my script.sh", "a $(b)", "c d"]
        );
        assert!(split_words("bash 'x").is_err());
        assert!(split_words("  ").is_err());
    }
}
