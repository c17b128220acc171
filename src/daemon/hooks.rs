//! Notify hooks: for every state change of an instance or sync group, its scripts run one
//! at a time, in transition order, never two at once for the same instance or group. Each
//! queue is a task on the script thread ([`super::runner`]) that works through its jobs; a
//! hook that outlives `notify_timeout` is killed with its process group and the next one
//! still runs. Every outcome goes back to the event loop for `baton status`.
//!
//! Also the `notify_fifo` / `vrrp_notify_fifo` writer (keepalived's line format).

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Internal;
use super::host::Launch;
use super::process::{self, Outcome, Spec};
use super::runner::{Runner, Task};
use crate::config::{self, Hook, Notify};
use crate::vrrp::State;

/// What kind of thing changed state, as keepalived names it in hook arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Instance,
    Group,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "INSTANCE",
            Kind::Group => "GROUP",
        }
    }
}

/// One state change to notify.
#[derive(Clone, Debug)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: &'static str,
    pub previous: &'static str,
    pub priority: u8,
    pub interface: String,
    pub vrid: Option<u8>,
    pub vips: Vec<String>,
    pub reason: String,
}

impl Change {
    /// The priority in keepalived's arguments and FIFO line: the instance's, and 0 for a
    /// sync group (keepalived's vrrp_notify.c: "the prio will be indicated as zero for a
    /// group"). `BATON_PRIORITY` keeps the group's highest member priority.
    pub fn keepalived_priority(&self) -> u8 {
        match self.kind {
            Kind::Instance => self.priority,
            Kind::Group => 0,
        }
    }
}

/// The word hooks get for a state: STOP for a shutdown, None for states not notified.
pub fn state_word(to: State, shutdown: bool) -> Option<&'static str> {
    match to {
        State::Master => Some("MASTER"),
        State::Backup => Some("BACKUP"),
        State::Fault => Some("FAULT"),
        State::Initialize if shutdown => Some("STOP"),
        State::Initialize => None,
    }
}

/// The word for the state a change came from.
pub fn previous_word(from: State) -> &'static str {
    match from {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "INIT",
    }
}

/// Settings every hook shares.
#[derive(Clone, Debug)]
pub struct Settings {
    pub timeout: std::time::Duration,
    pub secure: bool,
    pub script_user: Option<config::RunAs>,
    /// The control socket, passed to hooks as `BATON_SOCKET`.
    pub socket: PathBuf,
}

impl Settings {
    /// The uid of `script_user`, whose files root may also use.
    pub fn script_uid(&self) -> Option<u32> {
        let user = self.script_user.as_ref()?;
        crate::sys::user_ids(&user.user).map(|(uid, _)| uid)
    }

    pub fn of(global: &config::Global, socket: PathBuf) -> Settings {
        Settings {
            timeout: std::time::Duration::from_millis(global.notify_timeout_ms),
            secure: global.enable_script_security,
            script_user: global.script_user.clone(),
            socket,
        }
    }
}

/// The commands to run for `change`, in order: the state's own script, then the generic
/// `notify` with keepalived's four arguments.
pub fn specs(notify: &Notify, change: &Change, settings: &Settings) -> Vec<(&'static str, Spec)> {
    let specific = match change.state {
        "MASTER" => notify.master.as_ref().map(|h| ("notify_master", h)),
        "BACKUP" => notify.backup.as_ref().map(|h| ("notify_backup", h)),
        "FAULT" => notify.fault.as_ref().map(|h| ("notify_fault", h)),
        "STOP" => notify.stop.as_ref().map(|h| ("notify_stop", h)),
        _ => None,
    };
    let env = environment(change, settings);
    let mut out = Vec::new();
    if let Some((label, hook)) = specific {
        out.push((label, spec(hook, Vec::new(), &env, settings)));
    }
    if let Some(hook) = &notify.any {
        let args = vec![
            change.kind.as_str().to_string(),
            change.name.clone(),
            change.state.to_string(),
            change.keepalived_priority().to_string(),
        ];
        out.push(("notify", spec(hook, args, &env, settings)));
    }
    out
}

/// A single hook with the change's environment (e.g. `notify_master_rx_lower_pri`).
pub fn spec(
    hook: &Hook,
    extra_args: Vec<String>,
    env: &[(String, String)],
    settings: &Settings,
) -> Spec {
    Spec {
        command: hook.command.clone(),
        extra_args,
        env: env.to_vec(),
        run_as: hook.run_as.clone().or_else(|| settings.script_user.clone()),
        timeout: settings.timeout,
        secure: settings.secure,
    }
}

