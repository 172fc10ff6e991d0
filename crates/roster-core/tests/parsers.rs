//! Every parser of untrusted input in `roster-core`, fed arbitrary text.
//!
//! Properties: no parser panics, whatever it is given; what a parser
//! accepts it accepts again unchanged (a canonical value re-validates to
//! itself), so a value Roster stores passes the check it came through; and
//! where the rule is short enough to write out (E.164, identifiers, store
//! codes, country codes), a parser accepts exactly what the rule says.

use proptest::prelude::*;
use roster_core::secret::{self, Password};
use roster_core::validate::{self, RESERVED_STORE_CODES};
use roster_core::{
    AccountType, CommerceRole, CompanyKind, ContactType, OrgRole, PartnerRole, Profile, Source,
    TenantRole, UserStatus,
};
use unicode_normalization::UnicodeNormalization;

/// Text as clients send it: anything at all, text close to each format
/// (so that acceptance is reached, not only refusal), and the characters
/// that trouble parsers (controls, NUL, combining marks, wide characters).
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[ \t\n\r\u{0}\u{7f}\u{85}\u{a0}\u{200b}\u{feff}a-zA-Z0-9@.+_'-]{0,40}",
        "[a-zA-Z0-9._%+'-]{1,20}@[a-z0-9-]{1,12}(\\.[a-z]{2,6}){1,2}",
        "[a-zA-Zäöüçñ]{1,10}@[a-zäöü-]{1,10}\\.[a-z]{2,4}",
        "\"[ -~]{0,10}\"@[a-z]{1,8}\\.[a-z]{2,3}",
        "\\+?[0-9 ()-]{0,20}",
        "[a-z][a-z0-9_]{0,40}",
        "[A-Za-z0-9_-]{0,70}",
        "[A-Z]{0,3}",
        "\\+?[0-9]{0,4}",
        "[a-z]{2}",
    ]
}

/// `text` surrounded by whitespace a client might add.
fn padded(text: &str) -> String {
    format!(" \t{text}\n ")
}

