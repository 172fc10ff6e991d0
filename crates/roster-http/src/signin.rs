//! The client's address for sign-in throttling: the TCP peer, or, when the
//! peer is a trusted proxy (`ROSTER_TRUSTED_PROXIES`), the address its
//! `X-Forwarded-For` names (`TrustedProxies::client_of` says which).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
pub use roster_app::signin::ClientAddr;

use crate::AppState;

/// The client's address.
pub struct Client(pub ClientAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(Client(ClientAddr(None)));
        };
        let forwarded_for: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let client = state
            .config()
            .trusted_proxies
            .client_of(peer, forwarded_for.into_iter());
        Ok(Client(ClientAddr(Some(client))))
    }
}
