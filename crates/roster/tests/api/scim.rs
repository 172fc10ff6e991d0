//! SCIM 2.0 at `/scim/v2` (issue #11, SPEC §8): discovery, the User
//! resource mapped onto users and contacts, filters translated to SQL,
//! sorting, paging, projections, PUT, PATCH (with Okta's and Entra ID's
//! forms), ETags, SCIM errors, permissions and tenant isolation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    discovery_says_what_is_supported,
    a_user_is_created_with_its_contacts_and_read_back,
    user_names_are_unique_without_case,
    filters_are_answered_by_the_database,
    lists_sort_page_and_project,
    put_replaces_and_versions_guard_it,
    patch_takes_the_forms_identity_providers_send,
    deactivating_ends_sessions_and_deleting_removes,
    bad_requests_get_scim_errors,
    credentials_rights_and_tenants_are_kept_apart,
    a_user_and_its_contacts_are_written_together,
);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM error with this status (and `scimType`, when given).
#[track_caller]
pub(crate) fn scim_error(reply: Reply, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/scim+json",
        "body: {}",
        reply.body
    );
    let body = reply.body;
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    if let Some(scim_type) = scim_type {
        assert_eq!(body["scimType"], scim_type, "{body}");
    }
    body
}

pub(crate) struct Scim {
    pub(crate) app: TestApp,
    pub(crate) tenant: String,
    pub(crate) key: String,
}

pub(crate) async fn scim(engine: Engine) -> Scim {
    let app = TestApp::start(engine).await;
    let tenant = app.tenant("acme").await;
    let key = app.key(&tenant, &["MANAGE_USERS", "VIEW_USERS"]).await;
    Scim { app, tenant, key }
}

impl Scim {
    pub(crate) async fn create(&self, body: Value) -> Value {
        self.app
            .post("/scim/v2/Users", &self.key, body)
            .await
            .expect(201)
    }

    async fn list(&self, query: &str) -> Value {
        self.app
            .get(&format!("/scim/v2/Users?{query}"), &self.key)
            .await
            .expect(200)
    }

    /// The userNames a filter finds, sorted.
    async fn found(&self, filter: &str) -> Vec<String> {
        let encoded = urlencode(filter);
        let list = self.list(&format!("filter={encoded}")).await;
        let mut names: Vec<String> = list["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(list["totalResults"], names.len(), "{list}");
        names
    }
}

pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn person(user_name: &str, given: &str, family: &str, email: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email, "type": "work", "primary": true}],
    })
}

async fn discovery_says_what_is_supported(engine: Engine) {
    let app = TestApp::start(engine).await;
    // Discovery needs no credentials and names nothing of any tenant.
    let reply = app
        .call(Method::GET, "/scim/v2/ServiceProviderConfig", None, None)
        .await;
    assert_eq!(reply.headers["content-type"], "application/scim+json");
    let config = reply.expect(200);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 500);
    assert_eq!(config["sort"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    let types = app.get_public("/scim/v2/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
    let group_type = app.get_public("/scim/v2/ResourceTypes/Group").await;
    assert_eq!(group_type["schema"], GROUP);
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    let user_type = app.get_public("/scim/v2/ResourceTypes/User").await;
    assert_eq!(user_type["schema"], USER);
    let schemas = app.get_public("/scim/v2/Schemas").await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER, ENTERPRISE, GROUP]);
    let group_schema = app.get_public(&format!("/scim/v2/Schemas/{GROUP}")).await;
    assert_eq!(group_schema["attributes"][0]["name"], "displayName");
    let user_schema = app.get_public(&format!("/scim/v2/Schemas/{USER}")).await;
    let user_name = user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    let missing = app
        .call(Method::GET, "/scim/v2/Schemas/urn:nope", None, None)
        .await;
    scim_error(missing, 404, None);
    let nowhere = app.call(Method::GET, "/scim/v2/Nope", None, None).await;
    scim_error(nowhere, 404, None);
}

