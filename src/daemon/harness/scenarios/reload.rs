//! Reloads (`baton reconfigure` and SIGHUP): what applies in place, what restarts an
//! instance, and what is refused without changing anything.

use std::time::Duration;

use crate::control::status::VrrpState;
use crate::daemon::harness::{Lab, NodeId, run};
use crate::wire::vrrp::Packet;

const VIP: &str = "192.0.2.100";

/// One `vrrp_instance` block: `name` on `interface` with VRID `vrid`, `priority`, `extra`
/// lines and `vips`.
fn block(
    name: &str,
    interface: &str,
    vrid: u8,
    priority: u8,
    extra: &str,
    vips: &[&str],
) -> String {
    let vips: String = vips.iter().map(|v| format!("        {v}\n")).collect();
    format!(
        "vrrp_instance {name} {{
    state BACKUP
    interface {interface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int 1
    {extra}
    virtual_ipaddress {{
{vips}    }}
}}
"
    )
}

/// VI_1 on eth0, VRID 51, VIP 192.0.2.100/24.
fn vi1(priority: u8, extra: &str) -> String {
    block("VI_1", "eth0", 51, priority, extra, &["192.0.2.100/24"])
}

/// VI_2 on eth0, VRID 52, VIP 192.0.2.101/24.
fn vi2(priority: u8, extra: &str) -> String {
    block("VI_2", "eth0", 52, priority, extra, &["192.0.2.101/24"])
}

/// Nodes a (192.0.2.1) and b (192.0.2.2) started with these configs and settled.
async fn pair(lab: &mut Lab, config_a: &str, config_b: &str) -> (NodeId, NodeId) {
    let a = lab.node("a", "192.0.2.1/24");
    let b = lab.node("b", "192.0.2.2/24");
    lab.start(a, config_a).await;
    lab.start(b, config_b).await;
    lab.secs(10.0).await;
    (a, b)
}

/// Write node `id`'s config and reload it; the reply's summary (panics on a refusal).
async fn reload_ok(lab: &Lab, id: NodeId, config: &str) -> String {
    lab.write_config(id, config);
    let reply = lab.reload(id).await;
    assert!(reply.ok, "reload refused: {:?}", reply.error);
    reply.result.expect("a result")["summary"]
        .as_str()
        .expect("a summary")
        .to_string()
}

/// Write node `id`'s config and reload it; the refusal (panics if it was applied).
async fn reload_refused(lab: &Lab, id: NodeId, config: &str) -> String {
    lab.write_config(id, config);
    let reply = lab.reload(id).await;
    assert!(!reply.ok, "reload applied: {:?}", reply.result);
    reply.error.expect("an error")
}

/// Decoded adverts node `id` sent after `since`: (time, interface, dst, vrid, priority,
/// interval in centiseconds, address count).
#[derive(Debug)]
struct Seen {
    at: Duration,
    interface: String,
    dst: String,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addresses: u8,
}

fn adverts_since(lab: &Lab, id: NodeId, since: Duration) -> Vec<Seen> {
    lab.adverts(id)
        .into_iter()
        .filter(|s| s.at >= since)
        .map(|s| {
            let p = Packet::new_checked(&s.payload[..]).expect("an advert");
            Seen {
                at: s.at,
                interface: s.interface.clone(),
                dst: s.dst.to_string(),
                vrid: p.vrid(),
                priority: p.priority(),
                interval_cs: p.max_adver_int_cs(),
                addresses: p.addr_count(),
            }
        })
        .collect()
}

/// The longest gap between consecutive adverts of VRID `vrid` in `seen`.
fn longest_gap(seen: &[Seen], vrid: u8) -> Duration {
    let times: Vec<Duration> = seen
        .iter()
        .filter(|s| s.vrid == vrid)
        .map(|s| s.at)
        .collect();
    times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// Hooks node `id` ran since `since` whose line contains `text`.
fn ran_since(lab: &Lab, id: NodeId, text: &str, since: Duration) -> Vec<String> {
    let name = lab.name(id).to_string();
    lab.runs()
        .into_iter()
        .filter(|r| r.node == name && r.at >= since && r.line.contains(text))
        .map(|r| r.line)
        .collect()
}

#[test]
fn a_lower_priority_applies_in_place_without_a_transition() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let before = lab.instance(a, "VI_1").await;
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, a, &vi1(120, "")).await;
        assert_eq!(summary, "0 added, 0 removed, 1 changed, 0 unchanged");
        let seen = lab
            .watch(VIP, Duration::from_secs(20), Duration::from_millis(100))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]]);
        let after = lab.instance(a, "VI_1").await;
        assert_eq!((after.base_priority, after.priority), (120, 120));
        assert_eq!(after.state, VrrpState::Master);
        assert_eq!(after.counters.vrrp.became_master, 1, "no new transition");
        assert!(
            after.since_s > before.since_s + 19.0,
            "state kept: {}",
            after.since_s
        );
        // The adverts carry the new priority from the reload on, with no priority 0.
        let sent = adverts_since(&lab, a, at);
        assert!(sent.len() >= 19);
        assert!(sent.iter().all(|s| s.priority == 120), "{sent:?}");
        assert!(longest_gap(&sent, 51) <= Duration::from_millis(1010));
        let heard = lab.instance(b, "VI_1").await.master.expect("b hears a");
        assert_eq!(heard.priority, 120);
    });
}

