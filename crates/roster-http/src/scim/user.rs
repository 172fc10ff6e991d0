//! The SCIM User resource (RFC 7643 §4.1, with the enterprise extension
//! §4.3) as SPEC §8 maps it onto Roster's user and contacts, both ways.
//!
//! Reading a body is by hand over `serde_json::Value` rather than derived:
//! SCIM attribute names are case-insensitive (RFC 7643 §2.1) and the big
//! identity providers send booleans as strings (`"True"`), which no derive
//! accepts.

use roster_app::input::NewContact;
use roster_app::input::{NewUser, ProfilePatch, UserPatch};
use roster_app::NewPassword;
use roster_core::{
    validate, AccountType, Contact, ContactType, Profile, Roles, Source, User, UserStatus,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ScimError;
use super::{ENTERPRISE_USER, USER};

/// A User resource as a client sent it (POST, PUT, or the result of PATCH
/// operations applied to the current one).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScimUser {
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub middle_name: Option<String>,
    /// `name.formatted`: the user's full `name`.
    pub formatted: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub preferred_language: Option<String>,
    pub active: bool,
    /// Email values and whether primary.
    pub emails: Vec<(String, bool)>,
    pub phone_numbers: Vec<(String, bool)>,
    pub manager: Option<Uuid>,
    /// Write-only (RFC 7643 §4.1.1: `returned: never`).
    pub password: Option<String>,
}

/// The value of `key` in `object`, matching the name without case.
pub fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// A boolean, also as the strings `"true"`/`"false"` in any case (Entra ID).
pub fn boolean(value: &Value, field: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!(
            "{field} must be a boolean"
        ))),
    }
}

fn text(value: Option<&Value>, field: &str) -> Result<Option<String>, ScimError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{field} must be a string"
        ))),
    }
}

/// A multi-valued contact attribute: `[{"value", "primary"?, "type"?}]`.
fn contacts(value: Option<&Value>, field: &str) -> Result<Vec<(String, bool)>, ScimError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| ScimError::invalid_value(format!("{field} must be an array")))?;
    let mut out = Vec::new();
    for item in items {
        let object = item.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!("each of {field} must be an object"))
        })?;
        let Some(value) = text(get(object, "value"), &format!("{field}.value"))? else {
            continue;
        };
        let primary = get(object, "primary")
            .map(|p| boolean(p, &format!("{field}.primary")))
            .transpose()?
            .unwrap_or(false);
        // The same value twice is one value (primary if either says so).
        match out
            .iter_mut()
            .find(|(v, _): &&mut (String, bool)| v.to_lowercase() == value.to_lowercase())
        {
            Some((_, was_primary)) => *was_primary |= primary,
            None => out.push((value, primary)),
        }
    }
    if out.iter().filter(|(_, primary)| *primary).count() > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one of {field} can be primary"
        )));
    }
    Ok(out)
}

