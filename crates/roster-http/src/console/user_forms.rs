//! The user page's forms: each applies one change through the users or
//! credentials service, as the `/v1` call it names would, and goes back to
//! the page (`user.rs`) with a notice or with its errors beside its fields.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::html;
use roster_app::input::NewContact;
use roster_app::users::Right;
use roster_core::{ContactType, Source, TenantRole, UserStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::Errors;
use super::user::{after, user_page, Sent};
use super::users::given;
use super::Signed;
use crate::error::ApiError;
use crate::v1::users::UserUpdate;
use crate::AppState;

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
    let typed = [
        ("first_name", form.first_name.as_str()),
        ("last_name", &form.last_name),
        ("email", &form.email),
        ("job_title", &form.job_title),
    ];
    after(
        &state,
        &signed,
        &tenant,
        id,
        ("profile", "email"),
        outcome,
        &typed,
    )
    .await
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
    after(&state, &signed, &tenant, id, ("status", ""), outcome, &[]).await
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
    after(
        &state,
        &signed,
        &tenant,
        id,
        ("role", "tenant_role"),
        outcome,
        &[],
    )
    .await
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
    after(&state, &signed, &tenant, id, ("primary", ""), outcome, &[]).await
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
    let typed = [
        ("contact_type", form.contact_type.as_str()),
        ("value", &form.value),
    ];
    after(
        &state,
        &signed,
        &tenant,
        id,
        ("contact", "value"),
        outcome,
        &typed,
    )
    .await
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
    after(&state, &signed, &tenant, id, ("revoke", ""), outcome, &[]).await
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
                typed: &[],
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
    after(&state, &signed, &tenant, id, ("access", ""), outcome, &[]).await
}

/// A value outside its vocabulary, beside its field.
fn unknown(field: &str, expected: String) -> ApiError {
    ApiError::field(field, format!("expected one of {expected}"))
}
