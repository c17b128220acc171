//! A master's probe of its own VIPs (not in the RFC; a baton alarm, off unless
//! `vip_probe_interval` is set): while MASTER, an ARP probe (RFC 5227, sender 0.0.0.0) for
//! each IPv4 VIP, a duplicate address detection neighbour solicitation (RFC 4862 5.4.2,
//! from ::) for each IPv6 VIP, [`FIRST_PROBE`] after taking over and every
//! `vip_probe_interval` after that. Any host that holds the address answers; an answer
//! within [`LISTEN`] from a MAC that is not this node's is a conflict: another host (a
//! static address, a peer that missed the handover) takes the clients' traffic. The daemon
//! raises an alarm and announces the VIPs again at once (a fresh gratuitous ARP /
//! unsolicited NA burst, at most once per probe round).
//!
//! A conflict clears when a probe round ends ([`LISTEN`] after its probes) without a word
//! from that MAC for that VIP, or when this node leaves MASTER. One conflict per VIP (the
//! last foreign MAC heard), so the table is bounded by the configuration.
//!
//! Pure: the daemon passes the time.

use std::net::IpAddr;
use std::time::Duration;

/// The first probe after becoming master: once the first gratuitous ARP burst has gone out.
pub const FIRST_PROBE: Duration = Duration::from_secs(2);
/// How long answers to a round are waited for before it counts as quiet.
pub const LISTEN: Duration = Duration::from_secs(1);

/// Another MAC that answers for one of the VIPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub vip: IpAddr,
    pub mac: [u8; 6],
    /// When it was first heard.
    pub since: Duration,
    /// When it was last heard.
    pub last: Duration,
    /// Heard in the round now open.
    seen_this_round: bool,
}

/// What the daemon does at a deadline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// Send a probe for each VIP now.
    pub probe: bool,
    /// Conflicts a quiet round cleared.
    pub cleared: Vec<Conflict>,
}

/// What a foreign answer changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A new conflict (or another MAC for the VIP): alarm and announce.
    Raised,
    /// Known, first time this round: announce again (at most once per round).
    Again,
    /// Known and already handled this round.
    Nothing,
}

/// The probe state of one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prober {
    next_probe: Option<Duration>,
    /// Between two rounds.
    interval: Duration,
    round_ends: Option<Duration>,
    conflicts: Vec<Conflict>,
    /// A burst was asked for this round.
    announced: bool,
}

impl Prober {
    /// On becoming master, probing every `interval` (zero: not at all).
    pub fn start(&mut self, now: Duration, interval: Duration) {
        self.interval = interval;
        self.next_probe = (!interval.is_zero()).then(|| now.saturating_add(FIRST_PROBE));
        self.round_ends = None;
    }

    /// On leaving master: stops probing, returns the conflicts it clears.
    pub fn stop(&mut self) -> Vec<Conflict> {
        self.next_probe = None;
        self.round_ends = None;
        std::mem::take(&mut self.conflicts)
    }

    /// Between two rounds, as last started.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Probing (this node is master).
    pub fn active(&self) -> bool {
        self.next_probe.is_some()
    }

    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        [self.next_probe, self.round_ends]
            .into_iter()
            .flatten()
            .min()
    }

    /// What is due at `now`.
    pub fn take_due(&mut self, now: Duration) -> Due {
        let mut due = Due::default();
        if self.round_ends.is_some_and(|t| t <= now) {
            self.round_ends = None;
            let (kept, quiet) = std::mem::take(&mut self.conflicts)
                .into_iter()
                .partition(|c| c.seen_this_round);
            self.conflicts = kept;
            due.cleared = quiet;
        }
        if self.next_probe.is_some_and(|t| t <= now) {
            self.next_probe = Some(now.saturating_add(self.interval));
            self.round_ends = Some(now.saturating_add(LISTEN));
            self.announced = false;
            for c in &mut self.conflicts {
                c.seen_this_round = false;
            }
            due.probe = true;
        }
        due
    }

    /// An answer to the probe for `vip` from `mac`, which is not this node's. Counted only
    /// while a round is open (within [`LISTEN`] of its probes).
    pub fn heard(&mut self, now: Duration, vip: IpAddr, mac: [u8; 6]) -> Heard {
        if !self.active() || self.round_ends.is_none() {
            return Heard::Nothing;
        }
        let first_this_round = !self.announced;
        self.announced = true;
        match self.conflicts.iter_mut().find(|c| c.vip == vip) {
            Some(c) if c.mac == mac => {
                c.last = now;
                c.seen_this_round = true;
                if first_this_round {
                    Heard::Again
                } else {
                    Heard::Nothing
                }
            }
            Some(c) => {
                *c = Conflict {
                    vip,
                    mac,
                    since: now,
                    last: now,
                    seen_this_round: true,
                };
                Heard::Raised
            }
            None => {
                self.conflicts.push(Conflict {
                    vip,
                    mac,
                    since: now,
                    last: now,
                    seen_this_round: true,
                });
                Heard::Raised
            }
        }
    }
}

