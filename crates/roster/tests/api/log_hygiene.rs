//! The log at its most verbose keeps no secret: the real binary with
//! `ROSTER_LOG=trace`, on each engine and in each log format, walked
//! through every kind of credential (the admin token, passwords set and
//! used, API keys, device tokens, access, auth and customer tokens,
//! invitation tokens, a failed sign-in), and everything it wrote to stdout
//! and stderr searched for each of them and for the `Authorization` header
//! values sent.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{Engine, TestApp, ADMIN};

on_both_engines!(no_secret_reaches_the_log_at_trace_level);

/// Passwords the walk sets and uses; each is also searched for.
const CASHIER_PASSWORD: &str = "cashier-passphrase-7Kq2-never-logged";
const BUYER_PASSWORD: &str = "buyer-passphrase-9Wm4-never-logged";
const ACCOUNT_PASSWORD: &str = "account-passphrase-3Jx8-never-logged";
const CHANGED_PASSWORD: &str = "changed-passphrase-5Tz1-never-logged";
const WRONG_PASSWORD: &str = "wrong-passphrase-2Vb6-never-logged";

/// A running `roster serve` and what it has written so far.
struct Binary {
    child: std::process::Child,
    addr: String,
    stdout: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Binary {
    fn start(database_url: &str, format: &str) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", database_url)
            .env("ROSTER_ADMIN_TOKEN", ADMIN)
            .env("ROSTER_LOG", "trace")
            .env("ROSTER_LOG_FORMAT", format)
            .env("ROSTER_PASSWORD_WORKERS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        let mut seen = Vec::new();
        let addr = loop {
            let line = stdout
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!("the server never said it serves:\n{}", seen.join("\n"))
                });
            if line.contains("roster is serving") {
                let addr = line
                    .split("127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| {
                        let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                        (!port.is_empty()).then(|| format!("127.0.0.1:{port}"))
                    })
                    .expect("the address it serves on");
                seen.push(line);
                break addr;
            }
            seen.push(line);
        };
        // The lines read while waiting go back in front of the rest.
        let (replay, rest) = mpsc::channel();
        for line in seen {
            replay.send(line).unwrap();
        }
        std::thread::spawn(move || {
            for line in stdout {
                if replay.send(line).is_err() {
                    break;
                }
            }
        });
        Binary {
            child,
            addr,
            stdout: rest,
            stderr,
        }
    }

    /// Stops the server (SIGTERM) and answers everything it wrote.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "exits cleanly: {exit:?}");
        let mut log: Vec<String> = self.stdout.iter().collect();
        log.push(self.stderr.join().unwrap());
        log.join("\n")
    }
}

/// A client of the binary that remembers every `Authorization` value and
/// every secret it was handed, to look for them in the log.
struct Walk {
    base: String,
    client: reqwest::Client,
    secrets: Vec<String>,
}

