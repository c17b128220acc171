//! `global_defs`.

use super::values::{self, bool_opt, flag, int_arg, ip_arg, one_arg, run_as};
use super::{Ctx, Seen, keywords};
use crate::config::model::{Fifo, Garp, Global, Hook, Version};
use crate::config::parse::Item;
use std::net::IpAddr;

/// GARP settings as written (instance or global); `None` = not set.
#[derive(Clone, Copy, Debug, Default)]
pub struct GarpOverrides {
    pub master_delay: Option<u32>,
    pub master_repeat: Option<u32>,
    pub lower_prio_delay: Option<u32>,
    pub lower_prio_repeat: Option<u32>,
    pub master_refresh: Option<u32>,
    pub master_refresh_repeat: Option<u32>,
    /// `garp_extra_if [all] SECONDS`: (seconds, all).
    pub extra_if: Option<(u32, bool)>,
}

impl GarpOverrides {
    /// Applies instance values over global ones over defaults (`vrrp_min_garp` changes the
    /// defaults to one message and no second burst). The lower-priority settings default to
    /// the master ones, as in keepalived.
    pub fn resolve(&self, global: &GarpOverrides, min_garp: bool) -> Garp {
        let base = Garp::default();
        let extra_if = self
            .extra_if
            .or(global.extra_if)
            .unwrap_or((base.extra_if_s, base.extra_if_all));
        let (delay, repeat) = if min_garp {
            (0, 1)
        } else {
            (base.master_delay_s, base.master_repeat)
        };
        let master_delay_s = self.master_delay.or(global.master_delay).unwrap_or(delay);
        let master_repeat = self
            .master_repeat
            .or(global.master_repeat)
            .unwrap_or(repeat);
        Garp {
            master_delay_s,
            master_repeat,
            lower_prio_delay_s: self
                .lower_prio_delay
                .or(global.lower_prio_delay)
                .unwrap_or(master_delay_s),
            lower_prio_repeat: self
                .lower_prio_repeat
                .or(global.lower_prio_repeat)
                .unwrap_or(master_repeat),
            master_refresh_s: self
                .master_refresh
                .or(global.master_refresh)
                .unwrap_or(base.master_refresh_s),
            master_refresh_repeat: self
                .master_refresh_repeat
                .or(global.master_refresh_repeat)
                .unwrap_or(base.master_refresh_repeat),
            // keepalived (vrrp.c, instance defaults): an instance's own setting, even 0,
            // replaces the global one whole, `all` included.
            extra_if_s: extra_if.0,
            extra_if_all: extra_if.1,
        }
    }

    /// Reads one `[vrrp_]garp_*` keyword (without the `vrrp_` prefix); `false` if it is not one.
    pub fn read(&mut self, cx: &mut Ctx, key: &str, item: &Item) -> bool {
        if matches!(key, "garp_extra_if" | "vmac_garp_intvl") {
            if key == "vmac_garp_intvl" {
                // keepalived 2.4.3 still reads it, with a deprecation message.
                let args: Vec<&str> = item.args.iter().map(|a| a.value.as_str()).collect();
                let new = item
                    .keyword
                    .value
                    .replace("vmac_garp_intvl", "garp_extra_if");
                let new = [new.as_str()]
                    .into_iter()
                    .chain(args)
                    .collect::<Vec<_>>()
                    .join(" ");
                cx.warning(
                    item.keyword.span,
                    format!("`{}` is deprecated", item.keyword.value),
                    Some(format!("write `{new}`, which means the same")),
                );
            }
            if let Some(v) = extra_if(cx, item) {
                self.extra_if = Some(v);
            }
            return true;
        }
        let slot = match key {
            "garp_master_delay" => &mut self.master_delay,
            "garp_master_repeat" => &mut self.master_repeat,
            "garp_lower_prio_delay" => &mut self.lower_prio_delay,
            "garp_lower_prio_repeat" => &mut self.lower_prio_repeat,
            "garp_master_refresh" => &mut self.master_refresh,
            "garp_master_refresh_repeat" => &mut self.master_refresh_repeat,
            _ => return false,
        };
        let max = if key.ends_with("repeat") { 1000 } else { 86400 };
        if let Some(v) = int_arg(cx, item, 0, max) {
            *slot = u32::try_from(v).ok();
        }
        true
    }
}

