//! Notify hooks, tracking and sync groups against real daemons in namespaces: what the
//! hooks wrote and in which order, hung hooks killed, script security, `script_user`,
//! the notify FIFO, track scripts/interfaces/files moving the VIP, and sync groups
//! moving together.

mod daemon;
mod lab;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{Cluster, Instance, SETTLE};
use lab::{IFNAME, poll, require_root};

const VIP: &str = "192.0.2.100/24";
const VIP2: &str = "192.0.2.101/24";
const SERVERS: [&str; 2] = ["a", "b"];

fn pair(tag: &str) -> Cluster {
    Cluster::new(tag, &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])])
}

/// Write an executable script (mode 0755) at `path`.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A hook that logs its start (with arguments and environment), works for `seconds`,
/// and logs its end, all into `log`.
fn logging_hook(dir: &Path, name: &str, log: &Path, seconds: &str) -> PathBuf {
    let path = dir.join(name);
    script(
        &path,
        &format!(
            "echo \"start $$ $* | $BATON_TYPE $BATON_NAME $BATON_STATE from $BATON_PREVIOUS_STATE \
             vips=$BATON_VIPS vrid=$BATON_VRID\" >> {log}\nsleep {seconds}\necho \"end $$\" >> {log}",
            log = log.display()
        ),
    );
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The hook log's "start" lines, without the pid.
fn starts(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix("start "))
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .collect()
}

/// Every start is followed by the end of the same process before the next start.
fn assert_never_overlapping(log: &str) {
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len() % 2, 0, "unfinished hook:\n{log}");
    for pair in lines.chunks(2) {
        let pid_of = |l: &str| l.split_whitespace().nth(1).map(str::to_owned);
        assert!(
            pair[0].starts_with("start ") && pair[1].starts_with("end "),
            "{log}"
        );
        assert_eq!(pid_of(pair[0]), pid_of(pair[1]), "hooks overlapped:\n{log}");
    }
}

