//! B2B company users (seed 002): Magento-style customers with company
//! attributes, under `/rest/{store_code}/V1/`.
//!
//! A customer is a user; its integer `id` is the user's per-tenant
//! `number`, and `company_id` a company's `number` (0: none). The tenant is
//! the credential's (MANAGE_COMMERCES needed); the admin token and the
//! credential-less customer token call name it in `x-tenant-id`. Company
//! moves, deactivation re-parenting and deletion's quote locking are the
//! core's rules. Unknown body fields are ignored.

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use roster_app::input::{NewUser, ProfilePatch, UserPatch};
use roster_app::users::{CompanyDataChange, Right};
use roster_app::{AppError, NewPassword, Scope};
use roster_core::rules::company::Given;
use roster_core::{
    validate, AccountType, FieldError, Permission, Profile, Roles, User, UserStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::signin::Client;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer))
        .routes(routes!(customer_me))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(move_in_hierarchy))
        .routes(routes!(customer_token))
}

/// Magento's timestamps: `YYYY-MM-DD HH:MM:SS`, UTC.
fn magento_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyAttributes {
    pub customer_id: i64,
    /// The company's number; 0 for none.
    pub company_id: i64,
    /// 1 active, 0 inactive (locked). Absent outside a company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionAttributes {
    pub company_attributes: CompanyAttributes,
    pub is_subscribed: bool,
}

/// A customer as seed 002 shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 13, "group_id": 1, "created_at": "2017-05-18 16:47:44", "updated_at": "2017-05-18 18:50:58",
    "created_in": "Default Store View", "email": "mshaw@example.com", "firstname": "Melanie", "lastname": "Shaw",
    "store_id": 1, "website_id": 1, "addresses": [], "disable_auto_group_change": 0,
    "extension_attributes": {"company_attributes": {"customer_id": 13, "company_id": 2, "status": 0,
        "job_title": "Sales Rep", "telephone": "512-555-3322"}, "is_subscribed": false}
}))]
pub struct Customer {
    pub id: i64,
    pub group_id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub created_in: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middlename: Option<String>,
    pub store_id: i64,
    pub website_id: i64,
    pub addresses: Vec<serde_json::Value>,
    pub disable_auto_group_change: i64,
    pub extension_attributes: ExtensionAttributes,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CompanyAttributesInput {
    /// A company's number; 0 takes the user out of its company.
    #[serde(default, deserialize_with = "integral::optional")]
    pub company_id: Option<i64>,
    /// 1 active, 0 inactive (locks the account).
    #[schema(schema_with = status_schema)]
    pub status: Option<u8>,
    pub job_title: Option<String>,
    pub telephone: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ExtensionAttributesInput {
    pub company_attributes: Option<CompanyAttributesInput>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CustomerInput {
    /// Must match the path on PUT, when given.
    #[serde(default, deserialize_with = "integral::optional")]
    pub id: Option<i64>,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub middlename: Option<String>,
    pub extension_attributes: Option<ExtensionAttributesInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"customer": {"email": "mshaw@example.com", "firstname": "Melanie", "lastname": "Shaw"}}))]
pub struct CustomerRequest {
    pub customer: CustomerInput,
    /// Sets the sign-in password (12 to 128 characters, not guessable).
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HierarchyMove {
    /// The new parent's customer id, in the same company.
    #[serde(deserialize_with = "integral::required")]
    pub new_parent_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The customer's email.
    pub username: String,
    pub password: String,
}

/// The store a request names: a store's code, or `default`/`all`.
async fn store_scope(
    app: &AppState,
    scope: &Scope,
    code: &str,
) -> ApiResult<Option<roster_core::Store>> {
    if validate::RESERVED_STORE_CODES.contains(&code) {
        return Ok(None);
    }
    Ok(Some(app.tenancy().get_store_by_code(scope, code).await?))
}

fn header_tenant(headers: &HeaderMap) -> ApiResult<String> {
    let tenant = headers
        .get("x-tenant-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::field("x-tenant-id", "the header is required with this credential")
        })?;
    validate::identifier(tenant).map_err(|m| ApiError::field("x-tenant-id", m))
}

/// The tenant (the credential's, or `x-tenant-id` for the admin token)
/// entered with the right to manage its customers.
async fn authorize(app: &AppState, caller: &Caller, headers: &HeaderMap) -> ApiResult<Scope> {
    let tenant = match caller {
        Caller::Admin => header_tenant(headers)?,
        Caller::ApiKey { tenant, .. } | Caller::User { tenant, .. } => tenant.clone(),
        Caller::Account { .. } => {
            return Err(ApiError::Forbidden(
                "send an access token or an API key of the tenant".into(),
            ));
        }
    };
    Ok(app
        .scope(caller, &tenant, Permission::ManageCommerces)
        .await?)
}

