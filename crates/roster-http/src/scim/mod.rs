//! SCIM 2.0 (RFC 7643/7644) at `/scim/v2`, SPEC §8: the tenant's users as
//! the User resource, for identity providers (Okta, Entra ID, Google
//! Workspace) to provision. A thin surface like the others: it maps SCIM's
//! shapes onto the users service and answers SCIM's own error objects and
//! content type. See `docs/scim.md`.
//!
//! Not in the OpenAPI document: SCIM describes itself (`/Schemas`,
//! `/ResourceTypes`, `/ServiceProviderConfig`), which is what SCIM clients
//! read.

mod discovery;
mod error;
mod filter;
mod group;
mod patch;
mod user;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use roster_app::input::user_query::{Condition, Field, Op, UserQuery, Value as QueryValue};
use roster_app::input::ContactReplacement;
use roster_app::users::Right;
use roster_app::{Caller, Scope};
use roster_core::{ContactType, User};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::presented_token;
use crate::AppState;
pub use error::ScimError;
use user::ScimUser;

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// SCIM's media type (RFC 7644 §8.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The most resources one list answers (`ServiceProviderConfig`'s
/// `filter.maxResults`); a larger `count` is lowered to it.
pub const MAX_RESULTS: i64 = 500;
/// The contact types SCIM's `emails` and `phoneNumbers` own: a phone that is
/// no phone number is kept as an `OTHER` contact.
const SCIM_CONTACTS: [ContactType; 3] =
    [ContactType::Email, ContactType::Phone, ContactType::Other];

type ScimResult<T> = Result<T, ScimError>;

/// SCIM's `emails` and `phoneNumbers` as the replacement of the user's
/// contacts of those types.
fn scim_contacts(wanted: Vec<roster_app::input::NewContact>) -> ContactReplacement {
    ContactReplacement {
        kinds: SCIM_CONTACTS.to_vec(),
        wanted,
    }
}

pub fn router() -> Router<AppState> {
    let scim = Router::new()
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route("/.search", post(search_all))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(group::list_groups).post(group::create_group))
        .route("/Groups/.search", post(group::search_groups))
        .route(
            "/Groups/{id}",
            get(group::get_group)
                .put(group::replace_group)
                .patch(group::patch_group)
                .delete(group::delete_group),
        )
        .merge(discovery::router())
        .fallback(|| async { ScimError::not_found("no such SCIM endpoint") })
        .method_not_allowed_fallback(|| async {
            ScimError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "method not allowed here",
            )
        });
    Router::new().nest("/scim/v2", scim)
}

/// The caller of a SCIM request, entered into its tenant: a tenant API key
/// or a tenant user's access token (the admin token names no tenant), or a
/// company's SCIM token, confined to that company.
struct ScimScope(Scope);

impl FromRequestParts<AppState> for ScimScope {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ScimResult<Self> {
        let token = presented_token(&parts.headers).ok_or_else(|| {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "send a tenant API key as a bearer token",
            )
        })?;
        if roster_app::scim_tokens::is_scim_token(token) {
            // A company's SCIM token: that company's users and groups.
            return match app.scim_tokens().enter(token).await? {
                Some(scope) => Ok(ScimScope(scope)),
                None => Err(ScimError::new(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "the token is not valid",
                )),
            };
        }
        let caller = app.authenticate(token).await?;
        let tenant = match (&caller, caller.own_tenant()) {
            (_, Some(tenant)) => tenant.to_string(),
            (Caller::Admin, None) => {
                return Err(ScimError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the admin token names no tenant: provision with a tenant API key",
                ))
            }
            (_, None) => {
                return Err(ScimError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "provision with a tenant API key",
                ))
            }
        };
        Ok(ScimScope(app.enter(&caller, &tenant).await?))
    }
}

/// This server's `/scim/v2` URL as the client reached it (for `location`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/scim/v2")
}

