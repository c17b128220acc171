//! Failures and recovery: crashes (VIPs left behind) and restarts, clean stops (priority 0),
//! links pulled and flapping, partitions and one-way faults, VIPs removed by hand, start-up
//! errors, and the timers of RFC 5798 6.1 / 6.4 that decide when the backup takes over.

use std::net::IpAddr;
use std::time::Duration;

use crate::control::status::{InstanceStatus, VrrpState};
use crate::daemon::harness::fake::{Sent, v4};
use crate::daemon::harness::{Lab, NodeId, run};
use crate::wire::arp::ArpFrame;
use crate::wire::ndp::NaFrame;

const VIP: &str = "192.0.2.100";

/// An instance block: `name` on `interface`, VRID `vrid`, `priority`, `advert_int`, the
/// `vips` and `extra` lines.
fn instance(
    name: &str,
    interface: &str,
    vrid: u8,
    priority: u8,
    advert_int: &str,
    extra: &str,
    vips: &[&str],
) -> String {
    let vips: String = vips.iter().map(|v| format!("        {v}\n")).collect();
    format!(
        "vrrp_instance {name} {{
    interface {interface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert_int}
    {extra}
    virtual_ipaddress {{
{vips}    }}
}}
"
    )
}

/// `VI_1` on eth0, VRID 51, advert_int 1, the VIP 192.0.2.100/24.
fn vi1(priority: u8, extra: &str) -> String {
    instance(
        "VI_1",
        "eth0",
        51,
        priority,
        "1",
        extra,
        &["192.0.2.100/24"],
    )
}

/// `VI_6` on eth0, VRID 60, VRRPv3 over IPv6, advert_int 1, the VIP 2001:db8::100/64.
fn vi6(priority: u8, extra: &str) -> String {
    let extra = format!("version 3\n    {extra}");
    instance(
        "VI_6",
        "eth0",
        60,
        priority,
        "1",
        &extra,
        &["2001:db8::100/64"],
    )
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Master_Down_Interval for a backup of `priority` (RFC 5798 6.1 / RFC 3768 6.1), in
/// seconds, worked out here rather than with the crate's own arithmetic.
fn mdi(version: u8, priority: u8, master_interval_s: f64) -> f64 {
    3.0 * master_interval_s + skew(version, priority, master_interval_s)
}

/// Skew_Time: `(256 - priority) * Master_Adver_Interval / 256` (VRRPv3), or
/// `(256 - priority) / 256` seconds (VRRPv2).
fn skew(version: u8, priority: u8, master_interval_s: f64) -> f64 {
    let unit = if version == 3 { master_interval_s } else { 1.0 };
    f64::from(256 - u16::from(priority)) * unit / 256.0
}

fn priority(sent: &Sent) -> u8 {
    sent.payload[2]
}

fn now(lab: &Lab) -> Duration {
    lab.lan.elapsed()
}

/// Wait until `at` (time since the LAN was made); `at` must not be past.
async fn until(lab: &Lab, at: Duration) {
    let now = now(lab);
    assert!(at >= now, "{at:?} is already past ({now:?})");
    lab.wait(at - now).await;
}

/// When node `id` sent its last advert (at any priority).
fn last_advert(lab: &Lab, id: NodeId) -> Duration {
    lab.adverts(id).last().expect("an advert").at
}

/// When node `id` sent its first advert at or after `from`.
fn first_advert_after(lab: &Lab, id: NodeId, from: Duration) -> Option<Duration> {
    lab.adverts(id)
        .into_iter()
        .find(|s| s.at >= from)
        .map(|s| s.at)
}

/// The holders of `addr` among the nodes in `live` (a crashed node's leftover VIP does not
/// answer anyone: it is not connected).
fn live_holders(lab: &Lab, addr: &str, live: &[NodeId]) -> Vec<String> {
    let live: Vec<&str> = live.iter().map(|&id| lab.name(id)).collect();
    lab.holders(addr)
        .into_iter()
        .filter(|h| live.contains(&h.as_str()))
        .collect()
}

/// Like `Lab::watch`, counting only the nodes in `live`.
async fn watch_live(
    lab: &Lab,
    addr: &str,
    d: Duration,
    step: Duration,
    live: &[NodeId],
) -> Vec<Vec<String>> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    let steps = (d.as_nanos() / step.as_nanos()).max(1);
    for _ in 0..steps {
        lab.wait(step).await;
        let holders = live_holders(lab, addr, live);
        assert!(
            holders.len() <= 1,
            "two masters: {holders:?} hold {addr} at {:?}",
            now(lab)
        );
        if seen.last() != Some(&holders) {
            seen.push(holders);
        }
    }
    seen
}

/// Times of the gratuitous ARPs node `id` sent for `vip` with its MAC `mac`, at or after
/// `from`.
fn garps_after(lab: &Lab, id: NodeId, vip: &str, from: Duration) -> Vec<Duration> {
    let vip: std::net::Ipv4Addr = vip.parse().expect("IPv4");
    let mac = lab.lan.ifaces(id)[0].mac;
    lab.frames(id)
        .into_iter()
        .filter(|f| f.at >= from)
        .filter(|f| {
            ArpFrame::parse(&f.bytes).is_ok_and(|a| {
                a.is_gratuitous() && a.sender_ip == vip && a.sender_mac == mac && a.eth_src == mac
            })
        })
        .map(|f| f.at)
        .collect()
}

/// Two nodes a (192.0.2.1, priority `pa`) and b (192.0.2.2, `pb`) with `VI_1`, started,
/// and `settle` seconds later.
async fn pair(lab: &mut Lab, pa: u8, pb: u8, extra_a: &str, extra_b: &str) -> (NodeId, NodeId) {
    let a = lab.node("a", "192.0.2.1/24");
    let b = lab.node("b", "192.0.2.2/24");
    lab.start(a, &vi1(pa, extra_a)).await;
    lab.start(b, &vi1(pb, extra_b)).await;
    let seen = lab.watch(VIP, secs(10.0), secs(0.1)).await;
    let winner = if pa >= pb { "a" } else { "b" };
    assert_eq!(seen.last(), Some(&names(&[winner])), "first election");
    (a, b)
}

async fn vi(lab: &Lab, id: NodeId) -> InstanceStatus {
    lab.instance(id, "VI_1").await
}

// ---------------------------------------------------------------------------------------
// The master crashes.

