//! [`UserQuery`] as SQL: each condition becomes a predicate over the
//! `users` columns (lowercased where the field ignores case) or an `EXISTS`
//! over the user's active contacts; the same `WHERE` counts the matches.

use roster_core::ContactType;
use sqlx::QueryBuilder;

use super::user_rows::{users_from_rows, UserRow, USER_COLUMNS};
use super::Db;
use crate::user_query::{
    Condition, ContactCondition, Field, Op, QueriedUsers, SortKey, UserQuery, Value,
};
use crate::Result;

type Sql<'a> = QueryBuilder<'a, Db>;

/// The column (or expression) a field reads.
fn column(field: Field) -> &'static str {
    match field {
        Field::Id => "users.id",
        Field::UserName => "coalesce(users.login, users.email)",
        Field::FirstName => "users.first_name",
        Field::LastName => "users.last_name",
        Field::MiddleName => "users.middle_name",
        Field::DisplayName => "users.display_name",
        Field::Email => "users.email",
        Field::ExternalId => "users.external_id",
        Field::JobTitle => "users.job_title",
        Field::LanguageCode => "users.language_code",
        Field::ParentId => "users.parent_id",
        Field::Active => "users.status",
        Field::CreatedAt => "users.created_at",
        Field::UpdatedAt => "users.updated_at",
    }
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::UserName => "lower(coalesce(users.login, users.email))",
        SortKey::FirstName => "lower(users.first_name)",
        SortKey::LastName => "lower(users.last_name)",
        SortKey::DisplayName => "lower(users.display_name)",
        SortKey::Email => "users.email_key",
        SortKey::ExternalId => "users.external_id",
        SortKey::CreatedAt => "users.created_at",
        SortKey::UpdatedAt => "users.updated_at",
    }
}

