//! Roster's storage: the [`Store`] trait the HTTP layer talks to, and one
//! implementation per engine ([`sqlite`], [`postgres`]).
//!
//! Every method that reads or writes tenant data takes the tenant explicitly;
//! there is no way to ask for a row without saying whose it is. Every change
//! appends its audit event in the same transaction. The rules that need the
//! database (references, re-parenting, quote locking, uniqueness) live here,
//! once, in SQL shared by both engines (`sql.rs`), and in the constraints of
//! each engine's migrations.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{
    Account, AccountType, Actor, ApiKey, ApiKeyGrant, AuditEvent, CommerceRole, Company,
    CompanyKind, CompanyStatus, Contact, ContactType, Device, Invitation, Order, Permission,
    Profile, Quote, QuoteStatus, Roles, Session, SessionKind, SigningKey, Source,
    Store as StoreRecord, Subject, Tenant, TenantRole, User, UserStatus,
};
use uuid::Uuid;

pub mod postgres;
pub mod sqlite;

/// What can go wrong in storage, in terms a client can be told.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named record does not exist in this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change collides with existing data (a duplicate, a lock).
    #[error("{0}")]
    Conflict(String),
    /// The change is malformed in a way only the data can tell.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The token or invitation was used, expired or revoked.
    #[error("{0}")]
    Gone(String),
    /// The caller may not do this to this record.
    #[error("{0}")]
    Forbidden(String),
    /// The database failed; never shown to clients.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A page of a list: resume after `after` (an opaque key this store handed out).
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<String>,
    pub limit: i64,
}

/// One page of results and the key to resume after, if there is more.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

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

/// A user to create. References (company, parent, stores, account) are
/// checked against the tenant by the store.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub company_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub profile: Profile,
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub status: UserStatus,
    pub account_type: AccountType,
    pub default_store_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub password_hash: Option<String>,
    pub roles: Roles,
    pub store_ids: Vec<String>,
}

/// A change to a user: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub company_id: Option<Option<Uuid>>,
    pub parent_id: Option<Option<Uuid>>,
    pub profile: ProfilePatch,
    pub external_id: Option<Option<String>>,
    pub source: Option<Option<Source>>,
    pub status: Option<UserStatus>,
    pub account_type: Option<AccountType>,
    pub default_store_id: Option<Option<String>>,
    pub account_id: Option<Option<Uuid>>,
    pub password_hash: Option<String>,
    pub tenant_role: Option<Option<roster_core::TenantRole>>,
    pub partner_role: Option<Option<roster_core::PartnerRole>>,
    pub commerce_roles: Option<Vec<roster_core::CommerceRole>>,
    pub org_role: Option<Option<roster_core::OrgRole>>,
    pub store_ids: Option<Vec<String>>,
}

/// A change to a user's descriptive fields.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub middle_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub login: Option<Option<String>>,
    pub user_code: Option<Option<String>>,
    pub mobile: Option<Option<String>>,
    pub country_code: Option<Option<String>>,
    pub telephone: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub language_code: Option<Option<String>>,
}

