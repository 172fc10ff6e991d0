//! Bounded work: a burst beyond the password pool's queue, the requests in
//! flight or the request timeout is answered at once with 503 and
//! `Retry-After`, never left waiting, and the server serves on after it.

use std::time::{Duration, Instant};

use roster_app::config::PoolSize;
use roster_app::Config;
use roster_http::Limits;
use serde_json::json;

use crate::on_both_engines;
use crate::support::{test_config, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    a_burst_past_the_password_queue_is_refused_fast,
    requests_past_the_in_flight_limit_are_shed,
    a_request_over_its_time_answers_503,
);

fn with_pool(workers: usize, queue: usize) -> Config {
    Config {
        password_pool: PoolSize { workers, queue },
        throttle: roster_core::throttle::ThrottlePolicy {
            max_failures: 100_000,
            address_per_minute: 100_000,
        },
        ..test_config()
    }
}

/// Sends `n` logins at once; every answer, in any order.
async fn burst_of_logins(app: &TestApp, n: usize) -> Vec<Reply> {
    let emails: Vec<String> = (0..n).map(|i| format!("ghost{i}@example.com")).collect();
    futures::future::join_all(emails.iter().map(|email| app.login(email, PASSWORD))).await
}

fn assert_overloaded(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["status"], 503);
}

async fn a_burst_past_the_password_queue_is_refused_fast(engine: Engine) {
    let app = TestApp::start_with(engine, with_pool(1, 2)).await;
    let started = Instant::now();
    let replies = burst_of_logins(&app, 40).await;
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    let answered = replies.iter().filter(|r| r.status == 401).count();
    assert_eq!(refused.len() + answered, 40, "only 401s and 503s");
    // One worker and two waiting places: at most a few get a verification.
    assert!((1..=20).contains(&answered), "{answered} verified");
    for reply in &refused {
        assert_overloaded(reply);
        assert!(reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("password checks are at capacity"));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Once the burst is over the pool serves again, and a password change
    // (policy check and hash) runs through the same pool.
    let t = app.tenant("acme").await;
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"email": "ana@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201);
    app.login("ghost@example.com", PASSWORD).await.problem(401);
}

async fn requests_past_the_in_flight_limit_are_shed(engine: Engine) {
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let app = TestApp::start_limited(engine, with_pool(1, 64), limits).await;
    let replies = burst_of_logins(&app, 20).await;
    let shed: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!shed.is_empty(), "20 at once past a limit of 1");
    assert!(replies.iter().all(|r| r.status == 401 || r.status == 503));
    for reply in shed {
        assert_overloaded(reply);
        assert!(reply.body["detail"].as_str().unwrap().contains("in flight"));
    }
    app.get("/v1/tenants", ADMIN).await.expect(200);
}

async fn a_request_over_its_time_answers_503(engine: Engine) {
    let limits = Limits {
        request_timeout: Duration::from_millis(1),
        ..Limits::default()
    };
    let app = TestApp::start_limited(engine, with_pool(1, 64), limits).await;
    // An Argon2id verification alone takes far longer than a millisecond.
    let reply = app.login("ghost@example.com", PASSWORD).await;
    assert_overloaded(&reply);
    assert!(reply.body["detail"]
        .as_str()
        .unwrap()
        .contains("did not finish within"));
    assert!(reply.body["traceId"].is_string());
}
