//! `fw-conformance bench`: wall time and memory of `fw-cli init` against the bash reference and
//! against the kernel's floor, in the same sandbox the suite judges implementations in.
//!
//! Method:
//! - Every sample gets a fresh sandbox ([`Sandbox::build`]: namespaces, mocks, a container with
//!   nothing applied), so every contender starts from the state a new container has and no
//!   run inherits another's sets, rules or conntrack entries. Building it is not timed.
//! - Contenders of a series are alternated run by run (A B A B ...), so that load which comes
//!   and goes on the machine falls on all of them alike; each reports median, minimum and
//!   maximum, and its ratio to `fw-cli init` is the median of the per-round ratios.
//! - A sample is the wall time of the whole command as the IUT runner measures it (from spawn
//!   to the main process's exit, the namespace setup of the runner included), except the
//!   floor, timed around its three restore commands only.
//! - The floor is the least any implementation must spend: `ipset restore`, `iptables-restore`
//!   and `ip6tables-restore` of exactly the ruleset `fw-cli init` would apply in that sandbox
//!   (taken from `fw-cli plan --json --rules` run there first, untimed), in the container's
//!   network namespace, with no gathering and no verification. The sets are restored under
//!   their live names directly (no temporary set, no swap).
//! - Peak resident memory is the `VmHWM` of the command's main process, read every 2 ms while
//!   it runs. Not `wait4`'s `ru_maxrss`: the IUT is forked from this (large, multi-threaded)
//!   harness, and `ru_maxrss` keeps the harness's resident size from before the exec, which
//!   made every figure the harness's. CPU time does come from `wait4` (user + system, the
//!   children the command waited for included).
//!
//! Output: a Markdown table on stdout and in `bench.md`, every raw sample in `bench.json`, and
//! `scaling.svg`, a chart of the scaling series drawn with plotters, all in `--out`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::world::iut::{IutRun, StagedArgv, timeval};
use crate::world::options::SuiteOptions;
use crate::world::sandbox::Sandbox;
use crate::world::scenario::{BenchDomains, Meta, Scenario};

/// `fw-conformance bench` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Runs of each contender in each series.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The fw-cli binary (default: the fw-cli beside this program, else on PATH).
    #[arg(long, value_name = "PATH")]
    pub fw_cli: Option<PathBuf>,
    /// The bash reference script.
    #[arg(long, value_name = "PATH", default_value = "scripts/init-firewall.sh")]
    pub reference: PathBuf,
    /// Series to run (repeatable): realistic, cidrs, domains. Default: all.
    #[arg(long, value_enum)]
    pub series: Vec<SeriesKind>,
    /// Allowlist sizes (CIDRs under web/api/git) of the scaling series.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
    pub cidrs: Vec<usize>,
    /// Domain counts of the scaling series.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 1_000])]
    pub domains: Vec<usize>,
    /// How long the mock DNS waits before answering each generated name, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub dns_delay_ms: u64,
    /// The bash reference runs in the CIDR series up to this size only (it adds entries one
    /// `ipset add` at a time, and its set's default maxelem of 65,536 refuses 100,000).
    #[arg(long, default_value_t = 1_000)]
    pub reference_max_cidrs: usize,
    /// The bash reference runs in the domain series up to this count only (it resolves one
    /// name at a time).
    #[arg(long, default_value_t = 100)]
    pub reference_max_domains: usize,
    /// Where bench.json, bench.md and scaling.svg go.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Time limit of one run, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// A group of series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesKind {
    /// fw-cli against the bash reference and the floor on the realistic fixture.
    Realistic,
    /// Allowlists of growing size.
    Cidrs,
    /// Growing numbers of domains, each answered after a fixed delay.
    Domains,
}

/// Who is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    FwCli,
    Reference,
    Floor,
}

impl Contender {
    pub fn label(self) -> &'static str {
        match self {
            Contender::FwCli => "fw-cli init",
            Contender::Reference => "bash init-firewall.sh",
            Contender::Floor => "floor (bare restores)",
        }
    }
}

