//! `baton status`: the model the daemon sends (serde), the alarms in plain words, the
//! human rendering, and the monitoring-plugin exit code (0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN).
//!
//! The JSON (`baton status --json`, `GET /status`) is a contract with scripts and with
//! peers of other versions (`baton status --pair`); `status_golden.json` holds it and a
//! test compares it byte for byte. States, families and the witness words are enums that
//! write the same words as ever and keep a word they do not know (from a newer peer) as it
//! came. Fields are only ever added, with `#[serde(default)]`.
//!
//! Times: every time is in seconds, in a field whose name ends in `_s`. They are fractional
//! (`f64`, written with a fraction: `3725.0`) except `vip_conflicts[].since_s` and
//! `last_s` and `auth_hmac.time_window_s`, which are whole seconds (integers). They stay
//! so: a peer of an older version decodes those as integers and would refuse `12.0`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The whole daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's version (empty from a daemon that predates this field).
    #[serde(default)]
    pub version: String,
    /// The node's name: `router_id`, else the config id (`baton run -i`, by default the
    /// short host name). Empty from a daemon that predates this field.
    #[serde(default)]
    pub node: String,
    pub router_id: Option<String>,
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_s: f64,
    pub instances: Vec<InstanceStatus>,
    /// Packets dropped before reaching an instance (bad header, checksum, unknown VRID...).
    pub dropped: BTreeMap<String, u64>,
}

/// An instance's VMAC (`use_vmac`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmacStatus {
    /// The macvlan's name, e.g. `vrrp.51`.
    pub interface: String,
    /// Its MAC, e.g. `00:00:5e:00:01:33`.
    pub mac: String,
    /// `vmac_xmit_base`: adverts go out (and are heard) on the base interface.
    pub xmit_base: bool,
}

/// A macvlan of `use_vmac_addr` or of `use_vmac` on an address line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressVmacStatus {
    /// The macvlan's name, e.g. `vrrp1.51`.
    pub interface: String,
    /// The interface it is made on.
    pub base: String,
    /// Its MAC, e.g. `00:00:5e:00:02:33`.
    pub mac: String,
}

/// One instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub family: Family,
    pub state: VrrpState,
    /// Seconds since the state was entered.
    pub since_s: f64,
    /// Why it was entered.
    pub reason: String,
    /// The same as one word (`master_down`, `lease_lost`, ...), for scripts.
    #[serde(default)]
    pub reason_kind: String,
    pub base_priority: u8,
    pub priority: u8,
    /// `manual` or `automatic`.
    pub fallback: String,
    pub locked: bool,
    /// The master this node hears (absent when it is master itself or hears none).
    pub master: Option<MasterStatus>,
    pub vips: Vec<VipStatus>,
    /// `virtual_routes` and `virtual_rules` lines, and whether each is in place.
    #[serde(default)]
    pub routes: Vec<RouteStatus>,
    /// `use_vmac`: the macvlan that holds the VIPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmac: Option<VmacStatus>,
    /// `use_vmac_addr` / `use_vmac` on address lines: the macvlans that hold those addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_vmacs: Vec<AddressVmacStatus>,
    pub counters: Counters,
    /// Adverts dropped by this instance's checks, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// The `vrrp_sync_group` it belongs to.
    #[serde(default)]
    pub sync_group: Option<String>,
    /// Why it is (or must be) in FAULT.
    #[serde(default)]
    pub faults: Vec<String>,
    /// Tracked interfaces, scripts and files, and what each does to it now.
    #[serde(default)]
    pub tracks: Vec<TrackStatus>,
    /// The last notify hook that finished for it (or for its sync group).
    #[serde(default)]
    pub last_hook: Option<HookStatus>,
    /// Flap damping in force: no preemption for this many more seconds.
    #[serde(default)]
    pub flap_hold_s: Option<f64>,
    /// The witness lease, when the instance uses a witness.
    #[serde(default)]
    pub witness: Option<WitnessStatus>,
    /// Peers whose adverts disagree with this instance's configuration now (address list,
    /// advert interval, authentication); each is also an alarm.
    #[serde(default)]
    pub peer_mismatches: Vec<PeerMismatchStatus>,
    /// While MASTER: VIPs another host answers for (the probe of its own VIPs); each
    /// is also an alarm.
    #[serde(default)]
    pub vip_conflicts: Vec<VipConflictStatus>,
    /// keepalived's `auth_hmac`, if configured: how it signs and checks (never a key).
    #[serde(default)]
    pub auth_hmac: Option<HmacStatus>,
    pub alarms: Vec<Alarm>,
}

/// An instance's state as status carries it: `"MASTER"`, `"BACKUP"`, `"FAULT"` or
/// `"INIT"`, keepalived's words. A word this version does not know (from a newer peer read
/// by `baton status --pair`) is kept as it came, so the document still decodes and prints.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VrrpState {
    #[serde(rename = "INIT")]
    Init,
    #[serde(rename = "BACKUP")]
    Backup,
    #[serde(rename = "MASTER")]
    Master,
    #[serde(rename = "FAULT")]
    Fault,
    /// A state this version does not know, as the peer wrote it.
    #[serde(untagged)]
    Other(String),
}

impl VrrpState {
    /// The states this version knows.
    pub const KNOWN: [VrrpState; 4] = [
        VrrpState::Init,
        VrrpState::Backup,
        VrrpState::Master,
        VrrpState::Fault,
    ];

    /// The word in the JSON (and in logs and notify arguments).
    pub fn as_str(&self) -> &str {
        match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
            VrrpState::Other(word) => word,
        }
    }
}

impl From<crate::vrrp::State> for VrrpState {
    fn from(state: crate::vrrp::State) -> VrrpState {
        match state {
            crate::vrrp::State::Initialize => VrrpState::Init,
            crate::vrrp::State::Backup => VrrpState::Backup,
            crate::vrrp::State::Master => VrrpState::Master,
            crate::vrrp::State::Fault => VrrpState::Fault,
        }
    }
}

impl std::fmt::Display for VrrpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instance's address family as status carries it: `"IPv4"` or `"IPv6"` (the names
/// of `config::Family`). A word this version does not know is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    IPv4,
    IPv6,
    /// A family this version does not know, as the peer wrote it.
    #[serde(untagged)]
    Other(String),
}

