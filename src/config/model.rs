//! The validated configuration: everything the daemon needs, typed.
//!
//! Times are integers in the unit named by the field (`_ms`, `_us`, `_cs`), so that the model
//! compares exactly and serialises plainly.

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// A whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    pub global: Global,
    /// `vrrp_script` blocks by name.
    pub scripts: BTreeMap<String, TrackScript>,
    /// `track_file` (or `vrrp_track_file`) blocks by name.
    pub track_files: BTreeMap<String, TrackFile>,
    /// `vrrp_track_process` blocks by name.
    pub track_processes: BTreeMap<String, TrackProcess>,
    /// `vrrp_instance` blocks in file order.
    pub instances: Vec<Instance>,
    /// `vrrp_sync_group` blocks in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// baton extension: the `witness` block (an etcd lease gates mastership).
    pub witness: Option<Witness>,
}

/// baton extension `witness { ... }`: an etcd v3 cluster whose leases decide which node may
/// be master of each group (see baton.conf(5)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Witness {
    /// `endpoints URL...`: `http://HOST:PORT` or `https://HOST:PORT`, tried in turn.
    pub endpoints: Vec<String>,
    /// `prefix`: the keys are PREFIX + the instance's witness key (default `/baton/`).
    pub prefix: String,
    /// `lease_ttl`: seconds, 2..=300 (default 3).
    pub lease_ttl_s: u32,
    /// `name`: how this node is named as the lease holder (default `router_id`, else the
    /// host name).
    pub name: Option<String>,
    /// `when_unreachable release|keep|takeover` (default release).
    pub when_unreachable: crate::vrrp::WhenUnreachable,
    /// `timeout`: each request to the witness, in ms (default a sixth of the lease time).
    pub timeout_ms: u64,
    /// `ca_file`, `cert_file`, `key_file`: TLS to the witness (https endpoints).
    pub ca_file: Option<std::path::PathBuf>,
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
}

impl Model {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The sync group an instance belongs to, if any.
    pub fn group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
}

/// `global_defs`: the settings that affect VRRP.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Global {
    pub router_id: Option<String>,
    /// `vrrp_version`: default VRRP version for instances (2 unless set).
    pub vrrp_version: Version,
    pub script_user: Option<RunAs>,
    pub enable_script_security: bool,
    /// GARP/NA defaults for instances (`vrrp_garp_*`, `vrrp_min_garp`).
    pub garp: Garp,
    /// `vrrp_garp_interval`: delay between gratuitous ARPs on one interface.
    pub garp_interval_us: u64,
    /// `vrrp_gna_interval`: delay between unsolicited neighbour adverts on one interface.
    pub gna_interval_us: u64,
    pub notify_fifo: Option<Fifo>,
    pub vrrp_notify_fifo: Option<Fifo>,
    /// `vrrp_rt_priority`: real-time (SCHED_RR) priority 1..=99.
    pub rt_priority: Option<u8>,
    /// `vrrp_priority`: nice value -20..=19.
    pub nice: Option<i8>,
    /// `vrrp_no_swap`: lock the daemon's memory (`mlockall`) so it is never paged out.
    pub no_swap: bool,
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    /// `vrrp_strict`: strict RFC compliance (no auth, no unicast, no accept mode by default).
    pub strict: bool,
    /// `vrrp_startup_delay`: the instances start this long after the daemon.
    pub startup_delay_ms: u64,
    /// `vrrp_delay_after_boot`: the instances start no sooner than this long after the
    /// system booted (the longer of the two delays wins).
    pub delay_after_boot_ms: u64,
    /// baton extension `notify_timeout`: a notify hook still running after this is killed
    /// with its whole process group (default 30 s).
    pub notify_timeout_ms: u64,
    pub mcast_group4: Ipv4Addr,
    pub mcast_group6: IpAddr,
    /// `vrrp_lower_prio_no_advert`: the default of instances (strict mode: on).
    pub lower_prio_no_advert: Option<bool>,
    /// `vrrp_higher_prio_send_advert`: the default of instances (baton: on).
    pub higher_prio_send_advert: Option<bool>,
    /// `v3_checksum_as_v2`: the default of instances.
    pub v3_checksum_as_v2: bool,
    /// baton extension `metrics_listen`: where `/metrics` is served over HTTP (off unless
    /// set).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// baton extension `vip_probe_interval`: seconds between two probes (ARP, DAD neighbour
    /// solicitation) of a master's own VIPs (another host that answers is an alarm); 0: no
    /// probe.
    pub vip_probe_interval_s: u32,
}

