//! The witness lease on a real etcd (Debian's etcd-server), in network namespaces: two
//! servers, a witness host and a client on one bridge. Partitions cut the servers apart
//! (bridge port isolation) or one server from the witness (nftables in its namespace).
//! The VIP holders are sampled every 50 ms: with a witness there is never more than one.

mod daemon;
mod lab;

use std::time::{Duration, Instant};

use daemon::{Cluster, Instance, SETTLE, etcd};
use lab::{poll, require_root};

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];
const WITNESS: &str = "192.0.2.10";

fn cluster(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("w", &["192.0.2.10/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    )
}

/// Config of a server: the witness block, then the instance (0.1 s adverts).
fn config(witness: &str, priority: u8, extra: &[&str]) -> String {
    let mut instance = Instance::fast(priority, VIP);
    for line in extra {
        instance = instance.with(*line);
    }
    format!(
        "global_defs {{\n    router_id {}\n}}\n{witness}{}",
        if priority > 120 { "a" } else { "b" },
        instance.render()
    )
}

/// Samples the holders every 50 ms for `span`; returns the first sample with more than
/// one holder, if any, and the last sample.
fn sample(c: &Cluster, span: Duration) -> (Option<Vec<String>>, Vec<String>) {
    let end = Instant::now() + span;
    let mut two = None;
    let mut last = Vec::new();
    while Instant::now() < end {
        last = c.holders(&SERVERS, VIP);
        if last.len() > 1 && two.is_none() {
            two = Some(last.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (two, last)
}

fn assert_one_holder(c: &Cluster, span: Duration, expected_end: &[&str]) {
    let (two, last) = sample(c, span);
    assert_eq!(two, None, "two VIP holders at once\n{}", c.all_logs());
    assert_eq!(last, expected_end, "\n{}", c.all_logs());
}

/// Cut (or restore) the path between server `node` and the witness host, both ways,
/// silently (packets dropped), with nftables in the server's namespace.
fn cut_witness(c: &Cluster, node: &str, cut: bool) {
    if cut {
        let rules = format!(
            "table inet witcut {{\n chain o {{ type filter hook output priority 0; ip daddr \
             {WITNESS} drop; }}\n chain i {{ type filter hook input priority 0; ip saddr \
             {WITNESS} drop; }}\n}}\n"
        );
        let file = c.dir.path().join(format!("cut-{node}.nft"));
        std::fs::write(&file, rules).unwrap();
        c.lab.exec_ok(node, &["nft", "-f", file.to_str().unwrap()]);
    } else {
        c.lab
            .exec_ok(node, &["nft", "delete", "table", "inet", "witcut"]);
    }
}

/// Cut the servers apart (both still reach the witness and the client).
fn split_servers(c: &Cluster, split: bool) {
    c.lab.isolate("a", split);
    c.lab.isolate("b", split);
}

fn witness_of(c: &Cluster, node: &str) -> serde_json::Value {
    let (status, _) = c.status(node);
    status["instances"][0]["witness"].clone()
}

fn wait_witness(c: &Cluster, node: &str, lease: &str) {
    let ok = poll(SETTLE, || witness_of(c, node)["lease"] == lease);
    assert!(
        ok,
        "{node}: witness lease is {}, expected {lease}\n{}",
        witness_of(c, node),
        c.all_logs()
    );
}

fn start_pair(c: &mut Cluster, witness: &str, b_extra: &[&str]) {
    c.start("a", &config(witness, 150, &[]));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.start("b", &config(witness, 100, b_extra));
    c.wait_for_socket("b");
    wait_witness(c, "a", "held");
    wait_witness(c, "b", "held_by");
}

#[test]
fn a_partition_between_the_servers_leaves_one_holder() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witpart");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    start_pair(&mut c, &witness, &[]);
    let (status, _) = c.status("a");
    let w = &status["instances"][0]["witness"];
    assert_eq!(w["key"], "/baton/vrid-51-ipv4");
    assert_eq!(w["holder"], "a");
    assert!(w["ttl_left_s"].as_f64().unwrap() > 0.5, "{w}");
    assert_eq!(w["endpoint"], format!("http://{WITNESS}:2379"));

    split_servers(&c, true);
    assert_one_holder(&c, Duration::from_secs(6), &["a"]);
    let (status, code) = c.status("b");
    let i = &status["instances"][0];
    assert_eq!(i["state"], "BACKUP");
    assert_eq!(i["witness"]["waiting"], true, "{i}");
    assert!(
        i["reason"]
            .as_str()
            .unwrap()
            .starts_with("witness: lease held by a"),
        "{i}"
    );
    assert_eq!(code, 2, "no master heard: critical");
    let human = String::from_utf8_lossy(&c.baton("b", &["status"]).stdout).into_owned();
    assert!(
        human.contains("waiting for the witness lease, held by a"),
        "{human}"
    );
    // The client still reaches the VIP on a.
    let mac = c.client_reaches("c", "192.0.2.100");
    assert_eq!(mac, c.lab.mac_str("a"));

    split_servers(&c, false);
    assert_one_holder(&c, Duration::from_secs(2), &["a"]);
    let ok = poll(SETTLE, || witness_of(&c, "b")["waiting"] == false);
    assert!(ok, "{}", c.all_logs());
    assert!(
        c.transitions("b").iter().all(|t| !t.contains("-> MASTER")),
        "b never became master:\n{}",
        c.all_logs()
    );
}

#[test]
fn the_server_that_reaches_the_witness_wins() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witside");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    start_pair(&mut c, &witness, &[]);

    // a loses both b and the witness; b reaches the witness.
    split_servers(&c, true);
    cut_witness(&c, "a", true);
    assert_one_holder(&c, Duration::from_secs(8), &["b"]);
    assert!(
        c.log("a").contains("lost the witness lease"),
        "{}",
        c.all_logs()
    );
    wait_witness(&c, "b", "held");

    // Everything heals: a (higher priority, preempting) claims the lease back.
    cut_witness(&c, "a", false);
    split_servers(&c, false);
    assert_one_holder(&c, Duration::from_secs(6), &["a"]);
    wait_witness(&c, "a", "held");
}

#[test]
fn with_the_witness_down_nothing_changes_hands() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witdown");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "    when_unreachable keep\n");
    start_pair(&mut c, &witness, &[]);

    // The witness host goes away for everyone.
    members[0].proc.terminate();
    assert_one_holder(&c, Duration::from_secs(6), &["a"]);
    let (status, code) = c.status("a");
    assert_eq!(status["instances"][0]["witness"]["lease"], "unreachable");
    assert_eq!(code, 1, "witness down: a warning\n{status}");
    let human = String::from_utf8_lossy(&c.baton("a", &["status"]).stdout).into_owned();
    assert!(human.contains("witness unreachable"), "{human}");

    // The master stops: with no witness, b does not take over (it cannot show a lease).
    c.signal("a", "KILL");
    let (two, last) = sample(&c, Duration::from_secs(6));
    assert_eq!(two, None);
    assert!(
        last.is_empty() || last == ["a"],
        "b took over without the lease: {last:?}\n{}",
        c.all_logs()
    );
    assert!(c.transitions("b").iter().all(|t| !t.contains("-> MASTER")));
}

#[test]
fn release_lets_a_master_go_when_the_witness_is_gone() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witrel");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    start_pair(&mut c, &witness, &[]);
    members[0].proc.terminate();
    // The lease runs out (2 s): a lets go, and b cannot take over.
    assert_one_holder(&c, Duration::from_secs(5), &[]);
    let (status, code) = c.status("a");
    assert_eq!(status["instances"][0]["state"], "BACKUP");
    assert_eq!(code, 2, "{status}");
}

#[test]
fn a_frozen_master_lets_go_when_it_resumes_and_does_not_fight() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witfrz");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    // The PostgreSQL pair's setting: the preferred node waits for the operator.
    c.start("a", &config(&witness, 150, &["fallback manual"]));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.start("b", &config(&witness, 100, &["fallback manual"]));
    c.wait_for_socket("b");
    wait_witness(&c, "a", "held");

    c.signal("a", "STOP");
    // b takes over once a's lease has expired on etcd (a's address stays on its interface
    // while it is frozen: the kernel does not know).
    let ok = poll(SETTLE, || c.holders(&["b"], VIP) == ["b"]);
    assert!(ok, "{}", c.all_logs());
    std::thread::sleep(Duration::from_secs(1));
    c.signal("a", "CONT");
    assert_one_holder(&c, Duration::from_secs(5), &["b"]);
    assert!(
        c.log("a").contains("lost the witness lease"),
        "{}",
        c.all_logs()
    );
    let (status, _) = c.status("a");
    assert_eq!(status["instances"][0]["state"], "BACKUP");
}

