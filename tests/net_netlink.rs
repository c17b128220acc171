//! `Netlink` and `Monitor` on a real kernel, checked against `ip -j`.

mod lab;

use std::net::IpAddr;
use std::time::Duration;

use baton::netlink::{Monitor, NetEvent, Netlink, VirtualAddress};
use lab::{IFNAME, Lab};

const TIMEOUT: Duration = Duration::from_secs(20);
/// Events to look through before giving up on the one expected.
const MAX_EVENTS: usize = 200;

fn ip_addr(s: &str) -> IpAddr {
    s.parse().expect("address literal")
}

/// Read events until one matches `want`, bounded in count (and by the caller's timeout).
async fn expect_event(
    monitor: &mut Monitor,
    what: &str,
    want: impl Fn(&NetEvent) -> bool,
) -> NetEvent {
    let mut seen = Vec::new();
    for _ in 0..MAX_EVENTS {
        match tokio::time::timeout(Duration::from_secs(5), monitor.next()).await {
            Ok(Some(event)) if want(&event) => return event,
            Ok(Some(event)) => seen.push(event),
            Ok(None) => panic!("monitor ended while waiting for {what}; saw {seen:?}"),
            Err(_) => panic!("no {what} within 5 s; saw {seen:?}"),
        }
    }
    panic!("no {what} in {MAX_EVENTS} events; saw {seen:?}")
}

#[test]
fn add_and_delete_ipv4_vip_with_label_idempotently() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("nl4");
    lab.node("a", &["192.0.2.1/24"]);
    let index = lab.ifindex("a", IFNAME);
    let vip = VirtualAddress {
        label: Some(format!("{IFNAME}:vip")),
        ..VirtualAddress::new(ip_addr("192.0.2.100"), 24)
    };
    let listed = lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        netlink.add_address(index, &vip).await.expect("first add");
        netlink
            .add_address(index, &vip)
            .await
            .expect("second add is a no-op");
        netlink.addresses(index).await.expect("addresses")
    });
    assert!(listed.contains(&(ip_addr("192.0.2.100"), 24)), "{listed:?}");
    let details = lab.address_details("a", IFNAME);
    let shown = details
        .iter()
        .find(|a| a.local == "192.0.2.100")
        .unwrap_or_else(|| panic!("192.0.2.100 not in {details:?}"));
    assert_eq!(shown.prefix_len, 24);
    assert_eq!(shown.label.as_deref(), Some("veth0:vip"));
    assert_eq!(
        details.iter().filter(|a| a.local == "192.0.2.100").count(),
        1
    );

    lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        netlink
            .del_address(index, ip_addr("192.0.2.100"), 24)
            .await
            .expect("first delete");
        netlink
            .del_address(index, ip_addr("192.0.2.100"), 24)
            .await
            .expect("second delete is a no-op");
    });
    let left = lab.addresses("a", IFNAME);
    assert!(
        !left.iter().any(|a| a.starts_with("192.0.2.100/")),
        "{left:?}"
    );
    assert!(left.contains(&"192.0.2.1/24".to_owned()), "{left:?}");
}

#[test]
fn add_and_delete_ipv6_vip_which_is_not_tentative() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("nl6");
    lab.node("a", &["2001:db8::1/64"]);
    // The lab turns DAD off for speed; turn it back on for this interface, so
    // the test shows that IFA_F_NODAD (not the lab) makes the VIP usable at once.
    lab.exec_ok(
        "a",
        &[
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv6.conf.{IFNAME}.accept_dad=1"),
        ],
    );
    let index = lab.ifindex("a", IFNAME);
    let vip = VirtualAddress::new(ip_addr("2001:db8::100"), 64);
    assert!(vip.nodad);
    lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        netlink.add_address(index, &vip).await.expect("first add");
        netlink
            .add_address(index, &vip)
            .await
            .expect("second add is a no-op");
    });
    let details = lab.address_details("a", IFNAME);
    let shown = details
        .iter()
        .find(|a| a.local == "2001:db8::100")
        .unwrap_or_else(|| panic!("2001:db8::100 not in {details:?}"));
    assert_eq!(shown.prefix_len, 64);
    assert!(!shown.tentative, "{shown:?}");

    lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        let addr = ip_addr("2001:db8::100");
        netlink
            .del_address(index, addr, 64)
            .await
            .expect("first delete");
        netlink
            .del_address(index, addr, 64)
            .await
            .expect("second delete is a no-op");
    });
    let left = lab.addresses("a", IFNAME);
    assert!(!left.contains(&"2001:db8::100/64".to_owned()), "{left:?}");
}

#[test]
fn link_reports_state_and_mac() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("nlk");
    lab.node("a", &["192.0.2.1/24"]);
    let (index, mac) = (lab.ifindex("a", IFNAME), lab.mac("a"));
    let state = lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        netlink.link(IFNAME).await.expect("link")
    });
    assert_eq!((state.index, state.up, state.mac), (index, true, mac));
    lab.link_down("a");
    let state = lab.run_in("a", TIMEOUT, || async {
        let netlink = Netlink::new_without_monitor().expect("netlink");
        netlink.link(IFNAME).await.expect("link")
    });
    assert!(!state.up);
}

#[test]
fn monitor_reports_link_down_up_and_address_changes() {
    if !lab::require_root() {
        return;
    }
    let lab = Lab::new("mon");
    lab.node("a", &["192.0.2.1/24"]);
    let index = lab.ifindex("a", IFNAME);
    let ns = lab.ns("a");
    let ip = |args: &[&str]| {
        let mut all = vec!["-n", ns.as_str()];
        all.extend_from_slice(args);
        lab::ip(&all);
    };
    lab.run_in("a", TIMEOUT, || async {
        let (_netlink, mut monitor) = Netlink::new().expect("netlink");

        ip(&["link", "set", "dev", IFNAME, "down"]);
        let event = expect_event(
            &mut monitor,
            "link down",
            |e| matches!(e, NetEvent::LinkChanged { index: i, up: false, .. } if *i == index),
        )
        .await;
        assert_eq!(
            event,
            NetEvent::LinkChanged {
                index,
                name: IFNAME.into(),
                up: false
            }
        );
        ip(&["link", "set", "dev", IFNAME, "up"]);
        expect_event(
            &mut monitor,
            "link up",
            |e| matches!(e, NetEvent::LinkChanged { index: i, up: true, .. } if *i == index),
        )
        .await;

        ip(&["addr", "add", "198.51.100.7/24", "dev", IFNAME]);
        let added = NetEvent::AddressAdded {
            index,
            addr: ip_addr("198.51.100.7"),
            prefix_len: 24,
        };
        expect_event(&mut monitor, "address added", |e| *e == added).await;
        ip(&["addr", "del", "198.51.100.7/24", "dev", IFNAME]);
        let removed = NetEvent::AddressRemoved {
            index,
            addr: ip_addr("198.51.100.7"),
            prefix_len: 24,
        };
        expect_event(&mut monitor, "address removed", |e| *e == removed).await;

        ip(&["addr", "add", "2001:db8::7/64", "dev", IFNAME, "nodad"]);
        ip(&["addr", "del", "2001:db8::7/64", "dev", IFNAME]);
        let removed = NetEvent::AddressRemoved {
            index,
            addr: ip_addr("2001:db8::7"),
            prefix_len: 64,
        };
        expect_event(&mut monitor, "IPv6 address removed", |e| *e == removed).await;
    });
}
