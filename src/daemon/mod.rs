//! `baton run`: the event loop that drives one VRRP state machine per configured instance.
//!
//! A tokio current-thread runtime waits on: packets from the raw sockets, link and address
//! changes from netlink, the earliest deadline of any instance, finished helper tasks
//! (fallback checks) and signals. Each input becomes an event for the pure core, whose
//! actions are carried out here: adverts sent, addresses added or removed, GARP/NA sent.

mod announce;
use announce::Burst;
mod control;
mod deadlines;
mod firewall;
mod flaps;
mod groups;
#[cfg(test)]
mod harness;
mod health;
mod hooks;
pub(crate) mod host;
mod neighbour_watch;
mod peer_alarms;
mod probe;
mod process;
mod processes;
mod realtime;
mod router;
mod routes;
mod runner;
mod send_errors;
mod systemd;
mod timer;
mod track;
mod translate;
mod vmac;
mod witness;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::config::{self, Change, Model};
use crate::net::Received;
use crate::netlink::{self, NetEvent};
use crate::vrrp::{Action, Event, State};
use crate::wire::auth_hmac::Trailer;
use crate::wire::vrrp::{ChecksumMode, Repr};
use crate::wire::{arp, ndp};
use hooks::{CheckOutcome, run_check};
use host::{AnnouncePort, Host, Links, NetEvents, VrrpPort};
use router::{FamilyKey, PlacedVip, Router, SocketKey, WireKey};

/// What `baton run` needs to start.
#[derive(Clone, Debug)]
pub struct Options {
    pub config: PathBuf,
    /// The id `@ID` config lines are compared with.
    pub config_id: Option<String>,
    /// The control socket.
    pub socket: PathBuf,
    /// Where locks are kept across restarts.
    pub state_dir: PathBuf,
}

