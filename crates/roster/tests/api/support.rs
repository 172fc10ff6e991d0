//! The test harness: a real Roster server on a real database, over real TCP.
//!
//! Each test gets its own database: a fresh SQLite file, or a fresh
//! PostgreSQL database created on the server named by
//! `ROSTER_TEST_DATABASE_URL` and dropped afterwards. Without that variable
//! the PostgreSQL half fails, naming it, unless `ROSTER_TEST_SKIP_POSTGRES=1`
//! asks to skip it; with it set and the server unreachable, it fails.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use reqwest::Method;
use roster_app::clock::ManualClock;
use roster_app::{App, Config, Secret};
use roster_store::ConnectOptions;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

pub const ADMIN: &str = "test-admin-token-0123456789";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct-horse-battery-staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each named test once on SQLite and once on PostgreSQL, as
/// `<module>::sqlite::<name>` and `<module>::postgres::<name>`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::support::postgres_url().is_none() {
                        return;
                    }
                    super::$name($crate::support::Engine::Postgres).await
                }
            )*
        }
    };
}

/// The PostgreSQL server for tests. Unset, the suite fails naming the
/// variable, unless `ROSTER_TEST_SKIP_POSTGRES=1` asks to skip the PostgreSQL
/// half (announced once, loudly): a green run never hides a skipped half.
pub fn postgres_url() -> Option<String> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    match std::env::var("ROSTER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("ROSTER_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => {
            WARNED.call_once(|| {
                eprintln!(
                    "\n*** ROSTER_TEST_SKIP_POSTGRES=1: SKIPPING every PostgreSQL test. ***\n"
                )
            });
            None
        }
        _ => panic!(
            "ROSTER_TEST_DATABASE_URL is not set: set it to a PostgreSQL server \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres), or set \
             ROSTER_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half"
        ),
    }
}

/// The NATS server (with JetStream) for tests, from `ROSTER_TEST_NATS_URL`
/// (`.ci/run` sets it). Unset, the NATS tests are skipped, announced once,
/// loudly.
pub fn nats_url() -> Option<String> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    match std::env::var("ROSTER_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            WARNED.call_once(|| {
                eprintln!(
                    "\n*** ROSTER_TEST_NATS_URL is not set: SKIPPING every NATS JetStream \
                     test (set it to nats://127.0.0.1:4222 with `nats-server -js` running). ***\n"
                )
            });
            None
        }
    }
}

/// Owns a test database and removes it when dropped.
pub enum Database {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// A fresh, empty database of `engine`: its URL, and what removes it.
    pub async fn create(engine: Engine) -> (String, Database) {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("roster.db").display());
                (url, Database::Sqlite(dir))
            }
            Engine::Postgres => {
                let admin_url = postgres_url().expect("ROSTER_TEST_DATABASE_URL");
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("ROSTER_TEST_DATABASE_URL is set but the server is unreachable");
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .expect("create test database");
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("ROSTER_TEST_DATABASE_URL must name a database"),
                };
                (url, Database::Postgres { admin_url, name })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = conn
                            .execute(
                                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A response: status, parsed JSON body (or `Null`), headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Asserts a problem+json error with this status and returns its body.
    #[track_caller]
    pub fn problem(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(
            content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status, "body: {}", self.body);
        assert!(
            self.body["traceId"].as_str().is_some_and(|t| !t.is_empty()),
            "no traceId: {}",
            self.body
        );
        assert!(
            self.body["title"].is_string()
                && self.body["type"].is_string()
                && self.body["detail"].is_string()
        );
        self.body
    }
}

/// The configuration of a test server: the defaults and the admin token.
pub fn test_config() -> Config {
    Config {
        admin_token: Some(Secret::new(ADMIN)),
        ..Config::default()
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn roster_store::Store>,
    /// The server's clock: `app.clock.advance(..)` moves time for expiry tests.
    pub clock: Arc<ManualClock>,
    /// The application behind the server, for what has no route (the purge).
    pub app: App,
    server: tokio::task::JoinHandle<()>,
    /// The event dispatcher of this "process" and its NATS publisher, when
    /// it runs them.
    dispatcher: Option<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)>,
    /// The database URL, for a second process on the same database.
    pub url: String,
    /// `None` for a second process: the first owns the database.
    _database: Option<Database>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some((dispatcher, publisher)) = &self.dispatcher {
            dispatcher.abort();
            publisher.abort();
        }
    }
}

impl TestApp {
    /// Starts a server on a fresh database of `engine`.
    pub async fn start(engine: Engine) -> TestApp {
        Self::start_with(engine, test_config()).await
    }

    /// Starts a server with this configuration on a fresh database.
    pub async fn start_with(engine: Engine, config: Config) -> TestApp {
        Self::start_limited(engine, config, roster_http::Limits::default()).await
    }

