//! The PostgreSQL hooks (`scripts/baton-pg-*`) where no PostgreSQL is needed: settings they
//! refuse, where their lock lives, what they write in a directory the postgres user can
//! write to, and how their bounded commands end. Stand-in `psql`/`pg_ctl` scripts (in a
//! temporary `PGBIN`) answer for a local primary and an unreachable peer.
//!
//! Needs root (the hooks switch to the postgres user) and a `postgres` user; skipped
//! otherwise, unless CI is set.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    repo().join("scripts").join(name)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Root with a postgres user; otherwise skip (CI must not skip silently).
fn ready() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let postgres = Command::new("id")
        .arg("postgres")
        .output()
        .is_ok_and(|o| o.status.success());
    if root && postgres {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "pg_scripts needs root and a postgres user, and CI is set"
    );
    eprintln!("SKIPPED: needs root and a postgres user");
    false
}

fn chown_postgres(path: &Path) {
    let ok = Command::new("chown")
        .args(["-h", "postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown")
        .success();
    assert!(ok, "chown {}", path.display());
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A scratch area: `root/` (root's, 0755), `root/bin` (stand-in PostgreSQL tools),
/// `root/pg` (postgres's: the parent of PGDATA, as /var/lib/postgresql/15 is).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch::with_tools(&[])
    }

    /// As `new`, with more (or other) stand-in tools in `bin`: `(name, script)`.
    fn with_tools(tools: &[(&str, &str)]) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("baton-pg-scripts-")
            .tempdir()
            .expect("temp dir");
        chmod(dir.path(), 0o755);
        let s = Scratch { dir };
        std::fs::create_dir(s.bin()).expect("bin");
        chmod(&s.bin(), 0o755);
        // The local server is a primary on timeline 1; the peer (192.0.2.*) does not answer.
        let psql = "#!/bin/sh\n\
             host=; q=\n\
             while [ $# -gt 0 ]; do\n\
             case $1 in -h) host=$2; shift ;; -c) q=$2; shift ;; esac\n\
             shift\n\
             done\n\
             case $host in 192.0.2.*) exit 2 ;; esac\n\
             case $q in *pg_is_in_recovery*) echo f ;; *) echo 1 ;; esac\n";
        let mut all = vec![("psql", psql), ("pg_ctl", "#!/bin/sh\nexit 0\n")];
        all.extend_from_slice(tools);
        for (name, body) in all {
            let p = s.bin().join(name);
            std::fs::write(&p, body).expect("stub");
            chmod(&p, 0o755);
        }
        std::fs::create_dir(s.pg()).expect("pg dir");
        chown_postgres(&s.pg());
        chmod(&s.pg(), 0o700);
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }

    fn pg(&self) -> PathBuf {
        self.path().join("pg")
    }

    /// The settings a hook gets (as from /etc/default/baton-pg), lock in `root/run`.
    fn env(&self) -> Vec<(String, String)> {
        let s = |p: PathBuf| p.display().to_string();
        [
            ("BATON_PG_DEFAULTS", "/nonexistent/baton-pg".to_string()),
            ("PGBIN", s(self.bin())),
            ("PGDATA", s(self.pg().join("data"))),
            ("BATON_PG_CLUSTER", String::new()),
            ("PGHOST", s(self.path().join("sock"))),
            ("BATON_PG_PEER_HOST", "192.0.2.9".to_string()),
            ("BATON_PG_LOCK", s(self.path().join("run/baton-pg.lock"))),
            ("BATON_PG_SYSLOG", "no".to_string()),
            ("BATON_PG_PEER_WAIT", "1".to_string()),
            ("BATON_PG_STEP_TIMEOUT", "5".to_string()),
            ("BATON_BIN", "/nonexistent/baton".to_string()),
            ("BATON_PG_STATE_DIR", s(self.path().join("state"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Run `name` with the settings, `extra` added and `unset` removed.
    fn run(&self, name: &str, args: &[&str], extra: &[(&str, &str)], unset: &[&str]) -> Output {
        let mut cmd = Command::new(script(name));
        cmd.args(args).env_remove("BATON_NAME");
        for (k, v) in self.env() {
            if !unset.contains(&k.as_str()) {
                cmd.env(k, v);
            }
        }
        for k in unset {
            cmd.env_remove(k);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().expect("run a hook")
    }
}

#[test]
fn an_unset_peer_host_is_refused_by_every_script() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    for (name, args) in [
        ("baton-pg-notify", &["fault"][..]),
        ("baton-pg-notify", &["master"][..]),
        ("baton-pg-check", &[][..]),
        ("baton-pg-caught-up", &[][..]),
        ("baton-pg", &["rule"][..]),
        ("baton-pg-notify", &["reconcile"][..]),
    ] {
        let out = s.run(name, args, &[], &["BATON_PG_PEER_HOST"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} {args:?}: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("BATON_PG_PEER_HOST is not set"),
            "{name} {args:?} does not name the setting: {}",
            text(&out)
        );
    }
    // Nothing was done: no lock taken.
    assert!(!s.path().join("run").exists());
}

#[test]
fn a_fallback_type_that_is_not_one_is_refused_and_names_the_setting() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    for bad in ["sometimes", "Manual", "auto"] {
        let out = s.run("baton-pg-check", &[], &[("BATON_PG_FALLBACK", bad)], &[]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "BATON_PG_FALLBACK='{bad}' is neither manual nor automatic"
            )),
            "{bad}: {}",
            text(&out)
        );
    }
    for good in ["", "manual", "automatic"] {
        let out = s.run("baton-pg-check", &[], &[("BATON_PG_FALLBACK", good)], &[]);
        assert!(
            !text(&out).contains("BATON_PG_FALLBACK"),
            "{good}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_base_backup_rate_that_is_not_one_is_refused_and_names_the_setting() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    for bad in ["fast", "10MB", "k", "5kM", "-1", "50 M"] {
        let out = s.run(
            "baton-pg-check",
            &[],
            &[("BATON_PG_BASEBACKUP_MAX_RATE", bad)],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "BATON_PG_BASEBACKUP_MAX_RATE='{bad}' is not a rate"
            )),
            "{bad}: {}",
            text(&out)
        );
    }
    for good in ["", "800k", "50M", "2048"] {
        let out = s.run(
            "baton-pg-check",
            &[],
            &[("BATON_PG_BASEBACKUP_MAX_RATE", good)],
            &[],
        );
        assert!(
            !text(&out).contains("BATON_PG_BASEBACKUP_MAX_RATE"),
            "{good}: {}",
            text(&out)
        );
    }
}

#[test]
fn the_lock_lives_in_a_directory_only_root_can_write() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    // The default: under /run/baton, not the world-writable /run/lock.
    let lib = script("baton-pg-lib");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". {}; baton_pg_settings; echo \"$BATON_PG_LOCK\"",
            lib.display()
        ))
        .env("BATON_PG_DEFAULTS", "/nonexistent/baton-pg")
        .env("BATON_PG_PEER_HOST", "192.0.2.9")
        .env_remove("BATON_PG_LOCK")
        .output()
        .expect("bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/run/baton/baton-pg.lock",
        "{}",
        text(&out)
    );

    // A missing directory is created, root's, 0755.
    let out = s.run("baton-pg-notify", &["fault"], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.path().join("run");
    let meta = std::fs::symlink_metadata(&run).expect("the lock directory");
    use std::os::unix::fs::MetadataExt;
    assert!(meta.is_dir());
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.mode() & 0o777, 0o755);
    assert!(run.join("baton-pg.lock").is_file());

    // A directory postgres (or anyone but root) may write to is refused.
    let theirs = s.path().join("theirs");
    std::fs::create_dir(&theirs).expect("dir");
    chown_postgres(&theirs);
    let lock = theirs.join("baton-pg.lock");
    let lock = lock.display().to_string();
    let out = s.run(
        "baton-pg-notify",
        &["fault"],
        &[("BATON_PG_LOCK", &lock)],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not a directory owned by root"),
        "{}",
        text(&out)
    );
    assert!(!theirs.join("baton-pg.lock").exists());

    // So is a world-writable one (like /run/lock), and a symlink to a good one.
    let open = s.path().join("open");
    std::fs::create_dir(&open).expect("dir");
    chmod(&open, 0o1777);
    let link = s.path().join("link");
    symlink(&run, &link).expect("symlink");
    for dir in [&open, &link] {
        let lock = dir.join("baton-pg.lock").display().to_string();
        let out = s.run(
            "baton-pg-notify",
            &["fault"],
            &[("BATON_PG_LOCK", &lock)],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            dir.display(),
            text(&out)
        );
        assert!(
            text(&out).contains("not a directory owned by root"),
            "{}",
            text(&out)
        );
    }
    assert!(!open.join("baton-pg.lock").exists());
}

