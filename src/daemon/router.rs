//! One configured instance at run time: its state machine, where it sends from and to, and
//! its counters.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::announce;
use super::send_errors::SendErrors;
use super::translate;
use crate::config;
use crate::net::Family;
use crate::vrrp::{self, receive::Filter};

/// The socket an instance uses: interface, family and source address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub interface: String,
    pub family: FamilyKey,
    pub source: IpAddr,
}

/// `net::Family` with an order, for map keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FamilyKey {
    V4,
    V6,
}

impl FamilyKey {
    pub fn of(family: config::Family) -> FamilyKey {
        match family {
            config::Family::IPv4 => FamilyKey::V4,
            config::Family::IPv6 => FamilyKey::V6,
        }
    }

    pub fn net(self) -> Family {
        match self {
            FamilyKey::V4 => Family::V4,
            FamilyKey::V6 => Family::V6,
        }
    }
}

/// What a received advert is dispatched by: the interface its socket is bound to, the
/// family and the VRID (RFC 5798 7.1: a VRID is unique per interface and family; the
/// validator refuses two instances that share all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WireKey {
    pub ifindex: u32,
    pub family: FamilyKey,
    pub vrid: u8,
}

/// A virtual address with the interface it lives on.
#[derive(Clone, Debug)]
pub struct PlacedVip {
    pub vip: config::VirtualAddress,
    pub ifindex: u32,
    pub interface: String,
    pub mac: [u8; 6],
    /// `net.ipv6.conf.IF.forwarding` when last announced: the NA's router flag.
    pub forwards_ipv6: bool,
}

/// How long a reload that moves an instance between multicast and unicast (or to another
/// multicast group) keeps the old way as well: adverts go both ways, and adverts that came
/// the old way are heard. The other nodes, reloaded one after the other within it, never
/// stop hearing this one, so the move makes no failover.
pub const MIGRATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// The old way of an instance during [`MIGRATION_WINDOW`] after a reload changed it.
pub struct Migration {
    /// The instance's configuration before the reload (its destinations, TTL, source).
    pub old: config::Instance,
    /// What the old configuration accepted.
    pub old_filter: Filter,
    /// The socket the old way sent from.
    pub old_socket: SocketKey,
    /// When the old way is dropped.
    pub until: std::time::Duration,
}

pub struct Router {
    pub cfg: config::Instance,
    /// A move between multicast and unicast in progress (see [`MIGRATION_WINDOW`]); boxed,
    /// as it is rare and holds a whole configuration.
    pub migration: Option<Box<Migration>>,
    pub machine: vrrp::Instance,
    pub filter: Filter,
    pub socket: SocketKey,
    pub ifindex: u32,
    pub vips: Vec<PlacedVip>,
    pub announce: announce::Schedule,
    /// Dropped packets by reason.
    pub drops: BTreeMap<&'static str, u64>,
    /// Adverts that could not be sent, and what to log about them.
    pub send_errors: SendErrors,
    /// The witness key this instance follows (prefix included), if any.
    pub witness_key: Option<String>,
    /// What the witness last said, for status.
    pub witness_info: crate::witness::Info,
    /// The epoch of the last lease command sent for it: a report of an older one is stale.
    pub witness_epoch: u64,
    /// Peers whose adverts disagree with this instance's configuration (the alarm).
    pub peers: vrrp::peers::PeerWatch,
    /// The probe of its own VIPs while MASTER (another host that answers is an alarm).
    pub probe: super::probe::Prober,
    /// `virtual_routes` / `virtual_rules` lines the kernel refused while MASTER, by
    /// [`super::routes::key`], with the error.
    pub route_errors: BTreeMap<String, String>,
    /// `auth_hmac`: the send sequence and the replay memory (`vrrp::auth_hmac`).
    pub hmac: Option<vrrp::auth_hmac::AuthHmac>,
    /// Adverts without a trailer that `auth_hmac` permissive or receive-only accepted.
    pub hmac_unsigned: u64,
    /// `use_vmac`: the macvlan this instance made (or kept) and holds its VIPs on.
    pub vmac: Option<super::vmac::VmacLink>,
    /// `use_vmac_addr` and `use_vmac` on address lines: the macvlans this instance made (or
    /// kept) for the addresses on other interfaces or of the other family.
    pub address_vmacs: Vec<super::vmac::VmacLink>,
    /// The name of a VMAC of the instance (its own or an address's) deleted under it:
    /// FAULT until a restart.
    pub vmac_lost: Option<String>,
    /// What tracking last said of it, as applied to its state machine (None until the
    /// first verdict).
    pub verdict: Option<super::Verdict>,
    /// Flap damping holding its preemption back, while it does.
    pub damped: Option<super::flaps::Damped>,
    /// The last of its notify hooks that finished.
    pub last_hook: Option<super::hooks::Finished>,
    /// Which start of an instance of this name it is (the daemon counts them): a hook the
    /// instance a reload replaced had queued finishes for that one, not this one.
    pub incarnation: u64,
}

