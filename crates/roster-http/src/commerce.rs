//! Commerce users (seed 000): users of a B2B company ("commerce") with their
//! commerce roles and contacts, under `/api/commerces/{cId}/users`.
//!
//! A thin translation onto the core: the tenant comes from `x-tenant-id`
//! (it must be the credential's), the caller needs MANAGE_COMMERCES, `cId`
//! is a company of that tenant and `uId` one of its users. The rules (one
//! primary per type, value formats, duplicates, role uniqueness) live in
//! the store and the database. Unknown body fields are ignored, as real
//! clients send more than the seed documents.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use roster_app::input::{ContactPatch, NewContact, NewUser, ProfilePatch, UserFilter, UserPatch};
use roster_app::users::Right;
use roster_app::Scope;
use roster_core::{
    validate, AccountType, CommerceRole, Contact, ContactType, Permission, Profile, Roles, Source,
    User, UserStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::v1::{nullable, List, PageQuery};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user))
        .routes(routes!(add_role))
        .routes(routes!(remove_role))
        .routes(routes!(add_contact))
        .routes(routes!(update_contact))
        .routes(routes!(set_primary_contact))
}

/// A commerce user as seed 000 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommerceUser {
    pub id: Uuid,
    pub commerce_id: Uuid,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub source: Option<Source>,
    /// In a stable order: OWNER, ORDERS, FINANCE, ATTENTION, ADMIN, COMMERCE_REP, OTHER.
    pub roles: Vec<CommerceRole>,
    pub contacts: Vec<ContactView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub contact_type: ContactType,
    pub value: String,
    pub source: Source,
    pub is_primary: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        ContactView {
            id: c.id,
            contact_type: c.contact_type,
            value: c.value,
            source: c.source,
            is_primary: c.is_primary,
            is_active: c.is_active,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn view(user: User, commerce: Uuid, contacts: &[Contact]) -> CommerceUser {
    CommerceUser {
        id: user.id,
        commerce_id: commerce,
        name: user.profile.name,
        external_id: user.external_id,
        source: user.source,
        roles: user.roles.commerce,
        contacts: contacts
            .iter()
            .filter(|c| c.user_id == user.id)
            .cloned()
            .map(ContactView::from)
            .collect(),
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Maria Garcia", "external_id": "usr-001", "source": "RETEN", "roles": ["OWNER"]}))]
pub struct CommerceUserCreate {
    /// Full name of the commerce user.
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<String>,
    /// External system identifier.
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<String>,
    /// RETEN or INTEGRATION.
    pub source: Option<Source>,
    /// Initial roles.
    pub roles: Option<Vec<CommerceRole>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Maria García"}))]
pub struct CommerceUserUpdate {
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub name: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, with = "nullable::field")]
    pub source: Option<Option<Source>>,
    /// Replaces the roles.
    pub roles: Option<Vec<CommerceRole>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"role": "FINANCE"}))]
pub struct RoleAdd {
    pub role: CommerceRole,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"contact_type": "PHONE", "value": "+56912345678", "source": "RETEN", "is_primary": true}))]
pub struct ContactCreate {
    pub contact_type: ContactType,
    /// EMAIL: an email address; PHONE and WHATSAPP: E.164 (`+56912345678`).
    pub value: String,
    pub source: Source,
    /// Makes it the primary contact of its type (default false).
    pub is_primary: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"is_active": false}))]
pub struct ContactUpdate {
    pub contact_type: Option<ContactType>,
    pub value: Option<String>,
    pub source: Option<Source>,
    pub is_primary: Option<bool>,
    /// `false` deactivates the contact, which drops its primary flag.
    pub is_active: Option<bool>,
}

