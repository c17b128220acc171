//! Every keepalived sample shipped by Debian loads (warnings allowed) or, where it uses a
//! keyword baton refuses (one whose absence of effect could make two masters), fails with
//! that error; and every file in conf/ loads with no diagnostics at all.

use baton::config::{self, Loaded, Options};
use std::path::{Path, PathBuf};

fn files_in(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

/// Samples that baton refuses, with the error each must give (and nothing else).
const REFUSED: &[(&str, &str)] = &[
    ("keepalived.conf.SSL_GET", "auth_type AH"),
    // keepalived's deprecated `or` (a two-way multipath route): baton installs none.
    (
        "keepalived.conf.vrrp.routes",
        "baton does not install the route option `or`",
    ),
    // `to 192.168.200./24`: a typo in the sample, refused by keepalived too.
    (
        "keepalived.conf.vrrp.rules",
        "`192.168.200./24` is not an address or prefix",
    ),
    // Members written without `group { }`: keepalived reports them as unknown keywords too.
    ("keepalived.conf.vrrp.lvs_syncd", "unknown keyword `VI_"),
];

fn load(path: &Path, config_id: Option<&str>) -> Loaded {
    let options = Options {
        config_id: config_id.map(str::to_string),
    };
    config::load_with(path, &options).expect("readable")
}

#[test]
fn every_keepalived_sample_loads() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/keepalived-samples");
    let samples = files_in(&dir, "keepalived.conf.");
    assert!(samples.len() >= 20, "samples missing: {samples:?}");
    let mut with_vrrp = 0;
    let mut refused = 0;
    for path in &samples {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some((_, needle)) = REFUSED.iter().find(|(n, _)| *n == name) {
            refused += 1;
            let loaded = load(path, None);
            assert!(!loaded.is_valid(), "{name} loaded");
            assert!(
                loaded.errors().all(|e| e.message.contains(needle)),
                "{name}:\n{}",
                loaded.render()
            );
            assert!(loaded.errors().next().is_some());
            continue;
        }
        for id in [None, Some("high"), Some("low")] {
            let loaded = load(path, id);
            assert!(
                loaded.is_valid(),
                "{} (config id {id:?}) did not load:\n{}",
                path.display(),
                loaded.render()
            );
        }
        let text = std::fs::read_to_string(path).expect("sample");
        let loaded = load(path, None);
        let instances = loaded.model.as_ref().map_or(0, |m| m.instances.len());
        if text.contains("vrrp_instance") {
            with_vrrp += 1;
            assert!(instances > 0, "{}: no instance read", path.display());
        }
        if text.contains("virtual_server") {
            assert!(
                loaded
                    .warnings()
                    .any(|w| w.message.contains("virtual_server")),
                "{}: skipped virtual_server not reported",
                path.display()
            );
        }
    }
    assert!(with_vrrp >= 5, "{with_vrrp}");
    assert_eq!(refused, REFUSED.len());
}

#[test]
fn samples_read_the_right_values() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/keepalived-samples");
    // The conditional sample reads as keepalived, its `use_vmac` included.
    let conditional = dir.join("keepalived.conf.conditional_conf");
    let loaded = load(&conditional, Some("high"));
    let model = loaded.model.expect("valid");
    let vi = model.instance("VI_0").expect("VI_0");
    let vmac = vi.use_vmac.as_ref().expect("use_vmac");
    assert_eq!(vmac.name, format!("vrrp.{}", vi.vrid));
    assert_eq!(vmac.mac, [0, 0, 0x5e, 0, 1, vi.vrid]);
    assert_eq!(vi.priority, 170);
    assert_eq!(vi.advert_int_cs, 1200);
    assert_eq!(vi.version, config::Version::V3);
    assert_eq!(vi.track_interfaces[1].weight, 20);
    assert_eq!(
        model.scripts["check_VI_0"].command.program,
        "/etc/keepalived/scripts/check_high_VI_0.sh"
    );

    let loaded = load(&dir.join("keepalived.conf.vrrp.localcheck"), None);
    let model = loaded.model.expect("valid");
    assert_eq!(model.scripts["chk_sshd"].weight, -4);
    assert_eq!(model.scripts["chk_sshd"].command.args, vec!["-0", "sshd"]);
    let vi = model.instance("VI_1").expect("VI_1");
    assert_eq!(vi.track_scripts[1].weight, Some(2));
    assert_eq!(vi.vips[0].prefix_len, 25);

    let loaded = load(&dir.join("keepalived.conf.vrrp.sync"), None);
    let model = loaded.model.expect("valid");
    assert_eq!(model.sync_groups[0].members.len(), 7);
    let notify = model.sync_groups[0]
        .notify
        .master
        .as_ref()
        .expect("notify_master");
    assert_eq!(notify.command.program, "/usr/local/bin/vrrp.mast");
    assert_eq!(notify.command.args, vec!["arg1", "arg2"]);
}

#[test]
fn conf_files_load_without_any_diagnostic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let mut files = vec![root.join("baton.conf")];
    files.extend(files_in(&root.join("examples"), ""));
    assert!(files.len() >= 6);
    for path in files {
        let loaded = load(&path, None);
        assert!(
            loaded.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            loaded.render()
        );
        let model = loaded.model.expect("valid");
        assert!(!model.instances.is_empty(), "{}", path.display());
    }
}

#[test]
fn reference_config_has_the_documented_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/baton.conf");
    let model = load(&path, None).model.expect("valid");
    let vi = &model.instances[0];
    assert_eq!(vi.interface, "eth0");
    assert_eq!(vi.vrid, 51);
    assert_eq!(vi.priority, 150);
    assert_eq!(vi.vips[0].to_string(), "192.0.2.100/24");
    assert_eq!(vi.fallback(), config::Fallback::Manual);
    assert!(!vi.preempt());
    let check = vi.fallback_check.as_ref().expect("fallback_check");
    assert_eq!(
        check.command.program,
        "/usr/share/baton/scripts/baton-pg-caught-up"
    );
    let notify = vi.notify.any.as_ref().expect("notify");
    assert_eq!(
        notify.command.program,
        "/usr/share/baton/scripts/baton-pg-notify"
    );
    assert_eq!(
        model.scripts["chk_postgres"].command.program,
        "/usr/share/baton/scripts/baton-pg-check"
    );
}
