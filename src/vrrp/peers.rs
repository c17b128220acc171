//! Peers whose adverts disagree with this instance's configuration: another address list,
//! another advert interval, another authentication. Not an RFC state: an alarm for the
//! operator (a half-applied config change, a peer left on an old file).
//!
//! [`Filter::differences`](super::receive::Filter::differences) says what an advert from a
//! member of the group says differently; [`PeerWatch`] keeps, per instance, the peers that
//! disagree now and returns a [`PeerAlarm`] only when that changes (raised, changed,
//! cleared), so the daemon logs once per episode, never per packet.
//!
//! The rule that clears an alarm: an advert from that peer that agrees clears it at once;
//! a peer that falls silent (it stopped, or it became backup: only a master advertises)
//! is cleared after [`SILENT_INTERVALS`] of the longer of the two advert intervals, at least
//! [`MIN_SILENCE`]. At most [`MAX_PEERS`] peers are tracked per instance: a sender of forged
//! adverts from ever new addresses cannot grow the table, and is reported once.

use std::net::IpAddr;
use std::time::Duration;

use super::timers;
use crate::wire::vrrp::Auth;

/// Peers tracked per instance; more are counted, not kept.
pub const MAX_PEERS: usize = 8;
/// A disagreeing peer not heard for this many advert intervals (the longer of ours and
/// its) is forgotten.
pub const SILENT_INTERVALS: u32 = 10;
/// ... but never sooner than this.
pub const MIN_SILENCE: Duration = Duration::from_secs(10);
/// The most addresses kept of a peer's list (a VRRP advert holds at most 255).
const MAX_LISTED: usize = 32;

/// One thing a peer's advert says differently from this instance's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// RFC 5798 7.1 / RFC 3768 7.1 (MAY): the virtual addresses listed. The advert is
    /// still accepted (keepalived logs "ip address associated with VRID ... not present").
    Addresses {
        ours: Vec<IpAddr>,
        theirs: Vec<IpAddr>,
    },
    /// The advert interval, in centiseconds. RFC 3768 7.1: a VRRPv2 advert with another
    /// interval MUST be discarded; RFC 5798 6.4.2: a VRRPv3 backup learns the master's
    /// (keepalived logs "advertisement interval mismatch" for both).
    Interval { ours_cs: u16, theirs_cs: u16 },
    /// RFC 3768 7.1: the authentication type differs; the advert is discarded.
    AuthType {
        ours: &'static str,
        theirs: &'static str,
    },
    /// RFC 3768 7.1: the password differs; the advert is discarded. Neither password is
    /// ever shown.
    Password,
}

impl Difference {
    /// A stable snake_case name: `vips`, `advert_interval`, `auth_type`, `auth_password`.
    pub fn field(&self) -> &'static str {
        match self {
            Difference::Addresses { .. } => "vips",
            Difference::Interval { .. } => "advert_interval",
            Difference::AuthType { .. } => "auth_type",
            Difference::Password => "auth_password",
        }
    }

    /// This instance's side, in words.
    pub fn ours(&self) -> String {
        match self {
            Difference::Addresses { ours, .. } => list(ours),
            Difference::Interval { ours_cs, .. } => seconds(*ours_cs),
            Difference::AuthType { ours, .. } => ours.to_string(),
            Difference::Password => "(hidden)".into(),
        }
    }

    /// The peer's side, in words.
    pub fn theirs(&self) -> String {
        match self {
            Difference::Addresses { theirs, .. } => list(theirs),
            Difference::Interval { theirs_cs, .. } => seconds(*theirs_cs),
            Difference::AuthType { theirs, .. } => theirs.to_string(),
            Difference::Password => "(hidden, differs)".into(),
        }
    }

    /// Whether an advert with this difference is discarded (`v2`: VRRPv2, RFC 3768 7.1),
    /// rather than accepted: a master whose adverts are discarded is not heard, and both
    /// nodes may hold the addresses.
    pub fn discards(&self, v2: bool) -> bool {
        match self {
            Difference::Addresses { .. } => false,
            // An interval of 0 is no advert at all (the state machine drops it).
            Difference::Interval { theirs_cs, .. } => v2 || *theirs_cs == 0,
            Difference::AuthType { .. } | Difference::Password => true,
        }
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Difference::Addresses { .. } => "VIPs",
            Difference::Interval { .. } => "advert interval",
            Difference::AuthType { .. } => "auth type",
            Difference::Password => return write!(f, "auth password differs"),
        };
        write!(f, "{what} ours {} theirs {}", self.ours(), self.theirs())
    }
}

