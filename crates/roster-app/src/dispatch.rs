//! The dispatcher: takes events from the outbox to the tenants' webhooks
//! (and to NATS JetStream, `nats.rs`). Every process runs one; on
//! PostgreSQL they share the work (`FOR UPDATE SKIP LOCKED`), so an event is
//! fanned out once and each delivery attempted by one process at a time.
//!
//! At least once: an event is marked fanned out in the transaction that
//! writes its deliveries, and a delivery's claim (a lease) is finished only
//! after its attempt is recorded; a process that dies mid-way leaves its
//! claim to expire and the work is done again, with the same event id
//! (`webhook-id`) for the receiver to de-duplicate.
//!
//! Back-pressure: each webhook has at most `concurrency` deliveries in
//! flight (per process), each bounded by the timeout, so a slow endpoint
//! holds only its own slots and never delays another's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use roster_core::DeliveryOutcome;
use roster_store::{AttemptRecord, DueDelivery};
use uuid::Uuid;

use crate::webhooks::{signature, signing_key, PublicResolver};
use crate::App;

/// Events fanned out per round.
const FAN_OUT_BATCH: i64 = 500;
/// How long a round waits after one that found less than a full batch.
const IDLE: Duration = Duration::from_millis(200);

/// One process's dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    app: App,
    client: reqwest::Client,
    /// Deliveries in flight per webhook in this process.
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Wakes the loop when a delivery finished (a slot freed).
    wake: Arc<tokio::sync::Notify>,
}

impl App {
    /// The dispatcher of this process, to run with [`Dispatcher::run`].
    pub fn dispatcher(&self) -> Dispatcher {
        let events = &self.config.events;
        let client = reqwest::Client::builder()
            .timeout(events.timeout)
            .connect_timeout(events.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicResolver {
                allow_private: events.allow_private,
            }))
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook client builds");
        Dispatcher {
            app: self.clone(),
            client,
            in_flight: Default::default(),
            wake: Default::default(),
        }
    }
}

