//! Grant only what you hold (SPEC §7): no credential hands out more than it
//! has. Creating a key, binding a key to a user, and creating, inviting or
//! changing a user to a role each need the caller to hold every permission
//! the grant confers; a refusal is a 403 naming what is missing, and changes
//! nothing. The admin token holds everything.

use reqwest::Method;
use serde_json::{json, Value};

use crate::commerce::call as commerce_call;
use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN};

on_both_engines!(
    a_key_creates_only_keys_within_its_own_permissions,
    a_key_may_hand_out_a_permission_it_holds,
    binding_a_key_to_a_user_needs_everything_the_user_holds,
    creating_an_admin_user_needs_every_permission,
    patching_a_user_to_admin_needs_every_permission,
    invitations_confer_only_what_the_caller_holds,
    upserting_an_admin_by_external_id_is_refused_and_creates_nothing,
    an_admin_bound_key_may_create_an_admin,
    a_store_role_needs_the_store_permission_it_confers,
    commerce_roles_need_every_permission_they_confer,
    a_full_account_needs_manage_devices,
    the_admin_token_may_grant_anything,
    taking_a_role_away_needs_only_manage_users,
    the_commerce_surface_creates_owners_only_for_a_caller_holding_their_permissions,
    the_commerce_surface_adds_owner_only_for_a_caller_holding_its_permissions,
);

/// Every permission there is, in the order of the permission map.
const ALL: &[&str] = &[
    "MANAGE_TENANT",
    "MANAGE_USERS",
    "VIEW_USERS",
    "MANAGE_COMMERCES",
    "MANAGE_STORES",
    "MANAGE_DEVICES",
    "MANAGE_API_KEYS",
    "VIEW_AUDIT",
    "MANAGE_WEBHOOKS",
    "MANAGE_CATALOG",
    "VIEW_STORE",
    "MANAGE_STORE",
    "USE_POS",
    "MANAGE_COMMERCE_USERS",
    "PLACE_ORDERS",
    "VIEW_ORDERS",
    "VIEW_INVOICES",
    "MANAGE_PAYMENTS",
    "CUSTOMER_SERVICE",
    "MANAGE_ORG_USERS",
    "MANAGE_CAMPAIGNS",
    "VIEW_CAMPAIGNS",
];

/// What commerce role `OWNER` confers in its company.
const OWNER: &[&str] = &[
    "MANAGE_COMMERCE_USERS",
    "PLACE_ORDERS",
    "VIEW_ORDERS",
    "VIEW_INVOICES",
    "MANAGE_PAYMENTS",
    "CUSTOMER_SERVICE",
];

/// Every permission except those `held`: what a grant of everything
/// (tenant role `ADMIN`) lacks for a caller holding `held`.
fn all_but(held: &[&str]) -> Vec<&'static str> {
    ALL.iter().copied().filter(|p| !held.contains(p)).collect()
}

/// `held` plus `more`, for a key holding both.
fn with(held: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    held.iter().chain(more).copied().collect()
}

/// Asserts a problem+json 403 whose `detail` names (as a whole word) at
/// least one of the permissions the caller is `missing`.
#[track_caller]
fn refused(reply: Reply, missing: &[&str]) -> Value {
    let problem = reply.problem(403);
    let detail = problem["detail"].as_str().unwrap();
    let named = detail
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .any(|word| missing.contains(&word));
    assert!(named, "the detail names none of {missing:?}: {problem}");
    problem
}

fn users(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/users")
}

fn api_keys(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/api-keys")
}

fn invitations(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/invitations")
}

/// The ids listed at `path`, read with the admin token.
async fn listed(app: &TestApp, path: &str) -> Vec<String> {
    let page = app.get(path, ADMIN).await.expect(200);
    assert!(page["next_cursor"].is_null(), "more than one page: {page}");
    page["data"].as_array().unwrap().iter().map(id).collect()
}

/// A user read back with the admin token.
async fn read_user(app: &TestApp, tenant: &str, user: &str) -> Value {
    app.get(&format!("{}/{user}", users(tenant)), ADMIN)
        .await
        .expect(200)
}

/// Makes a user from `body` (with the admin token) and a key bound to it;
/// returns the user and the key's token.
async fn bound_key(app: &TestApp, tenant: &str, body: Value) -> (Value, String) {
    let user = app.user(tenant, body).await;
    let token = app.user_key(tenant, &id(&user)).await;
    (user, token)
}

