//! The peer configuration alarm on real daemons: a master whose adverts list other VIPs
//! or another interval, or carry another password, shows on the node that hears it (in
//! `baton status`, `--json` and `/metrics`), is logged once, and clears once the config
//! is fixed and reloaded.

mod daemon;
mod lab;

use daemon::{Cluster, Instance, SETTLE};
use lab::{poll, require_root};

const VIP: &str = "192.0.2.100/24";
const VIP2: &str = "192.0.2.101/24";
const SERVERS: [&str; 2] = ["a", "b"];
const METRICS: &str = "192.0.2.2:9650";
const RAISED: &str = "advertises another configuration";

fn nodes() -> [(&'static str, &'static [&'static str]); 3] {
    [
        ("a", &["192.0.2.1/24"]),
        ("b", &["192.0.2.2/24"]),
        ("c", &["192.0.2.3/24"]),
    ]
}

/// `/metrics` of b, scraped from the client node.
fn scrape(c: &Cluster) -> String {
    let url = format!("http://{METRICS}/metrics");
    let out = c.lab.exec("c", &["curl", "-sS", "--max-time", "10", &url]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn series(field: &str) -> String {
    format!(
        "baton_instance_peer_config_mismatch{{vrrp_instance=\"VI_1\",peer=\"192.0.2.1\",field=\"{field}\"}} 1.0"
    )
}

/// Wait until `node`'s status satisfies `cond`; the last status on failure.
fn wait_status(c: &Cluster, node: &str, cond: impl Fn(&serde_json::Value, i32) -> bool) {
    let mut last = (serde_json::Value::Null, -1);
    let ok = poll(SETTLE, || {
        last = c.status(node);
        cond(&last.0, last.1)
    });
    assert!(
        ok,
        "{node}: {:#} (exit {})\n{}",
        last.0,
        last.1,
        c.all_logs()
    );
}

fn mismatches(status: &serde_json::Value) -> &Vec<serde_json::Value> {
    status["instances"][0]["peer_mismatches"]
        .as_array()
        .expect("peer_mismatches is a list")
}

#[test]
fn a_master_advertising_other_vips_and_interval_raises_an_alarm_on_the_backup_until_fixed() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("peeralarm", &nodes());
    let mut a = Instance::fast(150, VIP);
    a.vips.push(VIP2);
    c.start("a", &a.render());
    let mut b = Instance::fast(100, VIP);
    b.advert_int = "0.2";
    let global = format!("global_defs {{\n    metrics_listen {METRICS}\n}}\n");
    c.start("b", &format!("{global}{}", b.render()));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("b");

    // b hears a (VRRPv3: it accepts a's adverts and learns its interval) and says how a
    // differs from its own config.
    wait_status(&c, "b", |s, _| mismatches(s).len() == 1);
    let (status, code) = c.status("b");
    assert_eq!(status["instances"][0]["state"], "BACKUP", "{status:#}");
    assert_eq!(code, 1, "a WARNING: {status:#}");
    let m = &mismatches(&status)[0];
    assert_eq!(m["peer"], "192.0.2.1", "{m:#}");
    assert_eq!(m["discarded"], false, "{m:#}");
    assert_eq!(
        m["differences"],
        serde_json::json!([
            {"field": "vips", "ours": "192.0.2.100", "theirs": "192.0.2.100,192.0.2.101"},
            {"field": "advert_interval", "ours": "0.20s", "theirs": "0.10s"},
        ]),
        "{m:#}"
    );
    let alarms = status["instances"][0]["alarms"].as_array().unwrap();
    assert!(
        alarms.iter().any(|a| a["severity"] == "WARNING"
            && a["message"]
                == "peer 192.0.2.1 advertises another configuration: VIPs ours 192.0.2.100 \
                    theirs 192.0.2.100,192.0.2.101; advert interval ours 0.20s theirs 0.10s"),
        "{status:#}"
    );
    let human = String::from_utf8_lossy(&c.baton("b", &["status"]).stdout).into_owned();
    assert!(
        human.contains("WARNING: peer 192.0.2.1 advertises another configuration"),
        "{human}"
    );
    let metrics = scrape(&c);
    for line in [series("vips"), series("advert_interval")] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    // The master itself hears no advert (b is backup): no alarm there.
    let (status, code) = c.status("a");
    assert!(mismatches(&status).is_empty(), "{status:#}");
    assert_eq!(code, 0, "{status:#}");

    // Many adverts later, still one warning in b's log.
    wait_status(&c, "b", |s, _| {
        s["instances"][0]["counters"]["adverts_received"]
            .as_u64()
            .is_some_and(|n| n >= 30)
    });
    let raised = c.log("b").matches(RAISED).count();
    assert_eq!(raised, 1, "logged once\n{}", c.log("b"));

    // b's config is fixed and reloaded: a's next advert agrees, the alarm clears.
    b.advert_int = "0.1";
    b.vips.push(VIP2);
    c.rewrite("b", &format!("{global}{}", b.render()));
    let out = c.baton("b", &["reconfigure"]);
    assert!(out.status.success(), "{out:?}");
    wait_status(&c, "b", |s, code| mismatches(s).is_empty() && code == 0);
    let metrics = scrape(&c);
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    assert!(
        !metrics.contains("baton_instance_peer_config_mismatch{"),
        "{metrics}"
    );
    let log = c.log("b");
    assert!(
        log.contains("peer 192.0.2.1 advertises our configuration again; alarm cleared"),
        "{log}"
    );
    assert_eq!(log.matches(RAISED).count(), 1, "{log}");
    c.expect_holders(&SERVERS, VIP, &["a"]);
}

#[test]
fn another_password_is_critical_on_both_masters_and_clears_once_fixed() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("peerauth", &nodes());
    let v2 = |priority, password: &str| {
        Instance {
            version: 2,
            advert_int: "1",
            ..Instance::fast(priority, VIP)
        }
        .with(format!(
            "authentication {{\n        auth_type PASS\n        auth_pass {password}\n    }}"
        ))
    };
    c.start("a", &v2(150, "right").render());
    c.start("b", &v2(100, "wrong").render());
    // RFC 3768 7.1: each discards the other's adverts, so both take the VIP.
    c.expect_holders(&SERVERS, VIP, &["a", "b"]);
    for (node, peer) in [("a", "192.0.2.2"), ("b", "192.0.2.1")] {
        wait_status(&c, node, |s, _| mismatches(s).len() == 1);
        let (status, code) = c.status(node);
        assert_eq!(code, 2, "CRITICAL: {status:#}");
        let m = &mismatches(&status)[0];
        assert_eq!(m["peer"], peer, "{m:#}");
        assert_eq!(m["discarded"], true, "{m:#}");
        assert_eq!(
            m["differences"],
            serde_json::json!([
                {"field": "auth_password", "ours": "(hidden)", "theirs": "(hidden, differs)"}
            ]),
            "{m:#}"
        );
        let text = status.to_string();
        assert!(
            !text.contains("right") && !text.contains("wrong"),
            "no password shown: {text}"
        );
        assert!(
            status["instances"][0]["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["severity"] == "CRITICAL"
                    && a["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(&format!(
                            "peer {peer} advertises another configuration: auth password differs; \
                         its adverts are discarded"
                        )))),
            "{status:#}"
        );
    }
    let log = c.log("b");
    assert!(!log.contains("wrong") && !log.contains("right"), "{log}");

    // b gets the right password: each hears the other, b yields, both alarms clear.
    c.rewrite("b", &v2(100, "right").render());
    let out = c.baton("b", &["reconfigure"]);
    assert!(out.status.success(), "{out:?}");
    c.expect_holders(&SERVERS, VIP, &["a"]);
    wait_status(&c, "b", |s, code| mismatches(s).is_empty() && code == 0);
    // a clears when it hears b's adverts with the right password (b's last as it yields),
    // or, if it heard none, once b has been silent for 10 intervals.
    wait_status(&c, "a", |s, code| mismatches(s).is_empty() && code == 0);
    let log = c.log("a");
    assert!(log.contains("peer 192.0.2.2 "), "{log}");
    assert!(log.contains("alarm cleared"), "{log}");
    assert_eq!(log.matches(RAISED).count(), 1, "{log}");
}

