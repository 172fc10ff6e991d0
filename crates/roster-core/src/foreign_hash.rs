//! Password hashes made by other systems, kept from an import until the
//! user's first successful sign-in replaces them with Roster's Argon2id
//! (SPEC §8 "Import and export").
//!
//! Stored tagged: `imported:<format>:<the hash as the other system wrote
//! it>`, so a stored hash is never read as another format (Roster's own
//! hashes are plain Argon2id PHC strings, never tagged). Each format is
//! verified with its well-kept crate (`argon2`, `bcrypt`, `scrypt`,
//! `pbkdf2` with `sha1`/`sha2`) and compared in constant time. A hash whose
//! cost is past [`limits`](self#limits) is refused at import: the cost of a
//! sign-in is Roster's to bound, not the file's.
//!
//! # Limits
//! bcrypt cost ≤ 14; PBKDF2 ≤ 2 000 000 iterations; scrypt memory
//! (128·r·2^ln bytes) ≤ 64 MiB and p ≤ 16; Argon2 memory ≤ 64 MiB, t ≤ 16,
//! p ≤ 8. Each is far above what the systems it comes from use by default.

use base64::Engine;
use serde::Deserialize;

use crate::secret::constant_time_eq;

/// The tag every imported hash is stored behind.
pub const TAG: &str = "imported:";

const MAX_BCRYPT_COST: u32 = 14;
const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
const MAX_MEMORY: u64 = 64 * 1024 * 1024;

/// A password hash in a format Roster verifies but does not write.
#[derive(Clone, PartialEq, Eq)]
pub enum ForeignHash {
    /// `$argon2id$`, `$argon2i$` (any parameters within the limits).
    Argon2(String),
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt(String),
    /// `$scrypt$ln=..,r=..,p=..$salt$hash` (passlib's, PHC).
    Scrypt(String),
    /// passlib's `$pbkdf2-sha256$<rounds>$<salt>$<hash>` (adapted base64).
    Pbkdf2Sha256 {
        rounds: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// Magento 2's `<hex digest>:<salt>:<versions>`: `1` SHA-256 of salt and
    /// password, `2` and `3_<bytes>_<ops>_<memory>` Argon2id13 (libsodium's
    /// `crypto_pwhash`), or a chain of them (`1:2`: a SHA-256 hash upgraded
    /// by hashing it again).
    Magento2 {
        digest: Vec<u8>,
        salt: String,
        versions: Vec<MagentoVersion>,
    },
    /// A Keycloak password credential.
    Keycloak {
        algorithm: KeycloakAlgorithm,
        iterations: u32,
        salt: Vec<u8>,
        value: Vec<u8>,
    },
}

/// Never a hash in a log.
impl std::fmt::Debug for ForeignHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForeignHash({}, <redacted>)", self.format())
    }
}

/// One step of a Magento 2 hash (`Magento\Framework\Encryption\Encryptor`'s
/// hash versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagentoVersion {
    /// `1`: hex SHA-256 of the salt then the data.
    Sha256,
    /// `2`: Argon2id13 with libsodium's interactive limits (32 bytes out,
    /// 2 passes, 64 MiB), as Magento 2.3 and 2.4 wrote it.
    Argon2id13,
    /// `3_<bytes>_<ops>_<memory>`: Argon2id13 with its parameters written
    /// out (Magento 2.4's "agnostic" version): output bytes, passes, memory
    /// in bytes.
    Argon2id13Agnostic { bytes: u32, ops: u32, memory: u32 },
}

/// libsodium's `crypto_pwhash_SALTBYTES`: Magento pads (repeating it) or
/// cuts the salt to this length for Argon2id.
const SODIUM_SALT_BYTES: usize = 16;