/// `[vrrp_]garp_extra_if [all] SECONDS` (also `all` after the number, as keepalived reads
/// it): SECONDS from 0 (off) to 86400.
fn extra_if(cx: &mut Ctx, item: &Item) -> Option<(u32, bool)> {
    let kw = item.keyword.value.as_str();
    let help = || {
        Some(format!(
            "e.g. `{kw} 100` or `{kw} all 100` (0 turns it off)"
        ))
    };
    let (mut seconds, mut all, mut ok) = (None, false, true);
    for arg in &item.args {
        if arg.value == "all" {
            if all {
                cx.error(arg.span, format!("{kw}: `all` is given twice"), help());
                ok = false;
            }
            all = true;
        } else if seconds.is_some() {
            cx.error(
                arg.span,
                format!(
                    "{kw}: one number of seconds only, found `{}` too",
                    arg.value
                ),
                help(),
            );
            ok = false;
        } else if arg.value.parse::<i64>().is_err() {
            cx.error(
                arg.span,
                format!(
                    "{kw} takes `all` and a number of seconds, found `{}`",
                    arg.value
                ),
                help(),
            );
            ok = false;
            seconds = Some(0);
        } else {
            match values::int_in(cx, kw, arg, 0, 86400) {
                Some(n) => seconds = u32::try_from(n).ok(),
                None => {
                    ok = false;
                    seconds = Some(0);
                }
            }
        }
    }
    let Some(seconds) = seconds else {
        cx.error(
            item.keyword.span,
            format!("{kw} needs a number of seconds"),
            help(),
        );
        return None;
    };
    ok.then_some((seconds, all))
}

/// The global settings plus what instances need to resolve their own.
#[derive(Clone, Debug, Default)]
pub struct GlobalDraft {
    pub global: Global,
    pub garp: GarpOverrides,
    pub min_garp: bool,
}

/// Reads every `global_defs` block (keepalived allows several).
pub fn build(cx: &mut Ctx, items: &[Item]) -> GlobalDraft {
    let mut draft = GlobalDraft::default();
    let mut fifo_scripts: [Option<(Hook, crate::config::source::Span)>; 2] = [None, None];
    let mut seen = Seen::default();
    for block in items.iter().filter(|i| i.keyword.value == "global_defs") {
        values::extra_args(cx, block, 0);
        let Some(children) = cx.block(block, "router_id NAME") else {
            continue;
        };
        for item in children {
            read_item(cx, &mut draft, &mut fifo_scripts, &mut seen, item);
        }
    }
    attach_fifo_scripts(cx, &mut draft.global, fifo_scripts);
    draft.global.garp = GarpOverrides::default().resolve(&draft.garp, draft.min_garp);
    draft
}

