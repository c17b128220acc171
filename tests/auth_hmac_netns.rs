//! baton and keepalived 2.4.3 (`/opt/keepalived-2.4.3`, built by `.ci/run`) with
//! `auth_hmac` in one VRRP group, in network namespaces (baton on bt 192.0.2.1, keepalived
//! on ka 192.0.2.2, a client c 192.0.2.3 that captures and injects):
//!
//! - the same key, each side master in turn, IPv4 and IPv6: one master, the backup stays
//!   backup (each accepts the other's signed adverts), nothing dropped or complained about,
//!   and tshark's checksum verdict on baton's adverts is keepalived's (Good over IPv6; over
//!   IPv4 keepalived's checksum leaves the trailer out and tshark, summing it, says Bad);
//! - unicast over IPv4 and IPv6 (2001:db8::1 and ::2), the same key, each side master in
//!   turn in one group (baton stopped and started again, then locked and unlocked):
//!   neither drops nor questions the other's adverts;
//! - another key on each side, multicast IPv4 and unicast IPv6: both become master, each
//!   drops the other's adverts (baton counts `hmac_bad_mac` in status, `/status` and the
//!   Prometheus metrics, keepalived logs an invalid HMAC);
//! - keepalived's advert captured and sent again by the client after keepalived is gone: a
//!   replay at once (`hmac_replay`), later a stale one (`hmac_stale`); baton, master now,
//!   is not moved by the priority-150 copy;
//! - keepalived in `mode receive-only` (no trailer) and baton in `mode permissive`: baton
//!   accepts and counts the unsigned adverts, keepalived verifies baton's;
//! - VRRPv2, unicast, and baton signing with key id 2 of two keys while keepalived signs
//!   with id 1: one master, nothing dropped.
//!
//! Needs root, tcpdump, tshark and keepalived 2.4.3 (a missing keepalived skips outside CI).

mod daemon;
mod lab;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use daemon::capture::{self, Capture};
use daemon::keepalived::{Peer, interop_lab};
use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP: &str = "192.0.2.100/24";
const VIP6: &str = "2001:db8::100/64";
const SERVERS: [&str; 2] = ["bt", "ka"];
const KEY: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY: &str = "another-shared-key-of-32-bytes-or-more";

fn available() -> bool {
    require_root() && Peer::Release243.available()
}

/// VRRPv3 at 0.1 s (time_window: keepalived's default, 5 s) with `auth_hmac`.
fn signed(priority: u8, vip: &'static str, key: &str, mode: &str) -> Instance {
    Instance::fast(priority, vip).with(format!(
        "auth_hmac {{\n        key 1 {key}\n        active_key 1\n        mode {mode}\n    }}"
    ))
}

/// How the two servers hear each other.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// IPv4, the VRRP multicast group.
    Multicast4,
    /// IPv4 unicast (`unicast_src_ip` and `unicast_peer`).
    Unicast4,
    /// IPv6 unicast between the servers' 2001:db8:: addresses.
    Unicast6,
}

impl Way {
    fn tag(self) -> &'static str {
        match self {
            Way::Multicast4 => "m4",
            Way::Unicast4 => "u4",
            Way::Unicast6 => "u6",
        }
    }

    fn vip(self) -> &'static str {
        match self {
            Way::Multicast4 | Way::Unicast4 => VIP,
            Way::Unicast6 => VIP6,
        }
    }

    /// The address of `node` ("bt" or "ka") in the interop lab.
    fn addr(self, node: &str) -> &'static str {
        match (self, node) {
            (Way::Unicast6, "bt") => "2001:db8::1",
            (Way::Unicast6, _) => "2001:db8::2",
            (_, "bt") => "192.0.2.1",
            (_, _) => "192.0.2.2",
        }
    }

    /// `node`'s signed instance (enforce), with its unicast source and peer if unicast.
    fn instance(self, priority: u8, node: &str, key: &str) -> Instance {
        let inst = signed(priority, self.vip(), key, "enforce");
        if let Way::Multicast4 = self {
            return inst;
        }
        let peer = if node == "bt" { "ka" } else { "bt" };
        inst.with(format!("unicast_src_ip {}", self.addr(node)))
            .with(format!(
                "unicast_peer {{\n        {}\n    }}",
                self.addr(peer)
            ))
    }
}

