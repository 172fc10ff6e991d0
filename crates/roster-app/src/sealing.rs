//! Token-signing keys at rest: sealed with the key-encryption key
//! (`ROSTER_KEY_ENCRYPTION_KEY`) by XChaCha20-Poly1305, so a copy of the
//! database alone cannot mint tokens.
//!
//! A sealed key is stored as `sealed:v1:<base64 of nonce ‖ ciphertext>`; the
//! key's `kid` is the associated data, so a sealed key moved to another row
//! does not open. A stored key without the prefix is plain PKCS#8 PEM (a
//! database from before sealing, or one run without a key-encryption key).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;

/// The key that seals signing keys: 32 random bytes. Never printed.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

/// Why a stored key could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the signing key is sealed and no key-encryption key is set")]
    NoKey,
    #[error("the key-encryption key does not open the signing key (another key, or damaged)")]
    WrongKey,
}

impl KeyEncryptionKey {
    /// A key from its base64 text (standard or URL-safe alphabet, padded or
    /// not), which must decode to exactly 32 bytes: `openssl rand -base64 32`.
    pub fn parse(text: &str) -> Result<KeyEncryptionKey, String> {
        let text = text.trim();
        let bytes = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or("must be base64 (make one with `openssl rand -base64 32`)")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must decode to 32 bytes, not {}", b.len()))?;
        Ok(KeyEncryptionKey(key))
    }

    /// Seals a private key's PEM, bound to its `kid`.
    pub fn seal(&self, kid: &str, pem: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: pem.as_bytes(),
                    aad: kid.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    fn open_sealed(&self, kid: &str, body: &str) -> Result<String, SealError> {
        let bytes = STANDARD.decode(body).map_err(|_| SealError::WrongKey)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::WrongKey);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let pem = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(pem).map_err(|_| SealError::WrongKey)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Whether a stored private key is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The PEM of a stored private key: opened with `kek` when sealed, as it is
/// when plain.
pub fn open(kek: Option<&KeyEncryptionKey>, kid: &str, stored: &str) -> Result<String, SealError> {
    match stored.strip_prefix(PREFIX) {
        None => Ok(stored.to_string()),
        Some(body) => kek.ok_or(SealError::NoKey)?.open_sealed(kid, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_kek_and_kid() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n";
        let sealed = key(1).seal("kid-a", pem);
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_eq!(open(Some(&key(1)), "kid-a", &sealed).unwrap(), pem);
        assert_eq!(
            open(Some(&key(2)), "kid-a", &sealed),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            open(Some(&key(1)), "kid-b", &sealed),
            Err(SealError::WrongKey)
        );
        assert_eq!(open(None, "kid-a", &sealed), Err(SealError::NoKey));
        // Two seals of one key differ (fresh nonces).
        assert_ne!(key(1).seal("kid-a", pem), sealed);
        // Plain PEM passes through.
        assert_eq!(open(None, "kid-a", pem).unwrap(), pem);
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes() {
        let text = STANDARD.encode([7u8; 32]);
        assert!(KeyEncryptionKey::parse(&text).is_ok());
        assert!(KeyEncryptionKey::parse(text.trim_end_matches('=')).is_ok());
        let short = KeyEncryptionKey::parse(&STANDARD.encode([7u8; 16])).unwrap_err();
        assert!(short.contains("32 bytes, not 16"), "{short}");
        assert!(KeyEncryptionKey::parse("not base64!").is_err());
        assert_eq!(format!("{:?}", key(9)), "KeyEncryptionKey(<redacted>)");
    }
}
