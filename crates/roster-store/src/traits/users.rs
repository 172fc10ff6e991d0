//! Users.

use async_trait::async_trait;
use roster_core::{Actor, CommerceRole, NewUser, User, UserPatch, UserStatus};
use uuid::Uuid;

use super::user_query::{QueriedUsers, UserQuery};
use crate::{ContactReplacement, Listed, Page, Result};

/// The user a write names, and the company it must belong to. With a
/// company, the write locks the user's row and, unless the user is in that
/// company then, answers `NotFound("user")` and changes nothing: the
/// precondition holds with the write, not only before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRef {
    /// The user.
    pub id: Uuid,
    /// The company the user must be in, if the write is made within one.
    pub company: Option<Uuid>,
}

impl UserRef {
    /// The user `id`, which must be in `company` when it is given.
    pub fn within(id: Uuid, company: Option<Uuid>) -> UserRef {
        UserRef { id, company }
    }
}

/// Any user of the tenant, whatever its company.
impl From<Uuid> for UserRef {
    fn from(id: Uuid) -> UserRef {
        UserRef { id, company: None }
    }
}

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
    /// Free text, matched against names, email, login, user code and
    /// external id.
    pub q: Option<String>,
}

/// Users: their fields, roles, store access and place in a company's
/// hierarchy.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user. Concurrent creations share a transaction and its
    /// commit (group commit); each is answered with its own outcome, and one
    /// that fails leaves the others alone.
    async fn create_user(&self, tenant: &str, new: NewUser, actor: &Actor) -> Result<User>;
    /// How many shared transactions `create_user` ran, and how many
    /// creations they held, since the store opened.
    fn creation_batches(&self) -> crate::BatchCounts;
    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User>;
    async fn get_user_by_number(&self, tenant: &str, number: i64) -> Result<User>;
    async fn list_users(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> Result<Listed<User>>;
    /// The page `list_users` would answer, as the ids of its users in
    /// order (the resume key the same): a listing served from a cache of
    /// users reads only this, and `get_users` for the users it misses.
    async fn list_user_ids(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> Result<Listed<Uuid>>;
    /// The users of `tenant` among `ids`, in no particular order; an id
    /// with no user (deleted, or of another tenant) is left out.
    async fn get_users(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<User>>;
    /// The users meeting a condition, sorted and sliced, with their count.
    async fn query_users(&self, tenant: &str, query: &UserQuery) -> Result<QueriedUsers>;
    /// Applies a patch (the user in its company, if `user` names one).
    /// Deactivating a user, or moving it out of its company, re-assigns its
    /// child users to its parent.
    async fn update_user(
        &self,
        tenant: &str,
        user: UserRef,
        patch: UserPatch,
        actor: &Actor,
    ) -> Result<User>;
    /// Creates a user and its contacts of the replacement's types, in one
    /// transaction (a directory's create: all of it or none).
    async fn create_user_with_contacts(
        &self,
        tenant: &str,
        new: NewUser,
        contacts: ContactReplacement,
        actor: &Actor,
    ) -> Result<User>;
    /// Applies a patch and replaces the user's contacts of the
    /// replacement's types, in one transaction (a directory's replace).
    async fn update_user_with_contacts(
        &self,
        tenant: &str,
        user: UserRef,
        patch: UserPatch,
        contacts: ContactReplacement,
        actor: &Actor,
    ) -> Result<User>;
    /// Deletes a user: its children move to its parent, its quotes close and
    /// lock, its orders and quotes stay.
    async fn delete_user(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// Grants a commerce role in the user's company (the user in its
    /// company, if `user` names one); 409 when already held.
    async fn add_commerce_role(
        &self,
        tenant: &str,
        user: UserRef,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User>;
    /// Takes a commerce role away (the user in its company, if `user` names
    /// one); 404 when not held.
    async fn remove_commerce_role(
        &self,
        tenant: &str,
        user: UserRef,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User>;

    /// Creates the user with this `(source, external_id)` or replaces its
    /// fields; `true` when it was created. Concurrent calls make one user.
    async fn upsert_user_by_external_id(
        &self,
        tenant: &str,
        new: NewUser,
        actor: &Actor,
    ) -> Result<(User, bool)>;
}
