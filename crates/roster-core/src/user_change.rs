//! Changes to users: what a new user is made of ([`NewUser`]), how a patch
//! changes one ([`UserPatch`]), and the rules a change carries with it
//! ([`UserPatch::apply_to`]). The store applies a patch inside its
//! transaction, on the locked row, so every surface gets the same rules.

use uuid::Uuid;

use crate::model::{
    AccountType, CommerceRole, OrgRole, PartnerRole, Profile, Roles, Source, TenantRole, User,
    UserStatus,
};

/// A user to create (or a user's next state, from [`UserPatch::apply_to`]).
/// References (company, parent, stores, account) are checked against the
/// tenant by the store.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The company the user belongs to, if any.
    pub company_id: Option<Uuid>,
    /// The user's parent in its company's hierarchy.
    pub parent_id: Option<Uuid>,
    /// The descriptive fields.
    pub profile: Profile,
    /// The id the user has in `source`.
    pub external_id: Option<String>,
    /// Where `external_id` comes from.
    pub source: Option<Source>,
    /// Whether the user may act.
    pub status: UserStatus,
    /// What kind of account the user is.
    pub account_type: AccountType,
    /// The store the user works in by default.
    pub default_store_id: Option<String>,
    /// The platform account linked to the user.
    pub account_id: Option<Uuid>,
    /// The new password's hash; `None` keeps the current one on an update.
    pub password_hash: Option<String>,
    /// The roles the user holds.
    pub roles: Roles,
    /// The stores the user's partner role acts on.
    pub store_ids: Vec<String>,
}

/// A change to a user: `None` leaves a field alone, `Some(None)` clears it.
/// Each field is the [`NewUser`] field of the same name.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// Moves the user to a company, or (`Some(None)`) out of its company.
    pub company_id: Option<Option<Uuid>>,
    /// Moves the user under another parent, or to the top.
    pub parent_id: Option<Option<Uuid>>,
    /// The descriptive fields to change.
    pub profile: ProfilePatch,
    /// Sets or clears the external id.
    pub external_id: Option<Option<String>>,
    /// Sets or clears the external id's source.
    pub source: Option<Option<Source>>,
    /// Activates or deactivates the user.
    pub status: Option<UserStatus>,
    /// Changes the account type.
    pub account_type: Option<AccountType>,
    /// Sets or clears the default store.
    pub default_store_id: Option<Option<String>>,
    /// Links or unlinks a platform account.
    pub account_id: Option<Option<Uuid>>,
    /// A new password's hash; `None` keeps the current one.
    pub password_hash: Option<String>,
    /// Sets or clears the tenant role.
    pub tenant_role: Option<Option<TenantRole>>,
    /// Sets or clears the partner role.
    pub partner_role: Option<Option<PartnerRole>>,
    /// Replaces the commerce roles.
    pub commerce_roles: Option<Vec<CommerceRole>>,
    /// Sets or clears the organisation role.
    pub org_role: Option<Option<OrgRole>>,
    /// Replaces the store set.
    pub store_ids: Option<Vec<String>>,
}

/// A change to a user's descriptive fields: `None` leaves a field alone,
/// `Some(None)` clears it; each is the [`Profile`] field of the same name.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub middle_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub login: Option<Option<String>>,
    pub user_code: Option<Option<String>>,
    pub mobile: Option<Option<String>>,
    pub country_code: Option<Option<String>>,
    pub telephone: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub language_code: Option<Option<String>>,
}

impl UserPatch {
    /// The patch that sets every field of `user`: an upsert's update.
    pub fn replacing_with(user: NewUser) -> UserPatch {
        let p = user.profile;
        UserPatch {
            company_id: Some(user.company_id),
            parent_id: Some(user.parent_id),
            profile: ProfilePatch {
                name: Some(p.name),
                first_name: Some(p.first_name),
                middle_name: Some(p.middle_name),
                last_name: Some(p.last_name),
                display_name: Some(p.display_name),
                email: Some(p.email),
                login: Some(p.login),
                user_code: Some(p.user_code),
                mobile: Some(p.mobile),
                country_code: Some(p.country_code),
                telephone: Some(p.telephone),
                job_title: Some(p.job_title),
                language_code: Some(p.language_code),
            },
            external_id: Some(user.external_id),
            source: Some(user.source),
            status: Some(user.status),
            account_type: Some(user.account_type),
            default_store_id: Some(user.default_store_id),
            account_id: Some(user.account_id),
            password_hash: user.password_hash,
            tenant_role: Some(user.roles.tenant),
            partner_role: Some(user.roles.partner),
            commerce_roles: Some(user.roles.commerce),
            org_role: Some(user.roles.org),
            store_ids: Some(user.store_ids),
        }
    }
}

impl UserPatch {
    /// The user's next state: the current one with this patch applied.
    ///
    /// Moving a user to another company (or out of one) drops its
    /// company-scoped roles and its parent, unless the same patch sets them:
    /// a role held in one company never follows the user into another.
    pub fn apply_to(self, current: &User) -> NewUser {
        fn pick<T: Clone>(change: Option<T>, current: &T) -> T {
            change.unwrap_or_else(|| current.clone())
        }
        let company_id = pick(self.company_id, &current.company_id);
        let moved = company_id != current.company_id;
        let c = &current.profile;
        let p = self.profile;
        NewUser {
            company_id,
            parent_id: match self.parent_id {
                Some(parent) => parent,
                None if moved => None,
                None => current.parent_id,
            },
            profile: Profile {
                name: pick(p.name, &c.name),
                first_name: pick(p.first_name, &c.first_name),
                middle_name: pick(p.middle_name, &c.middle_name),
                last_name: pick(p.last_name, &c.last_name),
                display_name: pick(p.display_name, &c.display_name),
                email: pick(p.email, &c.email),
                login: pick(p.login, &c.login),
                user_code: pick(p.user_code, &c.user_code),
                mobile: pick(p.mobile, &c.mobile),
                country_code: pick(p.country_code, &c.country_code),
                telephone: pick(p.telephone, &c.telephone),
                job_title: pick(p.job_title, &c.job_title),
                language_code: pick(p.language_code, &c.language_code),
            },
            external_id: pick(self.external_id, &current.external_id),
            source: pick(self.source, &current.source),
            status: pick(self.status, &current.status),
            account_type: pick(self.account_type, &current.account_type),
            default_store_id: pick(self.default_store_id, &current.default_store_id),
            account_id: pick(self.account_id, &current.account_id),
            password_hash: self.password_hash,
            roles: Roles {
                tenant: pick(self.tenant_role, &current.roles.tenant),
                partner: pick(self.partner_role, &current.roles.partner),
                commerce: match self.commerce_roles {
                    Some(mut roles) => {
                        roles.sort();
                        roles.dedup();
                        roles
                    }
                    None if moved => Vec::new(),
                    None => current.roles.commerce.clone(),
                },
                org: match self.org_role {
                    Some(role) => role,
                    None if moved => None,
                    None => current.roles.org,
                },
            },
            store_ids: pick(self.store_ids, &current.store_ids),
        }
    }
}
