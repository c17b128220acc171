//! `virtual_routes` and `virtual_rules`: installed after the addresses when an instance
//! becomes MASTER, removed (rules first) before the addresses when it leaves MASTER, put
//! back when someone deletes them while MASTER (unless `no_track`), and changed in place
//! by a reload.
//!
//! Like the VIPs, they are changed over the daemon's rtnetlink connection from the
//! protocol thread: each request is one netlink round trip, awaited on the loop, never a
//! blocking call. A refused line is logged and kept in the router's `route_errors` for
//! `baton status`; the others are installed regardless.

use std::net::IpAddr;

use tracing::{debug, error, info, warn};

use super::host::{Links, NetEvents};
use super::{Daemon, Router};
use crate::config::{self, Change, Family, RouteKind, VirtualRoute, VirtualRule};
use crate::control::status::{Alarm, Health, RouteStatus};
use crate::netlink::{self, NetEvent};
use crate::vrrp::State;

/// The key of a route in `Router::route_errors` and in status.
pub fn route_key(r: &VirtualRoute) -> String {
    format!("route {r}")
}

/// The key of a rule in `Router::route_errors` and in status.
pub fn rule_key(r: &VirtualRule) -> String {
    format!("rule {r}")
}

/// Every key of an instance's routes and rules.
pub fn keys(cfg: &config::Instance) -> Vec<String> {
    cfg.routes
        .iter()
        .map(route_key)
        .chain(cfg.rules.iter().map(rule_key))
        .collect()
}

fn kind_number(kind: RouteKind) -> u8 {
    match kind {
        RouteKind::Unicast => 1,
        RouteKind::Blackhole => 6,
        RouteKind::Unreachable => 7,
        RouteKind::Prohibit => 8,
    }
}

/// The netlink route for a line; `dev` is looked up now (it may have appeared or changed
/// index since the file was read).
async fn netlink_route(nl: &dyn Links, r: &VirtualRoute) -> Result<netlink::Route, String> {
    let oif = match &r.dev {
        Some(dev) => Some(
            nl.link(dev)
                .await
                .map_err(|e| format!("device {dev}: {e}"))?
                .index,
        ),
        None => None,
    };
    Ok(netlink::Route {
        dst: r.dst,
        dst_len: r.dst_len,
        kind: kind_number(r.kind),
        src: r.src,
        via: r.via,
        oif,
        scope: r.scope,
        table: r.table,
        metric: r.metric,
        protocol: r.protocol,
    })
}

fn netlink_rule(r: &VirtualRule) -> netlink::Rule {
    netlink::Rule {
        ipv6: r.family == Family::IPv6,
        from: r.from,
        to: r.to,
        table: r.table,
        priority: r.priority,
        iif: r.iif.clone(),
        oif: r.oif.clone(),
        fwmark: r.fwmark,
        protocol: config::PROTO_KEEPALIVED,
    }
}

/// Which lines to act on: all of the instance's, or the ones a reload added or removed.
pub struct Lines {
    pub routes: Vec<VirtualRoute>,
    pub rules: Vec<VirtualRule>,
}

impl Lines {
    fn all(cfg: &config::Instance) -> Lines {
        Lines {
            routes: cfg.routes.clone(),
            rules: cfg.rules.clone(),
        }
    }
}

async fn add_route(nl: &dyn Links, r: &VirtualRoute) -> Result<(), String> {
    let route = netlink_route(nl, r).await?;
    nl.add_route(&route).await.map_err(|e| e.to_string())
}

async fn del_route(nl: &dyn Links, r: &VirtualRoute) -> Result<(), String> {
    match netlink_route(nl, r).await {
        Ok(route) => nl.del_route(&route).await.map_err(|e| e.to_string()),
        // No device: the kernel removed its routes with it.
        Err(_) if r.dev.is_some() => Ok(()),
        Err(e) => Err(e),
    }
}

impl Daemon {
    /// Install the instance's routes, then its rules (all of them, or `lines`).
    pub(super) async fn install_routes(&mut self, name: &str, lines: Option<Lines>) {
        let Some(router) = self.routers.get(name) else {
            return;
        };
        let lines = lines.unwrap_or_else(|| Lines::all(&router.cfg));
        let mut outcome: Vec<(String, Result<(), String>)> = Vec::new();
        for r in &lines.routes {
            outcome.push((route_key(r), add_route(&*self.netlink, r).await));
        }
        for r in &lines.rules {
            let result = self.netlink.add_rule(&netlink_rule(r)).await;
            outcome.push((rule_key(r), result.map_err(|e| e.to_string())));
        }
        self.record(name, outcome, "installed");
    }

