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
}

/// An instance on eth0 whose addresses are `lines` (one per line, from line 6) and whose
/// other keywords are `body`.
fn with_addresses(lines: &[&str], excluded: &[&str], body: &str) -> String {
    let mut text = String::from(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n \
         virtual_ipaddress {\n",
    );
    for l in lines {
        text.push_str(&format!(" {l}\n"));
    }
    text.push_str(" }\n");
    if !excluded.is_empty() {
        text.push_str(" virtual_ipaddress_excluded {\n");
        for l in excluded {
            text.push_str(&format!(" {l}\n"));
        }
        text.push_str(" }\n");
    }
    text.push_str(body);
    text.push_str("\n}\n");
    text
}

#[test]
fn use_vmac_on_an_address_line_makes_a_vmac_on_its_interface() {
    let model = ok(&with_addresses(
        &["192.0.2.100/24", "198.51.100.100/24 dev eth1 use_vmac"],
        &[],
        "",
    ));
    let i = &model.instances[0];
    assert!(i.use_vmac.is_none(), "the instance itself has none");
    assert_eq!(
        i.address_vmacs,
        [config::AddressVmac {
            name: "vr4.51.eth1".into(),
            base: "eth1".into(),
            family: config::Family::IPv4,
            mac: [0, 0, 0x5e, 0, 1, 51],
        }]
    );
    assert!(matches!(
        i.address_place(&i.vips[1]),
        config::AddressPlace::AddressVmac(v) if v.name == "vr4.51.eth1"
    ));
    assert_eq!(
        i.address_place(&i.vips[0]),
        config::AddressPlace::Interface("eth0")
    );
    // On the instance's interface without use_vmac in the instance: a VMAC there too.
    let model = ok(&with_addresses(
        &["192.0.2.100/24", "192.0.2.101/24 dev eth0 use_vmac"],
        &[],
        "",
    ));
    let i = &model.instances[0];
    assert_eq!(i.address_vmacs.len(), 1);
    assert_eq!(i.address_vmacs[0].base, "eth0");
    assert_eq!(
        i.address_place(&i.vips[0]),
        config::AddressPlace::Interface("eth0")
    );
}

#[test]
fn use_vmac_addr_covers_other_interfaces_and_the_other_family() {
    // Beside the instance's own VMAC (vrrp.51), each is named by its VRID, family and
    // interface; two addresses on one interface and family share one; an IPv6 excluded
    // address on eth0 gets one on eth0.
    let model = ok(&with_addresses(
        &[
            "192.0.2.100/24",
            "198.51.100.100/24 dev eth1",
            "198.51.100.101/24 dev eth1",
        ],
        &["2001:db8::100/64", "203.0.113.100/24 dev eth2 no_track"],
        " use_vmac\n use_vmac_addr",
    ));
    let i = &model.instances[0];
    assert!(i.use_vmac_addr);
    let got: Vec<(&str, &str, [u8; 6])> = i
        .address_vmacs
        .iter()
        .map(|v| (v.name.as_str(), v.base.as_str(), v.mac))
        .collect();
    assert_eq!(
        got,
        [
            ("vr4.51.eth1", "eth1", [0, 0, 0x5e, 0, 1, 51]),
            ("vr6.51.eth0", "eth0", [0, 0, 0x5e, 0, 2, 51]),
            ("vr4.51.eth2", "eth2", [0, 0, 0x5e, 0, 1, 51]),
        ]
    );
    assert_eq!(
        i.address_place(&i.vips[0]),
        config::AddressPlace::InstanceVmac
    );
    // Without use_vmac in the instance: the same name.
    let model = ok(&with_addresses(
        &["192.0.2.100/24", "198.51.100.100/24 dev eth1"],
        &[],
        " use_vmac_addr",
    ));
    let i = &model.instances[0];
    assert_eq!(i.address_vmacs.len(), 1);
    assert_eq!(i.address_vmacs[0].name, "vr4.51.eth1");
    assert_eq!(
        i.address_place(&i.vips[0]),
        config::AddressPlace::Interface("eth0")
    );
    // A MAC written in use_vmac is the address VMACs' too (keepalived).
    let model = ok(&with_addresses(
        &["192.0.2.100/24", "198.51.100.100/24 dev eth1"],
        &[],
        " use_vmac 02:00:00:00:10:01\n use_vmac_addr",
    ));
    assert_eq!(
        model.instances[0].address_vmacs[0].mac,
        [2, 0, 0, 0, 0x10, 1]
    );
}

#[test]
fn address_vmac_names_do_not_depend_on_the_other_instances() {
    // VI_1's address VMAC on eth2 is vr4.51.eth2 alone, beside VI_2 (its own VMAC
    // vrrp.51 on eth1), before or after it: adding, removing or reordering another instance
    // never renames it (a rename restarts the instance).
    let vi_1 = with_addresses(
        &["192.0.2.100/24", "203.0.113.100/24 dev eth2 use_vmac"],
        &[],
        "",
    );
    let vi_2 = "vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 51\n priority 100\n \
                use_vmac\n virtual_ipaddress {\n 198.51.100.200/24\n }\n}\n";
    for text in [
        vi_1.clone(),
        format!("{vi_1}{vi_2}"),
        format!("{vi_2}{vi_1}"),
    ] {
        let model = ok(&text);
        let vi1 = model.instance("VI_1").expect("VI_1");
        assert_eq!(vi1.address_vmacs[0].name, "vr4.51.eth2", "{text}");
    }
    // A base too long for the name: a hash of it, within the 15 bytes of a Linux name.
    let long = config::validate::address_vmac_name(255, config::Family::IPv6, "enp0s31f6long");
    assert!(long.starts_with("vr6.255.") && long.len() == 15, "{long}");
    assert_ne!(
        long,
        config::validate::address_vmac_name(255, config::Family::IPv6, "enp0s31f6lonh")
    );
    // A name another interface of the file has is refused at the instance.
    let clash = format!(
        "{}vrrp_instance VI_2 {{\n interface vr4.51.eth2\n virtual_router_id 52\n \
         virtual_ipaddress {{\n 198.51.100.200/24\n }}\n}}\n",
        vi_1
    );
    let (model, diags) = config::parse_str("t.conf", &clash);
    assert!(model.is_none());
    assert!(
        diags.iter().any(|d| d
            .message
            .contains("the address VMAC vr4.51.eth2 on eth2 has the name")),
        "{diags:#?}"
    );
}

#[test]
fn address_vmac_refusals_are_at_their_line() {
    // No interface: keepalived's "use_vmac for a address requires an interface".
    error_at(
        &with_addresses(&["192.0.2.100/24", "198.51.100.100/24 use_vmac"], &[], ""),
        "needs the address's interface",
        7,
    );
    // The instance's VMAC holds it already.
    error_at(
        &with_addresses(&["192.0.2.100/24 dev eth0 use_vmac"], &[], " use_vmac"),
        "instance's own VMAC holds it",
        6,
    );
    // use_vmac_addr gives it one already.
    error_at(
        &with_addresses(
            &["192.0.2.100/24"],
            &["198.51.100.100/24 dev eth1 use_vmac"],
            " use_vmac_addr",
        ),
        "use_vmac_addr",
        9,
    );
    // Two instances with the same VRID and family put a VMAC with one MAC on eth1.
    let text = format!(
        "{}vrrp_instance VI_2 {{\n interface eth1\n virtual_router_id 51\n priority 100\n \
         use_vmac\n virtual_ipaddress {{\n 198.51.100.200/24\n }}\n}}\n",
        with_addresses(
            &["192.0.2.100/24", "198.51.100.100/24 dev eth1 use_vmac"],
            &[],
            ""
        )
    );
    error_at(&text, "00:00:5e:00:01:33 on eth1", 11);
    // vmac_xmit_base still needs use_vmac in the instance.
    error_at(
        &with_addresses(&["192.0.2.100/24"], &[], " use_vmac_addr\n vmac_xmit_base"),
        "without `use_vmac`",
        9,
    );
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

#[test]
fn where_addresses_live_with_the_instances_vmac_alone() {
    // keepalived 2.4.3 (vrrp_complete_instance): an address on the instance's interface,
    // written with `dev` or not, is on the VMAC when of the instance's family; an excluded
    // address of the other family stays on the interface; another interface is itself.
    let model = ok(&with_addresses(
        &["192.0.2.100/24", "192.0.2.101/24 dev eth0"],
        &["2001:db8::100/64", "198.51.100.100/24 dev eth1"],
        " use_vmac",
    ));
    let i = &model.instances[0];
    assert!(i.address_vmacs.is_empty());
    let places: Vec<config::AddressPlace> = i
        .vips
        .iter()
        .chain(&i.excluded_vips)
        .map(|v| i.address_place(v))
        .collect();
    assert_eq!(
        places,
        [
            config::AddressPlace::InstanceVmac,
            config::AddressPlace::InstanceVmac,
            config::AddressPlace::Interface("eth0"),
            config::AddressPlace::Interface("eth1"),
        ]
    );
}
