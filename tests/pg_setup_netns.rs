//! `baton-pg setup` (scripts/baton-pg-setup) from nothing to a synchronous pair behind the
//! VIP, in a namespace lab: servers `a` (192.0.2.1, where setup runs) and `b` (192.0.2.2,
//! reached over SSH: its own `sshd` from Debian's openssh-server, started by the test with
//! host keys and an authorized key in a temporary directory).
//!
//! Each server starts as a fresh PostgreSQL 15 install leaves it: an initdb'd cluster,
//! running, listening on localhost only, `pg_hba.conf` with Debian's default lines, no
//! replication role, no `wal_log_hints`. The configuration lives outside the data directory
//! (as Debian's does), in plain PGDATA mode (`pg_ctl -D <conf dir>`). `/etc/baton/baton.conf`
//! and `/etc/default/baton-pg` are files in the node's directory (`--conf`, `--defaults` and
//! their `--peer-` forms), since the namespaces share one file system; the defaults file holds
//! what an operator with this layout would write there first (PGDATA, PGHOST...), and setup
//! adds the peer. `PGPASSFILE` there stands for `~postgres/.pgpass`, which both nodes would
//! share here. `setup_debian_clusters` uses Debian's layout instead: `pg_createcluster`,
//! the configuration in /etc/postgresql/15/NAME, `pg_ctlcluster`. With `--status-port`,
//! `status_pair_from_either_server_through_failover_and_fallback` reads `baton status
//! --pair --json` from each server (in its namespace) at each step of a failover and a
//! fallback.
//!
//! Needs root, PostgreSQL 15 and openssh-server (skipped without them outside CI).

mod daemon;
mod lab;
mod pg;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use daemon::Cluster;
use lab::{Proc, poll, require_root};
use pg::{PGBIN, text};

const VIP: &str = "192.0.2.100/24";
const PASSWORD: &str = "s3cret:with\\odd chars";

fn addr(node: &str) -> &'static str {
    if node == "a" {
        "192.0.2.1"
    } else {
        "192.0.2.2"
    }
}

/// Root, PostgreSQL 15 and sshd present; without them skip, unless CI is set.
fn ready() -> bool {
    if !require_root() {
        return false;
    }
    let missing: Vec<&str> = [
        (format!("{PGBIN}/postgres"), "postgresql-15"),
        ("/usr/sbin/sshd".to_string(), "openssh-server"),
        ("/usr/bin/ssh".to_string(), "openssh-client"),
        ("/usr/bin/ssh-keygen".to_string(), "openssh-client"),
    ]
    .iter()
    .filter(|(p, _)| !Path::new(p).exists())
    .map(|(_, pkg)| *pkg)
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "not installed: {missing:?}, and CI is set (apt-get install {})",
            missing.join(" ")
        );
        eprintln!("SKIPPED: not installed: {}", missing.join(" "));
        return false;
    }
    true
}

struct Pair {
    c: Cluster,
    root: tempfile::TempDir,
    _sshd: Proc,
    /// Debian's layout: each server a cluster of `pg_createcluster` (`15/<prefix><node>`,
    /// its configuration in /etc/postgresql, driven by `pg_ctlcluster`), the data directory
    /// in the test's directory; else a plain data directory (`pg_ctl`).
    debian: Option<String>,
}

impl Pair {
    /// Two fresh PostgreSQL servers (plain data directories) and b's sshd.
    fn new(tag: &str) -> Pair {
        Pair::with_layout(tag, None)
    }

    /// As `new`, in Debian's cluster layout, the clusters named `<prefix>a` and `<prefix>b`.
    fn debian(tag: &str) -> Pair {
        Pair::with_layout(tag, Some(format!("baton_{tag}_{}_", std::process::id())))
    }