/// One timed run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The round it belongs to (0-based); samples of one round ran back to back.
    pub round: usize,
    pub ms: f64,
    /// The 1-minute load average just before the run.
    pub loadavg1: f64,
    /// Peak resident set size of the command's main process (KiB, `VmHWM` read every 2 ms).
    pub max_rss_kib: Option<u64>,
    /// fw-cli's own step timings (`init --json`), in ms.
    pub phases_ms: BTreeMap<String, f64>,
    /// CPU time (user + system) of the command and the children it waited for, in ms.
    pub cpu_ms: Option<f64>,
    /// CPU time this process spent meanwhile, in ms: the sandbox's mocks (DNS, HTTPS) answering
    /// the run, plus a little of the runner's own bookkeeping.
    pub mocks_cpu_ms: f64,
}

/// Median, minimum and maximum of some values.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// One contender's samples in a series.
#[derive(Debug, Clone, Serialize)]
pub struct ContenderResult {
    pub contender: Contender,
    pub label: String,
    pub samples: Vec<Sample>,
    pub summary: Option<Summary>,
    /// The median over rounds of (this contender's time / fw-cli's time in the same round).
    pub ratio_to_fw_cli: Option<f64>,
    /// Median of each fw-cli phase over the samples.
    pub phases_median_ms: BTreeMap<String, f64>,
    pub max_rss_kib: Option<u64>,
    /// Median CPU time of the command (ms).
    pub cpu_median_ms: Option<f64>,
    /// Median CPU time of the mocks during the run (ms).
    pub mocks_cpu_median_ms: Option<f64>,
}

/// One series: a world and the contenders timed in it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesResult {
    pub kind: SeriesKind,
    pub name: String,
    /// CIDRs or domains, for the scaling series.
    pub size: Option<usize>,
    pub contenders: Vec<ContenderResult>,
    /// Lowest and highest 1-minute load average seen during the series.
    pub loadavg_range: Option<(f64, f64)>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub iptables: String,
    pub loadavg_at_start: String,
}

/// Everything a bench run produced.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub command: String,
    pub started_unix: u64,
    pub runs: usize,
    pub dns_delay_ms: u64,
    pub machine: Machine,
    pub series: Vec<SeriesResult>,
}

/// What the bench needs after resolving its arguments.
#[derive(Debug)]
struct Setup {
    fw_cli: String,
    reference: String,
    suite: SuiteOptions,
    _staged: StagedArgv,
}

fn default_fw_cli() -> Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("fw-cli")))
        .filter(|p| p.is_file());
    if let Some(p) = beside {
        return Ok(p);
    }
    std::env::var_os("PATH")
        .and_then(|paths| fw_testkit::path::find_on_path(&paths, "fw-cli"))
        .context("fw-cli is neither beside fw-conformance nor on PATH: pass --fw-cli")
}

fn absolute(p: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(p).with_context(|| format!("{} not found", p.display()))?;
    Ok(abs.to_string_lossy().into_owned())
}

/// The 1-minute load average.
fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Facts about this machine for the report.
pub fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let iptables = Command::new("iptables")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned()),
        iptables,
        loadavg_at_start: std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

/// A series to run: its world and its contenders.
#[derive(Debug, Clone)]
struct Plan {
    kind: SeriesKind,
    name: String,
    size: Option<usize>,
    scenario: Scenario,
    contenders: Vec<Contender>,
}

