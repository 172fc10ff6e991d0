//! Roster's HTTP layer: the native `/v1` API, operations endpoints, and (as
//! they land) one module per seed surface, each a thin translation onto the
//! same store.

use std::sync::Arc;

use roster_store::Store;

pub mod auth;
mod commerce;
pub mod error;
pub mod extract;
mod ops;
mod service;
pub mod v1;

pub use error::{ApiError, Problem};

/// Settings the HTTP layer needs.
#[derive(Clone, Default)]
pub struct HttpConfig {
    /// The platform operator's token; `None` disables admin access.
    pub admin_token: Option<String>,
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
}

/// The whole application: every route, the OpenAPI document and the docs UI,
/// wrapped in tracing, metrics and trace ids.
pub fn app(store: Arc<dyn Store>, config: HttpConfig) -> axum::Router {
    let state = AppState {
        store,
        config: Arc::new(config),
    };
    ops::router(state)
}