async fn a_key_creates_only_keys_within_its_own_permissions(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_API_KEYS"]).await;
    let before = listed(&app, &api_keys(&t)).await;

    let reply = app
        .post(
            &api_keys(&t),
            &key,
            json!({"name": "wider", "permissions": ["MANAGE_USERS"]}),
        )
        .await;
    refused(reply, &["MANAGE_USERS"]);
    assert_eq!(listed(&app, &api_keys(&t)).await, before, "no key was made");

    let made = app
        .post(
            &api_keys(&t),
            &key,
            json!({"name": "same", "permissions": ["MANAGE_API_KEYS"]}),
        )
        .await
        .expect(201);
    assert_eq!(made["permissions"], json!(["MANAGE_API_KEYS"]));
    assert!(made["token"].is_string());
}

async fn a_key_may_hand_out_a_permission_it_holds(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_API_KEYS", "VIEW_USERS"]).await;
    let made = app
        .post(
            &api_keys(&t),
            &key,
            json!({"name": "reader", "permissions": ["VIEW_USERS"]}),
        )
        .await
        .expect(201);
    assert_eq!(made["permissions"], json!(["VIEW_USERS"]));
    // The new key works, with what it was given.
    app.get(&users(&t), made["token"].as_str().unwrap())
        .await
        .expect(200);
}

async fn binding_a_key_to_a_user_needs_everything_the_user_holds(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_API_KEYS"]).await;
    let admin = app
        .user(&t, json!({"name": "Admin", "tenant_role": "ADMIN"}))
        .await;
    let nobody = app.user(&t, json!({"name": "Nobody"})).await;
    let before = listed(&app, &api_keys(&t)).await;

    let reply = app
        .post(
            &api_keys(&t),
            &key,
            json!({"name": "as admin", "user_id": admin["id"]}),
        )
        .await;
    refused(reply, &all_but(&["MANAGE_API_KEYS"]));
    assert_eq!(listed(&app, &api_keys(&t)).await, before, "no key was made");

    let made = app
        .post(
            &api_keys(&t),
            &key,
            json!({"name": "as nobody", "user_id": nobody["id"]}),
        )
        .await
        .expect(201);
    assert_eq!(made["user_id"], nobody["id"]);
}

async fn creating_an_admin_user_needs_every_permission(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS"]).await;

    let reply = app
        .post(
            &users(&t),
            &key,
            json!({"name": "Would-be admin", "tenant_role": "ADMIN"}),
        )
        .await;
    refused(reply, &all_but(&["MANAGE_USERS"]));
    assert!(
        listed(&app, &users(&t)).await.is_empty(),
        "no user was made"
    );

    let user = app
        .post(&users(&t), &key, json!({"name": "Plain"}))
        .await
        .expect(201);
    assert!(user["tenant_role"].is_null());
}

async fn patching_a_user_to_admin_needs_every_permission(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS"]).await;
    let user = app
        .user(&t, json!({"name": "Clerk", "tenant_role": "BACKOFFICE"}))
        .await;

    let reply = app
        .patch(
            &format!("{}/{}", users(&t), id(&user)),
            &key,
            json!({"tenant_role": "ADMIN"}),
        )
        .await;
    refused(reply, &all_but(&["MANAGE_USERS"]));
    let now = read_user(&app, &t, &id(&user)).await;
    assert_eq!(now["tenant_role"], "BACKOFFICE", "the role is unchanged");
    assert_eq!(now, user, "nothing about the user changed");
}

async fn invitations_confer_only_what_the_caller_holds(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.store(&t, "s1").await;
    let key = app.key(&t, &["MANAGE_USERS"]).await;

    let reply = app
        .post(
            &invitations(&t),
            &key,
            json!({"email": "boss@example.com", "tenant_role": "ADMIN"}),
        )
        .await;
    refused(reply, &all_but(&["MANAGE_USERS"]));
    // The default role, ACCESS, confers USE_POS on every store.
    let reply = app
        .post(
            &invitations(&t),
            &key,
            json!({"email": "clerk@example.com"}),
        )
        .await;
    refused(reply, &["USE_POS"]);
    assert!(
        listed(&app, &invitations(&t)).await.is_empty(),
        "no invitation was made"
    );

    let pos = app.key(&t, &["MANAGE_USERS", "USE_POS"]).await;
    let invitation = app
        .post(
            &invitations(&t),
            &pos,
            json!({"email": "clerk@example.com"}),
        )
        .await
        .expect(201);
    assert_eq!(invitation["tenant_role"], "ACCESS");
}

