//! `/v1/tenants/{t}/groups`: named sets of users carrying role grants that
//! every member holds (VIEW_USERS to read, MANAGE_USERS to write). The same
//! groups are the SCIM Groups.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::groups::{GroupChange, GroupDraft};
use roster_app::input::{GroupFilter, MemberChange};
use roster_core::{CommerceRole, Group, GroupMember, Permission, TenantRole};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{nullable, page, Limit, List, PageQuery};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(list_members, add_members))
        .routes(routes!(remove_member))
}

/// A new group. A company's group (`company_id`) holds only that company's
/// users, and its commerce roles apply there; a tenant-wide group's
/// commerce roles apply in each member's own company.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Cashiers", "tenant_role": "ACCESS", "store_ids": ["main"]}))]
pub struct GroupCreate {
    /// Unique, without case, in the tenant (or the company).
    #[schema(schema_with = crate::schema::text::<200>)]
    pub name: String,
    pub company_id: Option<Uuid>,
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<String>,
    /// `ADMIN`, `BACKOFFICE` or `ACCESS` (a group cannot carry `BLOCKED`).
    #[schema(schema_with = crate::schema::group_tenant_role_or_null)]
    pub tenant_role: Option<TenantRole>,
    /// Commerce roles.
    pub roles: Option<Vec<CommerceRole>>,
    /// The stores an `ACCESS` role covers; none: every store.
    #[schema(schema_with = crate::schema::identifiers_or_null)]
    pub store_ids: Option<Vec<String>>,
    /// The first members: user ids.
    pub members: Option<Vec<Uuid>>,
}

/// A change to a group; fields left out are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<200>)]
    pub name: Option<String>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub external_id: Option<Option<String>>,
    /// `null` removes the tenant role.
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::group_tenant_role_or_null)]
    pub tenant_role: Option<Option<TenantRole>>,
    pub roles: Option<Vec<CommerceRole>>,
    #[schema(schema_with = crate::schema::identifiers_or_null)]
    pub store_ids: Option<Vec<String>>,
}

/// Users to add to a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersAdd {
    pub user_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: Uuid,
    pub name: String,
    pub company_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub tenant_role: Option<TenantRole>,
    pub roles: Vec<CommerceRole>,
    pub store_ids: Vec<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        GroupView {
            id: g.id,
            name: g.name,
            company_id: g.company_id,
            external_id: g.external_id,
            tenant_role: g.tenant_role,
            roles: g.roles,
            store_ids: g.store_ids,
            member_count: g.member_count,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    /// The user's display name, name or email.
    pub display: Option<String>,
    pub added_at: DateTime<Utc>,
}

impl From<GroupMember> for MemberView {
    fn from(m: GroupMember) -> Self {
        MemberView {
            user_id: m.user_id,
            display: m.display,
            added_at: m.added_at,
        }
    }
}

/// Filters of the group list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// One company's groups.
    pub company_id: Option<Uuid>,
    /// The groups this user is a member of.
    pub user_id: Option<Uuid>,
    /// Exact name, without case.
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// 1 to 500, default 50.
    #[param(inline)]
    pub limit: Option<Limit>,
    pub cursor: Option<String>,
}

/// Makes a group (MANAGE_USERS); what it grants must be held by the
/// caller (grant only what you hold).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/groups", tag = "groups", params(("tenant" = String, Path)),
    request_body = GroupCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 201, body = GroupView)))]
async fn create_group(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<GroupCreate>,
) -> ApiResult<(StatusCode, axum::Json<GroupView>)> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let draft = GroupDraft {
        name: body.name,
        company_id: body.company_id,
        external_id: body.external_id,
        tenant_role: body.tenant_role,
        roles: body.roles.unwrap_or_default(),
        store_ids: body.store_ids.unwrap_or_default(),
        members: body.members.unwrap_or_default(),
    };
    let group = app.groups().create(&scope, draft).await?;
    Ok((StatusCode::CREATED, axum::Json(group.into())))
}

/// Lists groups, oldest first (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/groups", tag = "groups", params(("tenant" = String, Path), GroupQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<GroupView>)))]
async fn list_groups(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<GroupQuery>,
) -> ApiResult<axum::Json<List<GroupView>>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    let filter = GroupFilter {
        company: query.company_id,
        name: query.name,
        external_id: query.external_id,
        member: query.user_id,
        ..GroupFilter::default()
    };
    let page = page(query.limit, query.cursor.as_deref())?;
    let listed = app.groups().list(&scope, filter, &page).await?;
    Ok(axum::Json(List::from_listed(listed, GroupView::from)))
}

/// Reads a group (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/groups/{id}", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = GroupView)))]
async fn get_group(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<GroupView>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    Ok(axum::Json(app.groups().get(&scope, id).await?.into()))
}

/// Renames a group or changes its grants (MANAGE_USERS); members hold the
/// new grants on their next request.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/groups/{id}", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = GroupUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = GroupView)))]
async fn update_group(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<GroupUpdate>,
) -> ApiResult<axum::Json<GroupView>> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let change = GroupChange {
        name: body.name,
        external_id: body.external_id,
        tenant_role: body.tenant_role,
        roles: body.roles,
        store_ids: body.store_ids,
        members: Vec::new(),
    };
    Ok(axum::Json(
        app.groups().update(&scope, id, change).await?.into(),
    ))
}

/// Deletes a group (MANAGE_USERS); its members lose what it granted.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/groups/{id}", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_group(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    app.groups().delete(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a group's members by user id (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/groups/{id}/members", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<MemberView>)))]
async fn list_members(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<MemberView>>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    let listed = app.groups().members(&scope, id, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, MemberView::from)))
}

/// Adds users to a group (MANAGE_USERS; the caller must hold what the group
/// grants). Members already in it stay, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/groups/{id}/members", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = MembersAdd,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = GroupView)))]
async fn add_members(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<MembersAdd>,
) -> ApiResult<axum::Json<GroupView>> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let change = GroupChange {
        members: vec![MemberChange::Add(body.user_ids)],
        ..GroupChange::default()
    };
    Ok(axum::Json(
        app.groups().update(&scope, id, change).await?.into(),
    ))
}

/// Removes a user from a group (MANAGE_USERS); it loses what the group
/// granted on its next request. Removing a non-member is a no-op.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/groups/{id}/members/{user_id}", tag = "groups",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Removed")))]
async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id, user)): Path<(String, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let change = GroupChange {
        members: vec![MemberChange::Remove(vec![user])],
        ..GroupChange::default()
    };
    app.groups().update(&scope, id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}
