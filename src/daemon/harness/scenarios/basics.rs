//! Election, takeover and a clean stop.

use std::time::Duration;

use super::one_instance;
use crate::control::status::VrrpState;
use crate::daemon::harness::run;

#[test]
fn the_higher_priority_becomes_master_and_the_other_takes_over_when_it_crashes() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &one_instance(150, "")).await;
        lab.start(b, &one_instance(100, "")).await;
        let seen = lab
            .watch(
                "192.0.2.100",
                Duration::from_secs(10),
                Duration::from_millis(100),
            )
            .await;
        assert_eq!(seen.last().expect("seen"), &vec!["a".to_string()]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        lab.crash(a);
        // a's VIP stays on its interface after a crash (nothing removed it); b takes over.
        lab.secs(5.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        let mut holders = lab.holders("192.0.2.100");
        holders.sort();
        assert_eq!(holders, ["a", "b"]);
    });
}

#[test]
fn status_and_lock_over_the_control_socket() {
    use crate::control::protocol::Command;
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &one_instance(150, "")).await;
        lab.start(b, &one_instance(100, "")).await;
        lab.secs(5.0).await;
        let reply = lab.over_socket(a, Command::Status { instance: None }).await;
        assert!(reply.ok, "{:?}", reply.error);
        let status: crate::control::status::DaemonStatus =
            serde_json::from_value(reply.result.expect("status")).expect("status JSON");
        assert_eq!(status.node, "a");
        assert_eq!(status.instances[0].state, VrrpState::Master);
        // A lock over the socket moves the VIP as the in-process one would.
        let reply = lab
            .over_socket(
                a,
                Command::Lock {
                    instance: "VI_1".into(),
                },
            )
            .await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(5.0).await;
        assert_eq!(lab.holders("192.0.2.100"), ["b"]);
        // A line that is not a request gets an error reply, and the daemon goes on.
        let socket = lab.dir(a).join("baton.sock");
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{BufRead, Write};
            let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("connect");
            stream
                .write_all(b"{\"version\":1,\"command\":\"nonsense\"}\n")
                .expect("write");
            let mut line = String::new();
            std::io::BufReader::new(stream)
                .read_line(&mut line)
                .expect("read");
            line
        })
        .await
        .expect("client");
        assert!(answer.contains("\"ok\":false"), "{answer}");
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Backup);
    });
}

/// `no_accept`: the VIPs are dropped by an nftables table written before any instance can
/// be master, rewritten by a reload, removed at stop (the harness records the tables).
#[test]
fn no_accept_tables_follow_the_config() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        lab.start(a, &one_instance(150, "no_accept")).await;
        lab.secs(5.0).await;
        let vip: std::net::IpAddr = "192.0.2.100".parse().expect("address");
        let tables = lab.lan.nft_tables(a);
        assert_eq!(tables.len(), 1, "{tables:?}");
        assert!(tables[0].contains(&vip));
        lab.write_config(a, &one_instance(150, "accept"));
        let reply = lab.reload(a).await;
        assert!(reply.ok, "{:?}", reply.error);
        lab.secs(1.0).await;
        let tables = lab.lan.nft_tables(a);
        assert_eq!(tables.len(), 2, "{tables:?}");
        assert!(tables[1].is_empty(), "accept drops nothing: {tables:?}");
        // Back to no_accept, then a stop takes the table away.
        lab.write_config(a, &one_instance(150, "no_accept"));
        assert!(lab.reload(a).await.ok);
        lab.secs(1.0).await;
        lab.stop(a).await.expect("a clean stop");
        let tables = lab.lan.nft_tables(a);
        assert_eq!(tables.len(), 4, "{tables:?}");
        assert!(tables[2].contains(&vip));
        assert!(tables[3].is_empty(), "removed at stop: {tables:?}");
    });
}
