//! A user's page: profile, status, tenant role, commerce roles and
//! stores, groups, contacts, sessions, password and audit trail, each with
//! its form (the forms' handlers are `user_forms.rs` and `user_groups.rs`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use roster_app::input::{GroupFilter, Page};
use roster_app::users::Right;
use roster_app::Caller;
use roster_core::{ContactType, Permission, Target, TenantRole, UserStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, page, select, Errors, Nav};
use super::users::{display, enter, user_path, users_path};
use super::{error_page, Signed};
use crate::error::ApiError;
use crate::AppState;

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    created: Option<String>,
    done: Option<String>,
}

/// Which form of the user page a submission came from, with its errors.
pub(super) struct Sent<'a> {
    pub(super) form: &'a str,
    pub(super) errors: Errors,
    /// What was typed in the form's fields, by name, to show again.
    pub(super) typed: &'a [(&'a str, &'a str)],
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

pub(super) async fn user_page(
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
    // What a refused form had in a field, else `stored`.
    let typed: &[(&str, &str)] = sent.as_ref().map(|s| s.typed).unwrap_or(&[]);
    let shown = |field_name: &str, stored: Option<&str>| -> String {
        typed
            .iter()
            .find(|(n, _)| *n == field_name)
            .map(|(_, v)| v.to_string())
            .or(stored.map(str::to_string))
            .unwrap_or_default()
    };
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
        @if let Some(notice) = notice { (super::layout::notice(notice)) }
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
                        (field("first-name", "First name", "first_name", "text", &shown("first_name", p.first_name.as_deref()), of("profile", "first_name")))
                        (field("last-name", "Last name", "last_name", "text", &shown("last_name", p.last_name.as_deref()), of("profile", "last_name")))
                        (field("email", "Email", "email", "email", &shown("email", p.email.as_deref()), of("profile", "email")))
                        (field("job-title", "Job title", "job_title", "text", &shown("job_title", p.job_title.as_deref()), of("profile", "job_title")))
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
                        (select("contact-type", "Contact type", "contact_type", &ContactType::ALL.iter().map(|t| (t.as_str().to_string(), t.as_str().to_string())).collect::<Vec<_>>(), &shown("contact_type", Some("EMAIL")), of("contact", "contact_type")))
                        (field("contact-value", "Contact value", "value", "text", &shown("value", None), of("contact", "value")))
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
/// again with the form's errors (beside its fields, or beside
/// `field_for_other` for a refusal without a field of its own) and what
/// was typed in it.
pub(crate) async fn after(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    (form, field_for_other): (&str, &str),
    outcome: Result<(), ApiError>,
    typed: &[(&str, &str)],
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
                typed,
            };
            user_page(state, signed, tenant, id, None, Some(sent)).await
        }
    }
}