#[test]
fn a_priority_change_that_reverses_the_order_moves_the_vip_with_preemption() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        reload_ok(&lab, b, &vi1(180, "")).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(10), Duration::from_millis(100))
            .await;
        assert_eq!(seen, [vec!["a".to_string()], vec!["b".to_string()]]);
        let taken = lab.instance(b, "VI_1").await;
        assert_eq!(taken.state, VrrpState::Master);
        assert_eq!(taken.reason_kind, "preempting");
        let yielded = lab.instance(a, "VI_1").await;
        assert_eq!(yielded.state, VrrpState::Backup);
        assert_eq!(yielded.reason_kind, "preempted");
    });
}

#[test]
fn a_backup_raised_above_the_master_with_manual_fallback_does_not_take_over() {
    run(|mut lab| async move {
        let (_a, b) = pair(
            &mut lab,
            &vi1(150, "fallback manual"),
            &vi1(100, "fallback manual"),
        )
        .await;
        reload_ok(&lab, b, &vi1(200, "fallback manual")).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(60), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]]);
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.state, VrrpState::Backup);
        assert_eq!(backup.priority, 200);
        assert_eq!(backup.reason_kind, "startup", "no transition");
        // The new priority is what a fallback is judged by now.
        let reply = lab
            .command(
                b,
                crate::control::protocol::Command::Fallback { instance: None },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn a_vip_added_on_the_master_appears_and_is_announced_without_a_failover() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let frames_before = lab.frames(a).len();
        let at = lab.lan.elapsed();
        let two = block(
            "VI_1",
            "eth0",
            51,
            150,
            "",
            &["192.0.2.100/24", "192.0.2.110/24"],
        );
        reload_ok(&lab, a, &two).await;
        lab.secs(0.1).await;
        assert_eq!(lab.holders("192.0.2.110"), ["a"]);
        assert_eq!(lab.holders(VIP), ["a"]);
        // Announced: new GARP frames, some of them for the new address.
        let frames = lab.frames(a);
        let new = &frames[frames_before..];
        let target = [192, 0, 2, 110];
        assert!(
            new.iter().any(|f| f.bytes.windows(4).any(|w| w == target)),
            "no GARP for the added VIP"
        );
        lab.secs(10.0).await;
        let master = lab.instance(a, "VI_1").await;
        assert_eq!(master.counters.vrrp.became_master, 1);
        assert!(master.vips.iter().all(|v| v.present), "{:?}", master.vips);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        let sent = adverts_since(&lab, a, at + Duration::from_millis(1));
        assert!(sent.iter().all(|s| s.addresses == 2 && s.priority == 150));
        assert!(longest_gap(&sent, 51) <= Duration::from_millis(1010));
    });
}

#[test]
fn a_vip_removed_on_the_master_goes_and_the_others_stay() {
    run(|mut lab| async move {
        let two = |p| {
            block(
                "VI_1",
                "eth0",
                51,
                p,
                "",
                &["192.0.2.100/24", "192.0.2.110/24"],
            )
        };
        let (a, b) = pair(&mut lab, &two(150), &two(100)).await;
        assert_eq!(lab.holders("192.0.2.110"), ["a"]);
        reload_ok(&lab, a, &vi1(150, "")).await;
        lab.secs(0.1).await;
        assert!(lab.holders("192.0.2.110").is_empty());
        assert_eq!(lab.holders(VIP), ["a"]);
        lab.secs(10.0).await;
        assert!(lab.holders("192.0.2.110").is_empty(), "nobody took it up");
        assert_eq!(lab.holders(VIP), ["a"]);
        let master = lab.instance(a, "VI_1").await;
        assert_eq!(master.vips.len(), 1);
        assert_eq!(master.counters.vrrp.became_master, 1);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_vip_added_on_the_backup_is_not_put_on_its_interface() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let two = block(
            "VI_1",
            "eth0",
            51,
            100,
            "",
            &["192.0.2.100/24", "192.0.2.110/24"],
        );
        reload_ok(&lab, b, &two).await;
        lab.secs(5.0).await;
        assert!(lab.holders("192.0.2.110").is_empty());
        assert!(lab.frames(b).is_empty(), "a backup announces nothing");
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.vips.len(), 2);
        assert!(backup.vips.iter().all(|v| !v.present));
        // It holds both once it takes over.
        lab.crash(a);
        lab.secs(5.0).await;
        assert!(lab.holders("192.0.2.110") == ["b"]);
    });
}

