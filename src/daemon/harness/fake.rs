//! The fake machine behind [`Host`]: a LAN of segments that carries adverts between the
//! nodes' VRRP ports, an address table per node that the daemon changes as it would the
//! kernel's (and that reports each change to the node's monitor), recorded GARP/NA frames,
//! recorded `no_accept` tables, and processes that are recorded and answer as a test says.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::LocalBoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::daemon::firewall::{Drops, Nft};
use crate::daemon::host::{
    AddressTable, AnnouncePort, Host, Launch, Links, NeighbourPort, NetEvents, VrrpPort,
};
use crate::daemon::process::{Outcome, Spec};
use crate::daemon::timer::ProtocolTimer;
use crate::net::{Family, NetError, Received};
use crate::netlink::{
    InterfaceInfo, LinkKind, LinkState, NetEvent, NetlinkError, Route, Rule, VirtualAddress,
};

/// A node's number in its [`Lan`].
pub type NodeId = usize;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One interface of a node.
#[derive(Clone, Debug)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    /// The segment (a switch) the interface is plugged into.
    pub segment: String,
    pub up: bool,
    /// Its addresses in kernel order: the configured ones first, then what the daemon added.
    pub addrs: Vec<(IpAddr, u8)>,
}

impl Iface {
    fn info(&self) -> InterfaceInfo {
        InterfaceInfo {
            name: self.name.clone(),
            index: self.index,
            mac: self.mac,
            ipv4: self
                .addrs
                .iter()
                .filter_map(|(a, p)| match a {
                    IpAddr::V4(v4) => Some((*v4, *p)),
                    IpAddr::V6(_) => None,
                })
                .collect(),
            ipv6_link_local: self.addrs.iter().find_map(|(a, _)| match a {
                IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(*v6),
                _ => None,
            }),
            up: self.up,
        }
    }
}

/// One advert as it left a node.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: Duration,
    pub node: NodeId,
    pub interface: String,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: Vec<u8>,
}

/// One GARP/NA (or probe) frame as it left a node.
#[derive(Clone, Debug)]
pub struct Frame {
    pub at: Duration,
    pub node: NodeId,
    pub interface: String,
    pub bytes: Vec<u8>,
}

struct Node {
    ifaces: Arc<Mutex<Vec<Iface>>>,
    monitor: Option<mpsc::UnboundedSender<NetEvent>>,
    /// Counted up by a crash: ports opened before it are dead.
    epoch: u64,
    /// Tables `no_accept` asked for, in order.
    nft: Arc<Mutex<Vec<BTreeSet<IpAddr>>>>,
}

struct Port {
    node: NodeId,
    epoch: u64,
    interface: String,
    family: Family,
    source: IpAddr,
    groups: Rc<RefCell<Vec<IpAddr>>>,
    deliver: mpsc::UnboundedSender<(Received, Vec<u8>)>,
    alive: Weak<()>,
}

#[derive(Default)]
struct State {
    nodes: Vec<Node>,
    ports: Vec<Port>,
    /// Pairs of nodes that cannot hear each other (smaller id first).
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Nodes whose adverts are lost on the way out (a one-way fault).
    deaf_to: BTreeSet<NodeId>,
    sent: Vec<Sent>,
    frames: Vec<Frame>,
}

/// The network: segments, the nodes on them, and what crossed it.
pub struct Lan {
    state: RefCell<State>,
    origin: Instant,
}

impl Lan {
    pub fn new() -> Rc<Lan> {
        Rc::new(Lan {
            state: RefCell::default(),
            origin: Instant::now(),
        })
    }

