//! What a credential holds, and the rule that it grants only what it holds
//! (SPEC §7): no credential hands out a permission, at a place, that it
//! does not hold there itself.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::model::{AccountType, Roles, TenantRole, UserStatus};
use crate::permission::{
    self, grants_of, Coverage, Grant, GroupGrants, Permission, Subject, Target,
};

/// What a credential holds in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// The platform operator's token: everything.
    Everything,
    /// A permission key: exactly these permissions, wherever they apply.
    Permissions(Vec<Permission>),
    /// A user, directly or through a bound key: what its roles grant.
    User(Box<Subject>),
}

/// One permission at one place: the unit a grant is checked in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// Everywhere the permission applies: the tenant, every store, every
    /// company.
    Anywhere,
    /// One store.
    Store(String),
    /// One company.
    Company(Uuid),
}

/// A permission a change would confer that the caller does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.0, .1))]
pub struct NotHeld(pub Permission, pub Place);

fn describe(permission: &Permission, place: &Place) -> String {
    match place {
        Place::Anywhere => format!(
            "the credential may grant only what it holds: it lacks {permission} tenant-wide"
        ),
        Place::Store(s) => format!(
            "the credential may grant only what it holds: it lacks {permission} on store {s}"
        ),
        Place::Company(c) => format!(
            "the credential may grant only what it holds: it lacks {permission} in company {c}"
        ),
    }
}

/// The permissions a set of grants confers, one per place.
pub fn conferred(grants: &[Grant]) -> BTreeSet<(Permission, Place)> {
    let mut out = BTreeSet::new();
    for grant in grants {
        for &p in grant.permissions {
            match &grant.coverage {
                Coverage::Everywhere | Coverage::Tenant | Coverage::AllStores => {
                    out.insert((p, Place::Anywhere));
                }
                Coverage::Stores(ids) => {
                    for id in ids {
                        out.insert((p, Place::Store(id.clone())));
                    }
                }
                Coverage::Company(c) => {
                    out.insert((p, Place::Company(*c)));
                }
            }
        }
    }
    out
}

/// The grants a user in a given state holds, as far as granting goes:
/// nothing while it may not act; otherwise its tenant role, partner role on
/// its stores, commerce roles in its company and account type. Organisation
/// roles (seed 004) are left out: that surface lets whoever may manage an
/// organisation's users set their organisation role (MANAGE_USERS, or
/// MANAGE_ORG_USERS there), and they grant nothing outside the organisation.
pub fn user_grants(
    status: UserStatus,
    account_type: AccountType,
    company_id: Option<Uuid>,
    roles: &Roles,
    store_ids: &[String],
) -> Vec<Grant> {
    let subject = Subject {
        status,
        account_type,
        company_id,
        tenant_role: roles.tenant,
        partner_role: roles.partner,
        commerce_roles: roles.commerce.clone(),
        org_role: None,
        store_ids: store_ids.to_vec(),
        tenant_store_count: 0,
        tenant_company_count: 0,
        groups: Vec::new(),
    };
    if !subject.may_act() {
        return Vec::new();
    }
    grants_of(&subject)
}

/// What a change confers: every permission, at every place, of each grant
/// the user holds after the change and did not hold before. A grant that
/// changed (a role swapped for another, a store set widened or narrowed)
/// counts whole: changing a user to a role or store set needs everything
/// that role or set confers (SPEC §7).
pub fn newly_conferred(before: &[Grant], after: &[Grant]) -> BTreeSet<(Permission, Place)> {
    let new: Vec<Grant> = after
        .iter()
        .filter(|g| !before.contains(g))
        .cloned()
        .collect();
    conferred(&new)
}

/// What a group confers on its members, for *grant only what you hold*:
/// its tenant role's grants, and its commerce roles in its company, or, for
/// a tenant-wide group (whose roles apply in each member's company), in
/// every company. Changing a group, or adding a member, needs all of it.
pub fn conferred_by_group(group: &GroupGrants) -> BTreeSet<(Permission, Place)> {
    let mut grants = Vec::new();
    permission::group_grants(group, None, &mut grants);
    let mut out = conferred(&grants);
    if group.company_id.is_none() {
        for role in &group.commerce_roles {
            for &p in permission::commerce_permissions(*role) {
                out.insert((p, Place::Anywhere));
            }
        }
    }
    out
}

/// What a permission key listing `permissions` confers: each anywhere.
pub fn conferred_by_key(permissions: &[Permission]) -> BTreeSet<(Permission, Place)> {
    permissions.iter().map(|&p| (p, Place::Anywhere)).collect()
}

/// What an invitation with this role and account type confers once accepted
/// by a new user (no stores: an `ACCESS` user then works on every store).
pub fn conferred_by_invitation(
    tenant_role: TenantRole,
    account_type: AccountType,
) -> BTreeSet<(Permission, Place)> {
    let roles = Roles {
        tenant: Some(tenant_role),
        ..Roles::default()
    };
    conferred(&user_grants(
        UserStatus::Active,
        account_type,
        None,
        &roles,
        &[],
    ))
}

impl Authority {
    /// Whether the credential holds `permission` at `target`.
    pub fn holds(&self, permission: Permission, target: &Target) -> bool {
        match self {
            Authority::Everything => true,
            Authority::Permissions(held) => held.contains(&permission),
            Authority::User(subject) => permission::evaluate(subject, permission, target).allowed,
        }
    }

