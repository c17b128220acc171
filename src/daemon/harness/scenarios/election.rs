//! Election and the wire: who wins (priority, then the primary address), preemption and
//! its variants, the address owner, `state MASTER`, groups of three and four nodes, VRRPv2
//! and VRRPv3 adverts as they leave the node, the timers (Master_Down_Interval and
//! Skew_Time, RFC 5798 6.1 / RFC 3768 6.1), several instances and segments, IPv6, unicast,
//! and the GARP/NA bursts of a new master.

use std::net::IpAddr;
use std::time::Duration;

use crate::control::status::VrrpState;
use crate::daemon::harness::fake::Sent;
use crate::daemon::harness::{Lab, NodeId, run};
use crate::wire::arp::ArpFrame;
use crate::wire::ndp::NaFrame;
use crate::wire::vrrp::{Auth, ChecksumMode, Repr, Version};

const VIP: &str = "192.0.2.100";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// A `vrrp_instance` block on `iface` with `extra` lines and the `vips` (one per line).
fn block(name: &str, iface: &str, vrid: u8, priority: u8, extra: &str, vips: &[&str]) -> String {
    format!(
        "vrrp_instance {name} {{
    interface {iface}
    virtual_router_id {vrid}
    priority {priority}
    {extra}
    virtual_ipaddress {{
        {}
    }}
}}
",
        vips.join("\n        ")
    )
}

/// `global_defs` choosing VRRPv3 for the instances that do not say.
const V3: &str = "global_defs {\n    vrrp_version 3\n}\n";

/// A VRRPv3 config: instance VI_1 on eth0, VRID 51, VIP 192.0.2.100/24, advert_int 1
/// (the default), with `extra` lines.
fn v3(priority: u8, extra: &str) -> String {
    format!(
        "{V3}{}",
        block("VI_1", "eth0", 51, priority, extra, &["192.0.2.100/24"])
    )
}

/// Node `id` dies and its machine goes with it: the daemon stops without cleanup and
/// `addrs` leave its eth0 (a crashed daemon would leave them; a powered-off host does not
/// answer for them), so `lab.watch` can follow who holds them next.
fn power_off(lab: &mut Lab, id: NodeId, addrs: &[&str]) {
    lab.crash(id);
    for a in addrs {
        lab.lan.remove_address(id, "eth0", ip(a));
    }
}

/// An advert as sent from `src`, decoded; the checksum must verify with that source (and
/// the destination it went to), as a receiver would check it.
fn decode(sent: &Sent, src: &str) -> Repr {
    Repr::parse(&sent.payload, ip(src), sent.dst, ChecksumMode::Rfc)
        .unwrap_or_else(|e| panic!("advert at {:?} does not decode: {e}", sent.at))
}

/// The adverts of node `id` sent after `t`.
fn adverts_after(lab: &Lab, id: NodeId, t: Duration) -> Vec<Sent> {
    lab.adverts(id).into_iter().filter(|s| s.at > t).collect()
}

/// When node `id` sent its first advert after `t` (a backup sends none: for a backup, the
/// moment it became master).
fn first_advert_after(lab: &Lab, id: NodeId, t: Duration) -> Duration {
    adverts_after(lab, id, t)
        .first()
        .unwrap_or_else(|| panic!("{} sent no advert after {t:?}", lab.name(id)))
        .at
}

/// The last advert node `id` sent.
fn last_advert(lab: &Lab, id: NodeId) -> Duration {
    lab.adverts(id).last().expect("an advert").at
}

/// Let `d` pass watching `vip` in steps of 50 ms (never two holders); the holders at the
/// end.
async fn settle(lab: &Lab, vip: &str, d: Duration) -> Vec<String> {
    let seen = lab.watch(vip, d, ms(50)).await;
    seen.last().cloned().unwrap_or_default()
}

/// `master` is MASTER of VI_1 and `backup` BACKUP, hearing it from `master_addr` with
/// `priority`.
async fn assert_pair(lab: &Lab, master: NodeId, backup: NodeId, master_addr: &str, priority: u8) {
    let m = lab.instance(master, "VI_1").await;
    assert_eq!(
        m.state,
        VrrpState::Master,
        "{} status: {m:?}",
        lab.name(master)
    );
    let b = lab.instance(backup, "VI_1").await;
    assert_eq!(
        b.state,
        VrrpState::Backup,
        "{} status: {b:?}",
        lab.name(backup)
    );
    let heard = b.master.expect("the backup hears a master");
    assert_eq!(heard.address, master_addr);
    assert_eq!(heard.priority, priority);
}

/// Skew_Time of RFC 5798 6.1: ((256 - priority) * interval) / 256.
fn skew(priority: u8, interval: Duration) -> Duration {
    interval * (256 - u32::from(priority)) / 256
}

// ---- Priorities and the tie-break ----

#[test]
fn the_higher_priority_is_master_whichever_node_starts_first() {
    for (pa, pb) in [(150, 100), (100, 150), (254, 1), (2, 1)] {
        for a_first in [true, false] {
            run(move |mut lab| async move {
                let a = lab.node("a", "192.0.2.1/24");
                let b = lab.node("b", "192.0.2.2/24");
                let order = if a_first {
                    [(a, pa), (b, pb)]
                } else {
                    [(b, pb), (a, pa)]
                };
                // The first alone becomes master; the second comes 5 s later (and preempts
                // it if better).
                lab.start(order[0].0, &v3(order[0].1, "")).await;
                lab.secs(5.0).await;
                lab.start(order[1].0, &v3(order[1].1, "")).await;
                let holders = settle(&lab, VIP, secs(15)).await;
                let (winner, loser, addr, prio) = if pa > pb {
                    (a, b, "192.0.2.1", pa)
                } else {
                    (b, a, "192.0.2.2", pb)
                };
                assert_eq!(
                    holders,
                    names(&[lab.name(winner)]),
                    "{pa}/{pb} a_first={a_first}"
                );
                assert_pair(&lab, winner, loser, addr, prio).await;
            });
        }
    }
}

#[test]
fn equal_priorities_started_as_master_leave_the_higher_primary_address_master() {
    // Both start MASTER at once; RFC 5798 6.4.3: of two masters with equal priority, the one
    // with the lower primary address (compared as an unsigned integer: .10 > .9) yields.
    let cases = [
        ("192.0.2.9", "192.0.2.10", "b"),
        ("192.0.2.200", "192.0.2.30", "a"),
    ];
    for (addr_a, addr_b, winner) in cases {
        for a_first in [true, false] {
            run(move |mut lab| async move {
                let a = lab.node("a", &format!("{addr_a}/24"));
                let b = lab.node("b", &format!("{addr_b}/24"));
                let config = v3(100, "state MASTER");
                let (first, second) = if a_first { (a, b) } else { (b, a) };
                lab.start(first, &config).await;
                lab.start(second, &config).await;
                lab.secs(0.1).await;
                assert_eq!(lab.holders(VIP), names(&[winner]), "{addr_a} vs {addr_b}");
                let holders = settle(&lab, VIP, secs(20)).await;
                assert_eq!(holders, names(&[winner]));
                let (w, l, waddr) = if winner == "a" {
                    (a, b, addr_a)
                } else {
                    (b, a, addr_b)
                };
                assert_pair(&lab, w, l, waddr, 100).await;
                let lost = lab.instance(l, "VI_1").await;
                assert_eq!(lost.reason_kind, "preempted");
            });
        }
    }
}

#[test]
fn equal_priority_backup_with_a_higher_address_does_not_preempt_a_running_master() {
    // RFC 5798 6.4.2: a backup accepts an advert whose priority is greater than OR EQUAL to
    // its own; the address only breaks ties between two masters.
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(100, "")).await;
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        lab.start(b, &v3(100, "")).await;
        let seen = lab.watch(VIP, secs(60), ms(100)).await;
        assert_eq!(seen, [names(&["a"])]);
        assert_pair(&lab, a, b, "192.0.2.1", 100).await;
        assert!(lab.adverts(b).is_empty(), "b never advertised");
    });
}

#[test]
fn after_a_partition_heals_equal_priorities_resolve_to_the_higher_address() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(100, "")).await;
        lab.secs(5.0).await;
        lab.start(b, &v3(100, "")).await;
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        // Each alone: both master.
        assert_eq!(lab.holders(VIP), ["a", "b"]);
        lab.lan.heal(a, b);
        // Within one advert interval (plus the exchange) a, the lower address, yields.
        lab.secs(1.5).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let holders = settle(&lab, VIP, secs(30)).await;
        assert_eq!(holders, ["b"]);
        assert_pair(&lab, b, a, "192.0.2.2", 100).await;
    });
}

