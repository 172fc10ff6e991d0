//! Assembly of the router, the operations endpoints (health, readiness,
//! metrics, OpenAPI, docs) and the per-request middleware.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::Body as HttpBody;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, Problem, TRACE_ID};
use crate::{b2b, commerce, partner, pos, retail_media, v1, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster",
        description = "Users, roles and permissions for commerce platforms.\n\n\
            Authenticate with `Authorization: Bearer <token>` (a bare token works too): the admin \
            token (`ROSTER_ADMIN_TOKEN`), an API key, a user's access token, an account's auth \
            token or a device token; each operation's `security` names the kinds it takes. Errors are `application/problem+json` \
            (RFC 9457) with a `traceId`; validation errors name each field under `errors`. A \
            JSON syntax error gives its line and column; a body nesting arrays and objects deeper \
            than 127 levels is refused (400). With no admin token configured, a token that is no \
            credential is told that the admin API is off. A PATCH or upsert that changes nothing \
            writes nothing: no audit event, `updated_at` kept.\n\n\
            Lists answer `{\"data\": [...], \"next_cursor\": ...}`; pass `next_cursor` back as \
            `?cursor=` for the next page. `/v1` bodies refuse unknown and read-only fields (400).\n\n\
            **Permission map.** Tenant `ADMIN`: every permission on every store and company. \
            `BACKOFFICE`: MANAGE_CATALOG, VIEW_USERS, VIEW_STORE, USE_POS on every store. \
            `ACCESS`: USE_POS on the user's `store_ids` (every store when empty). `BLOCKED`: \
            nothing, overriding every other role. Partner `manager`/`api`: VIEW_STORE, \
            MANAGE_STORE on the user's `store_ids`; `viewer`: VIEW_STORE. Commerce roles, in the \
            user's company: `OWNER` every commerce permission; `ADMIN` MANAGE_COMMERCE_USERS, \
            VIEW_ORDERS; `ORDERS` and `COMMERCE_REP` PLACE_ORDERS, VIEW_ORDERS; `FINANCE` \
            VIEW_INVOICES, MANAGE_PAYMENTS; `ATTENTION` CUSTOMER_SERVICE; `OTHER` nothing. \
            Organisation roles, in the user's company: `admin` MANAGE_ORG_USERS, \
            MANAGE_CAMPAIGNS, VIEW_CAMPAIGNS; `manager` MANAGE_CAMPAIGNS, VIEW_CAMPAIGNS; \
            `member` VIEW_CAMPAIGNS. Account type `FULL` adds MANAGE_DEVICES. An inactive user \
            holds nothing.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "tenants", description = "Tenants: the isolation boundary (admin token)."),
        (name = "stores", description = "Stores of a tenant."),
        (name = "companies", description = "Companies (commerces, suppliers, retailers) of a tenant."),
        (name = "users", description = "Users of a tenant, their roles and store access."),
        (name = "api-keys", description = "Machine credentials of a tenant."),
        (name = "accounts", description = "Global accounts (admin token)."),
        (name = "quotes-orders", description = "Minimal quotes and orders of company users."),
        (name = "check", description = "May this user do that here?"),
        (name = "events", description = "The audit log."),
        (name = "webhooks", description = "Signed deliveries of a tenant's events (MANAGE_WEBHOOKS)."),
        (name = "groups", description = "Named sets of users carrying role grants every member holds (VIEW_USERS to read, MANAGE_USERS to write); also the SCIM Groups."),
        (name = "commerce-users", description = "Seed 000: users, roles and contacts of a commerce. \
            The `x-tenant-id` header names the tenant (it must be the credential's); the caller needs \
            MANAGE_COMMERCES. Unknown body fields are ignored."),
        (name = "pos", description = "Seed 003: POS accounts. Sign in on a device (`POST /account` with a \
            device token), read and update the account and the tenant user, exchange an auth token for an \
            access token, and accept invitations. Bodies are camelCase; unknown fields are ignored."),
        (name = "auth", description = "The auth service: global accounts sign in for an auth token; \
            logout ends a session; the JWKS verifies every token offline."),
        (name = "devices", description = "Tills and terminals onboarded to a tenant (MANAGE_DEVICES)."),
        (name = "invitations", description = "Emails invited into a tenant (MANAGE_USERS)."),
        (name = "partner", description = "Seed 001: the partner API's current user, with its partner \
            role and store access."),
        (name = "retail-media", description = "Seed 004: create or update a user of an organisation \
            (a company). Validation failures answer the seed's 400 shape (`errors` as a list of messages)."),
        (name = "b2b", description = "Seed 002: B2B company users as Magento-style customers under \
            `/rest/{store_code}/V1/`. Integer ids are users' and companies' numbers. The tenant is the \
            credential's; the admin token and the customer token call name it in `x-tenant-id`."),
        (name = "operations", description = "Health, readiness and metrics."),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue};
        let components = openapi.components.get_or_insert_with(Default::default);
        // Every credential goes in `Authorization: Bearer <token>` (a bare
        // token works too); what tells them apart is the token itself
        // (`App::authenticate`). Each operation lists the kinds it takes.
        let bearer = |format: Option<&str>, description: &str| {
            let mut http = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description));
            if let Some(format) = format {
                http = http.bearer_format(format);
            }
            SecurityScheme::Http(http.build())
        };
        components.add_security_scheme(
            "admin_token",
            bearer(
                None,
                "The platform operator's token (`ROSTER_ADMIN_TOKEN`): every tenant.",
            ),
        );
        components.add_security_scheme(
            "api_key",
            bearer(
                None,
                "A tenant's API key (`POST /v1/tenants/{tenant}/api-keys`): its own permissions, \
                 or those of the user it is bound to.",
            ),
        );
        components.add_security_scheme(
            "access_token",
            bearer(
                Some("JWT"),
                "A tenant user's access token (EdDSA): from a device sign-in (`POST /account`), \
                 an exchange (`POST /tenants/{tenantUid}/account`) or the B2B customer token \
                 call. Acts with the user's roles.",
            ),
        );
        components.add_security_scheme(
            "auth_token",
            bearer(
                Some("JWT"),
                "A global account's auth token (EdDSA), from `POST /auth/login`.",
            ),
        );
        components.add_security_scheme(
            "device_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The device token of POST /v1/tenants/{t}/devices, bare or after `Bearer `.",
            ))),
        );
    }
}

