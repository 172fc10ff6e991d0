//! SCIM Groups at `/scim/v2/Groups` (issue #11): Roster's groups (the same
//! ids) with their members, filters, paging, projections, PATCH in the
//! forms Okta and Entra ID send, PUT, ETags, errors, and the grants an
//! operator gives a provisioned group reaching its members.

use serde_json::{json, Value};

use crate::on_both_engines;
use crate::scim::{person, scim, scim_error, urlencode, Scim};
use crate::support::{id, Engine, ADMIN};

on_both_engines!(
    groups_are_provisioned_with_members_and_found_by_filter,
    patch_takes_the_forms_okta_and_entra_send,
    put_replaces_members_and_versions_guard_writes,
    an_operators_grants_reach_a_provisioned_groups_members,
    bad_group_requests_get_scim_errors,
    a_root_search_finds_users_and_groups,
);

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn group(name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": [GROUP],
        "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

impl Scim {
    async fn user(&self, name: &str) -> String {
        let email = format!("{name}@acme.example");
        id(&self.create(person(&email, name, "Test", &email)).await)
    }

    async fn member_ids(&self, group: &str) -> Vec<String> {
        let read = self
            .app
            .get(&format!("/scim/v2/Groups/{group}"), &self.key)
            .await
            .expect(200);
        let mut ids: Vec<String> = read["members"]
            .as_array()
            .unwrap_or_else(|| panic!("{read}"))
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    async fn names_found(&self, filter: &str) -> Vec<String> {
        let list = self
            .app
            .get(
                &format!("/scim/v2/Groups?filter={}", urlencode(filter)),
                &self.key,
            )
            .await
            .expect(200);
        let mut names: Vec<String> = list["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(list["totalResults"], names.len(), "{list}");
        names
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn groups_are_provisioned_with_members_and_found_by_filter(engine: Engine) {
    let s = scim(engine).await;
    let (ann, bob) = (s.user("ann").await, s.user("bob").await);
    let reply = s
        .app
        .post(
            "/scim/v2/Groups",
            &s.key,
            json!({"schemas": [GROUP], "displayName": "Cashiers", "externalId": "okta-7",
                   "members": [{"value": ann}, {"value": bob, "display": "ignored"}]}),
        )
        .await;
    assert_eq!(reply.headers["content-type"], "application/scim+json");
    let etag = reply.headers["etag"].to_str().unwrap().to_string();
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let created = reply.expect(201);
    let gid = id(&created);
    assert_eq!(created["schemas"], json!([GROUP]));
    assert_eq!(created["displayName"], "Cashiers");
    assert_eq!(created["externalId"], "okta-7");
    assert_eq!(created["meta"]["resourceType"], "Group");
    assert_eq!(created["meta"]["version"], etag.as_str());
    assert!(
        location.ends_with(&format!("/scim/v2/Groups/{gid}")),
        "{location}"
    );
    let members = created["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let first = members.iter().find(|m| m["value"] == ann.as_str()).unwrap();
    assert!(first["$ref"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{ann}")));
    assert_eq!(first["display"], "ann@acme.example");

    // The same group natively, with the same id.
    let native = s
        .app
        .get(&format!("/v1/tenants/{}/groups/{gid}", s.tenant), ADMIN)
        .await
        .expect(200);
    assert_eq!(native["name"], "Cashiers");
    assert_eq!(native["member_count"], 2);

    s.app
        .post("/scim/v2/Groups", &s.key, group("Night shift", &[&ann]))
        .await
        .expect(201);
    s.app
        .post("/scim/v2/Groups", &s.key, group("Managers", &[]))
        .await
        .expect(201);

    assert_eq!(
        s.names_found("displayName eq \"cashiers\"").await,
        ["Cashiers"]
    );
    assert_eq!(
        s.names_found("externalId eq \"okta-7\"").await,
        ["Cashiers"]
    );
    assert_eq!(
        s.names_found(&format!("members.value eq \"{ann}\"")).await,
        ["Cashiers", "Night shift"]
    );
    assert_eq!(
        s.names_found(&format!("members[value eq \"{bob}\"]")).await,
        ["Cashiers"]
    );
    assert_eq!(
        s.names_found(&format!("id eq \"{gid}\" and displayName eq \"Cashiers\""))
            .await,
        ["Cashiers"]
    );
    assert!(s
        .names_found("displayName eq \"Cashiers\" and displayName eq \"Managers\"")
        .await
        .is_empty());
    // Every operator, or, not, presence and dates, as SQL.
    assert_eq!(s.names_found("displayName sw \"cash\"").await, ["Cashiers"]);
    assert_eq!(
        s.names_found("displayName co \"SHIFT\"").await,
        ["Night shift"]
    );
    assert_eq!(
        s.names_found("displayName ew \"ers\"").await,
        ["Cashiers", "Managers"]
    );
    assert_eq!(
        s.names_found("not (displayName eq \"Managers\")").await,
        ["Cashiers", "Night shift"]
    );
    assert_eq!(
        s.names_found("displayName eq \"Managers\" or externalId eq \"okta-7\"")
            .await,
        ["Cashiers", "Managers"]
    );
    assert_eq!(s.names_found("externalId pr").await, ["Cashiers"]);
    assert_eq!(
        s.names_found("members pr").await,
        ["Cashiers", "Night shift"]
    );
    assert_eq!(
        s.names_found("meta.created gt \"2000-01-01T00:00:00Z\"")
            .await,
        ["Cashiers", "Managers", "Night shift"]
    );
    assert!(s
        .names_found("meta.lastModified lt \"2000-01-01T00:00:00Z\"")
        .await
        .is_empty());
    assert_eq!(
        s.names_found(&format!(
            "members[value eq \"{bob}\" or value eq \"{ann}\"]"
        ))
        .await,
        ["Cashiers", "Night shift"]
    );

    // Sorted, paged and projected.
    let page = s
        .app
        .get(
            "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&startIndex=2&count=1&excludedAttributes=members",
            &s.key,
        )
        .await
        .expect(200);
    assert_eq!(page["totalResults"], 3);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 1);
    assert_eq!(page["Resources"][0]["displayName"], "Managers");
    assert!(page["Resources"][0].get("members").is_none(), "{page}");
    let only = s
        .app
        .get(
            &format!("/scim/v2/Groups/{gid}?attributes=displayName"),
            &s.key,
        )
        .await
        .expect(200);
    assert_eq!(only["displayName"], "Cashiers");
    assert!(
        only.get("members").is_none() && only.get("externalId").is_none(),
        "{only}"
    );
    let searched = s
        .app
        .post(
            "/scim/v2/Groups/.search",
            &s.key,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "displayName eq \"Managers\"", "startIndex": 1, "count": 10}),
        )
        .await
        .expect(200);
    assert_eq!(searched["totalResults"], 1);
    assert_eq!(searched["Resources"][0]["members"], json!([]));
}

async fn patch_takes_the_forms_okta_and_entra_send(engine: Engine) {
    let s = scim(engine).await;
    let (ann, bob, cy) = (s.user("ann").await, s.user("bob").await, s.user("cy").await);
    let gid = id(&s
        .app
        .post("/scim/v2/Groups", &s.key, group("Staff", &[]))
        .await
        .expect(201));
    let path = format!("/scim/v2/Groups/{gid}");
    // Entra ID: capitalised ops with value lists.
    s.app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "Add", "path": "members", "value": [{"value": ann}, {"value": bob}]}])),
        )
        .await
        .expect(200);
    assert_eq!(
        s.member_ids(&gid).await,
        sorted(vec![ann.clone(), bob.clone()])
    );
    s.app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "Remove", "path": "members", "value": [{"value": ann}]}])),
        )
        .await
        .expect(200);
    assert_eq!(s.member_ids(&gid).await, vec![bob.clone()]);
    // A value path; adding a member already there keeps it once.
    let answered = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([
                {"op": "add", "path": "members", "value": [{"value": cy}, {"value": bob}]},
                {"op": "remove", "path": format!("members[value eq \"{bob}\"]")},
            ])),
        )
        .await
        .expect(200);
    assert_eq!(answered["members"].as_array().unwrap().len(), 1);
    assert_eq!(s.member_ids(&gid).await, vec![cy.clone()]);
    // Okta: a rename with the id alongside, then a replace of the members.
    let renamed = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "replace", "value": {"id": gid, "displayName": "Tills"}}])),
        )
        .await
        .expect(200);
    assert_eq!(renamed["displayName"], "Tills");
    s.app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "replace", "path": "members", "value": [{"value": ann}]}])),
        )
        .await
        .expect(200);
    assert_eq!(s.member_ids(&gid).await, vec![ann.clone()]);
    // externalId set and removed; every member removed.
    let with_id = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "add", "path": "externalId", "value": "entra-9"}])),
        )
        .await
        .expect(200);
    assert_eq!(with_id["externalId"], "entra-9");
    let cleared = s
        .app
        .patch(
            &path,
            &s.key,
            patch(json!([
                {"op": "remove", "path": "externalId"},
                {"op": "remove", "path": "members"},
            ])),
        )
        .await
        .expect(200);
    assert!(cleared.get("externalId").is_none(), "{cleared}");
    assert_eq!(cleared["members"], json!([]));
    // A PATCH whose operations fail changes nothing: all or nothing.
    let before = s.member_ids(&gid).await;
    scim_error(
        s.app
            .patch(
                &path,
                &s.key,
                patch(json!([
                    {"op": "add", "path": "members", "value": [{"value": bob}]},
                    {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::now_v7()}]},
                ])),
            )
            .await,
        400,
        Some("invalidValue"),
    );
    assert_eq!(s.member_ids(&gid).await, before);
}

