//! Every error of the HTTP layer, and its one mapping to problem+json
//! (RFC 9457). Internal errors are logged with the trace id and never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_app::AppError;
use roster_core::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The trace id of the request being served (set by the `observe` middleware).
    pub static TRACE_ID: String;
}

/// The current request's trace id, or `-` outside a request.
pub fn trace_id() -> String {
    TRACE_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".into())
}

/// An outcome other than success.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed; `errors` names each bad field.
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 401: no credentials, or credentials that are not valid.
    Unauthorized(String),
    /// 403: valid credentials without the needed permission.
    Forbidden(String),
    /// 404: no such thing, in this tenant.
    NotFound(String),
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 409: a duplicate, or a locked record.
    Conflict(String),
    /// 408: the client did not send its request in time.
    RequestTimeout { detail: String },
    /// 410: a used or expired token.
    Gone(String),
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 429: too many attempts; retry after this many seconds.
    TooManyRequests { retry_after: u64 },
    /// 500: a bug or an unavailable database; the detail is logged, not sent.
    Internal(String),
    /// 503: a dependency (the database) is not answering; the detail is
    /// logged, not sent.
    Unavailable(String),
    /// 503: the server is at capacity (a full queue, too many requests in
    /// flight, a request over its time); retry after this many seconds.
    Overloaded { detail: String, retry_after: u64 },
}

impl ApiError {
    /// A 400 for one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        ApiError::BadRequest {
            detail: format!("{}: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// A 400 for several fields.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::BadRequest { detail, errors }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            ApiError::BadRequest { detail, errors } => (detail.clone(), errors.clone()),
            ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::Gone(d) => (d.clone(), Vec::new()),
            ApiError::MethodNotAllowed => {
                ("this route does not take this method".into(), Vec::new())
            }
            ApiError::PayloadTooLarge => {
                ("the request body is larger than 1 MiB".into(), Vec::new())
            }
            ApiError::UnsupportedMediaType => (
                "the request body must be JSON (Content-Type: application/json)".into(),
                Vec::new(),
            ),
            ApiError::TooManyRequests { retry_after } => (
                format!("too many attempts; retry in {retry_after} s"),
                Vec::new(),
            ),
            ApiError::Internal(_) => (
                "an internal error occurred; quote the traceId to the operator".into(),
                Vec::new(),
            ),
            ApiError::Unavailable(_) => (
                "the service is not ready: its database does not answer".into(),
                Vec::new(),
            ),
            ApiError::RequestTimeout { detail } | ApiError::Overloaded { detail, .. } => {
                (detail.clone(), Vec::new())
            }
        };
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for e in errors {
            match grouped.iter_mut().find(|(f, _)| *f == e.field) {
                Some((_, messages)) => messages.push(e.message),
                None => grouped.push((e.field, vec![e.message])),
            }
        }
        Problem {
            r#type: problem_type(self).into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            trace_id: trace_id(),
            errors: (!grouped.is_empty()).then(|| grouped.into_iter().collect()),
        }
    }
}

/// The RFC section that defines each outcome, as ASP.NET and seed 004 do.
fn problem_type(error: &ApiError) -> &'static str {
    match error {
        ApiError::BadRequest { .. } => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        ApiError::Unauthorized(_) => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        ApiError::Forbidden(_) => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        ApiError::NotFound(_) => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        ApiError::MethodNotAllowed => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        ApiError::Conflict(_) => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        ApiError::RequestTimeout { .. } => "https://tools.ietf.org/html/rfc9110#section-15.5.9",
        ApiError::Gone(_) => "https://tools.ietf.org/html/rfc9110#section-15.5.11",
        ApiError::PayloadTooLarge => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        ApiError::UnsupportedMediaType => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        ApiError::TooManyRequests { .. } => "https://tools.ietf.org/html/rfc6585#section-4",
        ApiError::Internal(_) => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        ApiError::Unavailable(_) | ApiError::Overloaded { .. } => {
            "https://tools.ietf.org/html/rfc9110#section-15.6.4"
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    "title": "Bad Request",
    "status": 400,
    "detail": "email: must be a valid email address",
    "traceId": "7f0c2a0e5d6b4a59b1f3c2d4e5f60718",
    "errors": {"email": ["must be a valid email address"]}
}))]
pub struct Problem {
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(rename = "traceId")]
    pub trace_id: String,
    /// For validation errors: the messages for each field, by field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => {
                tracing::error!(trace_id = %trace_id(), error = %detail, "internal error")
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(trace_id = %trace_id(), error = %detail, "unavailable")
            }
            _ => {}
        }
        let mut response = (self.status(), axum::Json(self.problem())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after }
        | ApiError::Overloaded { retry_after, .. } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Invalid(errors) => ApiError::fields(errors),
            AppError::Unauthorized(message) => ApiError::Unauthorized(message),
            AppError::Forbidden(message) => ApiError::Forbidden(message),
            AppError::NotFound(message) => ApiError::NotFound(message),
            AppError::Conflict(message) => ApiError::Conflict(message),
            AppError::Gone(message) => ApiError::Gone(message),
            AppError::TooManyRequests { retry_after } => ApiError::TooManyRequests { retry_after },
            err @ AppError::Busy { retry_after, .. } => ApiError::Overloaded {
                detail: err.to_string(),
                retry_after,
            },
            err @ (AppError::Signing(_) | AppError::Storage(_) | AppError::Internal(_)) => {
                ApiError::Internal(err.to_string())
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