    /// Whether the credential holds `permission` at `place`.
    pub fn holds_at(&self, permission: Permission, place: &Place) -> bool {
        let target = match place {
            Place::Anywhere => {
                // Anywhere needs the permission with nothing named: for a
                // store permission on every store, for a company permission
                // in every company.
                if let Authority::User(subject) = self {
                    let everywhere = grants_of(subject).iter().any(|g| {
                        g.coverage == Coverage::Everywhere && g.permissions.contains(&permission)
                    });
                    if everywhere {
                        return subject.may_act();
                    }
                }
                Target::default()
            }
            Place::Store(s) => Target {
                store_id: Some(s.clone()),
                company_id: None,
            },
            Place::Company(c) => Target {
                store_id: None,
                company_id: Some(*c),
            },
        };
        self.holds(permission, &target)
    }

    /// Grant only what you hold: every permission a change confers must be
    /// held by this credential at the same place.
    pub fn may_confer(&self, conferred: &BTreeSet<(Permission, Place)>) -> Result<(), NotHeld> {
        for (permission, place) in conferred {
            if !self.holds_at(*permission, place) {
                return Err(NotHeld(*permission, place.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(tenant_role: Option<TenantRole>, store_ids: &[&str]) -> Subject {
        Subject {
            status: UserStatus::Active,
            account_type: AccountType::Regular,
            company_id: None,
            tenant_role,
            partner_role: None,
            commerce_roles: Vec::new(),
            org_role: None,
            store_ids: store_ids.iter().map(|s| s.to_string()).collect(),
            tenant_store_count: 3,
            tenant_company_count: 2,
            groups: Vec::new(),
        }
    }

    fn user_roles(tenant: Option<TenantRole>) -> Roles {
        Roles {
            tenant,
            ..Roles::default()
        }
    }

    fn grants(role: Option<TenantRole>, stores: &[&str]) -> Vec<Grant> {
        let stores: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
        user_grants(
            UserStatus::Active,
            AccountType::Regular,
            None,
            &user_roles(role),
            &stores,
        )
    }

    fn confers(role: Option<TenantRole>, stores: &[&str]) -> BTreeSet<(Permission, Place)> {
        newly_conferred(&[], &grants(role, stores))
    }

    #[test]
    fn only_admin_makes_admin() {
        let admin = confers(Some(TenantRole::Admin), &[]);
        assert!(Authority::Everything.may_confer(&admin).is_ok());
        let admin_user = Authority::User(Box::new(subject(Some(TenantRole::Admin), &[])));
        assert!(admin_user.may_confer(&admin).is_ok());
        let manager = Authority::Permissions(vec![Permission::ManageUsers]);
        assert!(manager.may_confer(&admin).is_err());
        let backoffice = Authority::User(Box::new(subject(Some(TenantRole::Backoffice), &[])));
        assert!(backoffice.may_confer(&admin).is_err());
    }

    #[test]
    fn keys_grant_only_their_permissions() {
        let key = Authority::Permissions(vec![Permission::ManageApiKeys, Permission::ViewUsers]);
        assert!(key
            .may_confer(&conferred_by_key(&[Permission::ViewUsers]))
            .is_ok());
        assert_eq!(
            key.may_confer(&conferred_by_key(&[Permission::ManageUsers])),
            Err(NotHeld(Permission::ManageUsers, Place::Anywhere))
        );
    }

    #[test]
    fn store_access_only_on_held_stores() {
        // An ACCESS user on store a may not hand out USE_POS on store b, nor
        // on every store (an ACCESS user without stores).
        let cashier = Authority::User(Box::new(subject(Some(TenantRole::Access), &["a"])));
        assert!(cashier
            .may_confer(&confers(Some(TenantRole::Access), &["a"]))
            .is_ok());
        assert_eq!(
            cashier.may_confer(&confers(Some(TenantRole::Access), &["b"])),
            Err(NotHeld(Permission::UsePos, Place::Store("b".into())))
        );
        assert!(cashier
            .may_confer(&confers(Some(TenantRole::Access), &[]))
            .is_err());
    }

    #[test]
    fn keeping_or_removing_needs_nothing_but_a_new_role_counts_whole() {
        let nobody = Authority::Permissions(vec![Permission::ManageUsers]);
        let admin = grants(Some(TenantRole::Admin), &[]);
        assert!(nobody.may_confer(&newly_conferred(&admin, &admin)).is_ok());
        assert!(nobody.may_confer(&newly_conferred(&admin, &[])).is_ok());
        // ADMIN to ACCESS is a new role: it needs USE_POS on every store.
        let access = grants(Some(TenantRole::Access), &[]);
        assert_eq!(
            nobody.may_confer(&newly_conferred(&admin, &access)),
            Err(NotHeld(Permission::UsePos, Place::Anywhere))
        );
    }

    #[test]
    fn reactivating_confers_again() {
        let inactive = user_grants(
            UserStatus::Inactive,
            AccountType::Regular,
            None,
            &user_roles(Some(TenantRole::Admin)),
            &[],
        );
        assert!(inactive.is_empty());
        let nobody = Authority::Permissions(vec![Permission::ManageUsers]);
        let active = grants(Some(TenantRole::Admin), &[]);
        assert!(nobody
            .may_confer(&newly_conferred(&inactive, &active))
            .is_err());
    }

    #[test]
    fn a_blocked_user_holds_nothing() {
        let blocked = Authority::User(Box::new(subject(Some(TenantRole::Blocked), &[])));
        assert!(!blocked.holds_at(Permission::UsePos, &Place::Anywhere));
    }

    #[test]
    fn full_accounts_confer_manage_devices() {
        let full = conferred_by_invitation(TenantRole::Access, AccountType::Full);
        assert!(full.contains(&(Permission::ManageDevices, Place::Anywhere)));
        let key = Authority::Permissions(vec![Permission::UsePos]);
        assert_eq!(
            key.may_confer(&full),
            Err(NotHeld(Permission::ManageDevices, Place::Anywhere))
        );
    }
}
