//! rtnetlink: add and remove virtual addresses, routes and rules, read links and
//! addresses, and follow link and address changes and route and rule removals.
//!
//! [`Netlink`] sends requests over an rtnetlink connection whose task runs on the
//! caller's tokio runtime. [`Monitor`] has its own netlink socket subscribed to
//! the link, address, route and rule multicast groups of both families; it turns the
//! kernel's notifications into [`NetEvent`]s. Both live in the network namespace
//! of the thread that created them.

mod error;
mod monitor;
mod routes;
mod vmac;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use futures::TryStreamExt as _;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlag, AddressHeaderFlag, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlag, LinkMessage};

pub use error::NetlinkError;
pub use monitor::{Monitor, NetEvent};
pub use routes::{Route, Rule};
pub use vmac::{LinkKind, MACVLAN_MODE_PRIVATE};

use error::{errno, to_io};

/// An address to put on (or take off) an interface, with the options keepalived's
/// `virtual_ipaddress` lines can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (keepalived's default is /32 and /128 when none is given).
    pub prefix_len: u8,
    /// IPv4 label (`label eth0:vip`); the kernel wants it to start with the
    /// interface name. Ignored for IPv6.
    pub label: Option<String>,
    /// Scope (`RT_SCOPE_*`: 0 universe, 200 site, 253 link, 254 host); default universe.
    pub scope: Option<u8>,
    /// IPv4 broadcast address (`brd`); none when not given, like `ip addr add`.
    pub broadcast: Option<Ipv4Addr>,
    /// Point-to-point peer (`peer`).
    pub peer: Option<IpAddr>,
    /// `IFA_F_NODAD`: skip duplicate address detection (IPv6), so the address is
    /// usable at once instead of `tentative` for a second or more.
    pub nodad: bool,
    /// `IFA_F_NOPREFIXROUTE`: do not add the prefix route.
    pub noprefixroute: bool,
    /// Preferred lifetime in seconds (`preferred_lft`): 0 deprecates the address, so the
    /// kernel does not pick it as the source of new connections. `None`: forever.
    pub preferred_lft: Option<u32>,
}

impl VirtualAddress {
    /// A plain address: no label, scope, broadcast or peer; `nodad` on for IPv6
    /// (as keepalived does for VIPs), off for IPv4 (where it means nothing).
    pub fn new(addr: IpAddr, prefix_len: u8) -> VirtualAddress {
        VirtualAddress {
            addr,
            prefix_len,
            label: None,
            scope: None,
            broadcast: None,
            peer: None,
            nodad: addr.is_ipv6(),
            noprefixroute: false,
            preferred_lft: None,
        }
    }
}

/// State of one interface, from [`Netlink::link`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// Interface index.
    pub index: u32,
    /// Administratively up (`IFF_UP`) and with carrier (`IFF_RUNNING`).
    pub up: bool,
    /// Hardware address; all zero when the link has none of 6 bytes.
    pub mac: [u8; 6],
}

/// What the daemon needs to know about its interface, from [`Netlink::interface_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware address.
    pub mac: [u8; 6],
    /// IPv4 addresses with prefix lengths, in kernel order (primary first).
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// The first IPv6 link-local address (fe80::/10), the VRRPv3/IPv6 source.
    pub ipv6_link_local: Option<Ipv6Addr>,
    /// `IFF_UP` and `IFF_RUNNING`.
    pub up: bool,
}

/// A handle for rtnetlink requests. Cheap to clone; the connection task is
/// aborted when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    _task: Arc<AbortOnDrop>,
}

