//! How fast does Roster answer "may X do P here?", and what does it cost
//! compared with doing nothing (the HTTP floor) and with one plain read?
//!
//! Run with `cargo bench -p roster --bench check`. For each engine (SQLite in
//! a temporary file, always; PostgreSQL in a fresh database that is dropped
//! afterwards, when `ROSTER_TEST_DATABASE_URL` is set) the benchmark starts a
//! real Roster server in-process on 127.0.0.1, seeds one realistic tenant
//! through the store (20 stores, 50 companies, 2,000 users holding a mix of
//! tenant, partner, commerce and organisation roles, store access, inactive
//! and blocked users; no passwords), creates an API key with `VIEW_USERS`
//! and then drives, with a keep-alive HTTP client and 8 requests in flight, a
//! fixed number of requests per case after a short warm-up: `GET /healthz`
//! (the HTTP floor: routing, middleware, one connection round trip),
//! `GET /v1/tenants/{t}/users/{id}` (one authenticated indexed read, the
//! "one read" baseline), single `POST /v1/tenants/{t}/check` questions over
//! varied users, permissions, stores and companies, and batches of 100
//! questions in one `check` call. Two in-process rows decompose the cost:
//! `Store::check_facts` called directly (the database read of a check,
//! without HTTP or authentication) and `permission::evaluate` on prepared
//! subjects (the pure compute, one thread, a million iterations). Before
//! timing, a sample of answers is cross-checked: HTTP single, HTTP batch and
//! in-process evaluation must agree (else the run fails). Whether those
//! answers are the ones SPEC §1's permission table gives is checked by
//! `cargo test`, not here: `crates/roster-core/tests/permission_oracle.rs`
//! holds `permission::evaluate` to an independent transcription of that
//! table. How to read the printed results: client and server share the
//! same machine, so absolute numbers depend on it; the RATIOS, measured in
//! the same run, are what to compare between versions.
//! `check / healthz` says how much a check costs over an empty request
//! (ideally a small factor: auth read + facts read); `check / get-user` says
//! how a check compares with the cheapest authenticated read (about 1 or
//! less is right: both are one key lookup plus indexed reads); `batch
//! per-question / single` says what a question costs inside a batch
//! compared with on its own (well under 1 means batching pays off); and
//! `evaluate` shows that the permission logic itself is negligible, so any
//! cost is I/O.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roster_app::{App, Config, Secret};
use roster_core::permission::evaluate;
use roster_core::{
    AccountType, Actor, CommerceRole, CompanyKind, CompanyStatus, NewUser, OrgRole, PartnerRole,
    Permission, PermissionScope, Profile, Roles, Source, Subject, Target, TenantRole, UserStatus,
};
use roster_store::{ConnectOptions, NewCompany, NewStore, NewTenant, Store};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use uuid::Uuid;

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const ADMIN: &str = "bench-admin-token-0123456789abcdef";
const TENANT: &str = "bench-tenant";
const STORES: usize = 20;
const COMPANIES: usize = 50;
const USERS: usize = 2_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// Requests per case before timing starts.
const WARMUP: usize = 300;
const HEALTHZ_REQUESTS: usize = 5_000;
const GET_USER_REQUESTS: usize = 4_000;
const CHECK_REQUESTS: usize = 5_000;
const FACTS_CALLS: usize = 5_000;
const BATCH_SIZE: usize = 100;
const BATCH_REQUESTS: usize = 200;
const EVALUATIONS: usize = 1_000_000;
/// Answers cross-checked between HTTP single, HTTP batch and in-process.
const CROSS_CHECKS: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "Roster check benchmark: {STORES} stores, {COMPANIES} companies, {USERS} users; \
         {CONCURRENCY} requests in flight; client and server in one process on {cpus} CPU(s)."
    );
    let started = Instant::now();
    run_engine(Engine::Sqlite).await;
    match postgres_url() {
        Some(_) => run_engine(Engine::Postgres).await,
        None => println!(
            "\nPostgreSQL: skipped (set ROSTER_TEST_DATABASE_URL, e.g. \
             postgres://postgres@127.0.0.1:5432/postgres, to include it)."
        ),
    }
    println!("\ntotal time: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// Engines and databases
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

fn postgres_url() -> Option<String> {
    std::env::var("ROSTER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The database of one run, removed by [`Database::remove`].
enum Database {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Database {
    async fn create(engine: Engine) -> (String, Database) {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("roster.db").display());
                (url, Database::Sqlite(dir))
            }
            Engine::Postgres => {
                let admin_url = postgres_url().expect("ROSTER_TEST_DATABASE_URL");
                let name = format!("roster_bench_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("ROSTER_TEST_DATABASE_URL is set but the server is unreachable");
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .expect("create the benchmark database");
                let _ = conn.close().await;
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("ROSTER_TEST_DATABASE_URL must name a database"),
                };
                (url, Database::Postgres { admin_url, name })
            }
        }
    }

    async fn remove(self) {
        match self {
            Database::Sqlite(dir) => drop(dir),
            Database::Postgres { admin_url, name } => {
                match sqlx::PgConnection::connect(&admin_url).await {
                    Ok(mut conn) => {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        if let Err(e) = conn.execute(sql.as_str()).await {
                            eprintln!("could not drop database {name}: {e}");
                        }
                        let _ = conn.close().await;
                    }
                    Err(e) => eprintln!("could not drop database {name}: {e}"),
                }
            }
        }
    }
}

/// Runs the whole benchmark on one engine; the database is removed even if
/// the run panics (the panic is then propagated).
async fn run_engine(engine: Engine) {
    let (url, database) = Database::create(engine).await;
    let outcome = tokio::spawn(bench_engine(engine, url)).await;
    database.remove().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("benchmark task failed: {e}");
    }
}

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

