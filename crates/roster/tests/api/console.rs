//! The admin console over plain HTTP (SPEC §8 "Admin console", issue #12):
//! sign-in both ways, the cookie's attributes, CSRF on every POST, tenant
//! isolation, what VIEW_USERS alone allows, sign-out, the idle timeout and
//! a deactivation ending a signed-in user at once; the user page's actions
//! reach the same services as the API. The browser tests
//! (`console_browser.rs`) drive the same pages through Chromium.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    the_operator_signs_in_with_a_strict_cookie_and_sees_the_tenants,
    a_wrong_admin_token_is_refused_beside_its_field,
    every_post_without_its_csrf_token_is_refused,
    a_tenant_user_signs_in_and_sees_only_their_tenant,
    a_user_who_may_not_read_users_may_not_sign_in,
    view_users_alone_shows_no_changes_and_refuses_them,
    sign_out_ends_the_session_on_the_server,
    an_idle_sign_in_ends,
    deactivating_a_signed_in_user_ends_their_console_session,
    the_user_page_changes_what_the_api_shows,
    the_check_page_answers_as_the_check_does,
    the_users_search_finds_by_name_email_code_and_external_id,
    a_temporary_password_is_shown_once_and_signs_in,
    api_keys_are_made_with_only_what_the_maker_holds,
    a_users_audit_trail_lists_its_changes_newest_first,
    the_audit_log_filters_and_pages_newest_first,
    the_operator_creates_tenants_and_only_the_operator,
    a_user_joins_and_leaves_groups_on_their_page,
    webhooks_are_created_disabled_and_deleted,
    devices_are_listed_and_revoked,
    a_webhooks_deliveries_are_listed,
    commerce_roles_and_stores_are_replaced_by_the_rules_of_the_api,
    a_companys_hierarchy_is_a_tree_and_users_move_under_others,
    invitations_are_sent_listed_and_revoked,
    api_keys_act_as_a_user_and_are_revoked,
    devices_are_registered_with_their_token_shown_once,
    a_webhook_is_changed_on_its_page,
    refusals_and_outcomes_take_the_focus,
);

/// A browser without one: cookies by hand, no redirects followed.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

/// An answer: status, `Location`, `Set-Cookie` lines and the page.
struct Page {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    html: String,
}

impl Page {
    /// The text of the element with this id (plain text, no markup).
    fn text_of(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\">");
        let at = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no #{id} in {}", self.html))
            + marker.len();
        self.html[at..at + self.html[at..].find('<').unwrap()].to_string()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        hidden(&self.html, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.html))
    }
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: Vec::new(),
        }
    }

    fn remember(&mut self, page: &Page) {
        for line in &page.set_cookies {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            let removed = line.contains("Max-Age=0") || value.is_empty();
            if !removed {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let page = Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_string()),
            set_cookies: response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect(),
            html: response.text().await.unwrap(),
        };
        self.remember(&page);
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Signs the operator in; the page it lands on is the tenants.
    async fn as_operator(app: &TestApp) -> (Browser, String) {
        let mut browser = Browser::new(app);
        let form = browser.get("/console/sign-in").await;
        let csrf = form.csrf();
        let signed = browser
            .post(
                "/console/sign-in",
                &[
                    ("csrf", &csrf),
                    ("kind", "operator"),
                    ("admin_token", ADMIN),
                ],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.html);
        assert_eq!(signed.location.as_deref(), Some("/console/tenants"));
        let tenants = browser.get("/console/tenants").await;
        assert_eq!(tenants.status, 200);
        let csrf = tenants.csrf();
        (browser, csrf)
    }

    /// Signs a tenant user in: the status of the sign-in, and the CSRF
    /// token of the page it lands on when it succeeded.
    async fn as_user(
        app: &TestApp,
        tenant: &str,
        email: &str,
        password: &str,
    ) -> (Browser, u16, String) {
        let mut browser = Browser::new(app);
        let form = browser.get("/console/sign-in").await;
        let csrf = form.csrf();
        let signed = browser
            .post(
                "/console/sign-in",
                &[
                    ("csrf", &csrf),
                    ("kind", "user"),
                    ("tenant", tenant),
                    ("email", email),
                    ("password", password),
                ],
            )
            .await;
        if signed.status != 303 {
            return (browser, signed.status, signed.html);
        }
        let landing = browser.get(signed.location.as_deref().unwrap()).await;
        assert_eq!(landing.status, 200, "{}", landing.html);
        let csrf = landing.csrf();
        (browser, 303, csrf)
    }
}

const PASSWORD: &str = "console-password-1";

/// A tenant with a user of this tenant role and a password.
async fn tenant_with_user(app: &TestApp, uid: &str, role: &str) -> (String, String) {
    let t = app.tenant(uid).await;
    let email = format!("{role}@{uid}.example.com").to_lowercase();
    let user = app
        .user(
            &t,
            json!({"email": email, "first_name": "Ada", "last_name": "Admin", "password": PASSWORD, "tenant_role": role}),
        )
        .await;
    (t, id(&user))
}

async fn the_operator_signs_in_with_a_strict_cookie_and_sees_the_tenants(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.tenant("acme").await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/console/sign-in").await;
    assert_eq!(form.status, 200);
    for name in ["Admin token", "Email", "Password", "Sign in"] {
        assert!(form.html.contains(&format!(">{name}<")), "{name} missing");
    }
    let csrf = form.csrf();
    let signed = browser
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("kind", "operator"),
                ("admin_token", ADMIN),
            ],
        )
        .await;
    assert_eq!(signed.status, 303);
    let cookie = signed
        .set_cookies
        .iter()
        .find(|c| c.starts_with("roster_console="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    // The admin token is never stored in the browser.
    assert!(!cookie.contains(ADMIN) && !signed.set_cookies.iter().any(|c| c.contains(ADMIN)));
    // Over plain HTTP the cookie is not Secure; through a trusted TLS proxy it is.
    assert!(!cookie.contains("Secure"));
    let tenants = browser.get("/console/tenants").await;
    assert_eq!(tenants.status, 200);
    assert!(tenants.html.contains("acme"));
    assert!(tenants.html.contains(">Sign out<"));
    let users = browser.get("/console/t/acme/users").await;
    assert_eq!(users.status, 200);
    for name in [
        "Users",
        "Stores",
        "Companies",
        "API keys",
        "Webhooks",
        "Audit log",
        "Check",
        "Search users",
    ] {
        assert!(users.html.contains(&format!(">{name}<")), "{name} missing");
    }
    let headers = browser
        .client
        .get(format!("{}/console/t/acme/users", app.base))
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .unwrap();
    let csp = headers.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    // Without a session every page sends the browser to the sign-in.
    let mut stranger = Browser::new(&app);
    let page = stranger.get("/console/t/acme/users").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/console/sign-in"))
    );
}

async fn a_wrong_admin_token_is_refused_beside_its_field(engine: Engine) {
    let app = TestApp::start(engine).await;
    let mut browser = Browser::new(&app);
    let csrf = browser.get("/console/sign-in").await.csrf();
    let refused = browser
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("kind", "operator"),
                ("admin_token", "not-the-token"),
            ],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(refused.html.contains("id=\"admin-token\" name=\"admin_token\" type=\"password\" value=\"\" aria-invalid=\"true\" aria-describedby=\"admin-token-error\""), "{}", refused.html);
    assert!(refused.html.contains("The admin token is not correct."));
    assert!(!refused
        .set_cookies
        .iter()
        .any(|c| c.starts_with("roster_console=")));
    // An empty token is named, not tried.
    let empty = browser
        .post(
            "/console/sign-in",
            &[("csrf", &csrf), ("kind", "operator"), ("admin_token", "")],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.html.contains("Enter the admin token."));
}