impl UserPatch {
    /// The patch that sets every field of `user`: an upsert's update.
    pub fn replacing_with(user: NewUser) -> UserPatch {
        let p = user.profile;
        UserPatch {
            company_id: Some(user.company_id),
            parent_id: Some(user.parent_id),
            profile: ProfilePatch {
                name: Some(p.name),
                first_name: Some(p.first_name),
                middle_name: Some(p.middle_name),
                last_name: Some(p.last_name),
                display_name: Some(p.display_name),
                email: Some(p.email),
                login: Some(p.login),
                user_code: Some(p.user_code),
                mobile: Some(p.mobile),
                country_code: Some(p.country_code),
                telephone: Some(p.telephone),
                job_title: Some(p.job_title),
                language_code: Some(p.language_code),
            },
            external_id: Some(user.external_id),
            source: Some(user.source),
            status: Some(user.status),
            account_type: Some(user.account_type),
            default_store_id: Some(user.default_store_id),
            account_id: Some(user.account_id),
            password_hash: user.password_hash,
            tenant_role: Some(user.roles.tenant),
            partner_role: Some(user.roles.partner),
            commerce_roles: Some(user.roles.commerce),
            org_role: Some(user.roles.org),
            store_ids: Some(user.store_ids),
        }
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
    /// Free text, matched against names, email, login and user code.
    pub q: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub grant: ApiKeyGrant,
    pub token_hash: String,
}

/// What a presented API key authenticates as.
#[derive(Debug, Clone)]
pub struct ApiKeyIdentity {
    pub tenant: String,
    pub key: ApiKey,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewQuote {
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
}

#[derive(Debug, Clone, Default)]
pub struct QuotePatch {
    pub reference: Option<String>,
    pub status: Option<QuoteStatus>,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: String,
}

#[derive(Debug, Clone, Default)]
pub struct OrderPatch {
    pub reference: Option<String>,
    pub status: Option<String>,
}

/// A contact to add to a user.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub contact_type: ContactType,
    pub value: String,
    pub source: Source,
    pub is_primary: bool,
}

/// A change to a contact; its value is checked again against its type.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub contact_type: Option<ContactType>,
    pub value: Option<String>,
    pub source: Option<Source>,
    pub is_primary: Option<bool>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub name: String,
    pub store_id: Option<String>,
    pub token_hash: String,
}

/// What a presented device token authenticates as.
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    pub tenant: String,
    pub device: Device,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub kind: SessionKind,
    pub tenant: Option<String>,
    pub user_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
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

/// A sign-in throttle counter.
#[derive(Debug, Clone)]
pub struct Throttle {
    pub key: String,
    pub failures: i64,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Filters of quote and order lists.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub owner_user_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
}

/// What `check` needs about one user and the place asked about, read at once.
#[derive(Debug, Clone)]
pub struct CheckFacts {
    /// `None` when the user is not in the tenant.
    pub subject: Option<Subject>,
    pub store_exists: bool,
    pub company_exists: bool,
}

