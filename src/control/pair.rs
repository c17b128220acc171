//! `baton status --pair PEER[:PORT]`: this node over the control socket, the peer over
//! HTTP (`GET /status` on its `metrics_listen` address), side by side.
//!
//! The peer is read with a bounded exchange (2 s to connect, 4 s in all, a reply of at most
//! 8 MiB) on a runtime of the CLI's own: nothing here runs in the daemon. The exit status
//! is the worse of the two nodes' (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: the local daemon
//! did not answer), raised to CRITICAL when both are MASTER of one instance, and
//! [`PEER_UNREACHABLE`] when the peer did not answer, whatever the rest.

use std::fmt::Write as _;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;

use super::status::{DaemonStatus, Health, InstanceStatus, VrrpState, health};

/// The port of `PEER` when none is given: the one the documentation uses for
/// `metrics_listen`.
pub const DEFAULT_PORT: u16 = 9650;
/// The exit status when the peer does not answer (after 3, UNKNOWN: a monitoring system
/// that knows only 0..=3 shows it as UNKNOWN).
pub const PEER_UNREACHABLE: u8 = 4;
/// How long connecting to the peer may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the whole exchange with the peer may take (name lookup, connect, reply).
pub const PEER_TIMEOUT: Duration = Duration::from_secs(4);
/// The largest reply read from the peer (510 instances are about 1 MiB).
const MAX_REPLY: usize = 8 << 20;

/// `PEER[:PORT]` from the command line: an IPv4 address, an IPv6 address (in brackets
/// when a port follows) or a host name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAddress {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for PeerAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<PeerAddress, String> {
        let bad = |why: &str| {
            format!(
                "`{text}` {why}: expected ADDRESS or ADDRESS:PORT (e.g. 192.0.2.2:9650, \
                 [2001:db8::2]:9650, db2)"
            )
        };
        let port = |p: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad("has no valid port (1 to 65535)")),
            Ok(p) => Ok(p),
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("lacks a `]`"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("is not an IPv6 address in brackets"));
            }
            match after {
                "" => (host, DEFAULT_PORT),
                _ => (
                    host,
                    port(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("has text after `]`"))?,
                    )?,
                ),
            }
        } else if text.parse::<std::net::IpAddr>().is_ok() {
            (text, DEFAULT_PORT)
        } else if let Some((host, p)) = text.rsplit_once(':') {
            if host.contains(':') {
                return Err(bad("is not an address"));
            }
            (host, port(p)?)
        } else {
            (text, DEFAULT_PORT)
        };
        let name_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if host.is_empty() || !name_ok {
            return Err(bad("is not an address or a host name"));
        }
        if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("is not an IPv6 address"));
        }
        Ok(PeerAddress {
            host: host.to_string(),
            port,
        })
    }
}

/// Why the peer's status could not be read; the message names the address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the peer at {address} did not answer: {why}")]
pub struct PeerError {
    pub address: String,
    pub why: String,
}

/// Read the peer's status (`GET /status`) within [`PEER_TIMEOUT`], on a runtime of its own.
pub fn fetch_blocking(peer: &PeerAddress) -> Result<DaemonStatus, PeerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PeerError {
            address: peer.to_string(),
            why: format!("cannot start a runtime: {e}"),
        })?;
    let result = runtime.block_on(fetch(peer));
    // A name lookup still running on a blocking thread is not waited for.
    runtime.shutdown_background();
    result
}

/// Read the peer's status (`GET /status`) within [`PEER_TIMEOUT`].
pub async fn fetch(peer: &PeerAddress) -> Result<DaemonStatus, PeerError> {
    let failed = |why: String| PeerError {
        address: peer.to_string(),
        why,
    };
    match tokio::time::timeout(PEER_TIMEOUT, exchange(peer)).await {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(failed(format!(
            "no reply within {}s",
            PEER_TIMEOUT.as_secs()
        ))),
    }
}

