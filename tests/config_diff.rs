//! `Model::diff`: which instances a reload adds, removes, changes or leaves alone.

use baton::config::{self, Change, Fallback, Model};

fn model(text: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    model.unwrap_or_else(|| panic!("invalid: {diags:#?}"))
}

fn inst(name: &str, vrid: u8, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n {body}\n \
         virtual_ipaddress {{\n 192.0.2.{vrid}/24\n }}\n}}\n"
    )
}

#[test]
fn identical_configs_diff_empty() {
    let text = format!("{}{}", inst("A", 1, "priority 150"), inst("B", 2, ""));
    let d = Model::diff(&model(&text), &model(&text));
    assert!(d.is_empty());
    assert_eq!(d.unchanged, vec!["A", "B"]);
}

#[test]
fn added_removed_and_changed() {
    let old = model(&format!(
        "{}{}",
        inst("A", 1, "priority 150"),
        inst("B", 2, "")
    ));
    let new = model(&format!(
        "{}{}",
        inst("A", 1, "priority 120\nadvert_int 2\nnopreempt"),
        inst("C", 3, "")
    ));
    let d = Model::diff(&old, &new);
    assert_eq!(d.added, vec!["C"]);
    assert_eq!(d.removed, vec!["B"]);
    assert!(d.unchanged.is_empty());
    assert_eq!(d.changed.len(), 1);
    let (name, changes) = &d.changed[0];
    assert_eq!(name, "A");
    assert_eq!(
        changes,
        &vec![
            Change::Priority { old: 150, new: 120 },
            Change::AdvertInt {
                old_cs: 100,
                new_cs: 200
            },
            Change::Fallback {
                old: Fallback::Automatic,
                new: Fallback::Manual
            },
        ]
    );
}

#[test]
fn vip_changes_are_listed() {
    let old = model(&inst("A", 1, "virtual_ipaddress {\n 192.0.2.50/24\n}"));
    let new = model(&inst("A", 1, "virtual_ipaddress {\n 192.0.2.60/24\n}"));
    let d = Model::diff(&old, &new);
    let changes = &d.changed[0].1;
    assert!(matches!(&changes[0], Change::VipsAdded(v) if v[0].to_string() == "192.0.2.60/24"));
    assert!(matches!(&changes[1], Change::VipsRemoved(v) if v[0].to_string() == "192.0.2.50/24"));
}

#[test]
fn identity_change_is_remove_and_add() {
    let old = model(&inst("A", 1, ""));
    let new = model(&inst("A", 1, "").replace("eth0", "eth1"));
    let d = Model::diff(&old, &new);
    assert_eq!(
        (d.removed.clone(), d.added.clone()),
        (vec!["A".to_string()], vec!["A".to_string()])
    );
    assert!(d.changed.is_empty());
    let new = model(&inst("A", 1, "version 3"));
    assert_eq!(Model::diff(&old, &new).added, vec!["A"]);
}

#[test]
fn notify_tracks_auth_and_script_definitions() {
    let script =
        |interval: u8| format!("vrrp_script chk {{\n script /bin/true\n interval {interval}\n}}\n");
    let body = "track_script {\n chk\n}";
    let old = model(&format!("{}{}", script(1), inst("A", 1, body)));
    let new = model(&format!(
        "{}{}",
        script(2),
        inst(
            "A",
            1,
            &format!("{body}\nnotify /bin/n\nauthentication {{\n auth_type PASS\n auth_pass x\n}}")
        )
    ));
    let d = Model::diff(&old, &new);
    assert_eq!(d.scripts_changed, vec!["chk"]);
    assert_eq!(
        d.changed[0].1,
        vec![
            Change::Auth,
            Change::TrackedDefinition("chk".into()),
            Change::Notify
        ]
    );
}

#[test]
fn global_and_sync_group_changes() {
    let a = inst("A", 1, "");
    let b = inst("B", 2, "");
    let group = "vrrp_sync_group G {\n group {\n A\n B\n }\n}\n";
    let old = model(&format!("{a}{b}"));
    let new = model(&format!("global_defs {{\n router_id x\n}}\n{a}{b}{group}"));
    let d = Model::diff(&old, &new);
    assert!(d.global_changed);
    assert!(d.sync_groups_changed);
    assert_eq!(d.changed.len(), 2);
    assert_eq!(d.changed[0].1, vec![Change::SyncGroup]);
    // A global GARP default reaches the instances that inherit it.
    let new = model(&format!(
        "global_defs {{\n vrrp_garp_master_repeat 1\n}}\n{a}{b}"
    ));
    assert_eq!(Model::diff(&old, &new).changed[0].1, vec![Change::Garp]);
}

