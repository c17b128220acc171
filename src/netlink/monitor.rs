//! Link, address, route and rule notifications from the kernel.
//!
//! The monitor is an rtnetlink connection (netlink-proto, via
//! [`rtnetlink::new_connection`]) whose socket is bound to the link and address
//! multicast groups (IPv4 and IPv6) before its task is spawned; a second one, opened only
//! when routes or rules are tracked, to the route and rule groups, of which only removals
//! become events (`virtual_routes` / `virtual_rules` repair). The connection
//! decodes every datagram with netlink-packet-route and hands the notifications
//! (unsolicited messages) to the monitor, which only maps the typed
//! [`LinkMessage`] / [`AddressMessage`] to [`NetEvent`]s.
//!
//! Malformed input never panics here: a message netlink-packet-route cannot
//! decode is logged (through the `log` crate) and dropped by netlink-proto, and a
//! decoded message without the fields we need is logged and skipped below.

use std::net::IpAddr;

use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedReceiver;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlag, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::rule::{RuleAttribute, RuleMessage};
use netlink_sys::AsyncSocket as _;
use rtnetlink::constants::{
    RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
};

/// `RTNLGRP_IPV6_RULE` (19) as a legacy group bit: rtnetlink names no constant for it.
const RTMGRP_IPV6_RULE: u32 = 1 << (19 - 1);

use super::{AbortOnDrop, NetlinkError, local_address};

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
    /// A route went away (`RTM_DELROUTE`).
    RouteRemoved {
        /// Routing table.
        table: u32,
        /// Destination (the family's unspecified address for a default route).
        dst: IpAddr,
        /// Its prefix length.
        dst_len: u8,
        /// `RTA_PRIORITY`, if the message had one.
        metric: Option<u32>,
        /// `RTPROT_*`.
        protocol: u8,
    },
    /// A policy rule went away (`RTM_DELRULE`).
    RuleRemoved {
        /// IPv6 rather than IPv4.
        ipv6: bool,
        /// The table it looked up.
        table: u32,
        /// Its preference.
        priority: Option<u32>,
        /// Source prefix, if any (length > 0).
        from: Option<(IpAddr, u8)>,
        /// Destination prefix, if any (length > 0).
        to: Option<(IpAddr, u8)>,
    },
    /// The kernel dropped notifications (socket buffer overrun, `ENOBUFS`): the
    /// receiver must re-read the state it cares about. netlink-proto turns the
    /// `ENOBUFS` from `recv` into an `NLMSG_OVERRUN` message, which arrives here
    /// like any other notification; the connection goes on reading.
    Overrun,
}

type Notification = (NetlinkMessage<RouteNetlinkMessage>, netlink_sys::SocketAddr);

/// Subscribed to `RTNLGRP_LINK` and the `IFADDR` groups of IPv4 and IPv6 ([`Monitor::open`]),
/// or to the `ROUTE` and `RULE` groups ([`Monitor::open_routes`]).
/// The connection task is aborted when the monitor is dropped.
#[derive(Debug)]
pub struct Monitor {
    messages: UnboundedReceiver<Notification>,
    _task: AbortOnDrop,
}

/// Socket receive buffer: notifications come in bursts (many addresses at once).
const RCVBUF: usize = 1 << 20;

impl Monitor {
    /// Open the monitor connection and spawn its task on the current tokio
    /// runtime (a current-thread runtime inside a `LocalSet` is fine). Errors
    /// outside a runtime.
    pub fn open() -> Result<Monitor, NetlinkError> {
        Monitor::open_groups(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
    }

    /// A monitor of route and rule changes of both families only (of which removals become
    /// [`NetEvent::RouteRemoved`] / [`NetEvent::RuleRemoved`]). Kept apart from
    /// [`Monitor::open`], as a host with a busy routing table sends many of them.
    pub fn open_routes() -> Result<Monitor, NetlinkError> {
        Monitor::open_groups(
            RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_RULE | RTMGRP_IPV6_RULE,
        )
    }

    fn open_groups(groups: u32) -> Result<Monitor, NetlinkError> {
        let open = |source| NetlinkError::Open {
            what: "monitor",
            source,
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(open(std::io::Error::other(
                "no tokio runtime on this thread",
            )));
        }
        // The handle is for requests; the monitor sends none.
        let (mut connection, _handle, messages) = rtnetlink::new_connection().map_err(open)?;
        let socket = connection.socket_mut().socket_mut();
        // A larger buffer makes overruns rarer; failing to get it is not fatal.
        if let Err(e) = socket.set_rx_buf_sz(RCVBUF) {
            tracing::debug!(error = %e, "could not enlarge the netlink monitor receive buffer");
        }
        // Port id 0: the kernel assigns one (it does not deliver notifications to
        // an unbound socket).
        socket
            .bind(&netlink_sys::SocketAddr::new(0, groups))
            .map_err(open)?;
        let task = tokio::spawn(connection);
        Ok(Monitor {
            messages,
            _task: AbortOnDrop(task),
        })
    }

    /// The next change. `None` means the connection ended (its socket failed;
    /// netlink-proto logs why) and the monitor is finished.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            let (message, _source) = self.messages.next().await?;
            if let Some(event) = to_event(message) {
                return Some(event);
            }
        }
    }
}

