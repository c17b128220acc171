//! Scenarios: notify hooks. The state's own hook and the generic `notify` (keepalived's four
//! arguments), the `BATON_*` environment, one queue per instance or sync group (in order,
//! one at a time, never delaying the protocol), failures and timeouts in `baton status`,
//! STOP hooks on a stop or a reload that restarts an instance, sync group hooks, and
//! `notify_master_rx_lower_pri`.

use std::time::Duration;

use crate::control::protocol::Command;
use crate::control::status::{Health, VrrpState};
use crate::daemon::harness::{Lab, NodeId, Run, run};

const VIP: &str = "192.0.2.100";

/// One `vrrp_instance` on `eth0` with `extra` lines inside it.
fn instance(name: &str, vrid: u8, priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"
    )
}

/// `VI_1`, VRID 51, VIP 192.0.2.100, with `extra` lines.
fn vi1(priority: u8, extra: &str) -> String {
    instance("VI_1", 51, priority, VIP, extra)
}

/// A `global_defs` block with `lines`, then `rest`.
fn with_globals(lines: &str, rest: &str) -> String {
    format!("global_defs {{\n    {lines}\n}}\n{rest}")
}

/// The runs of node `id` whose command line contains `text`, in start order.
fn runs_of(lab: &Lab, id: NodeId, text: &str) -> Vec<Run> {
    let name = lab.name(id).to_string();
    lab.runs()
        .into_iter()
        .filter(|r| r.node == name && r.line.contains(text))
        .collect()
}

/// When a run started, in seconds since the lab was made.
fn at(run: &Run) -> f64 {
    run.at.as_secs_f64()
}

fn env<'a>(run: &'a Run, key: &str) -> &'a str {
    run.env
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{key} not set for {}: {:?}", run.line, run.env))
}

/// The state words the generic `notify` got, in order (its third appended argument).
fn notified_states(lab: &Lab, id: NodeId, script: &str) -> Vec<String> {
    runs_of(lab, id, script)
        .iter()
        .map(|r| {
            let words: Vec<&str> = r.line.split_whitespace().collect();
            words[words.len() - 2].to_string()
        })
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------------------------------------------------------------------------------------
// Which hook runs on which transition, and its arguments.

#[test]
fn notify_master_runs_with_its_configured_arguments_when_a_lone_node_takes_over() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = vi1(
            150,
            "notify_master \"/usr/local/bin/notify-master --role primary\"",
        );
        lab.start(a, &config).await;
        lab.secs(2.0).await;
        assert!(lab.ran(a, "notify-master").is_empty(), "not master yet");
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        // Exactly the configured line: no keepalived arguments for the state's own hook.
        assert_eq!(
            lab.ran(a, "notify-master"),
            ["/usr/local/bin/notify-master --role primary"]
        );
        // Master_Down_Interval (3 x 1 s + skew (256 - 150) / 256) after the start.
        let run = &runs_of(&lab, a, "notify-master")[0];
        assert!((3.3..3.6).contains(&at(run)), "started at {}", at(run));
    });
}

#[test]
fn notify_backup_runs_at_start_up_and_the_backup_never_runs_notify_master() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks =
            "notify_master /usr/local/bin/to-master\n    notify_backup /usr/local/bin/to-backup";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(30.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        // Both start as BACKUP (INIT -> BACKUP runs notify_backup, as keepalived does).
        let backup_b = runs_of(&lab, b, "to-backup");
        assert_eq!(backup_b.len(), 1, "{backup_b:?}");
        assert_eq!(env(&backup_b[0], "BATON_PREVIOUS_STATE"), "INIT");
        assert!(lab.ran(b, "to-master").is_empty());
        // a: BACKUP at start, then MASTER, in that order.
        let a_runs: Vec<String> = runs_of(&lab, a, "/usr/local/bin/to-")
            .into_iter()
            .map(|r| r.line)
            .collect();
        assert_eq!(
            a_runs,
            ["/usr/local/bin/to-backup", "/usr/local/bin/to-master"]
        );
    });
}

#[test]
fn a_preempted_master_runs_notify_backup_with_the_reason_it_stepped_down() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify_backup /usr/local/bin/to-backup";
        lab.start(a, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        lab.start(b, &vi1(200, hooks)).await;
        let seen = lab.watch(VIP, secs(10), Duration::from_millis(50)).await;
        assert_eq!(seen.last().expect("seen"), &vec!["b".to_string()]);
        let runs = runs_of(&lab, a, "to-backup");
        assert_eq!(runs.len(), 2, "start-up, then the preemption: {runs:?}");
        let stepped_down = &runs[1];
        assert_eq!(env(stepped_down, "BATON_PREVIOUS_STATE"), "MASTER");
        assert_eq!(env(stepped_down, "BATON_STATE"), "BACKUP");
        assert_eq!(
            env(stepped_down, "BATON_REASON"),
            "heard better master 192.0.2.2 (priority 200)"
        );
    });
}

#[test]
fn notify_fault_runs_when_the_link_goes_down_and_the_way_back_runs_backup_then_master() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let hooks = "notify_master /usr/local/bin/h-master\n    notify_backup /usr/local/bin/h-backup\n    notify_fault \"/usr/local/bin/h-fault eth0\"";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(2.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Fault);
        let fault = runs_of(&lab, a, "h-fault");
        assert_eq!(fault.len(), 1);
        assert_eq!(fault[0].line, "/usr/local/bin/h-fault eth0");
        assert_eq!(env(&fault[0], "BATON_PREVIOUS_STATE"), "MASTER");
        assert_eq!(
            env(&fault[0], "BATON_REASON"),
            "interface or tracked resource failed"
        );
        lab.lan.set_link(a, "eth0", true);
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        let order: Vec<String> = runs_of(&lab, a, "/usr/local/bin/h-")
            .into_iter()
            .map(|r| r.line)
            .collect();
        assert_eq!(
            order,
            [
                "/usr/local/bin/h-backup",
                "/usr/local/bin/h-master",
                "/usr/local/bin/h-fault eth0",
                "/usr/local/bin/h-backup",
                "/usr/local/bin/h-master",
            ]
        );
        let back = &runs_of(&lab, a, "h-backup")[1];
        assert_eq!(env(back, "BATON_PREVIOUS_STATE"), "FAULT");
    });
}

#[test]
fn the_generic_notify_gets_keepalived_s_four_arguments_after_its_own() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(
            a,
            &vi1(150, "notify \"/usr/local/bin/notify-all --site dc1\""),
        )
        .await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        lab.stop(a).await.expect("stopped");
        assert_eq!(
            lab.ran(a, "notify-all"),
            [
                "/usr/local/bin/notify-all --site dc1 INSTANCE VI_1 BACKUP 150",
                "/usr/local/bin/notify-all --site dc1 INSTANCE VI_1 MASTER 150",
                "/usr/local/bin/notify-all --site dc1 INSTANCE VI_1 FAULT 150",
                "/usr/local/bin/notify-all --site dc1 INSTANCE VI_1 STOP 150",
            ]
        );
    });
}

#[test]
fn the_state_s_own_hook_runs_before_the_generic_one() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let hooks = "notify /usr/local/bin/generic\n    notify_master /usr/local/bin/specific";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(10.0).await;
        let lines: Vec<String> = runs_of(&lab, a, "/usr/local/bin/")
            .into_iter()
            .map(|r| r.line)
            .collect();
        assert_eq!(
            lines,
            [
                // No notify_backup configured: only the generic one for BACKUP.
                "/usr/local/bin/generic INSTANCE VI_1 BACKUP 150",
                "/usr/local/bin/specific",
                "/usr/local/bin/generic INSTANCE VI_1 MASTER 150",
            ]
        );
    });
}

