//! Gratuitous ARP, sent by a new master for each IPv4 VIP (RFC 5798 6.4.1), built
//! exactly as keepalived sends it, plus a small checked parser for tests and interop.

use std::net::Ipv4Addr;

use pnet_base::MacAddr;
use pnet_packet::arp::{
    ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket,
};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::{MutablePacket as _, Packet as _};

use super::DecodeError;

/// Ethernet header length.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// ARP packet length for Ethernet/IPv4.
pub const ARP_LEN: usize = 28;
/// Length of a gratuitous ARP frame (no padding; the NIC pads to 60).
pub const FRAME_LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;
/// Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A complete Ethernet frame carrying a gratuitous ARP request for `ip` from `mac`.
///
/// Like keepalived 2.2.7: broadcast destination, opcode 1 (request), sender and
/// target protocol address both `ip`, target hardware address broadcast.
///
/// ```text
/// Ethernet: dst ff:ff:ff:ff:ff:ff | src mac | type 0x0806
/// ARP (RFC 826):
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Hardware type (1)         |     Protocol type (0x0800)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HW len (6)   | Proto len (4) |        Operation (1)          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Sender hardware address (6 bytes) = mac            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Sender protocol address (4 bytes) = ip             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Target hardware address (6 bytes) = ff:ff:ff:ff:ff:ff      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Target protocol address (4 bytes) = ip             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0; FRAME_LEN];
    // Cannot fail: the buffer has exactly the needed length.
    let _ = write_gratuitous_arp(&mut frame, mac, ip);
    frame
}

fn write_gratuitous_arp(frame: &mut [u8], mac: [u8; 6], ip: Ipv4Addr) -> Option<()> {
    let mut eth = MutableEthernetPacket::new(frame)?;
    eth.set_destination(MacAddr::from(BROADCAST));
    eth.set_source(MacAddr::from(mac));
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp = MutableArpPacket::new(eth.payload_mut())?;
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(MacAddr::from(mac));
    arp.set_sender_proto_addr(ip);
    arp.set_target_hw_addr(MacAddr::from(BROADCAST));
    arp.set_target_proto_addr(ip);
    Some(())
}

/// A complete Ethernet frame carrying an ARP probe for `ip` from `mac` (RFC 5227 2.1.1):
/// broadcast, opcode 1 (request), sender protocol address 0.0.0.0 (so no cache learns
/// anything from it), target hardware address zero, target protocol address `ip`. A host
/// that has `ip` answers with a reply from its MAC (Linux answers such a probe, RFC 2131
/// "duplicate address detection"); a master probes its own VIP this way to find another
/// host that holds it.
pub fn probe(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut frame = gratuitous_arp(mac, ip);
    if let Some(mut eth) = MutableEthernetPacket::new(&mut frame)
        && let Some(mut arp) = MutableArpPacket::new(eth.payload_mut())
    {
        arp.set_sender_proto_addr(Ipv4Addr::UNSPECIFIED);
        arp.set_target_hw_addr(MacAddr::zero());
    }
    frame
}

