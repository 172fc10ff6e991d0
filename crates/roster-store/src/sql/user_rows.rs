//! Reading users: their rows, roles and store access, in batches.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_core::{
    AccountType, CommerceRole, OrgRole, PartnerRole, Profile, Roles, Source, TenantRole, User,
    UserStatus,
};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{corrupt, opt_uuid, uuid, word, Conn, Db, LOCK};
use crate::{Result, StoreError};

// ---------------------------------------------------------------- users

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub(super) id: String,
    pub(super) number: i64,
    pub(super) company_id: Option<String>,
    pub(super) parent_id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) middle_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) login: Option<String>,
    pub(super) user_code: Option<String>,
    pub(super) mobile: Option<String>,
    pub(super) country_code: Option<String>,
    pub(super) telephone: Option<String>,
    pub(super) job_title: Option<String>,
    pub(super) language_code: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) source: Option<String>,
    pub(super) status: String,
    pub(super) account_type: String,
    pub(super) default_store_id: Option<String>,
    pub(super) account_id: Option<String>,
    pub(super) has_password: bool,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) last_accessed_at: Option<DateTime<Utc>>,
}

pub(super) const USER_COLUMNS: &str =
    "id, number, company_id, parent_id, name, first_name, middle_name, \
    last_name, display_name, email, login, user_code, mobile, country_code, telephone, job_title, \
    language_code, external_id, source, status, account_type, default_store_id, account_id, \
    (password_hash IS NOT NULL) AS has_password, created_at, updated_at, last_accessed_at";

#[derive(sqlx::FromRow)]
pub(super) struct AssignmentRow {
    pub(super) user_id: String,
    pub(super) vocabulary: String,
    pub(super) role: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserStoreRow {
    pub(super) user_id: String,
    pub(super) store_id: String,
}

pub(super) fn roles_from(assignments: &[&AssignmentRow]) -> Result<Roles> {
    let mut roles = Roles::default();
    for a in assignments {
        match a.vocabulary.as_str() {
            "tenant" => roles.tenant = Some(word(&a.role, TenantRole::parse)?),
            "partner" => roles.partner = Some(word(&a.role, PartnerRole::parse)?),
            "commerce" => roles.commerce.push(word(&a.role, CommerceRole::parse)?),
            "org" => roles.org = Some(word(&a.role, OrgRole::parse)?),
            other => return Err(corrupt("role vocabulary", other)),
        }
    }
    roles.commerce.sort();
    Ok(roles)
}

/// Turns user rows into users, reading their roles and stores in two more
/// queries for the whole batch.
pub(super) async fn users_from_rows(
    conn: &mut Conn,
    tenant: &str,
    rows: Vec<UserRow>,
) -> Result<Vec<User>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(
        "SELECT user_id, vocabulary, role FROM role_assignments WHERE tenant_id = ",
    );
    q.push_bind(tenant).push(" AND user_id IN (");
    let mut ids = q.separated(", ");
    for r in &rows {
        ids.push_bind(r.id.clone());
    }
    q.push(")");
    let assignments: Vec<AssignmentRow> = q.build_query_as().fetch_all(&mut *conn).await?;

    let mut q =
        QueryBuilder::<Db>::new("SELECT user_id, store_id FROM user_stores WHERE tenant_id = ");
    q.push_bind(tenant).push(" AND user_id IN (");
    let mut ids = q.separated(", ");
    for r in &rows {
        ids.push_bind(r.id.clone());
    }
    // In the primary key's order, so the IN list is read through it (ordering
    // by store_id alone walks every store row of the tenant).
    q.push(") ORDER BY user_id, store_id");
    let stores: Vec<UserStoreRow> = q.build_query_as().fetch_all(&mut *conn).await?;

    // Grouped by user once, so a batch of many users costs no more per user
    // than a batch of one.
    let mut assigned: HashMap<&str, Vec<&AssignmentRow>> = HashMap::new();
    for a in &assignments {
        assigned.entry(a.user_id.as_str()).or_default().push(a);
    }
    let mut stored: HashMap<&str, Vec<String>> = HashMap::new();
    for s in &stores {
        stored
            .entry(s.user_id.as_str())
            .or_default()
            .push(s.store_id.clone());
    }
    rows.into_iter()
        .map(|r| {
            let mine = assigned.remove(r.id.as_str()).unwrap_or_default();
            let store_ids = stored.remove(r.id.as_str()).unwrap_or_default();
            Ok(User {
                id: uuid(&r.id)?,
                number: r.number,
                company_id: opt_uuid(r.company_id)?,
                parent_id: opt_uuid(r.parent_id)?,
                profile: Profile {
                    name: r.name,
                    first_name: r.first_name,
                    middle_name: r.middle_name,
                    last_name: r.last_name,
                    display_name: r.display_name,
                    email: r.email,
                    login: r.login,
                    user_code: r.user_code,
                    mobile: r.mobile,
                    country_code: r.country_code,
                    telephone: r.telephone,
                    job_title: r.job_title,
                    language_code: r.language_code,
                },
                external_id: r.external_id,
                source: r
                    .source
                    .as_deref()
                    .map(|s| word(s, Source::parse))
                    .transpose()?,
                status: word(&r.status, UserStatus::parse)?,
                account_type: word(&r.account_type, AccountType::parse)?,
                default_store_id: r.default_store_id,
                account_id: opt_uuid(r.account_id)?,
                has_password: r.has_password,
                roles: roles_from(&mine)?,
                store_ids,
                created_at: r.created_at,
                updated_at: r.updated_at,
                last_accessed_at: r.last_accessed_at,
            })
        })
        .collect()
}

/// Reads one user by a unique column; `lock` takes its row lock.
pub(super) async fn fetch_user_by(
    conn: &mut Conn,
    tenant: &str,
    column: &str,
    value: &str,
    lock: bool,
) -> Result<Option<User>> {
    let lock = if lock { LOCK } else { "" };
    let sql =
        format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND {column} = $2{lock}");
    let rows: Vec<UserRow> = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(value)
        .fetch_all(&mut *conn)
        .await?;
    Ok(users_from_rows(conn, tenant, rows).await?.pop())
}

pub(super) async fn fetch_user(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    lock: bool,
) -> Result<User> {
    fetch_user_by(conn, tenant, "id", &id.to_string(), lock)
        .await?
        .ok_or(StoreError::NotFound("user"))
}
