//! The I/O of the VIP probe (`probe.rs`): ARP probes sent on the announce sockets, a
//! packet socket per interface that hears ARP frames while an instance there is MASTER,
//! and what a foreign answer does (alarm, a fresh gratuitous ARP burst).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::probe::{self, Heard};
use super::{Daemon, Internal};
use crate::net::ArpListener;
use crate::wire::arp::{self, ArpFrame};

/// Foreign frames passed to the protocol loop per listener and second, at most: forged
/// ARP frames from ever new MACs cannot flood it.
const FORWARD_PER_SECOND: u32 = 20;

/// The VIPs watched on one interface, with this node's MAC there.
type Watched = Rc<RefCell<Vec<(Ipv4Addr, [u8; 6])>>>;

/// A listener on one interface and the VIPs it watches.
pub(super) struct ArpWatch {
    task: JoinHandle<()>,
    watched: Watched,
}

impl Drop for ArpWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Daemon {
    /// Open a listener on each interface with a VIP of a probing (MASTER) instance, close
    /// the others, and tell each which VIPs to watch.
    pub(super) fn refresh_arp_watch(&mut self) {
        let mut wanted: HashMap<String, Vec<(Ipv4Addr, [u8; 6])>> = HashMap::new();
        for router in self.routers.values().filter(|r| r.probe.active()) {
            for placed in &router.vips {
                if let IpAddr::V4(ip) = placed.vip.addr {
                    wanted
                        .entry(placed.interface.clone())
                        .or_default()
                        .push((ip, placed.mac));
                }
            }
        }
        self.arp_watches
            .retain(|interface, _| wanted.contains_key(interface));
        for (interface, vips) in wanted {
            if let Some(watch) = self.arp_watches.get(&interface) {
                *watch.watched.borrow_mut() = vips;
                continue;
            }
            match ArpListener::open(&interface) {
                Ok(listener) => {
                    let watched: Watched = Rc::new(RefCell::new(vips));
                    let task = tokio::task::spawn_local(listen(
                        listener,
                        watched.clone(),
                        self.event_tx.clone(),
                    ));
                    self.arp_watches
                        .insert(interface, ArpWatch { task, watched });
                }
                Err(e) => warn!("cannot watch ARP on {interface} for VIP conflicts: {e}"),
            }
        }
    }

    /// The probe of instance `name` is due: send it, and log the conflicts a quiet round
    /// cleared.
    pub(super) async fn probe_due(&mut self, name: &str, now: Duration) {
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        let due = router.probe.take_due(now);
        for c in due.cleared {
            info!(
                instance = name,
                "VIP {} no longer answered by {}; conflict cleared",
                c.vip,
                probe::mac_string(c.mac)
            );
        }
        if !due.probe {
            return;
        }
        let frames: Vec<(String, Vec<u8>)> = router
            .vips
            .iter()
            .filter_map(|placed| match placed.vip.addr {
                IpAddr::V4(ip) => Some((placed.interface.clone(), arp::probe(placed.mac, ip))),
                IpAddr::V6(_) => None,
            })
            .collect();
        if frames.is_empty() {
            return;
        }
        self.refresh_arp_watch();
        for (interface, frame) in frames {
            let Some(socket) = self.announcers.get(&interface) else {
                continue;
            };
            if let Err(e) = socket.send_frame(&frame).await {
                debug!(instance = name, "cannot probe on {interface}: {e}");
            }
        }
    }

    /// On a transition of `name`: probe while MASTER, stop (clearing its conflicts) when it
    /// leaves.
    pub(super) fn probe_transition(&mut self, name: &str, now: Duration, master: bool) {
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        if master {
            let every = Duration::from_secs(u64::from(self.model.global.vip_probe_interval_s));
            router.probe.start(now, every);
        } else if router.probe.active() {
            for c in router.probe.stop() {
                info!(
                    instance = name,
                    "VIP {} conflict with {} cleared: no longer master",
                    c.vip,
                    probe::mac_string(c.mac)
                );
            }
        }
        self.refresh_arp_watch();
    }

    /// A reload may change `vip_probe_interval`: masters probe at the new one from now on
    /// (or stop, at 0).
    pub(super) fn apply_probe_interval(&mut self) {
        let now = self.now();
        let every = Duration::from_secs(u64::from(self.model.global.vip_probe_interval_s));
        let masters: Vec<String> = self
            .routers
            .iter()
            .filter(|(_, r)| {
                r.machine.state() == crate::vrrp::State::Master && r.probe.interval() != every
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in masters {
            self.probe_transition(&name, now, false);
            self.probe_transition(&name, now, true);
        }
    }

    /// An ARP frame on `interface` says `mac` has `vip`.
    pub(super) async fn on_arp_heard(&mut self, interface: &str, vip: Ipv4Addr, mac: [u8; 6]) {
        let now = self.now();
        let names: Vec<String> = self
            .routers
            .iter()
            .filter(|(_, r)| {
                r.probe.active()
                    && r.vips.iter().any(|p| {
                        p.interface == interface && p.vip.addr == IpAddr::V4(vip) && p.mac != mac
                    })
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(router) = self.routers.get_mut(&name) else {
                continue;
            };
            match router.probe.heard(now, IpAddr::V4(vip), mac) {
                Heard::Raised => {
                    warn!(
                        instance = %name,
                        "VIP {vip} is answered by {} on {interface}, not by this master: \
                         another host holds it; announcing the VIPs again",
                        probe::mac_string(mac)
                    );
                    self.start_announcing(&name).await;
                }
                Heard::Again => {
                    debug!(
                        instance = %name,
                        "VIP {vip} still answered by {}; announcing again",
                        probe::mac_string(mac)
                    );
                    self.start_announcing(&name).await;
                }
                Heard::Nothing => {}
            }
        }
    }
}

/// Read ARP frames; pass the answers to a probe (RFC 5227: a reply to this node's MAC
/// for target address 0.0.0.0) that give a watched VIP another MAC. A gratuitous ARP of
/// another node is no answer: a master that just yielded sends them for a moment, and is
/// no conflict once it has let go of the address.
async fn listen(listener: ArpListener, watched: Watched, events: mpsc::UnboundedSender<Internal>) {
    let mut buf = vec![0u8; 2048];
    let mut window = tokio::time::Instant::now();
    let mut forwarded = 0u32;
    let mut failures = 0u64;
    loop {
        let len = match listener.recv(&mut buf).await {
            Ok(len) => len,
            Err(e) => {
                failures += 1;
                if failures <= 10 || failures.is_multiple_of(100) {
                    warn!(interface = listener.interface(), "ARP receive error: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(frame) = ArpFrame::parse(buf.get(..len).unwrap_or_default()) else {
            continue;
        };
        let answer = frame.operation == 2 && frame.target_ip == Ipv4Addr::UNSPECIFIED;
        let foreign = answer
            && watched.borrow().iter().any(|&(ip, mac)| {
                frame.sender_ip == ip && frame.sender_mac != mac && frame.target_mac == mac
            });
        if !foreign {
            continue;
        }
        if window.elapsed() >= Duration::from_secs(1) {
            window = tokio::time::Instant::now();
            forwarded = 0;
        }
        if forwarded >= FORWARD_PER_SECOND {
            continue;
        }
        forwarded += 1;
        let heard = Internal::ArpHeard {
            interface: listener.interface().to_string(),
            vip: frame.sender_ip,
            mac: frame.sender_mac,
        };
        if events.send(heard).is_err() {
            return;
        }
    }
}
