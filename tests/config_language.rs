//! The keepalived language end to end: includes, conditionals, parameters, continuation,
//! braces, quotes; and the validation rules.

use baton::config::{self, Diagnostic, Fallback, Family, Model, Options, ParamMatch, Version};
use std::fs;

const VIPS: &str = "virtual_ipaddress {\n 192.0.2.100/24\n}\n";

fn instance(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n {body}\n}}\n")
}

fn ok(text: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
    model.expect("valid")
}

fn errors(text: &str) -> Vec<Diagnostic> {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(model.is_none(), "expected errors in:\n{text}");
    diags.into_iter().filter(|d| d.is_error()).collect()
}

fn has_error(text: &str, needle: &str) {
    let errs = errors(text);
    assert!(
        errs.iter().any(|d| d.message.contains(needle)),
        "no error containing {needle:?}: {errs:#?}"
    );
}

fn has_warning(text: &str, needle: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(
        diags
            .iter()
            .any(|d| !d.is_error() && d.message.contains(needle)),
        "no warning containing {needle:?}: {diags:#?}"
    );
    model.expect("valid despite warnings")
}

#[test]
fn include_with_glob_is_relative_to_the_including_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf_d = dir.path().join("conf.d");
    fs::create_dir(&conf_d).expect("mkdir");
    fs::write(
        dir.path().join("main.conf"),
        "include conf.d/*.conf\nvrrp_script chk {\n script /bin/true\n}\n\
         global_defs {\n baton_unknown_keywords warning\n}\n",
    )
    .expect("write");
    fs::write(
        conf_d.join("a.conf"),
        instance(&format!("track_script {{\n chk\n}}\n{VIPS}")),
    )
    .expect("write");
    fs::write(conf_d.join("b.conf"), "include ../extra/*.conf\n").expect("write");
    fs::create_dir(dir.path().join("extra")).expect("mkdir");
    fs::write(
        dir.path().join("extra/c.conf"),
        "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n bogus 1\n virtual_ipaddress {\n 192.0.2.101\n }\n}\n",
    )
    .expect("write");
    let loaded = config::load(&dir.path().join("main.conf")).expect("load");
    let model = loaded.model.as_ref().expect("valid");
    let names: Vec<&str> = model.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["VI_1", "VI_2"]);
    assert_eq!(loaded.sources.len(), 4);
    let warning = loaded.warnings().next().expect("warning for bogus");
    assert!(
        loaded
            .sources
            .path(warning.span.file)
            .ends_with("extra/c.conf")
    );
    assert_eq!((warning.span.line, warning.span.col), (4, 2));
}

#[test]
fn include_that_matches_nothing_warns_and_unreadable_main_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("main.conf");
    fs::write(&main, format!("include nothing/*.conf\n{}", instance(VIPS))).expect("write");
    let loaded = config::load(&main).expect("load");
    assert!(loaded.is_valid());
    assert!(
        loaded
            .warnings()
            .any(|w| w.message.contains("matched no files"))
    );
    let err = config::load(&dir.path().join("missing.conf")).expect_err("missing");
    assert!(err.to_string().contains("missing.conf"));
}

#[test]
fn include_loop_is_an_error_naming_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("loop.conf");
    fs::write(&main, "include loop.conf\n").expect("write");
    let loaded = config::load(&main).expect("load");
    let e = loaded.errors().next().expect("error");
    assert!(e.message.contains("include cycle"), "{e:?}");
    assert_eq!((e.span.line, e.span.col), (1, 9));

    fs::write(dir.path().join("a.conf"), "\ninclude b.conf\n").expect("write");
    fs::write(dir.path().join("b.conf"), "include ./a.conf\n").expect("write");
    let loaded = config::load(&dir.path().join("a.conf")).expect("load");
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{}", loaded.render());
    let e = errors[0];
    assert!(
        e.message.contains("a.conf includes") && e.message.contains("b.conf includes"),
        "{e:?}"
    );
    assert!(loaded.sources.path(e.span.file).ends_with("b.conf"));
    assert_eq!((e.span.line, e.span.col), (1, 9));
    assert!(!loaded.is_valid());
}

/// A glob that matches the file it is in: every file includes every file. Without cycle
/// detection 2 files made 65,536 reads and 3 files took over 20 s.
#[test]
fn self_including_glob_stops_at_the_cycle() {
    for count in [2, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..count {
            fs::write(dir.path().join(format!("{i}.conf")), "include *.conf\n").expect("write");
        }
        let loaded = config::load(&dir.path().join("0.conf")).expect("load");
        assert!(!loaded.is_valid());
        assert!(
            loaded.errors().all(|e| e.message.contains("include cycle")),
            "{}",
            loaded.render()
        );
        assert!(loaded.errors().next().is_some());
        // Each file read once per path through the include tree, no more: 1 + 1 for two
        // files, 1 + 2 + 2 for three.
        assert_eq!(loaded.sources.len(), if count == 2 { 2 } else { 5 });
    }
}

/// Files that include the next one twice side by side (no cycle): 2^16 reads without the
/// cap on the number of files.
#[test]
fn side_by_side_includes_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..16 {
        fs::write(
            dir.path().join(format!("f{i}.conf")),
            format!("include f{n}.conf\ninclude f{n}.conf\n", n = i + 1),
        )
        .expect("write");
    }
    fs::write(dir.path().join("f16.conf"), "# leaf\n").expect("write");
    let loaded = config::load(&dir.path().join("f0.conf")).expect("load");
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{}", loaded.render());
    assert!(
        errors[0].message.contains("too many configuration files")
            && errors[0].message.contains("1000"),
        "{:?}",
        errors[0]
    );
    assert_eq!(loaded.sources.len(), config::expand::MAX_CONFIG_FILES);
    // Twice side by side within the caps is allowed.
    let loaded = config::load(&dir.path().join("f12.conf")).expect("load");
    assert!(loaded.is_valid(), "{}", loaded.render());
    assert_eq!(loaded.sources.len(), 31);
}

