//! Sign-ins to the admin console, and a user's live sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::Session;
use uuid::Uuid;

use crate::Result;

/// A console sign-in, found by the SHA-256 of its cookie's token.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    /// Who signed in.
    pub who: ConsoleSignIn,
    pub created_at: DateTime<Utc>,
    /// The last request it made (kept to the minute, for the idle timeout).
    pub last_seen_at: DateTime<Utc>,
}

/// Who a console sign-in is.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleSignIn {
    /// The operator, with the SHA-256 of the admin token it presented.
    Operator { admin_hash: String },
    /// A tenant user: one of the user's access sessions.
    User { session: Uuid },
}

/// Console sign-ins, kept as hashes of their cookies' tokens.
#[async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    async fn create_console_session(
        &self,
        token_hash: &str,
        session: &ConsoleSession,
    ) -> Result<()>;
    async fn find_console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>>;
    /// Records a request of the sign-in at `at`.
    async fn touch_console_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<()>;
    /// Ends a sign-in (its access session, if any, is the caller's to revoke).
    async fn delete_console_session(&self, token_hash: &str) -> Result<()>;
    /// Removes sign-ins idle since before `idle_before`; how many.
    async fn purge_console_sessions(&self, idle_before: DateTime<Utc>) -> Result<u64>;
    /// A tenant user's sessions that are neither revoked nor expired at
    /// `now`, newest first.
    async fn live_sessions_of(
        &self,
        tenant: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;
}
