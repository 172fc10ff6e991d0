//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: each operation
//! (`add`, `replace`, `remove`, names in any case) changes the document;
//! the result is then read as a whole resource and written as a replace,
//! so a PATCH obeys exactly the rules a PUT does.
//!
//! Also the forms the big identity providers send: Entra ID's operations
//! without `path` whose `value` object has dotted or URI-qualified keys
//! (`{"name.givenName": "Ann"}`), and boolean strings (`"False"`).

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, PatchPath, ValFilter};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::user::get;
use super::{ENTERPRISE_USER, USER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PatchOp body's operations to `resource`, in order.
pub fn apply(resource: &mut Map<String, Value>, body: &Value) -> Result<(), ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the body must be a PatchOp object"))?;
    let operations = get(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    for operation in operations {
        let operation = operation
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("each operation must be an object"))?;
        let kind = match get(operation, "op").and_then(Value::as_str) {
            Some(op) if op.eq_ignore_ascii_case("add") => Kind::Add,
            Some(op) if op.eq_ignore_ascii_case("replace") => Kind::Replace,
            Some(op) if op.eq_ignore_ascii_case("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "op must be add, replace or remove",
                ))
            }
        };
        let value = get(operation, "value").cloned();
        match get(operation, "path").and_then(Value::as_str) {
            Some(path) => {
                let path: PatchPath = path
                    .parse()
                    .map_err(|e| ScimError::invalid_path(format!("path {path:?}: {e}")))?;
                apply_one(resource, kind, &path, value)?;
            }
            None if kind == Kind::Remove => {
                return Err(ScimError::no_target("remove needs a path"));
            }
            None => {
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::invalid_value(
                        "an operation without path needs an object value",
                    ));
                };
                for (key, value) in values {
                    let path: PatchPath = key
                        .parse()
                        .map_err(|e| ScimError::invalid_path(format!("{key:?}: {e}")))?;
                    apply_one(resource, kind, &path, Some(value))?;
                }
            }
        }
    }
    Ok(())
}

/// The key an attribute is kept under: its name as the resource spells it
/// (names are case-insensitive), or as given when it is new.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// The object an attribute path lives in: the resource, or the extension
/// object its schema URI names (made when missing).
fn container<'a>(
    resource: &'a mut Map<String, Value>,
    path: &AttrPath,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    match path.uri.as_deref() {
        None => Ok(resource),
        Some(uri) if uri.eq_ignore_ascii_case(USER) => Ok(resource),
        Some(uri) if uri.eq_ignore_ascii_case(ENTERPRISE_USER) => {
            let key = key_of(resource, ENTERPRISE_USER);
            let slot = resource
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            Ok(slot.as_object_mut().expect("an object"))
        }
        Some(uri) => Err(ScimError::invalid_path(format!("unknown schema {uri}"))),
    }
}

