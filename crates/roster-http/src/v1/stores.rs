//! `/v1/tenants/{t}/stores`: selling locations. Writes need MANAGE_STORES;
//! any credential of the tenant may read.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::input::{NewStore, StorePatch};
use roster_core::{validate, Permission, Store, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{List, PageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_store, list_stores))
        .routes(routes!(get_store, update_store, delete_store))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreCreate {
    /// `^[A-Za-z0-9-_]+$`; generated when absent.
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub id: Option<String>,
    /// Unique in the tenant: a lowercase letter, then `a-z`, `0-9`, `_`; not
    /// `default` or `all` (they name every store on the B2B surface).
    #[schema(schema_with = crate::schema::store_code)]
    pub code: String,
    #[schema(schema_with = crate::schema::text::<255>)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreUpdate {
    #[schema(schema_with = crate::schema::store_code_or_null)]
    pub code: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreView {
    pub id: String,
    /// Per-tenant number (the B2B surface's `store_id`).
    pub number: i64,
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Store> for StoreView {
    fn from(s: Store) -> Self {
        StoreView {
            id: s.id,
            number: s.number,
            code: s.code,
            name: s.name,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Creates a store (MANAGE_STORES).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/stores", tag = "stores", params(("tenant" = String, Path)),
    request_body = StoreCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = StoreView)))]
async fn create_store(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<StoreCreate>,
) -> ApiResult<(StatusCode, axum::Json<StoreView>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageStores)
        .await?;
    let mut v = Validation::new();
    let id = match body.id {
        Some(id) => v.check("id", validate::identifier(&id)),
        None => Some(uuid::Uuid::now_v7().simple().to_string()),
    };
    let code = v.check("code", validate::store_code(&body.code));
    let name = v.check("name", validate::text(&body.name, 255));
    v.finish().map_err(ApiError::fields)?;
    let new = NewStore {
        id: id.unwrap_or_default(),
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
    };
    let store = app.tenancy().create_store(&scope, new).await?;
    Ok((StatusCode::CREATED, axum::Json(store.into())))
}

/// Lists the tenant's stores (any credential of the tenant).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/stores", tag = "stores", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<StoreView>)))]
async fn list_stores(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<StoreView>>> {
    let scope = app.enter(&caller, &tenant).await?;
    let listed = app.tenancy().list_stores(&scope, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, StoreView::from)))
}

/// Reads a store (any credential of the tenant).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/stores/{id}", tag = "stores",
    params(("tenant" = String, Path), ("id" = String, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = StoreView)))]
async fn get_store(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<StoreView>> {
    let scope = app.enter(&caller, &tenant).await?;
    Ok(axum::Json(
        app.tenancy().get_store(&scope, &id).await?.into(),
    ))
}

/// Changes a store's code or name (MANAGE_STORES).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/stores/{id}", tag = "stores",
    params(("tenant" = String, Path), ("id" = String, Path)), request_body = StoreUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = StoreView)))]
async fn update_store(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    Json(body): Json<StoreUpdate>,
) -> ApiResult<axum::Json<StoreView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageStores)
        .await?;
    let mut v = Validation::new();
    let patch = StorePatch {
        code: v.check_opt("code", body.code.as_deref(), validate::store_code),
        name: v.check_opt("name", body.name.as_deref(), |n| validate::text(n, 255)),
    };
    v.finish().map_err(ApiError::fields)?;
    Ok(axum::Json(
        app.tenancy().update_store(&scope, &id, patch).await?.into(),
    ))
}

/// Deletes a store; users lose access to it (MANAGE_STORES).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/stores/{id}", tag = "stores",
    params(("tenant" = String, Path), ("id" = String, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_store(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageStores)
        .await?;
    app.tenancy().delete_store(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
