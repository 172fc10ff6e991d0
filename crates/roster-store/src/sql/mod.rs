//! The store's SQL, written once and compiled once per engine: `sqlite.rs`
//! and `postgres.rs` each define `Db`, `LOCK` and `SqlStore` (the dialect
//! seam) and declare `#[path = "sql/mod.rs"] mod sql;`, so this module tree
//! sees them as `super::`. Compiled per engine rather than written generic
//! because sqlx's bounds over `Database` would have to be spelled out on
//! every function for every column type; the SQL itself is the same for both
//! engines (both take `$n` placeholders, `RETURNING`, `ON CONFLICT`, partial
//! indexes and recursive CTEs). One file per aggregate, each implementing
//! its capability trait for `SqlStore`.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::{
    Db, Slot, SqlStore, ANALYZE_USERS, JSON_AGG, JSON_ARRAY, JSON_TEXT, LOCK,
    ONE_STATEMENT_CREATIONS, RELAXED_COMMIT, SKIP_LOCKED, STORE_ROLES_RECHECK, TENANT_TURN,
};
use crate::{Entity, Result, StoreError};

mod accounts;
mod audit;
mod check;
mod console;
mod contacts;
mod credentials;
mod events;
mod groups;
mod hierarchy;
mod housekeeping;
mod import_writes;
mod imports;
mod page;
mod records;
mod scim_tokens;
mod tenants;
mod user_batch;
mod user_inserts;
mod user_list;
mod user_query;
mod user_rows;
mod users;

pub(crate) use user_batch::BATCH;

type Conn = <Db as sqlx::Database>::Connection;

impl SqlStore {
    /// After the write's transaction committed: waits until it is durable
    /// (see the engine's `Slot::finish`), then records what it touched
    /// that a cached credential or check fact may depend on (see
    /// [`crate::Changes`]), so the application's cache drops what it read
    /// of those before. Such a write also calls `announce_change` with the
    /// same entities on its transaction before committing it, which tells
    /// other processes on PostgreSQL (see [`crate::watch`]).
    async fn finish_change(&self, slot: Slot<'_>, touched: &[Entity<'_>]) -> Result<()> {
        slot.finish().await?;
        self.changes.record(touched.iter().copied());
        Ok(())
    }
}

/// Timestamps are kept to the millisecond, the precision every surface shows.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("unexpected {what} in the database: {value:?}").into(),
    ))
}

fn uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("id", text))
}

fn opt_uuid(text: Option<String>) -> Result<Option<Uuid>> {
    text.as_deref().map(uuid).transpose()
}

fn word<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(text).ok_or_else(|| corrupt("value", text))
}

fn invalid(field: &str, message: &str) -> StoreError {
    StoreError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl SqlStore {
    /// Takes the next per-tenant number of a kind (`store`, `company`,
    /// `user`) for a creation in `conn`'s transaction.
    ///
    /// Where the engine has a numbering connection (PostgreSQL, see
    /// `numbers`), the number is taken there in a statement of its own
    /// that commits at once, so concurrent creations in a tenant wait on
    /// each other only for that statement, not for each other's whole
    /// transaction and commit; a creation that then fails leaves its
    /// number unused (a gap). On SQLite, whose writes take turns anyway, it
    /// is taken in the creating transaction: no gaps.
    async fn next_number(&self, conn: &mut Conn, tenant: &str, kind: &str) -> Result<i64> {
        self.next_numbers(conn, tenant, kind, 1).await
    }

    /// Takes `count` consecutive numbers of a kind at once (an import's
    /// batch), as [`Self::next_number`] takes one; the first.
    async fn next_numbers(
        &self,
        conn: &mut Conn,
        tenant: &str,
        kind: &str,
        count: i64,
    ) -> Result<i64> {
        let column = match kind {
            "store" => "next_store_number",
            "company" => "next_company_number",
            _ => "next_user_number",
        };
        let sql = format!(
            "UPDATE tenants SET {column} = {column} + $2 WHERE uid = $1 RETURNING {column} - $2"
        );
        let query = sqlx::query_scalar::<_, i64>(&sql).bind(tenant).bind(count);
        let number = match self.numbers() {
            Some(numbers) => query.fetch_optional(numbers).await?,
            None => query.fetch_optional(&mut *conn).await?,
        };
        number.ok_or(StoreError::NotFound("tenant"))
    }
}

/// Serialises a kind of write within `tenant` (invitations, upserts) until
/// the transaction ends, and checks that the tenant exists. The engine's
/// `TENANT_TURN` takes the turn (PostgreSQL: a transaction-scoped advisory
/// lock, not the tenant row, whose numbers are taken on another
/// connection meanwhile); SQLite's writes take turns already.
async fn lock_tenant(conn: &mut Conn, tenant: &str) -> Result<()> {
    if let Some(turn) = TENANT_TURN {
        sqlx::query(turn).bind(tenant).execute(&mut *conn).await?;
    }
    sqlx::query("SELECT uid FROM tenants WHERE uid = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound("tenant"))
}

async fn exists(conn: &mut Conn, sql: &str, tenant: &str, id: &str) -> Result<bool> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}
