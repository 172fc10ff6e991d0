//! POS accounts (seed 003): devices, device sign-in, accounts and the auth
//! service, signed tokens and their revocation, invitations, throttling.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    devices_are_onboarded_listed_and_revoked,
    a_user_signs_in_on_a_device,
    wrong_codes_and_passwords_answer_alike,
    blocked_inactive_and_role_less_users_cannot_sign_in,
    a_device_in_a_store_admits_only_that_stores_users,
    accounts_sign_in_and_exchange_tokens_per_tenant,
    logout_and_changes_to_the_user_end_tokens_at_once,
    changes_made_by_another_process_end_tokens_too,
    tokens_expire_and_verify_offline_with_the_jwks,
    rotated_keys_stay_published,
    account_routes_read_and_update_the_account,
    the_tenant_user_updates_its_own_fields,
    invitations_are_looked_up_accepted_once_and_expire,
    accepting_links_an_existing_user_of_that_email,
    concurrent_acceptances_make_one_user,
    failed_sign_ins_are_throttled,
);

const OTHER_PASSWORD: &str = "a-different-long-passphrase";

async fn device(app: &TestApp, tenant: &str, store: Option<&str>) -> (String, String) {
    let body = app
        .post(
            &format!("/v1/tenants/{tenant}/devices"),
            ADMIN,
            json!({"name": "Till", "store_id": store}),
        )
        .await
        .expect(201);
    (id(&body), body["token"].as_str().unwrap().to_string())
}

async fn sign_in(app: &TestApp, device_token: &str, code: &str, password: &str) -> Reply {
    app.call(
        Method::POST,
        "/account",
        Some(device_token),
        Some(json!({"userCode": code, "password": password})),
    )
    .await
}

async fn cashier(app: &TestApp, tenant: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({"user_code": code, "password": PASSWORD, "tenant_role": "ACCESS", "first_name": "Lee"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.user(tenant, body).await
}

async fn account(app: &TestApp, email: &str) -> Value {
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": email, "password": PASSWORD, "first_name": "Ana", "last_name": "Diaz"}),
    )
    .await
    .expect(201)
}

async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.login(email, password).await
}

