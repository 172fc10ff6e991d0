//! SQLite: the embedded default, one file, no set-up.
//!
//! Durability: WAL with `synchronous=FULL` by default, so an acknowledged
//! write survives a crash of the process or of the machine. Writes go through
//! one connection, so transactions never race for SQLite's single write lock
//! (no `SQLITE_BUSY` upgrades), and concurrent writes share one commit
//! ([`Writer`]: group commit); reads use their own pool and run alongside.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Sqlite;

/// SQLite serialises writers, so rows need no lock of their own.
const LOCK: &str = "";

/// Writes take turns already (one writer).
const TENANT_TURN: Option<&str> = None;

/// What a claim of queued work (the outbox) adds to its `SELECT`: nothing,
/// since one writer at a time claims on SQLite.
const SKIP_LOCKED: &str = "";

/// What a transaction whose loss in a crash only means doing it again runs
/// first: nothing, since every write joins the epoch's shared commit.
const RELAXED_COMMIT: Option<&str> = None;

/// Whether a batch of user creations is written in one statement: no,
/// SQLite has no `INSERT` in `WITH`; a batch is a transaction of multi-row
/// inserts, in the writer's epoch.
const ONE_STATEMENT_CREATIONS: bool = false;

/// What refreshes the planner's statistics after a bulk import: nothing,
/// since SQLite without statistics already reads equalities through their
/// indexes (and Roster never analyses it).
const ANALYZE_USERS: Option<&str> = None;

/// Whether the listing checks each `store_roles` entry against the tables
/// the triggers keep it from (migration 0010): not on SQLite, where writes
/// take turns, so the triggers keep it exact.
const STORE_ROLES_RECHECK: bool = false;

/// How a user's role assignments and stores come with the user's row: as
/// JSON arrays built by correlated subqueries (`json_group_array` of `json_array`), so one
/// statement reads a user or a page of users whole.
const JSON_AGG: &str = "json_group_array";
const JSON_ARRAY: &str = "json_array";
/// What makes such an array text for the driver (`nothing`).
const JSON_TEXT: &str = "";

/// How many batches of user creations may be written at once: one, as the
/// writer takes one write at a time anyway; creations gather meanwhile.
const CREATION_TURNS: usize = 1;

/// The store on SQLite: cheap to clone (pools and shared state).
#[derive(Clone)]
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: std::sync::Arc<Writer>,
    /// Cache-relevant changes committed by this store (see `finish_change`)
    /// and, once watched, by other processes (see [`crate::watch`]).
    changes: std::sync::Arc<crate::Changes>,
    /// Following other processes' commits to the same file.
    watch: std::sync::Arc<crate::watch::Watch>,
    /// User creations waiting for their batch (see `sql/user_batch.rs`).
    creations: std::sync::Arc<crate::batch::UserCreations>,
}