#[test]
fn after_a_master_crash_the_backup_waits_master_down_interval_then_takes_over() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.crash(a);
        let last = last_advert(&lab, a);
        let down = secs(mdi(2, 100, 1.0));
        // Just before Master_Down_Interval: still waiting; only the dead master's leftover.
        until(&lab, last + down - secs(0.05)).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert!(lab.adverts(b).is_empty(), "a backup sends no adverts");
        lab.secs(0.1).await;
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Master);
        assert_eq!(st.reason_kind, "master_down");
        assert_eq!(st.reason, "no advert heard for Master_Down_Interval");
        assert!(st.master.is_none(), "a master shows no other master");
        assert!(st.vips.iter().all(|v| v.present), "{:?}", st.vips);
        assert_eq!(st.counters.vrrp.became_master, 1);
        // The crashed node's address stays where it was (kill -9): both have it, but only b
        // answers.
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        // The new master announces the VIP with its own MAC at once.
        let takeover = first_advert_after(&lab, b, Duration::ZERO).expect("b's advert");
        let garps = garps_after(&lab, b, VIP, takeover);
        assert!(
            garps.first().is_some_and(|&g| g - takeover < secs(0.01)),
            "GARPs at {garps:?}, takeover at {takeover:?}"
        );
    });
}

#[test]
fn takeover_time_after_a_crash_is_master_down_interval_for_each_interval_and_priority() {
    // (version, advert_int, backup priority)
    let cases: [(u8, &str, u8); 5] = [
        (2, "1", 100),
        (2, "3", 200),
        (2, "1", 1),
        (3, "0.5", 253),
        (3, "2", 50),
    ];
    for (version, interval, backup) in cases {
        run(|mut lab| async move {
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            let extra = format!("version {version}");
            let config = |p| instance("VI_1", "eth0", 51, p, interval, &extra, &["192.0.2.100/24"]);
            lab.start(a, &config(backup + 1)).await;
            lab.start(b, &config(backup)).await;
            lab.secs(30.0).await;
            assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
            lab.crash(a);
            let last = last_advert(&lab, a);
            lab.secs(30.0).await;
            let took = first_advert_after(&lab, b, last).expect("b took over") - last;
            let want = mdi(version, backup, interval.parse().expect("interval"));
            assert!(
                (took.as_secs_f64() - want).abs() < 0.003,
                "v{version} advert_int {interval} priority {backup}: took {took:?}, want {want}s"
            );
        });
    }
}

#[test]
fn a_vrrpv3_backup_times_the_master_out_with_the_interval_the_master_advertises() {
    // RFC 5798 6.4.2: a backup learns Master_Adver_Interval from the master's adverts, so
    // a master at 2 s with a backup configured for 1 s is timed out after 3 * 2 s + skew.
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let v3 = |p, int| instance("VI_1", "eth0", 51, p, int, "version 3", &["192.0.2.100/24"]);
        lab.start(a, &v3(150, "2")).await;
        lab.start(b, &v3(100, "1")).await;
        lab.secs(30.0).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        lab.crash(a);
        let last = last_advert(&lab, a);
        lab.secs(30.0).await;
        let took = first_advert_after(&lab, b, last).expect("b took over") - last;
        let want = mdi(3, 100, 2.0);
        assert!(
            (took.as_secs_f64() - want).abs() < 0.003,
            "took {took:?}, want {want}s (not {}s, its own interval's)",
            mdi(3, 100, 1.0)
        );
    });
}

#[test]
fn a_nopreempt_backup_still_takes_over_from_a_crashed_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "nopreempt").await;
        lab.crash(a);
        lab.secs(5.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert_eq!(live_holders(&lab, VIP, &[b]), names(&["b"]));
    });
}

#[test]
fn a_crashed_master_restarted_removes_its_leftover_vips_then_preempts() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let vips = ["192.0.2.100/24", "192.0.2.101/24"];
        lab.start(a, &instance("VI_1", "eth0", 51, 150, "1", "", &vips))
            .await;
        lab.start(b, &instance("VI_1", "eth0", 51, 100, "1", "", &vips))
            .await;
        lab.secs(10.0).await;
        lab.crash(a);
        lab.secs(10.0).await;
        for vip in ["192.0.2.100", "192.0.2.101"] {
            assert_eq!(
                lab.holders(vip),
                names(&["a", "b"]),
                "{vip} after the crash"
            );
        }
        let restart = now(&lab);
        lab.start_again(a).await;
        // Before it could send anything: both leftovers gone, b alone holds them.
        for vip in ["192.0.2.100", "192.0.2.101"] {
            assert_eq!(lab.holders(vip), names(&["b"]), "{vip} after the restart");
        }
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        // a (150) then preempts b (100) after its Master_Down_Interval, and b lets go.
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
        assert_eq!(lab.holders("192.0.2.101"), names(&["a"]));
        let took = first_advert_after(&lab, a, restart).expect("a's advert") - restart;
        assert!(
            (took.as_secs_f64() - mdi(2, 150, 1.0)).abs() < 0.01,
            "a preempted after {took:?}"
        );
        let st = vi(&lab, a).await;
        assert_eq!(st.reason_kind, "preempting");
        assert_eq!(
            st.reason,
            "preempting lower-priority master 192.0.2.2 (priority 100)"
        );
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.reason_kind, "preempted");
        assert_eq!(st.master.expect("a master").address, "192.0.2.1");
    });
}

#[test]
fn a_crashed_master_restarted_with_nopreempt_drops_its_leftover_and_stays_backup() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "nopreempt", "").await;
        lab.crash(a);
        lab.secs(10.0).await;
        lab.start_again(a).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        let seen = lab.watch(VIP, secs(120.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["b"])]);
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.fallback, "manual");
        let master = st.master.expect("hears b");
        assert_eq!(
            (master.address.as_str(), master.priority),
            ("192.0.2.2", 100)
        );
        assert_eq!(st.counters.vrrp.became_master, 0);
        let standby = vi(&lab, b).await;
        assert_eq!(standby.state, VrrpState::Master);
        assert_eq!(standby.counters.vrrp.released_master, 0);
        assert!(
            st.alarms
                .iter()
                .any(|al| al.message.contains("running on the standby")),
            "{:?}",
            st.alarms
        );
    });
}