    /// Time since the LAN was made (tokio's clock: paused in the harness).
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// A node with `ifaces`: (name, segment, "address/len" ...). Every interface also gets
    /// a link-local IPv6 address from its MAC.
    pub fn add_node(&self, ifaces: &[(&str, &str, &[&str])]) -> NodeId {
        let mut state = self.state.borrow_mut();
        let id = state.nodes.len();
        let list = ifaces
            .iter()
            .enumerate()
            .map(|(i, (name, segment, addrs))| {
                let mac = [0x02, 0, 0, 0, id as u8 + 1, i as u8 + 1];
                let mut parsed: Vec<(IpAddr, u8)> = addrs
                    .iter()
                    .map(|a| {
                        let (addr, len) = a.split_once('/').expect("address/len");
                        (addr.parse().expect("address"), len.parse().expect("len"))
                    })
                    .collect();
                let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, id as u16 + 1, i as u16 + 1);
                parsed.push((IpAddr::V6(ll), 64));
                Iface {
                    name: (*name).to_string(),
                    index: i as u32 + 2,
                    mac,
                    segment: (*segment).to_string(),
                    up: true,
                    addrs: parsed,
                }
            })
            .collect();
        state.nodes.push(Node {
            ifaces: Arc::new(Mutex::new(list)),
            monitor: None,
            epoch: 0,
            nft: Arc::default(),
        });
        id
    }

    /// The host of node `id`, for its next daemon.
    pub fn host(self: &Rc<Lan>, id: NodeId, launcher: Arc<dyn Launch>) -> Rc<FakeHost> {
        Rc::new(FakeHost {
            lan: self.clone(),
            node: id,
            launcher,
        })
    }

    /// The node's daemon died without cleaning up: its ports go deaf and mute, its
    /// addresses stay (as after a kill -9).
    pub fn crash(&self, id: NodeId) {
        let mut state = self.state.borrow_mut();
        state.nodes[id].epoch += 1;
        state.nodes[id].monitor = None;
    }

    pub fn ifaces(&self, id: NodeId) -> Vec<Iface> {
        lock(&self.state.borrow().nodes[id].ifaces).clone()
    }

    /// Set a link up or down, as a cable pulled or an `ip link set down`: the node's
    /// monitor hears of it.
    pub fn set_link(&self, id: NodeId, interface: &str, up: bool) {
        let state = self.state.borrow();
        let node = &state.nodes[id];
        let index = {
            let mut ifaces = lock(&node.ifaces);
            let iface = ifaces
                .iter_mut()
                .find(|i| i.name == interface)
                .expect("no such interface");
            iface.up = up;
            iface.index
        };
        if let Some(monitor) = &node.monitor {
            let _ = monitor.send(NetEvent::LinkChanged {
                index,
                name: interface.to_string(),
                up,
            });
        }
    }

    /// Take an address off an interface by hand (`ip addr del`).
    pub fn remove_address(&self, id: NodeId, interface: &str, addr: IpAddr) {
        let state = self.state.borrow();
        let node = &state.nodes[id];
        let removed = {
            let mut ifaces = lock(&node.ifaces);
            let iface = ifaces
                .iter_mut()
                .find(|i| i.name == interface)
                .expect("no such interface");
            let before = iface.addrs.clone();
            iface.addrs.retain(|(a, _)| *a != addr);
            before
                .iter()
                .find(|(a, _)| *a == addr)
                .map(|(_, p)| (iface.index, *p))
        };
        if let (Some((index, prefix_len)), Some(monitor)) = (removed, &node.monitor) {
            let _ = monitor.send(NetEvent::AddressRemoved {
                index,
                addr,
                prefix_len,
            });
        }
    }

    /// Nodes `a` and `b` no longer hear each other (both ways).
    pub fn cut(&self, a: NodeId, b: NodeId) {
        self.state.borrow_mut().cut.insert((a.min(b), a.max(b)));
    }

    pub fn heal(&self, a: NodeId, b: NodeId) {
        self.state.borrow_mut().cut.remove(&(a.min(b), a.max(b)));
    }

    /// Adverts `id` sends are lost (it still hears the others).
    pub fn mute(&self, id: NodeId, muted: bool) {
        let mut state = self.state.borrow_mut();
        if muted {
            state.deaf_to.insert(id);
        } else {
            state.deaf_to.remove(&id);
        }
    }

    /// Every node holding `addr` on some interface.
    pub fn holders(&self, addr: IpAddr) -> Vec<NodeId> {
        let state = self.state.borrow();
        (0..state.nodes.len())
            .filter(|&id| {
                lock(&state.nodes[id].ifaces)
                    .iter()
                    .any(|i| i.addrs.iter().any(|(a, _)| *a == addr))
            })
            .collect()
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.state.borrow().sent.clone()
    }

    pub fn frames(&self) -> Vec<Frame> {
        self.state.borrow().frames.clone()
    }

    /// The `no_accept` tables node `id` asked for, in order.
    pub fn nft_tables(&self, id: NodeId) -> Vec<BTreeSet<IpAddr>> {
        lock(&self.state.borrow().nodes[id].nft).clone()
    }

    fn segment_of(&self, state: &State, node: NodeId, interface: &str) -> Option<String> {
        lock(&state.nodes[node].ifaces)
            .iter()
            .find(|i| i.name == interface && i.up)
            .map(|i| i.segment.clone())
    }

    fn has_address(state: &State, node: NodeId, interface: &str, addr: IpAddr) -> bool {
        lock(&state.nodes[node].ifaces)
            .iter()
            .any(|i| i.name == interface && i.addrs.iter().any(|(a, _)| *a == addr))
    }

    /// Carry an advert from the port of `token` to every port that hears it.
    fn deliver(
        &self,
        token: &Rc<()>,
        payload: &[u8],
        dst: IpAddr,
        ttl: u8,
    ) -> Result<(), NetError> {
        let mut state = self.state.borrow_mut();
        state.ports.retain(|p| p.alive.strong_count() > 0);
        let Some(sender) = state
            .ports
            .iter()
            .find(|p| p.alive.as_ptr() == Rc::as_ptr(token))
        else {
            return Ok(());
        };
        let (node, interface, family, source) = (
            sender.node,
            sender.interface.clone(),
            sender.family,
            sender.source,
        );
        if sender.epoch != state.nodes[node].epoch {
            return Ok(());
        }
        // The kernel sends from a local address only (IP_PKTINFO's ipi_spec_dst, or the
        // IPv6 source, must be on the machine), and not on a link that is down.
        let errno = if !Self::has_address(&state, node, &interface, source) {
            Some(libc::EINVAL)
        } else if self.segment_of(&state, node, &interface).is_none() {
            Some(libc::ENETDOWN)
        } else {
            None
        };
        if let Some(errno) = errno {
            return Err(NetError::Send {
                dst,
                len: payload.len(),
                interface: interface.clone(),
                source: std::io::Error::from_raw_os_error(errno),
            });
        }
        let at = self.elapsed();
        state.sent.push(Sent {
            at,
            node,
            interface: interface.clone(),
            dst,
            ttl,
            payload: payload.to_vec(),
        });
        if state.deaf_to.contains(&node) {
            return Ok(());
        }
        let Some(segment) = self.segment_of(&state, node, &interface) else {
            return Ok(());
        };
        for port in &state.ports {
            // Linux drops a packet whose source is one of the receiving machine's own
            // addresses (a martian source; `accept_local` is off by default), before any
            // raw socket sees it.
            let martian = lock(&state.nodes[port.node].ifaces)
                .iter()
                .any(|i| i.addrs.iter().any(|(a, _)| *a == source));
            let hears = port.node != node
                && !martian
                && port.epoch == state.nodes[port.node].epoch
                && port.family == family
                && !state
                    .cut
                    .contains(&(node.min(port.node), node.max(port.node)))
                && self.segment_of(&state, port.node, &port.interface).as_ref() == Some(&segment)
                && if dst.is_multicast() {
                    port.groups.borrow().contains(&dst)
                } else {
                    Self::has_address(&state, port.node, &port.interface, dst)
                };
            if hears {
                let received = Received {
                    src: source,
                    dst,
                    ttl,
                    tos: 0xc0,
                    len: payload.len(),
                };
                let _ = port.deliver.send((received, payload.to_vec()));
            }
        }
        Ok(())
    }
}

