//! What each fuzz target checks, shared by the cargo-fuzz targets (`fuzz_targets/*.rs`) and
//! by `tests/fuzz_corpus.rs`, which replays the committed seeds and every regression input
//! (`fuzz/regressions/TARGET/`) in the normal test suite, without cargo-fuzz.
// Each fuzz target uses one of these functions.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use baton::config::{self, Model, NoFiles, Options};
use baton::control::protocol::{Reply, parse_request};
use baton::vrrp::{Action, Advert, Config, Event, Instance, OWNER_PRIORITY, State};
use baton::wire::vrrp::{ChecksumMode, Repr, Version, split_ipv4};
use baton::wire::{arp, auth_hmac, ndp};

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
                signed(payload, src, dst, mode);
            }
        }
        Err(e) => assert!(!e.kind().is_empty()),
    }
    if let Err(e) = Repr::parse(data, V6_SRC, V6_DST, ChecksumMode::Rfc) {
        assert!(!e.kind().is_empty());
    }
    signed(data, V6_SRC, V6_DST, ChecksumMode::Rfc);
    let _ = arp::ArpFrame::parse(data);
    let _ = ndp::NaFrame::parse(data);
}

/// The `auth_hmac` receive path: `Repr::parse_signed`, and on a trailer the MAC check over
/// the advert's own bytes (which must be a prefix of the message, 28 bytes shorter).
fn signed(payload: &[u8], src: IpAddr, dst: IpAddr, mode: ChecksumMode) {
    match Repr::parse_signed(payload, src, dst, mode) {
        Ok((repr, Some(trailer))) => {
            assert_eq!(repr.buffer_len() + auth_hmac::TRAILER_LEN, payload.len());
            let pdu = &payload[..repr.buffer_len()];
            let _ = auth_hmac::verify(&[0x42; 32], repr.version, repr.vrid, src, pdu, &trailer);
        }
        Ok((repr, None)) => assert_eq!(repr.buffer_len(), payload.len()),
        Err(e) => assert!(!e.kind().is_empty()),
    }
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

/// The control socket on arbitrary bytes, from the request line to a live state machine.
/// The first line is the request, as the server reads it; the parser never panics, every
/// refusal is a one-line-safe message, and every accepted request survives
/// serialise -> parse. An accepted request is then applied the way the daemon applies it
/// (`Command::event`, the daemon's own translation) to a real `vrrp::Instance` that the rest
/// of the input puts in some state, at a fuzzer-chosen `now` (any value, not only a
/// plausible uptime, so that any outside duration added to the clock without saturating
/// shows up), and its timers are run: nothing a client sends may overflow the core's clock
/// arithmetic, and a resigning master sends priority 0 and gives its addresses up.
pub fn control_request(data: &[u8]) {
    let (line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => data.split_at(end + 1),
        None => (data, &[][..]),
    };
    match parse_request(line) {
        Ok(request) => {
            let text = serde_json::to_string(&request).expect("a request serialises");
            assert_eq!(parse_request(text.as_bytes()), Ok(request.clone()));
            let event = request
                .command
                .event()
                .unwrap_or_else(|e| panic!("an accepted request has no event: {e}"));
            if let Some(event) = event {
                apply(event, rest);
            }
        }
        Err(message) => {
            assert!(!message.is_empty());
            assert_eq!(Reply::error(message).to_line().matches('\n').count(), 1);
        }
    }
}

/// Bytes that steer the instance: read in order, zero when they run out.
struct Steer<'a>(std::slice::Iter<'a, u8>);

impl Steer<'_> {
    fn byte(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }
    /// Any time at all: the daemon's clock is its uptime, but the core must not care.
    fn now(&mut self) -> Duration {
        Duration::new(self.u64(), u32::from(self.byte()) * 3_900_000)
    }
    /// A whole number of milliseconds up to `max`.
    fn duration(&mut self, max: Duration) -> Duration {
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        let ms = self.u64();
        Duration::from_millis(ms.checked_rem(max_ms.saturating_add(1)).unwrap_or(ms))
    }
}

fn apply(event: Event, rest: &[u8]) {
    let mut steer = Steer(rest.iter());
    let setup = steer.byte();
    let version = if setup & 0x10 == 0 {
        Version::V3
    } else {
        Version::V2
    };
    let priority = match setup & 3 {
        0 => OWNER_PRIORITY,
        _ => steer.byte().max(1),
    };
    let interval_cs = match version {
        Version::V3 => u16::from(steer.byte()).max(1),
        Version::V2 => 100 * u16::from(steer.byte() % 10).max(1),
    };
    let mut config = Config::new(version, priority, interval_cs, V4_SRC);
    config.hold_down = Duration::from_secs(u64::from(steer.byte()));
    config.preempt = setup & 0x20 == 0;
    let mut machine = Instance::new(config);
    let mut now = steer.now();
    let step = |machine: &mut Instance, now: Duration, event: Event| {
        let actions = machine.handle(now, event);
        if let Some(deadline) = machine.next_deadline() {
            // The daemon turns a deadline into an instant with `checked_add` (None: never).
            let _ = std::time::Instant::now().checked_add(deadline);
        }
        actions
    };
    step(&mut machine, now, Event::Startup);
    if setup & 3 == 2 {
        // Become master by Master_Down_Timer, the way a backup does.
        if let Some(at) = machine.next_deadline() {
            now = now.max(at);
            step(&mut machine, now, Event::Timeout);
        }
    }
    if setup & 3 == 3 {
        let advert = Advert {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            priority: steer.byte(),
            interval_cs,
        };
        step(&mut machine, now, Event::Advert(advert));
    }
    if setup & 4 != 0 {
        step(&mut machine, now, Event::Lock);
    }
    if setup & 8 != 0 {
        step(&mut machine, now, Event::Fault);
    }
    now = now.saturating_add(steer.duration(Duration::from_secs(3600)));
    let was_master = machine.state() == State::Master;
    let resign = matches!(event, Event::Resign { .. });
    let actions = step(&mut machine, now, event);
    let refused = actions.iter().any(|a| matches!(a, Action::Refuse(_)));
    if resign && was_master {
        // RFC 5798 6.4.3: a resigning master sends priority 0 and gives the addresses up.
        assert!(!refused, "{actions:?}");
        assert!(
            actions.contains(&Action::SendAdvert { priority: 0 }),
            "{actions:?}"
        );
        assert!(actions.contains(&Action::RemoveAddresses), "{actions:?}");
        assert_eq!(machine.state(), State::Backup);
        assert!(machine.no_preempt_until() >= now);
    }
    // Run the timers a while, at their deadlines or at fuzzer-chosen later times.
    for _ in 0..8 {
        let Some(at) = machine.next_deadline() else {
            break;
        };
        now = now
            .max(at)
            .saturating_add(steer.duration(Duration::from_secs(60)));
        step(&mut machine, now, Event::Timeout);
    }
}
