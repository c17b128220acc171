//! The machine as the daemon sees it: the few doors through which the protocol loop touches
//! the kernel. [`Kernel`] opens the real ones (raw sockets, rtnetlink, the timerfd, fork and
//! exec on the script thread); the in-process harness (`daemon/harness/`, tests only) puts a
//! fake LAN, a fake address table, tokio's paused clock and recorded processes behind the
//! same traits, so the whole daemon (sync groups, tracking, hooks, reloads, the control
//! socket) runs without root, many daemons to a thread.
//!
//! Each trait is the set of calls the daemon makes, no more; asynchronous calls return a
//! boxed local future (the protocol thread is a `LocalSet`), a few allocations per advert
//! or per netlink request, against a syscall each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use futures::future::LocalBoxFuture;

use super::process::{Outcome, Spec};
use super::timer::ProtocolTimer;
use crate::net::{AnnounceSocket, Family, NeighbourListener, NetError, Received, VrrpSocket};
use crate::netlink::{
    InterfaceInfo, LinkKind, LinkState, Monitor, NetEvent, Netlink, NetlinkError, Route, Rule,
    VirtualAddress,
};

/// The addresses of every interface, by interface index.
pub type AddressTable = HashMap<u32, Vec<(IpAddr, u8)>>;

/// rtnetlink requests: links, addresses, routes, rules and macvlans.
pub trait Links {
    fn link<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<LinkState, NetlinkError>>;
    fn interface_info<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<InterfaceInfo, NetlinkError>>;
    fn add_address<'a>(
        &'a self,
        ifindex: u32,
        vip: &'a VirtualAddress,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn del_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> LocalBoxFuture<'_, Result<(), NetlinkError>>;
    fn add_route<'a>(&'a self, route: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn del_route<'a>(&'a self, route: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn add_rule<'a>(&'a self, rule: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn del_rule<'a>(&'a self, rule: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn link_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<LinkKind>, NetlinkError>>;
    fn create_macvlan<'a>(
        &'a self,
        name: &'a str,
        base: u32,
        mac: [u8; 6],
        group: u32,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>>;
    fn set_addr_gen_mode_none(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>>;
    fn set_link_up(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>>;
    fn delete_link(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>>;
}

/// Changes of links and addresses (or of routes and rules), as the kernel announces them.
pub trait NetEvents {
    /// The next change; `None` when the source has ended.
    fn next(&mut self) -> LocalBoxFuture<'_, Option<NetEvent>>;
}

/// A VRRP socket: one interface and family, the instances' groups joined on it.
pub trait VrrpPort {
    fn join(&self, group: IpAddr) -> Result<(), NetError>;
    fn send<'a>(
        &'a self,
        payload: &'a [u8],
        dst: IpAddr,
        ttl: u8,
    ) -> LocalBoxFuture<'a, Result<(), NetError>>;
    /// The next datagram: its VRRP message copied to the front of `buf`.
    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, Result<Received, NetError>>;
    /// A datagram that has already arrived, without waiting (`None`: none yet).
    fn try_recv(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>>;
    fn ifindex(&self) -> u32;
}

/// A link-layer socket for gratuitous ARP, unsolicited NA and the VIP probes.
pub trait AnnouncePort {
    fn send_frame<'a>(&'a self, frame: &'a [u8]) -> LocalBoxFuture<'a, Result<(), NetError>>;
    fn ifindex(&self) -> u32;
}

/// A listener for ARP replies or neighbour advertisements (the answers to the VIP probe).
pub trait NeighbourPort {
    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, std::io::Result<usize>>;
    fn interface(&self) -> &str;
}

/// Starts a hook or check process and waits for it (on the script thread).
pub trait Launch: Send + Sync {
    fn run<'a>(&'a self, spec: &'a Spec) -> LocalBoxFuture<'a, Outcome>;
}

/// Everything the daemon opens.
pub trait Host {
    /// rtnetlink requests.
    fn links(&self) -> Rc<dyn Links>;
    /// Link and address changes (opened before the first read of the links, so no change
    /// falls between).
    fn monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError>;
    /// Route and rule removals (only with `virtual_routes`/`virtual_rules`).
    fn route_monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError>;
    fn open_vrrp(
        &self,
        interface: &str,
        family: Family,
        source: IpAddr,
    ) -> Result<Rc<dyn VrrpPort>, NetError>;
    fn open_announcer(&self, interface: &str) -> Result<Rc<dyn AnnouncePort>, NetError>;
    /// The index of the interface named `interface` now, if there is one.
    fn if_index(&self, interface: &str) -> Option<u32>;
    /// ARP replies (`nd` false) or neighbour advertisements (`nd` true) on `interface`.
    fn open_neighbour(&self, interface: &str, nd: bool)
    -> Result<Box<dyn NeighbourPort>, NetError>;
    /// The protocol loop's timer, for deadlines counted from `origin`.
    fn protocol_timer(&self, origin: tokio::time::Instant) -> ProtocolTimer;
    /// Lists every interface's addresses on the calling (blocking) thread, for a status.
    fn address_lister(&self) -> Box<dyn FnOnce() -> Result<AddressTable, String> + Send>;
    /// What starts hooks and checks.
    fn launcher(&self) -> Arc<dyn Launch>;
    /// What writes `no_accept`'s nftables table.
    fn nftables(&self) -> super::firewall::Nft;
    /// What tells systemd (READY, STOPPING, the watchdog).
    fn systemd(&self) -> super::systemd::Notifier;
}

/// The real machine.
pub struct Kernel {
    netlink: Rc<Netlink>,
    monitor: std::cell::RefCell<Option<Monitor>>,
}

impl Kernel {
    /// Open the rtnetlink connection and the link/address monitor.
    pub fn open() -> Result<Kernel, NetlinkError> {
        let (netlink, monitor) = Netlink::new()?;
        Ok(Kernel {
            netlink: Rc::new(netlink),
            monitor: std::cell::RefCell::new(Some(monitor)),
        })
    }
}

impl Host for Kernel {
    fn links(&self) -> Rc<dyn Links> {
        self.netlink.clone()
    }

    fn monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError> {
        match self.monitor.borrow_mut().take() {
            Some(monitor) => Ok(Box::new(monitor)),
            None => Ok(Box::new(Monitor::open()?)),
        }
    }

    fn route_monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError> {
        Ok(Box::new(Monitor::open_routes()?))
    }

    fn open_vrrp(
        &self,
        interface: &str,
        family: Family,
        source: IpAddr,
    ) -> Result<Rc<dyn VrrpPort>, NetError> {
        Ok(Rc::new(VrrpSocket::open(interface, family, source)?))
    }

    fn open_announcer(&self, interface: &str) -> Result<Rc<dyn AnnouncePort>, NetError> {
        Ok(Rc::new(AnnounceSocket::open(interface)?))
    }

    fn if_index(&self, interface: &str) -> Option<u32> {
        crate::sys::if_nametoindex(interface).ok()
    }

    fn open_neighbour(
        &self,
        interface: &str,
        nd: bool,
    ) -> Result<Box<dyn NeighbourPort>, NetError> {
        let listener = if nd {
            NeighbourListener::nd(interface)?
        } else {
            NeighbourListener::arp(interface)?
        };
        Ok(Box::new(listener))
    }

    fn protocol_timer(&self, origin: tokio::time::Instant) -> ProtocolTimer {
        ProtocolTimer::new(origin)
    }

    fn address_lister(&self) -> Box<dyn FnOnce() -> Result<AddressTable, String> + Send> {
        Box::new(super::control::list_addresses)
    }

    fn launcher(&self) -> Arc<dyn Launch> {
        Arc::new(Processes)
    }

    fn nftables(&self) -> super::firewall::Nft {
        Arc::new(super::firewall::apply_blocking)
    }

    fn systemd(&self) -> super::systemd::Notifier {
        super::systemd::Notifier::start()
    }
}

/// Real processes (`process::run`: fork and exec, process group, time limit).
pub struct Processes;

impl Launch for Processes {
    fn run<'a>(&'a self, spec: &'a Spec) -> LocalBoxFuture<'a, Outcome> {
        Box::pin(super::process::run(spec))
    }
}

impl Links for Netlink {
    fn link<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<LinkState, NetlinkError>> {
        Box::pin(Netlink::link(self, name))
    }
    fn interface_info<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<InterfaceInfo, NetlinkError>> {
        Box::pin(Netlink::interface_info(self, name))
    }
    fn add_address<'a>(
        &'a self,
        ifindex: u32,
        vip: &'a VirtualAddress,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::add_address(self, ifindex, vip))
    }
    fn del_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(Netlink::del_address(self, ifindex, addr, prefix_len))
    }
    fn add_route<'a>(&'a self, route: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::add_route(self, route))
    }
    fn del_route<'a>(&'a self, route: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::del_route(self, route))
    }
    fn add_rule<'a>(&'a self, rule: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::add_rule(self, rule))
    }
    fn del_rule<'a>(&'a self, rule: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::del_rule(self, rule))
    }
    fn link_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<LinkKind>, NetlinkError>> {
        Box::pin(Netlink::link_kind(self, name))
    }
    fn create_macvlan<'a>(
        &'a self,
        name: &'a str,
        base: u32,
        mac: [u8; 6],
        group: u32,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(Netlink::create_macvlan(self, name, base, mac, group))
    }
    fn set_addr_gen_mode_none(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(Netlink::set_addr_gen_mode_none(self, index))
    }
    fn set_link_up(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(Netlink::set_link_up(self, index))
    }
    fn delete_link(&self, index: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(Netlink::delete_link(self, index))
    }
}

