//! Events out by webhook (SPEC §8): management under MANAGE_WEBHOOKS, the
//! CloudEvents each change writes to the outbox, signed deliveries
//! verified with a Standard Webhooks library, filters, tenant isolation,
//! retries with the same `webhook-id`, an exhausted schedule, private
//! addresses refused, and no event lost to `kill -9`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use roster_app::{Config, EventsConfig};
use roster_core::events::RetrySchedule;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::on_both_engines;
use crate::process::Roster;
use crate::support::{test_config, Database, Engine, TestApp, ADMIN};

on_both_engines!(
    webhooks_are_managed_under_manage_webhooks,
    bad_webhook_bodies_are_refused,
    secrets_are_sealed_at_rest,
    private_addresses_are_refused_by_default,
    deliveries_are_signed_filtered_and_stay_in_their_tenant,
    events_carry_the_resource_after_the_change,
    a_failing_endpoint_is_retried_with_the_same_webhook_id,
    an_exhausted_schedule_fails_and_disables_the_webhook,
    sent_events_and_old_attempts_are_purged,
    events_wait_for_nats_past_the_retention,
    no_event_is_lost_to_kill_9,
);

/// A test server whose webhooks may reach this machine, retrying after `retry`.
pub(crate) fn events_config(retry: &str) -> Config {
    Config {
        events: EventsConfig {
            allow_private: true,
            retry: RetrySchedule::parse(retry).unwrap(),
            ..EventsConfig::default()
        },
        ..test_config()
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn event(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_string()
    }
}

/// A local webhook receiver: records every request and answers the next
/// status of its plan (200 once the plan is used up).
#[derive(Clone)]
pub(crate) struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub async fn start(plan: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, plan)
    }

    pub fn on(listener: tokio::net::TcpListener, plan: &[u16]) -> Receiver {
        let receiver = Receiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            received: Default::default(),
            plan: Arc::new(Mutex::new(plan.iter().copied().collect())),
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state
                        .received
                        .lock()
                        .unwrap()
                        .push(Received { headers, body });
                    let status = state.plan.lock().unwrap().pop_front().unwrap_or(200);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (a minute at most) until `done` holds of what arrived.
    pub async fn until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..1200 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: never happened; received {:#?}", self.received());
    }

    /// The received events of this type.
    pub fn of_type(received: &[Received], event_type: &str) -> Vec<Value> {
        received
            .iter()
            .map(Received::event)
            .filter(|e| e["type"] == event_type)
            .collect()
    }
}

async fn webhook(app: &TestApp, tenant: &str, body: Value) -> Value {
    app.post(&format!("/v1/tenants/{tenant}/webhooks"), ADMIN, body)
        .await
        .expect(201)
}

async fn webhooks_are_managed_under_manage_webhooks(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1")).await;
    let t = app.tenant("hooks").await;
    let other = app.tenant("other").await;
    let path = format!("/v1/tenants/{t}/webhooks");
    let made = webhook(
        &app,
        &t,
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["roster.user.*"], "description": "ERP"}),
    )
    .await;
    let id = made["id"].as_str().unwrap().to_string();
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{made}");
    assert_eq!(made["enabled"], true);
    assert_eq!(made["event_types"], json!(["roster.user.*"]));
    assert_eq!(made["description"], "ERP");

    let one = app.get(&format!("{path}/{id}"), ADMIN).await.expect(200);
    assert!(one.get("secret").is_none(), "{one}");
    assert_eq!(one["url"], "http://127.0.0.1:9/hook");
    let list = app.get(&path, ADMIN).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());
    assert_eq!(list["next_cursor"], Value::Null);

    let changed = app
        .patch(
            &format!("{path}/{id}"),
            ADMIN,
            json!({"enabled": false, "event_types": [], "description": null}),
        )
        .await
        .expect(200);
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["event_types"], json!([]));
    assert_eq!(changed["description"], Value::Null);

    // A key without MANAGE_WEBHOOKS may not; one with it may, in its tenant only.
    let viewer = app.key(&t, &["VIEW_USERS"]).await;
    app.get(&path, &viewer).await.problem(403);
    app.post(&path, &viewer, json!({"url": "http://127.0.0.1:9/"}))
        .await
        .problem(403);
    let manager = app.key(&t, &["MANAGE_WEBHOOKS"]).await;
    app.get(&path, &manager).await.expect(200);
    let elsewhere = app.key(&other, &["MANAGE_WEBHOOKS"]).await;
    app.get(&path, &elsewhere).await.problem(404);
    let theirs = format!("/v1/tenants/{other}/webhooks/{id}");
    app.get(&theirs, ADMIN).await.problem(404);
    app.patch(&theirs, ADMIN, json!({"enabled": true}))
        .await
        .problem(404);
    app.delete(&theirs, ADMIN).await.problem(404);
    app.get(&format!("{theirs}/deliveries"), ADMIN)
        .await
        .problem(404);

    let deliveries = app
        .get(&format!("{path}/{id}/deliveries"), &manager)
        .await
        .expect(200);
    assert_eq!(deliveries, json!({"data": [], "next_cursor": null}));
    app.delete(&format!("{path}/{id}"), &manager)
        .await
        .expect(204);
    app.get(&format!("{path}/{id}"), ADMIN).await.problem(404);
    app.delete(&format!("{path}/{id}"), ADMIN)
        .await
        .problem(404);

    // Each change to a webhook is audited.
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