async fn a_user_is_created_with_its_contacts_and_read_back(engine: Engine) {
    let s = scim(engine).await;
    let manager = s
        .create(person("boss@acme.example", "Bo", "Ss", "boss@acme.example"))
        .await;
    let reply = s
        .app
        .post(
            "/scim/v2/Users",
            &s.key,
            json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "ann@acme.example",
                "externalId": "okta-00u1",
                "name": {"givenName": "Ann", "familyName": "Lee", "middleName": "Q"},
                "displayName": "Ann Lee",
                "title": "Buyer",
                "preferredLanguage": "en",
                "active": true,
                "password": PASSWORD,
                "emails": [
                    {"value": "ann.private@example.com", "type": "home"},
                    {"value": "Ann@Acme.example", "type": "work", "primary": true},
                ],
                "phoneNumbers": [
                    {"value": "tel:+61-412-345-678", "type": "mobile", "primary": true},
                    {"value": "ext. 42", "type": "work"},
                ],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/scim+json");
    let etag = reply.headers["etag"].to_str().unwrap().to_string();
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let user = reply.body;
    let uid = id(&user);
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{uid}")),
        "{location}"
    );
    assert_eq!(user["meta"]["version"], etag);
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(user["meta"]["location"], location);
    assert_eq!(user["userName"], "ann@acme.example");
    assert_eq!(user["externalId"], "okta-00u1");
    assert_eq!(user["name"]["givenName"], "Ann");
    assert_eq!(user["name"]["formatted"], "Ann Q Lee");
    // `name.formatted` given is the user's full `name`, kept as given.
    let formal = s
        .create(json!({"userName": "dr", "name": {"formatted": "Dr. Ruth K. Westheimer", "givenName": "Ruth"}}))
        .await;
    assert_eq!(formal["name"]["formatted"], "Dr. Ruth K. Westheimer");
    assert_eq!(user["displayName"], "Ann Lee");
    assert_eq!(user["title"], "Buyer");
    assert_eq!(user["active"], true);
    assert!(user.get("password").is_none(), "{user}");
    assert_eq!(user["schemas"], json!([USER]));
    let emails = user["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2, "{user}");
    let primary: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primary.len(), 1);
    assert_eq!(primary[0]["value"], "Ann@Acme.example");
    let phones = user["phoneNumbers"].as_array().unwrap();
    assert!(
        phones
            .iter()
            .any(|p| p["value"] == "+61412345678" && p["primary"] == true),
        "{user}"
    );
    // A number that is no E.164 number is kept (as an OTHER contact) and
    // shown; a value sent without `primary` is not made primary.
    assert!(
        phones
            .iter()
            .any(|p| p["value"] == "ext. 42" && p["primary"] == false),
        "{user}"
    );
    assert!(
        emails
            .iter()
            .any(|e| e["value"] == "ann.private@example.com" && e["primary"] == false),
        "{user}"
    );
    // The same through GET, and through the native API: the primary email
    // is the user's email, the external id's source is SCIM, the manager
    // the parent; an unparseable phone is kept as an OTHER contact.
    let read = s.app.get(&format!("/scim/v2/Users/{uid}"), &s.key).await;
    assert_eq!(read.headers["etag"].to_str().unwrap(), etag);
    assert_eq!(read.body, user);
    let native = s
        .app
        .get(&format!("/v1/tenants/{}/users/{uid}", s.tenant), ADMIN)
        .await
        .expect(200);
    assert_eq!(native["email"], "Ann@Acme.example");
    assert_eq!(native["login"], "ann@acme.example");
    assert_eq!(native["source"], "SCIM");
    assert_eq!(native["external_id"], "okta-00u1");
    // The manager is the parent in a company's hierarchy (SPEC §8): a
    // tenant's user outside any company has none, as on every surface.
    let managed = s
        .app
        .post(
            "/scim/v2/Users",
            &s.key,
            json!({"userName": "m2", ENTERPRISE: {"manager": {"value": id(&manager)}}}),
        )
        .await;
    let refusal = scim_error(managed, 400, Some("invalidValue"));
    assert!(
        refusal["detail"].as_str().unwrap().contains("same company"),
        "{refusal}"
    );
    assert_eq!(native["mobile"], "+61412345678");
    assert_eq!(native["job_title"], "Buyer");
    let kinds = s
        .app
        .rows_as_text(&format!(
            "SELECT contact_type || ':' || value || ':' || source FROM contacts WHERE user_id = \
             '{uid}' AND is_active ORDER BY contact_type, value"
        ))
        .await;
    assert_eq!(
        kinds,
        [
            "EMAIL:Ann@Acme.example:SCIM",
            "EMAIL:ann.private@example.com:SCIM",
            "OTHER:ext. 42:SCIM",
            "PHONE:+61412345678:SCIM",
        ]
    );
    // A user made elsewhere shows its email as its one primary email.
    let made = s
        .app
        .user(
            &s.tenant,
            json!({"email": "native@acme.example", "first_name": "Na"}),
        )
        .await;
    let seen = s
        .app
        .get(&format!("/scim/v2/Users/{}", id(&made)), &s.key)
        .await
        .expect(200);
    assert_eq!(seen["userName"], "native@acme.example");
    assert_eq!(
        seen["emails"],
        json!([{"value": "native@acme.example", "type": "work", "primary": true}])
    );
}