impl Family {
    pub fn as_str(&self) -> &str {
        match self {
            Family::IPv4 => "IPv4",
            Family::IPv6 => "IPv6",
            Family::Other(word) => word,
        }
    }
}

impl From<crate::config::Family> for Family {
    fn from(family: crate::config::Family) -> Family {
        match family {
            crate::config::Family::IPv4 => Family::IPv4,
            crate::config::Family::IPv6 => Family::IPv6,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instance's `auth_hmac` settings as status shows them: key ids, never keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacStatus {
    /// `enforce`, `permissive` or `receive-only`.
    pub mode: String,
    /// The key id adverts are signed with (none are in receive-only).
    pub active_key: u8,
    pub key_ids: Vec<u8>,
    /// `time` or `monotonic`.
    pub anti_replay: String,
    /// The freshness window with `anti_replay time`, whole seconds (an integer).
    pub time_window_s: Option<u32>,
}

/// A VIP that another MAC answers for while this node is MASTER. Raised by a foreign
/// answer to the master's probe (an ARP probe or a DAD neighbour solicitation per VIP every
/// `vip_probe_interval`), which also makes it announce the VIPs again; cleared by a probe
/// round without one, or on leaving MASTER.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipConflictStatus {
    /// The VIP (without prefix length).
    pub address: String,
    /// The other host's MAC.
    pub mac: String,
    /// Whole seconds since it was first heard (an integer, unlike most times here).
    pub since_s: u64,
    /// Whole seconds since it was last heard (an integer).
    pub last_s: u64,
}

/// The witness lease as status carries it: `"held"` (by this node), `"held_by"`
/// (another), `"free"`, `"unreachable"` or `"unknown"`. A word this version does not know
/// is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    Held,
    HeldBy,
    Free,
    Unreachable,
    Unknown,
    /// A word this version does not know, as the peer wrote it.
    #[serde(untagged)]
    Other(String),
}

impl LeaseState {
    /// The words this version knows.
    pub const KNOWN: [LeaseState; 5] = [
        LeaseState::Held,
        LeaseState::HeldBy,
        LeaseState::Free,
        LeaseState::Unreachable,
        LeaseState::Unknown,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            LeaseState::Held => "held",
            LeaseState::HeldBy => "held_by",
            LeaseState::Free => "free",
            LeaseState::Unreachable => "unreachable",
            LeaseState::Unknown => "unknown",
            LeaseState::Other(word) => word,
        }
    }
}

impl std::fmt::Display for LeaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `when_unreachable` as status carries it: `"release"`, `"keep"` or `"takeover"` (the
/// words of `vrrp::WhenUnreachable`). A word this version does not know is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenUnreachable {
    Release,
    Keep,
    Takeover,
    /// A word this version does not know, as the peer wrote it.
    #[serde(untagged)]
    Other(String),
}

impl From<crate::vrrp::WhenUnreachable> for WhenUnreachable {
    fn from(rule: crate::vrrp::WhenUnreachable) -> WhenUnreachable {
        match rule {
            crate::vrrp::WhenUnreachable::Release => WhenUnreachable::Release,
            crate::vrrp::WhenUnreachable::Keep => WhenUnreachable::Keep,
            crate::vrrp::WhenUnreachable::Takeover => WhenUnreachable::Takeover,
        }
    }
}

/// A peer whose adverts disagree with this instance's configuration. Raised by its first
/// disagreeing advert; cleared by an advert of its that agrees, or once it has been silent
/// for 10 advert intervals (at least 10 s).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerMismatchStatus {
    /// The peer's address (the source of its adverts).
    pub peer: String,
    /// Seconds since the disagreement was first seen.
    pub since_s: f64,
    /// Seconds since its last disagreeing advert.
    pub last_advert_s: f64,
    /// Its adverts are discarded (authentication, or a VRRPv2 advert interval): this node
    /// does not hear it as a master, and both may hold the VIP.
    pub discarded: bool,
    pub differences: Vec<DifferenceStatus>,
}

/// One thing a peer advertises differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifferenceStatus {
    pub field: PeerField,
    /// This node's value (`(hidden)` for a password).
    pub ours: String,
    /// The peer's value (a password is never shown).
    pub theirs: String,
}

/// What a peer advertises differently, as status carries it: `"vips"`,
/// `"advert_interval"`, `"auth_type"` or `"auth_password"` (`vrrp::peers::Difference`).
/// A word this version does not know is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerField {
    Vips,
    AdvertInterval,
    AuthType,
    AuthPassword,
    /// A word this version does not know, as the peer wrote it.
    #[serde(untagged)]
    Other(String),
}

impl PeerField {
    pub fn as_str(&self) -> &str {
        match self {
            PeerField::Vips => "vips",
            PeerField::AdvertInterval => "advert_interval",
            PeerField::AuthType => "auth_type",
            PeerField::AuthPassword => "auth_password",
            PeerField::Other(word) => word,
        }
    }

    /// In an alarm's words.
    fn words(&self) -> &str {
        match self {
            PeerField::Vips => "VIPs",
            PeerField::AdvertInterval => "advert interval",
            PeerField::AuthType => "auth type",
            PeerField::AuthPassword => "auth password",
            PeerField::Other(word) => word,
        }
    }
}

impl From<&crate::vrrp::peers::Difference> for PeerField {
    fn from(difference: &crate::vrrp::peers::Difference) -> PeerField {
        use crate::vrrp::peers::Difference;
        match difference {
            Difference::Addresses { .. } => PeerField::Vips,
            Difference::Interval { .. } => PeerField::AdvertInterval,
            Difference::AuthType { .. } => PeerField::AuthType,
            Difference::Password => PeerField::AuthPassword,
        }
    }
}

/// An instance's witness lease.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WitnessStatus {
    /// The key in etcd.
    pub key: String,
    pub lease: LeaseState,
    /// The name written in the key.
    pub holder: Option<String>,
    /// While this node holds the lease: seconds it may still act as master without a
    /// renewal.
    pub ttl_left_s: Option<f64>,
    /// The endpoint that answered last.
    pub endpoint: Option<String>,
    /// The last error, while the witness does not answer.
    pub error: Option<String>,
    /// A takeover is waiting for the lease.
    pub waiting: bool,
    pub when_unreachable: WhenUnreachable,
}

