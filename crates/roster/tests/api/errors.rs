//! Errors that say what to do: a token sent to a server whose admin API is
//! off, a JSON syntax error's line and column, and bodies nested too deeply
//! for any parser to be asked to follow.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, test_config, Engine, Reply, TestApp, ADMIN};

on_both_engines!(
    a_token_that_is_no_credential_hears_that_the_admin_api_is_off,
    a_json_syntax_error_names_its_line_and_column,
    deeply_nested_bodies_are_refused_on_every_surface,
);

const ADMIN_OFF: &str = "the admin API is off on this server";

async fn a_token_that_is_no_credential_hears_that_the_admin_api_is_off(engine: Engine) {
    let mut config = test_config();
    config.admin_token = None;
    let off = TestApp::start_with(engine, config).await;
    // A second process on the same database, with the admin token, sets up
    // a tenant and a key.
    let on = off.sibling().await;
    let t = on.tenant("acme").await;
    let key = on.key(&t, &["VIEW_USERS"]).await;

    // The would-be admin token, and any other token that is no credential
    // (an unknown key, a token shaped like a JWT that does not verify),
    // hear the same: the credentials are not valid, the admin API is off.
    for token in [ADMIN, "rk_not-a-key", "eyJhbGciOiJFZERTQSJ9.e30.c2ln"] {
        for path in ["/v1/tenants".to_string(), format!("/v1/tenants/{t}/users")] {
            let problem = off.get(&path, token).await.problem(401);
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(ADMIN_OFF), "{token} on {path}: {problem}");
        }
    }
    // A valid key still works, and is told only what it may not do.
    off.get(&format!("/v1/tenants/{t}/users"), &key)
        .await
        .expect(200);
    let refused = off.get("/v1/tenants", &key).await.problem(403);
    assert!(
        !refused["detail"].as_str().unwrap().contains("admin API"),
        "{refused}"
    );
    // A server with an admin token never says whether it has one.
    let problem = on
        .get("/v1/tenants", "not-the-admin-token")
        .await
        .problem(401);
    assert!(
        !problem["detail"].as_str().unwrap().contains("admin API"),
        "{problem}"
    );
    assert_eq!(
        problem["detail"], "the credentials are not valid",
        "{problem}"
    );
}

async fn a_json_syntax_error_names_its_line_and_column(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    // The comma after "Ana" is missing: line 3, column 3 is where the next
    // key starts.
    let body = b"{\n  \"first_name\": \"Ana\"\n  \"email\": \"ana@example.com\"\n}".to_vec();
    let problem = app
        .raw(
            Method::POST,
            &format!("/v1/tenants/{t}/users"),
            Some(ADMIN),
            "application/json",
            body,
        )
        .await
        .problem(400);
    assert_eq!(
        problem["detail"], "body: is not valid JSON: expected `,` or `}` at line 3 column 3",
        "{problem}"
    );
    assert_eq!(
        problem["errors"]["body"][0],
        "is not valid JSON: expected `,` or `}` at line 3 column 3"
    );
    // Trailing bytes and a cut-off body say where, too.
    for (body, at) in [
        (r#"{"uid": "x", "name": "X"} extra"#, "at line 1 column 27"),
        ("{\"uid\": \"x\",\n\"name\": ", "at line 2 column 8"),
    ] {
        let problem = app
            .raw(
                Method::POST,
                "/v1/tenants",
                Some(ADMIN),
                "application/json",
                body.as_bytes().to_vec(),
            )
            .await
            .problem(400);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("body: is not valid JSON: ") && detail.ends_with(at),
            "{body:?}: {problem}"
        );
    }
    // A field of the wrong type is named by its path, not a position.
    let problem = app
        .post(
            &format!("/v1/tenants/{t}/users"),
            ADMIN,
            json!({"email": 5}),
        )
        .await
        .problem(400);
    assert!(problem["errors"]["email"].is_array(), "{problem}");
    assert!(
        !problem["detail"].as_str().unwrap().contains("line"),
        "{problem}"
    );
}