#[test]
fn symlinks_planted_beside_pgdata_are_not_followed() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    // Files only root may change, which postgres points links at.
    let safe = s.path().join("safe");
    std::fs::create_dir(&safe).expect("dir");
    let log_target = safe.join("shadow-log");
    let mark_target = safe.join("shadow-mark");
    for t in [&log_target, &mark_target] {
        std::fs::write(t, "precious\n").expect("target");
        chmod(t, 0o644);
    }
    let log = s.pg().join("hooks.log");
    let mark = s.pg().join("data.baton-fenced");
    symlink(&log_target, &log).expect("symlink");
    symlink(&mark_target, &mark).expect("symlink");
    chown_postgres(&log);
    chown_postgres(&mark);
    let log_s = log.display().to_string();
    // FAULT with a local primary: the hook fences it (writes the mark) and logs.
    let out = s.run(
        "baton-pg-notify",
        &["fault"],
        &[("BATON_PG_LOGFILE", &log_s)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("FAULT: fenced"), "{}", text(&out));
    for t in [&log_target, &mark_target] {
        assert_eq!(
            std::fs::read_to_string(t).expect("target"),
            "precious\n",
            "{} was written through a link postgres planted",
            t.display()
        );
    }

    // Without links, the same files are written (as postgres).
    std::fs::remove_file(&log).expect("rm");
    std::fs::remove_file(&mark).expect("rm");
    let out = s.run(
        "baton-pg-notify",
        &["fault"],
        &[("BATON_PG_LOGFILE", &log_s)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    use std::os::unix::fs::MetadataExt;
    for f in [&log, &mark] {
        let meta = std::fs::symlink_metadata(f).expect("written");
        assert!(meta.is_file(), "{}", f.display());
        let pg_uid = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .expect("id");
        assert_eq!(
            meta.uid().to_string(),
            String::from_utf8_lossy(&pg_uid.stdout).trim(),
            "{} not written as postgres",
            f.display()
        );
    }
    assert!(
        std::fs::read_to_string(&log)
            .expect("log")
            .contains("FAULT: fenced")
    );
}

/// Processes whose pids are listed in `file`, still alive (not zombies).
fn alive(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().chars().next())
                })
                .flatten()
                .is_some_and(|state| state != 'Z')
        })
        .collect()
}