/// Roster's storage. One implementation per engine, both passing the same
/// conformance suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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
    async fn contacts_of(&self, tenant: &str, users: &[Uuid]) -> Result<Vec<Contact>>;
    /// Adds a contact; a new primary unsets the previous one of its type.
    async fn add_contact(
        &self,
        tenant: &str,
        user: Uuid,
        new: NewContact,
        actor: &Actor,
    ) -> Result<Contact>;
    /// Changes a contact. Deactivating it drops its primary flag; making it
    /// primary unsets the previous primary of its type.
    async fn update_contact(
        &self,
        tenant: &str,
        user: Uuid,
        id: Uuid,
        patch: ContactPatch,
        actor: &Actor,
    ) -> Result<Contact>;
    /// Makes an active contact the primary of its type (409 when inactive).
    async fn set_primary_contact(
        &self,
        tenant: &str,
        user: Uuid,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Contact>;

    /// Creates the user with this `(source, external_id)` or replaces its
    /// fields; `true` when it was created. Concurrent calls make one user.
    async fn upsert_user_by_external_id(
        &self,
        tenant: &str,
        new: NewUser,
        actor: &Actor,
    ) -> Result<(User, bool)>;

    async fn create_api_key(&self, tenant: &str, new: NewApiKey, actor: &Actor) -> Result<ApiKey>;
    async fn list_api_keys(&self, tenant: &str, page: &Page) -> Result<Listed<ApiKey>>;
    async fn delete_api_key(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// Finds the key whose token hashes to `token_hash`, in any tenant: the
    /// token itself says whose it is.
    async fn authenticate_api_key(&self, token_hash: &str) -> Result<Option<ApiKeyIdentity>>;

    async fn create_account(&self, new: NewAccount) -> Result<Account>;
    async fn get_account(&self, id: Uuid) -> Result<Account>;

    async fn create_quote(&self, tenant: &str, new: NewQuote, actor: &Actor) -> Result<Quote>;
    async fn get_quote(&self, tenant: &str, id: Uuid) -> Result<Quote>;
    async fn list_quotes(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Quote>>;
    /// Changes a quote; a locked quote refuses every change (409).
    async fn update_quote(
        &self,
        tenant: &str,
        id: Uuid,
        patch: QuotePatch,
        actor: &Actor,
    ) -> Result<Quote>;

    async fn create_order(&self, tenant: &str, new: NewOrder, actor: &Actor) -> Result<Order>;
    async fn get_order(&self, tenant: &str, id: Uuid) -> Result<Order>;
    async fn list_orders(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Order>>;
    async fn update_order(
        &self,
        tenant: &str,
        id: Uuid,
        patch: OrderPatch,
        actor: &Actor,
    ) -> Result<Order>;

    async fn create_device(&self, tenant: &str, new: NewDevice, actor: &Actor) -> Result<Device>;
    async fn list_devices(&self, tenant: &str, page: &Page) -> Result<Listed<Device>>;
    /// Revokes a device and every session signed in on it.
    async fn revoke_device(
        &self,
        tenant: &str,
        id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<()>;
    /// Finds the live (unrevoked) device whose token hashes to `token_hash`.
    async fn authenticate_device(&self, token_hash: &str) -> Result<Option<DeviceIdentity>>;

    /// The user with this POS code, and its password hash.
    async fn find_user_by_code(
        &self,
        tenant: &str,
        user_code: &str,
    ) -> Result<Option<(User, Option<String>)>>;
    /// The user with this email (case-insensitive), and its password hash.
    async fn find_user_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>>;
    /// The account with this email (case-insensitive), and its password hash.
    async fn find_account_by_email(&self, email: &str) -> Result<Option<(Account, String)>>;
    /// Moves a user's `last_accessed_at`.
    async fn record_sign_in(&self, tenant: &str, user: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// The account's user in a tenant, if it has one.
    async fn user_of_account(&self, tenant: &str, account: Uuid) -> Result<Option<User>>;
    /// The tenants an account has a user in, by uid.
    async fn tenants_of_account(&self, account: Uuid) -> Result<Vec<Tenant>>;
    /// Sets the account's default tenant (one it has a user in, else 404).
    async fn set_default_tenant(&self, account: Uuid, tenant: &str) -> Result<Account>;

    async fn create_session(&self, new: NewSession) -> Result<Session>;
    async fn get_session(&self, id: Uuid) -> Result<Option<Session>>;
    async fn revoke_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    /// Adds a signing key; `retire_others_at` retires the keys before it.
    async fn add_signing_key(
        &self,
        key: SigningKey,
        retire_others_at: Option<DateTime<Utc>>,
    ) -> Result<()>;

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

    /// The throttle counters of these keys.
    async fn throttles(&self, keys: &[String]) -> Result<Vec<Throttle>>;
    /// Counts one failure of `key`; a counter older than `window` (when
    /// given) starts again. Returns the counter after the failure.
    async fn record_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: Option<chrono::Duration>,
    ) -> Result<Throttle>;
    async fn lock_until(&self, key: &str, until: DateTime<Utc>) -> Result<()>;
    async fn clear_failures(&self, key: &str) -> Result<()>;

    /// The audit log, oldest first.
    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>>;

    /// Everything `check` needs, in one read: the user's status, roles and
    /// stores, and whether the store and company asked about exist.
    async fn check_facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
    ) -> Result<CheckFacts>;
}

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// `postgres://` and `postgresql://` are PostgreSQL; `sqlite:` is SQLite.
    pub fn of(url: &str) -> Option<Engine> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else {
            None
        }
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: String,
    /// SQLite's `synchronous` setting: `FULL` (default), `NORMAL` or `OFF`.
    pub sqlite_synchronous: String,
    pub max_connections: u32,
}

/// Opens the database named by `options.url`, applying migrations.
pub async fn connect(options: &ConnectOptions) -> Result<Arc<dyn Store>, ConnectError> {
    match Engine::of(&options.url) {
        Some(Engine::Sqlite) => Ok(Arc::new(sqlite::SqlStore::connect(options).await?)),
        Some(Engine::Postgres) => Ok(Arc::new(postgres::SqlStore::connect(options).await?)),
        None => Err(ConnectError::UnknownScheme(
            options.url.split(':').next().unwrap_or("").to_string(),
        )),
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the database URL must start with sqlite: or postgres:// (got '{0}:')")]
    UnknownScheme(String),
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Unique constraints and the message a client gets when a write breaks
/// one. Each needle matches the PostgreSQL constraint name and SQLite's
/// `table.column` message alike (see the migrations' naming rule).
const CONFLICTS: &[(&str, &str)] = &[
    ("tenants_uid", "a tenant with this uid already exists"),
    ("stores_id", "a store with this id already exists"),
    ("stores_code", "a store with this code already exists"),
    (
        "companies_external_id",
        "a company with this external_id already exists",
    ),
    (
        "users_email_key",
        "a user with this email already exists in the tenant",
    ),
    (
        "users_user_code",
        "a user with this user_code already exists in the tenant",
    ),
    (
        "users_external_id",
        "a user with this source and external_id already exists in the tenant",
    ),
    (
        "users_account_id",
        "this account already has a user in the tenant",
    ),
    (
        "accounts_email_key",
        "an account with this email already exists",
    ),
    (
        "contacts_value_key",
        "the user already has an active contact of this type with this value",
    ),
    (
        "contacts_contact_type",
        "the user already has a primary contact of this type",
    ),
];

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                let text =
                    format!("{} {}", db.constraint().unwrap_or(""), db.message()).replace('.', "_");
                let message = CONFLICTS
                    .iter()
                    .find(|(needle, _)| text.contains(needle))
                    .map_or("the change conflicts with existing data", |(_, m)| m);
                return StoreError::Conflict(message.to_string());
            }
            if db.is_foreign_key_violation() {
                return StoreError::Conflict(
                    "the change refers to a record that does not exist or is still in use".into(),
                );
            }
        }
        StoreError::Database(err)
    }
}

