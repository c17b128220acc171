//! `baton check-config` run as a process: output and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("check-config")
        .args(["-i", "test-node"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run baton")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[test]
fn valid_config_prints_one_line_per_instance() {
    let out = run(&["-f", "conf/baton.conf"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "PG_VIP: eth0 vrid 51 IPv4 VRRPv2 priority 150 advert 1s state BACKUP fallback manual VIPs 192.0.2.100/24\n"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn warnings_go_to_stderr_and_strict_makes_them_errors() {
    let file = fixture("warnings.conf");
    let path = file.to_str().expect("path");
    let out = run(&["-f", path]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "VI_1: eth0 vrid 7 IPv6 VRRPv3 priority 100 advert 0.05s state BACKUP fallback automatic VIPs 2001:db8::7/64\n"
    );
    assert_eq!(
        text(&out.stderr),
        format!(
            "warning: `smtp_alert` in vrrp_instance is not supported by baton; ignored\n \
             --> {path}:5:5\n  |\n5 |     smtp_alert\n  |     ^^^^^^^^^^\n\n\
             warning: {path} is valid with 1 warning\n"
        )
    );
    let out = run(&["-f", path, "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).starts_with("error: `smtp_alert` in vrrp_instance"));
    assert!(
        text(&out.stderr).ends_with(&format!("error: {path} is invalid: 1 error, 0 warnings\n"))
    );
}

#[test]
fn invalid_config_reports_every_error_and_exits_1() {
    let out = run(&["-f", "tests/fixtures/config/bad/errors.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let expected = std::fs::read_to_string(fixture("bad/errors.stderr")).expect("expected output");
    assert_eq!(text(&out.stderr), expected);
}

/// `auth_type AH` is refused (keepalived with AH drops plain adverts: two masters), with
/// the place and what to do.
#[test]
fn auth_type_ah_is_an_error() {
    let path = "tests/fixtures/config/bad/auth-ah.conf";
    let out = run(&["-f", path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: auth_type AH (IPsec AH, IP protocol 51) is not implemented"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!(" --> {path}:6:19\n")), "{stderr}");
    assert!(
        stderr.contains("^^ use `auth_type PASS` on both nodes"),
        "{stderr}"
    );
    assert!(stderr.ends_with(&format!("error: {path} is invalid: 1 error, 0 warnings\n")));
}

#[test]
fn unreadable_file_exits_2_with_the_os_error() {
    let out = run(&["-f", "/nonexistent/baton.conf"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: cannot read /nonexistent/baton.conf: No such file or directory (os error 2)\n"
    );
    let out = run(&["-f", "/nonexistent/baton.conf", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["file"], "/nonexistent/baton.conf");
}

#[test]
fn json_report() {
    let out = run(&["-f", "tests/fixtures/config/bad/errors.conf", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"].as_array().map(Vec::len), Some(6));
    // `priorty` leaves `state MASTER` without a priority (keepalived would make it 255).
    assert_eq!(json["errors"][0]["line"], 10);
    assert_eq!(json["errors"][1]["line"], 12);
    assert_eq!(json["errors"][1]["col"], 23);
    assert_eq!(json["errors"][1]["help"], "expected a number from 1 to 255");
    assert_eq!(
        json["errors"][2]["message"],
        "unknown keyword `priorty` in vrrp_instance"
    );
    assert_eq!(json["errors"][2]["help"], "did you mean `priority`?");
    assert_eq!(json["warnings"].as_array().map(Vec::len), Some(0));

    let out = run(&["-f", "conf/examples/sync-group.conf", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["valid"], true);
    assert_eq!(json["instances"][1]["name"], "BACK");
    assert_eq!(json["instances"][1]["vrid"], 62);
    assert_eq!(json["instances"][1]["advert_int_cs"], 100);
    assert_eq!(json["instances"][1]["vips"][0], "192.0.2.1/24");
}

/// `baton run`'s log filter: one that does not parse is reported, by value and why, and the
/// default filter is used (the daemon still logs what follows); a valid one filters.
#[test]
fn baton_log_that_does_not_parse_is_reported_and_the_default_used() {
    let run_with = |filter: &str| {
        Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["run", "-f", "/nonexistent/baton.conf"])
            .env("BATON_LOG", filter)
            .env_remove("JOURNAL_STREAM")
            .output()
            .expect("run baton")
    };
    let out = run_with("info,baton=loud");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(r#"WARN BATON_LOG="info,baton=loud" is not a log filter ("#)
            && stderr.contains(r#"using "info,netlink_packet_route=error""#),
        "{stderr}"
    );
    assert!(
        stderr.contains("ERROR cannot read /nonexistent/baton.conf"),
        "{stderr}"
    );

    // A valid filter applies: `off` silences even the error.
    let out = run_with("off");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "");
}
