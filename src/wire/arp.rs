//! Gratuitous ARP (RFC 5227 / keepalived style).
