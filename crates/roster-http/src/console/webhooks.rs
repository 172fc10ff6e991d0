//! Webhooks: the tenant's, with "Create webhook" (its signing secret shown
//! once), "Disable" / "Enable", "Delete", and a page per webhook to change
//! its URL, event types and description, as the `/v1` webhook calls
//! (MANAGE_WEBHOOKS; URLs checked against private addresses the same way).
//! Each webhook's deliveries are in `pages.rs`.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use roster_app::webhooks::{WebhookChange, WebhookDraft};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{field, notice, page, Errors, Nav};
use super::pages::{listing, Cursor};
use super::users::enter;
use super::{error_page, Signed};
use crate::AppState;

/// What a form sent, to show again beside its errors.
#[derive(Deserialize, Default)]
pub(crate) struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    description: String,
}

impl WebhookForm {
    /// The filters, separated by commas or white space.
    fn event_types(&self) -> Vec<String> {
        self.event_types
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// A webhook just made: its URL and secret, shown once.
struct Made {
    url: String,
    secret: String,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(cursor): Query<Cursor>,
) -> Response {
    let form = WebhookForm::default();
    webhooks_page(
        &state,
        &signed,
        &tenant,
        &cursor,
        None,
        &form,
        Errors::default(),
    )
    .await
}

async fn webhooks_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    cursor: &Cursor,
    made: Option<Made>,
    form: &WebhookForm,
    errors: Errors,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let path = format!("/console/t/{tenant}/webhooks");
    let listed = state.webhooks().list(&scope, &cursor.page()).await;
    // Without MANAGE_WEBHOOKS the list is refused, and so is the form.
    let may_manage = listed.is_ok();
    let csrf = &signed.csrf;
    let (status, list) = listing(&path, listed, "No webhooks yet.", |hooks| {
        html! { table {
            thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Enabled" } th scope="col" { "Deliveries" } th scope="col" { "Action" } } }
            tbody { @for w in hooks { tr {
                td { a href=(format!("{path}/{}", w.id)) aria-label=(format!("Edit {}", w.url)) { code { (w.url) } } }
                td { @if w.event_types.is_empty() { "all" } @else { (w.event_types.join(", ")) } }
                td { @if w.enabled { "yes" } @else { "no" @if let Some(reason) = &w.disabled_reason { " — " (reason) } } }
                td { a href=(format!("{path}/{}/deliveries", w.id)) aria-label=(format!("Deliveries to {}", w.url)) { "Deliveries" } }
                td {
                    form.inline method="post" action=(format!("{path}/{}/enabled", w.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        @if w.enabled {
                            input type="hidden" name="enabled" value="false";
                            button.secondary type="submit" aria-label=(format!("Disable {}", w.url)) { "Disable" }
                        } @else {
                            input type="hidden" name="enabled" value="true";
                            button.secondary type="submit" aria-label=(format!("Enable {}", w.url)) { "Enable" }
                        }
                    }
                    " "
                    form.inline method="post" action=(format!("{path}/{}/delete", w.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.danger type="submit" aria-label=(format!("Delete {}", w.url)) { "Delete" }
                    }
                }
            } } }
        } }
    });
    let nav = Nav::new(signed, Some(tenant), "webhooks");
    let body = html! {
        h1 { "Webhooks" }
        @if let Some(made) = &made {
            (notice(html! {
                p { "Created the webhook for " code { (made.url) } ". Its signing secret, shown only now (receivers verify the "
                    code { "webhook-signature" } " header with it):" }
                p { code.secret #webhook-secret { (made.secret) } }
            }))
        }
        (errors.others(&["url", "event_types", "description"]))
        @if may_manage {
            section aria-labelledby="new-webhook-heading" {
                h2 #new-webhook-heading { "Create webhook" }
                form method="post" action=(path) novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    div.fields {
                        (field("webhook-url", "URL", "url", "url", &form.url, errors.of("url")))
                        (field("webhook-events", "Event types (optional)", "event_types", "text", &form.event_types, errors.of("event_types")))
                        (field("webhook-description", "Description (optional)", "description", "text", &form.description, errors.of("description")))
                    }
                    p.muted { "Event types such as " code { "roster.user.*" } " or " code { "roster.user.deactivated" } ", separated by commas; none: every event." }
                    p { button type="submit" { "Create webhook" } }
                }
            }
            h2 { "All webhooks" }
        }
        (list)
    };
    let status = errors.status_or(status);
    (status, page("Webhooks", Some(&nav), body)).into_response()
}

pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Form(form): Form<WebhookForm>,
) -> Response {
    let made = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        let description = Some(form.description.trim().to_string()).filter(|d| !d.is_empty());
        let draft = WebhookDraft {
            url: form.url.trim().to_string(),
            event_types: form.event_types(),
            description,
        };
        state.webhooks().create(&scope, draft).await
    }
    .await;
    let cursor = Cursor::default();
    match made {
        Ok(issued) => {
            let made = Made {
                url: issued.record.url,
                secret: issued.token,
            };
            let blank = WebhookForm::default();
            let errors = Errors::default();
            webhooks_page(
                &state,
                &signed,
                &tenant,
                &cursor,
                Some(made),
                &blank,
                errors,
            )
            .await
        }
        Err(e) => {
            let errors = Errors::from_app(e, "url");
            webhooks_page(&state, &signed, &tenant, &cursor, None, &form, errors).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

pub(crate) async fn enabled(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<EnabledForm>,
) -> Response {
    let changed = async {
        let enabled = match form.enabled.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(roster_app::AppError::field(
                    "enabled",
                    "must be true or false",
                ))
            }
        };
        let scope = state.enter(&signed.caller, &tenant).await?;
        let change = WebhookChange {
            enabled: Some(enabled),
            ..WebhookChange::default()
        };
        state.webhooks().update(&scope, id, change).await.map(drop)
    }
    .await;
    after(&state, &signed, &tenant, changed).await
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
) -> Response {
    let deleted = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        state.webhooks().delete(&scope, id).await
    }
    .await;
    after(&state, &signed, &tenant, deleted).await
}

/// Back to the list, or the list with the refusal.
async fn after(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    outcome: Result<(), roster_app::AppError>,
) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("/console/t/{tenant}/webhooks")).into_response(),
        Err(e) => {
            let errors = Errors::from_app(e, "");
            let (cursor, form) = (Cursor::default(), WebhookForm::default());
            webhooks_page(state, signed, tenant, &cursor, None, &form, errors).await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    done: Option<String>,
}