    /// Remove the instance's rules, then its routes (all of them, or `lines`).
    pub(super) async fn remove_routes(&mut self, name: &str, lines: Option<Lines>) {
        let Some(router) = self.routers.get(name) else {
            return;
        };
        let all = lines.is_none();
        let lines = lines.unwrap_or_else(|| Lines::all(&router.cfg));
        for r in &lines.rules {
            if let Err(e) = self.netlink.del_rule(&netlink_rule(r)).await {
                error!(instance = name, "cannot remove rule `{r}`: {e}");
            }
        }
        for r in &lines.routes {
            if let Err(e) = del_route(&*self.netlink, r).await {
                error!(instance = name, "cannot remove route `{r}`: {e}");
            }
        }
        if let Some(router) = self.routers.get_mut(name) {
            if all {
                // The errors were about holding them as MASTER.
                router.route_errors.clear();
            } else {
                for key in lines
                    .routes
                    .iter()
                    .map(route_key)
                    .chain(lines.rules.iter().map(rule_key))
                {
                    router.route_errors.remove(&key);
                }
            }
        }
    }

    fn record(&mut self, name: &str, outcome: Vec<(String, Result<(), String>)>, done: &str) {
        let Some(router) = self.routers.get_mut(name) else {
            return;
        };
        for (key, result) in outcome {
            match result {
                Ok(()) => {
                    debug!(instance = name, "{done} {key}");
                    router.route_errors.remove(&key);
                }
                Err(e) => {
                    // A retry that fails the same way was logged already.
                    if router.route_errors.get(&key) == Some(&e) {
                        debug!(instance = name, "still cannot install {key}: {e}");
                    } else {
                        error!(instance = name, "cannot install {key}: {e}");
                    }
                    router.route_errors.insert(key, e);
                }
            }
        }
    }

    /// A reload changed the routes or rules of a MASTER: remove the ones gone, install the
    /// new ones; the others stay as they are.
    pub(super) async fn reload_routes(&mut self, name: &str, changes: &[Change]) {
        let mut gone = Lines {
            routes: Vec::new(),
            rules: Vec::new(),
        };
        let mut new = Lines {
            routes: Vec::new(),
            rules: Vec::new(),
        };
        for change in changes {
            match change {
                Change::RoutesRemoved(r) => gone.routes.extend(r.iter().cloned()),
                Change::RulesRemoved(r) => gone.rules.extend(r.iter().cloned()),
                Change::RoutesAdded(r) => new.routes.extend(r.iter().cloned()),
                Change::RulesAdded(r) => new.rules.extend(r.iter().cloned()),
                _ => {}
            }
        }
        if !gone.routes.is_empty() || !gone.rules.is_empty() {
            self.remove_routes(name, Some(gone)).await;
        }
        let master = self
            .routers
            .get(name)
            .is_some_and(|r| r.machine.state() == State::Master);
        if master && (!new.routes.is_empty() || !new.rules.is_empty()) {
            self.install_routes(name, Some(new)).await;
        }
    }

    /// Routes and rules left by a crashed run would send traffic the way only a master
    /// should.
    pub(super) async fn remove_leftover_routes(&self, router: &Router) {
        let name = &router.cfg.name;
        for r in &router.cfg.rules {
            if let Err(e) = self.netlink.del_rule(&netlink_rule(r)).await {
                warn!(instance = %name, "cannot remove leftover rule `{r}`: {e}");
            }
        }
        for r in &router.cfg.routes {
            if let Err(e) = del_route(&*self.netlink, r).await {
                warn!(instance = %name, "cannot remove leftover route `{r}`: {e}");
            }
        }
    }

    /// Someone deleted a route: a MASTER whose tracked route it was puts it back.
    pub(super) async fn on_route_removed(
        &mut self,
        table: u32,
        dst: IpAddr,
        dst_len: u8,
        metric: Option<u32>,
        protocol: u8,
    ) {
        let matches = |r: &VirtualRoute| {
            !r.no_track
                && r.table == table
                && r.dst == dst
                && r.dst_len == dst_len
                && r.protocol == protocol
                && r.metric.is_none_or(|m| Some(m) == metric)
        };
        for (name, routes) in
            self.masters_with(|cfg| cfg.routes.iter().filter(|r| matches(r)).cloned().collect())
        {
            for r in &routes {
                warn!(instance = %name, "route `{r}` was removed while MASTER; putting it back");
            }
            let lines = Lines {
                routes,
                rules: Vec::new(),
            };
            self.install_routes(&name, Some(lines)).await;
        }
    }

    /// Someone deleted a rule: a MASTER whose tracked rule it was puts it back.
    pub(super) async fn on_rule_removed(
        &mut self,
        ipv6: bool,
        table: u32,
        priority: Option<u32>,
        from: Option<(IpAddr, u8)>,
        to: Option<(IpAddr, u8)>,
    ) {
        let zero = |p: Option<(IpAddr, u8)>| p.filter(|(_, len)| *len > 0);
        let matches = |r: &VirtualRule| {
            !r.no_track
                && (r.family == Family::IPv6) == ipv6
                && r.table == table
                && zero(r.from) == from
                && zero(r.to) == to
                && r.priority.is_none_or(|p| Some(p) == priority)
        };
        for (name, rules) in
            self.masters_with(|cfg| cfg.rules.iter().filter(|r| matches(r)).cloned().collect())
        {
            for r in &rules {
                warn!(instance = %name, "rule `{r}` was removed while MASTER; putting it back");
            }
            let lines = Lines {
                routes: Vec::new(),
                rules,
            };
            self.install_routes(&name, Some(lines)).await;
        }
    }

