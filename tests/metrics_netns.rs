//! `metrics_listen`: Prometheus metrics served by a real daemon in a namespace, scraped by
//! the client node with curl, before and after a handover.

mod daemon;
mod lab;

use daemon::{Cluster, Instance};
use lab::{IFNAME, require_root};

const VIP: &str = "192.0.2.100/24";
const SERVERS: [&str; 2] = ["a", "b"];
const METRICS: &str = "192.0.2.1:9650";

/// `curl -sS --max-time 10 ARGS` from the client node; its standard output.
fn curl(c: &Cluster, args: &[&str]) -> String {
    let mut cmd = vec!["curl", "-sS", "--max-time", "10"];
    cmd.extend_from_slice(args);
    String::from_utf8_lossy(&c.lab.exec("c", &cmd).stdout).into_owned()
}

/// GET `path` from the metrics address: the response head and body.
fn scrape(c: &Cluster, path: &str) -> (String, String) {
    let text = curl(
        c,
        &["-D", "-", "-o", "-", &format!("http://{METRICS}{path}")],
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

fn has(body: &str, line: &str) -> bool {
    body.lines().any(|l| l == line)
}

/// The value of the sample `series` (name and labels as written) in `body`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64()
}

/// `promtool check metrics` on `body`, when promtool is installed (Debian's `prometheus`
/// package): the Prometheus linter (names, units, `_total`, help) finds nothing. promtool
/// (2.42) reads the Prometheus text format, where a counter's HELP and TYPE name the
/// sample (`x_total`), not the OpenMetrics family (`x`): those two lines are renamed so,
/// as Prometheus does when it ingests OpenMetrics.
fn promtool_agrees(body: &str) {
    let counters: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let text: String = body
        .lines()
        .map(|l| {
            for c in &counters {
                for head in ["# HELP ", "# TYPE "] {
                    if let Some(rest) = l.strip_prefix(&format!("{head}{c} ")) {
                        return format!("{head}{c}_total {rest}\n");
                    }
                }
            }
            format!("{l}\n")
        })
        .collect();
    let body = text.as_str();
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed: the lint is skipped");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_follow_the_state_and_counters_through_a_handover() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "metrics",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    let global = format!("global_defs {{\n    metrics_listen {METRICS}\n}}\n");
    let a = format!("{global}{}", Instance::fast(150, VIP).render());
    c.start("a", &a);
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");

    let (head, body) = scrape(&c, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    for line in [
        "baton_instance_state{vrrp_instance=\"VI_1\",state=\"MASTER\"} 1.0",
        "baton_instance_state{vrrp_instance=\"VI_1\",state=\"BACKUP\"} 0.0",
        "baton_instance_priority{vrrp_instance=\"VI_1\"} 150.0",
        "baton_instance_became_master_total{vrrp_instance=\"VI_1\"} 1",
        "baton_instance_vip_present{vrrp_instance=\"VI_1\",address=\"192.0.2.100/24\"} 1.0",
        "# EOF",
    ] {
        assert!(has(&body, line), "missing {line:?} in\n{body}");
    }
    assert!(
        body.lines().any(|l| l
            .starts_with("baton_instance_adverts_sent_total{vrrp_instance=\"VI_1\"} ")
            && !l.ends_with(" 0")),
        "{body}"
    );
    // What a dashboard joins on, and the times as timestamps (not ages).
    let version = env!("CARGO_PKG_VERSION");
    let info = format!(
        "baton_instance_info{{vrrp_instance=\"VI_1\",interface=\"{IFNAME}\",vrid=\"51\",vrrp_version=\"3\",family=\"IPv4\"}} 1.0"
    );
    for line in [
        format!("baton_build_info{{version=\"{version}\"}} 1.0"),
        info,
    ] {
        assert!(has(&body, &line), "missing {line:?} in\n{body}");
    }
    let now = unix_now();
    let started = sample(&body, "process_start_time_seconds").expect("the start time");
    assert!(started <= now && started > now - 120.0, "{started} {now}");
    let transition = "baton_instance_last_transition_timestamp_seconds{vrrp_instance=\"VI_1\"}";
    let became_master = sample(&body, transition).expect("the transition time");
    assert!(
        became_master >= started - 1.0 && became_master <= now,
        "{became_master} {started} {now}"
    );
    promtool_agrees(&body);

    // Scrapes and status requests at once: each lists addresses over a socket of its own,
    // so none is refused by the kernel (EBUSY) and reports the VIP missing.
    std::thread::scope(|scope| {
        let scrapes: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| scrape(&c, "/metrics")))
            .collect();
        let statuses: Vec<_> = (0..6).map(|_| scope.spawn(|| c.status("a"))).collect();
        for s in scrapes {
            let (head, body) = s.join().expect("scrape");
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(
                has(
                    &body,
                    "baton_instance_vip_present{vrrp_instance=\"VI_1\",address=\"192.0.2.100/24\"} 1.0"
                ),
                "{body}"
            );
        }
        for s in statuses {
            let (status, code) = s.join().expect("status");
            assert_eq!(code, 0, "{status}");
            assert_eq!(
                status["instances"][0]["vips"][0]["present"], true,
                "{status}"
            );
        }
    });

    // The operator hands over: the metrics say so.
    let out = c.baton("a", &["resign", "--hold", "30"]);
    assert!(out.status.success(), "{out:?}");
    c.expect_holders(&SERVERS, VIP, &["b"]);
    let (_, body) = scrape(&c, "/metrics");
    for line in [
        "baton_instance_state{vrrp_instance=\"VI_1\",state=\"MASTER\"} 0.0",
        "baton_instance_state{vrrp_instance=\"VI_1\",state=\"BACKUP\"} 1.0",
        "baton_instance_released_master_total{vrrp_instance=\"VI_1\"} 1",
        "baton_instance_vip_present{vrrp_instance=\"VI_1\",address=\"192.0.2.100/24\"} 0.0",
    ] {
        assert!(has(&body, line), "missing {line:?} in\n{body}");
    }
    // A backup now: it entered BACKUP after it became master, and hears b's adverts.
    let now = unix_now();
    let became_backup = sample(&body, transition).expect("the transition time");
    assert!(
        became_backup > became_master && became_backup <= now,
        "{became_backup} {became_master} {now}"
    );
    let heard = sample(
        &body,
        "baton_instance_master_last_advert_timestamp_seconds{vrrp_instance=\"VI_1\"}",
    )
    .expect("the master's last advert");
    assert!(heard > now - 2.0 && heard <= now, "{heard} {now}\n{body}");
    promtool_agrees(&body);

    // Only /metrics, only reads.
    let (head, _) = scrape(&c, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let url = format!("http://{METRICS}/metrics");
    let code = curl(
        &c,
        &["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", &url],
    );
    assert_eq!(code, "405");
    // A client that connects and says nothing holds up neither scrapes nor adverts.
    let idle = c.lab.spawn(
        "c",
        &["bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/9650; sleep 30"],
    );
    let (head, _) = scrape(&c, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(idle);
    c.expect_stable(&SERVERS, VIP, &["b"], std::time::Duration::from_secs(1));
}

#[test]
fn a_metrics_address_that_cannot_be_bound_leaves_vrrp_running() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "metricsbad",
        &[("a", &["192.0.2.1/24"]), ("b", &["192.0.2.2/24"])],
    );
    // 198.51.100.1 is not on any interface of a: the bind fails.
    let a = format!(
        "global_defs {{\n    metrics_listen 198.51.100.1:9650\n}}\n{}",
        Instance::fast(150, VIP).render()
    );
    c.start("a", &a);
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    let log = c.log("a");
    assert!(
        log.contains("metrics: cannot listen on 198.51.100.1:9650"),
        "{log}"
    );
}

