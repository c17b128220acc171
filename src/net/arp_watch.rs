//! A packet socket that receives the ARP frames of one interface, for a master's probe of
//! its own VIPs (see `daemon/probe.rs`): a reply from another MAC means another host holds
//! the address.

use std::io::{self, Read as _};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::sys;

use super::NetError;

/// EtherType of ARP.
const ETH_P_ARP: u16 = 0x0806;

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface and to ARP: it receives whole
/// Ethernet frames (ARP only, incoming and outgoing).
#[derive(Debug)]
pub struct ArpListener {
    fd: AsyncFd<Socket>,
    interface: String,
}

impl ArpListener {
    /// Open and bind the socket on `interface`. Needs `CAP_NET_RAW` and a tokio runtime
    /// with IO enabled.
    pub fn open(interface: &str) -> Result<ArpListener, NetError> {
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
            Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
        )
        .map_err(setup("socket(AF_PACKET, SOCK_RAW, ETH_P_ARP)"))?;
        sys::bind_packet(std::os::fd::AsFd::as_fd(&socket), ifindex, ETH_P_ARP)
            .map_err(setup("bind to the interface"))?;
        let fd = sys::register_async(socket).map_err(setup("register with the tokio reactor"))?;
        Ok(ArpListener {
            fd,
            interface: interface.to_owned(),
        })
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Wait for the next frame; its length in `buf` (cut to `buf`'s size).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd
            .async_io(Interest::READABLE, |mut s| s.read(buf))
            .await
    }
}
