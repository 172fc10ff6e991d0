//! The users pages: search and filters, and the new-user form (a user's
//! own page is `user.rs`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use roster_app::input::Page;
use roster_app::input::UserFilter;
use roster_app::users::Right;
use roster_app::Scope;
use roster_core::{Permission, Target, TenantRole, User, UserStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, page, select, Errors, Nav};
use super::{error_page, Signed};
use crate::error::ApiError;
use crate::v1::users::UserCreate;
use crate::AppState;

/// Users per page.
const PAGE_SIZE: i64 = 50;

/// Enters the tenant as the signed-in caller, or the error page.
pub(crate) async fn enter(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
) -> Result<Scope, Response> {
    state.enter(&signed.caller, tenant).await.map_err(|e| {
        // The navigation of the caller's own tenant (the operator's: the
        // one asked for), never of a tenant it may not see.
        let shown = signed.own_tenant().unwrap_or(tenant);
        error_page(Some((signed, shown)), ApiError::from(e))
    })
}

pub(crate) fn users_path(tenant: &str) -> String {
    format!("/console/t/{tenant}/users")
}

pub(crate) fn user_path(tenant: &str, id: Uuid) -> String {
    format!("/console/t/{tenant}/users/{id}")
}

/// A user's name as a person reads it.
pub(crate) fn display(user: &User) -> String {
    let p = &user.profile;
    let full = [p.first_name.as_deref(), p.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    [
        p.display_name.clone(),
        p.name.clone(),
        (!full.is_empty()).then_some(full),
        p.email.clone(),
        p.login.clone(),
        p.user_code.clone(),
    ]
    .into_iter()
    .flatten()
    .next()
    .unwrap_or_else(|| format!("User #{}", user.number))
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    store_id: String,
    #[serde(default)]
    company_id: String,
    cursor: Option<String>,
}

fn options<'a>(any: &str, values: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    std::iter::once((String::new(), any.to_string()))
        .chain(values.into_iter().map(|v| (v.to_string(), v.to_string())))
        .collect()
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let scope = match enter(&state, &signed, &tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let mut errors = Errors::default();
    let status = match query.status.as_str() {
        "" => None,
        text => UserStatus::parse(text).or_else(|| {
            errors.push("status", "Pick a status from the list.");
            None
        }),
    };
    let company_id = match query.company_id.trim() {
        "" => None,
        text => text.parse::<Uuid>().ok().or_else(|| {
            errors.push(
                "company_id",
                "A company id looks like 0190…-…; copy it from Companies.",
            );
            None
        }),
    };
    let filter = UserFilter {
        q: Some(query.q.trim().to_string()).filter(|q| !q.is_empty()),
        status,
        role: Some(query.role.trim().to_string()).filter(|r| !r.is_empty()),
        store_id: Some(query.store_id.clone()).filter(|s| !s.is_empty()),
        company_id,
        ..UserFilter::default()
    };
    let page_of = Page {
        after: query.cursor.clone(),
        limit: PAGE_SIZE,
    };
    let listed = if errors.is_empty() {
        match state
            .users()
            .list(&scope, Right::Users, &filter, &page_of)
            .await
        {
            Ok(listed) => Some(listed),
            Err(e) => {
                errors = Errors::from_app(e, "q");
                None
            }
        }
    } else {
        None
    };
    let stores = state
        .tenancy()
        .list_stores(
            &scope,
            &Page {
                after: None,
                limit: 500,
            },
        )
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let store_options: Vec<(String, String)> = std::iter::once((String::new(), "Any store".into()))
        .chain(
            stores
                .iter()
                .map(|s| (s.id.clone(), format!("{} ({})", s.name, s.code))),
        )
        .collect();
    let roles: Vec<&str> = TenantRole::ALL
        .iter()
        .map(|r| r.as_str())
        .chain(roster_core::CommerceRole::ALL.iter().map(|r| r.as_str()))
        .collect();
    let may_create = scope.holds(Permission::ManageUsers, &Target::default());
    let nav = Nav::new(&signed, Some(&tenant), "users");
    let body = html! {
        h1 { "Users" }
        @if may_create { p { a href=(format!("{}/new", users_path(&tenant))) { "New user" } " · " a href=(format!("/console/t/{tenant}/invitations")) { "Invitations" } } }
        form role="search" method="get" action=(users_path(&tenant)) {
            div.fields {
                (field("q", "Search users", "q", "search", &query.q, errors.of("q")))
                (select("status", "Status", "status", &options("Any status", UserStatus::ALL.iter().map(|s| s.as_str())), &query.status, errors.of("status")))
                (select("role", "Role", "role", &options("Any role", roles), &query.role, errors.of("role")))
                (select("store", "Store", "store_id", &store_options, &query.store_id, errors.of("store_id")))
                (field("company", "Company id", "company_id", "text", &query.company_id, errors.of("company_id")))
            }
            p { button type="submit" { "Search" } }
        }
        (errors.others(&["q", "status", "role", "store_id", "company_id"]))
        @if let Some(listed) = &listed {
            @if listed.items.is_empty() {
                p role="status" { "No users match." }
            } @else {
                div.table {
                    table {
                        caption.muted { "Users, by number" }
                        thead { tr { th scope="col" { "#" } th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "User code" } th scope="col" { "Status" } th scope="col" { "Tenant role" } } }
                        tbody {
                            @for user in &listed.items {
                                tr {
                                    td { (user.number) }
                                    td { a href=(user_path(&tenant, user.id)) { (display(user)) } }
                                    td { (user.profile.email.as_deref().unwrap_or("")) }
                                    td { (user.profile.user_code.as_deref().unwrap_or("")) }
                                    td { (user.status.as_str()) }
                                    td { (user.roles.tenant.map(|r| r.as_str()).unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &listed.next {
                    p { a rel="next" href=(next_link(&tenant, &query, next)) { "Next page" } }
                }
            }
        }
    };
    let status = errors.status_or(axum::http::StatusCode::OK);
    (status, page("Users", Some(&nav), body)).into_response()
}

fn next_link(tenant: &str, query: &ListQuery, cursor: &str) -> String {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &query.q)
        .append_pair("status", &query.status)
        .append_pair("role", &query.role)
        .append_pair("store_id", &query.store_id)
        .append_pair("company_id", &query.company_id)
        .append_pair("cursor", cursor)
        .finish();
    format!("{}?{encoded}", users_path(tenant))
}

fn new_user_page(signed: &Signed, tenant: &str, form: &NewUserForm, errors: &Errors) -> Response {
    let nav = Nav::new(signed, Some(tenant), "users");
    let body = html! {
        h1 { "New user" }
        (errors.others(&["email", "first_name", "last_name"]))
        // The server's messages, beside their fields, rather than the
        // browser's own (which differ by browser and language).
        form method="post" action=(users_path(tenant)) novalidate {
            input type="hidden" name="csrf" value=(signed.csrf);
            div.fields {
                (field("email", "Email", "email", "email", &form.email, errors.of("email")))
                (field("first-name", "First name", "first_name", "text", &form.first_name, errors.of("first_name")))
                (field("last-name", "Last name", "last_name", "text", &form.last_name, errors.of("last_name")))
            }
            p { button type="submit" { "Create user" } }
        }
    };
    let status = errors.status_or(axum::http::StatusCode::OK);
    (status, page("New user", Some(&nav), body)).into_response()
}

pub(crate) async fn new_user(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
) -> Response {
    if let Err(response) = enter(&state, &signed, &tenant).await {
        return response;
    }
    new_user_page(
        &signed,
        &tenant,
        &NewUserForm::default(),
        &Errors::default(),
    )
}

#[derive(Deserialize, Default)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// An empty field is no value.
pub(crate) fn given(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Form(form): Form<NewUserForm>,
) -> Response {
    let scope = match enter(&state, &signed, &tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let body = UserCreate {
        email: given(&form.email),
        first_name: given(&form.first_name),
        last_name: given(&form.last_name),
        ..UserCreate::default()
    };
    let created = async {
        let (new, password) = body.into_new_user()?;
        Ok::<_, ApiError>(
            state
                .users()
                .create(&scope, Right::Users, new, password)
                .await?,
        )
    }
    .await;
    match created {
        Ok(user) => {
            Redirect::to(&format!("{}?created=1", user_path(&tenant, user.id))).into_response()
        }
        Err(e) => new_user_page(&signed, &tenant, &form, &Errors::from_api(e, "email")),
    }
}

/// The user a form names by id or email, or the error beside `field`
/// (404 for no such user of this tenant).
pub(crate) async fn find_user(
    state: &AppState,
    scope: &Scope,
    who: &str,
    field: &str,
) -> Result<User, Errors> {
    let found = match who.parse::<Uuid>() {
        Ok(id) => state.users().get(scope, Right::Users, id, None).await,
        Err(_) => {
            let filter = UserFilter {
                email: Some(who.to_string()),
                ..UserFilter::default()
            };
            let page = Page {
                after: None,
                limit: 1,
            };
            state
                .users()
                .list(scope, Right::Users, &filter, &page)
                .await
                .map(|mut listed| listed.items.pop())
                .and_then(|user| {
                    user.ok_or_else(|| {
                        roster_app::AppError::NotFound(
                            "no user of this tenant has this id or email".into(),
                        )
                    })
                })
        }
    };
    found.map_err(|e| Errors::from_app(e, field))
}
