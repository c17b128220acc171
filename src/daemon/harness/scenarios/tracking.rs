//! Tracking and sync groups: tracked interfaces (FAULT without a weight, a priority change
//! with one), `vrrp_script` checks (fall, rise, timeouts, weights, reverse, interval, one
//! runner per script), `track_file` values, and `vrrp_sync_group` members that fail and move
//! together; through all of it, never two holders of a VIP while the nodes hear each other.

use std::time::Duration;

use crate::control::status::{Health, InstanceStatus, TrackEffect, TrackStatus, VrrpState};
use crate::daemon::harness::{Lab, NodeId, run};

/// The VIP of `VI_1` (on eth0, segment `lan`).
const VIP: &str = "192.0.2.100";
/// The VIP of a second instance on eth1 (segment `back`, shared by the nodes).
const VIP2: &str = "198.51.100.100";

/// A node `name` (number `n`): eth0 on `lan`, eth1 on `back` (both shared with the other
/// nodes), eth2 and eth3 on uplinks of its own (what tracking follows).
fn node(lab: &mut Lab, name: &str, n: u8) -> NodeId {
    let lan = format!("192.0.2.{n}/24");
    let back = format!("198.51.100.{n}/24");
    let up = format!("203.0.113.{n}/24");
    let up2 = format!("2001:db8::{n}/64");
    let up_segment = format!("up-{name}");
    let up2_segment = format!("up2-{name}");
    lab.node_with(
        name,
        &[
            ("eth0", "lan", &[lan.as_str()]),
            ("eth1", "back", &[back.as_str()]),
            ("eth2", up_segment.as_str(), &[up.as_str()]),
            ("eth3", up2_segment.as_str(), &[up2.as_str()]),
        ],
    )
}

/// Nodes `a` (192.0.2.1) and `b` (192.0.2.2).
fn pair(lab: &mut Lab) -> (NodeId, NodeId) {
    (node(lab, "a", 1), node(lab, "b", 2))
}

/// An instance block.
fn instance(name: &str, iface: &str, vrid: u8, priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state BACKUP
    interface {iface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        {vip}
    }}
}}
"
    )
}

/// `VI_1` on eth0, VRID 51, VIP 192.0.2.100.
fn web(priority: u8, extra: &str) -> String {
    instance("VI_1", "eth0", 51, priority, "192.0.2.100/24", extra)
}

/// A `vrrp_script` block named `name` running `/usr/local/bin/{name}`.
fn script(name: &str, body: &str) -> String {
    format!(
        "vrrp_script {name} {{
    script \"/usr/local/bin/{name}\"
    {body}
}}
"
    )
}

/// A `track_file` block.
fn track_file(name: &str, path: &std::path::Path, body: &str) -> String {
    format!(
        "track_file {name} {{
    file {}
    {body}
}}
",
        path.display()
    )
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// The holders of `VIP` seen over `secs`, checked every 100 ms never to be two.
async fn watch(lab: &Lab, addr: &str, secs: u64) -> Vec<Vec<String>> {
    lab.watch(addr, Duration::from_secs(secs), Duration::from_millis(100))
        .await
}

/// Start `a` and `b` with their configs and let `a` win; checks it does.
async fn start_pair(lab: &mut Lab, a: NodeId, b: NodeId, config_a: &str, config_b: &str) {
    lab.start(a, config_a).await;
    lab.start(b, config_b).await;
    let seen = watch(lab, VIP, 6).await;
    assert_eq!(seen.last(), Some(&names(&["a"])), "a wins first: {seen:?}");
}

/// The one track named `name` in `i`'s status.
fn track<'a>(i: &'a InstanceStatus, name: &str) -> &'a TrackStatus {
    i.tracks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no track {name} in {:?}", i.tracks))
}

/// The priority in the last advert node `id` sent on `interface`.
fn last_advert_priority(lab: &Lab, id: NodeId, interface: &str) -> u8 {
    lab.adverts(id)
        .iter()
        .rev()
        .find(|s| s.interface == interface)
        .map(|s| s.payload[2])
        .expect("an advert")
}

/// The runs of `text` by node `id` that started within `[from, to)` seconds.
fn runs_between(lab: &Lab, id: NodeId, text: &str, from: f64, to: f64) -> Vec<Duration> {
    let node = lab.name(id).to_string();
    lab.runs()
        .into_iter()
        .filter(|r| r.node == node && r.line.contains(text))
        .map(|r| r.at)
        .filter(|at| {
            let s = at.as_secs_f64();
            s >= from && s < to
        })
        .collect()
}

/// Seconds since the lab began.
fn now(lab: &Lab) -> f64 {
    lab.lan.elapsed().as_secs_f64()
}

/// Let time pass until `at` seconds since the lab began.
async fn until(lab: &Lab, at: f64) {
    let left = at - now(lab);
    assert!(left >= 0.0, "already past {at}s (now {})", now(lab));
    lab.secs(left).await;
}

// ---------------------------------------------------------------------------------------
// track_interface without a weight: FAULT.

#[test]
fn a_tracked_interface_going_down_faults_the_master_and_the_backup_takes_the_vip() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "")).await;
        lab.lan.set_link(a, "eth2", false);
        // a lets go at once; b takes over at Skew_Time.
        let seen = watch(&lab, VIP, 5).await;
        assert_eq!(seen, [vec![], names(&["b"])], "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.reason_kind, "fault");
        assert_eq!(i.faults, ["interface eth2 is down (link down)"]);
        assert_eq!(
            i.tracks,
            [TrackStatus {
                kind: "interface".into(),
                name: "eth2".into(),
                up: false,
                effect: TrackEffect::Fault,
                detail: "link down".into(),
            }]
        );
        assert!(i.vips.iter().all(|v| !v.present), "{:?}", i.vips);
        assert!(
            i.alarms.iter().any(|al| al.severity == Health::Critical
                && al.message.contains("interface eth2 is down")),
            "{:?}",
            i.alarms
        );
        let ib = lab.instance(b, "VI_1").await;
        assert_eq!(ib.state, VrrpState::Master);
        // b took over at the priority-0 advert a sent on leaving (Skew_Time), not after a
        // whole Master_Down_Interval.
        assert_eq!(ib.reason_kind, "master_resigned", "{}", ib.reason);
    });
}

