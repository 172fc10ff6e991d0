//! The purge of expired sessions, invitations and throttle counters, sent
//! events and old webhook delivery attempts:
//! [`HousekeepingStore`].
//!
//! Timestamps compare in SQL on both engines: PostgreSQL stores
//! `timestamptz`; SQLite stores RFC 3339 text in UTC (`+00:00`) with 0, 3, 6
//! or 9 fractional digits, which sorts as the times do.

use async_trait::async_trait;
use roster_core::rules::retention::Cutoffs;

use super::SqlStore;
use crate::{HousekeepingStore, Purged, Result};

#[async_trait]
impl HousekeepingStore for SqlStore {
    async fn purge(&self, cutoffs: &Cutoffs) -> Result<Purged> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(cutoffs.sessions_expired_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let invitations = sqlx::query("DELETE FROM invitations WHERE expires_at <= $1")
            .bind(cutoffs.invitations_expired_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let throttles = sqlx::query(
            "DELETE FROM login_throttles WHERE window_start <= $1 \
             AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(cutoffs.throttles_started_by)
        .bind(cutoffs.now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // An event goes once fanned out with no delivery pending, and
        // published: when this process publishes to NATS, only once
        // published (NATS may be away for longer than the retention);
        // otherwise if a NATS publisher ever claimed it.
        let published = if cutoffs.events_published {
            "published_at IS NOT NULL"
        } else {
            "(published_at IS NOT NULL OR publish_claimed_until IS NULL)"
        };
        let sql = format!(
            "DELETE FROM outbox WHERE dispatched_at <= $1 AND {published} AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = outbox.tenant_id AND \
             d.event_id = outbox.id AND d.state = 'pending')"
        );
        let events = sqlx::query(&sql)
            .bind(cutoffs.events_sent_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let attempts = sqlx::query("DELETE FROM webhook_attempts WHERE at <= $1")
            .bind(cutoffs.attempts_made_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        slot.finish().await?;
        Ok(Purged {
            sessions,
            invitations,
            throttles,
            events,
            attempts,
        })
    }
}