#[test]
fn a_crashed_master_restarted_with_preempt_delay_waits_before_preempting() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "preempt_delay 10", "").await;
        lab.crash(a);
        lab.secs(10.0).await;
        let restart = now(&lab);
        lab.start_again(a).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        // Without the delay a would be master after 3.4 s.
        let seen = lab.watch(VIP, secs(9.5), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["b"])]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        let seen = lab.watch(VIP, secs(10.0), secs(0.1)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        let took = first_advert_after(&lab, a, restart).expect("a's advert") - restart;
        assert!(took > secs(10.0), "preempted after {took:?}");
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_crashed_master_restarted_with_state_master_takes_the_vip_at_once_and_the_backup_yields() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "state MASTER", "").await;
        lab.crash(a);
        lab.secs(10.0).await;
        let restart = now(&lab);
        lab.start_again(a).await;
        let seen = lab.watch(VIP, secs(5.0), secs(0.001)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert_eq!(st.reason_kind, "initial_state");
        let first = first_advert_after(&lab, a, restart).expect("a's advert");
        assert!(first - restart < secs(0.01), "first advert {first:?}");
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn an_address_owner_restarted_after_a_crash_keeps_its_own_address_and_is_master_at_once() {
    run(|mut lab| async move {
        // Its VIP is one of its addresses; it sends from the other (never from a VIP: a
        // backup holding it would drop the owner's adverts as martians).
        let a = lab.node_with("a", &[("eth0", "lan", &["192.0.2.1/24", "192.0.2.11/24"])]);
        let b = lab.node("b", "192.0.2.2/24");
        let owned = |p| instance("VI_1", "eth0", 51, p, "1", "", &["192.0.2.1/24"]);
        lab.start(a, &owned(255)).await;
        lab.start(b, &owned(100)).await;
        lab.secs(1.0).await;
        assert_eq!(vi(&lab, a).await.reason_kind, "address_owner");
        let master = vi(&lab, b).await.master.expect("b hears the owner");
        assert_eq!(
            (master.address.as_str(), master.priority),
            ("192.0.2.11", 255)
        );
        lab.secs(9.0).await;
        lab.crash(a);
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        lab.start_again(a).await;
        // Its own address is not a leftover: it stays where it was (removed and added
        // again, it would come back after the link-local one, no longer the primary), and
        // the owner is master at once.
        assert_eq!(
            lab.lan.ifaces(a)[0].addrs.first(),
            Some(&(v4("192.0.2.1"), 24))
        );
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        let seen = lab.watch("192.0.2.1", secs(5.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_crashed_master_restarted_with_its_link_down_still_drops_its_leftover_and_stays_fault() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.crash(a);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.lan.set_link(a, "eth0", false);
        lab.start_again(a).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        lab.secs(10.0).await;
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Fault);
        assert_eq!(st.faults, vec!["interface eth0 is down".to_string()]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        lab.lan.set_link(a, "eth0", true);
        lab.secs(0.01).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        let seen = lab.watch(VIP, secs(10.0), secs(0.01)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
    });
}

#[test]
fn a_crashed_backup_or_a_stopped_one_does_not_disturb_the_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        let from = now(&lab);
        lab.stop(b).await.expect("clean stop");
        let seen = lab.watch(VIP, secs(10.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        lab.start_again(b).await;
        lab.secs(10.0).await;
        lab.crash(b);
        lab.secs(10.0).await;
        lab.start_again(b).await;
        let seen = lab.watch(VIP, secs(10.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        // A backup never advertises, not even priority 0 when it stops.
        assert!(lab.adverts(b).is_empty(), "{:?}", lab.adverts(b));
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert_eq!(st.counters.vrrp.became_master, 1);
        assert_eq!(st.counters.vrrp.priority_zero_received, 0);
        // a kept advertising once a second, no more and no less.
        let times: Vec<Duration> = lab
            .adverts(a)
            .into_iter()
            .filter(|s| s.at >= from)
            .map(|s| s.at)
            .collect();
        for w in times.windows(2) {
            let gap = (w[1] - w[0]).as_secs_f64();
            assert!((gap - 1.0).abs() < 0.01, "advert gap {gap}s");
        }
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

// ---------------------------------------------------------------------------------------
// Clean stops.

#[test]
fn a_clean_stop_of_the_master_sends_priority_zero_and_the_backup_takes_over_after_skew_time() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        let stop = now(&lab);
        lab.stop(a).await.expect("clean stop");
        // Its VIP is gone with it: nobody holds it until b takes over.
        assert!(lab.holders(VIP).is_empty(), "{:?}", lab.holders(VIP));
        let last = lab.adverts(a).last().cloned().expect("an advert");
        assert!(last.at >= stop);
        assert_eq!(priority(&last), 0, "the last advert says 'leaving'");
        assert_eq!(last.dst, v4("224.0.0.18"));
        assert_eq!(last.ttl, 255);
        lab.secs(2.0).await;
        let took = first_advert_after(&lab, b, stop).expect("b took over") - last.at;
        // RFC 5798 6.4.2: Master_Down_Timer set to Skew_Time on priority 0.
        let want = skew(2, 100, 1.0);
        assert!(
            (took.as_secs_f64() - want).abs() < 0.003,
            "took {took:?}, want {want}s"
        );
        assert_eq!(lab.holders(VIP), names(&["b"]));
        let st = vi(&lab, b).await;
        assert_eq!(st.reason_kind, "master_resigned");
        assert_eq!(st.reason, "master 192.0.2.1 resigned (priority 0)");
        assert_eq!(st.counters.vrrp.priority_zero_received, 1);
    });
}

#[test]
fn a_unicast_master_stopped_tells_its_peer_with_priority_zero() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let uni = |p, me: &str, peer: &str| {
            let extra = format!("unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}");
            vi1(p, &extra)
        };
        lab.start(a, &uni(150, "192.0.2.1", "192.0.2.2")).await;
        lab.start(b, &uni(100, "192.0.2.2", "192.0.2.1")).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        lab.stop(a).await.expect("clean stop");
        let last = lab.adverts(a).last().cloned().expect("an advert");
        assert_eq!(priority(&last), 0);
        assert_eq!(last.dst, v4("192.0.2.2"), "sent to the peer");
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        assert_eq!(vi(&lab, b).await.reason_kind, "master_resigned");
        // Back, a preempts over unicast too.
        lab.start_again(a).await;
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
    });
}

#[test]
fn rapid_stop_start_cycles_of_the_preferred_node_never_leave_two_holders() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        // (down, up) in seconds: shorter and longer than Skew_Time and Master_Down_Interval.
        let cycles = [
            (0.2, 0.3),
            (0.5, 1.0),
            (0.7, 3.0),
            (2.0, 0.1),
            (0.05, 4.0),
            (1.0, 3.5),
            (0.3, 0.3),
            (5.0, 2.0),
            (0.01, 0.01),
            (0.6, 3.3),
        ];
        for (down, up) in cycles {
            lab.stop(a).await.expect("clean stop");
            lab.watch(VIP, secs(down), secs(0.01)).await;
            lab.start_again(a).await;
            lab.watch(VIP, secs(up), secs(0.01)).await;
        }
        let seen = lab.watch(VIP, secs(10.0), secs(0.01)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_whole_pair_crashed_and_restarted_at_once_clears_leftovers_and_elects_once() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        // b holds it too, so both nodes have a leftover.
        lab.crash(a);
        lab.secs(10.0).await;
        lab.crash(b);
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.secs(5.0).await;
        lab.start_again(a).await;
        lab.start_again(b).await;
        assert!(lab.holders(VIP).is_empty(), "{:?}", lab.holders(VIP));
        let seen = lab.watch(VIP, secs(10.0), secs(0.01)).await;
        assert_eq!(seen, vec![vec![], names(&["a"])]);
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.counters.vrrp.became_master, 0, "b never took it");
        assert_eq!(vi(&lab, a).await.reason_kind, "master_down");
    });
}