#[test]
fn the_priority_argument_is_the_effective_priority_after_tracking_weights() {
    run(|mut lab| async move {
        let a = lab.node_with(
            "a",
            &[
                ("eth0", "lan", &["192.0.2.1/24"]),
                ("eth1", "up", &["198.51.100.1/24"]),
            ],
        );
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify /usr/local/bin/notify-x";
        let tracked = format!("{hooks}\n    track_interface {{\n        eth1 weight -60\n    }}");
        lab.start(a, &vi1(150, &tracked)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        // eth1 down: 150 - 60 = 90 < 100, b preempts.
        lab.lan.set_link(a, "eth1", false);
        let seen = lab.watch(VIP, secs(10), Duration::from_millis(50)).await;
        assert_eq!(seen.last().expect("seen"), &vec!["b".to_string()]);
        assert_eq!(lab.instance(a, "VI_1").await.priority, 90);
        assert_eq!(
            lab.ran(a, "notify-x").last().map(String::as_str),
            Some("/usr/local/bin/notify-x INSTANCE VI_1 BACKUP 90")
        );
        assert_eq!(
            lab.ran(b, "notify-x").last().map(String::as_str),
            Some("/usr/local/bin/notify-x INSTANCE VI_1 MASTER 100")
        );
    });
}

#[test]
fn each_instance_runs_only_its_own_hooks_with_its_own_name() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        // a is master of VI_1, b of VI_2.
        let config = |p1: u8, p2: u8| {
            instance(
                "VI_1",
                51,
                p1,
                "192.0.2.100",
                "notify_master /usr/local/bin/vi1-up\n    notify /usr/local/bin/any",
            ) + &instance(
                "VI_2",
                52,
                p2,
                "192.0.2.101",
                "notify_master /usr/local/bin/vi2-up\n    notify /usr/local/bin/any",
            )
        };
        lab.start(a, &config(150, 100)).await;
        lab.start(b, &config(100, 150)).await;
        lab.secs(15.0).await;
        assert_eq!(lab.ran(a, "vi1-up").len(), 1);
        assert!(lab.ran(a, "vi2-up").is_empty());
        assert_eq!(lab.ran(b, "vi2-up").len(), 1);
        assert!(lab.ran(b, "vi1-up").is_empty());
        assert!(
            lab.ran(a, "/usr/local/bin/any")
                .contains(&"/usr/local/bin/any INSTANCE VI_1 MASTER 150".to_string())
        );
        assert!(
            lab.ran(a, "/usr/local/bin/any")
                .contains(&"/usr/local/bin/any INSTANCE VI_2 BACKUP 100".to_string())
        );
        let up = &runs_of(&lab, b, "vi2-up")[0];
        assert_eq!(env(up, "BATON_NAME"), "VI_2");
        assert_eq!(env(up, "BATON_VRID"), "52");
        assert_eq!(env(up, "BATON_VIPS"), "192.0.2.101");
    });
}

#[test]
fn a_hook_s_exit_status_changes_nothing_in_the_protocol() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.answer("notify-master", 1, Duration::ZERO);
        let hooks = "notify_master /usr/local/bin/notify-master";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        let seen = lab.watch(VIP, secs(30), Duration::from_millis(100)).await;
        // keepalived ignores a hook's exit status: a stays master, b stays backup.
        assert_eq!(seen, [vec![], vec!["a".to_string()]]);
        assert_eq!(lab.ran(a, "notify-master").len(), 1);
        assert_eq!(lab.instance(b, "VI_1").await.counters.vrrp.became_master, 0);
    });
}

#[test]
fn an_instance_that_starts_with_its_link_down_runs_notify_fault_and_no_notify_backup() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.lan.set_link(a, "eth0", false);
        lab.start(a, &vi1(150, "notify /usr/local/bin/notify-x"))
            .await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Fault);
        let runs = runs_of(&lab, a, "notify-x");
        assert_eq!(notified_states(&lab, a, "notify-x"), ["FAULT"]);
        assert_eq!(env(&runs[0], "BATON_PREVIOUS_STATE"), "INIT");
        lab.lan.set_link(a, "eth0", true);
        lab.secs(10.0).await;
        assert_eq!(
            notified_states(&lab, a, "notify-x"),
            ["FAULT", "BACKUP", "MASTER"]
        );
    });
}

#[test]
fn a_node_that_starts_as_master_runs_notify_master_at_once_without_notify_backup() {
    // The address owner (priority 255, its own address as the VIP) and `state MASTER`:
    // straight from INIT to MASTER, as keepalived does. (The owner's node has a second
    // address to send adverts from: baton never sends from a VIP.)
    for (extra, priority, vip, reason) in [
        (
            "",
            255u8,
            "192.0.2.10",
            "priority 255: this router owns the addresses",
        ),
        (
            "state MASTER",
            150,
            "192.0.2.100",
            "started as master (state MASTER)",
        ),
    ] {
        run(|mut lab| async move {
            let a = lab.node_with("a", &[("eth0", "lan", &["192.0.2.1/24", "192.0.2.10/24"])]);
            let hooks = format!(
                "{extra}\n    notify_master /usr/local/bin/to-master\n    notify_backup /usr/local/bin/to-backup"
            );
            lab.start(a, &instance("VI_1", 51, priority, vip, &hooks))
                .await;
            lab.secs(0.5).await;
            let runs = runs_of(&lab, a, "/usr/local/bin/to-");
            assert_eq!(runs.len(), 1, "{reason}: {runs:?}");
            assert_eq!(runs[0].line, "/usr/local/bin/to-master");
            assert!(at(&runs[0]) < 0.01, "{reason}: at {}", at(&runs[0]));
            assert_eq!(env(&runs[0], "BATON_PREVIOUS_STATE"), "INIT");
            assert_eq!(env(&runs[0], "BATON_REASON"), reason);
            assert_eq!(env(&runs[0], "BATON_PRIORITY"), priority.to_string());
        });
    }
}

#[test]
fn no_hook_runs_during_the_start_up_delay() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = with_globals(
            "vrrp_startup_delay 5",
            &vi1(150, "notify /usr/local/bin/notify-x"),
        );
        lab.start(a, &config).await;
        lab.secs(4.5).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Init);
        assert!(lab.ran(a, "notify-x").is_empty(), "INIT is not notified");
        lab.secs(10.0).await;
        let runs = runs_of(&lab, a, "notify-x");
        assert_eq!(notified_states(&lab, a, "notify-x"), ["BACKUP", "MASTER"]);
        assert!((at(&runs[0]) - 5.0).abs() < 0.01, "at {}", at(&runs[0]));
        assert_eq!(env(&runs[0], "BATON_PREVIOUS_STATE"), "INIT");
    });
}

// ---------------------------------------------------------------------------------------
// The environment.

#[test]
fn every_hook_gets_the_baton_variables_of_its_transition() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let config = "vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    notify_master /usr/local/bin/to-master
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.101/24
    }
}
";
        lab.start(a, config).await;
        lab.secs(10.0).await;
        let runs = runs_of(&lab, a, "to-master");
        assert_eq!(runs.len(), 1);
        let vars: Vec<(&str, &str)> = runs[0]
            .env
            .iter()
            .filter(|(k, _)| k.as_str() != "BATON_SOCKET")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            vars,
            [
                ("BATON_INTERFACE", "eth0"),
                ("BATON_NAME", "VI_1"),
                ("BATON_PREVIOUS_STATE", "BACKUP"),
                ("BATON_PRIORITY", "150"),
                ("BATON_REASON", "no advert heard for Master_Down_Interval"),
                ("BATON_STATE", "MASTER"),
                ("BATON_TYPE", "INSTANCE"),
                ("BATON_VIPS", "192.0.2.100 192.0.2.101"),
                ("BATON_VRID", "51"),
            ]
        );
        // The control socket the daemon listens on, for hooks that ask it.
        assert!(
            env(&runs[0], "BATON_SOCKET").ends_with("/a/baton.sock"),
            "{:?}",
            runs[0].env
        );
    });
}

