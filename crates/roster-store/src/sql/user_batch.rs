//! Group commit for user creations: concurrent `create_user` calls queue
//! (see [`crate::batch`]), and each batch is written in one transaction,
//! with one multi-row statement per table, one number per tenant taken at
//! once, one notification and one commit.
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

use roster_core::{Actor, User};
use uuid::Uuid;

use super::audit::audit_users;
use super::user_inserts::{insert_creations, Creation};
use super::users::check_user_references;
use super::{now, SqlStore};
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
        let mut numbers: Vec<Option<i64>> = vec![None; batch.len()];
        if batch.len() > 1 {
            match self
                .create_together(&batch, &mut outcomes, &mut numbers)
                .await
            {
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
                    // Numbers taken in the rolled-back transaction went
                    // back with it; those taken apart (PostgreSQL) are
                    // kept, and used by the retry, so a creation still
                    // takes one number at most.
                    if self.numbers().is_none() {
                        numbers.fill(None);
                    }
                }
            }
        }
        for ((pending, outcome), number) in batch.into_iter().zip(outcomes).zip(numbers) {
            let outcome = match outcome {
                Some(outcome) => outcome,
                None => {
                    let c = &pending.item;
                    self.create_user_alone(&c.tenant, &c.new, &c.actor, number)
                        .await
                }
            };
            let _ = pending.reply.send(outcome);
        }
    }

    /// Writes the creations of `batch` in one transaction. Each creation's
    /// outcome goes to its place in `outcomes`: its error when its own
    /// checks failed, its user once written (which counts only if the
    /// batch commits); the number it was given, to its place in `numbers`.
    async fn create_together(
        &self,
        batch: &[Pending],
        outcomes: &mut [Option<Result<User>>],
        numbers: &mut [Option<i64>],
    ) -> Result<(), Apart> {
        let retry = |e: StoreError| {
            tracing::debug!(error = %e, "a batch of user creations failed; each is retried alone");
            Apart::Retry
        };
        let mut slot = self.writer().await.map_err(|_| Apart::Retry)?;
        let mut tx = slot.begin().await.map_err(|_| Apart::Retry)?;
        let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
        for ((pending, id), outcome) in batch.iter().zip(&ids).zip(outcomes.iter_mut()) {
            let c = &pending.item;
            match check_user_references(&mut tx, &c.tenant, *id, &c.new, true).await {
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
        let mut touched = Vec::new();
        for tenant in tenants {
            let mine: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].item.tenant == tenant && outcomes[i].is_none())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let first = match self
                .next_numbers(&mut tx, tenant, "user", mine.len() as i64)
                .await
            {
                Ok(first) => first,
                Err(StoreError::NotFound(what)) => {
                    for &i in &mine {
                        outcomes[i] = Some(Err(StoreError::NotFound(what)));
                    }
                    continue;
                }
                Err(_) => return Err(Apart::Retry),
            };
            for (&i, number) in mine.iter().zip(first..) {
                numbers[i] = Some(number);
            }
            let creations: Vec<Creation> = mine
                .iter()
                .zip(first..)
                .map(|(&i, number)| Creation {
                    id: ids[i],
                    number,
                    user: batch[i].item.new.clone(),
                    contacts: Vec::new(),
                })
                .collect();
            insert_creations(&mut tx, tenant, &creations, at)
                .await
                .map_err(retry)?;
            let audited: Vec<(&Actor, User, String)> = mine
                .iter()
                .zip(&creations)
                .map(|(&i, c)| {
                    let summary = format!("created user #{}", c.number);
                    (&batch[i].item.actor, c.created(at), summary)
                })
                .collect();
            audit_users(&mut tx, tenant, "user.created", &audited)
                .await
                .map_err(retry)?;
            for (&i, (_, user, _)) in mine.iter().zip(audited) {
                touched.push(Entity::User(tenant, user.id));
                outcomes[i] = Some(Ok(user));
            }
        }
        self.announce_change(&mut tx, &touched)
            .await
            .map_err(|_| Apart::Retry)?;
        tx.commit()
            .await
            .map_err(|e| Apart::Commit(StoreError::Database(e)))?;
        self.finish_change(slot, &touched)
            .await
            .map_err(Apart::Commit)
    }
}
