//! baton and keepalived (Debian's 2.2.7, /usr/sbin/keepalived) in one VRRP group: two
//! servers and a client in network namespaces. Each test checks what `ip addr` on the
//! servers and the client (ping through the VIP, its neighbour cache) see, in both role
//! directions: baton master with keepalived backup, and the reverse. Needs root (CI runs
//! as root) and keepalived installed.

mod daemon;
mod lab;

use std::time::Duration;

use daemon::{Cluster, Instance};
use lab::require_root;

const VIP: &str = "192.0.2.100/24";
const VIP_ADDR: &str = "192.0.2.100";
const VIP6: &str = "2001:db8::100/64";
const VIP6_ADDR: &str = "2001:db8::100";
/// baton runs on "bt", keepalived on "ka".
const SERVERS: [&str; 2] = ["bt", "ka"];

/// bt (192.0.2.1), ka (192.0.2.2) and a client c (192.0.2.3).
fn lab(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("bt", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("ka", &["192.0.2.2/24", "2001:db8::2/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    )
}

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

/// What keepalived 2.2.7 logs (vrrp.c, `vrrp_check_packet`) when it rejects or questions
/// an advert it received, or falls back to a compatibility mode for it.
const KEEPALIVED_COMPLAINTS: [&str; 10] = [
    "wrong version",
    "auth",
    "interval mismatch",
    "nvalid",
    "checksum",
    "unexpected ip number count",
    "VIPs but received",
    "not present in MASTER advert",
    "icast packet",
    "bogus",
];

/// Neither side complained about the other's packets: keepalived logged no rejected or
/// questioned advert, baton (at debug level) dropped none and saw no differing address list.
fn assert_wire_compatible(c: &Cluster) {
    let ka = c.log("ka");
    let complaints: Vec<&str> = ka
        .lines()
        .filter(|l| KEEPALIVED_COMPLAINTS.iter().any(|w| l.contains(w)))
        .collect();
    assert!(
        complaints.is_empty(),
        "keepalived complains about baton's adverts: {complaints:#?}\n{}",
        c.all_logs()
    );
    let bt = c.log("bt");
    let drops: Vec<&str> = bt
        .lines()
        .filter(|l| l.contains("dropped") || l.contains("lists other addresses"))
        .collect();
    assert!(
        drops.is_empty(),
        "baton dropped keepalived's packets: {drops:#?}\n{}",
        c.all_logs()
    );
}

#[test]
fn v3_baton_master_keepalived_backup_then_baton_is_killed() {
    if !require_root() {
        return;
    }
    let mut c = lab("v3bt");
    c.start_baton("bt", &Instance::fast(150, VIP).render());
    let _ka = c.start_keepalived("ka", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    // keepalived hears baton's adverts and stays backup.
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_secs(2));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
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
    let mut c = lab("v3btterm");
    c.start_baton("bt", &Instance::fast(150, VIP).render());
    let _ka = c.start_keepalived("ka", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_millis(500));
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
    let mut c = lab("v3ka");
    let ka = c.start_keepalived("ka", &Instance::fast(150, VIP).render());
    c.start_baton("bt", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    // baton hears keepalived's adverts and stays backup.
    c.expect_stable(&SERVERS, VIP, &["ka"], Duration::from_secs(2));
    assert!(c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")));
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
    let mut c = lab("v3term");
    let _ka = c.start_keepalived("ka", &Instance::fast(150, VIP).render());
    c.start_baton("bt", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
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

#[test]
fn v2_pass_baton_master_fails_over_to_keepalived_and_back() {
    if !require_root() {
        return;
    }
    let mut c = lab("v2bt");
    c.start_baton("bt", &v2_pass(150).render());
    let _ka = c.start_keepalived("ka", &v2_pass(100).render());
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_secs(2));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    c.lab.link_down("bt");
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    c.lab.link_up("bt");
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("bt"));
    assert_wire_compatible(&c);
}

#[test]
fn v2_pass_keepalived_master_fails_over_to_baton_and_back() {
    if !require_root() {
        return;
    }
    let mut c = lab("v2ka");
    let _ka = c.start_keepalived("ka", &v2_pass(150).render());
    c.start_baton("bt", &v2_pass(100).render());
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    c.expect_stable(&SERVERS, VIP, &["ka"], Duration::from_secs(2));
    assert!(c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")));
    c.lab.link_down("ka");
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    c.lab.link_up("ka");
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("ka"));
    assert_wire_compatible(&c);
}

#[test]
fn v3_ipv6_baton_master_keepalived_backup() {
    if !require_root() {
        return;
    }
    let mut c = lab("v6bt");
    c.start_baton("bt", &Instance::fast(150, VIP6).render());
    let _ka = c.start_keepalived("ka", &Instance::fast(100, VIP6).render());
    c.expect_holders(&SERVERS, VIP6, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP6_ADDR), c.lab.mac_str("bt"));
    c.expect_stable(&SERVERS, VIP6, &["bt"], Duration::from_secs(1));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    c.signal("bt", "KILL");
    c.expect_client_mac("c", VIP6_ADDR, &c.lab.mac_str("ka"));
    assert_eq!(c.client_reaches("c", VIP6_ADDR), c.lab.mac_str("ka"));
    assert_wire_compatible(&c);
}

#[test]
fn v3_ipv6_keepalived_master_baton_backup() {
    if !require_root() {
        return;
    }
    let mut c = lab("v6ka");
    let ka = c.start_keepalived("ka", &Instance::fast(150, VIP6).render());
    c.start_baton("bt", &Instance::fast(100, VIP6).render());
    c.expect_holders(&SERVERS, VIP6, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP6_ADDR), c.lab.mac_str("ka"));
    c.expect_stable(&SERVERS, VIP6, &["ka"], Duration::from_secs(1));
    assert!(c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")));
    ka.kill();
    c.expect_client_mac("c", VIP6_ADDR, &c.lab.mac_str("bt"));
    assert_eq!(c.client_reaches("c", VIP6_ADDR), c.lab.mac_str("bt"));
    assert_wire_compatible(&c);
}

#[test]
fn unicast_baton_master_keepalived_backup() {
    if !require_root() {
        return;
    }
    let mut c = lab("ucbt");
    c.start_baton("bt", &unicast(150, "192.0.2.1", "192.0.2.2").render());
    let _ka = c.start_keepalived("ka", &unicast(100, "192.0.2.2", "192.0.2.1").render());
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_secs(1));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    c.lab.link_down("bt");
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    assert_wire_compatible(&c);
}

#[test]
fn unicast_keepalived_master_baton_backup() {
    if !require_root() {
        return;
    }
    let mut c = lab("ucka");
    let _ka = c.start_keepalived("ka", &unicast(150, "192.0.2.2", "192.0.2.1").render());
    c.start_baton("bt", &unicast(100, "192.0.2.1", "192.0.2.2").render());
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("ka"));
    c.expect_stable(&SERVERS, VIP, &["ka"], Duration::from_secs(1));
    assert!(c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")));
    c.lab.link_down("ka");
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    assert_wire_compatible(&c);
}

#[test]
fn failback_baton_preempts_keepalived_when_its_link_returns() {
    if !require_root() {
        return;
    }
    let mut c = lab("failback");
    c.start_baton("bt", &Instance::fast(150, VIP).render());
    let _ka = c.start_keepalived("ka", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("bt"));
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_millis(500));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
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
