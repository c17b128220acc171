//! Pure packet codecs: VRRP advertisements (v2/v3, IPv4/IPv6), gratuitous ARP and
//! unsolicited neighbour advertisements. No I/O, no clock, no async runtime.

pub mod arp;
pub mod auth_hmac;
mod checksum;
mod error;
pub mod ndp;
pub mod vrrp;

pub use error::{DecodeError, EncodeError};

#[cfg(test)]
pub(crate) mod test_util {
    /// Bytes from a hex string; whitespace and other non-hex characters are skipped.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }
}
