//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`): READY=1 once the sockets are
//! open and every instance has started, STOPPING=1 when a stop begins, and WATCHDOG=1 while
//! the protocol loop turns.
//!
//! The protocol loop sends nothing itself (a datagram to systemd may block when systemd
//! does not read). It stamps a heartbeat, an atomic, from a timer of its own every quarter
//! of the watchdog interval; a thread of this module sends the messages, and pings the
//! watchdog only while that heartbeat is fresh (younger than half the interval). A loop
//! stalled for half the interval stops the pings, and systemd restarts the daemon at
//! `WatchdogSec`. Outside systemd (no `NOTIFY_SOCKET`) nothing is started and every call is
//! a no-op. Hooks do not inherit the variables (`process.rs` removes them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::{info, warn};

/// The environment variables of the protocol, kept from hooks and checks.
pub const VARIABLES: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// What the daemon tells systemd.
enum Message {
    Ready(String),
    Stopping,
}

/// The loop's side: heartbeat and messages.
pub struct Notifier {
    messages: Option<mpsc::Sender<Message>>,
    heartbeat: Arc<Heartbeat>,
    /// How often the loop must stamp the heartbeat (a quarter of the watchdog interval).
    beat_every: Option<Duration>,
}

/// The time of the loop's last turn, in milliseconds since `origin`.
struct Heartbeat {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Heartbeat {
    fn stamp(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn age(&self) -> Duration {
        let now = self.origin.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

impl Notifier {
    /// Read the environment systemd gave; start the sending thread when there is a notify
    /// socket.
    pub fn start() -> Notifier {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Notifier::silent();
        }
        let heartbeat = Arc::new(Heartbeat {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        });
        let mut usec = 0;
        let watchdog = sd_notify::watchdog_enabled(false, &mut usec).then(|| {
            // systemd's minimum is 1 ms; keep the arithmetic away from zero.
            Duration::from_micros(usec.max(4_000))
        });
        if let Some(interval) = watchdog {
            info!(
                "systemd watchdog: {:.3}s; the protocol loop is checked every {:.3}s",
                interval.as_secs_f64(),
                (interval / 4).as_secs_f64()
            );
        }
        let (tx, rx) = mpsc::channel();
        let beat = heartbeat.clone();
        let spawned = std::thread::Builder::new()
            .name("baton-systemd".into())
            .spawn(move || send_loop(&rx, &beat, watchdog));
        if let Err(e) = spawned {
            warn!("cannot start the systemd notify thread ({e}); systemd is not told anything");
            return Notifier {
                messages: None,
                heartbeat,
                beat_every: None,
            };
        }
        Notifier {
            messages: Some(tx),
            heartbeat,
            beat_every: watchdog.map(|w| w / 4),
        }
    }

    /// One that tells nobody anything (no systemd, or the harness).
    pub fn silent() -> Notifier {
        Notifier {
            messages: None,
            heartbeat: Arc::new(Heartbeat {
                origin: Instant::now(),
                last_ms: AtomicU64::new(0),
            }),
            beat_every: None,
        }
    }

    /// How often the protocol loop must call [`beat`](Self::beat); `None` without a watchdog.
    pub fn beat_every(&self) -> Option<Duration> {
        self.beat_every
    }

    /// The protocol loop is turning.
    pub fn beat(&self) {
        self.heartbeat.stamp();
    }

    /// Start-up is complete: the sockets are open and every instance has started.
    pub fn ready(&self, status: String) {
        self.heartbeat.stamp();
        self.send(Message::Ready(status));
    }

    /// A stop has begun.
    pub fn stopping(&self) {
        self.send(Message::Stopping);
    }

    fn send(&self, message: Message) {
        if let Some(tx) = &self.messages {
            // The thread ends only with the notifier.
            let _ = tx.send(message);
        }
    }
}

/// The sending thread: messages as they come, and a watchdog ping every quarter interval
/// while the loop's heartbeat is younger than half the interval.
fn send_loop(rx: &mpsc::Receiver<Message>, heartbeat: &Heartbeat, watchdog: Option<Duration>) {
    let mut failed = false;
    let mut notify = |states: &[NotifyState]| {
        if let Err(e) = sd_notify::notify(false, states) {
            if !failed {
                warn!("cannot notify systemd ({e}); this is logged once");
            }
            failed = true;
        }
    };
    let tick = watchdog.map_or(Duration::from_secs(3600), |w| w / 4);
    let mut next_ping = Instant::now();
    let mut stalled = false;
    // systemd arms the watchdog at READY=1; during a stop TimeoutStopSec bounds the time
    // (the STOP hooks may take it), so pings then go on without the loop's heartbeat.
    let mut phase = Phase::Starting;
    loop {
        let wait = next_ping
            .saturating_duration_since(Instant::now())
            .min(tick);
        match rx.recv_timeout(wait) {
            Ok(Message::Ready(status)) => {
                notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
                phase = Phase::Running;
            }
            Ok(Message::Stopping) => {
                notify(&[NotifyState::Stopping]);
                phase = Phase::Stopping;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(interval) = watchdog else { continue };
        if Instant::now() < next_ping || phase == Phase::Starting {
            continue;
        }
        next_ping = Instant::now() + tick;
        let age = heartbeat.age();
        if phase == Phase::Stopping || fresh(age, interval) {
            if stalled {
                warn!("the protocol loop turns again; pinging the systemd watchdog again");
                stalled = false;
            }
            notify(&[NotifyState::Watchdog]);
        } else if !stalled {
            warn!(
                "the protocol loop has not turned for {:.3}s: not pinging the systemd watchdog (restart at {:.3}s)",
                age.as_secs_f64(),
                interval.as_secs_f64()
            );
            stalled = true;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Stopping,
}

/// A heartbeat of `age` is fresh under a watchdog `interval` when it is younger than half
/// the interval: the loop stamps it every quarter, so a turning loop always passes, and a
/// loop stalled longer than half the interval is caught with half the interval to spare.
fn fresh(age: Duration, interval: Duration) -> bool {
    age < interval / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_fresh_for_half_the_interval() {
        let interval = Duration::from_secs(10);
        assert!(fresh(Duration::ZERO, interval));
        assert!(fresh(Duration::from_millis(2_500), interval));
        assert!(fresh(Duration::from_millis(4_999), interval));
        assert!(!fresh(Duration::from_secs(5), interval));
        assert!(!fresh(Duration::from_secs(60), interval));
    }

    #[test]
    fn the_heartbeat_ages_until_stamped() {
        let heartbeat = Heartbeat {
            origin: Instant::now() - Duration::from_secs(3),
            last_ms: AtomicU64::new(0),
        };
        assert!(heartbeat.age() >= Duration::from_secs(3));
        heartbeat.stamp();
        assert!(heartbeat.age() < Duration::from_secs(1));
    }

    #[test]
    fn without_systemd_nothing_is_started() {
        // The test runner is not started by systemd with a notify socket.
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            return;
        }
        let notifier = Notifier::start();
        assert!(notifier.messages.is_none());
        assert_eq!(notifier.beat_every(), None);
        notifier.ready("x".into());
        notifier.stopping();
    }
}