/// `02:00:5e:00:00:0a`.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    const INTERVAL: Duration = Duration::from_secs(10);
    const OTHER: [u8; 6] = [2, 0, 0, 0, 0, 0xcc];

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_master_probes_after_its_first_burst_then_every_interval() {
        let mut p = Prober::default();
        assert_eq!(p.next_deadline(), None);
        p.start(s(10), INTERVAL);
        assert_eq!(p.next_deadline(), Some(s(10) + FIRST_PROBE));
        assert!(!p.take_due(s(11)).probe);
        assert!(p.take_due(s(12)).probe);
        assert_eq!(p.next_deadline(), Some(s(12) + LISTEN));
        assert_eq!(p.take_due(s(13)), Due::default(), "a quiet round");
        assert_eq!(p.next_deadline(), Some(s(12) + INTERVAL));
        assert_eq!(
            p.heard(s(14), VIP, OTHER),
            Heard::Nothing,
            "no round open: not an answer to a probe"
        );
        assert!(p.conflicts().is_empty());
        assert!(p.take_due(s(22)).probe);
        assert_eq!(p.stop(), vec![]);
        assert_eq!(p.next_deadline(), None);
        assert_eq!(p.heard(s(23), VIP, OTHER), Heard::Nothing, "not master");
    }

    #[test]
    fn a_foreign_answer_raises_once_announces_once_per_round_and_clears_when_quiet() {
        let mut p = Prober::default();
        p.start(s(0), INTERVAL);
        assert!(p.take_due(s(2)).probe);
        assert_eq!(p.heard(s(2), VIP, OTHER), Heard::Raised);
        assert_eq!(p.heard(s(2), VIP, OTHER), Heard::Nothing);
        assert_eq!(p.conflicts().len(), 1);
        assert_eq!(p.take_due(s(3)).cleared, vec![], "heard this round");
        // Next round: heard again, one more burst.
        assert!(p.take_due(s(12)).probe);
        assert_eq!(p.heard(s(12), VIP, OTHER), Heard::Again);
        assert_eq!(p.heard(s(12), VIP, OTHER), Heard::Nothing);
        assert_eq!(p.take_due(s(13)).cleared, vec![]);
        assert_eq!(p.conflicts()[0].since, s(2));
        assert_eq!(p.conflicts()[0].last, s(12));
        // A quiet round clears it.
        assert!(p.take_due(s(22)).probe);
        let cleared = p.take_due(s(23)).cleared;
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].mac, OTHER);
        assert!(p.conflicts().is_empty());
    }

    #[test]
    fn an_interval_of_zero_never_probes() {
        let mut p = Prober::default();
        p.start(s(0), Duration::ZERO);
        assert!(!p.active());
        assert_eq!(p.next_deadline(), None);
        assert_eq!(p.take_due(s(100)), Due::default());
    }

    #[test]
    fn leaving_master_clears_and_another_mac_replaces_the_first() {
        let mut p = Prober::default();
        p.start(s(0), INTERVAL);
        p.take_due(s(2));
        p.heard(s(2), VIP, OTHER);
        assert_eq!(p.heard(s(2), VIP, [2, 0, 0, 0, 0, 0xdd]), Heard::Raised);
        assert_eq!(p.conflicts().len(), 1, "one per VIP");
        assert_eq!(p.stop().len(), 1);
        assert!(p.conflicts().is_empty());
        assert_eq!(mac_string(OTHER), "02:00:00:00:00:cc");
    }
}
