//! Signing in, shared by the surfaces that do it (POS devices, the auth
//! service, B2B customer tokens): throttling failed attempts, checking
//! passwords in constant time, and starting sessions with signed tokens.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use roster_core::secret::{self, Password};
use roster_core::throttle::retry_after;
use roster_core::SessionKind;
use roster_store::NewSession;

use crate::error::{ApiError, ApiResult};
use crate::tokens::{Claims, ISSUER};
use crate::AppState;

/// The client's address, from the TCP connection.
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Sign-in throttling: a login name (known or not) and a client address.
pub struct Throttle {
    name: String,
    address: String,
}

impl Throttle {
    pub fn new(name: String, addr: &ClientAddr) -> Throttle {
        let address = format!(
            "addr:{}",
            addr.0
                .map_or_else(|| "unknown".to_string(), |a| a.to_string())
        );
        Throttle { name, address }
    }

    /// 429 while the name is locked or the address is over its limit.
    pub async fn guard(&self, app: &AppState) -> ApiResult<()> {
        let now = app.clock.now();
        let policy = app.config.throttle;
        let minute = chrono::Duration::minutes(1);
        for t in app
            .store
            .throttles(&[self.name.clone(), self.address.clone()])
            .await?
        {
            if let Some(until) = t.locked_until.filter(|until| *until > now) {
                return Err(ApiError::TooManyRequests {
                    retry_after: retry_after(now, until),
                });
            }
            if t.key == self.address
                && t.failures >= policy.address_per_minute
                && now - t.window_start < minute
            {
                return Err(ApiError::TooManyRequests {
                    retry_after: retry_after(now, t.window_start + minute),
                });
            }
        }
        Ok(())
    }

    pub async fn failed(&self, app: &AppState) -> ApiResult<()> {
        let now = app.clock.now();
        let counted = app.store.record_failure(&self.name, now, None).await?;
        if let Some(lock) = app.config.throttle.lock_for(counted.failures) {
            app.store.lock_until(&self.name, now + lock).await?;
        }
        app.store
            .record_failure(&self.address, now, Some(chrono::Duration::minutes(1)))
            .await?;
        Ok(())
    }

    pub async fn succeeded(&self, app: &AppState) -> ApiResult<()> {
        Ok(app.store.clear_failures(&self.name).await?)
    }
}

/// Verifies a password off the async threads; an unknown user is checked
/// against a dummy hash so both take the same time.
pub async fn password_matches(stored: Option<String>, candidate: &str) -> ApiResult<bool> {
    let candidate = Password::candidate(candidate);
    tokio::task::spawn_blocking(move || secret::verify_password(stored.as_deref(), &candidate))
        .await
        .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))
}

/// Starts a session and signs its token.
pub async fn issue(
    app: &AppState,
    kind: SessionKind,
    tenant: Option<&str>,
    sub: uuid::Uuid,
    account: Option<uuid::Uuid>,
    device: Option<uuid::Uuid>,
) -> ApiResult<(String, i64)> {
    let now = app.clock.now();
    let ttl = match kind {
        SessionKind::Access => app.config.access_token_ttl,
        SessionKind::Auth => app.config.auth_token_ttl,
    };
    let session = app
        .store
        .create_session(NewSession {
            kind,
            tenant: tenant.map(String::from),
            user_id: (kind == SessionKind::Access).then_some(sub),
            account_id: account,
            device_id: device,
            created_at: now,
            expires_at: now + ttl,
        })
        .await?;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: sub.to_string(),
        kind,
        tid: tenant.map(String::from),
        sid: session.id,
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    let token = app.tokens().await?.sign(&claims, now).await?;
    Ok((token, ttl.num_seconds()))
}
