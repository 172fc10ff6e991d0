//! `/v1/tenants/{t}/users`: people and machines of a tenant, their roles and
//! store access. Writes need MANAGE_USERS, reads VIEW_USERS.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::input::{NewUser, ProfilePatch, UserFilter, UserPatch};
use roster_app::users::Right;
use roster_app::NewPassword;
use roster_core::{
    validate, AccountType, CommerceRole, OrgRole, PartnerRole, Permission, Profile, Roles, Source,
    TenantRole, User, UserStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{nullable, page, List};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(upsert_user_by_external_id))
}

/// A new user. Every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "first_name": "Maria", "last_name": "Garcia", "email": "maria@example.com",
    "user_code": "1001", "password": "correct-horse-battery-staple",
    "tenant_role": "ACCESS", "account_type": "REGULAR", "store_ids": ["main"]
}))]
pub struct UserCreate {
    pub company_id: Option<Uuid>,
    /// A user of the same company: the company hierarchy.
    pub parent_id: Option<Uuid>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub first_name: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub middle_name: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub last_name: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub display_name: Option<String>,
    /// Unique in the tenant, compared case-insensitively.
    #[schema(schema_with = crate::schema::email_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub login: Option<String>,
    /// Unique in the tenant; the POS sign-in code.
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub user_code: Option<String>,
    /// E.164.
    #[schema(schema_with = crate::schema::e164_or_null)]
    pub mobile: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(schema_with = crate::schema::country_code_or_null)]
    pub country_code: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<64>)]
    pub telephone: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub job_title: Option<String>,
    /// ISO 639-1.
    #[schema(schema_with = crate::schema::language_code_or_null)]
    pub language_code: Option<String>,
    /// Unique in the tenant per `source`.
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<String>,
    /// Default `RETEN` when `external_id` is set.
    pub source: Option<Source>,
    /// Default `ACTIVE`.
    pub status: Option<UserStatus>,
    /// Default `REGULAR`.
    pub account_type: Option<AccountType>,
    pub default_store_id: Option<String>,
    /// The stores the user may act on.
    #[schema(schema_with = crate::schema::identifiers_or_null)]
    pub store_ids: Option<Vec<String>>,
    /// Links the user to a global account.
    pub account_id: Option<Uuid>,
    /// 12 to 128 characters, not guessable. Write-only.
    #[schema(schema_with = crate::schema::password_or_null)]
    pub password: Option<String>,
    /// Default: none (no tenant permissions).
    pub tenant_role: Option<TenantRole>,
    pub partner_role: Option<PartnerRole>,
    /// Commerce roles in the user's company.
    pub roles: Option<Vec<CommerceRole>>,
    /// Organisation role in the user's company.
    pub org_role: Option<OrgRole>,
}

/// A change to a user: absent fields stay, `null` clears a field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default, with = "nullable::field")]
    pub company_id: Option<Option<Uuid>>,
    #[serde(default, with = "nullable::field")]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub middle_name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::email_or_null)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub login: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub user_code: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::e164_or_null)]
    pub mobile: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::country_code_or_null)]
    pub country_code: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<64>)]
    pub telephone: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::language_code_or_null)]
    pub language_code: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    pub source: Option<Option<Source>>,
    pub status: Option<UserStatus>,
    pub account_type: Option<AccountType>,
    #[serde(default, with = "nullable::field")]
    pub default_store_id: Option<Option<String>>,
    /// Replaces the user's stores.
    #[schema(schema_with = crate::schema::identifiers_or_null)]
    pub store_ids: Option<Vec<String>>,
    #[serde(default, with = "nullable::field")]
    pub account_id: Option<Option<Uuid>>,
    /// Sets a new password.
    #[schema(schema_with = crate::schema::password_or_null)]
    pub password: Option<String>,
    #[serde(default, with = "nullable::field")]
    pub tenant_role: Option<Option<TenantRole>>,
    #[serde(default, with = "nullable::field")]
    pub partner_role: Option<Option<PartnerRole>>,
    /// Replaces the commerce roles.
    pub roles: Option<Vec<CommerceRole>>,
    #[serde(default, with = "nullable::field")]
    pub org_role: Option<Option<OrgRole>>,
}

/// A user as Roster keeps it. The password is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub number: i64,
    pub company_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub login: Option<String>,
    pub user_code: Option<String>,
    pub mobile: Option<String>,
    pub country_code: Option<String>,
    pub telephone: Option<String>,
    pub job_title: Option<String>,
    pub language_code: Option<String>,
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub status: UserStatus,
    pub account_type: AccountType,
    pub default_store_id: Option<String>,
    pub store_ids: Vec<String>,
    pub account_id: Option<Uuid>,
    pub has_password: bool,
    pub tenant_role: Option<TenantRole>,
    pub partner_role: Option<PartnerRole>,
    pub roles: Vec<CommerceRole>,
    pub org_role: Option<OrgRole>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_accessed_at: Option<DateTime<Utc>>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        let p = u.profile;
        UserView {
            id: u.id,
            number: u.number,
            company_id: u.company_id,
            parent_id: u.parent_id,
            name: p.name,
            first_name: p.first_name,
            middle_name: p.middle_name,
            last_name: p.last_name,
            display_name: p.display_name,
            email: p.email,
            login: p.login,
            user_code: p.user_code,
            mobile: p.mobile,
            country_code: p.country_code,
            telephone: p.telephone,
            job_title: p.job_title,
            language_code: p.language_code,
            external_id: u.external_id,
            source: u.source,
            status: u.status,
            account_type: u.account_type,
            default_store_id: u.default_store_id,
            store_ids: u.store_ids,
            account_id: u.account_id,
            has_password: u.has_password,
            tenant_role: u.roles.tenant,
            partner_role: u.roles.partner,
            roles: u.roles.commerce,
            org_role: u.roles.org,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_accessed_at: u.last_accessed_at,
        }
    }
}

