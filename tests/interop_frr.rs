//! baton and FRR's VRRP (Debian bookworm's `frr` 8.4: `zebra` + `vrrpd`, each node's FRR in
//! its own namespace and pathspace, `tests/daemon/frr.rs`) in one VRRP group, with a client:
//! VRRPv3 over IPv4 and over IPv6 at 100 ms, and VRRPv2 at 1 s, each side master first.
//!
//! Each case runs the whole round on one group, while the client captures every advert:
//! 1. election: the master (priority 150) starts first, then the backup (100); one VIP
//!    holder, the client reaches the VIP there, the backup stays backup;
//! 2. graceful stop of the master (SIGTERM to baton, or to FRR's vrrpd): it sends priority 0,
//!    the other side takes over, the client follows (its neighbour entry moves to the new
//!    holder's MAC; a ping every 50 ms that ran through the change gets replies there);
//! 3. the master returns and preempts; the client follows;
//! 4. kill -9 of the master (baton, or vrrpd; FRR's zebra stays up): the other side takes
//!    over (the dead one leaves its VIP up, as after any crash), the client follows (as in 2);
//! 5. the master returns and preempts again;
//! 6. tshark reads the capture: every advert from either side has checksum status Good,
//!    both sides sent adverts, the stopped side sent its priority 0; neither daemon refused or
//!    questioned a packet of the other (baton's debug log, vrrpd's packet debug log).
//!
//! Where baton holds the VIP it is an address on its `veth0`; FRR's VIP always sits on its
//! macvlan, which FRR keeps `protodown` while not master, so "FRR holds it" is "the macvlan
//! is up". The client sees baton's own MAC and FRR's virtual MAC (00:00:5e:00:0x:33).
//! Needs root, FRR, tcpdump and tshark (CI installs them; elsewhere a missing FRR skips).

mod daemon;
mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daemon::capture::{self, Capture};
use daemon::frr::{self, Frr, Router};
use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, Proc, poll, require_root};

const VRID: u8 = 51;

/// The group setting, the same on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    /// VRRPv3 at 100 ms over IPv4.
    V3Ipv4,
    /// VRRPv3 at 100 ms over IPv6.
    V3Ipv6,
    /// VRRPv2 at 1 s over IPv4 (FRR has no VRRPv2 authentication, so none).
    V2Ipv4,
}

impl Setting {
    fn vip(self) -> &'static str {
        match self {
            Setting::V3Ipv6 => "2001:db8::100/64",
            _ => "192.0.2.100/24",
        }
    }

    fn vip_addr(self) -> &'static str {
        self.vip().split('/').next().expect("has an address")
    }

    fn advert(self) -> Duration {
        match self {
            Setting::V2Ipv4 => Duration::from_secs(1),
            _ => Duration::from_millis(100),
        }
    }

    /// baton's config.
    fn baton(self, priority: u8) -> String {
        let fast = Instance {
            vrid: VRID,
            ..Instance::fast(priority, self.vip())
        };
        match self {
            Setting::V2Ipv4 => Instance {
                version: 2,
                advert_int: "1",
                ..fast
            },
            _ => fast,
        }
        .render()
    }

    /// FRR's router.
    fn frr(self, priority: u8) -> Router {
        Router {
            vrid: VRID,
            version: if self == Setting::V2Ipv4 { 2 } else { 3 },
            priority,
            advert_ms: u32::try_from(self.advert().as_millis()).expect("fits"),
            vip: self.vip(),
        }
    }
}

/// Which side is master first (priority 150; the other has 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    Baton,
    Frr,
}

/// The group under test: baton on "bt", FRR on "frr", the client "c".
struct Group {
    setting: Setting,
    /// Before the cluster: dropped first, so FRR stops before the lab goes.
    frr: Option<Frr>,
    c: Cluster,
    bt_priority: u8,
}

impl Group {
    fn frr(&self) -> &Frr {
        self.frr.as_ref().expect("FRR started")
    }

    fn frr_mut(&mut self) -> &mut Frr {
        self.frr.as_mut().expect("FRR started")
    }

    fn restart_vrrpd(&mut self) {
        let frr = self.frr.as_mut().expect("FRR started");
        frr.start_vrrpd(&self.c.lab);
    }

