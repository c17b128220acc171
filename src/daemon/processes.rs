//! `vrrp_track_process`: how many running processes match each block, and whether its
//! quorum counts as held (keepalived.conf(5), "vrrp_track_process"; keepalived's
//! core/track_process.c for the matching and the delays).
//!
//! The watcher runs on the script thread, never on the protocol thread. It reads /proc
//! once, then follows the kernel's process events (the proc connector: fork, exec, comm
//! change, exit) and looks again only at the process an event names, so a busy machine
//! costs one small read per new process, not a scan. It needs CAP_NET_ADMIN in the initial
//! network namespace; where the connector cannot be opened (baton run in another network
//! namespace, or without the capability) it reads /proc every second instead, and logs
//! that it does. In event mode it also reads /proc again every 30 s and after the kernel
//! reports lost events (ENOBUFS), so a missed event cannot leave a stale count for long.
//! Zombies do not count (they no longer run).
//!
//! Matching and the quorum with its delays are pure ([`matches`], [`Quorum`]); the watcher
//! reports each change of a block's state as `Internal::ProcessTrack`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::{ParamMatch, TrackProcess};

use super::Internal;

/// Without process events: how often /proc is read.
const POLL: Duration = Duration::from_secs(1);
/// With process events: how often /proc is read anyway.
const RESCAN: Duration = Duration::from_secs(30);
/// At most this much of a command line is read (the name and the parameters compared).
const CMDLINE_READ: u64 = 4096;

/// What one process looks like to the matching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// `/proc/PID/comm`: the name (at most 15 bytes, as the kernel keeps it).
    pub comm: String,
    /// `/proc/PID/cmdline` (arguments separated and ended by NUL), read only when a block
    /// compares it.
    pub cmdline: Option<Vec<u8>>,
}

/// Whether the process `seen` matches `cfg`: its name (or its command line's first word,
/// with `full_command`) equals the configured name, and its parameters match as
/// `param_match` says.
pub fn matches(cfg: &TrackProcess, seen: &Seen) -> bool {
    if !cfg.full_command {
        return seen.comm == cfg.name;
    }
    let Some(cmdline) = &seen.cmdline else {
        return false;
    };
    let (argv0, params) = match cmdline.iter().position(|&b| b == 0) {
        Some(end) => (&cmdline[..end], &cmdline[end + 1..]),
        None => (&cmdline[..], &[][..]),
    };
    if argv0 != cfg.name.as_bytes() {
        return false;
    }
    params_match(cfg, params)
}

/// keepalived's `check_params`: the parameters as the kernel keeps them (each ended by
/// NUL) against the configured ones.
fn params_match(cfg: &TrackProcess, params: &[u8]) -> bool {
    let mut wanted = Vec::new();
    for p in &cfg.params {
        wanted.extend_from_slice(p.as_bytes());
        wanted.push(0);
    }
    match cfg.param_match {
        ParamMatch::None => true,
        ParamMatch::Exact => params == wanted.as_slice(),
        ParamMatch::Partial => params.starts_with(&wanted),
        // The last given parameter may be the start of a longer one: everything but its
        // ending NUL must be there.
        ParamMatch::Initial => wanted.is_empty() || params.starts_with(&wanted[..wanted.len() - 1]),
    }
}

/// A block's state: the matching count, whether the quorum counts as held, and a change
/// waiting for its delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    pub count: u32,
    pub up: bool,
    /// (when, to what) a change takes effect.
    pending: Option<(Duration, bool)>,
}

impl Quorum {
    /// At start (or reload) the state is what the count says, at once.
    pub fn new(cfg: &TrackProcess, count: u32) -> Quorum {
        Quorum {
            count,
            up: within(cfg, count),
            pending: None,
        }
    }

    /// A new count at `now`; true when `up` changed now.
    pub fn set_count(&mut self, cfg: &TrackProcess, count: u32, now: Duration) -> bool {
        self.count = count;
        let want = within(cfg, count);
        if want == self.up {
            // Back before the delay ran out: nothing happens (keepalived cancels the timer).
            self.pending = None;
            return false;
        }
        if self.pending.is_some_and(|(_, to)| to == want) {
            return false;
        }
        let delay = if want {
            cfg.fork_delay_ms
        } else {
            cfg.terminate_delay_ms
        };
        if delay == 0 {
            self.up = want;
            self.pending = None;
            return true;
        }
        self.pending = Some((now + Duration::from_millis(delay), want));
        false
    }

