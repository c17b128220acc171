//! `auth_hmac { ... }` in a `vrrp_instance` (keepalived 2.4.0; the syntax of keepalived's
//! keepalived.conf(5) and `vrrp_parser.c`: `vrrp_auth_hmac_*_handler`, the checks of
//! `vrrp.c`: `vrrp_complete_instance`). Where keepalived reports an error and carries on
//! with a weaker setting (legacy authentication dropped, the extension disabled for want of
//! its active key, a migration mode forced to enforce under strict mode), baton refuses the
//! file: running with less authentication than it asks for is not assumed to be safe.
//!
//! No message repeats a key: a key's problems are named by its id and length only.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use super::values::{self, one_arg};
use super::{Ctx, Seen, keywords};
use crate::config::model::{AntiReplay, AuthHmac, HmacKey, HmacMode, Secret};
use crate::config::parse::Item;
use crate::config::source::Span;
use crate::wire::auth_hmac::{KEY_MAX, KEY_MIN};

/// keepalived's `VRRP_AUTH_HMAC_WINDOW_MIN` / `_MAX` / `_FLOOR`, seconds.
const WINDOW_MIN: i64 = 1;
const WINDOW_MAX: u32 = 300;
const WINDOW_FLOOR: u32 = 5;
/// A key file holds at most what an inline value would (`hex:` and 64 bytes as hex), with
/// some slack for a line end (keepalived's buffer in `vrrp_auth_hmac_read_key_file`).
const KEY_FILE_MAX: u64 = 4 + KEY_MAX as u64 * 2 + 8;

/// The block as read, before the instance's interval and strict mode are known.
pub struct Draft {
    pub span: Span,
    keys: Vec<(HmacKey, Span)>,
    /// A `key` or `active_key` line was written (an error on it was reported already).
    key_seen: bool,
    active_seen: bool,
    active_key: Option<(u8, Span)>,
    /// `true` for time.
    anti_replay: Option<(bool, Span)>,
    window: Option<(u32, Span)>,
    mode: Option<(HmacMode, Span)>,
}

/// Reads the block's lines.
pub fn read(cx: &mut Ctx, item: &Item, items: &[Item]) -> Draft {
    let mut d = Draft {
        span: item.keyword.span,
        keys: Vec::new(),
        key_seen: false,
        active_seen: false,
        active_key: None,
        anti_replay: None,
        window: None,
        mode: None,
    };
    let mut seen = Seen::default();
    for child in items {
        let kw = child.keyword.value.as_str();
        if keywords::AUTH_HMAC.contains(&kw) {
            cx.no_block(child);
        }
        match kw {
            "key" => {
                d.key_seen = true;
                if let Some(key) = key(cx, child) {
                    add_key(cx, &mut d.keys, key, child.keyword.span);
                }
            }
            "active_key" => {
                seen.check(cx, child);
                d.active_seen = true;
                d.active_key =
                    values::int_arg(cx, child, 1, 255).map(|id| (id as u8, child.args[0].span));
            }
            "time_window" => {
                seen.check(cx, child);
                d.window = values::int_arg(cx, child, WINDOW_MIN, i64::from(WINDOW_MAX))
                    .map(|s| (s as u32, child.keyword.span));
            }
            "anti_replay" => {
                seen.check(cx, child);
                d.anti_replay = one_arg(cx, child, "time").and_then(|a| match a.value.as_str() {
                    "time" => Some((true, a.span)),
                    "monotonic" => Some((false, a.span)),
                    other => {
                        cx.error(
                            a.span,
                            format!("auth_hmac anti_replay must be time or monotonic, found `{other}`"),
                            Some("time: fresh within time_window and growing (synced clocks); monotonic: growing only".to_string()),
                        );
                        None
                    }
                });
            }
            "mode" => {
                seen.check(cx, child);
                d.mode = one_arg(cx, child, "enforce").and_then(|a| match a.value.as_str() {
                    "enforce" => Some((HmacMode::Enforce, a.span)),
                    "permissive" => Some((HmacMode::Permissive, a.span)),
                    "receive-only" => Some((HmacMode::ReceiveOnly, a.span)),
                    other => {
                        cx.error(
                            a.span,
                            format!(
                                "auth_hmac mode must be enforce, permissive or receive-only, \
                                 found `{other}`"
                            ),
                            Some(
                                "roll out receive-only, then permissive, then enforce".to_string(),
                            ),
                        );
                        None
                    }
                });
            }
            _ => cx.unknown(child, "auth_hmac", keywords::AUTH_HMAC),
        }
    }
    d
}

