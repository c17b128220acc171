//! baton and keepalived in one VRRP group, across the settings a keepalived user runs:
//! multicast and unicast, IPv4 and IPv6, VRRPv2 (PASS) and VRRPv3, the standard and a
//! custom multicast group (`vrrp_mcast_group4/6`), each side master in turn, against both
//! keepalived 2.2.7 (Debian) and 2.4.3 (the newest release, built by `.ci/run` from
//! `../shared/peers/`).
//!
//! Every case starts the master first, then the backup, and checks what the nodes show:
//! exactly one VIP holder (`ip addr`), the client reaching it there (its neighbour cache),
//! the backup staying backup, and no dropped or questioned advert on either side (baton's
//! debug log, keepalived's log). Then the master is killed and the other side must take
//! over, again as the only holder. Needs root and both keepalived builds (CI has them;
//! elsewhere a missing 2.4.3 skips its cases with a message).

mod daemon;
mod lab;

use std::time::Duration;

use daemon::Instance;
use daemon::keepalived::{Keepalived, Peer, assert_wire_compatible, interop_lab};
use lab::require_root;

/// baton runs on "bt", keepalived on "ka"; "c" is the client.
const SERVERS: [&str; 2] = ["bt", "ka"];

/// One group setting, the same on both sides.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// VRRPv3 at 0.1 s over IPv4 multicast.
    V3Multicast4,
    /// VRRPv2 at 1 s with PASS authentication over IPv4 multicast.
    V2Pass4,
    /// VRRPv3 at 0.1 s over IPv6 multicast.
    V3Multicast6,
    /// VRRPv3 at 0.1 s, IPv4 unicast between the two servers.
    V3Unicast4,
    /// VRRPv3 at 0.1 s, IPv6 unicast between the two servers (keepalived sends these with
    /// the kernel's default hop limit).
    V3Unicast6,
    /// VRRPv3 over IPv4 multicast to 224.0.0.19 (`vrrp_mcast_group4`).
    V3Group4,
    /// VRRPv3 over IPv6 multicast to ff02::13 (`vrrp_mcast_group6`).
    V3Group6,
    /// VRRPv3 at 0.1 s over IPv4 multicast, checksums without the pseudo-header
    /// (`v3_checksum_as_v2`, keepalived 2.4 only).
    V3ChecksumAsV2,
}

impl Case {
    fn ipv6(self) -> bool {
        matches!(self, Case::V3Multicast6 | Case::V3Unicast6 | Case::V3Group6)
    }

    fn vip(self) -> &'static str {
        if self.ipv6() {
            "2001:db8::100/64"
        } else {
            "192.0.2.100/24"
        }
    }

    fn vip_addr(self) -> &'static str {
        self.vip().split('/').next().expect("has an address")
    }

    /// `node`'s whole config file (global_defs, if any, and the instance).
    fn config(self, priority: u8, node: &str) -> String {
        let (own, peer) = match (node, self.ipv6()) {
            ("bt", false) => ("192.0.2.1", "192.0.2.2"),
            ("bt", true) => ("2001:db8::1", "2001:db8::2"),
            (_, false) => ("192.0.2.2", "192.0.2.1"),
            (_, true) => ("2001:db8::2", "2001:db8::1"),
        };
        let fast = Instance::fast(priority, self.vip());
        let (global, instance) = match self {
            Case::V3Multicast4 | Case::V3Multicast6 => ("", fast),
            Case::V2Pass4 => (
                "",
                Instance {
                    version: 2,
                    advert_int: "1",
                    ..fast
                }
                .with("authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }"),
            ),
            Case::V3Unicast4 | Case::V3Unicast6 => (
                "",
                fast.with(format!("unicast_src_ip {own}"))
                    .with(format!("unicast_peer {{\n        {peer}\n    }}")),
            ),
            Case::V3Group4 => ("global_defs {\n    vrrp_mcast_group4 224.0.0.19\n}\n", fast),
            Case::V3Group6 => ("global_defs {\n    vrrp_mcast_group6 ff02::13\n}\n", fast),
            Case::V3ChecksumAsV2 => ("global_defs {\n    v3_checksum_as_v2\n}\n", fast),
        };
        format!("{global}{}", instance.render())
    }
}

/// Which side is master first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum First {
    Baton,
    Keepalived,
}

