//! End to end with real PostgreSQL 15: server `a` (primary, baton priority 150, manual
//! fallback gated by `baton-pg-caught-up`) and `b` (synchronous replica, priority 100)
//! behind the VIP; a stand-in portal (HTTP) on each; a client writing unique keys through
//! the VIP and recording each acknowledged commit; a probe asking each server directly
//! (unix socket) every 100 ms for its role and, on a primary, making a write. A server is
//! "writable" in a round when that write was acknowledged within 0.5 s; a primary whose
//! write was refused or hung (synchronous replication on, standby gone: a stale primary
//! that woke up) is counted apart, as a stalled-primary window.
//!
//! Each cycle takes `a` down three ways, one after the other: kill -9 of its baton with an
//! immediate stop of its PostgreSQL; its link down; the whole server frozen (SIGSTOP of
//! baton and every PostgreSQL process). After each, `a` returns, the hooks rejoin it as a
//! replica, `baton fallback` on `a` is refused until it has caught up, then succeeds.
//! After every failover and every fallback:
//!   - every acknowledged key is on the current primary;
//!   - the probe never saw two writable primaries in the same round (and did see the
//!     current primary acknowledge its writes);
//!   - the portal answers through the VIP.
//!
//! `BATON_PG_CYCLES` (default 5) sets the number of cycles; `scripts/soak-postgres` runs
//! it with more and prints the counts. Needs root and PostgreSQL 15
//! (`apt-get install postgresql-15`).

mod daemon;
mod lab;
mod pg;

use std::path::Path;
use std::time::{Duration, Instant};

use daemon::Instance;
use lab::{poll, require_root};
use pg::{PgPair, Role, SERVERS, VIP, VIP_ADDR, now_ms, read_acks, read_probe, script, text};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// kill -9 of a's baton, then `pg_ctl stop -m immediate` of a's PostgreSQL.
    Crash,
    /// a's link down.
    LinkDown,
    /// SIGSTOP of a's baton and every process of a's PostgreSQL.
    Freeze,
}

const FAULTS: [Fault; 3] = [Fault::Crash, Fault::LinkDown, Fault::Freeze];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Crash => "crash",
            Fault::LinkDown => "link",
            Fault::Freeze => "freeze",
        }
    }
}

/// The faults the soak draws from: the three of the cycles, and PostgreSQL killed under a
/// live baton, baton killed while PostgreSQL lives (back 20 s later), a partition of the
/// two servers (the client reaching both), the same partition healed and cut again at
/// random moments of the rejoin (0.5 to 4 s apart, one to three times), both servers
/// cold-started at once.
const SOAK_FAULTS: [&str; 8] = [
    "crash",
    "link",
    "freeze",
    "pg-crash",
    "baton-killed",
    "partition",
    "partition-flap",
    "cold-start",
];

/// Whether `fault` is among `BATON_PG_FAULTS` (comma-separated names; unset: all).
fn chosen(fault: &str) -> bool {
    match std::env::var("BATON_PG_FAULTS") {
        Ok(list) => {
            for name in list.split(',') {
                assert!(
                    SOAK_FAULTS.contains(&name),
                    "BATON_PG_FAULTS: unknown fault {name:?} (known: {SOAK_FAULTS:?})"
                );
            }
            list.split(',').any(|n| n == fault)
        }
        Err(_) => true,
    }
}
const WAIT: Duration = Duration::from_secs(60);

/// The advert interval of both nodes: `BATON_PG_ADVERT_INT` (seconds; default 0.2), for
/// `scripts/bench-pg-failover`.
fn advert_int() -> &'static str {
    static INT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    INT.get_or_init(|| {
        let v = std::env::var("BATON_PG_ADVERT_INT").unwrap_or_else(|_| "0.2".into());
        assert!(
            v.parse::<f64>().is_ok_and(|f| (0.01..=10.0).contains(&f)),
            "BATON_PG_ADVERT_INT={v}: not an advert interval in seconds"
        );
        v
    })
}

/// The node's baton.conf: the hooks under test, run by the daemon; `witness` is a
/// `witness` block or empty.
fn config(node: &str, witness: &str) -> String {
    let priority = if node == "a" { 150 } else { 100 };
    let mut inst = Instance {
        vrid: 51,
        priority,
        version: 3,
        advert_int: advert_int(),
        vips: vec![VIP],
        extra: vec![
            "fallback manual".into(),
            "track_script {".into(),
            "    chk_pg".into(),
            "}".into(),
            format!("notify {}", script("baton-pg-notify")),
        ],
    };
    if node == "a" {
        inst = inst
            .with(format!("fallback_check {}", script("baton-pg-caught-up")))
            .with("fallback_check_timeout 15");
    }
    format!(
        "global_defs {{\n    notify_timeout 120\n    router_id {node}\n}}\n{witness}\
         vrrp_script chk_pg {{\n    script {}\n    interval 1\n    timeout 5\n    \
         fall 1\n    rise 1\n    weight 0\n}}\n{}",
        script("baton-pg-check"),
        inst.render()
    )
}

struct Run {
    pair: PgPair,
    acks: std::path::PathBuf,
    probe: std::path::PathBuf,
    probe_checked: usize,
    overlaps: u32,
    stalled_overlaps: u32,
    outages: Vec<(String, u64)>,
    refusals: u32,
    _procs: Vec<lab::Proc>,
    probe_proc: Option<pg::HostProc>,
    /// More settings for both nodes' hooks (`K=V K=V`).
    extra_env: String,
    /// The `witness` block of both nodes (empty: none).
    witness: String,
}

impl Run {
    fn start_baton(&mut self, node: &str) {
        let conf = config(node, &self.witness);
        let env = format!("{} {}", self.pair.script_env_line(node), self.extra_env);
        self.pair.c.start_with_env(node, &conf, &env);
        self.pair.c.wait_for_socket(node);
    }

