//! Timer arithmetic of RFC 3768 section 6.1 (VRRPv2) and RFC 5798 section 6.1 (VRRPv3).
//!
//! All values are exact `Duration`s computed in integer microseconds, so the simulator can
//! check failover "to the tick".

use std::time::Duration;

use crate::wire::vrrp::Version;

/// One centisecond, the unit of the VRRPv3 interval field.
const CENTISECOND_US: u64 = 10_000;

/// An advertisement interval in centiseconds (VRRPv2 intervals are whole seconds,
/// i.e. multiples of 100).
pub fn interval(interval_cs: u16) -> Duration {
    Duration::from_micros(u64::from(interval_cs) * CENTISECOND_US)
}

/// Skew_Time for a router of `priority`.
///
/// RFC 5798 6.1: `((256 - Priority) * Master_Adver_Interval) / 256`.
/// RFC 3768 6.1: `(256 - Priority) / 256` seconds, independent of the interval.
pub fn skew_time(version: Version, priority: u8, master_interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority);
    let base_us = match version {
        Version::V2 => 1_000_000,
        Version::V3 => u64::from(master_interval_cs) * CENTISECOND_US,
    };
    Duration::from_micros(weight * base_us / 256)
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time` (RFC 5798 6.1, RFC 3768 6.1).
pub fn master_down_interval(version: Version, priority: u8, master_interval_cs: u16) -> Duration {
    3 * interval(master_interval_cs) + skew_time(version, priority, master_interval_cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_skew_scales_with_the_interval() {
        // 100 cs interval, priority 100: (156 * 1 s) / 256 = 609375 us.
        assert_eq!(
            skew_time(Version::V3, 100, 100),
            Duration::from_micros(609_375)
        );
        // 1 cs interval, priority 255: 10000 / 256 = 39.0625 us, truncated to 39 us.
        assert_eq!(skew_time(Version::V3, 255, 1), Duration::from_micros(39));
    }

    #[test]
    fn v2_skew_ignores_the_interval() {
        assert_eq!(
            skew_time(Version::V2, 100, 300),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 254, 100),
            Duration::from_micros(7_812)
        );
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew() {
        assert_eq!(
            master_down_interval(Version::V3, 100, 100),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(Version::V2, 200, 300),
            Duration::from_micros(9_218_750)
        );
        // The highest possible backup priority gives the shortest timer.
        assert!(
            master_down_interval(Version::V3, 254, 5) < master_down_interval(Version::V3, 1, 5)
        );
    }
}
