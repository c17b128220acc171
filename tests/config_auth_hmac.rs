//! `auth_hmac { ... }` as keepalived.conf(5) of keepalived 2.4.3 spells it: keys inline
//! (`hex:` or text) or from `file:`, `active_key`, `anti_replay`, `time_window`, `mode`;
//! bad input refused at its line; a key never shown by check-config, `Debug` or the JSON of
//! the model.

use baton::config::{self, AntiReplay, Diagnostic, HmacMode, Model};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const VIPS: &str = "virtual_ipaddress {\n 192.0.2.100/24\n}\n";
const HEX32: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const TEXT_KEY: &str = "Sup3r-secret-shared-key-of-34-byte";

/// An instance with `body` first: its line 4 is the body's first line.
fn instance(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n{VIPS}}}\n")
}

fn ok(text: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "unexpected errors: {diags:#?}"
    );
    model.expect("valid")
}

fn errors(text: &str) -> Vec<Diagnostic> {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(model.is_none(), "expected errors in:\n{text}");
    diags.into_iter().filter(|d| d.is_error()).collect()
}

/// The single error of `text`: its message contains `needle`, at `line`.
fn error_at(text: &str, needle: &str, line: u32) -> Diagnostic {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains(needle), "{needle:?}: {errs:#?}");
    assert_eq!(errs[0].span.line, line, "{errs:#?}");
    errs[0].clone()
}

fn key_file(text: &str, mode: u32) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    f
}

#[test]
fn the_man_page_example_is_read() {
    let file = key_file(&format!("{HEX32}\n"), 0o600);
    let text = instance(&format!(
        " auth_hmac {{\n  key 1 {HEX32}\n  key 2 file:{}\n  key 3 {TEXT_KEY}\n  active_key 2\n  anti_replay time\n  time_window 7\n  mode permissive\n }}",
        file.path().display()
    ));
    let model = ok(&text);
    let h = model.instances[0].auth_hmac.as_ref().expect("auth_hmac");
    assert_eq!(h.keys.iter().map(|k| k.id).collect::<Vec<_>>(), [1, 2, 3]);
    let expected: Vec<u8> = (0..32).collect();
    assert_eq!(h.keys[0].secret.bytes(), expected.as_slice());
    // A file holds what the inline value would; its line end is dropped.
    assert_eq!(h.keys[1].secret.bytes(), expected.as_slice());
    assert_eq!(h.keys[1].file.as_deref(), file.path().to_str());
    assert_eq!(h.keys[2].secret.bytes(), TEXT_KEY.as_bytes());
    assert_eq!(h.active_key, 2);
    assert_eq!(h.anti_replay, AntiReplay::Time { window_s: 7 });
    assert_eq!(h.mode, HmacMode::Permissive);
}

#[test]
fn defaults_are_keepalived_s() {
    // anti_replay time, mode enforce, window max(3 x advert_int, 5) at most 300.
    for (advert, window) in [("1", 5), ("0.5", 5), ("4", 12), ("40", 120), ("255", 300)] {
        let version = if advert.contains('.') { 3 } else { 2 };
        let text = instance(&format!(
            " version {version}\n advert_int {advert}\n auth_hmac {{\n  key 1 {HEX32}\n  active_key 1\n }}"
        ));
        let model = ok(&text);
        let h = model.instances[0].auth_hmac.as_ref().unwrap();
        assert_eq!(
            h.anti_replay,
            AntiReplay::Time { window_s: window },
            "{advert}"
        );
        assert_eq!(h.mode, HmacMode::Enforce);
    }
    let text = instance(&format!(
        " auth_hmac {{\n  key 1 {HEX32}\n  active_key 1\n  anti_replay monotonic\n  mode receive-only\n }}"
    ));
    let h = ok(&text).instances[0].auth_hmac.clone().unwrap();
    assert_eq!(h.anti_replay, AntiReplay::Monotonic);
    assert_eq!(h.mode, HmacMode::ReceiveOnly);
}

