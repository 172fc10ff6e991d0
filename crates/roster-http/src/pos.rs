//! POS accounts (seed 003) and the auth service: device sign-in, global
//! accounts, access tokens, invitations; `/auth/login`, `/auth/logout` and
//! the JWKS. Bodies are camelCase as in the seed (unknown fields ignored);
//! `/auth` bodies are strict like `/v1`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use roster_core::secret;
use roster_core::{
    permission, validate, Account, AccountType, Actor, Permission, Profile, SessionKind, Target,
    TenantRole, User, UserStatus,
};
use roster_store::{ProfilePatch, UserPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{presented_token, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::service::hash_new_password;
use crate::signin::{issue, password_matches, ClientAddr, Throttle};
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
    pub default_tenant_uid: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantAccountUpdate {
    /// `^[A-Za-z0-9-_]*`: a store the user may use; empty clears it.
    pub default_store_uid: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    /// E.164.
    pub mobile: Option<String>,
    /// A new sign-in password (12 to 128 characters, not guessable).
    pub password: Option<String>,
    /// ISO 639-1.
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

/// A user may sign in when active, not blocked and holding a tenant role.
fn may_sign_in(user: &User) -> ApiResult<()> {
    if user.status == UserStatus::Inactive {
        return Err(ApiError::Forbidden("the user is inactive".into()));
    }
    match user.roles.tenant {
        Some(TenantRole::Blocked) => Err(ApiError::Forbidden(
            "the user is blocked from this tenant".into(),
        )),
        None => Err(ApiError::Forbidden("the user has no tenant role".into())),
        Some(_) => Ok(()),
    }
}

fn tenant_uid(value: &str, field: &str) -> ApiResult<String> {
    validate::identifier(value).map_err(|m| ApiError::field(field, m))
}

/// The tenant user a signed-in caller is in `tenant`: its own user (access
/// token) or its account's user there (auth token).
async fn tenant_user(app: &AppState, caller: &Caller, tenant: &str) -> ApiResult<User> {
    match caller {
        Caller::User {
            tenant: own, user, ..
        } if own == tenant => Ok(app.store.get_user(tenant, *user).await?),
        Caller::User { .. } => Err(ApiError::NotFound("tenant not found".into())),
        Caller::Account { account, .. } => app
            .store
            .user_of_account(tenant, *account)
            .await?
            .ok_or_else(|| ApiError::NotFound("the account has no user in this tenant".into())),
        Caller::Admin | Caller::ApiKey { .. } => Err(ApiError::Forbidden(
            "this endpoint is for signed-in users: use an access or auth token".into(),
        )),
    }
}

async fn account_info(
    app: &AppState,
    account: Option<Account>,
    fallback_tenant: Option<&str>,
) -> ApiResult<AccountInfo> {
    let Some(account) = account else {
        let tenant = fallback_tenant.unwrap_or_default();
        let name = app.store.get_tenant(tenant).await?.name;
        return Ok(AccountInfo {
            global_roles: Vec::new(),
            default_tenant_uid: tenant.to_string(),
            tenants: vec![AccountTenant {
                tenant_uid: tenant.to_string(),
                tenant_name: name,
            }],
        });
    };
    let tenants = app.store.tenants_of_account(account.id).await?;
    let default_tenant_uid = account
        .default_tenant_uid
        .or_else(|| fallback_tenant.map(String::from))
        .or_else(|| tenants.first().map(|t| t.uid.clone()))
        .unwrap_or_default();
    Ok(AccountInfo {
        global_roles: account.global_roles,
        default_tenant_uid,
        tenants: tenants
            .into_iter()
            .map(|t| AccountTenant {
                tenant_uid: t.uid,
                tenant_name: t.name,
            })
            .collect(),
    })
}

/// The account behind a signed-in caller, if it has one.
async fn caller_account(
    app: &AppState,
    caller: &Caller,
) -> ApiResult<(Option<Account>, Option<String>)> {
    match caller {
        Caller::Account { account, .. } => Ok((Some(app.store.get_account(*account).await?), None)),
        Caller::User { tenant, user, .. } => {
            let user = app.store.get_user(tenant, *user).await?;
            let account = match user.account_id {
                Some(id) => Some(app.store.get_account(id).await?),
                None => None,
            };
            Ok((account, Some(tenant.clone())))
        }
        Caller::Admin | Caller::ApiKey { .. } => Err(ApiError::Forbidden(
            "this endpoint is for signed-in users: use an access or auth token".into(),
        )),
    }
}

// ---------------------------------------------------------------- handlers

/// Full account information of the signed-in user or account, with every
/// tenant it belongs to. A user with no linked account answers
/// `globalRoles: []` and its own tenant.
#[utoipa::path(get, path = "/account", tag = "pos", security(("bearer" = [])), responses((status = 200, body = AccountInfo)))]
async fn get_account(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AccountInfo>> {
    let (account, tenant) = caller_account(&app, &caller).await?;
    Ok(axum::Json(
        account_info(&app, account, tenant.as_deref()).await?,
    ))
}

/// Signs a tenant user in on a device: the device token in `Authorization`,
/// the user's code and password in the body. 401 for a wrong code or
/// password (the same answer, in the same time), 403 for a blocked,
/// inactive or role-less user, 429 when throttled.
#[utoipa::path(post, path = "/account", tag = "pos", request_body = DeviceLogin,
    security(("device_token" = [])), responses((status = 200, body = AccessToken), (status = 429, description = "Too many failed sign-ins; see Retry-After")))]
async fn device_login(
    State(app): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(body): Json<DeviceLogin>,
) -> ApiResult<axum::Json<AccessToken>> {
    let token = presented_token(&headers).ok_or_else(|| {
        ApiError::Unauthorized("send the device token in the Authorization header".into())
    })?;
    let device = app
        .store
        .authenticate_device(&secret::hash_token(token))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the device token is not valid".into()))?;
    let tenant = device.tenant;
    let throttle = Throttle::new(format!("pos:{tenant}:{}", body.user_code), &addr);
    throttle.guard(&app).await?;
    let found = app
        .store
        .find_user_by_code(&tenant, &body.user_code)
        .await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let matches = password_matches(hash, &body.password).await?;
    let Some(user) = user.filter(|_| matches) else {
        throttle.failed(&app).await?;
        return Err(ApiError::Unauthorized("wrong user code or password".into()));
    };
    throttle.succeeded(&app).await?;
    may_sign_in(&user)?;
    if let Some(store) = &device.device.store_id {
        let facts = app
            .store
            .check_facts(&tenant, user.id, Some(store), None)
            .await?;
        let target = Target {
            store_id: Some(store.clone()),
            company_id: None,
        };
        let allowed = facts
            .subject
            .is_some_and(|s| permission::evaluate(&s, Permission::UsePos, &target).allowed);
        if !allowed {
            return Err(ApiError::Forbidden(
                "the user may not use this device's store".into(),
            ));
        }
    }
    let (access_token, _) = issue(
        &app,
        SessionKind::Access,
        Some(&tenant),
        user.id,
        user.account_id,
        Some(device.device.id),
    )
    .await?;
    app.store
        .record_sign_in(&tenant, user.id, app.clock.now())
        .await?;
    Ok(axum::Json(AccessToken { access_token }))
}

/// Sets the account's default tenant, one it belongs to (404 otherwise).
/// Needs a user linked to a global account (403 otherwise).
#[utoipa::path(put, path = "/account", tag = "pos", request_body = AccountUpdate,
    security(("bearer" = [])), responses((status = 200, body = AccountInfo)))]
