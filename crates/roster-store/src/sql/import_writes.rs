//! Import batches (SPEC §8, issue #13): a batch's matches read in a few
//! queries, and its writes in one transaction with multi-row inserts:
//! [`ImportBatchStore`].

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use roster_core::{Actor, Contact, ContactType, Source, User};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::{audit, audit_users, created_user};
use super::contacts::{checked_contacts, replace_active_contacts, ContactRow, CONTACT_COLUMNS};
use super::user_inserts::{insert_creations, Creation, ROWS};
use super::user_rows::{users_from_rows, UserRow, USER_COLUMNS};
use super::users::{apply_user_patch, check_user_references, touch_user};
use super::{invalid, now, uuid, Conn, Db, SqlStore, ANALYZE_USERS};
use crate::{Entity, ImportBatchStore, ImportMatch, ImportWrite, Result, StoreError};

/// Past this many users touched, a batch announces its tenant instead of
/// every user (one line instead of thousands in the `NOTIFY` payload).
const TOUCHED_ONE_BY_ONE: usize = 64;

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
            "SELECT {} FROM users WHERE tenant_id = ",
            *USER_COLUMNS
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
        let users = users_from_rows(rows)?;
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
            let entries: Vec<(&Actor, User, String)> = creations
                .iter()
                .map(|c| (actor, c.created(at), created_user(c.number)))
                .collect();
            audit_users(&mut tx, tenant, "user.created", &entries).await?;
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
