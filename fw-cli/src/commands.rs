//! The subcommands: each returns the process exit status (see [`crate::exit`]).
//! Logs and warnings go to stderr; results go to stdout (JSON with `--json`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::json;
use tracing::{error, info, warn};

use fw_core::apply::{self, Backend};
use fw_core::config::{self, Config, Profile};
use fw_core::exec::{Command as Cmd, Tools};
use fw_core::inputs::Inputs;
use fw_core::marker::{self, Place};
use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6};
use fw_core::plan::{Plan, SafeClosed};
use fw_core::render::{self, Ruleset};
use fw_core::restore::{parse_ipset, parse_iptables};
use fw_core::world::World;

use crate::cli::{ConfigArgs, InitArgs, PlanArgs, RefreshArgs, StatusArgs, VerifyArgs};
use crate::gather::{Gatherer, Purpose, Sources};
use crate::init::{self, AfterFailure, InitOptions};
use crate::system::env::SystemEnv;
use crate::system::subnets;
use crate::system::tools::SystemTools;
use crate::system::world::{RESOLV_CONF, RealWorld, read_resolvers};
use crate::{exit, lock, system};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One thread: the whole run stays in the network namespace fw-cli was started in.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Loads the configuration from its sources (defaults, .cspace.json, the environment, flags).
pub fn load_config(args: &ConfigArgs) -> Result<Config> {
    // The workspace is the current directory: a devcontainer's postStartCommand runs there.
    let opts = config::LoadOptions {
        cspace_json: args.config.clone(),
        workspace_dir: std::env::current_dir().ok(),
        overrides: args.overrides.clone(),
    };
    let loaded = config::load(&SystemEnv, &opts)?;
    for w in &loaded.warnings {
        warn!("{w}");
    }
    Ok(loaded.config)
}

/// Refuses early when init cannot work: not root, or no CAP_NET_ADMIN.
fn check_privileges() -> Result<()> {
    // The capability is what matters (a root without CAP_NET_ADMIN cannot apply anything);
    // caps reads this thread's effective set.
    use caps::{CapSet, Capability};
    let admin = caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_ADMIN)
        .context("cannot read this process's capabilities")?;
    if !admin {
        bail!(
            "CAP_NET_ADMIN is missing: run as root in a container started with --cap-add=NET_ADMIN --cap-add=NET_RAW"
        );
    }
    Ok(())
}

/// Applies the safe closed ruleset with whatever can still be learnt (used when init cannot
/// even start, e.g. on an invalid configuration), so that a broken start is never an open one.
fn close_anyway(tools: &dyn Tools) -> AfterFailure {
    let resolvers = read_resolvers(Path::new(RESOLV_CONF)).unwrap_or_default();
    let subnets = runtime()
        .ok()
        .and_then(|rt| rt.block_on(subnets::connected_subnets()).ok())
        .unwrap_or_default();
    let ruleset = render::render_safe_closed(&SafeClosed::new(&subnets, &resolvers));
    match apply::apply_safe_closed(tools, Backend::Default, &ruleset) {
        Ok(()) => AfterFailure::SafeClosed,
        Err(errors) => AfterFailure::CloseFailed(errors.iter().map(ToString::to_string).collect()),
    }
}

fn describe_after(after: &AfterFailure) -> String {
    match after {
        AfterFailure::SafeClosed => "the safe closed ruleset is in place (loopback, established flows, DNS, Docker networks)".to_owned(),
        AfterFailure::LeftAsIs => "--fail-open: the rules were left as they were".to_owned(),
        AfterFailure::CloseFailed(e) => format!("closing failed too: {}", e.join("; ")),
    }
}

fn print_json(v: &impl Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => error!("cannot print JSON: {e}"),
    }
}

