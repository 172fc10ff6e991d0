//! PostgreSQL: the production engine. Any number of Roster processes can
//! share one database; row locks serialise conflicting writes.

use sqlx::postgres::PgPoolOptions;

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Postgres;

/// Locks the rows a transaction reads before changing them; `NO KEY` lets
/// inserts that merely reference the row go on.
const LOCK: &str = " FOR NO KEY UPDATE";

/// A write's turn within a tenant, until its transaction ends: an advisory
/// lock on the tenant uid's hash (a collision only serialises two tenants).
const TENANT_TURN: Option<&str> = Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");

/// The `application_name` of the connections that take per-tenant numbers.
pub const NUMBERS: &str = "roster-numbers";

/// What a claim of queued work (the outbox) adds to its `SELECT`: rows
/// another process is claiming are skipped, not waited for, so several
/// dispatchers share the queue.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// What a transaction whose loss in a crash only means doing it again (the
/// dispatcher's fan-out of outbox events) runs first: its commit does not
/// wait for the WAL flush. It is durable by the next durable commit (the
/// WAL is flushed in order), and lost only with the work it recorded, so
/// the events are fanned out again: at least once, as ever.
const RELAXED_COMMIT: Option<&str> = Some("SET LOCAL synchronous_commit TO off");

/// What refreshes the planner's statistics after a bulk import grew the
/// user tables: a table PostgreSQL still takes for nearly empty is read
/// whole, so an import's matching read (and the foreign-key checks of its
/// inserts) would get slower with every batch until autovacuum analyses it.
const ANALYZE_USERS: Option<&str> = Some("ANALYZE users, role_assignments, user_stores, contacts");

/// Whether the listing checks each `store_roles` entry against the tables
/// the triggers keep it from (migration 0010): on PostgreSQL a store
/// deleted while a user's roles change can leave an entry behind.
const STORE_ROLES_RECHECK: bool = true;

/// How a user's role assignments and stores come with the user's row: as
/// JSON arrays built by correlated subqueries (`json_agg` of `json_build_array`), so one
/// statement reads a user or a page of users whole.
const JSON_AGG: &str = "json_agg";
const JSON_ARRAY: &str = "json_build_array";
/// What makes such an array text for the driver (`::text`).
const JSON_TEXT: &str = "::text";

/// How many batches of user creations may be written at once: while one
/// commits, the next gathers and writes (PostgreSQL shares the WAL flush of
/// concurrent commits); more turns would make smaller batches.
const CREATION_TURNS: usize = 2;

/// Whether a batch of user creations is written in one statement of
/// data-modifying `WITH` queries (see `sql/user_batch.rs`), which numbers
/// its users and takes their audit event ids itself: one round trip for the
/// batch rather than seven.
const ONE_STATEMENT_CREATIONS: bool = true;

/// The store on PostgreSQL: cheap to clone (pools and shared state).
#[derive(Clone)]
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: sqlx::Pool<Db>,
    /// Takes per-tenant numbers, each in a statement of its own (see
    /// `next_number`), with `synchronous_commit` off: the creation that
    /// uses a number commits durably after it, and its WAL flush carries
    /// the number's with it; a number whose creation never committed may
    /// be lost in a crash, which can only reuse an unused number. A
    /// `lock_timeout` bounds the wait for the tenant row (a tenant being
    /// deleted).
    numbers: sqlx::Pool<Db>,
    /// Cache-relevant changes committed by this store (see `finish_change`)
    /// and, once watched, by other processes (see [`crate::watch`]).
    changes: std::sync::Arc<crate::Changes>,
    /// Following other processes' changes.
    watch: std::sync::Arc<crate::watch::Watch>,
    /// User creations waiting for their batch (see `sql/user_batch.rs`).
    creations: std::sync::Arc<crate::batch::UserCreations>,
}

impl SqlStore {
    /// Connects and applies migrations.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ConnectError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect(&options.url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let numbering = pool
            .connect_options()
            .as_ref()
            .clone()
            .application_name(NUMBERS)
            .options([("synchronous_commit", "off"), ("lock_timeout", "5s")]);
        let numbers = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(numbering);
        Ok(SqlStore {
            read: pool.clone(),
            write: pool,
            numbers,
            changes: Default::default(),
            watch: Default::default(),
            creations: std::sync::Arc::new(crate::batch::Batches::new(CREATION_TURNS, sql::BATCH)),
        })
    }
}

/// A write's connection. PostgreSQL already lets concurrent commits share
/// one WAL flush, so each write is its own transaction on a pooled
/// connection.
pub(crate) struct Slot<'a> {
    conn: sqlx::pool::PoolConnection<Db>,
    _store: std::marker::PhantomData<&'a SqlStore>,
}

impl Slot<'_> {
    /// Starts the write's transaction.
    pub(crate) async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
        sqlx::Connection::begin(&mut *self.conn).await
    }

    /// The connection, for a write that is one statement, outside a
    /// transaction.
    pub(crate) fn autocommit(&mut self) -> Option<&mut sqlx::PgConnection> {
        Some(&mut self.conn)
    }

    /// After the transaction committed: it is durable already.
    pub(crate) async fn finish(self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl SqlStore {
    /// See [`crate::Horizon`]: known while the push connection is up.
    pub(crate) fn change_horizon(&self) -> crate::Horizon {
        self.watch.horizon()
    }

    /// Follows other processes' changes on a connection of its own.
    pub(crate) fn watch(&self, heartbeat: std::time::Duration) {
        crate::watch::start(&self.watch, &self.read, &self.changes, heartbeat);
    }

    /// Tells every other process, when `tx` commits, what it touched
    /// (`NOTIFY`, delivered at commit or not at all).
    pub(crate) async fn announce_change(
        &self,
        tx: &mut sqlx::Transaction<'_, Db>,
        touched: &[crate::Entity<'_>],
    ) -> Result<(), sqlx::Error> {
        self.watch.announce(tx, touched).await
    }

    /// Where per-tenant numbers are taken (see `numbers`).
    pub(crate) fn numbers(&self) -> Option<&sqlx::Pool<Db>> {
        Some(&self.numbers)
    }

    /// A connection for one write.
    pub(crate) async fn writer(&self) -> Result<Slot<'_>, sqlx::Error> {
        Ok(Slot {
            conn: self.write.acquire().await?,
            _store: std::marker::PhantomData,
        })
    }
}

// The shared SQL, compiled here against this engine's `Db`, `LOCK` and
// `SqlStore`; the other engine compiles the same files, on purpose (hence
// the allow, which covers the files `sql/mod.rs` declares too).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