/// The tenant named by `x-tenant-id`, checked against the credential, and
/// the caller's authority to manage its commerces.
async fn authorize(app: &AppState, caller: &Caller, headers: &HeaderMap) -> ApiResult<Scope> {
    let tenant = headers
        .get("x-tenant-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::field("x-tenant-id", "the header is required"))?
        .to_string();
    if caller.own_tenant().is_some_and(|own| own != tenant) {
        return Err(ApiError::Forbidden(
            "x-tenant-id names a tenant other than the credential's".into(),
        ));
    }
    Ok(app
        .scope(caller, &tenant, Permission::ManageCommerces)
        .await?)
}

async fn full_view(
    app: &AppState,
    scope: &Scope,
    commerce: Uuid,
    user: User,
) -> ApiResult<CommerceUser> {
    let contacts = app
        .users()
        .contacts_of(scope, Right::CompanyUsers, &[user.id])
        .await?;
    Ok(view(user, commerce, &contacts))
}

fn checked_name(name: Option<String>) -> ApiResult<Option<String>> {
    name.map(|n| validate::text(&n, 255).map_err(|m| ApiError::field("name", m)))
        .transpose()
}

fn checked_external_id(external_id: Option<String>) -> ApiResult<Option<String>> {
    external_id
        .map(|e| validate::text(&e, 255).map_err(|m| ApiError::field("external_id", m)))
        .transpose()
}

/// Creates a user for a commerce (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/api/commerces/{cId}/users", operation_id = "create_commerce_user", tag = "commerce-users",
    params(("cId" = Uuid, Path, description = "The commerce (company) id"), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = CommerceUserCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = CommerceUser)))]
async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(commerce): Path<Uuid>,
    Json(body): Json<CommerceUserCreate>,
) -> ApiResult<(StatusCode, axum::Json<CommerceUser>)> {
    let scope = authorize(&app, &caller, &headers).await?;
    let external_id = checked_external_id(body.external_id)?;
    let new = NewUser {
        company_id: Some(commerce),
        parent_id: None,
        profile: Profile {
            name: checked_name(body.name)?,
            ..Profile::default()
        },
        source: Source::defaulted(body.source, external_id.as_deref()),
        external_id,
        status: UserStatus::Active,
        account_type: AccountType::Regular,
        default_store_id: None,
        account_id: None,
        password_hash: None,
        roles: Roles {
            commerce: body.roles.unwrap_or_default(),
            ..Roles::default()
        },
        store_ids: Vec::new(),
    };
    let user = app
        .users()
        .create(&scope, Right::CompanyUsers, new, None)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view(user, commerce, &[]))))
}

/// Lists a commerce's users, oldest first (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/api/commerces/{cId}/users", operation_id = "list_commerce_users", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$"), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<CommerceUser>)))]
async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(commerce): Path<Uuid>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<CommerceUser>>> {
    let scope = authorize(&app, &caller, &headers).await?;
    app.tenancy().get_company(&scope, commerce).await?;
    let filter = UserFilter {
        company_id: Some(commerce),
        ..UserFilter::default()
    };
    let listed = app
        .users()
        .list(&scope, Right::CompanyUsers, &filter, &query.page()?)
        .await?;
    let ids: Vec<Uuid> = listed.items.iter().map(|u| u.id).collect();
    let contacts = app
        .users()
        .contacts_of(&scope, Right::CompanyUsers, &ids)
        .await?;
    Ok(axum::Json(List::from_listed(listed, |u| {
        view(u, commerce, &contacts)
    })))
}

/// Reads a commerce user with its roles and contacts (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/api/commerces/{cId}/users/{uId}", operation_id = "get_commerce_user", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = CommerceUser)))]
async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<CommerceUser>> {
    let scope = authorize(&app, &caller, &headers).await?;
    let user = app
        .users()
        .get(&scope, Right::CompanyUsers, id, Some(commerce))
        .await?;
    Ok(axum::Json(full_view(&app, &scope, commerce, user).await?))
}

