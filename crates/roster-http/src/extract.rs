//! Extractors that answer bad input with problem+json naming the field,
//! instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body Roster reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body. 415 unless the content type is JSON, 413 over [`BODY_LIMIT`],
/// 400 naming the field for malformed JSON, wrong types and bad enums.
/// Whether unknown fields are refused is the body type's choice
/// (`deny_unknown_fields` on `/v1`, ignored on the seed surfaces).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        refuse_array(&bytes)?;
        parse_json(&bytes).map(Json)
    }
}

/// Whether the request says its body is JSON: `application/json` or any
/// `application/*+json` (SCIM's `application/scim+json`).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    content_type(headers).is_some_and(|m| {
        m.type_() == mime::APPLICATION
            && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
    })
}

/// The request's media type, when it sends a valid one.
pub fn content_type(headers: &axum::http::HeaderMap) -> Option<mime::Mime> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
}

/// Every body Roster takes is an object, as the document says; serde would
/// also fill a struct from an array of its fields, in order. A 400 for JSON
/// that is an array (after the screen, whose answer comes first).
pub fn refuse_array(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        screen(bytes)?;
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    Ok(())
}

/// A JSON body's bytes, unparsed (the content type and size checked), for
/// a handler that tries a fast typed parse before [`parse_json`].
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map(JsonBytes)
            .map_err(|_| ApiError::PayloadTooLarge)
    }
}

/// Parses JSON, naming the field at fault. A body nested deeper than
/// [`MAX_DEPTH`] is refused whole, even where the nesting sits in a field
/// the body type ignores, and so is one holding U+0000 anywhere.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    screen(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // serde_json reports a wrong type where an enum is expected (`5`
        // for a role) as a syntax error; when the body is valid JSON, it
        // is the field's value that is wrong.
        let valid_json = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        json_error(e, valid_json)
    })?;
    de.end()
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    Ok(value)
}

/// Like [`parse_json`] from an already parsed value (batch items).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| json_error(e, true))
}

/// The most levels of nested arrays and objects a body may have: serde_json's
/// default recursion limit, kept (never `unbounded_depth`), so a deeper body
/// is refused with 400 before it can exhaust the stack.
pub const MAX_DEPTH: usize = 127;

fn too_deep(at: &str) -> ApiError {
    ApiError::field(
        "body",
        format!("nests arrays and objects deeper than {MAX_DEPTH} levels ({at})"),
    )
}

/// The 400 for text holding U+0000 (`where_`: `body`, `path` or `query`).
/// Roster keeps no such text: PostgreSQL cannot store it, and a value that
/// one engine keeps and the other refuses would make the engines differ.
pub(crate) fn holds_nul(where_: &str, at: &str) -> ApiError {
    ApiError::field(
        where_,
        format!("holds the character U+0000{at}, which Roster does not accept"),
    )
}

/// Checks a body in one pass, without recursion, before any parser sees
/// it: nesting past [`MAX_DEPTH`], and a `\u0000` escape in a string (a raw
/// NUL byte is not JSON, and the parser refuses it). Answers the first
/// problem, naming where it is (`at line L column C`).
pub fn screen(bytes: &[u8]) -> Result<(), ApiError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    let at = |line: usize, column: usize| format!("at line {line} column {column}");
    for (i, &byte) in bytes.iter().enumerate() {
        column += 1;
        if in_string {
            match byte {
                b'u' if escaped => {
                    escaped = false;
                    if bytes.get(i + 1..i + 5) == Some(b"0000") {
                        return Err(holds_nul("body", &format!(" ({})", at(line, column - 1))));
                    }
                }
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep(&at(line, column)));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => {
                line += 1;
                column = 0;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether percent-encoded text (a path or a query) decodes to U+0000.
fn encodes_nul(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| w == b"%00")
}

fn json_error(err: serde_path_to_error::Error<serde_json::Error>, valid_json: bool) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let message = inner.to_string();
    // serde_json appends " at line L column C": a syntax error keeps it (it
    // is where to look); for a field's value, the field name says more.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let at = format!("at line {} column {}", inner.line(), inner.column());
    // serde_json's own limit, should a body reach it past `screen`.
    if message == "recursion limit exceeded" {
        return too_deep(&at);
    }
    if inner.is_syntax() || inner.is_eof() {
        if valid_json && path != "." {
            return ApiError::field(
                path,
                "has the wrong type: expected a string of the documented values",
            );
        }
        return ApiError::field("body", format!("is not valid JSON: {message} {at}"));
    }
    // serde_path_to_error's path already ends with the unknown field.
    if message.starts_with("unknown field `") {
        return ApiError::field(path, "is not a field of this request (or is read-only)");
    }
    // A missing field is reported at its parent's path.
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::field(field, "is required");
    }
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    ApiError::field(field, message)
}

