//! `/v1/tenants/{t}/api-keys`: machine credentials (MANAGE_API_KEYS).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::{ApiKey, ApiKeyGrant, Permission};
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub name: String,
    pub permissions: Option<Vec<Permission>>,
    pub user_id: Option<Uuid>,
}

// Written by hand: the derive cannot say "exactly one of `permissions` and
// `user_id`", which `create_api_key` requires.
impl utoipa::PartialSchema for ApiKeyCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type,
        };
        use utoipa::openapi::{KnownFormat, Ref, SchemaFormat};
        let permissions = ArrayBuilder::new().items(Ref::from_schema_name("Permission"));
        let user_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        let key = |field: &str, schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            ObjectBuilder::new()
                .property("name", crate::schema::text::<255>())
                .property(field, schema)
                .required("name")
                .required(field)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .build()
        };
        OneOfBuilder::new()
            .description(Some(
                "A new key: its `name`, and either its own `permissions` or the `user_id` it acts as.",
            ))
            .item(key("permissions", permissions.build().into()))
            .item(key("user_id", user_id.build().into()))
            .examples([serde_json::json!({"name": "erp-sync", "permissions": ["MANAGE_USERS", "VIEW_USERS"]})])
            .into()
    }
}

impl ToSchema for ApiKeyCreate {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("Permission".into(), Permission::schema()));
    }
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
    request_body = ApiKeyCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = ApiKeyCreated)))]
async fn create_api_key(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<ApiKeyCreate>,
) -> ApiResult<(StatusCode, axum::Json<ApiKeyCreated>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageApiKeys)
        .await?;
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
        .create_api_key(&scope, body.name, grant)
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
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<ApiKeyView>)))]
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
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Revoked")))]
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
