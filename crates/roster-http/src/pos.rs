//! POS accounts (seed 003) and the auth service: device sign-in, global
//! accounts, access tokens, invitations; `/auth/login`, `/auth/logout` and
//! the JWKS. Bodies are camelCase as in the seed (unknown fields ignored);
//! `/auth` bodies are strict like `/v1`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use roster_app::accounts::AccountInfo as Info;
use roster_app::input::{ProfilePatch, UserPatch};
use roster_app::NewPassword;
use roster_core::{validate, AccountType, Profile, TenantRole, User, UserStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{presented_token, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::signin::Client;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_account, device_login, update_account))
        .routes(routes!(
            get_tenant_account,
            exchange_token,
            update_tenant_account
        ))
        .routes(routes!(get_invite, accept_invite))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(jwks))
}

// ---------------------------------------------------------------- shapes

/// The tenant user of seed 003.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantAccount {
    /// FULL, REGULAR, SUPPORT or INTEGRATION.
    pub account_type: AccountType,
    pub created_at: DateTime<Utc>,
    pub default_store_uid: Option<String>,
    pub display_name: String,
    pub email: String,
    pub external_id: String,
    pub firstname: String,
    /// The last sign-in; `null` before the first.
    pub last_accessed: Option<DateTime<Utc>>,
    pub last_modified_at: DateTime<Utc>,
    pub lastname: String,
    pub mobile: String,
    /// ACTIVE or INACTIVE.
    pub status: UserStatus,
    pub tenant_uid: String,
    /// BLOCKED, ACCESS, ADMIN or BACKOFFICE; `null` for a user without one.
    pub tenant_role: Option<TenantRole>,
    pub tenant_user_uid: String,
    pub user_code: String,
    /// ISO 639-1.
    pub language_code: String,
}

fn tenant_account(tenant: &str, user: User) -> TenantAccount {
    let p = user.profile;
    let joined = [p.first_name.as_deref(), p.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let display_name = p.display_name.or(p.name).unwrap_or(joined);
    TenantAccount {
        account_type: user.account_type,
        created_at: user.created_at,
        default_store_uid: user.default_store_id,
        display_name,
        email: p.email.unwrap_or_default(),
        external_id: user.external_id.unwrap_or_default(),
        firstname: p.first_name.unwrap_or_default(),
        last_accessed: user.last_accessed_at,
        last_modified_at: user.updated_at,
        lastname: p.last_name.unwrap_or_default(),
        mobile: p.mobile.unwrap_or_default(),
        status: user.status,
        tenant_uid: tenant.to_string(),
        tenant_role: user.roles.tenant,
        tenant_user_uid: user.id.to_string(),
        user_code: p.user_code.unwrap_or_default(),
        language_code: p.language_code.unwrap_or_default(),
    }
}

/// The tenant user and a fresh access token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantAccountWithToken {
    #[serde(flatten)]
    pub account: TenantAccount,
    pub access_token: String,
}

/// A tenant the account belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountTenant {
    pub tenant_uid: String,
    pub tenant_name: String,
}

/// The global account of seed 003, with the tenants it belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub global_roles: Vec<String>,
    pub default_tenant_uid: String,
    pub tenants: Vec<AccountTenant>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"userCode": "1001", "password": "correct-horse-battery-staple"}))]
