//! Organisation user upsert (seed 004):
//! `POST /retail-media/users/{organisationId}/upsert-user`.
//!
//! The organisation is a company of the credential's tenant (with the admin
//! token, of whichever tenant owns it). Without `id` it creates a user of
//! the organisation; with `id` it updates that user. Validation failures
//! answer the seed's 400 shape; other errors are problem+json.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_app::input::{NewUser, ProfilePatch, UserPatch};
use roster_app::users::Right;
use roster_app::{AppError, NewPassword, Scope};
use roster_core::{validate, AccountType, OrgRole, Profile, Roles, UserStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{trace_id, ApiError, ApiResult, Problem};
use crate::extract::{from_value, Json, Path};
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upsert_user))
}

/// The request of seed 004. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "firstName": "Jane", "lastName": "Doe", "middleName": "Q", "userRole": "manager",
    "password": "correct-horse-battery-staple", "email": "jane.doe@example.com",
    "mobile": "0412 345 678", "countryCode": "AU"
}))]
pub struct UpsertUser {
    /// The user to update; absent or null to create one.
    pub id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    /// admin, manager or member.
    pub user_role: Option<String>,
    /// Required to create: 12 to 128 characters, not guessable.
    pub password: Option<String>,
    pub email: Option<String>,
    /// Read in the context of `countryCode`; stored as E.164.
    pub mobile: Option<String>,
    /// ISO 3166-1 alpha-2 (`AU`) or a calling code (`+61`).
    pub country_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpsertResult {
    pub id: Uuid,
    pub email: String,
}

/// Seed 004's validation error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationErrors {
    /// One message per problem, naming the field.
    pub errors: Vec<String>,
    pub r#type: String,
    /// "One or more validation errors occurred."
    pub title: String,
    pub status: u16,
    pub trace_id: String,
}

fn validation_response(errors: Vec<String>) -> Response {
    let body = ValidationErrors {
        errors,
        r#type: "https://tools.ietf.org/html/rfc7231#section-6.5.1".into(),
        title: "One or more validation errors occurred.".into(),
        status: 400,
        trace_id: trace_id(),
    };
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// What can go wrong on this surface: a 400 of any kind answers the seed's
/// shape; every other error is problem+json as elsewhere.
enum UpsertError {
    Invalid(Vec<String>),
    Api(ApiError),
}

impl From<ApiError> for UpsertError {
    fn from(err: ApiError) -> Self {
        UpsertError::Api(err)
    }
}

impl From<AppError> for UpsertError {
    fn from(err: AppError) -> Self {
        UpsertError::Api(err.into())
    }
}

impl IntoResponse for UpsertError {
    fn into_response(self) -> Response {
        match self {
            UpsertError::Invalid(messages) => validation_response(messages),
            UpsertError::Api(ApiError::BadRequest { errors, detail }) if errors.is_empty() => {
                validation_response(vec![detail])
            }
            UpsertError::Api(ApiError::BadRequest { errors, .. }) => validation_response(
                errors
                    .into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect(),
            ),
            UpsertError::Api(other) => other.into_response(),
        }
    }
}

/// The organisation's tenant entered as the caller: the credential's own, or
/// with the admin token the organisation's.
async fn enter(app: &AppState, caller: &Caller, organisation: Uuid) -> ApiResult<Scope> {
    let tenant = match caller.own_tenant() {
        Some(tenant) => tenant.to_string(),
        None if matches!(caller, Caller::Admin) => {
            app.tenancy()
                .tenant_of_company(caller, organisation)
                .await?
        }
        None => {
            return Err(ApiError::Forbidden(
                "send an access token or an API key of the tenant".into(),
            ))
        }
    };
    let scope = app.enter(caller, &tenant).await?;
    app.tenancy()
        .get_company(&scope, organisation)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => ApiError::NotFound("organisation not found".into()),
            e => e.into(),
        })?;
    Ok(scope)
}

/// The checked fields of a request.
struct Checked {
    first_name: String,
    last_name: String,
    middle_name: Option<String>,
    role: OrgRole,
    email: String,
    mobile: String,
    country: String,
}

