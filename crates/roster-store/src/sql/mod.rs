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

use super::{Db, Slot, SqlStore, LOCK};
use crate::{Result, StoreError};

mod accounts;
mod audit;
mod check;
mod contacts;
mod credentials;
mod hierarchy;
mod housekeeping;
mod page;
mod records;
mod tenants;
mod user_rows;
mod users;

type Conn = <Db as sqlx::Database>::Connection;

impl SqlStore {
    /// After the write's transaction committed: waits until it is durable
    /// (see the engine's `Slot::finish`), then counts it as a change that a
    /// cached credential or check fact may depend on (users and their
    /// roles, stores, companies, tenants, API keys, sessions), so the
    /// application's cache drops what it read before (see
    /// [`crate::CheckStore::changes`]). Such a write also calls
    /// `announce_change` on its transaction before committing it, which
    /// tells other processes on PostgreSQL (see [`crate::watch`]).
    async fn finish_change(&self, slot: Slot<'_>) -> Result<()> {
        slot.finish().await?;
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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

/// Takes the next per-tenant number of a kind (`store`, `company`, `user`).
/// The row lock this takes on PostgreSQL serialises creations in a tenant.
async fn next_number(conn: &mut Conn, tenant: &str, kind: &str) -> Result<i64> {
    let column = match kind {
        "store" => "next_store_number",
        "company" => "next_company_number",
        _ => "next_user_number",
    };
    let sql =
        format!("UPDATE tenants SET {column} = {column} + 1 WHERE uid = $1 RETURNING {column} - 1");
    sqlx::query_scalar::<_, i64>(&sql)
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("tenant"))
}

async fn lock_tenant(conn: &mut Conn, tenant: &str) -> Result<()> {
    let sql = format!("SELECT uid FROM tenants WHERE uid = $1{LOCK}");
    sqlx::query(&sql)
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