fn read_item(
    cx: &mut Ctx,
    draft: &mut GlobalDraft,
    fifo_scripts: &mut [Option<(Hook, crate::config::source::Span)>; 2],
    seen: &mut Seen,
    item: &Item,
) {
    let kw = item.keyword.value.as_str();
    if keywords::GLOBAL.contains(&kw) {
        seen.check(cx, item);
        cx.no_block(item);
    }
    let g = &mut draft.global;
    if let Some(key) = kw.strip_prefix("vrrp_")
        && draft.garp.read(cx, key, item)
    {
        return;
    }
    match kw {
        "router_id" => g.router_id = one_arg(cx, item, "node1").map(|a| a.value.clone()),
        "vrrp_version" => {
            if let Some(v) = int_arg(cx, item, 2, 3) {
                g.vrrp_version = if v == 3 { Version::V3 } else { Version::V2 };
            }
        }
        "script_user" => match run_as(&item.args) {
            Some(r) => {
                values::extra_args(cx, item, 2);
                g.script_user = Some(r);
            }
            None => {
                one_arg(cx, item, "keepalived_script");
            }
        },
        "enable_script_security" => g.enable_script_security = flag(cx, item),
        "vrrp_garp_interval" => g.garp_interval_us = micros(cx, item).unwrap_or(0),
        "vrrp_gna_interval" => g.gna_interval_us = micros(cx, item).unwrap_or(0),
        "vrrp_min_garp" => draft.min_garp = bool_opt(cx, item).unwrap_or(false),
        "notify_fifo" => g.notify_fifo = fifo(cx, item),
        "vrrp_notify_fifo" => g.vrrp_notify_fifo = fifo(cx, item),
        "notify_fifo_script" => {
            fifo_scripts[0] = values::hook(cx, item).map(|h| (h, item.keyword.span))
        }
        "vrrp_notify_fifo_script" => {
            fifo_scripts[1] = values::hook(cx, item).map(|h| (h, item.keyword.span));
        }
        "vrrp_rt_priority" => g.rt_priority = int_arg(cx, item, 1, 99).map(|v| v as u8),
        "vrrp_priority" => g.nice = int_arg(cx, item, -20, 19).map(|v| v as i8),
        "vrrp_no_swap" => g.no_swap = flag(cx, item),
        "vrrp_check_unicast_src" => g.check_unicast_src = flag(cx, item),
        "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = flag(cx, item),
        "vrrp_strict" => g.strict = flag(cx, item),
        "metrics_listen" => g.metrics_listen = socket_address(cx, item),
        "vip_probe_interval" => {
            if let Some(s) = int_arg(cx, item, 0, 3600) {
                g.vip_probe_interval_s = s as u32;
            }
        }
        "vrrp_lower_prio_no_advert" => g.lower_prio_no_advert = bool_opt(cx, item),
        "vrrp_higher_prio_send_advert" => g.higher_prio_send_advert = bool_opt(cx, item),
        "v3_checksum_as_v2" => g.v3_checksum_as_v2 = bool_opt(cx, item).unwrap_or(false),
        "vrrp_startup_delay" => {
            g.startup_delay_ms = values::millis_arg(cx, item, 3600).unwrap_or(0)
        }
        "vrrp_delay_after_boot" => {
            // Counted from boot, so it may exceed the uptime of a fresh host by far.
            g.delay_after_boot_ms = values::millis_arg(cx, item, 7 * 86_400).unwrap_or(0);
        }
        "notify_timeout" => {
            if let Some(ms) = values::millis_arg(cx, item, 3600) {
                g.notify_timeout_ms = ms.max(1);
            }
        }
        super::UNKNOWN_KEYWORDS => {
            // Read before anything else by `unknown_keywords_are_warnings`; checked here.
            if let Some(arg) = one_arg(cx, item, "warning")
                && !matches!(arg.value.as_str(), "warning" | "error")
            {
                cx.error(
                    arg.span,
                    format!(
                        "{} must be `error` or `warning`, found `{}`",
                        super::UNKNOWN_KEYWORDS,
                        arg.value
                    ),
                    Some("expected error (the default) or warning".to_string()),
                );
            }
        }
        "vrrp_mcast_group4" => {
            if let Some(IpAddr::V4(a)) = multicast(cx, item, false) {
                g.mcast_group4 = a;
            }
        }
        "vrrp_mcast_group6" => {
            if let Some(a) = multicast(cx, item, true) {
                g.mcast_group6 = a;
            }
        }
        _ if let Some(why) = keywords::refused(keywords::GLOBAL_REFUSED, kw) => {
            cx.refused(item, "global_defs", why);
        }
        _ if keywords::GLOBAL_IGNORED.contains(&kw) => cx.ignored(item, "global_defs"),
        _ => cx.unknown(item, "global_defs", keywords::GLOBAL),
    }
}

