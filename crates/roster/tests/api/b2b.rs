//! B2B company users (seed 002): customers under `/rest/{store_code}/V1/`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    the_seed_examples_create_and_modify_a_company_user,
    company_data_needs_a_company_a_job_title_and_a_telephone,
    store_codes_name_a_store_or_all_of_them,
    locking_an_account_stops_its_tokens,
    customer_tokens_sign_customers_in,
    hierarchy_moves_stay_within_a_company,
    deleting_a_customer_reassigns_children_and_locks_quotes,
    the_tenant_is_the_credentials,
    integer_fields_take_integral_numbers,
);

fn is_magento_time(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok())
}

fn melanie() -> Value {
    json!({"customer": {"email": "mshaw@example.com", "firstname": "Melanie", "lastname": "Shaw"}})
}

async fn customer_token(app: &TestApp, tenant: &str, username: &str, password: &str) -> Reply {
    let response = app
        .client
        .post(format!(
            "{}/rest/default/V1/integration/customer/token",
            app.base
        ))
        .header("x-tenant-id", tenant)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

async fn b2b_app(engine: Engine) -> (TestApp, String, String) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_COMMERCES"]).await;
    (app, t, key)
}

async fn the_seed_examples_create_and_modify_a_company_user(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.company(&t, "First").await;
    app.company(&t, "Second").await;
    let created = app
        .post("/rest/default/V1/customers", &key, melanie())
        .await
        .expect(200);
    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "addresses",
            "created_at",
            "created_in",
            "disable_auto_group_change",
            "email",
            "extension_attributes",
            "firstname",
            "group_id",
            "id",
            "lastname",
            "store_id",
            "updated_at",
            "website_id"
        ]
    );
    assert_eq!(created["id"], 1);
    assert_eq!(created["group_id"], 1);
    assert_eq!(created["created_in"], "Default Store View");
    assert_eq!(created["email"], "mshaw@example.com");
    assert_eq!(created["firstname"], "Melanie");
    assert_eq!(created["lastname"], "Shaw");
    assert_eq!(created["store_id"], 1);
    assert_eq!(created["website_id"], 1);
    assert_eq!(created["addresses"], json!([]));
    assert_eq!(created["disable_auto_group_change"], 0);
    assert_eq!(
        created["extension_attributes"]["company_attributes"],
        json!({"customer_id": 1, "company_id": 0})
    );
    assert!(
        is_magento_time(&created["created_at"]) && is_magento_time(&created["updated_at"]),
        "{created}"
    );

    let modify = json!({"customer": {
        "id": 1, "email": "mshaw@example.com", "firstname": "Melanie", "lastname": "Shaw", "website_id": 1,
        "extension_attributes": {"company_attributes": {"company_id": 2, "status": 0, "job_title": "Sales Rep", "telephone": "512-555-3322"}}
    }});
    let modified = app
        .put("/rest/default/V1/customers/1", &key, modify)
        .await
        .expect(200);
    assert_eq!(
        modified["extension_attributes"],
        json!({"company_attributes": {"customer_id": 1, "company_id": 2, "status": 0, "job_title": "Sales Rep", "telephone": "512-555-3322"}, "is_subscribed": false})
    );
    assert_eq!(
        app.get("/rest/default/V1/customers/1", &key)
            .await
            .expect(200),
        modified
    );
    // The same user on the native API: company #2, inactive.
    let native = app
        .get(&format!("/v1/tenants/{t}/users?number=1"), ADMIN)
        .await
        .expect(200);
    assert_eq!(native["data"][0]["status"], "INACTIVE");
    assert_eq!(native["data"][0]["job_title"], "Sales Rep");
    // company_id 0 takes the user out of its company.
    let out = app
        .put("/rest/default/V1/customers/1", &key, json!({"customer": {"extension_attributes": {"company_attributes": {"company_id": 0}}}}))
        .await
        .expect(200);
    assert_eq!(
        out["extension_attributes"]["company_attributes"],
        json!({"customer_id": 1, "company_id": 0})
    );
    // ... and clears its job title and telephone.
    let native = app
        .get(&format!("/v1/tenants/{t}/users?number=1"), ADMIN)
        .await
        .expect(200);
    assert!(native["data"][0]["company_id"].is_null(), "{native}");
    assert!(native["data"][0]["job_title"].is_null(), "{native}");
    assert!(native["data"][0]["telephone"].is_null(), "{native}");
    // Company data given with company_id 0 is refused: it needs a company.
    let p = app
        .put("/rest/default/V1/customers/1", &key, json!({"customer": {"extension_attributes": {"company_attributes": {"company_id": 0, "job_title": "T", "telephone": "1"}}}}))
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("company_id"), "{p}");
    app.put(
        "/rest/default/V1/customers/1",
        &key,
        json!({"customer": {"id": 2}}),
    )
    .await
    .problem(400);
    app.get("/rest/default/V1/customers/99", &key)
        .await
        .problem(404);
    app.post("/rest/default/V1/customers", &key, melanie())
        .await
        .problem(409);
    app.post(
        "/rest/default/V1/customers",
        &key,
        json!({"customer": {"email": "x@example.com"}}),
    )
    .await
    .problem(400);
    app.post(
        "/rest/default/V1/customers",
        &key,
        json!({"customer": {"email": "bad", "firstname": "A", "lastname": "B"}}),
    )
    .await
    .problem(400);
}