fn checked_external_id(external_id: Option<String>) -> ApiResult<Option<String>> {
    external_id
        .map(|e| validate::text(&e, 255).map_err(|m| ApiError::field("external_id", m)))
        .transpose()
}

fn checked_store_ids(ids: Vec<String>) -> ApiResult<Vec<String>> {
    let mut ids = ids;
    ids.sort();
    ids.dedup();
    for id in &ids {
        validate::identifier(id).map_err(|m| ApiError::field("store_ids", m))?;
    }
    Ok(ids)
}

impl UserCreate {
    /// Validates the body into a core user, hashing its password.
    pub(crate) fn into_new_user(self) -> ApiResult<(NewUser, Option<NewPassword>)> {
        let password = self.password.map(|p| NewPassword::new(p, "password"));
        let profile = validate::profile(Profile {
            name: self.name,
            first_name: self.first_name,
            middle_name: self.middle_name,
            last_name: self.last_name,
            display_name: self.display_name,
            email: self.email,
            login: self.login,
            user_code: self.user_code,
            mobile: self.mobile,
            country_code: self.country_code,
            telephone: self.telephone,
            job_title: self.job_title,
            language_code: self.language_code,
        })
        .map_err(ApiError::fields)?;
        let external_id = checked_external_id(self.external_id)?;
        let new = NewUser {
            company_id: self.company_id,
            parent_id: self.parent_id,
            source: Source::defaulted(self.source, external_id.as_deref()),
            external_id,
            profile,
            status: self.status.unwrap_or(UserStatus::Active),
            account_type: self.account_type.unwrap_or(AccountType::Regular),
            default_store_id: self.default_store_id,
            account_id: self.account_id,
            password_hash: None,
            roles: Roles {
                tenant: self.tenant_role,
                partner: self.partner_role,
                commerce: {
                    let mut roles = self.roles.unwrap_or_default();
                    roles.sort();
                    roles.dedup();
                    roles
                },
                org: self.org_role,
            },
            store_ids: checked_store_ids(self.store_ids.unwrap_or_default())?,
        };
        Ok((new, password))
    }
}

impl UserUpdate {
    pub(crate) fn into_patch(self) -> ApiResult<(UserPatch, Option<NewPassword>)> {
        // Validate the fields being set, as a profile, then put them back.
        let set = |f: &Option<Option<String>>| f.clone().flatten();
        let checked = validate::profile(Profile {
            name: set(&self.name),
            first_name: set(&self.first_name),
            middle_name: set(&self.middle_name),
            last_name: set(&self.last_name),
            display_name: set(&self.display_name),
            email: set(&self.email),
            login: set(&self.login),
            user_code: set(&self.user_code),
            mobile: set(&self.mobile),
            country_code: set(&self.country_code),
            telephone: set(&self.telephone),
            job_title: set(&self.job_title),
            language_code: set(&self.language_code),
        })
        .map_err(ApiError::fields)?;
        let keep = |given: Option<Option<String>>, checked: Option<String>| given.map(|_| checked);
        let password = self.password.map(|p| NewPassword::new(p, "password"));
        let patch = UserPatch {
            company_id: self.company_id,
            parent_id: self.parent_id,
            profile: ProfilePatch {
                name: keep(self.name, checked.name),
                first_name: keep(self.first_name, checked.first_name),
                middle_name: keep(self.middle_name, checked.middle_name),
                last_name: keep(self.last_name, checked.last_name),
                display_name: keep(self.display_name, checked.display_name),
                email: keep(self.email, checked.email),
                login: keep(self.login, checked.login),
                user_code: keep(self.user_code, checked.user_code),
                mobile: keep(self.mobile, checked.mobile),
                country_code: keep(self.country_code, checked.country_code),
                telephone: keep(self.telephone, checked.telephone),
                job_title: keep(self.job_title, checked.job_title),
                language_code: keep(self.language_code, checked.language_code),
            },
            external_id: self.external_id.map(checked_external_id).transpose()?,
            source: self.source,
            status: self.status,
            account_type: self.account_type,
            default_store_id: self.default_store_id,
            account_id: self.account_id,
            password_hash: None,
            tenant_role: self.tenant_role,
            partner_role: self.partner_role,
            commerce_roles: self.roles,
            org_role: self.org_role,
            store_ids: self.store_ids.map(checked_store_ids).transpose()?,
        };
        Ok((patch, password))
    }
}

