//! One virtual router: the state machine of RFC 5798 section 6.4 (and RFC 3768 section 6.4),
//! extended with Fault and the operator's requests.
//!
//! Sans-IO: `handle(now, event)` returns the actions to carry out and `next_deadline()` the
//! time at which the caller must deliver [`Event::Timeout`]. `now` is any monotonic time
//! origin the caller chooses; the instance never reads a clock.

use std::net::IpAddr;
use std::time::Duration;

use super::event::{Action, Advert, Event, Lease, Reason, Refusal, State, WitnessRule};

mod lease;
use super::timers;
use crate::wire::vrrp::Version;

/// Priority of the router that owns the virtual addresses (RFC 5798 5.2.4).
pub const OWNER_PRIORITY: u8 = 255;
/// Priority that announces the master is leaving (RFC 5798 5.2.4).
pub const STOP_PRIORITY: u8 = 0;

/// What the state machine needs to know about its virtual router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub version: Version,
    /// Base priority, 1..=255 (255: address owner).
    pub priority: u8,
    /// Advertisement_Interval in centiseconds (VRRPv2: a multiple of 100).
    pub interval_cs: u16,
    /// This router's primary address on the interface: the source of its advertisements and
    /// the tie-breaker between equal priorities (RFC 5798 6.4.3).
    pub primary_address: IpAddr,
    /// Preempt_Mode (RFC 5798 6.1); keepalived's `nopreempt` / baton's `fallback manual` is false.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: how long a lower-priority master must have been seen
    /// before this router preempts it.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 5798 6.1).
    pub accept_mode: bool,
    /// A `fallback_check` script gates automatic preemption.
    pub fallback_gate: bool,
    /// How often a failed `fallback_check` is retried while a lower-priority master is seen.
    pub fallback_check_interval: Duration,
    /// Flap hold-down: after leaving MASTER, do not preempt again for this long.
    pub hold_down: Duration,
    /// A witness lease gates mastership (baton extension), with what to do when the
    /// witness cannot be reached; `None`: plain VRRP.
    pub witness: Option<WitnessRule>,
    /// A master answers a lower-priority advert with one of its own (RFC 9568; keepalived's
    /// default). False: `lower_prio_no_advert`, the older RFCs' silence.
    pub answer_lower: bool,
    /// A master that yields to a better one sends one last advert first
    /// (`higher_prio_send_advert`; baton's default, see `leave_master`).
    pub advert_before_yield: bool,
    /// keepalived's `state MASTER`: on Startup go to Master at once, as the address owner
    /// does, instead of waiting Master_Down_Interval in Backup. The configuration allows it
    /// only with preemption (a `fallback manual` node must hear the master first).
    pub start_as_master: bool,
}

impl Config {
    /// A configuration with keepalived's defaults for everything but the essentials.
    pub fn new(version: Version, priority: u8, interval_cs: u16, primary_address: IpAddr) -> Self {
        Config {
            version,
            priority,
            interval_cs,
            primary_address,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: true,
            fallback_gate: false,
            fallback_check_interval: Duration::from_secs(2),
            hold_down: Duration::ZERO,
            witness: None,
            answer_lower: true,
            advert_before_yield: true,
            start_as_master: false,
        }
    }
}

/// The last advertisement heard from another router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heard {
    pub address: IpAddr,
    pub priority: u8,
    pub interval_cs: u16,
    pub at: Duration,
}

/// Counters kept by the state machine (the I/O layer counts decode errors itself). The one
/// stats type: `baton status --json` shows it as the first fields of an instance's
/// `counters`, in this order (`control::status::Counters` flattens it), and metrics read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub became_master: u64,
    pub released_master: u64,
    /// VRRPv2 adverts whose interval differs from ours (RFC 3768 7.1: discarded).
    pub interval_mismatch: u64,
    /// Adverts from a lower-priority master heard while MASTER (split brain).
    pub lower_priority_master: u64,
}

