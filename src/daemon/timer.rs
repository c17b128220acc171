//! The protocol loop's timer: one `timerfd` on CLOCK_MONOTONIC, armed at the earliest
//! deadline of all instances as an absolute time.
//!
//! tokio's timer wheel rounds every sleep up to its next millisecond tick, which put each
//! takeover about 1.5 ms after Master_Down_Interval (measured by `scripts/bench-failover`).
//! The timerfd wakes epoll at the deadline rounded up to 250 µs, so instances due within
//! that grain are served by one wake-up (see `BUCKET`). The deadlines are the core's times (a `Duration` since the daemon's origin
//! `Instant`); both clocks are CLOCK_MONOTONIC, so one offset, taken once, maps one to the
//! other. If the kernel refuses a timerfd, the loop falls back to tokio's sleep.

use std::io;
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;
use tracing::warn;

pub struct ProtocolTimer {
    origin: Instant,
    clock: Clock,
}

enum Clock {
    Fd {
        fd: AsyncFd<crate::sys::TimerFd>,
        /// CLOCK_MONOTONIC at `origin`, never earlier than the true value (so a deadline
        /// never fires before the core sees it due).
        origin_mono: Duration,
        /// The (monotonic, bucketed) time the timer is set to, while it has not fired.
        armed: Option<Duration>,
    },
    Tokio,
}

impl ProtocolTimer {
    /// A timer for deadlines counted from `origin`.
    pub fn new(origin: Instant) -> ProtocolTimer {
        let clock = match timerfd(origin) {
            Ok(clock) => clock,
            Err(e) => {
                warn!("no timerfd ({e}): protocol timers use tokio's 1 ms clock");
                Clock::Tokio
            }
        };
        ProtocolTimer { origin, clock }
    }

    /// A timer on tokio's clock (for the harness, whose clock is tokio's paused one).
    #[cfg(test)]
    pub fn on_tokio(origin: Instant) -> ProtocolTimer {
        ProtocolTimer {
            origin,
            clock: Clock::Tokio,
        }
    }

    /// Resolve at `deadline` (time since the origin); never for `None`.
    pub async fn wait(&mut self, deadline: Option<Duration>) {
        let Some(deadline) = deadline else {
            return std::future::pending().await;
        };
        match &mut self.clock {
            Clock::Fd {
                fd,
                origin_mono,
                armed,
            } => {
                // Deadlines in one bucket are served by one wake-up (see BUCKET). A timer
                // already set no later than the bucket is kept: it may wake the loop early,
                // never late, and an early wake-up finds nothing due and sets it again. A
                // backup's earliest deadline moves later with nearly every advert, so
                // setting it each time cost a timerfd_settime per advert (10,000 a second
                // at 100 instances x 10 ms); kept, it wakes about once per deadline span.
                let bucket = round_up(origin_mono.saturating_add(deadline));
                if armed.is_none_or(|at| at > bucket) {
                    let at = TimeSpec::from_duration(bucket);
                    if let Err(e) = fd.get_ref().timer().set(
                        Expiration::OneShot(at),
                        TimerSetTimeFlags::TFD_TIMER_ABSTIME,
                    ) {
                        warn!("cannot set the protocol timer ({e}); using tokio's clock");
                        self.clock = Clock::Tokio;
                        return sleep_until(self.origin, deadline).await;
                    }
                    *armed = Some(bucket);
                }
                loop {
                    let Ok(mut ready) = fd.readable().await else {
                        break;
                    };
                    // Reading clears the expiry; an early wake-up reads EAGAIN and waits on.
                    match ready
                        .try_io(|inner| inner.get_ref().timer().wait().map_err(io::Error::from))
                    {
                        Ok(Ok(())) => {
                            // The read took every expiry: the timerfd is not readable
                            // again until it is set and expires. Without this, the next
                            // wait would first read EAGAIN (a system call per wake-up).
                            ready.clear_ready();
                            *armed = None;
                            return;
                        }
                        Ok(Err(e)) => {
                            warn!("cannot read the protocol timer ({e}); using tokio's clock");
                            break;
                        }
                        Err(_would_block) => continue,
                    }
                }
                self.clock = Clock::Tokio;
                sleep_until(self.origin, deadline).await
            }
            Clock::Tokio => sleep_until(self.origin, deadline).await,
        }
    }
}

/// Wake-ups are rounded up to this grain, so instances whose deadlines fall within it are
/// served together: at 100 instances x 10 ms adverts, one wake-up per deadline doubled the
/// daemon's CPU (10,000 wake-ups a second instead of tokio's 1 ms batches). 250 us keeps a
/// takeover within 0.5 ms of its bound.
const BUCKET: Duration = Duration::from_micros(250);

/// `at` rounded up to the next multiple of [`BUCKET`].
fn round_up(at: Duration) -> Duration {
    let grain = BUCKET.as_nanos();
    let nanos = at.as_nanos().div_ceil(grain).saturating_mul(grain);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

fn timerfd(origin: Instant) -> io::Result<Clock> {
    let fd = TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )?;
    // Elapsed first, then the clock: the offset comes out late by the time between the
    // two reads, never early.
    let elapsed = origin.elapsed();
    let now = Duration::from(nix::time::clock_gettime(
        nix::time::ClockId::CLOCK_MONOTONIC,
    )?);
    Ok(Clock::Fd {
        fd: crate::sys::register_timer(fd)?,
        origin_mono: now.saturating_sub(elapsed),
        armed: None,
    })
}

async fn sleep_until(origin: Instant, deadline: Duration) {
    // A deadline too far away for the clock to represent is never reached.
    match origin.checked_add(deadline) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn it_fires_at_its_deadline_and_not_before() {
        runtime().block_on(async {
            let origin = Instant::now();
            let mut timer = ProtocolTimer::new(origin);
            assert!(matches!(timer.clock, Clock::Fd { .. }));
            for step in 1..=5u64 {
                let deadline = origin.elapsed() + Duration::from_micros(300 * step);
                timer.wait(Some(deadline)).await;
                assert!(origin.elapsed() >= deadline, "fired before {deadline:?}");
            }
        });
    }

    #[test]
    fn a_past_deadline_fires_at_once_and_a_moved_one_is_followed() {
        runtime().block_on(async {
            let origin = Instant::now();
            let mut timer = ProtocolTimer::new(origin);
            tokio::time::sleep(Duration::from_millis(5)).await;
            // Already past: at once.
            timer.wait(Some(Duration::from_millis(1))).await;
            // Armed far away, then moved closer before it fires: the closer one wins.
            let far = origin.elapsed() + Duration::from_secs(3600);
            let near = origin.elapsed() + Duration::from_millis(2);
            let never = tokio::time::timeout(Duration::from_millis(20), timer.wait(Some(far)));
            assert!(never.await.is_err());
            timer.wait(Some(near)).await;
            assert!(origin.elapsed() >= near);
        });
    }

    #[test]
    fn wake_ups_are_rounded_up_to_the_bucket() {
        assert_eq!(round_up(Duration::ZERO), Duration::ZERO);
        assert_eq!(round_up(Duration::from_nanos(1)), BUCKET);
        assert_eq!(round_up(BUCKET), BUCKET);
        assert_eq!(round_up(BUCKET + Duration::from_nanos(1)), BUCKET * 2);
    }

    #[test]
    fn no_deadline_never_fires() {
        runtime().block_on(async {
            let mut timer = ProtocolTimer::new(Instant::now());
            let waited = tokio::time::timeout(Duration::from_millis(20), timer.wait(None));
            assert!(waited.await.is_err());
        });
    }
}
