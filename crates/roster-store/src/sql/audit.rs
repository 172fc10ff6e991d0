//! The audit log: the append every change makes (with its event in the
//! outbox), and [`AuditStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use roster_core::{events, Actor, AuditEvent, User};
use sqlx::QueryBuilder;

use super::accounts::fetch_invitation;
use super::credentials::{fetch_api_key, fetch_device};
use super::events::fetch_webhook;
use super::groups::fetch_group;
use super::page::{fetch_page, paged, PageKey};
use super::records::{fetch_order, fetch_quote};
use super::tenants::{fetch_company, fetch_store, fetch_tenant};
use super::user_rows::fetch_user;
use super::{corrupt, now, uuid, Conn, Db, SqlStore};
use crate::{AuditStore, EventFilter, Listed, Page, Result};

/// Appends the change's audit event and, in the same transaction, its
/// CloudEvent to the outbox (SPEC §8). Its `id` is a UUIDv7 rather than the
/// audit event's number, which is unique only within one database (a
/// receiver or a JetStream stream fed by two would drop one as a
/// duplicate); the number is the `auditid` extension attribute. Its `data`
/// is the target as the
/// change left it, read here from the transaction (so no call site has to
/// hand it over), or only its id when the change deleted it.
pub(super) async fn audit(
    conn: &mut Conn,
    tenant: &str,
    actor: &Actor,
    action: &str,
    target: &str,
    summary: &str,
) -> Result<()> {
    let at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (tenant_id, actor, action, target, summary, at) VALUES ($1, $2, $3, \
         $4, $5, $6) RETURNING id",
    )
    .bind(tenant)
    .bind(actor.to_string())
    .bind(action)
    .bind(target)
    .bind(summary)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let event_type = events::event_type(action);
    let uid = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "specversion": "1.0",
        "id": uid,
        "auditid": id.to_string(),
        "source": format!("/tenants/{tenant}"),
        "type": event_type,
        "subject": events::subject_of(target),
        "time": at,
        "datacontenttype": "application/json",
        "data": event_data(conn, tenant, action, target).await?,
    });
    sqlx::query(
        "INSERT INTO outbox (tenant_id, id, uid, type, body, created_at) VALUES ($1, $2, $3, $4, \
         $5, $6)",
    )
    .bind(tenant)
    .bind(id)
    .bind(&uid)
    .bind(&event_type)
    .bind(body.to_string())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends one audit event per user of a batch (`action` on each, by its
/// actor, with its summary) and their CloudEvents, as [`audit`] does one, a
/// chunk of 500 at a time in two multi-row inserts. The users are handed over as the batch
/// wrote them (an import's creations, built from the very values it
/// inserted), not read back: reading 500 users back costs as much as
/// writing them.
pub(super) async fn audit_users(
    conn: &mut Conn,
    tenant: &str,
    action: &str,
    entries: &[(&Actor, User, String)],
) -> Result<()> {
    let at = now();
    for chunk in entries.chunks(500) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO events (tenant_id, actor, action, target, summary, at) ",
        );
        q.push_values(chunk, |mut row, (actor, user, summary)| {
            row.push_bind(tenant)
                .push_bind(actor.to_string())
                .push_bind(action)
                .push_bind(format!("user:{}", user.id))
                .push_bind(summary.clone())
                .push_bind(at);
        });
        q.push(" RETURNING id, target");
        let numbered: Vec<(i64, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        let audit_ids: HashMap<String, i64> = numbered
            .into_iter()
            .map(|(id, target)| (target, id))
            .collect();
        let mut ids = Vec::with_capacity(chunk.len());
        for (_, user, _) in chunk {
            let target = format!("user:{}", user.id);
            let Some(&audit_id) = audit_ids.get(&target) else {
                return Err(corrupt("audit event", &target));
            };
            ids.push(audit_id);
        }
        let mut q = QueryBuilder::<Db>::new("");
        push_outbox(
            &mut q,
            tenant,
            action,
            user_cloud_events(tenant, action, chunk, &ids, at),
            at,
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The CloudEvents of the audit events `ids` (one per entry, in order) of
/// `action` on users, as outbox rows `(id, uid, body)`: the same CloudEvent
/// as `audit` writes, serialised straight from the user (no JSON tree in
/// between: a batch makes many).
fn user_cloud_events(
    tenant: &str,
    action: &str,
    entries: &[(&Actor, User, String)],
    ids: &[i64],
    at: DateTime<Utc>,
) -> Vec<(i64, String, String)> {
    let event_type = events::event_type(action);
    let source = format!("/tenants/{tenant}");
    entries
        .iter()
        .zip(ids)
        .map(|((_, user, _), &audit_id)| {
            let uid = uuid::Uuid::now_v7().to_string();
            let body = user_cloud_event(&source, &event_type, &uid, audit_id.to_string(), user, at);
            (audit_id, uid, body)
        })
        .collect()
}

/// The CloudEvent `uid` of `event_type` on `user`, as JSON.
fn user_cloud_event(
    source: &str,
    event_type: &str,
    uid: &str,
    audit_id: String,
    user: &User,
    at: DateTime<Utc>,
) -> String {
    serde_json::to_string(&CloudEvent {
        specversion: "1.0",
        id: uid,
        auditid: audit_id,
        source,
        r#type: event_type,
        subject: events::subject_of(&format!("user:{}", user.id)),
        time: at,
        datacontenttype: "application/json",
        data: user,
    })
    .expect("records serialise to JSON")
}

/// The summary of a user's creation, before its number.
const CREATED_USER: &str = "created user #";

/// The summary of the creation of user number `number`.
pub(super) fn created_user(number: i64) -> String {
    format!("{CREATED_USER}{number}")
}

/// A user's number while its CloudEvent is cut around it (see
/// [`push_creations_audit_with`]); no user is ever numbered so.
const NUMBER_MARK: i64 = i64::MIN;

/// The CloudEvent of a created user whose audit event id and number the
/// statement writing it assigns: the JSON cut before the audit id, between
/// it and the number, and after the number, so that SQL joins them back
/// as `head || id || middle || number || tail`.
fn cut_cloud_event(
    source: &str,
    event_type: &str,
    uid: &str,
    user: &User,
    at: DateTime<Utc>,
) -> [String; 3] {
    let mut marked = user.clone();
    marked.number = NUMBER_MARK;
    let json = user_cloud_event(source, event_type, uid, String::new(), &marked, at);
    // serde writes fields in order and escapes every quote inside a
    // string, so the first of each is the field itself: `auditid` comes
    // before `data`, and a user's `number` before anything it holds.
    let audit = "\"auditid\":\"";
    let number = format!("\"number\":{NUMBER_MARK}");
    let a = json.find(audit).expect("a CloudEvent has an auditid") + audit.len();
    let n = a + json[a..].find(&number).expect("a user has a number") + "\"number\":".len();
    let end = n + NUMBER_MARK.to_string().len();
    [
        json[..a].to_string(),
        json[a..n].to_string(),
        json[end..].to_string(),
    ]
}

/// Pushes, onto `q` as parts of a `WITH`, the audit events (`user.created`,
/// by each creation's actor) and CloudEvents of the users that
/// `{prefix}_users` (see `push_creations_with`) inserts and returns, each
/// named `{prefix}_{table}` and followed by a comma: what [`audit_users`]
/// writes for them, with the event ids and user numbers the statement
/// itself assigns. PostgreSQL only.
pub(super) fn push_creations_audit_with<'q>(
    q: &mut QueryBuilder<'q, Db>,
    prefix: &str,
    tenant: &'q str,
    entries: &[(&Actor, User)],
    at: DateTime<Utc>,
) {
    const ACTION: &str = "user.created";
    let event_type = events::event_type(ACTION);
    let source = format!("/tenants/{tenant}");
    q.push(format_args!(
        "{prefix}_created (user_id, actor, uid, head, middle, tail) AS ("
    ));
    q.push_values(entries, |mut row, (actor, user)| {
        let uid = uuid::Uuid::now_v7().to_string();
        let [head, middle, tail] = cut_cloud_event(&source, &event_type, &uid, user, at);
        row.push_bind(user.id.to_string())
            .push_bind(actor.to_string())
            .push_bind(uid)
            .push_bind(head)
            .push_bind(middle)
            .push_bind(tail);
    });
    q.push(format_args!(
        "), {prefix}_events AS (INSERT INTO events (tenant_id, actor, action, target, summary, \
         at) SELECT "
    ))
    .push_bind(tenant)
    .push(", c.actor, ")
    .push_bind(ACTION)
    .push(", 'user:' || u.id, ")
    .push_bind(CREATED_USER)
    .push(" || u.number, ")
    .push_bind(at)
    .push(format_args!(
        " FROM {prefix}_users u JOIN {prefix}_created c ON c.user_id = u.id RETURNING id, \
         target), {prefix}_outbox AS (INSERT INTO outbox (tenant_id, id, uid, type, body, \
         created_at) SELECT "
    ))
    .push_bind(tenant)
    .push(", e.id, c.uid, ")
    .push_bind(event_type)
    .push(", c.head || e.id || c.middle || u.number || c.tail, ")
    .push_bind(at)
    .push(format_args!(
        " FROM {prefix}_events e JOIN {prefix}_users u ON e.target = 'user:' || u.id JOIN \
         {prefix}_created c ON c.user_id = u.id RETURNING 1), "
    ));
}

/// Pushes the `INSERT` of `rows` (`(id, uid, body)`, the CloudEvents of
/// `action`) into the outbox onto `q`.
fn push_outbox<'q>(
    q: &mut QueryBuilder<'q, Db>,
    tenant: &'q str,
    action: &str,
    rows: Vec<(i64, String, String)>,
    at: DateTime<Utc>,
) {
    let event_type = events::event_type(action);
    q.push("INSERT INTO outbox (tenant_id, id, uid, type, body, created_at) ");
    q.push_values(rows, |mut row, (id, uid, body)| {
        row.push_bind(tenant)
            .push_bind(id)
            .push_bind(uid)
            .push_bind(event_type.clone())
            .push_bind(body)
            .push_bind(at);
    });
}

/// A CloudEvent as the outbox keeps it (the fields of [`audit`]'s).
#[derive(serde::Serialize)]
struct CloudEvent<'a, T: serde::Serialize> {
    specversion: &'static str,
    id: &'a str,
    auditid: String,
    source: &'a str,
    r#type: &'a str,
    subject: String,
    time: DateTime<Utc>,
    datacontenttype: &'static str,
    data: &'a T,
}

