//! `/v1/tenants/{t}/companies/{id}/scim-tokens`: a company's SCIM tokens
//! (MANAGE_COMMERCES), each provisioning only that company's users and
//! groups at `/scim/v2`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::{Permission, ScimToken};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::List;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::Path;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_scim_token, list_scim_tokens))
        .routes(routes!(revoke_scim_token))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: Uuid,
    pub company_id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<ScimToken> for ScimTokenView {
    fn from(t: ScimToken) -> Self {
        ScimTokenView {
            id: t.id,
            company_id: t.company_id,
            created_at: t.created_at,
        }
    }
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenCreated {
    #[serde(flatten)]
    pub scim_token: ScimTokenView,
    /// `rscim_…`: the bearer token for `/scim/v2`. Not shown again.
    pub token: String,
}

/// Makes a SCIM token for the company (MANAGE_COMMERCES): it sees and
/// provisions only the company's users (new users join it) and groups.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/companies/{id}/scim-tokens", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 201, body = ScimTokenCreated)))]
async fn create_scim_token(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, company)): Path<(String, Uuid)>,
) -> ApiResult<(StatusCode, axum::Json<ScimTokenCreated>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let issued = app.scim_tokens().create(&scope, company).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ScimTokenCreated {
            scim_token: issued.record.into(),
            token: issued.token,
        }),
    ))
}

/// Lists the company's SCIM tokens, without their secrets
/// (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/companies/{id}/scim-tokens", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 200, body = List<ScimTokenView>)))]
async fn list_scim_tokens(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, company)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<List<ScimTokenView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let tokens = app.scim_tokens().list(&scope, company).await?;
    Ok(axum::Json(List {
        data: tokens.into_iter().map(ScimTokenView::from).collect(),
        next_cursor: None,
    }))
}

/// Revokes a SCIM token of the company (MANAGE_COMMERCES); it stops on its
/// next request.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/companies/{id}/scim-tokens/{token_id}", tag = "companies",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ("token_id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 204, description = "Revoked")))]
async fn revoke_scim_token(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, company, id)): Path<(String, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    app.scim_tokens().revoke(&scope, company, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
