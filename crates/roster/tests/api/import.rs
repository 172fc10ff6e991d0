//! `roster import` and `roster export` (issue #13, SPEC §8), on the real
//! binary beside a running server on the same database: every foreign
//! hash format signs in and is upgraded to Argon2id, a re-run changes
//! nothing, bad lines are reported by line and field, dry runs write
//! nothing, CSV, and import(export(x)) is x; a running server's cache
//! honours what an import changed within its staleness bound.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cache::{staleness, time_until};
use crate::cache_entities::until_hit;
use crate::on_both_engines;
use crate::support::{Engine, TestApp, ADMIN};

on_both_engines!(
    every_foreign_hash_signs_in_once_and_is_then_argon2id,
    a_rerun_changes_nothing_and_bad_lines_are_reported,
    a_dry_run_writes_nothing,
    a_dry_run_refuses_unknown_references_as_the_real_run_does,
    csv_and_an_export_round_trip,
    an_http_import_runs_in_the_background_and_reports,
    contacts_companies_by_external_id_and_batches,
    a_running_servers_cache_sees_an_import_within_the_bound,
);

/// The password every vector below was made of (passlib, pyca/bcrypt,
/// argon2-cffi and hashlib made them; see `roster-core`'s foreign_hash).
const OLD_PASSWORD: &str = "correct horse battery";

fn vectors() -> Vec<(&'static str, Value)> {
    vec![
        ("magento", json!("0d55399b9f7b2508522fa03ebe375dc6c813f7663b89d192cfad117266803974:Mg2Salt0123456789abcdef0123456789:1")),
        // Magento 2.4's Argon2id13 (the reference argon2 CLI made them).
        ("magento-argon2", json!("ec644d8eaf9530504f60c449b542c7020bf57837849f2d3ae52a22fecacf9874:Mg2Argon0123456789abcdefghijklmn:2")),
        ("magento-argon2-agnostic", json!("d8f75d35c46c06833d651d7f4b15ac080479bcea0d1bf1f8d06c3b85e0594228:shortsalt:3_32_2_67108864")),
        ("magento-upgraded", json!("00c02e5831df908bdef5328f1e0949e5045de58491c4d3554c2aee0ccbc30664:Mg2Chain0123456789abcdefghijklmn:1:2")),
        ("bcrypt", json!("$2y$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o.")),
        ("scrypt", json!("$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$efPjhLsc6g6F87C4r8JW+Ndthiq2j1fCZEA8arGU0o0")),
        ("pbkdf2", json!("$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$GacV8oEzUl3KM0Mwey9yrMcTPKpkL4jXrFpbKB8oOnI")),
        ("argon2i", json!("$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$51nsRuiJjI4AyHMlgBJ6rMUc5Ic533h7GOwX/fFwZ+g")),
        ("keycloak", json!({"algorithm": "pbkdf2-sha512", "hashIterations": 1000, "salt": "a2V5Y2xvYWtzYWx0MTIzNA==", "value": "X6cLec4Ziw36HEFmbHzlFIgFnoLIL/fhaTFB2dZVTA6PE9vDfP/I2+ytKVocc7GxobtgBDepa8Z2ckEG3GolOA=="})),
    ]
}