fn plans(args: &BenchArgs) -> Vec<Plan> {
    let kinds = if args.series.is_empty() {
        vec![
            SeriesKind::Realistic,
            SeriesKind::Cidrs,
            SeriesKind::Domains,
        ]
    } else {
        args.series.clone()
    };
    let mut out = Vec::new();
    for kind in kinds {
        match kind {
            SeriesKind::Realistic => out.push(Plan {
                kind,
                name: "realistic".to_owned(),
                size: None,
                scenario: Scenario::base("bench-realistic"),
                contenders: vec![Contender::FwCli, Contender::Reference, Contender::Floor],
            }),
            SeriesKind::Cidrs => {
                for &n in &args.cidrs {
                    let mut contenders = vec![Contender::FwCli, Contender::Floor];
                    if n <= args.reference_max_cidrs {
                        contenders.push(Contender::Reference);
                    }
                    out.push(Plan {
                        kind,
                        name: format!("cidrs-{n}"),
                        size: Some(n),
                        scenario: Scenario {
                            meta: Meta::Scaled(n),
                            ..Scenario::base("bench-cidrs")
                        },
                        contenders,
                    });
                }
            }
            SeriesKind::Domains => {
                for &n in &args.domains {
                    let mut contenders = vec![Contender::FwCli];
                    if n <= args.reference_max_domains {
                        contenders.push(Contender::Reference);
                    }
                    out.push(Plan {
                        kind,
                        name: format!("domains-{n}"),
                        size: Some(n),
                        scenario: Scenario {
                            bench_domains: Some(BenchDomains {
                                count: n,
                                delay_ms: args.dns_delay_ms,
                            }),
                            ..Scenario::base("bench-domains")
                        },
                        contenders,
                    });
                }
            }
        }
    }
    out
}

/// The texts `fw-cli plan --json --rules` prints under `rules`.
#[derive(Debug, Clone)]
struct Rules {
    iptables: String,
    ip6tables: String,
    ipset: String,
}

fn ensure_success(what: &str, r: &IutRun) -> Result<()> {
    if r.success() {
        return Ok(());
    }
    let tail: String = {
        let lines: Vec<&str> = r.stderr.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    bail!(
        "{what} failed (exit {:?}, signal {:?}, timed out {}); stderr ends with:\n{tail}",
        r.status,
        r.signal,
        r.timed_out
    )
}

/// What `fw-cli init` would apply in this sandbox.
fn plan_rules(sb: &Sandbox, setup: &Setup) -> Result<Rules> {
    let argv = [
        setup.fw_cli.clone(),
        "plan".into(),
        "--json".into(),
        "--rules".into(),
    ];
    let r = sb.run_command(&argv)?;
    ensure_success("fw-cli plan --json --rules", &r)?;
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).context("fw-cli plan --json --rules printed no JSON")?;
    let text = |k: &str| -> Result<String> {
        v["rules"][k]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("fw-cli plan --rules gave no rules.{k}"))
    };
    Ok(Rules {
        iptables: text("iptables")?,
        ip6tables: text("ip6tables")?,
        ipset: live_set_names(&text("ipset")?),
    })
}