async fn upserting_an_admin_by_external_id_is_refused_and_creates_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS"]).await;
    let reply = app
        .put(
            &format!("{}/by-external-id/INTEGRATION/x1", users(&t)),
            &key,
            json!({"name": "Synced admin", "tenant_role": "ADMIN"}),
        )
        .await;
    refused(reply, &all_but(&["MANAGE_USERS"]));
    assert!(
        listed(&app, &format!("{}?external_id=x1", users(&t)))
            .await
            .is_empty(),
        "no user was made"
    );
    assert!(listed(&app, &users(&t)).await.is_empty());
}

async fn an_admin_bound_key_may_create_an_admin(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let (_, key) = bound_key(&app, &t, json!({"name": "Boss", "tenant_role": "ADMIN"})).await;
    let made = app
        .post(
            &users(&t),
            &key,
            json!({"name": "Second boss", "tenant_role": "ADMIN"}),
        )
        .await
        .expect(201);
    assert_eq!(made["tenant_role"], "ADMIN");
    // It may bind a key to that admin too: it holds all the admin holds.
    app.post(
        &api_keys(&t),
        &key,
        json!({"name": "as second boss", "user_id": made["id"]}),
    )
    .await
    .expect(201);
}

async fn a_store_role_needs_the_store_permission_it_confers(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "s1").await;
    app.store(&t, "s2").await;
    let body = json!({"name": "Cashier", "tenant_role": "ACCESS", "store_ids": [s1]});

    let key = app.key(&t, &["MANAGE_USERS"]).await;
    let reply = app.post(&users(&t), &key, body.clone()).await;
    refused(reply, &["USE_POS"]);
    assert!(
        listed(&app, &users(&t)).await.is_empty(),
        "no user was made"
    );

    // A permission key holds its permissions on every store.
    let pos = app.key(&t, &["MANAGE_USERS", "USE_POS"]).await;
    let user = app.post(&users(&t), &pos, body).await.expect(201);
    assert_eq!(user["store_ids"], json!([s1]));
}

async fn commerce_roles_need_every_permission_they_confer(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let company = app.company(&t, "Buyer").await;
    let body = json!({"name": "Owner", "company_id": company, "roles": ["OWNER"]});

    let key = app.key(&t, &["MANAGE_USERS"]).await;
    let reply = app.post(&users(&t), &key, body.clone()).await;
    refused(reply, OWNER);
    assert!(
        listed(&app, &users(&t)).await.is_empty(),
        "no user was made"
    );

    let owner = app.key(&t, &with(&["MANAGE_USERS"], OWNER)).await;
    let user = app.post(&users(&t), &owner, body).await.expect(201);
    assert_eq!(user["roles"], json!(["OWNER"]));
}

async fn a_full_account_needs_manage_devices(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS", "USE_POS"]).await;

    let reply = app
        .post(
            &users(&t),
            &key,
            json!({"name": "Full", "account_type": "FULL"}),
        )
        .await;
    refused(reply, &["MANAGE_DEVICES"]);
    assert!(
        listed(&app, &users(&t)).await.is_empty(),
        "no user was made"
    );
    let reply = app
        .post(
            &invitations(&t),
            &key,
            json!({"email": "full@example.com", "account_type": "FULL"}),
        )
        .await;
    refused(reply, &["MANAGE_DEVICES"]);
    assert!(
        listed(&app, &invitations(&t)).await.is_empty(),
        "no invitation was made"
    );

    let devices = app
        .key(&t, &["MANAGE_USERS", "USE_POS", "MANAGE_DEVICES"])
        .await;
    let user = app
        .post(
            &users(&t),
            &devices,
            json!({"name": "Full", "account_type": "FULL"}),
        )
        .await
        .expect(201);
    assert_eq!(user["account_type"], "FULL");
}