fn list(addresses: &[IpAddr]) -> String {
    if addresses.is_empty() {
        return "(none)".into();
    }
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn seconds(cs: u16) -> String {
    if cs.is_multiple_of(100) {
        format!("{}s", cs / 100)
    } else {
        format!("{}.{:02}s", cs / 100, cs % 100)
    }
}

/// What an advert says differently from this instance: the address lists compared as
/// sets, the interval, the authentication (RFC 3768 7.1). Empty when it agrees.
pub fn compare(
    our_vips: &[IpAddr],
    our_interval_cs: u16,
    our_auth: &Auth,
    theirs: &crate::wire::vrrp::Repr,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let same_addresses = theirs.addresses.len() == our_vips.len()
        && theirs.addresses.iter().all(|a| our_vips.contains(a));
    if !same_addresses {
        let mut ours = our_vips.to_vec();
        let mut listed: Vec<IpAddr> = theirs.addresses.iter().take(MAX_LISTED).copied().collect();
        ours.sort();
        listed.sort();
        listed.dedup();
        out.push(Difference::Addresses {
            ours,
            theirs: listed,
        });
    }
    if theirs.interval_cs != our_interval_cs {
        out.push(Difference::Interval {
            ours_cs: our_interval_cs,
            theirs_cs: theirs.interval_cs,
        });
    }
    match (our_auth, &theirs.auth) {
        (Auth::None, Auth::None) => {}
        (Auth::Pass(a), Auth::Pass(b)) if a == b => {}
        (Auth::Pass(_), Auth::Pass(_)) => out.push(Difference::Password),
        (ours, theirs) => out.push(Difference::AuthType {
            ours: auth_name(ours),
            theirs: auth_name(theirs),
        }),
    }
    out
}

fn auth_name(auth: &Auth) -> &'static str {
    match auth {
        Auth::None => "none",
        Auth::Pass(_) => "PASS",
    }
}

/// A peer that disagrees now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    pub peer: IpAddr,
    pub differences: Vec<Difference>,
    /// When it was raised.
    pub since: Duration,
    /// When its last disagreeing advert came.
    pub last: Duration,
    /// Forgotten at this time unless heard again.
    pub until: Duration,
}

/// A change for the daemon to log and show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAlarm {
    /// A peer started to disagree.
    Raised {
        peer: IpAddr,
        differences: Vec<Difference>,
    },
    /// It still disagrees, differently.
    Changed {
        peer: IpAddr,
        differences: Vec<Difference>,
    },
    /// Its advert agrees again.
    Agrees { peer: IpAddr },
    /// Not heard for the silence (`SILENT_INTERVALS`): forgotten.
    Silent { peer: IpAddr },
    /// The table is full: this peer and any more are not tracked (reported once until a
    /// slot frees up).
    Untracked { peer: IpAddr },
}

/// The peers of one instance that disagree now (bounded by [`MAX_PEERS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerWatch {
    peers: Vec<Disagreement>,
    /// Disagreeing adverts from peers not tracked because the table was full.
    untracked: u64,
    /// `Untracked` was reported and no slot has freed since.
    full_reported: bool,
}

impl PeerWatch {
    /// The peers that disagree now, in the order they were raised.
    pub fn disagreements(&self) -> &[Disagreement] {
        &self.peers
    }

