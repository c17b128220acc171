//! `use_vmac` on real kernels: two baton nodes make a private macvlan `vrrp.51` with the
//! virtual MAC 00:00:5e:00:01:33; the VIP lives on the master's; the client's neighbour
//! entry for the VIP is the virtual MAC and stays so across a failover; adverts leave from
//! the virtual MAC; a clean stop deletes the macvlan and puts the base's ARP settings
//! back; a macvlan left by a killed baton is kept at restart, its leftover VIP removed.
//! keepalived 2.4's address VMACs (`use_vmac_addr`, `use_vmac` on an address line): an
//! address on a second network (`veth1`, `Lab::second_link`) lives on a macvlan of its
//! own over that interface, and a client there resolves it to the virtual MAC.
//! With keepalived 2.2.7 and 2.4.3 (skipped outside CI when 2.4.3 is not built) and FRR
//! 8.4 as the other node, the client's entry is the virtual MAC whichever side is master.
//! `garp_extra_if`: the master's periodic gratuitous ARPs on its other interface (a second
//! link to the client), with and without `all` and VMAC, and against keepalived 2.4.3.

mod daemon;
mod lab;

use std::time::Duration;

use daemon::keepalived::{Peer, assert_wire_compatible, interop_lab};
use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP: &str = "192.0.2.100/24";
const VIP_ADDR: &str = "192.0.2.100";
const VMAC: &str = "vrrp.51";
const VMAC_MAC: &str = "00:00:5e:00:01:33";
/// baton's address VMAC for VRID 51 over veth1 (`vr4.VRID.BASE`, `vr6` for IPv6);
/// keepalived names it like an instance's VMAC (`vrrp.51`).
const ADDR_VMAC: &str = "vr4.51.veth1";
const ADDR_VMAC6: &str = "vr6.51.veth1";
const SERVERS: [&str; 2] = ["a", "b"];

/// `ip -d -j link show NAME` in `node`, or `None` if there is no such link.
fn link(c: &Cluster, node: &str, name: &str) -> Option<serde_json::Value> {
    let out = c
        .lab
        .exec(node, &["ip", "-d", "-j", "link", "show", "dev", name]);
    if !out.status.success() {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json.get(0).cloned()
}

/// The nodes whose VMAC holds the VIP.
fn vmac_holders(c: &Cluster, nodes: &[&str]) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| link(c, n, VMAC).is_some() && c.lab.addresses(n, VMAC).iter().any(|a| a == VIP))
        .map(|n| n.to_string())
        .collect()
}

fn expect_vmac_holders(c: &Cluster, expected: &[&str]) {
    expect_vmac_holders_of(c, &SERVERS, expected);
}

fn expect_vmac_holders_of(c: &Cluster, nodes: &[&str], expected: &[&str]) {
    let ok = poll(SETTLE, || vmac_holders(c, nodes) == expected);
    assert!(
        ok,
        "VIP on the VMAC of {:?}, expected {expected:?}\n{}",
        vmac_holders(c, nodes),
        c.all_logs()
    );
}

/// `net/ipv4/conf/IF/KEY` read from /proc (`sysctl` would take the dot in `vrrp.51` for
/// a separator).
fn conf(c: &Cluster, node: &str, interface: &str, key: &str) -> String {
    c.lab
        .exec_ok(
            node,
            &["cat", &format!("/proc/sys/net/ipv4/conf/{interface}/{key}")],
        )
        .trim()
        .to_string()
}

/// The macvlan is what keepalived makes: private mode on the base, the virtual MAC, up.
fn check_vmac_link(c: &Cluster, node: &str) {
    let l = link(c, node, VMAC).unwrap_or_else(|| panic!("no {VMAC} on {node}"));
    assert_eq!(l["address"], VMAC_MAC, "{node}: {l:#}");
    assert_eq!(l["link"], IFNAME, "{node}: {l:#}");
    assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{node}: {l:#}");
    assert_eq!(
        l["linkinfo"]["info_data"]["mode"], "private",
        "{node}: {l:#}"
    );
    let flags = l["flags"].as_array().expect("flags");
    assert!(
        flags.iter().any(|f| f == "UP"),
        "{node}: up in every state: {l:#}"
    );
    // No IPv6 (so no link-local from the virtual MAC); ARP answered only for its own
    // addresses, and the base never answers for the VIP.
    let ipv6: Vec<_> = c
        .lab
        .address_details(node, VMAC)
        .into_iter()
        .filter(|a| a.family == "inet6")
        .collect();
    assert!(ipv6.is_empty(), "{node}: {ipv6:?}");
    assert_eq!(conf(c, node, VMAC, "arp_ignore"), "1");
    assert_eq!(conf(c, node, IFNAME, "arp_ignore"), "1");
    assert_eq!(conf(c, node, IFNAME, "arp_filter"), "1");
    assert_eq!(conf(c, node, IFNAME, "arp_announce"), "2");
}

#[test]
fn the_vip_lives_on_the_masters_vmac_and_the_clients_entry_survives_a_failover() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "vmac",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    let config = |priority| {
        Instance::fast(priority, VIP)
            .with("use_vmac")
            .with("fallback automatic")
            .render()
    };
    c.start("a", &config(150));
    c.start("b", &config(100));
    expect_vmac_holders(&c, &["a"]);
    for node in SERVERS {
        check_vmac_link(&c, node);
        assert!(
            !c.lab.addresses(node, IFNAME).iter().any(|a| a == VIP),
            "{node}: the VIP is never on the base"
        );
    }
    c.wait_for_socket("a");
    let (status, _) = c.status("a");
    assert_eq!(
        status["instances"][0]["vmac"]["interface"], VMAC,
        "{status:#}"
    );
    assert_eq!(
        status["instances"][0]["vmac"]["mac"], VMAC_MAC,
        "{status:#}"
    );
    let text = c.baton("a", &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("VMAC {VMAC} ({VMAC_MAC})")),
        "{text}"
    );

    // Adverts leave from the virtual MAC.
    let dump = three_adverts(&c, "c", "ip proto 112");
    assert!(
        dump.lines().all(|l| l.contains(&format!("{VMAC_MAC} >"))),
        "adverts not from the virtual MAC:\n{dump}"
    );

    // The client learns the virtual MAC for the VIP, from a's VMAC.
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);

    // a dies: b takes over on its VMAC; the client's entry is the same MAC, and the
    // client reaches b through it without a new entry. a's VIP stays behind on its
    // VMAC (a killed daemon cleans nothing); a's link goes down as a host would.
    c.signal("a", "KILL");
    c.lab.link_down("a");
    let took = poll(SETTLE, || {
        c.lab.addresses("b", VMAC).iter().any(|a| a == VIP)
    });
    assert!(took, "{}", c.all_logs());
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
    let answered_by_b = c
        .lab
        .exec("c", &["ping", "-c", "1", "-W", "1", VIP_ADDR])
        .status
        .success();
    assert!(answered_by_b, "{}", c.all_logs());

    // a restarts: the VMAC left behind is kept (same index), its leftover VIP removed;
    // a takes the VIP back (fallback automatic), and the client's entry never changed.
    c.lab.link_up("a");
    let before = c.lab.ifindex("a", VMAC);
    c.start("a", &config(150));
    expect_vmac_holders(&c, &["a"]);
    assert_eq!(
        c.lab.ifindex("a", VMAC),
        before,
        "the leftover VMAC is kept"
    );
    assert!(c.log("a").contains("kept"), "{}", c.log("a"));
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);

    // A clean stop deletes the macvlans and puts the base's ARP settings back (the
    // lab's 0) on b; a's were 1 already when it restarted (set by its killed run), so
    // they stay 1, as keepalived's would.
    c.stop_all();
    for node in SERVERS {
        assert!(link(&c, node, VMAC).is_none(), "{node} kept {VMAC}");
    }
    assert_eq!(conf(&c, "b", IFNAME, "arp_ignore"), "0");
    assert_eq!(conf(&c, "b", IFNAME, "arp_filter"), "0");
    assert_eq!(conf(&c, "b", IFNAME, "arp_announce"), "0");
}