/// A route, rule or excluded address added, removed or changed (even only its `no_track`)
/// is a change of the instance, never "unchanged".
#[test]
fn routes_rules_and_excluded_addresses_are_diffed() {
    let body = |route: &str, rule: &str, excluded: &str| {
        inst(
            "A",
            1,
            &format!(
                "virtual_routes {{\n{route}\n}}\nvirtual_rules {{\n{rule}\n}}\n\
                 virtual_ipaddress_excluded {{\n{excluded}\n}}"
            ),
        )
    };
    let base = model(&body(
        "198.51.100.0/24 via 192.0.2.254",
        "from 192.0.2.0/24 table 100 priority 100",
        "203.0.113.1/24",
    ));
    assert!(Model::diff(&base, &base).is_empty());
    let cases = [
        (
            body(
                "198.51.100.0/24 via 192.0.2.254\n203.0.113.0/24 dev eth0 table 100",
                "from 192.0.2.0/24 table 100 priority 100",
                "203.0.113.1/24",
            ),
            "RoutesAdded",
        ),
        (
            body(
                "198.51.100.0/24 via 192.0.2.254 no_track",
                "from 192.0.2.0/24 table 100 priority 100",
                "203.0.113.1/24",
            ),
            "RoutesAdded",
        ),
        (
            body(
                "198.51.100.0/24 via 192.0.2.254",
                "from 192.0.2.0/24 table 101 priority 100",
                "203.0.113.1/24",
            ),
            "RulesAdded",
        ),
        (
            body(
                "198.51.100.0/24 via 192.0.2.254",
                "from 192.0.2.0/24 table 100 priority 100",
                "203.0.113.2/24",
            ),
            "ExcludedVipsAdded",
        ),
    ];
    for (text, kind) in cases {
        let d = Model::diff(&base, &model(&text));
        assert!(d.unchanged.is_empty(), "{kind}: {d:#?}");
        let (_, changes) = &d.changed[0];
        assert!(
            changes.iter().any(|c| format!("{c:?}").starts_with(kind)),
            "{kind}: {changes:?}"
        );
        // And back: the removal is a change too.
        let back = Model::diff(&model(&text), &base);
        assert!(back.unchanged.is_empty(), "{kind} back: {back:#?}");
    }
    let without = model(&inst("A", 1, ""));
    let d = Model::diff(&base, &without);
    assert_eq!(
        d.changed[0]
            .1
            .iter()
            .map(|c| format!("{c:?}").split('(').next().unwrap_or("").to_string())
            .collect::<Vec<_>>(),
        ["ExcludedVipsRemoved", "RoutesRemoved", "RulesRemoved"]
    );
}

#[test]
fn an_auth_hmac_change_is_applied_in_place_and_never_shows_the_key() {
    let key1 = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let key2 = "a-second-key-with-at-least-32-characters";
    let hmac = |active: u8, second: &str| {
        format!("auth_hmac {{\n key 1 {key1}\n key 2 {second}\n active_key {active}\n }}")
    };
    let old = model(&inst("A", 1, &hmac(1, key2)));
    // Rotation: another active key; then another key's bytes under the same id.
    for new in [
        hmac(2, key2),
        hmac(1, "yet-another-key-with-32-characters-or-more"),
    ] {
        let d = Model::diff(&old, &model(&inst("A", 1, &new)));
        assert!(d.added.is_empty() && d.removed.is_empty(), "{d:?}");
        assert_eq!(d.changed, vec![("A".to_string(), vec![Change::AuthHmac])]);
        let shown = format!("{d:?}{}", serde_json::to_string(&d).unwrap());
        assert!(
            !shown.contains("second-key") && !shown.contains("0102030405"),
            "{shown}"
        );
    }
    assert!(Model::diff(&old, &old).is_empty());
}

