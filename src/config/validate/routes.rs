//! `virtual_routes` and `virtual_rules` lines: the subset of keepalived's `ip route` /
//! `ip rule` syntax that baton installs. An option keepalived knows but baton does not
//! install is an error naming it: a route or rule that is only half installed sends traffic
//! somewhere the file did not say.

use super::Ctx;
use crate::config::model::{
    Family, PROTO_KEEPALIVED, RouteKind, TABLE_MAIN, VirtualRoute, VirtualRule,
};
use crate::config::parse::Item;
use crate::config::source::{Span, Spanned};
use std::net::IpAddr;

/// keepalived route options baton does not install.
const ROUTE_REFUSED: &[&str] = &[
    "as",
    "from",
    "tos",
    "dsfield",
    "onlink",
    "encap",
    "expires",
    "mtu",
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "pref",
    "ttl-propagate",
    "fastopen_no_cookie",
    "add",
    "prepend",
    "append",
    "or",
    "nexthop",
    "track_group",
    "vrf",
];

/// Route types of `ip route` that baton does not install.
const ROUTE_TYPES_REFUSED: &[&str] = &[
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "throw",
    "nat",
    "xresolve",
];

/// keepalived rule options baton does not install.
const RULE_REFUSED: &[&str] = &[
    "not",
    "tos",
    "dsfield",
    "realms",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "tunnel-id",
    "uidrange",
    "l3mdev",
    "protocol",
    "ipproto",
    "sport",
    "dport",
    "goto",
    "nop",
    "type",
    "blackhole",
    "unreachable",
    "prohibit",
    "track_group",
];

/// The words of a line: the keyword and its arguments.
fn words(item: &Item) -> Vec<&Spanned<String>> {
    std::iter::once(&item.keyword)
        .chain(item.args.iter())
        .collect()
}

/// The word after `words[*i]`, which names an option that needs a value.
fn value<'a>(
    cx: &mut Ctx,
    words: &[&'a Spanned<String>],
    i: &mut usize,
    what: &str,
) -> Option<&'a Spanned<String>> {
    let opt = words[*i];
    *i += 1;
    let v = words.get(*i).copied();
    if v.is_none() {
        cx.error(
            opt.span,
            format!("`{}` needs a value in this {what} line", opt.value),
            Some(format!("e.g. `{} VALUE`", opt.value)),
        );
    }
    v
}

/// `ADDR[/LEN]` with no host bits set beyond the length.
fn prefix(cx: &mut Ctx, word: &Spanned<String>, what: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = match word.value.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (word.value.as_str(), None),
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        cx.error(
            word.span,
            format!(
                "`{}` is not an address or prefix in this {what}",
                word.value
            ),
            Some("expected e.g. 192.0.2.0/24 or 2001:db8::/64".to_string()),
        );
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l.map(str::parse::<u8>) {
        None => max,
        Some(Ok(len)) if len <= max => len,
        Some(_) => {
            cx.error(
                word.span,
                format!("prefix length out of range in `{}`", word.value),
                Some(format!("expected a prefix length from 0 to {max}")),
            );
            return None;
        }
    };
    let network = mask(addr, len);
    if network != addr {
        cx.error(
            word.span,
            format!("`{}` has host bits set beyond /{len}", word.value),
            Some(format!("write the network: {network}/{len}")),
        );
        return None;
    }
    Some((addr, len))
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

fn address(cx: &mut Ctx, word: &Spanned<String>, opt: &str) -> Option<IpAddr> {
    let parsed = word.value.parse::<IpAddr>().ok();
    if parsed.is_none() {
        cx.error(
            word.span,
            format!("`{opt} {}`: not an IP address", word.value),
            Some("expected an address like 192.0.2.1 or 2001:db8::1".to_string()),
        );
    }
    parsed
}

fn number(cx: &mut Ctx, word: &Spanned<String>, opt: &str, lo: u64, hi: u64) -> Option<u64> {
    let text = word.value.as_str();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse::<u64>().ok(),
    };
    match parsed {
        Some(n) if (lo..=hi).contains(&n) => Some(n),
        _ => {
            cx.error(
                word.span,
                format!("`{opt} {text}`: expected a number from {lo} to {hi}"),
                None,
            );
            None
        }
    }
}

