//! VRRP advertisements: VRRPv2 (RFC 3768 section 5) and VRRPv3 (RFC 5798 section 5),
//! over IPv4 and IPv6, plus the IPv4 header check for raw sockets.
//!
//! [`Packet`] is a checked zero-copy view over the VRRP message (the IP payload);
//! [`Repr`] is the plain parsed form, used to emit.
//!
//! Length rule: the message must be exactly as long as its address count says
//! (plus 8 authentication bytes for v2). Shorter or longer messages are rejected
//! with [`DecodeError::AddressCountMismatch`], as keepalived does ("vrrp packet too
//! short/long").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::auth_hmac::{self, Signer, Trailer};
use super::checksum;
pub use super::error::{DecodeError, EncodeError};

/// IP protocol number of VRRP.
pub const PROTOCOL: u8 = 112;
/// VRRP IPv4 multicast group (RFC 5798 5.1.1.2).
pub const IPV4_MULTICAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// VRRP IPv6 multicast group (RFC 5798 5.1.2.2).
pub const IPV6_MULTICAST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// IPv4 TTL / IPv6 hop limit of every advertisement (RFC 5798 5.1.1.3).
pub const TTL: u8 = 255;

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data (RFC 3768 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// VRRPv2 authentication types (RFC 3768 5.3.6).
pub const AUTH_TYPE_NONE: u8 = 0;
/// Simple text password.
pub const AUTH_TYPE_PASS: u8 = 1;
/// IP Authentication Header (deprecated; not supported).
pub const AUTH_TYPE_AH: u8 = 2;
/// Largest VRRPv3 Max Adver Int (12 bits), in centiseconds.
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;

/// Byte offsets of the header fields (RFC 3768 5.1, RFC 5798 5.1).
mod field {
    use std::ops::Range;

    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2 only.
    pub const AUTH_TYPE: usize = 4;
    /// v2 only, seconds.
    pub const ADVER_INT: usize = 5;
    /// v3 only: 4 reserved bits and 12 bits of centiseconds.
    pub const MAX_ADVER_INT: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// VRRP protocol version.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Version {
    /// RFC 3768, IPv4 only, interval in seconds, optional password.
    V2,
    /// RFC 5798, IPv4 and IPv6, interval in centiseconds.
    V3,
}

impl Version {
    /// The value of the version nibble.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// How the VRRPv3-over-IPv4 checksum is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumMode {
    /// RFC 5798 5.2.8: v3 over IPv4 includes the IPv4 pseudo-header.
    Rfc,
    /// keepalived's `v3_checksum_as_v2`: v3 over IPv4 sums the VRRP message only.
    /// (That option is newer than keepalived 2.2.7, which always uses the
    /// pseudo-header; the captured vectors in the tests verify with `Rfc`.)
    AsV2,
}

/// VRRPv2 authentication (RFC 3768 5.3.6). VRRPv3 has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Type 0.
    None,
    /// Type 1: simple text password, 8 bytes, zero padded.
    Pass([u8; 8]),
}