    /// Disagreeing adverts from peers that were not tracked (the table was full).
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// An advert from `peer` (already known to be for this virtual router: right channel,
    /// version and VRID), compared with [`compare`]; `our_cs` / `their_cs` are the advert
    /// intervals that set how long silence lasts.
    pub fn observe(
        &mut self,
        now: Duration,
        peer: IpAddr,
        differences: Vec<Difference>,
        our_cs: u16,
        their_cs: u16,
    ) -> Option<PeerAlarm> {
        let at = self.peers.iter().position(|d| d.peer == peer);
        if differences.is_empty() {
            let at = at?;
            self.forget(at);
            return Some(PeerAlarm::Agrees { peer });
        }
        let until = now.saturating_add(silence(our_cs, their_cs));
        if let Some(at) = at {
            let known = &mut self.peers[at];
            known.last = now;
            known.until = until;
            if known.differences == differences {
                return None;
            }
            known.differences = differences.clone();
            return Some(PeerAlarm::Changed { peer, differences });
        }
        if self.peers.len() >= MAX_PEERS {
            self.untracked = self.untracked.saturating_add(1);
            if self.full_reported {
                return None;
            }
            self.full_reported = true;
            return Some(PeerAlarm::Untracked { peer });
        }
        self.peers.push(Disagreement {
            peer,
            differences: differences.clone(),
            since: now,
            last: now,
            until,
        });
        Some(PeerAlarm::Raised { peer, differences })
    }

    /// Forget the peers silent past their time.
    pub fn expire(&mut self, now: Duration) -> Vec<PeerAlarm> {
        let mut out = Vec::new();
        while let Some(at) = self.peers.iter().position(|d| d.until <= now) {
            out.push(PeerAlarm::Silent {
                peer: self.peers[at].peer,
            });
            self.forget(at);
        }
        out
    }

    /// When the next peer would be forgotten.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.peers.iter().map(|d| d.until).min()
    }

    fn forget(&mut self, at: usize) {
        self.peers.remove(at);
        self.full_reported = false;
    }
}