/// Aborts the rtnetlink connection task (which would otherwise run until the
/// runtime stops, as it keeps a sender for notifications nobody reads).
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Netlink {
    /// Open the request connection (its task is spawned on the current tokio
    /// runtime) and a [`Monitor`] subscribed to link and address changes. Open the
    /// monitor before reading the initial state, so no change falls in between.
    pub fn new() -> Result<(Netlink, Monitor), NetlinkError> {
        let monitor = Monitor::open()?;
        Ok((Netlink::new_without_monitor()?, monitor))
    }

    /// Open only the request connection.
    pub fn new_without_monitor() -> Result<Netlink, NetlinkError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NetlinkError::Open {
                what: "request",
                source: std::io::Error::other("no tokio runtime on this thread"),
            });
        }
        let (connection, handle, _messages) =
            rtnetlink::new_connection().map_err(|source| NetlinkError::Open {
                what: "request",
                source,
            })?;
        let task = tokio::spawn(connection);
        Ok(Netlink {
            handle,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }

    /// Add `vip` to interface `ifindex`. Idempotent: an address that is already
    /// there (`EEXIST`) counts as success.
    pub async fn add_address(
        &self,
        ifindex: u32,
        vip: &VirtualAddress,
    ) -> Result<(), NetlinkError> {
        check_prefix(vip.addr, vip.prefix_len)?;
        let mut request = self.handle.address().add(ifindex, vip.addr, vip.prefix_len);
        fill_add_message(request.message_mut(), vip);
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(NetlinkError::AddAddress {
                addr: vip.addr,
                prefix_len: vip.prefix_len,
                ifindex,
                source: to_io(e),
            }),
        }
    }

    /// Remove `addr/prefix_len` from interface `ifindex`. Idempotent: an address
    /// that is not there (`EADDRNOTAVAIL`) counts as success.
    pub async fn del_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        check_prefix(addr, prefix_len)?;
        let mut message = AddressMessage::default();
        message.header.family = family_of(addr);
        message.header.prefix_len = prefix_len;
        message.header.index = ifindex;
        message.attributes.push(AddressAttribute::Local(addr));
        if addr.is_ipv6() {
            message.attributes.push(AddressAttribute::Address(addr));
        }
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(NetlinkError::DelAddress {
                addr,
                prefix_len,
                ifindex,
                source: to_io(e),
            }),
        }
    }

    /// The addresses on interface `ifindex`, with prefix lengths (the local
    /// address for point-to-point ones).
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<(IpAddr, u8)>, NetlinkError> {
        let query = |e| NetlinkError::Query {
            what: format!("listing the addresses of interface index {ifindex}"),
            source: to_io(e),
        };
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        let mut out = Vec::new();
        while let Some(message) = stream.try_next().await.map_err(query)? {
            if let Some(addr) = local_address(&message) {
                out.push((addr, message.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Every address on every interface, by interface index, in one dump.
    pub async fn all_addresses(&self) -> Result<HashMap<u32, Vec<(IpAddr, u8)>>, NetlinkError> {
        let query = |e| NetlinkError::Query {
            what: "listing the addresses of every interface".to_string(),
            source: to_io(e),
        };
        let mut stream = self.handle.address().get().execute();
        let mut out: HashMap<u32, Vec<(IpAddr, u8)>> = HashMap::new();
        while let Some(message) = stream.try_next().await.map_err(query)? {
            if let Some(addr) = local_address(&message) {
                out.entry(message.header.index)
                    .or_default()
                    .push((addr, message.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Index, state and MAC of the interface called `name`.
    pub async fn link(&self, name: &str) -> Result<LinkState, NetlinkError> {
        let message = self.link_message(name).await?;
        Ok(link_state(&message))
    }

    /// Index, MAC, state, IPv4 addresses and IPv6 link-local address of `name`.
    pub async fn interface_info(&self, name: &str) -> Result<InterfaceInfo, NetlinkError> {
        let link = self.link(name).await?;
        let mut ipv4 = Vec::new();
        let mut ipv6_link_local = None;
        for (addr, prefix_len) in self.addresses(link.index).await? {
            match addr {
                IpAddr::V4(a) => ipv4.push((a, prefix_len)),
                IpAddr::V6(a) if is_link_local(a) && ipv6_link_local.is_none() => {
                    ipv6_link_local = Some(a);
                }
                IpAddr::V6(_) => {}
            }
        }
        Ok(InterfaceInfo {
            name: name.to_owned(),
            index: link.index,
            mac: link.mac,
            ipv4,
            ipv6_link_local,
            up: link.up,
        })
    }

    async fn link_message(&self, name: &str) -> Result<LinkMessage, NetlinkError> {
        let mut stream = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match stream.try_next().await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(NetlinkError::NoSuchLink {
                name: name.to_owned(),
            }),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Err(NetlinkError::NoSuchLink {
                name: name.to_owned(),
            }),
            Err(e) => Err(NetlinkError::Query {
                what: format!("reading link {name}"),
                source: to_io(e),
            }),
        }
    }
}

fn fill_add_message(message: &mut AddressMessage, vip: &VirtualAddress) {
    // Replace rtnetlink's defaults (it always sets a computed broadcast).
    message.attributes.clear();
    message.attributes.push(AddressAttribute::Local(vip.addr));
    message
        .attributes
        .push(AddressAttribute::Address(vip.peer.unwrap_or(vip.addr)));
    if let (IpAddr::V4(_), Some(brd)) = (vip.addr, vip.broadcast) {
        message.attributes.push(AddressAttribute::Broadcast(brd));
    }
    if let (IpAddr::V4(_), Some(label)) = (vip.addr, &vip.label) {
        message
            .attributes
            .push(AddressAttribute::Label(label.clone()));
    }
    message.header.scope = AddressScope::from(vip.scope.unwrap_or(libc::RT_SCOPE_UNIVERSE));
    let mut flags = Vec::new();
    if vip.nodad {
        flags.push(AddressFlag::Nodad);
        message.header.flags.push(AddressHeaderFlag::Nodad);
    }
    if vip.noprefixroute {
        flags.push(AddressFlag::Noprefixroute);
    }
    if !flags.is_empty() {
        message.attributes.push(AddressAttribute::Flags(flags));
    }
    if let Some(preferred) = vip.preferred_lft {
        // Valid forever; preferred for this long (0: deprecated at once).
        message
            .attributes
            .push(AddressAttribute::CacheInfo(lifetimes(preferred)));
    }
}

/// `IFA_CACHEINFO`: preferred for `preferred` seconds, valid forever.
fn lifetimes(preferred: u32) -> CacheInfo {
    let mut info = CacheInfo::default();
    info.ifa_preferred = preferred;
    info.ifa_valid = u32::MAX;
    info
}

fn check_prefix(addr: IpAddr, prefix_len: u8) -> Result<(), NetlinkError> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(NetlinkError::BadPrefix { addr, prefix_len });
    }
    Ok(())
}

fn family_of(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// `IFA_LOCAL` if present (the interface's own end for point-to-point), else `IFA_ADDRESS`.
fn local_address(message: &AddressMessage) -> Option<IpAddr> {
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(a) => return Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    address
}

fn link_state(message: &LinkMessage) -> LinkState {
    let flags = &message.header.flags;
    let up = flags.contains(&LinkFlag::Up) && flags.contains(&LinkFlag::Running);
    let mut mac = [0; 6];
    for attribute in &message.attributes {
        if let LinkAttribute::Address(bytes) = attribute
            && let Ok(m) = <[u8; 6]>::try_from(bytes.as_slice())
        {
            mac = m;
        }
    }
    LinkState {
        index: message.header.index,
        up,
        mac,
    }
}

fn is_link_local(addr: Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(
            Netlink::new_without_monitor(),
            Err(NetlinkError::Open { .. })
        ));
        assert!(matches!(Netlink::new(), Err(NetlinkError::Open { .. })));
    }

    #[test]
    fn add_message_carries_label_flags_and_peer() {
        let vip = VirtualAddress {
            label: Some("eth0:vip".into()),
            broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
            noprefixroute: true,
            ..VirtualAddress::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 24)
        };
        let mut message = AddressMessage::default();
        fill_add_message(&mut message, &vip);
        let attrs = &message.attributes;
        assert!(attrs.contains(&AddressAttribute::Label("eth0:vip".into())));
        assert!(attrs.contains(&AddressAttribute::Broadcast(Ipv4Addr::new(192, 0, 2, 255))));
        assert!(attrs.contains(&AddressAttribute::Flags(vec![AddressFlag::Noprefixroute])));
        assert!(
            !attrs
                .iter()
                .any(|a| matches!(a, AddressAttribute::CacheInfo(_))),
            "preferred forever: no lifetimes"
        );
        let deprecated = VirtualAddress {
            preferred_lft: Some(0),
            ..vip.clone()
        };
        let mut message = AddressMessage::default();
        fill_add_message(&mut message, &deprecated);
        assert!(message.attributes.iter().any(|a| matches!(
            a,
            AddressAttribute::CacheInfo(c) if c.ifa_preferred == 0 && c.ifa_valid == u32::MAX
        )));
        assert!(!VirtualAddress::new(vip.addr, 24).nodad);
        assert!(VirtualAddress::new("2001:db8::1".parse().unwrap(), 64).nodad);
        assert!(matches!(
            check_prefix(vip.addr, 33),
            Err(NetlinkError::BadPrefix { .. })
        ));
    }
}
