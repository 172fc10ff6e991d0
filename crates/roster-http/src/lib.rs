//! Roster's HTTP layer: the native `/v1` API, operations endpoints, and (as
//! they land) one module per seed surface, each a thin translation onto the
//! same store.

use std::sync::Arc;

use roster_store::Store;

pub mod auth;
mod b2b;
pub mod clock;
mod commerce;
pub mod error;
pub mod extract;
mod ops;
mod partner;
mod pos;
mod retail_media;
mod service;
mod signin;
pub mod tokens;
pub mod v1;

pub use error::{ApiError, Problem};

/// Settings the HTTP layer needs.
#[derive(Clone)]
pub struct HttpConfig {
    /// The platform operator's token; `None` disables admin access.
    pub admin_token: Option<String>,
    /// How long an access token (a tenant user's) lives.
    pub access_token_ttl: chrono::Duration,
    /// How long an auth token (an account's) lives.
    pub auth_token_ttl: chrono::Duration,
    /// How long an invitation can be accepted.
    pub invitation_ttl: chrono::Duration,
    /// Sign-in throttling.
    pub throttle: roster_core::throttle::ThrottlePolicy,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            admin_token: None,
            access_token_ttl: chrono::Duration::minutes(15),
            auth_token_ttl: chrono::Duration::hours(24),
            invitation_ttl: chrono::Duration::days(7),
            throttle: Default::default(),
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<HttpConfig>,
    pub clock: Arc<dyn clock::Clock>,
    tokens: Arc<tokio::sync::OnceCell<tokens::Tokens>>,
}

impl AppState {
    /// The token signer, loading (or making) the signing keys on first use.
    pub async fn tokens(&self) -> Result<&tokens::Tokens, ApiError> {
        let store = self.store.clone();
        let now = self.clock.now();
        Ok(self
            .tokens
            .get_or_try_init(|| tokens::Tokens::new(store, now))
            .await?)
    }
}

/// The whole application: every route, the OpenAPI document and the docs UI,
/// wrapped in tracing, metrics and trace ids.
pub fn app(store: Arc<dyn Store>, config: HttpConfig) -> axum::Router {
    app_with_clock(store, config, Arc::new(clock::SystemClock))
}

/// [`app`] on a given clock (tests move time to expire tokens and invitations).
pub fn app_with_clock(
    store: Arc<dyn Store>,
    config: HttpConfig,
    clock: Arc<dyn clock::Clock>,
) -> axum::Router {
    let state = AppState {
        store,
        config: Arc::new(config),
        clock,
        tokens: Default::default(),
    };
    ops::router(state)
}
