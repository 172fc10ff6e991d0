//! Commerce users (seed 000): `/api/commerces/{cId}/users`, roles, contacts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN};

on_both_engines!(
    the_seed_example_creates_a_commerce_user,
    the_tenant_comes_from_x_tenant_id_and_must_be_the_credentials,
    users_are_read_listed_and_patched_within_their_commerce,
    roles_are_added_once_and_removed_when_held,
    contact_values_are_validated_by_type,
    one_primary_contact_per_type,
    deactivating_a_contact_drops_its_primary_flag,
    duplicate_active_contacts_conflict,
    concurrent_set_primary_leaves_exactly_one_primary,
    contacts_of_other_users_and_tenants_are_not_found,
);

/// A commerce-surface call: `x-tenant-id` plus bearer token.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    tenant: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}{}", app.base, path))
        .bearer_auth(token)
        .header("x-tenant-id", tenant);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

struct Commerce {
    app: TestApp,
    tenant: String,
    commerce: String,
}

impl Commerce {
    async fn new(engine: Engine) -> Commerce {
        let app = TestApp::start(engine).await;
        let tenant = app.tenant("acme").await;
        let commerce = app.company(&tenant, "Garcia Imports").await;
        Commerce {
            app,
            tenant,
            commerce,
        }
    }

    fn users(&self) -> String {
        format!("/api/commerces/{}/users", self.commerce)
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        call(
            &self.app,
            Method::POST,
            path,
            &self.tenant,
            ADMIN,
            Some(body),
        )
        .await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        call(
            &self.app,
            Method::PATCH,
            path,
            &self.tenant,
            ADMIN,
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Reply {
        call(&self.app, Method::GET, path, &self.tenant, ADMIN, None).await
    }

    async fn delete(&self, path: &str) -> Reply {
        call(&self.app, Method::DELETE, path, &self.tenant, ADMIN, None).await
    }

    async fn user(&self, name: &str) -> String {
        id(&self
            .post(&self.users(), json!({"name": name}))
            .await
            .expect(201))
    }

    fn contacts(&self, user: &str) -> String {
        format!("{}/{user}/contacts", self.users())
    }

    async fn contact(&self, user: &str, body: Value) -> Value {
        self.post(&self.contacts(user), body).await.expect(201)
    }

    async fn read_contacts(&self, user: &str) -> Vec<Value> {
        let body = self
            .get(&format!("{}/{user}", self.users()))
            .await
            .expect(200);
        body["contacts"].as_array().unwrap().clone()
    }
}

async fn the_seed_example_creates_a_commerce_user(engine: Engine) {
    let c = Commerce::new(engine).await;
    let body = json!({"name": "Maria Garcia", "external_id": "usr-001", "source": "RETEN", "roles": ["OWNER"], "unknown": true});
    let user = c.post(&c.users(), body).await.expect(201);
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "commerce_id",
            "contacts",
            "created_at",
            "external_id",
            "id",
            "name",
            "roles",
            "source",
            "updated_at"
        ]
    );
    assert_eq!(user["commerce_id"], c.commerce);
    assert_eq!(user["name"], "Maria Garcia");
    assert_eq!(user["external_id"], "usr-001");
    assert_eq!(user["source"], "RETEN");
    assert_eq!(user["roles"], json!(["OWNER"]));
    assert_eq!(user["contacts"], json!([]));
    // The same user through the native API: a user of the company.
    let native = c
        .app
        .get(
            &format!("/v1/tenants/{}/users/{}", c.tenant, id(&user)),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(native["company_id"], c.commerce);
    // The same external id and source again conflicts.
    c.post(
        &c.users(),
        json!({"external_id": "usr-001", "source": "RETEN"}),
    )
    .await
    .problem(409);
    c.post(&c.users(), json!({"roles": ["BOSS"]}))
        .await
        .problem(400);
    c.post(&c.users(), json!({"source": "ELSEWHERE"}))
        .await
        .problem(400);
    c.post(&c.users(), json!({"name": 42})).await.problem(400);
    let events = c
        .app
        .get(&format!("/v1/tenants/{}/events", c.tenant), ADMIN)
        .await
        .expect(200);
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "user.created"));
}

