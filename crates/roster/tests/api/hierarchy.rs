//! The company hierarchy under concurrency: opposite moves racing each
//! other must never leave a cycle, on either engine.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    concurrent_opposite_moves_leave_no_cycle,
    a_concurrent_ring_of_moves_leaves_no_cycle,
);

fn user_path(t: &str, user: &str) -> String {
    format!("/v1/tenants/{t}/users/{user}")
}

/// Fires every `(user, parent)` move at once; returns each reply's status.
async fn move_all(app: &TestApp, t: &str, moves: &[(String, String)]) -> Vec<u16> {
    let replies = moves.iter().map(|(user, parent)| async move {
        let path = user_path(t, user);
        app.patch(&path, ADMIN, json!({ "parent_id": parent }))
            .await
    });
    let replies = futures::future::join_all(replies).await;
    replies.into_iter().map(|r| r.status).collect()
}

/// Reads every user back and follows `parent_id` from each: no walk may
/// revisit a user.
async fn assert_no_cycle(app: &TestApp, t: &str, users: &[String]) {
    let mut parent = HashMap::new();
    for user in users {
        let body: Value = app.get(&user_path(t, user), ADMIN).await.expect(200);
        parent.insert(user.clone(), body["parent_id"].as_str().map(String::from));
    }
    for start in users {
        let mut seen = HashSet::from([start.clone()]);
        let mut cursor = parent[start].clone();
        while let Some(next) = cursor {
            assert!(
                seen.insert(next.clone()),
                "a cycle through {next} from {start}"
            );
            cursor = parent.get(&next).cloned().flatten();
        }
    }
}

async fn concurrent_opposite_moves_leave_no_cycle(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "One").await;
    let mut users = Vec::new();
    let mut moves = Vec::new();
    for _ in 0..10 {
        let a = id(&app.user(&t, json!({"company_id": c})).await);
        let b = id(&app.user(&t, json!({"company_id": c})).await);
        // A under B and B under A, both at once.
        moves.push((a.clone(), b.clone()));
        moves.push((b.clone(), a.clone()));
        users.extend([a, b]);
    }
    let statuses = move_all(&app, &t, &moves).await;
    for pair in statuses.chunks(2) {
        assert!(pair.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
        // Exactly one move of each pair wins; the other would close a cycle.
        assert_eq!(
            pair.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
    }
    assert_no_cycle(&app, &t, &users).await;
}

async fn a_concurrent_ring_of_moves_leaves_no_cycle(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "One").await;
    let mut users = Vec::new();
    for _ in 0..20 {
        users.push(id(&app.user(&t, json!({"company_id": c})).await));
    }
    // Each user under the next, the last under the first: all but one can pass.
    let moves: Vec<(String, String)> = (0..users.len())
        .map(|i| (users[i].clone(), users[(i + 1) % users.len()].clone()))
        .collect();
    let statuses = move_all(&app, &t, &moves).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        users.len() - 1
    );
    assert_no_cycle(&app, &t, &users).await;
}