#[test]
fn included_bytes_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mib = "# filler line of a comment\n".repeat(1024 * 1024 / 27 + 1);
    fs::write(dir.path().join("big.conf"), &mib).expect("write");
    fs::write(
        dir.path().join("main.conf"),
        "include big.conf\n".repeat(20),
    )
    .expect("write");
    let loaded = config::load(&dir.path().join("main.conf")).expect("load");
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{}", loaded.render());
    assert!(
        errors[0].message.contains("configuration too large"),
        "{:?}",
        errors[0]
    );
    assert_eq!(errors[0].span.line, 16);
}

#[test]
fn include_of_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo.conf");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    fs::write(dir.path().join("main.conf"), "include fifo.conf\n").expect("write");
    let loaded = config::load(&dir.path().join("main.conf")).expect("load");
    assert!(
        loaded
            .errors()
            .any(|e| e.message.contains("not a regular file")),
        "{}",
        loaded.render()
    );
}

#[test]
fn conditional_lines_and_parameters() {
    let text = "$PRIO=150\n@node2 $PRIO=100\nvrrp_instance VI_1 {\n @^node2 state MASTER\n \
                interface eth0\n virtual_router_id 51\n priority $PRIO\n virtual_ipaddress {\n \
                ${NET}.100/24\n }\n}\n$NET=192.0.2\n";
    // $NET is defined after use: keepalived substitutes at use time, so it stays literal.
    has_error(text, "`${NET}.100/24` is not an IP address");
    let text = text
        .replace("$NET=192.0.2\n", "")
        .replace("$PRIO=150\n", "$PRIO=150\n$NET=192.0.2\n");
    let load = |id: Option<&str>| {
        let options = Options {
            config_id: id.map(str::to_string),
        };
        config::parse_text("t", text.clone(), &options, &config::NoFiles)
            .model
            .expect("valid")
    };
    let node1 = load(Some("node1"));
    assert_eq!(node1.instances[0].priority, 150);
    assert_eq!(node1.instances[0].state, config::InitialState::Master);
    assert_eq!(node1.instances[0].vips[0].to_string(), "192.0.2.100/24");
    let node2 = load(Some("node2"));
    assert_eq!(node2.instances[0].priority, 100);
    assert_eq!(node2.instances[0].state, config::InitialState::Backup);
}

#[test]
fn continuation_next_line_braces_and_quoted_comments() {
    let text = "vrrp_instance VI_1\n{\n interface \\\n   eth0\n virtual_router_id 51\n \
                notify \"/bin/notify 'a # b' ! c\" # comment\n virtual_ipaddress\n {\n \
                192.0.2.1 ! comment\n }\n}\n";
    let model = ok(text);
    let i = &model.instances[0];
    assert_eq!(i.interface, "eth0");
    let notify = i.notify.any.as_ref().expect("notify");
    assert_eq!(notify.command.program, "/bin/notify");
    assert_eq!(notify.command.args, vec!["a # b", "!", "c"]);
}

#[test]
fn defaults_follow_keepalived() {
    let model = ok(&instance(VIPS));
    let i = &model.instances[0];
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int_cs, 100);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.family, Family::IPv4);
    assert_eq!(i.state, config::InitialState::Backup);
    assert_eq!(i.fallback(), Fallback::Automatic);
    assert!(i.accept);
    assert_eq!(i.garp.master_delay_s, 5);
    assert_eq!(i.garp.lower_prio_repeat, 5);
    assert_eq!(i.vips[0].prefix_len, 24);
}

#[test]
fn full_address_line_syntax() {
    let text = instance(
        "virtual_ipaddress {\n 192.0.2.7/24 brd 192.0.2.255 dev eth1 scope link label eth1:7 \
         peer 192.0.2.8 home -nodad noprefixroute autojoin no_track preferred_lft forever\n \
         192.0.2.9 brd +\n}\n",
    );
    let model = ok(&text);
    let i = &model.instances[0];
    let v = &i.vips[0];
    assert_eq!(
        v.brd,
        Some(config::Broadcast::Addr("192.0.2.255".parse().expect("ip")))
    );
    assert_eq!(v.dev.as_deref(), Some("eth1"));
    assert_eq!(v.scope, Some(config::Scope::Link));
    assert_eq!(v.label.as_deref(), Some("eth1:7"));
    assert!(v.flags.home && v.flags.nodad && v.flags.noprefixroute && v.flags.autojoin);
    assert!(v.flags.no_track);
    assert_eq!(v.preferred_lft, Some(config::PreferredLifetime::Forever));
    assert_eq!(i.vips[1].brd, Some(config::Broadcast::SetHostBits));
    assert_eq!(i.vips[1].prefix_len, 32);
}

#[test]
fn ipv6_uses_version_3_and_fractional_adverts() {
    let text = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n advert_int 0.05\n \
                virtual_ipaddress {\n 2001:db8::1\n }\n}\n";
    let i = &ok(text).instances[0];
    assert_eq!(
        (i.version, i.family, i.advert_int_cs),
        (Version::V3, Family::IPv6, 5)
    );
    assert_eq!(i.vips[0].prefix_len, 128);
    has_error(
        &text.replace("advert_int 0.05", "version 2"),
        "VRRPv2 does not support IPv6",
    );
    has_error(&text.replace("0.05", "41"), "not valid for VRRPv3");
    has_error(&text.replace("0.05", "0.005"), "not valid for VRRPv3");
}

#[test]
fn range_and_reference_errors_are_all_reported() {
    let text = format!(
        "vrrp_instance A {{\n interface eth0\n virtual_router_id 0\n priority 256\n \
         advert_int 1.5\n track_script {{\n nope\n }}\n {VIPS}}}\n\
         vrrp_sync_group G {{\n group {{\n A\n B\n }}\n}}\n"
    );
    let errs = errors(&text);
    let messages: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(errs.len(), 5, "{messages:#?}");
    assert!(messages[0].contains("virtual_router_id must be between 1 and 255, found 0"));
    assert!(messages[1].contains("priority must be between 1 and 255, found 256"));
    assert!(messages[2].contains("advert_int `1.5` is not valid for VRRPv2"));
    assert!(messages[3].contains("no vrrp_script of that name"));
    assert!(messages[4].contains("there is no vrrp_instance of that name"));
}