/// The block with the instance's advert interval (for the default window) and strict mode;
/// `legacy` is the span of an `authentication` block in the same instance.
pub fn finish(
    cx: &mut Ctx,
    d: Draft,
    advert_int_cs: Option<u16>,
    strict: bool,
    legacy: Option<Span>,
) -> Option<AuthHmac> {
    let mut ok = true;
    if let Some(span) = legacy {
        // keepalived: "auth_hmac cannot be combined with authentication, dropping legacy auth".
        cx.error(
            span,
            "`authentication` and `auth_hmac` in one instance: auth_hmac replaces it",
            Some("remove the authentication block (keepalived drops it too)".to_string()),
        );
        ok = false;
    }
    if d.keys.is_empty() {
        if d.key_seen {
            return None;
        }
        cx.error(
            d.span,
            "auth_hmac has no key",
            Some(
                "add `key 1 file:/etc/baton/keys/vrrp` (32 to 64 bytes) and `active_key 1`"
                    .to_string(),
            ),
        );
        return None;
    }
    let active_key = match d.active_key {
        Some((id, span)) => {
            if !d.keys.iter().any(|(k, _)| k.id == id) {
                // keepalived disables the extension here; the adverts would go unsigned.
                cx.error(
                    span,
                    format!("auth_hmac active_key {id} is not one of its keys"),
                    Some(format!(
                        "define `key {id} ...` or use one of: {}",
                        ids(&d.keys)
                    )),
                );
                ok = false;
            }
            id
        }
        None if d.active_seen => return None,
        None => {
            cx.error(
                d.span,
                "auth_hmac has no active_key: keepalived would send unsigned adverts",
                Some(format!("add `active_key ID` with one of: {}", ids(&d.keys))),
            );
            return None;
        }
    };
    let mode = d.mode.map_or(HmacMode::Enforce, |m| m.0);
    if let (true, Some((m, span))) = (strict, d.mode)
        && m != HmacMode::Enforce
    {
        cx.error(
            span,
            format!(
                "auth_hmac mode {} is not allowed with vrrp_strict / strict_mode",
                m.as_str()
            ),
            Some("use `mode enforce` (keepalived forces it)".to_string()),
        );
        ok = false;
    }
    let time = d.anti_replay.is_none_or(|a| a.0);
    let anti_replay = if time {
        // keepalived: max(3 x advert_int in whole seconds, 5), at most 300.
        let derived = || {
            let secs = u32::from(advert_int_cs.unwrap_or(100)) / 100;
            (3 * secs).clamp(WINDOW_FLOOR, WINDOW_MAX)
        };
        AntiReplay::Time {
            window_s: d.window.map_or_else(derived, |w| w.0),
        }
    } else {
        if let Some((_, span)) = d.window {
            cx.warning(
                span,
                "time_window is used only with `anti_replay time`; ignored",
                Some("remove it, or use anti_replay time".to_string()),
            );
        }
        AntiReplay::Monotonic
    };
    ok.then(|| AuthHmac {
        keys: d.keys.into_iter().map(|(k, _)| k).collect(),
        active_key,
        anti_replay,
        mode,
    })
}

