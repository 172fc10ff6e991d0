//! Groups and their members: [`GroupStore`].
//!
//! What a group may carry is the core's rule (`rules::group`), checked
//! before a write gets here; here hold what needs the data: its company,
//! stores and members exist in the tenant (members in the group's company),
//! names are unique, and a change to a group drops what the caches knew of
//! its members.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::rules::group::{name_key, GroupGrantsDraft};
use roster_core::{Actor, CommerceRole, Group, GroupMember, TenantRole};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::page::paged;
use super::user_query::{comparison, push_text};
use super::{exists, invalid, now, opt_uuid, uuid, word, Conn, Db, SqlStore, LOCK};
use crate::user_query::Value;
use crate::{
    Entity, GroupCondition, GroupField, GroupFilter, GroupOrder, GroupPatch, GroupStore, Listed,
    MemberChange, NewGroup, Page, Result, StoreError,
};

/// Beyond this many members touched by one write, the whole tenant is
/// announced as changed rather than each member (one short notification).
const MEMBERS_NAMED: usize = 50;

/// The most ids one `IN (…)` lists.
const CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    name: String,
    company_id: Option<String>,
    external_id: Option<String>,
    tenant_role: Option<String>,
    member_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.company_id, g.external_id, g.tenant_role, \
     (SELECT COUNT(*) FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id) \
     AS member_count, g.created_at, g.updated_at FROM groups g";

#[derive(sqlx::FromRow)]
struct DetailRow {
    k: String,
    g: String,
    v: String,
}