fn read_pids(file: &Path, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<u32> = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.len() >= n || Instant::now() > deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_gone(pids: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = alive(pids);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bash "hook" in a process group of its own (as baton runs hooks) that sources the lib
/// and runs `body`; its stdout goes to `out`.
fn hook(s: &Scratch, body: &str, out: &Path) -> std::process::Child {
    let lib = script("baton-pg-lib");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!(". {}; baton_pg_settings; {body}", lib.display()))
        .stdout(std::fs::File::create(out).expect("out"))
        .process_group(0);
    for (k, v) in s.env() {
        cmd.env(k, v);
    }
    cmd.spawn().expect("hook")
}

#[test]
fn a_kill_of_the_hooks_process_group_ends_every_bounded_command() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    let out = s.path().join("pids");
    // A step (as_pg) whose command starts a child of its own, as pg_basebackup does.
    // (A step bound far beyond the test: only the kill may end it.)
    let mut child = hook(
        &s,
        "BATON_PG_STEP_TIMEOUT=600; as_pg sh -c 'sleep 300 & echo $!; echo $$; wait'",
        &out,
    );
    let pids = read_pids(&out, 2);
    assert_eq!(pids.len(), 2, "the step did not start");
    // What baton does at notify_timeout.
    let pgid = child.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let _ = child.wait();
    let left = wait_gone(&pids);
    // Clean up whatever escaped, by pid, before asserting.
    for p in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status();
    }
    assert!(
        left.is_empty(),
        "processes of a bounded step survived the kill of the hook's process group: {left:?}"
    );
}

#[test]
fn a_bounded_step_that_overruns_is_ended_with_all_it_started() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    let out = s.path().join("pids");
    let log = s.pg().join("step.log");
    // The step's output goes to a log beside PGDATA (written as postgres); the step prints
    // its pids on stdout, so send them to the hook's stdout through the log afterwards.
    let body = format!(
        "bounded 1 {log} sh -c 'sleep 300 & echo $!; echo $$; wait'; echo rc=$?; cat {log}",
        log = log.display()
    );
    let started = Instant::now();
    let mut child = hook(&s, &body, &out);
    let status = child.wait().expect("hook");
    let took = started.elapsed();
    assert!(status.success());
    let said = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(said.contains("rc=124"), "{said}");
    let pids: Vec<u32> = said.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(pids.len(), 2, "{said}");
    let left = wait_gone(&pids);
    for p in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status();
    }
    assert!(left.is_empty(), "a bounded step left {left:?} running");
    assert!(
        took < Duration::from_secs(60),
        "the bound of 1 s ended the step only after {took:?}"
    );
}

#[test]
fn the_hooks_need_no_jq_and_the_packages_do_not_pull_it_in() {
    // The hooks read baton's state with `baton status NAME --field state|master`.
    for name in [
        "baton-pg-lib",
        "baton-pg-notify",
        "baton-pg-check",
        "baton-pg-caught-up",
        "baton-pg",
        "baton-pg-setup",
        "baton-pg-pair",
    ] {
        let body = std::fs::read_to_string(script(name)).unwrap_or_default();
        assert!(
            !body
                .lines()
                .any(|l| l.split_whitespace().any(|w| w == "jq")),
            "{name} runs jq"
        );
    }
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let deb = cargo
        .lines()
        .find(|l| l.starts_with("depends = "))
        .expect("deb depends");
    assert!(!deb.contains("jq"), "{deb}");
    assert!(
        !cargo.lines().any(|l| l.starts_with("jq = ")),
        "the rpm requires jq"
    );
}

/// A fenced former primary (stopped, timeline 1) whose rewind fails half-way (after its
/// "need to copy", the point of no return), beside a peer that is a primary on timeline 2
/// whose databases take `db_size` bytes; pg_basebackup only leaves a mark that it ran
/// (`pg/basebackup-ran`).
fn fenced_primary_whose_rewind_fails(db_size: &str) -> Scratch {
    fenced_primary_whose_rewind_fails_at(db_size, "half-way")
}

/// As `fenced_primary_whose_rewind_fails`, the rewind failing `when`: "half-way" (after
/// "need to copy") or "at once" (before it).
fn fenced_primary_whose_rewind_fails_at(db_size: &str, when: &str) -> Scratch {
    let rewind = match when {
        "at once" => {
            "#!/bin/sh\n\
             echo 'pg_rewind: reading source file list' >&2\n\
             echo 'pg_rewind: error: could not fetch file list' >&2\n\
             exit 1\n"
        }
        _ => {
            "#!/bin/sh\n\
             echo 'pg_rewind: need to copy 1 MB (total source directory size is 9 MB)' >&2\n\
             echo 'pg_rewind: error: no' >&2\n\
             exit 1\n"
        }
    };
    let psql = format!(
        "#!/bin/sh\n\
         host=; q=\n\
         while [ $# -gt 0 ]; do\n\
         case $1 in -h) host=$2; shift ;; -c) q=$2; shift ;; esac\n\
         shift\n\
         done\n\
         case $host in 192.0.2.*) ;; *) exit 2 ;; esac\n\
         case $q in\n\
         *pg_database_size*) echo {db_size} ;;\n\
         *pg_is_in_recovery*) echo 'f|2' ;;\n\
         esac\n"
    );
    Scratch::with_tools(&[
        ("psql", &psql),
        ("pg_ctl", "#!/bin/sh\nexit 3\n"),
        (
            "pg_controldata",
            "#!/bin/sh\necho 'pg_control version number:            1300'\n\
             echo \"Latest checkpoint's TimeLineID:       1\"\n",
        ),
        ("pg_rewind", rewind),
        (
            "pg_basebackup",
            "#!/bin/sh\ntouch \"$(dirname \"$0\")/../pg/basebackup-ran\"\nexit 0\n",
        ),
    ])
}

