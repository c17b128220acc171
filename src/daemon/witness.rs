//! The protocol thread's side of the witness: starting the client thread, telling it which
//! keys to follow and whether the lease is wanted, feeding its reports to the state
//! machines, and applying a reload that adds, changes or removes the `witness` block
//! without a transition.

use tracing::{error, info};

use super::{Daemon, DaemonError, Internal, translate};
use crate::config::{self, Model};
use crate::vrrp::{Event, Lease};
use crate::witness::{Command, Report, Settings, Witness};

impl Daemon {
    /// Starts the witness client when the configuration has one.
    pub(super) fn start_witness(
        &mut self,
        witness: Option<&config::Witness>,
        global: &config::Global,
    ) -> Result<(), DaemonError> {
        let Some(witness) = witness else {
            return Ok(());
        };
        let settings = Settings::new(witness, global.router_id.as_deref());
        let events = self.event_tx.clone();
        let report = std::sync::Arc::new(move |r: Report| {
            let _ = events.send(Internal::Witness(Box::new(r)));
        });
        let started =
            Witness::start(settings, self.origin.into_std(), report).map_err(|message| {
                DaemonError::Instance {
                    instance: "witness".into(),
                    message,
                }
            })?;
        self.witness = Some(started);
        Ok(())
    }

    /// Gives every lease up (the addresses are gone by now) and ends the client thread.
    pub(super) fn stop_witness(&mut self) {
        if let Some(witness) = self.witness.take() {
            witness.stop();
        }
    }

    /// Starts following an instance's key, if it uses the witness.
    pub(super) fn follow_witness(&mut self, name: &str) {
        let (Some(witness), Some(router)) = (&self.witness, self.routers.get(name)) else {
            return;
        };
        let Some(key) = &router.cfg.witness_key else {
            return;
        };
        let full = format!("{}{key}", witness.settings.config.prefix);
        self.follow_key(name, full);
    }

    /// A new epoch for a lease command. One counter for the daemon: a router that is
    /// rebuilt (a reload that restarts it) must not take the old task's reports as its own.
    fn next_epoch(&mut self) -> u64 {
        self.witness_epoch += 1;
        self.witness_epoch
    }

    /// Follows `full` (the key with its prefix) for an instance.
    fn follow_key(&mut self, name: &str, full: String) {
        let (follow, want) = (self.next_epoch(), self.next_epoch());
        let (Some(witness), Some(router)) = (&self.witness, self.routers.get_mut(name)) else {
            return;
        };
        router.witness_epoch = follow;
        witness.send(Command::Follow {
            instance: name.to_string(),
            key: full.clone(),
            epoch: follow,
        });
        if router.machine.wants_lease() {
            router.witness_epoch = want;
            witness.send(Command::Want(name.to_string(), want));
        }
        router.witness_key = Some(full);
    }

    pub(super) fn forget_witness(&mut self, name: &str) {
        let (Some(witness), Some(router)) = (&self.witness, self.routers.get_mut(name)) else {
            return;
        };
        if router.witness_key.take().is_some() {
            witness.send(Command::Forget(name.to_string()));
        }
        router.witness_info = crate::witness::Info::default();
    }

    /// `Action::WantLease` / `Action::DropLease`. `revoke` false: the addresses could not
    /// all be removed, so the lease is left to expire rather than given to another node.
    pub(super) fn witness_command(&mut self, name: &str, want: bool, revoke: bool) {
        let epoch = self.next_epoch();
        let (Some(witness), Some(router)) = (&self.witness, self.routers.get_mut(name)) else {
            return;
        };
        if router.witness_key.is_none() {
            return;
        }
        router.witness_epoch = epoch;
        let instance = name.to_string();
        witness.send(if want {
            Command::Want(instance, epoch)
        } else {
            Command::Drop {
                instance,
                epoch,
                revoke,
            }
        });
    }

    pub(super) async fn on_witness(&mut self, report: Report) {
        let Some(router) = self.routers.get_mut(&report.instance) else {
            return;
        };
        if router.witness_key.is_none() || report.epoch != router.witness_epoch {
            // Sent before the latest Want or Drop: e.g. the renewal of a lease given up
            // since, which must not make this node master again.
            return;
        }
        router.witness_info = report.info;
        self.deliver(&report.instance, Event::Lease(report.lease))
            .await;
    }

