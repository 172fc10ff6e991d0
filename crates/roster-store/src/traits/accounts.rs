//! Accounts, sign-in lookups and invitations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Account, AccountType, Actor, Invitation, Tenant, TenantRole, User};
use uuid::Uuid;

use crate::{Listed, Page, Result};

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: String,
    pub tenant_role: TenantRole,
    pub account_type: AccountType,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Global accounts, signing in to a tenant's user, and invitations.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn create_account(&self, new: NewAccount) -> Result<Account>;
    async fn get_account(&self, id: Uuid) -> Result<Account>;

    /// The id and password hash of the user with this user code: all a
    /// sign-in reads before the password is checked, one query whether the
    /// user exists or not (so the two take the same time); the user is
    /// read after the password matched.
    async fn password_by_code(
        &self,
        tenant: &str,
        user_code: &str,
    ) -> Result<Option<(Uuid, Option<String>)>>;
    /// The same by email (case-insensitive).
    async fn password_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<(Uuid, Option<String>)>>;
    /// The user with this email (case-insensitive), and its password hash.
    async fn find_user_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>>;
    /// The id and password hash of the account with this email
    /// (case-insensitive), as [`AccountStore::password_by_code`].
    async fn account_password(&self, email: &str) -> Result<Option<(Uuid, String)>>;
    /// The account's user in a tenant, if it has one.
    async fn user_of_account(&self, tenant: &str, account: Uuid) -> Result<Option<User>>;
    /// The tenants an account has a user in, by uid.
    async fn tenants_of_account(&self, account: Uuid) -> Result<Vec<Tenant>>;
    /// Sets the account's default tenant (one it has a user in, else 404).
    async fn set_default_tenant(&self, account: Uuid, tenant: &str) -> Result<Account>;

    async fn create_invitation(
        &self,
        tenant: &str,
        new: NewInvitation,
        actor: &Actor,
    ) -> Result<Invitation>;
    async fn list_invitations(&self, tenant: &str, page: &Page) -> Result<Listed<Invitation>>;
    async fn revoke_invitation(
        &self,
        tenant: &str,
        id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<()>;
    /// The invitation whose token hashes to `token_hash`, and its tenant's name.
    async fn find_invitation(&self, token_hash: &str) -> Result<Option<(Invitation, String)>>;
    /// Accepts an invitation for `account`, once: links the tenant's
    /// unlinked user with that email (or creates one) with the invited role
    /// and account type. 410 when used, revoked or expired at `now`; 403 for
    /// another account's email; 409 when that user belongs to another account.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<User>;
}
