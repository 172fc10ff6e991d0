//! The application layer's errors: one variant per outcome a client can be
//! told, plus the internal ones that are logged and never shown.

use roster_core::FieldError;
use roster_store::StoreError;

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is malformed; each field with its messages.
    #[error("invalid input: {}", summary(.0))]
    Invalid(Vec<FieldError>),
    /// No credentials, or credentials that are not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing in this tenant.
    #[error("{0}")]
    NotFound(String),
    /// A duplicate, a lock, or a state that refuses the change.
    #[error("{0}")]
    Conflict(String),
    /// A used, revoked or expired token or invitation.
    #[error("{0}")]
    Gone(String),
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// Bounded work is at capacity; retry after this many seconds (503).
    #[error("{what} are at capacity; retry in {retry_after} s")]
    Busy {
        what: &'static str,
        retry_after: u64,
    },
    /// A token could not be signed (a bug or a broken key): never shown.
    #[error("token signing failed: {0}")]
    Signing(String),
    /// The database failed: never shown.
    #[error("storage failed: {0}")]
    Storage(#[source] StoreError),
    /// Anything else that is a bug: never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// A bad value of one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            StoreError::Conflict(message) => AppError::Conflict(message),
            StoreError::Invalid { field, message } => AppError::field(field, message),
            StoreError::Gone(message) => AppError::Gone(message),
            StoreError::Forbidden(message) => AppError::Forbidden(message),
            err @ StoreError::Database(_) => AppError::Storage(err),
        }
    }
}

/// The result of a use case.
pub type AppResult<T> = Result<T, AppError>;