/// `vip_probe_interval` unless configured: no probe (it sends ARP/ND on the segment, and a
/// proxy ARP that answers probes would raise the alarm for nothing).
pub const VIP_PROBE_INTERVAL_S: u32 = 0;

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            vrrp_version: Version::V2,
            script_user: None,
            enable_script_security: false,
            garp: Garp::default(),
            garp_interval_us: 0,
            gna_interval_us: 0,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            rt_priority: None,
            nice: None,
            no_swap: false,
            check_unicast_src: false,
            skip_check_adv_addr: false,
            strict: false,
            startup_delay_ms: 0,
            delay_after_boot_ms: 0,
            notify_timeout_ms: NOTIFY_TIMEOUT_MS,
            mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            mcast_group6: IpAddr::V6(std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            v3_checksum_as_v2: false,
            metrics_listen: None,
            vip_probe_interval_s: VIP_PROBE_INTERVAL_S,
        }
    }
}

impl Global {
    /// `vrrp_mcast_group4` / `vrrp_mcast_group6` for `family` when it is not the standard
    /// group (224.0.0.18 / ff02::12); instances without `mcast_dst_ip` use it.
    pub fn mcast_group(&self, family: Family) -> Option<IpAddr> {
        let standard = Global::default();
        match family {
            Family::IPv4 => (self.mcast_group4 != standard.mcast_group4)
                .then_some(IpAddr::V4(self.mcast_group4)),
            Family::IPv6 => {
                (self.mcast_group6 != standard.mcast_group6).then_some(self.mcast_group6)
            }
        }
    }
}

/// Gratuitous ARP / unsolicited NA settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Garp {
    /// Delay of the second burst after becoming MASTER (0 = no second burst).
    pub master_delay_s: u32,
    /// Messages per burst after becoming MASTER.
    pub master_repeat: u32,
    /// Delay of the second burst after a lower-priority advert while MASTER.
    pub lower_prio_delay_s: u32,
    pub lower_prio_repeat: u32,
    /// Period of refresh bursts while MASTER (0 = none).
    pub master_refresh_s: u32,
    pub master_refresh_repeat: u32,
    /// `garp_extra_if [all] SECONDS`: one GARP/NA every SECONDS while MASTER on each
    /// interface of the VIPs/eVIPs other than the instance's own (0 = none). Without
    /// `all`, only on VMAC interfaces (keepalived: vrrp.c `vrrp_send_vmac_update`).
    pub extra_if_s: u32,
    /// `all`: on every such interface, not only VMACs.
    pub extra_if_all: bool,
}

impl Default for Garp {
    /// keepalived's defaults.
    fn default() -> Self {
        Garp {
            master_delay_s: 5,
            master_repeat: 5,
            lower_prio_delay_s: 5,
            lower_prio_repeat: 5,
            master_refresh_s: 0,
            master_refresh_repeat: 1,
            extra_if_s: 0,
            extra_if_all: false,
        }
    }
}

/// Default `notify_timeout`: 30 s.
pub const NOTIFY_TIMEOUT_MS: u64 = 30_000;

/// A FIFO that state changes are written to, optionally with a script reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fifo {
    pub path: String,
    pub run_as: Option<RunAs>,
    pub script: Option<Hook>,
}

/// User (and group) a script runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

