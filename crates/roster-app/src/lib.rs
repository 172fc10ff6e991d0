//! Roster's application layer: one service per use case, between the
//! surfaces (`roster-http`) and storage (`roster-store`).
//!
//! Every operation has the same shape: **authorize** (the caller's
//! [`Scope`] must hold the permission: the first line of each operation)
//! → **load** the facts it needs → let the **core decide** (`roster_core`'s
//! rules, pure functions) → **write** in one transaction with its audit
//! event (the store). Surfaces parse their shapes, call one operation and
//! render the answer; they never reach the store.

use std::sync::Arc;

use roster_store::Store;

mod caller;
pub mod clock;
mod error;
mod passwords;
pub mod tokens;

pub mod accounts;
pub mod check;
pub mod credentials;
pub mod invitations;
pub mod records;
pub mod signin;
pub mod tenancy;
pub mod users;

pub use caller::{Caller, Scope};
pub use error::{AppError, AppResult};
pub use passwords::NewPassword;

/// The inputs, filters and pages of the operations, as surfaces build them.
pub mod input {
    pub use roster_core::{NewUser, ProfilePatch, UserPatch};
    pub use roster_store::{
        CompanyPatch, ContactPatch, Listed, NewAccount, NewCompany, NewContact, NewOrder, NewQuote,
        NewStore, NewTenant, OrderPatch, Page, QuotePatch, RecordFilter, StorePatch, UserFilter,
    };
}

/// Opening the database, for the binary and the tests.
pub mod database {
    pub use roster_store::{connect, ConnectError, ConnectOptions, Engine, Store};
}

/// A secret from configuration: compared in constant time, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Whether `presented` is this secret, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        roster_core::secret::constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What the application layer needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The platform operator's token; `None` disables admin access.
    pub admin_token: Option<Secret>,
    /// How long an access token (a tenant user's) lives.
    pub access_token_ttl: chrono::Duration,
    /// How long an auth token (an account's) lives.
    pub auth_token_ttl: chrono::Duration,
    /// How long an invitation can be accepted.
    pub invitation_ttl: chrono::Duration,
    /// Sign-in throttling.
    pub throttle: roster_core::throttle::ThrottlePolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_token: None,
            access_token_ttl: chrono::Duration::minutes(15),
            auth_token_ttl: chrono::Duration::hours(24),
            invitation_ttl: chrono::Duration::days(7),
            throttle: Default::default(),
        }
    }
}

/// The application: every service, over one store, one configuration and
/// one clock. Cheap to clone.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn clock::Clock>,
    tokens: Arc<tokio::sync::OnceCell<tokens::Tokens>>,
    passwords: passwords::Passwords,
}

impl App {
    /// The application over `store`, on the system clock.
    pub fn new(store: Arc<dyn Store>, config: Config) -> App {
        App::with_clock(store, config, Arc::new(clock::SystemClock))
    }

    /// The application on a given clock (tests move time).
    pub fn with_clock(store: Arc<dyn Store>, config: Config, clock: Arc<dyn clock::Clock>) -> App {
        App {
            store,
            config: Arc::new(config),
            clock,
            tokens: Default::default(),
            passwords: passwords::Passwords::new(),
        }
    }

    /// The current time, by the application's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> AppResult<()> {
        Ok(self.store.ping().await?)
    }

    /// The token signer, loading (or making) the signing keys on first use.
    pub(crate) async fn tokens(&self) -> AppResult<&tokens::Tokens> {
        let store = self.store.clone();
        let now = self.now();
        self.tokens
            .get_or_try_init(|| tokens::Tokens::new(store, now))
            .await
    }
}
