//! Bad input on every /v1 body: malformed JSON, wrong types, bad enums, unknown fields, 413, 415.