/// A VRRP message over an existing buffer; see the module docs.
///
/// VRRPv2 (RFC 3768 section 5.1):
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            .....                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (n)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// VRRPv3 (RFC 5798 section 5.1); addresses are 4 or 16 bytes each:
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                       IPvX Address(es)                        |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Getters never panic: on a buffer shorter than [`HEADER_LEN`] (possible only
/// through [`Packet::new_unchecked`]) missing bytes read as zero and setters
/// ignore them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer, checking it holds the fixed header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DecodeError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    /// Ensure the buffer holds the fixed header.
    pub fn check_header_len(&self) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DecodeError::TooShort {
                len,
                min: HEADER_LEN,
            });
        }
        Ok(())
    }

    /// Consume the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    fn u16_at(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.byte(i), self.byte(i + 1)])
    }

    /// Version nibble (2 or 3 when valid).
    pub fn version(&self) -> u8 {
        self.byte(field::VER_TYPE) >> 4
    }

    /// Type nibble (1 = advertisement).
    pub fn msg_type(&self) -> u8 {
        self.byte(field::VER_TYPE) & 0x0f
    }

    /// Virtual router ID.
    pub fn vrid(&self) -> u8 {
        self.byte(field::VRID)
    }

    /// Priority; 0 means the master is stopping.
    pub fn priority(&self) -> u8 {
        self.byte(field::PRIORITY)
    }

    /// Number of addresses.
    pub fn addr_count(&self) -> u8 {
        self.byte(field::COUNT)
    }

    /// VRRPv2 auth type.
    pub fn auth_type(&self) -> u8 {
        self.byte(field::AUTH_TYPE)
    }

    /// VRRPv2 advertisement interval, seconds.
    pub fn adver_int_secs(&self) -> u8 {
        self.byte(field::ADVER_INT)
    }

    /// VRRPv3 max advertisement interval, centiseconds (reserved bits masked).
    pub fn max_adver_int_cs(&self) -> u16 {
        self.u16_at(field::MAX_ADVER_INT.start) & MAX_V3_INTERVAL_CS
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM.start)
    }

    /// Everything after the fixed header: addresses, then v2 auth data.
    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(field::ADDRESSES..).unwrap_or(&[])
    }

    /// Exact message length the header announces for a family
    /// (`None` when the version is neither 2 nor 3).
    pub fn expected_len(&self, ipv6: bool) -> Option<usize> {
        let addr_len = if ipv6 { 16 } else { 4 };
        let auth_len = match self.version() {
            2 => AUTH_DATA_LEN,
            3 => 0,
            _ => return None,
        };
        Some(HEADER_LEN + usize::from(self.addr_count()) * addr_len + auth_len)
    }

    /// Check the header fields that do not need the checksum, and the length.
    fn check_header(&self, ipv6: bool) -> Result<Version, DecodeError> {
        let version = match self.version() {
            2 => Version::V2,
            3 => Version::V3,
            v => return Err(DecodeError::BadVersion(v)),
        };
        if self.msg_type() != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(self.msg_type()));
        }
        if version == Version::V2 && ipv6 {
            return Err(DecodeError::V2OverIpv6);
        }
        if self.vrid() == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        if self.addr_count() == 0 {
            return Err(DecodeError::NoAddresses);
        }
        self.check_len(ipv6)?;
        Ok(version)
    }

    /// Where keepalived's `auth_hmac` trailer would start: `Some(len)` when the buffer is
    /// exactly [`auth_hmac::TRAILER_LEN`] bytes longer than the header announces.
    fn trailer_start(&self, ipv6: bool) -> Option<usize> {
        let expected = self.expected_len(ipv6)?;
        (self.buffer.as_ref().len() == expected + auth_hmac::TRAILER_LEN).then_some(expected)
    }

    /// The message must be exactly as long as the count says (keepalived rule).
    fn check_len(&self, ipv6: bool) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        let expected = self.expected_len(ipv6).unwrap_or(0);
        if len != expected {
            return Err(DecodeError::AddressCountMismatch {
                count: self.addr_count(),
                len,
                expected,
            });
        }
        Ok(())
    }

    /// Verify the checksum over the whole buffer (RFC 3768 5.3.8, RFC 5798 5.2.8).
    pub fn verify_checksum(
        &self,
        version: Version,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), DecodeError> {
        let data = self.buffer.as_ref();
        let pseudo = pseudo_sum(version, src, dst, mode, data.len());
        if checksum::fold(pseudo + checksum::sum(data)) == 0xffff {
            return Ok(());
        }
        let head = data.get(..field::CHECKSUM.start).unwrap_or(&[]);
        let rest = data.get(field::CHECKSUM.end..).unwrap_or(&[]);
        let expected = checksum::finish(pseudo + checksum::sum(head) + checksum::sum(rest));
        Err(DecodeError::BadChecksum {
            found: self.checksum(),
            expected,
        })
    }

    /// VRRPv2 authentication from the auth type and the last 8 bytes.
    fn auth(&self) -> Result<Auth, DecodeError> {
        match self.auth_type() {
            AUTH_TYPE_NONE => Ok(Auth::None),
            AUTH_TYPE_PASS => Ok(Auth::Pass(self.auth_data())),
            AUTH_TYPE_AH => Err(DecodeError::AuthTypeAh),
            t => Err(DecodeError::AuthTypeUnknown(t)),
        }
    }

    /// Last 8 bytes (VRRPv2 authentication data); zeros if the buffer is shorter.
    pub fn auth_data(&self) -> [u8; AUTH_DATA_LEN] {
        let data = self.buffer.as_ref();
        data.len()
            .checked_sub(AUTH_DATA_LEN)
            .and_then(|start| data.get(start..))
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; AUTH_DATA_LEN])
    }

    /// Interval in centiseconds for either version.
    fn interval_cs(&self, version: Version) -> Result<u16, DecodeError> {
        let cs = match version {
            Version::V2 => u16::from(self.adver_int_secs()) * 100,
            Version::V3 => self.max_adver_int_cs(),
        };
        if cs == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        Ok(cs)
    }

    /// The `count` addresses after the header, of the given family.
    fn addresses(&self, ipv6: bool) -> Vec<IpAddr> {
        let count = usize::from(self.addr_count());
        let addr_len = if ipv6 { 16 } else { 4 };
        let bytes = self.body().get(..count * addr_len).unwrap_or(&[]);
        let mut out = Vec::with_capacity(count);
        for chunk in bytes.chunks_exact(addr_len) {
            let addr = if ipv6 {
                <[u8; 16]>::try_from(chunk).ok().map(IpAddr::from)
            } else {
                <[u8; 4]>::try_from(chunk).ok().map(IpAddr::from)
            };
            out.extend(addr);
        }
        out
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, i: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(i) {
            *b = value;
        }
    }

    fn set_u16_at(&mut self, i: usize, value: u16) {
        let [hi, lo] = value.to_be_bytes();
        self.set_byte(i, hi);
        self.set_byte(i + 1, lo);
    }

    /// Set the version and type nibbles.
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.set_byte(field::VER_TYPE, (version << 4) | (msg_type & 0x0f));
    }

    /// Set the virtual router ID.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.set_byte(field::VRID, vrid);
    }

    /// Set the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.set_byte(field::PRIORITY, priority);
    }

    /// Set the address count.
    pub fn set_addr_count(&mut self, count: u8) {
        self.set_byte(field::COUNT, count);
    }

    /// Set the VRRPv2 auth type.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.set_byte(field::AUTH_TYPE, auth_type);
    }

    /// Set the VRRPv2 advertisement interval, seconds.
    pub fn set_adver_int_secs(&mut self, secs: u8) {
        self.set_byte(field::ADVER_INT, secs);
    }

    /// Set the VRRPv3 max advertisement interval (reserved bits written as zero).
    pub fn set_max_adver_int_cs(&mut self, cs: u16) {
        self.set_u16_at(field::MAX_ADVER_INT.start, cs & MAX_V3_INTERVAL_CS);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM.start, value);
    }

    /// Mutable access to everything after the fixed header.
    pub fn body_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::ADDRESSES..)
            .unwrap_or(&mut [])
    }

    /// Compute and write the checksum over the whole buffer.
    pub fn fill_checksum(
        &mut self,
        version: Version,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let acc = pseudo_sum(version, src, dst, mode, data.len()) + checksum::sum(data);
        self.set_checksum(checksum::finish(acc));
    }
}

