//! `App::authenticate` and the client address, fed arbitrary presented
//! values: the parsers of credentials every request goes through.
//!
//! Properties: authenticating never panics and never errs other than 401
//! (a token that is no credential is refused the same way whatever its
//! shape: empty, an API key's, a JWT's with any header, algorithm or key
//! id); only the admin token, a live API key and a signed token pass; a
//! signed token changed in any one character no longer passes; and the
//! client behind an `X-Forwarded-For` is always the peer or an address the
//! header names.

use std::net::IpAddr;

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use roster_app::database::{connect, ConnectOptions};
use roster_app::signin::ClientAddr;
use roster_app::{App, AppError, Caller, Config, Secret, TrustedProxies};
use roster_core::secret::{self, Password};
use roster_core::{Actor, ApiKeyGrant, Permission};
use roster_store::{NewAccount, NewApiKey, NewTenant};

const ADMIN: &str = "admin-token-for-the-property";
const PASSWORD: &str = "correct-horse-battery-staple";

/// An application on a fresh SQLite database with one API key and one
/// account, and the credentials: the key's token and an auth token.
struct Fixture {
    app: App,
    api_key: String,
    auth_token: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("roster.db").display());
    let store = connect(&ConnectOptions::new(url)).await.unwrap();
    store
        .create_tenant(
            NewTenant {
                uid: "acme".into(),
                name: "Acme".into(),
            },
            &Actor::Admin,
        )
        .await
        .unwrap();
    let (api_key, token_hash) = secret::new_token("rk");
    store
        .create_api_key(
            "acme",
            NewApiKey {
                name: "k".into(),
                grant: ApiKeyGrant::Permissions(vec![Permission::ViewUsers]),
                token_hash,
            },
            &Actor::Admin,
        )
        .await
        .unwrap();
    let password = Password::parse(PASSWORD, &[]).unwrap();
    store
        .create_account(NewAccount {
            email: "ana@example.com".into(),
            password_hash: secret::hash_password(&password),
            first_name: None,
            last_name: None,
        })
        .await
        .unwrap();
    let config = Config {
        admin_token: Some(Secret::new(ADMIN)),
        ..Config::default()
    };
    let app = App::new(store, config);
    let (auth_token, _) = app
        .sign_in()
        .account("ana@example.com", PASSWORD, ClientAddr(None))
        .await
        .unwrap();
    Fixture {
        app,
        api_key,
        auth_token,
        _dir: dir,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens of every shape: any text, API-key-like, and JWT-like with an
/// arbitrary header (algorithm, key id), claims and signature.
fn presented() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,60}",
        "(rk|rd|ri)_[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}",
        (
            prop_oneof![
                Just("EdDSA".to_string()),
                Just("HS256".to_string()),
                Just("none".to_string()),
                "[A-Za-z0-9]{0,8}",
            ],
            proptest::option::of("[0-9a-f]{0,40}"),
            any::<Vec<u8>>(),
            "[A-Za-z0-9_-]{0,100}",
        )
            .prop_map(|(alg, kid, claims, signature)| {
                let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid});
                format!(
                    "{}.{}.{signature}",
                    b64(header.to_string().as_bytes()),
                    b64(&claims)
                )
            }),
    ]
}

/// Runs `cases` of `strategy` through the async `property` on one runtime.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    property: impl Fn(&Fixture, S::Value) -> futures::future::BoxFuture<'_, Result<(), TestCaseError>>,
) where
    S::Value: Clone + std::fmt::Debug,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fixture = runtime.block_on(fixture());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases));
    let result = runner.run(&strategy, |value| {
        runtime.block_on(property(&fixture, value))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn no_presented_token_is_anything_but_a_credential_or_a_401() {
    check(256, presented(), |f, token| {
        Box::pin(async move {
            match f.app.authenticate(&token).await {
                Ok(caller) => prop_assert!(
                    token == ADMIN || token == f.api_key || token == f.auth_token,
                    "{token:?} authenticated as {caller:?}"
                ),
                Err(AppError::Unauthorized(_)) => {}
                Err(other) => prop_assert!(false, "{token:?}: {other:?}"),
            }
            Ok(())
        })
    });
}

#[test]
fn real_credentials_pass_and_any_change_to_a_signed_token_is_refused() {
    check(
        96,
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        |f, (at, with)| {
            Box::pin(async move {
                prop_assert!(matches!(f.app.authenticate(ADMIN).await, Ok(Caller::Admin)));
                let key = f.app.authenticate(&f.api_key).await;
                prop_assert!(matches!(key, Ok(Caller::ApiKey { .. })), "{key:?}");
                let account = f.app.authenticate(&f.auth_token).await;
                prop_assert!(matches!(account, Ok(Caller::Account { .. })), "{account:?}");
                // One character of the signed token replaced by another of
                // base64url's alphabet or the separator.
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
                let mut changed = f.auth_token.clone().into_bytes();
                let i = at.index(changed.len());
                let replacement = ALPHABET[with.index(ALPHABET.len())];
                if changed[i] == replacement {
                    return Ok(());
                }
                changed[i] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                let outcome = f.app.authenticate(&changed).await;
                prop_assert!(
                    matches!(outcome, Err(AppError::Unauthorized(_))),
                    "{changed:?} (position {i}): {outcome:?}"
                );
                Ok(())
            })
        },
    );
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(IpAddr::V4),
        any::<std::net::Ipv6Addr>().prop_map(IpAddr::V6),
        Just("10.0.0.1".parse().unwrap()),
        Just("::ffff:10.0.0.2".parse().unwrap()),
    ]
}

proptest! {
    #[test]
    fn the_client_is_the_peer_or_named_by_the_header(
        peer in address(),
        entries in proptest::collection::vec(
            prop_oneof![
                any::<String>(),
                address().prop_map(|a| a.to_string()),
                (address(), any::<u16>()).prop_map(|(a, p)| std::net::SocketAddr::new(a, p).to_string()),
                "[ 0-9a-f.:\\[\\]]{0,40}",
            ],
            0..5,
        ),
        proxies in prop_oneof![
            Just(String::new()),
            Just("10.0.0.0/8".to_string()),
            Just("10.0.0.0/8, ::/0, 0.0.0.0/0".to_string()),
        ],
    ) {
        let trusted = TrustedProxies::parse(&proxies).unwrap();
        let client = trusted.client_of(peer, entries.iter().map(String::as_str));
        let canonical = |a: IpAddr| match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let named = entries.iter().any(|e| {
            let e = e.trim();
            e.parse::<IpAddr>().ok()
                .or_else(|| e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
                .is_some_and(|a| canonical(a) == client)
        });
        prop_assert!(client == canonical(peer) || named, "{client} from {peer} and {entries:?}");
        // A peer that is not trusted is the client, whatever the header says.
        if !trusted.trusts(peer) {
            prop_assert_eq!(client, canonical(peer));
        }
    }
}
