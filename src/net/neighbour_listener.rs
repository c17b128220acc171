//! A packet socket that receives the ARP frames, or the ICMPv6 neighbour advertisements, of
//! one interface, for a master's probe of its own VIPs (see `daemon/probe.rs`): an answer
//! from another MAC means another host holds the address.

use std::io::{self, Read as _};

use socket2::{Domain, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::sys;

use super::NetError;

/// EtherType of ARP.
const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6.
const ETH_P_IPV6: u16 = 0x86dd;

/// Classic BPF: keep ARP replies (operation 2): the requests every host on the segment
/// broadcasts are not copied here.
fn arp_reply_filter() -> [libc::sock_filter; 6] {
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    [
        op(LDH_ABS, 0, 0, 12),                 // EtherType
        op(JEQ_K, 0, 3, u32::from(ETH_P_ARP)), // else drop
        op(LDH_ABS, 0, 0, 14 + 6),             // ARP operation
        op(JEQ_K, 0, 1, 2),                    // reply, else drop
        op(RET_K, 0, 0, 0xffff),               // keep
        op(RET_K, 0, 0, 0),                    // drop
    ]
}

/// Classic BPF: keep IPv6 frames whose next header is ICMPv6 (no extension header, as
/// neighbour discovery sends them) and whose ICMPv6 type is 136 (neighbour advertisement);
/// a master's interface carries all its clients' traffic, none of which is copied here.
fn na_filter() -> [libc::sock_filter; 8] {
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    [
        op(LDH_ABS, 0, 0, 12),                  // EtherType
        op(JEQ_K, 0, 5, u32::from(ETH_P_IPV6)), // else drop
        op(LDB_ABS, 0, 0, 14 + 6),              // IPv6 next header
        op(JEQ_K, 0, 3, 58),                    // ICMPv6, else drop
        op(LDB_ABS, 0, 0, 14 + 40),             // ICMPv6 type
        op(JEQ_K, 0, 1, 136),                   // NA, else drop
        op(RET_K, 0, 0, 0xffff),                // keep
        op(RET_K, 0, 0, 0),                     // drop
    ]
}

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface: whole Ethernet frames, ARP
/// replies only ([`NeighbourListener::arp`]) or neighbour advertisements only
/// ([`NeighbourListener::nd`]), incoming and outgoing.
#[derive(Debug)]
pub struct NeighbourListener {
    fd: AsyncFd<Socket>,
    interface: String,
}

impl NeighbourListener {
    /// ARP replies on `interface` (filtered in the kernel). Needs `CAP_NET_RAW` and a tokio
    /// runtime with IO enabled.
    pub fn arp(interface: &str) -> Result<NeighbourListener, NetError> {
        Self::open(interface, ETH_P_ARP, Some(&arp_reply_filter()))
    }

    /// ICMPv6 neighbour advertisements on `interface` (filtered in the kernel).
    pub fn nd(interface: &str) -> Result<NeighbourListener, NetError> {
        Self::open(interface, ETH_P_IPV6, Some(&na_filter()))
    }

    fn open(
        interface: &str,
        ethertype: u16,
        filter: Option<&[libc::sock_filter]>,
    ) -> Result<NeighbourListener, NetError> {
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
        // Protocol 0: no frame at all until the bind below names the interface and the
        // EtherType (after the filter is in place).
        let socket = Socket::new(Domain::PACKET, Type::RAW.nonblocking().cloexec(), None)
            .map_err(setup("socket(AF_PACKET, SOCK_RAW)"))?;
        if let Some(filter) = filter {
            socket
                .attach_filter(filter)
                .map_err(setup("attach the socket filter"))?;
        }
        sys::bind_packet(std::os::fd::AsFd::as_fd(&socket), ifindex, ethertype)
            .map_err(setup("bind to the interface"))?;
        let fd = sys::register_async(socket).map_err(setup("register with the tokio reactor"))?;
        Ok(NeighbourListener {
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