/// `table T`: a number or main/default/local (other names of /etc/iproute2/rt_tables are
/// not read: write the number).
fn table(cx: &mut Ctx, word: &Spanned<String>, opt: &str) -> Option<u32> {
    match word.value.as_str() {
        "main" => Some(TABLE_MAIN),
        "default" => Some(253),
        "local" => Some(255),
        w if w.bytes().all(|b| b.is_ascii_digit()) => {
            number(cx, word, opt, 1, u64::from(u32::MAX)).map(|n| n as u32)
        }
        w => {
            cx.error(
                word.span,
                format!("`{opt} {w}`: baton knows the tables main, default and local by name"),
                Some("write the table's number (as in /etc/iproute2/rt_tables)".to_string()),
            );
            None
        }
    }
}

fn scope(cx: &mut Ctx, word: &Spanned<String>) -> Option<u8> {
    Some(match word.value.as_str() {
        "global" | "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        _ => return number(cx, word, "scope", 0, 255).map(|n| n as u8),
    })
}

fn protocol(cx: &mut Ctx, word: &Spanned<String>) -> Option<u8> {
    Some(match word.value.as_str() {
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "ra" => 9,
        "dhcp" => 16,
        "keepalived" => PROTO_KEEPALIVED,
        _ => return number(cx, word, "proto", 0, 255).map(|n| n as u8),
    })
}

fn kind(word: &str) -> Option<RouteKind> {
    Some(match word {
        "unicast" => RouteKind::Unicast,
        "blackhole" => RouteKind::Blackhole,
        "unreachable" => RouteKind::Unreachable,
        "prohibit" => RouteKind::Prohibit,
        _ => return None,
    })
}

/// Remembers the family the first address of a line gave, and reports a second one that
/// differs.
struct FamilyOf {
    first: Option<(Family, String)>,
    ok: bool,
}

impl FamilyOf {
    fn new() -> FamilyOf {
        FamilyOf {
            first: None,
            ok: true,
        }
    }

    fn see(&mut self, cx: &mut Ctx, family: Family, span: Span, word: &str, what: &str) {
        match &self.first {
            None => self.first = Some((family, word.to_string())),
            Some((f, first)) if *f != family => {
                cx.error(
                    span,
                    format!("this {what} mixes IPv4 and IPv6: `{word}` and `{first}`"),
                    Some(format!("one {what} is of one family; write two lines")),
                );
                self.ok = false;
            }
            Some(_) => {}
        }
    }

    fn family(&self) -> Option<Family> {
        self.first.as_ref().map(|(f, _)| *f)
    }
}

fn family_word(word: &str) -> Option<Family> {
    match word {
        "inet" => Some(Family::IPv4),
        "inet6" => Some(Family::IPv6),
        _ => None,
    }
}