#[test]
fn the_backup_shows_the_master_it_hears_and_counts_its_adverts() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(200, "")).await;
        lab.start(b, &v3(100, "")).await;
        lab.secs(30.0).await;
        let sa = lab.instance(a, "VI_1").await;
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sa.state, VrrpState::Master);
        assert_eq!(sa.priority, 200);
        assert_eq!(sa.reason_kind, "master_down");
        assert!(
            sa.master.is_none(),
            "a master shows no master: {:?}",
            sa.master
        );
        assert!(sa.vips.iter().all(|v| v.present), "{:?}", sa.vips);
        assert_eq!(sb.state, VrrpState::Backup);
        assert_eq!(sb.reason_kind, "startup");
        let heard = sb.master.expect("b hears a");
        assert_eq!((heard.address.as_str(), heard.priority), ("192.0.2.1", 200));
        assert!(heard.last_advert_s <= 1.0, "{}", heard.last_advert_s);
        assert!(sb.vips.iter().all(|v| !v.present), "{:?}", sb.vips);
        // Every advert a sent reached b; b sent none.
        let sent = sa.counters.vrrp.adverts_sent;
        assert_eq!(sent, lab.adverts(a).len() as u64);
        assert!(sent >= 25, "{sent}");
        assert_eq!(sb.counters.vrrp.adverts_received, sent);
        assert_eq!(sb.counters.vrrp.adverts_sent, 0);
        assert_eq!(sa.counters.vrrp.became_master, 1);
        assert_eq!(sb.counters.vrrp.became_master, 0);
    });
}

// ---- Preemption ----

#[test]
fn a_returning_higher_priority_node_preempts_after_master_down_interval() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(150, "")).await;
        lab.start(b, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        power_off(&mut lab, a, &[VIP]);
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        let back = lab.lan.elapsed();
        lab.start_again(a).await;
        // RFC 5798 6.4.2: a starts in Backup, discards b's lower-priority adverts and takes
        // over when its Master_Down_Timer (3 * 1 s + skew(150)) runs out: not before.
        let mdi = secs(3) + skew(150, secs(1));
        let seen = lab.watch(VIP, mdi - ms(100), ms(20)).await;
        assert_eq!(seen, [names(&["b"])]);
        assert_eq!(settle(&lab, VIP, secs(5)).await, ["a"]);
        let took = first_advert_after(&lab, a, back) - back;
        assert!(took >= mdi && took <= mdi + ms(20), "{took:?} vs {mdi:?}");
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.reason_kind, "preempting");
        assert!(sa.reason.contains("192.0.2.2"), "{}", sa.reason);
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.state, VrrpState::Backup);
        assert_eq!(sb.reason_kind, "preempted");
        assert_eq!(sb.counters.vrrp.released_master, 1);
    });
}

#[test]
fn nopreempt_keeps_a_returning_higher_priority_node_backup_until_the_master_fails() {
    for keyword in ["nopreempt", "no_preempt", "fallback manual"] {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            lab.start(a, &v3(150, keyword)).await;
            lab.start(b, &v3(100, "")).await;
            // With nobody master, nopreempt still lets the best node win.
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"], "{keyword}");
            power_off(&mut lab, a, &[VIP]);
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
            let back = lab.lan.elapsed();
            lab.start_again(a).await;
            let seen = lab.watch(VIP, secs(120), ms(100)).await;
            assert_eq!(seen, [names(&["b"])], "{keyword}: a took the VIP back");
            let sa = lab.instance(a, "VI_1").await;
            assert_eq!(sa.fallback, "manual");
            assert_pair(&lab, b, a, "192.0.2.2", 100).await;
            assert!(adverts_after(&lab, a, back).is_empty(), "a advertised");
            // The master fails: the nopreempt node does take over.
            power_off(&mut lab, b, &[VIP]);
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
            assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "master_down");
        });
    }
}

#[test]
fn with_fallback_manual_the_operator_moves_the_vip_back() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(150, "fallback manual")).await;
        lab.start(b, &v3(100, "")).await;
        lab.secs(10.0).await;
        power_off(&mut lab, a, &[VIP]);
        lab.secs(10.0).await;
        lab.start_again(a).await;
        lab.secs(30.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Fallback { instance: None },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        // At once, not after a Master_Down_Interval; b yields on a's advert.
        let seen = lab.watch(VIP, secs(10), ms(20)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "fallback");
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
    });
}

#[test]
fn preempt_delay_holds_the_takeover_back_for_the_delay() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(b, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        let back = lab.lan.elapsed();
        lab.start(a, &v3(150, "preempt_delay 10")).await;
        // Well past Master_Down_Interval (3.4 s) and up to the delay: still b.
        let seen = lab.watch(VIP, ms(9_900), ms(50)).await;
        assert_eq!(seen, [names(&["b"])]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        // After the delay, a preempts within a Master_Down_Interval.
        let mdi = secs(3) + skew(150, secs(1));
        let seen = lab.watch(VIP, mdi + secs(1), ms(50)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        let took = first_advert_after(&lab, a, back) - back;
        assert!(
            took >= secs(10) && took <= secs(10) + mdi + ms(50),
            "{took:?}"
        );
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "preempting");
    });
}

#[test]
fn preempt_delay_does_not_delay_a_takeover_when_the_master_is_gone() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(150, "")).await;
        lab.start(b, &v3(100, "preempt_delay 30")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        let last = last_advert(&lab, a);
        power_off(&mut lab, a, &[VIP]);
        assert_eq!(settle(&lab, VIP, secs(6)).await, ["b"]);
        let took = first_advert_after(&lab, b, last) - last;
        let mdi = secs(3) + skew(100, secs(1));
        assert!(took >= mdi && took <= mdi + ms(20), "{took:?} vs {mdi:?}");
        assert_eq!(lab.instance(b, "VI_1").await.reason_kind, "master_down");
    });
}

#[test]
fn the_address_owner_takes_over_at_once() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(b, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        let started = lab.lan.elapsed();
        lab.start(a, &v3(255, "")).await;
        // RFC 5798 6.4.1: the owner goes to Master on Startup, without waiting; b hears its
        // priority 255 advert and yields at once.
        let seen = lab.watch(VIP, ms(100), ms(5)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        let took = first_advert_after(&lab, a, started - ms(1)) - started;
        assert!(took <= ms(5), "{took:?}");
        let first = &lab.adverts(a)[0];
        assert_eq!(decode(first, "192.0.2.1").priority, 255);
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.reason_kind, "address_owner");
        assert_eq!(sa.priority, 255);
        assert_pair(&lab, a, b, "192.0.2.1", 255).await;
        assert_eq!(settle(&lab, VIP, secs(30)).await, ["a"]);
    });
}

#[test]
fn state_master_takes_the_vip_at_once_and_yields_to_a_better_master() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        // Alone: master at once, not after Master_Down_Interval.
        lab.start(b, &v3(100, "state MASTER")).await;
        lab.secs(0.01).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.reason_kind, "initial_state");
        power_off(&mut lab, b, &[VIP]);
        // With a better master running: b takes the VIP, announces itself, a answers its
        // lower priority at once (RFC 9568, keepalived) and b yields: well within 1 s.
        lab.start(a, &v3(150, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        lab.start_again(b).await;
        lab.secs(0.1).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.state, VrrpState::Backup);
        assert_eq!(sb.reason_kind, "preempted");
        assert_eq!(sb.counters.vrrp.became_master, 1);
        assert_eq!(settle(&lab, VIP, secs(30)).await, ["a"]);
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
    });
}

#[test]
fn state_master_with_nopreempt_waits_like_a_backup() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        // baton.conf(5): with nopreempt, MASTER is not acted on: b (better) must never
        // take the VIP from the running master.
        lab.start(b, &v3(150, "state MASTER\n    nopreempt")).await;
        let seen = lab.watch(VIP, secs(60), ms(10)).await;
        assert_eq!(seen, [names(&["a"])]);
        assert!(lab.adverts(b).is_empty());
        assert_pair(&lab, a, b, "192.0.2.1", 100).await;
        // Alone, it waits Master_Down_Interval before it takes over.
        power_off(&mut lab, a, &[VIP]);
        let last = last_advert(&lab, a);
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        let took = first_advert_after(&lab, b, last) - last;
        assert!(took >= secs(3), "{took:?}");
    });
}

// ---- Three and four nodes ----

