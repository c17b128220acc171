//! The `baton` binary: parse the command line, dispatch, exit with the command's status.

use baton::cli::{self, Cli, Command, LogFormat};
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => Ok(run(&args)),
        Command::CheckConfig(args) => print(args.run()),
        Command::Status(args) => print(args.run()),
        Command::Fallback(args) => print(args.fallback()),
        Command::Resign(args) => print(args.run()),
        Command::Lock(args) => print(args.lock(true)),
        Command::Unlock(args) => print(args.lock(false)),
        Command::Reconfigure(client) => print(client.reconfigure()),
    }
}

fn print(outcome: cli::Outcome) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(outcome.stdout.as_bytes())?;
    std::io::stderr().write_all(outcome.stderr.as_bytes())?;
    Ok(ExitCode::from(outcome.code))
}

fn run(args: &cli::Run) -> ExitCode {
    init_logging(args.log_format);
    match baton::daemon::run(args.options()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// netlink-packet-route warns about every kernel attribute newer than itself; not ours to fix.
const DEFAULT_LOG_FILTER: &str = "info,netlink_packet_route=error";

/// Plain lines on stderr (without timestamps under systemd, which adds its own), or JSON.
/// `BATON_LOG` filters by target, e.g. `BATON_LOG=debug` or
/// `BATON_LOG=info,baton::daemon::control=debug`; one that does not parse is reported and
/// the default is used. (A target filter, not `EnvFilter`: that one compiles its directives
/// with the regex engine, which costs the daemon about a megabyte of code and heap.)
fn init_logging(format: LogFormat) {
    let default = || {
        DEFAULT_LOG_FILTER
            .parse::<Targets>()
            .expect("the default filter parses")
    };
    let (filter, refused) = match std::env::var("BATON_LOG") {
        Ok(text) => match text.parse::<Targets>() {
            Ok(filter) => (filter, None),
            Err(e) => (
                default(),
                Some(format!(
                    "BATON_LOG={text:?} is not a log filter ({e}); using {DEFAULT_LOG_FILTER:?}"
                )),
            ),
        },
        Err(_) => (default(), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    match (format, under_systemd) {
        (LogFormat::Json, _) => builder.json().finish().with(filter).init(),
        (LogFormat::Plain, true) => builder.without_time().finish().with(filter).init(),
        (LogFormat::Plain, false) => builder.finish().with(filter).init(),
    }
    if let Some(refused) = refused {
        tracing::warn!("{refused}");
    }
}