/// Adds the problem responses every operation can give, so each handler
/// documents only its success.
fn add_problem_responses(openapi: &mut utoipa::openapi::OpenApi) {
    let problems = [
        (
            "400",
            "Malformed JSON, a wrong type, a bad enum or format; `errors` names each field.",
        ),
        ("401", "No credentials, or credentials that are not valid."),
        (
            "403",
            "The credential lacks the permission this call needs.",
        ),
        (
            "404",
            "Not found in this tenant (another tenant's ids answer the same).",
        ),
        (
            "408",
            "The request body did not arrive within the request timeout; the connection is closed.",
        ),
        ("409", "A duplicate, or a locked record."),
        ("413", "The body is larger than 1 MiB."),
        ("415", "The body is not JSON."),
        ("500", "A bug; quote the traceId."),
        (
            "503",
            "At capacity (too many requests in flight, a full password queue, or a request over \
             its time); retry after `Retry-After` seconds.",
        ),
    ];
    for item in openapi.paths.paths.values_mut() {
        for op in crate::schema::operations_of_mut(item) {
            if op
                .tags
                .as_ref()
                .is_some_and(|t| t.iter().any(|t| t == "operations"))
            {
                continue;
            }
            // An error a handler documents without a body (a 429, a 410)
            // still answers a problem.
            for (status, response) in op.responses.responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(response) = response {
                    if status.as_str() >= "400" && response.content.is_empty() {
                        response.content.insert(
                            "application/problem+json".into(),
                            ContentBuilder::new()
                                .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                                .build(),
                        );
                    }
                }
            }
            for (status, description) in problems {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/problem+json",
                                ContentBuilder::new()
                                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// Adds OpenAPI links from each create (a POST answering 201 or 200 with a
/// body that has an `id`, or a tenant's `uid`) to the operations on the
/// created thing (`<create path>/{x}`), naming the created id for `{x}` and
/// the create's own path parameters for the rest, so a client or a stateful
/// tester can follow from a create to its get, patch and delete. A write
/// whose body names other records (a field ending in `_id` or `_ids` other
/// than `external_id`) is left out: its 404 for one of those would read as
/// the created thing missing.
fn add_links(openapi: &mut utoipa::openapi::OpenApi) {
    use crate::schema::path_parameters;
    use utoipa::openapi::link::LinkBuilder;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;

    fn properties_of(
        schema: &RefOr<Schema>,
        schemas: &std::collections::BTreeMap<String, RefOr<Schema>>,
        out: &mut Vec<String>,
    ) {
        match schema {
            RefOr::Ref(r) => {
                let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                if let Some(schema) = schemas.get(name) {
                    properties_of(schema, schemas, out);
                }
            }
            RefOr::T(Schema::Object(object)) => out.extend(object.properties.keys().cloned()),
            RefOr::T(Schema::AllOf(all)) => all
                .items
                .iter()
                .for_each(|s| properties_of(s, schemas, out)),
            _ => {}
        }
    }

    let schemas = openapi
        .components
        .as_ref()
        .map(|c| c.schemas.clone())
        .unwrap_or_default();
    let names_other_records = |op: &utoipa::openapi::path::Operation| {
        let mut fields = Vec::new();
        for content in op.request_body.iter().flat_map(|b| b.content.values()) {
            if let Some(schema) = &content.schema {
                properties_of(schema, &schemas, &mut fields);
            }
        }
        fields.iter().any(|f| {
            f != "external_id" && (f.ends_with("_id") || f.ends_with("_ids") || f.ends_with("Id"))
        })
    };
    // (path, operation id, path parameters) of every operation that may be
    // linked to.
    let mut operations = Vec::new();
    for (path, item) in &openapi.paths.paths {
        for op in crate::schema::operations_of(item).filter(|op| !names_other_records(op)) {
            operations.push((path.clone(), op.operation_id.clone(), path_parameters(op)));
        }
    }
    for (path, item) in openapi.paths.paths.iter_mut() {
        let Some(create) = item.post.as_mut() else {
            continue;
        };
        let own = path_parameters(create);
        for (status, response) in create.responses.responses.iter_mut() {
            if !matches!(status.as_str(), "200" | "201") {
                continue;
            }
            let RefOr::T(response) = response else {
                continue;
            };
            let mut fields = Vec::new();
            for content in response.content.values() {
                if let Some(schema) = &content.schema {
                    properties_of(schema, &schemas, &mut fields);
                }
            }
            let Some(field) = ["id", "uid"]
                .into_iter()
                .find(|f| fields.iter().any(|x| x == f))
            else {
                continue;
            };
            for (target, operation_id, params) in &operations {
                let Some(rest) = target.strip_prefix(path.as_str()) else {
                    continue;
                };
                let Some(created) = rest
                    .strip_prefix("/{")
                    .and_then(|r| r.strip_suffix('}'))
                    .filter(|name| !name.contains('/'))
                    .map(String::from)
                else {
                    continue;
                };
                let (Some(operation_id), true) = (
                    operation_id,
                    params.iter().all(|p| *p == created || own.contains(p)),
                ) else {
                    continue;
                };
                let mut link = LinkBuilder::new()
                    .operation_id(operation_id.clone())
                    .description(format!(
                        "`{created}` is the `{field}` of the created resource"
                    ));
                for param in params {
                    let value = if *param == created {
                        format!("$response.body#/{field}")
                    } else {
                        format!("$request.path.{param}")
                    };
                    link = link.parameter(param.clone(), value);
                }
                response
                    .links
                    .insert(operation_id.clone(), link.build().into());
            }
        }
    }
}

/// The document as served. utoipa 5.5 writes a link's fields in snake_case
/// (`operation_id`); OpenAPI names them in camelCase, so they are renamed
/// here.
fn served(api: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut document = serde_json::to_value(api).expect("the document serializes");
    crate::schema::add_nul_free_value(&mut document);
    if let Some(paths) = document["paths"].as_object_mut() {
        let operations = paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut());
        for operation in operations {
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            let links = responses
                .values_mut()
                .filter_map(|r| r.get_mut("links").and_then(|l| l.as_object_mut()))
                .flat_map(|links| links.values_mut())
                .filter_map(|link| link.as_object_mut());
            for link in links {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        // utoipa writes an empty `operation_ref` it was not given.
                        if value != "" {
                            link.insert(camel.into(), value);
                        }
                    }
                }
            }
        }
    }
    document
}

