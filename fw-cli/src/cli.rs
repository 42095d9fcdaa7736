//! The command line: clap definitions, with examples in `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use fw_core::config::keys::{KEYS, Kind, Spec};
use fw_core::config::{Overrides, Profile};

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the firewall could not be built or applied (safe closed ruleset in place, no marker)
  2  usage or configuration error, missing privileges or a missing tool
  3  verification failed (safe closed ruleset in place, no marker)
  4  another fw-cli run held the lock too long (nothing changed)";

const EXAMPLES: &str = "\
Examples:
  sudo fw-cli init                      apply, verify, write the marker (at container start)
  fw-cli plan --rules                   what init would apply here, without applying it
  fw-cli plan --json --meta-file meta.json --resolve-file names.json --subnets eth0=172.18.0.2/16
  sudo fw-cli verify                    run the proofs against the current firewall
  fw-cli status --json                  is our firewall in effect?
  sudo fw-cli refresh --every 15m       re-resolve names and re-fetch meta, swap the sets";

/// The version with the git revision it was built from (build.rs; "unknown" outside a checkout).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("FW_GIT_REV"), ")");

/// The reference egress firewall for development containers.
#[derive(Debug, Parser)]
#[command(name = "fw-cli", version = VERSION, about, after_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"))]
pub struct Cli {
    /// More logging (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather inputs, apply the firewall atomically, verify it with proofs, write the marker.
    ///
    /// Runs as root with CAP_NET_ADMIN (and CAP_NET_RAW). On any failure the safe closed
    /// ruleset is applied (loopback, established flows, DNS to the configured resolvers and
    /// the Docker networks; nothing else) unless --fail-open is given.
    #[command(after_help = format!("{EXIT_CODES}"))]
    Init(InitArgs),
    /// Gather inputs and print the plan (and with --rules the exact texts init would apply).
    /// Needs no privileges; works offline from files.
    Plan(PlanArgs),
    /// Run the verification proofs against the firewall in place.
    Verify(VerifyArgs),
    /// Tell whether our firewall is in effect: policies, sets, marker.
    Status(StatusArgs),
    /// Re-resolve names and re-fetch meta, then swap the sets atomically (rules untouched).
    Refresh(RefreshArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example: `fw-cli completions bash > /etc/bash_completion.d/fw-cli`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or with --dir write one page per subcommand.
    ///
    /// For example: `fw-cli man --dir /usr/local/share/man/man1` (fw-cli.1, fw-cli-init.1, ...).
    Man {
        /// Write fw-cli.1 and a page per subcommand into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Writes the completion script for `shell` to `out`. Generated in memory first: clap_complete
/// panics on a failed write (a closed pipe), this returns the error.
pub fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "fw-cli",
        &mut buf,
    );
    out.write_all(&buf)?;
    out.flush()
}

/// Writes the man page to `out`.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(out)
}

/// Writes the man page and one per subcommand (`fw-cli-init.1`...) into `dir`.
pub fn man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir)
}

/// Where the configuration comes from, and overrides of it: `--config`, then one flag per key
/// of fw-core's table (`fw_core::config::KEYS`) that fw-cli offers, with the table's name,
/// placeholder and help. The values stay raw: fw-core checks them like every other source's.
#[derive(Debug, Clone, Default)]
pub struct ConfigArgs {
    /// The .cspace.json to read (default: ./.cspace.json when present).
    pub config: Option<PathBuf>,
    /// The keys' flags given.
    pub overrides: Overrides,
}

impl ConfigArgs {
    /// The id of `--config`.
    const CONFIG: &'static str = "config";