/// Why the daemon could not start (or had to stop).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("instance {instance}: {message}")]
    Instance { instance: String, message: String },
    #[error("netlink: {0}")]
    Netlink(#[from] netlink::NetlinkError),
    #[error("{0}")]
    Control(#[from] crate::control::server::ServerError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Run the daemon until SIGTERM or SIGINT.
pub fn run(options: Options) -> Result<(), DaemonError> {
    let model = load_model(&options)?;
    realtime::apply(&model.global);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DaemonError::Io {
            what: "cannot start the runtime",
            source,
        })?;
    // spawn_local needs a LocalSet: the sockets are shared with Rc on this one thread.
    let local = tokio::task::LocalSet::new();
    let result = runtime.block_on(local.run_until(serve(options, model)));
    drop(local);
    // A config parse still running on a blocking thread (a reload that a stop overtook, on
    // a file that reads slowly) must not keep the stopped daemon from exiting.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Load and validate the configuration, rendering every diagnostic into the error.
fn load_model(options: &Options) -> Result<Model, DaemonError> {
    let opts = config::Options {
        config_id: options.config_id.clone(),
    };
    let loaded = config::load_with(&options.config, &opts)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    for warning in loaded.warnings() {
        warn!("{}", warning.message);
    }
    match loaded.model {
        Some(model) => Ok(model),
        None => Err(DaemonError::Config(format!(
            "{} is invalid:\n{}",
            options.config.display(),
            loaded.render()
        ))),
    }
}

/// What a socket task hands to the event loop.
enum Packet {
    Good {
        socket: SocketKey,
        /// The interface index the socket is bound to.
        ifindex: u32,
        received: Received,
        payload: Vec<u8>,
    },
    /// A datagram the socket layer already rejected, to be counted.
    Bad {
        socket: SocketKey,
        reason: &'static str,
    },
}

/// Packets waiting for the event loop; beyond this the socket tasks wait and the kernel's
/// socket buffer absorbs (and, under a flood, drops) the rest.
const PACKET_QUEUE: usize = 1024;

async fn serve(options: Options, model: Model) -> Result<(), DaemonError> {
    let host = Rc::new(host::Kernel::open()?);
    let listener = crate::control::server::bind(&options.socket)?;
    let (control_tx, control_rx) = mpsc::channel(16);
    tokio::task::spawn_local(crate::control::server::serve(listener, control_tx.clone()));
    // Hooks and checks start, wait and are read on a thread of their own.
    let runner = runner::Runner::start(host.launcher()).map_err(|source| DaemonError::Io {
        what: "cannot start the script thread",
        source,
    })?;
    let socket = options.socket.clone();
    let inputs = Inputs {
        control: control_rx,
        control_tx,
        stop: Box::pin(Signals::new()?.into_stream()),
    };
    serve_on(host, runner, options, model, inputs).await?;
    if let Err(e) = std::fs::remove_file(&socket) {
        warn!("cannot remove {}: {e}", socket.display());
    }
    info!("baton stopped");
    Ok(())
}

/// What reaches the daemon from outside the network: control requests (from the control
/// socket's tasks, or a harness) and the signals (or a harness's own stop and reload).
pub(crate) struct Inputs {
    pub control: mpsc::Receiver<crate::control::server::ControlRequest>,
    /// The sender of `control`, for the metrics listener's status requests.
    pub control_tx: mpsc::Sender<crate::control::server::ControlRequest>,
    pub stop: std::pin::Pin<Box<dyn futures::Stream<Item = Signal>>>,
}

/// A signal, or what a harness asks instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGTERM or SIGINT: stop.
    Stop(&'static str),
    /// SIGHUP: reload.
    Reload,
}

/// Run the daemon for `model` on `host` until `inputs.stop` says stop: the whole daemon
/// (instances, hooks, tracking, reloads, control requests) with the machine behind `host`.
pub(crate) async fn serve_on(
    host: Rc<dyn Host>,
    runner: runner::Runner,
    options: Options,
    model: Model,
    inputs: Inputs,
) -> Result<(), DaemonError> {
    let options_state_dir = options.state_dir.clone();
    let options_socket = options.socket.clone();
    let monitor = host.monitor()?;
    let (packet_tx, packet_rx) = mpsc::channel(PACKET_QUEUE);
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let metrics = match model.global.metrics_listen {
        Some(address) => Metrics::start(address, &inputs.control_tx).await,
        None => None,
    };
    let metrics_requests = inputs.control_tx.clone();
    let runner = Rc::new(runner);
    let firewall = firewall::Firewall::new(host.nftables());
    let systemd = host.systemd();
    let mut daemon = Daemon {
        origin: Instant::now(),
        options,
        netlink: host.links(),
        host,
        model: model.clone(),
        routers: BTreeMap::new(),
        deadlines: deadlines::Deadlines::new(),
        by_wire: HashMap::new(),
        receive_buf: Vec::new(),
        sockets: HashMap::new(),
        socket_drops: BTreeMap::new(),
        announcers: HashMap::new(),
        neighbour_watches: HashMap::new(),
        neighbour_watch_failed: std::collections::HashSet::new(),
        packet_tx,
        event_tx,
        locks: control::Locks::load(&options_state_dir),
        hook_settings: hooks::Settings::of(&model.global, options_socket.clone()),
        hooks: hooks::Queues::new(runner.clone()),
        runner,
        fifos: hooks::Fifos::default(),
        trackers: track::Trackers::default(),
        firewall,
        vmac_bases: HashMap::new(),
        groups: BTreeMap::new(),
        incarnations: 0,
        stopping: false,
        reloads: Reloads::default(),
        systemd,
        vip_generation: 0,
        metrics,
        metrics_requests,
        witness: None,
        witness_epoch: 0,
        start_at: None,
        route_events_wanted: false,
    };
    daemon.start(&model).await?;
    info!(instances = daemon.routers.len(), "baton started");
    daemon
        .systemd
        .ready(format!("{} instances", daemon.routers.len()));
    daemon
        .event_loop(inputs.stop, monitor, packet_rx, event_rx, inputs.control)
        .await;
    daemon.systemd.stopping();
    daemon.stop().await;
    Ok(())
}

struct Signals {
    hangup: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// The signals as a stream, in the order they arrive.
    fn into_stream(self) -> impl futures::Stream<Item = Signal> {
        futures::stream::unfold(self, |mut s| async move {
            let signal = tokio::select! {
                _ = s.terminate.recv() => Signal::Stop("SIGTERM"),
                _ = s.interrupt.recv() => Signal::Stop("SIGINT"),
                _ = s.hangup.recv() => Signal::Reload,
            };
            Some((signal, s))
        })
    }

    fn new() -> Result<Signals, DaemonError> {
        let make = |kind| {
            signal(kind).map_err(|source| DaemonError::Io {
                what: "cannot install a signal handler",
                source,
            })
        };
        Ok(Signals {
            hangup: make(SignalKind::hangup())?,
            terminate: make(SignalKind::terminate())?,
            interrupt: make(SignalKind::interrupt())?,
        })
    }
}

struct OpenSocket {
    socket: Rc<dyn VrrpPort>,
    task: JoinHandle<()>,
}

struct Daemon {
    origin: Instant,
    options: Options,
    /// The machine: sockets, rtnetlink, the timer, processes (see `host.rs`).
    host: Rc<dyn Host>,
    netlink: Rc<dyn Links>,
    model: Model,
    /// Boxed: a `Router` is a few kilobytes, and a B-tree node holds eleven values inline,
    /// so unboxed the half-empty nodes cost more than the routers (measured: 600 kB at 100
    /// instances against 450 kB of routers).
    routers: BTreeMap<String, Box<Router>>,
    /// Every router's next deadline, in order (see `deadlines.rs`).
    deadlines: deadlines::Deadlines,
    /// The buffer the loop reads arrived datagrams into (`arrived`).
    receive_buf: Vec<u8>,
    /// Which router a packet is for, by [`WireKey`]; rebuilt whenever routers or their
    /// sockets change (`reindex`). A lookup is checked against the router and falls back
    /// to a scan, so a stale entry can cost time, never a packet.
    by_wire: HashMap<WireKey, String>,
    sockets: HashMap<SocketKey, OpenSocket>,
    /// Packets dropped before they reach an instance, by socket and reason.
    socket_drops: BTreeMap<(SocketKey, &'static str), u64>,
    announcers: HashMap<String, Rc<dyn AnnouncePort>>,
    /// Listeners for the answers to the VIP probe (ARP; neighbour advertisements), by
    /// interface and family, while an instance there is MASTER.
    neighbour_watches: HashMap<neighbour_watch::WatchKey, neighbour_watch::NeighbourWatch>,
    /// Listeners that could not be opened (logged once).
    neighbour_watch_failed: std::collections::HashSet<neighbour_watch::WatchKey>,
    packet_tx: mpsc::Sender<Packet>,
    event_tx: mpsc::UnboundedSender<Internal>,
    /// Instances the operator locked (kept in the state directory).
    locks: control::Locks,
    hook_settings: hooks::Settings,
    /// One notify queue per instance and sync group.
    hooks: hooks::Queues,
    /// The script thread (hooks, checks, track scripts).
    runner: Rc<runner::Runner>,
    fifos: hooks::Fifos,
    trackers: track::Trackers,
    /// `no_accept`: the nftables rules that drop traffic to virtual addresses.
    firewall: firewall::Firewall,
    /// Base interfaces carrying a VMAC: their ARP settings before, and the VMACs on them.
    vmac_bases: HashMap<String, vmac::BaseArp>,
    /// Each configured sync group's hook state and last hook result.
    groups: BTreeMap<String, groups::GroupRun>,
    /// Routers built so far: each one's `incarnation`.
    incarnations: u64,
    /// The daemon is shutting down: Initialize means STOP for the hooks.
    stopping: bool,
    /// The reload being parsed, and the one asked for meanwhile.
    reloads: Reloads,
    /// systemd's READY/STOPPING and the watchdog's heartbeat.
    systemd: systemd::Notifier,
    /// Counts changes to where VIPs are (added, removed, instances started or stopped), so
    /// a status whose address list is older than such a change lists them again.
    vip_generation: u64,
    /// The metrics address bound at start (a reload cannot move it).
    /// The `/metrics` and `/status` listener (`metrics_listen`), while one runs.
    metrics: Option<Metrics>,
    /// Where the listener sends its requests (kept to start one again on a reload).
    metrics_requests: mpsc::Sender<crate::control::server::ControlRequest>,
    /// The witness client thread, while a `witness` block is configured.
    witness: Option<crate::witness::Witness>,
    /// The last epoch given to a witness command (see `witness.rs`).
    witness_epoch: u64,
    /// `vrrp_startup_delay` / `vrrp_delay_after_boot`: the instances start at this time
    /// (the protocol clock); until then they stay in INIT. None once started.
    start_at: Option<Duration>,
    /// Some instance has a tracked `virtual_routes` / `virtual_rules` line: the loop opens
    /// the route monitor (once; a host with a busy routing table pays for the route
    /// notifications only when they are needed).
    route_events_wanted: bool,
}

/// Reloads: the configuration is read, parsed and validated on a blocking thread, so a slow
/// file or many includes never hold up the protocol loop; only the resulting diff is
/// applied on the loop. A reload asked for while one is parsing is queued, and all such
/// requests are coalesced into one more parse after the current one (which reads the file
/// as it is then, so the last edit always wins).
#[derive(Default)]
struct Reloads {
    parsing: bool,
    /// `reconfigure` clients waiting for the parse now running.
    current: Vec<tokio::sync::oneshot::Sender<crate::control::protocol::Reply>>,
    /// Another reload was asked for while parsing.
    queued: bool,
    /// `reconfigure` clients waiting for that next parse.
    next: Vec<tokio::sync::oneshot::Sender<crate::control::protocol::Reply>>,
}

/// What tracking says of an instance, with its sync group's part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub faults: Vec<String>,
    pub priority: u8,
    pub items: Vec<crate::control::status::TrackStatus>,
}

/// Results of helper tasks, for the event loop.
enum Internal {
    /// An event for an instance (the result of an automatic fallback check).
    Event(String, Event),
    /// The `fallback_check` an operator's `baton fallback` waited for.
    FallbackChecked {
        name: String,
        outcome: CheckOutcome,
        reply: tokio::sync::oneshot::Sender<crate::control::protocol::Reply>,
    },
    /// A notify hook finished.
    HookFinished(Box<hooks::Finished>),
    /// A `vrrp_script` check ran.
    ScriptRan {
        name: String,
        outcome: process::Outcome,
    },
    /// A tracked file's value changed.
    FileRead {
        name: String,
        state: track::FileState,
    },
    /// A `vrrp_track_process` block's state (its first, then each change).
    ProcessTrack(processes::Report),
    /// The start-up delay is over: start the instances.
    DelayedStart,
    /// A reload's configuration was read and validated (or refused) on a blocking thread.
    ConfigParsed(Box<Result<Model, String>>),
    /// The witness said something new of an instance's lease.
    Witness(Box<crate::witness::Report>),
    /// An answer to the VIP probe (ARP, neighbour advertisement) gave a watched VIP another
    /// MAC (`probe.rs`, `neighbour_watch.rs`).
    NeighbourHeard {
        interface: String,
        vip: IpAddr,
        mac: [u8; 6],
    },
    /// The interface addresses a `status` request needs were listed off the loop.
    StatusAddresses {
        request: control::StatusRequest,
        addresses: Result<control::Addresses, String>,
        /// `Daemon::vip_generation` when the list was asked for.
        generation: u64,
    },
}

impl Daemon {
    /// Time since the daemon started: the core's clock.
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn event_loop(
        &mut self,
        mut stop: std::pin::Pin<Box<dyn futures::Stream<Item = Signal>>>,
        mut monitor: Box<dyn NetEvents>,
        mut packets: mpsc::Receiver<Packet>,
        mut events: mpsc::UnboundedReceiver<Internal>,
        mut control: mpsc::Receiver<crate::control::server::ControlRequest>,
    ) {
        // The watchdog's heartbeat: stamped only when the loop gets here, so a loop stalled
        // in any branch stops the pings (see `systemd.rs`).
        let mut heartbeat = self.systemd.beat_every().map(tokio::time::interval);
        let mut protocol_timer = self.host.protocol_timer(self.origin);
        let mut route_monitor: Option<Box<dyn NetEvents>> = None;
        loop {
            if route_monitor.is_none() && self.route_events_wanted {
                route_monitor = self.open_route_monitor().await;
            }
            let timer = protocol_timer.wait(self.next_deadline());
            // Whether the branch kept the deadline index exact itself (the common events
            // that touch one router); after any other, it is rebuilt.
            let kept = tokio::select! {
                biased;
                signal = futures::StreamExt::next(&mut stop) => match signal {
                    Some(Signal::Reload) => { self.request_reload(None); false }
                    Some(Signal::Stop(name)) => { info!("{name}: stopping"); return; }
                    None => { info!("stopping"); return; }
                },
                _ = tick(&mut heartbeat) => { self.systemd.beat(); true }
                _ = timer => self.on_timer_wake(&mut packets).await,
                Some(packet) = packets.recv() => self.on_packet(packet).await,
                Some(event) = monitor.next() => { self.on_net_event(event).await; false }
                Some(event) = routes::next_event(&mut route_monitor) => {
                    self.on_net_event(event).await;
                    false
                }
                Some(internal) = events.recv() => { self.on_internal(internal).await; false }
                Some(request) = control.recv() => { self.on_control(request).await; false }
            };
            if !kept {
                self.deadlines.mark_stale();
            }
            #[cfg(test)]
            self.deadlines
                .check_exact(self.routers.iter().map(|(n, r)| (n, r.next_deadline())));
        }
    }

    /// The earliest deadline of any router.
    fn next_deadline(&mut self) -> Option<Duration> {
        let routers = &self.routers;
        self.deadlines.first(|| {
            routers
                .iter()
                .map(|(n, r)| (n, r.next_deadline()))
                .collect()
        })
    }

    /// After an event for `name` that found it in state `before`: if the router is still in
    /// that state and in no sync group, nothing but its own deadline can have moved, and
    /// the index is updated in place (true); otherwise the index is left to be rebuilt.
    fn kept_deadline(&mut self, name: &str, before: Option<State>) -> bool {
        let Some(router) = self.routers.get(name) else {
            return false;
        };
        if before != Some(router.machine.state()) || self.group_of(name).is_some() {
            return false;
        }
        let at = router.next_deadline();
        self.deadlines.set(name, at);
        true
    }

    /// Build and start every instance of `model`.
    async fn start(&mut self, model: &Model) -> Result<(), DaemonError> {
        self.fifos = hooks::Fifos::open(&model.global, &self.hook_settings);
        self.trackers
            .restart(model, &self.hook_settings, &self.event_tx, &self.runner);
        self.read_links(model).await;
        self.start_witness(model.witness.as_ref(), &model.global)?;
        self.delay_start(&model.global);
        self.route_events_wanted = routes::wanted(model);
        // Before any instance can be master (see firewall.rs).
        self.firewall.apply(model, true).await;
        let mut fresh = Vec::new();
        for instance in &model.instances {
            let router = self.build_router(instance).await?;
            fresh.push(router);
        }
        for router in fresh {
            self.remove_leftovers(&router).await;
            let name = router.cfg.name.clone();
            self.routers.insert(name.clone(), Box::new(router));
            self.follow_witness(&name);
            self.start_router(&name).await;
        }
        self.reindex();
        Ok(())
    }

    /// Resolve the interface, the source address and the socket of an instance.
    async fn build_router(&mut self, cfg: &config::Instance) -> Result<Router, DaemonError> {
        let fail = |message: String| DaemonError::Instance {
            instance: cfg.name.clone(),
            message,
        };
        let info = self
            .netlink
            .interface_info(&cfg.interface)
            .await
            .map_err(|e| fail(format!("interface {}: {e}", cfg.interface)))?;
        let family = FamilyKey::of(cfg.family);
        let source = source_address(cfg, &info).ok_or_else(|| {
            fail(format!(
                "interface {} has no {} address but the VIPs to send adverts from (a backup holding a VIP drops packets from it as its own); add one, or set mcast_src_ip/unicast_src_ip",
                cfg.interface,
                family.net()
            ))
        })?;
        // use_vmac: the VIPs go on the VMAC, and the adverts too unless vmac_xmit_base.
        let vmac_link = match &cfg.use_vmac {
            Some(v) => Some(
                vmac::ensure(
                    &*self.netlink,
                    &mut self.vmac_bases,
                    v,
                    &info,
                    cfg.family,
                    Some(source),
                )
                .await
                .map_err(fail)?,
            ),
            None => None,
        };
        let vip_interface = vmac_link
            .as_ref()
            .map_or_else(|| cfg.interface.clone(), |v| v.name.clone());
        let advert_interface = match &vmac_link {
            Some(v) if !v.xmit_base => v.name.clone(),
            _ => cfg.interface.clone(),
        };
        let key = SocketKey {
            interface: advert_interface,
            family,
            source,
        };
        self.open_socket(&key)
            .map_err(|e| fail(format!("cannot open the VRRP socket: {e}")))?;
        if !cfg.is_unicast()
            && let Some(open) = self.sockets.get(&key)
        {
            open.socket
                .join(translate::multicast_group(cfg))
                .map_err(|e| fail(e.to_string()))?;
        }
        // use_vmac_addr and use_vmac on address lines: a macvlan per (interface, family),
        // made or kept like the instance's own (keepalived makes them with the instance).
        let mut address_vmacs = Vec::new();
        for av in &cfg.address_vmacs {
            let base = if av.base == cfg.interface {
                info.clone()
            } else {
                self.netlink
                    .interface_info(&av.base)
                    .await
                    .map_err(|e| fail(format!("interface {} of a VMAC: {e}", av.base)))?
            };
            let link = vmac::ensure(
                &*self.netlink,
                &mut self.vmac_bases,
                &config::Vmac {
                    name: av.name.clone(),
                    mac: av.mac,
                    xmit_base: false,
                    name_given: true,
                },
                &base,
                av.family,
                None,
            )
            .await
            .map_err(fail)?;
            address_vmacs.push(link);
        }
        let mut vips = Vec::new();
        // Excluded addresses are held, announced and repaired like the VIPs; only the
        // adverts leave them out (they are built from `cfg.vips`).
        for vip in cfg.vips.iter().chain(&cfg.excluded_vips) {
            // keepalived 2.4's placement (config::AddressPlace): the instance's VMAC, an
            // address VMAC (GARP/NA then leave from it, with its virtual MAC), or the
            // interface.
            let dev = match cfg.address_place(vip) {
                config::AddressPlace::InstanceVmac => vip_interface.clone(),
                config::AddressPlace::AddressVmac(av) => av.name.clone(),
                config::AddressPlace::Interface(dev) => dev.to_string(),
            };
            let on = if dev == cfg.interface {
                info.clone()
            } else {
                self.netlink
                    .interface_info(&dev)
                    .await
                    .map_err(|e| fail(format!("interface {dev} of {vip}: {e}")))?
            };
            self.open_announcer(&dev)
                .map_err(|e| fail(format!("cannot open the GARP socket on {dev}: {e}")))?;
            vips.push(PlacedVip {
                vip: vip.clone(),
                ifindex: on.index,
                forwards_ipv6: vip.addr.is_ipv6() && crate::net::ipv6_forwarding(&dev),
                interface: dev,
                mac: on.mac,
            });
        }
        let own = own_addresses(cfg, &info, source);
        let witness = self.model.witness.clone();
        let mut router = Router::new(cfg.clone(), key, info.index, vips, own, witness.as_ref());
        router.vmac = vmac_link;
        router.address_vmacs = address_vmacs;
        self.incarnations += 1;
        router.incarnation = self.incarnations;
        Ok(router)
    }

    fn open_socket(&mut self, key: &SocketKey) -> Result<(), crate::net::NetError> {
        if self.sockets.contains_key(key) {
            return Ok(());
        }
        let socket = self
            .host
            .open_vrrp(&key.interface, key.family.net(), key.source)?;
        let task = tokio::task::spawn_local(receive_loop(
            socket.clone(),
            key.clone(),
            self.packet_tx.clone(),
        ));
        self.sockets
            .insert(key.clone(), OpenSocket { socket, task });
        Ok(())
    }

    /// The GARP/NA socket of `interface`, opened again when the interface of that name is
    /// not the link the socket is bound to (a VMAC a restart made again, an interface
    /// deleted and made again): a socket bound to a deleted link sends nothing.
    fn open_announcer(&mut self, interface: &str) -> Result<(), crate::net::NetError> {
        let current = self.host.if_index(interface);
        let bound = self.announcers.get(interface).map(|s| s.ifindex());
        if bound.is_none() || bound != current {
            let socket = self.host.open_announcer(interface)?;
            self.announcers.insert(interface.to_string(), socket);
        }
        Ok(())
    }

    /// Close sockets no instance uses any more.
    fn close_unused_sockets(&mut self) {
        // A migration's old socket stays while the old way is in use.
        let used: Vec<SocketKey> = self
            .routers
            .values()
            .flat_map(|r| {
                std::iter::once(r.socket.clone())
                    .chain(r.migration.as_ref().map(|m| m.old_socket.clone()))
            })
            .collect();
        self.sockets.retain(|key, open| {
            let keep = used.contains(key);
            if !keep {
                open.task.abort();
            }
            keep
        });
    }

    /// VIPs left on the interface by a crashed run would answer for a VIP this node does
    /// not hold. The address owner's VIPs are its own addresses and stay.
    async fn remove_leftovers(&self, router: &Router) {
        if router.cfg.is_address_owner() {
            return;
        }
        self.remove_leftover_routes(router).await;
        for placed in &router.vips {
            if let Err(e) = self
                .netlink
                .del_address(placed.ifindex, placed.vip.addr, placed.vip.prefix_len)
                .await
            {
                warn!(instance = %router.cfg.name, "cannot remove leftover {}: {e}", placed.vip);
            }
        }
    }

    async fn start_router(&mut self, name: &str) {
        self.apply_tracking().await;
        if let Some(hold) = self.resume_damping(name) {
            self.deliver(name, hold).await;
        }
        if self.locks.contains(name) {
            info!(
                instance = name,
                "locked by the operator (kept across restarts)"
            );
            self.deliver(name, Event::Lock).await;
        }
        if self.start_at.is_none() {
            self.deliver(name, Event::Startup).await;
        }
    }

    /// `vrrp_startup_delay` and `vrrp_delay_after_boot` (keepalived 2.4): the instances
    /// stay in INIT (they neither send nor act on adverts) until the longer delay is over,
    /// so a node whose network is still coming up at boot cannot take the VIP before it
    /// hears the master.
    fn delay_start(&mut self, global: &config::Global) {
        let after_start = Duration::from_millis(global.startup_delay_ms);
        let after_boot = Duration::from_millis(global.delay_after_boot_ms)
            .saturating_sub(system_uptime().unwrap_or(Duration::MAX));
        let delay = after_start.max(after_boot);
        if delay.is_zero() {
            return;
        }
        info!(
            "the instances start in {:.1}s (vrrp_startup_delay / vrrp_delay_after_boot)",
            delay.as_secs_f64()
        );
        self.start_at = Some(self.now() + delay);
        let events = self.event_tx.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Internal::DelayedStart);
        });
    }

    /// The start-up delay is over: every instance still in INIT starts.
    pub(super) async fn delayed_start(&mut self) {
        if self.start_at.take().is_none() || self.stopping {
            return;
        }
        info!("start-up delay over: starting the instances");
        let names: Vec<String> = self.routers.keys().cloned().collect();
        for name in names {
            let init = self
                .routers
                .get(&name)
                .is_some_and(|r| r.machine.state() == State::Initialize);
            if init {
                self.deliver(&name, Event::Startup).await;
            }
        }
    }

    async fn link_up(&self, interface: &str) -> bool {
        match self.netlink.link(interface).await {
            Ok(link) => link.up,
            Err(e) => {
                warn!("cannot read the state of {interface}: {e}; assuming up");
                true
            }
        }
    }

    /// Feed one event to an instance and carry out what it asks for; then let its sync
    /// group follow, and run the group's hooks when the whole group changed state.
    /// Returns why the first event was refused, if it was.
    async fn deliver(&mut self, name: &str, event: Event) -> Option<crate::vrrp::Refusal> {
        let mut refusal = None;
        let mut first = true;
        let mut work = VecDeque::from([(name.to_string(), event)]);
        // Each member follows at most once per change, so this ends; the bound is a guard.
        let mut budget = 4 * self.routers.len() + 4;
        while let Some((name, event)) = work.pop_front() {
            let now = self.now();
            let Some(router) = self.routers.get_mut(&name) else {
                continue;
            };
            let actions = router.machine.handle(now, event);
            if std::mem::take(&mut first) {
                refusal = actions.iter().find_map(|a| match a {
                    Action::Refuse(r) => Some(*r),
                    _ => None,
                });
            }
            let moves: Vec<(State, State)> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Transition { from, to, .. } => Some((*from, *to)),
                    _ => None,
                })
                .collect();
            self.carry_out(&name, actions).await;
            for (from, to) in moves {
                if to == State::Master
                    && let Some(hold) = self.became_master(&name)
                {
                    work.push_back((name.clone(), hold));
                }
                if budget > 0 {
                    budget -= 1;
                    work.extend(self.group_followers(&name, from, to));
                }
                self.notify_group(&name);
            }
        }
        refusal
    }

    async fn carry_out(&mut self, name: &str, actions: Vec<Action>) {
        // A lease is given up only if the addresses before it were all removed.
        let mut addresses_left = false;
        for action in actions {
            match action {
                Action::Transition { from, to, reason } => {
                    self.log_transition(name, from, to, reason);
                    self.notify_instance(name, from, to, reason);
                    if to == State::Master || from == State::Master {
                        let now = self.now();
                        self.probe_transition(name, now, to == State::Master);
                    }
                }
                Action::AddAddresses => {
                    self.add_addresses(name).await;
                    self.install_routes(name, None).await;
                }
                Action::RemoveAddresses => {
                    self.remove_routes(name, None).await;
                    addresses_left |= !self.remove_addresses(name).await;
                }
                Action::SendAdvert { priority } => self.send_advert(name, priority).await,
                Action::Announce => self.start_announcing(name, Burst::Master).await,
                Action::AnnounceAgain => self.start_announcing(name, Burst::LowerPriority).await,
                Action::RunFallbackCheck => self.run_fallback_check(name),
                // Once per split brain, not per lower-priority advert: a flood of them (the
                // hostile test sends 10,000/s) must not start a process for each.
                Action::SplitBrain { from, priority } => {
                    warn!(
                        instance = name,
                        "split brain: {from} is master too, at lower priority {priority}; \
                         answering and announcing the addresses again"
                    );
                    self.notify_lower_priority(name);
                }
                Action::Refuse(refusal) => warn!(instance = name, "request refused: {refusal}"),
                Action::WantLease => self.witness_command(name, true, true),
                Action::DropLease => self.witness_command(name, false, !addresses_left),
            }
        }
    }

    fn log_transition(&self, name: &str, from: State, to: State, reason: crate::vrrp::Reason) {
        let priority = self
            .routers
            .get(name)
            .map(|r| r.machine.priority())
            .unwrap_or(0);
        info!(
            instance = name,
            "{name}: {from} -> {to} ({reason}), priority {priority}"
        );
    }

    async fn add_addresses(&mut self, name: &str) {
        self.vip_generation += 1;
        let Some(router) = self.routers.get(name) else {
            return;
        };
        for placed in &router.vips {
            let address = netlink_address(&placed.vip, &placed.interface);
            match self.netlink.add_address(placed.ifindex, &address).await {
                Ok(()) => debug!(
                    instance = name,
                    "added {} on {}", placed.vip, placed.interface
                ),
                Err(e) => error!(
                    instance = name,
                    "cannot add {} on {}: {e}", placed.vip, placed.interface
                ),
            }
        }
    }

    /// Removes the instance's VIPs; false if one could not be removed.
    async fn remove_addresses(&mut self, name: &str) -> bool {
        self.vip_generation += 1;
        let Some(router) = self.routers.get_mut(name) else {
            return true;
        };
        router.announce.stop();
        let mut all = true;
        for placed in &router.vips {
            if let Err(e) = self
                .netlink
                .del_address(placed.ifindex, placed.vip.addr, placed.vip.prefix_len)
                .await
            {
                error!(
                    instance = name,
                    "cannot remove {} from {}: {e}", placed.vip, placed.interface
                );
                all = false;
            }
        }
        all
    }

    async fn send_advert(&mut self, name: &str, priority: u8) {
        let now = self.now();
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        let Some(open) = self.sockets.get(&router.socket) else {
            return;
        };
        let repr = translate::advert(&router.cfg, priority);
        let ttl = translate::ttl(&router.cfg);
        let mut buf = [0u8; 1500];
        // auth_hmac: one signature per advert, every copy (each unicast peer, the old way
        // of a migration) the same, as keepalived's vrrp_send_adv. A few microseconds.
        let signer = router.hmac.as_mut().and_then(|h| {
            h.signer(wall_clock())
                .map(|s| (s.key_id, s.key.to_vec(), s.seq))
        });
        let sign = |repr: &Repr, bytes: &mut [u8], src, dst, mode| match &signer {
            Some((key_id, key, seq)) => {
                let signer = crate::wire::auth_hmac::Signer {
                    key_id: *key_id,
                    key,
                    seq: *seq,
                };
                repr.emit_signed(bytes, src, dst, mode, &signer)
            }
            None => repr.emit(bytes, src, dst, mode),
        };
        let trailer_len = if signer.is_some() {
            crate::wire::auth_hmac::TRAILER_LEN
        } else {
            0
        };
        let len = repr.buffer_len() + trailer_len;
        // One advert goes to the group or to each unicast peer; it counts as unsent when
        // any destination refused it (a peer without a route), and is logged as one.
        let mut refused = None;
        for dst in translate::destinations(&router.cfg) {
            let Some(bytes) = buf.get_mut(..len) else {
                error!(
                    instance = name,
                    "advert of {len} bytes does not fit a packet"
                );
                return;
            };
            let mode = translate::checksum_mode(&router.cfg);
            if let Err(e) = sign(&repr, bytes, router.socket.source, dst, mode) {
                error!(instance = name, "cannot build an advert: {e}");
                return;
            }
            if let Err(e) = open.socket.send(bytes, dst, ttl).await {
                refused.get_or_insert(e.to_string());
            }
        }
        // During a move between multicast and unicast, the old way too (see
        // router::MIGRATION_WINDOW); its failures are not the instance's.
        if let Some(m) = router.migration(now)
            && let Some(old) = self.sockets.get(&m.old_socket)
        {
            let repr = translate::advert(&m.old, priority);
            let (ttl, mode) = (translate::ttl(&m.old), translate::checksum_mode(&m.old));
            for dst in translate::destinations(&m.old) {
                if let Some(bytes) = buf.get_mut(..repr.buffer_len() + trailer_len)
                    && sign(&repr, bytes, m.old_socket.source, dst, mode).is_ok()
                    && let Err(e) = old.socket.send(bytes, dst, ttl).await
                {
                    debug!(instance = name, "advert the old way to {dst} not sent: {e}");
                }
            }
        }
        let report = match refused {
            None => router.send_errors.sent(),
            Some(error) => router.send_errors.failed(now, error),
        };
        log_send_report(name, report, &router.send_errors);
    }

    async fn start_announcing(&mut self, name: &str, burst: Burst) {
        let now = self.now();
        let global = &self.model.global;
        if let Some(router) = self.routers.get_mut(name) {
            let spacing_us = match router.cfg.family {
                config::Family::IPv4 => global.garp_interval_us,
                config::Family::IPv6 => global.gna_interval_us,
            };
            let garp = router.cfg.garp;
            router
                .announce
                .start(now, &garp, burst, Duration::from_micros(spacing_us));
            if burst == Burst::Master {
                if router.extra_garp_targets().is_empty() {
                    router.announce.stop_extra();
                } else {
                    router.announce.start_extra(now, &garp);
                }
            }
            // keepalived reads the forwarding setting again before announcing, too.
            for placed in &mut router.vips {
                if placed.vip.addr.is_ipv6() {
                    placed.forwards_ipv6 = crate::net::ipv6_forwarding(&placed.interface);
                }
            }
        }
        self.send_due_announcements(name, now).await;
    }

    async fn send_due_announcements(&mut self, name: &str, now: Duration) {
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        let count = router.announce.take_due(now);
        for _ in 0..count {
            for placed in &router.vips {
                let frame = announce_frame(placed);
                let Some(socket) = self.announcers.get(&placed.interface) else {
                    continue;
                };
                if let Err(e) = socket.send_frame(&frame).await {
                    warn!(
                        instance = name,
                        "cannot announce {} on {}: {e}", placed.vip, placed.interface
                    );
                }
            }
        }
        // garp_extra_if: one message on each other interface, for its first address.
        if router.announce.take_extra_due(now) {
            for i in router.extra_garp_targets() {
                let Some(placed) = router.vips.get(i) else {
                    continue;
                };
                let frame = announce_frame(placed);
                let Some(socket) = self.announcers.get(&placed.interface) else {
                    continue;
                };
                debug!(
                    instance = name,
                    "garp_extra_if: announcing {} on {}", placed.vip, placed.interface
                );
                if let Err(e) = socket.send_frame(&frame).await {
                    warn!(
                        instance = name,
                        "cannot announce {} on {}: {e}", placed.vip, placed.interface
                    );
                }
            }
        }
    }

    fn run_fallback_check(&self, name: &str) {
        let Some(check) = self
            .routers
            .get(name)
            .and_then(|r| r.cfg.fallback_check.clone())
        else {
            return;
        };
        let Ok(running) = self.hooks.start_check(name) else {
            // The one in flight answers; the state machine asks again after its interval.
            return;
        };
        let settings = self.hook_settings.clone();
        let events = self.event_tx.clone();
        let name = name.to_string();
        let launch = self.runner.launcher();
        drop(self.hooks.spawn(move || async move {
            let outcome = run_check(&*launch, &name, &check, &settings).await;
            drop(running);
            info!(instance = %name, "fallback_check {}: {}", check.command, outcome.detail);
            let passed = outcome.passed;
            let _ = events.send(Internal::Event(name, Event::FallbackCheck { passed }));
        }));
    }

    /// The protocol timer fired. When a backup's Master_Down_Timer is due, the adverts that
    /// have already arrived (queued for the loop, or still in a socket) are taken in first,
    /// then the timers: a backup whose master's advert reached it by the time its timer is
    /// serviced stays backup (RFC 5798 6.4.2: it transitions only when the timer fires with
    /// no advert received). Timer-first, it would take over and then step down at the
    /// advert already in hand: a master for a moment, with its hooks (a promoted database).
    /// A master's advert timer is serviced first, as before: a flood of packets delays a
    /// backup's timers by at most the packet queue plus [`ARRIVED_PER_SOCKET`] datagrams
    /// per socket, and never a master's adverts.
    async fn on_timer_wake(&mut self, packets: &mut mpsc::Receiver<Packet>) -> bool {
        // One time for the check and the timers: a router that falls due while the
        // packets are handled waits for the next pass, which reads the sockets again.
        let now = self.now();
        let mut kept = true;
        if self.backup_due(now) {
            // The queue first: the socket tasks read those before what waits in the
            // sockets (a task holds no packet it has read outside the queue).
            for _ in 0..PACKET_QUEUE {
                let Ok(packet) = packets.try_recv() else {
                    break;
                };
                kept &= self.on_packet(packet).await;
            }
            for packet in self.arrived() {
                kept &= self.on_packet(packet).await;
            }
        }
        if !kept {
            self.deadlines.mark_stale();
            // `on_timers` reads the index: rebuild it now.
            self.next_deadline();
        }
        self.on_timers(now).await && kept
    }

    /// Whether some backup's Master_Down_Timer is due at `now` (the index is fresh before
    /// each wait). Only then are adverts taken in before the timers.
    fn backup_due(&self, now: Duration) -> bool {
        self.deadlines.due_names(now).any(|name| {
            self.routers
                .get(name)
                .is_some_and(|r| r.machine.state() == State::Backup)
        })
    }

    /// Datagrams waiting in the sockets (at most [`ARRIVED_PER_SOCKET`] from each), read
    /// without waiting.
    fn arrived(&mut self) -> Vec<Packet> {
        let buf = &mut self.receive_buf;
        buf.resize(RECEIVE_BUFFER, 0);
        let mut packets = Vec::new();
        for (key, open) in &self.sockets {
            for _ in 0..ARRIVED_PER_SOCKET {
                let Some(received) = open.socket.try_recv(buf) else {
                    break;
                };
                match packet_of(received, key, open.socket.as_ref(), buf) {
                    Ok(packet) => packets.push(packet),
                    Err(e) => {
                        // The socket's own task logs the failures it meets itself.
                        warn!(interface = %key.interface, "receive error: {e}");
                        break;
                    }
                }
            }
        }
        packets
    }

    /// Run what is due at `now`; true if the deadline index was kept exact (see
    /// `kept_deadline`).
    async fn on_timers(&mut self, now: Duration) -> bool {
        let mut kept = true;
        for name in self.deadlines.due(now) {
            let before = self.routers.get(&name).map(|r| r.machine.state());
            let due = self
                .routers
                .get(&name)
                .and_then(|r| r.machine.next_deadline());
            if due.is_some_and(|d| d <= now) {
                self.deliver(&name, Event::Timeout).await;
            }
            self.send_due_announcements(&name, now).await;
            self.probe_due(&name, now).await;
            if let Some(router) = self.routers.get_mut(&name) {
                let v2 = router.cfg.version == crate::wire::vrrp::Version::V2;
                for alarm in router.peers.expire(now) {
                    peer_alarms::log(&name, v2, &alarm);
                }
            }
            kept = kept && self.kept_deadline(&name, before);
        }
        kept
    }

    /// An advert from a socket; true if the deadline index was kept exact.
    async fn on_packet(&mut self, packet: Packet) -> bool {
        match self.receive(packet).await {
            None => true,
            Some((name, before)) => self.kept_deadline(&name, before),
        }
    }

    /// Check a packet and hand it to its router's state machine. Returns the router it was
    /// for and that router's state before (none if it was dropped before reaching one).
    async fn receive(&mut self, packet: Packet) -> Option<(String, Option<State>)> {
        let (socket, ifindex, received, payload) = match packet {
            Packet::Good {
                socket,
                ifindex,
                received,
                payload,
            } => (socket, ifindex, received, payload),
            Packet::Bad { socket, reason } => {
                self.count_socket_drop(&socket, reason);
                return None;
            }
        };
        let wall = wall_clock();
        let (repr, trailer, mode) = match self.parse_advert(&socket, &received, &payload) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.count_socket_drop(&socket, e.kind());
                debug!(interface = %socket.interface, "dropped a packet from {}: {e}", received.src);
                return None;
            }
        };
        let wire = WireKey {
            ifindex,
            family: socket.family,
            vrid: repr.vrid,
        };
        let Some(name) = self.router_for(wire, &socket.interface) else {
            self.count_socket_drop(&socket, "unknown_vrid");
            return None;
        };
        let now = self.now();
        let router = self.routers.get_mut(&name)?;
        let before = Some(router.machine.state());
        if mode == ChecksumMode::AsV2 && translate::checksum_mode(&router.cfg) == ChecksumMode::Rfc
        {
            // Only valid without the pseudo-header, and this instance uses it.
            router.count_drop("bad_checksum");
            return Some((name, before));
        }
        let verdict = router.check(now, &received, &repr);
        if verdict.is_ok() {
            // keepalived 2.4's auth_hmac, before any field of the advert is trusted.
            let pdu = payload.get(..repr.buffer_len()).unwrap_or(&payload);
            if let Err(drop) = router.check_hmac(wall, received.src, &repr, pdu, trailer.as_ref()) {
                router.count_drop(drop.kind());
                debug!(instance = %name, "dropped an advert from {}: {drop}", received.src);
                return Some((name, before));
            }
        }
        if verdict.as_ref().err().is_none_or(|d| d.is_disagreement()) {
            // From a peer of this virtual router: does it advertise our configuration?
            // (RFC 5798 7.1 / RFC 3768 7.1; the core says what differs, `vrrp::peers`.)
            let differences = router.filter.differences(&repr);
            let ours = router.filter.interval_cs;
            if let Some(alarm) =
                router
                    .peers
                    .observe(now, received.src, differences, ours, repr.interval_cs)
            {
                let v2 = router.cfg.version == crate::wire::vrrp::Version::V2;
                peer_alarms::log(&name, v2, &alarm);
            }
        }
        let advert = match verdict {
            Ok(advert) => advert,
            Err(drop) => {
                router.count_drop(drop.kind());
                debug!(instance = %name, "dropped an advert from {}: {drop}", received.src);
                return Some((name, before));
            }
        };
        if !router.filter.addresses_match(&repr) {
            // Accepted (RFC 5798 7.1: MAY check); the peer alarm above says so.
            router.count_drop("address_list_differs");
        }
        self.deliver(&name, Event::Advert(advert)).await;
        for (member, hold) in self.group_holds(&name) {
            self.deliver(&member, hold).await;
        }
        Some((name, before))
    }

    /// The router a packet that came on `interface` is for.
    fn router_for(&self, wire: WireKey, interface: &str) -> Option<String> {
        let hears = |r: &Router| r.hears(interface, wire.family, wire.vrid);
        if let Some(name) = self.by_wire.get(&wire)
            && self.routers.get(name).map(Box::as_ref).is_some_and(hears)
        {
            return Some(name.clone());
        }
        self.routers
            .iter()
            .find(|(_, r)| hears(r))
            .map(|(n, _)| n.clone())
    }

    /// Rebuild the packet dispatch index from the routers and their sockets.
    fn reindex(&mut self) {
        self.by_wire = self
            .routers
            .iter()
            .filter_map(|(name, r)| {
                let open = self.sockets.get(&r.socket)?;
                let key = WireKey {
                    ifindex: open.socket.ifindex(),
                    family: r.socket.family,
                    vrid: r.cfg.vrid,
                };
                Some((key, name.clone()))
            })
            .collect();
    }

    /// Decode an advert: with the RFC checksum, or, when an instance on this interface and
    /// family uses `v3_checksum_as_v2` (which accepts both, as keepalived does), without
    /// the pseudo-header.
    fn parse_advert(
        &self,
        socket: &SocketKey,
        received: &crate::net::Received,
        payload: &[u8],
    ) -> Result<(Repr, Option<Trailer>, ChecksumMode), crate::wire::DecodeError> {
        match Repr::parse_signed(payload, received.src, received.dst, ChecksumMode::Rfc) {
            Ok((repr, trailer)) => Ok((repr, trailer, ChecksumMode::Rfc)),
            Err(e @ crate::wire::DecodeError::BadChecksum { .. }) => {
                let as_v2 = self.routers.values().any(|r| {
                    r.socket.interface == socket.interface
                        && r.socket.family == socket.family
                        && r.cfg.v3_checksum_as_v2
                });
                if !as_v2 {
                    return Err(e);
                }
                Repr::parse_signed(payload, received.src, received.dst, ChecksumMode::AsV2)
                    .map(|(repr, trailer)| (repr, trailer, ChecksumMode::AsV2))
            }
            Err(e) => Err(e),
        }
    }

    fn count_socket_drop(&mut self, socket: &SocketKey, reason: &'static str) {
        *self
            .socket_drops
            .entry((socket.clone(), reason))
            .or_default() += 1;
    }

    async fn on_net_event(&mut self, event: NetEvent) {
        match event {
            NetEvent::LinkChanged { index, name, up } => {
                self.on_link(index, &name, up).await;
                if !up {
                    self.check_vmac_gone(&name).await;
                }
            }
            NetEvent::AddressRemoved {
                index,
                addr,
                prefix_len,
            } => self.on_address_removed(index, addr, prefix_len).await,
            NetEvent::AddressAdded { .. } => self.retry_refused().await,
            NetEvent::RouteRemoved {
                table,
                dst,
                dst_len,
                metric,
                protocol,
            } => {
                self.on_route_removed(table, dst, dst_len, metric, protocol)
                    .await;
            }
            NetEvent::RuleRemoved {
                ipv6,
                table,
                priority,
                from,
                to,
            } => self.on_rule_removed(ipv6, table, priority, from, to).await,
            NetEvent::Overrun => {
                self.resync_links().await;
                self.resync_routes().await;
            }
        }
    }

    /// A link called `name` went down or away: if it was a VMAC of an instance (its own, or
    /// one of `use_vmac_addr` / `use_vmac` on an address line) and it is gone
    /// (deleted by hand), the instance goes to FAULT for good: its VIPs cannot be held with
    /// the virtual MAC, and its socket was bound to the deleted link. A restart makes it
    /// again (keepalived makes it again at once; baton does not rebuild an instance's
    /// sockets under it).
    async fn check_vmac_gone(&mut self, name: &str) {
        let watched: Vec<(String, vmac::VmacLink)> = self
            .routers
            .iter()
            .filter(|(_, r)| r.vmac_lost.is_none())
            .flat_map(|(n, r)| {
                r.vmac
                    .iter()
                    .chain(&r.address_vmacs)
                    .filter(|v| v.name == name)
                    .map(|v| (n.clone(), v.clone()))
            })
            .collect();
        if watched.is_empty() {
            return;
        }
        let now = match self.netlink.link_kind(name).await {
            Ok(k) => k,
            Err(e) => {
                warn!("VMAC {name}: cannot read it: {e}");
                return;
            }
        };
        let mut lost = false;
        for (instance, link) in watched {
            if now.as_ref().is_some_and(|k| k.index == link.index) {
                continue;
            }
            error!(instance = %instance, "VMAC {name} was deleted: FAULT until baton is restarted");
            if let Some(r) = self.routers.get_mut(&instance) {
                r.vmac_lost = Some(name.to_string());
                lost = true;
            }
        }
        if lost {
            self.apply_tracking().await;
        }
    }

    /// The kernel dropped notifications: read every instance's link state again.
    async fn resync_links(&mut self) {
        warn!("netlink notifications were lost; re-reading link states");
        let links: Vec<(u32, String)> = self
            .routers
            .values()
            .map(|r| (r.ifindex, r.cfg.interface.clone()))
            .collect();
        for (index, interface) in links {
            let up = self.link_up(&interface).await;
            self.on_link(index, &interface, up).await;
        }
    }

    /// A link went down or came up: the instances on it, or tracking it, go to or leave
    /// FAULT, or change priority.
    async fn on_link(&mut self, _index: u32, interface: &str, up: bool) {
        let before = self.trackers.links.insert(interface.to_string(), up);
        if before == Some(up) {
            return;
        }
        if up {
            info!("link {interface} is up");
        } else {
            warn!("link {interface} is down");
        }
        self.apply_tracking().await;
        if up {
            self.retry_refused().await;
        }
    }

    /// Someone removed a VIP (or an excluded address) while we are master: put it back,
    /// unless its line says `no_track`.
    async fn on_address_removed(&mut self, index: u32, addr: IpAddr, prefix_len: u8) {
        let mut restore = Vec::new();
        for (name, router) in &self.routers {
            if router.machine.state() != State::Master {
                continue;
            }
            for placed in &router.vips {
                // `no_track`: back at the next transition to MASTER, as in keepalived.
                if placed.ifindex == index
                    && placed.vip.addr == addr
                    && placed.vip.prefix_len == prefix_len
                    && !placed.vip.flags.no_track
                {
                    restore.push((name.clone(), placed.clone()));
                }
            }
        }
        let mut restored: Vec<String> = restore.iter().map(|(n, _)| n.clone()).collect();
        restored.dedup();
        for (name, placed) in restore {
            warn!(instance = %name, "{} was removed from {} while MASTER; putting it back", placed.vip, placed.interface);
            let address = netlink_address(&placed.vip, &placed.interface);
            if let Err(e) = self.netlink.add_address(placed.ifindex, &address).await {
                error!(instance = %name, "cannot put back {}: {e}", placed.vip);
            }
        }
        // IPv4 routes that used the address (as source or through its prefix) went with it,
        // without a notification of their own.
        for name in restored {
            self.reinstall_tracked(&name).await;
        }
    }

    /// SIGHUP (`reply` None) or `baton reconfigure`: read, parse and validate the file on a
    /// blocking thread; [`Daemon::config_parsed`] applies the result on the loop. While a
    /// parse is running, further requests are coalesced into one more parse after it.
    fn request_reload(
        &mut self,
        reply: Option<tokio::sync::oneshot::Sender<crate::control::protocol::Reply>>,
    ) {
        if self.reloads.parsing {
            info!("reload: the configuration is being read already; one more reload follows");
            self.reloads.queued = true;
            self.reloads.next.extend(reply);
            return;
        }
        self.reloads.current.extend(reply);
        self.start_parse();
    }

    fn start_parse(&mut self) {
        self.reloads.parsing = true;
        let options = self.options.clone();
        let events = self.event_tx.clone();
        tokio::task::spawn_local(async move {
            let parsed = tokio::task::spawn_blocking(move || load_model(&options))
                .await
                .map_err(|e| format!("the configuration reader failed: {e}"))
                .and_then(|r| r.map_err(|e| e.to_string()));
            let _ = events.send(Internal::ConfigParsed(Box::new(parsed)));
        });
    }

    /// A reload's parse finished: apply it (or report why not) to its clients, and start
    /// the queued one, if any.
    pub(super) async fn config_parsed(&mut self, parsed: Result<Model, String>) {
        self.reloads.parsing = false;
        let waiting = std::mem::take(&mut self.reloads.current);
        let outcome = self.reload(parsed).await;
        for reply in waiting {
            let answer = match &outcome {
                Ok(summary) => {
                    crate::control::protocol::Reply::ok(serde_json::json!({ "summary": summary }))
                }
                Err(e) => crate::control::protocol::Reply::error(e.clone()),
            };
            let _ = reply.send(answer);
        }
        if std::mem::take(&mut self.reloads.queued) {
            self.reloads.current = std::mem::take(&mut self.reloads.next);
            self.start_parse();
        }
    }

    /// Apply what changed in the configuration; an invalid one changes nothing. Returns a
    /// one-line summary, or why it was refused.
    async fn reload(&mut self, parsed: Result<Model, String>) -> Result<String, String> {
        let new = match parsed {
            Ok(model) => model,
            Err(e) => {
                error!("reload refused, the running configuration stays: {e}");
                return Err(format!(
                    "reload refused, the running configuration stays: {e}"
                ));
            }
        };
        if new.instances.is_empty() && !self.model.instances.is_empty() {
            // An empty or truncated file (a full disk, an editor crash) would release every
            // virtual address at once: a node leaves the group by stopping, not by reload.
            let e = "the new configuration has no vrrp_instance, so this reload would release \
                     every virtual address; is the file empty or cut short? To leave the \
                     group, stop the service instead";
            error!("reload refused, the running configuration stays: {e}");
            return Err(format!(
                "reload refused, the running configuration stays: {e}"
            ));
        }
        let metrics_failed = self.reload_metrics(new.global.metrics_listen).await;
        self.reload_operations(&new).await;
        let diff = Model::diff(&self.model, &new);
        let mut failed: Vec<(String, String)> = Vec::new();
        let old_witness = self.model.witness.clone();
        let witness_failed = match self.reload_witness(&new).await {
            // Instances built from here on (added or restarted) use the new witness.
            Ok(()) => {
                self.model.witness = new.witness.clone();
                None
            }
            Err(e) => Some(e),
        };
        if diff.is_empty() {
            info!("reload: configuration unchanged");
            self.model = new;
            self.forget_removed_groups();
            self.apply_tracking().await;
            return Ok("configuration unchanged".into());
        }
        info!(
            added = diff.added.len(),
            removed = diff.removed.len(),
            changed = diff.changed.len(),
            unchanged = diff.unchanged.len(),
            "reload"
        );
        self.vip_generation += 1;
        // Every instance that goes stops before any is dropped: a sync group whose members
        // all go (removed, or restarted) sees each of them STOP and runs its own STOP
        // hooks, as the daemon's stop does (`notify_group` needs every member present).
        for name in &diff.removed {
            self.deliver(name, Event::Shutdown).await;
        }
        for name in &diff.removed {
            self.stop_router(name).await;
        }
        for (name, changes) in &diff.changed {
            if let Some(cfg) = new.instance(name)
                && let Err(e) = self.reconfigure(name, cfg, changes).await
            {
                failed.push((name.clone(), e));
            }
        }
        for name in &diff.added {
            if let Some(cfg) = new.instance(name)
                && let Err(e) = self.add_router(cfg).await
            {
                failed.push((name.clone(), e));
            }
        }
        self.close_unused_sockets();
        self.reindex();
        self.model = new;
        self.forget_removed_groups();
        self.firewall.apply(&self.model, false).await;
        self.apply_probe_interval();
        self.route_events_wanted = routes::wanted(&self.model);
        self.model_as_running(&failed);
        if let Some(e) = metrics_failed {
            failed.push(("metrics_listen".into(), e));
        }
        if let Some(e) = witness_failed {
            // Kept as it runs, so the next reload of the same file tries it again.
            self.model.witness = old_witness;
            failed.push(("witness".into(), e));
        }
        self.apply_tracking().await;
        let summary = format!(
            "{} added, {} removed, {} changed, {} unchanged",
            diff.added.len(),
            diff.removed.len(),
            diff.changed.len(),
            diff.unchanged.len()
        );
        if failed.is_empty() {
            return Ok(summary);
        }
        let failures: Vec<String> = failed.iter().map(|(n, e)| format!("{n}: {e}")).collect();
        Err(format!(
            "reload applied in part ({summary}); not applied: {}",
            failures.join("; ")
        ))
    }

    /// After a reload, the model says what runs: an instance that could not be started is
    /// left out and one kept as it was keeps its old settings, so the next reload of the
    /// same file tries them again instead of finding them unchanged.
    fn model_as_running(&mut self, failed: &[(String, String)]) {
        for (name, _) in failed {
            let running = self.routers.get(name).map(|r| r.cfg.clone());
            match running {
                Some(cfg) => {
                    if let Some(slot) = self.model.instances.iter_mut().find(|i| i.name == *name) {
                        *slot = cfg;
                    }
                }
                None => self.model.instances.retain(|i| i.name != *name),
            }
        }
    }

    async fn stop_router(&mut self, name: &str) {
        self.deliver(name, Event::Shutdown).await;
        self.forget_witness(name);
        let links: Vec<vmac::VmacLink> = self
            .routers
            .get(name)
            .map(|r| r.vmac.iter().chain(&r.address_vmacs).cloned().collect())
            .unwrap_or_default();
        for link in &links {
            vmac::remove(&*self.netlink, &mut self.vmac_bases, link).await;
        }
        // Its verdict, damping, hook results and counters go with it.
        self.routers.remove(name);
        if !links.is_empty() {
            // A socket bound to a deleted VMAC is dead: a restarted instance whose VMAC
            // keeps its name (made again by `build_router`) must open a new one.
            self.close_unused_sockets();
        }
        self.reindex();
        info!(instance = name, "removed");
    }

    async fn add_router(&mut self, cfg: &config::Instance) -> Result<(), String> {
        match self.build_router(cfg).await {
            Ok(router) => {
                self.remove_leftovers(&router).await;
                self.routers.insert(cfg.name.clone(), Box::new(router));
                self.reindex();
                self.follow_witness(&cfg.name);
                self.start_router(&cfg.name).await;
                info!(instance = %cfg.name, "added");
                Ok(())
            }
            Err(e) => {
                error!("reload: cannot start {}: {e}", cfg.name);
                Err(format!("cannot start it: {e}"))
            }
        }
    }

    /// Apply changes in place where the wire identity allows; otherwise restart the instance.
    async fn reconfigure(
        &mut self,
        name: &str,
        cfg: &config::Instance,
        changes: &[Change],
    ) -> Result<(), String> {
        let Some(router) = self.routers.get(name) else {
            return Ok(());
        };
        // Multicast to unicast (or back), or another multicast group: applied in place like
        // any other change, and for router::MIGRATION_WINDOW the old way is kept as well, so
        // that the other nodes, still on it until they are reloaded, go on hearing this one.
        let moved = (!transport_kept(&router.cfg, cfg)).then(|| {
            (
                router.cfg.clone(),
                router.filter.clone(),
                router.socket.clone(),
            )
        });
        let is_master = router.machine.state() == State::Master;
        let removed: Vec<PlacedVip> = changes
            .iter()
            .filter_map(|c| match c {
                Change::VipsRemoved(v) | Change::ExcludedVipsRemoved(v) => Some(v),
                _ => None,
            })
            .flatten()
            .filter_map(|v| router.vips.iter().find(|p| p.vip.addr == v.addr).cloned())
            .collect();
        let rebuilt = match self.build_router(cfg).await {
            Ok(r) => r,
            Err(e) => {
                error!("reload: cannot apply the new {name}, keeping the old one: {e}");
                return Err(format!("kept as it was: {e}"));
            }
        };
        let now = self.now();
        let Some(router) = self.routers.get_mut(name) else {
            return Ok(());
        };
        // New unicast peers or a new source address apply in place: the socket of the
        // rebuilt router (opened by `build_router`) is used from the next advert on.
        let source = rebuilt.socket.source;
        let rule = router.machine.config().witness;
        let actions = router
            .machine
            .reconfigure(now, translate::machine_config(cfg, source, rule));
        router.socket = rebuilt.socket;
        router.ifindex = rebuilt.ifindex;
        router.filter = rebuilt.filter;
        router.vips = rebuilt.vips;
        router.vmac = rebuilt.vmac;
        router.address_vmacs = rebuilt.address_vmacs;
        // auth_hmac: new keys or mode, the same send sequence and replay memory.
        match (router.hmac.as_mut(), rebuilt.hmac) {
            (Some(hmac), Some(new)) => hmac.reconfigure(new.config().clone()),
            (_, new) => router.hmac = new,
        }
        router.cfg = cfg.clone();
        if let Some((old, old_filter, old_socket)) = moved {
            info!(
                instance = name,
                "reload: moving from {} to {}; adverts go both ways, and are heard both ways, for {} s",
                router::way(&old),
                router::way(cfg),
                router::MIGRATION_WINDOW.as_secs()
            );
            router.migration = Some(Box::new(router::Migration {
                old,
                old_filter,
                old_socket,
                until: now + router::MIGRATION_WINDOW,
            }));
        }
        info!(instance = name, "reload: updated in place ({changes:?})");
        self.carry_out(name, actions).await;
        if is_master {
            for placed in removed {
                if let Err(e) = self
                    .netlink
                    .del_address(placed.ifindex, placed.vip.addr, placed.vip.prefix_len)
                    .await
                {
                    error!(instance = name, "cannot remove {}: {e}", placed.vip);
                }
            }
            self.add_addresses(name).await;
            self.start_announcing(name, Burst::Master).await;
            self.reload_routes(name, changes).await;
        }
        if let Some(router) = self.routers.get_mut(name) {
            let keys: Vec<String> = routes::keys(&router.cfg);
            router.route_errors.retain(|k, _| keys.contains(k));
        }
        Ok(())
    }

    /// Graceful stop: every instance sends priority 0 (if master) and removes its VIPs;
    /// then the STOP hooks (and any still queued) run to the end, each within its timeout.
    async fn stop(&mut self) {
        self.stopping = true;
        self.trackers.stop();
        let names: Vec<String> = self.routers.keys().cloned().collect();
        for name in names {
            self.deliver(&name, Event::Shutdown).await;
        }
        for open in self.sockets.values() {
            open.task.abort();
        }
        // The VMACs go once their VIPs are off and the priority-0 adverts are out.
        let links: Vec<vmac::VmacLink> = self
            .routers
            .values()
            .flat_map(|r| r.vmac.iter().chain(&r.address_vmacs).cloned())
            .collect();
        for link in &links {
            vmac::remove(&*self.netlink, &mut self.vmac_bases, link).await;
        }
        // Leases given up only now, with every address removed.
        self.stop_witness();
        self.firewall.remove().await;
        if !self.hooks.is_empty() {
            info!(
                "stopping: VIPs released; waiting for the hooks still queued, the STOP hooks last (each killed after notify_timeout, {:.0}s)",
                self.hook_settings.timeout.as_secs_f64()
            );
        }
        self.hooks.drain().await;
        self.fifos.close().await;
    }
}

