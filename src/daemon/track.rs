//! Tracking: `vrrp_script` checks, `track_interface` links and `track_file` values, and
//! what they mean for each instance: a priority adjustment, or FAULT.
//!
//! The rules follow keepalived.conf(5): a positive weight is added while the tracked thing
//! is up, a negative one while it is down, `reverse` turns the direction around, and weight
//! 0 means FAULT while it is down. A file's value is multiplied by its weight and added;
//! below -253 it means FAULT; with weight 0 a non-zero value means FAULT. The effective
//! priority stays within 1..=254, and an address owner (255) is never adjusted.
//!
//! The states live here; the runner tasks report to the event loop, which calls
//! [`verdict`] and feeds the state machines. Everything but the runners is pure.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Internal;
use super::hooks::Settings;
use super::process::{self, Spec};
use super::runner::{Runner, Task};
use crate::config::{self, Model};
use crate::control::status::{TrackEffect, TrackStatus};

/// How often tracked files are read again.
const FILE_POLL: Duration = Duration::from_millis(500);

/// A `vrrp_script`'s rise/fall state.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptState {
    pub up: bool,
    /// Consecutive results against the current state.
    streak: u32,
    rise: u32,
    fall: u32,
    /// The last run, in words.
    pub last: String,
}

impl ScriptState {
    pub fn new(cfg: &config::TrackScript) -> ScriptState {
        ScriptState {
            up: !cfg.init_fail,
            streak: 0,
            rise: cfg.rise.max(1),
            fall: cfg.fall.max(1),
            last: "not run yet".into(),
        }
    }

    /// Record one run; true when the state flipped (after `rise` successes while down, or
    /// `fall` failures while up).
    pub fn record(&mut self, success: bool) -> bool {
        if success == self.up {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.streak >= needed {
            self.up = success;
            self.streak = 0;
            return true;
        }
        false
    }
}

/// The last value read from a tracked file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileState {
    pub value: i64,
    /// Why the value is 0 by default (missing file, not a number), if so.
    pub note: Option<String>,
}

/// Every tracked thing's current state.
#[derive(Default)]
pub struct Trackers {
    pub scripts: BTreeMap<String, ScriptState>,
    pub files: BTreeMap<String, FileState>,
    /// `vrrp_track_process` blocks: the watcher's last report of each.
    pub processes: BTreeMap<String, super::processes::Report>,
    /// Interface name → link up.
    pub links: BTreeMap<String, bool>,
    /// Why an `init_file` was not written, for `status` (until the next start or reload).
    pub refused: Vec<String>,
    /// The script runners and the file poller, on the script thread.
    tasks: Vec<Task>,
}

impl Trackers {
    /// Start a runner for every script an instance or group uses, and the file poller.
    /// States of scripts whose configuration did not change are kept (a reload does not
    /// make a failing check pass).
    pub fn restart(
        &mut self,
        model: &Model,
        settings: &Settings,
        done: &mpsc::UnboundedSender<Internal>,
        runner: &Runner,
    ) {
        self.stop();
        let mut scripts = BTreeMap::new();
        for name in used_scripts(model) {
            let Some(cfg) = model.scripts.get(&name) else {
                continue;
            };
            let state = match self.scripts.remove(&name) {
                Some(old) if old.rise == cfg.rise.max(1) && old.fall == cfg.fall.max(1) => old,
                _ => ScriptState::new(cfg),
            };
            scripts.insert(name.clone(), state);
            let spec = script_spec(cfg, settings);
            let interval = Duration::from_millis(cfg.interval_ms.max(1));
            let done = done.clone();
            let launch = runner.launcher();
            self.tasks
                .push(runner.spawn(move || run_script(launch, name, spec, interval, done)));
        }
        self.scripts = scripts;
        self.refused.clear();
        let script_uid = settings.script_uid();
        let files: BTreeMap<String, String> = used_files(model)
            .into_iter()
            .filter_map(|name| {
                let cfg = model.track_files.get(&name)?;
                if let Err(why) = init_file(cfg, script_uid) {
                    self.refused.push(why);
                }
                Some((name, cfg.path.clone()))
            })
            .collect();
        self.files.retain(|name, _| files.contains_key(name));
        for (name, path) in &files {
            self.files
                .entry(name.clone())
                .or_insert_with(|| read_value(path));
        }
        if !files.is_empty() {
            let done = done.clone();
            self.tasks
                .push(runner.spawn(move || poll_files(files, done)));
        }
        let blocks: BTreeMap<String, config::TrackProcess> = used_processes(model)
            .into_iter()
            .filter_map(|name| Some((name.clone(), model.track_processes.get(&name)?.clone())))
            .collect();
        // Reports come again from the new watcher (its first one at once, after one read
        // of /proc): until then a block still used keeps its last state.
        self.processes.retain(|name, _| blocks.contains_key(name));
        if !blocks.is_empty() {
            let done = done.clone();
            self.tasks
                .push(runner.spawn(move || super::processes::watch(blocks, done)));
        }
    }