    fn start_baton(&mut self) {
        let config = self.setting.baton(self.bt_priority);
        self.c.start_baton("bt", &config);
        self.c.wait_for_socket("bt");
    }

    /// Who holds the VIP, as the kernel shows it: "bt" with the VIP on its veth0, "frr"
    /// with its macvlan up.
    fn holders(&self) -> Vec<&'static str> {
        let mut list = Vec::new();
        let vip = self.setting.vip();
        if self.c.lab.addresses("bt", IFNAME).iter().any(|a| a == vip) {
            list.push("bt");
        }
        if self.frr.as_ref().is_some_and(|f| f.holds(&self.c.lab)) {
            list.push("frr");
        }
        list
    }

    fn logs(&self) -> String {
        format!(
            "{}{}",
            self.c.all_logs(),
            self.frr.as_ref().map(Frr::logs).unwrap_or_default()
        )
    }

    /// The MAC the client must see for the VIP when `node` holds it.
    fn mac_of(&self, node: &str) -> String {
        match node {
            "bt" => self.c.lab.mac_str("bt"),
            _ => self.setting.frr(0).vmac(),
        }
    }

    /// baton's state from `baton status --json`.
    fn baton_state(&self) -> String {
        let (json, _) = self.c.status("bt");
        json["instances"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Wait until exactly `expected` hold the VIP; the daemons agree (baton's status,
    /// vrrpd's `show vrrp`).
    fn expect_sole_holder(&self, expected: &str, what: &str) {
        let ok = poll(SETTLE, || self.holders() == [expected]);
        assert!(
            ok,
            "{:?} {what}: VIP held by {:?}, expected only {expected}\n{}",
            self.setting,
            self.holders(),
            self.logs()
        );
        let (bt, frr) = if expected == "bt" {
            ("MASTER", "Backup")
        } else {
            ("BACKUP", "Master")
        };
        // The daemon that is not master may still be starting; wait for it (bounded).
        let agreed = poll(SETTLE, || {
            self.baton_state() == bt && self.frr().state().as_deref() == Some(frr)
        });
        assert!(
            agreed,
            "{:?} {what}: baton says {}, FRR says {:?}, expected {bt}/{frr}\n{}",
            self.setting,
            self.baton_state(),
            self.frr().state(),
            self.logs()
        );
    }

    /// `node` took over: the client's neighbour entry for the VIP moves to its MAC without
    /// the client asking (gratuitous ARP / unsolicited NA), then its ping gets replies there.
    fn expect_client_follows(&self, node: &str, what: &str) {
        let vip = self.setting.vip_addr();
        let mac = self.mac_of(node);
        let moved = poll(SETTLE, || {
            self.c
                .lab
                .neighbours("c")
                .iter()
                .any(|n| n.dst == vip && n.lladdr.as_deref() == Some(mac.as_str()))
        });
        assert!(
            moved,
            "{:?} {what}: the client's entry for {vip} is {:?}, expected {mac} ({node})\n{}",
            self.setting,
            self.c
                .lab
                .neighbours("c")
                .into_iter()
                .find(|n| n.dst == vip),
            self.logs()
        );
        self.expect_ping(node, what);
    }

    /// The client's ping to the VIP gets replies, from `node`'s MAC.
    fn expect_ping(&self, node: &str, what: &str) {
        let vip = self.setting.vip_addr();
        let reached = poll(SETTLE, || {
            self.c
                .lab
                .exec("c", &["ping", "-c", "1", "-W", "1", vip])
                .status
                .success()
        });
        assert!(
            reached,
            "{:?} {what}: the client's ping to {vip} gets no reply\n{}",
            self.setting,
            self.logs()
        );
        let entry = self
            .c
            .lab
            .neighbours("c")
            .into_iter()
            .find(|n| n.dst == vip);
        assert_eq!(
            entry.and_then(|n| n.lladdr),
            Some(self.mac_of(node)),
            "{:?} {what}: the client reaches {vip} at {node}\n{}",
            self.setting,
            self.logs()
        );
    }
}

/// One VRRP packet as tshark decodes it.
#[derive(Debug)]
struct Advert {
    eth_src: String,
    version: String,
    priority: u8,
    /// tshark's `vrrp.checksum.status`: "1" is Good (0 Bad, 2 Unverified).
    checksum_status: String,
}

fn tshark(file: &Path) -> Vec<Advert> {
    let fields = [
        "eth.src",
        "vrrp.version",
        "vrrp.prio",
        "vrrp.checksum.status",
    ];
    capture::vrrp_fields(file, &fields)
        .into_iter()
        .map(|f| Advert {
            eth_src: f[0].clone(),
            version: f[1].clone(),
            priority: f[2].parse().unwrap_or_else(|e| panic!("{f:?}: {e}")),
            checksum_status: f[3].clone(),
        })
        .collect()
}

/// The client pinging the VIP every 50 ms across a change (`ping -D`: each reply line starts
/// with its Unix time), bounded by `-w`; the lab kills it at the latest.
struct Pinger {
    proc: Proc,
    file: PathBuf,
}

impl Pinger {
    fn start(c: &Cluster, vip: &str, name: &str) -> Pinger {
        let file = c.dir.path().join(format!("ping-{name}.log"));
        let script = format!(
            "exec stdbuf -oL ping -D -n -i 0.05 -w 120 {vip} >{} 2>&1",
            file.display()
        );
        let proc = c.lab.spawn("c", &["sh", "-c", &script]);
        Pinger { proc, file }
    }

    /// The replies received after `since`.
    fn replies_since(&self, since: SystemTime) -> usize {
        let since = since
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse::<f64>().ok())
            .filter(|t| *t > since)
            .count()
    }

    /// Wait (bounded) for a reply after `since`, then stop the ping.
    fn expect_reply_since(self, since: SystemTime, what: &str, logs: impl Fn() -> String) {
        let ok = poll(SETTLE, || self.replies_since(since) > 0);
        self.proc.terminate();
        let _ = self.proc.wait_timeout(Duration::from_secs(5));
        assert!(
            ok,
            "{what}: the client's continuous ping got no reply after the change:\n{}\n{}",
            std::fs::read_to_string(&self.file).unwrap_or_default(),
            logs()
        );
    }
}

/// Whether the tools this file needs besides FRR are here (CI installs them).
fn tools_available() -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let present = have("tcpdump") && have("tshark");
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tcpdump or tshark is missing under CI: .ci/run installs them"
        );
        eprintln!("skipped: tcpdump or tshark is missing (apt-get install tcpdump tshark)");
    }
    present
}

