//! Random fault sequences: three daemons through crashes, clean stops, restarts, links
//! pulled, partitions and one-way losses, in random order and at random moments; then
//! every fault is undone and the group must settle as if nothing had happened: one holder
//! of the VIP, the node with the highest priority, the others BACKUP and agreeing who the
//! master is. While all three hear each other and nothing has happened for a while, never
//! two holders.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::control::status::VrrpState;
use crate::daemon::harness::{Lab, NodeId, run};

const VIP: &str = "192.0.2.100";

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

/// What is wrong with the world, so it can be undone.
#[derive(Default)]
struct Faults {
    down: Vec<NodeId>,
    link_down: Vec<NodeId>,
    cut: Vec<(NodeId, NodeId)>,
    muted: Vec<NodeId>,
}

impl Faults {
    fn none(&self) -> bool {
        self.down.is_empty()
            && self.link_down.is_empty()
            && self.cut.is_empty()
            && self.muted.is_empty()
    }
}

async fn one_step(lab: &mut Lab, rng: &mut StdRng, faults: &mut Faults, nodes: &[NodeId]) {
    let node = nodes[rng.random_range(0..nodes.len())];
    match rng.random_range(0..10) {
        0 if !faults.down.contains(&node) => {
            lab.crash(node);
            faults.down.push(node);
        }
        1 if !faults.down.contains(&node) => {
            lab.stop(node).await.expect("a clean stop");
            faults.down.push(node);
        }
        2 | 3 if faults.down.contains(&node) => {
            lab.start_again(node).await;
            faults.down.retain(|&n| n != node);
        }
        4 if !faults.link_down.contains(&node) => {
            lab.lan.set_link(node, "eth0", false);
            faults.link_down.push(node);
        }
        5 if faults.link_down.contains(&node) => {
            lab.lan.set_link(node, "eth0", true);
            faults.link_down.retain(|&n| n != node);
        }
        6 => {
            let other = nodes[(node + 1) % nodes.len()];
            let pair = (node.min(other), node.max(other));
            if faults.cut.contains(&pair) {
                lab.lan.heal(pair.0, pair.1);
                faults.cut.retain(|&p| p != pair);
            } else {
                lab.lan.cut(pair.0, pair.1);
                faults.cut.push(pair);
            }
        }
        7 => {
            let muted = faults.muted.contains(&node);
            lab.lan.mute(node, !muted);
            if muted {
                faults.muted.retain(|&n| n != node);
            } else {
                faults.muted.push(node);
            }
        }
        _ => {}
    }
    // Sometimes at once, sometimes after the group had time to react.
    let pause = if rng.random_bool(0.3) {
        Duration::from_millis(rng.random_range(1..300))
    } else {
        Duration::from_millis(rng.random_range(300..6_000))
    };
    if faults.none() {
        // Everyone up and hearing everyone: after a settling time, one holder at most.
        lab.wait(pause).await;
        if pause > Duration::from_secs(4) {
            let holders = lab.holders(VIP);
            assert!(
                holders.len() <= 1,
                "two masters without a fault: {holders:?}"
            );
        }
    } else {
        lab.wait(pause).await;
    }
}

async fn undo(lab: &mut Lab, faults: &mut Faults) {
    for node in std::mem::take(&mut faults.link_down) {
        lab.lan.set_link(node, "eth0", true);
    }
    for (a, b) in std::mem::take(&mut faults.cut) {
        lab.lan.heal(a, b);
    }
    for node in std::mem::take(&mut faults.muted) {
        lab.lan.mute(node, false);
    }
    for node in std::mem::take(&mut faults.down) {
        lab.start_again(node).await;
    }
}

#[test]
fn random_faults_undone_leave_one_master_the_preferred_node() {
    for seed in 0..60u64 {
        eprintln!("seed {seed}");
        run(|mut lab| async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let a = lab.node("a", "192.0.2.1/24");
            let b = lab.node("b", "192.0.2.2/24");
            let c = lab.node("c", "192.0.2.3/24");
            lab.start(a, &config(150)).await;
            lab.start(b, &config(100)).await;
            lab.start(c, &config(50)).await;
            lab.secs(5.0).await;
            let nodes = [a, b, c];
            let mut faults = Faults::default();
            for _ in 0..rng.random_range(5..40) {
                one_step(&mut lab, &mut rng, &mut faults, &nodes).await;
            }
            undo(&mut lab, &mut faults).await;
            // Two masters of a healed partition (or of a one-way loss) hear each other at
            // the next advert, within a second; then the lower one yields.
            lab.secs(2.0).await;
            // Master_Down_Interval is a little over 3 s; a few of them.
            let seen = lab
                .watch(VIP, Duration::from_secs(15), Duration::from_millis(50))
                .await;
            assert_eq!(
                seen.last().map(Vec::as_slice),
                Some(&["a".to_string()][..]),
                "seed {seed}: holders seen after the faults were undone: {seen:?}"
            );
            assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master, "seed {seed}");
            for node in [b, c] {
                let status = lab.instance(node, "VI_1").await;
                assert_eq!(status.state, VrrpState::Backup, "seed {seed}");
                let master = status.master.expect("a master heard");
                assert_eq!(
                    master.address.to_string(),
                    "192.0.2.1",
                    "seed {seed}: {} follows another master",
                    lab.name(node)
                );
            }
        });
    }
}
