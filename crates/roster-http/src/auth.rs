//! The credential of a request: the `Authorization` header turned into the
//! application's [`Caller`] (every handler that needs one takes it as an
//! extractor, and its first call enters a tenant with the permission it
//! needs, so authorization is greppable).

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};
pub use roster_app::Caller;

use crate::error::ApiError;
use crate::AppState;

/// The token of an `Authorization` header: `Bearer <token>` or a bare token.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized("send credentials in the Authorization header".into())
        })?;
        Ok(app.authenticate(token).await?)
    }
}