#[test]
fn an_interface_of_that_name_that_is_not_a_macvlan_stops_the_start() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("vmacbusy", &[("a", &["192.0.2.1/24"])]);
    let ns = c.lab.ns("a");
    lab::ip(&[
        "-n", &ns, "link", "add", VMAC, "type", "veth", "peer", "name", "other0",
    ]);
    c.start("a", &Instance::fast(150, VIP).with("use_vmac").render());
    let exited = c.daemon("a").proc.wait_timeout(Duration::from_secs(10));
    assert!(exited.is_some_and(|s| !s.success()), "{}", c.log("a"));
    assert!(c.log("a").contains("is not a macvlan"), "{}", c.log("a"));
    // Not deleted: baton never removes an interface it could not have made.
    assert_eq!(
        link(&c, "a", VMAC).expect("veth")["linkinfo"]["info_kind"],
        "veth"
    );
}

/// baton and keepalived 2.2.7, both with `use_vmac`: one master at a time, and the client's
/// entry for the VIP is the virtual MAC whichever side is master (baton first, keepalived
/// after baton is killed, baton again when it returns and preempts).
#[test]
fn with_keepalived_the_clients_entry_is_the_virtual_mac_whichever_side_is_master() {
    if !require_root() {
        return;
    }
    clients_entry_is_the_virtual_mac_with(Peer::Debian, "vmacka");
}

/// The same with keepalived 2.4.3.
#[test]
fn with_keepalived_243_the_clients_entry_is_the_virtual_mac_whichever_side_is_master() {
    if !require_root() || !Peer::Release243.available() {
        return;
    }
    clients_entry_is_the_virtual_mac_with(Peer::Release243, "vmacka43");
}

fn clients_entry_is_the_virtual_mac_with(peer: Peer, tag: &str) {
    let nodes = ["bt", "ka"];
    let mut c = interop_lab(tag);
    let config = |priority| {
        Instance::fast(priority, VIP)
            .with("use_vmac")
            .with("fallback automatic")
            .render()
    };
    // keepalived reads `fallback` as unknown: give it the same instance without it.
    let ka_config = Instance::fast(100, VIP).with("use_vmac").render();
    c.start_baton("bt", &config(150));
    expect_vmac_holders_of(&c, &nodes, &["bt"]);
    // keepalived leaves the base's arp_announce as it is: as master, its base asks for the
    // client naming the VIP with the base's own MAC (the VIP's prefix route and the
    // base's are the same, so the replies leave through the base), and the client's entry
    // moves to that MAC (seen without this line). baton sets arp_announce=2 on its base
    // itself; here the keepalived host gets it by hand, as the FRR host does.
    c.lab.exec_ok(
        "ka",
        &[
            "sh",
            "-c",
            &format!("echo 2 > /proc/sys/net/ipv4/conf/{IFNAME}/arp_announce"),
        ],
    );
    let ka = c.start_keepalived_peer("ka", &ka_config, peer);
    c.expect_stable(&nodes, VIP, &[], Duration::from_secs(2));
    expect_vmac_holders_of(&c, &nodes, &["bt"]);
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    // keepalived made its own vrrp.51 with the same MAC, private mode.
    let l = link(&c, "ka", VMAC).expect("keepalived's VMAC");
    assert_eq!(l["address"], VMAC_MAC, "{l:#}");
    assert_eq!(l["linkinfo"]["info_data"]["mode"], "private", "{l:#}");
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
    assert_wire_compatible(&c);

    // baton dies: keepalived takes over on its VMAC; the client's entry is unchanged.
    c.signal("bt", "KILL");
    c.lab.link_down("bt");
    let took = poll(SETTLE, || {
        c.lab.addresses("ka", VMAC).iter().any(|a| a == VIP)
    });
    assert!(took, "{}", c.all_logs());
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);

    // baton returns (its VMAC kept, the leftover VIP removed) and preempts.
    c.lab.link_up("bt");
    c.start_baton("bt", &config(150));
    expect_vmac_holders_of(&c, &nodes, &["bt"]);
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
    drop(ka);
}

/// `vmac_xmit_base` with unicast peers (keepalived requires it there): the VIP is on the
/// master's VMAC, the adverts leave from the base's MAC, and the client's entry is the
/// virtual MAC before and after a failover.
#[test]
fn unicast_with_vmac_xmit_base_sends_from_the_base() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "vmacxmit",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    let config = |priority, src: &str, peer: &str| {
        Instance::fast(priority, VIP)
            .with("use_vmac")
            .with("vmac_xmit_base")
            .with(format!("unicast_src_ip {src}"))
            .with(format!("unicast_peer {{\n        {peer}\n    }}"))
            .render()
    };
    c.start("a", &config(150, "192.0.2.1", "192.0.2.2"));
    c.start("b", &config(100, "192.0.2.2", "192.0.2.1"));
    expect_vmac_holders(&c, &["a"]);
    check_vmac_link(&c, "a");
    let a_mac = c.lab.mac_str("a");
    // Unicast to b: the bridge floods it to c only until it learns b's port, so capture
    // on b, which gets every advert.
    let dump = three_adverts(&c, "b", "ip proto 112");
    assert!(
        dump.lines().all(|l| l.contains(&format!("{a_mac} >"))),
        "adverts not from a's base MAC {a_mac}:\n{dump}"
    );
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
    c.signal("a", "KILL");
    c.lab.link_down("a");
    let took = poll(SETTLE, || {
        c.lab.addresses("b", VMAC).iter().any(|a| a == VIP)
    });
    assert!(took, "{}", c.all_logs());
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
}

/// A reload that adds `use_vmac` to a running instance restarts it: the VIP moves from
/// the interface to the new VMAC (here a, the preferred node, takes it back at once); a
/// reload that removes it deletes the VMAC and the VIP is on the interface again.
#[test]
fn a_reload_adds_and_removes_the_vmac() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "vmacreload",
        &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])],
    );
    let plain = |priority| {
        Instance::fast(priority, VIP)
            .with("fallback automatic")
            .render()
    };
    let vmac = |priority| {
        Instance::fast(priority, VIP)
            .with("use_vmac")
            .with("fallback automatic")
            .render()
    };
    c.start("a", &plain(150));
    c.start("b", &plain(100));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    c.rewrite("a", &vmac(150));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expect_vmac_holders(&c, &["a"]);
    c.expect_holders(&SERVERS, VIP, &[]);
    check_vmac_link(&c, "a");
    c.rewrite("a", &plain(150));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let gone = poll(SETTLE, || link(&c, "a", VMAC).is_none());
    assert!(gone, "{}", c.all_logs());
    assert_eq!(conf(&c, "a", IFNAME, "arp_ignore"), "0");
}

