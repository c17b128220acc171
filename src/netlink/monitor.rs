//! Link and address notifications from the kernel.
//!
//! rtnetlink 0.14 does not expose the types needed to subscribe its connection to
//! multicast groups, so the monitor has its own `NETLINK_ROUTE` socket (socket2,
//! bound with the group mask in [`crate::sys::bind_netlink`]) and decodes the few
//! fields it needs itself, with bounds-checked reads: a malformed message is
//! skipped, never a panic.

use std::collections::VecDeque;
use std::io::{self, Read as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd as _;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::sys;

use super::NetlinkError;

/// A change reported by the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// A link's flags changed (or it was deleted: then `up` is false).
    /// `up` is `IFF_UP && IFF_RUNNING`. Sent for every `RTM_NEWLINK`, so the same
    /// state can repeat; compare with the last one seen.
    LinkChanged {
        /// Interface index.
        index: u32,
        /// Interface name (empty if the message had none).
        name: String,
        /// Up with carrier.
        up: bool,
    },
    /// An address appeared (or changed flags, e.g. left `tentative`).
    AddressAdded {
        /// Interface index.
        index: u32,
        /// The address (the local one, for point-to-point).
        addr: IpAddr,
        /// Prefix length.
        prefix_len: u8,
    },
    /// An address went away.
    AddressRemoved {
        /// Interface index.
        index: u32,
        /// The address.
        addr: IpAddr,
        /// Prefix length.
        prefix_len: u8,
    },
    /// The kernel dropped notifications (socket buffer overrun, `ENOBUFS`): the
    /// receiver must re-read the state it cares about.
    Overrun,
}

/// Subscribed to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and `RTNLGRP_IPV6_IFADDR`.
#[derive(Debug)]
pub struct Monitor {
    fd: AsyncFd<Socket>,
    buf: Vec<u8>,
    pending: VecDeque<NetEvent>,
}

// Legacy group bitmasks (`RTMGRP_*`) for bind(2).
const RTMGRP_LINK: u32 = 1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;

/// Socket receive buffer: notifications come in bursts (many addresses at once).
const RCVBUF: usize = 1 << 20;
/// One read: the kernel's notification datagrams are at most a page or two.
const READ_BUF: usize = 64 * 1024;

impl Monitor {
    /// Open the monitor socket. Needs a tokio runtime with IO enabled.
    pub fn open() -> Result<Monitor, NetlinkError> {
        let open = |source| NetlinkError::Open {
            what: "monitor",
            source,
        };
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )
        .map_err(open)?;
        // A larger buffer makes overruns rarer; failing to get it is not fatal.
        let _ = socket.set_recv_buffer_size(RCVBUF);
        sys::bind_netlink(
            socket.as_fd(),
            RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
        )
        .map_err(open)?;
        let fd = sys::register_async(socket).map_err(open)?;
        Ok(Monitor {
            fd,
            buf: vec![0; READ_BUF],
            pending: VecDeque::new(),
        })
    }

    /// The next change. `None` means the socket failed (the error is logged) and
    /// the monitor is finished.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let buf = &mut self.buf;
            match self
                .fd
                .async_io(Interest::READABLE, |mut s| s.read(buf))
                .await
            {
                Ok(0) => {
                    tracing::warn!("netlink monitor socket closed");
                    return None;
                }
                Ok(len) => {
                    let datagram = self.buf.get(..len).unwrap_or_default();
                    parse_messages(datagram, &mut self.pending);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Some(NetEvent::Overrun);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!(error = %e, "netlink monitor receive failed");
                    return None;
                }
            }
        }
    }
}

const NLMSG_HDR_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
/// Attribute type bits (without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`).
const NLA_TYPE_MASK: u16 = 0x3fff;

const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decode every link/address notification in one datagram into `out`.
fn parse_messages(mut rest: &[u8], out: &mut VecDeque<NetEvent>) {
    while rest.len() >= NLMSG_HDR_LEN {
        let Some(len) = u32_at(rest, 0).and_then(|l| usize::try_from(l).ok()) else {
            return;
        };
        let (Some(kind), Some(payload)) = (u16_at(rest, 4), rest.get(NLMSG_HDR_LEN..len)) else {
            return; // length shorter than the header or past the end
        };
        let event = match kind {
            libc::RTM_NEWLINK | libc::RTM_DELLINK => parse_link(payload, kind == libc::RTM_NEWLINK),
            libc::RTM_NEWADDR | libc::RTM_DELADDR => parse_addr(payload, kind == libc::RTM_NEWADDR),
            _ => None,
        };
        out.extend(event);
        rest = rest.get(align4(len)..).unwrap_or_default();
    }
}