/// The states `node` entered, in order, from its log (`INIT` on shutdown is `STOP`).
fn entered(c: &Cluster, node: &str) -> Vec<String> {
    c.transitions(node)
        .iter()
        .filter_map(|l| l.split(" -> ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|s| if s == "INIT" { "STOP" } else { s }.to_string())
        .collect()
}

/// Start a alone with one global_defs line and `instance`; wait until it holds the VIP
/// and answers.
fn start_alone(c: &mut Cluster, global: &str, instance: Instance) {
    let config = format!("global_defs {{\n    {global}\n}}\n{}", instance.render());
    c.start("a", &config);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
}

#[test]
fn hooks_run_one_at_a_time_in_transition_order_with_keepalived_arguments() {
    if !require_root() {
        return;
    }
    let mut c = pair("hooks");
    let log = c.dir.path().join("hooks.log");
    let hook = logging_hook(c.dir.path(), "hook.sh", &log, "0.15");
    let h = hook.display();
    let a = Instance::fast(150, VIP)
        .with(format!("notify_master \"{h} master\""))
        .with(format!("notify_backup \"{h} backup\""))
        .with(format!("notify_stop \"{h} stop\""))
        .with(format!("notify {h}"));
    c.start("b", &Instance::fast(100, VIP).render());
    c.start("a", &a.render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    // Many fast transitions: each lock makes a resign, each unlock lets it preempt again,
    // while every hook takes 0.15 s, so they queue up.
    for _ in 0..4 {
        assert!(c.baton("a", &["lock", "VI_1"]).status.success());
        assert!(c.baton("a", &["unlock", "VI_1"]).status.success());
        c.expect_holders(&SERVERS, VIP, &["a"]);
    }
    c.daemon("a").proc.terminate();
    assert!(
        c.daemon("a").proc.wait_timeout(SETTLE).is_some(),
        "a did not stop\n{}",
        c.all_logs()
    );
    let text = read(&log);
    assert_never_overlapping(&text);
    let mut expected = Vec::new();
    for state in entered(&c, "a") {
        let own = state.to_lowercase();
        expected.push(format!("{own} |"));
        expected.push(format!("INSTANCE VI_1 {state}"));
    }
    assert!(
        expected.len() >= 2 * 10,
        "too few transitions: {expected:?}"
    );
    let got = starts(&text);
    assert_eq!(got.len(), expected.len(), "{text}\n{}", c.log("a"));
    for (line, want) in got.iter().zip(&expected) {
        assert!(
            line.starts_with(want.as_str()),
            "{line:?} should start with {want:?}\n{text}"
        );
    }
    // The generic hook's 4th argument is the priority; the environment has the facts.
    let first_master = got
        .iter()
        .find(|l| l.starts_with("INSTANCE VI_1 MASTER"))
        .expect("a MASTER notify");
    assert!(
        first_master.starts_with(
            "INSTANCE VI_1 MASTER 150 | INSTANCE VI_1 MASTER from BACKUP vips=192.0.2.100 vrid=51"
        ),
        "{first_master}"
    );
    assert!(
        got.last()
            .is_some_and(|l| l.starts_with("INSTANCE VI_1 STOP 150")),
        "{text}"
    );
}

#[test]
fn a_hung_hook_is_killed_with_its_children_and_the_next_one_runs() {
    if !require_root() {
        return;
    }
    let mut c = pair("hung");
    let dir = c.dir.path().to_path_buf();
    let hung = dir.join("hung.sh");
    let child_pid = dir.join("child.pid");
    script(
        &hung,
        &format!("sleep 300 &\necho $! > {}\nwait", child_pid.display()),
    );
    let backup_ran = dir.join("backup.ran");
    let backup = dir.join("backup.sh");
    script(&backup, &format!("echo ran >> {}", backup_ran.display()));
    start_alone(
        &mut c,
        "notify_timeout 1",
        Instance::fast(150, VIP)
            .with(format!("notify_master {}", hung.display()))
            .with(format!("notify_backup {}", backup.display())),
    );
    // The startup BACKUP hook ran; then MASTER's hook hangs until it is killed.
    let killed = poll(SETTLE, || {
        c.status("a").0["instances"][0]["last_hook"]["timed_out"] == true
    });
    let (status, code) = c.status("a");
    assert!(killed, "{status}\n{}", c.all_logs());
    let hook = &status["instances"][0]["last_hook"];
    assert_eq!(hook["hook"], "notify_master");
    assert_eq!(hook["ok"], false);
    let duration = hook["duration_s"].as_f64().unwrap();
    assert!((1.0..5.0).contains(&duration), "killed after {duration}s");
    eprintln!("notify_timeout 1: the hung hook was killed after {duration:.3}s");
    assert_eq!(code, 1, "a failed hook is a WARNING: {status}");
    let alarms = status["instances"][0]["alarms"].to_string();
    assert!(
        alarms.contains("hook failed: notify_master for MASTER"),
        "{alarms}"
    );
    // The hook's child went with its process group.
    let pid = read(&child_pid).trim().to_string();
    assert!(!pid.is_empty(), "the hook never started its child");
    assert!(
        poll(SETTLE, || !Path::new(&format!("/proc/{pid}")).exists()),
        "the hook's child {pid} is still running"
    );
    // The next event's hook still runs.
    assert!(c.baton("a", &["resign", "VI_1"]).status.success());
    assert!(
        poll(SETTLE, || read(&backup_ran).lines().count() == 2),
        "notify_backup did not run after the killed hook\n{}",
        c.log("a")
    );
    // The hook wrote its file before it exited; its outcome reaches status a moment later.
    let reported = poll(SETTLE, || {
        c.status("a").0["instances"][0]["last_hook"]["hook"] == "notify_backup"
    });
    let (status, _) = c.status("a");
    assert!(reported, "{status}");
    assert_eq!(status["instances"][0]["last_hook"]["ok"], true);
}

#[test]
fn script_security_refuses_a_script_other_users_can_write() {
    if !require_root() {
        return;
    }
    let mut c = pair("secure");
    let open_dir = c.dir.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = c.dir.path().join("ran");
    let hook = open_dir.join("hook.sh");
    script(&hook, &format!("touch {}", marker.display()));
    start_alone(
        &mut c,
        "enable_script_security",
        Instance::fast(150, VIP).with(format!("notify_master {}", hook.display())),
    );
    let refused = poll(SETTLE, || {
        c.status("a").0["instances"][0]["last_hook"]["error"].is_string()
    });
    let (status, _) = c.status("a");
    assert!(refused, "{status}");
    let error = status["instances"][0]["last_hook"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("refused by enable_script_security")
            && error.contains(&open_dir.display().to_string())
            && error.contains("writable by every user"),
        "{error}"
    );
    assert!(!marker.exists(), "the insecure script ran");
}

#[test]
fn hooks_run_as_script_user_and_shell_lines_use_the_shell() {
    if !require_root() {
        return;
    }
    let mut c = pair("user");
    // nobody must reach the output directory.
    std::fs::set_permissions(c.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = c.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let uid_file = out_dir.join("uid");
    start_alone(
        &mut c,
        "script_user nobody",
        Instance::fast(150, VIP).with(format!(
            "notify_master \"id -u > {} && echo $BATON_STATE >> {}\"",
            uid_file.display(),
            uid_file.display()
        )),
    );
    assert!(
        poll(SETTLE, || read(&uid_file).lines().count() == 2),
        "{}",
        c.log("a")
    );
    let text = read(&uid_file);
    let mut lines = text.lines();
    let nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    assert_eq!(
        lines.next(),
        Some(String::from_utf8_lossy(&nobody.stdout).trim())
    );
    assert_eq!(lines.next(), Some("MASTER"));
}

#[test]
fn the_notify_fifo_gets_keepalived_lines() {
    if !require_root() {
        return;
    }
    let mut c = pair("fifo");
    let fifo = c.dir.path().join("notify.fifo");
    start_alone(
        &mut c,
        &format!("vrrp_notify_fifo {}", fifo.display()),
        Instance::fast(150, VIP),
    );
    // baton keeps the FIFO open read-write, so the lines wait in it for a reader.
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO");
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let ok = poll(SETTLE, || {
        if let Ok(n) = reader.read(&mut buf) {
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        text.lines().count() >= 2
    });
    assert!(ok, "{text:?}\n{}", c.log("a"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER 150"
        ]
    );
}

/// a (150, tracking `extra`) and b (100); a holds the VIP.
fn tracking_pair(tag: &str, global: &str, extra: &[String]) -> Cluster {
    let mut c = pair(tag);
    let mut a = Instance::fast(150, VIP);
    for line in extra {
        a = a.with(line.clone());
    }
    c.start("b", &Instance::fast(100, VIP).render());
    c.start("a", &format!("{global}{}", a.render()));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    c
}

fn instance(c: &Cluster, node: &str) -> serde_json::Value {
    c.status(node).0["instances"][0].clone()
}

#[test]
fn a_failing_track_script_lowers_priority_and_the_vip_moves() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let down = dir.path().join("down");
    let global = format!(
        "vrrp_script chk_db {{\n    script \"/bin/sh -c '! test -e {}'\"\n    interval 0.2\n    \
         weight -60\n    fall 2\n    rise 2\n}}\n",
        down.display()
    );
    let c = tracking_pair(
        "tscript",
        &global,
        &["track_script {\n        chk_db\n    }".into()],
    );
    std::fs::write(&down, "").unwrap();
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = instance(&c, "a");
    assert_eq!(a["priority"], 90, "{a}");
    assert_eq!(a["base_priority"], 150);
    assert_eq!(a["tracks"][0]["kind"], "script");
    assert_eq!(a["tracks"][0]["up"], false);
    assert_eq!(a["tracks"][0]["effect"], "-60");
    assert!(
        a["alarms"]
            .to_string()
            .contains("tracking failed: script chk_db"),
        "{a}"
    );
    std::fs::remove_file(&down).unwrap();
    c.expect_holders(&SERVERS, VIP, &["a"]);
    assert_eq!(instance(&c, "a")["priority"], 150);
}

#[test]
fn a_tracked_interface_with_weight_zero_means_fault() {
    if !require_root() {
        return;
    }
    let mut c = pair("tiface");
    let a = Instance::fast(150, VIP)
        .with("track_interface {\n        trk0\n        trk1 weight -60\n    }");
    c.start("b", &Instance::fast(100, VIP).render());
    c.start("a", &a.render());
    c.wait_for_socket("a");
    // trk0 does not exist yet: a starts in FAULT and b takes the VIP.
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(instance(&c, "a")["state"], "FAULT");
    // The interfaces appear after start: the daemon learns them from netlink.
    for name in ["trk0", "trk1"] {
        let peer = format!("{name}p");
        c.lab.exec_ok(
            "a",
            &[
                "ip", "link", "add", name, "type", "veth", "peer", "name", &peer,
            ],
        );
        c.lab.exec_ok("a", &["ip", "link", "set", &peer, "up"]);
        c.lab.exec_ok("a", &["ip", "link", "set", name, "up"]);
    }
    c.expect_holders(&SERVERS, VIP, &["a"]);
    assert!(poll(SETTLE, || instance(&c, "a")["state"] == "MASTER"));
    c.lab.exec_ok("a", &["ip", "link", "set", "trk1", "down"]);
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(instance(&c, "a")["priority"], 90);
    c.lab.exec_ok("a", &["ip", "link", "set", "trk1", "up"]);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.lab.exec_ok("a", &["ip", "link", "set", "trk0", "down"]);
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = instance(&c, "a");
    assert_eq!(a["state"], "FAULT", "{a}");
    assert!(
        a["alarms"]
            .to_string()
            .contains("in FAULT: interface trk0 is down"),
        "{a}"
    );
    c.lab.exec_ok("a", &["ip", "link", "set", "trk0", "up"]);
    c.expect_holders(&SERVERS, VIP, &["a"]);
}

#[test]
fn a_track_file_adds_its_value_or_faults_with_weight_zero() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prio = dir.path().join("prio");
    let maint = dir.path().join("maint");
    let global = format!(
        "track_file prio {{\n    file {}\n    weight -1\n    init_file 0\n}}\n\
         track_file maint {{\n    file {}\n    weight 0\n}}\n",
        prio.display(),
        maint.display()
    );
    let c = tracking_pair(
        "tfile",
        &global,
        &["track_file {\n        prio\n        maint\n    }".into()],
    );
    assert_eq!(read(&prio), "0\n", "init_file wrote the file");
    std::fs::write(&prio, "70\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(instance(&c, "a")["priority"], 80);
    std::fs::write(&prio, "0\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["a"]);
    std::fs::write(&maint, "1\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["b"]);
    assert_eq!(instance(&c, "a")["state"], "FAULT");
    std::fs::write(&maint, "0\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["a"]);
}

/// Two instances in one sync group, with the group's notify hook.
fn group_config(priority: u8, maint: &Path, hook: &Path) -> String {
    let one = |name: &str, vrid: u8, vip: &str, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    interface {IFNAME}\n    virtual_router_id {vrid}\n    \
             version 3\n    priority {priority}\n    advert_int 0.1\n{track}    \
             virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "track_file maint {{\n    file {}\n    weight 0\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify {}\n}}\n{}{}",
        maint.display(),
        hook.display(),
        one("VI_1", 51, VIP, "    track_file {\n        maint\n    }\n"),
        one("VI_2", 52, VIP2, ""),
    )
}

#[test]
fn a_sync_group_moves_together_when_one_member_faults() {
    if !require_root() {
        return;
    }
    let mut c = pair("group");
    let dir = c.dir.path().to_path_buf();
    let log = dir.join("group-a.log");
    let hook_a = logging_hook(&dir, "hook-a.sh", &log, "0");
    let hook_b = logging_hook(&dir, "hook-b.sh", &dir.join("group-b.log"), "0");
    let (maint_a, maint_b) = (dir.join("maint-a"), dir.join("maint-b"));
    c.start("b", &group_config(100, &maint_b, &hook_b));
    c.start("a", &group_config(150, &maint_a, &hook_a));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_holders(&SERVERS, VIP2, &["a"]);
    c.wait_for_socket("a");
    // Only VI_1 tracks the file; VI_2 follows it into FAULT.
    std::fs::write(&maint_a, "1\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["b"]);
    c.expect_holders(&SERVERS, VIP2, &["b"]);
    let (status, _) = c.status("a");
    let states: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["FAULT", "FAULT"], "{status}");
    let vi2 = &status["instances"][1];
    assert_eq!(vi2["sync_group"], "G");
    assert!(
        vi2["faults"][0]
            .as_str()
            .unwrap()
            .contains("sync group G: member VI_1 is in FAULT"),
        "{vi2}"
    );
    std::fs::write(&maint_a, "0\n").unwrap();
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.expect_holders(&SERVERS, VIP2, &["a"]);
    // The group hook ran once per group state, with GROUP arguments.
    let text = read(&log);
    let groups: Vec<String> = starts(&text)
        .into_iter()
        .filter(|l| l.starts_with("GROUP G "))
        .collect();
    let a_states: Vec<&str> = groups
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        a_states,
        ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"],
        "{text}\n{}",
        c.log("a")
    );
    assert!(
        groups[1].contains("| GROUP G MASTER from BACKUP vips=192.0.2.100 192.0.2.101 vrid="),
        "{groups:?}"
    );
}

#[test]
fn flap_damping_holds_a_flapping_node_back_across_restarts() {
    if !require_root() {
        return;
    }
    let mut c = pair("flap");
    let a = Instance::fast(150, VIP).with("flap_damping 3 60 30");
    c.start("b", &Instance::fast(100, VIP).render());
    c.start("a", &a.render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    // a loses the VIP and takes it back: master twice more makes three times in 60 s.
    for _ in 0..2 {
        assert!(
            c.baton("a", &["resign", "VI_1", "--hold", "0"])
                .status
                .success()
        );
        c.expect_holders(&SERVERS, VIP, &["a"]);
    }
    let (status, code) = c.status("a");
    let alarms = status["instances"][0]["alarms"].to_string();
    assert!(
        alarms.contains("flapping: became master 3 times within 60s"),
        "{alarms}"
    );
    assert_eq!(code, 1, "{status}");
    // Now it does not take the VIP back from b...
    assert!(
        c.baton("a", &["resign", "VI_1", "--hold", "0"])
            .status
            .success()
    );
    c.expect_holders(&SERVERS, VIP, &["b"]);
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(1));
    // ...not even after a restart of its daemon (the count is kept in the state dir)...
    c.daemon("a").proc.terminate();
    assert!(c.daemon("a").proc.wait_timeout(SETTLE).is_some());
    c.start("a", &a.render());
    c.wait_for_socket("a");
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_secs(1));
    let (status, _) = c.status("a");
    assert!(
        status["instances"][0]["flap_hold_s"].as_f64().unwrap() > 20.0,
        "{status}"
    );
    // ...but the operator can still move it back.
    let out = c.baton("a", &["fallback", "VI_1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
}

#[test]
fn a_reload_applies_new_tracking_and_hooks() {
    if !require_root() {
        return;
    }
    let mut c = pair("retrack");
    let dir = c.dir.path().to_path_buf();
    let file = dir.join("value");
    std::fs::write(&file, "10\n").unwrap();
    let config = |weight: i32, hook: &str| {
        format!(
            "track_file value {{\n    file {}\n    weight {weight}\n}}\n{}",
            file.display(),
            Instance::fast(150, VIP)
                .with("track_file {\n        value\n    }")
                .with(hook.to_string())
                .render()
        )
    };
    c.start("a", &config(1, ""));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    assert!(poll(SETTLE, || instance(&c, "a")["priority"] == 160));
    let marker = dir.join("backup.ran");
    c.rewrite(
        "a",
        &config(-2, &format!("notify_backup \"touch {}\"", marker.display())),
    );
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(poll(SETTLE, || instance(&c, "a")["priority"] == 130));
    // The new hook is the one that runs.
    assert!(c.baton("a", &["resign", "VI_1"]).status.success());
    assert!(poll(SETTLE, || marker.exists()), "{}", c.log("a"));
}

#[test]
fn a_master_that_cannot_send_adverts_logs_it_once_and_raises_an_alarm() {
    if !require_root() {
        return;
    }
    let mut c = pair("sendfail");
    start_alone(&mut c, "notify_timeout 5", Instance::fast(150, VIP));
    let nft = |args: &[&str]| {
        let mut cmd = vec!["nft"];
        cmd.extend_from_slice(args);
        c.lab.exec_ok("a", &cmd);
    };
    // The master's own VRRP output is refused (EPERM), as a firewall rule would.
    nft(&["add", "table", "inet", "t"]);
    nft(&[
        "add",
        "chain",
        "inet",
        "t",
        "out",
        "{ type filter hook output priority 0; }",
    ]);
    nft(&[
        "add", "rule", "inet", "t", "out", "ip", "protocol", "112", "drop",
    ]);
    let unsent = || instance(&c, "a")["counters"]["adverts_unsent"].as_u64();
    assert!(
        poll(Duration::from_secs(10), || unsent() >= Some(20)),
        "{}",
        instance(&c, "a")
    );
    let (status, code) = c.status("a");
    let alarms = status["instances"][0]["alarms"].to_string();
    assert!(alarms.contains("adverts cannot be sent"), "{status}");
    assert!(
        alarms.contains("to 224.0.0.18 on veth0 failed: Operation not permitted"),
        "{status}"
    );
    assert_eq!(code, 2, "CRITICAL: {status}");
    // 20 and more failures, one warning (the next comes after 10 s).
    let log = c.log("a");
    assert_eq!(log.matches("cannot send an advert").count(), 1, "{log}");
    nft(&["delete", "table", "inet", "t"]);
    assert!(
        poll(Duration::from_secs(10), || c
            .log("a")
            .contains("adverts are sent again, after")),
        "{}",
        c.log("a")
    );
    let a = instance(&c, "a");
    assert!(!a["alarms"].to_string().contains("adverts cannot"), "{a}");
    assert_eq!(a["state"], "MASTER", "{a}");
}

/// An instance removed by a reload takes its state with it: added back, it shows no hook
/// result, verdict or alarm of the instance it replaces.
#[test]
fn an_instance_removed_and_added_back_by_a_reload_starts_afresh() {
    if !require_root() {
        return;
    }
    let mut c = pair("afresh");
    let failing = Instance::fast(150, VIP).with("notify_master /bin/false");
    start_alone(&mut c, "", failing);
    assert!(
        poll(SETTLE, || instance(&c, "a")["last_hook"]["ok"] == false),
        "{}",
        c.log("a")
    );
    let (status, code) = c.status("a");
    assert_eq!(code, 1, "a failed hook is a WARNING: {status}");
    let reload = |c: &Cluster, config: &str| {
        c.rewrite("a", config);
        let out = c.baton("a", &["reconfigure"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // VI_1 goes, another instance (on its own VRID) stays so the reload is not refused.
    let other = Instance::fast(150, VIP2)
        .render()
        .replace("VI_1", "VI_OTHER")
        .replace("virtual_router_id 51", "virtual_router_id 52");
    reload(&c, &other);
    assert!(poll(SETTLE, || {
        let (status, _) = c.status("a");
        status["instances"]
            .as_array()
            .is_some_and(|list| list.len() == 1)
            && status["instances"][0]["name"] == "VI_OTHER"
    }));
    // VI_1 again, without the hook: nothing of the old one is shown.
    reload(&c, &format!("{other}{}", Instance::fast(150, VIP).render()));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let (status, code) = c.status("a");
    let vi1 = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "VI_1")
        .cloned()
        .unwrap_or_else(|| panic!("VI_1 is back: {status}"));
    assert!(vi1["last_hook"].is_null(), "{vi1}");
    assert!(!vi1["alarms"].to_string().contains("hook failed"), "{vi1}");
    assert_eq!(code, 0, "{status}");
}

/// A reload that restarts an instance (here VRRP version 3 -> 2) runs the old one's STOP
/// hook; its result belongs to the instance it ran for, not to the one that replaced it.
#[test]
fn a_restarted_instance_does_not_show_the_hook_of_the_one_it_replaced() {
    if !require_root() {
        return;
    }
    let mut c = pair("incarn");
    let config = |version: u8| {
        let mut i = Instance::fast(150, VIP).with("notify_stop /bin/false");
        i.version = version;
        i.advert_int = "1";
        i
    };
    start_alone(&mut c, "", config(3));
    c.rewrite("a", &config(2).render());
    let out = c.baton("a", &["reconfigure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
    // The old instance's notify_stop ran (and failed) ...
    assert!(
        poll(SETTLE, || c
            .log("a")
            .contains("notify_stop for STOP failed")),
        "{}",
        c.log("a")
    );
    // ... and the new one shows no hook of its own, nor an alarm.
    let (status, code) = c.status("a");
    let vi1 = &status["instances"][0];
    assert_eq!(vi1["version"], 2, "{status}");
    assert!(vi1["last_hook"].is_null(), "{vi1}");
    assert_eq!(code, 0, "{status}");
}
