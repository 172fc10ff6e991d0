//! The core records and their vocabularies (SPEC §1).
//!
//! The records serialise (never deserialise) in the `/v1` shape: that is
//! the `data` of the events Roster sends out (SPEC §8), written by the store
//! in the change's transaction. None of them holds a secret.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Declares a closed vocabulary serialised as its exact names, with `ALL`,
/// `as_str` and `parse`. Written as a macro because there are a dozen of these
/// and serde alone gives no list of variants for error messages and docs.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        // The schema is written from `ALL` and `as_str`, the same names
        // `parse` and serde accept: utoipa's derive cannot read a
        // `serde(rename)` whose value comes through a macro, and documented
        // the Rust names instead.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the exact wire name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The wire names, comma-separated, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// A tenant-wide role (seed 003).
    TenantRole { Admin = "ADMIN", Backoffice = "BACKOFFICE", Access = "ACCESS", Blocked = "BLOCKED" }
);
vocabulary!(
    /// A partner role acting on the user's `store_ids` (seed 001).
    PartnerRole { Manager = "manager", Viewer = "viewer", Api = "api" }
);
vocabulary!(
    /// A commerce role, scoped to the user's company (seed 000).
    CommerceRole {
        Owner = "OWNER",
        Orders = "ORDERS",
        Finance = "FINANCE",
        Attention = "ATTENTION",
        Admin = "ADMIN",
        CommerceRep = "COMMERCE_REP",
        Other = "OTHER",
    }
);
vocabulary!(
    /// An organisation role, scoped to the user's company (seed 004).
    OrgRole { Admin = "admin", Manager = "manager", Member = "member" }
);
vocabulary!(
    /// Whether a user may act at all.
    UserStatus { Active = "ACTIVE", Inactive = "INACTIVE" }
);
vocabulary!(
    /// What kind of account a user is (seed 003).
    AccountType { Full = "FULL", Regular = "REGULAR", Support = "SUPPORT", Integration = "INTEGRATION" }
);
vocabulary!(
    /// Where a user's or contact's `external_id` comes from: the platform
    /// itself, an integration, SCIM provisioning or a bulk import.
    Source { Reten = "RETEN", Integration = "INTEGRATION", Scim = "SCIM", Import = "IMPORT" }
);
vocabulary!(
    /// How a contact reaches a user (seed 000).
    ContactType { Email = "EMAIL", Phone = "PHONE", Whatsapp = "WHATSAPP", Other = "OTHER" }
);
vocabulary!(
    /// What a company is to the tenant.
    CompanyKind { Commerce = "COMMERCE", Supplier = "SUPPLIER", Retailer = "RETAILER" }
);
vocabulary!(
    /// Whether a company is in business with the tenant.
    CompanyStatus { Active = "ACTIVE", Inactive = "INACTIVE" }
);
vocabulary!(
    /// A quote's state; a `CLOSED` quote may be locked against changes.
    QuoteStatus { Open = "OPEN", Closed = "CLOSED" }
);

/// The isolation boundary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tenant {
    pub uid: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A selling location of a tenant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Store {
    pub id: String,
    pub number: i64,
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An organisation of a tenant: a B2B buyer, a supplier or a retailer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Company {
    pub id: Uuid,
    pub number: i64,
    pub kind: CompanyKind,
    pub name: String,
    pub external_id: Option<String>,
    pub status: CompanyStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A person or machine known to one tenant, with its roles and store access.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: Uuid,
    pub number: i64,
    pub company_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    #[serde(flatten)]
    pub profile: Profile,
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub status: UserStatus,
    pub account_type: AccountType,
    pub default_store_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub has_password: bool,
    #[serde(flatten)]
    pub roles: Roles,
    pub store_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_accessed_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether the user may act at all: active and not blocked from the
    /// tenant. Otherwise it holds nothing and its credentials stop working.
    pub fn may_act(&self) -> bool {
        crate::rules::standing::may_act(self.status, self.roles.tenant)
    }
}

/// The descriptive fields of a user: every one optional.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Profile {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub login: Option<String>,
    pub user_code: Option<String>,
    pub mobile: Option<String>,
    pub country_code: Option<String>,
    pub telephone: Option<String>,
    pub job_title: Option<String>,
    pub language_code: Option<String>,
}

/// The roles a user holds, one field per vocabulary. Commerce and
/// organisation roles apply in the user's company.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Roles {
    #[serde(rename = "tenant_role")]
    pub tenant: Option<TenantRole>,
    #[serde(rename = "partner_role")]
    pub partner: Option<PartnerRole>,
    #[serde(rename = "roles")]
    pub commerce: Vec<CommerceRole>,
    #[serde(rename = "org_role")]
    pub org: Option<OrgRole>,
}