    fn state(&self, node: &str) -> String {
        let out = self.pair.c.baton(node, &["status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|j| j["instances"][0]["state"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn context(&self) -> String {
        format!("{}\n{}", self.pair.c.all_logs(), self.pair.pg_logs())
    }

    fn wait(&self, what: &str, cond: impl FnMut() -> bool) {
        assert!(
            poll(WAIT, cond),
            "{what}: not within {WAIT:?}\n{}",
            self.context()
        );
    }

    /// The checks after every step. `primary` is where the writes must be.
    fn invariants(&mut self, step: &str, primary: &str) {
        // Writes go on through the VIP: a new acknowledged write after this point.
        let before = read_acks(&self.acks).len();
        self.wait(&format!("{step}: writes through the VIP resume"), || {
            read_acks(&self.acks).len() > before + 5
        });
        // Every acknowledged key is on the current primary.
        assert_eq!(
            self.pair.role(primary),
            Role::Writable,
            "{step}: {primary} is not a writable primary\n{}",
            self.context()
        );
        let acked = read_acks(&self.acks);
        let present = self.pair.keys(primary);
        let lost: Vec<&String> = acked
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !present.contains(*k))
            .collect();
        assert!(
            lost.is_empty(),
            "{step}: {} of {} acknowledged keys missing on {primary}: {:?}\n{}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(10)],
            self.context()
        );
        // Never two writable primaries in one probe round.
        // The probe works: since the last check, it has seen the current primary
        // acknowledge its writes (so a silent probe cannot pass for "no overlap").
        let mut rounds = Vec::new();
        let seen = poll(Duration::from_secs(10), || {
            rounds = read_probe(&self.probe);
            rounds[self.probe_checked.min(rounds.len())..]
                .iter()
                .any(|(_, states)| states.iter().any(|(n, r)| n == primary && *r == 'W'))
        });
        assert!(
            seen,
            "{step}: the probe never saw {primary} acknowledge a write\n{}",
            self.context()
        );
        let mut in_overlap = false;
        let mut in_stalled = false;
        for (t, states) in &rounds[self.probe_checked.min(rounds.len())..] {
            let writable = states.iter().filter(|(_, r)| *r == 'W').count();
            let primaries = states
                .iter()
                .filter(|(_, r)| matches!(r, 'W' | 'S'))
                .count();
            if writable >= 2 && !in_overlap {
                self.overlaps += 1;
                eprintln!("{step}: two writable primaries at {t}: {states:?}");
            }
            if primaries >= 2 && !in_stalled {
                self.stalled_overlaps += 1;
                eprintln!(
                    "{step}: a primary that cannot acknowledge beside the writable one at {t}: {states:?}"
                );
            }
            in_overlap = writable >= 2;
            in_stalled = primaries >= 2;
        }
        self.probe_checked = rounds.len();
        assert_eq!(
            self.overlaps,
            0,
            "{step}: two writable primaries seen\n{}",
            self.context()
        );
        // The portal answers through the VIP.
        let url = format!("http://{VIP_ADDR}:8080/");
        let tool = pg::pgtool();
        let mut body = String::new();
        let ok = poll(Duration::from_secs(15), || {
            let out = self.pair.c.lab.exec("c", &["python3", &tool, "get", &url]);
            body = text(&out);
            out.status.success()
        });
        assert!(
            ok,
            "{step}: the portal does not answer through the VIP: {body}\n{}",
            self.context()
        );
        eprintln!(
            "{step}: ok: {} acknowledged writes, all on {primary}; portal: {}",
            acked.len(),
            body.trim()
        );
    }

    /// The longest time without an acknowledged write from the last one before `since`
    /// on: the outage a client saw.
    fn outage_since(&self, since: u64) -> u64 {
        let times: Vec<u64> = read_acks(&self.acks).iter().map(|(_, t)| *t).collect();
        let first = times.iter().rposition(|t| *t < since).unwrap_or(0);
        times[first..]
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or(0)
    }

    fn fail_a(&mut self, fault: Fault) {
        let t0 = now_ms();
        match fault {
            Fault::Crash => {
                self.pair.c.signal("a", "KILL");
                self.pair.stop_pg_immediate("a");
            }
            Fault::LinkDown => self.pair.c.lab.link_down("a"),
            Fault::Freeze => {
                self.pair.signal_pg("a", "STOP");
                self.pair.c.signal("a", "STOP");
            }
        }
        self.wait(
            &format!("{fault:?}: b master with a writable primary"),
            || self.state("b") == "MASTER" && self.pair.role("b") == Role::Writable,
        );
        self.invariants(&format!("{fault:?}: failover"), "b");
        let outage = self.outage_since(t0);
        eprintln!("{fault:?}: outage {outage} ms");
        self.outages.push((format!("{fault:?}"), outage));
    }

    fn restore_a(&mut self, fault: Fault) {
        match fault {
            Fault::Crash => self.start_baton("a"),
            Fault::LinkDown => self.pair.c.lab.link_up("a"),
            Fault::Freeze => {
                self.pair.c.signal("a", "CONT");
                self.pair.signal_pg("a", "CONT");
            }
        }
    }

    /// a returns as a replica; `baton fallback` is refused until it has caught up.
    fn fall_back(&mut self, fault: Fault) {
        let step = format!("{fault:?}: fallback");
        // From the moment a's baton answers: every attempt made while a is not a caught-up
        // synchronous replica must be refused; the first one after it has caught up succeeds.
        self.pair.c.wait_for_socket("a");
        let mut refused = 0;
        let deadline = Instant::now() + WAIT;
        let t0 = loop {
            let caught_up_before = self.pair.streams_sync("a");
            let out = self.pair.c.baton("a", &["fallback", "VI_1"]);
            let t = now_ms();
            let said = text(&out);
            if out.status.success() {
                assert!(
                    caught_up_before || self.pair.streams_sync("a"),
                    "{step}: fallback succeeded while a was not a caught-up synchronous replica: {said}\n{}",
                    self.context()
                );
                break t;
            }
            assert!(said.contains("refused"), "{step}: {said}");
            if said.contains("not caught up") {
                refused += 1;
            }
            assert!(
                Instant::now() < deadline,
                "{step}: never succeeded; last: {said}\n{}",
                self.context()
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        self.refusals += refused;
        // ... and b knows it is the synchronous standby (its sync record says so): until it
        // does, zero-loss mode rightly refuses to promote it, and the next fault would find
        // the pair without a promotable replica (a's check makes b synchronous again a
        // moment after the rejoin; b records it at its next look, within a check interval).
        self.wait(&format!("{step}: a primary, b streaming from it"), || {
            self.state("a") == "MASTER"
                && self.pair.role("a") == Role::Writable
                && self.pair.streams_sync("b")
                && self.pair.sync_record("b").starts_with("sync at ")
        });
        self.pair.c.expect_holders(&SERVERS, VIP, &["a"]);
        self.invariants(&step, "a");
        let outage = self.outage_since(t0);
        eprintln!("{step}: outage {outage} ms, {refused} refusals before");
        self.outages.push((step, outage));
    }
}

/// The two tests share the machine's two cores badly: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Root and PostgreSQL 15 present; when PostgreSQL is missing, skip unless CI is set.
fn ready() -> bool {
    if !require_root() {
        return false;
    }
    if !Path::new(pg::PGBIN).join("postgres").exists() {
        // Like require_root: CI must not skip silently.
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL 15 is not installed (apt-get install postgresql-15), and CI is set"
        );
        eprintln!("SKIPPED: PostgreSQL 15 is not installed (apt-get install postgresql-15)");
        return false;
    }
    true
}

/// The pair with baton on both, the portals, the writer and the probe running, checked once.
fn start(tag: &str) -> Run {
    start_with(tag, &[])
}

/// As `start`, with more settings for both nodes' hooks.
fn start_with(tag: &str, extra: &[(&str, &str)]) -> Run {
    start_pair(PgPair::new(tag), extra, String::new())
}

/// The pair, its hooks' settings and its witness block: baton started on both, then the
/// portals, the writer and the probe, checked once.
fn start_pair(pair: PgPair, extra: &[(&str, &str)], witness: String) -> Run {
    let acks = pair.root.path().join("acks");
    let probe = pair.root.path().join("probe");
    let mut run = Run {
        pair,
        acks,
        probe,
        probe_checked: 0,
        overlaps: 0,
        stalled_overlaps: 0,
        outages: Vec::new(),
        refusals: 0,
        _procs: Vec::new(),
        probe_proc: None,
        extra_env: extra
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        witness,
    };
    run.start_baton("a");
    run.pair.c.expect_holders(&SERVERS, VIP, &["a"]);
    run.start_baton("b");
    let tool = pg::pgtool();
    for node in ["a", "b"] {
        let p = run
            .pair
            .c
            .lab
            .spawn(node, &["python3", &tool, "http", "8080", node, VIP_ADDR]);
        run._procs.push(p);
    }
    let acks = run.acks.display().to_string();
    let p = run
        .pair
        .c
        .lab
        .spawn("c", &["python3", &tool, "writer", VIP_ADDR, "w", &acks]);
    run._procs.push(p);
    let probe_file = run.probe.display().to_string();
    let sock = |n: &str| format!("{n}={}", run.pair.sock(n).display());
    let (sa, sb) = (sock("a"), sock("b"));
    run.probe_proc = Some(pg::HostProc::spawn(&[
        "python3",
        &tool,
        "probe",
        &probe_file,
        &sa,
        &sb,
    ]));
    run.invariants("start", "a");
    run
}

#[test]
fn postgres_pair_survives_failovers_without_losing_an_acknowledged_write() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cycles: usize = std::env::var("BATON_PG_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let started = Instant::now();
    let mut run = start("pg");
    let faults: Vec<Fault> = FAULTS.into_iter().filter(|f| chosen(f.name())).collect();
    let soak = std::env::var("BATON_PG_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let mut soak_rounds = Vec::new();
    if let Some(seconds) = soak {
        soak_rounds = run.soak(Duration::from_secs(seconds));
    } else {
        for cycle in 1..=cycles {
            for &fault in &faults {
                eprintln!("=== cycle {cycle}: {fault:?}");
                run.fail_a(fault);
                run.restore_a(fault);
                run.fall_back(fault);
            }
        }
    }

    // Stop the writer, then the final count.
    for p in &run._procs {
        p.terminate();
    }
    if let Some(mut probe) = run.probe_proc.take() {
        probe.stop();
    }
    std::thread::sleep(Duration::from_millis(500));
    let acked = read_acks(&run.acks);
    let present = run.pair.keys("a");
    let lost = acked.iter().filter(|(k, _)| !present.contains(k)).count();
    let failovers: Vec<u64> = run
        .outages
        .iter()
        .filter(|(s, _)| !s.contains("fallback"))
        .map(|(_, o)| *o)
        .collect();
    let fallbacks: Vec<u64> = run
        .outages
        .iter()
        .filter(|(s, _)| s.contains("fallback"))
        .map(|(_, o)| *o)
        .collect();
    let mut per_fault: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for (fault, outage) in &soak_rounds {
        per_fault.entry(fault).or_default().push(*outage);
    }
    let summary = serde_json::json!({
        "cycles": if soak.is_some() { soak_rounds.len() } else { cycles },
        "soak_outage_ms": per_fault,
        "stuck_states": 0,
        "acknowledged_writes": acked.len(),
        "lost_writes": lost,
        "overlap_windows": run.overlaps,
        "stalled_primary_windows": run.stalled_overlaps,
        "fallback_refusals": run.refusals,
        "failover_outage_ms": failovers,
        "fallback_outage_ms": fallbacks,
        "duration_s": started.elapsed().as_secs(),
    });
    if std::env::var_os("BATON_PG_SHOW_LOGS").is_some() {
        eprintln!("{}", run.context());
    }
    println!("BATON-PG-SUMMARY {summary}");
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert_eq!(run.overlaps, 0);
    assert!(
        acked.len() > 100,
        "too few writes to mean anything: {}",
        acked.len()
    );
    // The link and freeze faults leave a rejoining (not yet caught-up) replica behind,
    // so every cycle sees baton-pg-caught-up refuse at least once.
    let rejoining = faults
        .iter()
        .any(|f| matches!(f, Fault::LinkDown | Fault::Freeze));
    assert!(
        soak.is_some() || !rejoining || run.refusals as usize >= cycles,
        "baton fallback was refused by baton-pg-caught-up only {} times in {cycles} cycles",
        run.refusals
    );
}

#[test]
fn a_failed_rewind_falls_back_to_a_base_backup() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgbb");
    run.fail_a(Fault::LinkDown);
    // Take from the replication role what pg_rewind needs on the new primary, and only
    // that: a base backup needs nothing but replication.
    let revoke = "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) FROM replicator; \
                  REVOKE EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) FROM replicator";
    assert!(run.pair.sql("b", revoke).is_some(), "REVOKE on b failed");
    run.restore_a(Fault::LinkDown);
    run.fall_back(Fault::LinkDown);
    let log = run.pair.hook_log("a");
    assert!(
        log.contains("pg_rewind failed") && log.contains("base backup taken from 192.0.2.2"),
        "a did not rejoin by a base backup:\n{log}"
    );
    // The old data directory was kept aside.
    assert_eq!(
        run.pair.displaced("a").len(),
        1,
        "a's old data directory was not kept aside as data.displaced-*"
    );
    for p in &run._procs {
        p.terminate();
    }
    std::thread::sleep(Duration::from_millis(500));
    let acked = read_acks(&run.acks);
    let present = run.pair.keys("a");
    let lost = acked.iter().filter(|(k, _)| !present.contains(k)).count();
    assert_eq!(
        lost,
        0,
        "{lost} of {} acknowledged writes lost",
        acked.len()
    );
}

/// Start a server on a copy of `node`'s data kept aside (`dir`), on its own socket
/// directory and port, read one value, stop it.
fn read_kept_copy(pair: &PgPair, node: &str, dir: &Path, query: &str) -> Option<String> {
    let d = pair.dir(node);
    let conf = d.join("kept-conf");
    let sock = d.join("kept-sock");
    for p in [&conf, &sock] {
        std::fs::create_dir_all(p).expect("dir");
        chown(p);
    }
    let body = format!(
        "data_directory = '{}'\nhba_file = '{d}/conf/pg_hba.conf'\n\
         ident_file = '{d}/conf/pg_ident.conf'\nlisten_addresses = ''\nport = 5433\n\
         unix_socket_directories = '{}'\nshared_buffers = 16MB\nsynchronous_standby_names = ''\n\
         fsync = off\n",
        dir.display(),
        sock.display(),
        d = d.display()
    );
    std::fs::write(conf.join("postgresql.conf"), body).expect("conf");
    chown(&conf.join("postgresql.conf"));
    let pg_ctl = format!("{}/pg_ctl", pg::PGBIN);
    let conf_s = conf.display().to_string();
    let log = d.join("kept.log").display().to_string();
    let out = pair.as_pg(
        node,
        &[
            &pg_ctl, "start", "-D", &conf_s, "-w", "-t", "60", "-l", &log,
        ],
    );
    let value = if out.status.success() {
        let out = std::process::Command::new("timeout")
            .args(["10", &format!("{}/psql", pg::PGBIN)])
            .args(["-X", "-q", "-A", "-t", "-h"])
            .arg(&sock)
            .args([
                "-p", "5433", "-U", "postgres", "-d", "postgres", "-c", query,
            ])
            .output()
            .expect("psql");
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        eprintln!(
            "the kept copy {} does not start: {}\n{}",
            dir.display(),
            text(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        None
    };
    let _ = pair.as_pg(
        node,
        &[
            &pg_ctl, "stop", "-D", &conf_s, "-m", "fast", "-w", "-t", "60",
        ],
    );
    value
}

fn chown(p: &Path) {
    let ok = std::process::Command::new("chown")
        .arg("postgres:postgres")
        .arg(p)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown {}", p.display());
}

fn controldata_ok(pair: &PgPair, node: &str, dir: &Path) -> bool {
    let tool = format!("{}/pg_controldata", pg::PGBIN);
    let out = pair.as_pg(node, &[&tool, &dir.display().to_string()]);
    out.status.success() && text(&out).contains("Database cluster state")
}

/// The hooks never delete data. `a` (a fenced former primary holding a row `b` lacks)
/// rejoins `b`; its rewind fails and its base backup fails twice (b's pg_hba refuses a's
/// replication connections): a's data directory stays whole (control file, the row) each
/// time. Once b accepts a again, a converges by a base backup, and its old directory is kept
/// as data.displaced-*, the row still in it. With BATON_PG_KEEP_DISPLACED copies kept, a
/// rejoin that needs another base backup is refused, and nothing is moved or deleted.
#[test]
fn a_failed_base_backup_never_loses_the_old_primarys_data() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = PgPair::new("pgkeep");
    let ctx = |pair: &PgPair| format!("{}\n{}", pair.hook_log("a"), pair.pg_logs());
    // b is promoted while a still runs (a partition): each takes writes the other lacks.
    assert!(pair.sql("b", "SELECT pg_promote()").as_deref() == Some("t"));
    for node in ["a", "b"] {
        // (ALTER SYSTEM cannot share a query string with another statement.)
        for q in [
            "ALTER SYSTEM SET synchronous_standby_names = ''",
            "SELECT pg_reload_conf()",
        ] {
            assert!(pair.sql(node, q).is_some(), "{node}: {q}");
        }
    }
    assert!(
        pair.sql("a", "INSERT INTO acked (k) VALUES ('only-on-a')")
            .is_some(),
        "a does not take the write"
    );
    pair.stop_pg_immediate("a");
    // No pg_rewind (rights taken away), no base backup for a (pg_hba).
    let revoke = "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) FROM replicator; \
                  REVOKE EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) FROM replicator";
    assert!(pair.sql("b", revoke).is_some(), "REVOKE on b failed");
    let hba = pair.dir("b").join("conf/pg_hba.conf");
    let good_hba = std::fs::read_to_string(&hba).expect("pg_hba");
    std::fs::write(
        &hba,
        format!("host replication replicator 192.0.2.1/32 reject\n{good_hba}"),
    )
    .expect("pg_hba");
    assert!(pair.sql("b", "SELECT pg_reload_conf()").is_some());

    for attempt in 1..=2 {
        let out = pair.run_script("a", "baton-pg-notify", &["backup"], &[]);
        assert!(
            !out.status.success(),
            "attempt {attempt}: the rejoin succeeded without a base backup?\n{}",
            ctx(&pair)
        );
        assert!(
            controldata_ok(&pair, "a", &pair.data("a")),
            "attempt {attempt}: a's data directory lost its control file\n{}",
            ctx(&pair)
        );
        let said = text(&out);
        // Each attempt's rewind fails before it changes anything (no rights to list the
        // files): the directory is not left marked as half rewound, and is tried again.
        assert!(
            said.contains("pg_rewind stopped before it changed anything")
                && said.contains("pg_rewind failed")
                && said.contains("pg_basebackup failed"),
            "attempt {attempt}: {said}"
        );
        assert!(said.contains("is untouched"), "attempt {attempt}: {said}");
        assert!(pair.displaced("a").is_empty());
    }
    // The original directory, as it is: it starts and has the row only it has.
    pair.start_pg("a");
    assert_eq!(
        pair.sql("a", "SELECT k FROM acked WHERE k = 'only-on-a'")
            .as_deref(),
        Some("only-on-a"),
        "{}",
        ctx(&pair)
    );
    pair.stop_pg_immediate("a");

    // The cause removed: a converges (by a base backup: the rewind still cannot run).
    std::fs::write(&hba, &good_hba).expect("pg_hba");
    assert!(pair.sql("b", "SELECT pg_reload_conf()").is_some());
    let out = pair.run_script("a", "baton-pg-notify", &["backup"], &[]);
    assert!(
        out.status.success(),
        "a does not converge: {}\n{}",
        text(&out),
        ctx(&pair)
    );
    assert!(text(&out).contains("base backup taken from 192.0.2.2"));
    assert_eq!(
        pair.sql(
            "a",
            "SELECT status FROM pg_stat_wal_receiver WHERE sender_host = '192.0.2.2'"
        )
        .as_deref(),
        Some("streaming"),
        "{}",
        ctx(&pair)
    );
    let kept = pair.displaced("a");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(controldata_ok(&pair, "a", &kept[0]));
    assert_eq!(
        read_kept_copy(
            &pair,
            "a",
            &kept[0],
            "SELECT k FROM acked WHERE k = 'only-on-a'"
        )
        .as_deref(),
        Some("only-on-a"),
        "the displaced copy lost the row only a had\n{}",
        ctx(&pair)
    );

    // At the limit: a directory that needs a base backup (its control file put aside, as a
    // partial or damaged one would lack it) is neither rewound nor displaced.
    pair.stop_pg_immediate("a");
    let control = pair.data("a").join("global/pg_control");
    let hidden = pair.data("a").join("global/pg_control.hidden");
    std::fs::rename(&control, &hidden).expect("put pg_control aside");
    let limit = [("BATON_PG_KEEP_DISPLACED", "1")];
    let out = pair.run_script("a", "baton-pg-notify", &["backup"], &limit);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not rewinding")
            && said.contains("pg_controldata cannot read its control file")
            && said.contains("not taking a base backup: 1 displaced or partial data directories"),
        "{said}"
    );
    assert_eq!(pair.displaced("a"), kept, "a displaced copy came or went");
    assert!(hidden.is_file(), "a's data directory was moved or changed");
    assert!(!pair.dir("a").join("data.basebackup").exists());
    // The refusal is in the check's output, which `baton status` shows.
    let out = pair.run_script("a", "baton-pg-check", &[], &limit);
    assert!(
        text(&out).contains("ALARM: 1 displaced or partial data directories"),
        "{}",
        text(&out)
    );
    // Put back as it was.
    std::fs::rename(&hidden, &control).expect("put pg_control back");
}

/// The post-failover window, held open: `a` fails (link down) and `b` is promoted, alone,
/// asynchronous; `a` rejoins as its replica but `b` never makes it synchronous again
/// (BATON_PG_RESTORE_SYNC=no keeps the window open for the test), so `b` acknowledges writes
/// `a` may lack. Then `b` crashes (baton killed, PostgreSQL stopped at once). Returns the run
/// and the number of acknowledged writes at the crash.
fn second_failure_in_the_post_failover_window(tag: &str, mode: &str) -> Run {
    let run = held_open_post_failover_window(tag, mode);
    let before = read_acks(&run.acks).len();
    run.wait("b acknowledges writes with a asynchronous", || {
        read_acks(&run.acks).len() > before + 20
    });
    run.pair.c.signal("b", "KILL");
    run.pair.stop_pg_immediate("b");
    eprintln!(
        "b crashed after {} acknowledged writes",
        read_acks(&run.acks).len()
    );
    run
}

/// `a` failed (link down) and came back as `b`'s asynchronous replica, BACKUP, with `b`
/// never making it synchronous again (BATON_PG_RESTORE_SYNC=no).
fn held_open_post_failover_window(tag: &str, mode: &str) -> Run {
    let mut run = start_with(
        tag,
        &[("BATON_PG_MODE", mode), ("BATON_PG_RESTORE_SYNC", "no")],
    );
    run.fail_a(Fault::LinkDown);
    run.restore_a(Fault::LinkDown);
    run.wait("a streams from b, recorded as not synchronous", || {
        run.pair
            .sql(
                "a",
                "SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'",
            )
            .as_deref()
            == Some("192.0.2.2")
            && run.pair.sync_record("a").contains("as an async standby")
            && run.state("a") == "BACKUP"
    });
    eprintln!("a's sync record: {}", run.pair.sync_record("a").trim());
    run
}

/// The first track script's detail in `node`'s status (the check's stderr tail when it fails).
fn check_detail(run: &Run, node: &str) -> String {
    let (status, _) = run.pair.c.status(node);
    status["instances"][0]["tracks"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Acknowledged keys missing on `node`.
fn missing_on(run: &Run, node: &str) -> usize {
    let acked = read_acks(&run.acks);
    let present = run.pair.keys(node);
    acked.iter().filter(|(k, _)| !present.contains(k)).count()
}

#[test]
fn zero_loss_does_not_promote_an_async_replica_in_the_post_failover_window() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let run = second_failure_in_the_post_failover_window("pgzl", "zero-loss");
    // a goes MASTER, its hook refuses, its check fails: FAULT, and status says why.
    run.wait("a leaves MASTER, its check saying why", || {
        run.state("a") == "FAULT"
            && check_detail(&run, "a").contains("must not promote (zero-loss)")
    });
    eprintln!("a's check in status: {}", check_detail(&run, "a"));
    // Its check failed before it could become MASTER, or its MASTER hook refused.
    let log = run.pair.hook_log("a");
    let masters = log.matches("VI_1 MASTER: start").count();
    assert!(
        masters <= 1 || log.contains("NOT PROMOTING"),
        "{}",
        run.context()
    );
    // And it stays so: a replica, without the VIP (b's killed baton left it on b's link).
    let promoted = poll(Duration::from_secs(5), || {
        run.pair.role("a") != Role::Replica || !run.pair.c.holders(&["a"], VIP).is_empty()
    });
    assert!(
        !promoted,
        "a was promoted or took the VIP\n{}",
        run.context()
    );
    for p in &run._procs {
        p.terminate();
    }
    std::thread::sleep(Duration::from_millis(500));
    // On the real data: every acknowledged write is on b's (its server started again).
    let acked = read_acks(&run.acks).len();
    let would_lose = missing_on(&run, "a");
    run.pair.start_pg("b");
    let lost = missing_on(&run, "b");
    println!(
        "BATON-PG-WINDOW zero-loss: {acked} acknowledged, {would_lose} not on a (promoting it would have lost them), {lost} lost"
    );
    assert_eq!(lost, 0, "{}", run.context());
}

#[test]
fn availability_promotes_an_async_replica_in_the_post_failover_window() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let t0 = now_ms();
    let run = second_failure_in_the_post_failover_window("pgav", "availability");
    let crash = now_ms();
    run.wait("a promoted: MASTER with a writable primary", || {
        run.state("a") == "MASTER" && run.pair.role("a") == Role::Writable
    });
    let log = run.pair.hook_log("a");
    assert!(
        log.contains("promoting in availability mode") && log.contains("may be lost"),
        "{log}"
    );
    let before = read_acks(&run.acks).len();
    run.wait("writes through the VIP resume on a", || {
        read_acks(&run.acks).len() > before + 5
    });
    assert_eq!(run.pair.c.holders(&["a"], VIP), ["a"]);
    let outage = run.outage_since(crash);
    for p in &run._procs {
        p.terminate();
    }
    std::thread::sleep(Duration::from_millis(500));
    let acked = read_acks(&run.acks).len();
    let lost = missing_on(&run, "a");
    println!(
        "BATON-PG-WINDOW availability: {acked} acknowledged, {lost} lost (not on a), outage {outage} ms, run {} s",
        (now_ms() - t0) / 1000
    );
}

/// A master whose database may not be promoted, beside a live primary (CI found it as a
/// partition that flapped during a rejoin): `a`, an asynchronous replica in the
/// post-failover window, becomes MASTER while b's baton is away (killed; b's PostgreSQL
/// lives). Zero-loss will not promote it, so: a's check gives the VIP back (a leaves MASTER
/// and stays FAULT while no master is heard), and when b's baton returns, b's BACKUP hook
/// does not fence its primary for a replica that would not be promoted (fencing it left the
/// pair with no primary at all). Then, the fence undone: b's primary fenced by hand while
/// a stayed a replica is started again by b's reconciler.
#[test]
fn a_master_whose_replica_may_not_be_promoted_never_leaves_the_pair_without_a_primary() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = held_open_post_failover_window("pgnofence", "zero-loss");
    let t0 = now_ms();
    run.pair.c.signal("b", "KILL");
    run.wait(
        "a, made MASTER, leaves it and stays FAULT, its check saying why",
        || {
            run.state("a") == "FAULT"
                && check_detail(&run, "a").contains("leaving the VIP to that primary's node")
        },
    );
    eprintln!("a's check in status: {}", check_detail(&run, "a"));
    assert_eq!(run.pair.role("a"), Role::Replica, "{}", run.context());
    assert_eq!(run.pair.role("b"), Role::Writable, "{}", run.context());
    let settled = poll(Duration::from_secs(5), || run.state("a") != "FAULT");
    assert!(
        !settled,
        "a left FAULT with no master heard\n{}",
        run.context()
    );
    run.start_baton("b");
    run.wait(
        "b MASTER again, a BACKUP, b's primary never stopped",
        || run.state("b") == "MASTER" && run.state("a") == "BACKUP",
    );
    assert_eq!(run.pair.role("b"), Role::Writable, "{}", run.context());
    assert!(
        !run.pair.hook_log("b").contains("fencing"),
        "b fenced its primary for a replica that would not be promoted\n{}",
        run.context()
    );
    run.invariants("a master that may not promote gave the VIP back", "b");
    // An operator makes a synchronous again (the test held the window open).
    for q in [
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
        "SELECT pg_reload_conf()",
    ] {
        assert!(run.pair.sql("b", q).is_some(), "{q} on b");
    }
    run.converged("a synchronous again");
    // b's primary fenced while b stays MASTER and a a replica (as a BACKUP hook that fenced
    // for a replica whose promotion then did not come would leave it: the mark, then the
    // server stopped at once): b restarts it. (The mark first: a hook stops, then marks, and
    // a check between the two sees a database down without a mark, so b goes FAULT and a,
    // the synchronous standby, is promoted: safe too, but not what this step shows.)
    let mark = run.pair.dir("b").join("data.baton-fenced");
    let mark = mark.display().to_string();
    run.pair.as_pg_ok("b", &["touch", &mark]);
    run.pair.stop_pg_immediate("b");
    run.converged("a fenced primary whose peer stayed a replica");
    assert!(
        run.pair
            .hook_log("b")
            .contains("restarting the local primary that was fenced"),
        "{}",
        run.context()
    );
    // The shape CI and an overloaded run found: b's primary fenced while a's database is
    // down too (there, half-way through a rejoin from b). b starts its primary again, made
    // to wait for a synchronous standby (so it acknowledges nothing while alone, nor
    // anything a server promoted across a partition would lack); a's reconciler rejoins it
    // to b and commits flow again.
    run.pair.as_pg_ok("b", &["touch", &mark]);
    run.pair.stop_pg_immediate("b");
    run.pair.stop_pg_immediate("a");
    run.converged("a fenced primary while the other database is down");
    assert!(
        run.pair.hook_log("b").contains(
            "no database answers at 192.0.2.1; started with synchronous_standby_names = '*'"
        ),
        "{}",
        run.context()
    );
    assert_eq!(run.overlaps, 0);
    run.finish("master-that-may-not-promote", t0);
}

const CONVERGE: Duration = Duration::from_secs(90);

impl Run {
    /// Within 90 s: one writable primary holding the VIP (its node MASTER) and the other
    /// server its streaming synchronous replica; then the usual invariants. Returns the
    /// primary's node and how long it took.
    fn converged(&mut self, step: &str) -> (&'static str, Duration) {
        let started = Instant::now();
        let mut primary = "";
        let ok = poll(CONVERGE, || {
            for (p, r) in [("a", "b"), ("b", "a")] {
                if self.state(p) == "MASTER"
                    && self.pair.role(p) == Role::Writable
                    && self.pair.streams_sync(r)
                    && self.pair.c.holders(&SERVERS, VIP) == [p]
                {
                    primary = p;
                    return true;
                }
            }
            false
        });
        assert!(
            ok,
            "{step}: not converged within {CONVERGE:?} (one writable primary with the VIP, one streaming synchronous replica)\n{}",
            self.context()
        );
        let took = started.elapsed();
        self.invariants(step, primary);
        eprintln!("{step}: converged in {took:?}, primary {primary}");
        (primary, took)
    }