#[test]
fn an_added_instance_starts_and_takes_its_vip() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(100, "")).await;
        lab.secs(5.0).await;
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, a, &format!("{}{}", vi1(100, ""), vi2(100, ""))).await;
        assert_eq!(summary, "1 added, 0 removed, 0 changed, 1 unchanged");
        assert_eq!(lab.state(a, "VI_2").await, VrrpState::Backup);
        lab.secs(3.0).await;
        assert!(
            lab.holders("192.0.2.101").is_empty(),
            "waits Master_Down_Interval"
        );
        lab.secs(1.0).await;
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
        assert_eq!(lab.state(a, "VI_2").await, VrrpState::Master);
        let sent = adverts_since(&lab, a, at);
        assert!(sent.iter().any(|s| s.vrid == 52));
        // VI_1 went on as it was.
        assert_eq!(lab.instance(a, "VI_1").await.counters.vrrp.became_master, 1);
        assert!(longest_gap(&sent, 51) <= Duration::from_millis(1010));
    });
}

#[test]
fn a_removed_instance_stops_releases_its_vips_and_runs_its_stop_hooks() {
    run(|mut lab| async move {
        let hooks = "notify_stop /usr/local/bin/on-stop\n    notify /usr/local/bin/on-any";
        let (a, b) = pair(
            &mut lab,
            &format!("{}{}", vi1(150, ""), vi2(150, hooks)),
            &format!("{}{}", vi1(100, ""), vi2(100, "")),
        )
        .await;
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, a, &vi1(150, "")).await;
        assert_eq!(summary, "0 added, 1 removed, 0 changed, 1 unchanged");
        assert!(lab.holders("192.0.2.101").is_empty(), "released at once");
        // It said goodbye with priority 0, so b takes over after Skew_Time.
        let sent = adverts_since(&lab, a, at);
        assert!(sent.iter().any(|s| s.vrid == 52 && s.priority == 0));
        lab.secs(1.0).await;
        assert_eq!(lab.holders("192.0.2.101"), ["b"]);
        assert_eq!(lab.instance(b, "VI_2").await.reason_kind, "master_resigned");
        assert_eq!(
            ran_since(&lab, a, "on-stop", at),
            ["/usr/local/bin/on-stop"]
        );
        assert_eq!(
            ran_since(&lab, a, "on-any", at),
            ["/usr/local/bin/on-any INSTANCE VI_2 STOP 150"]
        );
        let status = lab.status(a).await;
        let names: Vec<&str> = status.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["VI_1"]);
        // Nothing of VRID 52 is sent any more.
        lab.secs(10.0).await;
        let later = adverts_since(&lab, a, at + Duration::from_millis(1));
        assert!(later.iter().all(|s| s.vrid == 51), "{later:?}");
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn an_unchanged_instance_keeps_running_untouched_through_a_reload() {
    run(|mut lab| async move {
        let hook = "notify /usr/local/bin/on-any";
        let (a, _b) = pair(
            &mut lab,
            &format!("{}{}", vi1(150, hook), vi2(150, hook)),
            &format!("{}{}", vi1(100, ""), vi2(100, "")),
        )
        .await;
        let before = lab.instance(a, "VI_1").await;
        let frames = lab.frames(a).len();
        let at = lab.lan.elapsed();
        // VI_2 changes priority and gains a VIP; VI_1 is written the same.
        let changed = block(
            "VI_2",
            "eth0",
            52,
            160,
            hook,
            &["192.0.2.101/24", "192.0.2.111/24"],
        );
        let summary = reload_ok(&lab, a, &format!("{}{changed}", vi1(150, hook))).await;
        assert_eq!(summary, "0 added, 0 removed, 1 changed, 1 unchanged");
        lab.secs(20.0).await;
        let after = lab.instance(a, "VI_1").await;
        assert_eq!(after.counters.vrrp.became_master, 1);
        assert_eq!(after.reason, before.reason);
        assert!(after.since_s >= before.since_s + 20.0);
        let sent = adverts_since(&lab, a, at);
        assert!(longest_gap(&sent, 51) <= Duration::from_millis(1010));
        let vi1_adverts = sent.iter().filter(|s| s.vrid == 51).count();
        assert!((19..=21).contains(&vi1_adverts), "{vi1_adverts}");
        // No hook ran, no address of VI_1 was announced again.
        assert!(ran_since(&lab, a, "on-any", at).is_empty());
        let vi1_target = [192, 0, 2, 100];
        assert!(
            !lab.frames(a)[frames..]
                .iter()
                .any(|f| f.bytes.windows(4).any(|w| w == vi1_target)),
            "VI_1's VIP announced again"
        );
        assert_eq!(lab.holders("192.0.2.111"), ["a"]);
    });
}

#[test]
fn an_invalid_config_is_refused_naming_the_line_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        // Line 5: a priority out of range; and a VIP added that must not appear.
        let bad = "vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 999
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.110/24
    }
}
";
        let e = reload_refused(&lab, a, bad).await;
        assert!(e.contains("running configuration stays"), "{e}");
        assert!(e.contains("baton.conf:5"), "{e}");
        lab.secs(10.0).await;
        assert!(lab.holders("192.0.2.110").is_empty());
        assert_eq!(lab.holders(VIP), ["a"]);
        let kept = lab.instance(a, "VI_1").await;
        assert_eq!(kept.priority, 150);
        assert_eq!(kept.vips.len(), 1);
        assert_eq!(kept.counters.vrrp.became_master, 1);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        // The same file fixed applies.
        let fixed = bad.replace("999", "140");
        reload_ok(&lab, a, &fixed).await;
        lab.secs(0.1).await;
        assert_eq!(lab.holders("192.0.2.110"), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.priority, 140);
    });
}

