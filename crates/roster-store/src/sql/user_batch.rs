//! Group commit for user creations: concurrent `create_user` calls queue
//! (see [`crate::batch`]), and each batch is written together: one number
//! per tenant taken at once, one commit. On SQLite that is a transaction of
//! multi-row inserts, one per table; on PostgreSQL
//! (`ONE_STATEMENT_CREATIONS`) one statement of data-modifying `WITH`
//! queries that numbers the users itself, outside a transaction when no
//! creation of the batch references anything (see
//! [`SqlStore::create_together`]). A batch announces nothing to other
//! processes (see `write_in_one_statement`).
//!
//! Each creation keeps its own outcome. Its references (company, parent,
//! stores, account) are checked one by one in the batch's transaction, and
//! one that fails is answered with its error and left out. Should a write
//! of the batch itself fail (a duplicate email, a record deleted
//! meanwhile), the transaction is rolled back and every creation of the
//! batch is retried alone, in a transaction of its own, so it fails or
//! succeeds exactly as it would have alone. A failed commit is not retried:
//! it may have committed, and a retry could create a user twice; each
//! creation of the batch is answered with the error, as a lone creation's
//! failed commit would be.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_core::{Actor, NewUser, User};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::{audit_users, created_user, push_creations_audit_with};
use super::user_inserts::{insert_creations, push_creations_with, Creation};
use super::users::check_user_references;
use super::{now, uuid, Conn, Db, SqlStore, ONE_STATEMENT_CREATIONS};
use crate::batch::{UserCreation, Waiting};
use crate::{Entity, Result, StoreError};

/// Creations per batch at most: a batch's notification names every user it
/// created, and 64 of them stay well within `NOTIFY`'s payload.
pub(crate) const BATCH: usize = 64;

/// Why a batch did not commit.
enum Apart {
    /// Before its commit: each creation is retried alone.
    Retry,
    /// At its commit: its outcome is unknown.
    Commit(StoreError),
}

type Pending = Waiting<UserCreation, Result<User>>;

impl SqlStore {
    /// `create_user`: queued for a batch, answered with this creation's
    /// own outcome.
    pub(super) async fn create_user_batched(
        &self,
        tenant: &str,
        new: roster_core::NewUser,
        actor: &Actor,
    ) -> Result<User> {
        let creation = UserCreation {
            tenant: tenant.to_owned(),
            new,
            actor: actor.clone(),
        };
        let store = self.clone();
        let outcome = self
            .creations
            .submit(creation, move |batch| {
                let store = store.clone();
                async move { store.create_users(batch).await }
            })
            .await;
        outcome.unwrap_or_else(|| {
            Err(StoreError::Database(sqlx::Error::Protocol(
                "the creation's batch failed".into(),
            )))
        })
    }

    /// Writes a batch and answers each of its creations.
    async fn create_users(&self, batch: Vec<Pending>) {
        let mut outcomes: Vec<Option<Result<User>>> = batch.iter().map(|_| None).collect();
        // A lone creation is written apart, unless the batch's single
        // statement saves it round trips too.
        if batch.len() > 1 || ONE_STATEMENT_CREATIONS {
            match self.create_together(&batch, &mut outcomes).await {
                Ok(()) => {}
                Err(Apart::Commit(e)) => {
                    let e = e.to_string();
                    for outcome in outcomes.iter_mut().filter(|o| matches!(o, Some(Ok(_)))) {
                        *outcome = Some(Err(StoreError::Database(sqlx::Error::Protocol(format!(
                            "the shared commit failed: {e}"
                        )))));
                    }
                }
                Err(Apart::Retry) => {
                    for outcome in outcomes.iter_mut() {
                        if matches!(outcome, Some(Ok(_))) {
                            *outcome = None;
                        }
                    }
                }
            }
        }
        // The numbers a failed batch took went back with it (they are
        // taken in its statement or transaction), so a creation still
        // takes one number at most.
        for (pending, outcome) in batch.into_iter().zip(outcomes) {
            let outcome = match outcome {
                Some(outcome) => outcome,
                None => {
                    let c = &pending.item;
                    self.create_user_alone(&c.tenant, &c.new, &c.actor).await
                }
            };
            let _ = pending.reply.send(outcome);
        }
    }

