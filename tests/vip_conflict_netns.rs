//! The master's probe of its own VIP: another host that takes the address (here a client
//! that adds it by hand) answers the ARP probe from its MAC; the master raises a CRITICAL
//! alarm naming that MAC (status, `--json`, `/metrics`), announces the VIP again so the
//! clients come back to it, and clears the alarm once the other host lets go.

mod daemon;
mod lab;

use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP: &str = "192.0.2.100/24";
const VIP_ADDR: &str = "192.0.2.100";
const SERVERS: [&str; 2] = ["a", "b"];
const METRICS: &str = "192.0.2.1:9650";

fn conflicts(status: &serde_json::Value) -> &Vec<serde_json::Value> {
    status["instances"][0]["vip_conflicts"]
        .as_array()
        .expect("vip_conflicts is a list")
}

#[test]
fn a_host_that_takes_the_vip_is_an_alarm_on_the_master_which_announces_again() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "vipconflict",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
            ("d", &["192.0.2.4/24"]),
        ],
    );
    // A probe every second (off by default); no second gratuitous ARP burst 5 s after
    // taking over, so the only announcement after the first second is the probe's.
    let global = format!(
        "global_defs {{\n    metrics_listen {METRICS}\n    vip_probe_interval 1\n    \
         vrrp_garp_master_delay 0\n}}\n"
    );
    c.start(
        "a",
        &format!("{global}{}", Instance::fast(150, VIP).render()),
    );
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    let a_mac = c.lab.mac_str("a");
    let c_mac = c.lab.mac_str("c");
    assert_eq!(c.client_reaches("d", VIP_ADDR), a_mac);
    // The announcements of the takeover are over (the last one 1.1 s after it).
    let settled = poll(SETTLE, || {
        c.status("a").0["instances"][0]["since_s"]
            .as_f64()
            .is_some_and(|s| s > 2.0)
    });
    assert!(settled, "{}", c.all_logs());

    // c takes the address; d's cache is made to point at c, as if c had announced it.
    let ns_c = c.lab.ns("c");
    let ns_d = c.lab.ns("d");
    lab::ip(&["-n", &ns_c, "addr", "add", "192.0.2.100/32", "dev", IFNAME]);
    lab::ip(&[
        "-n", &ns_d, "neigh", "replace", VIP_ADDR, "lladdr", &c_mac, "dev", IFNAME, "nud", "stale",
    ]);

    // a's next probe is answered by c: CRITICAL, naming c's MAC.
    let mut last = (serde_json::Value::Null, -1);
    let raised = poll(SETTLE, || {
        last = c.status("a");
        !conflicts(&last.0).is_empty()
    });
    assert!(raised, "{:#}\n{}", last.0, c.all_logs());
    let (status, code) = c.status("a");
    assert_eq!(code, 2, "{status:#}");
    let conflict = &conflicts(&status)[0];
    assert_eq!(conflict["address"], VIP_ADDR, "{status:#}");
    assert_eq!(conflict["mac"], c_mac.as_str(), "{status:#}");
    let message = format!(
        "VIP {VIP_ADDR} is answered by {c_mac}, not by this master: another host holds it \
         (announced again)"
    );
    assert!(
        status["instances"][0]["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["severity"] == "CRITICAL" && a["message"] == message.as_str()),
        "{status:#}"
    );
    let url = format!("http://{METRICS}/metrics");
    let metrics = c
        .lab
        .exec_ok("c", &["curl", "-sS", "--max-time", "10", &url]);
    let line = format!(
        "baton_instance_vip_conflict{{vrrp_instance=\"VI_1\",address=\"{VIP_ADDR}\",mac=\"{c_mac}\"}} 1.0"
    );
    assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    // The fresh gratuitous ARP burst brings d back to a.
    c.expect_client_mac("d", VIP_ADDR, &a_mac);
    c.expect_holders(&SERVERS, VIP, &["a"]);

    // c lets go: a quiet probe round clears the alarm.
    lab::ip(&["-n", &ns_c, "addr", "del", "192.0.2.100/32", "dev", IFNAME]);
    let cleared = poll(SETTLE, || {
        last = c.status("a");
        conflicts(&last.0).is_empty() && last.1 == 0
    });
    assert!(cleared, "{:#}\n{}", last.0, c.all_logs());
    let log = c.log("a");
    assert_eq!(
        log.matches("is answered by").count(),
        1,
        "one warning for the episode\n{log}"
    );
    assert!(log.contains("conflict cleared"), "{log}");
    // The backup never probes.
    assert!(!c.log("b").contains("is answered by"), "{}", c.log("b"));
}

/// The same for an IPv6 VIP: the master's DAD solicitation is answered by the other host's
/// neighbour advertisement.
#[test]
fn a_host_that_takes_an_ipv6_vip_is_an_alarm_on_the_master() {
    if !require_root() {
        return;
    }
    const VIP6: &str = "2001:db8::100/64";
    const VIP6_ADDR: &str = "2001:db8::100";
    let mut c = Cluster::new(
        "vipconflict6",
        &[
            ("a", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("b", &["192.0.2.2/24", "2001:db8::2/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    );
    let global = "global_defs {\n    vip_probe_interval 1\n}\n";
    c.start(
        "a",
        &format!("{global}{}", Instance::fast(150, VIP6).render()),
    );
    c.start("b", &Instance::fast(100, VIP6).render());
    c.expect_holders(&SERVERS, VIP6, &["a"]);
    c.wait_for_socket("a");
    let c_mac = c.lab.mac_str("c");

    let ns_c = c.lab.ns("c");
    lab::ip(&[
        "-n",
        &ns_c,
        "addr",
        "add",
        "2001:db8::100/128",
        "dev",
        IFNAME,
        "nodad",
    ]);
    let mut last = (serde_json::Value::Null, -1);
    let raised = poll(SETTLE, || {
        last = c.status("a");
        !conflicts(&last.0).is_empty()
    });
    assert!(raised, "{:#}\n{}", last.0, c.all_logs());
    let (status, code) = c.status("a");
    assert_eq!(code, 2, "{status:#}");
    assert_eq!(conflicts(&status)[0]["address"], VIP6_ADDR, "{status:#}");
    assert_eq!(conflicts(&status)[0]["mac"], c_mac.as_str(), "{status:#}");
    c.expect_holders(&SERVERS, VIP6, &["a"]);

    lab::ip(&[
        "-n",
        &ns_c,
        "addr",
        "del",
        "2001:db8::100/128",
        "dev",
        IFNAME,
    ]);
    let cleared = poll(SETTLE, || {
        last = c.status("a");
        conflicts(&last.0).is_empty() && last.1 == 0
    });
    assert!(cleared, "{:#}\n{}", last.0, c.all_logs());
    assert!(!c.log("b").contains("is answered by"), "{}", c.log("b"));
}
