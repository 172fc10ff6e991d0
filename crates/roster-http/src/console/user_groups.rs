//! A user's groups on the user page: "Add to group" and "Remove", as
//! `PATCH /v1/tenants/{t}/groups/{id}` with a member change would
//! (MANAGE_USERS; joining needs everything the group confers).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use roster_app::groups::GroupChange;
use roster_app::input::MemberChange;
use serde::Deserialize;
use uuid::Uuid;

use super::user::after;
use super::Signed;
use crate::error::ApiError;
use crate::AppState;

#[derive(Deserialize)]
pub(crate) struct GroupForm {
    #[serde(default)]
    group_id: String,
}

pub(crate) async fn add(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id)): Path<(String, Uuid)>,
    Form(form): Form<GroupForm>,
) -> Response {
    let outcome = match Uuid::parse_str(form.group_id.trim()) {
        Ok(group) => change(&state, &signed, &tenant, group, MemberChange::Add(vec![id])).await,
        Err(_) => Err(ApiError::field("group_id", "pick a group from the list")),
    };
    after(
        &state,
        &signed,
        &tenant,
        id,
        ("groups", "group_id"),
        outcome,
        &[],
    )
    .await
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    signed: Signed,
    Path((tenant, id, group)): Path<(String, Uuid, Uuid)>,
) -> Response {
    let outcome = change(
        &state,
        &signed,
        &tenant,
        group,
        MemberChange::Remove(vec![id]),
    )
    .await;
    after(&state, &signed, &tenant, id, ("groups", ""), outcome, &[]).await
}

async fn change(
    state: &AppState,
    signed: &Signed,
    tenant: &str,
    group: Uuid,
    member: MemberChange,
) -> Result<(), ApiError> {
    let scope = state.enter(&signed.caller, tenant).await?;
    let change = GroupChange {
        members: vec![member],
        ..GroupChange::default()
    };
    state.groups().update(&scope, group, change).await?;
    Ok(())
}
