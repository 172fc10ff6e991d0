//! Company SCIM tokens (issue #11, SPEC §8): `POST
//! /v1/tenants/{t}/companies/{id}/scim-tokens` (MANAGE_COMMERCES) makes a
//! token that provisions only that company's users and groups at
//! `/scim/v2`: new users join the company, other users and groups are not
//! found, and the token is no credential anywhere else. Listed without
//! secrets, revocable, kept apart by tenant.

use serde_json::json;

use crate::on_both_engines;
use crate::scim::{person, scim_error, urlencode};
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(
    a_company_token_provisions_only_its_company,
    company_tokens_are_made_listed_and_revoked_under_manage_commerces,
);

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn tokens(t: &str, company: &str) -> String {
    format!("/v1/tenants/{t}/companies/{company}/scim-tokens")
}

async fn token_of(app: &TestApp, t: &str, company: &str) -> (String, String) {
    let body = app
        .call(
            reqwest::Method::POST,
            &tokens(t, company),
            Some(ADMIN),
            None,
        )
        .await
        .expect(201);
    (id(&body), body["token"].as_str().unwrap().to_string())
}

async fn a_company_token_provisions_only_its_company(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let buyer = app.company(&t, "Buyer").await;
    let other = app.company(&t, "Other").await;
    let outsider = id(&app
        .user(
            &t,
            json!({"email": "out@other.example", "company_id": other}),
        )
        .await);
    let loner = id(&app.user(&t, json!({"email": "lone@acme.example"})).await);
    let (_, token) = token_of(&app, &t, &buyer).await;
    assert!(token.starts_with("rscim_"), "{token}");

    // A user it provisions joins the company.
    let ann = id(&app
        .post(
            "/scim/v2/Users",
            &token,
            person("ann@buyer.example", "Ann", "Lee", "ann@buyer.example"),
        )
        .await
        .expect(201));
    let native = app
        .get(&format!("/v1/tenants/{t}/users/{ann}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(native["company_id"], buyer.as_str());

    // A manager named by `$ref` alone, and an OTHER phone kept primary.
    let mut bo = person("bo@buyer.example", "Bo", "Ng", "bo@buyer.example");
    bo["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        json!({"manager": {"$ref": format!("http://roster/scim/v2/Users/{ann}")}});
    bo["phoneNumbers"] = json!([{"value": "12345", "type": "work", "primary": true}]);
    bo["schemas"] = json!([
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ]);
    let bo = app.post("/scim/v2/Users", &token, bo).await.expect(201);
    assert_eq!(
        bo["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        ann.as_str(),
        "{bo}"
    );
    assert_eq!(bo["phoneNumbers"][0]["primary"], true, "{bo}");
    app.delete(&format!("/scim/v2/Users/{}", id(&bo)), &token)
        .await
        .expect(204);

    // It sees only its company's users.
    let listed = app.get("/scim/v2/Users", &token).await.expect(200);
    assert_eq!(listed["totalResults"], 1, "{listed}");
    assert_eq!(listed["Resources"][0]["id"], ann.as_str());
    let filter = urlencode("userName eq \"out@other.example\"");
    let found = app
        .get(&format!("/scim/v2/Users?filter={filter}"), &token)
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 0);
    for user in [&outsider, &loner] {
        let path = format!("/scim/v2/Users/{user}");
        scim_error(app.get(&path, &token).await, 404, None);
        let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]});
        scim_error(app.patch(&path, &token, deactivate).await, 404, None);
        scim_error(app.delete(&path, &token).await, 404, None);
    }
    let still = app
        .get(&format!("/v1/tenants/{t}/users/{outsider}"), ADMIN)
        .await
        .expect(200);
    assert_eq!(still["status"], "ACTIVE");
    // Its own users it deactivates.
    let deactivated = app
        .patch(
            &format!("/scim/v2/Users/{ann}"),
            &token,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await
        .expect(200);
    assert_eq!(deactivated["active"], false);

    // Its groups are its company's; other groups and users are out of reach.
    let group = app
        .post(
            "/scim/v2/Groups",
            &token,
            json!({"schemas": [GROUP], "displayName": "Buyers", "members": [{"value": ann}]}),
        )
        .await
        .expect(201);
    let native = app
        .get(&format!("/v1/tenants/{t}/groups/{}", id(&group)), ADMIN)
        .await
        .expect(200);
    assert_eq!(native["company_id"], buyer.as_str());
    scim_error(
        app.post(
            "/scim/v2/Groups",
            &token,
            json!({"schemas": [GROUP], "displayName": "Mixed", "members": [{"value": outsider}]}),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    let tenant_wide = id(&app
        .post(
            &format!("/v1/tenants/{t}/groups"),
            ADMIN,
            json!({"name": "Staff"}),
        )
        .await
        .expect(201));
    scim_error(
        app.get(&format!("/scim/v2/Groups/{tenant_wide}"), &token)
            .await,
        404,
        None,
    );
    let groups = app.get("/scim/v2/Groups", &token).await.expect(200);
    assert_eq!(groups["totalResults"], 1, "{groups}");
    // A tenant key sees the whole tenant.
    let key = app.key(&t, &["MANAGE_USERS", "VIEW_USERS"]).await;
    let all = app.get("/scim/v2/Users", &key).await.expect(200);
    assert_eq!(all["totalResults"], 3, "{all}");

    // The token is no credential anywhere else.
    for path in [format!("/v1/tenants/{t}/users"), format!("/v1/tenants/{t}")] {
        app.get(&path, &token).await.problem(401);
    }
}

async fn company_tokens_are_made_listed_and_revoked_under_manage_commerces(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let buyer = app.company(&t, "Buyer").await;
    let other = app.company(&t, "Other").await;
    let users_only = app.key(&t, &["MANAGE_USERS"]).await;
    let p = app
        .call(
            reqwest::Method::POST,
            &tokens(&t, &buyer),
            Some(&users_only),
            None,
        )
        .await
        .problem(403);
    assert!(
        p["detail"].as_str().unwrap().contains("MANAGE_COMMERCES"),
        "{p}"
    );
    let commerces = app.key(&t, &["MANAGE_COMMERCES"]).await;
    let made = app
        .call(
            reqwest::Method::POST,
            &tokens(&t, &buyer),
            Some(&commerces),
            None,
        )
        .await
        .expect(201);
    let (token_id, token) = (id(&made), made["token"].as_str().unwrap().to_string());
    assert_eq!(made["company_id"], buyer.as_str());
    app.get("/scim/v2/Users", &token).await.expect(200);

    // Listed without secrets, under its company only.
    let listed = app.get(&tokens(&t, &buyer), &commerces).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], token_id.as_str());
    assert!(listed["data"][0].get("token").is_none(), "{listed}");
    assert!(!listed.to_string().contains(&token));
    let theirs = app.get(&tokens(&t, &other), &commerces).await.expect(200);
    assert_eq!(theirs["data"], json!([]));
    app.delete(&format!("{}/{token_id}", tokens(&t, &other)), &commerces)
        .await
        .problem(404);
    // Only its hash is stored.
    let stored = app.rows_as_text("SELECT token_hash FROM scim_tokens").await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token[6..]), "the secret is not stored");

    // Another tenant's credential, or company, is not found.
    let b = app.tenant("bolt").await;
    let b_key = app.key(&b, &["MANAGE_COMMERCES"]).await;
    app.get(&tokens(&t, &buyer), &b_key).await.problem(404);
    app.call(
        reqwest::Method::POST,
        &tokens(&b, &buyer),
        Some(&b_key),
        None,
    )
    .await
    .problem(404);
    app.call(
        reqwest::Method::POST,
        &tokens(&t, &uuid::Uuid::now_v7().to_string()),
        Some(ADMIN),
        None,
    )
    .await
    .problem(404);

    // Revoked: it stops on its next request.
    app.delete(&format!("{}/{token_id}", tokens(&t, &buyer)), &commerces)
        .await
        .expect(204);
    scim_error(app.get("/scim/v2/Users", &token).await, 401, None);
    app.delete(&format!("{}/{token_id}", tokens(&t, &buyer)), &commerces)
        .await
        .problem(404);
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
    for action in ["scim_token.created", "scim_token.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
