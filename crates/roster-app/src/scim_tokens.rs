//! Companies' SCIM tokens (SPEC §8): `rscim_…` bearer tokens, made by a
//! credential holding MANAGE_COMMERCES, each provisioning only its
//! company's users and groups at `/scim/v2` (other users and groups are not
//! found; new users join the company). They are no credential anywhere
//! else. Kept as hashes; a revoked token stops on its next request.

use roster_core::{secret, Actor, Permission, ScimToken};
use uuid::Uuid;

use crate::caller::Scope;
use crate::credentials::Issued;
use crate::error::AppResult;
use crate::App;

/// What a company SCIM token's secret starts with.
pub const PREFIX: &str = "rscim";

/// A tenant's companies' SCIM tokens.
pub struct ScimTokens<'a> {
    app: &'a App,
}

impl App {
    /// Companies' SCIM tokens (MANAGE_COMMERCES).
    pub fn scim_tokens(&self) -> ScimTokens<'_> {
        ScimTokens { app: self }
    }
}

/// Whether `token` is shaped like a company SCIM token.
pub fn is_scim_token(token: &str) -> bool {
    token.starts_with(&format!("{PREFIX}_"))
}

impl ScimTokens<'_> {
    /// Makes a token for `company`; the answer holds its secret, once.
    pub async fn create(&self, scope: &Scope, company: Uuid) -> AppResult<Issued<ScimToken>> {
        scope.require(Permission::ManageCommerces)?;
        let (token, hash) = secret::new_token(PREFIX);
        let record = self
            .app
            .store
            .create_scim_token(scope.tenant(), company, &hash, scope.actor())
            .await?;
        Ok(Issued { record, token })
    }

    /// The company's tokens, without their secrets.
    pub async fn list(&self, scope: &Scope, company: Uuid) -> AppResult<Vec<ScimToken>> {
        scope.require(Permission::ManageCommerces)?;
        self.app.store.get_company(scope.tenant(), company).await?;
        Ok(self
            .app
            .store
            .list_scim_tokens(scope.tenant(), company)
            .await?)
    }

    /// Revokes a token of the company.
    pub async fn revoke(&self, scope: &Scope, company: Uuid, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .revoke_scim_token(scope.tenant(), company, id, scope.actor())
            .await?)
    }

    /// The scope a presented company SCIM token stands for: its company's
    /// users and groups, to read and provision (VIEW_USERS, MANAGE_USERS
    /// there, nothing else). `None` when it is no such token.
    pub async fn enter(&self, token: &str) -> AppResult<Option<Scope>> {
        if !is_scim_token(token) {
            return Ok(None);
        }
        let found = self
            .app
            .store
            .find_scim_token(&secret::hash_token(token))
            .await?;
        Ok(found.map(|(tenant, token)| {
            Scope::confined(
                tenant,
                Actor::ScimToken(token.id),
                token.company_id,
                vec![Permission::ManageUsers, Permission::ViewUsers],
            )
        }))
    }
}
