//! `baton status --pair`: two real daemons in namespaces, each serving `/status` on its
//! `metrics_listen` address, read from either side; the secrets a hook carries stay off
//! HTTP; after the master's daemon is killed, the survivor's pair view says the peer does
//! not answer (exit 4), naming the address.

mod daemon;
mod lab;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use daemon::{Cluster, Instance, SETTLE};
use lab::{poll, require_root};

const VIP: &str = "192.0.2.100/24";
const A: &str = "192.0.2.1:9650";
const B: &str = "192.0.2.2:9650";
/// Planted in a's hook command line and in what the hook writes on stderr.
const SECRET: &str = "pw-Zq81-not-for-http";

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn config(metrics: &str, instance: &Instance) -> String {
    format!(
        "global_defs {{\n    metrics_listen {metrics}\n}}\n{}",
        instance.render()
    )
}

/// `baton status --pair PEER ARGS` run in `node`'s namespace against its own daemon: the
/// standard output, the exit code and how long it took.
fn pair(c: &Cluster, node: &str, peer: &str, args: &[&str]) -> (String, i32, Duration) {
    let socket = c.socket(node).display().to_string();
    let mut cmd = vec![
        env!("CARGO_BIN_EXE_baton"),
        "status",
        "--pair",
        peer,
        "--socket",
        &socket,
    ];
    cmd.extend_from_slice(args);
    let started = Instant::now();
    let out = c.lab.exec(node, &cmd);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.code().unwrap_or(-1), took)
}

fn pair_json(c: &Cluster, node: &str, peer: &str) -> (serde_json::Value, i32, String) {
    let (text, code, _) = pair(c, node, peer, &["--json"]);
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (json, code, text)
}

