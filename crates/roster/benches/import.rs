//! Bulk import (issue #13): `roster import` of N users with contacts and
//! roles (no passwords), against a raw batched insert of the same rows into
//! the same schema, measured in the same run (target: the import at 0.5 or
//! more of the raw insert's rate, peak RSS under 200 MiB).
//!
//! For each engine: a tenant with 20 stores and 50 companies (external ids
//! `c-0`…`c-49`) is made three times, in fresh databases with Roster's
//! migrations (so the same tables and indexes). Into the first and the last
//! the harness inserts the rows itself through sqlx — users, role
//! assignments, store access, contacts — 1,000 users a transaction, 500 rows
//! an `INSERT`: the baseline, once before the import and once after. Into
//! the second the real binary (`roster import`) imports the same users from
//! a JSON-lines file, as a child process whose `VmHWM` (peak resident
//! memory) is read from `/proc` while it runs. The import does
//! everything the baseline does and parses, checks and matches each line,
//! and writes an audit event and an outbox event per user.
//!
//! ```text
//! cargo bench -p roster --bench import                                   # SQLite, 20,000 users
//! ROSTER_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench -p roster --bench import                                 # and PostgreSQL
//! ROSTER_IMPORT_BENCH_USERS=1000000 cargo bench -p roster --bench import # at scale
//! ```

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use roster_app::{App, Config, Secret};
use roster_store::ConnectOptions;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, QueryBuilder};

const ADMIN: &str = "bench-admin-token";
const TENANT: &str = "bench";
const STORES: usize = 20;
const COMPANIES: usize = 50;
/// Users per baseline transaction, and rows per baseline `INSERT`.
const PER_TRANSACTION: usize = 1000;
const PER_INSERT: usize = 500;

/// One user of the file, as both sides write it.
struct Spec {
    email: String,
    first_name: String,
    last_name: String,
    external_id: String,
    tenant_role: Option<&'static str>,
    partner_role: Option<&'static str>,
    company: Option<usize>,
    roles: Vec<&'static str>,
    stores: Vec<usize>,
    phone: String,
}

/// The i-th user: 40 % `ACCESS` on a store, 15 % partner viewers on two
/// stores, 45 % company users with one or two commerce roles; each with an
/// email and a phone contact, both primary.
fn spec(i: usize) -> Spec {
    let kind = i % 20;
    let (tenant_role, partner_role, company, roles, stores) = match kind {
        0..=7 => (Some("ACCESS"), None, None, vec![], vec![i % STORES]),
        8..=10 => (
            None,
            Some("viewer"),
            None,
            vec![],
            vec![i % STORES, (i + 7) % STORES],
        ),
        _ if i.is_multiple_of(3) => (
            None,
            None,
            Some(i % COMPANIES),
            vec!["FINANCE", "OWNER"],
            vec![],
        ),
        _ => (None, None, Some(i % COMPANIES), vec!["ORDERS"], vec![]),
    };
    Spec {
        email: format!("user{i}@example.com"),
        first_name: format!("First{i}"),
        last_name: format!("Last{}", i % 997),
        external_id: format!("m-{i}"),
        tenant_role,
        partner_role,
        company,
        roles,
        stores,
        phone: format!("+1202{:07}", i % 10_000_000),
    }
}

fn store_id(n: usize) -> String {
    format!("store-{n}")
}

fn line_of(spec: &Spec) -> Value {
    let mut line = json!({
        "email": spec.email,
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "external_id": spec.external_id,
        "contacts": [
            {"contact_type": "EMAIL", "value": spec.email, "is_primary": true},
            {"contact_type": "PHONE", "value": spec.phone, "is_primary": true},
        ],
    });
    let object = line.as_object_mut().unwrap();
    if let Some(role) = spec.tenant_role {
        object.insert("tenant_role".into(), json!(role));
    }
    if let Some(role) = spec.partner_role {
        object.insert("partner_role".into(), json!(role));
    }
    if let Some(company) = spec.company {
        object.insert("company_external_id".into(), json!(format!("c-{company}")));
        object.insert("roles".into(), json!(spec.roles));
    }
    if !spec.stores.is_empty() {
        let stores: Vec<String> = spec.stores.iter().map(|s| store_id(*s)).collect();
        object.insert("store_ids".into(), json!(stores));
    }
    line
}

