//! Conditions on users, as a directory's filter language says them (SCIM,
//! RFC 7644 §3.4.2.2), in the store's terms: each one becomes SQL over the
//! indexed columns and the contacts table, never a filter in memory.

use chrono::{DateTime, Utc};
use roster_core::ContactType;
use uuid::Uuid;

/// A condition a user meets or not.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Always true (`true`) or never (`false`): a comparison that cannot
    /// hold, or an attribute Roster never keeps.
    Const(bool),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    /// The field compared with the value.
    Compare(Field, Op, Value),
    /// The field has a non-empty value.
    Present(Field),
    /// Some active contact of this type meets the condition. For `EMAIL`
    /// the user's own `email` counts as a primary one, for `PHONE` its
    /// `mobile`.
    Contact(ContactType, Box<ContactCondition>),
}

/// A field of a user a condition can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    /// The login, or the email when there is none.
    UserName,
    FirstName,
    LastName,
    MiddleName,
    DisplayName,
    /// The user's primary email.
    Email,
    ExternalId,
    JobTitle,
    LanguageCode,
    ParentId,
    /// Whether the user is `ACTIVE` (compared with a boolean).
    Active,
    CreatedAt,
    UpdatedAt,
}

impl Field {
    /// Whether text comparisons ignore case (RFC 7643 `caseExact: false`).
    pub fn case_insensitive(self) -> bool {
        !matches!(self, Field::Id | Field::ExternalId | Field::ParentId)
    }
}

/// A comparison (RFC 7644 Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// What a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Time(DateTime<Utc>),
    Id(Uuid),
}

/// A condition on one contact.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactCondition {
    Const(bool),
    And(Box<ContactCondition>, Box<ContactCondition>),
    Or(Box<ContactCondition>, Box<ContactCondition>),
    Not(Box<ContactCondition>),
    /// The contact's value (emails compared without case).
    Value(Op, String),
    /// The contact is (`true`) or is not the primary one of its type.
    Primary(bool),
}

/// The order of a query's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    UserName,
    FirstName,
    LastName,
    DisplayName,
    Email,
    ExternalId,
    CreatedAt,
    UpdatedAt,
}

/// Which users, in which order, which slice.
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub condition: Option<Condition>,
    /// Only users of this company.
    pub company: Option<Uuid>,
    /// Sort key and descending; by creation (number) when absent.
    pub sort: Option<(SortKey, bool)>,
    /// How many matching users to skip (SCIM `startIndex` − 1).
    pub offset: i64,
    /// How many to return at most; 0 counts only.
    pub count: i64,
}

/// A slice of the users a query matched.
#[derive(Debug, Clone)]
pub struct QueriedUsers {
    pub users: Vec<roster_core::User>,
    /// How many users match in all.
    pub total: i64,
}