#[test]
fn a_config_without_instances_is_refused_and_keeps_the_vips() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        for empty in [
            "",
            "# emptied by a full disk\n",
            "global_defs {\n    router_id a\n}\n",
        ] {
            let e = reload_refused(&lab, a, empty).await;
            assert!(e.contains("no vrrp_instance"), "{empty:?}: {e}");
        }
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        assert!(
            lab.status(a).await.router_id.is_none(),
            "global_defs not applied"
        );
    });
}

#[test]
fn a_missing_or_unreadable_config_file_is_refused_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let path = lab.config_path(a);
        std::fs::remove_file(&path).expect("remove the config");
        let reply = lab.reload(a).await;
        assert!(!reply.ok);
        let e = reply.error.expect("an error");
        assert!(e.contains("running configuration stays"), "{e}");
        // A directory where the file was: not a regular file, cannot be read as one.
        std::fs::create_dir(&path).expect("a directory");
        lab.hangup(a);
        let reply = lab.reload(a).await;
        assert!(!reply.ok, "{:?}", reply.result);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let kept = lab.instance(a, "VI_1").await;
        assert_eq!(kept.state, VrrpState::Master);
        assert_eq!(kept.counters.vrrp.became_master, 1);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        // Put back, it reloads again.
        std::fs::remove_dir(&path).expect("remove the directory");
        assert_eq!(
            reload_ok(&lab, a, &vi1(150, "")).await,
            "configuration unchanged"
        );
    });
}

#[test]
fn a_vrid_change_restarts_the_instance_with_a_handover() {
    run(|mut lab| async move {
        let hook = "notify /usr/local/bin/on-any";
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, hook)).await;
        lab.secs(10.0).await;
        let at = lab.lan.elapsed();
        let moved = block("VI_1", "eth0", 61, 150, hook, &["192.0.2.100/24"]);
        let summary = reload_ok(&lab, a, &moved).await;
        assert_eq!(summary, "1 added, 1 removed, 0 changed, 0 unchanged");
        // The old identity said goodbye and let go of the VIP; the new one starts afresh.
        let sent = adverts_since(&lab, a, at);
        assert_eq!(
            sent.iter()
                .filter(|s| s.vrid == 51)
                .map(|s| s.priority)
                .collect::<Vec<_>>(),
            [0]
        );
        assert!(lab.holders(VIP).is_empty());
        let restarted = lab.instance(a, "VI_1").await;
        assert_eq!(restarted.state, VrrpState::Backup);
        assert_eq!(restarted.vrid, 61);
        assert_eq!(
            restarted.counters.vrrp.became_master, 0,
            "counters start afresh"
        );
        lab.secs(4.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let later = adverts_since(&lab, a, at + Duration::from_millis(1));
        assert!(later.iter().all(|s| s.vrid == 61), "{later:?}");
        assert_eq!(
            ran_since(&lab, a, "on-any", at),
            [
                "/usr/local/bin/on-any INSTANCE VI_1 STOP 150",
                "/usr/local/bin/on-any INSTANCE VI_1 BACKUP 150",
                "/usr/local/bin/on-any INSTANCE VI_1 MASTER 150",
            ]
        );
    });
}

#[test]
fn an_interface_change_restarts_the_instance_on_the_new_interface() {
    run(|mut lab| async move {
        let a = lab.node_with(
            "a",
            &[
                ("eth0", "lan", &["192.0.2.1/24"]),
                ("eth1", "lan2", &["198.51.100.1/24"]),
            ],
        );
        let on = |interface: &str| block("VI_1", interface, 51, 150, "", &["203.0.113.10/24"]);
        lab.start(a, &on("eth0")).await;
        lab.secs(5.0).await;
        let holds = |lab: &Lab, interface: &str| {
            lab.lan.ifaces(a).iter().any(|i| {
                i.name == interface && i.addrs.iter().any(|(x, _)| x.to_string() == "203.0.113.10")
            })
        };
        assert!(holds(&lab, "eth0"));
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, a, &on("eth1")).await;
        assert_eq!(summary, "1 added, 1 removed, 0 changed, 0 unchanged");
        assert!(!holds(&lab, "eth0"), "removed from the old interface");
        lab.secs(5.0).await;
        assert!(holds(&lab, "eth1"));
        assert!(!holds(&lab, "eth0"));
        let status = lab.instance(a, "VI_1").await;
        assert_eq!(status.interface, "eth1");
        assert_eq!(status.state, VrrpState::Master);
        let sent = adverts_since(&lab, a, at);
        let on_eth0: Vec<u8> = sent
            .iter()
            .filter(|s| s.interface == "eth0")
            .map(|s| s.priority)
            .collect();
        assert_eq!(on_eth0, [0], "one goodbye on the old interface");
        assert!(sent.iter().filter(|s| s.interface == "eth1").count() >= 1);
    });
}

