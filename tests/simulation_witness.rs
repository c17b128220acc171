//! The witness lease in the simulator (virtual time): with a witness, never two nodes hold
//! the addresses at once, through partitions between the servers, a witness reachable from
//! one side or none, crashes, and clocks that run at different rates; and the group still
//! converges to one master once the faults heal.

mod sim;

use std::time::Duration;

use baton::vrrp::{Config, Event, Reason, State, WhenUnreachable, WitnessRule};
use baton::wire::vrrp::Version;
use rand::Rng;
use sim::witness::Witness;
use sim::{Lan, node_address};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Nodes with these priorities, a 100 ms advert interval (the PostgreSQL pair's setting),
/// and a witness with a `ttl_s` lease.
fn lan(seed: u64, priorities: &[u8], ttl_s: u32, policy: WhenUnreachable) -> Lan {
    let configs = priorities
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut cfg = Config::new(Version::V3, p, 10, node_address(i));
            cfg.witness = Some(WitnessRule {
                when_unreachable: policy,
                lease_ttl: secs(u64::from(ttl_s)),
            });
            cfg
        })
        .collect();
    let mut lan = Lan::new(seed, configs);
    lan.witness = Some(Witness::new(priorities.len(), ttl_s));
    lan
}

fn witness(lan: &mut Lan) -> &mut Witness {
    lan.witness.as_mut().expect("a witness")
}

fn assert_never_two_holders(lan: &Lan, context: &str) {
    assert!(
        lan.two_holders.is_none(),
        "{context}: two VIP holders at once: {:?}\ntransitions: {:#?}",
        lan.two_holders,
        lan.transitions
    );
}

fn started(lan: &mut Lan) {
    lan.start_all();
    lan.run_for(secs(3));
    assert_eq!(
        lan.masters(),
        vec![0],
        "node 0 (highest priority) is master"
    );
    assert_eq!(lan.vip_holders(), vec![0]);
}

#[test]
fn a_backup_does_not_take_over_without_the_lease_when_the_servers_are_cut_apart() {
    let mut lan = lan(1, &[200, 100], 3, WhenUnreachable::Release);
    started(&mut lan);
    // Two-way partition between the servers; both still reach the witness.
    lan.partition(&[0, 1]);
    lan.run_for(secs(20));
    assert_eq!(lan.masters(), vec![0], "the lease holder stays master");
    assert_eq!(lan.state(1), State::Backup);
    assert_eq!(
        lan.nodes[1].instance.pending_takeover(),
        Some(Reason::MasterDown),
        "the backup waits for the lease"
    );
    lan.heal();
    lan.run_for(secs(3));
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.nodes[1].instance.pending_takeover(), None);
    assert_never_two_holders(&lan, "partition, witness on both sides");
}

#[test]
fn the_side_that_reaches_the_witness_wins() {
    let mut lan = lan(2, &[200, 100], 3, WhenUnreachable::Release);
    started(&mut lan);
    lan.partition(&[0, 1]);
    witness(&mut lan).reach[0] = false;
    let cut = lan.now;
    lan.run_for(secs(10));
    assert_eq!(
        lan.masters(),
        vec![1],
        "the side with the witness took over"
    );
    assert_eq!(lan.state(0), State::Backup);
    let released = lan
        .transitions
        .iter()
        .find(|t| t.node == 0 && t.reason == Reason::LeaseLost)
        .expect("the old master let go");
    let taken = lan
        .transitions
        .iter()
        .find(|t| t.node == 1 && t.to == State::Master)
        .expect("node 1 took over");
    assert!(released.at < taken.at, "the old master let go first");
    assert!(
        taken.at - cut <= secs(4) + ms(500),
        "taken over within the TTL and a renewal: {:?}",
        taken.at - cut
    );
    assert_never_two_holders(&lan, "partition, witness on one side");
}

#[test]
fn with_the_witness_down_nothing_changes_hands() {
    for (policy, master_keeps) in [
        (WhenUnreachable::Release, false),
        (WhenUnreachable::Keep, true),
        (WhenUnreachable::Takeover, true),
    ] {
        let mut lan = lan(3, &[200, 100], 3, policy);
        started(&mut lan);
        let now = lan.now;
        witness(&mut lan).set_up(false, now);
        lan.run_for(secs(10));
        let holders = if master_keeps { vec![0] } else { vec![] };
        assert_eq!(lan.vip_holders(), holders, "{policy:?}");
        assert!(
            lan.transitions
                .iter()
                .all(|t| t.node != 1 || t.to != State::Master),
            "{policy:?}: the backup never took over"
        );
        let now = lan.now;
        witness(&mut lan).set_up(true, now);
        lan.run_for(secs(5));
        assert_eq!(
            lan.masters(),
            vec![0],
            "{policy:?}: back once the witness is"
        );
        assert_never_two_holders(&lan, &format!("witness down, {policy:?}"));
    }
}