/// Time since the system booted (`/proc/uptime`), if it can be read.
fn system_uptime() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// Whether a reload from `old` to `new` keeps how adverts travel: unicast before and after
/// (peers and source may change), or the same multicast group (the source may change).
fn transport_kept(old: &config::Instance, new: &config::Instance) -> bool {
    match (old.is_unicast(), new.is_unicast()) {
        (true, true) => true,
        (false, false) => translate::multicast_group(old) == translate::multicast_group(new),
        _ => false,
    }
}

/// The next tick of `interval`, or never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Read packets from one socket and hand them to the event loop.
async fn receive_loop(socket: Rc<dyn VrrpPort>, key: SocketKey, packets: mpsc::Sender<Packet>) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    let mut failures = 0u64;
    loop {
        // A place in the queue first, then the datagram: a packet read from the socket is
        // in the queue at once, never held here while newer ones wait in the socket (the
        // loop reads those itself before a backup's timer, after the queue).
        let Ok(place) = packets.reserve().await else {
            return;
        };
        let received = socket.recv(&mut buf).await;
        let packet = match packet_of(received, &key, socket.as_ref(), &buf) {
            Ok(packet) => packet,
            Err(e) => {
                failures += 1;
                // Log the first few and then every hundredth, and pause, so a failing
                // socket can neither fill the log nor spin the CPU.
                if failures <= 10 || failures.is_multiple_of(100) {
                    warn!(interface = %key.interface, count = failures, "receive error: {e}");
                }
                drop(place);
                tokio::time::sleep(RECEIVE_RETRY).await;
                continue;
            }
        };
        place.send(packet);
    }
}