/// The rendered `ipset restore` text with the temporary set names replaced by the live ones,
/// so the rules that match the live sets can be restored right after it.
fn live_set_names(ipset: &str) -> String {
    use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6, temp_set};
    let renames = [
        (temp_set(SET_ALLOW_V4), SET_ALLOW_V4),
        (temp_set(SET_ALLOW_V6), SET_ALLOW_V6),
    ];
    let mut out = String::with_capacity(ipset.len());
    for line in ipset.lines() {
        let mut words: Vec<&str> = line.split(' ').collect();
        if let Some(w) = words.get_mut(1)
            && let Some((_, live)) = renames.iter().find(|(tmp, _)| tmp == w)
        {
            *w = live;
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// Runs `program args` with `input` on stdin in the calling thread's network namespace.
fn feed(program: &str, args: &[&str], input: &str) -> Result<()> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .with_context(|| format!("cannot write to {program}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("cannot wait for {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The floor: the three restores in the container's namespace; their wall time and the CPU
/// time of the three commands.
fn floor(sb: &Sandbox, rules: Rules) -> Result<(Duration, Duration)> {
    sb.topo
        .container
        .run(move || -> Result<(Duration, Duration)> {
            let cpu0 = children_cpu();
            let t = Instant::now();
            feed("ipset", &["restore"], &rules.ipset)?;
            feed("iptables-restore", &[], &rules.iptables)?;
            feed("ip6tables-restore", &[], &rules.ip6tables)?;
            Ok((t.elapsed(), children_cpu().saturating_sub(cpu0)))
        })?
}

/// CPU time (user + system) of this process, or of its waited-for children.
#[allow(unsafe_code)]
fn rusage_cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given, which outlives the call.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return Duration::ZERO;
    }
    timeval(u.ru_utime) + timeval(u.ru_stime)
}

fn self_cpu() -> Duration {
    rusage_cpu(libc::RUSAGE_SELF)
}

fn children_cpu() -> Duration {
    rusage_cpu(libc::RUSAGE_CHILDREN)
}

/// fw-cli's step timings from `init --json`.
fn phases(stdout: &str) -> BTreeMap<String, f64> {
    serde_json::from_str::<serde_json::Value>(stdout)
        .ok()
        .and_then(|v| {
            v.get("timings_ms").and_then(|t| t.as_object()).map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|ms| (k.clone(), ms)))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One sample: a fresh sandbox, one timed run of `who` in it.
fn sample(plan: &Plan, who: Contender, round: usize, setup: &Setup) -> Result<Sample> {
    let sb = Sandbox::build(&plan.scenario, &setup.suite)
        .with_context(|| format!("building the sandbox of {}", plan.name))?;
    let mut s = Sample {
        round,
        ms: f64::NAN,
        loadavg1: f64::NAN,
        max_rss_kib: None,
        phases_ms: BTreeMap::new(),
        cpu_ms: None,
        mocks_cpu_ms: f64::NAN,
    };
    match who {
        Contender::FwCli | Contender::Reference => {
            let argv = if who == Contender::FwCli {
                vec![setup.fw_cli.clone(), "init".into(), "--json".into()]
            } else {
                vec!["bash".into(), setup.reference.clone()]
            };
            s.loadavg1 = loadavg1();
            let cpu0 = self_cpu();
            let r = sb.run_command_watched(&argv, setup.suite.timeout)?;
            s.mocks_cpu_ms = ms(self_cpu().saturating_sub(cpu0));
            s.cpu_ms = Some(ms(r.cpu));
            ensure_success(who.label(), &r)?;
            s.ms = ms(r.elapsed);
            s.max_rss_kib = r.max_rss_kib;
            if who == Contender::FwCli {
                s.phases_ms = phases(&r.stdout);
            }
        }
        Contender::Floor => {
            let rules = plan_rules(&sb, setup)?;
            s.loadavg1 = loadavg1();
            let cpu0 = self_cpu();
            let (wall, cpu) = floor(&sb, rules)?;
            s.mocks_cpu_ms = ms(self_cpu().saturating_sub(cpu0));
            s.ms = ms(wall);
            s.cpu_ms = Some(ms(cpu));
        }
    }
    Ok(s)
}

fn run_series(plan: &Plan, runs: usize, setup: &Setup) -> Result<SeriesResult> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); plan.contenders.len()];
    for round in 0..runs {
        for (i, &who) in plan.contenders.iter().enumerate() {
            let s = sample(plan, who, round, setup)
                .with_context(|| format!("{}: {} (round {round})", plan.name, who.label()))?;
            eprintln!(
                "{:<14} {:<24} round {round}: {:>9.1} ms  (load {:.2})",
                plan.name,
                who.label(),
                s.ms,
                s.loadavg1
            );
            samples[i].push(s);
        }
    }
    let fw_times: Option<Vec<f64>> = plan
        .contenders
        .iter()
        .position(|c| *c == Contender::FwCli)
        .map(|i| samples[i].iter().map(|s| s.ms).collect());
    let loads: Vec<f64> = samples.iter().flatten().map(|s| s.loadavg1).collect();
    let load = Summary::of(&loads).map(|s| (s.min, s.max));
    let contenders = plan
        .contenders
        .iter()
        .zip(samples)
        .map(|(&who, samples)| {
            let times: Vec<f64> = samples.iter().map(|s| s.ms).collect();
            let ratio_to_fw_cli = fw_times.as_ref().and_then(|fw| {
                let ratios: Vec<f64> = times.iter().zip(fw).map(|(t, f)| t / f).collect();
                Summary::of(&ratios).map(|s| s.median)
            });
            let mut phase_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for s in &samples {
                for (k, v) in &s.phases_ms {
                    phase_values.entry(k.clone()).or_default().push(*v);
                }
            }
            ContenderResult {
                contender: who,
                label: who.label().to_owned(),
                summary: Summary::of(&times),
                ratio_to_fw_cli,
                phases_median_ms: phase_values
                    .into_iter()
                    .filter_map(|(k, v)| Summary::of(&v).map(|s| (k, s.median)))
                    .collect(),
                max_rss_kib: samples.iter().filter_map(|s| s.max_rss_kib).max(),
                cpu_median_ms: Summary::of(
                    &samples.iter().filter_map(|s| s.cpu_ms).collect::<Vec<_>>(),
                )
                .map(|s| s.median),
                mocks_cpu_median_ms: Summary::of(
                    &samples.iter().map(|s| s.mocks_cpu_ms).collect::<Vec<_>>(),
                )
                .map(|s| s.median),
                samples,
            }
        })
        .collect();
    Ok(SeriesResult {
        kind: plan.kind,
        name: plan.name.clone(),
        size: plan.size,
        contenders,
        loadavg_range: load,
    })
}

/// Runs the benchmark as the arguments say and returns everything measured.
pub fn run(args: &BenchArgs, command_line: &str) -> Result<BenchReport> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let fw_cli = absolute(&match &args.fw_cli {
        Some(p) => p.clone(),
        None => default_fw_cli()?,
    })?;
    let reference = absolute(&args.reference)?;
    let staged = StagedArgv::new(&[fw_cli, reference])?;
    let setup = Setup {
        fw_cli: staged.argv[0].clone(),
        reference: staged.argv[1].clone(),
        suite: SuiteOptions {
            timeout: Duration::from_secs(args.timeout),
            jobs: 1,
            ..SuiteOptions::new("bench", vec![staged.argv[0].clone()])
        },
        _staged: staged,
    };
    let machine = machine();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut series = Vec::new();
    for plan in plans(args) {
        series.push(run_series(&plan, args.runs, &setup)?);
    }
    Ok(BenchReport {
        command: command_line.to_owned(),
        started_unix,
        runs: args.runs,
        dns_delay_ms: args.dns_delay_ms,
        machine,
        series,
    })
}