impl SqlStore {
    /// Opens (creating if missing) the file and applies migrations.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ConnectError> {
        let synchronous = match options.sqlite_synchronous {
            crate::SqliteSynchronous::Off => SqliteSynchronous::Off,
            crate::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            crate::SqliteSynchronous::Full => SqliteSynchronous::Full,
            crate::SqliteSynchronous::Extra => SqliteSynchronous::Extra,
        };
        let connect = SqliteConnectOptions::from_str(&options.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // A write cancelled inside `begin_with("BEGIN IMMEDIATE")`
            // (a client hanging up, a request timeout), after its `BEGIN`
            // ran but before sqlx made the `Transaction`, hands the
            // connection back still in that (empty) transaction: sqlx
            // 0.8.6 rolls back a cancelled `BEGIN` only while it is being
            // acknowledged, not across its later check of the handle.
            // Every later write would then fail ("begin_with at non-zero
            // transaction depth") and the file's write lock stay held; so
            // such a connection is closed (which rolls it back) and the
            // next write opens another.
            .after_release(|conn, _| {
                Box::pin(async move {
                    Ok(<sqlx::sqlite::SqliteTransactionManager as sqlx::TransactionManager>::get_transaction_depth(conn) == 0)
                })
            })
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        widen_source_checks(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(SqlStore {
            read,
            write: std::sync::Arc::new(Writer::new(write)),
            changes: Default::default(),
            watch: Default::default(),
            creations: std::sync::Arc::new(crate::batch::Batches::new(CREATION_TURNS, sql::BATCH)),
        })
    }
}

/// The values a `source` column takes (`roster_core::Source`); databases
/// made before SCIM and imports allow only the first two.
const OLD_SOURCES: &str = "CHECK (source IN ('RETEN', 'INTEGRATION'))";
const SOURCES: &str = "CHECK (source IN ('RETEN', 'INTEGRATION', 'SCIM', 'IMPORT'))";

/// Widens the `source` CHECK constraints of `users` and `contacts` (the
/// PostgreSQL migration 0005 does it with `ALTER TABLE`).
///
/// SQLite cannot alter a constraint, and its migrator runs each file in a
/// transaction, where the table rebuild SQLite documents cannot switch
/// foreign keys off (dropping `users` would then cascade to every child
/// table). A widened CHECK changes nothing on disk, so this is SQLite's
/// other documented procedure for such changes ("Making Other Kinds Of
/// Table Schema Changes"): rewrite the stored `CREATE TABLE` text under
/// `writable_schema` and bump `schema_version`, in one transaction, before
/// any other connection opens. It runs once; afterwards the text no longer
/// holds the old constraint.
async fn widen_source_checks(write: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut tx = write.begin().await?;
    let stale: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('users', \
         'contacts') AND instr(sql, $1) > 0",
    )
    .bind(OLD_SOURCES)
    .fetch_one(&mut *tx)
    .await?;
    if stale == 0 {
        return Ok(());
    }
    let version: i64 = sqlx::query_scalar("PRAGMA schema_version")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("PRAGMA writable_schema = ON")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE sqlite_schema SET sql = replace(sql, $1, $2) WHERE type = 'table' AND name IN \
         ('users', 'contacts')",
    )
    .bind(OLD_SOURCES)
    .bind(SOURCES)
    .execute(&mut *tx)
    .await?;
    // A pragma takes no bound parameter; the value is an integer we read.
    sqlx::query(&format!("PRAGMA schema_version = {}", version + 1))
        .execute(&mut *tx)
        .await?;
    sqlx::query("PRAGMA writable_schema = OFF")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(write)
        .await?;
    if check != "ok" {
        return Err(sqlx::Error::Protocol(format!(
            "the schema change of the source columns left the database unsound: {check}"
        )));
    }
    Ok(())
}

/// Group commit: concurrent writes share one transaction and one fsync.
///
/// Each write runs in its own savepoint inside the writer's open
/// transaction, one write at a time (a fair lock, so writers take turns in
/// arrival order). A write that fails rolls back to its savepoint and
/// leaves its neighbours alone. A write that succeeded then waits for its
/// *epoch* (the open transaction it joined) to commit: the first of the
/// epoch's writers to ask commits it, after every writer already queued has
/// joined, so a burst shares one commit. No write is acknowledged before its
/// epoch's commit returned, so durability is `synchronous`'s, as if each
/// had committed alone.
pub(crate) struct Writer {
    pool: sqlx::Pool<Db>,
    state: tokio::sync::Mutex<WriterState>,
}

struct WriterState {
    /// The epoch's transaction, begun by its first write.
    open: Option<sqlx::Transaction<'static, Db>>,
    /// The epoch the open transaction (or the next one) belongs to.
    epoch: u64,
    /// Writes that succeeded in the open transaction (waiting for its
    /// commit); while none has, a failed write rolls the transaction back.
    joined: usize,
    /// Recent epochs whose commit failed, with the error, for their writers.
    failed: std::collections::VecDeque<(u64, String)>,
}

