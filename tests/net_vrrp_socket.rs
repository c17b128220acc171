//! `VrrpSocket` on a real kernel: two nodes on a bridge exchange adverts.

mod lab;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use baton::net::{Family, Received, VrrpSocket};
use baton::wire::vrrp::{Auth, ChecksumMode, IPV4_MULTICAST, IPV6_MULTICAST, Repr, Version};
use lab::{IFNAME, Lab};

const TIMEOUT: Duration = Duration::from_secs(20);
const SEND_TRIES: usize = 50;
const SEND_GAP: Duration = Duration::from_millis(100);

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().expect("IPv4 literal"))
}

fn advert(version: Version, vip: IpAddr) -> Repr {
    Repr {
        version,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth: match version {
            Version::V2 => Auth::Pass(*b"secret\0\0"),
            Version::V3 => Auth::None,
        },
        addresses: vec![vip],
    }
}

/// Node `a` sends `payload` to `dst` from `a_src` (repeatedly, bounded, until `b`
/// got one); `b` receives on its own socket, which joined `dst` if it is a group. Afterwards
/// `a` checks that it did not receive its own packet (multicast loop off). Returns what `b`
/// got.
fn exchange(
    lab: &Lab,
    family: Family,
    a_src: IpAddr,
    b_src: IpAddr,
    payload: &[u8],
    dst: IpAddr,
) -> (Received, Vec<u8>) {
    exchange_with_ttl(lab, family, (a_src, b_src), payload, dst, 255)
}

fn is_multicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// [`exchange`], sending with TTL / hop limit `ttl`.
fn exchange_with_ttl(
    lab: &Lab,
    family: Family,
    (a_src, b_src): (IpAddr, IpAddr),
    payload: &[u8],
    dst: IpAddr,
    ttl: u8,
) -> (Received, Vec<u8>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let done = AtomicBool::new(false);
    let (path_a, path_b) = (lab.netns_path("a"), lab.netns_path("b"));
    std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            lab::block_on_in(&path_b, TIMEOUT, || async {
                let socket = VrrpSocket::open(IFNAME, family, b_src).expect("open in b");
                if is_multicast(dst) {
                    socket.join(dst).expect("join in b");
                }
                ready_tx.send(()).expect("main thread waits");
                let mut buf = [0u8; 1500];
                let got = socket.recv(&mut buf).await.expect("receive in b");
                done.store(true, Ordering::SeqCst);
                (got, buf[..got.len].to_vec())
            })
        });
        ready_rx.recv_timeout(TIMEOUT).expect("b opened its socket");
        let sender = s.spawn(|| {
            lab::block_on_in(&path_a, TIMEOUT, || async {
                let socket = VrrpSocket::open(IFNAME, family, a_src).expect("open in a");
                for _ in 0..SEND_TRIES {
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    socket.send(payload, dst, ttl).await.expect("send from a");
                    tokio::time::sleep(SEND_GAP).await;
                }
                let mut buf = [0u8; 1500];
                let own =
                    tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await;
                assert!(own.is_err(), "a received its own packet: {own:?}");
            })
        });
        let got = receiver
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        sender
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        got
    })
}

fn ipv4_lab(tag: &str) -> Lab {
    let lab = Lab::new(tag);
    lab.node("a", &["192.0.2.1/24"]);
    lab.node("b", &["192.0.2.2/24"]);
    lab
}

/// a (2001:db8::1) and b (2001:db8::2).
fn ipv6_lab(tag: &str) -> Lab {
    let lab = Lab::new(tag);
    lab.node("a", &["2001:db8::1/64"]);
    lab.node("b", &["2001:db8::2/64"]);
    lab
}

/// The link-local address of `node`'s veth0.
fn link_local(lab: &Lab, node: &str) -> Ipv6Addr {
    let info = lab.run_in(node, TIMEOUT, || async {
        baton::net::interface_info(IFNAME)
            .await
            .expect("interface_info")
    });
    info.ipv6_link_local
        .expect("veth0 has a link-local address")
}