#[test]
fn a_whole_pair_stopped_and_started_again_holds_nothing_between_and_elects_the_preferred() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.stop(b).await.expect("b stops");
        lab.stop(a).await.expect("a stops");
        assert!(lab.holders(VIP).is_empty());
        lab.secs(30.0).await;
        assert!(lab.holders(VIP).is_empty());
        // Started in the other order: b first, a 0.5 s later.
        lab.start_again(b).await;
        lab.secs(0.5).await;
        lab.start_again(a).await;
        let seen = lab.watch(VIP, secs(10.0), secs(0.01)).await;
        // b's timer ends first; then a preempts it.
        assert_eq!(seen, vec![vec![], names(&["b"]), names(&["a"])]);
    });
}

// ---------------------------------------------------------------------------------------
// Links.

#[test]
fn the_master_link_going_down_means_fault_no_vip_and_the_backup_takes_over() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        let down = now(&lab);
        lab.lan.set_link(a, "eth0", false);
        lab.secs(0.01).await;
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Fault);
        assert_eq!(st.reason_kind, "fault");
        assert_eq!(st.reason, "interface or tracked resource failed");
        assert_eq!(st.faults, vec!["interface eth0 is down".to_string()]);
        assert!(st.vips.iter().all(|v| !v.present), "{:?}", st.vips);
        assert!(
            st.alarms
                .iter()
                .any(|al| al.message == "in FAULT: interface eth0 is down"),
            "{:?}",
            st.alarms
        );
        assert!(lab.holders(VIP).is_empty());
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![vec![], names(&["b"])]);
        // In FAULT it sends nothing; b timed a out (the priority 0 went down with the link).
        assert!(
            lab.adverts(a).iter().all(|s| s.at < down + secs(0.01)),
            "adverts from a FAULT node"
        );
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Fault);
        assert_eq!(vi(&lab, b).await.reason_kind, "master_down");
    });
}

#[test]
fn the_link_back_up_makes_the_node_backup_first_then_it_preempts_by_priority() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        let up = now(&lab);
        lab.lan.set_link(a, "eth0", true);
        lab.secs(0.01).await;
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Backup, "not MASTER at once");
        assert_eq!(st.reason_kind, "fault_cleared");
        assert!(st.faults.is_empty());
        assert_eq!(lab.holders(VIP), names(&["b"]));
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
        let took = first_advert_after(&lab, a, up).expect("a's advert") - up;
        assert!(
            (took.as_secs_f64() - mdi(2, 150, 1.0)).abs() < 0.01,
            "a preempted after {took:?}"
        );
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_backup_whose_link_goes_down_and_up_stays_backup_under_a_better_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.set_link(b, "eth0", false);
        lab.secs(0.01).await;
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Fault);
        assert_eq!(st.faults, vec!["interface eth0 is down".to_string()]);
        lab.watch(VIP, secs(20.0), secs(0.1)).await;
        lab.lan.set_link(b, "eth0", true);
        let seen = lab.watch(VIP, secs(20.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.counters.vrrp.became_master, 0);
        assert_eq!(st.master.expect("hears a").address, "192.0.2.1");
        let st = vi(&lab, a).await;
        assert_eq!(st.counters.vrrp.became_master, 1);
    });
}

#[test]
fn a_brief_link_drop_on_the_master_hands_over_and_back_by_the_timers() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        let last = last_advert(&lab, a);
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        let up = now(&lab);
        lab.lan.set_link(a, "eth0", true);
        // Its priority 0 was lost with the link: b times a out after Master_Down_Interval
        // from a's last advert; a (back in BACKUP, silent) preempts b after its own.
        let seen = lab.watch(VIP, secs(10.0), secs(0.01)).await;
        assert_eq!(seen, vec![vec![], names(&["b"]), names(&["a"])]);
        let b_took = first_advert_after(&lab, b, last + secs(0.001)).expect("b") - last;
        assert!(
            (b_took.as_secs_f64() - mdi(2, 100, 1.0)).abs() < 0.01,
            "b after {b_took:?}"
        );
        let a_took = first_advert_after(&lab, a, up).expect("a") - up;
        assert!(
            (a_took.as_secs_f64() - mdi(2, 150, 1.0)).abs() < 0.01,
            "a after {a_took:?}"
        );
    });
}

#[test]
fn a_flapping_link_on_the_master_ends_with_one_master_and_never_two() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        // (down, up) in seconds.
        let flaps = [
            (0.01, 0.01),
            (0.1, 0.05),
            (0.5, 0.2),
            (1.0, 1.0),
            (4.0, 0.3),
            (0.02, 3.5),
            (0.3, 0.3),
            (6.0, 0.01),
            (0.01, 6.0),
            (2.5, 2.5),
            (0.05, 0.05),
            (0.2, 4.0),
        ];
        for (down, up) in flaps {
            lab.lan.set_link(a, "eth0", false);
            lab.watch(VIP, secs(down), secs(0.01)).await;
            lab.lan.set_link(a, "eth0", true);
            lab.watch(VIP, secs(up), secs(0.01)).await;
        }
        let seen = lab.watch(VIP, secs(15.0), secs(0.01)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert!(st.faults.is_empty());
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn flap_hold_down_keeps_a_recovered_master_from_preempting_until_it_ends() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "flap_hold_down 30", "").await;
        let down = now(&lab);
        lab.lan.set_link(a, "eth0", false);
        lab.secs(5.0).await;
        lab.lan.set_link(a, "eth0", true);
        // 30 s from leaving MASTER: still b's.
        let seen = lab
            .watch(VIP, down + secs(29.5) - now(&lab), secs(0.1))
            .await;
        assert_eq!(seen, vec![names(&["b"])]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        let seen = lab.watch(VIP, secs(6.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_node_whose_link_is_down_at_start_stays_fault_and_holds_nothing_until_it_comes_up() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.lan.set_link(a, "eth0", false);
        lab.start(a, &vi1(150, "")).await;
        lab.secs(30.0).await;
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Fault);
        assert_eq!(st.faults, vec!["interface eth0 is down".to_string()]);
        assert_eq!(st.counters.vrrp.became_master, 0);
        assert!(lab.holders(VIP).is_empty());
        assert!(lab.adverts(a).is_empty());
        assert!(lab.frames(a).is_empty());
        let up = now(&lab);
        lab.lan.set_link(a, "eth0", true);
        lab.secs(0.01).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        assert!(lab.holders(VIP).is_empty());
        // Alone, it becomes master after Master_Down_Interval, not before.
        let seen = lab.watch(VIP, secs(5.0), secs(0.01)).await;
        assert_eq!(seen, vec![vec![], names(&["a"])]);
        let took = first_advert_after(&lab, a, up).expect("a's advert") - up;
        assert!(
            (took.as_secs_f64() - mdi(2, 150, 1.0)).abs() < 0.01,
            "master after {took:?}"
        );
    });
}

