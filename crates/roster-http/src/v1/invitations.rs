//! `/v1/tenants/{t}/invitations`: emails invited into a tenant with a role,
//! accepted through `PUT /account/invite` (MANAGE_USERS; reads VIEW_USERS).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::{AccountType, Invitation, Permission, TenantRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{List, PageQuery};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(revoke_invitation))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "lee@example.com", "tenant_role": "BACKOFFICE", "account_type": "FULL"}))]
pub struct InvitationCreate {
    #[schema(schema_with = crate::schema::email)]
    pub email: String,
    /// Default ACCESS.
    pub tenant_role: Option<TenantRole>,
    /// Default REGULAR.
    pub account_type: Option<AccountType>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub tenant_role: TenantRole,
    pub account_type: AccountType,
    /// PENDING, ACCEPTED, REVOKED or EXPIRED.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl InvitationView {
    fn new(i: Invitation, now: DateTime<Utc>) -> Self {
        let status = i.state_at(now).as_str();
        InvitationView {
            id: i.id,
            email: i.email,
            tenant_role: i.tenant_role,
            account_type: i.account_type,
            status: status.into(),
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            revoked_at: i.revoked_at,
        }
    }
}

/// An invitation just made: the only time its token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// The single-use token for `GET`/`PUT /account/invite`. Not shown again.
    pub token: String,
}

/// Invites an email into the tenant (MANAGE_USERS); the token expires after
/// 7 days by default (`ROSTER_INVITATION_TTL`).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/invitations", tag = "invitations", params(("tenant" = String, Path)),
    request_body = InvitationCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = InvitationCreated)))]
async fn create_invitation(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<InvitationCreate>,
) -> ApiResult<(StatusCode, axum::Json<InvitationCreated>)> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    let issued = app
        .invitations()
        .create(&scope, body.email, body.tenant_role, body.account_type)
        .await?;
    let invitation = InvitationView::new(issued.record, app.now());
    Ok((
        StatusCode::CREATED,
        axum::Json(InvitationCreated {
            invitation,
            token: issued.token,
        }),
    ))
}

/// Lists the tenant's invitations with their status (VIEW_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/invitations", tag = "invitations", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<InvitationView>)))]
async fn list_invitations(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<InvitationView>>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    let listed = app.invitations().list(&scope, &query.page()?).await?;
    let now = app.now();
    Ok(axum::Json(List::from_listed(listed, |i| {
        InvitationView::new(i, now)
    })))
}

/// Revokes a pending invitation (MANAGE_USERS); its token then answers 410.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/invitations/{id}", tag = "invitations",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Revoked")))]
async fn revoke_invitation(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    app.invitations().revoke(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
