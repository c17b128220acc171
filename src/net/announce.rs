//! Packet socket for gratuitous ARP and unsolicited neighbour advertisements.

use std::io;

use socket2::{Domain, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::sys;

use super::NetError;

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface, for sending complete
/// Ethernet frames built by [`crate::wire::arp::gratuitous_arp`] and
/// [`crate::wire::ndp::unsolicited_na`]. It is bound with ethertype 0, so it
/// receives nothing.
#[derive(Debug)]
pub struct AnnounceSocket {
    fd: AsyncFd<Socket>,
    interface: String,
    ifindex: u32,
}

impl AnnounceSocket {
    /// Open and bind the socket on `interface`. Needs `CAP_NET_RAW` and a tokio
    /// runtime with IO enabled.
    pub fn open(interface: &str) -> Result<AnnounceSocket, NetError> {
        let ifindex = sys::if_nametoindex(interface).map_err(|source| NetError::NoInterface {
            interface: interface.to_owned(),
            source,
        })?;
        let setup = |op: &'static str| {
            let interface = interface.to_owned();
            move |source: io::Error| NetError::PacketSetup {
                op,
                interface,
                source,
            }
        };
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW.nonblocking().cloexec(),
            None, // protocol 0: receive no frames
        )
        .map_err(setup("socket(AF_PACKET, SOCK_RAW)"))?;
        sys::bind_packet(std::os::fd::AsFd::as_fd(&socket), ifindex, 0)
            .map_err(setup("bind to the interface"))?;
        let fd = sys::register_async(socket).map_err(setup("register with the tokio reactor"))?;
        Ok(AnnounceSocket {
            fd,
            interface: interface.to_owned(),
            ifindex,
        })
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Send one complete Ethernet frame (destination MAC first) as is.
    pub async fn send_frame(&self, frame: &[u8]) -> Result<(), NetError> {
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, |s| s.send(frame))
            .await
            .map_err(|source| NetError::SendFrame {
                len: frame.len(),
                interface: self.interface.clone(),
                source,
            })?;
        NetError::check_sent(sent, frame.len(), &self.interface)
    }
}

/// Whether `interface` forwards IPv6 (`net.ipv6.conf.IF.forwarding`, in the caller's network
/// namespace): keepalived then sets the router flag of its neighbour advertisements. A
/// procfs sysctl is read from memory, never from a disk, so this cannot stall the caller;
/// an unreadable value counts as "not forwarding" (a host, the common case).
pub fn ipv6_forwarding(interface: &str) -> bool {
    if interface.is_empty() || interface.contains('/') || interface.starts_with('.') {
        return false;
    }
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() != "0")
}