/// The whole case: election with `first` as master, one holder, the client there, the
/// backup quiet; then the master is killed and the other side is the one holder.
fn run(case: Case, first: First, peer: Peer, tag: &str) {
    if !require_root() || !peer.available() {
        return;
    }
    let mut c = interop_lab(tag);
    let (bt_priority, ka_priority) = match first {
        First::Baton => (150, 100),
        First::Keepalived => (100, 150),
    };
    let ka: Keepalived = if first == First::Baton {
        c.start_baton("bt", &case.config(bt_priority, "bt"));
        c.expect_holders(&SERVERS, case.vip(), &["bt"]);
        c.start_keepalived_peer("ka", &case.config(ka_priority, "ka"), peer)
    } else {
        let ka = c.start_keepalived_peer("ka", &case.config(ka_priority, "ka"), peer);
        c.expect_holders(&SERVERS, case.vip(), &["ka"]);
        c.start_baton("bt", &case.config(bt_priority, "bt"));
        ka
    };
    let (master, backup) = match first {
        First::Baton => ("bt", "ka"),
        First::Keepalived => ("ka", "bt"),
    };
    c.expect_holders(&SERVERS, case.vip(), &[master]);
    assert_eq!(
        c.client_reaches("c", case.vip_addr()),
        c.lab.mac_str(master),
        "{case:?}: the client reaches the master\n{}",
        c.all_logs()
    );
    // Two masters would show here: the backup must not take the VIP while both run.
    c.expect_stable(&SERVERS, case.vip(), &[master], Duration::from_secs(3));
    if backup == "ka" {
        assert_eq!(c.keepalived_entered("ka", "MASTER"), 0, "{}", c.all_logs());
    } else {
        assert!(
            c.transitions("bt").iter().all(|t| !t.contains("-> MASTER")),
            "{case:?}: baton became master beside keepalived\n{}",
            c.all_logs()
        );
    }
    assert_wire_compatible(&c);
    match first {
        First::Baton => c.signal("bt", "KILL"),
        First::Keepalived => ka.kill(),
    }
    // The dead master leaves its VIP behind (a crash); the client must follow the survivor.
    c.expect_client_mac("c", case.vip_addr(), &c.lab.mac_str(backup));
    assert!(
        c.holders(&SERVERS, case.vip())
            .contains(&backup.to_string()),
        "{case:?}: {backup} took over\n{}",
        c.all_logs()
    );
    assert_wire_compatible(&c);
}

/// One test per (case, first master, keepalived release).
macro_rules! matrix {
    ($($name:ident: $case:ident, $first:ident, $peer:ident, $tag:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run(Case::$case, First::$first, Peer::$peer, $tag);
            }
        )*
    };
}

matrix! {
    v3_mcast4_baton_first_ka227: V3Multicast4, Baton, Debian, "m4b2";
    v3_mcast4_keepalived_first_ka227: V3Multicast4, Keepalived, Debian, "m4k2";
    v3_mcast4_baton_first_ka243: V3Multicast4, Baton, Release243, "m4b4";
    v3_mcast4_keepalived_first_ka243: V3Multicast4, Keepalived, Release243, "m4k4";
    v2_pass_baton_first_ka227: V2Pass4, Baton, Debian, "p2b2";
    v2_pass_keepalived_first_ka227: V2Pass4, Keepalived, Debian, "p2k2";
    v2_pass_baton_first_ka243: V2Pass4, Baton, Release243, "p2b4";
    v2_pass_keepalived_first_ka243: V2Pass4, Keepalived, Release243, "p2k4";
    v3_mcast6_baton_first_ka227: V3Multicast6, Baton, Debian, "m6b2";
    v3_mcast6_keepalived_first_ka227: V3Multicast6, Keepalived, Debian, "m6k2";
    v3_mcast6_baton_first_ka243: V3Multicast6, Baton, Release243, "m6b4";
    v3_mcast6_keepalived_first_ka243: V3Multicast6, Keepalived, Release243, "m6k4";
    v3_unicast4_baton_first_ka227: V3Unicast4, Baton, Debian, "u4b2";
    v3_unicast4_keepalived_first_ka227: V3Unicast4, Keepalived, Debian, "u4k2";
    v3_unicast4_baton_first_ka243: V3Unicast4, Baton, Release243, "u4b4";
    v3_unicast4_keepalived_first_ka243: V3Unicast4, Keepalived, Release243, "u4k4";
    v3_unicast6_baton_first_ka227: V3Unicast6, Baton, Debian, "u6b2";
    v3_unicast6_keepalived_first_ka227: V3Unicast6, Keepalived, Debian, "u6k2";
    v3_unicast6_baton_first_ka243: V3Unicast6, Baton, Release243, "u6b4";
    v3_unicast6_keepalived_first_ka243: V3Unicast6, Keepalived, Release243, "u6k4";
    v3_group4_baton_first_ka227: V3Group4, Baton, Debian, "g4b2";
    v3_group4_keepalived_first_ka227: V3Group4, Keepalived, Debian, "g4k2";
    v3_group4_baton_first_ka243: V3Group4, Baton, Release243, "g4b4";
    v3_group4_keepalived_first_ka243: V3Group4, Keepalived, Release243, "g4k4";
    v3_group6_baton_first_ka227: V3Group6, Baton, Debian, "g6b2";
    v3_group6_keepalived_first_ka227: V3Group6, Keepalived, Debian, "g6k2";
    v3_group6_baton_first_ka243: V3Group6, Baton, Release243, "g6b4";
    v3_checksum_as_v2_baton_first_ka243: V3ChecksumAsV2, Baton, Release243, "c2b4";
    v3_checksum_as_v2_keepalived_first_ka243: V3ChecksumAsV2, Keepalived, Release243, "c2k4";
    v3_group6_keepalived_first_ka243: V3Group6, Keepalived, Release243, "g6k4";
}