#[test]
fn the_stop_hook_s_environment_says_stop_and_where_it_came_from() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify_stop /usr/local/bin/on-stop";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        lab.stop(b).await.expect("b stopped");
        lab.stop(a).await.expect("a stopped");
        for (id, previous, priority) in [(a, "MASTER", "150"), (b, "BACKUP", "100")] {
            let runs = runs_of(&lab, id, "on-stop");
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].line, "/usr/local/bin/on-stop");
            assert_eq!(env(&runs[0], "BATON_STATE"), "STOP");
            assert_eq!(env(&runs[0], "BATON_PREVIOUS_STATE"), previous);
            assert_eq!(env(&runs[0], "BATON_PRIORITY"), priority);
            assert_eq!(env(&runs[0], "BATON_REASON"), "shutting down");
        }
    });
}

#[test]
fn the_generic_notify_gets_the_same_environment_as_the_state_s_hook() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let hooks = "notify_master /usr/local/bin/specific\n    notify /usr/local/bin/generic";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(10.0).await;
        let specific = &runs_of(&lab, a, "specific")[0];
        let generic = runs_of(&lab, a, "generic INSTANCE VI_1 MASTER")
            .pop()
            .expect("the generic hook for MASTER");
        assert_eq!(specific.env, generic.env);
        assert_eq!(env(&generic, "BATON_STATE"), "MASTER");
    });
}

#[test]
fn an_ipv6_instance_s_hooks_get_its_ipv6_addresses() {
    run(|mut lab| async move {
        let a = lab.node("a", "2001:db8::1/64");
        let config = "vrrp_instance VI_6 {
    state BACKUP
    interface eth0
    virtual_router_id 61
    version 3
    priority 150
    advert_int 1
    notify /usr/local/bin/notify-x
    virtual_ipaddress {
        2001:db8::100/64
        2001:db8::101/64
    }
}
";
        lab.start(a, config).await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders("2001:db8::100"), ["a"]);
        let runs = runs_of(&lab, a, "notify-x");
        assert_eq!(
            runs.iter().map(|r| r.line.as_str()).collect::<Vec<_>>(),
            [
                "/usr/local/bin/notify-x INSTANCE VI_6 BACKUP 150",
                "/usr/local/bin/notify-x INSTANCE VI_6 MASTER 150",
            ]
        );
        assert_eq!(env(&runs[1], "BATON_VIPS"), "2001:db8::100 2001:db8::101");
        assert_eq!(env(&runs[1], "BATON_VRID"), "61");
        assert_eq!(env(&runs[1], "BATON_INTERFACE"), "eth0");
    });
}

// ---------------------------------------------------------------------------------------
// One queue per instance: in order, one at a time; separate instances concurrently.

#[test]
fn a_slow_state_hook_delays_the_generic_one_and_never_reorders_them() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("slow-master", 0, secs(7));
        let hooks = "notify_master /usr/local/bin/slow-master\n    notify /usr/local/bin/generic";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(20.0).await;
        let master = &runs_of(&lab, a, "slow-master")[0];
        let generic = runs_of(&lab, a, "INSTANCE VI_1 MASTER");
        assert_eq!(generic.len(), 1);
        let gap = at(&generic[0]) - at(master);
        assert!(
            (gap - 7.0).abs() < 0.001,
            "the generic hook started {gap}s after the slow one"
        );
    });
}

#[test]
fn hooks_of_later_transitions_wait_for_the_running_one_and_keep_transition_order() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("MASTER", 0, secs(20));
        lab.start(a, &vi1(150, "notify /usr/local/bin/notify-x"))
            .await;
        lab.secs(5.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        // Three more transitions while the MASTER hook runs.
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        lab.lan.set_link(a, "eth0", true);
        lab.secs(5.0).await;
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        let runs = runs_of(&lab, a, "notify-x");
        assert_eq!(
            runs.len(),
            2,
            "only BACKUP and the first MASTER started: {runs:?}"
        );
        lab.secs(60.0).await;
        // Queued, not coalesced: every transition's hook, in transition order.
        assert_eq!(
            notified_states(&lab, a, "notify-x"),
            ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"]
        );
        let runs = runs_of(&lab, a, "notify-x");
        // FAULT waited for the first MASTER hook (20 s); the second MASTER hook for the
        // BACKUP one (instant).
        let first_master = at(&runs[1]);
        assert!(
            (at(&runs[2]) - first_master - 20.0).abs() < 0.01,
            "{runs:?}"
        );
        assert!((at(&runs[4]) - at(&runs[3])).abs() < 0.01, "{runs:?}");
        assert!((at(&runs[3]) - at(&runs[2])).abs() < 0.01, "{runs:?}");
    });
}

#[test]
fn hooks_of_different_instances_run_at_the_same_time() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("to-master", 0, secs(30));
        let config = instance(
            "VI_1",
            51,
            150,
            "192.0.2.100",
            "notify_master /usr/local/bin/to-master VI_1",
        ) + &instance(
            "VI_2",
            52,
            150,
            "192.0.2.101",
            "notify_master /usr/local/bin/to-master VI_2",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let runs = runs_of(&lab, a, "to-master");
        assert_eq!(runs.len(), 2, "both started while the other runs: {runs:?}");
        assert!((at(&runs[0]) - at(&runs[1])).abs() < 0.01, "{runs:?}");
    });
}

#[test]
fn a_slow_hook_of_one_instance_does_not_hold_back_the_hooks_of_another() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("vi1-hook", 0, secs(100));
        let config = instance(
            "VI_1",
            51,
            150,
            "192.0.2.100",
            "notify /usr/local/bin/vi1-hook",
        ) + &instance(
            "VI_2",
            52,
            150,
            "192.0.2.101",
            "notify /usr/local/bin/vi2-hook",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        // VI_1's BACKUP hook blocks its queue for 100 s; VI_2's hooks all ran meanwhile.
        assert_eq!(
            notified_states(&lab, a, "vi1-hook"),
            ["BACKUP"],
            "VI_1's MASTER hook waits"
        );
        assert_eq!(notified_states(&lab, a, "vi2-hook"), ["BACKUP", "MASTER"]);
        lab.secs(100.0).await;
        assert_eq!(notified_states(&lab, a, "vi1-hook"), ["BACKUP", "MASTER"]);
    });
}

// ---------------------------------------------------------------------------------------
// Hooks never delay the protocol.

/// The largest gap between consecutive adverts of node `id` at or after `from` seconds
/// and before `to` seconds, and how many.
fn advert_gaps(lab: &Lab, id: NodeId, from: f64, to: f64) -> (f64, usize) {
    let times: Vec<f64> = lab
        .adverts(id)
        .iter()
        .map(|s| s.at.as_secs_f64())
        .filter(|t| (from..to).contains(t))
        .collect();
    let largest = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0_f64, f64::max);
    (largest, times.len())
}