/// A write's turn on the writer, holding the lock until it finishes.
pub(crate) struct Slot<'a> {
    state: tokio::sync::MutexGuard<'a, WriterState>,
    writer: std::sync::Arc<Writer>,
    /// Set by [`Slot::finish`]: the write succeeded and joined the epoch.
    joined: bool,
}

impl Drop for Slot<'_> {
    /// A write that failed (its savepoint is rolled back already) ends an
    /// epoch no write has joined: its transaction would otherwise stay
    /// open with no writer to commit it, holding the file's write lock
    /// against other processes until some later write of this one.
    fn drop(&mut self) {
        if !self.joined && self.state.joined == 0 {
            // Dropping a transaction rolls it back on its connection
            // before the connection's next use.
            self.state.open = None;
        }
    }
}

impl Writer {
    fn new(pool: sqlx::Pool<Db>) -> Writer {
        Writer {
            pool,
            state: tokio::sync::Mutex::new(WriterState {
                open: None,
                epoch: 0,
                joined: 0,
                failed: Default::default(),
            }),
        }
    }

    /// `PRAGMA data_version` on the writer's connection, in its turn: it
    /// moves only when another connection committed to the file.
    pub(crate) async fn data_version(&self) -> Result<i64, sqlx::Error> {
        let mut state = self.state.lock().await;
        let query = sqlx::query_scalar("PRAGMA data_version");
        match state.open.as_mut() {
            Some(tx) => query.fetch_one(&mut **tx).await,
            None => query.fetch_one(&self.pool).await,
        }
    }

    /// Commits `epoch` unless a writer of it already did; its outcome.
    async fn flush(&self, epoch: u64) -> Result<(), sqlx::Error> {
        let mut state = self.state.lock().await;
        if state.epoch == epoch {
            let outcome = match state.open.take() {
                Some(tx) => commit_epoch(tx).await,
                None => Ok(()),
            };
            state.epoch += 1;
            state.joined = 0;
            if let Err(e) = &outcome {
                state.failed.push_back((epoch, e.to_string()));
                if state.failed.len() > 64 {
                    state.failed.pop_front();
                }
            }
            return outcome;
        }
        match state.failed.iter().find(|(e, _)| *e == epoch) {
            Some((_, error)) => Err(sqlx::Error::Protocol(format!(
                "the shared commit failed: {error}"
            ))),
            None => Ok(()),
        }
    }
}

/// Commits an epoch's transaction, first releasing any savepoint no write
/// owns.
///
/// A write cancelled inside sqlx 0.8.6's `begin` of its savepoint (a client
/// hanging up, a request timeout), after the `SAVEPOINT` ran and was
/// acknowledged but before the waiting future took the answer, leaves that
/// savepoint open with no `Transaction` to end it. The writes after it nest
/// inside it. A plain `commit` would then only release it: every write of
/// the epoch acknowledged, none committed, and all of them rolled back when
/// the connection, still in its transaction, is closed (`after_release`).
/// Such a savepoint holds nothing of its own (its write was cancelled
/// before it ran a statement), so releasing it keeps exactly the work of
/// the writes that joined.
async fn commit_epoch(mut tx: sqlx::Transaction<'static, Db>) -> Result<(), sqlx::Error> {
    use sqlx::TransactionManager;
    type Manager = sqlx::sqlite::SqliteTransactionManager;
    while Manager::get_transaction_depth(&tx) > 1 {
        Manager::commit(&mut *tx).await?;
    }
    tx.commit().await
}