/// Node `node`'s machine.
pub struct FakeHost {
    lan: Rc<Lan>,
    node: NodeId,
    launcher: Arc<dyn Launch>,
}

impl FakeHost {
    fn ifaces(&self) -> Arc<Mutex<Vec<Iface>>> {
        self.lan.state.borrow().nodes[self.node].ifaces.clone()
    }

    fn notify(&self, event: NetEvent) {
        if let Some(monitor) = &self.lan.state.borrow().nodes[self.node].monitor {
            let _ = monitor.send(event);
        }
    }
}

fn unsupported(what: &str) -> NetlinkError {
    NetlinkError::Query {
        what: format!("{what} (not in the in-process harness)"),
        source: std::io::Error::from(std::io::ErrorKind::Unsupported),
    }
}

impl Links for FakeHost {
    fn link<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<LinkState, NetlinkError>> {
        let found = lock(&self.ifaces())
            .iter()
            .find(|i| i.name == name)
            .map(|i| LinkState {
                index: i.index,
                up: i.up,
                mac: i.mac,
            });
        Box::pin(async move {
            found.ok_or_else(|| NetlinkError::NoSuchLink {
                name: name.to_string(),
            })
        })
    }

    fn interface_info<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<InterfaceInfo, NetlinkError>> {
        let found = lock(&self.ifaces())
            .iter()
            .find(|i| i.name == name)
            .map(Iface::info);
        Box::pin(async move {
            found.ok_or_else(|| NetlinkError::NoSuchLink {
                name: name.to_string(),
            })
        })
    }

