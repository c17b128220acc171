//! Errors of the wire codecs: one typed variant per reason a packet is dropped or
//! cannot be built.

use std::net::IpAddr;

/// Why received bytes were rejected. [`DecodeError::kind`] gives a stable name
/// for per-reason drop counters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the fixed header needs.
    #[error("packet too short: {len} bytes, the header needs at least {min}")]
    TooShort { len: usize, min: usize },
    /// VRRP version nibble is neither 2 nor 3.
    #[error("VRRP version {0} is not supported (expected 2 or 3)")]
    BadVersion(u8),
    /// VRRP type nibble is not 1 (advertisement).
    #[error("VRRP type {0} is not an advertisement (expected 1)")]
    BadType(u8),
    /// VRID 0 is reserved; valid IDs are 1-255.
    #[error("virtual router ID 0 is invalid (expected 1-255)")]
    ZeroVrid,
    /// The advertisement carries no address.
    #[error("address count is 0 (expected at least 1)")]
    NoAddresses,
    /// The message length does not match the address count (too short or
    /// trailing bytes; keepalived drops both).
    #[error("message is {len} bytes but {count} addresses need exactly {expected}")]
    AddressCountMismatch {
        count: u8,
        len: usize,
        expected: usize,
    },
    /// Advertisement interval of zero.
    #[error("advertisement interval is 0")]
    ZeroInterval,
    /// IP source and destination are of different families.
    #[error("IP source {src} and destination {dst} are of different families")]
    FamilyMismatch { src: IpAddr, dst: IpAddr },
    /// VRRPv2 is IPv4 only (RFC 3768); v2 over IPv6 is rejected.
    #[error("VRRPv2 over IPv6 is not defined (use VRRPv3)")]
    V2OverIpv6,
    /// VRRPv2 auth type 2 (IP Authentication Header), deprecated and unsupported.
    #[error("VRRPv2 authentication type 2 (AH) is not supported")]
    AuthTypeAh,
    /// VRRPv2 auth type other than 0, 1 or 2.
    #[error("VRRPv2 authentication type {0} is unknown (expected 0 or 1)")]
    AuthTypeUnknown(u8),
    /// The VRRP checksum does not verify.
    #[error("VRRP checksum is {found:#06x}, expected {expected:#06x}")]
    BadChecksum { found: u16, expected: u16 },
    /// IP version nibble is not 4 where an IPv4 header was expected.
    #[error("IP version {0} where 4 was expected")]
    BadIpVersion(u8),
    /// IPv4 header length below 5 words or beyond the buffer.
    #[error("IPv4 header length {ihl} words is invalid for a {len}-byte buffer")]
    BadIhl { ihl: u8, len: usize },
    /// IPv4 total length smaller than the header or larger than the buffer.
    #[error("IPv4 total length {total} is invalid (header {header}, buffer {len})")]
    BadIpLength {
        total: usize,
        header: usize,
        len: usize,
    },
    /// The IPv4 header checksum does not verify.
    #[error("IPv4 header checksum does not verify")]
    BadIpChecksum,
    /// Ethernet frame of an unexpected EtherType.
    #[error("EtherType {0:#06x} is not the expected one")]
    BadEthertype(u16),
    /// ARP packet that is not Ethernet/IPv4 (hardware/protocol type or lengths).
    #[error("ARP packet is not Ethernet/IPv4")]
    BadArpFormat,
    /// IPv6 packet that does not carry a neighbour advertisement.
    #[error("not an ICMPv6 neighbour advertisement")]
    NotNeighborAdvert,
    /// Malformed neighbour discovery option.
    #[error("malformed neighbour discovery option")]
    BadNdpOption,
}