/// A SCIM body: JSON under `application/scim+json` or `application/json`.
fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> ScimResult<Value> {
    let json = crate::extract::is_json(headers);
    if !json {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send application/scim+json",
        ));
    }
    crate::extract::screen(bytes).map_err(|e| match e {
        crate::error::ApiError::BadRequest { errors, detail } => ScimError::invalid_syntax(
            errors
                .first()
                .map(|e| format!("{} {}", e.field, e.message))
                .unwrap_or(detail),
        ),
        _ => ScimError::invalid_syntax("the body is refused"),
    })?;
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// A SCIM answer: the body as `application/scim+json`, with its `ETag`.
fn answer(status: StatusCode, body: Value) -> Response {
    let etag = body["meta"]["version"].as_str().map(str::to_string);
    let location = (status == StatusCode::CREATED)
        .then(|| body["meta"]["location"].as_str().map(str::to_string))
        .flatten();
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    for (name, value) in [(header::ETAG, etag), (header::LOCATION, location)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): which
/// attributes a returned resource keeps. `id` and `schemas` are always
/// returned.
#[derive(Debug, Default, Clone)]
struct Projection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Projection {
    fn new(attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let split = |list: Option<&str>| -> Vec<String> {
            list.unwrap_or("")
                .split(',')
                .map(|a| a.trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .map(|a| {
                    // A URI-qualified core attribute names the attribute.
                    let core = format!("{}:", USER.to_ascii_lowercase());
                    a.strip_prefix(&core).map(str::to_string).unwrap_or(a)
                })
                .collect()
        };
        Projection {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    fn apply(&self, mut resource: Value) -> Value {
        let Some(object) = resource.as_object_mut() else {
            return resource;
        };
        let always = |key: &str| key == "id" || key == "schemas";
        // The sub-attributes a list names under `key` (`name.givenName`).
        let subs = |list: &[String], key: &str| -> Vec<String> {
            let prefix = format!("{key}.");
            list.iter()
                .filter_map(|a| a.strip_prefix(&prefix).map(str::to_string))
                .collect()
        };
        object.retain(|key, value| {
            let key = key.to_ascii_lowercase();
            if always(&key) {
                return true;
            }
            if self.excluded.contains(&key) {
                return false;
            }
            let excluded = subs(&self.excluded, &key);
            retain_sub_attributes(value, |sub| !excluded.iter().any(|e| e == sub));
            if self.attributes.is_empty() || self.attributes.contains(&key) {
                return true;
            }
            // `name.givenName` keeps `name` with that sub-attribute only.
            let wanted = subs(&self.attributes, &key);
            retain_sub_attributes(value, |sub| wanted.iter().any(|w| w == sub));
            !wanted.is_empty()
        });
        resource
    }
}

/// Keeps the sub-attributes (lowercased names) `keep` says, of a complex
/// attribute or of each value of a multi-valued one.
fn retain_sub_attributes(value: &mut Value, keep: impl Fn(&str) -> bool) {
    let mut objects: Vec<&mut serde_json::Map<String, Value>> = match value {
        Value::Object(inner) => vec![inner],
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => Vec::new(),
    };
    for object in objects.iter_mut() {
        object.retain(|k, _| keep(&k.to_ascii_lowercase()));
    }
}

/// The query of `GET /Users` (RFC 7644 §3.4.2), names as SCIM spells them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// A search: the list parameters, from the query or a SearchRequest body.
struct Search {
    filter: Option<String>,
    start_index: i64,
    count: i64,
    sort_by: Option<String>,
    descending: bool,
    projection: Projection,
}

fn integer(value: Option<&str>, name: &str) -> ScimResult<Option<i64>> {
    value
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
        })
        .transpose()
}

fn descending(order: Option<&str>) -> ScimResult<bool> {
    match order {
        None => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("descending") => Ok(true),
        Some(_) => Err(ScimError::invalid_value(
            "sortOrder must be ascending or descending",
        )),
    }
}

impl Search {
    fn from_params(params: ListParams) -> ScimResult<Search> {
        Ok(Search {
            filter: params.filter,
            start_index: integer(params.start_index.as_deref(), "startIndex")?.unwrap_or(1),
            count: integer(params.count.as_deref(), "count")?.unwrap_or(100),
            sort_by: params.sort_by,
            descending: descending(params.sort_order.as_deref())?,
            projection: Projection::new(
                params.attributes.as_deref(),
                params.excluded_attributes.as_deref(),
            ),
        })
    }

    fn from_body(body: &Value) -> ScimResult<Search> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the body must be a SearchRequest"))?;
        let text = |key: &str| -> ScimResult<Option<String>> {
            match user::get(object, key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{key} must be a string"))),
            }
        };
        let number = |key: &str| -> ScimResult<Option<i64>> {
            match user::get(object, key) {
                None => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{key} must be an integer"))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{key} must be an integer"
                ))),
            }
        };
        let list = |key: &str| -> ScimResult<Option<String>> {
            match user::get(object, key) {
                None => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("{key} must be strings"))
                        })
                    })
                    .collect::<ScimResult<Vec<_>>>()
                    .map(|v| Some(v.join(","))),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{key} must be an array"))),
            }
        };
        Ok(Search {
            filter: text("filter")?,
            start_index: number("startIndex")?.unwrap_or(1),
            count: number("count")?.unwrap_or(100),
            sort_by: text("sortBy")?,
            descending: descending(text("sortOrder")?.as_deref())?,
            projection: Projection::new(
                list("attributes")?.as_deref(),
                list("excludedAttributes")?.as_deref(),
            ),
        })
    }

    /// The store query: startIndex below 1 counts as 1 and a count below 0
    /// as 0 (RFC 7644 §3.4.2.4); a count above [`MAX_RESULTS`] is lowered.
    fn query(&self, company: Option<Uuid>) -> ScimResult<UserQuery> {
        let condition = match self.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let parsed: scim_v2::filter::Filter = text
                    .parse()
                    .map_err(|e| ScimError::invalid_filter(format!("filter {text:?}: {e}")))?;
                Some(filter::condition(&parsed)?)
            }
        };
        Ok(UserQuery {
            condition,
            company,
            sort: self
                .sort_by
                .as_deref()
                .map(|by| filter::sort_key(by).map(|key| (key, self.descending)))
                .transpose()?,
            offset: self.start_index.max(1) - 1,
            count: self.count.clamp(0, MAX_RESULTS),
        })
    }
}

