//! Flap damping (`flap_damping COUNT WINDOW HOLD`): a server that keeps coming back and
//! taking the VIP, then failing again, drags every client with it. Each time an instance
//! becomes MASTER the time is appended to `STATE_DIR/flaps/NAME`, so the count survives the
//! daemon's restarts; when it became master COUNT times within WINDOW, it does not preempt
//! for HOLD (a takeover when no master is heard still happens) and `status` raises an alarm.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::warn;

use super::Daemon;
use crate::config::FlapDamping;
use crate::vrrp::Event;

/// When the damping of an instance ends, and why it started.
#[derive(Clone, Debug)]
pub struct Damped {
    /// On the daemon's clock.
    pub until: Duration,
    pub count: usize,
    pub window: Duration,
}

impl Daemon {
    fn flap_file(&self, name: &str) -> PathBuf {
        self.options.state_dir.join("flaps").join(name)
    }

    /// The instance became MASTER: record it; if that makes COUNT within WINDOW, hold
    /// preemption back.
    pub(super) fn became_master(&mut self, name: &str) -> Option<Event> {
        let damping = self.routers.get(name)?.cfg.flap_damping?;
        let now_ms = wall_ms();
        let mut times = self.read_flaps(name, &damping, now_ms);
        times.push(now_ms);
        self.write_flaps(name, &times);
        self.judge_flaps(name, &damping, &times, now_ms)
    }

    /// At start: a damping that was running when the daemon stopped goes on.
    pub(super) fn resume_damping(&mut self, name: &str) -> Option<Event> {
        let damping = self.routers.get(name)?.cfg.flap_damping?;
        let now_ms = wall_ms();
        let times = self.read_flaps(name, &damping, now_ms);
        self.judge_flaps(name, &damping, &times, now_ms)
    }

    fn judge_flaps(
        &mut self,
        name: &str,
        damping: &FlapDamping,
        times: &[u64],
        now_ms: u64,
    ) -> Option<Event> {
        let count = damping.count as usize;
        if times.len() < count {
            return None;
        }
        let last = *times.last()?;
        let elapsed = Duration::from_millis(now_ms.saturating_sub(last));
        let hold = Duration::from_millis(damping.hold_ms).checked_sub(elapsed)?;
        let window = Duration::from_millis(damping.window_ms);
        warn!(
            instance = name,
            "flapping: became master {} times within {window:?}; no preemption for {hold:?}",
            times.len()
        );
        let until = self.now().saturating_add(hold);
        if let Some(router) = self.routers.get_mut(name) {
            router.damped = Some(Damped {
                until,
                count: times.len(),
                window,
            });
        }
        Some(Event::HoldBackup { hold })
    }

    /// The recorded times (ms since the epoch) still within the window.
    fn read_flaps(&self, name: &str, damping: &FlapDamping, now_ms: u64) -> Vec<u64> {
        let path = self.flap_file(name);
        let text = match read_state(&path) {
            Ok(text) => text.unwrap_or_default(),
            Err(e) => {
                warn!(instance = name, "cannot read {}: {e}", path.display());
                String::new()
            }
        };
        text.lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .filter(|t| now_ms.saturating_sub(*t) <= damping.window_ms && *t <= now_ms)
            .collect()
    }

    fn write_flaps(&self, name: &str, times: &[u64]) {
        let path = self.flap_file(name);
        let text: String = times.iter().map(|t| format!("{t}\n")).collect();
        if let Err(e) = write_state(&path, &text) {
            warn!(
                instance = name,
                "cannot record the transition in {}: {e}",
                path.display()
            );
        }
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A state file is never larger than this (a few lines; a bigger one is not ours).
const STATE_FILE_MAX: u64 = 1 << 20;

/// Read a file of the state directory (locks, flap times): `None` if it is missing. A
/// symbolic link is not followed; it must be a regular file owned by root.
pub(super) fn read_state(path: &Path) -> std::io::Result<Option<String>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(std::io::Error::other("it is a symbolic link; not followed"));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || !super::process::trusted_owner(meta.uid()) {
        return Err(std::io::Error::other(format!(
            "not a regular file owned by root or by the daemon's user (uid {}); not used",
            meta.uid()
        )));
    }
    let mut text = String::new();
    file.take(STATE_FILE_MAX).read_to_string(&mut text)?;
    Ok(Some(text))
}

/// Replace a file of the state directory so that a crash or power loss leaves the old
/// content or the new, never a torn or empty file: write a fresh temporary file
/// (created exclusively, so nothing planted there is followed), fsync it, rename it over
/// the file, fsync the directory.
pub(super) fn write_state(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_are_replaced_whole_and_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("VI.1");
        assert!(read_state(&path).expect("missing is fine").is_none());
        write_state(&path, "one\n").expect("write");
        write_state(&path, "two\n").expect("write again");
        assert_eq!(read_state(&path).expect("read").as_deref(), Some("two\n"));
        // A link planted where the temporary file goes is replaced, not written through.
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").expect("target");
        std::os::unix::fs::symlink(&target, dir.path().join("VI.1.tmp")).expect("link");
        write_state(&path, "three\n").expect("write over the link");
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
        // A link in the file's place is not read.
        std::fs::remove_file(&path).expect("remove");
        std::os::unix::fs::symlink(&target, &path).expect("link");
        let e = read_state(&path).expect_err("a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}
