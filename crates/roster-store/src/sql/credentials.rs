//! API keys, devices, sessions, signing keys and sign-in throttles:
//! [`CredentialStore`].

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use roster_core::{Actor, ApiKey, ApiKeyGrant, Device, Session, SessionKind, SigningKey};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::page::{fetch_page, paged, PageKey};
use super::tenants::fetch_store;
use super::user_rows::fetch_user;
use super::{lock_tenant, now, opt_uuid, uuid, word, Conn, Db, SqlStore, LOCK};
use crate::{
    parse_permissions, ApiKeyIdentity, CredentialStore, DeviceIdentity, Entity, Listed, NewApiKey,
    NewDevice, NewSession, Page, Result, StoreError, Throttle,
};

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    pub(super) tenant_id: String,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) permissions: String,
    pub(super) user_id: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

impl TryFrom<ApiKeyRow> for ApiKeyIdentity {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<Self> {
        let grant = match r.user_id {
            Some(user) => ApiKeyGrant::User(uuid(&user)?),
            None => ApiKeyGrant::Permissions(parse_permissions(&r.permissions)),
        };
        Ok(ApiKeyIdentity {
            tenant: r.tenant_id,
            key: ApiKey {
                id: uuid(&r.id)?,
                name: r.name,
                grant,
                created_at: r.created_at,
            },
        })
    }
}

pub(super) const API_KEY_COLUMNS: &str = "tenant_id, id, name, permissions, user_id, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct DeviceRow {
    pub(super) tenant_id: String,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) store_id: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeviceRow> for DeviceIdentity {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self> {
        Ok(DeviceIdentity {
            tenant: r.tenant_id,
            device: Device {
                id: uuid(&r.id)?,
                name: r.name,
                store_id: r.store_id,
                created_at: r.created_at,
                revoked_at: r.revoked_at,
            },
        })
    }
}

pub(super) const DEVICE_COLUMNS: &str = "tenant_id, id, name, store_id, created_at, revoked_at";

pub(super) async fn fetch_api_key(conn: &mut Conn, tenant: &str, id: &str) -> Result<ApiKey> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
    let row: ApiKeyRow = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("API key"))?;
    Ok(ApiKeyIdentity::try_from(row)?.key)
}

