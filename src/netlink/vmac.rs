//! The macvlan of `use_vmac`: read what an interface of that name is, create one in
//! private mode with the virtual MAC (down, so no IPv6 address is made before the address
//! generation mode is set), set that mode, bring it up and delete it.

use futures::TryStreamExt as _;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlag, LinkInfo,
    LinkMessage,
};

use super::error::{errno, to_io};
use super::{Netlink, NetlinkError};

/// `MACVLAN_MODE_PRIVATE`: no frames between macvlans of one base; a multicast frame whose
/// source is the macvlan's own MAC (the other node's advert, which carries the same virtual
/// MAC) is handed to the macvlan alone.
pub const MACVLAN_MODE_PRIVATE: u32 = 1;
/// `IN6_ADDR_GEN_MODE_NONE`: the kernel makes no link-local address (RFC 5798 §7.4: the
/// virtual MAC must not give the interface an address of its own).
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;

/// What an existing interface is, as far as `use_vmac` cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkKind {
    pub index: u32,
    /// `IFLA_LINK`: the interface it sits on (macvlans, VLANs, veths).
    pub base: Option<u32>,
    pub mac: [u8; 6],
    /// `Some(mode)` for a macvlan, `None` for anything else.
    pub macvlan_mode: Option<u32>,
    /// `IFF_UP`.
    pub admin_up: bool,
    /// `IFLA_GROUP`.
    pub group: u32,
}

impl LinkKind {
    /// A private-mode macvlan on `base` with `mac`: one `use_vmac` can keep as it is.
    pub fn is_vmac_for(&self, base: u32, mac: [u8; 6]) -> bool {
        self.macvlan_mode == Some(MACVLAN_MODE_PRIVATE)
            && self.base == Some(base)
            && self.mac == mac
    }
}

/// The parts of a link message `LinkKind` reads.
pub fn link_kind(message: &LinkMessage) -> LinkKind {
    let mut kind = LinkKind {
        index: message.header.index,
        base: None,
        mac: [0; 6],
        macvlan_mode: None,
        admin_up: message.header.flags.contains(&LinkFlag::Up),
        group: 0,
    };
    let mut is_macvlan = false;
    let mut mode = None;
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::Link(index) => kind.base = Some(*index),
            LinkAttribute::Group(group) => kind.group = *group,
            LinkAttribute::Address(bytes) => {
                if let Ok(m) = <[u8; 6]>::try_from(bytes.as_slice()) {
                    kind.mac = m;
                }
            }
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::MacVlan) => is_macvlan = true,
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            for d in data {
                                if let InfoMacVlan::Mode(m) = d {
                                    mode = Some(*m);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if is_macvlan {
        kind.macvlan_mode = Some(mode.unwrap_or(0));
    }
    kind
}

/// The request that creates the VMAC: `ip link add NAME link BASE address MAC group GROUP
/// type macvlan mode private`, left down.
fn create_message(message: &mut LinkMessage, name: &str, base: u32, mac: [u8; 6], group: u32) {
    message.header.flags.retain(|f| *f != LinkFlag::Up);
    message.header.change_mask.retain(|f| *f != LinkFlag::Up);
    message.attributes.clear();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_owned()));
    message.attributes.push(LinkAttribute::Link(base));
    message
        .attributes
        .push(LinkAttribute::Address(mac.to_vec()));
    // keepalived copies the base's group, so devgroup firewall rules keep matching.
    message.attributes.push(LinkAttribute::Group(group));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::MacVlan),
        LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
            MACVLAN_MODE_PRIVATE,
        )])),
    ]));
}

impl Netlink {
    /// What the interface called `name` is; `None` if there is none.
    pub async fn link_kind(&self, name: &str) -> Result<Option<LinkKind>, NetlinkError> {
        let mut stream = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match stream.try_next().await {
            Ok(Some(message)) => Ok(Some(link_kind(&message))),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(NetlinkError::Query {
                what: format!("reading link {name}"),
                source: to_io(e),
            }),
        }
    }

    /// Create the private-mode macvlan `name` on `base` with address `mac`, down.
    pub async fn create_macvlan(
        &self,
        name: &str,
        base: u32,
        mac: [u8; 6],
        group: u32,
    ) -> Result<(), NetlinkError> {
        let mut request = self.handle.link().add();
        create_message(request.message_mut(), name, base, mac, group);
        request.execute().await.map_err(|e| NetlinkError::Query {
            what: format!("creating macvlan {name}"),
            source: to_io(e),
        })
    }

    /// No automatic IPv6 addresses on `index` (`addr_gen_mode none`).
    pub async fn set_addr_gen_mode_none(&self, index: u32) -> Result<(), NetlinkError> {
        let mut request = self.handle.link().set(index);
        request
            .message_mut()
            .attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(IN6_ADDR_GEN_MODE_NONE)],
            )]));
        request.execute().await.map_err(|e| NetlinkError::Query {
            what: format!("setting addr_gen_mode none on interface index {index}"),
            source: to_io(e),
        })
    }

    /// Bring interface `index` up.
    pub async fn set_link_up(&self, index: u32) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .set(index)
            .up()
            .execute()
            .await
            .map_err(|e| NetlinkError::Query {
                what: format!("setting interface index {index} up"),
                source: to_io(e),
            })
    }

    /// Delete interface `index`; one already gone counts as success.
    pub async fn delete_link(&self, index: u32) -> Result<(), NetlinkError> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(NetlinkError::Query {
                what: format!("deleting interface index {index}"),
                source: to_io(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_request_is_a_private_macvlan_left_down() {
        let mut message = LinkMessage::default();
        message.header.flags.push(LinkFlag::Up);
        message.header.change_mask.push(LinkFlag::Up);
        let mac = [0, 0, 0x5e, 0, 1, 51];
        create_message(&mut message, "vrrp.51", 7, mac, 3);
        assert!(!message.header.flags.contains(&LinkFlag::Up));
        let kind = link_kind(&message);
        assert_eq!(kind.base, Some(7));
        assert_eq!(kind.mac, mac);
        assert_eq!(kind.group, 3);
        assert_eq!(kind.macvlan_mode, Some(MACVLAN_MODE_PRIVATE));
        assert!(kind.is_vmac_for(7, mac));
        assert!(!kind.is_vmac_for(8, mac), "another base");
        assert!(!kind.is_vmac_for(7, [0, 0, 0x5e, 0, 1, 52]), "another MAC");
        assert!(
            message
                .attributes
                .contains(&LinkAttribute::IfName("vrrp.51".into()))
        );
    }

    #[test]
    fn a_bridge_mode_macvlan_or_a_plain_link_is_not_a_vmac() {
        let mut message = LinkMessage::default();
        create_message(&mut message, "x", 2, [2, 0, 0, 0, 0, 1], 0);
        for a in &mut message.attributes {
            if let LinkAttribute::LinkInfo(infos) = a {
                infos[1] = LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(4)]));
            }
        }
        let kind = link_kind(&message);
        assert_eq!(kind.macvlan_mode, Some(4));
        assert!(!kind.is_vmac_for(2, [2, 0, 0, 0, 0, 1]));
        let plain = link_kind(&LinkMessage::default());
        assert_eq!(plain.macvlan_mode, None);
    }
}
