//! The SCIM Group resource (RFC 7643 §4.2) over Roster's groups (the same
//! ids): `displayName` ↔ name, `externalId` ↔ external id, `members` ↔ the
//! group's users. A group made over SCIM carries no grants; an operator
//! gives it roles with `PATCH /v1/tenants/{t}/groups/{id}`, and every
//! member then holds them.
//!
//! PATCH operations on `members` become member changes applied in one
//! transaction (never a read-modify-write of the whole list), in the forms
//! identity providers send: Okta's `replace` of `displayName` with the `id`
//! alongside, Entra ID's `Add`/`Remove` with `value` lists, and
//! `members[value eq "…"]` paths.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_app::groups::{GroupChange, GroupDraft};
use roster_app::input::user_query::{Op, Value as QueryValue};
use roster_app::input::{GroupCondition, GroupField, GroupFilter, GroupOrder, MemberChange, Page};
use roster_app::Scope;
use roster_core::{Group, GroupMember};
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, ValFilter};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::user::get;
use super::{
    answer, base_url, check_version, list_response, parse_body, ListParams, Projection, ScimError,
    ScimResult, ScimScope, Search, MAX_RESULTS,
};
use crate::AppState;

/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The most members a Group resource lists (all of them up to this many;
/// `GET /v1/tenants/{t}/groups/{id}/members` pages through any number).
pub const MAX_MEMBERS_SHOWN: i64 = 10_000;

fn group_id(id: &str) -> ScimResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ScimError::not_found("group not found"))
}

/// The group as SCIM shows it.
pub fn render(group: &Group, members: Option<&[GroupMember]>, base: &str) -> Value {
    let mut body = json!({
        "schemas": [GROUP],
        "id": group.id,
        "displayName": group.name,
    });
    if let Some(external_id) = &group.external_id {
        body["externalId"] = json!(external_id);
    }
    if let Some(members) = members {
        body["members"] = members
            .iter()
            .map(|m| {
                let mut member = json!({
                    "value": m.user_id,
                    "$ref": format!("{base}/Users/{}", m.user_id),
                    "type": "User",
                });
                if let Some(display) = &m.display {
                    member["display"] = json!(display);
                }
                member
            })
            .collect();
    }
    let stamp = format!(
        "{}|{}|{}|{:?}|{}",
        group.id,
        group.updated_at.timestamp_millis(),
        group.name,
        group.external_id,
        group.member_count
    );
    let digest = Sha256::digest(stamp.as_bytes());
    body["meta"] = json!({
        "resourceType": "Group",
        "created": group.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": group.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": format!("{base}/Groups/{}", group.id),
        "version": format!("W/\"{}\"", hex::encode(&digest[..8])),
    });
    body
}

/// Whether a projection keeps `members` (lists skip reading them if not).
fn shows_members(projection: &Projection) -> bool {
    let named = |list: &[String]| {
        list.iter()
            .any(|a| a == "members" || a.starts_with("members."))
    };
    !named(&projection.excluded)
        && (projection.attributes.is_empty() || named(&projection.attributes))
}

async fn members_of(app: &AppState, scope: &Scope, id: Uuid) -> ScimResult<Vec<GroupMember>> {
    let page = Page {
        after: None,
        limit: MAX_MEMBERS_SHOWN,
    };
    Ok(app.groups().members(scope, id, &page).await?.items)
}

async fn load(app: &AppState, scope: &Scope, id: Uuid, base: &str) -> ScimResult<(Group, Value)> {
    let group = app.groups().get(scope, id).await?;
    let members = members_of(app, scope, id).await?;
    let rendered = render(&group, Some(&members), base);
    Ok((group, rendered))
}

// ------------------------------------------------------------------ search

/// What an attribute path of a Group names.
enum Named {
    Field(GroupField),
    /// `members` or `members.value`.
    Members,
}

fn named(path: &AttrPath) -> ScimResult<Named> {
    match path.uri.as_deref() {
        None => {}
        Some(uri) if uri.eq_ignore_ascii_case(GROUP) => {}
        Some(uri) => return Err(ScimError::invalid_filter(format!("unknown schema {uri}"))),
    }
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    Ok(match (name.as_str(), sub.as_deref()) {
        ("id", None) => Named::Field(GroupField::Id),
        ("displayname", None) => Named::Field(GroupField::Name),
        ("externalid", None) => Named::Field(GroupField::ExternalId),
        ("meta", Some("created")) => Named::Field(GroupField::CreatedAt),
        ("meta", Some("lastmodified")) => Named::Field(GroupField::UpdatedAt),
        ("members", None | Some("value")) => Named::Members,
        _ => {
            return Err(ScimError::invalid_filter(format!(
                "{path} is not an attribute Roster filters Groups on"
            )))
        }
    })
}

