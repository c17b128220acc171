//! Unsolicited neighbour advertisements (RFC 4861 7.2.6).