struct Seeded {
    stores: Vec<String>,
    companies: Vec<Uuid>,
    /// Every user, with its company.
    users: Vec<(Uuid, Option<Uuid>)>,
}

fn new_user(i: usize, rng: &mut Rng, stores: &[String], companies: &[Uuid]) -> NewUser {
    let mut roles = Roles::default();
    let mut store_ids = Vec::new();
    let mut company_id = None;
    let kind = rng.below(100);
    if kind < 3 {
        roles.tenant = Some(TenantRole::Admin);
    } else if kind < 13 {
        roles.tenant = Some(TenantRole::Backoffice);
    } else if kind < 28 {
        roles.tenant = Some(TenantRole::Access);
        // One in five ACCESS users has no store list: every store.
        let k = rng.below(5);
        store_ids = rng.sample(stores, k);
    } else if kind < 31 {
        // Blocked, though also holding a partner role that BLOCKED overrides.
        roles.tenant = Some(TenantRole::Blocked);
        roles.partner = Some(PartnerRole::Manager);
        let k = 1 + rng.below(3);
        store_ids = rng.sample(stores, k);
    } else if kind < 45 {
        roles.partner = Some(*rng.pick(PartnerRole::ALL));
        let k = 1 + rng.below(5);
        store_ids = rng.sample(stores, k);
    } else {
        company_id = Some(*rng.pick(companies));
        let k = 1 + rng.below(3);
        roles.commerce = rng.sample(CommerceRole::ALL, k);
        if rng.percent(30) {
            roles.org = Some(*rng.pick(OrgRole::ALL));
        }
        if rng.percent(10) {
            roles.tenant = Some(TenantRole::Access);
            store_ids = rng.sample(stores, 1);
        }
    }
    let account_type = match rng.below(20) {
        0 | 1 => AccountType::Full,
        2 => AccountType::Support,
        3 => AccountType::Integration,
        _ => AccountType::Regular,
    };
    let status = if rng.percent(4) {
        UserStatus::Inactive
    } else {
        UserStatus::Active
    };
    let integration = account_type == AccountType::Integration;
    NewUser {
        company_id,
        parent_id: None,
        profile: Profile {
            name: Some(format!("Bench User {i}")),
            first_name: Some(format!("First{i}")),
            last_name: Some(format!("Last{i}")),
            email: Some(format!("user{i}@bench.example.com")),
            login: Some(format!("user{i}")),
            user_code: Some(format!("{:06}", 100_000 + i)),
            language_code: Some("en".into()),
            ..Profile::default()
        },
        external_id: integration.then(|| format!("ext-{i}")),
        source: integration.then_some(Source::Integration),
        status,
        account_type,
        default_store_id: store_ids.first().cloned(),
        account_id: None,
        password_hash: None,
        roles,
        store_ids,
    }
}

