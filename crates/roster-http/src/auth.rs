//! Who is calling, and what they may do. Every handler's first line asks
//! [`Caller`] for the permission it needs, so authorization is greppable.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};
use roster_core::{permission, secret, Actor, ApiKeyGrant, Permission, SessionKind, Target};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The authenticated credential of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The platform operator (`ROSTER_ADMIN_TOKEN`): everything, every tenant.
    Admin,
    /// An API key of one tenant.
    ApiKey {
        tenant: String,
        id: Uuid,
        grant: ApiKeyGrant,
    },
    /// A tenant user signed in: an access token.
    User {
        tenant: String,
        user: Uuid,
        session: Uuid,
    },
    /// A global account signed in: an auth token.
    Account { account: Uuid, session: Uuid },
}

/// The token of an `Authorization` header: `Bearer <token>` or a bare token.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// Whether a token is shaped like a JWT (three dot-separated parts).
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.into())
}

/// Checks a signed token and the session behind it: revoked sessions,
/// expired tokens, and users deactivated, blocked or deleted since are
/// refused at once (401), whichever process made the change.
pub async fn session_caller(app: &AppState, token: &str) -> ApiResult<Caller> {
    let now = app.clock.now();
    let claims = app
        .tokens()
        .await?
        .verify(token, now)
        .await
        .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let session = app
        .store
        .get_session(claims.sid)
        .await?
        .ok_or_else(|| unauthorized("the session has ended"))?;
    if session.revoked_at.is_some() || session.expires_at <= now {
        return Err(unauthorized("the session has ended"));
    }
    match session.kind {
        SessionKind::Access => {
            let (Some(tenant), Some(user)) = (session.tenant, session.user_id) else {
                return Err(unauthorized("the token is not valid"));
            };
            let found = match app.store.get_user(&tenant, user).await {
                Ok(found) => found,
                Err(roster_store::StoreError::NotFound(_)) => {
                    return Err(unauthorized("the user no longer exists"))
                }
                Err(e) => return Err(e.into()),
            };
            if !found.may_act() {
                return Err(unauthorized("the user is deactivated or blocked"));
            }
            Ok(Caller::User {
                tenant,
                user,
                session: session.id,
            })
        }
        SessionKind::Auth => {
            let account = session
                .account_id
                .ok_or_else(|| unauthorized("the token is not valid"))?;
            Ok(Caller::Account {
                account,
                session: session.id,
            })
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(&parts.headers)
            .ok_or_else(|| unauthorized("send credentials in the Authorization header"))?;
        if let Some(admin) = &app.config.admin_token {
            if secret::constant_time_eq(token.as_bytes(), admin.as_bytes()) {
                return Ok(Caller::Admin);
            }
        }
        if is_jwt(token) {
            return session_caller(app, token).await;
        }
        match app
            .store
            .authenticate_api_key(&secret::hash_token(token))
            .await?
        {
            Some(identity) => Ok(Caller::ApiKey {
                tenant: identity.tenant,
                id: identity.key.id,
                grant: identity.key.grant,
            }),
            None => Err(unauthorized("the credentials are not valid")),
        }
    }
}

fn no_such_tenant() -> ApiError {
    ApiError::NotFound("tenant not found".into())
}

impl Caller {
    /// Only the platform operator.
    pub fn admin(&self) -> ApiResult<Actor> {
        match self {
            Caller::Admin => Ok(Actor::Admin),
            _ => Err(ApiError::Forbidden(
                "only the admin token may do this".into(),
            )),
        }
    }

    /// The user this credential acts as, if any.
    fn acting_user(&self) -> Option<Uuid> {
        match self {
            Caller::ApiKey {
                grant: ApiKeyGrant::User(user),
                ..
            }
            | Caller::User { user, .. } => Some(*user),
            _ => None,
        }
    }

    /// Any credential of `tenant`. Another tenant's credential gets 404, as
    /// if the tenant did not exist.
    pub async fn member_of(&self, app: &AppState, tenant: &str) -> ApiResult<Actor> {
        match self {
            Caller::Admin => {
                app.store.get_tenant(tenant).await?;
                Ok(Actor::Admin)
            }
            Caller::ApiKey { tenant: own, id, grant } if own == tenant => match grant {
                ApiKeyGrant::Permissions(_) => Ok(Actor::ApiKey(*id)),
                ApiKeyGrant::User(user) => {
                    // A key acts exactly as its user: nothing once the user is
                    // deactivated or blocked.
                    let facts = app.store.check_facts(tenant, *user, None, None).await?;
                    let usable = facts.subject.is_some_and(|s| s.may_act());
                    if !usable {
                        return Err(ApiError::Forbidden("the key's user is deactivated or blocked".into()));
                    }
                    Ok(Actor::User(*user))
                }
            },
            Caller::User { tenant: own, user, .. } if own == tenant => Ok(Actor::User(*user)),
            Caller::ApiKey { .. } | Caller::User { .. } => Err(no_such_tenant()),
            Caller::Account { .. } => Err(ApiError::Forbidden(
                "an auth token acts only on /account; exchange it for an access token at POST /tenants/{tenantUid}/account".into(),
            )),
        }
    }

    /// A credential of `tenant` holding `permission` tenant-wide.
    /// Whether this credential holds `permission` at `target` in `tenant`
    /// (call [`Caller::member_of`] first): the admin token holds everything,
    /// a permission key its list tenant-wide, a user's credential what the
    /// user's roles grant there.
    pub async fn holds(
        &self,
        app: &AppState,
        tenant: &str,
        permission: Permission,
        target: &Target,
    ) -> ApiResult<bool> {
        Ok(match (self, self.acting_user()) {
            (Caller::Admin, _) => true,
            (_, Some(user)) => {
                let facts = app
                    .store
                    .check_facts(tenant, user, target.store_id.as_deref(), target.company_id)
                    .await?;
                facts
                    .subject
                    .is_some_and(|s| permission::evaluate(&s, permission, target).allowed)
            }
            (
                Caller::ApiKey {
                    grant: ApiKeyGrant::Permissions(held),
                    ..
                },
                None,
            ) => held.contains(&permission),
            _ => false,
        })
    }

    pub async fn authorize(
        &self,
        app: &AppState,
        tenant: &str,
        permission: Permission,
    ) -> ApiResult<Actor> {
        let actor = self.member_of(app, tenant).await?;
        let allowed = self
            .holds(app, tenant, permission, &Target::default())
            .await?;
        if allowed {
            Ok(actor)
        } else {
            Err(ApiError::Forbidden(format!(
                "this credential lacks {permission}"
            )))
        }
    }
}
