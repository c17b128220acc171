//! Netlink errors: what was asked, for which interface or address, and the kernel's answer.

use std::io;
use std::net::IpAddr;

/// Why a netlink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// Opening a netlink socket failed.
    #[error("opening the {what} netlink socket failed: {source}")]
    Open {
        /// `"request"` or `"monitor"`.
        what: &'static str,
        /// OS error.
        source: io::Error,
    },
    /// No interface of that name.
    #[error("interface {name:?} not found")]
    NoSuchLink {
        /// The name asked for.
        name: String,
    },
    /// Adding an address failed.
    #[error("adding {addr}/{prefix_len} to interface index {ifindex} failed: {source}")]
    AddAddress {
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// Interface index.
        ifindex: u32,
        /// The kernel's error.
        source: io::Error,
    },
    /// Removing an address failed.
    #[error("removing {addr}/{prefix_len} from interface index {ifindex} failed: {source}")]
    DelAddress {
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// Interface index.
        ifindex: u32,
        /// The kernel's error.
        source: io::Error,
    },
    /// A query (link or address dump) failed.
    #[error("{what} failed: {source}")]
    Query {
        /// What was asked, e.g. `"reading link veth0"`.
        what: String,
        /// The error, as an OS error where the kernel gave one.
        source: io::Error,
    },
    /// Adding or removing a route failed.
    #[error("{what} the route failed: {source}")]
    Route {
        /// `"adding"` or `"removing"`.
        what: &'static str,
        /// The kernel's error.
        source: io::Error,
    },
    /// Adding or removing a rule failed.
    #[error("{what} the rule failed: {source}")]
    Rule {
        /// `"adding"` or `"removing"`.
        what: &'static str,
        /// The kernel's error.
        source: io::Error,
    },
    /// The prefix length does not fit the address family.
    #[error("prefix length {prefix_len} is too long for {addr}")]
    BadPrefix {
        /// The address.
        addr: IpAddr,
        /// The prefix length given.
        prefix_len: u8,
    },
}

/// The OS error inside an rtnetlink error (a kernel NACK carries an errno);
/// other failures (connection closed, unexpected reply) become `io::ErrorKind::Other`.
pub(crate) fn to_io(err: rtnetlink::Error) -> io::Error {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// The positive errno of an rtnetlink error, if the kernel gave one.
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => Some(-msg.raw_code()),
        _ => None,
    }
}