async fn the_tenant_comes_from_x_tenant_id_and_must_be_the_credentials(engine: Engine) {
    let c = Commerce::new(engine).await;
    let other = c.app.tenant("other").await;
    let other_commerce = c.app.company(&other, "Elsewhere").await;
    let key = c.app.key(&c.tenant, &["MANAGE_COMMERCES"]).await;
    let weak = c.app.key(&c.tenant, &["MANAGE_USERS", "VIEW_USERS"]).await;
    let path = c.users();
    // Missing header: 400.
    let missing = c.app.call(Method::GET, &path, Some(&key), None).await;
    let p = missing.problem(400);
    assert!(p["errors"]["x-tenant-id"].is_array(), "{p}");
    // Another tenant than the key's: 403.
    call(&c.app, Method::GET, &path, &other, &key, None)
        .await
        .problem(403);
    // Without MANAGE_COMMERCES: 403.
    call(&c.app, Method::GET, &path, &c.tenant, &weak, None)
        .await
        .problem(403);
    // With it: 200.
    call(&c.app, Method::GET, &path, &c.tenant, &key, None)
        .await
        .expect(200);
    // A commerce of another tenant is not found, for a key and for the admin.
    let foreign = format!("/api/commerces/{other_commerce}/users");
    call(&c.app, Method::GET, &foreign, &c.tenant, &key, None)
        .await
        .problem(404);
    call(
        &c.app,
        Method::POST,
        &foreign,
        &c.tenant,
        &key,
        Some(json!({"name": "x"})),
    )
    .await
    .problem(404);
    // The admin token may name any tenant; an unknown one is 404.
    call(&c.app, Method::GET, &foreign, &other, ADMIN, None)
        .await
        .expect(200);
    call(&c.app, Method::GET, &path, "nope", ADMIN, None)
        .await
        .problem(404);
    // No credentials: 401.
    c.app
        .call(Method::GET, &path, None, None)
        .await
        .problem(401);
}

async fn users_are_read_listed_and_patched_within_their_commerce(engine: Engine) {
    let c = Commerce::new(engine).await;
    let other_commerce = c.app.company(&c.tenant, "Other Co").await;
    let stranger = c
        .app
        .user(&c.tenant, json!({"company_id": other_commerce}))
        .await;
    let loner = c.app.user(&c.tenant, json!({"name": "No company"})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(c.user(&format!("User {i}")).await);
    }
    let page = c.get(&format!("{}?limit=2", c.users())).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = c
        .get(&format!(
            "{}?limit=2&cursor={}",
            c.users(),
            page["next_cursor"].as_str().unwrap()
        ))
        .await
        .expect(200);
    let listed: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(next["data"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(
        listed.iter().map(id).collect::<Vec<_>>(),
        ids,
        "only this commerce's users, oldest first"
    );

    let path = format!("{}/{}", c.users(), ids[0]);
    let patched = c.patch(&path, json!({"name": "Renamed", "external_id": "ext-9", "roles": ["FINANCE", "ORDERS"], "ignored": 1})).await.expect(200);
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["external_id"], "ext-9");
    assert_eq!(patched["roles"], json!(["ORDERS", "FINANCE"]));
    assert_eq!(patched["contacts"], json!([]));
    assert_eq!(c.get(&path).await.expect(200), patched);
    let cleared = c.patch(&path, json!({"name": null})).await.expect(200);
    assert!(cleared["name"].is_null());
    c.patch(&path, json!({"roles": ["NOPE"]}))
        .await
        .problem(400);
    // Users of another commerce, of none, or unknown: 404.
    for other in [id(&stranger), id(&loner), uuid::Uuid::now_v7().to_string()] {
        c.get(&format!("{}/{other}", c.users())).await.problem(404);
        c.patch(&format!("{}/{other}", c.users()), json!({"name": "x"}))
            .await
            .problem(404);
    }
    c.get(&format!("{}/not-a-uuid", c.users()))
        .await
        .problem(400);
}

async fn roles_are_added_once_and_removed_when_held(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let roles = format!("{}/{user}/roles", c.users());
    let added = c
        .post(&roles, json!({"role": "ATTENTION"}))
        .await
        .expect(201);
    assert_eq!(added["roles"], json!(["ATTENTION"]));
    let added = c.post(&roles, json!({"role": "OWNER"})).await.expect(201);
    assert_eq!(
        added["roles"],
        json!(["OWNER", "ATTENTION"]),
        "stable order"
    );
    let p = c.post(&roles, json!({"role": "OWNER"})).await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("OWNER"));
    c.post(&roles, json!({"role": "SUPERUSER"}))
        .await
        .problem(400);
    c.post(&roles, json!({})).await.problem(400);
    c.delete(&format!("{roles}/OWNER")).await.expect(204);
    c.delete(&format!("{roles}/OWNER")).await.problem(404);
    c.delete(&format!("{roles}/SUPERUSER")).await.problem(400);
    let now = c.get(&format!("{}/{user}", c.users())).await.expect(200);
    assert_eq!(now["roles"], json!(["ATTENTION"]));
    // Roles act in the commerce: the check API agrees.
    let check = c
        .app
        .post(
            &format!("/v1/tenants/{}/check", c.tenant),
            ADMIN,
            json!({"user_id": user, "permission": "CUSTOMER_SERVICE", "company_id": c.commerce}),
        )
        .await
        .expect(200);
    assert_eq!(check["allowed"], true);
    let events = c
        .app
        .get(&format!("/v1/tenants/{}/events", c.tenant), ADMIN)
        .await
        .expect(200);
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.role_added") && actions.contains(&"user.role_removed"),
        "{actions:?}"
    );
}

