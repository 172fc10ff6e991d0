//! Users: references, roles and stores, writes, re-parenting: [`UserStore`].

use async_trait::async_trait;
use roster_core::{Actor, CommerceRole, NewUser, User, UserPatch, UserStatus};
use uuid::Uuid;

use super::audit::{audit, audit_users, created_user};
use super::contacts::{checked_contacts, replace_contacts_in};
use super::hierarchy;
use super::user_inserts::{insert_creations, Creation};
use super::user_rows::{fetch_user, users_from_rows, UserRow, USER_COLUMNS};
use super::{exists, invalid, lock_tenant, now, uuid, Conn, SqlStore};
use crate::user_query::{QueriedUsers, UserQuery};
use crate::{
    ContactReplacement, Entity, Listed, Page, Result, StoreError, UserFilter, UserRef, UserStore,
};

/// Checks what a user refers to against its tenant: company, parent (same
/// company, no cycle, bounded depth), stores, account, and that company roles
/// have a company. `moved` says the user is new or its parent or company
/// changes, so the hierarchy must be checked (and locked) again.
pub(super) async fn check_user_references(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    user: &NewUser,
    moved: bool,
) -> Result<()> {
    if let Some(company) = user.company_id {
        let sql = "SELECT 1 FROM companies WHERE tenant_id = $1 AND id = $2";
        if !exists(conn, sql, tenant, &company.to_string()).await? {
            return Err(StoreError::NotFound("company"));
        }
    }
    user.check_company_roles()
        .map_err(|e| invalid(&e.field, &e.message))?;
    if let Some(parent) = user.parent_id {
        hierarchy::check_parent(conn, tenant, id, user.company_id, parent, moved).await?;
    }
    let store_sql = "SELECT 1 FROM stores WHERE tenant_id = $1 AND id = $2";
    for store in user.default_store_id.iter().chain(user.store_ids.iter()) {
        if !exists(conn, store_sql, tenant, store).await? {
            return Err(StoreError::NotFound("store"));
        }
    }
    if let Some(account) = user.account_id {
        let found = sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
            .bind(account.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound("account"));
        }
    }
    Ok(())
}

/// The role assignment rows of a user: `(vocabulary, role, scope_kind,
/// scope_id)` each, company roles scoped to its company.
pub(super) fn assignments_of(
    user: &NewUser,
) -> Vec<(&'static str, &'static str, &'static str, String)> {
    let company = user.company_id.map(|c| c.to_string()).unwrap_or_default();
    let mut assignments = Vec::new();
    if let Some(r) = user.roles.tenant {
        assignments.push(("tenant", r.as_str(), "tenant", String::new()));
    }
    if let Some(r) = user.roles.partner {
        assignments.push(("partner", r.as_str(), "tenant", String::new()));
    }
    for r in &user.roles.commerce {
        assignments.push(("commerce", r.as_str(), "company", company.clone()));
    }
    if let Some(r) = user.roles.org {
        assignments.push(("org", r.as_str(), "company", company.clone()));
    }
    assignments
}