/// What a run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `roster <args>` on the app's database, `input` as standard input.
fn roster(app: &TestApp, args: &[&str], input: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("ROSTER_DATABASE_URL", &app.url)
        .env("ROSTER_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the roster binary starts");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A B2B customer token for an email and password: the status.
async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> u16 {
    app.client
        .post(format!(
            "{}/rest/default/V1/integration/customer/token",
            app.base
        ))
        .header("x-tenant-id", tenant)
        .json(&json!({"username": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    app.rows_as_text(&format!(
        "SELECT password_hash FROM users WHERE email = '{email}'"
    ))
    .await
    .remove(0)
}

async fn every_foreign_hash_signs_in_once_and_is_then_argon2id(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let lines: Vec<Value> = vectors()
        .into_iter()
        .map(|(name, hash)| json!({"email": format!("{name}@example.com"), "password_hash": hash}))
        .collect();
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&jsonl(&lines)));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("created 9, updated 0, unchanged 0, rejected 0"),
        "{}",
        run.stdout
    );
    for (name, _) in vectors() {
        let email = format!("{name}@example.com");
        let stored = stored_hash(&app, &email).await;
        assert!(stored.starts_with("imported:"), "{name}: {stored}");
        assert_eq!(
            sign_in(&app, &t, &email, "wrong password").await,
            401,
            "{name}"
        );
        assert_eq!(sign_in(&app, &t, &email, OLD_PASSWORD).await, 200, "{name}");
        let upgraded = stored_hash(&app, &email).await;
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{name}: {upgraded}"
        );
        assert_eq!(sign_in(&app, &t, &email, OLD_PASSWORD).await, 200, "{name}");
        assert_eq!(
            sign_in(&app, &t, &email, "wrong password").await,
            401,
            "{name}"
        );
    }
    // Re-importing the file does not put the old hashes back over the
    // upgraded ones (Roster's own hash is newer than any export).
    let again = roster(&app, &["import", "--tenant", &t, "-"], Some(&jsonl(&lines)));
    assert!(
        again.stdout.contains("created 0, updated 0, unchanged 9"),
        "{}",
        again.stdout
    );
    for (name, _) in vectors() {
        let hash = stored_hash(&app, &format!("{name}@example.com")).await;
        assert!(hash.starts_with("$argon2id$"), "{name}: {hash}");
    }
}

async fn a_rerun_changes_nothing_and_bad_lines_are_reported(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    // An existing user matched by email, one matched by external id.
    app.user(&t, json!({"email": "old@example.com", "first_name": "Old"}))
        .await;
    let file = [
        json!({"email": "old@example.com", "last_name": "Timer"}).to_string(),
        json!({"email": "ann@example.com", "external_id": "m-1", "store_ids": [store], "partner_role": "api"}).to_string(),
        json!({"email": "not an email"}).to_string(),
        "not json".to_string(),
        json!({"email": "cy@example.com", "status": "SLEEPING"}).to_string(),
        json!({"email": "dee@example.com", "store_ids": ["nowhere"]}).to_string(),
        json!({"email": "eve@example.com", "password_hash": "md5:abc"}).to_string(),
        json!({"email": "fay@example.com", "unknown": 1}).to_string(),
        // The external id names Ann, the email another user: refused.
        json!({"email": "old@example.com", "external_id": "m-1"}).to_string(),
        String::new(),
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.jsonl");
    std::fs::write(&path, &file).unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let path = path.to_str().unwrap();
    let rejects_arg = rejects.to_str().unwrap();
    let run = roster(
        &app,
        &["import", "--tenant", &t, path, "--rejects", rejects_arg],
        None,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for expected in [
        "line 3: email: must be a valid email address",
        "line 4: line: is not valid JSON",
        "line 5: status: unknown variant `SLEEPING`",
        "line 6: line: store not found",
        "line 7: password_hash: is not a supported hash",
        "line 8: unknown: is not a field",
        "line 9: email: belongs to user",
        "created 1, updated 1, unchanged 0, rejected 7",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} not in {}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("7 lines were refused"),
        "{}",
        run.stderr
    );
    let refused = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(refused.lines().count(), 7, "{refused}");
    assert!(refused.contains("not json"));
    let users = app
        .get(&format!("/v1/tenants/{t}/users"), ADMIN)
        .await
        .expect(200);
    let data = users["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{users}");
    let ann = data
        .iter()
        .find(|u| u["email"] == "ann@example.com")
        .unwrap();
    assert_eq!(ann["source"], "IMPORT");
    assert_eq!(ann["external_id"], "m-1");
    assert_eq!(ann["partner_role"], "api");
    let old = data
        .iter()
        .find(|u| u["email"] == "old@example.com")
        .unwrap();
    assert_eq!(
        old["first_name"], "Old",
        "fields a line does not give are kept"
    );
    assert_eq!(old["last_name"], "Timer");
    // The same file again: nothing written, no event.
    let events = app.count("events").await;
    let again = roster(&app, &["import", "--tenant", &t, path], None);
    assert!(
        again
            .stdout
            .contains("created 0, updated 0, unchanged 2, rejected 7"),
        "{}",
        again.stdout
    );
    assert_eq!(app.count("events").await, events);
    // An unknown tenant fails the whole run, saying so.
    let nowhere = roster(&app, &["import", "--tenant", "nope", path], None);
    assert_eq!(nowhere.code, 1);
    assert!(
        nowhere.stderr.contains("tenant \"nope\""),
        "{}",
        nowhere.stderr
    );
}

async fn a_dry_run_writes_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    app.user(&t, json!({"email": "old@example.com"})).await;
    let file = jsonl(&[
        json!({"email": "new@example.com", "password_hash": "$2b$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o."}),
        json!({"email": "old@example.com", "first_name": "Changed"}),
        json!({"email": "bad"}),
    ]);
    let (users, events) = (app.count("users").await, app.count("events").await);
    let run = roster(
        &app,
        &["import", "--tenant", &t, "--dry-run", "-"],
        Some(&file),
    );
    assert_eq!(
        run.code, 1,
        "a rejected line fails a dry run too: {}",
        run.stdout
    );
    assert!(run.stdout.contains("line 3: email:"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("dry run (nothing written): created 1, updated 1, unchanged 0, rejected 1"),
        "{}",
        run.stdout
    );
    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("events").await, events);
    let old = app
        .rows_as_text("SELECT coalesce(first_name, '-') FROM users")
        .await;
    assert_eq!(old, ["-"]);
}

