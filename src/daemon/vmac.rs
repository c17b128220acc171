//! `use_vmac`: the instance's macvlan, as keepalived makes it (`vrrp_vmac.c`,
//! `vrrp_if_config.c`), with baton's own code.
//!
//! - A private-mode macvlan on the instance's interface, named `vrrp.VRID` unless named
//!   (`vrrp6.VRID` for an IPv6 instance whose IPv4 twin has `vrrp.VRID`), with the virtual
//!   MAC 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6). It is made when the
//!   instance starts and stays up in every state, as keepalived keeps it: the backup must
//!   hear the master's adverts on it (the kernel hands a multicast frame whose source is
//!   the macvlan's own MAC to that macvlan alone), and it holds no address while BACKUP,
//!   so only the master answers for a VIP, and only with the virtual MAC.
//! - Made down; `addr_gen_mode none` (no link-local address may come from the virtual
//!   MAC) and, for an IPv4 instance, `disable_ipv6`; then up. An IPv6 instance's VMAC gets
//!   the base's link-local address (nodad), the source of its adverts, unless
//!   `vmac_xmit_base`.
//! - sysctls, as keepalived sets them: on the macvlan `arp_ignore=1` (answer ARP only for
//!   its own addresses), and for IPv4 `accept_local=1`, `rp_filter=0`,
//!   `promote_secondaries=1`; on the base (IPv4 only) `arp_ignore=1` and `arp_filter=1`,
//!   so the base never answers ARP for a VIP with its own MAC. The base's old values are
//!   put back when its last VMAC goes.
//! - Not in keepalived: `arp_announce=2` on the base as well. The VIP's prefix route and
//!   the base's are the same, so the master's replies to a client often leave through the
//!   base; without it, the base's ARP request for the client names the VIP as its sender
//!   with the base's own MAC, and the client's entry for the VIP moves to that MAC (seen
//!   in `tests/vmac_netns.rs`), which is what VMAC is there to prevent. With it, the base
//!   asks with its own address.
//! - An interface of that name found at start (a VMAC left by a killed run): kept if it is
//!   a private macvlan on the same base with the same MAC (its sysctls set again, its
//!   leftover VIPs removed like any leftover), else deleted and made again if it is a
//!   macvlan, else the instance does not start (baton never deletes an interface it could
//!   not have made).
//! - A clean stop (or the instance's removal by a reload) deletes it after the VIPs are
//!   off and the priority-0 advert is sent.
//! - Deleted by hand while running: the instance goes to FAULT until a restart
//!   (`Daemon::check_vmac_gone`); keepalived makes it again.
//!
//! - keepalived 2.4's address VMACs (`use_vmac_addr`, `use_vmac` on an address line,
//!   `vrrp_complete_instance` in `vrrp.c`): a macvlan per (interface, family) an address
//!   lives on, named in `config/validate/mod.rs`, made here with the same function and the
//!   same sysctls as the instance's own, for the address's family (no link-local: it sends
//!   no adverts). Up in every state, its addresses only while MASTER, deleted with the
//!   instance; one deleted by hand is a FAULT like the instance's own.
//!
//! Only instance start and stop come here: netlink requests like the VIP ones, and the
//! sysctl writes on a blocking thread.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use tracing::{info, warn};

use super::host::Links;
use crate::config;
use crate::netlink::{InterfaceInfo, VirtualAddress};

/// A VMAC this run holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacLink {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    /// The base interface's name.
    pub base: String,
    pub xmit_base: bool,
}

