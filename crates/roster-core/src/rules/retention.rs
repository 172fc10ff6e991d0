//! What is kept, and for how long, of the records that only matter for a
//! while: sessions, invitations, sign-in throttle counters, sent events
//! and webhook delivery attempts. The purge
//! removes everything older than these cut-offs; nothing it removes can
//! still change an answer, except as stated on each field.

use chrono::{DateTime, Duration, Utc};

use crate::throttle::MAX_LOCK;

/// How long an invitation is kept after it expired, whatever became of it:
/// until then its token still answers 410 (used or expired), after that 404.
pub const INVITATION_KEPT_AFTER_EXPIRY: Duration = Duration::days(7);

/// How long an event is kept in the outbox once it went everywhere it goes
/// (fanned out, no delivery pending, published when NATS took it).
pub const EVENT_KEPT_AFTER_SENT: Duration = Duration::days(7);

/// How long a webhook's delivery attempts are listed.
pub const ATTEMPTS_KEPT: Duration = Duration::days(30);

/// The cut-offs of one purge, computed from the time it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Sessions that expired at or before this go: their tokens are refused
    /// on expiry anyway, revoked or not.
    pub sessions_expired_by: DateTime<Utc>,
    /// Invitations that expired at or before this go.
    pub invitations_expired_by: DateTime<Utc>,
    /// Throttle counters whose window started at or before this, and that
    /// hold no lock after `now`, go: failures older than the longest lock
    /// are forgotten.
    pub throttles_started_by: DateTime<Utc>,
    /// Outbox events sent at or before this go.
    pub events_sent_by: DateTime<Utc>,
    /// Webhook delivery attempts made at or before this go.
    pub attempts_made_by: DateTime<Utc>,
    /// Whether events are published to NATS: then an event goes only once
    /// published, however long NATS stays away (never lost to the purge).
    pub events_published: bool,
    /// The time of the purge: a counter locked past it is kept.
    pub now: DateTime<Utc>,
}

impl Cutoffs {
    /// The cut-offs of a purge running at `now`.
    pub fn at(now: DateTime<Utc>) -> Cutoffs {
        Cutoffs {
            sessions_expired_by: now,
            invitations_expired_by: now - INVITATION_KEPT_AFTER_EXPIRY,
            throttles_started_by: now - Duration::seconds(MAX_LOCK),
            events_sent_by: now - EVENT_KEPT_AFTER_SENT,
            attempts_made_by: now - ATTEMPTS_KEPT,
            events_published: false,
            now,
        }
    }

    /// The same, for a process that publishes events to NATS (`publishing`).
    pub fn publishing(mut self, publishing: bool) -> Cutoffs {
        self.events_published = publishing;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_keep_what_still_answers() {
        let now = Utc::now();
        let c = Cutoffs::at(now);
        assert_eq!(c.sessions_expired_by, now);
        assert_eq!(c.invitations_expired_by, now - Duration::days(7));
        assert_eq!(c.throttles_started_by, now - Duration::days(1));
        assert!(c.invitations_expired_by < c.sessions_expired_by);
        assert_eq!(c.events_sent_by, now - Duration::days(7));
        assert!(c.attempts_made_by < c.events_sent_by);
    }
}
