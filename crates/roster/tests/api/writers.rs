//! Two Roster processes writing one database. On SQLite a process's
//! writes share a transaction (group commit); a write that fails must not
//! leave that transaction open behind it, or it would hold a snapshot
//! older than the other process's next commit and every later write of
//! this process would fail (`SQLITE_BUSY_SNAPSHOT`), or hold the file's
//! write lock and stall the other process. PostgreSQL runs the same
//! stories as a reference.

use serde_json::json;

use crate::on_both_engines;
use crate::support::{Engine, TestApp, ADMIN};

on_both_engines!(
    a_failed_write_leaves_nothing_open_for_another_process_to_trip_on,
    two_processes_writing_at_once_both_succeed,
);

async fn a_failed_write_leaves_nothing_open_for_another_process_to_trip_on(engine: Engine) {
    let this = TestApp::start(engine).await;
    let other = this.sibling().await;
    let t = this.tenant("acme").await;
    for round in 0..3 {
        // A write that reads (the company it names) and then fails.
        fail_a_write(&this, &t).await;
        // The other process commits meanwhile, without waiting.
        other
            .user(&t, json!({"email": format!("other{round}@example.com")}))
            .await;
        // This process's next write sees the file as it is now.
        this.user(&t, json!({"email": format!("this{round}@example.com")}))
            .await;
    }
    assert_eq!(this.count("users").await, 6);
}

async fn two_processes_writing_at_once_both_succeed(engine: Engine) {
    let this = TestApp::start(engine).await;
    let other = this.sibling().await;
    let t = this.tenant("acme").await;
    let mut writes = Vec::new();
    for n in 0..40 {
        writes.push(create(&this, &t, "this", n));
        writes.push(create(&other, &t, "other", n));
    }
    futures::future::join_all(writes).await;
    assert_eq!(this.count("users").await, 80);
}

/// Creates a user; every other call first fails a write, so failures and successes interleave with
/// the other process's commits.
async fn create(app: &TestApp, t: &str, who: &str, n: usize) {
    if n.is_multiple_of(2) {
        fail_a_write(app, t).await;
    }
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"email": format!("{who}{n}@example.com")}),
    )
    .await
    .expect(201);
}

/// A creation that reads inside its write (the company it names) and
/// fails there: the company does not exist.
async fn fail_a_write(app: &TestApp, t: &str) {
    let missing = uuid::Uuid::new_v4();
    let problem = app
        .post(
            &format!("/v1/tenants/{t}/users"),
            ADMIN,
            json!({"email": format!("{missing}@example.com"), "company_id": missing}),
        )
        .await;
    assert_eq!(problem.status, 404, "{:?}", problem.body);
}
