//! A hostile control client against real daemons in namespaces: numbers out of range sent
//! raw on the socket (not through our CLI), and a flood of idle or non-reading clients.
//! The daemon answers with an error or "busy", stays up as master with its VIP, keeps
//! running its track script and sending adverts, and names the uid of whoever changes state.

mod daemon;
mod lab;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use daemon::{Cluster, Instance};
use lab::{poll, require_root};

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];
/// baton's limit on control clients served at once (`control::server::MAX_CLIENTS`).
const MAX_CLIENTS: usize = 32;

fn pair(tag: &str) -> Cluster {
    Cluster::new(tag, &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])])
}

/// One raw request line on `socket`, and the reply line parsed.
fn raw(socket: &Path, request: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket).expect("connect to the control socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply)
        .unwrap_or_else(|e| panic!("reply {reply:?} ({e}): did the daemon die?"))
}

fn alive(c: &Cluster, node: &str) -> bool {
    c.daemon(node)
        .proc
        .wait_timeout(Duration::from_millis(1))
        .is_none()
}

#[test]
fn numbers_out_of_range_get_an_error_and_the_master_stays() {
    if !require_root() {
        return;
    }
    let mut c = pair("hnum");
    c.start("a", &Instance::fast(150, VIP).render());
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    // Old enough that its clock has whole seconds to overflow with.
    assert!(poll(Duration::from_secs(10), || {
        c.status("a").0["uptime_s"].as_f64().unwrap_or_default() > 2.0
    }));
    let huge_string = format!("\"{}\"", "9".repeat(3000));
    let holds = [
        "18446744073709551615",
        "18446744073709551616",
        "86401",
        "-1",
        "1.5",
        "1e300",
        "\"60\"",
        &huge_string,
    ];
    for hold in holds {
        let request =
            format!(r#"{{"version":1,"command":"resign","instance":"VI_1","hold_s":{hold}}}"#);
        let reply = raw(&c.socket("a"), request.as_bytes());
        let error = reply["error"].as_str().unwrap_or_default();
        assert_eq!(reply["ok"], false, "{hold:.40}: {reply}");
        assert!(
            error.contains("\"hold_s\" must be a whole number of seconds from 0 to 86400"),
            "{hold:.40}: {error}"
        );
        assert!(
            alive(&c, "a"),
            "hold_s {hold:.40} killed the daemon\n{}",
            c.log("a")
        );
    }
    for version in ["18446744073709551615", "-1", "1.5", "\"1\""] {
        let request = format!(r#"{{"version":{version},"command":"resign"}}"#);
        let reply = raw(&c.socket("a"), request.as_bytes());
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(
            reply["error"]
                .as_str()
                .unwrap_or_default()
                .contains("version"),
            "{reply}"
        );
    }
    // The CLI refuses the same number before it sends anything.
    let out = c.baton("a", &["resign", "--hold", "18446744073709551615"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not in 0..=86400"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Still master with its VIP; nothing moved.
    assert!(alive(&c, "a"), "{}", c.log("a"));
    let (status, code) = c.status("a");
    let i = &status["instances"][0];
    assert_eq!((i["state"].as_str(), code), (Some("MASTER"), 0), "{status}");
    assert_eq!(i["vips"][0]["present"], true);
    assert_eq!(i["counters"]["released_master"], 0, "{status}");
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
    // The largest hold allowed is still a resign.
    let reply = raw(
        &c.socket("a"),
        br#"{"version":1,"command":"resign","hold_s":86400}"#,
    );
    assert_eq!(reply["ok"], true, "{reply}");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert!(alive(&c, "a"), "{}", c.log("a"));
}

/// Open files of process `pid`.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn a_flood_of_idle_clients_leaves_tracking_and_adverts_alone() {
    if !require_root() {
        return;
    }
    let mut c = pair("hconn");
    let runs = c.dir.path().join("runs");
    let script = c.dir.path().join("check.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho run >> {}\n", runs.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = format!(
        "vrrp_script chk {{\n    script {}\n    interval 0.2\n    fall 1\n}}\n{}",
        script.display(),
        Instance::fast(150, VIP)
            .with("track_script {\n        chk\n    }")
            .render()
    );
    c.start("a", &config);
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    let pid = c.daemon("a").proc.pid();
    // A small descriptor limit, so that unbounded clients would exhaust it: the track
    // script could not be started, and the instance would go to FAULT.
    let base = open_files(pid);
    let limit = (base + MAX_CLIENTS + 24).to_string();
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .status()
        .expect("run prlimit");
    assert!(status.success());
    let (before, _) = c.status("a");
    let adverts_before = before["instances"][0]["counters"]["adverts_sent"]
        .as_u64()
        .unwrap();
    let runs_before = std::fs::read_to_string(&runs)
        .unwrap_or_default()
        .lines()
        .count();

    // Ten times the limit: idle clients, and clients that ask for the status and never
    // read the reply.
    let mut clients = Vec::new();
    for n in 0..10 * MAX_CLIENTS {
        let mut stream = UnixStream::connect(c.socket("a")).expect("connect");
        if n % 4 == 0 {
            let _ = stream.write_all(b"{\"version\":1,\"command\":\"status\"}\n");
        }
        clients.push(stream);
    }
    // Some were told "busy" at once, on one line.
    let mut busy = 0;
    for (n, stream) in clients.iter().enumerate().skip(9 * MAX_CLIENTS) {
        if n % 4 == 0 {
            continue; // asked for the status: never reads
        }
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut line = String::new();
        if BufReader::new(stream).read_line(&mut line).is_ok() && line.contains("busy") {
            let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(reply["ok"], false);
            busy += 1;
        }
    }
    assert!(busy > 0, "no client was told busy\n{}", c.log("a"));
    assert!(
        open_files(pid) < base + MAX_CLIENTS + 16,
        "the daemon holds {} files",
        open_files(pid)
    );
    // The track script keeps running and passing while the clients hang on.
    let ran = poll(Duration::from_secs(10), || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
            > runs_before + 10
    });
    assert!(ran, "the track script stopped running\n{}", c.log("a"));
    // Fill whatever slots the status clients gave back with idle ones.
    for _ in 0..MAX_CLIENTS {
        clients.push(UnixStream::connect(c.socket("a")).expect("connect"));
    }
    // A fresh client is answered (after the idle ones time out) or told "busy", cleanly.
    let mut answered = None;
    for _ in 0..60 {
        let out = c.baton("a", &["status", "--json"]);
        if out.status.code() == Some(0) {
            answered = Some(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap());
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("busy"), "{err}\n{}", c.log("a"));
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = answered.unwrap_or_else(|| panic!("status never answered\n{}", c.log("a")));
    let i = &status["instances"][0];
    assert_eq!(i["state"], "MASTER", "{status}");
    assert_eq!(i["tracks"][0]["up"], true, "{status}");
    assert_eq!(i["counters"]["released_master"], 0, "{status}");
    assert!(i["counters"]["adverts_sent"].as_u64().unwrap() > adverts_before + 10);
    assert!(
        !c.transitions("a").iter().any(|t| t.contains("FAULT")),
        "{:?}",
        c.transitions("a")
    );
    // The peer heard the adverts all along and stayed backup.
    assert!(
        !c.transitions("b").iter().any(|t| t.contains("-> MASTER")),
        "{:?}",
        c.transitions("b")
    );
    c.expect_stable(&SERVERS, VIP, &["a"], Duration::from_millis(500));
    assert!(
        c.log("a")
            .contains("clients connected already; refusing new ones"),
        "{}",
        c.log("a")
    );
    drop(clients);
    // Who changed what is in the log, with the uid and pid the kernel gave.
    let out = c.baton("a", &["lock", "VI_1"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    assert!(
        c.log("a")
            .contains(&format!("control: lock VI_1 requested by uid {uid} pid ")),
        "{}",
        c.log("a")
    );
    c.expect_holders(&SERVERS, VIP, &["b"]);
}