    fn finish(&mut self, name: &str, t0: u64) {
        let outage = self.outage_since(t0);
        for p in &self._procs {
            p.terminate();
        }
        if let Some(mut probe) = self.probe_proc.take() {
            probe.stop();
        }
        std::thread::sleep(Duration::from_millis(500));
        let acked = read_acks(&self.acks).len();
        let primary = if self.pair.role("a") == Role::Writable {
            "a"
        } else {
            "b"
        };
        let lost = missing_on(self, primary);
        println!(
            "BATON-PG-FAULT {name}: {acked} acknowledged, {lost} lost, longest write outage {outage} ms, overlap windows {}",
            self.overlaps
        );
        assert_eq!(lost, 0, "{}", self.context());
    }
}

#[test]
fn a_postgres_crash_under_a_live_baton_converges() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgcrash");
    let t0 = now_ms();
    run.kill_postmaster("a");
    run.converged("PostgreSQL killed under a live baton");
    assert!(
        run.pair
            .hook_log("a")
            .contains("reconcile: the instance is"),
        "the reconciler did not run on a\n{}",
        run.context()
    );
    run.finish("postgres-crash", t0);
}

#[test]
fn baton_killed_while_postgres_lives_converges_once_it_returns() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgbatonkill");
    let t0 = now_ms();
    run.pair.c.signal("a", "KILL");
    std::thread::sleep(Duration::from_secs(20));
    run.start_baton("a");
    run.converged("baton killed, PostgreSQL alive, baton back 20 s later");
    run.finish("baton-killed", t0);
}

