//! Socket errors: what failed, on which interface or address, and the OS error.

use std::io;
use std::net::IpAddr;

use crate::wire::DecodeError;

use super::Family;

/// Why a socket operation failed, or why a received packet is dropped.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The interface does not exist (in this network namespace).
    #[error("interface {interface:?} not found: {source}")]
    NoInterface {
        /// Interface name.
        interface: String,
        /// OS error from `if_nametoindex`.
        source: io::Error,
    },
    /// Creating or configuring a socket failed (`op` names the call or option).
    #[error("{op} for the {family} VRRP socket on {interface} failed: {source}")]
    Setup {
        /// What was being done, e.g. `"join 224.0.0.18"`.
        op: &'static str,
        /// Interface name.
        interface: String,
        /// Address family of the socket.
        family: Family,
        /// OS error.
        source: io::Error,
    },
    /// Joining a multicast group failed.
    #[error("joining the multicast group {group} on {interface} failed: {source}")]
    Join {
        /// The group (an instance's `vrrp_mcast_group4/6` or `mcast_dst_ip`).
        group: IpAddr,
        /// Interface name.
        interface: String,
        /// OS error.
        source: io::Error,
    },
    /// Creating or binding the packet socket failed.
    #[error("{op} for the packet socket on {interface} failed: {source}")]
    PacketSetup {
        /// What was being done.
        op: &'static str,
        /// Interface name.
        interface: String,
        /// OS error.
        source: io::Error,
    },
    /// An address of the wrong family for this socket (e.g. IPv4 source on a V6 socket).
    #[error("{what} {addr} is not an {family} address (socket on {interface})")]
    WrongFamily {
        /// Which address: "source" or "destination".
        what: &'static str,
        /// The address given.
        addr: IpAddr,
        /// The socket's family.
        family: Family,
        /// Interface name.
        interface: String,
    },
    /// Sending a VRRP message failed.
    #[error("sending {len} bytes to {dst} on {interface} failed: {source}")]
    Send {
        /// Destination.
        dst: IpAddr,
        /// Payload length.
        len: usize,
        /// Interface name.
        interface: String,
        /// OS error.
        source: io::Error,
    },
    /// Sending an Ethernet frame failed.
    #[error("sending a {len}-byte frame on {interface} failed: {source}")]
    SendFrame {
        /// Frame length.
        len: usize,
        /// Interface name.
        interface: String,
        /// OS error.
        source: io::Error,
    },
    /// The kernel accepted fewer bytes than given.
    #[error("short send on {interface}: {sent} of {len} bytes")]
    ShortSend {
        /// Bytes sent.
        sent: usize,
        /// Bytes given.
        len: usize,
        /// Interface name.
        interface: String,
    },
    /// Receiving failed.
    #[error("receiving on {interface} ({family}) failed: {source}")]
    Recv {
        /// Interface name.
        interface: String,
        /// Socket family.
        family: Family,
        /// OS error.
        source: io::Error,
    },
    /// The datagram did not fit the buffer; it is dropped.
    #[error("packet on {interface} longer than the {buf_len}-byte buffer; dropped")]
    Truncated {
        /// Interface name.
        interface: String,
        /// Buffer size.
        buf_len: usize,
    },
    /// An IPv4 datagram whose header is malformed (counted and dropped).
    #[error("malformed IPv4 packet on {interface}: {error}")]
    BadIpv4 {
        /// Interface name.
        interface: String,
        /// What was wrong.
        error: DecodeError,
    },
    /// An IPv6 datagram came without the ancillary data we asked for
    /// (destination address or hop limit); dropped.
    #[error("IPv6 packet on {interface} without {missing}; dropped")]
    MissingAncillary {
        /// Interface name.
        interface: String,
        /// `"IPV6_PKTINFO"`, `"IPV6_HOPLIMIT"` or `"source address"`.
        missing: &'static str,
    },
}

impl NetError {
    /// True for errors about one received packet (count it and keep receiving);
    /// false for socket failures.
    pub fn is_bad_packet(&self) -> bool {
        self.drop_reason().is_some()
    }

    /// A send that wrote fewer bytes than asked is an error (raw sockets send whole
    /// datagrams, so this means something is badly wrong).
    pub fn check_sent(sent: usize, len: usize, interface: &str) -> Result<(), NetError> {
        if sent == len {
            return Ok(());
        }
        Err(NetError::ShortSend {
            sent,
            len,
            interface: interface.to_string(),
        })
    }

    /// For errors about one received packet, a stable snake_case name to count it by.
    pub fn drop_reason(&self) -> Option<&'static str> {
        match self {
            NetError::Truncated { .. } => Some("truncated"),
            NetError::BadIpv4 { error, .. } => Some(error.kind()),
            NetError::MissingAncillary { .. } => Some("missing_ancillary"),
            _ => None,
        }
    }
}
