//! `vrrp_instance`, including baton's extensions `fallback`, `fallback_check`,
//! `fallback_check_timeout` and `flap_hold_down`.

use super::address::{unicast_peer, virtual_address};
use super::auth_hmac;
use super::global::{GarpOverrides, GlobalDraft};
use super::routes::{route, rule};
use super::values::{self, bool_opt, flag, int_arg, ip_arg, one_arg};
use super::{Ctx, Refs, Seen, keywords, tracks};
use crate::config::FlapDamping;
use crate::config::model::{
    Auth, Command, Fallback, FallbackCheck, Family, InitialState, Instance, Notify, TrackedFile,
    TrackedInterface, TrackedProcess, TrackedScript, UnicastPeer, Version, VirtualAddress,
    VirtualRoute, VirtualRule, Vmac,
};
use crate::config::parse::Item;
use crate::config::source::{Span, Spanned};
use std::net::IpAddr;

/// A validated instance with the spans the cross-instance checks report at.
pub struct Built {
    pub instance: Instance,
    pub name_span: Span,
    pub vrid_span: Span,
    /// Where `state` was written, if it was.
    pub state_span: Option<Span>,
}

/// The longest `fallback_check_timeout`: below the control socket's 120 s reply timeout, so
/// `baton fallback` always hears how its check ended (a check still running when the client
/// has given up would otherwise move the VIP after the operator was told it failed).
pub const MAX_FALLBACK_CHECK_S: u64 = 110;
/// Default `fallback_check_timeout`.
const FALLBACK_CHECK_TIMEOUT_MS: u64 = 10_000;

#[derive(Default)]
struct Draft {
    state: Option<(InitialState, Span)>,
    interface: Option<String>,
    interface_seen: bool,
    vrid: Option<(u8, Span)>,
    vrid_seen: bool,
    version: Option<(Version, Span)>,
    native_ipv6: Option<Span>,
    priority: Option<u8>,
    advert: Option<Spanned<String>>,
    vips: Vec<(VirtualAddress, Span)>,
    excluded: Vec<(VirtualAddress, Span)>,
    routes: Vec<VirtualRoute>,
    rules: Vec<VirtualRule>,
    vips_seen: bool,
    /// The `virtual_ipaddress` block holds no line at all.
    vips_block_empty: bool,
    mcast_src: Option<(IpAddr, Span)>,
    mcast_dst: Option<(IpAddr, Span)>,
    unicast_src: Option<(IpAddr, Span)>,
    peers: Vec<(UnicastPeer, Span)>,
    auth: Option<(Auth, Span)>,
    auth_hmac: Option<auth_hmac::Draft>,
    track_interfaces: Vec<TrackedInterface>,
    track_scripts: Vec<TrackedScript>,
    track_files: Vec<TrackedFile>,
    track_processes: Vec<TrackedProcess>,
    dont_track_primary: bool,
    nopreempt: Option<Span>,
    preempt: Option<Span>,
    fallback: Option<(Fallback, Span)>,
    fallback_check: Option<Command>,
    fallback_check_timeout: Option<(u64, Span)>,
    flap_hold_down_ms: u64,
    flap_damping: Option<FlapDamping>,
    preempt_delay_ms: u64,
    accept: Option<bool>,
    garp: GarpOverrides,
    notify: Notify,
    use_vmac: Option<VmacDraft>,
    vmac_xmit_base: Option<Span>,
    use_vmac_addr: Option<Span>,
    strict: Option<bool>,
    skip_check_adv_addr: Option<bool>,
    check_unicast_src: Option<bool>,
    unicast_ttl: Option<u8>,
    debug: u8,
    witness_key: Option<Spanned<String>>,
    no_witness: Option<Span>,
    lower_prio_no_advert: Option<bool>,
    higher_prio_send_advert: Option<bool>,
    v3_checksum_as_v2: Option<bool>,
}

/// Reads and validates one `vrrp_instance`; `None` if it has errors.
pub fn build(cx: &mut Ctx, item: &Item, global: &GlobalDraft, refs: &Refs) -> Option<Built> {
    let name = cx.name(item)?;
    let children = cx.block(item, "interface eth0 ...")?;
    let mut d = Draft::default();
    let mut seen = Seen::default();
    let errors_before = error_count(cx);
    for child in children {
        read_item(cx, &mut d, &mut seen, child, refs);
    }
    let built = finish(cx, name, d, global);
    if error_count(cx) > errors_before {
        return None;
    }
    built
}

fn error_count(cx: &Ctx) -> usize {
    cx.diagnostics.iter().filter(|d| d.is_error()).count()
}