#[test]
fn moving_between_multicast_and_unicast_makes_no_failover() {
    // To unicast with the master reloaded first; back to multicast with the backup first
    // (it must go on hearing the master's adverts the old way).
    for to_unicast in [true, false] {
        migrate(to_unicast);
    }
}

fn migrate(to_unicast: bool) {
    run(|mut lab| async move {
        let unicast = |priority: u8, me: &str, peer: &str| {
            vi1(
                priority,
                &format!("unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}"),
            )
        };
        let (old_a, old_b, new_a, new_b, new_dst, old_dst) = if to_unicast {
            (
                vi1(150, ""),
                vi1(100, ""),
                unicast(150, "192.0.2.1", "192.0.2.2"),
                unicast(100, "192.0.2.2", "192.0.2.1"),
                "192.0.2.2",
                "224.0.0.18",
            )
        } else {
            (
                unicast(150, "192.0.2.1", "192.0.2.2"),
                unicast(100, "192.0.2.2", "192.0.2.1"),
                vi1(150, ""),
                vi1(100, ""),
                "224.0.0.18",
                "192.0.2.2",
            )
        };
        let (a, b) = pair(&mut lab, &old_a, &old_b).await;
        let at = lab.lan.elapsed();
        // One node, then the other a minute later: between the two, each still hears
        // the other.
        let (first, second, first_config, second_config) = if to_unicast {
            (a, b, &new_a, &new_b)
        } else {
            (b, a, &new_b, &new_a)
        };
        reload_ok(&lab, first, first_config).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(60), Duration::from_millis(100))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]], "to_unicast {to_unicast}");
        reload_ok(&lab, second, second_config).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(60), Duration::from_millis(100))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]], "to_unicast {to_unicast}");
        // During the migration window a's adverts go both ways.
        let sent = adverts_since(&lab, a, at + Duration::from_secs(61));
        assert!(
            sent.iter().any(|s| s.dst == new_dst),
            "to_unicast {to_unicast}"
        );
        assert!(
            sent.iter().any(|s| s.dst == old_dst),
            "to_unicast {to_unicast}"
        );
        // Past it, the new way only; still nobody took over.
        let seen = lab
            .watch(VIP, Duration::from_secs(300), Duration::from_millis(500))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]], "to_unicast {to_unicast}");
        let late = adverts_since(&lab, a, lab.lan.elapsed() - Duration::from_secs(20));
        assert!(!late.is_empty());
        assert!(
            late.iter().all(|s| s.dst == new_dst),
            "to_unicast {to_unicast}: {late:?}"
        );
        assert_eq!(lab.instance(a, "VI_1").await.counters.vrrp.became_master, 1);
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.state, VrrpState::Backup);
        assert_eq!(backup.counters.vrrp.became_master, 0);
        assert_eq!(backup.master.expect("hears a").address, "192.0.2.1");
        // The new way really carries it now: a stops, b takes over after Skew_Time.
        lab.stop(a).await.expect("a stops");
        lab.secs(2.0).await;
        assert_eq!(lab.holders(VIP), ["b"], "to_unicast {to_unicast}");
    });
}

#[test]
fn an_advert_int_change_applies_in_place() {
    run(|mut lab| async move {
        // VRRPv3: a backup learns the master's interval from its adverts (RFC 5798 6.4.2);
        // with VRRPv2 it would discard them (RFC 3768 7.1) until reloaded too.
        let v3 = |priority: u8, interval: u8| {
            vi1(priority, "version 3").replace("advert_int 1", &format!("advert_int {interval}"))
        };
        let (a, b) = pair(&mut lab, &v3(150, 1), &v3(100, 1)).await;
        let at = lab.lan.elapsed();
        reload_ok(&lab, a, &v3(150, 2)).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(60), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]]);
        let sent = adverts_since(&lab, a, at + Duration::from_secs(3));
        assert!(sent.iter().all(|s| s.interval_cs == 200), "{sent:?}");
        assert!(
            (28..=30).contains(&sent.len()),
            "{} adverts in ~57 s",
            sent.len()
        );
        let gap = longest_gap(&sent, 51);
        assert!(gap <= Duration::from_millis(2010), "{gap:?}");
        let master = lab.instance(a, "VI_1").await;
        assert_eq!(master.counters.vrrp.became_master, 1);
        // b (VRRPv3) learnt the master's interval and keeps waiting for it.
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.state, VrrpState::Backup);
        assert_eq!(backup.counters.vrrp.became_master, 0);
        // Master_Down_Interval now follows the 2 s interval: 3 * 2 + Skew_Time
        // (2 * 156/256 s) after the last advert heard.
        lab.crash(a);
        let last = lab.adverts(a).last().expect("adverts").at;
        lab.secs(10.0).await;
        let master = lab.instance(b, "VI_1").await;
        assert_eq!(master.state, VrrpState::Master);
        let became = lab.lan.elapsed() - Duration::from_secs_f64(master.since_s);
        let waited = became - last;
        assert!(
            (Duration::from_millis(7100)..Duration::from_millis(7300)).contains(&waited),
            "took over {waited:?} after the last advert"
        );
    });
}