async fn customer(app: &AppState, scope: &Scope, user: User) -> ApiResult<Customer> {
    let store = match &user.default_store_id {
        Some(id) => app.tenancy().get_store(scope, id).await.ok(),
        None => None,
    };
    let company_number = match user.company_id {
        Some(company) => app.tenancy().get_company(scope, company).await?.number,
        None => 0,
    };
    let in_company = company_number != 0;
    let p = user.profile;
    Ok(Customer {
        id: user.number,
        group_id: 1,
        created_at: magento_time(&user.created_at),
        updated_at: magento_time(&user.updated_at),
        created_in: store
            .as_ref()
            .map_or_else(|| "Default Store View".to_string(), |s| s.name.clone()),
        email: p.email,
        firstname: p.first_name,
        lastname: p.last_name,
        middlename: p.middle_name,
        store_id: store.as_ref().map_or(1, |s| s.number),
        website_id: 1,
        addresses: Vec::new(),
        disable_auto_group_change: 0,
        extension_attributes: ExtensionAttributes {
            company_attributes: CompanyAttributes {
                customer_id: user.number,
                company_id: company_number,
                status: in_company.then_some(u8::from(user.status == UserStatus::Active)),
                job_title: if in_company { p.job_title } else { None },
                telephone: if in_company { p.telephone } else { None },
            },
            is_subscribed: false,
        },
    })
}

/// Integer fields that take any JSON number with an integral value (`7`,
/// `7.0`), as JSON Schema's `integer` does and as PHP clients of this
/// surface send them.
mod integral {
    use serde::{de::Error, Deserialize, Deserializer};

    fn of<E: Error>(number: serde_json::Number) -> Result<i64, E> {
        number
            .as_i64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(f))
                    .map(|f| f as i64)
            })
            .ok_or_else(|| E::custom(format!("invalid value: {number}, expected an integer")))
    }

    pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        of(serde_json::Number::deserialize(deserializer)?)
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(deserializer)?
            .map(of)
            .transpose()
    }
}

/// What `status_of` accepts: 0, 1 or null.
fn status_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .enum_values(Some([Some(0), Some(1), None]))
        .build()
}

fn status_of(status: Option<u8>) -> ApiResult<Option<UserStatus>> {
    match status {
        None => Ok(None),
        Some(1) => Ok(Some(UserStatus::Active)),
        Some(0) => Ok(Some(UserStatus::Inactive)),
        Some(_) => Err(ApiError::field(
            "customer.extension_attributes.company_attributes.status",
            "must be 0 or 1",
        )),
    }
}

/// The field company data comes in.
const COMPANY_FIELD: &str = "customer.extension_attributes.company_attributes";

/// The company data of a request: 0 leaves every company. Whether a company
/// user has what it needs is the core's rule (the users service applies it).
struct CompanyChange {
    company: Option<Option<uuid::Uuid>>,
    status: Option<UserStatus>,
    job_title: Option<String>,
    telephone: Option<String>,
}

impl CompanyChange {
    fn data(&self) -> CompanyDataChange<'static> {
        CompanyDataChange {
            given: Given {
                company: self.company.is_some(),
                job_title: self.job_title.is_some(),
                telephone: self.telephone.is_some(),
                status: self.status.is_some(),
            },
            field: COMPANY_FIELD,
        }
    }
}

async fn company_change(
    app: &AppState,
    scope: &Scope,
    input: Option<CompanyAttributesInput>,
) -> ApiResult<CompanyChange> {
    let Some(input) = input else {
        return Ok(CompanyChange {
            company: None,
            status: None,
            job_title: None,
            telephone: None,
        });
    };
    let text = |name: &str, value: Option<String>| {
        value
            .map(|v| {
                validate::text(&v, 255)
                    .map_err(|m| ApiError::field(format!("{COMPANY_FIELD}.{name}"), m))
            })
            .transpose()
    };
    let job_title = text("job_title", input.job_title)?;
    let telephone = text("telephone", input.telephone)?;
    let status = status_of(input.status)?;
    let company = match input.company_id {
        None => None,
        Some(0) => Some(None),
        Some(number) => Some(Some(
            app.tenancy().get_company_by_number(scope, number).await?.id,
        )),
    };
    Ok(CompanyChange {
        company,
        status,
        job_title,
        telephone,
    })
}

fn required_text(field: &str, value: Option<String>) -> ApiResult<String> {
    let value = value.ok_or_else(|| ApiError::field(field, "is required"))?;
    validate::text(&value, 255).map_err(|m| ApiError::field(field, m))
}

