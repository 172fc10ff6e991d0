//! The built-in permission map (SPEC §1) and its evaluation.
//!
//! This module is the one source of truth for what a role grants: the `/v1`
//! authorization of bound API keys, `POST /v1/tenants/{t}/check` and the API
//! documentation all read [`grants_of`].

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::model::{
    vocabulary, AccountType, CommerceRole, OrgRole, PartnerRole, TenantRole, UserStatus,
};

vocabulary!(
    /// Something a user or credential may do.
    Permission {
        ManageTenant = "MANAGE_TENANT",
        ManageUsers = "MANAGE_USERS",
        ViewUsers = "VIEW_USERS",
        ManageCommerces = "MANAGE_COMMERCES",
        ManageStores = "MANAGE_STORES",
        ManageDevices = "MANAGE_DEVICES",
        ManageApiKeys = "MANAGE_API_KEYS",
        ViewAudit = "VIEW_AUDIT",
        ManageWebhooks = "MANAGE_WEBHOOKS",
        ManageCatalog = "MANAGE_CATALOG",
        ViewStore = "VIEW_STORE",
        ManageStore = "MANAGE_STORE",
        UsePos = "USE_POS",
        ManageCommerceUsers = "MANAGE_COMMERCE_USERS",
        PlaceOrders = "PLACE_ORDERS",
        ViewOrders = "VIEW_ORDERS",
        ViewInvoices = "VIEW_INVOICES",
        ManagePayments = "MANAGE_PAYMENTS",
        CustomerService = "CUSTOMER_SERVICE",
        ManageOrgUsers = "MANAGE_ORG_USERS",
        ManageCampaigns = "MANAGE_CAMPAIGNS",
        ViewCampaigns = "VIEW_CAMPAIGNS",
    }
);

/// Where a permission applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionScope {
    /// The tenant as a whole.
    Tenant,
    /// One store at a time.
    Store,
    /// One company at a time.
    Company,
}

impl Permission {
    /// The kind of place this permission is held at.
    pub fn scope(self) -> PermissionScope {
        use Permission::*;
        match self {
            ManageTenant | ManageUsers | ViewUsers | ManageCommerces | ManageStores
            | ManageDevices | ManageApiKeys | ViewAudit | ManageWebhooks => PermissionScope::Tenant,
            ManageCatalog | ViewStore | ManageStore | UsePos => PermissionScope::Store,
            ManageCommerceUsers | PlaceOrders | ViewOrders | ViewInvoices | ManagePayments
            | CustomerService | ManageOrgUsers | ManageCampaigns | ViewCampaigns => {
                PermissionScope::Company
            }
        }
    }
}

const COMMERCE_PERMISSIONS: &[Permission] = &[
    Permission::ManageCommerceUsers,
    Permission::PlaceOrders,
    Permission::ViewOrders,
    Permission::ViewInvoices,
    Permission::ManagePayments,
    Permission::CustomerService,
];

/// Where a grant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Everywhere in the tenant: the tenant itself, every store and company.
    Everywhere,
    /// The tenant as a whole (for tenant-wide permissions only).
    Tenant,
    /// Every store of the tenant.
    AllStores,
    /// These stores only.
    Stores(Vec<String>),
    /// This company only.
    Company(Uuid),
}

/// What one role of a user grants, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role, as shown in reasons: `tenant role ADMIN`.
    pub source: String,
    pub permissions: &'static [Permission],
    pub coverage: Coverage,
}

/// Everything about a user that decides its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub status: UserStatus,
    pub account_type: AccountType,
    pub company_id: Option<Uuid>,
    pub tenant_role: Option<TenantRole>,
    pub partner_role: Option<PartnerRole>,
    pub commerce_roles: Vec<CommerceRole>,
    pub org_role: Option<OrgRole>,
    pub store_ids: Vec<String>,
    /// How many stores the tenant has: a store-scoped permission asked
    /// without a store holds only when the user has it on all of them.
    pub tenant_store_count: i64,
    /// How many companies the tenant has, likewise.
    pub tenant_company_count: i64,
    /// The groups the user is a member of, each with what it grants.
    pub groups: Vec<GroupGrants>,
}