    fn with_layout(tag: &str, debian: Option<String>) -> Pair {
        let c = Cluster::new(tag, &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])]);
        let root = tempfile::Builder::new()
            .prefix("baton-pg-setup-")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let sshd = start_sshd(&c, root.path());
        let pair = Pair {
            c,
            root,
            _sshd: sshd,
            debian,
        };
        for node in ["a", "b"] {
            pair.fresh_server(node);
        }
        pair
    }

    /// The cluster's name in Debian's layout.
    fn cluster(&self, node: &str) -> Option<String> {
        self.debian.as_ref().map(|p| format!("{p}{node}"))
    }

    /// The server's pg_hba.conf.
    fn hba(&self, node: &str) -> PathBuf {
        match self.cluster(node) {
            Some(name) => PathBuf::from(format!("/etc/postgresql/15/{name}/pg_hba.conf")),
            None => self.dir(node).join("conf/pg_hba.conf"),
        }
    }

    /// The server's log.
    fn pg_log(&self, node: &str) -> PathBuf {
        match self.cluster(node) {
            Some(name) => PathBuf::from(format!("/var/log/postgresql/postgresql-15-{name}.log")),
            None => self.dir(node).join("postgresql.log"),
        }
    }

    fn dir(&self, node: &str) -> PathBuf {
        self.root.path().join(node)
    }

    fn data(&self, node: &str) -> PathBuf {
        self.dir(node).join("data")
    }

    fn conf(&self, node: &str) -> PathBuf {
        self.root.path().join(format!("{node}-etc/baton.conf"))
    }

    fn defaults(&self, node: &str) -> PathBuf {
        self.root.path().join(format!("{node}-etc/baton-pg"))
    }

    fn as_pg(&self, node: &str, cmd: &[&str]) -> Output {
        let mut full = vec!["runuser", "-u", "postgres", "--"];
        full.extend_from_slice(cmd);
        self.c.lab.exec(node, &full)
    }

    fn as_pg_ok(&self, node: &str, cmd: &[&str]) -> String {
        let out = self.as_pg(node, cmd);
        assert!(out.status.success(), "{cmd:?} on {node}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// One value from `node`'s server, or None when it does not answer.
    fn try_sql(&self, node: &str, query: &str) -> Option<String> {
        let sock = self.dir(node).join("sock").display().to_string();
        let psql = format!("{PGBIN}/psql");
        let out = self.as_pg(
            node,
            &[
                &psql, "-X", "-A", "-t", "-h", &sock, "-d", "postgres", "-c", query,
            ],
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `pg_ctl stop -m immediate` of `node`'s server (plain layout), as a crash leaves it.
    fn stop_pg_immediate(&self, node: &str) {
        let pg_ctl = format!("{PGBIN}/pg_ctl");
        let cdir = self.dir(node).join("conf").display().to_string();
        self.as_pg_ok(
            node,
            &[
                &pg_ctl,
                "stop",
                "-D",
                &cdir,
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
            ],
        );
    }

    /// One value from `node`'s server, as postgres over its socket.
    fn sql(&self, node: &str, query: &str) -> String {
        let sock = self.dir(node).join("sock").display().to_string();
        let psql = format!("{PGBIN}/psql");
        self.as_pg_ok(
            node,
            &[
                &psql, "-X", "-A", "-t", "-h", &sock, "-d", "postgres", "-c", query,
            ],
        )
    }

    /// A cluster as `apt-get install postgresql-15` leaves one: initdb'd and running,
    /// on localhost only, Debian's pg_hba.conf; and the settings file an operator with
    /// this layout would write before running setup.
    fn fresh_server(&self, node: &str) {
        let d = self.dir(node);
        for sub in ["", "conf", "sock"] {
            std::fs::create_dir_all(d.join(sub)).expect("node dir");
            chown_postgres(&d.join(sub));
        }
        let etc = self.root.path().join(format!("{node}-etc"));
        std::fs::create_dir_all(&etc).expect("etc dir");
        if let Some(name) = self.cluster(node) {
            return self.fresh_cluster(node, &name);
        }
        let conf = format!(
            "data_directory = '{data}'\n\
             hba_file = '{d}/conf/pg_hba.conf'\n\
             ident_file = '{d}/conf/pg_ident.conf'\n\
             listen_addresses = 'localhost'\n\
             port = 5432\n\
             unix_socket_directories = '{d}/sock'\n\
             max_connections = 50\n\
             shared_buffers = 16MB\n\
             fsync = off\n\
             log_line_prefix = '%m [%p] '\n",
            data = self.data(node).display(),
            d = d.display()
        );
        let hba = "local all postgres peer\n\
                   local all all peer\n\
                   host all all 127.0.0.1/32 scram-sha-256\n\
                   host all all ::1/128 scram-sha-256\n\
                   local replication all peer\n\
                   host replication all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(d.join("conf/postgresql.conf"), conf).expect("postgresql.conf");
        std::fs::write(d.join("conf/pg_hba.conf"), hba).expect("pg_hba.conf");
        std::fs::write(d.join("conf/pg_ident.conf"), "").expect("pg_ident.conf");
        for f in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            chown_postgres(&d.join("conf").join(f));
        }
        let initdb = format!("{PGBIN}/initdb");
        let data = self.data(node).display().to_string();
        self.as_pg_ok(node, &[&initdb, "-D", &data, "-U", "postgres", "--no-sync"]);
        for f in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            let _ = std::fs::remove_file(self.data(node).join(f));
        }
        let pg_ctl = format!("{PGBIN}/pg_ctl");
        let cdir = d.join("conf").display().to_string();
        let log = d.join("postgresql.log").display().to_string();
        self.as_pg_ok(
            node,
            &[&pg_ctl, "start", "-D", &cdir, "-w", "-t", "30", "-l", &log],
        );
        let s = |p: PathBuf| p.display().to_string();
        let settings = [
            ("PGBIN", PGBIN.to_string()),
            ("PGDATA", s(self.data(node))),
            ("BATON_PG_CLUSTER", String::new()),
            ("BATON_PG_CTL_DIR", s(d.join("conf"))),
            ("BATON_PG_CONFIG_FILE", s(d.join("conf/postgresql.conf"))),
            ("BATON_PG_SERVER_LOG", s(d.join("postgresql.log"))),
            ("PGHOST", s(d.join("sock"))),
            ("PGPORT", "5432".to_string()),
            ("PGPASSFILE", s(d.join("pgpass"))),
            ("BATON_PG_APPNAME", node.to_string()),
            (
                "BATON_PG_LOCK",
                s(self.root.path().join(format!("{node}-run/baton-pg.lock"))),
            ),
            ("BATON_PG_LOGFILE", s(d.join("hooks.log"))),
            (
                "BATON_PG_STATE_DIR",
                s(self.root.path().join(format!("{node}-state"))),
            ),
            ("BATON_PG_SYSLOG", "no".to_string()),
            ("BATON_BIN", env!("CARGO_BIN_EXE_baton").to_string()),
            ("BATON_SOCKET", s(self.c.socket(node))),
        ];
        self.write_defaults(node, &settings);
    }

    /// A cluster as `apt-get install postgresql-15` makes one (`pg_createcluster`: Debian's
    /// postgresql.conf and pg_hba.conf in /etc/postgresql/15/NAME), its data and socket in
    /// the node's directory, started by `pg_ctlcluster` in the node.
    fn fresh_cluster(&self, node: &str, name: &str) {
        let d = self.dir(node);
        let s = |p: PathBuf| p.display().to_string();
        let out = std::process::Command::new("pg_createcluster")
            .args([
                "15",
                name,
                "-d",
                &s(self.data(node)),
                "-s",
                &s(d.join("sock")),
            ])
            .args(["-p", "5432", "--start-conf", "manual", "--", "--no-sync"])
            .output()
            .expect("pg_createcluster");
        assert!(out.status.success(), "pg_createcluster: {}", text(&out));
        let out = self
            .c
            .lab
            .exec(node, &["pg_ctlcluster", "15", name, "start"]);
        assert!(out.status.success(), "pg_ctlcluster start: {}", text(&out));
        let settings = [
            ("PGBIN", PGBIN.to_string()),
            ("PGDATA", s(self.data(node))),
            ("BATON_PG_CLUSTER", format!("15/{name}")),
            ("PGHOST", s(d.join("sock"))),
            ("PGPORT", "5432".to_string()),
            ("PGPASSFILE", s(d.join("pgpass"))),
            ("BATON_PG_APPNAME", node.to_string()),
            (
                "BATON_PG_LOCK",
                s(self.root.path().join(format!("{node}-run/baton-pg.lock"))),
            ),
            ("BATON_PG_LOGFILE", s(d.join("hooks.log"))),
            (
                "BATON_PG_STATE_DIR",
                s(self.root.path().join(format!("{node}-state"))),
            ),
            ("BATON_PG_SYSLOG", "no".to_string()),
            ("BATON_BIN", env!("CARGO_BIN_EXE_baton").to_string()),
            ("BATON_SOCKET", s(self.c.socket(node))),
        ];
        self.write_defaults(node, &settings);
    }

    fn write_defaults(&self, node: &str, settings: &[(&str, String)]) {
        let body: String = settings.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(
            self.defaults(node),
            format!("# this layout's settings, written by the test\n{body}"),
        )
        .expect("defaults");
    }

    /// `baton-pg setup` on a, with `extra` environment.
    fn setup(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let cmd = self.setup_cmd(args, extra);
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.c.lab.exec("a", &refs)
    }

    /// The command line of `setup`.
    fn setup_cmd(&self, args: &[&str], extra: &[(&str, &str)]) -> Vec<String> {
        let tmp = self.root.path().join("ssh");
        let s = |p: PathBuf| p.display().to_string();
        let mut cmd: Vec<String> = vec![
            "env".into(),
            format!("BATON_PG_DEFAULTS={}", s(self.defaults("a"))),
        ];
        let pw = self.root.path().join("password");
        if !pw.exists() {
            std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
            std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        for (k, v) in extra {
            cmd.push(format!("{k}={v}"));
        }
        cmd.extend([
            pg::script("baton-pg"),
            "setup".into(),
            "--peer".into(),
            addr("b").into(),
            "--vip".into(),
            VIP.into(),
            "--interface".into(),
            lab::IFNAME.into(),
            "--conf".into(),
            s(self.conf("a")),
            "--peer-conf".into(),
            s(self.conf("b")),
            "--peer-defaults".into(),
            s(self.defaults("b")),
            "--service".into(),
            "none".into(),
            "--password-file".into(),
            s(pw),
            "--ssh-option".into(),
            format!("IdentityFile={}", s(tmp.join("id"))),
            "--ssh-option".into(),
            "IdentitiesOnly=yes".into(),
            "--ssh-option".into(),
            format!("UserKnownHostsFile={}", s(tmp.join("known_hosts"))),
            "--ssh-option".into(),
            "StrictHostKeyChecking=accept-new".into(),
        ]);
        cmd.extend(args.iter().map(|a| a.to_string()));
        cmd
    }

    /// `baton-pg CMD` (reconfigure, remove) on a, with the paths and SSH options of
    /// `setup`; its output, and whether it succeeded.
    fn pair(&self, cmd: &str, args: &[&str]) -> (bool, String) {
        let tmp = self.root.path().join("ssh");
        let s = |p: PathBuf| p.display().to_string();
        let mut full: Vec<String> = vec![
            "env".into(),
            format!("BATON_PG_DEFAULTS={}", s(self.defaults("a"))),
            pg::script("baton-pg"),
            cmd.into(),
            "--conf".into(),
            s(self.conf("a")),
            "--peer-conf".into(),
            s(self.conf("b")),
            "--peer-defaults".into(),
            s(self.defaults("b")),
            "--ssh-option".into(),
            format!("IdentityFile={}", s(tmp.join("id"))),
            "--ssh-option".into(),
            "IdentitiesOnly=yes".into(),
            "--ssh-option".into(),
            format!("UserKnownHostsFile={}", s(tmp.join("known_hosts"))),
            "--ssh-option".into(),
            "StrictHostKeyChecking=accept-new".into(),
        ];
        if cmd == "remove" {
            full.extend(["--service".into(), "none".into()]);
        }
        full.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let out = self.c.lab.exec("a", &refs);
        let t = text(&out);
        eprintln!("--- baton-pg {cmd} {args:?}\n{t}");
        (out.status.success(), t)
    }

    fn pair_ok(&self, cmd: &str, args: &[&str]) -> String {
        let (ok, t) = self.pair(cmd, args);
        assert!(ok, "baton-pg {cmd} {args:?} failed:\n{t}\n{}", self.logs());
        t
    }

    /// Each node's state, fallback type and transition counters, from `baton status --json`.
    fn vrrp(&self) -> Vec<(String, String, u64, u64)> {
        ["a", "b"]
            .iter()
            .map(|n| {
                let (json, _) = self.c.status(n);
                let i = &json["instances"][0];
                (
                    i["state"].as_str().unwrap_or("").to_string(),
                    i["fallback"].as_str().unwrap_or("").to_string(),
                    i["counters"]["became_master"].as_u64().unwrap_or(99),
                    i["counters"]["released_master"].as_u64().unwrap_or(99),
                )
            })
            .collect()
    }

    /// Files named `<file>.<kind>-*` beside `file`.
    fn kept(file: &Path, kind: &str) -> Vec<PathBuf> {
        let prefix = format!("{}.{kind}-", file.file_name().unwrap().to_string_lossy());
        std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect()
    }

    fn setup_ok(&self, args: &[&str]) -> String {
        let out = self.setup(args, &[]);
        let t = text(&out);
        eprintln!("--- baton-pg setup {args:?}\n{t}");
        assert!(out.status.success(), "setup failed:\n{t}\n{}", self.logs());
        // The count it prints is the lines that say what it did.
        if let Some(n) = t
            .lines()
            .find_map(|l| l.strip_prefix("setup: done, "))
            .and_then(|r| r.split(' ').next())
        {
            assert_eq!(n, done_lines(&t).len().to_string(), "{t}");
        }
        t
    }

    /// The replication role logs in from `from` to `to` with `from`'s password file.
    fn login(&self, from: &str, to: &str) -> bool {
        let psql = format!("{PGBIN}/psql");
        let pgpass = format!("PGPASSFILE={}", self.dir(from).join("pgpass").display());
        let conninfo = format!("host={} user=replicator dbname=postgres", addr(to));
        let out = self.c.lab.exec(
            from,
            &[
                "runuser", "-u", "postgres", "--", "env", &pgpass, &psql, "-X", "-A", "-t", "-d",
                &conninfo, "-c", "SELECT 1",
            ],
        );
        eprintln!("login {from} -> {to}: {}", text(&out));
        out.status.success()
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for node in ["a", "b"] {
            for (f, p) in [
                ("postgresql.log", self.pg_log(node)),
                ("hooks.log", self.dir(node).join("hooks.log")),
            ] {
                s += &format!(
                    "--- {node} {f}\n{}\n",
                    std::fs::read_to_string(&p).unwrap_or_default()
                );
            }
        }
        s += &format!(
            "--- b sshd.log\n{}\n",
            std::fs::read_to_string(self.root.path().join("ssh/sshd.log")).unwrap_or_default()
        );
        s + &self.c.all_logs()
    }

    /// b streams from a and is its synchronous standby.
    fn healthy(&self) -> bool {
        self.sql(
            "a",
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'b' \
             AND state = 'streaming' AND sync_state = 'sync'",
        ) == "1"
            && self.sql("b", "SELECT pg_is_in_recovery()") == "t"
    }

    /// Start baton on both with the written configuration (a first), read where setup
    /// wrote it (a reload reads it again there).
    fn start_baton(&mut self) {
        for node in ["a", "b"] {
            self.start_baton_on(node);
            if node == "a" {
                self.c.expect_holders(&["a", "b"], VIP, &["a"]);
            }
        }
    }

    /// Start baton on `node` with the configuration setup wrote there.
    fn start_baton_on(&mut self, node: &str) {
        // The hooks' settings from the file setup wrote, as from /etc/default/baton-pg.
        let env = format!("BATON_PG_DEFAULTS={}", self.defaults(node).display());
        let conf = self.conf(node);
        self.c.start_file(node, &conf, &env);
        self.c.wait_for_socket(node);
    }

    /// `baton status --pair <the other>:9650 --json` run on `node` (in its namespace, as an
    /// operator there would): the parsed document, the exit code and the raw text.
    fn pair_view(&self, node: &str) -> (serde_json::Value, i32, String) {
        let other = addr(if node == "a" { "b" } else { "a" });
        let peer = format!("{other}:{STATUS_PORT}");
        let sock = self.c.socket(node).display().to_string();
        let out = self.c.lab.exec(
            node,
            &[
                env!("CARGO_BIN_EXE_baton"),
                "status",
                "--pair",
                &peer,
                "--json",
                "--socket",
                &sock,
            ],
        );
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = serde_json::from_str(&raw).unwrap_or_else(|e| {
            panic!("status --pair on {node} is not JSON ({e}): {}", text(&out))
        });
        (json, out.status.code().unwrap_or(-1), raw)
    }

    /// `baton-pg status --json` on `node`: the shortcut, reading the peer and the port from
    /// the settings file setup wrote.
    fn pg_status(&self, node: &str) -> (serde_json::Value, i32) {
        let defaults = format!("BATON_PG_DEFAULTS={}", self.defaults(node).display());
        let script = pg::script("baton-pg");
        let out = self
            .c
            .lab
            .exec(node, &["env", &defaults, &script, "status", "--json"]);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "baton-pg status on {node} is not JSON ({e}): {}",
                text(&out)
            )
        });
        (json, out.status.code().unwrap_or(-1))
    }

    /// Poll `pair_view(node)` until `ok` holds for it (bounded); the last view.
    fn pair_view_until(
        &self,
        node: &str,
        what: &str,
        ok: impl Fn(&serde_json::Value, i32) -> bool,
    ) -> serde_json::Value {
        let mut last = (serde_json::Value::Null, -1, String::new());
        let settled = poll(Duration::from_secs(90), || {
            last = self.pair_view(node);
            ok(&last.0, last.1)
        });
        assert!(
            settled,
            "{what}: status --pair on {node} never settled; last (exit {}):\n{}\n{}",
            last.1,
            last.2,
            self.logs()
        );
        eprintln!(
            "--- {what}: status --pair on {node}, exit {}\n{}",
            last.1, last.2
        );
        last.0
    }

    /// What a second run must leave alone: the files setup writes, and the configuration
    /// files ALTER SYSTEM and pg_hba edits touch.
    fn watched(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for node in ["a", "b"] {
            v.push(self.conf(node));
            v.push(self.defaults(node));
            v.push(self.dir(node).join("pgpass"));
            v.push(self.hba(node));
            v.push(self.data(node).join("postgresql.auto.conf"));
        }
        v
    }

    fn stamps(&self) -> Vec<(PathBuf, Option<SystemTime>, String)> {
        self.watched()
            .into_iter()
            .map(|p| {
                let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                let c = std::fs::read_to_string(&p).unwrap_or_default();
                (p, m, c)
            })
            .collect()
    }

    fn sysid(&self, node: &str) -> String {
        let tool = format!("{PGBIN}/pg_controldata");
        let data = self.data(node).display().to_string();
        self.as_pg_ok(node, &[&tool, &data])
            .lines()
            .find_map(|l| l.strip_prefix("Database system identifier:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    fn displaced(&self, node: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir(node))
            .expect("node dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("data.displaced-"))
            })
            .collect()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.c.stop_all();
        for node in ["a", "b"] {
            let pid = std::fs::read_to_string(self.data(node).join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .status();
                poll(Duration::from_secs(10), || {
                    !Path::new(&format!("/proc/{pid}")).exists()
                });
            }
            // Debian's registration of the cluster (/etc/postgresql/15/NAME, its log).
            if let Some(name) = self.cluster(node) {
                let _ = std::process::Command::new("pg_dropcluster")
                    .args(["15", &name])
                    .output();
            }
        }
    }
}

