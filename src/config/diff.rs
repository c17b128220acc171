//! What changed between two configurations, so that a reload applies only that.
//!
//! Instances are matched by name. A change of interface, virtual_router_id, family, VRRP
//! version or VMAC changes the instance's identity on the wire: such an instance is reported as
//! removed and added, never as changed.

use super::model::{
    Fallback, InitialState, Instance, Model, VirtualAddress, VirtualRoute, VirtualRule,
};
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<(String, Vec<Change>)>,
    pub unchanged: Vec<String>,
    /// `global_defs` differ (router_id, FIFOs, scheduling, ...). Settings that instances
    /// inherit are also reported per instance.
    pub global_changed: bool,
    /// `vrrp_script` / `track_file` / `vrrp_track_process` definitions added, removed or
    /// changed.
    pub scripts_changed: Vec<String>,
    /// Any `vrrp_sync_group` differs.
    pub sync_groups_changed: bool,
    /// The `witness` block differs.
    pub witness_changed: bool,
}

impl Diff {
    /// Nothing at all changed: a reload has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.global_changed
            && self.scripts_changed.is_empty()
            && !self.sync_groups_changed
            && !self.witness_changed
    }
}

/// One thing that changed in an instance whose identity stayed the same.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Change {
    State {
        old: InitialState,
        new: InitialState,
    },
    Priority {
        old: u8,
        new: u8,
    },
    AdvertInt {
        old_cs: u16,
        new_cs: u16,
    },
    VipsAdded(Vec<VirtualAddress>),
    VipsRemoved(Vec<VirtualAddress>),
    ExcludedVipsAdded(Vec<VirtualAddress>),
    ExcludedVipsRemoved(Vec<VirtualAddress>),
    RoutesAdded(Vec<VirtualRoute>),
    RoutesRemoved(Vec<VirtualRoute>),
    RulesAdded(Vec<VirtualRule>),
    RulesRemoved(Vec<VirtualRule>),
    /// unicast_src_ip or unicast peers.
    Unicast,
    /// mcast_src_ip or mcast_dst_ip.
    Multicast,
    Auth,
    /// The `auth_hmac` block (keys, active key, anti-replay, mode); never says which key.
    AuthHmac,
    TrackInterfaces,
    TrackScripts,
    TrackFiles,
    TrackProcesses,
    /// The definition of a tracked `vrrp_script` or `track_file` changed.
    TrackedDefinition(String),
    Fallback {
        old: Fallback,
        new: Fallback,
    },
    FallbackCheck,
    FlapHoldDown,
    PreemptDelay,
    Accept,
    Garp,
    Notify,
    /// Membership or settings of the instance's sync group.
    SyncGroup,
    /// strict_mode, skip_check_adv_addr, check_unicast_src, dont_track_primary or debug.
    Checks,
    /// `witness_key` or `no_witness`.
    Witness,
}

impl Model {
    /// Compares two configurations.
    pub fn diff(old: &Model, new: &Model) -> Diff {
        let mut diff = Diff {
            global_changed: old.global != new.global,
            sync_groups_changed: old.sync_groups != new.sync_groups,
            witness_changed: old.witness != new.witness,
            scripts_changed: changed_definitions(old, new),
            ..Diff::default()
        };
        for n in &new.instances {
            let Some(o) = old.instance(&n.name) else {
                diff.added.push(n.name.clone());
                continue;
            };
            if identity(o) != identity(n) {
                diff.removed.push(n.name.clone());
                diff.added.push(n.name.clone());
                continue;
            }
            let changes = instance_changes(old, new, o, n);
            if changes.is_empty() {
                diff.unchanged.push(n.name.clone());
            } else {
                diff.changed.push((n.name.clone(), changes));
            }
        }
        for o in &old.instances {
            if new.instance(&o.name).is_none() {
                diff.removed.push(o.name.clone());
            }
        }
        diff
    }
}

/// What makes an instance on the wire: where it sends and hears, and (with `use_vmac`) the
/// interface and MAC that hold its VIPs. A VMAC added, removed, renamed, given another
/// MAC or `vmac_xmit_base` restarts the instance: the VIPs would move between interfaces
/// and the sockets with them, which the restart path already does in order (VIPs off,
/// priority 0, then the new instance starts as BACKUP).
fn identity(
    i: &Instance,
) -> (
    &str,
    u8,
    super::model::Family,
    super::model::Version,
    Option<&super::model::Vmac>,
) {
    (
        &i.interface,
        i.vrid,
        i.family,
        i.version,
        i.use_vmac.as_ref(),
    )
}

fn changed_definitions(old: &Model, new: &Model) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let scripts = old.scripts.keys().chain(new.scripts.keys());
    for name in scripts {
        if old.scripts.get(name) != new.scripts.get(name) && !names.contains(name) {
            names.push(name.clone());
        }
    }
    for name in old.track_files.keys().chain(new.track_files.keys()) {
        if old.track_files.get(name) != new.track_files.get(name) && !names.contains(name) {
            names.push(name.clone());
        }
    }
    let processes = old.track_processes.keys().chain(new.track_processes.keys());
    for name in processes {
        if old.track_processes.get(name) != new.track_processes.get(name) && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// Items of `a` not in `b` (order ignored).
fn missing_from<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|v| !b.contains(v)).cloned().collect()
}

