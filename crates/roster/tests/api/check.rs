//! `POST /v1/tenants/{t}/check`: the permission map over HTTP, single and batch.

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    tenant_roles_grant_their_permissions,
    blocked_overrides_and_inactive_users_hold_nothing,
    partner_roles_act_on_their_stores,
    commerce_and_org_roles_act_in_their_company,
    role_changes_apply_at_once,
    batches_answer_each_question_in_order,
    a_batch_answers_as_single_checks_do,
    check_needs_view_users_and_valid_input,
);

async fn ask(app: &TestApp, tenant: &str, token: &str, body: Value) -> Value {
    app.post(&format!("/v1/tenants/{tenant}/check"), token, body)
        .await
        .expect(200)
}

async fn allowed(app: &TestApp, tenant: &str, body: Value) -> bool {
    let answer = ask(app, tenant, ADMIN, body).await;
    assert!(
        answer["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{answer}"
    );
    answer["allowed"].as_bool().unwrap()
}

async fn tenant_roles_grant_their_permissions(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "one").await;
    let s2 = app.store(&t, "two").await;
    let c = app.company(&t, "Buyer").await;
    let admin = id(&app.user(&t, json!({"tenant_role": "ADMIN"})).await);
    let back = id(&app.user(&t, json!({"tenant_role": "BACKOFFICE"})).await);
    let pos_all = id(&app.user(&t, json!({"tenant_role": "ACCESS"})).await);
    let pos_one = id(&app
        .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [s1]}))
        .await);
    let full = id(&app.user(&t, json!({"account_type": "FULL"})).await);
    let nobody = id(&app.user(&t, json!({})).await);

    for p in [
        "MANAGE_USERS",
        "MANAGE_TENANT",
        "VIEW_AUDIT",
        "MANAGE_API_KEYS",
    ] {
        assert!(
            allowed(&app, &t, json!({"user_id": admin, "permission": p})).await,
            "{p}"
        );
    }
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": admin, "permission": "PLACE_ORDERS", "company_id": c})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": admin, "permission": "MANAGE_STORE", "store_id": s2})
        )
        .await
    );
    let answer = ask(
        &app,
        &t,
        ADMIN,
        json!({"user_id": admin, "permission": "MANAGE_USERS"}),
    )
    .await;
    assert_eq!(answer["reason"], "granted by tenant role ADMIN");

    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": back, "permission": "VIEW_USERS"})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": back, "permission": "MANAGE_CATALOG", "store_id": s2})
        )
        .await
    );
    assert!(
        allowed(&app, &t, json!({"user_id": back, "permission": "USE_POS"})).await,
        "on every store"
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": back, "permission": "MANAGE_USERS"})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": back, "permission": "MANAGE_STORE", "store_id": s1})
        )
        .await
    );

    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": pos_all, "permission": "USE_POS", "store_id": s2})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": pos_one, "permission": "USE_POS", "store_id": s1})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": pos_one, "permission": "USE_POS", "store_id": s2})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": pos_one, "permission": "USE_POS"})
        )
        .await,
        "not on every store"
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": pos_all, "permission": "VIEW_USERS"})
        )
        .await
    );

    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": full, "permission": "MANAGE_DEVICES"})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": full, "permission": "MANAGE_USERS"})
        )
        .await
    );
    let answer = ask(
        &app,
        &t,
        ADMIN,
        json!({"user_id": nobody, "permission": "VIEW_STORE", "store_id": s1}),
    )
    .await;
    assert_eq!(answer["allowed"], false);
    assert!(
        answer["reason"].as_str().unwrap().contains("VIEW_STORE"),
        "{answer}"
    );
}

async fn blocked_overrides_and_inactive_users_hold_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "one").await;
    let blocked = id(&app.user(&t, json!({"tenant_role": "BLOCKED", "partner_role": "manager", "store_ids": [s], "account_type": "FULL"})).await);
    let answer = ask(
        &app,
        &t,
        ADMIN,
        json!({"user_id": blocked, "permission": "VIEW_STORE", "store_id": s}),
    )
    .await;
    assert_eq!(answer["allowed"], false);
    assert!(answer["reason"].as_str().unwrap().contains("BLOCKED"));
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": blocked, "permission": "MANAGE_DEVICES"})
        )
        .await
    );
    let inactive = id(&app
        .user(&t, json!({"tenant_role": "ADMIN", "status": "INACTIVE"}))
        .await);
    let answer = ask(
        &app,
        &t,
        ADMIN,
        json!({"user_id": inactive, "permission": "VIEW_USERS"}),
    )
    .await;
    assert_eq!(answer["allowed"], false);
    assert!(answer["reason"].as_str().unwrap().contains("INACTIVE"));
}