/// Updates a commerce user; answers the whole user (MANAGE_COMMERCES).
#[utoipa::path(patch, path = "/api/commerces/{cId}/users/{uId}", operation_id = "update_commerce_user", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = CommerceUserUpdate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = CommerceUser)))]
async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<CommerceUserUpdate>,
) -> ApiResult<axum::Json<CommerceUser>> {
    let scope = authorize(&app, &caller, &headers).await?;
    let patch = UserPatch {
        profile: ProfilePatch {
            name: body.name.map(checked_name).transpose()?,
            ..ProfilePatch::default()
        },
        external_id: body.external_id.map(checked_external_id).transpose()?,
        source: body.source,
        commerce_roles: body.roles,
        ..UserPatch::default()
    };
    let user = app
        .users()
        .update(&scope, Right::CompanyUsers, id, Some(commerce), patch, None)
        .await?;
    Ok(axum::Json(full_view(&app, &scope, commerce, user).await?))
}

/// Adds a role to a commerce user: 409 when it already holds it (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/api/commerces/{cId}/users/{uId}/roles", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = RoleAdd, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = CommerceUser)))]
async fn add_role(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<RoleAdd>,
) -> ApiResult<(StatusCode, axum::Json<CommerceUser>)> {
    let scope = authorize(&app, &caller, &headers).await?;
    let user = app
        .users()
        .add_commerce_role(&scope, commerce, id, body.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(full_view(&app, &scope, commerce, user).await?),
    ))
}

/// Removes a role from a commerce user: 404 when it does not hold it (MANAGE_COMMERCES).
#[utoipa::path(delete, path = "/api/commerces/{cId}/users/{uId}/roles/{role}", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("role" = CommerceRole, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Removed")))]
async fn remove_role(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id, role)): Path<(Uuid, Uuid, String)>,
) -> ApiResult<StatusCode> {
    let scope = authorize(&app, &caller, &headers).await?;
    let role = CommerceRole::parse(&role).ok_or_else(|| {
        ApiError::field(
            "role",
            format!("must be one of {}", CommerceRole::expected()),
        )
    })?;
    app.users()
        .remove_commerce_role(&scope, commerce, id, role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a contact to a commerce user; primary only when asked (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/api/commerces/{cId}/users/{uId}/contacts", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ContactCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = ContactView)))]
async fn add_contact(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<ContactCreate>,
) -> ApiResult<(StatusCode, axum::Json<ContactView>)> {
    let scope = authorize(&app, &caller, &headers).await?;
    let new = NewContact {
        contact_type: body.contact_type,
        value: body.value,
        source: body.source,
        is_primary: body.is_primary.unwrap_or(false),
    };
    let contact = app.users().add_contact(&scope, commerce, id, new).await?;
    Ok((StatusCode::CREATED, axum::Json(contact.into())))
}

/// Updates a contact; answers the whole contact (MANAGE_COMMERCES).
#[utoipa::path(patch, path = "/api/commerces/{cId}/users/{uId}/contacts/{contactId}", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("contactId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ContactUpdate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = ContactView)))]
async fn update_contact(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id, contact)): Path<(Uuid, Uuid, Uuid)>,
    Json(body): Json<ContactUpdate>,
) -> ApiResult<axum::Json<ContactView>> {
    let scope = authorize(&app, &caller, &headers).await?;
    let patch = ContactPatch {
        contact_type: body.contact_type,
        value: body.value,
        source: body.source,
        is_primary: body.is_primary,
        is_active: body.is_active,
    };
    Ok(axum::Json(
        app.users()
            .update_contact(&scope, commerce, id, contact, patch)
            .await?
            .into(),
    ))
}

/// Makes a contact the primary of its type, unsetting the previous one
/// (MANAGE_COMMERCES); 409 for an inactive contact.
#[utoipa::path(post, path = "/api/commerces/{cId}/users/{uId}/contacts/{contactId}/set-primary", tag = "commerce-users",
    params(("cId" = Uuid, Path), ("uId" = Uuid, Path), ("contactId" = Uuid, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = ContactView)))]
async fn set_primary_contact(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((commerce, id, contact)): Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<axum::Json<ContactView>> {
    let scope = authorize(&app, &caller, &headers).await?;
    Ok(axum::Json(
        app.users()
            .set_primary_contact(&scope, commerce, id, contact)
            .await?
            .into(),
    ))
}