/// Path parameters; a malformed one (a non-UUID id) is a 400 naming it.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if encodes_nul(parts.uri.path()) {
            return Err(holds_nul("path", ""));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(ApiError::field("path", rejection.body_text())),
        }
    }
}

/// Query parameters; a malformed one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if encodes_nul(query) {
            return Err(holds_nul("query", ""));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                ApiError::field(
                    if path == "." {
                        "query".to_string()
                    } else {
                        path
                    },
                    err.into_inner().to_string(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail_of(error: ApiError) -> String {
        error.problem().detail
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let error =
            parse_json::<serde_json::Value>(b"{\n  \"name\": \"Ana\",\n  \"email\" \"x\"\n}")
                .unwrap_err();
        let detail = detail_of(error);
        assert!(detail.starts_with("body: is not valid JSON: "), "{detail}");
        assert!(detail.ends_with("at line 3 column 11"), "{detail}");
        let trailing = detail_of(parse_json::<serde_json::Value>(b"{} x").unwrap_err());
        assert!(trailing.contains("at line 1 column 4"), "{trailing}");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_without_a_position() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            name: String,
        }
        let detail = detail_of(parse_json::<Body>(br#"{"name": 5}"#).unwrap_err());
        assert!(detail.starts_with("name: invalid type"), "{detail}");
        assert!(!detail.contains("line"), "{detail}");
    }

    #[test]
    fn text_holding_nul_is_refused_where_it_is() {
        let detail =
            detail_of(parse_json::<serde_json::Value>(b"{\"name\": \"a\\u0000b\"}").unwrap_err());
        assert_eq!(
            detail,
            "body: holds the character U+0000 (at line 1 column 12), which Roster does not accept"
        );
        // In a key too, and whatever the body type ignores.
        #[derive(Debug, serde::Deserialize)]
        struct Ignores {}
        assert!(parse_json::<Ignores>(br#"{"x\u0000": 1}"#).is_err());
        // An escaped backslash followed by `u0000` is text, not U+0000, and
        // so are other escapes.
        for fine in [
            &br#"["\\u0000"]"#[..],
            br#"["\u0001"]"#,
            br#"["\"\u0030000"]"#,
        ] {
            assert!(parse_json::<serde_json::Value>(fine).is_ok());
        }
        assert!(parse_json::<serde_json::Value>(br#"["\u00000"]"#).is_err());
        // A raw NUL byte is not JSON at all.
        assert!(parse_json::<serde_json::Value>(b"[\"\0\"]").is_err());
        assert!(encodes_nul("/v1/tenants/a%00b") && !encodes_nul("/v1/tenants/a%20b"));
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse_json::<serde_json::Value>(nested(MAX_DEPTH).as_bytes()).is_ok());
        // Brackets inside strings do not count.
        let quoted = format!(r#"["{}"]"#, "[{".repeat(1000));
        assert!(parse_json::<serde_json::Value>(quoted.as_bytes()).is_ok());
        let escaped = format!(r#"["\"{}"]"#, "[".repeat(1000));
        assert!(parse_json::<serde_json::Value>(escaped.as_bytes()).is_ok());
        #[derive(Debug, serde::Deserialize)]
        struct Ignores {}
        let ignored = format!(r#"{{"x": {}{}}}"#, "[".repeat(200), "]".repeat(200));
        for body in [
            nested(MAX_DEPTH + 1),
            "[".repeat(100_000),
            r#"{"a":"#.repeat(100_000),
        ] {
            assert!(parse_json::<Ignores>(body.as_bytes()).is_err());
            let error = parse_json::<serde_json::Value>(body.as_bytes()).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
            let detail = detail_of(error);
            assert!(detail.contains("deeper than 127 levels"), "{detail}");
        }
        // Even where the body type would skip the value.
        let detail = detail_of(parse_json::<Ignores>(ignored.as_bytes()).unwrap_err());
        assert_eq!(
            detail,
            "body: nests arrays and objects deeper than 127 levels (at line 1 column 133)"
        );
    }
}