async fn update_account(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<AccountUpdate>,
) -> ApiResult<axum::Json<AccountInfo>> {
    let (account, tenant) = caller_account(&app, &caller).await?;
    let account =
        account.ok_or_else(|| ApiError::Forbidden("this user has no global account".into()))?;
    let default = tenant_uid(&body.default_tenant_uid, "defaultTenantUid")?;
    let updated = app.store.set_default_tenant(account.id, &default).await?;
    Ok(axum::Json(
        account_info(&app, Some(updated), tenant.as_deref()).await?,
    ))
}

/// The signed-in user's tenant user in `tenantUid`.
#[utoipa::path(get, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = TenantAccount)))]
async fn get_tenant_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let user = tenant_user(&app, &caller, &tenant).await?;
    Ok(axum::Json(tenant_account(&tenant, user)))
}

/// Exchanges an auth token for an access token in `tenantUid`: the
/// account's user there, plus `accessToken`. 404 when the account has no
/// user in that tenant, 403 when that user is blocked or inactive.
#[utoipa::path(post, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = TenantAccountWithToken)))]
async fn exchange_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<axum::Json<TenantAccountWithToken>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let Caller::Account { account, .. } = &caller else {
        return Err(ApiError::Forbidden(
            "send the auth token of POST /auth/login".into(),
        ));
    };
    let user = tenant_user(&app, &caller, &tenant).await?;
    if !user.may_act() {
        return Err(ApiError::Forbidden(
            "the user is blocked or inactive in this tenant".into(),
        ));
    }
    let (access_token, _) = issue(
        &app,
        SessionKind::Access,
        Some(&tenant),
        user.id,
        Some(*account),
        None,
    )
    .await?;
    app.store
        .record_sign_in(&tenant, user.id, app.clock.now())
        .await?;
    let user = app.store.get_user(&tenant, user.id).await?;
    Ok(axum::Json(TenantAccountWithToken {
        account: tenant_account(&tenant, user),
        access_token,
    }))
}

/// Updates the signed-in user's own tenant user. Every field is optional
/// and validated; `password` changes the sign-in password.
#[utoipa::path(put, path = "/tenants/{tenantUid}/account", tag = "pos", params(("tenantUid" = String, Path)),
    request_body = TenantAccountUpdate, security(("bearer" = [])), responses((status = 200, body = TenantAccount)))]
