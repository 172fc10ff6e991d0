//! Quotes and orders, and seed 002's deletion rules on the core.

use serde_json::json;

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    quotes_open_change_close_and_list,
    orders_default_to_placed,
    owners_must_be_users_of_the_company,
    deleting_an_owner_closes_and_locks_its_quotes_and_keeps_its_records,
);

async fn quotes_open_change_close_and_list(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "Buyer").await;
    let u = app.user(&t, json!({"company_id": c})).await;
    let q = app
        .post(
            &format!("/v1/tenants/{t}/quotes"),
            ADMIN,
            json!({"company_id": c, "owner_user_id": id(&u), "reference": "Q-1"}),
        )
        .await
        .expect(201);
    assert_eq!(q["status"], "OPEN");
    assert_eq!(q["locked"], false);
    let path = format!("/v1/tenants/{t}/quotes/{}", id(&q));
    let changed = app
        .patch(&path, ADMIN, json!({"reference": "Q-1b"}))
        .await
        .expect(200);
    assert_eq!(changed["reference"], "Q-1b");
    let closed = app
        .patch(&path, ADMIN, json!({"status": "CLOSED"}))
        .await
        .expect(200);
    assert_eq!(closed["status"], "CLOSED");
    assert_eq!(closed["locked"], false);
    app.patch(&path, ADMIN, json!({"status": "DONE"}))
        .await
        .problem(400);
    let other = app.user(&t, json!({"company_id": c})).await;
    app.post(
        &format!("/v1/tenants/{t}/quotes"),
        ADMIN,
        json!({"company_id": c, "owner_user_id": id(&other), "reference": "Q-2"}),
    )
    .await
    .expect(201);
    let mine = app
        .get(
            &format!("/v1/tenants/{t}/quotes?owner_user_id={}", id(&u)),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    let all = app
        .get(&format!("/v1/tenants/{t}/quotes?limit=1"), ADMIN)
        .await
        .expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    let cursor = all["next_cursor"].as_str().unwrap();
    let next = app
        .get(
            &format!("/v1/tenants/{t}/quotes?limit=1&cursor={cursor}"),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(next["data"][0]["reference"], "Q-2");
    assert!(next["next_cursor"].is_null());
}

async fn orders_default_to_placed(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "Buyer").await;
    let u = app.user(&t, json!({"company_id": c})).await;
    let o = app
        .post(
            &format!("/v1/tenants/{t}/orders"),
            ADMIN,
            json!({"company_id": c, "owner_user_id": id(&u), "reference": "O-1"}),
        )
        .await
        .expect(201);
    assert_eq!(o["status"], "PLACED");
    let path = format!("/v1/tenants/{t}/orders/{}", id(&o));
    assert_eq!(
        app.patch(&path, ADMIN, json!({"status": "SHIPPED"}))
            .await
            .expect(200)["status"],
        "SHIPPED"
    );
    assert_eq!(app.get(&path, ADMIN).await.expect(200)["status"], "SHIPPED");
    let listed = app
        .get(&format!("/v1/tenants/{t}/orders?company_id={c}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

async fn owners_must_be_users_of_the_company(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let u = app.user(&t, json!({"company_id": c1})).await;
    for kind in ["quotes", "orders"] {
        let path = format!("/v1/tenants/{t}/{kind}");
        let p = app
            .post(
                &path,
                ADMIN,
                json!({"company_id": c2, "owner_user_id": id(&u), "reference": "R"}),
            )
            .await
            .problem(400);
        assert!(p["errors"]["owner_user_id"].is_array());
        app.post(
            &path,
            ADMIN,
            json!({"company_id": c1, "owner_user_id": uuid::Uuid::now_v7(), "reference": "R"}),
        )
        .await
        .problem(404);
        app.post(
            &path,
            ADMIN,
            json!({"company_id": uuid::Uuid::now_v7(), "owner_user_id": id(&u), "reference": "R"}),
        )
        .await
        .problem(404);
        app.post(
            &path,
            ADMIN,
            json!({"company_id": c1, "owner_user_id": id(&u), "reference": " "}),
        )
        .await
        .problem(400);
    }
    // A company with records cannot be deleted; an empty one can.
    app.delete(&format!("/v1/tenants/{t}/companies/{c1}"), ADMIN)
        .await
        .problem(409);
    app.delete(&format!("/v1/tenants/{t}/companies/{c2}"), ADMIN)
        .await
        .expect(204);
}

async fn deleting_an_owner_closes_and_locks_its_quotes_and_keeps_its_records(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "Buyer").await;
    let u = app.user(&t, json!({"company_id": c})).await;
    let body = json!({"company_id": c, "owner_user_id": id(&u), "reference": "Q"});
    let q1 = app
        .post(&format!("/v1/tenants/{t}/quotes"), ADMIN, body.clone())
        .await
        .expect(201);
    let q2 = app
        .post(&format!("/v1/tenants/{t}/quotes"), ADMIN, body.clone())
        .await
        .expect(201);
    app.patch(
        &format!("/v1/tenants/{t}/quotes/{}", id(&q2)),
        ADMIN,
        json!({"status": "CLOSED"}),
    )
    .await
    .expect(200);
    let o = app
        .post(&format!("/v1/tenants/{t}/orders"), ADMIN, body)
        .await
        .expect(201);
    app.delete(&format!("/v1/tenants/{t}/users/{}", id(&u)), ADMIN)
        .await
        .expect(204);
    for q in [&q1, &q2] {
        let path = format!("/v1/tenants/{t}/quotes/{}", id(q));
        let now = app.get(&path, ADMIN).await.expect(200);
        assert_eq!(now["status"], "CLOSED");
        assert_eq!(now["locked"], true);
        assert_eq!(now["owner_user_id"], u["id"], "still shows its owner");
        let p = app
            .patch(&path, ADMIN, json!({"reference": "changed"}))
            .await
            .problem(409);
        assert!(p["detail"].as_str().unwrap().contains("locked"));
        app.patch(&path, ADMIN, json!({"status": "OPEN"}))
            .await
            .problem(409);
    }
    let order = app
        .get(&format!("/v1/tenants/{t}/orders/{}", id(&o)), ADMIN)
        .await
        .expect(200);
    assert_eq!(order["owner_user_id"], u["id"]);
    let listed = app
        .get(
            &format!("/v1/tenants/{t}/quotes?owner_user_id={}", id(&u)),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let deleted = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.deleted")
        .unwrap();
    assert!(
        deleted["summary"]
            .as_str()
            .unwrap()
            .contains("2 quote(s) closed and locked"),
        "{deleted}"
    );
}