/// The name of a change's kind. No `_` arm: a new `Change` variant does not compile here
/// until it is named, and `every_kind_of_change_is_reported` then wants a case for it.
fn kind(c: &Change) -> &'static str {
    match c {
        Change::State { .. } => "State",
        Change::Priority { .. } => "Priority",
        Change::AdvertInt { .. } => "AdvertInt",
        Change::VipsAdded(_) => "VipsAdded",
        Change::VipsRemoved(_) => "VipsRemoved",
        Change::ExcludedVipsAdded(_) => "ExcludedVipsAdded",
        Change::ExcludedVipsRemoved(_) => "ExcludedVipsRemoved",
        Change::RoutesAdded(_) => "RoutesAdded",
        Change::RoutesRemoved(_) => "RoutesRemoved",
        Change::RulesAdded(_) => "RulesAdded",
        Change::RulesRemoved(_) => "RulesRemoved",
        Change::Unicast => "Unicast",
        Change::Multicast => "Multicast",
        Change::Auth => "Auth",
        Change::AuthHmac => "AuthHmac",
        Change::TrackInterfaces => "TrackInterfaces",
        Change::TrackScripts => "TrackScripts",
        Change::TrackFiles => "TrackFiles",
        Change::TrackProcesses => "TrackProcesses",
        Change::TrackedDefinition(_) => "TrackedDefinition",
        Change::Fallback { .. } => "Fallback",
        Change::FallbackCheck => "FallbackCheck",
        Change::FlapHoldDown => "FlapHoldDown",
        Change::PreemptDelay => "PreemptDelay",
        Change::Accept => "Accept",
        Change::Garp => "Garp",
        Change::Notify => "Notify",
        Change::SyncGroup => "SyncGroup",
        Change::Checks => "Checks",
        Change::Witness => "Witness",
    }
}

/// Every kind `kind` names, in the order of `Change`.
const KINDS: [&str; 30] = [
    "State",
    "Priority",
    "AdvertInt",
    "VipsAdded",
    "VipsRemoved",
    "ExcludedVipsAdded",
    "ExcludedVipsRemoved",
    "RoutesAdded",
    "RoutesRemoved",
    "RulesAdded",
    "RulesRemoved",
    "Unicast",
    "Multicast",
    "Auth",
    "AuthHmac",
    "TrackInterfaces",
    "TrackScripts",
    "TrackFiles",
    "TrackProcesses",
    "TrackedDefinition",
    "Fallback",
    "FallbackCheck",
    "FlapHoldDown",
    "PreemptDelay",
    "Accept",
    "Garp",
    "Notify",
    "SyncGroup",
    "Checks",
    "Witness",
];

