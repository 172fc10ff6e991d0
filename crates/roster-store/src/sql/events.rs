//! Events out: webhooks, the outbox's claims and the deliveries:
//! [`EventStore`]. Events enter the outbox in `audit.rs`, in the change's
//! transaction.
//!
//! Events are fanned out to webhooks in one transaction per round, which
//! marks them and writes their deliveries together and skips the rows
//! another process is fanning out (`SKIP_LOCKED`). Work done outside the
//! database (events to publish, deliveries due) is claimed with a lease: an
//! `UPDATE … SET *_claimed_until` over a `SELECT … LIMIT` that skips rows
//! another process is claiming. A claim that is never finished (the
//! process died, NATS was down) expires, and the work is claimed again: at
//! least once, never lost.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::events::{wanted, EventTypeFilter};
use roster_core::{Actor, DeliveryAttempt, DeliveryOutcome, Webhook};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::page::{after_number, fetch_page, paged, PageKey};
use super::{lock_tenant, now, uuid, word, Conn, Db, SqlStore, LOCK, RELAXED_COMMIT, SKIP_LOCKED};
use crate::{
    AttemptRecord, DueDelivery, EventStore, Listed, NewWebhook, OutboxBacklog, OutboxEvent, Page,
    Result, StoreError, WebhookPatch,
};

