//! Groups (`/v1/tenants/{t}/groups`): named sets of users whose grants
//! every member holds, in the check and on every surface, from the next
//! request on; a company's groups hold only its users; grant only what you
//! hold; tenants apart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::bad_input::expect_field;
use crate::cache::{staleness, time_until};
use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    groups_are_made_read_listed_changed_and_deleted,
    bad_group_bodies_are_refused,
    members_hold_the_groups_grants_from_the_next_request,
    a_groups_grants_reach_every_surface,
    company_groups_hold_only_their_companys_users,
    groups_confer_only_what_the_caller_holds,
    groups_stay_in_their_tenant,
    concurrent_group_writes_neither_collide_nor_fail_their_neighbours,
    another_process_sees_membership_within_the_bound,
    a_groups_tenant_role_signs_in_on_a_device,
);

fn groups(t: &str) -> String {
    format!("/v1/tenants/{t}/groups")
}

async fn make(app: &TestApp, t: &str, body: Value) -> Value {
    app.post(&groups(t), ADMIN, body).await.expect(201)
}

async fn add(app: &TestApp, t: &str, group: &str, users: &[&str]) -> Value {
    app.post(
        &format!("{}/{group}/members", groups(t)),
        ADMIN,
        json!({ "user_ids": users }),
    )
    .await
    .expect(200)
}

async fn check(app: &TestApp, t: &str, question: Value) -> Value {
    app.post(&format!("/v1/tenants/{t}/check"), ADMIN, question)
        .await
        .expect(200)
}

async fn may(app: &TestApp, t: &str, user: &str, permission: &str, store: Option<&str>) -> bool {
    let mut question = json!({"user_id": user, "permission": permission});
    if let Some(store) = store {
        question["store_id"] = json!(store);
    }
    check(app, t, question).await["allowed"].as_bool().unwrap()
}

