//! Operations: health, readiness, metrics, the OpenAPI document and docs,
//! trace ids, the audit log; and the real binary, end to end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    health_readiness_and_metrics,
    openapi_documents_every_route_and_docs_are_served,
    the_document_says_what_the_server_enforces,
    every_response_carries_a_trace_id,
    every_change_is_audited_and_failed_ones_are_not,
);

async fn health_readiness_and_metrics(engine: Engine) {
    let app = TestApp::start(engine).await;
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.tenant("acme").await;
    app.get("/v1/tenants/nope", ADMIN).await.problem(404);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"roster_http_requests_total{method="POST",route="/v1/tenants",status="201"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/v1/tenants/{tenant}",status="404""#),
        "{metrics}"
    );
    assert!(
        metrics.contains("roster_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

async fn openapi_documents_every_route_and_docs_are_served(engine: Engine) {
    let app = TestApp::start(engine).await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/tenants", vec!["get", "post"]),
        ("/v1/tenants/{tenant}", vec!["get", "patch", "delete"]),
        ("/v1/tenants/{tenant}/stores", vec!["get", "post"]),
        (
            "/v1/tenants/{tenant}/stores/{id}",
            vec!["get", "patch", "delete"],
        ),
        ("/v1/tenants/{tenant}/companies", vec!["get", "post"]),
        (
            "/v1/tenants/{tenant}/companies/{id}",
            vec!["get", "patch", "delete"],
        ),
        ("/v1/tenants/{tenant}/users", vec!["get", "post"]),
        (
            "/v1/tenants/{tenant}/users/{id}",
            vec!["get", "patch", "delete"],
        ),
        (
            "/v1/tenants/{tenant}/users/by-external-id/{source}/{external_id}",
            vec!["put"],
        ),
        ("/v1/tenants/{tenant}/api-keys", vec!["get", "post"]),
        ("/v1/tenants/{tenant}/api-keys/{id}", vec!["delete"]),
        ("/v1/accounts", vec!["post"]),
        ("/v1/accounts/{id}", vec!["get"]),
        ("/v1/tenants/{tenant}/quotes", vec!["get", "post"]),
        ("/v1/tenants/{tenant}/quotes/{id}", vec!["get", "patch"]),
        ("/v1/tenants/{tenant}/orders", vec!["get", "post"]),
        ("/v1/tenants/{tenant}/orders/{id}", vec!["get", "patch"]),
        ("/v1/tenants/{tenant}/check", vec!["post"]),
        ("/v1/tenants/{tenant}/events", vec!["get"]),
        ("/v1/tenants/{tenant}/devices", vec!["get", "post"]),
        ("/v1/tenants/{tenant}/devices/{id}", vec!["delete"]),
        ("/v1/tenants/{tenant}/invitations", vec!["get", "post"]),
        ("/v1/tenants/{tenant}/invitations/{id}", vec!["delete"]),
        ("/api/commerces/{cId}/users", vec!["get", "post"]),
        ("/api/commerces/{cId}/users/{uId}", vec!["get", "patch"]),
        ("/api/commerces/{cId}/users/{uId}/roles", vec!["post"]),
        (
            "/api/commerces/{cId}/users/{uId}/roles/{role}",
            vec!["delete"],
        ),
        ("/api/commerces/{cId}/users/{uId}/contacts", vec!["post"]),
        (
            "/api/commerces/{cId}/users/{uId}/contacts/{contactId}",
            vec!["patch"],
        ),
        (
            "/api/commerces/{cId}/users/{uId}/contacts/{contactId}/set-primary",
            vec!["post"],
        ),
        ("/account", vec!["get", "post", "put"]),
        ("/tenants/{tenantUid}/account", vec!["get", "post", "put"]),
        ("/account/invite", vec!["get", "put"]),
        ("/auth/login", vec!["post"]),
        ("/auth/logout", vec!["post"]),
        ("/.well-known/jwks.json", vec!["get"]),
        ("/partner/v1/users/me", vec!["get"]),
        ("/rest/{store_code}/V1/customers", vec!["post"]),
        ("/rest/{store_code}/V1/customers/me", vec!["get"]),
        (
            "/rest/{store_code}/V1/customers/{id}",
            vec!["get", "put", "delete"],
        ),
        ("/rest/{store_code}/V1/hierarchy/move/{id}", vec!["put"]),
        (
            "/rest/{store_code}/V1/integration/customer/token",
            vec!["post"],
        ),
        (
            "/retail-media/users/{organisationId}/upsert-user",
            vec!["post"],
        ),
        ("/healthz", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/metrics", vec!["get"]),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for method in methods {
            let op = &item[method];
            assert!(op.is_object(), "{method} {path} is not documented");
            if path.starts_with("/v1") {
                for status in ["400", "401", "403", "404"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Problem",
        "UserCreate",
        "UserView",
        "TenantRole",
        "Permission",
        "CheckItem",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("BACKOFFICE"),
        "the permission map is documented"
    );
    let docs = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    assert!(!html.contains("https://"), "the docs need no network");
}

/// The document's types, bounds, credentials and links are the server's
/// (Schemathesis checks them all in CI; these are the ones a client most
/// relies on, checked against the server's answers here).
async fn the_document_says_what_the_server_enforces(engine: Engine) {
    let app = TestApp::start(engine).await;
    let doc = app.get("/openapi.json", ADMIN).await.expect(200);
    let schemas = &doc["components"]["schemas"];
    // Vocabularies with the casing the server accepts.
    assert_eq!(
        schemas["TenantRole"]["enum"],
        json!(["ADMIN", "BACKOFFICE", "ACCESS", "BLOCKED"])
    );
    assert_eq!(
        schemas["PartnerRole"]["enum"],
        json!(["manager", "viewer", "api"])
    );
    let t = app.tenant("acme").await;
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"status": "INACTIVE", "partner_role": "viewer"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"status": "Inactive"}),
    )
    .await
    .problem(400);
    // `limit` with the bounds the server holds to.
    let list = &doc["paths"]["/v1/tenants/{tenant}/users"]["get"];
    let limit = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit is documented");
    assert_eq!(limit["schema"]["minimum"], 1, "{limit}");
    assert_eq!(limit["schema"]["maximum"], 500, "{limit}");
    let users = format!("/v1/tenants/{t}/users");
    app.get(&format!("{users}?limit=500"), ADMIN)
        .await
        .expect(200);
    app.get(&format!("{users}?limit=501"), ADMIN)
        .await
        .problem(400);
    // Errors as problems.
    assert_eq!(
        list["responses"]["400"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    // A scheme per credential kind, and what each operation takes.
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut kinds: Vec<&str> = schemes.keys().map(String::as_str).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "access_token",
            "admin_token",
            "api_key",
            "auth_token",
            "device_token"
        ]
    );
    assert_eq!(
        doc["paths"]["/v1/tenants"]["post"]["security"],
        json!([{"admin_token": []}])
    );
    assert_eq!(
        list["security"],
        json!([{"admin_token": []}, {"api_key": []}, {"access_token": []}])
    );
    // Unique operation ids, and links from a create to its get, patch and
    // delete.
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
    let links = &doc["paths"]["/v1/tenants/{tenant}/stores"]["post"]["responses"]["201"]["links"];
    for target in ["get_store", "update_store", "delete_store"] {
        assert_eq!(links[target]["operationId"], target, "{links}");
        assert_eq!(
            links[target]["parameters"],
            json!({"tenant": "$request.path.tenant", "id": "$response.body#/id"}),
            "{links}"
        );
    }
}

async fn every_response_carries_a_trace_id(engine: Engine) {
    let app = TestApp::start(engine).await;
    let ok = app
        .call(reqwest::Method::GET, "/v1/tenants", Some(ADMIN), None)
        .await;
    assert!(ok.headers.get("x-trace-id").is_some());
    let missing = app
        .call(reqwest::Method::GET, "/no/such/route", Some(ADMIN), None)
        .await;
    let header = missing
        .headers
        .get("x-trace-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body = missing.problem(404);
    assert_eq!(
        body["traceId"], header,
        "the body and the header name the same trace"
    );
    let wrong_method = app
        .call(reqwest::Method::PUT, "/v1/tenants", Some(ADMIN), None)
        .await;
    wrong_method.problem(405);
}

async fn every_change_is_audited_and_failed_ones_are_not(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let company = app.company(&t, "Buyer").await;
    let user = app
        .user(&t, json!({"email": "a@example.com", "company_id": company}))
        .await;
    app.patch(
        &format!("/v1/tenants/{t}/users/{}", id(&user)),
        ADMIN,
        json!({"password": PASSWORD}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"email": "A@example.com"}),
    )
    .await
    .problem(409);
    app.patch(
        &format!("/v1/tenants/{t}/stores/{store}"),
        ADMIN,
        json!({"name": "Main Street"}),
    )
    .await
    .expect(200);
    app.delete(&format!("/v1/tenants/{t}/stores/{store}"), ADMIN)
        .await
        .expect(204);
    let events = app
        .get(&format!("/v1/tenants/{t}/events?limit=3"), ADMIN)
        .await
        .expect(200);
    let mut all: Vec<Value> = events["data"].as_array().unwrap().clone();
    let cursor = events["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/v1/tenants/{t}/events?cursor={cursor}"), ADMIN)
        .await
        .expect(200);
    all.extend(rest["data"].as_array().unwrap().iter().cloned());
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "tenant.created",
            "store.created",
            "company.created",
            "user.created",
            "user.updated",
            "store.updated",
            "store.deleted"
        ]
    );
    assert!(all.iter().all(|e| e["actor"] == "admin"));
    assert!(all[4]["summary"].as_str().unwrap().contains("password"));
    assert!(!rest.to_string().contains(PASSWORD));
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
}