/// A reload moves the listener without a restart: started where there was none, moved to
/// another port (the old one refused from then on), kept when the new address cannot be
/// bound (the reload says why), stopped when the line goes; no transition at any step.
#[test]
fn a_reload_starts_moves_and_stops_the_metrics_listener() {
    if !require_root() {
        return;
    }
    let mut c = Cluster::new(
        "metricsreload",
        &[
            ("a", &["192.0.2.1/24"]),
            ("b", &["192.0.2.2/24"]),
            ("c", &["192.0.2.3/24"]),
        ],
    );
    let with = |listen: Option<&str>| {
        let global = listen.map_or(String::new(), |l| {
            format!("global_defs {{\n    metrics_listen {l}\n}}\n")
        });
        format!("{global}{}", Instance::fast(150, VIP).render())
    };
    c.start("a", &with(None));
    c.start("b", &Instance::fast(100, VIP).render());
    c.expect_holders(&SERVERS, VIP, &["a"]);
    c.wait_for_socket("a");
    let code = |url: &str| curl(&c, &["-o", "/dev/null", "-w", "%{http_code}", url]);
    let first = "http://192.0.2.1:9650/status";
    let second = "http://192.0.2.1:9651/status";
    assert_eq!(code(first), "000", "served before any metrics_listen");
    let transitions = c.transitions("a").len();
    let reload = |c: &Cluster, listen: Option<&str>| {
        c.rewrite("a", &with(listen));
        let out = c.baton("a", &["reconfigure"]);
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    reload(&c, Some("192.0.2.1:9650"));
    assert_eq!(code(first), "200", "{}", c.log("a"));
    reload(&c, Some("192.0.2.1:9651"));
    assert_eq!(code(second), "200", "{}", c.log("a"));
    assert_eq!(code(first), "000", "the old port still served");
    // 198.51.100.1 is not on any interface of a: refused, and the old one kept.
    let said = reload(&c, Some("198.51.100.1:9650"));
    assert!(said.contains("metrics_listen"), "{said}");
    assert!(
        said.contains("cannot listen on 198.51.100.1:9650"),
        "{said}"
    );
    assert_eq!(code(second), "200", "the running listener was lost");
    reload(&c, None);
    assert_eq!(code(second), "000", "still served after the line went");
    assert_eq!(
        c.transitions("a").len(),
        transitions,
        "a reload made a transition"
    );
    c.expect_holders(&SERVERS, VIP, &["a"]);
}
