//! Tenants, their stores and companies, per-tenant numbering: [`TenantStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, Company, CompanyKind, CompanyStatus, Store as StoreRecord, Tenant};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::page::{fetch_page, paged, PageKey};
use super::{exists, now, uuid, word, Conn, Db, SqlStore, LOCK};
use crate::{
    CompanyPatch, Entity, Listed, NewCompany, NewStore, NewTenant, Page, Result, StoreError,
    StorePatch, TenantStore,
};

// ---------------------------------------------------------------- tenants

#[derive(sqlx::FromRow)]
pub(super) struct TenantRow {
    pub(super) uid: String,
    pub(super) name: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            uid: r.uid,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(super) const TENANT_COLUMNS: &str = "uid, name, created_at, updated_at";

pub(super) async fn fetch_tenant(conn: &mut Conn, uid: &str) -> Result<Tenant> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE uid = $1");
    sqlx::query_as::<_, TenantRow>(&sql)
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await?
        .map(Tenant::from)
        .ok_or(StoreError::NotFound("tenant"))
}

// ---------------------------------------------------------------- stores

#[derive(sqlx::FromRow)]
pub(super) struct StoreRow {
    pub(super) id: String,
    pub(super) number: i64,
    pub(super) code: String,
    pub(super) name: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl From<StoreRow> for StoreRecord {
    fn from(r: StoreRow) -> Self {
        StoreRecord {
            id: r.id,
            number: r.number,
            code: r.code,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(super) const STORE_COLUMNS: &str = "id, number, code, name, created_at, updated_at";

pub(super) async fn fetch_store(
    conn: &mut Conn,
    tenant: &str,
    column: &str,
    value: &str,
) -> Result<StoreRecord> {
    let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND {column} = $2");
    sqlx::query_as::<_, StoreRow>(&sql)
        .bind(tenant)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
        .map(StoreRecord::from)
        .ok_or(StoreError::NotFound("store"))
}

// ---------------------------------------------------------------- companies

#[derive(sqlx::FromRow)]
pub(super) struct CompanyRow {
    pub(super) id: String,
    pub(super) number: i64,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) external_id: Option<String>,
    pub(super) status: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<CompanyRow> for Company {
    type Error = StoreError;
    fn try_from(r: CompanyRow) -> Result<Self> {
        Ok(Company {
            id: uuid(&r.id)?,
            number: r.number,
            kind: word(&r.kind, CompanyKind::parse)?,
            name: r.name,
            external_id: r.external_id,
            status: word(&r.status, CompanyStatus::parse)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(super) const COMPANY_COLUMNS: &str =
    "id, number, kind, name, external_id, status, created_at, updated_at";

pub(super) async fn fetch_company(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<Company> {
    let sql =
        format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id = $2{LOCK}");
    sqlx::query_as::<_, CompanyRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("company"))?
        .try_into()
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_tenant(&self, new: NewTenant, actor: &Actor) -> Result<Tenant> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO tenants (uid, name, created_at, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&new.uid)
        .bind(&new.name)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &new.uid,
            actor,
            "tenant.created",
            &format!("tenant:{}", new.uid),
            &new.name,
        )
        .await?;
        let tenant = fetch_tenant(&mut tx, &new.uid).await?;
        let touched = [Entity::Tenant(&new.uid)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(tenant)
    }

    async fn get_tenant(&self, uid: &str) -> Result<Tenant> {
        let mut conn = self.read.acquire().await?;
        fetch_tenant(&mut conn, uid).await
    }

    async fn list_tenants(&self, page: &Page) -> Result<Listed<Tenant>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {TENANT_COLUMNS} FROM tenants"));
        if let Some(after) = &page.after {
            q.push(" WHERE uid > ").push_bind(after.clone());
        }
        q.push(" ORDER BY uid LIMIT ").push_bind(page.limit + 1);
        let rows: Vec<TenantRow> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(paged(
            rows.into_iter().map(Tenant::from).collect(),
            page,
            |t: &Tenant| t.uid.clone(),
        ))
    }

    async fn rename_tenant(&self, uid: &str, name: &str, actor: &Actor) -> Result<Tenant> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_tenant(&mut tx, uid).await?;
        // A rename to the current name changes nothing, so writes nothing.
        if current.name == name {
            return Ok(current);
        }
        sqlx::query("UPDATE tenants SET name = $2, updated_at = $3 WHERE uid = $1")
            .bind(uid)
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            uid,
            actor,
            "tenant.updated",
            &format!("tenant:{uid}"),
            &format!("renamed to {name}"),
        )
        .await?;
        let tenant = fetch_tenant(&mut tx, uid).await?;
        let touched = [Entity::Tenant(uid)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(tenant)
    }

    async fn delete_tenant(&self, uid: &str) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query("DELETE FROM tenants WHERE uid = $1")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        let touched = [Entity::Tenant(uid)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn create_store(
        &self,
        tenant: &str,
        new: NewStore,
        actor: &Actor,
    ) -> Result<StoreRecord> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let number = self.next_number(&mut tx, tenant, "store").await?;
        let at = now();
        sqlx::query(
            "INSERT INTO stores (tenant_id, id, number, code, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(&new.id)
        .bind(number)
        .bind(&new.code)
        .bind(&new.name)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "store.created",
            &format!("store:{}", new.id),
            &format!("code {}", new.code),
        )
        .await?;
        let store = fetch_store(&mut tx, tenant, "id", &new.id).await?;
        let touched = [Entity::Tenant(tenant)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(store)
    }

    async fn get_store(&self, tenant: &str, id: &str) -> Result<StoreRecord> {
        let mut conn = self.read.acquire().await?;
        fetch_store(&mut conn, tenant, "id", id).await
    }

    async fn get_store_by_code(&self, tenant: &str, code: &str) -> Result<StoreRecord> {
        let mut conn = self.read.acquire().await?;
        fetch_store(&mut conn, tenant, "code", code).await
    }

    async fn list_stores(&self, tenant: &str, page: &Page) -> Result<Listed<StoreRecord>> {
        let select = format!("SELECT {STORE_COLUMNS} FROM stores");
        let rows: Vec<StoreRow> = fetch_page(
            &self.read,
            &select,
            PageKey::Integer("number"),
            tenant,
            page,
        )
        .await?;
        Ok(paged(
            rows.into_iter().map(StoreRecord::from).collect(),
            page,
            |s: &StoreRecord| s.number.to_string(),
        ))
    }

    async fn update_store(
        &self,
        tenant: &str,
        id: &str,
        patch: StorePatch,
        actor: &Actor,
    ) -> Result<StoreRecord> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_store(&mut tx, tenant, "id", id).await?;
        let code = patch.code.unwrap_or_else(|| current.code.clone());
        let name = patch.name.unwrap_or_else(|| current.name.clone());
        // A patch that changes nothing writes nothing.
        if (&code, &name) == (&current.code, &current.name) {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE stores SET code = $3, name = $4, updated_at = $5 WHERE tenant_id = $1 \
                     AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(&code)
        .bind(&name)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "store.updated",
            &format!("store:{id}"),
            "updated",
        )
        .await?;
        let store = fetch_store(&mut tx, tenant, "id", id).await?;
        let touched = [Entity::Store(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(store)
    }

    async fn delete_store(&self, tenant: &str, id: &str, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        fetch_store(&mut tx, tenant, "id", id).await?;
        sqlx::query("UPDATE devices SET store_id = NULL WHERE tenant_id = $1 AND store_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET default_store_id = NULL WHERE tenant_id = $1 AND \
                     default_store_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM role_assignments WHERE tenant_id = $1 AND scope_kind = 'store' \
                     AND scope_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM stores WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "store.deleted",
            &format!("store:{id}"),
            "deleted",
        )
        .await?;
        let touched = [Entity::Tenant(tenant)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn create_company(
        &self,
        tenant: &str,
        new: NewCompany,
        actor: &Actor,
    ) -> Result<Company> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let number = self.next_number(&mut tx, tenant, "company").await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO companies (tenant_id, id, number, kind, name, external_id, status, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(number)
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(&new.external_id)
        .bind(new.status.as_str())
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "company.created",
            &format!("company:{id}"),
            &format!("created company #{number}"),
        )
        .await?;
        let company = fetch_company(&mut tx, tenant, id).await?;
        let touched = [Entity::Tenant(tenant)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(company)
    }

    async fn get_company(&self, tenant: &str, id: Uuid) -> Result<Company> {
        let mut conn = self.read.acquire().await?;
        let sql =
            format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id = $2");
        sqlx::query_as::<_, CompanyRow>(&sql)
            .bind(tenant)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("company"))?
            .try_into()
    }

    async fn tenant_of_company(&self, id: Uuid) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT tenant_id FROM companies WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn get_company_by_number(&self, tenant: &str, number: i64) -> Result<Company> {
        let sql =
            format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND number = $2");
        sqlx::query_as::<_, CompanyRow>(&sql)
            .bind(tenant)
            .bind(number)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("company"))?
            .try_into()
    }

    async fn list_companies(&self, tenant: &str, page: &Page) -> Result<Listed<Company>> {
        let select = format!("SELECT {COMPANY_COLUMNS} FROM companies");
        let rows: Vec<CompanyRow> = fetch_page(
            &self.read,
            &select,
            PageKey::Integer("number"),
            tenant,
            page,
        )
        .await?;
        let items = rows
            .into_iter()
            .map(Company::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |c: &Company| c.number.to_string()))
    }

    async fn update_company(
        &self,
        tenant: &str,
        id: Uuid,
        patch: CompanyPatch,
        actor: &Actor,
    ) -> Result<Company> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_company(&mut tx, tenant, id).await?;
        let kind = patch.kind.unwrap_or(current.kind);
        let name = patch.name.unwrap_or_else(|| current.name.clone());
        let external_id = patch
            .external_id
            .unwrap_or_else(|| current.external_id.clone());
        let status = patch.status.unwrap_or(current.status);
        // A patch that changes nothing writes nothing.
        if kind == current.kind
            && name == current.name
            && external_id == current.external_id
            && status == current.status
        {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE companies SET kind = $3, name = $4, external_id = $5, status = $6, updated_at \
             = $7 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(kind.as_str())
        .bind(name)
        .bind(external_id)
        .bind(status.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "company.updated",
            &format!("company:{id}"),
            "updated",
        )
        .await?;
        let company = fetch_company(&mut tx, tenant, id).await?;
        let touched = [Entity::Company(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(company)
    }

    async fn delete_company(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        fetch_company(&mut tx, tenant, id).await?;
        let id_text = id.to_string();
        for (table, what) in [
            ("users", "users"),
            ("quotes", "quotes"),
            ("orders", "orders"),
        ] {
            let sql =
                format!("SELECT 1 FROM {table} WHERE tenant_id = $1 AND company_id = $2 LIMIT 1");
            if exists(&mut tx, &sql, tenant, &id_text).await? {
                return Err(StoreError::Conflict(format!(
                    "the company still has {what}"
                )));
            }
        }
        sqlx::query("DELETE FROM companies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(&id_text)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "company.deleted",
            &format!("company:{id}"),
            "deleted",
        )
        .await?;
        let touched = [Entity::Tenant(tenant)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }
}
