//! Receive-side checks of RFC 5798 section 7.1 (RFC 3768 section 7.1) that come after
//! decoding: destination, hop limit, version, authentication, the source of the packet and
//! what it claims.
//! A packet that passes becomes an [`Advert`] for [`Instance::handle`](super::Instance::handle);
//! one that fails is dropped with a reason the daemon counts.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::event::Advert;
use super::instance::OWNER_PRIORITY;
use super::peers::{self, Difference};
use crate::wire::vrrp::{Auth, Repr, TTL, Version};

/// What an instance accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub version: Version,
    pub vrid: u8,
    /// VRRPv2 authentication expected (`Auth::None` for VRRPv3).
    pub auth: Auth,
    /// The virtual addresses of the instance.
    pub vips: Vec<IpAddr>,
    /// The configured advert interval in centiseconds, for [`Filter::differences`] (the
    /// VRRPv2 rule that discards another interval is the state machine's).
    pub interval_cs: u16,
    /// Where this instance's adverts are sent: its multicast group, or its unicast peers.
    pub mode: Mode,
    /// This router's own addresses: its own packets coming back are ignored.
    pub own_addresses: Vec<IpAddr>,
    /// Drop priority-255 adverts whose source is not one of the virtual addresses
    /// (keepalived's `vrrp_strict`). Off by default: many keepalived configs give the
    /// preferred node priority 255 without owning the address, and ignoring such a peer
    /// would make two masters.
    pub strict_owner: bool,
}

/// How an instance's adverts travel, and so what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// To a multicast group (224.0.0.18 / ff02::12 unless `vrrp_mcast_group4/6` or
    /// `mcast_dst_ip` say otherwise): only adverts sent to that group, with TTL 255, count.
    Multicast(IpAddr),
    /// To unicast peers (keepalived's `unicast_peer`): adverts sent to one of our addresses.
    Unicast {
        peers: Vec<UnicastPeer>,
        /// Hear only the listed peers (keepalived's `check_unicast_src`, also turned on by
        /// a `min_ttl`/`max_ttl` on a peer). Off: any sender is heard, as in keepalived.
        check_source: bool,
    },
}

/// One `unicast_peer` line as the receive side needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    /// The TTL / hop limit accepted from this peer (`min_ttl`..=`max_ttl`, 0..=255 unless
    /// configured).
    pub ttl: RangeInclusive<u8>,
}

/// Why a decoded packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Drop {
    /// RFC 5798 7.1: the TTL / hop limit of a multicast advert must be 255 (the packet was
    /// routed otherwise); a unicast peer's must be within its `min_ttl`..`max_ttl`.
    #[error("TTL/hop limit {0} is outside what this instance accepts")]
    Ttl(u8),
    /// Sent to another multicast group (a `vrrp_mcast_group4/6` or `mcast_dst_ip` of
    /// another group), or to a multicast group while this instance is unicast, or to a
    /// unicast address while it is multicast.
    #[error("sent to {0}, not to this instance's group or address")]
    Destination(IpAddr),
    #[error("VRRP version differs from the configured one")]
    Version,
    #[error("virtual router ID differs")]
    Vrid,
    /// RFC 3768 7.1: the authentication type differs (e.g. none where PASS is configured).
    #[error("authentication type differs")]
    AuthType,
    /// RFC 3768 7.1: the authentication type matches but the password differs.
    #[error("authentication password does not match")]
    Auth,
    #[error("sent by this router")]
    OwnPacket,
    /// Unicast mode: the sender is not a configured peer.
    #[error("sender is not a configured unicast peer")]
    UnknownPeer,
    /// Priority 255 claims to own the addresses; the owner's primary address is one of them.
    #[error("priority 255 from an address that does not own the virtual addresses")]
    FakeOwner,
}

impl Drop {
    /// RFC 3768 7.1: dropped because its authentication differs from ours, after every
    /// check that makes it an advert of this virtual router from a peer it hears: a peer
    /// whose configuration disagrees (see [`Filter::differences`]).
    pub fn is_disagreement(&self) -> bool {
        matches!(self, Drop::AuthType | Drop::Auth)
    }

    /// A stable snake_case name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Drop::Ttl(_) => "bad_ttl",
            Drop::Destination(_) => "other_destination",
            Drop::Version => "version_mismatch",
            Drop::Vrid => "vrid_mismatch",
            Drop::AuthType => "auth_type_mismatch",
            Drop::Auth => "auth_mismatch",
            Drop::OwnPacket => "own_packet",
            Drop::UnknownPeer => "unknown_peer",
            Drop::FakeOwner => "fake_owner",
        }
    }
}