/// The `BATON_*` variables every hook gets.
pub fn environment(change: &Change, settings: &Settings) -> Vec<(String, String)> {
    let vars = [
        ("BATON_TYPE", change.kind.as_str().to_string()),
        ("BATON_NAME", change.name.clone()),
        ("BATON_STATE", change.state.to_string()),
        ("BATON_PREVIOUS_STATE", change.previous.to_string()),
        ("BATON_PRIORITY", change.priority.to_string()),
        ("BATON_INTERFACE", change.interface.clone()),
        (
            "BATON_VRID",
            change.vrid.map(|v| v.to_string()).unwrap_or_default(),
        ),
        ("BATON_VIPS", change.vips.join(" ")),
        ("BATON_REASON", change.reason.clone()),
        ("BATON_SOCKET", settings.socket.display().to_string()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Whose queue a hook runs in: an instance's, or a sync group's. Its result goes back to
/// that owner's state (the instance's `Router`, or the group's entry), never to a name
/// that merely looks alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Instance(String),
    Group(String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Instance(name) => f.write_str(name),
            Owner::Group(name) => write!(f, "group {name}"),
        }
    }
}

/// One hook's outcome, as `status` shows it.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The instance or group whose queue ran it.
    pub owner: Owner,
    /// notify_master, notify, ...
    pub label: &'static str,
    /// The state it was run for.
    pub state: &'static str,
    pub outcome: Outcome,
    pub at: tokio::time::Instant,
    /// The owner's incarnation that queued it (see [`Queues::push`]).
    pub incarnation: u64,
}

/// A batch of hooks for one change, run in order.
struct Job {
    state: &'static str,
    hooks: Vec<(&'static str, Spec)>,
    incarnation: u64,
}

/// One queue per instance or sync group, and the `fallback_check` runs in flight, all on
/// the script thread.
pub struct Queues {
    runner: Rc<Runner>,
    /// Jobs are boxed: a channel holds its slots in blocks of 32 inline, and an idle
    /// queue keeps its block.
    queues: HashMap<Owner, (mpsc::UnboundedSender<Box<Job>>, Task)>,
    /// When the running `fallback_check` of each instance started.
    checks: Arc<Mutex<HashMap<String, Instant>>>,
}

/// A `fallback_check` in flight; dropping it (when the check has ended, on the script
/// thread) frees the instance for the next one.
pub struct Running {
    checks: Arc<Mutex<HashMap<String, Instant>>>,
    name: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.checks).remove(&self.name);
    }
}

/// The map of checks in flight (a panic elsewhere does not make it unusable).
fn lock(checks: &Mutex<HashMap<String, Instant>>) -> MutexGuard<'_, HashMap<String, Instant>> {
    checks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Queues {
    pub fn new(runner: Rc<Runner>) -> Queues {
        Queues {
            runner,
            queues: HashMap::new(),
            checks: Arc::default(),
        }
    }

    /// Run a check (or any script work) on the script thread.
    pub fn spawn<F, Fut>(&self, make: F) -> Task
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.runner.spawn(make)
    }

    /// Queue `hooks` for `owner`; they start after every hook queued before for it (also
    /// by an earlier incarnation of it: an instance a reload restarts keeps one queue, so
    /// the old one's STOP hooks run before the new one's). `incarnation` comes back in each
    /// [`Finished`], so a result goes only to the incarnation that queued it.
    pub fn push(
        &mut self,
        owner: &Owner,
        incarnation: u64,
        state: &'static str,
        hooks: Vec<(&'static str, Spec)>,
        done: &mpsc::UnboundedSender<Internal>,
    ) {
        if hooks.is_empty() {
            return;
        }
        let runner = &self.runner;
        let (sender, _) = self.queues.entry(owner.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let (owner, done) = (owner.clone(), done.clone());
            let launch = runner.launcher();
            let task = runner.spawn(move || work(launch, owner, rx, done));
            (tx, task)
        });
        let job = Box::new(Job {
            state,
            hooks,
            incarnation,
        });
        if sender.send(job).is_err() {
            warn!(
                owner = %owner,
                "the hook queue has stopped; hooks for {state} not run"
            );
        }
    }

    /// Claim the one `fallback_check` run `name` may have at a time; refused (with the
    /// reason, for the operator) while one runs, whoever started it.
    pub fn start_check(&self, name: &str) -> Result<Running, String> {
        let mut checks = lock(&self.checks);
        if let Some(started) = checks.get(name) {
            return Err(format!(
                "a fallback check is already running (started {}s ago)",
                started.elapsed().as_secs()
            ));
        }
        checks.insert(name.to_string(), Instant::now());
        Ok(Running {
            checks: Arc::clone(&self.checks),
            name: name.to_string(),
        })
    }

    /// Whether any hook was ever queued.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Let every queue finish what it holds (each hook is bounded by its timeout), then
    /// end the queue tasks.
    pub async fn drain(&mut self) {
        let queues: Vec<_> = self.queues.drain().collect();
        for (_, (sender, task)) in queues {
            drop(sender);
            task.join().await;
        }
    }
}

