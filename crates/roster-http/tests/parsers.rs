//! The HTTP layer's parsers of untrusted input, fed arbitrary input: the
//! body screen and JSON parse every body goes through, list cursors, and
//! the `Authorization` header.
//!
//! Properties: none panics; a body is refused exactly when it nests too deep
//! or holds U+0000, and otherwise parses to the value that was sent; a
//! cursor Roster hands out decodes to the key it encodes, and a cursor a
//! client makes up is refused or is exactly the encoding of what it decodes
//! to; a presented token is the header's value, without the scheme.

use axum::http::{header, HeaderMap, HeaderValue};
use proptest::prelude::*;
use roster_app::input::Listed;
use roster_http::auth::presented_token;
use roster_http::extract::{parse_json, screen, MAX_DEPTH};
use roster_http::v1::{page, Limit, List};
use serde_json::Value;

/// Any JSON value, with strings that sometimes hold U+0000.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Floats that print exactly (serde_json's default float parse is
        // not exact in the last place, and no Roster body takes floats).
        (-4000i32..4000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
        any::<String>().prop_map(Value::String),
        "[a-z\\\\\"\u{0}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-z\u{0}\\\\]{0,4}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// `value` wrapped in `levels` arrays.
fn nested(value: Value, levels: usize) -> Value {
    (0..levels).fold(value, |v, _| Value::Array(vec![v]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = screen(&bytes);
        let _ = parse_json::<Value>(&bytes);
    }

    #[test]
    fn a_body_is_refused_exactly_when_too_deep_or_holding_nul(
        value in json(),
        extra in prop_oneof![Just(0usize), 100usize..130],
        pretty in any::<bool>(),
    ) {
        let value = nested(value, extra);
        let bytes = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        let refused = depth(&value) > MAX_DEPTH || holds_nul(&value);
        match parse_json::<Value>(&bytes) {
            Ok(parsed) => {
                prop_assert!(!refused);
                prop_assert_eq!(parsed, value);
            }
            Err(error) => {
                prop_assert!(refused, "{:?}", error);
                let detail = error.problem().detail;
                prop_assert!(detail.starts_with("body: "), "{}", detail);
            }
        }
    }

    #[test]
    fn cursors_handed_out_decode_to_their_key(key in "\\PC{0,80}|[0-9]{1,19}") {
        prop_assume!(!key.contains('\0'));
        let listed = Listed { items: Vec::<String>::new(), next: Some(key.clone()) };
        let list = List::<String>::from_listed(listed, |s| s);
        let cursor = list.next_cursor.expect("a next page");
        let page = page(Some(Limit::try_from(10).unwrap()), Some(&cursor)).expect("a cursor Roster made");
        prop_assert_eq!(page.after, Some(key));
        prop_assert_eq!(page.limit, 10);
    }

    #[test]
    fn made_up_cursors_are_refused_or_canonical(
        cursor in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,40}".boxed()],
        limit in proptest::option::of(any::<i64>()),
    ) {
        // A limit out of bounds is refused before any cursor is read.
        let limit = match limit.map(Limit::try_from).transpose() {
            Ok(limit) => limit,
            Err(message) => {
                prop_assert_eq!(message, "must be between 1 and 500");
                return Ok(());
            }
        };
        match page(limit, Some(&cursor)) {
            Ok(page) => {
                prop_assert!((1..=500).contains(&page.limit));
                let key = page.after.expect("the cursor");
                let listed = Listed { items: Vec::<String>::new(), next: Some(key) };
                let again = List::<String>::from_listed(listed, |s| s).next_cursor;
                prop_assert_eq!(again, Some(cursor));
            }
            Err(error) => {
                let detail = error.problem().detail;
                prop_assert!(
                    detail.starts_with("cursor: ") || detail.starts_with("limit: "),
                    "{}", detail
                );
            }
        }
    }

    #[test]
    fn the_presented_token_is_the_header_without_its_scheme(
        value in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(32u8..127, 0..80),
        ],
        scheme in prop_oneof![Just(""), Just("Bearer "), Just("bearer  "), Just("BEARER "), Just("Basic ")],
    ) {
        let mut raw = scheme.as_bytes().to_vec();
        raw.extend_from_slice(&value);
        let Ok(header_value) = HeaderValue::from_bytes(&raw) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, header_value);
        if let Some(token) = presented_token(&headers) {
            prop_assert!(!token.is_empty());
            prop_assert_eq!(token, token.trim());
            let text = std::str::from_utf8(&raw).unwrap();
            prop_assert!(text.contains(token));
        }
        if scheme.trim().eq_ignore_ascii_case("bearer")
            && !value.is_empty()
            && value.iter().all(u8::is_ascii_graphic)
        {
            prop_assert_eq!(presented_token(&headers), std::str::from_utf8(&value).ok());
        }
    }
}
