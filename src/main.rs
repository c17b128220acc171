//! The `baton` binary: parse the command line, dispatch, exit with the command's status.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::io::Write;
use std::process::ExitCode;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::CheckConfig(args) => args.run(),
    };
    std::io::stdout().write_all(outcome.stdout.as_bytes())?;
    std::io::stderr().write_all(outcome.stderr.as_bytes())?;
    Ok(ExitCode::from(outcome.code))
}
