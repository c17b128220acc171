//! A PostgreSQL 15 pair behind a baton VIP, in a namespace lab (see `tests/lab`):
//! servers `a` (192.0.2.1) and `b` (192.0.2.2) each run PostgreSQL and `baton run`, the
//! client `c` (192.0.2.3) writes through the VIP 192.0.2.100.
//!
//! Each server keeps its configuration outside its data directory (as Debian does):
//! `<node>/conf/postgresql.conf` names `data_directory = <node>/data`, so `pg_rewind` and
//! `pg_basebackup` never carry one node's settings to the other. Unix sockets are in
//! `<node>/sock`, which the test (outside the namespaces) uses to ask each server directly.
//!
//! The hook scripts under test (`scripts/baton-pg-*`) get the node's settings from the
//! environment, as they would from `/etc/default/baton-pg`.
//!
//! The daemons run the hooks (`notify`, `vrrp_script`, `fallback_check`) with the node's
//! settings in their environment, which the hooks inherit.
//!
//! Dropping the pair stops both PostgreSQL servers (by the pid in `postmaster.pid`,
//! continued first in case a test froze it) before the lab removes the namespaces.
#![allow(dead_code)]

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::daemon::Cluster;
use crate::lab::poll;

pub const PGBIN: &str = "/usr/lib/postgresql/15/bin";
pub const VIP: &str = "192.0.2.100/24";
pub const VIP_ADDR: &str = "192.0.2.100";
pub const SERVERS: [&str; 2] = ["a", "b"];

/// The address of a server.
pub fn addr(node: &str) -> &'static str {
    match node {
        "a" => "192.0.2.1",
        "b" => "192.0.2.2",
        _ => "192.0.2.3",
    }
}

/// The other server.
pub fn peer(node: &str) -> &'static str {
    if node == "a" { "b" } else { "a" }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn script(name: &str) -> String {
    repo().join("scripts").join(name).display().to_string()
}

