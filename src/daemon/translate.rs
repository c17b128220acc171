//! From the configuration model to what the protocol core needs: the state machine's
//! [`vrrp::Config`], the receive [`Filter`] and the advert to emit. Pure.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::{self, Family};
use crate::vrrp::receive::{Filter, Mode, UnicastPeer};
use crate::vrrp::{self};
use crate::wire::vrrp::{Auth, ChecksumMode, IPV4_MULTICAST, IPV6_MULTICAST, Repr};

/// How long a failed `fallback_check` waits before it is run again.
const FALLBACK_RETRY: Duration = Duration::from_secs(2);

/// The core's part of the `witness` block, for an instance that uses the witness.
pub fn witness_rule(
    witness: Option<&config::Witness>,
    instance: &config::Instance,
) -> Option<vrrp::WitnessRule> {
    let w = witness.filter(|_| instance.witness_key.is_some())?;
    Some(vrrp::WitnessRule {
        when_unreachable: w.when_unreachable,
        lease_ttl: Duration::from_secs(u64::from(w.lease_ttl_s)),
    })
}

/// The state machine's configuration; `source` is this router's primary address.
pub fn machine_config(
    instance: &config::Instance,
    source: IpAddr,
    witness: Option<vrrp::WitnessRule>,
) -> vrrp::Config {
    let mut cfg = vrrp::Config::new(
        instance.version,
        instance.priority,
        instance.advert_int_cs,
        source,
    );
    cfg.preempt = instance.preempt();
    cfg.preempt_delay = Duration::from_millis(instance.preempt_delay_ms);
    cfg.accept_mode = instance.accept;
    cfg.fallback_gate = instance.preempt() && instance.fallback_check.is_some();
    cfg.fallback_check_interval = FALLBACK_RETRY;
    cfg.hold_down = Duration::from_millis(instance.flap_hold_down_ms);
    cfg.witness = witness;
    cfg.answer_lower = !instance.lower_prio_no_advert;
    cfg.advert_before_yield = instance.higher_prio_send_advert;
    cfg.start_as_master = instance.starts_as_master();
    cfg
}

/// The core's `auth_hmac` settings, if the instance has the block.
pub fn auth_hmac(instance: &config::Instance) -> Option<vrrp::auth_hmac::Config> {
    use vrrp::auth_hmac::Mode;
    let h = instance.auth_hmac.as_ref()?;
    Some(vrrp::auth_hmac::Config {
        keys: h
            .keys
            .iter()
            .map(|k| (k.id, k.secret.bytes().to_vec()))
            .collect(),
        active_key: h.active_key,
        mode: match h.mode {
            config::HmacMode::Enforce => Mode::Enforce,
            config::HmacMode::Permissive => Mode::Permissive,
            config::HmacMode::ReceiveOnly => Mode::ReceiveOnly,
        },
        window_s: match h.anti_replay {
            config::AntiReplay::Time { window_s } => Some(window_s),
            config::AntiReplay::Monotonic => None,
        },
        // keepalived: a unicast sender must be a configured peer (vrrp_auth_ext_verify).
        unicast_peers: instance
            .is_unicast()
            .then(|| instance.unicast_peers.iter().map(|p| p.addr).collect()),
    })
}

/// How the instance's VRRPv3 IPv4 checksums are computed (`v3_checksum_as_v2`).
pub fn checksum_mode(instance: &config::Instance) -> ChecksumMode {
    if instance.v3_checksum_as_v2 {
        ChecksumMode::AsV2
    } else {
        ChecksumMode::Rfc
    }
}

/// The wire form of the configured password: at most 8 bytes, zero padded (RFC 3768 5.3.7).
pub fn wire_auth(instance: &config::Instance) -> Auth {
    match &instance.auth {
        None => Auth::None,
        Some(config::Auth::Pass(password)) => {
            let mut bytes = [0u8; 8];
            for (slot, byte) in bytes.iter_mut().zip(password.bytes()) {
                *slot = byte;
            }
            Auth::Pass(bytes)
        }
    }
}

