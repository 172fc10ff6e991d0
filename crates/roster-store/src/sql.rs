// The store's SQL, written once and compiled for each engine: `sqlite.rs` and
// `postgres.rs` each define `Db`, `LOCK` and `SqlStore`, then include this
// file. Included rather than generic because sqlx's generic bounds over
// `Database` would have to be spelled out on every function for every column
// type; the SQL itself is the same for both engines (both take `$n`
// placeholders, `RETURNING`, `ON CONFLICT` and partial indexes).

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use roster_core::{
    validate, Contact, ContactType, Device, Invitation, Session, SessionKind, SigningKey,
    Account, AccountType, Actor, ApiKey, ApiKeyGrant, AuditEvent, CommerceRole, Company,
    CompanyKind, CompanyStatus, Order, OrgRole, PartnerRole, Profile, Quote, QuoteStatus, Roles,
    Source, Store as StoreRecord, Subject, Tenant, TenantRole, User, UserStatus,
};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::{
    ContactPatch, DeviceIdentity, NewContact, NewDevice, NewInvitation, NewSession, Throttle,
    parse_permissions, ApiKeyIdentity, CheckFacts, CompanyPatch, Listed, NewAccount, NewApiKey,
    NewCompany, NewOrder, NewQuote, NewStore, NewTenant, NewUser, OrderPatch, Page, QuotePatch,
    RecordFilter, Result, Store, StoreError, StorePatch, UserFilter, UserPatch,
};

type Conn = <Db as sqlx::Database>::Connection;

/// Timestamps are kept to the millisecond, the precision every surface shows.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("unexpected {what} in the database: {value:?}").into(),
    ))
}

fn uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("id", text))
}

fn opt_uuid(text: Option<String>) -> Result<Option<Uuid>> {
    text.as_deref().map(uuid).transpose()
}

fn word<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(text).ok_or_else(|| corrupt("value", text))
}

fn after_number(page: &Page) -> Result<Option<i64>> {
    page.after
        .as_deref()
        .map(|a| a.parse::<i64>().map_err(|_| bad_cursor()))
        .transpose()
}

fn bad_cursor() -> StoreError {
    StoreError::Invalid { field: "cursor".into(), message: "is not a cursor of this list".into() }
}

/// Cuts a `limit + 1` fetch to a page and its resume key.
fn paged<T>(mut items: Vec<T>, page: &Page, key: impl Fn(&T) -> String) -> Listed<T> {
    let limit = usize::try_from(page.limit).unwrap_or(0);
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    };
    Listed { items, next }
}

/// The column a list is ordered and resumed by.
#[derive(Clone, Copy)]
enum PageKey {
    /// An integer column (`number`, the events' `id`).
    Integer(&'static str),
    /// A text column (UUIDv7 `id`s sort by creation time).
    Text(&'static str),
}

/// One page of a tenant's rows of `select` (a `SELECT … FROM table`),
/// ordered by `key`, after the page's resume key.
async fn fetch_page<R>(pool: &sqlx::Pool<Db>, select: &str, key: PageKey, tenant: &str, page: &Page) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    let mut q = QueryBuilder::<Db>::new(format!("{select} WHERE tenant_id = "));
    q.push_bind(tenant.to_string());
    let column = match key {
        PageKey::Integer(column) | PageKey::Text(column) => column,
    };
    if let PageKey::Integer(_) = key {
        if let Some(after) = after_number(page)? {
            q.push(format!(" AND {column} > ")).push_bind(after);
        }
    } else if let Some(after) = &page.after {
        q.push(format!(" AND {column} > ")).push_bind(after.clone());
    }
    q.push(format!(" ORDER BY {column} LIMIT ")).push_bind(page.limit + 1);
    Ok(q.build_query_as().fetch_all(pool).await?)
}

async fn audit(
    conn: &mut Conn,
    tenant: &str,
    actor: &Actor,
    action: &str,
    target: &str,
    summary: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (tenant_id, actor, action, target, summary, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(actor.to_string())
    .bind(action)
    .bind(target)
    .bind(summary)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the next per-tenant number of a kind (`store`, `company`, `user`).
/// The row lock this takes on PostgreSQL serialises creations in a tenant.
async fn next_number(conn: &mut Conn, tenant: &str, kind: &str) -> Result<i64> {
    let column = match kind {
        "store" => "next_store_number",
        "company" => "next_company_number",
        _ => "next_user_number",
    };
    let sql = format!("UPDATE tenants SET {column} = {column} + 1 WHERE uid = $1 RETURNING {column} - 1");
    sqlx::query_scalar::<_, i64>(&sql)
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("tenant"))
}

async fn lock_tenant(conn: &mut Conn, tenant: &str) -> Result<()> {
    let sql = format!("SELECT uid FROM tenants WHERE uid = $1{LOCK}");
    sqlx::query(&sql)
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound("tenant"))
}

async fn exists(conn: &mut Conn, sql: &str, tenant: &str, id: &str) -> Result<bool> {
    Ok(sqlx::query(sql).bind(tenant).bind(id).fetch_optional(&mut *conn).await?.is_some())
}

// ---------------------------------------------------------------- tenants

#[derive(sqlx::FromRow)]
struct TenantRow {
    uid: String,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant { uid: r.uid, name: r.name, created_at: r.created_at, updated_at: r.updated_at }
    }
}

const TENANT_COLUMNS: &str = "uid, name, created_at, updated_at";

async fn fetch_tenant(conn: &mut Conn, uid: &str) -> Result<Tenant> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE uid = $1");
    sqlx::query_as::<_, TenantRow>(&sql)
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await?
        .map(Tenant::from)
        .ok_or(StoreError::NotFound("tenant"))
}

// ---------------------------------------------------------------- stores

