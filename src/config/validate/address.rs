//! Address lines: `virtual_ipaddress` / `virtual_ipaddress_excluded` and `unicast_peer`.

use super::Ctx;
use super::values::int_in;
use crate::config::model::{
    AddressFlags, Broadcast, PreferredLifetime, Scope, UnicastPeer, VirtualAddress,
};
use crate::config::parse::Item;
use crate::config::source::Spanned;
use std::net::IpAddr;

/// `ADDR[/LEN]`: the address and prefix length (default 32 or 128).
fn address_and_prefix(cx: &mut Ctx, word: &Spanned<String>) -> Option<(IpAddr, u8)> {
    let (addr_text, len_text) = match word.value.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (word.value.as_str(), None),
    };
    let Ok(addr) = addr_text.parse::<IpAddr>() else {
        cx.error(
            word.span,
            format!("`{}` is not an IP address", word.value),
            Some("expected ADDRESS[/PREFIX], e.g. 192.0.2.100/24 or 2001:db8::100/64".to_string()),
        );
        return None;
    };
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let Some(len_text) = len_text else {
        return Some((addr, max));
    };
    match len_text.parse::<u8>() {
        Ok(len) if len <= max => Some((addr, len)),
        _ => {
            cx.error(
                word.span,
                format!(
                    "prefix length `{len_text}` is out of range in `{}`",
                    word.value
                ),
                Some(format!("expected a prefix length from 0 to {max}")),
            );
            None
        }
    }
}

/// One `virtual_ipaddress` line.
pub fn virtual_address(cx: &mut Ctx, item: &Item) -> Option<VirtualAddress> {
    cx.no_block(item);
    let (addr, prefix_len) = address_and_prefix(cx, &item.keyword)?;
    let mut vip = VirtualAddress {
        addr,
        prefix_len,
        brd: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        flags: AddressFlags::default(),
        preferred_lft: None,
        track_group: None,
    };
    let mut ok = true;
    let mut use_vmac = None;
    let mut args = item.args.iter();
    while let Some(opt) = args.next() {
        if opt.value == "use_vmac" {
            use_vmac = Some(opt.span);
        }
        if set_flag(&mut vip.flags, &opt.value) {
            continue;
        }
        let takes_value = matches!(
            opt.value.as_str(),
            "brd"
                | "broadcast"
                | "dev"
                | "scope"
                | "label"
                | "peer"
                | "preferred_lft"
                | "track_group"
        );
        if !takes_value {
            cx.warning(
                opt.span,
                format!("unknown option `{}` in address line; ignored", opt.value),
                Some(
                    "expected brd, dev, scope, label, peer, home, -nodad, mngtmpaddr, \
                     noprefixroute, autojoin, no_track, use_vmac, preferred_lft or track_group"
                        .to_string(),
                ),
            );
            continue;
        }
        let Some(value) = args.next() else {
            cx.error(
                opt.span,
                format!("`{}` needs a value", opt.value),
                Some(format!("e.g. `{} VALUE`", opt.value)),
            );
            ok = false;
            break;
        };
        ok &= set_option(cx, &mut vip, opt, value);
    }
    if let (Some(span), None) = (use_vmac, &vip.dev) {
        // keepalived: "use_vmac for a address requires an interface".
        cx.error(
            span,
            "`use_vmac` on an address line needs the address's interface (`dev IF`)",
            Some(
                "add `dev IF` (the interface the VMAC is made on), or put `use_vmac` in the \
                 vrrp_instance for its own interface"
                    .to_string(),
            ),
        );
        ok = false;
    }
    ok.then_some(vip)
}

fn set_flag(flags: &mut AddressFlags, word: &str) -> bool {
    let slot = match word {
        "home" => &mut flags.home,
        "-nodad" => &mut flags.nodad,
        "mngtmpaddr" => &mut flags.mngtmpaddr,
        "noprefixroute" => &mut flags.noprefixroute,
        "autojoin" => &mut flags.autojoin,
        "no_track" => &mut flags.no_track,
        "use_vmac" => &mut flags.use_vmac,
        _ => return false,
    };
    *slot = true;
    true
}