/// Whether any `global_defs` says `baton_unknown_keywords warning`. It applies to the
/// whole configuration, wherever it is written (before or after the unknown keywords,
/// in the main file or an included one); the last one wins.
/// Whether any `global_defs` turns on `enable_script_security` (read before the rest, so
/// that every script command can be checked against it wherever it is written).
pub fn script_security(items: &[Item]) -> bool {
    items
        .iter()
        .filter(|i| i.keyword.value == "global_defs")
        .filter_map(|i| i.block.as_ref())
        .flat_map(|b| b.items.iter())
        .any(|i| i.keyword.value == "enable_script_security")
}

pub fn unknown_keywords_are_warnings(items: &[Item]) -> bool {
    items
        .iter()
        .filter(|i| i.keyword.value == "global_defs")
        .filter_map(|i| i.block.as_ref())
        .flat_map(|b| b.items.iter())
        .filter(|i| i.keyword.value == super::UNKNOWN_KEYWORDS)
        .filter_map(|i| i.args.first())
        .next_back()
        .is_some_and(|a| a.value == "warning")
}

fn micros(cx: &mut Ctx, item: &Item) -> Option<u64> {
    let arg = one_arg(cx, item, "0.001")?;
    values::seconds_in(cx, &item.keyword.value, arg, 6, 1_000_000_000)
}

fn fifo(cx: &mut Ctx, item: &Item) -> Option<Fifo> {
    let path = values::one_arg_keep_rest(cx, item, "/run/baton/notify.fifo")?;
    values::extra_args(cx, item, 3);
    Some(Fifo {
        path: path.value.clone(),
        run_as: run_as(&item.args[1..]),
        script: None,
    })
}

fn attach_fifo_scripts(
    cx: &mut Ctx,
    g: &mut Global,
    scripts: [Option<(Hook, crate::config::source::Span)>; 2],
) {
    let [plain, vrrp] = scripts;
    for (script, fifo, name) in [
        (plain, &mut g.notify_fifo, "notify_fifo"),
        (vrrp, &mut g.vrrp_notify_fifo, "vrrp_notify_fifo"),
    ] {
        let Some((hook, span)) = script else { continue };
        match fifo {
            Some(f) => f.script = Some(hook),
            None => cx.warning(
                span,
                format!("{name}_script without {name} is ignored"),
                Some(format!("add `{name} /path/to/fifo`")),
            ),
        }
    }
}

fn multicast(cx: &mut Ctx, item: &Item, v6: bool) -> Option<IpAddr> {
    let addr = ip_arg(cx, item)?;
    let ok = match addr {
        IpAddr::V4(a) => !v6 && a.is_multicast(),
        IpAddr::V6(a) => v6 && a.is_multicast(),
    };
    if !ok {
        let family = if v6 { "IPv6" } else { "IPv4" };
        cx.error(
            item.args[0].span,
            format!(
                "{} must be an {family} multicast address",
                item.keyword.value
            ),
            Some(
                if v6 {
                    "e.g. ff02::12"
                } else {
                    "e.g. 224.0.0.18"
                }
                .to_string(),
            ),
        );
        return None;
    }
    Some(addr)
}

/// `ADDRESS:PORT`: an IPv4 address and port, or an IPv6 address in brackets and port.
fn socket_address(cx: &mut Ctx, item: &Item) -> Option<std::net::SocketAddr> {
    let arg = one_arg(cx, item, "127.0.0.1:9650")?;
    match arg.value.parse::<std::net::SocketAddr>() {
        Ok(address) if address.port() != 0 => Some(address),
        _ => {
            cx.error(
                arg.span,
                format!(
                    "`{}` needs an address and a port, found `{}`",
                    item.keyword.value, arg.value
                ),
                Some("e.g. 127.0.0.1:9650, or [2001:db8::1]:9650 for IPv6".to_string()),
            );
            None
        }
    }
}
