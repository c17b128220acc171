//! keepalived as a peer of baton in the namespace lab: the Debian package (2.2.7) and the
//! newest release (2.4.3), built from `../shared/peers/` by `.ci/run` into
//! [`KEEPALIVED_243`].
//!
//! keepalived runs in the foreground (`-n`) but still forks a VRRP child process, which is
//! the one that speaks VRRP and owns the VIPs. The parent is spawned through the lab (so the
//! lab kills it on drop, like a baton daemon, and `Cluster::signal` reaches it: SIGTERM stops
//! both gracefully, the child sending priority 0). The child's pid comes from its `-r` pid
//! file; [`Keepalived`] kills it on drop, so no keepalived outlives a test, even a failing
//! one. With `-R` the parent does not respawn a dead child but exits, so killing the child is
//! a crash, not a restart.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Cluster, Daemon, SETTLE};
use crate::lab::poll;

/// Where the Debian package installs it.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// Where `../shared/peers/build-keepalived-2.4.3.sh` installs the newest release.
pub const KEEPALIVED_243: &str = "/opt/keepalived-2.4.3/sbin/keepalived";

/// Which keepalived a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Debian's 2.2.7.
    Debian,
    /// 2.4.3 built from the release tarball.
    Release243,
}

impl Peer {
    pub fn binary(self) -> &'static str {
        match self {
            Peer::Debian => KEEPALIVED,
            Peer::Release243 => KEEPALIVED_243,
        }
    }

    /// Whether this peer can run here. Under CI (`CI=true`) a missing peer fails the test
    /// instead: CI installs both, and an interop test must never be skipped there.
    pub fn available(self) -> bool {
        let present = std::path::Path::new(self.binary()).exists();
        if !present {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} is missing under CI: .ci/run installs keepalived and builds 2.4.3",
                self.binary()
            );
            eprintln!(
                "skipped: {} is missing (apt install keepalived; \
                 sudo ../shared/peers/build-keepalived-2.4.3.sh)",
                self.binary()
            );
        }
        present
    }

    /// 2.4.3 built with `--disable-lvs` runs VRRP only; with `--vrrp` it ignored `-f`.
    fn vrrp_flag(self) -> &'static str {
        match self {
            Peer::Debian => "--vrrp ",
            Peer::Release243 => "",
        }
    }
}

/// The processes of one keepalived started by [`Cluster::start_keepalived`]. Hold it for
/// as long as the test runs (declared after the cluster, it is dropped first): dropping it
/// SIGKILLs the VRRP child and the parent, if they are still the ones we started.
#[must_use = "dropping it kills keepalived"]
pub struct Keepalived {
    pub node: String,
    /// The parent (the process the lab spawned).
    pub parent: u32,
    /// The VRRP child, which sends the adverts and holds the VIPs.
    pub vrrp: u32,
    /// This keepalived's config file: its path is on the command line of both processes,
    /// which tells our processes from any other with a reused pid.
    conf: PathBuf,
}