impl DecodeError {
    /// Stable snake_case name of the reason, for drop counters.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooShort { .. } => "too_short",
            DecodeError::BadVersion(_) => "bad_version",
            DecodeError::BadType(_) => "bad_type",
            DecodeError::ZeroVrid => "zero_vrid",
            DecodeError::NoAddresses => "no_addresses",
            DecodeError::AddressCountMismatch { .. } => "address_count_mismatch",
            DecodeError::ZeroInterval => "zero_interval",
            DecodeError::FamilyMismatch { .. } => "family_mismatch",
            DecodeError::V2OverIpv6 => "v2_over_ipv6",
            DecodeError::AuthTypeAh => "auth_type_ah",
            DecodeError::AuthTypeUnknown(_) => "auth_type_unknown",
            DecodeError::BadChecksum { .. } => "bad_checksum",
            DecodeError::BadIpVersion(_) => "bad_ip_version",
            DecodeError::BadIhl { .. } => "bad_ihl",
            DecodeError::BadIpLength { .. } => "bad_ip_length",
            DecodeError::BadIpChecksum => "bad_ip_checksum",
            DecodeError::BadEthertype(_) => "bad_ethertype",
            DecodeError::BadArpFormat => "bad_arp_format",
            DecodeError::NotNeighborAdvert => "not_neighbor_advert",
            DecodeError::BadNdpOption => "bad_ndp_option",
        }
    }
}

/// Why a [`crate::wire::vrrp::Repr`] cannot be emitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// VRRPv2 carries whole seconds, 1-255.
    #[error("VRRPv2 interval {0} cs is not a whole number of seconds in 1-255 s")]
    BadV2Interval(u16),
    /// VRRPv3 carries 1-4095 centiseconds.
    #[error("VRRPv3 interval {0} cs is outside 1-4095 cs")]
    BadV3Interval(u16),
    /// VRID 0 is reserved.
    #[error("virtual router ID 0 is invalid (expected 1-255)")]
    ZeroVrid,
    /// At least one address is required.
    #[error("no addresses to advertise (expected 1-255)")]
    NoAddresses,
    /// The count field is 8 bits.
    #[error("{0} addresses do not fit the 8-bit count (expected 1-255)")]
    TooManyAddresses(usize),
    /// Addresses, source and destination must all be of one family.
    #[error("addresses, source and destination are not all of the same IP family")]
    MixedFamilies,
    /// VRRPv2 is IPv4 only.
    #[error("VRRPv2 over IPv6 is not defined (use VRRPv3)")]
    V2OverIpv6,
    /// Authentication exists only in VRRPv2.
    #[error("authentication is only defined for VRRPv2")]
    AuthWithV3,
    /// The caller's buffer is smaller than [`crate::wire::vrrp::Repr::buffer_len`].
    #[error("buffer of {got} bytes is too small, {needed} needed")]
    BufferTooSmall { needed: usize, got: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_snake_case() {
        let all = [
            DecodeError::TooShort { len: 0, min: 8 },
            DecodeError::BadVersion(1),
            DecodeError::BadType(2),
            DecodeError::ZeroVrid,
            DecodeError::NoAddresses,
            DecodeError::AddressCountMismatch {
                count: 1,
                len: 1,
                expected: 2,
            },
            DecodeError::ZeroInterval,
            DecodeError::FamilyMismatch {
                src: IpAddr::from([192, 0, 2, 1]),
                dst: IpAddr::from([0u16; 8]),
            },
            DecodeError::V2OverIpv6,
            DecodeError::AuthTypeAh,
            DecodeError::AuthTypeUnknown(3),
            DecodeError::BadChecksum {
                found: 0,
                expected: 1,
            },
            DecodeError::BadIpVersion(6),
            DecodeError::BadIhl { ihl: 4, len: 20 },
            DecodeError::BadIpLength {
                total: 0,
                header: 20,
                len: 20,
            },
            DecodeError::BadIpChecksum,
            DecodeError::BadEthertype(0),
            DecodeError::BadArpFormat,
            DecodeError::NotNeighborAdvert,
            DecodeError::BadNdpOption,
        ];
        let mut kinds: Vec<&str> = all.iter().map(DecodeError::kind).collect();
        for k in &kinds {
            assert!(
                k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{k}"
            );
        }
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), all.len());
    }
}