async fn put_replaces_members_and_versions_guard_writes(engine: Engine) {
    let s = scim(engine).await;
    let (ann, bob) = (s.user("ann").await, s.user("bob").await);
    let created = s
        .app
        .post("/scim/v2/Groups", &s.key, group("Staff", &[&ann]))
        .await
        .expect(201);
    let gid = id(&created);
    let path = format!("/scim/v2/Groups/{gid}");
    let version = created["meta"]["version"].as_str().unwrap().to_string();
    let put = |body: Value, if_match: &str| {
        let request = s
            .app
            .client
            .put(format!("{}{path}", s.app.base))
            .bearer_auth(&s.key)
            .header("if-match", if_match)
            .header("content-type", "application/scim+json")
            .body(body.to_string());
        async move { request.send().await.unwrap() }
    };
    let replaced = put(group("Crew", &[&bob]), &version).await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(s.member_ids(&gid).await, vec![bob.clone()]);
    // The version moved: the old one is refused, nothing changes.
    let stale = put(group("Other", &[]), &version).await;
    assert_eq!(stale.status(), 412);
    let read = s.app.get(&path, &s.key).await.expect(200);
    assert_eq!(read["displayName"], "Crew");
    // A membership change alone moves the version too.
    let now = read["meta"]["version"].as_str().unwrap().to_string();
    s.app
        .patch(
            &path,
            &s.key,
            patch(json!([{"op": "add", "path": "members", "value": [{"value": ann}]}])),
        )
        .await
        .expect(200);
    let after = s.app.get(&path, &s.key).await.expect(200);
    assert_ne!(after["meta"]["version"], now.as_str());
    // The id cannot change; a delete is 204, then 404.
    let moved = put(
        json!({"schemas": [GROUP], "id": uuid::Uuid::now_v7(), "displayName": "Crew"}),
        "*",
    )
    .await;
    assert_eq!(moved.status(), 400);
    s.app.delete(&path, &s.key).await.expect(204);
    scim_error(s.app.get(&path, &s.key).await, 404, None);
}