#[test]
fn a_base_backup_without_room_is_refused_before_anything_moves() {
    if !ready() {
        return;
    }
    // The databases at the peer are far larger than any disk here.
    let s = fenced_primary_whose_rewind_fails("999999999999999999");
    let data = s.pg().join("data");
    std::fs::create_dir(&data).expect("PGDATA");
    chown_postgres(&data);
    std::fs::write(data.join("precious"), "x").expect("a file");
    let out = s.run("baton-pg-notify", &["backup"], &[], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("pg_rewind failed") && said.contains("not taking a base backup: no room"),
        "{said}"
    );
    assert!(!s.pg().join("basebackup-ran").exists(), "pg_basebackup ran");
    assert!(data.join("precious").is_file(), "PGDATA was moved");
    let left: Vec<String> = std::fs::read_dir(s.pg())
        .expect("pg dir")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "data")
        .collect();
    assert!(left.is_empty(), "directories beside PGDATA: {left:?}");
    // The rewind that failed half-way is remembered: the next run takes a base backup
    // instead.
    assert!(s.pg().join("data.rewind-in-progress").is_file());
}

/// A rewind that fails before its point of no return (no rights on the primary, a server
/// started meanwhile on the directory) changed nothing: the directory is not left marked,
/// and the next run may rewind it (the soak found a good replica marked this way at a cold
/// start, then displaced by a base backup at every later rejoin).
#[test]
fn a_rewind_that_cannot_start_leaves_the_directory_unmarked() {
    if !ready() {
        return;
    }
    let s = fenced_primary_whose_rewind_fails_at("999999999999999999", "at once");
    let data = s.pg().join("data");
    std::fs::create_dir(&data).expect("PGDATA");
    chown_postgres(&data);
    let out = s.run("baton-pg-notify", &["backup"], &[], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("pg_rewind stopped before it changed anything")
            && said.contains("is as it was"),
        "{said}"
    );
    assert!(!s.pg().join("data.rewind-in-progress").exists());
}

/// PGDATA as a symbolic link to the data volume: a base backup staged beside the link would
/// land on the link's file system and replace the link (the database would move off its
/// volume). It is refused before anything is copied or moved.
#[test]
fn a_base_backup_onto_a_symlinked_pgdata_is_refused_before_anything_moves() {
    if !ready() {
        return;
    }
    let s = fenced_primary_whose_rewind_fails("1000");
    let volume = s.pg().join("volume");
    std::fs::create_dir(&volume).expect("volume");
    chown_postgres(&volume);
    let real = volume.join("main");
    std::fs::create_dir(&real).expect("real PGDATA");
    chown_postgres(&real);
    std::fs::write(real.join("precious"), "x").expect("a file");
    let data = s.pg().join("data");
    std::os::unix::fs::symlink(&real, &data).expect("PGDATA link");
    let out = s.run("baton-pg-notify", &["backup"], &[], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not taking a base backup") && said.contains("is a symbolic link"),
        "{said}"
    );
    assert!(!s.pg().join("basebackup-ran").exists(), "pg_basebackup ran");
    assert!(
        std::fs::symlink_metadata(&data).is_ok_and(|m| m.file_type().is_symlink()),
        "the link was replaced"
    );
    assert!(real.join("precious").is_file(), "the data moved");
}

/// A local replica and a peer whose answers come from files in `pg/stub` (written by the
/// test, and by the stand-in psql, which runs as postgres): `role` (the local
/// pg_is_in_recovery: t or f; pg_promote turns it to f), `peer` ("down", or what the peer
/// answers to the sync-record query: "f|TIMELINE|SYNC_STATE|[SYNC_NAMES]" as a primary, "t|0|none|[]" as a
/// replica), `streaming` (the local receiver: 1 or 0). Local queries go to `queries`.
fn replica_with_a_stub_peer() -> Scratch {
    let psql = "#!/bin/sh\n\
         host=; q=\n\
         while [ $# -gt 0 ]; do\n\
         case $1 in -h) host=$2; shift ;; -c) q=$2; shift ;; esac\n\
         shift\n\
         done\n\
         st=$(dirname \"$0\")/../pg/stub\n\
         case $host in 192.0.2.*)\n\
             peer=$(cat \"$st/peer\")\n\
             [ \"$peer\" = down ] && exit 2\n\
             case $q in\n\
             *sync_state*) echo \"$peer\" ;;\n\
             *pg_stat_progress_basebackup*) cat \"$st/progress\" ;;\n\
             *pg_is_in_recovery*) echo \"$peer\" | cut -d'|' -f1,2 ;;\n\
             esac\n\
             exit 0 ;;\n\
         esac\n\
         echo \"$q\" >>\"$st/queries\"\n\
         case $q in\n\
         *pg_promote*) echo f >\"$st/role\"; echo t ;;\n\
         *pg_stat_wal_receiver*) cat \"$st/streaming\" ;;\n\
         'SELECT pg_is_in_recovery()') cat \"$st/role\" ;;\n\
         *'IS NULL OR'*) echo t ;;\n\
         'SHOW synchronous_standby_names') echo '*' ;;\n\
         *pg_stat_replication*) echo 0 ;;\n\
         *pg_last_wal*|*pg_current_wal_lsn\\(\\)) echo 0/3000000 ;;\n\
         *) echo 1 ;;\n\
         esac\n";
    let s = Scratch::with_tools(&[("psql", psql)]);
    let stub = s.pg().join("stub");
    std::fs::create_dir(&stub).expect("stub dir");
    chown_postgres(&stub);
    s.set("role", "t");
    s.set("peer", "f|1|sync|[*]");
    s.set("streaming", "1");
    s
}

