//! The facts of a permission check, in one round trip: [`CheckStore`].

use async_trait::async_trait;
use roster_core::{AccountType, Subject, UserStatus};
use uuid::Uuid;

use super::user_rows::{roles_from, AssignmentRow};
use super::{corrupt, opt_uuid, word, SqlStore};
use crate::{CheckFacts, CheckStore, Result};

#[derive(sqlx::FromRow)]
pub(super) struct FactRow {
    pub(super) k: String,
    pub(super) a: Option<String>,
    pub(super) b: Option<String>,
    pub(super) c: Option<String>,
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
        // One round trip of indexed lookups; each branch tags its rows.
        let rows: Vec<FactRow> = sqlx::query_as(
            "SELECT 'user' AS k, status AS a, account_type AS b, company_id AS c \
               FROM users WHERE tenant_id = $1 AND id = $2 \
             UNION ALL SELECT 'role', vocabulary, role, scope_id \
               FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 \
             UNION ALL SELECT 'store', store_id, NULL, NULL \
               FROM user_stores WHERE tenant_id = $1 AND user_id = $2 \
             UNION ALL SELECT 'stores', CAST(COUNT(*) AS TEXT), NULL, NULL \
               FROM stores WHERE tenant_id = $1 \
             UNION ALL SELECT 'companies', CAST(COUNT(*) AS TEXT), NULL, NULL \
               FROM companies WHERE tenant_id = $1 \
             UNION ALL SELECT 'store_exists', id, NULL, NULL \
               FROM stores WHERE tenant_id = $1 AND id = $3 \
             UNION ALL SELECT 'company_exists', id, NULL, NULL \
               FROM companies WHERE tenant_id = $1 AND id = $4",
        )
        .bind(tenant)
        .bind(user.to_string())
        .bind(store)
        .bind(company.map(|c| c.to_string()))
        .fetch_all(&self.read)
        .await?;
        let mut facts = CheckFacts {
            subject: None,
            store_exists: false,
            company_exists: false,
        };
        let (mut store_count, mut company_count) = (0, 0);
        let mut assignments = Vec::new();
        let mut store_ids = Vec::new();
        let mut head = None;
        for row in rows {
            let a = row.a.unwrap_or_default();
            match row.k.as_str() {
                "user" => head = Some((a, row.b.unwrap_or_default(), row.c)),
                "role" => assignments.push(AssignmentRow {
                    user_id: String::new(),
                    vocabulary: a,
                    role: row.b.unwrap_or_default(),
                }),
                "store" => store_ids.push(a),
                "stores" => store_count = a.parse().unwrap_or(0),
                "companies" => company_count = a.parse().unwrap_or(0),
                "store_exists" => facts.store_exists = true,
                "company_exists" => facts.company_exists = true,
                other => return Err(corrupt("fact", other)),
            }
        }
        if let Some((status, account_type, company_id)) = head {
            let roles = roles_from(&assignments.iter().collect::<Vec<_>>())?;
            facts.subject = Some(Subject {
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
            });
        }
        Ok(facts)
    }

    fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }
}
