//! keepalived's process settings (`vrrp_rt_priority`, `vrrp_priority`, `vrrp_no_swap`) are
//! applied when `baton run` starts, as /proc shows them; without the capability the daemon
//! says so and runs anyway. Needs root (CI runs as root).

mod daemon;
mod lab;

use std::os::unix::fs::PermissionsExt;

use daemon::{Cluster, Instance};
use lab::{poll, require_root};

const GLOBAL: &str =
    "global_defs {\n    vrrp_rt_priority 20\n    vrrp_priority -5\n    vrrp_no_swap\n}\n";

/// Fields of /proc/PID/stat, numbered as in proc(5) (1 = pid).
fn stat_field(pid: u64, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    field(&stat, n)
}

/// Field `n` of the text of a /proc/PID/stat file.
fn field(stat: &str, n: usize) -> i64 {
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("field {n} of {stat}"))
}

fn locked_kb(pid: u64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmLck")
}

fn started(c: &Cluster) -> u64 {
    c.wait_for_socket("a");
    let ok = poll(daemon::SETTLE, || {
        c.status("a").0["instances"][0]["state"] == "MASTER"
    });
    assert!(ok, "a never became master\n{}", c.all_logs());
    c.status("a").0["pid"].as_u64().expect("pid")
}

#[test]
fn real_time_priority_nice_and_locked_memory_are_applied_at_start() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("rt", &[("a", &["192.0.2.1/24"])]);
    let config = format!("{GLOBAL}{}", Instance::fast(150, "192.0.2.100/24").render());
    c.start("a", &config);
    let pid = started(&c);
    assert_eq!(stat_field(pid, 41), 2, "policy is SCHED_RR");
    assert_eq!(stat_field(pid, 40), 20, "real-time priority");
    assert_eq!(stat_field(pid, 19), -5, "nice value");
    assert!(locked_kb(pid) > 0, "memory is locked");
    assert!(
        c.log("a")
            .contains("process settings: nice -5, SCHED_RR priority 20, memory locked"),
        "{}",
        c.log("a")
    );
}

#[test]
fn without_the_capability_the_daemon_says_so_and_runs() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("nort", &[("a", &["192.0.2.1/24"])]);
    let config = format!("{GLOBAL}{}", Instance::fast(150, "192.0.2.100/24").render());
    // `env` runs setpriv, which drops CAP_SYS_NICE from the bounding set before it runs baton.
    c.start_with_env(
        "a",
        &config,
        "setpriv --bounding-set -sys_nice --inh-caps -sys_nice --",
    );
    let pid = started(&c);
    assert_eq!(stat_field(pid, 41), 0, "policy stays SCHED_OTHER");
    let log = c.log("a");
    assert!(
        log.contains("vrrp_rt_priority 20: cannot switch to real-time scheduling"),
        "{log}"
    );
    assert!(
        log.contains("vrrp_priority -5: cannot set the nice value"),
        "{log}"
    );
}

#[test]
fn hooks_and_what_they_start_run_at_normal_priority() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new("rthook", &[("a", &["192.0.2.1/24"])]);
    let hook_stat = c.dir.path().join("hook.stat");
    let child_stat = c.dir.path().join("child.stat");
    let hook = c.dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat /proc/$$/stat > {}\ncat /proc/self/stat > {}\n",
            hook_stat.display(),
            child_stat.display()
        ),
    )
    .expect("write the hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let instance =
        Instance::fast(150, "192.0.2.100/24").with(format!("notify_master {}", hook.display()));
    c.start("a", &format!("{GLOBAL}{}", instance.render()));
    let pid = started(&c);
    assert_eq!(stat_field(pid, 41), 2, "the daemon runs under SCHED_RR");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        poll(daemon::SETTLE, || !read(&child_stat).is_empty()),
        "the hook did not run\n{}",
        c.all_logs()
    );
    for (who, path) in [("the hook", &hook_stat), ("its child", &child_stat)] {
        let stat = read(path);
        assert_eq!(field(&stat, 41), 0, "{who} runs under SCHED_OTHER: {stat}");
        assert_eq!(
            field(&stat, 40),
            0,
            "{who} has no real-time priority: {stat}"
        );
        assert_eq!(field(&stat, 19), 0, "{who} has nice 0: {stat}");
    }
}