fn chown_postgres(path: &Path) {
    let ok = std::process::Command::new("chown")
        .arg("postgres:postgres")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown postgres {}", path.display());
}

/// b's sshd: own host key, root's login by a key made here, on b's address only.
fn start_sshd(c: &Cluster, root: &Path) -> Proc {
    let dir = root.join("ssh");
    std::fs::create_dir_all(&dir).expect("ssh dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for (key, kind) in [("host_key", "ed25519"), ("id", "ed25519")] {
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(dir.join(key))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ssh-keygen {key}");
    }
    std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).expect("authorized_keys");
    // sshd's privilege separation directory.
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    let conf = format!(
        "ListenAddress {b}:22\n\
         HostKey {d}/host_key\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         PermitRootLogin prohibit-password\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n",
        b = addr("b"),
        d = dir.display()
    );
    let path = dir.join("sshd_config");
    std::fs::write(&path, conf).expect("sshd_config");
    // Its log in the temporary directory, not on the test's stderr.
    let script = format!(
        "exec /usr/sbin/sshd -D -e -f {} 2>>{}",
        path.display(),
        dir.join("sshd.log").display()
    );
    let p = c.lab.spawn("b", &["sh", "-c", &script]);
    let up = poll(Duration::from_secs(10), || {
        c.lab
            .exec("a", &["bash", "-c", "exec 3<>/dev/tcp/192.0.2.2/22"])
            .status
            .success()
    });
    assert!(up, "b's sshd does not listen");
    p
}

/// Every process: (pid, parent pid, command line).
fn all_procs() -> Vec<(u32, u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
        })
        .collect()
}

/// A configuration's lines without comments, blank lines or indentation.
fn lines(conf: &str) -> Vec<String> {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn done_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.trim_start().starts_with("done:") || l.contains(": done:"))
        .collect()
}

