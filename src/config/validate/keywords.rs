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
    "vrrp_track_process",
    "witness",
];

/// The `witness` block (baton extension).
pub const WITNESS: &[&str] = &[
    "endpoints",
    "prefix",
    "lease_ttl",
    "name",
    "when_unreachable",
    "timeout",
    "ca_file",
    "cert_file",
    "key_file",
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
    "metrics_listen",
    "vip_probe_interval",
    "vrrp_startup_delay",
    "vrrp_delay_after_boot",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "v3_checksum_as_v2",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
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
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "baton_unknown_keywords",
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
    "bfd_rlimit_rtime",
    "checker_rlimit_rtime",
    "vrrp_rlimit_rtime",
    "dbus_no_interface_name",
    "disable_local_igmp",
    "iproute_etc_dir",
    "iproute_usr_dir",
    "json_dump_file",
    "json_version",
    "lvs_flush_onstop",
    "lvs_process_name",
    "no_email_faults",
    "process_names",
    "snmp_rs_stats_update_interval",
    "snmp_vs_stats_update_interval",
    "state_dump_file",
    "stats_dump_file",
    "use_symlink_paths",
];

/// keepalived `global_defs` keywords that baton refuses (an error, never a warning): not
/// acting on them would change who hears whom, who wins the election or what goes on the
/// wire. Each with what it would change.
pub const GLOBAL_REFUSED: &[(&str, &str)] = &[
    (
        "vrrp_down_timer_adverts",
        "a backup would take over after a different number of missed adverts than the \
         other node expects",
    ),
    (
        "vrrp_owner_ignore_adverts",
        "an address owner would still yield to other adverts (who wins the election)",
    ),
];

/// Parsed and checked, but this version does not act on them; harmless to ignore (listed
/// in baton.conf(5), "WHAT THIS VERSION DOES NOT ACT ON YET").
pub const NOT_ACTED_ON: &[&str] = &["vrrp_skip_check_adv_addr", "skip_check_adv_addr", "debug"];

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

/// The `vrrp_track_process` block.
pub const TRACK_PROCESS: &[&str] = &[
    "process",
    "param_match",
    "weight",
    "quorum",
    "quorum_max",
    "fork_delay",
    "terminate_delay",
    "delay",
    "full_command",
];

pub const INSTANCE: &[&str] = &[
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "v3_checksum_as_v2",
    "witness_key",
    "no_witness",
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "native_ipv6",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "mcast_src_ip",
    "mcast_dst_ip",
    "unicast_src_ip",
    "unicast_peer",
    "authentication",
    "auth_hmac",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
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
    "garp_extra_if",
    "vmac_garp_intvl",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_master_rx_lower_pri",
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
    "use_vmac",
    "vmac_xmit_base",
    "use_vmac_addr",
];

/// keepalived `vrrp_instance` keywords that baton accepts and ignores (with a warning).
pub const INSTANCE_IGNORED: &[&str] = &[
    "smtp_alert",
    "lvs_sync_daemon_interface",
    "promote_secondaries",
    "notify_priority_changes",
    "notify_deleted",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "no_virtual_ipaddress",
];

/// keepalived `vrrp_instance` keywords that baton refuses (see [`GLOBAL_REFUSED`]).
pub const INSTANCE_REFUSED: &[(&str, &str)] = &[
    (
        "use_ipvlan",
        "no ipvlan interface would be made; adverts and addresses would use the interface \
         itself",
    ),
    (
        "vrf",
        "adverts and addresses would be in the default VRF, not the one asked (who hears \
         whom)",
    ),
    (
        "track_bfd",
        "the BFD sessions' weights and faults would be dropped (who wins the election); \
         the bfd_instance blocks are skipped",
    ),
    (
        "track_src_ip",
        "losing the source address would not put the instance in FAULT (who wins the \
         election)",
    ),
    (
        "unicast_fault_no_peer",
        "an instance without peers would not be in FAULT (who wins the election)",
    ),
    (
        "old_unicast_checksum",
        "unicast adverts would carry a checksum the other node rejects: both nodes would \
         be master",
    ),
    (
        "down_timer_adverts",
        "a backup would take over after a different number of missed adverts than the \
         other node expects",
    ),
    (
        "owner_ignore_adverts",
        "an address owner would still yield to other adverts (who wins the election)",
    ),
    (
        "timer_expired_backup",
        "a master with nopreempt would not return to backup when another may have taken \
         over: both nodes could be master",
    ),
    (
        "thread_timer_expired",
        "a master with nopreempt would not return to backup when another may have taken \
         over: both nodes could be master",
    ),
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
    "track_process",
    "sync_group_tracking_weight",
    "global_tracking",
];

pub const SYNC_GROUP_IGNORED: &[&str] =
    &["smtp_alert", "notify_priority_changes", "notify_deleted"];

/// keepalived `vrrp_sync_group` keywords that baton refuses (see [`GLOBAL_REFUSED`]).
pub const SYNC_GROUP_REFUSED: &[(&str, &str)] = &[(
    "track_bfd",
    "the BFD sessions' faults would be dropped (who wins the election); the \
         bfd_instance blocks are skipped",
)];

/// The reason a keyword is refused in `list`, if it is.
pub fn refused(list: &[(&'static str, &'static str)], keyword: &str) -> Option<&'static str> {
    list.iter()
        .find(|(k, _)| *k == keyword)
        .map(|(_, why)| *why)
}

