//! keepalived's `auth_hmac` trailer (`baton::wire::auth_hmac`): the adverts keepalived
//! 2.4.3 signed (captured by `scripts/capture-keepalived-hmac-vectors.sh`) verify, re-emit
//! byte for byte, and fail with any other key; property tests: a signed advert round-trips
//! and any single bit flipped in it is refused (by the checksum, the length, or the MAC).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::wire::auth_hmac::{self, Signer, TRAILER_LEN, Trailer};
use baton::wire::vrrp::{Auth, ChecksumMode, Repr, Version, split_ipv4};
use proptest::prelude::*;

const VECTORS: &str = include_str!("fixtures/wire/keepalived-2.4.3-auth-hmac.txt");
const KEY1: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const KEY7: &[u8] = b"baton-test-key-0123456789abcdefgh";

struct Vector {
    vrid: u8,
    priority: u8,
    tshark_good: bool,
    src: IpAddr,
    dst: IpAddr,
    /// The IP header's length field (IPv4 total length, IPv6 payload length).
    ip_len: usize,
    payload: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<Vector> {
    VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let bytes = hex(f[3]);
            let (src, dst, ip_len, payload) = if bytes[0] >> 4 == 4 {
                let (ip, payload) = split_ipv4(&bytes).unwrap();
                let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                (ip.src.into(), ip.dst.into(), total, payload.to_vec())
            } else {
                let src = IpAddr::from(<[u8; 16]>::try_from(&bytes[8..24]).unwrap());
                let dst = IpAddr::from(<[u8; 16]>::try_from(&bytes[24..40]).unwrap());
                let plen = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
                (src, dst, plen, bytes[40..].to_vec())
            };
            Vector {
                vrid: f[0].parse().unwrap(),
                priority: f[1].parse().unwrap(),
                tshark_good: f[2] == "1",
                src,
                dst,
                ip_len,
                payload,
            }
        })
        .collect()
}

fn key_of(id: u8) -> &'static [u8] {
    if id == 7 { KEY7 } else { &KEY1 }
}

#[test]
fn keepalived_signed_adverts_verify_and_re_emit_identically() {
    let all = vectors();
    assert_eq!(
        all.len(),
        24,
        "4 instances, 5 adverts and a shutdown advert each"
    );
    // IPv6 unicast (vrid 65): from unicast_src_ip to the peer, not the link-local address
    // to the group; the MAC binds that global source, and the checksum the peer's address.
    let unicast: Vec<&Vector> = all.iter().filter(|v| v.vrid == 65).collect();
    assert_eq!(unicast.len(), 6);
    for v in unicast {
        assert_eq!(v.src, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(v.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
        let (repr, trailer) =
            Repr::parse_signed(&v.payload, v.src, v.dst, ChecksumMode::Rfc).unwrap();
        let trailer = trailer.unwrap();
        let pdu = &v.payload[..repr.buffer_len()];
        let link_local = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5eff, 0xfe00, 0, 0xa));
        assert!(!auth_hmac::verify(
            &KEY1,
            repr.version,
            repr.vrid,
            link_local,
            pdu,
            &trailer
        ));
        // Checked against the group instead of the peer, the checksum fails.
        let group = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
        assert_eq!(
            Repr::parse_signed(&v.payload, v.src, group, ChecksumMode::Rfc)
                .unwrap_err()
                .kind(),
            "bad_checksum"
        );
    }
    for v in &all {
        let (repr, trailer) =
            Repr::parse_signed(&v.payload, v.src, v.dst, ChecksumMode::Rfc).unwrap();
        let trailer = trailer.expect("keepalived appended a trailer");
        assert_eq!(repr.vrid, v.vrid);
        assert_eq!(repr.priority, v.priority);
        assert_eq!(trailer.ext_type, auth_hmac::EXT_TYPE_SHA256);
        assert_eq!(trailer.reserved, 0);
        assert_eq!(trailer.key_id, if v.vrid == 63 { 7 } else { 1 });
        let pdu = &v.payload[..repr.buffer_len()];
        assert_eq!(v.payload.len(), pdu.len() + TRAILER_LEN);
        let key = key_of(trailer.key_id);
        assert!(auth_hmac::verify(
            key,
            repr.version,
            repr.vrid,
            v.src,
            pdu,
            &trailer
        ));
        // Another key, another source or another VRID: refused.
        let other: &[u8] = if trailer.key_id == 7 { &KEY1 } else { KEY7 };
        assert!(!auth_hmac::verify(
            other,
            repr.version,
            repr.vrid,
            v.src,
            pdu,
            &trailer
        ));
        let other_src = match v.src {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9)),
        };
        assert!(!auth_hmac::verify(
            key,
            repr.version,
            repr.vrid,
            other_src,
            pdu,
            &trailer
        ));
        assert!(!auth_hmac::verify(
            key,
            repr.version,
            1,
            v.src,
            pdu,
            &trailer
        ));
        // The same key and sequence sign to the same bytes, checksum included.
        let signer = Signer {
            key_id: trailer.key_id,
            key,
            seq: trailer.seq,
        };
        let mut buf = vec![0u8; v.payload.len()];
        repr.emit_signed(&mut buf, v.src, v.dst, ChecksumMode::Rfc, &signer)
            .unwrap();
        assert_eq!(buf, v.payload, "vrid {}", v.vrid);
    }
}

