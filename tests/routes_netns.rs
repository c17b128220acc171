//! `virtual_ipaddress_excluded`, `virtual_routes` and `virtual_rules` on real kernels: two
//! baton nodes; the master holds the excluded addresses, routes and rules (as `ip -j`
//! shows them in its namespace), the backup none; a line deleted by hand comes back unless
//! it says `no_track`; a refused route shows in `baton status`; a reload adds and removes
//! lines with no transition; a stop hands them all to the other node. Needs root.

mod daemon;
mod lab;

use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];
const TABLE: &str = "100";

const TRACKED: &str = "198.51.100.0/24";
const UNTRACKED: &str = "198.51.100.128/25";
const BLACKHOLE: &str = "203.0.113.128/25";
const V6_ROUTE: &str = "2001:db8:7::/48";
const REFUSED: &str = "203.0.113.64/26";
const ADDED: &str = "198.51.100.64/26";

fn instance(priority: u8, extra_route: Option<&str>, blackhole: bool) -> String {
    let mut routes = vec![
        format!("{TRACKED} via 192.0.2.254 table {TABLE}"),
        format!("{UNTRACKED} dev {IFNAME} table {TABLE} no_track"),
        format!("{V6_ROUTE} via 2001:db8::fe table {TABLE}"),
        // The gateway is on no connected network: the kernel refuses it.
        format!("{REFUSED} via 198.51.100.77 table 101"),
    ];
    if blackhole {
        routes.push(format!("blackhole {BLACKHOLE} table {TABLE}"));
    }
    routes.extend(extra_route.map(str::to_string));
    let block = |name: &str, lines: &[String]| {
        format!(
            "{name} {{\n{}\n    }}",
            lines
                .iter()
                .map(|l| format!("        {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    Instance::fast(priority, VIP)
        .with(block(
            "virtual_ipaddress_excluded",
            &[
                "203.0.113.10/24".into(),
                "2001:db8:5::10/64".into(),
                "2001:db8:6::20/64 no_track".into(),
            ],
        ))
        .with(block("virtual_routes", &routes))
        .with(block(
            "virtual_rules",
            &[
                format!("from 192.0.2.100/32 table {TABLE} priority 1000"),
                format!("from 2001:db8:5::/64 table {TABLE} priority 1001 no_track"),
                format!("to 198.51.100.0/24 iif lo lookup {TABLE} pref 1002"),
                // No priority: the kernel picks one; it must be added once.
                format!("from 203.0.113.0/24 table {TABLE}"),
            ],
        ))
        .render()
}

/// The destinations of `node`'s routes in `table`, both families (`type dst` for the
/// non-unicast ones, as `ip` writes them).
fn routes(c: &Cluster, node: &str, table: &str) -> Vec<String> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        // A table that was never used does not exist: `ip` fails, and it has no routes.
        let output = c
            .lab
            .exec(node, &["ip", "-j", family, "route", "show", "table", table]);
        let text = String::from_utf8_lossy(&output.stdout);
        let list: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        for r in list.as_array().into_iter().flatten() {
            let dst = r["dst"].as_str().unwrap_or("").to_string();
            match r["type"].as_str() {
                Some(kind) if kind != "unicast" => out.push(format!("{kind} {dst}")),
                _ => out.push(dst),
            }
        }
    }
    out
}

/// The priorities of `node`'s rules, both families.
fn rules(c: &Cluster, node: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let text = c.lab.exec_ok(node, &["ip", "-j", family, "rule", "show"]);
        let list: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        out.extend(
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["priority"].as_u64()),
        );
    }
    out
}

/// How many rules `from 203.0.113.0/24` (the one without a priority) `node` has.
fn unprioritised(c: &Cluster, node: &str) -> usize {
    let text = c.lab.exec_ok(node, &["ip", "-j", "-4", "rule", "show"]);
    let list: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["src"] == "203.0.113.0" && r["srclen"] == 24)
        .count()
}

fn has_route(c: &Cluster, node: &str, dst: &str) -> bool {
    routes(c, node, TABLE).iter().any(|r| r == dst)
}

fn wait(c: &Cluster, what: &str, mut cond: impl FnMut() -> bool) {
    assert!(poll(SETTLE, &mut cond), "{what}\n{}", c.all_logs());
}

fn addresses(c: &Cluster, node: &str) -> Vec<String> {
    c.lab.addresses(node, IFNAME)
}

/// What the master holds and the backup must not.
fn holds_everything(c: &Cluster, node: &str) -> bool {
    let r = routes(c, node, TABLE);
    let addrs = addresses(c, node);
    let ours = rules(c, node);
    r.iter().any(|x| x == TRACKED)
        && r.iter().any(|x| x == UNTRACKED)
        && r.iter().any(|x| x == V6_ROUTE)
        && addrs.iter().any(|a| a == "203.0.113.10/24")
        && addrs.iter().any(|a| a == "2001:db8:5::10/64")
        && addrs.iter().any(|a| a == "2001:db8:6::20/64")
        && [1000, 1001, 1002].iter().all(|p| ours.contains(p))
        && unprioritised(c, node) == 1
}