fn check_v4(version: Version, dst: IpAddr) {
    if !lab::require_root() {
        return;
    }
    let lab = ipv4_lab("v4");
    let (a, b) = (v4("192.0.2.1"), v4("192.0.2.2"));
    let repr = advert(version, v4("192.0.2.100"));
    let payload = repr.to_bytes(a, dst, ChecksumMode::Rfc).expect("emit");
    let (got, bytes) = exchange(&lab, Family::V4, a, b, &payload, dst);
    assert_eq!(got.src, a);
    assert_eq!(got.dst, dst);
    assert_eq!(got.ttl, 255);
    assert_eq!(got.tos, 0xc0, "DSCP CS6, as keepalived and FRR");
    assert_eq!(bytes, payload);
    let parsed = Repr::parse(&bytes, got.src, got.dst, ChecksumMode::Rfc)
        .expect("decodes with a valid checksum");
    assert_eq!(parsed, repr);
}

#[test]
fn v3_ipv4_multicast_advert_arrives_with_ttl_255() {
    check_v4(Version::V3, IpAddr::V4(IPV4_MULTICAST));
}

#[test]
fn v2_ipv4_multicast_advert_arrives_with_ttl_255() {
    check_v4(Version::V2, IpAddr::V4(IPV4_MULTICAST));
}

#[test]
fn v3_ipv4_unicast_advert_arrives() {
    check_v4(Version::V3, v4("192.0.2.2"));
}

#[test]
fn v3_ipv6_multicast_advert_arrives_from_link_local_with_hop_limit_255() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv6_lab("v6");
    let (a, b) = (
        IpAddr::V6(link_local(&lab, "a")),
        IpAddr::V6(link_local(&lab, "b")),
    );
    let dst = IpAddr::V6(IPV6_MULTICAST);
    let repr = advert(Version::V3, "2001:db8::100".parse().expect("literal"));
    let payload = repr.to_bytes(a, dst, ChecksumMode::Rfc).expect("emit");
    let (got, bytes) = exchange(&lab, Family::V6, a, b, &payload, dst);
    assert_eq!(got.src, a);
    assert_eq!(got.dst, dst);
    assert_eq!(got.ttl, 255);
    assert_eq!(got.tos, 0xc0, "traffic class CS6, as keepalived and FRR");
    let parsed = Repr::parse(&bytes, got.src, got.dst, ChecksumMode::Rfc)
        .expect("decodes with a valid checksum");
    assert_eq!(parsed, repr);
}

#[test]
fn v3_ipv6_unicast_advert_arrives() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv6_lab("v6u");
    let a = IpAddr::V6(link_local(&lab, "a"));
    let b: IpAddr = "2001:db8::2".parse().expect("literal");
    let dst = b;
    let repr = advert(Version::V3, "2001:db8::100".parse().expect("literal"));
    let payload = repr.to_bytes(a, dst, ChecksumMode::Rfc).expect("emit");
    let (got, bytes) = exchange(&lab, Family::V6, a, b, &payload, dst);
    assert_eq!((got.src, got.dst, got.ttl), (a, dst, 255));
    Repr::parse(&bytes, got.src, got.dst, ChecksumMode::Rfc).expect("valid checksum");
}

#[test]
fn v3_ipv4_advert_to_another_multicast_group_arrives_once_joined() {
    check_v4(Version::V3, v4("224.0.0.19"));
}

#[test]
fn v3_ipv6_advert_to_another_multicast_group_arrives_once_joined() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv6_lab("v6g");
    let a = IpAddr::V6(link_local(&lab, "a"));
    let b: IpAddr = "2001:db8::2".parse().expect("literal");
    let dst: IpAddr = "ff02::13".parse().expect("literal");
    let repr = advert(Version::V3, "2001:db8::100".parse().expect("literal"));
    let payload = repr.to_bytes(a, dst, ChecksumMode::Rfc).expect("emit");
    let (got, bytes) = exchange(&lab, Family::V6, a, b, &payload, dst);
    assert_eq!((got.src, got.dst, got.ttl), (a, dst, 255));
    Repr::parse(&bytes, got.src, got.dst, ChecksumMode::Rfc).expect("valid checksum");
}