/// baton with `use_vmac` and FRR 8.4's vrrpd (which always works this way: a macvlan per
/// VRID with the virtual MAC carrying the VIP): one master at a time, and the client's entry
/// is the virtual MAC with either side master (baton first, FRR after baton is killed).
#[test]
fn with_frr_the_clients_entry_is_the_virtual_mac_whichever_side_is_master() {
    if !require_root() || !daemon::frr::available() {
        return;
    }
    let mut c = Cluster::new(
        "vmacfrr",
        &[
            ("bt", &["192.0.2.1/24"]),
            ("frr", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    let router = daemon::frr::Router {
        vrid: 51,
        version: 3,
        priority: 100,
        advert_ms: 100,
        vip: VIP,
    };
    c.start_baton("bt", &Instance::fast(150, VIP).with("use_vmac").render());
    expect_vmac_holders_of(&c, &["bt"], &["bt"]);
    let logs = c.dir.path().to_path_buf();
    let frr = daemon::frr::Frr::start(&c.lab, &logs, "frr", router);
    // FRR stays backup (its macvlan protodown) while baton is master.
    let backup = poll(SETTLE, || !frr.holds(&c.lab));
    assert!(backup, "{}\n{}", c.all_logs(), frr.logs());
    let stayed = !poll(Duration::from_secs(2), || frr.holds(&c.lab));
    assert!(
        stayed,
        "FRR took the VIP from baton\n{}\n{}",
        c.all_logs(),
        frr.logs()
    );
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);

    c.signal("bt", "KILL");
    c.lab.link_down("bt");
    let took = poll(SETTLE, || frr.holds(&c.lab));
    assert!(took, "{}\n{}", c.all_logs(), frr.logs());
    assert_eq!(c.client_reaches("c", VIP_ADDR), VMAC_MAC);
    drop(frr);
}

/// The master's VMAC deleted by hand: the master goes to FAULT (saying why), the backup
/// takes the VIP on its own VMAC.
#[test]
fn a_vmac_deleted_by_hand_is_a_fault() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "vmacdel",
        &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])],
    );
    c.start("a", &Instance::fast(150, VIP).with("use_vmac").render());
    c.start("b", &Instance::fast(100, VIP).with("use_vmac").render());
    expect_vmac_holders(&c, &["a"]);
    c.wait_for_socket("a");
    lab::ip(&["-n", &c.lab.ns("a"), "link", "del", VMAC]);
    expect_vmac_holders(&c, &["b"]);
    let mut last = serde_json::Value::Null;
    let fault = poll(SETTLE, || {
        last = c.status("a").0;
        last["instances"][0]["state"] == "FAULT"
    });
    assert!(fault, "{last:#}\n{}", c.all_logs());
    let faults = last["instances"][0]["faults"].to_string();
    assert!(faults.contains("VMAC vrrp.51 was deleted"), "{last:#}");
}

/// IPv6 (VRRPv3): the VMAC is 00:00:5e:00:02:VRID with the base's link-local address (the
/// adverts' source) and no address of its own making; the VIP is on the master's VMAC;
/// adverts leave from the IPv6 virtual MAC; the client's neighbour entry for the VIP is
/// that MAC and stays so across a kill of the master.
#[test]
fn ipv6_the_clients_entry_is_the_ipv6_virtual_mac_across_a_failover() {
    if !require_root() {
        return;
    }
    const VIP6: &str = "2001:db8::100/64";
    const VIP6_ADDR: &str = "2001:db8::100";
    const MAC6: &str = "00:00:5e:00:02:33";
    let mut c = Cluster::new(
        "vmac6",
        &[
            ("a", &["2001:db8::1/64"]),
            ("b", &["2001:db8::2/64"]),
            ("c", &["2001:db8::3/64"]),
        ],
    );
    let holders = |c: &Cluster| -> Vec<String> {
        SERVERS
            .iter()
            .filter(|n| {
                link(c, n, VMAC).is_some() && c.lab.addresses(n, VMAC).iter().any(|a| a == VIP6)
            })
            .map(|n| n.to_string())
            .collect()
    };
    c.start("a", &Instance::fast(150, VIP6).with("use_vmac").render());
    c.start("b", &Instance::fast(100, VIP6).with("use_vmac").render());
    let ok = poll(SETTLE, || holders(&c) == ["a"]);
    assert!(ok, "{:?}\n{}", holders(&c), c.all_logs());
    for node in SERVERS {
        let l = link(&c, node, VMAC).expect("VMAC");
        assert_eq!(l["address"], MAC6, "{node}: {l:#}");
        assert_eq!(
            l["linkinfo"]["info_data"]["mode"], "private",
            "{node}: {l:#}"
        );
        // Only the base's link-local (and the master's VIP): none made from the virtual MAC.
        let base_ll: Vec<String> = c
            .lab
            .address_details(node, IFNAME)
            .into_iter()
            .filter(|a| a.scope == "link")
            .map(|a| a.local)
            .collect();
        for a in c.lab.address_details(node, VMAC) {
            assert!(
                base_ll.contains(&a.local) || a.local == VIP6_ADDR,
                "{node}: {a:?} on the VMAC (base link-local {base_ll:?})"
            );
        }
        assert!(!c.lab.addresses(node, IFNAME).iter().any(|a| a == VIP6));
    }
    let dump = three_adverts(&c, "c", "ip6 proto 112");
    assert!(
        dump.lines().all(|l| l.contains(&format!("{MAC6} >"))),
        "adverts not from the IPv6 virtual MAC:\n{dump}"
    );
    assert_eq!(c.client_reaches("c", VIP6_ADDR), MAC6);
    c.signal("a", "KILL");
    c.lab.link_down("a");
    let took = poll(SETTLE, || {
        c.lab.addresses("b", VMAC).iter().any(|a| a == VIP6)
    });
    assert!(took, "{}", c.all_logs());
    assert_eq!(c.client_reaches("c", VIP6_ADDR), MAC6);
    c.stop_all();
    assert!(link(&c, "b", VMAC).is_none());
}

/// IPv6 with keepalived 2.2.7, both with `use_vmac`: baton master, then keepalived after
/// baton is killed; the client's entry is 00:00:5e:00:02:33 throughout.
#[test]
fn ipv6_with_keepalived_the_clients_entry_is_the_virtual_mac() {
    if !require_root() {
        return;
    }
    ipv6_clients_entry_is_the_virtual_mac_with(Peer::Debian, "vmacka6");
}

/// The same with keepalived 2.4.3.
#[test]
fn ipv6_with_keepalived_243_the_clients_entry_is_the_virtual_mac() {
    if !require_root() || !Peer::Release243.available() {
        return;
    }
    ipv6_clients_entry_is_the_virtual_mac_with(Peer::Release243, "vmac6k43");
}