/// `curl` from `node`: the HTTP code of `METHOD url`.
fn http_code(c: &Cluster, node: &str, method: &str, url: &str) -> String {
    let out = c.lab.exec(
        node,
        &[
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            method,
            url,
        ],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pair_status_from_either_side_then_with_the_master_gone() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "pairst",
        &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])],
    );
    // a's notify_master fails with the secret on its command line and its stderr.
    let hook = c.dir.path().join("promote.sh");
    script(&hook, "echo \"login with $1 refused\" >&2\nexit 1");
    let a = Instance::fast(150, VIP).with(format!(
        "notify_master \"{} --password={SECRET}\"",
        hook.display()
    ));
    c.start("a", &config(A, &a));
    c.start("b", &config(B, &Instance::fast(100, VIP)));
    c.expect_holders(&["a", "b"], VIP, &["a"]);
    c.wait_for_socket("a");
    c.wait_for_socket("b");
    // The hook has failed on a: its own status shows the secret (the socket is for its
    // operators), which proves it was planted.
    let ok = poll(SETTLE, || {
        let (status, _) = c.status("a");
        status["instances"][0]["last_hook"]["ok"] == false && status.to_string().contains(SECRET)
    });
    assert!(
        ok,
        "a's hook did not fail with the secret\n{}",
        c.all_logs()
    );

    // From a: MASTER here, BACKUP there; a's failed hook is a WARNING: exit 1.
    let (json, code, text) = pair_json(&c, "a", B);
    assert_eq!(json["local"]["instances"][0]["state"], "MASTER", "{text}");
    assert_eq!(json["peer"]["instances"][0]["state"], "BACKUP", "{text}");
    assert_eq!(json["peer"]["node"], "b", "{text}");
    assert_eq!(json["local"]["node"], "a", "{text}");
    assert_eq!(json["peer"]["version"], env!("CARGO_PKG_VERSION"), "{text}");
    assert_eq!(
        json["peer"]["instances"][0]["master"]["address"],
        "192.0.2.1"
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(json["exit_code"], 1, "{text}");

    // From b: the same pair the other way round; a's hook, read over HTTP, has no secret.
    let (json, code, text) = pair_json(&c, "b", A);
    assert_eq!(json["local"]["instances"][0]["state"], "BACKUP", "{text}");
    assert_eq!(json["peer"]["instances"][0]["state"], "MASTER", "{text}");
    assert_eq!(json["peer"]["node"], "a", "{text}");
    assert_eq!(
        json["peer"]["instances"][0]["last_hook"]["hook"], "notify_master",
        "{text}"
    );
    assert_eq!(json["peer"]["instances"][0]["last_hook"]["ok"], false);
    assert_eq!(
        json["peer"]["instances"][0]["last_hook"]["result"], "exit status 1",
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("promote.sh"), "{text}");
    assert_eq!(code, 1, "{text}");
    // The side-by-side text says the same.
    let (text, code, _) = pair(&c, "b", A, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("baton pair WARNING\n"), "{text}");
    let state = text
        .lines()
        .find(|l| l.starts_with("VI_1: state"))
        .unwrap_or_else(|| panic!("{text}"));
    let words: Vec<&str> = state.split_whitespace().collect();
    assert_eq!(words[2..], ["BACKUP", "MASTER"], "{text}");
    assert!(!text.contains(SECRET), "{text}");
    // And so does /status itself, read with curl.
    let out = c.lab.exec(
        "b",
        &[
            "curl",
            "-sS",
            "--max-time",
            "10",
            &format!("http://{A}/status"),
        ],
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"state\": \"MASTER\""), "{body}");
    assert!(!body.contains(SECRET), "{body}");

    // Only GET /status (and /metrics).
    assert_eq!(
        http_code(&c, "b", "POST", &format!("http://{A}/status")),
        "405"
    );
    assert_eq!(
        http_code(&c, "b", "DELETE", &format!("http://{A}/status")),
        "405"
    );
    assert_eq!(
        http_code(&c, "b", "GET", &format!("http://{A}/status/x")),
        "404"
    );
    assert_eq!(http_code(&c, "b", "GET", &format!("http://{A}/")), "404");

    // The master's daemon dies (its VIP stays on its interface: no graceful stop); b takes
    // over, and its pair view says the peer does not answer.
    c.signal("a", "KILL");
    let took_over = poll(SETTLE, || {
        c.status("b").0["instances"][0]["state"] == "MASTER"
    });
    assert!(took_over, "b did not take over\n{}", c.all_logs());
    let (json, code, text) = pair_json(&c, "b", A);
    assert_eq!(code, 4, "{text}");
    assert_eq!(json["exit_code"], 4, "{text}");
    assert_eq!(json["health"], "PEER_UNREACHABLE", "{text}");
    assert_eq!(json["peer"], serde_json::Value::Null, "{text}");
    assert_eq!(json["local"]["instances"][0]["state"], "MASTER", "{text}");
    let why = json["peer_error"].as_str().unwrap_or_default();
    assert!(
        why.contains(&format!("cannot connect to {A}")) && why.contains("refused"),
        "{text}"
    );
    let (text, code, _) = pair(&c, "b", A, &[]);
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains(&format!(
            "the peer at {A} did not answer: cannot connect to {A}"
        )),
        "{text}"
    );

    // A peer whose link is down does not answer either, and the command does not hang.
    c.lab.link_down("a");
    let (text, code, took) = pair(&c, "b", A, &[]);
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains(&format!("the peer at {A} did not answer")),
        "{text}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}: {text}");
}

#[test]
fn pair_status_with_a_peer_without_metrics_listen_is_exit_4() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "pairnm",
        &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])],
    );
    c.start("a", &config(A, &Instance::fast(150, VIP)));
    // b serves no HTTP at all.
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&["a", "b"], VIP, &["a"]);
    c.wait_for_socket("a");
    let (json, code, text) = pair_json(&c, "a", B);
    assert_eq!(code, 4, "{text}");
    assert_eq!(json["local"]["instances"][0]["state"], "MASTER", "{text}");
    assert!(
        json["peer_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("cannot connect to {B}"))),
        "{text}"
    );
    // The other way round, b reads a: both are there, all OK.
    c.wait_for_socket("b");
    let (json, code, text) = pair_json(&c, "b", A);
    assert_eq!(code, 0, "{text}");
    assert_eq!(json["local"]["instances"][0]["state"], "BACKUP", "{text}");
    assert_eq!(json["peer"]["instances"][0]["state"], "MASTER", "{text}");
}