#[test]
fn three_nodes_cascade_down_the_priorities_as_masters_crash_and_the_best_returns() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        // Started worst first: each better one preempts in turn.
        lab.start(c, &v3(100, "")).await;
        lab.start(b, &v3(150, "")).await;
        lab.start(a, &v3(200, "")).await;
        let seen = lab.watch(VIP, secs(15), ms(20)).await;
        assert_eq!(
            seen,
            [vec![], names(&["a"])],
            "the best wins the first election"
        );
        for other in [b, c] {
            let s = lab.instance(other, "VI_1").await;
            assert_eq!(s.state, VrrpState::Backup);
            assert_eq!(s.master.expect("hears a").address, "192.0.2.1");
        }
        power_off(&mut lab, a, &[VIP]);
        // b (150) has the shorter Master_Down_Interval: c never holds the VIP.
        let seen = lab.watch(VIP, secs(10), ms(20)).await;
        assert_eq!(seen, [vec![], names(&["b"])]);
        assert_eq!(
            lab.instance(c, "VI_1").await.master.unwrap().address,
            "192.0.2.2"
        );
        power_off(&mut lab, b, &[VIP]);
        let seen = lab.watch(VIP, secs(10), ms(20)).await;
        assert_eq!(seen, [vec![], names(&["c"])]);
        // a returns and preempts c; b, still down, is not missed.
        lab.start_again(a).await;
        let seen = lab.watch(VIP, secs(10), ms(20)).await;
        assert_eq!(seen, [names(&["c"]), names(&["a"])]);
        assert_pair(&lab, a, c, "192.0.2.1", 200).await;
    });
}

#[test]
fn four_nodes_hand_over_within_skew_time_as_each_master_stops() {
    run(|mut lab| async move {
        let prios = [250u8, 200, 150, 100];
        let mut ids = Vec::new();
        for (i, p) in prios.iter().enumerate() {
            let id = lab.node(&format!("n{i}"), &format!("192.0.2.{}/24", i + 1));
            lab.start(id, &v3(*p, "")).await;
            ids.push(id);
        }
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["n0"]);
        for i in 0..3 {
            let stopped = lab.lan.elapsed();
            lab.stop(ids[i]).await.expect("clean stop");
            // A clean stop sends priority 0 (RFC 5798 6.4.3) and removes the VIP.
            let last = lab.adverts(ids[i]).last().cloned().expect("adverts");
            assert_eq!(decode(&last, &format!("192.0.2.{}", i + 1)).priority, 0);
            assert!(lab.holders(VIP).is_empty());
            // The best remaining backup takes over after its Skew_Time (RFC 5798 6.4.2),
            // far sooner than Master_Down_Interval.
            let next = ids[i + 1];
            let seen = lab.watch(VIP, secs(5), ms(10)).await;
            assert_eq!(seen.last(), Some(&names(&[lab.name(next)])));
            let took = first_advert_after(&lab, next, stopped) - last.at;
            let expected = skew(prios[i + 1], secs(1));
            assert!(
                took >= expected && took <= expected + ms(5),
                "{}: {took:?} vs {expected:?}",
                lab.name(next)
            );
            let s = lab.instance(next, "VI_1").await;
            assert_eq!(s.reason_kind, "master_resigned");
            for &other in &ids[i + 2..] {
                let o = lab.instance(other, "VI_1").await;
                assert_eq!(o.state, VrrpState::Backup);
                assert_eq!(
                    o.master.expect("hears the new master").address,
                    format!("192.0.2.{}", i + 2)
                );
            }
        }
    });
}

#[test]
fn three_equal_nodes_started_as_master_settle_on_the_highest_address() {
    run(|mut lab| async move {
        let mut ids = Vec::new();
        for (name, addr) in [
            ("a", "192.0.2.3/24"),
            ("b", "192.0.2.20/24"),
            ("c", "192.0.2.100/24"),
        ] {
            let id = lab.node(name, addr);
            ids.push(id);
        }
        // VIP elsewhere, so no node's own address is the VIP.
        let config = format!(
            "{V3}{}",
            block("VI_1", "eth0", 51, 100, "state MASTER", &["192.0.2.200/24"])
        );
        for &id in &ids {
            lab.start(id, &config).await;
        }
        assert_eq!(settle(&lab, "192.0.2.200", secs(20)).await, ["c"]);
        power_off(&mut lab, ids[2], &["192.0.2.200"]);
        // a and b heard c's last advert together: one takes over, the other follows it
        // (see `two_equal_backups_of_a_crashed_master_leave_one_master_and_one_that_never_advertised`).
        let t0 = lab.lan.elapsed();
        let holders = settle(&lab, "192.0.2.200", secs(10)).await;
        let (master, follower, address) = match holders.as_slice() {
            [h] if h == "a" => (ids[0], ids[1], "192.0.2.3"),
            [h] if h == "b" => (ids[1], ids[0], "192.0.2.20"),
            other => panic!("one of a and b should hold the VIP: {other:?}"),
        };
        assert_pair(&lab, master, follower, address, 100).await;
        assert!(lab.adverts(follower).iter().all(|s| s.at < t0));
    });
}

#[test]
fn a_node_returning_below_the_master_changes_nothing() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &v3(200, "")).await;
        lab.start(b, &v3(150, "")).await;
        lab.start(c, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        power_off(&mut lab, b, &[]);
        lab.secs(5.0).await;
        let back = lab.lan.elapsed();
        lab.start_again(b).await;
        let seen = lab.watch(VIP, secs(60), ms(50)).await;
        assert_eq!(seen, [names(&["a"])]);
        // No election traffic from the backups: only a advertises, once a second.
        assert!(adverts_after(&lab, b, back).is_empty());
        assert!(lab.adverts(c).is_empty());
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.counters.vrrp.became_master, 1);
        assert_eq!(sa.counters.vrrp.adverts_received, 0);
    });
}

// ---- The wire ----

#[test]
fn v3_adverts_carry_version_vrid_priority_interval_and_vips_to_the_group_with_ttl_255() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = format!(
            "{V3}{}",
            block(
                "VI_1",
                "eth0",
                42,
                123,
                "advert_int 2.5",
                &["192.0.2.100/24", "192.0.2.101/24", "192.0.2.102/32"]
            )
        );
        lab.start(a, &config).await;
        lab.secs(30.0).await;
        let sent = lab.adverts(a);
        assert!(sent.len() >= 8, "{}", sent.len());
        for s in &sent {
            assert_eq!(s.dst, ip("224.0.0.18"));
            assert_eq!(s.ttl, 255);
            assert_eq!(s.interface, "eth0");
            let r = decode(s, "192.0.2.1");
            assert_eq!(r.version, Version::V3);
            assert_eq!(r.vrid, 42);
            assert_eq!(r.priority, 123);
            assert_eq!(r.interval_cs, 250);
            assert_eq!(r.auth, Auth::None);
            assert_eq!(
                r.addresses,
                [ip("192.0.2.100"), ip("192.0.2.101"), ip("192.0.2.102")]
            );
        }
        let s = lab.instance(a, "VI_1").await;
        assert_eq!((s.version, s.vrid), (3, 42));
    });
}

#[test]
fn ipv4_instances_speak_vrrpv2_unless_told_otherwise() {
    // keepalived's default vrrp_version is 2; `version` in the instance wins over
    // `vrrp_version` in global_defs.
    let cases = [
        ("", "", Version::V2),
        (V3, "", Version::V3),
        ("", "version 3", Version::V3),
        (V3, "version 2", Version::V2),
    ];
    for (global, extra, version) in cases {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            let config = |p| {
                format!(
                    "{global}{}",
                    block("VI_1", "eth0", 51, p, extra, &["192.0.2.100/24"])
                )
            };
            lab.start(a, &config(150)).await;
            lab.start(b, &config(100)).await;
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"], "{global}/{extra}");
            for s in lab.adverts(a) {
                let r = decode(&s, "192.0.2.1");
                assert_eq!(r.version, version, "{global}/{extra}");
                assert_eq!((r.vrid, r.priority, r.interval_cs), (51, 150, 100));
                assert_eq!(r.addresses, [ip(VIP)]);
                assert_eq!(r.auth, Auth::None);
                assert_eq!((s.dst, s.ttl), (ip("224.0.0.18"), 255));
            }
            assert_eq!(lab.instance(b, "VI_1").await.version, version.number());
            assert_pair(&lab, a, b, "192.0.2.1", 150).await;
            // Failover works the same in both versions.
            power_off(&mut lab, a, &[VIP]);
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        });
    }
}

#[test]
fn a_v2_and_a_v3_node_do_not_hear_each_other() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let block = block("VI_1", "eth0", 51, 100, "", &["192.0.2.100/24"]);
        lab.start(a, &format!("{V3}{block}")).await;
        lab.start(b, &block).await;
        lab.secs(10.0).await;
        // RFC 5798 7.1: the version must match; each drops the other's adverts, so each
        // is master alone (a misconfiguration shown in the drop counters).
        assert_eq!(lab.holders(VIP), ["a", "b"]);
        for id in [a, b] {
            let s = lab.instance(id, "VI_1").await;
            assert_eq!(s.state, VrrpState::Master);
            assert!(
                s.dropped.get("version_mismatch").copied().unwrap_or(0) >= 5,
                "{:?}",
                s.dropped
            );
            assert_eq!(s.counters.vrrp.adverts_received, 0);
        }
    });
}