async fn auth_token(app: &TestApp, email: &str) -> String {
    login(app, email, PASSWORD).await.expect(200)["auth_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn devices_are_onboarded_listed_and_revoked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let created = app
        .post(
            &format!("/v1/tenants/{t}/devices"),
            ADMIN,
            json!({"name": "Till 1", "store_id": store}),
        )
        .await
        .expect(201);
    assert_eq!(created["name"], "Till 1");
    assert_eq!(created["store_id"], "main");
    assert!(created["token"].as_str().unwrap().len() > 40);
    let listed = app
        .get(&format!("/v1/tenants/{t}/devices"), ADMIN)
        .await
        .expect(200);
    assert_eq!(listed["data"][0]["id"], created["id"]);
    assert!(
        listed["data"][0].get("token").is_none(),
        "the token is shown once"
    );
    app.post(
        &format!("/v1/tenants/{t}/devices"),
        ADMIN,
        json!({"name": "x", "store_id": "nope"}),
    )
    .await
    .problem(404);
    app.post(
        &format!("/v1/tenants/{t}/devices"),
        ADMIN,
        json!({"name": " "}),
    )
    .await
    .problem(400);
    // FULL accounts manage devices; others do not.
    let full = app.user(&t, json!({"account_type": "FULL"})).await;
    let full_key = app.user_key(&t, &id(&full)).await;
    app.post(
        &format!("/v1/tenants/{t}/devices"),
        &full_key,
        json!({"name": "Till 2"}),
    )
    .await
    .expect(201);
    let regular_key = app.key(&t, &["MANAGE_USERS"]).await;
    app.post(
        &format!("/v1/tenants/{t}/devices"),
        &regular_key,
        json!({"name": "Till 3"}),
    )
    .await
    .problem(403);
    // A device token is no credential anywhere else.
    let token = created["token"].as_str().unwrap();
    app.get(&format!("/v1/tenants/{t}"), token)
        .await
        .problem(401);
    app.delete(&format!("/v1/tenants/{t}/devices/{}", id(&created)), ADMIN)
        .await
        .expect(204);
    app.delete(&format!("/v1/tenants/{t}/devices/{}", id(&created)), ADMIN)
        .await
        .problem(404);
    let listed = app
        .get(&format!("/v1/tenants/{t}/devices"), ADMIN)
        .await
        .expect(200);
    assert!(listed["data"][0]["revoked_at"].is_string());
}

async fn a_user_signs_in_on_a_device(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = cashier(
        &app,
        &t,
        "1001",
        json!({"email": "lee@example.com", "language_code": "en"}),
    )
    .await;
    assert!(user["last_accessed_at"].is_null());
    let (_, device_token) = device(&app, &t, None).await;
    let reply = sign_in(&app, &device_token, "1001", PASSWORD)
        .await
        .expect(200);
    let access = reply["accessToken"].as_str().unwrap().to_string();
    assert_eq!(reply.as_object().unwrap().len(), 1, "{reply}");
    // Bare or Bearer device tokens both work.
    let bare = app
        .client
        .post(format!("{}/account", app.base))
        .header("authorization", &device_token)
        .json(&json!({"userCode": "1001", "password": PASSWORD, "extra": "ignored"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);

    let me = app
        .get(&format!("/tenants/{t}/account"), &access)
        .await
        .expect(200);
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "accountType",
            "createdAt",
            "defaultStoreUid",
            "displayName",
            "email",
            "externalId",
            "firstname",
            "languageCode",
            "lastAccessed",
            "lastModifiedAt",
            "lastname",
            "mobile",
            "status",
            "tenantRole",
            "tenantUid",
            "tenantUserUid",
            "userCode"
        ]
    );
    assert_eq!(me["tenantUserUid"], user["id"]);
    assert_eq!(me["tenantUid"], "acme");
    assert_eq!(me["tenantRole"], "ACCESS");
    assert_eq!(me["accountType"], "REGULAR");
    assert_eq!(me["userCode"], "1001");
    assert_eq!(me["languageCode"], "en");
    assert_eq!(me["status"], "ACTIVE");
    assert_eq!(me["displayName"], "Lee");
    assert!(
        me["lastAccessed"].is_string(),
        "lastAccessed moves on sign-in"
    );
    let first = me["lastAccessed"].as_str().unwrap().to_string();
    app.clock.advance(Duration::seconds(5));
    sign_in(&app, &device_token, "1001", PASSWORD)
        .await
        .expect(200);
    let again = app
        .get(&format!("/v1/tenants/{t}/users/{}", id(&user)), ADMIN)
        .await
        .expect(200);
    assert!(
        again["last_accessed_at"].as_str().unwrap() > first.as_str(),
        "{again}"
    );
    // The access token acts as the user on /v1 with the user's permissions.
    app.get(&format!("/v1/tenants/{t}"), &access)
        .await
        .expect(200);
    app.get(&format!("/v1/tenants/{t}/users"), &access)
        .await
        .problem(403);
    // Another tenant's path: 404.
    app.tenant("other").await;
    app.get("/tenants/other/account", &access)
        .await
        .problem(404);
    app.get("/v1/tenants/other", &access).await.problem(404);
    // Missing or malformed body.
    app.call(
        Method::POST,
        "/account",
        Some(&device_token),
        Some(json!({"userCode": "1001"})),
    )
    .await
    .problem(400);
    app.call(
        Method::POST,
        "/account",
        None,
        Some(json!({"userCode": "1001", "password": PASSWORD})),
    )
    .await
    .problem(401);
}

async fn wrong_codes_and_passwords_answer_alike(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    cashier(&app, &t, "1001", json!({})).await;
    let (_, device_token) = device(&app, &t, None).await;
    let wrong_password = sign_in(&app, &device_token, "1001", OTHER_PASSWORD)
        .await
        .problem(401);
    let unknown_user = sign_in(&app, &device_token, "9999", PASSWORD)
        .await
        .problem(401);
    assert_eq!(wrong_password["detail"], unknown_user["detail"]);
    assert_eq!(wrong_password["title"], unknown_user["title"]);
    sign_in(&app, "not-a-device-token", "1001", PASSWORD)
        .await
        .problem(401);
    // A user without a password cannot sign in, and says the same.
    app.user(&t, json!({"user_code": "2002", "tenant_role": "ACCESS"}))
        .await;
    let no_password = sign_in(&app, &device_token, "2002", PASSWORD)
        .await
        .problem(401);
    assert_eq!(no_password["detail"], unknown_user["detail"]);
    // A user of another tenant is unknown here.
    let other = app.tenant("other").await;
    cashier(&app, &other, "3003", json!({})).await;
    sign_in(&app, &device_token, "3003", PASSWORD)
        .await
        .problem(401);
}

async fn blocked_inactive_and_role_less_users_cannot_sign_in(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    cashier(&app, &t, "1", json!({"tenant_role": "BLOCKED"})).await;
    cashier(&app, &t, "2", json!({"status": "INACTIVE"})).await;
    cashier(&app, &t, "3", json!({"tenant_role": null})).await;
    cashier(&app, &t, "4", json!({"tenant_role": "ADMIN"})).await;
    let (device_id, device_token) = device(&app, &t, None).await;
    for code in ["1", "2", "3"] {
        sign_in(&app, &device_token, code, PASSWORD)
            .await
            .problem(403);
    }
    sign_in(&app, &device_token, "4", PASSWORD)
        .await
        .expect(200);
    app.delete(&format!("/v1/tenants/{t}/devices/{device_id}"), ADMIN)
        .await
        .expect(204);
    sign_in(&app, &device_token, "4", PASSWORD)
        .await
        .problem(401);
}

async fn a_device_in_a_store_admits_only_that_stores_users(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    let side = app.store(&t, "side").await;
    cashier(&app, &t, "1", json!({"store_ids": [main]})).await;
    cashier(&app, &t, "2", json!({"store_ids": [side]})).await;
    cashier(&app, &t, "3", json!({})).await;
    let (_, main_till) = device(&app, &t, Some(&main)).await;
    sign_in(&app, &main_till, "1", PASSWORD).await.expect(200);
    sign_in(&app, &main_till, "2", PASSWORD).await.problem(403);
    sign_in(&app, &main_till, "3", PASSWORD).await.expect(200);
}

async fn accounts_sign_in_and_exchange_tokens_per_tenant(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    app.tenant("gamma").await;
    let acct = account(&app, "ana@example.com").await;
    app.user(
        &a,
        json!({"account_id": id(&acct), "tenant_role": "ADMIN", "first_name": "Ana"}),
    )
    .await;
    app.user(
        &b,
        json!({"account_id": id(&acct), "tenant_role": "BLOCKED"}),
    )
    .await;

    let reply = login(&app, "ANA@example.com", PASSWORD).await.expect(200);
    assert_eq!(reply["expires_in"], 86400);
    let auth = reply["auth_token"].as_str().unwrap().to_string();
    let wrong = login(&app, "ana@example.com", OTHER_PASSWORD)
        .await
        .problem(401);
    let unknown = login(&app, "nobody@example.com", PASSWORD)
        .await
        .problem(401);
    assert_eq!(wrong["detail"], unknown["detail"]);
    app.call(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": "ana@example.com", "password": PASSWORD, "remember": true})),
    )
    .await
    .problem(400);

    let exchanged = app
        .call(Method::POST, "/tenants/alpha/account", Some(&auth), None)
        .await
        .expect(200);
    assert_eq!(exchanged["tenantUid"], "alpha");
    assert_eq!(exchanged["tenantRole"], "ADMIN");
    let access = exchanged["accessToken"].as_str().unwrap().to_string();
    app.get("/v1/tenants/alpha/users", &access)
        .await
        .expect(200);
    // Blocked there: 403; no user there: 404; unknown tenant: 404; bad uid: 400.
    app.call(Method::POST, "/tenants/beta/account", Some(&auth), None)
        .await
        .problem(403);
    app.call(Method::POST, "/tenants/gamma/account", Some(&auth), None)
        .await
        .problem(404);
    app.call(Method::POST, "/tenants/nope/account", Some(&auth), None)
        .await
        .problem(404);
    app.call(
        Method::POST,
        "/tenants/bad%20uid/account",
        Some(&auth),
        None,
    )
    .await
    .problem(400);
    // Only an auth token exchanges; an auth token is no tenant credential.
    app.call(Method::POST, "/tenants/alpha/account", Some(&access), None)
        .await
        .problem(403);
    app.get("/v1/tenants/alpha/users", &auth).await.problem(403);
    // The auth token reads the account's user in each tenant.
    let read = app.get("/tenants/alpha/account", &auth).await.expect(200);
    assert_eq!(read["firstname"], "Ana");
    app.get("/tenants/gamma/account", &auth).await.problem(404);
}

async fn logout_and_changes_to_the_user_end_tokens_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (device_id, device_token) = device(&app, &t, None).await;
    let user = cashier(&app, &t, "1", json!({})).await;
    let user_path = format!("/v1/tenants/{t}/users/{}", id(&user));
    let me = format!("/tenants/{t}/account");
    let fresh = || async {
        sign_in(&app, &device_token, "1", PASSWORD)
            .await
            .expect(200)["accessToken"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let token = fresh().await;
    app.get(&me, &token).await.expect(200);
    app.call(Method::POST, "/auth/logout", Some(&token), None)
        .await
        .expect(204);
    app.get(&me, &token).await.problem(401);
    app.call(Method::POST, "/auth/logout", Some(&token), None)
        .await
        .problem(401);

    let token = fresh().await;
    app.patch(&user_path, ADMIN, json!({"tenant_role": "BLOCKED"}))
        .await
        .expect(200);
    app.get(&me, &token).await.problem(401);
    app.patch(&user_path, ADMIN, json!({"tenant_role": "ACCESS"}))
        .await
        .expect(200);

    let token = fresh().await;
    app.patch(&user_path, ADMIN, json!({"status": "INACTIVE"}))
        .await
        .expect(200);
    app.get(&me, &token).await.problem(401);
    app.patch(&user_path, ADMIN, json!({"status": "ACTIVE"}))
        .await
        .expect(200);

    let token = fresh().await;
    app.delete(&format!("/v1/tenants/{t}/devices/{device_id}"), ADMIN)
        .await
        .expect(204);
    app.get(&me, &token).await.problem(401);

    let (_, device_token) = device(&app, &t, None).await;
    let token = sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&user_path, ADMIN).await.expect(204);
    app.get(&me, &token).await.problem(401);

    // Logging out an auth token.
    account(&app, "ana@example.com").await;
    let auth = auth_token(&app, "ana@example.com").await;
    app.get("/account", &auth).await.expect(200);
    app.call(Method::POST, "/auth/logout", Some(&auth), None)
        .await
        .expect(204);
    app.get("/account", &auth).await.problem(401);
    // API keys and the admin token do not "log out".
    app.call(Method::POST, "/auth/logout", Some(ADMIN), None)
        .await
        .problem(403);
}

async fn changes_made_by_another_process_end_tokens_too(engine: Engine) {
    let app = TestApp::start(engine).await;
    let other = app.sibling().await;
    let t = app.tenant("acme").await;
    let user = cashier(&app, &t, "1", json!({})).await;
    let (_, device_token) = device(&app, &t, None).await;
    // Signed by one process, accepted by the other: they share the keys.
    let token = sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    other
        .get(&format!("/tenants/{t}/account"), &token)
        .await
        .expect(200);
    app.get(&format!("/tenants/{t}/account"), &token)
        .await
        .expect(200);
    // Blocked through the other process: refused by this one, warm cache
    // and all, once the staleness bound has passed.
    other
        .patch(
            &format!("/v1/tenants/{t}/users/{}", id(&user)),
            ADMIN,
            json!({"tenant_role": "BLOCKED"}),
        )
        .await
        .expect(200);
    tokio::time::sleep(app.app.config().cache_staleness + std::time::Duration::from_millis(100))
        .await;
    app.get(&format!("/tenants/{t}/account"), &token)
        .await
        .problem(401);
    // Logged out through one, refused by the other.
    app.patch(
        &format!("/v1/tenants/{t}/users/{}", id(&user)),
        ADMIN,
        json!({"tenant_role": "ACCESS"}),
    )
    .await
    .expect(200);
    let token = sign_in(&other, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    other
        .get(&format!("/tenants/{t}/account"), &token)
        .await
        .expect(200);
    app.call(Method::POST, "/auth/logout", Some(&token), None)
        .await
        .expect(204);
    tokio::time::sleep(app.app.config().cache_staleness + std::time::Duration::from_millis(100))
        .await;
    other
        .get(&format!("/tenants/{t}/account"), &token)
        .await
        .problem(401);
}

async fn tokens_expire_and_verify_offline_with_the_jwks(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = cashier(&app, &t, "1", json!({})).await;
    let (_, device_token) = device(&app, &t, None).await;
    let token = sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    // Offline: only the JWKS document and a JWT library.
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get_public("/.well-known/jwks.json").await).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&["roster"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["tid"], "acme");
    assert_eq!(claims["kind"], "access");
    assert!(claims["sid"].is_string());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 15 * 60, "access tokens are short-lived");
    // A tampered token fails offline and online.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err());
    app.get("/account", &tampered).await.problem(401);

    // Expired by Roster's clock: refused.
    app.get("/account", &token).await.expect(200);
    app.clock.advance(Duration::minutes(16));
    let p = app.get("/account", &token).await.problem(401);
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
}