/// A run's refused lines, as its output reports them, and its summary
/// (without a dry run's prefix).
fn report_of(run: &Run) -> (Vec<&str>, &str) {
    let lines = run.stdout.lines();
    let refused = lines.clone().filter(|l| l.starts_with("line ")).collect();
    let summary = lines.last().unwrap_or_default();
    let summary = summary
        .strip_prefix("dry run (nothing written): ")
        .unwrap_or(summary);
    (refused, summary)
}

async fn a_dry_run_refuses_unknown_references_as_the_real_run_does(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    app.post(
        &format!("/v1/tenants/{t}/companies"),
        ADMIN,
        json!({"name": "Acme Co", "external_id": "acme-co"}),
    )
    .await
    .expect(201);
    app.user(&t, json!({"email": "old@example.com"})).await;
    let nowhere = "00000000-0000-7000-8000-000000000000";
    let file = jsonl(&[
        json!({"email": "ok@example.com", "store_ids": [store], "company_external_id": "acme-co"}),
        json!({"email": "a@example.com", "store_ids": ["nowhere"]}),
        json!({"email": "b@example.com", "store_ids": [store, "elsewhere"]}),
        json!({"email": "c@example.com", "company_external_id": "nowhere"}),
        json!({"email": "d@example.com", "company_id": nowhere}),
        json!({"email": "e@example.com", "company_id": nowhere, "store_ids": ["nowhere"]}),
        // An update is checked as the user it leaves.
        json!({"email": "old@example.com", "store_ids": ["nowhere"]}),
        json!({"email": "f@example.com", "roles": ["OWNER"]}),
        json!({"email": "g@example.com", "company_external_id": "acme-co", "store_ids": ["gone"]}),
        json!({"email": "h@example.com", "store_ids": [store]}),
        // The same user again: a second part of the batch, checked alike.
        json!({"email": "old@example.com", "default_store_id": "nowhere"}),
    ]);
    let dry = roster(
        &app,
        &["import", "--tenant", &t, "--dry-run", "-"],
        Some(&file),
    );
    assert_eq!(app.count("users").await, 1, "a dry run writes nothing");
    let real = roster(&app, &["import", "--tenant", &t, "-"], Some(&file));
    assert_eq!(
        (dry.code, real.code),
        (1, 1),
        "{}{}",
        dry.stdout,
        real.stdout
    );
    let (refused, summary) = report_of(&real);
    assert_eq!(
        report_of(&dry),
        (refused.clone(), summary),
        "{}",
        dry.stdout
    );
    assert_eq!(summary, "created 2, updated 0, unchanged 0, rejected 9");
    for expected in [
        "line 2: line: store not found",
        "line 3: line: store not found",
        "line 4: company_external_id: no company of the tenant has this external_id",
        "line 5: line: company not found",
        "line 6: line: company not found",
        "line 7: line: store not found",
        "line 9: line: store not found",
        "line 11: line: store not found",
    ] {
        assert!(
            refused.contains(&expected),
            "{expected:?} not in {refused:?}"
        );
    }
    assert!(
        refused.iter().any(|l| l.starts_with("line 8: ")),
        "{refused:?}"
    );
}

/// A user as the round trip compares it: without what names the database
/// it came from.
fn comparable(mut user: Value) -> Value {
    for field in [
        "id",
        "number",
        "created_at",
        "updated_at",
        "last_accessed_at",
    ] {
        user.as_object_mut().unwrap().remove(field);
    }
    user
}