fn read_item(cx: &mut Ctx, d: &mut Draft, seen: &mut Seen, item: &Item, refs: &Refs) {
    let kw = item.keyword.value.as_str();
    if let Some(why) = keywords::refused(keywords::INSTANCE_REFUSED, kw) {
        cx.refused(item, "vrrp_instance", why);
        return;
    }
    let is_block = matches!(
        kw,
        "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "virtual_routes"
            | "virtual_rules"
            | "unicast_peer"
            | "authentication"
            | "auth_hmac"
            | "track_interface"
            | "track_script"
            | "track_file"
            | "track_process"
    );
    if is_block {
        values::extra_args(cx, item, 0);
        if let Some(children) = cx.block(item, "...") {
            read_block(cx, d, kw, item, children, refs);
        }
        return;
    }
    if keywords::INSTANCE.contains(&kw) {
        seen.check(cx, item);
        cx.no_block(item);
    }
    if d.garp.read(cx, kw, item) || tracks::notify(cx, &mut d.notify, item, true) {
        return;
    }
    read_scalar(cx, d, item);
}

fn read_block(cx: &mut Ctx, d: &mut Draft, kw: &str, item: &Item, items: &[Item], refs: &Refs) {
    match kw {
        "virtual_ipaddress" => {
            d.vips_seen = true;
            d.vips_block_empty = d.vips.is_empty() && items.is_empty();
            for line in items {
                if let Some(v) = virtual_address(cx, line) {
                    add_vip(cx, &mut d.vips, v, line.keyword.span);
                }
            }
        }
        "virtual_ipaddress_excluded" => {
            for line in items {
                if let Some(v) = virtual_address(cx, line) {
                    add_vip(cx, &mut d.excluded, v, line.keyword.span);
                }
            }
        }
        "virtual_routes" => d.routes.extend(items.iter().filter_map(|l| route(cx, l))),
        "virtual_rules" => d.rules.extend(items.iter().filter_map(|l| rule(cx, l))),
        "unicast_peer" => {
            for line in items {
                if let Some(p) = unicast_peer(cx, line) {
                    d.peers.push((p, line.keyword.span));
                }
            }
        }
        "authentication" => d.auth = authentication(cx, item, items),
        "auth_hmac" => {
            if let Some(first) = &d.auth_hmac {
                cx.error(
                    item.keyword.span,
                    "`auth_hmac` is given twice in this instance",
                    Some(format!(
                        "first given on line {}; keep one block",
                        first.span.line
                    )),
                );
            }
            d.auth_hmac = Some(auth_hmac::read(cx, item, items));
        }
        "track_interface" => d.track_interfaces.extend(tracks::interfaces(cx, items)),
        "track_script" => d.track_scripts.extend(tracks::scripts(cx, items, refs)),
        "track_process" => d.track_processes.extend(tracks::processes(cx, items, refs)),
        _ => d.track_files.extend(tracks::files(cx, items, refs)),
    }
}

fn read_scalar(cx: &mut Ctx, d: &mut Draft, item: &Item) {
    let kw = item.keyword.value.as_str();
    let span = item.keyword.span;
    match kw {
        "state" => d.state = state(cx, item),
        "interface" => {
            d.interface_seen = true;
            d.interface = one_arg(cx, item, "eth0").map(|a| a.value.clone());
        }
        "virtual_router_id" => {
            d.vrid_seen = true;
            d.vrid = int_arg(cx, item, 1, 255).map(|v| (v as u8, item.args[0].span));
        }
        "version" => {
            d.version = int_arg(cx, item, 2, 3).map(|v| {
                let version = if v == 3 { Version::V3 } else { Version::V2 };
                (version, item.args[0].span)
            });
        }
        "native_ipv6" => d.native_ipv6 = flag(cx, item).then_some(span),
        "priority" => d.priority = int_arg(cx, item, 1, 255).map(|v| v as u8),
        "advert_int" => d.advert = one_arg(cx, item, "1").cloned(),
        "mcast_src_ip" => d.mcast_src = ip_arg(cx, item).map(|a| (a, item.args[0].span)),
        "mcast_dst_ip" => d.mcast_dst = ip_arg(cx, item).map(|a| (a, item.args[0].span)),
        "unicast_src_ip" => d.unicast_src = ip_arg(cx, item).map(|a| (a, item.args[0].span)),
        "dont_track_primary" => d.dont_track_primary = flag(cx, item),
        "nopreempt" | "no_preempt" => d.nopreempt = flag(cx, item).then_some(span),
        "preempt" => d.preempt = flag(cx, item).then_some(span),
        "preempt_delay" => d.preempt_delay_ms = values::millis_arg(cx, item, 1000).unwrap_or(0),
        "accept" => d.accept = Some(flag(cx, item)),
        "no_accept" => d.accept = Some(!flag(cx, item)),
        "strict_mode" => d.strict = bool_opt(cx, item),
        "skip_check_adv_addr" => d.skip_check_adv_addr = bool_opt(cx, item),
        "check_unicast_src" => d.check_unicast_src = Some(flag(cx, item)),
        "lower_prio_no_advert" => d.lower_prio_no_advert = bool_opt(cx, item),
        "higher_prio_send_advert" => d.higher_prio_send_advert = bool_opt(cx, item),
        "v3_checksum_as_v2" => d.v3_checksum_as_v2 = bool_opt(cx, item),
        "unicast_ttl" => d.unicast_ttl = int_arg(cx, item, 1, 255).map(|v| v as u8),
        "debug" => d.debug = int_arg(cx, item, 0, 4).unwrap_or(0) as u8,
        "witness_key" => d.witness_key = witness_key(cx, item),
        "no_witness" => {
            values::extra_args(cx, item, 0);
            d.no_witness = Some(item.keyword.span);
        }
        "fallback" => d.fallback = fallback(cx, item),
        "fallback_check" => d.fallback_check = script_command(cx, item),
        "fallback_check_timeout" => {
            d.fallback_check_timeout =
                values::millis_arg(cx, item, MAX_FALLBACK_CHECK_S).map(|ms| (ms, span));
        }
        "flap_hold_down" => {
            d.flap_hold_down_ms = values::millis_arg(cx, item, 86_400).unwrap_or(0);
        }
        "flap_damping" => d.flap_damping = flap_damping(cx, item),
        "use_vmac" => d.use_vmac = vmac(cx, item),
        "vmac_xmit_base" => {
            values::extra_args(cx, item, 0);
            d.vmac_xmit_base = Some(span);
        }
        "use_vmac_addr" => {
            values::extra_args(cx, item, 0);
            d.use_vmac_addr = Some(span);
        }
        _ if keywords::INSTANCE_IGNORED.contains(&kw) => {
            cx.ignored(item, "vrrp_instance");
        }
        _ => cx.unknown(item, "vrrp_instance", keywords::INSTANCE),
    }
}

