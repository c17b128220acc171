//! `use_vmac` and `vmac_xmit_base` in the keepalived language: defaults, options and the
//! errors keepalived gives (or that baton gives where it does not implement a part).

use baton::config::{self, Diagnostic, Model};

fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 100\n \
         virtual_ipaddress {{\n 192.0.2.100/24\n }}\n{body}\n}}\n"
    )
}

fn ok(text: &str) -> Model {
    let (model, diags) = config::parse_str("t.conf", text);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "unexpected errors: {diags:#?}"
    );
    model.expect("valid")
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

#[test]
fn defaults_follow_keepalived() {
    let model = ok(&instance(" use_vmac"));
    let vmac = model.instances[0].use_vmac.clone().expect("vmac");
    assert_eq!(vmac.name, "vrrp.51");
    assert_eq!(vmac.mac, [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
    assert!(!vmac.xmit_base);
}

#[test]
fn name_mac_and_xmit_base() {
    let model = ok(&instance(
        " use_vmac name vip51 02:00:00:00:10:01\n vmac_xmit_base",
    ));
    let vmac = model.instances[0].use_vmac.clone().expect("vmac");
    assert_eq!(vmac.name, "vip51");
    assert_eq!(vmac.mac, [2, 0, 0, 0, 0x10, 1]);
    assert!(vmac.xmit_base);
    // Five octets: the sixth is the VRID; the name without `name`.
    let model = ok(&instance(" use_vmac 02:00:00:00:10 vip51"));
    let vmac = model.instances[0].use_vmac.clone().expect("vmac");
    assert_eq!(
        (vmac.name.as_str(), vmac.mac),
        ("vip51", [2, 0, 0, 0, 0x10, 51])
    );
}

#[test]
fn bad_names_and_macs_are_errors_at_the_line() {
    // Line 8 holds the body.
    error_at(
        &instance(" use_vmac a-name-far-too-long"),
        "longer than 15",
        8,
    );
    error_at(
        &instance(" use_vmac name a/b"),
        "cannot be an interface name",
        8,
    );
    error_at(
        &instance(" use_vmac 02:00:zz:00:00:01"),
        "not a usable MAC",
        8,
    );
    error_at(&instance(" use_vmac 01:00:5e:00:00:01"), "multicast", 8);
    error_at(&instance(" use_vmac 00:00:5e:00:01:33"), "RFC 5798", 8);
    error_at(&instance(" use_vmac 02:00:00"), "five or six octets", 8);
}

#[test]
fn unicast_needs_vmac_xmit_base() {
    let peers = " unicast_src_ip 192.0.2.1\n unicast_peer {\n 192.0.2.2\n }\n";
    error_at(
        &instance(&format!(" use_vmac\n{peers}")),
        "needs `vmac_xmit_base`",
        8,
    );
    let model = ok(&instance(&format!(" use_vmac\n vmac_xmit_base\n{peers}")));
    assert!(
        model.instances[0]
            .use_vmac
            .as_ref()
            .expect("vmac")
            .xmit_base
    );
}

#[test]
fn refused_combinations() {
    error_at(&instance(" vmac_xmit_base"), "without `use_vmac`", 8);
    error_at(
        &instance(" use_vmac\n vmac_xmit_base\n strict_mode on"),
        "strict mode",
        9,
    );
    // keepalived's per-address `use_vmac` is not implemented: refused, not ignored.
    let per_address = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                       priority 100\n virtual_ipaddress {\n 192.0.2.100/24 dev eth1 use_vmac\n }\n}\n";
    error_at(per_address, "address line", 6);
    // use_vmac_addr stays refused.
    error_at(&instance(" use_vmac\n use_vmac_addr"), "use_vmac_addr", 9);
}

#[test]
fn two_instances_cannot_share_a_vmac_name() {
    let text = format!(
        "{}vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 52\n priority 100\n \
         virtual_ipaddress {{\n 192.0.2.101/24\n }}\n use_vmac vrrp.51\n}}\n",
        instance(" use_vmac")
    );
    let (model, diags) = config::parse_str("t.conf", &text);
    assert!(model.is_none());
    assert!(
        diags
            .iter()
            .any(|d| d.is_error() && d.message.contains("already used by vrrp_instance `VI_1`")),
        "{diags:#?}"
    );
}

#[test]
fn a_vmac_change_restarts_the_instance_on_reload() {
    let old = ok(&instance(""));
    let with = ok(&instance(" use_vmac"));
    let renamed = ok(&instance(" use_vmac vip51"));
    for (a, b) in [(&old, &with), (&with, &old), (&with, &renamed)] {
        let diff = Model::diff(a, b);
        assert_eq!(diff.removed, vec!["VI_1".to_string()], "{diff:?}");
        assert_eq!(diff.added, vec!["VI_1".to_string()], "{diff:?}");
    }
    assert!(Model::diff(&with, &with).is_empty());
}

#[test]
fn ipv6_takes_the_ipv6_mac_and_vrrp6_beside_its_ipv4_twin() {
    let v6 = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 51\n priority 100\n \
              virtual_ipaddress {\n 2001:db8::100/64\n }\n use_vmac\n}\n";
    let model = ok(v6);
    let vmac = model.instances[0].use_vmac.clone().expect("vmac");
    assert_eq!(vmac.name, "vrrp.51");
    assert_eq!(vmac.mac, [0x00, 0x00, 0x5e, 0x00, 0x02, 51]);
    // With an IPv4 instance of the same VRID holding vrrp.51 (before or after it), the
    // IPv6 one takes vrrp6.51, as keepalived names it.
    for text in [
        format!("{v6}{}", instance(" use_vmac")),
        format!("{}{v6}", instance(" use_vmac")),
    ] {
        let model = ok(&text);
        let name = |n: &str| {
            model
                .instance(n)
                .and_then(|i| i.use_vmac.clone())
                .expect("vmac")
                .name
        };
        assert_eq!(name("VI_1"), "vrrp.51");
        assert_eq!(name("V6"), "vrrp6.51");
    }
    // A name written is kept, and then two instances on one name is an error.
    let named = v6.replace("use_vmac", "use_vmac vrrp.51");
    let (model, _) = config::parse_str("t.conf", &format!("{}{named}", instance(" use_vmac")));
    assert!(model.is_none());
}
