//! Importing users (SPEC §8 "Import and export"): each line a `/v1` user,
//! matched to an existing user by `(source, external_id)` — the source
//! defaulting to `IMPORT` — else by email, created or updated through the
//! same rules as the API (permission, grant only what you hold, the store's
//! constraints), so that running a file twice changes nothing.
//!
//! A line may carry a password hash made by another system
//! ([`ForeignHash`]); it is stored tagged and replaced by Argon2id at the
//! user's first sign-in. It is written only over no password or another
//! imported hash, never over one the user set or upgraded in Roster (which
//! is newer than any export).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use roster_core::foreign_hash::ForeignHash;
use roster_core::rules::authority::newly_conferred;
use roster_core::{secret, validate, Contact, NewUser, Permission, Source, UserPatch};
use roster_store::{
    ImportCounts, ImportJob, ImportMatch, ImportProblem, ImportStatus, ImportWrite, NewContact,
};
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

use crate::caller::Scope;
use crate::error::{AppError, AppResult};
use crate::passwords::NewPassword;
use crate::users::{grants, grants_now};
use crate::App;

/// One line to import: the user as a create and as a patch of the fields
/// the line gives (the two readings of one `/v1` body), and what a line
/// adds to that body.
#[derive(Debug)]
pub struct ImportLine {
    pub new: NewUser,
    pub patch: UserPatch,
    pub password: Option<NewPassword>,
    pub hash: Option<ForeignHash>,
    /// The company, named by its `external_id` (instead of `company_id`).
    pub company_external_id: Option<String>,
    /// The contacts the user's active contacts become, when given.
    pub contacts: Option<Vec<NewContact>>,
}

/// What a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    Updated,
    Unchanged,
}

/// Lines an import reads and writes at once: one query for their matches,
/// one transaction for their writes.
pub const BATCH: usize = 1000;

/// A line of a batch: its number, and the line or why it could not be read.
pub type ParsedLine = (i64, Result<ImportLine, Vec<(String, String)>>);

/// What a line of a batch did: its number, and the outcome or its problems.
pub type LineOutcome = (i64, Result<Imported, Vec<(String, String)>>);

/// Imports.
pub struct Imports<'a> {
    app: &'a App,
}

impl App {
    /// Importing users.
    pub fn imports(&self) -> Imports<'_> {
        Imports { app: self }
    }
}

/// The keys a line can match a user by: a second line with one of them in
/// the same batch must see what the first did, so the batch ends before it.
fn keys_of(line: &ImportLine) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(email) = &line.new.profile.email {
        keys.push(format!("email {}", validate::email_key(email)));
    }
    if let Some(external_id) = &line.new.external_id {
        let source = line.new.source.unwrap_or(Source::Import);
        keys.push(format!("external {source} {external_id}"));
    }
    if let Some(code) = &line.new.profile.user_code {
        keys.push(format!("code {code}"));
    }
    keys
}

/// Whether `wanted` differs from the user's active contacts (compared as
/// the store keeps them: type, key, value and primary flag).
fn contacts_differ(current: &[Contact], wanted: &[NewContact]) -> bool {
    let key = |t: roster_core::ContactType, v: &str| validate::contact_key(t, v);
    let mut now: Vec<(String, String, String, bool)> = current
        .iter()
        .filter(|c| c.is_active)
        .map(|c| {
            let k = key(c.contact_type, &c.value);
            (c.contact_type.to_string(), k, c.value.clone(), c.is_primary)
        })
        .collect();
    let mut next: Vec<(String, String, String, bool)> = wanted
        .iter()
        .map(|c| {
            let value = validate::contact_value(c.contact_type, &c.value)
                .unwrap_or_else(|_| c.value.clone());
            let k = key(c.contact_type, &value);
            (c.contact_type.to_string(), k, value, c.is_primary)
        })
        .collect();
    now.sort();
    next.sort();
    now != next
}

