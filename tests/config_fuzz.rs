//! The parser never panics, on arbitrary text and on random soups of config tokens; and
//! rendering whatever it reports never panics either.

use baton::config::{self, NoFiles, Options};
use proptest::prelude::*;

fn check(text: &str) {
    let loaded = config::parse_text("fuzz.conf", text.to_string(), &Options::default(), &NoFiles);
    let _ = loaded.render();
    if let Some(model) = &loaded.model {
        let _ = config::Model::diff(model, model);
        assert!(!loaded.errors().any(|_| true));
    }
}

const TOKENS: &[&str] = &[
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "G",
    "group",
    "global_defs",
    "virtual_server",
    "track_file",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "state",
    "MASTER",
    "BACKUP",
    "nopreempt",
    "fallback",
    "manual",
    "automatic",
    "fallback_check",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "via",
    "table",
    "blackhole",
    "from",
    "to",
    "lookup",
    "fwmark",
    "0x10/0xff",
    "default",
    "no_track",
    "198.51.100.0/24",
    "2001:db8::/32",
    "unicast_peer",
    "unicast_src_ip",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "track_script",
    "track_interface",
    "weight",
    "reverse",
    "notify",
    "script",
    "interval",
    "dev",
    "brd",
    "scope",
    "label",
    "peer",
    "0",
    "1",
    "3",
    "51",
    "255",
    "256",
    "0.05",
    "-253",
    "99999999999999999999",
    "192.0.2.1",
    "192.0.2.1/24",
    "2001:db8::1/64",
    "/33",
    "{",
    "}",
    "{",
    "}",
    "\"",
    "\"a b\"",
    "'",
    "#",
    "!",
    "\\",
    "$P=1",
    "$P",
    "${P}",
    "$",
    "@a",
    "@^a",
    "~SEQ(a,1,3)",
    "include",
    "*.conf",
    "\t",
    " ",
    "\n",
    "\n",
    "\n",
    "é",
    "\u{0}",
    "\r\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn token_soup_never_panics(indices in prop::collection::vec(0..TOKENS.len(), 0..200)) {
        let mut text = String::new();
        for i in indices {
            text.push_str(TOKENS[i]);
            text.push(' ');
        }
        check(&text);
    }

    #[test]
    fn valid_instance_with_random_priority(priority in 0u32..400) {
        let text = format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n priority {priority}\n \
             virtual_ipaddress {{\n 192.0.2.1\n }}\n}}\n"
        );
        let (model, _) = config::parse_str("t", &text);
        prop_assert_eq!(model.is_some(), (1..=255).contains(&priority));
    }
}
