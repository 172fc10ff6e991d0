//! Events out: the outbox, webhooks and their deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, DeliveryAttempt, DeliveryOutcome, Webhook};
use uuid::Uuid;

use crate::{Listed, Page, Result};

/// A webhook to create. `secret` is as it is to be stored (sealed when a
/// key-encryption key is configured).
pub struct NewWebhook {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub secret: String,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("description", &self.description)
            .field("event_types", &self.event_types)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A change to a webhook; `None` leaves a field as it is. Enabling clears
/// the reason Roster disabled it for.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// An event of the outbox, claimed for a while by one dispatcher.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub tenant: String,
    /// The audit event's id: the outbox's key and order.
    pub id: i64,
    /// The CloudEvent `id` (a UUIDv7).
    pub uid: String,
    /// `roster.<resource>.<action>`.
    pub event_type: String,
    /// The CloudEvent, structured JSON.
    pub body: String,
}

/// One delivery due now, claimed for a while by one dispatcher.
pub struct DueDelivery {
    pub tenant: String,
    pub webhook_id: Uuid,
    pub event_id: i64,
    /// The CloudEvent `id`: `webhook-id`.
    pub event_uid: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    pub url: String,
    /// The stored secret (perhaps sealed).
    pub secret: String,
    pub body: String,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("tenant", &self.tenant)
            .field("webhook_id", &self.webhook_id)
            .field("event_id", &self.event_id)
            .field("attempt", &self.attempt)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What one attempt came to, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub tenant: String,
    pub webhook_id: Uuid,
    pub event_id: i64,
    pub event_uid: String,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
    /// When to try again (`Retrying`).
    pub next_at: Option<DateTime<Utc>>,
    /// Disable the webhook, for this reason (`Failed`).
    pub disable: Option<String>,
}

/// How far behind the outbox is, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxBacklog {
    /// Events not yet fanned out to webhooks (or, with NATS, not yet published).
    pub events: i64,
    /// Deliveries waiting for an attempt.
    pub deliveries: i64,
    /// The oldest of either, if any.
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox, the webhooks and their deliveries.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    async fn create_webhook(&self, tenant: &str, new: NewWebhook, actor: &Actor)
        -> Result<Webhook>;
    async fn get_webhook(&self, tenant: &str, id: Uuid) -> Result<Webhook>;
    async fn list_webhooks(&self, tenant: &str, page: &Page) -> Result<Listed<Webhook>>;
    async fn update_webhook(
        &self,
        tenant: &str,
        id: Uuid,
        patch: WebhookPatch,
        actor: &Actor,
    ) -> Result<Webhook>;
    async fn delete_webhook(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// A webhook's delivery attempts, newest first.
    async fn list_attempts(
        &self,
        tenant: &str,
        webhook: Uuid,
        page: &Page,
    ) -> Result<Listed<DeliveryAttempt>>;

    /// Fans out up to `limit` events not yet fanned out (oldest first), in
    /// one transaction: one pending delivery per enabled webhook of the
    /// event's tenant whose filters want it, and the events marked
    /// dispatched. Events another dispatcher is fanning out meanwhile are
    /// skipped, not waited for. How many were fanned out.
    async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> Result<usize>;
    /// Claims up to `limit` events not yet published to NATS.
    async fn claim_unpublished(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>>;
    /// Marks events published (after JetStream acknowledged them).
    async fn mark_published(&self, events: &[OutboxEvent], now: DateTime<Utc>) -> Result<()>;
    /// The enabled webhooks with deliveries due, as `(tenant, id)`.
    async fn webhooks_due(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<(String, Uuid)>>;
    /// Claims up to `limit` due deliveries of one webhook until `until`.
    async fn claim_deliveries(
        &self,
        tenant: &str,
        webhook: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>>;
    /// Records an attempt and moves its delivery on, in one transaction.
    async fn record_attempt(&self, attempt: AttemptRecord) -> Result<()>;
    /// How far behind delivery is.
    async fn backlog(&self, publishing: bool) -> Result<OutboxBacklog>;
}
