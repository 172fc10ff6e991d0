//! Tenants, stores and companies.

use roster_core::{Company, Permission, Store as StoreRecord, Tenant};
use roster_store::{CompanyPatch, Listed, NewCompany, NewStore, NewTenant, Page, StorePatch};
use uuid::Uuid;

use crate::caller::{Caller, Scope};
use crate::error::{AppError, AppResult};
use crate::App;

/// Tenants, stores and companies: the places of the model.
pub struct Tenancy<'a> {
    app: &'a App,
}

impl App {
    /// Tenants, stores and companies.
    pub fn tenancy(&self) -> Tenancy<'_> {
        Tenancy { app: self }
    }
}

impl Tenancy<'_> {
    /// Creates a tenant (admin token).
    /// `uid` is checked as an identifier, or a new one is made when it is
    /// `None`; `name` is required, at most 255 characters (400 naming the
    /// field otherwise).
    pub async fn create_tenant(
        &self,
        caller: &Caller,
        uid: Option<&str>,
        name: &str,
    ) -> AppResult<Tenant> {
        let actor = caller.require_admin()?;
        let uid = match uid {
            Some(uid) => {
                roster_core::validate::identifier(uid).map_err(|m| AppError::field("uid", m))?
            }
            None => Uuid::now_v7().simple().to_string(),
        };
        let name =
            roster_core::validate::text(name, 255).map_err(|m| AppError::field("name", m))?;
        Ok(self
            .app
            .store
            .create_tenant(NewTenant { uid, name }, &actor)
            .await?)
    }

    /// Lists tenants (admin token).
    pub async fn list_tenants(&self, caller: &Caller, page: &Page) -> AppResult<Listed<Tenant>> {
        caller.require_admin()?;
        Ok(self.app.store.list_tenants(page).await?)
    }

    /// Reads the scope's tenant (any credential of it).
    pub async fn get_tenant(&self, scope: &Scope) -> AppResult<Tenant> {
        Ok(self.app.store.get_tenant(scope.tenant()).await?)
    }

    /// Renames a tenant (the name checked as on creation), or reads it
    /// when `name` is `None` (admin token).
    pub async fn rename_tenant(
        &self,
        caller: &Caller,
        uid: &str,
        name: Option<String>,
    ) -> AppResult<Tenant> {
        let actor = caller.require_admin()?;
        let name = name
            .map(|name| roster_core::validate::text(&name, 255))
            .transpose()
            .map_err(|m| AppError::field("name", m))?;
        Ok(match name {
            Some(name) => self.app.store.rename_tenant(uid, &name, &actor).await?,
            None => self.app.store.get_tenant(uid).await?,
        })
    }

    /// Deletes a tenant and everything it owns (admin token).
    pub async fn delete_tenant(&self, caller: &Caller, uid: &str) -> AppResult<()> {
        caller.require_admin()?;
        Ok(self.app.store.delete_tenant(uid).await?)
    }

    /// Whether a tenant exists, for surfaces that name it without a
    /// credential (the B2B customer token call).
    pub async fn tenant_exists(&self, uid: &str) -> AppResult<()> {
        self.app.store.get_tenant(uid).await?;
        Ok(())
    }

    /// Creates a store (MANAGE_STORES).
    pub async fn create_store(&self, scope: &Scope, new: NewStore) -> AppResult<StoreRecord> {
        scope.require(Permission::ManageStores)?;
        Ok(self
            .app
            .store
            .create_store(scope.tenant(), new, scope.actor())
            .await?)
    }

    /// Lists stores (any credential of the tenant).
    pub async fn list_stores(&self, scope: &Scope, page: &Page) -> AppResult<Listed<StoreRecord>> {
        Ok(self.app.store.list_stores(scope.tenant(), page).await?)
    }

    /// Reads a store (any credential of the tenant).
    pub async fn get_store(&self, scope: &Scope, id: &str) -> AppResult<StoreRecord> {
        Ok(self.app.store.get_store(scope.tenant(), id).await?)
    }

    /// Reads a store by its code (any credential of the tenant).
    pub async fn get_store_by_code(&self, scope: &Scope, code: &str) -> AppResult<StoreRecord> {
        Ok(self
            .app
            .store
            .get_store_by_code(scope.tenant(), code)
            .await?)
    }

    /// Reads a store by its code in a tenant named without a credential
    /// (the B2B customer token call).
    pub async fn store_by_code_in(&self, tenant: &str, code: &str) -> AppResult<StoreRecord> {
        Ok(self.app.store.get_store_by_code(tenant, code).await?)
    }

    /// Changes a store (MANAGE_STORES).
    pub async fn update_store(
        &self,
        scope: &Scope,
        id: &str,
        patch: StorePatch,
    ) -> AppResult<StoreRecord> {
        scope.require(Permission::ManageStores)?;
        Ok(self
            .app
            .store
            .update_store(scope.tenant(), id, patch, scope.actor())
            .await?)
    }

    /// Deletes a store (MANAGE_STORES); users lose access to it.
    pub async fn delete_store(&self, scope: &Scope, id: &str) -> AppResult<()> {
        scope.require(Permission::ManageStores)?;
        Ok(self
            .app
            .store
            .delete_store(scope.tenant(), id, scope.actor())
            .await?)
    }

    /// Creates a company (MANAGE_COMMERCES).
    pub async fn create_company(&self, scope: &Scope, new: NewCompany) -> AppResult<Company> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .create_company(scope.tenant(), new, scope.actor())
            .await?)
    }

    /// Lists companies (MANAGE_COMMERCES).
    pub async fn list_companies(&self, scope: &Scope, page: &Page) -> AppResult<Listed<Company>> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self.app.store.list_companies(scope.tenant(), page).await?)
    }

    /// Reads a company (any credential of the tenant: surfaces show the
    /// company of the users they may read).
    pub async fn get_company(&self, scope: &Scope, id: Uuid) -> AppResult<Company> {
        Ok(self.app.store.get_company(scope.tenant(), id).await?)
    }

    /// Reads a company by its number (any credential of the tenant).
    pub async fn get_company_by_number(&self, scope: &Scope, number: i64) -> AppResult<Company> {
        Ok(self
            .app
            .store
            .get_company_by_number(scope.tenant(), number)
            .await?)
    }

    /// The tenant a company belongs to, for the admin token, which names no
    /// tenant (404 for an unknown company).
    pub async fn tenant_of_company(&self, caller: &Caller, company: Uuid) -> AppResult<String> {
        caller.require_admin()?;
        self.app
            .store
            .tenant_of_company(company)
            .await?
            .ok_or_else(|| AppError::NotFound("organisation not found".into()))
    }

    /// Changes a company (MANAGE_COMMERCES).
    pub async fn update_company(
        &self,
        scope: &Scope,
        id: Uuid,
        patch: CompanyPatch,
    ) -> AppResult<Company> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .update_company(scope.tenant(), id, patch, scope.actor())
            .await?)
    }

    /// Deletes a company without users, quotes or orders (MANAGE_COMMERCES).
    pub async fn delete_company(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .delete_company(scope.tenant(), id, scope.actor())
            .await?)
    }
}