#[test]
fn a_hook_killed_mid_promotion_is_finished_by_the_reconciler() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start_with(
        "pgmidpromo",
        &[("BATON_PG_TEST_PAUSE_AFTER_PROMOTE", "120")],
    );
    let t0 = now_ms();
    run.pair.c.signal("a", "KILL");
    run.pair.stop_pg_immediate("a");
    // b's MASTER hook promotes, then pauses (the test knob): kill it there, as baton's
    // notify_timeout or an OOM kill would, with all its process group.
    let mut pid = String::new();
    run.wait("b's MASTER hook pauses after pg_promote", || {
        let log = run.pair.hook_log("b");
        let Some(line) = log
            .lines()
            .find(|l| l.contains("PAUSE_AFTER_PROMOTE: pausing"))
        else {
            return false;
        };
        pid = line
            .split_once("baton-pg-notify[")
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        !pid.is_empty()
    });
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(killed, "kill of the hook's process group {pid}");
    // The promotion's follow-up steps were not taken: commits wait for a standby.
    assert_eq!(run.pair.role("b"), Role::Stalled, "{}", run.context());
    run.wait("the reconciler finishes the promotion: b writable", || {
        run.pair.role("b") == Role::Writable && run.state("b") == "MASTER"
    });
    assert!(
        run.pair
            .hook_log("b")
            .contains("its promotion was not finished; finishing it"),
        "{}",
        run.context()
    );
    eprintln!("b writable again {} ms after a failed", now_ms() - t0);
    run.start_baton("a");
    run.converged("a hook killed after pg_promote");
    run.finish("hook-killed-mid-promotion", t0);
}

