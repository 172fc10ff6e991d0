//! Cross-tenant isolation and permissions, table-driven over every /v1 route.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    another_tenants_key_and_ids_answer_404_on_every_route,
    every_route_needs_its_permission,
    admin_only_routes_refuse_api_keys,
);

/// Every permission there is: a key holding them all.
const ALL: &[&str] = &[
    "MANAGE_TENANT",
    "MANAGE_USERS",
    "VIEW_USERS",
    "MANAGE_COMMERCES",
    "MANAGE_STORES",
    "MANAGE_DEVICES",
    "MANAGE_API_KEYS",
    "VIEW_AUDIT",
    "MANAGE_WEBHOOKS",
    "MANAGE_CATALOG",
    "VIEW_STORE",
    "MANAGE_STORE",
    "USE_POS",
    "MANAGE_COMMERCE_USERS",
    "PLACE_ORDERS",
    "VIEW_ORDERS",
    "VIEW_INVOICES",
    "MANAGE_PAYMENTS",
    "CUSTOMER_SERVICE",
    "MANAGE_ORG_USERS",
    "MANAGE_CAMPAIGNS",
    "VIEW_CAMPAIGNS",
];

/// The tenant-level permissions the native routes ask for.
const TENANT_PERMISSIONS: &[&str] = &[
    "MANAGE_TENANT",
    "MANAGE_USERS",
    "VIEW_USERS",
    "MANAGE_COMMERCES",
    "MANAGE_STORES",
    "MANAGE_DEVICES",
    "MANAGE_API_KEYS",
    "VIEW_AUDIT",
    "MANAGE_WEBHOOKS",
];

/// One request of a table.
struct Req {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Req {
    fn new(method: Method, path: String, body: Option<Value>) -> Req {
        Req { method, path, body }
    }