async fn rotated_keys_stay_published(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    cashier(&app, &t, "1", json!({})).await;
    let (_, device_token) = device(&app, &t, None).await;
    let old = sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    let new_kid = roster_app::tokens::rotate(app.store.as_ref(), None, chrono::Utc::now())
        .await
        .unwrap();
    // A process picks the new key up (here: a new process).
    let other = app.sibling().await;
    let new = sign_in(&other, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(),
        new_kid
    );
    let jwks: Value = app.get_public("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    // Both tokens work in both processes.
    for server in [&app, &other] {
        server.get("/account", &old).await.expect(200);
        server.get("/account", &new).await.expect(200);
    }
    // Once every token the old key signed has expired, it leaves the JWKS.
    app.clock.advance(Duration::hours(25));
    let jwks: Value = app.get_public("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
}

async fn account_routes_read_and_update_the_account(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    app.tenant("gamma").await;
    let acct = account(&app, "ana@example.com").await;
    app.user(
        &a,
        json!({"account_id": id(&acct), "tenant_role": "ACCESS"}),
    )
    .await;
    app.user(&b, json!({"account_id": id(&acct), "tenant_role": "ACCESS", "user_code": "7", "password": PASSWORD})).await;
    let auth = auth_token(&app, "ana@example.com").await;
    let info = app.get("/account", &auth).await.expect(200);
    assert_eq!(info["globalRoles"], json!([]));
    assert_eq!(
        info["tenants"],
        json!([{"tenantUid": "alpha", "tenantName": "Tenant alpha"}, {"tenantUid": "beta", "tenantName": "Tenant beta"}])
    );
    let updated = app
        .put("/account", &auth, json!({"defaultTenantUid": "beta"}))
        .await
        .expect(200);
    assert_eq!(updated["defaultTenantUid"], "beta");
    let p = app
        .put("/account", &auth, json!({"defaultTenantUid": "not valid!"}))
        .await
        .problem(400);
    assert!(p["errors"]["defaultTenantUid"].is_array());
    app.put("/account", &auth, json!({"defaultTenantUid": "gamma"}))
        .await
        .problem(404);
    app.put("/account", &auth, json!({})).await.problem(400);
    // A linked user's access token sees the same account.
    let (_, device_token) = device(&app, &b, None).await;
    let access = sign_in(&app, &device_token, "7", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get("/account", &access).await.expect(200)["defaultTenantUid"],
        "beta"
    );
    // A user with no account: its own tenant, no global roles; PUT needs an account.
    cashier(&app, &a, "9", json!({})).await;
    let (_, till) = device(&app, &a, None).await;
    let plain = sign_in(&app, &till, "9", PASSWORD).await.expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let info = app.get("/account", &plain).await.expect(200);
    assert_eq!(info["globalRoles"], json!([]));
    assert_eq!(info["defaultTenantUid"], "alpha");
    app.put("/account", &plain, json!({"defaultTenantUid": "alpha"}))
        .await
        .problem(403);
    // API keys and the admin token are not signed-in users.
    app.get("/account", ADMIN).await.problem(403);
}

async fn the_tenant_user_updates_its_own_fields(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    app.store(&t, "side").await;
    cashier(
        &app,
        &t,
        "1",
        json!({"store_ids": [main], "email": "lee@example.com"}),
    )
    .await;
    app.user(&t, json!({"email": "taken@example.com"})).await;
    let (_, device_token) = device(&app, &t, None).await;
    let token = sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/tenants/{t}/account");
    let updated = app
        .put(&path, &token, json!({
            "defaultStoreUid": "main", "displayName": "Lee L.", "firstname": "Lee", "lastname": "Long",
            "mobile": "+61412345678", "languageCode": "de", "email": "lee.long@example.com", "unknown": 1
        }))
        .await
        .expect(200);
    assert_eq!(updated["defaultStoreUid"], "main");
    assert_eq!(updated["displayName"], "Lee L.");
    assert_eq!(updated["lastname"], "Long");
    assert_eq!(updated["mobile"], "+61412345678");
    assert_eq!(updated["languageCode"], "de");
    assert_eq!(updated["email"], "lee.long@example.com");
    for (body, field) in [
        (json!({"languageCode": "german"}), "languageCode"),
        (json!({"email": "nope"}), "email"),
        (json!({"mobile": "0412 345 678"}), "mobile"),
        (json!({"firstname": "  "}), "firstname"),
        (json!({"defaultStoreUid": "side"}), "defaultStoreUid"),
        (json!({"defaultStoreUid": "no such!"}), "defaultStoreUid"),
        (json!({"password": "short"}), "password"),
    ] {
        let p = app.put(&path, &token, body.clone()).await.problem(400);
        assert!(p["errors"][field].is_array(), "{body} -> {p}");
    }
    app.put(&path, &token, json!({"email": "TAKEN@example.com"}))
        .await
        .problem(409);
    let cleared = app
        .put(&path, &token, json!({"defaultStoreUid": ""}))
        .await
        .expect(200);
    assert!(cleared["defaultStoreUid"].is_null());
    // A new password replaces the old one at once.
    app.put(&path, &token, json!({"password": OTHER_PASSWORD}))
        .await
        .expect(200);
    sign_in(&app, &device_token, "1", PASSWORD)
        .await
        .problem(401);
    sign_in(&app, &device_token, "1", OTHER_PASSWORD)
        .await
        .expect(200);
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["summary"].as_str().unwrap().contains("password")));
}