/// From two fresh servers to a synchronous pair behind the VIP; a dry run before changes
/// nothing; a second run after changes nothing.
#[test]
fn setup_from_nothing_then_nothing_to_do() {
    if !ready() {
        return;
    }
    let mut pair = Pair::new("pgsu");
    let b_fresh = pair.sysid("b");
    let before = pair.stamps();

    let out = pair.setup_ok(&["--dry-run"]);
    assert!(out.contains("would:"), "{out}");
    assert!(
        done_lines(&out).is_empty(),
        "a dry run did something:\n{out}"
    );
    assert_eq!(pair.stamps(), before, "a dry run changed files:\n{out}");
    assert_eq!(pair.sysid("b"), b_fresh);
    assert_eq!(
        pair.sql(
            "a",
            "SELECT count(*) FROM pg_roles WHERE rolname = 'replicator'"
        ),
        "0"
    );

    let out = pair.setup_ok(&[]);
    for n in 1..=8 {
        assert!(out.contains(&format!("step {n}/8:")), "{out}");
    }
    assert!(!out.contains(PASSWORD), "the password was printed:\n{out}");
    assert!(
        pair.healthy(),
        "not a synchronous pair:\n{out}\n{}",
        pair.logs()
    );
    // b's fresh cluster was replaced by a copy of a, and kept.
    assert_ne!(pair.sysid("b"), b_fresh);
    assert_eq!(pair.sysid("b"), pair.sysid("a"));
    assert_eq!(pair.displaced("b").len(), 1, "{out}");
    // The settings the hooks need, on both.
    for node in ["a", "b"] {
        assert_eq!(pair.sql(node, "SHOW wal_log_hints"), "on", "{node}");
        assert_eq!(pair.sql(node, "SHOW listen_addresses"), "*", "{node}");
        let hba = std::fs::read_to_string(pair.hba(node)).unwrap();
        let other = addr(if node == "a" { "b" } else { "a" });
        assert!(
            hba.lines()
                .next()
                .unwrap_or("")
                .contains(&format!("replication replicator {other}/32 scram-sha-256")),
            "{node}'s pg_hba.conf:\n{hba}"
        );
        let pgpass = pair.dir(node).join("pgpass");
        let meta = std::fs::metadata(&pgpass).expect("pgpass");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let line = std::fs::read_to_string(&pgpass).unwrap();
        assert_eq!(
            line.trim(),
            format!("{other}:5432:*:replicator:s3cret\\:with\\\\odd chars")
        );
        let defaults = std::fs::read_to_string(pair.defaults(node)).unwrap();
        assert!(
            defaults.contains(&format!("\nBATON_PG_PEER_HOST={other}\n")),
            "{defaults}"
        );
        assert!(
            defaults.contains("PGDATA="),
            "the operator's settings kept:\n{defaults}"
        );
        // The file that was there is kept beside it.
        let kept: Vec<PathBuf> = std::fs::read_dir(pair.defaults(node).parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.display().to_string().contains("baton-pg.before-setup-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(
            !std::fs::read_to_string(&kept[0])
                .unwrap()
                .contains("BATON_PG_PEER_HOST")
        );
        let conf = pair.conf(node).display().to_string();
        let check = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["check-config", "-f", &conf])
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check));
        let body = std::fs::read_to_string(pair.conf(node)).unwrap();
        let prio = if node == "a" { "150" } else { "100" };
        assert!(body.contains(&format!("priority {prio}\n")), "{body}");
        assert!(body.contains("192.0.2.100/24 dev veth0"), "{body}");
        // One template: conf/examples/postgres-pair.conf, but for the node's values.
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/examples/postgres-pair.conf"),
        )
        .unwrap()
        .replace("router_id db1", &format!("router_id {node}"))
        .replace("priority 150", &format!("priority {prio}"))
        .replace("192.0.2.200/24 dev eth0", "192.0.2.100/24 dev veth0")
        .replace("interface eth0", "interface veth0")
        .replace(
            "/usr/share/baton/scripts/",
            &format!("{}/scripts/", env!("CARGO_MANIFEST_DIR")),
        );
        assert_eq!(
            lines(&body),
            lines(&example),
            "{node}'s baton.conf is not conf/examples/postgres-pair.conf"
        );
    }
    // The role logs in to each server from the other with the password it was given
    // (scram; each pg_hba.conf loaded): what the hooks' rewinds and checks need.
    for (from, to) in [("b", "a"), ("a", "b")] {
        assert!(
            pair.login(from, to),
            "{from} cannot log in to {to}\n{}",
            pair.logs()
        );
    }

    pair.start_baton();
    assert!(pair.healthy());

    // Once more, with baton running: nothing to do, nothing touched.
    let stamps = pair.stamps();
    let out = pair.setup_ok(&[]);
    assert!(
        done_lines(&out).is_empty(),
        "a second run changed things:\n{out}"
    );
    assert!(
        out.contains("setup: nothing changed: every step was already done"),
        "{out}"
    );
    assert!(
        out.contains("ok: baton here: MASTER, 192.0.2.100 on veth0"),
        "{out}"
    );
    assert!(out.contains("ok: baton at 192.0.2.2: BACKUP"), "{out}");
    assert_eq!(pair.stamps(), stamps, "a second run touched files:\n{out}");
    // A dry run of a pair that is set up has nothing to propose.
    let out = pair.setup_ok(&["--dry-run"]);
    assert!(!out.contains("would:"), "{out}");
    assert!(out.contains("dry run: 0 change(s) would be made"), "{out}");
    assert!(pair.healthy());
    pair.c.expect_holders(&["a", "b"], VIP, &["a"]);

    // The password never reaches a server log.
    assert!(!pair.logs().contains("s3cret"), "the password is in a log");

    // Another password: both .pgpass files and the role follow, nothing else moves.
    std::fs::write(pair.root.path().join("password"), "another one\n").unwrap();
    let out = pair.setup_ok(&[]);
    assert!(
        out.contains("done: ALTER ROLE replicator PASSWORD"),
        "{out}"
    );
    assert_eq!(done_lines(&out).len(), 3, "{out}");
    for node in ["a", "b"] {
        let line = std::fs::read_to_string(pair.dir(node).join("pgpass")).unwrap();
        assert!(line.trim().ends_with(":replicator:another one"), "{line}");
    }
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
    assert!(pair.healthy());
}

/// A run stopped after each step in turn (and once after the standby's copy, before it is
/// installed) and run again completes; then nothing is left to do.
#[test]
fn setup_interrupted_at_each_step_completes() {
    if !ready() {
        return;
    }
    let pair = Pair::new("pgsi");
    let mut copied = false;
    for k in ["1", "2", "3", "copied", "4", "5", "6", "7"] {
        let out = pair.setup(&[], &[("BATON_PG_SETUP_STOP_AFTER", k)]);
        let t = text(&out);
        eprintln!("--- baton-pg setup, stopped after {k}\n{t}");
        if k == "4" {
            // The run stopped after the copy left it complete, the fresh cluster stopped.
            assert!(t.contains("by an earlier run is used"), "{t}");
            copied = true;
        }
        assert!(
            !out.status.success(),
            "stopped at {k}, yet it succeeded:\n{t}"
        );
        assert!(
            t.contains("a test knob"),
            "not stopped by the knob at {k}:\n{t}\n{}",
            pair.logs()
        );
    }
    assert!(copied);
    let out = pair.setup_ok(&[]);
    assert!(pair.healthy(), "{out}\n{}", pair.logs());
    assert_eq!(pair.displaced("b").len(), 1, "{out}");
    assert!(
        !pair.dir("b").join("data.basebackup").exists(),
        "the copy was left behind:\n{out}"
    );
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
}

/// A standby whose cluster holds data (not a copy of the primary) is never replaced.
#[test]
fn setup_refuses_a_standby_with_data() {
    if !ready() {
        return;
    }
    let pair = Pair::new("pgsr");
    pair.sql(
        "b",
        "CREATE TABLE precious (x int); INSERT INTO precious VALUES (42)",
    );
    let sysid = pair.sysid("b");
    let out = pair.setup(&[], &[]);
    let t = text(&out);
    eprintln!("--- baton-pg setup\n{t}");
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("with data in it"), "{t}");
    assert_eq!(pair.sysid("b"), sysid);
    assert_eq!(pair.sql("b", "SELECT x FROM precious"), "42");
    assert!(pair.displaced("b").is_empty());
}

