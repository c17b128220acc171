//! `vrrp_script` and `track_file` blocks.

use super::values::{self, extra_args, flag, int_in, one_arg, run_as};
use super::{Ctx, Named, Seen, keywords};
use crate::config::model::{Command, RunAs, TrackFile, TrackFileInit, TrackScript};
use crate::config::parse::Item;
use crate::config::source::Spanned;

/// Reads every `vrrp_script` block.
pub fn build_scripts(cx: &mut Ctx, items: &[Item]) -> Named<TrackScript> {
    let mut named = Named::default();
    for item in items.iter().filter(|i| i.keyword.value == "vrrp_script") {
        let Some(name) = cx.name(item) else { continue };
        let Some(children) = cx.block(item, "script /path/to/check") else {
            continue;
        };
        if duplicate(cx, &named, name, "vrrp_script") {
            continue;
        }
        match script(cx, name, children) {
            Some(s) => {
                named.valid.insert(name.value.clone(), s);
            }
            None => {
                named.dropped.insert(name.value.clone());
            }
        }
    }
    named
}

fn duplicate<T>(cx: &mut Ctx, named: &Named<T>, name: &Spanned<String>, what: &str) -> bool {
    let dup = named.valid.contains_key(&name.value) || named.dropped.contains(&name.value);
    if dup {
        cx.error(
            name.span,
            format!("{what} `{}` is defined twice", name.value),
            Some("give each one its own name".to_string()),
        );
    }
    dup
}

#[derive(Default)]
struct ScriptDraft {
    command: Option<Command>,
    interval_ms: Option<u64>,
    timeout_ms: Option<u64>,
    weight: i32,
    reverse: bool,
    rise: Option<u32>,
    fall: Option<u32>,
    run_as: Option<RunAs>,
    init_fail: bool,
}

fn script(cx: &mut Ctx, name: &Spanned<String>, items: &[Item]) -> Option<TrackScript> {
    let mut d = ScriptDraft::default();
    let mut seen = Seen::default();
    for item in items {
        script_item(cx, &mut d, &mut seen, item);
    }
    let Some(command) = d.command else {
        cx.warning(
            name.span,
            format!(
                "vrrp_script `{}` has no `script` line; it is ignored",
                name.value
            ),
            Some("add `script /path/to/check`".to_string()),
        );
        return None;
    };
    let interval_ms = d.interval_ms.unwrap_or(1000);
    Some(TrackScript {
        command,
        interval_ms,
        timeout_ms: d.timeout_ms.unwrap_or(interval_ms),
        weight: d.weight,
        reverse: d.reverse,
        rise: d.rise.unwrap_or(1),
        fall: d.fall.unwrap_or(1),
        run_as: d.run_as,
        init_fail: d.init_fail,
    })
}

fn script_item(cx: &mut Ctx, d: &mut ScriptDraft, seen: &mut Seen, item: &Item) {
    let kw = item.keyword.value.as_str();
    if keywords::SCRIPT.contains(&kw) {
        seen.check(cx, item);
        cx.no_block(item);
    }
    match kw {
        "script" => {
            let Some(first) = values::one_arg_keep_rest(cx, item, "/path/to/check") else {
                return;
            };
            if let Some(mut c) = values::command(cx, kw, first) {
                c.args
                    .extend(item.args[1..].iter().map(|a| a.value.clone()));
                d.command = Some(c);
            }
        }
        "interval" => d.interval_ms = positive_seconds(cx, item),
        "timeout" => d.timeout_ms = positive_seconds(cx, item),
        "weight" => {
            if let Some((w, rev)) = weight(cx, item, 253) {
                d.weight = w as i32;
                d.reverse = rev.unwrap_or(false);
            }
        }
        "rise" => d.rise = values::int_arg(cx, item, 1, 1_000_000).map(|v| v as u32),
        "fall" => d.fall = values::int_arg(cx, item, 1, 1_000_000).map(|v| v as u32),
        "user" => {
            d.run_as = run_as(&item.args);
            if d.run_as.is_none() {
                one_arg(cx, item, "nobody");
            }
            extra_args(cx, item, 2);
        }
        "init_fail" => d.init_fail = flag(cx, item),
        _ => cx.unknown(item, "vrrp_script", keywords::SCRIPT),
    }
}