impl Filter {
    /// Check a decoded advert received from `src`, sent to `dst`, with `ttl`.
    pub fn check(&self, src: IpAddr, dst: IpAddr, ttl: u8, repr: &Repr) -> Result<Advert, Drop> {
        if self.own_addresses.contains(&src) {
            return Err(Drop::OwnPacket);
        }
        match &self.mode {
            Mode::Multicast(group) => {
                // The group is this instance's channel (keepalived binds its socket to it).
                if dst != *group {
                    return Err(Drop::Destination(dst));
                }
                // RFC 5798 7.1: MUST verify that the IP TTL / hop limit is 255.
                if ttl != TTL {
                    return Err(Drop::Ttl(ttl));
                }
            }
            Mode::Unicast { .. } => {
                // keepalived's unicast socket is bound to its own address: it never hears
                // multicast adverts. It checks no TTL on unicast unless a peer has
                // min_ttl/max_ttl (below), and sends IPv6 unicast with the kernel's default
                // hop limit: requiring 255 would make two masters.
                if is_multicast(dst) {
                    return Err(Drop::Destination(dst));
                }
            }
        }
        // RFC 5798 7.1: MUST verify the version and that the VRID is configured.
        if repr.version != self.version {
            return Err(Drop::Version);
        }
        if repr.vrid != self.vrid {
            return Err(Drop::Vrid);
        }
        // Before the authentication: a sender this instance does not hear is not a peer
        // whose disagreement counts (`differences`).
        if let Mode::Unicast {
            peers,
            check_source: true,
        } = &self.mode
        {
            // keepalived's check_unicast_src: only the listed peers, each within its TTLs.
            let peer = peers
                .iter()
                .find(|p| p.addr == src)
                .ok_or(Drop::UnknownPeer)?;
            if !peer.ttl.contains(&ttl) {
                return Err(Drop::Ttl(ttl));
            }
        }
        // RFC 3768 7.1: the authentication type and data must match the local ones.
        if std::mem::discriminant(&repr.auth) != std::mem::discriminant(&self.auth) {
            return Err(Drop::AuthType);
        }
        if repr.auth != self.auth {
            return Err(Drop::Auth);
        }
        if self.strict_owner && repr.priority == OWNER_PRIORITY && !self.vips.contains(&src) {
            return Err(Drop::FakeOwner);
        }
        Ok(Advert {
            src,
            priority: repr.priority,
            interval_cs: repr.interval_cs,
        })
    }

    /// What an advert says differently from this instance's configuration (address list,
    /// interval, authentication), for the peer alarm (`peers::PeerWatch`). Meant for an
    /// advert that `check` accepted or dropped for its authentication only
    /// ([`Drop::is_disagreement`]): one from a member of this virtual router.
    pub fn differences(&self, repr: &Repr) -> Vec<Difference> {
        peers::compare(&self.vips, self.interval_cs, &self.auth, repr)
    }

    /// Whether this instance sends to unicast peers.
    pub fn is_unicast(&self) -> bool {
        matches!(self.mode, Mode::Unicast { .. })
    }

    /// RFC 5798 7.1 (MAY): does the advert list exactly our virtual addresses? keepalived
    /// logs a mismatch and still accepts the packet; so does baton.
    pub fn addresses_match(&self, repr: &Repr) -> bool {
        repr.addresses.len() == self.vips.len()
            && repr.addresses.iter().all(|a| self.vips.contains(a))
    }
}