fn ipv6_clients_entry_is_the_virtual_mac_with(peer: Peer, tag: &str) {
    const VIP6: &str = "2001:db8::100/64";
    const VIP6_ADDR: &str = "2001:db8::100";
    const MAC6: &str = "00:00:5e:00:02:33";
    let mut c = interop_lab(tag);
    c.start_baton("bt", &Instance::fast(150, VIP6).with("use_vmac").render());
    let on_vmac = |c: &Cluster, n: &str| {
        link(c, n, VMAC).is_some() && c.lab.addresses(n, VMAC).iter().any(|a| a == VIP6)
    };
    assert!(poll(SETTLE, || on_vmac(&c, "bt")), "{}", c.all_logs());
    let ka = c.start_keepalived_peer(
        "ka",
        &Instance::fast(100, VIP6).with("use_vmac").render(),
        peer,
    );
    let stayed = !poll(Duration::from_secs(2), || on_vmac(&c, "ka"));
    assert!(stayed, "keepalived took the VIP\n{}", c.all_logs());
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    let l = link(&c, "ka", VMAC).expect("keepalived's VMAC");
    assert_eq!(l["address"], MAC6, "{l:#}");
    assert_eq!(c.client_reaches("c", VIP6_ADDR), MAC6);
    assert_wire_compatible(&c);
    c.signal("bt", "KILL");
    c.lab.link_down("bt");
    assert!(poll(SETTLE, || on_vmac(&c, "ka")), "{}", c.all_logs());
    assert_eq!(c.client_reaches("c", VIP6_ADDR), MAC6);
    drop(ka);
}

/// The second network's address (`veth1`, `br1`) and the client there.
const VIP2: &str = "198.51.100.100/24";
const VIP2_ADDR: &str = "198.51.100.100";

/// a and b with an instance on veth0 and a second link veth1; c, the client, on the second
/// network only (its veth0 has no address).
fn two_network_cluster(tag: &str) -> Cluster {
    let c = Cluster::new(
        tag,
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &[]),
        ],
    );
    c.lab.second_link("a", &["198.51.100.1/24"]);
    c.lab.second_link("b", &["198.51.100.2/24"]);
    c.lab.second_link("c", &["198.51.100.3/24"]);
    c
}

/// The nodes whose macvlan `name` holds `vip`.
fn holders_on(c: &Cluster, name: &str, vip: &str) -> Vec<String> {
    SERVERS
        .iter()
        .filter(|n| link(c, n, name).is_some() && c.lab.addresses(n, name).iter().any(|a| a == vip))
        .map(|n| n.to_string())
        .collect()
}

fn expect_holders_on(c: &Cluster, name: &str, vip: &str, expected: &[&str]) {
    let ok = poll(SETTLE, || holders_on(c, name, vip) == expected);
    assert!(
        ok,
        "{vip} on {name} of {:?}, expected {expected:?}\n{}",
        holders_on(c, name, vip),
        c.all_logs()
    );
}

/// An address VMAC as keepalived 2.4 makes it: a private macvlan on veth1 with the IPv4
/// virtual MAC, up in every state, no IPv6, and veth1's ARP settings those of a VMAC base.
fn check_address_vmac(c: &Cluster, node: &str, name: &str) {
    let l = link(c, node, name).unwrap_or_else(|| panic!("no {name} on {node}"));
    assert_eq!(l["address"], VMAC_MAC, "{node}: {l:#}");
    assert_eq!(l["link"], lab::IFNAME2, "{node}: {l:#}");
    assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{node}: {l:#}");
    assert_eq!(
        l["linkinfo"]["info_data"]["mode"], "private",
        "{node}: {l:#}"
    );
    let flags = l["flags"].as_array().expect("flags");
    assert!(flags.iter().any(|f| f == "UP"), "{node}: {l:#}");
    let ipv6 = c
        .lab
        .address_details(node, name)
        .into_iter()
        .any(|a| a.family == "inet6");
    assert!(!ipv6, "{node}: IPv6 on {name}");
    assert_eq!(conf(c, node, name, "arp_ignore"), "1");
    assert_eq!(conf(c, node, lab::IFNAME2, "arp_ignore"), "1");
    assert_eq!(conf(c, node, lab::IFNAME2, "arp_announce"), "2");
}

/// keepalived 2.4's `use_vmac` on an address line with `dev`: the instance (on veth0, no
/// VMAC of its own) puts that VIP on a macvlan `vr4.51.veth1` over veth1 with the virtual MAC;
/// a client on veth1's network resolves the VIP to 00:00:5e:00:01:33 and still does after
/// the master is killed and b takes over; a clean stop deletes the macvlan.
#[test]
fn use_vmac_on_an_address_line_puts_it_on_a_vmac_over_its_interface() {
    if !require_root() {
        return;
    }
    let mut c = two_network_cluster("vmacaddr");
    let config = |priority| {
        let mut i = Instance::fast(priority, VIP).with("fallback automatic");
        i.vips.push("198.51.100.100/24 dev veth1 use_vmac");
        i.render()
    };
    c.start("a", &config(150));
    c.start("b", &config(100));
    expect_holders_on(&c, ADDR_VMAC, VIP2, &["a"]);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    for node in SERVERS {
        check_address_vmac(&c, node, ADDR_VMAC);
        assert!(
            !c.lab
                .addresses(node, lab::IFNAME2)
                .iter()
                .any(|a| a == VIP2),
            "{node}: the VIP is never on veth1 itself"
        );
    }
    assert_eq!(c.client_reaches("c", VIP2_ADDR), VMAC_MAC);

    // a dies (both links down, as a dead host's): b takes the VIP on its macvlan, and the
    // client's entry is the same virtual MAC, through which it reaches b.
    // (a killed daemon cleans nothing: a's address stays on its macvlan, unreachable.)
    kill_a_until_b_holds(&c, ADDR_VMAC, VIP2);
    assert_eq!(c.client_reaches("c", VIP2_ADDR), VMAC_MAC);
    c.expect_client_mac("c", VIP2_ADDR, VMAC_MAC);

    c.stop_all();
    assert!(link(&c, "b", ADDR_VMAC).is_none(), "b kept {ADDR_VMAC}");
    assert_eq!(conf(&c, "b", lab::IFNAME2, "arp_ignore"), "0");
}

/// `use_vmac_addr` with the instance's own VMAC (`vrrp.51` on veth0): the excluded address
/// on veth1 lives on `vrrp1.51` over veth1 (keepalived's second name) with the virtual
/// MAC, and the client there resolves it to that MAC. A reload without `use_vmac_addr`
/// restarts the instance: the macvlan goes and the address is on veth1 itself.
#[test]
fn use_vmac_addr_puts_an_excluded_address_on_a_vmac_of_its_own() {
    if !require_root() {
        return;
    }
    const VMAC2: &str = ADDR_VMAC;
    let mut c = two_network_cluster("vmacaddr2");
    let excluded = "virtual_ipaddress_excluded {\n        198.51.100.100/24 dev veth1\n    }";
    let config = |priority, addr: bool| {
        let mut i = Instance::fast(priority, VIP)
            .with("use_vmac")
            .with("fallback automatic")
            .with(excluded);
        if addr {
            i = i.with("use_vmac_addr");
        }
        i.render()
    };
    c.start("a", &config(150, true));
    c.start("b", &config(100, true));
    expect_vmac_holders(&c, &["a"]);
    expect_holders_on(&c, VMAC2, VIP2, &["a"]);
    for node in SERVERS {
        check_vmac_link(&c, node);
        check_address_vmac(&c, node, VMAC2);
    }
    assert_eq!(c.client_reaches("c", VIP2_ADDR), VMAC_MAC);

    c.wait_for_socket("a");
    // Status names the address's macvlan beside the instance's own.
    let (status, _) = c.status("a");
    let vmacs = &status["instances"][0]["address_vmacs"];
    assert_eq!(vmacs[0]["interface"], VMAC2, "{status}");
    assert_eq!(vmacs[0]["base"], lab::IFNAME2, "{status}");
    assert_eq!(vmacs[0]["mac"], VMAC_MAC, "{status}");
    c.rewrite("a", &config(150, false));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gone = poll(SETTLE, || link(&c, "a", VMAC2).is_none());
    assert!(gone, "{}", c.all_logs());
    let on_base = poll(SETTLE, || {
        c.lab.addresses("a", lab::IFNAME2).iter().any(|a| a == VIP2)
    });
    assert!(on_base, "{}", c.all_logs());
    expect_vmac_holders(&c, &["a"]);
    let (status, _) = c.status("a");
    assert!(
        status["instances"][0].get("address_vmacs").is_none(),
        "{status}"
    );

    c.stop_all();
    for node in SERVERS {
        assert!(link(&c, node, VMAC).is_none(), "{node} kept {VMAC}");
        assert!(link(&c, node, VMAC2).is_none(), "{node} kept {VMAC2}");
    }
}

/// `use_vmac_addr` for an IPv6 excluded address on the second network of an IPv4 instance
/// without a VMAC of its own: the macvlan `vr6.51.veth1` over veth1 has the IPv6 virtual MAC
/// 00:00:5e:00:02:33, and a client there resolves the address to it before and after a
/// failover.
#[test]
fn use_vmac_addr_gives_an_ipv6_excluded_address_the_ipv6_virtual_mac() {
    if !require_root() {
        return;
    }
    const EVIP6: &str = "2001:db8:1::100/64";
    const EVIP6_ADDR: &str = "2001:db8:1::100";
    const MAC6: &str = "00:00:5e:00:02:33";
    let mut c = Cluster::new(
        "vmacaddr6",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &[]),
        ],
    );
    c.lab.second_link("a", &["2001:db8:1::1/64"]);
    c.lab.second_link("b", &["2001:db8:1::2/64"]);
    c.lab.second_link("c", &["2001:db8:1::3/64"]);
    let config = |priority| {
        Instance::fast(priority, VIP)
            .with("use_vmac_addr")
            .with("fallback automatic")
            .with("virtual_ipaddress_excluded {\n        2001:db8:1::100/64 dev veth1\n    }")
            .render()
    };
    c.start("a", &config(150));
    c.start("b", &config(100));
    expect_holders_on(&c, ADDR_VMAC6, EVIP6, &["a"]);
    for node in SERVERS {
        let l = link(&c, node, ADDR_VMAC6).unwrap_or_else(|| panic!("no {ADDR_VMAC6} on {node}"));
        assert_eq!(l["address"], MAC6, "{node}: {l:#}");
        assert_eq!(l["link"], lab::IFNAME2, "{node}: {l:#}");
        assert_eq!(
            l["linkinfo"]["info_data"]["mode"], "private",
            "{node}: {l:#}"
        );
        // No address of its own making from the virtual MAC (only the master's eVIP).
        for a in c.lab.address_details(node, ADDR_VMAC6) {
            assert_eq!(a.local, EVIP6_ADDR, "{node}: {a:?}");
        }
    }
    assert_eq!(c.client_reaches("c", EVIP6_ADDR), MAC6);
    kill_a_until_b_holds(&c, ADDR_VMAC6, EVIP6);
    assert_eq!(c.client_reaches("c", EVIP6_ADDR), MAC6);
    c.stop_all();
    assert!(link(&c, "b", ADDR_VMAC6).is_none(), "b kept {ADDR_VMAC6}");
}