/// The event for one notification; `None` (logged) for anything else.
fn to_event(message: NetlinkMessage<RouteNetlinkMessage>) -> Option<NetEvent> {
    match message.payload {
        NetlinkPayload::InnerMessage(inner) => match inner {
            RouteNetlinkMessage::NewLink(link) => Some(link_event(&link, true)),
            RouteNetlinkMessage::DelLink(link) => Some(link_event(&link, false)),
            RouteNetlinkMessage::NewAddress(addr) => address_event(&addr, true),
            RouteNetlinkMessage::DelAddress(addr) => address_event(&addr, false),
            RouteNetlinkMessage::DelRoute(route) => route_event(&route),
            RouteNetlinkMessage::DelRule(rule) => rule_event(&rule),
            // Routes and rules added: nothing to do (the group is joined for removals).
            RouteNetlinkMessage::NewRoute(_) | RouteNetlinkMessage::NewRule(_) => None,
            other => {
                tracing::debug!(message = ?other, "netlink monitor: ignoring message");
                None
            }
        },
        NetlinkPayload::Overrun(_) => Some(NetEvent::Overrun),
        other => {
            tracing::debug!(payload = ?other, "netlink monitor: ignoring payload");
            None
        }
    }
}

/// `up` is `IFF_UP && IFF_RUNNING` on `RTM_NEWLINK`, always false on `RTM_DELLINK`.
fn link_event(link: &LinkMessage, new: bool) -> NetEvent {
    let flags = &link.header.flags;
    let up = new && flags.contains(&LinkFlag::Up) && flags.contains(&LinkFlag::Running);
    let name = link
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default();
    NetEvent::LinkChanged {
        index: link.header.index,
        name,
        up,
    }
}

/// The `IFA_LOCAL` address if present, else `IFA_ADDRESS`; `None` (logged) with neither.
fn address_event(message: &AddressMessage, new: bool) -> Option<NetEvent> {
    let index = message.header.index;
    let prefix_len = message.header.prefix_len;
    let Some(addr) = local_address(message) else {
        tracing::debug!(index, "netlink monitor: address message without an address");
        return None;
    };
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

fn unspecified(family: AddressFamily) -> Option<IpAddr> {
    match family {
        AddressFamily::Inet => Some(IpAddr::from([0u8; 4])),
        AddressFamily::Inet6 => Some(IpAddr::from([0u16; 8])),
        _ => None,
    }
}

/// `RTM_DELROUTE` of an IPv4 or IPv6 route; `None` for other families.
fn route_event(message: &RouteMessage) -> Option<NetEvent> {
    let mut dst = unspecified(message.header.address_family)?;
    let mut table = u32::from(message.header.table);
    let mut metric = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = IpAddr::V4(*a),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = IpAddr::V6(*a),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => metric = Some(*p),
            _ => {}
        }
    }
    Some(NetEvent::RouteRemoved {
        table,
        dst,
        dst_len: message.header.destination_prefix_length,
        metric,
        protocol: message.header.protocol.into(),
    })
}