impl Scratch {
    fn set(&self, file: &str, value: &str) {
        let p = self.pg().join("stub").join(file);
        std::fs::write(&p, format!("{value}\n")).expect("stub file");
        chown_postgres(&p);
    }

    fn get(&self, file: &str) -> String {
        std::fs::read_to_string(self.pg().join("stub").join(file)).unwrap_or_default()
    }

    fn record(&self) -> String {
        std::fs::read_to_string(self.path().join("state/sync-record")).unwrap_or_default()
    }
}

#[test]
fn zero_loss_promotes_only_a_replica_recorded_as_the_synchronous_standby() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    // Streaming, the primary's synchronous standby: recorded.
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("sync at "), "{}", s.record());
    assert!(s.record().contains("timeline 1"), "{}", s.record());
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(s.path().join("state")).expect("state dir");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));
    // The primary gone: the record stays as it was last heard, and the rule allows.
    s.set("peer", "down");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("sync at "), "{}", s.record());
    let out = s.run("baton-pg", &["rule"], &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("may promote"), "{}", text(&out));

    // The primary back, asynchronous (as after a failover): not sync any more.
    s.set("peer", "f|2|async|[]");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("not-sync at "), "{}", s.record());
    assert!(s.record().contains("async standby"), "{}", s.record());
    // Then it fails (its replica stops streaming): the check fails (the node leaves MASTER)
    // and says why.
    s.set("peer", "down");
    s.set("streaming", "0");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("must not promote (zero-loss)"),
        "{}",
        text(&out)
    );
    let out = s.run("baton-pg", &["rule"], &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The MASTER hook refuses, loudly, and promotes nothing.
    let out = s.run("baton-pg-notify", &["master"], &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NOT PROMOTING"), "{}", text(&out));
    assert!(
        !s.get("queries").contains("pg_promote"),
        "{}",
        s.get("queries")
    );
    assert_eq!(s.get("role").trim(), "t");

    // A replica that is not streaming while the primary answers and does not wait for it:
    // not sync either.
    s.set("peer", "f|2|none|[]");
    s.set("streaming", "0");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().contains("not streaming"), "{}", s.record());
    // Synchronous again; then not streaming, but the primary still names it in
    // synchronous_standby_names (it is being fenced in a planned switch, or this replica
    // reconnects): it cannot acknowledge a commit without it, so the record stays.
    s.set("peer", "f|2|sync|[*]");
    s.set("streaming", "1");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("sync at "), "{}", s.record());
    for names in ["[*]", "[FIRST 1 (x, b_1)]"] {
        s.set("peer", &format!("f|2|none|{names}"));
        s.set("streaming", "0");
        let out = s.run("baton-pg-check", &[], &[("BATON_PG_APPNAME", "b_1")], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            s.record().starts_with("sync at "),
            "{names}: {}",
            s.record()
        );
    }
    // A transient failure to ask the primary while the replica streams from it: the check
    // passes even with a not-sync record (the replica has a primary).
    s.set("peer", "f|2|async|[]");
    s.set("streaming", "1");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("not-sync at "), "{}", s.record());
    s.set("peer", "down");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn availability_mode_promotes_any_replica_and_says_what_may_be_lost() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    s.set("peer", "f|2|async|[]");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    s.set("peer", "down");
    let mode = [("BATON_PG_MODE", "availability")];
    let out = s.run("baton-pg-check", &[], &mode, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = s.run("baton-pg-notify", &["master"], &mode, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("acknowledged writes this replica had not received may be lost"),
        "{}",
        text(&out)
    );
    assert!(
        s.get("queries").contains("pg_promote"),
        "{}",
        s.get("queries")
    );
    // After the promotion: a CHECKPOINT, synchronous_standby_names cleared, recorded.
    let queries = s.get("queries");
    assert!(queries.contains("CHECKPOINT"), "{queries}");
    assert!(
        queries.contains("synchronous_standby_names = ''"),
        "{queries}"
    );
    assert!(
        s.record().contains("this server is the primary"),
        "{}",
        s.record()
    );
    assert!(s.path().join("state/promoted").is_file());
    // A mode that does not exist is refused.
    let out = s.run("baton-pg-check", &[], &[("BATON_PG_MODE", "yolo")], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("BATON_PG_MODE='yolo'"),
        "{}",
        text(&out)
    );
}

