//! NATS JetStream (SPEC §8): with `ROSTER_NATS_URL` set, every event of
//! the outbox is also published to the stream `ROSTER` (created when
//! missing, limits retention) on `roster.<tenant uid>.<resource>.<action>`,
//! with `Nats-Msg-Id` = the event id, so JetStream drops a duplicate of a
//! publish the outbox repeats. An event is marked published only after
//! JetStream acknowledged it; while NATS is away the events wait in the
//! outbox (their claims lapse) and flow once it is back.

use std::time::Duration;

use chrono::Utc;
use roster_store::OutboxEvent;

use crate::App;

/// The stream every event goes to.
pub const STREAM: &str = "ROSTER";
/// Events published per claim.
const BATCH: i64 = 200;
/// How long a claim to publish lasts: what a publish that never finished
/// (NATS went away) keeps its events waiting.
const LEASE: chrono::Duration = chrono::Duration::seconds(15);
const IDLE: Duration = Duration::from_millis(200);
const RECONNECT: Duration = Duration::from_secs(1);

/// The NATS subject of an event: `roster.<tenant>.<resource>.<action>`.
pub fn subject(event: &OutboxEvent) -> String {
    let action = event
        .event_type
        .strip_prefix("roster.")
        .unwrap_or(&event.event_type);
    format!("roster.{}.{action}", event.tenant)
}

impl App {
    /// Publishes the outbox to NATS JetStream until dropped, when
    /// `ROSTER_NATS_URL` is set (else returns at once). Connection failures
    /// are logged and retried.
    pub async fn publish_to_nats(self) {
        let Some(url) = self.config.events.nats_url.clone() else {
            return;
        };
        loop {
            match self.publish_session(url.expose()).await {
                Ok(()) => {}
                Err(error) => tracing::warn!(%error, "NATS publishing stopped; reconnecting"),
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }

    /// One connection's worth of publishing; returns on the first failure.
    async fn publish_session(&self, url: &str) -> Result<(), String> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| format!("cannot connect to NATS: {e}"))?;
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: STREAM.to_string(),
                subjects: vec!["roster.>".to_string()],
                retention: async_nats::jetstream::stream::RetentionPolicy::Limits,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create the JetStream stream {STREAM}: {e}"))?;
        tracing::info!("publishing events to NATS JetStream stream {STREAM}");
        loop {
            let now = Utc::now();
            let events = self
                .store
                .claim_unpublished(now, now + LEASE, BATCH)
                .await
                .map_err(|e| format!("cannot claim events: {e}"))?;
            if events.is_empty() {
                tokio::time::sleep(IDLE).await;
                continue;
            }
            let mut acks = Vec::with_capacity(events.len());
            for event in &events {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, event.uid.as_str());
                let ack = jetstream
                    .publish_with_headers(subject(event), headers, event.body.clone().into())
                    .await
                    .map_err(|e| format!("cannot publish: {e}"))?;
                acks.push(ack);
            }
            for ack in acks {
                ack.await
                    .map_err(|e| format!("JetStream did not acknowledge: {e}"))?;
            }
            self.store
                .mark_published(&events, Utc::now())
                .await
                .map_err(|e| format!("cannot mark events published: {e}"))?;
            metrics::counter!("roster_nats_published_total").increment(events.len() as u64);
            // Less than a batch was all there was: the next claim waits, so
            // events arriving meanwhile are published together rather than
            // a claim and a mark each.
            if (events.len() as i64) < BATCH {
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}
