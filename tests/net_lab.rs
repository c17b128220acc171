//! The lab harness itself: connectivity, cleanup (also on panic), process ownership.

mod lab;

use std::process::Command;
use std::time::Duration;

use lab::{IFNAME, Lab};

fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn pid_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; check its state too.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn lab_is_removed_on_drop_with_its_processes() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("drop");
    lab.node("a", &["192.0.2.1/24", "2001:db8::1/64"]);
    lab.node("b", &["192.0.2.2/24"]);
    let prefix = lab.ns("");
    assert_eq!(namespaces_with_prefix(&prefix).len(), 3, "bridge + 2 nodes");
    assert!(
        lab.addresses("a", IFNAME)
            .contains(&"192.0.2.1/24".to_owned())
    );
    assert!(
        lab.addresses("a", IFNAME)
            .contains(&"2001:db8::1/64".to_owned())
    );
    let sleeper = lab.spawn("b", &["sleep", "60"]);
    let pid = sleeper.pid();
    assert!(pid_alive(pid));
    std::mem::forget(sleeper); // leave it to the lab
    drop(lab);
    assert!(namespaces_with_prefix(&prefix).is_empty());
    assert!(!pid_alive(pid), "the lab killed {pid}");
}

#[test]
fn lab_is_removed_when_the_test_panics() {
    if !lab::require_root() {
        return;
    }
    let mut prefix = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new("panic");
        lab.node("a", &["192.0.2.1/24"]);
        prefix = lab.ns("");
        panic!("deliberate");
    }));
    assert!(result.is_err());
    assert!(!prefix.is_empty());
    assert!(namespaces_with_prefix(&prefix).is_empty());
}

#[test]
fn nodes_reach_each_other_and_spawned_processes_stop_on_sigterm() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("link");
    lab.node("a", &["192.0.2.1/24"]);
    lab.node("b", &["192.0.2.2/24"]);
    // A UDP datagram from a makes a resolve b: the neighbour entry proves the path.
    let send = || {
        lab.run_in("a", Duration::from_secs(10), || async {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
            let _ = socket.send_to(b"x", "192.0.2.2:9");
        });
    };
    let b_mac = lab.mac_str("b");
    let resolved = (0..20).any(|_| {
        send();
        lab::poll(Duration::from_millis(500), || {
            lab.neighbours("a")
                .iter()
                .any(|n| n.dst == "192.0.2.2" && n.lladdr.as_deref() == Some(b_mac.as_str()))
        })
    });
    assert!(resolved, "{:?}", lab.neighbours("a"));
    let proc = lab.spawn("b", &["sleep", "30"]);
    proc.terminate();
    let status = proc
        .wait_timeout(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    assert!(!status.success());
}