/// A command line: program and arguments (split like keepalived: on spaces, single or double
/// quotes keep spaces).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// The whole line, when it uses the shell (an unquoted `|`, `&&`, `;`, `>`, `$`, `*`...):
    /// it is then run as `/bin/sh -c LINE`. Otherwise the program is run directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = &self.shell {
            return write!(f, "{line}");
        }
        write!(f, "{}", self.program)?;
        for a in &self.args {
            if a.contains(char::is_whitespace) || a.is_empty() {
                write!(f, " '{a}'")?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

/// A script to run, with its user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hook {
    pub command: Command,
    pub run_as: Option<RunAs>,
}

/// A `vrrp_script` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackScript {
    pub command: Command,
    /// Seconds between runs (default 1 s).
    pub interval_ms: u64,
    /// After this the run counts as failed (default: the interval).
    pub timeout_ms: u64,
    /// Priority change, -253..=253 (0: failure means FAULT).
    pub weight: i32,
    pub reverse: bool,
    /// Successes needed to become OK (default 1).
    pub rise: u32,
    /// Failures needed to become KO (default 1).
    pub fall: u32,
    pub run_as: Option<RunAs>,
    /// Start in the failed state.
    pub init_fail: bool,
}

/// A `track_file` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub path: String,
    /// Multiplies the number read from the file (default 1).
    pub weight: i64,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: create (or overwrite) the file with VALUE at start.
    pub init: Option<TrackFileInit>,
}

/// A `vrrp_track_process` block: how many running processes match, against a quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackProcess {
    /// `process NAME [PARAM...]`: matched exactly against the process's name
    /// (`/proc/PID/comm`), or its command line's first word with `full_command`.
    pub name: String,
    /// The parameters after the name (they imply `full_command`).
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    /// -254..=254 (0: failure means FAULT).
    pub weight: i32,
    pub reverse: bool,
    /// Up while `quorum <= matching processes <= quorum_max`.
    pub quorum: u32,
    pub quorum_max: u32,
    /// Up only once the quorum has held this long (`fork_delay`, `delay`).
    pub fork_delay_ms: u64,
    /// Down only once the quorum has been lost this long (`terminate_delay`, `delay`).
    pub terminate_delay_ms: u64,
}

/// How a `vrrp_track_process`'s parameters are compared with a command line's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// No parameters given and no `param_match`: parameters are not looked at.
    None,
    /// The same parameters, no more (`param_match` alone, or parameters without it).
    Exact,
    /// The given parameters first; more may follow (`param_match partial`).
    Partial,
    /// As partial, and the last given one may be the start of a longer one
    /// (`param_match initial`).
    Initial,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TrackFileInit {
    pub value: i64,
    pub overwrite: bool,
}

/// The VRRP version (shared with the wire codec).
pub use crate::wire::vrrp::Version;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Family {
    IPv4,
    IPv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::IPv4,
            IpAddr::V6(_) => Family::IPv6,
        }
    }
}

/// The state an instance starts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum InitialState {
    Master,
    Backup,
}

/// Whether a recovered higher-priority node takes the VIP back by itself.
///
/// baton extension `fallback manual|automatic`; keepalived's `nopreempt` is `Manual`,
/// `preempt` (the default) is `Automatic`. With `Manual`, the operator runs `baton fallback`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    Automatic,
    Manual,
}

/// `fallback_check SCRIPT` (baton extension): must succeed before `baton fallback` or an
/// automatic preemption takes the VIP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FallbackCheck {
    pub command: Command,
    /// `fallback_check_timeout` (default 10 s).
    pub timeout_ms: u64,
}

/// `authentication { auth_type PASS; auth_pass ... }` (VRRPv2 only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Auth {
    /// At most 8 bytes (longer passwords are truncated, as keepalived does).
    Pass(String),
}