    fn describe(&self) -> String {
        match &self.body {
            Some(body) => format!("{} {} {body}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }

    async fn send(&self, app: &TestApp, token: &str) -> Reply {
        app.call(
            self.method.clone(),
            &self.path,
            Some(token),
            self.body.clone(),
        )
        .await
    }
}

/// Asserts a problem+json of `status`, saying which request failed.
fn expect_problem(reply: Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: body {}", reply.body);
    reply.problem(status)
}

/// Asserts a success of `status`, saying which request failed.
fn expect_ok(reply: Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: body {}", reply.body);
    reply.body
}

/// The ids a route may name.
#[derive(Clone)]
struct Ids {
    store: String,
    company: String,
    user: String,
    quote: String,
    order: String,
    key_id: String,
    device: String,
    invitation: String,
}

impl Ids {
    /// Ids that exist nowhere.
    fn ghost() -> Ids {
        let fresh = || uuid::Uuid::new_v4().to_string();
        Ids {
            store: "ghost_store".into(),
            company: fresh(),
            user: fresh(),
            quote: fresh(),
            order: fresh(),
            key_id: fresh(),
            device: fresh(),
            invitation: fresh(),
        }
    }
}

/// A tenant with one of everything.
struct World {
    tenant: String,
    ids: Ids,
    email: String,
    /// An API key of this tenant holding every permission.
    key: String,
}

async fn world(app: &TestApp, tenant: &str, store_code: &str) -> World {
    let tenant = app.tenant(tenant).await;
    let store = app.store(&tenant, store_code).await;
    let company = app.company(&tenant, &format!("Buyer of {tenant}")).await;
    let email = format!("owner@{tenant}.example.com");
    let user = app
        .user(
            &tenant,
            json!({"email": email, "first_name": "Owner", "company_id": company, "store_ids": [store],
                   "default_store_id": store, "roles": ["OWNER"], "tenant_role": "ACCESS",
                   "external_id": format!("ext-{tenant}"), "source": "INTEGRATION", "user_code": "1001"}),
        )
        .await;
    let user = id(&user);
    let quote = app
        .post(
            &format!("/v1/tenants/{tenant}/quotes"),
            ADMIN,
            json!({"company_id": company, "owner_user_id": user, "reference": format!("Q-{tenant}")}),
        )
        .await
        .expect(201);
    let order = app
        .post(
            &format!("/v1/tenants/{tenant}/orders"),
            ADMIN,
            json!({"company_id": company, "owner_user_id": user, "reference": format!("O-{tenant}")}),
        )
        .await
        .expect(201);
    let key = app
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            ADMIN,
            json!({"name": "everything", "permissions": ALL}),
        )
        .await
        .expect(201);
    let device = app
        .post(
            &format!("/v1/tenants/{tenant}/devices"),
            ADMIN,
            json!({"name": "Till 1", "store_id": store}),
        )
        .await
        .expect(201);
    let invitation = app
        .post(
            &format!("/v1/tenants/{tenant}/invitations"),
            ADMIN,
            json!({"email": format!("invitee@{tenant}.example.com"), "tenant_role": "BACKOFFICE"}),
        )
        .await
        .expect(201);
    World {
        ids: Ids {
            store,
            company,
            user,
            quote: id(&quote),
            order: id(&order),
            key_id: id(&key),
            device: id(&device),
            invitation: id(&invitation),
        },
        email,
        key: key["token"].as_str().unwrap().to_string(),
        tenant,
    }
}

/// Everything a tenant holds, as the admin token reads it.
async fn snapshot(app: &TestApp, tenant: &str) -> Value {
    let mut all = serde_json::Map::new();
    all.insert(
        "tenant".into(),
        app.get(&format!("/v1/tenants/{tenant}"), ADMIN)
            .await
            .expect(200),
    );
    for list in [
        "stores",
        "companies",
        "users",
        "api-keys",
        "quotes",
        "orders",
        "devices",
        "invitations",
        "events",
    ] {
        let page = app
            .get(&format!("/v1/tenants/{tenant}/{list}?limit=500"), ADMIN)
            .await
            .expect(200);
        assert!(page["next_cursor"].is_null(), "{list} did not fit one page");
        all.insert(list.into(), page["data"].clone());
    }
    Value::Object(all)
}

/// Every /v1 route under `/v1/tenants/{tenant}`, every method, naming `ids`
/// wherever a route takes an id. Bodies are valid, so only the tenant or the
/// ids can make a call fail.
fn tenant_routes(tenant: &str, ids: &Ids) -> Vec<Req> {
    let t = format!("/v1/tenants/{tenant}");
    let Ids {
        store,
        company,
        user,
        quote,
        order,
        key_id,
        device,
        invitation,
    } = ids;
    vec![
        Req::new(Method::GET, t.clone(), None),
        Req::new(Method::PATCH, t.clone(), Some(json!({"name": "Hijacked"}))),
        Req::new(Method::DELETE, t.clone(), None),
        // Stores.
        Req::new(
            Method::POST,
            format!("{t}/stores"),
            Some(json!({"code": "intruder", "name": "Intruder"})),
        ),
        Req::new(Method::GET, format!("{t}/stores"), None),
        Req::new(Method::GET, format!("{t}/stores/{store}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/stores/{store}"),
            Some(json!({"name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/stores/{store}"), None),
        // Companies.
        Req::new(
            Method::POST,
            format!("{t}/companies"),
            Some(json!({"name": "Intruder"})),
        ),
        Req::new(Method::GET, format!("{t}/companies"), None),
        Req::new(Method::GET, format!("{t}/companies/{company}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/companies/{company}"),
            Some(json!({"name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/companies/{company}"), None),
        // Users.
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "intruder@example.com", "company_id": company})),
        ),
        Req::new(Method::GET, format!("{t}/users"), None),
        Req::new(Method::GET, format!("{t}/users/{user}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{user}"),
            Some(json!({"first_name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/users/{user}"), None),
        Req::new(
            Method::PUT,
            format!("{t}/users/by-external-id/INTEGRATION/intruder"),
            Some(json!({"name": "Intruder", "company_id": company})),
        ),
        // API keys.
        Req::new(
            Method::POST,
            format!("{t}/api-keys"),
            Some(json!({"name": "intruder", "permissions": ["MANAGE_USERS"]})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/api-keys"),
            Some(json!({"name": "intruder", "user_id": user})),
        ),
        Req::new(Method::GET, format!("{t}/api-keys"), None),
        Req::new(Method::DELETE, format!("{t}/api-keys/{key_id}"), None),
        // Devices and invitations.
        Req::new(
            Method::POST,
            format!("{t}/devices"),
            Some(json!({"name": "Intruder", "store_id": store})),
        ),
        Req::new(Method::GET, format!("{t}/devices"), None),
        Req::new(Method::DELETE, format!("{t}/devices/{device}"), None),
        Req::new(
            Method::POST,
            format!("{t}/invitations"),
            Some(json!({"email": "intruder@example.com", "tenant_role": "ADMIN"})),
        ),
        Req::new(Method::GET, format!("{t}/invitations"), None),
        Req::new(
            Method::DELETE,
            format!("{t}/invitations/{invitation}"),
            None,
        ),
        // Quotes and orders.
        Req::new(
            Method::POST,
            format!("{t}/quotes"),
            Some(json!({"company_id": company, "owner_user_id": user, "reference": "intruder"})),
        ),
        Req::new(Method::GET, format!("{t}/quotes"), None),
        Req::new(Method::GET, format!("{t}/quotes/{quote}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/quotes/{quote}"),
            Some(json!({"status": "CLOSED"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/orders"),
            Some(json!({"company_id": company, "owner_user_id": user, "reference": "intruder"})),
        ),
        Req::new(Method::GET, format!("{t}/orders"), None),
        Req::new(Method::GET, format!("{t}/orders/{order}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/orders/{order}"),
            Some(json!({"status": "CANCELLED"})),
        ),
        // Check and events.
        Req::new(
            Method::POST,
            format!("{t}/check"),
            Some(json!({"user_id": user, "permission": "USE_POS"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/check"),
            Some(
                json!({"checks": [{"user_id": user, "permission": "USE_POS", "store_id": store}]}),
            ),
        ),
        Req::new(Method::GET, format!("{t}/events"), None),
    ]
}

/// Every route of `tenant` (whose own ids are `own`) that names an id, here
/// naming `foreign` ids instead: in the path, in the body, or both.
fn foreign_id_routes(tenant: &str, own: &Ids, foreign: &Ids) -> Vec<Req> {
    let t = format!("/v1/tenants/{tenant}");
    let Ids {
        store,
        company,
        user,
        quote,
        order,
        key_id,
        device,
        invitation,
    } = foreign;
    vec![
        Req::new(Method::GET, format!("{t}/stores/{store}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/stores/{store}"),
            Some(json!({"name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/stores/{store}"), None),
        Req::new(Method::GET, format!("{t}/companies/{company}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/companies/{company}"),
            Some(json!({"name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/companies/{company}"), None),
        Req::new(Method::GET, format!("{t}/users/{user}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{user}"),
            Some(json!({"first_name": "Hijacked"})),
        ),
        Req::new(Method::DELETE, format!("{t}/users/{user}"), None),
        Req::new(Method::DELETE, format!("{t}/api-keys/{key_id}"), None),
        Req::new(Method::DELETE, format!("{t}/devices/{device}"), None),
        Req::new(
            Method::DELETE,
            format!("{t}/invitations/{invitation}"),
            None,
        ),
        Req::new(
            Method::POST,
            format!("{t}/devices"),
            Some(json!({"name": "Till", "store_id": store})),
        ),
        Req::new(Method::GET, format!("{t}/quotes/{quote}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/quotes/{quote}"),
            Some(json!({"status": "CLOSED"})),
        ),
        Req::new(Method::GET, format!("{t}/orders/{order}"), None),
        Req::new(
            Method::PATCH,
            format!("{t}/orders/{order}"),
            Some(json!({"status": "CANCELLED"})),
        ),
        // Foreign ids in bodies.
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "x1@example.com", "company_id": company})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "x2@example.com", "store_ids": [store]})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "x3@example.com", "default_store_id": store})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "x4@example.com", "company_id": own.company, "parent_id": user})),
        ),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{}", own.user),
            Some(json!({"company_id": company})),
        ),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{}", own.user),
            Some(json!({"parent_id": user})),
        ),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{}", own.user),
            Some(json!({"store_ids": [store]})),
        ),
        Req::new(
            Method::PATCH,
            format!("{t}/users/{}", own.user),
            Some(json!({"default_store_id": store})),
        ),
        Req::new(
            Method::PUT,
            format!("{t}/users/by-external-id/RETEN/newcomer"),
            Some(json!({"name": "Newcomer", "company_id": company})),
        ),
        Req::new(
            Method::PUT,
            format!("{t}/users/by-external-id/RETEN/newcomer"),
            Some(json!({"name": "Newcomer", "store_ids": [store]})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/api-keys"),
            Some(json!({"name": "x", "user_id": user})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/quotes"),
            Some(json!({"company_id": company, "owner_user_id": own.user, "reference": "x"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/quotes"),
            Some(json!({"company_id": own.company, "owner_user_id": user, "reference": "x"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/orders"),
            Some(json!({"company_id": company, "owner_user_id": own.user, "reference": "x"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/orders"),
            Some(json!({"company_id": own.company, "owner_user_id": user, "reference": "x"})),
        ),
        // Check: a user of another tenant, a store or company of another tenant.
        Req::new(
            Method::POST,
            format!("{t}/check"),
            Some(json!({"user_id": user, "permission": "VIEW_USERS"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/check"),
            Some(json!({"user_id": own.user, "permission": "USE_POS", "store_id": store})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/check"),
            Some(json!({"user_id": own.user, "permission": "VIEW_ORDERS", "company_id": company})),
        ),
    ]
}

async fn another_tenants_key_and_ids_answer_404_on_every_route(engine: Engine) {
    let app = TestApp::start(engine).await;
    let a = world(&app, "tenant-a", "shop_a").await;
    let b = world(&app, "tenant-b", "shop_b").await;
    let a_before = snapshot(&app, &a.tenant).await;

    // (a) B's keys (one with every permission, one bound to a tenant ADMIN
    // of B) on A's routes, with A's ids: exactly what they get for a tenant
    // that does not exist, and nothing of A.
    let b_admin = id(&app
        .user(
            &b.tenant,
            json!({"email": "root@tenant-b.example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let b_admin_key = app.user_key(&b.tenant, &b_admin).await;
    let b_before = snapshot(&app, &b.tenant).await;
    let on_a = tenant_routes(&a.tenant, &a.ids);
    let on_ghost = tenant_routes("ghost-tenant", &a.ids);
    let b_keys = [
        ("tenant B's key", b.key.as_str()),
        ("tenant B's ADMIN user's key", b_admin_key.as_str()),
    ];
    for ((who, b_key), (req, ghost)) in b_keys
        .iter()
        .flat_map(|k| on_a.iter().zip(&on_ghost).map(move |r| (k, r)))
    {
        let b_key = *b_key;
        let what = format!("{who}: {}", req.describe());
        let admin_only =
            req.path == format!("/v1/tenants/{}", a.tenant) && req.method != Method::GET;
        // PATCH and DELETE of a tenant are the admin token's: 403 whatever the tenant.
        let status = if admin_only { 403 } else { 404 };
        let real = expect_problem(req.send(&app, b_key).await, status, &what);
        let other = expect_problem(ghost.send(&app, b_key).await, status, &what);
        assert_eq!(
            real["detail"], other["detail"],
            "{what}: differs from an unknown tenant"
        );
        assert_eq!(
            real["errors"], other["errors"],
            "{what}: differs from an unknown tenant"
        );
        let text = real.to_string();
        for secret in [
            &a.email,
            &a.ids.user,
            &a.ids.company,
            &a.ids.quote,
            &a.ids.order,
            &a.ids.key_id,
            &a.ids.device,
            &a.ids.invitation,
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{what}: answer reveals {secret}: {text}"
            );
        }
        assert!(
            !text.contains("Tenant tenant-a"),
            "{what}: answer reveals A's name: {text}"
        );
    }

    // (b) A's own credentials on A's routes, naming B's ids: exactly what an
    // id that exists nowhere gets.
    let with_b = foreign_id_routes(&a.tenant, &a.ids, &b.ids);
    let with_ghost = foreign_id_routes(&a.tenant, &a.ids, &Ids::ghost());
    for token in [ADMIN, a.key.as_str()] {
        let who = if token == ADMIN {
            "admin token"
        } else {
            "tenant A's key"
        };
        for (req, ghost) in with_b.iter().zip(&with_ghost) {
            let what = format!("{who}, B's ids: {}", req.describe());
            let real = expect_problem(req.send(&app, token).await, 404, &what);
            let other = expect_problem(
                ghost.send(&app, token).await,
                404,
                &format!("{who}, unknown ids: {}", ghost.describe()),
            );
            assert_eq!(
                real["detail"], other["detail"],
                "{what}: differs from an unknown id"
            );
            assert!(
                !real.to_string().contains(&b.email),
                "{what}: reveals B's user"
            );
        }

        // Lists filtered by B's ids find nothing of A (and nothing of B).
        let t = format!("/v1/tenants/{}", a.tenant);
        for path in [
            format!("{t}/users?company_id={}", b.ids.company),
            format!("{t}/users?store_id={}", b.ids.store),
            format!("{t}/users?email={}", b.email),
            format!("{t}/users?external_id=ext-{}", b.tenant),
            format!("{t}/users?q=tenant-b"),
            format!("{t}/quotes?owner_user_id={}", b.ids.user),
            format!("{t}/quotes?company_id={}", b.ids.company),
            format!("{t}/orders?owner_user_id={}", b.ids.user),
            format!("{t}/orders?company_id={}", b.ids.company),
        ] {
            let page = expect_ok(
                app.get(&path, token).await,
                200,
                &format!("{who}: GET {path}"),
            );
            assert_eq!(
                page["data"],
                json!([]),
                "{who}: GET {path} found {}",
                page["data"]
            );
        }

        // A batch check answers each foreign item with its own 404.
        let batch = json!({"checks": [
            {"user_id": b.ids.user, "permission": "VIEW_USERS"},
            {"user_id": a.ids.user, "permission": "USE_POS", "store_id": b.ids.store},
            {"user_id": a.ids.user, "permission": "VIEW_ORDERS", "company_id": b.ids.company},
            {"user_id": a.ids.user, "permission": "USE_POS", "store_id": a.ids.store},
        ]});
        let answer = expect_ok(
            app.post(&format!("{t}/check"), token, batch).await,
            200,
            &format!("{who}: batch check"),
        );
        let results = answer["results"].as_array().expect("results");
        assert_eq!(results.len(), 4, "{answer}");
        for foreign in &results[..3] {
            assert_eq!(foreign["error"]["status"], 404, "{who}: {answer}");
            assert!(foreign.get("allowed").is_none(), "{who}: {answer}");
        }
        assert_eq!(results[3]["allowed"], true, "{who}: {answer}");
    }

    // A's key cannot see B's tenant itself either.
    let what = format!("tenant A's key: GET /v1/tenants/{}", b.tenant);
    expect_problem(
        app.get(&format!("/v1/tenants/{}", b.tenant), &a.key).await,
        404,
        &what,
    );

    // (c) Nothing changed, in either tenant.
    assert_eq!(
        snapshot(&app, &a.tenant).await,
        a_before,
        "tenant A changed"
    );
    assert_eq!(
        snapshot(&app, &b.tenant).await,
        b_before,
        "tenant B changed"
    );

    // The table is meaningful: A's key does succeed on A's own reads.
    for req in tenant_routes(&a.tenant, &a.ids)
        .iter()
        .filter(|r| r.method == Method::GET)
    {
        expect_ok(
            req.send(&app, &a.key).await,
            200,
            &format!("tenant A's key: {}", req.describe()),
        );
    }

    // (d) Uniqueness holds per tenant: A may reuse every value B holds, and
    // no conflict reveals that B holds it.
    let t = format!("/v1/tenants/{}", a.tenant);
    let b_company = app
        .post(
            &format!("/v1/tenants/{}/companies", b.tenant),
            ADMIN,
            json!({"name": "B2", "external_id": "co-1"}),
        )
        .await
        .expect(201);
    let b_before = snapshot(&app, &b.tenant).await;
    let reuse = [
        Req::new(
            Method::POST,
            format!("{t}/stores"),
            Some(json!({"id": b.ids.store, "code": b.ids.store, "name": "Like B's"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/companies"),
            Some(json!({"name": b_company["name"], "external_id": "co-1"})),
        ),
        Req::new(
            Method::PUT,
            format!("{t}/users/by-external-id/INTEGRATION/ext-{}", b.tenant),
            Some(json!({"name": "Like B's"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": b.email.to_uppercase(), "user_code": "1002"})),
        ),
        Req::new(
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": "third@example.com", "user_code": "1003"})),
        ),
    ];
    for req in &reuse {
        expect_ok(
            req.send(&app, &a.key).await,
            201,
            &format!("tenant A's key, reusing B's values: {}", req.describe()),
        );
    }
    assert_eq!(
        snapshot(&app, &b.tenant).await,
        b_before,
        "tenant B changed when A reused its values"
    );
}

/// What a route asks of a credential.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    /// Any credential of the tenant.
    Member,
    /// This tenant-level permission.
    Perm(&'static str),
}

struct Case {
    need: Need,
    req: Req,
    /// The status of success.
    ok: u16,
}

/// Things that a successful run deletes, made fresh for each run.
struct Victims {
    store: String,
    company: String,
    user: String,
    key_id: String,
    device: String,
    invitation: String,
}

async fn victims(app: &TestApp, tenant: &str, run: &str) -> Victims {
    let store = app.store(tenant, &format!("victim_{run}")).await;
    let company = app.company(tenant, &format!("Victim {run}")).await;
    let user = id(&app
        .user(
            tenant,
            json!({"email": format!("victim-{run}@example.com")}),
        )
        .await);
    let key = app
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            ADMIN,
            json!({"name": "victim", "permissions": ["VIEW_USERS"]}),
        )
        .await
        .expect(201);
    let device = app
        .post(
            &format!("/v1/tenants/{tenant}/devices"),
            ADMIN,
            json!({"name": format!("Victim {run}")}),
        )
        .await
        .expect(201);
    let invitation = app
        .post(
            &format!("/v1/tenants/{tenant}/invitations"),
            ADMIN,
            json!({"email": format!("victim-invitee-{run}@example.com")}),
        )
        .await
        .expect(201);
    Victims {
        store,
        company,
        user,
        key_id: id(&key),
        device: id(&device),
        invitation: id(&invitation),
    }
}

/// Every tenant route with the permission it needs and a request that
/// succeeds with it. `run` keeps created names unique between runs.
fn permission_cases(w: &World, v: &Victims, run: &str) -> Vec<Case> {
    use Need::*;
    let t = format!("/v1/tenants/{}", w.tenant);
    let Ids {
        store,
        company,
        user,
        quote,
        order,
        ..
    } = &w.ids;
    let case = |need, method, path: String, body: Option<Value>, ok| Case {
        need,
        req: Req::new(method, path, body),
        ok,
    };
    let record =
        json!({"company_id": company, "owner_user_id": user, "reference": format!("R-{run}")});
    vec![
        case(Member, Method::GET, t.clone(), None, 200),
        case(
            Perm("MANAGE_STORES"),
            Method::POST,
            format!("{t}/stores"),
            Some(json!({"code": format!("s_{run}"), "name": "S"})),
            201,
        ),
        case(Member, Method::GET, format!("{t}/stores"), None, 200),
        case(
            Member,
            Method::GET,
            format!("{t}/stores/{store}"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_STORES"),
            Method::PATCH,
            format!("{t}/stores/{store}"),
            Some(json!({"name": format!("Shop {run}")})),
            200,
        ),
        case(
            Perm("MANAGE_STORES"),
            Method::DELETE,
            format!("{t}/stores/{}", v.store),
            None,
            204,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::POST,
            format!("{t}/companies"),
            Some(json!({"name": format!("New {run}")})),
            201,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/companies"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/companies/{company}"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::PATCH,
            format!("{t}/companies/{company}"),
            Some(json!({"name": format!("Co {run}")})),
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::DELETE,
            format!("{t}/companies/{}", v.company),
            None,
            204,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::POST,
            format!("{t}/users"),
            Some(json!({"email": format!("new-{run}@example.com")})),
            201,
        ),
        case(
            Perm("VIEW_USERS"),
            Method::GET,
            format!("{t}/users"),
            None,
            200,
        ),
        case(
            Perm("VIEW_USERS"),
            Method::GET,
            format!("{t}/users/{user}"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::PATCH,
            format!("{t}/users/{user}"),
            Some(json!({"job_title": format!("Buyer {run}")})),
            200,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::DELETE,
            format!("{t}/users/{}", v.user),
            None,
            204,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::PUT,
            format!("{t}/users/by-external-id/INTEGRATION/erp-{run}"),
            Some(json!({"name": format!("ERP {run}")})),
            201,
        ),
        case(
            Perm("MANAGE_API_KEYS"),
            Method::POST,
            format!("{t}/api-keys"),
            // A key grants only what it holds (SPEC §7): here its own permission.
            Some(json!({"name": run, "permissions": ["MANAGE_API_KEYS"]})),
            201,
        ),
        case(
            Perm("MANAGE_API_KEYS"),
            Method::GET,
            format!("{t}/api-keys"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_API_KEYS"),
            Method::DELETE,
            format!("{t}/api-keys/{}", v.key_id),
            None,
            204,
        ),
        case(
            Perm("MANAGE_DEVICES"),
            Method::POST,
            format!("{t}/devices"),
            Some(json!({"name": format!("Till {run}"), "store_id": store})),
            201,
        ),
        case(
            Perm("MANAGE_DEVICES"),
            Method::GET,
            format!("{t}/devices"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_DEVICES"),
            Method::DELETE,
            format!("{t}/devices/{}", v.device),
            None,
            204,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::POST,
            format!("{t}/invitations"),
            // BLOCKED confers nothing, so MANAGE_USERS alone may invite it.
            Some(json!({"email": format!("invitee-{run}@example.com"), "tenant_role": "BLOCKED"})),
            201,
        ),
        case(
            Perm("VIEW_USERS"),
            Method::GET,
            format!("{t}/invitations"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_USERS"),
            Method::DELETE,
            format!("{t}/invitations/{}", v.invitation),
            None,
            204,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::POST,
            format!("{t}/quotes"),
            Some(record.clone()),
            201,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/quotes"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/quotes/{quote}"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::PATCH,
            format!("{t}/quotes/{quote}"),
            Some(json!({"reference": format!("Q {run}")})),
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::POST,
            format!("{t}/orders"),
            Some(record),
            201,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/orders"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::GET,
            format!("{t}/orders/{order}"),
            None,
            200,
        ),
        case(
            Perm("MANAGE_COMMERCES"),
            Method::PATCH,
            format!("{t}/orders/{order}"),
            Some(json!({"status": format!("SHIPPED_{run}")})),
            200,
        ),
        case(
            Perm("VIEW_USERS"),
            Method::POST,
            format!("{t}/check"),
            Some(json!({"user_id": user, "permission": "USE_POS"})),
            200,
        ),
        case(
            Perm("VIEW_USERS"),
            Method::POST,
            format!("{t}/check"),
            Some(
                json!({"checks": [{"user_id": user, "permission": "USE_POS", "store_id": store}]}),
            ),
            200,
        ),
        case(
            Perm("VIEW_AUDIT"),
            Method::GET,
            format!("{t}/events"),
            None,
            200,
        ),
    ]
}

/// Sends `case` and asserts it succeeds (with its success status) or is
/// refused with 403, as `allowed` says.
async fn expect_outcome(app: &TestApp, token: &str, who: &str, case: &Case, allowed: bool) {
    let what = format!("{who}: {} (needs {:?})", case.req.describe(), case.need);
    let reply = case.req.send(app, token).await;
    if allowed {
        let body = expect_ok(reply, case.ok, &what);
        if case.req.path.ends_with("/check") {
            let answer = if body["results"].is_array() {
                &body["results"][0]
            } else {
                &body
            };
            assert!(answer["allowed"].is_boolean(), "{what}: {body}");
        }
    } else {
        expect_problem(reply, 403, &what);
    }
}

async fn every_route_needs_its_permission(engine: Engine) {
    let app = TestApp::start(engine).await;
    let w = world(&app, "acme", "main").await;
    let t = w.tenant.clone();

    // Keys lacking exactly one permission, and a key with none: 403 on every
    // route that needs a permission; a key with none still reads the tenant
    // and its stores. Nothing changes meanwhile.
    let v = victims(&app, &t, "neg").await;
    let before = snapshot(&app, &t).await;
    let cases = permission_cases(&w, &v, "neg");
    let none = app.key(&t, &[]).await;
    for case in &cases {
        expect_outcome(
            &app,
            &none,
            "key without permissions",
            case,
            case.need == Need::Member,
        )
        .await;
    }
    for missing in TENANT_PERMISSIONS {
        let others: Vec<&str> = ALL.iter().copied().filter(|p| p != missing).collect();
        let key = app.key(&t, &others).await;
        for case in cases.iter().filter(|c| c.need == Need::Perm(missing)) {
            expect_outcome(
                &app,
                &key,
                &format!("key with all but {missing}"),
                case,
                false,
            )
            .await;
        }
    }
    // Reads never changed anything, refusals neither (an API key created in
    // between is the only difference).
    let after = snapshot(&app, &t).await;
    let keys_made = TENANT_PERMISSIONS.len() + 1;
    assert_eq!(
        after["api-keys"].as_array().unwrap().len(),
        before["api-keys"].as_array().unwrap().len() + keys_made
    );
    for part in [
        "tenant",
        "stores",
        "companies",
        "users",
        "quotes",
        "orders",
        "devices",
        "invitations",
    ] {
        assert_eq!(
            after[part], before[part],
            "{part} changed after refused requests"
        );
    }
    // The only events are the key creations of this test.
    let events = after["events"].as_array().unwrap();
    let new_events = &events[before["events"].as_array().unwrap().len()..];
    assert!(
        new_events.iter().all(|e| e["action"] == "api_key.created"),
        "{new_events:?}"
    );

    // A key with exactly the needed permission succeeds on each route.
    let v = victims(&app, &t, "exact").await;
    let none = app.key(&t, &[]).await;
    for case in permission_cases(&w, &v, "exact") {
        let token = match case.need {
            Need::Member => none.clone(),
            Need::Perm(p) => app.key(&t, &[p]).await,
        };
        expect_outcome(&app, &token, "key with exactly the permission", &case, true).await;
    }

    // Keys bound to users act with the user's permissions.
    // Tenant ADMIN: everything in its tenant.
    let admin_user = id(&app
        .user(
            &t,
            json!({"email": "admin@example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let admin_key = app.user_key(&t, &admin_user).await;
    let v = victims(&app, &t, "adm").await;
    for case in permission_cases(&w, &v, "adm") {
        expect_outcome(&app, &admin_key, "tenant ADMIN user's key", &case, true).await;
    }

    // BACKOFFICE: VIEW_USERS but not MANAGE_USERS (nor any other native permission).
    let backoffice = id(&app
        .user(
            &t,
            json!({"email": "office@example.com", "tenant_role": "BACKOFFICE"}),
        )
        .await);
    let backoffice_key = app.user_key(&t, &backoffice).await;
    // No role at all, a partner manager, and a commerce OWNER: no tenant-level permission.
    let plain = id(&app
        .user(
            &t,
            json!({"email": "plain@example.com", "tenant_role": "ACCESS"}),
        )
        .await);
    let partner = id(&app.user(&t, json!({"email": "partner@example.com", "partner_role": "manager", "store_ids": [w.ids.store]})).await);
    let owner = id(&app
        .user(&t, json!({"email": "owner2@example.com", "company_id": w.ids.company, "roles": ["OWNER", "ADMIN"], "org_role": "admin"}))
        .await);
    // BLOCKED overrides every other role; an INACTIVE user holds nothing.
    let blocked = id(&app
        .user(
            &t,
            json!({"email": "blocked@example.com", "tenant_role": "BLOCKED", "partner_role": "manager",
                   "store_ids": [w.ids.store], "company_id": w.ids.company, "roles": ["OWNER"]}),
        )
        .await);
    let inactive = id(&app
        .user(
            &t,
            json!({"email": "gone@example.com", "tenant_role": "ADMIN", "status": "INACTIVE"}),
        )
        .await);
    // A user deactivated after its key was made.
    let demoted = id(&app
        .user(
            &t,
            json!({"email": "demoted@example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let demoted_key = app.user_key(&t, &demoted).await;
    app.patch(
        &format!("/v1/tenants/{t}/users/{demoted}"),
        ADMIN,
        json!({"status": "INACTIVE"}),
    )
    .await
    .expect(200);
    // A user blocked after its key was made.
    let rebuffed = id(&app
        .user(
            &t,
            json!({"email": "rebuffed@example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let rebuffed_key = app.user_key(&t, &rebuffed).await;
    app.patch(
        &format!("/v1/tenants/{t}/users/{rebuffed}"),
        ADMIN,
        json!({"tenant_role": "BLOCKED"}),
    )
    .await
    .expect(200);

    // A user deleted after its key was made.
    let deleted = id(&app
        .user(
            &t,
            json!({"email": "deleted@example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let deleted_key = app.user_key(&t, &deleted).await;
    app.delete(&format!("/v1/tenants/{t}/users/{deleted}"), ADMIN)
        .await
        .expect(204);

    let v = victims(&app, &t, "users").await;
    let before = snapshot(&app, &t).await;
    let cases = permission_cases(&w, &v, "users");
    for case in &cases {
        let reads_users = matches!(case.need, Need::Member | Need::Perm("VIEW_USERS"));
        expect_outcome(
            &app,
            &backoffice_key,
            "BACKOFFICE user's key",
            case,
            reads_users,
        )
        .await;
    }
    for (who, user) in [
        ("ACCESS user's key", &plain),
        ("partner manager's key", &partner),
        ("commerce OWNER's key", &owner),
    ] {
        let key = app.user_key(&t, user).await;
        for case in &cases {
            expect_outcome(&app, &key, who, case, case.need == Need::Member).await;
        }
    }
    // A BLOCKED or INACTIVE user's key is refused on every route that needs
    // a permission...
    let blocked_key = app.user_key(&t, &blocked).await;
    let inactive_key = app.user_key(&t, &inactive).await;
    let refused = [
        ("BLOCKED user's key", &blocked_key),
        ("INACTIVE user's key", &inactive_key),
        ("key of a user deactivated later", &demoted_key),
        ("key of a user blocked later", &rebuffed_key),
    ];
    for (who, key) in refused {
        for case in cases.iter().filter(|c| c.need != Need::Member) {
            expect_outcome(&app, key, who, case, false).await;
        }
    }
    let after = snapshot(&app, &t).await;
    for part in [
        "tenant",
        "stores",
        "companies",
        "users",
        "quotes",
        "orders",
        "devices",
        "invitations",
    ] {
        assert_eq!(
            after[part], before[part],
            "{part} changed after refused requests"
        );
    }
    // ...and on the reads open to any credential of the tenant too: a key
    // acts as exactly its user, and a blocked or inactive user may do
    // nothing (SPEC §1, §2: Roster rejects a token at once when its user is
    // deactivated or blocked).
    let mut allowed = Vec::new();
    for (who, key) in refused {
        for case in cases.iter().filter(|c| c.need == Need::Member) {
            let reply = case.req.send(&app, key).await;
            if reply.status == 403 {
                reply.problem(403);
            } else {
                allowed.push(format!(
                    "{who}: {} -> {}",
                    case.req.describe(),
                    reply.status
                ));
            }
        }
    }
    // A deleted user's key acts as no one: refused (401 or 403) everywhere.
    for case in &cases {
        let reply = case.req.send(&app, &deleted_key).await;
        if matches!(reply.status, 401 | 403) {
            let status = reply.status;
            reply.problem(status);
        } else {
            allowed.push(format!(
                "key of a deleted user: {} -> {}",
                case.req.describe(),
                reply.status
            ));
        }
    }
    assert!(
        allowed.is_empty(),
        "keys of blocked, inactive or deleted users were not refused:\n{}",
        allowed.join("\n")
    );
}

async fn admin_only_routes_refuse_api_keys(engine: Engine) {
    let app = TestApp::start(engine).await;
    let w = world(&app, "acme", "main").await;
    let t = w.tenant.clone();
    let admin_user = id(&app
        .user(
            &t,
            json!({"email": "admin@example.com", "tenant_role": "ADMIN"}),
        )
        .await);
    let admin_user_key = app.user_key(&t, &admin_user).await;
    let account = app
        .post(
            "/v1/accounts",
            ADMIN,
            json!({"email": "known@example.com", "password": PASSWORD}),
        )
        .await
        .expect(201);
    let account_id = id(&account);

    let routes = [
        Req::new(
            Method::POST,
            "/v1/tenants".into(),
            Some(json!({"uid": "mine", "name": "Mine"})),
        ),
        Req::new(Method::GET, "/v1/tenants".into(), None),
        Req::new(
            Method::PATCH,
            format!("/v1/tenants/{t}"),
            Some(json!({"name": "Hijacked"})),
        ),
        Req::new(
            Method::POST,
            "/v1/accounts".into(),
            Some(json!({"email": "new@example.com", "password": PASSWORD})),
        ),
        Req::new(Method::GET, format!("/v1/accounts/{account_id}"), None),
        Req::new(Method::DELETE, format!("/v1/tenants/{t}"), None),
    ];
    let tenants_before = app.get("/v1/tenants", ADMIN).await.expect(200);
    let before = snapshot(&app, &t).await;
    for (who, token) in [
        ("all-permissions key", w.key.as_str()),
        ("tenant ADMIN user's key", admin_user_key.as_str()),
    ] {
        for req in &routes {
            expect_problem(
                req.send(&app, token).await,
                403,
                &format!("{who}: {}", req.describe()),
            );
        }
    }
    assert_eq!(
        app.get("/v1/tenants", ADMIN).await.expect(200),
        tenants_before,
        "a tenant was created or changed"
    );
    assert_eq!(snapshot(&app, &t).await, before, "the tenant changed");
    app.get("/v1/tenants/mine", ADMIN).await.problem(404);

    // The admin token may do each of them.
    let expected = [201, 200, 200, 201, 200, 204];
    for (req, status) in routes.iter().zip(expected) {
        let body = expect_ok(
            req.send(&app, ADMIN).await,
            status,
            &format!("admin token: {}", req.describe()),
        );
        if req.path == format!("/v1/accounts/{account_id}") {
            assert_eq!(body["email"], "known@example.com");
        }
    }
    app.get(&format!("/v1/tenants/{t}"), ADMIN)
        .await
        .problem(404);
}
