//! Signed tokens: EdDSA (Ed25519) JWTs whose keys live in the database, so
//! every Roster process signs and verifies with the same keys, and other
//! services can verify them offline with `/.well-known/jwks.json`.
//!
//! A token names its session (`sid`); Roster itself also checks the session
//! on every request, so a logout or a revoked device rejects it at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roster_core::{SessionKind, SigningKey};
use roster_store::Store;

use crate::error::{AppError, AppResult};
use crate::sealing::{self, KeyEncryptionKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The issuer of every token.
pub const ISSUER: &str = "roster";

/// What a Roster token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    /// The user (access token) or account (auth token) id.
    pub sub: String,
    /// `access` or `auth`.
    pub kind: SessionKind,
    /// The tenant of an access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// The session id.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

struct LoadedKey {
    key: SigningKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

/// How often at most a token with an unknown `kid` makes the keys be
/// re-read. A key another process has just made is found on the first
/// such token; tokens with made-up `kid`s (anyone can write one) cost a
/// database read at most this often, however many arrive.
const UNKNOWN_KID_RELOAD: std::time::Duration = std::time::Duration::from_secs(1);

/// Signs and verifies tokens with the database's keys, cached in memory
/// (keys never change once made; an unknown `kid` reloads them, at most
/// once per [`UNKNOWN_KID_RELOAD`]).
pub struct Tokens {
    store: Arc<dyn Store>,
    kek: Option<KeyEncryptionKey>,
    keys: RwLock<(Vec<Arc<LoadedKey>>, DateTime<Utc>)>,
    /// When a token with an unknown `kid` last made the keys be re-read.
    unknown_kid_reload: Mutex<Option<Instant>>,
    /// How many times the keys were read from the database.
    reloads: AtomicU64,
}

fn load(key: SigningKey, kek: Option<&KeyEncryptionKey>) -> Result<LoadedKey, String> {
    let pem = sealing::open(kek, &key.kid, &key.private_key).map_err(|e| e.to_string())?;
    let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
        .map_err(|_| "the private key is not Ed25519 PKCS#8 PEM".to_string())?;
    let der = signing
        .to_pkcs8_der()
        .map_err(|_| "the private key does not encode".to_string())?;
    let encoding = EncodingKey::from_ed_der(der.as_bytes());
    let decoding = DecodingKey::from_ed_components(&key.public_x)
        .map_err(|_| "the public key is not base64url".to_string())?;
    Ok(LoadedKey {
        key,
        encoding,
        decoding,
    })
}

/// A new random Ed25519 signing key.
pub fn generate_key(now: DateTime<Utc>) -> SigningKey {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("an Ed25519 key encodes as PKCS#8");
    let x =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
    SigningKey {
        kid: Uuid::now_v7().simple().to_string(),
        private_key: pem.to_string(),
        public_x: x,
        created_at: now,
        retired_at: None,
    }
}

/// Adds a new signing key and retires the others: they stay published
/// (JWKS) until the tokens they signed have expired. With `kek` the new key
/// is sealed, and so are any plain ones; without it, a database whose keys
/// are sealed is refused (a plain key beside sealed ones would undo them).
pub async fn rotate(
    store: &dyn Store,
    kek: Option<&KeyEncryptionKey>,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let existing = store.signing_keys().await?;
    check_openable(&existing, kek)?;
    seal_plain_keys(store, &existing, kek).await?;
    let key = generate_key(now);
    let kid = key.kid.clone();
    store.add_signing_key(sealed(key, kek), Some(now)).await?;
    Ok(kid)
}

/// The key as it is stored: sealed when there is a key-encryption key.
fn sealed(mut key: SigningKey, kek: Option<&KeyEncryptionKey>) -> SigningKey {
    if let Some(kek) = kek {
        key.private_key = kek.seal(&key.kid, &key.private_key);
    }
    key
}

/// Every key must open: a key that does not would stop tokens it signed
/// from verifying, or (the newest) stop every sign-in.
fn check_openable(keys: &[SigningKey], kek: Option<&KeyEncryptionKey>) -> AppResult<()> {
    for key in keys {
        load(key.clone(), kek)
            .map_err(|e| AppError::Signing(format!("signing key {}: {e}", key.kid)))?;
    }
    Ok(())
}

/// Seals, in place, the keys stored as plain PEM (a database from before
/// the key-encryption key was set).
async fn seal_plain_keys(
    store: &dyn Store,
    keys: &[SigningKey],
    kek: Option<&KeyEncryptionKey>,
) -> AppResult<()> {
    let Some(kek) = kek else { return Ok(()) };
    for key in keys.iter().filter(|k| !sealing::is_sealed(&k.private_key)) {
        store
            .replace_signing_key(&key.kid, &kek.seal(&key.kid, &key.private_key))
            .await?;
        tracing::info!(kid = %key.kid, "sealed a plain signing key with the key-encryption key");
    }
    Ok(())
}

impl Tokens {
    /// Loads the keys, making the first one if there is none, and sealing
    /// plain ones when `kek` is set; fails when any key does not open.
    pub async fn new(
        store: Arc<dyn Store>,
        kek: Option<KeyEncryptionKey>,
        now: DateTime<Utc>,
    ) -> AppResult<Tokens> {
        let existing = store.signing_keys().await?;
        if existing.is_empty() {
            store
                .add_signing_key(sealed(generate_key(now), kek.as_ref()), None)
                .await?;
        }
        check_openable(&existing, kek.as_ref())?;
        seal_plain_keys(store.as_ref(), &existing, kek.as_ref()).await?;
        let tokens = Tokens {
            store,
            kek,
            keys: RwLock::new((Vec::new(), now)),
            unknown_kid_reload: Mutex::new(None),
            reloads: AtomicU64::new(0),
        };
        tokens.reload(now).await?;
        Ok(tokens)
    }

    async fn reload(&self, now: DateTime<Utc>) -> AppResult<()> {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<Arc<LoadedKey>> = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .filter_map(|key| {
                let kid = key.kid.clone();
                load(key, self.kek.as_ref())
                    .inspect_err(|e| tracing::error!(kid = %kid, "signing key left out: {e}"))
                    .ok()
            })
            .map(Arc::new)
            .collect();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = (keys, now);
        Ok(())
    }

    /// Whether a token with an unknown `kid` may re-read the keys now (and
    /// if so, notes that it did, so that concurrent ones do not).
    fn may_reload_for_unknown_kid(&self) -> bool {
        let mut last = self
            .unknown_kid_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_RELOAD) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn cached(&self) -> (Vec<Arc<LoadedKey>>, DateTime<Utc>) {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Signs claims with the newest key (re-read at most once a minute, so a
    /// rotation by another process is picked up).
    pub async fn sign(&self, claims: &Claims, now: DateTime<Utc>) -> AppResult<String> {
        if now - self.cached().1 > Duration::seconds(60) {
            self.reload(now).await?;
        }
        let (keys, _) = self.cached();
        let key = keys
            .iter()
            .find(|k| k.key.retired_at.is_none())
            .or_else(|| keys.first())
            .ok_or_else(|| AppError::Signing("no signing key could be loaded".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| AppError::Signing(e.to_string()))
    }

    /// Checks a token's signature, issuer and expiry (against `now`).
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let mut key = self.cached().0.into_iter().find(|k| k.key.kid == kid);
        if key.is_none() && self.may_reload_for_unknown_kid() {
            self.reload(now).await.map_err(|_| TokenError::Invalid)?;
            key = self.cached().0.into_iter().find(|k| k.key.kid == kid);
        }
        let key = key.ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked against Roster's clock below.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[ISSUER]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The JSON Web Key Set: every key that signs, or signed tokens that may
    /// not have expired yet (`longest_ttl` after its retirement).
    pub async fn jwks(
        &self,
        now: DateTime<Utc>,
        longest_ttl: Duration,
    ) -> AppResult<serde_json::Value> {
        let keys: Vec<serde_json::Value> = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .filter(|k| k.retired_at.is_none_or(|at| at + longest_ttl > now))
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": k.kid, "x": k.public_x,
                })
            })
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::{connect, ConnectOptions};

    fn forged(kid: &str) -> String {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = b64(serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}));
        let claims = b64(serde_json::json!({"iss": ISSUER, "sub": "x"}));
        format!("{header}.{claims}.c2lnbmF0dXJl")
    }

    fn claims(now: DateTime<Utc>) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "someone".into(),
            kind: SessionKind::Access,
            tid: Some("acme".into()),
            sid: Uuid::now_v7(),
            iat: now.timestamp(),
            exp: now.timestamp() + 600,
        }
    }

    #[tokio::test]
    async fn made_up_kids_cost_one_read_however_many_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("roster.db").display());
        let store = connect(&ConnectOptions::new(url)).await.unwrap();
        let now = Utc::now();
        let tokens = Tokens::new(store, None, now).await.unwrap();
        let before = tokens.reloads.load(Ordering::Relaxed);
        for n in 0..50 {
            let token = forged(&format!("{n:032x}"));
            assert!(matches!(
                tokens.verify(&token, now).await,
                Err(TokenError::Invalid)
            ));
        }
        // One read for the first; the rest fall within the same second
        // (two if the loop straddled a second on a very slow machine).
        let reads = tokens.reloads.load(Ordering::Relaxed) - before;
        assert!((1..=2).contains(&reads), "{reads} reads");
    }

    #[tokio::test]
    async fn a_key_another_process_made_verifies_on_its_first_token() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("roster.db").display());
        let store = connect(&ConnectOptions::new(url.clone())).await.unwrap();
        let now = Utc::now();
        let here = Tokens::new(store.clone(), None, now).await.unwrap();
        // Another process rotates and signs with the new key at once.
        let kid = rotate(store.as_ref(), None, now).await.unwrap();
        let other_store = connect(&ConnectOptions::new(url)).await.unwrap();
        let there = Tokens::new(other_store, None, now).await.unwrap();
        let token = there.sign(&claims(now), now).await.unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some(kid.as_str())
        );
        assert_eq!(here.verify(&token, now).await.unwrap(), claims_of(&token));
    }

    fn claims_of(token: &str) -> Claims {
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}