fn check(body: &UpsertUser) -> Result<Checked, Vec<String>> {
    let mut errors = Vec::new();
    let mut required = |field: &str, value: &Option<String>| match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Some(v.to_string()),
        _ => {
            errors.push(format!("The {field} field is required."));
            None
        }
    };
    let first_name = required("firstName", &body.first_name);
    let last_name = required("lastName", &body.last_name);
    let role = required("userRole", &body.user_role);
    let email = required("email", &body.email);
    let mobile = required("mobile", &body.mobile);
    let country = required("countryCode", &body.country_code);
    let role = role.and_then(|r| match OrgRole::parse(&r) {
        Some(role) => Some(role),
        None => {
            errors.push(format!(
                "The userRole field must be one of {}.",
                OrgRole::expected()
            ));
            None
        }
    });
    let email = email.and_then(|e| match validate::email(&e) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.push(format!("The email field {m}."));
            None
        }
    });
    let phone = match (&mobile, &country) {
        (Some(m), Some(c)) => match validate::mobile_in_country(m, c) {
            Ok(phone) => Some(phone),
            Err(message) if message.starts_with("countryCode") => {
                errors.push(format!("The countryCode field is not valid: {message}."));
                None
            }
            Err(message) => {
                errors.push(format!("The mobile field {message}."));
                None
            }
        },
        _ => None,
    };
    let mut names = |field: &str, value: Option<String>| {
        value.and_then(|v| match validate::text(&v, 255) {
            Ok(v) => Some(v),
            Err(m) => {
                errors.push(format!("The {field} field {m}."));
                None
            }
        })
    };
    let first_name = names("firstName", first_name);
    let last_name = names("lastName", last_name);
    let middle_name = names(
        "middleName",
        body.middle_name.clone().filter(|m| !m.trim().is_empty()),
    );
    match (first_name, last_name, role, email, phone) {
        (Some(first_name), Some(last_name), Some(role), Some(email), Some((mobile, country)))
            if errors.is_empty() =>
        {
            Ok(Checked {
                first_name,
                last_name,
                middle_name,
                role,
                email,
                mobile,
                country,
            })
        }
        _ => Err(errors),
    }
}

/// Creates (no `id`) or updates (`id`) a user of the organisation
/// (MANAGE_USERS, or MANAGE_ORG_USERS in the organisation). A password is
/// required to create. A duplicate email answers 409.
#[utoipa::path(post, path = "/retail-media/users/{organisationId}/upsert-user", tag = "retail-media",
    params(("organisationId" = Uuid, Path, description = "The organisation (company) id")),
    request_body = UpsertUser, security(("admin_token" = []), ("api_key" = []), ("access_token" = [])),
    responses((status = 200, body = UpsertResult), (status = 400, description = "The seed's validation error shape for the body's fields; problem+json for a malformed path or body", content((ValidationErrors = "application/json"), (Problem = "application/problem+json")))))]
async fn upsert_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(organisation): Path<Uuid>,
    body: Result<Json<serde_json::Value>, ApiError>,
) -> Result<axum::Json<UpsertResult>, UpsertError> {
    upsert(&app, &caller, organisation, body)
        .await
        .map(axum::Json)
}

async fn upsert(
    app: &AppState,
    caller: &Caller,
    organisation: Uuid,
    body: Result<Json<serde_json::Value>, ApiError>,
) -> Result<UpsertResult, UpsertError> {
    let scope = enter(app, caller, organisation).await?;
    let right = Right::OrganisationUsers(organisation);
    right.require_write(&scope)?;
    let Json(value) = body?;
    let body: UpsertUser = from_value(value)?;
    let checked = check(&body).map_err(UpsertError::Invalid)?;
    let profile = Profile {
        first_name: Some(checked.first_name.clone()),
        last_name: Some(checked.last_name.clone()),
        middle_name: checked.middle_name.clone(),
        email: Some(checked.email.clone()),
        mobile: Some(checked.mobile.clone()),
        country_code: Some(checked.country.clone()),
        ..Profile::default()
    };
    let user = match body.id {
        None => {
            let Some(raw) = body.password.as_deref() else {
                return Err(UpsertError::Invalid(vec![
                    "The password field is required to create a user.".into(),
                ]));
            };
            let password = NewPassword::new(raw, "password");
            let new = NewUser {
                company_id: Some(organisation),
                parent_id: None,
                profile,
                external_id: None,
                source: None,
                status: UserStatus::Active,
                account_type: AccountType::Regular,
                default_store_id: None,
                account_id: None,
                password_hash: None,
                roles: Roles {
                    org: Some(checked.role),
                    ..Roles::default()
                },
                store_ids: Vec::new(),
            };
            app.users()
                .create(&scope, right, new, Some(password))
                .await?
        }
        Some(id) => {
            let password = body
                .password
                .as_deref()
                .map(|raw| NewPassword::new(raw, "password"));
            let patch = UserPatch {
                profile: ProfilePatch {
                    first_name: Some(profile.first_name),
                    last_name: Some(profile.last_name),
                    middle_name: body.middle_name.as_ref().map(|_| profile.middle_name),
                    email: Some(profile.email),
                    mobile: Some(profile.mobile),
                    country_code: Some(profile.country_code),
                    ..ProfilePatch::default()
                },
                org_role: Some(Some(checked.role)),
                ..UserPatch::default()
            };
            app.users()
                .update(&scope, right, id, Some(organisation), patch, password)
                .await
                .map_err(|e| match e {
                    AppError::NotFound(m) if m == "user not found" => {
                        ApiError::NotFound("user not found in this organisation".into())
                    }
                    e => e.into(),
                })?
        }
    };
    Ok(UpsertResult {
        id: user.id,
        email: user.profile.email.unwrap_or_default(),
    })
}
