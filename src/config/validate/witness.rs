//! The `witness` block (baton extension): an etcd v3 cluster whose leases gate mastership.

use super::values::{self, int_arg, one_arg};
use super::{Ctx, Seen, keywords};
use crate::config::model::Witness;
use crate::config::parse::Item;
use crate::vrrp::WhenUnreachable;

/// Reads the `witness` block, if there is one (at most one).
pub fn build(cx: &mut Ctx, items: &[Item]) -> Option<Witness> {
    let mut found: Option<Witness> = None;
    let mut first_line = None;
    for item in items.iter().filter(|i| i.keyword.value == "witness") {
        values::extra_args(cx, item, 0);
        if let Some(line) = first_line {
            cx.error(
                item.keyword.span,
                "`witness` is defined twice",
                Some(format!("the first one is on line {line}; keep one")),
            );
            continue;
        }
        first_line = Some(item.keyword.span.line);
        let Some(children) = cx.block(item, "endpoints http://192.0.2.10:2379") else {
            continue;
        };
        found = block(cx, item, children);
    }
    found
}

fn block(cx: &mut Ctx, item: &Item, children: &[Item]) -> Option<Witness> {
    let mut w = Witness {
        endpoints: Vec::new(),
        prefix: "/baton/".to_string(),
        lease_ttl_s: 3,
        name: None,
        when_unreachable: WhenUnreachable::Release,
        timeout_ms: 0,
        ca_file: None,
        cert_file: None,
        key_file: None,
    };
    let mut seen = Seen::default();
    let mut timeout_ms = None;
    for child in children {
        let kw = child.keyword.value.as_str();
        if keywords::WITNESS.contains(&kw) {
            seen.check(cx, child);
            cx.no_block(child);
        }
        match kw {
            "endpoints" => w.endpoints = endpoints(cx, child),
            "prefix" => {
                if let Some(p) = one_arg(cx, child, "/baton/") {
                    w.prefix = p.value.clone();
                }
            }
            "lease_ttl" => {
                if let Some(s) = int_arg(cx, child, 2, 300) {
                    w.lease_ttl_s = s as u32;
                }
            }
            "name" => w.name = one_arg(cx, child, "node1").map(|a| a.value.clone()),
            "when_unreachable" => {
                if let Some(policy) = when_unreachable(cx, child) {
                    w.when_unreachable = policy;
                }
            }
            "timeout" => timeout_ms = values::millis_arg(cx, child, 60),
            "ca_file" => w.ca_file = path(cx, child),
            "cert_file" => w.cert_file = path(cx, child),
            "key_file" => w.key_file = path(cx, child),
            _ => cx.unknown(child, "witness", keywords::WITNESS),
        }
    }
    let ttl_ms = u64::from(w.lease_ttl_s) * 1000;
    w.timeout_ms = timeout_ms.unwrap_or(ttl_ms / 6).max(1);
    if w.timeout_ms * 3 > ttl_ms {
        cx.error(
            item.keyword.span,
            format!(
                "witness timeout {} ms is too long for lease_ttl {} s",
                w.timeout_ms, w.lease_ttl_s
            ),
            Some(
                "a master renews its lease every third of lease_ttl; keep timeout at most a \
                 third of it"
                    .to_string(),
            ),
        );
    }
    check(cx, item, &w).then_some(w)
}