impl NetEvents for Monitor {
    fn next(&mut self) -> LocalBoxFuture<'_, Option<NetEvent>> {
        Box::pin(Monitor::next(self))
    }
}

impl VrrpPort for VrrpSocket {
    fn join(&self, group: IpAddr) -> Result<(), NetError> {
        VrrpSocket::join(self, group)
    }
    fn send<'a>(
        &'a self,
        payload: &'a [u8],
        dst: IpAddr,
        ttl: u8,
    ) -> LocalBoxFuture<'a, Result<(), NetError>> {
        Box::pin(VrrpSocket::send(self, payload, dst, ttl))
    }
    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, Result<Received, NetError>> {
        Box::pin(VrrpSocket::recv(self, buf))
    }
    fn try_recv(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>> {
        VrrpSocket::try_recv(self, buf)
    }
    fn ifindex(&self) -> u32 {
        VrrpSocket::ifindex(self)
    }
}

impl AnnouncePort for AnnounceSocket {
    fn send_frame<'a>(&'a self, frame: &'a [u8]) -> LocalBoxFuture<'a, Result<(), NetError>> {
        Box::pin(AnnounceSocket::send_frame(self, frame))
    }
    fn ifindex(&self) -> u32 {
        AnnounceSocket::ifindex(self)
    }
}

impl NeighbourPort for NeighbourListener {
    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, std::io::Result<usize>> {
        Box::pin(NeighbourListener::recv(self, buf))
    }
    fn interface(&self) -> &str {
        NeighbourListener::interface(self)
    }
}
