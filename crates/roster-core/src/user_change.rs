//! Changes to users: what a new user is made of ([`NewUser`]), how a patch
//! changes one ([`UserPatch`]), and the rules a change carries with it
//! ([`UserPatch::apply_to`]), and whether it changes anything at all
//! ([`NewUser::changes`]). The store applies a patch inside its
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
    /// Leaving its company (it had one, the patch sets none) also clears its
    /// job title and telephone, the company data of seed 002, unless the
    /// same patch sets them.
    pub fn apply_to(self, current: &User) -> NewUser {
        fn pick<T: Clone>(change: Option<T>, current: &T) -> T {
            change.unwrap_or_else(|| current.clone())
        }
        /// A company-bound field: the patch's value, else none when the
        /// user's company changes in the way `dropped` says, else kept.
        fn company_bound<T: Clone + Default>(change: Option<T>, current: &T, dropped: bool) -> T {
            match change {
                Some(value) => value,
                None if dropped => T::default(),
                None => current.clone(),
            }
        }
        let company_id = pick(self.company_id, &current.company_id);
        let moved = company_id != current.company_id;
        let left = current.company_id.is_some() && company_id.is_none();
        let c = &current.profile;
        let p = self.profile;
        NewUser {
            company_id,
            parent_id: company_bound(self.parent_id, &current.parent_id, moved),
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
                telephone: company_bound(p.telephone, &c.telephone, left),
                job_title: company_bound(p.job_title, &c.job_title, left),
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
                org: company_bound(self.org_role, &current.roles.org, moved),
            },
            store_ids: pick(self.store_ids, &current.store_ids),
        }
    }
}

impl NewUser {
    /// Company roles need a company: commerce roles (seed 000/002) and the
    /// organisation role (seed 004) apply in the user's company.
    pub fn check_company_roles(&self) -> Result<(), crate::validate::FieldError> {
        if !self.roles.commerce.is_empty() && self.company_id.is_none() {
            return Err(crate::validate::FieldError::new(
                "roles",
                "commerce roles need the user to have a company_id",
            ));
        }
        if self.roles.org.is_some() && self.company_id.is_none() {
            return Err(crate::validate::FieldError::new(
                "org_role",
                "an organisation role needs the user to have a company_id",
            ));
        }
        Ok(())
    }

