//! The daemon's answers to the control socket: status, fallback, resign, lock, unlock,
//! reconfigure; and the operator's locks, kept in the state directory across restarts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::hooks::Owner;
use super::{CheckOutcome, Daemon, Internal, Verdict, run_check};
use crate::config::Fallback;
use crate::control::protocol::{Command, Reply};
use crate::control::server::ControlRequest;
use crate::control::status::{
    self, Alarm, Counters, DaemonStatus, Facts, HookStatus, InstanceStatus, MasterStatus, VipStatus,
};
use crate::netlink::Netlink;
use crate::vrrp::{Event, State};

/// Instances locked by the operator, persisted one name per line in `STATE_DIR/locks`.
pub struct Locks {
    path: PathBuf,
    names: BTreeSet<String>,
}

impl Locks {
    /// Read the locks file; a missing file means no locks.
    pub fn load(state_dir: &Path) -> Locks {
        let path = state_dir.join("locks");
        let names = match super::flaps::read_state(&path) {
            Ok(text) => text
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            Err(e) => {
                warn!(
                    "cannot read {}: {e}; starting without locks",
                    path.display()
                );
                BTreeSet::new()
            }
        };
        Locks { path, names }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Record `name` as locked or not, writing the file atomically (temp file, fsync,
    /// rename, fsync of the directory).
    fn set(&mut self, name: &str, locked: bool) -> std::io::Result<()> {
        let mut names = self.names.clone();
        if locked {
            names.insert(name.to_string());
        } else {
            names.remove(name);
        }
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        super::flaps::write_state(&self.path, &text)?;
        self.names = names;
        Ok(())
    }
}

impl Daemon {
    pub(super) async fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Event(name, event) => {
                self.deliver(&name, event).await;
            }
            Internal::FallbackChecked {
                name,
                outcome,
                reply,
            } => {
                if reply.is_closed() {
                    // The client gave up (it was told the daemon did not answer in time, or
                    // was interrupted): a fallback it no longer waits for must not happen
                    // minutes later, while the operator may be working on the peer.
                    warn!(
                        instance = %name,
                        "fallback not done: the client that asked for it left before \
                         fallback_check ended ({})",
                        outcome.detail
                    );
                    return;
                }
                let answer = self.finish_fallback(&name, outcome).await;
                let _ = reply.send(answer);
            }
            Internal::HookFinished(finished) => {
                // To its owner's state; one removed meanwhile keeps nothing.
                match &finished.owner {
                    Owner::Instance(name) => {
                        if let Some(router) = self
                            .routers
                            .get_mut(name)
                            .filter(|r| r.incarnation == finished.incarnation)
                        {
                            router.last_hook = Some(*finished);
                        }
                    }
                    Owner::Group(name) => {
                        if let Some(group) = self.groups.get_mut(name) {
                            group.last_hook = Some(*finished);
                        }
                    }
                }
            }
            other @ (Internal::ScriptRan { .. }
            | Internal::FileRead { .. }
            | Internal::ProcessTrack(_)) => self.on_tracking(other).await,
            Internal::ConfigParsed(parsed) => self.config_parsed(*parsed).await,
            Internal::Witness(report) => self.on_witness(*report).await,
            Internal::DelayedStart => self.delayed_start().await,
            Internal::NeighbourHeard {
                interface,
                vip,
                mac,
            } => self.on_neighbour_heard(&interface, vip, mac).await,
            Internal::StatusAddresses {
                request,
                addresses,
                generation,
            } => self.status_listed(request, addresses, generation),
        }
    }

