//! Passwords: the policy check (zxcvbn) and Argon2id hashing and verifying,
//! all off the async workers on blocking threads, at most one per core at a
//! time so memory stays bounded (each Argon2id run takes 19 MiB).

use std::sync::Arc;

use roster_core::secret::{self, Password};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// A password a client wants to set, and the field it came in (for the
/// error). Its `Debug` is redacted.
#[derive(Clone)]
pub struct NewPassword {
    pub value: String,
    pub field: String,
}

impl NewPassword {
    /// The password in `field` (`"password"` on most surfaces).
    pub fn new(value: impl Into<String>, field: impl Into<String>) -> NewPassword {
        NewPassword {
            value: value.into(),
            field: field.into(),
        }
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("value", &"<redacted>")
            .field("field", &self.field)
            .finish()
    }
}

/// The bounded pool that checks, hashes and verifies passwords.
#[derive(Clone)]
pub(crate) struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub(crate) fn new() -> Passwords {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Passwords {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(format!("password pool closed: {e}")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::Internal(format!("password work failed: {e}")))
    }

    /// Checks `password` against the policy (the user's own words in
    /// `context` must not carry it) and hashes it with Argon2id.
    pub(crate) async fn hash_new(
        &self,
        password: NewPassword,
        context: Vec<String>,
    ) -> AppResult<String> {
        let NewPassword { value, field } = password;
        let outcome = self
            .run(move || {
                let context: Vec<&str> = context.iter().map(String::as_str).collect();
                Password::parse(&value, &context).map(|p| secret::hash_password(&p))
            })
            .await?;
        outcome.map_err(|message| AppError::field(field, message))
    }

    /// Whether `candidate` matches the stored hash, in constant time; an
    /// unknown user (`None`) is checked against a dummy hash so both take
    /// the same time.
    pub(crate) async fn matches(&self, stored: Option<String>, candidate: &str) -> AppResult<bool> {
        let candidate = Password::candidate(candidate);
        self.run(move || secret::verify_password(stored.as_deref(), &candidate))
            .await
    }
}

/// The user's own words a password must not lean on.
pub(crate) fn context_of(profile: &roster_core::Profile) -> Vec<String> {
    [
        &profile.email,
        &profile.first_name,
        &profile.last_name,
        &profile.name,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect()
}