async fn invitations_are_looked_up_accepted_once_and_expire(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let inv = app
        .post(&format!("/v1/tenants/{t}/invitations"), ADMIN, json!({"email": "Ana@Example.com", "tenant_role": "BACKOFFICE", "account_type": "FULL"}))
        .await
        .expect(201);
    let token = inv["token"].as_str().unwrap().to_string();
    assert_eq!(inv["status"], "PENDING");
    let lookup = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}/account/invite", app.base))
                .header("x-invite-token", token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, info) = lookup(token.clone()).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["tenantUid"], "acme");
    assert_eq!(info["tenantName"], "Tenant acme");
    assert_eq!(info["email"], "Ana@Example.com");
    assert_eq!(info["tenantRole"], "BACKOFFICE");
    assert_eq!(info["accountType"], "FULL");
    assert!(info["expiresAt"].is_string());
    assert_eq!(lookup("ri_unknown".into()).await.0, 404);
    app.call(Method::GET, "/account/invite", None, None)
        .await
        .problem(400);

    account(&app, "someone@example.com").await;
    account(&app, "ana@example.com").await;
    let wrong = auth_token(&app, "someone@example.com").await;
    let right = auth_token(&app, "ana@example.com").await;
    app.put("/account/invite", &wrong, json!({"inviteToken": token}))
        .await
        .problem(403);
    app.put(
        "/account/invite",
        &right,
        json!({"inviteToken": "ri_unknown"}),
    )
    .await
    .problem(404);
    let user = app
        .put("/account/invite", &right, json!({"inviteToken": token}))
        .await
        .expect(200);
    assert_eq!(user["tenantRole"], "BACKOFFICE");
    assert_eq!(user["accountType"], "FULL");
    assert_eq!(user["email"], "Ana@Example.com");
    assert_eq!(user["firstname"], "Ana");
    app.put("/account/invite", &right, json!({"inviteToken": token}))
        .await
        .problem(410);
    assert_eq!(lookup(token.clone()).await.0, 410);
    // The new user can now exchange the auth token in that tenant.
    app.call(Method::POST, "/tenants/acme/account", Some(&right), None)
        .await
        .expect(200);

    // Expiry, by the server's clock (7 days by default).
    let late = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "late@example.com"}),
        )
        .await
        .expect(201);
    let late_token = late["token"].as_str().unwrap().to_string();
    assert_eq!(late["tenant_role"], "ACCESS");
    assert_eq!(late["account_type"], "REGULAR");
    account(&app, "late@example.com").await;
    app.clock.advance(Duration::days(8));
    let late_auth = auth_token(&app, "late@example.com").await;
    assert_eq!(lookup(late_token.clone()).await.0, 410);
    app.put(
        "/account/invite",
        &late_auth,
        json!({"inviteToken": late_token}),
    )
    .await
    .problem(410);
    let listed = app
        .get(&format!("/v1/tenants/{t}/invitations"), ADMIN)
        .await
        .expect(200);
    let statuses: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACCEPTED", "EXPIRED"]);

    // Revoked: 410; an access token cannot accept.
    let revoked = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "late@example.com"}),
        )
        .await
        .expect(201);
    app.delete(
        &format!("/v1/tenants/{t}/invitations/{}", id(&revoked)),
        ADMIN,
    )
    .await
    .expect(204);
    assert_eq!(
        lookup(revoked["token"].as_str().unwrap().to_string())
            .await
            .0,
        410
    );
    app.post(
        &format!("/v1/tenants/{t}/invitations"),
        ADMIN,
        json!({"email": "bad"}),
    )
    .await
    .problem(400);
    app.post(
        &format!("/v1/tenants/{t}/invitations"),
        ADMIN,
        json!({"email": "x@example.com", "tenant_role": "KING"}),
    )
    .await
    .problem(400);
}

