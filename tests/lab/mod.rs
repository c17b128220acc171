//! A network-namespace lab for tests on a real kernel.
//!
//! ```text
//!   node "a" (netns <prefix>a)         bridge netns <prefix>br          node "b"
//!   veth0 192.0.2.1/24  ───────────── a ─┐                        ┌─ b ───── veth0 192.0.2.2/24
//!                                        └──────── br0 ───────────┘
//! ```
//!
//! Every [`Lab`] has a unique name prefix (`bt<pid>x<counter><tag>-`), so tests in
//! parallel threads and processes never share a namespace. Each node gets its own
//! namespace with loopback up and one veth, always called `veth0`, whose peer (named
//! after the node) is a port of `br0` in the lab's bridge namespace. IPv6 duplicate
//! address detection is off in the nodes, so addresses are usable at once. The
//! bridge has multicast snooping off, so VRRP multicast is flooded to every port.
//!
//! Dropping the `Lab` kills the processes it spawned that are still running (by
//! their pid, through their unreaped `Child`) and deletes its namespaces, which
//! deletes the veths and the bridge; this also runs when a test panics, as long
//! as the `Lab` lives on the panicking thread's stack.
//!
//! Only documentation addresses are used inside: 192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32 (and kernel link-local fe80::/64). Every wait is
//! bounded in tries and time.
#![allow(dead_code)] // each test file uses part of the harness

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The interface name of every node's link to the bridge.
pub const IFNAME: &str = "veth0";
/// The interface name of a node's second link ([`Lab::second_link`]).
pub const IFNAME2: &str = "veth1";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Decide whether namespace tests can run: true when root. When not root, skip
/// with a printed reason, unless `CI` is set: then fail, so CI never silently
/// skips them.
pub fn require_root() -> bool {
    if effective_uid() == Some(0) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("network namespace tests need root, and CI is set: refusing to skip them");
    }
    eprintln!("SKIPPED: network namespace tests need root (CI is unset, so skipping)");
    false
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A process started in a node. Killed (by its pid) when dropped if still
/// running; the lab also kills it when the lab is dropped.
pub struct Proc {
    child: Arc<Mutex<Child>>,
    pid: u32,
}

impl Proc {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Send SIGTERM (graceful stop). Does nothing if it has already exited.
    pub fn terminate(&self) {
        let mut child = lock(&self.child);
        // Only signal a process we have not reaped: its pid cannot be reused yet.
        if matches!(child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status();
        }
    }

    /// Wait up to `timeout` for it to exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = lock(&self.child).try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        kill_child(&self.child);
    }
}

fn kill_child(child: &Mutex<Child>) {
    let mut child = lock(child);
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill(); // SIGKILL to this pid
        let _ = child.wait();
    }
}

/// One address of `ip -j addr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// `"inet"` or `"inet6"`.
    pub family: String,
    /// The address.
    pub local: String,
    /// Prefix length.
    pub prefix_len: u8,
    /// IPv4 label, if any.
    pub label: Option<String>,
    /// Still doing duplicate address detection.
    pub tentative: bool,
    /// `"global"`, `"link"`, ...
    pub scope: String,
    /// Preferred lifetime in seconds (`u32::MAX`: forever).
    pub preferred_lft: u64,
    /// Deprecated (preferred lifetime over): never chosen as a source address.
    pub deprecated: bool,
}

/// One entry of `ip -j neigh`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// The IP address.
    pub dst: String,
    /// Interface.
    pub dev: String,
    /// Link-layer address (lowercase `aa:bb:...`), if resolved.
    pub lladdr: Option<String>,
    /// NUD states, e.g. `["REACHABLE"]`, `["STALE"]`.
    pub state: Vec<String>,
}

/// A set of namespaces joined by one bridge; see the module docs.
pub struct Lab {
    prefix: String,
    bridge_ns: String,
    namespaces: Mutex<Vec<String>>,
    procs: Mutex<Vec<Arc<Mutex<Child>>>>,
}

