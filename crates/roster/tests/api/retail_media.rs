//! Organisation user upsert (seed 004).

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    creates_then_updates_an_organisation_user,
    validation_errors_answer_the_seeds_shape,
    the_organisation_must_be_the_credentials_and_the_caller_allowed,
);

fn path(org: &str) -> String {
    format!("/retail-media/users/{org}/upsert-user")
}

fn jane() -> Value {
    json!({
        "firstName": "Jane", "lastName": "Doe", "middleName": "Q", "userRole": "manager",
        "password": PASSWORD, "email": "jane.doe@example.com", "mobile": "0412 345 678", "countryCode": "AU"
    })
}

#[track_caller]
fn seed_400(reply: Reply) -> Vec<String> {
    let body = reply.expect(400);
    assert_eq!(
        body["type"], "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "{body}"
    );
    assert_eq!(body["title"], "One or more validation errors occurred.");
    assert_eq!(body["status"], 400);
    assert!(body["traceId"].as_str().is_some_and(|t| !t.is_empty()));
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

async fn creates_then_updates_an_organisation_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let org = id(&app
        .post(
            &format!("/v1/tenants/{t}/companies"),
            ADMIN,
            json!({"name": "Supplier", "kind": "SUPPLIER"}),
        )
        .await
        .expect(201));
    let created = app.post(&path(&org), ADMIN, jane()).await.expect(200);
    assert_eq!(created.as_object().unwrap().len(), 2, "{created}");
    assert_eq!(created["email"], "jane.doe@example.com");
    let user = app
        .get(&format!("/v1/tenants/{t}/users/{}", id(&created)), ADMIN)
        .await
        .expect(200);
    assert_eq!(user["company_id"], org);
    assert_eq!(user["org_role"], "manager");
    assert_eq!(user["mobile"], "+61412345678", "stored as E.164");
    assert_eq!(user["country_code"], "AU");
    assert_eq!(user["middle_name"], "Q");
    assert_eq!(user["has_password"], true);
    // A calling code works as the country context too; id updates that user.
    let mut update = jane();
    update["id"] = created["id"].clone();
    update["firstName"] = json!("Janet");
    update["userRole"] = json!("admin");
    update["mobile"] = json!("0412 999 888");
    update["countryCode"] = json!("+61");
    update.as_object_mut().unwrap().remove("password");
    let updated = app.post(&path(&org), ADMIN, update).await.expect(200);
    assert_eq!(updated["id"], created["id"]);
    let user = app
        .get(&format!("/v1/tenants/{t}/users/{}", id(&created)), ADMIN)
        .await
        .expect(200);
    assert_eq!(user["first_name"], "Janet");
    assert_eq!(user["org_role"], "admin");
    assert_eq!(user["mobile"], "+61412999888");
    assert_eq!(user["has_password"], true, "the password is kept");
    // "id": null creates; a second user with the same email conflicts (problem+json).
    let mut again = jane();
    again["id"] = Value::Null;
    app.post(&path(&org), ADMIN, again).await.problem(409);
    // An id that is not a user of this organisation: 404.
    let other_org = app.company(&t, "Other").await;
    let mut foreign = jane();
    foreign["id"] = created["id"].clone();
    app.post(&path(&other_org), ADMIN, foreign)
        .await
        .problem(404);
    let mut ghost = jane();
    ghost["id"] = json!(uuid::Uuid::now_v7());
    app.post(&path(&org), ADMIN, ghost).await.problem(404);
    // The organisation role acts in the organisation.
    let check = app
        .post(
            &format!("/v1/tenants/{t}/check"),
            ADMIN,
            json!({"user_id": created["id"], "permission": "MANAGE_ORG_USERS", "company_id": org}),
        )
        .await
        .expect(200);
    assert_eq!(check["allowed"], true);
}

async fn validation_errors_answer_the_seeds_shape(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let org = app.company(&t, "Retailer").await;
    let errors = seed_400(app.post(&path(&org), ADMIN, json!({})).await);
    for field in [
        "firstName",
        "lastName",
        "userRole",
        "email",
        "mobile",
        "countryCode",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{field} not named in {errors:?}"
        );
    }
    for (change, field) in [
        (json!({"userRole": "owner"}), "userRole"),
        (json!({"email": "jane"}), "email"),
        (json!({"mobile": "12"}), "mobile"),
        (json!({"countryCode": "Australia"}), "countryCode"),
        (json!({"countryCode": "+999"}), "countryCode"),
        (json!({"firstName": 5}), "firstName"),
    ] {
        let mut body = jane();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let errors = seed_400(app.post(&path(&org), ADMIN, body).await);
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{field} not named in {errors:?}"
        );
    }
    let mut weak = jane();
    weak["password"] = json!("password1234");
    let errors = seed_400(app.post(&path(&org), ADMIN, weak).await);
    assert!(
        errors.iter().any(|e| e.contains("password"))
            && !errors.iter().any(|e| e.contains("password1234"))
    );
    let mut missing = jane();
    missing.as_object_mut().unwrap().remove("password");
    let errors = seed_400(app.post(&path(&org), ADMIN, missing).await);
    assert!(errors.iter().any(|e| e.contains("password")));
    let malformed = app
        .raw(
            reqwest::Method::POST,
            &path(&org),
            Some(ADMIN),
            "application/json",
            b"{\"firstName\":".to_vec(),
        )
        .await;
    seed_400(malformed);
    let users = app
        .get(&format!("/v1/tenants/{t}/users"), ADMIN)
        .await
        .expect(200);
    assert_eq!(users["data"], json!([]), "nothing was created");
}

async fn the_organisation_must_be_the_credentials_and_the_caller_allowed(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let org = app.company(&t, "Mine").await;
    let foreign_org = app.company(&other, "Theirs").await;
    let manager = app.key(&t, &["MANAGE_USERS"]).await;
    let weak = app.key(&t, &["VIEW_USERS"]).await;
    app.post(&path(&org), &manager, jane()).await.expect(200);
    app.post(&path(&org), &weak, jane()).await.problem(403);
    app.post(&path(&foreign_org), &manager, jane())
        .await
        .problem(404);
    app.post(&path(&uuid::Uuid::now_v7().to_string()), ADMIN, jane())
        .await
        .problem(404);
    // With the admin token the tenant is the organisation's.
    let mut other_jane = jane();
    other_jane["email"] = json!("jane@other.example");
    let made = app
        .post(&path(&foreign_org), ADMIN, other_jane)
        .await
        .expect(200);
    app.get(&format!("/v1/tenants/{other}/users/{}", id(&made)), ADMIN)
        .await
        .expect(200);
    // An organisation admin manages its own organisation's users only.
    let org_admin = app
        .user(&t, json!({"company_id": org, "org_role": "admin"}))
        .await;
    let org_admin_key = app.user_key(&t, &id(&org_admin)).await;
    let mut bo = jane();
    bo["email"] = json!("bo@example.com");
    app.post(&path(&org), &org_admin_key, bo.clone())
        .await
        .expect(200);
    let second_org = app.company(&t, "Second").await;
    app.post(&path(&second_org), &org_admin_key, bo)
        .await
        .problem(403);
    let member = app
        .user(&t, json!({"company_id": org, "org_role": "member"}))
        .await;
    let member_key = app.user_key(&t, &id(&member)).await;
    app.post(&path(&org), &member_key, jane())
        .await
        .problem(403);
    app.call(reqwest::Method::POST, &path(&org), None, Some(jane()))
        .await
        .problem(401);
}