/// Seeds the tenant straight through the store (no HTTP, no passwords).
async fn seed(store: &Arc<dyn Store>) -> Seeded {
    use futures::StreamExt;

    let admin = Actor::Admin;
    store
        .create_tenant(
            NewTenant {
                uid: TENANT.into(),
                name: "Bench Retail".into(),
            },
            &admin,
        )
        .await
        .expect("create tenant");
    let mut stores = Vec::with_capacity(STORES);
    for i in 1..=STORES {
        let s = store
            .create_store(
                TENANT,
                NewStore {
                    id: format!("store-{i:02}"),
                    code: format!("S{i:02}"),
                    name: format!("Store {i}"),
                },
                &admin,
            )
            .await
            .expect("create store");
        stores.push(s.id);
    }
    let mut companies = Vec::with_capacity(COMPANIES);
    for i in 1..=COMPANIES {
        let c = store
            .create_company(
                TENANT,
                NewCompany {
                    kind: CompanyKind::Commerce,
                    name: format!("Company {i}"),
                    external_id: Some(format!("C{i:03}")),
                    status: CompanyStatus::Active,
                },
                &admin,
            )
            .await
            .expect("create company");
        companies.push(c.id);
    }
    let mut rng = Rng(0x5EED_0001);
    let specs: Vec<NewUser> = (0..USERS)
        .map(|i| new_user(i, &mut rng, &stores, &companies))
        .collect();
    let users: Vec<(Uuid, Option<Uuid>)> = futures::stream::iter(specs)
        .map(|spec| {
            let store = store.clone();
            async move {
                let user = store
                    .create_user(TENANT, spec, &Actor::Admin)
                    .await
                    .expect("create user");
                (user.id, user.company_id)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Seeded {
        stores,
        companies,
        users,
    }
}

// ---------------------------------------------------------------------------
// Questions
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Question {
    user: Uuid,
    permission: Permission,
    target: Target,
}

impl Question {
    fn to_json(&self) -> Value {
        let mut q = json!({"user_id": self.user, "permission": self.permission.as_str()});
        if let Some(s) = &self.target.store_id {
            q["store_id"] = json!(s);
        }
        if let Some(c) = self.target.company_id {
            q["company_id"] = json!(c);
        }
        q
    }
}

/// Varied questions: every permission, mostly with the place it is about
/// (the user's own company most of the time, sometimes another one).
fn questions(seeded: &Seeded, n: usize, seed: u64) -> Vec<Question> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let (user, own_company) = *rng.pick(&seeded.users);
            let permission = *rng.pick(Permission::ALL);
            let mut target = Target::default();
            match permission.scope() {
                PermissionScope::Tenant => {}
                PermissionScope::Store => {
                    if rng.percent(85) {
                        target.store_id = Some(rng.pick(&seeded.stores).clone());
                    }
                }
                PermissionScope::Company => {
                    let r = rng.below(10);
                    target.company_id = match (r, own_company) {
                        (0..=6, Some(c)) => Some(c),
                        (9, _) => None,
                        _ => Some(*rng.pick(&seeded.companies)),
                    };
                }
            }
            Question {
                user,
                permission,
                target,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Load driver and statistics
// ---------------------------------------------------------------------------

struct Stats {
    label: String,
    count: usize,
    errors: usize,
    elapsed: Duration,
    /// Sorted latencies.
    latencies: Vec<Duration>,
    /// Work items per request (questions per batch), for per-item figures.
    per_request: usize,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }

    fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// Mean wall time per work item at this concurrency (1 / item throughput).
    fn item_cost(&self) -> Duration {
        self.elapsed / (self.count * self.per_request) as u32
    }
}

/// Sends `n` requests, `CONCURRENCY` at a time: `call(i)` performs the i-th
/// and says whether it succeeded. Returns the timing of every request.
async fn drive<F, Fut>(label: &str, n: usize, per_request: usize, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (call, next, first_error) = (call.clone(), next.clone(), first_error.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(n / CONCURRENCY + 1);
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    let outcome = call(i).await;
                    latencies.push(t.elapsed());
                    if let Err(e) = outcome {
                        errors += 1;
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.expect("load worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    if let Some(e) = first_error.lock().unwrap().take() {
        eprintln!("  {label}: {errors} failed request(s); first: {e}");
    }
    Stats {
        label: label.to_string(),
        count: n,
        errors,
        elapsed,
        latencies,
        per_request,
    }
}

/// Warms up with `WARMUP` requests (untimed), then measures `n`.
async fn measure<F, Fut>(label: &str, n: usize, per_request: usize, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let warm = call.clone();
    drive("warm-up", WARMUP.min(n), per_request, move |i| {
        warm(n - 1 - i)
    })
    .await;
    drive(label, n, per_request, call).await
}

/// A request that must answer 200; its body is read in full.
async fn expect_ok(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}

// ---------------------------------------------------------------------------
// One engine
// ---------------------------------------------------------------------------

async fn bench_engine(engine: Engine, url: String) {
    let title = match engine {
        Engine::Sqlite => "SQLite (temporary file, WAL, synchronous=FULL)",
        Engine::Postgres => "PostgreSQL (fresh database on ROSTER_TEST_DATABASE_URL)",
    };
    println!("\n=== {title} ===");
    let options = ConnectOptions {
        url,
        sqlite_synchronous: roster_store::SqliteSynchronous::Full,
        // The binary's default (ROSTER_MAX_CONNECTIONS).
        max_connections: 10,
    };
    let store = roster_store::connect(&options)
        .await
        .expect("connect to the benchmark database");
    let app = roster_http::router(App::new(store.clone(), http_config()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });

    let t = Instant::now();
    let seeded = seed(&store).await;
    println!(
        "seeded {} stores, {} companies, {} users through the store in {:.1} s",
        seeded.stores.len(),
        seeded.companies.len(),
        seeded.users.len(),
        t.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY * 2)
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client");
    let key = create_key(&client, &base).await;

    let singles = questions(&seeded, CHECK_REQUESTS, 0xC0FFEE);
    let single_bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        singles
            .iter()
            .map(|q| serde_json::to_vec(&q.to_json()).expect("json"))
            .collect(),
    );
    let batch_questions = questions(&seeded, BATCH_REQUESTS * BATCH_SIZE, 0xBA7C4);
    let batch_bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        batch_questions
            .chunks(BATCH_SIZE)
            .map(|chunk| {
                let checks: Vec<Value> = chunk.iter().map(Question::to_json).collect();
                serde_json::to_vec(&json!({ "checks": checks })).expect("json")
            })
            .collect(),
    );
    let allowed_share = cross_check(&client, &base, &key, &store, &singles).await;
    println!(
        "cross-checked {CROSS_CHECKS} answers: HTTP single = HTTP batch = in-process evaluate; \
         {:.0}% allowed",
        allowed_share * 100.0
    );

    let check_url = format!("{base}/v1/tenants/{TENANT}/check");
    let users: Arc<Vec<Uuid>> = Arc::new(seeded.users.iter().map(|u| u.0).collect());
    let mut rows = Vec::new();

    // (1) The HTTP floor.
    let (c, b) = (client.clone(), base.clone());
    rows.push(
        measure("GET /healthz", HEALTHZ_REQUESTS, 1, move |_| {
            expect_ok(c.get(format!("{b}/healthz")))
        })
        .await,
    );

    // (2) One authenticated indexed read.
    let (c, b, k, u) = (client.clone(), base.clone(), key.clone(), users.clone());
    rows.push(
        measure("GET /v1/.../users/{id}", GET_USER_REQUESTS, 1, move |i| {
            let id = u[(i * 7919) % u.len()];
            expect_ok(
                c.get(format!("{b}/v1/tenants/{TENANT}/users/{id}"))
                    .bearer_auth(&k),
            )
        })
        .await,
    );

    // (3) Single checks.
    let (c, url, k, bodies) = (
        client.clone(),
        check_url.clone(),
        key.clone(),
        single_bodies.clone(),
    );
    rows.push(
        measure("POST /v1/.../check (single)", CHECK_REQUESTS, 1, move |i| {
            expect_ok(
                c.post(&url)
                    .bearer_auth(&k)
                    .header("content-type", "application/json")
                    .body(bodies[i % bodies.len()].clone()),
            )
        })
        .await,
    );

    // (4) Batches of BATCH_SIZE questions.
    let (c, url, k, bodies) = (
        client.clone(),
        check_url.clone(),
        key.clone(),
        batch_bodies.clone(),
    );
    let batch_label = format!("POST /v1/.../check (batch of {BATCH_SIZE})");
    rows.push(
        measure(&batch_label, BATCH_REQUESTS, BATCH_SIZE, move |i| {
            expect_ok(
                c.post(&url)
                    .bearer_auth(&k)
                    .header("content-type", "application/json")
                    .body(bodies[i % bodies.len()].clone()),
            )
        })
        .await,
    );

    // The database read of a check, without HTTP or authentication.
    let (s, qs) = (store.clone(), Arc::new(singles.clone()));
    rows.push(
        measure(
            "Store::check_facts (in-process)",
            FACTS_CALLS,
            1,
            move |i| {
                let (s, qs) = (s.clone(), qs.clone());
                async move {
                    let q = &qs[i % qs.len()];
                    let facts = s
                        .check_facts(
                            TENANT,
                            q.user,
                            q.target.store_id.as_deref(),
                            q.target.company_id,
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    facts
                        .subject
                        .map(|_| ())
                        .ok_or_else(|| "no subject".to_string())
                }
            },
        )
        .await,
    );

    // (5) The pure permission evaluation.
    let evaluation = bench_evaluate(&store, &seeded).await;

    server.abort();
    let _ = server.await;
    drop(store);

    print_report(&rows, &evaluation);
}

/// The server's settings: the defaults, plus the admin token used to seed.
#[allow(clippy::needless_update)] // Config gains fields with defaults
fn http_config() -> Config {
    Config {
        admin_token: Some(Secret::new(ADMIN)),
        ..Config::default()
    }
}

async fn create_key(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/v1/tenants/{TENANT}/api-keys"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "bench", "permissions": ["VIEW_USERS"]}))
        .send()
        .await
        .expect("create API key");
    assert_eq!(response.status().as_u16(), 201, "create API key");
    let body: Value = response.json().await.expect("API key body");
    body["token"].as_str().expect("API key token").to_string()
}

/// Asks the first `CROSS_CHECKS` questions one by one and as one batch, and
/// evaluates them in-process on the store's facts: all three must agree.
/// Returns the share of allowed answers.
async fn cross_check(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    store: &Arc<dyn Store>,
    singles: &[Question],
) -> f64 {
    let url = format!("{base}/v1/tenants/{TENANT}/check");
    let sample = &singles[..CROSS_CHECKS.min(singles.len())];
    let checks: Vec<Value> = sample.iter().map(Question::to_json).collect();
    let response = client
        .post(&url)
        .bearer_auth(key)
        .json(&json!({ "checks": checks }))
        .send()
        .await
        .expect("batch check");
    assert_eq!(response.status().as_u16(), 200, "batch check");
    let batch: Value = response.json().await.expect("batch body");
    let results = batch["results"].as_array().expect("results");
    assert_eq!(results.len(), sample.len(), "one result per question");
    let mut allowed = 0;
    for (i, q) in sample.iter().enumerate() {
        let response = client
            .post(&url)
            .bearer_auth(key)
            .json(&q.to_json())
            .send()
            .await
            .expect("check");
        assert_eq!(response.status().as_u16(), 200, "check {q:?}");
        let one: Value = response.json().await.expect("check body");
        assert_eq!(one, results[i], "single and batch answers differ for {q:?}");
        let facts = store
            .check_facts(
                TENANT,
                q.user,
                q.target.store_id.as_deref(),
                q.target.company_id,
            )
            .await
            .expect("check_facts");
        let decision = evaluate(&facts.subject.expect("subject"), q.permission, &q.target);
        assert_eq!(
            one["allowed"], decision.allowed,
            "HTTP and in-process differ for {q:?}: {one}"
        );
        assert_eq!(one["reason"], decision.reason.as_str(), "reason for {q:?}");
        allowed += usize::from(decision.allowed);
    }
    allowed as f64 / sample.len() as f64
}

struct Evaluation {
    count: usize,
    elapsed: Duration,
    allowed: usize,
}

/// `permission::evaluate` on subjects read from the store, one thread.
async fn bench_evaluate(store: &Arc<dyn Store>, seeded: &Seeded) -> Evaluation {
    let mut subjects: Vec<Subject> = Vec::new();
    for (user, _) in seeded.users.iter().take(500) {
        let facts = store
            .check_facts(TENANT, *user, None, None)
            .await
            .expect("check_facts");
        subjects.push(facts.subject.expect("subject"));
    }
    let index: std::collections::HashMap<Uuid, usize> = seeded.users[..subjects.len()]
        .iter()
        .enumerate()
        .map(|(i, (u, _))| (*u, i))
        .collect();
    let prepared: Vec<(usize, Permission, Target)> = questions(seeded, 20_000, 0xE7A1)
        .into_iter()
        .filter_map(|q| Some((*index.get(&q.user)?, q.permission, q.target)))
        .collect();
    assert!(!prepared.is_empty(), "no prepared questions");
    tokio::task::spawn_blocking(move || {
        let run = |n: usize| {
            let mut allowed = 0;
            for i in 0..n {
                let (s, p, t) = &prepared[i % prepared.len()];
                let d = evaluate(black_box(&subjects[*s]), black_box(*p), black_box(t));
                allowed += usize::from(black_box(d).allowed);
            }
            allowed
        };
        run(EVALUATIONS / 10); // warm-up
        let started = Instant::now();
        let allowed = run(EVALUATIONS);
        Evaluation {
            count: EVALUATIONS,
            elapsed: started.elapsed(),
            allowed,
        }
    })
    .await
    .expect("evaluate")
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

fn fmt_rate(r: f64) -> String {
    if r >= 100_000.0 {
        format!("{:.2} M", r / 1_000_000.0)
    } else {
        format!("{r:.0}")
    }
}

fn print_report(rows: &[Stats], evaluation: &Evaluation) {
    println!(
        "\n{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
        "case", "count", "per s", "p50", "p99", "errors"
    );
    println!("{}", "-".repeat(90));
    for r in rows {
        println!(
            "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
            r.label,
            r.count,
            fmt_rate(r.rate()),
            fmt_duration(r.p50()),
            fmt_duration(r.p99()),
            r.errors
        );
        if r.per_request > 1 {
            println!(
                "{:<40} {:>8} {:>10} {:>10} {:>10}",
                "  ... per question",
                r.count * r.per_request,
                fmt_rate(r.rate() * r.per_request as f64),
                fmt_duration(r.p50() / r.per_request as u32),
                fmt_duration(r.p99() / r.per_request as u32),
            );
        }
    }
    let per_eval = evaluation.elapsed / evaluation.count as u32;
    println!(
        "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
        "permission::evaluate (1 thread)",
        evaluation.count,
        fmt_rate(evaluation.count as f64 / evaluation.elapsed.as_secs_f64()),
        format!("{} mean", fmt_duration(per_eval)),
        "",
        format!(
            "{:.0}% ok",
            evaluation.allowed as f64 * 100.0 / evaluation.count as f64
        ),
    );

    let [healthz, get_user, single, batch, facts] = rows else {
        return;
    };
    let failed: usize = rows.iter().map(|r| r.errors).sum();
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("\nratios (same run; latency = p50 vs p50, cost = 1 / throughput at {CONCURRENCY} in flight)");
    println!(
        "  check / healthz                latency x{:.2}   cost x{:.2}",
        ratio(single.p50(), healthz.p50()),
        ratio(single.item_cost(), healthz.item_cost()),
    );
    println!(
        "  check / get-user               latency x{:.2}   cost x{:.2}",
        ratio(single.p50(), get_user.p50()),
        ratio(single.item_cost(), get_user.item_cost()),
    );
    println!(
        "  batch per-question / single    latency x{:.3}  cost x{:.3}   ({} per question in a batch, {} per single check)",
        ratio(batch.p50() / batch.per_request as u32, single.p50()),
        ratio(batch.item_cost(), single.item_cost()),
        fmt_duration(batch.item_cost()),
        fmt_duration(single.item_cost()),
    );
    println!(
        "  check_facts (no HTTP) / check  latency x{:.2}   cost x{:.2}",
        ratio(facts.p50(), single.p50()),
        ratio(facts.item_cost(), single.item_cost()),
    );
    println!(
        "  evaluate / check               x{:.5} of a check's p50 is the permission logic",
        ratio(per_eval, single.p50()),
    );
    if failed > 0 {
        println!("  WARNING: {failed} request(s) failed; see above");
    }
}
