//! Housekeeping: the purge of expired sessions, long-expired invitations,
//! stale sign-in throttles, sent events and old delivery attempts (what is kept, and for how long, is the
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
        let cutoffs = Cutoffs::at(self.now()).publishing(self.config.events.nats_url.is_some());
        let purged = self.store.purge(&cutoffs).await?;
        // Console sign-ins idle past the timeout (their sessions were made
        // for the console alone and carry no token, so nothing else can
        // use them).
        let idle_before = self.now() - self.config.console_idle_timeout;
        let console = self.store.purge_console_sessions(idle_before).await?;
        if console > 0 {
            tracing::info!(console_sessions = console, "purged idle console sign-ins");
        }
        if !purged.is_empty() {
            tracing::info!(
                sessions = purged.sessions,
                invitations = purged.invitations,
                throttles = purged.throttles,
                events = purged.events,
                attempts = purged.attempts,
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