/// Large enough for any datagram a raw socket can give.
const RECEIVE_BUFFER: usize = 65_536;

/// What a receive on `socket` gave, as a [`Packet`] for the loop; `Err` for a failure of
/// the socket rather than of one datagram.
fn packet_of(
    received: Result<Received, crate::net::NetError>,
    key: &SocketKey,
    socket: &dyn VrrpPort,
    buf: &[u8],
) -> Result<Packet, crate::net::NetError> {
    match received {
        Ok(received) => Ok(Packet::Good {
            socket: key.clone(),
            ifindex: socket.ifindex(),
            received,
            payload: buf.get(..received.len).unwrap_or_default().to_vec(),
        }),
        Err(e) => match e.drop_reason() {
            Some(reason) => Ok(Packet::Bad {
                socket: key.clone(),
                reason,
            }),
            None => Err(e),
        },
    }
}

/// At most this many datagrams are read from each socket before a timer is serviced.
const ARRIVED_PER_SOCKET: usize = 64;

/// Pause after a socket failure before receiving again.
const RECEIVE_RETRY: Duration = Duration::from_millis(100);

/// The address adverts are sent from: configured, else the interface's first IPv4 address
/// (IPv4) or its link-local address (IPv6).
fn source_address(cfg: &config::Instance, info: &netlink::InterfaceInfo) -> Option<IpAddr> {
    if let Some(src) = cfg.unicast_src_ip.or(cfg.mcast_src_ip) {
        return Some(src);
    }
    let vips: Vec<IpAddr> = cfg.vips.iter().map(|v| v.addr).collect();
    match cfg.family {
        // Never from a VIP, not even the address owner's: a backup that took the VIP over
        // holds that address, and Linux drops packets from its own addresses (a martian
        // source) before any socket sees them, so it would never hear the owner come back
        // and both would be master for good. An owner whose only address is its VIP does
        // not start (set another address, or unicast_src_ip, knowingly).
        config::Family::IPv4 => info
            .ipv4
            .iter()
            .map(|(a, _)| IpAddr::V4(*a))
            .find(|a| !vips.contains(a)),
        config::Family::IPv6 => info.ipv6_link_local.map(IpAddr::V6),
    }
}