impl App {
    /// Sets the outbox gauges for `/metrics`: events and deliveries waiting,
    /// and the age of the oldest. A database that does not answer leaves
    /// them as they were (and `/readyz` says so).
    pub async fn measure_event_backlog(&self) {
        let publishing = self.config.events.nats_url.is_some();
        match self.store.backlog(publishing).await {
            Ok(backlog) => {
                metrics::gauge!("roster_outbox_events_pending").set(backlog.events as f64);
                metrics::gauge!("roster_webhook_deliveries_pending").set(backlog.deliveries as f64);
                let age = backlog.oldest.map_or(0.0, |at| {
                    (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                });
                metrics::gauge!("roster_outbox_oldest_pending_age_seconds").set(age);
            }
            Err(error) => tracing::warn!(%error, "cannot measure the event backlog"),
        }
    }
}

impl Dispatcher {
    /// Delivers until dropped. A failed round (the database away) is logged
    /// and tried again.
    pub async fn run(self) {
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::warn!(%error, "event dispatch failed; trying again shortly");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    () = tokio::time::sleep(IDLE) => {}
                    () = self.wake.notified() => {}
                }
            }
        }
    }

    /// The lease on claimed work: longer than an attempt can take.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.app.config.events.timeout * 3 + Duration::from_secs(30))
            .unwrap_or(chrono::Duration::minutes(5))
    }

    /// One round: fan out new events, start the deliveries that are due.
    /// Whether there may be more to do at once.
    pub async fn round(&self) -> Result<bool, roster_store::StoreError> {
        let store = &self.app.store;
        let now = Utc::now();
        let fanned = store.fan_out(now, FAN_OUT_BATCH).await?;

        let capacity = self.app.config.events.concurrency.max(1);
        let mut started = 0;
        for (tenant, webhook) in store.webhooks_due(now, 1000).await? {
            let free = {
                let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                capacity.saturating_sub(in_flight.get(&webhook).copied().unwrap_or(0))
            };
            if free == 0 {
                continue;
            }
            let due = store
                .claim_deliveries(&tenant, webhook, now, now + self.lease(), free as i64)
                .await?;
            for delivery in due {
                started += 1;
                self.start(delivery);
            }
        }
        // A round that did not fill its batch of events took what there
        // was: the next waits (`IDLE`), so events arriving meanwhile are
        // fanned out together rather than a round each.
        Ok(fanned as i64 == FAN_OUT_BATCH || started > 0)
    }

    /// Delivers one claimed delivery on a task of its own, in the webhook's
    /// slot.
    fn start(&self, delivery: DueDelivery) {
        *self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(delivery.webhook_id)
            .or_default() += 1;
        let this = self.clone();
        tokio::spawn(async move {
            let webhook = delivery.webhook_id;
            let record = this.attempt(&delivery).await;
            if let Err(error) = this.app.store.record_attempt(record).await {
                // The claim expires and the delivery is attempted again.
                tracing::warn!(%error, %webhook, "could not record a webhook delivery attempt");
            }
            let mut in_flight = this.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = in_flight.get_mut(&webhook) {
                *n -= 1;
                if *n == 0 {
                    in_flight.remove(&webhook);
                }
            }
            drop(in_flight);
            this.wake.notify_one();
        });
    }

    /// POSTs the event, signed, and says what came of it.
    async fn attempt(&self, d: &DueDelivery) -> AttemptRecord {
        let events = &self.app.config.events;
        let (status_code, error) = match self.send(d).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (
                Some(status),
                Some(format!("the endpoint answered {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let at = Utc::now();
        let mut record = AttemptRecord {
            tenant: d.tenant.clone(),
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_uid: d.event_uid.clone(),
            attempt: d.attempt,
            status_code,
            error: error.clone(),
            at,
            outcome: DeliveryOutcome::Delivered,
            next_at: None,
            disable: None,
        };
        let Some(error) = error else {
            count(&record);
            return record;
        };
        metrics::counter!("roster_webhook_endpoint_failures_total", "webhook" => d.webhook_id.to_string())
            .increment(1);
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        match events.retry.after(d.attempt, jitter) {
            Some(wait) => {
                record.outcome = DeliveryOutcome::Retrying;
                record.next_at = Some(at + chrono::Duration::from_std(wait).unwrap_or_default());
            }
            None => {
                record.outcome = DeliveryOutcome::Failed;
                record.disable = Some(format!(
                    "disabled at {}: event {} could not be delivered in {} attempts (last: {}); \
                     PATCH enabled=true to resume",
                    at.format("%Y-%m-%dT%H:%M:%SZ"),
                    d.event_uid,
                    d.attempt,
                    error
                ));
                tracing::warn!(webhook = %d.webhook_id, event = %d.event_uid, "webhook disabled: its delivery failed on every retry");
            }
        }
        count(&record);
        record
    }

    /// One POST: the status it answered, or why there was none.
    async fn send(&self, d: &DueDelivery) -> Result<u16, String> {
        let url = url::Url::parse(&d.url).map_err(|_| "the URL does not parse".to_string())?;
        if !self.app.config.events.allow_private {
            // An address in the URL itself is not resolved, so not checked
            // by the resolver: check it here.
            let literal = match url.host() {
                Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
                Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
                _ => None,
            };
            if literal.is_some_and(|a| !roster_core::events::is_public_address(a)) {
                return Err("the URL names a private address".into());
            }
        }
        let key = signing_key(
            self.app.config.key_encryption_key.as_ref(),
            d.webhook_id,
            &d.secret,
        )
        .map_err(|e| e.to_string())?;
        let id = &d.event_uid;
        let timestamp = Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/cloudevents+json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(&key, id, timestamp, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

/// Counts an attempt by its outcome, and a delivery when it is final.
fn count(record: &AttemptRecord) {
    let outcome = record.outcome.as_str();
    metrics::counter!("roster_webhook_attempts_total", "outcome" => outcome).increment(1);
    if record.outcome != DeliveryOutcome::Retrying {
        metrics::counter!("roster_webhook_deliveries_total", "outcome" => outcome).increment(1);
    }
}

/// A failed request in a few words, with its cause (never a header).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(error);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(root) => format!("{what}: {root}"),
        None => what.to_string(),
    }
}