    fn add_address<'a>(
        &'a self,
        ifindex: u32,
        vip: &'a VirtualAddress,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        let added = {
            let ifaces = self.ifaces();
            let mut ifaces = lock(&ifaces);
            match ifaces.iter_mut().find(|i| i.index == ifindex) {
                None => Err(NetlinkError::AddAddress {
                    addr: vip.addr,
                    prefix_len: vip.prefix_len,
                    ifindex,
                    source: std::io::Error::from_raw_os_error(libc::ENODEV),
                }),
                Some(iface) if iface.addrs.iter().any(|(a, _)| *a == vip.addr) => Ok(false),
                Some(iface) => {
                    iface.addrs.push((vip.addr, vip.prefix_len));
                    Ok(true)
                }
            }
        };
        if let Ok(true) = added {
            self.notify(NetEvent::AddressAdded {
                index: ifindex,
                addr: vip.addr,
                prefix_len: vip.prefix_len,
            });
        }
        Box::pin(async move { added.map(|_| ()) })
    }

    fn del_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        let removed = {
            let ifaces = self.ifaces();
            let mut ifaces = lock(&ifaces);
            ifaces
                .iter_mut()
                .find(|i| i.index == ifindex)
                .is_some_and(|iface| {
                    let before = iface.addrs.len();
                    iface.addrs.retain(|(a, _)| *a != addr);
                    iface.addrs.len() != before
                })
        };
        if removed {
            self.notify(NetEvent::AddressRemoved {
                index: ifindex,
                addr,
                prefix_len,
            });
        }
        Box::pin(async { Ok(()) })
    }

    fn add_route<'a>(&'a self, _: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("adding a route")) })
    }
    fn del_route<'a>(&'a self, _: &'a Route) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("removing a route")) })
    }
    fn add_rule<'a>(&'a self, _: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("adding a rule")) })
    }
    fn del_rule<'a>(&'a self, _: &'a Rule) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("removing a rule")) })
    }
    fn link_kind<'a>(
        &'a self,
        _: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<LinkKind>, NetlinkError>> {
        Box::pin(async { Err(unsupported("reading a link's kind")) })
    }
    fn create_macvlan<'a>(
        &'a self,
        _: &'a str,
        _: u32,
        _: [u8; 6],
        _: u32,
    ) -> LocalBoxFuture<'a, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("creating a macvlan")) })
    }
    fn set_addr_gen_mode_none(&self, _: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("setting addr_gen_mode")) })
    }
    fn set_link_up(&self, _: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("setting a link up")) })
    }
    fn delete_link(&self, _: u32) -> LocalBoxFuture<'_, Result<(), NetlinkError>> {
        Box::pin(async { Err(unsupported("deleting a link")) })
    }
}

struct Events(mpsc::UnboundedReceiver<NetEvent>);

impl NetEvents for Events {
    fn next(&mut self) -> LocalBoxFuture<'_, Option<NetEvent>> {
        Box::pin(self.0.recv())
    }
}

struct FakePort {
    lan: Rc<Lan>,
    token: Rc<()>,
    ifindex: u32,
    groups: Rc<RefCell<Vec<IpAddr>>>,
    received: RefCell<mpsc::UnboundedReceiver<(Received, Vec<u8>)>>,
}

impl FakePort {
    fn copy_out(buf: &mut [u8], (info, payload): (Received, Vec<u8>)) -> Received {
        let len = payload.len().min(buf.len());
        buf[..len].copy_from_slice(&payload[..len]);
        Received { len, ..info }
    }
}

impl VrrpPort for FakePort {
    fn join(&self, group: IpAddr) -> Result<(), NetError> {
        let mut groups = self.groups.borrow_mut();
        if !groups.contains(&group) {
            groups.push(group);
        }
        Ok(())
    }