impl Lab {
    /// A new lab: its bridge namespace with `br0` up. `tag` (a few letters) only
    /// makes namespace names easier to recognise.
    pub fn new(tag: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let prefix = format!("bt{}x{n}{tag}-", std::process::id());
        let lab = Lab {
            bridge_ns: format!("{prefix}br"),
            prefix,
            namespaces: Mutex::new(Vec::new()),
            procs: Mutex::new(Vec::new()),
        };
        // From here on, a panic drops `lab`, which deletes what was made.
        lab.add_namespace(&lab.bridge_ns);
        let br = lab.bridge_ns.clone();
        ip(&["-n", &br, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
        ]);
        sysctl(&br, "net.ipv6.conf.all.disable_ipv6", "1");
        ip(&["-n", &br, "link", "set", "br0", "up"]);
        lab
    }

    /// The namespace name of `node`.
    pub fn ns(&self, node: &str) -> String {
        format!("{}{node}", self.prefix)
    }

    /// The path of `node`'s namespace, for [`baton::sys::enter_netns`].
    pub fn netns_path(&self, node: &str) -> PathBuf {
        Path::new("/run/netns").join(self.ns(node))
    }

    fn add_namespace(&self, ns: &str) {
        // Record first: if `ip netns add` half-fails, Drop still tries to delete it.
        lock(&self.namespaces).push(ns.to_owned());
        ip(&["netns", "add", ns]);
    }

