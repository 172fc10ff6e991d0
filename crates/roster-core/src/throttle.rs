//! The sign-in throttle policy (SPEC §7): a login name locks for an
//! increasing time after consecutive failures; a client address may fail a
//! bounded number of times a minute. Pure arithmetic; the store keeps the
//! counts so every process shares them.

use chrono::{DateTime, Duration, Utc};

/// The limits, configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Consecutive failures of one login name before it locks (default 10).
    pub max_failures: i64,
    /// Failures one client address may make per minute (default 60).
    pub address_per_minute: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy::DEFAULT
    }
}

/// The longest a login name stays locked, in seconds.
pub const MAX_LOCK: i64 = 24 * 60 * 60;

impl ThrottlePolicy {
    /// SPEC §7's defaults: 10 consecutive failures, 60 a minute per address.
    pub const DEFAULT: ThrottlePolicy = ThrottlePolicy {
        max_failures: 10,
        address_per_minute: 60,
    };

    /// How long a login name locks after its `failures`-th consecutive
    /// failure: nothing below the limit, then 1 minute doubling with each
    /// further failure, at most a day.
    pub fn lock_for(&self, failures: i64) -> Option<Duration> {
        if failures < self.max_failures {
            return None;
        }
        let doublings = (failures - self.max_failures).min(20) as u32;
        Some(Duration::seconds((60_i64 << doublings).min(MAX_LOCK)))
    }
}

/// Seconds until `until`, at least 1: the `Retry-After` of a lock.
pub fn retry_after(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    (until - now).num_seconds().max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_after_the_limit() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.lock_for(9), None);
        assert_eq!(p.lock_for(10), Some(Duration::seconds(60)));
        assert_eq!(p.lock_for(11), Some(Duration::seconds(120)));
        assert_eq!(p.lock_for(13), Some(Duration::seconds(480)));
        assert_eq!(p.lock_for(1000), Some(Duration::seconds(MAX_LOCK)));
    }

    #[test]
    fn retry_after_is_at_least_a_second() {
        let now = Utc::now();
        assert_eq!(retry_after(now, now), 1);
        assert_eq!(retry_after(now, now + Duration::seconds(90)), 90);
    }
}