#[test]
fn keepalived_lengths_and_checksum_coverage() {
    for v in vectors() {
        let (repr, _) = Repr::parse_signed(&v.payload, v.src, v.dst, ChecksumMode::Rfc).unwrap();
        match v.src {
            IpAddr::V4(_) => {
                // The IPv4 total length counts the trailer...
                assert_eq!(v.ip_len, 20 + repr.buffer_len() + TRAILER_LEN);
                // ...the checksum does not: the message alone verifies, and tshark (which
                // sums the whole payload) calls it bad.
                let pdu = &v.payload[..repr.buffer_len()];
                assert_eq!(
                    Repr::parse(pdu, v.src, v.dst, ChecksumMode::Rfc).unwrap(),
                    repr
                );
                assert!(!v.tshark_good);
            }
            IpAddr::V6(_) => {
                // The payload length counts it, and the checksum covers it.
                assert_eq!(v.ip_len, repr.buffer_len() + TRAILER_LEN);
                let pdu = &v.payload[..repr.buffer_len()];
                assert_eq!(
                    Repr::parse(pdu, v.src, v.dst, ChecksumMode::Rfc)
                        .unwrap_err()
                        .kind(),
                    "bad_checksum"
                );
                assert!(v.tshark_good);
            }
        }
        // The versions: 61 is VRRPv2 (auth type none), 63, 64 and 65 VRRPv3.
        let expected = if v.vrid == 61 {
            Version::V2
        } else {
            Version::V3
        };
        assert_eq!(repr.version, expected);
        assert_eq!(repr.auth, Auth::None);
    }
}

#[test]
fn keepalived_sequence_is_time_based_and_grows() {
    let mut last: std::collections::HashMap<u8, u64> = Default::default();
    for v in vectors() {
        let (_, t) = Repr::parse_signed(&v.payload, v.src, v.dst, ChecksumMode::Rfc).unwrap();
        let t = t.unwrap();
        // Captured in 2026: seconds since the epoch, not a counter from 0.
        assert!(t.seconds() > 1_700_000_000, "{}", t.seconds());
        if let Some(prev) = last.insert(v.vrid, t.seq) {
            assert!(auth_hmac::seq_after(t.seq, prev));
        }
    }
}

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

/// A valid advert (v2 over IPv4, v3 over IPv4 or IPv6) with source and destination.
fn advert() -> impl Strategy<Value = (Repr, IpAddr, IpAddr)> {
    let v2 = (
        1..=255u8,
        any::<u8>(),
        1..=255u16,
        prop::collection::vec(ipv4(), 1..=8),
        ipv4(),
        ipv4(),
    )
        .prop_map(|(vrid, priority, secs, addresses, src, dst)| {
            let repr = Repr {
                version: Version::V2,
                vrid,
                priority,
                interval_cs: secs * 100,
                auth: Auth::None,
                addresses,
            };
            (repr, src, dst)
        });
    let v4 = (prop::collection::vec(ipv4(), 1..=8), ipv4(), ipv4());
    let v6 = (prop::collection::vec(ipv6(), 1..=8), ipv6(), ipv6());
    let v3 = (1..=255u8, any::<u8>(), 1..=4095u16, prop_oneof![v4, v6]).prop_map(
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
    );
    prop_oneof![v2, v3]
}

fn sign(repr: &Repr, src: IpAddr, dst: IpAddr, key: &[u8], id: u8, seq: u64) -> Vec<u8> {
    let signer = Signer {
        key_id: id,
        key,
        seq,
    };
    let mut buf = vec![0u8; repr.buffer_len() + TRAILER_LEN];
    repr.emit_signed(&mut buf, src, dst, ChecksumMode::Rfc, &signer)
        .unwrap();
    buf
}

/// Parse and verify as a receiver does: decoded, a trailer, and the MAC good.
fn accepted(bytes: &[u8], src: IpAddr, dst: IpAddr, key: &[u8]) -> Option<(Repr, Trailer)> {
    let (repr, trailer) = Repr::parse_signed(bytes, src, dst, ChecksumMode::Rfc).ok()?;
    let trailer = trailer?;
    let pdu = bytes.get(..repr.buffer_len())?;
    (trailer.ext_type == auth_hmac::EXT_TYPE_SHA256
        && trailer.reserved == 0
        && auth_hmac::verify(key, repr.version, repr.vrid, src, pdu, &trailer))
    .then_some((repr, trailer))
}

proptest! {
    #[test]
    fn signed_advert_round_trips(
        (repr, src, dst) in advert(),
        key in prop::collection::vec(any::<u8>(), 32..=64),
        id in 1..=255u8,
        seq in any::<u64>(),
    ) {
        let bytes = sign(&repr, src, dst, &key, id, seq);
        let (back, trailer) = accepted(&bytes, src, dst, &key).expect("accepted");
        prop_assert_eq!(back, repr);
        prop_assert_eq!(trailer.key_id, id);
        prop_assert_eq!(trailer.seq, seq);
    }

    #[test]
    fn any_flipped_bit_is_refused(
        (repr, src, dst) in advert(),
        key in prop::collection::vec(any::<u8>(), 32..=64),
        seq in any::<u64>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut bytes = sign(&repr, src, dst, &key, 1, seq);
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(accepted(&bytes, src, dst, &key).is_none(), "bit {} accepted", bit);
    }

    #[test]
    fn another_key_is_refused(
        (repr, src, dst) in advert(),
        key in prop::collection::vec(any::<u8>(), 32..=64),
        other in prop::collection::vec(any::<u8>(), 32..=64),
        seq in any::<u64>(),
    ) {
        prop_assume!(key != other);
        let bytes = sign(&repr, src, dst, &key, 1, seq);
        prop_assert!(accepted(&bytes, src, dst, &other).is_none());
    }

    #[test]
    fn parse_signed_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        src in ipv4(),
        dst in ipv4(),
    ) {
        let _ = Repr::parse_signed(&bytes, src, dst, ChecksumMode::Rfc);
    }
}