async fn accepting_links_an_existing_user_of_that_email(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let existing = app
        .user(
            &t,
            json!({"email": "ana@example.com", "tenant_role": "ACCESS", "user_code": "5"}),
        )
        .await;
    let taken = app.user(&t, json!({"email": "bo@example.com"})).await;
    account(&app, "ana@example.com").await;
    let owner = account(&app, "owner@example.com").await;
    account(&app, "bo@example.com").await;
    app.patch(
        &format!("/v1/tenants/{t}/users/{}", id(&taken)),
        ADMIN,
        json!({"account_id": id(&owner)}),
    )
    .await
    .expect(200);

    let inv = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "ana@example.com", "tenant_role": "ADMIN"}),
        )
        .await
        .expect(201);
    let auth = auth_token(&app, "ana@example.com").await;
    let user = app
        .put(
            "/account/invite",
            &auth,
            json!({"inviteToken": inv["token"]}),
        )
        .await
        .expect(200);
    assert_eq!(
        user["tenantUserUid"], existing["id"],
        "the existing user is linked, not duplicated"
    );
    assert_eq!(user["tenantRole"], "ADMIN", "with the invited role");
    assert_eq!(user["userCode"], "5");

    // One linked to another account: 409, and the invitation stays usable.
    let inv = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "bo@example.com"}),
        )
        .await
        .expect(201);
    let bo = auth_token(&app, "bo@example.com").await;
    app.put("/account/invite", &bo, json!({"inviteToken": inv["token"]}))
        .await
        .problem(409);
    let listed = app
        .get(&format!("/v1/tenants/{t}/invitations"), ADMIN)
        .await
        .expect(200);
    assert_eq!(listed["data"][1]["status"], "PENDING");
}