    pub(super) async fn on_control(&mut self, request: ControlRequest) {
        let ControlRequest {
            command,
            peer,
            reply,
        } = request;
        if command.changes_state() {
            let who = peer.map_or_else(|| "an unknown client".to_string(), |p| p.to_string());
            let target = match &command {
                Command::Fallback { instance } | Command::Resign { instance, .. } => {
                    instance.clone()
                }
                Command::Lock { instance } | Command::Unlock { instance } => Some(instance.clone()),
                Command::Status { .. } | Command::Reconfigure => None,
            };
            let target = target.map(|t| format!(" {t}")).unwrap_or_default();
            info!("control: {}{target} requested by {who}", command.name());
        }
        // The same translation the fuzz target applies to a live core (numbers checked).
        let event = match command.event() {
            Ok(event) => event,
            Err(e) => {
                let _ = reply.send(Reply::error(e));
                return;
            }
        };
        let answer = match (command, event) {
            (Command::Status { instance }, _) => {
                return self.start_status(StatusRequest {
                    only: instance,
                    reply,
                    retried: false,
                });
            }
            (Command::Fallback { instance }, _) => match self.resolve(instance.as_deref()) {
                Ok(name) => return self.start_fallback(name, reply).await,
                Err(e) => Reply::error(e),
            },
            (Command::Resign { instance, .. }, Some(event)) => {
                match self.resolve(instance.as_deref()) {
                    Ok(name) => self.operator(&name, event).await,
                    Err(e) => Reply::error(e),
                }
            }
            (Command::Resign { .. }, None) => Reply::error("resign: no event"),
            (Command::Lock { instance }, _) => self.set_lock(&instance, true).await,
            (Command::Unlock { instance }, _) => self.set_lock(&instance, false).await,
            (Command::Reconfigure, _) => return self.request_reload(Some(reply)),
        };
        let _ = reply.send(answer);
    }

    /// The instance a command is about: the one named, or the only one there is.
    fn resolve(&self, instance: Option<&str>) -> Result<String, String> {
        match instance {
            Some(name) if self.routers.contains_key(name) => Ok(name.to_string()),
            Some(name) => Err(format!("no instance named {name}; {}", self.names())),
            None if self.routers.len() == 1 => {
                Ok(self.routers.keys().next().cloned().unwrap_or_default())
            }
            None => Err(format!("name the instance: {}", self.names())),
        }
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.routers.keys().map(String::as_str).collect();
        format!("instances: {}", names.join(", "))
    }

    /// The most recent hook outcome of the instance or of its sync group.
    fn last_hook(
        &self,
        router: &super::Router,
        group: Option<&str>,
        now: Duration,
    ) -> Option<HookStatus> {
        let own = router.last_hook.as_ref();
        let group = group
            .and_then(|g| self.groups.get(g))
            .and_then(|g| g.last_hook.as_ref());
        let latest = match (own, group) {
            (Some(a), Some(b)) => Some(if a.at >= b.at { a } else { b }),
            (a, b) => a.or(b),
        }?;
        let o = &latest.outcome;
        let finished = self.origin + now;
        Some(HookStatus {
            owner: latest.owner.to_string(),
            hook: latest.label.to_string(),
            state: latest.state.to_string(),
            ok: o.success(),
            run: o.clone(),
            age_s: finished.saturating_duration_since(latest.at).as_secs_f64(),
            result: o.describe(),
        })
    }

    /// Feed an operator's event and answer with the outcome.
    async fn operator(&mut self, name: &str, event: Event) -> Reply {
        if !self.routers.contains_key(name) {
            return Reply::error(format!("no instance named {name}"));
        }
        if let Some(refusal) = self.deliver(name, event.clone()).await {
            return Reply::error(format!("{name}: refused: {refusal}"));
        }
        let state = self.routers.get(name).map(|r| r.machine.state());
        info!(instance = name, "operator: {event:?} done");
        Reply::ok(json!({ "instance": name, "state": state.map(State::as_str) }))
    }

    /// `baton fallback`: refuse at once if the state machine would; otherwise run the
    /// `fallback_check` (without blocking the event loop) and then take the VIP.
    async fn start_fallback(&mut self, name: String, reply: oneshot::Sender<Reply>) {
        let Some(router) = self.routers.get(&name) else {
            let _ = reply.send(Reply::error(format!("no instance named {name}")));
            return;
        };
        if let Some(refusal) = router.machine.fallback_refusal() {
            let _ = reply.send(Reply::error(format!("{name}: refused: {refusal}")));
            return;
        }
        let Some(check) = router.cfg.fallback_check.clone() else {
            let answer = self.operator(&name, Event::Fallback).await;
            let _ = reply.send(answer);
            return;
        };
        let running = match self.hooks.start_check(&name) {
            Ok(running) => running,
            Err(refusal) => {
                let _ = reply.send(Reply::error(format!("{name}: refused: {refusal}")));
                return;
            }
        };
        info!(instance = %name, "fallback requested; running fallback_check {}", check.command);
        let settings = self.hook_settings.clone();
        let events = self.event_tx.clone();
        let launch = self.runner.launcher();
        drop(self.hooks.spawn(move || async move {
            let outcome = run_check(&*launch, &name, &check, &settings).await;
            drop(running);
            let _ = events.send(Internal::FallbackChecked {
                name,
                outcome,
                reply,
            });
        }));
    }