#[test]
fn takeover_policy_lets_a_lone_backup_take_over_without_the_witness() {
    let mut lan = lan(4, &[200, 100], 3, WhenUnreachable::Takeover);
    started(&mut lan);
    let now = lan.now;
    witness(&mut lan).set_up(false, now);
    lan.crash(0);
    lan.run_for(secs(5));
    assert_eq!(
        lan.masters(),
        vec![1],
        "plain VRRP while the witness is down"
    );
}

#[test]
fn a_crashed_master_is_replaced_once_its_lease_expires() {
    let mut lan = lan(5, &[200, 100], 2, WhenUnreachable::Release);
    started(&mut lan);
    let crash = lan.now;
    lan.crash(0);
    lan.run_for(secs(5));
    assert_eq!(lan.masters(), vec![1]);
    let taken = lan.transitions.iter().rfind(|t| t.node == 1).unwrap();
    assert!(
        taken.at - crash <= secs(2) + ms(200),
        "within the TTL and a poll: {:?}",
        taken.at - crash
    );
    assert_never_two_holders(&lan, "crash");
}

#[test]
fn a_graceful_stop_hands_over_at_once() {
    let mut lan = lan(6, &[200, 100], 3, WhenUnreachable::Release);
    started(&mut lan);
    let stop = lan.now;
    lan.stop(0);
    lan.run_for(secs(2));
    assert_eq!(lan.masters(), vec![1]);
    let taken = lan.transitions.iter().rfind(|t| t.node == 1).unwrap();
    // Skew_Time, then the lease given up by the stopping master: a few round trips.
    assert!(
        taken.at - stop <= ms(100),
        "handed over in {:?}",
        taken.at - stop
    );
    assert_never_two_holders(&lan, "graceful stop");
}

#[test]
fn a_preempting_backup_claims_the_lease_from_a_lower_master() {
    let mut lan = lan(7, &[200, 100], 3, WhenUnreachable::Release);
    lan.start(1);
    lan.run_for(secs(3));
    assert_eq!(lan.masters(), vec![1]);
    lan.start(0);
    lan.run_for(secs(3));
    assert_eq!(lan.masters(), vec![0], "the higher priority took over");
    assert_eq!(lan.vip_holders(), vec![0]);
    assert_never_two_holders(&lan, "preemption");
}

#[test]
fn an_operator_fallback_claims_the_lease() {
    let configs: Vec<Config> = [200u8, 100]
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut cfg = Config::new(Version::V3, p, 10, node_address(i));
            cfg.preempt = false;
            cfg.witness = Some(WitnessRule {
                when_unreachable: WhenUnreachable::Release,
                lease_ttl: secs(3),
            });
            cfg
        })
        .collect();
    let mut lan = Lan::new(8, configs);
    lan.witness = Some(Witness::new(2, 3));
    lan.start(1);
    lan.run_for(secs(3));
    lan.start(0);
    lan.run_for(secs(3));
    assert_eq!(lan.masters(), vec![1], "no preemption with fallback manual");
    lan.event(0, Event::Fallback);
    lan.run_for(secs(1));
    assert_eq!(lan.masters(), vec![0], "the fallback took the lease over");
    assert_never_two_holders(&lan, "fallback");
}

#[test]
fn clocks_at_different_rates_still_let_the_old_master_go_first() {
    for (seed, node_rate, store_rate) in [(9, 0.99, 1.01), (10, 1.01, 0.99), (11, 0.995, 1.0)] {
        let mut lan = lan(seed, &[200, 100], 2, WhenUnreachable::Release);
        lan.nodes[0].rate = node_rate;
        lan.nodes[1].rate = 1.0 / node_rate;
        witness(&mut lan).rate = store_rate;
        started(&mut lan);
        lan.partition(&[0, 1]);
        witness(&mut lan).reach[0] = false;
        lan.run_for(secs(10));
        assert_eq!(lan.masters(), vec![1], "rates {node_rate} {store_rate}");
        assert_never_two_holders(&lan, &format!("rates {node_rate} {store_rate}"));
    }
}

