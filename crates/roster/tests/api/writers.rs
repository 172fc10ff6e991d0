//! Two Roster processes writing one database. On SQLite a process's
//! writes share a transaction (group commit), and on both engines
//! concurrent user creations share one, written together; a write that
//! fails must not
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
    concurrent_creations_share_a_transaction_and_each_keeps_its_outcome,
    creations_that_reference_nothing_keep_their_outcomes_and_events,
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

/// The value of an unlabelled counter in `/metrics`.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// A burst of creations in two tenants, by two actors, some of them bad (a
/// duplicate email, a company or store that does not exist): they share
/// transactions (`/metrics` counts fewer batches than creations), yet each
/// is answered as it would be alone, every good one is there with one
/// audit event by its own actor, in its own tenant, and numbers stay
/// unique per tenant.
async fn concurrent_creations_share_a_transaction_and_each_keeps_its_outcome(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let key = app.key(&acme, &["MANAGE_USERS"]).await;
    let before = app.metrics().await;
    let missing = uuid::Uuid::new_v4();
    let mut bodies: Vec<(String, String, serde_json::Value, u16)> = Vec::new();
    for n in 0..24 {
        let (tenant, token) = match n % 3 {
            0 => (&other, ADMIN.to_string()),
            1 => (&acme, key.clone()),
            _ => (&acme, ADMIN.to_string()),
        };
        let body = json!({"email": format!("user{n}@example.com")});
        bodies.push((tenant.clone(), token, body, 201));
    }
    for n in 0..6 {
        let body = json!({"email": format!("nocompany{n}@example.com"), "company_id": missing});
        bodies.push((acme.clone(), ADMIN.to_string(), body, 404));
        let body = json!({"email": format!("nostore{n}@example.com"), "store_ids": ["nowhere"]});
        bodies.push((acme.clone(), key.clone(), body, 404));
    }
    // One of the twins is created, the others are duplicates.
    for _ in 0..6 {
        let body = json!({"email": "twin@example.com"});
        bodies.push((acme.clone(), ADMIN.to_string(), body, 0));
    }
    // Bad and good creations interleave within the burst.
    bodies.sort_by_key(|(_, _, body, _)| body["email"].as_str().unwrap().len() % 5);
    let paths: Vec<String> = bodies
        .iter()
        .map(|(tenant, ..)| format!("/v1/tenants/{tenant}/users"))
        .collect();
    let calls = bodies
        .iter()
        .zip(&paths)
        .map(|((_, token, body, _), path)| app.post(path, token, body.clone()));
    let replies = futures::future::join_all(calls).await;
    let mut twins = Vec::new();
    for ((tenant, _, body, expected), reply) in bodies.iter().zip(replies) {
        if *expected == 0 {
            twins.push(reply.status);
            continue;
        }
        assert_eq!(reply.status, *expected, "{body}: {:?}", reply.body);
        if *expected == 201 {
            assert_eq!(reply.body["email"], body["email"]);
            let read = app
                .get(
                    &format!(
                        "/v1/tenants/{tenant}/users/{}",
                        reply.body["id"].as_str().unwrap()
                    ),
                    ADMIN,
                )
                .await
                .expect(200);
            assert_eq!(read["number"], reply.body["number"]);
        }
    }
    twins.sort_unstable();
    assert_eq!(twins, [201, 409, 409, 409, 409, 409]);

    let after = app.metrics().await;
    let batches = counter(&after, "roster_user_creation_batches_total")
        - counter(&before, "roster_user_creation_batches_total");
    let batched = counter(&after, "roster_user_creations_batched_total")
        - counter(&before, "roster_user_creations_batched_total");
    assert_eq!(
        batched as usize,
        bodies.len(),
        "every creation went through a batch"
    );
    assert!(
        batches < batched,
        "{batches} batches for {batched} creations: none shared"
    );

    for (tenant, created) in [(&acme, 17), (&other, 8)] {
        let numbers = app
            .rows_as_text(&format!(
                "SELECT CAST(number AS TEXT) FROM users WHERE tenant_id = '{tenant}'"
            ))
            .await;
        let mut unique = numbers.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            (numbers.len(), unique.len()),
            (created, created),
            "{tenant}"
        );
        let audited = app
            .rows_as_text(&format!(
                "SELECT e.actor FROM events e JOIN users u ON e.target = 'user:' || u.id \
                 WHERE e.action = 'user.created' AND e.tenant_id = '{tenant}' \
                 AND u.tenant_id = '{tenant}'"
            ))
            .await;
        assert_eq!(audited.len(), created, "one event per user in {tenant}");
        let events = app
            .rows_as_text(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM events \
                 WHERE action = 'user.created' AND tenant_id = '{tenant}'"
            ))
            .await;
        assert_eq!(
            events,
            [created.to_string()],
            "no event for a failed creation"
        );
        let outbox = app
            .rows_as_text(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM outbox \
                 WHERE type LIKE '%user.created' AND tenant_id = '{tenant}'"
            ))
            .await;
        assert_eq!(
            outbox,
            [created.to_string()],
            "one CloudEvent per user in {tenant}"
        );
    }
    // Each creation's event names its own actor: the key's creations are
    // not the admin's.
    let actors = app
        .rows_as_text(&format!(
            "SELECT e.actor FROM events e JOIN users u ON e.target = 'user:' || u.id \
             WHERE e.action = 'user.created' AND u.tenant_id = '{acme}' \
             AND u.email LIKE 'user%'"
        ))
        .await;
    let mut distinct = actors.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((actors.len(), distinct.len()), (16, 2), "{distinct:?}");
}

