//! Webhook delivery: how long 1,000 events waiting in the outbox take to
//! reach a local receiver, signed, from the moment the dispatcher starts
//! (target: under 2 s). Every event is a company created over HTTP before
//! the dispatcher runs, so the time is the dispatcher's alone: claiming,
//! fanning out, signing, POSTing and recording each attempt.
//!
//! ```text
//! cargo bench -p roster --bench webhooks                  # SQLite
//! ROSTER_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench -p roster --bench webhooks                # and PostgreSQL
//! cargo bench -p roster --bench webhooks -- --events 200  # fewer (CI's quick run)
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_app::{App, Config, EventsConfig, Secret};
use roster_store::ConnectOptions;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

const ADMIN: &str = "bench-admin-token";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map_or(1000, |n| n.parse().expect("--events: a number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite:{}", dir.path().join("roster.db").display());
        run("sqlite", &sqlite, events).await;
        if let Ok(admin) = std::env::var("ROSTER_TEST_DATABASE_URL") {
            let name = format!("roster_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .unwrap();
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            run("postgres", &url, events).await;
            conn.execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
                .await
                .unwrap();
        } else {
            println!("ROSTER_TEST_DATABASE_URL is not set: PostgreSQL not measured");
        }
    });
}

async fn run(engine: &str, url: &str, events: usize) {
    let store = roster_store::connect(&ConnectOptions::new(url))
        .await
        .unwrap();
    let config = Config {
        admin_token: Some(Secret::new(ADMIN)),
        events: EventsConfig {
            allow_private: true,
            ..EventsConfig::default()
        },
        ..Config::default()
    };
    let app = App::new(store, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = roster_http::router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // The receiver: counts the events it was sent.
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: String| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hook, receiver).await.unwrap() });

    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let created = post(
        "/v1/tenants".into(),
        json!({"uid": "bench", "name": "Bench"}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let created = post(
        "/v1/tenants/bench/webhooks".into(),
        json!({"url": hook_url, "event_types": ["roster.company.created"]}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let writes = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for i in 0..events {
        pending.push(post(
            "/v1/tenants/bench/companies".into(),
            json!({"name": format!("Company {i}")}),
        ));
        if pending.len() >= 16 {
            let reply = futures::StreamExt::next(&mut pending)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(reply.status(), 201);
        }
    }
    while let Some(reply) = futures::StreamExt::next(&mut pending).await {
        assert_eq!(reply.unwrap().status(), 201);
    }
    let writes = writes.elapsed();

    let started = Instant::now();
    let dispatcher = tokio::spawn(app.dispatcher().run());
    while received.load(Ordering::SeqCst) < events {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {events} delivered",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = started.elapsed();
    dispatcher.abort();
    println!(
        "webhooks on {engine}: {events} events delivered in {:.3} s ({:.0} per second; target \
         under 2 s for 1000){}; writing them took {:.3} s",
        delivered.as_secs_f64(),
        events as f64 / delivered.as_secs_f64(),
        if events == 1000 && delivered > Duration::from_secs(2) {
            " — OVER TARGET"
        } else {
            ""
        },
        writes.as_secs_f64(),
    );
}