async fn csv_and_an_export_round_trip(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let csv = format!(
        "email,first_name,last_name,store_ids,partner_role,external_id,password_hash\n\
         kim@example.com,Kim,Park,\"[\"\"{store}\"\"]\",api,kc-1,\"{{\"\"algorithm\"\": \"\"pbkdf2\"\", \"\"hashIterations\"\": 1000, \"\"salt\"\": \"\"a2V5Y2xvYWtzYWx0MTIzNA==\"\", \"\"value\"\": \"\"P+rmxPb6dO3j3qVhtvVRrPL+eVE=\"\"}}\"\n\
         lou@example.com,Lou,,,,,\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(&path, csv).unwrap();
    let run = roster(
        &app,
        &["import", "--tenant", &t, path.to_str().unwrap()],
        None,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("created 2"), "{}", run.stdout);
    let kim = app
        .rows_as_text("SELECT password_hash FROM users WHERE email = 'kim@example.com'")
        .await;
    assert!(kim[0].starts_with("imported:keycloak:"), "{kim:?}");
    assert_eq!(
        sign_in(&app, &t, "kim@example.com", OLD_PASSWORD).await,
        200
    );

    // Kim gets a contact, which the export carries.
    let phone = jsonl(&[json!({"email": "kim@example.com", "contacts": [
        {"contact_type": "PHONE", "value": "+15550001111", "is_primary": true}]})]);
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&phone));
    assert!(run.stdout.contains("updated 1"), "{}", run.stdout);

    // Export, import into another tenant (with its store), export again.
    let exported = roster(
        &app,
        &["export", "--tenant", &t, "--with-password-hashes"],
        None,
    );
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let other = app.tenant("copy").await;
    app.post(
        &format!("/v1/tenants/{other}/stores"),
        ADMIN,
        json!({"id": store, "code": "main", "name": "Main"}),
    )
    .await
    .expect(201);
    let run = roster(
        &app,
        &["import", "--tenant", &other, "-"],
        Some(&exported.stdout),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let copied = roster(
        &app,
        &["export", "--tenant", &other, "--with-password-hashes"],
        None,
    );
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| comparable(serde_json::from_str(l).unwrap()))
            .collect()
    };
    let (first, second) = (parse(&exported.stdout), parse(&copied.stdout));
    assert_eq!(first.len(), 2);
    let kim = first
        .iter()
        .find(|u| u["email"] == "kim@example.com")
        .unwrap();
    assert_eq!(
        kim["contacts"],
        json!([{"contact_type": "PHONE", "value": "+15550001111", "is_primary": true}])
    );
    // The hashes: Kim's is Roster's own now, carried over as an imported
    // Argon2id; the rest of each user is the same.
    let without_hash = |users: &[Value]| -> Vec<Value> {
        users
            .iter()
            .map(|u| {
                let mut u = u.clone();
                u.as_object_mut().unwrap().remove("password_hash");
                u
            })
            .collect()
    };
    assert_eq!(without_hash(&first), without_hash(&second));
    assert_eq!(
        sign_in(&app, &other, "kim@example.com", OLD_PASSWORD).await,
        200
    );
    // Without the flag no hash is written; CSV has a header row.
    let plain = roster(&app, &["export", "--tenant", &t, "--format", "csv"], None);
    let mut rows = plain.stdout.lines();
    let header = rows.next().unwrap();
    assert!(
        header.contains("email") && !header.contains("password_hash"),
        "{header}"
    );
    assert_eq!(rows.count(), 2);
    assert!(!plain.stdout.contains("imported:") && !plain.stdout.contains("$argon2"));
}

