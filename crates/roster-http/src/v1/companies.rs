//! `/v1/tenants/{t}/companies`: commerces, suppliers and retailers
//! (MANAGE_COMMERCES, reads included).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::input::{CompanyPatch, NewCompany};
use roster_core::{validate, Company, CompanyKind, CompanyStatus, Permission, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{nullable, List, PageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_company, list_companies))
        .routes(routes!(get_company, update_company, delete_company))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyCreate {
    #[schema(schema_with = crate::schema::text::<255>)]
    pub name: String,
    /// Default `COMMERCE`.
    pub kind: Option<CompanyKind>,
    /// Unique in the tenant when set.
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<String>,
    /// Default `ACTIVE`.
    pub status: Option<CompanyStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<String>,
    pub kind: Option<CompanyKind>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<Option<String>>,
    pub status: Option<CompanyStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    pub id: Uuid,
    /// Per-tenant number, 1, 2, 3… (the B2B surface's `company_id`).
    pub number: i64,
    pub kind: CompanyKind,
    pub name: String,
    pub external_id: Option<String>,
    pub status: CompanyStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Company> for CompanyView {
    fn from(c: Company) -> Self {
        CompanyView {
            id: c.id,
            number: c.number,
            kind: c.kind,
            name: c.name,
            external_id: c.external_id,
            status: c.status,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn external_id(value: &str) -> Result<String, String> {
    validate::text(value, 255)
}

/// Creates a company (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/companies", tag = "companies", params(("tenant" = String, Path)),
    request_body = CompanyCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = CompanyView)))]
async fn create_company(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<CompanyCreate>,
) -> ApiResult<(StatusCode, axum::Json<CompanyView>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let mut v = Validation::new();
    let name = v.check("name", validate::text(&body.name, 255));
    let external_id = v.check_opt("external_id", body.external_id.as_deref(), external_id);
    v.finish().map_err(ApiError::fields)?;
    let new = NewCompany {
        kind: body.kind.unwrap_or(CompanyKind::Commerce),
        name: name.unwrap_or_default(),
        external_id,
        status: body.status.unwrap_or(CompanyStatus::Active),
    };
    let company = app.tenancy().create_company(&scope, new).await?;
    Ok((StatusCode::CREATED, axum::Json(company.into())))
}

/// Lists the tenant's companies, by number (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/companies", tag = "companies", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<CompanyView>)))]
async fn list_companies(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<CompanyView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let listed = app.tenancy().list_companies(&scope, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, CompanyView::from)))
}

/// Reads a company (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/companies/{id}", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = CompanyView)))]
async fn get_company(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<CompanyView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    scope.require(Permission::ManageCommerces)?;
    Ok(axum::Json(
        app.tenancy().get_company(&scope, id).await?.into(),
    ))
}

/// Changes a company (MANAGE_COMMERCES).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/companies/{id}", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = CompanyUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = CompanyView)))]
async fn update_company(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<CompanyUpdate>,
) -> ApiResult<axum::Json<CompanyView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let mut v = Validation::new();
    let patch = CompanyPatch {
        kind: body.kind,
        name: v.check_opt("name", body.name.as_deref(), |n| validate::text(n, 255)),
        external_id: match body.external_id {
            Some(Some(e)) => v.check("external_id", external_id(&e)).map(Some),
            Some(None) => Some(None),
            None => None,
        },
        status: body.status,
    };
    v.finish().map_err(ApiError::fields)?;
    Ok(axum::Json(
        app.tenancy()
            .update_company(&scope, id, patch)
            .await?
            .into(),
    ))
}

/// Deletes a company with no users, quotes or orders (MANAGE_COMMERCES).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/companies/{id}", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_company(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    app.tenancy().delete_company(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
