//! Diagnostics are rendered byte for byte as documented (rustc style, no colour).

use baton::config::{self, NoFiles, Options};

fn render(text: &str) -> String {
    let loaded = config::parse_text(
        "/etc/baton/baton.conf",
        text.to_string(),
        &Options::default(),
        &NoFiles,
    );
    loaded.render()
}

const HEAD: &str = "vrrp_instance VI_1 {\n    interface eth0\n";
const VIPS: &str = "    virtual_ipaddress {\n        192.0.2.100/24\n    }\n";

#[test]
fn range_error_with_caret_and_help() {
    let text = format!(
        "global_defs {{\n    router_id a\n}}\n\n{HEAD}{VIPS}    state BACKUP\n    priority 150\n    virtual_router_id 300\n}}\n"
    );
    assert_eq!(
        render(&text),
        "\
error: virtual_router_id must be between 1 and 255, found 300
  --> /etc/baton/baton.conf:12:23
   |
12 |     virtual_router_id 300
   |                       ^^^ expected a number from 1 to 255
"
    );
}

#[test]
fn unknown_keyword_suggests_a_known_one() {
    let text = format!("{HEAD}{VIPS}    virtual_router_id 7\n    advert_itn 1\n}}\n");
    assert_eq!(
        render(&text),
        "\
error: unknown keyword `advert_itn` in vrrp_instance
 --> /etc/baton/baton.conf:7:5
  |
7 |     advert_itn 1
  |     ^^^^^^^^^^ did you mean `advert_int`?
"
    );
}

#[test]
fn several_diagnostics_sorted_and_separated() {
    let text =
        format!("{HEAD}{VIPS}    virtual_router_id 1\n\tstate master2\n\tpriority 0\n}}\n}}\n");
    assert_eq!(
        render(&text),
        "\
error: state must be MASTER or BACKUP, found `master2`
 --> /etc/baton/baton.conf:7:8
  |
7 |     state master2
  |           ^^^^^^^ expected MASTER or BACKUP

error: priority must be between 1 and 255, found 0
 --> /etc/baton/baton.conf:8:11
  |
8 |     priority 0
  |              ^ expected a number from 1 to 255

error: unexpected `}`
  --> /etc/baton/baton.conf:10:1
   |
10 | }
   | ^ this closes no block
"
    );
}

#[test]
fn missing_things_point_at_the_instance_name() {
    let text = "vrrp_instance WEB {\n    priority 100\n}\n";
    assert_eq!(
        render(text),
        "\
error: vrrp_instance `WEB` has no `interface`
 --> /etc/baton/baton.conf:1:15
  |
1 | vrrp_instance WEB {
  |               ^^^ add `interface eth0`

error: vrrp_instance `WEB` has no `virtual_router_id`
 --> /etc/baton/baton.conf:1:15
  |
1 | vrrp_instance WEB {
  |               ^^^ add `virtual_router_id 51`

error: vrrp_instance `WEB` has no virtual_ipaddress
 --> /etc/baton/baton.conf:1:15
  |
1 | vrrp_instance WEB {
  |               ^^^ add `virtual_ipaddress { 192.0.2.100/24 }`
"
    );
}

#[test]
fn substituted_parameter_is_underlined_where_it_is_used() {
    let text = format!("$PRIO=256\n{HEAD}{VIPS}    virtual_router_id 9\n    priority $PRIO\n}}\n");
    assert_eq!(
        render(&text),
        "\
error: priority must be between 1 and 255, found 256
 --> /etc/baton/baton.conf:8:14
  |
8 |     priority $PRIO
  |              ^^^^^ expected a number from 1 to 255
"
    );
}

#[test]
fn unclosed_block_points_at_its_brace() {
    let text = "vrrp_script chk {\n    script /bin/true\n";
    assert_eq!(
        render(text),
        "\
error: this block is never closed
 --> /etc/baton/baton.conf:1:17
  |
1 | vrrp_script chk {
  |                 ^ add a matching `}`
"
    );
}

#[test]
fn skipped_block_is_one_warning() {
    let text = "virtual_server 192.0.2.1 80 {\n    delay_loop 6\n    real_server 192.0.2.2 80 {\n        weight 1\n    }\n}\n";
    assert_eq!(
        render(text),
        "\
warning: `virtual_server` block is not used by baton (not VRRP); skipped
 --> /etc/baton/baton.conf:1:1
  |
1 | virtual_server 192.0.2.1 80 {
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^
"
    );
}
