//! Users: creating, changing and deleting them, their roles and contacts,
//! for every surface. Each write checks the right the surface exercises,
//! that the caller grants only what it holds, hashes a new password on the
//! bounded pool, and writes with its audit event in one transaction.

use roster_core::rules::authority::{newly_conferred, user_grants};
use roster_core::rules::company::{check_company_data, CompanyData, CompanyDataError, Given};
use roster_core::Grant;
use roster_core::{
    CommerceRole, Contact, ContactType, NewUser, Permission, Target, User, UserPatch,
};
use roster_store::user_query::{QueriedUsers, UserQuery};
use roster_store::{
    ContactPatch, ContactReplacement, Listed, NewContact, Page, UserFilter, UserRef,
};
use uuid::Uuid;

use crate::caller::Scope;
use crate::error::{AppError, AppResult};
use crate::passwords::{context_of, NewPassword};
use crate::App;

/// The right over users a surface exercises (SPEC §4, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// The native API: writes need MANAGE_USERS, reads VIEW_USERS.
    Users,
    /// The commerce (seed 000) and B2B (seed 002) surfaces: MANAGE_COMMERCES.
    CompanyUsers,
    /// The organisation surface (seed 004): MANAGE_USERS, or
    /// MANAGE_ORG_USERS in that organisation.
    OrganisationUsers(Uuid),
}

impl Right {
    /// 403 unless the scope holds this right to write users; operations
    /// check it first, surfaces may check it before parsing a body.
    pub fn require_write(self, scope: &Scope) -> AppResult<()> {
        match self {
            Right::Users => scope.require(Permission::ManageUsers),
            Right::CompanyUsers => scope.require(Permission::ManageCommerces),
            Right::OrganisationUsers(org) => scope.require_either(
                Permission::ManageUsers,
                Permission::ManageOrgUsers,
                &Target {
                    store_id: None,
                    company_id: Some(org),
                },
            ),
        }
    }

    fn require_read(self, scope: &Scope) -> AppResult<()> {
        match self {
            Right::Users => scope.require(Permission::ViewUsers),
            Right::CompanyUsers | Right::OrganisationUsers(_) => self.require_write(scope),
        }
    }
}

/// Users, their roles and contacts.
pub struct Users<'a> {
    app: &'a App,
}

impl App {
    /// Users, their roles and contacts.
    pub fn users(&self) -> Users<'_> {
        Users { app: self }
    }
}

pub(crate) fn grants(user: &NewUser) -> Vec<Grant> {
    user_grants(
        user.status,
        user.account_type,
        user.company_id,
        &user.roles,
        &user.store_ids,
    )
}

pub(crate) fn grants_now(user: &User) -> Vec<Grant> {
    user_grants(
        user.status,
        user.account_type,
        user.company_id,
        &user.roles,
        &user.store_ids,
    )
}

/// How a company-data refusal reads on the B2B surface.
fn company_data_error(error: CompanyDataError, field: &str) -> AppError {
    let name = match error {
        CompanyDataError::CompanyRequired => "company_id",
        CompanyDataError::JobTitleRequired => "job_title",
        CompanyDataError::TelephoneRequired => "telephone",
    };
    AppError::field(format!("{field}.{name}"), error.to_string())
}

/// Where a read of a user comes from: a read answers from memory when
/// fresh; a write's read of the current user goes to the database.
#[derive(Debug, Clone, Copy)]
enum Read {
    Cached,
    Through,
}

/// What company data a request gave, and the field it came in (for errors).
#[derive(Debug, Clone, Copy)]
pub struct CompanyDataChange<'a> {
    /// What the request gave.
    pub given: Given,
    /// The request's field holding company data, e.g.
    /// `customer.extension_attributes.company_attributes`.
    pub field: &'a str,
}