impl Imports<'_> {
    /// Imports a batch of lines (with `dry_run`, checks them and writes
    /// nothing); each line's outcome, in order. Lines that could not be
    /// read are reported as they are. Fails only when the batch cannot be
    /// imported at all (the database, the caller's rights).
    pub async fn batch(
        &self,
        scope: &Scope,
        lines: Vec<ParsedLine>,
        dry_run: bool,
    ) -> AppResult<Vec<LineOutcome>> {
        scope.require(Permission::ManageUsers)?;
        let mut outcomes = Vec::with_capacity(lines.len());
        let mut part: Vec<(i64, ImportLine)> = Vec::new();
        let mut keys = HashSet::new();
        for (number, line) in lines {
            let line = match line {
                Ok(line) => line,
                Err(problems) => {
                    outcomes.push((number, Err(problems)));
                    continue;
                }
            };
            let mine = keys_of(&line);
            if mine.iter().any(|k| keys.contains(k)) {
                outcomes.extend(self.part(scope, std::mem::take(&mut part), dry_run).await?);
                keys.clear();
            }
            keys.extend(mine);
            part.push((number, line));
        }
        outcomes.extend(self.part(scope, part, dry_run).await?);
        outcomes.sort_by_key(|(number, _)| *number);
        Ok(outcomes)
    }

    /// Imports lines no two of which name the same user.
    async fn part(
        &self,
        scope: &Scope,
        lines: Vec<(i64, ImportLine)>,
        dry_run: bool,
    ) -> AppResult<Vec<LineOutcome>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let store = &self.app.store;
        let tenant = scope.tenant();
        // Companies named by external id, in one query.
        let named: Vec<String> = lines
            .iter()
            .filter_map(|(_, l)| l.company_external_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let companies: HashMap<String, Uuid> = if named.is_empty() {
            HashMap::new()
        } else {
            store
                .companies_by_external_id(tenant, &named)
                .await?
                .into_iter()
                .collect()
        };
        // The users the lines name, in a few queries.
        let mut external_ids = Vec::new();
        let mut email_keys = Vec::new();
        for (_, line) in &lines {
            if let Some(external_id) = &line.new.external_id {
                external_ids.push((
                    line.new.source.unwrap_or(Source::Import),
                    external_id.clone(),
                ));
            }
            if let Some(email) = &line.new.profile.email {
                email_keys.push(validate::email_key(email));
            }
        }
        let matches = store
            .import_matches(tenant, &external_ids, &email_keys)
            .await?;
        let mut outcomes = Vec::with_capacity(lines.len());
        let mut writes: Vec<(i64, Imported, ImportWrite)> = Vec::new();
        for (number, mut line) in lines {
            if let Some(external_id) = line.company_external_id.take() {
                match companies.get(&external_id) {
                    Some(id) => {
                        line.new.company_id = Some(*id);
                        line.patch.company_id = Some(Some(*id));
                    }
                    None => {
                        let error = AppError::field(
                            "company_external_id",
                            "no company of the tenant has this external_id",
                        );
                        outcomes.push((number, Err(problems_of(error))));
                        continue;
                    }
                }
            }
            let decided = match matching(&matches, &line) {
                Ok(matched) => self.decide(scope, line, matched, dry_run).await,
                Err(error) => Err(error),
            };
            match decided {
                Err(error) => outcomes.push((number, Err(problems_of(error)))),
                Ok((None, _)) => outcomes.push((number, Ok(Imported::Unchanged))),
                Ok((Some(write), done)) => writes.push((number, done, write)),
            }
        }
        if dry_run {
            outcomes.extend(self.check_references(scope, &matches, writes).await?);
            return Ok(outcomes);
        }
        if writes.is_empty() {
            return Ok(outcomes);
        }
        let all: Vec<ImportWrite> = writes.iter().map(|(_, _, w)| w.clone()).collect();
        match store.import_users(tenant, all, scope.actor()).await {
            Ok(()) => outcomes.extend(writes.into_iter().map(|(n, done, _)| (n, Ok(done)))),
            Err(error) if is_database_failure(&error) => return Err(error.into()),
            // A line the batch's transaction refused: each line alone, to
            // tell which (the others are written).
            Err(_) => {
                for (number, done, write) in writes {
                    let outcome = match store.import_users(tenant, vec![write], scope.actor()).await
                    {
                        Ok(()) => Ok(done),
                        Err(error) if is_database_failure(&error) => return Err(error.into()),
                        Err(error) => Err(problems_of(error.into())),
                    };
                    outcomes.push((number, outcome));
                }
            }
        }
        Ok(outcomes)
    }

    /// Decides what a line does to the user it matched (or to none): the
    /// same rules as the API's create and update — grant only what you
    /// hold, a change that changes nothing is no write (`None`).
    async fn decide(
        &self,
        scope: &Scope,
        line: ImportLine,
        matched: Option<&ImportMatch>,
        dry_run: bool,
    ) -> AppResult<(Option<ImportWrite>, Imported)> {
        let users = self.app.users();
        match matched {
            None => {
                scope.may_confer(&newly_conferred(&[], &grants(&line.new)))?;
                let mut new = line.new;
                new.password_hash = match (line.hash, line.password) {
                    (Some(hash), _) => Some(hash.stored()),
                    (None, Some(_)) if dry_run => None,
                    (None, password) => users.hash(password, &new.profile).await?,
                };
                let write = ImportWrite::Create {
                    user: new,
                    contacts: line.contacts.unwrap_or_default(),
                };
                Ok((Some(write), Imported::Created))
            }
            Some(current) => {
                let user = &current.user;
                let mut patch = line.patch;
                let next = patch.clone().apply_to(user);
                scope.may_confer(&newly_conferred(&grants_now(user), &grants(&next)))?;
                patch.password_hash = match (line.hash, line.password) {
                    (Some(hash), _) => replacing_hash(current.password_hash.as_deref(), hash),
                    (None, Some(password)) if !dry_run => {
                        users.hash(Some(password), &next.profile).await?
                    }
                    (None, _) => None,
                };
                let contacts = line
                    .contacts
                    .filter(|wanted| contacts_differ(&current.contacts, wanted));
                if !next.changes(user) && patch.password_hash.is_none() && contacts.is_none() {
                    return Ok((None, Imported::Unchanged));
                }
                let write = ImportWrite::Update {
                    user: user.id,
                    patch,
                    contacts,
                };
                Ok((Some(write), Imported::Updated))
            }
        }
    }

    /// The user's stored password hash, for an export that asks for them.
    pub async fn password_hash_of(
        &self,
        scope: &Scope,
        user: uuid::Uuid,
    ) -> AppResult<Option<String>> {
        scope.require(Permission::ManageUsers)?;
        Ok(self
            .app
            .store
            .password_hash_of(scope.tenant(), user)
            .await?)
    }

    /// After the `batches`-th batch of an import: at the 1st, 2nd, 4th,
    /// 8th… (the tables have about doubled since the last time), lets the
    /// database's planner know how big they have grown. Nothing for a dry run.
    pub async fn after_batch(&self, scope: &Scope, batches: u64, dry_run: bool) -> AppResult<()> {
        scope.require(Permission::ManageUsers)?;
        if !dry_run && batches.is_power_of_two() {
            self.app.store.refresh_user_statistics().await?;
        }
        Ok(())
    }

    /// The contacts of these users (active and not), for an export.
    pub async fn contacts_of(&self, scope: &Scope, users: &[Uuid]) -> AppResult<Vec<Contact>> {
        scope.require(Permission::ManageUsers)?;
        Ok(self.app.store.contacts_of(scope.tenant(), users).await?)
    }

    /// What a dry run can check of the writes it decided, without writing
    /// them: company roles have a company, and the company and stores each
    /// user names (as the write leaves it) exist in the tenant — read for
    /// the whole batch at once, in a query per kind, as the real run's
    /// transaction reads them; each line's outcome, refused as the real
    /// run refuses it.
    async fn check_references(
        &self,
        scope: &Scope,
        matches: &[ImportMatch],
        writes: Vec<(i64, Imported, ImportWrite)>,
    ) -> AppResult<Vec<LineOutcome>> {
        let current: HashMap<Uuid, &roster_core::User> =
            matches.iter().map(|m| (m.user.id, &m.user)).collect();
        let mut checked = Vec::with_capacity(writes.len());
        let (mut companies, mut stores) = (HashSet::new(), HashSet::new());
        for (number, done, write) in writes {
            let user = match write {
                ImportWrite::Create { user, .. } => user,
                ImportWrite::Update { user, patch, .. } => match current.get(&user) {
                    Some(current) => patch.apply_to(current),
                    None => {
                        let gone = AppError::NotFound("user not found".into());
                        checked.push((number, Err(gone)));
                        continue;
                    }
                },
            };
            if let Err(e) = user.check_company_roles() {
                checked.push((number, Err(AppError::Invalid(vec![e]))));
                continue;
            }
            companies.extend(user.company_id);
            stores.extend(user.default_store_id.iter().cloned());
            stores.extend(user.store_ids.iter().cloned());
            checked.push((number, Ok((done, user))));
        }
        let companies: Vec<Uuid> = companies.into_iter().collect();
        let stores: Vec<String> = stores.into_iter().collect();
        let (companies, stores) = if companies.is_empty() && stores.is_empty() {
            Default::default()
        } else {
            self.app
                .store
                .existing_references(scope.tenant(), &companies, &stores)
                .await?
        };
        let not_found = |what| Err(AppError::from(roster_store::StoreError::NotFound(what)));
        Ok(checked
            .into_iter()
            .map(|(number, checked)| {
                let outcome = checked.and_then(|(done, user)| {
                    if user.company_id.is_some_and(|c| !companies.contains(&c)) {
                        return not_found("company");
                    }
                    let mut named = user.default_store_id.iter().chain(user.store_ids.iter());
                    if named.any(|id| !stores.contains(id)) {
                        return not_found("store");
                    }
                    Ok(done)
                });
                (number, outcome.map_err(problems_of))
            })
            .collect())
    }
}

