//! What each fuzz target checks, shared by the cargo-fuzz targets (`fuzz_targets/*.rs`) and
//! by `tests/fuzz_corpus.rs`, which replays the committed seeds and every regression input
//! (`fuzz/regressions/TARGET/`) in the normal test suite, without cargo-fuzz.
// Each fuzz target uses one of these functions.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::config::{self, Model, NoFiles, Options};
use baton::control::protocol::{Reply, parse_request};
use baton::wire::vrrp::{ChecksumMode, Repr, split_ipv4};
use baton::wire::{arp, ndp};

const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const V4_DST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe00, 0x0a));
const V6_DST: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

/// The receive path on arbitrary bytes: an IPv4 datagram as the raw socket hands it over
/// (`split_ipv4`, then `Repr::parse` in both checksum modes), the same bytes as an IPv6
/// payload, and the GARP / NA decoders. Nothing may panic; every error has a counter name.
pub fn vrrp_decode(data: &[u8]) {
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
}

/// decode -> encode -> decode: whatever `Repr::parse` accepts, `Repr::emit` must encode to a
/// message of the same length that parses back to the same `Repr`, and encoding is
/// deterministic. The first byte picks the family (bit 0) and checksum mode (bit 1); the
/// rest is the VRRP message.
pub fn vrrp_roundtrip(data: &[u8]) {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let (src, dst) = if selector & 1 == 0 {
        (V4_SRC, V4_DST)
    } else {
        (V6_SRC, V6_DST)
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
}

/// The configuration language on arbitrary text: lexing, parameters, conditionals, blocks,
/// validation and diagnostics rendering never panic; a valid model has no error and an
/// empty diff against itself (a reload of the same file changes nothing).
pub fn config_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = config::parse_text("fuzz.conf", text.to_string(), &Options::default(), &NoFiles);
    let _ = loaded.render();
    if let Some(model) = &loaded.model {
        assert!(loaded.errors().next().is_none());
        let diff = Model::diff(model, model);
        assert!(diff.is_empty(), "a model differs from itself: {diff:?}");
    }
}

/// The control-socket request parser on arbitrary bytes: never panics, every refusal is a
/// one-line-safe message, and every accepted request survives serialise -> parse.
pub fn control_request(data: &[u8]) {
    match parse_request(data) {
        Ok(request) => {
            let line = serde_json::to_string(&request).expect("a request serialises");
            assert_eq!(parse_request(line.as_bytes()), Ok(request));
        }
        Err(message) => {
            assert!(!message.is_empty());
            assert_eq!(Reply::error(message).to_line().matches('\n').count(), 1);
        }
    }
}
