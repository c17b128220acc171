//! Which keywords each block understands, which are accepted and ignored, and "did you
//! mean" suggestions for the rest.

/// Top-level blocks and keywords baton reads.
pub const TOP: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "track_file",
    "vrrp_track_file",
];

/// Top-level keepalived blocks that have nothing to do with VRRP (or that baton does not
/// implement): skipped whole with one warning.
pub const TOP_SKIPPED: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "track_group",
    "interface_up_down_delays",
    "garp_group",
    "vrrp_track_process",
    "track_process",
    "bfd_instance",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
    "lvs_sync_daemon",
];

pub const GLOBAL: &[&str] = &[
    "router_id",
    "vrrp_version",
    "script_user",
    "enable_script_security",
    "notify_timeout",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_rt_priority",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_startup_delay",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
];

/// keepalived `global_defs` keywords that baton accepts and ignores (with a warning): the
/// LVS/checker/BFD/SMTP/SNMP ones, and VRRP options baton does not implement.
pub const GLOBAL_IGNORED: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "lvs_id",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "checker_priority",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_no_swap",
    "checker_process_name",
    "bfd_priority",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_no_swap",
    "bfd_process_name",
    "process_name",
    "vrrp_process_name",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_garp_extra_if",
    "vrrp_down_timer_adverts",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_notify_priority_changes",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vmac_prefix",
    "vmac_addr_prefix",
    "dynamic_interfaces",
    "default_interface",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_keepalived",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "dbus_service_name",
    "fifo_write_vrrp_states_on_reload",
    "log_unknown_vrids",
    "linkbeat_use_polling",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "rs_init_notifies",
    "no_checker_emails",
    "umask",
    "random_seed",
    "reload_check_config",
    "include_check",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "tmp_config_directory",
    "config_save_dir",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
];

pub const SCRIPT: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

pub const TRACK_FILE: &[&str] = &["file", "weight", "init_file"];

pub const INSTANCE: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "native_ipv6",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "mcast_src_ip",
    "mcast_dst_ip",
    "unicast_src_ip",
    "unicast_peer",
    "authentication",
    "track_interface",
    "track_script",
    "track_file",
    "dont_track_primary",
    "nopreempt",
    "no_preempt",
    "preempt",
    "preempt_delay",
    "accept",
    "no_accept",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_master_rx_lower_pri",
    "use_vmac",
    "strict_mode",
    "skip_check_adv_addr",
    "check_unicast_src",
    "unicast_ttl",
    "debug",
    "fallback",
    "fallback_check",
    "fallback_check_timeout",
    "flap_hold_down",
    "flap_damping",
];

/// keepalived `vrrp_instance` keywords that baton accepts and ignores (with a warning).
pub const INSTANCE_IGNORED: &[&str] = &[
    "smtp_alert",
    "lvs_sync_daemon_interface",
    "virtual_routes",
    "virtual_rules",
    "vrf",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "track_process",
    "track_bfd",
    "track_src_ip",
    "unicast_fault_no_peer",
    "old_unicast_checksum",
    "garp_extra_if",
    "down_timer_adverts",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "promote_secondaries",
    "notify_priority_changes",
    "notify_deleted",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
];

pub const SYNC_GROUP: &[&str] = &[
    "group",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "track_interface",
    "track_script",
    "track_file",
    "sync_group_tracking_weight",
];

pub const SYNC_GROUP_IGNORED: &[&str] = &[
    "smtp_alert",
    "global_tracking",
    "notify_priority_changes",
    "notify_deleted",
    "track_process",
    "track_bfd",
];

pub const AUTH: &[&str] = &["auth_type", "auth_pass"];

/// Levenshtein distance between `a` and the ASCII keyword `b` if it is at most `limit`;
/// stops as soon as every cell of a row is over the limit. `prev` and `row` are scratch
/// rows, reused across keywords (this runs for every unknown word).
fn distance_chars(
    a: &[char],
    b: &str,
    limit: usize,
    prev: &mut Vec<usize>,
    row: &mut Vec<usize>,
) -> Option<usize> {
    let b = b.as_bytes();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    prev.clear();
    prev.extend(0..=b.len());
    for (i, &ca) in a.iter().enumerate() {
        row.clear();
        row.push(i + 1);
        let mut row_min = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != char::from(cb));
            let d = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            row_min = row_min.min(d);
            row.push(d);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(prev, row);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

/// The closest keyword within edit distance 2 among `known`.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    const LIMIT: usize = 2;
    let longest = known.iter().map(|k| k.len()).max().unwrap_or(0);
    // Keywords are ASCII: a word with more characters than the longest plus the limit
    // is near none of them (and is not even read to its end).
    let chars: Vec<char> = word.chars().take(longest + LIMIT + 1).collect();
    if chars.len() > longest + LIMIT {
        return None;
    }
    let (mut prev, mut row) = (Vec::new(), Vec::new());
    known
        .iter()
        .filter_map(|k| distance_chars(&chars, k, LIMIT, &mut prev, &mut row).map(|d| (d, *k)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        distance_chars(&a, b, limit, &mut Vec::new(), &mut Vec::new())
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("priorty", INSTANCE), Some("priority"));
        assert_eq!(closest("advert_in", INSTANCE), Some("advert_int"));
        assert_eq!(closest("zzzzzz", INSTANCE), None);
        assert_eq!(distance("abc", "abc", 2), Some(0));
        assert_eq!(distance("", "ab", 2), Some(2));
        assert_eq!(distance("", "abc", 2), None);
        assert_eq!(distance("kitten", "sitting", 2), None);
        assert_eq!(distance("kitten", "sittin", 2), Some(2));
        assert_eq!(closest(&"x".repeat(10_000), INSTANCE), None);
        assert_eq!(closest("prïority", INSTANCE), Some("priority"));
    }

    #[test]
    fn keywords_are_ascii() {
        // `distance_chars` compares keyword bytes with the word's characters.
        let lists = [
            TOP,
            TOP_SKIPPED,
            GLOBAL,
            GLOBAL_IGNORED,
            SCRIPT,
            TRACK_FILE,
            INSTANCE,
            INSTANCE_IGNORED,
            SYNC_GROUP,
            SYNC_GROUP_IGNORED,
            AUTH,
        ];
        for k in lists.iter().flat_map(|l| l.iter()) {
            assert!(k.is_ascii(), "{k}");
        }
    }
}