impl Users<'_> {
    /// Reads a user; `within` requires it to be a user of that company
    /// (404 otherwise).
    pub async fn get(
        &self,
        scope: &Scope,
        right: Right,
        id: Uuid,
        within: Option<Uuid>,
    ) -> AppResult<User> {
        right.require_read(scope)?;
        self.load(scope, id, within, Read::Cached).await
    }

    /// Reads a user by its per-tenant number.
    pub async fn get_by_number(&self, scope: &Scope, right: Right, number: i64) -> AppResult<User> {
        right.require_read(scope)?;
        scope.require_whole_tenant()?;
        Ok(self
            .app
            .store
            .get_user_by_number(scope.tenant(), number)
            .await?)
    }

    /// The caller's own user (an access token or a user-bound key).
    pub async fn me(&self, scope: &Scope) -> AppResult<User> {
        let roster_core::Actor::User(id) = scope.actor() else {
            return Err(AppError::Forbidden(
                "send a user's access token or a key bound to a user".into(),
            ));
        };
        Ok(self.app.store.get_user(scope.tenant(), *id).await?)
    }

    /// Lists users by number, filtered.
    pub async fn list(
        &self,
        scope: &Scope,
        right: Right,
        filter: &UserFilter,
        page: &Page,
    ) -> AppResult<Listed<User>> {
        right.require_read(scope)?;
        scope.require_whole_tenant()?;
        self.app
            .list_users_cached(scope.tenant(), filter, page)
            .await
    }

    /// The user with this `(source, external_id)`, if any (the store keeps
    /// the pair unique; the list filters by external id, so every source's
    /// user with that id is read, at most one per source).
    pub(crate) async fn by_external_id(
        &self,
        scope: &Scope,
        source: roster_core::Source,
        external_id: &str,
    ) -> AppResult<Option<User>> {
        let filter = UserFilter {
            external_id: Some(external_id.to_string()),
            ..UserFilter::default()
        };
        let page = Page {
            after: None,
            limit: 500,
        };
        Ok(self
            .app
            .store
            .list_users(scope.tenant(), &filter, &page)
            .await?
            .items
            .into_iter()
            .find(|u| u.source == Some(source)))
    }

    /// The users meeting a directory query (SCIM), sorted and sliced, with
    /// how many match in all.
    pub async fn query(
        &self,
        scope: &Scope,
        right: Right,
        query: &UserQuery,
    ) -> AppResult<QueriedUsers> {
        right.require_read(scope)?;
        if scope.company().is_some() {
            // A company's credential queries only its company's users.
            let mut confined = query.clone();
            confined.company = scope.within(query.company)?;
            return Ok(self
                .app
                .store
                .query_users(scope.tenant(), &confined)
                .await?);
        }
        Ok(self.app.store.query_users(scope.tenant(), query).await?)
    }

    /// 404 unless `company` is a company of the scope's tenant.
    async fn require_company(&self, scope: &Scope, company: Uuid) -> AppResult<()> {
        scope.within(Some(company))?;
        self.app.store.get_company(scope.tenant(), company).await?;
        Ok(())
    }

    /// The user, for computing what a change grants; `within` requires it to
    /// be a user of that company. Writes check `within` again in the store,
    /// on the locked row: this early read is not the guarantee.
    async fn load(
        &self,
        scope: &Scope,
        id: Uuid,
        within: Option<Uuid>,
        read: Read,
    ) -> AppResult<User> {
        let within = scope.within(within)?;
        if let Some(company) = within {
            self.require_company(scope, company).await?;
        }
        let user = match read {
            Read::Cached => User::clone(&*self.app.find_user(scope.tenant(), id).await?),
            Read::Through => self.app.store.get_user(scope.tenant(), id).await?,
        };
        if within.is_some() && user.company_id != within {
            return Err(AppError::NotFound("user not found".into()));
        }
        Ok(user)
    }

    pub(crate) async fn hash(
        &self,
        password: Option<NewPassword>,
        profile: &roster_core::Profile,
    ) -> AppResult<Option<String>> {
        match password {
            Some(password) => Ok(Some(
                self.app
                    .passwords
                    .hash_new(password, context_of(profile))
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// Creates a user.
    pub async fn create(
        &self,
        scope: &Scope,
        right: Right,
        new: NewUser,
        password: Option<NewPassword>,
    ) -> AppResult<User> {
        self.create_with(scope, right, new, password, None).await
    }

    /// Creates a user with its contacts of some types, in one transaction
    /// (a directory's create, SCIM).
    pub async fn create_with_contacts(
        &self,
        scope: &Scope,
        right: Right,
        new: NewUser,
        password: Option<NewPassword>,
        contacts: ContactReplacement,
    ) -> AppResult<User> {
        self.create_with(scope, right, new, password, Some(contacts))
            .await
    }

    async fn create_with(
        &self,
        scope: &Scope,
        right: Right,
        mut new: NewUser,
        password: Option<NewPassword>,
        contacts: Option<ContactReplacement>,
    ) -> AppResult<User> {
        right.require_write(scope)?;
        // A company's credential makes users of its company.
        new.company_id = scope.within(new.company_id)?;
        scope.may_confer(&newly_conferred(&[], &grants(&new)))?;
        new.password_hash = self.hash(password, &new.profile).await?;
        let store = &self.app.store;
        Ok(match contacts {
            None => {
                store
                    .create_user(scope.tenant(), new, scope.actor())
                    .await?
            }
            Some(contacts) => {
                store
                    .create_user_with_contacts(scope.tenant(), new, contacts, scope.actor())
                    .await?
            }
        })
    }

    /// Creates a company user (seed 002): company data, when given, needs a
    /// company, a job title and a telephone.
    pub async fn create_company_user(
        &self,
        scope: &Scope,
        new: NewUser,
        password: Option<NewPassword>,
        change: CompanyDataChange<'_>,
    ) -> AppResult<User> {
        Right::CompanyUsers.require_write(scope)?;
        check_company_data(&CompanyData {
            company_id: new.company_id,
            job_title: new.profile.job_title.as_deref(),
            telephone: new.profile.telephone.as_deref(),
            given: change.given,
        })
        .map_err(|e| company_data_error(e, change.field))?;
        self.create(scope, Right::CompanyUsers, new, password).await
    }

    /// Changes a user; `within` requires it to be a user of that company
    /// (the store checks it again on the locked row, with the write).
    /// Deactivating a user, or moving it out of its company, moves its child
    /// users to its parent (the store does it in the same transaction).
    pub async fn update(
        &self,
        scope: &Scope,
        right: Right,
        id: Uuid,
        within: Option<Uuid>,
        patch: UserPatch,
        password: Option<NewPassword>,
    ) -> AppResult<User> {
        right.require_write(scope)?;
        let current = self.load(scope, id, within, Read::Through).await?;
        self.apply(
            scope,
            UserRef::within(id, within),
            current,
            patch,
            password,
            None,
        )
        .await
    }

    /// [`Users::update`], replacing the user's contacts of some types in
    /// the same transaction (a directory's replace, SCIM).
    #[allow(clippy::too_many_arguments)]
    pub async fn update_with_contacts(
        &self,
        scope: &Scope,
        right: Right,
        id: Uuid,
        within: Option<Uuid>,
        patch: UserPatch,
        password: Option<NewPassword>,
        contacts: ContactReplacement,
    ) -> AppResult<User> {
        right.require_write(scope)?;
        let current = self.load(scope, id, within, Read::Through).await?;
        let target = UserRef::within(id, within);
        self.apply(scope, target, current, patch, password, Some(contacts))
            .await
    }

    /// Writes `patch` to `target`, whose state was `current` when loaded:
    /// grants are counted from `current`, the store re-checks `target`'s
    /// company on the locked row.
    async fn apply(
        &self,
        scope: &Scope,
        target: UserRef,
        current: User,
        mut patch: UserPatch,
        password: Option<NewPassword>,
        contacts: Option<ContactReplacement>,
    ) -> AppResult<User> {
        let target = UserRef::within(target.id, scope.within(target.company)?);
        if scope.company().is_some() && patch.company_id.is_some_and(|c| c != scope.company()) {
            return Err(AppError::Forbidden(
                "a company's credential cannot move users out of the company".into(),
            ));
        }
        let next = patch.clone().apply_to(&current);
        scope.may_confer(&newly_conferred(&grants_now(&current), &grants(&next)))?;
        patch.password_hash = self.hash(password, &next.profile).await?;
        let (store, tenant, actor) = (&self.app.store, scope.tenant(), scope.actor());
        Ok(match contacts {
            None => store.update_user(tenant, target, patch, actor).await?,
            Some(contacts) => {
                store
                    .update_user_with_contacts(tenant, target, patch, contacts, actor)
                    .await?
            }
        })
    }

    /// Changes a company user (seed 002): company data set by the change
    /// needs a company, a job title and a telephone, given now or already
    /// held. Leaving the company clears its job title and telephone
    /// ([`UserPatch::apply_to`], as on every surface).
    pub async fn update_company_user(
        &self,
        scope: &Scope,
        id: Uuid,
        patch: UserPatch,
        password: Option<NewPassword>,
        change: CompanyDataChange<'_>,
    ) -> AppResult<User> {
        Right::CompanyUsers.require_write(scope)?;
        let current = self.load(scope, id, None, Read::Through).await?;
        let next = patch.clone().apply_to(&current);
        check_company_data(&CompanyData {
            company_id: next.company_id,
            job_title: next.profile.job_title.as_deref(),
            telephone: next.profile.telephone.as_deref(),
            given: change.given,
        })
        .map_err(|e| company_data_error(e, change.field))?;
        self.apply(scope, id.into(), current, patch, password, None)
            .await
    }

    /// Moves a user under another of the same company (seed 002); the store
    /// refuses cycles and other companies' parents.
    pub async fn move_under(&self, scope: &Scope, id: Uuid, parent: Uuid) -> AppResult<User> {
        let patch = UserPatch {
            parent_id: Some(Some(parent)),
            ..UserPatch::default()
        };
        self.update(scope, Right::CompanyUsers, id, None, patch, None)
            .await
    }

    /// Creates or replaces the user with this `(source, external_id)`:
    /// `true` when it was created. The replaced user's grants count as held.
    pub async fn upsert_by_external_id(
        &self,
        scope: &Scope,
        right: Right,
        mut new: NewUser,
        password: Option<NewPassword>,
    ) -> AppResult<(User, bool)> {
        right.require_write(scope)?;
        scope.require_whole_tenant()?;
        let existing = match (&new.source, &new.external_id) {
            (Some(source), Some(external_id)) => {
                self.by_external_id(scope, *source, external_id).await?
            }
            _ => None,
        };
        let before = existing.as_ref().map(grants_now).unwrap_or_default();
        scope.may_confer(&newly_conferred(&before, &grants(&new)))?;
        new.password_hash = self.hash(password, &new.profile).await?;
        Ok(self
            .app
            .store
            .upsert_user_by_external_id(scope.tenant(), new, scope.actor())
            .await?)
    }

    /// Deletes a user: its children move to its parent, its quotes close and
    /// lock, its quotes and orders stay.
    pub async fn delete(&self, scope: &Scope, right: Right, id: Uuid) -> AppResult<()> {
        right.require_write(scope)?;
        if scope.company().is_some() {
            // 404 for a user outside the credential's company.
            self.load(scope, id, None, Read::Through).await?;
        }
        Ok(self
            .app
            .store
            .delete_user(scope.tenant(), id, scope.actor())
            .await?)
    }

    /// Grants a commerce role to a user of `within` (409 when held; 404 when
    /// the user is not in `within` as the store writes).
    pub async fn add_commerce_role(
        &self,
        scope: &Scope,
        within: Uuid,
        id: Uuid,
        role: CommerceRole,
    ) -> AppResult<User> {
        Right::CompanyUsers.require_write(scope)?;
        let current = self.load(scope, id, Some(within), Read::Through).await?;
        let mut roles = current.roles.clone();
        roles.commerce.push(role);
        let next = user_grants(
            current.status,
            current.account_type,
            current.company_id,
            &roles,
            &current.store_ids,
        );
        scope.may_confer(&newly_conferred(&grants_now(&current), &next))?;
        Ok(self
            .app
            .store
            .add_commerce_role(
                scope.tenant(),
                UserRef::within(id, Some(within)),
                role,
                scope.actor(),
            )
            .await?)
    }

    /// Takes a commerce role away from a user of `within` (404 when not
    /// held, or when the user is not in `within` as the store writes).
    pub async fn remove_commerce_role(
        &self,
        scope: &Scope,
        within: Uuid,
        id: Uuid,
        role: CommerceRole,
    ) -> AppResult<User> {
        Right::CompanyUsers.require_write(scope)?;
        self.require_company(scope, within).await?;
        Ok(self
            .app
            .store
            .remove_commerce_role(
                scope.tenant(),
                UserRef::within(id, Some(within)),
                role,
                scope.actor(),
            )
            .await?)
    }

    /// Makes the user's active contacts of these types exactly `wanted`
    /// (a directory's replace: SCIM `emails`, `phoneNumbers`); the user's
    /// contacts, oldest first.
    pub async fn replace_contacts(
        &self,
        scope: &Scope,
        right: Right,
        user: UserRef,
        kinds: &[ContactType],
        wanted: Vec<NewContact>,
    ) -> AppResult<Vec<Contact>> {
        right.require_write(scope)?;
        let user = UserRef::within(user.id, scope.within(user.company)?);
        Ok(self
            .app
            .store
            .replace_contacts(scope.tenant(), user, kinds, wanted, scope.actor())
            .await?)
    }

    /// The contacts of these users, oldest first.
    pub async fn contacts_of(
        &self,
        scope: &Scope,
        right: Right,
        users: &[Uuid],
    ) -> AppResult<Vec<Contact>> {
        right.require_read(scope)?;
        if scope.company().is_some() {
            // Only the contacts of the company's users.
            let mut visible = Vec::with_capacity(users.len());
            for &id in users {
                match self.load(scope, id, None, Read::Cached).await {
                    Ok(_) => visible.push(id),
                    Err(AppError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(self.app.store.contacts_of(scope.tenant(), &visible).await?);
        }
        Ok(self.app.store.contacts_of(scope.tenant(), users).await?)
    }

    /// Adds a contact to a user of `within` (404 when the user is not in it
    /// as the store writes); a new primary unsets the previous one of its
    /// type.
    pub async fn add_contact(
        &self,
        scope: &Scope,
        within: Uuid,
        user: Uuid,
        new: NewContact,
    ) -> AppResult<Contact> {
        Right::CompanyUsers.require_write(scope)?;
        self.require_company(scope, within).await?;
        Ok(self
            .app
            .store
            .add_contact(
                scope.tenant(),
                UserRef::within(user, Some(within)),
                new,
                scope.actor(),
            )
            .await?)
    }

    /// Changes a contact of a user of `within` (404 when the user is not in
    /// it as the store writes).
    pub async fn update_contact(
        &self,
        scope: &Scope,
        within: Uuid,
        user: Uuid,
        id: Uuid,
        patch: ContactPatch,
    ) -> AppResult<Contact> {
        Right::CompanyUsers.require_write(scope)?;
        self.require_company(scope, within).await?;
        Ok(self
            .app
            .store
            .update_contact(
                scope.tenant(),
                UserRef::within(user, Some(within)),
                id,
                patch,
                scope.actor(),
            )
            .await?)
    }

    /// Adds a contact to any user of the tenant (MANAGE_USERS; a confined
    /// scope's company only); a new primary unsets the previous one.
    pub async fn add_contact_of(
        &self,
        scope: &Scope,
        user: Uuid,
        mut new: NewContact,
    ) -> AppResult<Contact> {
        Right::Users.require_write(scope)?;
        let within = scope.within(None)?;
        new.value = roster_core::validate::contact_value(new.contact_type, &new.value)
            .map_err(|message| AppError::field("value", message))?;
        Ok(self
            .app
            .store
            .add_contact(
                scope.tenant(),
                UserRef::within(user, within),
                new,
                scope.actor(),
            )
            .await?)
    }

    /// Makes an active contact of any user of the tenant the primary of
    /// its type (MANAGE_USERS; 409 when inactive).
    pub async fn set_primary_contact_of(
        &self,
        scope: &Scope,
        user: Uuid,
        id: Uuid,
    ) -> AppResult<Contact> {
        Right::Users.require_write(scope)?;
        let within = scope.within(None)?;
        Ok(self
            .app
            .store
            .set_primary_contact(
                scope.tenant(),
                UserRef::within(user, within),
                id,
                scope.actor(),
            )
            .await?)
    }

    /// Makes an active contact of a user of `within` the primary of its type
    /// (409 when inactive; 404 when the user is not in `within` as the store
    /// writes).
    pub async fn set_primary_contact(
        &self,
        scope: &Scope,
        within: Uuid,
        user: Uuid,
        id: Uuid,
    ) -> AppResult<Contact> {
        Right::CompanyUsers.require_write(scope)?;
        self.require_company(scope, within).await?;
        Ok(self
            .app
            .store
            .set_primary_contact(
                scope.tenant(),
                UserRef::within(user, Some(within)),
                id,
                scope.actor(),
            )
            .await?)
    }
}