/// Creates a customer; its company data (company_id, job_title, telephone,
/// status) may be set at once. `company_id` is 0 unless given.
#[utoipa::path(post, path = "/rest/{store_code}/V1/customers", tag = "b2b",
    params(("store_code" = String, Path, description = "A store's code, or default / all"), ("x-tenant-id" = Option<String>, Header, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The tenant, with the admin token (required then); with another credential it must be the credential's")),
    request_body = CustomerRequest, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = Customer)))]
async fn create_customer(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(store_code): Path<String>,
    Json(body): Json<CustomerRequest>,
) -> ApiResult<axum::Json<Customer>> {
    let scope = authorize(&app, &caller, &headers).await?;
    let store = store_scope(&app, &scope, &store_code).await?;
    let input = body.customer;
    let email = required_text("customer.email", input.email)?;
    let email = validate::email(&email).map_err(|m| ApiError::field("customer.email", m))?;
    let first_name = required_text("customer.firstname", input.firstname)?;
    let last_name = required_text("customer.lastname", input.lastname)?;
    let middle_name = input
        .middlename
        .map(|m| required_text("customer.middlename", Some(m)))
        .transpose()?;
    let change = company_change(
        &app,
        &scope,
        input
            .extension_attributes
            .and_then(|e| e.company_attributes),
    )
    .await?;
    let password = body.password.map(|raw| NewPassword::new(raw, "password"));
    let data = change.data();
    let new = NewUser {
        company_id: change.company.flatten(),
        parent_id: None,
        profile: Profile {
            first_name: Some(first_name),
            last_name: Some(last_name),
            middle_name,
            email: Some(email),
            job_title: change.job_title,
            telephone: change.telephone,
            ..Profile::default()
        },
        external_id: None,
        source: None,
        status: change.status.unwrap_or(UserStatus::Active),
        account_type: AccountType::Regular,
        default_store_id: store.map(|s| s.id),
        account_id: None,
        password_hash: None,
        roles: Roles::default(),
        store_ids: Vec::new(),
    };
    let user = app
        .users()
        .create_company_user(&scope, new, password, data)
        .await?;
    Ok(axum::Json(customer(&app, &scope, user).await?))
}

/// Reads a customer by id (MANAGE_COMMERCES).
#[utoipa::path(get, path = "/rest/{store_code}/V1/customers/{id}", tag = "b2b",
    params(("store_code" = String, Path), ("id" = i64, Path), ("x-tenant-id" = Option<String>, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = Customer)))]
async fn get_customer(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((store_code, id)): Path<(String, i64)>,
) -> ApiResult<axum::Json<Customer>> {
    let scope = authorize(&app, &caller, &headers).await?;
    store_scope(&app, &scope, &store_code).await?;
    let user = app
        .users()
        .get_by_number(&scope, Right::CompanyUsers, id)
        .await?;
    Ok(axum::Json(customer(&app, &scope, user).await?))
}

/// Updates a customer and its company data. `company_id` 0 takes it out of
/// its company; `status` 0 locks the account (its tokens stop working) and
/// re-assigns its child users to its parent.
#[utoipa::path(put, path = "/rest/{store_code}/V1/customers/{id}", tag = "b2b",
    params(("store_code" = String, Path), ("id" = i64, Path), ("x-tenant-id" = Option<String>, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = CustomerRequest, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = Customer)))]
async fn update_customer(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((store_code, id)): Path<(String, i64)>,
    Json(body): Json<CustomerRequest>,
) -> ApiResult<axum::Json<Customer>> {
    let scope = authorize(&app, &caller, &headers).await?;
    store_scope(&app, &scope, &store_code).await?;
    let input = body.customer;
    if input.id.is_some_and(|given| given != id) {
        return Err(ApiError::field(
            "customer.id",
            "differs from the id in the path",
        ));
    }
    let current = app
        .users()
        .get_by_number(&scope, Right::CompanyUsers, id)
        .await?;
    let email = input
        .email
        .map(|e| validate::email(&e).map_err(|m| ApiError::field("customer.email", m)))
        .transpose()?;
    let first_name = input
        .firstname
        .map(|v| required_text("customer.firstname", Some(v)))
        .transpose()?;
    let last_name = input
        .lastname
        .map(|v| required_text("customer.lastname", Some(v)))
        .transpose()?;
    let middle_name = input
        .middlename
        .map(|v| required_text("customer.middlename", Some(v)))
        .transpose()?;
    let change = company_change(
        &app,
        &scope,
        input
            .extension_attributes
            .and_then(|e| e.company_attributes),
    )
    .await?;
    let password = body.password.map(|raw| NewPassword::new(raw, "password"));
    let data = change.data();
    let patch = UserPatch {
        company_id: change.company,
        profile: ProfilePatch {
            email: email.map(Some),
            first_name: first_name.map(Some),
            last_name: last_name.map(Some),
            middle_name: middle_name.map(Some),
            job_title: change.job_title.map(Some),
            telephone: change.telephone.map(Some),
            ..ProfilePatch::default()
        },
        status: change.status,
        ..UserPatch::default()
    };
    let user = app
        .users()
        .update_company_user(&scope, current.id, patch, password, data)
        .await?;
    Ok(axum::Json(customer(&app, &scope, user).await?))
}

