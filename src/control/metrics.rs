//! Prometheus metrics over HTTP (`metrics_listen` in `global_defs`): `GET /metrics` asks the
//! protocol loop for the same snapshot as `baton status` (through the control channel, so
//! the loop does nothing more for a scrape than for a status) and renders it in the
//! OpenMetrics text format with `prometheus-client`. Read-only, nothing secret in it.
//!
//! `GET /status` on the same address: that snapshot as JSON, as `baton status --json` shows
//! it, less what could carry a secret (`redact.rs`); `baton status --pair` reads the peer's
//! this way. Any other path is 404, any other method 405.
//!
//! The instance label is `vrrp_instance`: Prometheus itself sets `instance` on every target.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, error, info, warn};

use super::protocol::Command;
use super::redact::redact;
use super::server::ControlRequest;
use super::status::{DaemonStatus, Health, LeaseState, VrrpState};

/// Scrapes served at once; more connections wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 8;
/// A connection (its request and the reply) gets this long in all.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// A client must send its request headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of a request (line and headers) read; a longer one is refused (431). hyper's
/// smallest allowed buffer: a scrape or a status request is a few hundred bytes.
const MAX_REQUEST: usize = 8192;
/// How long a scrape waits for the protocol loop's snapshot.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Counters = Family<Labels, Counter<u64>>;
/// One counter of an instance's status.
type ReadCounter = fn(&super::status::Counters) -> u64;

/// Bind `address`; a failure is logged and the daemon runs without metrics.
pub async fn bind(address: SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(address).await {
        Ok(listener) => {
            info!("metrics: serving http://{address}/metrics and /status");
            Some(listener)
        }
        Err(e) => {
            error!("metrics: cannot listen on {address} ({e}); running without metrics");
            None
        }
    }
}

/// Serve scrapes until the control channel closes (the daemon stops).
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<ControlRequest>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if requests.is_closed() {
            return;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Every slot is taken: say so at once and close, as the control socket does,
            // rather than keep the scraper waiting in the backlog.
            tokio::task::spawn_local(async move {
                let busy = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let mut stream = stream;
                let _ = tokio::time::timeout(
                    HEADER_TIMEOUT,
                    tokio::io::AsyncWriteExt::write_all(&mut stream, busy),
                )
                .await;
            });
            debug!("metrics: {peer} refused, {MAX_CONNECTIONS} scrapes in progress");
            continue;
        };
        let requests = requests.clone();
        tokio::task::spawn_local(async move {
            let service =
                hyper::service::service_fn(move |request| answer(request, requests.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST)
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!("metrics: connection from {peer}: {e}"),
                Err(_) => debug!("metrics: connection from {peer} timed out"),
            }
            drop(permit);
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    requests: mpsc::Sender<ControlRequest>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method();
    Ok(match request.uri().path() {
        "/metrics" if method == Method::GET || method == Method::HEAD => metrics(&requests).await,
        "/metrics" => not_allowed("GET, HEAD", "GET /metrics\n"),
        "/status" if method == Method::GET => status(&requests).await,
        "/status" => not_allowed("GET", "GET /status\n"),
        _ => plain(
            StatusCode::NOT_FOUND,
            "only /metrics and /status are served here\n",
        ),
    })
}

/// `GET /metrics`: the snapshot in the OpenMetrics text format.
async fn metrics(requests: &mpsc::Sender<ControlRequest>) -> Response<Full<Bytes>> {
    let value = match snapshot(requests).await {
        Ok(value) => value,
        Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n")),
    };
    // Decoding the snapshot and rendering it are off the protocol thread.
    let rendered = tokio::task::spawn_blocking(move || {
        let status: DaemonStatus = serde_json::from_value(value).map_err(|e| e.to_string())?;
        render(&status, unix_now()).map_err(|e| e.to_string())
    });
    match rendered.await {
        Ok(Ok(body)) => response(StatusCode::OK, CONTENT_TYPE, body),
        Ok(Err(e)) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot render: {e}\n"),
        ),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot render\n"),
    }
}