    /// Whether this next state of `current` changes anything stored: a
    /// field, a role, the store set (roles and stores compared as sets, as
    /// they are stored), or the password (a new hash always differs from
    /// the old, so a password sent is a change). The store writes a change
    /// that changes nothing not at all: no audit event, `updated_at` kept.
    pub fn changes(&self, current: &User) -> bool {
        fn set<T: Ord + Clone>(items: &[T]) -> Vec<T> {
            let mut items = items.to_vec();
            items.sort();
            items.dedup();
            items
        }
        let roles = &self.roles;
        let now = &current.roles;
        self.password_hash.is_some()
            || self.company_id != current.company_id
            || self.parent_id != current.parent_id
            || self.profile != current.profile
            || self.external_id != current.external_id
            || self.source != current.source
            || self.status != current.status
            || self.account_type != current.account_type
            || self.default_store_id != current.default_store_id
            || self.account_id != current.account_id
            || roles.tenant != now.tenant
            || roles.partner != now.partner
            || roles.org != now.org
            || set(&roles.commerce) != set(&now.commerce)
            || set(&self.store_ids) != set(&current.store_ids)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    const ONE: Uuid = Uuid::from_u128(1);
    const TWO: Uuid = Uuid::from_u128(2);
    const BOSS: Uuid = Uuid::from_u128(3);

    /// A buyer of company ONE under BOSS, with company roles and company data.
    fn buyer() -> User {
        User {
            id: Uuid::from_u128(9),
            number: 1,
            company_id: Some(ONE),
            parent_id: Some(BOSS),
            profile: Profile {
                name: Some("Maria".into()),
                job_title: Some("Buyer".into()),
                telephone: Some("512-555-3322".into()),
                ..Profile::default()
            },
            external_id: None,
            source: None,
            status: UserStatus::Active,
            account_type: AccountType::Regular,
            default_store_id: None,
            account_id: None,
            has_password: false,
            roles: Roles {
                tenant: Some(TenantRole::Access),
                commerce: vec![CommerceRole::Owner],
                org: Some(OrgRole::Admin),
                ..Roles::default()
            },
            store_ids: Vec::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_accessed_at: None,
        }
    }

    fn to_company(company: Option<Uuid>) -> UserPatch {
        UserPatch {
            company_id: Some(company),
            ..UserPatch::default()
        }
    }

    #[test]
    fn leaving_the_company_clears_company_data_roles_and_parent() {
        let next = to_company(None).apply_to(&buyer());
        assert_eq!(next.company_id, None);
        assert_eq!(
            (next.profile.job_title, next.profile.telephone),
            (None, None)
        );
        assert_eq!(next.parent_id, None);
        assert!(next.roles.commerce.is_empty());
        assert_eq!(next.roles.org, None);
        assert_eq!(
            next.profile.name.as_deref(),
            Some("Maria"),
            "the rest stays"
        );
        assert_eq!(next.roles.tenant, Some(TenantRole::Access));
    }

    #[test]
    fn moving_to_another_company_drops_roles_and_parent_and_keeps_company_data() {
        let next = to_company(Some(TWO)).apply_to(&buyer());
        assert_eq!(next.company_id, Some(TWO));
        assert_eq!(next.parent_id, None);
        assert!(next.roles.commerce.is_empty());
        assert_eq!(next.roles.org, None);
        assert_eq!(next.profile.job_title.as_deref(), Some("Buyer"));
        assert_eq!(next.profile.telephone.as_deref(), Some("512-555-3322"));
    }

    #[test]
    fn what_the_same_patch_sets_is_kept() {
        let leave = UserPatch {
            company_id: Some(None),
            profile: ProfilePatch {
                job_title: Some(Some("Consultant".into())),
                telephone: Some(Some("1".into())),
                ..ProfilePatch::default()
            },
            ..UserPatch::default()
        };
        let next = leave.apply_to(&buyer());
        assert_eq!(next.profile.job_title.as_deref(), Some("Consultant"));
        assert_eq!(next.profile.telephone.as_deref(), Some("1"));
        let other = UserPatch {
            company_id: Some(Some(TWO)),
            parent_id: Some(Some(BOSS)),
            commerce_roles: Some(vec![
                CommerceRole::Orders,
                CommerceRole::Finance,
                CommerceRole::Orders,
            ]),
            org_role: Some(Some(OrgRole::Member)),
            ..UserPatch::default()
        };
        let next = other.apply_to(&buyer());
        assert_eq!(next.parent_id, Some(BOSS));
        assert_eq!(
            next.roles.commerce,
            [CommerceRole::Orders, CommerceRole::Finance]
        );
        assert_eq!(next.roles.org, Some(OrgRole::Member));
    }

    #[test]
    fn staying_keeps_everything_company_bound() {
        for patch in [to_company(Some(ONE)), UserPatch::default()] {
            let next = patch.apply_to(&buyer());
            assert_eq!(next.company_id, Some(ONE));
            assert_eq!(next.parent_id, Some(BOSS));
            assert_eq!(next.roles.commerce, [CommerceRole::Owner]);
            assert_eq!(next.roles.org, Some(OrgRole::Admin));
            assert_eq!(next.profile.job_title.as_deref(), Some("Buyer"));
            assert_eq!(next.profile.telephone.as_deref(), Some("512-555-3322"));
        }
    }

    #[test]
    fn a_patch_of_what_the_user_already_has_changes_nothing() {
        let current = User {
            store_ids: vec!["b".into(), "a".into()],
            ..buyer()
        };
        let same = UserPatch {
            company_id: Some(Some(ONE)),
            profile: ProfilePatch {
                name: Some(Some("Maria".into())),
                ..ProfilePatch::default()
            },
            commerce_roles: Some(vec![CommerceRole::Owner, CommerceRole::Owner]),
            store_ids: Some(vec!["a".into(), "b".into(), "a".into()]),
            ..UserPatch::default()
        };
        assert!(!same.apply_to(&current).changes(&current));
        assert!(!UserPatch::default().apply_to(&current).changes(&current));
        // Replacing the user with itself, as an upsert does, changes nothing.
        let itself = UserPatch::default().apply_to(&current);
        assert!(!UserPatch::replacing_with(itself)
            .apply_to(&current)
            .changes(&current));
    }

    #[test]
    fn any_difference_is_a_change() {
        let current = buyer();
        let changes = [
            UserPatch {
                profile: ProfilePatch {
                    name: Some(Some("maria".into())),
                    ..ProfilePatch::default()
                },
                ..UserPatch::default()
            },
            UserPatch {
                profile: ProfilePatch {
                    job_title: Some(None),
                    ..ProfilePatch::default()
                },
                ..UserPatch::default()
            },
            UserPatch {
                password_hash: Some("$argon2id$...".into()),
                ..UserPatch::default()
            },
            UserPatch {
                status: Some(UserStatus::Inactive),
                ..UserPatch::default()
            },
            UserPatch {
                commerce_roles: Some(vec![CommerceRole::Owner, CommerceRole::Orders]),
                ..UserPatch::default()
            },
            UserPatch {
                store_ids: Some(vec!["main".into()]),
                ..UserPatch::default()
            },
            UserPatch {
                tenant_role: Some(None),
                ..UserPatch::default()
            },
            // Leaving the company changes it, and what goes with it.
            to_company(None),
        ];
        for patch in changes {
            let described = format!("{patch:?}");
            assert!(patch.apply_to(&current).changes(&current), "{described}");
        }
    }

    #[test]
    fn a_user_in_no_company_keeps_its_data_when_told_none_again() {
        let mut loner = buyer();
        loner.company_id = None;
        loner.parent_id = None;
        loner.roles = Roles::default();
        let next = to_company(None).apply_to(&loner);
        assert_eq!(next.profile.job_title.as_deref(), Some("Buyer"));
        assert_eq!(next.profile.telephone.as_deref(), Some("512-555-3322"));
    }
}