#[test]
fn a_reload_during_a_failover_does_not_stop_the_takeover() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        lab.crash(a);
        let crashed = lab.lan.elapsed();
        lab.secs(1.5).await;
        // b is counting down Master_Down_Interval when its config changes.
        let two = block(
            "VI_1",
            "eth0",
            51,
            110,
            "",
            &["192.0.2.100/24", "192.0.2.110/24"],
        );
        reload_ok(&lab, b, &two).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        lab.secs(3.0).await;
        let master = lab.instance(b, "VI_1").await;
        assert_eq!(master.state, VrrpState::Master);
        assert_eq!(master.reason_kind, "master_down");
        assert_eq!(master.priority, 110);
        let took = lab.lan.elapsed() - Duration::from_secs_f64(master.since_s) - crashed;
        assert!(
            took < Duration::from_secs(4),
            "took over {took:?} after the crash"
        );
        assert!(lab.holders("192.0.2.110") == ["b"]);
        assert_eq!(master.counters.vrrp.became_master, 1);
    });
}

#[test]
fn two_reloads_back_to_back_end_in_the_second_config() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, "")).await;
        lab.secs(5.0).await;
        let vi3 = block("VI_3", "eth0", 53, 100, "", &["192.0.2.103/24"]);
        lab.write_config(a, &format!("{}{}", vi1(150, ""), vi2(100, "")));
        lab.hangup(a);
        // The second, asked for while the first may still be reading: queued, and it reads
        // the file as it is then.
        lab.write_config(a, &format!("{}{vi3}", vi1(120, "")));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        let status = lab.status(a).await;
        let names: Vec<&str> = status.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["VI_1", "VI_3"]);
        assert!(lab.holders("192.0.2.101").is_empty());
        assert_eq!(lab.holders("192.0.2.103"), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.priority, 120);
        // Three clients at once: the later ones wait for one more reload, and every client
        // gets its answer.
        lab.write_config(a, &vi1(110, ""));
        let (r1, r2, r3) = tokio::join!(lab.reload(a), lab.reload(a), lab.reload(a));
        for reply in [r1, r2, r3] {
            assert!(reply.ok, "{:?}", reply.error);
        }
        let names: Vec<String> = lab
            .status(a)
            .await
            .instances
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["VI_1"]);
        assert_eq!(lab.instance(a, "VI_1").await.priority, 110);
    });
}

