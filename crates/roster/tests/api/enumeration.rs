//! No account enumeration: on every sign-in path an unknown name and a
//! wrong password get the same status and body, and take the same time
//! (an unknown name is checked against a dummy Argon2id hash).

use std::time::{Duration, Instant};

use reqwest::Method;
use roster_app::Config;
use roster_core::throttle::ThrottlePolicy;
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{test_config, Engine, TestApp, ADMIN, PASSWORD};

on_both_engines!(unknown_names_and_wrong_passwords_look_alike_on_every_sign_in_path);

/// Attempts of each kind per path.
const ATTEMPTS: usize = 30;

const WRONG: &str = "a-different-long-passphrase";

/// Throttling off: this test counts time, not lockouts.
fn unthrottled() -> Config {
    Config {
        throttle: ThrottlePolicy {
            max_failures: 1_000_000,
            address_per_minute: 1_000_000,
        },
        ..test_config()
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn unknown_names_and_wrong_passwords_look_alike_on_every_sign_in_path(engine: Engine) {
    let app = TestApp::start_with(engine, unthrottled()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    app.user(
        &t,
        json!({"user_code": "1001", "password": PASSWORD, "tenant_role": "ACCESS", "store_ids": [store]}),
    )
    .await;
    let device = app
        .post(
            &format!("/v1/tenants/{t}/devices"),
            ADMIN,
            json!({"name": "Till", "store_id": store}),
        )
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/v1/accounts",
        ADMIN,
        json!({"email": "ana@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let key = app.key(&t, &["MANAGE_COMMERCES"]).await;
    app.post(
        "/rest/default/V1/customers",
        &key,
        json!({"customer": {"email": "mshaw@example.com", "firstname": "Melanie", "lastname": "Shaw"}, "password": PASSWORD}),
    )
    .await
    .expect(200);

    for path in [Path::Device, Path::Login, Path::Customer] {
        // The suite runs tests side by side on a small machine, so one
        // measurement can be skewed by a neighbour's burst: a path passes
        // when one of three is within the bound. A real difference (a
        // write or a hash only one kind of failure does) fails all three.
        let (mut rounds, mut within) = (Vec::new(), false);
        for _ in 0..3 {
            let (wrong, unknown) = medians(&app, &t, &device, path).await;
            let ratio = wrong.as_secs_f64() / unknown.as_secs_f64();
            rounds.push(format!(
                "{wrong:?} wrong password / {unknown:?} unknown name"
            ));
            if (0.8..=1.25).contains(&ratio) {
                within = true;
                break;
            }
        }
        assert!(
            within,
            "{path:?}: median times never within 25%: {rounds:?}"
        );
    }
}

/// The median times of [`ATTEMPTS`] wrong passwords and as many unknown
/// names on `path`, interleaved (in alternating order) so a change in the
/// machine's load hits both alike; every answer must be the same 401.
async fn medians(app: &TestApp, t: &str, device: &str, path: Path) -> (Duration, Duration) {
    let (known, unknown) = path.names();
    let (mut wrong_times, mut unknown_times) = (Vec::new(), Vec::new());
    let mut answers = std::collections::BTreeSet::new();
    for attempt in 0..ATTEMPTS {
        // Which goes first alternates: the first of two back-to-back
        // requests is measurably slower on a loaded machine, whichever it
        // is, and that must not read as a difference between the two.
        let mut pair = [
            (known, WRONG, &mut wrong_times),
            (unknown, PASSWORD, &mut unknown_times),
        ];
        if attempt % 2 == 1 {
            pair.reverse();
        }
        for (name, password, times) in pair {
            let (status, body, took) = path.attempt(app, t, device, name, password).await;
            assert_eq!(status, 401, "{path:?} {name}: {body}");
            answers.insert(body.to_string());
            times.push(took);
        }
    }
    assert_eq!(
        answers.len(),
        1,
        "{path:?}: the answers differ: {answers:?}"
    );
    (median(wrong_times), median(unknown_times))
}

/// The sign-in paths that take a name and a password.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// Seed 003: a user code on a device.
    Device,
    /// A global account's `/auth/login`.
    Login,
    /// Seed 002's customer token.
    Customer,
}

impl Path {
    /// A name that exists and one that does not.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Path::Device => ("1001", "9999"),
            Path::Login => ("ana@example.com", "nobody@example.com"),
            Path::Customer => ("mshaw@example.com", "nobody@example.com"),
        }
    }

    /// One sign-in: its status, its body without the trace id, its time.
    async fn attempt(
        self,
        app: &TestApp,
        tenant: &str,
        device: &str,
        name: &str,
        password: &str,
    ) -> (u16, Value, Duration) {
        let (path, body) = match self {
            Path::Device => ("/account", json!({"userCode": name, "password": password})),
            Path::Login => ("/auth/login", json!({"email": name, "password": password})),
            Path::Customer => (
                "/rest/default/V1/integration/customer/token",
                json!({"username": name, "password": password}),
            ),
        };
        let mut request = app
            .client
            .request(Method::POST, format!("{}{path}", app.base))
            .header("x-tenant-id", tenant)
            .json(&body);
        if let Path::Device = self {
            request = request.bearer_auth(device);
        }
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut body: Value = response.json().await.unwrap_or(Value::Null);
        let took = started.elapsed();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("traceId");
        }
        (status, body, took)
    }
}
