//! `/v1/tenants/{t}/api-keys`: machine credentials (MANAGE_API_KEYS).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::{validate, ApiKey, ApiKeyGrant, Permission};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{List, PageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(delete_api_key))
}

/// A new key: either its own `permissions`, or a `user_id` it acts as.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "erp-sync", "permissions": ["MANAGE_USERS", "VIEW_USERS"]}))]
pub struct ApiKeyCreate {
    pub name: String,
    pub permissions: Option<Vec<Permission>>,
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's own permissions (absent for a key bound to a user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    /// The user the key acts as (absent for a key with its own permissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A key just made: the only time its token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret; send it as `Authorization: Bearer <token>`. Not shown again.
    pub token: String,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        let (permissions, user_id) = match k.grant {
            ApiKeyGrant::Permissions(p) => (Some(p), None),
            ApiKeyGrant::User(u) => (None, Some(u)),
        };
        ApiKeyView {
            id: k.id,
            name: k.name,
            permissions,
            user_id,
            created_at: k.created_at,
        }
    }
}

/// Creates an API key (MANAGE_API_KEYS); the answer holds its token, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/api-keys", tag = "api-keys", params(("tenant" = String, Path)),
    request_body = ApiKeyCreate, security(("bearer" = [])), responses((status = 201, body = ApiKeyCreated)))]
async fn create_api_key(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<ApiKeyCreate>,
) -> ApiResult<(StatusCode, axum::Json<ApiKeyCreated>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageApiKeys)
        .await?;
    let name = validate::text(&body.name, 255).map_err(|m| ApiError::field("name", m))?;
    let grant = match (body.permissions, body.user_id) {
        (Some(mut permissions), None) => {
            permissions.sort();
            permissions.dedup();
            ApiKeyGrant::Permissions(permissions)
        }
        (None, Some(user)) => ApiKeyGrant::User(user),
        _ => {
            return Err(ApiError::field(
                "permissions",
                "give either permissions or user_id, not both or neither",
            ))
        }
    };
    let issued = app
        .credentials()
        .create_api_key(&scope, name, grant)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiKeyCreated {
            key: issued.record.into(),
            token: issued.token,
        }),
    ))
}

/// Lists the tenant's API keys, without their tokens (MANAGE_API_KEYS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/api-keys", tag = "api-keys", params(("tenant" = String, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = List<ApiKeyView>)))]
async fn list_api_keys(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<ApiKeyView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageApiKeys)
        .await?;
    let listed = app
        .credentials()
        .list_api_keys(&scope, &query.page()?)
        .await?;
    Ok(axum::Json(List::from_listed(listed, ApiKeyView::from)))
}

/// Revokes an API key at once (MANAGE_API_KEYS).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/api-keys/{id}", tag = "api-keys",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 204, description = "Revoked")))]
async fn delete_api_key(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageApiKeys)
        .await?;
    app.credentials().delete_api_key(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