async fn company_data_needs_a_company_a_job_title_and_a_telephone(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.company(&t, "First").await;
    let with = |attrs: Value| {
        let mut body = melanie();
        body["customer"]["extension_attributes"] = json!({"company_attributes": attrs});
        body
    };
    let p = app
        .post(
            "/rest/default/V1/customers",
            &key,
            with(json!({"company_id": 1, "telephone": "1"})),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("job_title"), "{p}");
    let p = app
        .post(
            "/rest/default/V1/customers",
            &key,
            with(json!({"company_id": 1, "job_title": "Buyer"})),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("telephone"), "{p}");
    let p = app
        .post(
            "/rest/default/V1/customers",
            &key,
            with(json!({"job_title": "Buyer", "telephone": "1"})),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("company_id"), "{p}");
    app.post(
        "/rest/default/V1/customers",
        &key,
        with(json!({"company_id": 9, "job_title": "Buyer", "telephone": "1"})),
    )
    .await
    .problem(404);
    app.post(
        "/rest/default/V1/customers",
        &key,
        with(json!({"company_id": 1, "job_title": "Buyer", "telephone": "1", "status": 2})),
    )
    .await
    .problem(400);
    // Created with company data at once (as from the admin dashboard).
    let made = app
        .post(
            "/rest/default/V1/customers",
            &key,
            with(json!({"company_id": 1, "job_title": "Buyer", "telephone": "555"})),
        )
        .await
        .expect(200);
    assert_eq!(
        made["extension_attributes"]["company_attributes"]["status"],
        1
    );
    // Later changes may rely on what is held.
    app.put(
        "/rest/default/V1/customers/1",
        &key,
        json!({"customer": {"extension_attributes": {"company_attributes": {"status": 1}}}}),
    )
    .await
    .expect(200);
    let users = app
        .get(&format!("/v1/tenants/{t}/users"), ADMIN)
        .await
        .expect(200);
    assert_eq!(
        users["data"].as_array().unwrap().len(),
        1,
        "failed requests created nothing"
    );
}

async fn store_codes_name_a_store_or_all_of_them(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.store(&t, "first").await;
    app.post(
        &format!("/v1/tenants/{t}/stores"),
        ADMIN,
        json!({"id": "eu", "code": "europe", "name": "Europe Store View"}),
    )
    .await
    .expect(201);
    let made = app
        .post("/rest/europe/V1/customers", &key, melanie())
        .await
        .expect(200);
    assert_eq!(made["store_id"], 2);
    assert_eq!(made["created_in"], "Europe Store View");
    app.get("/rest/all/V1/customers/1", &key).await.expect(200);
    app.get("/rest/first/V1/customers/1", &key)
        .await
        .expect(200);
    app.get("/rest/nowhere/V1/customers/1", &key)
        .await
        .problem(404);
}

async fn locking_an_account_stops_its_tokens(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.company(&t, "First").await;
    let mut body = melanie();
    body["password"] = json!(PASSWORD);
    body["customer"]["extension_attributes"] =
        json!({"company_attributes": {"company_id": 1, "job_title": "Buyer", "telephone": "555"}});
    app.post("/rest/default/V1/customers", &key, body)
        .await
        .expect(200);
    let token = customer_token(&app, &t, "mshaw@example.com", PASSWORD)
        .await
        .expect(200);
    let token = token.as_str().unwrap().to_string();
    app.get("/rest/default/V1/customers/me", &token)
        .await
        .expect(200);
    let lock = json!({"customer": {"extension_attributes": {"company_attributes": {"status": 0}}}});
    app.put("/rest/default/V1/customers/1", &key, lock)
        .await
        .expect(200);
    app.get("/rest/default/V1/customers/me", &token)
        .await
        .problem(401);
    customer_token(&app, &t, "mshaw@example.com", PASSWORD)
        .await
        .problem(401);
    let unlock =
        json!({"customer": {"extension_attributes": {"company_attributes": {"status": 1}}}});
    app.put("/rest/default/V1/customers/1", &key, unlock)
        .await
        .expect(200);
    customer_token(&app, &t, "mshaw@example.com", PASSWORD)
        .await
        .expect(200);
}

