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
//! `garp_extra_if [all] SECONDS` (keepalived: vrrp.c `vrrp_send_vmac_update`, started
//! `garp_master_delay` + SECONDS after becoming master, then every SECONDS): one message per
//! interface, for the first VIP/eVIP on it, on the interfaces other than the instance's own
//! (see [`extra_targets`]).
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
    /// `garp_extra_if` while master: next time, period.
    extra: Option<(Duration, Duration)>,
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

    /// Start (or restart) the `garp_extra_if` messages on becoming master, or when a reload
    /// while master announces again: the first `garp_master_delay` + `extra_if_s` from
    /// `now`, as keepalived times them; `extra_if_s` 0 stops them. The daemon calls it
    /// only when [`extra_targets`] finds interfaces to send on.
    pub fn start_extra(&mut self, now: Duration, garp: &Garp) {
        self.extra = (garp.extra_if_s > 0).then(|| {
            let period = Duration::from_secs(u64::from(garp.extra_if_s));
            let delay = Duration::from_secs(u64::from(garp.master_delay_s));
            (now + delay + period, period)
        });
    }

    /// Stop the `garp_extra_if` messages only.
    pub fn stop_extra(&mut self) {
        self.extra = None;
    }

    /// Stop announcing (on leaving master).
    pub fn stop(&mut self) {
        self.bursts.clear();
        self.refresh = None;
        self.extra = None;
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        let burst = self.bursts.first().map(|&(at, _)| at);
        let refresh = self.refresh.map(|(at, _, _)| at);
        let extra = self.extra.map(|(at, _)| at);
        [burst, refresh, extra].into_iter().flatten().min()
    }

    /// Whether the `garp_extra_if` messages are due at `now` (re-arming them).
    pub fn take_extra_due(&mut self, now: Duration) -> bool {
        match self.extra {
            Some((at, period)) if at <= now => {
                self.extra = Some((now + period, period));
                true
            }
            _ => false,
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

/// Where one VIP/eVIP of an instance lives, for [`extra_targets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement<'a> {
    pub interface: &'a str,
    /// The interface is a VMAC baton made (keepalived's `is_ours`).
    pub on_vmac: bool,
}

/// The VIPs/eVIPs (indices into `vips`) that the `garp_extra_if` messages announce: the
/// first on each interface, as keepalived's `vrrp_send_vmac_update` picks them.
///
/// - `instance_if` is the instance's interface: its VMAC with `use_vmac`. Its adverts keep
///   the switches' MAC caches fresh there, so it is skipped, unless `vmac_xmit_base` (the
///   adverts then leave from the base's MAC, not the VMAC's).
/// - Without `all`, only VMAC interfaces; with `all`, every interface.
/// - keepalived turns the feature off (vrrp.c, instance checks) unless some VIP/eVIP is on
///   another interface than the instance's: a VMAC, or any interface with `all`. So with
///   `vmac_xmit_base` and every address on the instance's VMAC, nothing is sent.
pub fn extra_targets(
    instance_if: &str,
    xmit_base: bool,
    all: bool,
    vips: &[Placement<'_>],
) -> Vec<usize> {
    let elsewhere = |vmac: bool| {
        vips.iter()
            .any(|p| p.interface != instance_if && p.on_vmac == vmac)
    };
    let (extra_vmac, extra_if) = (elsewhere(true), elsewhere(false));
    if !(extra_vmac || (extra_if && all)) {
        return Vec::new();
    }
    let mut done: Vec<&str> = Vec::new();
    let mut targets = Vec::new();
    for (i, p) in vips.iter().enumerate() {
        if (!p.on_vmac && !all)
            || (p.interface == instance_if && !xmit_base)
            || done.contains(&p.interface)
        {
            continue;
        }
        done.push(p.interface);
        targets.push(i);
    }
    targets
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

    fn at(interface: &str, on_vmac: bool) -> Placement<'_> {
        Placement { interface, on_vmac }
    }

    fn extra(seconds: u32) -> Garp {
        Garp {
            extra_if_s: seconds,
            ..Garp::default()
        }
    }

    #[test]
    fn extra_if_starts_after_the_master_delay_plus_the_period_and_repeats() {
        let mut schedule = Schedule::default();
        let garp = extra(10);
        schedule.start(s(100), &garp, Burst::Master, Duration::ZERO);
        schedule.start_extra(s(100), &garp);
        assert_eq!(schedule.take_due(s(100)), 5);
        assert!(!schedule.take_extra_due(s(100)));
        assert_eq!(schedule.take_due(s(105)), 1 + 5);
        assert_eq!(schedule.next_deadline(), Some(s(115)));
        assert!(!schedule.take_extra_due(s(114)));
        assert!(schedule.take_extra_due(s(115)));
        // Counted from when it was sent, as keepalived re-arms its timer.
        assert_eq!(schedule.next_deadline(), Some(s(125)));
        assert!(schedule.take_extra_due(s(126)));
        assert_eq!(schedule.next_deadline(), Some(s(136)));
        // The extra messages are not counted with the per-address bursts.
        assert_eq!(schedule.take_due(s(136)), 0);
        assert!(schedule.take_extra_due(s(136)));
        schedule.stop();
        assert_eq!(schedule.next_deadline(), None);
        assert!(!schedule.take_extra_due(s(1000)));
    }

    #[test]
    fn extra_if_zero_or_stopped_sends_nothing() {
        let mut schedule = Schedule::default();
        let garp = Garp {
            master_repeat: 0,
            ..extra(0)
        };
        schedule.start(s(0), &garp, Burst::Master, Duration::ZERO);
        schedule.start_extra(s(0), &garp);
        assert_eq!(schedule.next_deadline(), None);
        let garp = Garp {
            master_repeat: 0,
            master_delay_s: 0,
            ..extra(3)
        };
        schedule.start_extra(s(0), &garp);
        assert_eq!(schedule.next_deadline(), Some(s(3)));
        schedule.stop_extra();
        assert_eq!(schedule.next_deadline(), None);
    }

    #[test]
    fn a_lower_priority_burst_keeps_the_extra_if_timer() {
        let mut schedule = Schedule::default();
        let garp = Garp {
            master_delay_s: 0,
            ..extra(10)
        };
        schedule.start(s(0), &garp, Burst::Master, Duration::ZERO);
        schedule.start_extra(s(0), &garp);
        schedule.take_due(s(0));
        schedule.start(s(4), &garp, Burst::LowerPriority, Duration::ZERO);
        assert_eq!(schedule.take_due(s(9)), 1 + 5 + 1 + 5);
        assert_eq!(schedule.next_deadline(), Some(s(10)));
        assert!(schedule.take_extra_due(s(10)));
    }

    #[test]
    fn extra_targets_follow_keepalived() {
        // No VMAC, all VIPs on the instance's interface: nothing, with or without `all`.
        let plain = [at("eth0", false), at("eth0", false)];
        assert!(extra_targets("eth0", false, true, &plain).is_empty());
        // A VIP on eth1: only with `all`, the first VIP there, never the instance's own.
        let two = [
            at("eth0", false),
            at("eth1", false),
            at("eth1", false),
            at("eth2", false),
        ];
        assert!(extra_targets("eth0", false, false, &two).is_empty());
        assert_eq!(extra_targets("eth0", false, true, &two), [1, 3]);
        // use_vmac: the instance's VMAC is skipped unless vmac_xmit_base.
        let vmac = [at("vrrp.51", true), at("eth1", false)];
        assert!(extra_targets("vrrp.51", false, false, &vmac).is_empty());
        assert_eq!(extra_targets("vrrp.51", false, true, &vmac), [1]);
        assert_eq!(extra_targets("vrrp.51", true, true, &vmac), [0, 1]);
        // Without `all` a plain interface elsewhere does not turn it on, even with
        // vmac_xmit_base; nor does the instance's own VMAC alone.
        assert!(extra_targets("vrrp.51", true, false, &vmac).is_empty());
        assert!(extra_targets("vrrp.51", true, true, &[at("vrrp.51", true)]).is_empty());
        // A VMAC of the addresses' own (another interface): sent there without `all`.
        let own = [
            at("vrrp.51", true),
            at("vrrp.52", true),
            at("eth1", false),
            at("vrrp.52", true),
        ];
        assert_eq!(extra_targets("vrrp.51", false, false, &own), [1]);
        assert_eq!(extra_targets("vrrp.51", true, false, &own), [0, 1]);
        assert_eq!(extra_targets("vrrp.51", false, true, &own), [1, 2]);
    }
}
