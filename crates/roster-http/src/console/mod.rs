//! The admin console at `/console` (SPEC §8 "Admin console"): pages
//! rendered on the server (maud), one stylesheet embedded in the binary, no
//! script and nothing fetched from elsewhere, so it works with the keyboard
//! alone and in any browser. Every action calls the same application
//! services as the APIs; the console holds no rule of its own.
//!
//! Sign-in: the admin token, or a tenant user's email and password (see
//! `roster_app::console`). The browser holds only a random token in the
//! `roster_console` cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console`,
//! `Secure` when the request came over TLS through a trusted proxy). Every
//! POST carries a CSRF token in its form (checked here, for every route, in
//! [`require_csrf`]); the sign-in form, before any session, is protected by
//! a double-submitted cookie of its own.

mod api_keys;
mod audit;
mod devices;
mod invitations;
mod layout;
mod pages;
mod tenants;
mod user;
mod user_forms;
mod user_groups;
mod users;
mod webhooks;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::{html, Markup};
use roster_app::console::Console;
use roster_app::Caller;
use serde::Deserialize;

use crate::error::ApiError;
use crate::signin::Client;
use crate::AppState;
use layout::{page, Errors};

/// The session cookie.
const SESSION: &str = "roster_console";
/// The sign-in form's double-submitted CSRF cookie.
const SIGN_IN_CSRF: &str = "roster_console_csrf";
/// The largest form the console reads.
const FORM_LIMIT: usize = 64 * 1024;

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/style.css", get(style))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/console/t/{tenant}/users",
            get(users::list).post(users::create),
        )
        .route("/console/t/{tenant}/users/new", get(users::new_user))
        .route("/console/t/{tenant}/users/{id}", get(user::show))
        .route(
            "/console/t/{tenant}/users/{id}/profile",
            post(user_forms::profile),
        )
        .route(
            "/console/t/{tenant}/users/{id}/status",
            post(user_forms::status),
        )
        .route(
            "/console/t/{tenant}/users/{id}/groups",
            post(user_groups::add),
        )
        .route(
            "/console/t/{tenant}/users/{id}/groups/{group}/remove",
            post(user_groups::remove),
        )
        .route(
            "/console/t/{tenant}/users/{id}/tenant-role",
            post(user_forms::tenant_role),
        )
        .route(
            "/console/t/{tenant}/users/{id}/access",
            post(user_forms::access),
        )
        .route(
            "/console/t/{tenant}/users/{id}/password",
            post(user_forms::password),
        )
        .route(
            "/console/t/{tenant}/users/{id}/contacts",
            post(user_forms::add_contact),
        )
        .route(
            "/console/t/{tenant}/users/{id}/contacts/{contact}/primary",
            post(user_forms::set_primary),
        )
        .route(
            "/console/t/{tenant}/users/{id}/sessions/{session}/revoke",
            post(user_forms::revoke_session),
        )
        .route(
            "/console/t/{tenant}/invitations",
            get(invitations::list).post(invitations::invite),
        )
        .route(
            "/console/t/{tenant}/invitations/{id}/revoke",
            post(invitations::revoke),
        )
        .route("/console/t/{tenant}/stores", get(pages::stores))
        .route("/console/t/{tenant}/companies", get(pages::companies))
        .route("/console/t/{tenant}/companies/{id}", get(pages::company))
        .route(
            "/console/t/{tenant}/companies/{company}/users/{id}/parent",
            post(pages::move_under),
        )
        .route(
            "/console/t/{tenant}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/console/t/{tenant}/api-keys/{id}/revoke",
            post(api_keys::revoke),
        )
        .route(
            "/console/t/{tenant}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/console/t/{tenant}/webhooks/{id}",
            get(webhooks::show).post(webhooks::save),
        )
        .route(
            "/console/t/{tenant}/webhooks/{id}/enabled",
            post(webhooks::enabled),
        )
        .route(
            "/console/t/{tenant}/webhooks/{id}/delete",
            post(webhooks::delete),
        )
        .route(
            "/console/t/{tenant}/webhooks/{id}/deliveries",
            get(pages::deliveries),
        )
        .route(
            "/console/t/{tenant}/devices",
            get(devices::list).post(devices::register),
        )
        .route(
            "/console/t/{tenant}/devices/{id}/revoke",
            post(devices::revoke),
        )
        .route("/console/t/{tenant}/audit", get(audit::audit))
        .route("/console/t/{tenant}/check", get(pages::check))
        .layer(middleware::from_fn(require_csrf))
        .layer(middleware::map_response(harden))
}

