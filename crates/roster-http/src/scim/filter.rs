//! SCIM filters (RFC 7644 §3.4.2.2), parsed by the `scim_v2` crate, mapped
//! onto the store's [`Condition`]s: every attribute of the User resource
//! Roster keeps (SPEC §8's mapping) becomes a predicate over its column or
//! contacts; an attribute Roster does not keep is refused as `invalidFilter`
//! rather than silently matching nothing.

use chrono::{DateTime, Utc};
use roster_app::input::user_query::{Condition, ContactCondition, Field, Op, SortKey, Value};
use roster_core::ContactType;
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, ValFilter};

use super::error::ScimError;
use super::{ENTERPRISE_USER, USER};

/// What an attribute path names.
enum Named {
    Field(Field),
    /// A multi-valued contact attribute, with the sub-attribute named.
    Contact(ContactType, Option<String>),
}

/// Strips a schema URI naming the core or enterprise User schema; the path
/// then names an attribute of that schema.
fn attribute(path: &AttrPath) -> Result<(bool, String, Option<String>), ScimError> {
    let enterprise = match path.uri.as_deref() {
        None => false,
        Some(uri) if uri.eq_ignore_ascii_case(USER) => false,
        Some(uri) if uri.eq_ignore_ascii_case(ENTERPRISE_USER) => true,
        Some(uri) => return Err(ScimError::invalid_filter(format!("unknown schema {uri}"))),
    };
    Ok((
        enterprise,
        path.name.to_ascii_lowercase(),
        path.sub_attr.as_ref().map(|s| s.to_ascii_lowercase()),
    ))
}

fn named(path: &AttrPath) -> Result<Named, ScimError> {
    let (enterprise, name, sub) = attribute(path)?;
    let field = match (enterprise, name.as_str(), sub.as_deref()) {
        (false, "id", None) => Field::Id,
        (false, "username", None) => Field::UserName,
        (false, "externalid", None) => Field::ExternalId,
        (false, "displayname", None) => Field::DisplayName,
        (false, "title", None) => Field::JobTitle,
        (false, "preferredlanguage", None) => Field::LanguageCode,
        (false, "active", None) => Field::Active,
        (false, "name", Some("givenname")) => Field::FirstName,
        (false, "name", Some("familyname")) => Field::LastName,
        (false, "name", Some("middlename")) => Field::MiddleName,
        (false, "meta", Some("created")) => Field::CreatedAt,
        (false, "meta", Some("lastmodified")) => Field::UpdatedAt,
        (true, "manager", Some("value")) | (true, "manager", None) => Field::ParentId,
        (false, "emails", sub) => {
            return Ok(Named::Contact(ContactType::Email, sub.map(str::to_string)))
        }
        (false, "phonenumbers", sub) => {
            return Ok(Named::Contact(ContactType::Phone, sub.map(str::to_string)))
        }
        _ => {
            return Err(ScimError::invalid_filter(format!(
                "{path} is not an attribute Roster filters on"
            )))
        }
    };
    Ok(Named::Field(field))
}

pub(super) fn op(op: &CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

/// A filter as a condition on users.
pub fn condition(filter: &Filter) -> Result<Condition, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Condition::And(Box::new(condition(a)?), Box::new(condition(b)?)),
        Filter::Or(a, b) => Condition::Or(Box::new(condition(a)?), Box::new(condition(b)?)),
        Filter::Not(inner) => Condition::Not(Box::new(condition(inner)?)),
        Filter::Attr(expression) => attr_condition(expression)?,
        Filter::ValuePath(path) => match named(&path.attr)? {
            Named::Contact(kind, None) => {
                Condition::Contact(kind, Box::new(contact_filter(&path.filter)?))
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "{} is not a multi-valued attribute",
                    path.attr
                )))
            }
        },
    })
}

fn attr_condition(expression: &AttrExp) -> Result<Condition, ScimError> {
    let (path, comparison) = match expression {
        AttrExp::Present(path) => (path, None),
        AttrExp::Comparison(path, o, value) => (path, Some((op(o), value))),
    };
    match named(path)? {
        Named::Contact(kind, sub) => {
            let inner = contact_condition(sub.as_deref(), comparison)?;
            Ok(Condition::Contact(kind, Box::new(inner)))
        }
        Named::Field(field) => match comparison {
            None => Ok(Condition::Present(field)),
            // `eq null` is "has no value" (RFC 7644 §3.4.2.2, `pr`'s opposite).
            Some((Op::Eq, CompValue::Null)) => {
                Ok(Condition::Not(Box::new(Condition::Present(field))))
            }
            Some((Op::Ne, CompValue::Null)) => Ok(Condition::Present(field)),
            Some((op, value)) => Ok(Condition::Compare(
                field,
                op,
                field_value(field, op, value)?,
            )),
        },
    }
}

