//! The user inputs: what a new user is made of and how a patch changes one.
//! Kept as one block so they can move to `roster-core` in one piece.

use roster_core::{AccountType, Profile, Roles, Source, User, UserStatus};
use uuid::Uuid;

/// A user to create. References (company, parent, stores, account) are
/// checked against the tenant by the store.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub company_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub profile: Profile,
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub status: UserStatus,
    pub account_type: AccountType,
    pub default_store_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub password_hash: Option<String>,
    pub roles: Roles,
    pub store_ids: Vec<String>,
}

/// A change to a user: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub company_id: Option<Option<Uuid>>,
    pub parent_id: Option<Option<Uuid>>,
    pub profile: ProfilePatch,
    pub external_id: Option<Option<String>>,
    pub source: Option<Option<Source>>,
    pub status: Option<UserStatus>,
    pub account_type: Option<AccountType>,
    pub default_store_id: Option<Option<String>>,
    pub account_id: Option<Option<Uuid>>,
    pub password_hash: Option<String>,
    pub tenant_role: Option<Option<roster_core::TenantRole>>,
    pub partner_role: Option<Option<roster_core::PartnerRole>>,
    pub commerce_roles: Option<Vec<roster_core::CommerceRole>>,
    pub org_role: Option<Option<roster_core::OrgRole>>,
    pub store_ids: Option<Vec<String>>,
}

/// A change to a user's descriptive fields.
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