/// What one group grants its members (see [`crate::Group`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrants {
    /// The group's name, as shown in reasons: `group Cashiers: …`.
    pub name: String,
    /// A company's group: it counts only while the member is in it.
    pub company_id: Option<Uuid>,
    /// `ADMIN`, `BACKOFFICE` or `ACCESS` (a group never blocks).
    pub tenant_role: Option<TenantRole>,
    /// Commerce roles, in the group's company, else the member's.
    pub commerce_roles: Vec<CommerceRole>,
    /// The stores an `ACCESS` role covers; none: every store.
    pub store_ids: Vec<String>,
}

impl Subject {
    /// Whether the user may act at all (see [`crate::User::may_act`]).
    pub fn may_act(&self) -> bool {
        crate::rules::standing::may_act(self.status, self.tenant_role)
    }

    /// The tenant role the user holds: its own, else one a group of it
    /// grants (a company's group only while the user is in that company).
    pub fn held_tenant_role(&self) -> Option<TenantRole> {
        self.tenant_role.or_else(|| {
            self.groups
                .iter()
                .filter(|g| g.company_id.is_none() || g.company_id == self.company_id)
                .find_map(|g| g.tenant_role.filter(|r| *r != TenantRole::Blocked))
        })
    }
}

/// Where a permission is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub store_id: Option<String>,
    pub company_id: Option<Uuid>,
}

/// The answer to "may this user do that here?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    fn allow(reason: String) -> Self {
        Decision {
            allowed: true,
            reason,
        }
    }
    fn deny(reason: String) -> Self {
        Decision {
            allowed: false,
            reason,
        }
    }
}

/// The grants of a user's roles and of its groups' roles: the permission
/// map of SPEC §1.
pub fn grants_of(subject: &Subject) -> Vec<Grant> {
    let mut grants = Vec::new();
    let own = Held {
        tenant_role: subject.tenant_role,
        partner_role: subject.partner_role,
        commerce_roles: &subject.commerce_roles,
        org_role: subject.org_role,
        company_id: subject.company_id,
        store_ids: &subject.store_ids,
    };
    own.grants("", &mut grants);
    if subject.account_type == AccountType::Full {
        grants.push(Grant {
            source: "account type FULL".into(),
            permissions: &[Permission::ManageDevices],
            coverage: Coverage::Tenant,
        });
    }
    for group in &subject.groups {
        if group.company_id.is_some() && group.company_id != subject.company_id {
            // A company's group counts only for members of that company.
            continue;
        }
        group_grants(group, subject.company_id, &mut grants);
    }
    grants
}

/// What `group` grants a member whose company is `member_company`: its
/// tenant role, and its commerce roles in its own company or else the
/// member's (none without a company).
pub fn group_grants(group: &GroupGrants, member_company: Option<Uuid>, grants: &mut Vec<Grant>) {
    let held = Held {
        // A group never blocks: BLOCKED is refused when a group is made.
        tenant_role: group.tenant_role.filter(|r| *r != TenantRole::Blocked),
        partner_role: None,
        commerce_roles: &group.commerce_roles,
        org_role: None,
        company_id: group.company_id.or(member_company),
        store_ids: &group.store_ids,
    };
    held.grants(&format!("group {}: ", group.name), grants);
}

/// What a commerce role grants in its company.
pub fn commerce_permissions(role: CommerceRole) -> &'static [Permission] {
    use Permission::*;
    match role {
        CommerceRole::Owner => COMMERCE_PERMISSIONS,
        CommerceRole::Admin => &[ManageCommerceUsers, ViewOrders],
        CommerceRole::Orders | CommerceRole::CommerceRep => &[PlaceOrders, ViewOrders],
        CommerceRole::Finance => &[ViewInvoices, ManagePayments],
        CommerceRole::Attention => &[CustomerService],
        CommerceRole::Other => &[],
    }
}

