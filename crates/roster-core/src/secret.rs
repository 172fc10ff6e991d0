//! Secrets: passwords (Argon2id) and random tokens (SHA-256). Only hashes are
//! ever stored; a token is shown once, when it is made.

use std::cell::RefCell;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// A password that passed the policy of SPEC §7, NFKC-normalised. Its Debug
/// form is redacted so it cannot reach a log.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Applies the policy: 12 to 128 characters after NFKC normalisation,
    /// never truncated, no composition rules, and refused when zxcvbn rates
    /// it guessable (score below 3), which covers the common-password lists.
    /// `context` holds the user's own words (email, names), which a password
    /// must not lean on. The error never echoes the password.
    pub fn parse(raw: &str, context: &[&str]) -> Result<Password, String> {
        let normalised: String = raw.nfkc().collect();
        let length = normalised.chars().count();
        if length < 12 {
            return Err("must be at least 12 characters".into());
        }
        if length > 128 {
            return Err("must be at most 128 characters".into());
        }
        let score: u8 = zxcvbn::zxcvbn(&normalised, context).score().into();
        if score < 3 {
            return Err("is too easy to guess: use a longer phrase or a password manager".into());
        }
        Ok(Password(normalised))
    }

    /// Normalises a sign-in attempt the way [`Password::parse`] did, without
    /// the policy (which applies when a password is set, not when it is used).
    pub fn candidate(raw: &str) -> Password {
        Password(raw.nfkc().collect())
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// The Argon2id memory this thread keeps between runs, once
    /// [`keep_argon2_memory`] gave it some.
    static KEPT_MEMORY: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Makes this thread keep its Argon2id memory (19 MiB) from one run to the
/// next, instead of allocating it for each: for the password pool's
/// threads, which are few and fixed. Each run then writes the same pages:
/// no allocation, no page faults, and no 19 MiB blocks freed into the
/// allocator, which keeps what it is given back and would grow the
/// process with every thread that ever hashed.
pub fn keep_argon2_memory() {
    KEPT_MEMORY.with(|kept| *kept.borrow_mut() = Some(Vec::new()));
}

/// Runs `argon` into `out`, in this thread's kept memory if it keeps one
/// (allocated at its first run, so an idle pool holds nothing), else in
/// memory of its own, as it does for an imported hash asking for more than
/// Roster's parameters.
fn hash_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let needed = argon.params().block_count();
    KEPT_MEMORY.with(|kept| match kept.borrow_mut().as_mut() {
        Some(blocks) if needed <= argon2().params().block_count() => {
            if blocks.len() < needed {
                blocks.resize(argon2().params().block_count(), Block::default());
            }
            argon.hash_password_into_with_memory(password, salt, out, blocks)
        }
        _ => argon.hash_password_into(password, salt, out),
    })
}

/// Hashes a password into a PHC string: what `argon2`'s `PasswordHasher`
/// writes, computed through [`hash_into`] so a pool thread reuses its
/// memory (the crate's hasher allocates afresh for each run).
pub fn hash_password(password: &Password) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let argon = argon2();
    let mut raw = [0u8; 64];
    let raw = salt
        .as_salt()
        .decode_b64(&mut raw)
        .expect("a generated salt decodes");
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(hash_into(&argon, password.0.as_bytes(), raw, out)?)
    })
    .expect("Argon2 hashing cannot fail with valid parameters");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("valid Argon2 parameters"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

/// Whether `password` gives `parsed`'s hash under `parsed`'s algorithm,
/// version and parameters, as `argon2`'s `PasswordVerifier` decides, the
/// outputs compared in constant time (`Output`'s `==`).
fn argon2_matches(parsed: &PasswordHash<'_>, password: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut raw = [0u8; 64];
    let Ok(raw) = salt.decode_b64(&mut raw) else {
        return false;
    };
    Output::init_with(expected.len(), |out| {
        Ok(hash_into(&argon, password, raw, out)?)
    })
    .is_ok_and(|computed| computed == expected)
}

/// Checks a password against a stored hash, in constant time. With no hash
/// (an unknown user) it checks against a fixed dummy hash, so an unknown user
/// and a wrong password take the same time and give the same answer.
pub fn verify_password(stored: Option<&str>, candidate: &Password) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password(&Password("dummy password for timing".into())));
    let (hash, real) = match stored {
        // A hash kept from an import (`imported:<format>:...`) is checked
        // in its own format; the sign-in then replaces it.
        Some(hash) if hash.starts_with(crate::foreign_hash::TAG) => {
            return crate::foreign_hash::ForeignHash::from_stored(hash)
                .is_some_and(|foreign| foreign.verify(&candidate.0));
        }
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2_matches(&parsed, candidate.0.as_bytes()) && real
}

