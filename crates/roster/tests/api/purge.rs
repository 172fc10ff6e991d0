//! The purge: expired sessions, invitations a week past expiry and stale
//! sign-in throttles are removed, by the background task too, and nothing
//! still in use is.

use chrono::Duration;
use serde_json::json;

use crate::on_both_engines;
use crate::support::{Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    the_purge_removes_only_what_has_expired,
    the_background_task_purges_on_its_interval,
);

/// An account's auth token (one session) and a failed login (throttle
/// rows), and an invitation: one of each kind of purgeable row.
async fn seed(app: &TestApp) -> (String, String) {
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": "ana@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let auth = app.login("ana@example.com", PASSWORD).await.expect(200)["auth_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.login("ana@example.com", "not-the-password-at-all")
        .await
        .problem(401);
    let t = app.tenant("acme").await;
    let invite = app
        .post(
            &format!("/v1/tenants/{t}/invitations"),
            ADMIN,
            json!({"email": "bo@example.com", "tenant_role": "ACCESS"}),
        )
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    (auth, invite)
}

async fn invitation_status(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(format!("{}/account/invite", app.base))
        .header("x-invite-token", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn the_purge_removes_only_what_has_expired(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (auth, invite) = seed(&app).await;
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(app.count("login_throttles").await, 2, "name and address");

    // Nothing has expired: nothing goes, and everything still works.
    let purged = app.app.purge().await.unwrap();
    assert!(purged.is_empty(), "{purged:?}");
    app.get("/account", &auth).await.expect(200);
    assert_eq!(invitation_status(&app, &invite).await, 200);

    // A day and a bit later: the session and the throttles have expired;
    // the invitation is within its 7 days.
    app.clock.advance(Duration::hours(25));
    let purged = app.app.purge().await.unwrap();
    assert_eq!(
        (purged.sessions, purged.invitations, purged.throttles),
        (1, 0, 2)
    );
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(app.count("login_throttles").await, 0);
    app.get("/account", &auth).await.problem(401);
    assert_eq!(invitation_status(&app, &invite).await, 200);

    // Expired, the invitation still answers 410 for a week, then goes.
    app.clock.advance(Duration::days(7));
    assert_eq!(invitation_status(&app, &invite).await, 410);
    assert!(app.app.purge().await.unwrap().is_empty());
    app.clock.advance(Duration::days(7));
    assert_eq!(app.app.purge().await.unwrap().invitations, 1);
    assert_eq!(invitation_status(&app, &invite).await, 404);
    // Purging again is a no-op; the audit log keeps its history.
    assert!(app.app.purge().await.unwrap().is_empty());
    assert!(app.count("events").await > 0);
}

async fn the_background_task_purges_on_its_interval(engine: Engine) {
    let app = TestApp::start(engine).await;
    seed(&app).await;
    app.clock.advance(Duration::hours(25));
    let task = tokio::spawn(
        app.app
            .clone()
            .purge_every(std::time::Duration::from_millis(50)),
    );
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = app.count("sessions").await + app.count("login_throttles").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(left, 0, "the task purged within 5 s");
}
