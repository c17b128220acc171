//! What changed between two configurations, so that a reload applies only that.
//!
//! Instances are matched by name. A change of interface, virtual_router_id, family, VRRP
//! version or VMAC changes the instance's identity on the wire: such an instance is reported as
//! removed and added, never as changed.
//!
//! An instance is compared field by field (`instance_changes` names every field, so a new
//! one is a compile error there until it is given a `Change`); `global_defs`, sync groups,
//! the witness block and script definitions are compared whole (their derived
//! `PartialEq`), so a new field in them is covered without a change here.

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
    /// unicast_src_ip, unicast peers or unicast_ttl.
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
    /// strict_mode, skip_check_adv_addr, check_unicast_src, dont_track_primary, debug,
    /// lower_prio_no_advert, higher_prio_send_advert or v3_checksum_as_v2.
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
///
/// The macvlans of `use_vmac_addr` and of `use_vmac` on address lines (`address_vmacs`:
/// name, base, family, MAC) are identity for the same reason: the addresses on them move
/// between a plain interface and a macvlan, and a macvlan no longer wanted must go once
/// its addresses are off, which is the restart's order. keepalived too treats a change of
/// `use_vmac_addr` as another instance (`vrrp.c`, the old instance's match on reload). A
/// change of `use_vmac` on an address line that keeps the same macvlans is a VIP change,
/// applied in place (the address is removed from where it was and added where it goes).
fn identity(
    i: &Instance,
) -> (
    &str,
    u8,
    super::model::Family,
    super::model::Version,
    Option<&super::model::Vmac>,
    bool,
    &[super::model::AddressVmac],
) {
    (
        &i.interface,
        i.vrid,
        i.family,
        i.version,
        i.use_vmac.as_ref(),
        i.use_vmac_addr,
        &i.address_vmacs,
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

/// What changed in an instance whose identity stayed the same. `o` is destructured with
/// every field named and no `..`: a field added to `Instance` does not compile here until
/// it is given a `Change` (or is listed as identity or handled elsewhere, with why), so it
/// can never read as "unchanged" on a reload by omission.
fn instance_changes(
    old_model: &Model,
    new_model: &Model,
    o: &Instance,
    n: &Instance,
) -> Vec<Change> {
    let Instance {
        // The key instances are matched by (`Model::diff`).
        name: _,
        // Identity on the wire: a change is a remove and an add (`identity`), never here
        // (the VMAC with its name, MAC and vmac_xmit_base too: its VIPs and socket move).
        interface: _,
        vrid: _,
        version: _,
        family: _,
        use_vmac: _,
        use_vmac_addr: _,
        address_vmacs: _,
        state,
        priority,
        advert_int_cs,
        // `address_changes`, item by item.
        vips: _,
        excluded_vips: _,
        routes: _,
        rules: _,
        mcast_src_ip,
        mcast_dst_ip,
        unicast_src_ip,
        unicast_peers,
        unicast_ttl,
        auth,
        auth_hmac,
        track_interfaces,
        track_scripts,
        track_files,
        track_processes,
        dont_track_primary,
        fallback,
        fallback_check,
        flap_hold_down_ms,
        flap_damping,
        preempt_delay_ms,
        accept,
        garp,
        notify,
        strict,
        skip_check_adv_addr,
        check_unicast_src,
        debug,
        lower_prio_no_advert,
        higher_prio_send_advert,
        v3_checksum_as_v2,
        witness_key,
    } = o;
    let mut c = Vec::new();
    push_if(
        &mut c,
        *state != n.state,
        Change::State {
            old: *state,
            new: n.state,
        },
    );
    push_if(
        &mut c,
        *priority != n.priority,
        Change::Priority {
            old: *priority,
            new: n.priority,
        },
    );
    push_if(
        &mut c,
        *advert_int_cs != n.advert_int_cs,
        Change::AdvertInt {
            old_cs: *advert_int_cs,
            new_cs: n.advert_int_cs,
        },
    );
    address_changes(&mut c, o, n);
    push_if(
        &mut c,
        *unicast_src_ip != n.unicast_src_ip
            || *unicast_peers != n.unicast_peers
            || *unicast_ttl != n.unicast_ttl,
        Change::Unicast,
    );
    push_if(
        &mut c,
        *mcast_src_ip != n.mcast_src_ip || *mcast_dst_ip != n.mcast_dst_ip,
        Change::Multicast,
    );
    push_if(&mut c, *auth != n.auth, Change::Auth);
    push_if(&mut c, *auth_hmac != n.auth_hmac, Change::AuthHmac);
    push_if(&mut c, *witness_key != n.witness_key, Change::Witness);
    push_if(
        &mut c,
        *track_interfaces != n.track_interfaces,
        Change::TrackInterfaces,
    );
    push_if(
        &mut c,
        *track_scripts != n.track_scripts,
        Change::TrackScripts,
    );
    push_if(&mut c, *track_files != n.track_files, Change::TrackFiles);
    push_if(
        &mut c,
        *track_processes != n.track_processes,
        Change::TrackProcesses,
    );
    tracked_definition_changes(&mut c, old_model, new_model, n);
    push_if(
        &mut c,
        *fallback != n.fallback,
        Change::Fallback {
            old: *fallback,
            new: n.fallback,
        },
    );
    push_if(
        &mut c,
        *fallback_check != n.fallback_check,
        Change::FallbackCheck,
    );
    push_if(
        &mut c,
        *flap_hold_down_ms != n.flap_hold_down_ms || *flap_damping != n.flap_damping,
        Change::FlapHoldDown,
    );
    push_if(
        &mut c,
        *preempt_delay_ms != n.preempt_delay_ms,
        Change::PreemptDelay,
    );
    push_if(&mut c, *accept != n.accept, Change::Accept);
    push_if(&mut c, *garp != n.garp, Change::Garp);
    push_if(&mut c, *notify != n.notify, Change::Notify);
    push_if(
        &mut c,
        old_model.group_of(&o.name) != new_model.group_of(&n.name),
        Change::SyncGroup,
    );
    push_if(
        &mut c,
        *strict != n.strict
            || *skip_check_adv_addr != n.skip_check_adv_addr
            || *check_unicast_src != n.check_unicast_src
            || *dont_track_primary != n.dont_track_primary
            || *debug != n.debug
            || *lower_prio_no_advert != n.lower_prio_no_advert
            || *higher_prio_send_advert != n.higher_prio_send_advert
            || *v3_checksum_as_v2 != n.v3_checksum_as_v2,
        Change::Checks,
    );
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
