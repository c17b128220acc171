//! FRR's VRRP (Debian bookworm's `frr` 8.4, `/usr/lib/frr`) as a peer of baton in the
//! namespace lab.
//!
//! FRR's `vrrpd` needs `zebra` (it asks zebra for the interfaces and to set `protodown`), and
//! both run here in the node's namespace with a pathspace of their own (`-N <node's
//! namespace name>`): their config files, pid files and sockets live in
//! `/run/frr/<pathspace>/`, which [`Frr`] creates (owned by the `frr` user, the daemons drop
//! to it) and removes on drop, so nothing touches `/etc/frr` or the system's FRR. The TCP vty
//! is off (`-P 0`); the logs (stdout, debug level) go to the cluster's temp dir.
//!
//! FRR does not add or remove the VIP: it must already be on a macvlan device (mode
//! `bridge`, MAC 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6, `addrgenmode
//! random` so its IPv6 link-local differs from the parent's). As master FRR keeps the macvlan
//! up; as backup (and after a graceful stop) it sets it `protodown` (no carrier). So "FRR holds
//! the VIP" is read from the kernel as "the macvlan is not protodown". The host also gets
//! `arp_announce=2` and `arp_ignore=1`, so its parent interface never answers for the VIP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::lab::{IFNAME, Lab, Proc, poll};

use super::SETTLE;

/// Where Debian's `frr` package installs the daemons.
pub const ZEBRA: &str = "/usr/lib/frr/zebra";
pub const VRRPD: &str = "/usr/lib/frr/vrrpd";
/// Debian's FRR shell, to read `show vrrp ... json`.
pub const VTYSH: &str = "/usr/bin/vtysh";

/// Whether FRR can run here. Under CI (`CI=true`) a missing FRR fails the test instead:
/// `.ci/run` installs it, and an interop test must never be skipped there.
pub fn available() -> bool {
    let present = [ZEBRA, VRRPD, VTYSH].iter().all(|p| Path::new(p).exists());
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FRR ({ZEBRA}, {VRRPD}, {VTYSH}) is missing under CI: .ci/run installs frr"
        );
        eprintln!("skipped: FRR is missing (apt-get install --no-install-recommends frr)");
    }
    present
}

/// One FRR virtual router: what goes into `vrrpd.conf` and onto the macvlan.
#[derive(Clone, Debug)]
pub struct Router {
    pub vrid: u8,
    /// 2 or 3.
    pub version: u8,
    pub priority: u8,
    /// Milliseconds (FRR 8.4's unit; a multiple of 10, of 1000 for VRRPv2).
    pub advert_ms: u32,
    /// The VIP with its prefix (`"192.0.2.100/24"`, `"2001:db8::100/64"`).
    pub vip: &'static str,
}

impl Router {
    pub fn ipv6(&self) -> bool {
        self.vip.contains(':')
    }

    /// The macvlan's name: `vrrp4-VRID` or `vrrp6-VRID`.
    pub fn macvlan(&self) -> String {
        format!("vrrp{}-{}", if self.ipv6() { 6 } else { 4 }, self.vrid)
    }

    /// The virtual MAC (RFC 5798 §7.3): 00:00:5e:00:01:VRID, or 00:00:5e:00:02:VRID for IPv6.
    pub fn vmac(&self) -> String {
        format!(
            "00:00:5e:00:{:02x}:{:02x}",
            if self.ipv6() { 2 } else { 1 },
            self.vrid
        )
    }

    fn vip_addr(&self) -> &'static str {
        self.vip.split('/').next().expect("VIP has an address")
    }

    /// `vrrpd.conf`: debug logs on (protocol events, and packets: a packet vrrpd refuses
    /// is only logged as "datagram invalid" under `debug vrrp packets`), then the router.
    pub fn render(&self, ifname: &str) -> String {
        let family = if self.ipv6() { "ipv6" } else { "ip" };
        let v = self.vrid;
        format!(
            "debug vrrp protocol\ndebug vrrp packets\ndebug vrrp zebra\n!\n\
             interface {ifname}\n \
             vrrp {v} version {}\n \
             vrrp {v} priority {}\n \
             vrrp {v} advertisement-interval {}\n \
             vrrp {v} preempt\n \
             vrrp {v} {family} {}\n!\n",
            self.version,
            self.priority,
            self.advert_ms,
            self.vip_addr()
        )
    }
}

