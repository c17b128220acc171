//! `track_interface`, `track_script`, `track_file`, `track_process` blocks and notify keywords, shared by
//! `vrrp_instance` and `vrrp_sync_group`.

use super::scripts::reverse_flag;
use super::values::{hook, int_in};
use super::{Ctx, Refs};
use crate::config::model::{Notify, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript};
use crate::config::parse::Item;

/// `NAME [weight N] [reverse|noreverse]`: the weight (|N| <= `max`) and reverse flag.
fn track_line(cx: &mut Ctx, item: &Item, max: i64) -> (Option<i64>, Option<bool>) {
    cx.no_block(item);
    let args = &item.args;
    match args.first().map(|a| a.value.as_str()) {
        None => (None, None),
        Some("weight") => {
            let Some(value) = args.get(1) else {
                cx.error(
                    args[0].span,
                    "`weight` needs a value",
                    Some(format!("expected a number from -{max} to {max}")),
                );
                return (None, None);
            };
            let weight = int_in(cx, "weight", value, -max, max);
            (weight, reverse_flag(cx, &args[2..], &item.keyword.value))
        }
        Some(_) => (None, reverse_flag(cx, args, &item.keyword.value)),
    }
}

pub fn interfaces(cx: &mut Ctx, items: &[Item]) -> Vec<TrackedInterface> {
    items
        .iter()
        .map(|item| {
            let (weight, reverse) = track_line(cx, item, 253);
            TrackedInterface {
                name: item.keyword.value.clone(),
                weight: weight.unwrap_or(0) as i32,
                reverse: reverse.unwrap_or(false),
            }
        })
        .collect()
}

pub fn scripts(cx: &mut Ctx, items: &[Item], refs: &Refs) -> Vec<TrackedScript> {
    let mut out = Vec::new();
    for item in items {
        let (weight, reverse) = track_line(cx, item, 253);
        if refs.check(cx, "track_script", &item.keyword) {
            out.push(TrackedScript {
                name: item.keyword.value.clone(),
                weight: weight.map(|w| w as i32),
                reverse,
            });
        }
    }
    out
}

pub fn files(cx: &mut Ctx, items: &[Item], refs: &Refs) -> Vec<TrackedFile> {
    let mut out = Vec::new();
    for item in items {
        let (weight, reverse) = track_line(cx, item, 254);
        if refs.check(cx, "track_file", &item.keyword) {
            out.push(TrackedFile {
                name: item.keyword.value.clone(),
                weight,
                reverse,
            });
        }
    }
    out
}

pub fn processes(cx: &mut Ctx, items: &[Item], refs: &Refs) -> Vec<TrackedProcess> {
    let mut out = Vec::new();
    for item in items {
        let (weight, reverse) = track_line(cx, item, 254);
        if refs.check(cx, "track_process", &item.keyword) {
            out.push(TrackedProcess {
                name: item.keyword.value.clone(),
                weight: weight.map(|w| w as i32),
                reverse,
            });
        }
    }
    out
}

/// Reads a `notify*` keyword into `notify`; `false` if `item` is not one.
pub fn notify(cx: &mut Ctx, notify: &mut Notify, item: &Item, instance: bool) -> bool {
    let slot = match item.keyword.value.as_str() {
        "notify" => &mut notify.any,
        "notify_master" => &mut notify.master,
        "notify_backup" => &mut notify.backup,
        "notify_fault" => &mut notify.fault,
        "notify_stop" => &mut notify.stop,
        "notify_master_rx_lower_pri" if instance => &mut notify.master_rx_lower_pri,
        _ => return false,
    };
    *slot = hook(cx, item);
    true
}
