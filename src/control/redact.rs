//! What `GET /status` may show to anyone who can reach the metrics address: the status
//! of `baton status --json`, less what could carry a secret.
//!
//! The control socket is for the node's operators (0660 root:baton); the HTTP endpoint is
//! for the peer and for monitoring, without authentication. So, before a status goes out
//! over HTTP:
//!
//! - a hook's command line (its arguments may be passwords or tokens), the end of its
//!   stderr, and why it could not start (which names the program) are dropped; its result
//!   in words is rebuilt from what is left (`exit status 1`, `timed out after 5.0s...`);
//! - a track script's last run is cut down the same way, a tracked file's path is dropped;
//! - URLs lose their user part (`https://user:pass@host` becomes `https://host`);
//! - absolute file paths (a TLS key file named in a witness error, say) become `(path)`;
//! - the alarms and faults, which quote all of the above, are rewritten to match.
//!
//! Names, states, priorities, addresses, counters and the alarms' severities stay, so the
//! peer computes the same health from it.

use super::status::{DaemonStatus, HookStatus, InstanceStatus};

/// What replaces a removed command line.
pub const REDACTED: &str = "(redacted)";
/// What replaces a reason a command could not start.
const NOT_STARTED: &str = "could not start (the reason is in the daemon's log)";

/// `status` as it may be shown over HTTP.
pub fn redact(mut status: DaemonStatus) -> DaemonStatus {
    for instance in &mut status.instances {
        redact_instance(instance);
    }
    status.router_id = status.router_id.as_deref().map(scrub);
    status.node = scrub(&status.node);
    status
}

fn redact_instance(i: &mut InstanceStatus) {
    // (what the daemon wrote, what may be shown): applied to the alarms and faults, which
    // quote hook results and track details.
    let mut rewrites: Vec<(String, String)> = Vec::new();
    if let Some(hook) = &mut i.last_hook {
        let before = hook.result.clone();
        redact_hook(hook);
        rewrites.push((before, hook.result.clone()));
    }
    for t in &mut i.tracks {
        let after = match t.kind.as_str() {
            "script" => run_summary(&t.detail),
            "file" => file_summary(&t.detail),
            _ => scrub(&t.detail),
        };
        rewrites.push((std::mem::replace(&mut t.detail, after.clone()), after));
    }
    // Longest first, so a detail that contains another is replaced whole.
    rewrites.retain(|(before, after)| !before.is_empty() && before != after);
    rewrites.sort_by_key(|(before, _)| std::cmp::Reverse(before.len()));
    let rewrite = |text: &str| {
        let mut text = text.to_string();
        for (before, after) in &rewrites {
            text = text.replace(before.as_str(), after);
        }
        scrub(&text)
    };
    for a in &mut i.alarms {
        a.message = rewrite(&a.message);
    }
    for f in &mut i.faults {
        *f = rewrite(f);
    }
    i.reason = rewrite(&i.reason);
    if let Some(w) = &mut i.witness {
        w.endpoint = w.endpoint.as_deref().map(scrub);
        w.error = w.error.as_deref().map(scrub);
        w.holder = w.holder.as_deref().map(scrub);
    }
}

fn redact_hook(hook: &mut HookStatus) {
    let run = &mut hook.run;
    run.command = REDACTED.to_string();
    run.stderr_tail.clear();
    if run.error.is_some() {
        run.error = Some(NOT_STARTED.to_string());
    }
    hook.result = run.describe();
}

/// A track script's last run in words (`RunOutcome::describe`: what happened, then `: ` and
/// the end of its stderr), cut to what happened when that is one of the fixed phrases;
/// otherwise (it could not start: the reason names the program) a fixed phrase.
fn run_summary(detail: &str) -> String {
    let head = detail.split(": ").next().unwrap_or_default();
    let number = |rest: &str| !rest.is_empty() && rest.parse::<i64>().is_ok();
    let known = head == "not run yet"
        || head == "ended"
        || head.strip_prefix("exit status ").is_some_and(number)
        || head.strip_prefix("killed by signal ").is_some_and(number)
        || (head.starts_with("timed out after ")
            && head.ends_with("s; its process group was killed"));
    if known {
        head.to_string()
    } else {
        NOT_STARTED.to_string()
    }
}