pub struct DeviceLogin {
    pub user_code: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub access_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    /// `^[A-Za-z0-9-_]+`: a tenant the account belongs to.
    #[schema(schema_with = crate::schema::identifier)]
    pub default_tenant_uid: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantAccountUpdate {
    /// `^[A-Za-z0-9-_]*`: a store the user may use; empty clears it.
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub default_store_uid: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub display_name: Option<String>,
    #[schema(schema_with = crate::schema::email_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub firstname: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub lastname: Option<String>,
    /// E.164.
    #[schema(schema_with = crate::schema::e164_or_null)]
    pub mobile: Option<String>,
    /// A new sign-in password (12 to 128 characters, not guessable).
    #[schema(schema_with = crate::schema::password_or_null)]
    pub password: Option<String>,
    /// ISO 639-1.
    #[schema(schema_with = crate::schema::language_code_or_null)]
    pub language_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteInfo {
    pub tenant_uid: String,
    pub tenant_name: String,
    pub email: String,
    pub tenant_role: TenantRole,
    pub account_type: AccountType,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteAccept {
    pub invite_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "maria@example.com", "password": "correct-horse-battery-staple"}))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <auth_token>` to `/account` routes.
    pub auth_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

// ---------------------------------------------------------------- helpers

fn tenant_uid(value: &str, field: &str) -> ApiResult<String> {
    validate::identifier(value).map_err(|m| ApiError::field(field, m))
}

fn account_info(info: Info) -> AccountInfo {
    let default_tenant_uid = info
        .account
        .as_ref()
        .and_then(|a| a.default_tenant_uid.clone())
        .or_else(|| info.signed_into.as_ref().map(|t| t.uid.clone()))
        .or_else(|| info.tenants.first().map(|t| t.uid.clone()))
        .unwrap_or_default();
    AccountInfo {
        global_roles: info.account.map(|a| a.global_roles).unwrap_or_default(),
        default_tenant_uid,
        tenants: info
            .tenants
            .into_iter()
            .map(|t| AccountTenant {
                tenant_uid: t.uid,
                tenant_name: t.name,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- handlers

/// Full account information of the signed-in user or account, with every
/// tenant it belongs to. A user with no linked account answers
/// `globalRoles: []` and its own tenant.
#[utoipa::path(get, path = "/account", operation_id = "get_signed_in_account", tag = "pos", security(("auth_token" = []), ("access_token" = [])), responses((status = 200, body = AccountInfo)))]
async fn get_account(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AccountInfo>> {
    Ok(axum::Json(account_info(app.accounts().get(&caller).await?)))
}

/// Signs a tenant user in on a device: the device token in `Authorization`,
/// the user's code and password in the body. 401 for a wrong code or
/// password (the same answer, in the same time), 403 for a blocked,
/// inactive or role-less user, 429 when throttled.
#[utoipa::path(post, path = "/account", tag = "pos", request_body = DeviceLogin,
    security(("device_token" = [])), responses((status = 200, body = AccessToken), (status = 429, description = "Too many failed sign-ins; see Retry-After")))]
async fn device_login(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<DeviceLogin>,
) -> ApiResult<axum::Json<AccessToken>> {
    let token = presented_token(&headers).ok_or_else(|| {
        ApiError::Unauthorized("send the device token in the Authorization header".into())
    })?;
    let access_token = app
        .sign_in()
        .on_device(token, &body.user_code, &body.password, client)
        .await?;
    Ok(axum::Json(AccessToken { access_token }))
}

/// Sets the account's default tenant, one it belongs to (404 otherwise).
/// Needs a user linked to a global account (403 otherwise).
#[utoipa::path(put, path = "/account", tag = "pos", request_body = AccountUpdate,
    security(("auth_token" = []), ("access_token" = [])), responses((status = 200, body = AccountInfo)))]
async fn update_account(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<AccountUpdate>,
) -> ApiResult<axum::Json<AccountInfo>> {
    let default = tenant_uid(&body.default_tenant_uid, "defaultTenantUid")?;
    let info = app.accounts().set_default_tenant(&caller, &default).await?;
    Ok(axum::Json(account_info(info)))
}

/// The signed-in user's tenant user in `tenantUid`.
#[utoipa::path(get, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("auth_token" = []), ("access_token" = [])), responses((status = 200, body = TenantAccount)))]
async fn get_tenant_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let user = app.accounts().tenant_user(&caller, &tenant).await?;
    Ok(axum::Json(tenant_account(&tenant, user)))
}

/// Exchanges an auth token for an access token in `tenantUid`: the
/// account's user there, plus `accessToken`. 404 when the account has no
/// user in that tenant, 403 when that user is blocked or inactive.
#[utoipa::path(post, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("auth_token" = [])), responses((status = 200, body = TenantAccountWithToken)))]
async fn exchange_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<axum::Json<TenantAccountWithToken>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let (user, access_token) = app.sign_in().exchange(&caller, &tenant).await?;
    Ok(axum::Json(TenantAccountWithToken {
        account: tenant_account(&tenant, user),
        access_token,
    }))
}

/// Updates the signed-in user's own tenant user. Every field is optional
/// and validated; `password` changes the sign-in password.
#[utoipa::path(put, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = TenantAccountUpdate, security(("auth_token" = []), ("access_token" = [])), responses((status = 200, body = TenantAccount)))]
async fn update_tenant_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<TenantAccountUpdate>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let checked = validate::profile(Profile {
        display_name: body.display_name.clone(),
        email: body.email.clone(),
        first_name: body.firstname.clone(),
        last_name: body.lastname.clone(),
        mobile: body.mobile.clone(),
        language_code: body.language_code.clone(),
        ..Profile::default()
    })
    .map_err(|errors| {
        ApiError::fields(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = match e.field.as_str() {
                        "display_name" => "displayName",
                        "first_name" => "firstname",
                        "last_name" => "lastname",
                        "language_code" => "languageCode",
                        other => other,
                    }
                    .to_string();
                    e
                })
                .collect(),
        )
    })?;
    let default_store_id = match body.default_store_uid.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(store) => Some(Some(
            validate::identifier(store).map_err(|m| ApiError::field("defaultStoreUid", m))?,
        )),
    };
    let password = body.password.map(|raw| NewPassword::new(raw, "password"));
    let given = |present: bool, value: Option<String>| present.then_some(value);
    let patch = UserPatch {
        profile: ProfilePatch {
            display_name: given(body.display_name.is_some(), checked.display_name),
            email: given(body.email.is_some(), checked.email),
            first_name: given(body.firstname.is_some(), checked.first_name),
            last_name: given(body.lastname.is_some(), checked.last_name),
            mobile: given(body.mobile.is_some(), checked.mobile),
            language_code: given(body.language_code.is_some(), checked.language_code),
            ..ProfilePatch::default()
        },
        default_store_id,
        ..UserPatch::default()
    };
    let updated = app
        .accounts()
        .update_tenant_user(&caller, &tenant, patch, password)
        .await?;
    Ok(axum::Json(tenant_account(&tenant, updated)))
}

fn invite_token(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get("x-invite-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .ok_or_else(|| ApiError::field("x-invite-token", "the header is required"))
}

/// Information about an invitation, by its token (no sign-in needed).
/// 404 for an unknown token, 410 for a used, revoked or expired one.
#[utoipa::path(get, path = "/account/invite", tag = "pos", params(("x-invite-token" = String, Header, pattern = r"\S")),
    responses((status = 200, body = InviteInfo), (status = 410, description = "Used, revoked or expired")))]
async fn get_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<InviteInfo>> {
    let token = invite_token(&headers)?;
    let (invitation, tenant_name) = app.invitations().look_up(&token).await?;
    Ok(axum::Json(InviteInfo {
        tenant_uid: invitation.tenant,
        tenant_name,
        email: invitation.email,
        tenant_role: invitation.tenant_role,
        account_type: invitation.account_type,
        expires_at: invitation.expires_at,
    }))
}

/// Accepts an invitation with the auth token of the account whose email was
/// invited (another account: 403). Single use: a second try answers 410.
/// The tenant's unlinked user with that email is linked (one linked to
/// another account: 409), or a new user is made, with the invited role and
/// account type.
#[utoipa::path(put, path = "/account/invite", tag = "pos", request_body = InviteAccept,
    security(("auth_token" = [])), responses((status = 200, body = TenantAccount), (status = 410, description = "Used, revoked or expired")))]
async fn accept_invite(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<InviteAccept>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let (tenant, user) = app
        .invitations()
        .accept(&caller, &body.invite_token)
        .await?;
    Ok(axum::Json(tenant_account(&tenant, user)))
}

/// Signs a global account in: an auth token for `/account` routes and the
/// token exchange. 401 for a wrong email or password (the same answer, in
/// the same time); 429 when throttled.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 429, description = "Too many failed sign-ins; see Retry-After")))]
async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    Json(body): Json<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let (auth_token, expires_in) = app
        .sign_in()
        .account(&body.email, &body.password, client)
        .await?;
    Ok(axum::Json(LoginResponse {
        auth_token,
        expires_in,
    }))
}

/// Ends the session of the presented auth or access token, at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("auth_token" = []), ("access_token" = [])),
    responses((status = 204, description = "Signed out")))]
async fn logout(State(app): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    app.sign_in().sign_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify Roster's tokens (EdDSA, Ed25519), for
/// verifying them offline.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "A JSON Web Key Set", body = serde_json::Value)))]
async fn jwks(State(app): State<AppState>) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(app.sign_in().jwks().await?))
}
