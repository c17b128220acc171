//! Flap damping (`flap_damping COUNT WINDOW HOLD`): a server that keeps coming back and
//! taking the VIP, then failing again, drags every client with it. Each time an instance
//! becomes MASTER the time is appended to `STATE_DIR/flaps/NAME`, so the count survives the
//! daemon's restarts; when it became master COUNT times within WINDOW, it does not preempt
//! for HOLD (a takeover when no master is heard still happens) and `status` raises an alarm.

use std::path::PathBuf;
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
        self.damped.insert(
            name.to_string(),
            Damped {
                until: self.now().saturating_add(hold),
                count: times.len(),
                window,
            },
        );
        Some(Event::HoldBackup { hold })
    }

    /// The recorded times (ms since the epoch) still within the window.
    fn read_flaps(&self, name: &str, damping: &FlapDamping, now_ms: u64) -> Vec<u64> {
        let text = std::fs::read_to_string(self.flap_file(name)).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .filter(|t| now_ms.saturating_sub(*t) <= damping.window_ms && *t <= now_ms)
            .collect()
    }

    fn write_flaps(&self, name: &str, times: &[u64]) {
        let path = self.flap_file(name);
        let text: String = times.iter().map(|t| format!("{t}\n")).collect();
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let temp = path.with_extension("tmp");
                std::fs::write(&temp, text)?;
                std::fs::rename(&temp, &path)
            });
        if let Err(e) = result {
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
