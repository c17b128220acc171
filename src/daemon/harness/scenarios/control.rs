//! Operator commands over the control socket: status, resign, lock and unlock, manual
//! fallback and its `fallback_check`, and what each refuses.

use std::time::Duration;

use super::one_instance;
use crate::control::protocol::{Command, Reply};
use crate::control::status::VrrpState;
use crate::daemon::harness::{Lab, NodeId, run};
use crate::wire::vrrp::Packet;

const VIP: &str = "192.0.2.100";

/// Two instances: VI_1 (VRID 51, VIP .100) and VI_2 (VRID 52, VIP .101).
fn two_instances(p1: u8, p2: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {p1}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority {p2}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        192.0.2.101/24
    }}
}}
"
    )
}

/// Nodes a (192.0.2.1) and b (192.0.2.2) with these configs, started and settled (a is
/// expected to win when its priority is higher).
async fn pair(lab: &mut Lab, config_a: &str, config_b: &str) -> (NodeId, NodeId) {
    let a = lab.node("a", "192.0.2.1/24");
    let b = lab.node("b", "192.0.2.2/24");
    lab.start(a, config_a).await;
    lab.start(b, config_b).await;
    lab.secs(10.0).await;
    (a, b)
}

fn error(reply: &Reply) -> &str {
    assert!(!reply.ok, "expected a refusal, got {reply:?}");
    reply.error.as_deref().expect("an error message")
}

fn ok(reply: &Reply) {
    assert!(reply.ok, "expected success, got {:?}", reply.error);
}

fn status(instance: Option<&str>) -> Command {
    Command::Status {
        instance: instance.map(str::to_string),
    }
}

fn resign(instance: Option<&str>, hold_s: u64) -> Command {
    Command::Resign {
        instance: instance.map(str::to_string),
        hold_s,
    }
}

fn fallback() -> Command {
    Command::Fallback { instance: None }
}

fn lock(name: &str) -> Command {
    Command::Lock {
        instance: name.to_string(),
    }
}

fn unlock(name: &str) -> Command {
    Command::Unlock {
        instance: name.to_string(),
    }
}

/// The priorities of node `id`'s adverts sent after `since`.
fn priorities_since(lab: &Lab, id: NodeId, since: Duration) -> Vec<u8> {
    lab.adverts(id)
        .iter()
        .filter(|s| s.at >= since)
        .map(|s| {
            Packet::new_checked(&s.payload[..])
                .expect("an advert")
                .priority()
        })
        .collect()
}

fn names(reply: &Reply) -> Vec<String> {
    reply.result.as_ref().expect("a status")["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["name"].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn status_lists_every_instance_or_only_the_one_asked_for() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &two_instances(100, 120, "")).await;
        lab.secs(5.0).await;
        let all = lab.command(a, status(None)).await;
        ok(&all);
        assert_eq!(names(&all), ["VI_1", "VI_2"]);
        let one = lab.command(a, status(Some("VI_2"))).await;
        ok(&one);
        assert_eq!(names(&one), ["VI_2"]);
        let vi2 = &one.result.as_ref().expect("status")["instances"][0];
        assert_eq!(vi2["vrid"], 52);
        assert_eq!(vi2["base_priority"], 120);
        assert_eq!(vi2["interface"], "eth0");
        // The node is named by its config id when it has no router_id.
        assert_eq!(one.result.as_ref().expect("status")["node"], "a");
    });
}

#[test]
fn every_command_naming_a_missing_instance_fails_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, b) = pair(
            &mut lab,
            &two_instances(150, 150, "fallback manual"),
            &two_instances(100, 100, "fallback manual"),
        )
        .await;
        for (node, command) in [
            (a, status(Some("NOPE"))),
            (a, resign(Some("NOPE"), 60)),
            (
                b,
                Command::Fallback {
                    instance: Some("NOPE".into()),
                },
            ),
            (a, lock("NOPE")),
            (a, unlock("NOPE")),
        ] {
            let reply = lab.command(node, command.clone()).await;
            let e = error(&reply);
            assert!(e.contains("no instance named NOPE"), "{command:?}: {e}");
            assert!(e.contains("VI_1, VI_2"), "{command:?}: {e}");
        }
        // Without a name, with two instances, the command asks for one.
        let reply = lab.command(a, resign(None, 60)).await;
        let e = error(&reply);
        assert!(e.contains("name the instance"), "{e}");
        assert!(e.contains("VI_1, VI_2"), "{e}");
        lab.secs(10.0).await;
        for name in ["VI_1", "VI_2"] {
            assert_eq!(lab.state(a, name).await, VrrpState::Master);
            assert_eq!(lab.state(b, name).await, VrrpState::Backup);
            assert!(!lab.instance(a, name).await.locked);
        }
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
    });
}

