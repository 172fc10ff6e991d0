//! Credentials and check facts from memory, coherent across processes:
//! a process honours its own changes at once, another process's within
//! `ROSTER_CACHE_STALENESS_MS` (on PostgreSQL pushed, so in practice at
//! once, and within the bound even when the push connection is lost), and
//! `"consistency": "full"` reads through.

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

/// Pushed changes need PostgreSQL's `LISTEN/NOTIFY`.
mod postgres_only {
    use crate::support::{postgres_url, Engine};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_processs_changes_are_pushed_long_before_the_bound() {
        if postgres_url().is_some() {
            super::another_processs_changes_are_pushed_long_before_the_bound(Engine::Postgres).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_push_connection_is_rebuilt_and_misses_nothing() {
        if postgres_url().is_some() {
            super::a_lost_push_connection_is_rebuilt_and_misses_nothing(Engine::Postgres).await
        }
    }
}

pub(crate) fn staleness(ms: u64) -> Config {
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
pub(crate) async fn time_until<F, Fut>(wanted: Value, probe: F) -> Duration
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

/// Deactivates `user` behind Roster's back, in SQL: no process hears of it.
async fn deactivate_by_hand(app: &TestApp, user: &str) {
    let sql = format!("UPDATE users SET status = 'INACTIVE' WHERE id = '{user}' RETURNING id");
    assert_eq!(app.rows_as_text(&sql).await, vec![user.to_string()]);
}

async fn a_full_check_reads_through_a_warm_cache(engine: Engine) {
    let this = TestApp::start(engine).await;
    let other = this.sibling_with(staleness(60_000)).await;
    if engine == Engine::Postgres {
        // Until the push is known to work, the cache is not trusted.
        until_listening(&this, 2).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (t, user, key) = cashier_and_checker(&this).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    deactivate_by_hand(&this, &user).await;
    // The other process's cache is warm and long-lived, and a change made
    // by hand announces nothing: a bounded check still answers from the
    // cache on PostgreSQL (SQLite's watcher may already have seen the file
    // move); a full one reads the change (in a batch, the question's own
    // consistency wins over the batch's).
    if engine == Engine::Postgres {
        assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    }
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

/// Whether each of `apps` has its push connection open, from PostgreSQL's
/// side (`pg_stat_activity`); how many are.
async fn listening(app: &TestApp) -> usize {
    app.rows_as_text(
        "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'roster-listener'",
    )
    .await[0]
        .parse()
        .unwrap()
}

async fn until_listening(app: &TestApp, processes: usize) {
    let started = Instant::now();
    while listening(app).await != processes {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn another_processs_changes_are_pushed_long_before_the_bound(engine: Engine) {
    // A bound of a minute: only the push can explain answers within a second.
    let this = TestApp::start_with(engine, staleness(60_000)).await;
    let other = this.sibling_with(staleness(60_000)).await;
    until_listening(&this, 2).await;
    let (t, user, key) = cashier_and_checker(&this).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    block(&this, &t, &user).await;
    let took = time_until(json!(false), || may_use_pos(&other, &t, &key, &user, false)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Both ways: a role given there is honoured here.
    assert_eq!(may_use_pos(&this, &t, &key, &user, false).await, false);
    other
        .patch(
            &format!("/v1/tenants/{t}/users/{user}"),
            ADMIN,
            json!({"tenant_role": "ACCESS"}),
        )
        .await
        .expect(200);
    let took = time_until(json!(true), || may_use_pos(&this, &t, &key, &user, false)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

async fn a_lost_push_connection_is_rebuilt_and_misses_nothing(engine: Engine) {
    let bound = Duration::from_secs(3);
    let this = TestApp::start_with(engine, staleness(3_000)).await;
    let other = this.sibling_with(staleness(3_000)).await;
    until_listening(&this, 2).await;
    let (t, user, key) = cashier_and_checker(&this).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, true);
    // Cut every process's push connection, then change the user: the
    // notification goes to no one. The other process still honours the
    // change within the bound (it resynchronises when it reconnects, and
    // stops trusting its cache if it cannot).
    let cut = this
        .rows_as_text(
            "SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'roster-listener'",
        )
        .await;
    assert_eq!(cut, vec!["true", "true"]);
    block(&this, &t, &user).await;
    let took = time_until(json!(false), || may_use_pos(&other, &t, &key, &user, false)).await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
    // Both processes listen again, and pushes flow: a change is honoured
    // well within the bound.
    until_listening(&this, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(may_use_pos(&other, &t, &key, &user, false).await, false);
    this.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"tenant_role": "ACCESS"}),
    )
    .await
    .expect(200);
    let took = time_until(json!(true), || may_use_pos(&other, &t, &key, &user, false)).await;
    assert!(took < Duration::from_millis(500), "{took:?}");
}
