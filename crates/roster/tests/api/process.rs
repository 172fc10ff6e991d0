//! The real `roster` binary as a child process: started on a database,
//! its address read from its "roster is serving" log line, its output
//! collected as it runs (so a full pipe never stalls it), and stopped with
//! SIGTERM or SIGKILL.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::ADMIN;

/// A running `roster serve`.
pub struct Roster {
    child: Child,
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Roster {
    /// Starts `roster serve` on `database_url` with the admin token, JSON
    /// logs and these further variables; returns once it serves.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Roster {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", database_url)
            .env("ROSTER_ADMIN_TOKEN", ADMIN)
            .env("ROSTER_LOG_FORMAT", "json")
            .env("ROSTER_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the roster binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (serving, address) = mpsc::channel();
        let lines = stdout.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                    if entry["message"] == "roster is serving" {
                        let _ = serving.send(entry["addr"].as_str().unwrap_or("").to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let text = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = err.read(&mut buffer) {
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let addr = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("a socket address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "roster did not start serving.\nstdout:\n{}\nstderr:\n{}",
                    stdout.lock().unwrap().join("\n"),
                    stderr.lock().unwrap()
                );
            }
        };
        Roster {
            child,
            base: format!("http://{addr}"),
            addr,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM: the graceful stop.
    pub fn terminate(&self) {
        signal(self.pid(), "TERM");
    }

    /// SIGKILL, as a crash or the OOM killer would; waits until it is gone.
    pub fn crash(&mut self) {
        self.child.kill().expect("SIGKILL roster");
        let status = self.child.wait().expect("wait for roster");
        assert!(!status.success(), "killed, not exited: {status:?}");
    }

    /// Waits, without blocking the runtime, for the process to exit.
    pub async fn exit(mut self) -> (ExitStatus, Output) {
        let (status, child) = tokio::task::spawn_blocking(move || {
            let status = self.child.wait().expect("wait for roster");
            (status, self)
        })
        .await
        .unwrap();
        // Let the readers take the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, child.output())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll roster").is_none()
    }

    /// What it has written so far.
    pub fn output(&self) -> Output {
        Output {
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Roster {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process's output: its log lines and its stderr.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Output {
    /// The JSON log entries whose message starts with `prefix`.
    pub fn entries(&self, prefix: &str) -> Vec<Value> {
        self.stdout
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
            .collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = self.stdout.len().saturating_sub(40);
        writeln!(f, "stdout (last lines):")?;
        for line in &self.stdout[tail..] {
            writeln!(f, "  {line}")?;
        }
        write!(f, "stderr:\n{}", self.stderr)
    }
}

/// Sends `signal` (`TERM`) to `pid` with kill(1): the crate forbids
/// `unsafe`, so no `libc::kill`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}