/// `use_vmac` as written, before the VRID and the family are known.
struct VmacDraft {
    span: Span,
    name: Option<String>,
    /// The MAC, and whether its last octet is the VRID.
    mac: Option<([u8; 6], bool)>,
}

/// `use_vmac [[name] NAME] [MAC] [netlink_notify_msg]` (keepalived's syntax; a MAC is
/// told from a name by its colons, which an interface name cannot hold).
fn vmac(cx: &mut Ctx, item: &Item) -> Option<VmacDraft> {
    let mut draft = VmacDraft {
        span: item.keyword.span,
        name: None,
        mac: None,
    };
    let mut ok = true;
    let mut args = item.args.iter();
    while let Some(arg) = args.next() {
        let value = arg.value.as_str();
        if value.contains(':') {
            match parse_vmac_mac(value) {
                Ok(mac) if draft.mac.is_none() => draft.mac = Some(mac),
                Ok(_) => {
                    cx.error(arg.span, "use_vmac: the MAC address is given twice", None);
                    ok = false;
                }
                Err(why) => {
                    cx.error(
                        arg.span,
                        format!("use_vmac: `{value}` is not a usable MAC address: {why}"),
                        Some(
                            "e.g. `02:00:00:00:10:01`, or five octets (`02:00:00:00:10`) to \
                             end with the VRID; leave it out for 00:00:5e:00:01:VRID"
                                .to_string(),
                        ),
                    );
                    ok = false;
                }
            }
            continue;
        }
        if value == "netlink_notify_msg" {
            // Only a netlink nudge for monitors of the base interface; nothing on the wire.
            cx.warning(
                arg.span,
                "use_vmac: `netlink_notify_msg` is ignored by baton",
                None,
            );
            continue;
        }
        if value == "group" {
            cx.error(
                arg.span,
                "use_vmac: `group` is not supported by baton",
                Some("the VMAC is made in the base interface's link group".to_string()),
            );
            ok = false;
            args.next();
            continue;
        }
        let name = if value == "name" {
            let Some(next) = args.next() else {
                cx.error(arg.span, "use_vmac: `name` needs an interface name", None);
                ok = false;
                continue;
            };
            next
        } else {
            arg
        };
        if draft.name.is_some() {
            cx.error(
                name.span,
                "use_vmac: the interface name is given twice",
                None,
            );
            ok = false;
            continue;
        }
        if let Err(why) = check_vmac_name(&name.value) {
            cx.error(
                name.span,
                format!(
                    "use_vmac: `{}` cannot be an interface name: {why}",
                    name.value
                ),
                Some("at most 15 characters, none of `/`, `:` or spaces".to_string()),
            );
            ok = false;
            continue;
        }
        draft.name = Some(name.value.clone());
    }
    ok.then_some(draft)
}

/// An interface name the kernel accepts (`dev_valid_name`): 1..=15 bytes, not `.` or
/// `..`, no `/`, `:` or white space.
fn check_vmac_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 15 {
        return Err("longer than 15 characters");
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are not names");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Err("it holds `/`, `:` or white space");
    }
    Ok(())
}

