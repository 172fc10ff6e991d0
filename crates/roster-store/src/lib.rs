//! Roster's storage: the [`Store`] trait the HTTP layer talks to, and one
//! implementation per engine ([`sqlite`], [`postgres`]).
//!
//! Every method that reads or writes tenant data takes the tenant explicitly;
//! there is no way to ask for a row without saying whose it is. Every change
//! appends its audit event in the same transaction. The rules that need the
//! database (references, re-parenting, quote locking, uniqueness) live here,
//! once, in SQL shared by both engines (`sql/`), and in the constraints of
//! each engine's migrations; the pure rules (the company hierarchy) live in
//! `roster-core`.
//!
//! The contract is split by aggregate into capability traits
//! ([`TenantStore`], [`UserStore`], [`ContactStore`], [`CredentialStore`],
//! [`AccountStore`], [`RecordStore`], [`AuditStore`], [`CheckStore`],
//! [`HousekeepingStore`]);
//! [`Store`] is all of them.

use std::sync::Arc;

use roster_core::rules::invitation::InvitationRefusal;
use roster_core::Permission;

mod batch;
mod changes;
mod connect;
pub mod postgres;
pub mod sqlite;
mod traits;
mod watch;

pub use batch::BatchCounts;
pub use changes::{Changes, Entity};
pub use connect::POSTGRES_CONNECT_TIMEOUT;

pub use traits::user_query;
pub use traits::{
    AccountStore, ApiKeyIdentity, AttemptRecord, AuditStore, CheckFacts, CheckStore, CompanyPatch,
    ConsoleSession, ConsoleSignIn, ConsoleStore, ContactPatch, ContactReplacement, ContactStore,
    CredentialStore, DeviceIdentity, DueDelivery, EventFilter, EventStore, GroupCondition,
    GroupField, GroupFilter, GroupOrder, GroupPatch, GroupStore, Horizon, HousekeepingStore,
    ImportBatchStore, ImportCounts, ImportJob, ImportMatch, ImportProblem, ImportStatus,
    ImportStore, ImportWrite, ManyFacts, MemberChange, NewAccount, NewApiKey, NewCompany,
    NewContact, NewDevice, NewGroup, NewInvitation, NewOrder, NewQuote, NewSession, NewStore,
    NewTenant, NewWebhook, OrderPatch, OutboxBacklog, OutboxEvent, Purged, QuotePatch,
    RecordFilter, RecordStore, ScimTokenStore, Store, StorePatch, TenantStore, Throttle,
    UserFilter, UserRef, UserStore, WebhookPatch,
};

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

/// How to open the database. Its `Debug` hides a password in the URL.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `sqlite:<file>` or `postgres://user@host/db`.
    pub url: String,
    /// SQLite's durability (ignored on PostgreSQL).
    pub sqlite_synchronous: SqliteSynchronous,
    /// The most connections to hold open.
    pub max_connections: u32,
}

impl ConnectOptions {
    /// The defaults: `FULL` durability, 10 connections.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            url: url.into(),
            sqlite_synchronous: SqliteSynchronous::default(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &redacted_url(&self.url))
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A database URL fit for logs: its password (in the authority or as a
/// `password` query parameter) replaced by `<redacted>`.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Unparseable: show only the scheme, which is all a log needs.
        return format!("{}:<redacted>", url.split(':').next().unwrap_or(""));
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("<redacted>"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "<redacted>".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// SQLite's `synchronous` setting: how long a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Does not wait: a crash of the machine may lose recent commits.
    Off,
    /// Survives a crash of the process, not always of the machine.
    Normal,
    /// An acknowledged write survives a crash of the machine (the default).
    #[default]
    Full,
    /// `FULL`, and also syncs the directory after a commit.
    Extra,
}

impl SqliteSynchronous {
    /// Every setting, as configuration spells it.
    pub const NAMES: &'static [&'static str] = &["FULL", "NORMAL", "OFF", "EXTRA"];

    /// The setting's name: `FULL`, `NORMAL`, `OFF` or `EXTRA`.
    pub fn as_str(self) -> &'static str {
        match self {
            SqliteSynchronous::Off => "OFF",
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Extra => "EXTRA",
        }
    }
}