/// One webhook, with the form that changes it.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Query(done): Query<Done>,
) -> Response {
    let saved = done.done.as_deref() == Some("saved");
    webhook_page(&state, &signed, &tenant, id, saved, None, Errors::default()).await
}

async fn webhook_page(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    id: Uuid,
    saved: bool,
    sent: Option<&WebhookForm>,
    errors: Errors,
) -> Response {
    let scope = match enter(state, signed, tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let hook = match state.webhooks().get(&scope, id).await {
        Ok(hook) => hook,
        Err(e) => return error_page(Some((signed, tenant)), e.into()),
    };
    let form = match sent {
        Some(sent) => WebhookForm {
            url: sent.url.clone(),
            event_types: sent.event_types.clone(),
            description: sent.description.clone(),
        },
        None => WebhookForm {
            url: hook.url.clone(),
            event_types: hook.event_types.join(", "),
            description: hook.description.clone().unwrap_or_default(),
        },
    };
    let list = format!("/console/t/{tenant}/webhooks");
    let path = format!("{list}/{id}");
    let nav = Nav::new(signed, Some(tenant), "webhooks");
    let body = html! {
        p { a href=(list) { "← Webhooks" } }
        h1 { "Webhook" }
        @if saved { (notice(html! { "Webhook saved." })) }
        dl {
            dt { "Id" } dd { code { (hook.id) } }
            dt { "Enabled" } dd #webhook-enabled { @if hook.enabled { "yes" } @else { "no" @if let Some(reason) = &hook.disabled_reason { " — " (reason) } } }
            dt { "Deliveries" } dd { a href=(format!("{path}/deliveries")) { "Deliveries to this webhook" } }
        }
        (errors.others(&["url", "event_types", "description"]))
        form method="post" action=(path) novalidate {
            input type="hidden" name="csrf" value=(signed.csrf);
            div.fields {
                (field("webhook-url", "URL", "url", "url", &form.url, errors.of("url")))
                (field("webhook-events", "Event types (optional)", "event_types", "text", &form.event_types, errors.of("event_types")))
                (field("webhook-description", "Description (optional)", "description", "text", &form.description, errors.of("description")))
            }
            p.muted { "Event types separated by commas; none: every event. The signing secret stays as it is." }
            p { button type="submit" { "Save webhook" } }
        }
    };
    let status = errors.status_or(axum::http::StatusCode::OK);
    (status, page("Webhook", Some(&nav), body)).into_response()
}

/// Changes a webhook's URL, event types and description (as `PATCH
/// /v1/tenants/{t}/webhooks/{id}` would; an empty description clears it).
pub(crate) async fn save(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<WebhookForm>,
) -> Response {
    let saved = async {
        let scope = state.enter(&signed.caller, &tenant).await?;
        let description = Some(form.description.trim().to_string()).filter(|d| !d.is_empty());
        let change = WebhookChange {
            url: Some(form.url.trim().to_string()),
            event_types: Some(form.event_types()),
            description: Some(description),
            enabled: None,
        };
        state.webhooks().update(&scope, id, change).await
    }
    .await;
    match saved {
        Ok(_) => {
            Redirect::to(&format!("/console/t/{tenant}/webhooks/{id}?done=saved")).into_response()
        }
        Err(e) => {
            let errors = Errors::from_app(e, "url");
            webhook_page(&state, &signed, &tenant, id, false, Some(&form), errors).await
        }
    }
}