/// An Ethernet frame carrying an Ethernet/IPv4 ARP packet, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpFrame {
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// 1 request, 2 reply.
    pub operation: u16,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: [u8; 6],
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// Parse an Ethernet frame (trailing padding allowed).
    pub fn parse(frame: &[u8]) -> Result<ArpFrame, DecodeError> {
        let too_short = DecodeError::TooShort {
            len: frame.len(),
            min: FRAME_LEN,
        };
        let eth = EthernetPacket::new(frame).ok_or(too_short.clone())?;
        if eth.get_ethertype() != EtherTypes::Arp {
            return Err(DecodeError::BadEthertype(eth.get_ethertype().0));
        }
        let arp = ArpPacket::new(eth.payload()).ok_or(too_short)?;
        let ethernet_ipv4 = arp.get_hardware_type() == ArpHardwareTypes::Ethernet
            && arp.get_protocol_type() == EtherTypes::Ipv4
            && arp.get_hw_addr_len() == 6
            && arp.get_proto_addr_len() == 4;
        if !ethernet_ipv4 {
            return Err(DecodeError::BadArpFormat);
        }
        Ok(ArpFrame {
            eth_dst: eth.get_destination().octets(),
            eth_src: eth.get_source().octets(),
            operation: arp.get_operation().0,
            sender_mac: arp.get_sender_hw_addr().octets(),
            sender_ip: arp.get_sender_proto_addr(),
            target_mac: arp.get_target_hw_addr().octets(),
            target_ip: arp.get_target_proto_addr(),
        })
    }

    /// A gratuitous request or reply: sender and target protocol address equal.
    pub fn is_gratuitous(&self) -> bool {
        let op = ArpOperation(self.operation);
        (op == ArpOperations::Request || op == ArpOperations::Reply)
            && self.sender_ip == self.target_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a];
    const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 70);

    /// Hand-checked: the frame for MAC / IP above, field by field.
    const EXPECTED: [u8; FRAME_LEN] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a, // Ethernet source: MAC
        0x08, 0x06, // EtherType ARP
        0x00, 0x01, // hardware type Ethernet
        0x08, 0x00, // protocol type IPv4
        0x06, 0x04, // address lengths
        0x00, 0x01, // operation: request
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a, // sender MAC
        192, 0, 2, 70, // sender IP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // target MAC: broadcast (keepalived)
        192, 0, 2, 70, // target IP = sender IP
    ];

    /// keepalived 2.2.7, instance vrid 53 (VIP 192.0.2.70) on becoming master;
    /// captured with scripts/capture-keepalived-vectors.sh (`tcpdump -xx`).
    const KEEPALIVED: &str =
        "ffffffffffff02005e00000a0806000108000604000102005e00000ac0000246ffffffffffffc0000246";

    #[test]
    fn a_probe_asks_for_the_address_from_nowhere() {
        let frame = probe(MAC, IP);
        let mut expected = EXPECTED;
        expected[28..32].copy_from_slice(&[0, 0, 0, 0]); // sender IP 0.0.0.0
        expected[32..38].copy_from_slice(&[0; 6]); // target MAC zero
        assert_eq!(frame, expected);
        let parsed = ArpFrame::parse(&frame).unwrap();
        assert_eq!(parsed.operation, 1);
        assert_eq!(parsed.sender_ip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(parsed.target_ip, IP);
        assert!(!parsed.is_gratuitous());
    }

    #[test]
    fn builds_expected_frame() {
        assert_eq!(gratuitous_arp(MAC, IP), EXPECTED);
    }

    #[test]
    fn identical_to_keepalived() {
        let captured = crate::wire::test_util::hex(KEEPALIVED);
        assert_eq!(gratuitous_arp(MAC, IP), captured);
    }

    #[test]
    fn reparses_with_pnet() {
        let frame = gratuitous_arp(MAC, IP);
        let eth = EthernetPacket::new(&frame).unwrap();
        assert_eq!(eth.get_destination(), MacAddr::broadcast());
        assert_eq!(eth.get_source(), MacAddr::from(MAC));
        assert_eq!(eth.get_ethertype(), EtherTypes::Arp);
        let arp = ArpPacket::new(eth.payload()).unwrap();
        assert_eq!(arp.get_operation(), ArpOperations::Request);
        assert_eq!(arp.get_sender_proto_addr(), IP);
        assert_eq!(arp.get_target_proto_addr(), IP);
    }

    #[test]
    fn parse_roundtrip_and_padding() {
        let mut frame = gratuitous_arp(MAC, IP);
        frame.resize(60, 0);
        let parsed = ArpFrame::parse(&frame).unwrap();
        assert!(parsed.is_gratuitous());
        assert_eq!(parsed.eth_dst, BROADCAST);
        assert_eq!(parsed.eth_src, MAC);
        assert_eq!(parsed.operation, 1);
        assert_eq!(parsed.sender_mac, MAC);
        assert_eq!(parsed.sender_ip, IP);
        assert_eq!(parsed.target_mac, BROADCAST);
        assert_eq!(parsed.target_ip, IP);
    }

    #[test]
    fn parse_errors() {
        let frame = gratuitous_arp(MAC, IP);
        let kind = |b: &[u8]| ArpFrame::parse(b).unwrap_err().kind();
        assert_eq!(kind(&frame[..13]), "too_short");
        assert_eq!(kind(&frame[..41]), "too_short");
        let mut b = frame.clone();
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(kind(&b), "bad_ethertype");
        let mut b = frame.clone();
        b[14 + 5] = 16; // protocol address length
        assert_eq!(kind(&b), "bad_arp_format");
        let mut b = frame;
        b[14 + 27] = 71; // target IP differs
        assert!(!ArpFrame::parse(&b).unwrap().is_gratuitous());
    }

    #[test]
    fn parse_never_panics_on_short_input() {
        for len in 0..FRAME_LEN {
            assert!(ArpFrame::parse(&EXPECTED[..len]).is_err());
        }
    }
}