    /// The keys fw-cli offers flags for, in the table's order.
    fn keys() -> impl Iterator<Item = &'static Spec> {
        KEYS.iter().filter(|s| s.flag.cli)
    }

    /// A flag's id: its name without the dashes.
    fn id(long: &'static str) -> &'static str {
        long.trim_start_matches('-')
    }

    /// The clap arguments of one key: its flag (and for a boolean its `off` flag).
    fn key_args(spec: &Spec) -> Vec<Arg> {
        let f = &spec.flag;
        let arg = Arg::new(Self::id(f.long))
            .long(Self::id(f.long))
            .help(f.help);
        let arg = match spec.kind {
            Kind::Bool => {
                let mut args = vec![arg.action(ArgAction::SetTrue)];
                if let Some(off) = f.off {
                    args.push(
                        Arg::new(Self::id(off))
                            .long(Self::id(off))
                            .action(ArgAction::SetTrue)
                            .conflicts_with(Self::id(f.long)),
                    );
                }
                return args;
            }
            Kind::Profile => {
                arg.value_parser(PossibleValuesParser::new(Profile::ALL.map(Profile::as_str)))
            }
            Kind::FilePath => arg.value_parser(clap::value_parser!(PathBuf)),
            _ => arg,
        };
        let action = if spec.kind.is_list() {
            ArgAction::Append
        } else {
            ArgAction::Set
        };
        vec![arg.value_name(f.value_name).action(action)]
    }
}