async fn exchange(peer: &PeerAddress) -> Result<DaemonStatus, String> {
    let addresses: Vec<_> = tokio::net::lookup_host((peer.host.as_str(), peer.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", peer.host))?
        .collect();
    let mut stream = None;
    let mut errors = Vec::new();
    for address in &addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => errors.push(format!("cannot connect to {address}: {e}")),
            Err(_) => errors.push(format!(
                "cannot connect to {address}: no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }
    let Some(stream) = stream else {
        return Err(if errors.is_empty() {
            format!("{} has no address", peer.host)
        } else {
            errors.join("; ")
        });
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get("/status")
        .header(hyper::header::HOST, peer.to_string())
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("HTTP: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let code = response.status();
    let body = Limited::new(response.into_body(), MAX_REPLY)
        .collect()
        .await
        .map_err(|e| format!("reading the reply: {e}"))?
        .to_bytes();
    if !code.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!(
            "HTTP {code} for /status ({}){}",
            text.trim(),
            if code == hyper::StatusCode::NOT_FOUND {
                "; is the peer's baton older than `status --pair`?"
            } else {
                ""
            }
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unreadable status: {e}"))
}

/// What `status --pair --json` prints.
#[derive(Debug, Serialize)]
pub struct PairReport<'a> {
    /// This node's status as `baton status --json` shows it; null when the daemon did not
    /// answer.
    pub local: Option<&'a DaemonStatus>,
    /// The peer's, as its `/status` shows it; null when it did not answer.
    pub peer: Option<&'a DaemonStatus>,
    pub peer_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_error: Option<&'a str>,
    /// Alarms about the two together (both MASTER of one instance).
    pub pair_alarms: Vec<String>,
    /// OK, WARNING, CRITICAL, UNKNOWN or PEER_UNREACHABLE.
    pub health: &'static str,
    pub exit_code: u8,
}

/// Both sides as read; either may have failed.
pub struct Pair {
    pub local: Result<DaemonStatus, String>,
    pub peer: Result<DaemonStatus, PeerError>,
    pub peer_address: PeerAddress,
}

impl Pair {
    /// Alarms about the two together: an instance that both call MASTER.
    pub fn alarms(&self) -> Vec<String> {
        let (Ok(local), Ok(peer)) = (&self.local, &self.peer) else {
            return Vec::new();
        };
        local
            .instances
            .iter()
            .filter(|i| i.state == VrrpState::Master)
            .filter(|i| {
                peer.instances
                    .iter()
                    .any(|p| p.name == i.name && p.state == VrrpState::Master)
            })
            .map(|i| format!("{}: both nodes are MASTER (split brain)", i.name))
            .collect()
    }

    /// The exit status: see the module comment.
    pub fn exit_code(&self) -> u8 {
        if self.peer.is_err() {
            return PEER_UNREACHABLE;
        }
        let side = |s: Option<&DaemonStatus>| s.map_or(Health::Unknown, health);
        let mut worst = side(self.local.as_ref().ok()).max(side(self.peer.as_ref().ok()));
        if !self.alarms().is_empty() {
            worst = worst.max(Health::Critical);
        }
        worst.exit_code()
    }

    fn health_word(&self) -> &'static str {
        match self.exit_code() {
            0 => "OK",
            1 => "WARNING",
            2 => "CRITICAL",
            PEER_UNREACHABLE => "PEER_UNREACHABLE",
            _ => "UNKNOWN",
        }
    }

    /// `--json`.
    pub fn json(&self) -> String {
        let report = PairReport {
            local: self.local.as_ref().ok(),
            peer: self.peer.as_ref().ok(),
            peer_address: self.peer_address.to_string(),
            local_error: self.local.as_ref().err().map(String::as_str),
            peer_error: self.peer.as_ref().err().map(|e| e.why.as_str()),
            pair_alarms: self.alarms(),
            health: self.health_word(),
            exit_code: self.exit_code(),
        };
        let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The two side by side.
    pub fn render(&self) -> String {
        let mut rows: Vec<[String; 3]> = Vec::new();
        let local = self.local.as_ref().ok();
        let peer = self.peer.as_ref().ok();
        let side = |s: Option<&DaemonStatus>, f: &dyn Fn(&DaemonStatus) -> String| {
            s.map_or_else(|| "-".to_string(), f)
        };
        let mut row = |label: &str, l: String, p: String| rows.push([label.to_string(), l, p]);
        row("", "local".into(), format!("peer {}", self.peer_address));
        row(
            "daemon",
            reachable(self.local.as_ref().err().map(String::as_str)),
            reachable(self.peer.as_ref().err().map(|e| e.why.as_str())),
        );
        let node = |s: &DaemonStatus| or_dash(&s.node);
        row("node", side(local, &node), side(peer, &node));
        let version = |s: &DaemonStatus| or_dash(&s.version);
        row("version", side(local, &version), side(peer, &version));
        let word = |s: &DaemonStatus| health(s).as_str().to_string();
        row("health", side(local, &word), side(peer, &word));
        let mut names: Vec<&str> = Vec::new();
        for s in [local, peer].into_iter().flatten() {
            for i in &s.instances {
                if !names.contains(&i.name.as_str()) {
                    names.push(&i.name);
                }
            }
        }
        for name in &names {
            let (l, p) = (find(local, name), find(peer, name));
            let cell = |i: Option<&InstanceStatus>,
                        up: bool,
                        f: &dyn Fn(&InstanceStatus) -> String| {
                match (i, up) {
                    (Some(i), _) => f(i),
                    (None, true) => "(no such instance)".to_string(),
                    (None, false) => "-".to_string(),
                }
            };
            let (lu, pu) = (local.is_some(), peer.is_some());
            row(
                &format!("{name}: state"),
                cell(l, lu, &|i| i.state.to_string()),
                cell(p, pu, &|i| i.state.to_string()),
            );
            let priority = |i: &InstanceStatus| {
                if i.priority == i.base_priority {
                    i.priority.to_string()
                } else {
                    format!("{} (configured {})", i.priority, i.base_priority)
                }
            };
            row("  priority", cell(l, lu, &priority), cell(p, pu, &priority));
            row("  VIP holder", cell(l, lu, &holder), cell(p, pu, &holder));
            row(
                "  last hook",
                cell(l, lu, &last_hook),
                cell(p, pu, &last_hook),
            );
            row(
                "  alarms",
                cell(l, lu, &alarm_count),
                cell(p, pu, &alarm_count),
            );
        }
        let mut out = format!("baton pair {}\n", self.health_word());
        let widths: Vec<usize> = (0..3)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let line = format!(
                "{:w0$}  {:w1$}  {}",
                r[0],
                r[1],
                r[2],
                w0 = widths[0],
                w1 = widths[1]
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        for alarm in self.alarms() {
            let _ = writeln!(out, "\npair CRITICAL: {alarm}");
        }
        if let Err(e) = &self.local {
            let _ = writeln!(out, "\nlocal: {e}");
        }
        if let Err(e) = &self.peer {
            let _ = writeln!(out, "\n{e}");
        }
        let mut first = true;
        for (who, s) in [("local", local), ("peer", peer)] {
            for i in s.into_iter().flat_map(|s| &s.instances) {
                for a in &i.alarms {
                    if std::mem::take(&mut first) {
                        out.push('\n');
                    }
                    let _ = writeln!(
                        out,
                        "{who} {}: {}: {}",
                        i.name,
                        a.severity.as_str(),
                        a.message
                    );
                }
            }
        }
        out
    }
}

fn find<'a>(status: Option<&'a DaemonStatus>, name: &str) -> Option<&'a InstanceStatus> {
    status.and_then(|s| s.instances.iter().find(|i| i.name == name))
}

fn reachable(error: Option<&str>) -> String {
    match error {
        None => "reachable".into(),
        Some(_) => "UNREACHABLE".into(),
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.into()
    }
}

/// Who holds the VIP, as this node sees it.
fn holder(i: &InstanceStatus) -> String {
    let present = i.vips.iter().filter(|v| v.present).count();
    match (&i.state, &i.master) {
        (VrrpState::Master, _) if present == i.vips.len() => "this node".into(),
        (VrrpState::Master, _) => format!("this node, {} VIP missing", i.vips.len() - present),
        (state, _) if present > 0 => format!("this node (while {state})"),
        (_, Some(m)) => m.address.clone(),
        (_, None) => "none heard".into(),
    }
}

fn last_hook(i: &InstanceStatus) -> String {
    match &i.last_hook {
        None => "none".into(),
        Some(h) => format!(
            "{} {} ({:.0}s ago)",
            h.hook,
            if h.ok { "ok" } else { "FAILED" },
            h.age_s
        ),
    }
}

fn alarm_count(i: &InstanceStatus) -> String {
    let count = |s| i.alarms.iter().filter(|a| a.severity == s).count();
    match (count(Health::Critical), count(Health::Warning)) {
        (0, 0) => "none".into(),
        (c, 0) => format!("{c} CRITICAL"),
        (0, w) => format!("{w} WARNING"),
        (c, w) => format!("{c} CRITICAL, {w} WARNING"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status::{Alarm, Counters, MasterStatus, VipStatus};
    use std::collections::BTreeMap;

    fn instance(state: &str, alarms: Vec<Alarm>) -> InstanceStatus {
        // The word as a peer writes it, decoded as `status --pair` decodes it.
        let state: VrrpState = serde_json::from_value(state.into()).unwrap();
        InstanceStatus {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 3,
            family: crate::control::status::Family::IPv4,
            state: state.clone(),
            since_s: 1.0,
            reason: "x".into(),
            reason_kind: "x".into(),
            base_priority: 150,
            priority: 150,
            fallback: "automatic".into(),
            locked: false,
            master: (state == VrrpState::Backup).then(|| MasterStatus {
                address: "192.0.2.1".into(),
                priority: 150,
                last_advert_s: 0.1,
            }),
            vips: vec![VipStatus {
                address: "192.0.2.100/24".into(),
                present: state == VrrpState::Master,
            }],
            routes: Vec::new(),
            vmac: None,
            address_vmacs: Vec::new(),
            counters: Counters::default(),
            dropped: BTreeMap::new(),
            sync_group: None,
            faults: vec![],
            tracks: vec![],
            last_hook: None,
            flap_hold_s: None,
            witness: None,
            peer_mismatches: vec![],
            vip_conflicts: vec![],
            auth_hmac: None,
            alarms,
        }
    }

    fn node(name: &str, i: InstanceStatus) -> DaemonStatus {
        DaemonStatus {
            version: "0.1.0".into(),
            node: name.into(),
            router_id: None,
            pid: 1,
            uptime_s: 1.0,
            instances: vec![i],
            dropped: BTreeMap::new(),
        }
    }

    fn peer() -> PeerAddress {
        "192.0.2.2".parse().unwrap()
    }

    fn warning() -> Alarm {
        Alarm {
            severity: Health::Warning,
            message: "locked".into(),
        }
    }

    #[test]
    fn peer_addresses_parse_with_and_without_a_port() {
        let p = |t: &str| t.parse::<PeerAddress>().map(|p| p.to_string());
        assert_eq!(p("192.0.2.2").unwrap(), "192.0.2.2:9650");
        assert_eq!(p("192.0.2.2:80").unwrap(), "192.0.2.2:80");
        assert_eq!(p("2001:db8::2").unwrap(), "[2001:db8::2]:9650");
        assert_eq!(p("[2001:db8::2]:81").unwrap(), "[2001:db8::2]:81");
        assert_eq!(p("[2001:db8::2]").unwrap(), "[2001:db8::2]:9650");
        assert_eq!(p("db2.example:82").unwrap(), "db2.example:82");
        for bad in [
            "",
            "192.0.2.2:0",
            "192.0.2.2:x",
            "[2001:db8::2",
            "a b",
            "[zz]:1",
            ":80",
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// A newer peer may report a state this version does not know: `status --pair` reads
    /// it, shows the word and passes it on in `--json`; it is not read as MASTER.
    #[test]
    fn a_peer_in_a_state_this_version_does_not_know_is_shown_as_it_came() {
        let mut json = serde_json::to_value(node("b", instance("BACKUP", vec![]))).unwrap();
        json["instances"][0]["state"] = "DEGRADED".into();
        let body = serde_json::to_vec(&json).unwrap();
        let newer: DaemonStatus = serde_json::from_slice(&body).expect("a newer peer's status");
        let pair = Pair {
            local: Ok(node("a", instance("MASTER", vec![]))),
            peer: Ok(newer),
            peer_address: peer(),
        };
        assert_eq!(pair.exit_code(), 0);
        assert!(pair.alarms().is_empty());
        let text = pair.render();
        assert!(
            text.lines()
                .any(|l| l.starts_with("VI_1: state") && l.ends_with("DEGRADED")),
            "{text}"
        );
        let out: serde_json::Value = serde_json::from_str(&pair.json()).unwrap();
        assert_eq!(out["peer"]["instances"][0]["state"], "DEGRADED");
    }

    #[test]
    fn the_exit_status_is_the_worse_side_and_4_without_the_peer() {
        let pair = |local: Result<DaemonStatus, String>, other| Pair {
            local,
            peer: other,
            peer_address: peer(),
        };
        let ok = Pair {
            local: Ok(node("a", instance("MASTER", vec![]))),
            peer: Ok(node("b", instance("BACKUP", vec![]))),
            peer_address: peer(),
        };
        assert_eq!(ok.exit_code(), 0);
        let text = ok.render();
        assert!(text.starts_with("baton pair OK\n"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("VI_1: state")
                && l.contains("MASTER")
                && l.ends_with("BACKUP")),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.contains("VIP holder")
                && l.contains("this node")
                && l.ends_with("192.0.2.1")),
            "{text}"
        );
        let warn = pair(
            Ok(node("a", instance("MASTER", vec![]))),
            Ok(node("b", instance("BACKUP", vec![warning()]))),
        );
        assert_eq!(warn.exit_code(), 1);
        let unknown = pair(
            Err("cannot reach".into()),
            Ok(node("b", instance("BACKUP", vec![warning()]))),
        );
        assert_eq!(unknown.exit_code(), 3);
        let gone = pair(
            Ok(node("a", instance("MASTER", vec![]))),
            Err(PeerError {
                address: "192.0.2.2:9650".into(),
                why: "cannot connect to 192.0.2.2:9650: Connection refused".into(),
            }),
        );
        assert_eq!(gone.exit_code(), PEER_UNREACHABLE);
        let text = gone.render();
        assert!(
            text.contains("the peer at 192.0.2.2:9650 did not answer: cannot connect"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&gone.json()).unwrap();
        assert_eq!(json["exit_code"], 4);
        assert_eq!(json["peer"], serde_json::Value::Null);
        assert_eq!(json["local"]["instances"][0]["state"], "MASTER");
        assert!(
            json["peer_error"]
                .as_str()
                .unwrap()
                .contains("Connection refused")
        );
        let split = pair(
            Ok(node("a", instance("MASTER", vec![]))),
            Ok(node("b", instance("MASTER", vec![]))),
        );
        assert_eq!(split.exit_code(), 2);
        assert_eq!(
            split.alarms(),
            ["VI_1: both nodes are MASTER (split brain)"]
        );
    }
}
