//! What a group may carry: a name, and grants a member may hold through it.

use crate::model::{CommerceRole, TenantRole};
use crate::validate::{self, FieldError, Validation};

/// The longest group name.
pub const NAME_MAX: usize = 200;

/// The tenant roles a group may carry (never `BLOCKED`).
pub const TENANT_ROLES: &[TenantRole] = &[
    TenantRole::Admin,
    TenantRole::Backoffice,
    TenantRole::Access,
];

/// A group's grants as asked for, before they are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupGrantsDraft {
    pub tenant_role: Option<TenantRole>,
    pub roles: Vec<CommerceRole>,
    pub store_ids: Vec<String>,
}

/// A group's name: trimmed, 1 to [`NAME_MAX`] characters.
pub fn name(value: &str) -> Result<String, String> {
    validate::text(value, NAME_MAX)
}

/// A group's external id (an identity provider's): 1 to 255 characters.
pub fn external_id(value: &str) -> Result<String, String> {
    validate::text(value, 255)
}

/// The key two names of one tenant (or company) may not share: names are
/// unique without case, as identity providers compare them.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Checks a group's grants and puts them in canonical form (roles and
/// stores sorted, each once). A group never carries `BLOCKED`: blocking is
/// a user's own tenant role, which no membership may override.
pub fn grants(draft: GroupGrantsDraft) -> Result<GroupGrantsDraft, Vec<FieldError>> {
    let mut v = Validation::new();
    if draft
        .tenant_role
        .is_some_and(|r| !TENANT_ROLES.contains(&r))
    {
        v.add(
            "tenant_role",
            "a group cannot carry BLOCKED; block the user instead",
        );
    }
    let mut store_ids = Vec::with_capacity(draft.store_ids.len());
    for (i, id) in draft.store_ids.iter().enumerate() {
        if let Some(id) = v.check(&format!("store_ids[{i}]"), validate::identifier(id)) {
            store_ids.push(id);
        }
    }
    v.finish()?;
    let mut roles = draft.roles;
    roles.sort();
    roles.dedup();
    store_ids.sort();
    store_ids.dedup();
    Ok(GroupGrantsDraft {
        tenant_role: draft.tenant_role,
        roles,
        store_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_compared_without_case() {
        assert_eq!(name("  Cashiers ").unwrap(), "Cashiers");
        assert!(name(" ").is_err());
        assert!(name(&"x".repeat(NAME_MAX + 1)).is_err());
        assert_eq!(name_key("Cashiers"), name_key("CASHIERS"));
    }

    #[test]
    fn grants_are_canonical_and_never_block() {
        let draft = GroupGrantsDraft {
            tenant_role: Some(TenantRole::Access),
            roles: vec![
                CommerceRole::Orders,
                CommerceRole::Finance,
                CommerceRole::Orders,
            ],
            store_ids: vec!["b".into(), "a".into(), "b".into()],
        };
        let checked = grants(draft).unwrap();
        assert_eq!(
            checked.roles,
            vec![CommerceRole::Orders, CommerceRole::Finance]
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(checked.store_ids, vec!["a", "b"]);
        let blocked = GroupGrantsDraft {
            tenant_role: Some(TenantRole::Blocked),
            store_ids: vec!["no spaces".into()],
            ..GroupGrantsDraft::default()
        };
        let errors = grants(blocked).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["tenant_role", "store_ids[0]"]);
    }
}