#[test]
fn a_tracked_interface_coming_back_clears_the_fault_and_the_better_node_preempts_again() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        lab.lan.set_link(a, "eth2", true);
        lab.secs(0.1).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Backup);
        assert_eq!(i.reason_kind, "fault_cleared");
        assert!(i.faults.is_empty(), "{:?}", i.faults);
        assert_eq!(track(&i, "eth2").effect, TrackEffect::Priority(0));
        assert!(track(&i, "eth2").up);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        assert_eq!(i.reason_kind, "preempting", "{}", i.reason);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn after_a_fault_a_nopreempt_node_stays_backup_behind_the_lower_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "nopreempt\n    track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "nopreempt")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(5.0).await;
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 15).await;
        assert_eq!(seen, [names(&["b"])], "a must not take the VIP back");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Backup);
        let master = i.master.expect("a hears b");
        assert_eq!(master.address, "192.0.2.2");
        assert_eq!(master.priority, 100);
        assert_eq!(i.priority, 150);
    });
}

#[test]
fn a_node_whose_tracked_interface_is_down_at_start_stays_in_fault_and_silent() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.lan.set_link(a, "eth2", false);
        lab.start(a, &web(150, "track_interface {\n        eth2\n    }"))
            .await;
        lab.start(b, &web(100, "")).await;
        let seen = watch(&lab, VIP, 10).await;
        assert_eq!(seen, [vec![], names(&["b"])], "{seen:?}");
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Fault);
        assert!(
            lab.adverts(a).is_empty(),
            "a node in FAULT sends no adverts: {:?}",
            lab.adverts(a)
        );
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn a_master_going_to_fault_sends_one_priority_zero_advert_then_nothing() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "")).await;
        assert_eq!(last_advert_priority(&lab, a, "eth0"), 150);
        let before = lab.adverts(a).len();
        let at = lab.lan.elapsed();
        lab.lan.set_link(a, "eth2", false);
        lab.secs(10.0).await;
        let after: Vec<_> = lab.adverts(a).into_iter().skip(before).collect();
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(after[0].payload[2], 0, "priority 0 (RFC 5798 6.4.3)");
        assert!(after[0].at - at < Duration::from_millis(10));
        let counters = lab.instance(a, "VI_1").await.counters;
        assert_eq!(counters.vrrp.priority_zero_sent, 1);
        assert_eq!(counters.vrrp.released_master, 1);
    });
}

#[test]
fn tracking_a_missing_interface_means_fault() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.start(a, &web(150, "track_interface {\n        eth9\n    }"))
            .await;
        lab.start(b, &web(100, "")).await;
        let seen = watch(&lab, VIP, 8).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["interface eth9 is down (no such interface)"]);
        assert_eq!(track(&i, "eth9").detail, "no such interface");
    });
}

#[test]
fn the_instances_own_interface_going_down_is_a_fault_without_tracking_it() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        start_pair(&mut lab, a, b, &web(150, ""), &web(100, "")).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(0.1).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["interface eth0 is down"]);
        assert!(lab.holders(VIP).is_empty(), "a let go of the VIP");
        // b did not hear a's priority-0 advert (a's link is down): Master_Down_Interval.
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        lab.lan.set_link(a, "eth0", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn dont_track_primary_keeps_the_master_through_its_own_link_going_down() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        start_pair(
            &mut lab,
            a,
            b,
            &web(150, "dont_track_primary"),
            &web(100, ""),
        )
        .await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(5.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        assert!(i.faults.is_empty(), "{:?}", i.faults);
        // b no longer hears a: both hold the VIP while they are apart.
        let mut holders = lab.holders(VIP);
        holders.sort();
        assert_eq!(holders, ["a", "b"]);
        // Back together, the better one keeps it.
        lab.lan.set_link(a, "eth0", true);
        lab.secs(3.0).await;
        let seen = watch(&lab, VIP, 5).await;
        assert_eq!(seen, [names(&["a"])]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

// ---------------------------------------------------------------------------------------
// track_interface with a weight: the priority.

#[test]
fn a_positive_interface_weight_lifts_the_node_while_the_link_is_up_and_drops_it_when_down() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(100, "track_interface {\n        eth2 weight 60\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(150, "")).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!((i.base_priority, i.priority), (100, 160));
        assert_eq!(track(&i, "eth2").effect, TrackEffect::Priority(60));
        assert_eq!(last_advert_priority(&lab, a, "eth0"), 160);
        lab.lan.set_link(a, "eth2", false);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen, [names(&["a"]), names(&["b"])], "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Backup, "a weight never means FAULT");
        assert!(i.faults.is_empty());
        assert_eq!(i.priority, 100);
        let t = track(&i, "eth2");
        assert_eq!((t.up, &t.effect), (false, &TrackEffect::Priority(0)));
        assert_eq!(i.master.expect("hears b").priority, 150);
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 160);
    });
}

#[test]
fn a_negative_interface_weight_lowers_the_master_below_the_backup_which_preempts() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "track_interface {\n        eth2 weight -60\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(1.5).await;
        // a still holds the VIP, but advertises its lowered priority.
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(last_advert_priority(&lab, a, "eth0"), 90);
        let i = lab.instance(a, "VI_1").await;
        assert_eq!((i.state.clone(), i.priority), (VrrpState::Master, 90));
        let t = track(&i, "eth2");
        assert_eq!((t.up, &t.effect), (false, &TrackEffect::Priority(-60)));
        assert!(
            i.alarms.iter().any(|al| al.severity == Health::Warning
                && al.message.starts_with("tracking failed: interface eth2")),
            "{:?}",
            i.alarms
        );
        let seen = watch(&lab, VIP, 5).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let ib = lab.instance(b, "VI_1").await;
        assert_eq!(ib.reason_kind, "preempting", "{}", ib.reason);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_lowered_master_keeps_the_vip_when_the_backup_does_not_preempt() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(150, "track_interface {\n        eth2 weight -60\n    }");
        start_pair(&mut lab, a, b, &tracked, &web(100, "nopreempt")).await;
        lab.lan.set_link(a, "eth2", false);
        let seen = watch(&lab, VIP, 15).await;
        assert_eq!(seen, [names(&["a"])], "RFC 5798 6.4.2: Preempt_Mode False");
        let ib = lab.instance(b, "VI_1").await;
        assert_eq!(ib.state, VrrpState::Backup);
        assert_eq!(ib.master.expect("hears a").priority, 90);
    });
}