/// How much the server takes on at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request still running after this answers 503 (and is cancelled:
    /// its transaction, if any, rolls back), or 408 when it is its body
    /// that has not arrived.
    pub request_timeout: Duration,
    /// Requests served at once; one more answers 503 at once.
    pub max_in_flight: usize,
    /// A connection whose request head (request line and headers) has not
    /// arrived this long after it opened, or after its previous response,
    /// is closed (see [`crate::serve`]).
    pub header_timeout: Duration,
    /// How long a stop waits for accepted requests to finish before it
    /// leaves them to be cut (see [`crate::serve`]).
    pub shutdown_timeout: Duration,
}

impl Limits {
    /// The default request timeout: 30 s.
    pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u32 = 30;
    /// The default number of requests in flight.
    pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;
    /// The default header timeout: 10 s.
    pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u32 = 10;
    /// The default shutdown timeout: 30 s, as long as a request may run.
    pub const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS: u32 = 30;
}

impl Default for Limits {
    fn default() -> Self {
        let seconds = |s: u32| Duration::from_secs(u64::from(s));
        Limits {
            request_timeout: seconds(Self::DEFAULT_REQUEST_TIMEOUT_SECONDS),
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT as usize,
            header_timeout: seconds(Self::DEFAULT_HEADER_TIMEOUT_SECONDS),
            shutdown_timeout: seconds(Self::DEFAULT_SHUTDOWN_TIMEOUT_SECONDS),
        }
    }
}