/// A change to each kind of instance setting is reported as exactly its `Change`, one
/// case (at least) per variant, so a setting can never read as "unchanged" on a reload.
/// The settings that once did (`unicast_ttl`, `lower_prio_no_advert`,
/// `higher_prio_send_advert`, `v3_checksum_as_v2`) have cases of their own.
#[test]
fn every_kind_of_change_is_reported() {
    let script = |interval: u8| {
        format!(
            "vrrp_script chk {{\n script /bin/true\n interval {interval}\n}}\n\
             track_file flag {{\n file /run/flag\n}}\n\
             vrrp_track_process pg {{\n process postgres\n}}\n\
             witness {{\n endpoints http://192.0.2.10:2379\n}}\n"
        )
    };
    let text = |prelude: &str, body: &str, after: &str| {
        format!(
            "{prelude}vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n \
             priority 150\n{body}\n}}\n{after}"
        )
    };
    let vips = |list: &str| format!("virtual_ipaddress {{\n{list}\n}}");
    let one = vips("192.0.2.1/24");
    let two = vips("192.0.2.1/24\n192.0.2.2/24");
    let with = |extra: &str| format!("{one}\n{extra}");
    let block = |kw: &str, lines: &str| with(&format!("{kw} {{\n{lines}\n}}"));
    let excluded = block("virtual_ipaddress_excluded", "203.0.113.1/24");
    let route = block("virtual_routes", "198.51.100.0/24 via 192.0.2.254");
    let rule = block("virtual_rules", "from 192.0.2.0/24 table 100 priority 100");
    let key = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let hmac = |active: u8| {
        block(
            "auth_hmac",
            &format!(
                "key 1 {key}\nkey 2 a-second-key-with-at-least-32-characters\nactive_key {active}"
            ),
        )
    };
    let peer =
        |extra: &str| block("unicast_peer", "192.0.2.2").replace("\n}", &format!("\n}}\n{extra}"));
    let v3 = |extra: &str| with(&format!("version 3\n{extra}"));
    let s1 = script(1);
    let a = |body: &str| text(&s1, body, "");
    let pair = |old: &str, new: &str| (a(old), a(new));
    let added = |body: &str| (a(&one), a(&with(body)));
    // (kind, old text, new text)
    let mut cases: Vec<(&str, (String, String))> = vec![
        ("State", added("state MASTER")),
        ("Priority", added("priority 120")),
        ("AdvertInt", added("advert_int 2")),
        ("VipsAdded", pair(&one, &two)),
        ("VipsRemoved", pair(&two, &one)),
        ("ExcludedVipsAdded", pair(&one, &excluded)),
        ("ExcludedVipsRemoved", pair(&excluded, &one)),
        ("RoutesAdded", pair(&one, &route)),
        ("RoutesRemoved", pair(&route, &one)),
        ("RulesAdded", pair(&one, &rule)),
        ("RulesRemoved", pair(&rule, &one)),
        (
            "Unicast",
            pair(&peer(""), &block("unicast_peer", "192.0.2.3")),
        ),
        (
            "Unicast",
            pair(&peer(""), &peer("unicast_src_ip 192.0.2.9")),
        ),
        ("Unicast", pair(&peer(""), &peer("unicast_ttl 64"))),
        ("Multicast", added("mcast_src_ip 192.0.2.9")),
        ("Multicast", added("mcast_dst_ip 224.0.0.19")),
        (
            "Auth",
            pair(
                &one,
                &block("authentication", "auth_type PASS\nauth_pass x"),
            ),
        ),
        ("AuthHmac", pair(&hmac(1), &hmac(2))),
        (
            "TrackInterfaces",
            pair(&one, &block("track_interface", "eth1")),
        ),
        ("TrackScripts", pair(&one, &block("track_script", "chk"))),
        ("TrackFiles", pair(&one, &block("track_file", "flag"))),
        ("TrackProcesses", pair(&one, &block("track_process", "pg"))),
        ("Fallback", added("nopreempt")),
        (
            "FallbackCheck",
            pair(
                &with("fallback manual"),
                &with("fallback manual\nfallback_check /bin/true"),
            ),
        ),
        ("FlapHoldDown", added("flap_hold_down 5")),
        ("FlapHoldDown", added("flap_damping 3 600 1800")),
        ("PreemptDelay", added("preempt_delay 10")),
        ("Accept", pair(&with("accept"), &with("no_accept"))),
        ("Garp", added("garp_master_repeat 3")),
        ("Notify", added("notify /bin/n")),
        ("Checks", added("dont_track_primary")),
        ("Checks", added("skip_check_adv_addr")),
        ("Checks", pair(&peer(""), &peer("check_unicast_src"))),
        ("Checks", added("debug 2")),
        ("Checks", added("lower_prio_no_advert")),
        ("Checks", added("higher_prio_send_advert off")),
        ("Checks", pair(&v3(""), &v3("v3_checksum_as_v2"))),
        ("Witness", added("witness_key portal")),
        ("Witness", added("no_witness")),
    ];
    // The definition of a tracked script changed, not the instance's text.
    let tracking = block("track_script", "chk");
    let redefined = (a(&tracking), text(&script(2), &tracking, ""));
    cases.push(("TrackedDefinition", redefined));
    // A sync group made around it.
    let group = "vrrp_sync_group G {\n group {\n A\n }\n}\n";
    cases.push(("SyncGroup", (a(&one), text(&s1, &one, group))));
    let mut covered: Vec<&str> = Vec::new();
    for (want, (old_text, new_text)) in &cases {
        let (old, new) = (model(old_text), model(new_text));
        let d = Model::diff(&old, &new);
        assert!(
            d.added.is_empty() && d.removed.is_empty() && d.unchanged.is_empty(),
            "{want}: {d:#?}"
        );
        let [(name, changes)] = d.changed.as_slice() else {
            panic!("{want}: {d:#?}");
        };
        assert_eq!(name, "A");
        let kinds: Vec<&str> = changes.iter().map(kind).collect();
        assert_eq!(kinds, [*want], "{want}: {new_text}");
        // And back: never "unchanged" either way.
        let back = Model::diff(&new, &old);
        assert!(
            back.unchanged.is_empty() && !back.changed.is_empty(),
            "{want} back: {back:#?}"
        );
        covered.push(want);
    }
    // A VMAC added is a change of the instance's identity (its VIPs and socket move to
    // another interface): removed and added, not changed.
    let old = model(&text(&s1, &one, ""));
    let new = model(&text(&s1, &with("use_vmac"), ""));
    let d = Model::diff(&old, &new);
    assert!(d.changed.is_empty(), "{d:#?}");
    assert_eq!(
        (d.removed.clone(), d.added.clone()),
        (vec!["A".to_string()], vec!["A".to_string()]),
        "{d:#?}"
    );
    let missing: Vec<&&str> = KINDS.iter().filter(|k| !covered.contains(k)).collect();
    assert!(missing.is_empty(), "kinds without a case: {missing:?}");
}