async fn an_operators_grants_reach_a_provisioned_groups_members(engine: Engine) {
    let s = scim(engine).await;
    let t = s.tenant.clone();
    s.app.store(&t, "main").await;
    let ann = s.user("ann").await;
    let gid = id(&s
        .app
        .post("/scim/v2/Groups", &s.key, group("Cashiers", &[&ann]))
        .await
        .expect(201));
    let may = || async {
        s.app
            .post(
                &format!("/v1/tenants/{t}/check"),
                ADMIN,
                json!({"user_id": ann, "permission": "USE_POS", "store_id": "main"}),
            )
            .await
            .expect(200)["allowed"]
            .clone()
    };
    assert_eq!(may().await, false, "a provisioned group grants nothing");
    // The SCIM key (MANAGE_USERS) may not give the group a role it lacks.
    s.app
        .patch(
            &format!("/v1/tenants/{t}/groups/{gid}"),
            &s.key,
            json!({"tenant_role": "ACCESS"}),
        )
        .await
        .problem(403);
    s.app
        .patch(
            &format!("/v1/tenants/{t}/groups/{gid}"),
            ADMIN,
            json!({"tenant_role": "ACCESS"}),
        )
        .await
        .expect(200);
    assert_eq!(may().await, true);
    // Leaving the group in the identity provider takes it away at once.
    s.app
        .patch(
            &format!("/scim/v2/Groups/{gid}"),
            &s.key,
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{ann}\"]")}])),
        )
        .await
        .expect(200);
    assert_eq!(may().await, false);
    // And a SCIM key may not add a member to a group granting what it lacks.
    scim_error(
        s.app
            .patch(
                &format!("/scim/v2/Groups/{gid}"),
                &s.key,
                patch(json!([{"op": "add", "path": "members", "value": [{"value": ann}]}])),
            )
            .await,
        403,
        None,
    );
}

