//! The witness lease (baton extension; neither RFC 5798 nor keepalived has one).
//!
//! VRRP alone cannot tell "the master is dead" from "I cannot hear the master", so in a
//! partition both sides become master. With a witness, mastership also needs the group's
//! lease on an external consensus store:
//!
//! - a router **becomes** master (RFC 5798 6.4.1 owner start, 6.4.2 Master_Down_Timer, a
//!   sync group, an operator fallback) only while it holds the lease; otherwise it asks for
//!   it ([`Action::WantLease`]) and waits in Backup;
//! - a master **lets go** of the addresses when the witness says another node holds the
//!   lease, or (with [`WhenUnreachable::Release`]) when its lease runs out. The deadline
//!   the witness client reports ends before the witness could grant the lease to anyone
//!   else, so the old master lets go first;
//! - a master that leaves gives the lease up ([`Action::DropLease`]) after removing its
//!   addresses, so a backup is granted it at once;
//! - a backup that outranks the master it hears (preemption, fallback) cannot wait for the
//!   lease to be given up, because the master keeps it while it is master: it sends an
//!   advertisement at its own priority each Advertisement_Interval (a claim) while it
//!   waits. The master yields to it as RFC 5798 6.4.3 says, drops the lease, and the
//!   backup takes over when it is granted.

use std::time::Duration;

use super::Instance;
use crate::vrrp::event::{Action, Lease, Reason, State, WhenUnreachable};

impl Instance {
    /// What the witness last said of the lease.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The takeover waiting for the witness lease, with its reason.
    pub fn pending_takeover(&self) -> Option<Reason> {
        self.pending_takeover
    }

    /// Has this router asked for the lease (and not dropped it)?
    pub fn wants_lease(&self) -> bool {
        self.wanting_lease
    }

    /// While this router holds the lease: until when it may keep the addresses.
    pub fn lease_until(&self) -> Option<Duration> {
        self.lease_until
    }

    /// Become master now if the witness allows it; otherwise ask for the lease and wait
    /// for it in Backup.
    pub(super) fn take_over(&mut self, now: Duration, reason: Reason, out: &mut Vec<Action>) {
        if self.may_hold_addresses(now) {
            self.want_lease(out);
            self.become_master(now, reason, out);
            return;
        }
        self.pending_takeover = Some(reason);
        self.master_down_timer = None;
        self.want_lease(out);
        self.send_claim(now, out);
    }

    fn may_hold_addresses(&self, now: Duration) -> bool {
        let Some(rule) = self.cfg.witness else {
            return true;
        };
        match self.lease {
            Lease::Held { until } => now < until,
            Lease::Unreachable => rule.when_unreachable == WhenUnreachable::Takeover,
            Lease::Unknown | Lease::HeldBy { .. } | Lease::Free => false,
        }
    }

    fn want_lease(&mut self, out: &mut Vec<Action>) {
        if self.cfg.witness.is_some() && !self.wanting_lease {
            self.wanting_lease = true;
            out.push(Action::WantLease);
        }
    }

    /// Stop wanting the lease (and give it up if held).
    pub(super) fn drop_lease(&mut self, out: &mut Vec<Action>) {
        self.pending_takeover = None;
        if !self.wanting_lease {
            return;
        }
        self.wanting_lease = false;
        self.lease_until = None;
        if matches!(self.lease, Lease::Held { .. }) {
            self.lease = Lease::Unknown;
        }
        out.push(Action::DropLease);
    }

    /// A master was heard (or the router may no longer take over): a takeover waiting for
    /// the lease is off.
    pub(super) fn cancel_takeover(&mut self, out: &mut Vec<Action>) {
        if self.pending_takeover.is_some() {
            self.adver_timer = None;
            self.drop_lease(out);
        }
    }

