//! baton and keepalived (Debian's 2.2.7, /usr/sbin/keepalived) in one VRRP group: two
//! servers and a client in network namespaces. Each test checks what `ip addr` on the
//! servers and the client (ping through the VIP, its neighbour cache) see, in both role
//! directions: baton master with keepalived backup, and the reverse. Needs root (CI runs
//! as root) and keepalived installed.

mod daemon;
mod lab;

use std::time::Duration;

use daemon::keepalived::{Keepalived, assert_wire_compatible, interop_lab};
use daemon::{Cluster, Instance};
use lab::require_root;

const VIP: &str = "192.0.2.100/24";
const VIP_ADDR: &str = "192.0.2.100";
const VIP6: &str = "2001:db8::100/64";
const VIP6_ADDR: &str = "2001:db8::100";
/// baton runs on "bt", keepalived on "ka".
const SERVERS: [&str; 2] = ["bt", "ka"];

/// VRRPv2, 1 s adverts (v2 has whole seconds only), PASS authentication.
fn v2_pass(priority: u8) -> Instance {
    Instance {
        version: 2,
        advert_int: "1",
        ..Instance::fast(priority, VIP)
    }
    .with("authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }")
}

/// VRRPv3 at 0.1 s, unicast from `src` to `peer`.
fn unicast(priority: u8, src: &str, peer: &str) -> Instance {
    Instance::fast(priority, VIP)
        .with(format!("unicast_src_ip {src}"))
        .with(format!("unicast_peer {{\n        {peer}\n    }}"))
}

/// Which side is master when a test starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Master {
    Baton,
    Keepalived,
}

impl Master {
    /// (the master's node, the backup's node).
    fn nodes(self) -> (&'static str, &'static str) {
        match self {
            Master::Baton => ("bt", "ka"),
            Master::Keepalived => ("ka", "bt"),
        }
    }
}

/// Start the group: the master (priority 150) first, then the backup (100), each from
/// `config(priority, node)`. Wait until the master holds `vip` and the client reaches it
/// there, then check the backup stays backup for `steady`.
fn elect(
    c: &mut Cluster,
    master: Master,
    config: impl Fn(u8, &str) -> Instance,
    vip: &str,
    vip_addr: &str,
    steady: Duration,
) -> Keepalived {
    let (bt_priority, ka_priority) = match master {
        Master::Baton => (150, 100),
        Master::Keepalived => (100, 150),
    };
    let (winner, loser) = master.nodes();
    // The master first, holding the VIP before the backup starts: started together, both
    // run their Master_Down timers from start and either may win that race under load.
    let ka = if master == Master::Baton {
        c.start_baton("bt", &config(bt_priority, "bt").render());
        c.expect_holders(&SERVERS, vip, &[winner]);
        c.start_keepalived("ka", &config(ka_priority, "ka").render())
    } else {
        let ka = c.start_keepalived("ka", &config(ka_priority, "ka").render());
        c.expect_holders(&SERVERS, vip, &[winner]);
        c.start_baton("bt", &config(bt_priority, "bt").render());
        // Running (its sockets open) before the test goes on: a test that stops keepalived
        // at once would otherwise race baton's start and see it take over on a timeout.
        c.wait_for_socket("bt");
        ka
    };
    c.expect_holders(&SERVERS, vip, &[winner]);
    assert_eq!(c.client_reaches("c", vip_addr), c.lab.mac_str(winner));
    c.expect_stable(&SERVERS, vip, &[winner], steady);
    if loser == "ka" {
        assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    } else {
        assert!(
            c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")),
            "{}",
            c.log("bt")
        );
    }
    ka
}

/// VRRPv3 at 0.1 s with one VIP, the same on both sides.
fn fast(vip: &'static str) -> impl Fn(u8, &str) -> Instance {
    move |priority, _| Instance::fast(priority, vip)
}

/// Unicast VRRPv3 at 0.1 s: each node sends from its own address to the other's.
fn unicast_pair(priority: u8, node: &str) -> Instance {
    match node {
        "bt" => unicast(priority, "192.0.2.1", "192.0.2.2"),
        _ => unicast(priority, "192.0.2.2", "192.0.2.1"),
    }
}

#[test]
fn v3_baton_master_keepalived_backup_then_baton_is_killed() {
    if !require_root() {
        return;
    }
    let mut c = interop_lab("v3bt");
    let _ka = elect(
        &mut c,
        Master::Baton,
        fast(VIP),
        VIP,
        VIP_ADDR,
        Duration::from_secs(2),
    );
    c.signal("bt", "KILL");
    // The dead baton leaves its address behind; keepalived takes over, the client follows.
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("ka"));
    assert!(c.holders(&SERVERS, VIP).contains(&"ka".to_string()));
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    assert_wire_compatible(&c);
}

#[test]
fn v3_baton_graceful_stop_hands_over_to_keepalived_with_priority_zero() {
    if !require_root() {
        return;
    }
    let mut c = interop_lab("v3btterm");
    let _ka = elect(
        &mut c,
        Master::Baton,
        fast(VIP),
        VIP,
        VIP_ADDR,
        Duration::from_millis(500),
    );
    c.signal("bt", "TERM");
    // baton removes its VIP and sends priority 0; keepalived takes over on that advert.
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert!(
        c.log("ka")
            .contains("(VI_1) Backup received priority 0 advertisement"),
        "keepalived took over on baton's priority-0 advert\n{}",
        c.all_logs()
    );
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    assert_wire_compatible(&c);
}