async fn update_tenant_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<TenantAccountUpdate>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let tenant = tenant_uid(&tenant, "tenantUid")?;
    let user = tenant_user(&app, &caller, &tenant).await?;
    let actor = match caller {
        Caller::Account { account, .. } => Actor::Account(account),
        _ => Actor::User(user.id),
    };
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
        Some(store) => {
            let store =
                validate::identifier(store).map_err(|m| ApiError::field("defaultStoreUid", m))?;
            let usable = app.store.get_store(&tenant, &store).await.is_ok()
                && (user.store_ids.is_empty() || user.store_ids.contains(&store));
            if !usable {
                return Err(ApiError::field(
                    "defaultStoreUid",
                    "is not a store this user may use",
                ));
            }
            Some(Some(store))
        }
    };
    let password_hash = match &body.password {
        Some(raw) => Some(
            hash_new_password(
                raw,
                "password",
                &[
                    checked.email.as_deref().or(user.profile.email.as_deref()),
                    user.profile.first_name.as_deref(),
                ],
            )
            .await?,
        ),
        None => None,
    };
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
        password_hash,
        ..UserPatch::default()
    };
    let updated = app
        .store
        .update_user(&tenant, user.id, patch, &actor)
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
#[utoipa::path(get, path = "/account/invite", tag = "pos", params(("x-invite-token" = String, Header)),
    responses((status = 200, body = InviteInfo), (status = 410, description = "Used, revoked or expired")))]
async fn get_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<InviteInfo>> {
    let token = invite_token(&headers)?;
    let (invitation, tenant_name) = app
        .store
        .find_invitation(&secret::hash_token(&token))
        .await?
        .ok_or_else(|| ApiError::NotFound("invitation not found".into()))?;
    if invitation.accepted_at.is_some() || invitation.revoked_at.is_some() {
        return Err(ApiError::Gone(
            "the invitation was already used or revoked".into(),
        ));
    }
    if invitation.expires_at <= app.clock.now() {
        return Err(ApiError::Gone("the invitation has expired".into()));
    }
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
    security(("bearer" = [])), responses((status = 200, body = TenantAccount), (status = 410, description = "Used, revoked or expired")))]
async fn accept_invite(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<InviteAccept>,
) -> ApiResult<axum::Json<TenantAccount>> {
    let Caller::Account { account, .. } = caller else {
        return Err(ApiError::Forbidden(
            "send the auth token of POST /auth/login".into(),
        ));
    };
    let account = app.store.get_account(account).await?;
    let hash = secret::hash_token(body.invite_token.trim());
    let (invitation, _) = app
        .store
        .find_invitation(&hash)
        .await?
        .ok_or_else(|| ApiError::NotFound("invitation not found".into()))?;
    let user = app
        .store
        .accept_invitation(&hash, &account, app.clock.now())
        .await?;
    Ok(axum::Json(tenant_account(&invitation.tenant, user)))
}

/// Signs a global account in: an auth token for `/account` routes and the
/// token exchange. 401 for a wrong email or password (the same answer, in
/// the same time); 429 when throttled.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 429, description = "Too many failed sign-ins; see Retry-After")))]
async fn login(
    State(app): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let throttle = Throttle::new(format!("login:{}", validate::email_key(&body.email)), &addr);
    throttle.guard(&app).await?;
    let found = app.store.find_account_by_email(&body.email).await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), Some(hash)),
        None => (None, None),
    };
    let matches = password_matches(hash, &body.password).await?;
    let Some(account) = account.filter(|_| matches) else {
        throttle.failed(&app).await?;
        return Err(ApiError::Unauthorized("wrong email or password".into()));
    };
    throttle.succeeded(&app).await?;
    let (auth_token, expires_in) = issue(
        &app,
        SessionKind::Auth,
        None,
        account.id,
        Some(account.id),
        None,
    )
    .await?;
    Ok(axum::Json(LoginResponse {
        auth_token,
        expires_in,
    }))
}

/// Ends the session of the presented auth or access token, at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out")))]
async fn logout(State(app): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let session = match caller {
        Caller::User { session, .. } | Caller::Account { session, .. } => session,
        Caller::Admin | Caller::ApiKey { .. } => {
            return Err(ApiError::field(
                "authorization",
                "only access and auth tokens sign out",
            ));
        }
    };
    app.store.revoke_session(session, app.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify Roster's tokens (EdDSA, Ed25519), for
/// verifying them offline.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "A JSON Web Key Set", body = serde_json::Value)))]
async fn jwks(State(app): State<AppState>) -> ApiResult<axum::Json<serde_json::Value>> {
    let longest = app.config.access_token_ttl.max(app.config.auth_token_ttl);
    Ok(axum::Json(
        app.tokens().await?.jwks(app.clock.now(), longest).await?,
    ))
}
