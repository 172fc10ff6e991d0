//! Tenants, stores and companies.

use async_trait::async_trait;
use roster_core::{Actor, Company, CompanyKind, CompanyStatus, Store as StoreRecord, Tenant};
use uuid::Uuid;

use crate::{Listed, Page, Result};

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub uid: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct NewStore {
    pub id: String,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewCompany {
    pub kind: CompanyKind,
    pub name: String,
    pub external_id: Option<String>,
    pub status: CompanyStatus,
}

#[derive(Debug, Clone, Default)]
pub struct CompanyPatch {
    pub kind: Option<CompanyKind>,
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub status: Option<CompanyStatus>,
}

/// Tenants, their stores and their companies, and the database's health.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;

    async fn create_tenant(&self, new: NewTenant, actor: &Actor) -> Result<Tenant>;
    async fn get_tenant(&self, uid: &str) -> Result<Tenant>;
    async fn list_tenants(&self, page: &Page) -> Result<Listed<Tenant>>;
    async fn rename_tenant(&self, uid: &str, name: &str, actor: &Actor) -> Result<Tenant>;
    /// Deletes the tenant and everything it owns.
    async fn delete_tenant(&self, uid: &str) -> Result<()>;

    async fn create_store(&self, tenant: &str, new: NewStore, actor: &Actor)
        -> Result<StoreRecord>;
    async fn get_store(&self, tenant: &str, id: &str) -> Result<StoreRecord>;
    async fn get_store_by_code(&self, tenant: &str, code: &str) -> Result<StoreRecord>;
    async fn list_stores(&self, tenant: &str, page: &Page) -> Result<Listed<StoreRecord>>;
    async fn update_store(
        &self,
        tenant: &str,
        id: &str,
        patch: StorePatch,
        actor: &Actor,
    ) -> Result<StoreRecord>;
    /// Deletes a store; users lose access to it and their default store.
    async fn delete_store(&self, tenant: &str, id: &str, actor: &Actor) -> Result<()>;

    async fn create_company(&self, tenant: &str, new: NewCompany, actor: &Actor)
        -> Result<Company>;
    async fn get_company(&self, tenant: &str, id: Uuid) -> Result<Company>;
    /// The tenant a company belongs to, looked up by the company's id alone
    /// (for the admin token, which names no tenant).
    async fn tenant_of_company(&self, id: Uuid) -> Result<Option<String>>;
    async fn get_company_by_number(&self, tenant: &str, number: i64) -> Result<Company>;
    async fn list_companies(&self, tenant: &str, page: &Page) -> Result<Listed<Company>>;
    async fn update_company(
        &self,
        tenant: &str,
        id: Uuid,
        patch: CompanyPatch,
        actor: &Actor,
    ) -> Result<Company>;
    /// Deletes a company that has no users, quotes or orders.
    async fn delete_company(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
}