/// baton's `auth_hmac` key from a file, as a deployment keeps it (mode 0600).
fn key_file(c: &Cluster, key: &str) -> String {
    let path = c.dir.path().join("bt.key");
    std::fs::write(&path, format!("{key}\n")).expect("write the key file");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod the key file");
    format!("file:{}", path.display())
}

fn dropped(c: &Cluster, node: &str) -> serde_json::Value {
    let (status, _) = c.status(node);
    status["instances"][0]["dropped"].clone()
}

fn counter(c: &Cluster, node: &str, name: &str) -> u64 {
    let (status, _) = c.status(node);
    status["instances"][0]["counters"][name]
        .as_u64()
        .unwrap_or(0)
}

/// keepalived's complaints about auth_hmac (vrrp.c: vrrp_auth_ext_verify).
fn keepalived_hmac_complaints(c: &Cluster) -> Vec<String> {
    c.log("ka")
        .lines()
        .filter(|l| l.contains("authentication") || l.contains("too long"))
        .map(str::to_string)
        .collect()
}

#[test]
fn same_key_one_master_either_way_v4_and_v6() {
    if !available() {
        return;
    }
    for (n, (baton_master, vip)) in [(true, VIP), (false, VIP), (true, VIP6), (false, VIP6)]
        .into_iter()
        .enumerate()
    {
        let mut c = interop_lab(&format!("hm{n}"));
        let bt_key = key_file(&c, KEY);
        let (bt_prio, ka_prio) = if baton_master { (150, 100) } else { (100, 150) };
        let (winner, loser) = if baton_master {
            ("bt", "ka")
        } else {
            ("ka", "bt")
        };
        let bt = signed(bt_prio, vip, &bt_key, "enforce").render();
        let ka_conf = signed(ka_prio, vip, KEY, "enforce").render();
        // The master first, as in interop_keepalived.rs.
        let _ka = if baton_master {
            c.start_baton("bt", &bt);
            c.expect_holders(&SERVERS, vip, &["bt"]);
            c.start_keepalived_peer("ka", &ka_conf, Peer::Release243)
        } else {
            let ka = c.start_keepalived_peer("ka", &ka_conf, Peer::Release243);
            c.expect_holders(&SERVERS, vip, &["ka"]);
            c.start_baton("bt", &bt);
            ka
        };
        let capture = Capture::start(&c, &format!("same{n}"));
        c.expect_stable(&SERVERS, vip, &[winner], Duration::from_secs(2));
        let adverts = finish(capture);
        if loser == "ka" {
            assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.all_logs());
        } else {
            assert!(
                c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")),
                "{}",
                c.all_logs()
            );
            assert!(
                counter(&c, "bt", "adverts_received") > 5,
                "{}",
                c.all_logs()
            );
        }
        assert_no_hmac_drops(&c, &format!("same{n}"));
        let complaints = keepalived_hmac_complaints(&c);
        assert!(complaints.is_empty(), "{complaints:#?}\n{}", c.all_logs());
        // The key shows nowhere: status (text and JSON) and the debug log.
        let text = c.baton("bt", &["status"]);
        let shown = format!(
            "{}{}{}",
            String::from_utf8_lossy(&text.stdout),
            c.status("bt").0,
            c.log("bt")
        );
        assert!(!shown.contains("0102030405060708"), "{shown}");
        // What status says of it: the mode, key ids and window.
        let text = String::from_utf8_lossy(&text.stdout);
        let line = "auth_hmac: enforce, active key 1 of 1, anti_replay time (window 5 s)";
        assert!(text.contains(line), "{text}");
        assert_eq!(
            c.status("bt").0["instances"][0]["auth_hmac"]["key_ids"],
            serde_json::json!([1])
        );
        // The master's adverts as tshark reads them: signed (28 bytes more than the
        // advert), and the checksum verdict keepalived's own adverts get
        // (tests/fixtures/wire/keepalived-2.4.3-auth-hmac.txt).
        let from_master: Vec<&Advert> = adverts
            .iter()
            .filter(|a| a.eth_src == c.lab.mac_str(winner))
            .collect();
        assert!(from_master.len() >= 10, "{adverts:#?}");
        for a in from_master {
            let ipv6 = vip.contains(':');
            let addr_len = if ipv6 { 16 } else { 4 };
            assert_eq!(a.vrrp_len, 8 + addr_len + 28, "{a:?}");
            let good = if ipv6 { "1" } else { "0" };
            assert_eq!(a.checksum_status, good, "{winner}: {a:?}");
        }
    }
}

