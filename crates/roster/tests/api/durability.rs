//! Crash durability of the real binary: users are created over HTTP from
//! several connections at once, the process is killed (`kill -9`) at a
//! random moment while they stream, and after a restart on the same database every creation
//! that was acknowledged (201) is there; on SQLite the file also passes
//! `PRAGMA integrity_check`. Round after round on one database.
//!
//! Three rounds by default; `ROSTER_DURABILITY_ROUNDS=<n>` runs more (the
//! long form). Each run prints its seed; `ROSTER_DURABILITY_SEED=<seed>`
//! repeats its kill times.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::Notify;

use crate::on_both_engines;
use crate::process::Roster;
use crate::support::{Database, Engine, ADMIN};

on_both_engines!(every_acknowledged_write_survives_kill_9);

/// Connections creating users at once.
const CLIENTS: usize = 8;
/// The kill comes this many milliseconds after the first acknowledgement.
const KILL_WINDOW_MS: std::ops::RangeInclusive<u64> = 0..=1000;
const TENANT: &str = "durable";

fn rounds() -> usize {
    match std::env::var("ROSTER_DURABILITY_ROUNDS") {
        Ok(rounds) => rounds
            .parse()
            .expect("ROSTER_DURABILITY_ROUNDS: a number of rounds"),
        Err(_) => 3,
    }
}

fn seed() -> u64 {
    match std::env::var("ROSTER_DURABILITY_SEED") {
        Ok(seed) => seed.parse().expect("ROSTER_DURABILITY_SEED: a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// What one connection did in a round: the users it was told were created
/// (email, id), and every email it asked for.
#[derive(Default)]
struct Writes {
    acknowledged: Vec<(String, String)>,
    attempted: Vec<String>,
}

async fn every_acknowledged_write_survives_kill_9(engine: Engine) {
    let (url, _database) = Database::create(engine).await;
    let (rounds, seed) = (rounds(), seed());
    // Shown when the test fails (libtest prints a failing test's output).
    println!(
        "durability on {engine:?}: {rounds} rounds, seed {seed} \
         (ROSTER_DURABILITY_SEED={seed} repeats the kill times)"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let client = reqwest::Client::new();
    let mut server = Roster::start(&url, &[]);
    let created = client
        .post(format!("{}/v1/tenants", server.base))
        .bearer_auth(ADMIN)
        .json(&json!({"uid": TENANT, "name": "Durable"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut attempted: HashSet<String> = HashSet::new();
    for round in 0..rounds {
        let at = format!("{engine:?}, round {round} of {rounds}, seed {seed}");
        let first = Arc::new(Notify::new());
        let writers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let writes =
                    create_users_until_cut_off(server.base.clone(), round, c, first.clone());
                tokio::spawn(writes)
            })
            .collect();
        let delay = Duration::from_millis(rng.gen_range(KILL_WINDOW_MS));
        tokio::time::timeout(Duration::from_secs(30), first.notified())
            .await
            .unwrap_or_else(|_| panic!("{at}: no user created in 30 s"));
        tokio::time::sleep(delay).await;
        server.crash();
        let mut this_round = 0;
        for writer in writers {
            let writes = writer.await.unwrap_or_else(|e| panic!("{at}: {e}"));
            this_round += writes.acknowledged.len();
            acknowledged.extend(writes.acknowledged);
            attempted.extend(writes.attempted);
        }
        if engine == Engine::Sqlite {
            assert_eq!(integrity_check(&url).await, ["ok"], "{at}");
        }
        server = Roster::start(&url, &[]);
        let found = users(&client, &server.base).await;
        let lost: Vec<&(String, String)> = acknowledged
            .iter()
            .filter(|(email, id)| found.get(id) != Some(email))
            .collect();
        assert!(
            lost.is_empty(),
            "{at}: {} of {} acknowledged users lost after kill -9 at {delay:?}: {:?}",
            lost.len(),
            acknowledged.len(),
            &lost[..lost.len().min(10)]
        );
        let unasked: Vec<&String> = found.values().filter(|e| !attempted.contains(*e)).collect();
        assert!(
            unasked.is_empty(),
            "{at}: users nobody created: {unasked:?}"
        );
        println!(
            "{at}: killed {delay:?} after the first write; {this_round} acknowledged this round, \
             all {} so far found",
            acknowledged.len()
        );
    }
    server.terminate();
    let (status, output) = server.exit().await;
    assert!(status.success(), "{status:?}\n{output}");
}

/// Creates users one after another on its own connection until the server
/// is gone; the first acknowledgement of all wakes `first`.
async fn create_users_until_cut_off(
    base: String,
    round: usize,
    client_no: usize,
    first: Arc<Notify>,
) -> Writes {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut writes = Writes::default();
    for n in 0.. {
        let email = format!("r{round}-c{client_no}-n{n}@example.com");
        writes.attempted.push(email.clone());
        let sent = client
            .post(format!("{base}/v1/tenants/{TENANT}/users"))
            .bearer_auth(ADMIN)
            .json(&json!({"email": email}))
            .send()
            .await;
        let Ok(response) = sent else { break };
        let status = response.status();
        // A body cut off by the kill is no acknowledgement.
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        assert_eq!(status, 201, "{email}: {body}");
        let id = body["id"].as_str().expect("an id").to_string();
        writes.acknowledged.push((email, id));
        first.notify_one();
    }
    writes
}

/// Every user of the tenant: id → email.
async fn users(client: &reqwest::Client, base: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/tenants/{TENANT}/users?limit=500");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = client.get(url).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        for user in page["data"].as_array().unwrap() {
            found.insert(
                user["id"].as_str().unwrap().to_string(),
                user["email"].as_str().unwrap().to_string(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return found,
        }
    }
}

/// SQLite's own check of the file, after the crash and before a restart.
async fn integrity_check(url: &str) -> Vec<String> {
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .expect("open the SQLite file");
    let rows = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}