/// The pid of a running process whose command line contains every one of `words`.
fn process_with(words: &[&str]) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        words.iter().all(|w| cmd.contains(w)).then_some(pid)
    })
}

#[test]
fn a_hook_killed_mid_rewind_is_retried_by_the_reconciler_and_keeps_the_data() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgmidrewind");
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    run.restore_a(Fault::LinkDown);
    // a's BACKUP hook fences its primary and runs pg_rewind: kill the hook's process group
    // (pg_rewind with it) while pg_rewind runs.
    let data = run.pair.data("a").display().to_string();
    let mut rewind = None;
    let seen = poll(WAIT, || {
        rewind = process_with(&["pg_rewind", &data]);
        rewind.is_some()
    });
    assert!(seen, "pg_rewind never ran on a\n{}", run.context());
    let pgid = kill_group_of(rewind.unwrap_or_default());
    eprintln!("killed the hook's process group {pgid} during pg_rewind");
    let (primary, _) = run.converged("a hook killed during pg_rewind");
    assert_eq!(primary, "b");
    let log = run.pair.hook_log("a");
    let rewound = log
        .lines()
        .any(|l| l.contains(&format!("[{pgid}]")) && l.contains("rewound:"));
    if rewound {
        eprintln!("(pg_rewind had finished before the kill)");
    } else {
        // The half-rewound directory was neither started nor rewound again: a base backup
        // replaced it and it is kept aside.
        assert!(
            log.contains("reconcile: the instance is") && log.contains("base backup taken from"),
            "{}",
            run.context()
        );
        assert_eq!(run.pair.displaced("a").len(), 1, "{}", run.context());
    }
    run.finish("hook-killed-mid-rewind", t0);
}

#[test]
fn both_nodes_cold_started_at_once_converge() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgcold");
    let t0 = now_ms();
    run.cold_start();
    // Either may end up primary: b (recorded synchronous) may be promoted while a's database
    // is still down; then a's, a stale primary, is fenced and rejoins.
    let (primary, took) = run.converged("both nodes cold-started at once");
    eprintln!("cold start: primary {primary} after {took:?}");
    run.finish("cold-start", t0);
}