#[test]
fn a_minute_long_notify_master_never_delays_the_master_s_adverts() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.answer("notify-master", 0, secs(60));
        let config = |priority| {
            with_globals(
                "notify_timeout 90",
                &vi1(priority, "notify_master /usr/local/bin/notify-master"),
            )
        };
        lab.start(a, &config(150)).await;
        lab.start(b, &config(100)).await;
        let seen = lab.watch(VIP, secs(70), Duration::from_millis(100)).await;
        assert_eq!(seen, [vec![], vec!["a".to_string()]]);
        let started = at(&runs_of(&lab, a, "notify-master")[0]);
        let (largest, count) = advert_gaps(&lab, a, started, started + 60.0);
        assert!(
            largest <= 1.001,
            "an advert gap of {largest}s while the hook ran"
        );
        assert!(count >= 59, "{count} adverts in the 60 s the hook ran");
        let status = lab.instance(b, "VI_1").await;
        assert_eq!(status.state, VrrpState::Backup);
        assert_eq!(status.counters.vrrp.became_master, 0);
        assert!(lab.ran(b, "notify-master").is_empty());
        // And the hook's outcome arrived when it ended.
        let hook = lab.instance(a, "VI_1").await.last_hook.expect("a hook ran");
        assert!(hook.ok, "{hook:?}");
        assert!((hook.run.duration_s - 60.0).abs() < 0.01, "{hook:?}");
    });
}

#[test]
fn a_hanging_notify_master_does_not_hold_back_the_gratuitous_arps() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 0, secs(60));
        let config = with_globals(
            "notify_timeout 90",
            &vi1(150, "notify_master /usr/local/bin/notify-master"),
        );
        lab.start(a, &config).await;
        lab.secs(30.0).await;
        let became = at(&runs_of(&lab, a, "notify-master")[0]);
        let frames: Vec<f64> = lab
            .frames(a)
            .iter()
            .map(|f| f.at.as_secs_f64() - became)
            .collect();
        // Two bursts of 5 (vrrp_garp_master_repeat), at the takeover and 5 s later
        // (vrrp_garp_master_delay), all while the 60 s hook still runs.
        assert_eq!(frames.len(), 11, "{frames:?}");
        assert!(frames[..5].iter().all(|t| t.abs() < 0.01), "{frames:?}");
        // baton's one message past the neighbour locktime (announce.rs).
        assert!((frames[5] - 1.1).abs() < 0.01, "{frames:?}");
        assert!(
            frames[6..].iter().all(|t| (t - 5.0).abs() < 0.01),
            "{frames:?}"
        );
    });
}

#[test]
fn a_backup_whose_hook_hangs_still_takes_over_in_time_and_runs_notify_master_after_it() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.answer("notify-backup", 0, secs(100));
        let config = with_globals(
            "notify_timeout 60",
            &vi1(
                100,
                "notify_backup /usr/local/bin/notify-backup\n    notify_master /usr/local/bin/notify-master",
            ),
        );
        lab.start(a, &vi1(150, "")).await;
        lab.start(b, &config).await;
        lab.secs(10.0).await;
        lab.crash(a);
        let crashed = lab.lan.elapsed().as_secs_f64();
        lab.secs(5.0).await;
        // Master_Down_Interval (3 s + 156/256 s) after a's last advert: b holds the VIP.
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert!(lab.holders(VIP).contains(&"b".to_string()));
        let master = lab.instance(b, "VI_1").await;
        assert!(
            master.since_s >= 5.0 - 3.7 - 0.01 && master.since_s <= 5.0 - 2.6,
            "master for {}s",
            master.since_s
        );
        // Its notify_master waits for the hung notify_backup, killed at notify_timeout.
        assert!(lab.ran(b, "notify-master").is_empty());
        lab.secs(60.0).await;
        let runs = runs_of(&lab, b, "notify-master");
        assert_eq!(runs.len(), 1);
        let backup = &runs_of(&lab, b, "notify-backup")[0];
        assert!((at(&runs[0]) - at(backup) - 60.0).abs() < 0.01);
        assert!(at(&runs[0]) > crashed + 40.0);
    });
}

#[test]
fn a_storm_of_slow_hooks_on_fifty_instances_makes_no_spurious_takeover() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.answer("/usr/local/bin/hook", 0, secs(1));
        let config = |priority: u8| {
            let mut text = String::from("global_defs {\n    vrrp_version 3\n}\n");
            for i in 1..=50u8 {
                text += &format!(
                    "vrrp_instance VI_{i} {{
    state BACKUP
    interface eth0
    virtual_router_id {i}
    priority {priority}
    advert_int 0.01
    notify /usr/local/bin/hook VI_{i}
    virtual_ipaddress {{
        192.0.2.{}/24
    }}
}}
",
                    100 + u16::from(i)
                );
            }
            text
        };
        lab.start(a, &config(150)).await;
        lab.start(b, &config(100)).await;
        // On a, each instance's BACKUP hook (1 s), then its MASTER hook (1 s): all ended
        // by 2.1 s.
        lab.secs(2.2).await;
        let status = lab.status(b).await;
        assert_eq!(status.instances.len(), 50);
        for i in &status.instances {
            assert_eq!(i.state, VrrpState::Backup, "{}", i.name);
            assert_eq!(i.counters.vrrp.became_master, 0, "{} took over", i.name);
        }
        assert_eq!(
            lab.ran(b, "MASTER").len(),
            0,
            "the backup ran a MASTER hook"
        );
        for i in &lab.status(a).await.instances {
            assert_eq!(i.state, VrrpState::Master, "{}", i.name);
            assert_eq!(i.counters.vrrp.became_master, 1, "{}", i.name);
            // Its MASTER hook ran its whole second, while the adverts went on.
            let hook = i.last_hook.as_ref().expect("the MASTER hook ended");
            assert_eq!(
                (hook.state.as_str(), hook.ok),
                ("MASTER", true),
                "{}",
                i.name
            );
            assert!((hook.run.duration_s - 1.0).abs() < 1e-6, "{hook:?}");
        }
        // 50 BACKUP hooks on b; on a 50 BACKUP and 50 MASTER hooks, all started and all
        // running at the same time (one per instance queue).
        assert_eq!(lab.ran(b, "/usr/local/bin/hook").len(), 50);
        assert_eq!(lab.ran(a, "/usr/local/bin/hook").len(), 100);
        // The masters' adverts kept their 0.01 s interval throughout.
        let first = lab
            .adverts(a)
            .first()
            .map(|s| s.at.as_secs_f64())
            .expect("adverts");
        for vrid in 1..=50u8 {
            let times: Vec<f64> = lab
                .adverts(a)
                .iter()
                .filter(|s| s.payload[1] == vrid)
                .map(|s| s.at.as_secs_f64())
                .collect();
            let largest = times
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(0.0_f64, f64::max);
            assert!(
                largest <= 0.0101,
                "VRID {vrid}: an advert gap of {largest}s"
            );
            assert!(times[0] - first < 0.01, "VRID {vrid} started late");
        }
    });
}

// ---------------------------------------------------------------------------------------
// Failures and timeouts in `baton status`.

#[test]
fn a_failing_hook_shows_in_last_hook_and_raises_a_warning() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 1, Duration::from_millis(250));
        lab.start(a, &vi1(150, "notify_master /usr/local/bin/notify-master"))
            .await;
        lab.secs(10.0).await;
        let status = lab.instance(a, "VI_1").await;
        assert_eq!(status.state, VrrpState::Master);
        let hook = status.last_hook.expect("last_hook");
        assert_eq!(hook.owner, "VI_1");
        assert_eq!(hook.hook, "notify_master");
        assert_eq!(hook.state, "MASTER");
        assert!(!hook.ok);
        assert_eq!(hook.run.command, "/usr/local/bin/notify-master");
        assert_eq!(hook.run.exit_code, Some(1));
        assert!(!hook.run.timed_out);
        assert!((hook.run.duration_s - 0.25).abs() < 1e-6);
        assert_eq!(hook.result, "exit status 1");
        let alarms: Vec<_> = status
            .alarms
            .iter()
            .filter(|a| a.message.starts_with("hook failed"))
            .collect();
        assert_eq!(alarms.len(), 1, "{:?}", status.alarms);
        assert_eq!(alarms[0].severity, Health::Warning);
        assert_eq!(
            alarms[0].message,
            "hook failed: notify_master for MASTER (VI_1): exit status 1"
        );
    });
}