/// The answer to a request refused by the in-flight limit.
async fn over_limits(error: tower::BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::Overloaded {
            detail: "too many requests in flight; retry in 1 s".into(),
            retry_after: 1,
        }
    } else {
        ApiError::Internal(format!("middleware failed: {error}"))
    }
}

/// Runs the request under `limits.request_timeout`. Past it the request is
/// cancelled and answers 408, closing the connection, when the time ran out
/// waiting for its body to arrive (a client trickling it), or 503 when it
/// ran out on the server's side.
async fn time_limit(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let (req, body) = BodyWatch::wrap(req);
    let seconds = limits.request_timeout.as_secs_f64();
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) if body.is_awaited() => {
            let mut response = ApiError::RequestTimeout {
                detail: format!("the request body did not arrive within {seconds} s"),
            }
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        Err(_) => ApiError::Overloaded {
            detail: format!("the request did not finish within {seconds} s"),
            retry_after: 1,
        }
        .into_response(),
    }
}

/// Whether a request's handler is waiting for its body: the last time it
/// asked for more, none had arrived.
#[derive(Clone, Default)]
struct BodyWatch(Arc<AtomicBool>);

impl BodyWatch {
    /// `req` with its body watched (a body already complete needs none).
    fn wrap(req: Request) -> (Request, BodyWatch) {
        let watch = BodyWatch::default();
        if req.body().is_end_stream() {
            return (req, watch);
        }
        let watched = watch.clone();
        let req = req.map(|inner| {
            Body::new(WatchedBody {
                inner,
                watch: watched,
            })
        });
        (req, watch)
    }