impl Slot<'_> {
    /// Starts the write: a savepoint in the epoch's transaction.
    ///
    /// The epoch's transaction is `BEGIN IMMEDIATE`: it takes the file's
    /// write lock before its first read (waiting out another process's
    /// write, up to the busy timeout), so no other process can commit
    /// under its snapshot (which would fail the write with
    /// `SQLITE_BUSY_SNAPSHOT`, however long it waited).
    pub(crate) async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
        if self.state.open.is_none() {
            self.state.open = Some(self.writer.pool.begin_with("BEGIN IMMEDIATE").await?);
        }
        let open = self.state.open.as_mut().expect("begun above");
        sqlx::Connection::begin(&mut **open).await
    }

    /// No connection outside a transaction: every write joins the epoch's.
    pub(crate) fn autocommit(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        None
    }

    /// After the savepoint was released: gives the next writer its turn and
    /// waits until the epoch is committed. The commit runs on its own task,
    /// so a caller that stops waiting (a timeout) cannot leave the epoch
    /// uncommitted.
    pub(crate) async fn finish(mut self) -> Result<(), sqlx::Error> {
        self.joined = true;
        self.state.joined += 1;
        let epoch = self.state.epoch;
        let writer = self.writer.clone();
        drop(self);
        tokio::spawn(async move { writer.flush(epoch).await })
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("the commit task failed: {e}")))?
    }
}

impl SqlStore {
    /// See [`crate::Horizon`]: known while the watcher polls.
    pub(crate) fn change_horizon(&self) -> crate::Horizon {
        self.watch.horizon()
    }

    /// Follows commits to the file by other processes (`PRAGMA
    /// data_version` on the writer's connection).
    pub(crate) fn watch(&self, heartbeat: Duration) {
        crate::watch::start_sqlite(&self.watch, &self.write, &self.changes, heartbeat);
    }

    /// Nothing to announce: other processes see the file change.
    pub(crate) async fn announce_change(
        &self,
        _tx: &mut sqlx::Transaction<'_, Db>,
        _touched: &[crate::Entity<'_>],
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Numbers are taken in the creating transaction: writes take turns.
    pub(crate) fn numbers(&self) -> Option<&sqlx::Pool<Db>> {
        None
    }

    /// The writer's turn for one write (writers queue in arrival order).
    pub(crate) async fn writer(&self) -> Result<Slot<'_>, sqlx::Error> {
        Ok(Slot {
            state: self.write.state.lock().await,
            writer: self.write.clone(),
            joined: false,
        })
    }
}

// The shared SQL, compiled here against this engine's `Db`, `LOCK` and
// `SqlStore`; the other engine compiles the same files, on purpose (hence
// the allow, which covers the files `sql/mod.rs` declares too).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::Arc;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use sqlx::Connection;

    use super::{Slot, Writer};

    async fn turn(writer: &Arc<Writer>) -> Slot<'_> {
        Slot {
            state: writer.state.lock().await,
            writer: writer.clone(),
            joined: false,
        }
    }

    /// One write of a value in its turn: its savepoint, its insert, its
    /// release.
    async fn write(slot: &mut Slot<'_>, value: i64) {
        let mut tx = slot.begin().await.expect("savepoint");
        sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind(value)
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("release");
    }

    /// A write cancelled inside its savepoint's `begin` leaves a savepoint
    /// no `Transaction` owns (made here by forgetting one), between a
    /// write that joined the epoch and one that joins after it: the
    /// epoch's commit still commits both, as another connection sees.
    #[tokio::test]
    async fn an_epoch_commits_past_a_savepoint_a_cancelled_write_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteConnectOptions::from_str(&format!(
            "sqlite:{}",
            dir.path().join("writer.db").display()
        ))
        .expect("options")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE t (v INTEGER NOT NULL)")
            .execute(&pool)
            .await
            .expect("table");
        let writer = Arc::new(Writer::new(pool));

        // Joins the epoch, as `finish` does, without asking for its commit.
        let mut first = turn(&writer).await;
        write(&mut first, 1).await;
        first.joined = true;
        first.state.joined += 1;
        drop(first);

        let mut cancelled = turn(&writer).await;
        let orphan = cancelled.begin().await.expect("savepoint");
        std::mem::forget(orphan);
        drop(cancelled);

        let mut last = turn(&writer).await;
        write(&mut last, 2).await;
        last.finish().await.expect("the epoch commits");

        let mut other = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("another connection");
        let committed: Vec<i64> = sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(&mut other)
            .await
            .expect("read");
        assert_eq!(committed, [1, 2], "both acknowledged writes are committed");
    }
}
