//! `GET /v1/tenants/{t}/users`: the filtered, number-ordered listing. A
//! listing by store and role walks the store's holders of the role
//! (`store_roles`), one by store alone the store's users
//! (`user_stores_walk`; see `docs/architecture.md`, "Storage"); any other
//! walks the tenant's users in number order. A listing served from the
//! users cache reads the page's ids alone (`list_user_ids`; a walk by
//! store with no other filter never touches `users`), then the users it
//! misses (`get_users`).

use roster_core::User;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::page::{after_number, paged};
use super::user_rows::{users_from_rows, UserRow, USER_COLUMNS};
use super::{uuid, Conn, Db, STORE_ROLES_RECHECK};
use crate::{Listed, Page, Result, UserFilter};

pub(super) async fn list_users(
    conn: &mut Conn,
    tenant: &str,
    filter: &UserFilter,
    page: &Page,
) -> Result<Listed<User>> {
    let mut q = listing(Select::Users, tenant, filter, page)?;
    let rows: Vec<UserRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    let users = users_from_rows(rows)?;
    Ok(paged(users, page, |u: &User| u.number.to_string()))
}

pub(super) async fn list_user_ids(
    conn: &mut Conn,
    tenant: &str,
    filter: &UserFilter,
    page: &Page,
) -> Result<Listed<Uuid>> {
    let mut q = listing(Select::Ids, tenant, filter, page)?;
    let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
    let Listed { items, next } = paged(rows, page, |(_, number)| number.to_string());
    let items = items
        .iter()
        .map(|(id, _)| uuid(id))
        .collect::<Result<_>>()?;
    Ok(Listed { items, next })
}

pub(super) async fn get_users(conn: &mut Conn, tenant: &str, ids: &[Uuid]) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(format!(
        "SELECT {} FROM users WHERE tenant_id = ",
        *USER_COLUMNS
    ));
    q.push_bind(tenant.to_string()).push(" AND id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.to_string());
    }
    q.push(")");
    let rows: Vec<UserRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    users_from_rows(rows)
}

/// What a listing reads of each user it finds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    /// The whole user ([`USER_COLUMNS`]).
    Users,
    /// Its `id` and `number`.
    Ids,
}

/// The listing's statement: `limit + 1` users (or ids) in number order.
fn listing<'a>(
    select: Select,
    tenant: &str,
    filter: &UserFilter,
    page: &Page,
) -> Result<QueryBuilder<'a, Db>> {
    let after = after_number(page)?;
    // A walk by store answers an id listing by itself unless a filter
    // needs the user's own columns.
    let by_columns = filter.email.is_some()
        || filter.external_id.is_some()
        || filter.number.is_some()
        || filter.company_id.is_some()
        || filter.status.is_some()
        || filter.q.is_some();
    let walk_only = select == Select::Ids && filter.store_id.is_some() && !by_columns;
    let mut q = QueryBuilder::<Db>::new(match select {
        Select::Users => format!("SELECT {} FROM ", *USER_COLUMNS),
        Select::Ids if walk_only => "SELECT walk_user AS id, walk_number AS number FROM ".into(),
        Select::Ids => "SELECT users.id AS id, users.number AS number FROM ".into(),
    });
    // (`CROSS JOIN` keeps a walk the outer loop on SQLite, which has no
    // statistics to choose it by.)
    match (&filter.store_id, &filter.role) {
        // A store's users holding a role: walked in number order on
        // `store_roles` (migration 0010), which lists exactly them. On
        // PostgreSQL each entry is checked against the store access and
        // the role it stands for (an entry may outlive them under
        // concurrent writes; see `STORE_ROLES_RECHECK`).
        (Some(store), Some(role)) => {
            q.push(
                "(SELECT user_id AS walk_user, user_number AS walk_number FROM store_roles \
                 WHERE tenant_id = ",
            )
            .push_bind(tenant.to_string())
            .push(" AND store_id = ")
            .push_bind(store.clone())
            .push(" AND role = ")
            .push_bind(role.clone());
            if let Some(after) = after {
                q.push(" AND user_number > ").push_bind(after);
            }
            if STORE_ROLES_RECHECK {
                q.push(
                    " AND EXISTS (SELECT 1 FROM user_stores s WHERE s.tenant_id = \
                     store_roles.tenant_id AND s.user_id = store_roles.user_id AND \
                     s.store_id = store_roles.store_id) \
                     AND EXISTS (SELECT 1 FROM role_assignments r WHERE r.tenant_id = \
                     store_roles.tenant_id AND r.user_id = store_roles.user_id AND \
                     r.role = store_roles.role)",
                );
            }
            q.push(") AS walk");
        }
        // A store's users: walked in number order (`user_stores_walk`),
        // the walk stopping at a page's worth of matches, so the cost
        // is how far into the store the page lies, never the tenant's
        // size.
        (Some(store), None) => {
            q.push(
                "(SELECT user_id AS walk_user, user_number AS walk_number FROM user_stores \
                 WHERE tenant_id = ",
            )
            .push_bind(tenant.to_string())
            .push(" AND store_id = ")
            .push_bind(store.clone());
            if let Some(after) = after {
                q.push(" AND user_number > ").push_bind(after);
            }
            q.push(") AS walk");
        }
        (None, _) => {
            q.push("users");
        }
    }
    if walk_only {
        q.push(" ORDER BY walk.walk_number LIMIT ")
            .push_bind(page.limit + 1);
        return Ok(q);
    }
    if filter.store_id.is_some() {
        q.push(" CROSS JOIN users");
    }
    q.push(" WHERE users.tenant_id = ")
        .push_bind(tenant.to_string());
    if filter.store_id.is_some() {
        q.push(" AND users.id = walk.walk_user");
    }
    if let Some(email) = &filter.email {
        q.push(" AND email_key = ")
            .push_bind(roster_core::validate::email_key(email));
    }
    if let Some(external_id) = &filter.external_id {
        q.push(" AND external_id = ").push_bind(external_id.clone());
    }
    if let Some(number) = filter.number {
        q.push(" AND number = ").push_bind(number);
    }
    if let Some(role) = filter.role.as_ref().filter(|_| filter.store_id.is_none()) {
        q.push(
            " AND EXISTS (SELECT 1 FROM role_assignments r WHERE r.tenant_id = \
                users.tenant_id AND r.user_id = users.id AND r.role = ",
        )
        .push_bind(role.clone())
        .push(")");
    }
    if let Some(company) = filter.company_id {
        q.push(" AND company_id = ").push_bind(company.to_string());
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(text) = &filter.q {
        let escaped = text
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        q.push(" AND (");
        for (i, column) in [
            "name",
            "first_name",
            "last_name",
            "display_name",
            "email_key",
            "login",
            "user_code",
            "external_id",
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                q.push(" OR ");
            }
            q.push(format!("lower({column}) LIKE "))
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\'");
        }
        q.push(")");
    }
    match (&filter.store_id, after) {
        (Some(_), _) => {
            q.push(" ORDER BY walk.walk_number");
        }
        (None, Some(after)) => {
            q.push(" AND number > ")
                .push_bind(after)
                .push(" ORDER BY number");
        }
        (None, None) => {
            q.push(" ORDER BY number");
        }
    }
    q.push(" LIMIT ").push_bind(page.limit + 1);
    Ok(q)
}