/// Flap damping in force, for the alarm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flapping {
    /// Times it became master within the window.
    pub count: usize,
    pub window_s: f64,
    /// Seconds left without preemption.
    pub remaining_s: f64,
}

/// One tracked thing and its effect on an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackStatus {
    /// script, interface, file or process.
    pub kind: String,
    pub name: String,
    /// Up: script succeeding, link up, file value 0 (or not failing).
    pub up: bool,
    pub effect: TrackEffect,
    pub detail: String,
}

/// What a tracked thing does to its instance now, as status carries it: `"FAULT"`, or the
/// priority change as a signed number in a string (`"+10"`, `"-20"`, `"0"`). A word this
/// version does not read is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TrackEffect {
    /// It puts the instance in FAULT.
    Fault,
    /// It changes the instance's priority by this much (0: not now).
    Priority(i64),
    /// A word this version does not know, as the peer wrote it.
    Other(String),
}

impl std::fmt::Display for TrackEffect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrackEffect::Fault => f.write_str("FAULT"),
            TrackEffect::Priority(n) if *n > 0 => write!(f, "+{n}"),
            TrackEffect::Priority(n) => write!(f, "{n}"),
            TrackEffect::Other(word) => f.write_str(word),
        }
    }
}

impl From<String> for TrackEffect {
    /// Lossless: a word is read as a number only if it is written back the same.
    fn from(word: String) -> TrackEffect {
        if word == "FAULT" {
            return TrackEffect::Fault;
        }
        match word.parse::<i64>().map(TrackEffect::Priority) {
            Ok(effect) if effect.to_string() == word => effect,
            _ => TrackEffect::Other(word),
        }
    }
}

impl From<TrackEffect> for String {
    fn from(effect: TrackEffect) -> String {
        effect.to_string()
    }
}

/// How one run of an external command ended (a hook, a check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The command line as configured.
    pub command: String,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Why it did not run at all (refused, not found...).
    pub error: Option<String>,
    /// Seconds it ran.
    pub duration_s: f64,
    /// The end of its stderr.
    pub stderr_tail: String,
}

/// How the last notify hook run went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookStatus {
    /// The instance, or `group NAME`, whose queue ran it.
    pub owner: String,
    /// notify_master, notify_backup, notify_fault, notify_stop, notify, ...
    pub hook: String,
    /// The word the hook was given for the state it ran for: `MASTER`, `BACKUP`, `FAULT`,
    /// or `STOP` on shutdown (a hook argument, not a `VrrpState`, hence a string).
    pub state: String,
    pub ok: bool,
    #[serde(flatten)]
    pub run: RunOutcome,
    /// Seconds since it finished.
    pub age_s: f64,
    /// Its outcome in words.
    pub result: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MasterStatus {
    pub address: String,
    pub priority: u8,
    /// Seconds since its last advert.
    pub last_advert_s: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipStatus {
    pub address: String,
    /// Really on the interface now.
    pub present: bool,
}

/// One `virtual_routes` or `virtual_rules` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// `route` or `rule`.
    pub kind: String,
    /// The line, as `ip route` / `ip rule` would take it.
    pub line: String,
    /// Installed by this node: it is MASTER and the kernel took the line (a `no_track`
    /// line deleted by hand since is not followed).
    pub installed: bool,
    /// Why the kernel refused it, while MASTER.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// The state machine's own counters (`vrrp::Stats`), as its fields.
    #[serde(flatten)]
    pub vrrp: crate::vrrp::Stats,
    /// Adverts the socket refused to send (a firewall rule, a down link).
    #[serde(default)]
    pub adverts_unsent: u64,
    /// Adverts without an `auth_hmac` trailer accepted by `mode permissive` or
    /// `receive-only` (a rollout is done when this stops growing on every node).
    #[serde(default)]
    pub hmac_unsigned_accepted: u64,
}

/// How bad an alarm is, in monitoring-plugin terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Health {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Health {
    /// The monitoring-plugin word: OK, WARNING, CRITICAL, UNKNOWN.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Warning => "WARNING",
            Health::Critical => "CRITICAL",
            Health::Unknown => "UNKNOWN",
        }
    }

    /// The exit status of `baton status`.
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Ok => 0,
            Health::Warning => 1,
            Health::Critical => 2,
            Health::Unknown => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    pub severity: Health,
    pub message: String,
}

/// The facts alarms are decided from.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub state: &'a VrrpState,
    pub priority: u8,
    pub manual_fallback: bool,
    pub locked: bool,
    pub master: Option<&'a MasterStatus>,
    /// Master_Down_Interval in seconds.
    pub master_down_s: f64,
    pub vips: &'a [VipStatus],
    /// Seconds since a lower-priority master was last heard while this node was master.
    pub lower_master_s: Option<f64>,
    /// Why it is in FAULT.
    pub faults: &'a [String],
    pub tracks: &'a [TrackStatus],
    pub last_hook: Option<&'a HookStatus>,
    pub flapping: Option<Flapping>,
    /// Adverts that failed in a row and the latest error, while sending fails.
    pub send_failing: Option<(u64, &'a str)>,
    pub witness: Option<&'a WitnessStatus>,
    pub peer_mismatches: &'a [PeerMismatchStatus],
    pub vip_conflicts: &'a [VipConflictStatus],
}

