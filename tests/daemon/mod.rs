//! Running real `baton run` processes in a namespace lab, and observing them from outside:
//! addresses on the interfaces, the client's neighbour cache, ping through the VIP, logs.
#![allow(dead_code)]
pub mod capture;
pub mod etcd;
pub mod frr;
pub mod keepalived;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::lab::{IFNAME, Lab, Proc, poll};

/// How long any convergence may take before a test fails (generous: it only guards
/// against hanging; timing is measured by the benchmarks).
pub const SETTLE: Duration = Duration::from_secs(15);

/// One `vrrp_instance` for a test, rendered in keepalived syntax.
#[derive(Clone, Debug)]
pub struct Instance {
    pub vrid: u8,
    pub priority: u8,
    pub version: u8,
    /// advert_int as written (seconds, may be fractional for v3).
    pub advert_int: &'static str,
    pub vips: Vec<&'static str>,
    /// More lines inside the instance block.
    pub extra: Vec<String>,
}

impl Instance {
    /// VRRPv3 with 0.1 s adverts: failover in about 0.35 s.
    pub fn fast(priority: u8, vip: &'static str) -> Instance {
        Instance {
            vrid: 51,
            priority,
            version: 3,
            advert_int: "0.1",
            vips: vec![vip],
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, line: impl Into<String>) -> Instance {
        self.extra.push(line.into());
        self
    }

    pub fn render(&self) -> String {
        let mut text = format!(
            "vrrp_instance VI_1 {{\n    interface {IFNAME}\n    virtual_router_id {}\n    \
             version {}\n    priority {}\n    advert_int {}\n",
            self.vrid, self.version, self.priority, self.advert_int
        );
        for line in &self.extra {
            text.push_str(&format!("    {line}\n"));
        }
        text.push_str("    virtual_ipaddress {\n");
        for vip in &self.vips {
            text.push_str(&format!("        {vip}\n"));
        }
        text.push_str("    }\n}\n");
        text
    }
}

/// A running daemon.
pub struct Daemon {
    pub proc: Proc,
    pub log: PathBuf,
    pub conf: PathBuf,
}

/// A lab with server nodes running baton and a client node.
pub struct Cluster {
    pub lab: Lab,
    pub dir: tempfile::TempDir,
    daemons: Vec<(String, Daemon)>,
}

impl Cluster {
    /// Nodes `(name, addresses)`; add a client among them if the test needs one.
    pub fn new(tag: &str, nodes: &[(&str, &[&str])]) -> Cluster {
        let lab = Lab::new(tag);
        for (name, addrs) in nodes {
            lab.node(name, addrs);
        }
        Cluster {
            lab,
            dir: tempfile::tempdir().expect("temp dir"),
            daemons: Vec::new(),
        }
    }

    /// Write `config` for `node` and start `baton run` there; its stderr goes to a log.
    pub fn start(&mut self, node: &str, config: &str) {
        self.start_with_env(node, config, "");
    }

    /// Like [`start`](Self::start), with `env` (e.g. `"BATON_LOG=debug"`) set for the
    /// daemon. Each daemon has its own control socket and state directory in the
    /// cluster's temp dir.
    pub fn start_with_env(&mut self, node: &str, config: &str, env: &str) {
        let conf = self.dir.path().join(format!("{node}.conf"));
        std::fs::write(&conf, config).expect("write config");
        self.start_file(node, &conf, env);
    }

    /// Like [`start_with_env`](Self::start_with_env), reading the configuration file
    /// `conf` where it is (a reload reads it again there).
    pub fn start_file(&mut self, node: &str, conf: &std::path::Path, env: &str) {
        let conf = conf.to_path_buf();
        let log = self.dir.path().join(format!("{node}.log"));
        let baton = env!("CARGO_BIN_EXE_baton");
        let script = format!(
            "exec env {env} {baton} run -f {} -i {node} --socket {} --state-dir {} 2>>{}",
            conf.display(),
            self.socket(node).display(),
            self.dir.path().join(format!("{node}-state")).display(),
            log.display()
        );
        let proc = self.lab.spawn(node, &["sh", "-c", &script]);
        self.daemons.retain(|(n, _)| n != node);
        self.daemons
            .push((node.to_string(), Daemon { proc, log, conf }));
    }

    /// The control socket of `node`'s daemon.
    pub fn socket(&self, node: &str) -> PathBuf {
        self.dir.path().join(format!("{node}.sock"))
    }

    /// Run `baton ARGS --socket <node's socket>` (the CLI talks over the socket; it need
    /// not run in the namespace).
    pub fn baton(&self, node: &str, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .arg("--socket")
            .arg(self.socket(node))
            .output()
            .expect("run the baton CLI")
    }

    /// `baton status --json` of `node`, parsed, with its exit code.
    pub fn status(&self, node: &str) -> (serde_json::Value, i32) {
        let out = self.baton(node, &["status", "--json"]);
        let code = out.status.code().unwrap_or(-1);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status of {node} is not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (json, code)
    }

