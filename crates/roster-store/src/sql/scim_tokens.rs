//! Companies' SCIM tokens: [`ScimTokenStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, ScimToken};
use uuid::Uuid;

use super::audit::audit;
use super::{exists, now, uuid, SqlStore};
use crate::{Result, ScimTokenStore, StoreError};

#[derive(sqlx::FromRow)]
struct TokenRow {
    tenant_id: String,
    id: String,
    company_id: String,
    created_at: DateTime<Utc>,
}

impl TokenRow {
    fn token(&self) -> Result<ScimToken> {
        Ok(ScimToken {
            id: uuid(&self.id)?,
            company_id: uuid(&self.company_id)?,
            created_at: self.created_at,
        })
    }
}

const COLUMNS: &str = "tenant_id, id, company_id, created_at";

#[async_trait]
impl ScimTokenStore for SqlStore {
    async fn create_scim_token(
        &self,
        tenant: &str,
        company: Uuid,
        token_hash: &str,
        actor: &Actor,
    ) -> Result<ScimToken> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let sql = "SELECT 1 FROM companies WHERE tenant_id = $1 AND id = $2";
        if !exists(&mut tx, sql, tenant, &company.to_string()).await? {
            return Err(StoreError::NotFound("company"));
        }
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO scim_tokens (tenant_id, id, company_id, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(company.to_string())
        .bind(token_hash)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "scim_token.created",
            &format!("scim_token:{id}"),
            &format!("created a SCIM token of company {company}"),
        )
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(ScimToken {
            id,
            company_id: company,
            created_at: at,
        })
    }

    async fn list_scim_tokens(&self, tenant: &str, company: Uuid) -> Result<Vec<ScimToken>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scim_tokens WHERE tenant_id = $1 AND company_id = $2 ORDER BY id"
        );
        let rows: Vec<TokenRow> = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(company.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(TokenRow::token).collect()
    }

    async fn revoke_scim_token(
        &self,
        tenant: &str,
        company: Uuid,
        id: Uuid,
        actor: &Actor,
    ) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM scim_tokens WHERE tenant_id = $1 AND company_id = $2 AND id = $3",
        )
        .bind(tenant)
        .bind(company.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("SCIM token"));
        }
        audit(
            &mut tx,
            tenant,
            actor,
            "scim_token.deleted",
            &format!("scim_token:{id}"),
            "revoked",
        )
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn find_scim_token(&self, token_hash: &str) -> Result<Option<(String, ScimToken)>> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE token_hash = $1");
        let row: Option<TokenRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.tenant_id.clone(), r.token()?)))
            .transpose()
    }
}