async fn contact_values_are_validated_by_type(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let path = c.contacts(&user);
    let bad_emails = [
        "maria",
        "maria@",
        "@example.com",
        "maria@example",
        "ma ria@example.com",
        "maria@@example.com",
        "maria@exa mple.com",
        "",
    ];
    for value in bad_emails {
        let p = c
            .post(
                &path,
                json!({"contact_type": "EMAIL", "value": value, "source": "RETEN"}),
            )
            .await
            .problem(400);
        assert!(p["errors"]["value"].is_array(), "{value}: {p}");
    }
    let bad_phones = [
        "56912345678",
        "+0912345678",
        "+1234567",
        "+1234567890123456",
        "+569 1234 5678",
        "+56-912345678",
        "+",
        "phone",
        "+56912345678x",
    ];
    for value in bad_phones {
        for kind in ["PHONE", "WHATSAPP"] {
            let p = c
                .post(
                    &path,
                    json!({"contact_type": kind, "value": value, "source": "RETEN"}),
                )
                .await
                .problem(400);
            assert!(p["errors"]["value"].is_array(), "{kind} {value}: {p}");
        }
    }
    c.post(
        &path,
        json!({"contact_type": "FAX", "value": "1", "source": "RETEN"}),
    )
    .await
    .problem(400);
    c.post(
        &path,
        json!({"contact_type": "EMAIL", "value": "a@example.com"}),
    )
    .await
    .problem(400);
    c.post(
        &path,
        json!({"contact_type": "EMAIL", "value": "a@example.com", "source": "SOMEWHERE"}),
    )
    .await
    .problem(400);
    c.post(
        &path,
        json!({"contact_type": "EMAIL", "value": 7, "source": "RETEN"}),
    )
    .await
    .problem(400);
    assert!(
        c.read_contacts(&user).await.is_empty(),
        "bad requests created nothing"
    );

    let email = c
        .contact(
            &user,
            json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "INTEGRATION"}),
        )
        .await;
    assert_eq!(email["is_primary"], false, "primary only when asked");
    assert_eq!(email["is_active"], true);
    assert_eq!(email["source"], "INTEGRATION", "the contact's own source");
    let phone = c
        .contact(
            &user,
            json!({"contact_type": "PHONE", "value": "+56912345678", "source": "RETEN"}),
        )
        .await;
    c.contact(
        &user,
        json!({"contact_type": "WHATSAPP", "value": "+56912345678", "source": "RETEN"}),
    )
    .await;
    c.contact(
        &user,
        json!({"contact_type": "OTHER", "value": "@maria on the forum", "source": "RETEN"}),
    )
    .await;
    // PATCH re-validates a changed value, and the value against a changed type.
    let contact_path = format!("{}/{}", path, id(&phone));
    c.patch(&contact_path, json!({"value": "12345"}))
        .await
        .problem(400);
    c.patch(&contact_path, json!({"contact_type": "EMAIL"}))
        .await
        .problem(400);
    let changed = c
        .patch(&contact_path, json!({"value": "+56987654321"}))
        .await
        .expect(200);
    assert_eq!(changed["value"], "+56987654321");
    assert_eq!(changed["contact_type"], "PHONE");
    let retyped = c
        .patch(
            &format!("{}/{}", path, id(&email)),
            json!({"contact_type": "OTHER"}),
        )
        .await
        .expect(200);
    assert_eq!(retyped["contact_type"], "OTHER");
    assert_eq!(c.read_contacts(&user).await.len(), 4);
}

