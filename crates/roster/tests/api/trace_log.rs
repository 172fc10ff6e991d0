//! The whole HTTP suite at any log level: with `ROSTER_LOG` set (say
//! `ROSTER_LOG=trace cargo test -p roster --test api`), every in-process
//! server of the run logs at that filter, as `roster serve` would, into a
//! scanner that stops the run at the first line holding a secret: the
//! suite's admin token or passwords, or anything shaped like a token Roster
//! hands out (an API key, device or invitation token, a signed JWT), made
//! by whichever test. Unset, nothing is installed and nothing is logged.
//!
//! The lines themselves are dropped: the point is the scan.

use std::io;

use crate::support::{ADMIN, PASSWORD};

/// Installs the scanning subscriber once per run, when `ROSTER_LOG` asks.
pub fn install_if_asked() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let Ok(filter) = std::env::var("ROSTER_LOG") else {
            return;
        };
        let filter = tracing_subscriber::EnvFilter::try_new(&filter)
            .expect("ROSTER_LOG must be a tracing filter");
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .flatten_event(true)
            .with_writer(|| Scanner)
            .init();
    });
}

/// Checks each formatted line (the formatter writes one event per write).
struct Scanner;

impl io::Write for Scanner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        if let Some(secret) = secret_in(&line) {
            // A panic here would be caught as the request's 500 and might
            // pass unseen; the whole run stops instead, saying why (on the
            // real stderr: the test harness would swallow `eprintln!`).
            let said = format!("\n*** a secret ({secret}) reached the log:\n{line}\n");
            let _ = io::stderr().write_all(said.as_bytes());
            std::process::abort();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The suite's own secrets (the admin token, the passwords its tests set).
const KNOWN: &[&str] = &[
    ADMIN,
    PASSWORD,
    "a-different-long-passphrase",
    "another-long-passphrase-here",
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// What in `line` is a secret: a known one, a random token (`rk_`, `rd_`
/// or `ri_` and 43 base64url characters) or a signed token (`eyJ…` in
/// three dot-separated parts).
fn secret_in(line: &str) -> Option<String> {
    if let Some(known) = KNOWN.iter().find(|k| line.contains(**k)) {
        return Some((*known).to_string());
    }
    for prefix in ["rk_", "rd_", "ri_"] {
        for (at, _) in line.match_indices(prefix) {
            let rest = &line[at + prefix.len()..];
            if rest.chars().take_while(|c| is_token_char(*c)).count() >= 43 {
                return Some(format!("a token starting {}", &line[at..at + 8]));
            }
        }
    }
    for (at, _) in line.match_indices("eyJ") {
        let parts: Vec<usize> = line[at..]
            .split('.')
            .take(3)
            .map(|part| part.chars().take_while(|c| is_token_char(*c)).count())
            .collect();
        if parts.len() == 3 && parts.iter().all(|n| *n >= 10) {
            return Some(format!("a signed token starting {}", &line[at..at + 8]));
        }
    }
    None
}

#[test]
fn the_scanner_knows_tokens_when_it_sees_them() {
    let (key, _) = roster_core::secret::new_token("rk");
    assert!(secret_in(&format!(r#"{{"message":"x","token":"{key}"}}"#)).is_some());
    let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    assert!(secret_in(&format!("Bearer {jwt}")).is_some());
    assert!(secret_in(&format!("password={PASSWORD}")).is_some());
    for innocent in [
        r#"{"level":"TRACE","target":"sqlx::query","db.statement":"SELECT … FROM api_keys WHERE token_hash = $1"}"#,
        "rk_short and eyJ.not.a-token",
    ] {
        assert_eq!(secret_in(innocent), None, "{innocent}");
    }
}