impl MagentoVersion {
    fn parse(text: &str) -> Result<MagentoVersion, String> {
        match text {
            "1" => return Ok(MagentoVersion::Sha256),
            "2" => return Ok(MagentoVersion::Argon2id13),
            _ => {}
        }
        let unsupported = || {
            format!(
                "Magento hash version {text} is not supported (1: SHA-256, 2 or \
                 3_<bytes>_<ops>_<memory>: Argon2id13)"
            )
        };
        let numbers: Vec<&str> = text.split('_').collect();
        let ["3", bytes, ops, memory] = numbers[..] else {
            return Err(unsupported());
        };
        let number = |n: &str| n.parse::<u32>().map_err(|_| unsupported());
        let (bytes, ops, memory) = (number(bytes)?, number(ops)?, number(memory)?);
        if !(16..=64).contains(&bytes) || !(1..=16).contains(&ops) {
            return Err(
                "Magento Argon2 parameters out of range (16 to 64 bytes, 1 to 16 passes)".into(),
            );
        }
        if u64::from(memory) > MAX_MEMORY || memory < 8 * 1024 {
            return Err(
                "costs more than Roster verifies (Magento Argon2 memory 8 KiB to 64 MiB)".into(),
            );
        }
        Ok(MagentoVersion::Argon2id13Agnostic { bytes, ops, memory })
    }

    fn text(self) -> String {
        match self {
            MagentoVersion::Sha256 => "1".into(),
            MagentoVersion::Argon2id13 => "2".into(),
            MagentoVersion::Argon2id13Agnostic { bytes, ops, memory } => {
                format!("3_{bytes}_{ops}_{memory}")
            }
        }
    }

    /// The bytes this step makes of `data` (the password, or the previous
    /// step's hex): raw, for the last step's comparison.
    fn apply(self, data: &[u8], salt: &str) -> Option<Vec<u8>> {
        use sha2::Digest;
        let (bytes, ops, memory) = match self {
            MagentoVersion::Sha256 => {
                let mut hasher = sha2::Sha256::new();
                hasher.update(salt.as_bytes());
                hasher.update(data);
                return Some(hasher.finalize().to_vec());
            }
            MagentoVersion::Argon2id13 => (32, 2, 64 * 1024 * 1024),
            MagentoVersion::Argon2id13Agnostic { bytes, ops, memory } => (bytes, ops, memory),
        };
        let salt: Vec<u8> = salt
            .as_bytes()
            .iter()
            .copied()
            .cycle()
            .take(SODIUM_SALT_BYTES)
            .collect();
        // libsodium's crypto_pwhash: Argon2id v1.3, one lane, memory in KiB.
        let params = argon2::Params::new(memory / 1024, ops, 1, Some(bytes as usize)).ok()?;
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = vec![0u8; bytes as usize];
        argon2.hash_password_into(data, &salt, &mut out).ok()?;
        Some(out)
    }

    /// How many bytes the step makes.
    fn output_len(self) -> usize {
        match self {
            MagentoVersion::Sha256 | MagentoVersion::Argon2id13 => 32,
            MagentoVersion::Argon2id13Agnostic { bytes, .. } => bytes as usize,
        }
    }
}

/// Keycloak's `algorithm` of a password credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeycloakAlgorithm {
    /// `pbkdf2`: PBKDF2 with HMAC-SHA1.
    Pbkdf2Sha1,
    Pbkdf2Sha256,
    Pbkdf2Sha512,
}

/// Keycloak's credential as exported (`credentialData` and `secretData`
/// flattened, as SPEC §8 fixes it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeycloakCredential {
    algorithm: String,
    hash_iterations: u32,
    salt: String,
    value: String,
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map_err(|_| format!("{what} is not base64"))
}

/// passlib's adapted base64: `.` for `+`, no padding.
fn ab64(text: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.replace('.', "+"))
        .map_err(|_| format!("{what} is not passlib's adapted base64"))
}

fn iterations(n: u32) -> Result<u32, String> {
    if n == 0 || n > MAX_PBKDF2_ITERATIONS {
        return Err(format!(
            "iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}"
        ));
    }
    Ok(n)
}

