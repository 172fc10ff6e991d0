//! The load harness: a real `roster serve`, a seeded tenant, `wrk` over
//! loopback, and the baselines each workload is compared with, all measured
//! in the same run.
//!
//! ```sh
//! cargo bench -p roster --bench load -- [--engine sqlite|postgres|both] [--users N] [--quick]
//! cargo bench -p roster --bench load -- --help
//! ```
//!
//! For each engine the harness creates a fresh database (SQLite: a file in a
//! temporary directory under the target directory; PostgreSQL: a new database
//! on `ROSTER_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards), starts
//! the real binary on 127.0.0.1 with its defaults (plus an admin token and
//! sign-in throttles set high enough not to distort the sign-in workloads),
//! seeds one tenant (20 stores, 50 companies, N users with the benchmark mix
//! of tenant, partner, commerce and organisation roles and store access; the
//! first ones over HTTP, the rest, for large N, straight into the database in
//! transactions of thousands of rows) plus a few users with passwords and a
//! device for the sign-in workloads, and then drives, one after the other:
//!
//! | # | workload | compared with |
//! |---|---|---|
//! | B1 | `GET /healthz` | (baseline: routing, middleware, one round trip) |
//! | 1 | `POST /v1/tenants/{t}/check`, one varied question | B1: rate and p99 |
//! | 2 | `GET /v1/tenants/{t}/users/{id}` with an API key | B1: rate |
//! | 3 | `POST .../check`, batches of 100 questions | 1: questions per second |
//! | 7 | `GET .../users?role=..&store_id=..&limit=50` | B1: rate (p99 is the figure) |
//! | B2 | single-row insert transactions through sqlx, same durability, same concurrency | (baseline) |
//! | 4 | `POST .../users` (create, no password) | B2: rate |
//! | B3 | Argon2id verifications on all cores (m=19 MiB, t=2, p=1) | (baseline) |
//! | 5 | `POST /account` (device sign-in) | B3: rate |
//! | 6 | burst: many concurrent sign-ins for a few seconds | how many answered within 2 s |
//!
//! Every HTTP workload except the burst runs under `wrk` (a warm-up, then a
//! timed run); the burst uses the harness's own client, because `wrk` drops
//! the requests still in flight at its deadline, which is exactly what a
//! burst is about. The server's resident memory (`VmRSS`, and `VmHWM`, reset
//! before each workload through `/proc/<pid>/clear_refs`) is read after each
//! one. The results are printed as one table per engine and written as JSON
//! (`target/bench/load.json` by default). `docs/benchmarks.md` records a run
//! and says how to read it; `--quick` (small N, short workloads) is what CI
//! runs so the harness never rots: it asserts that everything ran, nothing
//! about speed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Parser, ValueEnum};
use roster_core::secret::{self, Password};
use roster_core::{
    validate, AccountType, CommerceRole, OrgRole, PartnerRole, Permission, PermissionScope,
    TenantRole, UserStatus,
};
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const ADMIN: &str = "load-admin-token-0123456789abcdef";
const TENANT: &str = "load";
const STORES: usize = 20;
const COMPANIES: usize = 50;
const BATCH_SIZE: usize = 100;
/// The sign-in users' password (zxcvbn score 4, the README's example).
const PASSWORD: &str = "correct-horse-battery-staple";
/// Distinct single questions and batches the check workloads cycle through.
const SINGLE_QUESTIONS: usize = 5_000;
const BATCHES: usize = 200;
/// Users per multi-row `INSERT` and per transaction when seeding in bulk.
const ROWS_PER_INSERT: usize = 1_000;
const ROWS_PER_TRANSACTION: usize = 10_000;
/// Answers within this time count as answered in time in the burst.
const BURST_DEADLINE: Duration = Duration::from_secs(2);
/// No request of the harness's own clients waits longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Fewer listings than this in a timed run, and listing is measured again
/// one at a time.
const SLOW_LIST_REQUESTS: u64 = 10;
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// Roster's load harness: a real `roster serve` on SQLite and/or PostgreSQL,
/// a seeded tenant, wrk over loopback, baselines measured in the same run.
/// Prints one table per engine and writes JSON. See docs/benchmarks.md.
#[derive(Debug, Parser)]
#[command(
    name = "cargo bench -p roster --bench load --",
    after_help = "Examples:\n  cargo bench -p roster --bench load                          # both engines, 2,000 users\n  cargo bench -p roster --bench load -- --engine sqlite --users 1000000\n  cargo bench -p roster --bench load -- --quick               # what CI runs"
)]
struct Options {
    /// Which engines to run.
    #[arg(long, value_enum, default_value_t = EngineChoice::Both)]
    engine: EngineChoice,
    /// Users to seed (the benchmark mix of roles and stores); 1000000 for the
    /// at-scale run. Default 2000, or 300 with --quick.
    #[arg(long)]
    users: Option<usize>,
    /// CI mode: few seconds per workload, small N, a small burst. Proves the
    /// harness runs; the numbers mean little.
    #[arg(long)]
    quick: bool,
    /// Seconds per timed workload (default 10, or 2 with --quick).
    #[arg(long)]
    duration: Option<u64>,
    /// Connections (requests in flight) for every workload but the burst,
    /// and concurrent transactions for the insert baseline.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// wrk threads. The client shares the machine with the server.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Users seeded over HTTP before the rest go straight into the database
    /// in bulk (default 2000, or 100 with --quick so both paths run).
    #[arg(long)]
    http_seed: Option<usize>,
    /// Users with a password, for the sign-in workloads (default 64, or 8
    /// with --quick).
    #[arg(long)]
    signin_users: Option<usize>,
    /// Concurrent sign-ins in the burst (default 256, or 32 with --quick).
    #[arg(long)]
    burst_concurrency: Option<usize>,
    /// Seconds the burst keeps sending (default 4, or 1 with --quick).
    #[arg(long)]
    burst_seconds: Option<u64>,
    /// Where to write the JSON results (default <target dir>/bench/load.json;
    /// a relative path is taken from the workspace root).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run only these workloads (ids from the table above, comma-separated,
    /// e.g. `--only B2,4`); the rest are left out of the table. A workload
    /// whose baseline is left out gets no ratio.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineChoice {
    Sqlite,
    Postgres,
    Both,
}

/// The options with the mode's defaults applied.
#[derive(Debug, Clone)]
struct Plan {
    quick: bool,
    users: usize,
    http_seed: usize,
    signin_users: usize,
    duration: Duration,
    warmup: Duration,
    connections: usize,
    threads: usize,
    burst_concurrency: usize,
    burst_seconds: u64,
    /// The workloads to run; empty: all.
    only: Vec<String>,
}

impl Plan {
    /// Whether workload `id` runs.
    fn runs(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }

    fn from(o: &Options) -> Plan {
        let q = o.quick;
        let duration = Duration::from_secs(o.duration.unwrap_or(if q { 2 } else { 10 }).max(1));
        Plan {
            quick: q,
            users: o.users.unwrap_or(if q { 300 } else { 2_000 }).max(10),
            http_seed: o.http_seed.unwrap_or(if q { 100 } else { 2_000 }),
            signin_users: o.signin_users.unwrap_or(if q { 8 } else { 64 }).max(1),
            duration,
            warmup: if q {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(2)
            },
            connections: o.connections.max(1),
            threads: o.threads.clamp(1, o.connections.max(1)),
            burst_concurrency: o
                .burst_concurrency
                .unwrap_or(if q { 32 } else { 256 })
                .max(1),
            burst_seconds: o.burst_seconds.unwrap_or(if q { 1 } else { 4 }).max(1),
            only: o.only.clone(),
        }
    }
}