#[test]
fn status_shows_what_the_master_and_the_backup_each_see() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        let master = lab.instance(a, "VI_1").await;
        assert_eq!(master.state, VrrpState::Master);
        assert_eq!(master.reason_kind, "master_down");
        assert_eq!((master.base_priority, master.priority), (150, 150));
        assert!(master.master.is_none(), "a master hears no master");
        assert_eq!(master.vips.len(), 1);
        assert!(master.vips[0].address.starts_with(VIP), "{:?}", master.vips);
        assert!(master.vips[0].present);
        assert!(!master.locked);
        assert_eq!(master.fallback, "automatic");

        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.state, VrrpState::Backup);
        assert_eq!(backup.reason_kind, "startup");
        assert_eq!((backup.base_priority, backup.priority), (100, 100));
        let heard = backup.master.expect("the backup hears the master");
        assert_eq!(heard.address, "192.0.2.1");
        assert_eq!(heard.priority, 150);
        assert!(heard.last_advert_s <= 1.0, "{}", heard.last_advert_s);
        assert!(!backup.vips[0].present, "the backup does not hold the VIP");
        // The master's since_s runs from its takeover, ~3.4 s after start.
        assert!(
            (6.0..7.0).contains(&master.since_s),
            "since_s {}",
            master.since_s
        );
    });
}

#[test]
fn counters_advance_with_the_adverts_sent_and_heard() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        let before_a = lab.instance(a, "VI_1").await.counters.vrrp;
        let before_b = lab.instance(b, "VI_1").await.counters.vrrp;
        lab.secs(20.0).await;
        let after_a = lab.instance(a, "VI_1").await.counters.vrrp;
        let after_b = lab.instance(b, "VI_1").await.counters.vrrp;
        let sent = after_a.adverts_sent - before_a.adverts_sent;
        let heard = after_b.adverts_received - before_b.adverts_received;
        assert!((19..=21).contains(&sent), "sent {sent}");
        assert_eq!(heard, sent, "every advert the master sent was heard");
        assert_eq!(after_a.became_master, 1);
        assert_eq!(after_b.became_master, 0);
        assert_eq!(after_b.adverts_sent, 0, "a backup is silent");
        assert_eq!(after_a.priority_zero_sent, 0);
    });
}

#[test]
fn resign_hands_the_vip_over_and_holds_off_until_hold_s_then_preempts() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        let at = lab.lan.elapsed();
        let reply = lab.command(a, resign(None, 30)).await;
        ok(&reply);
        assert_eq!(reply.result.as_ref().expect("result")["state"], "BACKUP");
        // One priority-0 advert: the backup takes over after Skew_Time, not
        // Master_Down_Interval (RFC 5798 6.4.2).
        assert_eq!(priorities_since(&lab, a, at)[..1], [0]);
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.instance(b, "VI_1").await.reason_kind, "master_resigned");
        let resigned = lab.instance(a, "VI_1").await;
        assert_eq!(resigned.state, VrrpState::Backup);
        assert_eq!(resigned.reason_kind, "resigned");
        // It hears the lower-priority b and does not take the VIP back during the hold.
        let seen = lab
            .watch(VIP, Duration::from_secs(27), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        // Past the hold, preemption applies again (fallback automatic).
        let seen = lab
            .watch(VIP, Duration::from_secs(10), Duration::from_millis(100))
            .await;
        assert_eq!(seen.last().expect("seen"), &vec!["a".to_string()]);
        let back = lab.instance(a, "VI_1").await;
        assert_eq!(back.reason_kind, "preempting");
        assert_eq!(back.counters.vrrp.became_master, 2);
        let took_back = lab.lan.elapsed() - Duration::from_secs_f64(back.since_s) - at;
        assert!(
            took_back >= Duration::from_secs(30),
            "took it back {took_back:?} after the resign"
        );
    });
}