/// The `data` of the event of `action` on `target` (`<kind>:<id>`): the
/// record in its `/v1` shape, or `{"id"}` when it was deleted.
async fn event_data(
    conn: &mut Conn,
    tenant: &str,
    action: &str,
    target: &str,
) -> Result<serde_json::Value> {
    let (kind, id) = target.split_once(':').unwrap_or(("", target));
    if events::is_deletion(action) {
        return Ok(serde_json::json!({ "id": id }));
    }
    let data = match kind {
        "tenant" => json(fetch_tenant(conn, id).await?),
        "user" => json(fetch_user(conn, tenant, uuid(id)?, false).await?),
        "store" => json(fetch_store(conn, tenant, "id", id).await?),
        "company" => json(fetch_company(conn, tenant, uuid(id)?).await?),
        "quote" => json(fetch_quote(conn, tenant, uuid(id)?, false).await?),
        "order" => json(fetch_order(conn, tenant, uuid(id)?).await?),
        "api_key" => json(fetch_api_key(conn, tenant, id).await?),
        "device" => json(fetch_device(conn, tenant, id).await?),
        "invitation" => json(fetch_invitation(conn, tenant, id).await?),
        "webhook" => json(fetch_webhook(conn, tenant, id).await?),
        "group" => json(fetch_group(conn, tenant, uuid(id)?).await?),
        _ => serde_json::json!({ "id": id }),
    };
    Ok(data)
}