fn random_scenario(seed: u64) {
    let mut lan = Lan::new(seed, Vec::new());
    let rng = &mut lan.rng;
    let n = rng.random_range(2..=4usize);
    let ttl_s = rng.random_range(2..=5u32);
    let policy = [WhenUnreachable::Release, WhenUnreachable::Keep][rng.random_range(0..2)];
    let interval = [10u16, 50, 100][rng.random_range(0..3)];
    let preempt = rng.random_bool(0.7);
    let configs: Vec<Config> = (0..n)
        .map(|i| {
            let mut cfg = Config::new(
                Version::V3,
                rng.random_range(1..=254),
                interval,
                node_address(i),
            );
            cfg.preempt = preempt;
            cfg.witness = Some(WitnessRule {
                when_unreachable: policy,
                lease_ttl: secs(u64::from(ttl_s)),
            });
            cfg
        })
        .collect();
    let rates: Vec<f64> = (0..n).map(|_| rng.random_range(0.99..1.01)).collect();
    let store_rate = rng.random_range(0.99..1.01);
    let store_delay = Duration::from_micros(rng.random_range(100..=20_000));
    let ops = rng.random_range(1..=8);
    let mut lan = Lan::new(seed, configs);
    for (node, rate) in lan.nodes.iter_mut().zip(rates) {
        node.rate = rate;
    }
    let mut w = Witness::new(n, ttl_s);
    w.rate = store_rate;
    w.delay = store_delay;
    lan.witness = Some(w);
    lan.delay = Duration::from_micros(lan.rng.random_range(10..=1000));
    lan.start_all();
    for _ in 0..ops {
        let gap = secs(u64::from(ttl_s)).mul_f64(lan.rng.random_range(0.0..3.0));
        lan.run_for(gap);
        random_fault(&mut lan, policy);
    }
    let context = format!("seed {seed}, {n} nodes, ttl {ttl_s}s, {policy:?}");
    assert_never_two_holders(&lan, &context);
    // Heal everything: the group converges to one master holding the lease.
    lan.heal();
    lan.loss = 0.0;
    {
        let now = lan.now;
        let w = witness(&mut lan);
        w.set_up(true, now);
        w.reach.iter_mut().for_each(|r| *r = true);
    }
    for i in 0..n {
        if !lan.nodes[i].running {
            lan.start(i);
        }
    }
    lan.run_for(secs(u64::from(3 * ttl_s)) + 10 * lan.longest_master_down());
    assert_never_two_holders(&lan, &context);
    let masters = lan.masters();
    assert_eq!(
        masters.len(),
        1,
        "{context}: masters {masters:?} after healing"
    );
    assert_eq!(lan.vip_holders(), masters, "{context}");
}

fn random_fault(lan: &mut Lan, policy: WhenUnreachable) {
    let n = lan.nodes.len();
    let node = lan.rng.random_range(0..n);
    match lan.rng.random_range(0..9) {
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
        // With `keep`, a master keeps the VIP while it cannot reach the witness: a
        // partition plus the witness reachable only from the other side makes two
        // holders, as documented; `keep` scenarios only take the witness down for all.
        5 if policy == WhenUnreachable::Keep => {}
        5 => {
            let cut = lan.rng.random_bool(0.5);
            witness(lan).reach[node] = !cut;
        }
        6 => {
            let now = lan.now;
            let w = witness(lan);
            let up = !w.up;
            w.set_up(up, now);
        }
        7 => lan.loss = lan.rng.random_range(0.0..0.3),
        _ => {
            let at = lan.rng.random_range(0..n);
            lan.event(at, Event::Resign { hold: secs(1) });
        }
    }
}

#[test]
fn random_scenarios_never_have_two_holders() {
    let count: u64 = std::env::var("BATON_SIM_SCENARIOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let first: u64 = std::env::var("BATON_SIM_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for seed in first..first + count {
        random_scenario(seed);
    }
}

#[test]
fn a_flapping_partition_does_not_move_the_vip_to_a_node_that_does_not_preempt() {
    let configs: Vec<Config> = [200u8, 100]
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut cfg = Config::new(Version::V3, p, 10, node_address(i));
            cfg.preempt = false;
            cfg.witness = Some(WitnessRule {
                when_unreachable: WhenUnreachable::Release,
                lease_ttl: secs(2),
            });
            cfg
        })
        .collect();
    let mut lan = Lan::new(12, configs);
    lan.witness = Some(Witness::new(2, 2));
    lan.start(1);
    lan.run_for(secs(3));
    lan.start(0);
    lan.run_for(secs(3));
    assert_eq!(lan.masters(), vec![1]);
    // Cut and healed at moments that fall at every phase of the advert interval.
    for i in 0..20 {
        lan.partition(&[0, 1]);
        lan.run_for(ms(1000 + i * 37));
        lan.heal();
        lan.run_for(ms(1000 + i * 53));
    }
    lan.run_for(secs(3));
    assert_eq!(
        lan.masters(),
        vec![1],
        "fallback manual: the VIP stays where it is"
    );
    assert!(
        lan.transitions
            .iter()
            .all(|t| t.node != 0 || t.to != State::Master),
        "node 0 never took over: {:#?}",
        lan.transitions
    );
    assert_never_two_holders(&lan, "flapping partition");
}
