//! When to send gratuitous ARPs / unsolicited neighbour advertisements after becoming master:
//! keepalived's `garp_master_repeat` messages at once, the same again `garp_master_delay`
//! later, then `garp_master_refresh_repeat` every `garp_master_refresh` while master. After
//! a lower-priority master was heard (a split brain began or ended), the same with
//! `garp_lower_prio_repeat` and `garp_lower_prio_delay` (keepalived: vrrp.c, the master's
//! receive of a lower-priority advert); the refresh goes on as it was.
//! baton adds one message per address 1.1 s after the first burst: Linux ignores a neighbour
//! update that comes within `locktime` (1 s by default) of the last one, so after a split
//! brain, where the other master announced the same address a moment before, the first
//! burst can be lost on the clients and only the second, 5 s later, would move them.
//! Pure: the daemon asks for due bursts with the current time.

use std::time::Duration;

use crate::config::Garp;

/// Just past Linux's default neighbour `locktime` (1 s).
const PAST_LOCKTIME: Duration = Duration::from_millis(1100);

/// Why the addresses are announced: which GARP settings apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Burst {
    /// On becoming master: `garp_master_delay` / `garp_master_repeat`.
    Master,
    /// A lower-priority master was heard: `garp_lower_prio_delay` / `garp_lower_prio_repeat`.
    LowerPriority,
}

/// Pending bursts of one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// (when, how many messages per address), in time order.
    bursts: Vec<(Duration, u32)>,
    /// Periodic refresh while master: next time, period, messages per address.
    refresh: Option<(Duration, Duration, u32)>,
}

impl Schedule {
    /// Start announcing at `now` (on becoming master, or to heal a split brain); `spacing`
    /// is the pause between two messages of a burst (zero: back to back).
    pub fn start(&mut self, now: Duration, garp: &Garp, burst: Burst, spacing: Duration) {
        let (repeat, delay_s) = match burst {
            Burst::Master => (garp.master_repeat, garp.master_delay_s),
            Burst::LowerPriority => (garp.lower_prio_repeat, garp.lower_prio_delay_s),
        };
        if burst == Burst::Master {
            self.bursts.clear();
        }
        if repeat > 0 {
            self.push_burst(now, repeat, spacing);
            self.push_burst(now + PAST_LOCKTIME, 1, spacing);
            if delay_s > 0 {
                let later = now + Duration::from_secs(u64::from(delay_s));
                self.push_burst(later, repeat, spacing);
            }
            self.bursts.sort_by_key(|&(at, _)| at);
        }
        if burst == Burst::LowerPriority {
            return;
        }
        self.refresh = (garp.master_refresh_s > 0 && garp.master_refresh_repeat > 0).then(|| {
            let period = Duration::from_secs(u64::from(garp.master_refresh_s));
            (now + period, period, garp.master_refresh_repeat)
        });
    }

    fn push_burst(&mut self, at: Duration, count: u32, spacing: Duration) {
        if spacing.is_zero() {
            self.bursts.push((at, count));
            return;
        }
        for i in 0..count {
            self.bursts.push((at + spacing * i, 1));
        }
    }

    /// Stop announcing (on leaving master).
    pub fn stop(&mut self) {
        self.bursts.clear();
        self.refresh = None;
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        let burst = self.bursts.first().map(|&(at, _)| at);
        let refresh = self.refresh.map(|(at, _, _)| at);
        match (burst, refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The number of messages per address due at `now` (0 if none), re-arming the refresh.
    pub fn take_due(&mut self, now: Duration) -> u32 {
        let due = self.bursts.partition_point(|&(at, _)| at <= now);
        let mut count: u32 = self.bursts.drain(..due).map(|(_, n)| n).sum();
        if let Some((at, period, repeat)) = self.refresh
            && at <= now
        {
            count += repeat;
            self.refresh = Some((now + period, period, repeat));
        }
        count
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
        schedule.start(s(10), &Garp::default(), Burst::Master, Duration::ZERO);
        assert_eq!(schedule.take_due(s(10)), 5);
        // One more past the clients' neighbour locktime (baton's addition).
        assert_eq!(schedule.next_deadline(), Some(s(10) + PAST_LOCKTIME));
        assert_eq!(schedule.take_due(s(11)), 0);
        assert_eq!(schedule.take_due(s(12)), 1);
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
        schedule.start(s(0), &garp, Burst::Master, Duration::ZERO);
        assert_eq!(schedule.take_due(s(0)), 3);
        assert_eq!(schedule.take_due(s(2)), 1);
        assert_eq!(schedule.next_deadline(), Some(s(60)));
        assert_eq!(schedule.take_due(s(60)), 2);
        assert_eq!(schedule.next_deadline(), Some(s(120)));
        assert_eq!(schedule.take_due(s(120)), 2);
        schedule.stop();
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn garp_interval_spaces_the_messages_of_a_burst() {
        let ms = Duration::from_millis;
        let mut schedule = Schedule::default();
        schedule.start(s(0), &Garp::default(), Burst::Master, ms(200));
        let mut sent = Vec::new();
        while let Some(at) = schedule.next_deadline() {
            let n = schedule.take_due(at);
            sent.push((at, n));
        }
        let expected: Vec<(Duration, u32)> = (0..5)
            .map(|i| (ms(200) * i, 1))
            .chain([(PAST_LOCKTIME, 1)])
            .chain((0..5).map(|i| (s(5) + ms(200) * i, 1)))
            .collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn zero_repeat_sends_nothing() {
        let garp = Garp {
            master_repeat: 0,
            ..Garp::default()
        };
        let mut schedule = Schedule::default();
        schedule.start(s(0), &garp, Burst::Master, Duration::ZERO);
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn restarting_replaces_pending_bursts() {
        let mut schedule = Schedule::default();
        schedule.start(s(0), &Garp::default(), Burst::Master, Duration::ZERO);
        schedule.take_due(s(0));
        schedule.start(s(3), &Garp::default(), Burst::Master, Duration::ZERO);
        assert_eq!(schedule.take_due(s(3)), 5);
        assert_eq!(schedule.take_due(s(5)), 1);
        assert_eq!(schedule.next_deadline(), Some(s(8)));
    }

    #[test]
    fn a_lower_priority_master_uses_the_lower_prio_settings_and_keeps_the_refresh() {
        let garp = Garp {
            lower_prio_repeat: 2,
            lower_prio_delay_s: 3,
            master_refresh_s: 60,
            ..Garp::default()
        };
        let mut schedule = Schedule::default();
        schedule.start(s(0), &garp, Burst::Master, Duration::ZERO);
        assert_eq!(schedule.take_due(s(0)), 5);
        schedule.start(s(2), &garp, Burst::LowerPriority, Duration::ZERO);
        // The master's first follow-ups (locktime, its second burst at 5 s) stay; the lower
        // priority burst and its own follow-ups come beside them.
        assert_eq!(schedule.take_due(s(2)), 1 + 2);
        assert_eq!(schedule.take_due(Duration::from_millis(3200)), 1);
        assert_eq!(schedule.take_due(s(5)), 2 + 5);
        assert_eq!(schedule.next_deadline(), Some(s(60)));
        assert_eq!(schedule.take_due(s(60)), 1);
    }

    #[test]
    fn garp_lower_prio_repeat_zero_announces_nothing_again() {
        let garp = Garp {
            lower_prio_repeat: 0,
            ..Garp::default()
        };
        let mut schedule = Schedule::default();
        schedule.start(s(0), &garp, Burst::LowerPriority, Duration::ZERO);
        assert_eq!(schedule.next_deadline(), None);
    }
}
