//! `baton run` on real kernels: two servers and a client in network namespaces, each test
//! asserting what the client and `ip addr` see. Needs root (CI runs as root).

mod daemon;
mod lab;

use std::time::Duration;

use daemon::{Cluster, Instance};
use lab::require_root;

const VIP: &str = "192.0.2.100/24";
const VIP_ADDR: &str = "192.0.2.100";
const SERVERS: [&str; 2] = ["a", "b"];

/// Servers a (192.0.2.1) and b (192.0.2.2) and a client c (192.0.2.3).
fn pair(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("a", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("b", &["192.0.2.2/24", "2001:db8::2/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    )
}

/// a (priority 150) is master, b (100) backup; the client reaches the VIP at a.
fn elected(tag: &str) -> Cluster {
    let mut c = pair(tag);
    c.start("a", &Instance::fast(150, VIP).render());
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let mac = c.client_reaches("c", VIP_ADDR);
    assert_eq!(mac, c.lab.mac_str("a"), "the client reaches the VIP at a");
    c
}

#[test]
fn election_by_priority() {
    if !require_root() {
        return;
    }
    let c = elected("elect");
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_secs(1));
    // Both start at once, so b's timer may fire before a's first advert arrives (on a
    // loaded machine); then a preempts it (RFC 5798 6.4.2). Either way b ends as backup,
    // having become master at most that once.
    let b = c.transitions("b");
    assert!(b.last().is_some_and(|t| t.contains("-> BACKUP")), "{b:?}");
    assert!(
        b.iter().filter(|t| t.contains("-> MASTER")).count() <= 1,
        "{b:?}"
    );
}

#[test]
fn failover_when_the_master_is_killed() {
    if !require_root() {
        return;
    }
    let c = elected("kill");
    c.signal("a", "KILL");
    // a's address stays on the dead process's interface (as after a crash of the host's
    // daemon only); b takes over and the client follows through gratuitous ARP.
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("b"));
    assert!(c.holders(&SERVERS, VIP).contains(&"b".to_string()));
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("b"));
}

#[test]
fn failover_when_the_master_link_goes_down_and_fallback_when_it_returns() {
    if !require_root() {
        return;
    }
    let c = elected("linkdn");
    c.lab.link_down("a");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("b"));
    assert!(c.log("a").contains("MASTER -> FAULT"), "{}", c.log("a"));
    c.lab.link_up("a");
    // Automatic fallback (preempt): a takes the VIP back.
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("a"));
}

#[test]
fn failover_when_the_master_is_frozen() {
    if !require_root() {
        return;
    }
    let c = elected("stop");
    c.signal("a", "STOP");
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("b"));
    c.signal("a", "CONT");
    // a wakes up as master with the higher priority; b yields, one holder remains.
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("a"));
}

#[test]
fn graceful_stop_hands_over_with_priority_zero() {
    if !require_root() {
        return;
    }
    let c = elected("term");
    c.signal("a", "TERM");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    // The last takeover: on a loaded machine b may also have been master for a moment at
    // start, before a's first advert (see election_by_priority).
    let takeover = c
        .transitions("b")
        .into_iter()
        .rev()
        .find(|t| t.contains("BACKUP -> MASTER"))
        .expect("b became master");
    assert!(
        takeover.contains("resigned (priority 0)"),
        "took over on the priority-0 advert, not a timeout: {takeover}"
    );
    assert!(c.log("a").contains("MASTER -> INIT"));
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("b"));
}

#[test]
fn manual_fallback_keeps_the_vip_where_it_is() {
    if !require_root() {
        return;
    }
    let mut c = pair("manual");
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    c.start(
        "a",
        &Instance::fast(150, VIP).with("fallback manual").render(),
    );
    // The preferred node came back but does not take the VIP by itself.
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(2));
    assert!(c.transitions("a").iter().all(|t| !t.contains("-> MASTER")));
}

#[test]
fn automatic_fallback_takes_the_vip_back() {
    if !require_root() {
        return;
    }
    let mut c = pair("auto");
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("b"));
    c.start("a", &Instance::fast(150, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("a"));
}

