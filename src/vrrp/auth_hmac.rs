//! keepalived's `auth_hmac` (keepalived 2.4.0) for one instance: which key signs, the send
//! sequence, and the receive check with its replay memory. Pure: the daemon passes the
//! wall-clock time ([`WallClock`]) of each send and receive.
//!
//! Behaviour learned from keepalived 2.4.3 (`keepalived/vrrp/vrrp_auth_hmac.c`:
//! `next_seq`, `vrrp_auth_hmac_check`, `replay_ok`, `mcast_state`; `keepalived/vrrp/vrrp.c`:
//! `vrrp_auth_ext_verify`, `vrrp_check_packet`); the trailer itself is `wire::auth_hmac`.

use std::net::IpAddr;

use crate::wire::auth_hmac::{self, EXT_TYPE_SHA256, Signer, Trailer};
use crate::wire::vrrp::Version;

/// Replay memory slots for multicast senders (keepalived's `VRRP_AUTH_HMAC_MCAST_SENDERS`):
/// two senders at once happen only during a contention, so a few suffice.
pub const MULTICAST_SENDERS: usize = 4;

/// A wall-clock reading (UTC), passed in by the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallClock {
    pub unix_secs: u64,
    pub nanos: u32,
}

/// What an instance does with trailers (keepalived's `vrrp_auth_hmac_mode_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Sign; an advert without a valid trailer is dropped.
    Enforce,
    /// Sign; an advert without a trailer is accepted too.
    Permissive,
    /// Do not sign; an advert without a trailer is accepted too.
    ReceiveOnly,
}

/// The instance's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Key id and key bytes.
    pub keys: Vec<(u8, Vec<u8>)>,
    pub active_key: u8,
    pub mode: Mode,
    /// `anti_replay time` with its window in seconds; `None` for `anti_replay monotonic`.
    pub window_s: Option<u32>,
    /// Unicast: the peers, the only senders heard (keepalived anchors replay state on a
    /// configured peer). `None` for multicast.
    pub unicast_peers: Option<Vec<IpAddr>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u8> = self.keys.iter().map(|k| k.0).collect();
        f.debug_struct("Config")
            .field("key_ids", &ids)
            .field("active_key", &self.active_key)
            .field("mode", &self.mode)
            .field("window_s", &self.window_s)
            .field("unicast_peers", &self.unicast_peers)
            .finish()
    }
}

/// Why an advert was dropped by the `auth_hmac` check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Drop {
    /// No trailer, in enforce mode.
    #[error("no authentication trailer")]
    Missing,
    /// A trailer on an instance without `auth_hmac` (keepalived drops it as too long).
    #[error("an authentication trailer this instance is not configured for")]
    Unexpected,
    /// Unicast: the sender is not a configured peer.
    #[error("sender is not a unicast peer")]
    UnknownPeer,
    /// Another extension type, or reserved bits set.
    #[error("malformed authentication trailer")]
    Malformed,
    /// `anti_replay time`: its time is outside the window of ours.
    #[error("authentication trailer outside the time window (skew {0} s)")]
    Stale(i32),
    /// A key id this instance does not have.
    #[error("unknown authentication key id {0}")]
    UnknownKey(u8),
    /// The MAC does not verify: another key, or an altered advert.
    #[error("authentication HMAC does not verify")]
    BadMac,
    /// The sequence is not newer than the last one accepted from this sender.
    #[error("replayed authentication sequence")]
    Replay,
}

impl Drop {
    /// A stable snake_case name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Drop::Missing => "hmac_missing",
            Drop::Unexpected => "hmac_unexpected",
            Drop::UnknownPeer => "hmac_unknown_peer",
            Drop::Malformed => "hmac_malformed",
            Drop::Stale(_) => "hmac_stale",
            Drop::UnknownKey(_) => "hmac_unknown_key",
            Drop::BadMac => "hmac_bad_mac",
            Drop::Replay => "hmac_replay",
        }
    }
}

/// An accepted advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its trailer verified.
    Verified {
        /// `anti_replay time`: our clock minus its, seconds (keepalived warns past half
        /// the window).
        skew_s: Option<i32>,
    },
    /// Without a trailer, accepted by permissive or receive-only.
    Unsigned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sender {
    addr: IpAddr,
    /// The last sequence accepted; `None` once expired.
    seq: Option<u64>,
    rank: u64,
}