impl Router {
    pub fn new(
        cfg: config::Instance,
        socket: SocketKey,
        ifindex: u32,
        vips: Vec<PlacedVip>,
        own: Vec<IpAddr>,
        witness: Option<&config::Witness>,
    ) -> Router {
        let rule = translate::witness_rule(witness, &cfg);
        let machine = vrrp::Instance::new(translate::machine_config(&cfg, socket.source, rule));
        let filter = translate::filter(&cfg, own);
        let hmac = translate::auth_hmac(&cfg).map(vrrp::auth_hmac::AuthHmac::new);
        Router {
            cfg,
            migration: None,
            machine,
            filter,
            socket,
            ifindex,
            vips,
            announce: announce::Schedule::default(),
            drops: BTreeMap::new(),
            send_errors: SendErrors::default(),
            witness_key: None,
            witness_info: crate::witness::Info::default(),
            witness_epoch: 0,
            peers: vrrp::peers::PeerWatch::default(),
            probe: super::probe::Prober::default(),
            route_errors: BTreeMap::new(),
            hmac,
            hmac_unsigned: 0,
            vmac: None,
            address_vmacs: Vec::new(),
            vmac_lost: None,
            verdict: None,
            damped: None,
            last_hook: None,
            incarnation: 0,
        }
    }

    /// The migration in progress at `now`, if any; one whose window has passed is dropped.
    pub fn migration(&mut self, now: std::time::Duration) -> Option<&Migration> {
        if self.migration.as_ref().is_some_and(|m| now >= m.until) {
            self.migration = None;
            tracing::info!(
                instance = %self.cfg.name,
                "the move to {} is complete: the old way is no longer used",
                way(&self.cfg)
            );
        }
        self.migration.as_deref()
    }

    /// Check a received advert against the instance's filter, and, during a migration,
    /// against the old one (an advert that came the old way is heard; one that neither
    /// accepts is dropped for the new filter's reason).
    pub fn check(
        &mut self,
        now: std::time::Duration,
        received: &crate::net::Received,
        repr: &crate::wire::vrrp::Repr,
    ) -> Result<vrrp::Advert, vrrp::receive::Drop> {
        let (src, dst, ttl) = (received.src, received.dst, received.ttl);
        let first = self.filter.check(src, dst, ttl, repr);
        match (first, self.migration(now)) {
            (Err(drop), Some(m)) => m.old_filter.check(src, dst, ttl, repr).map_err(|_| drop),
            (result, _) => result,
        }
    }

    /// keepalived's `auth_hmac` check of an advert `check` accepted (`vrrp::auth_hmac`):
    /// the reason it is dropped, if it is. `pdu` is the advert without its trailer; `wall`
    /// the wall-clock time it was received. An advert with a trailer to an instance without
    /// `auth_hmac` is dropped, as keepalived drops it for its length.
    pub fn check_hmac(
        &mut self,
        wall: vrrp::auth_hmac::WallClock,
        src: std::net::IpAddr,
        repr: &crate::wire::vrrp::Repr,
        pdu: &[u8],
        trailer: Option<&crate::wire::auth_hmac::Trailer>,
    ) -> Result<(), vrrp::auth_hmac::Drop> {
        use vrrp::auth_hmac::{Drop, Verdict};
        let Some(hmac) = self.hmac.as_mut() else {
            return match trailer {
                Some(_) => Err(Drop::Unexpected),
                None => Ok(()),
            };
        };
        match hmac.check(wall, src, repr.version, repr.vrid, pdu, trailer)? {
            Verdict::Unsigned => self.hmac_unsigned += 1,
            Verdict::Verified { skew_s: Some(skew) } => {
                let window = hmac.config().window_s.unwrap_or(u32::MAX);
                if i64::from(skew).abs() > i64::from(window / 2) {
                    tracing::debug!(
                        instance = %self.cfg.name,
                        "auth_hmac: clock skew {skew} s from {src} approaches the window of {window} s"
                    );
                }
            }
            Verdict::Verified { skew_s: None } => {}
        }
        Ok(())
    }

    pub fn count_drop(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_default() += 1;
    }

    /// Does this router own a packet for `vrid` that arrived on `socket`'s interface and
    /// family?
    pub fn hears(&self, interface: &str, family: FamilyKey, vrid: u8) -> bool {
        self.cfg.vrid == vrid && self.socket.family == family && self.socket.interface == interface
    }

    /// The VIPs/eVIPs (indices into `vips`) the `garp_extra_if` messages announce, if any
    /// (`announce::extra_targets`): the instance's interface is its VMAC with `use_vmac`,
    /// and an address is on a VMAC when it lives on that one or on an address VMAC
    /// (`use_vmac_addr`, `use_vmac` on its line).
    pub fn extra_garp_targets(&self) -> Vec<usize> {
        let instance_if = self
            .vmac
            .as_ref()
            .map_or(self.cfg.interface.as_str(), |v| v.name.as_str());
        let is_vmac = |name: &str| {
            self.vmac
                .iter()
                .chain(&self.address_vmacs)
                .any(|v| v.name == name)
        };
        let placements: Vec<announce::Placement<'_>> = self
            .vips
            .iter()
            .map(|p| announce::Placement {
                interface: &p.interface,
                on_vmac: is_vmac(&p.interface),
            })
            .collect();
        announce::extra_targets(
            instance_if,
            self.vmac.as_ref().is_some_and(|v| v.xmit_base),
            self.cfg.garp.extra_if_all,
            &placements,
        )
    }

    /// The earliest time this router needs the event loop.
    pub fn next_deadline(&self) -> Option<std::time::Duration> {
        [
            self.machine.next_deadline(),
            self.announce.next_deadline(),
            self.peers.next_deadline(),
            self.probe.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// How an instance's adverts travel, for logs: "multicast 224.0.0.18" or "unicast".
pub fn way(cfg: &config::Instance) -> String {
    if cfg.is_unicast() {
        "unicast".to_string()
    } else {
        format!("multicast {}", translate::multicast_group(cfg))
    }
}