#[test]
fn reverse_turns_an_interface_weight_around() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.start(
            a,
            &web(
                150,
                "track_interface {\n        eth2 weight 30 reverse\n    }",
            ),
        )
        .await;
        lab.start(b, &web(130, "")).await;
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "up: 150 - 30 < 130");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 120);
        let t = track(&i, "eth2");
        assert_eq!((t.up, &t.effect), (true, &TrackEffect::Priority(-30)));
        lab.lan.set_link(a, "eth2", false);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "down: 150 > 130");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 150);
    });
}

#[test]
fn several_tracked_interfaces_add_up() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(
            150,
            "track_interface {\n        eth2 weight -20\n        eth3 weight -20\n    }",
        );
        start_pair(&mut lab, a, b, &tracked, &web(120, "")).await;
        lab.lan.set_link(a, "eth2", false);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen, [names(&["a"])], "130 still beats 120");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 130);
        lab.lan.set_link(a, "eth3", false);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "110 loses to 120");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 110);
        assert_eq!(track(&i, "eth2").effect, TrackEffect::Priority(-20));
        assert_eq!(track(&i, "eth3").effect, TrackEffect::Priority(-20));
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "130 again");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 130);
    });
}

#[test]
fn an_unweighted_interface_down_means_fault_whatever_the_weighted_ones_say() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = web(
            150,
            "track_interface {\n        eth2\n        eth3 weight 40\n    }",
        );
        start_pair(&mut lab, a, b, &tracked, &web(100, "")).await;
        assert_eq!(lab.instance(a, "VI_1").await.priority, 190);
        lab.lan.set_link(a, "eth2", false);
        lab.secs(3.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["interface eth2 is down (link down)"]);
        assert_eq!(track(&i, "eth2").effect, TrackEffect::Fault);
        assert_eq!(track(&i, "eth3").effect, TrackEffect::Priority(40));
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn the_effective_priority_stays_within_1_and_254_and_an_owner_keeps_255() {
    // (base priority, tracked line, eth2 up, expected priority)
    let cases: [(u8, &str, bool, u8); 4] = [
        (200, "eth2 weight 100", true, 254),
        (50, "eth2 weight -100", false, 1),
        (255, "eth2 weight -100", false, 255),
        (255, "eth2 weight 30 reverse", true, 255),
    ];
    for (base, line, up, expected) in cases {
        run(|mut lab| async move {
            // An address owner has the VIP as an address of its own (and another to send
            // adverts from).
            let eth0: &[&str] = if base == 255 {
                &["192.0.2.1/24", "192.0.2.100/24"]
            } else {
                &["192.0.2.1/24"]
            };
            let a = lab.node_with("a", &[("eth0", "lan", eth0), ("eth2", "up-a", &[])]);
            lab.lan.set_link(a, "eth2", up);
            let vip = "192.0.2.100/24";
            let extra = format!("track_interface {{\n        {line}\n    }}");
            lab.start(a, &instance("VI_1", "eth0", 51, base, vip, &extra))
                .await;
            lab.secs(5.0).await;
            let i = lab.instance(a, "VI_1").await;
            assert_eq!(i.state, VrrpState::Master, "{base} {line}");
            assert_eq!(i.priority, expected, "{base} {line} up={up}");
            assert_eq!(last_advert_priority(&lab, a, "eth0"), expected);
        });
    }
}

// ---------------------------------------------------------------------------------------
// vrrp_script + track_script.

/// `VI_1` tracking script `chk`.
fn web_tracking_chk(priority: u8, line: &str) -> String {
    web(
        priority,
        &format!("track_script {{\n        {line}\n    }}"),
    )
}

#[test]
fn a_script_failing_fall_times_in_a_row_faults_the_master() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = script("chk", "interval 1\n    fall 3") + &web_tracking_chk(150, "chk");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        until(&lab, 10.5).await;
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        // Failures at 11 s and 12 s: not yet.
        until(&lab, 12.6).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        let t = track(&i, "chk");
        assert_eq!((t.kind.as_str(), t.up), ("script", true));
        assert_eq!(t.detail, "exit status 1");
        // The third one.
        until(&lab, 13.5).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["script chk is down (exit status 1)"]);
        let t = track(&i, "chk");
        assert_eq!((t.up, &t.effect), (false, &TrackEffect::Fault));
        let seen = watch(&lab, VIP, 3).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
    });
}

#[test]
fn a_failed_script_recovers_after_rise_successes_and_the_node_takes_the_vip_back() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        let config = script("chk", "interval 1\n    rise 3") + &web_tracking_chk(150, "chk");
        lab.start(a, &config).await;
        lab.start(b, &web(100, "")).await;
        let seen = watch(&lab, VIP, 10).await;
        assert_eq!(seen, [vec![], names(&["b"])], "{seen:?}");
        until(&lab, 10.5).await;
        lab.answer("/usr/local/bin/chk", 0, Duration::ZERO);
        until(&lab, 12.5).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault, "two successes are not three");
        assert_eq!(track(&i, "chk").detail, "exit status 0");
        until(&lab, 13.5).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Backup);
        assert!(i.faults.is_empty());
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn a_success_between_failures_starts_the_fall_count_again() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = script("chk", "interval 1\n    fall 3") + &web_tracking_chk(150, "chk");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        // Runs at 11, 12 fail; 13 passes; 14, 15 fail; 16 passes.
        for (at, exit) in [(10.5, 1), (12.5, 0), (13.5, 1), (15.5, 0)] {
            until(&lab, at).await;
            lab.answer("/usr/local/bin/chk", exit, Duration::ZERO);
        }
        let seen = watch(&lab, VIP, 5).await;
        assert_eq!(seen, [names(&["a"])]);
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        assert_eq!(i.counters.vrrp.released_master, 0);
        assert_eq!(runs_between(&lab, a, "chk", 10.6, 16.6).len(), 6);
    });
}