async fn every_post_without_its_csrf_token_is_refused(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    // The sign-in without the token its cookie carries.
    let mut browser = Browser::new(&app);
    browser.get("/console/sign-in").await;
    let refused = browser
        .post(
            "/console/sign-in",
            &[("kind", "operator"), ("admin_token", ADMIN)],
        )
        .await;
    assert_eq!(refused.status, 403);
    let forged = browser
        .post(
            "/console/sign-in",
            &[
                ("csrf", "csrf_forged"),
                ("kind", "operator"),
                ("admin_token", ADMIN),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // A signed-in form without its token, or with another session's.
    let (mut operator, csrf) = Browser::as_operator(&app).await;
    let (_, other_csrf) = Browser::as_operator(&app).await;
    assert_ne!(csrf, other_csrf);
    let path = format!("/console/t/{t}/users");
    for form in [
        vec![("email", "x@example.com")],
        vec![("csrf", ""), ("email", "x@example.com")],
        vec![("csrf", other_csrf.as_str()), ("email", "x@example.com")],
    ] {
        let page = operator.post(&path, &form).await;
        assert_eq!(page.status, 403, "{}", page.html);
        assert!(page.html.contains("CSRF"));
    }
    assert_eq!(app.count("users").await, 0);
    let signed_out = operator.post("/console/sign-out", &[]).await;
    assert_eq!(signed_out.status, 403);
    // With its token the same form works.
    let made = operator
        .post(&path, &[("csrf", &csrf), ("email", "x@example.com")])
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    assert_eq!(app.count("users").await, 1);
}

async fn a_tenant_user_signs_in_and_sees_only_their_tenant(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (a, _) = tenant_with_user(&app, "alpha", "ADMIN").await;
    let (b, _) = tenant_with_user(&app, "beta", "ADMIN").await;
    app.user(&b, json!({"email": "secret@beta.example.com"}))
        .await;
    let (mut browser, status, _) =
        Browser::as_user(&app, &a, "admin@alpha.example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let own = browser.get(&format!("/console/t/{a}/users")).await;
    assert_eq!(own.status, 200);
    assert!(own.html.contains("admin@alpha.example.com"));
    assert!(
        !own.html.contains(">Tenants<"),
        "a tenant user has no tenants page"
    );
    for page in ["users", "stores", "check", "audit"] {
        let other = browser.get(&format!("/console/t/{b}/{page}")).await;
        assert_eq!(other.status, 404, "{page}: {}", other.html);
        assert!(!other.html.contains("secret@beta.example.com"));
    }
    let tenants = browser.get("/console/tenants").await;
    assert_eq!(tenants.status, 303);
    assert_eq!(tenants.location, Some(format!("/console/t/{a}/users")));
    // Wrong password, unknown email, unknown tenant: one answer.
    for (tenant, email, password) in [
        (a.as_str(), "admin@alpha.example.com", "wrong-password"),
        (a.as_str(), "nobody@alpha.example.com", PASSWORD),
    ] {
        let (_, status, html) = Browser::as_user(&app, tenant, email, password).await;
        assert_eq!(status, 401);
        assert!(
            html.contains("The email or password is not correct."),
            "{html}"
        );
    }
    let (_, status, _) = Browser::as_user(&app, "gamma", "admin@alpha.example.com", PASSWORD).await;
    assert_eq!(status, 404);
}

async fn a_user_who_may_not_read_users_may_not_sign_in(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (t, _) = tenant_with_user(&app, "acme", "ACCESS").await;
    let (_, status, html) = Browser::as_user(&app, &t, "access@acme.example.com", PASSWORD).await;
    assert_eq!(status, 403);
    assert!(html.contains("VIEW_USERS"), "{html}");
}

async fn view_users_alone_shows_no_changes_and_refuses_them(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (t, _) = tenant_with_user(&app, "acme", "BACKOFFICE").await;
    let other = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let (mut browser, status, csrf) =
        Browser::as_user(&app, &t, "backoffice@acme.example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let page = browser.get(&format!("/console/t/{t}/users/{other}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains(">Deactivate<") && !page.html.contains(">Save profile<"));
    assert!(!page.html.contains("New user"));
    let refused = browser
        .post(
            &format!("/console/t/{t}/users/{other}/status"),
            &[("csrf", &csrf), ("status", "INACTIVE")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    assert!(refused.html.contains("MANAGE_USERS"));
    let user = app
        .get(&format!("/v1/tenants/{t}/users/{other}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(user["status"], "ACTIVE");
    // API keys need MANAGE_API_KEYS: said on the page, nothing listed.
    let keys = browser.get(&format!("/console/t/{t}/api-keys")).await;
    assert_eq!(keys.status, 403);
}

async fn sign_out_ends_the_session_on_the_server(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (t, user) = tenant_with_user(&app, "acme", "ADMIN").await;
    let (mut browser, _, csrf) =
        Browser::as_user(&app, &t, "admin@acme.example.com", PASSWORD).await;
    let kept = browser.cookies.clone();
    let page = browser.get(&format!("/console/t/{t}/users/{user}")).await;
    assert!(page.html.contains("this console session"));
    let out = browser.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(
        (out.status, out.location.as_deref()),
        (303, Some("/console/sign-in"))
    );
    assert!(out
        .set_cookies
        .iter()
        .any(|c| c.starts_with("roster_console=;") || c.contains("Max-Age=0")));
    // The cookie a copy kept no longer works: the session ended on the server.
    browser.cookies = kept;
    let after = browser.get(&format!("/console/t/{t}/users")).await;
    assert_eq!(after.status, 303);
    assert!(after.location.unwrap().starts_with("/console/sign-in"));
    // ...and so did the user's session behind it.
    assert_eq!(
        app.rows_as_text("SELECT CAST(COUNT(*) AS TEXT) FROM sessions WHERE revoked_at IS NULL")
            .await,
        vec!["0"]
    );
    assert_eq!(app.count("console_sessions").await, 0);
}

async fn an_idle_sign_in_ends(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (mut browser, _) = Browser::as_operator(&app).await;
    // Busy sign-ins stay: 20 minutes, a request, 20 minutes more.
    app.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        browser.get(&format!("/console/t/{t}/users")).await.status,
        200
    );
    app.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        browser.get(&format!("/console/t/{t}/users")).await.status,
        200
    );
    // Past the idle timeout (30 minutes) it has ended.
    app.clock.advance(chrono::Duration::minutes(31));
    let ended = browser.get(&format!("/console/t/{t}/users")).await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location.as_deref(), Some("/console/sign-in?ended=1"));
    let form = browser.get("/console/sign-in?ended=1").await;
    assert!(form.html.contains("Your console session ended."));
    assert_eq!(app.count("console_sessions").await, 0);
}

async fn deactivating_a_signed_in_user_ends_their_console_session(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (t, user) = tenant_with_user(&app, "acme", "ADMIN").await;
    let (mut browser, _, _) = Browser::as_user(&app, &t, "admin@acme.example.com", PASSWORD).await;
    assert_eq!(
        browser.get(&format!("/console/t/{t}/users")).await.status,
        200
    );
    let (mut operator, csrf) = Browser::as_operator(&app).await;
    let done = operator
        .post(
            &format!("/console/t/{t}/users/{user}/status"),
            &[("csrf", &csrf), ("status", "INACTIVE")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let ended = browser.get(&format!("/console/t/{t}/users")).await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location.as_deref(), Some("/console/sign-in?ended=1"));
}

async fn the_user_page_changes_what_the_api_shows(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    // Create: a bad email is shown beside its field, nothing is created.
    let bad = browser
        .post(
            &format!("/console/t/{t}/users"),
            &[
                ("csrf", &csrf),
                ("email", "not-an-email"),
                ("first_name", "Lee"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    assert!(
        bad.html.contains("aria-describedby=\"email-error\""),
        "{}",
        bad.html
    );
    assert!(bad.html.contains("value=\"Lee\""), "what was typed is kept");
    assert_eq!(app.count("users").await, 0);
    let made = browser
        .post(
            &format!("/console/t/{t}/users"),
            &[
                ("csrf", &csrf),
                ("email", "lee@example.com"),
                ("first_name", "Lee"),
                ("last_name", "Cash"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    let location = made.location.unwrap();
    let user = location
        .trim_start_matches(&format!("/console/t/{t}/users/"))
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let shown = browser.get(&location).await;
    assert!(shown.html.contains("User created."));
    assert_eq!(api(&app, &t, &user).await["first_name"], "Lee");
    // A duplicate email: the conflict beside the email field.
    let dup = browser
        .post(
            &format!("/console/t/{t}/users"),
            &[("csrf", &csrf), ("email", "LEE@example.com")],
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.html);
    assert!(dup.html.contains("email-error"));
    let path = format!("/console/t/{t}/users/{user}");
    // Tenant role, then a bad one.
    let role = browser
        .post(
            &format!("{path}/tenant-role"),
            &[("csrf", &csrf), ("tenant_role", "BACKOFFICE")],
        )
        .await;
    assert_eq!(role.status, 303, "{}", role.html);
    assert_eq!(api(&app, &t, &user).await["tenant_role"], "BACKOFFICE");
    let bad_role = browser
        .post(
            &format!("{path}/tenant-role"),
            &[("csrf", &csrf), ("tenant_role", "KING")],
        )
        .await;
    assert_eq!(bad_role.status, 400);
    assert!(bad_role.html.contains("tenant-role-error"));
    // Profile.
    let saved = browser
        .post(
            &format!("{path}/profile"),
            &[
                ("csrf", &csrf),
                ("first_name", "Leona"),
                ("last_name", "Cash"),
                ("email", "leona@example.com"),
                ("job_title", "Cashier"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let now = api(&app, &t, &user).await;
    assert_eq!(
        (now["first_name"].as_str(), now["job_title"].as_str()),
        (Some("Leona"), Some("Cashier"))
    );
    // Contacts: two, then the second made primary.
    for value in ["one@example.com", "two@example.com"] {
        let added = browser
            .post(
                &format!("{path}/contacts"),
                &[("csrf", &csrf), ("contact_type", "EMAIL"), ("value", value)],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.html);
    }
    let bad_contact = browser
        .post(
            &format!("{path}/contacts"),
            &[
                ("csrf", &csrf),
                ("contact_type", "EMAIL"),
                ("value", "nope"),
            ],
        )
        .await;
    assert_eq!(bad_contact.status, 400);
    assert!(bad_contact.html.contains("contact-value-error"));
    let page = browser.get(&path).await;
    let marker = "/contacts/";
    let ids: Vec<String> = page
        .html
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &page.html[i + marker.len()..];
            rest.find("/primary").map(|end| rest[..end].to_string())
        })
        .collect();
    assert!(!ids.is_empty(), "{}", page.html);
    let second = ids.last().unwrap();
    let primary = browser
        .post(
            &format!("{path}/contacts/{second}/primary"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(primary.status, 303, "{}", primary.html);
    let primaries = app
        .rows_as_text(&format!(
            "SELECT value FROM contacts WHERE user_id = '{user}' AND is_primary = {}",
            if engine == Engine::Sqlite {
                "1"
            } else {
                "true"
            }
        ))
        .await;
    assert_eq!(
        primaries,
        vec![app
            .rows_as_text(&format!("SELECT value FROM contacts WHERE id = '{second}'"))
            .await[0]
            .clone()]
    );
    // A session of the user, listed and revoked.
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"password": "a-long-password-1", "email": "leona@example.com"}),
    )
    .await
    .expect(200);
    let signed_in = app
        .client
        .post(format!(
            "{}/rest/default/V1/integration/customer/token",
            app.base
        ))
        .header("x-tenant-id", &t)
        .json(&json!({"username": "leona@example.com", "password": "a-long-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let access: String = signed_in.json().await.unwrap();
    let page = browser.get(&path).await;
    let marker = "/sessions/";
    let at = page.html.find(marker).expect("a session listed") + marker.len();
    let session = page.html[at..at + 36].to_string();
    let revoked = browser
        .post(
            &format!("{path}/sessions/{session}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    let me = app
        .client
        .get(format!("{}/v1/tenants/{t}/users/{user}", app.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status().as_u16(),
        401,
        "the revoked session's token stops at once"
    );
    // Deactivate: the button of the page.
    let page = browser.get(&path).await;
    assert!(page.html.contains(">Deactivate<"));
    let off = browser
        .post(
            &format!("{path}/status"),
            &[("csrf", &csrf), ("status", "INACTIVE")],
        )
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(api(&app, &t, &user).await["status"], "INACTIVE");
    assert!(browser.get(&path).await.html.contains(">Activate<"));
    // Another tenant's user through this tenant's page: 404, nothing changed.
    let other_tenant = app.tenant("other").await;
    let stranger = id(&app
        .user(&other_tenant, json!({"email": "x@other.example.com"}))
        .await);
    let cross = browser
        .post(
            &format!("/console/t/{t}/users/{stranger}/status"),
            &[("csrf", &csrf), ("status", "INACTIVE")],
        )
        .await;
    assert_eq!(cross.status, 404);
    assert_eq!(
        api(&app, &other_tenant, &stranger).await["status"],
        "ACTIVE"
    );
}

async fn the_check_page_answers_as_the_check_does(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let cashier = id(&app
        .user(
            &t,
            json!({"email": "cash@example.com", "tenant_role": "ACCESS", "store_ids": [store]}),
        )
        .await);
    let (mut browser, _) = Browser::as_operator(&app).await;
    let form = browser.get(&format!("/console/t/{t}/check")).await;
    for name in ["User", "Permission", "Check"] {
        assert!(form.html.contains(&format!(">{name}<")), "{name}");
    }
    for (user, permission, store_id, word) in [
        ("cash@example.com", "USE_POS", store.as_str(), "allowed"),
        (cashier.as_str(), "USE_POS", store.as_str(), "allowed"),
        ("cash@example.com", "MANAGE_USERS", "", "denied"),
    ] {
        let page = browser
            .get(&format!(
                "/console/t/{t}/check?user={user}&permission={permission}&store_id={store_id}"
            ))
            .await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(
            page.html
                .contains(&format!("id=\"answer\" role=\"status\">{word}<")),
            "{}",
            page.html
        );
        let answer = app
            .post(&format!("/v1/tenants/{t}/check"), ADMIN, json!({"user_id": cashier, "permission": permission, "store_id": Some(store_id).filter(|s| !s.is_empty())}))
            .await
            .expect(200);
        assert_eq!(answer["allowed"], word == "allowed");
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            page.html.contains(&html_escape(reason)),
            "{reason} not in {}",
            page.html
        );
    }
    let unknown = browser
        .get(&format!(
            "/console/t/{t}/check?user=nobody@example.com&permission=USE_POS"
        ))
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.html.contains("user-error"));
    let bad = browser
        .get(&format!(
            "/console/t/{t}/check?user=cash@example.com&permission=FLY"
        ))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("permission-error"));
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn the_users_search_finds_by_name_email_code_and_external_id(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.user(&t, json!({"email": "maria@example.com", "first_name": "Maria", "user_code": "1001", "external_id": "erp-77"})).await;
    app.user(
        &t,
        json!({"email": "john@example.com", "first_name": "John", "status": "INACTIVE"}),
    )
    .await;
    let (mut browser, _) = Browser::as_operator(&app).await;
    for q in ["mari", "MARIA@EXAMPLE", "1001", "erp-77"] {
        let page = browser.get(&format!("/console/t/{t}/users?q={q}")).await;
        assert_eq!(page.status, 200);
        assert!(page.html.contains("maria@example.com"), "{q}");
        assert!(!page.html.contains("john@example.com"), "{q}");
    }
    let inactive = browser
        .get(&format!("/console/t/{t}/users?status=INACTIVE"))
        .await;
    assert!(
        inactive.html.contains("john@example.com") && !inactive.html.contains("maria@example.com")
    );
    let none = browser.get(&format!("/console/t/{t}/users?q=zzz")).await;
    assert!(none.html.contains("No users match."));
    let bad = browser
        .get(&format!("/console/t/{t}/users?status=MAYBE"))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("status-error"));
}

/// A user as the API shows it.
async fn api(app: &TestApp, t: &str, user: &str) -> serde_json::Value {
    app.get(&format!("/v1/tenants/{t}/users/{user}"), ADMIN)
        .await
        .expect(200)
}

async fn a_temporary_password_is_shown_once_and_signs_in(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/users/{user}");
    let shown = browser
        .post(&format!("{path}/password"), &[("csrf", &csrf)])
        .await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    let password = shown.text_of("temporary-password");
    let password = password.as_str();
    assert!(password.len() >= 20);
    assert!(shown.set_cookies.is_empty());
    let signed_in = app
        .client
        .post(format!(
            "{}/rest/default/V1/integration/customer/token",
            app.base
        ))
        .header("x-tenant-id", &t)
        .json(&json!({"username": "lee@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    // Shown once: the page does not show it again, and the log never did.
    let again = browser.get(&path).await;
    assert!(!again.html.contains(password));
    let stored = app
        .rows_as_text(&format!(
            "SELECT password_hash FROM users WHERE id = '{user}'"
        ))
        .await;
    assert!(stored[0].starts_with("$argon2id$") && !stored[0].contains(password));
    // Without MANAGE_USERS: refused, the password kept.
    let (t2, _) = tenant_with_user(&app, "beta", "BACKOFFICE").await;
    let other = id(&app
        .user(
            &t2,
            json!({"email": "x@beta.example.com", "password": "kept-password-1"}),
        )
        .await);
    let (mut viewer, status, viewer_csrf) =
        Browser::as_user(&app, &t2, "backoffice@beta.example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let refused = viewer
        .post(
            &format!("/console/t/{t2}/users/{other}/password"),
            &[("csrf", &viewer_csrf)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(!refused.html.contains("temporary-password"));
}

async fn api_keys_are_made_with_only_what_the_maker_holds(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/api-keys");
    let page = browser.get(&path).await;
    assert!(page.html.contains(">Create API key<"));
    let none = browser
        .post(&path, &[("csrf", &csrf), ("name", "pos")])
        .await;
    assert_eq!(none.status, 422);
    assert!(none
        .html
        .contains("Tick at least one permission, or name a user"));
    let made = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "pos"),
                ("permission", "VIEW_USERS"),
                ("permission", "USE_POS"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.html);
    let token = made.text_of("new-token");
    let listed = app.get(&format!("/v1/tenants/{t}/users"), &token).await;
    assert_eq!(listed.status, 200, "the new key works");
    assert!(browser
        .get(&path)
        .await
        .html
        .contains("VIEW_USERS, USE_POS"));
    assert!(
        !browser.get(&path).await.html.contains(&token),
        "shown once"
    );
    // A tenant user holding VIEW_USERS alone: no form, and a forged POST refused.
    let (_, _) = tenant_with_user(&app, "beta", "BACKOFFICE").await;
    let (mut viewer, _, viewer_csrf) =
        Browser::as_user(&app, "beta", "backoffice@beta.example.com", PASSWORD).await;
    let refused = viewer
        .post(
            "/console/t/beta/api-keys",
            &[
                ("csrf", &viewer_csrf),
                ("name", "x"),
                ("permission", "VIEW_USERS"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    assert_eq!(
        app.rows_as_text("SELECT CAST(COUNT(*) AS TEXT) FROM api_keys WHERE tenant_id = 'beta'")
            .await,
        vec!["0"]
    );
}

async fn a_users_audit_trail_lists_its_changes_newest_first(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let other = id(&app.user(&t, json!({"email": "sam@example.com"})).await);
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"first_name": "Lee"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/v1/tenants/{t}/users/{other}"),
        ADMIN,
        json!({"first_name": "Sam"}),
    )
    .await
    .expect(200);
    let (mut browser, _) = Browser::as_operator(&app).await;
    let page = browser.get(&format!("/console/t/{t}/users/{user}")).await;
    let trail = &page.html[page.html.find("Audit trail").expect("a trail")..];
    let updated = trail.find("user.updated").expect("the update");
    let created = trail.find("user.created").expect("the creation");
    assert!(updated < created, "newest first");
    assert_eq!(
        trail.matches("user.updated").count(),
        1,
        "only this user's changes"
    );
}

async fn the_audit_log_filters_and_pages_newest_first(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let other = app.tenant("beta").await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let sam = id(&app.user(&t, json!({"email": "sam@example.com"})).await);
    let kim = id(&app.user(&other, json!({"email": "kim@example.com"})).await);
    let path = format!("/v1/tenants/{t}/users/{lee}");
    for n in 0..101 {
        app.patch(&path, ADMIN, json!({"first_name": format!("Lee {n}")}))
            .await
            .expect(200);
    }
    let (mut browser, _) = Browser::as_operator(&app).await;
    let rows = |page: &Page| -> Vec<String> {
        let table = &page.html[page.html.find("id=\"audit-events\"").expect("a table")..];
        let body = &table[..table.find("</table>").unwrap()];
        body.split("<tr>").skip(2).map(str::to_string).collect()
    };

    // By action: this tenant's two creations, newest first, nothing of beta's.
    let created = browser
        .get(&format!("/console/t/{t}/audit?action=user.created"))
        .await;
    assert_eq!(created.status, 200, "{}", created.html);
    let found = rows(&created);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|row| row.contains("user.created")));
    assert!(!created.html.contains(&kim));
    assert!(found[0].contains(&sam), "the newer one is Sam's: {found:?}");
    assert!(found[1].contains(&lee), "the older one is Lee's: {found:?}");
    assert!(!created.html.contains("Older events"));

    // By target, paged: 100 events, then the two older ones, oldest last.
    let target = format!("user:{lee}");
    let first = browser
        .get(&format!("/console/t/{t}/audit?target={target}"))
        .await;
    let page_one = rows(&first);
    assert_eq!(page_one.len(), 100);
    assert!(page_one.iter().all(|row| row.contains("user.updated")));
    let marker = "rel=\"next\" href=\"";
    let at = first.html.find(marker).expect("a link to older events");
    let href = &first.html[at + marker.len()..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    assert!(href.contains("target=user%3A"), "{href}");
    let second = browser.get(&href).await;
    assert_eq!(second.status, 200, "{}", second.html);
    let page_two = rows(&second);
    assert_eq!(page_two.len(), 2, "{page_two:?}");
    assert!(page_two[0].contains("user.updated") && page_two[1].contains("user.created"));
    assert!(!second.html.contains("Older events"));

    // By actor: every event here was the operator's; a stranger made none.
    let by_admin = browser
        .get(&format!("/console/t/{t}/audit?actor=admin"))
        .await;
    assert_eq!(rows(&by_admin).len(), 100);
    let nobody = browser
        .get(&format!("/console/t/{t}/audit?actor=user:nobody"))
        .await;
    assert_eq!(nobody.status, 200);
    assert!(nobody.html.contains("No events match."));

    // A broken page link is answered, not thrown.
    let broken = browser
        .get(&format!("/console/t/{t}/audit?before=soon"))
        .await;
    assert_eq!(broken.status, 400);
    assert!(broken.html.contains("Start again from the newest events."));
}

async fn the_operator_creates_tenants_and_only_the_operator(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let tenants = browser.get("/console/tenants").await;
    assert!(tenants.html.contains(">Create tenant<"), "{}", tenants.html);
    let made = browser
        .post(
            "/console/tenants",
            &[("csrf", &csrf), ("name", " Globex "), ("uid", "globex")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    assert_eq!(made.location.as_deref(), Some("/console/t/globex/users"));
    let tenant = app.get("/v1/tenants/globex", ADMIN).await.expect(200);
    assert_eq!(tenant["name"], "Globex");
    // The same identifier again: refused beside its field, nothing changed.
    let again = browser
        .post(
            "/console/tenants",
            &[("csrf", &csrf), ("name", "Other"), ("uid", "globex")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.html);
    assert!(!again.text_of("tenant-uid-error").is_empty());
    assert!(
        again.html.contains("value=\"Other\""),
        "the form keeps what was typed"
    );
    // No name, or an identifier that cannot be one: beside its field.
    for (name, uid, field) in [("  ", "initech", "name"), ("Initech", "no spaces", "uid")] {
        let bad = browser
            .post(
                "/console/tenants",
                &[("csrf", &csrf), ("name", name), ("uid", uid)],
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.html);
        assert!(!bad.text_of(&format!("tenant-{field}-error")).is_empty());
    }
    // Without an identifier, one is made.
    let generated = browser
        .post("/console/tenants", &[("csrf", &csrf), ("name", "Initech")])
        .await;
    assert_eq!(generated.status, 303, "{}", generated.html);
    let listed = app.get("/v1/tenants", ADMIN).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    // A tenant user, even the tenant's admin, may not create one.
    let (t, _) = tenant_with_user(&app, "acme", "ADMIN").await;
    let email = "admin@acme.example.com";
    let (mut user, status, csrf) = Browser::as_user(&app, &t, email, PASSWORD).await;
    assert_eq!(status, 303, "{csrf}");
    let refused = user
        .post(
            "/console/tenants",
            &[("csrf", &csrf), ("name", "Mine"), ("uid", "mine")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    app.get("/v1/tenants/mine", ADMIN).await.expect(404);
}

async fn a_user_joins_and_leaves_groups_on_their_page(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let other = app.tenant("beta").await;
    let group = |t: &str, name: &str| {
        let (app, path) = (&app, format!("/v1/tenants/{t}/groups"));
        let body = json!({"name": name, "tenant_role": "ACCESS"});
        async move { id(&app.post(&path, ADMIN, body).await.expect(201)) }
    };
    let cashiers = group(&t, "Cashiers").await;
    group(&t, "Stockroom").await;
    let theirs = group(&other, "Theirs").await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let members = format!("/v1/tenants/{t}/groups/{cashiers}/members");
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/users/{lee}");
    let before = browser.get(&path).await;
    assert!(before.html.contains("In no group."), "{}", before.html);
    assert!(before.html.contains(">Add to group<"));

    let joined = browser
        .post(
            &format!("{path}/groups"),
            &[("csrf", &csrf), ("group_id", &cashiers)],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.html);
    let listed = app.get(&members, ADMIN).await.expect(200);
    assert_eq!(listed["data"][0]["user_id"], lee.as_str());
    let page = browser.get(joined.location.as_deref().unwrap()).await;
    assert!(page.html.contains("Groups changed."));
    assert!(page.html.contains("aria-label=\"Remove from Cashiers\""));
    let select = &page.html[page.html.find("id=\"group\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    assert!(
        select.contains("Stockroom") && !select.contains("Cashiers"),
        "{select}"
    );

    // Not a group, or another tenant's: refused beside the field.
    for (group_id, status) in [("nope", 400), (theirs.as_str(), 404)] {
        let refused = browser
            .post(
                &format!("{path}/groups"),
                &[("csrf", &csrf), ("group_id", group_id)],
            )
            .await;
        assert_eq!(refused.status, status, "{}", refused.html);
        assert!(!refused.text_of("group-error").is_empty());
    }
    let theirs_members = format!("/v1/tenants/{other}/groups/{theirs}/members");
    let untouched = app.get(&theirs_members, ADMIN).await.expect(200);
    assert_eq!(untouched["data"], json!([]));

    let left = browser
        .post(
            &format!("{path}/groups/{cashiers}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(left.status, 303, "{}", left.html);
    let listed = app.get(&members, ADMIN).await.expect(200);
    assert_eq!(listed["data"], json!([]));
}

async fn devices_are_listed_and_revoked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let device = app
        .post(
            &format!("/v1/tenants/{t}/devices"),
            ADMIN,
            json!({"name": "Till 7"}),
        )
        .await
        .expect(201);
    let token = device["token"].as_str().unwrap().to_string();
    let device_id = id(&device);
    app.user(
        &t,
        json!({"user_code": "1001", "password": PASSWORD, "tenant_role": "ACCESS"}),
    )
    .await;
    let sign_in = |app: &TestApp| {
        let (base, token) = (app.base.clone(), token.clone());
        let client = app.client.clone();
        async move {
            client
                .post(format!("{base}/account"))
                .bearer_auth(token)
                .json(&json!({"userCode": "1001", "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(sign_in(&app).await, 200);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let page = browser.get(&format!("/console/t/{t}/devices")).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Till 7") && page.html.contains("aria-label=\"Revoke Till 7\""));
    let revoked = browser
        .post(
            &format!("/console/t/{t}/devices/{device_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    assert_eq!(sign_in(&app).await, 401, "a revoked device signs nobody in");
    let page = browser.get(&format!("/console/t/{t}/devices")).await;
    assert!(page.html.contains("revoked "));
    // Another tenant's device through this tenant: 404, still usable there.
    let other = app.tenant("other").await;
    let theirs = app
        .post(
            &format!("/v1/tenants/{other}/devices"),
            ADMIN,
            json!({"name": "Theirs"}),
        )
        .await
        .expect(201);
    let cross = browser
        .post(
            &format!("/console/t/{t}/devices/{}/revoke", id(&theirs)),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(cross.status, 404, "{}", cross.html);
    // VIEW_USERS alone may not see devices.
    let (b, _) = tenant_with_user(&app, "beta", "BACKOFFICE").await;
    let (mut viewer, _, _) =
        Browser::as_user(&app, &b, "backoffice@beta.example.com", PASSWORD).await;
    assert_eq!(
        viewer.get(&format!("/console/t/{b}/devices")).await.status,
        403
    );
}

async fn a_webhooks_deliveries_are_listed(engine: Engine) {
    let app = TestApp::start_with(engine, crate::webhooks::events_config("1")).await;
    let t = app.tenant("acme").await;
    let hook = app
        .post(
            &format!("/v1/tenants/{t}/webhooks"),
            ADMIN,
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await
        .expect(201);
    let (mut browser, _) = Browser::as_operator(&app).await;
    let list = browser.get(&format!("/console/t/{t}/webhooks")).await;
    assert!(list.html.contains("http://127.0.0.1:9/hook"));
    let path = format!("/console/t/{t}/webhooks/{}/deliveries", id(&hook));
    assert!(list.html.contains(&path));
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("No deliveries yet."));
    let missing = browser
        .get(&format!(
            "/console/t/{t}/webhooks/{}/deliveries",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(missing.status, 404, "{}", missing.html);
}

async fn webhooks_are_created_disabled_and_deleted(engine: Engine) {
    let app = TestApp::start_with(engine, crate::webhooks::events_config("1")).await;
    let t = app.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/webhooks");
    let empty = browser.get(&path).await;
    assert!(empty.html.contains(">Create webhook<"), "{}", empty.html);
    let made = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("event_types", "roster.user.*, roster.store.created"),
                ("description", "ERP"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.html);
    let secret = made.text_of("webhook-secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = app
        .get(&format!("/v1/tenants/{t}/webhooks"), ADMIN)
        .await
        .expect(200);
    let hook = &listed["data"][0];
    assert_eq!(
        hook["event_types"],
        json!(["roster.store.created", "roster.user.*"]),
        "the filters, sorted as the API keeps them"
    );
    assert_eq!(hook["description"], "ERP");
    let hook_id = id(hook);
    let again = browser.get(&path).await;
    assert!(!again.html.contains(&secret), "the secret is shown once");

    // Refused values stay beside their fields, with what was typed.
    for (url, events, field) in [
        ("ftp://127.0.0.1/hook", "", "webhook-url"),
        (
            "http://127.0.0.1:9/other",
            "roster.nothing",
            "webhook-events",
        ),
    ] {
        let refused = browser
            .post(
                &path,
                &[("csrf", &csrf), ("url", url), ("event_types", events)],
            )
            .await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        assert!(!refused.text_of(&format!("{field}-error")).is_empty());
        assert!(refused.html.contains(&format!("value=\"{url}\"")));
    }

    // Disable, enable, delete: what the API then shows.
    let hook_path = format!("/v1/tenants/{t}/webhooks/{hook_id}");
    for (enabled, expected) in [("false", false), ("true", true)] {
        let changed = browser
            .post(
                &format!("{path}/{hook_id}/enabled"),
                &[("csrf", &csrf), ("enabled", enabled)],
            )
            .await;
        assert_eq!(changed.status, 303, "{}", changed.html);
        let now = app.get(&hook_path, ADMIN).await.expect(200);
        assert_eq!(now["enabled"], expected);
    }
    let deleted = browser
        .post(&format!("{path}/{hook_id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.html);
    app.get(&hook_path, ADMIN).await.expect(404);
    let gone = browser
        .post(&format!("{path}/{hook_id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, 404, "{}", gone.html);

    // By default a private address is refused, as on the API.
    let strict = TestApp::start(engine).await;
    let t = strict.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&strict).await;
    let refused = browser
        .post(
            &format!("/console/t/{t}/webhooks"),
            &[("csrf", &csrf), ("url", "http://127.0.0.1:9/hook")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(!refused.text_of("webhook-url-error").is_empty());
}

async fn commerce_roles_and_stores_are_replaced_by_the_rules_of_the_api(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    let north = app.store(&t, "north").await;
    let company = app.company(&t, "Buyer Ltd").await;
    let buyer = id(&app
        .user(&t, json!({"email": "b@example.com", "company_id": company}))
        .await);
    let staff = id(&app
        .user(&t, json!({"email": "s@example.com", "store_ids": [main]}))
        .await);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let page = browser.get(&format!("/console/t/{t}/users/{staff}")).await;
    assert!(
        page.html.contains(&format!(
            "id=\"store-{main}\" name=\"store\" value=\"{main}\" checked"
        )),
        "{}",
        page.html
    );
    let saved = browser
        .post(
            &format!("/console/t/{t}/users/{staff}/access"),
            &[("csrf", &csrf), ("store", &north)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    assert_eq!(api(&app, &t, &staff).await["store_ids"], json!([north]));
    // Commerce roles need a company: refused for the staff member, with the API's reason.
    let refused = browser
        .post(
            &format!("/console/t/{t}/users/{staff}/access"),
            &[("csrf", &csrf), ("role", "OWNER")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("role=\"alert\""));
    assert_eq!(
        api(&app, &t, &staff).await["store_ids"],
        json!([north]),
        "nothing changed"
    );
    let buyer_roles = browser
        .post(
            &format!("/console/t/{t}/users/{buyer}/access"),
            &[("csrf", &csrf), ("role", "ORDERS"), ("role", "FINANCE")],
        )
        .await;
    assert_eq!(buyer_roles.status, 303, "{}", buyer_roles.html);
    let roles = api(&app, &t, &buyer).await["roles"].clone();
    assert_eq!(roles, json!(["ORDERS", "FINANCE"]));
    let bad = browser
        .post(
            &format!("/console/t/{t}/users/{buyer}/access"),
            &[("csrf", &csrf), ("role", "KING")],
        )
        .await;
    assert_eq!(bad.status, 400);
}

async fn a_companys_hierarchy_is_a_tree_and_users_move_under_others(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let company = app.company(&t, "Buyer Ltd").await;
    let other_company = app.company(&t, "Other Ltd").await;
    let boss = id(&app
        .user(
            &t,
            json!({"email": "boss@example.com", "company_id": company}),
        )
        .await);
    let lead = id(&app
        .user(
            &t,
            json!({"email": "lead@example.com", "company_id": company}),
        )
        .await);
    let clerk = id(&app
        .user(
            &t,
            json!({"email": "clerk@example.com", "company_id": company}),
        )
        .await);
    let outsider = id(&app
        .user(
            &t,
            json!({"email": "out@example.com", "company_id": other_company}),
        )
        .await);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let page = format!("/console/t/{t}/companies/{company}");
    let move_path = |user: &str| format!("/console/t/{t}/companies/{company}/users/{user}/parent");
    assert!(browser
        .get(&format!("/console/t/{t}/companies"))
        .await
        .html
        .contains(&page));
    for (user, parent) in [(&lead, &boss), (&clerk, &lead)] {
        let moved = browser
            .post(&move_path(user), &[("csrf", &csrf), ("parent", parent)])
            .await;
        assert_eq!(moved.status, 200, "{}", moved.html);
        assert!(moved.html.contains("Moved."));
        assert_eq!(api(&app, &t, user).await["parent_id"], json!(parent));
    }
    // The tree nests: boss > lead > clerk.
    let tree = browser.get(&page).await.html;
    let (b, l, c) = (
        tree.find("boss@example.com</a>").unwrap(),
        tree.find("lead@example.com</a>").unwrap(),
        tree.find("clerk@example.com</a>").unwrap(),
    );
    assert!(b < l && l < c);
    assert_eq!(tree.matches("<ul class=\"tree\">").count(), 3, "{tree}");
    // A cycle and another company's user are refused, nothing changed.
    let cycle = browser
        .post(&move_path(&boss), &[("csrf", &csrf), ("parent", &clerk)])
        .await;
    assert!(cycle.status >= 400 && cycle.status < 500, "{}", cycle.html);
    assert!(cycle.html.contains("role=\"alert\""));
    assert_eq!(api(&app, &t, &boss).await["parent_id"], Value::Null);
    let across = browser
        .post(
            &move_path(&clerk),
            &[("csrf", &csrf), ("parent", &outsider)],
        )
        .await;
    assert!(
        across.status >= 400 && across.status < 500,
        "{}",
        across.html
    );
    assert_eq!(api(&app, &t, &clerk).await["parent_id"], json!(lead));
    // A user of another company through this company's page: 404.
    let wrong = browser
        .post(&move_path(&outsider), &[("csrf", &csrf), ("parent", &boss)])
        .await;
    assert_eq!(wrong.status, 404, "{}", wrong.html);
}

async fn invitations_are_sent_listed_and_revoked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/invitations");
    assert!(browser
        .get(&format!("/console/t/{t}/users"))
        .await
        .html
        .contains(&path));
    let bad = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("email", "not-an-email"),
                ("tenant_role", "ACCESS"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    assert!(
        bad.html.contains("invitee-email-error")
            || bad
                .html
                .contains("aria-describedby=\"invitee-email-error\"")
    );
    assert!(bad.html.contains("value=\"not-an-email\""));
    let sent = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("email", "ana@example.com"),
                ("tenant_role", "BACKOFFICE"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.html);
    let token = sent.text_of("invitation-token");
    let looked_up = app
        .client
        .get(format!("{}/account/invite", app.base))
        .header("x-invite-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(looked_up.status().as_u16(), 200);
    let invitation: Value = looked_up.json().await.unwrap();
    assert_eq!(
        (
            invitation["email"].as_str(),
            invitation["tenantRole"].as_str()
        ),
        (Some("ana@example.com"), Some("BACKOFFICE"))
    );
    let listed = browser.get(&path).await;
    assert!(
        listed.html.contains("ana@example.com") && listed.html.contains("PENDING"),
        "{}",
        listed.html
    );
    assert!(!listed.html.contains(&token), "shown once");
    let marker = format!("{path}/");
    let at = listed
        .html
        .find(&format!("{marker}0"))
        .or_else(|| listed.html.find(&marker))
        .unwrap()
        + marker.len();
    let invitation_id = listed.html[at..at + 36].to_string();
    let revoked = browser
        .post(
            &format!("{path}/{invitation_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    assert!(browser.get(&path).await.html.contains("REVOKED"));
    let after = app
        .client
        .get(format!("{}/account/invite", app.base))
        .header("x-invite-token", &token)
        .send()
        .await
        .unwrap();
    assert!(
        after.status().as_u16() >= 400,
        "a revoked invitation is not offered"
    );
    // VIEW_USERS alone: the list, no form, and a forged POST refused.
    let (b, _) = tenant_with_user(&app, "beta", "BACKOFFICE").await;
    let (mut viewer, _, viewer_csrf) =
        Browser::as_user(&app, &b, "backoffice@beta.example.com", PASSWORD).await;
    let page = viewer.get(&format!("/console/t/{b}/invitations")).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains(">Send invitation<"));
    let forged = viewer
        .post(
            &format!("/console/t/{b}/invitations"),
            &[
                ("csrf", &viewer_csrf),
                ("email", "x@example.com"),
                ("tenant_role", "ADMIN"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.html);
}

async fn api_keys_act_as_a_user_and_are_revoked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let lee = id(&app
        .user(
            &t,
            json!({"email": "lee@acme.example.com", "tenant_role": "ACCESS"}),
        )
        .await);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/api-keys");

    // Permissions and a user at once: refused beside the user, as typed.
    let both = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "till"),
                ("permission", "USE_POS"),
                ("user", "lee@acme.example.com"),
            ],
        )
        .await;
    assert_eq!(both.status, 422, "{}", both.html);
    assert!(both.text_of("key-user-error").contains("not both"));
    assert!(both.html.contains("value=\"lee@acme.example.com\""));
    assert!(both.html.contains("value=\"USE_POS\" checked"));
    // Nobody by that email in this tenant: 404 beside the field.
    let beta = app.tenant("beta").await;
    app.user(&beta, json!({"email": "bo@beta.example.com"}))
        .await;
    let nobody = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "till"),
                ("user", "bo@beta.example.com"),
            ],
        )
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.html);
    assert!(!nobody.text_of("key-user-error").is_empty());

    // Bound to Lee, by email: the key is Lee's, and acts as Lee.
    let made = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "till"),
                ("user", "lee@acme.example.com"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.html);
    let token = made.text_of("new-token");
    let keys = app
        .get(&path.replace("/console/t", "/v1/tenants"), ADMIN)
        .await
        .expect(200);
    let key = &keys["data"][0];
    assert_eq!(key["user_id"], lee.as_str(), "{key}");
    // It holds what Lee holds: ACCESS reads no users.
    let as_lee = app.get(&format!("/v1/tenants/{t}/users"), &token).await;
    assert_eq!(
        as_lee.status, 403,
        "Lee's ACCESS role, not the operator's rights"
    );
    let listing = browser.get(&path).await;
    assert!(listing
        .html
        .contains(&format!("/console/t/{t}/users/{lee}")));

    // Revoke: the token stops working at once.
    let key_id = id(key);
    let revoked = browser
        .post(&format!("{path}/{key_id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    assert_eq!(
        revoked.location.as_deref(),
        Some(format!("{path}?done=revoked").as_str())
    );
    assert!(browser
        .get(revoked.location.as_deref().unwrap())
        .await
        .html
        .contains("API key revoked."));
    let after = app.get(&format!("/v1/tenants/{t}/users"), &token).await;
    assert_eq!(after.status, 401);
    let again = browser
        .post(&format!("{path}/{key_id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, 404, "{}", again.html);
    // Another tenant's key through this tenant: 404, and it still works.
    let theirs = app
        .post(
            &format!("/v1/tenants/{beta}/api-keys"),
            ADMIN,
            json!({"name": "theirs", "permissions": ["VIEW_USERS"]}),
        )
        .await
        .expect(201);
    let cross = browser
        .post(
            &format!("{path}/{}/revoke", id(&theirs)),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(cross.status, 404, "{}", cross.html);
    let still = app
        .get(
            &format!("/v1/tenants/{beta}/users"),
            theirs["token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(still.status, 200);
}

async fn devices_are_registered_with_their_token_shown_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let other = app.tenant("other").await;
    let theirs = app.store(&other, "theirs").await;
    app.user(
        &t,
        json!({"user_code": "1001", "password": PASSWORD, "tenant_role": "ACCESS", "store_ids": [store]}),
    )
    .await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let path = format!("/console/t/{t}/devices");
    let page = browser.get(&path).await;
    assert!(page.html.contains(">Register device<"), "{}", page.html);
    assert!(
        page.html.contains(&format!("value=\"{store}\"")),
        "the tenant's stores are offered"
    );

    // No name: refused beside the name. Another tenant's store: beside the store.
    let unnamed = browser
        .post(&path, &[("csrf", &csrf), ("name", " "), ("store_id", "")])
        .await;
    assert_eq!(unnamed.status, 400, "{}", unnamed.html);
    assert!(!unnamed.text_of("device-name-error").is_empty());
    let foreign = browser
        .post(
            &path,
            &[("csrf", &csrf), ("name", "Till 9"), ("store_id", &theirs)],
        )
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.html);
    assert!(!foreign.text_of("device-store-error").is_empty());
    assert!(
        foreign.html.contains("value=\"Till 9\""),
        "the name is kept"
    );

    let made = browser
        .post(
            &path,
            &[("csrf", &csrf), ("name", "Till 9"), ("store_id", &store)],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.html);
    let token = made.text_of("device-token");
    let signed_in = app
        .client
        .post(format!("{}/account", app.base))
        .bearer_auth(&token)
        .json(&json!({"userCode": "1001", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status().as_u16(),
        200,
        "the new device signs its users in"
    );
    let devices = app
        .get(&format!("/v1/tenants/{t}/devices"), ADMIN)
        .await
        .expect(200);
    assert_eq!(devices["data"][0]["store_id"], store.as_str());
    assert!(
        !browser.get(&path).await.html.contains(&token),
        "shown once"
    );

    // Revoking says so.
    let revoked = browser
        .post(
            &format!("{path}/{}/revoke", id(&devices["data"][0])),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        revoked.location.as_deref(),
        Some(format!("{path}?done=revoked").as_str())
    );
    let page = browser.get(revoked.location.as_deref().unwrap()).await;
    assert!(page.html.contains("Device revoked"), "{}", page.html);
}

async fn a_webhook_is_changed_on_its_page(engine: Engine) {
    let app = TestApp::start_with(engine, crate::webhooks::events_config("1")).await;
    let t = app.tenant("acme").await;
    let hook = app
        .post(
            &format!("/v1/tenants/{t}/webhooks"),
            ADMIN,
            json!({"url": "http://127.0.0.1:9/hook", "event_types": ["roster.user.*"], "description": "ERP"}),
        )
        .await
        .expect(201);
    let hook_id = id(&hook);
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let list = browser.get(&format!("/console/t/{t}/webhooks")).await;
    let path = format!("/console/t/{t}/webhooks/{hook_id}");
    assert!(
        list.html.contains(&format!("href=\"{path}\"")),
        "{}",
        list.html
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("value=\"http://127.0.0.1:9/hook\""));
    assert!(page.html.contains("value=\"roster.user.*\""));

    // A refused URL stays beside its field, with what was typed; nothing changes.
    let refused = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("url", "ftp://127.0.0.1/x"),
                ("event_types", ""),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(!refused.text_of("webhook-url-error").is_empty());
    assert!(refused.html.contains("value=\"ftp://127.0.0.1/x\""));
    let api = format!("/v1/tenants/{t}/webhooks/{hook_id}");
    assert_eq!(
        app.get(&api, ADMIN).await.expect(200)["url"],
        "http://127.0.0.1:9/hook"
    );

    // Saved: what the API then shows; an empty description clears it.
    let saved = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("url", "http://127.0.0.1:9/other"),
                (
                    "event_types",
                    "roster.store.created, roster.user.deactivated",
                ),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let now = app.get(&api, ADMIN).await.expect(200);
    assert_eq!(now["url"], "http://127.0.0.1:9/other");
    assert_eq!(
        now["event_types"],
        json!(["roster.store.created", "roster.user.deactivated"])
    );
    assert_eq!(now["description"], Value::Null, "{now}");
    assert!(browser
        .get(saved.location.as_deref().unwrap())
        .await
        .html
        .contains("Webhook saved."));

    // Another tenant's webhook, or none: 404.
    let other = app.tenant("other").await;
    let theirs = app
        .post(
            &format!("/v1/tenants/{other}/webhooks"),
            ADMIN,
            json!({"url": "http://127.0.0.1:9/theirs"}),
        )
        .await
        .expect(201);
    let cross = format!("/console/t/{t}/webhooks/{}", id(&theirs));
    assert_eq!(browser.get(&cross).await.status, 404);
    let forged = browser
        .post(
            &cross,
            &[
                ("csrf", &csrf),
                ("url", "http://127.0.0.1:9/mine"),
                ("event_types", ""),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(forged.status, 404, "{}", forged.html);
    let kept = app
        .get(
            &format!("/v1/tenants/{other}/webhooks/{}", id(&theirs)),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(kept["url"], "http://127.0.0.1:9/theirs");
}

/// After a submission the page's focus is on its outcome: the first
/// refused field, or the notice (keyboard and screen-reader users land
/// on what happened); the skip link's target can take the focus.
async fn refusals_and_outcomes_take_the_focus(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (mut browser, csrf) = Browser::as_operator(&app).await;
    let new = browser
        .post(
            &format!("/console/t/{t}/users"),
            &[("csrf", &csrf), ("email", "not-an-email")],
        )
        .await;
    assert_eq!(new.status, 400, "{}", new.html);
    assert_eq!(
        new.html.matches(" autofocus").count(),
        1,
        "one element takes the focus"
    );
    assert!(
        new.html
            .contains("aria-describedby=\"email-error\" autofocus"),
        "{}",
        new.html
    );
    let made = browser
        .post(
            &format!("/console/t/{t}/users"),
            &[("csrf", &csrf), ("email", "sam@acme.example.com")],
        )
        .await;
    let user = browser.get(made.location.as_deref().unwrap()).await;
    assert!(
        user.html
            .contains("role=\"status\" tabindex=\"-1\" autofocus"),
        "{}",
        user.html
    );
    assert!(user.html.contains("<main id=\"main\" tabindex=\"-1\">"));
    // A refused contact: the focus on its field, which keeps what was typed.
    let user_path = made.location.as_deref().unwrap().split('?').next().unwrap();
    let refused = browser
        .post(
            &format!("{user_path}/contacts"),
            &[
                ("csrf", &csrf),
                ("contact_type", "PHONE"),
                ("value", "not a phone"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("value=\"not a phone\" aria-invalid=\"true\" aria-describedby=\"contact-value-error\" autofocus"), "{}", refused.html);
    assert!(refused.html.contains("<option value=\"PHONE\" selected>"));
    // A refused profile keeps every field as typed.
    let profile = browser
        .post(
            &format!("{user_path}/profile"),
            &[
                ("csrf", &csrf),
                ("first_name", "Samuel"),
                ("last_name", ""),
                ("email", "broken"),
                ("job_title", "Clerk"),
            ],
        )
        .await;
    assert_eq!(profile.status, 400, "{}", profile.html);
    assert!(profile.html.contains("value=\"Samuel\"") && profile.html.contains("value=\"Clerk\""));
    assert!(profile.html.contains("value=\"broken\""));
}
