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
mod groups;
pub mod imports;
mod invitations;
mod records;
mod scim_tokens;
mod stores;
mod tenants;
pub mod users;
mod webhooks;

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
        .merge(imports::router())
        .merge(devices::router())
        .merge(invitations::router())
        .merge(webhooks::router())
        .merge(groups::router())
        .merge(scim_tokens::router())
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

/// How many items a page holds: an integer from [`Limit::MIN`] to
/// [`Limit::MAX`]. The one place the bound lives: deserializing refuses a
/// value outside it (400 naming `limit`), and the schema documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 500;
    pub const DEFAULT: Limit = Limit(50);

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Limit {
    type Error = String;

    fn try_from(limit: i64) -> Result<Self, String> {
        if (Limit::MIN..=Limit::MAX).contains(&limit) {
            Ok(Limit(limit))
        } else {
            Err(format!("must be between {} and {}", Limit::MIN, Limit::MAX))
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Limit::try_from(i64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Limit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(Limit::MIN as f64))
            .maximum(Some(Limit::MAX as f64))
            .default(Some(Limit::DEFAULT.0.into()))
            .into()
    }
}

impl ToSchema for Limit {}

/// Paging parameters of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1 to 500 (default 50).
    #[param(inline)]
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> ApiResult<Page> {
        page(self.limit, self.cursor.as_deref())
    }
}

/// Decodes `cursor` into a page of `limit` items.
pub fn page(limit: Option<Limit>, cursor: Option<&str>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(Limit::DEFAULT).get();
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