async fn one_primary_contact_per_type(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let path = c.contacts(&user);
    let first = c.contact(&user, json!({"contact_type": "EMAIL", "value": "one@example.com", "source": "RETEN", "is_primary": true})).await;
    assert_eq!(first["is_primary"], true);
    let phone = c.contact(&user, json!({"contact_type": "PHONE", "value": "+56912345678", "source": "RETEN", "is_primary": true})).await;
    let second = c.contact(&user, json!({"contact_type": "EMAIL", "value": "two@example.com", "source": "RETEN", "is_primary": true})).await;
    assert_eq!(second["is_primary"], true);
    let primaries = |contacts: &[Value]| -> Vec<String> {
        contacts
            .iter()
            .filter(|x| x["is_primary"] == true)
            .map(id)
            .collect()
    };
    let contacts = c.read_contacts(&user).await;
    assert_eq!(
        primaries(&contacts),
        [id(&phone), id(&second)],
        "the new primary unset the old one of its type only"
    );
    let set = c
        .post(&format!("{}/{}/set-primary", path, id(&first)), json!({}))
        .await
        .expect(200);
    assert_eq!(set["is_primary"], true);
    assert_eq!(set["id"], first["id"]);
    assert_eq!(
        primaries(&c.read_contacts(&user).await),
        [id(&first), id(&phone)]
    );
    // Setting the primary again is harmless.
    c.post(&format!("{}/{}/set-primary", path, id(&first)), json!({}))
        .await
        .expect(200);
    // PATCH is_primary does the same.
    let patched = c
        .patch(
            &format!("{}/{}", path, id(&second)),
            json!({"is_primary": true}),
        )
        .await
        .expect(200);
    assert_eq!(patched["is_primary"], true);
    assert_eq!(
        primaries(&c.read_contacts(&user).await),
        [id(&phone), id(&second)]
    );
    c.post(
        &format!("{}/{}/set-primary", path, uuid::Uuid::now_v7()),
        json!({}),
    )
    .await
    .problem(404);
}

async fn deactivating_a_contact_drops_its_primary_flag(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let path = c.contacts(&user);
    let email = c.contact(&user, json!({"contact_type": "EMAIL", "value": "one@example.com", "source": "RETEN", "is_primary": true})).await;
    let contact_path = format!("{}/{}", path, id(&email));
    let off = c
        .patch(&contact_path, json!({"is_active": false}))
        .await
        .expect(200);
    assert_eq!(off["is_active"], false);
    assert_eq!(off["is_primary"], false);
    let p = c
        .post(&format!("{contact_path}/set-primary"), json!({}))
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("inactive"));
    c.patch(&contact_path, json!({"is_primary": true}))
        .await
        .problem(409);
    let on = c
        .patch(&contact_path, json!({"is_active": true}))
        .await
        .expect(200);
    assert_eq!(
        on["is_primary"], false,
        "reactivating does not make it primary again"
    );
    let both = c
        .patch(
            &contact_path,
            json!({"is_active": true, "is_primary": true}),
        )
        .await
        .expect(200);
    assert_eq!(both["is_primary"], true);
}

