//! Import batches (SPEC §8, issue #13): a batch's matches read in a few
//! queries, and its writes in one transaction with multi-row inserts:
//! [`ImportBatchStore`].

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{validate, Actor, Contact, ContactType, NewUser, Source, User};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::{audit, audit_users};
use super::contacts::{checked_contacts, replace_active_contacts, ContactRow, CONTACT_COLUMNS};
use super::user_rows::{users_from_rows, UserRow, USER_COLUMNS};
use super::users::{
    apply_user_patch, assignments_of, check_user_references, touch_user, USER_WRITE_COLUMNS,
};
use super::{invalid, now, uuid, Conn, Db, SqlStore, ANALYZE_USERS};
use crate::{Entity, ImportBatchStore, ImportMatch, ImportWrite, NewContact, Result, StoreError};

/// Rows per multi-row `INSERT` (28 parameters a user row: 14,000, under
/// SQLite's 32,766 and PostgreSQL's 65,535).
const ROWS: usize = 500;

/// Past this many users touched, a batch announces its tenant instead of
/// every user (one line instead of thousands in the `NOTIFY` payload).
const TOUCHED_ONE_BY_ONE: usize = 64;

/// A user to create, checked: its id, number and contacts with their
/// checked values and keys.
struct Creation {
    id: Uuid,
    number: i64,
    user: NewUser,
    contacts: Vec<(NewContact, String, String)>,
}

impl Creation {
    /// The user as its rows read once inserted at `at` (what `fetch_user`
    /// would answer: commerce roles and stores sorted, no sign-in yet).
    fn created(&self, at: DateTime<Utc>) -> User {
        let u = &self.user;
        let mut roles = u.roles.clone();
        roles.commerce.sort();
        roles.commerce.dedup();
        let mut store_ids = u.store_ids.clone();
        store_ids.sort();
        store_ids.dedup();
        User {
            id: self.id,
            number: self.number,
            company_id: u.company_id,
            parent_id: u.parent_id,
            profile: u.profile.clone(),
            external_id: u.external_id.clone(),
            source: u.source,
            status: u.status,
            account_type: u.account_type,
            default_store_id: u.default_store_id.clone(),
            account_id: u.account_id,
            has_password: u.password_hash.is_some(),
            roles,
            store_ids,
            created_at: at,
            updated_at: at,
            last_accessed_at: None,
        }
    }
}

/// Checks that the companies and stores the new users name exist in the
/// tenant, one query per kind for the batch (users with a parent or an
/// account are checked one by one, as a single creation is: their checks
/// read the hierarchy).
async fn check_creations(conn: &mut Conn, tenant: &str, creations: &[Creation]) -> Result<()> {
    let mut companies = BTreeSet::new();
    let mut stores = BTreeSet::new();
    for c in creations {
        let user = &c.user;
        if user.parent_id.is_some() || user.account_id.is_some() {
            check_user_references(conn, tenant, c.id, user, true).await?;
            continue;
        }
        user.check_company_roles()
            .map_err(|e| invalid(&e.field, &e.message))?;
        companies.extend(user.company_id.map(|c| c.to_string()));
        stores.extend(user.default_store_id.iter().cloned());
        stores.extend(user.store_ids.iter().cloned());
    }
    for (table, ids, what) in [
        ("companies", companies, "company"),
        ("stores", stores, "store"),
    ] {
        let ids: Vec<String> = ids.into_iter().collect();
        if existing(conn, tenant, table, &ids).await?.len() != ids.len() {
            return Err(StoreError::NotFound(what));
        }
    }
    Ok(())
}

