//! `fallback_check` runs like every other script (shell form, script security,
//! `script_user`, its process group killed whole, one run per instance at a time), script
//! security checks the path as configured and runs what it checked, and the files root
//! writes for the daemon (notify FIFO, `init_file`) are never reached through a symbolic
//! link. Real daemons in namespaces; needs root.

mod daemon;
mod lab;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{Cluster, Instance, SETTLE};
use lab::{poll, require_root};

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];

fn pair(tag: &str) -> Cluster {
    Cluster::new(tag, &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])])
}

/// Write an executable script (mode 0755) at `path`.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A directory every user may write to (mode 0777), inside the cluster's directory.
fn open_dir(c: &Cluster) -> PathBuf {
    let dir = c.dir.path().join("open");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

/// b (100) holds the VIP; a (150, manual fallback, `fallback_check CHECK`, `global`
/// lines) waits beside it.
fn waiting_for_fallback(c: &mut Cluster, global: &str, check: &str) {
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = Instance::fast(150, VIP)
        .with("fallback manual")
        .with(format!("fallback_check {check}"));
    c.start(
        "a",
        &format!("global_defs {{\n    {global}\n}}\n{}", a.render()),
    );
    c.wait_for_socket("a");
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_millis(500));
}

/// `baton fallback` on a is refused with `words` and the VIP stays on b.
fn fallback_refused(c: &Cluster, words: &str) -> String {
    let out = c.baton("a", &["fallback", "VI_1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}\n{}", c.log("a"));
    assert!(err.contains(words), "{err}");
    c.expect_stable(&SERVERS, VIP, &["b"], Duration::from_millis(500));
    err
}

#[test]
fn a_fallback_check_shell_line_runs_in_the_shell() {
    if !require_root() {
        return;
    }
    let mut c = pair("fbshell");
    waiting_for_fallback(&mut c, "router_id a", "\"/bin/true && /bin/false\"");
    let err = fallback_refused(&c, "fallback_check failed: exit status 1");
    eprintln!("refused: {err}");
}

#[test]
fn a_fallback_check_other_users_can_replace_is_refused() {
    if !require_root() {
        return;
    }
    let mut c = pair("fbsec");
    let marker = c.dir.path().join("ran");
    let check = open_dir(&c).join("check.sh");
    script(&check, &format!("touch {}", marker.display()));
    waiting_for_fallback(
        &mut c,
        "enable_script_security",
        &check.display().to_string(),
    );
    fallback_refused(&c, "refused by enable_script_security");
    assert!(!marker.exists(), "the insecure check ran");
}

#[test]
fn a_fallback_check_runs_as_script_user() {
    if !require_root() {
        return;
    }
    let mut c = pair("fbuser");
    // nobody must reach the output directory.
    std::fs::set_permissions(c.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let uid_file = open_dir(&c).join("uid");
    let check = c.dir.path().join("check.sh");
    script(&check, &format!("id -u > {}", uid_file.display()));
    waiting_for_fallback(&mut c, "script_user nobody", &check.display().to_string());
    let out = c.baton("a", &["fallback", "VI_1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    assert_eq!(
        read(&uid_file).trim(),
        String::from_utf8_lossy(&nobody.stdout).trim()
    );
}

#[test]
fn a_hung_fallback_check_is_killed_with_its_children() {
    if !require_root() {
        return;
    }
    let mut c = pair("fbhung");
    let child_pid = c.dir.path().join("child.pid");
    let check = c.dir.path().join("check.sh");
    script(
        &check,
        &format!("sleep 300 &\necho $! > {}\nwait", child_pid.display()),
    );
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let a = Instance::fast(150, VIP)
        .with("fallback manual")
        .with(format!("fallback_check {}", check.display()))
        .with("fallback_check_timeout 1");
    c.start("a", &a.render());
    c.wait_for_socket("a");
    fallback_refused(&c, "timed out");
    let pid = read(&child_pid).trim().to_string();
    assert!(!pid.is_empty(), "the check never started its child");
    assert!(
        poll(SETTLE, || !Path::new(&format!("/proc/{pid}")).exists()),
        "the check's child {pid} is still running"
    );
}

#[test]
fn only_one_fallback_check_runs_at_a_time() {
    if !require_root() {
        return;
    }
    let mut c = pair("fbone");
    let log = c.dir.path().join("checks.log");
    let check = c.dir.path().join("check.sh");
    script(
        &check,
        &format!("echo \"start $$\" >> {}\nsleep 2\nexit 1", log.display()),
    );
    waiting_for_fallback(&mut c, "router_id a", &check.display().to_string());
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let first = s.spawn(|| c.baton("a", &["fallback", "VI_1"]));
        // The second asks once the first check runs.
        assert!(
            poll(SETTLE, || !read(&log).is_empty()),
            "the first check never started\n{}",
            c.log("a")
        );
        let second = c.baton("a", &["fallback", "VI_1"]);
        vec![first.join().expect("first"), second]
    });
    let second = stderr(&outs[1]);
    assert_eq!(outs[1].status.code(), Some(1), "{second}");
    assert!(
        second.contains("a fallback check is already running (started"),
        "{second}"
    );
    assert!(
        stderr(&outs[0]).contains("fallback_check failed"),
        "{}",
        stderr(&outs[0])
    );
    assert_eq!(read(&log).lines().count(), 1, "{}", read(&log));
}

/// a alone, with `global` lines and `notify_master HOOK`; wait for its first hook outcome.
fn hook_outcome(c: &mut Cluster, global: &str, hook: &str) -> serde_json::Value {
    let a = Instance::fast(150, VIP).with(format!("notify_master {hook}"));
    c.start(
        "a",
        &format!("global_defs {{\n    {global}\n}}\n{}", a.render()),
    );
    c.wait_for_socket("a");
    let ran = poll(SETTLE, || {
        c.status("a").0["instances"][0]["last_hook"]["hook"] == "notify_master"
    });
    let (status, _) = c.status("a");
    assert!(ran, "{status}\n{}", c.log("a"));
    status["instances"][0]["last_hook"].clone()
}

#[test]
fn a_script_reached_through_a_link_in_a_user_writable_directory_is_refused() {
    if !require_root() {
        return;
    }
    let mut c = pair("seclink");
    let marker = c.dir.path().join("ran");
    let real = c.dir.path().join("hook.sh");
    script(&real, &format!("touch {}", marker.display()));
    // The script is root's, but any user could point the link elsewhere.
    let open = open_dir(&c);
    let link = open.join("hook.sh");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let hook = hook_outcome(
        &mut c,
        "enable_script_security",
        &link.display().to_string(),
    );
    let error = hook["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused by enable_script_security")
            && error.contains(&open.display().to_string())
            && error.contains("writable by every user"),
        "{hook}"
    );
    assert!(!marker.exists(), "the script ran");
}

