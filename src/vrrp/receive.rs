//! Receive-side checks of RFC 5798 section 7.1 (RFC 3768 section 7.1) that come after
//! decoding: hop limit, version, authentication, the source of the packet and what it claims.
//! A packet that passes becomes an [`Advert`] for [`Instance::handle`](super::Instance::handle);
//! one that fails is dropped with a reason the daemon counts.

use std::net::IpAddr;

use super::event::Advert;
use super::instance::OWNER_PRIORITY;
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
    /// Unicast peers; empty means multicast, where any sender is heard.
    pub unicast_peers: Vec<IpAddr>,
    /// This router's own addresses: its own packets coming back are ignored.
    pub own_addresses: Vec<IpAddr>,
    /// Drop priority-255 adverts whose source is not one of the virtual addresses
    /// (keepalived's `vrrp_strict`). Off by default: many keepalived configs give the
    /// preferred node priority 255 without owning the address, and ignoring such a peer
    /// would make two masters.
    pub strict_owner: bool,
}

/// Why a decoded packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Drop {
    /// RFC 5798 7.1: the TTL / hop limit must be 255 (the packet was routed otherwise).
    #[error("TTL/hop limit {0}, expected 255")]
    Ttl(u8),
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
    /// A stable snake_case name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Drop::Ttl(_) => "bad_ttl",
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
    /// Check a decoded advert received from `src` with `ttl`.
    pub fn check(&self, src: IpAddr, ttl: u8, repr: &Repr) -> Result<Advert, Drop> {
        // RFC 5798 7.1: MUST verify that the IP TTL / hop limit is 255.
        if ttl != TTL {
            return Err(Drop::Ttl(ttl));
        }
        // RFC 5798 7.1: MUST verify the version and that the VRID is configured.
        if repr.version != self.version {
            return Err(Drop::Version);
        }
        if repr.vrid != self.vrid {
            return Err(Drop::Vrid);
        }
        // RFC 3768 7.1: the authentication type and data must match the local ones.
        if std::mem::discriminant(&repr.auth) != std::mem::discriminant(&self.auth) {
            return Err(Drop::AuthType);
        }
        if repr.auth != self.auth {
            return Err(Drop::Auth);
        }
        if self.own_addresses.contains(&src) {
            return Err(Drop::OwnPacket);
        }
        if !self.unicast_peers.is_empty() && !self.unicast_peers.contains(&src) {
            return Err(Drop::UnknownPeer);
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

    /// RFC 5798 7.1 (MAY): does the advert list exactly our virtual addresses? keepalived
    /// logs a mismatch and still accepts the packet; so does baton.
    pub fn addresses_match(&self, repr: &Repr) -> bool {
        repr.addresses.len() == self.vips.len()
            && repr.addresses.iter().all(|a| self.vips.contains(a))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn filter() -> Filter {
        Filter {
            version: Version::V2,
            vrid: 51,
            auth: Auth::Pass(*b"secret\0\0"),
            vips: vec![v4(100)],
            unicast_peers: vec![],
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
        let advert = filter().check(v4(2), 255, &repr()).unwrap();
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
        assert_eq!(f.check(v4(2), 64, &repr()), Err(Drop::Ttl(64)));
        let r = Repr {
            version: Version::V3,
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(f.check(v4(2), 255, &r), Err(Drop::Version));
        let r = Repr { vrid: 52, ..repr() };
        assert_eq!(f.check(v4(2), 255, &r), Err(Drop::Vrid));
        let r = Repr {
            auth: Auth::Pass(*b"wrong\0\0\0"),
            ..repr()
        };
        assert_eq!(f.check(v4(2), 255, &r), Err(Drop::Auth));
        let r = Repr {
            auth: Auth::None,
            ..repr()
        };
        assert_eq!(f.check(v4(2), 255, &r), Err(Drop::AuthType));
        assert_eq!(f.check(v4(1), 255, &repr()), Err(Drop::OwnPacket));
    }

    #[test]
    fn strict_mode_drops_priority_255_from_a_non_owner() {
        let r = Repr {
            priority: 255,
            ..repr()
        };
        assert!(filter().check(v4(2), 255, &r).is_ok(), "lenient by default");
        let f = Filter {
            strict_owner: true,
            ..filter()
        };
        assert_eq!(f.check(v4(2), 255, &r), Err(Drop::FakeOwner));
        assert!(
            f.check(v4(100), 255, &r).is_ok(),
            "the real owner sends from the VIP"
        );
    }

    #[test]
    fn unicast_mode_hears_only_its_peers() {
        let f = Filter {
            unicast_peers: vec![v4(3)],
            ..filter()
        };
        assert_eq!(f.check(v4(2), 255, &repr()), Err(Drop::UnknownPeer));
        assert!(f.check(v4(3), 255, &repr()).is_ok());
    }

    #[test]
    fn address_list_mismatch_is_reported() {
        let r = Repr {
            addresses: vec![v4(100), v4(101)],
            ..repr()
        };
        assert!(!filter().addresses_match(&r));
    }
}
