//! The storage contract, one capability trait per aggregate, and [`Store`],
//! the sum of them that the HTTP layer holds as `Arc<dyn Store>`.
//!
//! Calling any capability's method on a `dyn Store` needs no import of the
//! capability trait: a trait object's methods include its supertraits'.

mod accounts;
mod audit;
mod check;
mod console;
mod contacts;
mod credentials;
mod events;
mod groups;
mod housekeeping;
mod imports;
mod records;
mod scim_tokens;
mod tenants;
pub mod user_query;
mod users;

pub use accounts::{AccountStore, NewAccount, NewInvitation};
pub use audit::{AuditStore, EventFilter};
pub use check::{CheckFacts, CheckStore, Horizon, ManyFacts};
pub use console::{ConsoleSession, ConsoleSignIn, ConsoleStore};
pub use contacts::{ContactPatch, ContactReplacement, ContactStore, NewContact};
pub use credentials::{
    ApiKeyIdentity, CredentialStore, DeviceIdentity, NewApiKey, NewDevice, NewSession, Throttle,
};
pub use events::{
    AttemptRecord, DueDelivery, EventStore, NewWebhook, OutboxBacklog, OutboxEvent, WebhookPatch,
};
pub use groups::{
    GroupCondition, GroupField, GroupFilter, GroupOrder, GroupPatch, GroupStore, MemberChange,
    NewGroup,
};
pub use housekeeping::{HousekeepingStore, Purged};
pub use imports::{
    ImportBatchStore, ImportCounts, ImportJob, ImportMatch, ImportProblem, ImportStatus,
    ImportStore, ImportWrite,
};
pub use records::{NewOrder, NewQuote, OrderPatch, QuotePatch, RecordFilter, RecordStore};
pub use scim_tokens::ScimTokenStore;
pub use tenants::{CompanyPatch, NewCompany, NewStore, NewTenant, StorePatch, TenantStore};
pub use users::{UserFilter, UserRef, UserStore};

/// Roster's storage: every capability at once. One implementation per
/// engine, both passing the same conformance suite
/// (`crates/roster-store/tests/conformance.rs`).
pub trait Store:
    TenantStore
    + UserStore
    + ContactStore
    + CredentialStore
    + HousekeepingStore
    + ImportStore
    + ImportBatchStore
    + AccountStore
    + RecordStore
    + AuditStore
    + EventStore
    + GroupStore
    + ScimTokenStore
    + ConsoleStore
    + CheckStore
{
}

impl<T> Store for T where
    T: TenantStore
        + UserStore
        + ContactStore
        + CredentialStore
        + HousekeepingStore
        + ImportStore
        + ImportBatchStore
        + AccountStore
        + RecordStore
        + AuditStore
        + EventStore
        + GroupStore
        + ScimTokenStore
        + ConsoleStore
        + CheckStore
{
}
