//! baton: a VRRP daemon (RFC 3768 VRRPv2, RFC 5798 VRRPv3), keepalived-compatible.
//!
//! The protocol core (`wire`, `vrrp`) is pure: it never reads a clock, sleeps or does I/O.
//! `ARCHITECTURE.md` at the top of the repository is the map: modules, threads, the path of
//! a packet and of a transition, the invariants, and where to add a keyword.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod net;
pub mod netlink;
pub mod sys;
pub mod vrrp;
pub mod wire;
pub mod witness;