/// keepalived 2.2.7 as the master, with one VIP more than baton's config: baton, the
/// backup, names the difference; once keepalived's config matches and it is reloaded
/// (SIGHUP), the alarm clears.
#[test]
fn a_keepalived_master_with_another_vip_list_raises_the_alarm_on_a_baton_backup() {
    if !require_root() {
        return;
    }
    if !daemon::keepalived::Peer::Debian.available() {
        return;
    }
    let mut c = daemon::keepalived::interop_lab("peerka");
    let mut ka = Instance::fast(150, VIP);
    ka.vips.push(VIP2);
    let keepalived = c.start_keepalived("ka", &ka.render());
    c.expect_holders(&["bt", "ka"], VIP, &["ka"]);
    c.start_baton("bt", &Instance::fast(100, VIP).render());
    c.wait_for_socket("bt");
    wait_status(&c, "bt", |s, _| {
        s["instances"][0]["state"] == "BACKUP" && mismatches(s).len() == 1
    });
    let (status, code) = c.status("bt");
    assert_eq!(code, 1, "{status:#}");
    let m = &mismatches(&status)[0];
    assert_eq!(m["peer"], "192.0.2.2", "{m:#}");
    assert_eq!(
        m["differences"],
        serde_json::json!([
            {"field": "vips", "ours": "192.0.2.100", "theirs": "192.0.2.100,192.0.2.101"},
        ]),
        "{m:#}"
    );

    // keepalived gets baton's VIP list and reloads.
    let ka_conf = c.dir.path().join("ka.keepalived.conf");
    std::fs::write(&ka_conf, Instance::fast(150, VIP).render()).expect("rewrite");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &keepalived.parent.to_string()])
        .status()
        .expect("run kill");
    assert!(hup.success());
    wait_status(&c, "bt", |s, code| mismatches(s).is_empty() && code == 0);
    assert!(
        c.log("bt")
            .contains("peer 192.0.2.2 advertises our configuration again; alarm cleared"),
        "{}",
        c.all_logs()
    );
    drop(keepalived);
}
