//! Command line: `baton run`, `check-config`, and the commands that talk to a running
//! daemon over its control socket: `status`, `fallback`, `resign`, `lock`, `unlock`,
//! `reconfigure`.

use crate::config::report::{JsonReport, count, summary_line};
use crate::config::{self, LoadError, Loaded, Options};
use crate::control::status::{DaemonStatus, health, render};
use crate::control::{DEFAULT_SOCKET, DEFAULT_STATE_DIR, client, protocol};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Where baton reads its configuration by default.
pub const DEFAULT_CONFIG: &str = "/etc/baton/baton.conf";

/// A VRRP daemon that keeps a virtual IP on one server of a group (keepalived-compatible).
///
/// `baton run` is the daemon; the other commands talk to it over its control socket, except
/// `check-config`, which only reads the configuration. The configuration language is
/// keepalived's, with a few extensions: see baton.conf(5).
#[derive(Debug, Parser)]
#[command(name = "baton", version)]
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
    /// Show each instance: state, priorities, master, VIPs, counters, alarms.
    ///
    /// Exit status (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN (daemon not reachable).
    ///
    /// Among the alarms: a peer whose adverts disagree with this node's configuration
    /// (another VIP list or advert interval: WARNING; another authentication type or
    /// password, or a VRRPv2 interval, whose adverts are discarded: CRITICAL), naming the
    /// peer and both values (never a password); `--json` lists them in `peer_mismatches`.
    /// Only a master advertises, so it shows on the node that hears it. It clears when
    /// an advert of that peer agrees again, or once the peer has been silent for 10
    /// advert intervals (at least 10 s). And, with `vip_probe_interval` (off by default), on a
    /// MASTER, a VIP another host answers for (CRITICAL, with its MAC; `vip_conflicts` in
    /// `--json`): the master sends an ARP probe (IPv6: a DAD neighbour solicitation) for each
    /// VIP 2 s after taking over and every `vip_probe_interval` seconds after that, announces
    /// the VIPs again when another MAC answers, and clears the alarm after a round without
    /// one.
    ///
    /// With `--pair PEER[:PORT]`, this node and its peer side by side: this node over the
    /// control socket, the peer over HTTP (`GET /status` on its `metrics_listen` address,
    /// port 9650 unless given; 2 s to connect, 4 s in all). The exit status is then the
    /// worse of the two nodes' (CRITICAL as well when both are MASTER of one instance),
    /// and 4 when the peer does not answer, whatever the rest; a message names the
    /// address and why.
    #[command(alias = "check-status")]
    Status(Status),
    /// Manual fallback: take the VIP back now, on the preferred node, once its
    /// `fallback_check` passes. Refused with the reason otherwise.
    Fallback(Target),
    /// Hand the VIP over: advertise priority 0, become BACKUP, do not take it back for a while.
    Resign(Resign),
    /// Keep this node from becoming master (maintenance); kept across restarts.
    Lock(Named),
    /// Lift a lock.
    Unlock(Named),
    /// Reload the configuration (as SIGHUP); an invalid one changes nothing.
    Reconfigure(Client),
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
    /// The control socket to listen on.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Where state that survives restarts (locks) is kept.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// The control socket of the daemon to talk to.
#[derive(Debug, Args)]
pub struct Client {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct Status {
    /// Only this instance.
    pub instance: Option<String>,
    /// Print the status as JSON.
    #[arg(long, conflicts_with = "field")]
    pub json: bool,
    /// Print only this value of the instance (named, or the only one), as one plain line,
    /// for scripts: its state, its master's address (an empty line when it hears none: a
    /// master itself, or no master heard), its current priority, why it entered its state,
    /// or its witness lease. Exit 0 when printed.
    #[arg(long, value_enum, value_name = "FIELD", conflicts_with = "pair")]
    pub field: Option<Field>,
    /// Also read the peer's status over HTTP (`GET /status` on its `metrics_listen`
    /// address) and show both nodes side by side; with --json, `{"local": ..., "peer":
    /// ...}`. Exit 4 when the peer does not answer.
    #[arg(long, value_name = "PEER[:PORT]")]
    pub pair: Option<crate::control::pair::PeerAddress>,
    #[command(flatten)]
    pub client: Client,
}

/// One value of an instance that `baton status --field` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Field {
    /// MASTER, BACKUP, FAULT, INIT (or STOP).
    State,
    /// The address of the master this instance hears (empty when none).
    Master,
    /// The instance's current (effective) priority.
    Priority,
    /// Why it entered its state, as a word (`master_down`, `preempted`, `lease_lost`, ...).
    Reason,
    /// The witness lease: `held`, `held_by`, `free`, `unreachable`, `unknown` (empty
    /// without a witness).
    Lease,
}