#[test]
fn identity_must_be_unique() {
    let a = instance(VIPS);
    let b = a.replace("VI_1", "VI_2");
    has_error(
        &format!("{a}{b}"),
        "virtual_router_id 51 is already used on eth0",
    );
    has_error(&format!("{a}{a}"), "is defined twice");
    // Another family on the same interface and vrid is a different router.
    let v6 = b.replace("192.0.2.100/24", "2001:db8::100/64");
    assert_eq!(ok(&format!("{a}{v6}")).instances.len(), 2);
}

#[test]
fn one_sync_group_per_instance() {
    let a = instance(VIPS);
    let b = a.replace("VI_1", "VI_2").replace("51", "52");
    let groups = "vrrp_sync_group G1 {\n group {\n VI_1\n VI_2\n }\n}\n\
                  vrrp_sync_group G2 {\n group {\n VI_1\n VI_2\n }\n}\n";
    has_error(&format!("{a}{b}{groups}"), "already in sync group `G1`");
}

#[test]
fn authentication_rules() {
    let auth = |t: &str, p: &str| {
        instance(&format!(
            "authentication {{\n auth_type {t}\n auth_pass {p}\n}}\n{VIPS}"
        ))
    };
    let model = ok(&auth("PASS", "secret"));
    assert_eq!(
        model.instances[0].auth,
        Some(config::Auth::Pass("secret".into()))
    );
    let model = has_warning(&auth("PASS", "0123456789"), "longer than 8 bytes");
    assert_eq!(
        model.instances[0].auth,
        Some(config::Auth::Pass("01234567".into()))
    );
    has_error(
        &auth("PASS", "x").replace(" interface", " version 3\n interface"),
        "only supported with VRRPv2",
    );
    // AH: an error (keepalived drops plain adverts when it expects AH: two masters).
    let text = auth("AH", "x");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("auth_type AH"), "{errs:#?}");
    assert!(errs[0].message.contains("both nodes would be master"));
    assert_eq!((errs[0].span.line, errs[0].span.col), (5, 12));
    let help = errs[0].help.as_deref().unwrap_or("");
    assert!(
        help.contains("PASS") && help.contains("on both nodes"),
        "{help}"
    );
    has_error(&auth("ah", "x"), "auth_type AH");
    // An unknown keyword inside authentication (a future auth scheme) is an error.
    has_error(
        &instance(&format!(
            "authentication {{\n auth_type PASS\n auth_pass x\n auth_key 1\n}}\n{VIPS}"
        )),
        "unknown keyword `auth_key` in authentication",
    );
    // keepalived 2.4's HMAC authentication is read (tests/config_auth_hmac.rs); a key
    // shorter than keepalived's 32 bytes is an error at the key.
    let errs = errors(&instance(&format!(
        "auth_hmac {{\n key 1 secret\n active_key 1\n}}\n{VIPS}"
    )));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("32 to 64 bytes"), "{errs:#?}");
    assert!(!errs[0].message.contains("secret"), "{errs:#?}");
    assert_eq!((errs[0].span.line, errs[0].span.col), (5, 8));
}

#[test]
fn unicast_family_and_strict_mode() {
    let peers = |p: &str| {
        instance(&format!(
            "unicast_src_ip 192.0.2.1\nunicast_peer {{\n {p}\n}}\n{VIPS}"
        ))
    };
    let model = ok(&peers("192.0.2.2 min_ttl 250 max_ttl 255"));
    let i = &model.instances[0];
    assert_eq!(i.unicast_peers[0].min_ttl, Some(250));
    assert!(i.check_unicast_src);
    has_error(
        &peers("2001:db8::2"),
        "unicast_peer 2001:db8::2 is not IPv4",
    );
    has_error(
        &format!("global_defs {{\n vrrp_strict\n}}\n{}", peers("192.0.2.2")),
        "not allowed with vrrp_strict",
    );
    let strict = ok(&format!(
        "global_defs {{\n vrrp_strict\n}}\n{}",
        instance(VIPS)
    ));
    assert!(!strict.instances[0].accept);
}

#[test]
fn fallback_extension() {
    let manual = ok(&instance(&format!(
        "fallback manual\nfallback_check \"/bin/caught-up --lag 0\"\nflap_hold_down 2.5\n{VIPS}"
    )));
    let i = &manual.instances[0];
    assert_eq!(i.fallback(), Fallback::Manual);
    assert!(!i.preempt());
    assert_eq!(i.flap_hold_down_ms, 2500);
    let check = i.fallback_check.as_ref().expect("check");
    assert_eq!(check.command.args, vec!["--lag", "0"]);
    assert_eq!(check.timeout_ms, 10_000);
    let nopreempt = ok(&instance(&format!("nopreempt\n{VIPS}")));
    assert_eq!(nopreempt.instances[0].fallback(), Fallback::Manual);
    has_error(
        &instance(&format!("fallback automatic\nnopreempt\n{VIPS}")),
        "contradicts `nopreempt`",
    );
    has_error(
        &instance(&format!("fallback sometimes\n{VIPS}")),
        "manual or automatic",
    );
    // keepalived drops nopreempt for state MASTER; baton keeps the manual fallback and
    // starts as BACKUP.
    let kept = has_warning(
        &instance(&format!("state MASTER\npriority 150\nnopreempt\n{VIPS}")),
        "`state MASTER` is not acted on with `fallback manual`",
    );
    assert!(!kept.instances[0].starts_as_master());
    assert!(!kept.instances[0].preempt());
}

#[test]
fn state_master_starts_as_master_where_allowed() {
    let m = ok(&instance(&format!("state MASTER\npriority 150\n{VIPS}")));
    assert!(m.instances[0].starts_as_master());
    let b = ok(&instance(&format!("state BACKUP\npriority 150\n{VIPS}")));
    assert!(!b.instances[0].starts_as_master());
    assert!(!ok(&instance(VIPS)).instances[0].starts_as_master());
    // In a sync group, only an address owner (as keepalived: members start together).
    let a = instance(&format!("state MASTER\npriority 150\n{VIPS}"));
    let c = instance(&format!("state MASTER\npriority 255\n{VIPS}"))
        .replace("VI_1", "VI_2")
        .replace("51", "52");
    let group = "vrrp_sync_group G1 {\n group {\n VI_1\n VI_2\n }\n}\n";
    let grouped = has_warning(
        &format!("{a}{c}{group}"),
        "`state MASTER` is not acted on in sync group `G1`",
    );
    assert!(!grouped.instances[0].starts_as_master());
    assert!(grouped.instances[1].starts_as_master());
}