/// Our own addresses on the interface: packets from them are our own. The instance's VIPs
/// are not, unless one is the source (the address owner's): one there now is a leftover
/// (a crash as master), and the address owner may send from it (`source_address`).
fn own_addresses(
    cfg: &config::Instance,
    info: &netlink::InterfaceInfo,
    source: IpAddr,
) -> Vec<IpAddr> {
    let vips: Vec<IpAddr> = cfg
        .vips
        .iter()
        .chain(&cfg.excluded_vips)
        .map(|v| v.addr)
        .collect();
    let mut own: Vec<IpAddr> = info
        .ipv4
        .iter()
        .map(|(a, _)| IpAddr::V4(*a))
        .filter(|a| !vips.contains(a))
        .collect();
    own.extend(info.ipv6_link_local.map(IpAddr::V6));
    if !own.contains(&source) {
        own.push(source);
    }
    own
}

fn netlink_address(vip: &config::VirtualAddress, interface: &str) -> netlink::VirtualAddress {
    netlink::VirtualAddress {
        addr: vip.addr,
        prefix_len: vip.prefix_len,
        label: vip.label.clone().map(|l| {
            if l.starts_with(interface) {
                l
            } else {
                format!("{interface}:{l}")
            }
        }),
        scope: vip.scope.map(scope_number),
        broadcast: match vip.brd {
            Some(config::Broadcast::Addr(a)) => Some(a),
            _ => None,
        },
        peer: vip.peer,
        // IPv6 VIPs are usable at once, as with keepalived.
        nodad: vip.flags.nodad || vip.addr.is_ipv6(),
        noprefixroute: vip.flags.noprefixroute,
        preferred_lft: preferred_lifetime(vip),
    }
}