/// Pseudo-header sum, or 0 when the mode/version sums the message only.
fn pseudo_sum(version: Version, src: IpAddr, dst: IpAddr, mode: ChecksumMode, len: usize) -> u64 {
    let with_pseudo = match (version, src) {
        (Version::V2, _) => false,
        (Version::V3, IpAddr::V6(_)) => true,
        (Version::V3, IpAddr::V4(_)) => mode == ChecksumMode::Rfc,
    };
    if !with_pseudo {
        return 0;
    }
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    checksum::pseudo_header_sum(src, dst, PROTOCOL, len)
}

/// `Ok(true)` for IPv6, `Ok(false)` for IPv4; error if the families differ.
fn family(src: IpAddr, dst: IpAddr) -> Result<bool, DecodeError> {
    match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => Ok(false),
        (IpAddr::V6(_), IpAddr::V6(_)) => Ok(true),
        _ => Err(DecodeError::FamilyMismatch { src, dst }),
    }
}

/// A parsed VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Protocol version.
    pub version: Version,
    /// Virtual router ID, 1-255.
    pub vrid: u8,
    /// Priority; 0 = master stopping, 255 = address owner.
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2 carries seconds: multiples of 100).
    pub interval_cs: u16,
    /// v2 authentication; `Auth::None` for v3.
    pub auth: Auth,
    /// Virtual addresses, all of the packet's IP family.
    pub addresses: Vec<IpAddr>,
}

impl Repr {
    /// Parse the VRRP message (the IP payload). `src`/`dst` are the IP header
    /// addresses (needed for the pseudo-header checksum and the family check).
    pub fn parse(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Repr, DecodeError> {
        let ipv6 = family(src, dst)?;
        let packet = Packet::new_checked(bytes)?;
        let version = packet.check_header(ipv6)?;
        packet.verify_checksum(version, src, dst, mode)?;
        Repr::from_packet(&packet, version, ipv6)
    }

    /// Parse a message that may end with keepalived's `auth_hmac` trailer (see
    /// [`auth_hmac`]): the advert, and the trailer when the message is exactly
    /// [`auth_hmac::TRAILER_LEN`] bytes longer than its address count says. The advert's
    /// own bytes are the first [`Repr::buffer_len`] of `bytes`.
    ///
    /// The checksum is verified as keepalived computes it: over IPv4 on the VRRP message
    /// only, over IPv6 on the whole payload, trailer included.
    pub fn parse_signed(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(Repr, Option<Trailer>), DecodeError> {
        let ipv6 = family(src, dst)?;
        let whole = Packet::new_checked(bytes)?;
        let Some(start) = whole.trailer_start(ipv6) else {
            return Repr::parse(bytes, src, dst, mode).map(|r| (r, None));
        };
        let (pdu, tail) = bytes.split_at(start);
        let packet = Packet::new_checked(pdu)?;
        let version = packet.check_header(ipv6)?;
        if ipv6 {
            whole.verify_checksum(version, src, dst, mode)?;
        } else {
            packet.verify_checksum(version, src, dst, mode)?;
        }
        let trailer = Trailer::parse(tail).ok_or(DecodeError::TooShort {
            len: bytes.len(),
            min: start + auth_hmac::TRAILER_LEN,
        })?;
        let repr = Repr::from_packet(&packet, version, ipv6)?;
        Ok((repr, Some(trailer)))
    }

    fn from_packet(
        packet: &Packet<&[u8]>,
        version: Version,
        ipv6: bool,
    ) -> Result<Repr, DecodeError> {
        let auth = match version {
            Version::V2 => packet.auth()?,
            Version::V3 => Auth::None,
        };
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval_cs: packet.interval_cs(version)?,
            auth,
            addresses: packet.addresses(ipv6),
        })
    }

    /// Emit the advert followed by an `auth_hmac` trailer signed by `signer`, into `buf`
    /// (`len >= buffer_len() + TRAILER_LEN`); the checksum as keepalived computes it (see
    /// [`Repr::parse_signed`]). Only the first `buffer_len() + TRAILER_LEN` bytes are
    /// written.
    pub fn emit_signed(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
        signer: &Signer<'_>,
    ) -> Result<(), EncodeError> {
        let len = self.buffer_len();
        let needed = len + auth_hmac::TRAILER_LEN;
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(EncodeError::BufferTooSmall { needed, got })?;
        let (pdu, tail) = buf.split_at_mut(len);
        self.emit(pdu, src, dst, mode)?;
        let trailer = auth_hmac::sign(signer, self.version, self.vrid, src, pdu);
        copy(tail, &trailer.to_bytes());
        if src.is_ipv6() {
            Packet::new_unchecked(buf).fill_checksum(self.version, src, dst, mode);
        }
        Ok(())
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self.addresses.iter().map(|a| addr_len(*a)).sum();
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + auth
    }