async fn the_admin_token_may_grant_anything(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let company = app.company(&t, "Buyer").await;
    let admin = app
        .post(
            &users(&t),
            ADMIN,
            json!({"name": "Admin", "tenant_role": "ADMIN"}),
        )
        .await
        .expect(201);
    app.post(
        &api_keys(&t),
        ADMIN,
        json!({"name": "as admin", "user_id": admin["id"]}),
    )
    .await
    .expect(201);
    app.post(
        &api_keys(&t),
        ADMIN,
        json!({"name": "everything", "permissions": ALL}),
    )
    .await
    .expect(201);
    app.post(
        &users(&t),
        ADMIN,
        json!({"name": "Full", "account_type": "FULL"}),
    )
    .await
    .expect(201);
    app.post(
        &users(&t),
        ADMIN,
        json!({"name": "Owner", "company_id": company, "roles": ["OWNER"]}),
    )
    .await
    .expect(201);
    app.post(
        &invitations(&t),
        ADMIN,
        json!({"email": "boss@example.com", "tenant_role": "ADMIN", "account_type": "FULL"}),
    )
    .await
    .expect(201);
    app.put(
        &format!("{}/by-external-id/INTEGRATION/x1", users(&t)),
        ADMIN,
        json!({"name": "Synced admin", "tenant_role": "ADMIN"}),
    )
    .await
    .expect(201);
}

async fn taking_a_role_away_needs_only_manage_users(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS"]).await;
    let user = app
        .user(&t, json!({"name": "Boss", "tenant_role": "ADMIN"}))
        .await;
    let path = format!("{}/{}", users(&t), id(&user));

    // ACCESS is no removal: it confers USE_POS on every store.
    let reply = app
        .patch(&path, &key, json!({"tenant_role": "ACCESS"}))
        .await;
    refused(reply, &["USE_POS"]);
    assert_eq!(
        read_user(&app, &t, &id(&user)).await,
        user,
        "the user is unchanged"
    );

    let cleared = app
        .patch(&path, &key, json!({"tenant_role": null}))
        .await
        .expect(200);
    assert!(cleared["tenant_role"].is_null());
    assert!(read_user(&app, &t, &id(&user)).await["tenant_role"].is_null());
}

async fn the_commerce_surface_creates_owners_only_for_a_caller_holding_their_permissions(
    engine: Engine,
) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let commerce = app.company(&t, "Garcia Imports").await;
    let path = format!("/api/commerces/{commerce}/users");
    let body = json!({"name": "Maria", "external_id": "u1", "source": "RETEN", "roles": ["OWNER"]});

    let key = app.key(&t, &["MANAGE_COMMERCES"]).await;
    let reply = commerce_call(&app, Method::POST, &path, &t, &key, Some(body.clone())).await;
    refused(reply, OWNER);
    assert!(
        listed(&app, &users(&t)).await.is_empty(),
        "no user was made"
    );

    let owner = app.key(&t, &with(&["MANAGE_COMMERCES"], OWNER)).await;
    let user = commerce_call(&app, Method::POST, &path, &t, &owner, Some(body))
        .await
        .expect(201);
    assert_eq!(user["roles"], json!(["OWNER"]));
}

async fn the_commerce_surface_adds_owner_only_for_a_caller_holding_its_permissions(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let commerce = app.company(&t, "Garcia Imports").await;
    let user = app
        .user(&t, json!({"name": "Maria", "company_id": commerce}))
        .await;
    let roles = format!("/api/commerces/{commerce}/users/{}/roles", id(&user));

    let key = app.key(&t, &["MANAGE_COMMERCES"]).await;
    let reply = commerce_call(
        &app,
        Method::POST,
        &roles,
        &t,
        &key,
        Some(json!({"role": "OWNER"})),
    )
    .await;
    refused(reply, OWNER);
    let now = read_user(&app, &t, &id(&user)).await;
    assert_eq!(now["roles"], json!([]), "no role was added");
    assert_eq!(now, user, "nothing about the user changed");

    let owner = app.key(&t, &with(&["MANAGE_COMMERCES"], OWNER)).await;
    let added = commerce_call(
        &app,
        Method::POST,
        &roles,
        &t,
        &owner,
        Some(json!({"role": "OWNER"})),
    )
    .await
    .expect(201);
    assert_eq!(added["roles"], json!(["OWNER"]));
}
