//! Companies' SCIM tokens.

use async_trait::async_trait;
use roster_core::{Actor, ScimToken};
use uuid::Uuid;

use crate::Result;

/// The SCIM tokens of a tenant's companies, kept as hashes.
#[async_trait]
pub trait ScimTokenStore: Send + Sync + 'static {
    /// Keeps a new token of `company` (404 when the tenant lacks it).
    async fn create_scim_token(
        &self,
        tenant: &str,
        company: Uuid,
        token_hash: &str,
        actor: &Actor,
    ) -> Result<ScimToken>;
    /// The company's tokens, oldest first.
    async fn list_scim_tokens(&self, tenant: &str, company: Uuid) -> Result<Vec<ScimToken>>;
    /// Revokes (deletes) a token of `company`; it stops on the next request.
    async fn revoke_scim_token(
        &self,
        tenant: &str,
        company: Uuid,
        id: Uuid,
        actor: &Actor,
    ) -> Result<()>;
    /// The tenant and token a presented token's hash names, if any.
    async fn find_scim_token(&self, token_hash: &str) -> Result<Option<(String, ScimToken)>>;
}
