//! Events out (SPEC §8): what an audit action is called as a CloudEvent,
//! which event types a webhook asked for, which addresses a webhook may
//! reach, and when a failed delivery is tried again. Pure rules; the store
//! writes the events, the application delivers them.

use std::net::IpAddr;
use std::time::Duration;

/// The CloudEvents `type` of an audit action: `user.created` →
/// `roster.user.created`.
pub fn event_type(action: &str) -> String {
    format!("roster.{action}")
}

/// The resource an audit action is about: `user` of `user.created`.
pub fn resource_of(action: &str) -> &str {
    action
        .split_once('.')
        .map_or(action, |(resource, _)| resource)
}

/// The CloudEvents `subject` of an audit target: `user:<id>` → `users/<id>`.
pub fn subject_of(target: &str) -> String {
    match target.split_once(':') {
        Some((kind, id)) => format!("{kind}s/{id}"),
        None => target.to_string(),
    }
}

/// Whether an action removes its resource, so the event's `data` is only its id.
pub fn is_deletion(action: &str) -> bool {
    action.ends_with(".deleted")
}

/// The most filters one webhook may list.
pub const MAX_FILTERS: usize = 50;

/// One entry of a webhook's `event_types`: an exact type
/// (`roster.user.created`) or a prefix ending in `*` at a dot
/// (`roster.user.*`, `roster.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypeFilter(String);

impl EventTypeFilter {
    /// Parses a filter: `roster.` then dot-separated words of lower-case
    /// letters, digits and `_`, the last of which may be `*`.
    pub fn parse(text: &str) -> Result<EventTypeFilter, String> {
        let refuse = || {
            format!(
                "'{text}' is not an event type (roster.<resource>.<action>) or a \
                 pattern like roster.user.*"
            )
        };
        let rest = text.strip_prefix("roster.").ok_or_else(refuse)?;
        let words: Vec<&str> = rest.split('.').collect();
        if words.len() > 2 {
            return Err(refuse());
        }
        for (i, word) in words.iter().enumerate() {
            let wildcard = *word == "*" && i == words.len() - 1;
            let plain = !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !(wildcard || plain) {
                return Err(refuse());
            }
        }
        if words.len() == 1 && words[0] != "*" {
            return Err(refuse());
        }
        Ok(EventTypeFilter(text.to_string()))
    }

    /// Whether an event of `event_type` passes this filter.
    pub fn matches(&self, event_type: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => self.0 == event_type,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an event passes a webhook's filters: every event when there are none.
pub fn wanted(filters: &[EventTypeFilter], event_type: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(event_type))
}

/// Whether a webhook may be sent to `addr` without
/// `ROSTER_WEBHOOK_ALLOW_PRIVATE`: not loopback, private, link-local (which
/// holds the cloud metadata address 169.254.169.254), shared (CGNAT),
/// unspecified, multicast, broadcast or reserved, in IPv4 or IPv6, nor an
/// IPv4 address of those reached over IPv6.
pub fn is_public_address(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()) {
                if !v6.is_loopback() && !v6.is_unspecified() {
                    return is_public_address(IpAddr::V4(v4));
                }
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// The retry schedule of a webhook delivery, from `ROSTER_WEBHOOK_RETRY_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// The default: 5 s, 30 s, 2 min, 10 min, 1 h, 4 h, 12 h.
    pub const DEFAULT_SECONDS: &'static str = "5,30,120,600,3600,14400,43200";

    /// A comma-separated list of whole seconds, each at least 1 (at most 32
    /// entries, each at most a week).
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        let mut delays = Vec::new();
        for item in text.split(',').map(str::trim) {
            let seconds: u64 = item
                .parse()
                .map_err(|_| format!("'{item}' is not a whole number of seconds"))?;
            if !(1..=604_800).contains(&seconds) {
                return Err(format!("'{item}' must be between 1 and 604800 seconds"));
            }
            delays.push(Duration::from_secs(seconds));
        }
        if delays.len() > 32 {
            return Err("at most 32 retries".into());
        }
        Ok(RetrySchedule(delays))
    }

    /// The wait before attempt `attempt + 1` after attempt `attempt` (1-based)
    /// failed, jittered by `jitter` in `[-1, 1]` by up to a fifth either way
    /// so that many failed deliveries do not come back at once; `None` when
    /// the schedule is exhausted and the delivery has failed.
    pub fn after(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        let base = self.0.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
        Some(base.mul_f64(factor))
    }

    /// How many retries follow the first attempt.
    pub fn retries(&self) -> usize {
        self.0.len()
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule::parse(Self::DEFAULT_SECONDS).expect("the default parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_their_events() {
        assert_eq!(event_type("user.created"), "roster.user.created");
        assert_eq!(resource_of("api_key.deleted"), "api_key");
        assert_eq!(subject_of("user:0190"), "users/0190");
        assert!(is_deletion("user.deleted") && !is_deletion("device.revoked"));
    }

    #[test]
    fn filters_match_exactly_or_by_prefix() {
        let users = EventTypeFilter::parse("roster.user.*").unwrap();
        assert!(users.matches("roster.user.created"));
        assert!(!users.matches("roster.users.created"));
        assert!(!users.matches("roster.company.created"));
        let one = EventTypeFilter::parse("roster.user.deleted").unwrap();
        assert!(one.matches("roster.user.deleted") && !one.matches("roster.user.created"));
        assert!(EventTypeFilter::parse("roster.*")
            .unwrap()
            .matches("roster.store.created"));
        assert!(wanted(&[], "roster.anything.at_all"));
        for bad in [
            "",
            "user.*",
            "roster.",
            "roster.user",
            "roster.*.created",
            "roster.user.*.x",
            "roster.User.created",
            "roster.user.created*",
            "roster..x",
            "*",
        ] {
            assert!(EventTypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_schedule_runs_out() {
        let s = RetrySchedule::parse("1, 2").unwrap();
        assert_eq!(s.after(1, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(s.after(2, 1.0), Some(Duration::from_millis(2400)));
        assert_eq!(s.after(3, 0.0), None);
        assert_eq!(s.after(0, 0.0), None);
        assert_eq!(RetrySchedule::default().retries(), 7);
        for bad in ["", "0", "1,x", "-1", "999999999"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
    }
}
