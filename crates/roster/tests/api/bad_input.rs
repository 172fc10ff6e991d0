//! Bad input on every /v1 body: malformed JSON, wrong types, bad enums, unknown fields, 413, 415.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    every_json_body_refuses_bad_input,
    list_parameters_and_path_ids_are_checked,
    field_values_are_validated,
);

/// The ids of the one tenant these tests use.
struct Acme {
    tenant: String,
    store: String,
    company: String,
    user: String,
    quote: String,
    order: String,
}

async fn acme(app: &TestApp) -> Acme {
    let tenant = app.tenant("acme").await;
    let store = app.store(&tenant, "main").await;
    let company = app.company(&tenant, "Buyer").await;
    let user = id(&app
        .user(&tenant, json!({"email": "buyer@example.com", "company_id": company, "roles": ["OWNER"], "store_ids": [store]}))
        .await);
    let record = json!({"company_id": company, "owner_user_id": user, "reference": "R-1"});
    let quote = id(&app
        .post(
            &format!("/v1/tenants/{tenant}/quotes"),
            ADMIN,
            record.clone(),
        )
        .await
        .expect(201));
    let order = id(&app
        .post(&format!("/v1/tenants/{tenant}/orders"), ADMIN, record)
        .await
        .expect(201));
    Acme {
        tenant,
        store,
        company,
        user,
        quote,
        order,
    }
}

/// Everything stored, as the admin token reads it: the tenants, and all of
/// the tenant's lists including its audit log (every change appends to it).
async fn snapshot(app: &TestApp, tenant: &str) -> Value {
    let mut all = serde_json::Map::new();
    all.insert(
        "tenants".into(),
        app.get("/v1/tenants?limit=500", ADMIN).await.expect(200),
    );
    for list in [
        "stores",
        "companies",
        "users",
        "api-keys",
        "quotes",
        "orders",
        "devices",
        "invitations",
        "events",
    ] {
        let page = app
            .get(&format!("/v1/tenants/{tenant}/{list}?limit=500"), ADMIN)
            .await
            .expect(200);
        assert!(page["next_cursor"].is_null(), "{list} did not fit one page");
        all.insert(list.into(), page["data"].clone());
    }
    Value::Object(all)
}

/// Asserts a problem+json 400 whose `errors` names `field` (exactly, or as
/// the start of a path such as `permissions[0]`), and returns it.
pub(crate) fn expect_field(reply: Reply, field: &str, what: &str) -> Value {
    assert_eq!(reply.status, 400, "{what}: body {}", reply.body);
    if let Err(errors) = names_field(&reply, field) {
        panic!("{what}: errors do not name {field}: {errors}");
    }
    reply.problem(400)
}

/// Whether `reply` is a 400 whose `errors` names `field`; its errors if not.
fn names_field(reply: &Reply, field: &str) -> Result<(), String> {
    let errors = reply.body["errors"]
        .as_object()
        .filter(|_| reply.status == 400);
    let named = errors.is_some_and(|errors| {
        errors.iter().any(|(key, messages)| {
            let matches = key == field
                || key.starts_with(&format!("{field}["))
                || key.starts_with(&format!("{field}."));
            matches
                && messages
                    .as_array()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string))
        })
    });
    if named {
        Ok(())
    } else {
        Err(reply.body["errors"].to_string())
    }
}

/// Asserts a problem+json of `status`, saying which request failed.
fn expect_problem(reply: Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: body {}", reply.body);
    reply.problem(status)
}

/// A route that takes a JSON body, and how to get its body wrong.
struct BodyRoute {
    method: Method,
    path: String,
    /// A body this route accepts.
    valid: Value,
    /// The status `valid` gets.
    ok: u16,
    /// Fields the route needs.
    required: &'static [&'static str],
    /// Fields set to a JSON value of the wrong type (or an unparseable id).
    wrong_types: Vec<(&'static str, Value)>,
    /// Fields set to a value outside their vocabulary.
    bad_enums: Vec<(&'static str, Value)>,
    /// Fields the route must refuse: unknown, or read-only.
    refused: &'static [&'static str],
}