/// E.164 as the documentation words it: `+`, 8 to 15 digits, the first not 0.
fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emails_accepted_are_canonical_and_accepted_again(raw in input()) {
        if let Ok(email) = validate::email(&raw) {
            prop_assert_eq!(&email, raw.trim());
            prop_assert!(email.len() <= 254);
            prop_assert!(!email.chars().any(char::is_whitespace));
            prop_assert!(email.contains('@'));
            prop_assert_eq!(validate::email(&email), Ok(email.clone()));
            prop_assert_eq!(validate::email(&padded(&email)), Ok(email.clone()));
        }
        // The comparison key is stable: a key is its own key.
        let key = validate::email_key(&raw);
        prop_assert_eq!(validate::email_key(&key), key);
    }

    #[test]
    fn e164_accepts_exactly_the_rule(raw in input()) {
        match validate::e164(&raw) {
            Ok(number) => {
                prop_assert!(is_e164(&raw), "{raw:?} accepted");
                prop_assert_eq!(&number, &raw);
                prop_assert_eq!(validate::e164(&number), Ok(number.clone()));
            }
            Err(_) => prop_assert!(!is_e164(&raw), "{raw:?} refused"),
        }
    }

    #[test]
    fn identifiers_and_store_codes_accept_exactly_the_rule(raw in input()) {
        let identifier = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(validate::identifier(&raw).is_ok(), identifier, "{:?}", raw);
        if let Ok(id) = validate::identifier(&raw) {
            prop_assert_eq!(validate::identifier(&id), Ok(id.clone()));
        }
        let code = raw.len() <= 32
            && raw.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !RESERVED_STORE_CODES.contains(&raw.as_str());
        prop_assert_eq!(validate::store_code(&raw).is_ok(), code, "{:?}", raw);
        if let Ok(code) = validate::store_code(&raw) {
            prop_assert_eq!(validate::store_code(&code), Ok(code.clone()));
            // Every store code is also a valid store id.
            prop_assert!(validate::identifier(&code).is_ok());
        }
    }

    #[test]
    fn country_and_language_codes_are_closed_sets(raw in input()) {
        let alpha2 = raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase());
        prop_assert_eq!(validate::country_code(&raw).is_ok(), alpha2, "{:?}", raw);
        if let Ok(code) = validate::language_code(&raw) {
            prop_assert_eq!(&code, &raw);
            prop_assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()));
        }
    }

    #[test]
    fn free_text_is_trimmed_bounded_and_accepted_again(raw in input(), max in 1usize..64) {
        match validate::text(&raw, max) {
            Ok(text) => {
                prop_assert_eq!(&text, raw.trim());
                prop_assert!(!text.is_empty() && text.chars().count() <= max);
                prop_assert_eq!(validate::text(&text, max), Ok(text.clone()));
            }
            // Bounded as sent (the document's `maxLength`), kept trimmed.
            Err(_) => prop_assert!(raw.trim().is_empty() || raw.chars().count() > max),
        }
    }

    #[test]
    fn contact_values_accepted_are_accepted_again(
        raw in input(),
        contact_type in proptest::sample::select(ContactType::ALL),
    ) {
        if let Ok(value) = validate::contact_value(contact_type, &raw) {
            prop_assert_eq!(validate::contact_value(contact_type, &value), Ok(value.clone()));
            let key = validate::contact_key(contact_type, &value);
            prop_assert_eq!(validate::contact_key(contact_type, &key), key);
        }
    }

    #[test]
    fn profiles_accepted_are_accepted_again(
        fields in proptest::collection::vec(proptest::option::of(input()), 13),
    ) {
        let mut f = fields.into_iter();
        let mut next = move || f.next().flatten();
        let raw = Profile {
            name: next(),
            first_name: next(),
            middle_name: next(),
            last_name: next(),
            display_name: next(),
            email: next(),
            login: next(),
            user_code: next(),
            mobile: next(),
            country_code: next(),
            telephone: next(),
            job_title: next(),
            language_code: next(),
        };
        match validate::profile(raw.clone()) {
            Ok(profile) => prop_assert_eq!(validate::profile(profile.clone()), Ok(profile)),
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for error in errors {
                    prop_assert!(!error.field.is_empty() && !error.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn mobiles_read_in_a_country_are_e164_and_read_back_the_same(
        mobile in prop_oneof![
            input(),
            "0?[0-9]{4,12}",
            "\\+[1-9][0-9]{6,14}",
            "\\(?[0-9]{3}\\)? ?[0-9]{3}[ -]?[0-9]{4}",
        ],
        country in prop_oneof![
            input(),
            proptest::sample::select(vec![
                "AU", "US", "GB", "CL", "DE", "FR", "NU", "TK", "SH", "VA", "XK", "AQ", "ZZ",
                "+61", "61", "+1", "+44", "+683", "+690", "+800", "+882", "+979", "+0", "+999", "",
            ]).prop_map(String::from),
        ],
    ) {
        if let Ok((number, alpha2)) = validate::mobile_in_country(&mobile, &country) {
            prop_assert!(validate::country_code(&alpha2).is_ok(), "{alpha2:?}");
            // The other surfaces' check passes on what this one stores.
            prop_assert_eq!(validate::e164(&number), Ok(number.clone()));
            // What this surface stores, it reads back as itself in the
            // same context. (Not always in the number's own country: the
            // `phonenumber` crate strips a Russian trunk prefix from
            // `+7 831…` read in `RU`, though not in `AU`.)
            prop_assert_eq!(
                validate::mobile_in_country(&number, &country),
                Ok((number.clone(), alpha2.clone()))
            );
        }
    }

    #[test]
    fn the_password_policy_never_echoes_and_survives_normalisation(
        raw in prop_oneof![input(), "\\PC{10,140}", "[ -~]{12,30}"],
        context in proptest::collection::vec(input(), 0..3),
    ) {
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        match Password::parse(&raw, &context) {
            Ok(_) => {
                let normalised: String = raw.nfkc().collect();
                let length = normalised.chars().count();
                prop_assert!((12..=128).contains(&length));
                // The normalised form is what is kept: it passes again.
                prop_assert!(Password::parse(&normalised, &context).is_ok());
            }
            Err(message) => prop_assert!(
                [
                    "must be at least 12 characters",
                    "must be at most 128 characters",
                    "is too easy to guess: use a longer phrase or a password manager",
                ]
                .contains(&message.as_str()),
                "{message}"
            ),
        }
    }

    #[test]
    fn tokens_hash_to_fixed_hex_whatever_is_presented(raw in input()) {
        let hash = secret::hash_token(&raw);
        prop_assert_eq!(hash.len(), 64);
        prop_assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        prop_assert_eq!(secret::hash_token(&raw), hash);
        prop_assert!(secret::constant_time_eq(raw.as_bytes(), raw.as_bytes()));
        let longer = format!("{raw}x");
        prop_assert!(!secret::constant_time_eq(raw.as_bytes(), longer.as_bytes()));
    }

    #[test]
    fn vocabularies_parse_only_their_exact_names(raw in input()) {
        macro_rules! exact {
            ($($vocabulary:ty),*) => {$(
                if let Some(value) = <$vocabulary>::parse(&raw) {
                    prop_assert_eq!(value.as_str(), raw.as_str());
                }
                for value in <$vocabulary>::ALL {
                    prop_assert_eq!(<$vocabulary>::parse(value.as_str()), Some(*value));
                }
            )*};
        }
        exact!(
            TenantRole, PartnerRole, CommerceRole, OrgRole, UserStatus, AccountType, Source,
            ContactType, CompanyKind
        );
    }
}

proptest! {
    // Argon2id at 19 MiB: a few cases.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn an_accepted_password_verifies_in_any_equivalent_form(raw in "[ -~]{14,24}|\\PC{14,24}") {
        if let Ok(password) = Password::parse(&raw, &[]) {
            let stored = secret::hash_password(&password);
            prop_assert!(secret::verify_password(Some(&stored), &Password::candidate(&raw)));
            let normalised: String = raw.nfkc().collect();
            prop_assert!(secret::verify_password(Some(&stored), &Password::candidate(&normalised)));
            prop_assert!(!secret::verify_password(None, &Password::candidate(&raw)));
            prop_assert!(!secret::verify_password(Some(&raw), &Password::candidate(&raw)));
        }
    }
}