/// A queue's task: run each job's hooks one after the other.
async fn work(
    launch: Arc<dyn Launch>,
    owner: Owner,
    mut jobs: mpsc::UnboundedReceiver<Box<Job>>,
    done: mpsc::UnboundedSender<Internal>,
) {
    while let Some(job) = jobs.recv().await {
        for (label, spec) in job.hooks {
            // What a stop waits for, in the journal before a kill at TimeoutStopSec.
            if job.state == "STOP" {
                info!(owner = %owner, "{label} for STOP: running (killed after {:.0}s)", spec.timeout.as_secs_f64());
            }
            let outcome = launch.run(&spec).await;
            if outcome.success() {
                info!(owner = %owner, "{label} for {}: {} ({:.2}s)", job.state, outcome.describe(), outcome.duration_s);
            } else {
                warn!(owner = %owner, "{label} for {} failed: {}", job.state, outcome.describe());
            }
            let finished = Finished {
                owner: owner.clone(),
                label,
                state: job.state,
                outcome,
                at: tokio::time::Instant::now(),
                incarnation: job.incarnation,
            };
            let _ = done.send(Internal::HookFinished(Box::new(finished)));
        }
    }
}

/// What a `fallback_check` run gave.
pub struct CheckOutcome {
    pub passed: bool,
    /// "passed", "exit status 1: <stderr tail>", "timed out after 10.0s; ...", ...
    pub detail: String,
}

/// Run `check` for instance `name` like every other script: the shell form, script
/// security, `script_user`, its own process group killed whole at
/// `fallback_check_timeout`. Success is exit status 0.
pub async fn run_check(
    launch: &dyn Launch,
    name: &str,
    check: &config::FallbackCheck,
    settings: &Settings,
) -> CheckOutcome {
    let spec = Spec {
        command: check.command.clone(),
        extra_args: Vec::new(),
        env: vec![
            ("BATON_NAME".to_string(), name.to_string()),
            (
                "BATON_SOCKET".to_string(),
                settings.socket.display().to_string(),
            ),
        ],
        run_as: settings.script_user.clone(),
        timeout: std::time::Duration::from_millis(check.timeout_ms),
        secure: settings.secure,
    };
    let outcome = launch.run(&spec).await;
    if outcome.success() {
        CheckOutcome {
            passed: true,
            detail: "passed".into(),
        }
    } else {
        CheckOutcome {
            passed: false,
            detail: outcome.describe(),
        }
    }
}

/// The FIFOs state changes are written to (`notify_fifo`, `vrrp_notify_fifo`).
#[derive(Default)]
pub struct Fifos {
    open: Vec<(PathBuf, File)>,
    /// The `notify_fifo_script` readers baton started, by process group.
    readers: Vec<tokio::process::Child>,
    /// Why a configured FIFO is not written to, for `status`.
    pub refused: Vec<String>,
}

impl Fifos {
    /// Create and open the configured FIFOs; start their reader scripts.
    pub fn open(global: &config::Global, settings: &Settings) -> Fifos {
        let mut fifos = Fifos::default();
        for fifo in [&global.notify_fifo, &global.vrrp_notify_fifo]
            .into_iter()
            .flatten()
        {
            let path = PathBuf::from(&fifo.path);
            if fifos.open.iter().any(|(p, _)| *p == path) {
                continue;
            }
            // Root, the script user and the FIFO's own user may own it.
            let owners: Vec<u32> = settings
                .script_uid()
                .into_iter()
                .chain(
                    fifo.run_as
                        .as_ref()
                        .and_then(|r| crate::sys::user_ids(&r.user))
                        .map(|(uid, _)| uid),
                )
                .collect();
            match open_fifo(&path, &owners) {
                Ok(file) => fifos.open.push((path.clone(), file)),
                Err(e) => {
                    let why = format!(
                        "notify FIFO {}: {e}; no state changes are written to it",
                        path.display()
                    );
                    warn!("{why}");
                    fifos.refused.push(why);
                    continue;
                }
            }
            if let Some(script) = &fifo.script {
                fifos.start_reader(script, &path, settings);
            }
        }
        fifos
    }

    fn start_reader(&mut self, script: &Hook, path: &std::path::Path, settings: &Settings) {
        let mut spec = spec(script, vec![path.display().to_string()], &[], settings);
        spec.timeout = std::time::Duration::MAX;
        match process::spawn_long_running(&spec) {
            Ok(child) => self.readers.push(child),
            Err(e) => warn!("cannot start the FIFO script {}: {e}", script.command),
        }
    }