#[test]
fn a_hook_past_notify_timeout_is_killed_and_the_next_one_runs() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 0, secs(3600));
        let config = with_globals(
            "notify_timeout 5",
            &vi1(
                150,
                "notify_master /usr/local/bin/notify-master\n    notify_fault /usr/local/bin/notify-fault",
            ),
        );
        lab.start(a, &config).await;
        lab.secs(5.0).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        assert!(
            lab.ran(a, "notify-fault").is_empty(),
            "waits for notify_master"
        );
        lab.secs(5.0).await;
        let master = &runs_of(&lab, a, "notify-master")[0];
        let fault = runs_of(&lab, a, "notify-fault");
        assert_eq!(fault.len(), 1);
        assert!((at(&fault[0]) - at(master) - 5.0).abs() < 0.01);
        // Between the kill and the next hook, status showed the timeout; now notify_fault.
        let status = lab.instance(a, "VI_1").await;
        let hook = status.last_hook.expect("last_hook");
        assert_eq!(hook.hook, "notify_fault");
        assert!(hook.ok);
    });
}

#[test]
fn a_timed_out_hook_shows_how_it_ended_in_status() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 0, secs(3600));
        let config = with_globals(
            "notify_timeout 5",
            &vi1(150, "notify_master /usr/local/bin/notify-master"),
        );
        lab.start(a, &config).await;
        lab.secs(5.0).await;
        let started = at(&runs_of(&lab, a, "notify-master")[0]);
        lab.secs(2.0).await;
        let status = lab.instance(a, "VI_1").await;
        assert!(status.last_hook.is_none(), "still running: nothing to show");
        lab.secs(3.0).await;
        let status = lab.instance(a, "VI_1").await;
        let hook = status.last_hook.expect("last_hook");
        assert_eq!(hook.hook, "notify_master");
        assert!(!hook.ok);
        assert!(hook.run.timed_out);
        assert_eq!(hook.run.exit_code, None);
        assert_eq!(hook.run.signal, Some(libc::SIGKILL));
        assert!((hook.run.duration_s - 5.0).abs() < 1e-6);
        assert_eq!(
            hook.result,
            "timed out after 5.0s; its process group was killed"
        );
        let now = lab.lan.elapsed().as_secs_f64();
        assert!(
            (hook.age_s - (now - started - 5.0)).abs() < 0.01,
            "age {} at {now}, started {started}",
            hook.age_s
        );
        assert!(status.alarms.iter().any(|a| a.message
            == "hook failed: notify_master for MASTER (VI_1): timed out after 5.0s; its process group was killed"));
        // The master stays master: a hook's outcome is not a fault.
        assert_eq!(status.state, VrrpState::Master);
        assert!(status.faults.is_empty());
    });
}

#[test]
fn a_later_hook_that_succeeds_clears_the_failure_alarm() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 2, Duration::ZERO);
        let hooks = "notify_master /usr/local/bin/notify-master\n    notify_fault /usr/local/bin/notify-fault";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(10.0).await;
        let status = lab.instance(a, "VI_1").await;
        assert!(
            status.alarms.iter().any(|a| a.message
                == "hook failed: notify_master for MASTER (VI_1): exit status 2"),
            "{:?}",
            status.alarms
        );
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        let status = lab.instance(a, "VI_1").await;
        let hook = status.last_hook.expect("last_hook");
        assert_eq!((hook.hook.as_str(), hook.ok), ("notify_fault", true));
        assert!(
            !status
                .alarms
                .iter()
                .any(|a| a.message.starts_with("hook failed")),
            "{:?}",
            status.alarms
        );
    });
}

#[test]
fn without_hooks_status_shows_no_last_hook_and_the_age_of_one_grows() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &vi1(150, "")).await;
        lab.start(b, &vi1(100, "notify_backup /usr/local/bin/b"))
            .await;
        lab.secs(10.0).await;
        let none = lab.instance(a, "VI_1").await;
        assert!(none.last_hook.is_none());
        assert!(none.alarms.is_empty(), "{:?}", none.alarms);
        let first = lab.instance(b, "VI_1").await.last_hook.expect("hook");
        lab.secs(7.5).await;
        let later = lab.instance(b, "VI_1").await.last_hook.expect("hook");
        assert!((later.age_s - first.age_s - 7.5).abs() < 0.01);
        assert!((first.age_s - 10.0).abs() < 0.01, "{first:?}");
        assert_eq!(later.state, "BACKUP");
    });
}

#[test]
fn a_failing_generic_notify_names_its_label_and_the_state_it_ran_for() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("INSTANCE VI_1 FAULT", 3, Duration::ZERO);
        lab.start(a, &vi1(150, "notify \"/usr/local/bin/notify-x --all\""))
            .await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        let status = lab.instance(a, "VI_1").await;
        let hook = status.last_hook.expect("last_hook");
        assert_eq!(hook.hook, "notify");
        assert_eq!(hook.state, "FAULT");
        // The command as configured, without the appended arguments.
        assert_eq!(hook.run.command, "/usr/local/bin/notify-x --all");
        assert_eq!(hook.run.exit_code, Some(3));
        assert!(
            status
                .alarms
                .iter()
                .any(|a| a.message == "hook failed: notify for FAULT (VI_1): exit status 3")
        );
    });
}

// ---------------------------------------------------------------------------------------
// Stopping.

#[test]
fn a_stop_waits_for_notify_stop_which_runs_after_the_vip_is_released() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-stop", 0, secs(20));
        lab.start(a, &vi1(150, "notify_stop /usr/local/bin/notify-stop"))
            .await;
        lab.secs(10.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let asked = lab.lan.elapsed().as_secs_f64();
        lab.stop(a).await.expect("stopped");
        let stopped = lab.lan.elapsed().as_secs_f64();
        assert!(
            (stopped - asked - 20.0).abs() < 0.01,
            "the stop took {}s",
            stopped - asked
        );
        assert!(lab.holders(VIP).is_empty());
        let hook = &runs_of(&lab, a, "notify-stop")[0];
        // The priority-0 advert (RFC 5798 6.4.3) went out before the hook started.
        let last = lab.adverts(a).last().cloned().expect("adverts");
        assert_eq!(last.payload[2], 0, "the last advert has priority 0");
        assert!(last.at.as_secs_f64() <= at(hook));
    });
}

#[test]
fn a_stop_lets_the_hook_already_running_finish_before_the_stop_hooks() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 0, secs(30));
        lab.answer("notify-stop", 0, secs(2));
        let hooks = "notify_master /usr/local/bin/notify-master\n    notify_stop /usr/local/bin/notify-stop";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(5.0).await;
        let master = at(&runs_of(&lab, a, "notify-master")[0]);
        lab.stop(a).await.expect("stopped");
        let stopped = lab.lan.elapsed().as_secs_f64();
        let stop = &runs_of(&lab, a, "notify-stop")[0];
        assert!(
            (at(stop) - master - 30.0).abs() < 0.01,
            "notify_stop at {}",
            at(stop)
        );
        assert!(
            (stopped - at(stop) - 2.0).abs() < 0.01,
            "stopped at {stopped}"
        );
    });
}

