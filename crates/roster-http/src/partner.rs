//! Partner user (seed 001): `GET /partner/v1/users/me`, the signed-in user
//! as the partner API shows it. The caller is a user's access token or an
//! API key bound to the user (partner `api` users act through those).

use axum::extract::State;
use chrono::{DateTime, Utc};
use roster_core::{ApiKeyGrant, PartnerRole};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// Seed 001's timestamps: ISO 8601 with milliseconds, UTC `Z`.
fn iso_millis(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The partner API's user object.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "_id": "0193a0c4-7d1e-7c3a-9f00-5b8f2a1c4d5e", "email": "ops@partner.example", "login": "ops",
    "role": "partner", "partner_role": "manager", "partner": "Acme Retail", "store_ids": ["main"],
    "first_name": "Olga", "last_name": "Pérez",
    "created_at": "2024-01-01T10:00:00.000Z", "updated_at": "2024-01-01T10:00:00.000Z"
}))]
pub struct PartnerUser {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: Option<String>,
    pub login: Option<String>,
    /// Always `partner`.
    pub role: String,
    /// `manager`, `viewer` or `api`, as stored; `null` for a user without one.
    pub partner_role: Option<PartnerRole>,
    /// The tenant's name.
    pub partner: String,
    /// The stores the user may access.
    pub store_ids: Vec<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `yyyy-mm-ddThh:mm:ss.sssZ`.
    pub created_at: String,
    pub updated_at: String,
}

/// The current authenticated user (a user's access token, or an API key
/// bound to a user).
#[utoipa::path(get, path = "/partner/v1/users/me", tag = "partner", security(("access_token" = []), ("api_key" = [])),
    responses((status = 200, body = PartnerUser)))]
async fn me(State(app): State<AppState>, caller: Caller) -> ApiResult<axum::Json<PartnerUser>> {
    let tenant = match &caller {
        Caller::User { tenant, .. }
        | Caller::ApiKey {
            tenant,
            grant: ApiKeyGrant::User(_),
            ..
        } => tenant.clone(),
        Caller::ApiKey { .. } => {
            return Err(ApiError::Forbidden(
                "this API key is not bound to a user".into(),
            ));
        }
        Caller::Admin | Caller::Account { .. } => {
            return Err(ApiError::Forbidden(
                "send a user's access token or a user-bound API key".into(),
            ));
        }
    };
    let scope = app.enter(&caller, &tenant).await?;
    let partner = app.tenancy().get_tenant(&scope).await?.name;
    let user = app.users().me(&scope).await?;
    Ok(axum::Json(PartnerUser {
        id: user.id.to_string(),
        email: user.profile.email,
        login: user.profile.login,
        role: "partner".into(),
        partner_role: user.roles.partner,
        partner,
        store_ids: user.store_ids,
        first_name: user.profile.first_name,
        last_name: user.profile.last_name,
        created_at: iso_millis(&user.created_at),
        updated_at: iso_millis(&user.updated_at),
    }))
}