async fn customer_tokens_sign_customers_in(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    let mut body = melanie();
    body["password"] = json!(PASSWORD);
    app.post("/rest/default/V1/customers", &key, body)
        .await
        .expect(200);
    let token = customer_token(&app, &t, "MShaw@example.com", PASSWORD)
        .await
        .expect(200);
    let token = token
        .as_str()
        .expect("the token is a JSON string")
        .to_string();
    let me = app
        .get("/rest/default/V1/customers/me", &token)
        .await
        .expect(200);
    assert_eq!(me["id"], 1);
    assert_eq!(me["email"], "mshaw@example.com");
    // The sign-in is recorded on the user, with its session.
    let users = app
        .get(
            &format!("/v1/tenants/{t}/users?email=mshaw@example.com"),
            ADMIN,
        )
        .await
        .expect(200);
    assert!(users["data"][0]["last_accessed_at"].is_string(), "{users}");
    let wrong = customer_token(&app, &t, "mshaw@example.com", "a-different-long-passphrase")
        .await
        .problem(401);
    let unknown = customer_token(&app, &t, "nobody@example.com", PASSWORD)
        .await
        .problem(401);
    assert_eq!(wrong["detail"], unknown["detail"]);
    app.tenant("other").await;
    customer_token(&app, "other", "mshaw@example.com", PASSWORD)
        .await
        .problem(401);
    customer_token(&app, "nope", "mshaw@example.com", PASSWORD)
        .await
        .problem(404);
    let no_header = app
        .call(
            Method::POST,
            "/rest/default/V1/integration/customer/token",
            None,
            Some(json!({"username": "mshaw@example.com", "password": PASSWORD})),
        )
        .await;
    assert!(no_header.problem(400)["errors"]["x-tenant-id"].is_array());
    // The key is no customer.
    app.get("/rest/default/V1/customers/me", &key)
        .await
        .problem(403);
}

async fn hierarchy_moves_stay_within_a_company(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.company(&t, "First").await;
    app.company(&t, "Second").await;
    for (i, company) in [(1, 1), (2, 1), (3, 1), (4, 2)] {
        let mut body = json!({"customer": {"email": format!("u{i}@example.com"), "firstname": "U", "lastname": format!("{i}")}});
        body["customer"]["extension_attributes"] = json!({"company_attributes": {"company_id": company, "job_title": "T", "telephone": "1"}});
        app.post("/rest/default/V1/customers", &key, body)
            .await
            .expect(200);
    }
    let moved = app
        .put(
            "/rest/default/V1/hierarchy/move/2",
            &key,
            json!({"newParentId": 1}),
        )
        .await
        .expect(200);
    assert_eq!(moved, json!(true));
    app.put(
        "/rest/default/V1/hierarchy/move/3",
        &key,
        json!({"newParentId": 2}),
    )
    .await
    .expect(200);
    let p = app
        .put(
            "/rest/default/V1/hierarchy/move/1",
            &key,
            json!({"newParentId": 3}),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("cycle"), "{p}");
    app.put(
        "/rest/default/V1/hierarchy/move/4",
        &key,
        json!({"newParentId": 1}),
    )
    .await
    .problem(400);
    app.put(
        "/rest/default/V1/hierarchy/move/2",
        &key,
        json!({"newParentId": 99}),
    )
    .await
    .problem(404);
    app.put(
        "/rest/default/V1/hierarchy/move/99",
        &key,
        json!({"newParentId": 1}),
    )
    .await
    .problem(404);
    app.put(
        "/rest/default/V1/hierarchy/move/2",
        &key,
        json!({"newParentId": "one"}),
    )
    .await
    .problem(400);
    let users = app
        .get(&format!("/v1/tenants/{t}/users?number=3"), ADMIN)
        .await
        .expect(200);
    let two = app
        .get(&format!("/v1/tenants/{t}/users?number=2"), ADMIN)
        .await
        .expect(200);
    assert_eq!(users["data"][0]["parent_id"], two["data"][0]["id"]);
}