/// Roles held, by a user or through a group, and where they apply.
struct Held<'a> {
    tenant_role: Option<TenantRole>,
    partner_role: Option<PartnerRole>,
    commerce_roles: &'a [CommerceRole],
    org_role: Option<OrgRole>,
    company_id: Option<Uuid>,
    store_ids: &'a [String],
}

impl Held<'_> {
    /// Appends what these roles grant, each grant's source prefixed by
    /// `prefix` (empty for a user's own roles).
    fn grants(&self, prefix: &str, grants: &mut Vec<Grant>) {
        use Permission::*;
        let own_stores = || Coverage::Stores(self.store_ids.to_vec());
        match self.tenant_role {
            Some(TenantRole::Admin) => grants.push(Grant {
                source: format!("{prefix}tenant role ADMIN"),
                permissions: Permission::ALL,
                coverage: Coverage::Everywhere,
            }),
            Some(TenantRole::Backoffice) => {
                grants.push(Grant {
                    source: format!("{prefix}tenant role BACKOFFICE"),
                    permissions: &[ViewUsers],
                    coverage: Coverage::Tenant,
                });
                grants.push(Grant {
                    source: format!("{prefix}tenant role BACKOFFICE"),
                    permissions: &[ManageCatalog, ViewStore, UsePos],
                    coverage: Coverage::AllStores,
                });
            }
            Some(TenantRole::Access) => grants.push(Grant {
                source: format!("{prefix}tenant role ACCESS"),
                permissions: &[UsePos],
                coverage: if self.store_ids.is_empty() {
                    Coverage::AllStores
                } else {
                    own_stores()
                },
            }),
            Some(TenantRole::Blocked) | None => {}
        }
        if let Some(role) = self.partner_role {
            let permissions: &'static [Permission] = match role {
                PartnerRole::Manager | PartnerRole::Api => &[ViewStore, ManageStore],
                PartnerRole::Viewer => &[ViewStore],
            };
            grants.push(Grant {
                source: format!("{prefix}partner role {role}"),
                permissions,
                coverage: own_stores(),
            });
        }
        if let Some(company) = self.company_id {
            for role in self.commerce_roles {
                grants.push(Grant {
                    source: format!("{prefix}commerce role {role}"),
                    permissions: commerce_permissions(*role),
                    coverage: Coverage::Company(company),
                });
            }
            if let Some(role) = self.org_role {
                let permissions: &'static [Permission] = match role {
                    OrgRole::Admin => &[ManageOrgUsers, ManageCampaigns, ViewCampaigns],
                    OrgRole::Manager => &[ManageCampaigns, ViewCampaigns],
                    OrgRole::Member => &[ViewCampaigns],
                };
                grants.push(Grant {
                    source: format!("{prefix}organisation role {role}"),
                    permissions,
                    coverage: Coverage::Company(company),
                });
            }
        }
    }
}

/// Decides whether `subject` holds `permission` at `target`.
///
/// The caller has already checked that the target's store and company exist
/// in the subject's tenant.
pub fn evaluate(subject: &Subject, permission: Permission, target: &Target) -> Decision {
    evaluate_with(subject, &grants_of(subject), permission, target)
}