/// Waits for an import job to end (a bounded poll); its last status.
async fn finished(app: &TestApp, location: &str, token: &str) -> Value {
    for _ in 0..200 {
        let job = app.get(location, token).await.expect(200);
        if job["status"] != "RUNNING" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import job did not end within 10 s");
}

async fn an_http_import_runs_in_the_background_and_reports(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let key = app.key(&t, &["MANAGE_USERS", "VIEW_USERS"]).await;
    let body = jsonl(&[
        json!({"email": "ann@example.com", "first_name": "Ann", "password_hash": "$2y$04$lgSBfcTcnskcMgprpiGcrO6PE3ga7zkJw131uE2t3Bo/RA2TQf6o."}),
        json!({"email": "nope"}),
        json!({"email": "bob@example.com", "external_id": "k-1"}),
        json!({"email": "cy@example.com", "roles": ["OWNER"]}),
    ]) + "not json\n";
    let post = |query: &'static str, content_type: &'static str, body: String, token: String| {
        let app = &app;
        let t = t.clone();
        async move {
            app.client
                .post(format!("{}/v1/tenants/{t}/imports{query}", app.base))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // A dry run first: it reports and writes nothing.
    let dry = post(
        "?dry_run=true",
        "application/x-ndjson",
        body.clone(),
        key.clone(),
    )
    .await;
    assert_eq!(dry.status(), 202);
    let location = dry.headers()["location"].to_str().unwrap().to_string();
    let job = finished(&app, &location, &key).await;
    assert_eq!(job["status"], "DONE", "{job}");
    assert_eq!(job["dry_run"], true);
    assert_eq!(
        (job["created"].as_i64(), job["rejected"].as_i64()),
        (Some(2), Some(3)),
        "{job}"
    );
    assert_eq!(app.count("users").await, 0);

    let started = post("", "application/x-ndjson", body.clone(), key.clone()).await;
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let first: Value = started.json().await.unwrap();
    assert!(location.ends_with(first["id"].as_str().unwrap()));
    let job = finished(&app, &location, &key).await;
    assert_eq!(job["status"], "DONE", "{job}");
    assert_eq!(job["lines"], 5);
    assert_eq!(job["created"], 2);
    assert_eq!(job["rejected"], 3);
    assert!(job["finished_at"].is_string());
    let errors = job["errors"].as_array().unwrap();
    let lines: Vec<i64> = errors.iter().map(|e| e["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 5], "{job}");
    assert_eq!(errors[0]["field"], "email");
    assert!(
        errors[1]["reason"].as_str().unwrap().contains("company"),
        "{job}"
    );
    assert_eq!(errors[2]["field"], "line");
    assert_eq!(
        sign_in(&app, &t, "ann@example.com", OLD_PASSWORD).await,
        200
    );
    let bob = app
        .rows_as_text("SELECT source FROM users WHERE email = 'bob@example.com'")
        .await;
    assert_eq!(bob, ["IMPORT"]);
    // More jobs at once than run at once: the rest wait their turn, and
    // every one ends (none refused).
    let many: Vec<_> = (0..5)
        .map(|n| {
            let line = json!({"email": format!("queued{n}@example.com")}).to_string();
            post("", "text/plain", format!("{line}\n"), key.clone())
        })
        .collect();
    for response in futures::future::join_all(many).await {
        assert_eq!(response.status(), 202);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let job = finished(&app, &location, &key).await;
        assert_eq!(
            (job["status"].as_str(), job["created"].as_i64()),
            (Some("DONE"), Some(1)),
            "{job}"
        );
    }
    // Bad requests, rights and tenants.
    let wrong_type = post("", "text/csv", body.clone(), key.clone()).await;
    assert_eq!(wrong_type.status(), 415);
    let reader = app.key(&t, &["VIEW_USERS"]).await;
    assert_eq!(
        post("", "application/x-ndjson", body.clone(), reader.clone())
            .await
            .status(),
        403
    );
    app.get(&location, &reader).await.problem(403);
    let other = app.tenant("other").await;
    let other_key = app.key(&other, &["MANAGE_USERS"]).await;
    let id = first["id"].as_str().unwrap();
    app.get(&format!("/v1/tenants/{other}/imports/{id}"), &other_key)
        .await
        .problem(404);
    app.get(&format!("/v1/tenants/{t}/imports/not-a-uuid"), &key)
        .await
        .problem(400);
    app.get(
        &format!("/v1/tenants/{t}/imports/00000000-0000-7000-8000-000000000000"),
        &key,
    )
    .await
    .problem(404);
}

/// A user's active contacts as `TYPE value primary|-`, by type and value.
async fn contacts_of(app: &TestApp, email: &str) -> Vec<String> {
    app.rows_as_text(&format!(
        "SELECT c.contact_type || ' ' || c.value || ' ' || CASE WHEN c.is_primary THEN 'primary' \
         ELSE '-' END FROM contacts c JOIN users u ON u.tenant_id = c.tenant_id AND u.id = \
         c.user_id WHERE u.email_key = '{email}' AND c.is_active ORDER BY c.contact_type, c.value"
    ))
    .await
}

async fn contacts_companies_by_external_id_and_batches(engine: Engine) {
    let app = TestApp::start(engine).await;
    let t = app.tenant("acme").await;
    let company = app
        .post(
            &format!("/v1/tenants/{t}/companies"),
            ADMIN,
            json!({"name": "Acme Co", "external_id": "acme-co"}),
        )
        .await
        .expect(201);
    // A user the database knows, whose user code a line takes.
    app.user(&t, json!({"email": "taken@example.com", "user_code": "X9"}))
        .await;
    let file = jsonl(&[
        json!({"email": "ann@example.com", "company_external_id": "acme-co", "roles": ["OWNER"],
               "contacts": [{"contact_type": "EMAIL", "value": "ann@example.com", "is_primary": true},
                            {"contact_type": "PHONE", "value": "+15551234567"}]}),
        json!({"email": "bob@example.com", "company_external_id": "nowhere"}),
        // The same user as line 1, in the same batch: it sees line 1's user.
        json!({"email": "ann@example.com", "first_name": "Ann"}),
        json!({"email": "cy@example.com", "user_code": "C1"}),
        // The same user code as line 4 in the batch: refused, alone.
        json!({"email": "dee@example.com", "user_code": "C1"}),
        json!({"email": "eve@example.com", "contacts": [{"contact_type": "PHONE", "value": "123"}]}),
        // A conflict only the database finds: the batch is written again
        // line by line, and only this line is refused.
        json!({"email": "fay@example.com", "user_code": "X9"}),
        json!({"email": "gus@example.com", "company_id": company["id"], "company_external_id": "acme-co"}),
        json!({"email": "hal@example.com"}),
    ]);
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&file));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for expected in [
        "line 2: company_external_id: no company of the tenant has this external_id",
        "line 5: line: ",
        "line 6: contacts[0].value: must be an E.164 number",
        "line 7: line: ",
        "line 8: company_external_id: give a company_id or a company_external_id, not both",
        "created 3, updated 1, unchanged 0, rejected 5",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} not in {}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("line 4:") && !run.stdout.contains("line 9:"),
        "{}",
        run.stdout
    );
    let ann = app
        .get(
            &format!("/v1/tenants/{t}/users?email=ann@example.com"),
            ADMIN,
        )
        .await
        .expect(200);
    let ann = &ann["data"][0];
    assert_eq!(ann["company_id"], company["id"]);
    assert_eq!(ann["roles"], json!(["OWNER"]));
    assert_eq!(ann["first_name"], "Ann");
    assert_eq!(
        contacts_of(&app, "ann@example.com").await,
        ["EMAIL ann@example.com primary", "PHONE +15551234567 -"]
    );
    // Each created user has its event in the outbox.
    let created = app
        .rows_as_text(
            "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE type = 'roster.user.created'",
        )
        .await;
    assert_eq!(created, ["4"], "three imported, one made over the API");
    // An imported user's event carries the user as a read of it shows it.
    let hal = app
        .get(
            &format!("/v1/tenants/{t}/users?email=hal@example.com"),
            ADMIN,
        )
        .await
        .expect(200)["data"][0]
        .clone();
    let body = app
        .rows_as_text(&format!(
            "SELECT body FROM outbox WHERE type = 'roster.user.created' AND body LIKE '%{}%'",
            hal["id"].as_str().unwrap()
        ))
        .await;
    let event: Value = serde_json::from_str(&body[0]).unwrap();
    assert_eq!(
        event["subject"],
        format!("users/{}", hal["id"].as_str().unwrap())
    );
    for (field, value) in event["data"].as_object().unwrap() {
        assert_eq!(&hal[field], value, "{field} in {event}");
    }

    // The same file again changes nothing: no write, no event.
    let events = app.count("events").await;
    let again = roster(&app, &["import", "--tenant", &t, "-"], Some(&file));
    assert!(
        again
            .stdout
            .contains("created 0, updated 0, unchanged 4, rejected 5"),
        "{}",
        again.stdout
    );
    assert_eq!(app.count("events").await, events);

    // New contacts replace the active ones: the old are kept, inactive.
    let change = jsonl(&[json!({"email": "ann@example.com", "contacts": [
        {"contact_type": "EMAIL", "value": "ann@new.example.com", "is_primary": true}]})]);
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&change));
    assert!(run.stdout.contains("updated 1"), "{}", run.stdout);
    assert_eq!(
        contacts_of(&app, "ann@example.com").await,
        ["EMAIL ann@new.example.com primary"]
    );
    assert_eq!(
        app.rows_as_text("SELECT CAST(COUNT(*) AS TEXT) FROM contacts")
            .await,
        ["3"]
    );

    // A batch of many lines (past the batch's one-by-one announcement)
    // imports every line, each user readable at once.
    let many: Vec<Value> = (0..150)
        .map(|i| json!({"email": format!("many{i}@example.com"), "tenant_role": "ACCESS"}))
        .collect();
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&jsonl(&many)));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("created 150"), "{}", run.stdout);
    let listed = app
        .get(
            &format!("/v1/tenants/{t}/users?role=ACCESS&limit=500"),
            ADMIN,
        )
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 150);
}