/// Six octets, or five (`true`: the sixth is the VRID, filled by `finish_vmac`). Unicast only; the RFC's 00:00:5e:00:01/02 prefix is the
/// default and cannot be written (keepalived refuses it too).
fn parse_vmac_mac(value: &str) -> Result<([u8; 6], bool), &'static str> {
    let parts: Vec<&str> = value
        .strip_suffix(':')
        .unwrap_or(value)
        .split(':')
        .collect();
    if parts.len() != 5 && parts.len() != 6 {
        return Err("five or six octets are needed");
    }
    let mut mac = [0u8; 6];
    for (slot, part) in mac.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 2 {
            return Err("each octet is one or two hex digits");
        }
        *slot = u8::from_str_radix(part, 16).map_err(|_| "each octet is one or two hex digits")?;
    }
    if mac[0] & 1 != 0 {
        return Err("it is a multicast address");
    }
    if mac[..4] == [0, 0, 0x5e, 0] && (mac[4] == 1 || mac[4] == 2) {
        return Err("the RFC 5798 virtual MAC is the default: leave the MAC out");
    }
    Ok((mac, parts.len() == 5))
}

/// The VMAC of the instance, with keepalived's rules across keywords.
fn finish_vmac(
    cx: &mut Ctx,
    name: &Spanned<String>,
    d: &Draft,
    family: Family,
    strict: bool,
    vrid: u8,
) -> Option<Vmac> {
    let Some(draft) = &d.use_vmac else {
        if let Some(span) = d.vmac_xmit_base {
            cx.error(
                span,
                "`vmac_xmit_base` without `use_vmac`",
                Some("add `use_vmac`, or remove `vmac_xmit_base`".to_string()),
            );
        }
        return None;
    };
    if !d.peers.is_empty() && d.vmac_xmit_base.is_none() {
        // keepalived: "unicast with use_vmac requires vmac_xmit_base".
        cx.error(
            draft.span,
            format!(
                "instance {}: `use_vmac` with unicast peers needs `vmac_xmit_base`",
                name.value
            ),
            Some("add `vmac_xmit_base`: unicast adverts go out on the base interface".to_string()),
        );
        return None;
    }
    if strict && let Some(span) = d.vmac_xmit_base {
        cx.error(
            span,
            "`vmac_xmit_base` cannot be used with strict mode (keepalived refuses it too)",
            None,
        );
        return None;
    }
    let mac = match draft.mac {
        Some((mut mac, true)) => {
            mac[5] = vrid;
            mac
        }
        Some((mac, false)) => mac,
        None => Vmac::rfc_mac(vrid, family),
    };
    Some(Vmac {
        name: draft
            .name
            .clone()
            .unwrap_or_else(|| Vmac::default_name(vrid)),
        mac,
        xmit_base: d.vmac_xmit_base.is_some(),
        name_given: draft.name.is_some(),
    })
}

/// `use_vmac` on an address line where keepalived 2.4 reports it as an error: the address
/// is on the instance's VMAC already, or `use_vmac_addr` gives it a VMAC anyway.
fn check_address_vmacs(
    cx: &mut Ctx,
    d: &Draft,
    interface: &str,
    family: Family,
    instance_vmac: bool,
) {
    for (vip, span) in d.vips.iter().chain(&d.excluded) {
        if !vip.flags.use_vmac {
            continue;
        }
        let own = vip.dev.as_deref().is_none_or(|dev| dev == interface);
        let same_family = Family::of(&vip.addr) == family;
        if own && instance_vmac && same_family {
            cx.error(
                *span,
                format!(
                    "`use_vmac` on {vip}: the address is on {interface}, where the instance's \
                     own VMAC holds it (keepalived refuses both)"
                ),
                Some("remove `use_vmac` from the address line".to_string()),
            );
        } else if d.use_vmac_addr.is_some() && (!own || !same_family) {
            cx.error(
                *span,
                format!(
                    "`use_vmac` on {vip} with `use_vmac_addr` in the instance: it gets its \
                     VMAC from `use_vmac_addr` already (keepalived refuses both)"
                ),
                Some(
                    "remove `use_vmac` from the address line, or `use_vmac_addr` from the \
                     instance"
                        .to_string(),
                ),
            );
        }
    }
}

/// `flap_damping COUNT WINDOW HOLD`: COUNT 2..=100 times master within WINDOW seconds
/// (up to a day) holds preemption back for HOLD seconds (up to a day).
fn flap_damping(cx: &mut Ctx, item: &Item) -> Option<FlapDamping> {
    let kw = item.keyword.value.as_str();
    let (Some(count), Some(window), Some(hold)) =
        (item.args.first(), item.args.get(1), item.args.get(2))
    else {
        cx.error(
            item.keyword.span,
            format!("`{kw}` needs three values: COUNT WINDOW HOLD"),
            Some(format!(
                "for example: {kw} 3 600 1800 (3 times master within 10 minutes: no preemption for 30 minutes)"
            )),
        );
        return None;
    };
    values::extra_args(cx, item, 3);
    let count = values::int_in(cx, kw, count, 2, 100);
    let window = values::seconds_in(cx, kw, window, 3, 86_400_000);
    let hold = values::seconds_in(cx, kw, hold, 3, 86_400_000);
    Some(FlapDamping {
        count: u32::try_from(count?).ok()?,
        window_ms: window.filter(|w| *w > 0)?,
        hold_ms: hold?,
    })
}