/// How long a disagreeing peer may stay silent before it is forgotten.
fn silence(our_cs: u16, their_cs: u16) -> Duration {
    let longer = timers::interval(our_cs.max(their_cs).max(1));
    longer.saturating_mul(SILENT_INTERVALS).max(MIN_SILENCE)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::vrrp::{Repr, Version};

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn repr() -> Repr {
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            auth: Auth::Pass(*b"secret\0\0"),
            addresses: vec![v4(100)],
        }
    }

    fn ours(theirs: &Repr) -> Vec<Difference> {
        compare(&[v4(100)], 100, &Auth::Pass(*b"secret\0\0"), theirs)
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn an_advert_that_agrees_has_no_difference() {
        assert_eq!(ours(&repr()), vec![]);
        let reordered = Repr {
            addresses: vec![v4(101), v4(100)],
            ..repr()
        };
        assert_eq!(
            compare(&[v4(100), v4(101)], 100, &reordered.auth, &reordered),
            vec![],
            "the lists are sets"
        );
    }

    #[test]
    fn each_difference_is_named_with_both_sides() {
        let r = Repr {
            addresses: vec![v4(101), v4(100)],
            interval_cs: 200,
            auth: Auth::Pass(*b"other\0\0\0"),
            ..repr()
        };
        let got = ours(&r);
        assert_eq!(
            got,
            vec![
                Difference::Addresses {
                    ours: vec![v4(100)],
                    theirs: vec![v4(100), v4(101)],
                },
                Difference::Interval {
                    ours_cs: 100,
                    theirs_cs: 200
                },
                Difference::Password,
            ]
        );
        let words: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(
            words,
            [
                "VIPs ours 192.0.2.100 theirs 192.0.2.100,192.0.2.101",
                "advert interval ours 1s theirs 2s",
                "auth password differs",
            ]
        );
        assert!(
            !format!("{got:?}").contains("secret") && !format!("{got:?}").contains("other"),
            "no password is kept"
        );
        let none = Repr {
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(
            ours(&none),
            vec![Difference::AuthType {
                ours: "PASS",
                theirs: "none"
            }]
        );
        assert_eq!(
            Difference::Interval {
                ours_cs: 100,
                theirs_cs: 5
            }
            .theirs(),
            "0.05s"
        );
    }

    #[test]
    fn what_is_discarded_depends_on_the_version() {
        let interval = Difference::Interval {
            ours_cs: 100,
            theirs_cs: 200,
        };
        assert!(interval.discards(true), "RFC 3768 7.1");
        assert!(!interval.discards(false), "RFC 5798 6.4.2: learned");
        let zero = Difference::Interval {
            ours_cs: 100,
            theirs_cs: 0,
        };
        assert!(zero.discards(false), "an interval of 0 is dropped");
        assert!(Difference::Password.discards(false));
        assert!(
            !Difference::Addresses {
                ours: vec![],
                theirs: vec![]
            }
            .discards(true)
        );
    }

    #[test]
    fn raised_once_then_cleared_by_an_advert_that_agrees() {
        let mut w = PeerWatch::default();
        let diff = ours(&Repr {
            interval_cs: 200,
            ..repr()
        });
        assert_eq!(
            w.observe(s(1), v4(2), diff.clone(), 100, 200),
            Some(PeerAlarm::Raised {
                peer: v4(2),
                differences: diff.clone()
            })
        );
        for t in 2..50 {
            assert_eq!(
                w.observe(s(t), v4(2), diff.clone(), 100, 200),
                None,
                "once per episode"
            );
        }
        assert_eq!(w.disagreements()[0].since, s(1));
        assert_eq!(w.disagreements()[0].last, s(49));
        assert_eq!(w.observe(s(50), v4(3), vec![], 100, 100), None);
        assert_eq!(
            w.observe(s(50), v4(2), vec![], 100, 100),
            Some(PeerAlarm::Agrees { peer: v4(2) })
        );
        assert!(w.disagreements().is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn a_change_of_difference_is_reported_once() {
        let mut w = PeerWatch::default();
        let a = ours(&Repr {
            interval_cs: 200,
            ..repr()
        });
        let b = ours(&Repr {
            addresses: vec![],
            ..repr()
        });
        w.observe(s(1), v4(2), a, 100, 200);
        assert_eq!(
            w.observe(s(2), v4(2), b.clone(), 100, 100),
            Some(PeerAlarm::Changed {
                peer: v4(2),
                differences: b.clone()
            })
        );
        assert_eq!(w.observe(s(3), v4(2), b, 100, 100), None);
    }

    #[test]
    fn a_silent_peer_is_forgotten_after_its_intervals() {
        let mut w = PeerWatch::default();
        let diff = ours(&Repr {
            interval_cs: 300,
            ..repr()
        });
        w.observe(s(5), v4(2), diff, 100, 300);
        // 10 x 3 s after the last advert.
        assert_eq!(w.next_deadline(), Some(s(35)));
        assert_eq!(w.expire(s(34)), vec![]);
        assert_eq!(w.expire(s(35)), vec![PeerAlarm::Silent { peer: v4(2) }]);
        assert!(w.disagreements().is_empty());
        // Fast adverts: at least MIN_SILENCE.
        w.observe(s(40), v4(2), vec![Difference::Password], 5, 5);
        assert_eq!(w.next_deadline(), Some(s(40) + MIN_SILENCE));
    }

    #[test]
    fn the_table_is_bounded_and_a_flood_is_reported_once() {
        let mut w = PeerWatch::default();
        for last in 0..MAX_PEERS as u8 {
            assert!(matches!(
                w.observe(s(1), v4(last), vec![Difference::Password], 100, 100),
                Some(PeerAlarm::Raised { .. })
            ));
        }
        assert_eq!(
            w.observe(s(1), v4(200), vec![Difference::Password], 100, 100),
            Some(PeerAlarm::Untracked { peer: v4(200) })
        );
        for last in 201..=255 {
            assert_eq!(
                w.observe(s(1), v4(last), vec![Difference::Password], 100, 100),
                None
            );
        }
        assert_eq!(w.disagreements().len(), MAX_PEERS);
        assert_eq!(w.untracked(), 56);
        // A slot frees: the next newcomer is tracked.
        w.observe(s(2), v4(0), vec![], 100, 100);
        assert!(matches!(
            w.observe(s(2), v4(201), vec![Difference::Password], 100, 100),
            Some(PeerAlarm::Raised { .. })
        ));
    }

    #[test]
    fn a_hostile_address_list_is_kept_bounded() {
        let r = Repr {
            addresses: (0..=254).map(v4).collect(),
            ..repr()
        };
        match &ours(&r)[0] {
            Difference::Addresses { theirs, .. } => assert_eq!(theirs.len(), MAX_LISTED),
            other => panic!("{other:?}"),
        }
    }
}