/// Setup killed (the standby's half, with everything it started) while the standby's base
/// backup copies, then run again: the partial copy is removed, a new one made, the standby's
/// fresh cluster still kept aside.
#[test]
fn setup_killed_during_the_copy_completes() {
    if !ready() {
        return;
    }
    let pair = Pair::new("pgsk");
    let defaults = std::fs::read_to_string(pair.defaults("b")).unwrap();
    // A slow copy (32 kB/s), so that there is time to kill it.
    std::fs::write(
        pair.defaults("b"),
        format!("{defaults}BATON_PG_BASEBACKUP_MAX_RATE=32k\n"),
    )
    .unwrap();
    let cmd = pair.setup_cmd(&[], &[]);
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let run = pair.c.lab.spawn("a", &refs);
    let stage = pair.dir("b").join("data.basebackup");
    let copying = poll(Duration::from_secs(90), || {
        pair.dir("b").join("data.basebackup-in-progress").exists()
            && std::fs::read_dir(&stage).is_ok_and(|mut d| d.next().is_some())
    });
    assert!(copying, "the copy never started\n{}", pair.logs());
    // The standby's half (the shell sshd started for it) and everything it started, as an
    // OOM kill or a power cut of the session would end them.
    let marker = pair.defaults("b").display().to_string();
    let procs = all_procs();
    let top: Vec<u32> = procs
        .iter()
        .filter(|(pid, _, cmd)| {
            // On b (its settings file in its environment), not a's ssh naming it.
            cmd.contains("setup-peer standby")
                && !cmd.starts_with("ssh ")
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|e| String::from_utf8_lossy(&e).contains(&marker))
        })
        .map(|(pid, _, _)| *pid)
        .collect();
    assert!(
        !top.is_empty(),
        "the standby's half of setup is not running"
    );
    let mut victims = top.clone();
    let mut i = 0;
    while i < victims.len() {
        let parent = victims[i];
        victims.extend(
            procs
                .iter()
                .filter(|(_, pp, _)| *pp == parent)
                .map(|(p, _, _)| *p),
        );
        i += 1;
    }
    assert!(
        victims.len() > top.len(),
        "pg_basebackup is not among them: {victims:?}"
    );
    for pid in &victims {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let status = run
        .wait_timeout(Duration::from_secs(60))
        .expect("setup ends");
    assert!(
        !status.success(),
        "setup succeeded though its peer was killed"
    );
    assert!(stage.exists(), "the partial copy is there");
    assert!(pair.displaced("b").is_empty(), "nothing moved yet");

    std::fs::write(pair.defaults("b"), defaults).unwrap();
    let out = pair.setup_ok(&[]);
    assert!(out.contains("removed the interrupted copy"), "{out}");
    assert!(pair.healthy(), "{out}\n{}", pair.logs());
    assert_eq!(pair.displaced("b").len(), 1, "{out}");
    assert!(!stage.exists());
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
}

/// The same in Debian's layout: clusters made by `pg_createcluster`, their configuration in
/// /etc/postgresql/15/NAME (pg_hba.conf edited there), started and stopped by
/// `pg_ctlcluster` (BATON_PG_CLUSTER); the standby's fresh cluster replaced, kept aside.
#[test]
fn setup_debian_clusters() {
    if !ready() {
        return;
    }
    if Path::new("/run/systemd/system").exists() {
        // pg_ctlcluster would hand the start to systemd, outside the test's namespaces.
        eprintln!("SKIPPED: systemd runs this machine (pg_ctlcluster redirects to it)");
        return;
    }
    let pair = Pair::debian("pgsd");
    let out = pair.setup_ok(&[]);
    assert!(pair.healthy(), "{out}\n{}", pair.logs());
    assert_eq!(pair.displaced("b").len(), 1, "{out}");
    for node in ["a", "b"] {
        let hba = std::fs::read_to_string(pair.hba(node)).unwrap();
        let other = addr(if node == "a" { "b" } else { "a" });
        assert!(
            hba.contains(&format!(
                "host replication replicator {other}/32 scram-sha-256"
            )),
            "{node}'s {}:\n{hba}",
            pair.hba(node).display()
        );
    }
    for (from, to) in [("b", "a"), ("a", "b")] {
        assert!(
            pair.login(from, to),
            "{from} cannot log in to {to}\n{}",
            pair.logs()
        );
    }
    let stamps = pair.stamps();
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps);
}

