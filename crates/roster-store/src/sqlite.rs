//! SQLite: the embedded default, one file, no set-up.
//!
//! Durability: WAL with `synchronous=FULL` by default, so an acknowledged
//! write survives a crash of the process or of the machine. Writes go through
//! one connection, so transactions never race for SQLite's single write lock
//! (no `SQLITE_BUSY` upgrades), and concurrent writes share one commit
//! ([`Writer`]: group commit); reads use their own pool and run alongside.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Sqlite;

/// SQLite serialises writers, so rows need no lock of their own.
const LOCK: &str = "";

/// The store on SQLite.
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: std::sync::Arc<Writer>,
    /// Cache-relevant changes committed by this store (see `finish_change`)
    /// and, once watched, by other processes (see [`crate::watch`]).
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Following other processes' commits to the same file.
    watch: std::sync::Arc<crate::watch::Watch>,
    /// How to open a connection of the watcher's own.
    watch_options: SqliteConnectOptions,
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
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read_only = connect.read_only(true);
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(read_only.clone())
            .await?;
        Ok(SqlStore {
            read,
            write: std::sync::Arc::new(Writer::new(write)),
            changes: Default::default(),
            watch: Default::default(),
            watch_options: read_only,
        })
    }
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
    /// Recent epochs whose commit failed, with the error, for their writers.
    failed: std::collections::VecDeque<(u64, String)>,
}

/// A write's turn on the writer, holding the lock until it finishes.
pub(crate) struct Slot<'a> {
    state: tokio::sync::MutexGuard<'a, WriterState>,
    writer: std::sync::Arc<Writer>,
}

impl Writer {
    fn new(pool: sqlx::Pool<Db>) -> Writer {
        Writer {
            pool,
            state: tokio::sync::Mutex::new(WriterState {
                open: None,
                epoch: 0,
                failed: Default::default(),
            }),
        }
    }

    /// Commits `epoch` unless a writer of it already did; its outcome.
    async fn flush(&self, epoch: u64) -> Result<(), sqlx::Error> {
        let mut state = self.state.lock().await;
        if state.epoch == epoch {
            let outcome = match state.open.take() {
                Some(tx) => tx.commit().await,
                None => Ok(()),
            };
            state.epoch += 1;
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

impl Slot<'_> {
    /// Starts the write: a savepoint in the epoch's transaction.
    pub(crate) async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
        if self.state.open.is_none() {
            self.state.open = Some(self.writer.pool.begin().await?);
        }
        let open = self.state.open.as_mut().expect("begun above");
        sqlx::Connection::begin(&mut **open).await
    }

    /// After the savepoint was released: gives the next writer its turn and
    /// waits until the epoch is committed. The commit runs on its own task,
    /// so a caller that stops waiting (a timeout) cannot leave the epoch
    /// uncommitted.
    pub(crate) async fn finish(self) -> Result<(), sqlx::Error> {
        let epoch = self.state.epoch;
        let writer = self.writer.clone();
        drop(self.state);
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
    /// data_version`), on a connection of its own.
    pub(crate) fn watch(&self, heartbeat: Duration) {
        crate::watch::start_sqlite(&self.watch, &self.watch_options, &self.changes, heartbeat);
    }

    /// Nothing to announce: other processes see the file change.
    pub(crate) async fn announce_change(
        &self,
        _tx: &mut sqlx::Transaction<'_, Db>,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// The writer's turn for one write (writers queue in arrival order).
    pub(crate) async fn writer(&self) -> Result<Slot<'_>, sqlx::Error> {
        Ok(Slot {
            state: self.write.state.lock().await,
            writer: self.write.clone(),
        })
    }
}

// The shared SQL, compiled here against this engine's `Db`, `LOCK` and
// `SqlStore`; the other engine compiles the same files, on purpose (hence
// the allow, which covers the files `sql/mod.rs` declares too).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