pub fn pgtool() -> String {
    repo().join("tests/pg/pgtool.py").display().to_string()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The role of a server as a probe sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Not in recovery, and a commit would be acknowledged (a synchronous standby is
    /// attached, or synchronous replication is off).
    Writable,
    /// Not in recovery, but synchronous replication is on and no standby is attached:
    /// commits wait, none is acknowledged.
    Stalled,
    Replica,
    Down,
}

/// Two servers with PostgreSQL and baton, and a client.
pub struct PgPair {
    pub c: Cluster,
    pub root: tempfile::TempDir,
    /// A node directory that is a small file system of its own (unmounted on drop).
    small_fs: Option<PathBuf>,
}

impl PgPair {
    /// The lab, `a` as the primary, `b` as its synchronous replica (base backup), both
    /// running; no baton yet.
    pub fn new(tag: &str) -> PgPair {
        PgPair::with_small_disk(tag, None)
    }

    /// As `new`, with `small` (node, size such as "512m") the node's directory (its data
    /// directory's parent, where a rejoin stages its base backup) on a tmpfs of that size:
    /// a disk that can be filled.
    pub fn with_small_disk(tag: &str, small: Option<(&str, &str)>) -> PgPair {
        let c = Cluster::new(
            tag,
            &[
                ("a", &["192.0.2.1/24"]),
                ("b", &["192.0.2.2/24"]),
                ("c", &["192.0.2.3/24"]),
            ],
        );
        let root = tempfile::Builder::new()
            .prefix("baton-pg-")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let mut pair = PgPair {
            c,
            root,
            small_fs: None,
        };
        if let Some((node, size)) = small {
            let dir = pair.dir(node);
            std::fs::create_dir_all(&dir).expect("node dir");
            let ok = Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0755"),
                    "tmpfs",
                ])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "mount a tmpfs on {}", dir.display());
            pair.small_fs = Some(dir);
        }
        for node in SERVERS {
            for sub in ["", "conf", "sock"] {
                let dir = pair.dir(node).join(sub);
                std::fs::create_dir_all(&dir).expect("node dir");
                chown_postgres(&dir);
            }
            pair.write_conf(node);
        }
        pair.init_primary("a");
        pair.base_backup("b", "a");
        pair.start_pg("b");
        let ok = poll(Duration::from_secs(30), || {
            pair.sql("a", "SELECT sync_state FROM pg_stat_replication") == Some("sync".into())
        });
        assert!(
            ok,
            "b never became a's synchronous standby\n{}",
            pair.pg_logs()
        );
        pair
    }

    pub fn dir(&self, node: &str) -> PathBuf {
        self.root.path().join(node)
    }

    pub fn data(&self, node: &str) -> PathBuf {
        self.dir(node).join("data")
    }

    pub fn sock(&self, node: &str) -> PathBuf {
        self.dir(node).join("sock")
    }

    fn write_conf(&self, node: &str) {
        let d = self.dir(node);
        let conf = format!(
            "data_directory = '{data}'\n\
             hba_file = '{d}/conf/pg_hba.conf'\n\
             ident_file = '{d}/conf/pg_ident.conf'\n\
             listen_addresses = '*'\n\
             port = 5432\n\
             unix_socket_directories = '{d}/sock'\n\
             max_connections = 150\n\
             shared_buffers = 16MB\n\
             wal_level = replica\n\
             wal_log_hints = on\n\
             max_wal_senders = 5\n\
             wal_keep_size = 256MB\n\
             hot_standby = on\n\
             synchronous_commit = on\n\
             synchronous_standby_names = '*'\n\
             wal_receiver_timeout = 5s\n\
             wal_sender_timeout = 5s\n\
             wal_receiver_status_interval = 1s\n\
             # Durability against a crash of the kernel is not under test; this spares\n\
             # the shared CI machine's disk. Process kills lose nothing either way.\n\
             fsync = off\n\
             log_line_prefix = '%m [%p] '\n",
            data = self.data(node).display(),
            d = d.display()
        );
        let hba = "local all all trust\n\
                   host all all 192.0.2.0/24 trust\n\
                   host replication replicator 192.0.2.0/24 trust\n";
        std::fs::write(d.join("conf/postgresql.conf"), conf).expect("postgresql.conf");
        std::fs::write(d.join("conf/pg_hba.conf"), hba).expect("pg_hba.conf");
        std::fs::write(d.join("conf/pg_ident.conf"), "").expect("pg_ident.conf");
        for f in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            chown_postgres(&d.join("conf").join(f));
        }
    }

    /// Run `cmd` as postgres in `node`'s namespace.
    pub fn as_pg(&self, node: &str, cmd: &[&str]) -> Output {
        let mut full = vec!["runuser", "-u", "postgres", "--"];
        full.extend_from_slice(cmd);
        self.c.lab.exec(node, &full)
    }

    pub fn as_pg_ok(&self, node: &str, cmd: &[&str]) {
        let out = self.as_pg(node, cmd);
        assert!(
            out.status.success(),
            "{cmd:?} on {node}: {}\n{}",
            text(&out),
            self.pg_logs()
        );
    }

    fn init_primary(&self, node: &str) {
        let initdb = format!("{PGBIN}/initdb");
        let data = self.data(node).display().to_string();
        self.as_pg_ok(
            node,
            &[
                &initdb,
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        // The configuration lives outside the data directory.
        for f in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            let _ = std::fs::remove_file(self.data(node).join(f));
        }
        self.start_pg(node);
        let setup = "CREATE ROLE replicator REPLICATION LOGIN;\
             GRANT pg_monitor, pg_checkpoint TO replicator;\
             GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO replicator;\
             GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO replicator;\
             GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO replicator;\
             GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO replicator;\
             CREATE TABLE acked (k text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());\
             CREATE TABLE probe_writes (node text NOT NULL, at timestamptz NOT NULL DEFAULT now());\
             CREATE ROLE prober LOGIN;\
             GRANT INSERT ON probe_writes TO prober;";
        let sock = self.sock(node).display().to_string();
        let psql = format!("{PGBIN}/psql");
        // Not synchronous yet: no standby exists.
        let opts = "-c synchronous_commit=local";
        let out = Command::new(&psql)
            .args(["-X", "-q", "-h", &sock, "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", setup])
            .env("PGOPTIONS", opts)
            .output()
            .expect("psql");
        assert!(out.status.success(), "setup SQL: {}", text(&out));
    }

    fn base_backup(&self, node: &str, from: &str) {
        let tool = format!("{PGBIN}/pg_basebackup");
        let data = self.data(node).display().to_string();
        let conninfo = format!(
            "host={} user=replicator dbname=postgres application_name={node}",
            addr(from)
        );
        self.as_pg_ok(
            node,
            &[
                &tool, "-D", &data, "-d", &conninfo, "-R", "-X", "stream", "-c", "fast",
            ],
        );
    }

    /// Start `node`'s server in its namespace.
    pub fn start_pg(&self, node: &str) {
        let out = self.try_start_pg(node);
        assert!(
            out.status.success(),
            "pg_ctl start on {node}: {}\n{}",
            text(&out),
            self.pg_logs()
        );
    }

    /// `pg_ctl start -w` of `node`'s server, whatever comes of it (a hook at work may stop
    /// it again at once, as it would stop one started by PostgreSQL's unit at boot).
    pub fn try_start_pg(&self, node: &str) -> Output {
        let pg_ctl = format!("{PGBIN}/pg_ctl");
        let conf = self.dir(node).join("conf").display().to_string();
        let log = self.dir(node).join("postgresql.log").display().to_string();
        self.as_pg(
            node,
            &[&pg_ctl, "start", "-D", &conf, "-w", "-t", "30", "-l", &log],
        )
    }

    /// `pg_ctl stop -m immediate` of `node`'s server.
    pub fn stop_pg_immediate(&self, node: &str) {
        let pg_ctl = format!("{PGBIN}/pg_ctl");
        let conf = self.dir(node).join("conf").display().to_string();
        self.as_pg_ok(
            node,
            &[
                &pg_ctl,
                "stop",
                "-D",
                &conf,
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
            ],
        );
    }

    /// The postmaster's pid, if it runs.
    pub fn postmaster(&self, node: &str) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.data(node).join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    }

    /// The postmaster of `node` and its children (the server's processes).
    pub fn pg_pids(&self, node: &str) -> Vec<u32> {
        let Some(pm) = self.postmaster(node) else {
            return Vec::new();
        };
        let mut pids = vec![pm];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // "pid (comm) state ppid ...": the comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pm) {
                pids.push(pid);
            }
        }
        pids
    }

    /// One value (first line) from `node`'s server, asked directly by its unix socket.
    pub fn sql(&self, node: &str, query: &str) -> Option<String> {
        let out = Command::new("timeout")
            .args(["5", &format!("{PGBIN}/psql")])
            .args(["-X", "-q", "-A", "-t", "-h"])
            .arg(self.sock(node))
            .args(["-U", "postgres", "-d", "postgres", "-c", query])
            .env("PGCONNECT_TIMEOUT", "2")
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    }

    /// `node`'s role, asked directly.
    pub fn role(&self, node: &str) -> Role {
        let q = "SELECT pg_is_in_recovery() || ',' || (current_setting('synchronous_standby_names') = '') \
                 || ',' || (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync','quorum'))";
        match self
            .sql(node, q)
            .as_deref()
            .map(|s| s.split(',').collect::<Vec<_>>())
        {
            Some(f) if f.len() == 3 && f[0] == "true" => Role::Replica,
            Some(f) if f.len() == 3 && (f[1] == "true" || f[2] != "0") => Role::Writable,
            Some(f) if f.len() == 3 => Role::Stalled,
            _ => Role::Down,
        }
    }

    /// `node` is a replica streaming from the other server, and its synchronous standby.
    pub fn streams_sync(&self, node: &str) -> bool {
        let receiving = self.sql(
            node,
            "SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'",
        );
        receiving.as_deref() == Some(addr(peer(node)))
            && self
                .sql(
                    peer(node),
                    &format!(
                        "SELECT sync_state FROM pg_stat_replication WHERE application_name = '{node}'"
                    ),
                )
                .as_deref()
                == Some("sync")
    }

    /// Every key in `acked` on `node`.
    pub fn keys(&self, node: &str) -> HashSet<String> {
        let out = Command::new("timeout")
            .args(["30", &format!("{PGBIN}/psql")])
            .args(["-X", "-q", "-A", "-t", "-h"])
            .arg(self.sock(node))
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                "SELECT k FROM acked",
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "reading keys on {node}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The settings the hook scripts of `node` read (as from /etc/default/baton-pg).
    pub fn script_env(&self, node: &str) -> Vec<(String, String)> {
        let d = self.dir(node);
        let s = |p: PathBuf| p.display().to_string();
        [
            ("BATON_PG_DEFAULTS", "/nonexistent/baton-pg".to_string()),
            ("PGBIN", PGBIN.to_string()),
            ("PGDATA", s(self.data(node))),
            ("BATON_PG_CLUSTER", String::new()),
            ("BATON_PG_CTL_DIR", s(d.join("conf"))),
            ("BATON_PG_CONFIG_FILE", s(d.join("conf/postgresql.conf"))),
            ("BATON_PG_SERVER_LOG", s(d.join("postgresql.log"))),
            ("PGHOST", s(self.sock(node))),
            ("PGPORT", "5432".to_string()),
            ("BATON_PG_PEER_HOST", addr(peer(node)).to_string()),
            ("BATON_PG_REPL_USER", "replicator".to_string()),
            ("BATON_PG_APPNAME", node.to_string()),
            // The lock's directory must be root's alone (the node dir is postgres's).
            (
                "BATON_PG_LOCK",
                s(self.root.path().join(format!("{node}-run/baton-pg.lock"))),
            ),
            ("BATON_PG_LOGFILE", s(d.join("hooks.log"))),
            // Root's alone (the sync record, the reconciler's state): one per node.
            (
                "BATON_PG_STATE_DIR",
                s(self.root.path().join(format!("{node}-state"))),
            ),
            ("BATON_PG_SYSLOG", "no".to_string()),
            ("BATON_BIN", env!("CARGO_BIN_EXE_baton").to_string()),
            ("BATON_SOCKET", s(self.c.socket(node))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `script_env` as `K=V K=V` for `env` on a command line (no value has spaces).
    pub fn script_env_line(&self, node: &str) -> String {
        self.script_env(node)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run a hook script in `node`'s namespace with the node's settings and `extra` env.
    pub fn run_script(
        &self,
        node: &str,
        name: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Output {
        let mut cmd = vec!["env".to_string()];
        for (k, v) in self.script_env(node) {
            cmd.push(format!("{k}={v}"));
        }
        for (k, v) in extra {
            cmd.push(format!("{k}={v}"));
        }
        cmd.push(script(name));
        cmd.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.c.lab.exec(node, &refs)
    }

    /// The data directories a base backup moved aside on `node` (`data.displaced-*`).
    pub fn displaced(&self, node: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.dir(node))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("data.displaced-"))
            })
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    }

    /// `node`'s sync record (what the promotion rule reads).
    pub fn sync_record(&self, node: &str) -> String {
        std::fs::read_to_string(self.root.path().join(format!("{node}-state/sync-record")))
            .unwrap_or_default()
    }

    pub fn hook_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.dir(node).join("hooks.log")).unwrap_or_default()
    }

    /// Everything that helps to understand a failure.
    pub fn pg_logs(&self) -> String {
        let mut s = String::new();
        for node in SERVERS {
            for f in [
                "postgresql.log",
                "hooks.log",
                "data.rewind.log",
                "data.basebackup.log",
            ] {
                let body = std::fs::read_to_string(self.dir(node).join(f)).unwrap_or_default();
                let keep = if std::env::var_os("BATON_PG_SHOW_LOGS").is_some() {
                    100_000
                } else {
                    40
                };
                let tail: Vec<&str> = body.lines().rev().take(keep).collect();
                s.push_str(&format!("--- {node}/{f} (tail):\n"));
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Send `signal` to every process of `node`'s server.
    pub fn signal_pg(&self, node: &str, signal: &str) {
        for pid in self.pg_pids(node) {
            // A process may have ended since it was listed.
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for node in SERVERS {
            self.signal_pg(node, "CONT");
            if let Some(pm) = self.postmaster(node) {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pm.to_string()])
                    .status();
                let gone = poll(Duration::from_secs(10), || self.postmaster(node).is_none());
                if !gone {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pm.to_string()])
                        .status();
                }
            }
        }
        if let Some(dir) = &self.small_fs {
            // Before the temporary directory goes (it cannot remove a mount point). A
            // process still holding a file there is ended by the lab: detach lazily.
            let done = Command::new("umount")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            if !done {
                let _ = Command::new("umount").arg("-l").arg(dir).status();
            }
        }
    }
}

fn chown_postgres(path: &Path) {
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown postgres {}", path.display());
}

/// Acknowledged writes: `(key, epoch ms)` from the writer's file.
pub fn read_acks(file: &Path) -> Vec<(String, u64)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, t) = l.split_once(' ')?;
            Some((k.to_string(), t.parse().ok()?))
        })
        .collect()
}

/// Probe rounds: `(epoch ms, [(node, role letter)])`.
pub fn read_probe(file: &Path) -> Vec<(u64, Vec<(String, char)>)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let t = parts.next()?.parse().ok()?;
            let states = parts
                .filter_map(|p| {
                    let (n, r) = p.split_once('=')?;
                    Some((n.to_string(), r.chars().next()?))
                })
                .collect();
            Some((t, states))
        })
        .collect()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A helper process outside the namespaces (the probe reaches each server by its unix
/// socket); stopped with SIGTERM, by its pid, when dropped.
pub struct HostProc(std::process::Child);

impl HostProc {
    pub fn spawn(cmd: &[&str]) -> HostProc {
        let child = Command::new(cmd[0])
            .args(&cmd[1..])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start a helper");
        HostProc(child)
    }

    /// SIGTERM, then wait (bounded; SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        self.stop();
    }
}