#[test]
fn a_postgres_crash_restarted_by_an_operator_converges() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgopstart");
    let t0 = now_ms();
    let pm = run.pair.postmaster("a").expect("a's postmaster");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pm.to_string()])
        .status();
    // The operator starts it again at once, by hand, while the hooks react to the crash
    // (its orphaned backends may hold the shared memory for a moment: retry).
    let pg_ctl = format!("{}/pg_ctl", pg::PGBIN);
    let conf = run.pair.dir("a").join("conf").display().to_string();
    let log = run
        .pair
        .dir("a")
        .join("postgresql.log")
        .display()
        .to_string();
    let started = poll(Duration::from_secs(20), || {
        run.pair
            .as_pg(
                "a",
                &[&pg_ctl, "start", "-D", &conf, "-w", "-t", "10", "-l", &log],
            )
            .status
            .success()
            || run.pair.postmaster("a").is_some()
    });
    assert!(
        started,
        "the operator could not start a's PostgreSQL\n{}",
        run.context()
    );
    let (primary, took) = run.converged("PostgreSQL killed, started again by an operator");
    eprintln!("operator restart: primary {primary} after {took:?}");
    run.finish("postgres-crash-operator-restart", t0);
}

/// Cut (or restore) server `node`'s path to the witness host, both ways, silently.
fn cut_witness(run: &Run, node: &str, cut: bool) {
    let lab = &run.pair.c.lab;
    if cut {
        let rules = format!(
            "table inet witcut {{\n chain o {{ type filter hook output priority 0; ip daddr \
             {WITNESS} drop; }}\n chain i {{ type filter hook input priority 0; ip saddr \
             {WITNESS} drop; }}\n}}\n"
        );
        let file = run.pair.root.path().join(format!("cut-{node}.nft"));
        std::fs::write(&file, rules).expect("write nft rules");
        lab.exec_ok(node, &["nft", "-f", &file.display().to_string()]);
    } else {
        lab.exec_ok(node, &["nft", "delete", "table", "inet", "witcut"]);
    }
}

const WITNESS: &str = "192.0.2.10";

