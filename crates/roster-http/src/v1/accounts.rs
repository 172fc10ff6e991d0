//! `/v1/accounts`: global identities that can belong to many tenants
//! (admin token).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::credentials::AccountDraft;
use roster_app::NewPassword;
use roster_core::{validate, Account, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_account))
        .routes(routes!(get_account))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "maria@example.com", "password": "correct-horse-battery-staple", "first_name": "Maria"}))]
pub struct AccountCreate {
    /// Globally unique, compared case-insensitively.
    #[schema(schema_with = crate::schema::email)]
    pub email: String,
    /// 12 to 128 characters, not guessable. Write-only.
    #[schema(schema_with = crate::schema::password)]
    pub password: String,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub first_name: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub last_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub global_roles: Vec<String>,
    pub default_tenant_uid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.id,
            email: a.email,
            first_name: a.first_name,
            last_name: a.last_name,
            global_roles: a.global_roles,
            default_tenant_uid: a.default_tenant_uid,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// Creates a global account (admin token).
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = AccountCreate,
    security(("admin_token" = [])), responses((status = 201, body = AccountView)))]
async fn create_account(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<AccountCreate>,
) -> ApiResult<(StatusCode, axum::Json<AccountView>)> {
    caller.require_admin()?;
    let mut v = Validation::new();
    let email = v.check("email", validate::email(&body.email));
    let first_name = v.check_opt("first_name", body.first_name.as_deref(), |n| {
        validate::text(n, 255)
    });
    let last_name = v.check_opt("last_name", body.last_name.as_deref(), |n| {
        validate::text(n, 255)
    });
    v.finish().map_err(ApiError::fields)?;
    let draft = AccountDraft {
        email: email.unwrap_or_default(),
        first_name,
        last_name,
        password: NewPassword::new(body.password, "password"),
    };
    let account = app.credentials().create_account(&caller, draft).await?;
    Ok((StatusCode::CREATED, axum::Json(account.into())))
}

/// Reads a global account (admin token).
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    security(("admin_token" = [])), responses((status = 200, body = AccountView)))]
async fn get_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<AccountView>> {
    Ok(axum::Json(
        app.credentials().get_account(&caller, id).await?.into(),
    ))
}