/// One `virtual_routes` line: `[src IP] [to] [TYPE] PREFIX|default [via|gw IP] [dev IF]
/// [scope S] [table T] [metric N] [proto P] [type TYPE] [no_track]`.
pub fn route(cx: &mut Ctx, item: &Item) -> Option<VirtualRoute> {
    cx.no_block(item);
    let words = words(item);
    let mut fam = FamilyOf::new();
    let mut ok = true;
    let mut dst: Option<(Option<(IpAddr, u8)>, Span)> = None;
    let mut r = VirtualRoute {
        kind: RouteKind::Unicast,
        dst: IpAddr::from([0, 0, 0, 0]),
        dst_len: 0,
        src: None,
        via: None,
        dev: None,
        scope: None,
        table: TABLE_MAIN,
        metric: None,
        protocol: PROTO_KEEPALIVED,
        no_track: false,
    };
    let mut kind_span = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let word = w.value.as_str();
        match word {
            "inet" | "inet6" => {
                let f = family_word(word).unwrap_or(Family::IPv4);
                fam.see(cx, f, w.span, word, "route");
            }
            "src" | "via" | "gw" => {
                let mut v = value(cx, &words, &mut i, "route")?;
                if word != "src"
                    && let Some(f) = family_word(&v.value)
                {
                    fam.see(cx, f, v.span, &v.value, "route");
                    v = value(cx, &words, &mut i, "route")?;
                }
                let a = address(cx, v, word)?;
                fam.see(cx, Family::of(&a), v.span, &v.value, "route");
                if word == "src" {
                    r.src = Some(a);
                } else {
                    r.via = Some(a);
                }
            }
            "dev" | "oif" => r.dev = Some(value(cx, &words, &mut i, "route")?.value.clone()),
            "scope" => {
                let v = value(cx, &words, &mut i, "route")?;
                r.scope = Some(scope(cx, v)?);
            }
            "table" => {
                let v = value(cx, &words, &mut i, "route")?;
                r.table = table(cx, v, "table")?;
            }
            "metric" | "priority" | "preference" => {
                let v = value(cx, &words, &mut i, "route")?;
                r.metric = Some(number(cx, v, word, 0, u64::from(u32::MAX))? as u32);
            }
            "proto" | "protocol" => {
                let v = value(cx, &words, &mut i, "route")?;
                r.protocol = protocol(cx, v)?;
            }
            "type" => {
                let v = value(cx, &words, &mut i, "route")?;
                let Some(k) = kind(&v.value) else {
                    refuse_type(cx, v);
                    return None;
                };
                r.kind = k;
                kind_span = Some(v.span);
            }
            "no_track" => r.no_track = true,
            _ if kind(word).is_some() => {
                r.kind = kind(word).unwrap_or(RouteKind::Unicast);
                kind_span = Some(w.span);
            }
            _ if ROUTE_TYPES_REFUSED.contains(&word) => {
                refuse_type(cx, w);
                return None;
            }
            _ if ROUTE_REFUSED.contains(&word) => {
                cx.error(
                    w.span,
                    format!("baton does not install the route option `{word}`"),
                    Some(
                        "remove it, or install this route another way; baton installs src, \
                         via/gw, dev, scope, table, metric, proto, type unicast/blackhole/\
                         unreachable/prohibit and no_track"
                            .to_string(),
                    ),
                );
                return None;
            }
            _ => {
                // `to PREFIX`, `to TYPE PREFIX` or a bare PREFIX / `default`.
                let mut target = w;
                if word == "to" {
                    target = value(cx, &words, &mut i, "route")?;
                    if let Some(k) = kind(&target.value) {
                        r.kind = k;
                        kind_span = Some(target.span);
                        target = value(cx, &words, &mut i, "route")?;
                    }
                }
                if let Some((_, first)) = dst {
                    cx.error(
                        target.span,
                        format!(
                            "`{}` is not a route option, and the route already has a \
                             destination (column {})",
                            target.value, first.col
                        ),
                        Some(
                            "expected src, via/gw, dev, scope, table, metric, proto, type \
                             or no_track"
                                .to_string(),
                        ),
                    );
                    return None;
                }
                if target.value == "default" {
                    dst = Some((None, target.span));
                } else {
                    let p = prefix(cx, target, "route")?;
                    fam.see(cx, Family::of(&p.0), target.span, &target.value, "route");
                    dst = Some((Some(p), target.span));
                }
            }
        }
        i += 1;
    }
    let Some((dst, dst_span)) = dst else {
        cx.error(
            item.keyword.span,
            "this route has no destination",
            Some("e.g. `198.51.100.0/24 via 192.0.2.1` or `blackhole 203.0.113.0/24`".into()),
        );
        return None;
    };
    ok &= fam.ok;
    let family = fam.family().unwrap_or(Family::IPv4);
    (r.dst, r.dst_len) = dst.unwrap_or(match family {
        Family::IPv4 => (IpAddr::from([0u8; 4]), 0),
        Family::IPv6 => (IpAddr::from([0u16; 8]), 0),
    });
    match r.kind {
        RouteKind::Unicast if r.via.is_none() && r.dev.is_none() => {
            cx.error(
                dst_span,
                format!(
                    "the route to {}/{} has neither `via` nor `dev`",
                    r.dst, r.dst_len
                ),
                Some("say where it goes: `via GATEWAY` and/or `dev INTERFACE`".to_string()),
            );
            ok = false;
        }
        RouteKind::Unicast => {}
        k if r.via.is_some() || r.dev.is_some() => {
            cx.error(
                kind_span.unwrap_or(dst_span),
                format!(
                    "a {} route has no gateway or device; remove `via`/`dev`",
                    k.as_str()
                ),
                None,
            );
            ok = false;
        }
        _ => {}
    }
    ok.then_some(r)
}