    fn is_awaited(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request body that records in its [`BodyWatch`] whether its last poll
/// was left waiting.
struct WatchedBody {
    inner: Body,
    watch: BodyWatch,
}

impl HttpBody for WatchedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.watch.0.store(polled.is_pending(), Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The router and its OpenAPI document.
pub fn router(state: AppState, limits: Limits) -> Router {
    let (api_router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .merge(v1::router())
        .merge(commerce::router())
        .merge(pos::router())
        .merge(partner::router())
        .merge(retail_media::router())
        .merge(b2b::router())
        .split_for_parts();
    add_problem_responses(&mut api);
    add_links(&mut api);
    let components = api.components.get_or_insert_with(Default::default);
    use utoipa::PartialSchema;
    components
        .schemas
        .insert("Problem".into(), crate::Problem::schema());
    crate::schema::refuse_nul(&mut api);
    api_router
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", served(&api)))
        .merge(crate::scim::router())
        .merge(crate::console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(over_limits))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight))
                .layer(middleware::from_fn_with_state(limits, time_limit)),
        )
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A panic is a bug: answer a 500 problem (inside `observe`, so it has a
/// trace id) and log what panicked.
fn panic_to_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("panic: {message}")).into_response()
}

/// Liveness: the process is serving.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = String, example = "ok")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = String, example = "ready"),
    (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(app): State<AppState>) -> Response {
    match app.ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => ApiError::Unavailable(e.to_string()).into_response(),
    }
}

/// Prometheus metrics: request counts and latency histograms by route and
/// status; the event outbox's backlog and webhook delivery outcomes.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String)))]
async fn metrics(State(app): State<AppState>) -> String {
    prometheus();
    app.measure_event_backlog().await;
    let mut text = prometheus().render();
    // This application's own counts: the recorder is one per process, and a
    // test process runs many applications.
    text.push_str(
        "# HELP roster_cache_lookups_total Cache lookups by cache and outcome.\n\
         # TYPE roster_cache_lookups_total counter\n",
    );
    for counts in app.cache_counts() {
        let name = counts.name;
        for (outcome, n) in [("hit", counts.hits), ("miss", counts.misses)] {
            text.push_str(&format!(
                "roster_cache_lookups_total{{cache=\"{name}\",outcome=\"{outcome}\"}} {n}\n"
            ));
        }
    }
    let batches = app.creation_batches();
    text.push_str(&format!(
        "# HELP roster_user_creation_batches_total Shared transactions user creations ran in \
         (group commit).\n\
         # TYPE roster_user_creation_batches_total counter\n\
         roster_user_creation_batches_total {}\n\
         # HELP roster_user_creations_batched_total User creations those transactions held.\n\
         # TYPE roster_user_creations_batched_total counter\n\
         roster_user_creations_batched_total {}\n",
        batches.batches, batches.items
    ));
    text
}

/// The process-wide metrics recorder. `metrics` records into one global
/// recorder by design, so it is installed once however many apps a process
/// builds (tests build many).
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("roster_http_request_duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("the metrics recorder is installed once")
    })
}

/// Gives each request a trace id (response header `x-trace-id`, in every
/// problem body and in the log line), records metrics and logs one line:
/// method, route, status, latency. Never a header value, so never a token.
async fn observe(req: Request, next: Next) -> Response {
    prometheus();
    let started = Instant::now();
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let mut response = TRACE_ID.scope(trace_id.clone(), next.run(req)).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert("x-trace-id", value);
    }
    let labels = [
        ("method", method.clone()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("roster_http_requests_total", &labels).increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "roster::http",
        trace_id = %trace_id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}