impl Args for ConfigArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let config = Arg::new(Self::CONFIG)
            .long(Self::CONFIG)
            .value_name("PATH")
            .value_parser(clap::value_parser!(PathBuf))
            .action(ArgAction::Set)
            .help("The .cspace.json to read (default: ./.cspace.json when present)");
        cmd.arg(config).args(Self::keys().flat_map(Self::key_args))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ConfigArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(path) = matches.get_one::<PathBuf>(Self::CONFIG) {
            self.config = Some(path.clone());
        }
        for spec in Self::keys() {
            let id = Self::id(spec.flag.long);
            match spec.kind {
                Kind::Bool => {
                    if matches.get_flag(id) {
                        self.overrides.set(spec.key, ["true"]);
                    }
                    if let Some(off) = spec.flag.off
                        && matches.get_flag(Self::id(off))
                    {
                        self.overrides.set(spec.key, ["false"]);
                    }
                }
                Kind::FilePath => {
                    if let Some(path) = matches.get_one::<PathBuf>(id) {
                        self.overrides.set(spec.key, [path.clone()]);
                    }
                }
                _ => {
                    if let Some(values) = matches.get_many::<String>(id) {
                        self.overrides.set(spec.key, values.cloned());
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// On failure, leave the rules as they are instead of closing (not recommended).
    #[arg(long)]
    pub fail_open: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The lock file (default /run/fw-cli.lock).
    #[arg(long, value_name = "PATH")]
    pub lock_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the exact iptables-restore, ip6tables-restore and ipset restore texts.
    #[arg(long)]
    pub rules: bool,
    /// Print the safe closed ruleset instead of the firewall.
    #[arg(long)]
    pub safe_closed: bool,
    /// Read the GitHub meta response from a file instead of fetching it.
    #[arg(long, value_name = "PATH")]
    pub meta_file: Option<PathBuf>,
    /// Read resolved names from a JSON file (`[{"domain": "...", "addrs": ["..."]}]` or
    /// `{"name": ["addr", ...]}`) instead of resolving.
    #[arg(long, value_name = "PATH")]
    pub resolve_file: Option<PathBuf>,
    /// Connected subnets, `eth0=172.18.0.2/16,eth1=...`, instead of asking netlink.
    #[arg(long, value_name = "LIST")]
    pub subnets: Option<String>,
    /// A resolv.conf to read instead of /etc/resolv.conf.
    #[arg(long, value_name = "PATH")]
    pub resolv_conf: Option<PathBuf>,
    /// `iptables-save -t nat` output to take Docker's DNS rules from, instead of the system.
    #[arg(long, value_name = "PATH")]
    pub docker_nat_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Keep refreshing at this interval (e.g. 15m, 1h) instead of once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    #[arg(long)]
    pub json: bool,
    /// The lock file (default /run/fw-cli.lock).
    #[arg(long, value_name = "PATH")]
    pub lock_file: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}"))?;
    if d < Duration::from_secs(10) {
        return Err(format!(
            "{s:?} is shorter than the 10s minimum between refreshes"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_revision() {
        let v = Cli::command().render_version();
        assert!(
            v.starts_with(&format!("fw-cli {} (", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        assert!(v.trim_end().ends_with(')'), "{v}");
    }

    #[test]
    fn completions_and_man_page_name_every_subcommand() {
        let mut bash = Vec::new();
        completions(clap_complete::Shell::Bash, &mut bash).expect("writing to a Vec");
        let bash = String::from_utf8_lossy(&bash);
        let mut page = Vec::new();
        man(&mut page).unwrap_or_else(|e| panic!("{e}"));
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.starts_with(".ie"),
            "not roff: {}",
            &page[..page.len().min(80)]
        );
        assert!(page.contains(".TH fw-cli 1"), "{page}");
        for sub in ["init", "plan", "verify", "status", "refresh", "completions"] {
            assert!(
                bash.contains(sub),
                "{sub} missing from the bash completions"
            );
            // The SUBCOMMANDS entry (the examples text names most subcommands anyway).
            assert!(
                page.contains(&format!("fw\\-cli\\-{sub}(1)")),
                "{sub} missing from the man page's subcommands"
            );
        }
        assert!(bash.contains("--fail-open"));
    }

    #[test]
    fn man_pages_cover_every_subcommand() {
        let dir = std::env::temp_dir().join(format!("fw-cli-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        man_pages(&dir).unwrap_or_else(|e| panic!("{e}"));
        for page in [
            "fw-cli.1",
            "fw-cli-init.1",
            "fw-cli-refresh.1",
            "fw-cli-man.1",
        ] {
            let text = std::fs::read_to_string(dir.join(page)).unwrap_or_default();
            assert!(text.contains(".TH"), "{page} is missing or not roff");
        }
        let init = std::fs::read_to_string(dir.join("fw-cli-init.1")).unwrap_or_default();
        assert!(
            init.contains("fail\\-open"),
            "init's page lacks its options"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The configuration flags are the table's: each key fw-cli offers parses into its raw
    /// value, and the others are not flags of fw-cli.
    #[test]
    fn config_flags_come_from_the_key_table() {
        use fw_core::config::Key;
        let cli = Cli::try_parse_from([
            "fw-cli",
            "plan",
            "--config",
            "/c.json",
            "--profile",
            "compat",
            "--domain",
            "a.example.com",
            "--domain",
            "b.example.com",
            "--cidr",
            "192.0.2.0/24",
            "--marker",
            "/run/m",
            "--meta-url",
            "https://meta.example.test/",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Plan(plan) = cli.command else {
            panic!("not plan");
        };
        assert_eq!(plan.config.config, Some(PathBuf::from("/c.json")));
        let want = Overrides::default()
            .with(Key::Profile, ["compat"])
            .with(Key::Domains, ["a.example.com", "b.example.com"])
            .with(Key::Cidrs, ["192.0.2.0/24"])
            .with(Key::Marker, ["/run/m"])
            .with(Key::MetaUrl, ["https://meta.example.test/"]);
        assert_eq!(plan.config.overrides, want);
        let help = Cli::command()
            .find_subcommand_mut("init")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        for spec in &KEYS {
            let offered = help.contains(&format!("{} ", spec.flag.long));
            assert_eq!(offered, spec.flag.cli, "{} in init's help", spec.flag.long);
            if spec.flag.cli {
                assert!(help.contains(spec.flag.help), "{}'s help", spec.flag.long);
            }
        }
        assert!(Cli::try_parse_from(["fw-cli", "plan", "--profile", "lax"]).is_err());
    }

    #[test]
    fn durations_are_checked() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