    /// Wait until `node`'s control socket answers.
    pub fn wait_for_socket(&self, node: &str) {
        let ok = poll(SETTLE, || {
            self.baton(node, &["status"]).status.code() != Some(3)
        });
        assert!(ok, "{node}'s daemon never answered\n{}", self.all_logs());
    }

    pub fn daemon(&self, node: &str) -> &Daemon {
        &self
            .daemons
            .iter()
            .find(|(n, _)| n == node)
            .unwrap_or_else(|| panic!("no daemon on {node}"))
            .1
    }

    /// Rewrite the config of `node` (for a reload).
    pub fn rewrite(&self, node: &str, config: &str) {
        std::fs::write(&self.daemon(node).conf, config).expect("rewrite config");
    }

    /// Send a signal (`"KILL"`, `"STOP"`, `"CONT"`, `"TERM"`, `"HUP"`) to the daemon of
    /// `node`, by its pid.
    pub fn signal(&self, node: &str, signal: &str) {
        let pid = self.daemon(node).proc.pid().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} ({node})");
    }

    pub fn log(&self, node: &str) -> String {
        std::fs::read_to_string(&self.daemon(node).log).unwrap_or_default()
    }

    /// The transition lines of `node`'s log.
    pub fn transitions(&self, node: &str) -> Vec<String> {
        self.log(node)
            .lines()
            .filter(|l| l.contains("VI_1: ") && l.contains(" -> "))
            .map(str::to_owned)
            .collect()
    }

    /// The nodes among `nodes` that have `vip` (as `"addr/prefix"`) on their interface.
    pub fn holders(&self, nodes: &[&str], vip: &str) -> Vec<String> {
        nodes
            .iter()
            .filter(|n| self.lab.addresses(n, IFNAME).iter().any(|a| a == vip))
            .map(|n| n.to_string())
            .collect()
    }

    /// Wait until exactly `expected` hold `vip`; on failure, show every log.
    pub fn expect_holders(&self, nodes: &[&str], vip: &str, expected: &[&str]) {
        let ok = poll(SETTLE, || self.holders(nodes, vip) == expected);
        assert!(
            ok,
            "{vip} held by {:?}, expected {expected:?}\n{}",
            self.holders(nodes, vip),
            self.all_logs()
        );
    }

    /// Check that `expected` keep holding `vip` for `span` (no change at all).
    pub fn expect_stable(&self, nodes: &[&str], vip: &str, expected: &[&str], span: Duration) {
        let changed = poll(span, || self.holders(nodes, vip) != expected);
        assert!(
            !changed,
            "{vip} moved to {:?} while {expected:?} should keep it\n{}",
            self.holders(nodes, vip),
            self.all_logs()
        );
    }

    pub fn all_logs(&self) -> String {
        self.daemons
            .iter()
            .map(|(n, d)| {
                format!(
                    "--- log of {n}:\n{}",
                    std::fs::read_to_string(&d.log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// The client pings `vip` until a reply comes (bounded), then returns the MAC its
    /// neighbour cache holds for it.
    pub fn client_reaches(&self, client: &str, vip_addr: &str) -> String {
        let reached = poll(SETTLE, || {
            self.lab
                .exec(client, &["ping", "-c", "1", "-W", "1", vip_addr])
                .status
                .success()
        });
        assert!(
            reached,
            "{client} cannot reach {vip_addr}\n{}",
            self.all_logs()
        );
        self.lab
            .neighbours(client)
            .into_iter()
            .find(|n| n.dst == vip_addr)
            .and_then(|n| n.lladdr)
            .unwrap_or_else(|| panic!("{client} has no neighbour entry for {vip_addr}"))
    }

    /// Wait until the client's neighbour entry for `vip_addr` is `mac` (updated by
    /// gratuitous ARP / NA, without the client asking).
    pub fn expect_client_mac(&self, client: &str, vip_addr: &str, mac: &str) {
        let ok = poll(SETTLE, || {
            self.lab
                .neighbours(client)
                .iter()
                .any(|n| n.dst == vip_addr && n.lladdr.as_deref() == Some(mac))
        });
        assert!(
            ok,
            "{client}'s cache for {vip_addr} is {:?}, expected {mac}\n{}",
            self.lab
                .neighbours(client)
                .into_iter()
                .find(|n| n.dst == vip_addr),
            self.all_logs()
        );
    }

    /// Stop every daemon gracefully and wait for it; returns what each left on its
    /// interface for `vip`.
    pub fn stop_all(&self) {
        for (node, d) in &self.daemons {
            d.proc.terminate();
            assert!(
                d.proc.wait_timeout(Duration::from_secs(10)).is_some(),
                "{node} did not stop on SIGTERM"
            );
        }
    }
}
