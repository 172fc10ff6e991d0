//! Writes that change nothing are not written: no audit event, and
//! `updated_at` stays what it was.

use reqwest::Method;
use serde_json::{json, Value};

use crate::commerce::call;
use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    an_identical_upsert_or_user_patch_writes_nothing,
    patches_of_the_current_values_write_nothing,
);

/// The actions of the tenant's audit log, oldest first.
async fn actions(app: &TestApp, tenant: &str) -> Vec<String> {
    let page = app
        .get(&format!("/v1/tenants/{tenant}/events?limit=500"), ADMIN)
        .await
        .expect(200);
    assert!(page["next_cursor"].is_null());
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// How many events of `action` the tenant's audit log holds.
async fn count(app: &TestApp, tenant: &str, action: &str) -> usize {
    actions(app, tenant)
        .await
        .iter()
        .filter(|a| *a == action)
        .count()
}

/// Lets the clock pass a millisecond, the precision of `updated_at`, so a
/// write that did happen would show in it.
async fn a_moment() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

async fn an_identical_upsert_or_user_patch_writes_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    let second = app.store(&t, "second").await;
    let company = app.company(&t, "Garcia Imports").await;
    let upsert = format!("/v1/tenants/{t}/users/by-external-id/INTEGRATION/erp-42");
    let body = json!({
        "first_name": "Ana", "email": "ana@example.com", "tenant_role": "ACCESS",
        "store_ids": [second, main], "company_id": company, "roles": ["ORDERS", "OWNER"],
        "job_title": "Buyer"
    });
    let created = app.put(&upsert, ADMIN, body.clone()).await.expect(201);
    a_moment().await;
    let again = app.put(&upsert, ADMIN, body.clone()).await.expect(200);
    assert_eq!(again, created, "the same user, updated_at included");
    assert_eq!(count(&app, &t, "user.created").await, 1);
    assert_eq!(count(&app, &t, "user.updated").await, 0);

    // A PATCH of values the user has (stores and roles in another order).
    let user = format!("/v1/tenants/{t}/users/{}", id(&created));
    for same in [
        json!({}),
        json!({"first_name": "Ana", "store_ids": [main, second], "roles": ["OWNER", "ORDERS"]}),
        json!({"company_id": company, "job_title": "Buyer", "tenant_role": "ACCESS"}),
        json!({"status": "ACTIVE", "last_name": null}),
    ] {
        a_moment().await;
        let patched = app.patch(&user, ADMIN, same.clone()).await.expect(200);
        assert_eq!(patched, created, "PATCH {same}");
    }
    assert_eq!(count(&app, &t, "user.updated").await, 0);
    // The same through seed 000: a PATCH of the commerce user's roles.
    let path = format!("/api/commerces/{company}/users/{}", id(&created));
    let roles = json!({"roles": ["OWNER", "ORDERS"]});
    call(&app, Method::PATCH, &path, &t, ADMIN, Some(roles))
        .await
        .expect(200);
    assert_eq!(count(&app, &t, "user.updated").await, 0);
    assert_eq!(app.get(&user, ADMIN).await.expect(200), created);

    // A real change is written once, and then the same body is a no-op again.
    let mut renamed = body.clone();
    renamed["first_name"] = json!("Ana María");
    let changed = app.put(&upsert, ADMIN, renamed.clone()).await.expect(200);
    assert_eq!(changed["first_name"], "Ana María");
    assert_ne!(changed["updated_at"], created["updated_at"]);
    assert_eq!(count(&app, &t, "user.updated").await, 1);
    a_moment().await;
    let same = app.put(&upsert, ADMIN, renamed).await.expect(200);
    assert_eq!(same, changed);
    assert_eq!(count(&app, &t, "user.updated").await, 1);

    // A password is always a change: it is hashed anew.
    app.patch(&user, ADMIN, json!({"password": PASSWORD}))
        .await
        .expect(200);
    assert_eq!(count(&app, &t, "user.updated").await, 2);
}

async fn patches_of_the_current_values_write_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let company = app.company(&t, "Garcia Imports").await;
    let owner = id(&app
        .user(
            &t,
            json!({"name": "Maria", "company_id": company, "roles": ["OWNER"]}),
        )
        .await);
    let record = json!({"company_id": company, "owner_user_id": owner, "reference": "R-1"});
    let quote = app
        .post(&format!("/v1/tenants/{t}/quotes"), ADMIN, record.clone())
        .await
        .expect(201);
    let order = app
        .post(&format!("/v1/tenants/{t}/orders"), ADMIN, record)
        .await
        .expect(201);
    let contacts = format!("/api/commerces/{company}/users/{owner}/contacts");
    let contact = call(
        &app,
        Method::POST,
        &contacts,
        &t,
        ADMIN,
        Some(json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "RETEN", "is_primary": true})),
    )
    .await
    .expect(201);
    let before = actions(&app, &t).await;
    let reads: Vec<(String, Value)> = vec![
        (format!("/v1/tenants/{t}"), json!({"name": "Tenant acme"})),
        (
            format!("/v1/tenants/{t}/stores/{store}"),
            json!({"code": "main", "name": "main"}),
        ),
        (
            format!("/v1/tenants/{t}/companies/{company}"),
            json!({"name": "Garcia Imports", "kind": "COMMERCE", "external_id": null}),
        ),
        (
            format!("/v1/tenants/{t}/quotes/{}", id(&quote)),
            json!({"reference": "R-1", "status": quote["status"]}),
        ),
        (
            format!("/v1/tenants/{t}/orders/{}", id(&order)),
            json!({"reference": "R-1", "status": order["status"]}),
        ),
    ];
    for (path, same) in reads {
        let current = app.get(&path, ADMIN).await.expect(200);
        a_moment().await;
        let patched = app.patch(&path, ADMIN, same.clone()).await.expect(200);
        assert_eq!(patched, current, "PATCH {path} with {same}");
        assert_eq!(patched["updated_at"], current["updated_at"], "{path}");
    }
    // A contact patched with its own values, or made primary again.
    let user_before = app
        .get(&format!("/v1/tenants/{t}/users/{owner}"), ADMIN)
        .await
        .expect(200);
    let this = format!("{contacts}/{}", id(&contact));
    a_moment().await;
    let patched = call(
        &app,
        Method::PATCH,
        &this,
        &t,
        ADMIN,
        Some(json!({"value": "maria@example.com", "is_primary": true, "is_active": true})),
    )
    .await
    .expect(200);
    assert_eq!(patched, contact);
    call(
        &app,
        Method::POST,
        &format!("{this}/set-primary"),
        &t,
        ADMIN,
        Some(json!({})),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&format!("/v1/tenants/{t}/users/{owner}"), ADMIN)
            .await
            .expect(200)["updated_at"],
        user_before["updated_at"],
        "the contact's user was not touched"
    );
    assert_eq!(actions(&app, &t).await, before, "no event was written");

    // Changes are still written.
    app.patch(
        &format!("/v1/tenants/{t}/stores/{store}"),
        ADMIN,
        json!({"name": "Main Street"}),
    )
    .await
    .expect(200);
    app.patch(&format!("/v1/tenants/{t}"), ADMIN, json!({"name": "Acme"}))
        .await
        .expect(200);
    let after = actions(&app, &t).await;
    assert_eq!(after[before.len()..], ["store.updated", "tenant.updated"]);
}