    /// Emit into `buf` (`len >= buffer_len()`), computing the checksum. Only the
    /// first `buffer_len()` bytes are written. Does not allocate.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), EncodeError> {
        let interval = self.check(src, dst)?;
        let needed = self.buffer_len();
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(EncodeError::BufferTooSmall { needed, got })?;
        let mut packet = Packet::new_unchecked(buf);
        self.emit_header(&mut packet, interval);
        self.emit_body(packet.body_mut());
        packet.fill_checksum(self.version, src, dst, mode);
        Ok(())
    }

    /// Emit into a new vector.
    pub fn to_bytes(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf, src, dst, mode)?;
        Ok(buf)
    }

    /// Validate for emitting; returns the interval field value (seconds or cs).
    fn check(&self, src: IpAddr, dst: IpAddr) -> Result<u16, EncodeError> {
        if self.vrid == 0 {
            return Err(EncodeError::ZeroVrid);
        }
        if self.addresses.is_empty() {
            return Err(EncodeError::NoAddresses);
        }
        if self.addresses.len() > usize::from(u8::MAX) {
            return Err(EncodeError::TooManyAddresses(self.addresses.len()));
        }
        let ipv6 = src.is_ipv6();
        if dst.is_ipv6() != ipv6 || self.addresses.iter().any(|a| a.is_ipv6() != ipv6) {
            return Err(EncodeError::MixedFamilies);
        }
        match self.version {
            Version::V2 if ipv6 => Err(EncodeError::V2OverIpv6),
            Version::V2 => v2_interval_secs(self.interval_cs),
            Version::V3 if self.auth != Auth::None => Err(EncodeError::AuthWithV3),
            Version::V3 => v3_interval_cs(self.interval_cs),
        }
    }

    fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, interval: u16) {
        packet.set_version_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        // check() bounds the count to 255.
        packet.set_addr_count(u8::try_from(self.addresses.len()).unwrap_or(u8::MAX));
        match self.version {
            Version::V2 => {
                let (auth_type, _) = self.auth_fields();
                packet.set_auth_type(auth_type);
                // check() bounds the v2 interval to 1-255 s.
                packet.set_adver_int_secs(u8::try_from(interval).unwrap_or(u8::MAX));
            }
            Version::V3 => packet.set_max_adver_int_cs(interval),
        }
    }

    /// Addresses, then (v2) the authentication data.
    fn emit_body(&self, body: &mut [u8]) {
        let mut pos = 0;
        for addr in &self.addresses {
            let end = pos + addr_len(*addr);
            if let Some(dst) = body.get_mut(pos..end) {
                copy(dst, &addr_octets(*addr));
            }
            pos = end;
        }
        if self.version == Version::V2 {
            let (_, data) = self.auth_fields();
            if let Some(dst) = body.get_mut(pos..pos + AUTH_DATA_LEN) {
                copy(dst, &data);
            }
        }
    }

    fn auth_fields(&self) -> (u8, [u8; AUTH_DATA_LEN]) {
        match &self.auth {
            Auth::None => (AUTH_TYPE_NONE, [0; AUTH_DATA_LEN]),
            Auth::Pass(p) => (AUTH_TYPE_PASS, *p),
        }
    }
}

fn v2_interval_secs(cs: u16) -> Result<u16, EncodeError> {
    let secs = cs / 100;
    if !cs.is_multiple_of(100) || !(1..=255).contains(&secs) {
        return Err(EncodeError::BadV2Interval(cs));
    }
    Ok(secs)
}

fn v3_interval_cs(cs: u16) -> Result<u16, EncodeError> {
    if cs == 0 || cs > MAX_V3_INTERVAL_CS {
        return Err(EncodeError::BadV3Interval(cs));
    }
    Ok(cs)
}

fn addr_len(addr: IpAddr) -> usize {
    match addr {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

/// Address bytes, IPv4 in the first 4 of 16.
fn addr_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// Copy as many bytes as both slices hold (never panics on a length mismatch).
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// The IPv4 header fields the VRRP receive path needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Type of service: DSCP and ECN (keepalived and FRR send CS6, 0xc0).
    pub tos: u8,
    /// Time to live (must be 255 for multicast VRRP; checked by the caller).
    pub ttl: u8,
    /// Protocol number (112 for VRRP; checked by the caller).
    pub protocol: u8,
}

/// Byte offsets in the IPv4 header (RFC 791 3.1).
mod ipv4_field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// DSCP CS6 ("network control", RFC 4594) in the IPv4 TOS / IPv6 traffic class byte: what
/// keepalived and FRR send VRRP with.
pub const TOS_CS6: u8 = 0xc0;

/// Minimum IPv4 header length.
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// For IPv4 raw sockets, which deliver the IP header: check and strip it.
///
/// Validates version 4, IHL >= 5, the total length against the buffer and the
/// header checksum; returns the header fields and the payload (up to the total
/// length; link-layer padding after it is ignored). TTL and protocol are returned,
/// not checked.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub fn split_ipv4(bytes: &[u8]) -> Result<(Ipv4Header, &[u8]), DecodeError> {
    let len = bytes.len();
    let fixed: &[u8; IPV4_MIN_HEADER_LEN] = bytes
        .get(..IPV4_MIN_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::TooShort {
            len,
            min: IPV4_MIN_HEADER_LEN,
        })?;
    let version = fixed[ipv4_field::VER_IHL] >> 4;
    if version != 4 {
        return Err(DecodeError::BadIpVersion(version));
    }
    let ihl = fixed[ipv4_field::VER_IHL] & 0x0f;
    let header_len = usize::from(ihl) * 4;
    let header = bytes
        .get(..header_len)
        .filter(|_| header_len >= IPV4_MIN_HEADER_LEN)
        .ok_or(DecodeError::BadIhl { ihl, len })?;
    let total = usize::from(u16::from_be_bytes([
        fixed[ipv4_field::TOTAL_LEN],
        fixed[ipv4_field::TOTAL_LEN + 1],
    ]));
    let payload = bytes
        .get(header_len..total)
        .ok_or(DecodeError::BadIpLength {
            total,
            header: header_len,
            len,
        })?;
    if checksum::fold(checksum::sum(header)) != 0xffff {
        return Err(DecodeError::BadIpChecksum);
    }
    let addr = |at: usize| Ipv4Addr::new(fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]);
    let head = Ipv4Header {
        src: addr(ipv4_field::SRC),
        dst: addr(ipv4_field::DST),
        tos: fixed[ipv4_field::TOS],
        ttl: fixed[ipv4_field::TTL],
        protocol: fixed[ipv4_field::PROTOCOL],
    };
    Ok((head, payload))
}

