//! Roster's HTTP layer: the native `/v1` API, the operations endpoints and
//! one module per seed surface. Each handler parses its surface's shapes,
//! makes one call to the application layer (`roster-app`) and renders the
//! answer; no rule and no storage lives here.

pub mod auth;
mod b2b;
mod commerce;
mod console;
pub mod error;
pub mod extract;
mod ops;
mod partner;
mod pos;
mod retail_media;
mod schema;
mod scim;
mod serve;
mod signin;
pub mod v1;

pub use error::{ApiError, Problem};
pub use ops::Limits;
pub use serve::{serve, Stopped};

/// What every handler can reach: the application.
#[derive(Clone)]
pub struct AppState {
    app: roster_app::App,
}

impl std::ops::Deref for AppState {
    type Target = roster_app::App;

    fn deref(&self) -> &roster_app::App {
        &self.app
    }
}

/// The whole application: every route, the OpenAPI document and the docs UI,
/// wrapped in tracing, metrics and trace ids, with the default limits.
pub fn router(app: roster_app::App) -> axum::Router {
    router_with_limits(app, Limits::default())
}

/// The whole application under these limits.
pub fn router_with_limits(app: roster_app::App, limits: Limits) -> axum::Router {
    ops::router(AppState { app }, limits)
}
