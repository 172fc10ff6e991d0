//! "May this user do that here?": the check, answered from the user's facts
//! (cached, or one read) and the core's permission map.

use roster_core::{permission, Decision, Permission, Target};
use uuid::Uuid;

pub use crate::cache::Consistency;
use crate::cache::Facts;
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
        judge(question, facts)
    }

    /// Answers many questions (VIEW_USERS), in order, each on its own: an
    /// unknown user, store or company is that question's 404. Facts come
    /// from the cache where fresh; all the others are read at once.
    pub async fn decide_all(
        &self,
        scope: &Scope,
        questions: Vec<Question>,
    ) -> AppResult<Vec<AppResult<Decision>>> {
        scope.require(Permission::ViewUsers)?;
        let tenant = scope.tenant();
        let known = self.app.cached_facts(tenant, &questions);
        let missing: Vec<&Question> = questions
            .iter()
            .zip(&known)
            .filter(|(_, facts)| facts.is_none())
            .map(|(question, _)| question)
            .collect();
        let read = self.app.read_facts(tenant, &missing).await?;
        Ok(questions
            .into_iter()
            .zip(known)
            .map(|(question, facts)| {
                let facts = facts.unwrap_or_else(|| read.of(&question));
                judge(question, facts)
            })
            .collect())
    }
}

/// The core's answer to `question` over `facts`.
fn judge(question: Question, facts: Facts) -> AppResult<Decision> {
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
    Ok(permission::evaluate_with(
        &subject.subject,
        &subject.grants,
        question.permission,
        &target,
    ))
}
