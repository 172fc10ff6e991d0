//! The schemas of the text fields Roster checks, for `#[schema(schema_with
//! = ...)]`: each says in JSON Schema what the `roster_core::validate`
//! function of the same name accepts, reading that module's own bounds and
//! lists, so the document and the server agree. A rule JSON Schema cannot
//! say (a password's strength) is in the description.
//!
//! Each comes as `x()` for a required field and `x_or_null()` for an
//! optional one (`null` is taken as absent, or as "clear" in a PATCH).

use roster_core::validate;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};

fn string(nullable: bool) -> ObjectBuilder {
    let builder = ObjectBuilder::new();
    if nullable {
        builder.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    } else {
        builder.schema_type(Type::String)
    }
}

/// `validate::text(_, MAX)`: trimmed, not empty, at most `MAX` characters.
fn text_of<const MAX: usize>(nullable: bool) -> Object {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(MAX))
        .pattern(Some(r"^[^\u0000]*[^\s\u0000][^\u0000]*$"))
        .description(Some(format!(
            "Free text: not blank, at most {MAX} characters; kept trimmed."
        )))
        .build()
}

pub fn text<const MAX: usize>() -> Object {
    text_of::<MAX>(false)
}

pub fn text_or_null<const MAX: usize>() -> Object {
    text_of::<MAX>(true)
}

/// A group's tenant role (`rules::group::TENANT_ROLES`), or `null`.
pub fn group_tenant_role_or_null() -> Object {
    use roster_core::rules::group::TENANT_ROLES;
    string(true)
        .enum_values(Some(
            TENANT_ROLES
                .iter()
                .map(|r| serde_json::Value::from(r.as_str()))
                .chain([serde_json::Value::Null]),
        ))
        .description(Some(
            "A tenant role every member holds; a group never blocks.",
        ))
        .build()
}

/// `validate::identifier`: a tenant uid, store id or user code.
fn identifier_of(nullable: bool) -> Object {
    string(nullable)
        .pattern(Some("^[A-Za-z0-9_-]{1,64}$"))
        .description(Some("1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`."))
        .build()
}

pub fn identifier() -> Object {
    identifier_of(false)
}

pub fn identifier_or_null() -> Object {
    identifier_of(true)
}

/// `validate::store_code`: a lowercase letter, then a-z, 0-9, `_`, at most
/// 32 characters; not one of the reserved codes.
fn store_code_of(nullable: bool) -> Object {
    let reserved = validate::RESERVED_STORE_CODES.join("|");
    string(nullable)
        .pattern(Some(format!("^(?!(?:{reserved})$)[a-z][a-z0-9_]{{0,31}}$")))
        .description(Some(format!(
            "A lowercase letter, then a-z, 0-9 and `_`, at most 32 characters; not {}.",
            validate::RESERVED_STORE_CODES.join(" or ")
        )))
        .build()
}

pub fn store_code() -> Object {
    store_code_of(false)
}

pub fn store_code_or_null() -> Object {
    store_code_of(true)
}

/// `validate::email`: an RFC 5322 addr-spec with a dotted domain.
fn email_of(nullable: bool) -> Object {
    string(nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .build()
}

pub fn email() -> Object {
    email_of(false)
}

pub fn email_or_null() -> Object {
    email_of(true)
}

/// `validate::e164`.
pub fn e164_or_null() -> Object {
    string(true)
        .pattern(Some(r"^\+[1-9][0-9]{7,14}$"))
        .description(Some("E.164: `+`, then 8 to 15 digits, the first not 0."))
        .build()
}

/// `validate::country_code`.
pub fn country_code_or_null() -> Object {
    string(true)
        .pattern(Some("^[A-Z]{2}$"))
        .description(Some("ISO 3166-1 alpha-2, such as `AU`."))
        .build()
}

/// `validate::language_code`: one of the ISO 639-1 codes.
fn language_code_of(nullable: bool) -> Object {
    let mut codes: Vec<Option<&str>> = validate::ISO_639_1.split(' ').map(Some).collect();
    if nullable {
        codes.push(None);
    }
    string(nullable)
        .enum_values(Some(codes))
        .description(Some("ISO 639-1, lowercase, such as `en`."))
        .build()
}

pub fn language_code_or_null() -> Object {
    language_code_of(true)
}

/// The password policy of `roster_core::secret`: 12 to 128 characters
/// (after NFKC normalisation) and not guessable, which JSON Schema cannot
/// say.
fn password_of(nullable: bool) -> Object {
    string(nullable)
        .min_length(Some(12))
        .max_length(Some(128))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .write_only(Some(true))
        .description(Some(
            "12 to 128 characters after NFKC normalisation, and not guessable: a password \
             zxcvbn scores below 3 (common passwords, the user's own email or names) is \
             refused with 400. Write-only.",
        ))
        .build()
}

pub fn password() -> Object {
    password_of(false)
}

pub fn password_or_null() -> Object {
    password_of(true)
}

/// A list of store ids (`validate::identifier` each), or `null`.
pub fn identifiers_or_null() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(identifier())
        .build()
}

/// Every operation of a path item.
pub fn operations_of(
    item: &utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.post, &item.put, &item.patch, &item.delete]
        .into_iter()
        .flatten()
}

