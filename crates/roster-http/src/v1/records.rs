//! `/v1/tenants/{t}/quotes` and `/orders`: minimal records owned by company
//! users, enough to honour seed 002's deletion rules (MANAGE_COMMERCES).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use roster_app::input::{NewOrder, NewQuote, OrderPatch, QuotePatch, RecordFilter};
use roster_core::{validate, Order, Permission, Quote, QuoteStatus, Validation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{page, List};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_quote, list_quotes))
        .routes(routes!(get_quote, update_quote))
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order, update_order))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteCreate {
    pub company_id: Uuid,
    /// A user of that company.
    pub owner_user_id: Uuid,
    #[schema(schema_with = crate::schema::text::<255>)]
    pub reference: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub reference: Option<String>,
    /// `CLOSED` closes the quote.
    pub status: Option<QuoteStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: QuoteStatus,
    /// A locked quote refuses every change (409); deleting its owner locks it.
    pub locked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Quote> for QuoteView {
    fn from(q: Quote) -> Self {
        QuoteView {
            id: q.id,
            company_id: q.company_id,
            owner_user_id: q.owner_user_id,
            reference: q.reference,
            status: q.status,
            locked: q.locked,
            created_at: q.created_at,
            updated_at: q.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCreate {
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    #[schema(schema_with = crate::schema::text::<255>)]
    pub reference: String,
    /// Free text, default `PLACED`.
    #[schema(schema_with = crate::schema::text_or_null::<64>)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpdate {
    #[schema(schema_with = crate::schema::text_or_null::<255>)]
    pub reference: Option<String>,
    #[schema(schema_with = crate::schema::text_or_null::<64>)]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        OrderView {
            id: o.id,
            company_id: o.company_id,
            owner_user_id: o.owner_user_id,
            reference: o.reference,
            status: o.status,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// Filters of the quote and order lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    pub owner_user_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// 1 to 500, default 50.
    #[param(inline)]
    pub limit: Option<super::Limit>,
    pub cursor: Option<String>,
}

impl RecordQuery {
    fn filter(&self) -> RecordFilter {
        RecordFilter {
            owner_user_id: self.owner_user_id,
            company_id: self.company_id,
        }
    }
}

fn reference(value: &str) -> Result<String, String> {
    validate::text(value, 255)
}

/// Creates a quote, `OPEN` and unlocked (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/quotes", tag = "quotes-orders", params(("tenant" = String, Path)),
    request_body = QuoteCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = QuoteView)))]
async fn create_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<QuoteCreate>,
) -> ApiResult<(StatusCode, axum::Json<QuoteView>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let reference = reference(&body.reference).map_err(|m| ApiError::field("reference", m))?;
    let new = NewQuote {
        company_id: body.company_id,
        owner_user_id: body.owner_user_id,
        reference,
    };
    let quote = app.records().create_quote(&scope, new).await?;
    Ok((StatusCode::CREATED, axum::Json(quote.into())))
}

/// Lists quotes (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/quotes", tag = "quotes-orders", params(("tenant" = String, Path), RecordQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<QuoteView>)))]
async fn list_quotes(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<RecordQuery>,
) -> ApiResult<axum::Json<List<QuoteView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let page = page(query.limit, query.cursor.as_deref())?;
    let listed = app
        .records()
        .list_quotes(&scope, &query.filter(), &page)
        .await?;
    Ok(axum::Json(List::from_listed(listed, QuoteView::from)))
}

/// Reads a quote (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/quotes/{id}", tag = "quotes-orders",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = QuoteView)))]
async fn get_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<QuoteView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    Ok(axum::Json(
        app.records().get_quote(&scope, id).await?.into(),
    ))
}

/// Changes a quote; a locked quote answers 409 (MANAGE_COMMERCES).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/quotes/{id}", tag = "quotes-orders",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = QuoteUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = QuoteView)))]
async fn update_quote(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<QuoteUpdate>,
) -> ApiResult<axum::Json<QuoteView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let mut v = Validation::new();
    let patch = QuotePatch {
        reference: v.check_opt("reference", body.reference.as_deref(), reference),
        status: body.status,
    };
    v.finish().map_err(ApiError::fields)?;
    Ok(axum::Json(
        app.records().update_quote(&scope, id, patch).await?.into(),
    ))
}

/// Creates an order, `PLACED` unless a status is given (MANAGE_COMMERCES).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/orders", tag = "quotes-orders", params(("tenant" = String, Path)),
    request_body = OrderCreate, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 201, body = OrderView)))]
async fn create_order(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<OrderCreate>,
) -> ApiResult<(StatusCode, axum::Json<OrderView>)> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let mut v = Validation::new();
    let reference = v.check("reference", reference(&body.reference));
    let status = v.check(
        "status",
        validate::text(body.status.as_deref().unwrap_or("PLACED"), 64),
    );
    v.finish().map_err(ApiError::fields)?;
    let new = NewOrder {
        company_id: body.company_id,
        owner_user_id: body.owner_user_id,
        reference: reference.unwrap_or_default(),
        status: status.unwrap_or_default(),
    };
    let order = app.records().create_order(&scope, new).await?;
    Ok((StatusCode::CREATED, axum::Json(order.into())))
}

/// Lists orders (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders", tag = "quotes-orders", params(("tenant" = String, Path), RecordQuery),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = List<OrderView>)))]
async fn list_orders(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<RecordQuery>,
) -> ApiResult<axum::Json<List<OrderView>>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let page = page(query.limit, query.cursor.as_deref())?;
    let listed = app
        .records()
        .list_orders(&scope, &query.filter(), &page)
        .await?;
    Ok(axum::Json(List::from_listed(listed, OrderView::from)))
}

/// Reads an order (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders/{id}", tag = "quotes-orders",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = OrderView)))]
async fn get_order(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<OrderView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    Ok(axum::Json(
        app.records().get_order(&scope, id).await?.into(),
    ))
}

/// Changes an order's reference or status (MANAGE_COMMERCES).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/orders/{id}", tag = "quotes-orders",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = OrderUpdate,
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = OrderView)))]
async fn update_order(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(body): Json<OrderUpdate>,
) -> ApiResult<axum::Json<OrderView>> {
    let scope = app
        .scope(&caller, &tenant, Permission::ManageCommerces)
        .await?;
    let mut v = Validation::new();
    let patch = OrderPatch {
        reference: v.check_opt("reference", body.reference.as_deref(), reference),
        status: v.check_opt("status", body.status.as_deref(), |s| validate::text(s, 64)),
    };
    v.finish().map_err(ApiError::fields)?;
    Ok(axum::Json(
        app.records().update_order(&scope, id, patch).await?.into(),
    ))
}
