//! Tenants: admin-only management, validation, deletion of all data.

use serde_json::json;

use crate::on_both_engines;
use crate::support::{Engine, TestApp, ADMIN};

on_both_engines!(
    creates_reads_lists_renames_and_deletes_tenants,
    tenant_uids_are_validated_or_generated,
    only_the_admin_token_manages_tenants,
    deleting_a_tenant_deletes_its_data,
);

async fn creates_reads_lists_renames_and_deletes_tenants(engine: Engine) {
    let app = TestApp::start(engine).await;
    let created = app
        .post("/v1/tenants", ADMIN, json!({"uid": "acme", "name": "Acme"}))
        .await
        .expect(201);
    assert_eq!(created["uid"], "acme");
    assert_eq!(created["name"], "Acme");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    app.post(
        "/v1/tenants",
        ADMIN,
        json!({"uid": "acme", "name": "Again"}),
    )
    .await
    .problem(409);

    let read = app.get("/v1/tenants/acme", ADMIN).await.expect(200);
    assert_eq!(read, created);

    app.tenant("beta").await;
    app.tenant("gamma").await;
    let page = app.get("/v1/tenants?limit=2", ADMIN).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["uid"], "acme");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = app
        .get(&format!("/v1/tenants?limit=2&cursor={cursor}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["uid"], "gamma");
    assert!(rest["next_cursor"].is_null());

    let renamed = app
        .patch("/v1/tenants/acme", ADMIN, json!({"name": "Acme Retail"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Acme Retail");

    app.delete("/v1/tenants/acme", ADMIN).await.expect(204);
    app.get("/v1/tenants/acme", ADMIN).await.problem(404);
    app.delete("/v1/tenants/acme", ADMIN).await.problem(404);
}

async fn tenant_uids_are_validated_or_generated(engine: Engine) {
    let app = TestApp::start(engine).await;
    for bad in ["", "has space", "slash/uid", "ümlaut"] {
        let problem = app
            .post("/v1/tenants", ADMIN, json!({"uid": bad, "name": "X"}))
            .await
            .problem(400);
        assert!(problem["errors"]["uid"].is_array(), "{problem}");
    }
    let problem = app
        .post("/v1/tenants", ADMIN, json!({"uid": "ok", "name": "  "}))
        .await
        .problem(400);
    assert!(problem["errors"]["name"].is_array());
    let generated = app
        .post("/v1/tenants", ADMIN, json!({"name": "No uid"}))
        .await
        .expect(201);
    let uid = generated["uid"].as_str().unwrap();
    assert!(
        !uid.is_empty()
            && uid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let problem = app
        .post(
            "/v1/tenants",
            ADMIN,
            json!({"uid": "x", "name": "X", "created_at": "now"}),
        )
        .await
        .problem(400);
    assert!(problem["errors"]["created_at"].is_array(), "{problem}");
}

async fn only_the_admin_token_manages_tenants(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = app.tenant("acme").await;
    let key = app.key(&acme, &["MANAGE_TENANT", "MANAGE_USERS"]).await;
    app.post("/v1/tenants", &key, json!({"name": "Mine"}))
        .await
        .problem(403);
    app.get("/v1/tenants", &key).await.problem(403);
    app.patch("/v1/tenants/acme", &key, json!({"name": "Hijack"}))
        .await
        .problem(403);
    app.delete("/v1/tenants/acme", &key).await.problem(403);
    // Any credential of the tenant may read it.
    assert_eq!(
        app.get("/v1/tenants/acme", &key).await.expect(200)["uid"],
        "acme"
    );
    // No credentials, or wrong ones.
    app.call(reqwest::Method::GET, "/v1/tenants/acme", None, None)
        .await
        .problem(401);
    app.get("/v1/tenants/acme", "not-a-real-token")
        .await
        .problem(401);
}

async fn deleting_a_tenant_deletes_its_data(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = app.tenant("acme").await;
    let store = app.store(&acme, "main").await;
    let company = app.company(&acme, "Buyer").await;
    let boss = app
        .user(
            &acme,
            json!({"email": "boss@example.com", "company_id": company, "store_ids": [store]}),
        )
        .await;
    app.user(
        &acme,
        json!({"email": "kid@example.com", "company_id": company, "parent_id": boss["id"]}),
    )
    .await;
    let key = app.key(&acme, &["VIEW_USERS"]).await;
    app.delete("/v1/tenants/acme", ADMIN).await.expect(204);
    // Its keys stop working and a new tenant of the same uid starts empty.
    app.get("/v1/tenants/acme/users", &key).await.problem(401);
    app.tenant("acme").await;
    let users = app.get("/v1/tenants/acme/users", ADMIN).await.expect(200);
    assert_eq!(users["data"], json!([]));
    let stores = app.get("/v1/tenants/acme/stores", ADMIN).await.expect(200);
    assert_eq!(stores["data"], json!([]));
}