    pub(super) fn on_lease(&mut self, now: Duration, lease: Lease, out: &mut Vec<Action>) {
        if self.cfg.witness.is_none() {
            return;
        }
        match lease {
            // Granted after this router dropped it (the witness client gives it back).
            Lease::Held { .. } if !self.wanting_lease => return,
            Lease::Held { until } => self.lease_until = Some(until),
            Lease::HeldBy { .. } | Lease::Free => self.lease_until = None,
            Lease::Unreachable | Lease::Unknown => {}
        }
        self.lease = lease;
        match self.state {
            State::Master if matches!(self.lease, Lease::HeldBy { .. }) => {
                // The witness gave the lease to another node, which may take over now.
                self.leave_master(now, State::Backup, Reason::LeaseLost, out);
            }
            State::Master if self.lease_expired(now) => {
                self.leave_master(now, State::Backup, Reason::LeaseLost, out);
            }
            State::Backup => {
                if let Some(reason) = self.pending_takeover
                    && self.may_hold_addresses(now)
                {
                    self.become_master(now, reason, out);
                } else {
                    self.start_claims(now, out);
                }
            }
            _ => {}
        }
    }

    /// A waiting backup that now outranks a master holding the lease starts claiming.
    pub(super) fn start_claims(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.pending_takeover.is_some() && self.adver_timer.is_none() {
            self.send_claim(now, out);
        }
    }

    /// With `Release`, a master whose lease has run out (or that has none) must let go.
    pub(super) fn lease_expired(&self, now: Duration) -> bool {
        self.state == State::Master
            && self
                .cfg
                .witness
                .is_some_and(|rule| rule.when_unreachable == WhenUnreachable::Release)
            && self.lease_until.is_none_or(|until| until <= now)
    }

    /// The time at which a master's lease runs out, if it must let go then.
    pub(super) fn lease_deadline(&self) -> Option<Duration> {
        let release = self
            .cfg
            .witness
            .is_some_and(|rule| rule.when_unreachable == WhenUnreachable::Release);
        (self.state == State::Master && release).then_some(self.lease_until?)
    }

    /// A backup waiting for the lease to preempt the master it hears, which holds the
    /// lease: advertise at this router's priority so that master yields (RFC 5798 6.4.3)
    /// and gives the lease up. Once per Advertisement_Interval while waiting.
    pub(super) fn send_claim(&mut self, now: Duration, out: &mut Vec<Action>) {
        // Only a takeover the RFC lets this router force on a live master: preemption
        // (Preempt_Mode, RFC 5798 6.4.2), the address owner, the operator's fallback, a
        // sync group following its members. Not Master_Down: the master it remembers is
        // one it no longer hears (and with Preempt_Mode off, a claim would be a preemption
        // the configuration forbids).
        let forcing = matches!(
            self.pending_takeover,
            Some(
                Reason::Preempting { .. }
                    | Reason::Fallback
                    | Reason::AddressOwner
                    | Reason::SyncGroup
            )
        );
        let claiming = forcing
            && matches!(self.lease, Lease::HeldBy { .. })
            && self.master.is_some_and(|m| self.outranks(&m));
        if !claiming {
            self.adver_timer = None;
            return;
        }
        self.send_advert(self.advertised_priority(), out);
        self.adver_timer = Some(now.saturating_add(self.advert_interval()));
    }

    /// A reload added or removed the witness.
    pub(super) fn witness_changed(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.lease = Lease::Unknown;
        self.lease_until = None;
        match self.cfg.witness {
            Some(rule) => {
                if self.state == State::Master {
                    // Keep the addresses while the lease is asked for; with `Release`,
                    // let go if it is not granted within one lease time.
                    self.wanting_lease = false;
                    self.want_lease(out);
                    self.lease_until = Some(now.saturating_add(rule.lease_ttl));
                }
            }
            None => {
                let waiting = self.pending_takeover.take().is_some();
                self.wanting_lease = false;
                self.adver_timer = self.adver_timer.filter(|_| self.state == State::Master);
                if waiting && self.state == State::Backup && !self.locked {
                    // Plain VRRP again: wait Master_Down_Interval as RFC 5798 6.4.2 says.
                    self.master_down_timer = Some(now.saturating_add(self.master_down_interval()));
                }
            }
        }
    }
}
