//! SIGTERM under load, on the real binary: the listener closes at once (a
//! new connection is refused), every request already accepted is answered
//! (with `Connection: close`), idle connections are closed, no client sees
//! a reset or a 5xx, and the process exits 0. What does not finish within
//! `ROSTER_SHUTDOWN_TIMEOUT` is cut, and the process still exits 0.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::on_both_engines;
use crate::process::Roster;
use crate::support::{Database, Engine, ADMIN, PASSWORD};

on_both_engines!(
    sigterm_under_load_answers_every_accepted_request_and_exits_0,
    sigterm_cuts_what_outlasts_the_shutdown_timeout,
);

const TENANT: &str = "draining";

/// What one looping client saw: the status of every answer, and the error
/// that ended its loop.
struct Seen {
    statuses: Vec<u16>,
    ended: Option<reqwest::Error>,
}

async fn sigterm_under_load_answers_every_accepted_request_and_exits_0(engine: Engine) {
    let (url, _database) = Database::create(engine).await;
    let mut server = Roster::start(&url, &[("ROSTER_PASSWORD_WORKERS", "1")]);
    create_tenant(&server.base).await;

    // A request on the wire at the signal: its head and half its body sent.
    let body = json!({"email": "late@example.com"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut half_sent = TcpStream::connect(server.addr).await.unwrap();
    half_sent
        .write_all(post_head(&format!("/v1/tenants/{TENANT}/users"), body.len()).as_bytes())
        .await
        .unwrap();
    half_sent.write_all(first.as_bytes()).await.unwrap();
    // Kept-alive connections, answered once: one will ask again just after
    // the signal, the other stays idle.
    let mut again = kept_alive(&server).await;
    let mut idle = kept_alive(&server).await;

    // Clients in a loop, each on its own connection.
    let loaders: Vec<_> = (0..6)
        .map(|n| tokio::spawn(load(server.base.clone(), n)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Password hashes queued behind one worker: slow requests in flight.
    let mut hashing = Vec::new();
    for n in 0..3 {
        let body = json!({"email": format!("hashed{n}@example.com"), "password": PASSWORD});
        let body = body.to_string();
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = post_head(&format!("/v1/tenants/{TENANT}/users"), body.len());
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        hashing.push(tokio::spawn(
            async move { read_response(&mut stream).await },
        ));
    }
    let at_signal = Instant::now();
    server.terminate();

    // The listener closes at once, while the accepted requests still run.
    let refused = loop {
        match TcpStream::connect(server.addr).await {
            Err(e) => break e,
            Ok(_) if at_signal.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Ok(_) => panic!("still accepting connections 5 s after SIGTERM"),
        }
    };
    // Refused, or reset when the SYN met the listener as it closed: either
    // way the connection was never accepted.
    assert!(
        matches!(
            refused.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
        ),
        "{refused:?}"
    );
    assert!(server.is_running(), "exited with a request half-sent");

    // A request sent on a kept-alive connection just after the signal (its
    // client had not heard of it) is answered, and the connection closed.
    again.write_all(HEALTHZ).await.unwrap();
    let (head, _) = read_response(&mut again).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert_eq!(again.read(&mut [0; 64]).await.unwrap(), 0, "closed");

    // The half-sent request, finished now, is answered, and its connection
    // closed after the answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    half_sent.write_all(rest.as_bytes()).await.unwrap();
    let (head, body) = read_response(&mut half_sent).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert_eq!(half_sent.read(&mut [0; 64]).await.unwrap(), 0, "closed");

    // The idle connection is closed a second after the signal, unanswered.
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut [0; 64])).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the idle connection is closed: {closed:?}"
    );

    for hash in hashing {
        let (head, body) = hash.await.unwrap();
        assert!(head.starts_with("HTTP/1.1 201"), "{head}\n{body}");
    }
    for loader in loaders {
        let seen = loader.await.unwrap();
        let not_2xx: Vec<&u16> = seen.statuses.iter().filter(|s| **s / 100 != 2).collect();
        assert!(not_2xx.is_empty(), "answers that are not 2xx: {not_2xx:?}");
        match seen.ended {
            Some(e) if e.is_connect() => {}
            other => panic!("a client's loop ended with {other:?}, not a refused connection"),
        }
    }

    let (status, output) = server.exit().await;
    let took = at_signal.elapsed();
    assert!(status.success(), "exit status {status:?}\n{output}");
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");
    assert_eq!(output.entries("roster stopped").len(), 1, "{output}");
    assert!(
        output.entries("roster stopped")[0]["level"] == "INFO",
        "{output}"
    );
}

async fn sigterm_cuts_what_outlasts_the_shutdown_timeout(engine: Engine) {
    let (url, _database) = Database::create(engine).await;
    let server = Roster::start(&url, &[("ROSTER_SHUTDOWN_TIMEOUT", "1")]);
    create_tenant(&server.base).await;
    // A request whose body never comes (the request timeout is 30 s).
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(post_head(&format!("/v1/tenants/{TENANT}/users"), 100).as_bytes())
        .await
        .unwrap();
    stalled.write_all(b"{\"email\"").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_signal = Instant::now();
    server.terminate();
    let (status, output) = server.exit().await;
    let took = at_signal.elapsed();
    assert!(status.success(), "exit status {status:?}\n{output}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&took),
        "stopped after {took:?}"
    );
    let cut = output.entries("roster stopped");
    assert_eq!(cut.len(), 1, "{output}");
    assert_eq!(cut[0]["level"], "WARN", "{output}");
    assert_eq!(cut[0]["connections"], 1, "{output}");
    // The stalled client is cut off, without an answer.
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: roster\r\n\r\n";

/// A connection that has been answered once and is kept alive.
async fn kept_alive(server: &Roster) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

async fn create_tenant(base: &str) {
    let created = reqwest::Client::new()
        .post(format!("{base}/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&json!({"uid": TENANT, "name": "Draining"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Health checks and user creations, one after another on one connection,
/// until the server refuses.
async fn load(base: String, n: usize) -> Seen {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut seen = Seen {
        statuses: Vec::new(),
        ended: None,
    };
    for i in 0.. {
        let request = if i % 2 == 0 {
            client.get(format!("{base}/healthz"))
        } else {
            client
                .post(format!("{base}/v1/tenants/{TENANT}/users"))
                .bearer_auth(ADMIN)
                .json(&json!({"email": format!("load{n}-{i}@example.com")}))
        };
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|_| status)
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(status) => seen.statuses.push(status),
            Err(e) => {
                seen.ended = Some(e);
                return seen;
            }
        }
    }
    seen
}

/// A POST's head with the admin token and a JSON body of `length` bytes.
fn post_head(path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: roster\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// Reads one response with a `content-length`: its head and its body.
pub async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]);
                return (head, body.to_string());
            }
        }
        let n = stream.read(&mut chunk).await.expect("read a response");
        assert!(
            n > 0,
            "closed before a whole response: {}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..n]);
    }
}