#[test]
fn equal_priorities_are_broken_by_the_higher_address_after_a_partition() {
    if !require_root() {
        return;
    }
    let mut c = pair("tie");
    // Partitioned, both become master; healed, the higher address (b) stays.
    c.lab.isolate("a", true);
    c.lab.isolate("b", true);
    c.start("a", &Instance::fast(100, VIP).render());
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a", "b"]);
    c.client_reaches("c", VIP_ADDR);
    c.lab.isolate("a", false);
    c.lab.isolate("b", false);
    c.expect_holders(&SERVERS, VIP, &["b"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("b"));
}

#[test]
fn healed_partition_ends_with_one_master_and_the_client_pointing_at_it() {
    if !require_root() {
        return;
    }
    let c = elected("part");
    c.lab.isolate("a", true);
    c.lab.isolate("b", true);
    c.expect_holders(&SERVERS, VIP, &["a", "b"]);
    // Let the client's cache point at b, as a split brain may leave it.
    c.lab.exec(
        "c",
        &[
            "ip",
            "neigh",
            "replace",
            VIP_ADDR,
            "lladdr",
            &c.lab.mac_str("b"),
            "dev",
            "veth0",
            "nud",
            "stale",
        ],
    );
    c.lab.isolate("a", false);
    c.lab.isolate("b", false);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_client_mac("c", VIP_ADDR, &c.lab.mac_str("a"));
    assert!(c.log("b").contains("MASTER -> BACKUP"));
}

#[test]
fn ipv6_vip_over_vrrpv3() {
    if !require_root() {
        return;
    }
    const VIP6: &str = "2001:db8::100/64";
    let mut c = pair("ipv6");
    c.start("a", &Instance::fast(150, VIP6).render());
    c.start("b", &Instance::fast(100, VIP6).render());
    c.expect_holders(&SERVERS, VIP6, &["a"]);
    assert_eq!(c.client_reaches("c", "2001:db8::100"), c.lab.mac_str("a"));
    c.signal("a", "KILL");
    c.expect_client_mac("c", "2001:db8::100", &c.lab.mac_str("b"));
}

#[test]
fn unicast_mode_fails_over() {
    if !require_root() {
        return;
    }
    let mut c = pair("ucast");
    let a = Instance::fast(150, VIP)
        .with("unicast_src_ip 192.0.2.1")
        .with("unicast_peer {\n        192.0.2.2\n    }");
    let b = Instance::fast(100, VIP)
        .with("unicast_src_ip 192.0.2.2")
        .with("unicast_peer {\n        192.0.2.1\n    }");
    c.start("a", &a.render());
    c.start("b", &b.render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_secs(1));
    c.lab.link_down("a");
    c.expect_holders(&SERVERS, VIP, &["b"]);
}

#[test]
fn adverts_with_another_password_are_ignored() {
    if !require_root() {
        return;
    }
    let mut c = pair("auth");
    let with_pass = |priority, pass: &str| {
        Instance {
            version: 2,
            advert_int: "1",
            ..Instance::fast(priority, VIP)
        }
        .with(format!(
            "authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
        ))
    };
    c.start("a", &with_pass(150, "one").render());
    c.start("b", &with_pass(100, "two").render());
    // Neither hears the other: both hold the VIP (the operator sees a split brain).
    c.expect_holders(&SERVERS, VIP, &["a", "b"]);
    c.expect_stable(&SERVERS, VIP, &["a", "b"], Duration::from_secs(2));
}

#[test]
fn a_vip_deleted_by_hand_comes_back() {
    if !require_root() {
        return;
    }
    let c = elected("vipdel");
    c.lab
        .exec_ok("a", &["ip", "addr", "del", VIP, "dev", "veth0"]);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    assert!(c.log("a").contains("putting it back"), "{}", c.log("a"));
}

#[test]
fn sighup_with_an_unchanged_config_causes_no_transition() {
    if !require_root() {
        return;
    }
    let c = elected("hup");
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
    let before = (c.transitions("a").len(), c.transitions("b").len());
    c.signal("a", "HUP");
    c.signal("b", "HUP");
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_secs(2));
    assert_eq!((c.transitions("a").len(), c.transitions("b").len()), before);
    assert!(c.log("a").contains("reload: configuration unchanged"));
}

