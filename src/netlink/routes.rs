//! Routes and policy rules: add and remove the ones of `virtual_routes` / `virtual_rules`.
//!
//! Routes are added as keepalived adds them (`NLM_F_CREATE` without `NLM_F_EXCL`, `ip route
//! prepend`): the kernel answers `EEXIST` only for the very same route, which counts as
//! success. Rules are added with `NLM_F_EXCL`, so a rule already there (`EEXIST`) is not
//! added twice. Removal of a route or rule that is not there counts as success.

use std::net::IpAddr;

use futures::StreamExt as _;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::error::{errno, to_io};
use super::{Netlink, NetlinkError, family_of};

/// `RT_SCOPE_LINK`.
const SCOPE_LINK: u8 = 253;
/// `RT_SCOPE_NOWHERE`: on removal, "any scope".
const SCOPE_NOWHERE: u8 = 255;

/// A route to add or remove (`ip route` semantics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub dst: IpAddr,
    /// Its prefix length.
    pub dst_len: u8,
    /// `RTN_*`: 1 unicast, 6 blackhole, 7 unreachable, 8 prohibit.
    pub kind: u8,
    /// Preferred source address.
    pub src: Option<IpAddr>,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// `RT_SCOPE_*`; `None`: link for a unicast route without gateway, else universe.
    pub scope: Option<u8>,
    /// Routing table.
    pub table: u32,
    /// Metric (`RTA_PRIORITY`).
    pub metric: Option<u32>,
    /// `RTPROT_*`.
    pub protocol: u8,
}

/// A policy rule whose action is "look up `table`" (`ip rule` semantics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// True for IPv6.
    pub ipv6: bool,
    /// Source prefix.
    pub from: Option<(IpAddr, u8)>,
    /// Destination prefix.
    pub to: Option<(IpAddr, u8)>,
    /// The table to look up.
    pub table: u32,
    /// Preference; `None`: the kernel picks one.
    pub priority: Option<u32>,
    /// Input interface name.
    pub iif: Option<String>,
    /// Output interface name.
    pub oif: Option<String>,
    /// Firewall mark and mask.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `RTPROT_*`, recorded with the rule.
    pub protocol: u8,
}