    /// The pending change, if its time has come; true when `up` changed.
    pub fn tick(&mut self, now: Duration) -> bool {
        match self.pending {
            Some((at, to)) if at <= now => {
                self.pending = None;
                let changed = self.up != to;
                self.up = to;
                changed
            }
            _ => false,
        }
    }

    pub fn deadline(&self) -> Option<Duration> {
        self.pending.map(|(at, _)| at)
    }
}

fn within(cfg: &TrackProcess, count: u32) -> bool {
    cfg.quorum <= count && count <= cfg.quorum_max
}

/// What the watcher reports: a block's state changed (or its first state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub name: String,
    pub up: bool,
    pub count: u32,
}

/// Which blocks each matching process counts for.
#[derive(Default)]
struct Table {
    blocks: Vec<(String, TrackProcess)>,
    /// pid → indexes into `blocks`.
    pids: HashMap<i32, Vec<usize>>,
    cmdline: bool,
}

impl Table {
    fn new(blocks: BTreeMap<String, TrackProcess>) -> Table {
        let cmdline = blocks.values().any(|b| b.full_command);
        Table {
            blocks: blocks.into_iter().collect(),
            pids: HashMap::new(),
            cmdline,
        }
    }

    /// Look at one process again (it was created, exec'd or renamed).
    fn look(&mut self, pid: i32) {
        let hits = match read_process(pid, self.cmdline) {
            Some(seen) => self.hits(&seen),
            None => Vec::new(),
        };
        if hits.is_empty() {
            self.pids.remove(&pid);
        } else {
            self.pids.insert(pid, hits);
        }
    }

    fn hits(&self, seen: &Seen) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&i| matches(&self.blocks[i].1, seen))
            .collect()
    }

    fn gone(&mut self, pid: i32) {
        self.pids.remove(&pid);
    }

    /// Read every process in /proc again.
    fn rescan(&mut self) {
        self.pids.clear();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in dir.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                self.look(pid);
            }
        }
    }

    fn counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.blocks.len()];
        for hits in self.pids.values() {
            for &i in hits {
                counts[i] += 1;
            }
        }
        counts
    }
}

/// The name and (if asked) command line of `pid`; `None` when it is gone, a zombie, or a
/// kernel thread.
fn read_process(pid: i32, cmdline: bool) -> Option<Seen> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (comm, state) = parse_stat(&stat)?;
    if state == 'Z' || state == 'X' {
        return None;
    }
    let cmdline = if cmdline {
        use std::io::Read as _;
        let mut buf = Vec::new();
        std::fs::File::open(format!("/proc/{pid}/cmdline"))
            .ok()?
            .take(CMDLINE_READ)
            .read_to_end(&mut buf)
            .ok()?;
        // A kernel thread has an empty command line.
        if buf.is_empty() {
            return None;
        }
        Some(buf)
    } else {
        None
    };
    Some(Seen { comm, cmdline })
}

/// `/proc/PID/stat`: `PID (COMM) STATE ...`; COMM may hold spaces and parentheses, so it
/// ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(String, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state))
}

/// One process event from the kernel, as far as the watcher cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    /// A new process (not a thread): look at it.
    Created(i32),
    /// A process exec'd or changed its name: look at it again.
    Changed(i32),
    /// A process ended.
    Exited(i32),
}

// linux/cn_proc.h, linux/connector.h.
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = 20;
/// Offset of `proc_event.event_data` in a message: the headers, then `what`, `cpu` and
/// the 8-byte timestamp.
const EVENT_DATA: usize = NLMSG_HDR + CN_MSG + 16;