    /// Writes the creations of `batch` together. Each creation's outcome
    /// goes to its place in `outcomes`: its error when its own checks
    /// failed, its user once written (which counts only if the batch
    /// commits).
    ///
    /// Where the engine writes a batch in one statement
    /// (`ONE_STATEMENT_CREATIONS`) and no creation references anything
    /// (a company, parent, store or account, whose checks lock rows until
    /// the write commits), that statement runs on its own, outside a
    /// transaction: one round trip in all.
    async fn create_together(
        &self,
        batch: &[Pending],
        outcomes: &mut [Option<Result<User>>],
    ) -> Result<(), Apart> {
        let mut slot = self.writer().await.map_err(|_| Apart::Retry)?;
        let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
        let apart =
            ONE_STATEMENT_CREATIONS && batch.iter().all(|p| references_nothing(&p.item.new));
        let touched = match slot.autocommit().filter(|_| apart) {
            Some(conn) => {
                let parts = self
                    .write_batch(conn, batch, &ids, outcomes)
                    .await
                    .map_err(|e| match e {
                        // The statement failed: none of it was written.
                        Apart::Commit(StoreError::Database(e @ sqlx::Error::Database(_))) => {
                            retry(StoreError::Database(e))
                        }
                        // Whether it was is unknown.
                        e => e,
                    })?;
                answer(&parts, outcomes)
            }
            None => {
                let mut tx = slot.begin().await.map_err(|_| Apart::Retry)?;
                let parts = self
                    .write_batch(&mut tx, batch, &ids, outcomes)
                    .await
                    .map_err(|e| match e {
                        Apart::Commit(e) => retry(e),
                        e => e,
                    })?;
                // No notification: see `write_in_one_statement`.
                let touched = answer(&parts, outcomes);
                tx.commit()
                    .await
                    .map_err(|e| Apart::Commit(StoreError::Database(e)))?;
                touched
            }
        };
        self.finish_change(slot, &touched)
            .await
            .map_err(Apart::Commit)
    }