#[cfg(test)]
mod tests {
    //! Vectors captured from keepalived 2.2.7 (Debian) in a network namespace with
    //! `scripts/capture-keepalived-vectors.sh`: keepalived on 192.0.2.1 /
    //! fe80::5eff:fe00:a (MAC 02:00:5e:00:00:0a), tcpdump on the veth peer,
    //! `tcpdump -x` hex of the IP packet. Instances: vrid 51 v2 no auth, vrid 52
    //! v2 PASS "s3cret", vrid 53 v3/IPv4 advert_int 0.5, vrid 54 v3/IPv6; the
    //! priority-0 adverts are what keepalived sent on SIGTERM.
    //! Re-running the script gives the same VRRP bytes; only the IP header's
    //! identification/checksum (IPv4) and flow label (IPv6) change.
    use super::*;
    use crate::wire::test_util::hex;

    /// VRRPv2, vrid 51, prio 150, no auth, 1 s, 192.0.2.51 + 192.0.2.52.
    const KA_V2_NOAUTH: &str = "45c0002c00010000ff70188dc0000201e0000012\
        2133960200 01c460 c0000233 c0000234 0000000000000000";
    /// VRRPv2, vrid 51, prio 0 (shutdown), same instance.
    const KA_V2_NOAUTH_PRIO0: &str = "45c0002c00080000ff701886c0000201e0000012\
        2133000200015a61 c0000233 c0000234 0000000000000000";
    /// VRRPv2, vrid 52, prio 120, PASS "s3cret", 2 s, 192.0.2.60.
    const KA_V2_PASS: &str = "45c0002800010000ff701891c0000201e0000012\
        2134780101026771 c000023c 7333637265740000";
    /// VRRPv2, vrid 52, prio 0 (shutdown), PASS.
    const KA_V2_PASS_PRIO0: &str = "45c0002800030000ff70188fc0000201e0000012\
        2134000101 02df71 c000023c 7333637265740000";
    /// VRRPv3/IPv4, vrid 53, prio 100, 50 cs, 192.0.2.70 (RFC checksum).
    const KA_V3_V4: &str = "45c0002000010000ff701899c0000201e0000012\
        31356401003205c0 c0000246";
    /// VRRPv3/IPv4, vrid 53, prio 0 (shutdown).
    const KA_V3_V4_PRIO0: &str = "45c0002000120000ff701888c0000201e0000012\
        313500010032 69c0 c0000246";
    /// VRRPv3/IPv6, vrid 54, prio 200, 100 cs, 2001:db8::54 + 2001:db8::55.
    const KA_V3_V6: &str = "6c0f3258002870ff\
        fe8000000000000000005efffe00000a ff020000000000000000000000000012\
        3136c80200644f0f\
        20010db8000000000000000000000054 20010db8000000000000000000000055";
    /// VRRPv3/IPv6, vrid 54, prio 0 (shutdown).
    const KA_V3_V6_PRIO0: &str = "6c0f3258002870ff\
        fe8000000000000000005efffe00000a ff020000000000000000000000000012\
        3136000200641710\
        20010db8000000000000000000000054 20010db8000000000000000000000055";

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Split a captured IPv4 packet, parse, and check the re-emit is identical.
    fn roundtrip_v4(capture: &str, mode: ChecksumMode) -> Repr {
        let bytes = hex(capture);
        let (ip, payload) = split_ipv4(&bytes).unwrap();
        assert_eq!(ip.ttl, TTL);
        assert_eq!(ip.tos, TOS_CS6, "keepalived sends CS6");
        assert_eq!(ip.protocol, PROTOCOL);
        assert_eq!(ip.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(ip.dst, IPV4_MULTICAST);
        let (src, dst) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
        let repr = Repr::parse(payload, src, dst, mode).unwrap();
        assert_eq!(repr.buffer_len(), payload.len());
        assert_eq!(repr.to_bytes(src, dst, mode).unwrap(), payload);
        repr
    }

    /// The IPv6 header is not ours to parse: take src/dst at fixed offsets.
    fn roundtrip_v6(capture: &str) -> Repr {
        let bytes = hex(capture);
        assert_eq!(bytes[6], PROTOCOL);
        assert_eq!(bytes[7], TTL);
        let src = IpAddr::from(<[u8; 16]>::try_from(&bytes[8..24]).unwrap());
        let dst = IpAddr::from(<[u8; 16]>::try_from(&bytes[24..40]).unwrap());
        assert_eq!(src, v6("fe80::5eff:fe00:a"));
        assert_eq!(dst, IpAddr::V6(IPV6_MULTICAST));
        let payload = &bytes[40..];
        // IPv6 always uses the pseudo-header; the mode does not matter.
        for mode in [ChecksumMode::Rfc, ChecksumMode::AsV2] {
            let repr = Repr::parse(payload, src, dst, mode).unwrap();
            assert_eq!(repr.to_bytes(src, dst, mode).unwrap(), payload);
        }
        Repr::parse(payload, src, dst, ChecksumMode::Rfc).unwrap()
    }

    #[test]
    fn keepalived_v2_no_auth() {
        let repr = roundtrip_v4(KA_V2_NOAUTH, ChecksumMode::Rfc);
        assert_eq!(repr.version, Version::V2);
        assert_eq!(repr.vrid, 51);
        assert_eq!(repr.priority, 150);
        assert_eq!(repr.interval_cs, 100);
        assert_eq!(repr.auth, Auth::None);
        assert_eq!(repr.addresses, vec![v4("192.0.2.51"), v4("192.0.2.52")]);
        // v2 never uses the pseudo-header, whatever the mode.
        assert_eq!(roundtrip_v4(KA_V2_NOAUTH, ChecksumMode::AsV2), repr);
        let prio0 = roundtrip_v4(KA_V2_NOAUTH_PRIO0, ChecksumMode::Rfc);
        assert_eq!(
            prio0,
            Repr {
                priority: 0,
                ..repr
            }
        );
    }

    #[test]
    fn keepalived_v2_pass() {
        let repr = roundtrip_v4(KA_V2_PASS, ChecksumMode::Rfc);
        assert_eq!(repr.version, Version::V2);
        assert_eq!(repr.vrid, 52);
        assert_eq!(repr.priority, 120);
        assert_eq!(repr.interval_cs, 200);
        assert_eq!(repr.auth, Auth::Pass(*b"s3cret\0\0"));
        assert_eq!(repr.addresses, vec![v4("192.0.2.60")]);
        let prio0 = roundtrip_v4(KA_V2_PASS_PRIO0, ChecksumMode::Rfc);
        assert_eq!(
            prio0,
            Repr {
                priority: 0,
                ..repr
            }
        );
    }

    #[test]
    fn keepalived_v3_ipv4() {
        let repr = roundtrip_v4(KA_V3_V4, ChecksumMode::Rfc);
        assert_eq!(repr.version, Version::V3);
        assert_eq!(repr.vrid, 53);
        assert_eq!(repr.priority, 100);
        assert_eq!(repr.interval_cs, 50);
        assert_eq!(repr.auth, Auth::None);
        assert_eq!(repr.addresses, vec![v4("192.0.2.70")]);
        let prio0 = roundtrip_v4(KA_V3_V4_PRIO0, ChecksumMode::Rfc);
        assert_eq!(
            prio0,
            Repr {
                priority: 0,
                ..repr
            }
        );
    }

    #[test]
    fn keepalived_v3_ipv4_checksum_includes_pseudo_header() {
        let bytes = hex(KA_V3_V4);
        let (ip, payload) = split_ipv4(&bytes).unwrap();
        let (src, dst) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
        let err = Repr::parse(payload, src, dst, ChecksumMode::AsV2).unwrap_err();
        assert_eq!(err.kind(), "bad_checksum");
        // The same message with the checksum taken over the VRRP bytes only.
        let repr = Repr::parse(payload, src, dst, ChecksumMode::Rfc).unwrap();
        let as_v2 = repr.to_bytes(src, dst, ChecksumMode::AsV2).unwrap();
        assert_eq!(as_v2[..6], payload[..6]);
        assert_ne!(as_v2[6..8], payload[6..8]);
        assert_eq!(checksum::fold(checksum::sum(&as_v2)), 0xffff);
        assert_eq!(Repr::parse(&as_v2, src, dst, ChecksumMode::AsV2), Ok(repr));
        // A different source changes the RFC checksum.
        let other = v4("192.0.2.9");
        let err = Repr::parse(payload, other, dst, ChecksumMode::Rfc).unwrap_err();
        assert_eq!(err.kind(), "bad_checksum");
    }

    #[test]
    fn keepalived_v3_ipv6() {
        let repr = roundtrip_v6(KA_V3_V6);
        assert_eq!(repr.version, Version::V3);
        assert_eq!(repr.vrid, 54);
        assert_eq!(repr.priority, 200);
        assert_eq!(repr.interval_cs, 100);
        assert_eq!(repr.auth, Auth::None);
        assert_eq!(repr.addresses, vec![v6("2001:db8::54"), v6("2001:db8::55")]);
        let prio0 = roundtrip_v6(KA_V3_V6_PRIO0);
        assert_eq!(
            prio0,
            Repr {
                priority: 0,
                ..repr
            }
        );
    }

    #[test]
    fn packet_view_fields() {
        let bytes = hex(KA_V2_PASS);
        let packet = Packet::new_checked(&bytes[20..]).unwrap();
        assert_eq!(packet.version(), 2);
        assert_eq!(packet.msg_type(), 1);
        assert_eq!(packet.vrid(), 52);
        assert_eq!(packet.priority(), 120);
        assert_eq!(packet.addr_count(), 1);
        assert_eq!(packet.auth_type(), AUTH_TYPE_PASS);
        assert_eq!(packet.adver_int_secs(), 2);
        assert_eq!(packet.checksum(), 0x6771);
        assert_eq!(&packet.auth_data(), b"s3cret\0\0");
        assert_eq!(packet.expected_len(false), Some(20));
        let bytes = hex(KA_V3_V4);
        let packet = Packet::new_checked(&bytes[20..]).unwrap();
        assert_eq!(packet.max_adver_int_cs(), 50);
        assert_eq!(packet.body(), [192, 0, 2, 70]);
    }

    #[test]
    fn packet_setters() {
        let mut buf = [0u8; 12];
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.set_version_type(3, 1);
        packet.set_vrid(7);
        packet.set_priority(9);
        packet.set_addr_count(1);
        packet.set_max_adver_int_cs(0xffff);
        packet.set_checksum(0xbeef);
        packet.body_mut().copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(buf, [0x31, 7, 9, 1, 0x0f, 0xff, 0xbe, 0xef, 192, 0, 2, 1]);
    }

    #[test]
    fn unchecked_short_buffer_never_panics() {
        let mut short = [0x31u8, 1];
        let mut packet = Packet::new_unchecked(&mut short[..]);
        assert_eq!(packet.priority(), 0);
        assert_eq!(packet.checksum(), 0);
        assert!(packet.body().is_empty());
        packet.set_checksum(1);
        packet.fill_checksum(
            Version::V3,
            v4("192.0.2.1"),
            v4("224.0.0.18"),
            ChecksumMode::Rfc,
        );
        assert!(Packet::new_checked(&short[..]).is_err());
    }

    fn sample_v3() -> (Vec<u8>, IpAddr, IpAddr) {
        let bytes = hex(KA_V3_V4);
        (bytes[20..].to_vec(), v4("192.0.2.1"), v4("224.0.0.18"))
    }

    /// Parse `bytes` after `edit`, fixing the checksum first when `fix` is set.
    fn parse_edited(edit: impl Fn(&mut Vec<u8>), fix: bool) -> Result<Repr, DecodeError> {
        let (mut bytes, src, dst) = sample_v3();
        edit(&mut bytes);
        if fix {
            let version = if bytes[0] >> 4 == 2 {
                Version::V2
            } else {
                Version::V3
            };
            Packet::new_unchecked(&mut bytes[..]).fill_checksum(
                version,
                src,
                dst,
                ChecksumMode::Rfc,
            );
        }
        Repr::parse(&bytes, src, dst, ChecksumMode::Rfc)
    }

    #[test]
    fn decode_errors() {
        let kind = |edit: fn(&mut Vec<u8>), fix| parse_edited(edit, fix).unwrap_err().kind();
        assert_eq!(kind(|b| b.truncate(7), false), "too_short");
        assert_eq!(kind(|b| b[0] = 0x41, true), "bad_version");
        assert_eq!(kind(|b| b[0] = 0x11, true), "bad_version");
        assert_eq!(kind(|b| b[0] = 0x32, true), "bad_type");
        assert_eq!(kind(|b| b[1] = 0, true), "zero_vrid");
        assert_eq!(kind(|b| b[3] = 0, true), "no_addresses");
        assert_eq!(kind(|b| b[3] = 2, true), "address_count_mismatch");
        assert_eq!(kind(|b| b.push(0), true), "address_count_mismatch");
        assert_eq!(kind(|b| b.truncate(11), true), "address_count_mismatch");
        assert_eq!(
            kind(|b| b[4..6].copy_from_slice(&[0xf0, 0]), true),
            "zero_interval"
        );
        assert_eq!(kind(|b| b[2] = 101, false), "bad_checksum");
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let repr = parse_edited(|b| b[4] |= 0xf0, true).unwrap();
        assert_eq!(repr.interval_cs, 50);
    }

    #[test]
    fn v2_decode_errors() {
        let bytes = hex(KA_V2_PASS);
        let (src, dst) = (v4("192.0.2.1"), v4("224.0.0.18"));
        let parse = |edit: fn(&mut [u8])| {
            let mut b = bytes[20..].to_vec();
            edit(&mut b);
            Packet::new_unchecked(&mut b[..]).fill_checksum(
                Version::V2,
                src,
                dst,
                ChecksumMode::Rfc,
            );
            Repr::parse(&b, src, dst, ChecksumMode::Rfc).map_err(|e| e.kind())
        };
        assert_eq!(parse(|b| b[4] = 2), Err("auth_type_ah"));
        assert_eq!(parse(|b| b[4] = 3), Err("auth_type_unknown"));
        assert_eq!(parse(|b| b[4] = 255), Err("auth_type_unknown"));
        assert_eq!(parse(|b| b[5] = 0), Err("zero_interval"));
        assert_eq!(parse(|b| b[5] = 255).unwrap().interval_cs, 25500);
        // Type 0 ignores whatever auth data is present.
        assert_eq!(parse(|b| b[4] = 0).unwrap().auth, Auth::None);
    }

    #[test]
    fn family_errors() {
        let (bytes, src, _) = sample_v3();
        let err = Repr::parse(&bytes, src, v6("ff02::12"), ChecksumMode::Rfc).unwrap_err();
        assert_eq!(err.kind(), "family_mismatch");
        // A v2 message presented as IPv6.
        let v2 = hex(KA_V2_NOAUTH);
        let err = Repr::parse(&v2[20..], v6("fe80::1"), v6("ff02::12"), ChecksumMode::Rfc);
        assert_eq!(err.unwrap_err().kind(), "v2_over_ipv6");
        // The v3/IPv6 message presented as IPv4: the length does not fit.
        let v6msg = hex(KA_V3_V6);
        let err = Repr::parse(&v6msg[40..], src, v4("224.0.0.18"), ChecksumMode::Rfc);
        assert_eq!(err.unwrap_err().kind(), "address_count_mismatch");
    }

    fn repr_v2() -> Repr {
        Repr {
            version: Version::V2,
            vrid: 1,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![v4("192.0.2.10")],
        }
    }

    #[test]
    fn encode_errors() {
        let (s4, d4) = (v4("192.0.2.1"), v4("224.0.0.18"));
        let (s6, d6) = (v6("fe80::1"), v6("ff02::12"));
        let err = |r: Repr, src, dst| r.to_bytes(src, dst, ChecksumMode::Rfc).unwrap_err();
        let v3 = Repr {
            version: Version::V3,
            ..repr_v2()
        };
        assert_eq!(
            err(
                Repr {
                    interval_cs: 150,
                    ..repr_v2()
                },
                s4,
                d4
            ),
            EncodeError::BadV2Interval(150)
        );
        assert_eq!(
            err(
                Repr {
                    interval_cs: 0,
                    ..repr_v2()
                },
                s4,
                d4
            ),
            EncodeError::BadV2Interval(0)
        );
        assert_eq!(
            err(
                Repr {
                    interval_cs: 25600,
                    ..repr_v2()
                },
                s4,
                d4
            ),
            EncodeError::BadV2Interval(25600)
        );
        assert_eq!(
            err(
                Repr {
                    interval_cs: 0,
                    ..v3.clone()
                },
                s4,
                d4
            ),
            EncodeError::BadV3Interval(0)
        );
        assert_eq!(
            err(
                Repr {
                    interval_cs: 4096,
                    ..v3.clone()
                },
                s4,
                d4
            ),
            EncodeError::BadV3Interval(4096)
        );
        assert_eq!(
            err(
                Repr {
                    vrid: 0,
                    ..repr_v2()
                },
                s4,
                d4
            ),
            EncodeError::ZeroVrid
        );
        assert_eq!(
            err(
                Repr {
                    addresses: vec![],
                    ..repr_v2()
                },
                s4,
                d4
            ),
            EncodeError::NoAddresses
        );
        let many = vec![v4("192.0.2.10"); 256];
        assert_eq!(
            err(
                Repr {
                    addresses: many,
                    ..v3.clone()
                },
                s4,
                d4
            ),
            EncodeError::TooManyAddresses(256)
        );
        let mixed = vec![v4("192.0.2.10"), v6("2001:db8::1")];
        assert_eq!(
            err(
                Repr {
                    addresses: mixed,
                    ..v3.clone()
                },
                s4,
                d4
            ),
            EncodeError::MixedFamilies
        );
        assert_eq!(err(v3.clone(), s4, d6), EncodeError::MixedFamilies);
        assert_eq!(err(v3.clone(), s6, d6), EncodeError::MixedFamilies);
        let v2_v6 = Repr {
            addresses: vec![v6("2001:db8::1")],
            ..repr_v2()
        };
        assert_eq!(err(v2_v6, s6, d6), EncodeError::V2OverIpv6);
        let auth = Repr {
            auth: Auth::Pass(*b"12345678"),
            ..v3
        };
        assert_eq!(err(auth, s4, d4), EncodeError::AuthWithV3);
        let mut small = [0u8; 19];
        let res = repr_v2().emit(&mut small, s4, d4, ChecksumMode::Rfc);
        assert_eq!(
            res,
            Err(EncodeError::BufferTooSmall {
                needed: 20,
                got: 19
            })
        );
    }

    #[test]
    fn emit_into_larger_buffer_touches_only_buffer_len() {
        let (src, dst) = (v4("192.0.2.1"), v4("224.0.0.18"));
        let mut buf = [0xaa_u8; 64];
        repr_v2()
            .emit(&mut buf, src, dst, ChecksumMode::Rfc)
            .unwrap();
        assert!(buf[20..].iter().all(|&b| b == 0xaa));
        assert_eq!(
            Repr::parse(&buf[..20], src, dst, ChecksumMode::Rfc),
            Ok(repr_v2())
        );
    }

    #[test]
    fn v3_max_interval_and_many_addresses() {
        let (src, dst) = (v6("fe80::1"), IpAddr::V6(IPV6_MULTICAST));
        let addresses: Vec<IpAddr> = (0..255u16)
            .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)))
            .collect();
        let repr = Repr {
            version: Version::V3,
            vrid: 255,
            priority: 255,
            interval_cs: MAX_V3_INTERVAL_CS,
            auth: Auth::None,
            addresses,
        };
        let bytes = repr.to_bytes(src, dst, ChecksumMode::Rfc).unwrap();
        assert_eq!(bytes.len(), 8 + 255 * 16);
        assert_eq!(Repr::parse(&bytes, src, dst, ChecksumMode::Rfc), Ok(repr));
    }

    #[test]
    fn split_ipv4_errors() {
        let good = hex(KA_V3_V4);
        let kind = |b: &[u8]| split_ipv4(b).unwrap_err().kind();
        assert_eq!(kind(&good[..19]), "too_short");
        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(kind(&b), "bad_ip_version");
        b[0] = 0x44;
        assert_eq!(kind(&b), "bad_ihl");
        b[0] = 0x4f; // 60-byte header, buffer is 32
        assert_eq!(kind(&b), "bad_ihl");
        let mut b = good.clone();
        b[3] = 0x21; // total length 33 > 32
        assert_eq!(kind(&b), "bad_ip_length");
        b[3] = 0x13; // total length 19 < header
        assert_eq!(kind(&b), "bad_ip_length");
        let mut b = good.clone();
        b[8] = 254; // TTL changed, header checksum now wrong
        assert_eq!(kind(&b), "bad_ip_checksum");
    }

    #[test]
    fn split_ipv4_ignores_padding_and_skips_options() {
        let mut padded = hex(KA_V3_V4);
        padded.extend_from_slice(&[0; 14]);
        let (_, payload) = split_ipv4(&padded).unwrap();
        assert_eq!(payload.len(), 12);
        // Same packet with a 4-byte option (NOP x3 + EOL), lengths and checksum fixed.
        let good = hex(KA_V3_V4);
        let mut b = good[..20].to_vec();
        b.extend_from_slice(&[1, 1, 1, 0]);
        b.extend_from_slice(&good[20..]);
        b[0] = 0x46;
        b[3] = 36;
        b[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::finish(checksum::sum(&b[..24]));
        b[10..12].copy_from_slice(&c.to_be_bytes());
        let (head, payload) = split_ipv4(&b).unwrap();
        assert_eq!(head.protocol, PROTOCOL);
        assert_eq!(payload, &good[20..]);
    }
}