/// keepalived's `preferred_lft`: as configured; by default 0 (deprecated, never chosen as
/// the source of new connections) for an IPv6 /128, forever otherwise.
fn preferred_lifetime(vip: &config::VirtualAddress) -> Option<u32> {
    match vip.preferred_lft {
        Some(config::PreferredLifetime::Seconds(s)) => Some(s),
        Some(config::PreferredLifetime::Forever) => None,
        None => (vip.addr.is_ipv6() && vip.prefix_len == 128).then_some(0),
    }
}

/// RT_SCOPE_* values of rtnetlink.
fn scope_number(scope: config::Scope) -> u8 {
    match scope {
        config::Scope::Global => 0,
        config::Scope::Site => 200,
        config::Scope::Link => 253,
        config::Scope::Host => 254,
        config::Scope::Nowhere => 255,
    }
}

/// Logs what [`send_errors::SendErrors`] decided about one advert send.
fn log_send_report(name: &str, report: send_errors::Report, errors: &send_errors::SendErrors) {
    use send_errors::Report;
    let error = errors.failing().map_or("", |(_, e)| e);
    match report {
        Report::Quiet => {}
        Report::Failing => warn!(
            instance = name,
            "cannot send an advert: {error} (repeats are logged every {}s)",
            send_errors::EVERY.as_secs()
        ),
        Report::StillFailing { failed } => warn!(
            instance = name,
            "still cannot send adverts: {failed} more failed, the latest: {error}"
        ),
        Report::Recovered { failed } => info!(
            instance = name,
            "adverts are sent again, after {failed} failed"
        ),
    }
}