/// A burst of creations that reference nothing (no company, parent, store
/// or account), some of them twins: on PostgreSQL such a batch is one
/// statement outside a transaction, its audit event ids taken beforehand.
/// Each twin but one is refused, and each user created has one audit event
/// whose CloudEvent carries that event's id as `auditid` and the user's
/// own id and number.
async fn creations_that_reference_nothing_keep_their_outcomes_and_events(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let path = format!("/v1/tenants/{t}/users");
    let mut bodies = Vec::new();
    for n in 0..40 {
        let email = if n % 8 == 0 {
            "twin@example.com".to_string()
        } else {
            format!("plain{n}@example.com")
        };
        bodies.push(json!({"email": email, "first_name": format!("Plain {n}")}));
    }
    let replies =
        futures::future::join_all(bodies.iter().map(|b| app.post(&path, ADMIN, b.clone()))).await;
    let mut twins = Vec::new();
    let mut created = Vec::new();
    for (body, reply) in bodies.iter().zip(replies) {
        if body["email"] == "twin@example.com" {
            twins.push(reply.status);
            if reply.status == 409 {
                assert_eq!(reply.body["status"], 409, "{:?}", reply.body);
            }
        } else {
            assert_eq!(reply.status, 201, "{body}: {:?}", reply.body);
        }
        if reply.status == 201 {
            assert_eq!(reply.body["email"], body["email"]);
            assert_eq!(reply.body["first_name"], body["first_name"]);
            created.push((
                reply.body["id"].as_str().unwrap().to_string(),
                reply.body["number"].as_i64().unwrap(),
            ));
        }
    }
    twins.sort_unstable();
    assert_eq!(twins, [201, 409, 409, 409, 409]);
    assert_eq!(created.len(), 36);
    let mut numbers: Vec<i64> = created.iter().map(|(_, n)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 36, "numbers are unique");

    for (id, number) in &created {
        let events = app
            .rows_as_text(&format!(
                "SELECT CAST(id AS TEXT) FROM events WHERE tenant_id = '{t}' \
                 AND action = 'user.created' AND target = 'user:{id}'"
            ))
            .await;
        assert_eq!(events.len(), 1, "one audit event for {id}");
        let bodies = app
            .rows_as_text(&format!(
                "SELECT body FROM outbox WHERE tenant_id = '{t}' AND id = {}",
                events[0]
            ))
            .await;
        assert_eq!(bodies.len(), 1, "one CloudEvent for {id}");
        let event: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(event["auditid"], events[0].as_str(), "{event}");
        assert_eq!(event["type"], "roster.user.created", "{event}");
        assert_eq!(event["data"]["id"], id.as_str(), "{event}");
        assert_eq!(event["data"]["number"], *number, "{event}");
    }
    assert_eq!(
        app.rows_as_text(
            "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE type = 'roster.user.created'"
        )
        .await,
        ["36"],
        "no CloudEvent for a refused twin"
    );
}
