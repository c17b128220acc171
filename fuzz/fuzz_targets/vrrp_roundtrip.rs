//! decode -> encode -> decode: whatever `Repr::parse` accepts, `Repr::emit` must encode
//! to a message of the same length that parses back to the same `Repr`, and encoding is
//! deterministic. The first byte picks the family and checksum mode; the rest is the
//! VRRP message.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::wire::vrrp::{ChecksumMode, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let (src, dst) = if selector & 1 == 0 {
        (
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        )
    } else {
        (
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe00, 0x0a)),
            IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        )
    };
    let mode = if selector & 2 == 0 {
        ChecksumMode::Rfc
    } else {
        ChecksumMode::AsV2
    };
    let Ok(repr) = Repr::parse(message, src, dst, mode) else {
        return;
    };
    assert_eq!(repr.buffer_len(), message.len(), "{repr:?}");
    let bytes = repr
        .to_bytes(src, dst, mode)
        .unwrap_or_else(|e| panic!("a parsed advert does not encode: {e}: {repr:?}"));
    assert_eq!(bytes.len(), message.len());
    let again = Repr::parse(&bytes, src, dst, mode)
        .unwrap_or_else(|e| panic!("an encoded advert does not parse: {e}: {repr:?}"));
    assert_eq!(again, repr);
    assert_eq!(again.to_bytes(src, dst, mode).ok(), Some(bytes));
});