#[test]
fn a_hanging_stop_hook_is_killed_at_notify_timeout_and_the_stop_completes() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-stop", 0, secs(100_000));
        let config = with_globals(
            "notify_timeout 8",
            &vi1(150, "notify_stop /usr/local/bin/notify-stop"),
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let asked = lab.lan.elapsed().as_secs_f64();
        lab.stop(a).await.expect("stopped");
        let took = lab.lan.elapsed().as_secs_f64() - asked;
        assert!((took - 8.0).abs() < 0.01, "the stop took {took}s");
    });
}

#[test]
fn the_stop_hooks_of_several_instances_run_side_by_side() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-stop", 0, secs(10));
        let config = instance(
            "VI_1",
            51,
            150,
            "192.0.2.100",
            "notify_stop \"/usr/local/bin/notify-stop one\"",
        ) + &instance(
            "VI_2",
            52,
            100,
            "192.0.2.101",
            "notify_stop \"/usr/local/bin/notify-stop two\"",
        ) + &instance("VI_3", 53, 100, "192.0.2.102", "");
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let asked = lab.lan.elapsed().as_secs_f64();
        lab.stop(a).await.expect("stopped");
        let took = lab.lan.elapsed().as_secs_f64() - asked;
        assert!((took - 10.0).abs() < 0.01, "the stop took {took}s, not 10");
        let mut lines = lab.ran(a, "notify-stop");
        lines.sort();
        assert_eq!(
            lines,
            [
                "/usr/local/bin/notify-stop one",
                "/usr/local/bin/notify-stop two"
            ]
        );
    });
}

#[test]
fn an_operator_resign_runs_notify_backup_with_the_operator_s_reason() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks =
            "notify_backup /usr/local/bin/to-backup\n    notify_master /usr/local/bin/to-master";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        let reply = lab
            .command(
                a,
                Command::Resign {
                    instance: Some("VI_1".into()),
                    hold_s: 60,
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(2.0).await;
        assert_eq!(lab.holders(VIP), ["b"]);
        let resigned = runs_of(&lab, a, "to-backup");
        assert_eq!(resigned.len(), 2, "{resigned:?}");
        assert_eq!(env(&resigned[1], "BATON_REASON"), "operator resigned");
        assert_eq!(env(&resigned[1], "BATON_PREVIOUS_STATE"), "MASTER");
        // b took over on a's priority-0 advert, after Skew_Time (RFC 5798 6.4.2:
        // (256 - 100) / 256 s), not Master_Down_Interval.
        let took = &runs_of(&lab, b, "to-master")[0];
        assert_eq!(
            env(took, "BATON_REASON"),
            "master 192.0.2.1 resigned (priority 0)"
        );
        let after = at(took) - at(&resigned[1]);
        assert!(
            (after - 156.0 / 256.0).abs() < 0.01,
            "took over {after}s later"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Sync groups.

/// A sync group G1 of FRONT (eth0) and BACK (eth1), with `group_extra` in the group and
/// `member_extra` in each member.
fn sync_group(priority: u8, group_extra: &str, member_extra: &str) -> String {
    format!(
        "vrrp_sync_group G1 {{
    group {{
        FRONT
        BACK
    }}
    {group_extra}
}}
vrrp_instance FRONT {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority {priority}
    advert_int 1
    {member_extra}
    virtual_ipaddress {{
        203.0.113.100/24
    }}
}}
vrrp_instance BACK {{
    state BACKUP
    interface eth1
    virtual_router_id 62
    priority {priority}
    advert_int 1
    {member_extra}
    virtual_ipaddress {{
        198.51.100.100/24
    }}
}}
"
    )
}

fn router(lab: &mut Lab, name: &str, n: u8) -> NodeId {
    lab.node_with(
        name,
        &[
            ("eth0", "front", &[format!("203.0.113.{n}/24").as_str()]),
            ("eth1", "back", &[format!("198.51.100.{n}/24").as_str()]),
        ],
    )
}

#[test]
fn a_sync_group_s_hooks_run_once_per_group_transition_with_group_arguments() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        let config = sync_group(
            150,
            "notify \"/usr/local/sbin/router-state ROUTER\"\n    notify_master /usr/local/sbin/group-master",
            "",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        assert_eq!(lab.state(a, "FRONT").await, VrrpState::Master);
        assert_eq!(lab.state(a, "BACK").await, VrrpState::Master);
        // keepalived's arguments; a group's priority is 0 (keepalived vrrp_notify.c).
        assert_eq!(
            lab.ran(a, "router-state"),
            [
                "/usr/local/sbin/router-state ROUTER GROUP G1 BACKUP 0",
                "/usr/local/sbin/router-state ROUTER GROUP G1 MASTER 0",
            ]
        );
        let master = runs_of(&lab, a, "group-master");
        assert_eq!(master.len(), 1, "once for the group, not per member");
        assert_eq!(master[0].line, "/usr/local/sbin/group-master");
    });
}

#[test]
fn a_sync_group_hook_gets_the_group_s_environment() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        let config = sync_group(150, "notify_master /usr/local/sbin/group-master", "");
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let run = &runs_of(&lab, a, "group-master")[0];
        assert_eq!(env(run, "BATON_TYPE"), "GROUP");
        assert_eq!(env(run, "BATON_NAME"), "G1");
        assert_eq!(env(run, "BATON_STATE"), "MASTER");
        assert_eq!(env(run, "BATON_PREVIOUS_STATE"), "BACKUP");
        assert_eq!(env(run, "BATON_PRIORITY"), "150");
        assert_eq!(env(run, "BATON_INTERFACE"), "");
        assert_eq!(env(run, "BATON_VRID"), "");
        assert_eq!(env(run, "BATON_VIPS"), "203.0.113.100 198.51.100.100");
        assert_eq!(env(run, "BATON_REASON"), "every member is MASTER");
    });
}

#[test]
fn a_member_s_fault_takes_the_group_to_fault_and_its_hooks_run_once() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        let config = sync_group(
            150,
            "notify /usr/local/sbin/group-any",
            "notify /usr/local/sbin/member-any",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        lab.lan.set_link(a, "eth1", false);
        lab.secs(2.0).await;
        assert_eq!(lab.state(a, "FRONT").await, VrrpState::Fault);
        assert_eq!(lab.state(a, "BACK").await, VrrpState::Fault);
        assert_eq!(
            notified_states(&lab, a, "group-any"),
            ["BACKUP", "MASTER", "FAULT"]
        );
        assert!(
            lab.ran(a, "group-any")
                .iter()
                .all(|l| l.contains(" GROUP G1 "))
        );
        // Each member ran its own hook, with INSTANCE and its name, for every transition.
        let members = lab.ran(a, "member-any");
        for name in ["FRONT", "BACK"] {
            for state in ["BACKUP", "MASTER", "FAULT"] {
                let line = format!("/usr/local/sbin/member-any INSTANCE {name} {state} 150");
                assert_eq!(
                    members.iter().filter(|l| **l == line).count(),
                    1,
                    "{line} in {members:?}"
                );
            }
        }
    });
}

#[test]
fn a_sync_group_s_stop_hooks_run_on_a_stop() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        lab.answer("group-stop", 0, secs(4));
        let config = sync_group(
            150,
            "notify_stop /usr/local/sbin/group-stop\n    notify /usr/local/sbin/group-any",
            "",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let asked = lab.lan.elapsed().as_secs_f64();
        lab.stop(a).await.expect("stopped");
        assert_eq!(lab.ran(a, "group-stop"), ["/usr/local/sbin/group-stop"]);
        assert_eq!(
            lab.ran(a, "group-any").last().map(String::as_str),
            Some("/usr/local/sbin/group-any GROUP G1 STOP 0")
        );
        // The stop waited for the group's queue: 4 s of notify_stop, then notify.
        let took = lab.lan.elapsed().as_secs_f64() - asked;
        assert!((took - 4.0).abs() < 0.01, "the stop took {took}s");
    });
}