#[test]
fn baton_pg_promote_force_overrides_the_rule_loudly_but_never_makes_two_primaries() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    s.set("peer", "f|2|async|[]");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    // Without --force: nothing.
    let out = s.run("baton-pg", &["promote"], &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // The peer still a primary: refused even with --force.
    let out = s.run("baton-pg", &["promote", "--force"], &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("answers as a primary"),
        "{}",
        text(&out)
    );
    assert!(!s.get("queries").contains("pg_promote"));
    // The peer gone: forced, and said so.
    s.set("peer", "down");
    let out = s.run("baton-pg", &["promote", "--force"], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("FORCED PROMOTION"), "{}", text(&out));
    assert!(text(&out).contains("must not promote"), "{}", text(&out));
    assert!(s.get("queries").contains("pg_promote"));
    assert_eq!(s.get("role").trim(), "f");
}

#[test]
fn the_state_directory_must_be_roots_alone_and_not_a_symlink() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    let good = s.path().join("good");
    std::fs::create_dir(&good).expect("dir");
    chmod(&good, 0o700);
    let link = s.path().join("link");
    symlink(&good, &link).expect("symlink");
    let theirs = s.pg().join("theirs");
    std::fs::create_dir(&theirs).expect("dir");
    chown_postgres(&theirs);
    chmod(&theirs, 0o700);
    let open = s.path().join("open");
    std::fs::create_dir(&open).expect("dir");
    chmod(&open, 0o755);
    for dir in [&link, &theirs, &open] {
        let d = dir.display().to_string();
        let out = s.run("baton-pg-check", &[], &[("BATON_PG_STATE_DIR", &d)], &[]);
        assert_eq!(out.status.code(), Some(1), "{d}: {}", text(&out));
        assert!(text(&out).contains("not using it"), "{d}: {}", text(&out));
    }
    assert!(!good.join("sync-record").exists());
    assert!(!theirs.join("sync-record").exists());
}

/// `replica_with_a_stub_peer` with a stand-in `baton` CLI whose `--field state` answer is in
/// `pg/stub/vrrp`.
fn replica_with_a_stub_baton(vrrp: &str) -> Scratch {
    let s = replica_with_a_stub_peer();
    let baton = s.bin().join("baton");
    std::fs::write(
        &baton,
        "#!/bin/sh\nst=\"$(dirname \"$0\")/../pg/stub\"\ncase \"$*\" in *'--field state'*) cat \"$st/vrrp\" ;; *'--field lease'*) cat \"$st/lease\" 2>/dev/null ;; *) echo ;; esac\n",
    )
    .expect("stub baton");
    chmod(&baton, 0o755);
    s.set("vrrp", vrrp);
    s
}

#[test]
fn the_check_starts_the_reconciler_while_not_converged_with_backoff() {
    if !ready() {
        return;
    }
    // MASTER, a replica whose primary is gone, recorded as synchronous: the MASTER hook was
    // missed (killed, or it gave up); the reconciler promotes it.
    let s = replica_with_a_stub_baton("MASTER");
    let baton = s.bin().join("baton").display().to_string();
    let env = [("BATON_BIN", baton.as_str()), ("BATON_PG_PEER_WAIT", "0")];
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.record().starts_with("sync at "), "{}", s.record());
    s.set("peer", "down");
    let backoff =
        || std::fs::read_to_string(s.path().join("state/reconcile-backoff")).unwrap_or_default();
    // Seen once: armed for 2 s later, nothing started. (The first check, with the primary
    // answering, armed it too; the primary gone is a new situation: armed again.)
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not converged: the instance is MASTER and PostgreSQL is replica"),
        "{}",
        text(&out)
    );
    assert!(
        backoff().ends_with(" 2 replica/unreachable\n"),
        "{}",
        backoff()
    );
    // Before the 2 s: still nothing.
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(
        text(&out).contains("reconciling again in"),
        "{}",
        text(&out)
    );
    std::thread::sleep(Duration::from_millis(2100));
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(
        text(&out).contains("reconciling (next attempt in 4s)"),
        "{}",
        text(&out)
    );
    // The reconciler runs detached and promotes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.get("role").trim() != "f" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        s.get("role").trim(),
        "f",
        "not promoted: {}",
        s.get("queries")
    );
    // Promoted and finished: converged, the schedule reset.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(s.path().join("state/promoted"))
        .unwrap_or_default()
        .starts_with("finished")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(backoff(), "0 0\n");
}

#[test]
fn the_reconciler_finishes_a_promotion_whose_hook_was_killed() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_baton("MASTER");
    s.set("role", "f");
    std::fs::create_dir(s.path().join("state")).expect("state");
    chmod(&s.path().join("state"), 0o700);
    std::fs::write(s.path().join("state/promoted"), "promoting at then\n").expect("mark");
    let baton = s.bin().join("baton").display().to_string();
    let env = [("BATON_BIN", baton.as_str())];
    let out = s.run("baton-pg-notify", &["reconcile"], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its promotion was not finished; finishing it"),
        "{}",
        text(&out)
    );
    let queries = s.get("queries");
    assert!(queries.contains("CHECKPOINT"), "{queries}");
    assert!(
        queries.contains("synchronous_standby_names = ''"),
        "{queries}"
    );
    assert!(
        std::fs::read_to_string(s.path().join("state/promoted"))
            .unwrap_or_default()
            .starts_with("finished")
    );
    // Again: nothing more to do.
    let out = s.run("baton-pg-notify", &["reconcile"], &env, &[]);
    assert!(text(&out).contains("already primary"), "{}", text(&out));
}

