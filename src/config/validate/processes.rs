//! `vrrp_track_process` blocks (keepalived's syntax and defaults: keepalived.conf(5),
//! "vrrp_track_process"; its parser's handlers for each keyword).

use super::scripts::weight;
use super::values::{extra_args, int_in, one_arg, seconds_in};
use super::{Ctx, Named, Seen, keywords};
use crate::config::model::{ParamMatch, TrackProcess};
use crate::config::parse::Item;
use crate::config::source::Spanned;

/// Delays: 0.000001 to 3600 s, kept in milliseconds (rounded up: a delay asked for is
/// never dropped to 0).
const MAX_DELAY_US: u64 = 3600 * 1_000_000;

pub fn build(cx: &mut Ctx, items: &[Item]) -> Named<TrackProcess> {
    let mut named = Named::default();
    for item in items
        .iter()
        .filter(|i| i.keyword.value == "vrrp_track_process")
    {
        let Some(name) = cx.name(item) else { continue };
        let Some(children) = cx.block(item, "process haproxy") else {
            continue;
        };
        if named.valid.contains_key(&name.value) || named.dropped.contains(&name.value) {
            cx.error(
                name.span,
                format!("vrrp_track_process `{}` is defined twice", name.value),
                Some("give each one its own name".to_string()),
            );
            continue;
        }
        match track_process(cx, name, children) {
            Some(p) => {
                named.valid.insert(name.value.clone(), p);
            }
            None => {
                named.dropped.insert(name.value.clone());
            }
        }
    }
    named
}

#[derive(Default)]
struct Draft {
    process: Option<(String, Vec<String>)>,
    param_match: Option<ParamMatch>,
    full_command: bool,
    weight: i32,
    reverse: bool,
    quorum: Option<(u32, Spanned<String>)>,
    quorum_max: Option<(u32, Spanned<String>)>,
    fork_delay_ms: u64,
    terminate_delay_ms: u64,
}

fn track_process(cx: &mut Ctx, name: &Spanned<String>, items: &[Item]) -> Option<TrackProcess> {
    let mut d = Draft::default();
    let mut seen = Seen::default();
    for item in items {
        let kw = item.keyword.value.as_str();
        if keywords::TRACK_PROCESS.contains(&kw) {
            seen.check(cx, item);
            cx.no_block(item);
        }
        match kw {
            "process" => d.process = process(cx, item),
            "param_match" => d.param_match = param_match(cx, item),
            "full_command" => {
                extra_args(cx, item, 0);
                d.full_command = true;
            }
            "weight" => {
                if let Some((w, rev)) = weight(cx, item, 254) {
                    d.weight = w as i32;
                    d.reverse = rev.unwrap_or(false);
                }
            }
            "quorum" => d.quorum = count(cx, item, 1).map(|n| (n, item.args[0].clone())),
            "quorum_max" => d.quorum_max = count(cx, item, 0).map(|n| (n, item.args[0].clone())),
            "fork_delay" => d.fork_delay_ms = delay(cx, item).unwrap_or(0),
            "terminate_delay" => d.terminate_delay_ms = delay(cx, item).unwrap_or(0),
            "delay" => {
                let ms = delay(cx, item).unwrap_or(0);
                d.fork_delay_ms = ms;
                d.terminate_delay_ms = ms;
            }
            _ => cx.unknown(item, "vrrp_track_process", keywords::TRACK_PROCESS),
        }
    }
    finish(cx, name, d)
}

fn finish(cx: &mut Ctx, name: &Spanned<String>, d: Draft) -> Option<TrackProcess> {
    let Some((process, params)) = d.process else {
        cx.error(
            name.span,
            format!("vrrp_track_process `{}` has no `process` line", name.value),
            Some("add `process NAME`, the process's name as ps -o comm shows it".to_string()),
        );
        return None;
    };
    // keepalived: parameters, or `param_match`, compare the command line.
    let param_match = match (d.param_match, params.is_empty()) {
        (Some(m), _) => m,
        (None, false) => ParamMatch::Exact,
        (None, true) => ParamMatch::None,
    };
    let full_command = d.full_command || param_match != ParamMatch::None;
    // keepalived: quorum_max 0 alone means "none may run" (quorum 0); otherwise the
    // quorum is at least 1 and at most quorum_max.
    let quorum_max = d.quorum_max.as_ref().map_or(u32::MAX, |(n, _)| *n);
    let quorum = match (&d.quorum, &d.quorum_max) {
        (Some((q, _)), _) => *q,
        (None, Some((0, _))) => 0,
        (None, _) => 1,
    };
    if quorum > quorum_max {
        let span = d.quorum_max.as_ref().map_or(name.span, |(_, s)| s.span);
        cx.error(
            span,
            format!(
                "vrrp_track_process `{}`: quorum_max {quorum_max} is below quorum {quorum}",
                name.value
            ),
            Some("quorum is the fewest processes that must run, quorum_max the most".to_string()),
        );
        return None;
    }
    Some(TrackProcess {
        name: process,
        params,
        param_match,
        full_command,
        weight: d.weight,
        reverse: d.reverse,
        quorum,
        quorum_max,
        fork_delay_ms: d.fork_delay_ms,
        terminate_delay_ms: d.terminate_delay_ms,
    })
}

/// `process NAME [PARAM...]`.
fn process(cx: &mut Ctx, item: &Item) -> Option<(String, Vec<String>)> {
    let Some((first, rest)) = item.args.split_first() else {
        cx.error(
            item.keyword.span,
            "`process` needs the process's name",
            Some(
                "e.g. `process haproxy`, or `process /usr/sbin/haproxy -f /etc/haproxy.cfg`"
                    .to_string(),
            ),
        );
        return None;
    };
    if first.value.is_empty() || first.value.contains('\0') {
        cx.error(first.span, "the process name must not be empty", None);
        return None;
    }
    Some((
        first.value.clone(),
        rest.iter().map(|a| a.value.clone()).collect(),
    ))
}

/// `param_match [initial|partial]` (alone: exact).
fn param_match(cx: &mut Ctx, item: &Item) -> Option<ParamMatch> {
    let Some(arg) = item.args.first() else {
        return Some(ParamMatch::Exact);
    };
    extra_args(cx, item, 1);
    match arg.value.as_str() {
        "initial" => Some(ParamMatch::Initial),
        "partial" => Some(ParamMatch::Partial),
        other => {
            cx.error(
                arg.span,
                format!("param_match must be `initial` or `partial`, found `{other}`"),
                Some("or `param_match` alone for the exact parameters".to_string()),
            );
            None
        }
    }
}

/// `quorum N` (1..=65535) / `quorum_max N` (0..=65535).
fn count(cx: &mut Ctx, item: &Item, lo: i64) -> Option<u32> {
    let arg = one_arg(cx, item, "1")?;
    int_in(cx, &item.keyword.value, arg, lo, 65535).map(|n| n as u32)
}

/// `fork_delay`/`terminate_delay`/`delay SECONDS`, in milliseconds.
fn delay(cx: &mut Ctx, item: &Item) -> Option<u64> {
    let arg = one_arg(cx, item, "0.5")?;
    let us = seconds_in(cx, &item.keyword.value, arg, 6, MAX_DELAY_US)?;
    if us == 0 {
        cx.error(
            arg.span,
            format!("{} must be more than 0 seconds", item.keyword.value),
            Some("leave it out for no delay".to_string()),
        );
        return None;
    }
    Some(us.div_ceil(1000))
}