#[test]
fn a_backup_whose_link_comes_up_after_the_master_crashed_waits_master_down_interval() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.set_link(b, "eth0", false);
        lab.secs(1.0).await;
        lab.crash(a);
        lab.secs(20.0).await;
        // Nobody live holds the VIP: b is in FAULT.
        assert!(live_holders(&lab, VIP, &[b]).is_empty());
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Fault);
        let up = now(&lab);
        lab.lan.set_link(b, "eth0", true);
        let seen = watch_live(&lab, VIP, secs(5.0), secs(0.01), &[b]).await;
        assert_eq!(seen, vec![vec![], names(&["b"])]);
        let took = first_advert_after(&lab, b, up).expect("b's advert") - up;
        assert!(
            (took.as_secs_f64() - mdi(2, 100, 1.0)).abs() < 0.01,
            "b after {took:?}"
        );
        assert_eq!(vi(&lab, b).await.reason_kind, "master_down");
    });
}

#[test]
fn with_dont_track_primary_a_master_whose_link_goes_down_stays_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "dont_track_primary", "").await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(10.0).await;
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert!(st.faults.is_empty(), "{:?}", st.faults);
        assert_eq!(st.counters.vrrp.became_master, 1);
        // b hears nothing over the dead link and takes over too: split brain across a link
        // that is down on one side, which is what dont_track_primary asks for.
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        lab.lan.set_link(a, "eth0", true);
        // Back on the wire, the two masters settle at once by priority.
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

/// Two nodes with eth0 on `lan` (192.0.2.x) and eth1 on `back` (198.51.100.x).
fn two_legged(lab: &mut Lab, name: &str, host: u8) -> NodeId {
    let front = format!("192.0.2.{host}/24");
    let back = format!("198.51.100.{host}/24");
    lab.node_with(
        name,
        &[
            ("eth0", "lan", &[front.as_str()]),
            ("eth1", "back", &[back.as_str()]),
        ],
    )
}

fn front_and_back(priority: u8, group: bool) -> String {
    front_and_back_every(priority, group, "1")
}

/// Like [`front_and_back`], with BACK advertising every `back_interval` seconds.
fn front_and_back_every(priority: u8, group: bool, back_interval: &str) -> String {
    let mut text = String::new();
    if group {
        text.push_str("vrrp_sync_group G {\n    group {\n        FRONT\n        BACK\n    }\n}\n");
    }
    text.push_str(&instance(
        "FRONT",
        "eth0",
        61,
        priority,
        "1",
        "",
        &["192.0.2.100/24"],
    ));
    text.push_str(&instance(
        "BACK",
        "eth1",
        62,
        priority,
        back_interval,
        "",
        &["198.51.100.100/24"],
    ));
    text
}

#[test]
fn a_link_down_faults_only_the_instance_on_it() {
    run(|mut lab| async move {
        let a = two_legged(&mut lab, "a", 1);
        let b = two_legged(&mut lab, "b", 2);
        lab.start(a, &front_and_back(150, false)).await;
        lab.start(b, &front_and_back(100, false)).await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth1", false);
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "BACK").await, VrrpState::Fault);
        assert_eq!(lab.state(a, "FRONT").await, VrrpState::Master);
        assert!(lab.instance(a, "FRONT").await.faults.is_empty());
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.holders("198.51.100.100"), names(&["b"]));
        assert_eq!(lab.state(b, "FRONT").await, VrrpState::Backup);
    });
}

#[test]
fn a_sync_group_taken_over_by_one_member_has_every_member_advertise_at_its_own_interval() {
    // b's FRONT (1 s adverts) declares the crashed master down first and takes BACK
    // (3 s adverts) with it, long before BACK's own Master_Down_Interval. From then on
    // each advertises at its own interval: BACK's next advert is 3 s after its first,
    // not at the moment its old timer would have fired (the daemon's deadline index is
    // rebuilt after a change of state, not kept for the instance whose timer fired only).
    run(|mut lab| async move {
        let a = two_legged(&mut lab, "a", 1);
        let b = two_legged(&mut lab, "b", 2);
        lab.start(a, &front_and_back_every(150, true, "3")).await;
        lab.start(b, &front_and_back_every(100, true, "3")).await;
        lab.secs(20.0).await;
        assert!(lab.adverts(b).is_empty());
        lab.crash(a);
        lab.secs(30.0).await;
        assert_eq!(lab.state(b, "FRONT").await, VrrpState::Master);
        assert_eq!(lab.state(b, "BACK").await, VrrpState::Master);
        for (interface, interval) in [("eth0", secs(1.0)), ("eth1", secs(3.0))] {
            let sent: Vec<Sent> = lab
                .adverts(b)
                .into_iter()
                .filter(|s| s.interface == interface)
                .collect();
            assert!(sent.len() >= 8, "{interface}: {} adverts", sent.len());
            for w in sent.windows(2) {
                assert_eq!(w[1].at - w[0].at, interval, "{interface}: at {:?}", w[1].at);
            }
        }
    });
}

#[test]
fn a_link_down_under_one_sync_group_member_moves_the_whole_group() {
    run(|mut lab| async move {
        let a = two_legged(&mut lab, "a", 1);
        let b = two_legged(&mut lab, "b", 2);
        lab.start(a, &front_and_back(150, true)).await;
        lab.start(b, &front_and_back(100, true)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.holders("198.51.100.100"), names(&["a"]));
        lab.lan.set_link(a, "eth1", false);
        lab.secs(0.01).await;
        let front = lab.instance(a, "FRONT").await;
        assert_eq!(front.state, VrrpState::Fault);
        assert_eq!(
            front.faults,
            vec!["sync group G: member BACK is in FAULT".to_string()]
        );
        assert_eq!(lab.state(a, "BACK").await, VrrpState::Fault);
        assert!(lab.holders(VIP).is_empty());
        // FRONT's priority 0 reaches b over eth0: the group moves after Skew_Time.
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        assert_eq!(lab.holders("198.51.100.100"), names(&["b"]));
        lab.lan.set_link(a, "eth1", true);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.holders("198.51.100.100"), names(&["a"]));
        assert_eq!(lab.state(b, "FRONT").await, VrrpState::Backup);
        assert_eq!(lab.state(b, "BACK").await, VrrpState::Backup);
    });
}

#[test]
fn a_crashed_sync_group_master_is_replaced_for_the_whole_group_and_cleans_both_on_restart() {
    run(|mut lab| async move {
        let a = two_legged(&mut lab, "a", 1);
        let b = two_legged(&mut lab, "b", 2);
        lab.start(a, &front_and_back(150, true)).await;
        lab.start(b, &front_and_back(100, true)).await;
        lab.secs(10.0).await;
        lab.crash(a);
        let last = last_advert(&lab, a);
        let seen = watch_live(&lab, VIP, secs(10.0), secs(0.01), &[b]).await;
        assert_eq!(seen, vec![vec![], names(&["b"])]);
        let took = first_advert_after(&lab, b, last).expect("b") - last;
        assert!(
            (took.as_secs_f64() - mdi(2, 100, 1.0)).abs() < 0.01,
            "b after {took:?}"
        );
        for vip in [VIP, "198.51.100.100"] {
            assert_eq!(lab.holders(vip), names(&["a", "b"]), "{vip}");
        }
        lab.start_again(a).await;
        for vip in [VIP, "198.51.100.100"] {
            assert_eq!(lab.holders(vip), names(&["b"]), "{vip} after the restart");
        }
        lab.secs(10.0).await;
        for vip in [VIP, "198.51.100.100"] {
            assert_eq!(lab.holders(vip), names(&["a"]), "{vip} in the end");
        }
        assert_eq!(lab.state(b, "FRONT").await, VrrpState::Backup);
        assert_eq!(lab.state(b, "BACK").await, VrrpState::Backup);
    });
}