fn state(cx: &mut Ctx, item: &Item) -> Option<(InitialState, Span)> {
    let arg = one_arg(cx, item, "BACKUP")?;
    match arg.value.to_ascii_uppercase().as_str() {
        "MASTER" => Some((InitialState::Master, arg.span)),
        "BACKUP" => Some((InitialState::Backup, arg.span)),
        _ => {
            cx.error(
                arg.span,
                format!("state must be MASTER or BACKUP, found `{}`", arg.value),
                Some("expected MASTER or BACKUP".to_string()),
            );
            None
        }
    }
}

fn fallback(cx: &mut Ctx, item: &Item) -> Option<(Fallback, Span)> {
    let arg = one_arg(cx, item, "manual")?;
    match arg.value.as_str() {
        "manual" => Some((Fallback::Manual, arg.span)),
        "automatic" => Some((Fallback::Automatic, arg.span)),
        _ => {
            cx.error(
                arg.span,
                format!(
                    "fallback must be manual or automatic, found `{}`",
                    arg.value
                ),
                Some("expected manual or automatic".to_string()),
            );
            None
        }
    }
}

/// A command from the first argument (often quoted), with any further arguments appended.
fn script_command(cx: &mut Ctx, item: &Item) -> Option<Command> {
    let first = values::one_arg_keep_rest(cx, item, "/path/to/script")?;
    let mut cmd = values::command(cx, &item.keyword.value, first)?;
    cmd.args
        .extend(item.args[1..].iter().map(|a| a.value.clone()));
    Some(cmd)
}

fn authentication(cx: &mut Ctx, item: &Item, items: &[Item]) -> Option<(Auth, Span)> {
    let mut kind: Option<&Spanned<String>> = None;
    let mut pass: Option<&Spanned<String>> = None;
    let mut seen = Seen::default();
    for child in items {
        match child.keyword.value.as_str() {
            "auth_type" => {
                seen.check(cx, child);
                kind = one_arg(cx, child, "PASS");
            }
            "auth_pass" => {
                seen.check(cx, child);
                pass = one_arg(cx, child, "secret");
            }
            _ => cx.unknown(child, "authentication", keywords::AUTH),
        }
    }
    let span = item.keyword.span;
    match kind.map(|k| k.value.to_ascii_uppercase()) {
        Some(k) if k == "PASS" => {}
        Some(k) if k == "AH" => {
            // Running without authentication would be less security than the file asks
            // for, and keepalived drops adverts without the AH header: both would be master.
            cx.error(
                kind.map_or(span, |k| k.span),
                "auth_type AH (IPsec AH, IP protocol 51) is not implemented by baton; a \
                 keepalived node with AH drops baton's plain adverts and both nodes would be \
                 master",
                Some(
                    "use `auth_type PASS` on both nodes, or remove the authentication block on \
                     both nodes"
                        .to_string(),
                ),
            );
            return None;
        }
        Some(k) => {
            cx.error(
                kind.map_or(span, |k| k.span),
                format!("unknown auth_type `{k}`"),
                Some("expected PASS".to_string()),
            );
            return None;
        }
        None => {
            cx.error(
                span,
                "authentication needs `auth_type PASS`",
                Some("add `auth_type PASS`".to_string()),
            );
            return None;
        }
    }
    let Some(pass) = pass else {
        cx.error(
            span,
            "authentication needs `auth_pass`",
            Some("add `auth_pass SECRET` (at most 8 characters)".to_string()),
        );
        return None;
    };
    Some((Auth::Pass(truncated_pass(cx, pass)), span))
}

/// keepalived uses only the first 8 bytes of the password.
fn truncated_pass(cx: &mut Ctx, pass: &Spanned<String>) -> String {
    if pass.value.len() <= 8 {
        return pass.value.clone();
    }
    let mut end = 8;
    while !pass.value.is_char_boundary(end) {
        end -= 1;
    }
    let kept = &pass.value[..end];
    cx.warning(
        pass.span,
        "auth_pass is longer than 8 bytes; only the first 8 are used",
        Some(format!("the password is `{kept}`")),
    );
    kept.to_string()
}