async fn user_names_are_unique_without_case(engine: Engine) {
    let s = scim(engine).await;
    s.create(person("Dana", "Dana", "Doe", "dana@acme.example"))
        .await;
    let again = s
        .app
        .post(
            "/scim/v2/Users",
            &s.key,
            person("dANA", "Dana", "Two", "dana2@acme.example"),
        )
        .await;
    scim_error(again, 409, Some("uniqueness"));
    // An email another user holds is a conflict too.
    let same_email = s
        .app
        .post(
            "/scim/v2/Users",
            &s.key,
            person("other", "O", "T", "DANA@acme.example"),
        )
        .await;
    scim_error(same_email, 409, Some("uniqueness"));
    let list = s.list("filter=userName%20eq%20%22DANA%22").await;
    assert_eq!(list["totalResults"], 1);
}

async fn filters_are_answered_by_the_database(engine: Engine) {
    let s = scim(engine).await;
    let ann = s
        .create(json!({
            "userName": "ann", "externalId": "x-1", "title": "Buyer",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "ann@a.example", "primary": true}, {"value": "ann@b.example"}],
            "phoneNumbers": [{"value": "+61412345678"}],
        }))
        .await;
    s.create(json!({
        "userName": "bob", "externalId": "x-2",
        "name": {"givenName": "Bob", "familyName": "Leeson"},
        "emails": [{"value": "bob@b.example", "primary": true}],
    }))
    .await;
    s.create(json!({
        "userName": "cy", "active": false, "displayName": "Cy 100%_",
        "name": {"givenName": "Cy", "familyName": "Moss"},
    }))
    .await;
    // A user of another tenant never matches.
    let other = s.app.tenant("other").await;
    let other_key = s.app.key(&other, &["MANAGE_USERS", "VIEW_USERS"]).await;
    s.app
        .post(
            "/scim/v2/Users",
            &other_key,
            person("ann2", "Ann", "Lee", "ann@a.example"),
        )
        .await
        .expect(201);

    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ANN""#, &["ann"]),
        (r#"userName ne "ann""#, &["bob", "cy"]),
        (r#"name.familyName sw "lee""#, &["ann", "bob"]),
        (r#"name.familyName ew "son""#, &["bob"]),
        (r#"name.givenName co "o""#, &["bob"]),
        (r#"displayName co "100%_""#, &["cy"]),
        (r#"displayName co "%""#, &["cy"]),
        (r#"title pr"#, &["ann"]),
        (r#"not (title pr)"#, &["bob", "cy"]),
        (r#"externalId eq "x-2""#, &["bob"]),
        (r#"externalId eq "X-2""#, &[]),
        (r#"active eq false"#, &["cy"]),
        (
            r#"active eq true and name.familyName sw "Lee""#,
            &["ann", "bob"],
        ),
        (r#"userName eq "cy" or externalId eq "x-1""#, &["ann", "cy"]),
        (
            r#"(userName eq "cy" or userName eq "bob") and active eq true"#,
            &["bob"],
        ),
        (r#"emails.value ew "@b.example""#, &["ann", "bob"]),
        (r#"emails eq "ANN@A.EXAMPLE""#, &["ann"]),
        (r#"emails[type eq "work" and value co "bob"]"#, &["bob"]),
        (
            r#"emails[primary eq true and value ew "b.example"]"#,
            &["bob"],
        ),
        (r#"emails[type eq "home"]"#, &[]),
        (r#"emails pr"#, &["ann", "bob"]),
        (r#"phoneNumbers.value eq "+61412345678""#, &["ann"]),
        (&format!(r#"id eq "{}""#, id(&ann)), &["ann"]),
        (
            r#"meta.created gt "2000-01-01T00:00:00Z""#,
            &["ann", "bob", "cy"],
        ),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, &[]),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob""#,
            &["bob"],
        ),
        (r#"USERNAME Eq "bob""#, &["bob"]),
    ];
    for (filter, expected) in cases {
        assert_eq!(s.found(filter).await, *expected, "filter {filter}");
    }
    for (filter, scim_type) in [
        (r#"userName eq"#, "invalidFilter"),
        (r#"nickName eq "x""#, "invalidFilter"),
        (r#"active gt true"#, "invalidFilter"),
        (r#"meta.created gt "yesterday""#, "invalidFilter"),
        (r#"userName eq 5"#, "invalidFilter"),
        (r#"urn:example:nope:userName eq "x""#, "invalidFilter"),
    ] {
        let reply = s
            .app
            .get(
                &format!("/scim/v2/Users?filter={}", urlencode(filter)),
                &s.key,
            )
            .await;
        scim_error(reply, 400, Some(scim_type));
    }
    // Thousands of nested `not`s are refused, not a stack overflow.
    let deep = format!("{}userName pr{}", "not (".repeat(5000), ")".repeat(5000));
    let reply = s
        .app
        .post(
            "/scim/v2/Users/.search",
            &s.key,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": deep}),
        )
        .await;
    scim_error(reply, 400, Some("invalidFilter"));
}

async fn lists_sort_page_and_project(engine: Engine) {
    let s = scim(engine).await;
    for (name, family) in [
        ("u1", "Cole"),
        ("u2", "Adams"),
        ("u3", "Baker"),
        ("u4", "Drew"),
    ] {
        s.create(person(name, name, family, &format!("{name}@acme.example")))
            .await;
    }
    let page = s
        .list("sortBy=name.familyName&sortOrder=descending&startIndex=2&count=2")
        .await;
    assert_eq!(
        page["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(page["totalResults"], 4);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    let families: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"]["familyName"].as_str().unwrap())
        .collect();
    assert_eq!(families, ["Cole", "Baker"]);
    // count=0 counts only; a startIndex below 1 is 1; past the end is empty.
    let counted = s.list("count=0").await;
    assert_eq!(counted["totalResults"], 4);
    assert_eq!(counted["Resources"], json!([]));
    let from_zero = s.list("startIndex=0&count=1&sortBy=userName").await;
    assert_eq!(from_zero["startIndex"], 1);
    assert_eq!(from_zero["Resources"][0]["userName"], "u1");
    let past = s.list("startIndex=10").await;
    assert_eq!(past["totalResults"], 4);
    assert_eq!(past["Resources"], json!([]));
    // attributes keeps id and schemas always; excludedAttributes drops.
    let projected = s.list("attributes=userName,name.familyName&count=1").await;
    let first = &projected["Resources"][0];
    let mut keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "name", "schemas", "userName"], "{first}");
    assert_eq!(first["name"].as_object().unwrap().len(), 1, "{first}");
    let excluded = s.list("excludedAttributes=emails,meta,id&count=1").await;
    let first = &excluded["Resources"][0];
    assert!(first.get("emails").is_none() && first.get("meta").is_none());
    assert!(first.get("id").is_some(), "id is always returned: {first}");
    // The same through POST /.search.
    let searched = s
        .app
        .post(
            "/scim/v2/.search",
            &s.key,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "name.familyName sw \"D\"",
                "attributes": ["userName"],
                "startIndex": 1, "count": 10,
            }),
        )
        .await
        .expect(200);
    assert_eq!(searched["totalResults"], 1);
    assert_eq!(searched["Resources"][0]["userName"], "u4");
    assert!(searched["Resources"][0].get("emails").is_none());
    for query in [
        "sortBy=nickName",
        "sortOrder=sideways",
        "count=many",
        "startIndex=x",
    ] {
        let reply = s.app.get(&format!("/scim/v2/Users?{query}"), &s.key).await;
        scim_error(reply, 400, Some("invalidValue"));
    }
}

async fn put_replaces_and_versions_guard_it(engine: Engine) {
    let s = scim(engine).await;
    let mut body = person("erin", "Erin", "Fox", "erin@acme.example");
    body["displayName"] = json!("Erin F");
    body["title"] = json!("Clerk");
    let user = s.create(body).await;
    let uid = id(&user);
    let version = user["meta"]["version"].as_str().unwrap().to_string();
    // PUT is a replace: what it does not say is cleared.
    let replaced = s
        .app
        .put(
            &format!("/scim/v2/Users/{uid}"),
            &s.key,
            json!({
                "schemas": [USER], "userName": "erin",
                "name": {"givenName": "Erin", "familyName": "Fox-Hall"},
                "emails": [{"value": "erin.fox@acme.example", "primary": true}],
            }),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let new_version = replaced.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_version, version);
    let replaced = replaced.body;
    assert_eq!(replaced["name"]["familyName"], "Fox-Hall");
    assert!(replaced.get("displayName").is_none(), "{replaced}");
    assert!(replaced.get("title").is_none(), "{replaced}");
    assert_eq!(
        replaced["emails"],
        json!([{"value": "erin.fox@acme.example", "type": "work", "primary": true}])
    );
    // The old email is kept as an inactive contact, not lost.
    let kept = s
        .app
        .rows_as_text(&format!(
            "SELECT value FROM contacts WHERE user_id = '{uid}' AND NOT is_active"
        ))
        .await;
    assert_eq!(kept, ["erin@acme.example"]);
    // A stale If-Match is refused and changes nothing; the current one passes.
    let stale = s
        .app
        .client
        .put(format!("{}/scim/v2/Users/{uid}", s.app.base))
        .bearer_auth(&s.key)
        .header("if-match", &version)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "erin-renamed"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let fresh = s
        .app
        .client
        .put(format!("{}/scim/v2/Users/{uid}", s.app.base))
        .bearer_auth(&s.key)
        .header("if-match", &new_version)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "erin-renamed"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    let current = s
        .app
        .get(&format!("/scim/v2/Users/{uid}"), &s.key)
        .await
        .expect(200);
    assert_eq!(current["userName"], "erin-renamed");
    // If-None-Match with the current version: 304.
    let etag = current["meta"]["version"].as_str().unwrap();
    let unchanged = s
        .app
        .client
        .get(format!("{}/scim/v2/Users/{uid}", s.app.base))
        .bearer_auth(&s.key)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    // Changing the id is refused.
    let moved = s
        .app
        .put(
            &format!("/scim/v2/Users/{uid}"),
            &s.key,
            json!({"id": "00000000-0000-0000-0000-000000000000", "userName": "erin"}),
        )
        .await;
    scim_error(moved, 400, Some("mutability"));
}

async fn patch_takes_the_forms_identity_providers_send(engine: Engine) {
    let s = scim(engine).await;
    let manager = s.create(person("mgr", "M", "Gr", "mgr@acme.example")).await;
    let user = s
        .create(person("gus", "Gus", "Hill", "gus@acme.example"))
        .await;
    let path = format!("/scim/v2/Users/{}", id(&user));
    let patch = |operations: Value| json!({"schemas": [PATCH_OP], "Operations": operations});
    // RFC forms: replace with a path, add to a multi-valued attribute,
    // replace through a value filter, remove by filter.
    let patched = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([
                {"op": "replace", "path": "name.givenName", "value": "Gustav"},
                {"op": "add", "path": "emails", "value": [{"value": "gus@home.example"}]},
                {"op": "add", "path": "phoneNumbers", "value": [{"value": "+4915112345678", "primary": true}]},
                {"op": "replace", "path": "emails[value eq \"gus@acme.example\"].value", "value": "gustav@acme.example"},
                {"op": "add", "path": "title", "value": "Lead"},
            ])),
        )
        .await
        .expect(200);
    assert_eq!(patched["name"]["givenName"], "Gustav");
    assert_eq!(patched["name"]["familyName"], "Hill");
    assert_eq!(patched["title"], "Lead");
    let emails: Vec<&str> = patched["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2, "{patched}");
    assert!(emails.contains(&"gustav@acme.example") && emails.contains(&"gus@home.example"));
    let removed = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([
                {"op": "remove", "path": "emails[value eq \"gus@home.example\"]"},
                {"op": "remove", "path": "title"},
            ])),
        )
        .await
        .expect(200);
    assert_eq!(removed["emails"].as_array().unwrap().len(), 1, "{removed}");
    assert!(removed.get("title").is_none());
    // Entra ID: capitalised ops, no path with dotted keys, booleans as
    // strings, the work email by filter, the manager as a bare id.
    let entra = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([
                {"op": "Replace", "value": {"name.familyName": "Hill-Smith", "displayName": "Gus HS"}},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "gus.hs@acme.example"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+4915199999999"},
                {"op": "Replace", "path": "active", "value": "False"},
            ])),
        )
        .await
        .expect(200);
    assert_eq!(entra["name"]["familyName"], "Hill-Smith");
    assert_eq!(entra["displayName"], "Gus HS");
    assert_eq!(entra["active"], false);
    // The manager path is read, and refused: the user is in no company.
    let managed = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": id(&manager)}])),
        )
        .await;
    scim_error(managed, 400, Some("invalidValue"));
    assert_eq!(entra["emails"][0]["value"], "gus.hs@acme.example");
    // Roster keeps no phone kind: the `mobile` value path is the user's phone.
    assert_eq!(
        entra["phoneNumbers"],
        json!([{"value": "+4915199999999", "type": "work", "primary": true}])
    );
    // Okta deactivates with PUT active=false and reactivates the same way.
    let mut okta = entra.clone();
    okta["active"] = json!(true);
    let back = s.app.put(&path, &s.key, okta).await.expect(200);
    assert_eq!(back["active"], true);
    // A patch that changes nothing writes nothing: same version, no event.
    let events_before = s.app.count("events").await;
    let same = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "replace", "path": "displayName", "value": "Gus HS"}])),
        )
        .await
        .expect(200);
    assert_eq!(same["meta"]["version"], back["meta"]["version"]);
    assert_eq!(s.app.count("events").await, events_before);
    // Bad operations.
    for (operations, scim_type) in [
        (
            json!([{"op": "jump", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (
            json!([{"op": "replace", "path": "emails[", "value": "x"}]),
            "invalidPath",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (json!([{"op": "remove", "path": "active"}]), "invalidValue"),
        (json!("not a list"), "invalidSyntax"),
    ] {
        let reply = s.app.patch(&path, &s.key, patch(operations)).await;
        scim_error(reply, 400, Some(scim_type));
    }
}

async fn deactivating_ends_sessions_and_deleting_removes(engine: Engine) {
    let s = scim(engine).await;
    let mut body = person("hal@acme.example", "Hal", "Ito", "hal@acme.example");
    body["password"] = json!(PASSWORD);
    let user = s.create(body).await;
    let path = format!("/scim/v2/Users/{}", id(&user));
    let token = s
        .app
        .client
        .post(format!(
            "{}/rest/default/V1/integration/customer/token",
            s.app.base
        ))
        .header("x-tenant-id", &s.tenant)
        .json(&json!({"username": "hal@acme.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token: String = token.json().await.unwrap();
    let me = |token: String| {
        let app = &s.app;
        let tenant = s.tenant.clone();
        async move {
            app.client
                .get(format!("{}/rest/default/V1/customers/me", app.base))
                .header("x-tenant-id", tenant)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    s.app
        .patch(
            &path,
            &s.key,
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await
        .expect(200);
    assert_eq!(me(token.clone()).await, 401);
    // Re-activation does not bring the session back.
    s.app
        .patch(
            &path,
            &s.key,
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": true}]}),
        )
        .await
        .expect(200);
    assert_eq!(me(token).await, 401);
    let deleted = s.app.delete(&path, &s.key).await;
    assert_eq!(deleted.status, 204);
    scim_error(s.app.get(&path, &s.key).await, 404, None);
    scim_error(s.app.delete(&path, &s.key).await, 404, None);
}

async fn bad_requests_get_scim_errors(engine: Engine) {
    let s = scim(engine).await;
    let malformed = s
        .app
        .raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&s.key),
            "application/scim+json",
            b"{\"userName\": ".to_vec(),
        )
        .await;
    scim_error(malformed, 400, Some("invalidSyntax"));
    let wrong_type = s
        .app
        .raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&s.key),
            "text/plain",
            b"{}".to_vec(),
        )
        .await;
    scim_error(wrong_type, 415, None);
    for body in [
        json!({"name": {"givenName": "No"}}),
        json!({"userName": 5}),
        json!({"userName": "x", "active": "perhaps"}),
        json!({"userName": "x", "emails": [{"value": "not an email"}]}),
        json!({"userName": "x", "emails": {"value": "a@b.example"}}),
        json!({"userName": "x", "emails": [{"value": "a@b.example", "primary": true}, {"value": "c@b.example", "primary": true}]}),
        json!({"userName": "x", ENTERPRISE: {"manager": {"value": "not-a-uuid"}}}),
        json!(["a", "list"]),
    ] {
        let reply = s.app.post("/scim/v2/Users", &s.key, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        scim_error(reply, 400, None);
    }
    // A manager that is no user of the tenant.
    let reply = s
        .app
        .post(
            "/scim/v2/Users",
            &s.key,
            json!({"userName": "x", ENTERPRISE: {"manager": {"value": "00000000-0000-7000-8000-000000000000"}}}),
        )
        .await;
    scim_error(reply, 404, None);
    // Nothing was created by any of them.
    assert_eq!(s.list("").await["totalResults"], 0);
    scim_error(
        s.app.get("/scim/v2/Users/not-a-uuid", &s.key).await,
        404,
        None,
    );
    scim_error(
        s.app
            .get(
                "/scim/v2/Users/00000000-0000-7000-8000-000000000000",
                &s.key,
            )
            .await,
        404,
        None,
    );
    let nul = s
        .app
        .post("/scim/v2/Users", &s.key, json!({"userName": "a\u{0}b"}))
        .await;
    scim_error(nul, 400, Some("invalidSyntax"));
}

async fn credentials_rights_and_tenants_are_kept_apart(engine: Engine) {
    let s = scim(engine).await;
    let user = s
        .create(person("ivy", "Ivy", "Jo", "ivy@acme.example"))
        .await;
    let path = format!("/scim/v2/Users/{}", id(&user));
    let none = s.app.call(Method::GET, "/scim/v2/Users", None, None).await;
    assert!(none.headers.contains_key("www-authenticate"));
    scim_error(none, 401, None);
    scim_error(s.app.get("/scim/v2/Users", "rk_nope").await, 401, None);
    scim_error(s.app.get("/scim/v2/Users", ADMIN).await, 403, None);
    // Reading needs VIEW_USERS, writing MANAGE_USERS.
    let reader = s.app.key(&s.tenant, &["VIEW_USERS"]).await;
    s.app.get(&path, &reader).await.expect(200);
    scim_error(
        s.app
            .post(
                "/scim/v2/Users",
                &reader,
                person("j", "J", "K", "j@acme.example"),
            )
            .await,
        403,
        None,
    );
    scim_error(s.app.delete(&path, &reader).await, 403, None);
    let writer_only = s.app.key(&s.tenant, &["MANAGE_COMMERCES"]).await;
    scim_error(s.app.get("/scim/v2/Users", &writer_only).await, 403, None);
    // Another tenant's key sees none of this tenant's users.
    let other = s.app.tenant("other").await;
    let other_key = s.app.key(&other, &["MANAGE_USERS", "VIEW_USERS"]).await;
    scim_error(s.app.get(&path, &other_key).await, 404, None);
    scim_error(
        s.app
            .put(&path, &other_key, json!({"userName": "stolen"}))
            .await,
        404,
        None,
    );
    scim_error(s.app.delete(&path, &other_key).await, 404, None);
    let listed = s.app.get("/scim/v2/Users", &other_key).await.expect(200);
    assert_eq!(listed["totalResults"], 0);
    // Still there, unchanged.
    let still = s.app.get(&path, &s.key).await.expect(200);
    assert_eq!(still["userName"], "ivy");
}

/// A write whose contacts are refused changes nothing of the user either:
/// the user and its contacts go in one transaction.
async fn a_user_and_its_contacts_are_written_together(engine: Engine) {
    let s = scim(engine).await;
    let user = s
        .create(person("ida@acme.example", "Ida", "Ek", "ida@acme.example"))
        .await;
    let path = format!("/scim/v2/Users/{}", id(&user));
    // Two spellings of one number: the same contact twice, refused.
    let same_twice = json!([
        {"value": "+12025550100", "type": "work"},
        {"value": "tel:+1-202-555-0100", "type": "work"},
    ]);
    let reply = s
        .app
        .patch(
            &path,
            &s.key,
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Ida E."},
                {"op": "replace", "path": "phoneNumbers", "value": same_twice},
            ]}),
        )
        .await;
    scim_error(reply, 400, None);
    let read = s.app.get(&path, &s.key).await.expect(200);
    assert!(read.get("displayName").is_none(), "{read}");
    assert_eq!(read["meta"]["version"], user["meta"]["version"]);
    // A create refused for its contacts leaves no user behind.
    let mut body = person("jan@acme.example", "Jan", "Ek", "jan@acme.example");
    body["phoneNumbers"] = same_twice;
    scim_error(s.app.post("/scim/v2/Users", &s.key, body).await, 400, None);
    let found = s.found("userName eq \"jan@acme.example\"").await;
    assert!(found.is_empty(), "{found:?}");
}