    fn send<'a>(
        &'a self,
        payload: &'a [u8],
        dst: IpAddr,
        ttl: u8,
    ) -> LocalBoxFuture<'a, Result<(), NetError>> {
        let result = self.lan.deliver(&self.token, payload, dst, ttl);
        Box::pin(async move { result })
    }

    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, Result<Received, NetError>> {
        Box::pin(async move {
            // Borrowed only while polled, so `try_recv` can take a datagram in between.
            match std::future::poll_fn(|cx| self.received.borrow_mut().poll_recv(cx)).await {
                Some(datagram) => Ok(Self::copy_out(buf, datagram)),
                None => std::future::pending().await,
            }
        })
    }

    fn try_recv(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>> {
        let datagram = self.received.borrow_mut().try_recv().ok()?;
        Some(Ok(Self::copy_out(buf, datagram)))
    }

    fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

struct FakeAnnouncer {
    lan: Rc<Lan>,
    node: NodeId,
    epoch: u64,
    interface: String,
    ifindex: u32,
}

impl AnnouncePort for FakeAnnouncer {
    fn send_frame<'a>(&'a self, frame: &'a [u8]) -> LocalBoxFuture<'a, Result<(), NetError>> {
        let at = self.lan.elapsed();
        let mut state = self.lan.state.borrow_mut();
        // A packet socket cannot send on a link that is down (ENETDOWN).
        if self
            .lan
            .segment_of(&state, self.node, &self.interface)
            .is_none()
        {
            let interface = self.interface.clone();
            return Box::pin(async move {
                Err(NetError::Send {
                    dst: IpAddr::V4(Ipv4Addr::BROADCAST),
                    len: frame.len(),
                    interface,
                    source: std::io::Error::from_raw_os_error(libc::ENETDOWN),
                })
            });
        }
        if state.nodes[self.node].epoch == self.epoch {
            state.frames.push(Frame {
                at,
                node: self.node,
                interface: self.interface.clone(),
                bytes: frame.to_vec(),
            });
        }
        Box::pin(async { Ok(()) })
    }

    fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

/// Hears nothing: no other node answers a probe in the harness.
struct Silent(String);

impl NeighbourPort for Silent {
    fn recv<'a>(&'a self, _: &'a mut [u8]) -> LocalBoxFuture<'a, std::io::Result<usize>> {
        Box::pin(std::future::pending())
    }
    fn interface(&self) -> &str {
        &self.0
    }
}

fn no_interface(interface: &str) -> NetError {
    NetError::NoInterface {
        interface: interface.to_string(),
        source: std::io::Error::from_raw_os_error(libc::ENODEV),
    }
}

impl Host for FakeHost {
    fn links(&self) -> Rc<dyn Links> {
        Rc::new(FakeHost {
            lan: self.lan.clone(),
            node: self.node,
            launcher: self.launcher.clone(),
        })
    }

    fn monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lan.state.borrow_mut().nodes[self.node].monitor = Some(tx);
        Ok(Box::new(Events(rx)))
    }

    fn route_monitor(&self) -> Result<Box<dyn NetEvents>, NetlinkError> {
        Err(unsupported("the route monitor"))
    }

    fn open_vrrp(
        &self,
        interface: &str,
        family: Family,
        source: IpAddr,
    ) -> Result<Rc<dyn VrrpPort>, NetError> {
        let ifindex = self
            .if_index(interface)
            .ok_or_else(|| no_interface(interface))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let token = Rc::new(());
        let groups = Rc::new(RefCell::new(Vec::new()));
        {
            let mut state = self.lan.state.borrow_mut();
            let epoch = state.nodes[self.node].epoch;
            state.ports.push(Port {
                node: self.node,
                epoch,
                interface: interface.to_string(),
                family,
                source,
                groups: groups.clone(),
                deliver: tx,
                alive: Rc::downgrade(&token),
            });
        }
        Ok(Rc::new(FakePort {
            lan: self.lan.clone(),
            token,
            ifindex,
            groups,
            received: RefCell::new(rx),
        }))
    }

    fn open_announcer(&self, interface: &str) -> Result<Rc<dyn AnnouncePort>, NetError> {
        let ifindex = self
            .if_index(interface)
            .ok_or_else(|| no_interface(interface))?;
        let epoch = self.lan.state.borrow().nodes[self.node].epoch;
        Ok(Rc::new(FakeAnnouncer {
            lan: self.lan.clone(),
            node: self.node,
            epoch,
            interface: interface.to_string(),
            ifindex,
        }))
    }

    fn if_index(&self, interface: &str) -> Option<u32> {
        lock(&self.ifaces())
            .iter()
            .find(|i| i.name == interface)
            .map(|i| i.index)
    }

    fn open_neighbour(
        &self,
        interface: &str,
        _nd: bool,
    ) -> Result<Box<dyn NeighbourPort>, NetError> {
        Ok(Box::new(Silent(interface.to_string())))
    }

    fn protocol_timer(&self, origin: Instant) -> ProtocolTimer {
        ProtocolTimer::on_tokio(origin)
    }

    fn address_lister(&self) -> Box<dyn FnOnce() -> Result<AddressTable, String> + Send> {
        let ifaces = self.ifaces();
        Box::new(move || {
            Ok(lock(&ifaces)
                .iter()
                .map(|i| (i.index, i.addrs.clone()))
                .collect())
        })
    }

    fn launcher(&self) -> Arc<dyn Launch> {
        self.launcher.clone()
    }

    fn systemd(&self) -> crate::daemon::systemd::Notifier {
        crate::daemon::systemd::Notifier::silent()
    }

    fn nftables(&self) -> Nft {
        let tables = self.lan.state.borrow().nodes[self.node].nft.clone();
        Arc::new(move |drops: &Drops| {
            lock(&tables).push(drops.addresses.clone());
            Ok(())
        })
    }
}

/// One process the daemon started.
#[derive(Clone, Debug)]
pub struct Run {
    /// When it started (time since the LAN was made).
    pub at: Duration,
    /// The node whose daemon started it.
    pub node: String,
    /// The command line as configured, with the extra arguments.
    pub line: String,
    pub env: BTreeMap<String, String>,
}

/// How a command answers: its exit code, after `takes` (a process that takes longer than
/// its timeout is killed then, and reported timed out).
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    pub exit: i32,
    pub takes: Duration,
}