#[test]
fn resign_with_manual_fallback_never_takes_the_vip_back_by_itself() {
    run(|mut lab| async move {
        let (a, b) = pair(
            &mut lab,
            &one_instance(150, "fallback manual"),
            &one_instance(100, "fallback manual"),
        )
        .await;
        ok(&lab.command(a, resign(None, 5)).await);
        let seen = lab
            .watch(VIP, Duration::from_secs(120), Duration::from_millis(500))
            .await;
        assert_eq!(seen.last().expect("seen"), &vec!["b".to_string()]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        // The operator brings it back.
        ok(&lab.command(a, fallback()).await);
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "fallback");
    });
}

#[test]
fn resign_on_a_backup_is_refused_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        let at = lab.lan.elapsed();
        let reply = lab.command(b, resign(Some("VI_1"), 60)).await;
        let e = error(&reply);
        assert!(e.contains("not MASTER"), "{e}");
        lab.secs(5.0).await;
        assert!(priorities_since(&lab, b, at).is_empty(), "b sent adverts");
        assert_eq!(lab.holders(VIP), ["a"]);
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.reason_kind, "startup", "no transition");
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        // Nor is a preemption held back on b: with a gone it takes over as usual.
        lab.crash(a);
        lab.secs(4.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
    });
}

#[test]
fn lock_on_a_master_hands_that_instance_over_and_keeps_it_backup() {
    run(|mut lab| async move {
        let (a, b) = pair(
            &mut lab,
            &two_instances(150, 150, ""),
            &two_instances(100, 100, ""),
        )
        .await;
        let reply = lab.command(a, lock("VI_1")).await;
        ok(&reply);
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let locked = lab.instance(a, "VI_1").await;
        assert!(locked.locked);
        assert_eq!(locked.state, VrrpState::Backup);
        assert_eq!(locked.reason_kind, "locked");
        // Priority 150 against 100 with preemption: still backup for as long as it is locked.
        let seen = lab
            .watch(VIP, Duration::from_secs(120), Duration::from_millis(500))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        // The other instance is not locked and stays master on a.
        assert_eq!(lab.holders("192.0.2.101"), ["a"]);
        assert!(!lab.instance(a, "VI_2").await.locked);
        assert_eq!(lab.state(a, "VI_2").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_2").await, VrrpState::Backup);
    });
}

#[test]
fn a_locked_backup_does_not_take_over_when_the_master_dies_until_unlocked() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        ok(&lab.command(b, lock("VI_1")).await);
        lab.stop(a).await.expect("a stops");
        lab.secs(60.0).await;
        assert!(lab.holders(VIP).is_empty(), "{:?}", lab.holders(VIP));
        let backup = lab.instance(b, "VI_1").await;
        assert_eq!(backup.state, VrrpState::Backup);
        assert!(backup.locked);
        assert_eq!(backup.counters.vrrp.became_master, 0);
        let at = lab.lan.elapsed();
        ok(&lab.command(b, unlock("VI_1")).await);
        assert!(!lab.instance(b, "VI_1").await.locked);
        // Unlocked, it waits Master_Down_Interval (3 + 156/256 s) and takes over.
        lab.secs(3.0).await;
        assert!(lab.holders(VIP).is_empty());
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let master = lab.instance(b, "VI_1").await;
        let took = lab.lan.elapsed() - Duration::from_secs_f64(master.since_s) - at;
        assert!(
            (Duration::from_millis(3500)..Duration::from_millis(3700)).contains(&took),
            "took over {took:?} after the unlock"
        );
    });
}