fn refuse_type(cx: &mut Ctx, w: &Spanned<String>) {
    cx.error(
        w.span,
        format!("baton does not install routes of type `{}`", w.value),
        Some("supported types: unicast, blackhole, unreachable, prohibit".to_string()),
    );
}

/// One `virtual_rules` line: `[from PREFIX|all] [to PREFIX|all] table|lookup T
/// [priority|preference|pref|order N] [iif|dev IF] [oif IF] [fwmark M[/MASK]] [no_track]`.
pub fn rule(cx: &mut Ctx, item: &Item) -> Option<VirtualRule> {
    cx.no_block(item);
    let words = words(item);
    let mut fam = FamilyOf::new();
    let mut r = VirtualRule {
        family: Family::IPv4,
        from: None,
        to: None,
        table: 0,
        priority: None,
        iif: None,
        oif: None,
        fwmark: None,
        no_track: false,
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let word = w.value.as_str();
        match word {
            "inet" | "inet6" => {
                let f = family_word(word).unwrap_or(Family::IPv4);
                fam.see(cx, f, w.span, word, "rule");
            }
            "from" | "to" => {
                let v = value(cx, &words, &mut i, "rule")?;
                if v.value != "all" {
                    let p = prefix(cx, v, "rule")?;
                    fam.see(cx, Family::of(&p.0), v.span, &v.value, "rule");
                    if word == "from" {
                        r.from = Some(p);
                    } else {
                        r.to = Some(p);
                    }
                }
            }
            "table" | "lookup" => {
                let v = value(cx, &words, &mut i, "rule")?;
                r.table = table(cx, v, word)?;
            }
            "priority" | "preference" | "pref" | "order" => {
                let v = value(cx, &words, &mut i, "rule")?;
                r.priority = Some(number(cx, v, word, 0, u64::from(u32::MAX))? as u32);
            }
            "iif" | "dev" => r.iif = Some(value(cx, &words, &mut i, "rule")?.value.clone()),
            "oif" => r.oif = Some(value(cx, &words, &mut i, "rule")?.value.clone()),
            "fwmark" => {
                let v = value(cx, &words, &mut i, "rule")?;
                let (m, mask) = match v.value.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (v.value.as_str(), None),
                };
                let part = |text: &str| Spanned {
                    value: text.to_string(),
                    span: v.span,
                };
                let max = u64::from(u32::MAX);
                let m = number(cx, &part(m), "fwmark", 0, max)? as u32;
                let mask = match mask {
                    Some(k) => Some(number(cx, &part(k), "fwmark mask", 0, max)? as u32),
                    None => None,
                };
                r.fwmark = Some((m, mask));
            }
            "no_track" => r.no_track = true,
            _ if RULE_REFUSED.contains(&word) => {
                cx.error(
                    w.span,
                    format!("baton does not install the rule option `{word}`"),
                    Some(
                        "remove it, or install this rule another way; baton installs from, \
                         to, table/lookup, priority, iif, oif, fwmark and no_track"
                            .to_string(),
                    ),
                );
                return None;
            }
            _ => {
                cx.error(
                    w.span,
                    format!("unknown rule option `{word}`"),
                    Some(
                        "expected from, to, table/lookup, priority, iif, oif, fwmark or \
                         no_track"
                            .to_string(),
                    ),
                );
                return None;
            }
        }
        i += 1;
    }
    if r.table == 0 {
        cx.error(
            item.keyword.span,
            "this rule has no `table`: baton installs rules that look up a table",
            Some("e.g. `from 192.0.2.0/24 table 100`".to_string()),
        );
        return None;
    }
    r.family = fam.family().unwrap_or(Family::IPv4);
    fam.ok.then_some(r)
}

#[cfg(test)]
mod tests {
    use crate::config::model::{Family, Model, RouteKind, VirtualRoute, VirtualRule};
    use crate::config::{Diagnostic, parse_str};
    use std::net::IpAddr;