/// Reads the permission list stored with an API key.
fn parse_permissions(text: &str) -> Vec<Permission> {
    text.split(',').filter_map(Permission::parse).collect()
}

impl UserPatch {
    /// The user's next state: the current one with this patch applied.
    ///
    /// Moving a user to another company (or out of one) drops its
    /// company-scoped roles and its parent, unless the same patch sets them:
    /// a role held in one company never follows the user into another.
    pub fn apply_to(self, current: &User) -> NewUser {
        fn pick<T: Clone>(change: Option<T>, current: &T) -> T {
            change.unwrap_or_else(|| current.clone())
        }
        let company_id = pick(self.company_id, &current.company_id);
        let moved = company_id != current.company_id;
        let c = &current.profile;
        let p = self.profile;
        NewUser {
            company_id,
            parent_id: match self.parent_id {
                Some(parent) => parent,
                None if moved => None,
                None => current.parent_id,
            },
            profile: Profile {
                name: pick(p.name, &c.name),
                first_name: pick(p.first_name, &c.first_name),
                middle_name: pick(p.middle_name, &c.middle_name),
                last_name: pick(p.last_name, &c.last_name),
                display_name: pick(p.display_name, &c.display_name),
                email: pick(p.email, &c.email),
                login: pick(p.login, &c.login),
                user_code: pick(p.user_code, &c.user_code),
                mobile: pick(p.mobile, &c.mobile),
                country_code: pick(p.country_code, &c.country_code),
                telephone: pick(p.telephone, &c.telephone),
                job_title: pick(p.job_title, &c.job_title),
                language_code: pick(p.language_code, &c.language_code),
            },
            external_id: pick(self.external_id, &current.external_id),
            source: pick(self.source, &current.source),
            status: pick(self.status, &current.status),
            account_type: pick(self.account_type, &current.account_type),
            default_store_id: pick(self.default_store_id, &current.default_store_id),
            account_id: pick(self.account_id, &current.account_id),
            password_hash: self.password_hash,
            roles: Roles {
                tenant: pick(self.tenant_role, &current.roles.tenant),
                partner: pick(self.partner_role, &current.roles.partner),
                commerce: match self.commerce_roles {
                    Some(mut roles) => {
                        roles.sort();
                        roles.dedup();
                        roles
                    }
                    None if moved => Vec::new(),
                    None => current.roles.commerce.clone(),
                },
                org: match self.org_role {
                    Some(role) => role,
                    None if moved => None,
                    None => current.roles.org,
                },
            },
            store_ids: pick(self.store_ids, &current.store_ids),
        }
    }
}