/// A `LIKE` pattern matching `text` literally, with `%` around as `op` says.
fn like_pattern(op: Op, text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        Op::Co => format!("%{escaped}%"),
        Op::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// `expr op value` for text, `expr` already lowercased when `fold`.
pub(super) fn push_text(q: &mut Sql<'_>, expr: &str, op: Op, text: &str, fold: bool) {
    let text = if fold {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let expr = if fold {
        format!("lower({expr})")
    } else {
        expr.to_string()
    };
    match op {
        Op::Co | Op::Sw | Op::Ew => {
            q.push(format!("{expr} LIKE "))
                .push_bind(like_pattern(op, &text))
                .push(" ESCAPE '\\'");
        }
        // RFC 7644: `ne` holds for a user without the attribute too.
        Op::Ne => {
            q.push(format!("({expr} IS NULL OR {expr} <> "))
                .push_bind(text)
                .push(")");
        }
        _ => {
            q.push(format!("{expr} {} ", comparison(op)))
                .push_bind(text);
        }
    }
}

pub(super) fn comparison(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        // Text only, handled by `push_text`.
        Op::Co | Op::Sw | Op::Ew => "=",
    }
}

fn push_condition(q: &mut Sql<'_>, condition: &Condition) {
    match condition {
        Condition::Const(true) => {
            q.push("1 = 1");
        }
        Condition::Const(false) => {
            q.push("1 = 0");
        }
        Condition::And(a, b) | Condition::Or(a, b) => {
            let joiner = if matches!(condition, Condition::And(..)) {
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
        Condition::Not(inner) => {
            q.push("NOT (");
            push_condition(q, inner);
            q.push(")");
        }
        Condition::Present(field) => {
            let expr = column(*field);
            q.push(format!("({expr} IS NOT NULL AND {expr} <> '')"));
        }
        Condition::Compare(Field::Active, op, Value::Bool(active)) => {
            let active = if *op == Op::Ne { !active } else { *active };
            q.push("users.status = ")
                .push_bind(if active { "ACTIVE" } else { "INACTIVE" });
        }
        Condition::Compare(field, op, Value::Text(text)) => {
            push_text(q, column(*field), *op, text, field.case_insensitive());
        }
        Condition::Compare(field, op, Value::Id(id)) => {
            push_text(q, column(*field), *op, &id.to_string(), false);
        }
        Condition::Compare(field, op, Value::Time(at)) => {
            q.push(format!("{} {} ", column(*field), comparison(*op)))
                .push_bind(*at);
        }
        // A boolean compared with a field that is not one never holds.
        Condition::Compare(_, _, Value::Bool(_)) => {
            q.push("1 = 0");
        }
        Condition::Contact(kind, inner) => push_contact(q, *kind, inner),
    }
}

/// Some active contact of `kind` meets `inner`; for emails and phones the
/// user's own `email` or `mobile` counts as a primary one.
fn push_contact(q: &mut Sql<'_>, kind: ContactType, inner: &ContactCondition) {
    q.push(
        "(EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = users.tenant_id AND c.user_id = \
         users.id AND c.is_active AND c.contact_type = ",
    )
    .push_bind(kind.as_str())
    .push(" AND ");
    push_contact_condition(q, inner, "c.value", Some("c.is_primary"));
    q.push(")");
    let own = match kind {
        ContactType::Email => Some("users.email"),
        ContactType::Phone => Some("users.mobile"),
        _ => None,
    };
    if let Some(own) = own {
        q.push(format!(" OR ({own} IS NOT NULL AND "));
        push_contact_condition(q, inner, own, None);
        q.push(")");
    }
    q.push(")");
}

/// `primary` is the column saying the contact is primary, or `None` for
/// the user's own value, which is.
fn push_contact_condition(
    q: &mut Sql<'_>,
    condition: &ContactCondition,
    value: &str,
    primary: Option<&str>,
) {
    match condition {
        ContactCondition::Const(holds) => {
            q.push(if *holds { "1 = 1" } else { "1 = 0" });
        }
        ContactCondition::And(a, b) | ContactCondition::Or(a, b) => {
            let joiner = if matches!(condition, ContactCondition::And(..)) {
                " AND "
            } else {
                " OR "
            };
            q.push("(");
            push_contact_condition(q, a, value, primary);
            q.push(joiner);
            push_contact_condition(q, b, value, primary);
            q.push(")");
        }
        ContactCondition::Not(inner) => {
            q.push("NOT (");
            push_contact_condition(q, inner, value, primary);
            q.push(")");
        }
        ContactCondition::Value(op, text) => push_text(q, value, *op, text, true),
        ContactCondition::Primary(wanted) => match (primary, wanted) {
            (Some(column), true) => {
                q.push(column);
            }
            (Some(column), false) => {
                q.push(format!("NOT {column}"));
            }
            (None, holds) => {
                q.push(if *holds { "1 = 1" } else { "1 = 0" });
            }
        },
    }
}

fn push_where<'a>(q: &mut Sql<'a>, tenant: &'a str, query: &'a UserQuery) {
    q.push(" WHERE users.tenant_id = ").push_bind(tenant);
    if let Some(company) = query.company {
        q.push(" AND users.company_id = ")
            .push_bind(company.to_string());
    }
    if let Some(condition) = &query.condition {
        q.push(" AND ");
        push_condition(q, condition);
    }
}

pub(super) async fn query_users(
    conn: &mut super::Conn,
    tenant: &str,
    query: &UserQuery,
) -> Result<QueriedUsers> {
    let mut count = Sql::new("SELECT count(*) FROM users");
    push_where(&mut count, tenant, query);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    if query.count == 0 || query.offset >= total {
        return Ok(QueriedUsers {
            users: Vec::new(),
            total,
        });
    }
    let mut select = Sql::new(format!("SELECT {} FROM users", *USER_COLUMNS));
    push_where(&mut select, tenant, query);
    select.push(" ORDER BY ");
    if let Some((key, descending)) = query.sort {
        let expr = sort_column(key);
        // Users without the value come last either way (RFC 7644 §3.4.2.3
        // leaves it to the service provider).
        let direction = if descending { "DESC" } else { "ASC" };
        select.push(format!("({expr} IS NULL), {expr} {direction}, "));
    }
    select
        .push("users.number LIMIT ")
        .push_bind(query.count)
        .push(" OFFSET ")
        .push_bind(query.offset);
    let rows: Vec<UserRow> = select.build_query_as().fetch_all(&mut *conn).await?;
    let users = users_from_rows(rows)?;
    Ok(QueriedUsers { users, total })
}