#[derive(Default)]
struct Script {
    runs: Vec<Run>,
    /// The first rule whose text the command line contains answers; else exit 0 at once.
    rules: Vec<(String, Answer)>,
}

/// The processes of every node: recorded, answering as the test set.
pub struct Launcher {
    script: Arc<Mutex<Script>>,
    origin: Instant,
}

impl Launcher {
    pub fn new(origin: Instant) -> Launcher {
        Launcher {
            script: Arc::default(),
            origin,
        }
    }

    /// The launcher for node `node`'s daemon (the records say which node ran what).
    pub fn for_node(&self, node: &str) -> Arc<dyn Launch> {
        Arc::new(NodeLauncher {
            script: self.script.clone(),
            origin: self.origin,
            node: node.to_string(),
        })
    }

    /// Commands whose line contains `text` answer `answer` from now on.
    pub fn answer(&self, text: &str, answer: Answer) {
        let mut script = lock(&self.script);
        script.rules.retain(|(t, _)| t != text);
        script.rules.insert(0, (text.to_string(), answer));
    }

    pub fn runs(&self) -> Vec<Run> {
        lock(&self.script).runs.clone()
    }
}

struct NodeLauncher {
    script: Arc<Mutex<Script>>,
    origin: Instant,
    node: String,
}

impl Launch for NodeLauncher {
    fn run<'a>(&'a self, spec: &'a Spec) -> LocalBoxFuture<'a, Outcome> {
        let mut line = spec.command.to_string();
        for arg in &spec.extra_args {
            line.push(' ');
            line.push_str(arg);
        }
        let answer = {
            let mut script = lock(&self.script);
            script.runs.push(Run {
                at: self.origin.elapsed(),
                node: self.node.clone(),
                line: line.clone(),
                env: spec.env.iter().cloned().collect(),
            });
            script
                .rules
                .iter()
                .find(|(text, _)| line.contains(text.as_str()))
                .map(|(_, a)| *a)
                .unwrap_or(Answer {
                    exit: 0,
                    takes: Duration::ZERO,
                })
        };
        Box::pin(async move {
            let timed_out = answer.takes > spec.timeout;
            let ran = answer.takes.min(spec.timeout);
            if !ran.is_zero() {
                tokio::time::sleep(ran).await;
            }
            Outcome {
                command: spec.command.to_string(),
                exit_code: (!timed_out).then_some(answer.exit),
                signal: timed_out.then_some(libc::SIGKILL),
                timed_out,
                error: None,
                duration_s: ran.as_secs_f64(),
                stderr_tail: String::new(),
            }
        })
    }
}

/// An IPv4 address literal, for tests.
pub fn v4(text: &str) -> IpAddr {
    IpAddr::V4(text.parse::<Ipv4Addr>().expect("IPv4 address"))
}
