//! `/v1/tenants/{t}/imports` (issue #13, SPEC §8): a JSON-lines body of
//! users imported in the background, and its progress. Each line is what
//! `roster import` reads (a `/v1` user plus an optional `password_hash`),
//! read by [`line_from_object`], which the command line uses too.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use roster_app::imports::ImportLine;
use roster_app::input::ImportJob;
use roster_app::input::NewContact;
use roster_core::foreign_hash::ForeignHash;
use roster_core::{validate, ContactType, Permission, Source};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::users::{import_line, EXPORT_ONLY_FIELDS};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::AppState;

/// The largest import body (larger files: `roster import`).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_import))
        .routes(routes!(get_import))
}

/// `field: reason` pairs of a body the `/v1` parser refused.
fn problems(error: ApiError) -> Vec<(String, String)> {
    match error {
        ApiError::BadRequest { errors, detail } if errors.is_empty() => {
            vec![("line".into(), detail)]
        }
        ApiError::BadRequest { errors, .. } => {
            errors.into_iter().map(|e| (e.field, e.message)).collect()
        }
        _ => vec![("line".into(), "is refused".into())],
    }
}

/// One import line, as an object: export-only fields read past, the
/// external id's source `IMPORT` unless given, the hash parsed.
pub fn line_from_object(
    mut object: Map<String, Value>,
) -> Result<ImportLine, Vec<(String, String)>> {
    for field in EXPORT_ONLY_FIELDS {
        object.remove(field);
    }
    let hash = match object.remove("password_hash") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            ForeignHash::parse_imported(&value)
                .map_err(|e| vec![("password_hash".to_string(), e)])?,
        ),
    };
    // An external id's source is `IMPORT` unless the line says (the API's
    // default, `RETEN`, is the platform's own).
    if object.get("external_id").is_some_and(|e| !e.is_null()) && !object.contains_key("source") {
        object.insert("source".into(), Value::String("IMPORT".into()));
    }
    if hash.is_some() && object.contains_key("password") {
        return Err(vec![(
            "password".into(),
            "give a password or a password_hash, not both".into(),
        )]);
    }
    let company_external_id = match object.remove("company_external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(
            validate::text(&id, 255).map_err(|m| vec![("company_external_id".to_string(), m)])?,
        ),
        Some(_) => {
            return Err(vec![(
                "company_external_id".into(),
                "must be a string".into(),
            )])
        }
    };
    if company_external_id.is_some() && object.get("company_id").is_some_and(|c| !c.is_null()) {
        return Err(vec![(
            "company_external_id".into(),
            "give a company_id or a company_external_id, not both".into(),
        )]);
    }
    let contacts = match object.remove("contacts") {
        None | Some(Value::Null) => None,
        Some(value) => Some(contacts_of(value)?),
    };
    let (new, patch, password) = import_line(Value::Object(object)).map_err(problems)?;
    Ok(ImportLine {
        new,
        patch,
        password,
        hash,
        company_external_id,
        contacts,
    })
}

/// One contact of an import line, as a `/v1` contact reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportContact {
    contact_type: ContactType,
    value: String,
    #[serde(default)]
    is_primary: bool,
}

/// A line's `contacts`: each with a value of its type, none twice, at most
/// one primary per type (the rules the store keeps, told by field here).
fn contacts_of(value: Value) -> Result<Vec<NewContact>, Vec<(String, String)>> {
    let listed: Vec<ImportContact> = serde_json::from_value(value).map_err(|e| {
        vec![(
            "contacts".to_string(),
            format!("must be a list of {{contact_type, value, is_primary}}: {e}"),
        )]
    })?;
    let mut contacts: Vec<NewContact> = Vec::with_capacity(listed.len());
    for (i, contact) in listed.into_iter().enumerate() {
        let value = validate::contact_value(contact.contact_type, &contact.value)
            .map_err(|m| vec![(format!("contacts[{i}].value"), m)])?;
        let key = validate::contact_key(contact.contact_type, &value);
        if contacts.iter().any(|c| {
            c.contact_type == contact.contact_type
                && validate::contact_key(c.contact_type, &c.value) == key
        }) {
            return Err(vec![(
                format!("contacts[{i}].value"),
                "is given twice".into(),
            )]);
        }
        if contact.is_primary
            && contacts
                .iter()
                .any(|c| c.is_primary && c.contact_type == contact.contact_type)
        {
            return Err(vec![(
                format!("contacts[{i}].is_primary"),
                "only one contact of a type can be primary".into(),
            )]);
        }
        contacts.push(NewContact {
            contact_type: contact.contact_type,
            value,
            source: Source::Import,
            is_primary: contact.is_primary,
        });
    }
    Ok(contacts)
}