/// `fw-cli init`.
pub fn init(args: &InitArgs) -> i32 {
    if let Err(e) = check_privileges() {
        error!("fw-cli init: {e:#}");
        return exit::USAGE;
    }
    let entered = std::time::Instant::now();
    let tools = SystemTools::default();
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("fw-cli init: configuration: {e:#}");
            if !args.fail_open {
                error!("fw-cli init: {}", describe_after(&close_anyway(&tools)));
            }
            return exit::USAGE;
        }
    };
    if !config.enabled {
        if let Err(e) = system::marker::remove(&config.marker_path) {
            warn!("{e}");
        }
        info!(
            "the firewall is disabled by .cspace.json (firewall.enabled: false): nothing applied"
        );
        if args.json {
            print_json(&json!({"result": "disabled"}));
        }
        return exit::OK;
    }
    let lock_path = args.lock_file.clone().unwrap_or_else(lock::default_path);
    let _lock = match lock::acquire(&lock_path, config.timeouts.lock) {
        Ok(l) => l,
        Err(e) => {
            error!("fw-cli init: {e}");
            return exit::LOCK;
        }
    };
    let opts = InitOptions {
        fail_open: args.fail_open,
        backend: Backend::Default,
        version: VERSION.to_owned(),
    };
    let mut prepared = std::time::Duration::ZERO;
    let outcome = runtime().and_then(|rt| {
        let world = RealWorld::new(&config)?;
        prepared = entered.elapsed();
        Ok(rt.block_on(init::init(&config, &world, &tools, &opts)))
    });
    match outcome {
        Ok(Ok(mut s)) => {
            // Configuration, lock, HTTPS clients; and the whole command up to its report.
            s.timings.insert(0, ("prepare".to_owned(), prepared));
            s.timings.push(("total".to_owned(), entered.elapsed()));
            for w in &s.warnings {
                warn!("{w}");
            }
            if args.json {
                print_json(&json!({
                    "result": "ok",
                    "marker": s.marker,
                    "stats": s.plan.stats,
                    "proof": s.proof,
                    "warnings": s.warnings,
                    "timings_ms": s.timings.iter().map(|(k, d)| (k.clone(), (d.as_secs_f64() * 10_000.0).round() / 10.0)).collect::<std::collections::BTreeMap<_, _>>(),
                }));
            } else {
                println!(
                    "fw-cli init: firewall applied and verified ({} IPv4 and {} IPv6 set entries, profile {:?}); {}; marker {}",
                    s.plan.stats.set_entries_v4,
                    s.plan.stats.set_entries_v6,
                    s.plan.profile,
                    s.proof,
                    config.marker_path.display()
                );
            }
            exit::OK
        }
        Ok(Err(f)) => {
            for w in &f.warnings {
                warn!("{w}");
            }
            error!("fw-cli init: {}: {}", f.error.step(), f.error);
            error!("fw-cli init: {}", describe_after(&f.after));
            if args.json {
                print_json(&json!({
                    "result": "failed",
                    "step": f.error.step(),
                    "error": f.error.to_string(),
                    "after": f.after,
                    "warnings": f.warnings,
                }));
            }
            f.error.exit_code()
        }
        Err(e) => {
            error!("fw-cli init: {e:#}");
            if !args.fail_open {
                error!("fw-cli init: {}", describe_after(&close_anyway(&tools)));
            }
            exit::FIREWALL
        }
    }
}

/// Gathers the plan's inputs as init would, from the files given instead of the system where
/// given, and changes nothing; the warnings are logged.
async fn gather_for_plan(args: &PlanArgs, config: &Config) -> Result<Inputs> {
    let tools = SystemTools::default();
    let mut world = RealWorld::offline(config);
    if let Some(p) = &args.resolv_conf {
        world.resolv_conf = p.clone();
    }
    let mut g = Gatherer::new(config, &world, &tools, Backend::Default, Purpose::Plan);
    g.sources = Sources {
        resolv_conf: args.resolv_conf.clone(),
        subnets: args.subnets.clone(),
        docker_nat_file: args.docker_nat_file.clone(),
        resolve_file: args.resolve_file.clone(),
        meta_file: args.meta_file.clone(),
    };
    let gathered = g.gather().await;
    for w in &g.warnings {
        warn!("{w}");
    }
    gathered.map_err(|e| e.cause)
}

fn print_rules(r: &Ruleset) {
    println!("### iptables-restore\n{}", r.iptables);
    println!("### ip6tables-restore\n{}", r.ip6tables);
    println!("### ipset restore\n{}", r.ipset);
}