/// keepalived's `unicast_ttl`: a unicast advert leaves with the TTL / hop limit asked for.
#[test]
fn unicast_adverts_carry_the_requested_ttl_in_both_families() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv4_lab("uttl");
    let (a, b) = (v4("192.0.2.1"), v4("192.0.2.2"));
    let repr = advert(Version::V3, v4("192.0.2.100"));
    let payload = repr.to_bytes(a, b, ChecksumMode::Rfc).expect("emit");
    let (got, _) = exchange_with_ttl(&lab, Family::V4, (a, b), &payload, b, 64);
    assert_eq!((got.dst, got.ttl, got.tos), (b, 64, 0xc0));
    drop(lab);

    let lab = ipv6_lab("uttl6");
    let a = IpAddr::V6(link_local(&lab, "a"));
    let b: IpAddr = "2001:db8::2".parse().expect("literal");
    let repr = advert(Version::V3, "2001:db8::100".parse().expect("literal"));
    let payload = repr.to_bytes(a, b, ChecksumMode::Rfc).expect("emit");
    let (got, _) = exchange_with_ttl(&lab, Family::V6, (a, b), &payload, b, 7);
    assert_eq!((got.dst, got.ttl, got.tos), (b, 7, 0xc0));
}

#[test]
fn packet_with_ttl_64_is_reported_with_ttl_64() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv4_lab("ttl");
    let (a, b) = (v4("192.0.2.1"), v4("192.0.2.2"));
    let dst = IpAddr::V4(IPV4_MULTICAST);
    let payload = advert(Version::V3, v4("192.0.2.100"))
        .to_bytes(a, dst, ChecksumMode::Rfc)
        .expect("emit");
    let (ready_tx, ready_rx) = mpsc::channel();
    let done = AtomicBool::new(false);
    let (path_a, path_b) = (lab.netns_path("a"), lab.netns_path("b"));
    let got = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            lab::block_on_in(&path_b, TIMEOUT, || async {
                let socket = VrrpSocket::open(IFNAME, Family::V4, b).expect("open in b");
                socket.join(dst).expect("join in b");
                ready_tx.send(()).expect("main thread waits");
                let mut buf = [0u8; 1500];
                let got = socket.recv(&mut buf).await.expect("receive in b");
                done.store(true, Ordering::SeqCst);
                got
            })
        });
        ready_rx.recv_timeout(TIMEOUT).expect("b opened its socket");
        // A plain raw socket, not VrrpSocket: TTL 64 as a misbehaving or routed sender.
        s.spawn(|| {
            baton::sys::enter_netns(&path_a).expect("enter a");
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(112)),
            )
            .expect("raw socket");
            socket
                .bind_device(Some(IFNAME.as_bytes()))
                .expect("bind to veth0");
            socket.set_multicast_ttl_v4(64).expect("ttl 64");
            socket
                .set_multicast_if_v4(&"192.0.2.1".parse().expect("literal"))
                .expect("multicast if");
            let to = socket2::SockAddr::from(std::net::SocketAddrV4::new(IPV4_MULTICAST, 0));
            for _ in 0..SEND_TRIES {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                socket.send_to(&payload, &to).expect("send");
                std::thread::sleep(SEND_GAP);
            }
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
        receiver
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    assert_eq!(got.src, a);
    assert_eq!(got.ttl, 64);
}

#[test]
fn interface_info_matches_ip_link() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("info");
    lab.node("a", &["192.0.2.1/24", "198.51.100.1/24", "2001:db8::1/64"]);
    let info = lab.run_in("a", TIMEOUT, || async {
        baton::net::interface_info(IFNAME)
            .await
            .expect("interface_info")
    });
    assert_eq!(info.index, lab.ifindex("a", IFNAME));
    assert_eq!(info.mac, lab.mac("a"));
    assert!(info.up);
    assert_eq!(
        info.ipv4,
        vec![
            ("192.0.2.1".parse().expect("literal"), 24),
            ("198.51.100.1".parse().expect("literal"), 24)
        ]
    );
    let ll = info.ipv6_link_local.expect("link-local");
    assert!(
        lab.addresses("a", IFNAME).contains(&format!("{ll}/64")),
        "{ll} in {:?}",
        lab.addresses("a", IFNAME)
    );
    let missing = lab.run_in("a", TIMEOUT, || async {
        baton::net::interface_info("nope0").await
    });
    assert!(
        matches!(
            missing,
            Err(baton::netlink::NetlinkError::NoSuchLink { .. })
        ),
        "{missing:?}"
    );
}