#[test]
fn a_failing_weighted_script_lowers_the_priority_and_the_backup_takes_over() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config =
            script("chk", "interval 1\n    weight -60\n    fall 2") + &web_tracking_chk(150, "chk");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        until(&lab, 10.5).await;
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        until(&lab, 11.5).await;
        assert_eq!(lab.instance(a, "VI_1").await.priority, 150, "one failure");
        until(&lab, 12.5).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!((i.state.clone(), i.priority), (VrrpState::Master, 90));
        assert!(i.faults.is_empty());
        let t = track(&i, "chk");
        assert_eq!((t.up, &t.effect), (false, &TrackEffect::Priority(-60)));
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        lab.answer("/usr/local/bin/chk", 0, Duration::ZERO);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 150);
    });
}

#[test]
fn a_track_script_weight_overrides_the_scripts_own() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config =
            script("chk", "interval 1\n    weight 10") + &web_tracking_chk(100, "chk weight 60");
        start_pair(&mut lab, a, b, &config, &web(150, "")).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 160);
        assert_eq!(track(&i, "chk").effect, TrackEffect::Priority(60));
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 100);
        assert_eq!(track(&i, "chk").effect, TrackEffect::Priority(0));
    });
}

#[test]
fn a_script_that_hangs_past_its_timeout_counts_as_failed_and_the_adverts_go_on() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = script("chk", "interval 2\n    timeout 3") + &web_tracking_chk(150, "chk");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        until(&lab, 9.0).await;
        // It would exit 0, after 10 s: killed at 3 s.
        lab.answer("/usr/local/bin/chk", 0, Duration::from_secs(10));
        until(&lab, 12.9).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master, "still running at 12.9 s");
        let during = lab
            .adverts(a)
            .iter()
            .filter(|s| s.at.as_secs_f64() > 10.0 && s.at.as_secs_f64() < 12.9)
            .count();
        assert!(
            during >= 2,
            "the protocol does not wait for a script: {during}"
        );
        until(&lab, 13.1).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        let t = track(&i, "chk");
        assert!(t.detail.starts_with("timed out after 3.0s"), "{}", t.detail);
        let seen = watch(&lab, VIP, 3).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
    });
}

#[test]
fn a_script_that_answers_within_its_timeout_passes() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = script("chk", "interval 2\n    timeout 3") + &web_tracking_chk(150, "chk");
        lab.answer("/usr/local/bin/chk", 0, Duration::from_millis(2900));
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        let seen = watch(&lab, VIP, 20).await;
        assert_eq!(seen, [names(&["a"])]);
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        let t = track(&i, "chk");
        assert!(t.up);
        assert_eq!(t.detail, "exit status 0");
    });
}

#[test]
fn weight_0_reverse_means_fault_while_the_script_succeeds() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config =
            script("chk", "interval 1\n    weight 0 reverse") + &web_tracking_chk(150, "chk");
        lab.start(a, &config).await;
        lab.start(b, &web(100, "")).await;
        let seen = watch(&lab, VIP, 8).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["script chk is down (exit status 0)"]);
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        assert!(lab.instance(a, "VI_1").await.faults.is_empty());
    });
}

#[test]
fn init_fail_keeps_the_instance_in_fault_until_rise_successes() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config =
            script("chk", "interval 2\n    rise 3\n    init_fail") + &web_tracking_chk(150, "chk");
        lab.start(a, &config).await;
        lab.start(b, &web(100, "")).await;
        // Successes at 0, 2 and 4 s: up only at the third.
        until(&lab, 3.9).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert!(!track(&i, "chk").up);
        assert_eq!(lab.holders(VIP), ["b"]);
        until(&lab, 4.1).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn a_script_runs_every_interval_with_its_arguments() {
    run(|mut lab| async move {
        let a = node(&mut lab, "a", 1);
        let config = "vrrp_script chk {
    script \"/usr/local/bin/chk-http --port 8080 /health\"
    interval 3
}
"
        .to_string()
            + &web_tracking_chk(150, "chk");
        lab.start(a, &config).await;
        until(&lab, 29.5).await;
        let runs: Vec<_> = lab
            .runs()
            .into_iter()
            .filter(|r| r.line.contains("chk-http"))
            .collect();
        assert_eq!(runs.len(), 10, "0, 3, ... 27 s: {runs:?}");
        for r in &runs {
            assert_eq!(r.line, "/usr/local/bin/chk-http --port 8080 /health");
        }
        for pair in runs.windows(2) {
            assert_eq!(pair[1].at - pair[0].at, Duration::from_secs(3));
        }
    });
}

#[test]
fn a_script_tracked_by_several_instances_runs_once_per_interval() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = script("chk", "interval 1\n    weight -60")
            + &web_tracking_chk(150, "chk")
            + &instance(
                "VI_2",
                "eth1",
                52,
                150,
                "198.51.100.100/24",
                "track_script {\n        chk\n    }",
            );
        lab.start(a, &config).await;
        lab.start(
            b,
            &(script("chk", "interval 1") + &web_tracking_chk(100, "chk")),
        )
        .await;
        lab.secs(10.0).await;
        let on_a = runs_between(&lab, a, "/usr/local/bin/chk", 0.0, 10.0);
        let on_b = runs_between(&lab, b, "/usr/local/bin/chk", 0.0, 10.0);
        assert_eq!(on_a.len(), 10, "{on_a:?}");
        assert_eq!(on_b.len(), 10, "{on_b:?}");
        // One failing run lowers both instances.
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        lab.secs(1.0).await;
        assert_eq!(lab.instance(a, "VI_1").await.priority, 90);
        assert_eq!(lab.instance(a, "VI_2").await.priority, 90);
    });
}

