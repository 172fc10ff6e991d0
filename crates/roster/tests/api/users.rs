//! Users: create, read, list with filters and cursors, patch, delete,
//! uniqueness, the company hierarchy, and the race-free upsert.

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    creates_and_reads_a_user_with_every_field,
    a_user_may_be_known_by_a_name_alone,
    emails_are_unique_per_tenant_case_insensitively,
    user_codes_and_external_ids_are_unique_per_tenant,
    patch_changes_clears_and_keeps_fields,
    references_must_be_in_the_tenant,
    commerce_roles_need_a_company,
    hierarchy_parents_are_in_the_same_company_without_cycles,
    deactivating_or_deleting_a_user_reassigns_its_children,
    changing_company_drops_company_roles_and_parent,
    leaving_a_company_clears_job_title_and_telephone,
    upsert_by_external_id_creates_then_updates,
    concurrent_upserts_of_one_key_make_one_user,
    concurrent_creates_with_one_email_make_one_user,
    passwords_are_never_shown,
);

fn users(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/users")
}

async fn creates_and_reads_a_user_with_every_field(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let company = app.company(&t, "Buyer").await;
    let body = json!({
        "company_id": company, "name": "Maria Garcia", "first_name": "Maria", "middle_name": "José",
        "last_name": "Garcia", "display_name": "Maria G.", "email": "Maria@Example.com", "login": "mgarcia",
        "user_code": "1001", "mobile": "+56912345678", "country_code": "CL", "telephone": "512-555-3322",
        "job_title": "Buyer", "language_code": "es", "external_id": "usr-001", "source": "INTEGRATION",
        "status": "ACTIVE", "account_type": "FULL", "default_store_id": store, "store_ids": [store],
        "password": PASSWORD, "tenant_role": "BACKOFFICE", "partner_role": "viewer",
        "roles": ["ORDERS", "OWNER", "ORDERS"], "org_role": "member"
    });
    let user = app.post(&users(&t), ADMIN, body).await.expect(201);
    assert_eq!(user["number"], 1);
    assert_eq!(user["email"], "Maria@Example.com");
    assert_eq!(user["company_id"], company);
    assert_eq!(user["store_ids"], json!([store]));
    assert_eq!(
        user["roles"],
        json!(["OWNER", "ORDERS"]),
        "stable order, no duplicates"
    );
    assert_eq!(user["tenant_role"], "BACKOFFICE");
    assert_eq!(user["partner_role"], "viewer");
    assert_eq!(user["org_role"], "member");
    assert_eq!(user["account_type"], "FULL");
    assert_eq!(user["source"], "INTEGRATION");
    assert_eq!(user["has_password"], true);
    assert!(user["last_accessed_at"].is_null());
    let read = app
        .get(&format!("{}/{}", users(&t), id(&user)), ADMIN)
        .await
        .expect(200);
    assert_eq!(read, user);
    let second = app.user(&t, json!({"name": "Second"})).await;
    assert_eq!(second["number"], 2);
}

async fn a_user_may_be_known_by_a_name_alone(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = app.user(&t, json!({"name": "Only A Name"})).await;
    assert_eq!(user["status"], "ACTIVE");
    assert_eq!(user["account_type"], "REGULAR");
    assert!(user["tenant_role"].is_null());
    assert_eq!(user["has_password"], false);
    let empty = app.user(&t, json!({})).await;
    assert_eq!(empty["number"], 2);
    let coded = app.user(&t, json!({"external_id": "e-1"})).await;
    assert_eq!(
        coded["source"], "RETEN",
        "source defaults to RETEN with an external_id"
    );
}

async fn emails_are_unique_per_tenant_case_insensitively(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    app.user(&a, json!({"email": "maria@example.com"})).await;
    let problem = app
        .post(&users(&a), ADMIN, json!({"email": "MARIA@example.COM"}))
        .await
        .problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("email"),
        "{problem}"
    );
    // Another tenant may have the same email.
    app.user(&b, json!({"email": "maria@example.com"})).await;
    // Changing another user's email to a taken one conflicts too.
    let other = app.user(&a, json!({"email": "other@example.com"})).await;
    app.patch(
        &format!("{}/{}", users(&a), id(&other)),
        ADMIN,
        json!({"email": "Maria@Example.com"}),
    )
    .await
    .problem(409);
    let list = app
        .get(&format!("{}?email=MARIA%40EXAMPLE.COM", users(&a)), ADMIN)
        .await
        .expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

