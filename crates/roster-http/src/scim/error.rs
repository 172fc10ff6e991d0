//! SCIM errors (RFC 7644 §3.12): `{"schemas": [Error], "status": "400",
//! "scimType"?, "detail"}` as `application/scim+json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_app::AppError;
use serde_json::json;

use super::CONTENT_TYPE;

/// An error answered the SCIM way.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl From<AppError> for ScimError {
    fn from(error: AppError) -> Self {
        let (status, scim_type) = match &error {
            AppError::Invalid(_) => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, None),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, None),
            AppError::Conflict(_) => (StatusCode::CONFLICT, Some("uniqueness")),
            AppError::Gone(_) => (StatusCode::NOT_FOUND, None),
            AppError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, None),
            AppError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, None),
            AppError::Signing(_) | AppError::Storage(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        let retry_after = match &error {
            AppError::TooManyRequests { retry_after } | AppError::Busy { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        };
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "SCIM request failed");
            "internal error".to_string()
        } else {
            error.to_string()
        };
        ScimError {
            status,
            scim_type,
            detail,
            retry_after,
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}