fn guard_read_only(name: &str) -> Result<(), ScimError> {
    if ["id", "meta", "schemas"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
    {
        return Err(ScimError::mutability(format!("{name} cannot be changed")));
    }
    Ok(())
}

fn apply_one(
    resource: &mut Map<String, Value>,
    kind: Kind,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let needs_value = || ScimError::invalid_value("add and replace need a value");
    match path {
        PatchPath::Attr(attr) => {
            // `urn:...:enterprise:2.0:User` alone names the extension.
            // `urn:…:enterprise:2.0:User` alone names the extension (the
            // parser reads it as the attribute `User` of `urn:…:2.0`).
            let whole = attr
                .uri
                .as_ref()
                .map(|uri| format!("{uri}:{}", attr.name))
                .unwrap_or_else(|| attr.name.clone());
            if attr.sub_attr.is_none() && whole.eq_ignore_ascii_case(ENTERPRISE_USER) {
                return set_whole(resource, kind, ENTERPRISE_USER, value);
            }
            guard_read_only(&attr.name)?;
            if kind == Kind::Remove && attr.name.eq_ignore_ascii_case("active") {
                // Every user is active or not: `active` is never unassigned.
                return Err(ScimError::invalid_value(
                    "active is required: replace it with false to deactivate",
                ));
            }
            let object = container(resource, attr)?;
            match &attr.sub_attr {
                None => set_whole(object, kind, &attr.name, value),
                Some(sub) => {
                    let key = key_of(object, &attr.name);
                    if kind == Kind::Remove {
                        if let Some(Value::Object(parent)) = object.get_mut(&key) {
                            let sub = key_of(parent, sub);
                            parent.remove(&sub);
                        }
                        return Ok(());
                    }
                    let value = value.ok_or_else(needs_value)?;
                    let parent = object
                        .entry(key)
                        .or_insert_with(|| Value::Object(Map::new()));
                    match parent {
                        Value::Object(parent) => {
                            let sub = key_of(parent, sub);
                            parent.insert(sub, value);
                            Ok(())
                        }
                        _ => Err(ScimError::invalid_path(format!(
                            "{} has no sub-attributes",
                            attr.name
                        ))),
                    }
                }
            }
        }
        PatchPath::Value(value_path) => {
            let attr = &value_path.attr;
            guard_read_only(&attr.name)?;
            let object = container(resource, attr)?;
            let key = key_of(object, &attr.name);
            let items = object
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                return Err(ScimError::invalid_path(format!(
                    "{} is not multi-valued",
                    attr.name
                )));
            };
            let matched: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    item.as_object()
                        .is_some_and(|o| holds(o, &value_path.filter))
                })
                .map(|(i, _)| i)
                .collect();
            match (kind, &value_path.sub_attr) {
                (Kind::Remove, None) => {
                    for i in matched.into_iter().rev() {
                        items.remove(i);
                    }
                }
                (Kind::Remove, Some(sub)) => {
                    for i in matched {
                        if let Some(item) = items[i].as_object_mut() {
                            let sub = key_of(item, sub);
                            item.remove(&sub);
                        }
                    }
                }
                (_, sub) => {
                    let value = value.ok_or_else(needs_value)?;
                    if matched.is_empty() {
                        // Nothing matches: the value joins, carrying what the
                        // filter's equalities say (Entra ID's
                        // `emails[type eq "work"].value` on a user without one).
                        let mut item = seed(&value_path.filter);
                        match sub {
                            Some(sub) => {
                                item.insert(sub.clone(), value.clone());
                            }
                            None => match value.clone() {
                                Value::Object(fields) => item.extend(fields),
                                _ => {
                                    return Err(ScimError::invalid_value(
                                        "a value of a multi-valued attribute is an object",
                                    ))
                                }
                            },
                        }
                        items.push(Value::Object(item));
                    }
                    for i in matched {
                        match sub {
                            Some(sub) => {
                                if let Some(item) = items[i].as_object_mut() {
                                    let sub = key_of(item, sub);
                                    item.insert(sub, value.clone());
                                }
                            }
                            None => items[i] = value.clone(),
                        }
                    }
                }
            }
            drop_empty(object, &key);
            Ok(())
        }
    }
}

/// `add`, `replace` or `remove` of a whole attribute. Adding to a
/// multi-valued attribute appends what is not there yet; a primary among
/// the added values takes the flag from the others.
fn set_whole(
    object: &mut Map<String, Value>,
    kind: Kind,
    name: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let key = key_of(object, name);
    match (kind, value) {
        (Kind::Remove, _) => {
            object.remove(&key);
        }
        (Kind::Add, Some(Value::Array(added))) => {
            let slot = object
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = slot else {
                return Err(ScimError::invalid_value(format!(
                    "{name} is not multi-valued"
                )));
            };
            if added.iter().any(is_primary) {
                for item in items.iter_mut() {
                    if let Some(item) = item.as_object_mut() {
                        let key = key_of(item, "primary");
                        item.insert(key, Value::Bool(false));
                    }
                }
            }
            for new in added {
                let value = new
                    .get("value")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase);
                let existing = items.iter_mut().find(|item| {
                    item.get("value")
                        .and_then(Value::as_str)
                        .map(str::to_lowercase)
                        == value
                        && value.is_some()
                });
                match existing {
                    Some(item) => *item = new,
                    None => items.push(new),
                }
            }
        }
        (Kind::Add, Some(Value::Object(fields))) => {
            let slot = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            match slot {
                // Adding to a complex attribute merges its sub-attributes.
                Value::Object(existing) => {
                    for (sub, v) in fields {
                        let sub = key_of(existing, &sub);
                        existing.insert(sub, v);
                    }
                }
                other => *other = Value::Object(fields),
            }
        }
        (_, Some(value)) => {
            object.insert(key, value);
        }
        (_, None) => return Err(ScimError::invalid_value("add and replace need a value")),
    }
    Ok(())
}

