//! Deterministic simulation of VRRP groups: scenario tests and seeded random scenarios with
//! invariants (one master per connected segment after convergence, the best router wins
//! when preemption is on, takeovers happen exactly when RFC 5798 6.4.2 says).

mod sim;

use std::time::Duration;

use baton::vrrp::{Config, Event, Reason, State, timers};
use baton::wire::vrrp::Version;
use rand::Rng;
use sim::{Lan, node_address};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settle(lan: &mut Lan) {
    let span = 6 * lan.longest_master_down() + ms(10);
    lan.run_for(span);
}

/// Every timer-driven takeover happened exactly at the predicted deadline.
fn assert_takeovers_on_time(lan: &Lan, context: &str) {
    for t in &lan.transitions {
        if let Some(expected) = t.expected_at {
            assert_eq!(
                t.at, expected,
                "{context}: takeover off its deadline: {t:?}"
            );
        }
        if t.to == State::Master
            && matches!(t.reason, Reason::MasterDown | Reason::MasterResigned { .. })
        {
            assert!(
                t.expected_at.is_some(),
                "{context}: unpredicted takeover {t:?}"
            );
        }
    }
}

/// Exactly one master per segment, holding the VIP; the best one if `preempting`.
fn assert_one_master_per_segment(lan: &Lan, preempting: bool, context: &str) {
    for members in lan.segments() {
        let masters: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| lan.state(i) == State::Master)
            .collect();
        assert_eq!(
            masters.len(),
            1,
            "{context}: segment {members:?} has masters {masters:?}"
        );
        let holders: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| lan.nodes[i].holds_vip)
            .collect();
        assert_eq!(
            holders, masters,
            "{context}: VIP holders differ from masters"
        );
        if preempting {
            // RFC 5798 6.4.2: a backup defers to an equal priority, so among equals any may
            // stay master; the master's priority must be the highest of its segment.
            let best = lan.best_of(&members).unwrap();
            assert_eq!(
                lan.nodes[masters[0]].instance.priority(),
                lan.nodes[best].instance.priority(),
                "{context}: a higher-priority router of {members:?} is not master"
            );
        }
    }
}

#[test]
fn election_picks_the_highest_priority() {
    let mut lan = Lan::v3(1, &[100, 200, 150], 100);
    lan.start_all();
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.vip_holders(), vec![1]);
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(lan.state(2), State::Backup);
    // Exactly one transition to master in the whole run: no flapping during the election.
    let to_master = lan
        .transitions
        .iter()
        .filter(|t| t.to == State::Master)
        .count();
    assert_eq!(to_master, 1);
    assert_takeovers_on_time(&lan, "election");
}

#[test]
fn failover_after_a_crash_happens_master_down_interval_after_the_last_advert() {
    let mut lan = Lan::v3(2, &[100, 200, 150], 100);
    lan.start_all();
    settle(&mut lan);
    let crash_at = lan.now + ms(250);
    lan.run_until(crash_at);
    lan.crash(1);
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![2], "the next best takes over");
    let takeover = lan
        .transitions
        .iter()
        .rfind(|t| t.to == State::Master)
        .unwrap();
    assert_eq!(takeover.reason, Reason::MasterDown);
    // The last advert from node 1 left at a whole second; node 2 heard it 100 us later.
    let mdi = timers::master_down_interval(Version::V3, 150, 100);
    assert_eq!(takeover.expected_at, Some(takeover.at));
    let outage = takeover.at - crash_at;
    assert!(
        outage <= mdi,
        "outage {outage:?} exceeds Master_Down_Interval {mdi:?}"
    );
    assert_takeovers_on_time(&lan, "crash failover");
}