#[test]
fn a_lock_survives_a_restart_and_unlock_lets_it_preempt() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        ok(&lab.command(a, lock("VI_1")).await);
        lab.secs(2.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        lab.stop(a).await.expect("a stops");
        lab.start_again(a).await;
        let seen = lab
            .watch(VIP, Duration::from_secs(30), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        let restarted = lab.instance(a, "VI_1").await;
        assert!(restarted.locked, "the lock is kept in the state directory");
        assert_eq!(restarted.state, VrrpState::Backup);
        assert_eq!(restarted.counters.vrrp.became_master, 0);
        ok(&lab.command(a, unlock("VI_1")).await);
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        // And the unlock is kept too: another restart comes up unlocked and preempts.
        lab.stop(a).await.expect("a stops");
        lab.start_again(a).await;
        lab.secs(6.0).await;
        assert!(!lab.instance(a, "VI_1").await.locked);
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

/// a (200) and b (100), both `fallback manual` plus `extra` on a; a was master, stopped,
/// b took over, a came back: a is BACKUP hearing b.
async fn a_came_back(lab: &mut Lab, extra: &str) -> (NodeId, NodeId) {
    let (a, b) = pair(
        lab,
        &one_instance(200, &format!("fallback manual\n    {extra}")),
        &one_instance(100, "fallback manual"),
    )
    .await;
    assert_eq!(lab.holders(VIP), ["a"]);
    lab.stop(a).await.expect("a stops");
    lab.secs(2.0).await;
    assert_eq!(lab.holders(VIP), ["b"]);
    lab.start_again(a).await;
    lab.secs(10.0).await;
    (a, b)
}

#[test]
fn with_manual_fallback_the_preferred_node_waits_for_baton_fallback() {
    run(|mut lab| async move {
        let (a, b) = a_came_back(&mut lab, "").await;
        let seen = lab
            .watch(VIP, Duration::from_secs(120), Duration::from_millis(500))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        let waiting = lab.instance(a, "VI_1").await;
        assert_eq!(waiting.state, VrrpState::Backup);
        assert_eq!(waiting.fallback, "manual");
        assert_eq!(waiting.master.expect("hears b").address, "192.0.2.2");
        let reply = lab.command(a, fallback()).await;
        ok(&reply);
        assert_eq!(reply.result.as_ref().expect("result")["state"], "MASTER");
        let seen = lab
            .watch(VIP, Duration::from_secs(5), Duration::from_millis(50))
            .await;
        assert_eq!(seen, [vec!["a".to_string()]]);
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "fallback");
        let displaced = lab.instance(b, "VI_1").await;
        assert_eq!(displaced.state, VrrpState::Backup);
        assert_eq!(displaced.reason_kind, "preempted");
    });
}

#[test]
fn a_passing_fallback_check_runs_before_the_fallback_proceeds() {
    run(|mut lab| async move {
        let (a, _b) = a_came_back(
            &mut lab,
            "fallback_check \"/usr/local/bin/caught-up --max-lag 16MB\"",
        )
        .await;
        // With manual fallback the check runs only when asked.
        assert!(lab.ran(a, "caught-up").is_empty());
        lab.answer("caught-up", 0, Duration::from_secs(3));
        let at = lab.lan.elapsed();
        let reply = lab.command(a, fallback()).await;
        ok(&reply);
        let waited = lab.lan.elapsed() - at;
        assert!(
            waited >= Duration::from_secs(3),
            "answered after {waited:?}"
        );
        let runs: Vec<_> = lab
            .runs()
            .into_iter()
            .filter(|r| r.node == "a" && r.line.contains("caught-up"))
            .collect();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].line, "/usr/local/bin/caught-up --max-lag 16MB");
        assert_eq!(
            runs[0].env.get("BATON_NAME").map(String::as_str),
            Some("VI_1")
        );
        assert!(runs[0].env.contains_key("BATON_SOCKET"));
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        // The VIP moved only once the check had passed.
        let master = lab.instance(a, "VI_1").await;
        let became = lab.lan.elapsed() - Duration::from_secs_f64(master.since_s);
        assert!(became >= at + Duration::from_secs(3), "{became:?}");
    });
}

