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

pub mod cache;
mod caller;
pub mod clock;
pub mod config;
mod error;
mod passwords;
pub mod sealing;
pub mod tokens;

pub mod accounts;
pub mod check;
pub mod console;
pub mod credentials;
pub mod dispatch;
pub mod groups;
pub mod housekeeping;
pub mod imports;
pub mod invitations;
pub mod nats;
pub mod records;
pub mod scim_tokens;
pub mod signin;
pub mod tenancy;
pub mod users;
pub mod webhooks;

pub use caller::{Caller, Scope};
pub use config::{Config, EventsConfig, Secret, TrustedProxies};
pub use error::{AppError, AppResult};
pub use passwords::NewPassword;

/// The inputs, filters and pages of the operations, as surfaces build them.
pub mod input {
    pub use roster_core::{NewUser, ProfilePatch, UserPatch};
    pub use roster_store::user_query;
    pub use roster_store::{
        CompanyPatch, ContactPatch, ContactReplacement, EventFilter, GroupCondition, GroupField,
        GroupFilter, GroupOrder, ImportJob, Listed, MemberChange, NewAccount, NewCompany,
        NewContact, NewOrder, NewQuote, NewStore, NewTenant, OrderPatch, Page, QuotePatch,
        RecordFilter, StorePatch, UserFilter, UserRef,
    };
}

/// Opening the database, for the binary and the tests.
pub mod database {
    pub use roster_store::{connect, ConnectError, ConnectOptions, Engine, Store};
}

/// The application: every service, over one store, one configuration and
/// one clock. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Shared>);

/// What an [`App`] shares between its clones (one reference count, so a
/// clone per request costs one atomic increment).
pub struct Shared {
    store: Arc<dyn Store>,
    config: Config,
    clock: Arc<dyn clock::Clock>,
    tokens: tokio::sync::OnceCell<tokens::Tokens>,
    passwords: passwords::Passwords,
    cache: cache::Cache,
}

impl std::ops::Deref for App {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl App {
    /// The application over `store`, on the system clock.
    pub fn new(store: Arc<dyn Store>, config: Config) -> App {
        App::with_clock(store, config, Arc::new(clock::SystemClock))
    }

    /// The application on a given clock (tests move time).
    ///
    /// With the cache on, this starts following other processes' changes
    /// (PostgreSQL), so it must be called on a Tokio runtime; outside one
    /// nothing is followed and the cache reads through on PostgreSQL.
    pub fn with_clock(store: Arc<dyn Store>, config: Config, clock: Arc<dyn clock::Clock>) -> App {
        let cache = cache::Cache::new(config.cache_staleness);
        if cache.enabled() && tokio::runtime::Handle::try_current().is_ok() {
            store.watch_changes(cache.heartbeat());
        }
        App(Arc::new(Shared {
            passwords: passwords::Passwords::new(config.password_pool),
            cache,
            store,
            config,
            clock,
            tokens: Default::default(),
        }))
    }

    /// The current time, by the application's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> AppResult<()> {
        Ok(self.store.ping().await?)
    }

    /// The configuration the application runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The token signer, loading (or making) the signing keys on first use.
    pub(crate) async fn tokens(&self) -> AppResult<&tokens::Tokens> {
        let store = self.store.clone();
        let now = self.now();
        let kek = self.config.key_encryption_key.clone();
        self.tokens
            .get_or_try_init(|| tokens::Tokens::new(store, kek, now))
            .await
    }

    /// Loads the signing keys now (making the first, sealing plain ones when
    /// a key-encryption key is set), so a server that cannot sign tokens
    /// fails at start rather than at the first sign-in.
    pub async fn prepare_signing_keys(&self) -> AppResult<()> {
        self.tokens().await.map(|_| ())
    }
}