/// The existing user a line names among a batch's matches: by `(source,
/// external_id)`, else by email; refused when the two name different users.
fn matching<'m>(
    matches: &'m [ImportMatch],
    line: &ImportLine,
) -> AppResult<Option<&'m ImportMatch>> {
    let by_external_id = line.new.external_id.as_ref().and_then(|external_id| {
        let source = line.new.source.unwrap_or(Source::Import);
        matches.iter().find(|m| {
            m.user.source == Some(source) && m.user.external_id.as_ref() == Some(external_id)
        })
    });
    let by_email = line.new.profile.email.as_deref().and_then(|email| {
        let key = validate::email_key(email);
        matches
            .iter()
            .find(|m| m.user.profile.email.as_deref().map(validate::email_key) == Some(key.clone()))
    });
    match (by_external_id, by_email) {
        (Some(a), Some(b)) if a.user.id != b.user.id => Err(AppError::field(
            "email",
            format!(
                "belongs to user {}, not to the user with this external_id ({})",
                b.user.id, a.user.id
            ),
        )),
        (Some(user), _) | (None, Some(user)) => Ok(Some(user)),
        (None, None) => Ok(None),
    }
}

/// The imported hash to write over the user's, if any: over no password or
/// another imported hash, never over Roster's own.
fn replacing_hash(current: Option<&str>, hash: ForeignHash) -> Option<String> {
    let stored = hash.stored();
    match current {
        None => Some(stored),
        Some(current) if current == stored => None,
        Some(current) if secret::needs_rehash(current) => Some(stored),
        Some(_) => None,
    }
}