/// The alarms of one instance, in plain words.
pub fn alarms(f: &Facts<'_>) -> Vec<Alarm> {
    let mut out = Vec::new();
    let mut raise = |severity, message: String| out.push(Alarm { severity, message });
    match f.state {
        VrrpState::Fault if !f.faults.is_empty() => raise(
            Health::Critical,
            format!("in FAULT: {}", f.faults.join("; ")),
        ),
        VrrpState::Fault => raise(
            Health::Critical,
            "in FAULT: the interface or a tracked resource is down".into(),
        ),
        VrrpState::Init => raise(Health::Warning, "not running (INIT)".into()),
        _ => {}
    }
    if *f.state == VrrpState::Master {
        for vip in f.vips.iter().filter(|v| !v.present) {
            raise(
                Health::Critical,
                format!("VIP missing: {} is not on the interface", vip.address),
            );
        }
        if let Some((failed, error)) = f.send_failing {
            raise(
                Health::Critical,
                format!(
                    "adverts cannot be sent ({failed} failed in a row: {error}); \
                     the backup will take over and both will hold the VIP"
                ),
            );
        }
        if let Some(age) = f.lower_master_s.filter(|&age| age <= 3.0 * f.master_down_s) {
            raise(
                Health::Critical,
                format!("split brain suspected: another master was heard {age:.1}s ago"),
            );
        }
    }
    if *f.state == VrrpState::Backup {
        match f.master {
            None => raise(
                Health::Critical,
                "no master seen: nobody holds the VIP".into(),
            ),
            Some(m) if m.last_advert_s > f.master_down_s => raise(
                Health::Critical,
                format!(
                    "no master seen for {:.1}s (last: {})",
                    m.last_advert_s, m.address
                ),
            ),
            Some(m) if f.manual_fallback && m.priority < f.priority => raise(
                Health::Warning,
                format!(
                    "running on the standby: {} (priority {}) holds the VIP while this preferred node \
                     (priority {}) waits; run `baton fallback` once it has caught up",
                    m.address, m.priority, f.priority
                ),
            ),
            Some(_) => {}
        }
    }
    for t in f
        .tracks
        .iter()
        .filter(|t| !t.up && t.effect != TrackEffect::Fault)
    {
        raise(
            Health::Warning,
            format!(
                "tracking failed: {} {} ({}), priority {}",
                t.kind, t.name, t.detail, t.effect
            ),
        );
    }
    if let Some(hook) = f.last_hook.filter(|h| !h.ok) {
        raise(
            Health::Warning,
            format!(
                "hook failed: {} for {} ({}): {}",
                hook.hook, hook.state, hook.owner, hook.result
            ),
        );
    }
    if let Some(flap) = f.flapping {
        raise(
            Health::Warning,
            format!(
                "flapping: became master {} times within {:.0}s; no preemption for another {:.0}s",
                flap.count, flap.window_s, flap.remaining_s
            ),
        );
    }
    if f.locked {
        raise(
            Health::Warning,
            "locked: this node will not become master (`baton unlock`)".into(),
        );
    }
    if let Some(w) = f.witness {
        witness_alarms(f.state, w, &mut raise);
    }
    for c in f.vip_conflicts {
        raise(
            Health::Critical,
            format!(
                "VIP {} is answered by {}, not by this master: another host holds it \
                 (announced again)",
                c.address, c.mac
            ),
        );
    }
    for p in f.peer_mismatches {
        let (severity, consequence) = if p.discarded {
            (
                Health::Critical,
                "; its adverts are discarded, both nodes may hold the VIP",
            )
        } else {
            (Health::Warning, "")
        };
        let differences: Vec<String> = p
            .differences
            .iter()
            .map(|d| match &d.field {
                PeerField::AuthPassword => "auth password differs".to_string(),
                field => format!("{} ours {} theirs {}", field.words(), d.ours, d.theirs),
            })
            .collect();
        raise(
            severity,
            format!(
                "peer {} advertises another configuration: {}{consequence}",
                p.peer,
                differences.join("; ")
            ),
        );
    }
    out
}

fn witness_alarms(state: &VrrpState, w: &WitnessStatus, raise: &mut impl FnMut(Health, String)) {
    let error = w.error.as_deref().unwrap_or("no answer");
    match (&w.lease, state) {
        (LeaseState::Unreachable, VrrpState::Master)
            if w.when_unreachable == WhenUnreachable::Release =>
        {
            raise(
                Health::Critical,
                format!(
                    "witness unreachable ({error}): this master lets go of the VIP when its \
                     lease runs out{}",
                    w.ttl_left_s
                        .map(|s| format!(", in {s:.1}s"))
                        .unwrap_or_default()
                ),
            )
        }
        (LeaseState::Unreachable, _) => raise(
            Health::Warning,
            format!("witness unreachable ({error}): no node can take the VIP over"),
        ),
        (LeaseState::HeldBy, VrrpState::Backup) if w.waiting => raise(
            Health::Warning,
            format!(
                "waiting for the witness lease, held by {}",
                w.holder.as_deref().unwrap_or("another node")
            ),
        ),
        _ => {}
    }
}

/// The worst health of all instances (OK when there are none with alarms).
pub fn health(status: &DaemonStatus) -> Health {
    status
        .instances
        .iter()
        .flat_map(|i| i.alarms.iter().map(|a| a.severity))
        .max()
        .unwrap_or(Health::Ok)
}

/// The human form of `baton status`.
pub fn render(status: &DaemonStatus) -> String {
    let mut out = String::new();
    let health = health(status);
    let _ = writeln!(
        out,
        "baton {}: {} instance{}, up {}",
        health.as_str(),
        status.instances.len(),
        if status.instances.len() == 1 { "" } else { "s" },
        duration(status.uptime_s)
    );
    for i in &status.instances {
        out.push('\n');
        render_instance(&mut out, i);
    }
    if !status.dropped.is_empty() {
        let _ = writeln!(
            out,
            "\npackets dropped before any instance: {}",
            counts(&status.dropped)
        );
    }
    out
}