#[derive(sqlx::FromRow)]
struct StoreRow {
    id: String,
    number: i64,
    code: String,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<StoreRow> for StoreRecord {
    fn from(r: StoreRow) -> Self {
        StoreRecord {
            id: r.id,
            number: r.number,
            code: r.code,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const STORE_COLUMNS: &str = "id, number, code, name, created_at, updated_at";

async fn fetch_store(conn: &mut Conn, tenant: &str, column: &str, value: &str) -> Result<StoreRecord> {
    let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND {column} = $2");
    sqlx::query_as::<_, StoreRow>(&sql)
        .bind(tenant)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
        .map(StoreRecord::from)
        .ok_or(StoreError::NotFound("store"))
}

// ---------------------------------------------------------------- companies

#[derive(sqlx::FromRow)]
struct CompanyRow {
    id: String,
    number: i64,
    kind: String,
    name: String,
    external_id: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CompanyRow> for Company {
    type Error = StoreError;
    fn try_from(r: CompanyRow) -> Result<Self> {
        Ok(Company {
            id: uuid(&r.id)?,
            number: r.number,
            kind: word(&r.kind, CompanyKind::parse)?,
            name: r.name,
            external_id: r.external_id,
            status: word(&r.status, CompanyStatus::parse)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COMPANY_COLUMNS: &str = "id, number, kind, name, external_id, status, created_at, updated_at";

async fn fetch_company(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<Company> {
    let sql = format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id = $2{LOCK}");
    sqlx::query_as::<_, CompanyRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("company"))?
        .try_into()
}

// ---------------------------------------------------------------- users

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    number: i64,
    company_id: Option<String>,
    parent_id: Option<String>,
    name: Option<String>,
    first_name: Option<String>,
    middle_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    login: Option<String>,
    user_code: Option<String>,
    mobile: Option<String>,
    country_code: Option<String>,
    telephone: Option<String>,
    job_title: Option<String>,
    language_code: Option<String>,
    external_id: Option<String>,
    source: Option<String>,
    status: String,
    account_type: String,
    default_store_id: Option<String>,
    account_id: Option<String>,
    has_password: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_accessed_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "id, number, company_id, parent_id, name, first_name, middle_name, \
    last_name, display_name, email, login, user_code, mobile, country_code, telephone, job_title, \
    language_code, external_id, source, status, account_type, default_store_id, account_id, \
    (password_hash IS NOT NULL) AS has_password, created_at, updated_at, last_accessed_at";

#[derive(sqlx::FromRow)]
struct AssignmentRow {
    user_id: String,
    vocabulary: String,
    role: String,
}

#[derive(sqlx::FromRow)]
struct UserStoreRow {
    user_id: String,
    store_id: String,
}

fn roles_from(assignments: &[&AssignmentRow]) -> Result<Roles> {
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
async fn users_from_rows(conn: &mut Conn, tenant: &str, rows: Vec<UserRow>) -> Result<Vec<User>> {
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

    let mut q = QueryBuilder::<Db>::new("SELECT user_id, store_id FROM user_stores WHERE tenant_id = ");
    q.push_bind(tenant).push(" AND user_id IN (");
    let mut ids = q.separated(", ");
    for r in &rows {
        ids.push_bind(r.id.clone());
    }
    q.push(") ORDER BY store_id");
    let stores: Vec<UserStoreRow> = q.build_query_as().fetch_all(&mut *conn).await?;

    rows.into_iter()
        .map(|r| {
            let mine: Vec<&AssignmentRow> = assignments.iter().filter(|a| a.user_id == r.id).collect();
            let store_ids = stores.iter().filter(|s| s.user_id == r.id).map(|s| s.store_id.clone()).collect();
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
                source: r.source.as_deref().map(|s| word(s, Source::parse)).transpose()?,
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
async fn fetch_user_by(conn: &mut Conn, tenant: &str, column: &str, value: &str, lock: bool) -> Result<Option<User>> {
    let lock = if lock { LOCK } else { "" };
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND {column} = $2{lock}");
    let rows: Vec<UserRow> = sqlx::query_as(&sql).bind(tenant).bind(value).fetch_all(&mut *conn).await?;
    Ok(users_from_rows(conn, tenant, rows).await?.pop())
}

async fn fetch_user(conn: &mut Conn, tenant: &str, id: Uuid, lock: bool) -> Result<User> {
    fetch_user_by(conn, tenant, "id", &id.to_string(), lock)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

fn invalid(field: &str, message: &str) -> StoreError {
    StoreError::Invalid { field: field.into(), message: message.into() }
}

/// Checks what a user refers to against its tenant: company, parent (same
/// company, no cycle), stores, account, and that company roles have a company.
async fn check_user_references(conn: &mut Conn, tenant: &str, id: Uuid, user: &NewUser) -> Result<()> {
    if let Some(company) = user.company_id {
        let sql = "SELECT 1 FROM companies WHERE tenant_id = $1 AND id = $2";
        if !exists(conn, sql, tenant, &company.to_string()).await? {
            return Err(StoreError::NotFound("company"));
        }
    }
    if !user.roles.commerce.is_empty() && user.company_id.is_none() {
        return Err(invalid("roles", "commerce roles need the user to have a company_id"));
    }
    if user.roles.org.is_some() && user.company_id.is_none() {
        return Err(invalid("org_role", "an organisation role needs the user to have a company_id"));
    }
    if let Some(parent) = user.parent_id {
        if parent == id {
            return Err(invalid("parent_id", "a user cannot be its own parent"));
        }
        let found = fetch_user(conn, tenant, parent, false).await.map_err(|e| match e {
            StoreError::NotFound(_) => StoreError::NotFound("parent user"),
            e => e,
        })?;
        if user.company_id.is_none() || found.company_id != user.company_id {
            return Err(invalid("parent_id", "must be a user of the same company"));
        }
        // Walk up from the parent: reaching this user again would make a cycle.
        let mut cursor = found.parent_id;
        while let Some(ancestor) = cursor {
            if ancestor == id {
                return Err(invalid("parent_id", "would make the company hierarchy a cycle"));
            }
            let sql = "SELECT parent_id FROM users WHERE tenant_id = $1 AND id = $2";
            let next: Option<Option<String>> = sqlx::query_scalar(sql)
                .bind(tenant)
                .bind(ancestor.to_string())
                .fetch_optional(&mut *conn)
                .await?;
            cursor = opt_uuid(next.flatten())?;
        }
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

/// Replaces a user's role assignments and store access with `user`'s.
async fn write_roles_and_stores(conn: &mut Conn, tenant: &str, id: Uuid, user: &NewUser) -> Result<()> {
    let id = id.to_string();
    sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    let company = user.company_id.map(|c| c.to_string()).unwrap_or_default();
    let mut assignments: Vec<(&str, &str, &str, &str)> = Vec::new();
    if let Some(r) = user.roles.tenant {
        assignments.push(("tenant", r.as_str(), "tenant", ""));
    }
    if let Some(r) = user.roles.partner {
        assignments.push(("partner", r.as_str(), "tenant", ""));
    }
    for r in &user.roles.commerce {
        assignments.push(("commerce", r.as_str(), "company", &company));
    }
    if let Some(r) = user.roles.org {
        assignments.push(("org", r.as_str(), "company", &company));
    }
    for (vocabulary, role, scope_kind, scope_id) in assignments {
        sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, scope_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(&id)
        .bind(vocabulary)
        .bind(role)
        .bind(scope_kind)
        .bind(scope_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM user_stores WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    for store in &user.store_ids {
        sqlx::query(
            "INSERT INTO user_stores (tenant_id, user_id, store_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
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
const USER_WRITE_COLUMNS: [&str; 22] = [
    "company_id", "parent_id", "name", "first_name", "middle_name", "last_name", "display_name",
    "email", "email_key", "login", "user_code", "mobile", "country_code", "telephone", "job_title",
    "language_code", "external_id", "source", "status", "account_type", "default_store_id",
    "account_id",
];

async fn insert_user(conn: &mut Conn, tenant: &str, new: &NewUser, actor: &Actor) -> Result<User> {
    let id = Uuid::now_v7();
    check_user_references(conn, tenant, id, new).await?;
    let number = next_number(conn, tenant, "user").await?;
    let at = now();
    let placeholders: Vec<String> = (3..3 + USER_WRITE_COLUMNS.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO users (tenant_id, id, {}, number, password_hash, created_at, updated_at) \
         VALUES ($1, $2, {}, ${}, ${}, ${}, ${})",
        USER_WRITE_COLUMNS.join(", "),
        placeholders.join(", "),
        3 + USER_WRITE_COLUMNS.len(),
        4 + USER_WRITE_COLUMNS.len(),
        5 + USER_WRITE_COLUMNS.len(),
        6 + USER_WRITE_COLUMNS.len(),
    );
    let query = sqlx::query(&sql).bind(tenant).bind(id.to_string());
    bind_user_columns!(query, new)
        .bind(number)
        .bind(new.password_hash.clone())
        .bind(at)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    write_roles_and_stores(conn, tenant, id, new).await?;
    audit(conn, tenant, actor, "user.created", &format!("user:{id}"), &format!("created user #{number}")).await?;
    fetch_user(conn, tenant, id, false).await
}

/// Moves the children of `id` to `new_parent` (seed 002's re-parenting).
async fn reassign_children_to_parent(conn: &mut Conn, tenant: &str, id: Uuid, new_parent: Option<Uuid>) -> Result<()> {
    sqlx::query("UPDATE users SET parent_id = $3, updated_at = $4 WHERE tenant_id = $1 AND parent_id = $2")
        .bind(tenant)
        .bind(id.to_string())
        .bind(new_parent.map(|p| p.to_string()))
        .bind(now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn apply_user_patch(conn: &mut Conn, tenant: &str, id: Uuid, patch: UserPatch, actor: &Actor) -> Result<User> {
    let current = fetch_user(conn, tenant, id, true).await?;
    let next = patch.apply_to(&current);
    check_user_references(conn, tenant, id, &next).await?;
    let leaves_company = next.company_id != current.company_id;
    let deactivated = current.status == UserStatus::Active && next.status == UserStatus::Inactive;
    if leaves_company || deactivated {
        reassign_children_to_parent(conn, tenant, id, current.parent_id).await?;
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
    let summary = if changed.is_empty() { "updated".to_string() } else { format!("updated ({})", changed.join(", ")) };
    audit(conn, tenant, actor, "user.updated", &format!("user:{id}"), &summary).await?;
    fetch_user(conn, tenant, id, false).await
}

// ---------------------------------------------------------------- accounts, keys, records

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    global_roles: String,
    default_tenant_uid: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self> {
        Ok(Account {
            id: uuid(&r.id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            global_roles: r.global_roles.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            default_tenant_uid: r.default_tenant_uid,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    tenant_id: String,
    id: String,
    name: String,
    permissions: String,
    user_id: Option<String>,
    created_at: DateTime<Utc>,
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
            key: ApiKey { id: uuid(&r.id)?, name: r.name, grant, created_at: r.created_at },
        })
    }
}

const API_KEY_COLUMNS: &str = "tenant_id, id, name, permissions, user_id, created_at";

#[derive(sqlx::FromRow)]
struct QuoteRow {
    id: String,
    company_id: String,
    owner_user_id: String,
    reference: String,
    status: String,
    locked: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<QuoteRow> for Quote {
    type Error = StoreError;
    fn try_from(r: QuoteRow) -> Result<Self> {
        Ok(Quote {
            id: uuid(&r.id)?,
            company_id: uuid(&r.company_id)?,
            owner_user_id: uuid(&r.owner_user_id)?,
            reference: r.reference,
            status: word(&r.status, QuoteStatus::parse)?,
            locked: r.locked,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: String,
    company_id: String,
    owner_user_id: String,
    reference: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;
    fn try_from(r: OrderRow) -> Result<Self> {
        Ok(Order {
            id: uuid(&r.id)?,
            company_id: uuid(&r.company_id)?,
            owner_user_id: uuid(&r.owner_user_id)?,
            reference: r.reference,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const QUOTE_COLUMNS: &str = "id, company_id, owner_user_id, reference, status, locked, created_at, updated_at";
const ORDER_COLUMNS: &str = "id, company_id, owner_user_id, reference, status, created_at, updated_at";

async fn fetch_quote(conn: &mut Conn, tenant: &str, id: Uuid, lock: bool) -> Result<Quote> {
    let lock = if lock { LOCK } else { "" };
    let sql = format!("SELECT {QUOTE_COLUMNS} FROM quotes WHERE tenant_id = $1 AND id = $2{lock}");
    sqlx::query_as::<_, QuoteRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("quote"))?
        .try_into()
}

async fn fetch_order(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<Order> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, OrderRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("order"))?
        .try_into()
}

/// A quote or order belongs to a company and to one of that company's users.
async fn check_record_owner(conn: &mut Conn, tenant: &str, company: Uuid, owner: Uuid) -> Result<()> {
    fetch_company(conn, tenant, company).await?;
    let owner_company: Option<Option<String>> =
        sqlx::query_scalar("SELECT company_id FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(owner.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    match owner_company {
        None => Err(StoreError::NotFound("owner user")),
        Some(c) if c == Some(company.to_string()) => Ok(()),
        Some(_) => Err(invalid("owner_user_id", "must be a user of the company company_id")),
    }
}

fn push_record_filter(q: &mut QueryBuilder<'_, Db>, tenant: &str, filter: &RecordFilter, page: &Page) {
    q.push(" WHERE tenant_id = ").push_bind(tenant.to_string());
    if let Some(owner) = filter.owner_user_id {
        q.push(" AND owner_user_id = ").push_bind(owner.to_string());
    }
    if let Some(company) = filter.company_id {
        q.push(" AND company_id = ").push_bind(company.to_string());
    }
    if let Some(after) = &page.after {
        q.push(" AND id > ").push_bind(after.clone());
    }
    q.push(" ORDER BY id LIMIT ").push_bind(page.limit + 1);
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    actor: String,
    action: String,
    target: String,
    summary: String,
    at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: String,
    user_id: String,
    contact_type: String,
    value: String,
    source: String,
    is_primary: bool,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(r: ContactRow) -> Result<Self> {
        Ok(Contact {
            id: uuid(&r.id)?,
            user_id: uuid(&r.user_id)?,
            contact_type: word(&r.contact_type, ContactType::parse)?,
            value: r.value,
            source: word(&r.source, Source::parse)?,
            is_primary: r.is_primary,
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const CONTACT_COLUMNS: &str = "id, user_id, contact_type, value, source, is_primary, is_active, created_at, updated_at";

async fn fetch_contact(conn: &mut Conn, tenant: &str, user: Uuid, id: Uuid) -> Result<Contact> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = $1 AND user_id = $2 AND id = $3");
    sqlx::query_as::<_, ContactRow>(&sql)
        .bind(tenant)
        .bind(user.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("contact"))?
        .try_into()
}

/// Unsets the user's primary contact of a type (but `keep`), so another can
/// take its place in the same transaction.
async fn unset_primary(conn: &mut Conn, tenant: &str, user: Uuid, contact_type: ContactType, keep: Option<Uuid>) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET is_primary = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND user_id = $2 AND contact_type = $3 AND is_primary = $6 AND id <> $7",
    )
    .bind(tenant)
    .bind(user.to_string())
    .bind(contact_type.as_str())
    .bind(false)
    .bind(now())
    .bind(true)
    .bind(keep.map(|k| k.to_string()).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Checks a contact value against its type, reporting under `value`.
fn checked_contact_value(contact_type: ContactType, value: &str) -> Result<String> {
    validate::contact_value(contact_type, value).map_err(|m| invalid("value", &m))
}

async fn touch_user(conn: &mut Conn, tenant: &str, user: Uuid) -> Result<()> {
    sqlx::query("UPDATE users SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(user.to_string())
        .bind(now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    tenant_id: String,
    id: String,
    name: String,
    store_id: Option<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeviceRow> for DeviceIdentity {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self> {
        Ok(DeviceIdentity {
            tenant: r.tenant_id,
            device: Device { id: uuid(&r.id)?, name: r.name, store_id: r.store_id, created_at: r.created_at, revoked_at: r.revoked_at },
        })
    }
}

const DEVICE_COLUMNS: &str = "tenant_id, id, name, store_id, created_at, revoked_at";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    kind: String,
    tenant_id: Option<String>,
    user_id: Option<String>,
    account_id: Option<String>,
    device_id: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
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
struct SigningKeyRow {
    kid: String,
    private_pem: String,
    public_x: String,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    tenant_id: String,
    id: String,
    email: String,
    tenant_role: String,
    account_type: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
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

const INVITATION_COLUMNS: &str = "tenant_id, id, email, tenant_role, account_type, created_at, expires_at, accepted_at, revoked_at";

#[derive(sqlx::FromRow)]
struct ThrottleRow {
    key: String,
    failures: i64,
    window_start: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

impl From<ThrottleRow> for Throttle {
    fn from(r: ThrottleRow) -> Self {
        Throttle { key: r.key, failures: r.failures, window_start: r.window_start, locked_until: r.locked_until }
    }
}

async fn fetch_account(conn: &mut Conn, id: Uuid) -> Result<Account> {
    sqlx::query_as::<_, AccountRow>(
        "SELECT id, email, first_name, last_name, global_roles, default_tenant_uid, created_at, updated_at \
         FROM accounts WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("account"))?
    .try_into()
}

/// A user found by a sign-in name, with its password hash.
async fn user_with_password(conn: &mut Conn, tenant: &str, column: &str, value: &str) -> Result<Option<(User, Option<String>)>> {
    let Some(user) = fetch_user_by(conn, tenant, column, value, false).await? else {
        return Ok(None);
    };
    let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(user.id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some((user, hash)))
}

#[derive(sqlx::FromRow)]
struct FactRow {
    k: String,
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_tenant(&self, new: NewTenant, actor: &Actor) -> Result<Tenant> {
        let mut tx = self.write.begin().await?;
        let at = now();
        sqlx::query("INSERT INTO tenants (uid, name, created_at, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(&new.uid)
            .bind(&new.name)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, &new.uid, actor, "tenant.created", &format!("tenant:{}", new.uid), &new.name).await?;
        let tenant = fetch_tenant(&mut tx, &new.uid).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    async fn get_tenant(&self, uid: &str) -> Result<Tenant> {
        let mut conn = self.read.acquire().await?;
        fetch_tenant(&mut conn, uid).await
    }

    async fn list_tenants(&self, page: &Page) -> Result<Listed<Tenant>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {TENANT_COLUMNS} FROM tenants"));
        if let Some(after) = &page.after {
            q.push(" WHERE uid > ").push_bind(after.clone());
        }
        q.push(" ORDER BY uid LIMIT ").push_bind(page.limit + 1);
        let rows: Vec<TenantRow> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(paged(rows.into_iter().map(Tenant::from).collect(), page, |t: &Tenant| t.uid.clone()))
    }

    async fn rename_tenant(&self, uid: &str, name: &str, actor: &Actor) -> Result<Tenant> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("UPDATE tenants SET name = $2, updated_at = $3 WHERE uid = $1")
            .bind(uid)
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        audit(&mut tx, uid, actor, "tenant.updated", &format!("tenant:{uid}"), &format!("renamed to {name}")).await?;
        let tenant = fetch_tenant(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    async fn delete_tenant(&self, uid: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("DELETE FROM tenants WHERE uid = $1").bind(uid).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_store(&self, tenant: &str, new: NewStore, actor: &Actor) -> Result<StoreRecord> {
        let mut tx = self.write.begin().await?;
        let number = next_number(&mut tx, tenant, "store").await?;
        let at = now();
        sqlx::query(
            "INSERT INTO stores (tenant_id, id, number, code, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(&new.id)
        .bind(number)
        .bind(&new.code)
        .bind(&new.name)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "store.created", &format!("store:{}", new.id), &format!("code {}", new.code)).await?;
        let store = fetch_store(&mut tx, tenant, "id", &new.id).await?;
        tx.commit().await?;
        Ok(store)
    }

    async fn get_store(&self, tenant: &str, id: &str) -> Result<StoreRecord> {
        let mut conn = self.read.acquire().await?;
        fetch_store(&mut conn, tenant, "id", id).await
    }

    async fn get_store_by_code(&self, tenant: &str, code: &str) -> Result<StoreRecord> {
        let mut conn = self.read.acquire().await?;
        fetch_store(&mut conn, tenant, "code", code).await
    }

    async fn list_stores(&self, tenant: &str, page: &Page) -> Result<Listed<StoreRecord>> {
        let select = format!("SELECT {STORE_COLUMNS} FROM stores");
        let rows: Vec<StoreRow> = fetch_page(&self.read, &select, PageKey::Integer("number"), tenant, page).await?;
        Ok(paged(rows.into_iter().map(StoreRecord::from).collect(), page, |s: &StoreRecord| s.number.to_string()))
    }

    async fn update_store(&self, tenant: &str, id: &str, patch: StorePatch, actor: &Actor) -> Result<StoreRecord> {
        let mut tx = self.write.begin().await?;
        let current = fetch_store(&mut tx, tenant, "id", id).await?;
        let code = patch.code.unwrap_or(current.code);
        let name = patch.name.unwrap_or(current.name);
        sqlx::query("UPDATE stores SET code = $3, name = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .bind(&code)
            .bind(&name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "store.updated", &format!("store:{id}"), "updated").await?;
        let store = fetch_store(&mut tx, tenant, "id", id).await?;
        tx.commit().await?;
        Ok(store)
    }

    async fn delete_store(&self, tenant: &str, id: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        fetch_store(&mut tx, tenant, "id", id).await?;
        sqlx::query("UPDATE devices SET store_id = NULL WHERE tenant_id = $1 AND store_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET default_store_id = NULL WHERE tenant_id = $1 AND default_store_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND scope_kind = 'store' AND scope_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM stores WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "store.deleted", &format!("store:{id}"), "deleted").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_company(&self, tenant: &str, new: NewCompany, actor: &Actor) -> Result<Company> {
        let mut tx = self.write.begin().await?;
        let number = next_number(&mut tx, tenant, "company").await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO companies (tenant_id, id, number, kind, name, external_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(number)
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(&new.external_id)
        .bind(new.status.as_str())
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "company.created", &format!("company:{id}"), &format!("created company #{number}")).await?;
        let company = fetch_company(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(company)
    }

    async fn get_company(&self, tenant: &str, id: Uuid) -> Result<Company> {
        let mut conn = self.read.acquire().await?;
        let sql = format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id = $2");
        sqlx::query_as::<_, CompanyRow>(&sql)
            .bind(tenant)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("company"))?
            .try_into()
    }

    async fn tenant_of_company(&self, id: Uuid) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT tenant_id FROM companies WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?)
    }

    async fn get_company_by_number(&self, tenant: &str, number: i64) -> Result<Company> {
        let sql = format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND number = $2");
        sqlx::query_as::<_, CompanyRow>(&sql)
            .bind(tenant)
            .bind(number)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("company"))?
            .try_into()
    }

    async fn list_companies(&self, tenant: &str, page: &Page) -> Result<Listed<Company>> {
        let select = format!("SELECT {COMPANY_COLUMNS} FROM companies");
        let rows: Vec<CompanyRow> = fetch_page(&self.read, &select, PageKey::Integer("number"), tenant, page).await?;
        let items = rows.into_iter().map(Company::try_from).collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |c: &Company| c.number.to_string()))
    }

    async fn update_company(&self, tenant: &str, id: Uuid, patch: CompanyPatch, actor: &Actor) -> Result<Company> {
        let mut tx = self.write.begin().await?;
        let current = fetch_company(&mut tx, tenant, id).await?;
        sqlx::query(
            "UPDATE companies SET kind = $3, name = $4, external_id = $5, status = $6, updated_at = $7 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(patch.kind.unwrap_or(current.kind).as_str())
        .bind(patch.name.unwrap_or(current.name))
        .bind(patch.external_id.unwrap_or(current.external_id))
        .bind(patch.status.unwrap_or(current.status).as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "company.updated", &format!("company:{id}"), "updated").await?;
        let company = fetch_company(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(company)
    }

    async fn delete_company(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        fetch_company(&mut tx, tenant, id).await?;
        let id_text = id.to_string();
        for (table, what) in [("users", "users"), ("quotes", "quotes"), ("orders", "orders")] {
            let sql = format!("SELECT 1 FROM {table} WHERE tenant_id = $1 AND company_id = $2 LIMIT 1");
            if exists(&mut tx, &sql, tenant, &id_text).await? {
                return Err(StoreError::Conflict(format!("the company still has {what}")));
            }
        }
        sqlx::query("DELETE FROM companies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(&id_text)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "company.deleted", &format!("company:{id}"), "deleted").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_user(&self, tenant: &str, new: NewUser, actor: &Actor) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let user = insert_user(&mut tx, tenant, &new, actor).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn get_user(&self, tenant: &str, id: Uuid) -> Result<User> {
        let mut conn = self.read.acquire().await?;
        fetch_user(&mut conn, tenant, id, false).await
    }

    async fn get_user_by_number(&self, tenant: &str, number: i64) -> Result<User> {
        let mut conn = self.read.acquire().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND number = $2");
        let rows: Vec<UserRow> = sqlx::query_as(&sql).bind(tenant).bind(number).fetch_all(&mut *conn).await?;
        users_from_rows(&mut conn, tenant, rows).await?.pop().ok_or(StoreError::NotFound("user"))
    }

    async fn list_users(&self, tenant: &str, filter: &UserFilter, page: &Page) -> Result<Listed<User>> {
        let mut conn = self.read.acquire().await?;
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = "));
        q.push_bind(tenant.to_string());
        if let Some(email) = &filter.email {
            q.push(" AND email_key = ").push_bind(roster_core::validate::email_key(email));
        }
        if let Some(external_id) = &filter.external_id {
            q.push(" AND external_id = ").push_bind(external_id.clone());
        }
        if let Some(number) = filter.number {
            q.push(" AND number = ").push_bind(number);
        }
        if let Some(role) = &filter.role {
            q.push(" AND EXISTS (SELECT 1 FROM role_assignments r WHERE r.tenant_id = users.tenant_id AND r.user_id = users.id AND r.role = ")
                .push_bind(role.clone())
                .push(")");
        }
        if let Some(store) = &filter.store_id {
            q.push(" AND EXISTS (SELECT 1 FROM user_stores s WHERE s.tenant_id = users.tenant_id AND s.user_id = users.id AND s.store_id = ")
                .push_bind(store.clone())
                .push(")");
        }
        if let Some(company) = filter.company_id {
            q.push(" AND company_id = ").push_bind(company.to_string());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(text) = &filter.q {
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let pattern = format!("%{escaped}%");
            q.push(" AND (");
            for (i, column) in ["name", "first_name", "last_name", "display_name", "email_key", "login", "user_code"].iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push(format!("lower({column}) LIKE ")).push_bind(pattern.clone()).push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(after) = after_number(page)? {
            q.push(" AND number > ").push_bind(after);
        }
        q.push(" ORDER BY number LIMIT ").push_bind(page.limit + 1);
        let rows: Vec<UserRow> = q.build_query_as().fetch_all(&mut *conn).await?;
        let users = users_from_rows(&mut conn, tenant, rows).await?;
        Ok(paged(users, page, |u: &User| u.number.to_string()))
    }

    async fn update_user(&self, tenant: &str, id: Uuid, patch: UserPatch, actor: &Actor) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let user = apply_user_patch(&mut tx, tenant, id, patch, actor).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_user(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let user = fetch_user(&mut tx, tenant, id, true).await?;
        reassign_children_to_parent(&mut tx, tenant, id, user.parent_id).await?;
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
        let summary = format!("deleted user #{}; {closed} quote(s) closed and locked", user.number);
        audit(&mut tx, tenant, actor, "user.deleted", &format!("user:{id}"), &summary).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_commerce_role(&self, tenant: &str, id: Uuid, role: CommerceRole, actor: &Actor) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let user = fetch_user(&mut tx, tenant, id, true).await?;
        let Some(company) = user.company_id else {
            return Err(invalid("role", "commerce roles need the user to have a company_id"));
        };
        if user.roles.commerce.contains(&role) {
            return Err(StoreError::Conflict(format!("the user already holds role {role}")));
        }
        sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, scope_id) \
             VALUES ($1, $2, 'commerce', $3, 'company', $4)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(role.as_str())
        .bind(company.to_string())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, id).await?;
        audit(&mut tx, tenant, actor, "user.role_added", &format!("user:{id}"), role.as_str()).await?;
        let user = fetch_user(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn remove_commerce_role(&self, tenant: &str, id: Uuid, role: CommerceRole, actor: &Actor) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let user = fetch_user(&mut tx, tenant, id, true).await?;
        if !user.roles.commerce.contains(&role) {
            return Err(StoreError::NotFound("role"));
        }
        sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 AND vocabulary = 'commerce' AND role = $3")
            .bind(tenant)
            .bind(id.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        touch_user(&mut tx, tenant, id).await?;
        audit(&mut tx, tenant, actor, "user.role_removed", &format!("user:{id}"), role.as_str()).await?;
        let user = fetch_user(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn contacts_of(&self, tenant: &str, users: &[Uuid]) -> Result<Vec<Contact>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = "));
        q.push_bind(tenant).push(" AND user_id IN (");
        let mut ids = q.separated(", ");
        for user in users {
            ids.push_bind(user.to_string());
        }
        q.push(") ORDER BY id");
        let rows: Vec<ContactRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Contact::try_from).collect()
    }

    async fn add_contact(&self, tenant: &str, user: Uuid, new: NewContact, actor: &Actor) -> Result<Contact> {
        let value = checked_contact_value(new.contact_type, &new.value)?;
        let mut tx = self.write.begin().await?;
        // Locking the user serialises every contact change of that user.
        fetch_user(&mut tx, tenant, user, true).await?;
        if new.is_primary {
            unset_primary(&mut tx, tenant, user, new.contact_type, None).await?;
        }
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO contacts (tenant_id, id, user_id, contact_type, value, value_key, source, is_primary, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(new.contact_type.as_str())
        .bind(&value)
        .bind(validate::contact_key(new.contact_type, &value))
        .bind(new.source.as_str())
        .bind(new.is_primary)
        .bind(true)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(&mut tx, tenant, actor, "contact.added", &format!("user:{user}"), &format!("{} contact {id}", new.contact_type)).await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn update_contact(&self, tenant: &str, user: Uuid, id: Uuid, patch: ContactPatch, actor: &Actor) -> Result<Contact> {
        let mut tx = self.write.begin().await?;
        fetch_user(&mut tx, tenant, user, true).await?;
        let current = fetch_contact(&mut tx, tenant, user, id).await?;
        let contact_type = patch.contact_type.unwrap_or(current.contact_type);
        let value = checked_contact_value(contact_type, patch.value.as_deref().unwrap_or(&current.value))?;
        let is_active = patch.is_active.unwrap_or(current.is_active);
        if patch.is_primary == Some(true) && !is_active {
            return Err(StoreError::Conflict("an inactive contact cannot be primary".into()));
        }
        // An inactive contact is never primary; a retyped one leaves its old type's primary.
        let is_primary = is_active
            && patch.is_primary.unwrap_or(current.is_primary && contact_type == current.contact_type);
        if is_primary {
            unset_primary(&mut tx, tenant, user, contact_type, Some(id)).await?;
        }
        sqlx::query(
            "UPDATE contacts SET contact_type = $4, value = $5, value_key = $6, source = $7, is_primary = $8, is_active = $9, updated_at = $10 \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(id.to_string())
        .bind(contact_type.as_str())
        .bind(&value)
        .bind(validate::contact_key(contact_type, &value))
        .bind(patch.source.unwrap_or(current.source).as_str())
        .bind(is_primary)
        .bind(is_active)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(&mut tx, tenant, actor, "contact.updated", &format!("user:{user}"), &format!("contact {id}")).await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn set_primary_contact(&self, tenant: &str, user: Uuid, id: Uuid, actor: &Actor) -> Result<Contact> {
        let mut tx = self.write.begin().await?;
        fetch_user(&mut tx, tenant, user, true).await?;
        let current = fetch_contact(&mut tx, tenant, user, id).await?;
        if !current.is_active {
            return Err(StoreError::Conflict("an inactive contact cannot be primary".into()));
        }
        unset_primary(&mut tx, tenant, user, current.contact_type, Some(id)).await?;
        sqlx::query("UPDATE contacts SET is_primary = $4, updated_at = $5 WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
            .bind(tenant)
            .bind(user.to_string())
            .bind(id.to_string())
            .bind(true)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(&mut tx, tenant, actor, "contact.primary_set", &format!("user:{user}"), &format!("contact {id}")).await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn upsert_user_by_external_id(&self, tenant: &str, new: NewUser, actor: &Actor) -> Result<(User, bool)> {
        let (Some(source), Some(external_id)) = (new.source, new.external_id.clone()) else {
            return Err(invalid("external_id", "an upsert needs source and external_id"));
        };
        let mut tx = self.write.begin().await?;
        // Serialise upserts in the tenant, so two of one key cannot both insert.
        lock_tenant(&mut tx, tenant).await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND source = $2 AND external_id = $3")
                .bind(tenant)
                .bind(source.as_str())
                .bind(&external_id)
                .fetch_optional(&mut *tx)
                .await?;
        let result = match existing {
            Some(id) => {
                let user = apply_user_patch(&mut tx, tenant, uuid(&id)?, UserPatch::replacing_with(new), actor).await?;
                (user, false)
            }
            None => (insert_user(&mut tx, tenant, &new, actor).await?, true),
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn create_api_key(&self, tenant: &str, new: NewApiKey, actor: &Actor) -> Result<ApiKey> {
        let mut tx = self.write.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        let (permissions, user) = match &new.grant {
            ApiKeyGrant::Permissions(p) => (p.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","), None),
            ApiKeyGrant::User(user) => {
                fetch_user(&mut tx, tenant, *user, false).await?;
                (String::new(), Some(user.to_string()))
            }
        };
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, id, name, token_hash, permissions, user_id, created_at) \
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
        audit(&mut tx, tenant, actor, "api_key.created", &format!("api_key:{id}"), &new.name).await?;
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let row: ApiKeyRow = sqlx::query_as(&sql).bind(tenant).bind(id.to_string()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(ApiKeyIdentity::try_from(row)?.key)
    }

    async fn list_api_keys(&self, tenant: &str, page: &Page) -> Result<Listed<ApiKey>> {
        let select = format!("SELECT {API_KEY_COLUMNS} FROM api_keys");
        let rows: Vec<ApiKeyRow> = fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let keys = rows
            .into_iter()
            .map(|r| ApiKeyIdentity::try_from(r).map(|k| k.key))
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(keys, page, |k: &ApiKey| k.id.to_string()))
    }

    async fn delete_api_key(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("API key"));
        }
        audit(&mut tx, tenant, actor, "api_key.deleted", &format!("api_key:{id}"), "revoked").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn authenticate_api_key(&self, token_hash: &str) -> Result<Option<ApiKeyIdentity>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE token_hash = $1");
        let row: Option<ApiKeyRow> = sqlx::query_as(&sql).bind(token_hash).fetch_optional(&self.read).await?;
        row.map(ApiKeyIdentity::try_from).transpose()
    }

    async fn create_account(&self, new: NewAccount) -> Result<Account> {
        let id = Uuid::now_v7();
        let at = now();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO accounts (id, email, email_key, password_hash, first_name, last_name, created_at, updated_at) \
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
        self.get_account(id).await
    }

    async fn get_account(&self, id: Uuid) -> Result<Account> {
        sqlx::query_as::<_, AccountRow>(
            "SELECT id, email, first_name, last_name, global_roles, default_tenant_uid, created_at, updated_at \
             FROM accounts WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("account"))?
        .try_into()
    }

    async fn create_quote(&self, tenant: &str, new: NewQuote, actor: &Actor) -> Result<Quote> {
        let mut tx = self.write.begin().await?;
        check_record_owner(&mut tx, tenant, new.company_id, new.owner_user_id).await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO quotes (tenant_id, id, company_id, owner_user_id, reference, status, locked, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(new.company_id.to_string())
        .bind(new.owner_user_id.to_string())
        .bind(&new.reference)
        .bind(false)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "quote.created", &format!("quote:{id}"), &new.reference).await?;
        let quote = fetch_quote(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        Ok(quote)
    }

    async fn get_quote(&self, tenant: &str, id: Uuid) -> Result<Quote> {
        let mut conn = self.read.acquire().await?;
        fetch_quote(&mut conn, tenant, id, false).await
    }

    async fn list_quotes(&self, tenant: &str, filter: &RecordFilter, page: &Page) -> Result<Listed<Quote>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {QUOTE_COLUMNS} FROM quotes"));
        push_record_filter(&mut q, tenant, filter, page);
        let rows: Vec<QuoteRow> = q.build_query_as().fetch_all(&self.read).await?;
        let items = rows.into_iter().map(Quote::try_from).collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |x: &Quote| x.id.to_string()))
    }

    async fn update_quote(&self, tenant: &str, id: Uuid, patch: QuotePatch, actor: &Actor) -> Result<Quote> {
        let mut tx = self.write.begin().await?;
        let current = fetch_quote(&mut tx, tenant, id, true).await?;
        if current.locked {
            return Err(StoreError::Conflict("the quote is locked and cannot be changed".into()));
        }
        sqlx::query("UPDATE quotes SET reference = $3, status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .bind(patch.reference.unwrap_or(current.reference))
            .bind(patch.status.unwrap_or(current.status).as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "quote.updated", &format!("quote:{id}"), "updated").await?;
        let quote = fetch_quote(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        Ok(quote)
    }

    async fn create_order(&self, tenant: &str, new: NewOrder, actor: &Actor) -> Result<Order> {
        let mut tx = self.write.begin().await?;
        check_record_owner(&mut tx, tenant, new.company_id, new.owner_user_id).await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO orders (tenant_id, id, company_id, owner_user_id, reference, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(new.company_id.to_string())
        .bind(new.owner_user_id.to_string())
        .bind(&new.reference)
        .bind(&new.status)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "order.created", &format!("order:{id}"), &new.reference).await?;
        let order = fetch_order(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn get_order(&self, tenant: &str, id: Uuid) -> Result<Order> {
        let mut conn = self.read.acquire().await?;
        fetch_order(&mut conn, tenant, id).await
    }

    async fn list_orders(&self, tenant: &str, filter: &RecordFilter, page: &Page) -> Result<Listed<Order>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {ORDER_COLUMNS} FROM orders"));
        push_record_filter(&mut q, tenant, filter, page);
        let rows: Vec<OrderRow> = q.build_query_as().fetch_all(&self.read).await?;
        let items = rows.into_iter().map(Order::try_from).collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |x: &Order| x.id.to_string()))
    }

    async fn update_order(&self, tenant: &str, id: Uuid, patch: OrderPatch, actor: &Actor) -> Result<Order> {
        let mut tx = self.write.begin().await?;
        let current = fetch_order(&mut tx, tenant, id).await?;
        sqlx::query("UPDATE orders SET reference = $3, status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .bind(patch.reference.unwrap_or(current.reference))
            .bind(patch.status.unwrap_or(current.status))
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "order.updated", &format!("order:{id}"), "updated").await?;
        let order = fetch_order(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn create_device(&self, tenant: &str, new: NewDevice, actor: &Actor) -> Result<Device> {
        let mut tx = self.write.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        if let Some(store) = &new.store_id {
            fetch_store(&mut tx, tenant, "id", store).await?;
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO devices (tenant_id, id, name, store_id, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(&new.name)
        .bind(&new.store_id)
        .bind(&new.token_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, actor, "device.created", &format!("device:{id}"), &new.name).await?;
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2");
        let row: DeviceRow = sqlx::query_as(&sql).bind(tenant).bind(id.to_string()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(DeviceIdentity::try_from(row)?.device)
    }

    async fn list_devices(&self, tenant: &str, page: &Page) -> Result<Listed<Device>> {
        let select = format!("SELECT {DEVICE_COLUMNS} FROM devices");
        let rows: Vec<DeviceRow> = fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let items = rows
            .into_iter()
            .map(|r| DeviceIdentity::try_from(r).map(|d| d.device))
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |d: &Device| d.id.to_string()))
    }

    async fn revoke_device(&self, tenant: &str, id: Uuid, at: DateTime<Utc>, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("UPDATE devices SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(tenant)
            .bind(id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND device_id = $2 AND revoked_at IS NULL")
            .bind(tenant)
            .bind(id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, actor, "device.revoked", &format!("device:{id}"), "revoked with its sessions").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn authenticate_device(&self, token_hash: &str) -> Result<Option<DeviceIdentity>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1 AND revoked_at IS NULL");
        let row: Option<DeviceRow> = sqlx::query_as(&sql).bind(token_hash).fetch_optional(&self.read).await?;
        row.map(DeviceIdentity::try_from).transpose()
    }

    async fn find_user_by_code(&self, tenant: &str, user_code: &str) -> Result<Option<(User, Option<String>)>> {
        let mut conn = self.read.acquire().await?;
        user_with_password(&mut conn, tenant, "user_code", user_code).await
    }

    async fn find_user_by_email(&self, tenant: &str, email: &str) -> Result<Option<(User, Option<String>)>> {
        let mut conn = self.read.acquire().await?;
        user_with_password(&mut conn, tenant, "email_key", &validate::email_key(email)).await
    }

    async fn find_account_by_email(&self, email: &str) -> Result<Option<(Account, String)>> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT id, password_hash FROM accounts WHERE email_key = $1")
            .bind(validate::email_key(email))
            .fetch_optional(&self.read)
            .await?;
        let Some((id, hash)) = row else { return Ok(None) };
        Ok(Some((self.get_account(uuid(&id)?).await?, hash)))
    }

    async fn record_sign_in(&self, tenant: &str, user: Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE users SET last_accessed_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(user.to_string())
            .bind(at.trunc_subsecs(3))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_of_account(&self, tenant: &str, account: Uuid) -> Result<Option<User>> {
        let mut conn = self.read.acquire().await?;
        fetch_user_by(&mut conn, tenant, "account_id", &account.to_string(), false).await
    }

    async fn tenants_of_account(&self, account: Uuid) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE uid IN (SELECT tenant_id FROM users WHERE account_id = $1) ORDER BY uid"
        );
        let rows: Vec<TenantRow> = sqlx::query_as(&sql).bind(account.to_string()).fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn set_default_tenant(&self, account: Uuid, tenant: &str) -> Result<Account> {
        let mut tx = self.write.begin().await?;
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
        Ok(updated)
    }

    async fn create_session(&self, new: NewSession) -> Result<Session> {
        let id = Uuid::now_v7();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, kind, tenant_id, user_id, account_id, device_id, created_at, expires_at) \
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
        tx.commit().await?;
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
            "SELECT id, kind, tenant_id, user_id, account_id, device_id, created_at, expires_at, revoked_at \
             FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn revoke_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(
            "SELECT kid, private_pem, public_x, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SigningKey { kid: r.kid, private_pem: r.private_pem, public_x: r.public_x, created_at: r.created_at, retired_at: r.retired_at })
            .collect())
    }

    async fn add_signing_key(&self, key: SigningKey, retire_others_at: Option<DateTime<Utc>>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        if let Some(at) = retire_others_at {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO signing_keys (kid, private_pem, public_x, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.kid)
            .bind(&key.private_pem)
            .bind(&key.public_x)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_invitation(&self, tenant: &str, new: NewInvitation, actor: &Actor) -> Result<Invitation> {
        let mut tx = self.write.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO invitations (tenant_id, id, email, email_key, tenant_role, account_type, token_hash, created_at, expires_at) \
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
        audit(&mut tx, tenant, actor, "invitation.created", &format!("invitation:{id}"), &format!("{} as {}", new.email, new.tenant_role)).await?;
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2");
        let row: InvitationRow = sqlx::query_as(&sql).bind(tenant).bind(id.to_string()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn list_invitations(&self, tenant: &str, page: &Page) -> Result<Listed<Invitation>> {
        let select = format!("SELECT {INVITATION_COLUMNS} FROM invitations");
        let rows: Vec<InvitationRow> = fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let items = rows.into_iter().map(Invitation::try_from).collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |i: &Invitation| i.id.to_string()))
    }

    async fn revoke_invitation(&self, tenant: &str, id: Uuid, at: DateTime<Utc>, actor: &Actor) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND accepted_at IS NULL",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("pending invitation"));
        }
        audit(&mut tx, tenant, actor, "invitation.revoked", &format!("invitation:{id}"), "revoked").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_invitation(&self, token_hash: &str) -> Result<Option<(Invitation, String)>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS}, (SELECT name FROM tenants WHERE uid = invitations.tenant_id) AS tenant_name \
             FROM invitations WHERE token_hash = $1"
        );
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.read).await?;
        let Some(row) = row else { return Ok(None) };
        use sqlx::{FromRow, Row};
        let name: String = row.try_get("tenant_name")?;
        Ok(Some((InvitationRow::from_row(&row)?.try_into()?, name)))
    }

    async fn accept_invitation(&self, token_hash: &str, account: &Account, at: DateTime<Utc>) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1{LOCK}");
        let row: Option<InvitationRow> = sqlx::query_as(&sql).bind(token_hash).fetch_optional(&mut *tx).await?;
        let invitation: Invitation = row.ok_or(StoreError::NotFound("invitation"))?.try_into()?;
        if invitation.accepted_at.is_some() || invitation.revoked_at.is_some() {
            return Err(StoreError::Gone("the invitation was already used or revoked".into()));
        }
        if invitation.expires_at <= at {
            return Err(StoreError::Gone("the invitation has expired".into()));
        }
        if validate::email_key(&invitation.email) != validate::email_key(&account.email) {
            return Err(StoreError::Forbidden("the invitation is for another email".into()));
        }
        let tenant = invitation.tenant.clone();
        // Single use: only the first acceptance flips accepted_at.
        let claimed = sqlx::query("UPDATE invitations SET accepted_at = $3 WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL")
            .bind(&tenant)
            .bind(invitation.id.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::Gone("the invitation was already used".into()));
        }
        let actor = Actor::Account(account.id);
        let existing = match fetch_user_by(&mut tx, &tenant, "account_id", &account.id.to_string(), true).await? {
            Some(user) => Some(user),
            None => fetch_user_by(&mut tx, &tenant, "email_key", &validate::email_key(&invitation.email), true).await?,
        };
        let user = match existing {
            Some(user) if user.account_id.is_some_and(|a| a != account.id) => {
                return Err(StoreError::Conflict("the tenant's user with this email belongs to another account".into()));
            }
            Some(user) => {
                let patch = UserPatch {
                    account_id: Some(Some(account.id)),
                    tenant_role: Some(Some(invitation.tenant_role)),
                    account_type: Some(invitation.account_type),
                    ..UserPatch::default()
                };
                apply_user_patch(&mut tx, &tenant, user.id, patch, &actor).await?
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
                    roles: Roles { tenant: Some(invitation.tenant_role), ..Roles::default() },
                    store_ids: Vec::new(),
                };
                insert_user(&mut tx, &tenant, &new, &actor).await?
            }
        };
        audit(&mut tx, &tenant, &actor, "invitation.accepted", &format!("invitation:{}", invitation.id), &format!("user:{}", user.id)).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn throttles(&self, keys: &[String]) -> Result<Vec<Throttle>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new("SELECT key, failures, window_start, locked_until FROM login_throttles WHERE key IN (");
        let mut list = q.separated(", ");
        for key in keys {
            list.push_bind(key.clone());
        }
        q.push(")");
        let rows: Vec<ThrottleRow> = q.build_query_as().fetch_all(&self.write).await?;
        Ok(rows.into_iter().map(Throttle::from).collect())
    }

    async fn record_failure(&self, key: &str, at: DateTime<Utc>, window: Option<chrono::Duration>) -> Result<Throttle> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO login_throttles (key, failures, window_start) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let sql = format!("SELECT key, failures, window_start, locked_until FROM login_throttles WHERE key = $1{LOCK}");
        let current: ThrottleRow = sqlx::query_as(&sql).bind(key).fetch_one(&mut *tx).await?;
        let restart = window.is_some_and(|w| at - current.window_start >= w);
        let (failures, window_start) = if restart { (1, at) } else { (current.failures + 1, current.window_start) };
        sqlx::query("UPDATE login_throttles SET failures = $2, window_start = $3 WHERE key = $1")
            .bind(key)
            .bind(failures)
            .bind(window_start)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Throttle { key: key.to_string(), failures, window_start, locked_until: current.locked_until })
    }

    async fn lock_until(&self, key: &str, until: DateTime<Utc>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE login_throttles SET locked_until = $2 WHERE key = $1")
            .bind(key)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM login_throttles WHERE key = $1").bind(key).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>> {
        let select = "SELECT id, actor, action, target, summary, at FROM events";
        let rows: Vec<EventRow> = fetch_page(&self.read, select, PageKey::Integer("id"), tenant, page).await?;
        let events = rows
            .into_iter()
            .map(|r| AuditEvent { id: r.id, actor: r.actor, action: r.action, target: r.target, summary: r.summary, at: r.at })
            .collect();
        Ok(paged(events, page, |e: &AuditEvent| e.id.to_string()))
    }

    async fn check_facts(&self, tenant: &str, user: Uuid, store: Option<&str>, company: Option<Uuid>) -> Result<CheckFacts> {
        // One round trip of indexed lookups; each branch tags its rows.
        let rows: Vec<FactRow> = sqlx::query_as(
            "SELECT 'user' AS k, status AS a, account_type AS b, company_id AS c FROM users WHERE tenant_id = $1 AND id = $2 \
             UNION ALL SELECT 'role', vocabulary, role, scope_id FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 \
             UNION ALL SELECT 'store', store_id, NULL, NULL FROM user_stores WHERE tenant_id = $1 AND user_id = $2 \
             UNION ALL SELECT 'stores', CAST(COUNT(*) AS TEXT), NULL, NULL FROM stores WHERE tenant_id = $1 \
             UNION ALL SELECT 'companies', CAST(COUNT(*) AS TEXT), NULL, NULL FROM companies WHERE tenant_id = $1 \
             UNION ALL SELECT 'store_exists', id, NULL, NULL FROM stores WHERE tenant_id = $1 AND id = $3 \
             UNION ALL SELECT 'company_exists', id, NULL, NULL FROM companies WHERE tenant_id = $1 AND id = $4",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(store)
        .bind(company.map(|c| c.to_string()))
        .fetch_all(&self.read)
        .await?;
        let mut facts = CheckFacts { subject: None, store_exists: false, company_exists: false };
        let (mut store_count, mut company_count) = (0, 0);
        let mut assignments = Vec::new();
        let mut store_ids = Vec::new();
        let mut head = None;
        for row in rows {
            let a = row.a.unwrap_or_default();
            match row.k.as_str() {
                "user" => head = Some((a, row.b.unwrap_or_default(), row.c)),
                "role" => assignments.push(AssignmentRow { user_id: String::new(), vocabulary: a, role: row.b.unwrap_or_default() }),
                "store" => store_ids.push(a),
                "stores" => store_count = a.parse().unwrap_or(0),
                "companies" => company_count = a.parse().unwrap_or(0),
                "store_exists" => facts.store_exists = true,
                "company_exists" => facts.company_exists = true,
                other => return Err(corrupt("fact", other)),
            }
        }
        if let Some((status, account_type, company_id)) = head {
            let roles = roles_from(&assignments.iter().collect::<Vec<_>>())?;
            facts.subject = Some(Subject {
                status: word(&status, UserStatus::parse)?,
                account_type: word(&account_type, AccountType::parse)?,
                company_id: opt_uuid(company_id)?,
                tenant_role: roles.tenant,
                partner_role: roles.partner,
                commerce_roles: roles.commerce,
                org_role: roles.org,
                store_ids,
                tenant_store_count: store_count,
                tenant_company_count: company_count,
            });
        }
        Ok(facts)
    }
}
