//! Token-signing keys at rest: with `ROSTER_KEY_ENCRYPTION_KEY` the
//! database holds them sealed, never as PEM; plain keys from before are
//! sealed at start; a wrong or missing key-encryption key is refused.

use base64::Engine as _;
use roster_app::sealing::KeyEncryptionKey;
use roster_app::Config;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{test_config, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    with_a_key_encryption_key_the_database_holds_no_plain_key,
    plain_keys_are_sealed_at_start_and_keep_verifying,
    sealed_keys_need_the_right_key_encryption_key,
);

fn kek(byte: u8) -> KeyEncryptionKey {
    KeyEncryptionKey::parse(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
}

fn sealed_config(byte: u8) -> Config {
    Config {
        key_encryption_key: Some(kek(byte)),
        ..test_config()
    }
}

/// A device sign-in's access token (which makes the first signing key).
async fn access_token(app: &TestApp, tenant: &str) -> String {
    let device = app
        .post(
            &format!("/v1/tenants/{tenant}/devices"),
            ADMIN,
            json!({"name": "Till"}),
        )
        .await
        .expect(201);
    app.call(
        reqwest::Method::POST,
        "/account",
        device["token"].as_str(),
        Some(json!({"userCode": "1", "password": PASSWORD})),
    )
    .await
    .expect(200)["accessToken"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn cashier(app: &TestApp, tenant: &str) {
    app.user(
        tenant,
        json!({"user_code": "1", "password": PASSWORD, "tenant_role": "ACCESS"}),
    )
    .await;
}

async fn stored_keys(app: &TestApp) -> Vec<String> {
    app.rows_as_text("SELECT private_pem FROM signing_keys")
        .await
}

fn assert_sealed(stored: &[String]) {
    assert!(!stored.is_empty());
    for key in stored {
        assert!(key.starts_with("sealed:v1:"), "{key}");
        assert!(!key.contains("PRIVATE KEY"), "{key}");
    }
}

async fn with_a_key_encryption_key_the_database_holds_no_plain_key(engine: Engine) {
    let app = TestApp::start_with(engine, sealed_config(1)).await;
    let t = app.tenant("acme").await;
    cashier(&app, &t).await;
    let token = access_token(&app, &t).await;
    app.get("/account", &token).await.expect(200);
    assert_sealed(&stored_keys(&app).await);
    // A rotation with the key seals the new key too.
    roster_app::tokens::rotate(app.store.as_ref(), Some(&kek(1)), chrono::Utc::now())
        .await
        .unwrap();
    let stored = stored_keys(&app).await;
    assert_eq!(stored.len(), 2);
    assert_sealed(&stored);
    // The public half is still published for offline verification.
    let jwks: Value = app.get_public("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

async fn plain_keys_are_sealed_at_start_and_keep_verifying(engine: Engine) {
    let plain = TestApp::start(engine).await;
    let t = plain.tenant("acme").await;
    cashier(&plain, &t).await;
    let token = access_token(&plain, &t).await;
    assert!(stored_keys(&plain).await[0].contains("PRIVATE KEY"));
    // A rotation without the key is refused once keys are sealed (below).
    let sealed = plain.sibling_with(sealed_config(2)).await;
    sealed.app.prepare_signing_keys().await.unwrap();
    assert_sealed(&stored_keys(&plain).await);
    // The token signed before sealing still verifies, and new ones sign.
    sealed.get("/account", &token).await.expect(200);
    let again = access_token(&sealed, &t).await;
    sealed.get("/account", &again).await.expect(200);
    assert_eq!(
        jsonwebtoken::decode_header(&again).unwrap().kid,
        jsonwebtoken::decode_header(&token).unwrap().kid,
        "the same key, now sealed"
    );
    let refused = roster_app::tokens::rotate(plain.store.as_ref(), None, chrono::Utc::now()).await;
    assert!(refused.is_err(), "no plain key beside sealed ones");
    assert_sealed(&stored_keys(&plain).await);
}

async fn sealed_keys_need_the_right_key_encryption_key(engine: Engine) {
    let app = TestApp::start_with(engine, sealed_config(3)).await;
    app.app.prepare_signing_keys().await.unwrap();
    let without = app.sibling().await;
    let error = without.app.prepare_signing_keys().await.unwrap_err();
    assert!(
        error.to_string().contains("no key-encryption key"),
        "{error}"
    );
    let wrong = app.sibling_with(sealed_config(4)).await;
    let error = wrong.app.prepare_signing_keys().await.unwrap_err();
    assert!(error.to_string().contains("does not open"), "{error}");
    // Nothing was changed by the refused starts.
    assert_sealed(&stored_keys(&app).await);
    let right = app.sibling_with(sealed_config(3)).await;
    right.app.prepare_signing_keys().await.unwrap();
}