async fn bad_webhook_bodies_are_refused(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1")).await;
    let t = app.tenant("hooks").await;
    let path = format!("/v1/tenants/{t}/webhooks");
    for (body, field) in [
        (json!({}), None),
        (json!({"url": 5}), None),
        (json!({"url": "not a url"}), Some("url")),
        (json!({"url": "ftp://127.0.0.1/x"}), Some("url")),
        (
            json!({"url": "http://127.0.0.1:9/", "event_types": ["user.*"]}),
            Some("event_types"),
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "event_types": ["roster.*.created"]}),
            Some("event_types"),
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "event_types": "roster.user.*"}),
            None,
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "secret": "whsec_mine"}),
            None,
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "enabled": false}),
            None,
        ),
    ] {
        let problem = app.post(&path, ADMIN, body.clone()).await.problem(400);
        if let Some(field) = field {
            assert!(problem.to_string().contains(field), "{body}: {problem}");
        }
    }
    app.raw(
        reqwest::Method::POST,
        &path,
        Some(ADMIN),
        "application/json",
        b"{\"url\": ".to_vec(),
    )
    .await
    .problem(400);
    let id = webhook(&app, &t, json!({"url": "http://127.0.0.1:9/"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = format!("{path}/{id}");
    for body in [
        json!({"enabled": "yes"}),
        json!({"event_types": ["roster"]}),
        json!({"url": "gopher://127.0.0.1/"}),
        json!({"id": "x"}),
    ] {
        app.patch(&one, ADMIN, body).await.problem(400);
    }
    app.get(&format!("{path}/not-a-uuid"), ADMIN)
        .await
        .problem(400);
    app.get(&format!("{one}/deliveries?limit=501"), ADMIN)
        .await
        .problem(400);
}

async fn secrets_are_sealed_at_rest(engine: Engine) {
    let kek = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let config = Config {
        key_encryption_key: Some(roster_app::sealing::KeyEncryptionKey::parse(&kek).unwrap()),
        ..events_config("1")
    };
    let app = TestApp::start_dispatching(engine, config).await;
    let t = app.tenant("sealed").await;
    let receiver = Receiver::start(&[]).await;
    let made = webhook(
        &app,
        &t,
        json!({"url": receiver.url, "event_types": ["roster.store.created"]}),
    )
    .await;
    let secret = made["secret"].as_str().unwrap().to_string();
    // What a dump of the database holds is sealed, not the secret.
    let stored: String = match engine {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
            sqlx::query_scalar("SELECT secret FROM webhooks")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.url).await.unwrap();
            sqlx::query_scalar("SELECT secret FROM webhooks")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    let key = secret.trim_start_matches("whsec_");
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    assert!(!stored.contains(key), "{stored}");
    // The process with the key signs with the secret all the same.
    app.store(&t, "main").await;
    let got = receiver.until("the store's event", |r| !r.is_empty()).await;
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(got[0].body.as_bytes(), &got[0].headers)
        .expect("verifies");
}

async fn private_addresses_are_refused_by_default(engine: Engine) {
    let app = TestApp::start_dispatching(engine, test_config()).await;
    let t = app.tenant("hooks").await;
    let path = format!("/v1/tenants/{t}/webhooks");
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ] {
        let problem = app
            .post(&path, ADMIN, json!({"url": url}))
            .await
            .problem(400);
        assert!(
            problem.to_string().contains("ROSTER_WEBHOOK_ALLOW_PRIVATE"),
            "{url}: {problem}"
        );
    }
    assert_eq!(app.get(&path, ADMIN).await.expect(200)["data"], json!([]));
}

async fn deliveries_are_signed_filtered_and_stay_in_their_tenant(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1")).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let users_of_a = Receiver::start(&[]).await;
    let all_of_b = Receiver::start(&[]).await;
    let secret_a = webhook(
        &app,
        &a,
        json!({"url": users_of_a.url, "event_types": ["roster.user.*"]}),
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_b = webhook(&app, &b, json!({"url": all_of_b.url})).await["secret"]
        .as_str()
        .unwrap()
        .to_string();

    app.company(&a, "Not a user").await;
    let ada = app.user(&a, json!({"email": "ada@alpha.test"})).await;
    let bob = app.user(&b, json!({"email": "bob@beta.test"})).await;
    app.store(&b, "main").await;

    let got_a = users_of_a
        .until("alpha's user event", |r| {
            !Receiver::of_type(r, "roster.user.created").is_empty()
        })
        .await;
    let got_b = all_of_b
        .until("beta's user and store events", |r| {
            !Receiver::of_type(r, "roster.user.created").is_empty()
                && !Receiver::of_type(r, "roster.store.created").is_empty()
        })
        .await;

    // Alpha's filter let only its user events through; nothing of beta's.
    for received in &got_a {
        let event = received.event();
        assert!(
            event["type"].as_str().unwrap().starts_with("roster.user."),
            "{event}"
        );
        assert_eq!(event["source"], "/tenants/alpha");
    }
    let created = &Receiver::of_type(&got_a, "roster.user.created")[0];
    assert_eq!(created["specversion"], "1.0");
    assert_eq!(
        created["subject"],
        format!("users/{}", ada["id"].as_str().unwrap())
    );
    assert_eq!(created["data"]["id"], ada["id"]);
    assert_eq!(created["data"]["email"], "ada@alpha.test");
    assert!(created["time"].is_string() && created["id"].is_string());
    // Beta's webhook, with no filter, got every beta event, and no alpha event.
    for received in &got_b {
        assert_eq!(received.event()["source"], "/tenants/beta");
        assert!(!received.body.contains("ada@alpha.test"));
    }
    let bobs = &Receiver::of_type(&got_b, "roster.user.created")[0];
    assert_eq!(bobs["data"]["id"], bob["id"]);
    assert_ne!(
        bobs["id"], created["id"],
        "event ids are unique across tenants"
    );

    // Every delivery verifies with a Standard Webhooks library, and only
    // with its own webhook's secret.
    let verify_a = standardwebhooks::Webhook::new(&secret_a).unwrap();
    let verify_b = standardwebhooks::Webhook::new(&secret_b).unwrap();
    for received in &got_a {
        assert_eq!(received.id(), received.event()["id"].as_str().unwrap());
        verify_a
            .verify(received.body.as_bytes(), &received.headers)
            .expect("alpha's signature verifies");
        assert!(verify_b
            .verify(received.body.as_bytes(), &received.headers)
            .is_err());
        assert_eq!(
            received.headers["content-type"],
            "application/cloudevents+json"
        );
    }
    for received in &got_b {
        verify_b
            .verify(received.body.as_bytes(), &received.headers)
            .expect("beta's signature verifies");
    }
}

async fn events_carry_the_resource_after_the_change(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1")).await;
    let t = app.tenant("hooks").await;
    let receiver = Receiver::start(&[]).await;
    webhook(
        &app,
        &t,
        json!({"url": receiver.url, "event_types": ["roster.user.*", "roster.api_key.created"]}),
    )
    .await;
    let user = app
        .user(
            &t,
            json!({"email": "ada@hooks.test", "tenant_role": "ACCESS"}),
        )
        .await;
    let id = user["id"].as_str().unwrap();
    let path = format!("/v1/tenants/{t}/users/{id}");
    app.patch(&path, ADMIN, json!({"first_name": "Ada"}))
        .await
        .expect(200);
    app.delete(&path, ADMIN).await.expect(204);
    app.key(&t, &["VIEW_USERS"]).await;
    let got = receiver
        .until("the user's three events and the key's", |r| {
            // Delivery order is not promised (README): wait for each one.
            [
                "roster.user.created",
                "roster.user.updated",
                "roster.user.deleted",
                "roster.api_key.created",
            ]
            .iter()
            .all(|t| !Receiver::of_type(r, t).is_empty())
        })
        .await;
    let updated = &Receiver::of_type(&got, "roster.user.updated")[0];
    assert_eq!(updated["data"]["first_name"], "Ada");
    assert_eq!(updated["data"]["tenant_role"], "ACCESS");
    assert_eq!(updated["data"]["email"], "ada@hooks.test");
    assert!(updated["data"].get("password_hash").is_none());
    let deleted = &Receiver::of_type(&got, "roster.user.deleted")[0];
    assert_eq!(deleted["data"], json!({"id": id}));
    assert_eq!(deleted["subject"], format!("users/{id}"));
    let key = &Receiver::of_type(&got, "roster.api_key.created")[0];
    assert_eq!(key["data"]["permissions"], json!(["VIEW_USERS"]));
    assert!(!key.to_string().contains("token"), "{key}");
    // Each event names its audit event, and its own id is a UUID.
    let audit = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let audited: Vec<String> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].to_string())
        .collect();
    for event in got.iter().map(Received::event) {
        assert!(audited.contains(&event["auditid"].as_str().unwrap().to_string()));
        assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
    }
}

