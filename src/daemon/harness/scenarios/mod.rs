//! Scenarios run by the in-process harness, one file per area. Each builds its nodes and
//! configs, runs whole daemons on the fake LAN and asserts what a user sees.

mod basics;
mod control;
mod election;
mod faults;
mod hooks;
mod random;
mod reload;
mod tracking;

/// A config with one instance `VI_1` on `eth0`, VRID 51, the VIP 192.0.2.100, the given
/// priority and `extra` lines inside the instance block.
pub fn one_instance(priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    {extra}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"
    )
}