    async fn finish_fallback(&mut self, name: &str, outcome: CheckOutcome) -> Reply {
        if !outcome.passed {
            warn!(
                instance = name,
                "fallback refused: fallback_check {}", outcome.detail
            );
            return Reply::error(format!(
                "{name}: refused: fallback_check failed: {}",
                outcome.detail
            ));
        }
        self.operator(name, Event::Fallback).await
    }

    async fn set_lock(&mut self, name: &str, locked: bool) -> Reply {
        if !self.routers.contains_key(name) {
            return Reply::error(format!("no instance named {name}; {}", self.names()));
        }
        if let Err(e) = self.locks.set(name, locked) {
            error!(instance = name, "cannot record the lock: {e}");
            return Reply::error(format!(
                "cannot record the lock in {}: {e}; nothing changed",
                self.locks.path.display()
            ));
        }
        let event = if locked { Event::Lock } else { Event::Unlock };
        self.operator(name, event).await
    }

    /// A `status` request. The interface addresses are listed on a blocking thread, over a
    /// netlink socket of its own (the daemon's socket may be in the middle of a dump of its
    /// own, and the kernel refuses a second one with EBUSY), in one dump bounded in time;
    /// the reply is built when the list arrives (`Internal::StatusAddresses`), so the
    /// protocol loop neither waits for nor decodes it.
    pub(super) fn start_status(&self, request: StatusRequest) {
        if let Some(name) = request.missing(self) {
            let _ = request.reply.send(Reply::error(format!(
                "no instance named {name}; {}",
                self.names()
            )));
            return;
        }
        let generation = self.vip_generation;
        let done = self.event_tx.clone();
        let list = self.host.address_lister();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let addresses = list();
            debug!(
                "status: interface addresses listed in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            let _ = done.send(Internal::StatusAddresses {
                request,
                addresses,
                generation,
            });
        });
    }

    /// The addresses arrived: build the reply, unless VIPs moved or instances changed
    /// meanwhile (then list once more, so a VIP added since is not reported missing).
    pub(super) fn status_listed(
        &self,
        mut request: StatusRequest,
        addresses: Result<Addresses, String>,
        generation: u64,
    ) {
        if !request.retried && (generation != self.vip_generation || addresses.is_err()) {
            request.retried = true;
            return self.start_status(request);
        }
        if let Some(name) = request.missing(self) {
            let _ = request.reply.send(Reply::error(format!(
                "no instance named {name}; {}",
                self.names()
            )));
            return;
        }
        let addresses = match addresses {
            Ok(addresses) => addresses,
            Err(e) => {
                let _ = request.reply.send(Reply::error(format!(
                    "cannot read the interfaces' addresses: {e}"
                )));
                return;
            }
        };
        self.finish_status(request.only.as_deref(), &addresses, request.reply);
    }

    /// Only the snapshot is taken on the protocol loop; turning it into JSON (a few
    /// milliseconds at hundreds of instances) happens on a blocking thread.
    fn finish_status(
        &self,
        only: Option<&str>,
        addresses: &Addresses,
        reply: oneshot::Sender<Reply>,
    ) {
        let started = std::time::Instant::now();
        let status = self.status(only, addresses);
        debug!(
            "status: {} instances read on the protocol loop in {:.1} ms",
            status.instances.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        tokio::task::spawn_blocking(move || {
            let answer = match serde_json::to_value(&status) {
                Ok(value) => Reply::ok(value),
                Err(e) => Reply::error(format!("cannot encode the status: {e}")),
            };
            let _ = reply.send(answer);
        });
    }

    fn status(&self, only: Option<&str>, addresses: &Addresses) -> DaemonStatus {
        let now = self.now();
        // Fresh, so a check's latest output shows even when its state did not flip; once
        // for all instances.
        let mut verdicts: BTreeMap<String, Verdict> = self.verdicts_now().into_iter().collect();
        let file_alarms = self.file_alarms();
        let mut instances = Vec::new();
        for (name, router) in &self.routers {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let verdict = verdicts.remove(name).unwrap_or_default();
            instances.push(self.instance_status(router, now, verdict, addresses, &file_alarms));
        }
        let mut dropped = BTreeMap::new();
        for ((_, reason), count) in &self.socket_drops {
            *dropped.entry(reason.to_string()).or_insert(0) += count;
        }
        let router_id = self.model.global.router_id.clone();
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            node: router_id
                .clone()
                .or_else(|| self.options.config_id.clone())
                .unwrap_or_default(),
            router_id,
            pid: std::process::id(),
            uptime_s: now.as_secs_f64(),
            instances,
            dropped,
        }
    }

    fn instance_status(
        &self,
        router: &super::Router,
        now: Duration,
        verdict: Verdict,
        addresses: &Addresses,
        file_alarms: &[Alarm],
    ) -> InstanceStatus {
        let machine = &router.machine;
        let vips: Vec<VipStatus> = router
            .vips
            .iter()
            .map(|placed| VipStatus {
                address: placed.vip.to_string(),
                present: addresses.get(&placed.ifindex).is_some_and(|list| {
                    list.iter()
                        .any(|&(a, len)| a == placed.vip.addr && len == placed.vip.prefix_len)
                }),
            })
            .collect();
        let master = machine.master().map(|m| MasterStatus {
            address: m.address.to_string(),
            priority: m.priority,
            last_advert_s: now.saturating_sub(m.at).as_secs_f64(),
        });
        let lower_master_s = machine
            .lower_master()
            .map(|m| now.saturating_sub(m.at).as_secs_f64());
        let state = status::VrrpState::from(machine.state());
        let name = &router.cfg.name;
        let sync_group = self.group_of(name).map(|g| g.name.clone());
        let last_hook = self.last_hook(router, sync_group.as_deref(), now);
        let flapping = router
            .damped
            .as_ref()
            .filter(|d| d.until > now)
            .map(|d| status::Flapping {
                count: d.count,
                window_s: d.window.as_secs_f64(),
                remaining_s: (d.until - now).as_secs_f64(),
            });
        let witness = super::witness::status(router, now);
        let peer_mismatches = peer_mismatches(router, now);
        let vip_conflicts: Vec<status::VipConflictStatus> = router
            .probe
            .conflicts()
            .iter()
            .map(|c| status::VipConflictStatus {
                address: c.vip.to_string(),
                mac: super::probe::mac_string(c.mac),
                since_s: now.saturating_sub(c.since).as_secs(),
                last_s: now.saturating_sub(c.last).as_secs(),
            })
            .collect();
        let mut alarms = status::alarms(&Facts {
            state: &state,
            priority: machine.priority(),
            manual_fallback: router.cfg.fallback == Fallback::Manual,
            locked: machine.locked(),
            master: master.as_ref(),
            master_down_s: machine.master_down_interval().as_secs_f64(),
            vips: &vips,
            lower_master_s,
            faults: &verdict.faults,
            tracks: &verdict.items,
            last_hook: last_hook.as_ref(),
            flapping,
            send_failing: router.send_errors.failing(),
            witness: witness.as_ref(),
            peer_mismatches: &peer_mismatches,
            vip_conflicts: &vip_conflicts,
        });
        alarms.extend(file_alarms.iter().cloned());
        let (routes, route_alarms) = super::routes::status(router);
        alarms.extend(route_alarms);
        InstanceStatus {
            name: router.cfg.name.clone(),
            interface: router.cfg.interface.clone(),
            vrid: router.cfg.vrid,
            version: router.cfg.version.number(),
            family: router.cfg.family.into(),
            state,
            since_s: now.saturating_sub(machine.since()).as_secs_f64(),
            reason: match self.start_at {
                Some(at) if machine.state() == crate::vrrp::State::Initialize => format!(
                    "start-up delay: starts in {:.1}s",
                    at.saturating_sub(now).as_secs_f64()
                ),
                _ => super::witness::reason(machine),
            },
            reason_kind: reason_kind(machine.reason()),
            base_priority: router.cfg.priority,
            priority: machine.priority(),
            fallback: match router.cfg.fallback {
                Fallback::Manual => "manual".into(),
                Fallback::Automatic => "automatic".into(),
            },
            locked: machine.locked(),
            master,
            vips,
            routes,
            vmac: router
                .vmac
                .as_ref()
                .map(|v| crate::control::status::VmacStatus {
                    interface: v.name.clone(),
                    mac: super::vmac::mac_string(v.mac),
                    xmit_base: v.xmit_base,
                }),
            address_vmacs: router
                .address_vmacs
                .iter()
                .map(|v| crate::control::status::AddressVmacStatus {
                    interface: v.name.clone(),
                    base: v.base.clone(),
                    mac: super::vmac::mac_string(v.mac),
                })
                .collect(),
            counters: Counters {
                vrrp: machine.stats(),
                adverts_unsent: router.send_errors.total,
                hmac_unsigned_accepted: router.hmac_unsigned,
            },
            sync_group,
            faults: verdict.faults,
            tracks: verdict.items,
            last_hook,
            flap_hold_s: flapping.map(|f| f.remaining_s),
            witness,
            peer_mismatches,
            vip_conflicts,
            auth_hmac: router.cfg.auth_hmac.as_ref().map(|h| status::HmacStatus {
                mode: h.mode.as_str().to_string(),
                active_key: h.active_key,
                key_ids: h.keys.iter().map(|k| k.id).collect(),
                anti_replay: match h.anti_replay {
                    crate::config::AntiReplay::Time { .. } => "time".to_string(),
                    crate::config::AntiReplay::Monotonic => "monotonic".to_string(),
                },
                time_window_s: match h.anti_replay {
                    crate::config::AntiReplay::Time { window_s } => Some(window_s),
                    crate::config::AntiReplay::Monotonic => None,
                },
            }),
            dropped: router
                .drops
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            alarms,
        }
    }
}

