//! API keys: the tenant's, without their tokens, with "Create API key" and
//! "Revoke", as the `/v1` API-key calls (MANAGE_API_KEYS). A key carries
//! the ticked permissions, each of which the caller must hold, or acts as
//! a user, all of whose grants the caller must hold (SPEC §7); its token
//! is shown once.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use roster_core::{ApiKeyGrant, Permission, Target};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, notice, page, Errors, Nav};
use super::pages::{listing, Cursor};
use super::users::{enter, find_user};
use super::Signed;
use crate::AppState;

/// A key just made: its name and token, shown once.
struct Issued {
    name: String,
    token: String,
}

/// What the form sent, to show again beside its errors.
#[derive(Default)]
struct KeyForm {
    name: String,
    permissions: Vec<String>,
    user: String,
}

impl KeyForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> KeyForm {
        let mut form = KeyForm::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value.trim().to_string(),
                "permission" => form.permissions.push(value),
                "user" => form.user = value.trim().to_string(),
                _ => {}
            }
        }
        form
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    done: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(cursor): Query<Cursor>,
    Query(done): Query<Done>,
) -> Response {
    let revoked = (done.done.as_deref() == Some("revoked")).then(|| "API key revoked.".to_string());
    let shown = Shown {
        revoked,
        ..Shown::default()
    };
    keys_page(&state, &signed, &tenant, &cursor, shown).await
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    issued: Option<Issued>,
    revoked: Option<String>,
    form: KeyForm,
    errors: Errors,
}

async fn keys_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    cursor: &Cursor,
    shown: Shown,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let path = format!("/console/t/{tenant}/api-keys");
    let listed = state
        .credentials()
        .list_api_keys(&scope, &cursor.page())
        .await;
    let csrf = &signed.csrf;
    let users = format!("/console/t/{tenant}/users");
    let (status, list) = listing(&path, listed, "No API keys yet.", |keys| {
        html! { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Grants" } th scope="col" { "Created" } th scope="col" { "Action" } } }
            tbody { @for k in keys { tr {
                td { (k.name) }
                td { @match &k.grant {
                    ApiKeyGrant::Permissions(p) => { (p.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) }
                    ApiKeyGrant::User(u) => { "acts as user " a href=(format!("{users}/{u}")) { code { (u) } } }
                } }
                td { (k.created_at.format("%Y-%m-%d %H:%M")) }
                td {
                    form.inline method="post" action=(format!("{path}/{}/revoke", k.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.danger type="submit" aria-label=(format!("Revoke {}", k.name)) { "Revoke" }
                    }
                }
            } } }
        } }
    });
    let anywhere = Target::default();
    let may_create = scope.holds(Permission::ManageApiKeys, &anywhere);
    let Shown {
        issued,
        revoked,
        form,
        errors,
    } = shown;
    let nav = Nav::new(signed, Some(tenant), "api-keys");
    let body = html! {
        h1 { "API keys" }
        @if let Some(issued) = &issued {
            (notice(html! {
                p { "Made the key " strong { (issued.name) } ". Its token, shown only now:" }
                p { code.secret #new-token { (issued.token) } }
            }))
        }
        @if let Some(revoked) = &revoked { (notice(html! { (revoked) })) }
        (list)
        @if may_create {
            section aria-labelledby="new-key-heading" {
                h2 #new-key-heading { "New API key" }
                (errors.others(&["name", "permissions", "user"]))
                form method="post" action=(path) novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    div.fields { (field("key-name", "Name", "name", "text", &form.name, errors.of("name"))) }
                    fieldset aria-describedby=[errors.of("permissions").map(|_| "permissions-error")] {
                        legend { "Permissions (only those you hold can be granted)" }
                        @for p in Permission::ALL {
                            @let id = format!("permission-{}", p.as_str());
                            div {
                                input type="checkbox" id=(id) name="permission" value=(p.as_str())
                                    checked[form.permissions.iter().any(|f| f == p.as_str())]
                                    disabled[!scope.holds(*p, &anywhere)];
                                " "
                                label for=(id) { (p.as_str()) }
                            }
                        }
                        @if let Some(error) = errors.of("permissions") { p.error #permissions-error { (error) } }
                    }
                    div.fields { (field("key-user", "Or act as user (id or email)", "user", "text", &form.user, errors.of("user"))) }
                    p.muted { "A key that acts as a user holds what the user holds, now and after any change; you must hold all of it." }
                    p { button type="submit" { "Create API key" } }
                }
            }
        }
    };
    let status = errors.status_or(status);
    (status, page("API keys", Some(&nav), body)).into_response()
}

/// Makes an API key with the ticked permissions, or acting as the named
/// user (as `POST /v1/tenants/{t}/api-keys` would), and shows its token
/// once.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = KeyForm::from_pairs(pairs);
    let cursor = Cursor::default();
    let made = async {
        let scope = state
            .enter(&signed.caller, &tenant)
            .await
            .map_err(|e| Errors::from_app(e, ""))?;
        let grant = grant_of(&state, &scope, &form).await?;
        state
            .credentials()
            .create_api_key(&scope, form.name.clone(), grant)
            .await
            .map_err(|e| Errors::from_app(e, "permissions"))
    }
    .await;
    let shown = match made {
        Ok(issued) => Shown {
            issued: Some(Issued {
                name: issued.record.name,
                token: issued.token,
            }),
            ..Shown::default()
        },
        Err(errors) => Shown {
            form,
            errors,
            ..Shown::default()
        },
    };
    keys_page(&state, &signed, &tenant, &cursor, shown).await
}

/// The key's grant: the ticked permissions or the named user, one of them.
async fn grant_of(
    state: &AppState,
    scope: &roster_app::Scope,
    form: &KeyForm,
) -> Result<ApiKeyGrant, Errors> {
    let mut errors = Errors::default();
    if form.name.is_empty() {
        errors.push("name", "Name the key.");
    }
    let mut permissions = Vec::new();
    for value in &form.permissions {
        match Permission::parse(value) {
            Some(p) => permissions.push(p),
            None => errors.push("permissions", &format!("{value} is not a permission.")),
        }
    }
    match (permissions.is_empty(), form.user.is_empty()) {
        (true, true) => errors.push(
            "permissions",
            "Tick at least one permission, or name a user for the key to act as.",
        ),
        (false, false) => errors.push(
            "user",
            "A key acts as a user or carries permissions, not both: clear the permissions or this field.",
        ),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if form.user.is_empty() {
        permissions.sort();
        permissions.dedup();
        return Ok(ApiKeyGrant::Permissions(permissions));
    }
    let user = find_user(state, scope, &form.user, "user").await?;
    Ok(ApiKeyGrant::User(user.id))
}

/// Revokes an API key at once (as `DELETE /v1/tenants/{t}/api-keys/{id}`).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    let done = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state.credentials().delete_api_key(&scope, id).await
    }
    .await;
    match done {
        Ok(()) => {
            Redirect::to(&format!("/console/t/{tenant}/api-keys?done=revoked")).into_response()
        }
        Err(e) => {
            let shown = Shown {
                errors: Errors::from_app(e, ""),
                ..Shown::default()
            };
            keys_page(&state, &signed, &tenant, &Cursor::default(), shown).await
        }
    }
}
