//! What SCIM clients read first (RFC 7644 §4): `ServiceProviderConfig`,
//! `ResourceTypes` and `Schemas`, answered without credentials (they say
//! nothing about any tenant), and honest: only what `/scim/v2` does.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::group::GROUP;
use super::{answer, base_url, ScimError, ENTERPRISE_USER, LIST_RESPONSE, MAX_RESULTS, USER};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

async fn service_provider_config(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    answer(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "/docs",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": true},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A tenant API key with MANAGE_USERS (VIEW_USERS to read), or a \
                                company's SCIM token (that company's users and groups only), sent \
                                as Authorization: Bearer <token>",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base}/ServiceProviderConfig"),
            },
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A user of the tenant",
        "schema": USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of the tenant's users; its members hold its role grants",
        "schema": GROUP,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn resource_types(headers: HeaderMap) -> Response {
    answer(
        StatusCode::OK,
        list(vec![
            user_resource_type(&base_url(&headers)),
            group_resource_type(&base_url(&headers)),
        ]),
    )
}

async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    let base = base_url(&headers);
    match id.as_str() {
        "User" => Ok(answer(StatusCode::OK, user_resource_type(&base))),
        "Group" => Ok(answer(StatusCode::OK, group_resource_type(&base))),
        _ => Err(ScimError::not_found(format!("no resource type {id}"))),
    }
}

/// One attribute's definition (RFC 7643 §7).
fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attribute: Value, changes: Value) -> Value {
    if let (Some(a), Some(c)) = (attribute.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            a.insert(k.clone(), v.clone());
        }
    }
    attribute
}

fn multi_valued(name: &str, description: &str) -> Value {
    with(
        attribute(name, "complex", description),
        json!({
            "multiValued": true,
            "subAttributes": [
                attribute("value", "string", "The value"),
                with(attribute("type", "string", "Always work: Roster keeps no other kind"),
                     json!({"canonicalValues": ["work"]})),
                attribute("primary", "boolean", "The primary one (at most one)"),
            ],
        }),
    )
}

fn user_schema(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER,
        "name": "User",
        "description": "A user of the tenant",
        "attributes": [
            with(attribute("userName", "string", "The login; the email when the user has no login"),
                 json!({"required": true, "uniqueness": "server"})),
            with(attribute("name", "complex", "The user's name"), json!({"subAttributes": [
                attribute("formatted", "string", "The full name"),
                attribute("givenName", "string", "First name"),
                attribute("middleName", "string", "Middle name"),
                attribute("familyName", "string", "Last name"),
            ]})),
            attribute("displayName", "string", "Display name"),
            attribute("title", "string", "Job title"),
            with(attribute("preferredLanguage", "string", "An ISO 639-1 language code"),
                 json!({"canonicalValues": roster_core::validate::ISO_639_1.split(' ').collect::<Vec<_>>()})),
            with(attribute("active", "boolean",
                           "false deactivates the user and ends its sessions; true when a new user leaves it out"),
                 json!({"required": true})),
            with(attribute("password", "string", "A new password"),
                 json!({"mutability": "writeOnly", "returned": "never"})),
            multi_valued("emails", "Email contacts; the primary one is the user's email"),
            multi_valued("phoneNumbers", "Phone contacts in E.164; others are kept as OTHER contacts"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER}")},
    })
}

fn enterprise_schema(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_USER,
        "name": "EnterpriseUser",
        "description": "The enterprise extension: the manager is the user's parent",
        "attributes": [
            with(attribute("manager", "complex", "The user's parent in its company's hierarchy"),
                 json!({"subAttributes": [
                     attribute("value", "string", "The manager's id"),
                     with(attribute("$ref", "reference", "The manager's URI (read for the id when value is absent)"),
                          json!({"referenceTypes": ["User"]})),
                 ]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE_USER}")},
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP,
        "name": "Group",
        "description": "A group of the tenant's (or a company's) users",
        "attributes": [
            with(attribute("displayName", "string", "The group's name, unique without case"),
                 json!({"required": true, "uniqueness": "server"})),
            with(attribute("members", "complex", "The group's users"), json!({
                "multiValued": true,
                "subAttributes": [
                    with(attribute("value", "string", "The user's id"),
                         json!({"mutability": "immutable"})),
                    with(attribute("$ref", "reference", "The user's URI"),
                         json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                    with(attribute("display", "string", "The user's name or email"),
                         json!({"mutability": "readOnly"})),
                    with(attribute("type", "string", "Always User"),
                         json!({"mutability": "immutable", "canonicalValues": ["User"]})),
                ],
            })),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP}")},
    })
}

async fn schemas(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    answer(
        StatusCode::OK,
        list(vec![
            user_schema(&base),
            enterprise_schema(&base),
            group_schema(&base),
        ]),
    )
}

async fn schema(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    let base = base_url(&headers);
    match id.as_str() {
        USER => Ok(answer(StatusCode::OK, user_schema(&base))),
        ENTERPRISE_USER => Ok(answer(StatusCode::OK, enterprise_schema(&base))),
        GROUP => Ok(answer(StatusCode::OK, group_schema(&base))),
        _ => Err(ScimError::not_found(format!("no schema {id}"))),
    }
}