/// A shell line under `enable_script_security` is refused when the file is loaded (the
/// daemon also refuses to run one, `process::prepare`): `check-config` names it, and
/// `baton run` does not start with it, so no hook is found missing at failover time.
#[test]
fn a_shell_line_is_refused_under_script_security() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let conf = dir.path().join("baton.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n    enable_script_security\n}}\n{}",
            Instance::fast(150, VIP)
                .with(format!(
                    "notify_master \"/bin/touch {} && /bin/true\"",
                    marker.display()
                ))
                .render()
        ),
    )
    .expect("write config");
    let baton = env!("CARGO_BIN_EXE_baton");
    let check = std::process::Command::new(baton)
        .args(["check-config", "-f"])
        .arg(&conf)
        .output()
        .expect("run check-config");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        !check.status.success(),
        "check-config accepted it: {stderr}"
    );
    assert!(
        stderr.contains("a shell line cannot run under enable_script_security")
            && stderr.contains("root-owned script"),
        "{stderr}"
    );
    let mut run = std::process::Command::new(baton)
        .args(["run", "-f"])
        .arg(&conf)
        .arg("--socket")
        .arg(dir.path().join("sock"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run baton");
    let mut status = None;
    poll(SETTLE, || {
        status = run.try_wait().expect("wait");
        status.is_some()
    });
    if status.is_none() {
        let _ = run.kill();
        let _ = run.wait();
    }
    assert!(
        status.is_some_and(|s| !s.success()),
        "baton run started with it: {status:?}"
    );
    assert!(!marker.exists(), "the shell line ran");
}

#[test]
fn a_root_owned_script_runs_under_script_security() {
    if !require_root() {
        return;
    }
    let mut c = pair("secok");
    let marker = c.dir.path().join("ran");
    let real = c.dir.path().join("hook.sh");
    script(&real, &format!("echo \"$0\" > {}", marker.display()));
    // A link in a root-owned directory is fine.
    let link = c.dir.path().join("link.sh");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let hook = hook_outcome(
        &mut c,
        "enable_script_security",
        &link.display().to_string(),
    );
    assert_eq!(hook["ok"], true, "{hook}");
    assert!(poll(SETTLE, || marker.exists()), "the script did not run");
}

#[test]
fn a_link_at_the_notify_fifo_path_is_not_followed() {
    if !require_root() {
        return;
    }
    let mut c = pair("fifolink");
    // Someone else's FIFO, reached through a link planted at the configured path.
    let target = c.dir.path().join("target.fifo");
    baton::sys::make_fifo(&target, 0o600).unwrap();
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&target)
        .expect("open the target FIFO");
    let fifo = c.dir.path().join("notify.fifo");
    std::os::unix::fs::symlink(&target, &fifo).unwrap();
    // A regular file in place of the FIFO is not written to either.
    let plain = c.dir.path().join("plain.fifo");
    std::fs::write(&plain, "keep\n").unwrap();
    let global = format!(
        "notify_fifo {}\n    vrrp_notify_fifo {}",
        fifo.display(),
        plain.display()
    );
    c.start(
        "a",
        &format!(
            "global_defs {{\n    {global}\n}}\n{}",
            Instance::fast(150, VIP).render()
        ),
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    let mut buf = [0u8; 4096];
    let got = match reader.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(_) => String::new(),
    };
    assert_eq!(got, "", "the daemon wrote through the link");
    assert_eq!(read(&plain), "keep\n");
    let log = c.log("a");
    assert!(
        log.contains(&format!("notify FIFO {}", fifo.display()))
            && log.contains("a symbolic link (not followed)"),
        "{log}"
    );
    assert!(
        log.contains(&format!("notify FIFO {}", plain.display()))
            && log.contains("exists and is not a FIFO"),
        "{log}"
    );
    let (status, code) = c.status("a");
    let alarms = status["instances"][0]["alarms"].to_string();
    assert_eq!(code, 1, "a refused FIFO is a WARNING: {alarms}");
    assert!(
        alarms.contains(&format!("notify FIFO {}", fifo.display()))
            && alarms.contains(&format!("notify FIFO {}", plain.display())),
        "{alarms}"
    );
}