/// Deletes a customer: its child users move to its parent; its quotes close
/// and lock; its quotes and orders stay visible. Answers `true`.
#[utoipa::path(delete, path = "/rest/{store_code}/V1/customers/{id}", tag = "b2b",
    params(("store_code" = String, Path), ("id" = i64, Path), ("x-tenant-id" = Option<String>, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = bool, example = true)))]
async fn delete_customer(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((store_code, id)): Path<(String, i64)>,
) -> ApiResult<axum::Json<bool>> {
    let scope = authorize(&app, &caller, &headers).await?;
    store_scope(&app, &scope, &store_code).await?;
    let user = app
        .users()
        .get_by_number(&scope, Right::CompanyUsers, id)
        .await?;
    app.users()
        .delete(&scope, Right::CompanyUsers, user.id)
        .await?;
    Ok(axum::Json(true))
}

/// The customer of a customer token.
#[utoipa::path(get, path = "/rest/{store_code}/V1/customers/me", tag = "b2b",
    params(("store_code" = String, Path)), security(("access_token" = [])), responses((status = 200, body = Customer)))]
async fn customer_me(
    State(app): State<AppState>,
    caller: Caller,
    Path(store_code): Path<String>,
) -> ApiResult<axum::Json<Customer>> {
    let Caller::User { tenant, .. } = &caller else {
        return Err(ApiError::Forbidden("send a customer token".into()));
    };
    let scope = app.enter(&caller, tenant).await?;
    store_scope(&app, &scope, &store_code).await?;
    let user = app.users().me(&scope).await?;
    Ok(axum::Json(customer(&app, &scope, user).await?))
}

/// Moves a customer under another of the same company. Answers `true`.
#[utoipa::path(put, path = "/rest/{store_code}/V1/hierarchy/move/{id}", tag = "b2b",
    params(("store_code" = String, Path), ("id" = i64, Path), ("x-tenant-id" = Option<String>, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = HierarchyMove, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])), responses((status = 200, body = bool, example = true)))]
async fn move_in_hierarchy(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((store_code, id)): Path<(String, i64)>,
    Json(body): Json<HierarchyMove>,
) -> ApiResult<axum::Json<bool>> {
    let scope = authorize(&app, &caller, &headers).await?;
    store_scope(&app, &scope, &store_code).await?;
    let user = app
        .users()
        .get_by_number(&scope, Right::CompanyUsers, id)
        .await?;
    let parent = app
        .users()
        .get_by_number(&scope, Right::CompanyUsers, body.new_parent_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => ApiError::NotFound("parent customer not found".into()),
            e => e.into(),
        })?;
    app.users()
        .move_under(&scope, user.id, parent.id)
        .await
        .map_err(|e| match e {
            AppError::Invalid(errors) => ApiError::fields(
                errors
                    .into_iter()
                    .map(|e| FieldError::new("newParentId", e.message))
                    .collect(),
            ),
            e => e.into(),
        })?;
    Ok(axum::Json(true))
}

/// A customer token for a customer's email and password (no credential;
/// `x-tenant-id` names the tenant). A locked (status 0) account answers 401.
#[utoipa::path(post, path = "/rest/{store_code}/V1/integration/customer/token", tag = "b2b",
    params(("store_code" = String, Path), ("x-tenant-id" = String, Header, pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = TokenRequest, responses((status = 200, body = String, description = "The token, as a JSON string")))]
async fn customer_token(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(store_code): Path<String>,
    Json(body): Json<TokenRequest>,
) -> ApiResult<axum::Json<String>> {
    let tenant = header_tenant(&headers)?;
    app.tenancy().tenant_exists(&tenant).await?;
    if !validate::RESERVED_STORE_CODES.contains(&store_code.as_str()) {
        app.tenancy().store_by_code_in(&tenant, &store_code).await?;
    }
    let token = app
        .sign_in()
        .customer(&tenant, &body.username, &body.password, client)
        .await?;
    Ok(axum::Json(token))
}