#[test]
fn a_three_member_witness_survives_the_loss_of_a_member() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("wit3");
    // One member on each server and one on the witness host.
    let members = etcd::start(
        &c,
        &[("a", "192.0.2.1"), ("b", "192.0.2.2"), ("w", WITNESS)],
    );
    let witness = etcd::witness_block(&members, "");
    start_pair(&mut c, &witness, &[]);
    // The witness host's member goes: the two left keep the quorum.
    members[2].proc.terminate();
    assert_one_holder(&c, Duration::from_secs(6), &["a"]);
    wait_witness(&c, "a", "held");
    // And the servers split apart: a keeps its lease through the witness' quorum...
    // (only two members are left, one on each side: no quorum, so with `release` a lets
    // go and nobody takes over: never two.)
    split_servers(&c, true);
    let (two, _) = sample(&c, Duration::from_secs(5));
    assert_eq!(two, None, "{}", c.all_logs());
    split_servers(&c, false);
    let ok = poll(Duration::from_secs(20), || {
        c.holders(&SERVERS, VIP) == ["a"]
    });
    assert!(ok, "{}", c.all_logs());
}

#[test]
fn a_graceful_stop_hands_the_lease_over_at_once() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witstop");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    start_pair(&mut c, &witness, &[]);
    c.daemon("a").proc.terminate();
    assert!(c.daemon("a").proc.wait_timeout(SETTLE).is_some());
    assert!(c.log("a").contains("lease given up"), "{}", c.all_logs());
    // Well within the 2 s lease: b was granted the lease a gave up.
    let ok = poll(Duration::from_secs(1), || c.holders(&SERVERS, VIP) == ["b"]);
    assert!(ok, "{}", c.all_logs());
}

