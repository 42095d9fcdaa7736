//! fw-cli: the reference devcontainer egress firewall. A thin wrapper over the library.

use std::process::ExitCode;

use clap::Parser;

use fw_cli::cli::{Cli, Command};
use fw_cli::{commands, exit};

fn init_logging(cli: &Cli) {
    let default = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions { shell } => {
            return match fw_cli::cli::completions(*shell, &mut std::io::stdout()) {
                // The reader went away (`| head`): nothing left to do.
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw-cli: cannot write the completions: {e}");
                    ExitCode::from(exit::USAGE as u8)
                }
            };
        }
        Command::Man { dir } => {
            let written = match dir {
                Some(d) => fw_cli::cli::man_pages(d),
                None => fw_cli::cli::man(&mut std::io::stdout()),
            };
            return match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw-cli: cannot write the man page: {e}");
                    ExitCode::from(exit::USAGE as u8)
                }
            };
        }
        _ => {}
    }
    init_logging(&cli);
    let code = match &cli.command {
        Command::Init(a) => commands::init(a),
        Command::Plan(a) => commands::plan(a),
        Command::Verify(a) => commands::verify(a),
        Command::Status(a) => commands::status(a),
        Command::Refresh(a) => commands::refresh(a),
        Command::Completions { .. } | Command::Man { .. } => exit::OK,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(exit::FIREWALL as u8))
}
