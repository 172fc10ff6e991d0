//! Other processes' changes, so an application cache can keep what it read
//! for as long as nothing changed anywhere, not merely for as long as a
//! staleness bound allows.
//!
//! **SQLite**: one process normally owns the file, but nothing stops a
//! second one (an import, a second server by mistake). Every `heartbeat`
//! the watcher reads `PRAGMA data_version` on the writer's connection,
//! which moves whenever another connection committed; a move touches
//! everything, and
//! the moment of the read is the [`crate::Horizon`].
//!
//! **PostgreSQL**, pushed with `LISTEN/NOTIFY`:
//! Every write that a cached credential or check fact may depend on sends
//! `NOTIFY roster_changes, 'change <instance>\n<entity>\n…'` inside its
//! transaction, so the notification goes out exactly when the change
//! commits; each line after the first names what it touched
//! ([`crate::Entity`]). Each process listens on one connection of its own
//! and records every other instance's notification entity by entity
//! ([`crate::CheckStore::changes`]); one it cannot read, or one naming
//! nothing (an older version's), touches everything.
//!
//! How far behind a process may be is measured, not assumed: every
//! `heartbeat` it notifies itself (`'beat <instance> <sent>'`). PostgreSQL
//! delivers notifications in commit order, so once a beat sent at `t` is
//! heard back, every change committed before `t` has been recorded: that `t`
//! is the [`crate::Horizon`]. A lost connection stops the beats, so the
//! horizon ages and a cache stops trusting itself; on reconnecting the
//! watcher records a change of everything (whatever was missed meanwhile
//! is unknown) and trusts only beats sent after that.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool};
use uuid::Uuid;

use crate::{Changes, Entity, Horizon};

/// The channel every Roster process on a database listens on.
const CHANNEL: &str = "roster_changes";

/// The `application_name` of each process's listening connection.
pub const LISTENER: &str = "roster-listener";

/// The `application_name` of the connection each process sends its beats on.
pub const HEARTBEAT: &str = "roster-heartbeat";

/// The longest payload PostgreSQL takes is 8000 bytes; a change naming
/// more than fits is announced as touching everything.
const PAYLOAD: usize = 7900;

/// How long to wait before trying again after the database refused.
const RETRY: Duration = Duration::from_millis(250);

/// One process's view of the push channel.
pub(crate) struct Watch {
    /// Tells this process's notifications from the others'.
    instance: String,
    /// Beats are stamped in nanoseconds since this moment.
    base: Instant,
    /// The sending time of the last trusted beat heard back, plus one
    /// (zero: none yet).
    heard: AtomicU64,
    /// Beats sent before this are not trusted (set on each reconnection).
    trusted_from: AtomicU64,
    started: AtomicBool,
    /// Asks for a beat now (after reconnecting), not at the next tick.
    beat_now: tokio::sync::Notify,
}

impl Default for Watch {
    fn default() -> Watch {
        Watch {
            instance: Uuid::new_v4().simple().to_string(),
            base: Instant::now(),
            heard: AtomicU64::new(0),
            trusted_from: AtomicU64::new(0),
            started: AtomicBool::new(false),
            beat_now: tokio::sync::Notify::new(),
        }
    }
}

impl Watch {
    pub(crate) fn horizon(&self) -> Horizon {
        match self.heard.load(Ordering::SeqCst) {
            0 => Horizon::Unknown,
            heard => Horizon::Since(self.base + Duration::from_nanos(heard - 1)),
        }
    }