/// A SCIM filter as a condition on groups: every operator, `and`, `or`,
/// `not`, on `id`, `displayName` (without case), `externalId`,
/// `meta.created`, `meta.lastModified` and `members.value` (also as
/// `members[value …]`).
fn condition(filter: &Filter) -> ScimResult<GroupCondition> {
    Ok(match filter {
        Filter::And(a, b) => GroupCondition::And(Box::new(condition(a)?), Box::new(condition(b)?)),
        Filter::Or(a, b) => GroupCondition::Or(Box::new(condition(a)?), Box::new(condition(b)?)),
        Filter::Not(inner) => GroupCondition::Not(Box::new(condition(inner)?)),
        Filter::Attr(expression) => attr_condition(expression)?,
        Filter::ValuePath(value_path) => {
            if !matches!(named(&value_path.attr)?, Named::Members) {
                return Err(ScimError::invalid_filter(format!(
                    "{} is not a multi-valued attribute",
                    value_path.attr
                )));
            }
            members_filter(value_path.filter.as_ref())?
        }
    })
}

fn attr_condition(expression: &AttrExp) -> ScimResult<GroupCondition> {
    let (path, comparison) = match expression {
        AttrExp::Present(path) => (path, None),
        AttrExp::Comparison(path, o, value) => (path, Some((super::filter::op(o), value))),
    };
    Ok(match (named(path)?, comparison) {
        (Named::Members, None) => GroupCondition::Member(None),
        (Named::Members, Some((op, CompValue::Str(id)))) => {
            GroupCondition::Member(Some((op, id.clone())))
        }
        (Named::Members, Some(_)) => {
            return Err(ScimError::invalid_filter(
                "members.value compares with a quoted user id",
            ))
        }
        (Named::Field(field), None) => GroupCondition::Present(field),
        (Named::Field(field), Some((Op::Eq, CompValue::Null))) => {
            GroupCondition::Not(Box::new(GroupCondition::Present(field)))
        }
        (Named::Field(field), Some((Op::Ne, CompValue::Null))) => GroupCondition::Present(field),
        (Named::Field(field), Some((op, value))) => {
            GroupCondition::Compare(field, op, field_value(field, op, value)?)
        }
    })
}

fn field_value(field: GroupField, op: Op, value: &CompValue) -> ScimResult<QueryValue> {
    let substring = matches!(op, Op::Co | Op::Sw | Op::Ew);
    match (field, value) {
        (GroupField::CreatedAt | GroupField::UpdatedAt, CompValue::Str(text)) if !substring => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ScimError::invalid_filter(format!("{text:?} is not an RFC 3339 date-time"))
                })?
                .with_timezone(&chrono::Utc);
            Ok(QueryValue::Time(at))
        }
        (GroupField::CreatedAt | GroupField::UpdatedAt, _) => Err(ScimError::invalid_filter(
            "meta.created and meta.lastModified compare with a date-time string by eq, ne, gt, \
             ge, lt or le",
        )),
        (_, CompValue::Str(text)) => Ok(QueryValue::Text(text.clone())),
        _ => Err(ScimError::invalid_filter(
            "this attribute is a string: compare it with a quoted value",
        )),
    }
}

/// The filter inside `members[…]`: conditions on a member's `value`.
fn members_filter(filter: &ValFilter) -> ScimResult<GroupCondition> {
    Ok(match filter {
        ValFilter::And(a, b) => {
            GroupCondition::And(Box::new(members_filter(a)?), Box::new(members_filter(b)?))
        }
        ValFilter::Or(a, b) => {
            GroupCondition::Or(Box::new(members_filter(a)?), Box::new(members_filter(b)?))
        }
        ValFilter::Not(inner) => GroupCondition::Not(Box::new(members_filter(inner)?)),
        ValFilter::Attr(expression) => {
            let (path, comparison) = match expression {
                AttrExp::Present(path) => (path, None),
                AttrExp::Comparison(path, o, value) => (path, Some((super::filter::op(o), value))),
            };
            let is_value = path.uri.is_none()
                && path.sub_attr.is_none()
                && path.name.eq_ignore_ascii_case("value");
            if !is_value {
                return Err(ScimError::invalid_filter(format!(
                    "{path} inside members[…]: Roster filters members by value"
                )));
            }
            match comparison {
                None => GroupCondition::Member(None),
                Some((op, CompValue::Str(id))) => GroupCondition::Member(Some((op, id.clone()))),
                Some(_) => {
                    return Err(ScimError::invalid_filter(
                        "a member's value compares with a quoted user id",
                    ))
                }
            }
        }
    })
}

