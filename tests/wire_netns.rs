//! What a running `baton run` puts on the wire, captured by tcpdump on a client in the
//! namespace lab: adverts marked DSCP CS6 (TOS / traffic class 0xc0, as keepalived and FRR
//! send them), adverts to the configured multicast group, and unsolicited neighbour
//! advertisements with the router flag exactly when the interface forwards IPv6
//! (keepalived's rule; RFC 4861 4.4). Needs root and tcpdump (CI installs it).

mod daemon;
mod lab;

use std::path::Path;

use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP6: &str = "2001:db8::100/64";

fn lab(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("bt", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    )
}

/// Start tcpdump on the client with `filter`, verbose, one line per packet, into `file`;
/// returns once it listens (it prints "listening on" to stderr, kept in `file`.err).
fn capture(c: &Cluster, filter: &str, file: &Path) -> lab::Proc {
    let err = file.with_extension("err");
    let script = format!(
        "exec tcpdump -l -n -v -c 200 -i {IFNAME} '{filter}' > {} 2> {}",
        file.display(),
        err.display()
    );
    let proc = c.lab.spawn("c", &["sh", "-c", &script]);
    let listening = poll(SETTLE, || {
        std::fs::read_to_string(&err).is_ok_and(|t| t.contains("listening on"))
    });
    assert!(
        listening,
        "tcpdump did not start: {:?}",
        std::fs::read_to_string(&err)
    );
    proc
}

/// The captured text once a line contains `needle` (bounded by [`SETTLE`]).
fn wait_for(file: &Path, needle: &str, c: &Cluster) -> String {
    let mut text = String::new();
    let seen = poll(SETTLE, || {
        text = std::fs::read_to_string(file).unwrap_or_default();
        text.contains(needle)
    });
    assert!(
        seen,
        "no captured packet shows {needle:?}:\n{text}\n{}",
        c.all_logs()
    );
    text
}

/// tcpdump -v prints an NA as "... neighbor advertisement, length 32, tgt is ADDR, Flags
/// [router, override]"; the unsolicited ones go to ff02::1.
fn na_flags_for(text: &str, target: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // The IPv6 header line comes first, the ICMPv6 part on the same or the next line.
        let joined = format!("{line} {}", lines.get(i + 1).unwrap_or(&""));
        if line.contains("> ff02::1:") && joined.contains(&format!("tgt is {target}")) {
            let start = joined.find("Flags [").map(|s| s + "Flags [".len());
            let set = start
                .and_then(|s| joined[s..].find(']').map(|e| joined[s..s + e].to_string()))
                .unwrap_or_default();
            flags.push(set);
        }
    }
    flags
}

/// Run baton alone with an IPv6 VIP (it becomes master), `forwarding` set on its interface,
/// and return the flags of the unsolicited NAs the client captured for the VIP.
fn announced_flags(tag: &str, forwarding: bool) -> Vec<String> {
    let mut c = lab(tag);
    let value = if forwarding { "1" } else { "0" };
    c.lab.exec_ok(
        "bt",
        &[
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv6.conf.{IFNAME}.forwarding={value}"),
        ],
    );
    let file = c.dir.path().join("na.txt");
    let _tcpdump = capture(&c, "icmp6 and ip6[40] == 136", &file);
    c.start("bt", &Instance::fast(150, VIP6).render());
    let text = wait_for(&file, "tgt is 2001:db8::100", &c);
    let flags = na_flags_for(&text, "2001:db8::100");
    assert!(!flags.is_empty(), "no unsolicited NA parsed from:\n{text}");
    flags
}

#[test]
fn neighbour_advertisements_carry_the_router_flag_when_the_interface_forwards() {
    if !require_root() {
        return;
    }
    let flags = announced_flags("narouter", true);
    assert!(
        flags
            .iter()
            .all(|f| f.contains("router") && f.contains("override")),
        "forwarding on: every NA has R and O: {flags:?}"
    );
    let flags = announced_flags("nahost", false);
    assert!(
        flags
            .iter()
            .all(|f| !f.contains("router") && f.contains("override")),
        "forwarding off: R clear, O set: {flags:?}"
    );
}

#[test]
fn adverts_go_to_the_configured_group_marked_cs6() {
    if !require_root() {
        return;
    }
    let mut c = lab("cs6");
    let file = c.dir.path().join("vrrp.txt");
    let _tcpdump = capture(&c, "ip proto 112", &file);
    let config = format!(
        "global_defs {{\n    vrrp_mcast_group4 224.0.0.19\n}}\n{}",
        Instance::fast(150, "192.0.2.100/24").render()
    );
    c.start("bt", &config);
    // tcpdump -v: "IP (tos 0xc0, ttl 255, ... proto VRRP (112) ...)\n 192.0.2.1 > 224.0.0.19: VRRPv3, ..."
    let text = wait_for(&file, "> 224.0.0.19: VRRP", &c);
    let headers: Vec<&str> = text.lines().filter(|l| l.contains("proto VRRP")).collect();
    assert!(!headers.is_empty(), "no VRRP header line in:\n{text}");
    for header in &headers {
        assert!(
            header.contains("tos 0xc0") && header.contains("ttl 255"),
            "every advert is CS6 with TTL 255: {header}"
        );
    }
    assert!(
        !text.contains("> 224.0.0.18"),
        "nothing goes to the standard group:\n{text}"
    );
}

#[test]
fn unicast_adverts_use_unicast_ttl() {
    if !require_root() {
        return;
    }
    let mut c = lab("uttl");
    let file = c.dir.path().join("vrrp.txt");
    let _tcpdump = capture(&c, "ip proto 112", &file);
    let instance = Instance::fast(150, "192.0.2.100/24")
        .with("unicast_src_ip 192.0.2.1")
        .with("unicast_ttl 17")
        .with("unicast_peer {\n        192.0.2.3\n    }");
    c.start("bt", &instance.render());
    let text = wait_for(&file, "192.0.2.1 > 192.0.2.3: VRRP", &c);
    let headers: Vec<&str> = text.lines().filter(|l| l.contains("proto VRRP")).collect();
    assert!(!headers.is_empty(), "no VRRP header line in:\n{text}");
    for header in &headers {
        assert!(
            header.contains("tos 0xc0") && header.contains("ttl 17"),
            "unicast_ttl 17 and CS6: {header}"
        );
    }
    // No leftover from a test timing out: the daemon is still running and master.
    let (status, _) = c.status("bt");
    assert_eq!(status["instances"][0]["state"], "MASTER", "{status}");
}