async fn partner_roles_act_on_their_stores(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "one").await;
    let s2 = app.store(&t, "two").await;
    let manager = id(&app
        .user(&t, json!({"partner_role": "manager", "store_ids": [s1]}))
        .await);
    let viewer = id(&app
        .user(&t, json!({"partner_role": "viewer", "store_ids": [s1, s2]}))
        .await);
    let api = id(&app
        .user(&t, json!({"partner_role": "api", "store_ids": [s2]}))
        .await);
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": manager, "permission": "MANAGE_STORE", "store_id": s1})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": manager, "permission": "MANAGE_STORE", "store_id": s2})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": viewer, "permission": "VIEW_STORE", "store_id": s2})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": viewer, "permission": "VIEW_STORE"})
        )
        .await,
        "holds it on every store"
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": viewer, "permission": "MANAGE_STORE", "store_id": s2})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": api, "permission": "MANAGE_STORE", "store_id": s2})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": api, "permission": "VIEW_STORE", "store_id": s1})
        )
        .await
    );
}

async fn commerce_and_org_roles_act_in_their_company(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let owner = id(&app
        .user(&t, json!({"company_id": c1, "roles": ["OWNER"]}))
        .await);
    let finance = id(&app
        .user(
            &t,
            json!({"company_id": c1, "roles": ["FINANCE"], "org_role": "manager"}),
        )
        .await);
    let other = id(&app
        .user(&t, json!({"company_id": c1, "roles": ["OTHER"]}))
        .await);
    for p in [
        "MANAGE_COMMERCE_USERS",
        "PLACE_ORDERS",
        "VIEW_ORDERS",
        "VIEW_INVOICES",
        "MANAGE_PAYMENTS",
        "CUSTOMER_SERVICE",
    ] {
        assert!(
            allowed(
                &app,
                &t,
                json!({"user_id": owner, "permission": p, "company_id": c1})
            )
            .await,
            "{p}"
        );
        assert!(
            !allowed(
                &app,
                &t,
                json!({"user_id": owner, "permission": p, "company_id": c2})
            )
            .await,
            "{p}"
        );
        assert!(
            !allowed(
                &app,
                &t,
                json!({"user_id": other, "permission": p, "company_id": c1})
            )
            .await,
            "{p}"
        );
    }
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": owner, "permission": "PLACE_ORDERS"})
        )
        .await,
        "not in every company"
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": owner, "permission": "MANAGE_CAMPAIGNS", "company_id": c1})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": finance, "permission": "MANAGE_PAYMENTS", "company_id": c1})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": finance, "permission": "PLACE_ORDERS", "company_id": c1})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &t,
            json!({"user_id": finance, "permission": "MANAGE_CAMPAIGNS", "company_id": c1})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &t,
            json!({"user_id": finance, "permission": "MANAGE_ORG_USERS", "company_id": c1})
        )
        .await
    );
}

async fn role_changes_apply_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = id(&app.user(&t, json!({"tenant_role": "ADMIN"})).await);
    let q = json!({"user_id": user, "permission": "MANAGE_USERS"});
    assert!(allowed(&app, &t, q.clone()).await);
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"tenant_role": "BLOCKED"}),
    )
    .await
    .expect(200);
    assert!(!allowed(&app, &t, q.clone()).await);
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"tenant_role": "ADMIN", "status": "INACTIVE"}),
    )
    .await
    .expect(200);
    assert!(!allowed(&app, &t, q.clone()).await);
    app.patch(
        &format!("/v1/tenants/{t}/users/{user}"),
        ADMIN,
        json!({"status": "ACTIVE"}),
    )
    .await
    .expect(200);
    assert!(allowed(&app, &t, q.clone()).await);
    app.delete(&format!("/v1/tenants/{t}/users/{user}"), ADMIN)
        .await
        .expect(204);
    app.post(&format!("/v1/tenants/{t}/check"), ADMIN, q)
        .await
        .problem(404);
}

async fn batches_answer_each_question_in_order(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "one").await;
    let admin = id(&app.user(&t, json!({"tenant_role": "ADMIN"})).await);
    let pos = id(&app
        .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [s]}))
        .await);
    let body = json!({"checks": [
        {"user_id": admin, "permission": "MANAGE_USERS"},
        {"user_id": pos, "permission": "MANAGE_USERS"},
        {"user_id": pos, "permission": "FLY"},
        {"user_id": uuid::Uuid::now_v7(), "permission": "USE_POS"},
        {"user_id": pos, "permission": "USE_POS", "store_id": "missing"},
        {"user_id": pos, "permission": "USE_POS", "store_id": s},
    ]});
    let answer = ask(&app, &t, ADMIN, body).await;
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["allowed"], true);
    assert_eq!(results[1]["allowed"], false);
    assert_eq!(results[2]["error"]["status"], 400);
    assert!(
        results[2]["error"]["errors"]["permission"].is_array(),
        "{}",
        results[2]
    );
    assert_eq!(results[3]["error"]["status"], 404);
    assert_eq!(results[4]["error"]["status"], 404);
    assert_eq!(results[5]["allowed"], true);
    // A question nested too deep is refused in its place.
    let deep = format!(
        r#"{{"checks": [{{"user_id": "{admin}", "permission": "MANAGE_USERS"}}, {}{}]}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let answer = app
        .raw(
            reqwest::Method::POST,
            &format!("/v1/tenants/{t}/check"),
            Some(ADMIN),
            "application/json",
            deep.into_bytes(),
        )
        .await
        .expect(200);
    assert_eq!(answer["results"][0]["allowed"], true, "{answer}");
    let refused = &answer["results"][1]["error"];
    assert_eq!(refused["status"], 400, "{answer}");
    assert!(
        refused["detail"].as_str().unwrap().contains("deeper than"),
        "{refused}"
    );
    let empty = ask(&app, &t, ADMIN, json!({"checks": []})).await;
    assert_eq!(empty["results"], json!([]));
}

