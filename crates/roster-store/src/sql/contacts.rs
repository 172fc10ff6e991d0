//! Contacts of users, one primary per type: [`ContactStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{validate, Actor, Contact, ContactType, Source};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::users::{lock_user, touch_user};
use super::{invalid, now, uuid, word, Conn, Db, SqlStore};
use crate::{ContactPatch, ContactStore, Entity, NewContact, Result, StoreError, UserRef};

#[derive(sqlx::FromRow)]
pub(super) struct ContactRow {
    pub(super) id: String,
    pub(super) user_id: String,
    pub(super) contact_type: String,
    pub(super) value: String,
    pub(super) source: String,
    pub(super) is_primary: bool,
    pub(super) is_active: bool,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(r: ContactRow) -> Result<Self> {
        Ok(Contact {
            id: uuid(&r.id)?,
            user_id: uuid(&r.user_id)?,
            contact_type: word(&r.contact_type, ContactType::parse)?,
            value: r.value,
            source: word(&r.source, Source::parse)?,
            is_primary: r.is_primary,
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(super) const CONTACT_COLUMNS: &str =
    "id, user_id, contact_type, value, source, is_primary, is_active, created_at, updated_at";

pub(super) async fn fetch_contact(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    id: Uuid,
) -> Result<Contact> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = $1 AND user_id = $2 AND id = $3"
    );
    sqlx::query_as::<_, ContactRow>(&sql)
        .bind(tenant)
        .bind(user.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("contact"))?
        .try_into()
}

/// Unsets the user's primary contact of a type (but `keep`), so another can
/// take its place in the same transaction.
pub(super) async fn unset_primary(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    contact_type: ContactType,
    keep: Option<Uuid>,
) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET is_primary = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND user_id = $2 AND contact_type = $3 \
           AND is_primary = $6 AND id <> $7",
    )
    .bind(tenant)
    .bind(user.to_string())
    .bind(contact_type.as_str())
    .bind(false)
    .bind(now())
    .bind(true)
    .bind(keep.map(|k| k.to_string()).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts an active contact with a checked value; its id.
async fn insert_contact(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    new: &NewContact,
    value: &str,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let at = now();
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, user_id, contact_type, value, value_key, \
         source, is_primary, is_active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant)
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(new.contact_type.as_str())
    .bind(value)
    .bind(validate::contact_key(new.contact_type, value))
    .bind(new.source.as_str())
    .bind(new.is_primary)
    .bind(true)
    .bind(at)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Sets a contact's value (same type, same key) and flags.
async fn set_contact(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    id: Uuid,
    value: &str,
    is_primary: bool,
    is_active: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET value = $4, is_primary = $5, is_active = $6, updated_at = $7 \
         WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
    )
    .bind(tenant)
    .bind(user.to_string())
    .bind(id.to_string())
    .bind(value)
    .bind(is_primary)
    .bind(is_active)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Checks a contact value against its type, reporting under `value`.
pub(super) fn checked_contact_value(contact_type: ContactType, value: &str) -> Result<String> {
    validate::contact_value(contact_type, value).map_err(|m| invalid("value", &m))
}

/// Checks the contacts a replacement wants: each of a type replaced, with
/// a valid value, none twice, at most one primary per type; each with its
/// checked value and key.
pub(super) fn checked_contacts(
    kinds: &[ContactType],
    wanted: Vec<NewContact>,
) -> Result<Vec<(NewContact, String, String)>> {
    let mut checked = Vec::with_capacity(wanted.len());
    for new in wanted {
        if !kinds.contains(&new.contact_type) {
            return Err(invalid("contact_type", "is not one of the types replaced"));
        }
        let value = checked_contact_value(new.contact_type, &new.value)?;
        let key = validate::contact_key(new.contact_type, &value);
        if checked
            .iter()
            .any(|(n, _, k): &(NewContact, String, String)| {
                n.contact_type == new.contact_type && *k == key
            })
        {
            return Err(invalid("value", "is given twice"));
        }
        if new.is_primary
            && checked
                .iter()
                .any(|(n, _, _)| n.is_primary && n.contact_type == new.contact_type)
        {
            return Err(invalid(
                "primary",
                "only one contact of a type can be primary",
            ));
        }
        checked.push((new, value, key));
    }
    Ok(checked)
}

/// Makes the user's active contacts of `kinds` exactly `checked` (see
/// [`ContactStore::replace_contacts`]) in `conn`'s transaction, on the
/// locked user; whether anything changed.
pub(super) async fn replace_active_contacts(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    kinds: &[ContactType],
    checked: &[(NewContact, String, String)],
) -> Result<bool> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = $1 AND user_id = $2 AND \
             is_active"
    );
    let current: Vec<Contact> = sqlx::query_as::<_, ContactRow>(&sql)
        .bind(tenant)
        .bind(user.to_string())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect::<Result<_>>()?;
    let current: Vec<Contact> = current
        .into_iter()
        .filter(|c| kinds.contains(&c.contact_type))
        .collect();
    let key_of = |c: &Contact| validate::contact_key(c.contact_type, &c.value);
    let mut changed = false;
    // Contacts no longer wanted are deactivated (kept, as every surface
    // keeps a removed contact's history).
    for gone in current.iter().filter(|c| {
        !checked
            .iter()
            .any(|(n, _, k)| n.contact_type == c.contact_type && *k == key_of(c))
    }) {
        set_contact(conn, tenant, user, gone.id, &gone.value, false, false).await?;
        changed = true;
    }
    // Primaries first unset where they move, then kept ones updated and
    // new ones inserted.
    for (new, value, key) in checked {
        let kept = current
            .iter()
            .find(|c| c.contact_type == new.contact_type && key_of(c) == *key);
        match kept {
            Some(contact) if contact.is_primary == new.is_primary && contact.value == *value => {}
            Some(contact) => {
                if new.is_primary {
                    unset_primary(conn, tenant, user, new.contact_type, Some(contact.id)).await?;
                }
                set_contact(conn, tenant, user, contact.id, value, new.is_primary, true).await?;
                changed = true;
            }
            None => {
                if new.is_primary {
                    unset_primary(conn, tenant, user, new.contact_type, None).await?;
                }
                insert_contact(conn, tenant, user, new, value).await?;
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// [`replace_active_contacts`], recorded: when anything changed, the user's
/// `updated_at` moves and a `contact.replaced` event is written, in
/// `conn`'s transaction. Whether anything changed.
pub(super) async fn replace_contacts_in(
    conn: &mut Conn,
    tenant: &str,
    user: Uuid,
    kinds: &[ContactType],
    checked: &[(NewContact, String, String)],
    actor: &Actor,
) -> Result<bool> {
    let changed = replace_active_contacts(conn, tenant, user, kinds, checked).await?;
    if changed {
        touch_user(conn, tenant, user).await?;
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        audit(
            conn,
            tenant,
            actor,
            "contact.replaced",
            &format!("user:{user}"),
            &format!("{} contacts replaced", kinds.join(" and ")),
        )
        .await?;
    }
    Ok(changed)
}

#[async_trait]
impl ContactStore for SqlStore {
    async fn contacts_of(&self, tenant: &str, users: &[Uuid]) -> Result<Vec<Contact>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = "
        ));
        q.push_bind(tenant).push(" AND user_id IN (");
        let mut ids = q.separated(", ");
        for user in users {
            ids.push_bind(user.to_string());
        }
        q.push(") ORDER BY id");
        let rows: Vec<ContactRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Contact::try_from).collect()
    }

