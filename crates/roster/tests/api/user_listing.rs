//! Listing users: filters, cursors, and the walks a listing by store, and
//! by store and role, takes (see `docs/architecture.md`, "Storage").

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    lists_filter_and_page,
    a_stores_users_page_in_number_order,
    a_stores_role_holders_follow_every_change,
);

fn users(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/users")
}

async fn lists_filter_and_page(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "s_one").await;
    let company = app.company(&t, "Buyer").await;
    for i in 1..=7 {
        app.user(
            &t,
            json!({"name": format!("Person {i}"), "email": format!("p{i}@example.com")}),
        )
        .await;
    }
    let admin = app
        .user(
            &t,
            json!({"first_name": "Zed", "tenant_role": "ADMIN", "status": "INACTIVE"}),
        )
        .await;
    let buyer = app.user(&t, json!({"login": "buyer_login", "company_id": company, "roles": ["FINANCE"], "store_ids": [s1]})).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=4&cursor={c}", users(&t)),
            None => format!("{}?limit=4", users(&t)),
        };
        let page = app.get(&path, ADMIN).await.expect(200);
        for u in page["data"].as_array().unwrap() {
            seen.push(u["number"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (1..=9).collect::<Vec<_>>());

    let only = |body: Value| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["number"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let q = |query: &str| format!("{}?{query}", users(&t));
    assert_eq!(only(app.get(&q("number=3"), ADMIN).await.expect(200)), [3]);
    assert_eq!(
        only(app.get(&q("role=ADMIN"), ADMIN).await.expect(200)),
        [admin["number"].as_i64().unwrap()]
    );
    assert_eq!(
        only(app.get(&q("role=FINANCE"), ADMIN).await.expect(200)),
        [9]
    );
    assert_eq!(
        only(
            app.get(&q(&format!("store_id={s1}")), ADMIN)
                .await
                .expect(200)
        ),
        [9]
    );
    assert_eq!(
        only(
            app.get(&q(&format!("company_id={company}")), ADMIN)
                .await
                .expect(200)
        ),
        [buyer["number"].as_i64().unwrap()]
    );
    assert_eq!(
        only(app.get(&q("status=INACTIVE"), ADMIN).await.expect(200)),
        [8]
    );
    assert_eq!(
        only(app.get(&q("q=person%205"), ADMIN).await.expect(200)),
        [5]
    );
    assert_eq!(
        only(app.get(&q("q=BUYER_LOG"), ADMIN).await.expect(200)),
        [9]
    );
    assert_eq!(
        only(app.get(&q("q=100%25"), ADMIN).await.expect(200)),
        Vec::<i64>::new(),
        "% is literal"
    );
    app.get(&q("status=GONE"), ADMIN).await.problem(400);
    app.get(&q("number=x"), ADMIN).await.problem(400);
}

/// A listing by store (and role) walks the store's users in number order:
/// every page in order, nothing skipped or twice, whoever joined the store
/// when (at creation, by a change, by re-joining), and only this tenant's
/// users, though another tenant has a store of the same id.
async fn a_stores_users_page_in_number_order(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    let side = app.store(&t, "side").await;
    let beta = app.tenant("beta").await;
    let beta_main = app.store(&beta, "main").await;
    assert_eq!(main, beta_main, "the same store id in two tenants");
    app.user(
        &beta,
        json!({"tenant_role": "ACCESS", "store_ids": [beta_main]}),
    )
    .await;
    let mut cashiers = Vec::new();
    let mut in_main = Vec::new();
    let mut numbers = Vec::new();
    for i in 0..12 {
        let (role, stores) = match i % 3 {
            0 => ("ACCESS", vec![main.clone()]),
            1 => ("BACKOFFICE", vec![main.clone(), side.clone()]),
            _ => ("ACCESS", vec![side.clone()]),
        };
        let user = app
            .user(
                &t,
                json!({"name": format!("Person {i}"), "tenant_role": role, "store_ids": stores}),
            )
            .await;
        let number = user["number"].as_i64().unwrap();
        numbers.push(number);
        if stores.contains(&main) {
            in_main.push(number);
            if role == "ACCESS" {
                cashiers.push(number);
            }
        }
    }
    // One joins main by a change; one leaves it.
    let joined = app
        .user(&t, json!({"name": "Joiner", "tenant_role": "ACCESS"}))
        .await;
    app.patch(
        &format!("{}/{}", users(&t), id(&joined)),
        ADMIN,
        json!({"store_ids": [main]}),
    )
    .await
    .expect(200);
    let leaver = app
        .get(&format!("{}?number={}", users(&t), cashiers[0]), ADMIN)
        .await
        .expect(200)["data"][0]
        .clone();
    app.patch(
        &format!("{}/{}", users(&t), id(&leaver)),
        ADMIN,
        json!({"store_ids": [side]}),
    )
    .await
    .expect(200);
    let left = cashiers.remove(0);
    in_main.retain(|n| *n != left);
    let joined_number = joined["number"].as_i64().unwrap();
    cashiers.push(joined_number);
    in_main.push(joined_number);

    let walk = |query: String| {
        let app = &app;
        let t = t.clone();
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("{}?{query}&limit=2&cursor={c}", users(&t)),
                    None => format!("{}?{query}&limit=2", users(&t)),
                };
                let page = app.get(&path, ADMIN).await.expect(200);
                seen.extend(
                    page["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|u| u["number"].as_i64().unwrap()),
                );
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return seen,
                }
            }
        }
    };
    assert_eq!(walk(format!("store_id={main}&role=ACCESS")).await, cashiers);
    assert_eq!(walk(format!("store_id={main}")).await, in_main);
    assert_eq!(
        walk(format!("store_id={main}&role=BACKOFFICE&q=person%201")).await,
        vec![numbers[1], numbers[10]],
        "other filters apply within the walk"
    );
    assert_eq!(
        walk(format!("store_id={main}&role=ADMIN")).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        walk("store_id=nowhere".to_string()).await,
        Vec::<i64>::new()
    );
}