/// What the instance accepts on receipt; `own` are the local addresses of its interface.
pub fn filter(instance: &config::Instance, own: Vec<IpAddr>) -> Filter {
    Filter {
        version: instance.version,
        vrid: instance.vrid,
        auth: wire_auth(instance),
        vips: instance.vips.iter().map(|v| v.addr).collect(),
        interval_cs: instance.advert_int_cs,
        mode: mode(instance),
        own_addresses: own,
        strict_owner: instance.strict,
    }
}

/// How the instance's adverts travel: to its multicast group, or to its unicast peers.
pub fn mode(instance: &config::Instance) -> Mode {
    if !instance.is_unicast() {
        return Mode::Multicast(multicast_group(instance));
    }
    let peers = instance
        .unicast_peers
        .iter()
        .map(|p| UnicastPeer {
            addr: p.addr,
            ttl: p.min_ttl.unwrap_or(0)..=p.max_ttl.unwrap_or(u8::MAX),
        })
        .collect();
    Mode::Unicast {
        peers,
        check_source: instance.check_unicast_src,
    }
}

/// The multicast group of the instance: `mcast_dst_ip` (which the config resolves from
/// `vrrp_mcast_group4/6` when unset), else 224.0.0.18 / ff02::12.
pub fn multicast_group(instance: &config::Instance) -> IpAddr {
    if let Some(dst) = instance.mcast_dst_ip {
        return dst;
    }
    match instance.family {
        Family::IPv4 => IpAddr::V4(IPV4_MULTICAST),
        Family::IPv6 => IpAddr::V6(IPV6_MULTICAST),
    }
}

/// Where adverts go: the unicast peers, or the instance's multicast group.
pub fn destinations(instance: &config::Instance) -> Vec<IpAddr> {
    match mode(instance) {
        Mode::Multicast(group) => vec![group],
        Mode::Unicast { peers, .. } => peers.into_iter().map(|p| p.addr).collect(),
    }
}

/// The TTL / hop limit of the instance's adverts: 255 (RFC 5798 5.1.1.3 / 5.1.2.3), or
/// `unicast_ttl` for unicast adverts.
pub fn ttl(instance: &config::Instance) -> u8 {
    match instance.unicast_ttl {
        Some(ttl) if instance.is_unicast() => ttl,
        _ => crate::wire::vrrp::TTL,
    }
}