#[test]
fn sighup_reloads_as_reconfigure_does() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        lab.write_config(b, &vi1(200, ""));
        lab.hangup(b);
        lab.secs(6.0).await;
        assert_eq!(lab.instance(b, "VI_1").await.priority, 200);
        assert_eq!(lab.holders(VIP), ["b"]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        // An invalid file on SIGHUP changes nothing either.
        lab.write_config(b, "vrrp_instance VI_1 {\n    priority 50\n");
        lab.hangup(b);
        lab.secs(10.0).await;
        assert_eq!(lab.instance(b, "VI_1").await.priority, 200);
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn an_unchanged_file_reloads_as_unchanged_and_touches_nothing() {
    run(|mut lab| async move {
        let hook = "notify /usr/local/bin/on-any";
        let (a, _b) = pair(&mut lab, &vi1(150, hook), &vi1(100, "")).await;
        let frames = lab.frames(a).len();
        let at = lab.lan.elapsed();
        // Comments and blank lines do not make a change.
        let same = format!("# reformatted\n\n{}", vi1(150, hook));
        assert_eq!(reload_ok(&lab, a, &same).await, "configuration unchanged");
        lab.secs(10.0).await;
        assert!(ran_since(&lab, a, "on-any", at).is_empty());
        assert_eq!(lab.frames(a).len(), frames, "nothing announced again");
        assert!(longest_gap(&adverts_since(&lab, a, at), 51) <= Duration::from_millis(1010));
        assert_eq!(lab.instance(a, "VI_1").await.counters.vrrp.became_master, 1);
    });
}

#[test]
fn new_notify_hooks_apply_to_the_next_transition() {
    run(|mut lab| async move {
        let (a, _b) = pair(
            &mut lab,
            &vi1(150, "notify_backup /usr/local/bin/old-backup"),
            &vi1(100, ""),
        )
        .await;
        let at = lab.lan.elapsed();
        let summary = reload_ok(
            &lab,
            a,
            &vi1(150, "notify_backup /usr/local/bin/new-backup"),
        )
        .await;
        assert_eq!(summary, "0 added, 0 removed, 1 changed, 0 unchanged");
        assert!(
            ran_since(&lab, a, "backup", at).is_empty(),
            "no hook on reload"
        );
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Resign {
                    instance: None,
                    hold_s: 60,
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(1.0).await;
        assert_eq!(
            ran_since(&lab, a, "backup", at),
            ["/usr/local/bin/new-backup"]
        );
    });
}

#[test]
fn a_locked_instance_restarted_by_a_reload_stays_locked() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Lock {
                    instance: "VI_1".into(),
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(2.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        // A VRID change restarts VI_1 on both nodes; a's lock still holds it back.
        let moved = |p| block("VI_1", "eth0", 61, p, "", &["192.0.2.100/24"]);
        reload_ok(&lab, b, &moved(100)).await;
        reload_ok(&lab, a, &moved(150)).await;
        lab.secs(1.0).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(60), Duration::from_millis(250))
            .await;
        assert_eq!(seen.last().expect("seen"), &vec!["b".to_string()]);
        let locked = lab.instance(a, "VI_1").await;
        assert!(locked.locked);
        assert_eq!(locked.state, VrrpState::Backup);
        assert_eq!(locked.vrid, 61);
        // An in-place change keeps it locked too.
        reload_ok(&lab, a, &moved(160)).await;
        lab.secs(10.0).await;
        assert!(lab.instance(a, "VI_1").await.locked);
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn an_instance_that_cannot_start_is_reported_and_the_rest_applies() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, "")).await;
        lab.secs(5.0).await;
        let missing = block("VI_2", "eth9", 52, 100, "", &["192.0.2.101/24"]);
        let config = format!("{}{missing}", vi1(140, ""));
        lab.write_config(a, &config);
        for attempt in 0..2 {
            let reply = lab.reload(a).await;
            assert!(!reply.ok, "{attempt}: {:?}", reply.result);
            let e = reply.error.expect("an error");
            assert!(e.contains("applied in part"), "{attempt}: {e}");
            assert!(e.contains("VI_2"), "{attempt}: {e}");
            assert!(e.contains("eth9"), "{attempt}: {e}");
        }
        let status = lab.status(a).await;
        let names: Vec<&str> = status.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["VI_1"]);
        let kept = lab.instance(a, "VI_1").await;
        assert_eq!(kept.priority, 140, "the rest was applied");
        assert_eq!(kept.counters.vrrp.became_master, 1);
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn a_version_change_restarts_the_instance() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, "version 2")).await;
        lab.secs(5.0).await;
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, a, &vi1(150, "version 3")).await;
        assert_eq!(summary, "1 added, 1 removed, 0 changed, 0 unchanged");
        assert!(lab.holders(VIP).is_empty(), "handed over as on a stop");
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let versions: Vec<(u8, u8)> = lab
            .adverts(a)
            .iter()
            .filter(|s| s.at >= at)
            .map(|s| {
                let p = Packet::new_checked(&s.payload[..]).expect("an advert");
                (p.version(), p.priority())
            })
            .collect();
        assert_eq!(versions[0], (2, 0), "the old instance's goodbye");
        assert!(versions[1..].iter().all(|&(v, _)| v == 3), "{versions:?}");
        assert_eq!(lab.instance(a, "VI_1").await.version, 3);
    });
}

#[test]
fn a_new_unicast_peer_applies_in_place() {
    run(|mut lab| async move {
        let peers = |me: &str, others: &[&str]| {
            let list: String = others.iter().map(|p| format!("        {p}\n")).collect();
            format!("unicast_src_ip {me}\n    unicast_peer {{\n{list}    }}")
        };
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let c = lab.node("c", "192.0.2.3/24");
        lab.start(a, &vi1(150, &peers("192.0.2.1", &["192.0.2.2"])))
            .await;
        lab.start(b, &vi1(100, &peers("192.0.2.2", &["192.0.2.1"])))
            .await;
        lab.secs(10.0).await;
        // c joins: it lists a and b; a learns of c by a reload.
        lab.start(
            c,
            &vi1(50, &peers("192.0.2.3", &["192.0.2.1", "192.0.2.2"])),
        )
        .await;
        let at = lab.lan.elapsed();
        reload_ok(
            &lab,
            a,
            &vi1(150, &peers("192.0.2.1", &["192.0.2.2", "192.0.2.3"])),
        )
        .await;
        let seen = lab
            .watch(VIP, Duration::from_secs(20), Duration::from_millis(100))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]]);
        let sent = adverts_since(&lab, a, at);
        assert!(sent.iter().any(|s| s.dst == "192.0.2.3"));
        assert!(sent.iter().any(|s| s.dst == "192.0.2.2"));
        assert!(
            sent.iter().all(|s| s.dst != "224.0.0.18"),
            "no migration: unicast before and after"
        );
        assert_eq!(lab.instance(a, "VI_1").await.counters.vrrp.became_master, 1);
        // c heard a in time: it never took over.
        let joined = lab.instance(c, "VI_1").await;
        assert_eq!(joined.state, VrrpState::Backup);
        assert_eq!(joined.counters.vrrp.became_master, 0);
        assert_eq!(joined.master.expect("hears a").address, "192.0.2.1");
    });
}