/// Every operation of a path item, to change.
pub fn operations_of_mut(
    item: &mut utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// The names of an operation's path parameters.
pub fn path_parameters(op: &utoipa::openapi::path::Operation) -> Vec<String> {
    op.parameters
        .iter()
        .flatten()
        .filter(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
        .map(|p| p.name.clone())
        .collect()
}

/// The pattern of a string free of U+0000, which no text Roster takes may
/// hold (`crate::extract::screen` refuses it in bodies, `Path` and `Query`
/// in paths and queries).
const NO_NUL: &str = r"^[^\u0000]*$";

/// The name of the schema of the fields a seed surface takes and ignores:
/// anything but text holding U+0000. (Text nested deeper in such a field
/// is refused too; a schema saying so would be recursive, which client
/// generators cannot read.)
const NUL_FREE_VALUE: &str = "NulFreeValue";

/// Adds [`NUL_FREE_VALUE`] to a served document (utoipa's builders have
/// no `not`).
pub fn add_nul_free_value(document: &mut serde_json::Value) {
    document["components"]["schemas"][NUL_FREE_VALUE] = serde_json::json!({
        "description": "Any JSON value but text holding U+0000.",
        "not": {"type": "string", "pattern": r"\u0000"}
    });
}

/// The component schemas a request body reaches.
fn request_schemas(api: &utoipa::openapi::OpenApi) -> std::collections::BTreeSet<String> {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
    use utoipa::openapi::RefOr;

    fn refs(schema: &RefOr<Schema>, out: &mut Vec<String>) {
        match schema {
            RefOr::Ref(r) => out.extend(r.ref_location.rsplit('/').next().map(String::from)),
            RefOr::T(Schema::Object(object)) => {
                object.properties.values().for_each(|s| refs(s, out));
                if let Some(AdditionalProperties::RefOr(extra)) =
                    object.additional_properties.as_deref()
                {
                    refs(extra, out);
                }
            }
            RefOr::T(Schema::Array(array)) => {
                if let ArrayItems::RefOrSchema(items) = &array.items {
                    refs(items, out);
                }
            }
            RefOr::T(Schema::OneOf(one)) => one.items.iter().for_each(|s| refs(s, out)),
            RefOr::T(Schema::AllOf(all)) => all.items.iter().for_each(|s| refs(s, out)),
            RefOr::T(Schema::AnyOf(any)) => any.items.iter().for_each(|s| refs(s, out)),
            _ => {}
        }
    }

    let schemas = api.components.as_ref().map(|c| &c.schemas);
    let mut pending = Vec::new();
    for item in api.paths.paths.values() {
        for op in operations_of(item) {
            for content in op.request_body.iter().flat_map(|b| b.content.values()) {
                content.schema.iter().for_each(|s| refs(s, &mut pending));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            if let Some(schema) = schemas.and_then(|s| s.get(&name)) {
                refs(schema, &mut pending);
            }
        }
    }
    seen
}

/// Gives every string schema of the document that has no pattern, no
/// enumeration and no format of its own [`NO_NUL`], and every object of a
/// request open to other fields [`NUL_FREE_VALUE`] for them: the one rule
/// every string shares, stated once here rather than on each field.
pub fn refuse_nul(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
    use utoipa::openapi::RefOr;

    fn walk(schema: &mut RefOr<Schema>, request: bool) {
        let RefOr::T(schema) = schema else { return };
        let walk = |s: &mut RefOr<Schema>| walk(s, request);
        match schema {
            Schema::Object(object) => {
                let is_string = match &object.schema_type {
                    SchemaType::Type(t) => *t == Type::String,
                    SchemaType::Array(types) => types.contains(&Type::String),
                    SchemaType::AnyValue => false,
                };
                if is_string
                    && object.pattern.is_none()
                    && object.enum_values.is_none()
                    && object.format.is_none()
                {
                    object.pattern = Some(NO_NUL.into());
                }
                if request
                    && object.schema_type == SchemaType::Type(Type::Object)
                    && object.additional_properties.is_none()
                {
                    object.property_names =
                        Some(Box::new(string(false).pattern(Some(NO_NUL)).build().into()));
                    object.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
                        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(NUL_FREE_VALUE)),
                    )));
                }
                object.properties.values_mut().for_each(walk);
                if let Some(AdditionalProperties::RefOr(extra)) =
                    object.additional_properties.as_deref_mut()
                {
                    walk(extra);
                }
            }
            Schema::Array(array) => {
                if let ArrayItems::RefOrSchema(items) = &mut array.items {
                    walk(items);
                }
            }
            Schema::OneOf(one) => one.items.iter_mut().for_each(walk),
            Schema::AllOf(all) => all.items.iter_mut().for_each(walk),
            Schema::AnyOf(any) => any.items.iter_mut().for_each(walk),
            _ => {}
        }
    }

    let requests = request_schemas(api);
    let components = api.components.get_or_insert_with(Default::default);
    for (name, schema) in components.schemas.iter_mut() {
        walk(schema, requests.contains(name));
    }
    for item in api.paths.paths.values_mut() {
        for op in operations_of_mut(item) {
            for parameter in op.parameters.iter_mut().flatten() {
                parameter.schema.iter_mut().for_each(|s| walk(s, false));
            }
            if let Some(body) = op.request_body.as_mut() {
                for content in body.content.values_mut() {
                    content.schema.iter_mut().for_each(|s| walk(s, true));
                }
            }
        }
    }
}