/// `auth_hmac { key ID VALUE; active_key ID; anti_replay time|monotonic; time_window S;
/// mode enforce|permissive|receive-only }` (keepalived 2.4.0): an HMAC-SHA256 trailer on
/// every advert (`wire::auth_hmac`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthHmac {
    /// The keys, in file order, ids unique.
    pub keys: Vec<HmacKey>,
    /// The key adverts are signed with.
    pub active_key: u8,
    pub anti_replay: AntiReplay,
    pub mode: HmacMode,
}

/// One `key ID VALUE` line of `auth_hmac`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HmacKey {
    /// 1..=255.
    pub id: u8,
    /// 32 to 64 bytes.
    pub secret: Secret,
    /// The file the key was read from (`file:PATH`), if it was.
    pub file: Option<String>,
}

/// Key material: never shown. `Debug` and `Serialize` print `<redacted>`, so a secret
/// cannot reach `check-config`, `status`, `/status` or a log line through the model.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// `anti_replay` of `auth_hmac` (keepalived's default: time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AntiReplay {
    /// The sequence must grow and its seconds be within `window_s` of our clock.
    Time { window_s: u32 },
    /// The sequence must only grow.
    Monotonic,
}

/// `mode` of `auth_hmac` (keepalived's `vrrp_auth_hmac_mode_t`; default enforce).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HmacMode {
    /// Sign; drop adverts without a valid trailer.
    Enforce,
    /// Sign; accept adverts without a trailer (a present one must verify).
    Permissive,
    /// Send no trailer; accept adverts without one (a present one must verify).
    ReceiveOnly,
}

impl HmacMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HmacMode::Enforce => "enforce",
            HmacMode::Permissive => "permissive",
            HmacMode::ReceiveOnly => "receive-only",
        }
    }
}

/// `scope` of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

/// `brd`: an address, or `+`/`-` to set/clear the host bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Broadcast {
    Addr(Ipv4Addr),
    SetHostBits,
    ClearHostBits,
}

/// The flags of a `virtual_ipaddress` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AddressFlags {
    pub home: bool,
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub use_vmac: bool,
}

/// `preferred_lft`: seconds, or `forever`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PreferredLifetime {
    Seconds(u32),
    Forever,
}

/// One line of `virtual_ipaddress` / `virtual_ipaddress_excluded`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    /// Default 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
    pub brd: Option<Broadcast>,
    /// Interface (default: the instance's).
    pub dev: Option<String>,
    pub scope: Option<Scope>,
    pub label: Option<String>,
    pub peer: Option<IpAddr>,
    pub flags: AddressFlags,
    pub preferred_lft: Option<PreferredLifetime>,
    /// `track_group NAME` (static addresses only in keepalived; kept for completeness).
    pub track_group: Option<String>,
}

impl std::fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// The kind of a `virtual_routes` line (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RouteKind {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Prohibit => "prohibit",
        }
    }
}

/// The main routing table (`RT_TABLE_MAIN`), the default of routes and of nothing else.
pub const TABLE_MAIN: u32 = 254;
/// `RTPROT_KEEPALIVED`: the protocol of virtual routes unless `proto` says otherwise.
pub const PROTO_KEEPALIVED: u8 = 18;

/// One `virtual_routes` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualRoute {
    pub kind: RouteKind,
    pub dst: IpAddr,
    pub dst_len: u8,
    /// `src`: the preferred source address.
    pub src: Option<IpAddr>,
    /// `via` / `gw`.
    pub via: Option<IpAddr>,
    /// `dev` / `oif`.
    pub dev: Option<String>,
    /// `RT_SCOPE_*` number; `None`: the kernel's default for the route.
    pub scope: Option<u8>,
    pub table: u32,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `proto` / `protocol` (default 18, `keepalived`, as keepalived installs them).
    pub protocol: u8,
    pub no_track: bool,
}

impl VirtualRoute {
    pub fn is_ipv4(&self) -> bool {
        self.dst.is_ipv4()
    }
}

