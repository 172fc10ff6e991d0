//! `/v1/tenants/{t}/events`: the audit log, oldest first (VIEW_AUDIT).

use axum::extract::State;
use chrono::{DateTime, Utc};
use roster_core::{AuditEvent, Permission};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{List, PageQuery};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// One change, written in the same transaction as the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    /// `admin`, `api_key:<id>`, `user:<id>` or `account:<id>`.
    pub actor: String,
    /// `user.created`, `store.deleted`, …
    pub action: String,
    /// `user:<id>`, `store:<id>`, …
    pub target: String,
    pub summary: String,
    pub at: DateTime<Utc>,
}

impl From<AuditEvent> for EventView {
    fn from(e: AuditEvent) -> Self {
        EventView {
            id: e.id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            summary: e.summary,
            at: e.at,
        }
    }
}

/// The tenant's audit log, oldest first (VIEW_AUDIT).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events", tag = "events", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<EventView>)))]
async fn list_events(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<EventView>>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewAudit).await?;
    let listed = app.records().events(&scope, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, EventView::from)))
}