/// The whole round for one setting with `first` as the first master; see the module docs.
fn run(setting: Setting, first: First, tag: &str) {
    if !require_root() || !frr::available() || !tools_available() {
        return;
    }
    let started = Instant::now();
    let (bt_priority, frr_priority) = match first {
        First::Baton => (150, 100),
        First::Frr => (100, 150),
    };
    let c = Cluster::new(
        tag,
        &[
            ("bt", &["192.0.2.1/24", "2001:db8::1/64"]),
            ("frr", &["192.0.2.2/24", "2001:db8::2/64"]),
            ("c", &["192.0.2.3/24", "2001:db8::3/64"]),
        ],
    );
    let capture = Capture::start(&c, "vrrp");
    let mut g = Group {
        setting,
        c,
        frr: None,
        bt_priority,
    };
    let (master, backup) = match first {
        First::Baton => ("bt", "frr"),
        First::Frr => ("frr", "bt"),
    };
    let start_frr = |g: &mut Group| {
        let logs = g.c.dir.path().to_path_buf();
        g.frr = Some(Frr::start(
            &g.c.lab,
            &logs,
            "frr",
            setting.frr(frr_priority),
        ));
    };

    // 1. Election: the master first, holding the VIP before the backup starts.
    if first == First::Baton {
        g.start_baton();
        let ok = poll(SETTLE, || g.holders() == ["bt"]);
        assert!(ok, "{setting:?}: baton alone took the VIP\n{}", g.logs());
        start_frr(&mut g);
    } else {
        start_frr(&mut g);
        let ok = poll(SETTLE, || g.holders() == ["frr"]);
        assert!(ok, "{setting:?}: FRR alone took the VIP\n{}", g.logs());
        g.start_baton();
    }
    g.expect_sole_holder(master, "election");
    g.expect_ping(master, "election");
    // Two masters would show here: the backup must not take the VIP while both run
    // (three Master_Down_Intervals and more).
    let steady = g.setting.advert() * 12;
    let moved = poll(steady, || g.holders() != [master]);
    assert!(
        !moved,
        "{setting:?}: {backup} took the VIP beside {master}: {:?}\n{}",
        g.holders(),
        g.logs()
    );
    if backup == "bt" {
        assert!(
            g.c.transitions("bt")
                .iter()
                .all(|t| !t.contains("-> MASTER")),
            "{setting:?}: baton became master beside FRR\n{}",
            g.logs()
        );
    } else {
        assert!(
            g.frr()
                .transitions()
                .iter()
                .all(|t| !t.contains("-> Master")),
            "{setting:?}: FRR became master beside baton\n{}",
            g.logs()
        );
    }

    // 2. Graceful stop of the master: priority 0, the backup takes over.
    let pinger = Pinger::start(&g.c, setting.vip_addr(), "stop");
    let stop_at = Instant::now();
    if master == "bt" {
        g.c.signal("bt", "TERM");
        assert!(
            g.c.daemon("bt")
                .proc
                .wait_timeout(Duration::from_secs(10))
                .is_some(),
            "baton did not stop on SIGTERM"
        );
    } else {
        g.frr_mut().stop_vrrpd();
    }
    let ok = poll(SETTLE, || g.holders() == [backup]);
    let handover = stop_at.elapsed();
    assert!(
        ok,
        "{setting:?}: after {master}'s graceful stop the VIP is held by {:?}\n{}",
        g.holders(),
        g.logs()
    );
    if backup == "bt" {
        let takeover =
            g.c.transitions("bt")
                .into_iter()
                .find(|t| t.contains("BACKUP -> MASTER"))
                .unwrap_or_else(|| panic!("bt became master\n{}", g.logs()));
        assert!(
            takeover.contains("resigned (priority 0)"),
            "{setting:?}: baton took over on FRR's priority-0 advert, not a timeout: \
             {takeover}\n{}",
            g.logs()
        );
    }
    if backup == "frr" {
        // vrrpd's protocol debug log dumps each advert it accepted.
        let log = g.frr().vrrpd_log();
        assert!(
            log.contains(&format!("vrid {VRID}, priority 0, ")),
            "{setting:?}: FRR received baton's priority-0 advert\n{}",
            g.logs()
        );
    }
    g.expect_client_follows(backup, "after the master's graceful stop");
    // The ping that ran through the change gets replies from the new holder.
    pinger.expect_reply_since(SystemTime::now(), "after the graceful stop", || g.logs());
    eprintln!("{setting:?} {first:?}: graceful stop to new holder in {handover:?}");

    // 3. The master returns and preempts.
    if master == "bt" {
        g.start_baton();
    } else {
        g.restart_vrrpd();
    }
    g.expect_sole_holder(master, "after the master returned (preemption)");
    g.expect_client_follows(master, "after preemption");

    // 4. kill -9 of the master: the backup takes over; the dead one leaves its VIP.
    let pinger = Pinger::start(&g.c, setting.vip_addr(), "kill");
    if master == "bt" {
        g.c.signal("bt", "KILL");
        assert!(
            g.c.daemon("bt")
                .proc
                .wait_timeout(Duration::from_secs(10))
                .is_some(),
            "baton survived SIGKILL"
        );
    } else {
        g.frr_mut().kill_vrrpd();
    }
    let ok = poll(SETTLE, || g.holders().contains(&backup));
    assert!(
        ok,
        "{setting:?}: after kill -9 of {master}, {backup} did not take the VIP: {:?}\n{}",
        g.holders(),
        g.logs()
    );
    if backup == "bt" {
        assert_eq!(g.baton_state(), "MASTER", "{}", g.logs());
    } else {
        let ok = poll(SETTLE, || g.frr().state().as_deref() == Some("Master"));
        assert!(
            ok,
            "{setting:?}: FRR is master after the kill\n{}",
            g.logs()
        );
    }
    g.expect_client_follows(backup, "after kill -9 of the master");
    pinger.expect_reply_since(SystemTime::now(), "after the kill", || g.logs());
    // The dead master's VIP is still up (a crash: nobody removes it); printed, not asserted.
    eprintln!(
        "{setting:?} {first:?}: after kill -9 of {master}, VIP up on {:?}",
        g.holders()
    );

    // 5. The master returns once more and preempts.
    if master == "bt" {
        g.start_baton();
    } else {
        g.restart_vrrpd();
    }
    g.expect_sole_holder(master, "after the killed master returned (preemption)");
    g.expect_client_follows(master, "after the second preemption");

    // 6. The wire: tshark on the client's capture, and both daemons' logs.
    capture.stop();
    let adverts = tshark(&capture.file);
    let bt_mac = g.c.lab.mac_str("bt");
    let vmac = setting.frr(0).vmac();
    let version = if setting == Setting::V2Ipv4 { "2" } else { "3" };
    let from = |mac: &str| adverts.iter().filter(|a| a.eth_src == mac).count();
    let others: Vec<&Advert> = adverts
        .iter()
        .filter(|a| a.eth_src != bt_mac && a.eth_src != vmac)
        .collect();
    assert!(
        others.is_empty(),
        "{setting:?}: adverts from neither baton ({bt_mac}) nor FRR ({vmac}): {others:?}"
    );
    assert!(
        from(&bt_mac) >= 3 && from(&vmac) >= 3,
        "{setting:?}: adverts captured from baton {}, from FRR {}",
        from(&bt_mac),
        from(&vmac)
    );
    let not_good: Vec<&Advert> = adverts
        .iter()
        .filter(|a| a.checksum_status != "1" || a.version != version)
        .collect();
    assert!(
        not_good.is_empty(),
        "{setting:?}: tshark says these adverts are not VRRPv{version} with checksum status \
         Good (1): {not_good:?}"
    );
    let stopped_mac = if master == "bt" { &bt_mac } else { &vmac };
    assert!(
        adverts
            .iter()
            .any(|a| &a.eth_src == stopped_mac && a.priority == 0),
        "{setting:?}: {master}'s graceful stop sent priority 0"
    );
    // FRR accepted baton's adverts: vrrpd logs each one it parsed, from baton's address
    // (IPv4: veth0's; IPv6: veth0's link-local).
    let bt_src = if setting == Setting::V3Ipv6 {
        g.c.lab
            .address_details("bt", IFNAME)
            .into_iter()
            .find(|a| a.family == "inet6" && a.scope == "link")
            .expect("bt has a link-local address")
            .local
    } else {
        "192.0.2.1".to_owned()
    };
    assert!(
        g.frr()
            .vrrpd_log()
            .contains(&format!("Received VRRP Advertisement from {bt_src}:")),
        "{setting:?}: FRR parsed no advert from baton ({bt_src})\n{}",
        g.logs()
    );
    let complaints = g.frr().complaints();
    assert!(
        complaints.is_empty(),
        "{setting:?}: FRR refused or questioned packets: {complaints:#?}\n{}",
        g.logs()
    );
    let bt_log = g.c.log("bt");
    let drops: Vec<&str> = bt_log
        .lines()
        .filter(|l| l.contains("dropped") || l.contains("lists other addresses"))
        .collect();
    assert!(
        drops.is_empty(),
        "{setting:?}: baton dropped FRR's packets: {drops:#?}\n{}",
        g.logs()
    );
    eprintln!(
        "{setting:?} {first:?}: {} adverts from baton, {} from FRR, all checksums Good; \
         {:?} in all",
        from(&bt_mac),
        from(&vmac),
        started.elapsed()
    );
}

macro_rules! cases {
    ($($name:ident: $setting:ident, $first:ident, $tag:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run(Setting::$setting, First::$first, $tag);
            }
        )*
    };
}

cases! {
    v3_ipv4_baton_master_frr_backup: V3Ipv4, Baton, "f4b";
    v3_ipv4_frr_master_baton_backup: V3Ipv4, Frr, "f4f";
    v3_ipv6_baton_master_frr_backup: V3Ipv6, Baton, "f6b";
    v3_ipv6_frr_master_baton_backup: V3Ipv6, Frr, "f6f";
    v2_ipv4_baton_master_frr_backup: V2Ipv4, Baton, "f2b";
    v2_ipv4_frr_master_baton_backup: V2Ipv4, Frr, "f2f";
}
