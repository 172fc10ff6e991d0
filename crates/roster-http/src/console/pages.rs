//! The other pages: stores, companies, a webhook's deliveries and the
//! check (tenants are `tenants.rs`, webhooks `webhooks.rs`, API keys
//! `api_keys.rs`, devices `devices.rs`, the audit log `audit.rs`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use roster_app::check::{Consistency, Question};
use roster_app::input::UserFilter;
use roster_app::input::{Listed, Page};
use roster_app::users::Right;
use roster_core::Permission;
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, page, problem, select, Errors, Nav};
use super::users::{display, enter, find_user};
use super::Signed;
use crate::error::ApiError;
use crate::AppState;

/// Rows per page of the lists below.
const PAGE_SIZE: i64 = 100;

#[derive(Deserialize, Default)]
pub(crate) struct Cursor {
    cursor: Option<String>,
}

impl Cursor {
    pub(crate) fn page(&self) -> Page {
        Page {
            after: self.cursor.clone(),
            limit: PAGE_SIZE,
        }
    }
}

/// A list page: its table, or the reason it cannot be shown, and a link
/// to the next page.
pub(crate) fn listing<T>(
    path: &str,
    listed: Result<Listed<T>, roster_app::AppError>,
    empty: &str,
    table: impl FnOnce(&[T]) -> Markup,
) -> (StatusCode, Markup) {
    match listed {
        Ok(listed) => {
            let markup = html! {
                @if listed.items.is_empty() { p role="status" { (empty) } }
                @else { div.table { (table(&listed.items)) } }
                @if let Some(next) = &listed.next {
                    p { a rel="next" href=(format!("{path}?cursor={}", urlencode(next))) { "Next page" } }
                }
            };
            (StatusCode::OK, markup)
        }
        Err(e) => {
            let e = ApiError::from(e);
            let status = e.status();
            let detail = e.problem().detail;
            (status, problem(html! { (detail) }))
        }
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A tenant's list page: enters the tenant, lists, renders.
async fn tenant_list<T>(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    (slug, title, empty): (&str, &str, &str),
    listed: impl AsyncFnOnce(&roster_app::Scope) -> Result<Listed<T>, roster_app::AppError>,
    table: impl FnOnce(&[T]) -> Markup,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let path = format!("/console/t/{tenant}/{slug}");
    let (status, list) = listing(&path, listed(&scope).await, empty, table);
    let nav = Nav::new(signed, Some(tenant), slug);
    let body = html! { h1 { (title) } (list) };
    (status, page(title, Some(&nav), body)).into_response()
}

pub(crate) async fn stores(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(cursor): Query<Cursor>,
) -> Response {
    let page_of = cursor.page();
    tenant_list(
        &state,
        &signed,
        &tenant,
        ("stores", "Stores", "No stores yet."),
        async |scope| state.tenancy().list_stores(scope, &page_of).await,
        |stores| {
            html! { table {
                thead { tr { th scope="col" { "Code" } th scope="col" { "Name" } th scope="col" { "Id" } } }
                tbody { @for s in stores { tr {
                    td { code { (s.code) } } td { (s.name) } td { code { (s.id) } }
                } } }
            } }
        },
    )
    .await
}

pub(crate) async fn companies(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(cursor): Query<Cursor>,
) -> Response {
    let page_of = cursor.page();
    let users = format!("/console/t/{tenant}/users");
    let company_pages = format!("/console/t/{tenant}/companies");
    tenant_list(
        &state,
        &signed,
        &tenant,
        ("companies", "Companies", "No companies yet."),
        async |scope| state.tenancy().list_companies(scope, &page_of).await,
        |companies| {
            html! { table {
                thead { tr { th scope="col" { "#" } th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Users" } } }
                tbody { @for c in companies { tr {
                    td { (c.number) } td { a href=(format!("{company_pages}/{}", c.id)) { (c.name) } } td { (c.kind.as_str()) } td { (c.status.as_str()) }
                    td { a href=(format!("{users}?company_id={}", c.id)) { "Users of " (c.name) } }
                } } }
            } }
        },
    )
    .await
}

/// The most users a company page shows in its tree.
const TREE_LIMIT: i64 = 500;

/// A company: its users as the B2B hierarchy (SPEC §1), each with "Move
/// under" (as seed 002's hierarchy move: MANAGE_COMMERCES, the core's rules
/// against cycles and other companies).
pub(crate) async fn company(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    company_page(&state, &signed, &tenant, id, None, Errors::default()).await
}

async fn company_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    notice: Option<&str>,
    errors: Errors,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let company = match state.tenancy().get_company(&scope, id).await {
        Ok(company) => company,
        Err(e) => return super::error_page(Some((signed, tenant)), ApiError::from(e)),
    };
    let filter = UserFilter {
        company_id: Some(id),
        ..UserFilter::default()
    };
    let page_of = Page {
        after: None,
        limit: TREE_LIMIT,
    };
    let users = match state
        .users()
        .list(&scope, Right::Users, &filter, &page_of)
        .await
    {
        Ok(listed) => listed.items,
        Err(e) => return super::error_page(Some((signed, tenant)), ApiError::from(e)),
    };
    let may_move = scope.holds(Permission::ManageCommerces, &roster_core::Target::default());
    let ids: std::collections::HashSet<Uuid> = users.iter().map(|u| u.id).collect();
    let roots: Vec<&roster_core::User> = users
        .iter()
        .filter(|u| u.parent_id.is_none_or(|p| !ids.contains(&p)))
        .collect();
    let tree = Tree {
        users: &users,
        tenant,
        company: id,
        csrf: &signed.csrf,
        may_move,
    };
    let nav = Nav::new(signed, Some(tenant), "companies");
    let body = html! {
        p { a href=(format!("/console/t/{tenant}/companies")) { "← Companies" } }
        h1 { (company.name) }
        @if let Some(notice) = notice { (super::layout::notice(html! { (notice) })) }
        (errors.others(&[]))
        p { (company.kind.as_str()) ", " (company.status.as_str()) " · " (users.len()) " users"
            @if users.len() as i64 == TREE_LIMIT { " (the first " (TREE_LIMIT) ")" } }
        h2 { "Hierarchy" }
        @if users.is_empty() { p { "No users in this company." } }
        @else { ul.tree { @for root in roots { (tree.node(root, 0)) } } }
    };
    let status = errors.status_or(StatusCode::OK);
    (status, page(&company.name, Some(&nav), body)).into_response()
}

/// A company's users as nested lists.
struct Tree<'a> {
    users: &'a [roster_core::User],
    tenant: &'a str,
    company: Uuid,
    csrf: &'a str,
    may_move: bool,
}

impl Tree<'_> {
    fn node(&self, user: &roster_core::User, depth: usize) -> Markup {
        let children: Vec<&roster_core::User> = self
            .users
            .iter()
            .filter(|u| u.parent_id == Some(user.id))
            .collect();
        let name = display(user);
        let others: Vec<(String, String)> = self
            .users
            .iter()
            .filter(|u| u.id != user.id && Some(u.id) != user.parent_id)
            .map(|u| (u.id.to_string(), display(u)))
            .collect();
        let select_id = format!("parent-{}", user.id);
        html! {
            li {
                a href=(format!("/console/t/{}/users/{}", self.tenant, user.id)) { (name) }
                @if self.may_move && !others.is_empty() {
                    " "
                    form.inline method="post" action=(format!("/console/t/{}/companies/{}/users/{}/parent", self.tenant, self.company, user.id)) {
                        input type="hidden" name="csrf" value=(self.csrf);
                        label for=(select_id) { "Move " (name) " under" }
                        " "
                        select id=(select_id) name="parent" {
                            @for (value, text) in &others { option value=(value) { (text) } }
                        }
                        " "
                        button.secondary type="submit" aria-label=(format!("Move {name}")) { "Move under" }
                    }
                }
                // The store refuses cycles; the depth bound only keeps a
                // page of a corrupt hierarchy finite.
                @if !children.is_empty() && depth < 64 {
                    ul.tree { @for child in children { (self.node(child, depth + 1)) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ParentForm {
    parent: String,
}

pub(crate) async fn move_under(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, company, user)): Path<(String, Uuid, Uuid)>,
    Form(form): Form<ParentForm>,
) -> Response {
    let moved = async {
        let parent = form
            .parent
            .parse::<Uuid>()
            .map_err(|_| roster_app::AppError::field("parent", "pick a user of the company"))?;
        let scope = state.enter(&signed.caller, &tenant).await?;
        let moving = state.users().get(&scope, Right::Users, user, None).await?;
        if moving.company_id != Some(company) {
            return Err(roster_app::AppError::NotFound("user not found".into()));
        }
        state.users().move_under(&scope, user, parent).await
    }
    .await;
    match moved {
        Ok(_) => {
            company_page(
                &state,
                &signed,
                &tenant,
                company,
                Some("Moved."),
                Errors::default(),
            )
            .await
        }
        Err(e) => {
            company_page(
                &state,
                &signed,
                &tenant,
                company,
                None,
                Errors::from_app(e, ""),
            )
            .await
        }
    }
}

/// A webhook's delivery attempts, newest first.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Query(cursor): Query<Cursor>,
) -> Response {
    let scope = match enter(&state, &signed, &tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let path = format!("/console/t/{tenant}/webhooks/{id}/deliveries");
    let listed = state
        .webhooks()
        .deliveries(&scope, id, &cursor.page())
        .await;
    let (status, list) = listing(&path, listed, "No deliveries yet.", |attempts| {
        html! { table {
            caption.muted { "Newest first" }
            thead { tr { th scope="col" { "At" } th scope="col" { "Event" } th scope="col" { "Attempt" } th scope="col" { "Answer" } th scope="col" { "Outcome" } } }
            tbody { @for a in attempts { tr {
                td { (a.at.format("%Y-%m-%d %H:%M:%S")) } td { code { (a.event_id) } } td { (a.attempt) }
                td { @if let Some(code) = a.status_code { (code) } @if let Some(error) = &a.error { " " (error) } }
                td { (a.outcome.as_str()) }
            } } }
        } }
    });
    let nav = Nav::new(&signed, Some(&tenant), "webhooks");
    let body = html! {
        p { a href=(format!("/console/t/{tenant}/webhooks")) { "← Webhooks" } }
        h1 { "Deliveries" }
        (list)
    };
    (status, page("Deliveries", Some(&nav), body)).into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct CheckQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    permission: String,
    #[serde(default)]
    store_id: String,
    #[serde(default)]
    company_id: String,
}

pub(crate) async fn check(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(query): Query<CheckQuery>,
) -> Response {
    let scope = match enter(&state, &signed, &tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let asked = !query.user.trim().is_empty() || !query.permission.is_empty();
    let mut errors = Errors::default();
    let mut answer = None;
    if asked {
        match decide(&state, &scope, &query).await {
            Ok(found) => answer = Some(found),
            Err(e) => errors = e,
        }
    }
    let permissions: Vec<(String, String)> = std::iter::once((String::new(), "Pick one".into()))
        .chain(
            Permission::ALL
                .iter()
                .map(|p| (p.as_str().to_string(), p.as_str().to_string())),
        )
        .collect();
    let nav = Nav::new(&signed, Some(&tenant), "check");
    let body = html! {
        h1 { "Check" }
        p { "May this user do this here? The answer comes from the same check as " code { "POST /v1/tenants/{t}/check" } ", read through to the database." }
        form method="get" action=(format!("/console/t/{tenant}/check")) {
            div.fields {
                (field("user", "User", "user", "text", &query.user, errors.of("user")))
                (select("permission", "Permission", "permission", &permissions, &query.permission, errors.of("permission")))
                (field("store", "Store id", "store_id", "text", &query.store_id, errors.of("store_id")))
                (field("company", "Company id", "company_id", "text", &query.company_id, errors.of("company_id")))
            }
            (errors.others(&["user", "permission", "store_id", "company_id"]))
            p { button type="submit" { "Check" } }
        }
        @if let Some((user, decision)) = &answer {
            section aria-labelledby="answer-heading" {
                h2 #answer-heading { "Answer" }
                @let word = if decision.allowed { "allowed" } else { "denied" };
                p.answer.(word) role="status" #answer { (word) }
                p { "Why: " span #reason { (decision.reason) } }
                h3 { "What " (display(user)) " holds" }
                ul #grants {
                    li { "Status: " (user.status.as_str()) }
                    li { "Tenant role: " (user.roles.tenant.map(|r| r.as_str()).unwrap_or("none")) }
                    @if !user.roles.commerce.is_empty() {
                        li { "Commerce roles: " (user.roles.commerce.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                    }
                    @if let Some(org) = user.roles.org { li { "Organisation role: " (org.as_str()) } }
                    @if let Some(partner) = user.roles.partner { li { "Partner role: " (partner.as_str()) } }
                    @if !user.store_ids.is_empty() { li { "Stores: " (user.store_ids.join(", ")) } }
                    @if let Some(company) = user.company_id { li { "Company: " code { (company) } } }
                }
                p { a href=(format!("/console/t/{tenant}/users/{}", user.id)) { "Open " (display(user)) } }
            }
        }
    };
    let status = errors.status_or(StatusCode::OK);
    (status, page("Check", Some(&nav), body)).into_response()
}

/// The check's answer for the form's question, with the user asked about.
async fn decide(
    state: &AppState,
    scope: &roster_app::Scope,
    query: &CheckQuery,
) -> Result<(roster_core::User, roster_core::Decision), Errors> {
    let mut errors = Errors::default();
    let permission = Permission::parse(&query.permission);
    if permission.is_none() {
        errors.push("permission", "Pick a permission from the list.");
    }
    let company_id = match query.company_id.trim() {
        "" => None,
        text => text.parse::<Uuid>().map(Some).unwrap_or_else(|_| {
            errors.push(
                "company_id",
                "A company id looks like 0190…-…; copy it from Companies.",
            );
            None
        }),
    };
    let who = query.user.trim();
    if who.is_empty() {
        errors.push("user", "Enter a user's id or email.");
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let user = find_user(state, scope, who, "user").await?;
    let question = Question {
        user_id: user.id,
        permission: permission.expect("checked above"),
        store_id: Some(query.store_id.trim().to_string()).filter(|s| !s.is_empty()),
        company_id,
        consistency: Consistency::Full,
    };
    let decision = state
        .checks()
        .decide(scope, question)
        .await
        .map_err(|e| Errors::from_app(e, "user"))?;
    Ok((user, decision))
}
