//! The audit log: the append every change makes, and [`AuditStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, AuditEvent};

use super::page::{fetch_page, paged, PageKey};
use super::{now, Conn, SqlStore};
use crate::{AuditStore, Listed, Page, Result};

pub(super) async fn audit(
    conn: &mut Conn,
    tenant: &str,
    actor: &Actor,
    action: &str,
    target: &str,
    summary: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (tenant_id, actor, action, target, summary, at) VALUES ($1, $2, $3, \
         $4, $5, $6)",
    )
    .bind(tenant)
    .bind(actor.to_string())
    .bind(action)
    .bind(target)
    .bind(summary)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) id: i64,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) target: String,
    pub(super) summary: String,
    pub(super) at: DateTime<Utc>,
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>> {
        let select = "SELECT id, actor, action, target, summary, at FROM events";
        let rows: Vec<EventRow> =
            fetch_page(&self.read, select, PageKey::Integer("id"), tenant, page).await?;
        let events = rows
            .into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                summary: r.summary,
                at: r.at,
            })
            .collect();
        Ok(paged(events, page, |e: &AuditEvent| e.id.to_string()))
    }
}