/// The groups a search asks for: its filter, order and offset.
fn group_filter(search: &Search, offset: i64) -> ScimResult<GroupFilter> {
    let mut filter = GroupFilter {
        descending: search.descending,
        offset,
        ..GroupFilter::default()
    };
    filter.order = match search
        .sort_by
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("id") | Some("meta.created") => GroupOrder::Made,
        Some("displayname") => GroupOrder::Name,
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "Groups sort by id, displayName or meta.created, not {other}"
            )))
        }
    };
    if let Some(text) = search
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let parsed: Filter = text
            .parse()
            .map_err(|e| ScimError::invalid_filter(format!("filter {text:?}: {e}")))?;
        filter.condition = Some(condition(&parsed)?);
    }
    Ok(filter)
}

/// How many groups a search matches, and `count` of them from `offset`,
/// rendered and projected.
pub(super) async fn group_resources(
    app: &AppState,
    scope: &Scope,
    search: &Search,
    offset: i64,
    count: i64,
    base: &str,
) -> ScimResult<(i64, Vec<Value>)> {
    let filter = group_filter(search, offset)?;
    let total = app.groups().count(scope, filter.clone()).await?;
    let mut groups = Vec::new();
    if count > 0 {
        let page = Page {
            after: None,
            limit: count,
        };
        groups = app.groups().list(scope, filter, &page).await?.items;
        groups.truncate(usize::try_from(count).unwrap_or(0));
    }
    let with_members = shows_members(&search.projection);
    let mut resources = Vec::with_capacity(groups.len());
    for group in &groups {
        let members = if with_members {
            Some(members_of(app, scope, group.id).await?)
        } else {
            None
        };
        resources.push(
            search
                .projection
                .apply(render(group, members.as_deref(), base)),
        );
    }
    Ok((total, resources))
}

async fn run_search(
    app: &AppState,
    scope: &Scope,
    search: Search,
    base: &str,
) -> ScimResult<Response> {
    let offset = search.start_index.max(1) - 1;
    let count = search.count.clamp(0, MAX_RESULTS);
    let (total, resources) = group_resources(app, scope, &search, offset, count, base).await?;
    Ok(list_response(total, offset, resources))
}

pub(super) async fn list_groups(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ScimResult<Response> {
    let Query(params) = params.map_err(|e| ScimError::invalid_value(e.body_text()))?;
    run_search(
        &app,
        &scope,
        Search::from_params(params)?,
        &base_url(&headers),
    )
    .await
}

pub(super) async fn search_groups(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&headers, &body)?;
    super::check_search_schemas(&body)?;
    run_search(&app, &scope, Search::from_body(&body)?, &base_url(&headers)).await
}

// ------------------------------------------------------------------ reads

pub(super) async fn get_group(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> ScimResult<Response> {
    let (_, rendered) = load(&app, &scope, group_id(&id)?, &base_url(&headers)).await?;
    Ok(super::read_answer(&headers, &params, rendered))
}

// ------------------------------------------------------------------ writes

/// The members a value lists: `[{"value": "<id>"}, …]` (or one such object).
fn member_ids(value: &Value) -> ScimResult<Vec<Uuid>> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::invalid_value(
                "members must be a list of {\"value\": \"<user id>\"}",
            ))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let id = item
                .as_object()
                .and_then(|o| get(o, "value"))
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_value("each member needs a value: a user id"))?;
            Uuid::parse_str(id)
                .map_err(|_| ScimError::invalid_value(format!("no user {id} in the tenant")))
        })
        .collect()
}

fn text(value: &Value, name: &str) -> ScimResult<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ScimError::invalid_value(format!("{name} must be a string")))
}

/// A whole Group resource, as POST and PUT send it.
struct ScimGroup {
    display_name: String,
    external_id: Option<String>,
    members: Vec<Uuid>,
}

impl ScimGroup {
    fn from_json(body: &Value) -> ScimResult<ScimGroup> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the body must be a Group object"))?;
        if let Some(schemas) = get(object, "schemas") {
            let known = schemas
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(GROUP)));
            if !known {
                return Err(ScimError::invalid_syntax(format!(
                    "schemas must hold {GROUP}"
                )));
            }
        }
        let display_name = get(object, "displayName")
            .ok_or_else(|| ScimError::invalid_value("displayName is required"))
            .and_then(|v| text(v, "displayName"))?;
        let external_id = get(object, "externalId")
            .map(|v| text(v, "externalId"))
            .transpose()?;
        let members = get(object, "members")
            .map(member_ids)
            .transpose()?
            .unwrap_or_default();
        Ok(ScimGroup {
            display_name,
            external_id,
            members,
        })
    }
}