fn finish(
    cx: &mut Ctx,
    name: &Spanned<String>,
    mut d: Draft,
    global: &GlobalDraft,
) -> Option<Built> {
    let g = &global.global;
    let interface = required(
        cx,
        name,
        d.interface.clone(),
        d.interface_seen,
        "interface",
        "eth0",
    );
    let vrid = required(cx, name, d.vrid, d.vrid_seen, "virtual_router_id", "51");
    let family = family(cx, name, &d);
    let version = version(cx, &d, family, g.vrrp_version);
    let advert_int_cs = d
        .advert
        .as_ref()
        .map_or(Some(100), |a| advert_int(cx, a, version));
    let strict = d.strict.unwrap_or(g.strict);
    if let (Some((InitialState::Master, span)), None) = (d.state, d.priority) {
        // keepalived derives the priority from `state MASTER`: 255, the address owner.
        cx.error(
            span,
            "`state MASTER` without `priority`: keepalived makes this node the address owner \
             (priority 255), baton would use 100, so the nodes would not agree on who wins",
            Some(
                "write the priority: `priority 255` as keepalived does, or the one you mean"
                    .to_string(),
            ),
        );
    }
    check_addresses(cx, &d, family, strict);
    check_auth(cx, &d, version, strict);
    let legacy_auth = d.auth.as_ref().map(|a| a.1);
    let hmac = d
        .auth_hmac
        .take()
        .map(|h| auth_hmac::finish(cx, h, advert_int_cs, strict, legacy_auth));
    let fallback = resolve_fallback(cx, &d);
    let fallback_check = fallback_check(cx, &d);
    let (interface, (vrid, vrid_span), advert_int_cs) = (interface?, vrid?, advert_int_cs?);
    let use_vmac = finish_vmac(cx, name, &d, family, strict, vrid);
    check_address_vmacs(cx, &d, &interface, family, use_vmac.is_some());
    let mut garp = d.garp.resolve(&global.garp, global.min_garp);
    if strict {
        // keepalived (vrrp.c, instance defaults): strict mode sends no gratuitous ARPs
        // after a lower-priority advert, and resets an instance's own setting.
        if d.garp.lower_prio_repeat.is_some_and(|n| n > 0)
            || d.garp.lower_prio_delay.is_some_and(|n| n > 0)
        {
            cx.warning(
                name.span,
                "strict_mode sends no gratuitous ARPs after a lower-priority advert:                  garp_lower_prio_repeat and garp_lower_prio_delay are set to 0",
                None,
            );
        }
        garp.lower_prio_repeat = 0;
        garp.lower_prio_delay_s = 0;
    }
    // keepalived: min_ttl/max_ttl on a peer turns on check_unicast_src.
    let ttl_limits = d
        .peers
        .iter()
        .any(|(p, _)| p.min_ttl.is_some() || p.max_ttl.is_some());
    let instance = Instance {
        name: name.value.clone(),
        state: match (d.state, fallback) {
            (Some((InitialState::Master, _)), Fallback::Automatic) => InitialState::Master,
            _ => InitialState::Backup,
        },
        interface,
        vrid,
        version,
        family,
        priority: d.priority.unwrap_or(100),
        advert_int_cs,
        vips: d.vips.into_iter().map(|(v, _)| v).collect(),
        excluded_vips: d.excluded.into_iter().map(|(v, _)| v).collect(),
        routes: d.routes,
        rules: d.rules,
        mcast_src_ip: d.mcast_src.map(|a| a.0),
        // keepalived: an instance without mcast_dst_ip uses vrrp_mcast_group4/6.
        mcast_dst_ip: d.mcast_dst.map(|a| a.0).or(g.mcast_group(family)),
        unicast_src_ip: d.unicast_src.map(|a| a.0),
        unicast_peers: d.peers.into_iter().map(|(p, _)| p).collect(),
        auth: d.auth.map(|a| a.0),
        auth_hmac: hmac.flatten(),
        track_interfaces: d.track_interfaces,
        track_scripts: d.track_scripts,
        track_files: d.track_files,
        track_processes: d.track_processes,
        dont_track_primary: d.dont_track_primary,
        fallback,
        fallback_check,
        flap_hold_down_ms: d.flap_hold_down_ms,
        flap_damping: d.flap_damping,
        preempt_delay_ms: d.preempt_delay_ms,
        accept: d.accept.unwrap_or(!strict),
        garp,
        notify: d.notify,
        use_vmac,
        use_vmac_addr: d.use_vmac_addr.is_some(),
        // Named across instances (`validate::address_vmacs`).
        address_vmacs: Vec::new(),
        strict,
        skip_check_adv_addr: d.skip_check_adv_addr.unwrap_or(g.skip_check_adv_addr),
        check_unicast_src: d.check_unicast_src.unwrap_or(g.check_unicast_src) || ttl_limits,
        unicast_ttl: d.unicast_ttl,
        debug: d.debug,
        witness_key: witness_key_of(cx, &d.witness_key, d.no_witness, vrid, family),
        // keepalived: strict mode cannot clear lower_prio_no_advert.
        lower_prio_no_advert: strict
            || d.lower_prio_no_advert
                .or(g.lower_prio_no_advert)
                .unwrap_or(false),
        higher_prio_send_advert: d
            .higher_prio_send_advert
            .or(g.higher_prio_send_advert)
            .unwrap_or(true),
        v3_checksum_as_v2: d.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2),
    };
    Some(Built {
        instance,
        state_span: d.state.map(|s| s.1),
        name_span: name.span,
        vrid_span,
    })
}

fn required<T>(
    cx: &mut Ctx,
    name: &Spanned<String>,
    value: Option<T>,
    seen: bool,
    kw: &str,
    example: &str,
) -> Option<T> {
    if value.is_none() && !seen {
        cx.error(
            name.span,
            format!("vrrp_instance `{}` has no `{kw}`", name.value),
            Some(format!("add `{kw} {example}`")),
        );
    }
    value
}

