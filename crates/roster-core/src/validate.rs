//! Validators for the formats of SPEC §1, used by every surface.
//!
//! Each returns the canonical value or a [`FieldError`] naming the field, so
//! a surface collects all of a body's problems into one 400 answer.

use std::sync::OnceLock;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors while a body is checked.
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Keeps the value of a check, recording its error under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// Like [`Validation::check`] for an optional input.
    pub fn check_opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        value.and_then(|v| self.check(field, parse(v)))
    }

    /// `Ok(())` when nothing was recorded, else every error.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A tenant uid or store id: `^[A-Za-z0-9-_]+$`, at most 64 characters.
pub fn identifier(text: &str) -> Result<String, String> {
    if is_identifier(text) {
        Ok(text.to_string())
    } else {
        Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'".into())
    }
}

/// The codes that name all stores on the B2B surface, never one store.
pub const RESERVED_STORE_CODES: &[&str] = &["default", "all"];

/// A store code: a lowercase letter, then lowercase letters, digits and `_`,
/// at most 32 characters (the B2B `store_code` rule); not `default` or `all`.
pub fn store_code(text: &str) -> Result<String, String> {
    let mut bytes = text.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !(first_ok && rest_ok && text.len() <= 32) {
        return Err("must start with a lowercase letter and hold only a-z, 0-9 and '_' (at most 32 characters)".into());
    }
    if RESERVED_STORE_CODES.contains(&text) {
        return Err(format!("'{text}' is reserved"));
    }
    Ok(text.to_string())
}

/// A required free text: not empty once trimmed, at most `max` characters
/// as sent (JSON Schema's `maxLength`, which the document states), kept
/// trimmed.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err("must not be empty".into())
    } else if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(trimmed.to_string())
    }
}

/// An email address, checked by the `email_address` crate (RFC 5322's
/// addr-spec) and required to have a dotted domain.
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim();
    let invalid = || Err("must be a valid email address".to_string());
    if value.len() > 254 || value.chars().any(char::is_whitespace) {
        return invalid();
    }
    match value.parse::<email_address::EmailAddress>() {
        Ok(addr) if addr.domain().contains('.') && !addr.domain().starts_with('[') => {
            Ok(value.to_string())
        }
        _ => invalid(),
    }
}

/// The key two emails are compared by: case-insensitive.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An E.164 phone number: `+`, then 8 to 15 digits, the first not 0.
pub fn e164(value: &str) -> Result<String, String> {
    let ok = value
        .strip_prefix('+')
        .filter(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .is_some_and(|d| !d.starts_with('0'));
    if ok {
        Ok(value.to_string())
    } else {
        Err("must be an E.164 number: '+' then 8 to 15 digits, the first not 0".into())
    }
}

/// An ISO 3166-1 alpha-2 country code such as `AU`.
pub fn country_code(value: &str) -> Result<String, String> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_string())
    } else {
        Err("must be an ISO 3166-1 alpha-2 code such as AU".into())
    }
}

/// A mobile number read in the context of a country, given as an ISO
/// 3166-1 alpha-2 code (`AU`) or a calling code (`+61`, `61`): answers the
/// number in E.164 and the country's alpha-2 code. Parsing and validity come
/// from the `phonenumber` crate (Google's libphonenumber metadata).
pub fn mobile_in_country(mobile: &str, country: &str) -> Result<(String, String), String> {
    use phonenumber::country::Id;
    let country = country.trim();
    let region: Id = if let Some(code) = country
        .strip_prefix('+')
        .or(Some(country))
        .filter(|c| !c.is_empty() && c.len() <= 3 && c.bytes().all(|b| b.is_ascii_digit()))
    {
        let code: u16 = code
            .parse()
            .map_err(|_| "countryCode is not a calling code".to_string())?;
        let regions = phonenumber::metadata::DATABASE
            .by_code(&code)
            .ok_or_else(|| format!("countryCode +{code} is not a calling code"))?;
        let main = regions
            .first()
            .ok_or_else(|| format!("countryCode +{code} is not a calling code"))?;
        main.id()
            .parse()
            .map_err(|_| format!("countryCode +{code} is not a calling code"))?
    } else {
        country_code(country).map_err(|_| "countryCode must be an ISO 3166-1 alpha-2 code such as AU, or a calling code such as +61".to_string())?;
        country
            .parse()
            .map_err(|_| format!("countryCode {country} is not a country"))?
    };
    let number = phonenumber::parse(Some(region), mobile)
        .map_err(|_| "is not a phone number".to_string())?;
    if !phonenumber::is_valid(&number) {
        return Err(format!("is not a valid number in {}", region.as_ref()));
    }
    let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
    // A few territories have valid numbers shorter than the 8 digits every
    // other surface requires (Niue's `+683 4002`): stored, such a number
    // would be refused when sent back, so it is refused here.
    if e164(&formatted).is_err() {
        return Err(format!(
            "is {formatted} in E.164, which has fewer than the 8 digits Roster requires"
        ));
    }
    let alpha2 = number
        .country()
        .id()
        .map(|id| id.as_ref().to_string())
        .unwrap_or_else(|| region.as_ref().to_string());
    Ok((formatted, alpha2))
}