impl ScimUser {
    /// Reads a User body (RFC 7643 §4.1).
    pub fn from_json(body: &Value) -> Result<ScimUser, ScimError> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the body must be a JSON object"))?;
        let user_name = text(get(object, "userName"), "userName")?
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
        let name = match get(object, "name") {
            None => Map::new(),
            Some(Value::Object(name)) => name.clone(),
            Some(_) => return Err(ScimError::invalid_value("name must be an object")),
        };
        let enterprise = match get(object, ENTERPRISE_USER) {
            None => Map::new(),
            Some(Value::Object(e)) => e.clone(),
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "the enterprise extension must be an object",
                ))
            }
        };
        let manager = match get(&enterprise, "manager") {
            None => None,
            // The id, or else the last segment of the `$ref` URI.
            Some(Value::Object(m)) => match get(m, "value") {
                Some(value) => manager_id(Some(value))?,
                None => manager_id(
                    get(m, "$ref")
                        .and_then(Value::as_str)
                        .map(|r| {
                            Value::from(r.trim_end_matches('/').rsplit('/').next().unwrap_or(""))
                        })
                        .as_ref(),
                )?,
            },
            Some(value @ Value::String(_)) => manager_id(Some(value))?,
            Some(_) => return Err(ScimError::invalid_value("manager must be an object")),
        };
        Ok(ScimUser {
            user_name,
            external_id: text(get(object, "externalId"), "externalId")?,
            given_name: text(get(&name, "givenName"), "name.givenName")?,
            family_name: text(get(&name, "familyName"), "name.familyName")?,
            middle_name: text(get(&name, "middleName"), "name.middleName")?,
            formatted: text(get(&name, "formatted"), "name.formatted")?,
            display_name: text(get(object, "displayName"), "displayName")?,
            title: text(get(object, "title"), "title")?,
            preferred_language: text(get(object, "preferredLanguage"), "preferredLanguage")?,
            active: get(object, "active")
                .map(|a| boolean(a, "active"))
                .transpose()?
                .unwrap_or(true),
            emails: contacts(get(object, "emails"), "emails")?,
            phone_numbers: contacts(get(object, "phoneNumbers"), "phoneNumbers")?,
            manager,
            password: text(get(object, "password"), "password")?,
        })
    }

    /// The resource a user and its contacts are, before any PATCH.
    pub fn of(user: &User, contacts: &[Contact]) -> ScimUser {
        let p = &user.profile;
        ScimUser {
            user_name: user_name(user),
            external_id: user.external_id.clone(),
            given_name: p.first_name.clone(),
            family_name: p.last_name.clone(),
            middle_name: p.middle_name.clone(),
            formatted: p.name.clone(),
            display_name: p.display_name.clone(),
            title: p.job_title.clone(),
            preferred_language: p.language_code.clone(),
            active: user.status == UserStatus::Active,
            emails: values(user, contacts, ContactType::Email),
            // Phone numbers that are no E.164 number are kept as OTHER.
            phone_numbers: values(user, contacts, ContactType::Phone)
                .into_iter()
                .chain(values(user, contacts, ContactType::Other))
                .collect(),
            manager: user.parent_id,
            password: None,
        }
    }

    /// The primary email: the one flagged, or the first.
    fn primary(values: &[(String, bool)]) -> Option<&str> {
        values
            .iter()
            .find(|(_, primary)| *primary)
            .or(values.first())
            .map(|(v, _)| v.as_str())
    }

    /// Checks the emails and phone numbers; the contacts to keep, each
    /// phone in E.164 when it parses (a `tel:` URI, separators), else kept
    /// as an `OTHER` contact.
    pub fn contacts(&self) -> Result<Vec<NewContact>, ScimError> {
        let mut out = Vec::new();
        for (value, primary) in &self.emails {
            let value = validate::email(value)
                .map_err(|m| ScimError::invalid_value(format!("emails: {value:?} {m}")))?;
            out.push(NewContact {
                contact_type: ContactType::Email,
                value,
                source: Source::Scim,
                is_primary: *primary,
            });
        }
        for (value, primary) in &self.phone_numbers {
            let (contact_type, value) = match phone(value) {
                Some(e164) => (ContactType::Phone, e164),
                None => (ContactType::Other, value.clone()),
            };
            out.push(NewContact {
                contact_type,
                value,
                source: Source::Scim,
                is_primary: *primary,
            });
        }
        Ok(out)
    }

    fn profile(&self) -> Result<Profile, ScimError> {
        let phones = self.contacts()?;
        let numbers: Vec<&NewContact> = phones
            .iter()
            .filter(|c| c.contact_type == ContactType::Phone)
            .collect();
        let mobile = numbers
            .iter()
            .find(|c| c.is_primary)
            .or(numbers.first())
            .map(|c| c.value.clone());
        validate::profile(Profile {
            name: self.formatted.clone(),
            first_name: self.given_name.clone(),
            middle_name: self.middle_name.clone(),
            last_name: self.family_name.clone(),
            display_name: self.display_name.clone(),
            email: ScimUser::primary(&self.emails).map(str::to_string),
            login: Some(self.user_name.clone()),
            mobile,
            job_title: self.title.clone(),
            language_code: self.preferred_language.clone(),
            ..Profile::default()
        })
        .map_err(|errors| {
            ScimError::invalid_value(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", scim_name(&e.field), e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }

    fn checked_external_id(&self) -> Result<Option<String>, ScimError> {
        self.external_id
            .as_deref()
            .map(|e| {
                validate::text(e, 255)
                    .map_err(|m| ScimError::invalid_value(format!("externalId {m}")))
            })
            .transpose()
    }

    fn password(&self) -> Option<NewPassword> {
        self.password
            .clone()
            .map(|p| NewPassword::new(p, "password"))
    }

    /// The user to create, in `company` when a company's token provisions.
    pub fn new_user(
        &self,
        company: Option<Uuid>,
    ) -> Result<(NewUser, Option<NewPassword>), ScimError> {
        let external_id = self.checked_external_id()?;
        Ok((
            NewUser {
                company_id: company,
                parent_id: self.manager,
                profile: self.profile()?,
                source: external_id.as_ref().map(|_| Source::Scim),
                external_id,
                status: if self.active {
                    UserStatus::Active
                } else {
                    UserStatus::Inactive
                },
                account_type: AccountType::Regular,
                default_store_id: None,
                account_id: None,
                password_hash: None,
                roles: Roles::default(),
                store_ids: Vec::new(),
            },
            self.password(),
        ))
    }

    /// The change making a user this resource (PUT, and PATCH once its
    /// operations are applied): every SCIM attribute set or cleared, every
    /// other field of the user left alone.
    pub fn replacement(&self) -> Result<(UserPatch, Option<NewPassword>), ScimError> {
        let profile = self.profile()?;
        let external_id = self.checked_external_id()?;
        Ok((
            UserPatch {
                parent_id: Some(self.manager),
                profile: ProfilePatch {
                    name: Some(profile.name),
                    first_name: Some(profile.first_name),
                    middle_name: Some(profile.middle_name),
                    last_name: Some(profile.last_name),
                    display_name: Some(profile.display_name),
                    email: Some(profile.email),
                    login: Some(profile.login),
                    mobile: Some(profile.mobile),
                    job_title: Some(profile.job_title),
                    language_code: Some(profile.language_code),
                    ..ProfilePatch::default()
                },
                source: Some(external_id.as_ref().map(|_| Source::Scim)),
                external_id: Some(external_id),
                status: Some(if self.active {
                    UserStatus::Active
                } else {
                    UserStatus::Inactive
                }),
                ..UserPatch::default()
            },
            self.password(),
        ))
    }
}

fn manager_id(value: Option<&Value>) -> Result<Option<Uuid>, ScimError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| ScimError::invalid_value("manager.value must be the id of a user")),
        Some(_) => Err(ScimError::invalid_value("manager.value must be a string")),
    }
}