fn main() {
    let users: usize = std::env::var("ROSTER_IMPORT_BENCH_USERS")
        .ok()
        .map_or(20_000, |n| {
            n.parse().expect("ROSTER_IMPORT_BENCH_USERS: a number")
        });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.jsonl");
        let started = Instant::now();
        let mut out = BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..users {
            serde_json::to_writer(&mut out, &line_of(&spec(i))).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
        drop(out);
        let size = std::fs::metadata(&file).unwrap().len();
        println!(
            "import bench: {users} users ({:.1} MiB of JSON lines, written in {:.1} s)",
            size as f64 / 1048576.0,
            started.elapsed().as_secs_f64()
        );
        let sqlite = |name: &str| format!("sqlite:{}", dir.path().join(name).display());
        run(
            "SQLite",
            [&sqlite("baseline-before.db"), &sqlite("baseline-after.db")],
            &sqlite("import.db"),
            &file,
            users,
        )
        .await;
        match std::env::var("ROSTER_TEST_DATABASE_URL") {
            Ok(admin) => {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                let mut urls = Vec::new();
                for _ in 0..3 {
                    let name = format!("roster_bench_{}", uuid::Uuid::new_v4().simple());
                    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                        .await
                        .unwrap();
                    urls.push((
                        name.clone(),
                        format!("{}/{name}", admin.rsplit_once('/').unwrap().0),
                    ));
                }
                run(
                    "PostgreSQL",
                    [&urls[0].1, &urls[2].1],
                    &urls[1].1,
                    &file,
                    users,
                )
                .await;
                for (name, _) in urls {
                    conn.execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
                        .await
                        .unwrap();
                }
            }
            Err(_) => println!("ROSTER_TEST_DATABASE_URL is not set: PostgreSQL not measured"),
        }
    });
}