pub const AUTH: &[&str] = &["auth_type", "auth_pass"];

/// `auth_hmac { ... }` (keepalived 2.4.0).
pub const AUTH_HMAC: &[&str] = &["key", "active_key", "anti_replay", "time_window", "mode"];

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
            TRACK_PROCESS,
            INSTANCE,
            INSTANCE_IGNORED,
            SYNC_GROUP,
            SYNC_GROUP_IGNORED,
            AUTH,
            AUTH_HMAC,
        ];
        for k in lists.iter().flat_map(|l| l.iter()) {
            assert!(k.is_ascii(), "{k}");
        }
        for list in [GLOBAL_REFUSED, INSTANCE_REFUSED, SYNC_GROUP_REFUSED] {
            for (k, _) in list {
                assert!(k.is_ascii(), "{k}");
            }
        }
    }
}

/// baton.conf(5) lists the refused, ignored and not-acted-on keywords; these tests keep its
/// lists and the tables above the same.
#[cfg(test)]
mod man_page {
    use super::*;
    use std::collections::BTreeSet;

    const PAGE: &str = include_str!("../../../man/baton.conf.5");

    /// The text of the section `.SH "TITLE"`, up to the next `.SH`.
    fn section(title: &str) -> &'static str {
        let header = format!(".SH \"{title}\"\n");
        let start = PAGE
            .find(&header)
            .unwrap_or_else(|| panic!("no section {title}"))
            + header.len();
        let rest = &PAGE[start..];
        &rest[..rest.find("\n.SH ").unwrap_or(rest.len())]
    }

    /// Every keyword of the tables checked here.
    fn universe() -> BTreeSet<&'static str> {
        let mut all: BTreeSet<&str> = NOT_ACTED_ON.iter().copied().collect();
        for list in [GLOBAL_IGNORED, INSTANCE_IGNORED, SYNC_GROUP_IGNORED] {
            all.extend(list.iter().copied());
        }
        for list in [GLOBAL_REFUSED, INSTANCE_REFUSED, SYNC_GROUP_REFUSED] {
            all.extend(list.iter().map(|(k, _)| *k));
        }
        all
    }

    /// The keywords of the tables named in `.B`/`.BR` lines of `text`.
    fn listed(text: &str) -> BTreeSet<&'static str> {
        let all = universe();
        text.lines()
            .filter_map(|l| l.strip_prefix(".BR ").or_else(|| l.strip_prefix(".B ")))
            .filter_map(|l| l.split_whitespace().next())
            .filter_map(|w| all.get(w).copied())
            .collect()
    }

    fn set(list: &[&'static str]) -> BTreeSet<&'static str> {
        list.iter().copied().collect()
    }

    fn keys(list: &[(&'static str, &'static str)]) -> BTreeSet<&'static str> {
        list.iter().map(|(k, _)| *k).collect()
    }

    /// The part of `text` after `from`, up to `to` (or its end).
    fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
        let start = text.find(from).unwrap_or_else(|| panic!("no {from:?}")) + from.len();
        let rest = &text[start..];
        &rest[..rest.find(to).unwrap_or(rest.len())]
    }

    #[test]
    fn not_acted_on_list_matches() {
        assert_eq!(
            listed(section("WHAT THIS VERSION DOES NOT ACT ON YET")),
            set(NOT_ACTED_ON)
        );
    }

    #[test]
    fn refused_lists_match() {
        let refused = section("WHAT BATON REFUSES");
        for (block, list) in [
            ("global_defs", GLOBAL_REFUSED),
            ("vrrp_instance", INSTANCE_REFUSED),
            ("vrrp_sync_group", SYNC_GROUP_REFUSED),
        ] {
            let part = between(refused, &format!(".TP\n.B {block}\n"), ".TP\n");
            assert_eq!(listed(part), keys(list), "{block}");
        }
    }

    #[test]
    fn ignored_lists_match() {
        let with_warning = "Accepted and ignored with a warning";
        let instance = between(section("VRRP_INSTANCE"), with_warning, "Refused");
        assert_eq!(listed(instance), set(INSTANCE_IGNORED));
        let group = between(section("VRRP_SYNC_GROUP"), with_warning, "Refused");
        assert_eq!(listed(group), set(SYNC_GROUP_IGNORED));
        // global_defs: examples only, each of them really ignored.
        let global = between(section("GLOBAL_DEFS"), with_warning, ".SH");
        let examples = listed(global);
        assert!(examples.len() >= 5);
        assert!(examples.is_subset(&set(GLOBAL_IGNORED)), "{examples:?}");
    }

    #[test]
    fn tables_do_not_overlap() {
        let parsed: BTreeSet<&str> = [GLOBAL, INSTANCE, SYNC_GROUP]
            .iter()
            .flat_map(|l| l.iter().copied())
            .collect();
        for list in [GLOBAL_REFUSED, INSTANCE_REFUSED, SYNC_GROUP_REFUSED] {
            for (k, _) in list {
                assert!(!parsed.contains(k), "{k} is both read and refused");
            }
        }
        for (ignored, refused) in [
            (GLOBAL_IGNORED, GLOBAL_REFUSED),
            (INSTANCE_IGNORED, INSTANCE_REFUSED),
            (SYNC_GROUP_IGNORED, SYNC_GROUP_REFUSED),
        ] {
            for (k, _) in refused {
                assert!(!ignored.contains(k), "{k} is both ignored and refused");
            }
        }
    }
}
