//! Housekeeping: the purge of expired sessions, long-expired invitations
//! and stale sign-in throttles (what is kept, and for how long, is the
//! core's `rules::retention`). Every process may run it; the deletes are
//! idempotent.

use std::time::Duration;

use roster_core::rules::retention::Cutoffs;
pub use roster_store::Purged;

use crate::error::AppResult;
use crate::App;

impl App {
    /// One purge, as of the application's clock.
    pub async fn purge(&self) -> AppResult<Purged> {
        let purged = self.store.purge(&Cutoffs::at(self.now())).await?;
        if !purged.is_empty() {
            tracing::info!(
                sessions = purged.sessions,
                invitations = purged.invitations,
                throttles = purged.throttles,
                "purged expired records"
            );
        }
        Ok(purged)
    }

    /// Purges every `interval`, the first time one interval after start,
    /// until the returned future is dropped. A failed purge is logged and
    /// tried again at the next tick.
    pub async fn purge_every(self, interval: Duration) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.purge().await {
                tracing::warn!(%error, "purge failed; trying again at the next interval");
            }
        }
    }
}
