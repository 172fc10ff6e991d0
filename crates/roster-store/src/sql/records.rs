//! Quotes and orders of companies: [`RecordStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::{Actor, Order, Quote, QuoteStatus};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::audit::audit;
use super::page::paged;
use super::tenants::fetch_company;
use super::{invalid, now, uuid, word, Conn, Db, SqlStore, LOCK};
use crate::{
    Listed, NewOrder, NewQuote, OrderPatch, Page, QuotePatch, RecordFilter, RecordStore, Result,
    StoreError,
};

#[derive(sqlx::FromRow)]
pub(super) struct QuoteRow {
    pub(super) id: String,
    pub(super) company_id: String,
    pub(super) owner_user_id: String,
    pub(super) reference: String,
    pub(super) status: String,
    pub(super) locked: bool,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<QuoteRow> for Quote {
    type Error = StoreError;
    fn try_from(r: QuoteRow) -> Result<Self> {
        Ok(Quote {
            id: uuid(&r.id)?,
            company_id: uuid(&r.company_id)?,
            owner_user_id: uuid(&r.owner_user_id)?,
            reference: r.reference,
            status: word(&r.status, QuoteStatus::parse)?,
            locked: r.locked,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct OrderRow {
    pub(super) id: String,
    pub(super) company_id: String,
    pub(super) owner_user_id: String,
    pub(super) reference: String,
    pub(super) status: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;
    fn try_from(r: OrderRow) -> Result<Self> {
        Ok(Order {
            id: uuid(&r.id)?,
            company_id: uuid(&r.company_id)?,
            owner_user_id: uuid(&r.owner_user_id)?,
            reference: r.reference,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(super) const QUOTE_COLUMNS: &str =
    "id, company_id, owner_user_id, reference, status, locked, created_at, updated_at";
pub(super) const ORDER_COLUMNS: &str =
    "id, company_id, owner_user_id, reference, status, created_at, updated_at";

pub(super) async fn fetch_quote(
    conn: &mut Conn,
    tenant: &str,
    id: Uuid,
    lock: bool,
) -> Result<Quote> {
    let lock = if lock { LOCK } else { "" };
    let sql = format!("SELECT {QUOTE_COLUMNS} FROM quotes WHERE tenant_id = $1 AND id = $2{lock}");
    sqlx::query_as::<_, QuoteRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("quote"))?
        .try_into()
}

pub(super) async fn fetch_order(conn: &mut Conn, tenant: &str, id: Uuid) -> Result<Order> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, OrderRow>(&sql)
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("order"))?
        .try_into()
}

/// A quote or order belongs to a company and to one of that company's users.
pub(super) async fn check_record_owner(
    conn: &mut Conn,
    tenant: &str,
    company: Uuid,
    owner: Uuid,
) -> Result<()> {
    fetch_company(conn, tenant, company).await?;
    let owner_company: Option<Option<String>> =
        sqlx::query_scalar("SELECT company_id FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(owner.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    match owner_company {
        None => Err(StoreError::NotFound("owner user")),
        Some(c) if c == Some(company.to_string()) => Ok(()),
        Some(_) => Err(invalid(
            "owner_user_id",
            "must be a user of the company company_id",
        )),
    }
}

pub(super) fn push_record_filter(
    q: &mut QueryBuilder<'_, Db>,
    tenant: &str,
    filter: &RecordFilter,
    page: &Page,
) {
    q.push(" WHERE tenant_id = ").push_bind(tenant.to_string());
    if let Some(owner) = filter.owner_user_id {
        q.push(" AND owner_user_id = ").push_bind(owner.to_string());
    }
    if let Some(company) = filter.company_id {
        q.push(" AND company_id = ").push_bind(company.to_string());
    }
    if let Some(after) = &page.after {
        q.push(" AND id > ").push_bind(after.clone());
    }
    q.push(" ORDER BY id LIMIT ").push_bind(page.limit + 1);
}

#[async_trait]
impl RecordStore for SqlStore {
    async fn create_quote(&self, tenant: &str, new: NewQuote, actor: &Actor) -> Result<Quote> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        check_record_owner(&mut tx, tenant, new.company_id, new.owner_user_id).await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO quotes (tenant_id, id, company_id, owner_user_id, reference, status, \
             locked, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(new.company_id.to_string())
        .bind(new.owner_user_id.to_string())
        .bind(&new.reference)
        .bind(false)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "quote.created",
            &format!("quote:{id}"),
            &new.reference,
        )
        .await?;
        let quote = fetch_quote(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(quote)
    }

    async fn get_quote(&self, tenant: &str, id: Uuid) -> Result<Quote> {
        let mut conn = self.read.acquire().await?;
        fetch_quote(&mut conn, tenant, id, false).await
    }

    async fn list_quotes(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Quote>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {QUOTE_COLUMNS} FROM quotes"));
        push_record_filter(&mut q, tenant, filter, page);
        let rows: Vec<QuoteRow> = q.build_query_as().fetch_all(&self.read).await?;
        let items = rows
            .into_iter()
            .map(Quote::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |x: &Quote| x.id.to_string()))
    }

    async fn update_quote(
        &self,
        tenant: &str,
        id: Uuid,
        patch: QuotePatch,
        actor: &Actor,
    ) -> Result<Quote> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_quote(&mut tx, tenant, id, true).await?;
        if current.locked {
            return Err(StoreError::Conflict(
                "the quote is locked and cannot be changed".into(),
            ));
        }
        let reference = patch.reference.unwrap_or_else(|| current.reference.clone());
        let status = patch.status.unwrap_or(current.status);
        // A patch that changes nothing writes nothing.
        if reference == current.reference && status == current.status {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE quotes SET reference = $3, status = $4, updated_at = $5 WHERE \
                     tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(reference)
        .bind(status.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "quote.updated",
            &format!("quote:{id}"),
            "updated",
        )
        .await?;
        let quote = fetch_quote(&mut tx, tenant, id, false).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(quote)
    }

    async fn create_order(&self, tenant: &str, new: NewOrder, actor: &Actor) -> Result<Order> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        check_record_owner(&mut tx, tenant, new.company_id, new.owner_user_id).await?;
        let id = Uuid::now_v7();
        let at = now();
        sqlx::query(
            "INSERT INTO orders (tenant_id, id, company_id, owner_user_id, reference, status, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(new.company_id.to_string())
        .bind(new.owner_user_id.to_string())
        .bind(&new.reference)
        .bind(&new.status)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "order.created",
            &format!("order:{id}"),
            &new.reference,
        )
        .await?;
        let order = fetch_order(&mut tx, tenant, id).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(order)
    }

    async fn get_order(&self, tenant: &str, id: Uuid) -> Result<Order> {
        let mut conn = self.read.acquire().await?;
        fetch_order(&mut conn, tenant, id).await
    }

    async fn list_orders(
        &self,
        tenant: &str,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<Listed<Order>> {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {ORDER_COLUMNS} FROM orders"));
        push_record_filter(&mut q, tenant, filter, page);
        let rows: Vec<OrderRow> = q.build_query_as().fetch_all(&self.read).await?;
        let items = rows
            .into_iter()
            .map(Order::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, page, |x: &Order| x.id.to_string()))
    }

    async fn update_order(
        &self,
        tenant: &str,
        id: Uuid,
        patch: OrderPatch,
        actor: &Actor,
    ) -> Result<Order> {
        let mut slot = self.writer().await?;
        let mut tx = slot.begin().await?;
        let current = fetch_order(&mut tx, tenant, id).await?;
        let reference = patch.reference.unwrap_or_else(|| current.reference.clone());
        let status = patch.status.unwrap_or_else(|| current.status.clone());
        // A patch that changes nothing writes nothing.
        if reference == current.reference && status == current.status {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE orders SET reference = $3, status = $4, updated_at = $5 WHERE \
                     tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(reference)
        .bind(status)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            tenant,
            actor,
            "order.updated",
            &format!("order:{id}"),
            "updated",
        )
        .await?;
        let order = fetch_order(&mut tx, tenant, id).await?;
        tx.commit().await?;
        slot.finish().await?;
        Ok(order)
    }
}
