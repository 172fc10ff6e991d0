//! API keys, devices, sessions, signing keys and throttles.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, ApiKey, ApiKeyGrant, Device, Session, SessionKind, SigningKey};
use uuid::Uuid;

use crate::{Listed, Page, Result};

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub grant: ApiKeyGrant,
    pub token_hash: String,
}

/// What a presented API key authenticates as.
#[derive(Debug, Clone)]
pub struct ApiKeyIdentity {
    pub tenant: String,
    pub key: ApiKey,
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub name: String,
    pub store_id: Option<String>,
    pub token_hash: String,
}

/// What a presented device token authenticates as.
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    pub tenant: String,
    pub device: Device,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub kind: SessionKind,
    pub tenant: Option<String>,
    pub user_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A sign-in throttle counter.
#[derive(Debug, Clone)]
pub struct Throttle {
    pub key: String,
    pub failures: i64,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// What callers authenticate with: API keys, devices, sessions, the token
/// signing keys, and the sign-in throttle counters.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn create_api_key(&self, tenant: &str, new: NewApiKey, actor: &Actor) -> Result<ApiKey>;
    async fn list_api_keys(&self, tenant: &str, page: &Page) -> Result<Listed<ApiKey>>;
    async fn delete_api_key(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// Finds the key whose token hashes to `token_hash`, in any tenant: the
    /// token itself says whose it is.
    async fn authenticate_api_key(&self, token_hash: &str) -> Result<Option<ApiKeyIdentity>>;

    async fn create_device(&self, tenant: &str, new: NewDevice, actor: &Actor) -> Result<Device>;
    async fn list_devices(&self, tenant: &str, page: &Page) -> Result<Listed<Device>>;
    /// Revokes a device and every session signed in on it.
    async fn revoke_device(
        &self,
        tenant: &str,
        id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<()>;
    /// Finds the live (unrevoked) device whose token hashes to `token_hash`.
    async fn authenticate_device(&self, token_hash: &str) -> Result<Option<DeviceIdentity>>;

    /// Starts a session. A session of a tenant's user is a sign-in: the
    /// user's `last_accessed_at` moves to `created_at` in the same
    /// transaction (one commit per sign-in).
    async fn create_session(&self, new: NewSession) -> Result<Session>;
    async fn get_session(&self, id: Uuid) -> Result<Option<Session>>;
    async fn revoke_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    /// Adds a signing key; `retire_others_at` retires the keys before it.
    async fn add_signing_key(
        &self,
        key: SigningKey,
        retire_others_at: Option<DateTime<Utc>>,
    ) -> Result<()>;

    /// Replaces a key's stored private key (the same key, sealed or
    /// unsealed); 404 when there is no such key.
    async fn replace_signing_key(&self, kid: &str, private_key: &str) -> Result<()>;

    /// The throttle counters of these keys.
    async fn throttles(&self, keys: &[String]) -> Result<Vec<Throttle>>;
    /// Counts one failure of `key`; a counter older than `window` (when
    /// given) starts again. Returns the counter after the failure.
    async fn record_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: Option<chrono::Duration>,
    ) -> Result<Throttle>;
    async fn lock_until(&self, key: &str, until: DateTime<Utc>) -> Result<()>;
    async fn clear_failures(&self, key: &str) -> Result<()>;
    /// Replaces a user's password hash with `new` if it is still `old` (an
    /// imported hash upgraded at sign-in; the password is the same, so
    /// nothing else changes and no event is written). Whether it did.
    async fn replace_password_hash(
        &self,
        tenant: &str,
        user: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool>;
    /// The user's stored password hash, if it has one (to tell Roster's own
    /// from an imported one).
    async fn password_hash_of(&self, tenant: &str, user: Uuid) -> Result<Option<String>>;
}
