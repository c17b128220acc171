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