/// The pair reconfigured (the fallback type, manual to automatic and back) with no
/// transition on either node, an invalid change refused on both; then taken apart: the
/// primary writable alone, the VIP on neither node, the replica a read-only copy with the
/// rows, setup's files kept as `.removed-*`; a second run of each has nothing to do.
#[test]
fn reconfigure_then_remove_as_a_pair() {
    if !ready() {
        return;
    }
    let mut pair = Pair::new("pgsp");
    pair.setup_ok(&[]);
    pair.start_baton();
    assert!(pair.healthy());
    pair.sql(
        "a",
        "CREATE TABLE kept (x int); INSERT INTO kept SELECT generate_series(1, 100); \
         CREATE TABLE acked (k text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
    );
    // A client (192.0.2.3) writing through the VIP while the pair is reconfigured; the
    // postgres role may connect from it (a line below setup's, kept by remove).
    pair.c.lab.node("c", &["192.0.2.3/24"]);
    let hba = std::fs::read_to_string(pair.hba("a")).unwrap();
    std::fs::write(
        pair.hba("a"),
        format!("{hba}host postgres postgres 192.0.2.3/32 trust\n"),
    )
    .unwrap();
    pair.sql("a", "SELECT pg_reload_conf()");
    let acks = pair.root.path().join("acks");
    let psql = format!("PSQL={PGBIN}/psql");
    let tool = pg::pgtool();
    let ack_path = acks.display().to_string();
    let writer = pair.c.lab.spawn(
        "c",
        &[
            "env",
            &psql,
            "python3",
            &tool,
            "writer",
            "192.0.2.100",
            "w",
            &ack_path,
        ],
    );
    assert!(
        poll(Duration::from_secs(20), || pg::read_acks(&acks).len() > 10),
        "the client does not write through the VIP\n{}",
        pair.logs()
    );
    let vrrp = pair.vrrp();
    assert_eq!(vrrp[0].0, "MASTER");
    assert_eq!(vrrp[1].0, "BACKUP");
    assert_eq!(vrrp[0].1, "manual");

    // A dry run shows the change for each node and changes nothing.
    let stamps = pair.stamps();
    let out = pair.pair_ok("reconfigure", &["--fallback", "automatic", "--dry-run"]);
    assert!(
        out.contains("here: would: fallback manual -> automatic"),
        "{out}"
    );
    assert!(
        out.contains("192.0.2.2: would: fallback manual -> automatic"),
        "{out}"
    );
    assert!(out.contains("+    fallback automatic"), "{out}");
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps);

    // An invalid value: refused, nothing changed on either node.
    let (ok, out) = pair.pair("reconfigure", &["--fallback", "sometimes"]);
    assert!(!ok, "{out}");
    assert!(out.contains("neither manual nor automatic"), "{out}");
    assert_eq!(pair.stamps(), stamps);
    // The standby's file edited by hand: refused after both were planned, before any
    // was written: nothing changed on the master either.
    let b_conf = std::fs::read_to_string(pair.conf("b")).unwrap();
    std::fs::write(pair.conf("b"), format!("{b_conf}# an edit by hand\n")).unwrap();
    let stamps = pair.stamps();
    let (ok, out) = pair.pair("reconfigure", &["--fallback", "automatic"]);
    assert!(!ok, "{out}");
    assert!(out.contains("is not as baton-pg setup wrote it"), "{out}");
    assert!(out.contains("nothing applied on either server"), "{out}");
    assert_eq!(pair.stamps(), stamps);
    std::fs::write(pair.conf("b"), &b_conf).unwrap();
    let stamps = pair.stamps();

    // manual -> automatic, the master first; both files and both daemons, no transition.
    let out = pair.pair_ok("reconfigure", &["--fallback", "automatic"]);
    let first = out.find("here: done: baton reconfigure").expect(&out);
    let second = out.find("192.0.2.2: done: baton reconfigure").expect(&out);
    assert!(first < second, "not the master first:\n{out}");
    assert_eq!(out.matches("ok: no transition here").count(), 2, "{out}");
    for node in ["a", "b"] {
        let conf = std::fs::read_to_string(pair.conf(node)).unwrap();
        assert!(conf.contains("\n    fallback automatic\n"), "{conf}");
        let defaults = std::fs::read_to_string(pair.defaults(node)).unwrap();
        assert!(
            defaults.contains("\nBATON_PG_FALLBACK=automatic\n"),
            "{defaults}"
        );
        assert_eq!(Pair::kept(&pair.conf(node), "before-reconfigure").len(), 1);
    }
    let after: Vec<_> = pair.vrrp();
    for (n, (b, a)) in vrrp.iter().zip(&after).enumerate() {
        assert_eq!((&b.0, b.2, b.3), (&a.0, a.2, a.3), "node {n}: a transition");
        assert_eq!(a.1, "automatic", "node {n} not reloaded");
    }
    pair.c.expect_holders(&["a", "b"], VIP, &["a"]);
    assert!(pair.healthy());
    assert_ne!(pair.stamps(), stamps);
    // Again: nothing to do; and setup keeps the fallback type reconfigure chose.
    let stamps = pair.stamps();
    let out = pair.pair_ok("reconfigure", &["--fallback", "automatic"]);
    assert!(out.contains("reconfigure: nothing to do"), "{out}");
    assert!(done_lines(&out).is_empty(), "{out}");
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps);

    // And back to manual.
    let out = pair.pair_ok("reconfigure", &["--fallback", "manual"]);
    assert_eq!(out.matches("ok: no transition here").count(), 2, "{out}");
    let after: Vec<_> = pair.vrrp();
    for (n, (b, a)) in vrrp.iter().zip(&after).enumerate() {
        assert_eq!((&b.0, b.2, b.3), (&a.0, a.2, a.3), "node {n}: a transition");
        assert_eq!(a.1, "manual", "node {n} not reloaded");
    }
    pair.c.expect_holders(&["a", "b"], VIP, &["a"]);
    // The client was not interrupted: every write acknowledged, none far from the next.
    writer.terminate();
    assert!(writer.wait_timeout(Duration::from_secs(10)).is_some());
    let acked = pg::read_acks(&acks);
    let gap = acked
        .windows(2)
        .map(|w| w[1].1.saturating_sub(w[0].1))
        .max()
        .unwrap_or(0);
    eprintln!(
        "client: {} writes acknowledged, the longest gap {gap} ms",
        acked.len()
    );
    assert!(gap < 1500, "the client waited {gap} ms for a write");
    // Each acknowledged write is there (one more may be, committed as the writer stopped).
    let rows: usize = pair.sql("a", "SELECT count(*) FROM acked").parse().unwrap();
    assert!(
        rows == acked.len() || rows == acked.len() + 1,
        "{rows} rows, {} acknowledged",
        acked.len()
    );

    // Remove: a dry run changes nothing.
    let stamps = pair.stamps();
    let out = pair.pair_ok("remove", &["--dry-run"]);
    assert!(out.contains("would:"), "{out}");
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps);
    assert_eq!(pair.vrrp(), after);

    let started = pair.sql("a", "SELECT pg_postmaster_start_time()");
    let out = pair.pair_ok("remove", &[]);
    let standby = out.find("192.0.2.2: done: SIGTERM to baton").expect(&out);
    let master = out.find("here: done: SIGTERM to baton").expect(&out);
    assert!(standby < master, "not the standby first:\n{out}");
    // Neither daemon answers; the VIP is on neither node; a's primary was not fenced.
    for node in ["a", "b"] {
        assert_eq!(
            pair.c.baton(node, &["status"]).status.code(),
            Some(3),
            "{node}'s baton still answers"
        );
    }
    assert!(pair.c.holders(&["a", "b"], VIP).is_empty(), "{out}");
    assert!(!pair.dir("a").join("data.baton-fenced").exists(), "{out}");
    assert_eq!(
        pair.sql("a", "SELECT pg_postmaster_start_time()"),
        started,
        "the primary was stopped or restarted:\n{out}\n{}",
        pair.logs()
    );
    // The primary alone: commits wait for no standby (bounded, should one wait).
    assert_eq!(pair.sql("a", "SHOW synchronous_standby_names"), "");
    let out = pair.sql(
        "a",
        "SET statement_timeout = '5s'; INSERT INTO kept VALUES (101); SELECT count(*) FROM kept",
    );
    assert_eq!(out.lines().last(), Some("101"), "{out}");
    // The replica: its data directory, read-only, following no one, with the rows.
    assert!(pair.data("b").join("PG_VERSION").exists());
    assert_eq!(pair.sql("b", "SELECT pg_is_in_recovery()"), "t");
    assert_eq!(
        pair.sql("b", "SELECT count(*) FROM pg_stat_wal_receiver"),
        "0"
    );
    assert_eq!(pair.sql("b", "SELECT count(*) FROM kept"), "100");
    // What setup added is gone, and kept where it was a file of its own.
    for node in ["a", "b"] {
        assert!(!pair.conf(node).exists(), "{node}: baton.conf left");
        assert_eq!(Pair::kept(&pair.conf(node), "removed").len(), 1, "{node}");
        let kept = &Pair::kept(&pair.conf(node), "removed")[0];
        assert!(
            std::fs::read_to_string(kept).unwrap().contains("notify "),
            "{node}: the kept baton.conf is not setup's"
        );
        let defaults = std::fs::read_to_string(pair.defaults(node)).unwrap();
        assert!(!defaults.contains("BATON_PG_PEER_HOST"), "{defaults}");
        assert!(defaults.contains("PGDATA="), "{defaults}");
        assert_eq!(
            Pair::kept(&pair.defaults(node), "removed").len(),
            1,
            "{node}"
        );
        let hba = std::fs::read_to_string(pair.hba(node)).unwrap();
        assert!(!hba.contains("baton-pg setup"), "{hba}");
        assert!(hba.contains("local all postgres peer"), "{hba}");
        let pgpass = std::fs::read_to_string(pair.dir(node).join("pgpass")).unwrap();
        assert!(!pgpass.contains("replicator"), "{pgpass}");
    }
    // A second run: nothing to do, nothing touched.
    let stamps = pair.stamps();
    let out = pair.pair_ok("remove", &[]);
    assert!(out.contains("remove: nothing to do"), "{out}");
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps);
    assert_eq!(pair.sql("b", "SELECT count(*) FROM kept"), "100");

    // Setup puts the pair back together: the kept copy follows the primary again (no new
    // base backup), synchronous, with the row written while it was apart.
    let out = pair.setup_ok(&[]);
    assert!(
        out.contains("done: primary_conninfo naming 192.0.2.1"),
        "{out}"
    );
    assert_eq!(pair.displaced("b").len(), 1, "a new base backup:\n{out}");
    assert!(pair.healthy(), "{out}\n{}", pair.logs());
    assert!(
        poll(Duration::from_secs(20), || pair
            .sql("b", "SELECT count(*) FROM kept")
            == "101"),
        "b did not catch up"
    );
}

/// The port of `--status-port` in these tests.
const STATUS_PORT: &str = "9650";

/// What one node's side of `status --pair` must say.
struct Seen {
    node: &'static str,
    state: &'static str,
    priority: u64,
    /// It holds the VIP (present on its interface).
    holds_vip: bool,
    /// The master it hears (a BACKUP's).
    master: Option<&'static str>,
}

/// The last run of `chk_pg` passed on each side `view` (`status --pair --json`) has. A
/// node whose daemon or database has just started may show the run from before its
/// database came up (a failure `fall 2` absorbs) until the next run: views are waited for
/// until it passes, rather than taken at the first matching state.
fn checks_passed(view: &serde_json::Value) -> bool {
    ["local", "peer"].iter().all(|side| {
        let doc = &view[side];
        doc.is_null()
            || doc["instances"][0]["tracks"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("exit status 0"))
    })
}