#[test]
fn a_failing_fallback_check_refuses_the_fallback_with_its_detail() {
    run(|mut lab| async move {
        let (a, b) = a_came_back(&mut lab, "fallback_check /usr/local/bin/caught-up").await;
        lab.answer("caught-up", 1, Duration::from_millis(200));
        let reply = lab.command(a, fallback()).await;
        let e = error(&reply);
        assert!(e.contains("fallback_check failed"), "{e}");
        assert!(e.contains("exit status 1"), "{e}");
        let seen = lab
            .watch(VIP, Duration::from_secs(30), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        // Once the check passes, the same command proceeds.
        lab.answer("caught-up", 0, Duration::ZERO);
        ok(&lab.command(a, fallback()).await);
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn a_fallback_check_that_hangs_past_its_timeout_is_refused() {
    run(|mut lab| async move {
        let (a, _b) = a_came_back(
            &mut lab,
            "fallback_check /usr/local/bin/caught-up\n    fallback_check_timeout 5",
        )
        .await;
        lab.answer("caught-up", 0, Duration::from_secs(3600));
        let at = lab.lan.elapsed();
        let reply = lab.command(a, fallback()).await;
        let waited = lab.lan.elapsed() - at;
        let e = error(&reply);
        assert!(e.contains("timed out"), "{e}");
        assert!(
            (Duration::from_secs(5)..Duration::from_secs(6)).contains(&waited),
            "refused after {waited:?}"
        );
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn a_second_fallback_while_the_check_runs_is_refused() {
    run(|mut lab| async move {
        let (a, _b) = a_came_back(&mut lab, "fallback_check /usr/local/bin/caught-up").await;
        lab.answer("caught-up", 0, Duration::from_secs(8));
        let first = lab.command(a, fallback());
        let second = async {
            lab.secs(2.0).await;
            lab.command(a, fallback()).await
        };
        let (first, second) = tokio::join!(first, second);
        let e = error(&second);
        assert!(
            e.contains("a fallback check is already running (started 2s ago)"),
            "{e}"
        );
        ok(&first);
        assert_eq!(lab.ran(a, "caught-up").len(), 1, "one check ran");
        lab.secs(1.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn a_fallback_whose_client_left_before_the_check_ended_is_not_done() {
    run(|mut lab| async move {
        let (a, _b) = a_came_back(&mut lab, "fallback_check /usr/local/bin/caught-up").await;
        lab.answer("caught-up", 0, Duration::from_secs(8));
        let reply = lab
            .command_impatient(a, fallback(), Duration::from_secs(2))
            .await;
        assert!(reply.is_none(), "{reply:?}");
        // The check passes at 8 s, but nobody waits for it any more.
        let seen = lab
            .watch(VIP, Duration::from_secs(30), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
        // The check is over: a new fallback is not refused as "already running".
        lab.answer("caught-up", 0, Duration::ZERO);
        ok(&lab.command(a, fallback()).await);
    });
}

#[test]
fn fallback_is_refused_with_the_reason_when_it_cannot_apply() {
    run(|mut lab| async move {
        let (a, b) = pair(
            &mut lab,
            &one_instance(
                150,
                "fallback manual\n    fallback_check /usr/local/bin/caught-up",
            ),
            &one_instance(
                100,
                "fallback manual\n    fallback_check /usr/local/bin/caught-up",
            ),
        )
        .await;
        // Already master.
        let e = error(&lab.command(a, fallback()).await).to_string();
        assert!(e.contains("already MASTER"), "{e}");
        // A backup that does not outrank the master it hears.
        let e = error(&lab.command(b, fallback()).await).to_string();
        assert!(
            e.contains("the current master 192.0.2.1 has priority 150, this node only 100"),
            "{e}"
        );
        // A locked node.
        ok(&lab.command(a, lock("VI_1")).await);
        lab.secs(2.0).await;
        let e = error(&lab.command(a, fallback()).await).to_string();
        assert!(e.contains("locked"), "{e}");
        // None of these ran the check (refused before it).
        assert!(lab.ran(a, "caught-up").is_empty());
        assert!(lab.ran(b, "caught-up").is_empty());
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn with_automatic_fallback_a_failing_check_holds_preemption_until_it_passes() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(b, &one_instance(100, "")).await;
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        lab.answer("caught-up", 1, Duration::ZERO);
        lab.start(
            a,
            &one_instance(200, "fallback_check /usr/local/bin/caught-up"),
        )
        .await;
        let seen = lab
            .watch(VIP, Duration::from_secs(20), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        let checks = lab.ran(a, "caught-up").len();
        // Retried every 2 s while the lower-priority master is heard.
        assert!((8..=11).contains(&checks), "{checks} checks in 20 s");
        lab.answer("caught-up", 0, Duration::ZERO);
        lab.secs(8.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "preempting");
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
    });
}

#[test]
fn status_answers_at_once_while_a_hook_and_a_fallback_check_run_long() {
    run(|mut lab| async move {
        let slow_hook = "notify_master /usr/local/bin/promote\n    \
                         fallback_check /usr/local/bin/caught-up\n    \
                         fallback_check_timeout 30";
        lab.answer("promote", 0, Duration::from_secs(25));
        lab.answer("caught-up", 0, Duration::from_secs(20));
        let (a, _b) = a_came_back(&mut lab, slow_hook).await;
        let fallback_done = lab.command(a, fallback());
        let meanwhile = async {
            for _ in 0..5 {
                lab.secs(3.0).await;
                let at = lab.lan.elapsed();
                let state = lab.state(a, "VI_1").await;
                assert_eq!(state, VrrpState::Backup, "the check has not passed yet");
                let took = lab.lan.elapsed() - at;
                assert!(took < Duration::from_millis(100), "status took {took:?}");
            }
        };
        let (reply, ()) = tokio::join!(fallback_done, meanwhile);
        ok(&reply);
        // notify_master now runs for 25 s: status still answers at once, and the master
        // keeps advertising every second meanwhile.
        let at = lab.lan.elapsed();
        for _ in 0..10 {
            lab.secs(2.0).await;
            let asked = lab.lan.elapsed();
            assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
            assert!(lab.lan.elapsed() - asked < Duration::from_millis(100));
        }
        assert!(lab.ran(a, "promote").len() >= 2, "first start and fallback");
        let sent = priorities_since(&lab, a, at);
        assert!((19..=21).contains(&sent.len()), "{} adverts", sent.len());
        assert!(sent.iter().all(|&p| p == 200));
    });
}

#[test]
fn resign_hold_does_not_outlive_a_restart() {
    run(|mut lab| async move {
        let (a, _b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        ok(&lab.command(a, resign(None, 3600)).await);
        lab.secs(30.0).await;
        assert_eq!(lab.holders(VIP), ["b"], "held back");
        // README, rolling upgrade: with fallback automatic the preferred server takes the
        // VIP back as soon as it runs again.
        lab.stop(a).await.expect("a stops");
        lab.start_again(a).await;
        lab.secs(6.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "preempting");
    });
}

#[test]
fn a_resign_hold_out_of_range_is_refused_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, _b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        let at = lab.lan.elapsed();
        let e = error(&lab.command(a, resign(None, 86_401)).await).to_string();
        assert!(
            e.contains("\"hold_s\" must be a whole number of seconds from 0 to 86400"),
            "{e}"
        );
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert!(!priorities_since(&lab, a, at).contains(&0));
        // The longest hold there is, is taken.
        ok(&lab.command(a, resign(None, 86_400)).await);
        lab.secs(600.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
    });
}

#[test]
fn in_fault_operator_commands_are_refused_and_a_lock_outlasts_the_fault() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        lab.lan.set_link(a, "eth0", false);
        // Its priority-0 advert cannot leave by the link that went down: b takes over after
        // Master_Down_Interval.
        lab.secs(5.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Fault);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        for command in [resign(None, 60), fallback()] {
            let e = error(&lab.command(a, command.clone()).await).to_string();
            assert!(e.contains("FAULT"), "{command:?}: {e}");
        }
        // A lock is taken in FAULT, and holds once the fault clears.
        ok(&lab.command(a, lock("VI_1")).await);
        lab.lan.set_link(a, "eth0", true);
        let seen = lab
            .watch(VIP, Duration::from_secs(30), Duration::from_millis(250))
            .await;
        assert_eq!(seen, [vec!["b".to_string()]]);
        let locked = lab.instance(a, "VI_1").await;
        assert_eq!(locked.state, VrrpState::Backup);
        assert!(locked.locked);
        ok(&lab.command(a, unlock("VI_1")).await);
        lab.secs(5.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn a_resigned_node_still_takes_over_when_the_new_master_dies() {
    run(|mut lab| async move {
        let (a, b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        ok(&lab.command(a, resign(None, 3600)).await);
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        // The hold keeps it from preempting, not from replacing a master that is gone
        // (RFC 5798 6.4.2: Master_Down_Timer fires).
        lab.stop(b).await.expect("b stops");
        lab.secs(2.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        assert_eq!(lab.instance(a, "VI_1").await.reason_kind, "master_resigned");
    });
}

#[test]
fn a_lock_that_cannot_be_recorded_is_refused_and_changes_nothing() {
    run(|mut lab| async move {
        let (a, _b) = pair(&mut lab, &one_instance(150, ""), &one_instance(100, "")).await;
        // A directory where the locks file goes: it cannot be replaced.
        let state = lab
            .config_path(a)
            .parent()
            .expect("node directory")
            .join("state");
        std::fs::create_dir(state.join("locks")).expect("a directory");
        std::fs::write(state.join("locks").join("keep"), "x").expect("a file in it");
        let e = error(&lab.command(a, lock("VI_1")).await).to_string();
        assert!(e.contains("cannot record the lock"), "{e}");
        assert!(e.contains("nothing changed"), "{e}");
        lab.secs(10.0).await;
        let master = lab.instance(a, "VI_1").await;
        assert!(!master.locked);
        assert_eq!(master.state, VrrpState::Master);
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}
