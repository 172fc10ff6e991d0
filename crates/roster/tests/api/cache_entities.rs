//! Per-entity invalidation: a change names what it touched, and a cache
//! drops only what depended on that. Observed through the cache's own
//! counts in `/metrics` (`roster_cache_lookups_total`), never by timing;
//! and every kind of change to a user shows in the next read of it, from
//! this process at once and from another within the bound.

use std::time::{Duration, Instant};

use reqwest::Method;
use roster_app::Config;
use serde_json::{json, Value};

use crate::commerce::call;
use crate::on_both_engines;
use crate::support::{id, test_config, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    one_users_changes_leave_anothers_entries_alone,
    every_change_to_a_user_shows_in_its_next_read,
    a_listing_takes_its_users_from_the_cache_and_shows_every_change,
);

fn staleness(ms: u64) -> Config {
    Config {
        cache_staleness: Duration::from_millis(ms),
        ..test_config()
    }
}

/// `(hits, misses)` of one of `app`'s caches so far.
async fn lookups(app: &TestApp, cache: &str) -> (u64, u64) {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |outcome: &str| {
        let series =
            format!("roster_cache_lookups_total{{cache=\"{cache}\",outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in /metrics"))
            .parse::<u64>()
            .unwrap()
    };
    (count("hit"), count("miss"))
}