/// Headers on every console answer: no framing, no script, nothing from
/// elsewhere, nothing cached.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses (403) every state-changing request whose form lacks the CSRF
/// token of the session (or, for the sign-in, of the sign-in cookie).
async fn require_csrf(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let jar = CookieJar::from_headers(request.headers());
    let expected = if request.uri().path() == "/console/sign-in" {
        jar.get(SIGN_IN_CSRF).map(|c| c.value().to_string())
    } else {
        jar.get(SESSION).map(|c| Console::csrf_token(c.value()))
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "This form is larger than the console accepts.",
        );
    };
    let presented = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    match (expected, presented) {
        (Some(expected), Some(presented))
            if roster_core::secret::constant_time_eq(expected.as_bytes(), presented.as_bytes()) =>
        {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => refusal(
            StatusCode::FORBIDDEN,
            "This form did not come from your console session (its CSRF token is missing or \
             stale). Reload the page and try again.",
        ),
    }
}

/// A page that only says what went wrong.
fn refusal(status: StatusCode, message: &str) -> Response {
    let body = page(
        "Refused",
        None,
        html! {
            h1 { "Refused" }
            (layout::problem(html! { (message) }))
            p { a href="/console" { "Back to the console" } }
        },
    );
    (status, body).into_response()
}

/// A signed-in console request: who, and what its forms carry.
pub(crate) struct Signed {
    pub caller: Caller,
    /// The CSRF token for this session's forms.
    pub csrf: String,
}

impl Signed {
    /// Whether this is the platform operator.
    fn operator(&self) -> bool {
        matches!(self.caller, Caller::Admin)
    }

    /// The tenant a tenant user belongs to.
    pub(crate) fn own_tenant(&self) -> Option<&str> {
        match &self.caller {
            Caller::User { tenant, .. } => Some(tenant),
            _ => None,
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION).map(|c| c.value().to_string()) else {
            return Err(Redirect::to("/console/sign-in").into_response());
        };
        match state.console().caller(&token).await {
            Ok(caller) => Ok(Signed {
                caller,
                csrf: Console::csrf_token(&token),
            }),
            Err(roster_app::AppError::Unauthorized(_)) => {
                let jar = jar.remove(session_cookie(String::new(), false));
                Err((jar, Redirect::to("/console/sign-in?ended=1")).into_response())
            }
            Err(e) => Err(error_page(None, ApiError::from(e))),
        }
    }
}

/// A page for an error outside any form.
pub(crate) fn error_page(signed: Option<(&Signed, &str)>, error: ApiError) -> Response {
    let status = error.status();
    if let ApiError::Internal(detail) = &error {
        tracing::error!(trace_id = %crate::error::trace_id(), error = %detail, "internal error");
    }
    let problem = error.problem();
    let nav = signed.map(|(s, tenant)| layout::Nav::new(s, Some(tenant), ""));
    let body = page(
        "Error",
        nav.as_ref(),
        html! {
            h1 { (problem.title) }
            (layout::problem(html! { (problem.detail) }))
        },
    );
    (status, body).into_response()
}

/// Whether the request reached the proxy in front of Roster over TLS: its
/// `X-Forwarded-Proto`, believed only from a trusted proxy.
fn over_tls(parts: &Parts, state: &AppState) -> bool {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|p| state.config().trusted_proxies.trusts(p));
    trusted
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Whether the request came over TLS (see [`over_tls`]).
pub(crate) struct Tls(bool);

impl FromRequestParts<AppState> for Tls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Tls(over_tls(parts, state)))
    }
}

fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("style.css"),
    )
        .into_response()
}

/// Where a signed-in user starts: the operator at the tenants, a tenant
/// user at their tenant's users.
fn start_of(signed: &Signed) -> String {
    match signed.own_tenant() {
        Some(tenant) => format!("/console/t/{tenant}/users"),
        None => "/console/tenants".into(),
    }
}

