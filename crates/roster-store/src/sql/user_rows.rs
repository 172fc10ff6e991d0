//! Reading users: their rows, with their roles and store access, in one
//! statement.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use roster_core::{
    AccountType, CommerceRole, OrgRole, PartnerRole, Profile, Roles, Source, TenantRole, User,
    UserStatus,
};
use uuid::Uuid;

use super::{corrupt, opt_uuid, uuid, word, Conn, JSON_AGG, JSON_ARRAY, JSON_TEXT, LOCK};
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
    /// `[[vocabulary, role], …]`; `NULL` on PostgreSQL when there is none.
    pub(super) roles_json: Option<String>,
    /// `[store_id, …]`, sorted; `NULL` on PostgreSQL when there is none.
    pub(super) stores_json: Option<String>,
}

/// The columns of a user as `UserRow` reads them, from `users` (unaliased):
/// its roles (`[vocabulary, role]` pairs) and stores (sorted) come along as
/// JSON arrays, so a user or a page of users is one statement (it was three:
/// the rows, then their roles, then their stores).
pub(super) static USER_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, number, company_id, parent_id, name, first_name, middle_name, \
        last_name, display_name, email, login, user_code, mobile, country_code, telephone, \
        job_title, language_code, external_id, source, status, account_type, default_store_id, \
        account_id, (password_hash IS NOT NULL) AS has_password, created_at, updated_at, \
        last_accessed_at, \
        (SELECT {JSON_AGG}({JSON_ARRAY}(r.vocabulary, r.role)){JSON_TEXT} FROM role_assignments r \
         WHERE r.tenant_id = users.tenant_id AND r.user_id = users.id) AS roles_json, \
        (SELECT {JSON_AGG}(s.store_id ORDER BY s.store_id){JSON_TEXT} FROM user_stores s \
         WHERE s.tenant_id = users.tenant_id AND s.user_id = users.id) AS stores_json"
    )
});

pub(super) fn roles_from<'a>(
    assignments: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Roles> {
    let mut roles = Roles::default();
    for (vocabulary, role) in assignments {
        match vocabulary {
            "tenant" => roles.tenant = Some(word(role, TenantRole::parse)?),
            "partner" => roles.partner = Some(word(role, PartnerRole::parse)?),
            "commerce" => roles.commerce.push(word(role, CommerceRole::parse)?),
            "org" => roles.org = Some(word(role, OrgRole::parse)?),
            other => return Err(corrupt("role vocabulary", other)),
        }
    }
    roles.commerce.sort();
    Ok(roles)
}

/// A JSON array column of [`USER_COLUMNS`]; `NULL` is empty.
fn json_column<T: serde::de::DeserializeOwned + Default>(
    what: &str,
    text: Option<&str>,
) -> Result<T> {
    match text {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt(what, text)),
    }
}

/// Turns user rows (read with [`USER_COLUMNS`]) into users.
pub(super) fn users_from_rows(rows: Vec<UserRow>) -> Result<Vec<User>> {
    rows.into_iter().map(user_from_row).collect()
}

fn user_from_row(r: UserRow) -> Result<User> {
    let assignments: Vec<(String, String)> = json_column("role list", r.roles_json.as_deref())?;
    let roles = roles_from(
        assignments
            .iter()
            .map(|(v, role)| (v.as_str(), role.as_str())),
    )?;
    let store_ids: Vec<String> = json_column("store list", r.stores_json.as_deref())?;
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
        roles,
        store_ids,
        created_at: r.created_at,
        updated_at: r.updated_at,
        last_accessed_at: r.last_accessed_at,
    })
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
    let sql = format!(
        "SELECT {} FROM users WHERE tenant_id = $1 AND {column} = $2{lock}",
        *USER_COLUMNS
    );
    let rows: Vec<UserRow> = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(value)
        .fetch_all(&mut *conn)
        .await?;
    Ok(users_from_rows(rows)?.pop())
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
