//! Pure packet codecs: VRRP advertisements (v2/v3, IPv4/IPv6), gratuitous ARP and
//! unsolicited neighbour advertisements. No I/O, no clock, no async runtime.

pub mod arp;
mod checksum;
mod error;
pub mod ndp;
pub mod vrrp;

pub use error::{DecodeError, EncodeError};