fn render_instance(out: &mut String, i: &InstanceStatus) {
    let _ = writeln!(
        out,
        "{}  {} for {} ({})",
        i.name,
        i.state,
        duration(i.since_s),
        i.reason
    );
    let _ = writeln!(
        out,
        "  VRRPv{} {} vrid {} on {}, priority {} (configured {}), fallback {}{}",
        i.version,
        i.family,
        i.vrid,
        i.interface,
        i.priority,
        i.base_priority,
        i.fallback,
        if i.locked { ", LOCKED" } else { "" }
    );
    let master = match (&i.master, &i.state) {
        (_, VrrpState::Master) => "this node".to_string(),
        (Some(m), _) => format!(
            "{} priority {}, last advert {:.1}s ago",
            m.address, m.priority, m.last_advert_s
        ),
        (None, _) => "none heard".to_string(),
    };
    if let Some(v) = &i.vmac {
        let _ = writeln!(
            out,
            "  VMAC {} ({}) holds the VIPs; adverts on {}",
            v.interface,
            v.mac,
            if v.xmit_base {
                &i.interface
            } else {
                &v.interface
            }
        );
    }
    for v in &i.address_vmacs {
        let _ = writeln!(
            out,
            "  VMAC {} ({}) on {} holds addresses there",
            v.interface, v.mac, v.base
        );
    }
    let _ = writeln!(out, "  master: {master}");
    let vips: Vec<String> = i
        .vips
        .iter()
        .map(|v| format!("{}{}", v.address, if v.present { " (present)" } else { "" }))
        .collect();
    let _ = writeln!(out, "  VIPs: {}", vips.join(", "));
    for r in &i.routes {
        let how = match (&r.error, r.installed) {
            (Some(e), _) => format!("NOT installed: {e}"),
            (None, true) => "installed".to_string(),
            (None, false) => "not installed (not MASTER)".to_string(),
        };
        let _ = writeln!(out, "  {} {}: {how}", r.kind, r.line);
    }
    let c = &i.counters;
    let unsent = if c.adverts_unsent > 0 {
        format!(" ({} could not be sent)", c.adverts_unsent)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  adverts sent {}{unsent}, received {}; times became master: {}",
        c.vrrp.adverts_sent, c.vrrp.adverts_received, c.vrrp.became_master
    );
    if let Some(h) = &i.auth_hmac {
        let ids: Vec<String> = h.key_ids.iter().map(u8::to_string).collect();
        let window = h
            .time_window_s
            .map(|w| format!(" (window {w} s)"))
            .unwrap_or_default();
        let unsigned = if c.hmac_unsigned_accepted > 0 {
            format!("; unsigned adverts accepted: {}", c.hmac_unsigned_accepted)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  auth_hmac: {}, active key {} of {}, anti_replay {}{window}{unsigned}",
            h.mode,
            h.active_key,
            ids.join(","),
            h.anti_replay
        );
    }
    if !i.dropped.is_empty() {
        let _ = writeln!(out, "  dropped: {}", counts(&i.dropped));
    }
    if let Some(group) = &i.sync_group {
        let _ = writeln!(out, "  sync group: {group}");
    }
    for t in &i.tracks {
        let _ = writeln!(
            out,
            "  track {} {}: {} ({}), effect {}",
            t.kind,
            t.name,
            if t.up { "up" } else { "DOWN" },
            t.detail,
            t.effect
        );
    }
    if let Some(h) = &i.last_hook {
        let _ = writeln!(
            out,
            "  last hook: {} for {} {:.0}s ago: {}",
            h.hook, h.state, h.age_s, h.result
        );
    }
    if let Some(w) = &i.witness {
        render_witness(out, w);
    }
    for a in &i.alarms {
        let _ = writeln!(out, "  {}: {}", a.severity.as_str(), a.message);
    }
}

