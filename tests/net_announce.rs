//! `AnnounceSocket` on a real kernel: a gratuitous ARP / unsolicited NA from the new
//! holder of an address moves a neighbour's cache entry to the new holder's MAC.
//!
//! Linux only updates an *existing* neighbour entry from an unsolicited
//! announcement, so `b` first resolves the address while `a` holds it (a UDP
//! datagram to the discard port makes the kernel resolve it); then the address
//! moves to `c`, `c` announces it, and `b`'s entry must point at `c`.

mod lab;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use baton::net::AnnounceSocket;
use baton::wire::{arp, ndp};
use lab::{IFNAME, Lab};

const TIMEOUT: Duration = Duration::from_secs(20);
const ROUNDS: usize = 20;

/// `b`'s cache entry for `addr`, if it has a link-layer address.
fn lladdr_in_b(lab: &Lab, addr: &str) -> Option<String> {
    lab.neighbours("b")
        .into_iter()
        .find(|n| n.dst == addr && n.dev == IFNAME)
        .and_then(|n| n.lladdr)
}

/// Make `b` resolve `addr` (bounded), and check it resolved to `a`'s MAC.
fn resolve_from_b(lab: &Lab, addr: IpAddr) {
    let a_mac = lab.mac_str("a");
    let target = SocketAddr::new(addr, 9);
    let mut resolved = false;
    for _ in 0..ROUNDS {
        lab.run_in("b", TIMEOUT, || async move {
            let bind: SocketAddr = if addr.is_ipv4() {
                "0.0.0.0:0".parse().expect("literal")
            } else {
                "[::]:0".parse().expect("literal")
            };
            let socket = UdpSocket::bind(bind).expect("udp socket");
            // The datagram itself is discarded; it only makes b resolve `addr`.
            let _ = socket.send_to(b"resolve", target);
        });
        if lab::poll(Duration::from_millis(500), || {
            lladdr_in_b(lab, &addr.to_string()).as_deref() == Some(a_mac.as_str())
        }) {
            resolved = true;
            break;
        }
    }
    assert!(
        resolved,
        "b did not resolve {addr} to a's MAC {a_mac}: {:?}",
        lab.neighbours("b")
    );
}

/// Send `frame` from `c` until `b`'s entry for `addr` points at `c` (bounded).
fn announce_from_c_until_b_moves(lab: &Lab, addr: &str, frame: &[u8]) {
    let c_mac = lab.mac_str("c");
    let mut moved = false;
    for _ in 0..ROUNDS {
        lab.run_in("c", TIMEOUT, || async {
            let socket = AnnounceSocket::open(IFNAME).expect("packet socket in c");
            socket.send_frame(frame).await.expect("send announcement");
        });
        if lab::poll(Duration::from_millis(500), || {
            lladdr_in_b(lab, addr).as_deref() == Some(c_mac.as_str())
        }) {
            moved = true;
            break;
        }
    }
    assert!(
        moved,
        "b's entry for {addr} did not move to c's MAC {c_mac}: {:?}",
        lab.neighbours("b")
    );
}

#[test]
fn gratuitous_arp_moves_neighbour_entry_to_the_new_holder() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("garp");
    lab.node("a", &["192.0.2.1/24"]);
    lab.node("b", &["192.0.2.2/24"]);
    lab.node("c", &["192.0.2.3/24"]);
    let vip = "192.0.2.100";
    lab.exec_ok("a", &["ip", "addr", "add", "192.0.2.100/24", "dev", IFNAME]);
    resolve_from_b(&lab, vip.parse().expect("literal"));

    lab.exec_ok("a", &["ip", "addr", "del", "192.0.2.100/24", "dev", IFNAME]);
    lab.exec_ok("c", &["ip", "addr", "add", "192.0.2.100/24", "dev", IFNAME]);
    let frame = arp::gratuitous_arp(lab.mac("c"), vip.parse().expect("literal"));
    announce_from_c_until_b_moves(&lab, vip, &frame);
}

#[test]
fn unsolicited_na_moves_neighbour_entry_to_the_new_holder() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("una");
    lab.node("a", &["2001:db8::1/64"]);
    lab.node("b", &["2001:db8::2/64"]);
    lab.node("c", &["2001:db8::3/64"]);
    let vip = "2001:db8::100";
    lab.exec_ok(
        "a",
        &[
            "ip",
            "addr",
            "add",
            "2001:db8::100/64",
            "dev",
            IFNAME,
            "nodad",
        ],
    );
    resolve_from_b(&lab, vip.parse().expect("literal"));

    lab.exec_ok(
        "a",
        &["ip", "addr", "del", "2001:db8::100/64", "dev", IFNAME],
    );
    lab.exec_ok(
        "c",
        &[
            "ip",
            "addr",
            "add",
            "2001:db8::100/64",
            "dev",
            IFNAME,
            "nodad",
        ],
    );
    let target = vip.parse().expect("literal");
    // keepalived sends the NA from the VIP itself.
    let frame = ndp::unsolicited_na(lab.mac("c"), target, target, false);
    announce_from_c_until_b_moves(&lab, vip, &frame);
}

#[test]
fn announce_socket_on_a_missing_interface_is_a_typed_error() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("anm");
    lab.node("a", &["192.0.2.1/24"]);
    let err = lab.run_in("a", TIMEOUT, || async {
        AnnounceSocket::open("nope0").err()
    });
    assert!(
        matches!(err, Some(baton::net::NetError::NoInterface { .. })),
        "{err:?}"
    );
}