impl std::fmt::Display for SqliteSynchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SqliteSynchronous {
    type Err = String;

    /// Case-insensitive; anything else is refused, never defaulted.
    fn from_str(value: &str) -> std::result::Result<Self, String> {
        match value.to_ascii_uppercase().as_str() {
            "OFF" => Ok(SqliteSynchronous::Off),
            "NORMAL" => Ok(SqliteSynchronous::Normal),
            "FULL" => Ok(SqliteSynchronous::Full),
            "EXTRA" => Ok(SqliteSynchronous::Extra),
            _ => Err(format!(
                "expected one of {}",
                SqliteSynchronous::NAMES.join(", ")
            )),
        }
    }
}

/// Opens the database named by `options.url`, applying migrations. A
/// database that cannot be opened is named in the error: PostgreSQL's
/// address (a refused or silent server fails within
/// [`POSTGRES_CONNECT_TIMEOUT`]), SQLite's path; never the URL's password.
pub async fn connect(options: &ConnectOptions) -> Result<Arc<dyn Store>, ConnectError> {
    match Engine::of(&options.url) {
        Some(Engine::Sqlite) => match sqlite::SqlStore::connect(options).await {
            Ok(store) => Ok(Arc::new(store)),
            Err(error) => Err(connect::sqlite_failure(
                &connect::sqlite_path(&options.url),
                error,
            )),
        },
        Some(Engine::Postgres) => {
            let address = connect::reach_postgres(&options.url).await?;
            match postgres::SqlStore::connect(options).await {
                Ok(store) => Ok(Arc::new(store)),
                Err(error) => Err(connect::postgres_failure(address, error)),
            }
        }
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
    /// The URL does not parse (the reason never repeats the URL).
    #[error("the database URL is not valid: {0}")]
    Url(String),
    /// The PostgreSQL server refused, did not answer, or turned the
    /// credentials or the database down.
    #[error("cannot connect to PostgreSQL at {address}: {reason}")]
    Postgres { address: String, reason: String },
    /// The SQLite file could not be opened, created or migrated.
    #[error("cannot open the SQLite database {path}: {reason}")]
    Sqlite { path: String, reason: String },
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
        "groups_name_key",
        "a group with this name already exists in the tenant or company",
    ),
    (
        "groups_external_id",
        "a group with this external_id already exists in the tenant",
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

/// How the core's refusal of an invitation reads in storage: used or
/// expired is gone (410), another email's is forbidden (403).
impl From<InvitationRefusal> for StoreError {
    fn from(refusal: InvitationRefusal) -> Self {
        match refusal {
            InvitationRefusal::Used | InvitationRefusal::Expired => {
                StoreError::Gone(refusal.to_string())
            }
            InvitationRefusal::OtherEmail => StoreError::Forbidden(refusal.to_string()),
        }
    }
}

/// Reads the permission list stored with an API key.
fn parse_permissions(text: &str) -> Vec<Permission> {
    text.split(',').filter_map(Permission::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_never_show() {
        for url in [
            "postgres://roster:s3cret-pw@db.internal:5432/roster",
            "postgres://roster@db.internal/roster?sslmode=require&password=s3cret-pw",
            "postgres://roster:s3cret-pw@[::1/roster",
        ] {
            let options = ConnectOptions::new(url);
            let shown = format!("{options:?} {}", redacted_url(url));
            assert!(!shown.contains("s3cret-pw"), "{shown}");
        }
        assert_eq!(redacted_url("sqlite:roster.db"), "sqlite:roster.db");
        assert!(redacted_url("postgres://roster:pw@h/db").contains("roster:%3Credacted%3E@h"));
    }

    #[test]
    fn synchronous_settings_parse_or_are_refused() {
        assert_eq!("normal".parse(), Ok(SqliteSynchronous::Normal));
        assert_eq!("FULL".parse(), Ok(SqliteSynchronous::Full));
        let refused = "ful".parse::<SqliteSynchronous>().unwrap_err();
        assert!(refused.contains("FULL, NORMAL, OFF, EXTRA"), "{refused}");
        for name in SqliteSynchronous::NAMES {
            assert_eq!(name.parse::<SqliteSynchronous>().unwrap().as_str(), *name);
        }
    }
}