/// A base interface's ARP settings before the first VMAC on it, and the VMACs on it.
#[derive(Debug, Default)]
pub struct BaseArp {
    saved: Vec<(&'static str, String)>,
    users: BTreeSet<String>,
}

/// The sysctls a VMAC gets (an IPv4 instance; an IPv6 one only the first).
const VMAC_SYSCTLS: &[(&str, &str, &str)] = &[
    ("ipv4", "arp_ignore", "1"),
    ("ipv4", "accept_local", "1"),
    ("ipv4", "rp_filter", "0"),
    ("ipv4", "promote_secondaries", "1"),
    ("ipv6", "disable_ipv6", "1"),
];
/// The sysctls the base gets while it carries a VMAC: keepalived's `arp_ignore` and
/// `arp_filter`, and baton's `arp_announce=2` (see the module comment).
const BASE_SYSCTLS: &[(&str, &str)] = &[
    ("arp_ignore", "1"),
    ("arp_filter", "1"),
    ("arp_announce", "2"),
];

fn conf_path(family: &str, interface: &str, key: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/{family}/conf/{interface}/{key}"))
}

/// Make (or keep) the VMAC of `cfg` on `base`; the caller then reads it like any interface.
pub async fn ensure(
    netlink: &dyn Links,
    bases: &mut std::collections::HashMap<String, BaseArp>,
    vmac: &config::Vmac,
    base: &InterfaceInfo,
    family: config::Family,
    // The instance's advert source; `None` for an address VMAC (it sends no adverts).
    source: Option<IpAddr>,
) -> Result<VmacLink, String> {
    let ipv6 = family == config::Family::IPv6;
    let name = &vmac.name;
    let existing = netlink.link_kind(name).await.map_err(|e| e.to_string())?;
    let mut made = true;
    match existing {
        Some(k) if k.is_vmac_for(base.index, vmac.mac) => {
            info!(
                "VMAC {name}: kept (a private macvlan on {} with {}, left by an earlier run)",
                base.name,
                mac_string(vmac.mac)
            );
            made = false;
        }
        Some(k) if k.macvlan_mode.is_some() => {
            warn!(
                "VMAC {name}: a macvlan of that name has another base, MAC or mode; making it again"
            );
            netlink
                .delete_link(k.index)
                .await
                .map_err(|e| e.to_string())?;
        }
        Some(_) => {
            return Err(format!(
                "use_vmac: an interface called {name} exists and is not a macvlan; \
                 baton does not delete it (choose another name: `use_vmac NAME`)"
            ));
        }
        None => {}
    }
    if made {
        let group = netlink
            .link_kind(&base.name)
            .await
            .map_err(|e| e.to_string())?
            .map_or(0, |k| k.group);
        netlink
            .create_macvlan(name, base.index, vmac.mac, group)
            .await
            .map_err(|e| format!("use_vmac: {e}"))?;
        info!(
            "VMAC {name}: made on {} with {}",
            base.name,
            mac_string(vmac.mac)
        );
    }
    let kind = netlink
        .link_kind(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("use_vmac: {name} is gone right after it was made"))?;
    if let Err(e) = netlink.set_addr_gen_mode_none(kind.index).await {
        // A kernel without IPv6: nothing to generate.
        warn!("VMAC {name}: {e}");
    }
    let first_on_base = bases.get(&base.name).is_none_or(|b| b.users.is_empty());
    let (vmac_name, base_name) = (name.clone(), base.name.clone());
    let saved = tokio::task::spawn_blocking(move || set_sysctls(&vmac_name, &base_name, ipv6))
        .await
        .map_err(|e| e.to_string())??;
    if !ipv6 {
        let entry = bases.entry(base.name.clone()).or_default();
        if first_on_base {
            entry.saved = saved;
        }
        entry.users.insert(name.clone());
    }
    netlink
        .set_link_up(kind.index)
        .await
        .map_err(|e| format!("use_vmac: {e}"))?;
    // IPv6 adverts from the VMAC need their link-local source on it: the base's (the one
    // the adverts name), without DAD, as keepalived adds it.
    if let (true, false, Some(IpAddr::V6(ll))) = (ipv6, vmac.xmit_base, source)
        && ll.segments()[0] & 0xffc0 == 0xfe80
    {
        netlink
            .add_address(kind.index, &VirtualAddress::new(IpAddr::V6(ll), 64))
            .await
            .map_err(|e| format!("use_vmac: link-local {ll} on {name}: {e}"))?;
    }
    Ok(VmacLink {
        name: name.clone(),
        index: kind.index,
        mac: vmac.mac,
        base: base.name.clone(),
        xmit_base: vmac.xmit_base,
    })
}

/// Write the VMAC's and (IPv4) the base's sysctls; returns the base's values before.
fn set_sysctls(vmac: &str, base: &str, ipv6: bool) -> Result<Vec<(&'static str, String)>, String> {
    // keepalived: an IPv6 VMAC only gets arp_ignore, keeps IPv6 and leaves the base alone.
    let vmac_sysctls = if ipv6 {
        &VMAC_SYSCTLS[..1]
    } else {
        VMAC_SYSCTLS
    };
    for (family, key, value) in vmac_sysctls {
        let path = conf_path(family, vmac, key);
        if *family == "ipv6" && !path.exists() {
            continue;
        }
        std::fs::write(&path, value)
            .map_err(|e| format!("use_vmac: cannot write {}: {e}", path.display()))?;
    }
    let mut saved = Vec::new();
    if ipv6 {
        return Ok(saved);
    }
    for (key, value) in BASE_SYSCTLS {
        let path = conf_path("ipv4", base, key);
        let before = std::fs::read_to_string(&path)
            .map_err(|e| format!("use_vmac: cannot read {}: {e}", path.display()))?;
        let before = before.trim().to_string();
        if before != *value {
            std::fs::write(&path, value)
                .map_err(|e| format!("use_vmac: cannot write {}: {e}", path.display()))?;
        }
        saved.push((*key, before));
    }
    Ok(saved)
}

/// Delete a VMAC this run holds; the base's ARP settings go back when it was the last.
pub async fn remove(
    netlink: &dyn Links,
    bases: &mut std::collections::HashMap<String, BaseArp>,
    link: &VmacLink,
) {
    // The index may be stale if someone made it again meanwhile: check the name.
    match netlink.link_kind(&link.name).await {
        Ok(Some(k)) if k.index == link.index => {
            if let Err(e) = netlink.delete_link(k.index).await {
                warn!("VMAC {}: cannot delete it: {e}", link.name);
            } else {
                info!("VMAC {}: deleted", link.name);
            }
        }
        Ok(_) => {}
        Err(e) => warn!("VMAC {}: {e}", link.name),
    }
    let Some(entry) = bases.get_mut(&link.base) else {
        return;
    };
    entry.users.remove(&link.name);
    if !entry.users.is_empty() {
        return;
    }
    let saved = std::mem::take(&mut entry.saved);
    bases.remove(&link.base);
    let base = link.base.clone();
    let restored = tokio::task::spawn_blocking(move || {
        for (key, value) in saved {
            let path = conf_path("ipv4", &base, key);
            if let Err(e) = std::fs::write(&path, &value) {
                return Err(format!("cannot restore {}: {e}", path.display()));
            }
        }
        Ok(())
    })
    .await;
    match restored {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!("VMAC {}: {e}", link.name),
        Err(e) => warn!("VMAC {}: {e}", link.name),
    }
}

/// `00:00:5e:00:01:33`.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_mac_text() {
        assert_eq!(
            conf_path("ipv4", "vrrp.51", "arp_ignore"),
            PathBuf::from("/proc/sys/net/ipv4/conf/vrrp.51/arp_ignore")
        );
        assert_eq!(mac_string([0, 0, 0x5e, 0, 1, 51]), "00:00:5e:00:01:33");
    }
}
