//! Quotes and orders.

use async_trait::async_trait;
use roster_core::{Actor, Order, Quote, QuoteStatus};
use uuid::Uuid;

use crate::{Listed, Page, Result};

#[derive(Debug, Clone)]
pub struct NewQuote {
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
}

#[derive(Debug, Clone, Default)]
pub struct QuotePatch {
    pub reference: Option<String>,
    pub status: Option<QuoteStatus>,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: String,
}

#[derive(Debug, Clone, Default)]
pub struct OrderPatch {
    pub reference: Option<String>,
    pub status: Option<String>,
}

/// Filters of quote and order lists.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub owner_user_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
}

/// Quotes and orders of B2B companies.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    async fn create_quote(&self, tenant: &str, new: NewQuote, actor: &Actor) -> Result<Quote>;
    async fn get_quote(&self, tenant: &str, id: Uuid) -> Result<Quote>;
    async fn list_quotes(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Quote>>;
    /// Changes a quote; a locked quote refuses every change (409).
    async fn update_quote(
        &self,
        tenant: &str,
        id: Uuid,
        patch: QuotePatch,
        actor: &Actor,
    ) -> Result<Quote>;

    async fn create_order(&self, tenant: &str, new: NewOrder, actor: &Actor) -> Result<Order>;
    async fn get_order(&self, tenant: &str, id: Uuid) -> Result<Order>;
    async fn list_orders(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Order>>;
    async fn update_order(
        &self,
        tenant: &str,
        id: Uuid,
        patch: OrderPatch,
        actor: &Actor,
    ) -> Result<Order>;
}