pub(super) async fn create_group(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&headers, &body)?;
    let resource = ScimGroup::from_json(&body)?;
    let draft = GroupDraft {
        name: resource.display_name,
        external_id: resource.external_id,
        members: resource.members,
        ..GroupDraft::default()
    };
    let group = app.groups().create(&scope, draft).await?;
    let (_, rendered) = load(&app, &scope, group.id, &base_url(&headers)).await?;
    Ok(answer(StatusCode::CREATED, rendered))
}

pub(super) async fn replace_group(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let id = group_id(&id)?;
    let body = parse_body(&headers, &body)?;
    let resource = ScimGroup::from_json(&body)?;
    let base = base_url(&headers);
    let (_, rendered) = load(&app, &scope, id, &base).await?;
    check_version(&headers, &rendered)?;
    super::check_same_id(&body, id)?;
    // A PUT is the whole group: members it leaves out are removed.
    let change = GroupChange {
        name: Some(resource.display_name),
        external_id: Some(resource.external_id),
        members: vec![MemberChange::Replace(resource.members)],
        ..GroupChange::default()
    };
    app.groups().update(&scope, id, change).await?;
    let (_, rendered) = load(&app, &scope, id, &base).await?;
    Ok(answer(StatusCode::OK, rendered))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// One operation on one attribute of the group.
fn operate(
    change: &mut GroupChange,
    id: Uuid,
    kind: Kind,
    attribute: &str,
    member_filter: Option<Uuid>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let needs_value = || ScimError::invalid_value("add and replace need a value");
    match attribute.to_ascii_lowercase().as_str() {
        "members" => {
            let changed = match (kind, member_filter, value) {
                (Kind::Remove, Some(user), _) => MemberChange::Remove(vec![user]),
                (Kind::Remove, None, Some(value)) => MemberChange::Remove(member_ids(value)?),
                (Kind::Remove, None, None) => MemberChange::Replace(Vec::new()),
                (Kind::Add, None, Some(value)) => MemberChange::Add(member_ids(value)?),
                (Kind::Replace, None, Some(value)) => MemberChange::Replace(member_ids(value)?),
                (Kind::Add | Kind::Replace, Some(_), _) => {
                    return Err(ScimError::invalid_path(
                        "add or replace members with path \"members\"",
                    ))
                }
                (_, None, None) => return Err(needs_value()),
            };
            change.members.push(changed);
        }
        "displayname" => match kind {
            Kind::Remove => return Err(ScimError::mutability("displayName is required")),
            _ => change.name = Some(text(value.ok_or_else(needs_value)?, "displayName")?),
        },
        "externalid" => match kind {
            Kind::Remove => change.external_id = Some(None),
            _ => {
                change.external_id = Some(Some(text(value.ok_or_else(needs_value)?, "externalId")?))
            }
        },
        // Okta sends the id with a rename: the same id changes nothing.
        "id" if value.and_then(Value::as_str) == Some(id.to_string().as_str()) => {}
        "schemas" | "meta" | "id" => {
            return Err(ScimError::mutability(format!(
                "{attribute} cannot be changed"
            )))
        }
        other => {
            return Err(ScimError::no_target(format!(
                "{other} is not an attribute of a Group"
            )))
        }
    }
    Ok(())
}

/// A PatchOp body as one change to the group.
fn change_of(id: Uuid, body: &Value) -> ScimResult<GroupChange> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the body must be a PatchOp object"))?;
    let operations = get(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    let mut change = GroupChange::default();
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
        let value = get(operation, "value");
        match get(operation, "path").and_then(Value::as_str) {
            Some(text) => {
                let path: PatchPath = text
                    .parse()
                    .map_err(|e| ScimError::invalid_path(format!("path {text:?}: {e}")))?;
                match path {
                    PatchPath::Attr(attr) => {
                        if attr.sub_attr.is_some() {
                            return Err(ScimError::invalid_path(format!(
                                "{text} is not a path Roster changes"
                            )));
                        }
                        operate(&mut change, id, kind, &attr.name, None, value)?;
                    }
                    PatchPath::Value(value_path) => {
                        let user = match &value_path.filter {
                            ValFilter::Attr(AttrExp::Comparison(
                                sub,
                                CompareOp::Eq,
                                CompValue::Str(user),
                            )) if sub.name.eq_ignore_ascii_case("value") => Uuid::parse_str(user)
                                .map_err(|_| {
                                ScimError::no_target(format!("no member {user}"))
                            })?,
                            _ => {
                                return Err(ScimError::invalid_path(
                                    "select members by value eq \"<user id>\"",
                                ))
                            }
                        };
                        if !value_path.attr.name.eq_ignore_ascii_case("members") {
                            return Err(ScimError::invalid_path(format!(
                                "{text} is not a path Roster changes"
                            )));
                        }
                        operate(&mut change, id, kind, "members", Some(user), value)?;
                    }
                }
            }
            None if kind == Kind::Remove => {
                return Err(ScimError::no_target("remove needs a path"))
            }
            None => {
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::invalid_value(
                        "an operation without path needs an object value",
                    ));
                };
                for (key, value) in values {
                    let key = key
                        .strip_prefix(&format!("{GROUP}:"))
                        .unwrap_or(key.as_str());
                    operate(&mut change, id, kind, key, None, Some(value))?;
                }
            }
        }
    }
    Ok(change)
}