    pub fn stop(&mut self) {
        for mut task in self.tasks.drain(..) {
            task.abort();
        }
    }

    /// Record a script run; true when its state flipped.
    pub fn script_ran(&mut self, name: &str, outcome: &process::Outcome) -> bool {
        let Some(state) = self.scripts.get_mut(name) else {
            return false;
        };
        state.last = outcome.describe();
        let flipped = state.record(outcome.success());
        if flipped {
            let word = if state.up { "succeeding" } else { "failing" };
            if state.up {
                info!("track script {name} is now {word} ({})", state.last);
            } else {
                warn!("track script {name} is now {word} ({})", state.last);
            }
        }
        flipped
    }

    /// Record a process block's state; true when it changed.
    pub fn process_seen(&mut self, report: super::processes::Report) -> bool {
        let old = self.processes.insert(report.name.clone(), report.clone());
        let changed = old.as_ref().is_none_or(|o| o.up != report.up);
        if old.as_ref().is_some_and(|o| o.up != report.up) {
            let word = if report.up { "held" } else { "lost" };
            info!(
                "track process {}: quorum {word} ({} matching)",
                report.name, report.count
            );
        }
        changed
    }

    /// Record a file value; true when it changed.
    pub fn file_read(&mut self, name: &str, state: FileState) -> bool {
        let old = self.files.insert(name.to_string(), state.clone());
        let changed = old.as_ref() != Some(&state);
        if changed {
            info!("track file {name}: value {}", state.value);
        }
        changed
    }
}

/// Scripts referenced by any instance or sync group.
fn used_scripts(model: &Model) -> Vec<String> {
    used(
        model,
        |i| &i.track_scripts,
        |g| &g.track_scripts,
        |t| &t.name,
    )
}

/// `vrrp_track_process` blocks referenced by any instance or sync group.
fn used_processes(model: &Model) -> Vec<String> {
    used(
        model,
        |i| &i.track_processes,
        |g| &g.track_processes,
        |t| &t.name,
    )
}

/// Track files referenced by any instance or sync group.
fn used_files(model: &Model) -> Vec<String> {
    used(model, |i| &i.track_files, |g| &g.track_files, |t| &t.name)
}