// ---------------------------------------------------------------------------------------
// Partitions and one-way faults.

#[test]
fn a_partition_makes_both_masters_and_healing_leaves_the_higher_priority() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        // Correct VRRP: b cannot hear a, so it takes over; a hears nobody and stays.
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        let heal = now(&lab);
        lab.lan.heal(a, b);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        let st = vi(&lab, b).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.reason, "heard better master 192.0.2.1 (priority 150)");
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert_eq!(st.counters.vrrp.became_master, 1, "a never left");
        assert!(st.counters.vrrp.lower_priority_master >= 1);
        // The clients may have followed b's GARPs: a announces the VIP again.
        assert!(
            !garps_after(&lab, a, VIP, heal).is_empty(),
            "no GARP from a after the heal"
        );
        let seen = lab.watch(VIP, secs(20.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
    });
}

#[test]
fn a_healed_partition_between_equal_priorities_leaves_the_higher_address() {
    // RFC 5798 6.4.3: equal priorities: the higher primary address wins.
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 100, 100, "", "").await;
        assert_eq!(lab.holders(VIP), names(&["a"]), "a started first");
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.lan.heal(a, b);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["b"]));
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.reason, "heard better master 192.0.2.2 (priority 100)");
        let seen = lab.watch(VIP, secs(20.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["b"])]);
    });
}

#[test]
fn a_partition_heal_ignores_nopreempt_between_two_masters() {
    // nopreempt (Preempt_Mode false) is about a backup taking over from a lower master;
    // two masters settle by RFC 5798 6.4.3 whatever it says.
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "nopreempt", "nopreempt").await;
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.lan.heal(a, b);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_three_way_partition_makes_three_masters_and_healing_leaves_one() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &vi1(150, "")).await;
        lab.start(b, &vi1(100, "")).await;
        lab.start(c, &vi1(50, "")).await;
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        for (x, y) in [(a, b), (a, c), (b, c)] {
            lab.lan.cut(x, y);
        }
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b", "c"]));
        // Heal b and c first: b (100) wins between them.
        lab.lan.heal(b, c);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.lan.heal(a, b);
        lab.lan.heal(a, c);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        for id in [b, c] {
            let st = vi(&lab, id).await;
            assert_eq!(st.state, VrrpState::Backup, "{}", lab.name(id));
            assert_eq!(st.master.expect("a master").address, "192.0.2.1");
        }
        let seen = lab.watch(VIP, secs(20.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
    });
}

#[test]
fn a_master_whose_adverts_are_lost_is_taken_over_and_unmuting_converges() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.mute(a, true);
        lab.secs(10.0).await;
        // b hears nothing and takes over; a hears b, a lower master, and keeps the VIP.
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert!(st.counters.vrrp.lower_priority_master >= 1);
        assert!(
            st.alarms
                .iter()
                .any(|al| al.message.starts_with("split brain suspected")),
            "{:?}",
            st.alarms
        );
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        lab.lan.mute(a, false);
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        let seen = lab.watch(VIP, secs(20.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        // Once the split brain is over, the alarm goes.
        lab.secs(20.0).await;
        let st = vi(&lab, a).await;
        assert!(
            !st.alarms
                .iter()
                .any(|al| al.message.starts_with("split brain")),
            "{:?}",
            st.alarms
        );
    });
}

#[test]
fn a_muted_master_with_two_backups_is_replaced_by_the_better_backup_only() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &vi1(150, "")).await;
        lab.start(b, &vi1(100, "")).await;
        lab.start(c, &vi1(50, "")).await;
        lab.secs(10.0).await;
        lab.lan.mute(a, true);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), names(&["a", "b"]));
        let st = vi(&lab, c).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.counters.vrrp.became_master, 0);
        assert_eq!(st.master.expect("hears b").address, "192.0.2.2");
        lab.lan.mute(a, false);
        // Within one advert interval, b hears a and lets go; c never moved.
        lab.secs(1.05).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        let st = vi(&lab, c).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.counters.vrrp.became_master, 0);
        assert_eq!(st.master.expect("hears a").address, "192.0.2.1");
    });
}

// ---------------------------------------------------------------------------------------
// Three nodes.

#[test]
fn three_nodes_master_crashes_then_the_new_master_crashes_and_the_third_takes_over() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &vi1(150, "")).await;
        lab.start(b, &vi1(100, "")).await;
        lab.start(c, &vi1(50, "")).await;
        let seen = lab.watch(VIP, secs(10.0), secs(0.05)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        lab.crash(a);
        let seen = watch_live(&lab, VIP, secs(10.0), secs(0.01), &[b, c]).await;
        assert_eq!(seen, vec![vec![], names(&["b"])]);
        assert_eq!(vi(&lab, c).await.counters.vrrp.became_master, 0);
        lab.crash(b);
        let last = last_advert(&lab, b);
        let seen = watch_live(&lab, VIP, secs(10.0), secs(0.01), &[c]).await;
        assert_eq!(seen, vec![vec![], names(&["c"])]);
        let took = first_advert_after(&lab, c, last).expect("c") - last;
        assert!(
            (took.as_secs_f64() - mdi(2, 50, 1.0)).abs() < 0.01,
            "c after {took:?}"
        );
        // Every node still has it on its interface; only c is alive.
        assert_eq!(lab.holders(VIP), names(&["a", "b", "c"]));
        // a comes back: drops its leftover and preempts c.
        lab.start_again(a).await;
        assert_eq!(lab.holders(VIP), names(&["b", "c"]));
        let seen = watch_live(&lab, VIP, secs(10.0), secs(0.01), &[a, c]).await;
        assert_eq!(seen, vec![names(&["c"]), names(&["a"])]);
    });
}

