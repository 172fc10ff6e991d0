//! Invitations: the tenant's, with their state and "Revoke", and "Send
//! invitation" (as `POST /v1/tenants/{t}/invitations`: MANAGE_USERS, and
//! only a role the caller holds), its token shown once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use roster_app::input::Page;
use roster_core::{Permission, Target, TenantRole};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, notice, page, select, Errors, Nav};
use super::users::enter;
use super::Signed;
use crate::AppState;

/// An invitation just made: its email and token, shown once.
struct Sent {
    email: String,
    token: String,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
) -> Response {
    invitations_page(&state, &signed, &tenant, None, Errors::default(), "", "").await
}

async fn invitations_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    sent: Option<Sent>,
    errors: Errors,
    email: &str,
    role: &str,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let path = format!("/console/t/{tenant}/invitations");
    let listed = state
        .invitations()
        .list(
            &scope,
            &Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .map_err(|e| Errors::from_app(e, ""));
    let now = state.now();
    let may_invite = scope.holds(Permission::ManageUsers, &Target::default());
    let roles: Vec<(String, String)> = TenantRole::ALL
        .iter()
        .filter(|r| **r != TenantRole::Blocked)
        .map(|r| (r.as_str().to_string(), r.as_str().to_string()))
        .collect();
    let nav = Nav::new(signed, Some(tenant), "users");
    let body = html! {
        p { a href=(format!("/console/t/{tenant}/users")) { "← Users" } }
        h1 { "Invitations" }
        @if let Some(sent) = &sent {
            (notice(html! {
                p { "Invited " strong { (sent.email) } ". The invitation's token, shown only now (the invitee accepts it with their account: "
                    code { "PUT /account/invite" } "):" }
                p { code.secret #invitation-token { (sent.token) } }
            }))
        }
        @if may_invite {
            section aria-labelledby="invite-heading" {
                h2 #invite-heading { "Invite" }
                (errors.others(&["email", "tenant_role"]))
                form method="post" action=(path) novalidate {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    div.fields {
                        (field("invitee-email", "Invitee email", "email", "email", email, errors.of("email")))
                        (select("invitee-role", "Invited tenant role", "tenant_role", &roles, if role.is_empty() { "ACCESS" } else { role }, errors.of("tenant_role")))
                    }
                    p { button type="submit" { "Send invitation" } }
                }
            }
        }
        h2 { "Sent" }
        @match &listed {
            Ok(listed) if listed.items.is_empty() => { p { "No invitations yet." } }
            Ok(listed) => {
                div.table { table {
                    thead { tr { th scope="col" { "Email" } th scope="col" { "Tenant role" } th scope="col" { "State" } th scope="col" { "Expires" } @if may_invite { th scope="col" { "Action" } } } }
                    tbody { @for i in &listed.items {
                        @let state_now = i.state_at(now);
                        tr {
                            td { (i.email) } td { (i.tenant_role.as_str()) } td { (state_now.as_str()) }
                            td { (i.expires_at.format("%Y-%m-%d %H:%M")) }
                            @if may_invite { td {
                                @if i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now {
                                    form.inline method="post" action=(format!("{path}/{}/revoke", i.id)) {
                                        input type="hidden" name="csrf" value=(signed.csrf);
                                        button.danger type="submit" aria-label=(format!("Revoke the invitation of {}", i.email)) { "Revoke" }
                                    }
                                }
                            } }
                        }
                    } }
                } }
            }
            Err(refused) => { (refused.others(&[])) }
        }
    };
    let status = errors.status_or(StatusCode::OK);
    (status, page("Invitations", Some(&nav), body)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    tenant_role: String,
}

pub(crate) async fn invite(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Form(form): Form<InviteForm>,
) -> Response {
    let Some(role) = TenantRole::parse(&form.tenant_role) else {
        let errors = Errors::field("tenant_role", "Pick a tenant role from the list.");
        return invitations_page(&state, &signed, &tenant, None, errors, &form.email, "").await;
    };
    let made = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state
            .invitations()
            .create(&scope, form.email.trim().to_string(), Some(role), None)
            .await
    }
    .await;
    match made {
        Ok(issued) => {
            let sent = Sent {
                email: issued.record.email,
                token: issued.token,
            };
            invitations_page(
                &state,
                &signed,
                &tenant,
                Some(sent),
                Errors::default(),
                "",
                "",
            )
            .await
        }
        Err(e) => {
            let errors = Errors::from_app(e, "email");
            invitations_page(
                &state,
                &signed,
                &tenant,
                None,
                errors,
                &form.email,
                role.as_str(),
            )
            .await
        }
    }
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    let done = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state.invitations().revoke(&scope, id).await
    }
    .await;
    match done {
        Ok(()) => Redirect::to(&format!("/console/t/{tenant}/invitations")).into_response(),
        Err(e) => {
            let errors = Errors::from_app(e, "");
            invitations_page(&state, &signed, &tenant, None, errors, "", "").await
        }
    }
}