#[test]
fn a_failing_group_hook_shows_on_every_member() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        lab.answer("group-master", 1, Duration::ZERO);
        let config = sync_group(150, "notify_master /usr/local/sbin/group-master", "");
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        for name in ["FRONT", "BACK"] {
            let status = lab.instance(a, name).await;
            let hook = status.last_hook.expect("the group's hook");
            assert_eq!(hook.owner, "group G1");
            assert_eq!(hook.hook, "notify_master");
            assert!(!hook.ok);
            assert!(
                status.alarms.iter().any(|a| a.message
                    == "hook failed: notify_master for MASTER (group G1): exit status 1"),
                "{name}: {:?}",
                status.alarms
            );
        }
    });
}

#[test]
fn a_slow_member_hook_does_not_hold_back_the_group_s_hooks() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        lab.answer("member-master", 0, secs(50));
        let config = sync_group(
            150,
            "notify_master /usr/local/sbin/group-master",
            "notify_master /usr/local/sbin/member-master",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        let members = runs_of(&lab, a, "member-master");
        assert_eq!(members.len(), 2);
        let group = runs_of(&lab, a, "group-master");
        assert_eq!(group.len(), 1, "the group has its own queue");
        assert!((at(&group[0]) - at(&members[0])).abs() < 0.01);
    });
}

// ---------------------------------------------------------------------------------------
// Reloads.

#[test]
fn a_restarted_instance_runs_the_old_stop_hook_first_and_does_not_show_its_result() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-stop", 1, secs(10));
        let config = |version: u8| {
            vi1(
                150,
                &format!(
                    "version {version}\n    notify_stop /usr/local/bin/notify-stop\n    notify_backup /usr/local/bin/notify-backup\n    notify_master /usr/local/bin/notify-master"
                ),
            )
        };
        lab.start(a, &config(3)).await;
        lab.secs(10.0).await;
        // Another VRRP version: another instance on the wire, so a restart.
        lab.write_config(a, &config(2));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        let reloaded = lab.lan.elapsed().as_secs_f64();
        lab.secs(30.0).await;
        let stop = runs_of(&lab, a, "notify-stop");
        assert_eq!(stop.len(), 1);
        assert!((at(&stop[0]) - reloaded).abs() < 0.01);
        // The new instance's hooks queue behind the old one's notify_stop (one queue per
        // name), so they start 10 s later, BACKUP then MASTER.
        let backups = runs_of(&lab, a, "notify-backup");
        assert_eq!(backups.len(), 2);
        assert!((at(&backups[1]) - at(&stop[0]) - 10.0).abs() < 0.01);
        assert_eq!(runs_of(&lab, a, "notify-master").len(), 2);
        let status = lab.instance(a, "VI_1").await;
        assert_eq!(status.version, 2);
        assert_eq!(status.state, VrrpState::Master);
        let hook = status.last_hook.expect("the new one's hooks");
        assert_eq!(hook.hook, "notify_master");
        assert!(hook.ok);
        assert!(
            !status
                .alarms
                .iter()
                .any(|a| a.message.contains("hook failed")),
            "{:?}",
            status.alarms
        );
    });
}

#[test]
fn the_old_incarnation_s_failed_stop_hook_is_not_shown_on_the_new_one() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        // The stop hook of the old instance fails and ends after the new one started; the
        // new one has no hooks of its own.
        lab.answer("notify-stop", 1, secs(2));
        lab.start(
            a,
            &vi1(150, "version 3\n    notify_stop /usr/local/bin/notify-stop"),
        )
        .await;
        lab.secs(10.0).await;
        lab.write_config(a, &vi1(150, "version 2"));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        assert_eq!(lab.ran(a, "notify-stop").len(), 1);
        let status = lab.instance(a, "VI_1").await;
        assert_eq!(status.version, 2);
        assert!(status.last_hook.is_none(), "{:?}", status.last_hook);
        assert!(status.alarms.is_empty(), "{:?}", status.alarms);
    });
}

#[test]
fn a_removed_instance_runs_its_stop_hooks_and_the_others_run_none() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let vi2 = instance(
            "VI_2",
            52,
            150,
            "192.0.2.101",
            "notify /usr/local/bin/n2\n    notify_stop /usr/local/bin/stop2",
        );
        let vi1 = vi1(150, "notify /usr/local/bin/n1");
        lab.start(a, &(vi1.clone() + &vi2)).await;
        lab.secs(10.0).await;
        let before = lab.ran(a, "/usr/local/bin/n1").len();
        lab.write_config(a, &vi1);
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        assert_eq!(lab.ran(a, "stop2"), ["/usr/local/bin/stop2"]);
        assert_eq!(
            lab.ran(a, "/usr/local/bin/n2").last().map(String::as_str),
            Some("/usr/local/bin/n2 INSTANCE VI_2 STOP 150")
        );
        assert_eq!(lab.ran(a, "/usr/local/bin/n1").len(), before);
        assert!(lab.holders("192.0.2.101").is_empty());
        assert_eq!(lab.holders(VIP), ["a"]);
    });
}

#[test]
fn a_reload_that_changes_a_hook_applies_it_from_the_next_transition_without_running_any() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &vi1(150, "notify_fault /usr/local/bin/old-fault"))
            .await;
        lab.secs(10.0).await;
        let runs_before = lab.runs().len();
        lab.write_config(a, &vi1(150, "notify_fault \"/usr/local/bin/new-fault v2\""));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(5.0).await;
        // In place: still master, and no hook ran for the reload itself.
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.runs().len(), runs_before, "{:?}", lab.runs());
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        assert!(lab.ran(a, "old-fault").is_empty());
        assert_eq!(lab.ran(a, "new-fault"), ["/usr/local/bin/new-fault v2"]);
    });
}

#[test]
fn a_hook_running_across_an_in_place_reload_reports_to_the_same_instance() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-master", 1, secs(10));
        let hooks = "notify_master /usr/local/bin/notify-master";
        lab.start(a, &vi1(150, hooks)).await;
        lab.secs(5.0).await;
        assert_eq!(lab.ran(a, "notify-master").len(), 1, "running");
        // Another priority: applied in place, the same instance.
        lab.write_config(a, &vi1(160, hooks));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        let status = lab.instance(a, "VI_1").await;
        assert_eq!(status.priority, 160);
        let hook = status
            .last_hook
            .expect("the hook's outcome, after the reload");
        assert_eq!((hook.hook.as_str(), hook.ok), ("notify_master", false));
        assert!(
            status.alarms.iter().any(|a| a.message
                == "hook failed: notify_master for MASTER (VI_1): exit status 1"),
            "{:?}",
            status.alarms
        );
    });
}

#[test]
fn a_reload_that_changes_notify_timeout_applies_to_the_next_hook() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.answer("notify-fault", 0, secs(1000));
        let hooks = "notify_fault /usr/local/bin/notify-fault\n    notify_backup /usr/local/bin/notify-backup";
        lab.start(a, &with_globals("notify_timeout 30", &vi1(150, hooks)))
            .await;
        lab.secs(10.0).await;
        lab.write_config(a, &with_globals("notify_timeout 4", &vi1(150, hooks)));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.lan.set_link(a, "eth0", false);
        lab.secs(1.0).await;
        lab.lan.set_link(a, "eth0", true);
        lab.secs(10.0).await;
        let fault = &runs_of(&lab, a, "notify-fault")[0];
        let backup = runs_of(&lab, a, "notify-backup");
        assert_eq!(
            backup.len(),
            2,
            "start-up, then after the fault: {backup:?}"
        );
        assert!((at(&backup[1]) - at(fault) - 4.0).abs() < 0.01);
    });
}