fn is_multicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    const GROUP: IpAddr = IpAddr::V4(crate::wire::vrrp::IPV4_MULTICAST);

    fn filter() -> Filter {
        Filter {
            version: Version::V2,
            vrid: 51,
            auth: Auth::Pass(*b"secret\0\0"),
            vips: vec![v4(100)],
            interval_cs: 100,
            mode: Mode::Multicast(GROUP),
            own_addresses: vec![v4(1)],
            strict_owner: false,
        }
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

    #[test]
    fn a_good_advert_passes() {
        let advert = filter().check(v4(2), GROUP, 255, &repr()).unwrap();
        assert_eq!(
            advert,
            Advert {
                src: v4(2),
                priority: 100,
                interval_cs: 100
            }
        );
        assert!(filter().addresses_match(&repr()));
    }

    #[test]
    fn each_check_drops_with_its_reason() {
        let f = filter();
        assert_eq!(f.check(v4(2), GROUP, 64, &repr()), Err(Drop::Ttl(64)));
        let r = Repr {
            version: Version::V3,
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(f.check(v4(2), GROUP, 255, &r), Err(Drop::Version));
        let r = Repr { vrid: 52, ..repr() };
        assert_eq!(f.check(v4(2), GROUP, 255, &r), Err(Drop::Vrid));
        let r = Repr {
            auth: Auth::Pass(*b"wrong\0\0\0"),
            ..repr()
        };
        assert_eq!(f.check(v4(2), GROUP, 255, &r), Err(Drop::Auth));
        let r = Repr {
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(f.check(v4(2), GROUP, 255, &r), Err(Drop::AuthType));
        assert_eq!(f.check(v4(1), GROUP, 255, &repr()), Err(Drop::OwnPacket));
    }

    #[test]
    fn strict_mode_drops_priority_255_from_a_non_owner() {
        let r = Repr {
            priority: 255,
            ..repr()
        };
        assert!(
            filter().check(v4(2), GROUP, 255, &r).is_ok(),
            "lenient by default"
        );
        let f = Filter {
            strict_owner: true,
            ..filter()
        };
        assert_eq!(f.check(v4(2), GROUP, 255, &r), Err(Drop::FakeOwner));
        assert!(
            f.check(v4(100), GROUP, 255, &r).is_ok(),
            "the real owner sends from the VIP"
        );
    }

    fn unicast(check_source: bool, ttl: RangeInclusive<u8>) -> Filter {
        Filter {
            mode: Mode::Unicast {
                peers: vec![UnicastPeer { addr: v4(3), ttl }],
                check_source,
            },
            ..filter()
        }
    }

    #[test]
    fn unicast_hears_any_sender_and_any_ttl_like_keepalived() {
        let f = unicast(false, 0..=255);
        // keepalived sends IPv6 unicast with the kernel's hop limit (64): heard.
        assert!(f.check(v4(2), v4(1), 64, &repr()).is_ok());
        assert!(f.check(v4(3), v4(1), 1, &repr()).is_ok());
    }

    #[test]
    fn check_unicast_src_hears_only_its_peers_within_their_ttls() {
        let f = unicast(true, 0..=255);
        assert_eq!(f.check(v4(2), v4(1), 255, &repr()), Err(Drop::UnknownPeer));
        assert!(f.check(v4(3), v4(1), 64, &repr()).is_ok());
        let bad_auth = Repr {
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(
            f.check(v4(2), v4(1), 255, &bad_auth),
            Err(Drop::UnknownPeer),
            "a sender it does not hear is not a peer that disagrees"
        );
        assert_eq!(f.check(v4(3), v4(1), 255, &bad_auth), Err(Drop::AuthType));
        assert!(Drop::AuthType.is_disagreement() && Drop::Auth.is_disagreement());
        assert!(!Drop::UnknownPeer.is_disagreement());
        let f = unicast(true, 250..=255);
        assert_eq!(f.check(v4(3), v4(1), 64, &repr()), Err(Drop::Ttl(64)));
        assert!(f.check(v4(3), v4(1), 254, &repr()).is_ok());
    }

    #[test]
    fn destination_must_be_the_instance_channel() {
        let other_group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19));
        assert_eq!(
            filter().check(v4(2), other_group, 255, &repr()),
            Err(Drop::Destination(other_group))
        );
        assert_eq!(
            filter().check(v4(2), v4(1), 255, &repr()),
            Err(Drop::Destination(v4(1))),
            "a unicast advert is not for a multicast instance"
        );
        let on_19 = Filter {
            mode: Mode::Multicast(other_group),
            ..filter()
        };
        assert!(on_19.check(v4(2), other_group, 255, &repr()).is_ok());
        assert_eq!(
            on_19.check(v4(2), GROUP, 255, &repr()),
            Err(Drop::Destination(GROUP))
        );
        assert_eq!(
            unicast(false, 0..=255).check(v4(3), GROUP, 255, &repr()),
            Err(Drop::Destination(GROUP))
        );
    }

    #[test]
    fn address_list_mismatch_is_reported() {
        let r = Repr {
            addresses: vec![v4(100), v4(101)],
            ..repr()
        };
        assert!(!filter().addresses_match(&r));
        assert_eq!(
            filter().differences(&r),
            vec![Difference::Addresses {
                ours: vec![v4(100)],
                theirs: vec![v4(100), v4(101)]
            }]
        );
        assert_eq!(filter().differences(&repr()), vec![]);
    }
}