// ---------------------------------------------------------------------------------------
// track_file.

/// `VI_1` tracking file `maint` (with `line` after the name).
fn web_tracking_file(priority: u8, line: &str) -> String {
    web(priority, &format!("track_file {{\n        {line}\n    }}"))
}

#[test]
fn a_tracked_files_value_times_its_weight_changes_the_priority() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "5\n").expect("write");
        let (a, b) = pair(&mut lab);
        let config = track_file("maint", &path, "weight -10") + &web_tracking_file(150, "maint");
        lab.start(a, &config).await;
        lab.start(b, &web(120, "")).await;
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(
            seen.last(),
            Some(&names(&["b"])),
            "150 - 50 < 120: {seen:?}"
        );
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 100);
        let t = track(&i, "maint");
        assert_eq!(t.kind, "file");
        assert_eq!(t.effect, TrackEffect::Priority(-50));
        assert_eq!(t.detail, format!("{}: value 5", path.display()));
        assert!(!t.up);
    });
}

#[test]
fn a_tracked_file_changed_at_run_time_moves_the_vip_after_the_next_poll() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "0\n").expect("write");
        let (a, b) = pair(&mut lab);
        let config = track_file("maint", &path, "weight -10") + &web_tracking_file(150, "maint");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        std::fs::write(&path, "8\n").expect("write");
        lab.secs(1.0).await;
        assert_eq!(lab.instance(a, "VI_1").await.priority, 70);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        std::fs::write(&path, "0\n").expect("write");
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 150);
        assert!(track(&i, "maint").up);
    });
}

#[test]
fn a_missing_or_unreadable_tracked_file_reads_as_0() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        let (a, b) = pair(&mut lab);
        let config = track_file("maint", &path, "weight -10") + &web_tracking_file(150, "maint");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 150);
        let t = track(&i, "maint");
        assert!(t.up);
        assert_eq!(
            t.detail,
            format!("{}: file missing, read as 0", path.display())
        );
        std::fs::write(&path, "lots\n").expect("write");
        lab.secs(1.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 150);
        let detail = &track(&i, "maint").detail;
        assert!(
            detail.ends_with("\"lots\" is not a number, read as 0"),
            "{detail}"
        );
        // A directory in its place is not read either.
        std::fs::remove_file(&path).expect("remove");
        std::fs::create_dir(&path).expect("mkdir");
        lab.secs(1.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 150);
        assert!(
            track(&i, "maint").detail.contains("cannot read it"),
            "{}",
            track(&i, "maint").detail
        );
        let seen = watch(&lab, VIP, 5).await;
        assert_eq!(seen, [names(&["a"])]);
    });
}

#[test]
fn a_tracked_file_with_weight_0_faults_on_any_value_but_0() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "0").expect("write");
        let (a, b) = pair(&mut lab);
        let config = track_file("maint", &path, "weight 0") + &web_tracking_file(150, "maint");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        std::fs::write(&path, "3").expect("write");
        let seen = watch(&lab, VIP, 3).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(
            i.faults,
            [format!("file maint is down ({}: value 3)", path.display())]
        );
        std::fs::write(&path, "0").expect("write");
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn a_tracked_file_below_minus_253_means_fault() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "-253").expect("write");
        let a = node(&mut lab, "a", 1);
        let config = track_file("maint", &path, "weight 1") + &web_tracking_file(150, "maint");
        lab.start(a, &config).await;
        lab.secs(5.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!((i.state.clone(), i.priority), (VrrpState::Master, 1));
        std::fs::write(&path, "-254").expect("write");
        lab.secs(1.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(track(&i, "maint").effect, TrackEffect::Fault);
        assert!(lab.holders(VIP).is_empty());
    });
}

#[test]
fn a_track_file_line_overrides_weight_and_reverse() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "3").expect("write");
        let a = node(&mut lab, "a", 1);
        let config = track_file("maint", &path, "weight -1")
            + &web_tracking_file(150, "maint weight 20 reverse");
        lab.start(a, &config).await;
        lab.secs(1.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 90, "3 x 20, reversed");
        assert_eq!(track(&i, "maint").effect, TrackEffect::Priority(-60));
    });
}

#[test]
fn init_file_writes_the_initial_value_of_a_missing_file() {
    // The file is created by the daemon, so it is owned by the daemon's user (root, or the
    // user the tests run as), which it trusts: the same outcome either way.
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        let a = node(&mut lab, "a", 1);
        let config = track_file("maint", &path, "weight -10\n    init_file 4")
            + &web_tracking_file(150, "maint");
        lab.start(a, &config).await;
        lab.secs(1.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(std::fs::read_to_string(&path).expect("written"), "4\n");
        assert_eq!(i.priority, 110);
    });
}

// ---------------------------------------------------------------------------------------
// vrrp_sync_group.

/// Sync group `G` of `FRONT` (eth0, VRID 61, 192.0.2.100) and `BACK` (eth1, VRID 62,
/// 198.51.100.100), with `group_extra` in the group and `front_extra` in FRONT.
fn grouped(priority: u8, group_extra: &str, front_extra: &str) -> String {
    format!(
        "vrrp_sync_group G {{
    group {{
        FRONT
        BACK
    }}
    {group_extra}
}}
"
    ) + &instance("FRONT", "eth0", 61, priority, "192.0.2.100/24", front_extra)
        + &instance("BACK", "eth1", 62, priority, "198.51.100.100/24", "")
}

/// Let `secs` pass checking every 100 ms that neither VIP has two holders; the holders of
/// each at the end.
async fn watch_both(lab: &Lab, secs: u64) -> (Vec<String>, Vec<String>) {
    for _ in 0..secs * 10 {
        lab.wait(Duration::from_millis(100)).await;
        for vip in [VIP, VIP2] {
            let holders = lab.holders(vip);
            assert!(
                holders.len() <= 1,
                "two masters: {holders:?} hold {vip} at {:?}",
                lab.lan.elapsed()
            );
        }
    }
    (lab.holders(VIP), lab.holders(VIP2))
}