/// `fw-cli plan`.
pub fn plan(args: &PlanArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("fw-cli plan: configuration: {e:#}");
            return exit::USAGE;
        }
    };
    let inputs = match runtime().and_then(|rt| rt.block_on(gather_for_plan(args, &config))) {
        Ok(i) => i,
        Err(e) => {
            // Plan applies nothing: whatever stopped it is an input or usage problem.
            error!("fw-cli plan: {e:#}");
            return exit::USAGE;
        }
    };
    if args.safe_closed {
        let sc = SafeClosed::new(&inputs.subnets, &inputs.resolvers);
        if args.json {
            print_json(&sc);
        }
        print_rules(&render::render_safe_closed(&sc));
        return exit::OK;
    }
    let plan = Plan::build(&config, &inputs);
    for w in &plan.warnings {
        warn!("{w}");
    }
    if args.json {
        if args.rules {
            print_json(&json!({"plan": plan, "rules": render::render(&plan)}));
        } else {
            print_json(&plan);
        }
        return exit::OK;
    }
    println!("profile: {:?}", plan.profile);
    println!(
        "allowlist: {} IPv4 and {} IPv6 set entries (from {} meta ranges, {} addresses of {} domains, {} configured CIDRs; {} domains failed)",
        plan.stats.set_entries_v4,
        plan.stats.set_entries_v6,
        plan.stats.meta_ranges,
        plan.stats.resolved_addresses,
        plan.stats.domains_resolved,
        plan.stats.configured_cidrs,
        plan.stats.domains_failed
    );
    let nets: Vec<String> = plan
        .local
        .v4
        .iter()
        .map(ToString::to_string)
        .chain(plan.local.v6.iter().map(ToString::to_string))
        .collect();
    println!(
        "docker networks: {}",
        if nets.is_empty() {
            "none".to_owned()
        } else {
            nets.join(", ")
        }
    );
    let dns: Vec<String> = plan
        .dns_v4
        .iter()
        .map(ToString::to_string)
        .chain(plan.dns_v6.iter().map(ToString::to_string))
        .collect();
    match plan.profile {
        Profile::Strict => println!(
            "dns: loopback{}",
            dns.iter().map(|d| format!(", {d}")).collect::<String>()
        ),
        Profile::Compat => println!("dns: any resolver (compat)"),
    }
    println!("docker dns rules kept: {}", plan.docker_dns.rules.len());
    if args.rules {
        print_rules(&render::render(&plan));
    }
    exit::OK
}

/// `fw-cli verify`.
pub fn verify(args: &VerifyArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("fw-cli verify: configuration: {e:#}");
            return exit::USAGE;
        }
    };
    let result = runtime().and_then(|rt| {
        let world = RealWorld::new(&config)?;
        rt.block_on(world.verify(&config.verify))
            .map_err(anyhow::Error::from_boxed)
    });
    match result {
        Ok(proof) => {
            if args.json {
                print_json(&json!({"result": "pass", "proof": proof}));
            } else {
                println!("fw-cli verify: pass: {proof}");
            }
            exit::OK
        }
        Err(e) => {
            if args.json {
                print_json(&json!({"result": "fail", "error": format!("{e:#}")}));
            }
            error!("fw-cli verify: fail: {e:#}");
            exit::VERIFY
        }
    }
}

/// What `fw-cli status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    pub in_effect: bool,
    pub policies_v4: Vec<(String, String)>,
    pub policies_v6: Vec<(String, String)>,
    pub our_rules_v4: usize,
    pub our_rules_v6: usize,
    pub set_entries_v4: Option<usize>,
    pub set_entries_v6: Option<usize>,
    pub marker: Option<marker::Marker>,
    pub marker_valid: bool,
    pub problems: Vec<String>,
}

fn filter_state(
    tools: &dyn Tools,
    v6: bool,
    problems: &mut Vec<String>,
) -> (Vec<(String, String)>, usize) {
    let program = Backend::Default.program(v6, "save");
    let text = match tools.run(&Cmd::new(&program, ["-t", "filter"])) {
        Ok(o) => o.stdout,
        Err(e) => {
            problems.push(format!("{e}"));
            return (Vec::new(), 0);
        }
    };
    let parsed = match parse_iptables(&text) {
        Ok(p) => p,
        Err(e) => {
            problems.push(format!("{program}: {e}"));
            return (Vec::new(), 0);
        }
    };
    let Some(filter) = parsed.table("filter") else {
        problems.push(format!("{program}: no filter table"));
        return (Vec::new(), 0);
    };
    let policies: Vec<(String, String)> = filter
        .chains
        .iter()
        .filter_map(|c| c.policy.clone().map(|p| (c.name.clone(), p)))
        .collect();
    for (chain, policy) in &policies {
        if policy != "DROP" {
            problems.push(format!("{program}: {chain} policy is {policy}, not DROP"));
        }
    }
    let ours = filter
        .rules
        .iter()
        .filter(|r| {
            r.comment()
                .is_some_and(|c| c.starts_with(fw_core::names::COMMENT_PREFIX))
        })
        .count();
    if ours == 0 {
        problems.push(format!("{program}: no rule of ours in the filter table"));
    } else if ours != filter.rules.len() {
        problems.push(format!(
            "{program}: {} foreign rules in the filter table",
            filter.rules.len() - ours
        ));
    }
    (policies, ours)
}