fn shown(address: Option<std::net::SocketAddr>) -> String {
    address.map_or_else(|| "off".to_string(), |a| a.to_string())
}

/// The running `/metrics` and `/status` listener.
struct Metrics {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Metrics {
    /// Bind `address` and serve it; `None` (logged) when it cannot be bound.
    async fn start(
        address: std::net::SocketAddr,
        requests: &mpsc::Sender<crate::control::server::ControlRequest>,
    ) -> Option<Metrics> {
        let listener = crate::control::metrics::bind(address).await?;
        let task =
            tokio::task::spawn_local(crate::control::metrics::serve(listener, requests.clone()));
        Some(Metrics { address, task })
    }

    /// Stop accepting (scrapes in progress finish on their own, bounded); returns once the
    /// listening socket is closed, so that its address can be bound again.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

impl Daemon {
    /// A reload's `metrics_listen`: the listener moved, started or stopped without a
    /// restart (a restart would move the VIPs). When the new address cannot be bound, the
    /// old one is served again and the reload reports why.
    async fn reload_metrics(&mut self, wanted: Option<std::net::SocketAddr>) -> Option<String> {
        let running = self.metrics.as_ref().map(|m| m.address);
        if wanted == running {
            return None;
        }
        // The old one first: the new address may be the same port on another address
        // that overlaps it (0.0.0.0).
        if let Some(old) = self.metrics.take() {
            info!("metrics: no longer serving http://{}/", old.address);
            old.stop().await;
        }
        let address = wanted?;
        self.metrics = Metrics::start(address, &self.metrics_requests).await;
        if self.metrics.is_some() {
            return None;
        }
        if let Some(old) = running {
            self.metrics = Metrics::start(old, &self.metrics_requests).await;
        }
        Some(format!(
            "cannot listen on {address}; still serving {}",
            shown(self.metrics.as_ref().map(|m| m.address))
        ))
    }
}

/// The wall-clock time for `auth_hmac` (its sequence and time window are UTC seconds).
fn wall_clock() -> crate::vrrp::auth_hmac::WallClock {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::vrrp::auth_hmac::WallClock {
        unix_secs: since.as_secs(),
        nanos: since.subsec_nanos(),
    }
}

/// The gratuitous ARP or unsolicited NA that announces `placed` on its interface.
fn announce_frame(placed: &PlacedVip) -> Vec<u8> {
    match placed.vip.addr {
        IpAddr::V4(ip) => arp::gratuitous_arp(placed.mac, ip),
        // Like keepalived: the NA comes from the address it announces, with the router
        // flag when the interface forwards IPv6.
        IpAddr::V6(ip) => ndp::unsolicited_na(placed.mac, ip, ip, placed.forwards_ipv6),
    }
}

#[cfg(test)]
mod receive_tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::net::{IpAddr, Ipv4Addr};
    use std::rc::Rc;
    use std::task::Poll;