/// Bodies a naive recursive parser would follow until the stack ran out;
/// the last one's nesting sits in a field, where a typed body would refuse
/// it or skip it, yet it is refused as a whole.
fn too_deep() -> Vec<(&'static str, Vec<u8>)> {
    let nested_object = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let in_a_field = format!(
        r#"{{"name": "X", "store_ids": {}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    vec![
        ("100 000 [", "[".repeat(100_000).into_bytes()),
        ("100 000 nested objects", nested_object.into_bytes()),
        ("200 nested arrays in a field", in_a_field.into_bytes()),
    ]
}

/// A request with `x-tenant-id`, as the seed surfaces take it.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    tenant: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .header("x-tenant-id", tenant)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

async fn deeply_nested_bodies_are_refused_on_every_surface(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let company = app.company(&t, "Garcia Imports").await;
    let user = id(&app
        .user(
            &t,
            json!({"email": "maria@example.com", "company_id": company, "roles": ["OWNER"]}),
        )
        .await);
    let key = app.key(&t, &["MANAGE_COMMERCES", "MANAGE_USERS"]).await;
    let problem_routes = [
        (Method::POST, "/v1/tenants".to_string(), ADMIN),
        (Method::POST, format!("/v1/tenants/{t}/users"), ADMIN),
        (
            Method::PATCH,
            format!("/v1/tenants/{t}/users/{user}"),
            ADMIN,
        ),
        (
            Method::PUT,
            format!("/v1/tenants/{t}/users/by-external-id/RETEN/erp-1"),
            ADMIN,
        ),
        (
            Method::PATCH,
            format!("/v1/tenants/{t}/stores/{store}"),
            ADMIN,
        ),
        // check parses its body as `serde_json::Value` first; seed 000
        // ignores unknown fields and needs none.
        (Method::POST, format!("/v1/tenants/{t}/check"), ADMIN),
        // Seed 000, seed 002 and seed 003 (no credential needed).
        (
            Method::POST,
            format!("/api/commerces/{company}/users"),
            &key,
        ),
        (Method::POST, "/rest/default/V1/customers".to_string(), &key),
        (Method::POST, "/auth/login".to_string(), ""),
    ];
    for (what, body) in too_deep() {
        for (method, path, token) in &problem_routes {
            let token = Some(*token).filter(|t| !t.is_empty());
            let reply = send(&app, method.clone(), path, &t, token, body.clone()).await;
            let at = format!("{method} {path} with {what}");
            assert_eq!(reply.status, 400, "{at}: {}", reply.body);
            let problem = reply.problem(400);
            assert!(problem["errors"]["body"].is_array(), "{at}: {problem}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains("deeper than 127 levels"), "{at}: {problem}");
        }
        // Seed 004 answers 400 in its own validation shape.
        let path = format!("/retail-media/users/{company}/upsert-user");
        let reply = send(&app, Method::POST, &path, &t, Some(&key), body.clone()).await;
        let answer = reply.expect(400);
        assert_eq!(answer["status"], 400, "{path} with {what}: {answer}");
        assert!(
            answer["errors"][0]
                .as_str()
                .is_some_and(|e| e.contains("deeper than 127 levels")),
            "{path} with {what}: {answer}"
        );
    }
    // A token shaped like a JWT whose header nests deeply is no credential.
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[".repeat(5_000));
    let token = format!("{header}.e30.c2ln");
    app.get(&format!("/v1/tenants/{t}/users"), &token)
        .await
        .problem(401);
    // The server is still there, and nothing was written.
    let events = app
        .get(&format!("/v1/tenants/{t}/events?limit=500"), ADMIN)
        .await
        .expect(200);
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.created",
            "store.created",
            "company.created",
            "user.created",
            "api_key.created"
        ]
    );
    app.get("/healthz", ADMIN).await.expect(200);
}