#[test]
fn a_link_at_the_init_file_path_is_not_followed() {
    if !require_root() {
        return;
    }
    let mut c = pair("initlink");
    let target = c.dir.path().join("target");
    std::fs::write(&target, "keep\n").unwrap();
    let path = c.dir.path().join("prio");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let config = format!(
        "track_file prio {{\n    file {}\n    weight -1\n    init_file 7 overwrite\n}}\n{}",
        path.display(),
        Instance::fast(150, VIP)
            .with("track_file {\n        prio\n    }")
            .render()
    );
    c.start("a", &config);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    assert_eq!(read(&target), "keep\n");
    let log = c.log("a");
    assert!(
        log.contains(&format!(
            "track file {}: init_file refused: is a symbolic link; not followed",
            path.display()
        )),
        "{log}"
    );
    let (status, code) = c.status("a");
    let alarms = status["instances"][0]["alarms"].to_string();
    assert_eq!(code, 1, "a refused init_file is a WARNING: {alarms}");
    assert!(alarms.contains("init_file refused"), "{alarms}");
}

#[test]
fn a_check_cut_short_by_a_reload_is_killed_with_its_children() {
    if !require_root() {
        return;
    }
    let mut c = pair("cutshort");
    let child_pid = c.dir.path().join("child.pid");
    let check = c.dir.path().join("check.sh");
    // The first run hangs with a child; later runs pass at once.
    script(
        &check,
        &format!(
            "[ -e {pid} ] && exit 0\nsleep 300 &\necho $! > {pid}\nwait",
            pid = child_pid.display()
        ),
    );
    let config = |interval: u32| {
        format!(
            "vrrp_script chk {{\n    script {}\n    interval {interval}\n    timeout 60\n}}\n{}",
            check.display(),
            Instance::fast(150, VIP)
                .with("track_script {\n        chk\n    }")
                .render()
        )
    };
    c.start("a", &config(1));
    c.wait_for_socket("a");
    assert!(
        poll(SETTLE, || !read(&child_pid).trim().is_empty()),
        "the check never started its child\n{}",
        c.log("a")
    );
    let pid = read(&child_pid).trim().to_string();
    // A reload restarts the checks: the hung run is given up, with everything it started.
    c.rewrite("a", &config(2));
    c.signal("a", "HUP");
    assert!(
        poll(SETTLE, || !Path::new(&format!("/proc/{pid}")).exists()),
        "the check's child {pid} outlived the reload\n{}",
        c.log("a")
    );
}

#[test]
fn a_fifo_at_a_track_file_path_does_not_stall_the_daemon() {
    if !require_root() {
        return;
    }
    let mut c = pair("tfifo");
    let path = c.dir.path().join("prio");
    baton::sys::make_fifo(&path, 0o600).unwrap();
    let config = format!(
        "track_file prio {{\n    file {}\n    weight -1\n}}\n{}",
        path.display(),
        Instance::fast(150, VIP)
            .with("track_file {\n        prio\n    }")
            .render()
    );
    c.start("a", &config);
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    let (status, _) = c.status("a");
    let tracks = status["instances"][0]["tracks"].to_string();
    assert!(tracks.contains("not a regular file"), "{status}");
}