    use futures::future::LocalBoxFuture;
    use tokio::sync::mpsc;

    use super::{FamilyKey, Packet, SocketKey, VrrpPort, receive_loop};
    use crate::net::{NetError, Received};

    /// A socket holding datagrams of one byte each (their number).
    struct Held(RefCell<VecDeque<u8>>);

    impl VrrpPort for Held {
        fn join(&self, _: IpAddr) -> Result<(), NetError> {
            Ok(())
        }
        fn send<'a>(
            &'a self,
            _: &'a [u8],
            _: IpAddr,
            _: u8,
        ) -> LocalBoxFuture<'a, Result<(), NetError>> {
            Box::pin(async { Ok(()) })
        }
        fn recv<'a>(&'a self, buf: &'a mut [u8]) -> LocalBoxFuture<'a, Result<Received, NetError>> {
            // Pending for good once empty (nothing arrives later in this test).
            Box::pin(std::future::poll_fn(move |_| match self.try_recv(buf) {
                Some(received) => Poll::Ready(received),
                None => Poll::Pending,
            }))
        }
        fn try_recv(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>> {
            let number = self.0.borrow_mut().pop_front()?;
            buf[0] = number;
            let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
            let dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
            Some(Ok(Received {
                src,
                dst,
                ttl: 255,
                tos: 0,
                len: 1,
            }))
        }
        fn ifindex(&self) -> u32 {
            1
        }
    }

    /// Before a due backup's timer the loop reads the queue, then the socket: the receive
    /// task must never hold a datagram outside the queue (reading one, then waiting for a
    /// place), or the loop's own read of the next one would overtake it.
    #[test]
    fn the_loop_reading_the_queue_then_the_socket_gets_datagrams_in_arrival_order() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        let order = local.block_on(&runtime, async {
            let socket = Rc::new(Held(RefCell::new((1..=3).collect())));
            let (tx, mut rx) = mpsc::channel(1);
            let key = SocketKey {
                interface: "eth0".into(),
                family: FamilyKey::V4,
                source: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            };
            let task = tokio::task::spawn_local(receive_loop(socket.clone(), key, tx));
            // The task fills the queue (one place) and waits.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            let mut order = Vec::new();
            while let Ok(packet) = rx.try_recv() {
                if let Packet::Good { payload, .. } = packet {
                    order.extend(payload);
                }
            }
            let mut buf = [0u8; 16];
            while let Some(Ok(_)) = socket.try_recv(&mut buf) {
                order.push(buf[0]);
            }
            task.abort();
            order
        });
        assert_eq!(order, [1, 2, 3]);
    }
}