/// Which of `ids` (distinct) are rows of `table` (`companies` or `stores`)
/// in the tenant: a query per `ROWS` ids.
async fn existing(
    conn: &mut Conn,
    tenant: &str,
    table: &str,
    ids: &[String],
) -> Result<HashSet<String>> {
    let mut found = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT id FROM {table} WHERE tenant_id = "));
        q.push_bind(tenant).push(" AND id IN (");
        let mut listed = q.separated(", ");
        for id in chunk {
            listed.push_bind(id.clone());
        }
        q.push(")");
        let rows: Vec<String> = q.build_query_scalar().fetch_all(&mut *conn).await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Inserts the users, their roles, stores and contacts, `ROWS` rows per
/// statement.
async fn insert_creations(
    conn: &mut Conn,
    tenant: &str,
    creations: &[Creation],
    at: DateTime<Utc>,
) -> Result<()> {
    for chunk in creations.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(format!(
            "INSERT INTO users (tenant_id, id, {}, number, password_hash, created_at, updated_at) ",
            USER_WRITE_COLUMNS.join(", ")
        ));
        q.push_values(chunk, |mut row, c| {
            let u = &c.user;
            let p = &u.profile;
            row.push_bind(tenant)
                .push_bind(c.id.to_string())
                .push_bind(u.company_id.map(|c| c.to_string()))
                .push_bind(u.parent_id.map(|c| c.to_string()))
                .push_bind(p.name.clone())
                .push_bind(p.first_name.clone())
                .push_bind(p.middle_name.clone())
                .push_bind(p.last_name.clone())
                .push_bind(p.display_name.clone())
                .push_bind(p.email.clone())
                .push_bind(p.email.as_deref().map(validate::email_key))
                .push_bind(p.login.clone())
                .push_bind(p.user_code.clone())
                .push_bind(p.mobile.clone())
                .push_bind(p.country_code.clone())
                .push_bind(p.telephone.clone())
                .push_bind(p.job_title.clone())
                .push_bind(p.language_code.clone())
                .push_bind(u.external_id.clone())
                .push_bind(u.source.map(|s| s.as_str()))
                .push_bind(u.status.as_str())
                .push_bind(u.account_type.as_str())
                .push_bind(u.default_store_id.clone())
                .push_bind(u.account_id.map(|a| a.to_string()))
                .push_bind(c.number)
                .push_bind(u.password_hash.clone())
                .push_bind(at)
                .push_bind(at);
        });
        q.build().execute(&mut *conn).await?;
    }
    let mut roles = Vec::new();
    let mut stores = Vec::new();
    let mut contacts = Vec::new();
    for c in creations {
        for assignment in assignments_of(&c.user) {
            roles.push((c.id, assignment));
        }
        let mut ids: Vec<&String> = c.user.store_ids.iter().collect();
        ids.sort();
        ids.dedup();
        stores.extend(ids.into_iter().map(|s| (c.id, c.number, s)));
        contacts.extend(c.contacts.iter().map(|contact| (c.id, contact)));
    }
    for chunk in roles.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
             scope_id) ",
        );
        q.push_values(chunk, |mut row, (id, (vocabulary, role, kind, scope))| {
            row.push_bind(tenant)
                .push_bind(id.to_string())
                .push_bind(*vocabulary)
                .push_bind(*role)
                .push_bind(*kind)
                .push_bind(scope.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    for chunk in stores.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO user_stores (tenant_id, user_id, store_id, user_number) ",
        );
        q.push_values(chunk, |mut row, (id, number, store)| {
            row.push_bind(tenant)
                .push_bind(id.to_string())
                .push_bind((*store).clone())
                .push_bind(*number);
        });
        q.build().execute(&mut *conn).await?;
    }
    for chunk in contacts.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO contacts (tenant_id, id, user_id, contact_type, value, value_key, \
             source, is_primary, is_active, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut row, (id, (new, value, key))| {
            row.push_bind(tenant)
                .push_bind(Uuid::now_v7().to_string())
                .push_bind(id.to_string())
                .push_bind(new.contact_type.as_str())
                .push_bind(value.clone())
                .push_bind(key.clone())
                .push_bind(new.source.as_str())
                .push_bind(new.is_primary)
                .push_bind(true)
                .push_bind(at)
                .push_bind(at);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The queries that read a batch's matches: one per chunk of keys.
async fn users_where(
    conn: &mut Conn,
    tenant: &str,
    condition: &str,
    source: Option<&str>,
    values: &[String],
) -> Result<Vec<UserRow>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = "
        ));
        q.push_bind(tenant.to_string());
        if let Some(source) = source {
            q.push(" AND source = ").push_bind(source.to_string());
        }
        q.push(format!(" AND {condition} IN ("));
        let mut listed = q.separated(", ");
        for value in chunk {
            listed.push_bind(value.clone());
        }
        q.push(")");
        rows.extend(q.build_query_as::<UserRow>().fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

#[async_trait]
impl ImportBatchStore for SqlStore {
    async fn import_matches(
        &self,
        tenant: &str,
        external_ids: &[(Source, String)],
        email_keys: &[String],
    ) -> Result<Vec<ImportMatch>> {
        let mut conn = self.read.acquire().await?;
        let mut by_source: HashMap<Source, Vec<String>> = HashMap::new();
        for (source, id) in external_ids {
            by_source.entry(*source).or_default().push(id.clone());
        }
        let mut rows = Vec::new();
        for (source, ids) in &by_source {
            rows.extend(
                users_where(&mut conn, tenant, "external_id", Some(source.as_str()), ids).await?,
            );
        }
        rows.extend(users_where(&mut conn, tenant, "email_key", None, email_keys).await?);
        let mut seen = HashSet::new();
        rows.retain(|r| seen.insert(r.id.clone()));
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut hashes: HashMap<String, Option<String>> = HashMap::new();
        let mut contacts: HashMap<Uuid, Vec<Contact>> = HashMap::new();
        for chunk in ids.chunks(ROWS) {
            let mut q =
                QueryBuilder::<Db>::new("SELECT id, password_hash FROM users WHERE tenant_id = ");
            q.push_bind(tenant).push(" AND id IN (");
            let mut listed = q.separated(", ");
            for id in chunk {
                listed.push_bind(id.clone());
            }
            q.push(")");
            let found: Vec<(String, Option<String>)> =
                q.build_query_as().fetch_all(&mut *conn).await?;
            hashes.extend(found);
            let mut q = QueryBuilder::<Db>::new(format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = "
            ));
            q.push_bind(tenant).push(" AND user_id IN (");
            let mut listed = q.separated(", ");
            for id in chunk {
                listed.push_bind(id.clone());
            }
            q.push(") ORDER BY id");
            let found: Vec<ContactRow> = q.build_query_as().fetch_all(&mut *conn).await?;
            for row in found {
                let contact = Contact::try_from(row)?;
                contacts.entry(contact.user_id).or_default().push(contact);
            }
        }
        let users = users_from_rows(&mut conn, tenant, rows).await?;
        Ok(users
            .into_iter()
            .map(|user| ImportMatch {
                password_hash: hashes.remove(&user.id.to_string()).flatten(),
                contacts: contacts.remove(&user.id).unwrap_or_default(),
                user,
            })
            .collect())
    }

    async fn companies_by_external_id(
        &self,
        tenant: &str,
        external_ids: &[String],
    ) -> Result<Vec<(String, Uuid)>> {
        let mut found = Vec::new();
        for chunk in external_ids.chunks(ROWS) {
            let mut q =
                QueryBuilder::<Db>::new("SELECT external_id, id FROM companies WHERE tenant_id = ");
            q.push_bind(tenant).push(" AND external_id IN (");
            let mut listed = q.separated(", ");
            for id in chunk {
                listed.push_bind(id.clone());
            }
            q.push(")");
            let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&self.read).await?;
            for (external_id, id) in rows {
                found.push((external_id, uuid(&id)?));
            }
        }
        Ok(found)
    }

    async fn existing_references(
        &self,
        tenant: &str,
        companies: &[Uuid],
        stores: &[String],
    ) -> Result<(HashSet<Uuid>, HashSet<String>)> {
        let mut conn = self.read.acquire().await?;
        let companies: Vec<String> = companies.iter().map(Uuid::to_string).collect();
        let companies = existing(&mut conn, tenant, "companies", &companies)
            .await?
            .iter()
            .map(|id| uuid(id))
            .collect::<Result<_>>()?;
        let stores = existing(&mut conn, tenant, "stores", stores).await?;
        Ok((companies, stores))
    }

    async fn refresh_user_statistics(&self) -> Result<()> {
        if let Some(analyze) = ANALYZE_USERS {
            sqlx::query(analyze).execute(&self.read).await?;
        }
        Ok(())
    }

    async fn import_users(
        &self,
        tenant: &str,
        writes: Vec<ImportWrite>,
        actor: &Actor,
    ) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        // Checked before the turn is taken: a contact refused here needs
        // no transaction.
        let mut creations = Vec::new();
        let mut updates = Vec::new();
        for write in writes {
            match write {
                ImportWrite::Create { user, contacts } => creations.push(Creation {
                    id: Uuid::now_v7(),
                    number: 0,
                    user,
                    contacts: checked_contacts(ContactType::ALL, contacts)?,
                }),
                ImportWrite::Update {
                    user,
                    patch,
                    contacts,
                } => {
                    let contacts = contacts
                        .map(|c| checked_contacts(ContactType::ALL, c))
                        .transpose()?;
                    updates.push((user, patch, contacts));
                }
            }
        }
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let mut users = Vec::new();
        let mut sessions = Vec::new();
        for (id, patch, contacts) in updates {
            let patched = apply_user_patch(&mut tx, tenant, id.into(), patch, actor).await?;
            users.push(patched.user.id);
            users.extend(patched.moved);
            sessions.extend(patched.ended);
            if let Some(contacts) = contacts {
                let changed =
                    replace_active_contacts(&mut tx, tenant, id, ContactType::ALL, &contacts)
                        .await?;
                if changed {
                    touch_user(&mut tx, tenant, id).await?;
                    audit(
                        &mut tx,
                        tenant,
                        actor,
                        "contact.replaced",
                        &format!("user:{id}"),
                        "contacts replaced by an import",
                    )
                    .await?;
                }
            }
        }
        if !creations.is_empty() {
            check_creations(&mut tx, tenant, &creations).await?;
            let first = self
                .next_numbers(&mut tx, tenant, "user", creations.len() as i64)
                .await?;
            for (i, c) in creations.iter_mut().enumerate() {
                c.number = first + i as i64;
            }
            let at = now();
            insert_creations(&mut tx, tenant, &creations, at).await?;
            let entries: Vec<(User, String)> = creations
                .iter()
                .map(|c| (c.created(at), format!("created user #{}", c.number)))
                .collect();
            audit_users(&mut tx, tenant, actor, "user.created", &entries).await?;
            users.extend(creations.iter().map(|c| c.id));
        }
        // Sessions a deactivation ended are named one by one whatever the
        // batch's size; the users too, unless they are many.
        let mut touched: Vec<Entity<'_>> = sessions.iter().map(|id| Entity::Session(*id)).collect();
        if users.len() > TOUCHED_ONE_BY_ONE {
            touched.push(Entity::Tenant(tenant));
        } else {
            touched.extend(users.iter().map(|id| Entity::User(tenant, *id)));
        }
        if touched.is_empty() {
            tx.commit().await?;
            slot.finish().await?;
            return Ok(());
        }
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(())
    }
}