#[test]
fn tracking_and_scripts() {
    let text = format!(
        "vrrp_script chk {{\n script \"/bin/check -q\"\n interval 0.5\n weight -20 reverse\n \
         rise 2\n fall 3\n user nobody nogroup\n init_fail\n}}\n\
         track_file f {{\n file /run/f\n weight 3\n init_file 7 overwrite\n}}\n{}",
        instance(&format!(
            "track_interface {{\n eth1 weight -10\n eth2\n}}\ntrack_script {{\n chk weight 5 noreverse\n}}\n\
             track_file {{\n f\n}}\n{VIPS}"
        ))
    );
    let model = ok(&text);
    let s = &model.scripts["chk"];
    assert_eq!(
        (s.interval_ms, s.timeout_ms, s.weight, s.reverse),
        (500, 500, -20, true)
    );
    assert_eq!((s.rise, s.fall, s.init_fail), (2, 3, true));
    assert_eq!(s.run_as.as_ref().map(|r| r.user.as_str()), Some("nobody"));
    let f = &model.track_files["f"];
    assert_eq!(
        (f.weight, f.init.map(|i| (i.value, i.overwrite))),
        (3, Some((7, true)))
    );
    let i = &model.instances[0];
    assert_eq!(i.track_interfaces[0].weight, -10);
    assert_eq!(i.track_scripts[0].weight, Some(5));
    assert_eq!(i.track_scripts[0].reverse, Some(false));
    assert_eq!(i.track_files[0].name, "f");
    has_error(
        &text.replace("weight -20", "weight 254"),
        "weight must be between -253 and 253",
    );
}

#[test]
fn global_defs_are_typed() {
    let text = format!(
        "global_defs {{\n router_id r1\n vrrp_version 3\n script_user baton\n enable_script_security\n \
         vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n vrrp_garp_interval 0.001\n \
         vrrp_rt_priority 50\n vrrp_priority -5\n vrrp_no_swap\n notify_fifo /run/f\n \
         vrrp_iptables\n}}\n{}",
        instance(&format!("garp_master_repeat 4\n{VIPS}"))
    );
    let model = has_warning(&text, "`vrrp_iptables` in global_defs is not supported");
    let g = &model.global;
    assert_eq!(g.router_id.as_deref(), Some("r1"));
    assert_eq!(g.vrrp_version, Version::V3);
    assert!(g.enable_script_security);
    assert_eq!((g.garp.master_delay_s, g.garp.master_repeat), (1, 2));
    assert_eq!(g.garp_interval_us, 1000);
    assert_eq!(
        (g.rt_priority, g.nice, g.no_swap),
        (Some(50), Some(-5), true)
    );
    let i = &model.instances[0];
    assert_eq!(i.version, Version::V3);
    assert_eq!(
        (
            i.garp.master_delay_s,
            i.garp.master_repeat,
            i.garp.lower_prio_repeat
        ),
        (1, 4, 4)
    );
}

#[test]
fn duplicates_and_skipped_blocks_warn_unknowns_are_errors() {
    let body = format!("priority 10\npriority 20\nprioritee 5\nsmtp_alert\n{VIPS}");
    let text = format!(
        "virtual_server 192.0.2.1 80 {{\n real_server 192.0.2.2 80 {{\n weight 1\n }}\n}}\n{}",
        instance(&body)
    );
    let (model, diags) = config::parse_str("t.conf", &text);
    assert!(model.is_none());
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("`virtual_server` block is not used"));
    assert!(messages[1].contains("`priority` is set twice"));
    assert!(messages[2].contains("unknown keyword `prioritee`"));
    assert!(diags[2].is_error());
    assert_eq!((diags[2].span.line, diags[2].span.col), (11, 1));
    assert_eq!(diags[2].help.as_deref(), Some("did you mean `priority`?"));
    assert!(messages[3].contains("`smtp_alert` in vrrp_instance is not supported"));
    assert!(!diags[3].is_error());

    // The opt-out: one global_defs line, before or after, makes them warnings again.
    let opt_out = "global_defs {\n baton_unknown_keywords warning\n}\n";
    for text in [format!("{opt_out}{text}"), format!("{text}{opt_out}")] {
        let (model, diags) = config::parse_str("t.conf", &text);
        let model = model.unwrap_or_else(|| panic!("valid: {diags:#?}"));
        assert_eq!(model.instances[0].priority, 20);
        let unknown = diags
            .iter()
            .find(|d| d.message.contains("unknown keyword `prioritee`"))
            .expect("still reported");
        assert!(!unknown.is_error());
        assert_eq!(unknown.help.as_deref(), Some("did you mean `priority`?"));
    }
    // `error` is the default; anything else is a mistake.
    has_error(
        &format!("global_defs {{\n baton_unknown_keywords error\n}}\n{text}"),
        "unknown keyword `prioritee`",
    );
    has_error(
        &format!(
            "global_defs {{\n baton_unknown_keywords warn\n}}\n{}",
            instance(VIPS)
        ),
        "baton_unknown_keywords must be `error` or `warning`",
    );
    // Every block's unknown keywords are errors; the help names the opt-out.
    for text in [
        format!("global_defs {{\n zzz_new 1\n}}\n{}", instance(VIPS)),
        format!(
            "vrrp_script s {{\n script /bin/true\n zzz_new 1\n}}\n{}",
            instance(VIPS)
        ),
        format!(
            "{}vrrp_sync_group G {{\n group {{\n VI_1\n }}\n zzz_new 1\n}}\n",
            instance(VIPS)
        ),
        instance(&format!("zzz_new 1\n{VIPS}")),
        format!("zzz_new 1\n{}", instance(VIPS)),
    ] {
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].message.contains("unknown keyword `zzz_new`"));
        assert!(
            errs[0]
                .help
                .as_deref()
                .is_some_and(|h| h.contains("baton_unknown_keywords warning")),
            "{errs:#?}"
        );
    }
}