/// An address VMAC deleted by hand on the master: a FAULT like the instance's own VMAC
/// (keepalived tracks it as an interface of the instance), and b takes the address on its
/// macvlan.
#[test]
fn an_address_vmac_deleted_by_hand_is_a_fault() {
    if !require_root() {
        return;
    }
    let mut c = two_network_cluster("vmacaddrdel");
    let config = |priority| {
        let mut i = Instance::fast(priority, VIP);
        i.vips.push("198.51.100.100/24 dev veth1 use_vmac");
        i.render()
    };
    c.start("a", &config(150));
    c.start("b", &config(100));
    expect_holders_on(&c, ADDR_VMAC, VIP2, &["a"]);
    c.wait_for_socket("a");
    lab::ip(&["-n", &c.lab.ns("a"), "link", "del", ADDR_VMAC]);
    expect_holders_on(&c, ADDR_VMAC, VIP2, &["b"]);
    let mut last = serde_json::Value::Null;
    let fault = poll(SETTLE, || {
        last = c.status("a").0;
        last["instances"][0]["state"] == "FAULT"
    });
    assert!(fault, "{last:#}\n{}", c.all_logs());
    let faults = last["instances"][0]["faults"].to_string();
    assert!(faults.contains("VMAC vr4.51.veth1 was deleted"), "{last:#}");
}

// `garp_extra_if`: periodic gratuitous ARPs on the instance's other interfaces.

/// The address on the other interface (`dev ext0`) and its own line.
const EXT_VIP: &str = "198.51.100.100/24 dev ext0";
const EXT_VIP_ADDR: &str = "198.51.100.100";

/// A second link from each of `servers` to the client `c`: `ext0` on the server, `xNAME`
/// on the client, both up (deleted with the namespaces).
fn extra_links(c: &Cluster, servers: &[&str]) {
    let client = c.lab.ns("c");
    for server in servers {
        let ns = c.lab.ns(server);
        let peer = format!("x{server}");
        lab::ip(&[
            "-n", &ns, "link", "add", "ext0", "type", "veth", "peer", "name", &peer, "netns",
            &client,
        ]);
        lab::ip(&["-n", &ns, "link", "set", "ext0", "up"]);
        lab::ip(&["-n", &client, "link", "set", &peer, "up"]);
    }
}

fn mac_of(c: &Cluster, node: &str, interface: &str) -> String {
    let l = link(c, node, interface).unwrap_or_else(|| panic!("no {interface} on {node}"));
    l["address"].as_str().expect("address").to_string()
}

/// a dies as a dead host does (killed, both links down) and b takes `address` on its
/// macvlan `vmac`.
fn kill_a_until_b_holds(c: &Cluster, vmac: &str, address: &str) {
    c.signal("a", "KILL");
    c.lab.link_down("a");
    c.lab
        .exec_ok("a", &["ip", "link", "set", "dev", lab::IFNAME2, "down"]);
    let took = poll(SETTLE, || {
        holders_on(c, vmac, address).contains(&"b".to_string())
    });
    assert!(took, "{}", c.all_logs());
}