#[test]
fn vrrp_mcast_group4_moves_the_adverts_to_another_group() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        let group = "global_defs {\n    vrrp_version 3\n    vrrp_mcast_group4 224.0.0.81\n}\n";
        let inst = |p| block("VI_1", "eth0", 51, p, "", &["192.0.2.100/24"]);
        lab.start(a, &format!("{group}{}", inst(150))).await;
        lab.start(b, &format!("{group}{}", inst(100))).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
        assert!(!lab.adverts(a).is_empty());
        for s in lab.adverts(a) {
            assert_eq!((s.dst, s.ttl), (ip("224.0.0.81"), 255));
            assert_eq!(decode(&s, "192.0.2.1").vrid, 51);
        }
        // A node on the default group is on another channel: it hears no master and takes
        // the VIP too (both groups must match on every node).
        lab.start(c, &v3(50, "")).await;
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a", "c"]);
        assert_eq!(lab.state(c, "VI_1").await, VrrpState::Master);
        for s in lab.adverts(c) {
            assert_eq!(s.dst, ip("224.0.0.18"));
        }
    });
}

#[test]
fn mcast_dst_ip_in_the_instance_wins_over_the_global_group() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let global = "global_defs {\n    vrrp_version 3\n    vrrp_mcast_group4 224.0.0.81\n}\n";
        let inst = |p| {
            block(
                "VI_1",
                "eth0",
                51,
                p,
                "mcast_dst_ip 224.0.0.82",
                &["192.0.2.100/24"],
            )
        };
        lab.start(a, &format!("{global}{}", inst(150))).await;
        lab.start(b, &format!("{global}{}", inst(100))).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert!(lab.adverts(a).iter().all(|s| s.dst == ip("224.0.0.82")));
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
    });
}

// ---- Timers ----

#[test]
fn the_backup_takes_over_exactly_master_down_interval_after_the_last_advert() {
    // RFC 5798 6.1: Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, Skew_Time
    // = (256 - priority) * Master_Adver_Interval / 256; RFC 3768 6.1 (VRRPv2): Skew_Time =
    // (256 - priority) / 256 s whatever the interval.
    // (instance lines, interval, the backup's priority, its Skew_Time)
    let cases = [
        (
            "version 3\n    advert_int 0.1",
            ms(100),
            100,
            skew(100, ms(100)),
        ),
        (
            "version 3\n    advert_int 3",
            secs(3),
            100,
            skew(100, secs(3)),
        ),
        (
            "version 2\n    advert_int 3",
            secs(3),
            100,
            skew(100, secs(1)),
        ),
        (
            "version 3\n    advert_int 0.5",
            ms(500),
            100,
            skew(100, ms(500)),
        ),
        ("version 3", secs(1), 1, skew(1, secs(1))),
        ("version 3", secs(1), 254, skew(254, secs(1))),
        ("version 2", secs(1), 254, skew(254, secs(1))),
    ];
    for (extra, interval, priority, skew) in cases {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            let config = |p| block("VI_1", "eth0", 51, p, extra, &["192.0.2.100/24"]);
            lab.start(a, &config(255)).await;
            lab.start(b, &config(priority)).await;
            assert_eq!(settle(&lab, VIP, interval * 10).await, ["a"], "{extra}");
            let s = lab.instance(b, "VI_1").await;
            assert_eq!(s.state, VrrpState::Backup);
            let mdi = interval * 3 + skew;
            let last = last_advert(&lab, a);
            power_off(&mut lab, a, &[VIP]);
            let since_last = lab.lan.elapsed() - last;
            // Not one step before Master_Down_Interval ...
            let seen = lab.watch(VIP, mdi - since_last - ms(2), ms(1)).await;
            assert_eq!(
                seen,
                [Vec::<String>::new()],
                "{extra}/{priority}: too early"
            );
            // ... and at it.
            let seen = lab.watch(VIP, ms(10), ms(1)).await;
            assert_eq!(
                seen.last(),
                Some(&names(&["b"])),
                "{extra}/{priority}: too late"
            );
            let took = first_advert_after(&lab, b, last) - last;
            assert!(
                took >= mdi && took <= mdi + ms(2),
                "{extra}/{priority}: {took:?} vs {mdi:?}"
            );
        });
    }
}

#[test]
fn a_v3_backup_uses_the_masters_interval_for_its_timer() {
    // RFC 5798 6.4.2: the backup sets Master_Adver_Interval to the advert's interval, so a
    // master advertising every 0.5 s is declared down after 3 * 0.5 s + skew, even though
    // the backup itself is configured with 2 s.
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(150, "advert_int 0.5")).await;
        lab.start(b, &v3(100, "advert_int 2")).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let last = last_advert(&lab, a);
        power_off(&mut lab, a, &[VIP]);
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        let took = first_advert_after(&lab, b, last) - last;
        let mdi = ms(1500) + skew(100, ms(500));
        assert!(took >= mdi && took <= mdi + ms(2), "{took:?} vs {mdi:?}");
        // b then advertises at its own interval.
        let sent = lab.adverts(b);
        let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1].at - w[0].at).collect();
        assert!(gaps.len() >= 3, "{gaps:?}");
        assert!(gaps.iter().all(|g| *g == secs(2)), "{gaps:?}");
        assert_eq!(decode(&sent[0], "192.0.2.2").interval_cs, 200);
    });
}

#[test]
fn a_v2_backup_discards_adverts_with_another_interval() {
    // RFC 3768 7.1: a VRRPv2 advert whose interval differs from the local one is discarded
    // (counted), so the backup does not take it as its master.
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(150, "version 2\n    advert_int 1")).await;
        lab.start(b, &v3(100, "version 2\n    advert_int 2")).await;
        lab.secs(20.0).await;
        assert_eq!(lab.holders(VIP), ["a", "b"]);
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.state, VrrpState::Master);
        assert!(
            sb.counters.vrrp.interval_mismatch >= 10,
            "{:?}",
            sb.counters
        );
        let sa = lab.instance(a, "VI_1").await;
        assert!(sa.counters.vrrp.interval_mismatch >= 5, "{:?}", sa.counters);
        // The same intervals: one master.
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(c, &v3(100, "version 2\n    advert_int 1")).await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(c, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn the_master_keeps_its_interval_over_a_long_run() {
    for (extra, interval) in [
        ("", secs(1)),
        ("advert_int 0.25", ms(250)),
        ("advert_int 7", secs(7)),
    ] {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            lab.start(a, &v3(150, extra)).await;
            lab.start(b, &v3(100, extra)).await;
            lab.secs(600.0).await;
            let sent = lab.adverts(a);
            let expected = (secs(600).as_millis() / interval.as_millis()) as usize;
            assert!(
                sent.len() + 5 >= expected && sent.len() <= expected,
                "{extra}: {} adverts, expected about {expected}",
                sent.len()
            );
            for w in sent.windows(2) {
                let gap = w[1].at - w[0].at;
                assert!(
                    gap >= interval && gap <= interval + ms(1),
                    "{extra}: gap {gap:?} at {:?}",
                    w[1].at
                );
            }
            assert!(lab.adverts(b).is_empty(), "{extra}: the backup advertised");
            assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
            let sb = lab.instance(b, "VI_1").await;
            assert_eq!(sb.counters.vrrp.adverts_received, sent.len() as u64);
        });
    }
}

// ---- Several instances, several segments ----

#[test]
fn instances_with_different_vrids_on_one_interface_elect_independently() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let config = |p1, p2| {
            format!(
                "{V3}{}{}",
                block("VI_1", "eth0", 51, p1, "", &["192.0.2.100/24"]),
                block("VI_2", "eth0", 52, p2, "", &["192.0.2.200/24"])
            )
        };
        lab.start(a, &config(150, 100)).await;
        lab.start(b, &config(100, 150)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders("192.0.2.100"), ["a"]);
        assert_eq!(lab.holders("192.0.2.200"), ["b"]);
        assert_eq!(lab.state(a, "VI_2").await, VrrpState::Backup);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        let b2 = lab
            .instance(a, "VI_2")
            .await
            .master
            .expect("a hears b on VI_2");
        assert_eq!((b2.address.as_str(), b2.priority), ("192.0.2.2", 150));
        // Each master advertises only its own VRID, with its own VIP.
        for (id, src, vrid, vip) in [
            (a, "192.0.2.1", 51, "192.0.2.100"),
            (b, "192.0.2.2", 52, "192.0.2.200"),
        ] {
            for s in lab.adverts(id) {
                let r = decode(&s, src);
                assert_eq!((r.vrid, r.addresses.clone()), (vrid, vec![ip(vip)]));
            }
        }
        // b goes: a takes VI_2 as well; VI_1 does not move.
        power_off(&mut lab, b, &["192.0.2.200"]);
        let seen = lab.watch("192.0.2.200", secs(10), ms(50)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        assert_eq!(lab.holders("192.0.2.100"), ["a"]);
        let s = lab.instance(a, "VI_1").await;
        assert_eq!(s.counters.vrrp.became_master, 1);
    });
}

