//! The native API (SPEC §3): JSON in snake_case, strict bodies, cursor lists.

use base64::Engine;
use roster_app::input::{Listed, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

mod accounts;
mod api_keys;
mod check;
mod companies;
mod devices;
mod events;
mod invitations;
mod records;
mod stores;
mod tenants;
mod users;

/// Every `/v1` route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenants::router())
        .merge(stores::router())
        .merge(companies::router())
        .merge(users::router())
        .merge(api_keys::router())
        .merge(accounts::router())
        .merge(records::router())
        .merge(check::router())
        .merge(events::router())
        .merge(devices::router())
        .merge(invitations::router())
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T: ToSchema> {
    pub data: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> List<T> {
    /// Converts a store page, encoding its resume key as an opaque cursor.
    pub fn from_listed<U>(listed: Listed<U>, view: impl Fn(U) -> T) -> Self {
        List {
            data: listed.items.into_iter().map(view).collect(),
            next_cursor: listed
                .next
                .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)),
        }
    }
}

/// Paging parameters of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> ApiResult<Page> {
        page(self.limit, self.cursor.as_deref())
    }
}

/// Checks `limit` and decodes `cursor`.
pub fn page(limit: Option<i64>, cursor: Option<&str>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let after = cursor
        .map(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                // No key Roster hands out holds U+0000 (nor could PostgreSQL
                // compare one).
                .filter(|key| !key.contains('\0'))
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor of this list"))
        })
        .transpose()?;
    Ok(Page { after, limit })
}

/// Serde helper for PATCH fields that can be cleared: absent leaves the field
/// alone, `null` clears it.
pub(crate) mod nullable {
    pub use serde_with::rust::double_option as field;
}