/// `RTM_DELRULE` of an IPv4 or IPv6 rule; `None` for other families.
fn rule_event(message: &RuleMessage) -> Option<NetEvent> {
    let zero = unspecified(message.header.family)?;
    let mut table = u32::from(message.header.table);
    let (mut priority, mut from, mut to) = (None, zero, zero);
    for attribute in &message.attributes {
        match attribute {
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Priority(p) => priority = Some(*p),
            RuleAttribute::Source(a) => from = *a,
            RuleAttribute::Destination(a) => to = *a,
            _ => {}
        }
    }
    let prefix = |addr, len| (len > 0).then_some((addr, len));
    Some(NetEvent::RuleRemoved {
        ipv6: message.header.family == AddressFamily::Inet6,
        table,
        priority,
        from: prefix(from, message.header.src_len),
        to: prefix(to, message.header.dst_len),
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NetlinkBuffer, NetlinkHeader};
    use netlink_packet_route::AddressFamily;
    use netlink_packet_route::address::AddressAttribute;

    use super::*;

    fn message(inner: RouteNetlinkMessage) -> NetlinkMessage<RouteNetlinkMessage> {
        let mut m = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(inner));
        m.finalize();
        m
    }

    fn link(flags: Vec<LinkFlag>) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.index = 7;
        link.header.flags = flags;
        link.attributes.push(LinkAttribute::IfName("veth0".into()));
        link
    }

    #[test]
    fn link_messages() {
        let up = link(vec![LinkFlag::Up, LinkFlag::Running, LinkFlag::LowerUp]);
        let event = |up| NetEvent::LinkChanged {
            index: 7,
            name: "veth0".into(),
            up,
        };
        assert_eq!(
            to_event(message(RouteNetlinkMessage::NewLink(up.clone()))),
            Some(event(true))
        );
        // Deleted: never up. Up without carrier: not up.
        assert_eq!(
            to_event(message(RouteNetlinkMessage::DelLink(up))),
            Some(event(false))
        );
        assert_eq!(
            to_event(message(RouteNetlinkMessage::NewLink(link(vec![
                LinkFlag::Up
            ])))),
            Some(event(false))
        );
    }

    #[test]
    fn address_messages_prefer_local() {
        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        addr.header.prefix_len = 24;
        addr.header.index = 7;
        let peer: IpAddr = "192.0.2.9".parse().unwrap();
        let local: IpAddr = "192.0.2.1".parse().unwrap();
        addr.attributes.push(AddressAttribute::Address(peer));
        addr.attributes.push(AddressAttribute::Local(local));
        assert_eq!(
            to_event(message(RouteNetlinkMessage::DelAddress(addr.clone()))),
            Some(NetEvent::AddressRemoved {
                index: 7,
                addr: local,
                prefix_len: 24
            })
        );
        addr.attributes
            .retain(|a| matches!(a, AddressAttribute::Address(_)));
        assert_eq!(
            to_event(message(RouteNetlinkMessage::NewAddress(addr.clone()))),
            Some(NetEvent::AddressAdded {
                index: 7,
                addr: peer,
                prefix_len: 24
            })
        );
        addr.attributes.clear();
        assert_eq!(
            to_event(message(RouteNetlinkMessage::NewAddress(addr))),
            None
        );
    }

    #[test]
    fn route_and_rule_removals() {
        let route = super::super::routes::route_message(
            &super::super::Route {
                dst: "198.51.100.0".parse().unwrap(),
                dst_len: 24,
                kind: 1,
                src: None,
                via: None,
                oif: Some(2),
                scope: None,
                table: 1000,
                metric: Some(5),
                protocol: 18,
            },
            false,
        );
        assert_eq!(
            to_event(message(RouteNetlinkMessage::DelRoute(route))),
            Some(NetEvent::RouteRemoved {
                table: 1000,
                dst: "198.51.100.0".parse().unwrap(),
                dst_len: 24,
                metric: Some(5),
                protocol: 18,
            })
        );
        let rule = super::super::routes::rule_message(&super::super::Rule {
            ipv6: false,
            from: Some(("192.0.2.0".parse().unwrap(), 24)),
            to: None,
            table: 100,
            priority: None,
            iif: None,
            oif: None,
            fwmark: None,
            protocol: 18,
        });
        assert_eq!(
            to_event(message(RouteNetlinkMessage::DelRule(rule))),
            Some(NetEvent::RuleRemoved {
                ipv6: false,
                table: 100,
                priority: None,
                from: Some(("192.0.2.0".parse().unwrap(), 24)),
                to: None,
            })
        );
    }

    #[test]
    fn overrun_and_other_payloads() {
        let overrun = NetlinkMessage::<RouteNetlinkMessage>::new(
            NetlinkHeader::default(),
            NetlinkPayload::Overrun(Vec::new()),
        );
        assert_eq!(to_event(overrun), Some(NetEvent::Overrun));
        let done = NetlinkMessage::<RouteNetlinkMessage>::new(
            NetlinkHeader::default(),
            NetlinkPayload::Done(Default::default()),
        );
        assert_eq!(to_event(done), None);
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        // What netlink-proto does with each datagram: checked header, then
        // deserialize; both must fail cleanly on garbage.
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            if NetlinkBuffer::new_checked(&bytes[..]).is_ok() {
                let _ = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes);
            }
        }
        // A well-formed RTM_NEWADDR header with an attribute running past the end.
        let mut bytes = vec![0u8; 16];
        bytes[4..6].copy_from_slice(&libc::RTM_NEWADDR.to_ne_bytes());
        bytes.extend_from_slice(&[libc::AF_INET6 as u8, 64, 0, 0, 1, 0, 0, 0]);
        bytes.extend_from_slice(&[200, 0, 1, 0]);
        let len = u32::try_from(bytes.len()).unwrap();
        bytes[0..4].copy_from_slice(&len.to_ne_bytes());
        assert!(NetlinkBuffer::new_checked(&bytes[..]).is_ok());
        assert!(NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).is_err());
    }
}