#[test]
fn the_same_vrid_on_two_segments_makes_two_separate_elections() {
    run(|mut lab| async move {
        // r is on both segments; a is on lan1, b on lan2, each with its own instance.
        let r = lab.node_with(
            "r",
            &[
                ("eth0", "lan1", &["192.0.2.1/24"]),
                ("eth1", "lan2", &["198.51.100.1/24"]),
            ],
        );
        let a = lab.node_with("a", &[("eth0", "lan1", &["192.0.2.2/24"])]);
        let b = lab.node_with("b", &[("eth0", "lan2", &["198.51.100.2/24"])]);
        let lan1 = |p| block("V1", "eth0", 51, p, "", &["192.0.2.100/24"]);
        let lan2 = |p, iface| block("V2", iface, 51, p, "", &["198.51.100.100/24"]);
        lab.start(r, &format!("{V3}{}{}", lan1(100), lan2(200, "eth1")))
            .await;
        lab.start(a, &format!("{V3}{}", lan1(200))).await;
        lab.start(b, &format!("{V3}{}", lan2(100, "eth0"))).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders("192.0.2.100"), ["a"]);
        assert_eq!(lab.holders("198.51.100.100"), ["r"]);
        let v1 = lab.instance(r, "V1").await;
        assert_eq!(v1.master.expect("r hears a").address, "192.0.2.2");
        let v2 = lab.instance(b, "V2").await;
        assert_eq!(v2.master.expect("b hears r").address, "198.51.100.1");
        // b hears only its own segment: a's adverts (same VRID) never reach it.
        assert_eq!(
            v2.counters.vrrp.adverts_received,
            lab.adverts(r)
                .iter()
                .filter(|s| s.interface == "eth1")
                .count() as u64
        );
        // a on lan1 going away moves lan1's VIP only.
        power_off(&mut lab, a, &["192.0.2.100"]);
        lab.secs(10.0).await;
        assert_eq!(lab.holders("192.0.2.100"), ["r"]);
        assert_eq!(lab.holders("198.51.100.100"), ["r"]);
        assert_eq!(lab.state(b, "V2").await, VrrpState::Backup);
    });
}

// ---- IPv6 ----

const VIP6: &str = "2001:db8::100";

fn v6(priority: u8, extra: &str) -> String {
    block("VI_1", "eth0", 51, priority, extra, &["2001:db8::100/64"])
}

#[test]
fn an_ipv6_instance_advertises_to_ff02_12_from_its_link_local_address() {
    run(|mut lab| async move {
        let a = lab.node("a", "2001:db8::1/64");
        let b = lab.node("b", "2001:db8::2/64");
        // The fake gives node n (from 0) on its first interface fe80::(n+1):1.
        let (ll_a, ll_b) = ("fe80::1:1", "fe80::2:1");
        lab.start(a, &v6(150, "")).await;
        lab.start(b, &v6(100, "")).await;
        assert_eq!(settle(&lab, VIP6, secs(10)).await, ["a"]);
        let sent = lab.adverts(a);
        assert!(!sent.is_empty());
        for s in &sent {
            assert_eq!((s.dst, s.ttl), (ip("ff02::12"), 255));
            // The checksum covers the pseudo-header: it verifies with the link-local source.
            let r = decode(s, ll_a);
            assert_eq!(r.version, Version::V3);
            assert_eq!((r.vrid, r.priority, r.interval_cs), (51, 150, 100));
            assert_eq!(r.addresses, [ip(VIP6)]);
        }
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.version, 3);
        assert_eq!(sb.state, VrrpState::Backup);
        assert_eq!(sb.master.expect("b hears a").address, ll_a);
        power_off(&mut lab, a, &[VIP6]);
        assert_eq!(settle(&lab, VIP6, secs(10)).await, ["b"]);
        for s in adverts_after(&lab, b, Duration::ZERO) {
            assert_eq!(decode(&s, ll_b).priority, 100);
        }
    });
}

#[test]
fn ipv6_equal_priorities_break_the_tie_on_the_link_local_address() {
    // The primary address of an IPv6 instance is its link-local address (RFC 5798 5.1.2.2):
    // b's fe80::2:1 is above a's fe80::1:1, whatever their global addresses.
    run(|mut lab| async move {
        let a = lab.node("a", "2001:db8::ff/64");
        let b = lab.node("b", "2001:db8::1/64");
        lab.start(a, &v6(100, "state MASTER")).await;
        lab.start(b, &v6(100, "state MASTER")).await;
        assert_eq!(settle(&lab, VIP6, secs(10)).await, ["b"]);
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.state, VrrpState::Backup);
        assert_eq!(sa.master.expect("a hears b").address, "fe80::2:1");
    });
}

#[test]
fn a_new_ipv6_master_sends_unsolicited_neighbour_advertisements() {
    run(|mut lab| async move {
        let a = lab.node("a", "2001:db8::1/64");
        lab.start(a, &v6(150, "garp_master_repeat 2\n    garp_master_delay 3"))
            .await;
        lab.secs(20.0).await;
        let frames = lab.frames(a);
        let mac = lab.lan.ifaces(a)[0].mac;
        let mut times = Vec::new();
        for f in &frames {
            let na = NaFrame::parse(&f.bytes).expect("an unsolicited NA");
            assert_eq!(na.target, VIP6.parse::<std::net::Ipv6Addr>().unwrap());
            assert!(na.override_flag(), "override set");
            assert!(!na.solicited(), "unsolicited");
            assert_eq!(na.eth_src, mac);
            assert_eq!(na.target_mac, Some(mac));
            assert_eq!(na.dst, "ff02::1".parse::<std::net::Ipv6Addr>().unwrap());
            assert_eq!(na.hop_limit, 255);
            times.push(f.at);
        }
        let t0 = first_advert_after(&lab, a, Duration::ZERO);
        let rel: Vec<Duration> = times.iter().map(|t| *t - t0).collect();
        assert_eq!(
            rel,
            [Duration::ZERO, Duration::ZERO, ms(1100), secs(3), secs(3)],
            "two at once, one past the neighbour locktime, two after garp_master_delay"
        );
    });
}

// ---- Unicast ----

fn unicast(priority: u8, src: &str, peers: &[&str], extra: &str) -> String {
    v3(
        priority,
        &format!(
            "unicast_src_ip {src}\n    unicast_peer {{\n        {}\n    }}\n    {extra}",
            peers.join("\n        ")
        ),
    )
}

#[test]
fn unicast_adverts_go_to_each_peer_and_elect() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        let all = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
        let peers = |me: &str| all.iter().copied().filter(|p| *p != me).collect::<Vec<_>>();
        lab.start(a, &unicast(200, "192.0.2.1", &peers("192.0.2.1"), ""))
            .await;
        lab.start(b, &unicast(150, "192.0.2.2", &peers("192.0.2.2"), ""))
            .await;
        lab.start(c, &unicast(100, "192.0.2.3", &peers("192.0.2.3"), ""))
            .await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        // One copy to each peer per interval, never to the group; unicast adverts keep TTL
        // 255 (unicast_ttl's default).
        let sent = lab.adverts(a);
        assert!(sent.len() >= 12, "{}", sent.len());
        for pair in sent.chunks(2) {
            let dsts: Vec<IpAddr> = pair.iter().map(|s| s.dst).collect();
            assert_eq!(dsts, [ip("192.0.2.2"), ip("192.0.2.3")]);
            assert_eq!(pair[0].at, pair[1].at);
        }
        for s in &sent {
            assert_eq!(s.ttl, 255);
            assert_eq!(decode(s, "192.0.2.1").priority, 200);
        }
        for id in [b, c] {
            let s = lab.instance(id, "VI_1").await;
            assert_eq!(s.state, VrrpState::Backup);
            assert_eq!(s.master.expect("hears a").address, "192.0.2.1");
        }
        power_off(&mut lab, a, &[VIP]);
        let seen = lab.watch(VIP, secs(10), ms(20)).await;
        assert_eq!(seen, [vec![], names(&["b"])]);
        assert!(
            adverts_after(&lab, b, Duration::ZERO)
                .iter()
                .all(|s| s.dst != ip("224.0.0.18"))
        );
    });
}