fn ids(keys: &[(HmacKey, Span)]) -> String {
    keys.iter()
        .map(|(k, _)| k.id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn add_key(cx: &mut Ctx, keys: &mut Vec<(HmacKey, Span)>, key: HmacKey, span: Span) {
    if let Some((_, first)) = keys.iter().find(|(k, _)| k.id == key.id) {
        cx.error(
            span,
            format!("auth_hmac key {} is defined twice", key.id),
            Some(format!(
                "first defined on line {}; give each key its own id",
                first.line
            )),
        );
        return;
    }
    keys.push((key, span));
}

/// `key ID VALUE`: VALUE is `hex:HEX`, `file:PATH` or the key as text.
fn key(cx: &mut Ctx, item: &Item) -> Option<HmacKey> {
    let (Some(id), Some(value)) = (item.args.first(), item.args.get(1)) else {
        cx.error(
            item.keyword.span,
            "auth_hmac `key` needs an id and a value",
            Some("for example: key 1 file:/etc/baton/keys/vrrp".to_string()),
        );
        return None;
    };
    if let Some(extra) = item.args.get(2) {
        // Not echoed: it may be part of a key with a space in it.
        cx.error(
            extra.span,
            "auth_hmac `key` takes an id and one value; this line has more",
            Some("a key with spaces must be quoted, or written as hex:".to_string()),
        );
        return None;
    }
    let id = values::int_in(cx, "auth_hmac key id", id, 1, 255)? as u8;
    let (bytes, file) = if let Some(path) = value.value.strip_prefix("file:") {
        let text = read_key_file(cx, value.span, id, path)?;
        (
            decode(cx, value.span, id, &text, true)?,
            Some(path.to_string()),
        )
    } else {
        (decode(cx, value.span, id, &value.value, false)?, None)
    };
    if !(KEY_MIN..=KEY_MAX).contains(&bytes.len()) {
        cx.error(
            value.span,
            format!(
                "auth_hmac key {id} is {} bytes long; it must be {KEY_MIN} to {KEY_MAX} bytes",
                bytes.len()
            ),
            Some("generate one with: openssl rand -hex 32 (and write it as hex:...)".to_string()),
        );
        return None;
    }
    Some(HmacKey {
        id,
        secret: Secret::new(bytes),
        file,
    })
}

/// keepalived's `vrrp_auth_hmac_decode_key`: `hex:` then hex digits, else the text's bytes.
fn decode(cx: &mut Ctx, span: Span, id: u8, text: &str, from_file: bool) -> Option<Vec<u8>> {
    let Some(hex) = text.strip_prefix("hex:") else {
        return Some(text.as_bytes().to_vec());
    };
    let digits = hex.as_bytes();
    let valid = digits.len() % 2 == 0 && digits.iter().all(u8::is_ascii_hexdigit);
    if !valid {
        let whence = if from_file { " (in its file)" } else { "" };
        cx.error(
            span,
            format!(
                "auth_hmac key {id}{whence}: hex: must be followed by an even number of hex digits"
            ),
            Some(
                "for example: hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                    .to_string(),
            ),
        );
        return None;
    }
    Some(
        digits
            .chunks(2)
            .map(|p| (hex_val(p[0]) << 4) | hex_val(p[1]))
            .collect(),
    )
}

fn hex_val(c: u8) -> u8 {
    // Only called on checked hex digits.
    char::from(c).to_digit(16).map_or(0, |d| d as u8)
}

/// The key file's text without its line end: a regular file, not a symlink, readable by its
/// owner only (keepalived reports group or other access as a security error), small.
fn read_key_file(cx: &mut Ctx, span: Span, id: u8, path: &str) -> Option<String> {
    let fail = |cx: &mut Ctx, why: String, help: &str| {
        cx.error(
            span,
            format!("auth_hmac key {id}: the key file {path} {why}"),
            Some(help.to_string()),
        );
        None
    };
    if !path.starts_with('/') {
        return fail(
            cx,
            "is not an absolute path".into(),
            "write file:/absolute/path",
        );
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            return fail(
                cx,
                format!("cannot be opened: {e}"),
                "a regular file, not a symlink, mode 0600",
            );
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            return fail(
                cx,
                format!("cannot be read: {e}"),
                "a regular file, mode 0600",
            );
        }
    };
    if !meta.is_file() {
        return fail(
            cx,
            "is not a regular file".into(),
            "a regular file, mode 0600",
        );
    }
    if meta.mode() & 0o077 != 0 {
        return fail(
            cx,
            format!(
                "is readable or writable by others (mode {:04o})",
                meta.mode() & 0o7777
            ),
            "chmod 600 it: it holds a secret",
        );
    }
    if meta.len() > KEY_FILE_MAX {
        return fail(
            cx,
            format!(
                "is too large ({} bytes, at most {KEY_FILE_MAX})",
                meta.len()
            ),
            "it holds one key: hex:... or the key as text",
        );
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.by_ref().take(KEY_FILE_MAX + 1).read_to_end(&mut bytes) {
        return fail(
            cx,
            format!("cannot be read: {e}"),
            "a regular file, mode 0600",
        );
    }
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(_) => fail(
            cx,
            "is not text".into(),
            "write the key as hex:... (binary keys in hex)",
        ),
    }
}
