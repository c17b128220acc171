//! The I/O of the VIP probe (`probe.rs`): ARP probes and DAD neighbour solicitations sent
//! on the announce sockets, a packet socket per interface and family that hears the
//! answers (ARP, neighbour advertisements) while an instance there is MASTER, and what a
//! foreign answer does (alarm, a fresh gratuitous ARP / unsolicited NA burst).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::host::NeighbourPort;
use super::probe::{self, Heard};
use super::{Daemon, Internal};
use crate::wire::arp::{self, ArpFrame};
use crate::wire::ndp::{self, NaFrame};

/// Foreign frames passed to the protocol loop per listener and second, at most: forged
/// ARP frames from ever new MACs cannot flood it.
const FORWARD_PER_SECOND: u32 = 20;

/// The VIPs watched on one interface, with this node's MAC there.
type Watched = Rc<RefCell<Vec<(IpAddr, [u8; 6])>>>;

/// A listener's key: the interface, and IPv6 (neighbour advertisements) or IPv4 (ARP).
pub(super) type WatchKey = (String, bool);

/// A listener on one interface and the VIPs it watches.
pub(super) struct NeighbourWatch {
    task: JoinHandle<()>,
    watched: Watched,
}

impl Drop for NeighbourWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Daemon {
    /// Open a listener on each interface with a VIP of a probing (MASTER) instance, close
    /// the others, and tell each which VIPs to watch.
    pub(super) fn refresh_neighbour_watch(&mut self) {
        let mut wanted: HashMap<WatchKey, Vec<(IpAddr, [u8; 6])>> = HashMap::new();
        for router in self.routers.values().filter(|r| r.probe.active()) {
            for placed in &router.vips {
                let key = (placed.interface.clone(), placed.vip.addr.is_ipv6());
                wanted
                    .entry(key)
                    .or_default()
                    .push((placed.vip.addr, placed.mac));
            }
        }
        self.neighbour_watches
            .retain(|key, _| wanted.contains_key(key));
        self.neighbour_watch_failed
            .retain(|key| wanted.contains_key(key));
        for (key, vips) in wanted {
            if let Some(watch) = self.neighbour_watches.get(&key) {
                *watch.watched.borrow_mut() = vips;
                continue;
            }
            let (interface, v6) = &key;
            let opened = self.host.open_neighbour(interface, *v6);
            match opened {
                Ok(listener) => {
                    let watched: Watched = Rc::new(RefCell::new(vips));
                    let task = tokio::task::spawn_local(listen(
                        listener,
                        *v6,
                        watched.clone(),
                        self.event_tx.clone(),
                    ));
                    self.neighbour_watch_failed.remove(&key);
                    self.neighbour_watches
                        .insert(key, NeighbourWatch { task, watched });
                }
                // Once, not at every probe round, until it works or is no longer wanted.
                Err(e) if !self.neighbour_watch_failed.contains(&key) => {
                    warn!(
                        "cannot watch {} on {interface} for VIP conflicts: {e}",
                        if *v6 {
                            "neighbour advertisements"
                        } else {
                            "ARP"
                        }
                    );
                    self.neighbour_watch_failed.insert(key);
                }
                Err(_) => {}
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
            .map(|placed| {
                let frame = match placed.vip.addr {
                    IpAddr::V4(ip) => arp::probe(placed.mac, ip),
                    IpAddr::V6(ip) => ndp::dad_probe(placed.mac, ip),
                };
                (placed.interface.clone(), frame)
            })
            .collect();
        if frames.is_empty() {
            return;
        }
        self.refresh_neighbour_watch();
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
        self.refresh_neighbour_watch();
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

    /// An answer on `interface` says `mac` has `vip`.
    pub(super) async fn on_neighbour_heard(&mut self, interface: &str, vip: IpAddr, mac: [u8; 6]) {
        let now = self.now();
        let names: Vec<String> = self
            .routers
            .iter()
            .filter(|(_, r)| {
                r.probe.active()
                    && r.vips
                        .iter()
                        .any(|p| p.interface == interface && p.vip.addr == vip && p.mac != mac)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(router) = self.routers.get_mut(&name) else {
                continue;
            };
            match router.probe.heard(now, vip, mac) {
                Heard::Raised => {
                    warn!(
                        instance = %name,
                        "VIP {vip} is answered by {} on {interface}, not by this master: \
                         another host holds it; announcing the VIPs again",
                        probe::mac_string(mac)
                    );
                    self.start_announcing(&name, super::Burst::Master).await;
                }
                Heard::Again => {
                    debug!(
                        instance = %name,
                        "VIP {vip} still answered by {}; announcing again",
                        probe::mac_string(mac)
                    );
                    self.start_announcing(&name, super::Burst::Master).await;
                }
                Heard::Nothing => {}
            }
        }
    }
}

/// Read ARP frames (or neighbour advertisements, `v6`); pass the answers to a probe that
/// give a watched VIP another MAC. For ARP, an answer is a reply to this node's MAC for
/// target address 0.0.0.0 (RFC 5227): a gratuitous ARP of another node is none (a master
/// that just yielded sends them for a moment, and is no conflict once it has let go). For
/// IPv6, the answer to a DAD solicitation goes to all nodes like any unsolicited NA; the
/// prober counts it only within a second of its probe.
async fn listen(
    listener: Box<dyn NeighbourPort>,
    v6: bool,
    watched: Watched,
    events: mpsc::UnboundedSender<Internal>,
) {
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
        let frame = buf.get(..len).unwrap_or_default();
        let Some((vip, mac)) = foreign_answer(frame, v6, &watched.borrow()) else {
            continue;
        };
        if window.elapsed() >= Duration::from_secs(1) {
            window = tokio::time::Instant::now();
            forwarded = 0;
        }
        if forwarded >= FORWARD_PER_SECOND {
            continue;
        }
        forwarded += 1;
        let heard = Internal::NeighbourHeard {
            interface: listener.interface().to_string(),
            vip,
            mac,
        };
        if events.send(heard).is_err() {
            return;
        }
    }
}

/// The watched VIP and the other MAC `frame` answers for, if it is such an answer.
fn foreign_answer(
    frame: &[u8],
    v6: bool,
    watched: &[(IpAddr, [u8; 6])],
) -> Option<(IpAddr, [u8; 6])> {
    if v6 {
        let na = NaFrame::parse(frame).ok()?;
        // RFC 4861 7.1.2: a valid NA has hop limit 255.
        if na.hop_limit != 255 {
            return None;
        }
        let from = na.target_mac.unwrap_or(na.eth_src);
        watched
            .iter()
            .any(|&(ip, mac)| IpAddr::V6(na.target) == ip && from != mac && na.eth_src != mac)
            .then_some((IpAddr::V6(na.target), from))
    } else {
        let arp = ArpFrame::parse(frame).ok()?;
        if arp.operation != 2 || arp.target_ip != Ipv4Addr::UNSPECIFIED {
            return None;
        }
        watched
            .iter()
            .any(|&(ip, mac)| {
                IpAddr::V4(arp.sender_ip) == ip && arp.sender_mac != mac && arp.target_mac == mac
            })
            .then_some((IpAddr::V4(arp.sender_ip), arp.sender_mac))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    const OURS: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];
    const THEIRS: [u8; 6] = [2, 0, 0, 0, 0, 0xcc];

    #[test]
    fn only_an_answer_to_the_probe_from_another_mac_counts() {
        let vip = Ipv4Addr::new(192, 0, 2, 100);
        let watched = [(IpAddr::V4(vip), OURS)];
        // The reply Linux sends to an ARP probe: to the prober, target address 0.0.0.0.
        let mut reply = arp::gratuitous_arp(THEIRS, vip);
        reply[21] = 2; // operation: reply
        reply[32..38].copy_from_slice(&OURS); // target MAC: ours
        reply[38..42].copy_from_slice(&[0, 0, 0, 0]); // target IP 0.0.0.0
        assert_eq!(
            foreign_answer(&reply, false, &watched),
            Some((IpAddr::V4(vip), THEIRS))
        );
        // Another node's gratuitous ARP is no answer.
        let garp = arp::gratuitous_arp(THEIRS, vip);
        assert_eq!(foreign_answer(&garp, false, &watched), None);
        // Our own reply is none either.
        let mut own = reply.clone();
        own[22..28].copy_from_slice(&OURS);
        assert_eq!(foreign_answer(&own, false, &watched), None);
        assert_eq!(foreign_answer(&reply, false, &[]), None, "not watched");
    }

    #[test]
    fn a_neighbour_advertisement_for_the_vip_from_another_mac_counts() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let watched = [(IpAddr::V6(vip), OURS)];
        let theirs = ndp::unsolicited_na(THEIRS, vip, vip, false);
        assert_eq!(
            foreign_answer(&theirs, true, &watched),
            Some((IpAddr::V6(vip), THEIRS))
        );
        let ours = ndp::unsolicited_na(OURS, vip, vip, false);
        assert_eq!(foreign_answer(&ours, true, &watched), None);
        let other: Ipv6Addr = "2001:db8::101".parse().unwrap();
        let unrelated = ndp::unsolicited_na(THEIRS, other, other, false);
        assert_eq!(foreign_answer(&unrelated, true, &watched), None);
    }
}
