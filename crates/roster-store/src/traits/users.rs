//! Users.

use async_trait::async_trait;
use roster_core::{Actor, CommerceRole, NewUser, User, UserPatch, UserStatus};
use uuid::Uuid;

use crate::{Listed, Page, Result};

/// Filters of the user list; every one optional, all must match.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub number: Option<i64>,
    pub role: Option<String>,
    pub store_id: Option<String>,
    pub company_id: Option<Uuid>,
    pub status: Option<UserStatus>,
    /// Free text, matched against names, email, login and user code.
    pub q: Option<String>,
}

/// Users: their fields, roles, store access and place in a company's
/// hierarchy.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn create_user(&self, tenant: &str, new: NewUser, actor: &Actor) -> Result<User>;
    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User>;
    async fn get_user_by_number(&self, tenant: &str, number: i64) -> Result<User>;
    async fn list_users(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> Result<Listed<User>>;
    /// Applies a patch. Deactivating a user, or moving it out of its company,
    /// re-assigns its child users to its parent.
    async fn update_user(
        &self,
        tenant: &str,
        id: Uuid,
        patch: UserPatch,
        actor: &Actor,
    ) -> Result<User>;
    /// Deletes a user: its children move to its parent, its quotes close and
    /// lock, its orders and quotes stay.
    async fn delete_user(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// Grants a commerce role in the user's company; 409 when already held.
    async fn add_commerce_role(
        &self,
        tenant: &str,
        user: Uuid,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User>;
    /// Takes a commerce role away; 404 when not held.
    async fn remove_commerce_role(
        &self,
        tenant: &str,
        user: Uuid,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User>;

    /// The contacts of these users, oldest first.
    /// Creates the user with this `(source, external_id)` or replaces its
    /// fields; `true` when it was created. Concurrent calls make one user.
    async fn upsert_user_by_external_id(
        &self,
        tenant: &str,
        new: NewUser,
        actor: &Actor,
    ) -> Result<(User, bool)>;
}