/// A phone number in E.164, from E.164 with separators or a `tel:` URI.
fn phone(value: &str) -> Option<String> {
    let bare = value.trim();
    let bare = bare.strip_prefix("tel:").unwrap_or(bare);
    let bare = bare.split(';').next().unwrap_or(bare);
    let digits: String = bare
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    validate::e164(&digits).ok()
}

/// A Roster field as the SCIM attribute it maps from, for error messages.
fn scim_name(field: &str) -> &str {
    match field {
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "middle_name" => "name.middleName",
        "display_name" => "displayName",
        "email" => "emails",
        "login" => "userName",
        "mobile" => "phoneNumbers",
        "job_title" => "title",
        "language_code" => "preferredLanguage",
        other => other,
    }
}

/// `userName`: the login, or the email when there is none.
pub fn user_name(user: &User) -> String {
    user.profile
        .login
        .clone()
        .or_else(|| user.profile.email.clone())
        .unwrap_or_else(|| user.id.to_string())
}

/// The active contacts of a type, or the user's own email or mobile as the
/// primary one when it has none of that type.
fn values(user: &User, contacts: &[Contact], kind: ContactType) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = contacts
        .iter()
        .filter(|c| c.user_id == user.id && c.is_active && c.contact_type == kind)
        .map(|c| (c.value.clone(), c.is_primary))
        .collect();
    let own = match kind {
        ContactType::Email => user.profile.email.as_ref(),
        ContactType::Phone => user.profile.mobile.as_ref(),
        _ => None,
    };
    if let Some(own) = own {
        let key = validate::contact_key(kind, own);
        if !found
            .iter()
            .any(|(v, _)| validate::contact_key(kind, v) == key)
        {
            let primary = !found.iter().any(|(_, p)| *p);
            found.insert(0, (own.clone(), primary));
        }
    }
    found
}

/// The resource as JSON, with `meta`; `base` is the `/scim/v2` URL.
pub fn render(user: &User, contacts: &[Contact], base: &str) -> Value {
    let resource = ScimUser::of(user, contacts);
    let mut name = Map::new();
    for (key, value) in [
        ("givenName", &resource.given_name),
        ("familyName", &resource.family_name),
        ("middleName", &resource.middle_name),
    ] {
        if let Some(value) = value {
            name.insert(key.into(), value.clone().into());
        }
    }
    // `formatted` is the user's full name; without one, the parts joined.
    let parts: Vec<&str> = [
        &resource.given_name,
        &resource.middle_name,
        &resource.family_name,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let formatted = resource
        .formatted
        .clone()
        .or_else(|| (!parts.is_empty()).then(|| parts.join(" ")));
    if let Some(formatted) = formatted {
        name.insert("formatted".into(), formatted.into());
    }
    let mut body = json!({
        "schemas": [USER],
        "id": user.id,
        "userName": resource.user_name,
        "active": resource.active,
    });
    let object = body.as_object_mut().expect("an object");
    if let Some(external_id) = &resource.external_id {
        object.insert("externalId".into(), external_id.clone().into());
    }
    if !name.is_empty() {
        object.insert("name".into(), Value::Object(name));
    }
    for (key, value) in [
        ("displayName", &resource.display_name),
        ("title", &resource.title),
        ("preferredLanguage", &resource.preferred_language),
    ] {
        if let Some(value) = value {
            object.insert(key.into(), value.clone().into());
        }
    }
    let multi = |values: &[(String, bool)]| -> Value {
        values
            .iter()
            .map(|(value, primary)| json!({"value": value, "type": "work", "primary": primary}))
            .collect()
    };
    if !resource.emails.is_empty() {
        object.insert("emails".into(), multi(&resource.emails));
    }
    if !resource.phone_numbers.is_empty() {
        object.insert("phoneNumbers".into(), multi(&resource.phone_numbers));
    }
    if let Some(manager) = resource.manager {
        object.insert(
            ENTERPRISE_USER.into(),
            json!({"manager": {"value": manager, "$ref": format!("{base}/Users/{manager}")}}),
        );
        object.insert("schemas".into(), json!([USER, ENTERPRISE_USER]));
    }
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "User",
        "created": user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": user.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": format!("{base}/Users/{}", user.id),
        "version": version,
    });
    body
}

/// The resource's version (an ETag): a digest of what it says, so any
/// change of any attribute, contacts included, changes it.
fn version_of(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}
