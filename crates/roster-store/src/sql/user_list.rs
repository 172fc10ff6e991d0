//! `GET /v1/tenants/{t}/users`: the filtered, number-ordered listing. A
//! listing by store and role walks the store's holders of the role
//! (`store_roles`), one by store alone the store's users
//! (`user_stores_walk`; see `docs/architecture.md`, "Storage"); any other
//! walks the tenant's users in number order.

use roster_core::User;
use sqlx::QueryBuilder;

use super::page::{after_number, paged};
use super::user_rows::{users_from_rows, UserRow, USER_COLUMNS};
use super::{Conn, Db, STORE_ROLES_RECHECK};
use crate::{Listed, Page, Result, UserFilter};

pub(super) async fn list_users(
    conn: &mut Conn,
    tenant: &str,
    filter: &UserFilter,
    page: &Page,
) -> Result<Listed<User>> {
    let after = after_number(page)?;
    let mut q = QueryBuilder::<Db>::new(format!("SELECT {} FROM ", *USER_COLUMNS));
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
            q.push(") AS walk CROSS JOIN users");
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
            q.push(") AS walk CROSS JOIN users");
        }
        (None, _) => {
            q.push("users");
        }
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
    let rows: Vec<UserRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    let users = users_from_rows(rows)?;
    Ok(paged(users, page, |u: &User| u.number.to_string()))
}