/// Start both nodes' groups; checks `a` holds both VIPs.
async fn start_groups(lab: &mut Lab, a: NodeId, b: NodeId, config_a: &str, config_b: &str) {
    lab.start(a, config_a).await;
    lab.start(b, config_b).await;
    let held = watch_both(lab, 6).await;
    assert_eq!(held, (names(&["a"]), names(&["a"])));
}

#[test]
fn one_members_tracked_interface_down_takes_the_whole_group_to_fault_and_both_vips_move() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_a = grouped(150, "", "track_interface {\n        eth2\n    }");
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth2", false);
        let held = watch_both(&lab, 5).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        let front = lab.instance(a, "FRONT").await;
        assert_eq!(front.state, VrrpState::Fault);
        assert_eq!(front.faults, ["interface eth2 is down (link down)"]);
        let back = lab.instance(a, "BACK").await;
        assert_eq!(back.state, VrrpState::Fault);
        assert_eq!(back.sync_group.as_deref(), Some("G"));
        assert_eq!(back.faults, ["sync group G: member FRONT is in FAULT"]);
        assert!(back.tracks.is_empty(), "BACK tracks nothing itself");
        for name in ["FRONT", "BACK"] {
            assert_eq!(lab.state(b, name).await, VrrpState::Master, "{name}");
        }
    });
}

#[test]
fn a_group_in_fault_comes_back_together_and_takes_both_vips_back() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_a = grouped(150, "", "track_interface {\n        eth2\n    }");
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(5.0).await;
        lab.lan.set_link(a, "eth2", true);
        lab.secs(0.1).await;
        for name in ["FRONT", "BACK"] {
            let i = lab.instance(a, name).await;
            assert_eq!(i.state, VrrpState::Backup, "{name}");
            assert!(i.faults.is_empty(), "{name}: {:?}", i.faults);
        }
        let held = watch_both(&lab, 6).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
        for name in ["FRONT", "BACK"] {
            assert_eq!(lab.state(b, name).await, VrrpState::Backup, "{name}");
        }
    });
}

#[test]
fn a_members_own_interface_going_down_takes_its_group_partner_along() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        start_groups(&mut lab, a, b, &grouped(150, "", ""), &grouped(100, "", "")).await;
        // BACK runs on eth1: its link goes; FRONT (eth0) is fine but follows.
        lab.lan.set_link(a, "eth1", false);
        let held = watch_both(&lab, 6).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        assert_eq!(
            lab.instance(a, "BACK").await.faults,
            ["interface eth1 is down"]
        );
        assert_eq!(
            lab.instance(a, "FRONT").await.faults,
            ["sync group G: member BACK is in FAULT"]
        );
        lab.lan.set_link(a, "eth1", true);
        let held = watch_both(&lab, 8).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
    });
}

#[test]
fn a_group_level_tracked_interface_applies_to_every_member() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_a = grouped(150, "track_interface {\n        eth3\n    }", "");
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth3", false);
        let held = watch_both(&lab, 5).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        for name in ["FRONT", "BACK"] {
            let i = lab.instance(a, name).await;
            assert_eq!(i.state, VrrpState::Fault, "{name}");
            assert!(
                i.faults
                    .contains(&"interface eth3 is down (link down)".to_string()),
                "{name}: {:?}",
                i.faults
            );
            assert_eq!(track(&i, "eth3").effect, TrackEffect::Fault, "{name}");
        }
    });
}

#[test]
fn a_group_level_weighted_interface_lowers_every_member_and_the_peer_group_preempts() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_a = grouped(150, "track_interface {\n        eth3 weight -60\n    }", "");
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth3", false);
        lab.secs(0.5).await;
        for name in ["FRONT", "BACK"] {
            assert_eq!(lab.instance(a, name).await.priority, 90, "{name}");
        }
        let held = watch_both(&lab, 8).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        for name in ["FRONT", "BACK"] {
            assert_eq!(lab.state(a, name).await, VrrpState::Backup, "{name}");
        }
        // And stays there: no flapping between the members.
        let held = watch_both(&lab, 15).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
    });
}

#[test]
fn a_group_level_track_script_faults_every_member_and_runs_once_per_interval() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        // FRONT tracks it too: still one runner.
        let tracks_chk = "track_script {\n        chk\n    }";
        let config_a = script("chk", "interval 1") + &grouped(150, tracks_chk, tracks_chk);
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        assert_eq!(
            runs_between(&lab, a, "/usr/local/bin/chk", 0.0, 5.5).len(),
            6
        );
        until(&lab, 6.5).await;
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        let held = watch_both(&lab, 4).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        for name in ["FRONT", "BACK"] {
            let i = lab.instance(a, name).await;
            assert_eq!(i.state, VrrpState::Fault, "{name}");
            assert!(
                i.faults
                    .contains(&"script chk is down (exit status 1)".to_string()),
                "{name}: {:?}",
                i.faults
            );
        }
    });
}

#[test]
fn a_member_outranked_on_its_own_does_not_make_the_group_thrash() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        // Only a's FRONT tracks the uplink (member weights need
        // sync_group_tracking_weight): down, it is 90 against b's FRONT at 100, while a's
        // BACK stays 150 against b's BACK at 100.
        let config_a = grouped(
            150,
            "sync_group_tracking_weight",
            "track_interface {\n        eth2 weight -60\n    }",
        );
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth2", false);
        // keepalived (vrrp_sync_can_goto_master): a group goes to MASTER only if every
        // member wants to, "prefer backup state to avoid thrashing". b's BACK hears a
        // better master, so b's group stays BACKUP and a keeps both VIPs, for good.
        let held = watch_both(&lab, 30).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
        let front = lab.instance(a, "FRONT").await;
        assert_eq!((front.state, front.priority), (VrrpState::Master, 90));
        for name in ["FRONT", "BACK"] {
            let i = lab.instance(b, name).await;
            assert_eq!(i.state, VrrpState::Backup, "{name}");
            assert_eq!(i.counters.vrrp.became_master, 0, "{name} never moved");
        }
        assert_eq!(
            lab.instance(b, "FRONT")
                .await
                .master
                .expect("hears a")
                .priority,
            90
        );
        // A group-wide reason to move (both members lowered) still moves it: see
        // a_group_level_weighted_interface_lowers_every_member_and_the_peer_group_preempts.
    });
}