/// The state machine of one virtual router.
#[derive(Clone, Debug)]
pub struct Instance {
    cfg: Config,
    state: State,
    since: Duration,
    reason: Reason,
    priority: u8,
    master_interval_cs: u16,
    adver_timer: Option<Duration>,
    master_down_timer: Option<Duration>,
    master: Option<Heard>,
    lower_master: Option<Heard>,
    resigned_master: Option<IpAddr>,
    lower_master_since: Option<Duration>,
    /// While MASTER: Master_Down_Interval after the last lower-priority master's advert, when
    /// that split brain counts as over and the addresses are announced once more.
    split_brain_ends_at: Option<Duration>,
    /// After taking over: the master it took over from, and until when that master's
    /// adverts sent before it heard ours, and its last one as it yields (see
    /// `leave_master`), are expected rather than a sign of split brain.
    displaced: Option<Displaced>,
    /// When this master last answered a lower-priority master.
    last_lower_answer: Option<Duration>,
    discarded_lower: bool,
    no_preempt_until: Duration,
    /// Until when its sync group holds it from preempting (see `Event::GroupHold`).
    group_hold_until: Duration,
    locked: bool,
    faulted: bool,
    gate_passed: bool,
    gate_retry_at: Option<Duration>,
    /// What the witness last said of the lease.
    lease: Lease,
    /// While the lease is held: until when it is safe to hold the addresses.
    lease_until: Option<Duration>,
    /// This router has asked for the lease ([`Action::WantLease`]) and not dropped it.
    wanting_lease: bool,
    /// A takeover waiting for the lease, with the reason it will be made for.
    pending_takeover: Option<Reason>,
    stats: Stats,
}

impl Instance {
    pub fn new(cfg: Config) -> Self {
        let priority = cfg.priority.max(1);
        Instance {
            master_interval_cs: cfg.interval_cs,
            priority,
            cfg,
            state: State::Initialize,
            since: Duration::ZERO,
            reason: Reason::Startup,
            adver_timer: None,
            master_down_timer: None,
            master: None,
            lower_master: None,
            resigned_master: None,
            lower_master_since: None,
            split_brain_ends_at: None,
            displaced: None,
            last_lower_answer: None,
            discarded_lower: false,
            no_preempt_until: Duration::ZERO,
            group_hold_until: Duration::ZERO,
            locked: false,
            faulted: false,
            gate_passed: false,
            gate_retry_at: None,
            lease: Lease::Unknown,
            lease_until: None,
            wanting_lease: false,
            pending_takeover: None,
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Apply a new configuration in place (reload), keeping the state, timers and what was
    /// heard. The effective priority becomes the new base priority; a new interval takes
    /// effect with the next advert (master) or the next timer reset (backup). Adding or
    /// removing a witness changes no state (see `lease::witness_changed`).
    pub fn reconfigure(&mut self, now: Duration, cfg: Config) -> Vec<Action> {
        self.priority = cfg.priority.max(1);
        if self.state != State::Backup || cfg.version == Version::V2 {
            self.master_interval_cs = cfg.interval_cs;
        }
        let had_witness = self.cfg.witness.is_some();
        self.cfg = cfg;
        let mut out = Vec::new();
        if had_witness != self.cfg.witness.is_some() {
            self.witness_changed(now, &mut out);
        }
        out
    }
    pub fn state(&self) -> State {
        self.state
    }
    /// When the current state was entered.
    pub fn since(&self) -> Duration {
        self.since
    }
    /// Why the current state was entered.
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// The effective priority (base priority adjusted by tracking).
    pub fn priority(&self) -> u8 {
        self.priority
    }
    /// The priority this router puts in its advertisements.
    pub fn advertised_priority(&self) -> u8 {
        self.priority
    }
    /// The master this router last heard (None while it is master itself or after the master
    /// announced it was leaving).
    pub fn master(&self) -> Option<Heard> {
        self.master
    }
    /// The last lower-priority master heard while this router was master (split brain).
    pub fn lower_master(&self) -> Option<Heard> {
        self.lower_master
    }
    pub fn locked(&self) -> bool {
        self.locked
    }
    /// Is preemption waiting for a `fallback_check` that has not passed?
    pub fn gate_closed(&self) -> bool {
        self.cfg.fallback_gate && !self.gate_passed
    }
    /// Until when preemption is held back (resign or flap hold-down).
    pub fn no_preempt_until(&self) -> Duration {
        self.no_preempt_until
    }
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// Master_Adver_Interval in centiseconds (learned from the master with VRRPv3).
    pub fn master_interval_cs(&self) -> u16 {
        self.master_interval_cs
    }
    /// Master_Down_Interval with the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        timers::master_down_interval(self.cfg.version, self.priority, self.master_interval_cs)
    }
    fn skew_time(&self) -> Duration {
        timers::skew_time(self.cfg.version, self.priority, self.master_interval_cs)
    }
    fn advert_interval(&self) -> Duration {
        timers::interval(self.cfg.interval_cs)
    }

    /// RFC 5798 6.4.3: the master accepts packets for the virtual addresses only if it owns
    /// them or Accept_Mode is true.
    pub fn accepts_vip_traffic(&self) -> bool {
        self.state == State::Master && (self.is_owner() || self.cfg.accept_mode)
    }

    fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// The time at which the caller must deliver [`Event::Timeout`], if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.adver_timer,
            self.master_down_timer,
            self.split_brain_ends_at,
            self.lease_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Feed one event; returns the actions to carry out, in order.
    pub fn handle(&mut self, now: Duration, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Startup => self.on_startup(now, &mut out),
            Event::Shutdown => self.on_shutdown(now, &mut out),
            Event::Timeout => self.on_timeout(now, &mut out),
            Event::Advert(advert) => self.on_advert(now, advert, &mut out),
            Event::Fault => self.on_fault(now, &mut out),
            Event::FaultCleared => self.on_fault_cleared(now, &mut out),
            Event::SetPriority(priority) => self.priority = priority.max(1),
            Event::Resign { hold } => self.on_resign(now, hold, &mut out),
            Event::Fallback => self.on_fallback(now, &mut out),
            Event::Lock => self.on_lock(now, &mut out),
            Event::Unlock => self.on_unlock(now),
            Event::FallbackCheck { passed } => self.on_fallback_check(now, passed),
            Event::GroupMaster => self.on_group_master(now, &mut out),
            Event::GroupBackup => self.on_group_backup(now, &mut out),
            Event::HoldBackup { hold } => {
                self.no_preempt_until = self.no_preempt_until.max(now.saturating_add(hold));
            }
            Event::GroupHold { hold } => {
                self.group_hold_until = self.group_hold_until.max(now.saturating_add(hold));
            }
            Event::Lease(lease) => self.on_lease(now, lease, &mut out),
        }
        out
    }