/// Whether a stored hash is not Roster's own (one kept from an import),
/// so a successful sign-in should replace it with Argon2id.
pub fn needs_rehash(stored: &str) -> bool {
    stored.starts_with(crate::foreign_hash::TAG)
}

/// Hashes a password that already signed in (replacing an imported hash):
/// it is the user's password as it is, so no strength policy applies.
pub fn rehash(candidate: &Password) -> String {
    hash_password(candidate)
}

/// A new random token with a readable prefix, and the hash to store.
pub fn new_token(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a random token: hex SHA-256. Looking a token up by this
/// hash compares hashes, never the secret, so it leaks nothing of the secret.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    // Hash first so that the lengths compared are always equal.
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashing and verifying in a thread's kept memory give what the
    /// `argon2` crate's own hasher and verifier give, either way round.
    #[test]
    fn kept_memory_hashes_as_the_crate_does() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let password = Password::parse("correct-horse-battery-staple", &[]).unwrap();
        let wrong = Password::candidate("correct-horse-battery-stable");
        let plain = hash_password(&password);
        let kept = std::thread::spawn(move || {
            keep_argon2_memory();
            let password = Password::parse("correct-horse-battery-staple", &[]).unwrap();
            (
                hash_password(&password),
                verify_password(Some(&plain), &password),
            )
        });
        let (kept_hash, verified_in_kept) = kept.join().unwrap();
        assert!(
            verified_in_kept,
            "a hash made without kept memory verifies in it"
        );
        assert!(verify_password(Some(&kept_hash), &password));
        assert!(!verify_password(Some(&kept_hash), &wrong));
        assert!(kept_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = PasswordHash::new(&kept_hash).unwrap();
        assert!(argon2()
            .verify_password(b"correct-horse-battery-staple", &parsed)
            .is_ok());
        let theirs = argon2()
            .hash_password(
                b"correct-horse-battery-staple",
                &SaltString::generate(&mut OsRng),
            )
            .unwrap()
            .to_string();
        assert!(verify_password(Some(&theirs), &password));
        assert!(!verify_password(Some(&theirs), &wrong));
    }

    #[test]
    fn policy() {
        assert!(Password::parse("correct-horse-battery-staple", &[]).is_ok());
        for bad in [
            "short",
            "passwordpassword",
            "123456789012",
            "qwertyuiopasdf",
            "aaaaaaaaaaaaaaaa",
        ] {
            let err = Password::parse(bad, &[]).unwrap_err();
            assert!(!err.contains(bad), "the error must not echo the password");
        }
        assert!(
            Password::parse(&"x7Kq!".repeat(26), &[]).is_err(),
            "over 128"
        );
        assert!(
            Password::parse("maria.garcia@example.com", &["maria.garcia@example.com"]).is_err()
        );
    }

    #[test]
    fn normalisation_makes_equivalent_passwords_equal() {
        let stored = hash_password(&Password::parse("ﬁne-tuned-violin-sonata", &[]).unwrap());
        assert!(verify_password(
            Some(&stored),
            &Password::candidate("fine-tuned-violin-sonata")
        ));
        assert!(!verify_password(
            Some(&stored),
            &Password::candidate("fine-tuned-violin-sonatA")
        ));
        assert!(!verify_password(
            None,
            &Password::candidate("fine-tuned-violin-sonata")
        ));
    }

    #[test]
    fn tokens_hash_stably() {
        let (token, hash) = new_token("rk");
        assert!(token.starts_with("rk_"));
        assert_eq!(hash_token(&token), hash);
        assert!(constant_time_eq(token.as_bytes(), token.as_bytes()));
        assert!(!constant_time_eq(token.as_bytes(), b"other"));
        // The stored form is lowercase hex SHA-256: what databases hold.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