#[test]
fn unicast_src_ip_is_the_source_and_the_address_the_peers_see() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        // b sends from its second address.
        let b = lab.node_with("b", &[("eth0", "lan", &["192.0.2.2/24", "192.0.2.22/24"])]);
        lab.start(
            a,
            &unicast(200, "192.0.2.1", &["192.0.2.22"], "check_unicast_src"),
        )
        .await;
        lab.start(b, &unicast(100, "192.0.2.22", &["192.0.2.1"], ""))
            .await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert_pair(&lab, a, b, "192.0.2.1", 200).await;
        power_off(&mut lab, a, &[VIP]);
        lab.secs(10.0).await;
        let sent = lab.adverts(b);
        assert!(!sent.is_empty());
        for s in &sent {
            assert_eq!(s.dst, ip("192.0.2.1"));
            decode(s, "192.0.2.22");
        }
        // a, back, hears b from 192.0.2.22, the listed peer, and preempts it.
        lab.start_again(a).await;
        lab.secs(1.5).await;
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.state, VrrpState::Backup);
        assert_eq!(sa.master.expect("a hears b").address, "192.0.2.22");
        assert!(sa.dropped.is_empty(), "{:?}", sa.dropped);
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
    });
}

#[test]
fn with_check_unicast_src_a_node_not_in_the_peer_list_is_not_heard() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(
            a,
            &unicast(100, "192.0.2.1", &["192.0.2.2"], "check_unicast_src"),
        )
        .await;
        lab.start(
            b,
            &unicast(90, "192.0.2.2", &["192.0.2.1"], "check_unicast_src"),
        )
        .await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        // c (better) sends to both, but neither lists it: its adverts are dropped, a stays
        // master and b keeps following a.
        lab.start(
            c,
            &unicast(250, "192.0.2.3", &["192.0.2.1", "192.0.2.2"], ""),
        )
        .await;
        lab.secs(30.0).await;
        assert!(
            lab.holders(VIP).contains(&"a".to_string()),
            "{:?}",
            lab.holders(VIP)
        );
        for id in [a, b] {
            let s = lab.instance(id, "VI_1").await;
            assert!(
                s.dropped.get("unknown_peer").copied().unwrap_or(0) >= 20,
                "{}: {:?}",
                lab.name(id),
                s.dropped
            );
        }
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.state, VrrpState::Backup);
        assert_eq!(sb.master.expect("b hears a").address, "192.0.2.1");
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
    });
}

#[test]
fn a_unicast_node_hears_only_adverts_sent_to_it() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        // a sends only to b; c lists a but is not in a's list, so it never hears a.
        lab.start(a, &unicast(200, "192.0.2.1", &["192.0.2.2"], ""))
            .await;
        lab.start(b, &unicast(100, "192.0.2.2", &["192.0.2.1"], ""))
            .await;
        lab.start(c, &unicast(150, "192.0.2.3", &["192.0.2.1"], ""))
            .await;
        lab.secs(10.0).await;
        assert_pair(&lab, a, b, "192.0.2.1", 200).await;
        let sc = lab.instance(c, "VI_1").await;
        assert_eq!(sc.state, VrrpState::Master, "c hears no master: {sc:?}");
        assert_eq!(sc.counters.vrrp.adverts_received, 0);
        // c's adverts reach a, which answers them (as keepalived does) only to its peers.
        assert!(lab.adverts(a).iter().all(|s| s.dst == ip("192.0.2.2")));
        assert!(lab.adverts(c).iter().all(|s| s.dst == ip("192.0.2.1")));
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.state, VrrpState::Master);
        assert!(
            sa.counters.vrrp.lower_priority_master >= 5,
            "{:?}",
            sa.counters
        );
    });
}

// ---- Addresses and announcements ----

#[test]
fn all_vips_and_excluded_addresses_move_together_and_only_vips_are_advertised() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let vips = ["192.0.2.100/24", "192.0.2.101/24", "198.51.100.7/32"];
        let excluded =
            "virtual_ipaddress_excluded {\n        203.0.113.5/24\n        2001:db8::5/64\n    }";
        let all = [
            "192.0.2.100",
            "192.0.2.101",
            "198.51.100.7",
            "203.0.113.5",
            "2001:db8::5",
        ];
        let config = |p| format!("{V3}{}", block("VI_1", "eth0", 51, p, excluded, &vips));
        lab.start(a, &config(150)).await;
        lab.start(b, &config(100)).await;
        lab.secs(10.0).await;
        for addr in all {
            assert_eq!(lab.holders(addr), ["a"], "{addr}");
        }
        for s in lab.adverts(a) {
            assert_eq!(
                decode(&s, "192.0.2.1").addresses,
                [ip("192.0.2.100"), ip("192.0.2.101"), ip("198.51.100.7")]
            );
        }
        // A clean stop removes every one of them; b takes all of them.
        lab.stop(a).await.expect("clean stop");
        for addr in all {
            assert!(lab.holders(addr).is_empty(), "{addr} left on a");
        }
        lab.secs(2.0).await;
        for addr in all {
            assert_eq!(lab.holders(addr), ["b"], "{addr}");
        }
        let sb = lab.instance(b, "VI_1").await;
        assert!(sb.vips.iter().all(|v| v.present), "{:?}", sb.vips);
        // Back: a preempts and takes all of them again; b keeps none.
        lab.start_again(a).await;
        lab.secs(10.0).await;
        for addr in all {
            assert_eq!(lab.holders(addr), ["a"], "{addr}");
        }
    });
}

/// The gratuitous ARPs node `id` sent, as (time since `t0`, VIP), checking each frame.
fn garps(lab: &Lab, id: NodeId, t0: Duration) -> Vec<(Duration, IpAddr)> {
    let mac = lab.lan.ifaces(id)[0].mac;
    lab.frames(id)
        .iter()
        .map(|f| {
            let arp = ArpFrame::parse(&f.bytes).expect("an ARP frame");
            assert!(arp.is_gratuitous(), "{arp:?}");
            assert_eq!(arp.sender_mac, mac);
            assert_eq!(arp.eth_src, mac);
            assert_eq!(arp.eth_dst, [0xff; 6]);
            (f.at - t0, IpAddr::V4(arp.sender_ip))
        })
        .collect()
}

#[test]
fn a_new_master_sends_garp_bursts_per_garp_master_repeat_and_delay() {
    // (global_defs lines, instance lines, when each VIP is announced after the takeover):
    // garp_master_repeat at once and again garp_master_delay later, the instance's values
    // over the global ones; baton adds one message 1.1 s after the first burst (past the
    // clients' neighbour locktime).
    let t = |list: &[u64]| list.iter().map(|&m| ms(m)).collect::<Vec<_>>();
    let cases = [
        (
            "",
            "",
            t(&[0, 0, 0, 0, 0, 1100, 5000, 5000, 5000, 5000, 5000]),
        ),
        (
            "",
            "garp_master_repeat 3\n    garp_master_delay 2",
            t(&[0, 0, 0, 1100, 2000, 2000, 2000]),
        ),
        (
            "",
            "garp_master_repeat 1\n    garp_master_delay 0",
            t(&[0, 1100]),
        ),
        (
            "vrrp_garp_master_repeat 2\n    vrrp_garp_master_delay 3",
            "",
            t(&[0, 0, 1100, 3000, 3000]),
        ),
        (
            "vrrp_garp_master_repeat 2",
            "garp_master_repeat 4",
            t(&[0, 0, 0, 0, 1100, 5000, 5000, 5000, 5000]),
        ),
        ("vrrp_min_garp", "", t(&[0, 1100])),
    ];
    for (global, extra, times) in cases {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let config = format!(
                "global_defs {{\n    vrrp_version 3\n    {global}\n}}\n{}",
                block(
                    "VI_1",
                    "eth0",
                    51,
                    150,
                    extra,
                    &["192.0.2.100/24", "192.0.2.101/24"]
                )
            );
            lab.start(a, &config).await;
            lab.secs(60.0).await;
            let t0 = first_advert_after(&lab, a, Duration::ZERO);
            let mut got = garps(&lab, a, t0);
            let mut expected: Vec<(Duration, IpAddr)> = times
                .iter()
                .flat_map(|&at| [(at, ip("192.0.2.100")), (at, ip("192.0.2.101"))])
                .collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{global:?} {extra:?}");
        });
    }
}

#[test]
fn vrrp_garp_interval_spaces_the_messages_of_a_burst() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = format!(
            "global_defs {{\n    vrrp_version 3\n    vrrp_garp_interval 0.01\n}}\n{}",
            block(
                "VI_1",
                "eth0",
                51,
                150,
                "garp_master_repeat 3\n    garp_master_delay 0",
                &["192.0.2.100/24"]
            )
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let t0 = first_advert_after(&lab, a, Duration::ZERO);
        let got: Vec<Duration> = garps(&lab, a, t0).into_iter().map(|(t, _)| t).collect();
        assert_eq!(got, [Duration::ZERO, ms(10), ms(20), ms(1100)]);
    });
}