/// A batch reads all its cache misses at once; its answers must be the
/// ones single checks give, question by question, across users, stores,
/// companies, repeated and unknown ids, another tenant's ids, and either
/// consistency.
async fn a_batch_answers_as_single_checks_do(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let other_tenant = app.tenant("globex").await;
    let s1 = app.store(&t, "one").await;
    let s2 = app.store(&t, "two").await;
    let foreign_store = app.store(&other_tenant, "three").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let foreign_company = app.company(&other_tenant, "Three").await;
    let mut users = vec![
        id(&app.user(&t, json!({"tenant_role": "ADMIN"})).await),
        id(&app
            .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [s1]}))
            .await),
        id(&app
            .user(&t, json!({"tenant_role": "BLOCKED", "store_ids": [s1, s2]}))
            .await),
        id(&app
            .user(&t, json!({"company_id": c1, "roles": ["OWNER"]}))
            .await),
        id(&app
            .user(
                &t,
                json!({"company_id": c2, "roles": ["FINANCE"], "org_role": "manager"}),
            )
            .await),
        id(&app
            .user(&other_tenant, json!({"tenant_role": "ADMIN"}))
            .await),
        uuid::Uuid::now_v7().to_string(),
    ];
    users.push(users[1].clone());
    let mut questions = Vec::new();
    for (n, user) in users.iter().enumerate() {
        for permission in ["MANAGE_USERS", "USE_POS", "PLACE_ORDERS", "VIEW_INVOICES"] {
            questions.push(json!({"user_id": user, "permission": permission}));
            for store in [&s1, &s2, &foreign_store, &"missing".to_string()] {
                questions
                    .push(json!({"user_id": user, "permission": permission, "store_id": store}));
            }
            for company in [&c1, &c2, &foreign_company] {
                let mut q =
                    json!({"user_id": user, "permission": permission, "company_id": company});
                if n % 2 == 0 {
                    q["consistency"] = json!("full");
                }
                questions.push(q);
            }
        }
    }
    let path = format!("/v1/tenants/{t}/check");
    let batch = ask(&app, &t, ADMIN, json!({"checks": questions})).await;
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), questions.len());
    let (mut allowed, mut refused, mut missing) = (0, 0, 0);
    for (question, result) in questions.iter().zip(results) {
        let single = app.post(&path, ADMIN, question.clone()).await;
        if single.status == 200 {
            assert_eq!(result, &single.body, "{question}");
            if single.body["allowed"] == true {
                allowed += 1;
            } else {
                refused += 1;
            }
        } else {
            assert_eq!(single.status, 404, "{question}");
            assert_eq!(result["error"]["status"], 404, "{question}: {result}");
            assert_eq!(
                result["error"]["detail"], single.body["detail"],
                "{question}"
            );
            missing += 1;
        }
    }
    // The mix covers every kind of answer.
    assert!(
        allowed > 10 && refused > 10 && missing > 10,
        "{allowed} {refused} {missing}"
    );
}

async fn check_needs_view_users_and_valid_input(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = id(&app.user(&t, json!({"tenant_role": "ADMIN"})).await);
    let path = format!("/v1/tenants/{t}/check");
    let q = json!({"user_id": user, "permission": "MANAGE_USERS"});
    let weak = app.key(&t, &["MANAGE_STORES"]).await;
    app.post(&path, &weak, q.clone()).await.problem(403);
    let viewer = app.key(&t, &["VIEW_USERS"]).await;
    assert_eq!(ask(&app, &t, &viewer, q).await["allowed"], true);
    let p = app
        .post(
            &path,
            ADMIN,
            json!({"user_id": user, "permission": "manage_users"}),
        )
        .await
        .problem(400);
    assert!(p["errors"]["permission"].is_array());
    app.post(
        &path,
        ADMIN,
        json!({"user_id": "not-a-uuid", "permission": "VIEW_USERS"}),
    )
    .await
    .problem(400);
    app.post(&path, ADMIN, json!({"user_id": user}))
        .await
        .problem(400);
    app.post(
        &path,
        ADMIN,
        json!({"user_id": user, "permission": "USE_POS", "store_id": "nope"}),
    )
    .await
    .problem(404);
    app.post(
        &path,
        ADMIN,
        json!({"user_id": user, "permission": "PLACE_ORDERS", "company_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404);
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"user_id": user, "permission": "VIEW_USERS"}))
        .collect();
    app.post(&path, ADMIN, json!({"checks": too_many}))
        .await
        .problem(400);
}