#[test]
fn two_equal_backups_timing_out_together_promote_only_one() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        let hook = "notify_master /usr/local/bin/promote";
        lab.start(a, &vi1(150, hook)).await;
        lab.start(b, &vi1(100, hook)).await;
        lab.start(c, &vi1(100, hook)).await;
        lab.secs(10.0).await;
        lab.crash(a);
        // Their timers run out together: the one serviced first takes over, the other
        // has its advert in hand (no delay on the fake LAN), takes it in before its own
        // timer and stays backup. One promotion, not two followed by a demotion (see the
        // election scenario of the same case).
        let seen = watch_live(&lab, VIP, secs(10.0), secs(0.01), &[b, c]).await;
        assert_eq!(seen.len(), 2, "{seen:?}");
        let (master, follower, address) = match seen[1].as_slice() {
            [h] if h == "b" => (b, c, "192.0.2.2"),
            [h] if h == "c" => (c, b, "192.0.2.3"),
            other => panic!("one of b and c should hold the VIP: {other:?}"),
        };
        assert_eq!(lab.ran(master, "promote").len(), 1);
        assert!(lab.ran(follower, "promote").is_empty());
        let st = vi(&lab, follower).await;
        assert_eq!(st.state, VrrpState::Backup);
        assert_eq!(st.master.expect("hears the master").address, address);
        let seen = watch_live(&lab, VIP, secs(20.0), secs(0.1), &[b, c]).await;
        assert_eq!(seen, vec![vec![lab.name(master).to_string()]]);
    });
}

// ---------------------------------------------------------------------------------------
// VIPs removed by hand.

#[test]
fn a_vip_removed_by_hand_from_the_master_is_put_back_at_once() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, 150, 100, "", "").await;
        lab.lan.remove_address(a, "eth0", v4(VIP));
        lab.wait(Duration::from_millis(1)).await;
        assert_eq!(lab.holders(VIP), names(&["a"]));
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        assert!(st.vips.iter().all(|v| v.present));
        assert_eq!(st.counters.vrrp.became_master, 1, "no transition");
        // Put back with its prefix.
        let prefix = lab.lan.ifaces(a)[0]
            .addrs
            .iter()
            .find(|(addr, _)| *addr == v4(VIP))
            .map(|(_, p)| *p);
        assert_eq!(prefix, Some(24));
        let seen = lab.watch(VIP, secs(10.0), secs(0.1)).await;
        assert_eq!(seen, vec![names(&["a"])]);
        assert_eq!(vi(&lab, b).await.counters.vrrp.became_master, 0);
    });
}

#[test]
fn a_no_track_vip_removed_by_hand_stays_away_until_the_next_takeover() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let vips = ["192.0.2.100/24", "192.0.2.101/24 no_track"];
        lab.start(a, &instance("VI_1", "eth0", 51, 150, "1", "", &vips))
            .await;
        lab.start(b, &instance("VI_1", "eth0", 51, 100, "1", "", &vips))
            .await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders("192.0.2.101"), names(&["a"]));
        lab.lan.remove_address(a, "eth0", v4("192.0.2.101"));
        lab.lan.remove_address(a, "eth0", v4(VIP));
        lab.secs(10.0).await;
        assert!(lab.holders("192.0.2.101").is_empty());
        assert_eq!(lab.holders(VIP), names(&["a"]), "the tracked one came back");
        let st = vi(&lab, a).await;
        assert_eq!(st.state, VrrpState::Master);
        let present: Vec<(String, bool)> = st
            .vips
            .iter()
            .map(|v| (v.address.clone(), v.present))
            .collect();
        assert_eq!(
            present,
            vec![
                ("192.0.2.100/24".to_string(), true),
                ("192.0.2.101/24".to_string(), false)
            ]
        );
        assert!(
            st.alarms
                .iter()
                .any(|al| al.message.contains("VIP missing: 192.0.2.101/24")),
            "{:?}",
            st.alarms
        );
        // The next transition to MASTER brings it back.
        lab.stop(a).await.expect("a stops");
        lab.secs(2.0).await;
        assert_eq!(lab.holders("192.0.2.101"), names(&["b"]));
        lab.start_again(a).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders("192.0.2.101"), names(&["a"]));
        assert_eq!(lab.holders(VIP), names(&["a"]));
    });
}

#[test]
fn a_vip_on_another_dev_is_removed_there_on_fault_and_as_a_leftover_at_restart() {
    run(|mut lab| async move {
        let a = two_legged(&mut lab, "a", 1);
        let b = two_legged(&mut lab, "b", 2);
        let other = ["198.51.100.100/24 dev eth1"];
        lab.start(a, &instance("VI_1", "eth0", 51, 150, "1", "", &other))
            .await;
        lab.start(b, &instance("VI_1", "eth0", 51, 100, "1", "", &other))
            .await;
        lab.secs(10.0).await;
        let on = |lab: &Lab, id: NodeId, iface: &str| {
            lab.lan
                .ifaces(id)
                .iter()
                .find(|i| i.name == iface)
                .expect("interface")
                .addrs
                .iter()
                .any(|(x, _)| *x == v4("198.51.100.100"))
        };
        assert!(on(&lab, a, "eth1") && !on(&lab, a, "eth0"));
        // FAULT (eth0, the instance's interface) takes it off eth1.
        lab.lan.set_link(a, "eth0", false);
        lab.secs(0.01).await;
        assert!(!on(&lab, a, "eth1"));
        lab.secs(10.0).await;
        assert_eq!(lab.holders("198.51.100.100"), names(&["b"]));
        lab.lan.set_link(a, "eth0", true);
        lab.secs(10.0).await;
        assert_eq!(lab.holders("198.51.100.100"), names(&["a"]));
        // A crash leaves it on eth1; the restart takes it off before anything else.
        lab.crash(a);
        lab.secs(10.0).await;
        assert_eq!(lab.holders("198.51.100.100"), names(&["a", "b"]));
        lab.start_again(a).await;
        assert!(!on(&lab, a, "eth1"));
        let seen = lab.watch("198.51.100.100", secs(10.0), secs(0.01)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
    });
}

// ---------------------------------------------------------------------------------------
// Start-up errors.

#[test]
fn a_daemon_started_on_an_interface_that_does_not_exist_ends_with_an_error_naming_it() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(
            a,
            &instance("VI_1", "eth9", 51, 150, "1", "", &["192.0.2.100/24"]),
        )
        .await;
        let error = lab.ended(a).await.expect_err("it cannot run");
        assert!(error.contains("VI_1"), "{error}");
        assert!(error.contains("eth9"), "{error}");
        assert!(!lab.is_running(a));
        assert!(lab.holders(VIP).is_empty());
        assert!(lab.adverts(a).is_empty());
        assert!(lab.frames(a).is_empty());
    });
}

#[test]
fn a_daemon_with_a_vip_on_a_missing_dev_ends_with_an_error_and_holds_nothing() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = format!(
            "{}{}",
            instance("VI_0", "eth0", 50, 150, "1", "", &["192.0.2.99/24"]),
            instance(
                "VI_1",
                "eth0",
                51,
                150,
                "1",
                "",
                &["192.0.2.100/24 dev eth7"]
            )
        );
        lab.start(a, &config).await;
        let error = lab.ended(a).await.expect_err("it cannot run");
        assert!(error.contains("eth7"), "{error}");
        assert!(error.contains("VI_1"), "{error}");
        lab.secs(10.0).await;
        assert!(lab.holders(VIP).is_empty());
        assert!(lab.holders("192.0.2.99").is_empty());
        assert!(lab.adverts(a).is_empty());
    });
}