/// Three VRRP adverts as node `node` sees them on its interface (`tcpdump -e`, one line
/// each, with the source MAC), captured with the tcpdump `filter`; fails with what it saw
/// when fewer than three come within 5 s.
fn three_adverts(c: &Cluster, node: &str, filter: &str) -> String {
    let dump = c.lab.exec(
        node,
        &[
            "timeout", "5", "tcpdump", "-e", "-n", "-c", "3", "-i", IFNAME, filter,
        ],
    );
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    let adverts: Vec<&str> = dump.lines().filter(|l| l.contains("VRRP")).collect();
    assert!(adverts.len() >= 3, "{dump}");
    adverts.join("\n")
}

/// The ARP frames the client `c` sees on each of `interfaces` during `span` (tcpdump -e
/// lines, one list per interface).
fn arp_seen(c: &Cluster, interfaces: &[&str], span: Duration) -> Vec<Vec<String>> {
    frames_seen(c, "arp", interfaces, span)
}

/// The frames matching the tcpdump `filter` that the client `c` sees on each of
/// `interfaces` during `span`.
fn frames_seen(c: &Cluster, filter: &str, interfaces: &[&str], span: Duration) -> Vec<Vec<String>> {
    let mut running = Vec::new();
    for (i, interface) in interfaces.iter().enumerate() {
        let n = c.dir.path().join("arp-count");
        let stem = format!("{}-{interface}-{i}", n.display());
        let (out, log) = (format!("{stem}.txt"), format!("{stem}.log"));
        let _ = std::fs::remove_file(&out);
        let proc = c.lab.spawn(
            "c",
            &[
                "sh",
                "-c",
                &format!("exec tcpdump -l -n -e -i {interface} '{filter}' > {out} 2> {log}"),
            ],
        );
        let started = poll(SETTLE, || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening on"))
        });
        assert!(
            started,
            "tcpdump on {interface}: {:?}",
            std::fs::read_to_string(&log)
        );
        running.push((proc, out));
    }
    std::thread::sleep(span);
    running
        .into_iter()
        .map(|(proc, out)| {
            proc.terminate();
            let _ = proc.wait_timeout(Duration::from_secs(10));
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Gratuitous ARPs for `addr` from `mac` among `lines` (`who-has ADDR tell ADDR`).
fn garps(lines: &[String], mac: &str, addr: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!("{mac} >")) && l.matches(addr).count() == 2)
        .count()
}

/// `garp_extra_if all 1`: the master sends a gratuitous ARP each second on `ext0` (the
/// interface of its second VIP), from ext0's MAC, and none on its own interface (its adverts
/// keep the switches' caches there); the backup sends none. A reload to 0 stops them in
/// place; after a failover the new master sends them on its own `ext0`.
#[test]
fn garp_extra_if_all_announces_the_other_interface_while_master() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "garpx",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    extra_links(&c, &SERVERS);
    let config = |priority, extra: &str| {
        let mut i = Instance::fast(priority, VIP)
            .with("garp_master_delay 0")
            .with(format!("garp_extra_if {extra}"));
        i.vips.push(EXT_VIP);
        i.render()
    };
    c.start("a", &config(150, "all 1"));
    c.start("b", &config(100, "all 1"));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let on_ext = |c: &Cluster, n: &str| {
        c.lab
            .addresses(n, "ext0")
            .iter()
            .any(|a| a == "198.51.100.100/24")
    };
    assert!(poll(SETTLE, || on_ext(&c, "a")), "{}", c.all_logs());
    let (a_ext, b_ext, a_base) = (
        mac_of(&c, "a", "ext0"),
        mac_of(&c, "b", "ext0"),
        c.lab.mac_str("a"),
    );
    // Past the bursts of becoming master (now and 1.1 s later).
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &["xa", "xb", IFNAME], Duration::from_secs(4));
    let periodic = garps(&seen[0], &a_ext, EXT_VIP_ADDR);
    eprintln!("garp_extra_if all 1: {periodic} gratuitous ARPs from a on ext0 in 4 s");
    assert!(
        (2..=6).contains(&periodic),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
    assert_eq!(
        garps(&seen[1], &b_ext, EXT_VIP_ADDR),
        0,
        "the backup: {:#?}",
        seen[1]
    );
    assert_eq!(
        garps(&seen[2], &a_base, VIP_ADDR),
        0,
        "own interface: {:#?}",
        seen[2]
    );

    // A reload to 0 stops them (the reload's own burst is over after 2 s).
    c.wait_for_socket("a");
    c.rewrite("a", &config(150, "0"));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &["xa"], Duration::from_secs(3));
    assert_eq!(garps(&seen[0], &a_ext, EXT_VIP_ADDR), 0, "{:#?}", seen[0]);
    assert!(c.log("a").contains("updated in place"), "{}", c.log("a"));
    assert_eq!(c.holders(&SERVERS, VIP), ["a"]);

    // a stops: b, master now, sends them on its ext0.
    c.signal("a", "TERM");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &["xb"], Duration::from_secs(4));
    let periodic = garps(&seen[0], &b_ext, EXT_VIP_ADDR);
    assert!(
        (2..=6).contains(&periodic),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
}

/// `use_vmac` with `vmac_xmit_base` and a second VIP on `ext0`: `garp_extra_if 1` without
/// `all` sends nothing (keepalived sends on VMACs other than the instance's only, and
/// baton makes none); `all` sends on ext0 and, since the adverts leave from the base's
/// MAC, on the VMAC too, from the virtual MAC.
#[test]
fn garp_extra_if_with_vmac_xmit_base_announces_the_virtual_mac_only_with_all() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "garpxv",
        &[("a", &["192.0.2.1/24"]), ("c", &["192.0.2.3/24"])],
    );
    extra_links(&c, &["a"]);
    let config = |extra: &str| {
        let mut i = Instance::fast(150, VIP)
            .with("use_vmac")
            .with("vmac_xmit_base")
            .with("garp_master_delay 0")
            .with(format!("garp_extra_if {extra}"));
        i.vips.push(EXT_VIP);
        i.render()
    };
    c.start("a", &config("1"));
    expect_vmac_holders_of(&c, &["a"], &["a"]);
    let a_ext = mac_of(&c, "a", "ext0");
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[IFNAME, "xa"], Duration::from_secs(3));
    assert_eq!(garps(&seen[0], VMAC_MAC, VIP_ADDR), 0, "{:#?}", seen[0]);
    assert_eq!(garps(&seen[1], &a_ext, EXT_VIP_ADDR), 0, "{:#?}", seen[1]);

    c.wait_for_socket("a");
    c.rewrite("a", &config("all 1"));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[IFNAME, "xa"], Duration::from_secs(4));
    let on_vmac = garps(&seen[0], VMAC_MAC, VIP_ADDR);
    let on_ext = garps(&seen[1], &a_ext, EXT_VIP_ADDR);
    eprintln!("garp_extra_if all 1: {on_vmac} on the VMAC, {on_ext} on ext0 in 4 s");
    assert!(
        (2..=6).contains(&on_vmac),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
    assert!(
        (2..=6).contains(&on_ext),
        "{:#?}\n{}",
        seen[1],
        c.all_logs()
    );
}