async fn home(State(state): State<AppState>, parts: Parts) -> Response {
    let mut parts = parts;
    match Signed::from_request_parts(&mut parts, &state).await {
        Ok(signed) => Redirect::to(&start_of(&signed)).into_response(),
        Err(_) => Redirect::to("/console/sign-in").into_response(),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct SignInQuery {
    ended: Option<String>,
}

async fn sign_in_page(
    jar: CookieJar,
    Tls(tls): Tls,
    axum::extract::Query(query): axum::extract::Query<SignInQuery>,
) -> Response {
    let (jar, csrf) = sign_in_csrf(jar, tls);
    let notice = query
        .ended
        .map(|_| "Your console session ended. Sign in again.");
    let body = sign_in_form(&csrf, notice, &Errors::default(), "", "", "");
    (jar, body).into_response()
}

/// The sign-in form's CSRF cookie (kept when present, else made).
fn sign_in_csrf(jar: CookieJar, tls: bool) -> (CookieJar, String) {
    if let Some(existing) = jar.get(SIGN_IN_CSRF) {
        let value = existing.value().to_string();
        return (jar, value);
    }
    let (value, _) = roster_core::secret::new_token("csrf");
    let cookie = Cookie::build((SIGN_IN_CSRF, value.clone()))
        .path("/console/sign-in")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(tls)
        .build();
    (jar.add(cookie), value)
}

fn sign_in_form(
    csrf: &str,
    notice: Option<&str>,
    errors: &Errors,
    form: &str,
    tenant: &str,
    email: &str,
) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in to Roster" }
            @if let Some(notice) = notice { (layout::notice(html! { (notice) })) }
            @if form == "operator" { (errors.general()) }
            form #operator-sign-in method="post" action="/console/sign-in" {
                h2 { "Platform operator" }
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="kind" value="operator";
                div.fields {
                    (layout::field("admin-token", "Admin token", "admin_token", "password", "", errors.of_form(form == "operator", "admin_token")))
                }
                p { button type="submit" { "Sign in" } }
            }
            @if form == "user" { (errors.general()) }
            form #user-sign-in method="post" action="/console/sign-in" {
                h2 { "Tenant user" }
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="kind" value="user";
                div.fields {
                    (layout::field("tenant", "Tenant", "tenant", "text", tenant, errors.of_form(form == "user", "tenant")))
                    (layout::field("email", "Email", "email", "email", email, errors.of_form(form == "user", "email")))
                    (layout::field("password", "Password", "password", "password", "", errors.of_form(form == "user", "password")))
                }
                p { button type="submit" { "Sign in" } }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    csrf: String,
    kind: String,
    #[serde(default)]
    admin_token: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    Tls(tls): Tls,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    let console = state.console();
    let outcome = match form.kind.as_str() {
        "operator" if form.admin_token.is_empty() => {
            Err(Errors::field("admin_token", "Enter the admin token."))
        }
        "operator" => console
            .sign_in_operator(&form.admin_token)
            .await
            .map_err(|e| Errors::from_app(e, "admin_token")),
        _ => {
            let mut missing = Errors::default();
            for (name, value, label) in [
                ("tenant", &form.tenant, "the tenant"),
                ("email", &form.email, "your email"),
                ("password", &form.password, "your password"),
            ] {
                if value.trim().is_empty() {
                    missing.push(name, &format!("Enter {label}."));
                }
            }
            if missing.is_empty() {
                console
                    .sign_in_user(
                        form.tenant.trim(),
                        form.email.trim(),
                        &form.password,
                        client,
                    )
                    .await
                    .map_err(|e| Errors::from_app(e, "password"))
            } else {
                Err(missing)
            }
        }
    };
    match outcome {
        Ok(token) => {
            let jar = jar
                .add(session_cookie(token, tls))
                .remove(Cookie::build(SIGN_IN_CSRF).path("/console/sign-in").build());
            let to = match form.kind.as_str() {
                "operator" => "/console/tenants".to_string(),
                _ => format!("/console/t/{}/users", form.tenant.trim()),
            };
            (jar, Redirect::to(&to)).into_response()
        }
        Err(errors) => {
            let kind = if form.kind == "operator" {
                "operator"
            } else {
                "user"
            };
            let body = sign_in_form(&form.csrf, None, &errors, kind, &form.tenant, &form.email);
            (errors.status, body).into_response()
        }
    }
}

async fn sign_out(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(token) = jar.get(SESSION).map(|c| c.value().to_string()) {
        if let Err(e) = state.console().sign_out(&token).await {
            return error_page(None, ApiError::from(e));
        }
    }
    let jar = jar.remove(session_cookie(String::new(), false));
    (jar, Redirect::to("/console/sign-in")).into_response()
}