    /// The notification of a change to `touched`: `(channel, payload)`.
    fn notification(&self, touched: &[Entity<'_>]) -> (&'static str, String) {
        let mut payload = format!("change {}", self.instance);
        for entity in touched {
            payload.push('\n');
            payload.push_str(&entity.line());
        }
        if payload.len() > PAYLOAD {
            payload = format!("change {}\n{}", self.instance, Entity::Everything.line());
        }
        (CHANNEL, payload)
    }

    pub(crate) async fn announce(
        &self,
        conn: &mut sqlx::PgConnection,
        touched: &[Entity<'_>],
    ) -> Result<(), sqlx::Error> {
        let (channel, payload) = self.notification(touched);
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(conn)
            .await
            .map(|_| ())
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// What one notification means for this process.
    fn hear(&self, payload: &str, changes: &Changes) {
        let mut lines = payload.split('\n');
        let mut words = lines.next().unwrap_or_default().split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("change"), Some(instance), None) if instance != self.instance => {
                let touched: Option<Vec<Entity<'_>>> = lines.map(Entity::parse).collect();
                match touched {
                    Some(touched) if !touched.is_empty() => changes.record(touched),
                    _ => changes.record([Entity::Everything]),
                }
            }
            (Some("beat"), Some(instance), Some(sent)) if instance == self.instance => {
                if let Ok(sent) = sent.parse::<u64>() {
                    if sent >= self.trusted_from.load(Ordering::SeqCst) {
                        self.heard.fetch_max(sent + 1, Ordering::SeqCst);
                    }
                }
            }
            _ => {}
        }
    }

    /// After the push connection was (re)established: anything may have
    /// changed while it was down, and only later beats prove it is back.
    fn resynchronise(&self, changes: &Changes) {
        self.trusted_from
            .store(self.elapsed_nanos(), Ordering::SeqCst);
        changes.record([Entity::Everything]);
    }
}

/// Starts the watcher once; it ends when `watch`'s store is dropped.
pub(crate) fn start(
    watch: &Arc<Watch>,
    pool: &PgPool,
    changes: &Arc<Changes>,
    heartbeat: Duration,
) {
    if watch.started.swap(true, Ordering::SeqCst) {
        return;
    }
    let heartbeat = heartbeat.max(Duration::from_millis(5));
    // The listener holds its connection for good, and the beats must not
    // queue behind requests for the store's connections (a busy pool would
    // make the push look late and turn the cache off when it helps most):
    // one connection of their own each, named for `pg_stat_activity`.
    let own = |name: &str| {
        let options = pool
            .connect_options()
            .as_ref()
            .clone()
            .application_name(name);
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options)
    };
    tokio::spawn(listen(
        Arc::downgrade(watch),
        own(LISTENER),
        Arc::downgrade(changes),
    ));
    tokio::spawn(beat(Arc::downgrade(watch), own(HEARTBEAT), heartbeat));
}

/// Listens until the store is gone, reconnecting after a loss.
async fn listen(watch: Weak<Watch>, pool: PgPool, changes: Weak<Changes>) {
    'connect: loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                if watch.strong_count() == 0 {
                    return;
                }
                tracing::warn!(error = %e, "cannot listen for other processes' changes; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let (Some(w), Some(c)) = (watch.upgrade(), changes.upgrade()) else {
            return;
        };
        w.resynchronise(&c);
        w.beat_now.notify_one();
        drop((w, c));
        loop {
            // Wakes at least once a second to notice a dropped store.
            let next = tokio::time::timeout(Duration::from_secs(1), listener.try_recv()).await;
            let (Some(w), Some(c)) = (watch.upgrade(), changes.upgrade()) else {
                return;
            };
            match next {
                Err(_elapsed) => {}
                Ok(Ok(Some(notification))) => w.hear(notification.payload(), &c),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    tracing::warn!(
                        "lost the connection that hears other processes' changes; reconnecting"
                    );
                    continue 'connect;
                }
            }
        }
    }
}

/// Starts the SQLite watcher once; it ends when `watch`'s store is dropped.
pub(crate) fn start_sqlite(
    watch: &Arc<Watch>,
    writer: &Arc<crate::sqlite::Writer>,
    changes: &Arc<Changes>,
    heartbeat: Duration,
) {
    if watch.started.swap(true, Ordering::SeqCst) {
        return;
    }
    let heartbeat = heartbeat.max(Duration::from_millis(5));
    tokio::spawn(poll(
        Arc::downgrade(watch),
        Arc::downgrade(writer),
        Arc::downgrade(changes),
        heartbeat,
    ));
}

/// Reads `data_version` on the writer's connection every `heartbeat`
/// until the store is gone: it moves only when another connection, so
/// another process, committed to the file (this process's own writes go
/// through that very connection and are recorded entity by entity).
async fn poll(
    watch: Weak<Watch>,
    writer: Weak<crate::sqlite::Writer>,
    changes: Weak<Changes>,
    heartbeat: Duration,
) {
    let mut ticks = tokio::time::interval(heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<i64> = None;
    loop {
        ticks.tick().await;
        let (Some(w), Some(c), Some(writer)) =
            (watch.upgrade(), changes.upgrade(), writer.upgrade())
        else {
            return;
        };
        let sent = w.elapsed_nanos();
        match writer.data_version().await {
            Ok(version) => {
                match seen {
                    None => w.resynchronise(&c),
                    Some(before) if before != version => c.record([Entity::Everything]),
                    Some(_) => {}
                }
                seen = Some(version);
                w.heard.fetch_max(sent + 1, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the database file");
                seen = None;
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends a beat every `heartbeat` until the store is gone.
async fn beat(watch: Weak<Watch>, pool: PgPool, heartbeat: Duration) {
    let mut ticks = tokio::time::interval(heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(w) = watch.upgrade() else { return };
        tokio::select! {
            _ = ticks.tick() => {}
            _ = w.beat_now.notified() => {}
        }
        let payload = format!("beat {} {}", w.instance, w.elapsed_nanos());
        drop(w);
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "a heartbeat could not be sent");
        }
    }
}