/// [`evaluate`] over `grants`, which must be [`grants_of`] `subject`: for a
/// caller that answers many questions about one subject and works the
/// grants out once.
pub fn evaluate_with(
    subject: &Subject,
    grants: &[Grant],
    permission: Permission,
    target: &Target,
) -> Decision {
    if subject.status == UserStatus::Inactive {
        return Decision::deny("user is INACTIVE and holds no permissions".into());
    }
    if subject.tenant_role == Some(TenantRole::Blocked) {
        return Decision::deny("tenant role BLOCKED overrides every other role".into());
    }
    let grants: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.permissions.contains(&permission))
        .collect();
    let granted_by = |pred: &dyn Fn(&Coverage) -> bool| {
        grants
            .iter()
            .find(|g| pred(&g.coverage))
            .map(|g| g.source.as_str())
    };
    let found = match permission.scope() {
        PermissionScope::Tenant => {
            granted_by(&|c| matches!(c, Coverage::Everywhere | Coverage::Tenant))
        }
        PermissionScope::Store => match &target.store_id {
            Some(store) => granted_by(&|c| match c {
                Coverage::Everywhere | Coverage::AllStores => true,
                Coverage::Stores(ids) => ids.contains(store),
                Coverage::Tenant | Coverage::Company(_) => false,
            }),
            None => granted_by(&|c| matches!(c, Coverage::Everywhere | Coverage::AllStores))
                .or_else(|| {
                    let covered: BTreeSet<&String> = grants
                        .iter()
                        .filter_map(|g| match &g.coverage {
                            Coverage::Stores(ids) => Some(ids.iter()),
                            _ => None,
                        })
                        .flatten()
                        .collect();
                    let every = subject.tenant_store_count > 0
                        && covered.len() as i64 >= subject.tenant_store_count;
                    every.then_some("held on every store of the tenant")
                }),
        },
        PermissionScope::Company => match target.company_id {
            Some(company) => granted_by(&|c| match c {
                Coverage::Everywhere => true,
                Coverage::Company(id) => *id == company,
                Coverage::Tenant | Coverage::AllStores | Coverage::Stores(_) => false,
            }),
            None => granted_by(&|c| *c == Coverage::Everywhere).or_else(|| {
                let every = subject.tenant_company_count == 1
                    && grants
                        .iter()
                        .any(|g| matches!(g.coverage, Coverage::Company(_)));
                every.then_some("held in every company of the tenant")
            }),
        },
    };
    match found {
        Some(source) => Decision::allow(format!("granted by {source}")),
        None => Decision::deny(match (permission.scope(), target) {
            (PermissionScope::Store, Target { store_id: None, .. }) => {
                format!("no role grants {permission} on every store; name a store_id")
            }
            (
                PermissionScope::Store,
                Target {
                    store_id: Some(s), ..
                },
            ) => {
                format!("no role grants {permission} on store {s}")
            }
            (
                PermissionScope::Company,
                Target {
                    company_id: None, ..
                },
            ) => {
                format!("no role grants {permission} in every company; name a company_id")
            }
            (
                PermissionScope::Company,
                Target {
                    company_id: Some(c),
                    ..
                },
            ) => {
                format!("no role grants {permission} in company {c}")
            }
            (PermissionScope::Tenant, _) => format!("no role grants {permission} in the tenant"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            status: UserStatus::Active,
            account_type: AccountType::Regular,
            company_id: None,
            tenant_role: None,
            partner_role: None,
            commerce_roles: vec![],
            org_role: None,
            store_ids: vec![],
            tenant_store_count: 2,
            tenant_company_count: 2,
            groups: Vec::new(),
        }
    }

    fn at_store(s: &str) -> Target {
        Target {
            store_id: Some(s.into()),
            company_id: None,
        }
    }

    #[test]
    fn admin_holds_everything_everywhere() {
        let s = Subject {
            tenant_role: Some(TenantRole::Admin),
            ..subject()
        };
        for p in Permission::ALL {
            assert!(evaluate(&s, *p, &Target::default()).allowed, "{p}");
            assert!(evaluate(&s, *p, &at_store("s1")).allowed, "{p}");
        }
    }

    #[test]
    fn blocked_overrides_every_other_role() {
        let s = Subject {
            tenant_role: Some(TenantRole::Blocked),
            partner_role: Some(PartnerRole::Manager),
            account_type: AccountType::Full,
            store_ids: vec!["s1".into()],
            ..subject()
        };
        let d = evaluate(&s, Permission::ViewStore, &at_store("s1"));
        assert!(!d.allowed);
        assert!(d.reason.contains("BLOCKED"));
        assert!(!evaluate(&s, Permission::ManageDevices, &Target::default()).allowed);
    }

    #[test]
    fn inactive_users_hold_nothing() {
        let s = Subject {
            status: UserStatus::Inactive,
            tenant_role: Some(TenantRole::Admin),
            ..subject()
        };
        assert!(!evaluate(&s, Permission::ViewUsers, &Target::default()).allowed);
    }

    #[test]
    fn partner_roles_act_on_their_stores_only() {
        let s = Subject {
            partner_role: Some(PartnerRole::Viewer),
            store_ids: vec!["s1".into()],
            ..subject()
        };
        assert!(evaluate(&s, Permission::ViewStore, &at_store("s1")).allowed);
        assert!(!evaluate(&s, Permission::ViewStore, &at_store("s2")).allowed);
        assert!(!evaluate(&s, Permission::ManageStore, &at_store("s1")).allowed);
        assert!(!evaluate(&s, Permission::ViewStore, &Target::default()).allowed);
        let all = Subject {
            store_ids: vec!["s1".into(), "s2".into()],
            ..s
        };
        assert!(evaluate(&all, Permission::ViewStore, &Target::default()).allowed);
    }

    #[test]
    fn access_with_no_stores_uses_every_store() {
        let s = Subject {
            tenant_role: Some(TenantRole::Access),
            ..subject()
        };
        assert!(evaluate(&s, Permission::UsePos, &at_store("s9")).allowed);
        assert!(evaluate(&s, Permission::UsePos, &Target::default()).allowed);
        assert!(!evaluate(&s, Permission::ViewStore, &at_store("s9")).allowed);
    }

    #[test]
    fn commerce_roles_apply_in_their_company_only() {
        let mine = Uuid::now_v7();
        let other = Uuid::now_v7();
        let s = Subject {
            company_id: Some(mine),
            commerce_roles: vec![CommerceRole::Finance],
            ..subject()
        };
        let at = |c| Target {
            store_id: None,
            company_id: Some(c),
        };
        assert!(evaluate(&s, Permission::ViewInvoices, &at(mine)).allowed);
        assert!(!evaluate(&s, Permission::ViewInvoices, &at(other)).allowed);
        assert!(!evaluate(&s, Permission::PlaceOrders, &at(mine)).allowed);
        assert!(!evaluate(&s, Permission::ViewInvoices, &Target::default()).allowed);
    }

    #[test]
    fn owner_holds_every_commerce_permission_but_no_tenant_one() {
        let c = Uuid::now_v7();
        let s = Subject {
            company_id: Some(c),
            commerce_roles: vec![CommerceRole::Owner],
            ..subject()
        };
        for p in COMMERCE_PERMISSIONS {
            assert!(
                evaluate(
                    &s,
                    *p,
                    &Target {
                        store_id: None,
                        company_id: Some(c)
                    }
                )
                .allowed
            );
        }
        assert!(!evaluate(&s, Permission::ManageUsers, &Target::default()).allowed);
        assert!(
            !evaluate(
                &s,
                Permission::ManageCampaigns,
                &Target {
                    store_id: None,
                    company_id: Some(c)
                }
            )
            .allowed
        );
    }

    #[test]
    fn backoffice_views_users_tenant_wide_and_works_every_store() {
        let s = Subject {
            tenant_role: Some(TenantRole::Backoffice),
            ..subject()
        };
        assert!(evaluate(&s, Permission::ViewUsers, &Target::default()).allowed);
        assert!(evaluate(&s, Permission::ManageCatalog, &at_store("s2")).allowed);
        assert!(evaluate(&s, Permission::UsePos, &Target::default()).allowed);
        assert!(!evaluate(&s, Permission::ManageUsers, &Target::default()).allowed);
        assert!(!evaluate(&s, Permission::ManageStore, &at_store("s2")).allowed);
    }

    #[test]
    fn full_accounts_manage_devices() {
        let s = Subject {
            account_type: AccountType::Full,
            ..subject()
        };
        assert!(evaluate(&s, Permission::ManageDevices, &Target::default()).allowed);
        assert!(!evaluate(&s, Permission::ManageUsers, &Target::default()).allowed);
    }

    #[test]
    fn every_permission_has_a_scope_and_a_wire_name() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
            let _ = p.scope();
        }
        assert_eq!(Permission::parse("manage_users"), None);
    }

    fn group(name: &str, company: Option<Uuid>) -> GroupGrants {
        GroupGrants {
            name: name.into(),
            company_id: company,
            tenant_role: None,
            commerce_roles: vec![],
            store_ids: vec![],
        }
    }

    #[test]
    fn members_hold_their_groups_grants_and_the_reason_names_the_group() {
        let cashiers = GroupGrants {
            tenant_role: Some(TenantRole::Access),
            store_ids: vec!["s1".into()],
            ..group("Cashiers", None)
        };
        let s = Subject {
            groups: vec![cashiers],
            ..subject()
        };
        let at_s1 = evaluate(&s, Permission::UsePos, &at_store("s1"));
        assert!(at_s1.allowed);
        assert!(
            at_s1.reason.contains("group Cashiers: tenant role ACCESS"),
            "{}",
            at_s1.reason
        );
        assert!(!evaluate(&s, Permission::UsePos, &at_store("s2")).allowed);
        // Not a member: nothing.
        assert!(!evaluate(&subject(), Permission::UsePos, &at_store("s1")).allowed);
    }

    #[test]
    fn a_groups_commerce_roles_apply_in_its_company_or_the_members() {
        let (own, other) = (Uuid::now_v7(), Uuid::now_v7());
        let in_company = |c: Uuid| Target {
            store_id: None,
            company_id: Some(c),
        };
        let buyers = GroupGrants {
            commerce_roles: vec![CommerceRole::Orders],
            ..group("Buyers", None)
        };
        let member = Subject {
            company_id: Some(own),
            groups: vec![buyers.clone()],
            ..subject()
        };
        assert!(evaluate(&member, Permission::PlaceOrders, &in_company(own)).allowed);
        assert!(!evaluate(&member, Permission::PlaceOrders, &in_company(other)).allowed);
        // Without a company, a tenant-wide group's commerce roles grant nothing.
        let loner = Subject {
            groups: vec![buyers],
            ..subject()
        };
        assert!(!evaluate(&loner, Permission::PlaceOrders, &in_company(own)).allowed);
        // A company's group counts only for members of that company.
        let finance = GroupGrants {
            commerce_roles: vec![CommerceRole::Finance],
            tenant_role: Some(TenantRole::Backoffice),
            ..group("Finance", Some(other))
        };
        let moved = Subject {
            company_id: Some(own),
            groups: vec![finance.clone()],
            ..subject()
        };
        assert!(!evaluate(&moved, Permission::ViewInvoices, &in_company(other)).allowed);
        assert!(!evaluate(&moved, Permission::ViewUsers, &Target::default()).allowed);
        let stayed = Subject {
            company_id: Some(other),
            groups: vec![finance],
            ..subject()
        };
        assert!(evaluate(&stayed, Permission::ViewInvoices, &in_company(other)).allowed);
    }

    #[test]
    fn a_group_never_unblocks_or_revives() {
        let admins = GroupGrants {
            tenant_role: Some(TenantRole::Admin),
            ..group("Admins", None)
        };
        let blocked = Subject {
            tenant_role: Some(TenantRole::Blocked),
            groups: vec![admins.clone()],
            ..subject()
        };
        assert!(!evaluate(&blocked, Permission::ManageUsers, &Target::default()).allowed);
        let inactive = Subject {
            status: UserStatus::Inactive,
            groups: vec![admins],
            ..subject()
        };
        assert!(!evaluate(&inactive, Permission::ManageUsers, &Target::default()).allowed);
    }
}