/// A tracked file's detail (`PATH: value N` or `PATH: why it could not be read`) without
/// its path.
fn file_summary(detail: &str) -> String {
    match detail.split_once(": ") {
        Some((_, rest)) if rest.starts_with("value ") => scrub(rest),
        Some(_) => "cannot be read (the reason is in the daemon's log)".to_string(),
        None => scrub(detail),
    }
}

/// `text` with the user part of every URL removed and every absolute path replaced by
/// `(path)`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // URLs: `scheme://user[:password]@host...` -> `scheme://host...`.
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | ')'))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(user) => out.push_str(&authority[user + 1..]),
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    paths(&out)
}

/// Absolute paths (a `/` at the start of the text or after a space, `(`, `=`, `'`, `"`)
/// replaced by `(path)`, up to the next space, quote, `)`, `,`, `;` or `: `.
fn paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        let starts = c == '/'
            && previous.is_none_or(|p| p.is_whitespace() || matches!(p, '(' | '=' | '\'' | '"'));
        if !starts {
            out.push(c);
            previous = Some(c);
            continue;
        }
        // Skip to the end of the path.
        let tail = &text[at..];
        let end = tail
            .char_indices()
            .find(|&(i, ch)| {
                ch.is_whitespace()
                    || matches!(ch, '"' | '\'' | ')' | ',' | ';')
                    || (ch == ':' && tail[i + 1..].starts_with(' '))
                    || (ch == ':' && i + 1 == tail.len())
            })
            .map_or(tail.len(), |(i, _)| i);
        out.push_str("(path)");
        while chars.peek().is_some_and(|&(i, _)| i < at + end) {
            chars.next();
        }
        previous = Some(')');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::control::status::{
        Alarm, Counters, Health, RunOutcome, TrackEffect, TrackStatus, WitnessStatus,
    };
    use std::collections::BTreeMap;

    pub(crate) const SECRET: &str = "hunter2-s3cret";

    fn instance() -> InstanceStatus {
        InstanceStatus {
            name: "PORTAL".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 3,
            family: crate::control::status::Family::IPv4,
            state: crate::control::status::VrrpState::Master,
            since_s: 1.0,
            reason: "master_down".into(),
            reason_kind: "master_down".into(),
            base_priority: 150,
            priority: 150,
            fallback: "automatic".into(),
            locked: false,
            master: None,
            vips: vec![],
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
            alarms: vec![],
        }
    }

    fn status(i: InstanceStatus) -> DaemonStatus {
        DaemonStatus {
            version: "0.1.0".into(),
            node: "db1".into(),
            router_id: Some("db1".into()),
            pid: 1,
            uptime_s: 1.0,
            instances: vec![i],
            dropped: BTreeMap::new(),
        }
    }

    /// A status with the secret in every place the daemon may put one.
    pub(crate) fn planted() -> DaemonStatus {
        let mut i = instance();
        let run = RunOutcome {
            command: format!("/usr/local/bin/promote --password={SECRET}"),
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            error: None,
            duration_s: 0.2,
            stderr_tail: format!("psql: password {SECRET} refused"),
        };
        let result = run.describe();
        i.alarms.push(Alarm {
            severity: Health::Warning,
            message: format!("hook failed: notify_master for MASTER (PORTAL): {result}"),
        });
        i.last_hook = Some(HookStatus {
            owner: "PORTAL".into(),
            hook: "notify_master".into(),
            state: "MASTER".into(),
            ok: false,
            run,
            age_s: 1.0,
            result,
        });
        let script = format!("exit status 2: token={SECRET}");
        let unstartable = format!("cannot run /opt/{SECRET}/check: permission denied");
        i.tracks = vec![
            TrackStatus {
                kind: "script".into(),
                name: "chk_pg".into(),
                up: false,
                effect: TrackEffect::Priority(-20),
                detail: script.clone(),
            },
            TrackStatus {
                kind: "script".into(),
                name: "chk_other".into(),
                up: false,
                effect: TrackEffect::Fault,
                detail: unstartable.clone(),
            },
            TrackStatus {
                kind: "file".into(),
                name: "weight".into(),
                up: true,
                effect: TrackEffect::Priority(0),
                detail: format!("/etc/{SECRET}/weight: value 0"),
            },
        ];
        i.faults = vec![format!("script chk_other is down ({unstartable})")];
        i.alarms.push(Alarm {
            severity: Health::Warning,
            message: format!("tracking failed: script chk_pg ({script}), priority -20"),
        });
        i.witness = Some(WitnessStatus {
            key: "/baton/vrid-51-ipv4".into(),
            lease: crate::control::status::LeaseState::Unreachable,
            holder: None,
            ttl_left_s: None,
            endpoint: Some(format!("https://root:{SECRET}@192.0.2.10:2379")),
            error: Some(format!(
                "/etc/baton/{SECRET}.key: no private key: https://u:{SECRET}@192.0.2.11:2379/v3"
            )),
            waiting: false,
            when_unreachable: crate::control::status::WhenUnreachable::Release,
        });
        i.alarms.push(Alarm {
            severity: Health::Critical,
            message: format!("witness unreachable (https://root:{SECRET}@192.0.2.10:2379)"),
        });
        status(i)
    }

    #[test]
    fn no_secret_survives_and_the_health_is_the_same() {
        let before = planted();
        let text = serde_json::to_string(&before).unwrap();
        assert!(text.contains(SECRET), "the secret is planted: {text}");
        let after = redact(before.clone());
        let text = serde_json::to_string(&after).unwrap();
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("/usr/local/bin/promote"), "{text}");
        assert_eq!(
            crate::control::status::health(&after),
            crate::control::status::health(&before)
        );
        let i = &after.instances[0];
        let hook = i.last_hook.as_ref().unwrap();
        assert_eq!(hook.run.command, REDACTED);
        assert_eq!(hook.result, "exit status 1");
        assert_eq!(
            i.alarms[0].message,
            "hook failed: notify_master for MASTER (PORTAL): exit status 1"
        );
        assert_eq!(i.tracks[0].detail, "exit status 2");
        assert_eq!(i.tracks[1].detail, NOT_STARTED);
        assert_eq!(i.tracks[2].detail, "value 0");
        assert_eq!(
            i.alarms[1].message,
            "tracking failed: script chk_pg (exit status 2), priority -20"
        );
        assert_eq!(
            i.faults[0],
            format!("script chk_other is down ({NOT_STARTED})")
        );
        let w = i.witness.as_ref().unwrap();
        assert_eq!(w.endpoint.as_deref(), Some("https://192.0.2.10:2379"));
        assert_eq!(
            w.error.as_deref(),
            Some("(path): no private key: https://192.0.2.11:2379/v3")
        );
        assert_eq!(
            w.key, "/baton/vrid-51-ipv4",
            "the key is a name, not a file"
        );
        assert_eq!(
            i.alarms[2].message,
            "witness unreachable (https://192.0.2.10:2379)"
        );
    }

    #[test]
    fn plain_words_and_addresses_are_kept() {
        for text in [
            "no master seen for 10.0s (last: 192.0.2.2)",
            "VIP missing: 192.0.2.100/24 is not on the interface",
            "VIP missing: 2001:db8::100/64 is not on the interface",
            "split brain suspected: another master was heard 1.0s ago",
        ] {
            assert_eq!(scrub(text), text);
        }
        assert_eq!(scrub("/a/b"), "(path)");
        assert_eq!(scrub("x (/a/b) y"), "x ((path)) y");
        assert_eq!(
            scrub("http://u@h:1 and ftp://a:b@c/d"),
            "http://h:1 and ftp://c/d"
        );
    }

    #[test]
    fn run_summaries_keep_only_fixed_phrases() {
        assert_eq!(run_summary("exit status 0"), "exit status 0");
        assert_eq!(run_summary("killed by signal 9: x"), "killed by signal 9");
        assert_eq!(
            run_summary("timed out after 5.0s; its process group was killed: y"),
            "timed out after 5.0s; its process group was killed"
        );
        assert_eq!(run_summary("not run yet"), "not run yet");
        assert_eq!(run_summary("exit status secret"), NOT_STARTED);
        assert_eq!(run_summary("No such file or directory"), NOT_STARTED);
    }
}