#[test]
fn the_check_shows_how_far_a_rejoin_copy_is() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    // The local server is down, a base backup into PGDATA.basebackup is running.
    s.set("role", "down");
    let mark = s.pg().join("data.basebackup-in-progress");
    std::fs::write(&mark, "").expect("mark");
    chown_postgres(&mark);
    s.set("progress", "streaming database files|536870912|1288490188");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(
        text(&out).contains("rejoining: pg_basebackup 41 % of 1.2 GB (streaming database files)"),
        "{}",
        text(&out)
    );
    // Before the size is known.
    s.set("progress", "waiting for checkpoint to finish|0|0");
    let out = s.run("baton-pg-check", &[], &[], &[]);
    assert!(
        text(&out).contains("rejoining: pg_basebackup running (waiting for checkpoint to finish)"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_reconciler_waits_for_a_situation_that_lasts_and_stops_when_the_state_changes() {
    if !ready() {
        return;
    }
    // FAULT with the server down: not converged; the reconciler would start once the same
    // local role has been seen for 2 s.
    let s = replica_with_a_stub_baton("FAULT");
    let baton = s.bin().join("baton").display().to_string();
    let env = [("BATON_BIN", baton.as_str())];
    let backoff =
        || std::fs::read_to_string(s.path().join("state/reconcile-backoff")).unwrap_or_default();
    s.set("peer", "down");
    s.set("role", "down");
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(
        backoff().ends_with(" 2 down/unreachable\n"),
        "{}: {}",
        backoff(),
        text(&out)
    );
    // The role changes meanwhile (the server is a primary now): the wait starts again
    // rather than acting on what was seen before.
    std::thread::sleep(Duration::from_millis(2100));
    s.set("role", "f");
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(
        backoff().ends_with(" 2 primary/unreachable\n"),
        "{}: {}",
        backoff(),
        text(&out)
    );
    assert!(!text(&out).contains("reconciling ("), "{}", text(&out));
    // A reconciler that read FAULT and finds BACKUP before fencing the primary: stops.
    let stub = s.bin().join("baton");
    std::fs::write(
        &stub,
        "#!/bin/sh\nf=$(dirname \"$0\")/../pg/stub/vrrp\n\
         case \"$*\" in *'--field state'*) head -n 1 \"$f\"; \
         [ \"$(wc -l <\"$f\")\" -gt 1 ] && sed -i 1d \"$f\" ;; *) echo ;; esac\nexit 0\n",
    )
    .expect("stub baton");
    s.set("vrrp", "FAULT\nBACKUP");
    let out = s.run("baton-pg-notify", &["reconcile"], &env, &[]);
    assert!(
        text(&out).contains("reconcile: dropped: the instance is BACKUP now"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("fencing"), "{}", text(&out));
}

/// While a hook holds the lock (a rejoin rewinding or copying), the replica is not caught up
/// even if it streams: a fallback then would queue the MASTER hook behind the rejoin.
#[test]
fn caught_up_fails_while_a_hook_holds_the_lock() {
    if !ready() {
        return;
    }
    let s = Scratch::new();
    let lock = s.path().join("run/baton-pg.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock");
    // Bounded wait until the holder has the lock.
    let held = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        !Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .expect("flock -n")
            .success()
    });
    let out = s.run("baton-pg-caught-up", &[], &[], &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(held, "the test could not take the lock");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("a PostgreSQL hook is still at work"),
        "{}",
        text(&out)
    );
}

/// Issue 16: with a witness, the MASTER hook promotes only while this node holds the lease
/// (`baton status --field lease` says `held`), whatever the promotion rule says.
#[test]
fn with_a_witness_the_master_hook_promotes_only_with_the_lease() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_baton("MASTER");
    let baton = s.bin().join("baton").display().to_string();
    let env = [("BATON_BIN", baton.as_str()), ("BATON_PG_PEER_WAIT", "0")];
    // Recorded as the synchronous standby, then the primary is gone: the rule allows.
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    s.set("peer", "down");
    s.set("lease", "unreachable");
    let out = s.run("baton-pg-notify", &["master"], &env, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("NOT PROMOTING: the witness lease is not this node's (lease: unreachable)"),
        "{}",
        text(&out)
    );
    assert_eq!(s.get("role").trim(), "t", "still a replica");
    s.set("lease", "held");
    let out = s.run("baton-pg-notify", &["master"], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(s.get("role").trim(), "f", "promoted: {}", text(&out));
}

#[test]
fn state_files_written_at_once_by_two_processes_are_never_lost() {
    if !ready() {
        return;
    }
    // The check and a hook write the same state file at the same moment (the sync record,
    // the reconciler's schedule): every write must succeed and leave one whole line.
    let s = Scratch::new();
    let body = "ok=0; for i in $(seq 1 200); do \
                state_write sync-record \"line $$ $i\" && ok=$((ok + 1)); done; echo $ok";
    let outs: Vec<PathBuf> = (0..4).map(|i| s.path().join(format!("out{i}"))).collect();
    let mut writers: Vec<_> = outs.iter().map(|o| hook(&s, body, o)).collect();
    for w in &mut writers {
        assert!(w.wait().expect("writer").success());
    }
    for o in &outs {
        let said = std::fs::read_to_string(o).expect("out");
        assert_eq!(
            said.trim(),
            "200",
            "a writer saw some of its writes fail: {said}"
        );
    }
    let state = s.path().join("state");
    let record = std::fs::read_to_string(state.join("sync-record")).expect("record");
    assert!(
        record.starts_with("line ") && record.lines().count() == 1,
        "{record:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&state)
        .expect("state dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != "sync-record")
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// A primary this node's hook fenced, on a node that is MASTER again, whose peer's database
/// answers as a replica on an older timeline (it was not promoted): the check keeps the
/// node MASTER and the MASTER hook starts the primary again; when that start fails three
/// times in a row, the check lets the node leave MASTER (the other one, if its rule lets
/// it, takes over) instead of holding the VIP on no database for ever. A peer on a newer
/// timeline is never started over.
#[test]
fn a_fenced_primary_is_started_again_only_over_a_replica_and_not_for_ever() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_baton("MASTER");
    s.set("role", "");
    s.set("peer", "t|1|none|[]");
    for (name, body) in [
        (
            "pg_ctl",
            "#!/bin/sh\ncase \"$1\" in status) exit 3 ;; start) exit 1 ;; *) exit 0 ;; esac\n",
        ),
        (
            "pg_controldata",
            "#!/bin/sh\necho 'pg_control version number:            1300'\n\
             echo \"Latest checkpoint's TimeLineID:       2\"\n",
        ),
    ] {
        let p = s.bin().join(name);
        std::fs::write(&p, body).expect("stub");
        chmod(&p, 0o755);
    }
    let data = s.pg().join("data");
    std::fs::create_dir(&data).expect("data");
    chown_postgres(&data);
    let mark = s.pg().join("data.baton-fenced");
    std::fs::write(&mark, "").expect("mark");
    chown_postgres(&mark);
    let baton = s.bin().join("baton").display().to_string();
    // (The reconciler is not started from here: the check's backoff is armed only.)
    let env = [("BATON_BIN", baton.as_str()), ("BATON_PG_RECONCILE", "no")];

    let auto = data.join("postgresql.auto.conf");
    std::fs::write(&auto, "synchronous_standby_names = ''\nwork_mem = '8MB'\n").expect("auto.conf");
    chown_postgres(&auto);
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("starting it again"), "{}", text(&out));
    for n in 1..=3 {
        let out = s.run("baton-pg-notify", &["master"], &env, &[]);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("restarting the local primary that was fenced")
                && text(&out).contains(&format!("({n} failures in a row")),
            "{}",
            text(&out)
        );
    }
    // Each start was made to wait for a synchronous standby (what a promotion cleared).
    let conf = std::fs::read_to_string(&auto).expect("auto.conf");
    assert!(
        conf.contains("synchronous_standby_names = '*'") && conf.contains("work_mem = '8MB'"),
        "{conf}"
    );
    assert_eq!(
        conf.matches("synchronous_standby_names").count(),
        1,
        "{conf}"
    );
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("failed 3 times in a row"),
        "{}",
        text(&out)
    );
    // A new fence (the mark written again by a hook) starts the count again; a peer on a
    // newer timeline is never started over.
    std::fs::write(s.path().join("state/fenced-restart-failures"), "0\n").expect("reset");
    s.set("peer", "t|3|none|[]");
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("newer than this one's 2"),
        "{}",
        text(&out)
    );
    let out = s.run("baton-pg-notify", &["master"], &env, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not starting it as a second primary"),
        "{}",
        text(&out)
    );
    assert!(mark.exists(), "the fence mark was removed");
    // Nothing answers there (down, or across a partition): started again, made to wait
    // for a synchronous standby, so it acknowledges nothing a promoted peer lacks.
    s.set("peer", "down");
    let out = s.run("baton-pg-check", &[], &env, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("no database answers at 192.0.2.9; started with synchronous_standby_names"),
        "{}",
        text(&out)
    );
}

