//! Credentials and check facts from memory, coherent across processes:
//! a process honours its own changes at once, another process's within
//! `ROSTER_CACHE_STALENESS_MS`, and `"consistency": "full"` reads through.

use std::time::{Duration, Instant};

use roster_app::Config;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, test_config, Engine, TestApp, ADMIN};

on_both_engines!(
    a_process_honours_its_own_changes_at_once,
    another_processs_changes_are_honoured_within_the_bound,
    a_full_check_reads_through_a_warm_cache,
    without_a_cache_every_process_sees_every_change_at_once,
);

fn staleness(ms: u64) -> Config {
    Config {
        cache_staleness: Duration::from_millis(ms),
        ..test_config()
    }
}

/// A tenant with a cashier holding USE_POS, and a key that may check.
async fn cashier_and_checker(app: &TestApp) -> (String, String, String) {
    let t = app.tenant("acme").await;
    app.store(&t, "main").await;
    let user = app
        .user(
            &t,
            json!({"email": "lee@example.com", "tenant_role": "ACCESS"}),
        )
        .await;
    let key = app.key(&t, &["VIEW_USERS"]).await;
    (t, id(&user), key)
}

async fn may_use_pos(app: &TestApp, t: &str, key: &str, user: &str, full: bool) -> Value {
    let mut question = json!({"user_id": user, "permission": "USE_POS", "store_id": "main"});
    if full {
        question["consistency"] = json!("full");
    }
    app.post(&format!("/v1/tenants/{t}/check"), key, question)
        .await
        .expect(200)["allowed"]
        .clone()
}

async fn block(app: &TestApp, t: &str, user: &str) {
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"tenant_role": "BLOCKED"}),
    )
    .await
    .expect(200);
}

/// Polls `probe` until it answers `wanted`; how long that took.
async fn time_until<F, Fut>(wanted: Value, probe: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = Instant::now();
    loop {
        if probe().await == wanted {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never changed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_process_honours_its_own_changes_at_once(engine: Engine) {
    // A long staleness: only this process's own change counter can explain
    // the immediate answers below.
    let app = TestApp::start_with(engine, staleness(60_000)).await;
    let (t, user, key) = cashier_and_checker(&app).await;
    assert_eq!(may_use_pos(&app, &t, &key, &user, false).await, true);
    block(&app, &t, &user).await;
    assert_eq!(may_use_pos(&app, &t, &key, &user, false).await, false);
    // A deleted key stops at once too, warm as it was.
    let keys = app
        .get(&format!("/v1/tenants/{t}/api-keys"), ADMIN)
        .await
        .expect(200);
    let key_id = keys["data"][0]["id"].as_str().unwrap().to_string();
    app.delete(&format!("/v1/tenants/{t}/api-keys/{key_id}"), ADMIN)
        .await
        .expect(204);
    app.get(&format!("/v1/tenants/{t}"), &key)
        .await
        .problem(401);
}

async fn another_processs_changes_are_honoured_within_the_bound(engine: Engine) {
    let bound = Duration::from_millis(300);
    let this = TestApp::start_with(engine, staleness(300)).await;
    let other = this.sibling_with(staleness(300)).await;
    let (t, user, key) = cashier_and_checker(&this).await;
    // Warm the other process's cache, then change the user here.
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    block(&this, &t, &user).await;
    let took = time_until(json!(false), || may_use_pos(&other, &t, &key, &user, false)).await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
    // A key deleted here stops there within the bound.
    other
        .get(&format!("/v1/tenants/{t}"), &key)
        .await
        .expect(200);
    let keys = this
        .get(&format!("/v1/tenants/{t}/api-keys"), ADMIN)
        .await
        .expect(200);
    let key_id = keys["data"][0]["id"].as_str().unwrap().to_string();
    this.delete(&format!("/v1/tenants/{t}/api-keys/{key_id}"), ADMIN)
        .await
        .expect(204);
    let took = time_until(json!(401), || async {
        json!(other.get(&format!("/v1/tenants/{t}"), &key).await.status)
    })
    .await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
}

async fn a_full_check_reads_through_a_warm_cache(engine: Engine) {
    let this = TestApp::start(engine).await;
    let other = this.sibling_with(staleness(60_000)).await;
    let (t, user, key) = cashier_and_checker(&this).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    block(&this, &t, &user).await;
    // The other process's cache is warm and long-lived: a bounded check may
    // still answer from it; a full one reads the change (in a batch, the
    // question's own consistency wins over the batch's).
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    let batch = other
        .post(
            &format!("/v1/tenants/{t}/check"),
            &key,
            json!({"consistency": "bounded", "checks": [
                {"user_id": user, "permission": "USE_POS", "store_id": "main", "consistency": "full"},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(batch["results"][0]["allowed"], false);
    // The full read refreshed the cache: bounded checks now see it too.
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, false);
    assert_eq!(may_use_pos(&other, &t, &key, &user, true).await, false);
    // An unknown consistency is refused.
    let p = other
        .post(
            &format!("/v1/tenants/{t}/check"),
            &key,
            json!({"user_id": user, "permission": "USE_POS", "consistency": "eventual"}),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("consistency"), "{p}");
}

async fn without_a_cache_every_process_sees_every_change_at_once(engine: Engine) {
    let this = TestApp::start_with(engine, staleness(0)).await;
    let other = this.sibling_with(staleness(0)).await;
    let (t, user, key) = cashier_and_checker(&this).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    block(&this, &t, &user).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, false);
}
