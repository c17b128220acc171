//! What to log when adverts cannot be sent. A master sends one every advertisement interval
//! (10 ms at the fastest), so a lasting failure (a firewall rule, an interface without an
//! address) would write a warning per advert: about 20 a second in the soak's one-way
//! partitions. The first failure is logged, then at most one summary per `EVERY`, and one
//! line when sending works again.

use std::time::Duration;

/// How often a lasting failure is logged again.
pub const EVERY: Duration = Duration::from_secs(10);

/// What the caller should log for one send attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// Nothing: a success after successes, or a failure already reported recently.
    Quiet,
    /// The first failure after sending worked (log it with its error).
    Failing,
    /// The failure goes on: this many more failed since the last line.
    StillFailing { failed: u64 },
    /// Sending works again, after this many failures in all.
    Recovered { failed: u64 },
}

#[derive(Debug, Default)]
pub struct SendErrors {
    /// Failures since sending last worked.
    failed: u64,
    /// Failures not yet mentioned in a log line.
    unreported: u64,
    last_report: Option<Duration>,
    /// The latest error while failing.
    last_error: Option<String>,
    /// Adverts that could not be sent since the daemon started (for `status`).
    pub total: u64,
}

impl SendErrors {
    pub fn failed(&mut self, now: Duration, error: String) -> Report {
        self.last_error = Some(error);
        self.failed += 1;
        self.total += 1;
        if self.failed == 1 {
            self.last_report = Some(now);
            return Report::Failing;
        }
        self.unreported += 1;
        if self.last_report.is_some_and(|t| now < t + EVERY) {
            return Report::Quiet;
        }
        self.last_report = Some(now);
        Report::StillFailing {
            failed: std::mem::take(&mut self.unreported),
        }
    }

    /// Failures in a row and the latest error, while sending fails.
    pub fn failing(&self) -> Option<(u64, &str)> {
        let error = self.last_error.as_deref()?;
        Some((self.failed, error))
    }

    pub fn sent(&mut self) -> Report {
        if self.failed == 0 {
            return Report::Quiet;
        }
        let failed = std::mem::take(&mut self.failed);
        self.last_error = None;
        self.unreported = 0;
        self.last_report = None;
        Report::Recovered { failed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn err() -> String {
        "Operation not permitted (os error 1)".into()
    }

    #[test]
    fn a_lasting_failure_is_logged_once_then_every_ten_seconds() {
        let mut e = SendErrors::default();
        assert_eq!(e.sent(), Report::Quiet);
        assert_eq!(e.failed(ms(0), err()), Report::Failing);
        let quiet = (1..100).filter(|i| e.failed(ms(i * 100), err()) == Report::Quiet);
        assert_eq!(quiet.count(), 99);
        assert_eq!(
            e.failed(ms(10_000), err()),
            Report::StillFailing { failed: 100 }
        );
        assert_eq!(e.failed(ms(10_100), err()), Report::Quiet);
        assert_eq!(e.failing(), Some((102, err().as_str())));
        assert_eq!(e.sent(), Report::Recovered { failed: 102 });
        assert_eq!(e.failing(), None);
        assert_eq!(e.sent(), Report::Quiet);
        assert_eq!(e.total, 102);
    }

    #[test]
    fn a_new_failure_after_recovery_is_logged_at_once() {
        let mut e = SendErrors::default();
        assert_eq!(e.failed(ms(0), err()), Report::Failing);
        assert_eq!(e.sent(), Report::Recovered { failed: 1 });
        assert_eq!(e.failed(ms(50), err()), Report::Failing);
        assert_eq!(e.total, 2);
    }
}