/// `GET /status`: the snapshot as `baton status --json` shows it, less what could carry a
/// secret (`redact`), as one JSON document.
async fn status(requests: &mpsc::Sender<ControlRequest>) -> Response<Full<Bytes>> {
    let value = match snapshot(requests).await {
        Ok(value) => value,
        Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n")),
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let status: DaemonStatus = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let mut text = serde_json::to_string_pretty(&redact(status)).map_err(|e| e.to_string())?;
        text.push('\n');
        Ok::<_, String>(text)
    });
    match rendered.await {
        Ok(Ok(body)) => response(StatusCode::OK, "application/json", body),
        Ok(Err(e)) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot render: {e}\n"),
        ),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot render\n"),
    }
}

fn not_allowed(allow: &'static str, text: &str) -> Response<Full<Bytes>> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, text);
    response.headers_mut().insert(
        hyper::header::ALLOW,
        hyper::header::HeaderValue::from_static(allow),
    );
    response
}

/// The status snapshot, from the protocol loop, as the JSON value `status` answers.
async fn snapshot(requests: &mpsc::Sender<ControlRequest>) -> Result<serde_json::Value, String> {
    let (reply, answer) = oneshot::channel();
    let request = ControlRequest {
        command: Command::Status { instance: None },
        peer: None,
        reply,
    };
    let asked = async {
        requests
            .send(request)
            .await
            .map_err(|_| "the daemon is stopping".to_string())?;
        answer
            .await
            .map_err(|_| "the daemon is stopping".to_string())
    };
    let reply = tokio::time::timeout(SNAPSHOT_TIMEOUT, asked)
        .await
        .map_err(|_| "the daemon did not answer in time".to_string())??;
    match (reply.ok, reply.result) {
        (true, Some(value)) => Ok(value),
        _ => Err(reply.error.unwrap_or_else(|| "no status".into())),
    }
}

fn plain(code: StatusCode, text: &str) -> Response<Full<Bytes>> {
    response(code, "text/plain; charset=utf-8", text.to_string())
}