fn render_witness(out: &mut String, w: &WitnessStatus) {
    let lease = match (&w.lease, &w.holder) {
        (LeaseState::Held, _) => format!(
            "held by this node{}",
            w.ttl_left_s
                .map(|s| format!(", {s:.1}s left"))
                .unwrap_or_default()
        ),
        (LeaseState::HeldBy, Some(h)) => format!("held by {h}"),
        (LeaseState::Unreachable, _) => format!(
            "witness unreachable ({})",
            w.error.as_deref().unwrap_or("no answer")
        ),
        (other, _) => other.to_string(),
    };
    let _ = writeln!(
        out,
        "  witness: {} {lease}{}{}",
        w.key,
        w.endpoint
            .as_deref()
            .map(|e| format!(" via {e}"))
            .unwrap_or_default(),
        if w.waiting { ", takeover waiting" } else { "" }
    );
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `3d 4h`, `12m 5s`, `3.2s`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let whole = s as u64;
    let (d, h, m, sec) = (
        whole / 86_400,
        whole / 3600 % 24,
        whole / 60 % 60,
        whole % 60,
    );
    match (d, h) {
        (0, 0) => format!("{m}m {sec}s"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vips(present: bool) -> Vec<VipStatus> {
        vec![VipStatus {
            address: "192.0.2.100/24".into(),
            present,
        }]
    }

    fn facts<'a>(state: &'a VrrpState, vips: &'a [VipStatus]) -> Facts<'a> {
        Facts {
            state,
            priority: 150,
            manual_fallback: false,
            locked: false,
            master: None,
            master_down_s: 3.6,
            vips,
            lower_master_s: None,
            faults: &[],
            tracks: &[],
            last_hook: None,
            flapping: None,
            send_failing: None,
            witness: None,
            peer_mismatches: &[],
            vip_conflicts: &[],
        }
    }

    fn master(priority: u8, age: f64) -> MasterStatus {
        MasterStatus {
            address: "192.0.2.2".into(),
            priority,
            last_advert_s: age,
        }
    }

    #[test]
    fn a_healthy_master_has_no_alarm() {
        assert!(alarms(&facts(&VrrpState::Master, &vips(true))).is_empty());
    }

    #[test]
    fn a_master_that_cannot_send_is_critical() {
        let vips = vips(true);
        let mut f = facts(&VrrpState::Master, &vips);
        f.send_failing = Some((12, "Operation not permitted (os error 1)"));
        let got = alarms(&f);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].severity, Health::Critical);
        assert!(
            got[0]
                .message
                .starts_with("adverts cannot be sent (12 failed in a row: Operation not permitted"),
            "{}",
            got[0].message
        );
    }

    #[test]
    fn a_missing_vip_on_the_master_is_critical() {
        let v = vips(false);
        let a = alarms(&facts(&VrrpState::Master, &v));
        assert_eq!(a[0].severity, Health::Critical);
        assert!(a[0].message.starts_with("VIP missing: 192.0.2.100/24"));
    }

    #[test]
    fn split_brain_is_critical_while_recent() {
        let v = vips(true);
        let mut f = facts(&VrrpState::Master, &v);
        f.lower_master_s = Some(1.0);
        assert!(alarms(&f)[0].message.starts_with("split brain suspected"));
        f.lower_master_s = Some(60.0);
        assert!(alarms(&f).is_empty(), "an old sighting is not an alarm");
    }

    #[test]
    fn backup_without_a_master_is_critical() {
        let v = vips(false);
        let a = alarms(&facts(&VrrpState::Backup, &v));
        assert_eq!(a[0].message, "no master seen: nobody holds the VIP");
        let stale = master(100, 10.0);
        let mut f = facts(&VrrpState::Backup, &v);
        f.master = Some(&stale);
        assert!(
            alarms(&f)[0]
                .message
                .starts_with("no master seen for 10.0s")
        );
    }

    #[test]
    fn preferred_node_waiting_for_manual_fallback_warns() {
        let v = vips(false);
        let lower = master(100, 0.5);
        let mut f = facts(&VrrpState::Backup, &v);
        f.master = Some(&lower);
        assert!(
            alarms(&f).is_empty(),
            "automatic fallback will take it back"
        );
        f.manual_fallback = true;
        let a = alarms(&f);
        assert_eq!(a[0].severity, Health::Warning);
        assert!(
            a[0].message
                .starts_with("running on the standby: 192.0.2.2 (priority 100)")
        );
    }

    #[test]
    fn fault_and_lock_are_reported() {
        let v = vips(false);
        let mut f = facts(&VrrpState::Fault, &v);
        f.locked = true;
        let severities: Vec<Health> = alarms(&f).iter().map(|a| a.severity).collect();
        assert_eq!(severities, vec![Health::Critical, Health::Warning]);
    }

    #[test]
    fn failed_tracking_and_hooks_warn_in_plain_words() {
        let v = vips(true);
        let tracks = vec![TrackStatus {
            kind: "script".into(),
            name: "chk_pg".into(),
            up: false,
            effect: TrackEffect::Priority(-20),
            detail: "exit status 2: no server".into(),
        }];
        let hook = HookStatus {
            owner: "PG_VIP".into(),
            hook: "notify_master".into(),
            state: "MASTER".into(),
            ok: false,
            run: RunOutcome {
                command: "/usr/bin/promote".into(),
                exit_code: None,
                signal: Some(9),
                timed_out: true,
                error: None,
                duration_s: 5.0,
                stderr_tail: String::new(),
            },
            age_s: 1.0,
            result: "timed out after 5.0s; its process group was killed".into(),
        };
        let faults = vec!["script chk_pg is down".to_string()];
        let mut f = facts(&VrrpState::Master, &v);
        f.tracks = &tracks;
        f.last_hook = Some(&hook);
        let messages: Vec<String> = alarms(&f).into_iter().map(|a| a.message).collect();
        assert_eq!(
            messages,
            [
                "tracking failed: script chk_pg (exit status 2: no server), priority -20",
                "hook failed: notify_master for MASTER (PG_VIP): timed out after 5.0s; its process group was killed",
            ]
        );
        let mut f = facts(&VrrpState::Fault, &v);
        f.faults = &faults;
        assert_eq!(alarms(&f)[0].message, "in FAULT: script chk_pg is down");
        let mut f = facts(&VrrpState::Master, &v);
        f.flapping = Some(Flapping {
            count: 3,
            window_s: 600.0,
            remaining_s: 1700.2,
        });
        assert_eq!(
            alarms(&f)[0].message,
            "flapping: became master 3 times within 600s; no preemption for another 1700s"
        );
    }

    #[test]
    fn a_peer_that_disagrees_is_an_alarm_naming_both_sides() {
        let v = vips(false);
        let mut mismatch = PeerMismatchStatus {
            peer: "192.0.2.2".into(),
            since_s: 5.0,
            last_advert_s: 0.5,
            discarded: false,
            differences: vec![
                DifferenceStatus {
                    field: PeerField::Vips,
                    ours: "192.0.2.100".into(),
                    theirs: "192.0.2.100,192.0.2.101".into(),
                },
                DifferenceStatus {
                    field: PeerField::AuthPassword,
                    ours: "(hidden)".into(),
                    theirs: "(hidden, differs)".into(),
                },
            ],
        };
        let listed = [mismatch.clone()];
        let mut f = facts(&VrrpState::Backup, &v);
        let heard = master(100, 0.5);
        f.master = Some(&heard);
        f.peer_mismatches = &listed;
        let got = alarms(&f);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].severity, Health::Warning);
        assert_eq!(
            got[0].message,
            "peer 192.0.2.2 advertises another configuration: VIPs ours 192.0.2.100 \
             theirs 192.0.2.100,192.0.2.101; auth password differs"
        );
        mismatch.discarded = true;
        let listed = [mismatch];
        f.peer_mismatches = &listed;
        let got = alarms(&f);
        assert_eq!(got[0].severity, Health::Critical);
        assert!(
            got[0].message.ends_with("both nodes may hold the VIP"),
            "{}",
            got[0].message
        );
    }

    #[test]
    fn a_vip_another_host_answers_for_is_critical() {
        let v = vips(true);
        let conflict = [VipConflictStatus {
            address: "192.0.2.100".into(),
            mac: "02:00:00:00:00:cc".into(),
            since_s: 12,
            last_s: 2,
        }];
        let mut f = facts(&VrrpState::Master, &v);
        f.vip_conflicts = &conflict;
        let got = alarms(&f);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].severity, Health::Critical);
        assert_eq!(
            got[0].message,
            "VIP 192.0.2.100 is answered by 02:00:00:00:00:cc, not by this master: another \
             host holds it (announced again)"
        );
    }

    #[test]
    fn a_status_without_peer_mismatches_still_decodes() {
        let mut json = serde_json::to_value(status_with_one_instance()).unwrap();
        json["instances"][0]
            .as_object_mut()
            .unwrap()
            .remove("peer_mismatches");
        json["instances"][0]
            .as_object_mut()
            .unwrap()
            .remove("vip_conflicts");
        let back: DaemonStatus = serde_json::from_value(json).unwrap();
        assert!(back.instances[0].peer_mismatches.is_empty());
        assert!(back.instances[0].vip_conflicts.is_empty());
    }

    fn status_with_one_instance() -> DaemonStatus {
        let mut status = DaemonStatus {
            version: String::new(),
            node: String::new(),
            router_id: None,
            pid: 1,
            uptime_s: 75.0,
            instances: vec![],
            dropped: BTreeMap::new(),
        };
        status.instances.push(InstanceStatus {
            name: "PG_VIP".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 2,
            family: Family::IPv4,
            state: VrrpState::Backup,
            since_s: 3725.0,
            reason: "started".into(),
            reason_kind: "startup".into(),
            base_priority: 150,
            priority: 150,
            fallback: "manual".into(),
            locked: false,
            master: Some(master(100, 0.4)),
            vips: vips(false),
            routes: vec![],
            vmac: None,
            address_vmacs: Vec::new(),
            counters: Counters::default(),
            dropped: BTreeMap::new(),
            sync_group: None,
            faults: vec![],
            tracks: vec![],
            witness: None,
            last_hook: None,
            flap_hold_s: None,
            peer_mismatches: vec![],
            vip_conflicts: vec![],
            auth_hmac: None,
            alarms: vec![],
        });
        status
    }

    /// A status document with every field set (each `Option` filled, each list non-empty).
    fn full_status() -> DaemonStatus {
        let mut status = status_with_one_instance();
        status.version = "0.1.0".into();
        status.node = "pg-a".into();
        status.router_id = Some("pg-a".into());
        status.dropped = BTreeMap::from([("bad_checksum".to_string(), 2)]);
        let i = &mut status.instances[0];
        i.routes = vec![RouteStatus {
            kind: "rule".into(),
            line: "from 192.0.2.0/24 table 100".into(),
            installed: false,
            error: Some("Network is unreachable".into()),
        }];
        i.counters = Counters {
            vrrp: crate::vrrp::Stats {
                adverts_sent: 1,
                adverts_received: 2,
                priority_zero_sent: 3,
                priority_zero_received: 4,
                became_master: 5,
                released_master: 6,
                interval_mismatch: 7,
                lower_priority_master: 8,
            },
            adverts_unsent: 9,
            hmac_unsigned_accepted: 10,
        };
        i.dropped = BTreeMap::from([("auth_mismatch".to_string(), 3)]);
        i.sync_group = Some("PG".into());
        i.faults = vec!["interface eth1 is down".into()];
        i.tracks = vec![TrackStatus {
            kind: "interface".into(),
            name: "eth1".into(),
            up: false,
            effect: TrackEffect::Fault,
            detail: "link down".into(),
        }];
        i.last_hook = Some(HookStatus {
            owner: "group PG".into(),
            hook: "notify_master".into(),
            state: "MASTER".into(),
            ok: false,
            run: RunOutcome {
                command: "/usr/bin/promote".into(),
                exit_code: Some(1),
                signal: None,
                timed_out: false,
                error: Some("refused".into()),
                duration_s: 0.25,
                stderr_tail: "no server".into(),
            },
            age_s: 4.5,
            result: "exit status 1".into(),
        });
        i.flap_hold_s = Some(120.5);
        i.witness = Some(WitnessStatus {
            key: "/baton/pg".into(),
            lease: LeaseState::HeldBy,
            holder: Some("pg-b".into()),
            ttl_left_s: Some(2.5),
            endpoint: Some("http://192.0.2.9:2379".into()),
            error: Some("timed out".into()),
            waiting: true,
            when_unreachable: WhenUnreachable::Release,
        });
        i.peer_mismatches = vec![PeerMismatchStatus {
            peer: "192.0.2.2".into(),
            since_s: 5.0,
            last_advert_s: 0.5,
            discarded: true,
            differences: vec![DifferenceStatus {
                field: PeerField::Vips,
                ours: "192.0.2.100".into(),
                theirs: "192.0.2.101".into(),
            }],
        }];
        i.vip_conflicts = vec![VipConflictStatus {
            address: "192.0.2.100".into(),
            mac: "02:00:00:00:00:cc".into(),
            since_s: 12,
            last_s: 2,
        }];
        i.auth_hmac = Some(HmacStatus {
            mode: "permissive".into(),
            active_key: 1,
            key_ids: vec![1, 2],
            anti_replay: "time".into(),
            time_window_s: Some(30),
        });
        i.alarms = vec![Alarm {
            severity: Health::Critical,
            message: "in FAULT: interface eth1 is down".into(),
        }];
        let mut v6 = i.clone();
        v6.name = "PG_VIP6".into();
        v6.family = Family::IPv6;
        v6.state = VrrpState::Master;
        v6.master = None;
        let mut fault = i.clone();
        fault.name = "PG_FAULT".into();
        fault.state = VrrpState::Fault;
        let mut init = i.clone();
        init.name = "PG_INIT".into();
        init.state = VrrpState::Init;
        status.instances.extend([v6, fault, init]);
        status
    }

    /// The JSON of `baton status --json` and `GET /status` is a contract with scripts and
    /// with peers of other versions (`status --pair`): this is it, byte for byte.
    #[test]
    fn the_status_json_is_the_stored_contract_byte_for_byte() {
        let golden = include_str!("status_golden.json");
        let status = full_status();
        let text = serde_json::to_string_pretty(&status).unwrap();
        assert_eq!(text, golden.trim_end(), "the status JSON changed");
        let back: DaemonStatus = serde_json::from_str(golden).unwrap();
        assert_eq!(
            back, status,
            "the stored document no longer reads back the same"
        );
    }

    /// A newer daemon may report a state, a family, a lease, a `when_unreachable`, a
    /// track's effect or a peer's differing field this version does not know: the document
    /// still decodes, the word is kept as it came (and written back the same), and no alarm
    /// reads it as one of the known states.
    #[test]
    fn unknown_words_from_a_newer_peer_decode_and_are_kept() {
        let mut json = serde_json::to_value(full_status()).unwrap();
        json["instances"][0]["state"] = "DEGRADED".into();
        json["instances"][0]["family"] = "IPv9".into();
        json["instances"][0]["witness"]["lease"] = "borrowed".into();
        json["instances"][0]["witness"]["when_unreachable"] = "ask".into();
        json["instances"][0]["tracks"][0]["effect"] = "HALVED".into();
        json["instances"][0]["peer_mismatches"][0]["differences"][0]["field"] = "vrid".into();
        let back: DaemonStatus = serde_json::from_value(json.clone()).unwrap();
        let i = &back.instances[0];
        assert_eq!(i.state, VrrpState::Other("DEGRADED".into()));
        assert_eq!(i.family, Family::Other("IPv9".into()));
        let w = i.witness.as_ref().unwrap();
        assert_eq!(w.lease, LeaseState::Other("borrowed".into()));
        assert_eq!(w.when_unreachable, WhenUnreachable::Other("ask".into()));
        assert_eq!(i.tracks[0].effect, TrackEffect::Other("HALVED".into()));
        let field = &i.peer_mismatches[0].differences[0].field;
        assert_eq!(*field, PeerField::Other("vrid".into()));
        assert_eq!(i.state.to_string(), "DEGRADED");
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        let text = render(&back);
        assert!(
            text.contains("PG_VIP  DEGRADED for 1h 2m (started)"),
            "{text}"
        );
        assert!(text.contains("VRRPv2 IPv9 vrid 51"), "{text}");
        assert!(text.contains("witness: /baton/pg borrowed via"), "{text}");
        let v = vips(false);
        assert!(
            alarms(&facts(&i.state, &v)).is_empty(),
            "an unknown state is neither FAULT, INIT, MASTER nor BACKUP"
        );
        // The known words still decode to their variants, and nothing else is accepted.
        for state in VrrpState::KNOWN {
            let word = serde_json::to_value(&state).unwrap();
            assert_eq!(word, state.as_str());
            assert_eq!(serde_json::from_value::<VrrpState>(word).unwrap(), state);
        }
        for field in [
            PeerField::Vips,
            PeerField::AdvertInterval,
            PeerField::AuthType,
            PeerField::AuthPassword,
        ] {
            let word = serde_json::to_value(&field).unwrap();
            assert_eq!(word, field.as_str());
            assert_eq!(serde_json::from_value::<PeerField>(word).unwrap(), field);
        }
        for lease in LeaseState::KNOWN {
            let word = serde_json::to_value(&lease).unwrap();
            assert_eq!(word, lease.as_str());
            assert_eq!(serde_json::from_value::<LeaseState>(word).unwrap(), lease);
        }
        assert!(serde_json::from_value::<VrrpState>(3.into()).is_err());
        // A track's effect: FAULT or a signed number, and any other word kept as it came.
        for (word, effect) in [
            ("FAULT", TrackEffect::Fault),
            ("+10", TrackEffect::Priority(10)),
            ("-20", TrackEffect::Priority(-20)),
            ("0", TrackEffect::Priority(0)),
            ("+0", TrackEffect::Other("+0".into())),
            ("010", TrackEffect::Other("010".into())),
            ("fault", TrackEffect::Other("fault".into())),
        ] {
            let read: TrackEffect = serde_json::from_value(word.into()).unwrap();
            assert_eq!(read, effect, "{word}");
            assert_eq!(serde_json::to_value(&read).unwrap(), word);
        }
    }

    /// The status words of the core's kinds are the core's own names for them.
    #[test]
    fn status_words_match_the_core_names() {
        use crate::vrrp::peers::Difference;
        for d in [
            Difference::Addresses {
                ours: vec![],
                theirs: vec![],
            },
            Difference::Interval {
                ours_cs: 100,
                theirs_cs: 200,
            },
            Difference::AuthType {
                ours: "none",
                theirs: "PASS",
            },
            Difference::Password,
        ] {
            assert_eq!(PeerField::from(&d).as_str(), d.field());
        }
        for s in [
            crate::vrrp::State::Initialize,
            crate::vrrp::State::Backup,
            crate::vrrp::State::Master,
            crate::vrrp::State::Fault,
        ] {
            assert_eq!(VrrpState::from(s).as_str(), s.as_str());
        }
        for f in [crate::config::Family::IPv4, crate::config::Family::IPv6] {
            assert_eq!(Family::from(f).as_str(), format!("{f:?}"));
        }
        for w in [
            crate::vrrp::WhenUnreachable::Release,
            crate::vrrp::WhenUnreachable::Keep,
            crate::vrrp::WhenUnreachable::Takeover,
        ] {
            assert_eq!(
                serde_json::to_value(WhenUnreachable::from(w)).unwrap(),
                serde_json::to_value(w).unwrap()
            );
        }
    }

    #[test]
    fn health_is_the_worst_alarm_and_maps_to_plugin_exit_codes() {
        let mut status = DaemonStatus {
            version: String::new(),
            node: String::new(),
            router_id: None,
            pid: 1,
            uptime_s: 75.0,
            instances: vec![],
            dropped: BTreeMap::new(),
        };
        assert_eq!(health(&status), Health::Ok);
        let alarm = |severity| Alarm {
            severity,
            message: String::new(),
        };
        status.instances.push(InstanceStatus {
            name: "PG_VIP".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 2,
            family: Family::IPv4,
            state: VrrpState::Backup,
            since_s: 3725.0,
            reason: "started".into(),
            reason_kind: "startup".into(),
            base_priority: 150,
            priority: 150,
            fallback: "manual".into(),
            locked: false,
            master: Some(master(100, 0.4)),
            vips: vips(false),
            vmac: None,
            address_vmacs: Vec::new(),
            routes: vec![
                RouteStatus {
                    kind: "route".into(),
                    line: "198.51.100.0/24 via 192.0.2.254".into(),
                    installed: false,
                    error: None,
                },
                RouteStatus {
                    kind: "rule".into(),
                    line: "from 192.0.2.0/24 table 100".into(),
                    installed: false,
                    error: Some("Network is unreachable".into()),
                },
            ],
            counters: Counters::default(),
            dropped: BTreeMap::from([("auth_mismatch".to_string(), 3)]),
            sync_group: None,
            faults: vec![],
            tracks: vec![],
            witness: None,
            last_hook: None,
            flap_hold_s: None,
            peer_mismatches: vec![],
            vip_conflicts: vec![],
            auth_hmac: None,
            alarms: vec![alarm(Health::Warning), alarm(Health::Critical)],
        });
        assert_eq!(health(&status), Health::Critical);
        assert_eq!(health(&status).exit_code(), 2);
        let text = render(&status);
        assert!(
            text.starts_with("baton CRITICAL: 1 instance, up 1m 15s\n"),
            "{text}"
        );
        assert!(
            text.contains("PG_VIP  BACKUP for 1h 2m (started)"),
            "{text}"
        );
        assert!(
            text.contains("  route 198.51.100.0/24 via 192.0.2.254: not installed (not MASTER)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  rule from 192.0.2.0/24 table 100: NOT installed: Network is unreachable\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("master: 192.0.2.2 priority 100, last advert 0.4s ago"),
            "{text}"
        );
        assert!(text.contains("dropped: auth_mismatch 3"), "{text}");
    }
}