/// zebra and vrrpd of one node. Dropping it SIGKILLs both (by pid, through the lab's
/// unreaped children) and removes its pathspace directory.
#[must_use = "dropping it stops FRR"]
pub struct Frr {
    pub node: String,
    pub pathspace: String,
    pub router: Router,
    /// `/run/frr/<pathspace>`: configs, pid files, vty and zserv sockets.
    dir: PathBuf,
    /// The daemons' logs (stdout, appended across restarts).
    pub vrrpd_log: PathBuf,
    pub zebra_log: PathBuf,
    zebra: Option<Proc>,
    vrrpd: Option<Proc>,
}

impl Frr {
    /// Prepare `node` for FRR's VRRP (sysctls, the macvlan with the VIP, protodown off as
    /// created) and start zebra, then vrrpd, in its namespace. `logs` is a directory for
    /// the daemons' output. Returns once vrrpd answers on its vty socket.
    pub fn start(lab: &Lab, logs: &Path, node: &str, router: Router) -> Frr {
        let ns = lab.ns(node);
        for setting in [
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.all.arp_ignore=1",
            &format!("net.ipv4.conf.{IFNAME}.arp_announce=2"),
            &format!("net.ipv4.conf.{IFNAME}.arp_ignore=1"),
        ] {
            lab.exec_ok(node, &["sysctl", "-q", "-w", setting]);
        }
        let mvl = router.macvlan();
        let run = |args: &[&str]| {
            let mut all = vec!["-n", ns.as_str()];
            all.extend_from_slice(args);
            crate::lab::ip(&all);
        };
        run(&[
            "link", "add", &mvl, "link", IFNAME, "type", "macvlan", "mode", "bridge",
        ]);
        // Set after creation: `ip link add ... addrgenmode random type macvlan` is refused.
        run(&["link", "set", "dev", &mvl, "addrgenmode", "random"]);
        run(&["link", "set", "dev", &mvl, "address", &router.vmac()]);
        let mut add = vec!["addr", "add", router.vip, "dev", mvl.as_str()];
        if router.ipv6() {
            add.push("nodad");
        }
        run(&add);
        run(&["link", "set", "dev", &mvl, "up"]);

        // The pathspace is the node's namespace name: unique per lab, no '/' or '.'.
        let pathspace = ns.clone();
        let dir = Path::new("/run/frr").join(&pathspace);
        std::fs::create_dir_all(&dir).expect("create the FRR pathspace dir");
        std::fs::write(dir.join("zebra.conf"), "!\n").expect("write zebra.conf");
        std::fs::write(dir.join("vrrpd.conf"), router.render(IFNAME)).expect("write vrrpd.conf");
        let status = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown frr:frr {}", dir.display());

        let mut frr = Frr {
            node: node.to_string(),
            pathspace,
            router,
            vrrpd_log: logs.join(format!("{node}.vrrpd.log")),
            zebra_log: logs.join(format!("{node}.zebra.log")),
            dir,
            zebra: None,
            vrrpd: None,
        };
        let zebra = frr.spawn(lab, ZEBRA, "zebra", &frr.zebra_log.clone());
        frr.zebra = Some(zebra);
        let api = frr.dir.join("zserv.api");
        assert!(
            poll(SETTLE, || api.exists()),
            "zebra on {node} did not open {}\n{}",
            api.display(),
            frr.logs()
        );
        frr.start_vrrpd(lab);
        frr
    }

    fn spawn(&self, lab: &Lab, binary: &str, name: &str, log: &Path) -> Proc {
        let dir = self.dir.display();
        let script = format!(
            "exec {binary} -N {ps} -f {dir}/{name}.conf -i {dir}/{name}.pid -P 0 \
             --log stdout --log-level debug >>{log} 2>&1",
            ps = self.pathspace,
            log = log.display()
        );
        lab.spawn(&self.node, &["sh", "-c", &script])
    }