    /// A reload: the `witness` block or instances' keys may have changed. The client is
    /// restarted only if its settings changed; each state machine learns whether it uses
    /// a witness now (`Instance::reconfigure`: no transition, a master asks for the lease).
    pub(super) async fn reload_witness(&mut self, new: &Model) -> Result<(), String> {
        let settings = new
            .witness
            .as_ref()
            .map(|w| Settings::new(w, new.global.router_id.as_deref()));
        let current = self.witness.as_ref().map(|w| w.settings.clone());
        match (&mut self.witness, settings) {
            (Some(witness), Some(settings)) if Some(&settings) != current.as_ref() => {
                // Same thread, leases kept: only the client and the settings change.
                if let Err(e) = witness.reconfigure(settings) {
                    error!("reload: the new witness settings cannot be used, keeping the old: {e}");
                    return Err(format!("witness: {e}"));
                }
                info!("reload: witness settings applied");
            }
            (Some(_), None) => {
                let names: Vec<String> = self.routers.keys().cloned().collect();
                for name in &names {
                    self.forget_witness(name);
                }
                // Not waited for: the thread gives the leases up on its own time, while
                // this loop goes on sending adverts.
                if let Some(witness) = self.witness.take() {
                    witness.detach();
                }
                info!("reload: witness removed");
            }
            (None, Some(_)) => {
                if let Err(e) = self.start_witness(new.witness.as_ref(), &new.global) {
                    error!("reload: the witness cannot start: {e}");
                    return Err(format!("witness: {e}"));
                }
            }
            _ => {}
        }
        let names: Vec<String> = self.routers.keys().cloned().collect();
        for name in names {
            self.apply_witness_rule(&name, new).await;
        }
        Ok(())
    }

    /// Tells an instance's state machine whether it uses the witness, and follows its key.
    async fn apply_witness_rule(&mut self, name: &str, model: &Model) {
        let now = self.now();
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        let cfg = model.instance(name).unwrap_or(&router.cfg).clone();
        let rule = translate::witness_rule(model.witness.as_ref(), &cfg);
        let key = cfg
            .witness_key
            .as_ref()
            .zip(model.witness.as_ref())
            .map(|(k, w)| format!("{}{k}", w.prefix));
        let mut actions = Vec::new();
        if router.machine.config().witness != rule {
            let mut machine_cfg = router.machine.config().clone();
            machine_cfg.witness = rule;
            actions = router.machine.reconfigure(now, machine_cfg);
        }
        if router.witness_key != key {
            self.forget_witness(name);
            if let Some(key) = key.filter(|_| rule.is_some()) {
                self.follow_key(name, key);
            }
        }
        self.carry_out(name, actions).await;
    }
}

/// The witness part of an instance's status.
pub(super) fn status(
    router: &super::Router,
    now: std::time::Duration,
) -> Option<crate::control::status::WitnessStatus> {
    use crate::control::status::LeaseState;
    let key = router.witness_key.clone()?;
    let machine = &router.machine;
    let rule = machine.config().witness?;
    let lease = match machine.lease() {
        Lease::Held { .. } => LeaseState::Held,
        Lease::HeldBy { .. } => LeaseState::HeldBy,
        Lease::Free => LeaseState::Free,
        Lease::Unreachable => LeaseState::Unreachable,
        Lease::Unknown => LeaseState::Unknown,
    };
    let info = &router.witness_info;
    Some(crate::control::status::WitnessStatus {
        key,
        lease,
        holder: info.holder.clone(),
        ttl_left_s: machine
            .lease_until()
            .map(|until| until.saturating_sub(now).as_secs_f64()),
        endpoint: info.endpoint.clone(),
        error: info.error.clone(),
        waiting: machine.pending_takeover().is_some(),
        when_unreachable: rule.when_unreachable.into(),
    })
}

/// Why the instance is in its state; while a takeover waits for the lease, that.
pub(super) fn reason(machine: &crate::vrrp::Instance) -> String {
    let Some(pending) = machine.pending_takeover() else {
        return machine.reason().to_string();
    };
    match machine.lease() {
        Lease::HeldBy { holder } => format!("witness: lease held by {holder} ({pending})"),
        Lease::Unreachable => format!("witness: unreachable, no takeover ({pending})"),
        _ => format!("witness: asking for the lease ({pending})"),
    }
}
