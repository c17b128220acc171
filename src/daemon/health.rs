//! From tracking to the state machines: each instance's own interface, its tracked
//! interfaces, scripts and files, and those of its sync group, decide whether it is in
//! FAULT and what priority it runs with. One member's FAULT takes its whole sync group to
//! FAULT.

use std::collections::BTreeSet;

use tracing::{info, warn};

use super::track::{self, Tracked};
use super::{Daemon, Internal, Verdict, hooks};
use crate::config::Model;
use crate::vrrp::Event;

impl Daemon {
    /// Files the daemon was configured to write and refused to (a link, a regular file
    /// in place of a FIFO, a foreign owner): a WARNING on every instance until fixed and
    /// reloaded.
    pub(super) fn file_alarms(&self) -> Vec<crate::control::status::Alarm> {
        let firewall = self
            .firewall
            .problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.fifos
            .refused
            .iter()
            .chain(&self.trackers.refused)
            .chain(&firewall)
            .map(|why| crate::control::status::Alarm {
                severity: crate::control::status::Health::Warning,
                message: why.clone(),
            })
            .collect()
    }

    /// Read the link state of every interface an instance runs on or tracks.
    pub(super) async fn read_links(&mut self, model: &Model) {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for i in &model.instances {
            names.insert(i.interface.clone());
            names.extend(i.track_interfaces.iter().map(|t| t.name.clone()));
        }
        for g in &model.sync_groups {
            names.extend(g.track_interfaces.iter().map(|t| t.name.clone()));
        }
        for name in names {
            if self.trackers.links.contains_key(&name) {
                continue;
            }
            match self.netlink.link(&name).await {
                Ok(link) => {
                    self.trackers.links.insert(name, link.up);
                }
                Err(e) => warn!("tracked interface {name}: {e}; counted as down"),
            }
        }
    }

    /// A reload: new hook settings, FIFOs and tracking runners.
    pub(super) async fn reload_operations(&mut self, new: &Model) {
        self.hook_settings = hooks::Settings::of(&new.global, self.options.socket.clone());
        if new.global.notify_fifo != self.model.global.notify_fifo
            || new.global.vrrp_notify_fifo != self.model.global.vrrp_notify_fifo
        {
            self.fifos.close().await;
            self.fifos = hooks::Fifos::open(&new.global, &self.hook_settings);
        }
        let tracking_changed = new.scripts != self.model.scripts
            || new.track_files != self.model.track_files
            || new.track_processes != self.model.track_processes
            || new.global.script_user != self.model.global.script_user
            || new.global.enable_script_security != self.model.global.enable_script_security
            || tracked_names(new) != tracked_names(&self.model);
        if tracking_changed {
            self.trackers
                .restart(new, &self.hook_settings, &self.event_tx, &self.runner);
        }
        self.read_links(new).await;
    }

    /// A tracking runner reported.
    pub(super) async fn on_tracking(&mut self, internal: Internal) {
        let changed = match internal {
            Internal::ScriptRan { name, outcome } => self.trackers.script_ran(&name, &outcome),
            Internal::FileRead { name, state } => self.trackers.file_read(&name, state),
            Internal::ProcessTrack(report) => self.trackers.process_seen(report),
            _ => false,
        };
        if changed {
            self.apply_tracking().await;
        }
    }

    /// Work out every instance's verdict and feed what changed to its state machine:
    /// the priority first, then FAULT or its end.
    pub(super) async fn apply_tracking(&mut self) {
        let verdicts = self.verdicts_now();
        for (name, verdict) in verdicts {
            let Some(router) = self.routers.get_mut(&name) else {
                continue;
            };
            let machine_priority = router.machine.priority();
            let was_faulted = router
                .verdict
                .as_ref()
                .is_some_and(|v| !v.faults.is_empty());
            let faulted = !verdict.faults.is_empty();
            router.verdict = Some(verdict.clone());
            if verdict.priority != machine_priority {
                info!(
                    instance = %name,
                    "effective priority {machine_priority} -> {}", verdict.priority
                );
                self.deliver(&name, Event::SetPriority(verdict.priority))
                    .await;
            }
            if faulted && !was_faulted {
                warn!(instance = %name, "FAULT: {}", verdict.faults.join("; "));
                self.deliver(&name, Event::Fault).await;
            } else if !faulted && was_faulted {
                info!(instance = %name, "fault cleared");
                self.deliver(&name, Event::FaultCleared).await;
            }
        }
    }

    /// The verdict of every running instance, sync groups included.
    pub(super) fn verdicts_now(&self) -> Vec<(String, Verdict)> {
        let mut out: Vec<(String, Verdict)> = Vec::new();
        for (name, router) in &self.routers {
            let cfg = &router.cfg;
            let mut v = track::Verdict::default();
            if !cfg.dont_track_primary
                && self.trackers.links.get(&cfg.interface).copied() == Some(false)
            {
                v.faults
                    .push(format!("interface {} is down", cfg.interface));
            }
            if let Some(name) = &router.vmac_lost {
                v.faults.push(format!(
                    "VMAC {name} was deleted; restart baton to make it again"
                ));
            }
            track::judge(
                &mut v,
                &Tracked::of_instance(cfg),
                &self.model,
                &self.trackers,
            );
            if let Some(group) = self.group_of(name) {
                track::judge(
                    &mut v,
                    &Tracked::of_group(group),
                    &self.model,
                    &self.trackers,
                );
            }
            out.push((
                name.clone(),
                Verdict {
                    faults: v.faults,
                    priority: track::effective_priority(cfg.priority, v.adjust),
                    items: v.items,
                },
            ));
        }
        // keepalived sync groups: one member in FAULT takes every member to FAULT.
        let own_faults: Vec<(String, bool)> = out
            .iter()
            .map(|(n, v)| (n.clone(), !v.faults.is_empty()))
            .collect();
        for (name, verdict) in &mut out {
            let Some(group) = self.group_of(name) else {
                continue;
            };
            for (other, faulted) in &own_faults {
                if other != name && *faulted && group.members.contains(other) {
                    verdict.faults.push(format!(
                        "sync group {}: member {other} is in FAULT",
                        group.name
                    ));
                }
            }
        }
        out
    }

    /// The sync group `instance` belongs to, if any.
    pub(super) fn group_of(&self, instance: &str) -> Option<&crate::config::SyncGroup> {
        self.model
            .sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
}

/// The names of everything tracked, to tell whether a reload changed tracking.
fn tracked_names(model: &Model) -> Vec<String> {
    let mut names = Vec::new();
    for i in &model.instances {
        names.extend(i.track_scripts.iter().map(|t| format!("s:{}", t.name)));
        names.extend(i.track_files.iter().map(|t| format!("f:{}", t.name)));
        names.extend(i.track_processes.iter().map(|t| format!("p:{}", t.name)));
    }
    for g in &model.sync_groups {
        names.extend(g.track_scripts.iter().map(|t| format!("s:{}", t.name)));
        names.extend(g.track_files.iter().map(|t| format!("f:{}", t.name)));
        names.extend(g.track_processes.iter().map(|t| format!("p:{}", t.name)));
    }
    names.sort();
    names.dedup();
    names
}
