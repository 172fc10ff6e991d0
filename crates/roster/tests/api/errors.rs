//! Errors that say what to do: a token sent to a server whose admin API is
//! off.

use crate::on_both_engines;
use crate::support::{test_config, Engine, TestApp, ADMIN};

on_both_engines!(a_token_that_is_no_credential_hears_that_the_admin_api_is_off,);

const ADMIN_OFF: &str = "the admin API is off on this server";

async fn a_token_that_is_no_credential_hears_that_the_admin_api_is_off(engine: Engine) {
    let mut config = test_config();
    config.admin_token = None;
    let off = TestApp::start_with(engine, config).await;
    // A second process on the same database, with the admin token, sets up
    // a tenant and a key.
    let on = off.sibling().await;
    let t = on.tenant("acme").await;
    let key = on.key(&t, &["VIEW_USERS"]).await;

    // The would-be admin token, and any other token that is no credential
    // (an unknown key, a token shaped like a JWT that does not verify),
    // hear the same: the credentials are not valid, the admin API is off.
    for token in [ADMIN, "rk_not-a-key", "eyJhbGciOiJFZERTQSJ9.e30.c2ln"] {
        for path in ["/v1/tenants".to_string(), format!("/v1/tenants/{t}/users")] {
            let problem = off.get(&path, token).await.problem(401);
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(ADMIN_OFF), "{token} on {path}: {problem}");
        }
    }
    // A valid key still works, and is told only what it may not do.
    off.get(&format!("/v1/tenants/{t}/users"), &key)
        .await
        .expect(200);
    let refused = off.get("/v1/tenants", &key).await.problem(403);
    assert!(
        !refused["detail"].as_str().unwrap().contains("admin API"),
        "{refused}"
    );
    // A server with an admin token never says whether it has one.
    let problem = on
        .get("/v1/tenants", "not-the-admin-token")
        .await
        .problem(401);
    assert!(
        !problem["detail"].as_str().unwrap().contains("admin API"),
        "{problem}"
    );
    assert_eq!(
        problem["detail"], "the credentials are not valid",
        "{problem}"
    );
}