impl Walk {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        authorization: Option<String>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", &value);
            self.secrets.push(value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A call that must answer `status`; its body.
    async fn expect(
        &mut self,
        status: u16,
        method: Method,
        path: &str,
        authorization: Option<String>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Value {
        let (got, answer) = self
            .send(method.clone(), path, authorization, headers, body)
            .await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }

    /// Keeps a secret found in `value` at `field` (a JSON pointer).
    fn keep(&mut self, value: &Value, pointer: &str) -> String {
        let secret = value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {pointer} in {value}"))
            .to_string();
        self.secrets.push(secret.clone());
        secret
    }
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

async fn no_secret_reaches_the_log_at_trace_level(engine: Engine) {
    // The harness makes (and drops) the database; its in-process server
    // stays idle while the binary serves the same database.
    let database = TestApp::start(engine).await;
    for format in ["json", "text"] {
        let binary = Binary::start(&database.url, format);
        let mut walk = Walk {
            base: format!("http://{}", binary.addr),
            client: reqwest::Client::new(),
            secrets: [
                ADMIN,
                CASHIER_PASSWORD,
                BUYER_PASSWORD,
                ACCOUNT_PASSWORD,
                CHANGED_PASSWORD,
                WRONG_PASSWORD,
            ]
            .map(String::from)
            .to_vec(),
        };
        walk_every_credential(&mut walk, &format!("t{format}")).await;
        let log = binary.stop();
        // It is the trace level's log: every statement sent, every
        // connection accepted.
        assert!(
            log.contains("TRACE") && log.contains("sqlx::query"),
            "not a trace log ({format}):\n{log}"
        );
        for secret in &walk.secrets {
            assert!(!secret.is_empty());
            if let Some(at) = log.find(secret.as_str()) {
                let start = log[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = log[at..].find('\n').map_or(log.len(), |i| at + i);
                panic!(
                    "{secret:?} is in the {format} log on {engine:?}:\n{}",
                    &log[start..end]
                );
            }
        }
    }
}

/// Every kind of credential, made and used, in tenant `t`.
async fn walk_every_credential(walk: &mut Walk, t: &str) {
    let admin = bearer(ADMIN);
    walk.expect(
        201,
        Method::POST,
        "/v1/tenants",
        admin.clone(),
        &[],
        Some(json!({"uid": t, "name": "Acme"})),
    )
    .await;
    walk.expect(
        201,
        Method::POST,
        &format!("/v1/tenants/{t}/stores"),
        admin.clone(),
        &[],
        Some(json!({"id": "main", "code": "main", "name": "Main"})),
    )
    .await;
    let cashier = walk
        .expect(
            201,
            Method::POST,
            &format!("/v1/tenants/{t}/users"),
            admin.clone(),
            &[],
            Some(
                json!({"user_code": "1001", "first_name": "Lee", "tenant_role": "ACCESS",
                        "store_ids": ["main"], "password": CASHIER_PASSWORD}),
            ),
        )
        .await;
    let cashier = cashier["id"].as_str().unwrap().to_string();
    walk.expect(
        201,
        Method::POST,
        &format!("/v1/tenants/{t}/users"),
        admin.clone(),
        &[],
        Some(
            json!({"email": format!("maria@{t}.example.com"), "first_name": "Maria",
                    "last_name": "Garcia", "password": BUYER_PASSWORD}),
        ),
    )
    .await;
    let account_email = format!("ana@{t}.example.com");
    walk.expect(
        201,
        Method::POST,
        "/v1/accounts",
        admin.clone(),
        &[],
        Some(json!({"email": account_email, "password": ACCOUNT_PASSWORD})),
    )
    .await;
    // An API key, used for a check.
    let key = walk
        .expect(
            201,
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            admin.clone(),
            &[],
            Some(json!({"name": "reader", "permissions": ["VIEW_USERS"]})),
        )
        .await;
    let key = walk.keep(&key, "/token");
    walk.expect(
        200,
        Method::POST,
        &format!("/v1/tenants/{t}/check"),
        bearer(&key),
        &[],
        Some(json!({"user_id": cashier, "permission": "USE_POS", "store_id": "main"})),
    )
    .await;
    // A device, and a cashier signing in on it (the bare token, as the seed sends it).
    let device = walk
        .expect(
            201,
            Method::POST,
            &format!("/v1/tenants/{t}/devices"),
            admin.clone(),
            &[],
            Some(json!({"name": "Till 1", "store_id": "main"})),
        )
        .await;
    let device = walk.keep(&device, "/token");
    let access = walk
        .expect(
            200,
            Method::POST,
            "/account",
            Some(device.clone()),
            &[],
            Some(json!({"userCode": "1001", "password": CASHIER_PASSWORD})),
        )
        .await;
    let access = walk.keep(&access, "/accessToken");
    walk.expect(
        200,
        Method::GET,
        &format!("/tenants/{t}/account"),
        bearer(&access),
        &[],
        None,
    )
    .await;
    // A failed sign-in on each sign-in path.
    walk.expect(
        401,
        Method::POST,
        "/account",
        Some(device.clone()),
        &[],
        Some(json!({"userCode": "1001", "password": WRONG_PASSWORD})),
    )
    .await;
    walk.expect(
        401,
        Method::POST,
        "/auth/login",
        None,
        &[],
        Some(json!({"email": account_email, "password": WRONG_PASSWORD})),
    )
    .await;
    walk.expect(
        401,
        Method::POST,
        "/rest/default/V1/integration/customer/token",
        None,
        &[("x-tenant-id", t)],
        Some(json!({"username": format!("maria@{t}.example.com"), "password": WRONG_PASSWORD})),
    )
    .await;
    // An account's sign-in, its auth token, and its logout.
    let auth = walk
        .expect(
            200,
            Method::POST,
            "/auth/login",
            None,
            &[],
            Some(json!({"email": account_email, "password": ACCOUNT_PASSWORD})),
        )
        .await;
    let auth = walk.keep(&auth, "/auth_token");
    walk.expect(200, Method::GET, "/account", bearer(&auth), &[], None)
        .await;
    // An invitation, looked up by its token and accepted.
    let invitation = walk
        .expect(
            201,
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            admin.clone(),
            &[],
            Some(json!({"email": account_email, "tenant_role": "BACKOFFICE"})),
        )
        .await;
    let invitation = walk.keep(&invitation, "/token");
    walk.expect(
        200,
        Method::GET,
        "/account/invite",
        None,
        &[("x-invite-token", &invitation)],
        None,
    )
    .await;
    walk.expect(
        200,
        Method::PUT,
        "/account/invite",
        bearer(&auth),
        &[],
        Some(json!({"inviteToken": invitation})),
    )
    .await;
    let exchanged = walk
        .expect(
            200,
            Method::POST,
            &format!("/tenants/{t}/account"),
            bearer(&auth),
            &[],
            None,
        )
        .await;
    let exchanged = walk.keep(&exchanged, "/accessToken");
    walk.expect(
        204,
        Method::POST,
        "/auth/logout",
        bearer(&exchanged),
        &[],
        None,
    )
    .await;
    walk.expect(204, Method::POST, "/auth/logout", bearer(&auth), &[], None)
        .await;
    // A B2B customer token, used.
    let customer = walk
        .expect(
            200,
            Method::POST,
            "/rest/default/V1/integration/customer/token",
            None,
            &[("x-tenant-id", t)],
            Some(json!({"username": format!("maria@{t}.example.com"), "password": BUYER_PASSWORD})),
        )
        .await;
    let customer = customer.as_str().expect("a token").to_string();
    walk.secrets.push(customer.clone());
    walk.expect(
        200,
        Method::GET,
        "/rest/default/V1/customers/me",
        bearer(&customer),
        &[("x-tenant-id", t)],
        None,
    )
    .await;
    // A password changed, and a token that is no credential.
    walk.expect(
        200,
        Method::PATCH,
        &format!("/v1/tenants/{t}/users/{cashier}"),
        admin.clone(),
        &[],
        Some(json!({"password": CHANGED_PASSWORD})),
    )
    .await;
    walk.expect(
        401,
        Method::GET,
        &format!("/v1/tenants/{t}/users"),
        bearer("rk_not-a-key-but-still-a-secret-to-its-sender"),
        &[],
        None,
    )
    .await;
}
