//! `garp_extra_if [all] SECONDS` (vrrp_instance) and `vrrp_garp_extra_if` (global_defs),
//! with their older names `vmac_garp_intvl` / `vrrp_vmac_garp_intvl`, as keepalived 2.4.3
//! reads them (vrrp_parser.c, global_parser.c): the values, the defaults, the errors at the
//! line, and a reload that changes them (in place).

use baton::config::{self, Change, Diagnostic, Model};

fn config(global: &str, body: &str) -> String {
    format!(
        "global_defs {{\n{global}\n}}\nvrrp_instance VI_1 {{\n interface eth0\n \
         virtual_router_id 51\n priority 100\n virtual_ipaddress {{\n 192.0.2.100/24\n \
         198.51.100.100/24 dev eth1\n }}\n{body}\n}}\n"
    )
}

fn instance(body: &str) -> String {
    config("", body)
}

fn ok(text: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "unexpected errors: {diags:#?}"
    );
    model.expect("valid")
}

fn warnings(text: &str) -> Vec<Diagnostic> {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(model.is_some(), "{diags:#?}");
    diags.into_iter().filter(|d| !d.is_error()).collect()
}

fn error_at(text: &str, needle: &str, line: u32) {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(model.is_none(), "expected an error in:\n{text}");
    let errs: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(
        errs.iter()
            .any(|d| d.message.contains(needle) && d.span.line == line),
        "no error containing {needle:?} on line {line}: {errs:#?}"
    );
}

/// (seconds, all) of the first instance.
fn extra(model: &Model) -> (u32, bool) {
    let g = &model.instances[0].garp;
    (g.extra_if_s, g.extra_if_all)
}

#[test]
fn off_by_default() {
    assert_eq!(extra(&ok(&instance(""))), (0, false));
}

#[test]
fn instance_values_with_and_without_all() {
    assert_eq!(extra(&ok(&instance(" garp_extra_if 100"))), (100, false));
    assert_eq!(extra(&ok(&instance(" garp_extra_if all 100"))), (100, true));
    // keepalived reads the words in any order.
    assert_eq!(extra(&ok(&instance(" garp_extra_if 60 all"))), (60, true));
    assert_eq!(extra(&ok(&instance(" garp_extra_if 0"))), (0, false));
    assert_eq!(
        extra(&ok(&instance(" garp_extra_if all 86400"))),
        (86400, true)
    );
}

#[test]
fn the_global_default_applies_unless_the_instance_sets_its_own_whole() {
    let global = " vrrp_garp_extra_if all 30";
    assert_eq!(extra(&ok(&config(global, ""))), (30, true));
    // The instance's own setting replaces it, `all` included (keepalived: vrrp.c).
    assert_eq!(
        extra(&ok(&config(global, " garp_extra_if 20"))),
        (20, false)
    );
    assert_eq!(extra(&ok(&config(global, " garp_extra_if 0"))), (0, false));
    assert_eq!(
        extra(&ok(&config(" vrrp_garp_extra_if 40", ""))),
        (40, false)
    );
    // 0 globally is off (keepalived ignores it with a message: off as well).
    assert_eq!(extra(&ok(&config(" vrrp_garp_extra_if 0", ""))), (0, false));
    let model = ok(&config(global, ""));
    assert_eq!(
        (model.global.garp.extra_if_s, model.global.garp.extra_if_all),
        (30, true)
    );
}

#[test]
fn the_older_names_mean_the_same_with_a_deprecation_warning() {
    let text = config(" vrrp_vmac_garp_intvl all 30", "");
    assert_eq!(extra(&ok(&text)), (30, true));
    let w = warnings(&text);
    assert!(
        w.iter().any(|d| d.message.contains("deprecated")
            && d.help
                .as_deref()
                .unwrap_or("")
                .contains("vrrp_garp_extra_if all 30")
            && d.span.line == 2),
        "{w:#?}"
    );
    let text = instance(" vmac_garp_intvl 25");
    assert_eq!(extra(&ok(&text)), (25, false));
    let w = warnings(&text);
    assert!(
        w.iter()
            .any(|d| d.message.contains("`vmac_garp_intvl` is deprecated")),
        "{w:#?}"
    );
}

#[test]
fn bad_values_are_errors_at_the_line() {
    // The instance body is on line 12, a global line on line 2.
    error_at(&instance(" garp_extra_if 86401"), "between 0 and 86400", 12);
    error_at(&instance(" garp_extra_if -1"), "between 0 and 86400", 12);
    error_at(&instance(" garp_extra_if some 10"), "found `some`", 12);
    error_at(&instance(" garp_extra_if 1.5"), "found `1.5`", 12);
    error_at(
        &instance(" garp_extra_if all"),
        "needs a number of seconds",
        12,
    );
    error_at(&instance(" garp_extra_if"), "needs a number of seconds", 12);
    error_at(
        &instance(" garp_extra_if 10 20"),
        "one number of seconds",
        12,
    );
    error_at(
        &instance(" garp_extra_if all all 10"),
        "`all` is given twice",
        12,
    );
    error_at(
        &config(" vrrp_garp_extra_if 100000", ""),
        "between 0 and 86400",
        2,
    );
    error_at(
        &config(" vrrp_vmac_garp_intvl every 5", ""),
        "found `every`",
        2,
    );
    // Only the global form exists in global_defs, only the instance one in an instance.
    error_at(&config(" garp_extra_if 5", ""), "garp_extra_if", 2);
}

#[test]
fn a_reload_that_changes_it_is_applied_in_place() {
    let old = ok(&instance(" garp_extra_if 10"));
    for body in [
        " garp_extra_if 20",
        " garp_extra_if all 10",
        " garp_extra_if 0",
    ] {
        let new = ok(&instance(body));
        let diff = Model::diff(&old, &new);
        assert!(diff.removed.is_empty() && diff.added.is_empty(), "{body}");
        assert_eq!(
            diff.changed,
            vec![("VI_1".to_string(), vec![Change::Garp])],
            "{body}"
        );
    }
    let same = ok(&instance(" vmac_garp_intvl 10"));
    assert!(Model::diff(&old, &same).is_empty());
}