    /// A file whose `virtual_routes` / `virtual_rules` block starts on line 7: its first
    /// line is on line 8.
    fn file(block: &str, lines: &[&str]) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{\n 192.0.2.100/24\n }}\n {block} {{\n{}\n }}\n}}\n",
            lines.join("\n")
        )
    }

    fn model(block: &str, lines: &[&str]) -> Model {
        let (model, diags) = parse_str("t.conf", &file(block, lines));
        assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
        model.expect("valid")
    }

    fn routes(lines: &[&str]) -> Vec<VirtualRoute> {
        model("virtual_routes", lines).instances[0].routes.clone()
    }

    fn rules(lines: &[&str]) -> Vec<VirtualRule> {
        model("virtual_rules", lines).instances[0].rules.clone()
    }

    /// The one error of the file, which must name `needle` and sit on `line`.
    fn error(block: &str, lines: &[&str], line: u32, needle: &str) -> Diagnostic {
        let (model, diags) = parse_str("t.conf", &file(block, lines));
        assert!(model.is_none(), "expected an error for {lines:?}");
        let errs: Vec<_> = diags.into_iter().filter(|d| d.is_error()).collect();
        let e = errs
            .iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("no error containing {needle:?}: {errs:#?}"))
            .clone();
        assert_eq!(e.span.line, line, "{e:#?}");
        e
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn route_forms() {
        let r = routes(&[
            "src 192.0.2.10 to 198.51.100.0/24 via 192.0.2.1 dev eth1",
            "203.0.113.0/24 via 192.0.2.1 table 100 metric 20 proto static scope global",
            "198.51.100.128/25 dev eth0 no_track",
            "blackhole 203.0.113.128/25",
            "0.0.0.0/0 gw 192.0.2.254 table 100",
            "2001:db8:1::/48 via 2001:db8::1 preference 5",
            "default via inet6 2001:db8::1 table main",
            "type unreachable 198.51.100.64/26 table 7",
            "to prohibit 2001:db8:2::/48",
            "198.51.100.32/27 dev eth0 type unicast oif eth0 priority 3",
        ]);
        assert_eq!(r.len(), 10);
        assert_eq!(r[0].src, Some(ip("192.0.2.10")));
        assert_eq!((r[0].dst, r[0].dst_len), (ip("198.51.100.0"), 24));
        assert_eq!(r[0].via, Some(ip("192.0.2.1")));
        assert_eq!(r[0].dev.as_deref(), Some("eth1"));
        assert_eq!((r[0].table, r[0].protocol, r[0].no_track), (254, 18, false));
        assert_eq!((r[1].table, r[1].metric, r[1].protocol), (100, Some(20), 4));
        assert_eq!(r[1].scope, Some(0));
        assert!(r[2].no_track);
        assert_eq!(r[3].kind, RouteKind::Blackhole);
        assert_eq!((r[4].dst_len, r[4].via), (0, Some(ip("192.0.2.254"))));
        assert_eq!((r[5].dst_len, r[5].metric), (48, Some(5)));
        assert_eq!(
            (r[6].dst, r[6].dst_len),
            (ip("::"), 0),
            "default of the gateway's family"
        );
        assert_eq!((r[7].kind, r[7].table), (RouteKind::Unreachable, 7));
        assert_eq!(r[8].kind, RouteKind::Prohibit);
        assert_eq!((r[9].kind, r[9].metric), (RouteKind::Unicast, Some(3)));
        assert_eq!(
            r[0].to_string(),
            "198.51.100.0/24 src 192.0.2.10 via 192.0.2.1 dev eth1"
        );
        assert_eq!(r[3].to_string(), "blackhole 203.0.113.128/25");
    }

    #[test]
    fn route_errors_name_the_line_and_the_option() {
        let e = error(
            "virtual_routes",
            &[
                "198.51.100.0/24 via 192.0.2.1",
                "198.51.100.0/24 via 192.0.2.1 mtu 1400",
            ],
            9,
            "`mtu`",
        );
        assert_eq!(e.span.col, 31, "the column of `mtu`");
        error(
            "virtual_routes",
            &["198.51.100.0/24 via 192.0.2.1 onlink"],
            8,
            "`onlink`",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 nexthop via 192.0.2.1 nexthop via 192.0.2.2"],
            8,
            "`nexthop`",
        );
        error(
            "virtual_routes",
            &["local 198.51.100.0/24"],
            8,
            "type `local`",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 via 2001:db8::1"],
            8,
            "mixes IPv4 and IPv6",
        );
        error(
            "virtual_routes",
            &["src 2001:db8::1 198.51.100.0/24 dev eth0"],
            8,
            "mixes",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24"],
            8,
            "neither `via` nor `dev`",
        );
        error(
            "virtual_routes",
            &["blackhole 198.51.100.0/24 dev eth0"],
            8,
            "no gateway",
        );
        error("virtual_routes", &["via 192.0.2.1"], 8, "no destination");
        error(
            "virtual_routes",
            &["198.51.100.1/24 dev eth0"],
            8,
            "host bits",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 dev eth0 table 0"],
            8,
            "from 1 to",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 dev eth0 table blue"],
            8,
            "by name",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 dev eth0 metric"],
            8,
            "needs a value",
        );
        error(
            "virtual_routes",
            &["198.51.100.0/24 dev eth0 bogus"],
            8,
            "`bogus`",
        );
    }

    #[test]
    fn rule_forms() {
        let r = rules(&[
            "from 192.0.2.0/24 table 100",
            "from 192.0.2.0/24 to 198.51.100.0/24 lookup 100 priority 100",
            "to 2001:db8::/32 table 200 pref 7 iif eth0 oif eth1",
            "from all fwmark 0x10/0xff table 5 preference 10 no_track",
            "from ::/0 table 6 order 11",
        ]);
        assert_eq!(r[0].from, Some((ip("192.0.2.0"), 24)));
        assert_eq!(
            (r[0].table, r[0].priority, r[0].family),
            (100, None, Family::IPv4)
        );
        assert_eq!(r[1].to, Some((ip("198.51.100.0"), 24)));
        assert_eq!(r[1].priority, Some(100));
        assert_eq!(r[2].family, Family::IPv6);
        assert_eq!(
            (r[2].iif.as_deref(), r[2].oif.as_deref()),
            (Some("eth0"), Some("eth1"))
        );
        assert_eq!(
            (r[3].fwmark, r[3].from, r[3].no_track),
            (Some((16, Some(255))), None, true)
        );
        assert_eq!((r[4].family, r[4].priority), (Family::IPv6, Some(11)));
        assert_eq!(
            r[1].to_string(),
            "from 192.0.2.0/24 to 198.51.100.0/24 priority 100 table 100"
        );
    }

    #[test]
    fn rule_errors_name_the_line_and_the_option() {
        error(
            "virtual_rules",
            &[
                "from 192.0.2.0/24 table 1",
                "from 192.0.2.0/24 to 2001:db8::/32 table 1",
            ],
            9,
            "mixes IPv4 and IPv6",
        );
        error("virtual_rules", &["from 192.0.2.0/24"], 8, "no `table`");
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 table 1 uidrange 1-2"],
            8,
            "`uidrange`",
        );
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 goto 40 priority 1"],
            8,
            "`goto`",
        );
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 blackhole"],
            8,
            "`blackhole`",
        );
        error(
            "virtual_rules",
            &["not from 192.0.2.0/24 table 1"],
            8,
            "`not`",
        );
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 table 1 tos 4"],
            8,
            "`tos`",
        );
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 table 1 wibble"],
            8,
            "`wibble`",
        );
        error(
            "virtual_rules",
            &["from 192.0.2.0/24 table 1 fwmark x"],
            8,
            "fwmark",
        );
    }

    #[test]
    fn excluded_addresses_take_the_address_syntax_and_mix_families() {
        let m = model(
            "virtual_ipaddress_excluded",
            &[
                "192.0.2.200/24 dev eth1 label eth1:x",
                "2001:db8::200/64 no_track",
            ],
        );
        let i = &m.instances[0];
        assert_eq!(i.vips.len(), 1, "not in the advertised list");
        assert_eq!(i.excluded_vips.len(), 2);
        assert_eq!(i.excluded_vips[0].dev.as_deref(), Some("eth1"));
        assert!(i.excluded_vips[1].flags.no_track);
    }
}
