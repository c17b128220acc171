//! Sockets: VRRP advertisements over raw IP (protocol 112) and gratuitous ARP /
//! unsolicited neighbour advertisements over a packet socket.
//!
//! Every socket is bound to one interface (`SO_BINDTODEVICE` or a packet-socket
//! bind), non-blocking, and driven by tokio's [`AsyncFd`](tokio::io::unix::AsyncFd)
//! on the caller's runtime. Sockets belong to the network namespace of the thread
//! that opened them (see [`crate::sys::enter_netns`]).

mod announce;
mod error;
mod neighbour_listener;
mod vrrp_socket;

pub use announce::{AnnounceSocket, ipv6_forwarding};
pub use error::NetError;
pub use neighbour_listener::NeighbourListener;
pub use vrrp_socket::{Family, Received, VrrpSocket};

pub use crate::netlink::InterfaceInfo;

/// Read an interface's index, MAC, addresses and state over a short-lived netlink
/// connection (for a long-running daemon, prefer [`crate::netlink::Netlink::interface_info`]
/// on its shared connection). Needs a tokio runtime with IO enabled.
pub async fn interface_info(name: &str) -> Result<InterfaceInfo, crate::netlink::NetlinkError> {
    let netlink = crate::netlink::Netlink::new_without_monitor()?;
    netlink.interface_info(name).await
}
