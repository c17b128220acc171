//! The sans-IO VRRP state machine (RFC 5798 section 6, RFC 3768 section 6).
