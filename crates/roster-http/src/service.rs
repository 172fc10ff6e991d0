//! Steps every surface shares when it writes users: checking a new password
//! against the policy and hashing it off the async threads.

use roster_core::secret::{self, Password};

use crate::error::{ApiError, ApiResult};

/// Checks `raw` against the password policy (reporting under `field`) and
/// hashes it with Argon2id on a blocking thread. `context` holds the user's
/// own words (email, names) that the password must not lean on.
pub async fn hash_new_password(
    raw: &str,
    field: &str,
    context: &[Option<&str>],
) -> ApiResult<String> {
    let context: Vec<&str> = context.iter().flatten().copied().collect();
    let password =
        Password::parse(raw, &context).map_err(|message| ApiError::field(field, message))?;
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}