/// `use_vmac_addr` and the address VMACs are identity (restart); `use_vmac` on an address
/// line that keeps the same macvlans is a VIP change, applied in place.
#[test]
fn address_vmacs_are_identity_and_a_vip_moving_onto_one_is_in_place() {
    let body = |vips: &str, extra: &str| {
        format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n {extra}\n \
             virtual_ipaddress {{\n 192.0.2.1/24\n{vips} }}\n}}\n"
        )
    };
    let restarted = |old: &str, new: &str| {
        let d = Model::diff(&model(old), &model(new));
        d.changed.is_empty() && d.removed == ["A"] && d.added == ["A"]
    };
    let plain = body(" 198.51.100.1/24 dev eth1\n", "");
    let addr = body(" 198.51.100.1/24 dev eth1\n", "use_vmac_addr");
    let per_line = body(" 198.51.100.1/24 dev eth1 use_vmac\n", "");
    assert!(restarted(&plain, &addr), "use_vmac_addr added");
    assert!(restarted(&addr, &plain), "use_vmac_addr removed");
    assert!(
        restarted(&plain, &per_line),
        "a macvlan added by an address line"
    );
    // Same macvlan (vrrp.1 on eth1 for IPv4): the second address moving onto it is a VIP
    // change.
    let one = body(
        " 198.51.100.1/24 dev eth1 use_vmac\n 198.51.100.2/24 dev eth1\n",
        "",
    );
    let both = body(
        " 198.51.100.1/24 dev eth1 use_vmac\n 198.51.100.2/24 dev eth1 use_vmac\n",
        "",
    );
    let d = Model::diff(&model(&one), &model(&both));
    assert!(d.removed.is_empty() && d.added.is_empty(), "{d:#?}");
    assert_eq!(d.changed.len(), 1, "{d:#?}");
}

/// Adding an unrelated instance on another interface with the same VRID and `use_vmac`
/// (its own VMAC takes `vrrp.51`) leaves an unchanged instance's address VMAC as it was:
/// its name comes from its own VRID, family and interface, so X is not restarted (its VIPs
/// would go and the peer take over). "A diff is applied, nothing unchanged moves"
/// (DESIGN.md). Found by review: with keepalived's file-wide names X's macvlan went from
/// `vrrp.51` to `vrrp1.51` and X was removed and added again.
#[test]
fn adding_an_instance_does_not_restart_an_unchanged_one_with_an_address_vmac() {
    let x = "vrrp_instance X {\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {\n 192.0.2.1/24\n 198.51.100.1/24 dev eth1 use_vmac\n }\n}\n";
    let y = "vrrp_instance Y {\n interface eth2\n virtual_router_id 51\n use_vmac\n \
             virtual_ipaddress {\n 203.0.113.1/24\n }\n}\n";
    let old = model(x);
    let new = model(&format!("{x}{y}"));
    let names = |m: &Model| -> Vec<String> {
        m.instance("X")
            .unwrap()
            .address_vmacs
            .iter()
            .map(|v| v.name.clone())
            .collect()
    };
    let d = Model::diff(&old, &new);
    assert_eq!(d.added, ["Y"], "{d:#?}");
    assert!(
        d.removed.is_empty() && d.unchanged == ["X"],
        "X's address VMAC {:?} -> {:?}: X restarted by adding Y\n{d:#?}",
        names(&old),
        names(&new)
    );
}