fn check(cx: &mut Ctx, item: &Item, w: &Witness) -> bool {
    let mut ok = true;
    if w.endpoints.is_empty() {
        cx.error(
            item.keyword.span,
            "witness needs `endpoints`",
            Some("e.g. `endpoints http://192.0.2.10:2379 http://192.0.2.11:2379`".to_string()),
        );
        ok = false;
    }
    let tls = w.endpoints.iter().any(|e| e.starts_with("https://"));
    if tls && w.endpoints.iter().any(|e| e.starts_with("http://")) {
        cx.error(
            item.keyword.span,
            "witness endpoints mix http:// and https://",
            Some("use one scheme for every endpoint".to_string()),
        );
        ok = false;
    }
    let tls_files = w.ca_file.is_some() || w.cert_file.is_some() || w.key_file.is_some();
    if tls_files && !tls {
        cx.error(
            item.keyword.span,
            "witness has TLS files but its endpoints are http://",
            Some("write the endpoints as https://HOST:PORT".to_string()),
        );
        ok = false;
    }
    if w.cert_file.is_some() != w.key_file.is_some() {
        cx.error(
            item.keyword.span,
            "witness needs both `cert_file` and `key_file` for a client certificate",
            None,
        );
        ok = false;
    }
    if !w.prefix.starts_with('/') {
        cx.error(
            item.keyword.span,
            format!("witness prefix `{}` must start with /", w.prefix),
            None,
        );
        ok = false;
    }
    ok
}

fn endpoints(cx: &mut Ctx, item: &Item) -> Vec<String> {
    if item.args.is_empty() {
        one_arg(cx, item, "http://192.0.2.10:2379");
        return Vec::new();
    }
    let mut out = Vec::new();
    for arg in &item.args {
        match endpoint(&arg.value) {
            Ok(()) => out.push(arg.value.trim_end_matches('/').to_string()),
            Err(why) => cx.error(
                arg.span,
                format!("witness endpoint `{}` {why}", arg.value),
                Some("expected http://HOST:PORT or https://HOST:PORT".to_string()),
            ),
        }
    }
    out
}

fn endpoint(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("is not an http:// or https:// address")?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') || authority.contains('?') || authority.contains('@') {
        return Err("has a path, query or user part");
    }
    let (host, port) = authority.rsplit_once(':').ok_or("has no port")?;
    let port: u16 = port.parse().map_err(|_| "has no valid port")?;
    if port == 0 || host.is_empty() {
        return Err("has no valid host and port");
    }
    Ok(())
}

fn when_unreachable(cx: &mut Ctx, item: &Item) -> Option<WhenUnreachable> {
    let arg = one_arg(cx, item, "release")?;
    match arg.value.as_str() {
        "release" => Some(WhenUnreachable::Release),
        "keep" => Some(WhenUnreachable::Keep),
        "takeover" => Some(WhenUnreachable::Takeover),
        other => {
            cx.error(
                arg.span,
                format!("when_unreachable must be release, keep or takeover, found `{other}`"),
                Some(
                    "release: a master lets go when its lease runs out (the default); keep: \
                     it keeps the VIP while the witness is down; takeover: as keep, and a \
                     backup that hears no master takes over without the witness"
                        .to_string(),
                ),
            );
            None
        }
    }
}

fn path(cx: &mut Ctx, item: &Item) -> Option<std::path::PathBuf> {
    let arg = one_arg(cx, item, "/etc/baton/witness-ca.pem")?;
    if !arg.value.starts_with('/') {
        cx.error(
            arg.span,
            format!("`{}` needs an absolute path", item.keyword.value),
            None,
        );
        return None;
    }
    Some(arg.value.clone().into())
}

/// Two instances on one key would follow one lease: the second would wait forever for a
/// lease its own node holds. Same VRID on two interfaces (legal in VRRP) needs a
/// `witness_key` of its own.
pub fn check_keys(cx: &mut Ctx, instances: &[super::instance::Built]) {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for built in instances {
        let i = &built.instance;
        let Some(key) = i.witness_key.as_deref() else {
            continue;
        };
        match seen.get(key) {
            Some(first) => cx.error(
                built.name_span,
                format!(
                    "vrrp_instance `{}` has the witness key `{key}` of vrrp_instance `{first}`",
                    i.name
                ),
                Some(
                    "each instance needs a key of its own: give one of them `witness_key NAME` \
                     (the same on every node of its group), or `no_witness`"
                        .to_string(),
                ),
            ),
            None => {
                seen.insert(key, &i.name);
            }
        }
    }
}