/// Keywords whose absence of effect would change who hears whom, who wins or what goes on
/// the wire are errors, whatever `baton_unknown_keywords` says; harmless ones warn.
/// keepalived derives priority 255 (address owner) from `state MASTER` alone; baton's
/// default is 100. Refuse the silent disagreement.
#[test]
fn state_master_without_priority_is_an_error() {
    let errs = errors(&instance(&format!("state MASTER\n{VIPS}")));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0]
            .message
            .contains("`state MASTER` without `priority`")
    );
    assert_eq!((errs[0].span.line, errs[0].span.col), (4, 8));
    assert_eq!(
        ok(&instance(&format!("state MASTER\npriority 255\n{VIPS}"))).instances[0].priority,
        255
    );
    assert_eq!(
        ok(&instance(&format!("state BACKUP\n{VIPS}"))).instances[0].priority,
        100
    );
}

#[test]
fn refused_keywords_are_errors_with_the_reason() {
    use config::validate::keywords::{GLOBAL_REFUSED, INSTANCE_REFUSED, SYNC_GROUP_REFUSED};
    let opt_out = "global_defs {\n baton_unknown_keywords warning\n}\n";
    let check = |text: String, kw: &str, block: &str, line: u32| {
        for text in [text.clone(), format!("{text}{opt_out}")] {
            let errs = errors(&text);
            assert_eq!(errs.len(), 1, "{kw}: {errs:#?}");
            assert!(
                errs[0]
                    .message
                    .starts_with(&format!("baton does not implement `{kw}` (in {block})")),
                "{errs:#?}"
            );
            assert_eq!(errs[0].span.line, line, "{kw}");
            assert!(
                errs[0]
                    .help
                    .as_deref()
                    .is_some_and(|h| h.contains("remove"))
            );
        }
    };
    for (kw, _) in GLOBAL_REFUSED {
        check(
            format!("global_defs {{\n {kw} 1\n}}\n{}", instance(VIPS)),
            kw,
            "global_defs",
            2,
        );
    }
    for (kw, _) in INSTANCE_REFUSED {
        check(instance(&format!("{kw} 1\n{VIPS}")), kw, "vrrp_instance", 4);
        // Also written as a block.
        check(
            instance(&format!("{kw} {{\n x\n}}\n{VIPS}")),
            kw,
            "vrrp_instance",
            4,
        );
    }
    for (kw, _) in SYNC_GROUP_REFUSED {
        check(
            format!(
                "{}vrrp_sync_group G {{\n group {{\n VI_1\n }}\n {kw} {{\n p\n }}\n}}\n",
                instance(VIPS)
            ),
            kw,
            "vrrp_sync_group",
            13,
        );
    }
    // Examples of harmless ones: a warning, the file loads.
    has_warning(
        &format!(
            "global_defs {{\n smtp_server 192.0.2.9\n}}\n{}",
            instance(VIPS)
        ),
        "`smtp_server` in global_defs is not supported",
    );
    has_warning(
        &instance(&format!("promote_secondaries\n{VIPS}")),
        "`promote_secondaries` in vrrp_instance is not supported",
    );
}

/// keepalived drops the weights a sync group member tracks itself unless the group says
/// `sync_group_tracking_weight`; baton applies them: refuse the difference.
#[test]
fn weighted_tracking_in_a_sync_group_needs_sync_group_tracking_weight() {
    let member = |name: &str, vrid: u8, track: &str| {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n {track}\n \
             virtual_ipaddress {{\n 192.0.2.{vrid}\n }}\n}}\n"
        )
    };
    let script = "vrrp_script chk {\n script /bin/true\n weight -20\n}\n";
    let group = |extra: &str| format!("vrrp_sync_group G {{\n group {{\n A\n B\n }}\n{extra}}}\n");
    let members = format!(
        "{script}{}{}",
        member("A", 1, "track_script {\n chk\n }"),
        member("B", 2, "track_interface {\n eth1 weight 10\n }")
    );
    let errs = errors(&format!("{members}{}", group("")));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].message.contains("`A` is in sync group `G`"));
    assert!(errs[0].message.contains("script chk (weight -20)"));
    assert!(errs[1].message.contains("interface eth1 (weight 10)"));
    assert!(
        errs[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("sync_group_tracking_weight"))
    );
    let m = ok(&format!(
        "{members}{}",
        group(" sync_group_tracking_weight\n")
    ));
    assert!(m.sync_groups[0].tracking_weight);
    ok(&format!("{members}{}", group(" global_tracking\n")));
    // Weight 0 (failure means FAULT) is what keepalived does without the keyword.
    ok(&format!(
        "{script}{}{}{}",
        member("A", 1, "track_script {\n chk weight 0\n }"),
        member("B", 2, "track_interface {\n eth1\n }"),
        group("")
    ));
}

#[test]
fn flap_damping_and_notify_timeout() {
    let m = ok(&format!(
        "global_defs {{\n notify_timeout 2.5\n}}\n{}",
        instance(&format!("flap_damping 3 600 1800\n{VIPS}"))
    ));
    assert_eq!(m.global.notify_timeout_ms, 2500);
    let d = m.instances[0].flap_damping.expect("damping");
    assert_eq!((d.count, d.window_ms, d.hold_ms), (3, 600_000, 1_800_000));
    assert_eq!(
        ok(&instance(VIPS)).global.notify_timeout_ms,
        config::NOTIFY_TIMEOUT_MS
    );
    has_error(
        &instance(&format!("flap_damping 3 600\n{VIPS}")),
        "`flap_damping` needs three values: COUNT WINDOW HOLD",
    );
    has_error(
        &instance(&format!("flap_damping 1 600 60\n{VIPS}")),
        "flap_damping",
    );
}

