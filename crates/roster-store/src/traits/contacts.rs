//! Contacts of users.

use async_trait::async_trait;
use roster_core::{Actor, Contact, ContactType, Source};
use uuid::Uuid;

use crate::{Result, UserRef};

/// A contact to add to a user.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub contact_type: ContactType,
    pub value: String,
    pub source: Source,
    pub is_primary: bool,
}

/// A directory's replace of a user's contacts of some types (SCIM `emails`
/// and `phoneNumbers`), written with the user's own change.
#[derive(Debug, Clone)]
pub struct ContactReplacement {
    pub kinds: Vec<ContactType>,
    pub wanted: Vec<NewContact>,
}

/// A change to a contact; its value is checked again against its type.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub contact_type: Option<ContactType>,
    pub value: Option<String>,
    pub source: Option<Source>,
    pub is_primary: Option<bool>,
    pub is_active: Option<bool>,
}

/// The contacts (emails, phones, ...) of users. Every write names the user
/// as a [`UserRef`]: made within a company, it changes nothing unless the
/// user is in that company when its row is locked.
#[async_trait]
pub trait ContactStore: Send + Sync + 'static {
    /// The contacts of these users, oldest first.
    async fn contacts_of(&self, tenant: &str, users: &[Uuid]) -> Result<Vec<Contact>>;
    /// Adds a contact; a new primary unsets the previous one of its type.
    async fn add_contact(
        &self,
        tenant: &str,
        user: UserRef,
        new: NewContact,
        actor: &Actor,
    ) -> Result<Contact>;
    /// Changes a contact. Deactivating it drops its primary flag; making it
    /// primary unsets the previous primary of its type.
    async fn update_contact(
        &self,
        tenant: &str,
        user: UserRef,
        id: Uuid,
        patch: ContactPatch,
        actor: &Actor,
    ) -> Result<Contact>;
    /// Makes an active contact the primary of its type (409 when inactive).
    async fn set_primary_contact(
        &self,
        tenant: &str,
        user: UserRef,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Contact>;
    /// Makes the user's active contacts of these types exactly `wanted`
    /// (matched by type and value as compared): others of those types are
    /// deactivated, missing ones added, primaries set as `wanted` says, in
    /// one transaction; nothing is written when nothing changes. The
    /// user's contacts of every type, oldest first.
    async fn replace_contacts(
        &self,
        tenant: &str,
        user: UserRef,
        kinds: &[ContactType],
        wanted: Vec<NewContact>,
        actor: &Actor,
    ) -> Result<Vec<Contact>>;
}
