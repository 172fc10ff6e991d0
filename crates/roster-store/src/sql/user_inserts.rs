//! Inserting new users: their rows, roles, stores and contacts in
//! multi-row inserts, and the user as those rows read, built from the
//! values inserted rather than read back. A single creation and an import
//! batch both write through here.

use chrono::{DateTime, Utc};
use roster_core::{validate, NewUser, User};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::users::{assignments_of, USER_WRITE_COLUMNS};
use super::{Conn, Db};
use crate::{NewContact, Result};

/// Rows per multi-row `INSERT` (28 parameters a user row: 14,000, under
/// SQLite's 32,766 and PostgreSQL's 65,535).
pub(super) const ROWS: usize = 500;

/// A user to create, checked: its id, number and contacts with their
/// checked values and keys.
pub(super) struct Creation {
    pub(super) id: Uuid,
    pub(super) number: i64,
    pub(super) user: NewUser,
    pub(super) contacts: Vec<(NewContact, String, String)>,
}

impl Creation {
    /// The user as its rows read once inserted at `at` (what `fetch_user`
    /// would answer: commerce roles and stores sorted, no sign-in yet).
    pub(super) fn created(&self, at: DateTime<Utc>) -> User {
        let u = &self.user;
        let mut roles = u.roles.clone();
        roles.commerce.sort();
        roles.commerce.dedup();
        let mut store_ids = u.store_ids.clone();
        store_ids.sort();
        store_ids.dedup();
        User {
            id: self.id,
            number: self.number,
            company_id: u.company_id,
            parent_id: u.parent_id,
            profile: u.profile.clone(),
            external_id: u.external_id.clone(),
            source: u.source,
            status: u.status,
            account_type: u.account_type,
            default_store_id: u.default_store_id.clone(),
            account_id: u.account_id,
            has_password: u.password_hash.is_some(),
            roles,
            store_ids,
            created_at: at,
            updated_at: at,
            last_accessed_at: None,
        }
    }
}

/// Inserts the users, their roles, stores and contacts, `ROWS` rows per
/// statement.
pub(super) async fn insert_creations(
    conn: &mut Conn,
    tenant: &str,
    creations: &[Creation],
    at: DateTime<Utc>,
) -> Result<()> {
    for chunk in creations.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new("");
        push_users(&mut q, tenant, chunk, at);
        q.build().execute(&mut *conn).await?;
    }
    let rows = Rows::of(creations);
    for chunk in rows.roles.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new("");
        push_roles(&mut q, tenant, chunk);
        q.build().execute(&mut *conn).await?;
    }
    for chunk in rows.stores.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new("");
        push_stores(&mut q, tenant, chunk);
        q.build().execute(&mut *conn).await?;
    }
    for chunk in rows.contacts.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new("");
        push_contacts(&mut q, tenant, chunk, at);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Pushes the `INSERT`s of `creations` (of one tenant, at most `ROWS` of
/// each row) onto `q` as parts of a `WITH`, each named `{prefix}_{table}`
/// and followed by a comma: `ONE_STATEMENT_CREATIONS`' single statement.
///
/// The users are numbered by the statement itself: `{prefix}_numbers`
/// takes the tenant's next numbers, in creation order (it yields nothing
/// for a tenant that does not exist, and then nothing is inserted), and
/// `{prefix}_users` returns each user's `id` and `number`. The numbers a
/// creation's `number` holds are ignored.
pub(super) fn push_creations_with<'q>(
    q: &mut QueryBuilder<'q, Db>,
    prefix: &str,
    tenant: &'q str,
    creations: &[Creation],
    at: DateTime<Utc>,
) {
    let count = creations.len() as i64;
    q.push(format_args!(
        "{prefix}_numbers AS (UPDATE tenants SET next_user_number = next_user_number + "
    ))
    .push_bind(count)
    .push(" WHERE uid = ")
    .push_bind(tenant)
    .push(" RETURNING next_user_number - ")
    .push_bind(count)
    .push(" AS first), ");
    let columns = USER_WRITE_COLUMNS.join(", ");
    q.push(format_args!(
        "{prefix}_users AS (INSERT INTO users (tenant_id, id, {columns}, number, password_hash, \
         created_at, updated_at) SELECT v.tenant_id, v.id, v.{}, n.first + v.ord, \
         v.password_hash, v.created_at, v.updated_at FROM {prefix}_numbers n, (",
        USER_WRITE_COLUMNS.join(", v.")
    ));
    push_user_values(q, tenant, creations, at, |ord, _| ord as i64);
    q.push(format_args!(
        ") AS v (tenant_id, id, {columns}, ord, password_hash, created_at, updated_at) \
         RETURNING id, number), "
    ));
    let rows = Rows::of(creations);
    if !rows.roles.is_empty() {
        q.push(format_args!("{prefix}_roles AS ("));
        push_roles(q, tenant, &rows.roles);
        q.push(" RETURNING 1), ");
    }
    if !rows.stores.is_empty() {
        q.push(format_args!(
            "{prefix}_stores AS (INSERT INTO user_stores (tenant_id, user_id, store_id, \
             user_number) SELECT "
        ))
        .push_bind(tenant)
        .push(format_args!(
            ", v.user_id, v.store_id, u.number FROM {prefix}_users u JOIN ("
        ));
        q.push_values(&rows.stores, |mut row, (id, _, store)| {
            row.push_bind(id.to_string()).push_bind((*store).clone());
        });
        q.push(") AS v (user_id, store_id) ON v.user_id = u.id RETURNING 1), ");
    }
    if !rows.contacts.is_empty() {
        q.push(format_args!("{prefix}_contacts AS ("));
        push_contacts(q, tenant, &rows.contacts, at);
        q.push(" RETURNING 1), ");
    }
}