/// The family of the VIPs (all must agree), else of `native_ipv6` or the unicast addresses.
fn family(cx: &mut Ctx, name: &Spanned<String>, d: &Draft) -> Family {
    let Some((first, _)) = d.vips.first() else {
        if !d.vips_seen {
            cx.error(
                name.span,
                format!("vrrp_instance `{}` has no virtual_ipaddress", name.value),
                Some("add `virtual_ipaddress { 192.0.2.100/24 }`".to_string()),
            );
        } else if d.vips_block_empty {
            // An advert carries at least one address (RFC 5798 5.2.5; keepalived refuses
            // the same for VRRPv3). Without one this instance could never advertise, and
            // every node would hold it as master.
            cx.error(
                name.span,
                format!(
                    "vrrp_instance `{}` has an empty virtual_ipaddress: an advert carries at least one address",
                    name.value
                ),
                Some("add an address: `virtual_ipaddress { 192.0.2.100/24 }`".to_string()),
            );
        }
        let hint = d
            .unicast_src
            .map(|a| a.0)
            .or(d.peers.first().map(|p| p.0.addr));
        return match (d.native_ipv6, hint) {
            (Some(_), _) => Family::IPv6,
            (None, Some(a)) => Family::of(&a),
            (None, None) => Family::IPv4,
        };
    };
    let family = Family::of(&first.addr);
    for (vip, span) in &d.vips[1..] {
        if Family::of(&vip.addr) != family {
            cx.error(
                *span,
                format!(
                    "virtual_ipaddress mixes IPv4 and IPv6: `{}` is not {family:?}",
                    vip.addr
                ),
                Some(
                    "use one family per vrrp_instance; put the other addresses in another \
                     instance"
                        .to_string(),
                ),
            );
        }
    }
    if let (Some(span), Family::IPv4) = (d.native_ipv6, family) {
        cx.error(
            span,
            "native_ipv6 is set but the virtual addresses are IPv4",
            Some("remove native_ipv6 or use IPv6 virtual addresses".to_string()),
        );
    }
    family
}

/// The instance's `version`, else the global one; IPv6 always uses VRRPv3.
fn version(cx: &mut Ctx, d: &Draft, family: Family, global: Version) -> Version {
    match (d.version, family) {
        (Some((Version::V2, span)), Family::IPv6) => {
            cx.error(
                span,
                "VRRPv2 does not support IPv6",
                Some("use `version 3` (or remove the version line)".to_string()),
            );
            Version::V2
        }
        (Some((v, _)), _) => v,
        (None, Family::IPv6) => Version::V3,
        (None, Family::IPv4) => global,
    }
}

/// `advert_int` in centiseconds: VRRPv2 whole seconds 1..=255, VRRPv3 0.01..=40.95 s.
fn advert_int(cx: &mut Ctx, arg: &Spanned<String>, version: Version) -> Option<u16> {
    let centis = values::fixed_point(&arg.value, 2);
    let (valid, help) = match version {
        Version::V2 => (
            centis.filter(|c| c % 100 == 0 && (100..=25_500).contains(c)),
            "VRRPv2 needs whole seconds from 1 to 255; use version 3 for fractions",
        ),
        Version::V3 => (
            centis.filter(|c| (1..=4095).contains(c)),
            "VRRPv3 needs seconds from 0.01 to 40.95, in steps of 0.01",
        ),
    };
    if valid.is_none() {
        cx.error(
            arg.span,
            format!(
                "advert_int `{}` is not valid for VRRPv{}",
                arg.value,
                version.number()
            ),
            Some(help.to_string()),
        );
    }
    valid.map(|c| c as u16)
}

fn check_addresses(cx: &mut Ctx, d: &Draft, family: Family, strict: bool) {
    let fam = |a: &IpAddr| Family::of(a) == family;
    for (what, addr) in [
        ("unicast_src_ip", d.unicast_src),
        ("mcast_src_ip", d.mcast_src),
    ] {
        if let Some((a, span)) = addr
            && !fam(&a)
        {
            cx.error(
                span,
                format!("{what} {a} is not {family:?} like the instance's addresses"),
                Some(format!("use an {family:?} address")),
            );
        }
    }
    if let Some((a, span)) = d.mcast_dst
        && (!fam(&a) || !a.is_multicast())
    {
        cx.error(
            span,
            format!("mcast_dst_ip {a} is not an {family:?} multicast address"),
            Some(format!("use an {family:?} multicast address")),
        );
    }
    for (peer, span) in &d.peers {
        if !fam(&peer.addr) {
            cx.error(
                *span,
                format!(
                    "unicast_peer {} is not {family:?} like the instance's addresses",
                    peer.addr
                ),
                Some(format!("use an {family:?} address")),
            );
        }
    }
    if strict && let Some((_, span)) = d.peers.first() {
        cx.error(
            *span,
            "unicast peers are not allowed with vrrp_strict / strict_mode",
            Some("remove unicast_peer or turn strict mode off".to_string()),
        );
    }
}