/// The line as `ip route` would take it.
impl std::fmt::Display for VirtualRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind != RouteKind::Unicast {
            write!(f, "{} ", self.kind.as_str())?;
        }
        write!(f, "{}/{}", self.dst, self.dst_len)?;
        if let Some(src) = self.src {
            write!(f, " src {src}")?;
        }
        if let Some(via) = self.via {
            write!(f, " via {via}")?;
        }
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if let Some(scope) = self.scope {
            write!(f, " scope {scope}")?;
        }
        if self.table != TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if let Some(metric) = self.metric {
            write!(f, " metric {metric}")?;
        }
        if self.protocol != PROTO_KEEPALIVED {
            write!(f, " proto {}", self.protocol)?;
        }
        if self.no_track {
            write!(f, " no_track")?;
        }
        Ok(())
    }
}

/// One `virtual_rules` line; its action is always `table`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualRule {
    pub family: Family,
    /// `from PREFIX`.
    pub from: Option<(IpAddr, u8)>,
    /// `to PREFIX`.
    pub to: Option<(IpAddr, u8)>,
    /// `table` / `lookup`.
    pub table: u32,
    /// `priority` / `preference` / `pref` / `order`; `None`: the kernel picks one.
    pub priority: Option<u32>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// `fwmark MARK[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    pub no_track: bool,
}

/// The line as `ip rule` would take it.
impl std::fmt::Display for VirtualRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        if let Some((a, l)) = self.from {
            write!(f, "from {a}/{l}")?;
            sep = " ";
        }
        if let Some((a, l)) = self.to {
            write!(f, "{sep}to {a}/{l}")?;
        }
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        if let Some(i) = &self.iif {
            write!(f, " iif {i}")?;
        }
        if let Some(o) = &self.oif {
            write!(f, " oif {o}")?;
        }
        match self.fwmark {
            Some((m, Some(mask))) => write!(f, " fwmark {m:#x}/{mask:#x}")?,
            Some((m, None)) => write!(f, " fwmark {m:#x}")?,
            None => {}
        }
        write!(f, " table {}", self.table)?;
        if self.no_track {
            write!(f, " no_track")?;
        }
        Ok(())
    }
}