#[test]
fn metrics_listen_takes_an_address_and_a_port() {
    let at = |value: &str| {
        format!(
            "global_defs {{\n metrics_listen {value}\n}}\n{}",
            instance(VIPS)
        )
    };
    assert_eq!(ok(&instance(VIPS)).global.metrics_listen, None);
    assert_eq!(
        ok(&at("127.0.0.1:9650")).global.metrics_listen,
        Some("127.0.0.1:9650".parse().unwrap())
    );
    assert_eq!(
        ok(&at("[2001:db8::1]:9650")).global.metrics_listen,
        Some("[2001:db8::1]:9650".parse().unwrap())
    );
    for bad in [
        "127.0.0.1",
        "9650",
        "localhost:9650",
        "127.0.0.1:0",
        "2001:db8::1:9650",
    ] {
        has_error(&at(bad), "`metrics_listen` needs an address and a port");
    }
}

#[test]
fn vip_probe_interval_is_seconds_with_0_for_off() {
    let at = |value: &str| {
        format!(
            "global_defs {{\n vip_probe_interval {value}\n}}\n{}",
            instance(VIPS)
        )
    };
    assert_eq!(
        ok(&instance(VIPS)).global.vip_probe_interval_s,
        0,
        "off by default"
    );
    assert_eq!(ok(&at("30")).global.vip_probe_interval_s, 30);
    assert_eq!(ok(&at("0")).global.vip_probe_interval_s, 0);
    has_error(&at("3601"), "vip_probe_interval");
    has_error(&at("-1"), "vip_probe_interval");
}

#[test]
fn shell_lines_are_marked_and_plain_commands_are_not() {
    let m = ok(&format!(
        "vrrp_script a {{\n script \"pidof postgres\"\n}}\n\
         vrrp_script b {{\n script \"[ -f /etc/baton/down ] && exit 1 || exit 0\"\n}}\n{}",
        instance(&format!("track_script {{\n a\n b\n}}\n{VIPS}"))
    ));
    assert_eq!(m.scripts["a"].command.shell, None);
    assert_eq!(
        m.scripts["b"].command.shell.as_deref(),
        Some("[ -f /etc/baton/down ] && exit 1 || exit 0")
    );
}

/// Under `enable_script_security` the daemon refuses to run a shell line (the commands it
/// runs cannot all be checked): the file says so at load, wherever global_defs is written,
/// instead of a notify_master that never runs at the moment of a failover.
#[test]
fn shell_lines_are_errors_under_script_security() {
    let hook = "notify_master \"/usr/bin/true && /usr/bin/false\"\n";
    let secure = "global_defs {\n enable_script_security\n}\n";
    has_error(
        &format!("{}{secure}", instance(&format!("{hook}{VIPS}"))),
        "a shell line cannot run under enable_script_security",
    );
    has_error(
        &format!(
            "{secure}vrrp_script chk {{\n script \"test -f /etc/ok || exit 1\"\n}}\n{}",
            instance(VIPS)
        ),
        "a shell line cannot run under enable_script_security",
    );
    // Without script security the same line is a shell line, as in keepalived.
    let model = ok(&instance(&format!("{hook}{VIPS}")));
    assert!(model.instances[0].notify.master.is_some());
    // A plain program with arguments is fine under script security.
    ok(&format!(
        "{secure}{}",
        instance(&format!("notify_master \"/usr/bin/logger master\"\n{VIPS}"))
    ));
    // So is a line with only glob characters: it runs directly with its words, as
    // keepalived runs every script (no shell).
    ok(&format!(
        "{secure}vrrp_script chk {{\n script \"/usr/bin/curl -fs http://127.0.0.1/health?x\"\n}}\n{}",
        instance(VIPS)
    ));
}

/// `baton fallback` waits at most 120 s for the daemon's answer: a longer check would end
/// after the operator was told the fallback failed.
#[test]
fn fallback_check_timeout_stays_below_the_control_reply_timeout() {
    let check = "fallback_check /usr/bin/true\n";
    let model = ok(&instance(&format!(
        "{check}fallback_check_timeout 110\n{VIPS}"
    )));
    assert_eq!(
        model.instances[0]
            .fallback_check
            .as_ref()
            .map(|c| c.timeout_ms),
        Some(110_000)
    );
    has_error(
        &instance(&format!("{check}fallback_check_timeout 111\n{VIPS}")),
        "fallback_check_timeout",
    );
}

/// keepalived turns a tracked file's weight 1 (the default) into 0 in a sync group without
/// `sync_group_tracking_weight`, with a warning; baton loads the same file the same way.
#[test]
fn a_default_weight_track_file_in_a_sync_group_is_unweighted_like_keepalived() {
    let text = "track_file maint {\n file /run/maint\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n \
                track_file {\n maint\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                vrrp_sync_group G {\n group {\n A\n }\n}\n";
    let model = has_warning(text, "track_file maint is used with weight 0");
    assert_eq!(model.instances[0].track_files[0].weight, Some(0));
    // Any other weight still needs the keyword (keepalived drops such a track).
    has_error(
        &text.replace("file /run/maint\n", "file /run/maint\n weight -5\n"),
        "tracks with weights",
    );
}

#[test]
fn witness_block_is_read_with_its_defaults_and_each_instance_gets_a_key() {
    let text = format!(
        "witness {{\n endpoints http://192.0.2.10:2379 http://192.0.2.11:2379/\n}}\n{}{}",
        instance(&format!("priority 150\n{VIPS}")),
        "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n witness_key portal-db\n \
         virtual_ipaddress {\n 192.0.2.101/24\n }\n}\n\
         vrrp_instance VI_3 {\n interface eth0\n virtual_router_id 53\n no_witness\n \
         virtual_ipaddress {\n 192.0.2.102/24\n }\n}\n"
    );
    let model = ok(&text);
    let w = model.witness.expect("a witness");
    assert_eq!(
        w.endpoints,
        ["http://192.0.2.10:2379", "http://192.0.2.11:2379"]
    );
    assert_eq!(w.prefix, "/baton/");
    assert_eq!(w.lease_ttl_s, 3);
    assert_eq!(w.timeout_ms, 500, "a sixth of the lease");
    assert_eq!(w.when_unreachable, baton::vrrp::WhenUnreachable::Release);
    let keys: Vec<Option<&str>> = model
        .instances
        .iter()
        .map(|i| i.witness_key.as_deref())
        .collect();
    assert_eq!(keys, [Some("vrid-51-ipv4"), Some("portal-db"), None]);
}