/// How many users a search matches, and `count` of them from `offset`,
/// rendered and projected.
async fn user_resources(
    app: &AppState,
    scope: &Scope,
    search: &Search,
    offset: i64,
    count: i64,
    base: &str,
) -> ScimResult<(i64, Vec<Value>)> {
    let mut query = search.query(None)?;
    query.offset = offset;
    query.count = count;
    let found = app.users().query(scope, Right::Users, &query).await?;
    let ids: Vec<Uuid> = found.users.iter().map(|u| u.id).collect();
    let contacts = app.users().contacts_of(scope, Right::Users, &ids).await?;
    let resources = found
        .users
        .iter()
        .map(|u| search.projection.apply(user::render(u, &contacts, base)))
        .collect();
    Ok((found.total, resources))
}

/// A ListResponse of `resources`, the page from `offset` of `total`.
fn list_response(total: i64, offset: i64, resources: Vec<Value>) -> Response {
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": offset + 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    answer(StatusCode::OK, body)
}

async fn run_search(
    app: &AppState,
    scope: &Scope,
    search: Search,
    base: &str,
) -> ScimResult<Response> {
    let offset = search.start_index.max(1) - 1;
    let count = search.count.clamp(0, MAX_RESULTS);
    let (total, resources) = user_resources(app, scope, &search, offset, count, base).await?;
    Ok(list_response(total, offset, resources))
}