/// One instance's `auth_hmac` state.
#[derive(Clone, Debug)]
pub struct AuthHmac {
    config: Config,
    /// The last sequence sent.
    send_seq: u64,
    senders: Vec<Sender>,
    clock: u64,
}

impl AuthHmac {
    pub fn new(config: Config) -> AuthHmac {
        AuthHmac {
            config,
            send_seq: 0,
            senders: Vec::new(),
            clock: 0,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// New settings on a reload: the send sequence and the replay memory are kept (a
    /// sequence that went backwards would be dropped by every receiver).
    pub fn reconfigure(&mut self, config: Config) {
        self.config = config;
    }

    /// The signer of the next advert, or `None` when this instance sends no trailer
    /// (receive-only). Every copy of one advert (to each unicast peer) is signed with
    /// one call, as keepalived does.
    pub fn signer(&mut self, now: WallClock) -> Option<Signer<'_>> {
        if self.config.mode == Mode::ReceiveOnly {
            return None;
        }
        let seq = self.next_seq(now);
        let key = self
            .config
            .keys
            .iter()
            .find(|k| k.0 == self.config.active_key)?;
        Some(Signer {
            key_id: key.0,
            key: &key.1,
            seq,
        })
    }

    /// keepalived's `next_seq`: the clock, or the last sequence plus one when the clock has
    /// not moved past it. With `anti_replay time`, a last sequence more than the window
    /// ahead of the clock (the clock was set back) restarts from the clock, which receivers
    /// accept again once their memory of us expires.
    fn next_seq(&mut self, now: WallClock) -> u64 {
        let clock = auth_hmac::clock_seq(now.unix_secs, now.nanos);
        if auth_hmac::seq_after(clock, self.send_seq) {
            self.send_seq = clock;
            return clock;
        }
        let ahead = ((self.send_seq >> 32) as u32).wrapping_sub((clock >> 32) as u32) as i32;
        match self.config.window_s {
            Some(window) if i64::from(ahead) > i64::from(window) => self.send_seq = clock,
            _ => self.send_seq = self.send_seq.wrapping_add(1),
        }
        self.send_seq
    }

    /// keepalived's `vrrp_auth_ext_verify` and `vrrp_auth_hmac_check`, in their order: the
    /// trailer's presence (by mode), the unicast peer, the format, the time window (before
    /// the costly MAC, and never trusted: it only rejects), the key, the MAC, and last the
    /// replay memory, which only a verified advert moves.
    pub fn check(
        &mut self,
        now: WallClock,
        src: IpAddr,
        version: Version,
        vrid: u8,
        pdu: &[u8],
        trailer: Option<&Trailer>,
    ) -> Result<Verdict, Drop> {
        let Some(trailer) = trailer else {
            return match self.config.mode {
                Mode::Enforce => Err(Drop::Missing),
                Mode::Permissive | Mode::ReceiveOnly => Ok(Verdict::Unsigned),
            };
        };
        if let Some(peers) = &self.config.unicast_peers
            && !peers.contains(&src)
        {
            return Err(Drop::UnknownPeer);
        }
        if trailer.ext_type != EXT_TYPE_SHA256 || trailer.reserved != 0 {
            return Err(Drop::Malformed);
        }
        let skew_s = self.config.window_s.map(|_| skew(now, trailer.seconds()));
        if let (Some(window), Some(skew)) = (self.config.window_s, skew_s)
            && !within(skew, window)
        {
            return Err(Drop::Stale(skew));
        }
        let key = self
            .config
            .keys
            .iter()
            .find(|k| k.0 == trailer.key_id)
            .ok_or(Drop::UnknownKey(trailer.key_id))?;
        if !auth_hmac::verify(&key.1, version, vrid, src, pdu, trailer) {
            return Err(Drop::BadMac);
        }
        self.replay_ok(now, src, trailer.seq)?;
        Ok(Verdict::Verified { skew_s })
    }

    /// keepalived's `replay_ok`: strictly growing per sender (serial order), the memory of
    /// a sender expired once outside the window (a sender reset after a clock step is heard
    /// again). Multicast: the least recently heard of [`MULTICAST_SENDERS`] slots is reused.
    fn replay_ok(&mut self, now: WallClock, src: IpAddr, seq: u64) -> Result<(), Drop> {
        self.clock += 1;
        let rank = self.clock;
        let window = self.config.window_s;
        let slot = match self.senders.iter().position(|s| s.addr == src) {
            Some(i) => i,
            None => {
                let limit = match &self.config.unicast_peers {
                    Some(peers) => peers.len().max(1),
                    None => MULTICAST_SENDERS,
                };
                if self.senders.len() >= limit {
                    let oldest = (0..self.senders.len())
                        .min_by_key(|&i| self.senders[i].rank)
                        .unwrap_or(0);
                    self.senders.swap_remove(oldest);
                }
                self.senders.push(Sender {
                    addr: src,
                    seq: None,
                    rank,
                });
                self.senders.len() - 1
            }
        };
        let sender = &mut self.senders[slot];
        sender.rank = rank;
        if let (Some(window), Some(last)) = (window, sender.seq)
            && !within(skew(now, (last >> 32) as u32), window)
        {
            sender.seq = None;
        }
        if let Some(last) = sender.seq
            && !auth_hmac::seq_after(seq, last)
        {
            return Err(Drop::Replay);
        }
        sender.seq = Some(seq);
        Ok(())
    }

    /// Senders remembered (for tests and status).
    pub fn senders(&self) -> usize {
        self.senders.len()
    }
}

/// Our clock minus `secs`, in the trailer's 32-bit seconds (serial order).
fn skew(now: WallClock, secs: u32) -> i32 {
    (now.unix_secs as u32).wrapping_sub(secs) as i32
}

fn within(skew: i32, window: u32) -> bool {
    i64::from(skew).abs() <= i64::from(window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::{Auth, ChecksumMode, Repr};
    use std::net::Ipv4Addr;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";
    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> WallClock {
        WallClock {
            unix_secs: secs,
            nanos: 0,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn config(mode: Mode, window_s: Option<u32>) -> Config {
        Config {
            keys: vec![(1, KEY.to_vec()), (2, OTHER.to_vec())],
            active_key: 1,
            mode,
            window_s,
            unicast_peers: None,
        }
    }

    fn repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 7,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![ip(100)],
        }
    }

    /// An advert signed by `sender` at `now`: the message and its trailer.
    fn signed(sender: &mut AuthHmac, now: WallClock, src: IpAddr) -> (Vec<u8>, Trailer) {
        let signer = sender.signer(now).unwrap();
        let repr = repr();
        let mut buf = vec![0; repr.buffer_len() + auth_hmac::TRAILER_LEN];
        let dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        repr.emit_signed(&mut buf, src, dst, ChecksumMode::Rfc, &signer)
            .unwrap();
        let (parsed, trailer) = Repr::parse_signed(&buf, src, dst, ChecksumMode::Rfc).unwrap();
        buf.truncate(parsed.buffer_len());
        (buf, trailer.unwrap())
    }

    fn check(
        rx: &mut AuthHmac,
        now: WallClock,
        src: IpAddr,
        advert: &(Vec<u8>, Trailer),
    ) -> Result<Verdict, Drop> {
        rx.check(now, src, Version::V3, 7, &advert.0, Some(&advert.1))
    }

    #[test]
    fn a_signed_advert_is_accepted_once() {
        let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let mut rx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let a = signed(&mut tx, at(T0), ip(1));
        assert_eq!(
            check(&mut rx, at(T0 + 1), ip(1), &a),
            Ok(Verdict::Verified { skew_s: Some(1) })
        );
        // The same advert again: replayed.
        assert_eq!(check(&mut rx, at(T0 + 1), ip(1), &a), Err(Drop::Replay));
        // The next one is newer, even within the same clock reading.
        let b = signed(&mut tx, at(T0), ip(1));
        assert!(auth_hmac::seq_after(b.1.seq, a.1.seq));
        assert!(check(&mut rx, at(T0 + 1), ip(1), &b).is_ok());
        // An older one after a newer one: replayed.
        assert_eq!(check(&mut rx, at(T0 + 1), ip(1), &a), Err(Drop::Replay));
    }

    #[test]
    fn stale_and_future_adverts_are_dropped_before_the_mac() {
        let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let mut rx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let a = signed(&mut tx, at(T0), ip(1));
        assert_eq!(check(&mut rx, at(T0 + 6), ip(1), &a), Err(Drop::Stale(6)));
        assert_eq!(check(&mut rx, at(T0 - 6), ip(1), &a), Err(Drop::Stale(-6)));
        // Stale is decided before the MAC: a forged stale advert counts as stale.
        let mut forged = a.clone();
        forged.1.mac[0] ^= 1;
        assert_eq!(
            check(&mut rx, at(T0 + 6), ip(1), &forged),
            Err(Drop::Stale(6))
        );
        assert_eq!(
            check(&mut rx, at(T0 + 5), ip(1), &forged),
            Err(Drop::BadMac)
        );
        // At the edge of the window: accepted.
        assert!(check(&mut rx, at(T0 + 5), ip(1), &a).is_ok());
        assert_eq!(rx.senders(), 1, "only a verified advert is remembered");
    }

    #[test]
    fn monotonic_ignores_time_but_not_order() {
        let mut tx = AuthHmac::new(config(Mode::Enforce, None));
        let mut rx = AuthHmac::new(config(Mode::Enforce, None));
        let a = signed(&mut tx, at(T0), ip(1));
        let b = signed(&mut tx, at(T0 + 1), ip(1));
        assert_eq!(
            check(&mut rx, at(T0 + 100_000), ip(1), &b),
            Ok(Verdict::Verified { skew_s: None })
        );
        assert_eq!(check(&mut rx, at(T0), ip(1), &a), Err(Drop::Replay));
    }

    #[test]
    fn wrong_key_unknown_key_malformed_and_forged_source() {
        let mut tx = AuthHmac::new(Config {
            active_key: 2,
            ..config(Mode::Enforce, Some(5))
        });
        let mut rx = AuthHmac::new(Config {
            keys: vec![(2, KEY.to_vec())],
            ..config(Mode::Enforce, Some(5))
        });
        let a = signed(&mut tx, at(T0), ip(1));
        // Key id 2 is known to the receiver, with other bytes.
        assert_eq!(check(&mut rx, at(T0), ip(1), &a), Err(Drop::BadMac));
        let mut rx1 = AuthHmac::new(Config {
            keys: vec![(1, OTHER.to_vec())],
            ..config(Mode::Enforce, Some(5))
        });
        assert_eq!(check(&mut rx1, at(T0), ip(1), &a), Err(Drop::UnknownKey(2)));
        let mut right = AuthHmac::new(config(Mode::Enforce, Some(5)));
        // Another source than the signer's: the pseudo header differs.
        assert_eq!(check(&mut right, at(T0), ip(9), &a), Err(Drop::BadMac));
        let mut bad = a.clone();
        bad.1.ext_type = 2;
        assert_eq!(check(&mut right, at(T0), ip(1), &bad), Err(Drop::Malformed));
        let mut bad = a.clone();
        bad.1.reserved = 1;
        assert_eq!(check(&mut right, at(T0), ip(1), &bad), Err(Drop::Malformed));
        assert!(check(&mut right, at(T0), ip(1), &a).is_ok());
    }

    #[test]
    fn modes_decide_about_adverts_without_a_trailer() {
        let pdu = repr()
            .to_bytes(
                ip(1),
                IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
                ChecksumMode::Rfc,
            )
            .unwrap();
        for (mode, expected) in [
            (Mode::Enforce, Err(Drop::Missing)),
            (Mode::Permissive, Ok(Verdict::Unsigned)),
            (Mode::ReceiveOnly, Ok(Verdict::Unsigned)),
        ] {
            let mut rx = AuthHmac::new(config(mode, Some(5)));
            assert_eq!(
                rx.check(at(T0), ip(1), Version::V3, 7, &pdu, None),
                expected
            );
        }
        // A present trailer must verify in every mode.
        let mut tx = AuthHmac::new(Config {
            keys: vec![(1, OTHER.to_vec())],
            ..config(Mode::Enforce, Some(5))
        });
        let a = signed(&mut tx, at(T0), ip(1));
        for mode in [Mode::Permissive, Mode::ReceiveOnly] {
            let mut rx = AuthHmac::new(config(mode, Some(5)));
            assert_eq!(check(&mut rx, at(T0), ip(1), &a), Err(Drop::BadMac));
        }
        // Receive-only signs nothing; the others sign with the active key.
        assert!(
            AuthHmac::new(config(Mode::ReceiveOnly, Some(5)))
                .signer(at(T0))
                .is_none()
        );
        let mut p = AuthHmac::new(config(Mode::Permissive, Some(5)));
        assert_eq!(p.signer(at(T0)).map(|s| s.key_id), Some(1));
    }

    #[test]
    fn unicast_hears_only_its_peers_and_remembers_each() {
        let peers = Some(vec![ip(1), ip(2)]);
        let mut rx = AuthHmac::new(Config {
            unicast_peers: peers,
            ..config(Mode::Enforce, Some(5))
        });
        let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let from3 = signed(&mut tx, at(T0), ip(3));
        assert_eq!(
            check(&mut rx, at(T0), ip(3), &from3),
            Err(Drop::UnknownPeer)
        );
        let mut tx2 = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let a1 = signed(&mut tx, at(T0 + 1), ip(1));
        let a2 = signed(&mut tx2, at(T0), ip(2));
        assert!(check(&mut rx, at(T0), ip(1), &a1).is_ok());
        assert!(check(&mut rx, at(T0), ip(2), &a2).is_ok());
        assert_eq!(check(&mut rx, at(T0), ip(2), &a2), Err(Drop::Replay));
        assert_eq!(rx.senders(), 2);
    }

    #[test]
    fn multicast_remembers_four_senders_least_recent_out() {
        let mut rx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let mut first = None;
        for n in 1..=5u8 {
            let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
            let a = signed(&mut tx, at(T0), ip(n));
            assert!(check(&mut rx, at(T0), ip(n), &a).is_ok());
            first.get_or_insert(a);
        }
        assert_eq!(rx.senders(), MULTICAST_SENDERS);
        // Sender 1 was forgotten: its old advert is heard again (the window still bounds it).
        let a = first.unwrap();
        assert!(check(&mut rx, at(T0), ip(1), &a).is_ok());
    }

    #[test]
    fn the_send_sequence_grows_and_restarts_after_a_clock_step() {
        let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let a = tx.signer(at(T0)).unwrap().seq;
        let b = tx.signer(at(T0)).unwrap().seq;
        assert_eq!(b, a + 1, "same clock reading: the counter");
        // The clock goes back 3 s (within the window): still growing.
        let c = tx.signer(at(T0 - 3)).unwrap().seq;
        assert_eq!(c, b + 1);
        // Back 60 s (beyond the window): restart from the clock, or no one would accept.
        let d = tx.signer(at(T0 - 60)).unwrap().seq;
        assert_eq!(d >> 32, T0 - 60);
        // Monotonic keeps growing whatever the clock does.
        let mut m = AuthHmac::new(config(Mode::Enforce, None));
        let e = m.signer(at(T0)).unwrap().seq;
        assert_eq!(m.signer(at(T0 - 60)).unwrap().seq, e + 1);
    }

    #[test]
    fn a_receiver_hears_a_sender_reset_once_its_memory_expires() {
        let mut rx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let mut tx = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let a = signed(&mut tx, at(T0 + 3), ip(1));
        assert!(check(&mut rx, at(T0 + 3), ip(1), &a).is_ok());
        // A restarted sender signs with an older time: replayed while the remembered
        // sequence is within the window of our clock...
        let mut restarted = AuthHmac::new(config(Mode::Enforce, Some(5)));
        let b = signed(&mut restarted, at(T0), ip(1));
        assert_eq!(check(&mut rx, at(T0), ip(1), &b), Err(Drop::Replay));
        // ...heard once it is not: both clocks were stepped back 13 s.
        let c = signed(&mut restarted, at(T0 - 10), ip(1));
        assert!(auth_hmac::seq_after(a.1.seq, c.1.seq));
        assert!(check(&mut rx, at(T0 - 10), ip(1), &c).is_ok());
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let c = config(Mode::Enforce, Some(5));
        let text = format!("{:?}", AuthHmac::new(c));
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("key_ids: [1, 2]"), "{text}");
    }
}