fn push_if(changes: &mut Vec<Change>, differs: bool, change: Change) {
    if differs {
        changes.push(change);
    }
}

fn instance_changes(
    old_model: &Model,
    new_model: &Model,
    o: &Instance,
    n: &Instance,
) -> Vec<Change> {
    let mut c = Vec::new();
    push_if(
        &mut c,
        o.state != n.state,
        Change::State {
            old: o.state,
            new: n.state,
        },
    );
    push_if(
        &mut c,
        o.priority != n.priority,
        Change::Priority {
            old: o.priority,
            new: n.priority,
        },
    );
    push_if(
        &mut c,
        o.advert_int_cs != n.advert_int_cs,
        Change::AdvertInt {
            old_cs: o.advert_int_cs,
            new_cs: n.advert_int_cs,
        },
    );
    address_changes(&mut c, o, n);
    push_if(
        &mut c,
        o.unicast_src_ip != n.unicast_src_ip || o.unicast_peers != n.unicast_peers,
        Change::Unicast,
    );
    push_if(
        &mut c,
        o.mcast_src_ip != n.mcast_src_ip || o.mcast_dst_ip != n.mcast_dst_ip,
        Change::Multicast,
    );
    push_if(&mut c, o.auth != n.auth, Change::Auth);
    push_if(&mut c, o.auth_hmac != n.auth_hmac, Change::AuthHmac);
    push_if(&mut c, o.witness_key != n.witness_key, Change::Witness);
    push_if(
        &mut c,
        o.track_interfaces != n.track_interfaces,
        Change::TrackInterfaces,
    );
    push_if(
        &mut c,
        o.track_scripts != n.track_scripts,
        Change::TrackScripts,
    );
    push_if(&mut c, o.track_files != n.track_files, Change::TrackFiles);
    push_if(
        &mut c,
        o.track_processes != n.track_processes,
        Change::TrackProcesses,
    );
    tracked_definition_changes(&mut c, old_model, new_model, n);
    push_if(
        &mut c,
        o.fallback != n.fallback,
        Change::Fallback {
            old: o.fallback,
            new: n.fallback,
        },
    );
    push_if(
        &mut c,
        o.fallback_check != n.fallback_check,
        Change::FallbackCheck,
    );
    push_if(
        &mut c,
        o.flap_hold_down_ms != n.flap_hold_down_ms || o.flap_damping != n.flap_damping,
        Change::FlapHoldDown,
    );
    push_if(
        &mut c,
        o.preempt_delay_ms != n.preempt_delay_ms,
        Change::PreemptDelay,
    );
    push_if(&mut c, o.accept != n.accept, Change::Accept);
    push_if(&mut c, o.garp != n.garp, Change::Garp);
    push_if(&mut c, o.notify != n.notify, Change::Notify);
    push_if(
        &mut c,
        old_model.group_of(&o.name) != new_model.group_of(&n.name),
        Change::SyncGroup,
    );
    let checks = |i: &Instance| {
        (
            i.strict,
            i.skip_check_adv_addr,
            i.check_unicast_src,
            i.dont_track_primary,
            i.debug,
        )
    };
    push_if(&mut c, checks(o) != checks(n), Change::Checks);
    c
}

fn address_changes(c: &mut Vec<Change>, o: &Instance, n: &Instance) {
    let added = missing_from(&n.vips, &o.vips);
    let removed = missing_from(&o.vips, &n.vips);
    push_if(c, !added.is_empty(), Change::VipsAdded(added));
    push_if(c, !removed.is_empty(), Change::VipsRemoved(removed));
    let added = missing_from(&n.excluded_vips, &o.excluded_vips);
    let removed = missing_from(&o.excluded_vips, &n.excluded_vips);
    push_if(c, !added.is_empty(), Change::ExcludedVipsAdded(added));
    push_if(c, !removed.is_empty(), Change::ExcludedVipsRemoved(removed));
    let added = missing_from(&n.routes, &o.routes);
    let removed = missing_from(&o.routes, &n.routes);
    push_if(c, !added.is_empty(), Change::RoutesAdded(added));
    push_if(c, !removed.is_empty(), Change::RoutesRemoved(removed));
    let added = missing_from(&n.rules, &o.rules);
    let removed = missing_from(&o.rules, &n.rules);
    push_if(c, !added.is_empty(), Change::RulesAdded(added));
    push_if(c, !removed.is_empty(), Change::RulesRemoved(removed));
}

fn tracked_definition_changes(c: &mut Vec<Change>, old: &Model, new: &Model, n: &Instance) {
    for t in &n.track_scripts {
        if old.scripts.get(&t.name) != new.scripts.get(&t.name) {
            c.push(Change::TrackedDefinition(t.name.clone()));
        }
    }
    for t in &n.track_files {
        if old.track_files.get(&t.name) != new.track_files.get(&t.name) {
            c.push(Change::TrackedDefinition(t.name.clone()));
        }
    }
    for t in &n.track_processes {
        if old.track_processes.get(&t.name) != new.track_processes.get(&t.name) {
            c.push(Change::TrackedDefinition(t.name.clone()));
        }
    }
}