/// Makes the tenant, its stores and companies in a fresh database (with
/// Roster's migrations); the company ids by number.
async fn seed(url: &str) -> Vec<String> {
    let store = roster_store::connect(&ConnectOptions::new(url))
        .await
        .unwrap();
    let config = Config {
        admin_token: Some(Secret::new(ADMIN)),
        ..Config::default()
    };
    let app = App::new(store, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = roster_http::router(app.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let created = post(
        "/v1/tenants".into(),
        json!({"uid": TENANT, "name": "Bench"}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    for n in 0..STORES {
        let created = post(
            format!("/v1/tenants/{TENANT}/stores"),
            json!({"id": store_id(n), "code": format!("s{n}"), "name": format!("Store {n}")}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), 201);
    }
    let mut companies = Vec::new();
    for n in 0..COMPANIES {
        let created = post(
            format!("/v1/tenants/{TENANT}/companies"),
            json!({"name": format!("Company {n}"), "external_id": format!("c-{n}")}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), 201);
        let company: Value = created.json().await.unwrap();
        companies.push(company["id"].as_str().unwrap().to_string());
    }
    server.abort();
    companies
}

/// The raw insert of `users` users into a freshly seeded database; how
/// long it took.
async fn baseline(baseline_url: &str, users: usize) -> Duration {
    let companies = seed(baseline_url).await;
    if baseline_url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = baseline_url.parse().unwrap();
        let options = options
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        raw_insert_sqlite(&mut conn, &companies, users).await
    } else {
        let mut conn = sqlx::PgConnection::connect(baseline_url).await.unwrap();
        raw_insert_postgres(&mut conn, &companies, users).await
    }
}

/// The baseline once before the import and once after (each into a
/// database of its own), so a machine whose speed drifts during the run
/// shows in the two figures; the import is compared with their mean rate.
async fn run(
    engine: &str,
    baseline_urls: [&str; 2],
    import_url: &str,
    file: &std::path::Path,
    users: usize,
) {
    let before = baseline(baseline_urls[0], users).await;
    seed(import_url).await;
    let (import, peak_kib, stdout) = import_file(import_url, file);
    let counted = count_users(import_url).await;
    assert_eq!(
        counted, users as i64,
        "the import made every user: {stdout}"
    );
    let after = baseline(baseline_urls[1], users).await;
    let rate = |d: Duration| users as f64 / d.as_secs_f64();
    let base_rate = (rate(before) + rate(after)) / 2.0;
    let import_rate = users as f64 / import.as_secs_f64();
    let ratio = import_rate / base_rate;
    println!(
        "{engine}: raw batched insert of {users} users in {:.2} s before and {:.2} s after \
         ({base_rate:.0}/s on average); roster import in {:.2} s ({import_rate:.0}/s) = \
         {ratio:.2} of the raw rate (target >= 0.5){}; peak RSS {:.0} MiB (target < 200){}",
        before.as_secs_f64(),
        after.as_secs_f64(),
        import.as_secs_f64(),
        if ratio < 0.5 { " — UNDER TARGET" } else { "" },
        peak_kib as f64 / 1024.0,
        if peak_kib >= 200 * 1024 {
            " — OVER TARGET"
        } else {
            ""
        },
    );
    println!(
        "  roster import said: {}",
        stdout.trim().lines().last().unwrap_or("")
    );
}

async fn count_users(url: &str) -> i64 {
    let sql = "SELECT count(*) FROM users";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

/// Runs `roster import` on the file; how long it took, its peak RSS (KiB,
/// polled from `/proc/<pid>/status` every 20 ms) and what it printed.
fn import_file(url: &str, file: &std::path::Path) -> (Duration, u64, String) {
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["import", "--tenant", TENANT])
        .arg(file)
        .env("ROSTER_DATABASE_URL", url)
        .env("ROSTER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("the roster binary starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            if let Some(hwm) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(hwm);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let elapsed = started.elapsed();
            let text = reader.join().unwrap();
            assert!(status.success(), "roster import failed: {text}");
            return (elapsed, peak, text);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The baseline: the same users' rows inserted straight through sqlx, in
/// transactions of `PER_TRANSACTION` users and `INSERT`s of `PER_INSERT`
/// rows; how long it took. A macro, one function per engine: sqlx's
/// bounds over `Database` do not let a query builder be generic here.
macro_rules! raw_insert {
    ($name:ident, $db:ty, $analyze:expr) => {
        async fn $name(
            conn: &mut <$db as sqlx::Database>::Connection,
            companies: &[String],
            users: usize,
        ) -> Duration {
    let started = Instant::now();
    let mut number = 1i64;
    for first in (0..users).step_by(PER_TRANSACTION) {
        let last = (first + PER_TRANSACTION).min(users);
        let at = chrono::Utc::now();
        let mut rows = Vec::new();
        let mut roles = Vec::new();
        let mut stores = Vec::new();
        let mut contacts = Vec::new();
        for i in first..last {
            let s = spec(i);
            let id = uuid::Uuid::now_v7().to_string();
            let company = s.company.map(|c| companies[c].clone());
            if let Some(role) = s.tenant_role {
                roles.push((id.clone(), "tenant", role, "tenant", String::new()));
            }
            if let Some(role) = s.partner_role {
                roles.push((id.clone(), "partner", role, "tenant", String::new()));
            }
            for role in &s.roles {
                roles.push((
                    id.clone(),
                    "commerce",
                    role,
                    "company",
                    company.clone().unwrap(),
                ));
            }
            for store in &s.stores {
                stores.push((id.clone(), number, store_id(*store)));
            }
            contacts.push((id.clone(), "EMAIL", s.email.clone(), s.email.clone()));
            contacts.push((id.clone(), "PHONE", s.phone.clone(), s.phone.clone()));
            rows.push((id, number, company, s));
            number += 1;
        }
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
        for chunk in rows.chunks(PER_INSERT) {
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO users (tenant_id, id, number, company_id, first_name, last_name, \
                 email, email_key, external_id, source, status, account_type, created_at, \
                 updated_at) ",
            );
            q.push_values(chunk, |mut row, (id, number, company, s)| {
                row.push_bind(TENANT.to_string())
                    .push_bind(id.clone())
                    .push_bind(*number)
                    .push_bind(company.clone())
                    .push_bind(s.first_name.clone())
                    .push_bind(s.last_name.clone())
                    .push_bind(s.email.clone())
                    .push_bind(s.email.to_lowercase())
                    .push_bind(s.external_id.clone())
                    .push_bind("IMPORT".to_string())
                    .push_bind("ACTIVE".to_string())
                    .push_bind("REGULAR".to_string())
                    .push_bind(at)
                    .push_bind(at);
            });
            q.build().execute(&mut *conn).await.unwrap();
        }
        for chunk in roles.chunks(PER_INSERT) {
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
                 scope_id) ",
            );
            q.push_values(chunk, |mut row, (id, vocabulary, role, kind, scope)| {
                row.push_bind(TENANT.to_string())
                    .push_bind(id.clone())
                    .push_bind(vocabulary.to_string())
                    .push_bind(role.to_string())
                    .push_bind(kind.to_string())
                    .push_bind(scope.clone());
            });
            q.build().execute(&mut *conn).await.unwrap();
        }
        for chunk in stores.chunks(PER_INSERT) {
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO user_stores (tenant_id, user_id, store_id, user_number) ",
            );
            q.push_values(chunk, |mut row, (id, number, store)| {
                row.push_bind(TENANT.to_string())
                    .push_bind(id.clone())
                    .push_bind(store.clone())
                    .push_bind(*number);
            });
            q.build().execute(&mut *conn).await.unwrap();
        }
        for chunk in contacts.chunks(PER_INSERT) {
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO contacts (tenant_id, id, user_id, contact_type, value, value_key, \
                 source, is_primary, is_active, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut row, (id, kind, value, key)| {
                row.push_bind(TENANT.to_string())
                    .push_bind(uuid::Uuid::now_v7().to_string())
                    .push_bind(id.clone())
                    .push_bind(kind.to_string())
                    .push_bind(value.clone())
                    .push_bind(key.to_lowercase())
                    .push_bind("IMPORT".to_string())
                    .push_bind(true)
                    .push_bind(true)
                    .push_bind(at)
                    .push_bind(at);
            });
            q.build().execute(&mut *conn).await.unwrap();
        }
        sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
        // The statistics refreshed as `roster import` refreshes them (after
        // its 1st, 2nd, 4th… batch), so the foreign-key checks of both
        // sides are planned alike.
        let analyze: Option<&str> = $analyze;
        if let Some(analyze) = analyze.filter(|_| (first / PER_TRANSACTION + 1).is_power_of_two()) {
            sqlx::query(analyze).execute(&mut *conn).await.unwrap();
        }
    }
    sqlx::query("UPDATE tenants SET next_user_number = $1 WHERE uid = $2")
        .bind(number)
        .bind(TENANT.to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    started.elapsed()
}
    };
}

raw_insert!(raw_insert_sqlite, sqlx::Sqlite, None);
raw_insert!(
    raw_insert_postgres,
    sqlx::Postgres,
    Some("ANALYZE users, role_assignments, user_stores, contacts")
);