/// baton and keepalived 2.4.3 with the same `garp_extra_if all 1` and a second VIP on
/// `ext0`: whichever is master sends the periodic gratuitous ARPs on its ext0 and none on
/// its own interface; the backup sends none.
#[test]
fn garp_extra_if_with_keepalived_243_the_master_announces_either_side() {
    if !require_root() || !Peer::Release243.available() {
        return;
    }
    let nodes = ["bt", "ka"];
    let mut c = interop_lab("garpxka");
    extra_links(&c, &nodes);
    let config = |priority| {
        let mut i = Instance::fast(priority, VIP)
            .with("garp_master_delay 0")
            .with("garp_extra_if all 1");
        i.vips.push(EXT_VIP);
        i.render()
    };
    c.start_baton("bt", &config(150));
    c.expect_holders(&["bt"], VIP, &["bt"]);
    let ka = c.start_keepalived_peer("ka", &config(100), Peer::Release243);
    c.expect_stable(&nodes, VIP, &["bt"], Duration::from_secs(2));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.log("ka"));
    let (bt_ext, ka_ext) = (mac_of(&c, "bt", "ext0"), mac_of(&c, "ka", "ext0"));
    let ka_base = c.lab.mac_str("ka");
    let seen = arp_seen(&c, &["xbt", "xka"], Duration::from_secs(4));
    let from_baton = garps(&seen[0], &bt_ext, EXT_VIP_ADDR);
    assert!(
        (2..=6).contains(&from_baton),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
    assert_eq!(garps(&seen[1], &ka_ext, EXT_VIP_ADDR), 0, "{:#?}", seen[1]);
    assert_wire_compatible(&c);

    c.signal("bt", "KILL");
    c.lab.link_down("bt");
    assert!(
        poll(SETTLE, || c
            .lab
            .addresses("ka", IFNAME)
            .iter()
            .any(|a| a == VIP)),
        "{}",
        c.all_logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &["xka", IFNAME], Duration::from_secs(4));
    let from_keepalived = garps(&seen[0], &ka_ext, EXT_VIP_ADDR);
    eprintln!("keepalived 2.4.3 master: {from_keepalived} on ext0 in 4 s (baton: {from_baton})");
    assert!(
        (2..=6).contains(&from_keepalived),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
    assert_eq!(garps(&seen[1], &ka_base, VIP_ADDR), 0, "{:#?}", seen[1]);
    drop(ka);
}

/// One node `n` (baton, or keepalived 2.4.3 with `peer`) alone with `use_vmac` (and
/// `vmac_xmit_base` if asked), a second VIP on `ext0` and `garp_extra_if EXTRA`: the
/// gratuitous ARPs the client sees in 4 s once the node is master, (from the virtual MAC
/// on the VMAC, from ext0's MAC on ext0).
fn vmac_extra_garps(peer: Option<Peer>, xmit_base: bool, extra: &str) -> (usize, usize) {
    let mut c = Cluster::new(
        "garpxvm",
        &[("n", &["192.0.2.2/24"]), ("c", &["192.0.2.3/24"])],
    );
    extra_links(&c, &["n"]);
    let mut i = Instance::fast(150, VIP)
        .with("use_vmac")
        .with("garp_master_delay 0")
        .with(format!("garp_extra_if {extra}"));
    if xmit_base {
        i = i.with("vmac_xmit_base");
    }
    i.vips.push(EXT_VIP);
    let ka = match peer {
        Some(peer) => Some(c.start_keepalived_peer("n", &i.render(), peer)),
        None => {
            c.start_baton("n", &i.render());
            None
        }
    };
    expect_vmac_holders_of(&c, &["n"], &["n"]);
    let ext = mac_of(&c, "n", "ext0");
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[IFNAME, "xn"], Duration::from_secs(4));
    let counts = (
        garps(&seen[0], VMAC_MAC, VIP_ADDR),
        garps(&seen[1], &ext, EXT_VIP_ADDR),
    );
    drop(ka);
    counts
}

/// baton and keepalived 2.4.3, each alone with `use_vmac`, a second VIP on ext0 and the
/// same `garp_extra_if`, send the same periodic messages: with `vmac_xmit_base`, none
/// without `all` and with it on the VMAC and ext0; without `vmac_xmit_base` and with
/// `all`, on ext0 only (the adverts keep the virtual MAC in the switches' caches).
#[test]
fn garp_extra_if_with_vmac_baton_and_keepalived_243_send_the_same() {
    if !require_root() || !Peer::Release243.available() {
        return;
    }
    for (xmit_base, extra, on_vmac, on_ext) in [
        (true, "1", false, false),
        (true, "all 1", true, true),
        (false, "all 1", false, true),
    ] {
        for peer in [None, Some(Peer::Release243)] {
            let who = if peer.is_some() {
                "keepalived 2.4.3"
            } else {
                "baton"
            };
            let (vmac, ext) = vmac_extra_garps(peer, xmit_base, extra);
            eprintln!(
                "{who}, vmac_xmit_base {xmit_base}, garp_extra_if {extra}: {vmac} on the VMAC, \
                 {ext} on ext0 in 4 s"
            );
            let expected = |some: bool, n: usize| if some { (2..=6).contains(&n) } else { n == 0 };
            assert!(
                expected(on_vmac, vmac) && expected(on_ext, ext),
                "{who}, vmac_xmit_base {xmit_base}, garp_extra_if {extra}: {vmac} on the VMAC, \
                 {ext} on ext0"
            );
        }
    }
}

/// IPv6: `garp_extra_if all 1` sends an unsolicited neighbour advertisement each second
/// for the VIP on ext0, from ext0's MAC, and none on the instance's own interface.
#[test]
fn ipv6_garp_extra_if_all_sends_unsolicited_nas_on_the_other_interface() {
    if !require_root() {
        return;
    }
    const VIP6: &str = "2001:db8::100/64";
    const EXT_VIP6_ADDR: &str = "2001:db8:1::100";
    let mut c = Cluster::new(
        "garpx6",
        &[("a", &["2001:db8::1/64"]), ("c", &["2001:db8::3/64"])],
    );
    extra_links(&c, &["a"]);
    let mut i = Instance::fast(150, VIP6)
        .with("garp_master_delay 0")
        .with("garp_extra_if all 1");
    i.vips.push("2001:db8:1::100/64 dev ext0");
    c.start("a", &i.render());
    c.expect_holders(&["a"], VIP6, &["a"]);
    let (ext, base) = (mac_of(&c, "a", "ext0"), c.lab.mac_str("a"));
    std::thread::sleep(Duration::from_secs(2));
    let filter = "icmp6 and ip6[40] == 136";
    let seen = frames_seen(&c, filter, &["xa", IFNAME], Duration::from_secs(4));
    let nas = |lines: &[String], mac: &str, addr: &str| {
        lines
            .iter()
            .filter(|l| {
                l.contains(&format!("{mac} >"))
                    && l.contains("neighbor advertisement")
                    && l.contains(&format!("tgt is {addr}"))
            })
            .count()
    };
    let on_ext = nas(&seen[0], &ext, EXT_VIP6_ADDR);
    eprintln!("IPv6 garp_extra_if all 1: {on_ext} unsolicited NAs on ext0 in 4 s");
    assert!(
        (2..=6).contains(&on_ext),
        "{:#?}\n{}",
        seen[0],
        c.all_logs()
    );
    assert_eq!(nas(&seen[1], &base, "2001:db8::100"), 0, "{:#?}", seen[1]);
}

