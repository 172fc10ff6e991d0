//! The audit log.

use async_trait::async_trait;
use roster_core::AuditEvent;

use crate::{Listed, Page, Result};

/// The audit log every change appends to.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// The audit log, oldest first.
    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>>;
    /// The latest `limit` events about one target (`user:<id>`), newest
    /// first.
    async fn events_of_target(
        &self,
        tenant: &str,
        target: &str,
        limit: i64,
    ) -> Result<Vec<AuditEvent>>;
}