    fn on_startup(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.faulted {
            self.enter(now, State::Fault, Reason::Fault, out);
        } else if (self.is_owner() || self.cfg.start_as_master) && !self.locked {
            // RFC 5798 6.4.1: the address owner goes straight to Master (with a witness,
            // once it holds the lease: it waits for it in Backup). keepalived's
            // `state MASTER` does the same for any priority; a better master, once heard,
            // takes the addresses back (RFC 5798 6.4.3).
            if self.cfg.witness.is_some() {
                self.enter_backup(now, Reason::Startup, out);
            }
            let reason = if self.is_owner() {
                Reason::AddressOwner
            } else {
                Reason::InitialState
            };
            self.take_over(now, reason, out);
        } else {
            // RFC 5798 6.4.1: otherwise Master_Adver_Interval = Advertisement_Interval,
            // Master_Down_Timer = Master_Down_Interval, transition to Backup.
            self.enter_backup(now, Reason::Startup, out);
        }
    }

    fn on_shutdown(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            // RFC 5798 6.4.3: cancel Adver_Timer, send an advert with priority 0, go to Initialize.
            State::Master => self.leave_master(now, State::Initialize, Reason::Shutdown, out),
            // RFC 5798 6.4.2: cancel Master_Down_Timer, go to Initialize.
            State::Backup | State::Fault => {
                self.enter(now, State::Initialize, Reason::Shutdown, out)
            }
            State::Initialize => {}
        }
    }

    fn on_timeout(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                if self.lease_expired(now) {
                    // baton extension: the witness lease may soon be granted to another
                    // node; let go of the addresses before it can be.
                    self.leave_master(now, State::Backup, Reason::LeaseLost, out);
                    return;
                }
                if self.adver_timer.is_some_and(|t| t <= now) {
                    // RFC 5798 6.4.3: Adver_Timer fired: send an advert, reset the timer.
                    self.send_advert(self.advertised_priority(), out);
                    self.adver_timer = Some(self.next_advert_after(now));
                }
                if self.split_brain_ends_at.is_some_and(|t| t <= now) {
                    // Not in RFC 5798: the lower-priority master has gone quiet (it yielded
                    // or is gone). While both were master, its gratuitous ARPs may have come
                    // after ours and pulled clients away; announce once more now it is over.
                    self.split_brain_ends_at = None;
                    out.push(Action::AnnounceAgain);
                }
            }
            State::Backup if self.master_down_timer.is_some_and(|t| t <= now) => {
                // RFC 5798 6.4.2: Master_Down_Timer fired: become Master (with a witness,
                // once it holds the lease).
                let reason = self.takeover_reason();
                self.take_over(now, reason, out);
            }
            State::Backup if self.adver_timer.is_some_and(|t| t <= now) => {
                self.send_claim(now, out);
            }
            _ => {}
        }
    }

    /// The next Adver_Timer deadline: one interval after the one that fired, so that a
    /// timer delivered a little late does not stretch the advert period; but never in the
    /// past (after a long stall, one interval from now, without a burst of catch-up adverts).
    fn next_advert_after(&self, now: Duration) -> Duration {
        let interval = self.advert_interval();
        match self.adver_timer {
            Some(fired) if fired.saturating_add(interval) > now => fired.saturating_add(interval),
            _ => now.saturating_add(interval),
        }
    }

    fn takeover_reason(&self) -> Reason {
        if let Some(from) = self.resigned_master {
            return Reason::MasterResigned { from };
        }
        match (self.discarded_lower, self.master) {
            (true, Some(m)) => Reason::Preempting {
                over: m.address,
                priority: m.priority,
            },
            _ => Reason::MasterDown,
        }
    }

    fn on_advert(&mut self, now: Duration, advert: Advert, out: &mut Vec<Action>) {
        self.stats.adverts_received += 1;
        if advert.priority == STOP_PRIORITY {
            self.stats.priority_zero_received += 1;
        }
        if advert.interval_cs == 0 || self.v2_interval_mismatch(advert) {
            // RFC 3768 7.1: a VRRPv2 advert whose interval differs from ours is discarded.
            self.stats.interval_mismatch += 1;
            return;
        }
        match self.state {
            State::Backup => self.backup_advert(now, advert, out),
            State::Master => self.master_advert(now, advert, out),
            State::Fault => self.remember_master(now, advert),
            State::Initialize => {}
        }
    }

    fn v2_interval_mismatch(&self, advert: Advert) -> bool {
        self.cfg.version == Version::V2 && advert.interval_cs != self.cfg.interval_cs
    }

    fn remember_master(&mut self, now: Duration, advert: Advert) {
        if advert.priority == STOP_PRIORITY {
            self.master = None;
            return;
        }
        self.master = Some(Heard {
            address: advert.src,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            at: now,
        });
    }

    fn backup_advert(&mut self, now: Duration, advert: Advert, out: &mut Vec<Action>) {
        self.remember_master(now, advert);
        if advert.priority == STOP_PRIORITY {
            // RFC 5798 6.4.2: priority 0: set Master_Down_Timer to Skew_Time.
            self.resigned_master = Some(advert.src);
            if !self.locked {
                self.master_down_timer = Some(now.saturating_add(self.skew_time()));
            }
            return;
        }
        self.resigned_master = None;
        if advert.priority >= self.priority {
            self.lower_master_since = None;
            self.accept_master(now, advert);
            self.cancel_takeover(out);
            return;
        }
        self.lower_master_since.get_or_insert(now);
        if self.may_preempt(now, out) {
            // RFC 5798 6.4.2: Preempt_Mode True and a lower priority: discard the advert;
            // Master_Down_Timer runs out and this router preempts.
            self.discarded_lower = true;
            if self.pending_takeover.is_some() {
                // Waiting for the lease, it now hears a master it may preempt.
                self.pending_takeover = Some(Reason::Preempting {
                    over: advert.src,
                    priority: advert.priority,
                });
            }
            self.start_claims(now, out);
        } else {
            // RFC 5798 6.4.2: Preempt_Mode False: accept the lower-priority master.
            self.accept_master(now, advert);
            self.cancel_takeover(out);
        }
    }

    /// RFC 5798 6.4.2: learn Master_Adver_Interval (VRRPv3), recompute Master_Down_Interval
    /// and reset Master_Down_Timer.
    fn accept_master(&mut self, now: Duration, advert: Advert) {
        self.discarded_lower = false;
        if self.cfg.version == Version::V3 {
            self.master_interval_cs = advert.interval_cs;
        }
        if !self.locked {
            self.master_down_timer = Some(now.saturating_add(self.master_down_interval()));
        }
    }

    /// May this Backup preempt a lower-priority master now?
    fn may_preempt(&mut self, now: Duration, out: &mut Vec<Action>) -> bool {
        // RFC 5798 6.1 (Preempt_Mode): the address owner always preempts.
        if self.is_owner() {
            return true;
        }
        if !self.cfg.preempt || now < self.no_preempt_until || now < self.group_hold_until {
            return false;
        }
        let seen_since = self.lower_master_since.unwrap_or(now);
        if now < seen_since.saturating_add(self.cfg.preempt_delay) {
            return false;
        }
        self.gate_open(now, out)
    }

    /// The `fallback_check` gate: open if no gate is configured or the last check passed;
    /// otherwise ask for a check, at most once per `fallback_check_interval`.
    fn gate_open(&mut self, now: Duration, out: &mut Vec<Action>) -> bool {
        if !self.cfg.fallback_gate || self.gate_passed {
            return true;
        }
        if self.gate_retry_at.is_none_or(|t| t <= now) {
            self.gate_retry_at = Some(now.saturating_add(self.cfg.fallback_check_interval));
            out.push(Action::RunFallbackCheck);
        }
        false
    }

    fn on_fallback_check(&mut self, now: Duration, passed: bool) {
        self.gate_passed = passed && self.state == State::Backup;
        if !passed {
            self.gate_retry_at = Some(now.saturating_add(self.cfg.fallback_check_interval));
        }
    }

    fn master_advert(&mut self, now: Duration, advert: Advert, out: &mut Vec<Action>) {
        if advert.priority == STOP_PRIORITY {
            // RFC 5798 6.4.3: priority 0: send an advert at once and reset Adver_Timer.
            self.send_advert(self.advertised_priority(), out);
            self.adver_timer = Some(now.saturating_add(self.advert_interval()));
            return;
        }
        if self.outranked_by(advert) {
            // RFC 5798 6.4.3: a higher priority, or an equal priority from a higher primary
            // address: cancel Adver_Timer, learn the interval, go to Backup.
            let reason = Reason::Preempted {
                from: advert.src,
                priority: advert.priority,
            };
            self.leave_master(now, State::Backup, reason, out);
            self.remember_master(now, advert);
            self.accept_master(now, advert);
            return;
        }
        // RFC 5798 6.4.3 says discard. Like keepalived, answer a lower-priority master at once
        // and re-announce the addresses, so a healed split brain converges within one
        // round trip and the clients' ARP caches follow. Unlike keepalived, at most one
        // answer per Advertisement_Interval, and the addresses are announced again only
        // for a new split brain (none heard for Master_Down_Interval): a flood of forged
        // lower-priority adverts cannot make this master flood the network.
        if let Some(displaced) = self.displaced.as_mut().filter(|d| now < d.until) {
            match displaced.from {
                // The master this router just took over from: its adverts sent before it
                // heard ours, and its last one as it yields (see `leave_master`), are
                // expected for one Master_Down_Interval, not a split brain; nothing to
                // answer.
                Some(address) if address == advert.src => return,
                // Taken over at start-up (address owner, `state MASTER`) before any master
                // could be heard: the first lower-priority master heard within the window
                // is the one it displaced, and no split brain; a second one, or the same
                // one after the window, is. It may not have heard this router yet (both
                // started as master at once): answer it, so it yields within a round trip.
                None => {
                    displaced.from = Some(advert.src);
                    self.answer_lower(now, out);
                    return;
                }
                Some(_) => {}
            }
        }
        self.stats.lower_priority_master += 1;
        self.split_brain_ends_at = Some(now.saturating_add(self.master_down_interval()));
        let previous = self.lower_master.map(|h| h.at);
        self.lower_master = Some(Heard {
            address: advert.src,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            at: now,
        });
        self.answer_lower(now, out);
        if previous.is_none_or(|at| now >= at.saturating_add(self.master_down_interval())) {
            out.push(Action::SplitBrain {
                from: advert.src,
                priority: advert.priority,
            });
            out.push(Action::AnnounceAgain);
        }
    }

    /// RFC 5798 6.4.3: is the sender of `advert` a better master than this router?
    /// Answer a lower-priority master with an advert at once, at most once per
    /// Advertisement_Interval; never with `lower_prio_no_advert` (RFC 5798 6.4.3 as
    /// written: discard).
    fn answer_lower(&mut self, now: Duration, out: &mut Vec<Action>) {
        let answered = self
            .last_lower_answer
            .is_some_and(|t| now < t.saturating_add(self.advert_interval()));
        if !answered && self.cfg.answer_lower {
            self.last_lower_answer = Some(now);
            self.send_advert(self.advertised_priority(), out);
            self.adver_timer = Some(now.saturating_add(self.advert_interval()));
        }
    }

    fn outranked_by(&self, advert: Advert) -> bool {
        advert.priority > self.priority
            || (advert.priority == self.priority
                && address_key(advert.src) > address_key(self.cfg.primary_address))
    }

    fn on_fault(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.faulted = true;
        match self.state {
            State::Master => self.leave_master(now, State::Fault, Reason::Fault, out),
            State::Backup => self.enter(now, State::Fault, Reason::Fault, out),
            State::Fault | State::Initialize => {}
        }
    }

    fn on_fault_cleared(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.faulted = false;
        if self.state != State::Fault {
            return;
        }
        self.enter_backup(now, Reason::FaultCleared, out);
        if self.is_owner() && !self.locked {
            // RFC 5798 6.4.1, as at startup: the owner takes over at once.
            self.take_over(now, Reason::AddressOwner, out);
        }
    }

    /// keepalived sync groups (not in the RFC): a member that became master takes the
    /// others along, as if their Master_Down_Timer had fired (RFC 5798 6.4.2). A locked
    /// member, or one in Fault or Initialize, stays where it is.
    fn on_group_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state == State::Backup && !self.locked {
            self.take_over(now, Reason::SyncGroup, out);
        }
    }

    /// keepalived sync groups: a member that went back to backup takes the others along.
    /// They leave as on shutdown (RFC 5798 6.4.3: priority 0, so the peer's members take
    /// over after Skew_Time) and do not preempt back for the flap hold-down.
    fn on_group_backup(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.leave_master(now, State::Backup, Reason::SyncGroup, out);
        }
    }

    fn on_resign(&mut self, now: Duration, hold: Duration, out: &mut Vec<Action>) {
        if let Some(refusal) = self.refusal_unless(State::Master, Refusal::NotMaster) {
            out.push(Action::Refuse(refusal));
            return;
        }
        self.leave_master(now, State::Backup, Reason::Resigned, out);
        self.no_preempt_until = self.no_preempt_until.max(now.saturating_add(hold));
    }

    fn on_fallback(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.fallback_refusal() {
            Some(refusal) => out.push(Action::Refuse(refusal)),
            None => self.take_over(now, Reason::Fallback, out),
        }
    }

    /// Why [`Event::Fallback`] would be refused now, if it would: locked, already master,
    /// not running, in Fault, or not outranking the master it hears. The I/O layer asks
    /// before it runs the (slow) `fallback_check` script.
    pub fn fallback_refusal(&self) -> Option<Refusal> {
        if self.locked {
            return Some(Refusal::Locked);
        }
        if self.state == State::Master {
            return Some(Refusal::AlreadyMaster);
        }
        if let Some(refusal) = self.refusal_unless(State::Backup, Refusal::NotRunning) {
            return Some(refusal);
        }
        self.master
            .filter(|m| !self.outranks(m))
            .map(|m| Refusal::DoesNotOutrank {
                master: m.address,
                master_priority: m.priority,
                priority: self.priority,
            })
    }

    /// Does this router beat `other` in an election (RFC 5798 6.4.3 ordering)?
    fn outranks(&self, other: &Heard) -> bool {
        self.priority > other.priority
            || (self.priority == other.priority
                && address_key(self.cfg.primary_address) > address_key(other.address))
    }

    /// None if the instance is in `wanted`; otherwise the refusal that explains why not.
    fn refusal_unless(&self, wanted: State, otherwise: Refusal) -> Option<Refusal> {
        match self.state {
            s if s == wanted => None,
            State::Fault => Some(Refusal::InFault),
            State::Initialize => Some(Refusal::NotRunning),
            _ => Some(otherwise),
        }
    }

    fn on_lock(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.locked = true;
        match self.state {
            State::Master => self.leave_master(now, State::Backup, Reason::Locked, out),
            State::Backup => {
                self.master_down_timer = None;
                self.cancel_takeover(out);
            }
            State::Fault | State::Initialize => {}
        }
    }

    fn on_unlock(&mut self, now: Duration) {
        if !self.locked {
            return;
        }
        self.locked = false;
        if self.state == State::Backup {
            self.master_down_timer = Some(now.saturating_add(self.master_down_interval()));
        }
    }

    /// Enter Backup from Initialize or Fault (RFC 5798 6.4.1).
    fn enter_backup(&mut self, now: Duration, reason: Reason, out: &mut Vec<Action>) {
        self.enter(now, State::Backup, reason, out);
        self.master_interval_cs = self.cfg.interval_cs;
        if !self.locked {
            self.master_down_timer = Some(now.saturating_add(self.master_down_interval()));
        }
    }

    /// RFC 5798 6.4.1 / 6.4.2: send an advert, announce the addresses, set Adver_Timer.
    fn become_master(&mut self, now: Duration, reason: Reason, out: &mut Vec<Action>) {
        let from = self.master.map(|m| m.address);
        let at_startup = matches!(reason, Reason::AddressOwner | Reason::InitialState);
        self.pending_takeover = None;
        self.enter(now, State::Master, reason, out);
        self.displaced = (from.is_some() || at_startup).then(|| Displaced {
            from,
            until: now.saturating_add(self.master_down_interval()),
        });
        self.stats.became_master += 1;
        out.push(Action::AddAddresses);
        self.send_advert(self.advertised_priority(), out);
        out.push(Action::Announce);
        self.adver_timer = Some(now.saturating_add(self.advert_interval()));
    }

    /// Leave Master. Going to Backup because a better master was heard sends nothing; every
    /// other exit sends priority 0 so a backup takes over after Skew_Time (RFC 5798 6.4.3).
    fn leave_master(&mut self, now: Duration, to: State, reason: Reason, out: &mut Vec<Action>) {
        self.enter(now, to, reason, out);
        self.stats.released_master += 1;
        match reason {
            // RFC 5798 6.4.3 as written (`higher_prio_send_advert off`): Backup silently.
            Reason::Preempted { .. } if !self.cfg.advert_before_yield => {}
            // Not in RFC 5798 6.4.3 (keepalived's `higher_prio_send_advert`, baton's
            // default). After a two-way partition both routers are master; when it heals,
            // the better one may never hear this one (its first advert here came first), so
            // it would not announce the addresses again and the clients would keep this
            // router's MAC until their neighbour entry timed out (up to 8 s in the soak).
            // One last advert at our priority makes it answer as to any lower-priority
            // master: an advert and a fresh announcement.
            Reason::Preempted { .. } => self.send_advert(self.advertised_priority(), out),
            _ => self.send_advert(STOP_PRIORITY, out),
        }
        out.push(Action::RemoveAddresses);
        // baton extension: give the witness lease up only once the addresses are gone.
        self.drop_lease(out);
        self.no_preempt_until = self
            .no_preempt_until
            .max(now.saturating_add(self.cfg.hold_down));
        if to == State::Backup && !self.locked {
            self.master_down_timer = Some(now.saturating_add(self.master_down_interval()));
        }
    }

    /// Record a transition and reset what belongs to the previous state.
    fn enter(&mut self, now: Duration, to: State, reason: Reason, out: &mut Vec<Action>) {
        if self.state != State::Master && to != State::Master {
            // No addresses held: a takeover waiting for the lease is off.
            self.drop_lease(out);
        }
        out.push(Action::Transition {
            from: self.state,
            to,
            reason,
        });
        self.state = to;
        self.since = now;
        self.reason = reason;
        self.adver_timer = None;
        self.master_down_timer = None;
        self.lower_master_since = None;
        self.split_brain_ends_at = None;
        self.displaced = None;
        self.discarded_lower = false;
        self.resigned_master = None;
        self.gate_passed = false;
        self.gate_retry_at = None;
        if to == State::Master {
            self.master = None;
        } else {
            self.lower_master = None;
        }
    }

    fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        self.stats.adverts_sent += 1;
        if priority == STOP_PRIORITY {
            self.stats.priority_zero_sent += 1;
        }
        out.push(Action::SendAdvert { priority });
    }
}

/// RFC 5798 6.4.3 compares primary addresses "as unsigned integers in network byte order".
/// The master a takeover displaced (see `Instance::displaced`).
#[derive(Clone, Copy, Debug)]
struct Displaced {
    /// Its address; `None` after a takeover at start-up, until the first lower-priority
    /// master is heard.
    from: Option<IpAddr>,
    until: Duration,
}

fn address_key(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}