fn holds_nothing(c: &Cluster, node: &str) -> bool {
    let addrs = addresses(c, node);
    routes(c, node, TABLE).is_empty()
        && routes(c, node, "101").is_empty()
        && !addrs.iter().any(|a| {
            a.starts_with("203.0.113.10")
                || a.starts_with("2001:db8:5::")
                || a.starts_with("2001:db8:6::")
        })
        && !rules(c, node).iter().any(|p| (1000..=1002).contains(p))
        && unprioritised(c, node) == 0
}

fn became_master(c: &Cluster, node: &str) -> (u64, u64) {
    let (status, _) = c.status(node);
    let counters = &status["instances"][0]["counters"];
    (
        counters["became_master"].as_u64().unwrap_or(0),
        counters["released_master"].as_u64().unwrap_or(0),
    )
}

#[test]
fn routes_rules_and_excluded_addresses_follow_the_master() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "routes",
        &[
            ("a", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("b", &["192.0.2.2/24", "2001:db8::2/64"]),
        ],
    );
    c.start("a", &instance(150, None, true));
    c.start("b", &instance(100, None, true));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    wait(
        &c,
        "a never held its routes, rules and excluded addresses",
        || holds_everything(&c, "a") && has_route(&c, "a", &format!("blackhole {BLACKHOLE}")),
    );
    assert!(
        holds_nothing(&c, "b"),
        "the backup holds some: {:?} {:?}",
        routes(&c, "b", TABLE),
        rules(&c, "b")
    );

    // The refused route: logged with its line, in status with the kernel's error and an
    // alarm; the others are installed regardless.
    let (status, code) = c.status("a");
    let lines = status["instances"][0]["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = lines
        .iter()
        .find(|l| l["line"].as_str().is_some_and(|t| t.starts_with(REFUSED)))
        .unwrap_or_else(|| panic!("no status line for {REFUSED}: {status:#}"));
    assert_eq!(refused["installed"], false);
    assert!(
        refused["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{refused:#}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["line"].as_str().is_some_and(|t| !t.starts_with(REFUSED)))
            .all(|l| l["installed"] == true && l["error"].is_null()),
        "{status:#}"
    );
    assert_eq!(code, 2, "a refused route is CRITICAL");
    assert!(
        status["instances"][0]["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["message"].as_str().is_some_and(|m| m.contains(REFUSED))),
        "{status:#}"
    );
    assert!(
        c.log("a").contains(REFUSED),
        "the log names the line\n{}",
        c.log("a")
    );
    let (b_status, _) = c.status("b");
    assert!(
        b_status["instances"][0]["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|l| l["installed"] == false),
        "{b_status:#}"
    );

    // The gateway becomes reachable (an address on its network appears): the refused
    // route is tried again and installed, and its alarm goes.
    c.lab.exec_ok(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", IFNAME],
    );
    wait(
        &c,
        "the refused route was not installed once its gateway was reachable",
        || routes(&c, "a", "101").iter().any(|r| r == REFUSED),
    );
    wait(&c, "status still shows the route as refused", || {
        let (status, _) = c.status("a");
        status["instances"][0]["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|l| l["installed"] == true && l["error"].is_null())
    });

    // Deleted by hand: the untracked route and rule first, then the tracked ones. The
    // daemon reads the removals in order, so once the tracked ones are back it has seen
    // the untracked ones go, and left them away.
    c.lab
        .exec_ok("a", &["ip", "route", "del", UNTRACKED, "table", TABLE]);
    c.lab.exec_ok(
        "a",
        &["ip", "addr", "del", "2001:db8:6::20/64", "dev", IFNAME],
    );
    c.lab
        .exec_ok("a", &["ip", "-6", "rule", "del", "priority", "1001"]);
    c.lab
        .exec_ok("a", &["ip", "route", "del", TRACKED, "table", TABLE]);
    c.lab
        .exec_ok("a", &["ip", "-6", "route", "del", V6_ROUTE, "table", TABLE]);
    c.lab
        .exec_ok("a", &["ip", "rule", "del", "priority", "1000"]);
    c.lab.exec_ok(
        "a",
        &["ip", "addr", "del", "203.0.113.10/24", "dev", IFNAME],
    );
    wait(
        &c,
        "the tracked route, rule and address did not come back",
        || {
            has_route(&c, "a", TRACKED)
                && has_route(&c, "a", V6_ROUTE)
                && rules(&c, "a").contains(&1000)
                && addresses(&c, "a").iter().any(|x| x == "203.0.113.10/24")
        },
    );
    assert!(!has_route(&c, "a", UNTRACKED), "a no_track route came back");
    assert!(
        !addresses(&c, "a").iter().any(|x| x == "2001:db8:6::20/64"),
        "a no_track excluded address came back"
    );
    assert!(!rules(&c, "a").contains(&1001), "a no_track rule came back");
    // The deleted blackhole route is tracked too.
    c.lab.exec_ok(
        "a",
        &["ip", "route", "del", "blackhole", BLACKHOLE, "table", TABLE],
    );
    wait(&c, "the blackhole route did not come back", || {
        has_route(&c, "a", &format!("blackhole {BLACKHOLE}"))
    });

    // A reload that adds a route and removes one: applied on the master, no transition.
    let before = became_master(&c, "a");
    let transitions = c.transitions("a").len();
    c.rewrite(
        "a",
        &instance(
            150,
            Some(&format!("{ADDED} via 192.0.2.254 table {TABLE}")),
            false,
        ),
    );
    c.signal("a", "HUP");
    wait(
        &c,
        "the reload did not install the new route nor remove the old one",
        || has_route(&c, "a", ADDED) && !has_route(&c, "a", &format!("blackhole {BLACKHOLE}")),
    );
    assert!(has_route(&c, "a", TRACKED), "an unchanged route moved");
    assert_eq!(
        became_master(&c, "a"),
        before,
        "the reload caused a transition"
    );
    assert_eq!(c.transitions("a").len(), transitions, "{}", c.log("a"));
    c.expect_holders(&SERVERS, VIP, &["a"]);

    // a stops: it removes everything and b takes it all (the no_track lines included,
    // as they are installed on every transition to MASTER).
    c.daemon("a").proc.terminate();
    assert!(
        c.daemon("a").proc.wait_timeout(SETTLE).is_some(),
        "a did not stop\n{}",
        c.all_logs()
    );
    c.expect_holders(&SERVERS, VIP, &["b"]);
    wait(
        &c,
        "b never took the routes, rules and excluded addresses",
        || holds_everything(&c, "b"),
    );
    assert!(
        holds_nothing(&c, "a"),
        "a left some behind: {:?} {:?} {:?}",
        routes(&c, "a", TABLE),
        rules(&c, "a"),
        addresses(&c, "a")
    );
}

/// The master's link goes down: in FAULT it removes what the kernel left (the blackhole
/// route, the rules); the backup takes over; when the link returns the master takes
/// everything back, the routes the kernel flushed with the link included.
#[test]
fn fault_removes_them_and_the_return_installs_them_again() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "rtfault",
        &[
            ("a", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("b", &["192.0.2.2/24", "2001:db8::2/64"]),
        ],
    );
    c.start("a", &instance(150, None, true));
    c.start("b", &instance(100, None, true));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let blackhole = format!("blackhole {BLACKHOLE}");
    wait(&c, "a never held its routes and rules", || {
        holds_everything(&c, "a") && has_route(&c, "a", &blackhole)
    });
    // Keep a's own IPv6 address through the link's fall (the kernel's default drops it), so
    // that the IPv6 gateway is on a connected network again when the link returns.
    c.lab.exec_ok(
        "a",
        &[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{IFNAME}.keep_addr_on_down=1"),
        ],
    );
    c.lab.link_down("a");
    wait(&c, "b never took over", || holds_everything(&c, "b"));
    wait(&c, "a in FAULT kept its blackhole route or rules", || {
        holds_nothing(&c, "a")
    });
    let (status, _) = c.status("a");
    assert_eq!(status["instances"][0]["state"], "FAULT", "{status:#}");
    c.lab.link_up("a");
    c.expect_holders(&SERVERS, VIP, &["a"]);
    wait(&c, "a did not take everything back", || {
        holds_everything(&c, "a") && has_route(&c, "a", &blackhole)
    });
    wait(&c, "b kept some after a took over", || {
        holds_nothing(&c, "b")
    });
}

/// A reload gives a running master its first routes and rules: they are installed, followed
/// from then on (a deleted one comes back), and a rule without a priority is there once.
#[test]
fn a_reload_adds_the_first_routes_and_they_are_followed() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("rtfirst", &[("a", &["192.0.2.1/24", "2001:db8::1/64"])]);
    c.start("a", &Instance::fast(150, VIP).render());
    c.expect_holders(&["a"], VIP, &["a"]);
    c.rewrite("a", &instance(150, None, false));
    c.signal("a", "HUP");
    wait(
        &c,
        "the reload did not install the routes and rules",
        || holds_everything(&c, "a"),
    );
    c.lab
        .exec_ok("a", &["ip", "route", "del", TRACKED, "table", TABLE]);
    c.lab.exec_ok(
        "a",
        &[
            "ip",
            "rule",
            "del",
            "from",
            "203.0.113.0/24",
            "table",
            TABLE,
        ],
    );
    wait(&c, "a deleted route or rule did not come back", || {
        has_route(&c, "a", TRACKED) && unprioritised(&c, "a") == 1
    });
    assert_eq!(unprioritised(&c, "a"), 1, "{}", c.log("a"));
    assert_eq!(
        became_master(&c, "a"),
        (1, 0),
        "the reload caused a transition"
    );
}