fn main() {
    let options = Options::parse();
    let plan = Plan::from(&options);
    let target = target_dir();
    // cargo runs benches in the package's directory: a relative --json is
    // taken from the workspace root instead, where cargo was most likely run.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
    let json_path = match &options.json {
        Some(p) if p.is_relative() => workspace.join(p),
        Some(p) => p.clone(),
        None => target.join("bench").join("load.json"),
    };
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent).expect("create the JSON file's directory");
    }
    std::fs::create_dir_all(target.join("bench")).expect("create the bench directory");
    let wrk = ensure_wrk();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let machine = machine(&wrk);
    println!(
        "Roster load harness{}: {} users, {} per workload, wrk {} thread(s) x {} connection(s), on {}",
        if plan.quick { " (quick mode)" } else { "" },
        plan.users,
        fmt_secs(plan.duration),
        plan.threads,
        plan.connections,
        machine["summary"].as_str().unwrap_or_default(),
    );
    let mut engines = Vec::new();
    if options.engine != EngineChoice::Postgres {
        engines.push(Engine::Sqlite);
    }
    if options.engine != EngineChoice::Sqlite {
        match runtime.block_on(postgres_admin_url(options.engine == EngineChoice::Postgres)) {
            Some(url) => engines.push(Engine::Postgres(url)),
            None => {
                eprintln!(
                    "\n************************************************************************\n\
                     * PostgreSQL SKIPPED: {DEFAULT_POSTGRES} does not answer.\n\
                     * Set ROSTER_TEST_DATABASE_URL (or start PostgreSQL) to include it.\n\
                     ************************************************************************\n"
                );
            }
        }
    }
    let mut reports = Vec::new();
    for engine in engines {
        let report = runtime.block_on(run_engine(&engine, &plan, &target, &wrk));
        reports.push(report);
    }
    println!();
    for report in &reports {
        print!("{}", report.table());
        println!();
    }
    let total = started.elapsed();
    let document = json!({
        "harness": "cargo bench -p roster --bench load",
        "quick": plan.quick,
        "machine": machine,
        "plan": {
            "users": plan.users,
            "http_seed": plan.http_seed,
            "signin_users": plan.signin_users,
            "seconds_per_workload": plan.duration.as_secs_f64(),
            "connections": plan.connections,
            "wrk_threads": plan.threads,
            "burst_concurrency": plan.burst_concurrency,
            "burst_seconds": plan.burst_seconds,
        },
        "engines": reports.iter().map(EngineReport::to_json).collect::<Vec<_>>(),
        "total_seconds": total.as_secs_f64(),
    });
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&document).expect("json") + "\n",
    )
    .expect("write the JSON results");
    println!(
        "results written to {}; total time {:.0} s",
        json_path.display(),
        total.as_secs_f64()
    );
    if reports.is_empty() {
        eprintln!("no engine ran");
        std::process::exit(1);
    }
    let problems: Vec<String> = reports.iter().flat_map(EngineReport::problems).collect();
    for p in &problems {
        eprintln!("WARNING: {p}");
    }
    if plan.quick && !problems.is_empty() {
        // Quick mode is CI's proof that the harness still works end to end.
        eprintln!(
            "quick mode: {} workload(s) did not run cleanly",
            problems.len()
        );
        std::process::exit(1);
    }
}

/// The cargo target directory: this binary is `<target>/<profile>/deps/load-*`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// wrk on PATH, installed with apt-get when missing (after `apt-get update`
/// if apt does not know it yet).
fn ensure_wrk() -> String {
    let found = |name: &str| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if found("wrk") {
        return "wrk".into();
    }
    println!("wrk is missing: apt-get install -y wrk");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        println!("apt-get could not install wrk: apt-get update, then again");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        install();
    }
    assert!(
        found("wrk"),
        "wrk is needed and could not be installed (apt-get install -y wrk)"
    );
    "wrk".into()
}

/// What the numbers were measured on.
fn machine(wrk: &str) -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let wrk_version = Command::new(wrk)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines().next().unwrap_or_default().to_string()
        })
        .unwrap_or_default();
    json!({
        "cpus": cpus,
        "cpu": model,
        "kernel": kernel,
        "wrk": wrk_version,
        "summary": format!("{cpus} CPU(s), {model}, Linux {kernel}"),
    })
}

// ---------------------------------------------------------------------------
// Engines and databases
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Engine {
    Sqlite,
    /// The server URL to create databases on.
    Postgres(String),
}

impl Engine {
    fn name(&self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres(_) => "postgres",
        }
    }
}

/// `ROSTER_TEST_DATABASE_URL`, or the default when it answers. A URL that
/// was asked for (set, or `--engine postgres`) must answer.
async fn postgres_admin_url(required: bool) -> Option<String> {
    let given = std::env::var("ROSTER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let url = given.clone().unwrap_or_else(|| DEFAULT_POSTGRES.into());
    let attempt = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&url));
    match attempt.await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Some(url)
        }
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".into(),
            };
            if given.is_some() || required {
                panic!("PostgreSQL at ROSTER_TEST_DATABASE_URL (or the default) does not answer: {why}");
            }
            eprintln!("PostgreSQL at {DEFAULT_POSTGRES}: {why}");
            None
        }
    }
}

/// One run's database; removed by [`Database::remove`] (and the SQLite
/// directory on drop).
struct Database {
    url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Database {
    async fn create(engine: &Engine, target: &Path) -> Database {
        let dir = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(target.join("bench"))
            .expect("temporary directory");
        match engine {
            Engine::Sqlite => Database {
                url: format!("sqlite:{}", dir.path().join("roster.db").display()),
                dir,
                postgres: None,
            },
            Engine::Postgres(admin) => {
                let name = format!("roster_load_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create the load database");
                let _ = conn.close().await;
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("the PostgreSQL URL must name a database"),
                };
                Database {
                    url,
                    dir,
                    postgres: Some((admin.clone(), name)),
                }
            }
        }
    }

    async fn remove(self) {
        if let Some((admin, name)) = &self.postgres {
            match sqlx::PgConnection::connect(admin).await {
                Ok(mut conn) => {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    if let Err(e) = sqlx::raw_sql(&sql).execute(&mut conn).await {
                        eprintln!("could not drop database {name}: {e}");
                    }
                    let _ = conn.close().await;
                }
                Err(e) => eprintln!("could not drop database {name}: {e}"),
            }
        }
        drop(self.dir);
    }
}

