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

/// What a batch of checks needs, read at once: the users found (by id),
/// and which of the stores and companies asked about exist.
#[derive(Debug, Clone, Default)]
pub struct ManyFacts {
    pub subjects: std::collections::HashMap<Uuid, Subject>,
    pub stores: std::collections::HashSet<String>,
    pub companies: std::collections::HashSet<Uuid>,
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

    /// The same for many users, stores and companies, in one read (a
    /// batch's cache misses).
    async fn check_facts_of(
        &self,
        tenant: &str,
        users: &[Uuid],
        stores: &[String],
        companies: &[Uuid],
    ) -> Result<ManyFacts>;

    /// The changes a cached credential or check fact may depend on, entity
    /// by entity ([`crate::Changes`]): this store's own writes (users and
    /// their roles, stores, contacts and sign-ins; stores, companies,
    /// tenants, API keys, devices, sessions) as they commit, and on
    /// PostgreSQL other processes' as they are pushed (`LISTEN/NOTIFY`,
    /// once [`CheckStore::watch_changes`] runs). A lost push connection
    /// records [`crate::Entity::Everything`], since whatever was missed
    /// meanwhile cannot be known.
    fn changes(&self) -> &crate::Changes;

    /// Up to when [`CheckStore::changes`] is known to include every other
    /// process's committed change.
    fn horizon(&self) -> Horizon;

    /// Starts following other processes' changes (PostgreSQL), checking the
    /// push connection with a heartbeat every `heartbeat`; it stops when the
    /// store is dropped. Without it `horizon` is [`Horizon::Unknown`]. On
    /// SQLite the heartbeat reads the file's `data_version` on the writer's
    /// connection, which moves only for another process's commit.
    fn watch_changes(&self, heartbeat: std::time::Duration);
}

/// How much of other processes' changes [`CheckStore::changes`] includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// All of them: no other process writes to this database (SQLite).
    Complete,
    /// Every change committed before this moment (PostgreSQL: the sending
    /// time of the last heartbeat this process heard back on its push
    /// connection; notifications arrive in commit order, so every change
    /// committed before the heartbeat was heard first).
    Since(std::time::Instant),
    /// Not known: the push connection is not (or not yet) established.
    Unknown,
}