    /// Start vrrpd (again) and wait until its vty socket answers.
    pub fn start_vrrpd(&mut self, lab: &Lab) {
        let vty = self.dir.join("vrrpd.vty");
        let _ = std::fs::remove_file(&vty);
        let log = self.vrrpd_log.clone();
        self.vrrpd = Some(self.spawn(lab, VRRPD, "vrrpd", &log));
        let up = poll(SETTLE, || {
            vty.exists() && self.vtysh("show vrrp json").is_some()
        });
        assert!(up, "vrrpd on {} did not start\n{}", self.node, self.logs());
    }

    /// Graceful stop: SIGTERM to vrrpd (it sends priority 0 if master and sets the macvlan
    /// protodown), waiting (bounded) for it to exit.
    pub fn stop_vrrpd(&mut self) {
        let proc = self.vrrpd.take().expect("vrrpd runs");
        proc.terminate();
        assert!(
            proc.wait_timeout(Duration::from_secs(10)).is_some(),
            "vrrpd on {} did not stop on SIGTERM\n{}",
            self.node,
            self.logs()
        );
    }

    /// Crash: SIGKILL to vrrpd (dropping its `Proc` kills and reaps it). The macvlan stays
    /// as it was: up, with the VIP, if vrrpd was master.
    pub fn kill_vrrpd(&mut self) {
        drop(self.vrrpd.take().expect("vrrpd runs"));
    }

    /// `vtysh -N <pathspace> -c CMD` (as root, on the daemons' vty sockets); its stdout if
    /// it succeeded.
    pub fn vtysh(&self, cmd: &str) -> Option<String> {
        let out = Command::new(VTYSH)
            .args(["-N", &self.pathspace, "-c", cmd])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The router's state as vrrpd reports it (`show vrrp VRID json`): "Master", "Backup",
    /// "Initialize"; `None` if vrrpd does not answer.
    pub fn state(&self) -> Option<String> {
        let text = self.vtysh(&format!("show vrrp {} json", self.router.vrid))?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let family = if self.router.ipv6() { "v6" } else { "v4" };
        json[0][family]["status"].as_str().map(str::to_owned)
    }

    /// Whether FRR holds the VIP, as the kernel shows it: the macvlan (which always carries
    /// the VIP) is up and not protodown.
    pub fn holds(&self, lab: &Lab) -> bool {
        let out = Command::new("ip")
            .args(["-j", "-n", &lab.ns(&self.node), "link", "show", "dev"])
            .arg(self.router.macvlan())
            .output()
            .expect("run ip");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("ip -j link is JSON");
        let link = &json[0];
        let proto_down = link["proto_down"].as_bool().unwrap_or(false);
        let up = link["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "LOWER_UP"));
        up && !proto_down
    }

    /// vrrpd's log.
    pub fn vrrpd_log(&self) -> String {
        std::fs::read_to_string(&self.vrrpd_log).unwrap_or_default()
    }

    /// Both logs, for a failure message (vrrpd's packet hex dumps left out).
    pub fn logs(&self) -> String {
        let vrrpd: String = self
            .vrrpd_log()
            .lines()
            .filter(|l| !l.contains("[Q79JG-SJBP4]"))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "--- vrrpd on {} (hex dumps left out):\n{vrrpd}--- zebra on {}:\n{}",
            self.node,
            self.node,
            std::fs::read_to_string(&self.zebra_log).unwrap_or_default()
        )
    }

    /// The lines where vrrpd refused or questioned a packet it received, or hit an error:
    /// "datagram invalid" (parse, checksum, TTL, version, VRID, v2 interval), "this is a
    /// bug", failures to send or bind (but see below).
    pub fn complaints(&self) -> Vec<String> {
        self.vrrpd_log()
            .lines()
            .filter(|l| {
                ["invalid", "this is a bug", "Failed", "Can't"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            // At each start of an IPv6 router, vrrpd may try to bind before zebra has told
            // it the macvlan's link-local address; it starts the router on that address's
            // event a moment later (the tests then see it as backup or master).
            .filter(|l| !l.contains("Failed to find address to bind on"))
            .map(str::to_owned)
            .collect()
    }

    /// The lines of vrrpd's log with a state change (`"[VRID 51] Backup -> Master"`).
    pub fn transitions(&self) -> Vec<String> {
        self.vrrpd_log()
            .lines()
            .filter(|l| l.contains(" -> ") && l.contains("[CORE]"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        drop(self.vrrpd.take());
        drop(self.zebra.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