async fn bad_group_requests_get_scim_errors(engine: Engine) {
    let s = scim(engine).await;
    let groups = "/scim/v2/Groups";
    scim_error(
        s.app
            .post(groups, &s.key, json!({"schemas": [GROUP]}))
            .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        s.app
            .post(
                groups,
                &s.key,
                json!({"schemas": [GROUP], "displayName": 5}),
            )
            .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        s.app
            .post(
                groups,
                &s.key,
                json!({"schemas": ["urn:nope"], "displayName": "X"}),
            )
            .await,
        400,
        Some("invalidSyntax"),
    );
    scim_error(
        s.app
            .post(groups, &s.key, group("X", &["not-a-uuid"]))
            .await,
        400,
        Some("invalidValue"),
    );
    s.app
        .post(groups, &s.key, group("Taken", &[]))
        .await
        .expect(201);
    scim_error(
        s.app.post(groups, &s.key, group("TAKEN", &[])).await,
        409,
        Some("uniqueness"),
    );
    for filter in [
        "colour eq \"red\"",
        "members.display eq \"x\"",
        "displayName eq",
        "displayName eq true",
        "meta.created gt \"yesterday\"",
        "members[display eq \"x\"]",
    ] {
        scim_error(
            s.app
                .get(&format!("{groups}?filter={}", urlencode(filter)), &s.key)
                .await,
            400,
            Some("invalidFilter"),
        );
    }
    scim_error(
        s.app.get(&format!("{groups}?sortBy=members"), &s.key).await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        s.app.get(&format!("{groups}/nope"), &s.key).await,
        404,
        None,
    );
    scim_error(
        s.app
            .get(&format!("{groups}/{}", uuid::Uuid::now_v7()), &s.key)
            .await,
        404,
        None,
    );
    // Rights and tenants.
    let viewer = s.app.key(&s.tenant, &["VIEW_USERS"]).await;
    s.app.get(groups, &viewer).await.expect(200);
    scim_error(
        s.app.post(groups, &viewer, group("Y", &[])).await,
        403,
        None,
    );
    let other = s.app.tenant("bolt").await;
    let their_key = s.app.key(&other, &["MANAGE_USERS", "VIEW_USERS"]).await;
    let theirs = id(&s
        .app
        .post(groups, &their_key, group("Bolt", &[]))
        .await
        .expect(201));
    scim_error(
        s.app.get(&format!("{groups}/{theirs}"), &s.key).await,
        404,
        None,
    );
    scim_error(
        s.app.delete(&format!("{groups}/{theirs}"), &s.key).await,
        404,
        None,
    );
    let ours = s.app.get(groups, &s.key).await.expect(200);
    assert_eq!(ours["totalResults"], 1, "{ours}");
}

async fn a_root_search_finds_users_and_groups(engine: Engine) {
    let s = scim(engine).await;
    let ann = s.user("ann").await;
    let gid = id(&s
        .app
        .post("/scim/v2/Groups", &s.key, group("Staff", &[&ann]))
        .await
        .expect(201));
    let search = |body: Value| {
        let app = &s.app;
        let key = &s.key;
        async move { app.post("/scim/v2/.search", key, body).await }
    };
    let request = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    // Both kinds, users first, paged across them.
    let all = search(json!({"schemas": [request]})).await.expect(200);
    assert_eq!(all["totalResults"], 2, "{all}");
    assert_eq!(all["Resources"][0]["id"], ann.as_str());
    assert_eq!(all["Resources"][1]["id"], gid.as_str());
    let second = search(json!({"schemas": [request], "startIndex": 2, "count": 1}))
        .await
        .expect(200);
    assert_eq!(second["itemsPerPage"], 1);
    assert_eq!(second["Resources"][0]["id"], gid.as_str());
    // By id: whichever kind holds it.
    let by_id = search(json!({"schemas": [request], "filter": format!("id eq \"{gid}\"")}))
        .await
        .expect(200);
    assert_eq!(by_id["totalResults"], 1);
    assert_eq!(by_id["Resources"][0]["displayName"], "Staff");
    // An attribute of one kind only finds that kind; of neither, refused.
    let by_user_name =
        search(json!({"schemas": [request], "filter": "userName eq \"ann@acme.example\""}))
            .await
            .expect(200);
    assert_eq!(by_user_name["totalResults"], 1);
    let by_display_name =
        search(json!({"schemas": [request], "filter": "displayName eq \"Staff\""}))
            .await
            .expect(200);
    assert_eq!(by_display_name["totalResults"], 1, "{by_display_name}");
    scim_error(
        search(json!({"schemas": [request], "filter": "colour eq \"red\""})).await,
        400,
        Some("invalidFilter"),
    );
}