// ---------------------------------------------------------------------------------------
// IPv6.

fn v6_node(lab: &mut Lab, name: &str, host: u8) -> NodeId {
    let global = format!("2001:db8::{host}/64");
    lab.node_with(name, &[("eth0", "lan", &[global.as_str()])])
}

const VIP6: &str = "2001:db8::100";

fn nas_after(lab: &Lab, id: NodeId, target: &str, from: Duration) -> Vec<Duration> {
    let target: std::net::Ipv6Addr = target.parse().expect("IPv6");
    let mac = lab.lan.ifaces(id)[0].mac;
    lab.frames(id)
        .into_iter()
        .filter(|f| f.at >= from)
        .filter(|f| {
            NaFrame::parse(&f.bytes).is_ok_and(|na| {
                na.target == target && na.eth_src == mac && na.target_mac == Some(mac)
            })
        })
        .map(|f| f.at)
        .collect()
}

#[test]
fn an_ipv6_master_crash_fails_over_after_master_down_interval_with_adverts_and_nas() {
    run(|mut lab| async move {
        let a = v6_node(&mut lab, "a", 1);
        let b = v6_node(&mut lab, "b", 2);
        lab.start(a, &vi6(150, "")).await;
        lab.start(b, &vi6(100, "")).await;
        let seen = lab.watch(VIP6, secs(10.0), secs(0.1)).await;
        assert_eq!(seen.last(), Some(&names(&["a"])));
        lab.crash(a);
        let last = last_advert(&lab, a);
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_6").await, VrrpState::Master);
        assert_eq!(live_holders(&lab, VIP6, &[b]), names(&["b"]));
        let sent = lab.adverts(b);
        let first = sent.first().expect("b advertises");
        let took = first.at - last;
        assert!(
            (took.as_secs_f64() - mdi(3, 100, 1.0)).abs() < 0.01,
            "b after {took:?}"
        );
        let group: IpAddr = "ff02::12".parse().expect("group");
        assert_eq!(first.dst, group);
        assert_eq!(first.ttl, 255);
        assert_eq!(first.payload[0] >> 4, 3, "VRRPv3");
        assert_eq!(first.payload[1], 60);
        assert_eq!(priority(first), 100);
        let nas = nas_after(&lab, b, VIP6, first.at);
        assert!(
            nas.first().is_some_and(|&t| t - first.at < secs(0.01)),
            "NAs {nas:?}"
        );
    });
}

#[test]
fn an_ipv6_master_restarted_after_a_crash_drops_its_leftover_and_preempts() {
    run(|mut lab| async move {
        let a = v6_node(&mut lab, "a", 1);
        let b = v6_node(&mut lab, "b", 2);
        lab.start(a, &vi6(150, "")).await;
        lab.start(b, &vi6(100, "")).await;
        lab.secs(10.0).await;
        lab.crash(a);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP6), names(&["a", "b"]));
        lab.start_again(a).await;
        assert_eq!(lab.holders(VIP6), names(&["b"]));
        // Its own addresses stay.
        let own: IpAddr = "2001:db8::1".parse().expect("address");
        assert!(lab.lan.ifaces(a)[0].addrs.iter().any(|(x, _)| *x == own));
        let seen = lab.watch(VIP6, secs(10.0), secs(0.01)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
        assert_eq!(lab.state(b, "VI_6").await, VrrpState::Backup);
    });
}

#[test]
fn an_ipv6_master_stopped_cleanly_hands_over_after_skew_time() {
    run(|mut lab| async move {
        let a = v6_node(&mut lab, "a", 1);
        let b = v6_node(&mut lab, "b", 2);
        lab.start(a, &vi6(150, "")).await;
        lab.start(b, &vi6(100, "")).await;
        lab.secs(10.0).await;
        lab.stop(a).await.expect("clean stop");
        assert!(lab.holders(VIP6).is_empty());
        let last = lab.adverts(a).last().cloned().expect("an advert");
        assert_eq!(priority(&last), 0);
        lab.secs(2.0).await;
        let took = first_advert_after(&lab, b, last.at).expect("b") - last.at;
        assert!(
            (took.as_secs_f64() - skew(3, 100, 1.0)).abs() < 0.003,
            "b after {took:?}"
        );
        assert_eq!(lab.holders(VIP6), names(&["b"]));
        assert_eq!(lab.instance(b, "VI_6").await.reason_kind, "master_resigned");
    });
}

#[test]
fn an_ipv6_master_link_down_goes_fault_and_removes_its_vip() {
    run(|mut lab| async move {
        let a = v6_node(&mut lab, "a", 1);
        let b = v6_node(&mut lab, "b", 2);
        lab.start(a, &vi6(150, "")).await;
        lab.start(b, &vi6(100, "")).await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(0.01).await;
        assert_eq!(lab.state(a, "VI_6").await, VrrpState::Fault);
        assert!(lab.holders(VIP6).is_empty());
        let seen = lab.watch(VIP6, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![vec![], names(&["b"])]);
        lab.lan.set_link(a, "eth0", true);
        let seen = lab.watch(VIP6, secs(10.0), secs(0.05)).await;
        assert_eq!(seen, vec![names(&["b"]), names(&["a"])]);
    });
}

/// The address owner sends from its VIP when that is its only address (`source_address`);
/// a peer whose interface held that VIP when its instance was made (a leftover after a
/// crash as master) counts the VIP among its own addresses, and so drops every advert of
/// the owner as its own packet: two masters for good.
#[test]
fn a_backup_restarted_with_a_leftover_of_the_owners_address_still_hears_the_owner() {
    run(|mut lab| async move {
        let a = lab.node_with("a", &[("eth0", "lan", &["192.0.2.1/24", "192.0.2.11/24"])]);
        let b = lab.node("b", "192.0.2.2/24");
        let owned = |p| instance("VI_1", "eth0", 51, p, "1", "", &["192.0.2.1/24"]);
        lab.start(a, &owned(255)).await;
        lab.start(b, &owned(100)).await;
        lab.secs(1.0).await;
        lab.crash(a);
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        // b crashes as master: 192.0.2.1 stays on its interface, then it restarts.
        lab.crash(b);
        lab.start_again(b).await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        // The owner comes back and is master at once; b must hear it and let go.
        lab.start_again(a).await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        assert_eq!(lab.holders("192.0.2.1"), names(&["a"]));
    });
}

/// An address owner whose only IPv4 address is its VIP cannot send from anything but the
/// VIP, which a backup holding it would drop as a martian: it does not start, and says so.
#[test]
fn an_address_owner_whose_only_address_is_its_vip_does_not_start() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(
            a,
            &instance("VI_1", "eth0", 51, 255, "1", "", &["192.0.2.1/24"]),
        )
        .await;
        let error = lab.ended(a).await.expect_err("it cannot run");
        assert!(
            error.contains("no IPv4 address but the VIPs to send adverts from"),
            "{error}"
        );
        assert!(lab.adverts(a).is_empty());
    });
}