#[test]
fn open_on_a_missing_interface_is_a_typed_error() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("miss");
    lab.node("a", &["192.0.2.1/24"]);
    let err = lab.run_in("a", TIMEOUT, || async {
        VrrpSocket::open("nope0", Family::V4, v4("192.0.2.1")).err()
    });
    assert!(
        matches!(err, Some(baton::net::NetError::NoInterface { .. })),
        "{err:?}"
    );
    let err = lab.run_in("a", TIMEOUT, || async {
        VrrpSocket::open(IFNAME, Family::V6, v4("192.0.2.1")).err()
    });
    assert!(
        matches!(err, Some(baton::net::NetError::WrongFamily { .. })),
        "{err:?}"
    );
}

/// `try_recv` (what the daemon reads before it services a due Master_Down_Timer): the
/// datagrams that have arrived, in order and as `recv` gives them, then `None`, without
/// ever waiting.
fn check_try_recv(lab: &Lab, family: Family, (a_src, b_src): (IpAddr, IpAddr), dst: IpAddr) {
    let payload = |priority: u8| {
        let mut repr = advert(Version::V3, b_src);
        repr.priority = priority;
        repr.to_bytes(a_src, dst, ChecksumMode::Rfc).expect("emit")
    };
    let (drained_tx, drained_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel();
    // (Behind a mutex: a receiver is not Sync, and each is used from one thread.)
    let (drained_rx, sent_rx) = (
        std::sync::Mutex::new(drained_rx),
        std::sync::Mutex::new(sent_rx),
    );
    let heard = AtomicBool::new(false);
    let (path_a, path_b) = (lab.netns_path("a"), lab.netns_path("b"));
    let got = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            lab::block_on_in(&path_b, TIMEOUT, || async {
                let socket = VrrpSocket::open(IFNAME, family, b_src).expect("open in b");
                socket.join(dst).expect("join in b");
                let mut buf = [0u8; 1500];
                assert!(
                    socket.try_recv(&mut buf).is_none(),
                    "nothing has arrived yet"
                );
                // The path works: a repeats an advert until one arrives here.
                socket.recv(&mut buf).await.expect("receive in b");
                heard.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                while let Some(repeat) = socket.try_recv(&mut buf) {
                    repeat.expect("a repeat of the first advert");
                }
                drained_tx.send(()).expect("a waits");
                // a sends a burst and says when it is out.
                let sent = sent_rx.lock().expect("one user").recv_timeout(TIMEOUT);
                sent.expect("a sent its burst");
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut got = Vec::new();
                while let Some(received) = socket.try_recv(&mut buf) {
                    let received = received.expect("a good datagram");
                    assert_eq!(
                        (received.src, received.dst, received.ttl),
                        (a_src, dst, 255)
                    );
                    let bytes = &buf[..received.len];
                    let repr = Repr::parse(bytes, received.src, received.dst, ChecksumMode::Rfc)
                        .expect("valid checksum");
                    got.push(repr.priority);
                }
                got
            })
        });
        s.spawn(|| {
            lab::block_on_in(&path_a, TIMEOUT, || async {
                let socket = VrrpSocket::open(IFNAME, family, a_src).expect("open in a");
                for _ in 0..SEND_TRIES {
                    if heard.load(Ordering::SeqCst) {
                        break;
                    }
                    socket.send(&payload(200), dst, 255).await.expect("send");
                    tokio::time::sleep(SEND_GAP).await;
                }
                let drained = drained_rx.lock().expect("one user").recv_timeout(TIMEOUT);
                drained.expect("b is ready");
                for priority in [101, 102, 103] {
                    socket
                        .send(&payload(priority), dst, 255)
                        .await
                        .expect("send");
                }
                sent_tx.send(()).expect("b waits");
            })
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
        receiver
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    assert_eq!(got, [101, 102, 103]);
}

#[test]
fn try_recv_gives_what_has_arrived_in_order_then_none_ipv4() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv4_lab("try4");
    let pair = (v4("192.0.2.1"), v4("192.0.2.2"));
    check_try_recv(&lab, Family::V4, pair, IpAddr::V4(IPV4_MULTICAST));
}

#[test]
fn try_recv_gives_what_has_arrived_in_order_then_none_ipv6() {
    if !lab::require_root() {
        return;
    }
    let lab = ipv6_lab("try6");
    let pair = (
        IpAddr::V6(link_local(&lab, "a")),
        IpAddr::V6(link_local(&lab, "b")),
    );
    check_try_recv(&lab, Family::V6, pair, IpAddr::V6(IPV6_MULTICAST));
}
