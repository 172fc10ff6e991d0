//! Import jobs: what an HTTP import did so far, and how it ended.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, Contact, NewUser, Source, User, UserPatch};
use uuid::Uuid;

use crate::{NewContact, Result};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    Running,
    Done,
    /// It stopped before its last line (a failure, or a restart).
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "RUNNING",
            ImportStatus::Done => "DONE",
            ImportStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<ImportStatus> {
        match text {
            "RUNNING" => Some(ImportStatus::Running),
            "DONE" => Some(ImportStatus::Done),
            "FAILED" => Some(ImportStatus::Failed),
            _ => None,
        }
    }
}

/// The counts of a job so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub lines: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// One problem of a refused line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub line: i64,
    pub field: String,
    pub reason: String,
}

/// An import job.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: Uuid,
    pub status: ImportStatus,
    pub dry_run: bool,
    pub counts: ImportCounts,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// The first problems, by line.
    pub problems: Vec<ImportProblem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Import jobs of a tenant.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Records a new running job.
    async fn create_import(&self, tenant: &str, id: Uuid, dry_run: bool) -> Result<ImportJob>;
    /// Records a job's counts and the problems found since the last call;
    /// with `finished`, its end (`Err`: why it failed).
    async fn record_import(
        &self,
        tenant: &str,
        id: Uuid,
        counts: ImportCounts,
        problems: &[ImportProblem],
        finished: Option<std::result::Result<(), String>>,
    ) -> Result<()>;
    /// A job with its first `problems` problems.
    async fn get_import(&self, tenant: &str, id: Uuid, problems: i64) -> Result<ImportJob>;
    /// Marks failed, as interrupted, every running job not recorded since
    /// `silent_since` (its process stopped: a job records its progress every
    /// few seconds while it runs). How many.
    async fn interrupt_imports(&self, silent_since: DateTime<Utc>) -> Result<u64>;
}

/// An existing user an import line names, with what the import compares
/// a line against: the stored password hash and the user's contacts.
#[derive(Debug, Clone)]
pub struct ImportMatch {
    pub user: User,
    pub password_hash: Option<String>,
    pub contacts: Vec<Contact>,
}

/// One write of an import batch, decided by the application.
#[derive(Debug, Clone)]
pub enum ImportWrite {
    /// A new user, with its contacts.
    Create {
        user: NewUser,
        contacts: Vec<NewContact>,
    },
    /// A patch of an existing user (applied to its locked row, as every
    /// update is) and, when given, the contacts its active ones become.
    Update {
        user: Uuid,
        patch: UserPatch,
        contacts: Option<Vec<NewContact>>,
    },
}

/// Imports of users: reading a batch's matches at once, writing a batch in
/// one transaction.
#[async_trait]
pub trait ImportBatchStore: Send + Sync + 'static {
    /// The users of the tenant with any of these `(source, external_id)`
    /// pairs or email keys ([`roster_core::validate::email_key`]), with
    /// their password hashes and contacts: one batch's matches, in a few
    /// queries whatever its size.
    async fn import_matches(
        &self,
        tenant: &str,
        external_ids: &[(Source, String)],
        email_keys: &[String],
    ) -> Result<Vec<ImportMatch>>;
    /// The ids of the tenant's companies with these external ids.
    async fn companies_by_external_id(
        &self,
        tenant: &str,
        external_ids: &[String],
    ) -> Result<Vec<(String, Uuid)>>;
    /// Which of these companies and stores (each given once) are the
    /// tenant's: a dry run's checks of a batch's references, in a query per
    /// kind whatever the batch's size, as [`Self::import_users`] checks
    /// its creations'.
    async fn existing_references(
        &self,
        tenant: &str,
        companies: &[Uuid],
        stores: &[String],
    ) -> Result<(HashSet<Uuid>, HashSet<String>)>;
    /// Writes a batch in one transaction: every user created with
    /// multi-row inserts (its roles, stores and contacts too) and its
    /// audit event and outbox event, every update as `update_user` does it.
    /// Any failure (a constraint, a store or company that does not exist)
    /// writes nothing of the batch: the caller then writes its lines one by
    /// one, to tell which failed.
    async fn import_users(
        &self,
        tenant: &str,
        writes: Vec<ImportWrite>,
        actor: &Actor,
    ) -> Result<()>;
    /// After an import grew the user tables: tells the engine's planner
    /// (PostgreSQL's `ANALYZE`; nothing on SQLite), so the next batches'
    /// reads keep going through their indexes.
    async fn refresh_user_statistics(&self) -> Result<()>;
}