fn is_primary(item: &Value) -> bool {
    item.as_object()
        .and_then(|o| get(o, "primary"))
        .is_some_and(|p| {
            p == &Value::Bool(true) || p.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
        })
}

/// Removes an attribute left as an empty array.
fn drop_empty(object: &mut Map<String, Value>, key: &str) {
    if object
        .get(key)
        .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty))
    {
        object.remove(key);
    }
}

/// The sub-attributes a value filter's `eq` comparisons (joined by `and`)
/// fix, for a value that joins because none matched.
fn seed(filter: &ValFilter) -> Map<String, Value> {
    let mut out = Map::new();
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            ValFilter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, value))
                if !path.name.eq_ignore_ascii_case("type") =>
            {
                let value = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::True => Value::Bool(true),
                    CompValue::False => Value::Bool(false),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Null => continue,
                };
                out.insert(path.name.clone(), value);
            }
            _ => {}
        }
    }
    out
}

/// Whether one value of a multi-valued attribute meets a value filter.
fn holds(item: &Map<String, Value>, filter: &ValFilter) -> bool {
    match filter {
        ValFilter::And(a, b) => holds(item, a) && holds(item, b),
        ValFilter::Or(a, b) => holds(item, a) || holds(item, b),
        ValFilter::Not(inner) => !holds(item, inner),
        ValFilter::Attr(AttrExp::Present(path)) => {
            get(item, &path.name).is_some_and(|v| v != &Value::String(String::new()))
        }
        // Roster keeps no kind beside a contact's type, so a value path
        // selects by `type` nothing away: Entra ID's
        // `phoneNumbers[type eq "mobile"].value` is the user's phone.
        ValFilter::Attr(AttrExp::Comparison(path, _, _))
            if path.name.eq_ignore_ascii_case("type") =>
        {
            true
        }
        ValFilter::Attr(AttrExp::Comparison(path, op, expected)) => {
            let actual = get(item, &path.name);
            compare(actual, op, expected)
        }
    }
}

fn compare(actual: Option<&Value>, op: &CompareOp, expected: &CompValue) -> bool {
    match (actual, expected) {
        (None, CompValue::Null) => matches!(op, CompareOp::Eq),
        (None, _) => matches!(op, CompareOp::Ne),
        (Some(actual), CompValue::True | CompValue::False) => {
            let wanted = matches!(expected, CompValue::True);
            let actual = match actual {
                Value::Bool(b) => Some(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            };
            match op {
                CompareOp::Eq => actual == Some(wanted),
                CompareOp::Ne => actual != Some(wanted),
                _ => false,
            }
        }
        (Some(Value::String(actual)), CompValue::Str(expected)) => {
            // Sub-attributes of emails and phone numbers ignore case.
            let (a, e) = (actual.to_lowercase(), expected.to_lowercase());
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                CompareOp::Gt => a > e,
                CompareOp::Ge => a >= e,
                CompareOp::Lt => a < e,
                CompareOp::Le => a <= e,
            }
        }
        (Some(_), CompValue::Null) => matches!(op, CompareOp::Ne),
        _ => false,
    }
}