    /// Checks, numbers and writes the creations of `batch` on `conn`
    /// (see [`Self::create_together`]): their parts, one per tenant. A
    /// creation whose own checks fail, or whose tenant does not exist, is
    /// answered in `outcomes` and left out. `Apart::Commit` carries the
    /// write's own error, which the caller judges: rolled back with its
    /// transaction, or unknown.
    async fn write_batch<'b>(
        &self,
        conn: &mut Conn,
        batch: &'b [Pending],
        ids: &[Uuid],
        outcomes: &mut [Option<Result<User>>],
    ) -> Result<Vec<Part<'b>>, Apart> {
        for ((pending, id), outcome) in batch.iter().zip(ids).zip(outcomes.iter_mut()) {
            let c = &pending.item;
            match check_user_references(conn, &c.tenant, *id, &c.new, true).await {
                Ok(()) => {}
                // A failed statement may have ended the transaction.
                Err(StoreError::Database(_)) => return Err(Apart::Retry),
                Err(e) => *outcome = Some(Err(e)),
            }
        }
        let at = now();
        let mut tenants: Vec<&str> = batch.iter().map(|p| p.item.tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let mut parts = Vec::new();
        for tenant in tenants {
            let places: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].item.tenant == tenant && outcomes[i].is_none())
                .collect();
            if places.is_empty() {
                continue;
            }
            // The one statement numbers its users itself.
            let first = if ONE_STATEMENT_CREATIONS {
                Ok(0)
            } else {
                let count = places.len() as i64;
                self.next_numbers(conn, tenant, "user", count).await
            };
            let first = match first {
                Ok(first) => first,
                Err(StoreError::NotFound(what)) => {
                    for &i in &places {
                        outcomes[i] = Some(Err(StoreError::NotFound(what)));
                    }
                    continue;
                }
                Err(_) => return Err(Apart::Retry),
            };
            let creations = places
                .iter()
                .zip(first..)
                .map(|(&i, number)| Creation {
                    id: ids[i],
                    number,
                    user: batch[i].item.new.clone(),
                    contacts: Vec::new(),
                })
                .collect();
            parts.push(Part {
                tenant,
                places,
                creations,
                at,
            });
        }
        if !ONE_STATEMENT_CREATIONS {
            self.write_in_statements(conn, batch, &parts)
                .await
                .map_err(Apart::Commit)?;
            return Ok(parts);
        }
        let numbered = self
            .write_in_one_statement(conn, batch, &parts)
            .await
            .map_err(Apart::Commit)?;
        // A tenant that does not exist numbered, so inserted, nothing.
        parts.retain_mut(|part| {
            for c in &mut part.creations {
                match numbered.get(&c.id) {
                    Some(&number) => c.number = number,
                    None => {
                        for &i in &part.places {
                            outcomes[i] = Some(Err(StoreError::NotFound("tenant")));
                        }
                        return false;
                    }
                }
            }
            true
        });
        Ok(parts)
    }

    /// Writes `parts` with one multi-row `INSERT` per table.
    async fn write_in_statements(
        &self,
        conn: &mut Conn,
        batch: &[Pending],
        parts: &[Part<'_>],
    ) -> Result<()> {
        for part in parts {
            insert_creations(conn, part.tenant, &part.creations, part.at).await?;
            audit_users(conn, part.tenant, "user.created", &part.audited(batch)).await?;
        }
        Ok(())
    }

    /// Writes `parts` in one statement of data-modifying `WITH` queries,
    /// which numbers the users and takes their audit events' ids itself;
    /// each user's number, by id.
    ///
    /// It sends no notification, unlike every other write: a creation
    /// touches only its new user, whose id no process can have kept
    /// (absence is never cached), so it has nothing to tell them. And a
    /// `NOTIFY` is not free: PostgreSQL commits a notifying transaction
    /// under a lock on the whole cluster, held across the commit's flush
    /// (`PreCommit_Notify`), so notifying writes commit one after another.
    async fn write_in_one_statement(
        &self,
        conn: &mut Conn,
        batch: &[Pending],
        parts: &[Part<'_>],
    ) -> Result<HashMap<Uuid, i64>> {
        if parts.is_empty() {
            return Ok(HashMap::new());
        }
        let mut q = QueryBuilder::<Db>::new("WITH ");
        for (i, part) in parts.iter().enumerate() {
            let prefix = format!("t{i}");
            push_creations_with(&mut q, &prefix, part.tenant, &part.creations, part.at);
            let created: Vec<(&Actor, User)> = part
                .places
                .iter()
                .zip(&part.creations)
                .map(|(&i, c)| (&batch[i].item.actor, c.created(part.at)))
                .collect();
            push_creations_audit_with(&mut q, &prefix, part.tenant, &created, part.at);
        }
        // Every part ends with a comma: the last query closes the list.
        q.push("done AS (SELECT 1) SELECT id, number FROM t0_users");
        for i in 1..parts.len() {
            q.push(format_args!(" UNION ALL SELECT id, number FROM t{i}_users"));
        }
        let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
        rows.into_iter()
            .map(|(id, number)| Ok((uuid(&id)?, number)))
            .collect()
    }
}

/// One tenant's creations of a batch, numbered.
struct Part<'b> {
    tenant: &'b str,
    /// Where its creations are in the batch.
    places: Vec<usize>,
    creations: Vec<Creation>,
    at: DateTime<Utc>,
}

impl Part<'_> {
    /// Its audit entries: each creation's actor, user and summary.
    fn audited<'a>(&self, batch: &'a [Pending]) -> Vec<(&'a Actor, User, String)> {
        self.places
            .iter()
            .zip(&self.creations)
            .map(|(&i, c)| {
                let summary = created_user(c.number);
                (&batch[i].item.actor, c.created(self.at), summary)
            })
            .collect()
    }
}

/// What a batch's parts touch: their users.
fn touched_by<'b>(parts: &[Part<'b>]) -> Vec<Entity<'b>> {
    parts
        .iter()
        .flat_map(|p| p.creations.iter().map(|c| Entity::User(p.tenant, c.id)))
        .collect()
}

/// Answers each creation written in `parts` with its user (which counts
/// only once the batch commits); what they touched.
fn answer<'b>(parts: &[Part<'b>], outcomes: &mut [Option<Result<User>>]) -> Vec<Entity<'b>> {
    for part in parts {
        for (&i, c) in part.places.iter().zip(&part.creations) {
            outcomes[i] = Some(Ok(c.created(part.at)));
        }
    }
    touched_by(parts)
}

/// Whether a creation references nothing its checks would read (and lock).
fn references_nothing(user: &NewUser) -> bool {
    user.company_id.is_none()
        && user.parent_id.is_none()
        && user.default_store_id.is_none()
        && user.store_ids.is_empty()
        && user.account_id.is_none()
}

fn retry(e: StoreError) -> Apart {
    tracing::debug!(error = %e, "a batch of user creations failed; each is retried alone");
    Apart::Retry
}
