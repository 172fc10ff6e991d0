//! Paging: cut a `limit + 1` fetch to a page, and the one query every
//! tenant list shares.

use sqlx::QueryBuilder;

use super::Db;
use crate::{Listed, Page, Result, StoreError};

pub(super) fn after_number(page: &Page) -> Result<Option<i64>> {
    page.after
        .as_deref()
        .map(|a| a.parse::<i64>().map_err(|_| bad_cursor()))
        .transpose()
}

pub(super) fn bad_cursor() -> StoreError {
    StoreError::Invalid {
        field: "cursor".into(),
        message: "is not a cursor of this list".into(),
    }
}

/// Cuts a `limit + 1` fetch to a page and its resume key.
pub(super) fn paged<T>(mut items: Vec<T>, page: &Page, key: impl Fn(&T) -> String) -> Listed<T> {
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
pub(super) enum PageKey {
    /// An integer column (`number`, the events' `id`).
    Integer(&'static str),
    /// A text column (UUIDv7 `id`s sort by creation time).
    Text(&'static str),
}

/// One page of a tenant's rows of `select` (a `SELECT … FROM table`),
/// ordered by `key`, after the page's resume key.
pub(super) async fn fetch_page<R>(
    pool: &sqlx::Pool<Db>,
    select: &str,
    key: PageKey,
    tenant: &str,
    page: &Page,
) -> Result<Vec<R>>
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
    q.push(format!(" ORDER BY {column} LIMIT "))
        .push_bind(page.limit + 1);
    Ok(q.build_query_as().fetch_all(pool).await?)
}