#[test]
fn v3_keepalived_master_baton_backup_then_keepalived_is_killed() {
    if !require_root() {
        return;
    }
    let mut c = interop_lab("v3ka");
    let ka = elect(
        &mut c,
        Master::Keepalived,
        fast(VIP),
        VIP,
        VIP_ADDR,
        Duration::from_secs(2),
    );
    ka.kill();
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("bt"));
    assert!(c.holders(&SERVERS, VIP).contains(&"bt".to_string()));
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    assert_wire_compatible(&c);
}

#[test]
fn v3_keepalived_graceful_stop_hands_over_to_baton_with_priority_zero() {
    if !require_root() {
        return;
    }
    let mut c = interop_lab("v3term");
    let _ka = elect(
        &mut c,
        Master::Keepalived,
        fast(VIP),
        VIP,
        VIP_ADDR,
        Duration::ZERO,
    );
    c.signal("ka", "TERM");
    // keepalived removes its VIP and sends priority 0; baton takes over at once.
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    let takeover = c
        .transitions("bt")
        .into_iter()
        .find(|t| t.contains("BACKUP -> MASTER"))
        .expect("bt became master");
    assert!(
        takeover.contains("resigned (priority 0)"),
        "took over on keepalived's priority-0 advert, not a timeout: {takeover}\n{}",
        c.all_logs()
    );
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    assert_wire_compatible(&c);
}

/// Link down on the master, the other side takes over; link up, the master takes back.
fn v2_pass_round_trip(tag: &str, master: Master) {
    let mut c = interop_lab(tag);
    let v2 = |priority, _: &str| v2_pass(priority);
    let _ka = elect(&mut c, master, v2, VIP, VIP_ADDR, Duration::from_secs(2));
    let (first, second) = master.nodes();
    c.lab.link_down(first);
    c.expect_holders(&SERVERS, VIP, &[second]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str(second));
    c.lab.link_up(first);
    c.expect_holders(&SERVERS, VIP, &[first]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str(first));
    assert_wire_compatible(&c);
}

#[test]
fn v2_pass_baton_master_fails_over_to_keepalived_and_back() {
    if require_root() {
        v2_pass_round_trip("v2bt", Master::Baton);
    }
}

#[test]
fn v2_pass_keepalived_master_fails_over_to_baton_and_back() {
    if require_root() {
        v2_pass_round_trip("v2ka", Master::Keepalived);
    }
}

/// VRRPv3 over IPv6: the master is killed, the other side takes over.
fn ipv6_failover(tag: &str, master: Master) {
    let mut c = interop_lab(tag);
    let ka = elect(
        &mut c,
        master,
        fast(VIP6),
        VIP6,
        VIP6_ADDR,
        Duration::from_secs(1),
    );
    let survivor = match master {
        Master::Baton => {
            c.signal("bt", "KILL");
            "ka"
        }
        Master::Keepalived => {
            ka.kill();
            "bt"
        }
    };
    c.expect_client_mac("c", VIP6_ADDR, &c.lab.mac_str(survivor));
    assert_eq!(c.client_reaches("c", VIP6_ADDR), c.lab.mac_str(survivor));
    assert_wire_compatible(&c);
}

#[test]
fn v3_ipv6_baton_master_keepalived_backup() {
    if require_root() {
        ipv6_failover("v6bt", Master::Baton);
    }
}

#[test]
fn v3_ipv6_keepalived_master_baton_backup() {
    if require_root() {
        ipv6_failover("v6ka", Master::Keepalived);
    }
}

/// Unicast: the master's link goes down, the other side takes over.
fn unicast_failover(tag: &str, master: Master) {
    let mut c = interop_lab(tag);
    let _ka = elect(
        &mut c,
        master,
        unicast_pair,
        VIP,
        VIP_ADDR,
        Duration::from_secs(1),
    );
    let (first, second) = master.nodes();
    c.lab.link_down(first);
    c.expect_holders(&SERVERS, VIP, &[second]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str(second));
    assert_wire_compatible(&c);
}

#[test]
fn unicast_baton_master_keepalived_backup() {
    if require_root() {
        unicast_failover("ucbt", Master::Baton);
    }
}

#[test]
fn unicast_keepalived_master_baton_backup() {
    if require_root() {
        unicast_failover("ucka", Master::Keepalived);
    }
}

#[test]
fn failback_baton_preempts_keepalived_when_its_link_returns() {
    if !require_root() {
        return;
    }
    let mut c = interop_lab("failback");
    let _ka = elect(
        &mut c,
        Master::Baton,
        fast(VIP),
        VIP,
        VIP_ADDR,
        Duration::from_millis(500),
    );
    c.lab.link_down("bt");
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    c.lab.link_up("bt");
    // baton outranks keepalived and preempts; keepalived releases the VIP.
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("bt"));
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_secs(1));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 1, "{}", c.log("ka"));
    assert!(c.keepalived_entered("ka", "BACKUP") >= 2, "{}", c.log("ka"));
    assert_wire_compatible(&c);
}