fn route_address(addr: IpAddr) -> RouteAddress {
    match addr {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

/// The `RTM_NEWROUTE` / `RTM_DELROUTE` message for `route`.
pub(crate) fn route_message(route: &Route, add: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_of(route.dst);
    m.header.destination_prefix_length = route.dst_len;
    m.header.kind = RouteType::from(route.kind);
    m.header.protocol = RouteProtocol::from(route.protocol);
    let scope = match (route.scope, add) {
        (Some(s), _) => s,
        (None, false) => SCOPE_NOWHERE,
        (None, true) if route.kind == 1 && route.via.is_none() => SCOPE_LINK,
        (None, true) => 0,
    };
    m.header.scope = RouteScope::from(scope);
    if route.table < 256 {
        m.header.table = route.table as u8;
    } else {
        m.header.table = 252; // RT_TABLE_COMPAT; the attribute has the table
    }
    m.attributes.push(RouteAttribute::Table(route.table));
    if route.dst_len > 0 {
        m.attributes
            .push(RouteAttribute::Destination(route_address(route.dst)));
    }
    if let Some(src) = route.src {
        m.attributes
            .push(RouteAttribute::PrefSource(route_address(src)));
    }
    if let Some(via) = route.via {
        m.attributes
            .push(RouteAttribute::Gateway(route_address(via)));
    }
    if let Some(oif) = route.oif {
        m.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = route.metric {
        m.attributes.push(RouteAttribute::Priority(metric));
    }
    m
}

/// The `RTM_NEWRULE` / `RTM_DELRULE` message for `rule`.
pub(crate) fn rule_message(rule: &Rule) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = if rule.ipv6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.action = RuleAction::ToTable;
    m.header.table = if rule.table < 256 {
        rule.table as u8
    } else {
        252
    };
    m.attributes.push(RuleAttribute::Table(rule.table));
    if let Some((addr, len)) = rule.from {
        m.header.src_len = len;
        if len > 0 {
            m.attributes.push(RuleAttribute::Source(addr));
        }
    }
    if let Some((addr, len)) = rule.to {
        m.header.dst_len = len;
        if len > 0 {
            m.attributes.push(RuleAttribute::Destination(addr));
        }
    }
    if let Some(p) = rule.priority {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    if let Some(i) = &rule.iif {
        m.attributes.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &rule.oif {
        m.attributes.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some((mark, mask)) = rule.fwmark {
        m.attributes.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            m.attributes.push(RuleAttribute::FwMask(mask));
        }
    }
    m.attributes
        .push(RuleAttribute::Protocol(RouteProtocol::from(rule.protocol)));
    m
}

impl Netlink {
    async fn send(&self, message: RouteNetlinkMessage, flags: u16) -> Result<(), rtnetlink::Error> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut response = handle.request(request)?;
        while let Some(message) = response.next().await {
            if let NetlinkPayload::Error(e) = message.payload {
                return Err(rtnetlink::Error::NetlinkError(e));
            }
        }
        Ok(())
    }

    /// Add `route`; the very same route already there counts as success.
    pub async fn add_route(&self, route: &Route) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::NewRoute(route_message(route, true));
        match self.send(message, NLM_F_CREATE).await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(NetlinkError::Route {
                what: "adding",
                source: to_io(e),
            }),
        }
    }

    /// Remove `route`; a route that is not there (`ESRCH`) counts as success.
    pub async fn del_route(&self, route: &Route) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::DelRoute(route_message(route, false));
        match self.send(message, 0).await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(NetlinkError::Route {
                what: "removing",
                source: to_io(e),
            }),
        }
    }

    /// Add `rule`; the same rule already there (`EEXIST`) counts as success.
    pub async fn add_rule(&self, rule: &Rule) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::NewRule(rule_message(rule));
        match self.send(message, NLM_F_CREATE | NLM_F_EXCL).await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(NetlinkError::Rule {
                what: "adding",
                source: to_io(e),
            }),
        }
    }

    /// Remove `rule`; a rule that is not there (`ENOENT`) counts as success.
    pub async fn del_rule(&self, rule: &Rule) -> Result<(), NetlinkError> {
        let message = RouteNetlinkMessage::DelRule(rule_message(rule));
        match self.send(message, 0).await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(NetlinkError::Rule {
                what: "removing",
                source: to_io(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Route {
            dst: "198.51.100.0".parse().unwrap(),
            dst_len: 24,
            kind: 1,
            src: None,
            via: Some("192.0.2.1".parse().unwrap()),
            oif: Some(3),
            scope: None,
            table: 100,
            metric: Some(7),
            protocol: 18,
        }
    }

    #[test]
    fn route_message_carries_the_line() {
        let m = route_message(&route(), true);
        assert_eq!(m.header.destination_prefix_length, 24);
        assert_eq!(u8::from(m.header.scope), 0, "a gateway route is universe");
        assert_eq!(m.header.table, 100);
        assert_eq!(u8::from(m.header.protocol), 18);
        for a in [
            RouteAttribute::Table(100),
            RouteAttribute::Gateway(RouteAddress::Inet("192.0.2.1".parse().unwrap())),
            RouteAttribute::Oif(3),
            RouteAttribute::Priority(7),
        ] {
            assert!(m.attributes.contains(&a), "{a:?}");
        }
        let direct = Route {
            via: None,
            ..route()
        };
        assert_eq!(
            u8::from(route_message(&direct, true).header.scope),
            SCOPE_LINK
        );
        assert_eq!(
            u8::from(route_message(&direct, false).header.scope),
            SCOPE_NOWHERE,
            "removal matches any scope"
        );
        let big = Route {
            table: 1000,
            ..route()
        };
        assert_eq!(route_message(&big, true).header.table, 252);
    }

    #[test]
    fn rule_message_carries_the_line() {
        let rule = Rule {
            ipv6: true,
            from: Some(("2001:db8::".parse().unwrap(), 32)),
            to: None,
            table: 200,
            priority: Some(100),
            iif: Some("eth0".into()),
            oif: None,
            fwmark: Some((1, Some(0xff))),
            protocol: 18,
        };
        let m = rule_message(&rule);
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert_eq!(m.header.src_len, 32);
        assert_eq!(m.header.action, RuleAction::ToTable);
        for a in [
            RuleAttribute::Table(200),
            RuleAttribute::Source("2001:db8::".parse().unwrap()),
            RuleAttribute::Priority(100),
            RuleAttribute::Iifname("eth0".into()),
            RuleAttribute::FwMark(1),
            RuleAttribute::FwMask(0xff),
        ] {
            assert!(m.attributes.contains(&a), "{a:?}");
        }
    }
}