#[test]
fn a_reload_that_removes_a_whole_sync_group_runs_the_group_s_stop_hooks() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        let config = sync_group(
            150,
            "notify /usr/local/sbin/group-any\n    notify_stop /usr/local/sbin/group-stop",
            "notify /usr/local/sbin/member-any",
        );
        lab.start(a, &config).await;
        lab.secs(10.0).await;
        lab.write_config(a, &vi1(150, ""));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        // As on a stop: each member's STOP, then the group's, once.
        let members = lab.ran(a, "member-any");
        assert!(members.contains(&"/usr/local/sbin/member-any INSTANCE FRONT STOP 150".into()));
        assert!(members.contains(&"/usr/local/sbin/member-any INSTANCE BACK STOP 150".into()));
        assert_eq!(lab.ran(a, "group-stop"), ["/usr/local/sbin/group-stop"]);
        assert_eq!(
            notified_states(&lab, a, "group-any"),
            ["BACKUP", "MASTER", "STOP"]
        );
        assert!(lab.holders("203.0.113.100").is_empty());
        assert!(lab.holders("198.51.100.100").is_empty());
    });
}

#[test]
fn a_reload_that_restarts_every_member_of_a_sync_group_runs_its_hooks_stop_backup_master() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        let config = |version: u8| {
            with_globals(
                &format!("vrrp_version {version}"),
                &sync_group(150, "notify /usr/local/sbin/group-any", ""),
            )
        };
        lab.start(a, &config(3)).await;
        lab.secs(10.0).await;
        lab.write_config(a, &config(2));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(10.0).await;
        assert_eq!(lab.instance(a, "FRONT").await.version, 2);
        assert_eq!(
            notified_states(&lab, a, "group-any"),
            ["BACKUP", "MASTER", "STOP", "BACKUP", "MASTER"]
        );
    });
}

#[test]
fn a_reload_that_changes_a_sync_group_s_hook_applies_it_from_the_next_group_transition() {
    run(|mut lab| async move {
        let a = router(&mut lab, "a", 1);
        lab.start(
            a,
            &sync_group(150, "notify_fault /usr/local/sbin/old-fault", ""),
        )
        .await;
        lab.secs(10.0).await;
        lab.write_config(
            a,
            &sync_group(150, "notify_fault /usr/local/sbin/new-fault", ""),
        );
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(2.0).await;
        assert_eq!(lab.state(a, "FRONT").await, VrrpState::Master, "in place");
        lab.lan.set_link(a, "eth0", false);
        lab.secs(2.0).await;
        assert!(lab.ran(a, "old-fault").is_empty());
        assert_eq!(lab.ran(a, "new-fault"), ["/usr/local/sbin/new-fault"]);
    });
}

// ---------------------------------------------------------------------------------------
// notify_master_rx_lower_pri.

#[test]
fn a_healed_split_brain_runs_notify_master_rx_lower_pri_once_on_the_better_master() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify_master_rx_lower_pri \"/usr/local/bin/rx-lower VI_1\"\n    notify_backup /usr/local/bin/to-backup";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        lab.lan.cut(a, b);
        lab.secs(10.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        assert!(lab.ran(a, "rx-lower").is_empty());
        let healed = lab.lan.elapsed().as_secs_f64();
        lab.lan.heal(a, b);
        lab.secs(20.0).await;
        assert_eq!(lab.holders(VIP), ["a"]);
        let runs = runs_of(&lab, a, "rx-lower");
        assert_eq!(runs.len(), 1, "once per split brain: {runs:?}");
        assert_eq!(runs[0].line, "/usr/local/bin/rx-lower VI_1");
        assert!(at(&runs[0]) - healed < 1.01);
        assert_eq!(env(&runs[0], "BATON_STATE"), "MASTER");
        assert_eq!(env(&runs[0], "BATON_PRIORITY"), "150");
        assert!(lab.ran(b, "rx-lower").is_empty());
        // b went back to BACKUP and ran notify_backup for it.
        let backup_b = runs_of(&lab, b, "to-backup");
        assert_eq!(
            env(backup_b.last().expect("run"), "BATON_PREVIOUS_STATE"),
            "MASTER"
        );
        // The lower-priority master seen shows in the counters.
        assert!(
            lab.instance(a, "VI_1")
                .await
                .counters
                .vrrp
                .lower_priority_master
                >= 1
        );
    });
}

#[test]
fn each_new_split_brain_runs_notify_master_rx_lower_pri_again() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify_master_rx_lower_pri /usr/local/bin/rx-lower";
        lab.start(a, &vi1(150, hooks)).await;
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        for round in 1..=3 {
            lab.lan.cut(a, b);
            lab.secs(10.0).await;
            lab.lan.heal(a, b);
            lab.secs(10.0).await;
            assert_eq!(lab.holders(VIP), ["a"], "round {round}");
            assert_eq!(lab.ran(a, "rx-lower").len(), round, "round {round}");
        }
    });
}

#[test]
fn a_plain_preemption_is_no_split_brain_for_notify_master_rx_lower_pri() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        let hooks = "notify_master_rx_lower_pri /usr/local/bin/rx-lower";
        lab.start(b, &vi1(100, hooks)).await;
        lab.secs(10.0).await;
        lab.start(a, &vi1(150, hooks)).await;
        let seen = lab.watch(VIP, secs(20), Duration::from_millis(50)).await;
        assert_eq!(seen.last().expect("seen"), &vec!["a".to_string()]);
        assert!(lab.ran(a, "rx-lower").is_empty(), "{:?}", lab.runs());
        assert!(lab.ran(b, "rx-lower").is_empty());
    });
}

// ---------------------------------------------------------------------------------------
// The notify FIFO (keepalived's line format), written with the hooks.

/// A reader of the FIFO at `path` that never blocks (kept open, so what the daemon wrote
/// stays readable after it closed its end).
fn open_fifo(path: &std::path::Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("open the FIFO")
}

/// What is waiting in `fifo`.
fn drain_fifo(fifo: &mut std::fs::File) -> String {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match fifo.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the FIFO: {e}"),
        }
    }
    String::from_utf8(out).expect("text")
}

#[test]
fn the_notify_fifo_gets_a_keepalived_line_for_every_instance_and_group_change() {
    run(|mut lab| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("notify.fifo");
        let a = router(&mut lab, "a", 1);
        let config = with_globals(
            &format!("notify_fifo {}", fifo.display()),
            &sync_group(150, "", ""),
        );
        lab.start(a, &config).await;
        let mut reader = open_fifo(&fifo);
        lab.secs(10.0).await;
        let lines = drain_fifo(&mut reader);
        let lines: Vec<&str> = lines.lines().collect();
        // Each member's BACKUP, then the group's once both are; then MASTER likewise. A
        // group's line has priority 0, as keepalived writes it.
        for expected in [
            "INSTANCE \"FRONT\" BACKUP 150",
            "INSTANCE \"BACK\" BACKUP 150",
            "GROUP \"G1\" BACKUP 0",
            "INSTANCE \"FRONT\" MASTER 150",
            "INSTANCE \"BACK\" MASTER 150",
            "GROUP \"G1\" MASTER 0",
        ] {
            assert_eq!(
                lines.iter().filter(|l| **l == expected).count(),
                1,
                "{expected} in {lines:?}"
            );
        }
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert_eq!(lines[2], "GROUP \"G1\" BACKUP 0");
        assert_eq!(lines[5], "GROUP \"G1\" MASTER 0");
        lab.stop(a).await.expect("stopped");
        let lines = drain_fifo(&mut reader);
        assert_eq!(lines.lines().last(), Some("GROUP \"G1\" STOP 0"), "{lines}");
    });
}
