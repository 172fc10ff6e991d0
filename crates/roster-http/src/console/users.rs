//! The users pages: search and filters, the new-user form, and a user with
//! profile, status, tenant role, contacts and sessions.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use roster_app::input::UserFilter;
use roster_app::input::{GroupFilter, NewContact, Page};
use roster_app::users::Right;
use roster_app::{Caller, Scope};
use roster_core::{ContactType, Permission, Source, Target, TenantRole, User, UserStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, page, select, Errors, Nav};
use super::{error_page, Signed};
use crate::error::ApiError;
use crate::v1::users::{UserCreate, UserUpdate};
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

fn users_path(tenant: &str) -> String {
    format!("/console/t/{tenant}/users")
}

fn user_path(tenant: &str, id: Uuid) -> String {
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
fn given(text: &str) -> Option<String> {
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

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    created: Option<String>,
    done: Option<String>,
}

/// Which form of the user page a submission came from, with its errors.
struct Sent<'a> {
    form: &'a str,
    errors: Errors,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let notice: Option<&str> = match (query.created, query.done.as_deref()) {
        (Some(_), _) => Some("User created."),
        (_, Some("profile")) => Some("Profile saved."),
        (_, Some("status")) => Some("Status changed."),
        (_, Some("role")) => Some("Tenant role changed."),
        (_, Some("primary")) => Some("Primary contact changed."),
        (_, Some("contact")) => Some("Contact added."),
        (_, Some("access")) => Some("Commerce roles and stores saved."),
        (_, Some("revoked")) => Some("Session revoked."),
        (_, Some("groups")) => Some("Groups changed."),
        _ => None,
    };
    let notice = notice.map(|text| html! { (text) });
    user_page(&state, &signed, &tenant, id, notice, None).await
}