/// `auth_hmac` with two keys, `active` signing.
fn two_keys(active: u8) -> String {
    format!(
        "auth_hmac {{\n        key 1 {KEY}\n        key 2 {OTHER_KEY}\n        active_key {active}\n    }}"
    )
}

#[test]
fn v2_unicast_and_a_rotation_to_another_key_id() {
    if !available() {
        return;
    }
    let v2 = |priority| Instance {
        version: 2,
        advert_int: "1",
        ..signed(priority, VIP, KEY, "enforce")
    };
    let rotating = |priority, active| Instance::fast(priority, VIP).with(two_keys(active));
    // (name, keepalived's instance, baton's, baton master?)
    let cases = [
        ("v2", v2(150), v2(100), false),
        (
            "uc",
            Way::Unicast4.instance(100, "ka", KEY),
            Way::Unicast4.instance(150, "bt", KEY),
            true,
        ),
        ("rot", rotating(100, 1), rotating(150, 2), true),
    ];
    for (name, ka_inst, bt_inst, baton_master) in cases {
        let mut c = interop_lab(&format!("hm{name}"));
        let (winner, steady) = if baton_master { ("bt", 2) } else { ("ka", 4) };
        let _ka = if baton_master {
            c.start_baton("bt", &bt_inst.render());
            c.expect_holders(&SERVERS, VIP, &["bt"]);
            c.start_keepalived_peer("ka", &ka_inst.render(), Peer::Release243)
        } else {
            let ka = c.start_keepalived_peer("ka", &ka_inst.render(), Peer::Release243);
            c.expect_holders(&SERVERS, VIP, &["ka"]);
            c.start_baton("bt", &bt_inst.render());
            ka
        };
        c.expect_stable(&SERVERS, VIP, &[winner], Duration::from_secs(steady));
        if baton_master {
            assert_eq!(
                c.keepalived_entered("ka", "MASTER"),
                0,
                "{name}\n{}",
                c.all_logs()
            );
        } else {
            assert!(
                counter(&c, "bt", "adverts_received") >= 2,
                "{}",
                c.all_logs()
            );
        }
        assert_no_hmac_drops(&c, name);
        let complaints = keepalived_signed_complaints(&c);
        assert!(
            complaints.is_empty(),
            "{name}: {complaints:#?}\n{}",
            c.all_logs()
        );
    }
}

/// keepalived's complaints about baton's adverts in a signed group: the HMAC, and for
/// unicast the sender and the checksum.
fn keepalived_signed_complaints(c: &Cluster) -> Vec<String> {
    let mut complaints = keepalived_hmac_complaints(c);
    complaints.extend(
        c.log("ka")
            .lines()
            .filter(|l| l.contains("not a unicast peer") || l.contains("checksum"))
            .map(str::to_string),
    );
    complaints
}

/// baton dropped none of keepalived's adverts for their authentication.
fn assert_no_hmac_drops(c: &Cluster, what: &str) {
    let drops = dropped(c, "bt");
    assert!(
        drops
            .as_object()
            .is_none_or(|d| d.keys().all(|k| !k.starts_with("hmac"))),
        "{what}: baton dropped keepalived's adverts: {drops}\n{}",
        c.all_logs()
    );
}

/// Unicast over IPv4 and IPv6 with the same key, each side master in turn in one group:
/// baton master and keepalived backup; baton stopped (its priority-0 advert), keepalived
/// takes over; baton started again takes the VIP back; baton locked, keepalived master
/// while baton, backup, hears its adverts; unlocked, baton back. Neither side ever drops or
/// questions the other's signed adverts.
#[test]
fn unicast_v4_and_v6_each_side_master_in_turn() {
    if !available() {
        return;
    }
    for way in [Way::Unicast4, Way::Unicast6] {
        unicast_in_turn(way);
    }
}