/// Issue 16: the pair with an etcd witness on a third host. The servers are cut apart
/// while the client reaches both: with the witness on both sides, never two VIP holders;
/// with the witness reachable from b alone, a's primary is fenced when a loses the lease
/// and b promotes. Never two writable primaries in a probe round, every acknowledged write
/// on the final primary.
#[test]
fn with_a_witness_a_partition_never_makes_two_primaries() {
    if !ready() || !daemon::etcd::installed() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = PgPair::new("pgwit");
    pair.c.lab.node("w", &[&format!("{WITNESS}/24")]);
    let members = daemon::etcd::start(&pair.c, &[("w", WITNESS)]);
    let witness = daemon::etcd::witness_block(&members, "");
    let mut run = start_pair(pair, &[], witness);

    // The servers cut apart; both reach the witness (and the client reaches both). a's
    // synchronous commits wait for b, so its connections pile up until its check fails
    // and it goes FAULT, giving the lease up; b may then take over. Either way: never two
    // VIP holders (sampled every 50 ms), never two writable primaries.
    run.pair.c.lab.isolate("a", true);
    run.pair.c.lab.isolate("b", true);
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let holders = run.pair.c.holders(&SERVERS, VIP);
        assert!(
            holders.len() <= 1,
            "two VIP holders: {holders:?}\n{}",
            run.context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run.pair.c.lab.isolate("a", false);
    run.pair.c.lab.isolate("b", false);
    run.wait(
        "one master with a writable primary after the partition",
        || {
            ["a", "b"]
                .iter()
                .any(|n| run.state(n) == "MASTER" && run.pair.role(n) == Role::Writable)
        },
    );
    let primary = if run.state("a") == "MASTER" { "a" } else { "b" };
    run.invariants("partition, the witness on both sides", primary);
    if primary == "b" {
        run.fall_back(Fault::LinkDown);
    }

    // Now the servers are cut apart and a loses the witness too: it lets go and fences its
    // primary; b takes the lease over.
    let t0 = now_ms();
    cut_witness(&run, "a", true);
    run.pair.c.lab.isolate("a", true);
    run.pair.c.lab.isolate("b", true);
    run.wait("b master with a writable primary", || {
        run.state("b") == "MASTER" && run.pair.role("b") == Role::Writable
    });
    assert!(
        run.pair.hook_log("a").contains("the witness lease is lost"),
        "a's hook fenced for the lost lease\n{}",
        run.context()
    );
    run.invariants("partition, the witness with b", "b");
    let outage = run.outage_since(t0);
    eprintln!("witness failover: outage {outage} ms");

    // Everything heals, and the partition flaps while a rejoins as b's replica: the
    // servers cut apart and joined again five times, a second each way. Never two VIP
    // holders; b stays the primary with every acknowledged write.
    cut_witness(&run, "a", false);
    for _ in 0..5 {
        for cut in [false, true] {
            run.pair.c.lab.isolate("a", cut);
            run.pair.c.lab.isolate("b", cut);
            let end = Instant::now() + Duration::from_secs(1);
            while Instant::now() < end {
                let holders = run.pair.c.holders(&SERVERS, VIP);
                assert!(
                    holders.len() <= 1,
                    "two VIP holders: {holders:?}\n{}",
                    run.context()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    run.pair.c.lab.isolate("a", false);
    run.pair.c.lab.isolate("b", false);
    run.wait("b master, a streaming from it after the flapping", || {
        run.state("b") == "MASTER" && run.pair.streams_sync("a")
    });
    run.invariants("the partition flapped during the rejoin", "b");
    // And the operator falls back.
    run.fall_back(Fault::LinkDown);
    assert_eq!(run.overlaps, 0);
}

/// A base backup's WAL stream is not a replica: while a rejoin copies the data (here a
/// pg_basebackup held to 1 MB/s), the primary's check must not set
/// synchronous_standby_names back, or every commit would wait until the copy ends. Once the
/// replica itself streams again, it does.
#[test]
fn a_base_backup_in_progress_does_not_make_the_primary_synchronous_again() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = PgPair::new("pgbbw");
    let names = |pair: &PgPair| pair.sql("a", "SHOW synchronous_standby_names");
    // After a promotion, alone: the hooks cleared synchronous_standby_names.
    pair.stop_pg_immediate("b");
    for q in [
        "ALTER SYSTEM SET synchronous_standby_names = ''",
        "SELECT pg_reload_conf()",
    ] {
        pair.sql("a", q).expect("psql on a");
    }
    assert!(
        poll(WAIT, || names(&pair).as_deref() == Some("")),
        "{:?}",
        names(&pair)
    );
    // The rejoin's copy, as baton-pg-notify takes it (the replica's application_name,
    // -X stream), slowed down so that it lasts.
    let copy = pair.dir("b").join("copy");
    let conninfo = "host=192.0.2.1 user=replicator dbname=postgres application_name=b";
    let ns = pair.c.lab.ns("b");
    let copy_arg = copy.display().to_string();
    let tool = format!("{}/pg_basebackup", pg::PGBIN);
    let mut backup = pg::HostProc::spawn(&[
        "ip", "netns", "exec", &ns, "runuser", "-u", "postgres", "--", &tool, "-D", &copy_arg,
        "-d", conninfo, "-R", "-X", "stream", "-r", "1M",
    ]);
    let streaming = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'";
    assert!(
        poll(WAIT, || pair.sql("a", streaming).as_deref() == Some("1")),
        "the base backup's WAL stream never started\n{}",
        pair.pg_logs()
    );
    for _ in 0..3 {
        let out = pair.run_script("a", "baton-pg-check", &[], &[]);
        assert_eq!(
            names(&pair).as_deref(),
            Some(""),
            "the check made the primary synchronous while only a base backup streamed: {}",
            text(&out)
        );
        assert_eq!(
            pair.sql("a", streaming).as_deref(),
            Some("1"),
            "the base backup ended before the check could be shown wrong (too fast a copy)"
        );
    }
    backup.stop();
    // The replica streams again: now the check sets the names back.
    pair.start_pg("b");
    assert!(
        poll(WAIT, || {
            pair.run_script("a", "baton-pg-check", &[], &[]);
            names(&pair).as_deref() == Some("*")
        }),
        "the check never set synchronous_standby_names back once b streamed: {:?}\n{}",
        names(&pair),
        pair.pg_logs()
    );
}

/// Send SIGKILL to the whole process group of `pid` (a hook and everything it started, as
/// baton's notify_timeout or an OOM kill of the group would); returns the group.
fn kill_group_of(pid: u32) -> String {
    let pgid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_default();
    assert!(
        !pgid.is_empty() && pgid != "0",
        "the process group of {pid}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    pgid
}

/// The bytes in the files under `dir` (0 when it is missing).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// What `node`'s directory keeps beside its data: `data.partial-*` copies.
fn partial_copies(pair: &PgPair, node: &str) -> Vec<String> {
    std::fs::read_dir(pair.dir(node))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("data.partial-"))
        .collect()
}

/// On the new primary `b`, take from the replication role what pg_rewind needs, and only
/// that: a's rejoin then goes by base backup.
fn make_rewinds_fail(run: &Run) {
    let revoke = "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) FROM replicator; \
                  REVOKE EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) FROM replicator";
    assert!(run.pair.sql("b", revoke).is_some(), "REVOKE on b failed");
}

/// A hook killed while its base backup copies (held to 2 MB/s by
/// BATON_PG_BASEBACKUP_MAX_RATE, so that it lasts): a's data directory is untouched, and
/// the reconciler starts over: it removes the partial copy (part of the primary's data,
/// never started), takes a whole one and converges, the old directory kept aside.
#[test]
fn a_hook_killed_mid_base_backup_keeps_the_data_and_is_retried() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start_with("pgmidbb", &[("BATON_PG_BASEBACKUP_MAX_RATE", "2M")]);
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    make_rewinds_fail(&run);
    run.restore_a(Fault::LinkDown);
    let stage = run.pair.dir("a").join("data.basebackup");
    let stage_arg = stage.display().to_string();
    let mut copier = None;
    let copying = poll(WAIT, || {
        copier = process_with(&["pg_basebackup", &stage_arg]);
        copier.is_some() && dir_bytes(&stage) > 4 << 20
    });
    assert!(
        copying,
        "a's base backup never got 4 MB into {stage_arg}\n{}",
        run.context()
    );
    let pgid = kill_group_of(copier.unwrap_or_default());
    eprintln!("killed the hook's process group {pgid} during pg_basebackup");
    assert!(
        controldata_ok(&run.pair, "a", &run.pair.data("a")),
        "a's data directory was touched by the interrupted copy\n{}",
        run.context()
    );
    let (primary, _) = run.converged("a hook killed during its base backup");
    assert_eq!(primary, "b");
    let log = run.pair.hook_log("a");
    assert!(
        log.contains("removed the base backup interrupted in")
            && log.contains("base backup taken from 192.0.2.2"),
        "{log}"
    );
    let kept = run.pair.displaced("a");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(controldata_ok(&run.pair, "a", &kept[0]));
    assert_eq!(partial_copies(&run.pair, "a"), Vec::<String>::new());
    run.finish("hook-killed-mid-base-backup", t0);
}

/// A hook killed while it fences (BATON_PG_TEST_PAUSE_AFTER_FENCE_STOP holds it after the
/// stop, before the fence mark): a's former primary is stopped and unmarked. It is never
/// started as a primary again; once its link returns it rejoins as b's replica.
#[test]
fn a_hook_killed_while_fencing_converges() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start_with(
        "pgmidfence",
        &[("BATON_PG_TEST_PAUSE_AFTER_FENCE_STOP", "300")],
    );
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    let mut pause = None;
    let paused = poll(WAIT, || {
        pause = process_with(&["sleep", "300"]);
        pause.is_some()
            && run
                .pair
                .hook_log("a")
                .contains("stopped and not yet marked")
    });
    assert!(
        paused,
        "a's hook never paused while fencing\n{}",
        run.context()
    );
    let pgid = kill_group_of(pause.unwrap_or_default());
    eprintln!("killed the hook's process group {pgid} while it fenced");
    assert!(
        run.pair.postmaster("a").is_none(),
        "a's primary runs after the fence's stop\n{}",
        run.context()
    );
    run.restore_a(Fault::LinkDown);
    let (primary, _) = run.converged("a hook killed while fencing");
    assert_eq!(primary, "b");
    run.finish("hook-killed-while-fencing", t0);
}

/// The free bytes of the file system holding `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// `path` allocated (fallocate) so that `leave` bytes stay free on `dir`'s file system. A
/// copy writing there meanwhile may take the room measured a moment before: measured and
/// tried again, a bounded number of times.
fn fill_leaving(dir: &Path, path: &Path, leave: u64) {
    let mut tried = Vec::new();
    for _ in 0..10 {
        let bytes = free_bytes(dir).saturating_sub(leave);
        let ok = std::process::Command::new("fallocate")
            .args(["-l", &bytes.to_string()])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        tried.push(bytes);
        let _ = std::fs::remove_file(path);
    }
    panic!("fallocate {} failed at {tried:?} bytes", path.display());
}

/// Disk full on the rejoining node (its directory a 512 MB tmpfs). First too full for the
/// copy: the rejoin is refused before anything moves, and says why. Then room for it, but
/// the disk fills while the copy runs (ENOSPC): the copy fails and says why, PGDATA
/// untouched, nothing left behind. Once the operator frees the disk, the reconciler
/// converges.
#[test]
fn a_full_disk_on_the_rejoining_node_loses_nothing_and_converges_once_freed() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = PgPair::with_small_disk("pgdisk", Some(("a", "512m")));
    let mut run = start_pair(
        pair,
        &[("BATON_PG_BASEBACKUP_MAX_RATE", "2M")],
        String::new(),
    );
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    make_rewinds_fail(&run);
    let dir = run.pair.dir("a");
    // Too full for the copy (it needs the databases, a tenth more and 64 MB): 40 MB left.
    let filler = dir.join("filler");
    fill_leaving(&dir, &filler, 40 << 20);
    run.restore_a(Fault::LinkDown);
    run.wait("a's rejoin refused for want of room", || {
        run.pair
            .hook_log("a")
            .contains("not taking a base backup: no room")
    });
    assert!(controldata_ok(&run.pair, "a", &run.pair.data("a")));
    assert!(run.pair.displaced("a").is_empty());
    // Room for the copy; then the disk fills while it runs.
    std::fs::remove_file(&filler).expect("remove the filler");
    let stage = dir.join("data.basebackup");
    run.wait("a's base backup under way", || dir_bytes(&stage) > 2 << 20);
    let rest = dir.join("filler-rest");
    fill_leaving(&dir, &rest, 4 << 20);
    run.wait("a's base backup failed on the full disk", || {
        run.pair.hook_log("a").contains("pg_basebackup failed")
    });
    // Why, even though its own log could not take a line.
    let log = run.pair.hook_log("a");
    let failed = log
        .lines()
        .find(|l| l.contains("pg_basebackup failed"))
        .unwrap_or_default();
    assert!(
        failed.contains("No space left on device") || failed.contains("a full disk"),
        "{failed}"
    );
    assert!(
        controldata_ok(&run.pair, "a", &run.pair.data("a")),
        "a's data directory was touched by the failed copy\n{}",
        run.context()
    );
    assert!(run.pair.displaced("a").is_empty());
    // The operator frees the disk: the reconciler converges.
    std::fs::remove_file(&rest).expect("remove the filler");
    let (primary, _) = run.converged("the rejoining node's disk full, then freed");
    assert_eq!(primary, "b");
    let log = run.pair.hook_log("a");
    assert!(log.contains("base backup taken from 192.0.2.2"), "{log}");
    assert_eq!(run.pair.displaced("a").len(), 1);
    assert_eq!(partial_copies(&run.pair, "a"), Vec::<String>::new());
    run.finish("disk-full-on-rejoin", t0);
}

/// Without a witness: the servers cut apart while the client reaches both (each side then
/// holds the VIP: VRRP cannot tell a partition from a failure), healed, cut again while
/// the pair converges, healed. a's synchronous primary cannot acknowledge alone, b is
/// promoted; never two writable primaries in a probe round, and once healed the pair
/// converges with every acknowledged write on its primary.
#[test]
fn a_partition_healed_and_cut_again_during_the_rejoin_converges_without_loss() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgsplit");
    let t0 = now_ms();
    run.split(true);
    run.wait("b master with a writable primary in the partition", || {
        run.state("b") == "MASTER" && run.pair.role("b") == Role::Writable
    });
    std::thread::sleep(Duration::from_secs(5));
    run.invariants("partition", "b");
    run.split(false);
    // The rejoin starts (one side fences and rewinds): cut again for a few seconds, twice.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_secs(2));
        run.split(true);
        std::thread::sleep(Duration::from_secs(3));
        run.split(false);
    }
    let (primary, _) = run.converged("a partition healed, cut again during the rejoin, healed");
    eprintln!("primary after the partitions: {primary}");
    if primary == "b" {
        run.fall_back(Fault::LinkDown);
    }
    assert_eq!(run.overlaps, 0);
    run.finish("partition-flapping-without-witness", t0);
}