#[test]
fn a_group_notify_hears_fault_once_every_member_is_in_fault() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_a = grouped(
            150,
            "notify \"/usr/local/bin/group-notify\"",
            "track_interface {\n        eth2\n    }",
        );
        start_groups(&mut lab, a, b, &config_a, &grouped(100, "", "")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(2.0).await;
        let lines = lab.ran(a, "group-notify");
        let faults: Vec<_> = lines.iter().filter(|l| l.contains("FAULT")).collect();
        assert_eq!(faults.len(), 1, "{lines:?}");
        assert!(
            faults[0].starts_with("/usr/local/bin/group-notify GROUP G FAULT"),
            "{lines:?}"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Status, reloads, flapping links.

#[test]
fn status_shows_every_track_with_its_state_and_effect() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maint");
        std::fs::write(&path, "2").expect("write");
        let a = node(&mut lab, "a", 1);
        lab.lan.set_link(a, "eth3", false);
        let config = script("chk", "interval 1\n    weight 5")
            + &track_file("maint", &path, "weight -3")
            + &web(
                150,
                "track_interface {
        eth2 weight 10
        eth3 weight -20
    }
    track_script {
        chk
    }
    track_file {
        maint
    }",
            );
        lab.start(a, &config).await;
        lab.secs(5.0).await;
        let i = lab.instance(a, "VI_1").await;
        let got: Vec<(&str, &str, bool, String)> = i
            .tracks
            .iter()
            .map(|t| (t.kind.as_str(), t.name.as_str(), t.up, t.effect.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("interface", "eth2", true, "+10".to_string()),
                ("interface", "eth3", false, "-20".to_string()),
                ("script", "chk", true, "+5".to_string()),
                ("file", "maint", false, "-6".to_string()),
            ]
        );
        assert_eq!(i.priority, 150 + 10 - 20 + 5 - 6);
        assert_eq!(i.state, VrrpState::Master);
        let warnings: Vec<&str> = i
            .alarms
            .iter()
            .filter(|al| al.severity == Health::Warning)
            .map(|al| al.message.as_str())
            .collect();
        assert_eq!(
            warnings.len(),
            2,
            "the two tracks that are down: {warnings:?}"
        );
        assert!(warnings[0].starts_with("tracking failed: interface eth3"));
        assert!(warnings[1].starts_with("tracking failed: file maint"));
    });
}

#[test]
fn a_reload_that_changes_a_track_weight_applies_it_in_place() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.lan.set_link(a, "eth2", false);
        let weighted = |w: i32| {
            web(
                150,
                &format!("track_interface {{\n        eth2 weight {w}\n    }}"),
            )
        };
        start_pair(&mut lab, a, b, &weighted(-10), &web(100, "")).await;
        assert_eq!(lab.instance(a, "VI_1").await.priority, 140);
        let became = lab.instance(a, "VI_1").await.counters.vrrp.became_master;
        lab.write_config(a, &weighted(-60));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(0.1).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.priority, 90);
        assert_eq!(i.state, VrrpState::Master, "not restarted");
        assert_eq!(i.counters.vrrp.became_master, became);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
    });
}

#[test]
fn a_reload_does_not_make_a_failing_script_pass() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = |interval: u32, priority: u8| {
            script(
                "chk",
                &format!("interval {interval}\n    weight -60\n    fall 2"),
            ) + &web_tracking_chk(priority, "chk")
        };
        start_pair(&mut lab, a, b, &config(1, 150), &web(100, "")).await;
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        let seen = watch(&lab, VIP, 8).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        assert_eq!(lab.instance(a, "VI_1").await.priority, 90);
        // A new interval restarts the runner; the state (down) is kept, as rise and fall
        // are the same.
        lab.write_config(a, &config(2, 155));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        for _ in 0..30 {
            lab.secs(0.2).await;
            assert_eq!(lab.instance(a, "VI_1").await.priority, 95);
        }
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen, [names(&["b"])]);
    });
}

#[test]
fn a_reload_that_adds_a_tracked_interface_which_is_down_faults_at_once() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.lan.set_link(a, "eth3", false);
        start_pair(&mut lab, a, b, &web(150, ""), &web(100, "")).await;
        lab.write_config(a, &web(150, "track_interface {\n        eth3\n    }"));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(0.1).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        assert_eq!(i.faults, ["interface eth3 is down (link down)"]);
        let seen = watch(&lab, VIP, 3).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
    });
}

#[test]
fn a_flapping_tracked_link_never_leaves_two_holders() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = web(150, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        let mut seen_all = Vec::new();
        for cycle in 0..8u32 {
            let up = cycle % 2 == 1;
            lab.lan.set_link(a, "eth2", up);
            // Uneven periods: some shorter than Master_Down_Interval, some longer.
            let secs = [1, 4, 2, 5, 1, 1, 3, 6][cycle as usize];
            seen_all.extend(watch(&lab, VIP, secs).await);
        }
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 8).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        assert!(
            seen_all.iter().any(|h| h == &names(&["b"])),
            "b held it at some point: {seen_all:?}"
        );
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Master);
        assert!(i.faults.is_empty());
    });
}

#[test]
fn a_node_in_fault_still_hears_the_master_and_shows_it() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config = web(150, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &config, &web(100, "")).await;
        lab.lan.set_link(a, "eth2", false);
        lab.secs(5.0).await;
        let i = lab.instance(a, "VI_1").await;
        assert_eq!(i.state, VrrpState::Fault);
        let master = i.master.expect("b's adverts are heard in FAULT");
        assert_eq!(
            (master.address.as_str(), master.priority),
            ("192.0.2.2", 100)
        );
        assert!(master.last_advert_s < 1.5, "{}", master.last_advert_s);
        // And it does not answer b's lower-priority adverts.
        let before = lab.adverts(a).len();
        lab.secs(5.0).await;
        assert_eq!(lab.adverts(a).len(), before);
    });
}