async fn user_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    notice: Option<Markup>,
    sent: Option<Sent<'_>>,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let user = match state.users().get(&scope, Right::Users, id, None).await {
        Ok(user) => user,
        Err(e) => return error_page(Some((signed, tenant)), ApiError::from(e)),
    };
    let contacts = state
        .users()
        .contacts_of(&scope, Right::Users, &[id])
        .await
        .unwrap_or_default();
    let sessions = state
        .credentials()
        .sessions_of(&scope, id)
        .await
        .unwrap_or_default();
    let groups = state
        .groups()
        .list(
            &scope,
            GroupFilter {
                member: Some(id),
                ..GroupFilter::default()
            },
            &Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let may_manage = scope.holds(Permission::ManageUsers, &Target::default());
    let stores = if may_manage {
        state
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
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The groups the user could join (MANAGE_USERS): the first 100 of the
    // tenant (of the caller's company, for a company-bound caller) that
    // the user is not in; joining is refused beside the field when a rule
    // says no.
    let joinable: Vec<(String, String)> = if may_manage {
        state
            .groups()
            .list(
                &scope,
                GroupFilter::default(),
                &Page {
                    after: None,
                    limit: 100,
                },
            )
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|g| !groups.iter().any(|own| own.id == g.id))
            .map(|g| (g.id.to_string(), g.name))
            .collect()
    } else {
        Vec::new()
    };
    let may_audit = scope.holds(Permission::ViewAudit, &Target::default());
    let trail = if may_audit {
        state
            .records()
            .events_of_user(&scope, id)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let none = Errors::default();
    let (form, errors) = match &sent {
        Some(sent) => (sent.form, &sent.errors),
        None => ("", &none),
    };
    let of = |name: &str, field_name: &str| errors.of_form(form == name, field_name);
    let path = user_path(tenant, id);
    let p = &user.profile;
    let own_session = match &signed.caller {
        Caller::User { session, .. } => Some(*session),
        _ => None,
    };
    let role_options: Vec<(String, String)> = std::iter::once((String::new(), "None".to_string()))
        .chain(
            TenantRole::ALL
                .iter()
                .map(|r| (r.as_str().to_string(), r.as_str().to_string())),
        )
        .collect();
    let nav = Nav::new(signed, Some(tenant), "users");
    let title = display(&user);
    let body = html! {
        p { a href=(users_path(tenant)) { "← Users" } }
        h1 { (title) }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        // A refused change whose form this caller is not shown.
        @if !may_manage { (errors.others(&[])) }
        dl {
            dt { "Number" } dd { (user.number) }
            dt { "Id" } dd { code { (user.id) } }
            dt { "Status" } dd #status { (user.status.as_str()) }
            dt { "Tenant role" } dd #tenant-role-now { (user.roles.tenant.map(|r| r.as_str()).unwrap_or("none")) }
            @if !user.roles.commerce.is_empty() {
                dt { "Commerce roles" } dd { (user.roles.commerce.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
            }
            @if !user.store_ids.is_empty() {
                dt { "Stores" } dd { (user.store_ids.join(", ")) }
            }
            @if let Some(company) = user.company_id { dt { "Company" } dd { code { (company) } } }
            @if let Some(external) = &user.external_id { dt { "External id" } dd { code { (external) } } }
            dt { "Groups" } dd {
                @if groups.is_empty() { "none" }
                @else { (groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")) }
            }
        }
        @if may_manage {
            section aria-labelledby="status-heading" {
                h2 #status-heading { "Status" }
                @if form == "status" { (errors.others(&[])) }
                form.inline method="post" action=(format!("{path}/status")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    @if user.status == UserStatus::Active {
                        input type="hidden" name="status" value="INACTIVE";
                        button.danger type="submit" { "Deactivate" }
                    } @else {
                        input type="hidden" name="status" value="ACTIVE";
                        button type="submit" { "Activate" }
                    }
                }
            }
            section aria-labelledby="role-heading" {
                h2 #role-heading { "Tenant role" }
                form method="post" action=(format!("{path}/tenant-role")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    div.fields {
                        (select("tenant-role", "Tenant role", "tenant_role", &role_options, user.roles.tenant.map(|r| r.as_str()).unwrap_or(""), of("role", "tenant_role")))
                    }
                    (errors.others(&["tenant_role"]).clone_if(form == "role"))
                    p { button type="submit" { "Change role" } }
                }
            }
            section aria-labelledby="access-heading" {
                h2 #access-heading { "Commerce roles and stores" }
                form method="post" action=(format!("{path}/access")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    fieldset {
                        legend { "Commerce roles (in the user's company)" }
                        @for role in roster_core::CommerceRole::ALL {
                            @let id = format!("role-{}", role.as_str());
                            div {
                                input type="checkbox" id=(id) name="role" value=(role.as_str()) checked[user.roles.commerce.contains(role)];
                                " " label for=(id) { (role.as_str()) }
                            }
                        }
                    }
                    fieldset {
                        legend { "Stores" }
                        @if stores.is_empty() { p.muted { "The tenant has no stores." } }
                        @for store in &stores {
                            @let id = format!("store-{}", store.id);
                            div {
                                input type="checkbox" id=(id) name="store" value=(store.id) checked[user.store_ids.contains(&store.id)];
                                " " label for=(id) { (store.name) " (" (store.code) ")" }
                            }
                        }
                    }
                    (errors.others(&[]).clone_if(form == "access"))
                    p { button type="submit" { "Save roles and stores" } }
                }
            }
            section aria-labelledby="profile-heading" {
                h2 #profile-heading { "Profile" }
                form method="post" action=(format!("{path}/profile")) novalidate {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    div.fields {
                        (field("first-name", "First name", "first_name", "text", p.first_name.as_deref().unwrap_or(""), of("profile", "first_name")))
                        (field("last-name", "Last name", "last_name", "text", p.last_name.as_deref().unwrap_or(""), of("profile", "last_name")))
                        (field("email", "Email", "email", "email", p.email.as_deref().unwrap_or(""), of("profile", "email")))
                        (field("job-title", "Job title", "job_title", "text", p.job_title.as_deref().unwrap_or(""), of("profile", "job_title")))
                    }
                    (errors.others(&["first_name", "last_name", "email", "job_title"]).clone_if(form == "profile"))
                    p { button type="submit" { "Save profile" } }
                }
            }
        }
        section aria-labelledby="groups-heading" {
            h2 #groups-heading { "Groups" }
            @if form == "groups" { (errors.others(&["group_id"])) }
            @if groups.is_empty() { p { "In no group." } }
            @else {
                ul #user-groups {
                    @for g in &groups {
                        li {
                            (g.name)
                            @if may_manage {
                                " "
                                form.inline method="post" action=(format!("{path}/groups/{}/remove", g.id)) {
                                    input type="hidden" name="csrf" value=(signed.csrf);
                                    button.secondary type="submit" aria-label=(format!("Remove from {}", g.name)) { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
            @if may_manage && !joinable.is_empty() {
                form method="post" action=(format!("{path}/groups")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    div.fields {
                        (select("group", "Group", "group_id", &joinable, "", of("groups", "group_id")))
                    }
                    p { button.secondary type="submit" { "Add to group" } }
                }
            }
        }
        section aria-labelledby="contacts-heading" {
            h2 #contacts-heading { "Contacts" }
            @if form == "primary" { (errors.others(&[])) }
            @if contacts.is_empty() { p { "No contacts." } }
            @else {
                div.table { table {
                    thead { tr { th scope="col" { "Type" } th scope="col" { "Value" } th scope="col" { "Primary" } th scope="col" { "Active" } @if may_manage { th scope="col" { "Action" } } } }
                    tbody {
                        @for contact in &contacts {
                            tr {
                                td { (contact.contact_type.as_str()) }
                                td { (contact.value) }
                                td { @if contact.is_primary { "primary" } }
                                td { @if contact.is_active { "yes" } @else { "no" } }
                                @if may_manage {
                                    td {
                                        @if !contact.is_primary && contact.is_active {
                                            form.inline method="post" action=(format!("{path}/contacts/{}/primary", contact.id)) {
                                                input type="hidden" name="csrf" value=(signed.csrf);
                                                button.secondary type="submit" aria-label=(format!("Make {} primary", contact.value)) { "Make primary" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @if may_manage {
                form method="post" action=(format!("{path}/contacts")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    div.fields {
                        (select("contact-type", "Contact type", "contact_type", &ContactType::ALL.iter().map(|t| (t.as_str().to_string(), t.as_str().to_string())).collect::<Vec<_>>(), "EMAIL", of("contact", "contact_type")))
                        (field("contact-value", "Contact value", "value", "text", "", of("contact", "value")))
                    }
                    (errors.others(&["contact_type", "value"]).clone_if(form == "contact"))
                    p { button.secondary type="submit" { "Add contact" } }
                }
            }
        }
        section aria-labelledby="sessions-heading" {
            h2 #sessions-heading { "Sessions" }
            @if form == "revoke" { (errors.others(&[])) }
            @if sessions.is_empty() { p { "No live sessions." } }
            @else {
                div.table { table {
                    thead { tr { th scope="col" { "Started" } th scope="col" { "Expires" } th scope="col" { "Device" } @if may_manage { th scope="col" { "Action" } } } }
                    tbody {
                        @for session in &sessions {
                            tr {
                                td { (session.created_at.format("%Y-%m-%d %H:%M UTC")) }
                                td { (session.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                                td { (session.device_id.map(|d| d.to_string()).unwrap_or_default()) }
                                @if may_manage {
                                    td {
                                        @if own_session == Some(session.id) {
                                            span.muted { "this console session" }
                                        } @else {
                                            form.inline method="post" action=(format!("{path}/sessions/{}/revoke", session.id)) {
                                                input type="hidden" name="csrf" value=(signed.csrf);
                                                button.danger type="submit" aria-label=(format!("Revoke the session started {}", session.created_at.format("%Y-%m-%d %H:%M:%S"))) { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        @if may_manage {
            section aria-labelledby="password-heading" {
                h2 #password-heading { "Password" }
                @if form == "password" { (errors.others(&[])) }
                p { "A temporary password replaces the user's password; it is shown once, here, for you to hand over." }
                form.inline method="post" action=(format!("{path}/password")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    button.secondary type="submit" { "Set a temporary password" }
                }
            }
        }
        @if may_audit {
            section aria-labelledby="trail-heading" {
                h2 #trail-heading { "Audit trail" }
                @if trail.is_empty() { p { "Nothing recorded." } }
                @else {
                    div.table { table {
                        caption.muted { "The latest 100 changes to this user, newest first" }
                        thead { tr { th scope="col" { "At" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Summary" } } }
                        tbody { @for e in &trail { tr {
                            td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td { code { (e.actor) } } td { (e.action) } td { (e.summary) }
                        } } }
                    } }
                }
            }
        }
        p { a href=(format!("/console/t/{tenant}/check?user={}", user.id)) { "Check this user's permissions" } }
    };
    let status = errors.status_or(axum::http::StatusCode::OK);
    (status, page(&title, Some(&nav), body)).into_response()
}

/// Shows markup only when a condition holds (for per-form messages).
trait CloneIf {
    fn clone_if(self, condition: bool) -> Markup;
}

impl CloneIf for Markup {
    fn clone_if(self, condition: bool) -> Markup {
        if condition {
            self
        } else {
            html! {}
        }
    }
}

/// After a user-page form: back to the page with a notice, or the page
/// again with the form's errors.
pub(crate) async fn after(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    form: &str,
    outcome: Result<(), ApiError>,
    field_for_other: &str,
) -> Response {
    match outcome {
        Ok(()) => {
            let done = match form {
                "profile" => "profile",
                "status" => "status",
                "role" => "role",
                "primary" => "primary",
                "contact" => "contact",
                "access" => "access",
                "groups" => "groups",
                _ => "revoked",
            };
            Redirect::to(&format!("{}?done={done}", user_path(tenant, id))).into_response()
        }
        Err(e) => {
            let sent = Sent {
                form,
                errors: Errors::from_api(e, field_for_other),
            };
            user_page(state, signed, tenant, id, None, Some(sent)).await
        }
    }
}

/// Applies a patch (as `PATCH /v1/.../users/{id}` would).
async fn patch(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    body: UserUpdate,
) -> Result<(), ApiError> {
    let scope = state.enter(&signed.caller, tenant).await?;
    let (patch, password) = body.into_patch()?;
    state
        .users()
        .update(&scope, Right::Users, id, None, patch, password)
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    job_title: String,
}

pub(crate) async fn profile(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<ProfileForm>,
) -> Response {
    let body = UserUpdate {
        first_name: Some(given(&form.first_name)),
        last_name: Some(given(&form.last_name)),
        email: Some(given(&form.email)),
        job_title: Some(given(&form.job_title)),
        ..UserUpdate::default()
    };
    let outcome = patch(&state, &signed, &tenant, id, body).await;
    after(&state, &signed, &tenant, id, "profile", outcome, "email").await
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    status: String,
}

pub(crate) async fn status(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<StatusForm>,
) -> Response {
    let outcome = match UserStatus::parse(&form.status) {
        Some(status) => {
            let body = UserUpdate {
                status: Some(status),
                ..UserUpdate::default()
            };
            patch(&state, &signed, &tenant, id, body).await
        }
        None => Err(ApiError::field("status", "unknown status")),
    };
    after(&state, &signed, &tenant, id, "status", outcome, "").await
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    tenant_role: String,
}

pub(crate) async fn tenant_role(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<RoleForm>,
) -> Response {
    let role = match form.tenant_role.as_str() {
        "" => Ok(None),
        text => TenantRole::parse(text)
            .map(Some)
            .ok_or_else(|| unknown("tenant_role", TenantRole::expected())),
    };
    let outcome = match role {
        Ok(role) => {
            let body = UserUpdate {
                tenant_role: Some(role),
                ..UserUpdate::default()
            };
            patch(&state, &signed, &tenant, id, body).await
        }
        Err(e) => Err(e),
    };
    after(&state, &signed, &tenant, id, "role", outcome, "tenant_role").await
}

pub(crate) async fn set_primary(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id, contact)): Path<(String, Uuid, Uuid)>,
) -> Response {
    let outcome = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state
            .users()
            .set_primary_contact_of(&scope, id, contact)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    after(&state, &signed, &tenant, id, "primary", outcome, "").await
}

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    contact_type: String,
    #[serde(default)]
    value: String,
}

pub(crate) async fn add_contact(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<ContactForm>,
) -> Response {
    let outcome = async {
        let contact_type = ContactType::parse(&form.contact_type)
            .ok_or_else(|| unknown("contact_type", ContactType::expected()))?;
        let scope = state.enter(&signed.caller, &tenant).await?;
        let new = NewContact {
            contact_type,
            value: form.value.trim().to_string(),
            source: Source::Reten,
            is_primary: false,
        };
        state.users().add_contact_of(&scope, id, new).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    after(&state, &signed, &tenant, id, "contact", outcome, "value").await
}

pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id, session)): Path<(String, Uuid, Uuid)>,
) -> Response {
    let outcome = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state
            .credentials()
            .revoke_session_of(&scope, id, session)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    after(&state, &signed, &tenant, id, "revoke", outcome, "").await
}

/// Sets a random temporary password (as `PATCH` with a `password` would)
/// and shows it once, on the page this POST answers (never in a URL or a
/// log).
pub(crate) async fn password(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    use rand::RngCore;
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    use base64::Engine as _;
    let temporary = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let body = UserUpdate {
        password: Some(temporary.clone()),
        ..UserUpdate::default()
    };
    match patch(&state, &signed, &tenant, id, body).await {
        Ok(()) => {
            let notice = html! {
                "Temporary password: " code.secret #temporary-password { (temporary) }
                " — shown only now; give it to the user."
            };
            user_page(&state, &signed, &tenant, id, Some(notice), None).await
        }
        Err(e) => {
            let sent = Sent {
                form: "password",
                errors: Errors::from_api(e, ""),
            };
            user_page(&state, &signed, &tenant, id, None, Some(sent)).await
        }
    }
}

/// Replaces the user's commerce roles and stores with the ticked ones (as
/// a `PATCH` with `roles` and `store_ids` would: the same rules, such as
/// commerce roles only for a company's user, and granting only what the
/// caller holds).
pub(crate) async fn access(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let mut roles = Vec::new();
        for (_, value) in pairs.iter().filter(|(k, _)| k == "role") {
            let role = roster_core::CommerceRole::parse(value)
                .ok_or_else(|| unknown("roles", roster_core::CommerceRole::expected()))?;
            roles.push(role);
        }
        let store_ids = pairs
            .iter()
            .filter(|(k, _)| k == "store")
            .map(|(_, v)| v.clone())
            .collect();
        let body = UserUpdate {
            roles: Some(roles),
            store_ids: Some(store_ids),
            ..UserUpdate::default()
        };
        patch(&state, &signed, &tenant, id, body).await
    }
    .await;
    after(&state, &signed, &tenant, id, "access", outcome, "").await
}

/// A value outside its vocabulary, beside its field.
fn unknown(field: &str, expected: String) -> ApiError {
    ApiError::field(field, format!("expected one of {expected}"))
}