impl BodyRoute {
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// `valid` with `field` set to `value`.
    fn with(&self, field: &str, value: Value) -> Value {
        let mut body = self.valid.clone();
        body.as_object_mut().unwrap().insert(field.into(), value);
        body
    }

    /// `valid` without `field`.
    fn without(&self, field: &str) -> Value {
        let mut body = self.valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    }
}

fn body_routes(a: &Acme) -> Vec<BodyRoute> {
    let t = format!("/v1/tenants/{}", a.tenant);
    let record = json!({"company_id": a.company, "owner_user_id": a.user, "reference": "R-2"});
    vec![
        BodyRoute {
            method: Method::POST,
            path: "/v1/tenants".into(),
            valid: json!({"uid": "fresh", "name": "Fresh"}),
            ok: 201,
            required: &["name"],
            wrong_types: vec![("name", json!(5)), ("uid", json!(["x"]))],
            bad_enums: vec![],
            refused: &["id", "created_at", "updated_at", "tenant_id"],
        },
        BodyRoute {
            method: Method::PATCH,
            path: t.clone(),
            valid: json!({"name": "Acme Retail"}),
            ok: 200,
            required: &[],
            wrong_types: vec![("name", json!(5))],
            bad_enums: vec![],
            refused: &["uid", "created_at", "id"],
        },
        BodyRoute {
            method: Method::POST,
            path: "/v1/accounts".into(),
            valid: json!({"email": "account@example.com", "password": PASSWORD, "first_name": "Maria"}),
            ok: 201,
            required: &["email", "password"],
            wrong_types: vec![
                ("email", json!(5)),
                ("password", json!(true)),
                ("first_name", json!({})),
            ],
            bad_enums: vec![],
            refused: &[
                "id",
                "password_hash",
                "global_roles",
                "created_at",
                "default_tenant_uid",
            ],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/stores"),
            valid: json!({"code": "second", "name": "Second"}),
            ok: 201,
            required: &["code", "name"],
            wrong_types: vec![("name", json!(5)), ("code", json!({})), ("id", json!(7))],
            bad_enums: vec![],
            refused: &["number", "tenant_id", "created_at"],
        },
        BodyRoute {
            method: Method::PATCH,
            path: format!("{t}/stores/{}", a.store),
            valid: json!({"name": "Main street"}),
            ok: 200,
            required: &[],
            wrong_types: vec![("name", json!(5)), ("code", json!([]))],
            bad_enums: vec![],
            refused: &["id", "number", "tenant_id", "updated_at"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/companies"),
            valid: json!({"name": "Supplier", "kind": "SUPPLIER"}),
            ok: 201,
            required: &["name"],
            wrong_types: vec![
                ("name", json!(5)),
                ("external_id", json!(12)),
                ("kind", json!(true)),
                ("status", json!(1)),
            ],
            bad_enums: vec![
                ("kind", json!("X")),
                ("status", json!("maybe")),
                ("kind", json!("commerce")),
            ],
            refused: &["id", "number", "tenant_id", "created_at"],
        },
        BodyRoute {
            method: Method::PATCH,
            path: format!("{t}/companies/{}", a.company),
            valid: json!({"name": "Buyer Ltd"}),
            ok: 200,
            required: &[],
            wrong_types: vec![("name", json!(false)), ("external_id", json!(["x"]))],
            bad_enums: vec![("kind", json!("X")), ("status", json!("maybe"))],
            refused: &["id", "number", "tenant_id"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/users"),
            valid: json!({"email": "new@example.com", "first_name": "New", "tenant_role": "ACCESS", "store_ids": [a.store]}),
            ok: 201,
            required: &[],
            wrong_types: vec![
                ("store_ids", json!("x")),
                ("email", json!(5)),
                ("first_name", json!(["New"])),
                ("company_id", json!("not-a-uuid")),
                ("roles", json!("OWNER")),
                ("password", json!(123456789012345_i64)),
                ("tenant_role", json!(5)),
                ("status", json!(false)),
                ("roles", json!([1])),
            ],
            bad_enums: vec![
                ("tenant_role", json!("BOSS")),
                ("status", json!("maybe")),
                ("account_type", json!("X")),
                ("source", json!("X")),
                ("partner_role", json!("MANAGER")),
                ("roles", json!(["X"])),
                ("org_role", json!("X")),
            ],
            refused: &[
                "id",
                "number",
                "tenant_id",
                "password_hash",
                "created_at",
                "has_password",
                "last_accessed_at",
            ],
        },
        BodyRoute {
            method: Method::PATCH,
            path: format!("{t}/users/{}", a.user),
            valid: json!({"job_title": "Buyer"}),
            ok: 200,
            required: &[],
            wrong_types: vec![
                ("store_ids", json!("x")),
                ("first_name", json!(5)),
                ("parent_id", json!(7)),
            ],
            bad_enums: vec![
                ("tenant_role", json!("BOSS")),
                ("status", json!("maybe")),
                ("roles", json!(["X"])),
            ],
            refused: &["id", "number", "tenant_id", "password_hash", "created_at"],
        },
        BodyRoute {
            method: Method::PUT,
            path: format!("{t}/users/by-external-id/INTEGRATION/erp-1"),
            valid: json!({"name": "ERP user", "account_type": "INTEGRATION"}),
            ok: 201,
            required: &[],
            wrong_types: vec![("store_ids", json!("x")), ("name", json!(5))],
            bad_enums: vec![
                ("tenant_role", json!("BOSS")),
                ("account_type", json!("X")),
                ("status", json!("maybe")),
            ],
            refused: &["id", "number", "tenant_id", "password_hash", "created_at"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/api-keys"),
            valid: json!({"name": "erp", "permissions": ["VIEW_USERS"]}),
            ok: 201,
            required: &["name"],
            wrong_types: vec![
                ("name", json!(5)),
                ("permissions", json!("VIEW_USERS")),
                ("permissions", json!([7])),
                ("user_id", json!(12)),
            ],
            bad_enums: vec![
                ("permissions", json!(["FLY"])),
                ("permissions", json!(["view_users"])),
            ],
            refused: &["id", "token", "token_hash", "tenant_id", "created_at"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/quotes"),
            valid: record.clone(),
            ok: 201,
            required: &["company_id", "owner_user_id", "reference"],
            wrong_types: vec![
                ("reference", json!(5)),
                ("company_id", json!("nope")),
                ("owner_user_id", json!([])),
            ],
            bad_enums: vec![],
            refused: &["id", "status", "locked", "tenant_id", "created_at"],
        },
        BodyRoute {
            method: Method::PATCH,
            path: format!("{t}/quotes/{}", a.quote),
            valid: json!({"reference": "R-1b"}),
            ok: 200,
            required: &[],
            wrong_types: vec![("reference", json!(5)), ("status", json!(1))],
            bad_enums: vec![("status", json!("maybe")), ("status", json!("closed"))],
            refused: &["id", "locked", "company_id", "owner_user_id", "tenant_id"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/orders"),
            valid: record,
            ok: 201,
            required: &["company_id", "owner_user_id", "reference"],
            wrong_types: vec![
                ("reference", json!(5)),
                ("status", json!(5)),
                ("company_id", json!("nope")),
            ],
            bad_enums: vec![],
            refused: &["id", "tenant_id", "created_at", "number"],
        },
        BodyRoute {
            method: Method::PATCH,
            path: format!("{t}/orders/{}", a.order),
            valid: json!({"status": "SHIPPED"}),
            ok: 200,
            required: &[],
            wrong_types: vec![("status", json!(1)), ("reference", json!({}))],
            bad_enums: vec![],
            refused: &["id", "company_id", "owner_user_id", "tenant_id"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/check"),
            valid: json!({"user_id": a.user, "permission": "USE_POS", "store_id": a.store}),
            ok: 200,
            required: &["user_id", "permission"],
            wrong_types: vec![
                ("user_id", json!("nope")),
                ("store_id", json!(5)),
                ("company_id", json!(true)),
                ("permission", json!(5)),
            ],
            bad_enums: vec![
                ("permission", json!("FLY")),
                ("permission", json!("use_pos")),
            ],
            refused: &["tenant_id", "allowed", "reason"],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/devices"),
            valid: json!({"name": "Till 1", "store_id": a.store}),
            ok: 201,
            required: &["name"],
            wrong_types: vec![("name", json!(5)), ("store_id", json!(["main"]))],
            bad_enums: vec![],
            refused: &[
                "id",
                "token",
                "token_hash",
                "tenant_id",
                "revoked_at",
                "created_at",
            ],
        },
        BodyRoute {
            method: Method::POST,
            path: format!("{t}/invitations"),
            valid: json!({"email": "invitee@example.com", "tenant_role": "ACCESS", "account_type": "FULL"}),
            ok: 201,
            required: &["email"],
            wrong_types: vec![
                ("email", json!(5)),
                ("tenant_role", json!(1)),
                ("account_type", json!([])),
            ],
            bad_enums: vec![
                ("tenant_role", json!("BOSS")),
                ("account_type", json!("X")),
                ("tenant_role", json!("admin")),
            ],
            refused: &[
                "id",
                "token",
                "status",
                "expires_at",
                "accepted_at",
                "tenant_id",
            ],
        },
    ]
}

/// Sends raw bytes to `route` with the admin token.
async fn send_raw(app: &TestApp, route: &BodyRoute, content_type: &str, body: Vec<u8>) -> Reply {
    app.raw(
        route.method.clone(),
        &route.path,
        Some(ADMIN),
        content_type,
        body,
    )
    .await
}

/// Asserts that nothing stored changed since `before`.
async fn unchanged(app: &TestApp, tenant: &str, before: &Value, what: &str) {
    assert_eq!(
        &snapshot(app, tenant).await,
        before,
        "{what}: something changed"
    );
}

async fn every_json_body_refuses_bad_input(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = acme(&app).await;
    let routes = body_routes(&a);
    let before = snapshot(&app, &a.tenant).await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 16)).into_bytes();

    for route in &routes {
        let at = route.describe();
        // Malformed JSON (built from the route's valid body, so that no field
        // is at fault), an empty body, and JSON that is not an object.
        let valid = route.valid.to_string();
        let (first_key, _) = route.valid.as_object().unwrap().iter().next().unwrap();
        let malformed = [
            format!("{{\"{first_key}\":"),
            valid[..valid.len() - 1].to_string(),
            format!("{},}}", &valid[..valid.len() - 1]),
            valid.replace(':', "="),
            format!("{valid} trailing"),
            format!("{valid}{valid}"),
            "not json".to_string(),
        ];
        for bad in malformed {
            let what = format!("{at} with {bad}");
            expect_field(
                send_raw(&app, route, "application/json", bad.into_bytes()).await,
                "body",
                &what,
            );
            unchanged(&app, &a.tenant, &before, &what).await;
        }
        let what = format!("{at} with an empty JSON body");
        expect_field(
            send_raw(&app, route, "application/json", Vec::new()).await,
            "body",
            &what,
        );
        unchanged(&app, &a.tenant, &before, &what).await;
        // JSON that is not an object, among it the body's own values as an
        // array (serde would fill a struct from it, field by field).
        let as_array = Value::Array(route.valid.as_object().unwrap().values().cloned().collect());
        for bad in [
            as_array,
            json!([null, null]),
            json!([1, 2]),
            json!("text"),
            json!(null),
        ] {
            let what = format!("{at} with {bad}");
            let reply = send_raw(
                &app,
                route,
                "application/json",
                bad.to_string().into_bytes(),
            )
            .await;
            let problem = expect_problem(reply, 400, &what);
            if bad.is_array() {
                assert_eq!(problem["detail"], "body: must be a JSON object", "{what}");
            }
            unchanged(&app, &a.tenant, &before, &what).await;
        }

        // Not JSON at all: 415, even when the bytes are valid JSON.
        let valid = route.valid.to_string().into_bytes();
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let what = format!("{at} as {content_type}");
            expect_problem(
                send_raw(&app, route, content_type, valid.clone()).await,
                415,
                &what,
            );
            unchanged(&app, &a.tenant, &before, &what).await;
        }
        let what = format!("{at} without a content type");
        let reply = app
            .client
            .request(route.method.clone(), format!("{}{}", app.base, route.path))
            .bearer_auth(ADMIN)
            .body(valid.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(reply.status().as_u16(), 415, "{what}");
        unchanged(&app, &a.tenant, &before, &what).await;

        // Over 1 MiB: 413.
        let what = format!("{at} with a body over 1 MiB");
        expect_problem(
            send_raw(&app, route, "application/json", big.clone()).await,
            413,
            &what,
        );
        unchanged(&app, &a.tenant, &before, &what).await;

        // Required fields missing.
        for field in route.required {
            let what = format!("{at} without {field}");
            expect_field(
                app.call(
                    route.method.clone(),
                    &route.path,
                    Some(ADMIN),
                    Some(route.without(field)),
                )
                .await,
                field,
                &what,
            );
            unchanged(&app, &a.tenant, &before, &what).await;
        }
    }

    // Wrong types, bad enum values, unknown and read-only fields: each a 400
    // naming the field. Every route is tried before the verdict, which lists
    // each request whose answer did not name its field.
    let mut unnamed = Vec::new();
    for route in &routes {
        let bad_values = route.wrong_types.iter().chain(&route.bad_enums).cloned();
        let refused = route.refused.iter().map(|f| (*f, json!("1")));
        for (field, value) in bad_values.chain(refused) {
            let body = route.with(field, value);
            let what = format!("{} with {body}", route.describe());
            let reply = app
                .call(route.method.clone(), &route.path, Some(ADMIN), Some(body))
                .await;
            if let Err(answer) = names_field(&reply, field) {
                unnamed.push(format!("{what} -> {} {answer}", reply.status));
            } else {
                reply.problem(400);
            }
            unchanged(&app, &a.tenant, &before, &what).await;
        }
    }
    // Each valid body does succeed, so the failures above were the bad parts.
    for route in &routes {
        let reply = app
            .call(
                route.method.clone(),
                &route.path,
                Some(ADMIN),
                Some(route.valid.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            route.ok,
            "{} with {}: {}",
            route.describe(),
            route.valid,
            reply.body
        );
    }
    assert!(
        unnamed.is_empty(),
        "these answers do not name the field at fault:\n{}",
        unnamed.join("\n")
    );
}

async fn list_parameters_and_path_ids_are_checked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = acme(&app).await;
    let t = format!("/v1/tenants/{}", a.tenant);
    let before = snapshot(&app, &a.tenant).await;

    let lists = [
        "/v1/tenants".to_string(),
        format!("{t}/stores"),
        format!("{t}/companies"),
        format!("{t}/users"),
        format!("{t}/api-keys"),
        format!("{t}/quotes"),
        format!("{t}/orders"),
        format!("{t}/devices"),
        format!("{t}/invitations"),
        format!("{t}/events"),
    ];
    for list in &lists {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("limit=1.5", "limit"),
            ("limit=99999999999999999999", "limit"),
            ("cursor=!!!", "cursor"),
            ("cursor=a%20b", "cursor"),
            ("limit=10&cursor=!!!", "cursor"),
        ] {
            let path = format!("{list}?{query}");
            expect_field(app.get(&path, ADMIN).await, field, &format!("GET {path}"));
        }
        // The bounds themselves are fine.
        for query in ["limit=1", "limit=500"] {
            let path = format!("{list}?{query}");
            let page = app.get(&path, ADMIN).await;
            assert_eq!(page.status, 200, "GET {path}: {}", page.body);
            assert!(page.body["data"].is_array(), "GET {path}: {}", page.body);
        }
        // A well-formed cursor that no list ever gave: refused or an empty
        // page, never a server error.
        let path = format!("{list}?cursor=Zm9vYmFy");
        let reply = app.get(&path, ADMIN).await;
        match reply.status {
            200 => assert!(reply.body["data"].is_array(), "GET {path}: {}", reply.body),
            _ => {
                expect_field(reply, "cursor", &format!("GET {path}"));
            }
        }
    }

    // Filters of the wrong type.
    for (path, field) in [
        (format!("{t}/users?company_id=nope"), "company_id"),
        (format!("{t}/users?status=maybe"), "status"),
        (format!("{t}/users?number=abc"), "number"),
        (format!("{t}/quotes?owner_user_id=nope"), "owner_user_id"),
        (format!("{t}/quotes?company_id=123"), "company_id"),
        (format!("{t}/orders?owner_user_id=nope"), "owner_user_id"),
        (format!("{t}/orders?company_id=123"), "company_id"),
    ] {
        expect_field(app.get(&path, ADMIN).await, field, &format!("GET {path}"));
    }

    // Malformed UUIDs (and a malformed source) in paths: 400, whatever the method.
    for bad in [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        "%20",
    ] {
        let mut calls: Vec<(Method, String, Option<Value>)> = Vec::new();
        for kind in ["companies", "users", "quotes", "orders"] {
            let body = match kind {
                "users" => json!({"first_name": "X"}),
                "orders" => json!({"status": "X"}),
                _ => json!({"reference": "X", "name": "X"}),
            };
            let patch = match kind {
                "companies" => json!({"name": "X"}),
                "quotes" => json!({"reference": "X"}),
                _ => body,
            };
            calls.push((Method::GET, format!("{t}/{kind}/{bad}"), None));
            calls.push((Method::PATCH, format!("{t}/{kind}/{bad}"), Some(patch)));
        }
        calls.push((Method::DELETE, format!("{t}/companies/{bad}"), None));
        calls.push((Method::DELETE, format!("{t}/users/{bad}"), None));
        calls.push((Method::DELETE, format!("{t}/api-keys/{bad}"), None));
        calls.push((Method::DELETE, format!("{t}/devices/{bad}"), None));
        calls.push((Method::DELETE, format!("{t}/invitations/{bad}"), None));
        calls.push((Method::GET, format!("/v1/accounts/{bad}"), None));
        for (method, path, body) in calls {
            let what = format!("{method} {path}");
            let problem =
                expect_problem(app.call(method, &path, Some(ADMIN), body).await, 400, &what);
            assert!(
                problem["errors"].as_object().is_some_and(|e| !e.is_empty()),
                "{what}: {problem}"
            );
        }
    }
    for source in ["NOPE", "reten"] {
        let path = format!("{t}/users/by-external-id/{source}/erp-1");
        let what = format!("PUT {path}");
        let problem = expect_problem(
            app.put(&path, ADMIN, json!({"name": "X"})).await,
            400,
            &what,
        );
        assert!(
            problem["errors"].as_object().is_some_and(|e| !e.is_empty()),
            "{what}: {problem}"
        );
    }

    assert_eq!(
        snapshot(&app, &a.tenant).await,
        before,
        "a refused request changed something"
    );
}

async fn field_values_are_validated(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = acme(&app).await;
    let t = format!("/v1/tenants/{}", a.tenant);
    let before = snapshot(&app, &a.tenant).await;
    let users = format!("{t}/users");
    let user = format!("{t}/users/{}", a.user);
    let upsert = format!("{t}/users/by-external-id/RETEN/erp-9");

    // Each bad value, on create, change and upsert of a user.
    let cases: Vec<(&str, Vec<Value>)> = vec![
        (
            "email",
            vec![
                json!("not-an-email"),
                json!("a@b"),
                json!("maria garcia@example.com"),
                json!("@example.com"),
                json!(""),
            ],
        ),
        (
            "mobile",
            vec![
                json!("0412345678"),
                json!("+0412345678"),
                json!("+1234567"),
                json!("+1234567890123456"),
                json!("+61 412 345 678"),
                json!("+61-412-345"),
            ],
        ),
        (
            "language_code",
            vec![
                json!("english"),
                json!("EN"),
                json!("xx"),
                json!("en-US"),
                json!(""),
            ],
        ),
        (
            "country_code",
            vec![json!("AUS"), json!("au"), json!("1"), json!("")],
        ),
    ];
    for (field, values) in &cases {
        for value in values {
            let mut body = json!({"first_name": "Val"});
            body[*field] = value.clone();
            for (method, path) in [
                (Method::POST, &users),
                (Method::PATCH, &user),
                (Method::PUT, &upsert),
            ] {
                let what = format!("{method} {path} with {body}");
                expect_field(
                    app.call(method, path, Some(ADMIN), Some(body.clone()))
                        .await,
                    field,
                    &what,
                );
            }
        }
    }
    // Several bad fields at once: each is named.
    let body =
        json!({"email": "nope", "mobile": "12", "language_code": "zz", "country_code": "zzz"});
    let problem = expect_field(
        app.post(&users, ADMIN, body).await,
        "email",
        "several bad fields",
    );
    for field in ["mobile", "language_code", "country_code"] {
        assert!(
            problem["errors"][field].is_array(),
            "{field} not named: {problem}"
        );
    }

    // Passwords: too short, too long, too common or guessable; the answer
    // names the field and never echoes the password.
    let too_long = "Lorem-ipsum-dolor-sit-amet ".repeat(5);
    let bad_passwords = [
        "Sh0rt-pw!",
        "elevenchars",
        "password1234",
        "123456789012",
        "aaaaaaaaaaaa",
        "qwertyuiop12",
        "abcdefghijkl",
        &too_long,
    ];
    for password in bad_passwords {
        let attempts = [
            (
                Method::POST,
                users.clone(),
                json!({"email": "pw@example.com", "password": password}),
            ),
            (Method::PATCH, user.clone(), json!({"password": password})),
            (
                Method::PUT,
                upsert.clone(),
                json!({"name": "Pw", "password": password}),
            ),
            (
                Method::POST,
                "/v1/accounts".to_string(),
                json!({"email": "pw@example.com", "password": password}),
            ),
        ];
        for (method, path, body) in attempts {
            let what = format!("{method} {path} with a bad password");
            let problem = expect_field(
                app.call(method, &path, Some(ADMIN), Some(body)).await,
                "password",
                &what,
            );
            assert!(
                !problem.to_string().contains(password.trim()),
                "{what}: the answer echoes the password: {problem}"
            );
        }
    }

    // Store codes: reserved, uppercase, not starting with a letter, bad characters.
    for code in [
        "default",
        "all",
        "Main",
        "MAIN",
        "1main",
        "main-1",
        "main street",
        "",
    ] {
        let what = format!("POST stores with code {code:?}");
        expect_field(
            app.post(
                &format!("{t}/stores"),
                ADMIN,
                json!({"code": code, "name": "X"}),
            )
            .await,
            "code",
            &what,
        );
        let what = format!("PATCH store with code {code:?}");
        expect_field(
            app.patch(
                &format!("{t}/stores/{}", a.store),
                ADMIN,
                json!({"code": code}),
            )
            .await,
            "code",
            &what,
        );
    }
    // Store ids and tenant uids are identifiers.
    for bad in ["has space", "slash/id", "ümlaut"] {
        let what = format!("POST stores with id {bad:?}");
        expect_field(
            app.post(
                &format!("{t}/stores"),
                ADMIN,
                json!({"id": bad, "code": "other", "name": "X"}),
            )
            .await,
            "id",
            &what,
        );
    }
    // Blank names.
    expect_field(
        app.post(
            &format!("{t}/stores"),
            ADMIN,
            json!({"code": "other", "name": "  "}),
        )
        .await,
        "name",
        "blank store name",
    );
    expect_field(
        app.post(&format!("{t}/companies"), ADMIN, json!({"name": ""}))
            .await,
        "name",
        "blank company name",
    );
    expect_field(
        app.post(
            &format!("{t}/api-keys"),
            ADMIN,
            json!({"name": " ", "permissions": []}),
        )
        .await,
        "name",
        "blank key name",
    );
    let record = json!({"company_id": a.company, "owner_user_id": a.user, "reference": " "});
    expect_field(
        app.post(&format!("{t}/quotes"), ADMIN, record.clone())
            .await,
        "reference",
        "blank quote reference",
    );
    expect_field(
        app.post(&format!("{t}/orders"), ADMIN, record).await,
        "reference",
        "blank order reference",
    );
    // Accounts.
    for email in ["nope", "a@b", ""] {
        let body = json!({"email": email, "password": PASSWORD});
        expect_field(
            app.post("/v1/accounts", ADMIN, body).await,
            "email",
            &format!("account email {email:?}"),
        );
    }
    // Invitations and devices.
    for email in ["nope", "a@b", ""] {
        let body = json!({"email": email});
        let what = format!("invitation email {email:?}");
        expect_field(
            app.post(&format!("{t}/invitations"), ADMIN, body).await,
            "email",
            &what,
        );
    }
    for store_id in ["has space", "slash/id", ""] {
        let body = json!({"name": "Till", "store_id": store_id});
        let what = format!("device store_id {store_id:?}");
        expect_field(
            app.post(&format!("{t}/devices"), ADMIN, body).await,
            "store_id",
            &what,
        );
    }
    expect_field(
        app.post(&format!("{t}/devices"), ADMIN, json!({"name": " "}))
            .await,
        "name",
        "blank device name",
    );
    // Check: an unknown permission, alone and in a batch (where it is that
    // item's error, and the batch still answers).
    let what = "check with an unknown permission";
    expect_field(
        app.post(
            &format!("{t}/check"),
            ADMIN,
            json!({"user_id": a.user, "permission": "FLY"}),
        )
        .await,
        "permission",
        what,
    );
    let batch = json!({"checks": [
        {"user_id": a.user, "permission": "FLY"},
        {"user_id": a.user, "permission": "USE_POS", "store_id": a.store},
        "not an object",
    ]});
    let answer = app
        .post(&format!("{t}/check"), ADMIN, batch)
        .await
        .expect(200);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{answer}");
    assert_eq!(results[0]["error"]["status"], 400, "{answer}");
    assert!(
        results[0]["error"]["errors"]["permission"].is_array(),
        "{answer}"
    );
    assert!(results[1]["allowed"].is_boolean(), "{answer}");
    assert_eq!(results[2]["error"]["status"], 400, "{answer}");
    expect_field(
        app.post(&format!("{t}/check"), ADMIN, json!({"checks": "x"}))
            .await,
        "checks",
        "checks not a list",
    );

    // None of it changed anything: no user, store, company, key, record or account.
    assert_eq!(
        snapshot(&app, &a.tenant).await,
        before,
        "a refused request changed something"
    );
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": "pw@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201);
}
