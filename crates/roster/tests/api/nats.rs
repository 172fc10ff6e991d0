//! Events out to NATS JetStream (SPEC §8): with `ROSTER_NATS_URL` set,
//! every event reaches the stream `ROSTER` on
//! `roster.<tenant>.<resource>.<action>` with `Nats-Msg-Id` = the event id;
//! while NATS cannot be reached the events wait in the outbox and flow once
//! it can. Needs `ROSTER_TEST_NATS_URL` (skipped, loudly, without it).

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use roster_app::{Config, EventsConfig, Secret};
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{nats_url, test_config, Engine, TestApp};

on_both_engines!(
    every_event_is_published_to_jetstream,
    events_wait_while_nats_is_away_and_flow_when_it_is_back,
);

fn nats_config(url: &str) -> Config {
    Config {
        events: EventsConfig {
            nats_url: Some(Secret::new(url)),
            ..EventsConfig::default()
        },
        ..test_config()
    }
}

/// A tenant uid no other run of the suite uses (the stream is shared).
fn fresh_tenant() -> String {
    format!("nats-{}", uuid::Uuid::new_v4().simple())
}

/// The messages of `tenant` in the stream, waiting (a minute at most)
/// until there are `count`.
async fn messages_of(url: &str, tenant: &str, count: usize) -> Vec<async_nats::jetstream::Message> {
    let client = async_nats::connect(url).await.expect("connect to NATS");
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = None;
    for _ in 0..600 {
        if let Ok(found) = jetstream.get_stream("ROSTER").await {
            stream = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stream = stream.expect("the ROSTER stream was created");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: format!("roster.{tenant}.>"),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..60 {
        let mut batch = consumer
            .fetch()
            .max_messages(100)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            message.ack().await.unwrap();
            got.push(message);
        }
        if got.len() >= count {
            return got;
        }
    }
    panic!("only {} of {count} messages of {tenant} arrived", got.len());
}

fn event(message: &async_nats::jetstream::Message) -> Value {
    serde_json::from_slice(&message.payload).unwrap()
}

async fn every_event_is_published_to_jetstream(engine: Engine) {
    let Some(url) = nats_url() else { return };
    let app = TestApp::start_dispatching(engine, nats_config(&url)).await;
    let t = app.tenant(&fresh_tenant()).await;
    let user = app.user(&t, json!({"email": "ada@nats.test"})).await;
    app.company(&t, "Acme").await;
    let got = messages_of(&url, &t, 3).await;
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("roster.{t}.tenant.created"),
            format!("roster.{t}.user.created"),
            format!("roster.{t}.company.created"),
        ]
    );
    for message in &got {
        let event = event(message);
        let headers = message.headers.as_ref();
        let id = headers
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .unwrap_or_else(|| panic!("no Nats-Msg-Id in {headers:?}"));
        assert_eq!(id.as_str(), event["id"].as_str().unwrap());
        assert_eq!(event["source"], format!("/tenants/{t}"));
    }
    assert_eq!(event(&got[1])["data"]["id"], user["id"]);
    assert_eq!(event(&got[1])["type"], "roster.user.created");
}

/// A TCP relay to NATS that is started late: until then, NATS is away.
async fn relay_to(url: &str, listener: tokio::net::TcpListener) {
    let target = url.trim_start_matches("nats://").to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

async fn events_wait_while_nats_is_away_and_flow_when_it_is_back(engine: Engine) {
    let Some(url) = nats_url() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = format!("nats://127.0.0.1:{port}");
    let app = TestApp::start_dispatching(engine, nats_config(&relay)).await;
    let t = app.tenant(&fresh_tenant()).await;
    for i in 0..5 {
        app.user(&t, json!({"email": format!("u{i}@nats.test")}))
            .await;
    }
    // NATS is away: the events wait, unpublished.
    let pending = app.metrics().await;
    assert!(
        !pending.contains("roster_outbox_events_pending 0\n"),
        "{pending}"
    );
    let backlog = app.store.backlog(true).await.unwrap();
    assert_eq!(backlog.events, 6, "{backlog:?}");
    // NATS is back: every event flows, each once.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    relay_to(&url, listener).await;
    let got = messages_of(&url, &t, 6).await;
    assert_eq!(got.len(), 6);
    let types: Vec<Value> = got.iter().map(|m| event(m)["type"].clone()).collect();
    assert_eq!(
        types.iter().filter(|t| *t == "roster.user.created").count(),
        5
    );
    for _ in 0..100 {
        if app.store.backlog(true).await.unwrap().events == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the outbox still holds events: {:?}",
        app.store.backlog(true).await
    );
}
