//! "May this user do that here?": the check, answered from the user's facts
//! (cached, or one read) and the core's permission map.

use roster_core::{permission, Decision, Permission, Target};
use uuid::Uuid;

pub use crate::cache::Consistency;
use crate::caller::Scope;
use crate::error::{AppError, AppResult};
use crate::App;

/// One question.
#[derive(Debug, Clone)]
pub struct Question {
    pub user_id: Uuid,
    pub permission: Permission,
    pub store_id: Option<String>,
    pub company_id: Option<Uuid>,
    /// How fresh the facts must be.
    pub consistency: Consistency,
}

/// The check.
pub struct Checks<'a> {
    app: &'a App,
}

impl App {
    /// The check.
    pub fn checks(&self) -> Checks<'_> {
        Checks { app: self }
    }
}

impl Checks<'_> {
    /// Answers one question (VIEW_USERS). An unknown user, store or company
    /// of the tenant is 404.
    pub async fn decide(&self, scope: &Scope, question: Question) -> AppResult<Decision> {
        scope.require(Permission::ViewUsers)?;
        let facts = self
            .app
            .check_facts(
                scope.tenant(),
                question.user_id,
                question.store_id.as_deref(),
                question.company_id,
                question.consistency,
            )
            .await?;
        let subject = facts
            .subject
            .ok_or_else(|| AppError::NotFound("user not found".into()))?;
        if question.store_id.is_some() && !facts.store_exists {
            return Err(AppError::NotFound("store not found".into()));
        }
        if question.company_id.is_some() && !facts.company_exists {
            return Err(AppError::NotFound("company not found".into()));
        }
        let target = Target {
            store_id: question.store_id,
            company_id: question.company_id,
        };
        Ok(permission::evaluate(&subject, question.permission, &target))
    }
}