/// The groups of `rows` with their roles and stores, read in one query.
async fn with_details(conn: &mut Conn, tenant: &str, rows: Vec<GroupRow>) -> Result<Vec<Group>> {
    let mut details: HashMap<String, (Vec<CommerceRole>, Vec<String>)> = HashMap::new();
    if !rows.is_empty() {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT 'role' AS k, group_id AS g, role AS v FROM group_roles WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND group_id IN (");
        let mut ids = q.separated(", ");
        for row in &rows {
            ids.push_bind(row.id.clone());
        }
        q.push(
            ") UNION ALL SELECT 'store', group_id, store_id FROM group_stores WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND group_id IN (");
        let mut ids = q.separated(", ");
        for row in &rows {
            ids.push_bind(row.id.clone());
        }
        q.push(")");
        let found: Vec<DetailRow> = q.build_query_as().fetch_all(&mut *conn).await?;
        for row in found {
            let entry = details.entry(row.g).or_default();
            match row.k.as_str() {
                "role" => entry.0.push(word(&row.v, CommerceRole::parse)?),
                _ => entry.1.push(row.v),
            }
        }
    }
    rows.into_iter()
        .map(|row| {
            let (mut roles, mut store_ids) = details.remove(&row.id).unwrap_or_default();
            roles.sort();
            store_ids.sort();
            Ok(Group {
                id: uuid(&row.id)?,
                name: row.name,
                company_id: opt_uuid(row.company_id)?,
                external_id: row.external_id,
                tenant_role: row
                    .tenant_role
                    .as_deref()
                    .map(|r| word(r, TenantRole::parse))
                    .transpose()?,
                roles,
                store_ids,
                member_count: row.member_count,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

pub(super) async fn fetch_group(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<Group> {
    let sql = format!("{GROUP_SELECT} WHERE g.tenant_id = $1 AND g.id = $2");
    let row = sqlx::query_as::<_, GroupRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("group"))?;
    Ok(with_details(conn, tenant, vec![row]).await?.remove(0))
}

/// Takes the group's row lock (its writes take turns), or 404.
async fn lock_group(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<()> {
    let sql = format!("SELECT id FROM groups WHERE tenant_id = $1 AND id = $2{LOCK}");
    sqlx::query(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound("group"))
}

/// Replaces the group's roles and stores; each store must be the tenant's.
async fn write_grants(
    conn: &mut Conn,
    tenant: &str,
    group: Uuid,
    grants: &GroupGrantsDraft,
) -> Result<()> {
    let id = group.to_string();
    for table in ["group_roles", "group_stores"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND group_id = $2"
        ))
        .bind(tenant)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    }
    for role in &grants.roles {
        sqlx::query("INSERT INTO group_roles (tenant_id, group_id, role) VALUES ($1, $2, $3)")
            .bind(tenant)
            .bind(&id)
            .bind(role.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for store in &grants.store_ids {
        let sql = "SELECT 1 FROM stores WHERE tenant_id = $1 AND id = $2";
        if !exists(conn, sql, tenant, store).await? {
            return Err(StoreError::NotFound("store"));
        }
        sqlx::query("INSERT INTO group_stores (tenant_id, group_id, store_id) VALUES ($1, $2, $3)")
            .bind(tenant)
            .bind(&id)
            .bind(store)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Checks that every one of `users` is a user of the tenant, and of
/// `company` when the group has one, locking their rows against a
/// concurrent move. A user outside the company reads as absent, as it is
/// to that company's credentials.
async fn check_members(
    conn: &mut Conn,
    tenant: &str,
    company: Option<Uuid>,
    users: &[Uuid],
) -> Result<()> {
    let wanted: BTreeSet<Uuid> = users.iter().copied().collect();
    let wanted: Vec<Uuid> = wanted.into_iter().collect();
    let company = company.map(|c| c.to_string());
    for chunk in wanted.chunks(CHUNK) {
        let mut q = QueryBuilder::<Db>::new("SELECT id, company_id FROM users WHERE tenant_id = ");
        q.push_bind(tenant.to_string()).push(" AND id IN (");
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(id.to_string());
        }
        q.push(")").push(LOCK);
        let found: Vec<(String, Option<String>)> = q.build_query_as().fetch_all(&mut *conn).await?;
        let found: HashMap<String, Option<String>> = found.into_iter().collect();
        for id in chunk {
            let fits = match found.get(&id.to_string()) {
                None => false,
                Some(theirs) => company.is_none() || *theirs == company,
            };
            if !fits {
                let within = if company.is_some() {
                    "the group's company"
                } else {
                    "the tenant"
                };
                return Err(invalid("members", &format!("no user {id} in {within}")));
            }
        }
    }
    Ok(())
}

/// Applies member changes in order; the users whose membership changed.
async fn apply_members(
    conn: &mut Conn,
    tenant: &str,
    group: Uuid,
    company: Option<Uuid>,
    changes: &[MemberChange],
) -> Result<BTreeSet<Uuid>> {
    let group_id = group.to_string();
    let mut touched = BTreeSet::new();
    for change in changes {
        let (add, remove): (Vec<Uuid>, Vec<Uuid>) = match change {
            MemberChange::Add(users) => (users.clone(), Vec::new()),
            MemberChange::Remove(users) => (Vec::new(), users.clone()),
            MemberChange::Replace(users) => {
                let current: Vec<(String,)> = sqlx::query_as(
                    "SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2",
                )
                .bind(tenant)
                .bind(&group_id)
                .fetch_all(&mut *conn)
                .await?;
                let current: BTreeSet<Uuid> = current
                    .iter()
                    .map(|(id,)| uuid(id))
                    .collect::<Result<_>>()?;
                let next: BTreeSet<Uuid> = users.iter().copied().collect();
                (
                    next.difference(&current).copied().collect(),
                    current.difference(&next).copied().collect(),
                )
            }
        };
        if !add.is_empty() {
            check_members(conn, tenant, company, &add).await?;
        }
        let at = now();
        for user in add {
            let added = sqlx::query(
                "INSERT INTO group_members (tenant_id, group_id, user_id, added_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(&group_id)
            .bind(user.to_string())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            if added.rows_affected() > 0 {
                touched.insert(user);
            }
        }
        for user in remove {
            let removed = sqlx::query(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3",
            )
            .bind(tenant)
            .bind(&group_id)
            .bind(user.to_string())
            .execute(&mut *conn)
            .await?;
            if removed.rows_affected() > 0 {
                touched.insert(user);
            }
        }
    }
    Ok(touched)
}

/// What a write touched: the tenant when the group's grants changed or
/// many members did, else each member whose membership changed.
fn touched<'a>(tenant: &'a str, grants_changed: bool, members: &BTreeSet<Uuid>) -> Vec<Entity<'a>> {
    if grants_changed || members.len() > MEMBERS_NAMED {
        vec![Entity::Tenant(tenant)]
    } else {
        members.iter().map(|id| Entity::User(tenant, *id)).collect()
    }
}

/// Appends the filter's conditions to a query over `groups g`.
fn push_filter<'a>(q: &mut QueryBuilder<'a, Db>, tenant: &str, filter: &GroupFilter) {
    q.push(" WHERE g.tenant_id = ")
        .push_bind(tenant.to_string());
    if let Some(company) = filter.company {
        q.push(" AND g.company_id = ")
            .push_bind(company.to_string());
    }
    if let Some(id) = filter.id {
        q.push(" AND g.id = ").push_bind(id.to_string());
    }
    if let Some(name) = &filter.name {
        q.push(" AND g.name_key = ").push_bind(name_key(name));
    }
    if let Some(external_id) = &filter.external_id {
        q.push(" AND g.external_id = ")
            .push_bind(external_id.clone());
    }
    if let Some(condition) = &filter.condition {
        q.push(" AND ");
        push_condition(q, condition);
    }
    if let Some(member) = filter.member {
        q.push(
            " AND EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id \
             AND m.group_id = g.id AND m.user_id = ",
        )
        .push_bind(member.to_string())
        .push(")");
    }
}

fn group_column(field: GroupField) -> &'static str {
    match field {
        GroupField::Id => "g.id",
        GroupField::Name => "g.name",
        GroupField::ExternalId => "g.external_id",
        GroupField::CreatedAt => "g.created_at",
        GroupField::UpdatedAt => "g.updated_at",
    }
}

fn push_condition(q: &mut QueryBuilder<'_, Db>, condition: &GroupCondition) {
    match condition {
        GroupCondition::Const(holds) => {
            q.push(if *holds { "1 = 1" } else { "1 = 0" });
        }
        GroupCondition::And(a, b) | GroupCondition::Or(a, b) => {
            let joiner = if matches!(condition, GroupCondition::And(..)) {
                " AND "
            } else {
                " OR "
            };
            q.push("(");
            push_condition(q, a);
            q.push(joiner);
            push_condition(q, b);
            q.push(")");
        }
        GroupCondition::Not(inner) => {
            q.push("NOT (");
            push_condition(q, inner);
            q.push(")");
        }
        GroupCondition::Present(field) => {
            let expr = group_column(*field);
            q.push(format!("({expr} IS NOT NULL AND {expr} <> '')"));
        }
        GroupCondition::Compare(field, op, Value::Time(at)) => {
            q.push(format!("{} {} ", group_column(*field), comparison(*op)))
                .push_bind(*at);
        }
        GroupCondition::Compare(field, op, Value::Text(text)) => {
            let fold = *field == GroupField::Name;
            push_text(q, group_column(*field), *op, text, fold);
        }
        GroupCondition::Compare(field, op, Value::Id(id)) => {
            push_text(q, group_column(*field), *op, &id.to_string(), false);
        }
        GroupCondition::Compare(_, _, Value::Bool(_)) => {
            q.push("1 = 0");
        }
        GroupCondition::Member(comparison) => {
            q.push(
                "EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id \
                 AND m.group_id = g.id",
            );
            if let Some((op, text)) = comparison {
                q.push(" AND ");
                push_text(q, "m.user_id", *op, text, false);
            }
            q.push(")");
        }
    }
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(&self, tenant: &str, new: NewGroup, actor: &Actor) -> Result<Group> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        if let Some(company) = new.company_id {
            let sql = "SELECT 1 FROM companies WHERE tenant_id = $1 AND id = $2";
            if !exists(&mut tx, sql, tenant, &company.to_string()).await? {
                return Err(StoreError::NotFound("company"));
            }
        }
        let id = Uuid::now_v7();
        let at = now();
        let company = new.company_id.map(|c| c.to_string());
        sqlx::query(
            "INSERT INTO groups (tenant_id, id, name, name_key, company_id, scope_key, \
             external_id, tenant_role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(&new.name)
        .bind(name_key(&new.name))
        .bind(&company)
        .bind(company.clone().unwrap_or_default())
        .bind(&new.external_id)
        .bind(new.grants.tenant_role.map(|r| r.as_str()))
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        write_grants(&mut tx, tenant, id, &new.grants).await?;
        let members = apply_members(
            &mut tx,
            tenant,
            id,
            new.company_id,
            &[MemberChange::Add(new.members)],
        )
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "group.created",
            &format!("group:{id}"),
            &format!("created group {} with {} members", new.name, members.len()),
        )
        .await?;
        let group = fetch_group(&mut tx, tenant, id).await?;
        let touched = touched(tenant, false, &members);
        if !touched.is_empty() {
            self.announce_change(&mut tx, &touched).await?;
        }
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(group)
    }

    async fn get_group(&self, tenant: &str, id: Uuid) -> Result<Group> {
        let mut conn = self.read.acquire().await?;
        fetch_group(&mut conn, tenant, id).await
    }

    async fn list_groups(
        &self,
        tenant: &str,
        filter: &GroupFilter,
        page: &Page,
    ) -> Result<Listed<Group>> {
        let mut q = QueryBuilder::<Db>::new(GROUP_SELECT);
        push_filter(&mut q, tenant, filter);
        if let Some(after) = &page.after {
            q.push(" AND g.id > ").push_bind(after.clone());
            q.push(" ORDER BY g.id LIMIT ").push_bind(page.limit + 1);
        } else {
            let direction = if filter.descending { "DESC" } else { "ASC" };
            let column = match filter.order {
                GroupOrder::Made => "g.id",
                GroupOrder::Name => "g.name_key",
            };
            q.push(format!(
                " ORDER BY {column} {direction}, g.id {direction} LIMIT "
            ))
            .push_bind(page.limit + 1)
            .push(" OFFSET ")
            .push_bind(filter.offset.max(0));
        }
        let mut conn = self.read.acquire().await?;
        let rows: Vec<GroupRow> = q.build_query_as().fetch_all(&mut *conn).await?;
        let groups = with_details(&mut conn, tenant, rows).await?;
        Ok(paged(groups, page, |g: &Group| g.id.to_string()))
    }

    async fn count_groups(&self, tenant: &str, filter: &GroupFilter) -> Result<i64> {
        let mut q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM groups g");
        push_filter(&mut q, tenant, filter);
        Ok(q.build_query_scalar().fetch_one(&self.read).await?)
    }

    async fn update_group(
        &self,
        tenant: &str,
        id: Uuid,
        patch: GroupPatch,
        actor: &Actor,
    ) -> Result<Group> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_group(&mut tx, tenant, id).await?;
        let current = fetch_group(&mut tx, tenant, id).await?;
        let name = patch.name.unwrap_or_else(|| current.name.clone());
        let external_id = patch
            .external_id
            .unwrap_or_else(|| current.external_id.clone());
        let held = GroupGrantsDraft {
            tenant_role: current.tenant_role,
            roles: current.roles.clone(),
            store_ids: current.store_ids.clone(),
        };
        let grants = patch.grants.unwrap_or_else(|| held.clone());
        let grants_changed = grants != held || name != current.name;
        let mut changed = Vec::new();
        if name != current.name {
            changed.push("name".to_string());
        }
        if external_id != current.external_id {
            changed.push("external_id".to_string());
        }
        if grants != held {
            changed.push("grants".to_string());
        }
        if grants_changed || external_id != current.external_id {
            sqlx::query(
                "UPDATE groups SET name = $3, name_key = $4, external_id = $5, tenant_role = $6 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id.to_string())
            .bind(&name)
            .bind(name_key(&name))
            .bind(&external_id)
            .bind(grants.tenant_role.map(|r| r.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        if grants != held {
            write_grants(&mut tx, tenant, id, &grants).await?;
        }
        let members =
            apply_members(&mut tx, tenant, id, current.company_id, &patch.members).await?;
        if !members.is_empty() {
            changed.push(format!("{} members changed", members.len()));
        }
        if changed.is_empty() {
            // A change that changes nothing writes nothing.
            return Ok(current);
        }
        sqlx::query("UPDATE groups SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "group.updated",
            &format!("group:{id}"),
            &format!("updated ({})", changed.join(", ")),
        )
        .await?;
        let group = fetch_group(&mut tx, tenant, id).await?;
        let touched = touched(tenant, grants_changed, &members);
        if !touched.is_empty() {
            self.announce_change(&mut tx, &touched).await?;
        }
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(group)
    }

    async fn delete_group(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_group(&mut tx, tenant, id).await?;
        sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "group.deleted",
            &format!("group:{id}"),
            "deleted",
        )
        .await?;
        let touched = [Entity::Tenant(tenant)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }

    async fn group_members(
        &self,
        tenant: &str,
        id: Uuid,
        page: &Page,
    ) -> Result<Listed<GroupMember>> {
        let mut conn = self.read.acquire().await?;
        fetch_group(&mut conn, tenant, id).await?;
        let mut q = QueryBuilder::<Db>::new(
            "SELECT m.user_id, COALESCE(u.display_name, u.name, u.email) AS display, m.added_at \
             FROM group_members m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
             WHERE m.tenant_id = ",
        );
        q.push_bind(tenant.to_string())
            .push(" AND m.group_id = ")
            .push_bind(id.to_string());
        if let Some(after) = &page.after {
            q.push(" AND m.user_id > ").push_bind(after.clone());
        }
        q.push(" ORDER BY m.user_id LIMIT ")
            .push_bind(page.limit + 1);
        let rows: Vec<(String, Option<String>, DateTime<Utc>)> =
            q.build_query_as().fetch_all(&mut *conn).await?;
        let members = rows
            .into_iter()
            .map(|(user, display, added_at)| {
                Ok(GroupMember {
                    user_id: uuid(&user)?,
                    display,
                    added_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(members, page, |m: &GroupMember| {
            m.user_id.to_string()
        }))
    }
}
