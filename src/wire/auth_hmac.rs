//! keepalived's VRRP authentication extension (`auth_hmac`, keepalived 2.4.0): a 28-byte
//! trailer after the VRRP message carrying a key id, a time based 64-bit sequence and a
//! truncated HMAC-SHA256.
//!
//! Learned from keepalived 2.4.3 (`keepalived/include/vrrp_auth_hmac.h`,
//! `keepalived/vrrp/vrrp_auth_hmac.c`: `build_pseudo`, `pdu_hmac`, `vrrp_auth_hmac_sign`;
//! `keepalived/vrrp/vrrp.c`: `vrrp_check_packet`, `vrrp_build_ip4`) and checked against
//! adverts captured from it (`tests/fixtures/wire/keepalived-2.4.3-auth-hmac.txt`):
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |   ext_type 1  |    key id     |        reserved (0)           |
//! +---------------+---------------+-------------------------------+
//! |                 seconds (UTC, since the epoch)                |
//! +-------------------------------+-------------------------------+
//! |  sub-seconds (1/65536 s)      |           counter             |
//! +-------------------------------+-------------------------------+
//! |          HMAC-SHA256, first 16 bytes (4 words)                |
//! +---------------------------------------------------------------+
//! ```
//!
//! The MAC is HMAC-SHA256 over a 20-byte pseudo header (family 4 or 6, VRRP version,
//! VRID, 0, the source address zero padded to 16 bytes), then the VRRP message with its
//! checksum field read as zero, then the first 12 trailer bytes, then 16 zero bytes in
//! place of the MAC. The IP header is not covered. The source is the advert's: over IPv6
//! multicast the link-local address, over IPv6 unicast `unicast_src_ip` (a global address,
//! checked on keepalived's unicast captures, vrid 65).
//!
//! Lengths and checksum (what keepalived does, checked on its captures): the IPv4 total
//! length counts the trailer, but the VRRP checksum (and the v3 pseudo header length) covers
//! the VRRP message only; over IPv6 the kernel computes the checksum over the whole payload,
//! trailer included (`IPV6_CHECKSUM`), with the payload length and the destination (the
//! group, or the unicast peer) in the pseudo header. A
//! trailer is recognised by length alone: the message is exactly 28 bytes longer than its
//! address count says.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::vrrp::Version;

/// Length of the trailer.
pub const TRAILER_LEN: usize = 28;
/// Length of the truncated MAC.
pub const MAC_LEN: usize = 16;
/// The only extension type: HMAC-SHA256 truncated to 128 bits.
pub const EXT_TYPE_SHA256: u8 = 1;
/// Shortest key keepalived accepts (`VRRP_AUTH_HMAC_KEY_MIN`).
pub const KEY_MIN: usize = 32;
/// Longest key keepalived accepts (`VRRP_AUTH_HMAC_KEY_MAX`).
pub const KEY_MAX: usize = 64;
/// Length of the pseudo header bound into the MAC.
const PSEUDO_LEN: usize = 20;
/// Where the MAC starts in the trailer.
const MAC_OFFSET: usize = 12;
/// Where the VRRP checksum is in the message.
const CHECKSUM_OFFSET: usize = 6;

/// A trailer as received or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Scheme ([`EXT_TYPE_SHA256`]).
    pub ext_type: u8,
    /// Which key signed.
    pub key_id: u8,
    /// Zero when sent; a receiver refuses anything else.
    pub reserved: u16,
    /// The 64-bit sequence: seconds in the high 32 bits, a 1/65536 s fraction in the next
    /// 16, a counter in the low 16.
    pub seq: u64,
    /// The truncated MAC.
    pub mac: [u8; MAC_LEN],
}

impl Trailer {
    /// Read a trailer: `None` unless `bytes` is exactly [`TRAILER_LEN`] long.
    pub fn parse(bytes: &[u8]) -> Option<Trailer> {
        let b: &[u8; TRAILER_LEN] = bytes.try_into().ok()?;
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[4..12]);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&b[MAC_OFFSET..]);
        Some(Trailer {
            ext_type: b[0],
            key_id: b[1],
            reserved: u16::from_be_bytes([b[2], b[3]]),
            seq: u64::from_be_bytes(seq),
            mac,
        })
    }

    /// The trailer's bytes.
    pub fn to_bytes(&self) -> [u8; TRAILER_LEN] {
        let mut b = [0u8; TRAILER_LEN];
        b[0] = self.ext_type;
        b[1] = self.key_id;
        b[2..4].copy_from_slice(&self.reserved.to_be_bytes());
        b[4..12].copy_from_slice(&self.seq.to_be_bytes());
        b[MAC_OFFSET..].copy_from_slice(&self.mac);
        b
    }

    /// The seconds of the sequence (UTC seconds since the epoch, modulo 2^32).
    pub fn seconds(&self) -> u32 {
        (self.seq >> 32) as u32
    }
}