/// Attributes (type, data) after a fixed header.
fn attributes(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(rest, 0)?);
        let kind = u16_at(rest, 2)? & NLA_TYPE_MASK;
        let data = rest.get(4..len)?;
        rest = rest.get(align4(len)..).unwrap_or_default();
        Some((kind, data))
    })
}

fn parse_link(payload: &[u8], new: bool) -> Option<NetEvent> {
    let index = u32_at(payload, 4)?;
    let flags = u32_at(payload, 8)?;
    let running = libc::IFF_UP as u32 | libc::IFF_RUNNING as u32;
    let name = attributes(payload.get(IFINFOMSG_LEN..)?)
        .find(|(kind, _)| *kind == IFLA_IFNAME)
        .map(|(_, data)| {
            let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
            String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into_owned()
        })
        .unwrap_or_default();
    Some(NetEvent::LinkChanged {
        index,
        name,
        up: new && flags & running == running,
    })
}

fn parse_addr(payload: &[u8], new: bool) -> Option<NetEvent> {
    let family = i32::from(*payload.first()?);
    let prefix_len = *payload.get(1)?;
    let index = u32_at(payload, 4)?;
    let mut address = None;
    let mut local = None;
    for (kind, data) in attributes(payload.get(IFADDRMSG_LEN..)?) {
        let addr = match family {
            libc::AF_INET => <[u8; 4]>::try_from(data)
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            libc::AF_INET6 => <[u8; 16]>::try_from(data)
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        };
        match kind {
            IFA_ADDRESS => address = addr,
            IFA_LOCAL => local = addr,
            _ => {}
        }
    }
    let addr = local.or(address)?;
    Some(if new {
        NetEvent::AddressAdded {
            index,
            addr,
            prefix_len,
        }
    } else {
        NetEvent::AddressRemoved {
            index,
            addr,
            prefix_len,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(NLMSG_HDR_LEN + payload.len()).unwrap();
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&u16::try_from(4 + data.len()).unwrap().to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        a.resize(align4(a.len()), 0);
        a
    }

    #[test]
    fn link_and_address_messages() {
        let mut link = vec![0u8, 0, 1, 0];
        link.extend_from_slice(&7u32.to_ne_bytes());
        link.extend_from_slice(&((libc::IFF_UP | libc::IFF_RUNNING) as u32).to_ne_bytes());
        link.extend_from_slice(&0u32.to_ne_bytes());
        link.extend(attr(IFLA_IFNAME, b"veth0\0"));
        let mut addr = vec![libc::AF_INET as u8, 24, 0, 0];
        addr.extend_from_slice(&7u32.to_ne_bytes());
        addr.extend(attr(IFA_ADDRESS, &[192, 0, 2, 9]));
        addr.extend(attr(IFA_LOCAL, &[192, 0, 2, 1]));
        let mut datagram = nlmsg(libc::RTM_NEWLINK, &link);
        datagram.extend(nlmsg(libc::RTM_DELADDR, &addr));
        let mut out = VecDeque::new();
        parse_messages(&datagram, &mut out);
        assert_eq!(
            Vec::from(out),
            vec![
                NetEvent::LinkChanged {
                    index: 7,
                    name: "veth0".into(),
                    up: true
                },
                NetEvent::AddressRemoved {
                    index: 7,
                    addr: "192.0.2.1".parse().unwrap(),
                    prefix_len: 24
                },
            ]
        );
    }

    #[test]
    fn malformed_input_is_skipped_without_panic() {
        let mut out = VecDeque::new();
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            parse_messages(&bytes, &mut out);
        }
        // A header claiming more than the datagram holds.
        let mut m = nlmsg(libc::RTM_NEWADDR, &[10, 64, 0, 0, 1, 0, 0, 0]);
        m[0] = 200;
        parse_messages(&m, &mut out);
        // An attribute whose length runs past the end.
        let mut addr = vec![libc::AF_INET6 as u8, 64, 0, 0, 1, 0, 0, 0];
        addr.extend_from_slice(&[200, 0, 1, 0]);
        parse_messages(&nlmsg(libc::RTM_NEWADDR, &addr), &mut out);
        assert!(out.is_empty());
    }
}
