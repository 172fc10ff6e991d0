//! The facts of a permission check.

use async_trait::async_trait;
use roster_core::Subject;
use uuid::Uuid;

use crate::Result;

/// What `check` needs about one user and the place asked about, read at once.
#[derive(Debug, Clone)]
pub struct CheckFacts {
    /// `None` when the user is not in the tenant.
    pub subject: Option<Subject>,
    pub store_exists: bool,
    pub company_exists: bool,
}

/// The facts a permission `check` is evaluated against.
#[async_trait]
pub trait CheckStore: Send + Sync + 'static {
    /// Everything `check` needs, in one read: the user's status, roles and
    /// stores, and whether the store and company asked about exist.
    async fn check_facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
    ) -> Result<CheckFacts>;

    /// How many changes a cached credential or check fact may depend on
    /// this store has committed: users and roles, stores, companies,
    /// tenants, API keys, sessions. It only grows; a cache that notes it
    /// before a read and finds it moved since knows the read may be stale.
    /// It counts this process's writes only: other processes' are bounded
    /// by the cache's lifetime.
    fn changes(&self) -> u64;
}