/// Replaces a user's role assignments and store access with `user`'s.
pub(super) async fn write_roles_and_stores(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    user: &NewUser,
) -> Result<()> {
    let id = id.to_string();
    sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    let assignments = assignments_of(user);
    for (vocabulary, role, scope_kind, scope_id) in assignments {
        sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
             scope_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(&id)
        .bind(vocabulary)
        .bind(role)
        .bind(scope_kind)
        .bind(&scope_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM user_stores WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    for store in &user.store_ids {
        // The user's number comes along, for the store's listing order.
        sqlx::query(
            "INSERT INTO user_stores (tenant_id, user_id, store_id, user_number) \
             SELECT $1, $2, $3, number FROM users WHERE tenant_id = $1 AND id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(&id)
        .bind(store)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Binds the writable columns of a user in the order of [`USER_WRITE_COLUMNS`].
macro_rules! bind_user_columns {
    ($query:expr, $user:expr) => {{
        let u = $user;
        let p = &u.profile;
        $query
            .bind(u.company_id.map(|c| c.to_string()))
            .bind(u.parent_id.map(|c| c.to_string()))
            .bind(p.name.clone())
            .bind(p.first_name.clone())
            .bind(p.middle_name.clone())
            .bind(p.last_name.clone())
            .bind(p.display_name.clone())
            .bind(p.email.clone())
            .bind(p.email.as_deref().map(roster_core::validate::email_key))
            .bind(p.login.clone())
            .bind(p.user_code.clone())
            .bind(p.mobile.clone())
            .bind(p.country_code.clone())
            .bind(p.telephone.clone())
            .bind(p.job_title.clone())
            .bind(p.language_code.clone())
            .bind(u.external_id.clone())
            .bind(u.source.map(|s| s.as_str()))
            .bind(u.status.as_str())
            .bind(u.account_type.as_str())
            .bind(u.default_store_id.clone())
            .bind(u.account_id.map(|a| a.to_string()))
    }};
}

/// The columns `bind_user_columns!` binds, as `$3` to `$24`.
pub(super) const USER_WRITE_COLUMNS: [&str; 22] = [
    "company_id",
    "parent_id",
    "name",
    "first_name",
    "middle_name",
    "last_name",
    "display_name",
    "email",
    "email_key",
    "login",
    "user_code",
    "mobile",
    "country_code",
    "telephone",
    "job_title",
    "language_code",
    "external_id",
    "source",
    "status",
    "account_type",
    "default_store_id",
    "account_id",
];

/// Inserts a user with its audit event, checking its references first,
/// under the tenant's next number.
pub(super) async fn insert_user(
    store: &SqlStore,
    conn: &mut Conn,
    tenant: &str,
    new: &NewUser,
    actor: &Actor,
) -> Result<User> {
    let id = Uuid::now_v7();
    check_user_references(conn, tenant, id, new, true).await?;
    let number = store.next_number(conn, tenant, "user").await?;
    let at = now();
    // Written as an import writes its creations, and the user answered as
    // its rows read, from the values written: reading it back (and again
    // for the event's data) would treble the statements of a creation.
    let creation = Creation {
        id,
        number,
        user: new.clone(),
        contacts: Vec::new(),
    };
    insert_creations(conn, tenant, std::slice::from_ref(&creation), at).await?;
    let audited = [(actor, creation.created(at), created_user(number))];
    audit_users(conn, tenant, "user.created", &audited).await?;
    let [(_, user, _)] = audited;
    Ok(user)
}

/// Moves the children of `id` to `new_parent` (seed 002's re-parenting);
/// the children moved.
pub(super) async fn reassign_children_to_parent(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    new_parent: Option<Uuid>,
) -> Result<Vec<Uuid>> {
    let moved: Vec<String> = sqlx::query_scalar(
        "UPDATE users SET parent_id = $3, updated_at = $4 WHERE tenant_id = $1 AND parent_id = $2 \
         RETURNING id",
    )
    .bind(tenant)
    .bind(id.to_string())
    .bind(new_parent.map(|p| p.to_string()))
    .bind(now())
    .fetch_all(&mut *conn)
    .await?;
    moved.iter().map(|child| uuid(child)).collect()
}

/// What a write to a user touched: the user, and the users it moved.
pub(super) fn user_and<'a>(tenant: &'a str, user: Uuid, moved: &[Uuid]) -> Vec<Entity<'a>> {
    std::iter::once(user)
        .chain(moved.iter().copied())
        .map(|id| Entity::User(tenant, id))
        .collect()
}

/// A patched user, and the child users the patch moved to its parent.
pub(super) struct Patched {
    pub(super) user: User,
    pub(super) moved: Vec<Uuid>,
    /// The sessions a deactivation ended.
    pub(super) ended: Vec<Uuid>,
}

impl Patched {
    /// What the patch touched: the user, the users it moved, the sessions
    /// it ended.
    pub(super) fn touched<'a>(&self, tenant: &'a str) -> Vec<Entity<'a>> {
        let mut touched = user_and(tenant, self.user.id, &self.moved);
        touched.extend(self.ended.iter().map(|id| Entity::Session(*id)));
        touched
    }
}

/// Locks the user's row and checks the write's precondition there: a user
/// not in the company `user` names (another, or none) is not found, so the
/// write changes nothing.
pub(super) async fn lock_user(conn: &mut Conn, tenant: &str, user: UserRef) -> Result<User> {
    let found = fetch_user(conn, tenant, user.id, true).await?;
    if let Some(company) = user.company {
        if found.company_id != Some(company) {
            return Err(StoreError::NotFound("user"));
        }
    }
    Ok(found)
}

/// Applies `patch` to the locked user (the core's [`UserPatch::apply_to`])
/// and writes the result with its audit event; a patch that changes nothing
/// ([`NewUser::changes`]) writes nothing and answers the user as it is.
pub(super) async fn apply_user_patch(
    conn: &mut Conn,
    tenant: &str,
    user: UserRef,
    patch: UserPatch,
    actor: &Actor,
) -> Result<Patched> {
    let current = lock_user(conn, tenant, user).await?;
    let id = current.id;
    let next = patch.apply_to(&current);
    if !next.changes(&current) {
        return Ok(Patched {
            user: current,
            moved: Vec::new(),
            ended: Vec::new(),
        });
    }
    let moved = next.parent_id != current.parent_id || next.company_id != current.company_id;
    check_user_references(conn, tenant, id, &next, moved).await?;
    let leaves_company = next.company_id != current.company_id;
    let deactivated = current.status == UserStatus::Active && next.status == UserStatus::Inactive;
    let mut moved = Vec::new();
    if leaves_company || deactivated {
        moved = reassign_children_to_parent(conn, tenant, id, current.parent_id).await?;
    }
    if leaves_company {
        // A company's groups are for its users: leaving it leaves them.
        sqlx::query(
            "DELETE FROM group_members WHERE tenant_id = $1 AND user_id = $2 AND group_id IN \
             (SELECT id FROM groups WHERE tenant_id = $1 AND company_id IS NOT NULL)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    }
    let mut ended = Vec::new();
    if deactivated {
        // Deactivation ends every session (and so every access and device
        // token naming one): re-activation does not bring them back.
        let rows: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND \
             revoked_at IS NULL RETURNING id",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(now())
        .fetch_all(&mut *conn)
        .await?;
        ended = rows.iter().map(|(s,)| uuid(s)).collect::<Result<_>>()?;
    }
    let n = USER_WRITE_COLUMNS.len();
    let sets: Vec<String> = USER_WRITE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 3))
        .collect();
    let sql = format!(
        "UPDATE users SET {}, password_hash = COALESCE(${}, password_hash), updated_at = ${} \
         WHERE tenant_id = $1 AND id = $2",
        sets.join(", "),
        n + 3,
        n + 4
    );
    let query = sqlx::query(&sql).bind(tenant).bind(id.to_string());
    bind_user_columns!(query, &next)
        .bind(next.password_hash.clone())
        .bind(now())
        .execute(&mut *conn)
        .await?;
    write_roles_and_stores(conn, tenant, id, &next).await?;
    let mut changed = Vec::new();
    if next.password_hash.is_some() {
        changed.push("password");
    }
    if deactivated {
        changed.push("deactivated");
    }
    if leaves_company {
        changed.push("company changed");
    }
    let summary = if changed.is_empty() {
        "updated".to_string()
    } else {
        format!("updated ({})", changed.join(", "))
    };
    audit(
        conn,
        tenant,
        actor,
        "user.updated",
        &format!("user:{id}"),
        &summary,
    )
    .await?;
    let user = fetch_user(conn, tenant, id, false).await?;
    Ok(Patched { user, moved, ended })
}

pub(super) async fn touch_user(conn: &mut Conn, tenant: &str, user: Uuid) -> Result<()> {
    sqlx::query("UPDATE users SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(user.to_string())
        .bind(now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl SqlStore {
    /// Creates one user in a transaction of its own: each creation of a
    /// batch that could not run together (see `user_batch`).
    pub(super) async fn create_user_alone(
        &self,
        tenant: &str,
        new: &NewUser,
        actor: &Actor,
    ) -> Result<User> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = insert_user(self, &mut tx, tenant, new, actor).await?;
        let touched = [Entity::User(tenant, user.id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, tenant: &str, new: NewUser, actor: &Actor) -> Result<User> {
        self.create_user_batched(tenant, new, actor).await
    }

    fn creation_batches(&self) -> crate::BatchCounts {
        self.creations.counts()
    }

    async fn create_user_with_contacts(
        &self,
        tenant: &str,
        new: NewUser,
        contacts: ContactReplacement,
        actor: &Actor,
    ) -> Result<User> {
        let checked = checked_contacts(&contacts.kinds, contacts.wanted)?;
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = insert_user(self, &mut tx, tenant, &new, actor).await?;
        replace_contacts_in(&mut tx, tenant, user.id, &contacts.kinds, &checked, actor).await?;
        let user = fetch_user(&mut tx, tenant, user.id, false).await?;
        let touched = [Entity::User(tenant, user.id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }

    async fn update_user_with_contacts(
        &self,
        tenant: &str,
        user: UserRef,
        patch: UserPatch,
        contacts: ContactReplacement,
        actor: &Actor,
    ) -> Result<User> {
        let checked = checked_contacts(&contacts.kinds, contacts.wanted)?;
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let patched = apply_user_patch(&mut tx, tenant, user, patch, actor).await?;
        let id = patched.user.id;
        replace_contacts_in(&mut tx, tenant, id, &contacts.kinds, &checked, actor).await?;
        let user = fetch_user(&mut tx, tenant, id, false).await?;
        let touched = patched.touched(tenant);
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }

    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User> {
        let mut conn = self.read.acquire().await?;
        fetch_user(&mut conn, tenant, id, false).await
    }

    async fn get_user_by_number(&self, tenant: &str, number: i64) -> Result<User> {
        let mut conn = self.read.acquire().await?;
        let sql = format!(
            "SELECT {} FROM users WHERE tenant_id = $1 AND number = $2",
            *USER_COLUMNS
        );
        let rows: Vec<UserRow> = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(number)
            .fetch_all(&mut *conn)
            .await?;
        users_from_rows(rows)?
            .pop()
            .ok_or(StoreError::NotFound("user"))
    }

    async fn list_users(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> Result<Listed<User>> {
        let mut conn = self.read.acquire().await?;
        super::user_list::list_users(&mut conn, tenant, filter, page).await
    }

    async fn list_user_ids(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> Result<Listed<Uuid>> {
        let mut conn = self.read.acquire().await?;
        super::user_list::list_user_ids(&mut conn, tenant, filter, page).await
    }

    async fn get_users(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<User>> {
        let mut conn = self.read.acquire().await?;
        super::user_list::get_users(&mut conn, tenant, ids).await
    }

    async fn query_users(&self, tenant: &str, query: &UserQuery) -> Result<QueriedUsers> {
        let mut conn = self.read.acquire().await?;
        super::user_query::query_users(&mut conn, tenant, query).await
    }

    async fn update_user(
        &self,
        tenant: &str,
        user: UserRef,
        patch: UserPatch,
        actor: &Actor,
    ) -> Result<User> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let patched = apply_user_patch(&mut tx, tenant, user, patch, actor).await?;
        let touched = patched.touched(tenant);
        let user = patched.user.clone();
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }

    async fn delete_user(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = fetch_user(&mut tx, tenant, id, true).await?;
        let moved = reassign_children_to_parent(&mut tx, tenant, id, user.parent_id).await?;
        let closed = sqlx::query(
            "UPDATE quotes SET status = 'CLOSED', locked = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND owner_user_id = $2 AND (status <> 'CLOSED' OR locked = $5)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(true)
        .bind(now())
        .bind(false)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let summary = format!(
            "deleted user #{}; {closed} quote(s) closed and locked",
            user.number
        );
        audit(
            &mut tx,
            tenant,
            actor,
            "user.deleted",
            &format!("user:{id}"),
            &summary,
        )
        .await?;
        let touched = user_and(tenant, id, &moved);
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn add_commerce_role(
        &self,
        tenant: &str,
        user: UserRef,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = lock_user(&mut tx, tenant, user).await?;
        let id = user.id;
        let Some(company) = user.company_id else {
            return Err(invalid(
                "role",
                "commerce roles need the user to have a company_id",
            ));
        };
        if user.roles.commerce.contains(&role) {
            return Err(StoreError::Conflict(format!(
                "the user already holds role {role}"
            )));
        }
        sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
             scope_id) \
             VALUES ($1, $2, 'commerce', $3, 'company', $4)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(role.as_str())
        .bind(company.to_string())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, id).await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "user.role_added",
            &format!("user:{id}"),
            role.as_str(),
        )
        .await?;
        let user = fetch_user(&mut tx, tenant, id, false).await?;
        let touched = [Entity::User(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }

    async fn remove_commerce_role(
        &self,
        tenant: &str,
        user: UserRef,
        role: CommerceRole,
        actor: &Actor,
    ) -> Result<User> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = lock_user(&mut tx, tenant, user).await?;
        let id = user.id;
        if !user.roles.commerce.contains(&role) {
            return Err(StoreError::NotFound("role"));
        }
        sqlx::query(
            "DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 AND \
                     vocabulary = 'commerce' AND role = $3",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, id).await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "user.role_removed",
            &format!("user:{id}"),
            role.as_str(),
        )
        .await?;
        let user = fetch_user(&mut tx, tenant, id, false).await?;
        let touched = [Entity::User(tenant, id)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(user)
    }

    async fn upsert_user_by_external_id(
        &self,
        tenant: &str,
        new: NewUser,
        actor: &Actor,
    ) -> Result<(User, bool)> {
        let (Some(source), Some(external_id)) = (new.source, new.external_id.clone()) else {
            return Err(invalid(
                "external_id",
                "an upsert needs source and external_id",
            ));
        };
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        // Serialise upserts in the tenant, so two of one key cannot both insert.
        lock_tenant(&mut tx, tenant).await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
        )
        .bind(tenant)
        .bind(source.as_str())
        .bind(&external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (result, touched) = match existing {
            Some(id) => {
                let patched = apply_user_patch(
                    &mut tx,
                    tenant,
                    uuid(&id)?.into(),
                    UserPatch::replacing_with(new),
                    actor,
                )
                .await?;
                let touched = patched.touched(tenant);
                ((patched.user, false), touched)
            }
            None => {
                let user = insert_user(self, &mut tx, tenant, &new, actor).await?;
                let touched = vec![Entity::User(tenant, user.id)];
                ((user, true), touched)
            }
        };
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(result)
    }
}