fn used<T>(
    model: &Model,
    of_instance: impl Fn(&config::Instance) -> &Vec<T>,
    of_group: impl Fn(&config::SyncGroup) -> &Vec<T>,
    name: impl Fn(&T) -> &String,
) -> Vec<String> {
    let mut names: Vec<String> = model
        .instances
        .iter()
        .flat_map(&of_instance)
        .chain(model.sync_groups.iter().flat_map(&of_group))
        .map(|t| name(t).clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn script_spec(cfg: &config::TrackScript, settings: &Settings) -> Spec {
    Spec {
        command: cfg.command.clone(),
        extra_args: Vec::new(),
        env: Vec::new(),
        run_as: cfg.run_as.clone().or_else(|| settings.script_user.clone()),
        timeout: Duration::from_millis(cfg.timeout_ms.max(1)),
        secure: settings.secure,
    }
}

/// A script's runner: run, report, wait for the interval, again.
async fn run_script(
    launch: std::sync::Arc<dyn super::host::Launch>,
    name: String,
    spec: Spec,
    interval: Duration,
    done: mpsc::UnboundedSender<Internal>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcome = launch.run(&spec).await;
        if done
            .send(Internal::ScriptRan {
                name: name.clone(),
                outcome,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Read every tracked file each `FILE_POLL`; report values that changed.
async fn poll_files(files: BTreeMap<String, String>, done: mpsc::UnboundedSender<Internal>) {
    let mut last: BTreeMap<String, FileState> = BTreeMap::new();
    loop {
        for (name, path) in &files {
            let state = read_value(path);
            if last.get(name) != Some(&state) {
                last.insert(name.clone(), state.clone());
                if done
                    .send(Internal::FileRead {
                        name: name.clone(),
                        state,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(FILE_POLL).await;
    }
}

/// At most this much of a tracked file is read (its number is at the start).
const TRACK_FILE_READ: u64 = 4096;

/// The number at the start of the file; a missing file or one without a number reads as 0.
/// Only a regular file is read, without blocking (a FIFO planted at the path would stall
/// the event loop) and only its first `TRACK_FILE_READ` bytes.
pub fn read_value(path: &str) -> FileState {
    match read_start(path) {
        Ok(text) => parse_value(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState {
            value: 0,
            note: Some("file missing, read as 0".into()),
        },
        Err(e) => FileState {
            value: 0,
            note: Some(format!("cannot read it ({e}), read as 0")),
        },
    }
}

fn read_start(path: &str) -> std::io::Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(TRACK_FILE_READ).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_value(text: &str) -> FileState {
    let word = text.split_whitespace().next().unwrap_or("");
    match word.parse::<i64>() {
        Ok(value) => FileState { value, note: None },
        Err(_) => FileState {
            value: 0,
            note: Some(format!("{word:?} is not a number, read as 0")),
        },
    }
}

/// `init_file`: write the initial value when the file is missing, or always with
/// `overwrite`. A symbolic link in its place is not followed, and a file owned by a user
/// other than root or the script user, or that is not a regular file, is left alone.
/// Returns why it was refused, as logged.
fn init_file(cfg: &config::TrackFile, script_uid: Option<u32>) -> Result<(), String> {
    use std::io::Write as _;
    let Some(init) = &cfg.init else {
        return Ok(());
    };
    let path = std::path::Path::new(&cfg.path);
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err("is a symbolic link; not followed".to_string())
        }
        Ok(_) if !init.overwrite => return Ok(()),
        _ => Ok(()),
    };
    let result = result
        .and_then(|()| process::open_nofollow(path, true))
        .and_then(|mut file| {
            let meta = file.metadata().map_err(|e| e.to_string())?;
            if !meta.is_file() {
                return Err("is not a regular file; not written to".to_string());
            }
            if let Some(why) = process::foreign_owner(&meta, script_uid.as_slice()) {
                return Err(why);
            }
            file.set_len(0)
                .and_then(|()| file.write_all(format!("{}\n", init.value).as_bytes()))
                .map_err(|e| e.to_string())
        });
    result.map_err(|e| {
        let why = format!("track file {}: init_file refused: {e}", cfg.path);
        warn!("{why}");
        why
    })
}

/// What the tracked things say about one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why the instance must be in FAULT, if it must.
    pub faults: Vec<String>,
    /// The sum of the weights that apply now.
    pub adjust: i64,
    pub items: Vec<TrackStatus>,
}

enum Effect {
    Fault,
    Adjust(i64),
}

/// keepalived's rule for a script or interface with `weight` that is `up`.
fn effect(weight: i64, reverse: bool, up: bool) -> Effect {
    let sign = if reverse { -1 } else { 1 };
    match weight {
        0 if up != reverse => Effect::Adjust(0),
        0 => Effect::Fault,
        w if w > 0 && up => Effect::Adjust(sign * w),
        w if w < 0 && !up => Effect::Adjust(sign * w),
        _ => Effect::Adjust(0),
    }
}

/// keepalived's rule for a file value.
fn file_effect(value: i64, weight: i64, reverse: bool) -> Effect {
    if weight == 0 {
        return if (value != 0) != reverse {
            Effect::Fault
        } else {
            Effect::Adjust(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let result = value.saturating_mul(weight).saturating_mul(sign);
    if result < -253 {
        Effect::Fault
    } else {
        Effect::Adjust(result.min(253))
    }
}

/// The tracking lists of an instance or of its sync group.
pub struct Tracked<'a> {
    pub interfaces: &'a [config::TrackedInterface],
    pub scripts: &'a [config::TrackedScript],
    pub files: &'a [config::TrackedFile],
    pub processes: &'a [config::TrackedProcess],
}

impl<'a> Tracked<'a> {
    pub fn of_instance(i: &'a config::Instance) -> Tracked<'a> {
        Tracked {
            interfaces: &i.track_interfaces,
            scripts: &i.track_scripts,
            files: &i.track_files,
            processes: &i.track_processes,
        }
    }

    pub fn of_group(g: &'a config::SyncGroup) -> Tracked<'a> {
        Tracked {
            interfaces: &g.track_interfaces,
            scripts: &g.track_scripts,
            files: &g.track_files,
            processes: &g.track_processes,
        }
    }
}

/// Add what `tracked` says to `verdict`.
pub fn judge(verdict: &mut Verdict, tracked: &Tracked<'_>, model: &Model, trackers: &Trackers) {
    for t in tracked.interfaces {
        let up = trackers.links.get(&t.name).copied().unwrap_or(false);
        let detail = if trackers.links.contains_key(&t.name) {
            if up { "link up" } else { "link down" }
        } else {
            "no such interface"
        };
        let item = item("interface", &t.name, up, detail.to_string());
        apply(verdict, item, effect(i64::from(t.weight), t.reverse, up));
    }
    for t in tracked.scripts {
        let Some(cfg) = model.scripts.get(&t.name) else {
            continue;
        };
        let state = trackers.scripts.get(&t.name);
        let up = state.is_none_or(|s| s.up);
        let detail = state.map_or_else(|| "not run yet".to_string(), |s| s.last.clone());
        let weight = i64::from(t.weight.unwrap_or(cfg.weight));
        let reverse = t.reverse.unwrap_or(cfg.reverse);
        let item = item("script", &t.name, up, detail);
        apply(verdict, item, effect(weight, reverse, up));
    }
    for t in tracked.files {
        let Some(cfg) = model.track_files.get(&t.name) else {
            continue;
        };
        let state = trackers.files.get(&t.name).cloned().unwrap_or_default();
        let weight = t.weight.unwrap_or(cfg.weight);
        let reverse = t.reverse.unwrap_or(cfg.reverse);
        let detail = match &state.note {
            Some(note) => format!("{}: {note}", cfg.path),
            None => format!("{}: value {}", cfg.path, state.value),
        };
        let eff = file_effect(state.value, weight, reverse);
        let up = !matches!(eff, Effect::Fault) && (weight == 0 || state.value == 0);
        apply(verdict, item("file", &t.name, up, detail), eff);
    }
    for t in tracked.processes {
        let Some(cfg) = model.track_processes.get(&t.name) else {
            continue;
        };
        let weight = i64::from(t.weight.unwrap_or(cfg.weight));
        let reverse = t.reverse.unwrap_or(cfg.reverse);
        // Not reported yet (the watcher reads /proc at once): counted as down, so that a
        // start never holds the VIP on a process that is not there.
        let (up, detail) = match trackers.processes.get(&t.name) {
            Some(r) => (r.up, process_detail(cfg, r.count)),
            None => (false, "not read yet".to_string()),
        };
        apply(
            verdict,
            item("process", &t.name, up, detail),
            effect(weight, reverse, up),
        );
    }
}

/// `3 running (quorum 2..=4)`, or `none may run` for `quorum_max 0`.
fn process_detail(cfg: &config::TrackProcess, count: u32) -> String {
    let range = match (cfg.quorum, cfg.quorum_max) {
        (0, 0) => "none may run".to_string(),
        (q, u32::MAX) => format!("quorum {q}"),
        (q, m) => format!("quorum {q}..={m}"),
    };
    format!("{count} {} running ({range})", cfg.name)
}

fn item(kind: &str, name: &str, up: bool, detail: String) -> TrackStatus {
    TrackStatus {
        kind: kind.into(),
        name: name.into(),
        up,
        // Set by `apply`.
        effect: TrackEffect::Priority(0),
        detail,
    }
}

fn apply(verdict: &mut Verdict, mut item: TrackStatus, effect: Effect) {
    match effect {
        Effect::Fault => {
            item.effect = TrackEffect::Fault;
            verdict.faults.push(format!(
                "{} {} is down ({})",
                item.kind, item.name, item.detail
            ));
        }
        Effect::Adjust(n) => {
            item.effect = TrackEffect::Priority(n);
            verdict.adjust += n;
        }
    }
    verdict.items.push(item);
}

/// The priority the instance advertises: base plus the adjustments, kept within 1..=254;
/// an address owner keeps 255.
pub fn effective_priority(base: u8, adjust: i64) -> u8 {
    if base == 255 {
        return 255;
    }
    let p = (i64::from(base) + adjust).clamp(1, 254);
    u8::try_from(p).unwrap_or(254)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(rise: u32, fall: u32, init_fail: bool) -> config::TrackScript {
        config::TrackScript {
            command: crate::config::validate::values::split_command("/bin/true").expect("cmd"),
            interval_ms: 1000,
            timeout_ms: 1000,
            weight: 0,
            reverse: false,
            rise,
            fall,
            run_as: None,
            init_fail,
        }
    }

    #[test]
    fn rise_and_fall_count_consecutive_results() {
        let mut s = ScriptState::new(&script(2, 3, false));
        assert!(s.up);
        assert!(!s.record(false));
        assert!(!s.record(false));
        assert!(!s.record(true), "a success resets the failure count");
        assert!(!s.record(false));
        assert!(!s.record(false));
        assert!(s.record(false), "third failure in a row");
        assert!(!s.up);
        assert!(!s.record(true));
        assert!(s.record(true));
        assert!(s.up);
    }

    #[test]
    fn init_fail_starts_down() {
        assert!(!ScriptState::new(&script(1, 1, true)).up);
    }

    fn adjust(e: Effect) -> Option<i64> {
        match e {
            Effect::Fault => None,
            Effect::Adjust(n) => Some(n),
        }
    }

    #[test]
    fn weights_follow_keepalived() {
        assert_eq!(adjust(effect(10, false, true)), Some(10));
        assert_eq!(adjust(effect(10, false, false)), Some(0));
        assert_eq!(adjust(effect(-20, false, false)), Some(-20));
        assert_eq!(adjust(effect(-20, false, true)), Some(0));
        assert_eq!(
            adjust(effect(10, true, true)),
            Some(-10),
            "reverse: down when up"
        );
        assert_eq!(
            adjust(effect(-20, true, false)),
            Some(20),
            "reverse: up when down"
        );
        assert_eq!(adjust(effect(0, false, false)), None);
        assert_eq!(adjust(effect(0, false, true)), Some(0));
        assert_eq!(adjust(effect(0, true, true)), None, "weight 0 reverse");
    }

    #[test]
    fn file_values_multiply_and_fault_below_minus_253() {
        assert_eq!(adjust(file_effect(5, 2, false)), Some(10));
        assert_eq!(adjust(file_effect(5, 2, true)), Some(-10));
        assert_eq!(adjust(file_effect(-300, 1, false)), None);
        assert_eq!(adjust(file_effect(1, 0, false)), None);
        assert_eq!(adjust(file_effect(0, 0, false)), Some(0));
        assert_eq!(adjust(file_effect(0, 0, true)), None);
        assert_eq!(adjust(file_effect(i64::MAX, 2, false)), Some(253));
    }

    #[test]
    fn effective_priority_stays_in_range() {
        assert_eq!(effective_priority(100, 50), 150);
        assert_eq!(effective_priority(100, 500), 254);
        assert_eq!(effective_priority(100, -500), 1);
        assert_eq!(effective_priority(255, -50), 255);
    }

    #[test]
    fn file_values_are_read_like_keepalived() {
        assert_eq!(parse_value("42\n").value, 42);
        assert_eq!(parse_value("-7 extra").value, -7);
        let bad = parse_value("abc");
        assert_eq!(bad.value, 0);
        assert!(bad.note.is_some());
        assert_eq!(read_value("/nonexistent/baton/file").value, 0);
    }
}