/// `POST /.search` (RFC 7644 §3.4.3): users, then groups, as one list. A
/// filter naming an attribute one resource type lacks matches none of that
/// type; it is refused only when it fits neither.
async fn search_all(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&headers, &body)?;
    check_search_schemas(&body)?;
    let search = Search::from_body(&body)?;
    let base = base_url(&headers);
    let offset = search.start_index.max(1) - 1;
    let count = search.count.clamp(0, MAX_RESULTS);
    let fits = |e: &ScimError| e.scim_type != Some("invalidFilter");
    let (users_total, users, users_fit) =
        match user_resources(&app, &scope, &search, offset, count, &base).await {
            Ok((total, found)) => (total, found, true),
            Err(e) if !fits(&e) => (0, Vec::new(), false),
            Err(e) => return Err(e),
        };
    // The groups' part of the page: what follows the users it shows.
    let group_offset = (offset - users_total).max(0);
    let left = count - users.len() as i64;
    let (groups_total, groups) =
        match group::group_resources(&app, &scope, &search, group_offset, left, &base).await {
            Ok(found) => found,
            Err(e) if !fits(&e) && users_fit => (0, Vec::new()),
            Err(e) => return Err(e),
        };
    let mut resources = users;
    resources.extend(groups);
    Ok(list_response(users_total + groups_total, offset, resources))
}

/// A search's `schemas`, when given, must name a SearchRequest.
fn check_search_schemas(body: &Value) -> ScimResult<()> {
    if let Some(schemas) = body.get("schemas").and_then(Value::as_array) {
        if !schemas.iter().any(|s| s == SEARCH_REQUEST) {
            return Err(ScimError::invalid_syntax(format!(
                "a search's schemas must hold {SEARCH_REQUEST}"
            )));
        }
    }
    Ok(())
}

async fn list_users(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ScimResult<Response> {
    let Query(params) = params.map_err(|e| ScimError::invalid_value(e.body_text()))?;
    run_search(
        &app,
        &scope,
        Search::from_params(params)?,
        &base_url(&headers),
    )
    .await
}

async fn search_users(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&headers, &body)?;
    check_search_schemas(&body)?;
    run_search(&app, &scope, Search::from_body(&body)?, &base_url(&headers)).await
}

fn user_id(id: &str) -> ScimResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ScimError::not_found("user not found"))
}

/// The user and its contacts, rendered.
async fn load(app: &AppState, scope: &Scope, id: Uuid, base: &str) -> ScimResult<(User, Value)> {
    let user = app.users().get(scope, Right::Users, id, None).await?;
    let contacts = app.users().contacts_of(scope, Right::Users, &[id]).await?;
    let rendered = user::render(&user, &contacts, base);
    Ok((user, rendered))
}

/// 412 unless `If-Match` (when sent) names the resource's version.
fn check_version(headers: &HeaderMap, current: &Value) -> ScimResult<()> {
    let Some(wanted) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let wanted = wanted.to_str().unwrap_or("");
    let version = current["meta"]["version"].as_str().unwrap_or("");
    let strip = |v: &str| v.trim().trim_start_matches("W/").to_string();
    if wanted.trim() == "*" || wanted.split(',').any(|w| strip(w) == strip(version)) {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("the user's version is {version}, not {wanted}"),
        ))
    }
}

