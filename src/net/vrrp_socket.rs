//! The VRRP raw socket: IP protocol 112 on one interface, one per address family.

use std::fmt;
use std::io::{self, IoSlice, Read as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsFd as _;

use socket2::{Domain, InterfaceIndexOrAddress, MsgHdr, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::sys;
use crate::wire::vrrp::{IPV4_MULTICAST, IPV6_MULTICAST, PROTOCOL, TOS_CS6, TTL, split_ipv4};

use super::NetError;

/// Address family of a [`VrrpSocket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: VRRPv2 or VRRPv3, group 224.0.0.18.
    V4,
    /// IPv6: VRRPv3, group ff02::12.
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The VRRP multicast group of this family.
    pub fn multicast_group(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(IPV4_MULTICAST),
            Family::V6 => IpAddr::V6(IPV6_MULTICAST),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// One received VRRP datagram. The VRRP message (IP payload) has been copied to
/// the front of the caller's buffer: it is `&buf[..len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// IP source address (for IPv6 the link-local address, without scope).
    pub src: IpAddr,
    /// IP destination address: the multicast group, or our address for unicast.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit, as received. RFC 5798 5.1.1.3 / 5.1.2.3: the
    /// caller drops a multicast advert unless it is 255.
    pub ttl: u8,
    /// IPv4 type of service or IPv6 traffic class, as received (DSCP and ECN).
    pub tos: u8,
    /// Length of the VRRP message at the front of the buffer.
    pub len: usize,
}

/// A raw IP socket for VRRP (protocol 112) on one interface and address family.
///
/// Set up as keepalived does: bound to the interface (`SO_BINDTODEVICE`),
/// member of the instances' multicast groups on that interface ([`join`](Self::join)),
/// multicast and unicast TTL / hop limit 255 (a unicast advert may ask for another with
/// `unicast_ttl`), DSCP CS6 (TOS / traffic class 0xc0, as keepalived and FRR), multicast
/// loopback off (we never hear our own adverts).
///
/// * IPv4: received datagrams include the IP header, which is checked and
///   stripped with [`split_ipv4`]; the source address of sent packets is forced to
///   `source` with an `IP_PKTINFO` control message.
/// * IPv6: the kernel gives only the payload; `IPV6_RECVHOPLIMIT` and
///   `IPV6_RECVPKTINFO` deliver the hop limit and the destination address. Sent
///   packets carry `IPV6_PKTINFO` with `source` (the interface's link-local
///   address), so the pseudo-header checksum computed by
///   [`Repr::emit`](crate::wire::vrrp::Repr::emit) matches. The kernel never
///   touches the VRRP checksum (`IPV6_CHECKSUM` is left off, its default for raw
///   sockets other than ICMPv6).
///
/// The socket is not bound to an address: a raw socket bound to a unicast
/// address would no longer receive the multicast adverts.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    interface: String,
    ifindex: u32,
    family: Family,
    source: IpAddr,
}

/// Control buffer large enough for IPV6_HOPLIMIT + IPV6_TCLASS + IPV6_PKTINFO (and one
/// spare).
const CONTROL_LEN: usize =
    sys::cmsg_space(4) + sys::cmsg_space(4) + sys::cmsg_space(20) + sys::cmsg_space(20);

impl VrrpSocket {
    /// Open the socket on `interface` for `family`, sending from `source` (an IPv4
    /// address of the interface, or its IPv6 link-local address). It joins no group yet:
    /// call [`join`](Self::join) with each instance's group. Must be called within a tokio
    /// runtime with IO enabled.
    pub fn open(interface: &str, family: Family, source: IpAddr) -> Result<VrrpSocket, NetError> {
        if Family::of(source) != family {
            return Err(NetError::WrongFamily {
                what: "source",
                addr: source,
                family,
                interface: interface.to_owned(),
            });
        }
        let ifindex = sys::if_nametoindex(interface).map_err(|source| NetError::NoInterface {
            interface: interface.to_owned(),
            source,
        })?;
        let setup = |op: &'static str| {
            let interface = interface.to_owned();
            move |source: io::Error| NetError::Setup {
                op,
                interface,
                family,
                source,
            }
        };
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(
            domain,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(PROTOCOL))),
        )
        .map_err(setup("socket(SOCK_RAW, 112)"))?;
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(setup("SO_BINDTODEVICE"))?;
        match source {
            IpAddr::V4(src) => {
                socket
                    .set_tos(u32::from(TOS_CS6))
                    .map_err(setup("IP_TOS"))?;
                match socket.set_multicast_if_v4(&src) {
                    Ok(()) => {}
                    // The source is an address of another interface (use_vmac: the base's
                    // address, the macvlan's socket): the kernel refuses it here, and the
                    // bound device is the way out anyway, with IP_PKTINFO giving the source.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                    Err(e) => return Err(setup("IP_MULTICAST_IF")(e)),
                }
                socket
                    .set_multicast_ttl_v4(u32::from(TTL))
                    .map_err(setup("IP_MULTICAST_TTL"))?;
                socket.set_ttl(u32::from(TTL)).map_err(setup("IP_TTL"))?;
                socket
                    .set_multicast_loop_v4(false)
                    .map_err(setup("IP_MULTICAST_LOOP"))?;
            }
            IpAddr::V6(_) => {
                socket
                    .set_tclass_v6(u32::from(TOS_CS6))
                    .map_err(setup("IPV6_TCLASS"))?;
                socket
                    .set_recv_tclass_v6(true)
                    .map_err(setup("IPV6_RECVTCLASS"))?;
                socket
                    .set_multicast_if_v6(ifindex)
                    .map_err(setup("IPV6_MULTICAST_IF"))?;
                socket
                    .set_multicast_hops_v6(u32::from(TTL))
                    .map_err(setup("IPV6_MULTICAST_HOPS"))?;
                socket
                    .set_unicast_hops_v6(u32::from(TTL))
                    .map_err(setup("IPV6_UNICAST_HOPS"))?;
                socket
                    .set_multicast_loop_v6(false)
                    .map_err(setup("IPV6_MULTICAST_LOOP"))?;
                socket
                    .set_recv_hoplimit_v6(true)
                    .map_err(setup("IPV6_RECVHOPLIMIT"))?;
                sys::setsockopt_int(
                    socket.as_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_RECVPKTINFO,
                    1,
                )
                .map_err(setup("IPV6_RECVPKTINFO"))?;
            }
        }
        let fd = sys::register_async(socket).map_err(setup("register with the tokio reactor"))?;
        Ok(VrrpSocket {
            fd,
            interface: interface.to_owned(),
            ifindex,
            family,
            source,
        })
    }

    /// Join the multicast `group` on the socket's interface (224.0.0.18 / ff02::12, or a
    /// `vrrp_mcast_group4/6` / `mcast_dst_ip` group). Joining a group twice is not an error.
    pub fn join(&self, group: IpAddr) -> Result<(), NetError> {
        let socket = self.fd.get_ref();
        let joined = match group {
            IpAddr::V4(g) if self.family == Family::V4 => {
                socket.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex))
            }
            IpAddr::V6(g) if self.family == Family::V6 => {
                socket.join_multicast_v6(&g, self.ifindex)
            }
            _ => {
                return Err(NetError::WrongFamily {
                    what: "multicast group",
                    addr: group,
                    family: self.family,
                    interface: self.interface.clone(),
                });
            }
        };
        match joined {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            Err(source) => Err(NetError::Join {
                group,
                interface: self.interface.clone(),
                source,
            }),
            Ok(()) => Ok(()),
        }
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The source address used for sending (and for the checksum pseudo-header).
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// Receive one datagram. On success the VRRP message is `&buf[..len]`.
    ///
    /// Errors for which [`NetError::is_bad_packet`] is true concern that one
    /// packet only (malformed IPv4 header, truncated, missing ancillary data):
    /// count them and call again. A 1500-byte buffer fits any VRRP packet on
    /// Ethernet.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Received, NetError> {
        match self.family {
            Family::V4 => self.recv_v4(buf).await,
            Family::V6 => self.recv_v6(buf).await,
        }
    }

    /// A datagram already queued on the socket, without waiting: `None` when there is
    /// none. Errors are as for [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>> {
        match self.family {
            Family::V4 => match self.fd.get_ref().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) => Some(Err(self.recv_error(e))),
                Ok(len) => Some(self.finish_v4(buf, len)),
            },
            Family::V6 => {
                let mut control = [0u8; CONTROL_LEN];
                match sys::recvmsg(self.fd.get_ref().as_fd(), buf, &mut control) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                    Err(e) => Some(Err(self.recv_error(e))),
                    Ok(msg) => Some(self.finish_v6(buf, &msg, &control)),
                }
            }
        }
    }

    async fn recv_v4(&self, buf: &mut [u8]) -> Result<Received, NetError> {
        let len = self
            .fd
            .async_io(Interest::READABLE, |mut s| s.read(buf))
            .await
            .map_err(|source| self.recv_error(source))?;
        self.finish_v4(buf, len)
    }

    /// The datagram of `len` bytes read into `buf` (IP header first): its VRRP message
    /// moved to the front.
    fn finish_v4(&self, buf: &mut [u8], len: usize) -> Result<Received, NetError> {
        let (header, payload_len, payload_start) = {
            let datagram = buf.get(..len).unwrap_or_default();
            let (header, payload) = split_ipv4(datagram).map_err(|error| NetError::BadIpv4 {
                interface: self.interface.clone(),
                error,
            })?;
            // split_ipv4 checked the IHL: the payload starts right after the header.
            let start = datagram.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
            (header, payload.len(), start)
        };
        buf.copy_within(payload_start..payload_start + payload_len, 0);
        Ok(Received {
            src: IpAddr::V4(header.src),
            dst: IpAddr::V4(header.dst),
            ttl: header.ttl,
            tos: header.tos,
            len: payload_len,
        })
    }

    async fn recv_v6(&self, buf: &mut [u8]) -> Result<Received, NetError> {
        let mut control = [0u8; CONTROL_LEN];
        let msg = self
            .fd
            .async_io(Interest::READABLE, |s| {
                sys::recvmsg(s.as_fd(), buf, &mut control)
            })
            .await
            .map_err(|source| self.recv_error(source))?;
        self.finish_v6(buf, &msg, &control)
    }

    /// The datagram `recvmsg` gave (`msg`, its ancillary data in `control`).
    fn finish_v6(
        &self,
        buf: &[u8],
        msg: &sys::RecvMsg,
        control: &[u8],
    ) -> Result<Received, NetError> {
        if msg.truncated {
            return Err(NetError::Truncated {
                interface: self.interface.clone(),
                buf_len: buf.len(),
            });
        }
        let mut dst = None;
        let mut hop_limit = None;
        let mut tclass = None;
        for cmsg in sys::cmsgs(control.get(..msg.control_len).unwrap_or_default()) {
            match (cmsg.level, cmsg.kind) {
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    dst = sys::parse_in6_pktinfo(cmsg.data).map(|(addr, _)| addr);
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    hop_limit = sys::parse_cmsg_int(cmsg.data).and_then(|h| u8::try_from(h).ok());
                }
                (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
                    tclass = sys::parse_cmsg_int(cmsg.data).and_then(|t| u8::try_from(t).ok());
                }
                _ => {}
            }
        }
        let missing = |missing| NetError::MissingAncillary {
            interface: self.interface.clone(),
            missing,
        };
        let src = match msg.src {
            Some(SocketAddr::V6(a)) => *a.ip(),
            _ => return Err(missing("source address")),
        };
        let dst = dst.ok_or_else(|| missing("IPV6_PKTINFO"))?;
        let ttl = hop_limit.ok_or_else(|| missing("IPV6_HOPLIMIT"))?;
        Ok(Received {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl,
            tos: tclass.unwrap_or(0),
            len: msg.len,
        })
    }

    fn recv_error(&self, source: io::Error) -> NetError {
        NetError::Recv {
            interface: self.interface.clone(),
            family: self.family,
            source,
        }
    }

    /// Send one VRRP message (already emitted with our [`source`](Self::source)
    /// and `dst` in its checksum) to `dst`: the multicast group or a unicast peer, with
    /// TTL / hop limit `ttl` (255 but for keepalived's `unicast_ttl`).
    pub async fn send(&self, payload: &[u8], dst: IpAddr, ttl: u8) -> Result<(), NetError> {
        let (addr, control) = match (dst, self.source) {
            (IpAddr::V4(d), IpAddr::V4(s)) => (
                SockAddr::from(SocketAddrV4::new(d, 0)),
                control_v4(self.ifindex, s, ttl),
            ),
            (IpAddr::V6(d), IpAddr::V6(s)) => (
                SockAddr::from(SocketAddrV6::new(d, 0, 0, scope_for(d, self.ifindex))),
                control_v6(self.ifindex, s, ttl),
            ),
            _ => {
                return Err(NetError::WrongFamily {
                    what: "destination",
                    addr: dst,
                    family: self.family,
                    interface: self.interface.clone(),
                });
            }
        };
        let bufs = [IoSlice::new(payload)];
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, |s| {
                let msg = MsgHdr::new()
                    .with_addr(&addr)
                    .with_buffers(&bufs)
                    .with_control(&control);
                s.sendmsg(&msg, 0)
            })
            .await
            .map_err(|source| NetError::Send {
                dst,
                len: payload.len(),
                interface: self.interface.clone(),
                source,
            })?;
        NetError::check_sent(sent, payload.len(), &self.interface)
    }
}

