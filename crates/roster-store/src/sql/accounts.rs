//! Accounts, signing in to a tenant's user, and invitations: [`AccountStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{
    validate, Account, AccountType, Actor, Invitation, NewUser, Profile, Roles, Tenant, TenantRole,
    User, UserPatch, UserStatus,
};
use uuid::Uuid;

use super::audit::audit;
use super::page::{fetch_page, paged, PageKey};
use super::tenants::{TenantRow, TENANT_COLUMNS};
use super::user_rows::fetch_user_by;
use super::users::{apply_user_patch, insert_user, user_and};
use super::{lock_tenant, now, uuid, word, Conn, SqlStore, LOCK};
use crate::{AccountStore, Listed, NewAccount, NewInvitation, Page, Result, StoreError};

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    pub(super) id: String,
    pub(super) email: String,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) global_roles: String,
    pub(super) default_tenant_uid: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self> {
        Ok(Account {
            id: uuid(&r.id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            global_roles: r
                .global_roles
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            default_tenant_uid: r.default_tenant_uid,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct InvitationRow {
    pub(super) tenant_id: String,
    pub(super) id: String,
    pub(super) email: String,
    pub(super) tenant_role: String,
    pub(super) account_type: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) accepted_at: Option<DateTime<Utc>>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self> {
        Ok(Invitation {
            id: uuid(&r.id)?,
            tenant: r.tenant_id,
            email: r.email,
            tenant_role: word(&r.tenant_role, TenantRole::parse)?,
            account_type: word(&r.account_type, AccountType::parse)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
            revoked_at: r.revoked_at,
        })
    }
}

pub(super) const INVITATION_COLUMNS: &str = "tenant_id, id, email, tenant_role, account_type, \
                                             created_at, expires_at, accepted_at, revoked_at";

pub(super) async fn fetch_invitation(
    conn: &mut Conn,
    tenant: &str,
    id: &str,
) -> Result<Invitation> {
    let sql =
        format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("invitation"))?
        .try_into()
}

pub(super) async fn fetch_account(conn: &mut Conn, id: Uuid) -> Result<Account> {
    sqlx::query_as::<_, AccountRow>(
        "SELECT id, email, first_name, last_name, global_roles, default_tenant_uid, created_at, \
         updated_at \
         FROM accounts WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("account"))?
    .try_into()
}

/// The id and password hash of the user whose `column` is `value`.
async fn password_by(
    pool: &sqlx::Pool<super::Db>,
    tenant: &str,
    column: &str,
    value: &str,
) -> Result<Option<(Uuid, Option<String>)>> {
    let sql = format!("SELECT id, password_hash FROM users WHERE tenant_id = $1 AND {column} = $2");
    let row: Option<(String, Option<String>)> = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(value)
        .fetch_optional(pool)
        .await?;
    row.map(|(id, hash)| Ok((uuid(&id)?, hash))).transpose()
}

/// A user found by a sign-in name, with its password hash.
pub(super) async fn user_with_password(
    conn: &mut Conn,
    tenant: &str,
    column: &str,
    value: &str,
) -> Result<Option<(User, Option<String>)>> {
    let Some(user) = fetch_user_by(conn, tenant, column, value, false).await? else {
        return Ok(None);
    };
    let hash: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(user.id.to_string())
            .fetch_one(&mut *conn)
            .await?;
    Ok(Some((user, hash)))
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_account(&self, new: NewAccount) -> Result<Account> {
        let id = Uuid::now_v7();
        let at = now();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        sqlx::query(
            "INSERT INTO accounts (id, email, email_key, password_hash, first_name, last_name, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(&new.email)
        .bind(roster_core::validate::email_key(&new.email))
        .bind(&new.password_hash)
        .bind(&new.first_name)
        .bind(&new.last_name)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        self.get_account(id).await
    }

    async fn get_account(&self, id: Uuid) -> Result<Account> {
        sqlx::query_as::<_, AccountRow>(
            "SELECT id, email, first_name, last_name, global_roles, default_tenant_uid, \
             created_at, updated_at \
             FROM accounts WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("account"))?
        .try_into()
    }

    async fn password_by_code(
        &self,
        tenant: &str,
        user_code: &str,
    ) -> Result<Option<(Uuid, Option<String>)>> {
        password_by(&self.read, tenant, "user_code", user_code).await
    }

    async fn password_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<(Uuid, Option<String>)>> {
        password_by(&self.read, tenant, "email_key", &validate::email_key(email)).await
    }

    async fn find_user_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let mut conn = self.read.acquire().await?;
        user_with_password(&mut conn, tenant, "email_key", &validate::email_key(email)).await
    }

    async fn account_password(&self, email: &str) -> Result<Option<(Uuid, String)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, password_hash FROM accounts WHERE email_key = $1")
                .bind(validate::email_key(email))
                .fetch_optional(&self.read)
                .await?;
        row.map(|(id, hash)| Ok((uuid(&id)?, hash))).transpose()
    }

    async fn user_of_account(&self, tenant: &str, account: Uuid) -> Result<Option<User>> {
        let mut conn = self.read.acquire().await?;
        fetch_user_by(&mut conn, tenant, "account_id", &account.to_string(), false).await
    }

    async fn tenants_of_account(&self, account: Uuid) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE uid IN (SELECT tenant_id FROM users WHERE \
             account_id = $1) ORDER BY uid"
        );
        let rows: Vec<TenantRow> = sqlx::query_as(&sql)
            .bind(account.to_string())
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn set_default_tenant(&self, account: Uuid, tenant: &str) -> Result<Account> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let member = sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND account_id = $2")
            .bind(tenant)
            .bind(account.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if member.is_none() {
            return Err(StoreError::NotFound("tenant"));
        }
        sqlx::query("UPDATE accounts SET default_tenant_uid = $2, updated_at = $3 WHERE id = $1")
            .bind(account.to_string())
            .bind(tenant)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        let updated = fetch_account(&mut tx, account).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(updated)
    }

    async fn create_invitation(
        &self,
        tenant: &str,
        new: NewInvitation,
        actor: &Actor,
    ) -> Result<Invitation> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO invitations (tenant_id, id, email, email_key, tenant_role, account_type, \
             token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(&new.email)
        .bind(validate::email_key(&new.email))
        .bind(new.tenant_role.as_str())
        .bind(new.account_type.as_str())
        .bind(&new.token_hash)
        .bind(new.created_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "invitation.created",
            &format!("invitation:{id}"),
            &format!("{} as {}", new.email, new.tenant_role),
        )
        .await?;
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2"
        );
        let row: InvitationRow = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        row.try_into()
    }

    async fn list_invitations(&self, tenant: &str, page: &Page) -> Result<Listed<Invitation>> {
        let select = format!("SELECT {INVITATION_COLUMNS} FROM invitations");
        let rows: Vec<InvitationRow> =
            fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let items = rows
            .into_iter()
            .map(Invitation::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |i: &Invitation| i.id.to_string()))
    }

    async fn revoke_invitation(
        &self,
        tenant: &str,
        id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND \
             revoked_at IS NULL AND accepted_at IS NULL",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("pending invitation"));
        }
        audit(
            &mut tx,
            tenant,
            actor,
            "invitation.revoked",
            &format!("invitation:{id}"),
            "revoked",
        )
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn find_invitation(&self, token_hash: &str) -> Result<Option<(Invitation, String)>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS}, (SELECT name FROM tenants WHERE uid = \
             invitations.tenant_id) AS tenant_name \
             FROM invitations WHERE token_hash = $1"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        use sqlx::{FromRow, Row};
        let name: String = row.try_get("tenant_name")?;
        Ok(Some((InvitationRow::from_row(&row)?.try_into()?, name)))
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        account: &Account,
        at: DateTime<Utc>,
    ) -> Result<User> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let sql =
            format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1{LOCK}");
        let row: Option<InvitationRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let invitation: Invitation = row.ok_or(StoreError::NotFound("invitation"))?.try_into()?;
        // The core's rule, on the locked row: a concurrent acceptance that
        // committed first is seen here as used.
        invitation.acceptable_by(&account.email, at)?;
        let tenant = invitation.tenant.clone();
        // Single use: only the first acceptance flips accepted_at.
        let claimed = sqlx::query(
            "UPDATE invitations SET accepted_at = $3 WHERE tenant_id = $1 \
                                   AND id = $2 AND accepted_at IS NULL",
        )
        .bind(&tenant)
        .bind(invitation.id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::Gone("the invitation was already used".into()));
        }
        let actor = Actor::Account(account.id);
        let existing = match fetch_user_by(
            &mut tx,
            &tenant,
            "account_id",
            &account.id.to_string(),
            true,
        )
        .await?
        {
            Some(user) => Some(user),
            None => {
                fetch_user_by(
                    &mut tx,
                    &tenant,
                    "email_key",
                    &validate::email_key(&invitation.email),
                    true,
                )
                .await?
            }
        };
        let mut moved = Vec::new();
        let user = match existing {
            Some(user) if user.account_id.is_some_and(|a| a != account.id) => {
                return Err(StoreError::Conflict(
                    "the tenant's user with this email belongs to another account".into(),
                ));
            }
            Some(user) => {
                let patch = UserPatch {
                    account_id: Some(Some(account.id)),
                    tenant_role: Some(Some(invitation.tenant_role)),
                    account_type: Some(invitation.account_type),
                    ..UserPatch::default()
                };
                let patched =
                    apply_user_patch(&mut tx, &tenant, user.id.into(), patch, &actor).await?;
                moved = patched.moved;
                patched.user
            }
            None => {
                let new = NewUser {
                    company_id: None,
                    parent_id: None,
                    profile: Profile {
                        email: Some(invitation.email.clone()),
                        first_name: account.first_name.clone(),
                        last_name: account.last_name.clone(),
                        ..Profile::default()
                    },
                    external_id: None,
                    source: None,
                    status: UserStatus::Active,
                    account_type: invitation.account_type,
                    default_store_id: None,
                    account_id: Some(account.id),
                    password_hash: None,
                    roles: Roles {
                        tenant: Some(invitation.tenant_role),
                        ..Roles::default()
                    },
                    store_ids: Vec::new(),
                };
                insert_user(self, &mut tx, &tenant, &new, &actor).await?
            }
        };
        audit(
            &mut tx,
            &tenant,
            &actor,
            "invitation.accepted",
            &format!("invitation:{}", invitation.id),
            &format!("user:{}", user.id),
        )
        .await?;
        let touched = user_and(&tenant, user.id, &moved);
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }
}