async fn get_user(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> ScimResult<Response> {
    let (_, rendered) = load(&app, &scope, user_id(&id)?, &base_url(&headers)).await?;
    Ok(read_answer(&headers, &params, rendered))
}

/// A read's answer: 304 when `If-None-Match` names the resource's version,
/// else the resource with the query's projection.
fn read_answer(headers: &HeaderMap, params: &ListParams, rendered: Value) -> Response {
    if let Some(wanted) = headers.get(header::IF_NONE_MATCH) {
        if rendered["meta"]["version"].as_str().map(str::as_bytes) == Some(wanted.as_bytes()) {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let projection = Projection::new(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    );
    answer(StatusCode::OK, projection.apply(rendered))
}

/// 400 `mutability` when a PUT's body names another `id`.
fn check_same_id(body: &Value, id: Uuid) -> ScimResult<()> {
    match body.get("id").and_then(Value::as_str) {
        Some(given) if given != id.to_string() => {
            Err(ScimError::mutability("id cannot be changed"))
        }
        _ => Ok(()),
    }
}

/// 409 `uniqueness` when another user of the tenant has this `userName`
/// (compared without case, RFC 7643 §4.1.1).
async fn require_unique_user_name(
    app: &AppState,
    scope: &Scope,
    user_name: &str,
    except: Option<Uuid>,
) -> ScimResult<()> {
    let query = UserQuery {
        condition: Some(Condition::Compare(
            Field::UserName,
            Op::Eq,
            QueryValue::Text(user_name.to_string()),
        )),
        company: None,
        sort: None,
        offset: 0,
        count: 2,
    };
    let found = app.users().query(scope, Right::Users, &query).await?;
    if found.users.iter().any(|u| Some(u.id) != except) {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            format!("userName {user_name:?} is taken"),
        ));
    }
    Ok(())
}

async fn create_user(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    Right::Users.require_write(&scope)?;
    let body = parse_body(&headers, &body)?;
    let resource = ScimUser::from_json(&body)?;
    let contacts = resource.contacts()?;
    let (new, password) = resource.new_user(None)?;
    require_unique_user_name(&app, &scope, &resource.user_name, None).await?;
    let user = app
        .users()
        .create_with_contacts(&scope, Right::Users, new, password, scim_contacts(contacts))
        .await?;
    let (_, rendered) = load(&app, &scope, user.id, &base_url(&headers)).await?;
    Ok(answer(StatusCode::CREATED, rendered))
}

/// Makes the user `id` the resource `resource` (PUT, and PATCH after its
/// operations).
async fn write_resource(
    app: &AppState,
    scope: &Scope,
    id: Uuid,
    current: &User,
    resource: ScimUser,
    base: &str,
) -> ScimResult<Response> {
    let contacts = resource.contacts()?;
    let (patch, password) = resource.replacement()?;
    if Some(resource.user_name.to_lowercase()) != Some(user::user_name(current).to_lowercase()) {
        require_unique_user_name(app, scope, &resource.user_name, Some(id)).await?;
    }
    // The user and its contacts in one transaction: all of it or none.
    app.users()
        .update_with_contacts(
            scope,
            Right::Users,
            id,
            None,
            patch,
            password,
            scim_contacts(contacts),
        )
        .await?;
    let (_, rendered) = load(app, scope, id, base).await?;
    Ok(answer(StatusCode::OK, rendered))
}

async fn replace_user(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    Right::Users.require_write(&scope)?;
    let id = user_id(&id)?;
    let body = parse_body(&headers, &body)?;
    let resource = ScimUser::from_json(&body)?;
    let base = base_url(&headers);
    let (current, rendered) = load(&app, &scope, id, &base).await?;
    check_version(&headers, &rendered)?;
    check_same_id(&body, id)?;
    write_resource(&app, &scope, id, &current, resource, &base).await
}

async fn patch_user(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    Right::Users.require_write(&scope)?;
    let id = user_id(&id)?;
    let body = parse_body(&headers, &body)?;
    let base = base_url(&headers);
    let (current, rendered) = load(&app, &scope, id, &base).await?;
    check_version(&headers, &rendered)?;
    let mut document = rendered.as_object().cloned().unwrap_or_default();
    document.remove("meta");
    patch::apply(&mut document, &body)?;
    let resource = ScimUser::from_json(&Value::Object(document))?;
    write_resource(&app, &scope, id, &current, resource, &base).await
}

async fn delete_user(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    Right::Users.require_write(&scope)?;
    let id = user_id(&id)?;
    if headers.contains_key(header::IF_MATCH) {
        let (_, rendered) = load(&app, &scope, id, &base_url(&headers)).await?;
        check_version(&headers, &rendered)?;
    }
    app.users().delete(&scope, Right::Users, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