impl ForeignHash {
    /// Reads a hash as an import file gives it: a PHC string, Magento's
    /// `hash:salt:version`, or a Keycloak credential (a JSON object, or its text).
    pub fn parse_imported(value: &serde_json::Value) -> Result<ForeignHash, String> {
        match value {
            serde_json::Value::String(text) if text.trim_start().starts_with('{') => {
                let object: serde_json::Value = serde_json::from_str(text)
                    .map_err(|_| "is neither a hash nor a Keycloak credential".to_string())?;
                Self::keycloak(object)
            }
            // A hash as Roster stores it (an export with password hashes).
            serde_json::Value::String(text) if text.starts_with(TAG) => Self::from_stored(text)
                .ok_or_else(|| "is a tagged hash Roster cannot read".to_string()),
            serde_json::Value::String(text) => Self::parse(text),
            object @ serde_json::Value::Object(_) => Self::keycloak(object.clone()),
            _ => Err("must be a string or a Keycloak credential object".into()),
        }
    }

    fn keycloak(object: serde_json::Value) -> Result<ForeignHash, String> {
        let credential: KeycloakCredential = serde_json::from_value(object)
            .map_err(|e| format!("is not a Keycloak credential: {e}"))?;
        let algorithm = match credential.algorithm.as_str() {
            "pbkdf2" => KeycloakAlgorithm::Pbkdf2Sha1,
            "pbkdf2-sha256" => KeycloakAlgorithm::Pbkdf2Sha256,
            "pbkdf2-sha512" => KeycloakAlgorithm::Pbkdf2Sha512,
            other => return Err(format!("Keycloak algorithm {other:?} is not supported (pbkdf2, pbkdf2-sha256, pbkdf2-sha512)")),
        };
        let value = b64(&credential.value, "value")?;
        if value.is_empty() || value.len() > 128 {
            return Err("value must be 1 to 128 bytes".into());
        }
        Ok(ForeignHash::Keycloak {
            algorithm,
            iterations: iterations(credential.hash_iterations)?,
            salt: b64(&credential.salt, "salt")?,
            value,
        })
    }