#[test]
fn bad_input_is_refused_at_its_line() {
    let block = |lines: &str| instance(&format!(" auth_hmac {{\n{lines}\n }}"));
    // Line 4 is `auth_hmac {`, line 5 its first line.
    error_at(&block("  key 1 short\n  active_key 1"), "32 to 64 bytes", 5);
    let long = format!("hex:{}", "ab".repeat(65));
    error_at(
        &block(&format!("  key 1 {long}\n  active_key 1")),
        "65 bytes",
        5,
    );
    error_at(
        &block("  key 1 hex:abc\n  active_key 1"),
        "even number of hex digits",
        5,
    );
    error_at(
        &block(&format!("  key 0 {HEX32}\n  active_key 1")),
        "between 1 and 255",
        5,
    );
    error_at(
        &block("  key 1\n  active_key 1"),
        "needs an id and a value",
        5,
    );
    error_at(
        &block(&format!(
            "  key 1 {HEX32}\n  key 1 {TEXT_KEY}\n  active_key 1"
        )),
        "key 1 is defined twice",
        6,
    );
    error_at(
        &block(&format!("  key 1 {HEX32}\n  active_key 2")),
        "active_key 2 is not one of its keys",
        6,
    );
    error_at(&block(&format!("  key 1 {HEX32}")), "no active_key", 4);
    error_at(&block("  active_key 1"), "has no key", 4);
    error_at(
        &block(&format!("  key 1 {HEX32}\n  active_key 1\n  mode strict")),
        "enforce, permissive or receive-only",
        7,
    );
    error_at(
        &block(&format!(
            "  key 1 {HEX32}\n  active_key 1\n  anti_replay counter"
        )),
        "time or monotonic",
        7,
    );
    for window in ["0", "301", "x"] {
        error_at(
            &block(&format!(
                "  key 1 {HEX32}\n  active_key 1\n  time_window {window}"
            )),
            "time_window",
            7,
        );
    }
    error_at(
        &block(&format!(
            "  key 1 {HEX32}\n  active_key 1\n  hmac_type sha1"
        )),
        "unknown keyword `hmac_type` in auth_hmac",
        7,
    );
    // keepalived drops the legacy authentication with an error; baton refuses the file.
    let both = instance(&format!(
        " authentication {{\n  auth_type PASS\n  auth_pass x\n }}\n auth_hmac {{\n  key 1 {HEX32}\n  active_key 1\n }}"
    ));
    error_at(&both, "auth_hmac replaces it", 4);
    // Strict mode: only enforce (keepalived forces it with an error).
    let strict = instance(&format!(
        " strict_mode on\n auth_hmac {{\n  key 1 {HEX32}\n  active_key 1\n  mode permissive\n }}"
    ));
    error_at(&strict, "not allowed with vrrp_strict", 8);
}

#[test]
fn a_key_file_must_be_private_regular_and_small() {
    let block = |path: &str| {
        instance(&format!(
            " auth_hmac {{\n  key 1 file:{path}\n  active_key 1\n }}"
        ))
    };
    let open = key_file(HEX32, 0o644);
    error_at(
        &block(open.path().to_str().unwrap()),
        "readable or writable by others (mode 0644)",
        5,
    );
    error_at(&block("/nonexistent/baton-key"), "cannot be opened", 5);
    error_at(&block("relative/key"), "not an absolute path", 5);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    error_at(
        &block(dir.path().to_str().unwrap()),
        "not a regular file",
        5,
    );
    let link = dir.path().join("link");
    let target = key_file(HEX32, 0o600);
    std::os::unix::fs::symlink(target.path(), &link).unwrap();
    error_at(&block(link.to_str().unwrap()), "cannot be opened", 5);
    let big = key_file(&"a".repeat(200), 0o600);
    error_at(&block(big.path().to_str().unwrap()), "too large", 5);
    let short = key_file("short\n", 0o600);
    error_at(&block(short.path().to_str().unwrap()), "5 bytes long", 5);
}

#[test]
fn a_key_never_shows() {
    let text = instance(&format!(
        " auth_hmac {{\n  key 1 {TEXT_KEY}\n  key 2 {HEX32}\n  active_key 1\n }}"
    ));
    let model = ok(&text);
    let debug = format!("{model:?}");
    let json = serde_json::to_string(&model.instances[0]).unwrap();
    for shown in [&debug, &json] {
        assert!(!shown.contains(TEXT_KEY), "{shown}");
        assert!(!shown.contains("0102030405"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    // check-config, text and JSON, valid and with an error on the key's own line.
    let dir = tempfile::tempdir().unwrap();
    let bad = instance(&format!(
        " auth_hmac {{\n  key 1 {TEXT_KEY}\n  key 1 {HEX32}\n  active_key 1\n }}"
    ));
    for (name, text) in [("good.conf", &text), ("bad.conf", &bad)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for json in [false, true] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
            cmd.args(["check-config", "-f"]).arg(&path);
            if json {
                cmd.arg("--json");
            }
            let out = cmd.output().unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!all.contains(TEXT_KEY), "{name} json={json}:\n{all}");
            assert!(!all.contains("0102030405"), "{name} json={json}:\n{all}");
            if name == "bad.conf" && !json {
                // The error is shown at its line, the key masked.
                assert!(all.contains("key 1 is defined twice"), "{all}");
                assert!(all.contains("key 1 ****"), "{all}");
            }
        }
    }
}