/// A rejoin by base backup of a database large enough that the copy takes minutes over a
/// slow link (the PostgreSQL traffic toward `a` held to 8 Mbit/s by tc; VRRP at full speed;
/// the primary's wal_sender_timeout at PostgreSQL's default, 60 s, as the README asks on
/// slow links): `baton status` on a shows the copy's progress while b keeps acknowledging
/// writes alone, a's PGDATA stays as it was until the copy is complete, and the pair
/// converges with every acknowledged write.
#[test]
fn a_rejoin_over_a_slow_link_shows_its_progress_and_converges() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start("pgslow");
    // About 20 MB more, uncompressible, below the TOAST threshold: 20,000 rows of 1 kB.
    let bulk = "CREATE TABLE bulk AS SELECT g, lpad('', 1000, md5(random()::text || g)) AS pad \
                FROM generate_series(1, 20000) g";
    assert!(run.pair.sql("a", bulk).is_some(), "bulk load on a");
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    make_rewinds_fail(&run);
    for q in [
        "ALTER SYSTEM SET wal_sender_timeout = '60s'",
        "SELECT pg_reload_conf()",
    ] {
        assert!(run.pair.sql("b", q).is_some(), "b: {q}");
    }
    run.pair.c.lab.throttle_toward("a", 5432, Some("8mbit"));
    run.restore_a(Fault::LinkDown);
    // The copy's progress, as the operator sees it: distinct percentages.
    let mut seen = std::collections::BTreeSet::new();
    let copied = poll(Duration::from_secs(600), || {
        let status = text(&run.pair.c.baton("a", &["status"]));
        if let Some(p) = status
            .split("rejoining: pg_basebackup ")
            .nth(1)
            .and_then(|r| r.split(" %").next())
            .and_then(|n| n.trim().parse::<u32>().ok())
        {
            seen.insert(p);
        }
        run.pair.streams_sync("a")
    });
    assert!(
        copied,
        "a never streamed again over the slow link\n{}",
        run.context()
    );
    assert!(
        seen.len() >= 3,
        "baton status on a showed the copy's progress at {seen:?} only\n{}",
        run.context()
    );
    let took = |log: &str| {
        let at = |what: &str| {
            log.lines()
                .find(|l| l.contains(what))
                .and_then(|l| l.get(..23))
                .map(str::to_owned)
        };
        (
            at("taking a base backup from"),
            at("base backup taken from"),
        )
    };
    eprintln!(
        "progress seen in baton status: {} distinct percentages; the copy: {:?}",
        seen.len(),
        took(&run.pair.hook_log("a"))
    );
    run.pair.c.lab.throttle_toward("a", 5432, None);
    let (primary, _) = run.converged("a rejoin by base backup over a slow link");
    assert_eq!(primary, "b");
    let log = run.pair.hook_log("a");
    assert!(log.contains("base backup taken from 192.0.2.2"), "{log}");
    assert_eq!(run.pair.displaced("a").len(), 1);
    run.finish("slow-link-rejoin", t0);
}

impl Run {
    /// `scripts/soak-postgres`: faults drawn at random from SOAK_FAULTS (those that
    /// `BATON_PG_FAULTS` allows) until `length` has passed, each from a healthy pair and
    /// followed by convergence within 90 s (a stuck state ends the soak with the logs),
    /// the invariants, and `baton fallback` when b ended up primary. Returns each round's
    /// fault and write outage. `BATON_PG_SEED` repeats a draw.
    fn soak(&mut self, length: Duration) -> Vec<(&'static str, u64)> {
        use rand::{Rng, SeedableRng};
        let seed = std::env::var("BATON_PG_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(now_ms);
        eprintln!("soak: seed {seed} (BATON_PG_SEED={seed} repeats the draw)");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let faults: Vec<&'static str> = SOAK_FAULTS.into_iter().filter(|f| chosen(f)).collect();
        assert!(!faults.is_empty(), "BATON_PG_FAULTS leaves no fault");
        let end = Instant::now() + length;
        let mut rounds = Vec::new();
        while Instant::now() < end {
            let fault = faults[rng.random_range(0..faults.len())];
            eprintln!("=== soak round {}: {fault}", rounds.len() + 1);
            let t0 = now_ms();
            self.inject(fault, &mut rng);
            let (primary, _) = self.converged(&format!("soak: {fault}"));
            let outage = self.outage_since(t0);
            eprintln!("soak: {fault}: outage {outage} ms, primary {primary}");
            rounds.push((fault, outage));
            if primary == "b" {
                self.fall_back(Fault::LinkDown);
            } else {
                // Healthy again only once b knows it is the synchronous standby (zero-loss
                // promotes nothing else): as fall_back waits for it.
                self.wait("b recorded as the synchronous standby", || {
                    self.pair.sync_record("b").starts_with("sync at ")
                });
            }
        }
        rounds
    }

    /// The two servers cut apart (or joined again); the client reaches both.
    fn split(&self, cut: bool) {
        self.pair.c.lab.isolate("a", cut);
        self.pair.c.lab.isolate("b", cut);
    }

    /// One soak fault on a healthy pair whose primary is a, and its end (restore, restart,
    /// heal); convergence is the caller's.
    fn inject(&mut self, fault: &str, rng: &mut rand::rngs::StdRng) {
        use rand::Rng;
        match fault {
            "crash" | "link" | "freeze" => {
                let f = FAULTS
                    .into_iter()
                    .find(|f| f.name() == fault)
                    .unwrap_or(Fault::Crash);
                self.fail_a(f);
                self.restore_a(f);
            }
            "pg-crash" => self.kill_postmaster("a"),
            "baton-killed" => {
                self.pair.c.signal("a", "KILL");
                std::thread::sleep(Duration::from_secs(20));
                self.start_baton("a");
            }
            "partition" => {
                for cut in [true, false] {
                    self.split(cut);
                    if cut {
                        self.wait("b master with a writable primary in the partition", || {
                            self.state("b") == "MASTER" && self.pair.role("b") == Role::Writable
                        });
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
            }
            "partition-flap" => {
                self.inject("partition", rng);
                // The rejoin starts (one side fences and rewinds): cut it short again.
                for _ in 0..rng.random_range(1..=3) {
                    std::thread::sleep(Duration::from_millis(rng.random_range(500..4000)));
                    self.split(true);
                    std::thread::sleep(Duration::from_millis(rng.random_range(500..4000)));
                    self.split(false);
                }
            }
            "cold-start" => self.cold_start(),
            other => panic!("no such soak fault: {other}"),
        }
    }
}

/// PostgreSQL started on a's data directory (by its unit at boot, or by hand) while a's
/// rejoin copies b's data: the copy is not installed over a running server (a server keeps
/// running on a directory renamed under it, and would live on in `data.displaced-*`). The
/// hooks fence the server again and converge; a's postmaster runs on PGDATA itself.
#[test]
fn a_server_started_during_the_rejoin_copy_is_never_moved_under_it() {
    if !ready() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = start_with("pgstartcopy", &[("BATON_PG_BASEBACKUP_MAX_RATE", "2M")]);
    let t0 = now_ms();
    run.fail_a(Fault::LinkDown);
    make_rewinds_fail(&run);
    run.restore_a(Fault::LinkDown);
    let stage = run.pair.dir("a").join("data.basebackup");
    run.wait("a's base backup under way", || dir_bytes(&stage) > 2 << 20);
    let out = run.pair.try_start_pg("a");
    eprintln!("pg_ctl start on a during the copy: {}", text(&out));
    run.wait("the copy not installed over the running server", || {
        run.pair
            .hook_log("a")
            .contains("not installing the base backup: PostgreSQL was started on")
    });
    let (primary, _) = run.converged("a server started during the rejoin's copy");
    assert_eq!(primary, "b");
    let pm = run.pair.postmaster("a").expect("a's postmaster");
    let cwd = std::fs::read_link(format!("/proc/{pm}/cwd")).expect("the postmaster's cwd");
    assert_eq!(
        cwd,
        run.pair.data("a"),
        "a's postmaster runs on a directory moved under it\n{}",
        run.context()
    );
    run.finish("server-started-during-the-copy", t0);
}

impl Run {
    /// kill -9 of `node`'s postmaster (its baton lives on).
    fn kill_postmaster(&self, node: &str) {
        let pm = self.pair.postmaster(node).expect("the postmaster");
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pm.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(killed, "kill -9 of {node}'s postmaster");
    }

    /// Both servers lose power (baton and PostgreSQL gone at once on each) and boot: baton
    /// first (its checks fail while the databases are down), then the databases, as a boot
    /// without ordering between the two units could. A hook already at work may stop a
    /// server as it starts (to rewind it): like a unit that fails at boot, that is left to
    /// the hooks, which start it again.
    fn cold_start(&mut self) {
        for node in SERVERS {
            self.pair.c.signal(node, "KILL");
            self.pair.stop_pg_immediate(node);
        }
        std::thread::sleep(Duration::from_secs(2));
        for node in SERVERS {
            self.start_baton(node);
        }
        for node in SERVERS {
            let out = self.pair.try_start_pg(node);
            if !out.status.success() {
                eprintln!(
                    "pg_ctl start on {node} failed (a hook at work): {}",
                    text(&out)
                );
            }
        }
    }
}
