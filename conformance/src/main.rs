//! fw-conformance: runs the conformance suite against an implementation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use conformance::catalog::{self, requirements_markdown};
use conformance::sandbox::SuiteOptions;
use conformance::{netns, runner};

/// Judges a devcontainer egress firewall against the requirement catalog, from outside, in
/// network namespaces it builds and deletes.
#[derive(Debug, Parser)]
#[command(
    name = "fw-conformance",
    version,
    after_help = "Examples:
  sudo fw-conformance run --impl 'fw-cli init' --markdown report.md
  sudo fw-conformance run --impl 'bash ./my-init-firewall.sh' --json report.json
  sudo fw-conformance run --impl 'fw-cli init' --filter SEQ- --filter FAIL-01
  fw-conformance list

Exit status: 0 every MUST case passed (and every SHOULD case with --level should); 1 a case
failed; 2 a harness error or bad usage."
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
        /// Scenarios run in parallel, each in its own sandbox.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Let the cases naming a scenario share one sandbox and implementation run (faster; by
        /// default every case gets its own).
        #[arg(long)]
        share: bool,
        /// must: the exit status counts MUST cases only; should: MUST and SHOULD.
        #[arg(long, value_enum, default_value_t = LevelArg::Must)]
        level: LevelArg,
        /// The npm registry host the container is configured with.
        #[arg(long, default_value = conformance::scenario::NPM_HOST_DEFAULT)]
        npm_registry_host: String,
        /// Time limit of one implementation run, in seconds.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        markdown: Option<PathBuf>,
    },
    /// List the cases (with --markdown: docs/requirements.md).
    List {
        #[arg(long)]
        markdown: bool,
    },
    /// Delete the sandboxes of dead runs.
    Sweep,
    /// Time fw-cli init against the bash reference and the kernel's floor (docs/benchmarks.md).
    Bench(conformance::bench::BenchArgs),
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
/// naming existing files relative to the caller's directory made absolute.
fn resolve_argv(words: Vec<String>) -> Result<Vec<String>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.into_iter().enumerate() {
        let p = Path::new(&w);
        if i == 0 && !w.contains('/') {
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
        } else if p.is_relative() && cwd.join(p).exists() {
            out.push(cwd.join(p).to_string_lossy().into_owned());
        } else {
            out.push(w);
        }
    }
    Ok(out)
}

fn run_cmd(cli: Cli) -> Result<i32> {
    match cli.command {
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
        Cmd::Bench(args) => conformance::bench::main(&args),
        Cmd::Sweep => {
            for n in netns::sweep()? {
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
            json,
            junit,
            markdown,
        } => {
            let argv = resolve_argv(split_words(&implementation)?)?;
            netns::available().context("the suite needs root and network namespaces")?;
            let removed = netns::sweep()?;
            if !removed.is_empty() {
                eprintln!("removed {} sandbox namespaces of dead runs", removed.len());
            }
            let opts = SuiteOptions {
                implementation: implementation.clone(),
                argv,
                npm_host: npm_registry_host,
                timeout: Duration::from_secs(timeout),
                jobs,
                isolate: !share,
            };
            let cases = catalog::select(&filter, &[]);
            if cases.is_empty() {
                bail!("no case matches {filter:?}");
            }
            eprintln!("running {} cases against {implementation}", cases.len());
            let report = runner::run(&cases, &opts, &|r| {
                eprintln!(
                    "{:<8} {:<6} {:<5} {:>6.1} s  {}",
                    r.id,
                    r.level.to_string(),
                    format!("{:?}", r.verdict).to_lowercase(),
                    r.elapsed_ms as f64 / 1000.0,
                    if r.reason.is_empty() {
                        r.title.as_str()
                    } else {
                        r.reason.as_str()
                    }
                );
            });
            println!("{}", report.to_markdown());
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
            Ok(report.exit_status(level == LevelArg::Should))
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