impl Keepalived {
    /// Crash it: SIGKILL the VRRP child, then the parent; wait (bounded) until both are
    /// gone. Its VIP stays on the interface, as after a crash of the daemon.
    pub fn kill(&self) {
        for pid in [self.vrrp, self.parent] {
            if self.is_ours(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let gone = poll(Duration::from_secs(5), || {
            !self.is_ours(self.vrrp) && !self.is_ours(self.parent)
        });
        assert!(gone, "keepalived on {} survived SIGKILL", self.node);
    }

    /// Whether `pid` is a live process of this keepalived (a zombie has an empty cmdline).
    fn is_ours(&self, pid: u32) -> bool {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let conf = self.conf.to_string_lossy();
        cmdline.split(|b| *b == 0).any(|arg| arg == conf.as_bytes())
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        for pid in [self.vrrp, self.parent] {
            if self.is_ours(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let _ = poll(Duration::from_secs(5), || {
            !self.is_ours(self.vrrp) && !self.is_ours(self.parent)
        });
    }
}

impl Cluster {
    /// Like [`Cluster::start`], with `BATON_LOG=debug`: baton then logs every packet it
    /// drops ("dropped a packet", "dropped an advert"), and warns of a peer whose adverts
    /// differ from its own config ("advertises another configuration"), which is what an
    /// interop test wants to see.
    pub fn start_baton(&mut self, node: &str, config: &str) {
        self.start_with_env(node, config, "BATON_LOG=debug");
    }

    /// Write `config` (keepalived syntax, e.g. an [`Instance::render`](super::Instance))
    /// for `node` and start keepalived there: foreground, VRRP only, no respawn, pid files
    /// and its log (stderr) in the cluster's temp dir. Returns once the VRRP child runs.
    pub fn start_keepalived(&mut self, node: &str, config: &str) -> Keepalived {
        self.start_keepalived_peer(node, config, Peer::Debian)
    }

    /// [`start_keepalived`](Self::start_keepalived) with the given keepalived release.
    pub fn start_keepalived_peer(&mut self, node: &str, config: &str, peer: Peer) -> Keepalived {
        let binary = peer.binary();
        assert!(
            std::path::Path::new(binary).exists(),
            "{binary} is missing: the interop tests need keepalived (apt install keepalived; \
             ../shared/peers/build-keepalived-2.4.3.sh for 2.4.3)"
        );
        let dir = self.dir.path();
        let conf = dir.join(format!("{node}.keepalived.conf"));
        std::fs::write(&conf, config).expect("write keepalived config");
        let log = dir.join(format!("{node}.keepalived.log"));
        let pid_file = dir.join(format!("{node}.keepalived.pid"));
        let vrrp_pid_file = dir.join(format!("{node}.keepalived-vrrp.pid"));
        let script = format!(
            "exec {binary} --dont-fork --log-console --no-syslog --log-detail {}\
             --dont-respawn -f {} -p {} -r {} -i {node} 2>>{} >&2",
            peer.vrrp_flag(),
            conf.display(),
            pid_file.display(),
            vrrp_pid_file.display(),
            log.display()
        );
        let proc = self.lab.spawn(node, &["sh", "-c", &script]);
        let parent = proc.pid();
        self.daemons.retain(|(n, _)| n != node);
        self.daemons.push((
            node.to_string(),
            Daemon {
                proc,
                log: log.clone(),
                conf: conf.clone(),
            },
        ));
        let read_pid = |path: &PathBuf| -> Option<u32> {
            std::fs::read_to_string(path).ok()?.trim().parse().ok()
        };
        let mut vrrp = None;
        let started = poll(SETTLE, || {
            vrrp = read_pid(&vrrp_pid_file);
            vrrp.is_some() && read_pid(&pid_file).is_some()
        });
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            started,
            "keepalived on {node} did not start its VRRP child within {SETTLE:?} \
             (parent {parent}: {:?})\n{}",
            std::fs::read_to_string(format!("/proc/{parent}/stat")),
            log_text()
        );
        let vrrp = vrrp.expect("polled");
        assert_eq!(
            read_pid(&pid_file),
            Some(parent),
            "keepalived's pid file names the process the lab spawned\n{}",
            log_text()
        );
        let ka = Keepalived {
            node: node.to_string(),
            parent,
            vrrp,
            conf,
        };
        assert!(
            ka.is_ours(vrrp),
            "pid {vrrp} from {} is not our keepalived\n{}",
            vrrp_pid_file.display(),
            log_text()
        );
        ka
    }

    /// The lines of `node`'s keepalived log saying its instance entered `state`
    /// (`"MASTER"`, `"BACKUP"`, `"FAULT"`).
    pub fn keepalived_entered(&self, node: &str, state: &str) -> usize {
        let needle = format!("(VI_1) Entering {state} STATE");
        self.log(node)
            .lines()
            .filter(|l| l.contains(&needle))
            .count()
    }
}

/// What keepalived (2.2.7 and 2.4.3, vrrp.c) logs when it rejects or questions an advert it
/// received, or falls back to a compatibility mode for it.
pub const KEEPALIVED_COMPLAINTS: [&str; 12] = [
    "wrong version",
    "auth",
    "interval mismatch",
    "nvalid",
    "checksum",
    "unexpected ip number count",
    "VIPs but received",
    "not present in MASTER advert",
    "icast packet",
    "bogus",
    "not a unicast peer",
    "TTL",
];

/// Neither side complained about the other's packets: keepalived on `ka` logged no rejected
/// or questioned advert, baton on `bt` (at debug level) dropped none and raised no peer
/// configuration alarm (another address list, interval or authentication).
pub fn assert_wire_compatible(c: &Cluster) {
    let ka = c.log("ka");
    let complaints: Vec<&str> = ka
        .lines()
        .filter(|l| KEEPALIVED_COMPLAINTS.iter().any(|w| l.contains(w)))
        .collect();
    assert!(
        complaints.is_empty(),
        "keepalived complains about baton's adverts: {complaints:#?}\n{}",
        c.all_logs()
    );
    let bt = c.log("bt");
    let drops: Vec<&str> = bt
        .lines()
        .filter(|l| l.contains("dropped") || l.contains("advertises another configuration"))
        .collect();
    assert!(
        drops.is_empty(),
        "baton dropped keepalived's packets: {drops:#?}\n{}",
        c.all_logs()
    );
}

/// The interop lab: baton on bt (192.0.2.1, 2001:db8::1), keepalived on ka (192.0.2.2,
/// 2001:db8::2) and a client c (192.0.2.3, 2001:db8::3).
pub fn interop_lab(tag: &str) -> Cluster {
    Cluster::new(
        tag,
        &[
            ("bt", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("ka", &["192.0.2.2/24", "2001:db8::2/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    )
}