#[test]
fn garp_master_refresh_repeats_while_master_and_stops_after() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let extra = "garp_master_repeat 1\n    garp_master_delay 0\n    garp_master_refresh 10\n    garp_master_refresh_repeat 2";
        lab.start(a, &v3(150, extra)).await;
        lab.start(b, &v3(100, extra)).await;
        lab.secs(45.0).await;
        let t0 = first_advert_after(&lab, a, Duration::ZERO);
        let times: Vec<Duration> = garps(&lab, a, t0).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            times,
            [
                Duration::ZERO,
                ms(1100),
                secs(10),
                secs(10),
                secs(20),
                secs(20),
                secs(30),
                secs(30),
                secs(40),
                secs(40)
            ]
            .into_iter()
            .filter(|t| t0 + *t <= lab.lan.elapsed())
            .collect::<Vec<_>>()
        );
        assert!(lab.frames(b).is_empty(), "the backup announced");
        // a stops: no more refreshes from it; b, now master, announces.
        let stopped = lab.lan.elapsed();
        lab.stop(a).await.expect("clean stop");
        lab.secs(60.0).await;
        assert!(lab.frames(a).iter().all(|f| f.at <= stopped));
        assert!(!lab.frames(b).is_empty());
    });
}

#[test]
fn a_master_that_loses_the_election_cancels_its_pending_garps() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(b, &v3(100, "")).await;
        while lab.holders(VIP).is_empty() {
            lab.wait(ms(10)).await;
        }
        let t0 = first_advert_after(&lab, b, Duration::ZERO);
        // a (better) arrives 0.5 s after b became master and preempts it after its
        // Master_Down_Interval (3.2 s): after b's 1.1 s message, before its 5 s burst.
        lab.secs(0.5).await;
        lab.start(a, &v3(200, "")).await;
        lab.secs(4.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let t1 = first_advert_after(&lab, a, Duration::ZERO);
        lab.secs(20.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let from_b: Vec<Duration> = garps(&lab, b, t0).into_iter().map(|(t, _)| t).collect();
        let mut expected = vec![Duration::ZERO; 5];
        expected.push(ms(1100));
        assert_eq!(from_b, expected, "b announced after it lost the VIP");
        // a took over from a master it heard: b's last advert as it yields is no split
        // brain, so a sends its own bursts and no more.
        let from_a: Vec<Duration> = garps(&lab, a, t1).into_iter().map(|(t, _)| t).collect();
        let mut expected = vec![Duration::ZERO; 5];
        expected.push(ms(1100));
        expected.extend([secs(5); 5]);
        assert_eq!(from_a, expected);
    });
}

// ---- More: contention, authentication, disagreeing peers, IPv6 unicast, VIPs elsewhere ----

#[test]
fn two_equal_backups_of_a_crashed_master_leave_one_master_and_one_that_never_advertised() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &v3(200, "")).await;
        lab.start(b, &v3(100, "")).await;
        lab.start(c, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        power_off(&mut lab, a, &[VIP]);
        let t0 = lab.lan.elapsed();
        // b and c heard a's last advert at the same moment, and their equal timers run
        // out at the same moment. The one serviced first takes over and advertises; the
        // other has that advert in hand when its own timer is serviced (the fake LAN has
        // no delay), takes it in first and stays backup (RFC 5798 6.4.2: an advert of
        // equal priority resets a backup's timer). Taking the timers first made both
        // master for a moment, each with its hooks, until the lower address yielded
        // (6.4.3); on a wire with delay that can still happen, and settles the same way.
        let seen = lab.watch(VIP, secs(10), ms(10)).await;
        assert!(seen.iter().all(|h| h.len() <= 1), "two masters: {seen:?}");
        let (master, follower, address) = match lab.holders(VIP).as_slice() {
            [h] if h == "b" => (b, c, "192.0.2.2"),
            [h] if h == "c" => (c, b, "192.0.2.3"),
            other => panic!("one of b and c should hold the VIP: {other:?}"),
        };
        assert_pair(&lab, master, follower, address, 100).await;
        let late: Vec<Duration> = lab
            .adverts(follower)
            .iter()
            .map(|s| s.at)
            .filter(|at| *at >= t0)
            .collect();
        assert!(
            late.is_empty(),
            "{} advertised at {late:?}",
            lab.name(follower)
        );
        assert_eq!(settle(&lab, VIP, secs(30)).await, [lab.name(master)]);
    });
}

#[test]
fn a_healed_partition_leaves_the_higher_priority_master() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &v3(100, "")).await;
        lab.start(b, &v3(200, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a", "b"]);
        lab.lan.heal(a, b);
        // Whoever speaks first, the lower one yields within one advert interval.
        lab.secs(1.1).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let sa = lab.instance(a, "VI_1").await;
        assert_eq!(sa.state, VrrpState::Backup);
        assert_eq!(sa.reason_kind, "preempted");
        assert_eq!(settle(&lab, VIP, secs(30)).await, ["b"]);
    });
}

#[test]
fn a_preempted_master_sends_one_last_advert_unless_higher_prio_send_advert_is_off() {
    for (extra, last_adverts) in [("", 1), ("higher_prio_send_advert off", 0)] {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            lab.start(b, &v3(100, extra)).await;
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
            lab.start(a, &v3(200, "")).await;
            // a preempts after its Master_Down_Interval.
            assert_eq!(settle(&lab, VIP, secs(5)).await, ["a"]);
            let took = first_advert_after(&lab, a, Duration::ZERO);
            let after: Vec<u8> = adverts_after(&lab, b, took - ms(1))
                .iter()
                .map(|s| decode(s, "192.0.2.2").priority)
                .collect();
            // At its own priority (not 0: that would make the others take over).
            assert_eq!(after, vec![100; last_adverts], "{extra:?}");
            assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        });
    }
}

#[test]
fn ipv4_and_ipv6_instances_with_the_same_vrid_elect_separately() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let config = |p4, p6| {
            format!(
                "{V3}{}{}",
                block("V4", "eth0", 51, p4, "", &["192.0.2.100/24"]),
                block("V6", "eth0", 51, p6, "", &["2001:db8::100/64"])
            )
        };
        lab.start(a, &config(200, 100)).await;
        lab.start(b, &config(100, 200)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.holders(VIP6), ["b"]);
        let v6 = lab.instance(a, "V6").await;
        assert_eq!(v6.state, VrrpState::Backup);
        assert_eq!(v6.master.expect("a hears b over IPv6").address, "fe80::2:1");
        let v4 = lab.instance(b, "V4").await;
        assert_eq!(v4.master.expect("b hears a over IPv4").address, "192.0.2.1");
        let dsts: Vec<IpAddr> = lab.adverts(b).iter().map(|s| s.dst).collect();
        assert!(dsts.iter().all(|d| *d == ip("ff02::12")), "{dsts:?}");
    });
}

#[test]
fn unicast_ttl_is_on_the_wire_and_a_peer_min_ttl_drops_what_is_below() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(
            a,
            &unicast(200, "192.0.2.1", &["192.0.2.2"], "unicast_ttl 64"),
        )
        .await;
        lab.start(b, &unicast(100, "192.0.2.2", &["192.0.2.1"], ""))
            .await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert!(lab.adverts(a).iter().all(|s| s.ttl == 64));
        assert_pair(&lab, a, b, "192.0.2.1", 200).await;
        // b now accepts from a only TTL 100 and above: a is no longer heard.
        lab.stop(b).await.expect("stop");
        lab.start(
            b,
            &unicast(100, "192.0.2.2", &["192.0.2.1 min_ttl 100"], ""),
        )
        .await;
        lab.secs(10.0).await;
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.state, VrrpState::Master);
        assert!(
            sb.dropped.get("bad_ttl").copied().unwrap_or(0) >= 5,
            "{:?}",
            sb.dropped
        );
    });
}

#[test]
fn vrrpv2_pass_authentication_is_on_the_wire_and_a_wrong_password_is_not_heard() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        let auth = |pass: &str| {
            format!(
                "version 2\n    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
            )
        };
        let config = |p, pass: &str| block("VI_1", "eth0", 51, p, &auth(pass), &["192.0.2.100/24"]);
        lab.start(a, &config(150, "s3cret")).await;
        lab.start(b, &config(100, "s3cret")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
        for s in lab.adverts(a) {
            let r = decode(&s, "192.0.2.1");
            assert_eq!(r.version, Version::V2);
            assert_eq!(r.auth, Auth::Pass(*b"s3cret\0\0"));
        }
        // RFC 3768 7.1: another password is dropped; c hears no master and takes over too.
        lab.start(c, &config(50, "other")).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a", "c"]);
        let sc = lab.instance(c, "VI_1").await;
        assert_eq!(sc.state, VrrpState::Master);
        assert!(
            sc.dropped.get("auth_mismatch").copied().unwrap_or(0) >= 5,
            "{:?}",
            sc.dropped
        );
        assert_eq!(sc.counters.vrrp.adverts_received, 0);
    });
}

