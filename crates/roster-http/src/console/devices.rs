//! Devices: the tenant's, revoked ones included, with "Register device"
//! (its token shown once, for the device's `POST /account`) and "Revoke",
//! which ends every session signed in on it, as the `/v1` device calls
//! (MANAGE_DEVICES).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use roster_app::input::Page;
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, notice, page, select, Errors, Nav};
use super::pages::{listing, Cursor};
use super::users::enter;
use super::Signed;
use crate::AppState;

/// The most stores the form offers to bind a device to.
const STORE_CHOICES: i64 = 500;

/// What the form sent, to show again beside its errors.
#[derive(Deserialize, Default)]
pub(crate) struct DeviceForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    store_id: String,
}

/// A device just registered: its name and token, shown once.
struct Registered {
    name: String,
    token: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    done: Option<String>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    registered: Option<Registered>,
    revoked: bool,
    form: DeviceForm,
    errors: Errors,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(cursor): Query<Cursor>,
    Query(done): Query<Done>,
) -> Response {
    let shown = Shown {
        revoked: done.done.as_deref() == Some("revoked"),
        ..Shown::default()
    };
    devices_page(&state, &signed, &tenant, &cursor, shown).await
}

async fn devices_page(
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
    let path = format!("/console/t/{tenant}/devices");
    let listed = state
        .credentials()
        .list_devices(&scope, &cursor.page())
        .await;
    // Without MANAGE_DEVICES the list is refused, and so is the form.
    let may_manage = listed.is_ok();
    let csrf = &signed.csrf;
    let (status, list) = listing(&path, listed, "No devices yet.", |devices| {
        html! { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Store" } th scope="col" { "Registered" } th scope="col" { "State" } } }
            tbody { @for d in devices { tr {
                td { (d.name) }
                td { (d.store_id.as_deref().unwrap_or("any")) }
                td { (d.created_at.format("%Y-%m-%d %H:%M")) }
                td {
                    @if let Some(at) = d.revoked_at { "revoked " (at.format("%Y-%m-%d %H:%M")) }
                    @else {
                        form.inline method="post" action=(format!("{path}/{}/revoke", d.id)) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.danger type="submit" aria-label=(format!("Revoke {}", d.name)) { "Revoke" }
                        }
                    }
                }
            } } }
        } }
    });
    let stores: Vec<(String, String)> = if may_manage {
        let first = Page {
            after: None,
            limit: STORE_CHOICES,
        };
        let listed = state.tenancy().list_stores(&scope, &first).await;
        std::iter::once((String::new(), "Any store".to_string()))
            .chain(
                listed
                    .map(|l| l.items)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| {
                        let text = format!("{} ({})", s.name, s.code);
                        (s.id, text)
                    }),
            )
            .collect()
    } else {
        Vec::new()
    };
    let Shown {
        registered,
        revoked,
        form,
        errors,
    } = shown;
    let nav = Nav::new(signed, Some(tenant), "devices");
    let body = html! {
        h1 { "Devices" }
        @if let Some(registered) = &registered {
            (notice(html! {
                p { "Registered the device " strong { (registered.name) } ". Its token, shown only now (the device signs in with it at "
                    code { "POST /account" } "):" }
                p { code.secret #device-token { (registered.token) } }
            }))
        }
        @if revoked { (notice(html! { "Device revoked; every session signed in on it has ended." })) }
        (errors.others(&["name", "store_id"]))
        (list)
        @if may_manage {
            section aria-labelledby="new-device-heading" {
                h2 #new-device-heading { "Register device" }
                form method="post" action=(path) novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    div.fields {
                        (field("device-name", "Device name", "name", "text", &form.name, errors.of("name")))
                        (select("device-store", "Bound to store", "store_id", &stores, &form.store_id, errors.of("store_id")))
                    }
                    p { button type="submit" { "Register device" } }
                }
            }
        }
    };
    let status = errors.status_or(status);
    (status, page("Devices", Some(&nav), body)).into_response()
}

/// Registers a device (as `POST /v1/tenants/{t}/devices` would) and shows
/// its token once.
pub(crate) async fn register(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Form(form): Form<DeviceForm>,
) -> Response {
    let store_id = Some(form.store_id.trim().to_string()).filter(|s| !s.is_empty());
    let made = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state
            .credentials()
            .create_device(&scope, form.name.trim().to_string(), store_id)
            .await
    }
    .await;
    let shown = match made {
        Ok(issued) => Shown {
            registered: Some(Registered {
                name: issued.record.name,
                token: issued.token,
            }),
            ..Shown::default()
        },
        // A store that is not this tenant's is the one refusal without a
        // field of its own: it goes beside the store.
        Err(e) => Shown {
            errors: Errors::from_app(e, "store_id"),
            form,
            ..Shown::default()
        },
    };
    devices_page(&state, &signed, &tenant, &Cursor::default(), shown).await
}

/// Revokes a device and every session signed in on it (MANAGE_DEVICES).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    let done = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state.credentials().revoke_device(&scope, id).await
    }
    .await;
    match done {
        Ok(()) => {
            Redirect::to(&format!("/console/t/{tenant}/devices?done=revoked")).into_response()
        }
        Err(e) => {
            let shown = Shown {
                errors: Errors::from_app(e, ""),
                ..Shown::default()
            };
            devices_page(&state, &signed, &tenant, &Cursor::default(), shown).await
        }
    }
}
