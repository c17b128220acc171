//! What goes into the state machine (events) and what comes out (actions).

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

/// The states of RFC 5798 section 6.4, plus Fault (keepalived's: an interface or tracked
/// resource is down, so this router must not be master).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    /// The name keepalived uses in logs and notify arguments.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A received advertisement that the I/O layer has already decoded, checksummed, checked for
/// TTL 255, and matched to this instance by (interface, VRID, family, version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Source address of the IP packet: the sender's primary address.
    pub src: IpAddr,
    pub priority: u8,
    /// The advertised interval in centiseconds (VRRPv2 seconds times 100).
    pub interval_cs: u16,
}

/// An input to [`Instance::handle`](super::Instance::handle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// RFC 5798 6.4.1: the Startup event.
    Startup,
    /// RFC 5798 6.4.2 / 6.4.3: the Shutdown event (daemon stop).
    Shutdown,
    /// The deadline returned by `next_deadline` has been reached.
    Timeout,
    /// An advertisement for this virtual router.
    Advert(Advert),
    /// The interface, or a tracked resource with weight 0, failed.
    Fault,
    /// All fault conditions are gone.
    FaultCleared,
    /// The effective priority changed (tracking weights). Values are 1..=255; 0 is not a
    /// priority a router may run with, it is treated as 1.
    SetPriority(u8),
    /// Operator: hand the VIP over (advertise priority 0) and do not preempt for `hold`.
    Resign { hold: Duration },
    /// Operator: take the VIP back now (manual fallback). The I/O layer runs the
    /// `fallback_check` script before sending this event.
    Fallback,
    /// Operator: never become master until unlocked (maintenance).
    Lock,
    /// Operator: lift a lock.
    Unlock,
    /// Result of the `fallback_check` script the state machine asked for with
    /// [`Action::RunFallbackCheck`].
    FallbackCheck { passed: bool },
    /// Another member of this instance's sync group became master: follow it now
    /// (keepalived's `vrrp_sync_group`; not in the RFC).
    GroupMaster,
    /// Another member of this instance's sync group left master for backup: follow it.
    GroupBackup,
    /// Flap damping (baton extension): do not preempt for `hold`. A takeover when no
    /// master is heard (Master_Down_Timer) still happens.
    HoldBackup { hold: Duration },
    /// keepalived sync groups (prefer BACKUP): another member will not preempt, so do not
    /// preempt for `hold`. Kept apart from [`Event::HoldBackup`]: a member held by the
    /// group does not hold the group in turn (each would renew the other's hold for good).
    GroupHold { hold: Duration },
    /// What the witness says of this group's lease (baton extension, see [`Lease`]).
    Lease(Lease),
}

/// The witness lease of a group as the state machine sees it (baton extension, not in
/// RFC 5798): a node may become master only while it holds the lease, and a master lets
/// go of the addresses when it can no longer show that it holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lease {
    /// Nothing heard from the witness yet.
    Unknown,
    /// This node holds the lease. `until` (the caller's clock) is computed by the witness
    /// client to end before the witness could grant the lease to anyone else.
    Held { until: Duration },
    /// Another node holds it.
    HeldBy { holder: String },
    /// Nobody holds it (reported while this node does not ask for it).
    Free,
    /// The witness did not answer.
    Unreachable,
}

/// How a witness gates mastership (the core's part of the `witness` block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WitnessRule {
    pub when_unreachable: WhenUnreachable,
    /// The lease's time to live: a master that gains a witness by a reload has this long
    /// to be granted the lease before it lets go (with `Release`).
    pub lease_ttl: Duration,
}

/// What a node does when the witness cannot be reached (`when_unreachable`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenUnreachable {
    /// A master lets go when its lease runs out; nobody takes over without the lease.
    /// One master at most, whatever fails.
    #[default]
    Release,
    /// A master keeps the addresses while the witness is unreachable (it still lets go
    /// when the witness says another node holds the lease); nobody takes over without it.
    Keep,
    /// As `Keep`, and a backup that hears no master and reaches no witness takes over
    /// (plain VRRP while the witness is down).
    Takeover,
}