/// The advertisement this instance sends with `priority`.
pub fn advert(instance: &config::Instance, priority: u8) -> Repr {
    Repr {
        version: instance.version,
        vrid: instance.vrid,
        priority,
        interval_cs: instance.advert_int_cs,
        auth: wire_auth(instance),
        addresses: instance.vips.iter().map(|v| v.addr).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn instance(body: &str) -> config::Instance {
        let text = format!("vrrp_instance VI {{\n{body}\n}}\n");
        let (model, diagnostics) = parse_str("test.conf", &text);
        let model = model.unwrap_or_else(|| panic!("valid config: {diagnostics:?}"));
        model.instances[0].clone()
    }

    const BASE: &str = "interface eth0\nvirtual_router_id 51\npriority 150\n\
                        virtual_ipaddress {\n192.0.2.100/24\n}";

    #[test]
    fn manual_fallback_turns_preemption_off_and_gate_only_applies_to_automatic() {
        let source: IpAddr = "192.0.2.1".parse().unwrap();
        let manual = instance(&format!(
            "{BASE}\nfallback manual\nfallback_check /bin/true\nflap_hold_down 30"
        ));
        let cfg = machine_config(&manual, source, None);
        assert!(!cfg.preempt);
        assert!(
            !cfg.fallback_gate,
            "manual fallback runs the check on `baton fallback`"
        );
        assert_eq!(cfg.hold_down, Duration::from_secs(30));
        let automatic = instance(&format!(
            "{BASE}\nfallback_check /bin/true\npreempt_delay 5"
        ));
        let cfg = machine_config(&automatic, source, None);
        assert!(cfg.preempt && cfg.fallback_gate);
        assert_eq!(cfg.preempt_delay, Duration::from_secs(5));
        assert_eq!(cfg.primary_address, source);
        assert_eq!(cfg.interval_cs, 100);
    }

    #[test]
    fn excluded_addresses_stay_out_of_the_adverts_and_the_receive_check() {
        let i = instance(&format!(
            "{BASE}\nvirtual_ipaddress_excluded {{\n203.0.113.10/24\n2001:db8::10/64\n}}"
        ));
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        assert_eq!(advert(&i, 150).addresses, vec![vip]);
        assert_eq!(filter(&i, Vec::new()).vips, vec![vip]);
    }

    #[test]
    fn password_is_padded_to_eight_bytes() {
        let i = instance(&format!(
            "{BASE}\nauthentication {{\nauth_type PASS\nauth_pass s3cret\n}}"
        ));
        assert_eq!(wire_auth(&i), Auth::Pass(*b"s3cret\0\0"));
        assert_eq!(advert(&i, 150).auth, Auth::Pass(*b"s3cret\0\0"));
    }

    #[test]
    fn adverts_go_to_multicast_or_to_the_unicast_peers() {
        let multicast = instance(BASE);
        assert_eq!(
            destinations(&multicast),
            vec!["224.0.0.18".parse::<IpAddr>().unwrap()]
        );
        let unicast = instance(&format!(
            "{BASE}\nunicast_src_ip 192.0.2.1\nunicast_peer {{\n192.0.2.2\n192.0.2.3\n}}"
        ));
        let peers: Vec<IpAddr> = vec!["192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap()];
        assert_eq!(destinations(&unicast), peers);
        assert!(filter(&unicast, vec![]).is_unicast());
        let v6 = instance(
            "interface eth0\nvirtual_router_id 51\nversion 3\n\
             virtual_ipaddress {\n2001:db8::100/64\n}",
        );
        assert_eq!(
            destinations(&v6),
            vec!["ff02::12".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn the_global_multicast_group_applies_unless_the_instance_names_one() {
        let global = |body: &str| {
            let text = format!(
                "global_defs {{\nvrrp_mcast_group4 224.0.0.19\nvrrp_mcast_group6 ff02::13\n}}\n\
                 vrrp_instance VI {{\n{body}\n}}\n"
            );
            let (model, diagnostics) = parse_str("test.conf", &text);
            let model = model.unwrap_or_else(|| panic!("valid config: {diagnostics:?}"));
            model.instances[0].clone()
        };
        let v4 = global(BASE);
        assert_eq!(destinations(&v4), vec![v("224.0.0.19")]);
        assert_eq!(filter(&v4, vec![]).mode, Mode::Multicast(v("224.0.0.19")));
        let own = global(&format!("{BASE}\nmcast_dst_ip 224.0.0.20"));
        assert_eq!(destinations(&own), vec![v("224.0.0.20")]);
        let v6 = global(
            "interface eth0\nvirtual_router_id 51\nversion 3\n\
             virtual_ipaddress {\n2001:db8::100/64\n}",
        );
        assert_eq!(destinations(&v6), vec![v("ff02::13")]);
        assert_eq!(multicast_group(&instance(BASE)), v("224.0.0.18"));
    }

    #[test]
    fn unicast_ttl_applies_to_unicast_adverts_only() {
        let unicast = instance(&format!(
            "{BASE}\nunicast_ttl 64\nunicast_peer {{\n192.0.2.2 min_ttl 60 max_ttl 64\n}}"
        ));
        assert_eq!(ttl(&unicast), 64);
        assert_eq!(
            mode(&unicast),
            Mode::Unicast {
                peers: vec![UnicastPeer {
                    addr: v("192.0.2.2"),
                    ttl: 60..=64
                }],
                check_source: true,
            },
            "min_ttl/max_ttl turn on check_unicast_src"
        );
        assert_eq!(ttl(&instance(&format!("{BASE}\nunicast_ttl 64"))), 255);
        let plain = instance(&format!("{BASE}\nunicast_peer {{\n192.0.2.2\n}}"));
        assert_eq!(
            mode(&plain),
            Mode::Unicast {
                peers: vec![UnicastPeer {
                    addr: v("192.0.2.2"),
                    ttl: 0..=255
                }],
                check_source: false,
            }
        );
    }

    fn v(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn advert_lists_the_virtual_addresses() {
        let i = instance(BASE);
        let repr = advert(&i, 0);
        assert_eq!(repr.priority, 0);
        assert_eq!(repr.vrid, 51);
        assert_eq!(
            repr.addresses,
            vec!["192.0.2.100".parse::<IpAddr>().unwrap()]
        );
    }
}
