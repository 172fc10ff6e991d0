//! Storage side of the company hierarchy rule: read the facts, lock what
//! must not change meanwhile, and let `roster_core::rules::hierarchy` decide.

use roster_core::rules::hierarchy::{self, HierarchyError, ParentFacts, MAX_DEPTH};
use uuid::Uuid;

use super::{invalid, opt_uuid, uuid, Conn, LOCK};
use crate::{Result, StoreError};

/// The proposed parent (depth 0) and its ancestors, up to `$3` links up: one
/// bounded query, so even a corrupt hierarchy cannot make it loop.
const CHAIN: &str = "WITH RECURSIVE chain (id, parent_id, company_id, depth) AS ( \
        SELECT id, parent_id, company_id, 0 FROM users WHERE tenant_id = $1 AND id = $2 \
      UNION ALL \
        SELECT u.id, u.parent_id, u.company_id, chain.depth + 1 \
        FROM chain JOIN users u ON u.tenant_id = $1 AND u.id = chain.parent_id \
        WHERE chain.depth < $3 \
    ) \
    SELECT id, company_id FROM chain ORDER BY depth";

/// Checks `parent` as the parent of user `id` in `company`.
///
/// When the parent or company changes (`moved`), the company's row is locked
/// first (the engine's `LOCK`: a row lock on PostgreSQL, nothing on SQLite
/// whose writes are serial anyway), so parent changes within a company run
/// one at a time and each sees the ones committed before it; two opposite
/// moves can then never both pass. The parent and its ancestors are read
/// after the lock.
pub(super) async fn check_parent(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    company: Option<Uuid>,
    parent: Uuid,
    moved: bool,
) -> Result<()> {
    if parent == id {
        return Err(refused(HierarchyError::OwnParent));
    }
    if let (true, Some(company)) = (moved, company) {
        lock_company(conn, tenant, company).await?;
    }
    // An unchanged parent needs no walk: its chain was checked when set.
    let depth = if moved { MAX_DEPTH as i64 } else { 0 };
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(CHAIN)
        .bind(tenant)
        .bind(parent.to_string())
        .bind(depth)
        .fetch_all(&mut *conn)
        .await?;
    let mut chain = rows.into_iter();
    let Some((_, parent_company)) = chain.next() else {
        return Err(StoreError::NotFound("parent user"));
    };
    let facts = ParentFacts {
        id: parent,
        company: opt_uuid(parent_company)?,
    };
    let ancestors = chain.map(|(a, _)| uuid(&a)).collect::<Result<Vec<_>>>()?;
    hierarchy::check_parent(id, company, &facts, &ancestors).map_err(refused)
}

/// Takes the company's row lock (see [`check_parent`]).
async fn lock_company(conn: &mut Conn, tenant: &str, company: Uuid) -> Result<()> {
    let sql = format!("SELECT id FROM companies WHERE tenant_id = $1 AND id = $2{LOCK}");
    sqlx::query(&sql)
        .bind(tenant)
        .bind(company.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound("company"))
}

fn refused(err: HierarchyError) -> StoreError {
    invalid("parent_id", &err.to_string())
}
