//! Sync groups and notifications: a member's move takes the other members along, and
//! every state change reaches the hooks and FIFOs of its instance, and of its group once
//! the whole group is in the new state.

use super::Daemon;
use super::hooks::{self, Change, Kind, Owner};
use crate::vrrp::{Event, Reason, State};

impl Daemon {
    /// The events the other members of `name`'s sync group get when it moved `from` → `to`
    /// (keepalived's rules: MASTER and BACKUP are followed; FAULT is shared through
    /// tracking, see `health`).
    pub(super) fn group_followers(
        &self,
        name: &str,
        from: State,
        to: State,
    ) -> Vec<(String, Event)> {
        let Some(group) = self.group_of(name) else {
            return Vec::new();
        };
        let event = match (from, to) {
            (_, State::Master) => Event::GroupMaster,
            (State::Master, State::Backup) => Event::GroupBackup,
            _ => return Vec::new(),
        };
        let wanted_from = match event {
            Event::GroupMaster => State::Backup,
            _ => State::Master,
        };
        group
            .members
            .iter()
            .filter(|m| m.as_str() != name)
            .filter(|m| {
                self.routers
                    .get(m.as_str())
                    .is_some_and(|r| r.machine.state() == wanted_from)
            })
            .map(|m| (m.clone(), event.clone()))
            .collect()
    }

    /// keepalived's sync groups prefer BACKUP to thrashing (`vrrp_sync_can_goto_master`:
    /// a member goes to MASTER only if every member wants to). A member in BACKUP that
    /// hears a master it will not preempt (one of at least its priority, or it does not
    /// preempt) holds the group's other BACKUP members from preempting their own,
    /// lower-priority masters, for a Master_Down_Interval renewed by each such advert.
    /// Without it, a member outranked on its VRID while its partner outranks the peer's on
    /// theirs moves the whole group back and forth every Master_Down_Interval. A master
    /// that is gone renews nothing, so the hold ends and the members take over as usual.
    pub(super) fn group_holds(&self, name: &str) -> Vec<(String, Event)> {
        let Some(group) = self.group_of(name) else {
            return Vec::new();
        };
        let Some(router) = self.routers.get(name) else {
            return Vec::new();
        };
        let machine = &router.machine;
        let Some(master) = machine.master() else {
            return Vec::new();
        };
        // A member whose `fallback_check` has not passed will not preempt either: taken
        // to MASTER by the group, it would take its VIPs past the check.
        // Nor will a locked one, or one held back by a resign or a flap hold-down (not by a
        // group hold: see
        // `Event::GroupHold`).
        let preempts = router.cfg.fallback == crate::config::Fallback::Automatic
            && !machine.gate_closed()
            && !machine.locked()
            && self.now() >= machine.no_preempt_until();
        if machine.state() != State::Backup || (preempts && master.priority < machine.priority()) {
            return Vec::new();
        }
        let hold = machine.master_down_interval();
        group
            .members
            .iter()
            .filter(|m| m.as_str() != name)
            .filter(|m| {
                self.routers
                    .get(m.as_str())
                    .is_some_and(|r| r.machine.state() == State::Backup)
            })
            .map(|m| (m.clone(), Event::GroupHold { hold }))
            .collect()
    }

    /// Queue the instance's hooks for a transition and write its FIFO line.
    pub(super) fn notify_instance(&mut self, name: &str, from: State, to: State, reason: Reason) {
        let shutdown = matches!(reason, Reason::Shutdown);
        let Some(word) = hooks::state_word(to, shutdown) else {
            return;
        };
        let Some(router) = self.routers.get(name) else {
            return;
        };
        let change = Change {
            kind: Kind::Instance,
            name: name.to_string(),
            state: word,
            previous: hooks::previous_word(from),
            priority: router.machine.priority(),
            interface: router.cfg.interface.clone(),
            vrid: Some(router.cfg.vrid),
            vips: router.cfg.vips.iter().map(|v| v.addr.to_string()).collect(),
            reason: reason.to_string(),
        };
        self.fifos.write(&change);
        let specs = hooks::specs(&router.cfg.notify, &change, &self.hook_settings);
        let owner = Owner::Instance(name.to_string());
        let incarnation = router.incarnation;
        self.hooks
            .push(&owner, incarnation, word, specs, &self.event_tx);
    }

    /// `notify_master_rx_lower_pri`: this master heard a lower-priority master.
    pub(super) fn notify_lower_priority(&mut self, name: &str) {
        let Some(router) = self.routers.get(name) else {
            return;
        };
        let Some(hook) = &router.cfg.notify.master_rx_lower_pri else {
            return;
        };
        let change = Change {
            kind: Kind::Instance,
            name: name.to_string(),
            state: "MASTER",
            previous: "MASTER",
            priority: router.machine.priority(),
            interface: router.cfg.interface.clone(),
            vrid: Some(router.cfg.vrid),
            vips: router.cfg.vips.iter().map(|v| v.addr.to_string()).collect(),
            reason: "a lower-priority master was heard".into(),
        };
        let env = hooks::environment(&change, &self.hook_settings);
        let spec = hooks::spec(hook, Vec::new(), &env, &self.hook_settings);
        let incarnation = router.incarnation;
        self.hooks.push(
            &Owner::Instance(name.to_string()),
            incarnation,
            "MASTER",
            vec![("notify_master_rx_lower_pri", spec)],
            &self.event_tx,
        );
    }

    /// After a reload: a sync group no longer configured leaves nothing behind (a group
    /// added again later starts afresh).
    pub(super) fn forget_removed_groups(&mut self) {
        let configured = &self.model.sync_groups;
        self.groups
            .retain(|name, _| configured.iter().any(|g| g.name == *name));
    }

    /// When every member of `name`'s group is in the same state and the group's hooks have
    /// not run for it yet, run them (with `GROUP name STATE priority`).
    pub(super) fn notify_group(&mut self, name: &str) {
        let Some(group) = self.group_of(name).cloned() else {
            return;
        };
        let mut words = Vec::new();
        let mut priority = 0u8;
        let mut vips = Vec::new();
        for member in &group.members {
            let Some(router) = self.routers.get(member) else {
                return;
            };
            let shutdown = self.stopping || matches!(router.machine.reason(), Reason::Shutdown);
            match hooks::state_word(router.machine.state(), shutdown) {
                Some(word) => words.push(word),
                None => return,
            }
            priority = priority.max(router.machine.priority());
            vips.extend(router.cfg.vips.iter().map(|v| v.addr.to_string()));
        }
        let Some(&word) = words.first() else {
            return;
        };
        if words.iter().any(|w| *w != word) {
            return;
        }
        let run = self.groups.entry(group.name.clone()).or_default();
        let previous = run.state.replace(word);
        if previous == Some(word) {
            return;
        }
        let change = Change {
            kind: Kind::Group,
            name: group.name.clone(),
            state: word,
            previous: previous.unwrap_or("INIT"),
            priority,
            interface: String::new(),
            vrid: None,
            vips,
            reason: format!("every member is {word}"),
        };
        self.fifos.write(&change);
        let specs = hooks::specs(&group.notify, &change, &self.hook_settings);
        self.hooks.push(
            &Owner::Group(group.name.clone()),
            0,
            word,
            specs,
            &self.event_tx,
        );
    }
}

/// What the daemon keeps of a sync group while it is configured (dropped when a reload
/// removes the group).
#[derive(Debug, Default)]
pub(super) struct GroupRun {
    /// The state its hooks were last run for.
    pub state: Option<&'static str>,
    /// The last of its hooks that finished.
    pub last_hook: Option<hooks::Finished>,
}
