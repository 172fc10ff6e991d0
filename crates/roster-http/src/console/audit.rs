//! The audit log page: newest first, filtered by action, actor and target,
//! paged backwards by the last id shown (VIEW_AUDIT).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use roster_app::input::EventFilter;
use serde::Deserialize;

use super::layout::{field, page, Errors, Nav};
use super::users::enter;
use super::Signed;
use crate::AppState;

/// Events shown per page.
const PAGE_SIZE: usize = 100;

/// The filter form's fields; empty ones filter nothing.
#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    /// The id of the last event of the previous page.
    #[serde(default)]
    before: String,
}

impl AuditQuery {
    fn filter(&self) -> EventFilter {
        let part = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
        EventFilter {
            action: part(&self.action),
            actor: part(&self.actor),
            target: part(&self.target),
        }
    }

    /// The query string of the page of events older than `id`.
    fn older_than(&self, id: i64) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("action", self.action.trim())
            .append_pair("actor", self.actor.trim())
            .append_pair("target", self.target.trim())
            .append_pair("before", &id.to_string())
            .finish()
    }
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    signed: Signed,
    Path(tenant): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Response {
    let scope = match enter(&state, &signed, &tenant).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let mut errors = Errors::default();
    let before = match query.before.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors = Errors::field("before", "Start again from the newest events.");
                errors.status = StatusCode::BAD_REQUEST;
                None
            }
        },
    };
    let found = if errors.is_empty() {
        match state
            .records()
            .search_events(&scope, &query.filter(), before, PAGE_SIZE)
            .await
        {
            Ok(found) => Some(found),
            Err(e) => {
                errors = Errors::from_app(e, "");
                None
            }
        }
    } else {
        None
    };
    let path = format!("/console/t/{tenant}/audit");
    let nav = Nav::new(&signed, Some(&tenant), "audit");
    let body = html! {
        h1 { "Audit log" }
        form method="get" action=(path) role="search" {
            div.fields {
                (field("audit-action", "Action", "action", "search", &query.action, errors.of("action")))
                (field("audit-actor", "Actor", "actor", "search", &query.actor, errors.of("actor")))
                (field("audit-target", "Target", "target", "search", &query.target, errors.of("target")))
            }
            p.muted { "Exact values, for example " code { "user.updated" } ", " code { "admin" } " or " code { "user:<id>" } "." }
            p { button type="submit" { "Filter" } }
        }
        (errors.others(&["action", "actor", "target"]))
        @if let Some((events, older)) = &found {
            @if events.is_empty() { p role="status" { "No events match." } }
            @else {
                div.table { table #audit-events {
                    caption.muted { "Newest first" }
                    thead { tr { th scope="col" { "At" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Summary" } } }
                    tbody { @for e in events { tr {
                        td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td { code { (e.actor) } } td { (e.action) }
                        td { code { (e.target) } } td { (e.summary) }
                    } } }
                } }
            }
            @if let Some(id) = older {
                p { a rel="next" href=(format!("{path}?{}", query.older_than(*id))) { "Older events" } }
            }
        }
    };
    let status = errors.status_or(StatusCode::OK);
    (status, page("Audit log", Some(&nav), body)).into_response()
}