fn set_option(
    cx: &mut Ctx,
    vip: &mut VirtualAddress,
    opt: &Spanned<String>,
    value: &Spanned<String>,
) -> bool {
    match opt.value.as_str() {
        "brd" | "broadcast" => match broadcast(cx, vip, value) {
            Some(b) => vip.brd = Some(b),
            None => return false,
        },
        "dev" => vip.dev = Some(value.value.clone()),
        "label" => vip.label = Some(value.value.clone()),
        "track_group" => vip.track_group = Some(value.value.clone()),
        "scope" => match scope(&value.value) {
            Some(s) => vip.scope = Some(s),
            None => {
                cx.error(
                    value.span,
                    format!("unknown scope `{}`", value.value),
                    Some("expected global, site, link, host or nowhere".to_string()),
                );
                return false;
            }
        },
        "peer" => match value.value.parse::<IpAddr>() {
            Ok(p) if p.is_ipv4() == vip.addr.is_ipv4() => vip.peer = Some(p),
            _ => {
                cx.error(
                    value.span,
                    format!(
                        "peer `{}` is not an address of the same family",
                        value.value
                    ),
                    Some(format!("expected an address like {}", vip.addr)),
                );
                return false;
            }
        },
        _ => match preferred_lft(cx, value) {
            Some(p) => vip.preferred_lft = Some(p),
            None => return false,
        },
    }
    true
}

fn broadcast(cx: &mut Ctx, vip: &VirtualAddress, value: &Spanned<String>) -> Option<Broadcast> {
    let parsed = match (value.value.as_str(), vip.addr) {
        ("+", IpAddr::V4(_)) => Some(Broadcast::SetHostBits),
        ("-", IpAddr::V4(_)) => Some(Broadcast::ClearHostBits),
        (text, IpAddr::V4(_)) => text.parse().ok().map(Broadcast::Addr),
        (_, IpAddr::V6(_)) => None,
    };
    if parsed.is_none() {
        let help = if vip.addr.is_ipv6() {
            "IPv6 addresses have no broadcast address; remove `brd`"
        } else {
            "expected an IPv4 address, `+` or `-`"
        };
        cx.error(
            value.span,
            format!("invalid broadcast address `{}`", value.value),
            Some(help.to_string()),
        );
    }
    parsed
}

fn scope(word: &str) -> Option<Scope> {
    Some(match word {
        "global" => Scope::Global,
        "site" => Scope::Site,
        "link" => Scope::Link,
        "host" => Scope::Host,
        "nowhere" => Scope::Nowhere,
        _ => return None,
    })
}

fn preferred_lft(cx: &mut Ctx, value: &Spanned<String>) -> Option<PreferredLifetime> {
    if value.value == "forever" {
        return Some(PreferredLifetime::Forever);
    }
    int_in(cx, "preferred_lft", value, 0, i64::from(u32::MAX))
        .map(|v| PreferredLifetime::Seconds(v as u32))
}

/// One `unicast_peer` line: `ADDR [min_ttl N] [max_ttl N]`.
pub fn unicast_peer(cx: &mut Ctx, item: &Item) -> Option<UnicastPeer> {
    cx.no_block(item);
    let Ok(addr) = item.keyword.value.parse::<IpAddr>() else {
        cx.error(
            item.keyword.span,
            format!(
                "unicast_peer: `{}` is not an IP address",
                item.keyword.value
            ),
            Some("expected an address like 192.0.2.2 or 2001:db8::2".to_string()),
        );
        return None;
    };
    let mut peer = UnicastPeer {
        addr,
        min_ttl: None,
        max_ttl: None,
    };
    let mut args = item.args.iter();
    while let Some(opt) = args.next() {
        let slot = match opt.value.as_str() {
            "min_ttl" => &mut peer.min_ttl,
            "max_ttl" => &mut peer.max_ttl,
            other => {
                cx.warning(
                    opt.span,
                    format!("unknown option `{other}` for unicast_peer; ignored"),
                    Some("expected min_ttl N or max_ttl N".to_string()),
                );
                continue;
            }
        };
        let Some(value) = args.next() else {
            cx.error(opt.span, format!("`{}` needs a value", opt.value), None);
            return None;
        };
        *slot = Some(int_in(cx, &opt.value, value, 0, 255)? as u8);
    }
    Some(peer)
}