#[test]
fn graceful_stop_hands_over_within_skew_time() {
    let mut lan = Lan::v3(3, &[100, 200], 100);
    lan.start_all();
    settle(&mut lan);
    let stop_at = lan.now;
    lan.stop(1);
    lan.run_for(ms(2000));
    assert_eq!(lan.masters(), vec![0]);
    let takeover = lan
        .transitions
        .iter()
        .rfind(|t| t.to == State::Master)
        .unwrap();
    assert_eq!(
        takeover.reason,
        Reason::MasterResigned {
            from: node_address(1)
        }
    );
    let skew = timers::skew_time(Version::V3, 100, 100);
    assert_eq!(
        takeover.at,
        stop_at + lan.delay + skew,
        "priority 0 + Skew_Time, to the tick"
    );
}

#[test]
fn preempting_router_takes_over_when_it_starts() {
    let mut lan = Lan::v3(4, &[100, 200], 100);
    lan.start(0);
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![0]);
    lan.start(1);
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.vip_holders(), vec![1]);
    let yielded = lan.transitions.iter().rfind(|t| t.node == 0).unwrap();
    assert_eq!(
        yielded.reason,
        Reason::Preempted {
            from: node_address(1),
            priority: 200
        }
    );
}

#[test]
fn nopreempt_router_waits_for_the_operator() {
    let mut configs: Vec<Config> = [100, 200]
        .iter()
        .enumerate()
        .map(|(i, &p)| Config::new(Version::V3, p, 100, node_address(i)))
        .collect();
    configs[1].preempt = false;
    let mut lan = Lan::new(5, configs);
    lan.start(0);
    settle(&mut lan);
    lan.start(1);
    lan.run_for(ms(120_000));
    assert_eq!(
        lan.masters(),
        vec![0],
        "manual fallback: the lower master keeps the VIP"
    );
    lan.event(1, Event::Fallback);
    lan.run_for(ms(100));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.vip_holders(), vec![1]);
}

#[test]
fn equal_priorities_are_broken_by_the_highest_address() {
    let mut lan = Lan::v3(6, &[100, 100, 100], 100);
    lan.start_all();
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![2]);
}

#[test]
fn partition_gives_one_master_per_side_and_heal_gives_one_in_all() {
    let mut lan = Lan::v3(7, &[200, 150, 100], 100);
    lan.start_all();
    settle(&mut lan);
    lan.partition(&[0, 1, 1]);
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![0, 1]);
    assert_one_master_per_segment(&lan, true, "partitioned");
    lan.heal();
    // A master that hears a lower master answers at once: one round trip, not a timer.
    lan.run_for(ms(1100));
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.vip_holders(), vec![0]);
    assert_takeovers_on_time(&lan, "partition");
}

#[test]
fn healed_split_brain_makes_the_remaining_master_announce_whoever_speaks_first() {
    // Both routers alone and master; the heal falls at every phase of their advert
    // timers. Whichever advert crosses first, the master that stays must announce its
    // addresses after the heal: the clients followed the other one during the split.
    for offset_ms in (0..100).step_by(7) {
        let mut lan = Lan::v3(12, &[150, 100], 10);
        lan.start_all();
        settle(&mut lan);
        lan.partition(&[0, 1]);
        settle(&mut lan);
        assert_eq!(lan.masters(), vec![0, 1]);
        lan.run_for(ms(offset_ms));
        let healed_at = lan.now;
        lan.heal();
        lan.run_for(ms(500));
        let context = format!("heal {offset_ms} ms into the interval");
        assert_eq!(lan.masters(), vec![0], "{context}");
        assert_eq!(lan.vip_holders(), vec![0], "{context}");
        assert!(
            lan.nodes[0].last_announce.is_some_and(|t| t >= healed_at),
            "{context}: no announcement after the heal (last {:?})",
            lan.nodes[0].last_announce
        );
    }
}

#[test]
fn fast_adverts_with_jitter_cause_no_false_transition() {
    let mut lan = Lan::v3(8, &[100, 200], 1);
    lan.delay = Duration::from_micros(200);
    lan.jitter = Duration::from_micros(2_000);
    lan.start_all();
    settle(&mut lan);
    let before = lan.transitions.len();
    lan.run_for(ms(60_000));
    assert_eq!(
        lan.transitions.len(),
        before,
        "steady state for a minute at 10 ms adverts"
    );
    assert_eq!(lan.masters(), vec![1]);
}