/// The peers whose adverts disagree with the instance's configuration now.
fn peer_mismatches(router: &super::Router, now: Duration) -> Vec<status::PeerMismatchStatus> {
    let v2 = router.cfg.version == crate::wire::vrrp::Version::V2;
    router
        .peers
        .disagreements()
        .iter()
        .filter(|d| d.until > now)
        .map(|d| status::PeerMismatchStatus {
            peer: d.peer.to_string(),
            since_s: now.saturating_sub(d.since).as_secs_f64(),
            last_advert_s: now.saturating_sub(d.last).as_secs_f64(),
            discarded: d.differences.iter().any(|x| x.discards(v2)),
            differences: d
                .differences
                .iter()
                .map(|x| status::DifferenceStatus {
                    field: x.into(),
                    ours: x.ours(),
                    theirs: x.theirs(),
                })
                .collect(),
        })
        .collect()
}

/// The addresses on each interface a status shows VIPs of, by interface index; an interface
/// whose listing failed or timed out is absent (its VIPs read as not present).
pub(super) type Addresses = HashMap<u32, Vec<(IpAddr, u8)>>;

/// How long a status waits for the address list.
const ADDRESS_LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// A status request on its way: the instance asked for, and whether its addresses were
/// already listed once.
pub(super) struct StatusRequest {
    pub only: Option<String>,
    pub reply: oneshot::Sender<Reply>,
    pub retried: bool,
}

impl StatusRequest {
    /// The instance asked for, if the daemon has none of that name.
    fn missing(&self, daemon: &Daemon) -> Option<String> {
        self.only
            .clone()
            .filter(|name| !daemon.routers.contains_key(name))
    }
}

/// Every interface's addresses, in one dump over a netlink socket of its own, on the
/// calling (blocking) thread.
pub(super) fn list_addresses() -> Result<Addresses, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    runtime.block_on(async {
        let netlink = Netlink::new_without_monitor().map_err(|e| e.to_string())?;
        match tokio::time::timeout(ADDRESS_LIST_TIMEOUT, netlink.all_addresses()).await {
            Ok(listed) => listed.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "the list took over {}s",
                ADDRESS_LIST_TIMEOUT.as_secs()
            )),
        }
    })
}

/// A reason's serde tag (`master_down`, `lease_lost`, ...), for scripts.
fn reason_kind(reason: crate::vrrp::Reason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_string))
        .unwrap_or_default()
}