async fn concurrent_acceptances_make_one_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    account(&app, "ana@example.com").await;
    let inv = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "ana@example.com"}),
        )
        .await
        .expect(201);
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(auth_token(&app, "ana@example.com").await);
    }
    let calls = tokens.iter().map(|auth| {
        app.put(
            "/account/invite",
            auth,
            json!({"inviteToken": inv["token"]}),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        7,
        "{statuses:?}"
    );
    let users = app
        .get(&format!("/v1/tenants/{t}/users"), ADMIN)
        .await
        .expect(200);
    assert_eq!(users["data"].as_array().unwrap().len(), 1);
}

async fn failed_sign_ins_are_throttled(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    cashier(&app, &t, "1", json!({})).await;
    let (_, till) = device(&app, &t, None).await;
    for _ in 0..10 {
        sign_in(&app, &till, "1", OTHER_PASSWORD).await.problem(401);
    }
    let reply = sign_in(&app, &till, "1", PASSWORD).await;
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    reply.problem(429);
    // The lock lifts after its time; a success clears the count.
    app.clock.advance(Duration::seconds(61));
    sign_in(&app, &till, "1", PASSWORD).await.expect(200);
    sign_in(&app, &till, "1", OTHER_PASSWORD).await.problem(401);
    sign_in(&app, &till, "1", PASSWORD).await.expect(200);

    // Account logins lock the same way, for known and unknown emails alike.
    account(&app, "ana@example.com").await;
    for email in ["ana@example.com", "ghost@example.com"] {
        for _ in 0..10 {
            login(&app, email, OTHER_PASSWORD).await.problem(401);
        }
        login(&app, email, PASSWORD).await.problem(429);
    }
    // One address may fail 60 times a minute, whatever the names.
    app.clock.advance(Duration::hours(2));
    for i in 0..60 {
        let status = sign_in(&app, &till, &format!("nobody-{}", i), PASSWORD)
            .await
            .status;
        assert!(status == 401 || status == 429, "{status}");
    }
    sign_in(&app, &till, "1", PASSWORD).await.problem(429);
    app.clock.advance(Duration::seconds(61));
    sign_in(&app, &till, "1", PASSWORD).await.expect(200);
}