    async fn add_contact(
        &self,
        tenant: &str,
        user: UserRef,
        new: NewContact,
        actor: &Actor,
    ) -> Result<Contact> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        // Locking the user serialises every contact change of that user.
        let user = lock_user(&mut tx, tenant, user).await?.id;
        let value = checked_contact_value(new.contact_type, &new.value)?;
        if new.is_primary {
            unset_primary(&mut tx, tenant, user, new.contact_type, None).await?;
        }
        let id = insert_contact(&mut tx, tenant, user, &new, &value).await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "contact.added",
            &format!("user:{user}"),
            &format!("{} contact {id}", new.contact_type),
        )
        .await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        let touched = [Entity::User(tenant, user)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(contact)
    }

    async fn update_contact(
        &self,
        tenant: &str,
        user: UserRef,
        id: Uuid,
        patch: ContactPatch,
        actor: &Actor,
    ) -> Result<Contact> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = lock_user(&mut tx, tenant, user).await?.id;
        let current = fetch_contact(&mut tx, tenant, user, id).await?;
        let contact_type = patch.contact_type.unwrap_or(current.contact_type);
        let value = checked_contact_value(
            contact_type,
            patch.value.as_deref().unwrap_or(&current.value),
        )?;
        let is_active = patch.is_active.unwrap_or(current.is_active);
        if patch.is_primary == Some(true) && !is_active {
            return Err(StoreError::Conflict(
                "an inactive contact cannot be primary".into(),
            ));
        }
        // An inactive contact is never primary; a retyped one leaves its old type's primary.
        let is_primary = is_active
            && patch
                .is_primary
                .unwrap_or(current.is_primary && contact_type == current.contact_type);
        let source = patch.source.unwrap_or(current.source);
        // A patch that changes nothing writes nothing (nor touches the user).
        if contact_type == current.contact_type
            && value == current.value
            && source == current.source
            && is_primary == current.is_primary
            && is_active == current.is_active
        {
            return Ok(current);
        }
        if is_primary {
            unset_primary(&mut tx, tenant, user, contact_type, Some(id)).await?;
        }
        sqlx::query(
            "UPDATE contacts SET contact_type = $4, value = $5, value_key = $6, source = $7, \
             is_primary = $8, is_active = $9, updated_at = $10 \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(id.to_string())
        .bind(contact_type.as_str())
        .bind(&value)
        .bind(validate::contact_key(contact_type, &value))
        .bind(source.as_str())
        .bind(is_primary)
        .bind(is_active)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "contact.updated",
            &format!("user:{user}"),
            &format!("contact {id}"),
        )
        .await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        let touched = [Entity::User(tenant, user)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(contact)
    }

    async fn set_primary_contact(
        &self,
        tenant: &str,
        user: UserRef,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Contact> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = lock_user(&mut tx, tenant, user).await?.id;
        let current = fetch_contact(&mut tx, tenant, user, id).await?;
        if !current.is_active {
            return Err(StoreError::Conflict(
                "an inactive contact cannot be primary".into(),
            ));
        }
        // Already the primary: nothing to write.
        if current.is_primary {
            return Ok(current);
        }
        unset_primary(&mut tx, tenant, user, current.contact_type, Some(id)).await?;
        sqlx::query(
            "UPDATE contacts SET is_primary = $4, updated_at = $5 WHERE tenant_id = $1 \
                     AND user_id = $2 AND id = $3",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(id.to_string())
        .bind(true)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        touch_user(&mut tx, tenant, user).await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "contact.primary_set",
            &format!("user:{user}"),
            &format!("contact {id}"),
        )
        .await?;
        let contact = fetch_contact(&mut tx, tenant, user, id).await?;
        let touched = [Entity::User(tenant, user)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(contact)
    }

    async fn replace_contacts(
        &self,
        tenant: &str,
        user: UserRef,
        kinds: &[ContactType],
        wanted: Vec<NewContact>,
        actor: &Actor,
    ) -> Result<Vec<Contact>> {
        let checked = checked_contacts(kinds, wanted)?;
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let user = lock_user(&mut tx, tenant, user).await?.id;
        let changed = replace_contacts_in(&mut tx, tenant, user, kinds, &checked, actor).await?;
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = $1 AND user_id = $2 ORDER \
             BY id"
        );
        let contacts = sqlx::query_as::<_, ContactRow>(&sql)
            .bind(tenant)
            .bind(user.to_string())
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(Contact::try_from)
            .collect::<Result<_>>()?;
        if !changed {
            tx.commit().await?;
            slot.finish().await?;
            return Ok(contacts);
        }
        // The user's `updated_at` moved: its cached reads go.
        let touched = [Entity::User(tenant, user)];
        self.announce_change(&mut tx, &touched).await?;
        tx.commit().await?;
        self.finish_change(slot, &touched).await?;
        Ok(contacts)
    }
}