async fn duplicate_active_contacts_conflict(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let other = c.user("Ana").await;
    let path = c.contacts(&user);
    let first = c
        .contact(
            &user,
            json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "RETEN"}),
        )
        .await;
    let p = c
        .post(
            &path,
            json!({"contact_type": "EMAIL", "value": "MARIA@example.com", "source": "INTEGRATION"}),
        )
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("contact"), "{p}");
    // The same value is fine for another user, another type, or once the first is inactive.
    c.contact(
        &other,
        json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "RETEN"}),
    )
    .await;
    c.contact(
        &user,
        json!({"contact_type": "OTHER", "value": "maria@example.com", "source": "RETEN"}),
    )
    .await;
    c.patch(
        &format!("{}/{}", path, id(&first)),
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    let again = c
        .contact(
            &user,
            json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "RETEN"}),
        )
        .await;
    // Reactivating the old one would duplicate the new one.
    c.patch(
        &format!("{}/{}", path, id(&first)),
        json!({"is_active": true}),
    )
    .await
    .problem(409);
    // Changing a value onto an existing one conflicts too.
    let third = c
        .contact(
            &user,
            json!({"contact_type": "EMAIL", "value": "third@example.com", "source": "RETEN"}),
        )
        .await;
    c.patch(
        &format!("{}/{}", path, id(&third)),
        json!({"value": "Maria@Example.com"}),
    )
    .await
    .problem(409);
    assert_eq!(
        c.read_contacts(&user)
            .await
            .iter()
            .filter(|x| x["is_active"] == true)
            .count(),
        3
    );
    let _ = again;
}

async fn concurrent_set_primary_leaves_exactly_one_primary(engine: Engine) {
    let c = Commerce::new(engine).await;
    let user = c.user("Maria").await;
    let path = c.contacts(&user);
    let mut ids = Vec::new();
    for i in 0..8 {
        let contact = c.contact(&user, json!({"contact_type": "PHONE", "value": format!("+5691234567{i}"), "source": "RETEN"})).await;
        ids.push(id(&contact));
    }
    let calls: Vec<String> = ids
        .iter()
        .map(|x| format!("{path}/{x}/set-primary"))
        .collect();
    let replies = futures::future::join_all(calls.iter().map(|p| c.post(p, json!({})))).await;
    for reply in replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let contacts = c.read_contacts(&user).await;
    assert_eq!(
        contacts.iter().filter(|x| x["is_primary"] == true).count(),
        1,
        "{contacts:?}"
    );
    // And concurrently adding primaries.
    let adds = (0..8).map(|i| c.post(&path, json!({"contact_type": "WHATSAPP", "value": format!("+5698765432{i}"), "source": "RETEN", "is_primary": true})));
    for reply in futures::future::join_all(adds).await {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let contacts = c.read_contacts(&user).await;
    let whatsapp_primaries = contacts
        .iter()
        .filter(|x| x["contact_type"] == "WHATSAPP" && x["is_primary"] == true)
        .count();
    assert_eq!(whatsapp_primaries, 1);
}

async fn contacts_of_other_users_and_tenants_are_not_found(engine: Engine) {
    let c = Commerce::new(engine).await;
    let maria = c.user("Maria").await;
    let ana = c.user("Ana").await;
    let contact = c
        .contact(
            &maria,
            json!({"contact_type": "EMAIL", "value": "maria@example.com", "source": "RETEN"}),
        )
        .await;
    // Maria's contact through Ana's path: 404.
    c.patch(
        &format!("{}/{}", c.contacts(&ana), id(&contact)),
        json!({"is_active": false}),
    )
    .await
    .problem(404);
    c.post(
        &format!("{}/{}/set-primary", c.contacts(&ana), id(&contact)),
        json!({}),
    )
    .await
    .problem(404);
    // Another tenant, with its own key and its own commerce, cannot reach it.
    let other = c.app.tenant("other").await;
    let other_commerce = c.app.company(&other, "Other").await;
    let key = c.app.key(&other, &["MANAGE_COMMERCES"]).await;
    let path = format!(
        "/api/commerces/{other_commerce}/users/{maria}/contacts/{}",
        id(&contact)
    );
    call(
        &c.app,
        Method::PATCH,
        &path,
        &other,
        &key,
        Some(json!({"is_active": false})),
    )
    .await
    .problem(404);
    let path = format!(
        "/api/commerces/{}/users/{maria}/contacts/{}",
        c.commerce,
        id(&contact)
    );
    call(
        &c.app,
        Method::PATCH,
        &path,
        &other,
        &key,
        Some(json!({"is_active": false})),
    )
    .await
    .problem(404);
    let still = c.read_contacts(&maria).await;
    assert_eq!(still[0]["is_active"], true, "nothing changed");
}