/// The rows of creations beside their users'.
struct Rows<'a> {
    roles: Vec<Role<'a>>,
    stores: Vec<(Uuid, i64, &'a String)>,
    contacts: Vec<(Uuid, &'a (NewContact, String, String))>,
}

type Role<'a> = (Uuid, (&'static str, &'static str, &'static str, String));

impl<'a> Rows<'a> {
    fn of(creations: &'a [Creation]) -> Rows<'a> {
        let mut rows = Rows {
            roles: Vec::new(),
            stores: Vec::new(),
            contacts: Vec::new(),
        };
        for c in creations {
            for assignment in assignments_of(&c.user) {
                rows.roles.push((c.id, assignment));
            }
            let mut ids: Vec<&String> = c.user.store_ids.iter().collect();
            ids.sort();
            ids.dedup();
            rows.stores
                .extend(ids.into_iter().map(|s| (c.id, c.number, s)));
            rows.contacts
                .extend(c.contacts.iter().map(|contact| (c.id, contact)));
        }
        rows
    }
}

fn push_users<'q>(
    q: &mut QueryBuilder<'q, Db>,
    tenant: &'q str,
    creations: &[Creation],
    at: DateTime<Utc>,
) {
    q.push(format_args!(
        "INSERT INTO users (tenant_id, id, {}, number, password_hash, created_at, updated_at) ",
        USER_WRITE_COLUMNS.join(", ")
    ));
    push_user_values(q, tenant, creations, at, |_, c| c.number);
}

/// Pushes `VALUES` of the users' columns, in the order `push_users`
/// inserts them, the number of each creation (by its place) from `number`.
fn push_user_values<'q>(
    q: &mut QueryBuilder<'q, Db>,
    tenant: &'q str,
    creations: &[Creation],
    at: DateTime<Utc>,
    number: impl Fn(usize, &Creation) -> i64,
) {
    q.push_values(creations.iter().enumerate(), |mut row, (i, c)| {
        let u = &c.user;
        let p = &u.profile;
        row.push_bind(tenant)
            .push_bind(c.id.to_string())
            .push_bind(u.company_id.map(|c| c.to_string()))
            .push_bind(u.parent_id.map(|c| c.to_string()))
            .push_bind(p.name.clone())
            .push_bind(p.first_name.clone())
            .push_bind(p.middle_name.clone())
            .push_bind(p.last_name.clone())
            .push_bind(p.display_name.clone())
            .push_bind(p.email.clone())
            .push_bind(p.email.as_deref().map(validate::email_key))
            .push_bind(p.login.clone())
            .push_bind(p.user_code.clone())
            .push_bind(p.mobile.clone())
            .push_bind(p.country_code.clone())
            .push_bind(p.telephone.clone())
            .push_bind(p.job_title.clone())
            .push_bind(p.language_code.clone())
            .push_bind(u.external_id.clone())
            .push_bind(u.source.map(|s| s.as_str()))
            .push_bind(u.status.as_str())
            .push_bind(u.account_type.as_str())
            .push_bind(u.default_store_id.clone())
            .push_bind(u.account_id.map(|a| a.to_string()))
            .push_bind(number(i, c))
            .push_bind(u.password_hash.clone())
            .push_bind(at)
            .push_bind(at);
    });
}

fn push_roles<'q>(q: &mut QueryBuilder<'q, Db>, tenant: &'q str, roles: &[Role<'_>]) {
    q.push(
        "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
         scope_id) ",
    );
    q.push_values(roles, |mut row, (id, (vocabulary, role, kind, scope))| {
        row.push_bind(tenant)
            .push_bind(id.to_string())
            .push_bind(*vocabulary)
            .push_bind(*role)
            .push_bind(*kind)
            .push_bind(scope.clone());
    });
}

fn push_stores<'q>(q: &mut QueryBuilder<'q, Db>, tenant: &'q str, stores: &[(Uuid, i64, &String)]) {
    q.push("INSERT INTO user_stores (tenant_id, user_id, store_id, user_number) ");
    q.push_values(stores, |mut row, (id, number, store)| {
        row.push_bind(tenant)
            .push_bind(id.to_string())
            .push_bind((*store).clone())
            .push_bind(*number);
    });
}

fn push_contacts<'q>(
    q: &mut QueryBuilder<'q, Db>,
    tenant: &'q str,
    contacts: &[(Uuid, &(NewContact, String, String))],
    at: DateTime<Utc>,
) {
    q.push(
        "INSERT INTO contacts (tenant_id, id, user_id, contact_type, value, value_key, source, \
         is_primary, is_active, created_at, updated_at) ",
    );
    q.push_values(contacts, |mut row, (id, (new, value, key))| {
        row.push_bind(tenant)
            .push_bind(Uuid::now_v7().to_string())
            .push_bind(id.to_string())
            .push_bind(new.contact_type.as_str())
            .push_bind(value.clone())
            .push_bind(key.clone())
            .push_bind(new.source.as_str())
            .push_bind(new.is_primary)
            .push_bind(true)
            .push_bind(at)
            .push_bind(at);
    });
}
