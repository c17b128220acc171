//! When to send gratuitous ARPs / unsolicited neighbour advertisements after becoming master:
//! keepalived's `garp_master_repeat` messages at once, the same again `garp_master_delay`
//! later, then `garp_master_refresh_repeat` every `garp_master_refresh` while master.
//! Pure: the daemon asks for due bursts with the current time.

use std::time::Duration;

use crate::config::Garp;

/// Pending bursts of one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// (when, how many messages per address), in time order.
    bursts: Vec<(Duration, u32)>,
    refresh: Option<(Duration, u32)>,
}

impl Schedule {
    /// Start announcing at `now` (on becoming master, or to heal a split brain).
    pub fn start(&mut self, now: Duration, garp: &Garp) {
        self.bursts.clear();
        if garp.master_repeat > 0 {
            self.bursts.push((now, garp.master_repeat));
            if garp.master_delay_s > 0 {
                let later = now + Duration::from_secs(u64::from(garp.master_delay_s));
                self.bursts.push((later, garp.master_repeat));
            }
        }
        self.refresh = (garp.master_refresh_s > 0 && garp.master_refresh_repeat > 0).then(|| {
            (
                Duration::from_secs(u64::from(garp.master_refresh_s)),
                garp.master_refresh_repeat,
            )
        });
        if let Some((period, count)) = self.refresh {
            self.bursts.push((now + period, count));
        }
    }

    /// Stop announcing (on leaving master).
    pub fn stop(&mut self) {
        self.bursts.clear();
        self.refresh = None;
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.bursts.first().map(|&(at, _)| at)
    }

    /// The number of messages per address due at `now` (0 if none), re-arming the refresh.
    pub fn take_due(&mut self, now: Duration) -> u32 {
        let mut count = 0;
        while let Some(&(at, n)) = self.bursts.first() {
            if at > now {
                break;
            }
            self.bursts.remove(0);
            count += n;
            if let Some((period, repeat)) = self.refresh
                && n == repeat
                && self.bursts.iter().all(|&(t, _)| t <= now + period)
            {
                self.push_sorted(now + period, repeat);
            }
        }
        count
    }

    fn push_sorted(&mut self, at: Duration, count: u32) {
        if self.bursts.iter().any(|&(t, _)| t == at) {
            return;
        }
        let index = self.bursts.partition_point(|&(t, _)| t <= at);
        self.bursts.insert(index, (at, count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn keepalived_defaults_send_five_now_and_five_after_five_seconds() {
        let mut schedule = Schedule::default();
        schedule.start(s(10), &Garp::default());
        assert_eq!(schedule.take_due(s(10)), 5);
        assert_eq!(schedule.next_deadline(), Some(s(15)));
        assert_eq!(schedule.take_due(s(14)), 0);
        assert_eq!(schedule.take_due(s(15)), 5);
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn refresh_repeats_while_master_and_stops_on_leaving() {
        let garp = Garp {
            master_delay_s: 0,
            master_repeat: 3,
            master_refresh_s: 60,
            master_refresh_repeat: 2,
            ..Garp::default()
        };
        let mut schedule = Schedule::default();
        schedule.start(s(0), &garp);
        assert_eq!(schedule.take_due(s(0)), 3);
        assert_eq!(schedule.next_deadline(), Some(s(60)));
        assert_eq!(schedule.take_due(s(60)), 2);
        assert_eq!(schedule.next_deadline(), Some(s(120)));
        assert_eq!(schedule.take_due(s(120)), 2);
        schedule.stop();
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn zero_repeat_sends_nothing() {
        let garp = Garp {
            master_repeat: 0,
            ..Garp::default()
        };
        let mut schedule = Schedule::default();
        schedule.start(s(0), &garp);
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn restarting_replaces_pending_bursts() {
        let mut schedule = Schedule::default();
        schedule.start(s(0), &Garp::default());
        schedule.take_due(s(0));
        schedule.start(s(3), &Garp::default());
        assert_eq!(schedule.take_due(s(3)), 5);
        assert_eq!(schedule.next_deadline(), Some(s(8)));
    }
}