/// One node `a` (baton, or keepalived 2.4.3 with `peer`) with its instance on veth0 and
/// `198.51.100.100/24 dev veth1 use_vmac` (an address VMAC over veth1) and
/// `garp_extra_if EXTRA`: the gratuitous ARPs the client sees in 4 s once `a` is master,
/// (on veth1's network from the virtual MAC, on veth0's from a's MAC).
fn address_vmac_extra_garps(peer: Option<Peer>, extra: &str) -> (usize, usize) {
    let mut c = Cluster::new(
        "garpxav",
        &[("a", &["192.0.2.1/24"]), ("c", &["192.0.2.3/24"])],
    );
    c.lab.second_link("a", &["198.51.100.1/24"]);
    c.lab.second_link("c", &["198.51.100.3/24"]);
    let mut i = Instance::fast(150, VIP)
        .with("garp_master_delay 0")
        .with(format!("garp_extra_if {extra}"));
    i.vips.push("198.51.100.100/24 dev veth1 use_vmac");
    let ka = match peer {
        Some(peer) => Some(c.start_keepalived_peer("a", &i.render(), peer)),
        None => {
            c.start_baton("a", &i.render());
            None
        }
    };
    let name = if peer.is_some() { VMAC } else { ADDR_VMAC };
    let held = poll(SETTLE, || {
        link(&c, "a", name).is_some() && c.lab.addresses("a", name).iter().any(|a| a == VIP2)
    });
    assert!(held, "{}", c.all_logs());
    let base = c.lab.mac_str("a");
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[lab::IFNAME2, IFNAME], Duration::from_secs(4));
    let counts = (
        garps(&seen[0], VMAC_MAC, VIP2_ADDR),
        garps(&seen[1], &base, VIP_ADDR),
    );
    drop(ka);
    counts
}

/// keepalived's main case: `garp_extra_if 1` without `all` and an address VMAC (`use_vmac`
/// on an address line): the master sends a gratuitous ARP each second for that address
/// from the virtual MAC on veth1's network, none on its own interface; none with 0. baton
/// and keepalived 2.4.3 alike.
#[test]
fn garp_extra_if_announces_an_address_vmac_without_all() {
    if !require_root() {
        return;
    }
    let mut runs = vec![(None, "1"), (None, "0")];
    if Peer::Release243.available() {
        runs.push((Some(Peer::Release243), "1"));
    }
    for (peer, extra) in runs {
        let who = if peer.is_some() {
            "keepalived 2.4.3"
        } else {
            "baton"
        };
        let (on_vmac, on_base) = address_vmac_extra_garps(peer, extra);
        eprintln!(
            "{who}, garp_extra_if {extra}: {on_vmac} from the address VMAC, {on_base} on veth0 in 4 s"
        );
        let ok = if extra == "0" {
            on_vmac == 0
        } else {
            (2..=6).contains(&on_vmac)
        };
        assert!(
            ok && on_base == 0,
            "{who}, garp_extra_if {extra}: {on_vmac} from the address VMAC, {on_base} on veth0"
        );
    }
}

/// a reload that restarts the instance (here VRRP version 2 -> 3) but keeps its
/// address VMAC's name deletes the macvlan and makes it again (a new ifindex); the GARP/NA
/// socket for that interface (`Daemon::announcers`, keyed by name, bound to the ifindex at
/// open, never closed) still points at the deleted link, so the restarted master sends no
/// gratuitous ARP from the address VMAC at all: not the burst on becoming master, not the
/// `garp_extra_if` ones. The switch's FDB for the virtual MAC (nothing else refreshes it:
/// an address VMAC sends no adverts) stays on the old port after a failover.
#[test]
fn a_restart_keeping_an_address_vmacs_name_still_announces_from_it() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "rvannc",
        &[("a", &["192.0.2.1/24"]), ("c", &["192.0.2.3/24"])],
    );
    c.lab.second_link("a", &["198.51.100.1/24"]);
    c.lab.second_link("c", &["198.51.100.3/24"]);
    let config = |version: u8| {
        let mut i = Instance::fast(150, VIP)
            .with("garp_master_delay 0")
            .with("garp_extra_if 1");
        i.version = version;
        i.advert_int = "1";
        i.vips.push("198.51.100.100/24 dev veth1 use_vmac");
        i.render()
    };
    c.start_baton("a", &config(2));
    let held = |c: &Cluster| {
        link(c, "a", ADDR_VMAC).is_some()
            && c.lab.addresses("a", ADDR_VMAC).iter().any(|a| a == VIP2)
    };
    assert!(poll(SETTLE, || held(&c)), "{}", c.all_logs());
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[lab::IFNAME2], Duration::from_secs(4));
    let before = garps(&seen[0], VMAC_MAC, VIP2_ADDR);
    assert!(
        (2..=6).contains(&before),
        "before the reload: {before}\n{}",
        c.all_logs()
    );
    let index_before = link(&c, "a", ADDR_VMAC).expect("vmac")["ifindex"].clone();

    c.wait_for_socket("a");
    c.rewrite("a", &config(3));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        poll(SETTLE, || held(&c)
            && link(&c, "a", ADDR_VMAC).expect("vmac")["ifindex"]
                != index_before),
        "the macvlan was not made again\n{}",
        c.all_logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    let seen = arp_seen(&c, &[lab::IFNAME2], Duration::from_secs(4));
    let after = garps(&seen[0], VMAC_MAC, VIP2_ADDR);
    assert!(
        (2..=6).contains(&after),
        "after the restart: {after} GARPs from the address VMAC in 4 s\n{}",
        c.log("a")
    );
}

/// the same with the instance's own VMAC (`use_vmac`, no `vmac_xmit_base`): a
/// reload that restarts the instance (version 2 -> 3) makes `vrrp.51` again, and every
/// gratuitous ARP from it (the master's bursts, the VIP-conflict probes) then fails with
/// ENXIO on the packet socket still bound to the deleted link. 8159483 reopened the VRRP
/// socket for this case but not the announcer.
#[test]
fn a_restart_keeping_the_instance_vmacs_name_still_announces_from_it() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "rvannc2",
        &[("a", &["192.0.2.1/24"]), ("c", &["192.0.2.3/24"])],
    );
    let config = |version: u8| {
        let mut i = Instance::fast(150, VIP)
            .with("garp_master_delay 0")
            .with("use_vmac");
        i.version = version;
        i.advert_int = "1";
        i.render()
    };
    c.start_baton("a", &config(2));
    assert!(
        poll(SETTLE, || link(&c, "a", VMAC).is_some()
            && c.lab.addresses("a", VMAC).iter().any(|a| a == VIP)),
        "{}",
        c.all_logs()
    );
    c.wait_for_socket("a");
    c.rewrite("a", &config(3));
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(1));
    let seen = arp_seen(&c, &[IFNAME], Duration::from_secs(6));
    let after = garps(&seen[0], VMAC_MAC, VIP_ADDR);
    assert!(
        after > 0 && !c.log("a").contains("No such device or address"),
        "after the restart: {after} GARPs from the VMAC in 6 s\n{}",
        c.log("a")
    );
}