/// Why a transition happened: logged on one line and kept for `baton status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Started and waiting to hear a master.
    Startup,
    /// Priority 255: this router owns the virtual addresses.
    AddressOwner,
    /// Started as master: `state MASTER` in the configuration.
    InitialState,
    /// No advertisement heard for Master_Down_Interval.
    MasterDown,
    /// The master announced it is stopping (priority 0).
    MasterResigned { from: IpAddr },
    /// This backup outranks the master it heard and preempted it.
    Preempting { over: IpAddr, priority: u8 },
    /// A higher-priority (or equal-priority, higher-address) master was heard.
    Preempted { from: IpAddr, priority: u8 },
    /// The daemon is stopping.
    Shutdown,
    /// An interface or tracked resource failed.
    Fault,
    /// The fault conditions cleared.
    FaultCleared,
    /// The operator ran `baton resign`.
    Resigned,
    /// The operator ran `baton lock`.
    Locked,
    /// The operator ran `baton fallback`.
    Fallback,
    /// Another member of the sync group changed state and this one followed.
    SyncGroup,
    /// The witness lease ran out or went to another node (baton extension).
    LeaseLost,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Startup => write!(f, "started, waiting to hear a master"),
            Reason::AddressOwner => write!(f, "priority 255: this router owns the addresses"),
            Reason::InitialState => write!(f, "started as master (state MASTER)"),
            Reason::MasterDown => write!(f, "no advert heard for Master_Down_Interval"),
            Reason::MasterResigned { from } => write!(f, "master {from} resigned (priority 0)"),
            Reason::Preempting { over, priority } => {
                write!(
                    f,
                    "preempting lower-priority master {over} (priority {priority})"
                )
            }
            Reason::Preempted { from, priority } => {
                write!(f, "heard better master {from} (priority {priority})")
            }
            Reason::Shutdown => write!(f, "shutting down"),
            Reason::Fault => write!(f, "interface or tracked resource failed"),
            Reason::FaultCleared => write!(f, "fault cleared"),
            Reason::Resigned => write!(f, "operator resigned"),
            Reason::Locked => write!(f, "operator locked this node"),
            Reason::Fallback => write!(f, "operator fallback"),
            Reason::SyncGroup => write!(f, "following its sync group"),
            Reason::LeaseLost => write!(f, "lost the witness lease"),
        }
    }
}

/// Why an operator request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    #[error("this node is locked; run `baton unlock` first")]
    Locked,
    #[error("this node is in FAULT state")]
    InFault,
    #[error("this node is not running (state INIT)")]
    NotRunning,
    #[error("this node is already MASTER")]
    AlreadyMaster,
    #[error("this node is not MASTER, there is nothing to hand over")]
    NotMaster,
    #[error(
        "the current master {master} has priority {master_priority}, this node only {priority}"
    )]
    DoesNotOutrank {
        master: IpAddr,
        master_priority: u8,
        priority: u8,
    },
}

/// An output of the state machine for the I/O layer to carry out, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Log and notify the transition.
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
    /// Add the virtual addresses to the interface.
    AddAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveAddresses,
    /// Send one advertisement with this priority (0 = this router is leaving).
    SendAdvert { priority: u8 },
    /// Send gratuitous ARP / unsolicited neighbour advertisements for the virtual addresses
    /// (the I/O layer repeats them as the GARP settings say).
    Announce,
    /// Announce the virtual addresses again because a lower-priority master was heard (a
    /// split brain began, or ended): the I/O layer sends them as the `garp_lower_prio_*`
    /// settings say (none with `garp_lower_prio_repeat 0`, strict mode's default).
    AnnounceAgain,
    /// Run the `fallback_check` script and answer with [`Event::FallbackCheck`].
    RunFallbackCheck,
    /// A new split brain: this master hears a lower-priority master `from` after none for
    /// Master_Down_Interval (keepalived runs `notify_master_rx_lower_pri` for it). Repeated
    /// adverts of the same split brain do not raise it again.
    SplitBrain { from: IpAddr, priority: u8 },
    /// An operator request was refused; nothing changed.
    Refuse(Refusal),
    /// Acquire the witness lease, and keep it (renew it) until [`Action::DropLease`];
    /// answer with [`Event::Lease`] whenever what the witness says changes.
    WantLease,
    /// Stop wanting the lease and give it up if held, so another node can take it at once.
    DropLease,
}
