//! Property tests of the wire codecs: round trip of any valid VRRP Repr, no panic
//! on arbitrary bytes, and single-bit corruption always caught by the checksum.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::wire::arp::ArpFrame;
use baton::wire::ndp::NaFrame;
use baton::wire::vrrp::{Auth, ChecksumMode, Repr, Version, split_ipv4};
use proptest::prelude::*;

fn mode() -> impl Strategy<Value = ChecksumMode> {
    prop_oneof![Just(ChecksumMode::Rfc), Just(ChecksumMode::AsV2)]
}

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), ipv6()]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![Just(Auth::None), any::<[u8; 8]>().prop_map(Auth::Pass)]
}

/// A valid VRRPv2 advert with its IPv4 source and destination.
fn v2() -> impl Strategy<Value = (Repr, IpAddr, IpAddr)> {
    (
        1..=255u8,
        any::<u8>(),
        1..=255u16,
        auth(),
        prop::collection::vec(ipv4(), 1..=20),
        ipv4(),
        ipv4(),
    )
        .prop_map(|(vrid, priority, secs, auth, addresses, src, dst)| {
            let repr = Repr {
                version: Version::V2,
                vrid,
                priority,
                interval_cs: secs * 100,
                auth,
                addresses,
            };
            (repr, src, dst)
        })
}

/// A valid VRRPv3 advert, IPv4 or IPv6, with a source and destination of that family.
fn v3() -> impl Strategy<Value = (Repr, IpAddr, IpAddr)> {
    let v4 = (prop::collection::vec(ipv4(), 1..=20), ipv4(), ipv4());
    let v6 = (prop::collection::vec(ipv6(), 1..=20), ipv6(), ipv6());
    (1..=255u8, any::<u8>(), 1..=4095u16, prop_oneof![v4, v6]).prop_map(
        |(vrid, priority, interval_cs, (addresses, src, dst))| {
            let repr = Repr {
                version: Version::V3,
                vrid,
                priority,
                interval_cs,
                auth: Auth::None,
                addresses,
            };
            (repr, src, dst)
        },
    )
}

fn valid() -> impl Strategy<Value = (Repr, IpAddr, IpAddr)> {
    prop_oneof![v2(), v3()]
}

/// Flip one bit of an address.
fn flip_addr(addr: IpAddr, bit: usize) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(a.to_bits() ^ (1 << (bit % 32)))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(a.to_bits() ^ (1 << (bit % 128)))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn emit_then_parse_is_identity((repr, src, dst) in valid(), mode in mode()) {
        let bytes = repr.to_bytes(src, dst, mode).unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(Repr::parse(&bytes, src, dst, mode), Ok(repr));
    }

    #[test]
    fn parse_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        src in any_ip(),
        dst in any_ip(),
        mode in mode(),
    ) {
        let _ = Repr::parse(&bytes, src, dst, mode);
        let _ = split_ipv4(&bytes);
        let _ = ArpFrame::parse(&bytes);
        let _ = NaFrame::parse(&bytes);
    }

    /// Plausible headers reach the deeper checks more often than random bytes.
    #[test]
    fn parse_never_panics_on_vrrp_like_bytes(
        head in (2..=3u8, 0..=2u8, any::<u8>(), any::<u8>(), 0..=4u8),
        rest in prop::collection::vec(any::<u8>(), 0..120),
        (src, dst) in prop_oneof![(ipv4(), ipv4()), (ipv6(), ipv6())],
        mode in mode(),
    ) {
        let (version, msg_type, vrid, priority, count) = head;
        let mut bytes = vec![version << 4 | msg_type, vrid, priority, count];
        bytes.extend(rest);
        let _ = Repr::parse(&bytes, src, dst, mode);
    }

    /// Every byte is checksummed, so any single flipped bit is rejected.
    #[test]
    fn any_bit_flip_is_rejected((repr, src, dst) in valid(), mode in mode(), bit in any::<usize>()) {
        let mut bytes = repr.to_bytes(src, dst, mode).unwrap();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Repr::parse(&bytes, src, dst, mode).is_err());
    }

    /// With a pseudo-header, corrupting the IP source is caught too.
    #[test]
    fn pseudo_header_flip_is_rejected((repr, src, dst) in v3(), bit in any::<usize>()) {
        let bytes = repr.to_bytes(src, dst, ChecksumMode::Rfc).unwrap();
        let err = Repr::parse(&bytes, flip_addr(src, bit), dst, ChecksumMode::Rfc).unwrap_err();
        prop_assert_eq!(err.kind(), "bad_checksum");
    }

    /// Emitting never panics, whatever the Repr, and fails cleanly on bad ones.
    #[test]
    fn emit_never_panics(
        version in prop_oneof![Just(Version::V2), Just(Version::V3)],
        vrid in any::<u8>(),
        interval_cs in any::<u16>(),
        auth in auth(),
        addresses in prop::collection::vec(any_ip(), 0..4),
        src in any_ip(),
        dst in any_ip(),
        mode in mode(),
        buf_len in 0..100usize,
    ) {
        let repr = Repr { version, vrid, priority: 1, interval_cs, auth, addresses };
        let mut buf = vec![0; buf_len];
        if repr.emit(&mut buf, src, dst, mode).is_ok() {
            let len = repr.buffer_len();
            prop_assert_eq!(Repr::parse(&buf[..len], src, dst, mode), Ok(repr));
        }
    }
}