/// The ISO 639-1 language codes (the 183 of the standard plus `sh`),
/// space-separated and sorted: what [`language_code`] accepts.
pub const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// An ISO 639-1 language code, lowercase, such as `en`.
pub fn language_code(value: &str) -> Result<String, String> {
    static CODES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let codes = CODES.get_or_init(|| ISO_639_1.split(' ').collect());
    if codes.binary_search(&value).is_ok() {
        Ok(value.to_string())
    } else {
        Err("must be an ISO 639-1 language code such as en".into())
    }
}

/// A contact's value, checked against its type: an email address for
/// `EMAIL`, E.164 for `PHONE` and `WHATSAPP`, free text for `OTHER`.
pub fn contact_value(contact_type: crate::ContactType, value: &str) -> Result<String, String> {
    use crate::ContactType::*;
    match contact_type {
        Email => email(value),
        Phone | Whatsapp => e164(value.trim()),
        Other => text(value, 255),
    }
}

/// The key two contact values of one type are compared by: emails
/// case-insensitively, the rest exactly.
pub fn contact_key(contact_type: crate::ContactType, value: &str) -> String {
    match contact_type {
        crate::ContactType::Email => email_key(value),
        _ => value.to_string(),
    }
}

/// Checks and normalises a user's descriptive fields, naming each problem
/// by the field's native (snake_case) name; surfaces rename as they need.
pub fn profile(p: crate::Profile) -> Result<crate::Profile, Vec<FieldError>> {
    let mut v = Validation::new();
    let mut free = |field: &str, value: Option<String>, max: usize| {
        value.and_then(|x| v.check(field, text(&x, max)))
    };
    let name = free("name", p.name, 255);
    let first_name = free("first_name", p.first_name, 255);
    let middle_name = free("middle_name", p.middle_name, 255);
    let last_name = free("last_name", p.last_name, 255);
    let display_name = free("display_name", p.display_name, 255);
    let login = free("login", p.login, 255);
    let telephone = free("telephone", p.telephone, 64);
    let job_title = free("job_title", p.job_title, 255);
    let out = crate::Profile {
        name,
        first_name,
        middle_name,
        last_name,
        display_name,
        login,
        telephone,
        job_title,
        email: v.check_opt("email", p.email.as_deref(), email),
        user_code: v.check_opt("user_code", p.user_code.as_deref(), identifier),
        mobile: v.check_opt("mobile", p.mobile.as_deref(), e164),
        country_code: v.check_opt("country_code", p.country_code.as_deref(), country_code),
        language_code: v.check_opt("language_code", p.language_code.as_deref(), language_code),
    };
    v.finish().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(identifier("acme-01_B").is_ok());
        for bad in ["", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert!(identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_codes() {
        assert_eq!(store_code("main_1"), Ok("main_1".into()));
        for bad in [
            "",
            "1main",
            "Main",
            "main-1",
            "default",
            "all",
            &"a".repeat(33),
        ] {
            assert!(store_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(email("maria@example.com").is_ok());
        assert!(email("Maria.Garcia+b2b@mail.example.co").is_ok());
        for bad in [
            "",
            "maria",
            "maria@",
            "@example.com",
            "maria@example",
            "ma ria@example.com",
            "maria@@example.com",
            "maria@[127.0.0.1]",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert_eq!(email_key(" Maria@Example.COM"), "maria@example.com");
    }

    #[test]
    fn phones() {
        assert!(e164("+56912345678").is_ok());
        assert!(e164("+12345678").is_ok());
        for bad in [
            "",
            "56912345678",
            "+0912345678",
            "+1234567",
            "+1234567890123456",
            "+569 1234 5678",
            "+56-912345678",
            "+",
        ] {
            assert!(e164(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_and_countries() {
        assert!(language_code("en").is_ok());
        assert!(language_code("zu").is_ok());
        for bad in ["", "EN", "eng", "xx", "e"] {
            assert!(language_code(bad).is_err(), "{bad}");
        }
        let codes: Vec<&str> = ISO_639_1.split(' ').collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted, "the list must stay sorted for binary search");
        assert!(country_code("AU").is_ok());
        assert!(country_code("au").is_err());
    }

    #[test]
    fn profiles_are_checked_field_by_field() {
        let good = crate::Profile {
            name: Some("  Maria Garcia ".into()),
            email: Some("maria@example.com".into()),
            mobile: Some("+56912345678".into()),
            language_code: Some("es".into()),
            ..Default::default()
        };
        assert_eq!(profile(good).unwrap().name.as_deref(), Some("Maria Garcia"));
        let bad = crate::Profile {
            name: Some("   ".into()),
            email: Some("maria".into()),
            mobile: Some("0912".into()),
            language_code: Some("spanish".into()),
            user_code: Some("a b".into()),
            ..Default::default()
        };
        let fields: Vec<String> = profile(bad)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["name", "email", "user_code", "mobile", "language_code"]
        );
    }

    #[test]
    fn mobiles_are_read_in_their_country() {
        assert_eq!(
            mobile_in_country("0412 345 678", "AU"),
            Ok(("+61412345678".into(), "AU".into()))
        );
        assert_eq!(
            mobile_in_country("0412345678", "+61"),
            Ok(("+61412345678".into(), "AU".into()))
        );
        assert_eq!(
            mobile_in_country("412345678", "61"),
            Ok(("+61412345678".into(), "AU".into()))
        );
        assert_eq!(
            mobile_in_country("+61 412 345 678", "AU"),
            Ok(("+61412345678".into(), "AU".into()))
        );
        assert_eq!(
            mobile_in_country("(512) 555-3322", "US").map(|m| m.0),
            Ok("+15125553322".into())
        );
        assert!(mobile_in_country("12", "AU").is_err());
        assert!(mobile_in_country("not a number", "AU").is_err());
        assert!(mobile_in_country("0412345678", "XX").is_err());
        assert!(mobile_in_country("0412345678", "+999").is_err());
        assert!(mobile_in_country("0412345678", "Australia").is_err());
        // Valid in Niue, but shorter than E.164 as every surface checks it.
        assert_eq!(
            mobile_in_country("4002", "NU"),
            Err("is +6834002 in E.164, which has fewer than the 8 digits Roster requires".into())
        );
    }

    #[test]
    fn contact_values_follow_their_type() {
        use crate::ContactType::*;
        assert!(contact_value(Email, "a@example.com").is_ok());
        assert!(contact_value(Email, "+56912345678").is_err());
        assert!(contact_value(Phone, "+56912345678").is_ok());
        assert!(contact_value(Whatsapp, "a@example.com").is_err());
        assert!(contact_value(Other, "@maria on the forum").is_ok());
        assert!(contact_value(Other, " ").is_err());
        assert_eq!(contact_key(Email, "A@Example.com"), "a@example.com");
        assert_eq!(contact_key(Other, "Ab"), "Ab");
    }

    #[test]
    fn validation_collects_every_error() {
        let mut v = Validation::new();
        assert_eq!(v.check("a", identifier("ok")), Some("ok".to_string()));
        assert_eq!(v.check_opt("b", Some("bad code"), identifier), None);
        assert_eq!(v.check_opt("c", None, identifier), None);
        v.add("d", "wrong");
        let errors = v.finish().unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["b", "d"]
        );
    }
}
