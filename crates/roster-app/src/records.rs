//! Quotes and orders of company users (MANAGE_COMMERCES), and the audit log
//! (VIEW_AUDIT).

use roster_core::{AuditEvent, Order, Permission, Quote};
use roster_store::{
    EventFilter, Listed, NewOrder, NewQuote, OrderPatch, Page, QuotePatch, RecordFilter,
};
use uuid::Uuid;

use crate::caller::Scope;
use crate::error::AppResult;
use crate::App;

/// Quotes and orders.
pub struct Records<'a> {
    app: &'a App,
}

impl App {
    /// Quotes and orders.
    pub fn records(&self) -> Records<'_> {
        Records { app: self }
    }
}

impl Records<'_> {
    pub async fn create_quote(&self, scope: &Scope, new: NewQuote) -> AppResult<Quote> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .create_quote(scope.tenant(), new, scope.actor())
            .await?)
    }

    pub async fn get_quote(&self, scope: &Scope, id: Uuid) -> AppResult<Quote> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self.app.store.get_quote(scope.tenant(), id).await?)
    }

    pub async fn list_quotes(
        &self,
        scope: &Scope,
        filter: &RecordFilter,
        page: &Page,
    ) -> AppResult<Listed<Quote>> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .list_quotes(scope.tenant(), filter, page)
            .await?)
    }

    /// Changes a quote; a locked quote refuses every change (409).
    pub async fn update_quote(
        &self,
        scope: &Scope,
        id: Uuid,
        patch: QuotePatch,
    ) -> AppResult<Quote> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .update_quote(scope.tenant(), id, patch, scope.actor())
            .await?)
    }

    pub async fn create_order(&self, scope: &Scope, new: NewOrder) -> AppResult<Order> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .create_order(scope.tenant(), new, scope.actor())
            .await?)
    }

    pub async fn get_order(&self, scope: &Scope, id: Uuid) -> AppResult<Order> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self.app.store.get_order(scope.tenant(), id).await?)
    }

    pub async fn list_orders(
        &self,
        scope: &Scope,
        filter: &RecordFilter,
        page: &Page,
    ) -> AppResult<Listed<Order>> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .list_orders(scope.tenant(), filter, page)
            .await?)
    }

    pub async fn update_order(
        &self,
        scope: &Scope,
        id: Uuid,
        patch: OrderPatch,
    ) -> AppResult<Order> {
        scope.require(Permission::ManageCommerces)?;
        Ok(self
            .app
            .store
            .update_order(scope.tenant(), id, patch, scope.actor())
            .await?)
    }

    /// A user's audit trail: the latest 100 events about the user, newest
    /// first (VIEW_AUDIT; 404 for a user of another tenant).
    pub async fn events_of_user(&self, scope: &Scope, user: Uuid) -> AppResult<Vec<AuditEvent>> {
        scope.require(Permission::ViewAudit)?;
        scope.require_whole_tenant()?;
        let store = &self.app.store;
        store.get_user(scope.tenant(), user).await?;
        let about_user = EventFilter {
            target: Some(format!("user:{user}")),
            ..EventFilter::default()
        };
        Ok(store
            .search_events(scope.tenant(), &about_user, None, 100)
            .await?)
    }

    /// The audit log, oldest first (VIEW_AUDIT).
    pub async fn events(&self, scope: &Scope, page: &Page) -> AppResult<Listed<AuditEvent>> {
        scope.require(Permission::ViewAudit)?;
        Ok(self.app.store.list_events(scope.tenant(), page).await?)
    }

    /// The audit log newest first, filtered: up to `limit` events with ids
    /// below `before`, and the id to pass as `before` for the next (older)
    /// page when there is one (VIEW_AUDIT).
    pub async fn search_events(
        &self,
        scope: &Scope,
        filter: &EventFilter,
        before: Option<i64>,
        limit: usize,
    ) -> AppResult<(Vec<AuditEvent>, Option<i64>)> {
        scope.require(Permission::ViewAudit)?;
        let limit = limit.clamp(1, 500);
        let mut events = self
            .app
            .store
            .search_events(scope.tenant(), filter, before, limit as i64 + 1)
            .await?;
        let older = (events.len() > limit).then(|| {
            events.truncate(limit);
            events[limit - 1].id
        });
        Ok((events, older))
    }
}