#[test]
fn witness_block_settings_and_mistakes() {
    let full = "witness {\n endpoints https://192.0.2.10:2379\n prefix /portal/\n lease_ttl 6\n \
                name db1\n when_unreachable keep\n timeout 0.5\n ca_file /etc/baton/ca.pem\n \
                cert_file /etc/baton/c.pem\n key_file /etc/baton/k.pem\n}\n";
    let model = ok(&format!("{full}{}", instance(VIPS)));
    let w = model.witness.unwrap();
    assert_eq!(
        (w.lease_ttl_s, w.timeout_ms, w.name.as_deref()),
        (6, 500, Some("db1"))
    );
    assert_eq!(w.when_unreachable, baton::vrrp::WhenUnreachable::Keep);
    let bad = |block: &str, needle: &str| {
        has_error(
            &format!("witness {{\n{block}\n}}\n{}", instance(VIPS)),
            needle,
        )
    };
    bad(" lease_ttl 3", "witness needs `endpoints`");
    bad(
        " endpoints 192.0.2.10:2379",
        "is not an http:// or https:// address",
    );
    bad(" endpoints http://192.0.2.10", "has no port");
    bad(" endpoints http://192.0.2.10:2379/v3", "has a path");
    bad(
        " endpoints http://192.0.2.10:2379 https://192.0.2.11:2379",
        "mix http:// and https://",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n ca_file /etc/ca.pem",
        "TLS files but its endpoints are http://",
    );
    bad(
        " endpoints https://192.0.2.10:2379\n ca_file /etc/ca.pem\n cert_file /etc/c.pem",
        "both `cert_file` and `key_file`",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n lease_ttl 1",
        "lease_ttl",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n when_unreachable sometimes",
        "release, keep or takeover",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n lease_ttl 3\n timeout 2",
        "too long for lease_ttl",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n prefix baton",
        "must start with /",
    );
    bad(
        " endpoints http://192.0.2.10:2379\n endpiont x",
        "unknown keyword `endpiont`",
    );
    has_error(
        &format!(
            "witness {{\n endpoints http://192.0.2.10:2379\n}}\nwitness {{\n endpoints \
             http://192.0.2.10:2379\n}}\n{}",
            instance(VIPS)
        ),
        "`witness` is defined twice",
    );
    has_error(
        &instance(&format!("witness_key ../x\n{VIPS}")),
        "has characters a key may not have",
    );
    has_error(
        &instance(&format!("witness_key x\nno_witness\n{VIPS}")),
        "both `witness_key` and `no_witness`",
    );
}

#[test]
fn start_up_delays_are_read_in_seconds() {
    let model = ok(&format!(
        "global_defs {{\n vrrp_startup_delay 5.5\n vrrp_delay_after_boot 30\n}}\n{}",
        instance(VIPS)
    ));
    assert_eq!(model.global.startup_delay_ms, 5500);
    assert_eq!(model.global.delay_after_boot_ms, 30_000);
    has_error(
        &format!(
            "global_defs {{\n vrrp_startup_delay soon\n}}\n{}",
            instance(VIPS)
        ),
        "vrrp_startup_delay",
    );
}

#[test]
fn wire_flags_have_keepalived_defaults_strict_mode_and_instance_overrides() {
    let model = ok(&instance(VIPS));
    let i = &model.instances[0];
    assert_eq!(
        (
            i.lower_prio_no_advert,
            i.higher_prio_send_advert,
            i.v3_checksum_as_v2
        ),
        (false, true, false)
    );
    let model = ok(&format!(
        "global_defs {{\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert false\n \
         v3_checksum_as_v2\n}}\n{}",
        instance(&format!("lower_prio_no_advert off\n{VIPS}"))
    ));
    let i = &model.instances[0];
    assert_eq!(
        (
            i.lower_prio_no_advert,
            i.higher_prio_send_advert,
            i.v3_checksum_as_v2
        ),
        (false, false, true),
        "the instance overrides the global default"
    );
    let model = ok(&instance(&format!("strict_mode\nversion 3\n{VIPS}")));
    assert!(model.instances[0].lower_prio_no_advert, "strict mode");
    let g = &model.instances[0].garp;
    assert_eq!(
        (g.lower_prio_repeat, g.lower_prio_delay_s),
        (0, 0),
        "strict"
    );
    // Set on a strict instance: reset, with a warning (as keepalived does).
    let text = instance(&format!(
        "strict_mode\nversion 3\ngarp_lower_prio_repeat 3\n{VIPS}"
    ));
    let model = has_warning(&text, "strict_mode sends no gratuitous ARPs");
    assert_eq!(model.instances[0].garp.lower_prio_repeat, 0);
    // Not strict: the instance's own values.
    let text = instance(&format!(
        "garp_lower_prio_repeat 3\ngarp_lower_prio_delay 7\n{VIPS}"
    ));
    let g = &ok(&text).instances[0].garp;
    assert_eq!((g.lower_prio_repeat, g.lower_prio_delay_s), (3, 7));
}

#[test]
fn two_instances_on_one_witness_key_are_refused() {
    let text = "witness {\n endpoints http://192.0.2.10:2379\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n\
        vrrp_instance B {\n interface eth1\n virtual_router_id 51\n virtual_ipaddress {\n 198.51.100.100/24\n }\n}\n";
    has_error(
        text,
        "has the witness key `vrid-51-ipv4` of vrrp_instance `A`",
    );
    // Without a witness the keys mean nothing.
    let plain = text.replace("witness {\n endpoints http://192.0.2.10:2379\n}\n", "");
    ok(&plain);
}