#[test]
fn sighup_with_an_invalid_config_keeps_the_running_one() {
    if !require_root() {
        return;
    }
    let c = elected("badhup");
    c.rewrite("a", "vrrp_instance VI_1 {\n    virtual_router_id 300\n}\n");
    c.signal("a", "HUP");
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_secs(2));
    assert!(c.log("a").contains("reload refused"), "{}", c.log("a"));
}

#[test]
fn sighup_with_a_new_priority_applies_it_in_place() {
    if !require_root() {
        return;
    }
    let c = elected("prio");
    // b now outranks a: with preemption it takes over, without a's restart.
    c.rewrite("b", &Instance::fast(200, VIP).render());
    c.signal("b", "HUP");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert!(c.log("b").contains("updated in place"), "{}", c.log("b"));
}

#[test]
fn graceful_stop_removes_the_vip() {
    if !require_root() {
        return;
    }
    let c = elected("stopall");
    c.stop_all();
    assert!(c.holders(&SERVERS, VIP).is_empty(), "no VIP left behind");
}

/// keepalived's `preferred_lft`: an IPv6 /128 VIP is deprecated by default (never chosen
/// as the source of the server's own connections, which would break when the VIP moves),
/// `preferred_lft forever` keeps it preferred, a number of seconds is set as given.
#[test]
fn vips_get_keepalived_preferred_lifetimes() {
    if !require_root() {
        return;
    }
    let mut c = pair("preflft");
    let instance = Instance {
        vips: vec![
            "2001:db8::100/128",
            "2001:db8::101/128 preferred_lft forever",
            "2001:db8::102/64",
            "2001:db8::103/64 preferred_lft 0",
            "2001:db8::104/64 preferred_lft 300",
        ],
        ..Instance::fast(150, "unused")
    };
    c.start("a", &instance.render());
    c.expect_holders(&["a"], "2001:db8::104/64", &["a"]);
    let details = c.lab.address_details("a", lab::IFNAME);
    let of = |addr: &str| {
        details
            .iter()
            .find(|a| a.local == addr)
            .unwrap_or_else(|| panic!("{addr} not in {details:?}"))
    };
    assert!(of("2001:db8::100").deprecated, "{:?}", of("2001:db8::100"));
    assert_eq!(of("2001:db8::101").preferred_lft, u64::from(u32::MAX));
    assert!(!of("2001:db8::101").deprecated);
    assert_eq!(of("2001:db8::102").preferred_lft, u64::from(u32::MAX));
    assert!(of("2001:db8::103").deprecated, "{:?}", of("2001:db8::103"));
    let p = of("2001:db8::104").preferred_lft;
    assert!((1..=300).contains(&p), "preferred_lft 300 shows {p}");
}