#[test]
fn a_reload_adds_and_removes_the_witness_without_a_failover() {
    if !require_root() || !etcd::installed() {
        return;
    }
    let mut c = cluster("witrld");
    let members = etcd::start(&c, &[("w", WITNESS)]);
    let witness = etcd::witness_block(&members, "");
    c.start("a", &config("", 150, &[]));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.start("b", &config("", 100, &[]));
    c.wait_for_socket("b");

    for node in SERVERS {
        let priority = if node == "a" { 150 } else { 100 };
        c.rewrite(node, &config(&witness, priority, &[]));
        let out = c.baton(node, &["reconfigure"]);
        assert!(out.status.success(), "{out:?}\n{}", c.all_logs());
    }
    wait_witness(&c, "a", "held");
    wait_witness(&c, "b", "held_by");
    // New witness settings (a shorter request timeout): the same lease goes on.
    let tighter = etcd::witness_block(&members, "    timeout 0.3\n");
    for node in SERVERS {
        let priority = if node == "a" { 150 } else { 100 };
        c.rewrite(node, &config(&tighter, priority, &[]));
        assert!(c.baton(node, &["reconfigure"]).status.success());
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !c.log("a").contains("lease given up") && c.log("a").matches("lease taken").count() == 1,
        "the lease was kept through the settings change\n{}",
        c.all_logs()
    );
    wait_witness(&c, "a", "held");
    // A witness key changed by reload: a follows the new key, still master.
    for node in SERVERS {
        let priority = if node == "a" { 150 } else { 100 };
        c.rewrite(node, &config(&witness, priority, &["witness_key portal"]));
        assert!(c.baton(node, &["reconfigure"]).status.success());
    }
    let ok = poll(SETTLE, || witness_of(&c, "a")["key"] == "/baton/portal");
    assert!(ok, "{}", c.all_logs());
    wait_witness(&c, "a", "held");
    for node in SERVERS {
        let priority = if node == "a" { 150 } else { 100 };
        c.rewrite(node, &config("", priority, &[]));
        assert!(c.baton(node, &["reconfigure"]).status.success());
    }
    let ok = poll(SETTLE, || witness_of(&c, "a").is_null());
    assert!(ok, "{}", c.all_logs());
    assert_one_holder(&c, Duration::from_secs(2), &["a"]);
    for (node, started) in [("a", 2), ("b", 1)] {
        assert_eq!(
            c.transitions(node).len(),
            started,
            "{node}: the transitions of its start, none by the reloads\n{}",
            c.all_logs()
        );
    }
}