    /// Write keepalived's line: `INSTANCE "VI_1" MASTER 100`. Never blocks: a FIFO whose
    /// reader does not keep up loses the line (with a warning).
    pub fn write(&mut self, change: &Change) {
        let line = format!(
            "{} \"{}\" {} {}\n",
            change.kind.as_str(),
            change.name,
            change.state,
            change.keepalived_priority()
        );
        for (path, file) in &mut self.open {
            if let Err(e) = file.write_all(line.as_bytes()) {
                warn!("cannot write to notify FIFO {}: {e}", path.display());
            }
        }
    }

    /// Stop the reader scripts baton started.
    pub async fn close(&mut self) {
        for mut child in self.readers.drain(..) {
            if let Some(pgid) = child.id() {
                let _ = crate::sys::kill_process_group(pgid);
            }
            let _ = child.wait().await;
        }
        self.open.clear();
    }
}

/// Create the FIFO if needed and open it for writing without blocking: opened read-write,
/// so the open succeeds with no reader and a write never gets EPIPE. What is found at the
/// path must be a FIFO owned by root or the script user: a symbolic link is not followed,
/// and a regular file is not written to.
fn open_fifo(path: &std::path::Path, owners: &[u32]) -> Result<File, String> {
    use std::os::unix::fs::FileTypeExt;
    crate::sys::make_fifo(path, 0o600).map_err(|e| e.to_string())?;
    let file = process::open_nofollow(path, false)?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_fifo() {
        return Err("is not a FIFO; not written to".to_string());
    }
    if let Some(why) = process::foreign_owner(&meta, owners) {
        return Err(why);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(line: &str) -> Option<Hook> {
        Some(Hook {
            command: crate::config::validate::values::split_command(line).expect("command"),
            run_as: None,
        })
    }

    fn change(state: &'static str) -> Change {
        Change {
            kind: Kind::Instance,
            name: "VI_1".into(),
            state,
            previous: "BACKUP",
            priority: 150,
            interface: "eth0".into(),
            vrid: Some(51),
            vips: vec!["192.0.2.10".into()],
            reason: "no advert heard".into(),
        }
    }

    fn settings() -> Settings {
        Settings {
            timeout: std::time::Duration::from_secs(5),
            secure: false,
            script_user: None,
            socket: PathBuf::from("/run/baton/baton.sock"),
        }
    }

    #[test]
    fn the_state_hook_runs_before_the_generic_one_with_keepalived_arguments() {
        let notify = Notify {
            any: hook("/usr/bin/notify.sh all"),
            master: hook("/usr/bin/master.sh"),
            backup: hook("/usr/bin/backup.sh"),
            ..Notify::default()
        };
        let specs = specs(&notify, &change("MASTER"), &settings());
        let labels: Vec<_> = specs.iter().map(|(l, _)| *l).collect();
        assert_eq!(labels, ["notify_master", "notify"]);
        assert!(specs[0].1.extra_args.is_empty());
        assert_eq!(specs[1].1.command.args, ["all"]);
        assert_eq!(specs[1].1.extra_args, ["INSTANCE", "VI_1", "MASTER", "150"]);
        let env = &specs[1].1.env;
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("BATON_STATE"), Some("MASTER"));
        assert_eq!(get("BATON_PREVIOUS_STATE"), Some("BACKUP"));
        assert_eq!(get("BATON_VIPS"), Some("192.0.2.10"));
        assert_eq!(get("BATON_VRID"), Some("51"));
        assert_eq!(get("BATON_SOCKET"), Some("/run/baton/baton.sock"));
    }

    #[test]
    fn a_state_without_its_own_hook_runs_only_the_generic_one() {
        let notify = Notify {
            any: hook("/usr/bin/notify.sh"),
            ..Notify::default()
        };
        let specs = specs(&notify, &change("STOP"), &settings());
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].1.extra_args[2], "STOP");
    }

    #[test]
    fn a_fifo_of_another_user_or_a_regular_file_is_not_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        assert!(open_fifo(&fifo, &[]).is_ok(), "created and opened");
        // Owned by someone else (nobody, 65534): refused unless that is the script user.
        if std::os::unix::fs::chown(&fifo, Some(65534), None).is_ok() {
            let e = open_fifo(&fifo, &[]).expect_err("foreign owner");
            assert!(e.contains("is owned by uid 65534"), "{e}");
            assert!(open_fifo(&fifo, &[65534]).is_ok(), "the script user's");
        }
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "keep").expect("write");
        let e = open_fifo(&plain, &[]).expect_err("a regular file");
        assert!(e.contains("not a FIFO"), "{e}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).expect("link");
        let e = open_fifo(&link, &[]).expect_err("a link");
        assert!(e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn states_map_to_keepalived_words() {
        assert_eq!(state_word(State::Initialize, true), Some("STOP"));
        assert_eq!(state_word(State::Initialize, false), None);
        assert_eq!(state_word(State::Fault, false), Some("FAULT"));
        assert_eq!(previous_word(State::Initialize), "INIT");
    }
}
