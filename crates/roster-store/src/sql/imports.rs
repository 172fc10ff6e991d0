//! Import jobs: [`ImportStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{now, uuid, word, Db, SqlStore};
use crate::{
    ImportCounts, ImportJob, ImportProblem, ImportStatus, ImportStore, Result, StoreError,
};

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: String,
    status: String,
    dry_run: bool,
    lines: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    rejected: i64,
    failure: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn create_import(&self, tenant: &str, id: Uuid, dry_run: bool) -> Result<ImportJob> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO imports (tenant_id, id, status, dry_run, lines, created, updated, \
             unchanged, rejected, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0, \
             $5, $5)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(ImportStatus::Running.as_str())
        .bind(dry_run)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        self.get_import(tenant, id, 0).await
    }

    async fn record_import(
        &self,
        tenant: &str,
        id: Uuid,
        counts: ImportCounts,
        problems: &[ImportProblem],
        finished: Option<std::result::Result<(), String>>,
    ) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let at = now();
        let (status, failure, finished_at) = match &finished {
            None => (ImportStatus::Running, None, None),
            Some(Ok(())) => (ImportStatus::Done, None, Some(at)),
            Some(Err(why)) => (ImportStatus::Failed, Some(why.clone()), Some(at)),
        };
        sqlx::query(
            "UPDATE imports SET status = $3, lines = $4, created = $5, updated = $6, \
             unchanged = $7, rejected = $8, failure = $9, updated_at = $10, finished_at = $11 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(counts.lines)
        .bind(counts.created)
        .bind(counts.updated)
        .bind(counts.unchanged)
        .bind(counts.rejected)
        .bind(failure)
        .bind(at)
        .bind(finished_at)
        .execute(&mut *tx)
        .await?;
        // Inserted in chunks: a bound parameter list has its limits.
        for chunk in problems.chunks(200) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO import_errors (tenant_id, import_id, line, field, reason) ",
            );
            q.push_values(chunk, |mut row, problem| {
                row.push_bind(tenant)
                    .push_bind(id.to_string())
                    .push_bind(problem.line)
                    .push_bind(problem.field.clone())
                    .push_bind(problem.reason.clone());
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn get_import(&self, tenant: &str, id: Uuid, problems: i64) -> Result<ImportJob> {
        let row: ImportRow = sqlx::query_as(
            "SELECT id, status, dry_run, lines, created, updated, unchanged, rejected, failure, \
             created_at, updated_at, finished_at FROM imports WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("import"))?;
        let listed: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT line, field, reason FROM import_errors WHERE tenant_id = $1 AND import_id = \
             $2 ORDER BY line LIMIT $3",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(problems)
        .fetch_all(&self.read)
        .await?;
        Ok(ImportJob {
            id: uuid(&row.id)?,
            status: word(&row.status, ImportStatus::parse)?,
            dry_run: row.dry_run,
            counts: ImportCounts {
                lines: row.lines,
                created: row.created,
                updated: row.updated,
                unchanged: row.unchanged,
                rejected: row.rejected,
            },
            failure: row.failure,
            problems: listed
                .into_iter()
                .map(|(line, field, reason)| ImportProblem {
                    line,
                    field,
                    reason,
                })
                .collect(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
        })
    }

    async fn interrupt_imports(&self, silent_since: DateTime<Utc>) -> Result<u64> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let at = now();
        let done = sqlx::query(
            "UPDATE imports SET status = $1, failure = $2, updated_at = $3, finished_at = $3 \
             WHERE status = $4 AND updated_at < $5",
        )
        .bind(ImportStatus::Failed.as_str())
        .bind("interrupted: the server stopped before the last line")
        .bind(at)
        .bind(ImportStatus::Running.as_str())
        .bind(silent_since)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        slot.finish().await?;
        Ok(done)
    }
}