/// One line of JSON lines text.
pub fn line_from_text(text: &str) -> Result<ImportLine, Vec<(String, String)>> {
    crate::extract::screen(text.as_bytes()).map_err(problems)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => line_from_object(object),
        Ok(_) => Err(vec![("line".into(), "must be a JSON object".into())]),
        Err(e) => Err(vec![("line".into(), format!("is not valid JSON: {e}"))]),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check every line and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A problem of a refused line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblemView {
    pub line: i64,
    pub field: String,
    pub reason: String,
}

/// An import job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: Uuid,
    /// RUNNING, DONE or FAILED (stopped before its last line).
    pub status: String,
    pub dry_run: bool,
    /// Lines read so far (blank lines not counted).
    pub lines: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    /// Why the job failed, when it did.
    pub failure: Option<String>,
    /// The first 1 000 problems, by line.
    pub errors: Vec<ImportProblemView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportJob> for ImportView {
    fn from(job: ImportJob) -> Self {
        ImportView {
            id: job.id,
            status: job.status.as_str().to_string(),
            dry_run: job.dry_run,
            lines: job.counts.lines,
            created: job.counts.created,
            updated: job.counts.updated,
            unchanged: job.counts.unchanged,
            rejected: job.counts.rejected,
            failure: job.failure,
            errors: job
                .problems
                .into_iter()
                .map(|p| ImportProblemView {
                    line: p.line,
                    field: p.field,
                    reason: p.reason,
                })
                .collect(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

/// An import's body: JSON lines, as bytes (documented as
/// `application/octet-stream`, the one raw-body media type that client
/// generators and Schemathesis all take).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct JsonLines(#[allow(dead_code)] Vec<u8>);

/// Whether the body says it is JSON lines: `application/octet-stream`,
/// `application/x-ndjson`, `application/jsonl`, `application/json` or
/// `text/plain`.
fn is_json_lines(headers: &HeaderMap) -> bool {
    crate::extract::content_type(headers).is_some_and(|m| {
        (m.type_() == mime::APPLICATION
            && ["x-ndjson", "jsonl", "x-jsonlines", "json", "octet-stream"]
                .contains(&m.subtype().as_str()))
            || (m.type_() == mime::TEXT && m.subtype() == mime::PLAIN)
    })
}

/// Starts importing a JSON-lines body of users (MANAGE_USERS); 202 with
/// the job, whose progress `GET .../imports/{id}` reports. The body is
/// spooled to a temporary file as it arrives (memory stays flat), up to
/// 256 MiB; two jobs run at once per process, 16 more wait their turn,
/// and past that the answer is 503.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/imports", tag = "imports",
    params(("tenant" = String, Path), ImportQuery),
    request_body(description = "JSON lines: one /v1 user per line, plus an optional password_hash. \
        Sent as application/octet-stream, application/x-ndjson, application/jsonl or text/plain.",
        content((JsonLines = "application/octet-stream"))),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 202, body = ImportView)))]
async fn start_import(
    State(app): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    if !is_json_lines(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let spooled =
        tempfile::tempfile().map_err(|e| ApiError::Internal(format!("no temporary file: {e}")))?;
    let mut writer = tokio::fs::File::from_std(
        spooled
            .try_clone()
            .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?,
    );
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::field("body", "was cut off"))?;
        size += chunk.len();
        if size > MAX_IMPORT_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        tokio::io::AsyncWriteExt::write_all(&mut writer, &chunk)
            .await
            .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut writer)
        .await
        .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    let mut reader = spooled;
    std::io::Seek::rewind(&mut reader)
        .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    let job = app
        .imports()
        .start(&scope, query.dry_run, reader, line_from_text)
        .await?;
    let location = format!("/v1/tenants/{tenant}/imports/{}", job.id);
    let mut response = (StatusCode::ACCEPTED, axum::Json(ImportView::from(job))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// An import job's progress and the problems of its refused lines
/// (MANAGE_USERS).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/imports/{id}", tag = "imports",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 200, body = ImportView)))]
async fn get_import(
    State(app): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> ApiResult<axum::Json<ImportView>> {
    let scope = app.scope(&caller, &tenant, Permission::ManageUsers).await?;
    Ok(axum::Json(app.imports().job(&scope, id).await?.into()))
}