/// The message that asks the kernel for process events.
fn listen_message() -> Vec<u8> {
    let len = (NLMSG_HDR + CN_MSG + 4) as u32;
    let mut m = Vec::with_capacity(len as usize);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&std::process::id().to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// The events in one datagram from the connector (one or more netlink messages); anything
/// short, foreign or of no interest is skipped.
pub fn parse_events(mut buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR {
        let Some(len) = u32_at(buf, 0).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDR || len > buf.len() {
            break;
        }
        if let Some(e) = parse_event(&buf[..len]) {
            out.push(e);
        }
        // Messages are 4-byte aligned.
        let next = len.div_ceil(4) * 4;
        buf = buf.get(next..).unwrap_or(&[]);
    }
    out
}

fn parse_event(msg: &[u8]) -> Option<ProcEvent> {
    let idx = u32_at(msg, NLMSG_HDR)?;
    let val = u32_at(msg, NLMSG_HDR + 4)?;
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) {
        return None;
    }
    let what = u32_at(msg, NLMSG_HDR + CN_MSG)?;
    let d = EVENT_DATA;
    let pid = |at: usize| u32_at(msg, d + at).map(|v| v as i32);
    match what {
        PROC_EVENT_FORK => {
            // parent_pid, parent_tgid, child_pid, child_tgid: a thread has pid != tgid.
            let (child, child_tgid) = (pid(8)?, pid(12)?);
            (child == child_tgid).then_some(ProcEvent::Created(child))
        }
        PROC_EVENT_EXEC => Some(ProcEvent::Changed(pid(4)?)),
        PROC_EVENT_COMM => {
            let (p, tgid) = (pid(0)?, pid(4)?);
            (p == tgid).then_some(ProcEvent::Changed(tgid))
        }
        PROC_EVENT_EXIT => {
            let (p, tgid) = (pid(0)?, pid(4)?);
            (p == tgid).then_some(ProcEvent::Exited(tgid))
        }
        _ => None,
    }
}

/// A socket subscribed to the kernel's process events.
pub struct Events {
    socket: netlink_sys::TokioSocket,
}

impl Events {
    /// Subscribe; an error when the connector is not there (another network namespace)
    /// or not allowed (no CAP_NET_ADMIN).
    pub fn open() -> std::io::Result<Events> {
        use netlink_sys::AsyncSocket as _;
        let mut socket = netlink_sys::TokioSocket::new(netlink_sys::protocols::NETLINK_CONNECTOR)?;
        let s = socket.socket_mut();
        // A burst of forks should not overflow it; failing to enlarge it is not fatal.
        let _ = s.set_rx_buf_sz(1 << 20);
        s.bind(&netlink_sys::SocketAddr::new(0, CN_IDX_PROC))?;
        s.send(&listen_message(), 0)?;
        Ok(Events { socket })
    }

    /// The next datagram's events; `Err` with ENOBUFS when the kernel dropped some.
    pub async fn next(&mut self) -> std::io::Result<Vec<ProcEvent>> {
        use netlink_sys::AsyncSocketExt as _;
        let (buf, _) = self.socket.recv_from_full().await?;
        Ok(parse_events(&buf))
    }
}

/// The watcher: reads /proc, then follows events (or reads /proc every [`POLL`]), and
/// sends a report for every block at start and then for each change of state.
pub async fn watch(blocks: BTreeMap<String, TrackProcess>, done: mpsc::UnboundedSender<Internal>) {
    let started = tokio::time::Instant::now();
    let now = || started.elapsed();
    let mut table = Table::new(blocks);
    table.rescan();
    let mut states: Vec<Quorum> = table
        .blocks
        .iter()
        .zip(table.counts())
        .map(|((_, cfg), n)| Quorum::new(cfg, n))
        .collect();
    for (i, q) in states.iter().enumerate() {
        if !send(&done, &table, i, q) {
            return;
        }
    }
    let mut events = match Events::open() {
        Ok(e) => {
            info!("track_process: following the kernel's process events");
            Some(e)
        }
        Err(e) => {
            warn!(
                "track_process: the kernel's process events cannot be followed here ({e}); \
                 reading /proc every {}s instead",
                POLL.as_secs()
            );
            None
        }
    };
    let period = if events.is_some() { RESCAN } else { POLL };
    let mut rescan_at = now() + period;
    loop {
        let next = states
            .iter()
            .filter_map(Quorum::deadline)
            .chain(std::iter::once(rescan_at))
            .min()
            .unwrap_or(rescan_at);
        let sleep = tokio::time::sleep(next.saturating_sub(now()));
        let mut rescan = false;
        match events.as_mut() {
            Some(ev) => {
                tokio::select! {
                    got = ev.next() => match got {
                        Ok(list) => {
                            for e in list {
                                match e {
                                    ProcEvent::Created(p) | ProcEvent::Changed(p) => table.look(p),
                                    ProcEvent::Exited(p) => table.gone(p),
                                }
                            }
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            warn!("track_process: the kernel dropped process events; reading /proc again");
                            rescan = true;
                        }
                        Err(e) => {
                            warn!("track_process: process events failed ({e}); reading /proc every {}s from now", POLL.as_secs());
                            events = None;
                            rescan = true;
                        }
                    },
                    _ = sleep => {}
                }
            }
            None => sleep.await,
        }
        if rescan || now() >= rescan_at {
            table.rescan();
            let period = if events.is_some() { RESCAN } else { POLL };
            rescan_at = now() + period;
        }
        let t = now();
        let counts = table.counts();
        for (i, q) in states.iter_mut().enumerate() {
            let changed = q.set_count(&table.blocks[i].1, counts[i], t) | q.tick(t);
            if changed && !send(&done, &table, i, q) {
                return;
            }
        }
    }
}