/// Repeats `probe` until `cache` answers one of its lookups from memory
/// (on PostgreSQL the cache is trusted once the push is heard).
pub(crate) async fn until_hit<F, Fut>(app: &TestApp, cache: &str, probe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    loop {
        let (hits, _) = lookups(app, cache).await;
        probe().await;
        if lookups(app, cache).await.0 > hits {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never hit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn device(app: &TestApp, tenant: &str) -> String {
    let body = app
        .post(
            &format!("/v1/tenants/{tenant}/devices"),
            ADMIN,
            json!({"name": "Till"}),
        )
        .await
        .expect(201);
    body["token"].as_str().unwrap().to_string()
}

async fn sign_in(app: &TestApp, device: &str, code: &str) {
    app.call(
        Method::POST,
        "/account",
        Some(device),
        Some(json!({"userCode": code, "password": PASSWORD})),
    )
    .await
    .expect(200);
}

async fn cashier(app: &TestApp, tenant: &str, code: &str, extra: Value) -> String {
    let mut body = json!({"user_code": code, "password": PASSWORD, "tenant_role": "ACCESS"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    id(&app.user(tenant, body).await)
}

async fn may_use_pos(app: &TestApp, t: &str, key: &str, user: &str) -> Value {
    let question = json!({"user_id": user, "permission": "USE_POS"});
    app.post(&format!("/v1/tenants/{t}/check"), key, question)
        .await
        .expect(200)["allowed"]
        .clone()
}

async fn one_users_changes_leave_anothers_entries_alone(engine: Engine) {
    let app = TestApp::start_with(engine, staleness(60_000)).await;
    let t = app.tenant("acme").await;
    let till = device(&app, &t).await;
    let a = cashier(&app, &t, "1001", json!({})).await;
    let b = cashier(&app, &t, "1002", json!({})).await;
    let key = app.key(&t, &["VIEW_USERS"]).await;
    let read_b = || async {
        app.get(&format!("/v1/tenants/{t}/users/{b}"), &key)
            .await
            .expect(200);
    };
    let check_b = || async {
        assert_eq!(may_use_pos(&app, &t, &key, &b).await, true);
    };
    until_hit(&app, "users", read_b).await;
    until_hit(&app, "subjects", check_b).await;

    // A is changed, signs in (its last_accessed_at moves) and gets a role.
    app.patch(
        &format!("/v1/tenants/{t}/users/{a}"),
        ADMIN,
        json!({"first_name": "Ada", "tenant_role": "ACCESS", "store_ids": []}),
    )
    .await
    .expect(200);
    sign_in(&app, &till, "1001").await;

    // B's entries are still answered from memory: hits, no misses.
    let (users, subjects) = (
        lookups(&app, "users").await,
        lookups(&app, "subjects").await,
    );
    read_b().await;
    check_b().await;
    assert_eq!(lookups(&app, "users").await, (users.0 + 1, users.1));
    assert_eq!(
        lookups(&app, "subjects").await,
        (subjects.0 + 1, subjects.1)
    );

    // A's were dropped: its next read is a miss and shows both changes.
    let a_now = app
        .get(&format!("/v1/tenants/{t}/users/{a}"), &key)
        .await
        .expect(200);
    assert_eq!(lookups(&app, "users").await, (users.0 + 1, users.1 + 1));
    assert_eq!(a_now["first_name"], "Ada");
    assert!(a_now["last_accessed_at"].is_string(), "{a_now}");

    // A tenant-wide change (a new store moves every user's store count)
    // drops B's standing too; another tenant's does not.
    app.store(&t, "second").await;
    let other = app.tenant("other").await;
    let before = lookups(&app, "subjects").await;
    check_b().await;
    assert_eq!(lookups(&app, "subjects").await, (before.0, before.1 + 1));
    app.store(&other, "elsewhere").await;
    let before = lookups(&app, "subjects").await;
    check_b().await;
    assert_eq!(lookups(&app, "subjects").await, (before.0 + 1, before.1));
}

/// The `name` field of the user at `path` as `app` reads it (the status,
/// when it is not found).
async fn field_of(app: &TestApp, path: &str, key: &str, name: &str) -> Value {
    let reply = app.get(path, key).await;
    match reply.status {
        200 => reply.body[name].clone(),
        status => json!(status),
    }
}

/// Polls `probe` until it answers `wanted`; how long that took.
async fn time_until<F, Fut>(wanted: &Value, probe: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = Instant::now();
    loop {
        let seen = probe().await;
        if &seen == wanted {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never changed to {wanted}: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn every_change_to_a_user_shows_in_its_next_read(engine: Engine) {
    let bound = Duration::from_millis(300);
    let this = TestApp::start_with(engine, staleness(300)).await;
    let other = this.sibling_with(staleness(300)).await;
    let t = this.tenant("acme").await;
    let store = this.store(&t, "main").await;
    let company = this.company(&t, "Garcia Imports").await;
    let till = device(&this, &t).await;
    let user = cashier(&this, &t, "1001", json!({"company_id": company})).await;
    let key = this.key(&t, &["VIEW_USERS"]).await;
    let path = format!("/v1/tenants/{t}/users/{user}");
    let commerce = format!("/api/commerces/{company}/users/{user}");

    // Reads of one field from a process (a status for an error); both
    // processes are warm before each change, this one must show it at
    // once, the other within the bound.
    let shown = |app, name| field_of(app, &path, &key, name);
    let honoured = |name: &'static str, wanted: Value| {
        let (this, other, shown) = (&this, &other, &shown);
        async move {
            assert_eq!(shown(this, name).await, wanted, "{name} here");
            let took = time_until(&wanted, || shown(other, name)).await;
            assert!(
                took <= bound + Duration::from_millis(700),
                "{name}: {took:?}"
            );
        }
    };
    let warm = || async {
        until_hit(&this, "users", || async {
            shown(&this, "id").await;
        })
        .await;
        until_hit(&other, "users", || async {
            shown(&other, "id").await;
        })
        .await;
    };

    // Sign-in moves last_accessed_at.
    warm().await;
    assert_eq!(shown(&other, "last_accessed_at").await, Value::Null);
    sign_in(&this, &till, "1001").await;
    let signed_in = this.get(&path, ADMIN).await.expect(200)["last_accessed_at"].clone();
    assert!(signed_in.is_string());
    honoured("last_accessed_at", signed_in).await;

    // Profile, roles, stores (each a PATCH).
    for (name, value) in [
        ("first_name", json!("Ada")),
        ("tenant_role", json!("ADMIN")),
        ("store_ids", json!([store])),
    ] {
        warm().await;
        let mut patch = json!({});
        patch[name] = value.clone();
        this.patch(&path, ADMIN, patch).await.expect(200);
        honoured(name, value).await;
    }

    // A contact, on the commerce surface: it moves the user's updated_at.
    warm().await;
    let before = shown(&this, "updated_at").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    call(
        &this,
        Method::POST,
        &format!("{commerce}/contacts"),
        &t,
        ADMIN,
        Some(json!({"contact_type": "EMAIL", "value": "ada@example.com", "source": "INTEGRATION"})),
    )
    .await
    .expect(201);
    let after = this.get(&path, ADMIN).await.expect(200)["updated_at"].clone();
    assert_ne!(after, before);
    honoured("updated_at", after).await;

    // A commerce role.
    warm().await;
    call(
        &this,
        Method::POST,
        &format!("{commerce}/roles"),
        &t,
        ADMIN,
        Some(json!({"role": "ATTENTION"})),
    )
    .await
    .expect(201);
    honoured("roles", json!(["ATTENTION"])).await;

    // Status, then deletion.
    warm().await;
    this.patch(&path, ADMIN, json!({"status": "INACTIVE"}))
        .await
        .expect(200);
    honoured("status", json!("INACTIVE")).await;
    warm().await;
    this.delete(&path, ADMIN).await.expect(204);
    honoured("id", json!(404)).await;
}

/// The first names on a listing's page, in order, and its next cursor.
async fn listed(app: &TestApp, path: &str, key: &str) -> (Vec<Value>, Value) {
    let page = app.get(path, key).await.expect(200);
    let names = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["first_name"].clone())
        .collect();
    (names, page["next_cursor"].clone())
}

async fn a_listing_takes_its_users_from_the_cache_and_shows_every_change(engine: Engine) {
    let this = TestApp::start_with(engine, staleness(60_000)).await;
    let other = this.sibling_with(staleness(300)).await;
    let t = this.tenant("acme").await;
    let store = this.store(&t, "main").await;
    let with_store = json!({"store_ids": [store]});
    let mut ids = Vec::new();
    for (code, name) in [("1001", "Ada"), ("1002", "Bo"), ("1003", "Cy")] {
        let mut extra = with_store.clone();
        extra["first_name"] = json!(name);
        ids.push(cashier(&this, &t, code, extra).await);
    }
    let key = this.key(&t, &["VIEW_USERS"]).await;
    let by_store_and_role = format!("/v1/tenants/{t}/users?role=ACCESS&store_id={store}");
    let by_status = format!("/v1/tenants/{t}/users?status=ACTIVE");

    // Warm, the page is answered from memory: one hit per user, no miss.
    until_hit(&this, "users", || async {
        listed(&this, &by_store_and_role, &key).await;
    })
    .await;
    let before = lookups(&this, "users").await;
    let (names, next) = listed(&this, &by_store_and_role, &key).await;
    assert_eq!(names, [json!("Ada"), json!("Bo"), json!("Cy")]);
    assert_eq!(next, Value::Null);
    assert_eq!(lookups(&this, "users").await, (before.0 + 3, before.1));
    // A listing filtered by the users' own columns reads their ids from
    // the rows and the users from memory too.
    let before = lookups(&this, "users").await;
    let (names, _) = listed(&this, &by_status, &key).await;
    assert_eq!(names, [json!("Ada"), json!("Bo"), json!("Cy")]);
    assert_eq!(lookups(&this, "users").await, (before.0 + 3, before.1));

    // Another tenant lists none of them, warm as they are.
    let elsewhere = this.tenant("globex").await;
    let foreign = this.key(&elsewhere, &["VIEW_USERS"]).await;
    let (names, _) = listed(&this, &format!("/v1/tenants/{elsewhere}/users"), &foreign).await;
    assert_eq!(names, Vec::<Value>::new());

    // Cursors work the same: a page of one, then the rest.
    let (first, next) = listed(&this, &format!("{by_store_and_role}&limit=1"), &key).await;
    assert_eq!(first, [json!("Ada")]);
    let cursor = next.as_str().expect("a next cursor");
    let (rest, next) = listed(
        &this,
        &format!("{by_store_and_role}&limit=5&cursor={cursor}"),
        &key,
    )
    .await;
    assert_eq!(rest, [json!("Bo"), json!("Cy")]);
    assert_eq!(next, Value::Null);

    // A change to one user is a miss for it alone, shown at once here and
    // within the bound by the other process.
    let user = |i: usize| format!("/v1/tenants/{t}/users/{}", ids[i]);
    shown_within(&other, &by_store_and_role, &key, json!(["Ada", "Bo", "Cy"])).await;
    let before = lookups(&this, "users").await;
    this.patch(&user(0), ADMIN, json!({"first_name": "Ida"}))
        .await
        .expect(200);
    let (names, _) = listed(&this, &by_store_and_role, &key).await;
    assert_eq!(names, [json!("Ida"), json!("Bo"), json!("Cy")]);
    assert_eq!(lookups(&this, "users").await, (before.0 + 2, before.1 + 1));
    shown_within(&other, &by_store_and_role, &key, json!(["Ida", "Bo", "Cy"])).await;

    // Losing the store, the role, or the user leaves the page at once.
    this.patch(&user(0), ADMIN, json!({"store_ids": []}))
        .await
        .expect(200);
    this.patch(&user(1), ADMIN, json!({"tenant_role": "ADMIN"}))
        .await
        .expect(200);
    this.delete(&user(2), ADMIN).await.expect(204);
    let (names, _) = listed(&this, &by_store_and_role, &key).await;
    assert_eq!(names, Vec::<Value>::new());
    shown_within(&other, &by_store_and_role, &key, json!([])).await;
}

/// Waits until `app`'s listing at `path` shows the first names `wanted`,
/// within the other process's bound (300 ms) and some slack.
async fn shown_within(app: &TestApp, path: &str, key: &str, wanted: Value) {
    let took = time_until(&wanted, || async { json!(listed(app, path, key).await.0) }).await;
    assert!(took <= Duration::from_secs(1), "{wanted}: {took:?}");
}