/// Whether a store failure is the database's (the import cannot go on),
/// not a line's (a constraint, a reference that does not exist).
fn is_database_failure(error: &roster_store::StoreError) -> bool {
    matches!(error, roster_store::StoreError::Database(_))
}

/// A line's problems, `(field, reason)` each: what the import service
/// refused, in the terms a report shows.
pub fn problems_of(error: AppError) -> Vec<(String, String)> {
    match error {
        AppError::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => vec![("line".into(), other.to_string())],
    }
}

/// Reads one line of a file into an import line, or its problems (the
/// surface's parser: a `/v1` user body).
pub type ParseLine = fn(&str) -> Result<ImportLine, Vec<(String, String)>>;

/// HTTP import jobs running at once in this process.
static JOBS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Jobs waiting for one of [`JOBS`]; one more is 503.
static WAITING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(16);
/// Problems a job keeps (the count goes on past them).
const PROBLEMS_KEPT: i64 = 10_000;
/// Problems a job's status shows.
pub const PROBLEMS_SHOWN: i64 = 1_000;
/// How often a running job records its progress; a job silent for
/// [`SILENT`] is taken for interrupted (its process stopped).
const RECORD_EVERY: Duration = Duration::from_secs(1);
const SILENT: chrono::Duration = chrono::Duration::seconds(60);