fn unicast_in_turn(way: Way) {
    let vip = way.vip();
    let mut c = interop_lab(&format!("hmturn{}", way.tag()));
    let bt_conf = way.instance(150, "bt", KEY).render();
    let ka_conf = way.instance(100, "ka", KEY).render();
    let tag = |step: &str| format!("{way:?}: {step}");
    // 1. baton master, keepalived backup: keepalived accepts baton's adverts.
    c.start_baton("bt", &bt_conf);
    c.expect_holders(&SERVERS, vip, &["bt"]);
    let _ka = c.start_keepalived_peer("ka", &ka_conf, Peer::Release243);
    c.expect_stable(&SERVERS, vip, &["bt"], Duration::from_secs(2));
    assert_eq!(
        c.keepalived_entered("ka", "MASTER"),
        0,
        "{}\n{}",
        tag("keepalived backup"),
        c.all_logs()
    );
    // 2. baton stopped: keepalived takes over.
    c.signal("bt", "TERM");
    assert!(
        c.daemon("bt")
            .proc
            .wait_timeout(Duration::from_secs(10))
            .is_some(),
        "{}",
        tag("baton did not stop")
    );
    c.expect_holders(&SERVERS, vip, &["ka"]);
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 1, "{}", c.all_logs());
    // 3. baton started again takes it back (priority 150 over 100).
    c.start_baton("bt", &bt_conf);
    c.wait_for_socket("bt");
    c.expect_holders(&SERVERS, vip, &["bt"]);
    c.expect_stable(&SERVERS, vip, &["bt"], Duration::from_secs(1));
    assert_no_hmac_drops(&c, &tag("baton back"));
    // 4. baton locked: keepalived master for 2 s, baton a backup that hears it.
    let out = c.baton("bt", &["lock", "VI_1"]);
    assert!(out.status.success(), "{}", tag("lock"));
    c.expect_holders(&SERVERS, vip, &["ka"]);
    let before = counter(&c, "bt", "adverts_received");
    c.expect_stable(&SERVERS, vip, &["ka"], Duration::from_secs(2));
    let heard = counter(&c, "bt", "adverts_received") - before;
    // 0.1 s adverts for 2 s: about 20.
    assert!(
        heard >= 10,
        "{}: heard {heard}\n{}",
        tag("backup"),
        c.all_logs()
    );
    assert_no_hmac_drops(&c, &tag("baton backup"));
    // 5. unlocked: baton back, keepalived a backup again.
    let out = c.baton("bt", &["unlock", "VI_1"]);
    assert!(out.status.success(), "{}", tag("unlock"));
    c.expect_holders(&SERVERS, vip, &["bt"]);
    c.expect_stable(&SERVERS, vip, &["bt"], Duration::from_secs(1));
    assert_eq!(c.keepalived_entered("ka", "MASTER"), 2, "{}", c.all_logs());
    assert!(
        c.keepalived_entered("ka", "BACKUP") >= 3,
        "{}",
        c.all_logs()
    );
    assert_no_hmac_drops(&c, &tag("end"));
    let complaints = keepalived_signed_complaints(&c);
    assert!(
        complaints.is_empty(),
        "{}: {complaints:#?}\n{}",
        tag("keepalived"),
        c.all_logs()
    );
}

#[test]
fn another_key_makes_two_masters_and_each_drops_the_other() {
    if !available() {
        return;
    }
    for way in [Way::Multicast4, Way::Unicast6] {
        another_key(way);
    }
}

