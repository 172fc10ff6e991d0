//! Partner user (seed 001): `GET /partner/v1/users/me`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    the_current_user_as_the_partner_api_shows_it,
    only_a_users_credentials_have_a_current_user
);

fn is_iso_millis(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    let bytes = text.as_bytes();
    text.len() == 24
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && text.ends_with('Z')
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

async fn the_current_user_as_the_partner_api_shows_it(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "one").await;
    let s2 = app.store(&t, "two").await;
    let user = app
        .user(&t, json!({
            "email": "ops@partner.example", "login": "ops", "first_name": "Olga", "last_name": "Pérez",
            "partner_role": "api", "store_ids": [s2, s1], "user_code": "77", "password": PASSWORD, "tenant_role": "ACCESS"
        }))
        .await;
    let key = app.user_key(&t, &id(&user)).await;
    let me = app.get("/partner/v1/users/me", &key).await.expect(200);
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "_id",
            "created_at",
            "email",
            "first_name",
            "last_name",
            "login",
            "partner",
            "partner_role",
            "role",
            "store_ids",
            "updated_at"
        ]
    );
    assert_eq!(me["_id"], user["id"]);
    assert_eq!(me["email"], "ops@partner.example");
    assert_eq!(me["login"], "ops");
    assert_eq!(me["role"], "partner");
    assert_eq!(me["partner_role"], "api");
    assert_eq!(me["partner"], "Tenant acme");
    assert_eq!(me["store_ids"], json!(["one", "two"]));
    assert_eq!(me["first_name"], "Olga");
    assert_eq!(me["last_name"], "Pérez");
    assert!(
        is_iso_millis(&me["created_at"]) && is_iso_millis(&me["updated_at"]),
        "{me}"
    );
    // A user's access token answers the same.
    let device = app
        .post(
            &format!("/v1/tenants/{t}/devices"),
            ADMIN,
            json!({"name": "Till"}),
        )
        .await
        .expect(201);
    let access = app
        .call(
            Method::POST,
            "/account",
            device["token"].as_str(),
            Some(json!({"userCode": "77", "password": PASSWORD})),
        )
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let again = app.get("/partner/v1/users/me", &access).await.expect(200);
    assert_eq!(again["_id"], me["_id"]);
    assert_eq!(again["store_ids"], me["store_ids"]);
    // The stored partner role is reported, and a user without one shows null.
    app.patch(
        &format!("/v1/tenants/{t}/users/{}", id(&user)),
        ADMIN,
        json!({"partner_role": "viewer"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get("/partner/v1/users/me", &key).await.expect(200)["partner_role"],
        "viewer"
    );
    let plain = app.user(&t, json!({})).await;
    let plain_key = app.user_key(&t, &id(&plain)).await;
    let plain_me = app
        .get("/partner/v1/users/me", &plain_key)
        .await
        .expect(200);
    assert!(plain_me["partner_role"].is_null() && plain_me["email"].is_null());
    assert_eq!(plain_me["store_ids"], json!([]));
}

async fn only_a_users_credentials_have_a_current_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let permission_key = app.key(&t, &["VIEW_USERS"]).await;
    app.get("/partner/v1/users/me", &permission_key)
        .await
        .problem(403);
    app.get("/partner/v1/users/me", ADMIN).await.problem(403);
    app.call(Method::GET, "/partner/v1/users/me", None, None)
        .await
        .problem(401);
    let blocked = app
        .user(
            &t,
            json!({"partner_role": "manager", "tenant_role": "BLOCKED"}),
        )
        .await;
    let blocked_key = app.user_key(&t, &id(&blocked)).await;
    app.get("/partner/v1/users/me", &blocked_key)
        .await
        .problem(403);
}