/// The real binary over TCP: it serves, logs one JSON line per request with
/// its trace id and no secret, and drains and exits cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_logs_without_secrets_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("ROSTER_ADDR", "127.0.0.1:0")
        .env(
            "ROSTER_DATABASE_URL",
            format!("sqlite:{}", dir.path().join("smoke.db").display()),
        )
        .env("ROSTER_ADMIN_TOKEN", ADMIN)
        .env("ROSTER_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut start_up = Vec::new();
    let addr = loop {
        let line = lines.next().expect("the server logs its address").unwrap();
        let entry: Value = serde_json::from_str(&line).unwrap();
        if entry["message"] == "roster is serving" {
            break entry["addr"].as_str().unwrap().to_string();
        }
        start_up.push(entry);
    };
    // Without a key-encryption key, the start warns that signing keys are
    // stored unencrypted.
    assert!(
        start_up.iter().any(|e| e["level"] == "WARN"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("ROSTER_KEY_ENCRYPTION_KEY is not set"))),
        "{start_up:?}"
    );
    let client = reqwest::Client::new();
    let created = client
        .post(format!("http://{addr}/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&json!({"uid": "smoke", "name": "Smoke"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let trace = created.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_string();
    let user = client
        .post(format!("http://{addr}/v1/tenants/smoke/users"))
        .bearer_auth(ADMIN)
        .json(&json!({"email": "s@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exits cleanly on SIGTERM: {exit:?}");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let log = rest.join("\n");
    assert!(
        !log.contains(ADMIN) && !log.contains(PASSWORD),
        "no secret in the log:\n{log}"
    );
    let request_line: Value = rest
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["trace_id"] == trace)
        .expect("a log line for the request");
    assert_eq!(request_line["method"], "POST");
    assert_eq!(request_line["route"], "/v1/tenants");
    assert_eq!(request_line["status"], 201);
    assert!(request_line["latency_ms"].is_number());
}

/// The real binary refuses a bad setting at start, naming the variable it
/// came from and never echoing a secret.
#[test]
fn the_binary_refuses_bad_settings_naming_the_variable() {
    let run = |variable: &str, value: &str| {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env(
                "ROSTER_DATABASE_URL",
                format!("sqlite:{}", dir.path().join("bad.db").display()),
            )
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        String::from_utf8(output.stderr).unwrap()
    };
    let stderr = run("ROSTER_SQLITE_SYNCHRONOUS", "FULLL");
    assert!(stderr.contains("ROSTER_SQLITE_SYNCHRONOUS"), "{stderr}");
    assert!(stderr.contains("FULL, NORMAL, OFF, EXTRA"), "{stderr}");
    let stderr = run("ROSTER_PURGE_INTERVAL", "0");
    assert!(stderr.contains("ROSTER_PURGE_INTERVAL"), "{stderr}");
    let stderr = run("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal");
    assert!(stderr.contains("ROSTER_TRUSTED_PROXIES"), "{stderr}");
    let stderr = run("ROSTER_KEY_ENCRYPTION_KEY", "almost-my-secret-key");
    assert!(stderr.contains("ROSTER_KEY_ENCRYPTION_KEY"), "{stderr}");
    assert!(stderr.contains("32 bytes"), "{stderr}");
    assert!(!stderr.contains("almost-my-secret-key"), "{stderr}");
}

/// Runs `roster serve` on `database_url` until it exits; its exit code, its
/// stderr and how long it ran.
fn serve_until_it_exits(database_url: &str) -> (Option<i32>, String, std::time::Duration) {
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("ROSTER_ADDR", "127.0.0.1:0")
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), stderr, started.elapsed())
}

/// A PostgreSQL server that refuses connections stops the start at once:
/// exit code 1 and one line on stderr naming its address, not the password.
#[test]
fn the_binary_names_a_postgres_server_that_refuses_and_stops_at_once() {
    let (code, stderr, took) = serve_until_it_exits("postgres://roster:s3cret-pw@127.0.0.1:1/x");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"
    );
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

/// A SQLite file that cannot be opened (its directory is missing, or it is
/// a directory) stops the start with one line naming its path.
#[test]
fn the_binary_names_a_sqlite_file_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("roster.db");
    let (code, stderr, _) = serve_until_it_exits(&format!("sqlite:{}", missing.display()));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let named = format!(
        "error: cannot open the SQLite database {}: ",
        missing.display()
    );
    assert!(stderr.starts_with(&named), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the directory {} does not exist",
            dir.path().join("missing").display()
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Caused by") && !stderr.contains("Error {"),
        "{stderr}"
    );

    let (code, stderr, _) = serve_until_it_exits(&format!("sqlite:{}", dir.path().display()));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot open the SQLite database {}: ",
            dir.path().display()
        )),
        "{stderr}"
    );
}