/// What signs an advert: the key id written in the trailer, the key, and the sequence.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub key_id: u8,
    pub key: &'a [u8],
    pub seq: u64,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .field("seq", &self.seq)
            .finish()
    }
}

/// The sequence of a wall-clock reading, counter zero (keepalived's `clock_seq`).
pub fn clock_seq(unix_secs: u64, nanos: u32) -> u64 {
    let subsec = (u64::from(nanos.min(999_999_999)) << 16) / 1_000_000_000;
    (u64::from(unix_secs as u32) << 32) | (subsec << 16)
}

/// RFC 1982 serial number order on the 64-bit sequence: is `a` after `b`?
pub fn seq_after(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) > 0
}

/// The trailer that signs the VRRP message `pdu` sent from `src`. The checksum field of
/// `pdu` is not covered, so it may be filled before or after.
pub fn sign(signer: &Signer<'_>, version: Version, vrid: u8, src: IpAddr, pdu: &[u8]) -> Trailer {
    let mut trailer = Trailer {
        ext_type: EXT_TYPE_SHA256,
        key_id: signer.key_id,
        reserved: 0,
        seq: signer.seq,
        mac: [0; MAC_LEN],
    };
    let mac = mac(signer.key, version, vrid, src, pdu, &trailer);
    let out = mac.finalize().into_bytes();
    trailer.mac.copy_from_slice(&out[..MAC_LEN]);
    trailer
}

/// Does `trailer` carry the MAC of `pdu` from `src` under `key`? Compared in constant time.
pub fn verify(
    key: &[u8],
    version: Version,
    vrid: u8,
    src: IpAddr,
    pdu: &[u8],
    trailer: &Trailer,
) -> bool {
    mac(key, version, vrid, src, pdu, trailer)
        .verify_truncated_left(&trailer.mac)
        .is_ok()
}

/// The MAC state over pseudo header, message (checksum as zero), trailer head and zeros.
fn mac(
    key: &[u8],
    version: Version,
    vrid: u8,
    src: IpAddr,
    pdu: &[u8],
    trailer: &Trailer,
) -> Hmac<Sha256> {
    // HMAC takes keys of any length (RFC 2104 2); a longer one than the block is hashed.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(&pseudo_header(version, vrid, src));
    let head = pdu.get(..CHECKSUM_OFFSET).unwrap_or(pdu);
    mac.update(head);
    if pdu.len() >= CHECKSUM_OFFSET + 2 {
        mac.update(&[0, 0]);
        mac.update(&pdu[CHECKSUM_OFFSET + 2..]);
    }
    mac.update(&trailer.to_bytes()[..MAC_OFFSET]);
    mac.update(&[0; MAC_LEN]);
    mac
}

/// keepalived's `build_pseudo`: family, version, VRID, 0, the source address.
fn pseudo_header(version: Version, vrid: u8, src: IpAddr) -> [u8; PSEUDO_LEN] {
    let mut out = [0u8; PSEUDO_LEN];
    out[1] = version.number();
    out[2] = vrid;
    match src {
        IpAddr::V4(a) => {
            out[0] = 4;
            out[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out[0] = 6;
            out[4..].copy_from_slice(&a.octets());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_bytes_round_trip() {
        let t = Trailer {
            ext_type: 1,
            key_id: 7,
            reserved: 0,
            seq: 0x6b15_ec0c_573d_0001,
            mac: [0xab; MAC_LEN],
        };
        let b = t.to_bytes();
        assert_eq!(
            &b[..12],
            &[1, 7, 0, 0, 0x6b, 0x15, 0xec, 0x0c, 0x57, 0x3d, 0, 1]
        );
        assert_eq!(Trailer::parse(&b), Some(t));
        assert_eq!(t.seconds(), 0x6b15_ec0c);
        assert_eq!(Trailer::parse(&b[..27]), None);
    }

    #[test]
    fn clock_seq_packs_seconds_and_fraction() {
        assert_eq!(clock_seq(1, 0), 1 << 32);
        assert_eq!(clock_seq(1, 500_000_000), (1 << 32) | (0x8000 << 16));
        // The seconds wrap at 2^32 as the field does.
        assert_eq!(clock_seq((1 << 32) + 5, 0), 5 << 32);
    }

    #[test]
    fn serial_order_survives_the_wrap() {
        assert!(seq_after(2, 1));
        assert!(!seq_after(1, 1));
        assert!(!seq_after(1, 2));
        assert!(seq_after(0, u64::MAX));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Signer {
            key_id: 1,
            key: b"very-secret-key-material-0123456789",
            seq: 0,
        };
        assert!(!format!("{s:?}").contains("very-secret"));
    }
}