/// FAULT with a local primary whose peer's database is a replica that zero-loss would not
/// promote (not this primary's synchronous standby): not fenced, since nothing could take
/// over; in availability mode (that replica would be promoted) it is fenced, and so it is
/// when the peer does not answer at all (it may be a primary on the other side of a
/// partition).
#[test]
fn fault_fences_a_primary_only_when_another_database_can_take_over() {
    if !ready() {
        return;
    }
    let s = replica_with_a_stub_peer();
    s.set("role", "f");
    s.set("peer", "t|1|none|[]");
    let mark = s.pg().join("data.baton-fenced");
    let out = s.run("baton-pg-notify", &["fault"], &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("FAULT: not fencing: the database at 192.0.2.9 is a replica"),
        "{}",
        text(&out)
    );
    assert!(!mark.exists(), "fenced: {}", text(&out));
    let out = s.run(
        "baton-pg-notify",
        &["fault"],
        &[("BATON_PG_MODE", "availability")],
        &[],
    );
    assert!(text(&out).contains("FAULT: fenced"), "{}", text(&out));
    assert!(mark.exists());
    std::fs::remove_file(&mark).expect("rm mark");
    s.set("peer", "down");
    let out = s.run("baton-pg-notify", &["fault"], &[], &[]);
    assert!(text(&out).contains("FAULT: fenced"), "{}", text(&out));
    assert!(mark.exists());
}