    /// Reads a hash in its own text form (a PHC string or Magento's).
    pub fn parse(text: &str) -> Result<ForeignHash, String> {
        let text = text.trim();
        if text.starts_with("$argon2id$") || text.starts_with("$argon2i$") {
            let parsed = argon2::PasswordHash::new(text)
                .map_err(|e| format!("is not an Argon2 PHC string: {e}"))?;
            let params = argon2::Params::try_from(&parsed)
                .map_err(|e| format!("has invalid Argon2 parameters: {e}"))?;
            if u64::from(params.m_cost()) * 1024 > MAX_MEMORY
                || params.t_cost() > 16
                || params.p_cost() > 8
            {
                return Err("costs more than Roster verifies (m ≤ 65536, t ≤ 16, p ≤ 8)".into());
            }
            if parsed.hash.is_none() {
                return Err("has no hash".into());
            }
            return Ok(ForeignHash::Argon2(text.to_string()));
        }
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            let parts = text
                .parse::<bcrypt::HashParts>()
                .map_err(|e| format!("is not a bcrypt hash: {e}"))?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err(format!("bcrypt cost above {MAX_BCRYPT_COST}"));
            }
            return Ok(ForeignHash::Bcrypt(text.to_string()));
        }
        if text.starts_with("$scrypt$") {
            let parsed = scrypt::password_hash::PasswordHash::new(text)
                .map_err(|e| format!("is not an scrypt PHC string: {e}"))?;
            let params = scrypt::Params::try_from(&parsed)
                .map_err(|e| format!("has invalid scrypt parameters: {e}"))?;
            let memory = (128u64 * u64::from(params.r())) << params.log_n();
            if memory > MAX_MEMORY || params.p() > 16 {
                return Err("costs more than Roster verifies (128·r·2^ln ≤ 64 MiB, p ≤ 16)".into());
            }
            if parsed.hash.is_none() {
                return Err("has no hash".into());
            }
            return Ok(ForeignHash::Scrypt(text.to_string()));
        }
        if let Some(rest) = text.strip_prefix("$pbkdf2-sha256$") {
            let mut parts = rest.split('$');
            let (Some(rounds), Some(salt), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err("is not passlib's $pbkdf2-sha256$<rounds>$<salt>$<hash>".into());
            };
            let rounds = rounds
                .parse::<u32>()
                .map_err(|_| "rounds must be an integer".to_string())?;
            let hash = ab64(hash, "the hash")?;
            if hash.is_empty() || hash.len() > 64 {
                return Err("the hash must be 1 to 64 bytes".into());
            }
            return Ok(ForeignHash::Pbkdf2Sha256 {
                rounds: iterations(rounds)?,
                salt: ab64(salt, "the salt")?,
                hash,
            });
        }
        let parts: Vec<&str> = text.split(':').collect();
        if let [digest, salt, versions @ ..] = &parts[..] {
            if versions.is_empty() || versions.len() > 4 {
                return Err(
                    "is not a supported hash: a Magento hash is <hash>:<salt>:<version>".into(),
                );
            }
            if salt.is_empty() {
                return Err("a Magento hash needs a salt".into());
            }
            let versions = versions
                .iter()
                .map(|v| MagentoVersion::parse(v))
                .collect::<Result<Vec<_>, _>>()?;
            let last = versions[versions.len() - 1];
            let digest = hex::decode(digest)
                .ok()
                .filter(|d| d.len() == last.output_len())
                .ok_or_else(|| {
                    format!(
                        "a Magento hash of version {} starts with {} hex digits",
                        last.text(),
                        2 * last.output_len()
                    )
                })?;
            return Ok(ForeignHash::Magento2 {
                digest,
                salt: salt.to_string(),
                versions,
            });
        }
        Err("is not a supported hash: a PHC string ($argon2id$, $argon2i$, $2a$/$2b$/$2y$, $scrypt$, $pbkdf2-sha256$), Magento's hash:salt:version or a Keycloak credential".into())
    }

    /// The format's name, as stored and reported.
    pub fn format(&self) -> &'static str {
        match self {
            ForeignHash::Argon2(_) => "argon2",
            ForeignHash::Bcrypt(_) => "bcrypt",
            ForeignHash::Scrypt(_) => "scrypt",
            ForeignHash::Pbkdf2Sha256 { .. } => "pbkdf2-sha256",
            ForeignHash::Magento2 { .. } => "magento2",
            ForeignHash::Keycloak { .. } => "keycloak",
        }
    }

    /// The text stored: the tag, the format and the hash.
    pub fn stored(&self) -> String {
        let body = match self {
            ForeignHash::Argon2(s) | ForeignHash::Bcrypt(s) | ForeignHash::Scrypt(s) => s.clone(),
            ForeignHash::Pbkdf2Sha256 { rounds, salt, hash } => {
                let ab = |b: &[u8]| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .encode(b)
                        .replace('+', ".")
                };
                format!("$pbkdf2-sha256${rounds}${}${}", ab(salt), ab(hash))
            }
            ForeignHash::Magento2 {
                digest,
                salt,
                versions,
            } => {
                let versions: Vec<String> = versions.iter().map(|v| v.text()).collect();
                format!("{}:{salt}:{}", hex::encode(digest), versions.join(":"))
            }
            ForeignHash::Keycloak {
                algorithm,
                iterations,
                salt,
                value,
            } => {
                let name = match algorithm {
                    KeycloakAlgorithm::Pbkdf2Sha1 => "pbkdf2",
                    KeycloakAlgorithm::Pbkdf2Sha256 => "pbkdf2-sha256",
                    KeycloakAlgorithm::Pbkdf2Sha512 => "pbkdf2-sha512",
                };
                let b = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
                serde_json::json!({
                    "algorithm": name, "hashIterations": iterations,
                    "salt": b(salt), "value": b(value),
                })
                .to_string()
            }
        };
        format!("{TAG}{}:{body}", self.format())
    }

    /// Reads a stored (tagged) hash; `None` when it is not one.
    pub fn from_stored(stored: &str) -> Option<ForeignHash> {
        let rest = stored.strip_prefix(TAG)?;
        let (format, body) = rest.split_once(':')?;
        let parsed = match format {
            "keycloak" => serde_json::from_str(body)
                .ok()
                .and_then(|v| Self::keycloak(v).ok()),
            _ => Self::parse(body).ok(),
        }?;
        (parsed.format() == format).then_some(parsed)
    }

    /// Whether `password` is the one this hash was made of.
    pub fn verify(&self, password: &str) -> bool {
        let pw = password.as_bytes();
        match self {
            ForeignHash::Argon2(phc) => argon2::PasswordHash::new(phc).is_ok_and(|parsed| {
                use argon2::PasswordVerifier;
                argon2::Argon2::default()
                    .verify_password(pw, &parsed)
                    .is_ok()
            }),
            ForeignHash::Bcrypt(hash) => bcrypt::verify(pw, hash).unwrap_or(false),
            ForeignHash::Scrypt(phc) => {
                scrypt::password_hash::PasswordHash::new(phc).is_ok_and(|parsed| {
                    use scrypt::password_hash::PasswordVerifier;
                    scrypt::Scrypt.verify_password(pw, &parsed).is_ok()
                })
            }
            ForeignHash::Pbkdf2Sha256 { rounds, salt, hash } => {
                let mut out = vec![0u8; hash.len()];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, *rounds, &mut out);
                constant_time_eq(&out, hash)
            }
            ForeignHash::Magento2 {
                digest,
                salt,
                versions,
            } => {
                // Each step hashes the previous one's hex, as Magento's
                // `isValidHash` recreates an upgraded hash.
                let mut data = pw.to_vec();
                let mut out = Vec::new();
                for (i, version) in versions.iter().enumerate() {
                    if i > 0 {
                        data = hex::encode(&out).into_bytes();
                    }
                    match version.apply(&data, salt) {
                        Some(made) => out = made,
                        None => return false,
                    }
                }
                constant_time_eq(&out, digest)
            }
            ForeignHash::Keycloak {
                algorithm,
                iterations,
                salt,
                value,
            } => {
                let mut out = vec![0u8; value.len()];
                match algorithm {
                    KeycloakAlgorithm::Pbkdf2Sha1 => {
                        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, salt, *iterations, &mut out)
                    }
                    KeycloakAlgorithm::Pbkdf2Sha256 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, *iterations, &mut out)
                    }
                    KeycloakAlgorithm::Pbkdf2Sha512 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, salt, *iterations, &mut out)
                    }
                }
                constant_time_eq(&out, value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery";

    /// Hashes of PASSWORD made by the systems themselves (passlib 1.7,
    /// pyca/bcrypt, argon2-cffi, hashlib), one per format.
    fn vectors() -> Vec<serde_json::Value> {
        vec![
            "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$GacV8oEzUl3KM0Mwey9yrMcTPKpkL4jXrFpbKB8oOnI".into(),
            "$2b$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.".into(),
            "$2y$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.".into(),
            "$2a$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.".into(),
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$efPjhLsc6g6F87C4r8JW+Ndthiq2j1fCZEA8arGU0o0".into(),
            "$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$51nsRuiJjI4AyHMlgBJ6rMUc5Ic533h7GOwX/fFwZ+g".into(),
            "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$JxBBsCIczbj0w06ojA6U8tpSY1ZOv8uKRtXhMg2EIFc".into(),
            "0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974:Mg2Salt0123456789abcdef0123456789:1".into(),
            // Magento 2.4's Argon2id13 (the reference `argon2` CLI made
            // them: the salt cut or padded to 16 bytes, 32 bytes out, t=2,
            // 64 MiB, one lane), and a SHA-256 hash upgraded to it.
            "ec644d8eaf9530504f60c449b542c7020bf57837849f2d3ae52a22fecacf9874:Mg2Argon0123456789abcdefghijklmn:2".into(),
            "d8f75d35c46c06833d651d7f4b15ac080479bcea0d1bf1f8d06c3b85e0594228:shortsalt:3_32_2_67108864".into(),
            "00c02e5831df908bdef5328f1e0949e5045de58491c4d3554c2aee0ccbc30664:Mg2Chain0123456789abcdefghijklmn:1:2".into(),
            serde_json::json!({"algorithm": "pbkdf2-sha256", "hashIterations": 1000, "salt": "a2V5Y2xvYWtzYWx0MTIzNA==", "value": "DcW1zx/SumI6jXNqDns1hvSrHZrY4/RO1JTDPXdOsNk="}),
            serde_json::json!({"algorithm": "pbkdf2-sha512", "hashIterations": 1000, "salt": "a2V5Y2xvYWtzYWx0MTIzNA==", "value": "X6cLec4Ziw36HEFmbHzlFIgFnoLIL/fhaTFB2dZVTA6PE9vDfP/I2+ytKVocc7GxobtgBDepa8Z2ckEG3GolOA=="}),
            serde_json::json!({"algorithm": "pbkdf2", "hashIterations": 1000, "salt": "a2V5Y2xvYWtzYWx0MTIzNA==", "value": "P+rmxPb6dO3j3qVhtvVRrPL+eVE="}),
            // A Keycloak credential as CSV carries it: its JSON text.
            r#"{"algorithm": "pbkdf2", "hashIterations": 1000, "salt": "a2V5Y2xvYWtzYWx0MTIzNA==", "value": "P+rmxPb6dO3j3qVhtvVRrPL+eVE="}"#.into(),
        ]
    }

    #[test]
    fn every_format_verifies_its_password_and_refuses_others() {
        for vector in vectors() {
            let hash =
                ForeignHash::parse_imported(&vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert!(hash.verify(PASSWORD), "{vector}");
            assert!(!hash.verify("correct horse batterY"), "{vector}");
            assert!(!hash.verify(""), "{vector}");
            // Stored tagged, and read back as the same format and hash.
            let stored = hash.stored();
            assert!(
                stored.starts_with(&format!("{TAG}{}:", hash.format())),
                "{stored}"
            );
            let back = ForeignHash::from_stored(&stored).expect(&stored);
            assert!(back == hash, "{stored}");
            assert!(back.verify(PASSWORD));
        }
    }

    #[test]
    fn a_stored_hash_is_never_read_as_another_format() {
        let bcrypt =
            ForeignHash::parse("$2b$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.")
                .unwrap();
        let stored = bcrypt.stored();
        // Retagged as another format, it is no hash at all.
        let retagged = stored.replacen("bcrypt", "scrypt", 1);
        assert!(ForeignHash::from_stored(&retagged).is_none());
        // Roster's own (untagged) hashes are not foreign.
        assert!(ForeignHash::from_stored(
            "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$JxBBsCIczbj0w06ojA6U8tpSY1ZOv8uKRtXhMg2EIFc"
        )
        .is_none());
    }

    #[test]
    fn hashes_that_cost_too_much_or_say_nothing_are_refused() {
        for (text, reason) in [
            ("$2b$31$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.", "cost"),
            ("$pbkdf2-sha256$900000000$c2FsdHNhbHRzYWx0$GacV8oEzUl3KM0Mwey9yrMcTPKpkL4jXrFpbKB8oOnI", "iterations"),
            ("$scrypt$ln=24,r=8,p=1$c2FsdHNhbHRzYWx0$efPjhLsc6g6F87C4r8JW+Ndthiq2j1fCZEA8arGU0o0", "costs more"),
            ("$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$JxBBsCIczbj0w06ojA6U8tpSY1ZOv8uKRtXhMg2EIFc", "costs more"),
            ("0d55:salt:1", "64 hex"),
            ("0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974:salt:0", "version 0"),
            ("0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974:salt:3_32_2_1073741824", "costs more"),
            ("0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974:salt:3_32_2", "not supported"),
            ("0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974::1", "needs a salt"),
            ("md5:abc", "not a supported hash"),
            ("plaintext", "not a supported hash"),
        ] {
            let error = ForeignHash::parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
        let keycloak = serde_json::json!({"algorithm": "md5", "hashIterations": 1, "salt": "", "value": "AA=="});
        assert!(ForeignHash::parse_imported(&keycloak)
            .unwrap_err()
            .contains("not supported"));
        assert!(ForeignHash::parse_imported(&serde_json::json!(5)).is_err());
    }

    #[test]
    fn debug_shows_no_hash() {
        let hash =
            ForeignHash::parse("$2b$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.")
                .unwrap();
        assert_eq!(format!("{hash:?}"), "ForeignHash(bcrypt, <redacted>)");
    }
}