/// The value a field is compared with, checked against the field's type.
fn field_value(field: Field, op: Op, value: &CompValue) -> Result<Value, ScimError> {
    let substring = matches!(op, Op::Co | Op::Sw | Op::Ew);
    match (field, value) {
        (Field::Active, CompValue::True | CompValue::False) if matches!(op, Op::Eq | Op::Ne) => {
            Ok(Value::Bool(matches!(value, CompValue::True)))
        }
        (Field::Active, _) => Err(ScimError::invalid_filter(
            "active compares with true or false, by eq or ne",
        )),
        (Field::CreatedAt | Field::UpdatedAt, CompValue::Str(text)) if !substring => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ScimError::invalid_filter(format!("{text:?} is not an RFC 3339 date-time"))
                })?
                .with_timezone(&Utc);
            Ok(Value::Time(at))
        }
        (Field::CreatedAt | Field::UpdatedAt, _) => Err(ScimError::invalid_filter(
            "meta.created and meta.lastModified compare with a date-time string by eq, ne, gt, \
             ge, lt or le",
        )),
        (_, CompValue::Str(text)) => Ok(Value::Text(text.clone())),
        _ => Err(ScimError::invalid_filter(
            "this attribute is a string: compare it with a quoted value",
        )),
    }
}

/// A condition on one contact, from a sub-attribute and its comparison.
fn contact_condition(
    sub: Option<&str>,
    comparison: Option<(Op, &CompValue)>,
) -> Result<ContactCondition, ScimError> {
    Ok(match (sub, comparison) {
        // `emails pr`, `emails.value pr`: the user has one.
        (None | Some("value"), None) => ContactCondition::Const(true),
        (None | Some("value"), Some((op, CompValue::Str(text)))) => {
            ContactCondition::Value(op, text.clone())
        }
        (Some("primary"), None) => ContactCondition::Const(true),
        (Some("primary"), Some((Op::Eq, value @ (CompValue::True | CompValue::False)))) => {
            ContactCondition::Primary(matches!(value, CompValue::True))
        }
        (Some("primary"), Some((Op::Ne, value @ (CompValue::True | CompValue::False)))) => {
            ContactCondition::Primary(!matches!(value, CompValue::True))
        }
        // Roster keeps no kind of contact beyond its type: every email and
        // phone number is `work` (documented in docs/scim.md).
        (Some("type"), None) => ContactCondition::Const(true),
        (Some("type"), Some((Op::Eq, CompValue::Str(kind)))) => {
            ContactCondition::Const(kind.eq_ignore_ascii_case("work"))
        }
        (Some("type"), Some((Op::Ne, CompValue::Str(kind)))) => {
            ContactCondition::Const(!kind.eq_ignore_ascii_case("work"))
        }
        (Some(sub @ ("value" | "primary" | "type")), Some(_)) => {
            return Err(ScimError::invalid_filter(format!(
                "this comparison of {sub} is not supported"
            )))
        }
        (None, Some(_)) => {
            return Err(ScimError::invalid_filter(
                "compare a contact's value with a quoted string",
            ))
        }
        (Some(sub), _) => {
            return Err(ScimError::invalid_filter(format!(
                "{sub} is not a sub-attribute Roster filters on"
            )))
        }
    })
}

/// The filter inside a value path (`emails[type eq "work"]`).
fn contact_filter(filter: &ValFilter) -> Result<ContactCondition, ScimError> {
    Ok(match filter {
        ValFilter::And(a, b) => {
            ContactCondition::And(Box::new(contact_filter(a)?), Box::new(contact_filter(b)?))
        }
        ValFilter::Or(a, b) => {
            ContactCondition::Or(Box::new(contact_filter(a)?), Box::new(contact_filter(b)?))
        }
        ValFilter::Not(inner) => ContactCondition::Not(Box::new(contact_filter(inner)?)),
        ValFilter::Attr(expression) => {
            let (path, comparison) = match expression {
                AttrExp::Present(path) => (path, None),
                AttrExp::Comparison(path, o, value) => (path, Some((op(o), value))),
            };
            if path.uri.is_some() || path.sub_attr.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "{path} inside brackets names a sub-attribute: value, type or primary"
                )));
            }
            contact_condition(Some(&path.name.to_ascii_lowercase()), comparison)?
        }
    })
}

/// The attribute of `sortBy` (RFC 7644 §3.4.2.3).
pub fn sort_key(by: &str) -> Result<SortKey, ScimError> {
    let path = match by.parse::<PatchPath>() {
        Ok(PatchPath::Attr(path)) => path,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "sortBy {by:?} is not an attribute"
            )))
        }
    };
    let (enterprise, name, sub) = attribute(&path)?;
    Ok(match (enterprise, name.as_str(), sub.as_deref()) {
        (false, "username", None) => SortKey::UserName,
        (false, "name", Some("givenname")) => SortKey::FirstName,
        (false, "name", Some("familyname")) => SortKey::LastName,
        (false, "displayname", None) => SortKey::DisplayName,
        (false, "emails", None | Some("value")) => SortKey::Email,
        (false, "externalid", None) => SortKey::ExternalId,
        (false, "meta", Some("created")) => SortKey::CreatedAt,
        (false, "meta", Some("lastmodified")) => SortKey::UpdatedAt,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "sortBy {by:?} is not an attribute Roster sorts on"
            )))
        }
    })
}