pub(super) async fn patch_group(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let id = group_id(&id)?;
    let body = parse_body(&headers, &body)?;
    let base = base_url(&headers);
    let current = app.groups().get(&scope, id).await?;
    if headers.contains_key(header::IF_MATCH) {
        let members = members_of(&app, &scope, id).await?;
        check_version(&headers, &render(&current, Some(&members), &base))?;
    }
    let change = change_of(id, &body)?;
    app.groups().update(&scope, id, change).await?;
    let (_, rendered) = load(&app, &scope, id, &base).await?;
    Ok(answer(StatusCode::OK, rendered))
}

pub(super) async fn delete_group(
    State(app): State<AppState>,
    ScimScope(scope): ScimScope,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let id = group_id(&id)?;
    if headers.contains_key(header::IF_MATCH) {
        let (_, rendered) = load(&app, &scope, id, &base_url(&headers)).await?;
        check_version(&headers, &rendered)?;
    }
    app.groups().delete(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members_json(ids: &[Uuid]) -> Value {
        Value::Array(ids.iter().map(|id| json!({ "value": id })).collect())
    }

    fn ops(body: Value) -> ScimResult<GroupChange> {
        change_of(Uuid::nil(), &body)
    }

    #[test]
    fn identity_providers_patch_forms_become_member_changes() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        // Entra ID: capitalised ops, value lists, removal by value.
        let entra = ops(json!({"Operations": [
            {"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]},
            {"op": "Remove", "path": "members", "value": [{"value": a}]},
        ]}))
        .unwrap();
        assert_eq!(
            entra.members,
            vec![MemberChange::Add(vec![a, b]), MemberChange::Remove(vec![a])]
        );
        // A value path.
        let by_path = ops(json!({"Operations": [
            {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
        ]}))
        .unwrap();
        assert_eq!(by_path.members, vec![MemberChange::Remove(vec![b])]);
        // Okta: a rename with the id alongside; a replace of all members.
        let okta = ops(json!({"Operations": [
            {"op": "replace", "value": {"id": Uuid::nil(), "displayName": "Tills"}},
            {"op": "replace", "path": "members", "value": members_json(&[a])},
        ]}))
        .unwrap();
        assert_eq!(okta.name.as_deref(), Some("Tills"));
        assert_eq!(okta.members, vec![MemberChange::Replace(vec![a])]);
        // Removing every member.
        let all = ops(json!({"Operations": [{"op": "remove", "path": "members"}]})).unwrap();
        assert_eq!(all.members, vec![MemberChange::Replace(Vec::new())]);
    }

    #[test]
    fn what_a_group_cannot_take_is_refused_with_its_scim_type() {
        for (body, scim_type) in [
            (
                json!({"Operations": [{"op": "remove", "path": "displayName"}]}),
                "mutability",
            ),
            (
                json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
                "mutability",
            ),
            (
                json!({"Operations": [{"op": "add", "path": "colour", "value": "x"}]}),
                "noTarget",
            ),
            (
                json!({"Operations": [{"op": "add", "path": "members", "value": 3}]}),
                "invalidValue",
            ),
            (
                json!({"Operations": [{"op": "move", "path": "members"}]}),
                "invalidSyntax",
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "members[display eq \"x\"]"}]}),
                "invalidPath",
            ),
        ] {
            let error = ops(body.clone())
                .err()
                .unwrap_or_else(|| panic!("{body} passed"));
            assert_eq!(error.scim_type, Some(scim_type), "{body}");
        }
    }
}