/// Gathers the status (needs the privileges to read the tables).
pub fn gather_status(tools: &dyn Tools, marker_path: &Path, place: Option<&Place>) -> Status {
    let mut problems = Vec::new();
    let (policies_v4, our_rules_v4) = filter_state(tools, false, &mut problems);
    let (policies_v6, our_rules_v6) = filter_state(tools, true, &mut problems);
    let sets = tools
        .run(&Cmd::new("ipset", ["save"]))
        .ok()
        .and_then(|o| parse_ipset(&o.stdout).ok());
    let count = |name: &str| {
        sets.as_ref()
            .and_then(|s| s.set(name).map(|_| s.members_of(name).len()))
    };
    let (set_entries_v4, set_entries_v6) = (count(SET_ALLOW_V4), count(SET_ALLOW_V6));
    if set_entries_v4.is_none() || set_entries_v6.is_none() {
        problems.push("the allowlist sets are missing".to_owned());
    }
    let marker = match system::marker::read(marker_path) {
        Ok(m) => m,
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let marker_valid = match (&marker, place) {
        (Some(m), Some(p)) => m.is_for(p),
        _ => false,
    };
    if marker.is_none() {
        problems.push(format!("no marker at {}", marker_path.display()));
    } else if !marker_valid {
        problems.push("the marker is from another boot or network namespace".to_owned());
    }
    Status {
        in_effect: problems.is_empty(),
        policies_v4,
        policies_v6,
        our_rules_v4,
        our_rules_v6,
        set_entries_v4,
        set_entries_v6,
        marker,
        marker_valid,
        problems,
    }
}

/// `fw-cli status`: exit 0 when our firewall is in effect with a valid marker, 1 otherwise.
pub fn status(args: &StatusArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("fw-cli status: configuration: {e:#}");
            return exit::USAGE;
        }
    };
    let place = system::marker::current_place().ok();
    let st = gather_status(&SystemTools::default(), &config.marker_path, place.as_ref());
    if args.json {
        print_json(&st);
    } else if st.in_effect {
        println!(
            "fw-cli status: in effect ({} + {} rules of ours, {} + {} set entries, marker valid)",
            st.our_rules_v4,
            st.our_rules_v6,
            st.set_entries_v4.unwrap_or(0),
            st.set_entries_v6.unwrap_or(0)
        );
    } else {
        println!("fw-cli status: NOT in effect");
        for p in &st.problems {
            println!("  - {p}");
        }
    }
    if st.in_effect {
        exit::OK
    } else {
        exit::FIREWALL
    }
}

/// One refresh: re-resolve, re-fetch, swap the sets. Rules are not touched.
async fn refresh_once(config: &Config, world: &RealWorld, tools: &dyn Tools) -> Result<Plan> {
    let list = tools.run(&Cmd::new("ipset", ["list", "-n"]))?;
    let live: Vec<&str> = list.stdout.lines().map(str::trim).collect();
    if !(live.contains(&SET_ALLOW_V4) && live.contains(&SET_ALLOW_V6)) {
        bail!("no firewall of ours is in effect (the allowlist sets are missing): run fw-cli init");
    }
    // A required domain that does not resolve now would drop out of the sets: the refresh
    // fails instead, and the previous allowlist stays.
    let inputs = Gatherer::new(config, world, tools, Backend::Default, Purpose::Refresh)
        .gather()
        .await
        .map_err(|e| e.cause)?;
    let plan = Plan::build(config, &inputs);
    let ruleset = render::render(&plan);
    apply::apply_sets(tools, &ruleset)?;
    Ok(plan)
}

/// `fw-cli refresh`.
pub fn refresh(args: &RefreshArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("fw-cli refresh: configuration: {e:#}");
            return exit::USAGE;
        }
    };
    if let Err(e) = check_privileges() {
        error!("fw-cli refresh: {e:#}");
        return exit::USAGE;
    }
    let tools = SystemTools::default();
    let lock_path = args.lock_file.clone().unwrap_or_else(lock::default_path);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            error!("fw-cli refresh: {e:#}");
            return exit::FIREWALL;
        }
    };
    let world = match RealWorld::new(&config) {
        Ok(w) => w,
        Err(e) => {
            error!("fw-cli refresh: {e:#}");
            return exit::FIREWALL;
        }
    };
    loop {
        let code = match lock::acquire(&lock_path, config.timeouts.lock) {
            Err(e) => {
                error!("fw-cli refresh: {e}");
                exit::LOCK
            }
            Ok(_lock) => match rt.block_on(refresh_once(&config, &world, &tools)) {
                Ok(plan) => {
                    for w in &plan.warnings {
                        warn!("{w}");
                    }
                    if args.json {
                        print_json(&json!({"result": "ok", "stats": plan.stats}));
                    } else {
                        println!(
                            "fw-cli refresh: sets swapped ({} IPv4 and {} IPv6 entries)",
                            plan.stats.set_entries_v4, plan.stats.set_entries_v6
                        );
                    }
                    exit::OK
                }
                Err(e) => {
                    // The previous sets stay live: a failed refresh never weakens the firewall.
                    error!("fw-cli refresh: {e:#}; the previous allowlist stays in effect");
                    exit::FIREWALL
                }
            },
        };
        match args.every {
            None => return code,
            Some(every) => std::thread::sleep(every.max(Duration::from_secs(10))),
        }
    }
}
