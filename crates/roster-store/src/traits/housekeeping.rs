//! Housekeeping: removing what has stopped mattering.

use async_trait::async_trait;
use roster_core::rules::retention::Cutoffs;

use crate::Result;

/// How many rows one purge removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub invitations: u64,
    pub throttles: u64,
    /// Outbox events that went everywhere they go.
    pub events: u64,
    /// Webhook delivery attempts past their listing.
    pub attempts: u64,
}

impl Purged {
    /// Whether the purge removed anything.
    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

/// Removes expired sessions, long-expired invitations and stale sign-in
/// throttle counters, in every tenant (the rows carry no tenant data that
/// outlives them). Idempotent: any number of processes may run it at once.
#[async_trait]
pub trait HousekeepingStore: Send + Sync + 'static {
    async fn purge(&self, cutoffs: &Cutoffs) -> Result<Purged>;
}
