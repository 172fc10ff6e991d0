//! PostgreSQL: the production engine. Any number of Roster processes can
//! share one database; row locks serialise conflicting writes.

use sqlx::postgres::PgPoolOptions;

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Postgres;

/// Locks the rows a transaction reads before changing them; `NO KEY` lets
/// inserts that merely reference the row go on.
const LOCK: &str = " FOR NO KEY UPDATE";

/// The store on PostgreSQL.
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: sqlx::Pool<Db>,
    /// Cache-relevant changes committed by this store (see `finish_change`)
    /// and, once watched, by other processes (see [`crate::watch`]).
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Following other processes' changes.
    watch: std::sync::Arc<crate::watch::Watch>,
}

impl SqlStore {
    /// Connects and applies migrations.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ConnectError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect(&options.url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(SqlStore {
            read: pool.clone(),
            write: pool,
            changes: Default::default(),
            watch: Default::default(),
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

    /// Tells every other process, when `tx` commits, that a cached fact
    /// may have changed (`NOTIFY`, delivered at commit or not at all).
    pub(crate) async fn announce_change(
        &self,
        tx: &mut sqlx::Transaction<'_, Db>,
    ) -> Result<(), sqlx::Error> {
        self.watch.announce(tx).await
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
