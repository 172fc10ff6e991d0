//! `/v1/tenants/{t}/devices`: tills and terminals whose token lets users
//! sign in on them (MANAGE_DEVICES).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_core::{Device, Permission};
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
        .routes(routes!(create_device, list_devices))
        .routes(routes!(revoke_device))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Till 1", "store_id": "main"}))]
pub struct DeviceCreate {
    #[schema(schema_with = crate::schema::text::<255>)]
    pub name: String,
    /// The store the device stands in; users signing in on it need USE_POS there.
    #[schema(schema_with = crate::schema::identifier_or_null)]
    pub store_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub name: String,
    pub store_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; its token and sessions stopped working then.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        DeviceView {
            id: d.id,
            name: d.name,
            store_id: d.store_id,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// A device just onboarded: the only time its token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceCreated {
    #[serde(flatten)]
    pub device: DeviceView,
    /// The device token for `POST /account`. Not shown again.
    pub token: String,
}

/// Onboards a device (MANAGE_DEVICES); the answer holds its token, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/devices", tag = "devices", params(("tenant" = String, Path)),
    request_body = DeviceCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = DeviceCreated)))]
async fn create_device(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<DeviceCreate>,
) -> ApiResult<(StatusCode, axum::Json<DeviceCreated>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageDevices)
        .await?;
    let issued = app
        .credentials()
        .create_device(&scope, body.name, body.store_id)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(DeviceCreated {
            device: issued.record.into(),
            token: issued.token,
        }),
    ))
}

/// Lists the tenant's devices, revoked ones included (MANAGE_DEVICES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/devices", tag = "devices", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<DeviceView>)))]
async fn list_devices(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<DeviceView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageDevices)
        .await?;
    let listed = app
        .credentials()
        .list_devices(&scope, &query.page()?)
        .await?;
    Ok(axum::Json(List::from_listed(listed, DeviceView::from)))
}

/// Revokes a device: its token and every session signed in on it stop
/// working at once (MANAGE_DEVICES).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/devices/{id}", tag = "devices",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Revoked")))]
async fn revoke_device(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageDevices)
        .await?;
    app.credentials().revoke_device(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