#[test]
fn a_backup_in_fault_does_not_take_over_when_the_master_goes() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let config_b = script("chk", "interval 1") + &web_tracking_chk(100, "chk");
        start_pair(&mut lab, a, b, &web(150, ""), &config_b).await;
        lab.answer("/usr/local/bin/chk", 1, Duration::ZERO);
        lab.secs(1.5).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Fault);
        assert_eq!(lab.holders(VIP), ["a"], "a backup's fault moves nothing");
        lab.crash(a);
        lab.lan
            .remove_address(a, "eth0", "192.0.2.100".parse().expect("addr"));
        let seen = watch(&lab, VIP, 10).await;
        assert_eq!(seen, [Vec::<String>::new()], "b is in FAULT: {seen:?}");
        // Its check passes again: it takes over.
        lab.answer("/usr/local/bin/chk", 0, Duration::ZERO);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        assert_eq!(
            lab.instance(b, "VI_1").await.reason_kind,
            "master_down",
            "no master heard"
        );
    });
}

#[test]
fn with_both_nodes_in_fault_nobody_holds_the_vip_and_the_first_to_recover_takes_it() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let tracked = |p| web(p, "track_interface {\n        eth2\n    }");
        start_pair(&mut lab, a, b, &tracked(150), &tracked(100)).await;
        lab.lan.set_link(a, "eth2", false);
        lab.lan.set_link(b, "eth2", false);
        let seen = watch(&lab, VIP, 8).await;
        assert_eq!(seen, [Vec::<String>::new()], "{seen:?}");
        for id in [a, b] {
            assert_eq!(lab.state(id, "VI_1").await, VrrpState::Fault);
        }
        // The lower-priority node recovers first and serves until the better one is back.
        lab.lan.set_link(b, "eth2", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        lab.lan.set_link(a, "eth2", true);
        let seen = watch(&lab, VIP, 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
    });
}

#[test]
fn tracking_works_the_same_for_an_ipv6_instance() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        let v6 = |p: u8, extra: &str| {
            format!(
                "vrrp_instance V6 {{
    state BACKUP
    interface eth0
    virtual_router_id 71
    version 3
    priority {p}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        2001:db8:1::100/64
    }}
}}
"
            )
        };
        lab.start(
            a,
            &v6(150, "track_interface {\n        eth2 weight -60\n    }"),
        )
        .await;
        lab.start(b, &v6(100, "")).await;
        let seen = watch(&lab, "2001:db8:1::100", 6).await;
        assert_eq!(seen.last(), Some(&names(&["a"])), "{seen:?}");
        lab.lan.set_link(a, "eth2", false);
        let seen = watch(&lab, "2001:db8:1::100", 6).await;
        assert_eq!(seen.last(), Some(&names(&["b"])), "{seen:?}");
        let i = lab.instance(a, "V6").await;
        assert_eq!((i.state, i.priority), (VrrpState::Backup, 90));
        assert_eq!(last_advert_priority(&lab, a, "eth0"), 90);
    });
}

/// A sync group member whose `fallback_check` fails will not preempt ("must succeed before
/// ... an automatic preemption takes the VIP"), so, as with any member that will not
/// preempt (`group_holds`), its group prefers BACKUP: the other member must not preempt
/// and take it along as master by the group, past its failing check.
#[test]
fn a_group_member_with_a_failing_fallback_check_is_not_taken_to_master_by_the_group() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        lab.answer("/usr/local/bin/caught-up", 1, Duration::ZERO);
        lab.start(b, &grouped(100, "", "")).await;
        let held = watch_both(&lab, 6).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        let config_a = grouped(150, "", "fallback_check /usr/local/bin/caught-up");
        lab.start(a, &config_a).await;
        let held = watch_both(&lab, 20).await;
        assert!(!lab.ran(a, "caught-up").is_empty(), "the check ran");
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        // Once the check passes, the group fails back, whole.
        lab.answer("/usr/local/bin/caught-up", 0, Duration::ZERO);
        let held = watch_both(&lab, 60).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
    });
}

/// `baton resign FRONT` on a sync group's master: the group goes with it (keepalived), and
/// the resign's hold keeps it from taking the VIPs back; BACK, taken along, must not
/// preempt b's BACK and so take FRONT back to MASTER by the group within seconds.
#[test]
fn a_resigned_group_member_is_not_taken_back_to_master_by_its_group() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        start_groups(&mut lab, a, b, &grouped(150, "", ""), &grouped(100, "", "")).await;
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Resign {
                    instance: Some("FRONT".to_string()),
                    hold_s: 60,
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        let held = watch_both(&lab, 2).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])), "handed over");
        let held = watch_both(&lab, 30).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        // Past the hold, the group preempts back, whole (no member holds the other for
        // good).
        let held = watch_both(&lab, 40).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
    });
}

/// `baton lock FRONT` on a sync group's master: FRONT stays BACKUP while locked, and the
/// group with it (keepalived: a group goes to MASTER only if every member wants to); BACK
/// must not preempt b's BACK and split the group's VIPs between the nodes.
#[test]
fn a_locked_group_member_keeps_its_group_together_in_backup() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab);
        start_groups(&mut lab, a, b, &grouped(150, "", ""), &grouped(100, "", "")).await;
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Lock {
                    instance: "FRONT".to_string(),
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        let held = watch_both(&lab, 2).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])), "handed over");
        let held = watch_both(&lab, 30).await;
        assert_eq!(held, (names(&["b"]), names(&["b"])));
        // Unlocked, the group preempts back, whole.
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Unlock {
                    instance: "FRONT".to_string(),
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        let held = watch_both(&lab, 15).await;
        assert_eq!(held, (names(&["a"]), names(&["a"])));
    });
}