/// A `unicast_peer` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// A `track_interface` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedInterface {
    pub name: String,
    /// 0: down means FAULT.
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_script` line; `weight` overrides the script's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedScript {
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: Option<bool>,
}

/// A `track_file` line inside an instance or sync group; `weight` overrides the file's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedFile {
    pub name: String,
    pub weight: Option<i64>,
    pub reverse: Option<bool>,
}

/// A `track_process` line inside an instance or sync group; `weight` overrides the block's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedProcess {
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: Option<bool>,
}

/// Notify scripts of an instance or sync group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    /// Called on every transition with `INSTANCE|GROUP name state priority` appended.
    pub any: Option<Hook>,
    pub master: Option<Hook>,
    pub backup: Option<Hook>,
    pub fault: Option<Hook>,
    pub stop: Option<Hook>,
    /// Instances only: a MASTER received a lower-priority advert.
    pub master_rx_lower_pri: Option<Hook>,
}

/// `use_vmac [[name] NAME] [MAC]` with `vmac_xmit_base`: a private-mode macvlan on the
/// instance's interface that holds the VIPs (and, without `vmac_xmit_base`, sends and
/// hears the adverts), with the virtual MAC as its address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Vmac {
    /// The macvlan's name: given, else keepalived's `vrrp.VRID`.
    pub name: String,
    /// Its address: given (5 octets take the VRID as the sixth), else [`Vmac::rfc_mac`].
    pub mac: [u8; 6],
    /// `vmac_xmit_base`: adverts are sent and heard on the base interface.
    pub xmit_base: bool,
    /// The name was written (not keepalived's default).
    pub name_given: bool,
}

impl Vmac {
    /// RFC 5798 §7.3: the virtual router MAC address of `vrid`: 00:00:5e:00:01:VRID for
    /// IPv4, 00:00:5e:00:02:VRID for IPv6.
    pub fn rfc_mac(vrid: u8, family: Family) -> [u8; 6] {
        let kind = if family == Family::IPv6 { 0x02 } else { 0x01 };
        [0x00, 0x00, 0x5e, 0x00, kind, vrid]
    }

    /// The default name: keepalived's `vmac_prefix` (`vrrp`), a dot and the VRID; an IPv6
    /// instance whose IPv4 twin (same VRID) has that name takes `vrrp6.VRID`, as keepalived
    /// does.
    pub fn default_name(vrid: u8) -> String {
        format!("vrrp.{vrid}")
    }
}

/// A macvlan of `use_vmac_addr` or of `use_vmac` on an address line (keepalived 2.4): a
/// private-mode macvlan on `base` with `mac` that holds the instance's addresses of
/// `family` on that interface, made and kept like the instance's own VMAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressVmac {
    /// `vr4.VRID.BASE` (`vr6` for IPv6; a hash of BASE when too long): from this
    /// macvlan's own VRID, family and base, so other instances never rename it
    /// (`validate::address_vmac_name`).
    pub name: String,
    pub base: String,
    pub family: Family,
    /// The instance's `use_vmac` MAC if one was written, else the RFC 5798 virtual MAC of
    /// `family`.
    pub mac: [u8; 6],
}

/// Where one of an instance's addresses lives (keepalived 2.4, `vrrp_complete_instance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressPlace<'a> {
    /// On the instance's VMAC.
    InstanceVmac,
    /// On a macvlan of its own ([`Instance::address_vmacs`]).
    AddressVmac(&'a AddressVmac),
    /// On this interface itself.
    Interface(&'a str),
}

/// A `vrrp_instance`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Instance {
    pub name: String,
    pub state: InitialState,
    pub interface: String,
    pub vrid: u8,
    /// `version` in the instance, else `vrrp_version`; IPv6 instances always use 3.
    pub version: Version,
    pub family: Family,
    /// 1..=255; 255 means address owner.
    pub priority: u8,
    /// Centiseconds: 100 = 1 s. VRRPv2: whole seconds; VRRPv3: 1..=4095.
    pub advert_int_cs: u16,
    pub vips: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded`: held by the master like the VIPs, not advertised.
    pub excluded_vips: Vec<VirtualAddress>,
    /// `virtual_routes`: installed after the addresses while MASTER.
    pub routes: Vec<VirtualRoute>,
    /// `virtual_rules`: installed after the routes while MASTER.
    pub rules: Vec<VirtualRule>,
    pub mcast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    /// Non-empty means unicast mode.
    pub unicast_peers: Vec<UnicastPeer>,
    pub auth: Option<Auth>,
    /// `auth_hmac { ... }` (keepalived 2.4.0).
    pub auth_hmac: Option<AuthHmac>,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    pub track_files: Vec<TrackedFile>,
    pub track_processes: Vec<TrackedProcess>,
    /// Do not go to FAULT when the instance's own interface goes down.
    pub dont_track_primary: bool,
    /// The single source of truth for preemption (`nopreempt`/`preempt`/`fallback`).
    pub fallback: Fallback,
    pub fallback_check: Option<FallbackCheck>,
    /// baton extension: after becoming BACKUP or FAULT, no preemption for this long (0: off).
    pub flap_hold_down_ms: u64,
    /// baton extension `flap_damping COUNT WINDOW HOLD`.
    pub flap_damping: Option<FlapDamping>,
    /// 0..=1000 s.
    pub preempt_delay_ms: u64,
    /// Accept packets addressed to the VIPs when not address owner.
    pub accept: bool,
    pub garp: Garp,
    pub notify: Notify,
    pub use_vmac: Option<Vmac>,
    /// `use_vmac_addr` (keepalived 2.4): a VMAC of its own for each interface a VIP or an
    /// excluded address lives on other than the instance's, and for the addresses of the
    /// other family.
    pub use_vmac_addr: bool,
    /// The macvlans of `use_vmac_addr` and of `use_vmac` on an address line, one per
    /// (interface, family), named and given their MAC across instances at validation.
    pub address_vmacs: Vec<AddressVmac>,
    pub strict: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    /// `unicast_ttl`: the TTL / hop limit of unicast adverts (default 255).
    pub unicast_ttl: Option<u8>,
    /// `debug LEVEL` 0..=4 (kept, unused).
    pub debug: u8,
    /// `lower_prio_no_advert`: a master does not answer a lower-priority advert (the RFCs
    /// before RFC 9568; on in strict mode).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master sends one advert before it yields to a higher
    /// priority (baton's default: on; keepalived's: off).
    pub higher_prio_send_advert: bool,
    /// `v3_checksum_as_v2`: VRRPv3 over IPv4 without the pseudo-header in the checksum.
    pub v3_checksum_as_v2: bool,
    /// baton extension: the instance's key under the witness prefix (`witness_key`;
    /// default `vrid-VRID-ipv4` / `-ipv6`, the same on every node of the group), or `None`
    /// with `no_witness`.
    pub witness_key: Option<String>,
}

impl Instance {
    pub fn fallback(&self) -> Fallback {
        self.fallback
    }

    /// keepalived's view: preempt unless `nopreempt` (= `fallback manual`).
    pub fn preempt(&self) -> bool {
        self.fallback == Fallback::Automatic
    }

    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    pub fn is_address_owner(&self) -> bool {
        self.priority == 255
    }

    /// The interface and family of the macvlan an address needs of its own, if any
    /// (keepalived 2.4): an address on the instance's interface (no `dev`, or `dev` that
    /// interface) goes on the instance's VMAC when it has one and the family is the
    /// instance's; else it needs one with `use_vmac` on its line, or with `use_vmac_addr`
    /// when its family is not the instance's. An address on another interface needs one
    /// with `use_vmac` on its line or `use_vmac_addr`.
    pub fn address_vmac_key<'a>(&'a self, vip: &'a VirtualAddress) -> Option<(&'a str, Family)> {
        let family = Family::of(&vip.addr);
        let dev = vip.dev.as_deref().unwrap_or(&self.interface);
        let wanted = if dev == self.interface {
            if self.use_vmac.is_some() && family == self.family {
                false
            } else {
                vip.flags.use_vmac || (self.use_vmac_addr && family != self.family)
            }
        } else {
            vip.flags.use_vmac || self.use_vmac_addr
        };
        wanted.then_some((dev, family))
    }

    /// Where `vip` (one of its VIPs or excluded addresses) lives.
    pub fn address_place<'a>(&'a self, vip: &'a VirtualAddress) -> AddressPlace<'a> {
        if let Some((base, family)) = self.address_vmac_key(vip)
            && let Some(v) = self
                .address_vmacs
                .iter()
                .find(|v| v.base == base && v.family == family)
        {
            return AddressPlace::AddressVmac(v);
        }
        let dev = vip.dev.as_deref().unwrap_or(&self.interface);
        if dev == self.interface && self.use_vmac.is_some() && Family::of(&vip.addr) == self.family
        {
            AddressPlace::InstanceVmac
        } else {
            AddressPlace::Interface(dev)
        }
    }

    /// `state MASTER`, where it is acted on (validation keeps it only with automatic
    /// fallback, outside sync groups unless the address owner): Master at start.
    pub fn starts_as_master(&self) -> bool {
        self.state == InitialState::Master
    }
}

/// `flap_damping COUNT WINDOW HOLD`: after becoming MASTER `count` times within `window`
/// (counted across restarts), do not preempt for `hold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FlapDamping {
    pub count: u32,
    pub window_ms: u64,
    pub hold_ms: u64,
}

/// A `vrrp_sync_group`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub members: Vec<String>,
    pub notify: Notify,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    pub track_files: Vec<TrackedFile>,
    pub track_processes: Vec<TrackedProcess>,
    /// `sync_group_tracking_weight`: allow differing weights among members.
    pub tracking_weight: bool,
}