fn response(code: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// A label value as the exposition format wants it: prometheus-client writes values as
/// given, so backslash, double quote and newline are escaped here.
fn value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Seconds since the Unix epoch now, for the `*_timestamp_seconds` metrics.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The whole exposition for one snapshot, taken at about `now` (seconds since the Unix
/// epoch): the snapshot's ages ("seconds since") become timestamps, as Prometheus prefers
/// (<https://prometheus.io/docs/practices/instrumentation/#timestamps-not-time-since>).
/// Names follow <https://prometheus.io/docs/practices/naming/>: the `baton_` prefix, base
/// units as suffix (`_seconds`, with an OpenMetrics `# UNIT` line), `_total` on counters
/// (added by prometheus-client), `_timestamp_seconds` for a time, the label `vrrp_instance`
/// on every instance metric; baton.conf(5)'s METRICS lists them.
pub fn render(status: &DaemonStatus, now: f64) -> Result<String, std::fmt::Error> {
    let mut root = Registry::default();
    // The name every client library's process collector uses, so dashboards find it.
    let started = Gauge::<f64, AtomicU64>::default();
    started.set(now - status.uptime_s);
    root.register_with_unit(
        "process_start_time",
        "Start time of the daemon since the Unix epoch",
        Unit::Seconds,
        started,
    );
    let registry = root.sub_registry_with_prefix("baton");
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let family = Gauges::default();
        registry.register(name, help, family.clone());
        family
    };
    let seconds = |registry: &mut Registry, name: &str, help: &str| {
        let family = Gauges::default();
        registry.register_with_unit(name, help, Unit::Seconds, family.clone());
        family
    };
    let counter = |registry: &mut Registry, name: &str, help: &str| {
        let family = Counters::default();
        registry.register(name, help, family.clone());
        family
    };
    let build = gauge(
        registry,
        "build_info",
        "Always 1; the label version is the daemon's version",
    );
    build
        .get_or_create(&vec![("version", value(&status.version))])
        .set(1.0);
    let dropped = counter(
        registry,
        "packets_dropped",
        "Packets dropped before reaching an instance (header, checksum, unknown VRID...), by \
         reason",
    );
    for (reason, count) in &status.dropped {
        dropped
            .get_or_create(&vec![("reason", value(reason))])
            .inc_by(*count);
    }
    let info = gauge(
        registry,
        "instance_info",
        "Always 1; the labels say the instance's interface, VRID, VRRP version and address family",
    );
    let state = gauge(
        registry,
        "instance_state",
        "1 for the state the instance is in, 0 for the others",
    );
    let transition_time = seconds(
        registry,
        "instance_last_transition_timestamp",
        "When the instance entered its current state, since the Unix epoch",
    );
    let priority = gauge(registry, "instance_priority", "Effective priority");
    let base_priority = gauge(registry, "instance_base_priority", "Configured priority");
    let locked = gauge(registry, "instance_locked", "1 if an operator locked it");
    let master_advert = seconds(
        registry,
        "instance_master_last_advert_timestamp",
        "When the last advert of the master this node hears arrived, since the Unix epoch \
         (absent while this node is master)",
    );
    let vip = gauge(
        registry,
        "instance_vip_present",
        "1 if the virtual address is on the interface",
    );
    let track = gauge(
        registry,
        "instance_track_up",
        "1 if a tracked interface, script, file or process is up",
    );
    let hook_ok = gauge(
        registry,
        "instance_last_hook_ok",
        "1 if the last notify hook that finished succeeded",
    );
    let hook_time = seconds(
        registry,
        "instance_last_hook_timestamp",
        "When the last notify hook finished, since the Unix epoch",
    );
    let hook_duration = seconds(
        registry,
        "instance_last_hook_duration",
        "How long the last notify hook ran",
    );
    let alarms = gauge(
        registry,
        "instance_alarms",
        "Alarms raised now, by severity",
    );
    let lease = gauge(
        registry,
        "instance_witness_lease",
        "With a witness: 1 for what it says of the lease now (held by this node, held_by \
         another, free, unreachable, unknown), 0 for the others",
    );
    let lease_left = seconds(
        registry,
        "instance_witness_lease_remaining",
        "With a witness: how long this node may still act as master without a renewal",
    );
    let peer_mismatch = gauge(
        registry,
        "instance_peer_config_mismatch",
        "1 for each peer whose adverts disagree with the instance's configuration, by what \
         differs (vips, advert_interval, auth_type, auth_password); absent once it agrees",
    );
    let vip_conflict = gauge(
        registry,
        "instance_vip_conflict",
        "1 while MASTER for each VIP another host (by its MAC) answers for; absent otherwise",
    );
    let counters: [(&str, &str, ReadCounter); 10] = [
        ("instance_adverts_sent", "Adverts sent", |c| {
            c.vrrp.adverts_sent
        }),
        ("instance_adverts_received", "Adverts received", |c| {
            c.vrrp.adverts_received
        }),
        (
            "instance_priority_zero_sent",
            "Priority-0 adverts sent (leaving master)",
            |c| c.vrrp.priority_zero_sent,
        ),
        (
            "instance_priority_zero_received",
            "Priority-0 adverts received",
            |c| c.vrrp.priority_zero_received,
        ),
        ("instance_became_master", "Transitions to MASTER", |c| {
            c.vrrp.became_master
        }),
        (
            "instance_released_master",
            "Transitions out of MASTER",
            |c| c.vrrp.released_master,
        ),
        (
            "instance_interval_mismatch",
            "Adverts with another advert interval",
            |c| c.vrrp.interval_mismatch,
        ),
        (
            "instance_lower_priority_master",
            "Adverts of a lower-priority master heard while master",
            |c| c.vrrp.lower_priority_master,
        ),
        (
            "instance_adverts_unsent",
            "Adverts the kernel refused to send",
            |c| c.adverts_unsent,
        ),
        (
            "instance_hmac_unsigned_accepted",
            "Adverts without an auth_hmac trailer accepted by mode permissive or receive-only",
            |c| c.hmac_unsigned_accepted,
        ),
    ];
    let counter_families: Vec<_> = counters
        .iter()
        .map(|(name, help, _)| counter(registry, name, help))
        .collect();
    let instance_dropped = counter(
        registry,
        "instance_adverts_dropped",
        "Adverts dropped by the instance's checks (TTL, authentication, auth_hmac...), by \
         reason",
    );
    for i in &status.instances {
        let me = || vec![("vrrp_instance", value(&i.name))];
        // The label values of `baton_instance_state`: the states this version knows.
        for s in VrrpState::KNOWN {
            let mut labels = me();
            labels.push(("state", s.to_string()));
            state
                .get_or_create(&labels)
                .set(f64::from(u8::from(i.state == s)));
        }
        let mut labels = me();
        labels.push(("interface", value(&i.interface)));
        labels.push(("vrid", i.vrid.to_string()));
        labels.push(("vrrp_version", i.version.to_string()));
        labels.push(("family", value(i.family.as_str())));
        info.get_or_create(&labels).set(1.0);
        transition_time.get_or_create(&me()).set(now - i.since_s);
        priority.get_or_create(&me()).set(f64::from(i.priority));
        base_priority
            .get_or_create(&me())
            .set(f64::from(i.base_priority));
        locked
            .get_or_create(&me())
            .set(f64::from(u8::from(i.locked)));
        if let Some(master) = &i.master {
            master_advert
                .get_or_create(&me())
                .set(now - master.last_advert_s);
        }
        for v in &i.vips {
            let mut labels = me();
            labels.push(("address", value(&v.address)));
            vip.get_or_create(&labels)
                .set(f64::from(u8::from(v.present)));
        }
        for t in &i.tracks {
            let mut labels = me();
            labels.push(("kind", value(&t.kind)));
            labels.push(("track", value(&t.name)));
            track.get_or_create(&labels).set(f64::from(u8::from(t.up)));
        }
        if let Some(hook) = &i.last_hook {
            let mut labels = me();
            labels.push(("hook", value(&hook.hook)));
            hook_ok
                .get_or_create(&labels)
                .set(f64::from(u8::from(hook.ok)));
            hook_time.get_or_create(&labels).set(now - hook.age_s);
            hook_duration
                .get_or_create(&labels)
                .set(hook.run.duration_s);
        }
        if let Some(w) = &i.witness {
            for kind in LeaseState::KNOWN {
                let mut labels = me();
                labels.push(("lease", kind.to_string()));
                lease
                    .get_or_create(&labels)
                    .set(f64::from(u8::from(w.lease == kind)));
            }
            if let Some(left) = w.ttl_left_s {
                lease_left.get_or_create(&me()).set(left);
            }
        }
        for p in &i.peer_mismatches {
            for d in &p.differences {
                let mut labels = me();
                labels.push(("peer", value(&p.peer)));
                labels.push(("field", value(d.field.as_str())));
                peer_mismatch.get_or_create(&labels).set(1.0);
            }
        }
        for c in &i.vip_conflicts {
            let mut labels = me();
            labels.push(("address", value(&c.address)));
            labels.push(("mac", value(&c.mac)));
            vip_conflict.get_or_create(&labels).set(1.0);
        }
        for severity in [Health::Warning, Health::Critical] {
            let count = i.alarms.iter().filter(|a| a.severity == severity).count();
            let mut labels = me();
            labels.push(("severity", severity.as_str().to_lowercase()));
            alarms.get_or_create(&labels).set(count as f64);
        }
        for ((_, _, read), family) in counters.iter().zip(&counter_families) {
            family.get_or_create(&me()).inc_by(read(&i.counters));
        }
        for (reason, count) in &i.dropped {
            let mut labels = me();
            labels.push(("reason", value(reason)));
            instance_dropped.get_or_create(&labels).inc_by(*count);
        }
    }
    let mut out = String::new();
    encode(&mut out, &root)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status::{Alarm, InstanceStatus, VipStatus};

    fn instance(name: &str, state: &str) -> InstanceStatus {
        let json = serde_json::json!({
            "name": name, "interface": "eth0", "vrid": 51, "version": 3, "family": "IPv4",
            "state": state, "since_s": 12.5, "reason": "x", "base_priority": 150,
            "priority": 140, "fallback": "automatic", "locked": false, "master": null,
            "vips": [], "counters": {
                "adverts_sent": 7, "adverts_received": 3, "priority_zero_sent": 0,
                "priority_zero_received": 1, "became_master": 2, "released_master": 1,
                "interval_mismatch": 0, "lower_priority_master": 0, "adverts_unsent": 0
            },
            "dropped": {"bad_ttl": 4}, "alarms": []
        });
        serde_json::from_value(json).expect("an instance status")
    }

    /// The time of the snapshot in these tests, seconds since the epoch.
    const NOW: f64 = 1_800_000_000.0;

    fn status(instances: Vec<InstanceStatus>) -> DaemonStatus {
        DaemonStatus {
            version: "0.1.0".into(),
            node: String::new(),
            router_id: None,
            pid: 1,
            uptime_s: 99.0,
            instances,
            dropped: [("unknown_vrid".to_string(), 5)].into(),
        }
    }

    #[test]
    fn a_master_is_rendered_with_its_state_counters_and_drops() {
        let mut i = instance("PORTAL", "MASTER");
        i.vips.push(VipStatus {
            address: "192.0.2.100/24".into(),
            present: true,
        });
        i.alarms.push(Alarm {
            severity: Health::Warning,
            message: "x".into(),
        });
        let text = render(&status(vec![i]), NOW).unwrap();
        for line in [
            "baton_instance_state{vrrp_instance=\"PORTAL\",state=\"MASTER\"} 1.0",
            "baton_instance_state{vrrp_instance=\"PORTAL\",state=\"BACKUP\"} 0.0",
            "baton_instance_priority{vrrp_instance=\"PORTAL\"} 140.0",
            "baton_instance_base_priority{vrrp_instance=\"PORTAL\"} 150.0",
            "baton_instance_became_master_total{vrrp_instance=\"PORTAL\"} 2",
            "baton_instance_adverts_sent_total{vrrp_instance=\"PORTAL\"} 7",
            "baton_instance_adverts_dropped_total{vrrp_instance=\"PORTAL\",reason=\"bad_ttl\"} 4",
            "baton_instance_vip_present{vrrp_instance=\"PORTAL\",address=\"192.0.2.100/24\"} 1.0",
            "baton_instance_alarms{vrrp_instance=\"PORTAL\",severity=\"warning\"} 1.0",
            "baton_instance_alarms{vrrp_instance=\"PORTAL\",severity=\"critical\"} 0.0",
            "baton_instance_info{vrrp_instance=\"PORTAL\",interface=\"eth0\",vrid=\"51\",vrrp_version=\"3\",family=\"IPv4\"} 1.0",
            // since_s 12.5 before NOW.
            "baton_instance_last_transition_timestamp_seconds{vrrp_instance=\"PORTAL\"} 1799999987.5",
            "# TYPE baton_instance_last_transition_timestamp_seconds gauge",
            "# UNIT baton_instance_last_transition_timestamp_seconds seconds",
            "baton_packets_dropped_total{reason=\"unknown_vrid\"} 5",
            "baton_build_info{version=\"0.1.0\"} 1.0",
            // uptime_s 99 before NOW.
            "process_start_time_seconds 1799999901.0",
            "# UNIT process_start_time_seconds seconds",
            "# TYPE baton_instance_became_master counter",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    /// An instance with everything that can be rendered: a master heard, a track, a hook.
    fn busy_backup() -> InstanceStatus {
        use crate::control::status::{HookStatus, MasterStatus, RunOutcome, TrackStatus};
        let mut i = instance("PORTAL", "BACKUP");
        i.master = Some(MasterStatus {
            address: "192.0.2.2".into(),
            priority: 200,
            last_advert_s: 0.25,
        });
        i.tracks.push(TrackStatus {
            kind: "script".into(),
            name: "chk_pg".into(),
            up: true,
            effect: crate::control::status::TrackEffect::Priority(0),
            detail: String::new(),
        });
        i.last_hook = Some(HookStatus {
            owner: "PORTAL".into(),
            hook: "notify_backup".into(),
            state: "BACKUP".into(),
            ok: false,
            run: RunOutcome {
                command: "/x".into(),
                exit_code: Some(1),
                signal: None,
                timed_out: false,
                error: None,
                duration_s: 0.5,
                stderr_tail: String::new(),
            },
            age_s: 30.0,
            result: "exit 1".into(),
        });
        i
    }

    #[test]
    fn ages_are_rendered_as_timestamps() {
        let text = render(&status(vec![busy_backup()]), NOW).unwrap();
        for line in [
            "baton_instance_master_last_advert_timestamp_seconds{vrrp_instance=\"PORTAL\"} 1799999999.75",
            "baton_instance_last_hook_ok{vrrp_instance=\"PORTAL\",hook=\"notify_backup\"} 0.0",
            "baton_instance_last_hook_timestamp_seconds{vrrp_instance=\"PORTAL\",hook=\"notify_backup\"} 1799999970.0",
            "baton_instance_last_hook_duration_seconds{vrrp_instance=\"PORTAL\",hook=\"notify_backup\"} 0.5",
            "baton_instance_track_up{vrrp_instance=\"PORTAL\",kind=\"script\",track=\"chk_pg\"} 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    /// The naming rules (<https://prometheus.io/docs/practices/naming/>), on an exposition
    /// with every metric: `baton_` (or the standard `process_start_time_seconds`), `_total`
    /// on counters and only there, a `_seconds` name ends with it and says its unit, no age
    /// (`_age`, `_left`, "seconds since"), and `vrrp_instance` first on instance metrics.
    /// `promtool check metrics` agrees (run by hand on a daemon's output).
    #[test]
    fn every_name_follows_the_conventions() {
        let mut lease = busy_backup();
        lease.witness = Some(crate::control::status::WitnessStatus {
            key: "/k".into(),
            lease: LeaseState::Free,
            holder: None,
            ttl_left_s: Some(1.0),
            endpoint: None,
            error: None,
            waiting: false,
            when_unreachable: crate::control::status::WhenUnreachable::Release,
        });
        let text = render(&status(vec![lease]), NOW).unwrap();
        let mut types = std::collections::BTreeMap::new();
        let mut units = std::collections::BTreeSet::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["#", "TYPE", name, kind] => {
                    types.insert(name.to_string(), kind.to_string());
                }
                ["#", "UNIT", name, "seconds"] => {
                    units.insert(name.to_string());
                }
                _ => {}
            }
        }
        assert!(types.len() >= 25, "{types:?}");
        let page = include_str!("../../man/baton.conf.5");
        for (family, kind) in &types {
            let listed = if kind == "counter" {
                format!(".BR {family}_total ")
            } else {
                format!(".BR {family} ")
            };
            assert!(
                page.contains(&listed),
                "{family}: not in baton.conf(5) METRICS"
            );
            assert!(
                family.starts_with("baton_") || family == "process_start_time_seconds",
                "{family}"
            );
            assert!(
                !family.ends_with("_total"),
                "{family}: _total is the sample's"
            );
            if family.contains("_seconds") {
                assert!(family.ends_with("_seconds"), "{family}: the unit goes last");
                assert!(units.contains(family), "{family}: no # UNIT line");
            }
            for age in ["_age", "_left", "_since"] {
                assert!(!family.contains(age), "{family}: export a timestamp");
            }
            let samples: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter(|l| {
                    let name = l.split(['{', ' ']).next().unwrap_or("");
                    name == family || name.strip_suffix("_total") == Some(family)
                })
                .collect();
            assert!(!samples.is_empty(), "{family}: no sample");
            for sample in samples {
                let name = sample.split(['{', ' ']).next().unwrap_or("");
                assert_eq!(
                    name.ends_with("_total"),
                    kind == "counter",
                    "{sample}: _total if and only if a counter"
                );
                if family.starts_with("baton_instance_") {
                    assert!(
                        sample.starts_with(&format!("{name}{{vrrp_instance=")),
                        "{sample}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_witness_lease_is_rendered_when_there_is_one() {
        let mut i = instance("PORTAL", "MASTER");
        i.witness = Some(crate::control::status::WitnessStatus {
            key: "/baton/vrid-51-ipv4".into(),
            lease: LeaseState::Held,
            holder: Some("db1".into()),
            ttl_left_s: Some(1.5),
            endpoint: None,
            error: None,
            waiting: false,
            when_unreachable: crate::control::status::WhenUnreachable::Release,
        });
        let text = render(&status(vec![i, instance("PLAIN", "BACKUP")]), NOW).unwrap();
        for line in [
            "baton_instance_witness_lease{vrrp_instance=\"PORTAL\",lease=\"held\"} 1.0",
            "baton_instance_witness_lease{vrrp_instance=\"PORTAL\",lease=\"unreachable\"} 0.0",
            "baton_instance_witness_lease_remaining_seconds{vrrp_instance=\"PORTAL\"} 1.5",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("witness_lease{vrrp_instance=\"PLAIN\""),
            "no witness, no lease metric"
        );
    }

    #[test]
    fn a_peer_mismatch_is_one_series_per_difference() {
        use crate::control::status::{DifferenceStatus, PeerField, PeerMismatchStatus};
        let mut i = instance("PORTAL", "BACKUP");
        let difference = |field: PeerField| DifferenceStatus {
            field,
            ours: "a".into(),
            theirs: "b".into(),
        };
        i.peer_mismatches.push(PeerMismatchStatus {
            peer: "192.0.2.2".into(),
            since_s: 3.0,
            last_advert_s: 0.2,
            discarded: false,
            differences: vec![
                difference(PeerField::Vips),
                difference(PeerField::AdvertInterval),
            ],
        });
        let text = render(&status(vec![i, instance("PLAIN", "BACKUP")]), NOW).unwrap();
        for line in [
            "# TYPE baton_instance_peer_config_mismatch gauge",
            "baton_instance_peer_config_mismatch{vrrp_instance=\"PORTAL\",peer=\"192.0.2.2\",field=\"vips\"} 1.0",
            "baton_instance_peer_config_mismatch{vrrp_instance=\"PORTAL\",peer=\"192.0.2.2\",field=\"advert_interval\"} 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("peer_config_mismatch{vrrp_instance=\"PLAIN\""));
    }

    #[test]
    fn a_vip_conflict_is_one_series_naming_the_mac() {
        let mut i = instance("PORTAL", "MASTER");
        i.vip_conflicts
            .push(crate::control::status::VipConflictStatus {
                address: "192.0.2.100".into(),
                mac: "02:00:00:00:00:cc".into(),
                since_s: 3,
                last_s: 1,
            });
        let text = render(&status(vec![i]), NOW).unwrap();
        let line = "baton_instance_vip_conflict{vrrp_instance=\"PORTAL\",address=\"192.0.2.100\",mac=\"02:00:00:00:00:cc\"} 1.0";
        assert!(text.lines().any(|l| l == line), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render(&status(vec![instance("A\"B\\C", "BACKUP")]), NOW).unwrap();
        assert!(
            text.contains(r#"baton_instance_priority{vrrp_instance="A\"B\\C"} 140.0"#),
            "{text}"
        );
    }

    #[test]
    fn no_instances_is_still_an_exposition() {
        let text = render(&status(vec![]), NOW).unwrap();
        assert!(text.ends_with("# EOF\n"));
    }

    /// `serve` on a loopback port, with a stand-in for the protocol loop that answers every
    /// snapshot request with `status`; `check` runs against its address.
    fn with_server<F, Fut>(status: DaemonStatus, check: F)
    where
        F: FnOnce(SocketAddr) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let (tx, mut rx) = mpsc::channel::<ControlRequest>(4);
            tokio::task::spawn_local(serve(listener, tx));
            tokio::task::spawn_local(async move {
                while let Some(request) = rx.recv().await {
                    assert_eq!(request.command, Command::Status { instance: None });
                    let value = serde_json::to_value(&status).unwrap();
                    let _ = request
                        .reply
                        .send(crate::control::protocol::Reply::ok(value));
                }
            });
            tokio::time::timeout(Duration::from_secs(20), check(address))
                .await
                .expect("the checks ended in time");
        });
    }

    /// Send `request` as is; what came back (empty if the connection was reset).
    async fn raw(address: SocketAddr, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let _ = stream.write_all(request).await;
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[test]
    fn status_is_served_redacted_to_get_only() {
        use crate::control::redact::tests::{SECRET, planted};
        let planted = planted();
        assert!(serde_json::to_string(&planted).unwrap().contains(SECRET));
        with_server(planted.clone(), |address| async move {
            // What `baton status --pair` reads.
            let peer = crate::control::pair::PeerAddress {
                host: "127.0.0.1".into(),
                port: address.port(),
            };
            let got = crate::control::pair::fetch(&peer).await.expect("a status");
            assert_eq!(got, crate::control::redact::redact(planted.clone()));
            assert_eq!(got.node, "db1");
            assert_eq!(got.version, "0.1.0");
            assert_eq!(got.instances[0].state, VrrpState::Master);

            let text = raw(address, b"GET /status HTTP/1.1\r\nhost: x\r\n\r\n").await;
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
            assert!(text.contains("content-type: application/json"), "{text}");
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains("promote"), "{text}");

            for (request, code) in [
                (
                    "POST /status HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
                    "405",
                ),
                ("HEAD /status HTTP/1.1\r\nhost: x\r\n\r\n", "405"),
                (
                    "PUT /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
                    "405",
                ),
                ("GET /status/x HTTP/1.1\r\nhost: x\r\n\r\n", "404"),
                ("GET / HTTP/1.1\r\nhost: x\r\n\r\n", "404"),
            ] {
                let text = raw(address, request.as_bytes()).await;
                assert!(
                    text.starts_with(&format!("HTTP/1.1 {code} ")),
                    "{request:?}: {text}"
                );
                assert!(!text.contains(SECRET), "{text}");
            }
            let text = raw(address, b"POST /status HTTP/1.1\r\nhost: x\r\n\r\n").await;
            assert!(text.contains("allow: GET\r\n"), "{text}");

            // A request larger than MAX_REQUEST is not served.
            let mut big = b"GET /status HTTP/1.1\r\nhost: x\r\nx-pad: ".to_vec();
            big.extend(std::iter::repeat_n(b'a', 2 * MAX_REQUEST));
            big.extend_from_slice(b"\r\n\r\n");
            let text = raw(address, &big).await;
            assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 431 "),
                "{text}"
            );
        });
    }

    #[test]
    fn a_peer_that_refuses_the_connection_is_an_error_naming_it() {
        // A port just freed: nothing listens there, the connection is refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let peer = crate::control::pair::PeerAddress {
            host: "127.0.0.1".into(),
            port: closed.port(),
        };
        let e = crate::control::pair::fetch_blocking(&peer).unwrap_err();
        assert_eq!(e.address, closed.to_string());
        assert!(
            e.to_string().starts_with(&format!(
                "the peer at {closed} did not answer: cannot connect to {closed}"
            )),
            "{e}"
        );
    }
}
