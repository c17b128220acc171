//! The receive path on arbitrary bytes: an IPv4 datagram as the raw socket hands it over
//! (`split_ipv4`, then `Repr::parse` in both checksum modes), the same bytes as an IPv6
//! payload, and the GARP / NA decoders. Nothing may panic; every error has a counter name.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use baton::wire::vrrp::{ChecksumMode, Repr, split_ipv4};
use baton::wire::{arp, ndp};
use libfuzzer_sys::fuzz_target;

const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe00, 0x0a));
const V6_DST: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

fuzz_target!(|data: &[u8]| {
    match split_ipv4(data) {
        Ok((header, payload)) => {
            assert!(payload.len() <= data.len());
            for mode in [ChecksumMode::Rfc, ChecksumMode::AsV2] {
                let src = IpAddr::V4(header.src);
                let dst = IpAddr::V4(header.dst);
                if let Err(e) = Repr::parse(payload, src, dst, mode) {
                    assert!(!e.kind().is_empty());
                }
            }
        }
        Err(e) => assert!(!e.kind().is_empty()),
    }
    if let Err(e) = Repr::parse(data, V6_SRC, V6_DST, ChecksumMode::Rfc) {
        assert!(!e.kind().is_empty());
    }
    let _ = arp::ArpFrame::parse(data);
    let _ = ndp::NaFrame::parse(data);
});