/// A raw connection for bulk seeding, on either engine.
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    async fn open(url: &str) -> Raw {
        if url.starts_with("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            let options = SqliteConnectOptions::from_str(url)
                .expect("sqlite url")
                .journal_mode(SqliteJournalMode::Wal)
                // Seeding is not measured; NORMAL is still safe in WAL.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            Raw::Sqlite(
                sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .expect("open the SQLite database"),
            )
        } else {
            Raw::Postgres(
                sqlx::PgConnection::connect(url)
                    .await
                    .expect("connect to the PostgreSQL database"),
            )
        }
    }

    /// Starts a transaction that writes. On SQLite it takes the write lock
    /// at once (`BEGIN IMMEDIATE`, waiting out the busy timeout): a
    /// deferred one that reads first cannot wait for a writer that
    /// committed meanwhile, and fails with "database is locked".
    async fn begin_write(&mut self) {
        match self {
            Raw::Sqlite(_) => self.execute("BEGIN IMMEDIATE").await,
            Raw::Postgres(_) => self.execute("BEGIN").await,
        }
    }

    async fn execute(&mut self, sql: &str) {
        let outcome = match self {
            Raw::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Raw::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        if let Err(e) = outcome {
            let head: String = sql.chars().take(300).collect();
            panic!("bulk SQL failed: {e}\n{head}...");
        }
    }

    async fn scalar_i64(&mut self, sql: &str) -> i64 {
        let outcome = match self {
            Raw::Sqlite(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
            Raw::Postgres(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
        };
        outcome.expect("scalar query")
    }

    async fn close(self) {
        let _ = match self {
            Raw::Sqlite(c) => c.close().await,
            Raw::Postgres(c) => c.close().await,
        };
    }
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

/// A running `roster serve`; stopped (SIGTERM, then SIGKILL) on drop.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<LogTally>>,
}

/// What the server logged after it started serving.
#[derive(Debug, Default)]
struct LogTally {
    lines: u64,
    warnings: u64,
    errors: u64,
    /// WARN/ERROR lines by level, target, message and summary, with counts.
    samples: Vec<(String, u64)>,
}

impl Server {
    fn start(database_url: &str) -> Server {
        let kek = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", database_url)
            .env("ROSTER_ADMIN_TOKEN", ADMIN)
            .env("ROSTER_KEY_ENCRYPTION_KEY", kek)
            .env("ROSTER_LOG_FORMAT", "json")
            // Sign-ins all succeed, but a throttle must never be what is measured.
            .env("ROSTER_LOGIN_ADDRESS_LIMIT", "1000000000")
            .env("ROSTER_LOGIN_MAX_FAILURES", "1000000000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start roster serve");
        let stdout = child.stdout.take().expect("server stdout");
        let log = Arc::new(Mutex::new(LogTally::default()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let tally = log.clone();
        // Drains the log (one JSON line per request) so the pipe never fills.
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            let mut line = Vec::with_capacity(1024);
            let mut addr_tx = Some(addr_tx);
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Some(tx) = &addr_tx {
                    if let Ok(entry) = serde_json::from_slice::<Value>(&line) {
                        if entry["message"] == "roster is serving" {
                            let _ = tx.send(entry["addr"].as_str().unwrap_or_default().to_string());
                            addr_tx = None;
                            continue;
                        }
                    }
                }
                let warn = contains(&line, br#""level":"WARN""#);
                let error = contains(&line, br#""level":"ERROR""#);
                let mut t = tally.lock().unwrap();
                t.lines += 1;
                if addr_tx.is_none() && (warn || error) {
                    t.warnings += u64::from(warn);
                    t.errors += u64::from(error);
                    let entry: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
                    let key = format!(
                        "{} {}: {}{}",
                        entry["level"].as_str().unwrap_or("?"),
                        entry["target"].as_str().unwrap_or("?"),
                        entry["message"].as_str().unwrap_or("?"),
                        entry["summary"]
                            .as_str()
                            .or(entry["error"].as_str())
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default(),
                    );
                    if let Some(n) = t.samples.iter_mut().find(|(k, _)| *k == key) {
                        n.1 += 1;
                    } else if t.samples.len() < 10 {
                        t.samples.push((key, 1));
                    }
                }
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("roster serve did not log \"roster is serving\" within 60 s");
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmRSS` and `VmHWM` of the server, in KiB.
    fn memory(&self) -> Memory {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        Memory {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }

    /// Resets `VmHWM` to the current RSS, so the next reading is the peak
    /// of what came in between. Says whether the kernel allowed it.
    fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("roster serve did not stop within 15 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(b.as_bytes());
    bytes
}

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss_kib: Option<u64>,
    hwm_kib: Option<u64>,
}

// ---------------------------------------------------------------------------
// The seeded tenant
// ---------------------------------------------------------------------------

/// One seeded user: the mix of benches/check.rs (3% ADMIN, 10% BACKOFFICE,
/// 15% ACCESS mostly on a few stores, 3% BLOCKED, 14% partner roles on
/// stores, 55% company users with commerce and sometimes organisation roles;
/// 4% inactive; a few FULL, SUPPORT and INTEGRATION accounts).
struct UserSpec {
    i: usize,
    company: Option<usize>,
    tenant_role: Option<TenantRole>,
    partner_role: Option<PartnerRole>,
    commerce: Vec<CommerceRole>,
    org_role: Option<OrgRole>,
    store_ids: Vec<String>,
    account_type: AccountType,
    status: UserStatus,
}

impl UserSpec {
    fn generate(i: usize, rng: &mut Rng, stores: &[String], companies: usize) -> UserSpec {
        let mut spec = UserSpec {
            i,
            company: None,
            tenant_role: None,
            partner_role: None,
            commerce: Vec::new(),
            org_role: None,
            store_ids: Vec::new(),
            account_type: AccountType::Regular,
            status: UserStatus::Active,
        };
        let kind = rng.below(100);
        if kind < 3 {
            spec.tenant_role = Some(TenantRole::Admin);
        } else if kind < 13 {
            spec.tenant_role = Some(TenantRole::Backoffice);
        } else if kind < 28 {
            spec.tenant_role = Some(TenantRole::Access);
            // One in five ACCESS users has no store list: every store.
            let k = rng.below(5);
            spec.store_ids = rng.sample(stores, k);
        } else if kind < 31 {
            spec.tenant_role = Some(TenantRole::Blocked);
            spec.partner_role = Some(PartnerRole::Manager);
            let k = 1 + rng.below(3);
            spec.store_ids = rng.sample(stores, k);
        } else if kind < 45 {
            spec.partner_role = Some(*rng.pick(PartnerRole::ALL));
            let k = 1 + rng.below(5);
            spec.store_ids = rng.sample(stores, k);
        } else {
            spec.company = Some(rng.below(companies));
            let k = 1 + rng.below(3);
            spec.commerce = rng.sample(CommerceRole::ALL, k);
            spec.commerce.sort();
            if rng.percent(30) {
                spec.org_role = Some(*rng.pick(OrgRole::ALL));
            }
            if rng.percent(10) {
                spec.tenant_role = Some(TenantRole::Access);
                spec.store_ids = rng.sample(stores, 1);
            }
        }
        spec.account_type = match rng.below(20) {
            0 | 1 => AccountType::Full,
            2 => AccountType::Support,
            3 => AccountType::Integration,
            _ => AccountType::Regular,
        };
        if rng.percent(4) {
            spec.status = UserStatus::Inactive;
        }
        spec
    }

    fn email(&self) -> String {
        format!("user{}@load.example.com", self.i)
    }

    fn integration(&self) -> bool {
        self.account_type == AccountType::Integration
    }

    /// The `POST /v1/tenants/{t}/users` body.
    fn to_json(&self, companies: &[Uuid]) -> Value {
        let i = self.i;
        let mut body = json!({
            "name": format!("Load User {i}"),
            "first_name": format!("First{i}"),
            "last_name": format!("Last{i}"),
            "email": self.email(),
            "login": format!("user{i}"),
            "user_code": format!("{}", 1_000_000 + i),
            "language_code": "en",
            "status": self.status.as_str(),
            "account_type": self.account_type.as_str(),
        });
        if self.integration() {
            body["external_id"] = json!(format!("ext-{i}"));
            body["source"] = json!("INTEGRATION");
        }
        if let Some(c) = self.company {
            body["company_id"] = json!(companies[c]);
        }
        if let Some(r) = self.tenant_role {
            body["tenant_role"] = json!(r.as_str());
        }
        if let Some(r) = self.partner_role {
            body["partner_role"] = json!(r.as_str());
        }
        if !self.commerce.is_empty() {
            body["roles"] = json!(self.commerce.iter().map(|r| r.as_str()).collect::<Vec<_>>());
        }
        if let Some(r) = self.org_role {
            body["org_role"] = json!(r.as_str());
        }
        if !self.store_ids.is_empty() {
            body["store_ids"] = json!(self.store_ids);
            body["default_store_id"] = json!(self.store_ids[0]);
        }
        body
    }
}

struct Seeded {
    stores: Vec<String>,
    companies: Vec<Uuid>,
    /// Every seeded user and its company's index.
    users: Vec<(Uuid, Option<usize>)>,
    /// The `VIEW_USERS` key (check, get, list).
    view_key: String,
    /// The `MANAGE_USERS` key (create).
    manage_key: String,
    /// The device the sign-in users sign in on.
    device_token: String,
    /// User codes of the users with a password.
    signin_codes: Vec<String>,
    via_http: usize,
    via_sql: usize,
}

fn http_client(max_idle: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(max_idle)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("HTTP client")
}

/// POSTs `body` and returns the answer, which must have status `expect`.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
    expect: u16,
) -> Value {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, expect, "POST {url} {body}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn seed(server: &Server, database_url: &str, plan: &Plan) -> Seeded {
    use futures::StreamExt;

    let client = http_client(64);
    let base = &server.base;
    let v1 = format!("{base}/v1/tenants/{TENANT}");
    post(
        &client,
        &format!("{base}/v1/tenants"),
        ADMIN,
        &json!({"uid": TENANT, "name": "Load Retail"}),
        201,
    )
    .await;
    let mut stores = Vec::with_capacity(STORES);
    for i in 1..=STORES {
        let id = format!("store-{i:02}");
        post(
            &client,
            &format!("{v1}/stores"),
            ADMIN,
            &json!({"id": id, "code": format!("s{i:02}"), "name": format!("Store {i}")}),
            201,
        )
        .await;
        stores.push(id);
    }
    let mut companies = Vec::with_capacity(COMPANIES);
    for i in 1..=COMPANIES {
        let c = post(
            &client,
            &format!("{v1}/companies"),
            ADMIN,
            &json!({"name": format!("Company {i}"), "external_id": format!("C{i:03}")}),
            201,
        )
        .await;
        companies.push(
            c["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("company id"),
        );
    }
    let key = |name: &str, permission: &str| {
        let (client, v1) = (client.clone(), v1.clone());
        let body = json!({"name": name, "permissions": [permission]});
        async move {
            let k = post(&client, &format!("{v1}/api-keys"), ADMIN, &body, 201).await;
            k["token"].as_str().expect("API key token").to_string()
        }
    };
    let view_key = key("load-view", "VIEW_USERS").await;
    let manage_key = key("load-manage", "MANAGE_USERS").await;
    let device = post(
        &client,
        &format!("{v1}/devices"),
        ADMIN,
        &json!({"name": "Till 1", "store_id": stores[0]}),
        201,
    )
    .await;
    let device_token = device["token"].as_str().expect("device token").to_string();

    // Users with a password (Argon2id on the server, a few at a time).
    let signin_codes: Vec<String> = (0..plan.signin_users)
        .map(|i| format!("{}", 9_000_000 + i))
        .collect();
    let bodies: Vec<Value> = signin_codes
        .iter()
        .map(|code| {
            json!({"first_name": "Till", "last_name": format!("Operator {code}"), "user_code": code,
                   "tenant_role": "ACCESS", "store_ids": [stores[0]], "password": PASSWORD})
        })
        .collect();
    futures::stream::iter(bodies)
        .map(|body| {
            let (client, url) = (client.clone(), format!("{v1}/users"));
            async move { post(&client, &url, ADMIN, &body, 201).await }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;

    // The N users: the first over HTTP, the rest in bulk SQL.
    let mut rng = Rng(0x5EED_0001);
    let via_http = plan.users.min(plan.http_seed);
    let specs: Vec<UserSpec> = (0..via_http)
        .map(|i| UserSpec::generate(i, &mut rng, &stores, COMPANIES))
        .collect();
    let companies_ref = &companies;
    let mut users: Vec<(Uuid, Option<usize>)> = futures::stream::iter(specs)
        .map(|spec| {
            let (client, url) = (client.clone(), format!("{v1}/users"));
            let body = spec.to_json(companies_ref);
            async move {
                let user = post(&client, &url, ADMIN, &body, 201).await;
                let id: Uuid = user["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("user id");
                (id, spec.company)
            }
        })
        .buffered(plan.connections)
        .collect()
        .await;
    let via_sql = plan.users - via_http;
    if via_sql > 0 {
        bulk_insert_users(
            database_url,
            via_http,
            plan.users,
            &mut rng,
            &stores,
            &companies,
            &mut users,
        )
        .await;
    }
    if database_url.starts_with("postgres") {
        // What autovacuum does shortly after a load (PostgreSQL 13 and later
        // vacuum a table after many inserts): statistics for the planner,
        // and the visibility map, without which every index-only scan of
        // the fresh rows reads their heap pages too.
        let mut raw = Raw::open(database_url).await;
        raw.execute("VACUUM (ANALYZE)").await;
        raw.close().await;
    }
    Seeded {
        stores,
        companies,
        users,
        view_key,
        manage_key,
        device_token,
        signin_codes,
        via_http,
        via_sql,
    }
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt_lit(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), lit)
}

/// Inserts users `from..to` straight into the database, with their role
/// assignments and store access, numbered after the tenant's counter (which
/// is moved past them first). The server is idle meanwhile.
async fn bulk_insert_users(
    url: &str,
    from: usize,
    to: usize,
    rng: &mut Rng,
    stores: &[String],
    companies: &[Uuid],
    users: &mut Vec<(Uuid, Option<usize>)>,
) {
    let count = (to - from) as i64;
    let mut raw = Raw::open(url).await;
    let t = lit(TENANT);
    raw.begin_write().await;
    let first = raw
        .scalar_i64(&format!(
            "SELECT next_user_number FROM tenants WHERE uid = {t}"
        ))
        .await;
    raw.execute(&format!(
        "UPDATE tenants SET next_user_number = next_user_number + {count} WHERE uid = {t}"
    ))
    .await;
    raw.execute("COMMIT").await;
    let at = lit(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false));
    let started = Instant::now();
    let mut next_report = Instant::now() + Duration::from_secs(10);
    let mut i = from;
    while i < to {
        let end = (i + ROWS_PER_TRANSACTION).min(to);
        let mut statements = String::from("BEGIN;\n");
        let mut j = i;
        while j < end {
            let chunk_end = (j + ROWS_PER_INSERT).min(end);
            let mut user_rows = Vec::with_capacity(chunk_end - j);
            let mut role_rows = Vec::new();
            let mut store_rows = Vec::new();
            for k in j..chunk_end {
                let spec = UserSpec::generate(k, rng, stores, companies.len());
                let id = Uuid::now_v7();
                let ids = lit(&id.to_string());
                let company = spec.company.map(|c| companies[c].to_string());
                let email = spec.email();
                let number = first + (k - from) as i64;
                let (external, source) = if spec.integration() {
                    (Some(format!("ext-{k}")), Some("INTEGRATION"))
                } else {
                    (None, None)
                };
                user_rows.push(format!(
                    "({t}, {ids}, {number}, {}, {}, {}, {}, {}, {}, {}, {}, 'en', {}, {}, {}, {}, {}, {at}, {at})",
                    opt_lit(company.as_deref()),
                    lit(&format!("Load User {k}")),
                    lit(&format!("First{k}")),
                    lit(&format!("Last{k}")),
                    lit(&email),
                    lit(&validate::email_key(&email)),
                    lit(&format!("user{k}")),
                    lit(&format!("{}", 1_000_000 + k)),
                    opt_lit(external.as_deref()),
                    opt_lit(source),
                    lit(spec.status.as_str()),
                    lit(spec.account_type.as_str()),
                    opt_lit(spec.store_ids.first().map(String::as_str)),
                ));
                let company_scope = company.as_deref().map(lit).unwrap_or_else(|| "''".into());
                let mut assign = |vocabulary: &str, role: &str, scope: &str, scope_id: &str| {
                    role_rows.push(format!(
                        "({t}, {ids}, '{vocabulary}', {}, '{scope}', {scope_id})",
                        lit(role)
                    ));
                };
                if let Some(r) = spec.tenant_role {
                    assign("tenant", r.as_str(), "tenant", "''");
                }
                if let Some(r) = spec.partner_role {
                    assign("partner", r.as_str(), "tenant", "''");
                }
                for r in &spec.commerce {
                    assign("commerce", r.as_str(), "company", &company_scope);
                }
                if let Some(r) = spec.org_role {
                    assign("org", r.as_str(), "company", &company_scope);
                }
                for s in &spec.store_ids {
                    store_rows.push(format!("({t}, {ids}, {}, {number})", lit(s)));
                }
                users.push((id, spec.company));
            }
            let _ = writeln!(
                statements,
                "INSERT INTO users (tenant_id, id, number, company_id, name, first_name, last_name, \
                 email, email_key, login, user_code, language_code, external_id, source, status, \
                 account_type, default_store_id, created_at, updated_at) VALUES {};",
                user_rows.join(",\n")
            );
            if !role_rows.is_empty() {
                let _ = writeln!(
                    statements,
                    "INSERT INTO role_assignments (tenant_id, user_id, vocabulary, role, scope_kind, \
                     scope_id) VALUES {};",
                    role_rows.join(",\n")
                );
            }
            if !store_rows.is_empty() {
                let _ = writeln!(
                    statements,
                    "INSERT INTO user_stores (tenant_id, user_id, store_id, user_number) VALUES {};",
                    store_rows.join(",\n")
                );
            }
            j = chunk_end;
        }
        statements.push_str("COMMIT;\n");
        raw.execute(&statements).await;
        i = end;
        if Instant::now() >= next_report {
            println!(
                "  bulk seeding: {} of {} users ({:.0} s)",
                i - from,
                to - from,
                started.elapsed().as_secs_f64()
            );
            next_report = Instant::now() + Duration::from_secs(10);
        }
    }
    raw.close().await;
}

// ---------------------------------------------------------------------------
// Requests: questions, users, list filters
// ---------------------------------------------------------------------------

/// Varied questions (as in benches/check.rs): every permission, mostly with
/// the place it is about (the user's own company most of the time).
fn question_json(seeded: &Seeded, rng: &mut Rng) -> Value {
    let (user, own_company) = *rng.pick(&seeded.users);
    let permission = *rng.pick(Permission::ALL);
    let mut q = json!({"user_id": user, "permission": permission.as_str()});
    match permission.scope() {
        PermissionScope::Tenant => {}
        PermissionScope::Store => {
            if rng.percent(85) {
                q["store_id"] = json!(rng.pick(&seeded.stores));
            }
        }
        PermissionScope::Company => {
            let r = rng.below(10);
            let company = match (r, own_company) {
                (0..=6, Some(c)) => Some(seeded.companies[c]),
                (9, _) => None,
                _ => Some(*rng.pick(&seeded.companies)),
            };
            if let Some(c) = company {
                q["company_id"] = json!(c);
            }
        }
    }
    q
}

/// A request `wrk` sends: method, path, body.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: String,
    body: Option<String>,
}

fn single_checks(seeded: &Seeded) -> Vec<Req> {
    let mut rng = Rng(0xC0FFEE);
    (0..SINGLE_QUESTIONS)
        .map(|_| Req {
            method: "POST",
            path: format!("/v1/tenants/{TENANT}/check"),
            body: Some(question_json(seeded, &mut rng).to_string()),
        })
        .collect()
}

fn batch_checks(seeded: &Seeded) -> Vec<Req> {
    let mut rng = Rng(0xBA7C4);
    (0..BATCHES)
        .map(|_| {
            let checks: Vec<Value> = (0..BATCH_SIZE)
                .map(|_| question_json(seeded, &mut rng))
                .collect();
            Req {
                method: "POST",
                path: format!("/v1/tenants/{TENANT}/check"),
                body: Some(json!({ "checks": checks }).to_string()),
            }
        })
        .collect()
}

fn get_users(seeded: &Seeded) -> Vec<Req> {
    let mut rng = Rng(0x6E7);
    (0..SINGLE_QUESTIONS)
        .map(|_| Req {
            method: "GET",
            path: format!("/v1/tenants/{TENANT}/users/{}", rng.pick(&seeded.users).0),
            body: None,
        })
        .collect()
}

/// Roles that come with store access in the mix, and one (OWNER) that
/// rarely does, so some pages must look far.
const LIST_ROLES: [&str; 6] = ["ACCESS", "manager", "viewer", "api", "BLOCKED", "OWNER"];

fn list_users(seeded: &Seeded) -> Vec<Req> {
    let mut reqs = Vec::new();
    for role in LIST_ROLES {
        for store in &seeded.stores {
            reqs.push(Req {
                method: "GET",
                path: format!("/v1/tenants/{TENANT}/users?role={role}&store_id={store}&limit=50"),
                body: None,
            });
        }
    }
    // Interleave roles and stores rather than one role after another.
    let mut rng = Rng(0x1157);
    let n = reqs.len();
    for i in 0..n {
        let j = i + rng.below(n - i);
        reqs.swap(i, j);
    }
    reqs
}

fn sign_ins(seeded: &Seeded) -> Vec<Req> {
    seeded
        .signin_codes
        .iter()
        .map(|code| Req {
            method: "POST",
            path: "/account".into(),
            body: Some(json!({"userCode": code, "password": PASSWORD}).to_string()),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------

/// What one wrk run sends.
#[derive(Clone)]
enum Script {
    /// One fixed GET of `path` (wrk's own prebuilt request).
    Static { path: String },
    /// Cycles through `requests` (each thread from its own offset).
    Cycle {
        requests: Vec<Req>,
        headers: Vec<(&'static str, String)>,
        count_statuses: bool,
    },
    /// Creates users with unique emails.
    CreateUsers {
        headers: Vec<(&'static str, String)>,
    },
}

/// Lua's long string, for any text without `]==]`.
fn lua_str(s: &str) -> String {
    assert!(!s.contains("]==]"), "unexpected text in a wrk script");
    format!("[==[{s}]==]")
}

fn lua_headers(headers: &[(&'static str, String)]) -> String {
    let fields: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("[ {} ] = {}", lua_str(k), lua_str(v)))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

/// `done()` prints one line `LOADJSON {...}`: counts, errors, latency
/// percentiles in microseconds, and (when counted) the status mix.
const LUA_COMMON: &str = r#"
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
tid = 0
statuses = {}
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if type(s) == "table" then
      for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end
    end
  end
  local st = {}
  for k, v in pairs(merged) do st[#st + 1] = string.format('"%d":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'LOADJSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), table.concat(st, ",")))
end
"#;

const LUA_COUNT_STATUSES: &str = r#"
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"#;

impl Script {
    fn lua(&self, nonce: &str) -> String {
        let mut lua = String::from(LUA_COMMON);
        match self {
            Script::Static { .. } => {}
            Script::Cycle {
                requests,
                headers,
                count_statuses,
            } => {
                lua.push_str("local specs = {\n");
                for r in requests {
                    let body = r.body.as_deref().map_or_else(|| "nil".into(), lua_str);
                    let _ = writeln!(
                        lua,
                        "  {{ {}, {}, {} }},",
                        lua_str(r.method),
                        lua_str(&r.path),
                        body
                    );
                }
                let _ = write!(
                    lua,
                    r#"}}
local headers = {}
local reqs = {{}}
local n = 0
function init(args)
  for i, s in ipairs(specs) do
    reqs[i] = wrk.format(s[1], s[2], headers, s[3])
  end
  n = tid * 7919
end
function request()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
"#,
                    lua_headers(headers)
                );
                if *count_statuses {
                    lua.push_str(LUA_COUNT_STATUSES);
                }
            }
            Script::CreateUsers { headers } => {
                let _ = write!(
                    lua,
                    r#"
local headers = {}
local n = 0
function request()
  n = n + 1
  local body = string.format('{{"first_name":"Load","last_name":"Created %d","email":"new-{nonce}-%d-%d@load.example.com"}}', n, tid, n)
  return wrk.format("POST", "/v1/tenants/{TENANT}/users", headers, body)
end
"#,
                    lua_headers(headers)
                );
            }
        }
        lua
    }

    fn path(&self) -> &str {
        match self {
            Script::Static { path } => path,
            _ => "/",
        }
    }
}

/// One wrk run's results.
#[derive(Debug, Clone, Default)]
struct WrkResult {
    requests: u64,
    seconds: f64,
    errors: u64,
    error_detail: BTreeMap<String, u64>,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    statuses: BTreeMap<u16, u64>,
}

struct Wrk<'a> {
    program: &'a str,
    dir: &'a Path,
    base: String,
    plan: &'a Plan,
}

impl Wrk<'_> {
    /// A warm-up, then the timed run.
    fn run(&self, name: &str, script: &Script, timeout: Duration) -> WrkResult {
        let c = self.plan.connections;
        self.once(
            &format!("{name}-warmup"),
            script,
            self.plan.warmup,
            timeout,
            c,
        );
        self.once(name, script, self.plan.duration, timeout, c)
    }

    fn once(
        &self,
        name: &str,
        script: &Script,
        duration: Duration,
        timeout: Duration,
        connections: usize,
    ) -> WrkResult {
        let nonce = format!("{}{}", name, Uuid::new_v4().simple())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>();
        let script_path = self.dir.join(format!("{name}.lua"));
        std::fs::write(&script_path, script.lua(&nonce)).expect("write the wrk script");
        let out_path = self.dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&out_path).expect("wrk output file");
        let err = out.try_clone().expect("wrk output file");
        let millis = duration.as_millis().max(100);
        let mut child = Command::new(self.program)
            .arg("-t")
            .arg(self.plan.threads.min(connections).to_string())
            .arg("-c")
            .arg(connections.to_string())
            .arg("-d")
            .arg(format!("{}s", millis.div_ceil(1000)))
            .arg("--timeout")
            .arg(format!("{}s", timeout.as_secs().max(1)))
            .arg("--latency")
            .arg("-s")
            .arg(&script_path)
            .arg(format!("{}{}", self.base, script.path()))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start wrk");
        let deadline = Instant::now() + duration + timeout + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("wrk ({name}) did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut text = String::new();
        std::fs::File::open(&out_path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("read wrk output");
        assert!(status.success(), "wrk ({name}) failed: {status}\n{text}");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("LOADJSON "))
            .unwrap_or_else(|| panic!("wrk ({name}) printed no results:\n{text}"));
        let v: Value = serde_json::from_str(line).expect("wrk results");
        let mut error_detail = BTreeMap::new();
        let mut errors = 0;
        for kind in ["connect", "read", "write", "status", "timeout"] {
            let n = v["errors"][kind].as_u64().unwrap_or(0);
            if n > 0 {
                error_detail.insert(kind.to_string(), n);
            }
            errors += n;
        }
        let statuses = v["statuses"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, n)| Some((k.parse().ok()?, n.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        WrkResult {
            requests: v["requests"].as_u64().unwrap_or(0),
            seconds: v["duration_us"].as_f64().unwrap_or(0.0) / 1e6,
            errors,
            error_detail,
            p50_us: v["latency_us"]["p50"].as_f64().unwrap_or(0.0),
            p99_us: v["latency_us"]["p99"].as_f64().unwrap_or(0.0),
            max_us: v["latency_us"]["max"].as_f64().unwrap_or(0.0),
            statuses,
        }
    }
}

// ---------------------------------------------------------------------------
// Baselines measured by the harness itself
// ---------------------------------------------------------------------------

/// Sorted latencies plus counts, from a closed loop of the harness's own.
struct Loop {
    ops: u64,
    errors: u64,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Loop {
    fn quantile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let n = self.latencies.len();
        let i = ((n as f64 * q).ceil() as usize).clamp(1, n);
        self.latencies[i - 1].as_secs_f64() * 1e6
    }

    fn into_result(mut self) -> WrkResult {
        self.latencies.sort_unstable();
        WrkResult {
            requests: self.ops,
            seconds: self.seconds,
            errors: self.errors,
            error_detail: BTreeMap::new(),
            p50_us: self.quantile_us(0.50),
            p99_us: self.quantile_us(0.99),
            max_us: self.quantile_us(1.0),
            statuses: BTreeMap::new(),
        }
    }
}

/// Runs `concurrency` copies of `op` in a closed loop for `duration`.
async fn closed_loop<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Loop
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency as u64)
        .map(|w| {
            let (op, first_error) = (op.clone(), first_error.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut i = w << 32;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let outcome = tokio::time::timeout(REQUEST_TIMEOUT, op(i)).await;
                    latencies.push(t.elapsed());
                    i += 1;
                    let outcome = outcome.unwrap_or_else(|_| Err("timed out".into()));
                    if let Err(e) = outcome {
                        errors += 1;
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Loop {
        ops: 0,
        errors: 0,
        seconds: 0.0,
        latencies: Vec::new(),
    };
    for w in workers {
        let (l, e) = w.await.expect("load worker");
        all.ops += l.len() as u64;
        all.latencies.extend(l);
        all.errors += e;
    }
    all.seconds = started.elapsed().as_secs_f64();
    if let Some(e) = first_error.lock().unwrap().take() {
        eprintln!("  {} failed operation(s); first: {e}", all.errors);
    }
    all
}

/// Single-row insert transactions straight through sqlx, at the durability
/// Roster runs with: SQLite WAL with `synchronous=FULL` in a file beside the
/// server's, one writer connection (as Roster); PostgreSQL in the run's
/// database, a pool of Roster's default size (10). `concurrency` at once.
async fn insert_baseline(
    engine: &Engine,
    db: &Database,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> WrkResult {
    const CREATE: &str = "CREATE TABLE load_baseline (id TEXT NOT NULL PRIMARY KEY, \
        tenant_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT NOT NULL)";
    const INSERT: &str =
        "INSERT INTO load_baseline (id, tenant_id, name, email, created_at) VALUES ($1, $2, $3, $4, $5)";
    macro_rules! drive {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(CREATE)
                .execute(&pool)
                .await
                .expect("baseline table");
            let mut results = Vec::new();
            for d in [warmup, duration] {
                let pool = pool.clone();
                results.push(
                    closed_loop(concurrency, d, move |i| {
                        let pool = pool.clone();
                        async move {
                            let id = Uuid::now_v7().to_string();
                            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                            sqlx::query(INSERT)
                                .bind(&id)
                                .bind(TENANT)
                                .bind(format!("Row {i}"))
                                .bind(format!("{id}@load.example.com"))
                                .bind(chrono::Utc::now().to_rfc3339())
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| e.to_string())?;
                            tx.commit().await.map_err(|e| e.to_string())
                        }
                    })
                    .await,
                );
            }
            pool.close().await;
            results.pop().expect("timed run")
        }};
    }
    let outcome = match engine {
        Engine::Sqlite => {
            use sqlx::sqlite::{
                SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
            };
            let options = SqliteConnectOptions::new()
                .filename(db.dir.path().join("baseline.db"))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("baseline SQLite database");
            drive!(pool)
        }
        Engine::Postgres(_) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(&db.url)
                .await
                .expect("baseline PostgreSQL pool");
            drive!(pool)
        }
    };
    outcome.into_result()
}

/// Argon2id verifications on `threads` threads for `duration`, with Roster's
/// own function and parameters (`roster_core::secret`: m=19 MiB, t=2, p=1).
fn argon2_loop(threads: usize, duration: Duration) -> Loop {
    let cores = threads.max(1);
    let hash = Arc::new(secret::hash_password(&Password::candidate(PASSWORD)));
    // Every thread verifies once (its memory warmed, as a running server's
    // is), then all start together.
    let ready = Arc::new(std::sync::Barrier::new(cores + 1));
    let start: Arc<Mutex<Option<Instant>>> = Arc::default();
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let (hash, ready, start) = (hash.clone(), ready.clone(), start.clone());
            std::thread::spawn(move || {
                let candidate = Password::candidate(PASSWORD);
                assert!(secret::verify_password(Some(&hash), &candidate));
                ready.wait();
                let deadline = start.lock().unwrap().expect("start time") + duration;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    assert!(secret::verify_password(Some(&hash), &candidate));
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    *start.lock().unwrap() = Some(Instant::now());
    let started = Instant::now();
    ready.wait();
    let mut all = Loop {
        ops: 0,
        errors: 0,
        seconds: 0.0,
        latencies: Vec::new(),
    };
    for w in workers {
        let l = w.join().expect("argon2 worker");
        all.ops += l.len() as u64;
        all.latencies.extend(l);
    }
    all.seconds = started.elapsed().as_secs_f64();
    all
}

impl Loop {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// Both runs as one.
    fn merge(mut self, other: Loop) -> Loop {
        self.ops += other.ops;
        self.errors += other.errors;
        self.seconds += other.seconds;
        self.latencies.extend(other.latencies);
        self
    }
}

/// The Argon2id figures of a run: all cores (half before the sign-in
/// workload, half after, so a drift of the machine shows and evens out) and
/// one thread.
#[derive(Debug, Clone, Copy, Default)]
struct Argon2Figures {
    cores: usize,
    before: f64,
    after: f64,
    one_thread: f64,
    one_thread_p50_us: f64,
}

// ---------------------------------------------------------------------------
// The burst
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Burst {
    concurrency: usize,
    seconds: u64,
    sent: u64,
    answered: u64,
    within_deadline: u64,
    /// Status code (0: no answer: timeout or connection error) → count.
    statuses: BTreeMap<u16, u64>,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    wall_seconds: f64,
    /// When the first answer came, since the burst began.
    first_answer_seconds: f64,
    /// Answers that came while the burst was still sending.
    answered_while_sending: u64,
    memory: Memory,
    idle_rss_kib: Option<u64>,
}

/// `concurrency` clients sign in back to back for `seconds`; every request
/// sent is then waited for (at most `REQUEST_TIMEOUT`), so slow answers are
/// counted, not cut off.
async fn burst(server: &Server, seeded: &Seeded, concurrency: usize, seconds: u64) -> Burst {
    let client = http_client(concurrency * 2);
    let url = format!("{}/account", server.base);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        seeded
            .signin_codes
            .iter()
            .map(|code| {
                serde_json::to_vec(&json!({"userCode": code, "password": PASSWORD})).expect("json")
            })
            .collect(),
    );
    let token = seeded.device_token.clone();
    let idle = server.memory();
    server.reset_peak();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, url, bodies, token) =
                (client.clone(), url.clone(), bodies.clone(), token.clone());
            tokio::spawn(async move {
                // (status, latency, when it was answered since the start)
                let mut outcomes: Vec<(u16, Duration, Duration)> = Vec::new();
                let mut i = w;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let response = client
                        .post(&url)
                        .header("authorization", &token)
                        .header("content-type", "application/json")
                        .body(bodies[i % bodies.len()].clone())
                        .send()
                        .await;
                    let status = match response {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes().await;
                            s
                        }
                        Err(_) => 0,
                    };
                    outcomes.push((status, t.elapsed(), started.elapsed()));
                    i += 1;
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.expect("burst worker"));
    }
    let wall = started.elapsed();
    let memory = server.memory();
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter(|(s, _, _)| *s != 0)
        .map(|(_, l, _)| *l)
        .collect();
    let first_answer = outcomes
        .iter()
        .filter(|(s, _, _)| *s != 0)
        .map(|(_, _, at)| *at)
        .min()
        .unwrap_or_default();
    let answered_while_sending = outcomes
        .iter()
        .filter(|(s, _, at)| *s != 0 && *at <= Duration::from_secs(seconds))
        .count() as u64;
    latencies.sort_unstable();
    let q = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
        latencies[i - 1].as_secs_f64() * 1e6
    };
    let mut statuses = BTreeMap::new();
    for (s, _, _) in &outcomes {
        *statuses.entry(*s).or_insert(0) += 1;
    }
    Burst {
        concurrency,
        seconds,
        sent: outcomes.len() as u64,
        answered: latencies.len() as u64,
        within_deadline: latencies.iter().filter(|l| **l <= BURST_DEADLINE).count() as u64,
        statuses,
        p50_us: q(0.50),
        p99_us: q(0.99),
        max_us: q(1.0),
        wall_seconds: wall.as_secs_f64(),
        first_answer_seconds: first_answer.as_secs_f64(),
        answered_while_sending,
        memory,
        idle_rss_kib: idle.rss_kib,
    }
}

// ---------------------------------------------------------------------------
// One engine
// ---------------------------------------------------------------------------

/// Runs one wrk workload against the server and reads its memory after.
struct Workload<'a> {
    wrk: &'a Wrk<'a>,
    server: &'a Server,
    timeout: Duration,
}

impl<'a> Workload<'a> {
    fn new(wrk: &'a Wrk<'a>, server: &'a Server, timeout: Duration) -> Workload<'a> {
        Workload {
            wrk,
            server,
            timeout,
        }
    }

    fn run(
        &self,
        id: &'static str,
        label: &str,
        unit: &'static str,
        per: u64,
        script: Script,
    ) -> Row {
        println!("  {id:>3}  {label}");
        self.server.reset_peak();
        let result = self.wrk.run(&format!("w{id}"), &script, self.timeout);
        Row::new(
            id,
            label.to_string(),
            unit,
            per,
            result,
            self.server.memory(),
        )
    }
}

/// One row of the table.
struct Row {
    /// `B1`, `1`, ... as in the module docs.
    id: &'static str,
    label: String,
    /// What the rate counts: `req`, `q` (questions), `txn`, `verif`.
    unit: &'static str,
    /// Items per request (questions per batch).
    per_request: u64,
    result: WrkResult,
    memory: Memory,
    /// Filled in once every row is measured.
    comparison: Option<String>,
    ratio: Option<f64>,
    p99_ratio: Option<f64>,
    compared_with: Option<&'static str>,
    /// Anything the reader must know about how this row was measured.
    note: Option<String>,
}

impl Row {
    fn new(
        id: &'static str,
        label: String,
        unit: &'static str,
        per_request: u64,
        result: WrkResult,
        memory: Memory,
    ) -> Row {
        Row {
            id,
            label,
            unit,
            per_request,
            result,
            memory,
            comparison: None,
            ratio: None,
            p99_ratio: None,
            compared_with: None,
            note: None,
        }
    }

    /// Items per second.
    fn rate(&self) -> f64 {
        if self.result.seconds <= 0.0 {
            return 0.0;
        }
        (self.result.requests * self.per_request) as f64 / self.result.seconds
    }
}

struct EngineReport {
    engine: &'static str,
    title: String,
    users: usize,
    via_http: usize,
    via_sql: usize,
    signin_users: usize,
    seed_seconds: f64,
    idle: Memory,
    allowed_share: f64,
    rows: Vec<Row>,
    burst: Burst,
    log: (u64, u64, u64, Vec<(String, u64)>),
    peak_reset: bool,
    argon: Argon2Figures,
    /// `/proc/loadavg` before and after: was the machine quiet?
    load_before: String,
    load_after: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn run_engine(engine: &Engine, plan: &Plan, target: &Path, wrk: &str) -> EngineReport {
    use futures::FutureExt;

    let db = Database::create(engine, target).await;
    // A panic must not leave the PostgreSQL database behind.
    let outcome = std::panic::AssertUnwindSafe(measure_engine(engine, &db, plan, wrk))
        .catch_unwind()
        .await;
    db.remove().await;
    match outcome {
        Ok(report) => report,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn measure_engine(
    engine: &Engine,
    db: &Database,
    plan: &Plan,
    wrk_program: &str,
) -> EngineReport {
    let title = match engine {
        Engine::Sqlite => "SQLite (WAL, synchronous=FULL, temporary file)".to_string(),
        Engine::Postgres(_) => {
            let mut raw = Raw::open(&db.url).await;
            let version = match &mut raw {
                Raw::Postgres(c) => sqlx::query_scalar::<_, String>("SHOW server_version")
                    .fetch_one(c)
                    .await
                    .unwrap_or_default(),
                Raw::Sqlite(_) => String::new(),
            };
            raw.close().await;
            format!("PostgreSQL {version} (fresh database, same machine)")
        }
    };
    println!("\n=== {title} ===");
    let load_before = load_average();
    let mut server = Server::start(&db.url);
    let t = Instant::now();
    let seeded = seed(&server, &db.url, plan).await;
    let seed_seconds = t.elapsed().as_secs_f64();
    println!(
        "seeded {STORES} stores, {COMPANIES} companies, {} users ({} over HTTP, {} in bulk SQL) \
         and {} sign-in users in {seed_seconds:.1} s",
        seeded.users.len(),
        seeded.via_http,
        seeded.via_sql,
        seeded.signin_codes.len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.memory();
    let peak_reset = server.reset_peak();
    let allowed_share = allowed_share(&server, &seeded).await;

    let dir = db.dir.path().join("wrk");
    std::fs::create_dir_all(&dir).expect("wrk directory");
    let wrk = Wrk {
        program: wrk_program,
        dir: &dir,
        base: server.base.clone(),
        plan,
    };
    let json = ("Content-Type", "application/json".to_string());
    let view = ("Authorization", format!("Bearer {}", seeded.view_key));
    let manage = ("Authorization", format!("Bearer {}", seeded.manage_key));
    let device = ("Authorization", seeded.device_token.clone());
    let cycle = |requests: Vec<Req>, headers: &[&(&'static str, String)]| Script::Cycle {
        requests,
        headers: headers.iter().map(|h| (*h).clone()).collect(),
        count_statuses: false,
    };
    let short = Duration::from_secs(10);
    let mut rows = Vec::new();
    let one = Workload::new(&wrk, &server, short);
    if plan.runs("B1") {
        rows.push(one.run(
            "B1",
            "GET /healthz",
            "req",
            1,
            Script::Static {
                path: "/healthz".into(),
            },
        ));
    }
    if plan.runs("1") {
        rows.push(one.run(
            "1",
            "POST check, 1 question",
            "req",
            1,
            cycle(single_checks(&seeded), &[&view, &json]),
        ));
    }
    if plan.runs("2") {
        rows.push(one.run(
            "2",
            "GET user by id (API key)",
            "req",
            1,
            cycle(get_users(&seeded), &[&view]),
        ));
    }
    if plan.runs("3") {
        rows.push(one.run(
            "3",
            &format!("POST check, batch of {BATCH_SIZE}"),
            "q",
            BATCH_SIZE as u64,
            cycle(batch_checks(&seeded), &[&view, &json]),
        ));
    }
    if plan.runs("7") {
        // Listing may be slow at scale: it gets the long timeout.
        let listing = Workload::new(&wrk, &server, REQUEST_TIMEOUT);
        let lists = cycle(list_users(&seeded), &[&view]);
        let mut list = listing.run(
            "7",
            "GET users?role&store_id&limit=50",
            "req",
            1,
            lists.clone(),
        );
        if list.result.requests < SLOW_LIST_REQUESTS {
            // Too slow to finish at this concurrency within the run: measure
            // what one request costs instead, one at a time, for longer.
            let window = (plan.duration * 3).max(Duration::from_secs(30));
            println!(
                "    7  only {} listing(s) finished: again on 1 connection for {}",
                list.result.requests,
                fmt_secs(window)
            );
            server.reset_peak();
            let result = wrk.once("w7-one", &lists, window, REQUEST_TIMEOUT, 1);
            list = Row::new(
                "7",
                "GET users?role&store_id (1 conn!)".into(),
                "req",
                1,
                result,
                server.memory(),
            );
            list.note = Some(format!(
                "7 ran on 1 connection for {}: at {} connections fewer than {SLOW_LIST_REQUESTS} listings finished in {}",
                fmt_secs(window),
                plan.connections,
                fmt_secs(plan.duration)
            ));
        }
        rows.push(list);
    }

    if plan.runs("B2") {
        println!("   B2  single-row insert transactions (sqlx)");
        let inserts =
            insert_baseline(engine, db, plan.connections, plan.warmup, plan.duration).await;
        rows.push(Row::new(
            "B2",
            "insert txn, 1 row (sqlx)".into(),
            "txn",
            1,
            inserts,
            Memory::default(),
        ));
    }
    if plan.runs("4") {
        rows.push(one.run(
            "4",
            "POST users (create, no password)",
            "req",
            1,
            Script::CreateUsers {
                headers: vec![manage, json.clone()],
            },
        ));
    }

    // B3 is measured around #5, half before and half after.
    let mut argon_figures = Argon2Figures::default();
    if plan.runs("B3") || plan.runs("5") {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let half = plan.duration / 2;
        let argon = |threads: usize, d: Duration| async move {
            tokio::task::spawn_blocking(move || argon2_loop(threads, d))
                .await
                .expect("Argon2id baseline")
        };
        println!("   B3  Argon2id verifications on every core (first half)");
        let before = argon(cores, half).await;
        let signing_in = Workload::new(&wrk, &server, REQUEST_TIMEOUT);
        let sign_in = signing_in.run(
            "5",
            "POST /account (sign-in)",
            "req",
            1,
            Script::Cycle {
                requests: sign_ins(&seeded),
                headers: vec![device, json],
                count_statuses: true,
            },
        );
        println!("   B3  Argon2id verifications on every core (second half), then on one thread");
        let after = argon(cores, half).await;
        let one = argon(1, half).await;
        argon_figures = Argon2Figures {
            cores,
            before: before.rate(),
            after: after.rate(),
            one_thread: one.rate(),
            one_thread_p50_us: one.into_result().p50_us,
        };
        rows.push(Row::new(
            "B3",
            format!("Argon2id verify, {cores} threads"),
            "verif",
            1,
            before.merge(after).into_result(),
            Memory::default(),
        ));
        rows.push(sign_in);
    }

    let mut burst_figures = Burst::default();
    if plan.runs("6") {
        println!(
            "    6  burst: {} concurrent sign-ins for {} s",
            plan.burst_concurrency, plan.burst_seconds
        );
        // Let the previous workload's queue drain first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        burst_figures = burst(&server, &seeded, plan.burst_concurrency, plan.burst_seconds).await;
    }

    compare(&mut rows);
    server.stop();
    let log = {
        let t = server.log.lock().unwrap();
        (t.lines, t.warnings, t.errors, t.samples.clone())
    };
    EngineReport {
        engine: engine.name(),
        title,
        users: seeded.users.len(),
        via_http: seeded.via_http,
        via_sql: seeded.via_sql,
        signin_users: seeded.signin_codes.len(),
        seed_seconds,
        idle,
        allowed_share,
        rows,
        burst: burst_figures,
        log,
        peak_reset,
        load_before,
        load_after: load_average(),
        argon: argon_figures,
    }
}

/// Asks 500 of the single questions as one batch: the share allowed, so a
/// reader can see the checks are not all trivially refused.
async fn allowed_share(server: &Server, seeded: &Seeded) -> f64 {
    let mut rng = Rng(0xC0FFEE);
    let checks: Vec<Value> = (0..500).map(|_| question_json(seeded, &mut rng)).collect();
    let client = http_client(1);
    let answer = post(
        &client,
        &format!("{}/v1/tenants/{TENANT}/check", server.base),
        &seeded.view_key,
        &json!({ "checks": checks }),
        200,
    )
    .await;
    let results = answer["results"].as_array().expect("results");
    let allowed = results.iter().filter(|r| r["allowed"] == true).count();
    assert!(
        results.iter().all(|r| r.get("allowed").is_some()),
        "every sample question must be answered: {answer}"
    );
    allowed as f64 / results.len().max(1) as f64
}

/// Each workload against its baseline of the same run: (workload, baseline,
/// whether the ratio reads as a share of the baseline's rate or a multiple).
const COMPARISONS: [(&str, &str, bool); 6] = [
    ("1", "B1", true),
    ("2", "B1", true),
    ("7", "B1", true),
    ("3", "1", false),
    ("4", "B2", true),
    ("5", "B3", true),
];

fn compare(rows: &mut [Row]) {
    for (id, base, share) in COMPARISONS {
        let find = |id: &str| rows.iter().position(|r| r.id == id);
        let (Some(i), Some(b)) = (find(id), find(base)) else {
            continue;
        };
        let base_rate = rows[b].rate();
        let base_p99 = rows[b].result.p99_us;
        let row = &mut rows[i];
        let ratio = if base_rate > 0.0 {
            row.rate() / base_rate
        } else {
            0.0
        };
        row.ratio = Some(ratio);
        row.compared_with = Some(base);
        let mut text = if share {
            format!("{ratio:.3} of {base}'s rate")
        } else {
            format!("x{ratio:.1} #{base}'s questions/s")
        };
        if id == "1" && base_p99 > 0.0 {
            let p99 = row.result.p99_us / base_p99;
            row.p99_ratio = Some(p99);
            let _ = write!(text, "; p99 x{p99:.1} {base}'s");
        }
        row.comparison = Some(text);
    }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn fmt_us(us: f64) -> String {
    if us <= 0.0 {
        "-".into()
    } else if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// A rate with thousands separators (`12,345`), or one decimal below 100.
fn fmt_rate(r: f64) -> String {
    if r < 100.0 {
        return format!("{r:.1}");
    }
    let digits: Vec<char> = (r.round() as u64).to_string().chars().rev().collect();
    let groups: Vec<String> = digits
        .chunks(3)
        .map(|g| g.iter().rev().collect())
        .rev()
        .collect();
    groups.join(",")
}

fn fmt_mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

fn fmt_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

impl EngineReport {
    fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} users ({} over HTTP, {} bulk SQL) + {} sign-in users, seeded in {:.1} s; \
             idle server RSS {} MiB; {:.0}% of sample checks allowed",
            self.title,
            self.users,
            self.via_http,
            self.via_sql,
            self.signin_users,
            self.seed_seconds,
            fmt_mib(self.idle.rss_kib),
            self.allowed_share * 100.0
        );
        let _ = writeln!(
            s,
            "{:<3} {:<34} {:>10} {:<5} {:>9} {:>9} {:>9} {:>6}  {:>9}  compared with",
            "#", "workload", "rate/s", "unit", "p50", "p99", "max", "errors", "RSS(peak)"
        );
        let _ = writeln!(s, "{}", "-".repeat(132));
        for r in &self.rows {
            let memory = match (r.memory.rss_kib, r.memory.hwm_kib) {
                (Some(_), _) => format!(
                    "{}({})",
                    fmt_mib(r.memory.rss_kib),
                    fmt_mib(r.memory.hwm_kib)
                ),
                _ => "".into(),
            };
            let _ = writeln!(
                s,
                "{:<3} {:<34} {:>10} {:<5} {:>9} {:>9} {:>9} {:>6}  {:>9}  {}",
                r.id,
                r.label,
                fmt_rate(r.rate()),
                r.unit,
                fmt_us(r.result.p50_us),
                fmt_us(r.result.p99_us),
                fmt_us(r.result.max_us),
                r.result.errors,
                memory,
                r.comparison.as_deref().unwrap_or(""),
            );
        }
        // A burst left out (`--only`) sent nothing.
        if self.burst.concurrency > 0 {
            let b = &self.burst;
            let status = |code: u16| b.statuses.get(&code).copied().unwrap_or(0);
            let other: u64 = b
                .statuses
                .iter()
                .filter(|(k, _)| ![0, 200, 401, 429, 503].contains(*k))
                .map(|(_, v)| v)
                .sum();
            let _ = writeln!(
                s,
                "{:<3} {:<34} {:>10} {:<5} {:>9} {:>9} {:>9} {:>6}  {:>9}  {} of {} sent answered within 2 s",
                "6",
                format!("burst: {} sign-ins at once, {} s", b.concurrency, b.seconds),
                fmt_rate(if b.wall_seconds > 0.0 { b.answered as f64 / b.wall_seconds } else { 0.0 }),
                "req",
                fmt_us(b.p50_us),
                fmt_us(b.p99_us),
                fmt_us(b.max_us),
                b.sent - status(200),
                format!("{}({})", fmt_mib(b.memory.rss_kib), fmt_mib(b.memory.hwm_kib)),
                b.within_deadline,
                b.sent,
            );
            let _ = writeln!(
                s,
                "    burst statuses: 200: {}, 401: {}, 429: {}, 503: {}, other: {}, no answer: {}; \
                 first answer after {:.2} s, {} answered during the {} s, the last after {:.1} s",
                status(200),
                status(401),
                status(429),
                status(503),
                other,
                status(0),
                b.first_answer_seconds,
                b.answered_while_sending,
                b.seconds,
                b.wall_seconds
            );
        }
        for r in &self.rows {
            if !r.result.error_detail.is_empty() || r.result.statuses.keys().any(|k| *k >= 400) {
                let _ = writeln!(
                    s,
                    "    {} errors: {:?}, statuses {:?}",
                    r.id, r.result.error_detail, r.result.statuses
                );
            }
        }
        let _ = writeln!(
            s,
            "    3 counts questions; its p50/p99/max are per request of {BATCH_SIZE}. RSS(peak): MiB after \
             the workload (peak during it). Load average before/after: {} / {}",
            self.load_before, self.load_after
        );
        for note in self.rows.iter().filter_map(|r| r.note.as_ref()) {
            let _ = writeln!(s, "    {note}");
        }
        if self.argon.cores > 0 {
            let a = &self.argon;
            let _ = writeln!(
                s,
                "    B3 on {} threads: {:.1}/s before #5, {:.1}/s after; on one thread {:.1}/s ({} each)",
                a.cores,
                a.before,
                a.after,
                a.one_thread,
                fmt_us(a.one_thread_p50_us)
            );
        }
        let (lines, warnings, errors, samples) = &self.log;
        let _ = writeln!(
            s,
            "    server log: {lines} lines, {warnings} WARN, {errors} ERROR{}",
            if self.peak_reset {
                ""
            } else {
                "; (peak RSS could not be reset per workload: peaks are since start)"
            }
        );
        for (sample, n) in samples {
            let _ = writeln!(s, "      {n} x {sample}");
        }
        s
    }

    /// Workloads that did not run cleanly: nothing answered, or errors.
    /// (Slowness is never a problem here; a burst may answer 429 or 503.)
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for r in &self.rows {
            if r.result.requests == 0 {
                problems.push(format!("{} {}: nothing completed", self.engine, r.id));
            } else if r.result.errors > 0 {
                problems.push(format!(
                    "{} {}: {} error(s) {:?} {:?}",
                    self.engine, r.id, r.result.errors, r.result.error_detail, r.result.statuses
                ));
            }
        }
        // (A burst left out by `--only` sent nothing and is no problem.)
        if self.burst.concurrency > 0 && self.burst.answered == 0 {
            problems.push(format!(
                "{} 6: no sign-in of the burst was answered",
                self.engine
            ));
        }
        problems
    }

    fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "workload": r.label,
                    "unit": r.unit,
                    "items_per_request": r.per_request,
                    "requests": r.result.requests,
                    "seconds": r.result.seconds,
                    "rate_per_s": r.rate(),
                    "p50_ms": r.result.p50_us / 1e3,
                    "p99_ms": r.result.p99_us / 1e3,
                    "max_ms": r.result.max_us / 1e3,
                    "errors": r.result.errors,
                    "error_detail": r.result.error_detail,
                    "statuses": r.result.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "compared_with": r.compared_with,
                    "ratio": r.ratio,
                    "p99_ratio": r.p99_ratio,
                    "rss_kib": r.memory.rss_kib,
                    "peak_rss_kib": r.memory.hwm_kib,
                    "note": r.note,
                })
            })
            .collect();
        let b = &self.burst;
        json!({
            "engine": self.engine,
            "title": self.title,
            "users": self.users,
            "seeded_over_http": self.via_http,
            "seeded_in_bulk_sql": self.via_sql,
            "signin_users": self.signin_users,
            "seed_seconds": self.seed_seconds,
            "idle_rss_kib": self.idle.rss_kib,
            "idle_peak_rss_kib": self.idle.hwm_kib,
            "sample_checks_allowed": self.allowed_share,
            "workloads": rows,
            "burst": {
                "concurrency": b.concurrency,
                "seconds": b.seconds,
                "sent": b.sent,
                "answered": b.answered,
                "answered_within_2s": b.within_deadline,
                "statuses": b.statuses.iter().map(|(k, v)| (if *k == 0 { "no_answer".to_string() } else { k.to_string() }, json!(v))).collect::<serde_json::Map<_, _>>(),
                "p50_ms": b.p50_us / 1e3,
                "p99_ms": b.p99_us / 1e3,
                "max_ms": b.max_us / 1e3,
                "wall_seconds": b.wall_seconds,
                "first_answer_seconds": b.first_answer_seconds,
                "answered_while_sending": b.answered_while_sending,
                "rss_before_kib": b.idle_rss_kib,
                "rss_kib": b.memory.rss_kib,
                "peak_rss_kib": b.memory.hwm_kib,
            },
            "server_log": {
                "lines": self.log.0,
                "warnings": self.log.1,
                "errors": self.log.2,
                "kinds": self.log.3.iter().map(|(k, n)| json!({"line": k, "count": n})).collect::<Vec<_>>(),
            },
            "peak_reset_per_workload": self.peak_reset,
            "argon2id": {
                "threads": self.argon.cores,
                "per_s_before_signin": self.argon.before,
                "per_s_after_signin": self.argon.after,
                "one_thread_per_s": self.argon.one_thread,
                "one_thread_p50_ms": self.argon.one_thread_p50_us / 1e3,
            },
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
        })
    }
}
