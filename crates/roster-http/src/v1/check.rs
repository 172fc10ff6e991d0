//! `POST /v1/tenants/{t}/check`: may this user do that here? The user's
//! facts from the cache (or one indexed read), then the in-memory
//! permission map.

use axum::extract::State;
use roster_app::check::{Consistency, Question};
use roster_core::{Decision, Permission};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, holds_nul, parse_json, refuse_array, JsonBytes, Path};
use crate::{AppState, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check))
}

/// The most questions one batch may ask.
const MAX_BATCH: usize = 1000;

/// One question.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    pub user_id: Uuid,
    pub permission: Permission,
    /// For store-scoped permissions; without it the user must hold the
    /// permission on every store.
    pub store_id: Option<String>,
    /// For company-scoped permissions; without it the user must hold the
    /// permission in every company.
    pub company_id: Option<Uuid>,
    /// `bounded` (default): facts may come from this process's cache, which
    /// reflects this process's changes at once and other processes' within
    /// `ROSTER_CACHE_STALENESS_MS`. `full`: read from the database.
    pub consistency: Option<CheckConsistency>,
}

/// How fresh a check's facts must be.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckConsistency {
    Bounded,
    Full,
}

impl From<CheckConsistency> for Consistency {
    fn from(c: CheckConsistency) -> Self {
        match c {
            CheckConsistency::Bounded => Consistency::Bounded,
            CheckConsistency::Full => Consistency::Full,
        }
    }
}

/// Many questions, answered in order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBatch {
    pub checks: Vec<serde_json::Value>,
    /// For every question of the batch (a question's own wins).
    pub consistency: Option<CheckConsistency>,
}

/// One question or a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body, which is parsed by hand below
pub enum CheckRequest {
    One(CheckItem),
    Many(#[schema(inline)] CheckBatch),
}

/// The answer to one question.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckDecision {
    pub allowed: bool,
    /// Which role granted it, or why not.
    pub reason: String,
}

/// One answer of a batch: a decision, or the error that question met.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CheckResult {
    Decision(CheckDecision),
    Error { error: Problem },
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CheckResponse {
    One(CheckDecision),
    Many { results: Vec<CheckResult> },
}

/// The application's question for `item`, asked in a batch of
/// `consistency` (the item's own wins); 400 for a `store_id` holding
/// U+0000, which no store code holds.
fn question(item: CheckItem, batch: Option<CheckConsistency>) -> ApiResult<Question> {
    if item.store_id.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(holds_nul("store_id", ""));
    }
    Ok(Question {
        user_id: item.user_id,
        permission: item.permission,
        store_id: item.store_id,
        company_id: item.company_id,
        consistency: item
            .consistency
            .or(batch)
            .map(Into::into)
            .unwrap_or_default(),
    })
}

impl From<Decision> for CheckDecision {
    fn from(decision: Decision) -> Self {
        CheckDecision {
            allowed: decision.allowed,
            reason: decision.reason,
        }
    }
}

/// Answers whether a user holds a permission, at a store or company if
/// named (VIEW_USERS). Send `{"checks": [...]}` to ask many at once: each is
/// answered on its own, a bad one with `{"error": <problem>}` in its place.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/check", tag = "check", params(("tenant" = String, Path)),
    request_body(content = CheckRequest, example = json!({"user_id": "0193a0c4-7d1e-7c3a-9f00-5b8f2a1c4d5e", "permission": "USE_POS", "store_id": "main"})),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = CheckResponse, example = json!({"allowed": true, "reason": "granted by tenant role ACCESS"}))))]
async fn check(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<axum::Json<CheckResponse>> {
    let scope = app.scope(&caller, &tenant, Permission::ViewUsers).await?;
    refuse_array(&bytes)?;
    // The hot path: a well-formed single question parses straight into its
    // type, without the whole-body screen of `parse_json`: its only free
    // text, `store_id`, is screened for U+0000 by `question`, and a typed
    // parse nests no deeper than its type. Anything else (a batch, a
    // mistake) takes the general parse, which names what is wrong.
    if let Ok(item) = serde_json::from_slice::<CheckItem>(&bytes) {
        let decision = app.checks().decide(&scope, question(item, None)?).await?;
        return Ok(axum::Json(CheckResponse::One(decision.into())));
    }
    // A batch's items are only delimited here (serde_json skips a raw value
    // without recursing, so depth costs no stack), then each parses straight
    // into its type; only a malformed one takes the general parse, which
    // refuses one nested too deep and names its fault, in its place.
    if let Ok(batch) = serde_json::from_slice::<RawBatch>(&bytes) {
        let items = batch.checks.iter().map(|raw| {
            refuse_array(raw.get().as_bytes()).and_then(|()| {
                serde_json::from_str::<CheckItem>(raw.get())
                    .or_else(|_| parse_json::<CheckItem>(raw.get().as_bytes()))
            })
        });
        return answer_batch(&app, &scope, items.collect(), batch.consistency).await;
    }
    // Not a well-formed question nor batch: the general parse says why.
    let body: serde_json::Value = parse_json(&bytes)?;
    if body.get("checks").is_none() {
        let item: CheckItem = from_value(body)?;
        let decision = app.checks().decide(&scope, question(item, None)?).await?;
        return Ok(axum::Json(CheckResponse::One(decision.into())));
    }
    let batch: CheckBatch = from_value(body)?;
    let items = batch.checks.into_iter().map(from_value::<CheckItem>);
    answer_batch(&app, &scope, items.collect(), batch.consistency).await
}

/// A batch as sent, its questions not parsed yet.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch<'a> {
    #[serde(borrow)]
    checks: Vec<&'a serde_json::value::RawValue>,
    consistency: Option<CheckConsistency>,
}

/// Answers a batch's parsed `items` in order: every well-formed question
/// from one read of whatever the cache lacks; a malformed one gets its
/// error in its place.
async fn answer_batch(
    app: &AppState,
    scope: &roster_app::Scope,
    items: Vec<ApiResult<CheckItem>>,
    consistency: Option<CheckConsistency>,
) -> ApiResult<axum::Json<CheckResponse>> {
    if items.len() > MAX_BATCH {
        return Err(ApiError::field(
            "checks",
            format!("at most {MAX_BATCH} checks per batch"),
        ));
    }
    let parsed: Vec<ApiResult<Question>> = items
        .into_iter()
        .map(|item| item.and_then(|item| question(item, consistency)))
        .collect();
    let questions = parsed
        .iter()
        .filter_map(|q| q.as_ref().ok())
        .cloned()
        .collect();
    let mut decisions = app.checks().decide_all(scope, questions).await?.into_iter();
    let mut results = Vec::with_capacity(parsed.len());
    for outcome in parsed {
        let outcome = match outcome {
            Ok(_) => decisions
                .next()
                .ok_or_else(|| ApiError::Internal("a batch lost a decision".into()))?
                .map_err(ApiError::from),
            Err(e) => Err(e),
        };
        results.push(match outcome {
            Ok(decision) => CheckResult::Decision(decision.into()),
            Err(ApiError::Internal(detail)) => return Err(ApiError::Internal(detail)),
            Err(e) => CheckResult::Error { error: e.problem() },
        });
    }
    Ok(axum::Json(CheckResponse::Many { results }))
}