#[test]
fn vrrp_track_process_reads_keepalived_syntax_and_refuses_bad_values() {
    let text = format!(
        "vrrp_track_process proxy {{\n process \"/usr/sbin/ha proxy\" -f \"/etc/a b.cfg\"\n \
         param_match partial\n weight -20 reverse\n quorum 2\n quorum_max 4\n delay 0.5\n \
         terminate_delay 2\n}}\nvrrp_track_process plain {{\n process nginx\n}}\n{}",
        instance(&format!(
            "track_process {{\n proxy weight 10\n plain\n }}\n{VIPS}"
        ))
    );
    let model = ok(&text);
    let p = &model.track_processes["proxy"];
    assert_eq!(p.name, "/usr/sbin/ha proxy");
    assert_eq!(p.params, ["-f", "/etc/a b.cfg"]);
    assert_eq!(p.param_match, ParamMatch::Partial);
    assert!(p.full_command);
    assert_eq!((p.weight, p.reverse), (-20, true));
    assert_eq!((p.quorum, p.quorum_max), (2, 4));
    assert_eq!((p.fork_delay_ms, p.terminate_delay_ms), (500, 2000));
    let plain = &model.track_processes["plain"];
    assert_eq!(plain.param_match, ParamMatch::None);
    assert!(!plain.full_command);
    assert_eq!((plain.quorum, plain.quorum_max), (1, u32::MAX));
    let t = &model.instances[0].track_processes;
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].name.as_str(), t[0].weight), ("proxy", Some(10)));
    // Parameters alone compare them exactly; quorum_max 0 alone: none may run.
    let text = format!(
        "vrrp_track_process p {{\n process a b\n quorum_max 0\n}}\n{}",
        instance(&format!("track_process {{\n p\n }}\n{VIPS}"))
    );
    let p = &ok(&text).track_processes["p"];
    assert_eq!((p.param_match, p.full_command), (ParamMatch::Exact, true));
    assert_eq!((p.quorum, p.quorum_max), (0, 0));

    let with = |body: &str| {
        format!(
            "vrrp_track_process p {{\n{body}\n}}\n{}",
            instance(&format!("track_process {{\n p\n }}\n{VIPS}"))
        )
    };
    has_error(&with(" weight 1"), "has no `process` line");
    has_error(
        &with(" process x\n param_match sometimes"),
        "param_match must be",
    );
    has_error(
        &with(" process x\n quorum 3\n quorum_max 2"),
        "quorum_max 2 is below quorum 3",
    );
    has_error(&with(" process x\n quorum 0"), "quorum");
    has_error(&with(" process x\n weight 255"), "weight");
    has_error(&with(" process x\n delay 0"), "more than 0 seconds");
    has_error(&with(" process x\n delay 3601"), "at most");
    has_error(&with(" process x\n procss y"), "procss");
    has_error(
        &instance(&format!("track_process {{\n nosuch\n }}\n{VIPS}")),
        "no vrrp_track_process of that name",
    );
}

/// The keyword tables (`config::validate::keywords`) are what the validator reads and what
/// the man-page test checks: a keyword listed there that its block does not read would be
/// documented yet refused as unknown. Each table's every keyword, written alone in its
/// block, may be refused for its value, never as unknown.
#[test]
fn every_keyword_in_the_tables_is_read_by_its_block() {
    use config::validate::keywords as k;
    /// A block's keyword table, and a config with one keyword written alone in that block.
    type Table = (&'static [&'static str], fn(&str) -> String);
    let tables: [Table; 10] = [
        (k::TOP, |kw| format!("{kw}\n{}", instance(VIPS))),
        (k::GLOBAL, |kw| {
            format!("global_defs {{\n {kw}\n}}\n{}", instance(VIPS))
        }),
        (k::SCRIPT, |kw| {
            format!(
                "vrrp_script s {{\n script /bin/true\n {kw}\n}}\n{}",
                instance(VIPS)
            )
        }),
        (k::TRACK_FILE, |kw| {
            format!(
                "vrrp_track_file f {{\n file /tmp/f\n {kw}\n}}\n{}",
                instance(VIPS)
            )
        }),
        (k::TRACK_PROCESS, |kw| {
            format!(
                "vrrp_track_process p {{\n process x\n {kw}\n}}\n{}",
                instance(VIPS)
            )
        }),
        (k::INSTANCE, |kw| instance(&format!("{kw}\n{VIPS}"))),
        (k::SYNC_GROUP, |kw| {
            format!(
                "{}vrrp_sync_group G {{\n group {{\n VI_1\n }}\n {kw}\n}}\n",
                instance(VIPS)
            )
        }),
        (k::AUTH, |kw| {
            instance(&format!("authentication {{\n {kw}\n}}\n{VIPS}"))
        }),
        (k::AUTH_HMAC, |kw| {
            instance(&format!("auth_hmac {{\n {kw}\n}}\n{VIPS}"))
        }),
        (k::WITNESS, |kw| {
            format!("witness {{\n {kw}\n}}\n{}", instance(VIPS))
        }),
    ];
    let mut unread = Vec::new();
    for (table, text) in tables {
        for kw in table {
            let (_, diags) = config::parse_str("t.conf", &text(kw));
            let unknown = format!("unknown keyword `{kw}`");
            if diags.iter().any(|d| d.message.contains(&unknown)) {
                unread.push(*kw);
            }
        }
    }
    assert!(unread.is_empty(), "listed but not read: {unread:?}");
    // The check can fail: a word in no table is reported as unknown.
    let (_, diags) = config::parse_str("t.conf", &instance(&format!("zzz_new\n{VIPS}")));
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("unknown keyword `zzz_new`"))
    );
}

/// An empty `virtual_ipaddress` (or one whose only addresses are excluded, which adverts do
/// not carry) is refused: an advert carries at least one address (RFC 5798 5.2.5), so the
/// instance could never advertise and every node would hold it as master.
#[test]
fn an_empty_virtual_ipaddress_is_refused_for_both_versions() {
    for version in ["version 2", "version 3"] {
        let body = format!("priority 100\n {version}\n virtual_ipaddress {{\n }}\n");
        has_error(&instance(&body), "has an empty virtual_ipaddress");
        let body = format!(
            "priority 100\n {version}\n virtual_ipaddress {{\n }}\n virtual_ipaddress_excluded {{\n 192.0.2.200/24\n }}\n"
        );
        has_error(&instance(&body), "has an empty virtual_ipaddress");
    }
    // One address is enough.
    ok(&instance(&format!("priority 100\n {VIPS}")));
}