fn another_key(way: Way) {
    let vip = way.vip();
    let mut c = interop_lab(&format!("hmkey{}", way.tag()));
    let ka_conf = way.instance(150, "ka", OTHER_KEY).render();
    let _ka = c.start_keepalived_peer("ka", &ka_conf, Peer::Release243);
    c.expect_holders(&SERVERS, vip, &["ka"]);
    let global = "global_defs {\n    metrics_listen 192.0.2.1:9650\n}\n";
    let bt = format!("{global}{}", way.instance(100, "bt", KEY).render());
    c.start_baton("bt", &bt);
    c.expect_holders(&SERVERS, vip, &["bt", "ka"]);
    c.expect_stable(&SERVERS, vip, &["bt", "ka"], Duration::from_secs(1));
    let bad = poll(SETTLE, || {
        dropped(&c, "bt")["hmac_bad_mac"].as_u64().unwrap_or(0) > 5
    });
    assert!(bad, "{}\n{}", dropped(&c, "bt"), c.all_logs());
    let seen = poll(SETTLE, || {
        c.log("ka").contains("invalid authentication HMAC")
    });
    assert!(
        seen,
        "keepalived did not drop baton's adverts\n{}",
        c.all_logs()
    );
    // The drops in the metrics; the key neither there nor in /status.
    let get = |path: &str| {
        let url = format!("http://192.0.2.1:9650{path}");
        let out = c.lab.exec("c", &["curl", "-sS", "--max-time", "10", &url]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let metrics = get("/metrics");
    let line =
        "baton_instance_adverts_dropped_total{vrrp_instance=\"VI_1\",reason=\"hmac_bad_mac\"}";
    assert!(metrics.contains(line), "{metrics}");
    let status = get("/status");
    assert!(status.contains("hmac_bad_mac"), "{status}");
    for shown in [&metrics, &status] {
        assert!(!shown.contains("0102030405060708"), "{shown}");
    }
    // An unauthenticated advert never reaches the peer watch: no configuration alarm.
    assert!(
        !c.log("bt").contains("advertises another configuration"),
        "{}",
        c.log("bt")
    );
}

#[test]
fn a_replayed_and_a_stale_advert_are_dropped_and_counted() {
    if !available() {
        return;
    }
    let mut c = interop_lab("hmrep");
    let ka = c.start_keepalived_peer(
        "ka",
        &signed(150, VIP, KEY, "enforce").render(),
        Peer::Release243,
    );
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    c.start_baton("bt", &signed(100, VIP, KEY, "enforce").render());
    c.expect_stable(&SERVERS, VIP, &["ka"], Duration::from_millis(500));
    // One of keepalived's adverts, as baton heard it.
    let capture = Capture::start(&c, "replay");
    std::thread::sleep(Duration::from_millis(500));
    let packet = last_packet_from(capture, &c.lab.mac_str("ka"));
    ka.kill();
    // A crashed keepalived leaves its VIP on the interface; only baton's matters now.
    c.lab
        .exec_ok("ka", &["ip", "addr", "del", VIP, "dev", IFNAME]);
    c.expect_holders(&SERVERS, VIP, &["bt"]);
    // Sent again within the time window: replayed (baton accepted that sequence).
    send_raw(&c, &packet);
    let replayed = poll(Duration::from_secs(2), || {
        dropped(&c, "bt")["hmac_replay"].as_u64().unwrap_or(0) >= 1
    });
    assert!(replayed, "{}\n{}", dropped(&c, "bt"), c.all_logs());
    // Past the window (5 s): stale, dropped before its MAC is computed.
    std::thread::sleep(Duration::from_secs(6));
    send_raw(&c, &packet);
    let stale = poll(Duration::from_secs(2), || {
        dropped(&c, "bt")["hmac_stale"].as_u64().unwrap_or(0) >= 1
    });
    assert!(stale, "{}\n{}", dropped(&c, "bt"), c.all_logs());
    // The priority-150 copies moved nothing: baton is still the only master.
    c.expect_stable(&SERVERS, VIP, &["bt"], Duration::from_millis(500));
    let backups = c
        .transitions("bt")
        .iter()
        .filter(|t| t.contains("MASTER -> BACKUP"))
        .count();
    assert_eq!(backups, 0, "{}", c.log("bt"));
}

#[test]
fn keepalived_receive_only_and_baton_permissive_hear_each_other() {
    if !available() {
        return;
    }
    let mut c = interop_lab("hmmode");
    // keepalived sends no trailer and verifies baton's; baton signs and accepts unsigned.
    let ka_conf = signed(150, VIP, KEY, "receive-only").render();
    let _ka = c.start_keepalived_peer("ka", &ka_conf, Peer::Release243);
    c.expect_holders(&SERVERS, VIP, &["ka"]);
    c.start_baton("bt", &signed(100, VIP, KEY, "permissive").render());
    c.expect_stable(&SERVERS, VIP, &["ka"], Duration::from_secs(2));
    assert!(
        counter(&c, "bt", "hmac_unsigned_accepted") > 5,
        "{}",
        c.all_logs()
    );
    let text = c.baton("bt", &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("auth_hmac: permissive, active key 1 of 1")
            && text.contains("unsigned adverts accepted: "),
        "{text}"
    );
    // baton in enforce drops them as missing the trailer: both masters.
    c.rewrite("bt", &signed(100, VIP, KEY, "enforce").render());
    c.signal("bt", "HUP");
    c.expect_holders(&SERVERS, VIP, &["bt", "ka"]);
    let missing = poll(SETTLE, || {
        dropped(&c, "bt")["hmac_missing"].as_u64().unwrap_or(0) > 5
    });
    assert!(missing, "{}\n{}", dropped(&c, "bt"), c.all_logs());
    // keepalived verified baton's signed adverts throughout.
    let complaints = keepalived_hmac_complaints(&c);
    assert!(complaints.is_empty(), "{complaints:#?}\n{}", c.all_logs());
}

/// Send an IPv4 packet (header included, as captured) from the client's namespace.
fn send_raw(c: &Cluster, packet: &[u8]) {
    let packet = packet.to_vec();
    c.lab.run_in("c", Duration::from_secs(5), || async move {
        use socket2::{Domain, Protocol, Socket, Type};
        let s =
            Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw socket");
        s.set_header_included_v4(true).expect("IP_HDRINCL");
        s.bind_device(Some(IFNAME.as_bytes()))
            .expect("SO_BINDTODEVICE");
        let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
        let sent = s
            .send_to(&packet, &SocketAddrV4::new(dst, 0).into())
            .expect("send the captured advert");
        assert_eq!(sent, packet.len());
    });
}

/// Stop `capture` and read its adverts with tshark.
fn finish(capture: Capture) -> Vec<Advert> {
    capture.stop();
    tshark(&capture.file)
}

/// Stop `capture` and return the IP packet of the last frame from `mac`.
fn last_packet_from(capture: Capture, mac: &str) -> Vec<u8> {
    capture.stop();
    let frames = pcap_frames(&capture.file);
    let want = mac_bytes(mac);
    let summary: Vec<String> = frames
        .iter()
        .map(|f| f.iter().take(16).map(|b| format!("{b:02x}")).collect())
        .collect();
    frames
        .into_iter()
        .filter(|f| f.len() > 14 && f[6..12] == want && f[12..14] == [0x08, 0x00])
        .map(|f| f[14..].to_vec())
        .next_back()
        .unwrap_or_else(|| panic!("no advert from {mac} in the capture: {summary:?}"))
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    for (o, part) in out.iter_mut().zip(mac.split(':')) {
        *o = u8::from_str_radix(part, 16).expect("a MAC");
    }
    out
}

/// The frames of a classic pcap file (what tcpdump -w writes).
fn pcap_frames(file: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(file).expect("read the capture");
    assert!(data.len() >= 24, "pcap header");
    let little = data[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |i: usize| {
        let b = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut frames = Vec::new();
    let mut pos = 24;
    while pos + 16 <= data.len() {
        let len = u32_at(pos + 8) as usize;
        let start = pos + 16;
        let Some(frame) = data.get(start..start + len) else {
            break;
        };
        frames.push(frame.to_vec());
        pos = start + len;
    }
    frames
}

/// One VRRP packet as tshark decodes it.
#[derive(Debug)]
struct Advert {
    eth_src: String,
    /// The VRRP payload length (IP payload: the advert and the trailer).
    vrrp_len: usize,
    /// tshark's `vrrp.checksum.status`: "1" Good, "0" Bad.
    checksum_status: String,
}

fn tshark(file: &Path) -> Vec<Advert> {
    let fields = [
        "eth.src",
        "ip.len",
        "ip.hdr_len",
        "ipv6.plen",
        "vrrp.checksum.status",
    ];
    capture::vrrp_fields(file, &fields)
        .into_iter()
        .map(|f| {
            let num = |s: &str| s.parse::<usize>().unwrap_or(0);
            let vrrp_len = if f[3].is_empty() {
                num(&f[1]) - num(&f[2])
            } else {
                num(&f[3])
            };
            Advert {
                eth_src: f[0].clone(),
                vrrp_len,
                checksum_status: f[4].clone(),
            }
        })
        .collect()
}
