//! Who is calling, and what they may do. Every handler's first line asks
//! [`Caller`] for the permission it needs, so authorization is greppable.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use roster_core::{permission, secret, Actor, ApiKeyGrant, Permission, Target};
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
}

/// The token of an `Authorization` header: `Bearer <token>` or a bare token.
pub fn presented_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(parts).ok_or_else(|| {
            ApiError::Unauthorized("send credentials in the Authorization header".into())
        })?;
        if let Some(admin) = &app.config.admin_token {
            if secret::constant_time_eq(token.as_bytes(), admin.as_bytes()) {
                return Ok(Caller::Admin);
            }
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
            None => Err(ApiError::Unauthorized(
                "the credentials are not valid".into(),
            )),
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
            Caller::ApiKey { .. } => Err(ApiError::Forbidden(
                "only the admin token may do this".into(),
            )),
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
            Caller::ApiKey {
                tenant: own,
                id,
                grant,
            } if own == tenant => Ok(match grant {
                ApiKeyGrant::User(user) => Actor::User(*user),
                ApiKeyGrant::Permissions(_) => Actor::ApiKey(*id),
            }),
            Caller::ApiKey { .. } => Err(no_such_tenant()),
        }
    }

    /// A credential of `tenant` holding `permission` tenant-wide.
    pub async fn authorize(
        &self,
        app: &AppState,
        tenant: &str,
        permission: Permission,
    ) -> ApiResult<Actor> {
        let actor = self.member_of(app, tenant).await?;
        let allowed = match self {
            Caller::Admin => true,
            Caller::ApiKey {
                grant: ApiKeyGrant::Permissions(held),
                ..
            } => held.contains(&permission),
            Caller::ApiKey {
                grant: ApiKeyGrant::User(user),
                ..
            } => {
                let facts = app.store.check_facts(tenant, *user, None, None).await?;
                facts.subject.is_some_and(|s| {
                    permission::evaluate(&s, permission, &Target::default()).allowed
                })
            }
        };
        if allowed {
            Ok(actor)
        } else {
            Err(ApiError::Forbidden(format!(
                "this credential lacks {permission}"
            )))
        }
    }
}