const WEBHOOK_COLUMNS: &str =
    "id, url, description, event_types, enabled, disabled_reason, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    url: String,
    description: Option<String>,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self> {
        Ok(Webhook {
            id: uuid(&r.id)?,
            url: r.url,
            description: r.description,
            event_types: split_filters(&r.event_types),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn split_filters(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub(super) async fn fetch_webhook(conn: &mut Conn, tenant: &str, id: &str) -> Result<Webhook> {
    fetch_webhook_row(conn, tenant, id, false).await
}

async fn fetch_webhook_row(conn: &mut Conn, tenant: &str, id: &str, lock: bool) -> Result<Webhook> {
    let lock = if lock { LOCK } else { "" };
    let sql =
        format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2{lock}");
    sqlx::query_as::<_, WebhookRow>(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("webhook"))?
        .try_into()
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    tenant_id: String,
    id: i64,
    uid: String,
    #[sqlx(rename = "type")]
    event_type: String,
    body: String,
}

impl From<OutboxRow> for OutboxEvent {
    fn from(r: OutboxRow) -> Self {
        OutboxEvent {
            tenant: r.tenant_id,
            id: r.id,
            uid: r.uid,
            event_type: r.event_type,
            body: r.body,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: i64,
    event_uid: String,
    attempt: i32,
    status_code: Option<i32>,
    error: Option<String>,
    outcome: String,
    at: DateTime<Utc>,
}

impl SqlStore {
    /// Claims up to `limit` outbox events whose `{step}_at` is not set yet.
    async fn claim_outbox(
        &self,
        step: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let sql = format!(
            "UPDATE outbox SET {step}_claimed_until = $2 WHERE (tenant_id, id) IN (SELECT \
             tenant_id, id FROM outbox WHERE {step}ed_at IS NULL AND ({step}_claimed_until IS \
             NULL OR {step}_claimed_until < $1) ORDER BY id LIMIT $3{SKIP_LOCKED}) RETURNING \
             tenant_id, id, uid, type, body"
        );
        if !self.outbox_waiting(step, now).await? {
            return Ok(Vec::new());
        }
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        slot.finish().await?;
        let mut events: Vec<OutboxEvent> = rows.into_iter().map(OutboxEvent::from).collect();
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Whether any outbox event waits for `step` (not done, not claimed).
    /// Looked for without the writer, so an idle dispatcher never takes a
    /// turn from the writes (SQLite) nor writes at all.
    async fn outbox_waiting(&self, step: &str, now: DateTime<Utc>) -> Result<bool> {
        let waiting = format!(
            "SELECT id FROM outbox WHERE {step}ed_at IS NULL AND ({step}_claimed_until IS NULL OR \
             {step}_claimed_until < $1) LIMIT 1"
        );
        let any: Option<i64> = sqlx::query_scalar(&waiting)
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        Ok(any.is_some())
    }

    /// Sets `{step}ed_at` on `events` in `tx`.
    async fn mark_outbox(
        conn: &mut Conn,
        step: &str,
        events: &[OutboxEvent],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for chunk in events.chunks(500) {
            let mut q = QueryBuilder::<Db>::new(format!(
                "UPDATE outbox SET {step}_claimed_until = NULL, {step}ed_at = "
            ));
            q.push_bind(now).push(" WHERE (tenant_id, id) IN (");
            let mut list = q.separated(", ");
            for event in chunk {
                list.push("(")
                    .push_bind_unseparated(event.tenant.clone())
                    .push_unseparated(", ")
                    .push_bind_unseparated(event.id)
                    .push_unseparated(")");
            }
            q.push(")");
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn create_webhook(
        &self,
        tenant: &str,
        new: NewWebhook,
        actor: &Actor,
    ) -> Result<Webhook> {
        let id = new.id.to_string();
        let at = now();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        sqlx::query(
            "INSERT INTO webhooks (tenant_id, id, url, description, event_types, enabled, secret, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant)
        .bind(&id)
        .bind(&new.url)
        .bind(&new.description)
        .bind(new.event_types.join(","))
        .bind(true)
        .bind(&new.secret)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "webhook.created",
            &format!("webhook:{id}"),
            &new.url,
        )
        .await?;
        let webhook = fetch_webhook(&mut tx, tenant, &id).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(webhook)
    }

    async fn get_webhook(&self, tenant: &str, id: Uuid) -> Result<Webhook> {
        let mut conn = self.read.acquire().await?;
        fetch_webhook(&mut conn, tenant, &id.to_string()).await
    }

    async fn list_webhooks(&self, tenant: &str, page: &Page) -> Result<Listed<Webhook>> {
        let select = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks");
        let rows: Vec<WebhookRow> =
            fetch_page(&self.read, &select, PageKey::Text("id"), tenant, page).await?;
        let items = rows
            .into_iter()
            .map(Webhook::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |w: &Webhook| w.id.to_string()))
    }

    async fn update_webhook(
        &self,
        tenant: &str,
        id: Uuid,
        patch: WebhookPatch,
        actor: &Actor,
    ) -> Result<Webhook> {
        let id = id.to_string();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_webhook_row(&mut tx, tenant, &id, true).await?;
        let url = patch.url.unwrap_or(current.url.clone());
        let description = patch.description.unwrap_or(current.description.clone());
        let event_types = patch.event_types.unwrap_or(current.event_types.clone());
        let enabled = patch.enabled.unwrap_or(current.enabled);
        let disabled_reason = if enabled {
            None
        } else {
            current.disabled_reason.clone()
        };
        let unchanged = url == current.url
            && description == current.description
            && event_types == current.event_types
            && enabled == current.enabled;
        if unchanged {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE webhooks SET url = $3, description = $4, event_types = $5, enabled = $6, \
             disabled_reason = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(&id)
        .bind(&url)
        .bind(&description)
        .bind(event_types.join(","))
        .bind(enabled)
        .bind(&disabled_reason)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let summary = match (current.enabled, enabled) {
            (false, true) => "enabled",
            (true, false) => "disabled",
            _ => "updated",
        };
        audit(
            &mut tx,
            tenant,
            actor,
            "webhook.updated",
            &format!("webhook:{id}"),
            summary,
        )
        .await?;
        let webhook = fetch_webhook(&mut tx, tenant, &id).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(webhook)
    }

    async fn delete_webhook(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("webhook"));
        }
        audit(
            &mut tx,
            tenant,
            actor,
            "webhook.deleted",
            &format!("webhook:{id}"),
            "deleted",
        )
        .await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn list_attempts(
        &self,
        tenant: &str,
        webhook: Uuid,
        page: &Page,
    ) -> Result<Listed<DeliveryAttempt>> {
        let mut conn = self.read.acquire().await?;
        fetch_webhook(&mut conn, tenant, &webhook.to_string()).await?;
        let mut q = QueryBuilder::<Db>::new(
            "SELECT id, event_uid, attempt, status_code, error, outcome, at FROM webhook_attempts \
             WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string())
            .push(" AND webhook_id = ")
            .push_bind(webhook.to_string());
        if let Some(after) = after_number(page)? {
            q.push(" AND id < ").push_bind(after);
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(page.limit + 1);
        let rows: Vec<AttemptRow> = q.build_query_as().fetch_all(&mut *conn).await?;
        let items = rows
            .into_iter()
            .map(|r| {
                let attempt = DeliveryAttempt {
                    event_id: r.event_uid,
                    attempt: u32::try_from(r.attempt).unwrap_or(0),
                    status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
                    error: r.error,
                    at: r.at,
                    outcome: word(&r.outcome, DeliveryOutcome::parse)?,
                };
                Ok((r.id, attempt))
            })
            .collect::<Result<Vec<_>>>()?;
        let listed = paged(items, page, |(id, _)| id.to_string());
        Ok(Listed {
            items: listed.items.into_iter().map(|(_, a)| a).collect(),
            next: listed.next,
        })
    }

    async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> Result<usize> {
        if !self.outbox_waiting("dispatch", now).await? {
            return Ok(0);
        }
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        if let Some(relaxed) = RELAXED_COMMIT {
            sqlx::query(relaxed).execute(&mut *tx).await?;
        }
        // Marked and fanned out in the one transaction, the rows locked
        // meanwhile (`SKIP_LOCKED`): should it not commit, none of it
        // happened and the events wait for the next round.
        let events: Vec<(String, i64, String)> = sqlx::query_as(&format!(
            "UPDATE outbox SET dispatch_claimed_until = NULL, dispatched_at = $1 WHERE (tenant_id, \
             id) IN (SELECT tenant_id, id FROM outbox WHERE dispatched_at IS NULL AND \
             (dispatch_claimed_until IS NULL OR dispatch_claimed_until < $1) ORDER BY id LIMIT \
             $2{SKIP_LOCKED}) RETURNING tenant_id, id, type"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut tenants: Vec<&str> = events.iter().map(|(t, _, _)| t.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let mut deliveries: Vec<(&str, String, i64)> = Vec::new();
        for tenant in tenants {
            let hooks: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, event_types FROM webhooks WHERE tenant_id = $1 AND enabled",
            )
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
            for (hook, filters) in hooks {
                // Stored filters were parsed when set; a webhook whose
                // filters no longer parse gets nothing rather than everything.
                let Ok(filters) = split_filters(&filters)
                    .iter()
                    .map(|f| EventTypeFilter::parse(f))
                    .collect::<Result<Vec<_>, _>>()
                else {
                    continue;
                };
                for (_, id, event_type) in events.iter().filter(|(t, _, _)| t == tenant) {
                    if wanted(&filters, event_type) {
                        deliveries.push((tenant, hook.clone(), *id));
                    }
                }
            }
        }
        for chunk in deliveries.chunks(200) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, attempts, state, \
                 next_at) ",
            );
            q.push_values(chunk, |mut row, (tenant, hook, event)| {
                row.push_bind(tenant.to_string())
                    .push_bind(hook.clone())
                    .push_bind(*event)
                    .push_bind(0_i32)
                    .push_bind("pending")
                    .push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        slot.finish().await?;
        Ok(events.len())
    }

    async fn claim_unpublished(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        self.claim_outbox("publish", now, until, limit).await
    }

    async fn mark_published(&self, events: &[OutboxEvent], now: DateTime<Utc>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        Self::mark_outbox(&mut tx, "publish", events, now).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn webhooks_due(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<(String, Uuid)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT d.tenant_id, d.webhook_id FROM webhook_deliveries d JOIN webhooks w \
             ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id WHERE d.state = 'pending' AND \
             w.enabled AND d.next_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until < $1) \
             LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(tenant, id)| Ok((tenant, uuid(&id)?)))
            .collect()
    }

    async fn claim_deliveries(
        &self,
        tenant: &str,
        webhook: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let webhook_id = webhook.to_string();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let hook: Option<(String, String)> = sqlx::query_as(
            "SELECT url, secret FROM webhooks WHERE tenant_id = $1 AND id = $2 AND enabled",
        )
        .bind(tenant)
        .bind(&webhook_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((url, secret)) = hook else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET claimed_until = $4 WHERE tenant_id = $1 AND webhook_id \
             = $2 AND event_id IN (SELECT event_id FROM webhook_deliveries WHERE tenant_id = $1 \
             AND webhook_id = $2 AND state = 'pending' AND next_at <= $3 AND (claimed_until IS \
             NULL OR claimed_until < $3) ORDER BY next_at, event_id LIMIT $5{SKIP_LOCKED}) \
             RETURNING event_id, attempts"
        );
        let claimed: Vec<(i64, i32)> = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(&webhook_id)
            .bind(now)
            .bind(until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut due = Vec::with_capacity(claimed.len());
        if !claimed.is_empty() {
            let mut q =
                QueryBuilder::<Db>::new("SELECT id, uid, body FROM outbox WHERE tenant_id = ");
            q.push_bind(tenant.to_string()).push(" AND id IN (");
            let mut list = q.separated(", ");
            for (event, _) in &claimed {
                list.push_bind(*event);
            }
            q.push(")");
            let bodies: Vec<(i64, String, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
            let bodies: std::collections::HashMap<i64, (String, String)> = bodies
                .into_iter()
                .map(|(id, uid, body)| (id, (uid, body)))
                .collect();
            for (event_id, attempts) in claimed {
                if let Some((uid, body)) = bodies.get(&event_id) {
                    due.push(DueDelivery {
                        tenant: tenant.to_string(),
                        webhook_id: webhook,
                        event_id,
                        event_uid: uid.clone(),
                        attempt: u32::try_from(attempts).unwrap_or(0) + 1,
                        url: url.clone(),
                        secret: secret.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
        tx.commit().await?;
        slot.finish().await?;
        due.sort_by_key(|d| d.event_id);
        Ok(due)
    }

    async fn record_attempt(&self, a: AttemptRecord) -> Result<()> {
        let webhook_id = a.webhook_id.to_string();
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        // The webhook may have been deleted meanwhile: then there is nothing
        // to record.
        sqlx::query(
            "INSERT INTO webhook_attempts (tenant_id, webhook_id, event_id, event_uid, attempt, \
             status_code, error, outcome, at) SELECT $1, $2, $3, $9, $4, $5, $6, $7, $8 WHERE \
             EXISTS (SELECT 1 FROM webhooks WHERE tenant_id = $1 AND id = $2)",
        )
        .bind(&a.tenant)
        .bind(&webhook_id)
        .bind(a.event_id)
        .bind(i32::try_from(a.attempt).unwrap_or(i32::MAX))
        .bind(a.status_code.map(i32::from))
        .bind(&a.error)
        .bind(a.outcome.as_str())
        .bind(a.at)
        .bind(&a.event_uid)
        .execute(&mut *tx)
        .await?;
        let state = match a.outcome {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "pending",
            DeliveryOutcome::Failed => "failed",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $4, state = $5, next_at = $6, claimed_until \
             = NULL WHERE tenant_id = $1 AND webhook_id = $2 AND event_id = $3",
        )
        .bind(&a.tenant)
        .bind(&webhook_id)
        .bind(a.event_id)
        .bind(i32::try_from(a.attempt).unwrap_or(i32::MAX))
        .bind(state)
        .bind(a.next_at.unwrap_or(a.at))
        .execute(&mut *tx)
        .await?;
        if let Some(reason) = &a.disable {
            sqlx::query(
                "UPDATE webhooks SET enabled = $3, disabled_reason = $4, updated_at = $5 WHERE \
                 tenant_id = $1 AND id = $2 AND enabled",
            )
            .bind(&a.tenant)
            .bind(&webhook_id)
            .bind(false)
            .bind(reason)
            .bind(a.at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        slot.finish().await?;
        Ok(())
    }

    async fn backlog(&self, publishing: bool) -> Result<OutboxBacklog> {
        let pending = if publishing {
            "dispatched_at IS NULL OR published_at IS NULL"
        } else {
            "dispatched_at IS NULL"
        };
        let sql = format!("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE {pending}");
        let (events, oldest_event): (i64, Option<DateTime<Utc>>) =
            sqlx::query_as(&sql).fetch_one(&self.read).await?;
        let (deliveries, oldest_delivery): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(o.created_at) FROM webhook_deliveries d JOIN outbox o ON \
             o.tenant_id = d.tenant_id AND o.id = d.event_id JOIN webhooks w ON w.tenant_id = \
             d.tenant_id AND w.id = d.webhook_id WHERE d.state = 'pending' AND w.enabled",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(OutboxBacklog {
            events,
            deliveries,
            oldest: oldest_event.into_iter().chain(oldest_delivery).min(),
        })
    }
}