/// `doc` (one side of `status --pair --json`: `local` or `peer`) is the running daemon of
/// `seen.node`, of this build, in the state, priority and VIP holding expected.
fn check_side(doc: &serde_json::Value, seen: &Seen, what: &str) {
    let ctx = || format!("{what}: {}", serde_json::to_string_pretty(doc).unwrap());
    assert_eq!(doc["node"], seen.node, "{}", ctx());
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"), "{}", ctx());
    assert!(doc["pid"].as_u64().is_some_and(|p| p > 0), "{}", ctx());
    let instances = doc["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1, "{}", ctx());
    let i = &instances[0];
    assert_eq!(i["name"], "PG", "{}", ctx());
    assert_eq!(i["state"], seen.state, "{}", ctx());
    assert_eq!(i["priority"], seen.priority, "{}", ctx());
    assert_eq!(i["base_priority"], seen.priority, "{}", ctx());
    assert_eq!(i["fallback"], "manual", "{}", ctx());
    assert_eq!(i["vips"][0]["address"], VIP, "{}", ctx());
    assert_eq!(i["vips"][0]["present"], seen.holds_vip, "{}", ctx());
    match seen.master {
        Some(m) => assert_eq!(i["master"]["address"], m, "{}", ctx()),
        None => assert!(i["master"].is_null(), "{}", ctx()),
    }
    // The hook check (baton-pg-check) passes: the database is in a role this node may hold.
    let track = &i["tracks"][0];
    assert_eq!(
        (&track["kind"], &track["name"], &track["up"]),
        (
            &serde_json::json!("script"),
            &serde_json::json!("chk_pg"),
            &serde_json::json!(true)
        ),
        "{}",
        ctx()
    );
    assert!(
        track["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("exit status 0")),
        "{}",
        ctx()
    );
}

/// The peer's document (`GET /status`, what anyone reaching the port reads) holds no
/// secret: no password, no command line or stderr, no path.
fn check_no_secrets(peer: &serde_json::Value, root: &Path, what: &str) {
    let text = serde_json::to_string(peer).unwrap();
    for word in [
        "s3cret",
        "odd chars",
        "PASSWORD",
        "pgpass",
        "baton-pg-notify",
        "baton-pg-check",
        "baton-pg-caught-up",
        env!("CARGO_MANIFEST_DIR"),
        &root.display().to_string(),
    ] {
        assert!(
            !text.contains(word),
            "{what}: `{word}` in the peer's status: {text}"
        );
    }
    let i = &peer["instances"][0];
    if !i["last_hook"].is_null() {
        assert_eq!(i["last_hook"]["command"], "(redacted)", "{what}: {text}");
        assert_eq!(i["last_hook"]["stderr_tail"], "", "{what}: {text}");
    }
}

/// `baton-pg setup --status-port`: each baton serves its status on its own address, and
/// `baton status --pair --json` from either server shows both, at each step: a healthy
/// pair; a failover (a's baton killed, its PostgreSQL stopped at once: b primary with the
/// VIP, a unreachable from b, exit 4; from a, exit 3 and b seen); a back as a replica (the
/// hooks rejoin it; the preferred node waiting, WARNING from both); `baton fallback PG` once
/// caught up (a primary again, OK from both). The peer's document has no secret; a second
/// setup keeps the port and changes nothing; reconfigure and remove work with the line.
#[test]
fn status_pair_from_either_server_through_failover_and_fallback() {
    if !ready() {
        return;
    }
    let started = Instant::now();
    let mut pair = Pair::new("pgst");
    let a_listen = format!("{}:{STATUS_PORT}", addr("a"));
    let b_listen = format!("{}:{STATUS_PORT}", addr("b"));

    // A dry run shows the status address of each server.
    let before = pair.stamps();
    let out = pair.setup_ok(&["--status-port", STATUS_PORT, "--dry-run"]);
    assert!(
        out.contains(&format!(
            "  would: baton's configuration, its status served at http://{a_listen}/status"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  peer: would: baton's configuration, its status served at http://{b_listen}/status"
        )),
        "{out}"
    );
    assert_eq!(pair.stamps(), before, "a dry run changed files:\n{out}");

    let out = pair.setup_ok(&["--status-port", STATUS_PORT]);
    assert!(pair.healthy(), "{out}\n{}", pair.logs());
    for (node, listen) in [("a", &a_listen), ("b", &b_listen)] {
        let conf = std::fs::read_to_string(pair.conf(node)).unwrap();
        // Its own address, never every address.
        assert!(
            conf.contains(&format!("\n    metrics_listen {listen}\n}}\n")),
            "{node}: {conf}"
        );
        assert_eq!(conf.matches("metrics_listen").count(), 1, "{node}: {conf}");
        let defaults = std::fs::read_to_string(pair.defaults(node)).unwrap();
        assert!(
            defaults.contains(&format!("\nBATON_PG_STATUS_PORT={STATUS_PORT}\n")),
            "{node}: {defaults}"
        );
    }
    pair.start_baton();

    // A second run, without the option: the port kept, nothing to do; the status served
    // on both, and `status --pair` from a reads both.
    let stamps = pair.stamps();
    let out = pair.setup_ok(&[]);
    assert!(done_lines(&out).is_empty(), "{out}");
    assert_eq!(pair.stamps(), stamps, "{out}");
    assert!(
        out.contains(&format!(
            "  ok: baton here serves its status at http://{a_listen}/status"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  peer: ok: baton here serves its status at http://{b_listen}/status"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "ok: baton status --pair {b_listen}: both servers answer"
        )),
        "{out}"
    );

    // Healthy: a MASTER with the VIP, b BACKUP hearing it; OK (0) from either server.
    let a_master = Seen {
        node: "a",
        state: "MASTER",
        priority: 150,
        holds_vip: true,
        master: None,
    };
    let b_backup = Seen {
        node: "b",
        state: "BACKUP",
        priority: 100,
        holds_vip: false,
        master: Some(addr("a")),
    };
    for (from, local, peer, peer_listen) in [
        ("a", &a_master, &b_backup, &b_listen),
        ("b", &b_backup, &a_master, &a_listen),
    ] {
        let step = format!("healthy, from {from}");
        let v = pair.pair_view_until(from, &step, |v, code| code == 0 && checks_passed(v));
        assert_eq!(v["health"], "OK", "{step}: {v}");
        assert_eq!(v["exit_code"], 0, "{step}: {v}");
        assert_eq!(v["peer_address"], peer_listen.as_str(), "{step}: {v}");
        assert_eq!(v["pair_alarms"], serde_json::json!([]), "{step}: {v}");
        check_side(&v["local"], local, &step);
        check_side(&v["peer"], peer, &step);
        check_no_secrets(&v["peer"], pair.root.path(), &step);
        // The same node's own status (its control socket) does show its hook's command
        // line: the peer's copy was redacted, not empty by chance.
        let (own, _) = pair.c.status(peer.node);
        assert!(
            own["instances"][0]["last_hook"]["command"]
                .as_str()
                .is_some_and(|c| c.contains("baton-pg-notify")),
            "{step}: {own}"
        );
    }
    // The shortcut reads the peer and the port from the settings file, from either server,
    // and adds the databases: roles, timelines, the primary's standby and its lag.
    for (from, local, peer, here_role, peer_role, on) in [
        ("a", &a_master, &b_backup, "primary", "replica", "here"),
        ("b", &b_backup, &a_master, "replica", "primary", "peer"),
    ] {
        let (v, code) = pair.pg_status(from);
        assert_eq!(code, 0, "baton-pg status on {from}: {v}");
        assert_eq!(v["exit_code"], 0, "{v}");
        assert_eq!(v["vrrp_exit_code"], 0, "{v}");
        check_side(&v["vrrp"]["local"], local, "baton-pg status");
        check_side(&v["vrrp"]["peer"], peer, "baton-pg status");
        let pg = &v["postgresql"];
        assert_eq!(pg["health_code"], 0, "{v}");
        assert_eq!(pg["here"]["role"], here_role, "{v}");
        assert_eq!(pg["peer"]["role"], peer_role, "{v}");
        assert_eq!(pg["standby"]["on"], on, "{v}");
        assert_eq!(pg["standby"]["state"], "streaming", "{v}");
        assert_eq!(pg["standby"]["sync_state"], "sync", "{v}");
        assert!(pg["standby"]["replay_lag_bytes"].is_u64(), "{v}");
        if from == "b" {
            assert_eq!(pg["here"]["wal_receiver"], "streaming", "{v}");
            assert_eq!(pg["peer"]["timeline"], 1, "{v}");
        }
    }

    // A failover: a's baton killed, its PostgreSQL stopped at once (a crash).
    pair.c.signal("a", "KILL");
    pair.stop_pg_immediate("a");
    let promoted = poll(Duration::from_secs(60), || {
        pair.c.status("b").0["instances"][0]["state"] == "MASTER"
            && pair.try_sql("b", "SELECT pg_is_in_recovery()").as_deref() == Some("f")
            // (a's interface keeps the VIP: a SIGKILLed daemon removes nothing.)
            && pair.c.holders(&["b"], VIP) == ["b"]
    });
    assert!(promoted, "b did not take over\n{}", pair.logs());
    let b_master = Seen {
        node: "b",
        state: "MASTER",
        priority: 100,
        holds_vip: true,
        master: None,
    };
    // From b: a does not answer: exit 4 (PEER_UNREACHABLE), whatever b's own health.
    let step = "failover, from b";
    let v = pair.pair_view_until("b", step, |v, code| {
        code == 4
            && v["local"]["instances"][0]["state"] == "MASTER"
            && v["local"]["instances"][0]["tracks"][0]["up"] == true
            && v["local"]["instances"][0]["last_hook"]["state"] == "MASTER"
            && checks_passed(v)
    });
    assert_eq!(v["health"], "PEER_UNREACHABLE", "{step}: {v}");
    assert_eq!(v["exit_code"], 4, "{step}: {v}");
    assert!(v["peer"].is_null(), "{step}: {v}");
    assert!(
        v["peer_error"]
            .as_str()
            .is_some_and(|e| e.contains(&a_listen)),
        "{step}: {v}"
    );
    check_side(&v["local"], &b_master, step);
    // The database's side, as the local document has it: b's MASTER hook promoted its
    // replica (its result, with the hook's own words, shown only over the control socket).
    let hook = &v["local"]["instances"][0]["last_hook"];
    assert_eq!(
        (&hook["state"], &hook["ok"]),
        (&serde_json::json!("MASTER"), &serde_json::json!(true)),
        "{step}: {v}"
    );
    assert!(
        hook["result"]
            .as_str()
            .is_some_and(|r| r.contains("MASTER: promoted: now primary")),
        "{step}: {v}"
    );
    // baton-pg status from b: the database side says the same (b primary alone, a's
    // database gone: WARNING), the exit status the worse of the two (4).
    let (v, code) = pair.pg_status("b");
    assert_eq!((code, &v["exit_code"]), (4, &serde_json::json!(4)), "{v}");
    let pg = &v["postgresql"];
    assert_eq!(pg["health_code"], 1, "{v}");
    assert_eq!(pg["here"]["role"], "primary", "{v}");
    assert_eq!(pg["here"]["timeline"], 2, "{v}");
    assert_eq!(pg["peer"]["role"], "unreachable", "{v}");
    assert!(pg["standby"].is_null(), "{v}");
    // From a: its own daemon does not answer (UNKNOWN, 3); b is read all the same.
    let step = "failover, from a";
    let v = pair.pair_view_until("a", step, |_, code| code == 3);
    assert_eq!(v["health"], "UNKNOWN", "{step}: {v}");
    assert!(v["local"].is_null(), "{step}: {v}");
    assert!(v["local_error"].is_string(), "{step}: {v}");
    check_side(&v["peer"], &b_master, step);
    check_no_secrets(&v["peer"], pair.root.path(), step);

    // a comes back: its baton started again, the hooks rejoin its PostgreSQL as b's
    // replica; a waits as BACKUP (manual fallback): WARNING (1) from either server.
    pair.start_baton_on("a");
    let rejoined = poll(Duration::from_secs(120), || {
        pair.try_sql("a", "SELECT pg_is_in_recovery()").as_deref() == Some("t")
            && pair
                .try_sql(
                    "b",
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'a' \
                     AND state = 'streaming'",
                )
                .as_deref()
                == Some("sync")
    });
    assert!(rejoined, "a did not rejoin as b's replica\n{}", pair.logs());
    let a_waiting = Seen {
        node: "a",
        state: "BACKUP",
        priority: 150,
        holds_vip: false,
        master: Some(addr("b")),
    };
    for (from, local, peer) in [("a", &a_waiting, &b_master), ("b", &b_master, &a_waiting)] {
        let step = format!("a rejoined, from {from}");
        let v = pair.pair_view_until(from, &step, |v, code| {
            code == 1
                && v["local"]["instances"][0]["state"] == local.state
                && v["peer"]["instances"][0]["state"] == peer.state
                && checks_passed(v)
        });
        assert_eq!(v["health"], "WARNING", "{step}: {v}");
        check_side(&v["local"], local, &step);
        check_side(&v["peer"], peer, &step);
        check_no_secrets(&v["peer"], pair.root.path(), &step);
        // The warning is a's: the preferred server waits for `baton fallback`.
        let a_doc = if from == "a" { &v["local"] } else { &v["peer"] };
        let alarms = a_doc["instances"][0]["alarms"].to_string();
        assert!(alarms.contains("running on the standby"), "{step}: {v}");
        let b_doc = if from == "a" { &v["peer"] } else { &v["local"] };
        assert_eq!(
            b_doc["instances"][0]["alarms"],
            serde_json::json!([]),
            "{step}: {v}"
        );
    }

    // `baton fallback PG` on a, once it has caught up (refused until then).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = pair.c.baton("a", &["fallback", "PG"]);
        if out.status.success() {
            break;
        }
        let said = text(&out);
        assert!(said.contains("refused"), "{said}");
        assert!(
            Instant::now() < deadline,
            "fallback never succeeded: {said}\n{}",
            pair.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    pair.c.expect_holders(&["a", "b"], VIP, &["a"]);
    let back = poll(Duration::from_secs(120), || {
        pair.try_sql("a", "SELECT pg_is_in_recovery()").as_deref() == Some("f")
            && pair.try_sql("b", "SELECT pg_is_in_recovery()").as_deref() == Some("t")
            && pair
                .try_sql(
                    "a",
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'b' \
                     AND state = 'streaming'",
                )
                .as_deref()
                == Some("sync")
    });
    assert!(
        back,
        "a is not the primary with b its synchronous standby\n{}",
        pair.logs()
    );
    for (from, local, peer) in [("a", &a_master, &b_backup), ("b", &b_backup, &a_master)] {
        let step = format!("after the fallback, from {from}");
        // (Until b's BACKUP hook, which fences and rejoins its primary, has finished, its
        // last hook is still the MASTER one of the failover.)
        let v = pair.pair_view_until(from, &step, |v, code| {
            code == 0
                && v["local"]["instances"][0]["last_hook"]["state"] == local.state
                && v["peer"]["instances"][0]["last_hook"]["state"] == peer.state
                && checks_passed(v)
        });
        assert_eq!(v["health"], "OK", "{step}: {v}");
        assert_eq!(v["pair_alarms"], serde_json::json!([]), "{step}: {v}");
        check_side(&v["local"], local, &step);
        check_side(&v["peer"], peer, &step);
        check_no_secrets(&v["peer"], pair.root.path(), &step);
        // The last hooks: a's MASTER (it promoted its replica), b's BACKUP (it fenced its
        // primary and rejoined it), both ok; the peer sees the outcome, not the words.
        for (doc, state) in [(&v["local"], local.state), (&v["peer"], peer.state)] {
            let hook = &doc["instances"][0]["last_hook"];
            assert_eq!(
                (&hook["state"], &hook["ok"]),
                (&serde_json::json!(state), &serde_json::json!(true)),
                "{step}: {v}"
            );
        }
        let a_hook = if from == "a" { &v["local"] } else { &v["peer"] }["instances"][0]
            ["last_hook"]["result"]
            .as_str()
            .unwrap_or("");
        if from == "a" {
            assert!(a_hook.contains("MASTER: promoted"), "{step}: {v}");
        } else {
            assert_eq!(a_hook, "exit status 0", "{step}: {v}");
        }
        // The counters say what happened: b took the VIP once (the failover), a once since
        // its daemon was started again (the fallback).
        let counters = |doc: &serde_json::Value| {
            doc["instances"][0]["counters"]["became_master"]
                .as_u64()
                .unwrap_or(0)
        };
        let (a_doc, b_doc) = if from == "a" {
            (&v["local"], &v["peer"])
        } else {
            (&v["peer"], &v["local"])
        };
        assert_eq!(counters(a_doc), 1, "{step}: {v}");
        assert_eq!(counters(b_doc), 1, "{step}: {v}");
    }

    // `--status-port off` would take the line out (a dry run: nothing changed).
    let stamps = pair.stamps();
    let out = pair.setup_ok(&["--status-port", "off", "--dry-run"]);
    assert!(
        out.contains("  would: baton's configuration (")
            && out.contains("  peer: would: baton's configuration (")
            && out.contains("  would: the hooks' settings: the peer 192.0.2.2 ("),
        "{out}"
    );
    assert_eq!(pair.stamps(), stamps, "{out}");

    // Reconfigure takes the files with the status line as setup's (nothing to do), and
    // remove keeps it in the kept file and takes the port out of the settings.
    let out = pair.pair_ok("reconfigure", &["--fallback", "manual"]);
    assert!(out.contains("reconfigure: nothing to do"), "{out}");
    let out = pair.pair_ok("remove", &[]);
    for node in ["a", "b"] {
        let kept = Pair::kept(&pair.conf(node), "removed");
        assert_eq!(kept.len(), 1, "{node}: {out}");
        assert!(
            std::fs::read_to_string(&kept[0])
                .unwrap()
                .contains("metrics_listen"),
            "{node}"
        );
        let defaults = std::fs::read_to_string(pair.defaults(node)).unwrap();
        assert!(!defaults.contains("BATON_PG_STATUS_PORT"), "{defaults}");
    }
    let (v, code, _) = pair.pair_view("a");
    assert_eq!(code, 4, "the status is still served after remove: {v}");
    eprintln!(
        "status_pair_from_either_server_through_failover_and_fallback: {:.0}s",
        started.elapsed().as_secs_f64()
    );
}
