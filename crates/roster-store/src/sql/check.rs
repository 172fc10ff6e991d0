//! The facts of a permission check, in one round trip: [`CheckStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use roster_core::permission::GroupGrants;
use roster_core::{AccountType, CommerceRole, Subject, TenantRole, UserStatus};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::user_rows::roles_from;
use super::{corrupt, opt_uuid, uuid, word, Db, SqlStore};
use crate::{CheckFacts, CheckStore, ManyFacts, Result};

#[derive(sqlx::FromRow)]
pub(super) struct FactRow {
    pub(super) k: String,
    pub(super) u: Option<String>,
    pub(super) a: Option<String>,
    pub(super) b: Option<String>,
    pub(super) c: Option<String>,
}

/// Appends ` IN (…)` over `values` (`IN (NULL)`, which matches nothing,
/// when there are none).
fn push_in<'a>(q: &mut QueryBuilder<'a, Db>, values: impl IntoIterator<Item = String>) {
    q.push(" IN (");
    let mut any = false;
    let mut list = q.separated(", ");
    for value in values {
        list.push_bind(value);
        any = true;
    }
    if !any {
        list.push("NULL");
    }
    q.push(")");
}

#[async_trait]
impl CheckStore for SqlStore {
    async fn check_facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
    ) -> Result<CheckFacts> {
        let mut many = self
            .check_facts_of(
                tenant,
                &[user],
                &store.map(String::from).into_iter().collect::<Vec<_>>(),
                &company.into_iter().collect::<Vec<_>>(),
            )
            .await?;
        Ok(CheckFacts {
            subject: many.subjects.remove(&user),
            store_exists: store.is_some_and(|s| many.stores.contains(s)),
            company_exists: company.is_some_and(|c| many.companies.contains(&c)),
        })
    }

    async fn check_facts_of(
        &self,
        tenant: &str,
        users: &[Uuid],
        stores: &[String],
        companies: &[Uuid],
    ) -> Result<ManyFacts> {
        // One round trip of indexed lookups; each branch tags its rows.
        let user_ids = || users.iter().map(Uuid::to_string);
        let mut q = QueryBuilder::<Db>::new(
            "SELECT 'user' AS k, id AS u, status AS a, account_type AS b, company_id AS c \
             FROM users WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'role', user_id, vocabulary, role, scope_id \
             FROM role_assignments WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND user_id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'store', user_id, store_id, NULL, NULL \
             FROM user_stores WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND user_id");
        push_in(&mut q, user_ids());
        // The groups of each user: the group (id, name, company, tenant
        // role), then its commerce roles and its stores.
        q.push(
            " UNION ALL SELECT 'group', m.user_id, g.id, g.name, g.company_id \
             FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
             WHERE m.tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND m.user_id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'group_grant', m.user_id, g.id, 'tenant', g.tenant_role \
             FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
             WHERE g.tenant_role IS NOT NULL AND m.tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND m.user_id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'group_grant', m.user_id, r.group_id, 'commerce', r.role \
             FROM group_members m JOIN group_roles r ON r.tenant_id = m.tenant_id \
             AND r.group_id = m.group_id WHERE m.tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND m.user_id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'group_grant', m.user_id, s.group_id, 'store', s.store_id \
             FROM group_members m JOIN group_stores s ON s.tenant_id = m.tenant_id \
             AND s.group_id = m.group_id WHERE m.tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND m.user_id");
        push_in(&mut q, user_ids());
        q.push(
            " UNION ALL SELECT 'stores', NULL, CAST(COUNT(*) AS TEXT), NULL, NULL \
             FROM stores WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        q.push(
            " UNION ALL SELECT 'companies', NULL, CAST(COUNT(*) AS TEXT), NULL, NULL \
             FROM companies WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        q.push(
            " UNION ALL SELECT 'store_exists', NULL, id, NULL, NULL FROM stores WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND id");
        push_in(&mut q, stores.iter().cloned());
        q.push(
            " UNION ALL SELECT 'company_exists', NULL, id, NULL, NULL \
             FROM companies WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND id");
        push_in(&mut q, companies.iter().map(Uuid::to_string));
        let rows: Vec<FactRow> = q.build_query_as().fetch_all(&self.read).await?;

        let mut facts = ManyFacts::default();
        let (mut store_count, mut company_count) = (0, 0);
        type Head = (String, String, Option<String>);
        let mut found: HashMap<String, (Option<Head>, Vec<(String, String)>, Vec<String>)> =
            HashMap::new();
        // Each user's groups by id, in the order their rows came.
        let mut groups: HashMap<String, Vec<(String, GroupGrants)>> = HashMap::new();
        let mut grants_of_groups: Vec<(String, String, String, String)> = Vec::new();
        for row in rows {
            let a = row.a.unwrap_or_default();
            let user = row.u.unwrap_or_default();
            match row.k.as_str() {
                "user" => {
                    found.entry(user).or_default().0 = Some((a, row.b.unwrap_or_default(), row.c))
                }
                "role" => found
                    .entry(user)
                    .or_default()
                    .1
                    .push((a, row.b.unwrap_or_default())),
                "store" => found.entry(user).or_default().2.push(a),
                "group" => groups.entry(user).or_default().push((
                    a,
                    GroupGrants {
                        name: row.b.unwrap_or_default(),
                        company_id: opt_uuid(row.c)?,
                        tenant_role: None,
                        commerce_roles: Vec::new(),
                        store_ids: Vec::new(),
                    },
                )),
                "group_grant" => grants_of_groups.push((
                    user,
                    a,
                    row.b.unwrap_or_default(),
                    row.c.unwrap_or_default(),
                )),
                "stores" => store_count = a.parse().unwrap_or(0),
                "companies" => company_count = a.parse().unwrap_or(0),
                "store_exists" => {
                    facts.stores.insert(a);
                }
                "company_exists" => {
                    facts.companies.insert(uuid(&a)?);
                }
                other => return Err(corrupt("fact", other)),
            }
        }
        for (user, group, kind, value) in grants_of_groups {
            let Some((_, grants)) = groups
                .get_mut(&user)
                .and_then(|gs| gs.iter_mut().find(|(id, _)| *id == group))
            else {
                continue;
            };
            match kind.as_str() {
                "tenant" => grants.tenant_role = Some(word(&value, TenantRole::parse)?),
                "commerce" => grants
                    .commerce_roles
                    .push(word(&value, CommerceRole::parse)?),
                _ => grants.store_ids.push(value),
            }
        }
        for (id, (head, assignments, mut store_ids)) in found {
            let Some((status, account_type, company_id)) = head else {
                continue;
            };
            // Sorted as the single read's `ORDER BY`-free union may not be.
            store_ids.sort();
            let roles = roles_from(assignments.iter().map(|(v, r)| (v.as_str(), r.as_str())))?;
            // By name, so the first group to grant a permission is stable.
            let mut groups_of_user = groups.remove(&id).unwrap_or_default();
            groups_of_user.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            let subject = Subject {
                status: word(&status, UserStatus::parse)?,
                account_type: word(&account_type, AccountType::parse)?,
                company_id: opt_uuid(company_id)?,
                tenant_role: roles.tenant,
                partner_role: roles.partner,
                commerce_roles: roles.commerce,
                org_role: roles.org,
                store_ids,
                tenant_store_count: store_count,
                tenant_company_count: company_count,
                groups: groups_of_user
                    .into_iter()
                    .map(|(_, mut grants)| {
                        grants.commerce_roles.sort();
                        grants.store_ids.sort();
                        grants
                    })
                    .collect(),
            };
            facts.subjects.insert(uuid(&id)?, subject);
        }
        Ok(facts)
    }

    fn changes(&self) -> &crate::Changes {
        &self.changes
    }

    fn horizon(&self) -> crate::Horizon {
        self.change_horizon()
    }

    fn watch_changes(&self, heartbeat: std::time::Duration) {
        self.watch(heartbeat)
    }
}
