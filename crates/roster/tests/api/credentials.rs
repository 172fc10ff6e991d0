//! API keys: permission keys, user-bound keys, revocation; accounts.

use serde_json::json;

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    a_key_shows_its_token_once_and_acts_with_its_permissions,
    a_bound_key_acts_as_its_user,
    revoked_keys_stop_at_once,
    tokens_are_accepted_bare_or_as_bearer,
    accounts_are_created_by_the_admin_and_linked_to_users,
);

async fn a_key_shows_its_token_once_and_acts_with_its_permissions(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let created = app
        .post(
            &format!("/v1/tenants/{t}/api-keys"),
            ADMIN,
            json!({"name": "erp", "permissions": ["VIEW_USERS", "MANAGE_USERS", "VIEW_USERS"]}),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.len() > 40);
    assert_eq!(
        created["permissions"],
        json!(["MANAGE_USERS", "VIEW_USERS"])
    );
    let listed = app
        .get(&format!("/v1/tenants/{t}/api-keys"), ADMIN)
        .await
        .expect(200);
    assert_eq!(listed["data"][0]["id"], created["id"]);
    assert!(
        listed["data"][0].get("token").is_none(),
        "the token is shown once"
    );
    assert!(!listed.to_string().contains(&token));

    let user = app
        .post(
            &format!("/v1/tenants/{t}/users"),
            &token,
            json!({"name": "By key"}),
        )
        .await
        .expect(201);
    app.post(
        &format!("/v1/tenants/{t}/stores"),
        &token,
        json!({"code": "s", "name": "S"}),
    )
    .await
    .problem(403);
    app.get(&format!("/v1/tenants/{t}/events"), &token)
        .await
        .problem(403);
    // The audit log names the key as the actor.
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let created_event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.created")
        .unwrap();
    assert_eq!(created_event["actor"], format!("api_key:{}", id(&created)));
    assert_eq!(created_event["target"], format!("user:{}", id(&user)));

    app.post(
        &format!("/v1/tenants/{t}/api-keys"),
        ADMIN,
        json!({"name": "both", "permissions": [], "user_id": id(&user)}),
    )
    .await
    .problem(400);
    app.post(
        &format!("/v1/tenants/{t}/api-keys"),
        ADMIN,
        json!({"name": "neither"}),
    )
    .await
    .problem(400);
    app.post(
        &format!("/v1/tenants/{t}/api-keys"),
        ADMIN,
        json!({"name": "ghost", "user_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404);
}

async fn a_bound_key_acts_as_its_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let admin_user = app.user(&t, json!({"tenant_role": "ADMIN"})).await;
    let viewer = app.user(&t, json!({"tenant_role": "BACKOFFICE"})).await;
    let admin_key = app.user_key(&t, &id(&admin_user)).await;
    let viewer_key = app.user_key(&t, &id(&viewer)).await;
    app.post(
        &format!("/v1/tenants/{t}/stores"),
        &admin_key,
        json!({"code": "s", "name": "S"}),
    )
    .await
    .expect(201);
    app.get(&format!("/v1/tenants/{t}/users"), &viewer_key)
        .await
        .expect(200);
    app.post(&format!("/v1/tenants/{t}/users"), &viewer_key, json!({}))
        .await
        .problem(403);
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let store_event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "store.created")
        .unwrap();
    assert_eq!(store_event["actor"], format!("user:{}", id(&admin_user)));
    // Blocking the user takes its key's permissions away at once.
    app.patch(
        &format!("/v1/tenants/{t}/users/{}", id(&admin_user)),
        ADMIN,
        json!({"tenant_role": "BLOCKED"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/tenants/{t}/stores"),
        &admin_key,
        json!({"code": "s2", "name": "S2"}),
    )
    .await
    .problem(403);
    // Deleting the user deletes its keys.
    app.delete(&format!("/v1/tenants/{t}/users/{}", id(&viewer)), ADMIN)
        .await
        .expect(204);
    app.get(&format!("/v1/tenants/{t}/users"), &viewer_key)
        .await
        .problem(401);
}

async fn revoked_keys_stop_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let created = app
        .post(
            &format!("/v1/tenants/{t}/api-keys"),
            ADMIN,
            json!({"name": "temp", "permissions": ["VIEW_USERS"]}),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap();
    app.get(&format!("/v1/tenants/{t}/users"), token)
        .await
        .expect(200);
    app.delete(&format!("/v1/tenants/{t}/api-keys/{}", id(&created)), ADMIN)
        .await
        .expect(204);
    app.get(&format!("/v1/tenants/{t}/users"), token)
        .await
        .problem(401);
    app.delete(&format!("/v1/tenants/{t}/api-keys/{}", id(&created)), ADMIN)
        .await
        .problem(404);
}

async fn tokens_are_accepted_bare_or_as_bearer(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let token = app.key(&t, &["VIEW_USERS"]).await;
    let url = format!("{}/v1/tenants/{t}/users", app.base);
    for header in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        token.clone(),
    ] {
        let status = app
            .client
            .get(&url)
            .header("authorization", header)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let status = app
        .client
        .get(&url)
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

async fn accounts_are_created_by_the_admin_and_linked_to_users(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let account = app
        .post(
            "/v1/accounts",
            ADMIN,
            json!({"email": "Maria@example.com", "password": PASSWORD, "first_name": "Maria"}),
        )
        .await
        .expect(201);
    assert_eq!(account["email"], "Maria@example.com");
    assert_eq!(account["global_roles"], json!([]));
    assert!(!account.to_string().contains(PASSWORD));
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": "maria@EXAMPLE.com", "password": PASSWORD}),
    )
    .await
    .problem(409);
    let p = app
        .post(
            "/v1/accounts",
            ADMIN,
            json!({"email": "x@example.com", "password": "short"}),
        )
        .await
        .problem(400);
    assert!(p["errors"]["password"].is_array());
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": "not-an-email", "password": PASSWORD}),
    )
    .await
    .problem(400);
    let read = app
        .get(&format!("/v1/accounts/{}", id(&account)), ADMIN)
        .await
        .expect(200);
    assert_eq!(read, account);
    let key = app.key(&t, &["MANAGE_USERS"]).await;
    app.post(
        "/v1/accounts",
        &key,
        json!({"email": "k@example.com", "password": PASSWORD}),
    )
    .await
    .problem(403);
    app.get(&format!("/v1/accounts/{}", id(&account)), &key)
        .await
        .problem(403);

    let user = app.user(&t, json!({"account_id": id(&account)})).await;
    assert_eq!(user["account_id"], account["id"]);
    let p = app
        .post(
            &format!("/v1/tenants/{t}/users"),
            ADMIN,
            json!({"account_id": id(&account)}),
        )
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("account"));
}