/// Seconds (ms resolution), more than 0 and at most a day.
fn positive_seconds(cx: &mut Ctx, item: &Item) -> Option<u64> {
    let ms = values::millis_arg(cx, item, 86_400)?;
    if ms == 0 {
        cx.error(
            item.args[0].span,
            format!("{} must be more than 0 seconds", item.keyword.value),
            Some("expected seconds like 1 or 0.5".to_string()),
        );
        return None;
    }
    Some(ms)
}

/// `weight N [reverse|noreverse|no_reverse]` with |N| <= `max`, as in a `vrrp_script` or a
/// `track_*` line. The second value is the reverse flag if given.
pub fn weight(cx: &mut Ctx, item: &Item, max: i64) -> Option<(i64, Option<bool>)> {
    let arg = one_arg_or_reverse(cx, item)?;
    let w = int_in(cx, "weight", arg, -max, max)?;
    Some((w, reverse_flag(cx, &item.args[1..], &item.keyword.value)))
}

fn one_arg_or_reverse<'a>(cx: &mut Ctx, item: &'a Item) -> Option<&'a Spanned<String>> {
    values::one_arg_keep_rest(cx, item, "-10")
}

/// Reads an optional `reverse`/`noreverse`/`no_reverse` from `args` (warns about the rest).
pub fn reverse_flag(cx: &mut Ctx, args: &[Spanned<String>], kw: &str) -> Option<bool> {
    let first = args.first()?;
    if let Some(extra) = args.get(1) {
        cx.warning(
            extra.span,
            format!("unexpected argument `{}` to `{kw}`; ignored", extra.value),
            None,
        );
    }
    match first.value.as_str() {
        "reverse" => Some(true),
        "noreverse" | "no_reverse" => Some(false),
        other => {
            cx.warning(
                first.span,
                format!("unexpected argument `{other}` to `{kw}`; ignored"),
                Some("expected `reverse` or `noreverse`".to_string()),
            );
            None
        }
    }
}

/// Reads every `track_file` / `vrrp_track_file` block.
pub fn build_track_files(cx: &mut Ctx, items: &[Item]) -> Named<TrackFile> {
    let mut named = Named::default();
    let blocks = items
        .iter()
        .filter(|i| matches!(i.keyword.value.as_str(), "track_file" | "vrrp_track_file"));
    for item in blocks {
        let Some(name) = cx.name(item) else { continue };
        let Some(children) = cx.block(item, "file /run/baton/weight") else {
            continue;
        };
        if duplicate(cx, &named, name, "track_file") {
            continue;
        }
        match track_file(cx, name, children) {
            Some(f) => {
                named.valid.insert(name.value.clone(), f);
            }
            None => {
                named.dropped.insert(name.value.clone());
            }
        }
    }
    named
}

fn track_file(cx: &mut Ctx, name: &Spanned<String>, items: &[Item]) -> Option<TrackFile> {
    let mut path = None;
    let mut weight_value = 1;
    let mut reverse = false;
    let mut init = None;
    let mut seen = Seen::default();
    for item in items {
        let kw = item.keyword.value.as_str();
        if keywords::TRACK_FILE.contains(&kw) {
            seen.check(cx, item);
            cx.no_block(item);
        }
        match kw {
            "file" => path = one_arg(cx, item, "/run/baton/weight").map(|a| a.value.clone()),
            "weight" => {
                if let Some((w, rev)) = weight(cx, item, 2_147_483_647) {
                    weight_value = w;
                    reverse = rev.unwrap_or(false);
                }
            }
            "init_file" => init = init_file(cx, item),
            _ => cx.unknown(item, "track_file", keywords::TRACK_FILE),
        }
    }
    let Some(path) = path else {
        cx.warning(
            name.span,
            format!(
                "track_file `{}` has no `file` line; it is ignored",
                name.value
            ),
            Some("add `file /path/to/file`".to_string()),
        );
        return None;
    };
    Some(TrackFile {
        path,
        weight: weight_value,
        reverse,
        init,
    })
}

fn init_file(cx: &mut Ctx, item: &Item) -> Option<TrackFileInit> {
    let mut init = TrackFileInit {
        value: 0,
        overwrite: false,
    };
    for arg in &item.args {
        if arg.value == "overwrite" {
            init.overwrite = true;
        } else {
            init.value = int_in(cx, "init_file", arg, -2_147_483_648, 2_147_483_647)?;
        }
    }
    Some(init)
}