#[test]
fn vrrpv2_group_fails_over_on_whole_seconds() {
    let configs = (0..3)
        .map(|i| Config::new(Version::V2, 100 + 50 * i as u8, 200, node_address(i)))
        .collect();
    let mut lan = Lan::new(9, configs);
    lan.start_all();
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![2]);
    lan.crash(2);
    settle(&mut lan);
    assert_eq!(lan.masters(), vec![1]);
    assert_takeovers_on_time(&lan, "v2");
}

/// One random scenario: a group, a series of faults, then a quiet period, then invariants.
fn random_scenario(seed: u64) {
    let mut lan = Lan::new(seed, Vec::new());
    let rng = &mut lan.rng;
    let n = rng.random_range(2..=5usize);
    let v3 = rng.random_bool(0.8);
    let all_preempt = rng.random_bool(0.6);
    let mut configs = Vec::new();
    for i in 0..n {
        let (version, interval) = if v3 {
            (Version::V3, [1, 5, 10, 50, 100][rng.random_range(0..5)])
        } else {
            (Version::V2, 100)
        };
        let owner = i == 0 && rng.random_bool(0.1);
        let priority = if owner {
            255
        } else {
            rng.random_range(1..=254)
        };
        let mut cfg = Config::new(version, priority, interval, node_address(i));
        cfg.preempt = all_preempt || rng.random_bool(0.5);
        configs.push(cfg);
    }
    let delay = Duration::from_micros(rng.random_range(10..=1000));
    let jitter = Duration::from_micros(rng.random_range(0..=500));
    let ops = rng.random_range(1..=6);
    let mut lan = Lan::new(seed, configs);
    lan.delay = delay;
    lan.jitter = jitter;
    lan.start_all();
    let unit = lan.longest_master_down();
    for _ in 0..ops {
        let gap = unit.mul_f64(lan.rng.random_range(0.0..5.0));
        lan.run_for(gap);
        random_fault(&mut lan);
    }
    lan.loss = 0.0;
    settle(&mut lan);
    let context = describe(&lan, seed);
    assert_one_master_per_segment(&lan, all_preempt, &context);
    assert_takeovers_on_time(&lan, &context);
}

/// A failure message that lets the scenario be read and replayed.
fn describe(lan: &Lan, seed: u64) -> String {
    let nodes: Vec<String> = lan
        .nodes
        .iter()
        .map(|n| {
            format!(
                "{:?} prio {} int {}cs preempt {} running {} segment {}",
                n.cfg.version,
                n.cfg.priority,
                n.cfg.interval_cs,
                n.cfg.preempt,
                n.running,
                n.segment
            )
        })
        .collect();
    let last: Vec<String> = lan
        .transitions
        .iter()
        .rev()
        .take(12)
        .rev()
        .map(|t| {
            format!(
                "{:?} node {} {}->{} {:?}",
                t.at, t.node, t.from, t.to, t.reason
            )
        })
        .collect();
    format!(
        "seed {seed}\nnodes:\n  {}\nlast transitions:\n  {}\n",
        nodes.join("\n  "),
        last.join("\n  ")
    )
}

fn random_fault(lan: &mut Lan) {
    let n = lan.nodes.len();
    let node = lan.rng.random_range(0..n);
    match lan.rng.random_range(0..6) {
        0 => lan.crash(node),
        1 => lan.restart(node),
        2 => {
            if lan.nodes[node].running {
                lan.stop(node);
            } else {
                lan.start(node);
            }
        }
        3 => {
            let segments: Vec<usize> = (0..n).map(|_| lan.rng.random_range(0..2)).collect();
            lan.partition(&segments);
        }
        4 => lan.heal(),
        _ => lan.loss = lan.rng.random_range(0.0..0.5),
    }
}

#[test]
fn random_scenarios_keep_the_invariants() {
    let count: u64 = std::env::var("BATON_SIM_SCENARIOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first: u64 = std::env::var("BATON_SIM_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for seed in first..first + count {
        random_scenario(seed);
    }
}
