//! Sign-in throttling behind a reverse proxy: `X-Forwarded-For` names the
//! client only when the TCP peer is a trusted proxy
//! (`ROSTER_TRUSTED_PROXIES`); from anyone else it is ignored.

use roster_app::{Config, TrustedProxies};
use roster_core::throttle::ThrottlePolicy;
use serde_json::json;

use crate::on_both_engines;
use crate::support::{test_config, Engine, Reply, TestApp};

on_both_engines!(
    a_trusted_proxy_names_the_client,
    an_untrusted_peer_cannot_pick_its_throttle_bucket,
);

fn config(trusted: &str) -> Config {
    Config {
        trusted_proxies: TrustedProxies::parse(trusted).unwrap(),
        throttle: ThrottlePolicy {
            max_failures: 1_000,
            address_per_minute: 3,
        },
        ..test_config()
    }
}

/// A failed login for an unknown email, sent as from `forwarded_for`.
async fn fail_login(app: &TestApp, forwarded_for: &str) -> Reply {
    let response = app
        .client
        .post(format!("{}/auth/login", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "nobody@example.com", "password": "not-the-password-at-all"}))
        .send()
        .await
        .unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.json().await.unwrap_or_default(),
    }
}

async fn a_trusted_proxy_names_the_client(engine: Engine) {
    let app = TestApp::start_with(engine, config("127.0.0.0/8, ::1")).await;
    for _ in 0..3 {
        fail_login(&app, "203.0.113.5").await.problem(401);
    }
    fail_login(&app, "203.0.113.5").await.problem(429);
    // Another client behind the same proxy has its own bucket.
    fail_login(&app, "198.51.100.9").await.problem(401);
    // A forged entry left of the proxy's own does not escape the bucket.
    fail_login(&app, "192.0.2.1, 203.0.113.5")
        .await
        .problem(429);
}

async fn an_untrusted_peer_cannot_pick_its_throttle_bucket(engine: Engine) {
    let app = TestApp::start_with(engine, config("10.0.0.0/8")).await;
    for i in 0..3 {
        fail_login(&app, &format!("203.0.113.{i}"))
            .await
            .problem(401);
    }
    // Every header value counts against the peer's own address.
    fail_login(&app, "203.0.113.99").await.problem(429);
}
