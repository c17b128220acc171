//! The control socket and the operator's commands against real daemons in namespaces:
//! `baton status` (text, JSON, exit codes), `fallback` (with its check), `resign`, `lock`
//! (kept across restarts), `unlock`, `reconfigure`, and bad requests.

mod daemon;
mod lab;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use daemon::{Cluster, Instance};
use lab::require_root;

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];

fn pair(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// a (150) master and b (100) backup, both answering on their sockets.
fn elected(tag: &str, a_extra: &[&str]) -> Cluster {
    let mut c = pair(tag);
    let mut a = Instance::fast(150, VIP);
    for line in a_extra {
        a = a.with(*line);
    }
    c.start("a", &a.render());
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    c.wait_for_socket("b");
    c
}

#[test]
fn status_shows_master_and_backup_with_exit_code_ok() {
    if !require_root() {
        return;
    }
    let c = elected("status", &[]);
    let (a, code) = c.status("a");
    assert_eq!(code, 0, "{a}");
    let i = &a["instances"][0];
    assert_eq!(i["name"], "VI_1");
    assert_eq!(i["state"], "MASTER");
    assert_eq!(i["priority"], 150);
    assert_eq!(i["vips"][0]["address"], VIP);
    assert_eq!(i["vips"][0]["present"], true);
    assert!(i["counters"]["adverts_sent"].as_u64().unwrap() > 0);
    let (b, code) = c.status("b");
    assert_eq!(code, 0, "{b}");
    let i = &b["instances"][0];
    assert_eq!(i["state"], "BACKUP");
    assert_eq!(i["master"]["address"], "192.0.2.1");
    assert_eq!(i["master"]["priority"], 150);
    assert_eq!(i["vips"][0]["present"], false);
    // The human form, and the check-status alias.
    let out = c.baton("a", &["check-status"]);
    assert!(
        stdout(&out).contains("VI_1  MASTER for"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).starts_with("baton OK: 1 instance"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn status_field_prints_one_plain_value_for_scripts() {
    if !require_root() {
        return;
    }
    let c = elected("field", &[]);
    let field = |node: &str, args: &[&str]| {
        let mut all = vec!["status"];
        all.extend_from_slice(args);
        let out = c.baton(node, &all);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let ok = |s: &str| (Some(0), format!("{s}\n"), String::new());
    assert_eq!(field("a", &["VI_1", "--field", "state"]), ok("MASTER"));
    assert_eq!(field("b", &["VI_1", "--field", "state"]), ok("BACKUP"));
    // The only instance may be left out.
    assert_eq!(field("b", &["--field", "master"]), ok("192.0.2.1"));
    // A master hears no other master: an empty line.
    assert_eq!(field("a", &["VI_1", "--field", "master"]), ok(""));
    assert_eq!(field("a", &["VI_1", "--field", "priority"]), ok("150"));
    assert_eq!(field("b", &["VI_1", "--field", "priority"]), ok("100"));
    // An unknown instance or field: a clear error, a non-zero exit, nothing on stdout.
    let (code, out, err) = field("a", &["VI_9", "--field", "state"]);
    assert_ne!(code, Some(0));
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("no instance named VI_9"), "{err}");
    let (code, out, err) = field("a", &["VI_1", "--field", "colour"]);
    assert_ne!(code, Some(0));
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("colour"), "{err}");
    // With --json it makes no sense.
    let (code, _, _) = field("a", &["VI_1", "--field", "state", "--json"]);
    assert_ne!(code, Some(0));
}

#[test]
fn status_of_an_unreachable_daemon_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--socket"])
        .arg(dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with("UNKNOWN: cannot reach the baton daemon"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn manual_fallback_waits_for_its_check_and_then_takes_the_vip() {
    if !require_root() {
        return;
    }
    let mut c = pair("fback");
    let gate = c.dir.path().join("caught-up");
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = Instance::fast(150, VIP)
        .with("fallback manual")
        .with(format!(
            "fallback_check \"/usr/bin/test -e {}\"",
            gate.display()
        ));
    c.start("a", &a.render());
    c.wait_for_socket("a");
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(1));
    // The preferred node waits: WARNING, with the reason in plain words.
    let (status, code) = c.status("a");
    assert_eq!(code, 1, "{status}");
    let alarm = status["instances"][0]["alarms"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        alarm.starts_with("running on the standby: 192.0.2.2"),
        "{alarm}"
    );
    // b holds the VIP: a fallback there has nothing to do.
    let out = c.baton("b", &["fallback"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already MASTER"), "{}", stderr(&out));
    // The check fails (the database has not caught up): refused, nothing moves.
    let out = c.baton("a", &["fallback", "VI_1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("fallback_check failed"),
        "{}",
        stderr(&out)
    );
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_millis(500));
    // Caught up: the fallback goes through.
    std::fs::write(&gate, "").unwrap();
    let out = c.baton("a", &["fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "VI_1: MASTER\n");
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let (status, code) = c.status("a");
    assert_eq!(
        (status["instances"][0]["state"].as_str(), code),
        (Some("MASTER"), 0),
        "{status}"
    );
}

#[test]
fn fallback_is_refused_when_the_node_does_not_outrank_the_master() {
    if !require_root() {
        return;
    }
    let c = elected("norank", &[]);
    let out = c.baton("b", &["fallback"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the current master 192.0.2.1 has priority 150, this node only 100"),
        "{}",
        stderr(&out)
    );
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
}

#[test]
fn resign_hands_the_vip_over_and_holds() {
    if !require_root() {
        return;
    }
    let c = elected("resign", &[]);
    let out = c.baton("a", &["resign", "--hold", "30"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    c.expect_holders(&SERVERS, VIP, &["b"]);
    // a has the higher priority but holds back.
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(2));
}

#[test]
fn lock_survives_a_restart_and_unlock_lets_the_node_back() {
    if !require_root() {
        return;
    }
    let mut c = elected("lock", &[]);
    let out = c.baton("a", &["lock", "VI_1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let (status, code) = c.status("a");
    assert_eq!(status["instances"][0]["locked"], true);
    assert_eq!(code, 1, "locked is a WARNING");
    // Restart a: still locked.
    c.signal("a", "TERM");
    assert!(
        c.daemon("a")
            .proc
            .wait_timeout(Duration::from_secs(10))
            .is_some()
    );
    c.start("a", &Instance::fast(150, VIP).render());
    c.wait_for_socket("a");
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(1));
    assert_eq!(c.status("a").0["instances"][0]["locked"], true);
    let out = c.baton("a", &["unlock", "VI_1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    c.expect_holders(&SERVERS, VIP, &["a"]);
}

#[test]
fn reconfigure_applies_a_valid_config_and_refuses_an_invalid_one() {
    if !require_root() {
        return;
    }
    let c = elected("reconf", &[]);
    c.rewrite("a", "vrrp_instance VI_1 {\n    virtual_router_id 0\n}\n");
    let out = c.baton("a", &["reconfigure"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reload refused"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("virtual_router_id"),
        "{}",
        stderr(&out)
    );
    c.rewrite("b", &Instance::fast(200, VIP).render());
    let out = c.baton("b", &["reconfigure"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "reloaded: 0 added, 0 removed, 1 changed, 0 unchanged\n"
    );
    c.expect_holders(&SERVERS, VIP, &["b"]);
}

/// A file emptied or cut short before its last instance (a full disk, an editor crash)
/// must not release the VIP on reload.
#[test]
fn a_reload_to_a_file_without_instances_is_refused() {
    if !require_root() {
        return;
    }
    let c = elected("emptyrl", &[]);
    for text in ["", "global_defs {\n    router_id a\n}\n"] {
        c.rewrite("a", text);
        let out = c.baton("a", &["reconfigure"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no vrrp_instance"),
            "{}",
            stderr(&out)
        );
        c.expect_stable(&SERVERS, VIP, &["a"], std::time::Duration::from_millis(500));
        let (status, _) = c.status("a");
        assert_eq!(status["instances"][0]["state"], "MASTER", "{status}");
    }
}

#[test]
fn bad_requests_get_an_error_reply_and_change_nothing() {
    if !require_root() {
        return;
    }
    let c = elected("badreq", &[]);
    let requests: [&[u8]; 4] = [
        b"not json\n",
        b"{\"version\":7,\"command\":\"status\"}\n",
        b"{\"version\":1,\"command\":\"lock\",\"instance\":\"NOPE\"}\n",
        &[b'x'; 10_000],
    ];
    for request in requests {
        let mut stream = UnixStream::connect(c.socket("a")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(request);
        let _ = stream.write_all(b"\n");
        let mut reply = String::new();
        BufReader::new(&stream).read_line(&mut reply).unwrap();
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // A client that connects and says nothing does not block the others.
    let _idle = UnixStream::connect(c.socket("a")).unwrap();
    let (status, code) = c.status("a");
    assert_eq!(
        (status["instances"][0]["state"].as_str(), code),
        (Some("MASTER"), 0)
    );
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    if !require_root() {
        return;
    }
    let c = elected("twice", &[]);
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &c.lab.ns("a")])
        .arg(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "-f"])
        .arg(&c.daemon("a").conf)
        .arg("--socket")
        .arg(c.socket("a"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already listening"),
        "{}",
        stderr(&out)
    );
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
}

/// Open `fifo` for writing if a reader has it open (never waits for one).
fn fifo_writer(fifo: &std::path::Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .ok()
}

/// Wait (bounded) for the daemon to open `fifo` for reading, and keep it waiting: the
/// writer that is returned, once dropped, ends what the daemon reads.
fn fifo_reader_waiting(
    fifo: &std::path::Path,
    give_up: impl Fn() -> bool,
) -> Option<std::fs::File> {
    let mut writer = None;
    lab::poll(Duration::from_secs(10), || {
        writer = fifo_writer(fifo);
        writer.is_some() || give_up()
    });
    writer
}

/// One request line on `socket`, the reply within 5 s (None if none came).
fn ask_raw(socket: &std::path::Path, request: &str) -> Option<serde_json::Value> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(b"\n").ok()?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).ok()?;
    serde_json::from_str(&reply).ok()
}

#[test]
fn a_reload_stuck_reading_a_slow_file_holds_up_nothing() {
    if !require_root() {
        return;
    }
    let c = elected("slowrl", &[]);
    // The configuration now includes a FIFO: reading it waits until the test writes it,
    // which stands for a slow disk, a hung NFS mount or thousands of includes.
    let fifo = c.dir.path().join("slow.conf");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    c.rewrite("a", &format!("include {}\n", fifo.display()));
    c.signal("a", "HUP");
    let Some(mut first) = fifo_reader_waiting(&fifo, || c.log("a").contains("reload refused"))
    else {
        // The include code refuses a FIFO outright: the reload changes nothing, at once.
        assert!(c.log("a").contains("reload refused"), "{}", c.log("a"));
        let (status, _) = c.status("a");
        assert_eq!(status["instances"][0]["state"], "MASTER", "{status}");
        return;
    };
    // While the file is being read: the control socket answers, adverts go on (b stays
    // BACKUP), and two more reloads are queued behind it.
    let status = ask_raw(&c.socket("a"), r#"{"version":1,"command":"status"}"#)
        .unwrap_or_else(|| panic!("status did not answer during the reload\n{}", c.log("a")));
    assert_eq!(
        status["result"]["instances"][0]["state"], "MASTER",
        "{status}"
    );
    let reconfigures: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
                .args(["reconfigure", "--socket"])
                .arg(c.socket("a"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    assert!(lab::poll(Duration::from_secs(10), || {
        c.log("a").matches("one more reload follows").count() == 2
    }));
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_secs(1));
    assert!(
        !c.transitions("b").iter().any(|t| t.contains("-> MASTER")),
        "{:?}",
        c.transitions("b")
    );
    // The file arrives (a higher priority): applied. The two queued reloads were
    // coalesced into one more read of the file, which both clients wait for.
    let config = Instance::fast(160, VIP).render();
    first.write_all(config.as_bytes()).unwrap();
    drop(first);
    // Applied (so the first read has closed the FIFO); then the queued read opens it.
    assert!(
        lab::poll(Duration::from_secs(10), || c
            .log("a")
            .contains("reload: updated in place")),
        "{}",
        c.log("a")
    );
    let mut second = fifo_reader_waiting(&fifo, || false)
        .unwrap_or_else(|| panic!("the queued reload never read the file\n{}", c.log("a")));
    second.write_all(config.as_bytes()).unwrap();
    drop(second);
    for child in reconfigures {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "reloaded: configuration unchanged\n",
            "{}",
            c.log("a")
        );
    }
    let (status, _) = c.status("a");
    assert_eq!(status["instances"][0]["priority"], 160, "{status}");
    assert_eq!(status["instances"][0]["state"], "MASTER", "{status}");
    // Two reads of the file for three requests: the first applied the change, the second
    // (for both queued clients) found nothing more to do.
    let log = c.log("a");
    assert_eq!(
        log.matches("reload: configuration unchanged").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("reload: updated in place").count(), 1, "{log}");
}

/// A reload whose new instance cannot start (its interface does not exist yet) says so
/// instead of "reloaded", leaves the running instance alone, and the same file reloaded
/// once the interface exists starts it (the daemon did not record it as running).
#[test]
fn a_reload_that_cannot_start_an_instance_says_so_and_the_next_one_retries() {
    if !require_root() {
        return;
    }
    let c = elected("rlfail", &[]);
    let second = "vrrp_instance VI_2 {\n    interface bt0\n    virtual_router_id 52\n    \
                  version 3\n    priority 150\n    advert_int 0.1\n    virtual_ipaddress {\n        \
                  203.0.113.100/24\n    }\n}\n";
    let text = format!("{}{second}", Instance::fast(150, VIP).render());
    c.rewrite("a", &text);
    let out = c.baton("a", &["reconfigure"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("reload applied in part")
            && stderr(&out).contains("VI_2: cannot start it"),
        "{}",
        stderr(&out)
    );
    c.expect_stable(&SERVERS, VIP, &["a"], std::time::Duration::from_millis(500));
    c.lab.exec_ok(
        "a",
        &[
            "ip", "link", "add", "bt0", "type", "veth", "peer", "name", "bt1",
        ],
    );
    c.lab.exec_ok("a", &["ip", "link", "set", "bt1", "up"]);
    c.lab
        .exec_ok("a", &["ip", "addr", "add", "203.0.113.1/24", "dev", "bt0"]);
    c.lab.exec_ok("a", &["ip", "link", "set", "bt0", "up"]);
    let out = c.baton("a", &["reconfigure"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "reloaded: 1 added, 0 removed, 0 changed, 1 unchanged\n"
    );
    let (status, _) = c.status("a");
    let names: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["VI_1", "VI_2"], "{status}");
}

/// Issue 19 item 7: new unicast peers and a new source address are applied in place: no
/// transition on either node, the VIP stays on the master, and a client pinging it every
/// 10 ms through both reloads loses nothing.
#[test]
fn a_reload_of_unicast_peers_or_source_keeps_the_vip_where_it_is() {
    if !require_root() {
        return;
    }
    let mut c = pair("uniq");
    c.lab
        .exec_ok("a", &["ip", "addr", "add", "192.0.2.11/24", "dev", "veth0"]);
    let conf = |priority: u8, src: &str, peers: &[&str]| {
        let mut i = Instance::fast(priority, VIP).with(format!("unicast_src_ip {src}"));
        i = i.with("unicast_peer {");
        for p in peers {
            i = i.with(format!("    {p}"));
        }
        i.with("}").render()
    };
    c.start("a", &conf(150, "192.0.2.1", &["192.0.2.2"]));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.start("b", &conf(100, "192.0.2.2", &["192.0.2.1"]));
    c.wait_for_socket("b");
    c.client_reaches("c", "192.0.2.100");
    let before: Vec<usize> = SERVERS.iter().map(|n| c.transitions(n).len()).collect();

    let ping_log = c.dir.path().join("ping.txt");
    let ping = c.lab.spawn(
        "c",
        &[
            "sh",
            "-c",
            &format!(
                "ping -n -q -i 0.01 -c 400 -W 1 192.0.2.100 > {} 2>&1",
                ping_log.display()
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    // Another peer on both nodes (one that does not exist yet).
    c.rewrite("a", &conf(150, "192.0.2.1", &["192.0.2.2", "192.0.2.9"]));
    c.rewrite("b", &conf(100, "192.0.2.2", &["192.0.2.1", "192.0.2.9"]));
    for node in SERVERS {
        let out = c.baton(node, &["reconfigure"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("1 changed"), "{}", stdout(&out));
    }
    std::thread::sleep(Duration::from_millis(800));
    // a sends from another of its addresses; b lists it as its peer.
    c.rewrite("b", &conf(100, "192.0.2.2", &["192.0.2.11", "192.0.2.9"]));
    c.rewrite("a", &conf(150, "192.0.2.11", &["192.0.2.2", "192.0.2.9"]));
    for node in ["b", "a"] {
        let out = c.baton(node, &["reconfigure"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert!(
        ping.wait_timeout(Duration::from_secs(20)).is_some(),
        "ping ended"
    );
    let report = std::fs::read_to_string(&ping_log).unwrap_or_default();
    assert!(
        report.contains(" 0% packet loss"),
        "the client lost pings during the reloads: {report}\n{}",
        c.all_logs()
    );
    let after: Vec<usize> = SERVERS.iter().map(|n| c.transitions(n).len()).collect();
    assert_eq!(
        before,
        after,
        "no transition on either node\n{}",
        c.all_logs()
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
    // b hears a from its new address.
    let (status, _) = c.status("b");
    assert_eq!(
        status["instances"][0]["master"]["address"], "192.0.2.11",
        "{status}"
    );
}

/// Issue 19 item 5: `vrrp_startup_delay` and `vrrp_delay_after_boot` keep the instances in
/// INIT (no VIP, `baton status` says when they start), then they start as usual.
#[test]
fn the_start_up_delays_hold_the_instances_in_init_then_start_them() {
    if !require_root() {
        return;
    }
    let uptime = || -> f64 {
        std::fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    for node in ["a", "b"] {
        let mut c = pair(&format!("delay{node}"));
        let global = match node {
            "a" => "vrrp_startup_delay 2.5".to_string(),
            _ => format!("vrrp_delay_after_boot {:.1}", uptime() + 2.5),
        };
        let config = format!(
            "global_defs {{\n    {global}\n}}\n{}",
            Instance::fast(150, VIP).render()
        );
        let started = std::time::Instant::now();
        c.start(node, &config);
        c.wait_for_socket(node);
        let (status, _) = c.status(node);
        let i = &status["instances"][0];
        assert_eq!(i["state"], "INIT", "{global}: {i}");
        assert!(
            i["reason"]
                .as_str()
                .unwrap()
                .starts_with("start-up delay: starts in"),
            "{global}: {i}"
        );
        assert!(c.holders(&[node], VIP).is_empty());
        c.expect_holders(&[node], VIP, &[node]);
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "{global}: the VIP came after {:?}",
            started.elapsed()
        );
        assert!(
            c.log(node).contains("start-up delay over"),
            "{}",
            c.all_logs()
        );
    }
}

/// Issue 19 item 7: a reload that moves the pair from multicast to unicast, one node after
/// the other (2 s apart, longer than Master_Down_Interval), then back, makes no failover:
/// the reloaded node keeps the old way too for a while (router::MIGRATION_WINDOW), so the
/// node not yet reloaded goes on hearing it. No transition on either node, the VIP stays
/// on the master, and a client pinging it every 10 ms loses nothing.
#[test]
fn a_reload_between_multicast_and_unicast_keeps_the_vip_where_it_is() {
    if !require_root() {
        return;
    }
    let mut c = pair("mcuni");
    let multicast = |priority: u8| Instance::fast(priority, VIP).render();
    let unicast = |priority: u8, src: &str, peer: &str| {
        Instance::fast(priority, VIP)
            .with(format!("unicast_src_ip {src}"))
            .with("unicast_peer {")
            .with(format!("    {peer}"))
            .with("}")
            .render()
    };
    c.start("a", &multicast(150));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.start("b", &multicast(100));
    c.wait_for_socket("b");
    c.client_reaches("c", "192.0.2.100");
    let before: Vec<usize> = SERVERS.iter().map(|n| c.transitions(n).len()).collect();

    let ping_log = c.dir.path().join("ping.txt");
    let ping = c.lab.spawn(
        "c",
        &[
            "sh",
            "-c",
            &format!(
                "ping -n -q -i 0.01 -c 800 -W 1 192.0.2.100 > {} 2>&1",
                ping_log.display()
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let reload = |c: &daemon::Cluster, node: &str| {
        let out = c.baton(node, &["reconfigure"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("1 changed"), "{}", stdout(&out));
    };
    // To unicast, the master first.
    c.rewrite("a", &unicast(150, "192.0.2.1", "192.0.2.2"));
    reload(&c, "a");
    std::thread::sleep(Duration::from_secs(2));
    c.rewrite("b", &unicast(100, "192.0.2.2", "192.0.2.1"));
    reload(&c, "b");
    std::thread::sleep(Duration::from_secs(1));
    // And back to multicast, the backup first.
    c.rewrite("b", &multicast(100));
    reload(&c, "b");
    std::thread::sleep(Duration::from_secs(2));
    c.rewrite("a", &multicast(150));
    reload(&c, "a");
    assert!(
        ping.wait_timeout(Duration::from_secs(30)).is_some(),
        "ping ended"
    );
    let report = std::fs::read_to_string(&ping_log).unwrap_or_default();
    assert!(
        report.contains(" 0% packet loss"),
        "the client lost pings during the reloads: {report}\n{}",
        c.all_logs()
    );
    let after: Vec<usize> = SERVERS.iter().map(|n| c.transitions(n).len()).collect();
    assert_eq!(
        before,
        after,
        "no transition on either node\n{}",
        c.all_logs()
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
    assert!(
        c.log("a")
            .contains("moving from multicast 224.0.0.18 to unicast"),
        "{}",
        c.log("a")
    );
    let (status, _) = c.status("b");
    assert_eq!(
        status["instances"][0]["master"]["address"], "192.0.2.1",
        "{status}"
    );
}
