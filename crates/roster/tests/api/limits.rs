//! Bounded work: a burst beyond the password pool's queue, the requests in
//! flight or the request timeout is answered at once with 503 and
//! `Retry-After`, never left waiting, and the server serves on after it.

use std::time::{Duration, Instant};

use roster_app::config::PoolSize;
use roster_app::Config;
use roster_http::Limits;
use serde_json::json;

use crate::on_both_engines;
use crate::support::{test_config, Engine, Reply, TestApp, ADMIN, PASSWORD};

on_both_engines!(
    a_burst_past_the_password_queue_is_refused_fast,
    requests_past_the_in_flight_limit_are_shed,
    a_request_over_its_time_answers_503,
);

fn with_pool(workers: usize, queue: usize) -> Config {
    Config {
        password_pool: PoolSize { workers, queue },
        throttle: roster_core::throttle::ThrottlePolicy {
            max_failures: 100_000,
            address_per_minute: 100_000,
        },
        ..test_config()
    }
}

/// Sends `n` logins at once; every answer, in any order.
async fn burst_of_logins(app: &TestApp, n: usize) -> Vec<Reply> {
    let emails: Vec<String> = (0..n).map(|i| format!("ghost{i}@example.com")).collect();
    futures::future::join_all(emails.iter().map(|email| app.login(email, PASSWORD))).await
}

fn assert_overloaded(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["status"], 503);
}

async fn a_burst_past_the_password_queue_is_refused_fast(engine: Engine) {
    let app = TestApp::start_with(engine, with_pool(1, 2)).await;
    let started = Instant::now();
    let replies = burst_of_logins(&app, 40).await;
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    let answered = replies.iter().filter(|r| r.status == 401).count();
    assert_eq!(refused.len() + answered, 40, "only 401s and 503s");
    // One worker and two waiting places: at most a few get a verification.
    assert!((1..=20).contains(&answered), "{answered} verified");
    for reply in &refused {
        assert_overloaded(reply);
        assert!(reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("password checks are at capacity"));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Once the burst is over the pool serves again, and a password change
    // (policy check and hash) runs through the same pool.
    let t = app.tenant("acme").await;
    app.post(
        &format!("/v1/tenants/{t}/users"),
        ADMIN,
        json!({"email": "ana@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201);
    app.login("ghost@example.com", PASSWORD).await.problem(401);
}

async fn requests_past_the_in_flight_limit_are_shed(engine: Engine) {
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let app = TestApp::start_limited(engine, with_pool(1, 64), limits).await;
    let replies = burst_of_logins(&app, 20).await;
    let shed: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!shed.is_empty(), "20 at once past a limit of 1");
    assert!(replies.iter().all(|r| r.status == 401 || r.status == 503));
    for reply in shed {
        assert_overloaded(reply);
        assert!(reply.body["detail"].as_str().unwrap().contains("in flight"));
    }
    app.get("/v1/tenants", ADMIN).await.expect(200);
}

async fn a_request_over_its_time_answers_503(engine: Engine) {
    let limits = Limits {
        request_timeout: Duration::from_millis(1),
        ..Limits::default()
    };
    let app = TestApp::start_limited(engine, with_pool(1, 64), limits).await;
    // An Argon2id verification alone takes far longer than a millisecond.
    let reply = app.login("ghost@example.com", PASSWORD).await;
    assert_overloaded(&reply);
    assert!(reply.body["detail"]
        .as_str()
        .unwrap()
        .contains("did not finish within"));
    assert!(reply.body["traceId"].is_string());
}

/// The caps on what a request may send (README, *Limits*), whatever its
/// framing: a body over 1 MiB is refused with 413 when it comes chunked,
/// without a length to refuse it by; a head with more than 100 headers,
/// or larger than hyper's buffer, with 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_caps_is_refused_however_it_is_framed() {
    let app = TestApp::start(Engine::Sqlite).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /v1/tenants HTTP/1.1\r\nhost: roster\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let mut chunked = head.into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..17 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(&addr, chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: roster\r\n");
    for n in 0..100 {
        many.push_str(&format!("x-header-{n}: {n}\r\n"));
    }
    many.push_str("\r\n");
    let answer = exchange(&addr, many.into_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let large = format!(
        "GET /healthz HTTP/1.1\r\nhost: roster\r\nx-large: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let answer = exchange(&addr, large.into_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    app.get("/healthz", ADMIN).await.expect(200);
}

/// Sends `request` on a new connection and reads until the server closes
/// it (or until its first response, if it keeps it).
async fn exchange(addr: &str, request: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // The server may answer, and close, before it has read it all.
    let writing = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&chunk[..n]),
            Ok(_) => break,
            Err(_) => panic!("no answer in 10 s: {}", String::from_utf8_lossy(&answer)),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    writing.abort();
    String::from_utf8_lossy(&answer).to_string()
}