fn fmt_ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// The report as Markdown: the machine, then one table row per series and contender.
pub fn to_markdown(r: &BenchReport) -> String {
    let m = &r.machine;
    let mut s = format!(
        "Machine: {} ({} cores), kernel {}, {}; load average at start: {}.\n\
         Runs per contender: {}; DNS answer delay of the domain series: {} ms.\n\
         Command: `{}`\n\n",
        m.cpu_model,
        m.cores,
        m.kernel,
        m.iptables,
        m.loadavg_at_start,
        r.runs,
        r.dns_delay_ms,
        r.command
    );
    s.push_str("| series | contender | median ms | min ms | max ms | ratio (this ÷ fw-cli) | CPU ms | mocks CPU ms | peak RSS MiB | load (1 min) |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for series in &r.series {
        let load = series
            .loadavg_range
            .map(|(a, b)| format!("{a:.2}–{b:.2}"))
            .unwrap_or_default();
        for c in &series.contenders {
            let (med, min, max) = c.summary.map_or_else(
                || ("-".into(), "-".into(), "-".into()),
                |x| (fmt_ms(x.median), fmt_ms(x.min), fmt_ms(x.max)),
            );
            let ratio = match (c.contender, c.ratio_to_fw_cli) {
                (Contender::FwCli, _) | (_, None) => "-".to_owned(),
                (_, Some(x)) => format!("{x:.2}"),
            };
            let rss = c
                .max_rss_kib
                .map_or_else(|| "-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
            let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), fmt_ms);
            s.push_str(&format!(
                "| {} | {} | {med} | {min} | {max} | {ratio} | {} | {} | {rss} | {load} |\n",
                series.name,
                c.label,
                opt(c.cpu_median_ms),
                opt(c.mocks_cpu_median_ms),
            ));
        }
    }
    let phased: Vec<(&SeriesResult, &ContenderResult)> = r
        .series
        .iter()
        .flat_map(|se| se.contenders.iter().map(move |c| (se, c)))
        .filter(|(_, c)| !c.phases_median_ms.is_empty())
        .collect();
    if !phased.is_empty() {
        let keys: Vec<&String> = {
            let mut k: Vec<&String> = phased
                .iter()
                .flat_map(|(_, c)| c.phases_median_ms.keys())
                .collect();
            k.sort();
            k.dedup();
            k
        };
        s.push_str(
            "\nfw-cli init's own step timings (median ms, from `init --json`):\n\n| series |",
        );
        for k in &keys {
            s.push_str(&format!(" {k} |"));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(keys.len()));
        s.push('\n');
        for (se, c) in phased {
            s.push_str(&format!("| {} |", se.name));
            for k in &keys {
                let v = c
                    .phases_median_ms
                    .get(*k)
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
                s.push_str(&format!(" {v} |"));
            }
            s.push('\n');
        }
    }
    s
}