impl Imports<'_> {
    /// Starts importing `file` (JSON lines) in the background; the job as
    /// it starts. Two run at once per process and 16 more wait their turn
    /// (still `RUNNING`, with no lines yet); past that, 503.
    pub async fn start(
        &self,
        scope: &Scope,
        dry_run: bool,
        file: std::fs::File,
        parse: ParseLine,
    ) -> AppResult<ImportJob> {
        scope.require(Permission::ManageUsers)?;
        let place = WAITING.try_acquire().map_err(|_| AppError::Busy {
            what: "import jobs",
            retry_after: 5,
        })?;
        let id = Uuid::now_v7();
        let job = self
            .app
            .store
            .create_import(scope.tenant(), id, dry_run)
            .await?;
        let (app, scope) = (self.app.clone(), scope.clone());
        tokio::spawn(async move {
            // Its turn, held until the job ends however it ends. While it
            // waits it says it is alive, so it is not taken for interrupted.
            let mut beat = tokio::time::interval(RECORD_EVERY * 5);
            let permit = loop {
                tokio::select! {
                    permit = JOBS.acquire() => break permit,
                    _ = beat.tick() => {
                        let none = ImportCounts::default();
                        let _ = app.store.record_import(scope.tenant(), id, none, &[], None).await;
                    }
                }
            };
            drop(place);
            let _permit = permit;
            let outcome = run(&app, &scope, id, dry_run, file, parse).await;
            if let Err(error) = outcome {
                tracing::warn!(%id, %error, "an import job could not record its end");
            }
        });
        Ok(job)
    }

    /// A job of the scope's tenant, with its first problems.
    pub async fn job(&self, scope: &Scope, id: Uuid) -> AppResult<ImportJob> {
        scope.require(Permission::ManageUsers)?;
        let store = &self.app.store;
        let job = store.get_import(scope.tenant(), id, PROBLEMS_SHOWN).await?;
        if job.status == ImportStatus::Running && job.updated_at < self.app.now() - SILENT {
            store.interrupt_imports(self.app.now() - SILENT).await?;
            return Ok(store.get_import(scope.tenant(), id, PROBLEMS_SHOWN).await?);
        }
        Ok(job)
    }
}

/// Runs a job to its end, recording its progress as it goes.
async fn run(
    app: &App,
    scope: &Scope,
    id: Uuid,
    dry_run: bool,
    file: std::fs::File,
    parse: ParseLine,
) -> AppResult<()> {
    let store = &app.store;
    let mut lines = tokio::io::BufReader::new(tokio::fs::File::from_std(file)).lines();
    let (mut counts, mut pending, mut kept) = (ImportCounts::default(), Vec::new(), 0i64);
    let mut recorded = Instant::now();
    let mut number = 0i64;
    let mut batch: Vec<ParsedLine> = Vec::with_capacity(BATCH);
    let mut batches = 0;
    let end = loop {
        let text = match lines.next_line().await {
            Ok(text) => text,
            Err(error) => break Err(format!("line {}: cannot be read: {error}", number + 1)),
        };
        let last = text.is_none();
        if let Some(text) = text {
            number += 1;
            if text.trim().is_empty() {
                continue;
            }
            counts.lines += 1;
            batch.push((number, parse(&text)));
            if batch.len() < BATCH {
                continue;
            }
        }
        let outcomes = app
            .imports()
            .batch(scope, std::mem::take(&mut batch), dry_run)
            .await;
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(error) => break Err(format!("line {number}: {error}")),
        };
        batches += 1;
        if let Err(error) = app.imports().after_batch(scope, batches, dry_run).await {
            break Err(format!("line {number}: {error}"));
        }
        for (line, outcome) in outcomes {
            match outcome {
                Ok(Imported::Created) => counts.created += 1,
                Ok(Imported::Updated) => counts.updated += 1,
                Ok(Imported::Unchanged) => counts.unchanged += 1,
                Err(problems) => {
                    counts.rejected += 1;
                    for (field, reason) in problems {
                        if kept < PROBLEMS_KEPT {
                            kept += 1;
                            pending.push(ImportProblem {
                                line,
                                field,
                                reason,
                            });
                        }
                    }
                }
            }
        }
        if last {
            break Ok(());
        }
        if recorded.elapsed() >= RECORD_EVERY {
            store
                .record_import(scope.tenant(), id, counts, &pending, None)
                .await?;
            pending.clear();
            recorded = Instant::now();
        }
    };
    store
        .record_import(scope.tenant(), id, counts, &pending, Some(end))
        .await?;
    Ok(())
}