/// The listing by store and role walks `store_roles`, which triggers keep:
/// every change of a role, of store access, a deletion and a store's
/// deletion show in the next listing.
async fn a_stores_role_holders_follow_every_change(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let main = app.store(&t, "main").await;
    let company = app.company(&t, "Buyer").await;
    let both = app
        .user(
            &t,
            json!({"name": "Both", "company_id": company, "partner_role": "manager",
                   "org_role": "manager", "store_ids": [main]}),
        )
        .await;
    let first = app
        .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [main]}))
        .await;
    let second = app
        .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [main]}))
        .await;
    let listed = |role: &'static str| {
        let (app, t, main) = (&app, t.clone(), main.clone());
        async move {
            let page = app
                .get(&format!("{}?store_id={main}&role={role}", users(&t)), ADMIN)
                .await
                .expect(200);
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("manager").await, vec![id(&both)]);
    assert_eq!(listed("ACCESS").await, vec![id(&first), id(&second)]);

    // "manager" held twice, as a partner and in the organisation: losing
    // one leaves the user listed, losing both does not.
    let path = |user: &Value| format!("{}/{}", users(&t), id(user));
    app.patch(&path(&both), ADMIN, json!({"org_role": null}))
        .await
        .expect(200);
    assert_eq!(listed("manager").await, vec![id(&both)]);
    app.patch(&path(&both), ADMIN, json!({"partner_role": null}))
        .await
        .expect(200);
    assert_eq!(listed("manager").await, Vec::<String>::new());

    // A role changed, a user deleted.
    app.patch(&path(&first), ADMIN, json!({"tenant_role": "BACKOFFICE"}))
        .await
        .expect(200);
    assert_eq!(listed("ACCESS").await, vec![id(&second)]);
    assert_eq!(listed("BACKOFFICE").await, vec![id(&first)]);
    app.delete(&path(&second), ADMIN).await.expect(204);
    assert_eq!(listed("ACCESS").await, Vec::<String>::new());

    // The store deleted and made again: its old access is gone with it.
    app.delete(&format!("/v1/tenants/{t}/stores/{main}"), ADMIN)
        .await
        .expect(204);
    assert_eq!(app.store(&t, "main").await, main);
    let again = app
        .user(&t, json!({"tenant_role": "ACCESS", "store_ids": [main]}))
        .await;
    assert_eq!(listed("ACCESS").await, vec![id(&again)]);
    assert_eq!(listed("BACKOFFICE").await, Vec::<String>::new());
}