    /// Starts a server with this configuration and these HTTP limits.
    pub async fn start_limited(
        engine: Engine,
        config: Config,
        limits: roster_http::Limits,
    ) -> TestApp {
        let (url, database) = Database::create(engine).await;
        Self::serve(engine, url, Some(database), config, limits, false).await
    }

    /// Starts a server that also delivers events, as `roster serve` does
    /// (the others leave their outbox alone, so a binary started on their
    /// database is its only dispatcher).
    pub async fn start_dispatching(engine: Engine, config: Config) -> TestApp {
        let (url, database) = Database::create(engine).await;
        let limits = roster_http::Limits::default();
        Self::serve(engine, url, Some(database), config, limits, true).await
    }

    /// Starts a second Roster process on this app's database (its own
    /// store, pools and caches, as another process would have).
    pub async fn sibling(&self) -> TestApp {
        self.sibling_with(test_config()).await
    }

    /// A second process on this app's database, configured otherwise.
    pub async fn sibling_with(&self, config: Config) -> TestApp {
        Self::serve(
            self.engine,
            self.url.clone(),
            None,
            config,
            roster_http::Limits::default(),
            false,
        )
        .await
    }

    async fn serve(
        engine: Engine,
        url: String,
        database: Option<Database>,
        config: Config,
        limits: roster_http::Limits,
        dispatch: bool,
    ) -> TestApp {
        crate::trace_log::install_if_asked();
        let options = ConnectOptions {
            url: url.clone(),
            sqlite_synchronous: roster_store::SqliteSynchronous::Full,
            max_connections: 8,
        };
        let store = roster_store::connect(&options)
            .await
            .expect("connect to the test database");
        let clock = Arc::new(ManualClock::default());
        let app = App::with_clock(store.clone(), config, clock.clone());
        let dispatcher = dispatch.then(|| {
            (
                tokio::spawn(app.dispatcher().run()),
                tokio::spawn(app.clone().publish_to_nats()),
            )
        });
        let router = roster_http::router_with_limits(app.clone(), limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            roster_http::serve(listener, router, limits, std::future::pending()).await;
        });
        TestApp {
            engine,
            base,
            client: reqwest::Client::new(),
            store,
            clock,
            app,
            server,
            dispatcher,
            url,
            _database: database,
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request")).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::reply(request.send().await.expect("request")).await
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(format!("{}/metrics", self.base)).send();
        response.await.unwrap().text().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a tenant with the admin token.
    pub async fn tenant(&self, uid: &str) -> String {
        self.post(
            "/v1/tenants",
            ADMIN,
            json!({"uid": uid, "name": format!("Tenant {uid}")}),
        )
        .await
        .expect(201);
        uid.to_string()
    }

    /// Creates a store; returns its id.
    pub async fn store(&self, tenant: &str, code: &str) -> String {
        let body = self
            .post(
                &format!("/v1/tenants/{tenant}/stores"),
                ADMIN,
                json!({"id": code, "code": code, "name": code}),
            )
            .await
            .expect(201);
        body["id"].as_str().unwrap().to_string()
    }

    /// Creates a company; returns its id.
    pub async fn company(&self, tenant: &str, name: &str) -> String {
        let body = self
            .post(
                &format!("/v1/tenants/{tenant}/companies"),
                ADMIN,
                json!({"name": name}),
            )
            .await
            .expect(201);
        body["id"].as_str().unwrap().to_string()
    }

    /// Creates a user from `body`; returns the user.
    pub async fn user(&self, tenant: &str, body: Value) -> Value {
        self.post(&format!("/v1/tenants/{tenant}/users"), ADMIN, body)
            .await
            .expect(201)
    }

    /// Creates an API key with these permissions; returns its token.
    pub async fn key(&self, tenant: &str, permissions: &[&str]) -> String {
        let body = self
            .post(
                &format!("/v1/tenants/{tenant}/api-keys"),
                ADMIN,
                json!({"name": "test", "permissions": permissions}),
            )
            .await
            .expect(201);
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates an API key bound to a user; returns its token.
    pub async fn user_key(&self, tenant: &str, user_id: &str) -> String {
        let body = self
            .post(
                &format!("/v1/tenants/{tenant}/api-keys"),
                ADMIN,
                json!({"name": "bound", "user_id": user_id}),
            )
            .await
            .expect(201);
        body["token"].as_str().unwrap().to_string()
    }
}

/// The `id` of a JSON object, as a string.
pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

impl TestApp {
    /// Runs `sql` on the database directly (what a copy of the database
    /// would show) and returns the first column of each row as text.
    pub async fn rows_as_text(&self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        match self.engine {
            Engine::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
        }
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> usize {
        self.rows_as_text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .await[0]
            .parse()
            .unwrap()
    }
}

impl TestApp {
    /// A GET without credentials (documents, the JWKS), its body as JSON.
    pub async fn get_public(&self, path: &str) -> Value {
        self.call(Method::GET, path, None, None).await.expect(200)
    }

    /// `POST /auth/login` with an account's email and password.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }
}
