//! `/v1/tenants`: the isolation boundary, managed with the admin token.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::Tenant;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{List, PageQuery};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// `^[A-Za-z0-9-_]+$`; generated when absent.
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub uid: Option<String>,
    #[schema(schema_with = crate::schema::text::<255>)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub uid: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            uid: t.uid,
            name: t.name,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Creates a tenant (admin token).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = TenantCreate,
    security(("admin_token" = [])), responses((status = 201, body = TenantView)))]
async fn create_tenant(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<TenantCreate>,
) -> ApiResult<(StatusCode, axum::Json<TenantView>)> {
    let tenant = app
        .tenancy()
        .create_tenant(&caller, body.uid.as_deref(), &body.name)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(tenant.into())))
}

/// Lists tenants (admin token).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageQuery),
    security(("admin_token" = [])), responses((status = 200, body = List<TenantView>)))]
async fn list_tenants(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<TenantView>>> {
    let listed = app.tenancy().list_tenants(&caller, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, TenantView::from)))
}

/// Reads a tenant (any credential of the tenant).
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = TenantView)))]
async fn get_tenant(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<axum::Json<TenantView>> {
    let scope = app.enter(&caller, &tenant).await?;
    Ok(axum::Json(app.tenancy().get_tenant(&scope).await?.into()))
}

/// Renames a tenant (admin token).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path)),
    request_body = TenantUpdate, security(("admin_token" = [])), responses((status = 200, body = TenantView)))]
async fn update_tenant(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<TenantUpdate>,
) -> ApiResult<axum::Json<TenantView>> {
    let updated = app
        .tenancy()
        .rename_tenant(&caller, &tenant, body.name)
        .await?;
    Ok(axum::Json(updated.into()))
}

/// Deletes a tenant and all its data (admin token).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path)),
    security(("admin_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_tenant(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    app.tenancy().delete_tenant(&caller, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}