/// A way to reach a user. At most one active primary per type per user.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Contact {
    pub id: Uuid,
    pub user_id: Uuid,
    pub contact_type: ContactType,
    pub value: String,
    pub source: Source,
    pub is_primary: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Source {
    /// The source of a record that names an `external_id` without one: the
    /// platform's own (`RETEN`).
    pub fn defaulted(source: Option<Source>, external_id: Option<&str>) -> Option<Source> {
        source.or(external_id.map(|_| Source::Reten))
    }
}

/// A global identity that can belong to many tenants.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub global_roles: Vec<String>,
    pub default_tenant_uid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's machine credential: a set of permissions, or one user's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub grant: ApiKeyGrant,
    pub created_at: DateTime<Utc>,
}

/// What an API key acts as (serialised as `permissions` or `user_id`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum ApiKeyGrant {
    /// Exactly these tenant-wide permissions.
    #[serde(rename = "permissions")]
    Permissions(Vec<crate::Permission>),
    /// Exactly this user of the tenant, with that user's permissions.
    #[serde(rename = "user_id")]
    User(Uuid),
}

/// A quote owned by a company user.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Quote {
    pub id: Uuid,
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: QuoteStatus,
    pub locked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order placed by a company user.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Order {
    pub id: Uuid,
    pub company_id: Uuid,
    pub owner_user_id: Uuid,
    pub reference: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of a tenant's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: String,
    pub at: DateTime<Utc>,
}

/// Who is making a change, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The platform operator, by the configured admin token.
    Admin,
    /// An API key with its own permissions.
    ApiKey(Uuid),
    /// A user, directly or through a bound API key.
    User(Uuid),
    /// An account acting for itself.
    Account(Uuid),
    /// A company's SCIM token, provisioning that company's users.
    ScimToken(Uuid),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Admin => f.write_str("admin"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Account(id) => write!(f, "account:{id}"),
            Actor::ScimToken(id) => write!(f, "scim_token:{id}"),
        }
    }
}

/// A till or terminal onboarded to a tenant; users sign in on it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub store_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

vocabulary!(
    /// What a session's token is: an account's auth token, or a tenant
    /// user's access token.
    SessionKind { Auth = "auth", Access = "access" }
);

/// What a signed token stands for. Revoking it rejects the token at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub kind: SessionKind,
    pub tenant: Option<String>,
    pub user_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An Ed25519 key that signs tokens. Its `Debug` leaves the private key out.
#[derive(Clone, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    /// The private key as PKCS#8 PEM, or that PEM sealed with the
    /// key-encryption key (see `roster_app::sealing`); never leaves the
    /// server.
    pub private_key: String,
    /// The public key, base64url (the JWK `x`).
    pub public_x: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// An email invited into a tenant with a role; its token is single-use.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant: String,
    pub email: String,
    pub tenant_role: TenantRole,
    pub account_type: AccountType,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .field("public_x", &self.public_x)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A tenant's subscription to its events, delivered by signed POSTs. Its
/// secret is not part of it: shown once when made, kept sealed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// The event type filters (`roster.user.*`); empty: every event.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Roster disabled it (its deliveries kept failing), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

vocabulary!(
    /// What became of one delivery attempt.
    DeliveryOutcome { Delivered = "delivered", Retrying = "retrying", Failed = "failed" }
);

/// One attempt to deliver one event to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
}

/// A tenant's (or one company's) named set of users carrying role grants:
/// every member holds them (SPEC §8). A company's group counts only for
/// members of that company; its commerce roles apply there. A tenant-wide
/// group's commerce roles apply in each member's own company, and its
/// `store_ids` scope an `ACCESS` tenant role as a user's do (none: every
/// store). Groups are also the SCIM Groups (the same id).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub company_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub tenant_role: Option<TenantRole>,
    pub roles: Vec<CommerceRole>,
    pub store_ids: Vec<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Group {
    /// What membership grants, as the check sees it.
    pub fn grants(&self) -> crate::permission::GroupGrants {
        crate::permission::GroupGrants {
            name: self.name.clone(),
            company_id: self.company_id,
            tenant_role: self.tenant_role,
            commerce_roles: self.roles.clone(),
            store_ids: self.store_ids.clone(),
        }
    }
}

/// One member of a group, as a list of members shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupMember {
    pub user_id: Uuid,
    /// The user's display name, name or email, whichever it has first.
    pub display: Option<String>,
    pub added_at: DateTime<Utc>,
}

/// A company's SCIM token (its secret is shown once, kept as a hash): it
/// provisions only that company's users and groups.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScimToken {
    pub id: Uuid,
    pub company_id: Uuid,
    pub created_at: DateTime<Utc>,
}