async fn user_codes_and_external_ids_are_unique_per_tenant(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.user(
        &t,
        json!({"user_code": "1001", "external_id": "x-1", "source": "RETEN"}),
    )
    .await;
    let p = app
        .post(&users(&t), ADMIN, json!({"user_code": "1001"}))
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("user_code"));
    let p = app
        .post(
            &users(&t),
            ADMIN,
            json!({"external_id": "x-1", "source": "RETEN"}),
        )
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("external_id"));
    // The same external id from another source is another user.
    app.user(&t, json!({"external_id": "x-1", "source": "INTEGRATION"}))
        .await;
    let listed = app
        .get(&format!("{}?external_id=x-1", users(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

async fn patch_changes_clears_and_keeps_fields(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = app.user(&t, json!({"first_name": "Maria", "last_name": "Garcia", "job_title": "Buyer", "tenant_role": "ACCESS"})).await;
    let path = format!("{}/{}", users(&t), id(&user));
    let patched = app
        .patch(
            &path,
            ADMIN,
            json!({"first_name": "Marie", "job_title": null, "tenant_role": "ADMIN"}),
        )
        .await
        .expect(200);
    assert_eq!(patched["first_name"], "Marie");
    assert_eq!(patched["last_name"], "Garcia", "absent fields stay");
    assert!(patched["job_title"].is_null(), "null clears");
    assert_eq!(patched["tenant_role"], "ADMIN");
    assert_eq!(patched["number"], user["number"]);
    assert_eq!(patched["created_at"], user["created_at"]);
    let cleared = app
        .patch(&path, ADMIN, json!({"tenant_role": null}))
        .await
        .expect(200);
    assert!(cleared["tenant_role"].is_null());
    app.patch(&path, ADMIN, json!({"number": 9}))
        .await
        .problem(400);
    app.patch(
        &format!("{}/{}", users(&t), uuid::Uuid::now_v7()),
        ADMIN,
        json!({"name": "x"}),
    )
    .await
    .problem(404);
    app.delete(&path, ADMIN).await.expect(204);
    app.get(&path, ADMIN).await.problem(404);
    app.delete(&path, ADMIN).await.problem(404);
}

async fn references_must_be_in_the_tenant(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let b_store = app.store(&b, "bstore").await;
    let b_company = app.company(&b, "B Co").await;
    let b_user = app.user(&b, json!({"company_id": b_company})).await;
    app.post(&users(&a), ADMIN, json!({"store_ids": [b_store]}))
        .await
        .problem(404);
    app.post(&users(&a), ADMIN, json!({"default_store_id": b_store}))
        .await
        .problem(404);
    app.post(&users(&a), ADMIN, json!({"company_id": b_company}))
        .await
        .problem(404);
    let a_company = app.company(&a, "A Co").await;
    app.post(
        &users(&a),
        ADMIN,
        json!({"company_id": a_company, "parent_id": b_user["id"]}),
    )
    .await
    .problem(404);
    app.post(
        &users(&a),
        ADMIN,
        json!({"account_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404);
    let list = app.get(&users(&a), ADMIN).await.expect(200);
    assert_eq!(list["data"], json!([]), "failed requests changed nothing");
}

async fn commerce_roles_need_a_company(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let p = app
        .post(&users(&t), ADMIN, json!({"roles": ["OWNER"]}))
        .await
        .problem(400);
    assert!(p["errors"]["roles"].is_array(), "{p}");
    let p = app
        .post(&users(&t), ADMIN, json!({"org_role": "admin"}))
        .await
        .problem(400);
    assert!(p["errors"]["org_role"].is_array(), "{p}");
}

async fn hierarchy_parents_are_in_the_same_company_without_cycles(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let top = app.user(&t, json!({"company_id": c1})).await;
    let mid = app
        .user(&t, json!({"company_id": c1, "parent_id": top["id"]}))
        .await;
    let low = app
        .user(&t, json!({"company_id": c1, "parent_id": mid["id"]}))
        .await;
    let p = app
        .post(
            &users(&t),
            ADMIN,
            json!({"company_id": c2, "parent_id": top["id"]}),
        )
        .await
        .problem(400);
    assert!(p["errors"]["parent_id"].is_array());
    app.post(&users(&t), ADMIN, json!({"parent_id": top["id"]}))
        .await
        .problem(400);
    let p = app
        .patch(
            &format!("{}/{}", users(&t), id(&top)),
            ADMIN,
            json!({"parent_id": low["id"]}),
        )
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("cycle"), "{p}");
    app.patch(
        &format!("{}/{}", users(&t), id(&top)),
        ADMIN,
        json!({"parent_id": top["id"]}),
    )
    .await
    .problem(400);
}

async fn deactivating_or_deleting_a_user_reassigns_its_children(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c = app.company(&t, "One").await;
    let top = app.user(&t, json!({"company_id": c})).await;
    let mid = app
        .user(&t, json!({"company_id": c, "parent_id": top["id"]}))
        .await;
    let kid1 = app
        .user(&t, json!({"company_id": c, "parent_id": mid["id"]}))
        .await;
    let kid2 = app
        .user(&t, json!({"company_id": c, "parent_id": mid["id"]}))
        .await;
    let parent_of = |u: Value| u["parent_id"].clone();

    let mid = app
        .patch(
            &format!("{}/{}", users(&t), id(&mid)),
            ADMIN,
            json!({"status": "INACTIVE"}),
        )
        .await
        .expect(200);
    assert_eq!(mid["status"], "INACTIVE");
    for kid in [&kid1, &kid2] {
        let now = app
            .get(&format!("{}/{}", users(&t), id(kid)), ADMIN)
            .await
            .expect(200);
        assert_eq!(parent_of(now), top["id"]);
    }
    // Deleting the top moves its children to its own parent: none.
    app.delete(&format!("{}/{}", users(&t), id(&top)), ADMIN)
        .await
        .expect(204);
    for kid in [&kid1, &kid2, &mid] {
        let now = app
            .get(&format!("{}/{}", users(&t), id(kid)), ADMIN)
            .await
            .expect(200);
        assert!(parent_of(now).is_null());
    }
}

async fn changing_company_drops_company_roles_and_parent(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let top = app.user(&t, json!({"company_id": c1})).await;
    let user = app.user(&t, json!({"company_id": c1, "parent_id": top["id"], "roles": ["OWNER"], "org_role": "admin", "tenant_role": "ACCESS"})).await;
    let kid = app
        .user(&t, json!({"company_id": c1, "parent_id": user["id"]}))
        .await;
    let moved = app
        .patch(
            &format!("{}/{}", users(&t), id(&user)),
            ADMIN,
            json!({"company_id": c2}),
        )
        .await
        .expect(200);
    assert_eq!(moved["company_id"], c2);
    assert_eq!(moved["roles"], json!([]));
    assert!(moved["org_role"].is_null());
    assert!(moved["parent_id"].is_null());
    assert_eq!(moved["tenant_role"], "ACCESS", "tenant roles stay");
    let kid = app
        .get(&format!("{}/{}", users(&t), id(&kid)), ADMIN)
        .await
        .expect(200);
    assert_eq!(
        kid["parent_id"], top["id"],
        "children stay in the old company, under the old parent"
    );
    // Moving with new roles in the same patch keeps those.
    let back = app
        .patch(
            &format!("{}/{}", users(&t), id(&user)),
            ADMIN,
            json!({"company_id": c1, "roles": ["FINANCE"]}),
        )
        .await
        .expect(200);
    assert_eq!(back["roles"], json!(["FINANCE"]));
    // Leaving every company.
    let out = app
        .patch(
            &format!("{}/{}", users(&t), id(&user)),
            ADMIN,
            json!({"company_id": null}),
        )
        .await
        .expect(200);
    assert!(out["company_id"].is_null());
    assert_eq!(out["roles"], json!([]));
}

async fn leaving_a_company_clears_job_title_and_telephone(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let c1 = app.company(&t, "One").await;
    let c2 = app.company(&t, "Two").await;
    let data = json!({"company_id": c1, "first_name": "Maria", "job_title": "Buyer", "telephone": "512-555-3322"});
    let user = app.user(&t, data).await;
    let path = format!("{}/{}", users(&t), id(&user));
    // Moving to another company keeps them.
    let moved = app
        .patch(&path, ADMIN, json!({"company_id": c2}))
        .await
        .expect(200);
    assert_eq!(moved["company_id"], c2);
    assert_eq!(moved["job_title"], "Buyer");
    assert_eq!(moved["telephone"], "512-555-3322");
    // Leaving clears them, and nothing else.
    let out = app
        .patch(&path, ADMIN, json!({"company_id": null}))
        .await
        .expect(200);
    assert!(out["company_id"].is_null(), "{out}");
    assert!(out["job_title"].is_null(), "{out}");
    assert!(out["telephone"].is_null(), "{out}");
    assert_eq!(out["first_name"], "Maria");
    let read = app.get(&path, ADMIN).await.expect(200);
    assert_eq!(read, out);
    // Unless the same patch sets them.
    app.patch(
        &path,
        ADMIN,
        json!({"company_id": c1, "job_title": "Buyer", "telephone": "1"}),
    )
    .await
    .expect(200);
    let kept = app
        .patch(
            &path,
            ADMIN,
            json!({"company_id": null, "job_title": "Consultant"}),
        )
        .await
        .expect(200);
    assert!(kept["company_id"].is_null(), "{kept}");
    assert_eq!(kept["job_title"], "Consultant");
    assert!(kept["telephone"].is_null(), "{kept}");
}

async fn upsert_by_external_id_creates_then_updates(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let path = format!("{}/by-external-id/INTEGRATION/erp-42", users(&t));
    let created = app
        .put(
            &path,
            ADMIN,
            json!({"first_name": "Ana", "email": "ana@example.com", "password": PASSWORD}),
        )
        .await
        .expect(201);
    assert_eq!(created["external_id"], "erp-42");
    assert_eq!(created["source"], "INTEGRATION");
    let updated = app
        .put(
            &path,
            ADMIN,
            json!({"first_name": "Anna", "email": "ana@example.com"}),
        )
        .await
        .expect(200);
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["first_name"], "Anna");
    assert_eq!(updated["has_password"], true, "an omitted password is kept");
    let again = app
        .put(
            &path,
            ADMIN,
            json!({"first_name": "Anna", "email": "ana@example.com"}),
        )
        .await
        .expect(200);
    assert_eq!(again["id"], created["id"]);
    // The same external id under the other source is another user.
    let other = app
        .put(
            &format!("{}/by-external-id/RETEN/erp-42", users(&t)),
            ADMIN,
            json!({}),
        )
        .await
        .expect(201);
    assert_ne!(other["id"], created["id"]);
    app.put(&path, ADMIN, json!({"external_id": "erp-43"}))
        .await
        .problem(400);
    app.put(&path, ADMIN, json!({"source": "RETEN"}))
        .await
        .problem(400);
    app.put(
        &format!("{}/by-external-id/NOPE/erp-42", users(&t)),
        ADMIN,
        json!({}),
    )
    .await
    .problem(400);
    let all = app.get(&users(&t), ADMIN).await.expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
}

async fn concurrent_upserts_of_one_key_make_one_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let path = format!("{}/by-external-id/INTEGRATION/same-key", users(&t));
    let calls = (0..8).map(|i| app.put(&path, ADMIN, json!({"first_name": format!("Racer {i}")})));
    let replies = futures::future::join_all(calls).await;
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for reply in replies {
        match reply.status {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected {other}: {}", reply.body),
        }
        ids.insert(reply.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1, "exactly one call creates");
    assert_eq!(ids.len(), 1, "every call answers the same user");
    let all = app
        .get(&format!("{}?external_id=same-key", users(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
}

async fn concurrent_creates_with_one_email_make_one_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let path = users(&t);
    let calls = (0..8).map(|i| {
        app.post(
            &path,
            ADMIN,
            json!({"email": if i % 2 == 0 { "Race@Example.com" } else { "race@example.com" }}),
        )
    });
    let replies = futures::future::join_all(calls).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let all = app.get(&users(&t), ADMIN).await.expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    // SQLite numbers in the creating transaction: no gaps. PostgreSQL takes
    // numbers on a connection of their own, so a failed creation may leave
    // a gap (README, *Design*).
    let number = all["data"][0]["number"].as_i64().unwrap();
    match engine {
        Engine::Sqlite => assert_eq!(number, 1, "failed creations use no number"),
        Engine::Postgres => assert!((1..=8).contains(&number), "{number}"),
    }
}

async fn passwords_are_never_shown(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let user = app
        .user(&t, json!({"email": "p@example.com", "password": PASSWORD}))
        .await;
    let text = user.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains("argon2"),
        "{text}"
    );
    let listed = app.get(&users(&t), ADMIN).await.expect(200).to_string();
    assert!(!listed.contains("argon2") && !listed.contains("password_hash"));
    let p = app
        .post(&users(&t), ADMIN, json!({"password": "password1234"}))
        .await
        .problem(400);
    assert!(p["errors"]["password"].is_array());
    assert!(
        !p.to_string().contains("password1234"),
        "the error must not echo the password"
    );
}