async fn a_failing_endpoint_is_retried_with_the_same_webhook_id(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1,1,1")).await;
    let t = app.tenant("hooks").await;
    let flaky = Receiver::start(&[500, 503]).await;
    let steady = Receiver::start(&[]).await;
    let id = webhook(
        &app,
        &t,
        json!({"url": flaky.url, "event_types": ["roster.store.created"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    webhook(
        &app,
        &t,
        json!({"url": steady.url, "event_types": ["roster.store.created"]}),
    )
    .await;
    app.store(&t, "main").await;
    let got = flaky.until("three attempts", |r| r.len() >= 3).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got.iter().all(|r| r.id() == got[0].id()));
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert_eq!(
        steady.until("one delivery", |r| !r.is_empty()).await.len(),
        1
    );
    let path = format!("/v1/tenants/{t}/webhooks/{id}/deliveries");
    let deliveries = loop {
        let deliveries = app.get(&path, ADMIN).await.expect(200);
        if deliveries["data"].as_array().unwrap().len() == 3 {
            break deliveries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let data = deliveries["data"].as_array().unwrap();
    let outcomes: Vec<(&Value, &Value, &Value)> = data
        .iter()
        .map(|d| (&d["attempt"], &d["outcome"], &d["status_code"]))
        .collect();
    assert_eq!(
        outcomes,
        [
            (&json!(3), &json!("delivered"), &json!(200)),
            (&json!(2), &json!("retrying"), &json!(503)),
            (&json!(1), &json!("retrying"), &json!(500)),
        ]
    );
    assert!(data.iter().all(|d| d["event_id"] == json!(got[0].id())));
    assert!(data[1]["error"].is_string() && data[0].get("error").is_none());
    // Paging, newest first.
    let first = app.get(&format!("{path}?limit=2"), ADMIN).await.expect(200);
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(rest["data"][0]["attempt"], 1);
    assert_eq!(rest["next_cursor"], Value::Null);

    // The metrics count the attempts by outcome and the endpoint's failures,
    // and show the backlog.
    let metrics = app.metrics().await;
    for line in [
        r#"roster_webhook_attempts_total{outcome="retrying"}"#.to_string(),
        r#"roster_webhook_deliveries_total{outcome="delivered"}"#.to_string(),
        format!(r#"roster_webhook_endpoint_failures_total{{webhook="{id}"}} 2"#),
        "roster_outbox_events_pending ".to_string(),
        "roster_webhook_deliveries_pending ".to_string(),
        "roster_outbox_oldest_pending_age_seconds ".to_string(),
    ] {
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
}

async fn an_exhausted_schedule_fails_and_disables_the_webhook(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("1")).await;
    let t = app.tenant("hooks").await;
    let down = Receiver::start(&[500; 10]).await;
    let id = webhook(
        &app,
        &t,
        json!({"url": down.url, "event_types": ["roster.store.created"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.store(&t, "main").await;
    let one = format!("/v1/tenants/{t}/webhooks/{id}");
    let disabled = loop {
        let webhook = app.get(&one, ADMIN).await.expect(200);
        if webhook["enabled"] == false {
            break webhook;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("2 attempts") && reason.contains("500"),
        "{reason}"
    );
    let deliveries = app
        .get(&format!("{one}/deliveries"), ADMIN)
        .await
        .expect(200);
    assert_eq!(deliveries["data"][0]["outcome"], "failed");
    assert_eq!(deliveries["data"][1]["outcome"], "retrying");
    assert_eq!(down.received().len(), 2);
    // Enabling it clears the reason.
    let enabled = app
        .patch(&one, ADMIN, json!({"enabled": true}))
        .await
        .expect(200);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    assert_eq!(enabled["enabled"], true);
}

/// The outbox rows left, by type.
async fn outbox_types(app: &TestApp) -> Vec<String> {
    let sql = "SELECT type FROM outbox ORDER BY id";
    match app.engine {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
    }
}

async fn sent_events_and_old_attempts_are_purged(engine: Engine) {
    let app = TestApp::start_dispatching(engine, events_config("3600")).await;
    let t = app.tenant("purged").await;
    let fine = Receiver::start(&[]).await;
    let down = Receiver::start(&[500]).await;
    let id = webhook(
        &app,
        &t,
        json!({"url": fine.url, "event_types": ["roster.store.created"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    webhook(
        &app,
        &t,
        json!({"url": down.url, "event_types": ["roster.company.created"]}),
    )
    .await;
    app.store(&t, "main").await;
    app.company(&t, "Acme").await;
    fine.until("the store's event", |r| !r.is_empty()).await;
    down.until("the company's first attempt", |r| !r.is_empty())
        .await;
    let deliveries = format!("/v1/tenants/{t}/webhooks/{id}/deliveries");
    loop {
        let listed = app.get(&deliveries, ADMIN).await.expect(200);
        if listed["data"][0]["outcome"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A week later the events that went everywhere are gone; the company's,
    // still waiting for its retry in an hour, stays.
    app.app.purge().await.unwrap();
    assert_eq!(outbox_types(&app).await.len(), 5);
    app.clock.advance(chrono::Duration::days(8));
    let purged = app.app.purge().await.unwrap();
    assert_eq!(purged.events, 4, "{purged:?}");
    assert_eq!(outbox_types(&app).await, ["roster.company.created"]);
    // The attempts stay listed for a month.
    let listed = app.get(&deliveries, ADMIN).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    app.clock.advance(chrono::Duration::days(30));
    assert_eq!(app.app.purge().await.unwrap().attempts, 2);
    let listed = app.get(&deliveries, ADMIN).await.expect(200);
    assert_eq!(listed["data"], json!([]));
}

/// With NATS configured and away for longer than the retention, the purge
/// keeps every unpublished event: they are published when NATS is back.
async fn events_wait_for_nats_past_the_retention(engine: Engine) {
    // A port nobody listens on: NATS is away the whole time.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nats_url = format!("nats://{}", unused.local_addr().unwrap());
    drop(unused);
    let mut config = events_config("3600");
    config.events.nats_url = Some(roster_app::Secret::new(nats_url));
    let app = TestApp::start_dispatching(engine, config).await;
    let t = app.tenant("away").await;
    app.store(&t, "main").await;
    // Fanned out (no webhook wants them), never published.
    let dispatched = "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE dispatched_at IS NOT NULL";
    for _ in 0..200 {
        if app.rows_as_text(dispatched).await[0] == "2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.rows_as_text(dispatched).await[0], "2");
    app.clock.advance(chrono::Duration::days(30));
    let purged = app.app.purge().await.unwrap();
    assert_eq!(purged.events, 0, "{purged:?}");
    assert_eq!(outbox_types(&app).await.len(), 2);
}

async fn no_event_is_lost_to_kill_9(engine: Engine) {
    let (url, _database) = Database::create(engine).await;
    let client = reqwest::Client::new();
    // The receiver's port is taken now and listened on only later: until
    // then every delivery fails to connect and waits for its retry.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver_url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let env = [
        ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true"),
        (
            "ROSTER_WEBHOOK_RETRY_SECONDS",
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
        ),
        // A delivery cut short by the kill is claimed again after its
        // lease, which is a few timeouts long.
        ("ROSTER_WEBHOOK_TIMEOUT", "1"),
    ];
    let mut server = Roster::start(&url, &env);
    let post = |base: &str, path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let made = post(
        &server.base,
        "/v1/tenants",
        json!({"uid": "crash", "name": "Crash"}),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 201);
    let made = post(
        &server.base,
        "/v1/tenants/crash/webhooks",
        json!({"url": receiver_url, "event_types": ["roster.user.created"]}),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 201);
    let mut ids = Vec::new();
    for i in 0..20 {
        let user = post(
            &server.base,
            "/v1/tenants/crash/users",
            json!({"email": format!("u{i}@crash.test")}),
        )
        .await
        .unwrap();
        assert_eq!(user.status(), 201);
        ids.push(user.json::<Value>().await.unwrap()["id"].clone());
    }
    server.crash();
    let receiver = Receiver::on(
        tokio::net::TcpListener::bind(
            receiver_url
                .trim_start_matches("http://")
                .trim_end_matches("/hook"),
        )
        .await
        .unwrap(),
        &[],
    );
    let _restarted = Roster::start(&url, &env);
    let got = receiver
        .until("every acknowledged user's event", |r| {
            let users: std::collections::HashSet<Value> =
                Receiver::of_type(r, "roster.user.created")
                    .iter()
                    .map(|e| e["data"]["id"].clone())
                    .collect();
            ids.iter().all(|id| users.contains(id))
        })
        .await;
    assert!(got.len() >= ids.len());
}