/// The points (size, median ms) of one contender across a scaling series.
fn points(r: &BenchReport, kind: SeriesKind, who: Contender) -> Vec<(f64, f64)> {
    r.series
        .iter()
        .filter(|s| s.kind == kind)
        .filter_map(|s| {
            let size = s.size? as f64;
            let c = s.contenders.iter().find(|c| c.contender == who)?;
            Some((size, c.summary?.median))
        })
        .collect()
}

/// Draws the scaling series (median wall time against size, log-log) as an SVG.
pub fn draw_chart(r: &BenchReport, path: &Path) -> Result<()> {
    use plotters::prelude::*;

    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(550);
    let colour = |who: Contender| match who {
        Contender::FwCli => RGBColor(0x1f, 0x77, 0xb4),
        Contender::Reference => RGBColor(0xd6, 0x27, 0x28),
        Contender::Floor => RGBColor(0x2c, 0xa0, 0x2c),
    };
    // Legends where the lines are not: the bash reference's few points sit high on the left.
    let panels = [
        (
            &left,
            SeriesKind::Cidrs,
            "Allowlist size".to_owned(),
            "CIDRs in web/api/git",
            SeriesLabelPosition::LowerRight,
        ),
        (
            &right,
            SeriesKind::Domains,
            format!("Domains, each answered after {} ms", r.dns_delay_ms),
            "domains in CSPACE_FIREWALL_DOMAINS",
            SeriesLabelPosition::UpperRight,
        ),
    ];
    for (area, kind, title, xdesc, legend_at) in panels {
        let lines: Vec<(Contender, Vec<(f64, f64)>)> =
            [Contender::FwCli, Contender::Floor, Contender::Reference]
                .into_iter()
                .map(|who| (who, points(r, kind, who)))
                .filter(|(_, p)| !p.is_empty())
                .collect();
        let all: Vec<(f64, f64)> = lines.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        if all.is_empty() {
            continue;
        }
        let fold = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64, init: f64| {
            all.iter().map(pick).fold(init, f)
        };
        let (x0, x1) = (
            fold(f64::min, |p| p.0, f64::INFINITY) / 2.0,
            fold(f64::max, |p| p.0, 0.0) * 2.0,
        );
        let (y0, y1) = (
            fold(f64::min, |p| p.1, f64::INFINITY).max(0.01) / 2.0,
            fold(f64::max, |p| p.1, 0.0) * 2.0,
        );
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(xdesc)
            .y_desc("median wall time (ms)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (who, pts) in lines {
            let c = colour(who);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(who.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .position(legend_at)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes bench.json, bench.md and scaling.svg into `dir`.
pub fn write_outputs(r: &BenchReport, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(r).context("cannot serialise the report")?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
    };
    write("bench.json", &json)?;
    write("bench.md", &to_markdown(r))?;
    draw_chart(r, &dir.join("scaling.svg"))
}

/// The subcommand: runs, prints the table, writes the files. Exit status 0, or an error.
pub fn main(args: &BenchArgs) -> Result<i32> {
    crate::world::netns::available().context("the benchmark needs root and network namespaces")?;
    let removed = crate::world::netns::sweep()?;
    if !removed.is_empty() {
        eprintln!("removed {} sandbox namespaces of dead runs", removed.len());
    }
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let report = run(args, &command_line)?;
    write_outputs(&report, &args.out)?;
    println!("{}", to_markdown(&report));
    eprintln!(
        "wrote {}/bench.json, bench.md and scaling.svg",
        args.out.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests;