async fn deleting_a_customer_reassigns_children_and_locks_quotes(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    let company = app.company(&t, "First").await;
    for i in 1..=3 {
        let mut body = json!({"customer": {"email": format!("u{i}@example.com"), "firstname": "U", "lastname": format!("{i}")}});
        body["customer"]["extension_attributes"] =
            json!({"company_attributes": {"company_id": 1, "job_title": "T", "telephone": "1"}});
        app.post("/rest/default/V1/customers", &key, body)
            .await
            .expect(200);
    }
    app.put(
        "/rest/default/V1/hierarchy/move/2",
        &key,
        json!({"newParentId": 1}),
    )
    .await
    .expect(200);
    app.put(
        "/rest/default/V1/hierarchy/move/3",
        &key,
        json!({"newParentId": 2}),
    )
    .await
    .expect(200);
    let by_number = |n: i64| {
        let app = &app;
        let t = t.clone();
        async move {
            app.get(&format!("/v1/tenants/{t}/users?number={n}"), ADMIN)
                .await
                .expect(200)["data"][0]
                .clone()
        }
    };
    let (one, two) = (by_number(1).await, by_number(2).await);
    let quote = app
        .post(
            &format!("/v1/tenants/{t}/quotes"),
            ADMIN,
            json!({"company_id": company, "owner_user_id": two["id"], "reference": "Q-2"}),
        )
        .await
        .expect(201);
    let deleted = app
        .delete("/rest/default/V1/customers/2", &key)
        .await
        .expect(200);
    assert_eq!(deleted, json!(true));
    assert_eq!(
        by_number(3).await["parent_id"],
        one["id"],
        "the child moved to the deleted user's parent"
    );
    let quote = app
        .get(
            &format!("/v1/tenants/{t}/quotes/{}", quote["id"].as_str().unwrap()),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(quote["status"], "CLOSED");
    assert_eq!(quote["locked"], true);
    app.get("/rest/default/V1/customers/2", &key)
        .await
        .problem(404);
    // Deactivating re-assigns too.
    app.put(
        "/rest/default/V1/customers/1",
        &key,
        json!({"customer": {"extension_attributes": {"company_attributes": {"status": 0}}}}),
    )
    .await
    .expect(200);
    assert!(by_number(3).await["parent_id"].is_null());
}

async fn the_tenant_is_the_credentials(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    let other = app.tenant("other").await;
    let other_key = app.key(&other, &["MANAGE_COMMERCES"]).await;
    app.post("/rest/default/V1/customers", &key, melanie())
        .await
        .expect(200);
    // Another tenant's key sees its own customers only: #1 is not there.
    app.get("/rest/default/V1/customers/1", &other_key)
        .await
        .problem(404);
    app.delete("/rest/default/V1/customers/1", &other_key)
        .await
        .problem(404);
    // The admin token names the tenant in x-tenant-id.
    let with_header = app
        .client
        .get(format!("{}/rest/default/V1/customers/1", app.base))
        .bearer_auth(ADMIN)
        .header("x-tenant-id", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 200);
    app.get("/rest/default/V1/customers/1", ADMIN)
        .await
        .problem(400);
    let weak = app.key(&t, &["VIEW_USERS"]).await;
    app.get("/rest/default/V1/customers/1", &weak)
        .await
        .problem(403);
    app.call(Method::GET, "/rest/default/V1/customers/1", None, None)
        .await
        .problem(401);
}

/// JSON Schema's `integer` counts `1.0`, and the document says `integer`:
/// an integral number is taken, a fractional one is refused naming it.
async fn integer_fields_take_integral_numbers(engine: Engine) {
    let (app, t, key) = b2b_app(engine).await;
    app.company(&t, "First").await;
    let mut body = melanie();
    body["customer"]["extension_attributes"] = json!({"company_attributes":
        {"company_id": 1.0, "job_title": "Buyer", "telephone": "512-555-0100"}});
    let created = app
        .post("/rest/default/V1/customers", &key, body.clone())
        .await
        .expect(200);
    assert_eq!(
        created["extension_attributes"]["company_attributes"]["company_id"],
        1
    );
    body["customer"]["email"] = json!("other@example.com");
    body["customer"]["extension_attributes"]["company_attributes"]["company_id"] = json!(1.5);
    let problem = app
        .post("/rest/default/V1/customers", &key, body)
        .await
        .problem(400);
    assert!(
        problem["errors"]["customer.extension_attributes.company_attributes.company_id"].is_array(),
        "{problem}"
    );
}
