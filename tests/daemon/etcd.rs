//! etcd members (Debian's `etcd-server`) started by the tests in a lab's namespaces, for
//! the witness. Each member's data lives in the cluster's temp dir; the lab ends them by
//! pid when it is dropped.

use std::time::Duration;

use super::Cluster;
use crate::lab::{Proc, poll};

/// A member: the node it runs on and its address.
pub struct Member {
    pub node: String,
    pub address: String,
    pub proc: Proc,
}

/// Whether etcd (Debian's etcd-server and etcd-client) is installed. Under CI a missing etcd
/// fails the test instead: .ci/run installs it, and the witness tests must run there.
pub fn installed() -> bool {
    let found = ["etcd", "etcdctl"].iter().all(|tool| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "etcd is not installed, and CI is set (apt-get install etcd-server etcd-client)"
        );
        eprintln!("SKIPPED: etcd is not installed (apt-get install etcd-server etcd-client)");
    }
    found
}

/// Start etcd members on `nodes` (`(node, address)`), as one cluster, and wait until it
/// answers. Fast raft timings (50 ms heartbeat, 500 ms election), so leases of 2 s work.
pub fn start(c: &Cluster, nodes: &[(&str, &str)]) -> Vec<Member> {
    let initial: Vec<String> = nodes
        .iter()
        .map(|(n, a)| format!("{n}=http://{a}:2380"))
        .collect();
    let members: Vec<Member> = nodes
        .iter()
        .map(|(node, address)| Member {
            node: node.to_string(),
            address: address.to_string(),
            proc: start_member(c, node, address, &initial.join(",")),
        })
        .collect();
    let endpoints = endpoints(&members);
    let healthy = poll(Duration::from_secs(30), || {
        let node = &members[0].node;
        c.lab
            .exec(
                node,
                &[
                    "etcdctl",
                    "--endpoints",
                    &endpoints,
                    "--dial-timeout=1s",
                    "endpoint",
                    "health",
                ],
            )
            .status
            .success()
    });
    if !healthy {
        let logs: Vec<String> = members
            .iter()
            .map(|m| {
                let log = c.dir.path().join(format!("etcd-{}.log", m.node));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {}:\n{}", log.display(), tail.join("\n"))
            })
            .collect();
        panic!(
            "etcd did not become healthy on {endpoints}\n{}",
            logs.join("\n")
        );
    }
    members
}

fn start_member(c: &Cluster, node: &str, address: &str, initial: &str) -> Proc {
    let dir = c.dir.path().join(format!("etcd-{node}"));
    let log = c.dir.path().join(format!("etcd-{node}.log"));
    let client = format!("http://{address}:2379");
    let peer = format!("http://{address}:2380");
    let script = format!(
        "exec etcd --name {node} --data-dir {} --listen-client-urls {client} \
         --advertise-client-urls {client} --listen-peer-urls {peer} \
         --initial-advertise-peer-urls {peer} --initial-cluster {initial} \
         --initial-cluster-state new --heartbeat-interval 50 --election-timeout 500 \
         2>>{}",
        dir.display(),
        log.display()
    );
    c.lab.spawn(node, &["sh", "-c", &script])
}

/// `http://A:2379,http://B:2379` for etcdctl.
pub fn endpoints(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("http://{}:2379", m.address))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `witness` block for these members.
pub fn witness_block(members: &[Member], extra: &str) -> String {
    let endpoints: Vec<String> = members
        .iter()
        .map(|m| format!("http://{}:2379", m.address))
        .collect();
    format!(
        "witness {{\n    endpoints {}\n    lease_ttl 2\n{extra}}}\n",
        endpoints.join(" ")
    )
}