#[test]
fn an_instance_removed_on_the_backup_runs_its_stop_hook_and_sends_nothing() {
    run(|mut lab| async move {
        let hooks = "notify /usr/local/bin/on-any";
        let (a, b) = pair(
            &mut lab,
            &format!("{}{}", vi1(150, ""), vi2(150, "")),
            &format!("{}{}", vi1(100, ""), vi2(100, hooks)),
        )
        .await;
        let at = lab.lan.elapsed();
        let summary = reload_ok(&lab, b, &vi1(100, "")).await;
        assert_eq!(summary, "0 added, 1 removed, 0 changed, 1 unchanged");
        lab.secs(10.0).await;
        // A backup leaves silently (RFC 5798 6.4.2: Shutdown in Backup sends nothing).
        assert!(adverts_since(&lab, b, at).is_empty());
        assert_eq!(
            ran_since(&lab, b, "on-any", at),
            ["/usr/local/bin/on-any INSTANCE VI_2 STOP 100"]
        );
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
        assert_eq!(lab.state(a, "VI_2").await, VrrpState::Master);
        let e = lab
            .command(
                b,
                crate::control::protocol::Command::Status {
                    instance: Some("VI_2".into()),
                },
            )
            .await
            .error
            .expect("an error");
        assert!(e.contains("no instance named VI_2; instances: VI_1"), "{e}");
    });
}

#[test]
fn a_vip_moved_between_two_master_instances_stays_held() {
    for to_first in [false, true] {
        moved_vip(to_first);
    }
}

/// VI_1 and VI_2 masters on one node; .110 moves from one to the other (to VI_1 when
/// `to_first`), each order of writing and of applying.
fn moved_vip(to_first: bool) {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let first = |vips: &[&str]| block("VI_1", "eth0", 51, 150, "", vips);
        let second = |vips: &[&str]| block("VI_2", "eth0", 52, 150, "", vips);
        let with = ["192.0.2.100/24", "192.0.2.110/24"];
        let (before, after) = if to_first {
            (
                format!(
                    "{}{}",
                    first(&["192.0.2.100/24"]),
                    second(&["192.0.2.101/24", "192.0.2.110/24"])
                ),
                format!("{}{}", second(&["192.0.2.101/24"]), first(&with)),
            )
        } else {
            (
                format!("{}{}", second(&["192.0.2.101/24"]), first(&with)),
                format!(
                    "{}{}",
                    first(&["192.0.2.100/24"]),
                    second(&["192.0.2.101/24", "192.0.2.110/24"])
                ),
            )
        };
        lab.start(a, &before).await;
        lab.secs(5.0).await;
        assert_eq!(lab.holders("192.0.2.110"), ["a"]);
        let summary = reload_ok(&lab, a, &after).await;
        assert_eq!(summary, "0 added, 0 removed, 2 changed, 0 unchanged");
        lab.secs(1.0).await;
        assert_eq!(
            lab.holders("192.0.2.110"),
            ["a"],
            "to_first {to_first}: the VIP went missing"
        );
        for name in ["VI_1", "VI_2"] {
            let status = lab.instance(a, name).await;
            assert!(
                status.vips.iter().all(|v| v.present),
                "to_first {to_first}: {name} {:?}",
                status.vips
            );
        }
    });
}

#[test]
fn a_vip_prefix_change_on_the_master_applies() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, "")).await;
        lab.secs(5.0).await;
        let narrower = block("VI_1", "eth0", 51, 150, "", &["192.0.2.100/32"]);
        reload_ok(&lab, a, &narrower).await;
        lab.secs(1.0).await;
        let prefixes: Vec<u8> = lab
            .lan
            .ifaces(a)
            .iter()
            .flat_map(|i| i.addrs.clone())
            .filter(|(x, _)| x.to_string() == VIP)
            .map(|(_, p)| p)
            .collect();
        assert_eq!(prefixes, [32]);
        let master = lab.instance(a, "VI_1").await;
        assert!(master.vips[0].present, "{:?}", master.vips);
    });
}

#[test]
fn an_in_place_reload_keeps_a_resign_hold() {
    run(|mut lab| async move {
        let (a, _b) = pair(&mut lab, &vi1(150, ""), &vi1(100, "")).await;
        let reply = lab
            .command(
                a,
                crate::control::protocol::Command::Resign {
                    instance: None,
                    hold_s: 60,
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        let resigned = lab.lan.elapsed();
        lab.secs(10.0).await;
        // A changed instance keeps its state, the hold included.
        reload_ok(&lab, a, &vi1(160, "")).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(45), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let back = lab.instance(a, "VI_1").await;
        assert_eq!(back.priority, 160);
        let became = lab.lan.elapsed() - Duration::from_secs_f64(back.since_s);
        assert!(became >= resigned + Duration::from_secs(60), "{became:?}");
    });
}