/// Adds a VIP; a second line for the same address replaces the first, with a warning.
fn add_vip(cx: &mut Ctx, vips: &mut Vec<(VirtualAddress, Span)>, vip: VirtualAddress, span: Span) {
    if let Some(slot) = vips.iter_mut().find(|(v, _)| v.addr == vip.addr) {
        cx.warning(
            span,
            format!(
                "virtual address {} is listed twice; this line replaces line {}",
                vip.addr, slot.1.line
            ),
            Some("list each address once".to_string()),
        );
        *slot = (vip, span);
    } else {
        vips.push((vip, span));
    }
}

fn check_auth(cx: &mut Ctx, d: &Draft, version: Version, strict: bool) {
    let Some((_, span)) = &d.auth else { return };
    if version == Version::V3 {
        cx.error(
            *span,
            "authentication is only supported with VRRPv2",
            Some("remove the authentication block (VRRPv3 has no authentication)".to_string()),
        );
    } else if strict {
        cx.error(
            *span,
            "authentication is not allowed with vrrp_strict / strict_mode",
            Some("remove the authentication block or turn strict mode off".to_string()),
        );
    }
}

/// `fallback` is the readable form of `nopreempt` (manual) / `preempt` (automatic).
fn resolve_fallback(cx: &mut Ctx, d: &Draft) -> Fallback {
    let conflict = match d.fallback {
        Some((Fallback::Automatic, span)) => d.nopreempt.map(|_| (span, "nopreempt")),
        Some((Fallback::Manual, span)) => d.preempt.map(|_| (span, "preempt")),
        None => None,
    };
    if let Some((span, other)) = conflict {
        cx.error(
            span,
            format!("`fallback` contradicts `{other}` in the same instance"),
            Some(
                "keep one: `fallback manual` means nopreempt, `fallback automatic` means preempt"
                    .to_string(),
            ),
        );
    }
    if d.fallback.is_none()
        && let (Some(_), Some(span)) = (d.nopreempt, d.preempt)
    {
        cx.warning(
            span,
            "both `nopreempt` and `preempt` are set; nopreempt is used",
            Some("remove one of them".to_string()),
        );
    }
    let fallback = match (d.fallback, d.nopreempt) {
        (Some((f, _)), _) => f,
        (None, Some(_)) => Fallback::Manual,
        (None, None) => Fallback::Automatic,
    };
    if let (Fallback::Manual, Some((InitialState::Master, span))) = (fallback, d.state) {
        // keepalived clears nopreempt here and takes the addresses at start; baton keeps
        // the manual fallback: a rebooted node must hear the master before anything else.
        cx.warning(
            span,
            "`state MASTER` is not acted on with `fallback manual` / `nopreempt`: this node \
             starts as BACKUP and takes over only when it hears no master (keepalived would \
             drop nopreempt and take the addresses at start)",
            Some("use `state BACKUP`, or `fallback automatic` to start as master".to_string()),
        );
    }
    fallback
}

fn fallback_check(cx: &mut Ctx, d: &Draft) -> Option<FallbackCheck> {
    match (&d.fallback_check, d.fallback_check_timeout) {
        (Some(command), timeout) => Some(FallbackCheck {
            command: command.clone(),
            timeout_ms: timeout.map_or(FALLBACK_CHECK_TIMEOUT_MS, |t| t.0),
        }),
        (None, Some((_, span))) => {
            cx.warning(
                span,
                "fallback_check_timeout without fallback_check is ignored",
                Some("add `fallback_check /path/to/script`".to_string()),
            );
            None
        }
        (None, None) => None,
    }
}

/// `witness_key KEY`: letters, digits, `-`, `_`, `.` and `/` (it goes under the prefix).
fn witness_key(cx: &mut Ctx, item: &Item) -> Option<Spanned<String>> {
    let arg = values::one_arg(cx, item, "portal-vip")?;
    let fine = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    if arg.value.is_empty() || !arg.value.chars().all(fine) || arg.value.contains("..") {
        cx.error(
            arg.span,
            format!(
                "witness_key `{}` has characters a key may not have",
                arg.value
            ),
            Some("use letters, digits, -, _, . and /".to_string()),
        );
        return None;
    }
    Some(arg.clone())
}

/// The instance's key under the witness prefix: the same on every node of the group.
fn witness_key_of(
    cx: &mut Ctx,
    key: &Option<Spanned<String>>,
    off: Option<Span>,
    vrid: u8,
    family: Family,
) -> Option<String> {
    if let (Some(key), Some(_)) = (key, off) {
        cx.error(
            key.span,
            "this instance has both `witness_key` and `no_witness`",
            Some("keep one".to_string()),
        );
    }
    if off.is_some() {
        return None;
    }
    let family = match family {
        Family::IPv4 => "ipv4",
        Family::IPv6 => "ipv6",
    };
    Some(match key {
        Some(k) => k.value.clone(),
        None => format!("vrid-{vrid}-{family}"),
    })
}