fn json(record: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(record).expect("records serialise to JSON")
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) id: i64,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) target: String,
    pub(super) summary: String,
    pub(super) at: DateTime<Utc>,
}

impl EventRow {
    fn event(self) -> AuditEvent {
        AuditEvent {
            id: self.id,
            actor: self.actor,
            action: self.action,
            target: self.target,
            summary: self.summary,
            at: self.at,
        }
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn list_events(&self, tenant: &str, page: &Page) -> Result<Listed<AuditEvent>> {
        let select = "SELECT id, actor, action, target, summary, at FROM events";
        let rows: Vec<EventRow> =
            fetch_page(&self.read, select, PageKey::Integer("id"), tenant, page).await?;
        let events = rows.into_iter().map(EventRow::event).collect();
        Ok(paged(events, page, |e: &AuditEvent| e.id.to_string()))
    }

    async fn search_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT id, actor, action, target, summary, at FROM events WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        for (column, value) in [
            ("action", &filter.action),
            ("actor", &filter.actor),
            ("target", &filter.target),
        ] {
            if let Some(value) = value {
                q.push(format!(" AND {column} = ")).push_bind(value.clone());
            }
        }
        if let Some(before) = before {
            q.push(" AND id < ").push_bind(before);
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows: Vec<EventRow> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(EventRow::event).collect())
    }
}