/// Under `Type=notify`: READY=1 comes once the control socket answers, WATCHDOG=1 keeps
/// coming while the daemon runs, STOPPING=1 at SIGTERM, and hooks do not inherit the
/// notify socket.
#[test]
fn systemd_is_told_ready_and_stopping_and_the_watchdog_is_fed() {
    if !require_root() {
        return;
    }
    use std::os::unix::net::UnixDatagram;
    let mut c = pair("sdnotify");
    let dir = c.dir.path().to_path_buf();
    let notify_path = dir.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let hook_env = dir.join("hook.env");
    let hook = dir.join("hook.sh");
    std::fs::write(&hook, format!("#!/bin/sh\nenv > {}\n", hook_env.display())).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // WATCHDOG_PID is the shell's pid, which `exec` hands on to baton (as systemd sets it).
    c.start_with_env(
        "a",
        &Instance::fast(150, VIP)
            .with(format!("notify_master {}", hook.display()))
            .render(),
        &format!(
            "NOTIFY_SOCKET={} WATCHDOG_USEC=400000 WATCHDOG_PID=$$",
            notify_path.display()
        ),
    );
    let mut buf = [0u8; 4096];
    let mut receive = || -> Option<String> {
        let n = notify.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    // Anything before READY=1 (at most a watchdog ping) is skipped; 30 s at most.
    let ready = (0..30)
        .filter_map(|_| receive())
        .find(|m| m.lines().any(|l| l == "READY=1"));
    let ready = ready.unwrap_or_else(|| panic!("no READY=1\n{}", c.log("a")));
    assert!(ready.contains("STATUS=1 instances"), "{ready}");
    // Ready means the control socket is up.
    let (status, _) = c.status("a");
    assert_eq!(status["instances"][0]["name"], "VI_1", "{status}");
    // The watchdog is pinged every quarter of WATCHDOG_USEC while the loop turns: 2 s of it.
    let mut pings = 0;
    for _ in 0..40 {
        if receive().is_some_and(|m| m.lines().any(|l| l == "WATCHDOG=1")) {
            pings += 1;
        }
        if pings >= 10 {
            break;
        }
    }
    assert!(pings >= 10, "{pings} watchdog pings\n{}", c.log("a"));
    assert!(
        c.log("a").contains("systemd watchdog: 0.400s"),
        "{}",
        c.log("a")
    );
    // The hook ran without the daemon's notify variables.
    c.expect_holders(&SERVERS, VIP, &["a"]);
    assert!(
        lab::poll(daemon::SETTLE, || hook_env.exists()),
        "{}",
        c.log("a")
    );
    let env = std::fs::read_to_string(&hook_env).unwrap();
    assert!(env.contains("BATON_STATE=MASTER"), "{env}");
    for variable in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(
            !env.contains(variable),
            "{variable} in the hook's env:\n{env}"
        );
    }
    c.signal("a", "TERM");
    let mut stopping = false;
    for _ in 0..200 {
        match receive() {
            Some(m) if m.lines().any(|l| l == "STOPPING=1") => {
                stopping = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(stopping, "no STOPPING=1\n{}", c.log("a"));
}

/// keepalived's `state MASTER`: a node started while a better master runs takes the VIP at
/// once (no Master_Down_Interval wait), then hands it back as soon as it hears that master.
/// With `fallback manual` it is not acted on: the node starts as BACKUP and never takes the
/// VIP from the running master.
#[test]
fn state_master_takes_the_vip_at_start_unless_fallback_is_manual() {
    if !require_root() {
        return;
    }
    let mut c = pair("stmaster");
    c.start("b", &Instance::fast(200, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    c.start("a", &Instance::fast(150, VIP).with("state MASTER").render());
    let yielded = lab::poll(Duration::from_secs(10), || {
        c.transitions("a")
            .last()
            .is_some_and(|t| t.contains("-> BACKUP"))
    });
    assert!(yielded, "{:?}", c.transitions("a"));
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = c.transitions("a");
    assert!(
        a.first()
            .is_some_and(|t| t.contains("-> MASTER") && t.contains("state MASTER")),
        "{a:?}"
    );
    assert!(a.last().is_some_and(|t| t.contains("-> BACKUP")), "{a:?}");
    assert_eq!(c.client_reaches("c", VIP_ADDR), c.lab.mac_str("b"));

    c.signal("a", "KILL");
    assert!(
        c.daemon("a")
            .proc
            .wait_timeout(Duration::from_secs(10))
            .is_some()
    );
    let before = c.transitions("a").len();
    c.start(
        "a",
        &Instance::fast(150, VIP)
            .with("state MASTER")
            .with("fallback manual")
            .render(),
    );
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(2));
    let a = c.transitions("a");
    assert!(
        a.len() > before && a[before..].iter().all(|t| !t.contains("-> MASTER")),
        "a took the VIP with fallback manual: {a:?}\n{}",
        c.log("a")
    );
}

/// `garp_lower_prio_repeat` / `garp_lower_prio_delay` (keepalived 2.x): what a master sends
/// when it hears a lower-priority master (here a partition healed, b master on its side),
/// counted on the client's wire: gratuitous ARPs for the VIP from a's MAC. With
/// `garp_lower_prio_repeat 0` none, whatever the master settings; with 3 and a delay of
/// 1 s, two bursts of 3.
#[test]
fn a_healed_split_brain_is_announced_as_garp_lower_prio_says() {
    if !require_root() {
        return;
    }
    for repeat in [0u32, 3] {
        let mut c = pair(&format!("garplow{repeat}"));
        let config = |priority| {
            Instance::fast(priority, VIP)
                .with("garp_master_repeat 2")
                .with("garp_master_delay 0")
                .with(format!("garp_lower_prio_repeat {repeat}"))
                .with("garp_lower_prio_delay 1")
                .render()
        };
        c.start("a", &config(150));
        c.start("b", &config(100));
        c.expect_holders(&SERVERS, VIP, &["a"]);
        c.lab.isolate("a", true);
        c.lab.isolate("b", true);
        c.expect_holders(&SERVERS, VIP, &["a", "b"]);
        // a's own bursts are long over; capture from here.
        std::thread::sleep(Duration::from_millis(1500));
        let file = c.dir.path().join("arp.txt");
        let capture = c.lab.spawn(
            "c",
            &[
                "sh",
                "-c",
                &format!(
                    "exec tcpdump -l -n -e -i {} arp > {} 2>/dev/null",
                    lab::IFNAME,
                    file.display()
                ),
            ],
        );
        std::thread::sleep(Duration::from_millis(500));
        c.lab.isolate("a", false);
        c.lab.isolate("b", false);
        c.expect_holders(&SERVERS, VIP, &["a"]);
        // The first burst, the one past the locktime, the delayed one, and the same when
        // the split brain is over (b quiet for Master_Down_Interval): all within 4 s.
        std::thread::sleep(Duration::from_secs(4));
        capture.terminate();
        let mac = c.lab.mac_str("a");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let garps = text
            .lines()
            .filter(|l| l.contains(&mac) && l.matches(VIP_ADDR).count() == 2)
            .count();
        eprintln!("garp_lower_prio_repeat {repeat}: {garps} gratuitous ARPs from a after the heal");
        assert!(
            c.log("a").contains("split brain"),
            "a heard no lower-priority master\n{}",
            c.log("a")
        );
        if repeat == 0 {
            assert_eq!(garps, 0, "{text}");
        } else {
            // Two split-brain events (begun, over), each 3 + 1 + 3 (14 seen); the
            // master settings (2 + 1) never.
            assert!((7..=14).contains(&garps), "{text}");
        }
    }
}

/// A process of our own, under a name no other test uses: a copy of `sleep` (the name a
/// process has is its program's file name). Killed and reaped on drop.
struct Tracked {
    child: std::process::Child,
}

impl Tracked {
    fn start(program: &std::path::Path) -> Tracked {
        let child = std::process::Command::new(program)
            .arg("600")
            .spawn()
            .expect("start the tracked process");
        Tracked { child }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn track_items(c: &Cluster, node: &str) -> Vec<serde_json::Value> {
    c.status(node).0["instances"][0]["tracks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `vrrp_track_process` (keepalived): a's instance needs two processes of a name (quorum
/// 2, weight 0): with one it is in FAULT and b holds the VIP; with two it takes the VIP
/// back (preemption); one killed, FAULT again. `baton status` says how many run. In a
/// network namespace the kernel's process events cannot be followed, so this is the
/// /proc reading (the events are checked by a unit test in the initial namespace).
#[test]
fn track_process_quorum_moves_the_vip() {
    if !require_root() {
        return;
    }
    let mut c = pair("tproc");
    let name = format!("btp{}", std::process::id() % 1_000_000);
    let program = c.dir.path().join(&name);
    std::fs::copy("/bin/sleep", &program).expect("copy sleep");
    let block =
        format!("vrrp_track_process tp {{\n    process {name}\n    quorum 2\n    weight 0\n}}\n");
    let first = Tracked::start(&program);
    c.start(
        "a",
        &format!(
            "{block}{}",
            Instance::fast(150, VIP)
                .with("track_process {\n        tp\n    }")
                .render()
        ),
    );
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let items = track_items(&c, "a");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "process", "{items:?}");
    assert_eq!(items[0]["effect"], "FAULT", "{items:?}");
    assert!(
        items[0]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with(&format!("1 {name} running (quorum 2)"))),
        "{items:?}"
    );
    assert_eq!(c.status("a").0["instances"][0]["state"], "FAULT");
    let second = Tracked::start(&program);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let items = track_items(&c, "a");
    assert_eq!(items[0]["up"], true, "{items:?}");
    drop(first);
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert!(c.log("a").contains("quorum lost"), "{}", c.log("a"));
    drop(second);
}

/// `no_accept` (RFC 5798 6.1, Accept_Mode False): the master holds the VIP and answers
/// ARP for it (the client's neighbour entry names a's MAC) but drops what is addressed to
/// it (the client's pings go unanswered), through the nftables table `inet baton`; the
/// same instance reloaded with `accept` answers; a clean stop removes the table.
#[test]
fn no_accept_drops_what_is_addressed_to_the_vip() {
    if !require_root() {
        return;
    }
    let nft = std::process::Command::new("nft").arg("--version").output();
    if nft.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nft is missing under CI: .ci/run installs nftables"
        );
        eprintln!("skipped: nft is missing (apt-get install nftables)");
        return;
    }
    let mut c = pair("noacc");
    let conf = |extra: &str| Instance::fast(150, VIP).with(extra).render();
    c.start("a", &conf("no_accept"));
    c.start("b", &Instance::fast(100, VIP).with("no_accept").render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let ping = || {
        c.lab
            .exec("c", &["ping", "-c", "1", "-W", "1", VIP_ADDR])
            .status
            .success()
    };
    let tables = |node: &str| {
        String::from_utf8_lossy(&c.lab.exec(node, &["nft", "list", "tables"]).stdout).to_string()
    };
    assert!(tables("a").contains("table inet baton"), "{}", tables("a"));
    for _ in 0..3 {
        assert!(
            !ping(),
            "the master answered a ping to its VIP under no_accept"
        );
    }
    let a_mac = c.lab.mac_str("a");
    let entry = c
        .lab
        .neighbours("c")
        .into_iter()
        .find(|n| n.dst == VIP_ADDR)
        .and_then(|n| n.lladdr);
    assert_eq!(entry.as_deref(), Some(a_mac.as_str()), "ARP for the VIP");
    // The ruleset names the VIP and drops it.
    let rules = String::from_utf8_lossy(
        &c.lab
            .exec("a", &["nft", "list", "table", "inet", "baton"])
            .stdout,
    )
    .to_string();
    assert!(
        rules.contains("192.0.2.100") && rules.contains("drop"),
        "{rules}"
    );
    // Reloaded with accept: answered, the table gone (no instance drops any more).
    c.rewrite("a", &conf("accept"));
    c.signal("a", "HUP");
    assert!(
        lab::poll(Duration::from_secs(10), ping),
        "no answer with accept\n{}",
        c.log("a")
    );
    assert!(!tables("a").contains("table inet baton"), "{}", tables("a"));
    assert!(
        c.log("a").contains("no instance drops traffic now"),
        "{}",
        c.log("a")
    );
    // Back to no_accept, then a clean stop: the table is removed.
    c.rewrite("a", &conf("no_accept"));
    c.signal("a", "HUP");
    assert!(
        lab::poll(Duration::from_secs(10), || tables("a")
            .contains("table inet baton")),
        "{}",
        c.log("a")
    );
    c.signal("a", "TERM");
    assert!(
        lab::poll(Duration::from_secs(10), || !tables("a")
            .contains("table inet baton")),
        "the table outlived a clean stop\n{}",
        c.log("a")
    );
}