/// Whether the cashier may use the POS at `main`, as `app`'s cache answers.
async fn may_use_pos(app: &TestApp, t: &str, key: &str, user: &str) -> Value {
    let question = json!({"user_id": user, "permission": "USE_POS", "store_id": "main"});
    app.post(&format!("/v1/tenants/{t}/check"), key, question)
        .await
        .expect(200)["allowed"]
        .clone()
}

/// The user's status, as `app`'s cache answers a read of it.
async fn status_of(app: &TestApp, t: &str, key: &str, user: &str) -> Value {
    app.get(&format!("/v1/tenants/{t}/users/{user}"), key)
        .await
        .expect(200)["status"]
        .clone()
}

/// Until a check and a read of `user` are each answered from `app`'s
/// cache (on PostgreSQL it is trusted once the push is heard).
async fn warm(app: &TestApp, t: &str, key: &str, user: &str) {
    until_hit(app, "subjects", || async {
        may_use_pos(app, t, key, user).await;
    })
    .await;
    until_hit(app, "users", || async {
        status_of(app, t, key, user).await;
    })
    .await;
}

async fn a_running_servers_cache_sees_an_import_within_the_bound(engine: Engine) {
    // A bound well under the cache's backstop (60 s): only the import's
    // announcement (PostgreSQL's NOTIFY) or the file's move (SQLite's
    // data_version) can explain the server honouring it in time.
    let bound = Duration::from_secs(3);
    let app = TestApp::start_with(engine, staleness(3_000)).await;
    let t = app.tenant("acme").await;
    app.store(&t, "main").await;
    let lee = app
        .user(
            &t,
            json!({"email": "lee@example.com", "tenant_role": "ACCESS"}),
        )
        .await;
    let lee = lee["id"].as_str().unwrap().to_string();
    let key = app.key(&t, &["VIEW_USERS"]).await;
    let honoured = |allowed: bool, status: &'static str| {
        let (app, t, key, lee) = (&app, &t, &key, &lee);
        async move {
            let took = time_until(json!(allowed), || may_use_pos(app, t, key, lee)).await;
            assert!(took <= bound + Duration::from_millis(700), "{took:?}");
            let took = time_until(json!(status), || status_of(app, t, key, lee)).await;
            assert!(took <= bound + Duration::from_millis(700), "{took:?}");
        }
    };

    // A small batch names its users: Lee is deactivated.
    warm(&app, &t, &key, &lee).await;
    assert_eq!(may_use_pos(&app, &t, &key, &lee).await, true);
    let file = jsonl(&[json!({"email": "lee@example.com", "status": "INACTIVE"})]);
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&file));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("updated 1"), "{}", run.stdout);
    honoured(false, "INACTIVE").await;

    // A big batch (past the users it names one by one, it announces the
    // whole tenant): Lee is active again, among hundreds of new users.
    warm(&app, &t, &key, &lee).await;
    assert_eq!(may_use_pos(&app, &t, &key, &lee).await, false);
    let mut lines = vec![json!({"email": "lee@example.com", "status": "ACTIVE"})];
    lines.extend((0..300).map(|i| json!({"email": format!("new{i}@example.com")})));
    let run = roster(&app, &["import", "--tenant", &t, "-"], Some(&jsonl(&lines)));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("created 300, updated 1"),
        "{}",
        run.stdout
    );
    honoured(true, "ACTIVE").await;
}
