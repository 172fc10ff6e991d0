//! Tenants, the operator's page: the list and "Create tenant" (as
//! `POST /v1/tenants`: the admin token only). A tenant user is sent to
//! their own tenant.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::layout::{field, page, Errors, Nav};
use super::pages::{listing, Cursor};
use super::{error_page, Signed};
use crate::error::ApiError;
use crate::AppState;

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(cursor): Query<Cursor>,
) -> Response {
    tenants_page(
        &state,
        &signed,
        &cursor,
        &TenantForm::default(),
        Errors::default(),
    )
    .await
}

async fn tenants_page(
    state: &AppState,
    signed: &Signed,
    cursor: &Cursor,
    form: &TenantForm,
    errors: Errors,
) -> Response {
    if let Some(own) = signed.own_tenant() {
        return Redirect::to(&format!("/console/t/{own}/users")).into_response();
    }
    let listed = state
        .tenancy()
        .list_tenants(&signed.caller, &cursor.page())
        .await;
    let (status, list) = listing("/console/tenants", listed, "No tenants yet.", |tenants| {
        html! { table {
            thead { tr { th scope="col" { "Tenant" } th scope="col" { "Name" } th scope="col" { "Created" } } }
            tbody { @for t in tenants { tr {
                td { a href=(format!("/console/t/{}/users", t.uid)) { code { (t.uid) } } }
                td { (t.name) }
                td { (t.created_at.format("%Y-%m-%d")) }
            } } }
        } }
    });
    let nav = Nav::new(signed, None, "tenants");
    let body = html! {
        h1 { "Tenants" }
        section aria-labelledby="new-tenant-heading" {
            h2 #new-tenant-heading { "Create tenant" }
            (errors.others(&["uid", "name"]))
            form method="post" action="/console/tenants" novalidate {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.fields {
                    (field("tenant-name", "Name", "name", "text", &form.name, errors.of("name")))
                    (field("tenant-uid", "Identifier (optional)", "uid", "text", &form.uid, errors.of("uid")))
                }
                p.muted { "Letters, digits, " code { "-" } " and " code { "_" } "; it names the tenant in every URL and cannot change. Left empty, one is made." }
                p { button type="submit" { "Create tenant" } }
            }
        }
        h2 { "All tenants" }
        (list)
    };
    let status = errors.status_or(status);
    (status, page("Tenants", Some(&nav), body)).into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct TenantForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    uid: String,
}

/// Creates a tenant and opens its users; a refused value is shown beside
/// its field.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<TenantForm>,
) -> Response {
    let uid = Some(form.uid.trim()).filter(|uid| !uid.is_empty());
    match state
        .tenancy()
        .create_tenant(&signed.caller, uid, &form.name)
        .await
    {
        Ok(tenant) => Redirect::to(&format!("/console/t/{}/users", tenant.uid)).into_response(),
        Err(e) => match signed.own_tenant() {
            // A tenant user may not create tenants: the refusal, in their tenant.
            Some(own) => error_page(Some((&signed, own)), ApiError::from(e)),
            None => {
                let errors = Errors::from_app(e, "uid");
                tenants_page(&state, &signed, &Cursor::default(), &form, errors).await
            }
        },
    }
}
