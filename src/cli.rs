//! Command line: `baton run`, `baton check-config`.

use baton::config::report::{JsonReport, count, summary_line};
use baton::config::{self, LoadError, Loaded, Options};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Where baton reads its configuration by default.
pub const DEFAULT_CONFIG: &str = "/etc/baton/baton.conf";

/// baton: a VRRP daemon that keeps a virtual IP on one server of a group.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (systemd runs it this way).
    ///
    /// Stops gracefully on SIGTERM/SIGINT (priority-0 advert, VIPs removed); reloads the
    /// configuration on SIGHUP (an invalid one changes nothing).
    Run(Run),
    /// Parse and validate the configuration; print one line per instance when it is valid.
    ///
    /// Exit status: 0 valid (warnings allowed), 1 invalid, 2 file unreadable.
    CheckConfig(CheckConfig),
}

#[derive(Debug, Args)]
pub struct Run {
    /// The configuration file (keepalived.conf syntax).
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub file: PathBuf,
    /// The config id that `@ID` lines are compared with (default: the short host name).
    #[arg(short = 'i', long, value_name = "ID")]
    pub config_id: Option<String>,
    /// Log format: plain lines (journald-friendly) or JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

impl Run {
    pub fn options(&self) -> baton::daemon::Options {
        baton::daemon::Options {
            config: self.file.clone(),
            config_id: self.config_id.clone().or_else(short_hostname),
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckConfig {
    /// The configuration file (keepalived.conf syntax).
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub file: PathBuf,
    /// Print a JSON report on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// The config id that `@ID` lines are compared with (default: the short host name,
    /// like keepalived's -i).
    #[arg(short = 'i', long, value_name = "ID")]
    pub config_id: Option<String>,
}

/// What a command prints and its exit status.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl CheckConfig {
    pub fn run(&self) -> Outcome {
        let options = Options {
            config_id: self.config_id.clone().or_else(short_hostname),
        };
        match config::load_with(&self.file, &options) {
            Ok(mut loaded) => {
                if self.strict {
                    loaded.make_strict();
                }
                self.loaded(&loaded)
            }
            Err(e) => self.unreadable(&e),
        }
    }

    fn loaded(&self, loaded: &Loaded) -> Outcome {
        let code = if loaded.is_valid() { 0 } else { 1 };
        if self.json {
            return Outcome {
                stdout: json(&JsonReport::from_loaded(loaded)),
                stderr: String::new(),
                code,
            };
        }
        let path = self.file.display();
        let mut stderr = loaded.render();
        let errors = loaded.errors().count();
        let warnings = loaded.warnings().count();
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        let mut stdout = String::new();
        match &loaded.model {
            None => stderr.push_str(&format!(
                "error: {path} is invalid: {}, {}\n",
                count(errors, "error"),
                count(warnings, "warning")
            )),
            Some(model) => {
                for instance in &model.instances {
                    stdout.push_str(&summary_line(instance));
                    stdout.push('\n');
                }
                if model.instances.is_empty() {
                    stderr.push_str(&format!("warning: {path} defines no vrrp_instance\n"));
                } else if warnings > 0 {
                    stderr.push_str(&format!(
                        "warning: {path} is valid with {}\n",
                        count(warnings, "warning")
                    ));
                }
            }
        }
        Outcome {
            stdout,
            stderr,
            code,
        }
    }

    fn unreadable(&self, e: &LoadError) -> Outcome {
        let message = e.to_string();
        if self.json {
            let path = self.file.display().to_string();
            return Outcome {
                stdout: json(&JsonReport::unreadable(&path, message)),
                stderr: String::new(),
                code: 2,
            };
        }
        Outcome {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            code: 2,
        }
    }
}

fn json(report: &JsonReport) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        format!("{{\"valid\": false, \"errors\": [{{\"message\": \"{e}\"}}]}}")
    });
    s.push('\n');
    s
}

/// The host name up to the first dot, as keepalived uses for its default config id.
fn short_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let short = name.trim().split('.').next()?.to_string();
    (!short.is_empty()).then_some(short)
}