    /// Notifications were lost (or the route monitor has just opened): every MASTER
    /// installs its tracked lines again, as [`Daemon::reinstall_tracked`] does.
    pub(super) async fn resync_routes(&mut self) {
        let names: Vec<String> = self.routers.keys().cloned().collect();
        for name in names {
            self.reinstall_tracked(&name).await;
        }
    }

    /// A MASTER installs its tracked lines again (the same route, or the same rule with a
    /// priority, already there counts as success). A rule without a priority is left
    /// alone: the kernel would add it a second time at another priority (its own removal
    /// is still followed).
    pub(super) async fn reinstall_tracked(&mut self, name: &str) {
        let Some(router) = self.routers.get(name) else {
            return;
        };
        if router.machine.state() != State::Master {
            return;
        }
        let lines = Lines {
            routes: router
                .cfg
                .routes
                .iter()
                .filter(|r| !r.no_track)
                .cloned()
                .collect(),
            rules: router
                .cfg
                .rules
                .iter()
                .filter(|r| !r.no_track && r.priority.is_some())
                .cloned()
                .collect(),
        };
        if lines.routes.is_empty() && lines.rules.is_empty() {
            return;
        }
        info!(
            instance = name,
            "installing the tracked routes and rules again"
        );
        self.install_routes(name, Some(lines)).await;
    }

    /// An address appeared or a link came up: a MASTER tries again the lines the kernel
    /// refused (a gateway may be reachable now, a device there).
    pub(super) async fn retry_refused(&mut self) {
        let retry: Vec<(String, Lines)> = self
            .routers
            .iter()
            .filter(|(_, r)| r.machine.state() == State::Master && !r.route_errors.is_empty())
            .map(|(name, r)| {
                let failed = |key: String| r.route_errors.contains_key(&key);
                let lines = Lines {
                    routes: r
                        .cfg
                        .routes
                        .iter()
                        .filter(|x| failed(route_key(x)))
                        .cloned()
                        .collect(),
                    rules: r
                        .cfg
                        .rules
                        .iter()
                        .filter(|x| failed(rule_key(x)))
                        .cloned()
                        .collect(),
                };
                (name.clone(), lines)
            })
            .collect();
        for (name, lines) in retry {
            self.install_routes(&name, Some(lines)).await;
        }
    }

    /// Each MASTER instance with the non-empty list `pick` makes of its config.
    fn masters_with<T>(&self, pick: impl Fn(&config::Instance) -> Vec<T>) -> Vec<(String, Vec<T>)> {
        self.routers
            .iter()
            .filter(|(_, r)| r.machine.state() == State::Master)
            .map(|(name, r)| (name.clone(), pick(&r.cfg)))
            .filter(|(_, picked)| !picked.is_empty())
            .collect()
    }
}

/// Does any instance of `model` have a tracked route or rule (so the daemon needs route
/// and rule removals)?
pub fn wanted(model: &config::Model) -> bool {
    model
        .instances
        .iter()
        .any(|i| i.routes.iter().any(|r| !r.no_track) || i.rules.iter().any(|r| !r.no_track))
}

/// The next event of the route monitor, if it is open; never, if not.
pub async fn next_event(monitor: &mut Option<Box<dyn NetEvents>>) -> Option<NetEvent> {
    match monitor {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    /// Open the route monitor; then every MASTER installs its tracked lines again, in case
    /// one was deleted before the monitor listened.
    pub(super) async fn open_route_monitor(&mut self) -> Option<Box<dyn NetEvents>> {
        // Asked once: a failure is not retried at every turn of the loop.
        self.route_events_wanted = false;
        match self.host.route_monitor() {
            Ok(monitor) => {
                debug!("following route and rule removals");
                self.resync_routes().await;
                Some(monitor)
            }
            Err(e) => {
                error!("{e}; routes and rules deleted by hand will not be put back");
                None
            }
        }
    }
}

/// The status lines of an instance's routes and rules, and an alarm for each one the
/// kernel refused while MASTER.
pub fn status(router: &Router) -> (Vec<RouteStatus>, Vec<Alarm>) {
    let master = router.machine.state() == State::Master;
    let mut lines = Vec::new();
    let mut alarms = Vec::new();
    let entries = router
        .cfg
        .routes
        .iter()
        .map(|r| ("route", r.to_string(), route_key(r)))
        .chain(
            router
                .cfg
                .rules
                .iter()
                .map(|r| ("rule", r.to_string(), rule_key(r))),
        );
    for (kind, line, key) in entries {
        let error = router.route_errors.get(&key).cloned();
        if let Some(e) = &error {
            alarms.push(Alarm {
                severity: Health::Critical,
                message: format!("{kind} not installed: `{line}`: {e}"),
            });
        }
        lines.push(RouteStatus {
            kind: kind.to_string(),
            installed: master && error.is_none(),
            line,
            error,
        });
    }
    (lines, alarms)
}