fn send(done: &mpsc::UnboundedSender<Internal>, table: &Table, i: usize, q: &Quorum) -> bool {
    done.send(Internal::ProcessTrack(Report {
        name: table.blocks[i].0.clone(),
        up: q.up,
        count: q.count,
    }))
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, params: &[&str], m: ParamMatch, full: bool) -> TrackProcess {
        TrackProcess {
            name: name.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
            param_match: m,
            full_command: full,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay_ms: 0,
            terminate_delay_ms: 0,
        }
    }

    fn seen(comm: &str, cmdline: &[&str]) -> Seen {
        let mut c = Vec::new();
        for a in cmdline {
            c.extend_from_slice(a.as_bytes());
            c.push(0);
        }
        Seen {
            comm: comm.into(),
            cmdline: Some(c),
        }
    }

    #[test]
    fn the_name_is_matched_exactly_like_pgrep_anchored() {
        let b = block("ssh", &[], ParamMatch::None, false);
        assert!(matches(&b, &seen("ssh", &["ssh", "host"])));
        assert!(!matches(&b, &seen("sshd", &["sshd"])));
        // full_command: the first word of the command line, the path as written.
        let b = block("/usr/sbin/haproxy", &[], ParamMatch::None, true);
        assert!(matches(
            &b,
            &seen("haproxy", &["/usr/sbin/haproxy", "-f", "x"])
        ));
        assert!(!matches(&b, &seen("haproxy", &["haproxy", "-f", "x"])));
    }

    #[test]
    fn parameters_match_exactly_partially_or_initially() {
        let cmd = seen("p", &["p", "-f", "/etc/a.cfg", "-q"]);
        let exact = block("p", &["-f", "/etc/a.cfg", "-q"], ParamMatch::Exact, true);
        assert!(matches(&exact, &cmd));
        let short = block("p", &["-f", "/etc/a.cfg"], ParamMatch::Exact, true);
        assert!(!matches(&short, &cmd));
        let partial = block("p", &["-f", "/etc/a.cfg"], ParamMatch::Partial, true);
        assert!(matches(&partial, &cmd));
        let partial_prefix = block("p", &["-f", "/etc/a"], ParamMatch::Partial, true);
        assert!(!matches(&partial_prefix, &cmd));
        let initial = block("p", &["-f", "/etc/a"], ParamMatch::Initial, true);
        assert!(matches(&initial, &cmd));
        let wrong = block("p", &["-g"], ParamMatch::Initial, true);
        assert!(!matches(&wrong, &cmd));
        // `param_match` with no parameters: the process must have none.
        let none = block("p", &[], ParamMatch::Exact, true);
        assert!(!matches(&none, &cmd));
        assert!(matches(&none, &seen("p", &["p"])));
    }

    #[test]
    fn stat_names_may_hold_spaces_and_parentheses() {
        assert_eq!(
            parse_stat("42 (a (b) c) S 1 2 3"),
            Some(("a (b) c".to_string(), 'S'))
        );
        assert_eq!(parse_stat("7 (x) Z 1"), Some(("x".to_string(), 'Z')));
        assert_eq!(parse_stat("garbage"), None);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quorum_and_its_delays_follow_keepalived() {
        let mut cfg = block("p", &[], ParamMatch::None, false);
        cfg.quorum = 2;
        cfg.quorum_max = 3;
        cfg.fork_delay_ms = 500;
        cfg.terminate_delay_ms = 1000;
        let mut q = Quorum::new(&cfg, 1);
        assert!(!q.up);
        // Quorum gained: up only after fork_delay.
        assert!(!q.set_count(&cfg, 2, ms(0)));
        assert_eq!(q.deadline(), Some(ms(500)));
        assert!(!q.tick(ms(499)));
        assert!(q.tick(ms(500)));
        assert!(q.up);
        // Too many (above quorum_max): down after terminate_delay, unless it comes back.
        assert!(!q.set_count(&cfg, 4, ms(600)));
        assert!(!q.set_count(&cfg, 3, ms(900)));
        assert_eq!(q.deadline(), None);
        assert!(q.up);
        assert!(!q.set_count(&cfg, 1, ms(1000)));
        assert!(q.tick(ms(2000)));
        assert!(!q.up);
        // No delay: at once.
        let plain = block("p", &[], ParamMatch::None, false);
        let mut q = Quorum::new(&plain, 0);
        assert!(q.set_count(&plain, 1, ms(0)));
        assert!(q.up);
        // quorum_max 0 (quorum 0): up while none runs.
        let mut none = block("p", &[], ParamMatch::None, false);
        none.quorum = 0;
        none.quorum_max = 0;
        assert!(Quorum::new(&none, 0).up);
        assert!(!Quorum::new(&none, 1).up);
    }

    fn message(what: u32, data: &[u32]) -> Vec<u8> {
        let mut m = listen_message();
        m.truncate(NLMSG_HDR + CN_MSG);
        m.extend_from_slice(&what.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&0u64.to_ne_bytes());
        for d in data {
            m.extend_from_slice(&d.to_ne_bytes());
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn connector_messages_are_read_and_threads_left_out() {
        let mut buf = message(PROC_EVENT_FORK, &[1, 1, 200, 200]);
        buf.extend(message(PROC_EVENT_FORK, &[200, 200, 201, 200])); // a thread
        buf.extend(message(PROC_EVENT_EXEC, &[200, 200]));
        buf.extend(message(PROC_EVENT_COMM, &[200, 200, 0x41, 0, 0, 0]));
        buf.extend(message(PROC_EVENT_EXIT, &[201, 200, 0, 0]));
        buf.extend(message(PROC_EVENT_EXIT, &[200, 200, 0, 9]));
        buf.extend(message(4, &[200, 200, 0, 0])); // a uid change
        assert_eq!(
            parse_events(&buf),
            vec![
                ProcEvent::Created(200),
                ProcEvent::Changed(200),
                ProcEvent::Changed(200),
                ProcEvent::Exited(200),
            ]
        );
        // Short or lying lengths end the parse, never panic.
        assert!(parse_events(&buf[..10]).is_empty());
        let mut bad = message(PROC_EVENT_EXEC, &[5, 5]);
        bad[..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_events(&bad).is_empty());
    }

    /// As root in the initial network namespace (CI), the connector reports a process
    /// this test starts and ends; elsewhere it cannot open, which the daemon handles by
    /// reading /proc.
    #[tokio::test]
    async fn the_kernel_reports_a_child_started_and_ended() {
        let Ok(mut events) = Events::open() else {
            eprintln!("skipped: no proc connector here (not root, or another netns)");
            return;
        };
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = child.id() as i32;
        child.wait().expect("wait");
        let mut got = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                got.extend(events.next().await.unwrap_or_default());
                if got.contains(&ProcEvent::Exited(pid)) {
                    return;
                }
            }
        })
        .await;
        assert!(found.is_ok(), "no exit event for {pid}: {got:?}");
        assert!(got.contains(&ProcEvent::Created(pid)), "{got:?}");
    }
}
