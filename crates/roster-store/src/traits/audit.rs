//! The audit log.

use async_trait::async_trait;
use roster_core::AuditEvent;

use crate::{Listed, Page, Result};

/// The audit log every change appends to.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// The audit log, oldest first.
    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>>;
    /// The latest `limit` events that match `filter` and whose ids are
    /// below `before` (all when `None`), newest first: the console's audit
    /// log, paged backwards by the last id shown.
    async fn search_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>>;
}

/// A filter of the audit log: each part that is set must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// The action, such as `user.updated`.
    pub action: Option<String>,
    /// The actor as recorded, such as `admin` or `user:<id>`.
    pub actor: Option<String>,
    /// The target as recorded, such as `user:<id>`.
    pub target: Option<String>,
}