impl Field {
    /// The value of this field in `instance`, as printed.
    pub fn value(self, instance: &crate::control::status::InstanceStatus) -> String {
        match self {
            Field::State => instance.state.to_string(),
            Field::Master => instance
                .master
                .as_ref()
                .map(|m| m.address.clone())
                .unwrap_or_default(),
            Field::Priority => instance.priority.to_string(),
            Field::Reason => instance.reason_kind.clone(),
            Field::Lease => instance
                .witness
                .as_ref()
                .map(|w| w.lease.to_string())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Args)]
pub struct Target {
    /// The instance (may be left out when there is only one).
    pub instance: Option<String>,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Debug, Args)]
pub struct Resign {
    /// The instance (may be left out when there is only one).
    pub instance: Option<String>,
    /// Seconds during which this node does not take the VIP back by itself (0 to 86400;
    /// to keep it out for longer, use `baton lock`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=protocol::MAX_HOLD_S))]
    pub hold: u64,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Debug, Args)]
pub struct Named {
    /// The instance.
    pub instance: String,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

impl Run {
    pub fn options(&self) -> crate::daemon::Options {
        crate::daemon::Options {
            config: self.file.clone(),
            config_id: self.config_id.clone().or_else(short_hostname),
            socket: self.socket.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

/// How long the CLI waits for the daemon (a fallback runs its check first).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(130);

impl Client {
    fn ask(&self, command: protocol::Command) -> Result<protocol::Reply, client::ClientError> {
        client::request(&self.socket, command, CLIENT_TIMEOUT)
    }

    /// Send an operator command; print what happened. Exit 0 done, 1 refused, 3 unreachable.
    fn operate(&self, command: protocol::Command) -> Outcome {
        match self.ask(command) {
            Err(e) => Outcome::error(3, e.to_string()),
            Ok(reply) if reply.ok => {
                let result = reply.result.unwrap_or_default();
                let text = match (
                    result.get("instance"),
                    result.get("state"),
                    result.get("summary"),
                ) {
                    (Some(i), Some(s), _) => format!(
                        "{}: {}\n",
                        i.as_str().unwrap_or_default(),
                        s.as_str().unwrap_or_default()
                    ),
                    (_, _, Some(summary)) => {
                        format!("reloaded: {}\n", summary.as_str().unwrap_or_default())
                    }
                    _ => format!("{result}\n"),
                };
                Outcome {
                    stdout: text,
                    stderr: String::new(),
                    code: 0,
                }
            }
            Ok(reply) => Outcome::error(1, reply.error.unwrap_or_else(|| "refused".into())),
        }
    }
}

/// How long `status --pair` waits for the local daemon.
const PAIR_LOCAL_TIMEOUT: Duration = Duration::from_secs(10);

impl Status {
    pub fn run(&self) -> Outcome {
        if let Some(peer) = &self.pair {
            return self.pair(peer);
        }
        let command = protocol::Command::Status {
            instance: self.instance.clone(),
        };
        let reply = match self.client.ask(command) {
            Ok(reply) => reply,
            Err(e) => return Outcome::error(3, format!("UNKNOWN: {e}")),
        };
        let Some(value) = reply.result.filter(|_| reply.ok) else {
            return Outcome::error(3, format!("UNKNOWN: {}", reply.error.unwrap_or_default()));
        };
        let status: DaemonStatus = match serde_json::from_value(value.clone()) {
            Ok(status) => status,
            Err(e) => return Outcome::error(3, format!("UNKNOWN: unreadable status: {e}")),
        };
        if let Some(field) = self.field {
            return self.field_value(field, &status);
        }
        let stdout = if self.json {
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            text
        } else {
            render(&status)
        };
        Outcome {
            stdout,
            stderr: String::new(),
            code: health(&status).exit_code(),
        }
    }
}

impl Status {
    /// `--pair`: both nodes, read at once (each bounded in time).
    fn pair(&self, peer: &crate::control::pair::PeerAddress) -> Outcome {
        use crate::control::pair::{Pair, fetch_blocking};
        let (local, peer_status) = std::thread::scope(|scope| {
            let remote = scope.spawn(|| fetch_blocking(peer));
            let local = self.local_status(PAIR_LOCAL_TIMEOUT);
            let remote = remote.join().unwrap_or_else(|_| {
                Err(crate::control::pair::PeerError {
                    address: peer.to_string(),
                    why: "the reading thread failed".into(),
                })
            });
            (local, remote)
        });
        let only = |mut s: DaemonStatus| {
            if let Some(name) = &self.instance {
                s.instances.retain(|i| &i.name == name);
            }
            s
        };
        let pair = Pair {
            local: local.map(only),
            peer: peer_status.map(only),
            peer_address: peer.clone(),
        };
        Outcome {
            stdout: if self.json {
                pair.json()
            } else {
                pair.render()
            },
            stderr: String::new(),
            code: pair.exit_code(),
        }
    }

    /// This node's status over the control socket, or why it could not be read.
    fn local_status(&self, timeout: Duration) -> Result<DaemonStatus, String> {
        let command = protocol::Command::Status {
            instance: self.instance.clone(),
        };
        let reply =
            client::request(&self.client.socket, command, timeout).map_err(|e| e.to_string())?;
        let Some(value) = reply.result.filter(|_| reply.ok) else {
            return Err(reply.error.unwrap_or_default());
        };
        serde_json::from_value(value).map_err(|e| format!("unreadable status: {e}"))
    }

    /// `--field`: the value for the named instance, or the only one; an error otherwise.
    fn field_value(&self, field: Field, status: &DaemonStatus) -> Outcome {
        let found: Vec<_> = status
            .instances
            .iter()
            .filter(|i| self.instance.as_deref().is_none_or(|n| n == i.name))
            .collect();
        match found.as_slice() {
            [one] => Outcome {
                stdout: format!("{}\n", field.value(one)),
                stderr: String::new(),
                code: 0,
            },
            [] => Outcome::error(
                1,
                format!(
                    "no instance named {}",
                    self.instance.as_deref().unwrap_or("?")
                ),
            ),
            many => {
                let names: Vec<&str> = many.iter().map(|i| i.name.as_str()).collect();
                Outcome::error(
                    1,
                    format!("--field needs one instance: name it ({})", names.join(", ")),
                )
            }
        }
    }
}

impl Client {
    pub fn reconfigure(&self) -> Outcome {
        self.operate(protocol::Command::Reconfigure)
    }
}

impl Target {
    pub fn fallback(&self) -> Outcome {
        self.client.operate(protocol::Command::Fallback {
            instance: self.instance.clone(),
        })
    }
}

impl Resign {
    pub fn run(&self) -> Outcome {
        self.client.operate(protocol::Command::Resign {
            instance: self.instance.clone(),
            hold_s: self.hold,
        })
    }
}

impl Named {
    pub fn lock(&self, locked: bool) -> Outcome {
        let instance = self.instance.clone();
        self.client.operate(if locked {
            protocol::Command::Lock { instance }
        } else {
            protocol::Command::Unlock { instance }
        })
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

impl Outcome {
    fn error(code: u8, message: String) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr: format!("{message}\n"),
            code,
        }
    }
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
