//! Slow clients, on the real binary: a connection that does not send its
//! request line and headers within `ROSTER_HEADER_TIMEOUT` is closed, and
//! a body that has not arrived within `ROSTER_REQUEST_TIMEOUT` is answered
//! 408 and its connection closed; neither holds up anyone else.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::Roster;
use crate::shutdown::read_response;
use crate::support::{Database, Engine, ADMIN};

/// What a slow client sends before it stalls or trickles.
#[derive(Debug, Clone, Copy)]
enum Slowness {
    /// Connects and sends nothing.
    Silent,
    /// Half a request line, then nothing.
    HalfALine,
    /// A request line and a header, then one byte every 100 ms, forever.
    Trickling,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_hold_up_no_one() {
    let (url, _database) = Database::create(Engine::Sqlite).await;
    // Two requests in flight at most: a slow client holding one would show.
    let server = Roster::start(
        &url,
        &[
            ("ROSTER_HEADER_TIMEOUT", "1"),
            ("ROSTER_MAX_IN_FLIGHT", "2"),
        ],
    );
    let mut slow = Vec::new();
    for n in 0..24 {
        let kind = [Slowness::Silent, Slowness::HalfALine, Slowness::Trickling][n % 3];
        let stream = TcpStream::connect(server.addr).await.unwrap();
        slow.push(tokio::spawn(until_closed(stream, kind)));
    }
    // Meanwhile everyone else is served at once.
    let client = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        let asked = Instant::now();
        let response = client
            .get(format!("{}/v1/tenants", server.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let took = asked.elapsed();
        assert!(took < Duration::from_secs(1), "a request took {took:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for connection in slow {
        let (kind, open_for, answer) = connection.await.unwrap();
        assert!(
            (Duration::from_millis(900)..Duration::from_secs(5)).contains(&open_for),
            "{kind:?}: closed after {open_for:?}"
        );
        assert!(answer.is_empty(), "{kind:?}: {answer}");
    }
    // A kept-alive connection idle past the timeout is closed the same way.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: roster\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_response(&mut kept).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (_, open_for, _) = until_closed(kept, Slowness::Silent).await;
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&open_for),
        "kept alive for {open_for:?}"
    );
}

/// Sends what `kind` sends until the server closes the connection; how
/// long that took and what the server sent.
async fn until_closed(stream: TcpStream, kind: Slowness) -> (Slowness, Duration, String) {
    let opened = Instant::now();
    let (mut read, mut write) = stream.into_split();
    let sending = tokio::spawn(async move {
        let start: &[u8] = match kind {
            Slowness::Silent => b"",
            Slowness::HalfALine => b"GET /heal",
            Slowness::Trickling => b"GET /healthz HTTP/1.1\r\nhost: roster\r\nx-slow: ",
        };
        if write.write_all(start).await.is_err() {
            return;
        }
        if let Slowness::Trickling = kind {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if write.write_all(b"z").await.is_err() {
                    return;
                }
            }
        }
        // Hold the connection open from this side.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut answer)).await;
    let open_for = opened.elapsed();
    sending.abort();
    // A close with bytes unread on its side reaches the client as a reset.
    assert!(closed.is_ok(), "{kind:?}: still open after {open_for:?}");
    (kind, open_for, String::from_utf8_lossy(&answer).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_at_the_request_timeout_with_408() {
    let (url, _database) = Database::create(Engine::Sqlite).await;
    let server = Roster::start(&url, &[("ROSTER_REQUEST_TIMEOUT", "1")]);
    let body = br#"{"uid": "trickled", "name": "Sent one byte at a time"}"#;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/tenants HTTP/1.1\r\nhost: roster\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let opened = Instant::now();
    let (mut read, mut write) = stream.into_split();
    // Five seconds for the body: longer than the request's one.
    let trickle = tokio::spawn(async move {
        for byte in body {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read_all = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut answer));
    let closed = read_all.await;
    let took = opened.elapsed();
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    // Closed (a reset, when trickled bytes reach the closed socket first).
    assert!(closed.is_ok(), "still open: {answer}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(4)).contains(&took),
        "answered and closed after {took:?}"
    );
    let (head, problem) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(problem).unwrap();
    assert_eq!(problem["status"], 408);
    assert_eq!(
        problem["detail"],
        "the request body did not arrive within 1 s"
    );
    // Nothing was created, and a body sent at once is served as ever.
    let client = reqwest::Client::new();
    let tenant = client
        .get(format!("{}/v1/tenants/trickled", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), 404);
    let created = client
        .post(format!("{}/v1/tenants", server.base))
        .bearer_auth(ADMIN)
        .body(&body[..])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}