/// Filters of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Exact email, case-insensitive.
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub number: Option<i64>,
    /// A role name of any vocabulary (`ADMIN`, `manager`, `OWNER`…).
    pub role: Option<String>,
    /// Users with access to this store.
    pub store_id: Option<String>,
    pub company_id: Option<Uuid>,
    pub status: Option<UserStatus>,
    /// Text in names, email, login, user code or external id.
    pub q: Option<String>,
    /// 1 to 500, default 50.
    #[param(inline)]
    pub limit: Option<super::Limit>,
    pub cursor: Option<String>,
}

/// Creates a user (MANAGE_USERS).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users", tag = "users", params(("tenant" = String, Path)),
    request_body = UserCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = UserView)))]
async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<UserCreate>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let (new, password) = body.into_new_user()?;
    let user = app
        .users()
        .create(&scope, Right::Users, new, password)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user.into())))
}

/// Lists users by number, filtered (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users", tag = "users", params(("tenant" = String, Path), UserQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<UserView>)))]
async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<UserQuery>,
) -> ApiResult<axum::Json<List<UserView>>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    let page = page(query.limit, query.cursor.as_deref())?;
    let filter = UserFilter {
        email: query.email,
        external_id: query.external_id,
        number: query.number,
        role: query.role,
        store_id: query.store_id,
        company_id: query.company_id,
        status: query.status,
        q: query.q.filter(|q| !q.trim().is_empty()),
    };
    let listed = app
        .users()
        .list(&scope, Right::Users, &filter, &page)
        .await?;
    Ok(axum::Json(List::from_listed(listed, UserView::from)))
}

/// Reads a user (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = UserView)))]
async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<UserView>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    let user = app.users().get(&scope, Right::Users, id, None).await?;
    Ok(axum::Json(user.into()))
}

/// Changes a user (MANAGE_USERS). Deactivating a user, or moving it out of
/// its company, moves its child users to its parent; a user that changes
/// company loses the roles it held in the old one unless the patch sets new ones.
/// A patch that changes nothing writes nothing (no event, `updated_at` kept).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = UserUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = UserView)))]
async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<UserUpdate>,
) -> ApiResult<axum::Json<UserView>> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let (patch, password) = body.into_patch()?;
    let user = app
        .users()
        .update(&scope, Right::Users, id, None, patch, password)
        .await?;
    Ok(axum::Json(user.into()))
}

/// Deletes a user (MANAGE_USERS): its child users move to its parent, its
/// quotes close and lock, its quotes and orders stay visible.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_user(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    app.users().delete(&scope, Right::Users, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or replaces the user with this source and external id
/// (MANAGE_USERS): 201 when created, 200 when updated. Idempotent and safe
/// under concurrent calls. The body is the whole user (fields left out are
/// cleared), except that an omitted password keeps the current one. A body
/// that changes nothing (no password, every field as it is) answers 200 and
/// writes nothing: no audit event, `updated_at` kept.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/users/by-external-id/{source}/{external_id}", tag = "users",
    params(("tenant" = String, Path), ("source" = Source, Path), ("external_id" = String, Path)),
    request_body = UserCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 201, body = UserView, description = "Created"), (status = 200, body = UserView, description = "Updated")))]
async fn upsert_user_by_external_id(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, source, external_id)): Path<(String, Source, String)>,
    Json(body): Json<UserCreate>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    if body.source.is_some_and(|s| s != source) {
        return Err(ApiError::field(
            "source",
            "differs from the source in the path",
        ));
    }
    if body.external_id.as_ref().is_some_and(|e| *e != external_id) {
        return Err(ApiError::field(
            "external_id",
            "differs from the external_id in the path",
        ));
    }
    let (mut new, password) = UserCreate {
        source: Some(source),
        external_id: Some(external_id),
        ..body
    }
    .into_new_user()?;
    new.source = Some(source);
    let (user, created) = app
        .users()
        .upsert_by_external_id(&scope, Right::Users, new, password)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(user.into())))
}

/// The fields an export writes that an import reads past: they name the
/// record in the database it came from (`id`, `number`), say what Roster
/// derives (`has_password`) or when (timestamps).
pub const EXPORT_ONLY_FIELDS: [&str; 6] = [
    "id",
    "number",
    "has_password",
    "created_at",
    "updated_at",
    "last_accessed_at",
];

/// A `/v1` user body as one line of an import reads it (SPEC §8): the user
/// to create and the patch of the fields the line gives, from one object
/// (export-only fields and `password_hash` taken out by the caller).
pub fn import_line(
    body: serde_json::Value,
) -> ApiResult<(NewUser, UserPatch, Option<NewPassword>)> {
    let create: UserCreate = crate::extract::from_value(body.clone())?;
    let update: UserUpdate = crate::extract::from_value(body)?;
    let (new, password) = create.into_new_user()?;
    let (patch, _) = update.into_patch()?;
    Ok((new, patch, password))
}
