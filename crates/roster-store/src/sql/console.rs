//! Console sign-ins and a user's live sessions: [`ConsoleStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::Session;
use uuid::Uuid;

use super::credentials::SessionRow;
use super::{uuid, SqlStore};
use crate::{ConsoleSession, ConsoleSignIn, ConsoleStore, Result, StoreError};

#[derive(sqlx::FromRow)]
struct ConsoleRow {
    session_id: Option<String>,
    admin_hash: Option<String>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

impl TryFrom<ConsoleRow> for ConsoleSession {
    type Error = StoreError;
    fn try_from(r: ConsoleRow) -> Result<Self> {
        let who = match (r.session_id, r.admin_hash) {
            (Some(session), None) => ConsoleSignIn::User {
                session: uuid(&session)?,
            },
            (None, Some(admin_hash)) => ConsoleSignIn::Operator { admin_hash },
            _ => return Err(super::corrupt("console session", "both kinds or none")),
        };
        Ok(ConsoleSession {
            who,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
        })
    }
}

impl SqlStore {
    /// Runs one statement as a write of its own; the rows it changed.
    async fn console_write<'q>(
        &self,
        query: sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>>,
    ) -> Result<u64> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = query.execute(&mut *tx).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl ConsoleStore for SqlStore {
    async fn create_console_session(
        &self,
        token_hash: &str,
        session: &ConsoleSession,
    ) -> Result<()> {
        let (session_id, admin_hash) = match &session.who {
            ConsoleSignIn::User { session } => (Some(session.to_string()), None),
            ConsoleSignIn::Operator { admin_hash } => (None, Some(admin_hash.clone())),
        };
        let query = sqlx::query(
            "INSERT INTO console_sessions (token_hash, session_id, admin_hash, created_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash.to_string())
        .bind(session_id)
        .bind(admin_hash)
        .bind(session.created_at)
        .bind(session.last_seen_at);
        self.console_write(query).await?;
        Ok(())
    }

    async fn find_console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>> {
        let row: Option<ConsoleRow> = sqlx::query_as(
            "SELECT session_id, admin_hash, created_at, last_seen_at FROM console_sessions \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(ConsoleSession::try_from).transpose()
    }

    async fn touch_console_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<()> {
        let query =
            sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(token_hash.to_string())
                .bind(at);
        self.console_write(query).await?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &str) -> Result<()> {
        let query = sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash.to_string());
        self.console_write(query).await?;
        Ok(())
    }

    async fn purge_console_sessions(&self, idle_before: DateTime<Utc>) -> Result<u64> {
        let query =
            sqlx::query("DELETE FROM console_sessions WHERE last_seen_at < $1").bind(idle_before);
        self.console_write(query).await
    }

    async fn live_sessions_of(
        &self,
        tenant: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, kind, tenant_id, user_id, account_id, device_id, created_at, expires_at, \
             revoked_at FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS \
             NULL AND expires_at > $3 ORDER BY created_at DESC, id DESC LIMIT 500",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Session::try_from).collect()
    }
}