    /// Add a node: a namespace with `veth0` on the bridge, up, with `addrs`
    /// (`"192.0.2.1/24"`, `"2001:db8::1/64"`). Waits (bounded) until its IPv6
    /// link-local address is usable.
    pub fn node(&self, name: &str, addrs: &[&str]) {
        assert!(
            !name.is_empty() && name.len() <= 12 && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "node name {name:?}: 1-12 letters or digits (it names the bridge port)"
        );
        let ns = self.ns(name);
        let br = self.bridge_ns.clone();
        self.add_namespace(&ns);
        // Before the veth exists, so it inherits DAD off.
        sysctl(&ns, "net.ipv6.conf.all.accept_dad", "0");
        sysctl(&ns, "net.ipv6.conf.default.accept_dad", "0");
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &br, "link", "add", "name", name, "type", "veth", "peer", "name", IFNAME,
            "netns", &ns,
        ]);
        ip(&["-n", &br, "link", "set", "dev", name, "master", "br0", "up"]);
        for addr in addrs {
            let mut args = vec!["-n", &ns, "addr", "add", addr, "dev", IFNAME];
            if addr.contains(':') {
                args.push("nodad");
            }
            ip(&args);
        }
        ip(&["-n", &ns, "link", "set", "dev", IFNAME, "up"]);
        let ready = poll(Duration::from_secs(5), || {
            self.address_details(name, IFNAME)
                .iter()
                .any(|a| a.scope == "link" && a.family == "inet6" && !a.tentative)
        });
        assert!(
            ready,
            "node {name}: no usable IPv6 link-local address within 5 s"
        );
    }

    /// Give `node` a second link, `veth1` (see [`IFNAME2`]), on a second bridge `br1` in
    /// the lab's bridge namespace (made by the first call), up, with `addrs`: a second
    /// network, for addresses that live on another interface than the instance's.
    pub fn second_link(&self, node: &str, addrs: &[&str]) {
        let ns = self.ns(node);
        let br = self.bridge_ns.clone();
        let has_br1 = Command::new("ip")
            .args(["-n", &br, "link", "show", "dev", "br1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_br1 {
            ip(&[
                "-n",
                &br,
                "link",
                "add",
                "br1",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
            ]);
            ip(&["-n", &br, "link", "set", "br1", "up"]);
        }
        let port = format!("{node}x1");
        ip(&[
            "-n", &br, "link", "add", "name", &port, "type", "veth", "peer", "name", IFNAME2,
            "netns", &ns,
        ]);
        ip(&[
            "-n", &br, "link", "set", "dev", &port, "master", "br1", "up",
        ]);
        for addr in addrs {
            let mut args = vec!["-n", &ns, "addr", "add", addr, "dev", IFNAME2];
            if addr.contains(':') {
                args.push("nodad");
            }
            ip(&args);
        }
        ip(&["-n", &ns, "link", "set", "dev", IFNAME2, "up"]);
    }

    /// Run `cmd` in `node` (`ip netns exec`), wait for it, return its output.
    pub fn exec(&self, node: &str, cmd: &[&str]) -> Output {
        let ns = self.ns(node);
        Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(cmd)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {cmd:?} in {node}: {e}"))
    }

    /// Like [`exec`](Self::exec), panicking with its stderr if it fails.
    pub fn exec_ok(&self, node: &str, cmd: &[&str]) -> String {
        let out = self.exec(node, cmd);
        assert!(
            out.status.success(),
            "{cmd:?} in {node} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start `cmd` in `node` in the background (stdout/stderr inherited, so they
    /// show in a failing test's output). The lab kills it on drop if still running.
    pub fn spawn(&self, node: &str, cmd: &[&str]) -> Proc {
        let ns = self.ns(node);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(cmd)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?} in {node}: {e}"));
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        lock(&self.procs).push(Arc::clone(&child));
        Proc { child, pid }
    }

    /// Set `veth0` of `node` down.
    pub fn link_down(&self, node: &str) {
        ip(&["-n", &self.ns(node), "link", "set", "dev", IFNAME, "down"]);
    }

    /// Hold the TCP traffic from source port `port` toward `node` to `rate` (tc's units:
    /// "4mbit"), as a slow link would, on the bridge port; everything else (VRRP adverts,
    /// pings) passes at full speed. `None` removes the limit.
    pub fn throttle_toward(&self, node: &str, port: u16, rate: Option<&str>) {
        let tc = |args: &[&str]| {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.bridge_ns, "tc"])
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("running tc {args:?}: {e}"));
            assert!(
                out.status.success(),
                "tc {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let Some(rate) = rate else {
            tc(&["qdisc", "del", "dev", node, "root"]);
            return;
        };
        let port = port.to_string();
        tc(&[
            "qdisc", "add", "dev", node, "root", "handle", "1:", "htb", "default", "10",
        ]);
        for (class, rate) in [("1:10", "10gbit"), ("1:20", rate)] {
            tc(&[
                "class", "add", "dev", node, "parent", "1:", "classid", class, "htb", "rate", rate,
                "ceil", rate,
            ]);
        }
        tc(&[
            "qdisc", "add", "dev", node, "parent", "1:20", "handle", "20:", "pfifo", "limit", "100",
        ]);
        tc(&[
            "filter", "add", "dev", node, "parent", "1:", "protocol", "ip", "u32", "match", "ip",
            "sport", &port, "0xffff", "flowid", "1:20",
        ]);
    }

    /// Cut (`true`) or restore the traffic between `node` and every other isolated node,
    /// keeping its link and carrier up: the bridge port becomes `isolated`. Nodes that
    /// are not isolated (a client) still reach it.
    pub fn isolate(&self, node: &str, isolated: bool) {
        let value = if isolated { "on" } else { "off" };
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            "dev",
            node,
            "type",
            "bridge_slave",
            "isolated",
            value,
        ]);
    }

    /// Set `veth0` of `node` up.
    pub fn link_up(&self, node: &str) {
        ip(&["-n", &self.ns(node), "link", "set", "dev", IFNAME, "up"]);
    }

    /// The MAC address of `veth0` in `node`, as bytes.
    pub fn mac(&self, node: &str) -> [u8; 6] {
        let text = self.mac_str(node);
        let mut mac = [0u8; 6];
        let parts: Vec<&str> = text.split(':').collect();
        assert_eq!(parts.len(), 6, "MAC {text:?}");
        for (m, p) in mac.iter_mut().zip(parts) {
            *m = u8::from_str_radix(p, 16).unwrap_or_else(|e| panic!("MAC {text:?}: {e}"));
        }
        mac
    }

    /// The MAC address of `veth0` in `node`, as `ip` prints it.
    pub fn mac_str(&self, node: &str) -> String {
        let out = ip_out(&["-j", "-n", &self.ns(node), "link", "show", "dev", IFNAME]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("ip -j link is JSON");
        json[0]["address"]
            .as_str()
            .expect("link has an address")
            .to_owned()
    }

    /// The interface index of `ifname` in `node`.
    pub fn ifindex(&self, node: &str, ifname: &str) -> u32 {
        let out = ip_out(&["-j", "-n", &self.ns(node), "link", "show", "dev", ifname]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("ip -j link is JSON");
        let index = json[0]["ifindex"].as_u64().expect("link has an ifindex");
        u32::try_from(index).expect("ifindex fits u32")
    }

    /// The addresses on `ifname` in `node` as `"addr/prefix"`.
    pub fn addresses(&self, node: &str, ifname: &str) -> Vec<String> {
        self.address_details(node, ifname)
            .into_iter()
            .map(|a| format!("{}/{}", a.local, a.prefix_len))
            .collect()
    }

    /// The addresses on `ifname` in `node`, with label, scope and flags.
    pub fn address_details(&self, node: &str, ifname: &str) -> Vec<AddrInfo> {
        let out = ip_out(&["-j", "-n", &self.ns(node), "addr", "show", "dev", ifname]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("ip -j addr is JSON");
        let mut list = Vec::new();
        for link in json.as_array().into_iter().flatten() {
            for a in link["addr_info"].as_array().into_iter().flatten() {
                list.push(AddrInfo {
                    family: a["family"].as_str().unwrap_or_default().to_owned(),
                    local: a["local"].as_str().unwrap_or_default().to_owned(),
                    prefix_len: a["prefixlen"]
                        .as_u64()
                        .and_then(|p| u8::try_from(p).ok())
                        .unwrap_or_default(),
                    label: a["label"].as_str().map(str::to_owned),
                    tentative: a["tentative"].as_bool().unwrap_or(false),
                    scope: a["scope"].as_str().unwrap_or_default().to_owned(),
                    preferred_lft: a["preferred_life_time"]
                        .as_u64()
                        .unwrap_or(u64::from(u32::MAX)),
                    deprecated: a["deprecated"].as_bool().unwrap_or(false),
                });
            }
        }
        list
    }

    /// The neighbour (ARP/NDP) cache of `node`.
    pub fn neighbours(&self, node: &str) -> Vec<Neighbour> {
        let out = ip_out(&["-j", "-n", &self.ns(node), "neigh", "show"]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("ip -j neigh is JSON");
        json.as_array()
            .into_iter()
            .flatten()
            .map(|n| Neighbour {
                dst: n["dst"].as_str().unwrap_or_default().to_owned(),
                dev: n["dev"].as_str().unwrap_or_default().to_owned(),
                lladdr: n["lladdr"].as_str().map(str::to_owned),
                state: n["state"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect(),
            })
            .collect()
    }

    /// Run `f` in `node`'s namespace: on a new thread that enters the namespace and
    /// drives `f()` on a tokio current-thread runtime, failing after `timeout`.
    /// Panics in `f` propagate to the caller.
    pub fn run_in<F, Fut, T>(&self, node: &str, timeout: Duration, f: F) -> T
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = T>,
        T: Send,
    {
        let path = self.netns_path(node);
        std::thread::scope(|s| {
            s.spawn(|| block_on_in(&path, timeout, f))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// On the *current* thread (which must be a dedicated one: it stays in the
/// namespace), enter the namespace at `path` and drive `f()` on a new tokio
/// current-thread runtime, panicking after `timeout`.
pub fn block_on_in<F, Fut, T>(path: &Path, timeout: Duration, f: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    baton::sys::enter_netns(path).unwrap_or_else(|e| panic!("entering {}: {e}", path.display()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(timeout, f())
            .await
            .unwrap_or_else(|_| panic!("timed out after {timeout:?} in {}", path.display()))
    })
}

/// Poll `cond` every 50 ms until it is true or `timeout` passes.
pub fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in lock(&self.procs).drain(..) {
            kill_child(&child);
        }
        // Nodes first, the bridge namespace last.
        for ns in lock(&self.namespaces).drain(..).rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Run `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    ip_out(args);
}

fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sysctl(ns: &str, key: &str, value: &str) {
    let setting = format!("{key}={value}");
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-q", "-w", &setting])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running sysctl in {ns}: {e}"));
    assert!(
        out.status.success(),
        "sysctl {setting} in {ns} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
