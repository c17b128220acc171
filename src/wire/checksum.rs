//! The Internet checksum (RFC 1071): 16-bit one's complement sum.

use std::net::IpAddr;

/// Sum of the big-endian 16-bit words of `data`, an odd last byte padded with zero.
pub(crate) fn sum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    let mut acc: u64 = 0;
    for w in &mut words {
        if let [hi, lo] = w {
            acc += u64::from(u16::from_be_bytes([*hi, *lo]));
        }
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Sum of a pseudo-header: source, destination, upper-layer length and protocol.
/// The IPv4 (RFC 768 style) and IPv6 (RFC 8200 8.1) layouts have the same sum.
pub(crate) fn pseudo_header_sum(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    addr_sum(src)
        + addr_sum(dst)
        + u64::from(protocol)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff)
}

fn addr_sum(addr: IpAddr) -> u64 {
    match addr {
        IpAddr::V4(a) => sum(&a.octets()),
        IpAddr::V6(a) => sum(&a.octets()),
    }
}

/// Fold carries into 16 bits (the one's complement sum, not yet inverted).
pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves acc <= 0xffff.
    u16::try_from(acc).unwrap_or(u16::MAX)
}

/// The checksum field value for a sum taken with the field zeroed.
pub(crate) fn finish(acc: u64) -> u16 {
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: sum 0xddf2, checksum 0x220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(finish(sum(&data)), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn fold_many_carries() {
        assert_eq!(fold(0xffff_ffff), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
    }
}