/// `IP_PKTINFO` (the source address), and `IP_TTL` when `ttl` is not the socket's 255.
fn control_v4(ifindex: u32, src: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let mut control = Vec::with_capacity(sys::cmsg_space(12) + sys::cmsg_space(4));
    sys::push_cmsg(
        &mut control,
        libc::IPPROTO_IP,
        libc::IP_PKTINFO,
        &sys::in_pktinfo(ifindex, src),
    );
    if ttl != TTL {
        let ttl = i32::from(ttl).to_ne_bytes();
        sys::push_cmsg(&mut control, libc::IPPROTO_IP, libc::IP_TTL, &ttl);
    }
    control
}

/// `IPV6_PKTINFO` (the source address), and `IPV6_HOPLIMIT` when `ttl` is not the
/// socket's 255.
fn control_v6(ifindex: u32, src: Ipv6Addr, ttl: u8) -> Vec<u8> {
    let mut control = Vec::with_capacity(sys::cmsg_space(20) + sys::cmsg_space(4));
    sys::push_cmsg(
        &mut control,
        libc::IPPROTO_IPV6,
        libc::IPV6_PKTINFO,
        &sys::in6_pktinfo(ifindex, src),
    );
    if ttl != TTL {
        let hops = i32::from(ttl).to_ne_bytes();
        sys::push_cmsg(&mut control, libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, &hops);
    }
    control
}

/// Link-scoped destinations (link-local unicast, ff02::/16) need the interface
/// as scope id; others must not have one.
fn scope_for(dst: Ipv6Addr, ifindex: u32) -> u32 {
    let link_local_unicast = dst.segments()[0] & 0xffc0 == 0xfe80;
    let link_local_multicast = dst.segments()[0] & 0xff0f == 0xff02;
    if link_local_unicast || link_local_multicast {
        ifindex
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_only_for_link_scope() {
        assert_eq!(scope_for(IPV6_MULTICAST, 3), 3);
        assert_eq!(scope_for("fe80::1".parse().unwrap(), 3), 3);
        assert_eq!(scope_for("2001:db8::1".parse().unwrap(), 3), 0);
    }
}