pub(super) async fn fetch_device(conn: &mut Conn, tenant: &str, id: &str) -> Result<Device> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2");
    let row: DeviceRow = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("device"))?;
    Ok(DeviceIdentity::try_from(row)?.device)
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) tenant_id: Option<String>,
    pub(super) user_id: Option<String>,
    pub(super) account_id: Option<String>,
    pub(super) device_id: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(Session {
            id: uuid(&r.id)?,
            kind: word(&r.kind, SessionKind::parse)?,
            tenant: r.tenant_id,
            user_id: opt_uuid(r.user_id)?,
            account_id: opt_uuid(r.account_id)?,
            device_id: opt_uuid(r.device_id)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SigningKeyRow {
    pub(super) kid: String,
    pub(super) private_pem: String,
    pub(super) public_x: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) retired_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ThrottleRow {
    pub(super) key: String,
    pub(super) failures: i64,
    pub(super) window_start: DateTime<Utc>,
    pub(super) locked_until: Option<DateTime<Utc>>,
}

impl From<ThrottleRow> for Throttle {
    fn from(r: ThrottleRow) -> Self {
        Throttle {
            key: r.key,
            failures: r.failures,
            window_start: r.window_start,
            locked_until: r.locked_until,
        }
    }
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn create_api_key(&self, tenant: &str, new: NewApiKey, actor: &Actor) -> Result<ApiKey> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        let (permissions, user) = match &new.grant {
            ApiKeyGrant::Permissions(p) => (
                p.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
                None,
            ),
            ApiKeyGrant::User(user) => {
                fetch_user(&mut tx, tenant, *user, false).await?;
                (String::new(), Some(user.to_string()))
            }
        };
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, id, name, token_hash, permissions, user_id, \
             created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(&new.name)
        .bind(&new.token_hash)
        .bind(permissions)
        .bind(user)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "api_key.created",
            &format!("api_key:{id}"),
            &new.name,
        )
        .await?;
        let sql =
            format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let row: ApiKeyRow = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(ApiKeyIdentity::try_from(row)?.key)
    }

    async fn list_api_keys(&self, tenant: &str, page: &Page) -> Result<Listed<ApiKey>> {
        let select = format!("SELECT {API_KEY_COLUMNS} FROM api_keys");
        let rows: Vec<ApiKeyRow> =
            fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let keys = rows
            .into_iter()
            .map(|r| ApiKeyIdentity::try_from(r).map(|k| k.key))
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(keys, page, |k: &ApiKey| k.id.to_string()))
    }

    async fn delete_api_key(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("API key"));
        }
        audit(
            &mut tx,
            tenant,
            actor,
            "api_key.deleted",
            &format!("api_key:{id}"),
            "revoked",
        )
        .await?;
        let touched = [Entity::ApiKey(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn authenticate_api_key(&self, token_hash: &str) -> Result<Option<ApiKeyIdentity>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE token_hash = $1");
        let row: Option<ApiKeyRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(ApiKeyIdentity::try_from).transpose()
    }

    async fn create_device(&self, tenant: &str, new: NewDevice, actor: &Actor) -> Result<Device> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        if let Some(store) = &new.store_id {
            fetch_store(&mut tx, tenant, "id", store).await?;
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO devices (tenant_id, id, name, store_id, token_hash, created_at) VALUES \
             ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(&new.name)
        .bind(&new.store_id)
        .bind(&new.token_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "device.created",
            &format!("device:{id}"),
            &new.name,
        )
        .await?;
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2");
        let row: DeviceRow = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(DeviceIdentity::try_from(row)?.device)
    }

    async fn list_devices(&self, tenant: &str, page: &Page) -> Result<Listed<Device>> {
        let select = format!("SELECT {DEVICE_COLUMNS} FROM devices");
        let rows: Vec<DeviceRow> =
            fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let items = rows
            .into_iter()
            .map(|r| DeviceIdentity::try_from(r).map(|d| d.device))
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |d: &Device| d.id.to_string()))
    }

    async fn revoke_device(
        &self,
        tenant: &str,
        id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $3 WHERE tenant_id = $1 AND id = \
                                $2 AND revoked_at IS NULL",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        sqlx::query(
            "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND device_id = $2 \
                     AND revoked_at IS NULL",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "device.revoked",
            &format!("device:{id}"),
            "revoked with its sessions",
        )
        .await?;
        // A cached session through this device depends on the device too.
        let touched = [Entity::Device(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn authenticate_device(&self, token_hash: &str) -> Result<Option<DeviceIdentity>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1 AND revoked_at IS NULL"
        );
        let row: Option<DeviceRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(DeviceIdentity::try_from).transpose()
    }

    async fn create_session(&self, new: NewSession) -> Result<Session> {
        let id = Uuid::now_v7();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, kind, tenant_id, user_id, account_id, device_id, \
             created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(new.kind.as_str())
        .bind(&new.tenant)
        .bind(new.user_id.map(|u| u.to_string()))
        .bind(new.account_id.map(|a| a.to_string()))
        .bind(new.device_id.map(|d| d.to_string()))
        .bind(new.created_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        let mut touched = Vec::new();
        if let (Some(tenant), Some(user)) = (&new.tenant, new.user_id) {
            sqlx::query("UPDATE users SET last_accessed_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(user.to_string())
                .bind(new.created_at.trunc_subsecs(3))
                .execute(&mut *tx)
                .await?;
            // The user's `last_accessed_at` moved: that user only.
            touched.push(Entity::User(tenant, user));
            self.announce_change(&mut tx, &touched).await?;
        }
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(Session {
            id,
            kind: new.kind,
            tenant: new.tenant,
            user_id: new.user_id,
            account_id: new.account_id,
            device_id: new.device_id,
            created_at: new.created_at,
            expires_at: new.expires_at,
            revoked_at: None,
        })
    }

    async fn get_session(&self, id: Uuid) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, kind, tenant_id, user_id, account_id, device_id, created_at, expires_at, \
             revoked_at \
             FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn revoke_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let touched = [Entity::Session(id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(
            "SELECT kid, private_pem, public_x, created_at, retired_at FROM signing_keys ORDER BY \
             created_at DESC, kid DESC",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SigningKey {
                kid: r.kid,
                private_key: r.private_pem,
                public_x: r.public_x,
                created_at: r.created_at,
                retired_at: r.retired_at,
            })
            .collect())
    }

    async fn add_signing_key(
        &self,
        key: SigningKey,
        retire_others_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        if let Some(at) = retire_others_at {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pem, public_x, created_at) VALUES \
                     ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.private_key)
        .bind(&key.public_x)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn replace_signing_key(&self, kid: &str, private_key: &str) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query("UPDATE signing_keys SET private_pem = $2 WHERE kid = $1")
            .bind(kid)
            .bind(private_key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("signing key"));
        }
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn throttles(&self, keys: &[String]) -> Result<Vec<Throttle>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new(
            "SELECT key, failures, window_start, locked_until FROM login_throttles WHERE key IN (",
        );
        let mut list = q.separated(", ");
        for key in keys {
            list.push_bind(key.clone());
        }
        q.push(")");
        let rows: Vec<ThrottleRow> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(Throttle::from).collect())
    }

    async fn record_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: Option<chrono::Duration>,
    ) -> Result<Throttle> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query(
            "INSERT INTO login_throttles (key, failures, window_start) VALUES ($1, 0, $2) ON \
             CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "SELECT key, failures, window_start, locked_until FROM login_throttles \
                           WHERE key = $1{LOCK}"
        );
        let current: ThrottleRow = sqlx::query_as(&sql).bind(key).fetch_one(&mut *tx).await?;
        let restart = window.is_some_and(|w| at - current.window_start >= w);
        let (failures, window_start) = if restart {
            (1, at)
        } else {
            (current.failures + 1, current.window_start)
        };
        sqlx::query("UPDATE login_throttles SET failures = $2, window_start = $3 WHERE key = $1")
            .bind(key)
            .bind(failures)
            .bind(window_start)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(Throttle {
            key: key.to_string(),
            failures,
            window_start,
            locked_until: current.locked_until,
        })
    }

    async fn lock_until(&self, key: &str, until: DateTime<Utc>) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query("UPDATE login_throttles SET locked_until = $2 WHERE key = $1")
            .bind(key)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query("DELETE FROM login_throttles WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn replace_password_hash(
        &self,
        tenant: &str,
        user: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let replaced = sqlx::query(
            "UPDATE users SET password_hash = $4 WHERE tenant_id = $1 AND id = $2 AND \
             password_hash = $3",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(old)
        .bind(new)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        slot.finish().await?;
        Ok(replaced)
    }

    async fn password_hash_of(&self, tenant: &str, user: Uuid) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(user.to_string())
                .fetch_optional(&self.read)
                .await?;
        Ok(row.and_then(|(hash,)| hash))
    }
}