#[test]
fn a_peer_advertising_other_vips_is_still_obeyed_and_reported() {
    // RFC 5798 7.1 (MAY) / keepalived: a VIP list that differs is logged, not dropped: the
    // election still has one master, and status shows the disagreement.
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let a_config = format!(
            "{V3}{}",
            block(
                "VI_1",
                "eth0",
                51,
                150,
                "",
                &["192.0.2.100/24", "192.0.2.101/24"]
            )
        );
        lab.start(a, &a_config).await;
        lab.start(b, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["a"]);
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
        assert_pair(&lab, a, b, "192.0.2.1", 150).await;
        let sb = lab.instance(b, "VI_1").await;
        assert_eq!(sb.peer_mismatches.len(), 1, "{:?}", sb.peer_mismatches);
        let m = &sb.peer_mismatches[0];
        assert_eq!(m.peer, "192.0.2.1");
        assert!(!m.discarded);
        let fields: Vec<&str> = m.differences.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["vips"]);
    });
}

#[test]
fn lower_prio_no_advert_leaves_a_lower_master_until_the_next_periodic_advert() {
    // b (better) is master; a starts MASTER at once (state MASTER). By default b answers
    // a's lower-priority advert at once (RFC 9568, keepalived) and a yields within
    // milliseconds; with lower_prio_no_advert (RFC 5798 6.4.3 as written) b stays silent
    // and a yields only at b's next periodic advert.
    for (extra, answers) in [("", true), ("lower_prio_no_advert", false)] {
        run(move |mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            lab.start(b, &v3(200, extra)).await;
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
            // Start a just after one of b's adverts, so the next is ~1 s away.
            let count = lab.adverts(b).len();
            while lab.adverts(b).len() == count {
                lab.wait(ms(10)).await;
            }
            lab.wait(ms(1)).await;
            let started = lab.lan.elapsed();
            lab.start(a, &v3(100, "state MASTER")).await;
            lab.wait(ms(20)).await;
            let answered = lab.adverts(b).iter().filter(|s| s.at >= started).count();
            if answers {
                assert_eq!(answered, 1, "b answers a at once");
                assert_eq!(lab.holders(VIP), ["b"]);
            } else {
                assert_eq!(answered, 0, "b stays silent");
                assert_eq!(lab.holders(VIP), ["a", "b"]);
                lab.wait(ms(1000)).await;
                assert_eq!(lab.holders(VIP), ["b"]);
                // a yielded to b's periodic advert, about an interval after it started.
                let periodic = lab.adverts(b).iter().find(|s| s.at >= started).unwrap().at;
                assert!(periodic - started >= ms(900), "{:?}", periodic - started);
                let since = lab.instance(a, "VI_1").await.since_s;
                let expected = (lab.lan.elapsed() - periodic).as_secs_f64();
                assert!((since - expected).abs() < 0.002, "{since} vs {expected}");
            }
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
            assert_pair(&lab, b, a, "192.0.2.2", 200).await;
        });
    }
}

#[test]
fn an_ipv6_unicast_pair_elects_over_its_global_addresses() {
    run(|mut lab| async move {
        let a = lab.node("a", "2001:db8::1/64");
        let b = lab.node("b", "2001:db8::2/64");
        let config = |p, src: &str, peer: &str| {
            block(
                "VI_1",
                "eth0",
                51,
                p,
                &format!("unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}"),
                &["2001:db8::100/64"],
            )
        };
        lab.start(a, &config(150, "2001:db8::1", "2001:db8::2"))
            .await;
        lab.start(b, &config(100, "2001:db8::2", "2001:db8::1"))
            .await;
        assert_eq!(settle(&lab, VIP6, secs(10)).await, ["a"]);
        for s in lab.adverts(a) {
            assert_eq!((s.dst, s.ttl), (ip("2001:db8::2"), 255));
            assert_eq!(decode(&s, "2001:db8::1").addresses, [ip(VIP6)]);
        }
        assert_pair(&lab, a, b, "2001:db8::1", 150).await;
        power_off(&mut lab, a, &[VIP6]);
        assert_eq!(settle(&lab, VIP6, secs(10)).await, ["b"]);
        assert!(lab.adverts(b).iter().all(|s| s.dst == ip("2001:db8::1")));
    });
}

#[test]
fn a_vip_on_another_interface_follows_the_instance_and_is_announced_there() {
    run(|mut lab| async move {
        let a = lab.node_with(
            "a",
            &[
                ("eth0", "lan", &["192.0.2.1/24"]),
                ("eth1", "lan2", &["203.0.113.1/24"]),
            ],
        );
        let b = lab.node_with(
            "b",
            &[
                ("eth0", "lan", &["192.0.2.2/24"]),
                ("eth1", "lan2", &["203.0.113.2/24"]),
            ],
        );
        let config = |p| {
            format!(
                "{V3}{}",
                block(
                    "VI_1",
                    "eth0",
                    51,
                    p,
                    "garp_master_delay 0",
                    &["192.0.2.100/24", "203.0.113.100/24 dev eth1"]
                )
            )
        };
        lab.start(a, &config(150)).await;
        lab.start(b, &config(100)).await;
        lab.secs(10.0).await;
        assert!(on(&lab, a, "eth1").contains(&ip("203.0.113.100")));
        assert!(!on(&lab, a, "eth0").contains(&ip("203.0.113.100")));
        assert!(on(&lab, a, "eth0").contains(&ip(VIP)));
        // Adverts only on the instance's interface; the GARP for each VIP on its own.
        assert!(lab.adverts(a).iter().all(|s| s.interface == "eth0"));
        for f in lab.frames(a) {
            let arp = ArpFrame::parse(&f.bytes).expect("ARP");
            let expected = if arp.sender_ip.octets()[0] == 203 {
                "eth1"
            } else {
                "eth0"
            };
            assert_eq!(f.interface, expected, "{arp:?}");
            let mac = lab
                .lan
                .ifaces(a)
                .into_iter()
                .find(|i| i.name == expected)
                .unwrap()
                .mac;
            assert_eq!(arp.sender_mac, mac);
        }
        assert_eq!(
            lab.frames(a)
                .iter()
                .filter(|f| f.interface == "eth1")
                .count(),
            6
        );
        power_off(&mut lab, a, &[VIP]);
        lab.lan.remove_address(a, "eth1", ip("203.0.113.100"));
        lab.secs(10.0).await;
        assert_eq!(lab.holders("203.0.113.100"), ["b"]);
        assert!(on(&lab, b, "eth1").contains(&ip("203.0.113.100")));
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

/// The addresses on node `id`'s interface `iface`.
fn on(lab: &Lab, id: NodeId, iface: &str) -> Vec<IpAddr> {
    lab.lan
        .ifaces(id)
        .into_iter()
        .find(|i| i.name == iface)
        .expect("interface")
        .addrs
        .into_iter()
        .map(|(a, _)| a)
        .collect()
}

/// Found by this harness: a node taking over at start-up (address owner, `state MASTER`)
/// while another node was master took that master's last advert as it yielded for a split
/// brain: a warning, `notify_master_rx_lower_pri`, the counter, two extra GARP bursts.
#[test]
fn an_owner_starting_while_another_node_is_master_reports_no_split_brain() {
    for (priority, extra) in [(255, ""), (120, "state MASTER")] {
        run(|mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            lab.start(b, &v3(100, "")).await;
            assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
            let lower =
                format!("{extra}\n    notify_master_rx_lower_pri \"/usr/local/bin/notify-lower\"");
            lab.start(a, &v3(priority, &lower)).await;
            lab.secs(10.0).await;
            assert_eq!(lab.holders(VIP), ["a"]);
            assert!(
                lab.ran(a, "notify-lower").is_empty(),
                "{:?}",
                lab.ran(a, "notify-lower")
            );
            let status = lab.instance(a, "VI_1").await;
            assert_eq!(
                status.counters.vrrp.lower_priority_master, 0,
                "priority {priority}"
            );
        });
    }
}

/// The start-up window takes only the first lower-priority master for the displaced one: a
/// node that keeps advertising as master below it (it does not hear this one) is a split
/// brain, reported once the window is over.
#[test]
fn a_real_split_brain_at_start_up_is_still_reported() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(b, &v3(100, "")).await;
        assert_eq!(settle(&lab, VIP, secs(10)).await, ["b"]);
        // a hears b; b never hears a, so it stays master.
        lab.lan.mute(a, true);
        let lower = "notify_master_rx_lower_pri \"/usr/local/bin/notify-lower\"";
        lab.start(a, &v3(255, lower)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert!(!lab.ran(a, "notify-lower").is_empty(), "{:?}", lab.runs());
        let status = lab.instance(a, "VI_1").await;
        assert!(status.counters.vrrp.lower_priority_master > 1);
    });
}
