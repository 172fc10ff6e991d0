//! `/v1/tenants/{t}/webhooks`: subscriptions to the tenant's events and
//! their delivery attempts (MANAGE_WEBHOOKS).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::webhooks::{WebhookChange, WebhookDraft};
use roster_core::{validate, DeliveryAttempt, DeliveryOutcome, Permission, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{nullable, List, PageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
}

/// A new subscription. No `event_types`: every event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://erp.example.com/roster", "event_types": ["roster.user.*"]}))]
pub struct WebhookCreate {
    /// An `http` or `https` URL that resolves to public addresses only.
    #[schema(schema_with = crate::schema::text::<2048>)]
    pub url: String,
    /// Event types (`roster.user.created`) or patterns (`roster.user.*`).
    pub event_types: Option<Vec<String>>,
    #[schema(schema_with = crate::schema::text_or_null::<1000>)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<2048>)]
    pub url: Option<String>,
    /// `[]`: every event.
    pub event_types: Option<Vec<String>>,
    #[serde(default, with = "nullable::field")]
    #[schema(schema_with = crate::schema::text_or_null::<1000>)]
    pub description: Option<Option<String>>,
    /// `true` resumes a webhook Roster disabled, clearing the reason.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Empty: every event.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Roster disabled it, when it did (its deliveries kept failing).
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            description: w.description,
            event_types: w.event_types,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook just made: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_<base64>`: verifies `webhook-signature` (Standard Webhooks).
    /// Not shown again.
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The event's id: the `webhook-id` header, the same on every retry.
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The endpoint's answer, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why the attempt failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
}

impl From<DeliveryAttempt> for DeliveryView {
    fn from(a: DeliveryAttempt) -> Self {
        DeliveryView {
            event_id: a.event_id,
            attempt: a.attempt,
            status_code: a.status_code,
            error: a.error,
            at: a.at,
            outcome: a.outcome,
        }
    }
}

fn checked_description(description: Option<String>) -> ApiResult<Option<String>> {
    description
        .map(|d| validate::text(&d, 1000).map_err(|m| ApiError::field("description", m)))
        .transpose()
}

/// Subscribes a URL to the tenant's events (MANAGE_WEBHOOKS); the answer
/// holds the signing secret, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks", tag = "webhooks", params(("tenant" = String, Path)),
    request_body = WebhookCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = WebhookCreated)))]
async fn create_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<WebhookCreate>,
) -> ApiResult<(StatusCode, axum::Json<WebhookCreated>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    let draft = WebhookDraft {
        url: body.url,
        event_types: body.event_types.unwrap_or_default(),
        description: checked_description(body.description)?,
    };
    let issued = app.webhooks().create(&scope, draft).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WebhookCreated {
            webhook: issued.record.into(),
            secret: issued.token,
        }),
    ))
}

/// Lists the tenant's webhooks, without their secrets (MANAGE_WEBHOOKS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks", tag = "webhooks", params(("tenant" = String, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<WebhookView>)))]
async fn list_webhooks(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<WebhookView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    let listed = app.webhooks().list(&scope, &query.page()?).await?;
    Ok(axum::Json(List::from_listed(listed, WebhookView::from)))
}

/// Reads a webhook (MANAGE_WEBHOOKS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{id}", tag = "webhooks",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = WebhookView)))]
async fn get_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<WebhookView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    Ok(axum::Json(app.webhooks().get(&scope, id).await?.into()))
}

/// Changes a webhook's URL, event types, description or `enabled`
/// (MANAGE_WEBHOOKS).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/webhooks/{id}", tag = "webhooks",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = WebhookUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = WebhookView)))]
async fn update_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<WebhookUpdate>,
) -> ApiResult<axum::Json<WebhookView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    let description = match body.description {
        Some(d) => Some(checked_description(d)?),
        None => None,
    };
    let change = WebhookChange {
        url: body.url,
        event_types: body.event_types,
        description,
        enabled: body.enabled,
    };
    Ok(axum::Json(
        app.webhooks().update(&scope, id, change).await?.into(),
    ))
}

/// Deletes a webhook; its pending deliveries go with it (MANAGE_WEBHOOKS).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/webhooks/{id}", tag = "webhooks",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 204, description = "Deleted")))]
async fn delete_webhook(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    app.webhooks().delete(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's delivery attempts, newest first (MANAGE_WEBHOOKS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{id}/deliveries", tag = "webhooks",
    params(("tenant" = String, Path), ("id" = Uuid, Path), PageQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<DeliveryView>)))]
async fn list_deliveries(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<List<DeliveryView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageWebhooks)
        .await?;
    let listed = app
        .webhooks()
        .deliveries(&scope, id, &query.page()?)
        .await?;
    Ok(axum::Json(List::from_listed(listed, DeliveryView::from)))
}