async fn groups_are_made_read_listed_changed_and_deleted(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.store(&t, "main").await;
    let company = app.company(&t, "Buyer").await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);

    let cashiers = make(
        &app,
        &t,
        json!({"name": " Cashiers ", "tenant_role": "ACCESS", "store_ids": ["main", "main"],
               "external_id": "okta-1", "members": [lee]}),
    )
    .await;
    let gid = id(&cashiers);
    assert_eq!(cashiers["name"], "Cashiers");
    assert_eq!(cashiers["tenant_role"], "ACCESS");
    assert_eq!(cashiers["store_ids"], json!(["main"]));
    assert_eq!(cashiers["roles"], json!([]));
    assert_eq!(cashiers["company_id"], Value::Null);
    assert_eq!(cashiers["external_id"], "okta-1");
    assert_eq!(cashiers["member_count"], 1);
    let read = app
        .get(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(read, cashiers);

    // Names are unique without case in the tenant; a company may reuse one.
    let taken = app
        .post(&groups(&t), ADMIN, json!({"name": "CASHIERS"}))
        .await
        .problem(409);
    assert!(
        taken["detail"].as_str().unwrap().contains("name"),
        "{taken}"
    );
    let theirs = make(
        &app,
        &t,
        json!({"name": "Cashiers", "company_id": company, "roles": ["ORDERS"]}),
    )
    .await;
    assert_eq!(theirs["company_id"], company.as_str());

    // Lists: all, by company, by member, by name.
    let list = |query: String| {
        let app = &app;
        let path = format!("{}{query}", groups(&t));
        async move { app.get(&path, ADMIN).await.expect(200) }
    };
    let all = list(String::new()).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["data"][0]["id"], gid.as_str(), "oldest first");
    let of_company = list(format!("?company_id={company}")).await;
    assert_eq!(of_company["data"].as_array().unwrap().len(), 1);
    assert_eq!(of_company["data"][0]["id"], id(&theirs).as_str());
    let of_lee = list(format!("?user_id={lee}")).await;
    assert_eq!(of_lee["data"].as_array().unwrap().len(), 1);
    assert_eq!(of_lee["data"][0]["id"], gid.as_str());
    let named = list("?name=cashiers&limit=1".into()).await;
    assert_eq!(named["data"].as_array().unwrap().len(), 1);
    let next = named["next_cursor"].as_str().unwrap().to_string();
    let rest = list(format!("?name=cashiers&cursor={next}")).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);

    // Members, paged.
    let sam = id(&app.user(&t, json!({"email": "sam@example.com"})).await);
    let after = add(&app, &t, &gid, &[&sam, &lee]).await;
    assert_eq!(after["member_count"], 2, "lee stays once");
    let members = app
        .get(&format!("{}/{gid}/members?limit=1", groups(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(members["data"][0]["user_id"], lee.as_str());
    assert_eq!(members["data"][0]["display"], "lee@example.com");
    assert!(members["next_cursor"].is_string());

    // A change; a change that changes nothing writes nothing.
    let renamed = app
        .patch(
            &format!("{}/{gid}", groups(&t)),
            ADMIN,
            json!({"name": "Tills", "tenant_role": null, "external_id": null}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Tills");
    assert_eq!(renamed["tenant_role"], Value::Null);
    assert_eq!(renamed["external_id"], Value::Null);
    assert_eq!(renamed["store_ids"], json!(["main"]));
    let same = app
        .patch(
            &format!("{}/{gid}", groups(&t)),
            ADMIN,
            json!({"name": "Tills"}),
        )
        .await
        .expect(200);
    assert_eq!(same["updated_at"], renamed["updated_at"]);

    app.delete(&format!("{}/{gid}/members/{sam}", groups(&t)), ADMIN)
        .await
        .expect(204);
    app.delete(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .expect(204);
    app.get(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .problem(404);
    app.delete(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .problem(404);
    assert_eq!(app.count("group_members").await, 0);

    // Each change is audited, and its event names the group.
    let events = app
        .get(&format!("/v1/tenants/{t}/events"), ADMIN)
        .await
        .expect(200);
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["group.created", "group.updated", "group.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let updates = actions.iter().filter(|a| **a == "group.updated").count();
    assert_eq!(updates, 3, "two member changes and a rename: {actions:?}");
}

async fn bad_group_bodies_are_refused(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let path = groups(&t);
    for (body, field, what) in [
        (json!({"name": ""}), "name", "an empty name"),
        (json!({"name": "x".repeat(201)}), "name", "a long name"),
        (json!({"name": 7}), "name", "a number for a name"),
        (json!({}), "name", "no name"),
        (
            json!({"name": "B", "tenant_role": "BLOCKED"}),
            "tenant_role",
            "a blocking group",
        ),
        (
            json!({"name": "B", "tenant_role": "Admin"}),
            "tenant_role",
            "a role in the wrong case",
        ),
        (
            json!({"name": "B", "roles": ["BOSS"]}),
            "roles",
            "an unknown role",
        ),
        (
            json!({"name": "B", "store_ids": ["no spaces"]}),
            "store_ids",
            "a malformed store id",
        ),
        (
            json!({"name": "B", "members": ["nope"]}),
            "members",
            "a malformed id",
        ),
        (
            json!({"name": "B", "members": [uuid::Uuid::now_v7()]}),
            "members",
            "a user the tenant lacks",
        ),
        (
            json!({"name": "B", "colour": "red"}),
            "colour",
            "an unknown field",
        ),
    ] {
        expect_field(app.post(&path, ADMIN, body).await, field, what);
    }
    let malformed = app
        .raw(
            Method::POST,
            &path,
            Some(ADMIN),
            "application/json",
            b"{\"name\": ".to_vec(),
        )
        .await
        .problem(400);
    assert!(
        malformed["detail"].as_str().unwrap().contains("line"),
        "{malformed}"
    );
    // An unknown store or company is not found; nothing was made.
    app.post(&path, ADMIN, json!({"name": "B", "store_ids": ["nowhere"]}))
        .await
        .problem(404);
    app.post(
        &path,
        ADMIN,
        json!({"name": "B", "company_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404);
    let gid = id(&make(&app, &t, json!({"name": "B"})).await);
    expect_field(
        app.post(
            &format!("{path}/{gid}/members"),
            ADMIN,
            json!({"user_ids": "all"}),
        )
        .await,
        "user_ids",
        "members as a string",
    );
    expect_field(
        app.patch(&format!("{path}/{gid}"), ADMIN, json!({"external_id": ""}))
            .await,
        "external_id",
        "a patch to a blank external id",
    );
    app.patch(&format!("{path}/nope"), ADMIN, json!({"name": "C"}))
        .await
        .problem(400);
    app.patch(
        &format!("{path}/{}", uuid::Uuid::now_v7()),
        ADMIN,
        json!({"name": "C"}),
    )
    .await
    .problem(404);
    assert_eq!(app.count("groups").await, 1);
}

async fn members_hold_the_groups_grants_from_the_next_request(engine: Engine) {
    // A long staleness: only the process's own change record can explain
    // each answer changing at once.
    let app = TestApp::start_with(engine, staleness(60_000)).await;
    let t = app.tenant("acme").await;
    app.store(&t, "main").await;
    app.store(&t, "north").await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    let gid = id(&make(
        &app,
        &t,
        json!({"name": "Cashiers", "tenant_role": "ACCESS", "store_ids": ["main"]}),
    )
    .await);
    assert!(!may(&app, &t, &lee, "USE_POS", Some("main")).await);

    add(&app, &t, &gid, &[&lee]).await;
    let answer = check(
        &app,
        &t,
        json!({"user_id": lee, "permission": "USE_POS", "store_id": "main"}),
    )
    .await;
    assert_eq!(answer["allowed"], true, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("group Cashiers: tenant role ACCESS"),
        "{answer}"
    );
    assert!(!may(&app, &t, &lee, "USE_POS", Some("north")).await);

    // Its grants changed: the members hold the new ones.
    app.patch(
        &format!("{}/{gid}", groups(&t)),
        ADMIN,
        json!({"store_ids": ["north"]}),
    )
    .await
    .expect(200);
    assert!(!may(&app, &t, &lee, "USE_POS", Some("main")).await);
    assert!(may(&app, &t, &lee, "USE_POS", Some("north")).await);

    // Removed: nothing; back and the group deleted: nothing.
    app.delete(&format!("{}/{gid}/members/{lee}", groups(&t)), ADMIN)
        .await
        .expect(204);
    assert!(!may(&app, &t, &lee, "USE_POS", Some("north")).await);
    add(&app, &t, &gid, &[&lee]).await;
    assert!(may(&app, &t, &lee, "USE_POS", Some("north")).await);
    app.delete(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .expect(204);
    assert!(!may(&app, &t, &lee, "USE_POS", Some("north")).await);

    // A group never unblocks: a blocked member of an admin group holds nothing.
    let admins = id(&make(&app, &t, json!({"name": "Admins", "tenant_role": "ADMIN"})).await);
    add(&app, &t, &admins, &[&lee]).await;
    assert!(may(&app, &t, &lee, "MANAGE_USERS", None).await);
    app.patch(
        &format!("/v1/tenants/{t}/users/{lee}"),
        ADMIN,
        json!({"tenant_role": "BLOCKED"}),
    )
    .await
    .expect(200);
    let blocked = check(
        &app,
        &t,
        json!({"user_id": lee, "permission": "MANAGE_USERS"}),
    )
    .await;
    assert_eq!(blocked["allowed"], false, "{blocked}");
    assert!(
        blocked["reason"].as_str().unwrap().contains("BLOCKED"),
        "{blocked}"
    );

    // A batch sees groups as single checks do.
    let sam = id(&app.user(&t, json!({"email": "sam@example.com"})).await);
    add(&app, &t, &admins, &[&sam]).await;
    let batch = app
        .post(
            &format!("/v1/tenants/{t}/check"),
            ADMIN,
            json!({"checks": [
                {"user_id": sam, "permission": "MANAGE_USERS"},
                {"user_id": lee, "permission": "MANAGE_USERS"},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(batch["results"][0]["allowed"], true, "{batch}");
    assert_eq!(batch["results"][1]["allowed"], false, "{batch}");
}

async fn a_groups_grants_reach_every_surface(engine: Engine) {
    let app = TestApp::start_with(engine, staleness(60_000)).await;
    let t = app.tenant("acme").await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    // A key acting as lee holds what lee holds: nothing yet.
    let key = app.user_key(&t, &lee).await;
    app.get(&format!("/v1/tenants/{t}/users"), &key)
        .await
        .problem(403);
    let viewers = id(&make(
        &app,
        &t,
        json!({"name": "Viewers", "tenant_role": "BACKOFFICE"}),
    )
    .await);
    add(&app, &t, &viewers, &[&lee]).await;
    app.get(&format!("/v1/tenants/{t}/users"), &key)
        .await
        .expect(200);
    // BACKOFFICE does not manage users; the key cannot make a user.
    app.post(
        &format!("/v1/tenants/{t}/users"),
        &key,
        json!({"email": "x@example.com"}),
    )
    .await
    .problem(403);
    app.delete(&format!("{}/{viewers}/members/{lee}", groups(&t)), ADMIN)
        .await
        .expect(204);
    app.get(&format!("/v1/tenants/{t}/users"), &key)
        .await
        .problem(403);
}

async fn company_groups_hold_only_their_companys_users(engine: Engine) {
    let app = TestApp::start_with(engine, staleness(60_000)).await;
    let t = app.tenant("acme").await;
    let buyer = app.company(&t, "Buyer").await;
    let other = app.company(&t, "Other").await;
    let ann = id(&app
        .user(&t, json!({"email": "ann@example.com", "company_id": buyer}))
        .await);
    let bob = id(&app
        .user(&t, json!({"email": "bob@example.com", "company_id": other}))
        .await);
    let loner = id(&app.user(&t, json!({"email": "lone@example.com"})).await);
    let gid = id(&make(
        &app,
        &t,
        json!({"name": "Orderers", "company_id": buyer, "roles": ["ORDERS"]}),
    )
    .await);
    for outsider in [&bob, &loner] {
        let refused = app
            .post(
                &format!("{}/{gid}/members", groups(&t)),
                ADMIN,
                json!({"user_ids": [outsider]}),
            )
            .await;
        let p = expect_field(refused, "members", "a user outside the company");
        assert!(
            p["errors"]["members"][0]
                .as_str()
                .unwrap()
                .contains("the group's company"),
            "{p}"
        );
    }
    add(&app, &t, &gid, &[&ann]).await;
    let in_buyer =
        |user: &str| json!({"user_id": user, "permission": "PLACE_ORDERS", "company_id": buyer});
    assert_eq!(check(&app, &t, in_buyer(&ann)).await["allowed"], true);
    let elsewhere = json!({"user_id": ann, "permission": "PLACE_ORDERS", "company_id": other});
    assert_eq!(check(&app, &t, elsewhere).await["allowed"], false);

    // A tenant-wide group's commerce roles apply in each member's company.
    let finance = id(&make(&app, &t, json!({"name": "Finance", "roles": ["FINANCE"]})).await);
    add(&app, &t, &finance, &[&ann, &bob, &loner]).await;
    let invoices = |user: &str, company: &str| json!({"user_id": user, "permission": "VIEW_INVOICES", "company_id": company});
    assert_eq!(
        check(&app, &t, invoices(&ann, &buyer)).await["allowed"],
        true
    );
    assert_eq!(
        check(&app, &t, invoices(&bob, &other)).await["allowed"],
        true
    );
    assert_eq!(
        check(&app, &t, invoices(&bob, &buyer)).await["allowed"],
        false
    );
    assert_eq!(
        check(&app, &t, invoices(&loner, &buyer)).await["allowed"],
        false
    );

    // Leaving the company leaves its groups (not the tenant's).
    app.patch(
        &format!("/v1/tenants/{t}/users/{ann}"),
        ADMIN,
        json!({"company_id": other}),
    )
    .await
    .expect(200);
    let group = app
        .get(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(group["member_count"], 0, "{group}");
    assert_eq!(check(&app, &t, in_buyer(&ann)).await["allowed"], false);
    assert_eq!(
        check(&app, &t, invoices(&ann, &other)).await["allowed"],
        true
    );
}

async fn groups_confer_only_what_the_caller_holds(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let manager = app.key(&t, &["MANAGE_USERS", "VIEW_USERS"]).await;
    let viewer = app.key(&t, &["VIEW_USERS"]).await;
    let lee = id(&app.user(&t, json!({"email": "lee@example.com"})).await);
    // A key holding MANAGE_USERS alone cannot make an admin group…
    let p = app
        .post(
            &groups(&t),
            &manager,
            json!({"name": "Admins", "tenant_role": "ADMIN"}),
        )
        .await
        .problem(403);
    assert!(
        p["detail"].as_str().unwrap().contains("only what it holds"),
        "{p}"
    );
    // …nor give a tenant-wide group commerce roles it does not hold anywhere.
    app.post(
        &groups(&t),
        &manager,
        json!({"name": "Buyers", "roles": ["ORDERS"]}),
    )
    .await
    .problem(403);
    // A group granting nothing it may make, fill and empty.
    let plain = app
        .post(
            &groups(&t),
            &manager,
            json!({"name": "Newsletter", "members": [lee]}),
        )
        .await
        .expect(201);
    assert_eq!(plain["member_count"], 1);
    // An admin group the operator made: the key may not add to it, but may
    // take a member out (taking away needs no grant).
    let admins = id(&make(&app, &t, json!({"name": "Admins", "tenant_role": "ADMIN"})).await);
    app.post(
        &format!("{}/{admins}/members", groups(&t)),
        &manager,
        json!({"user_ids": [lee]}),
    )
    .await
    .problem(403);
    assert_eq!(app.count("group_members").await, 1, "nothing added");
    add(&app, &t, &admins, &[&lee]).await;
    app.delete(&format!("{}/{admins}/members/{lee}", groups(&t)), &manager)
        .await
        .expect(204);
    // Nor may it raise a group to admin.
    app.patch(
        &format!("{}/{}", groups(&t), id(&plain)),
        &manager,
        json!({"tenant_role": "ADMIN"}),
    )
    .await
    .problem(403);
    // VIEW_USERS reads, and writes nothing.
    app.get(&groups(&t), &viewer).await.expect(200);
    app.post(&groups(&t), &viewer, json!({"name": "X"}))
        .await
        .problem(403);
    app.delete(&format!("{}/{admins}", groups(&t)), &viewer)
        .await
        .problem(403);
    let nothing = app.key(&t, &["MANAGE_STORES"]).await;
    app.get(&groups(&t), &nothing).await.problem(403);
}

async fn groups_stay_in_their_tenant(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = app.tenant("acme").await;
    let b = app.tenant("bolt").await;
    let theirs = id(&app.user(&b, json!({"email": "b@example.com"})).await);
    let b_company = app.company(&b, "Bolt buyer").await;
    let gid = id(&make(&app, &a, json!({"name": "Staff"})).await);
    let b_key = app.key(&b, &["MANAGE_USERS", "VIEW_USERS"]).await;
    // Another tenant's key, in that tenant's path or this one's: not found.
    app.get(&format!("{}/{gid}", groups(&b)), &b_key)
        .await
        .problem(404);
    app.get(&format!("{}/{gid}", groups(&a)), &b_key)
        .await
        .problem(404);
    app.delete(&format!("{}/{gid}", groups(&b)), &b_key)
        .await
        .problem(404);
    // Another tenant's user or company cannot be put in.
    expect_field(
        app.post(
            &format!("{}/{gid}/members", groups(&a)),
            ADMIN,
            json!({"user_ids": [theirs]}),
        )
        .await,
        "members",
        "another tenant's user",
    );
    app.post(
        &groups(&a),
        ADMIN,
        json!({"name": "X", "company_id": b_company}),
    )
    .await
    .problem(404);
    let listed = app.get(&groups(&b), &b_key).await.expect(200);
    assert_eq!(listed["data"], json!([]));
}

async fn concurrent_group_writes_neither_collide_nor_fail_their_neighbours(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(id(&app
            .user(&t, json!({"email": format!("u{n}@example.com")}))
            .await));
    }
    let gid = id(&make(&app, &t, json!({"name": "Everyone"})).await);
    // Eight concurrent adds, one user each: all land.
    let members = format!("{}/{gid}/members", groups(&t));
    let adds = users
        .iter()
        .map(|user| app.post(&members, ADMIN, json!({"user_ids": [user]})));
    for reply in futures::future::join_all(adds).await {
        reply.expect(200);
    }
    let group = app
        .get(&format!("{}/{gid}", groups(&t)), ADMIN)
        .await
        .expect(200);
    assert_eq!(group["member_count"], 8);
    // Eight concurrent creations of one name: one is made, the rest 409.
    let path = groups(&t);
    let makes = (0..8).map(|n| {
        let name = if n % 2 == 0 {
            "Night shift"
        } else {
            "NIGHT SHIFT"
        };
        app.post(&path, ADMIN, json!({"name": name}))
    });
    let statuses: Vec<u16> = futures::future::join_all(makes)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
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
}

async fn another_process_sees_membership_within_the_bound(engine: Engine) {
    let bound = Duration::from_millis(300);
    let this = TestApp::start_with(engine, staleness(300)).await;
    let other = this.sibling_with(staleness(300)).await;
    let t = this.tenant("acme").await;
    this.store(&t, "main").await;
    let lee = id(&this.user(&t, json!({"email": "lee@example.com"})).await);
    let gid = id(&make(
        &this,
        &t,
        json!({"name": "Cashiers", "tenant_role": "ACCESS", "members": [lee]}),
    )
    .await);
    let key = this.key(&t, &["VIEW_USERS"]).await;
    let probe = || async {
        other
            .post(
                &format!("/v1/tenants/{t}/check"),
                &key,
                json!({"user_id": lee, "permission": "USE_POS", "store_id": "main"}),
            )
            .await
            .expect(200)["allowed"]
            .clone()
    };
    // Warm the other process, then take the member out here.
    let took = time_until(json!(true), probe).await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
    this.delete(&format!("{}/{gid}/members/{lee}", groups(&t)), ADMIN)
        .await
        .expect(204);
    let took = time_until(json!(false), probe).await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
    // The group's grants changed here: seen there within the bound.
    add(&this, &t, &gid, &[&lee]).await;
    time_until(json!(true), probe).await;
    this.patch(
        &format!("{}/{gid}", groups(&t)),
        ADMIN,
        json!({"tenant_role": null}),
    )
    .await
    .expect(200);
    let took = time_until(json!(false), probe).await;
    assert!(took <= bound + Duration::from_millis(700), "{took:?}");
}

async fn a_groups_tenant_role_signs_in_on_a_device(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.store(&t, "main").await;
    app.store(&t, "side").await;
    let lee = id(&app
        .user(&t, json!({"user_code": "1001", "password": PASSWORD}))
        .await);
    let till = |store: &'static str| {
        let app = &app;
        let t = &t;
        async move {
            app.post(
                &format!("/v1/tenants/{t}/devices"),
                ADMIN,
                json!({"name": "Till", "store_id": store}),
            )
            .await
            .expect(201)["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (main, side) = (till("main").await, till("side").await);
    let sign_in = |device: String| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/account",
                Some(&device),
                Some(json!({"userCode": "1001", "password": PASSWORD})),
            )
            .await
        }
    };
    // No tenant role of its own or of a group: refused.
    let p = sign_in(main.clone()).await.problem(403);
    assert!(p["detail"].as_str().unwrap().contains("tenant role"), "{p}");
    make(
        &app,
        &t,
        json!({"name": "Cashiers", "tenant_role": "ACCESS", "store_ids": ["main"], "members": [lee]}),
    )
    .await;
    sign_in(main).await.expect(200);
    // The group's ACCESS covers the main store only.
    sign_in(side).await.problem(403);
}
